//! The command line and process lifecycle of the binary.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{KAISER, Server};

#[test]
fn version_flag_prints_the_kubernetes_style_version() {
    let out = Command::new(KAISER).arg("--version").output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Kubernetes v1.33.0-kaiser.0.1.0"
    );
}

#[test]
fn every_invalid_option_is_reported_in_one_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(KAISER)
        .args([
            "--secure-port=-1",
            "--bind-address=nope",
            "--enable-admission-plugins=NodeRestriction,Bogus",
        ])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--secure-port -1"), "{err}");
    assert!(err.contains("--bind-address \"nope\""), "{err}");
    assert!(
        err.contains("--enable-admission-plugins plugin \"Bogus\" is unknown"),
        "{err}"
    );
    assert!(
        err.contains(
            "--enable-admission-plugins plugin \"NodeRestriction\" is not implemented by kaiser"
        ),
        "{err}"
    );
    assert!(
        !dir.path().join("kaiser-data").exists(),
        "nothing may start"
    );

    let out = Command::new(KAISER)
        .arg("--no-such-flag")
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}

#[test]
fn sigterm_ends_watches_and_exits_cleanly() {
    let mut s = Server::start();
    let mut watch = s
        .curl_admin_command()
        .args(["-N", "--max-time", "60"])
        .arg(s.url("/api/v1/configmaps?watch=true"))
        .stdout(Stdio::null())
        .spawn()
        .expect("curl watch");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        watch.try_wait().expect("try_wait").is_none(),
        "watch should be open"
    );
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    let mut ended = false;
    for _ in 0..100 {
        if watch.try_wait().expect("try_wait").is_some() {
            ended = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = watch.kill();
    assert!(ended, "the watch stream should end on shutdown");
    assert!(s.log().contains("shut down cleanly"), "{}", s.log());
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut s = Server::start_with(&["--shutdown-grace-period=60s"]);
    // An upload that never finishes keeps a request in flight.
    let mut upload = s
        .curl_admin_command()
        .args([
            "--max-time",
            "60",
            "-X",
            "POST",
            "-T",
            "-",
            "-H",
            "Content-Type: application/json",
        ])
        .arg(s.url("/api/v1/namespaces/default/configmaps"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("curl upload");
    let mut stdin = upload.stdin.take().expect("stdin");
    stdin.write_all(b"{\"apiVersion\":\"v1\",").expect("write");
    stdin.flush().expect("flush");
    // Wait until the upload's connection is up, then give TLS and the
    // request headers a moment.
    let start = std::time::Instant::now();
    while established(s.port) == 0 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    s.signal("TERM");
    // Graceful shutdown waits for the upload...
    assert_eq!(
        s.wait_exit(Duration::from_millis(1500)),
        None,
        "should still be draining"
    );
    // ...until a second signal.
    s.signal("TERM");
    let code = s.wait_exit(Duration::from_secs(5));
    assert!(
        matches!(code, Some(c) if c != 0),
        "expected a non-zero exit, got {code:?}"
    );
    drop(stdin);
    let _ = upload.kill();
    let _ = upload.wait();
}

/// Established TCP connections to a local port, from /proc/net/tcp{,6}.
fn established(port: u16) -> usize {
    let needle = format!(":{port:04X} ");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1)
                .is_some_and(|local| format!("{local} ").ends_with(&needle))
                && cols.get(3) == Some(&"01")
        })
        .count()
}

/// A start-up that cannot finish (the store's disk is full before the
/// bootstrap objects are written) ends at the first signal: nothing is
/// served yet, so there is nothing to drain.
#[test]
fn the_first_signal_ends_a_start_up_that_cannot_finish() {
    let disk = kaiser_storage::testing::SmallDisk::mount(1 << 20);
    let tmp = tempfile::tempdir().expect("tempdir");
    crate::harness::store_on(&disk, tmp.path());
    disk.fill_leaving(0);
    let log_path = tmp.path().join("kaiser.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut child = Command::new(KAISER)
        .arg("--secure-port=0")
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start kaiser");
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let start = std::time::Instant::now();
    while !read_log().contains("the store's disk is full") {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", read_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "{}",
        read_log()
    );
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("still starting 10 s after SIGTERM: {}", read_log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{}", read_log());
    let log = read_log();
    assert!(log.contains("stopping before serving"), "{log}");
    assert!(!log.contains("second shutdown signal"), "{log}");
}
