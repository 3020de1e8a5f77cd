//! Starting and stopping kaiser, and running clients against it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const KAISER: &str = env!("CARGO_BIN_EXE_kaiser");
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// A path to a specific kubectl version, e.g. `kubectl_version("1.27")`.
pub fn kubectl_version(v: &str) -> String {
    format!("/usr/lib/google-cloud-sdk/bin/kubectl.{v}")
}

/// A running kaiser in its own temporary directory.
pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub port: u16,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts kaiser on a free loopback port in a fresh directory.
    /// `default` has its ServiceAccount before the test begins, as in a
    /// cluster a user reaches later, so pods can be created there at once.
    pub fn start() -> Server {
        let s = Server::start_with(&[]);
        s.wait_for_default_service_account("default");
        s
    }

    /// Starts kaiser on a free port in a fresh directory with extra flags.
    pub fn start_with(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut args = vec!["--secure-port=0"];
        args.extend_from_slice(extra);
        let mut s = Server::start_in(&dir, &args);
        s._tmp = Some(tmp);
        s
    }

    /// Starts kaiser with `args` in `dir` (its data dir is `dir/kaiser-data`).
    pub fn start_in(dir: &Path, args: &[&str]) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("kaiser.log"))
            .expect("log file");
        let mut child = Command::new(KAISER)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start kaiser");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("kaiser is ready") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.join("kaiser.log")).unwrap_or_default();
            panic!("kaiser did not become ready; log:\n{log}");
        }
        let kc =
            std::fs::read_to_string(dir.join("kaiser-data/admin.kubeconfig")).expect("kubeconfig");
        let port = kc
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: https://127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .expect("port in kubeconfig");
        Server {
            child,
            dir: dir.to_path_buf(),
            port,
            _tmp: None,
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kaiser-data/admin.kubeconfig")
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        self.dir.join("kaiser-data/pki").join(file)
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Runs `kubectl` (the given binary) against this server.
    pub fn kubectl_with(&self, bin: &str, args: &[&str]) -> Output {
        let kc = self.kubeconfig();
        Command::new(bin)
            .arg("--kubeconfig")
            .arg(&kc)
            .args(args)
            .env("KUBECTL_EXTERNAL_DIFF", "")
            .output()
            .expect("run kubectl")
    }

    /// Starts a long-running kubectl (e.g. `get -w`) whose stdout lines
    /// arrive on the returned channel; kill the child when done.
    pub fn kubectl_stream(&self, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
        let mut child = Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kubectl");
        let rx = lines(child.stdout.take().expect("stdout"));
        (child, rx)
    }

    /// Creates `count` ConfigMaps `<prefix>-NN` in `ns` with `kubectl
    /// create -f`, each with `payload` bytes of data and the given labels.
    pub fn create_configmaps(
        &self,
        kubectl: &str,
        ns: &str,
        prefix: &str,
        count: usize,
        payload: usize,
        labels: &str,
    ) {
        let mut manifest = String::new();
        for i in 0..count {
            let obj = serde_json::json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": format!("{prefix}-{i:02}"), "namespace": ns, "labels": serde_json::from_str::<serde_json::Value>(labels).expect("labels json")},
                "data": {"p": "x".repeat(payload)},
            });
            manifest.push_str(&obj.to_string());
            manifest.push('\n');
        }
        let file = self.dir.join(format!("{prefix}-{ns}.json"));
        std::fs::write(&file, manifest).expect("write manifest");
        ok(self.kubectl_with(kubectl, &["create", "-f", file.to_str().expect("path")]));
    }

    /// Runs kubectl with a bearer token and no client certificate (with
    /// both, the certificate wins, as upstream's authenticator order says).
    pub fn kubectl_as(&self, token: &str, args: &[&str]) -> Output {
        Command::new(KUBECTL)
            .args(["--kubeconfig", "/dev/null", "--server"])
            .arg(self.url(""))
            .arg("--certificate-authority")
            .arg(self.pki("ca.crt"))
            .args(["--token", token])
            .args(args)
            .output()
            .expect("run kubectl")
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(KUBECTL, args)
    }

    /// curl as the admin (client certificate); returns (status, body).
    pub fn curl_admin(&self, args: &[&str]) -> (u16, String) {
        let cert = self.pki("admin.crt");
        let key = self.pki("admin.key");
        let ca = self.pki("ca.crt");
        let mut all: Vec<String> = vec![
            "--cacert".into(),
            ca.display().to_string(),
            "--cert".into(),
            cert.display().to_string(),
            "--key".into(),
            key.display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        curl(&all)
    }

    /// Waits (at most 10 s) for the `default` ServiceAccount of `ns`, which
    /// the in-process controller creates after start: pods are refused
    /// until it exists, as upstream's ServiceAccount admission does.
    pub fn wait_for_default_service_account(&self, ns: &str) {
        let url = self.url(&format!("/api/v1/namespaces/{ns}/serviceaccounts/default"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.curl_admin(&[url.as_str()]).0 != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "no default ServiceAccount in {ns}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// POSTs `body` as JSON to `path` as the admin; returns (status, body).
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, String) {
        self.send_json("POST", "application/json", path, &body.to_string())
    }

    /// Sends `body` with `method` and `content_type` to `path` as the admin.
    pub fn send_json(
        &self,
        method: &str,
        content_type: &str,
        path: &str,
        body: &str,
    ) -> (u16, String) {
        let ct = format!("Content-Type: {content_type}");
        self.curl_admin(&["-X", method, "-H", &ct, "-d", body, &self.url(path)])
    }

    /// A `curl -s` command with the admin certificate, for streaming uses.
    pub fn curl_admin_command(&self) -> Command {
        let mut c = Command::new("curl");
        c.arg("-s")
            .arg("--cacert")
            .arg(self.pki("ca.crt"))
            .arg("--cert")
            .arg(self.pki("admin.crt"))
            .arg("--key")
            .arg(self.pki("admin.key"));
        c
    }

    /// curl without credentials.
    pub fn curl_anonymous(&self, args: &[&str]) -> (u16, String) {
        let ca = self.pki("ca.crt");
        let mut all: Vec<String> = vec!["--cacert".into(), ca.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        curl(&all)
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kaiser.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Puts the store of a kaiser started in `dir` (its `kaiser-data/store`)
/// on `disk`, and only the store: logs, certificates and kubeconfig stay.
pub fn store_on(disk: &kaiser_storage::testing::SmallDisk, dir: &Path) {
    std::fs::create_dir_all(dir.join("kaiser-data")).expect("data dir");
    std::os::unix::fs::symlink(&disk.path, dir.join("kaiser-data/store")).expect("link");
}

/// Waits (at most 20 s) for a line containing `needle`: proof that a
/// `kubectl get -w` has listed, so later changes reach it through the watch.
pub fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100))
            && line.contains(needle)
        {
            return;
        }
    }
    panic!("no line containing {needle:?} within 20 s");
}

/// The lines of a reader, delivered on a channel by a thread.
pub fn lines(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Runs curl with `-s -w` and returns (HTTP status, body).
pub fn curl(args: &[String]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Asserts success and returns stdout.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts failure and returns stderr.
pub fn fails(out: Output) -> String {
    assert!(
        !out.status.success(),
        "command unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}
