//! The storage conformance suite: every backend must pass [`run_all`].
//!
//! Each check uses its own key prefix so checks can share one store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{EventType, Storage, StorageError, WatchItem, WatchStream};

/// Runs every check against `store`.
pub async fn run_all(store: &dyn Storage) {
    revisions_and_conflicts(store).await;
    reads_at_past_revisions(store).await;
    range_pagination_at_fixed_revision(store).await;
    watch_replays_from_old_revision(store).await;
    watch_sees_live_changes_with_prev(store).await;
    large_values(store).await;
    expiring_keys(store).await;
    compaction(store).await;
}

/// Runs the concurrency check, which needs an owned handle.
pub async fn run_concurrent(store: Arc<dyn Storage>) {
    concurrent_writers(store).await;
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(w: &mut WatchStream) -> WatchItem {
    tokio::time::timeout(Duration::from_secs(5), w.recv())
        .await
        .expect("watch event within 5s")
        .expect("watch stays open")
}

pub async fn revisions_and_conflicts(s: &dyn Storage) {
    let r1 = s.create("/t/rc/a", b("1")).await.expect("create");
    assert!(r1 > 0);
    let err = s.create("/t/rc/a", b("x")).await.expect_err("exists");
    assert!(matches!(err, StorageError::KeyExists(_)), "{err:?}");
    let r2 = s.update("/t/rc/a", b("2"), r1).await.expect("update");
    assert!(r2 > r1);
    match s.update("/t/rc/a", b("3"), r1).await {
        Err(StorageError::Conflict {
            current: Some(c), ..
        }) => {
            assert_eq!(c.mod_revision, r2);
            assert_eq!(c.value, b("2"));
        }
        other => panic!("expected conflict, got {other:?}"),
    }
    let err = s
        .update("/t/rc/none", b("x"), 1)
        .await
        .expect_err("missing");
    assert!(matches!(err, StorageError::NotFound(_)));
    assert!(matches!(
        s.delete("/t/rc/a", Some(r1)).await,
        Err(StorageError::Conflict { .. })
    ));
    let (r3, prev) = s.delete("/t/rc/a", Some(r2)).await.expect("delete");
    assert!(r3 > r2);
    assert_eq!(prev.value, b("2"));
    assert_eq!(prev.version, 2);
    assert_eq!(prev.create_revision, r1);
    assert!(matches!(
        s.delete("/t/rc/a", None).await,
        Err(StorageError::NotFound(_))
    ));
    let (kv, at) = s.get("/t/rc/a", None).await.expect("get");
    assert!(kv.is_none());
    assert!(at >= r3);
    // Re-creating starts a new life: version 1, new create revision.
    let r4 = s.create("/t/rc/a", b("again")).await.expect("recreate");
    let kv = s
        .get("/t/rc/a", None)
        .await
        .expect("get")
        .0
        .expect("exists");
    assert_eq!((kv.create_revision, kv.version), (r4, 1));
}

pub async fn reads_at_past_revisions(s: &dyn Storage) {
    let r1 = s.create("/t/past/a", b("v1")).await.expect("create");
    let r2 = s.update("/t/past/a", b("v2"), r1).await.expect("update");
    let (r3, _) = s.delete("/t/past/a", None).await.expect("delete");
    let at = |r| async move { s.get("/t/past/a", Some(r)).await.expect("get").0 };
    assert_eq!(at(r1).await.expect("v1").value, b("v1"));
    assert_eq!(at(r2).await.expect("v2").value, b("v2"));
    assert!(at(r3).await.is_none());
    let cur = s.current_revision().await.expect("rev");
    assert!(matches!(
        s.get("/t/past/a", Some(cur + 1000)).await,
        Err(StorageError::FutureRevision { .. })
    ));
}

pub async fn range_pagination_at_fixed_revision(s: &dyn Storage) {
    for i in 0..25 {
        s.create(&format!("/t/page/{i:02}"), b(&i.to_string()))
            .await
            .expect("create");
    }
    s.create("/t/pagex", b("outside")).await.expect("create");
    let first = s.range("/t/page/", "", None, 10).await.expect("range");
    assert_eq!(first.kvs.len(), 10);
    assert!(first.more);
    assert_eq!(first.count, 25);
    let pinned = first.revision;
    // Writes after the first page must not show in later pages.
    s.create("/t/page/99", b("late"))
        .await
        .expect("create late");
    let k = first.kvs.last().expect("kv").key.clone();
    s.delete("/t/page/15", None).await.expect("delete");
    let mut keys: Vec<String> = first.kvs.iter().map(|kv| kv.key.clone()).collect();
    let mut start = format!("{k}\0");
    loop {
        let page = s
            .range("/t/page/", &start, Some(pinned), 10)
            .await
            .expect("page");
        assert_eq!(page.revision, pinned);
        keys.extend(page.kvs.iter().map(|kv| kv.key.clone()));
        if !page.more {
            break;
        }
        start = format!("{}\0", page.kvs.last().expect("kv").key);
    }
    let want: Vec<String> = (0..25).map(|i| format!("/t/page/{i:02}")).collect();
    assert_eq!(keys, want);
    let now = s.range("/t/page/", "", None, 0).await.expect("range");
    assert_eq!(now.kvs.len(), 25);
    assert!(!now.more);
}

pub async fn watch_replays_from_old_revision(s: &dyn Storage) {
    let r1 = s.create("/t/wr/a", b("1")).await.expect("create");
    let r2 = s.update("/t/wr/a", b("2"), r1).await.expect("update");
    s.create("/t/other/x", b("noise")).await.expect("create");
    let (r3, _) = s.delete("/t/wr/a", None).await.expect("delete");
    let mut w = s.watch("/t/wr/", r1).await.expect("watch");
    let mut seen = Vec::new();
    for _ in 0..2 {
        match next_event(&mut w).await {
            WatchItem::Event(e) => seen.push((
                e.kind,
                e.revision(),
                e.prev.as_ref().map(|p| p.value.clone()),
            )),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        vec![
            (EventType::Put, r2, Some(b("1"))),
            (EventType::Delete, r3, Some(b("2"))),
        ]
    );
}

pub async fn watch_sees_live_changes_with_prev(s: &dyn Storage) {
    let start = s.current_revision().await.expect("rev");
    let mut w = s.watch("/t/live/", start).await.expect("watch");
    let r1 = s.create("/t/live/a", b("1")).await.expect("create");
    s.update("/t/live/a", b("2"), r1).await.expect("update");
    match next_event(&mut w).await {
        WatchItem::Event(e) => {
            assert_eq!(
                (e.kind, e.revision(), e.prev.clone()),
                (EventType::Put, r1, None)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match next_event(&mut w).await {
        WatchItem::Event(e) => {
            assert_eq!(e.kv.value, b("2"));
            assert_eq!(e.prev.as_ref().expect("prev").value, b("1"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Keys written with a time to live are deleted by the store, with a delete
/// event carrying the last value; a later write without one keeps the key,
/// and a write with one makes a key expire.
pub async fn expiring_keys(s: &dyn Storage) {
    let ttl = Duration::from_secs(1);
    let start = s.current_revision().await.expect("rev");
    let mut w = s.watch("/t/ttl/", start).await.expect("watch");
    s.create_expiring("/t/ttl/a", b("a1"), ttl)
        .await
        .expect("create expiring");
    let rb = s
        .create_expiring("/t/ttl/b", b("b1"), ttl)
        .await
        .expect("create expiring");
    s.update("/t/ttl/b", b("b2"), rb).await.expect("update");
    let rc = s.create("/t/ttl/c", b("c1")).await.expect("create");
    s.update_expiring("/t/ttl/c", b("c2"), rc, ttl)
        .await
        .expect("update expiring");
    // etcd grants leases of at least a few seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut deleted = std::collections::BTreeMap::new();
    while deleted.len() < 2 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let item = tokio::time::timeout(left, w.recv())
            .await
            .expect("the expiring keys deleted within 20 s")
            .expect("watch stays open");
        if let WatchItem::Event(e) = item
            && e.kind == EventType::Delete
        {
            let prev = e.prev.as_ref().map(|p| p.value.clone());
            deleted.insert(e.kv.key.clone(), prev);
        }
    }
    assert_eq!(
        deleted.into_iter().collect::<Vec<_>>(),
        vec![
            ("/t/ttl/a".to_string(), Some(b("a1"))),
            ("/t/ttl/c".to_string(), Some(b("c2")))
        ]
    );
    assert!(s.get("/t/ttl/a", None).await.expect("get").0.is_none());
    let kept = s.get("/t/ttl/b", None).await.expect("get").0;
    assert_eq!(kept.expect("b stays").value, b("b2"));
}

pub async fn large_values(s: &dyn Storage) {
    let big = Bytes::from(vec![b'x'; 1536 * 1024 - 512]);
    let r = s
        .create("/t/big/a", big.clone())
        .await
        .expect("large value fits");
    let kv = s
        .get("/t/big/a", Some(r))
        .await
        .expect("get")
        .0
        .expect("exists");
    assert_eq!(kv.value.len(), big.len());
    let too_big = Bytes::from(vec![b'x'; 2 * 1024 * 1024]);
    let err = s.create("/t/big/b", too_big).await.expect_err("too large");
    assert!(matches!(err, StorageError::TooLarge { .. }), "{err:?}");
    assert!(s.get("/t/big/b", None).await.expect("get").0.is_none());
}

pub async fn compaction(s: &dyn Storage) {
    let r1 = s.create("/t/cmp/a", b("1")).await.expect("create");
    let r2 = s.update("/t/cmp/a", b("2"), r1).await.expect("update");
    let r3 = s.update("/t/cmp/a", b("3"), r2).await.expect("update");
    s.compact(r3).await.expect("compact");
    assert!(s.compacted_revision().await.expect("compacted") >= r3);
    assert!(matches!(
        s.get("/t/cmp/a", Some(r1)).await,
        Err(StorageError::Compacted { .. })
    ));
    assert_eq!(
        s.get("/t/cmp/a", Some(r3))
            .await
            .expect("get")
            .0
            .expect("kv")
            .value,
        b("3")
    );
    match s.watch("/t/cmp/", r1).await {
        Err(StorageError::Compacted { .. }) => {}
        Ok(mut w) => assert!(matches!(
            next_event(&mut w).await,
            WatchItem::Error(StorageError::Compacted { .. })
        )),
        Err(e) => panic!("unexpected {e:?}"),
    }
    assert!(s.compact(r2).await.is_err(), "compacting backwards fails");
}

/// Writers at once: every write lands, each writer's revisions increase,
/// and each write's revision is the one its key holds. Writes made at once
/// may share a revision (etcd's backend sends them in one transaction);
/// a watch then delivers them in revision order, each marked `continued`
/// exactly when the next event has its revision.
pub async fn concurrent_writers(s: Arc<dyn Storage>) {
    let before = s.current_revision().await.expect("revision");
    let mut tasks = Vec::new();
    for w in 0..32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut writes = Vec::new();
            for i in 0..20 {
                let key = format!("/t/conc/{w}/{i:02}");
                let rev = s.create(&key, b("v")).await.expect("create");
                writes.push((key, rev));
            }
            writes
        }));
    }
    // And writers racing on one key: exactly one wins each round.
    let r0 = s.create("/t/conc-one", b("0")).await.expect("create");
    let mut racers = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        racers.push(tokio::spawn(async move {
            s.update("/t/conc-one", b("x"), r0).await.is_ok()
        }));
    }
    let mut all = std::collections::BTreeMap::new();
    for t in tasks {
        let writes = t.await.expect("task");
        assert!(
            writes.windows(2).all(|p| p[0].1 < p[1].1),
            "one writer's revisions increase: {writes:?}"
        );
        all.extend(writes);
    }
    let mut winners = 0;
    for r in racers {
        winners += usize::from(r.await.expect("task"));
    }
    assert_eq!(winners, 1);
    let r = s.range("/t/conc/", "", None, 0).await.expect("range");
    assert_eq!(r.kvs.len(), 640);
    for kv in &r.kvs {
        assert_eq!(Some(&kv.mod_revision), all.get(&kv.key), "{}", kv.key);
    }
    // What the watch says, in order: events, and progress (`None`).
    let mut w = s.watch("/t/conc/", before).await.expect("watch");
    let mut items = Vec::new();
    let mut events = 0;
    while events < 640 {
        match tokio::time::timeout(Duration::from_secs(10), w.recv()).await {
            Ok(Some(WatchItem::Event(e))) => {
                events += 1;
                items.push((e.revision(), Some(e)));
            }
            Ok(Some(WatchItem::Progress(rev))) => items.push((rev, None)),
            other => panic!("after {events} events: {other:?}"),
        }
    }
    for (i, (rev, e)) in items.iter().enumerate() {
        let Some(e) = e else { continue };
        assert_eq!(Some(rev), all.get(&e.kv.key));
        // A continued event is followed by the rest of its revision, or
        // (when the rest lies outside the watched prefix) by word that the
        // revision is complete.
        let next = items.get(i + 1);
        match next {
            Some((n, Some(_))) if e.continued => assert_eq!(n, rev, "item {i}"),
            Some((n, None)) if e.continued => assert!(n >= rev, "item {i}"),
            Some((n, Some(_))) => assert!(n > rev, "item {i}: not continued"),
            _ => assert!(!e.continued || i + 1 == items.len(), "item {i}"),
        }
    }
}

/// A real etcd for tests: the `etcd` binary (Debian's `etcd-server`) on free
/// loopback ports with its data in a fresh temporary directory, stopped and
/// removed on drop.
pub struct EtcdProcess {
    child: std::process::Child,
    dir: std::path::PathBuf,
    ports: (u16, u16),
    /// etcd's flags besides its URLs and member (TLS, quota).
    flags: Vec<String>,
    /// `--name` and `--initial-cluster` (one member unless in a cluster).
    member: (String, String),
    pub endpoint: String,
}

impl EtcdProcess {
    /// A store on this etcd (plain, no TLS), connected within 30 s.
    pub async fn store(&self) -> crate::etcd::EtcdStore {
        let cfg = crate::etcd::EtcdConfig {
            endpoints: vec![self.endpoint.clone()],
            ..Default::default()
        };
        crate::etcd::EtcdStore::connect(&cfg, Duration::from_secs(30))
            .await
            .expect("connect to the test etcd")
    }

    /// Puts each `(key, value)` in one etcd transaction, so all share one
    /// revision (as a batch of writes does); returns it.
    pub async fn put_at_one_revision(&self, puts: &[(&str, &str)]) -> i64 {
        let mut client = etcd_client::Client::connect([self.endpoint.as_str()], None)
            .await
            .expect("connect to the test etcd");
        let ops: Vec<_> = puts
            .iter()
            .map(|(k, v)| etcd_client::TxnOp::put(*k, *v, None))
            .collect();
        let resp = client
            .txn(etcd_client::Txn::new().and_then(ops))
            .await
            .expect("txn");
        resp.header().expect("a response header").revision()
    }

    /// The etcd process's id (benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn peer_url(peer: u16) -> String {
    format!("http://127.0.0.1:{peer}")
}

/// Starts an etcd member and waits until its client port accepts.
fn spawn_etcd(
    dir: &std::path::Path,
    ports: (u16, u16),
    flags: &[String],
    member: &(String, String),
) -> std::process::Child {
    let child = spawn_member(dir, ports, flags, member);
    wait_serving(ports.0);
    child
}

fn spawn_member(
    dir: &std::path::Path,
    (client, peer): (u16, u16),
    flags: &[String],
    (name, cluster): &(String, String),
) -> std::process::Child {
    let scheme = scheme(flags);
    let endpoint = format!("{scheme}://127.0.0.1:{client}");
    let peer_url = peer_url(peer);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("etcd.log"))
        .expect("etcd log");
    std::process::Command::new("etcd")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--name", name])
        .args([
            "--listen-client-urls",
            &endpoint,
            "--advertise-client-urls",
            &endpoint,
        ])
        .args([
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
        ])
        .args(["--initial-cluster", cluster])
        .args(flags)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the etcd binary (Debian package etcd-server) must be installed for these tests")
}

/// `https` when the flags give etcd a serving certificate.
fn scheme(flags: &[String]) -> &'static str {
    if flags.iter().any(|f| f.starts_with("--cert-file=")) {
        "https"
    } else {
        "http"
    }
}

fn wait_serving(client: u16) {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", client)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "etcd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl EtcdProcess {
    /// Starts etcd and waits until it serves; panics (never skips) when the
    /// binary is missing, so a CI without etcd fails loudly.
    pub fn start() -> EtcdProcess {
        Self::start_with_tls(None)
    }

    /// Starts etcd serving HTTPS with `(ca, cert, key)` PEM files and
    /// requiring client certificates signed by `ca`.
    pub fn start_with_tls(
        tls: Option<(&std::path::Path, &std::path::Path, &std::path::Path)>,
    ) -> EtcdProcess {
        let flags = match tls {
            None => Vec::new(),
            Some((ca, cert, key)) => vec![
                format!("--trusted-ca-file={}", ca.display()),
                format!("--cert-file={}", cert.display()),
                format!("--key-file={}", key.display()),
                "--client-cert-auth".to_string(),
            ],
        };
        Self::start_with_flags(flags)
    }

    /// Starts etcd with more of its flags (`--quota-backend-bytes=…`).
    pub fn start_with_flags(flags: Vec<String>) -> EtcdProcess {
        let ports = (free_port(), free_port());
        let dir =
            std::env::temp_dir().join(format!("kaiser-etcd-{}-{}", std::process::id(), ports.0));
        std::fs::create_dir_all(&dir).expect("etcd data dir");
        let name = "kaiser-test".to_string();
        let member = (name.clone(), format!("{name}={}", peer_url(ports.1)));
        let child = spawn_etcd(&dir, ports, &flags, &member);
        let scheme = scheme(&flags);
        EtcdProcess {
            child,
            dir,
            ports,
            endpoint: format!("{scheme}://127.0.0.1:{}", ports.0),
            flags,
            member,
        }
    }

    /// Starts etcd again on the same ports and data after [`EtcdProcess::kill`].
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_etcd(&self.dir, self.ports, &self.flags, &self.member);
    }

    /// Freezes the member (SIGSTOP): its connections stay open, unanswered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a member [`EtcdProcess::pause`] froze.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} etcd");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("etcd.log")).unwrap_or_default()
    }

    /// Stops etcd (SIGKILL) without removing its data, e.g. to test outages.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Members of one etcd cluster on loopback, started together (a member
/// waits for a quorum before it serves), for tests of member failures.
pub struct EtcdCluster {
    pub members: Vec<EtcdProcess>,
}

impl EtcdCluster {
    pub fn start(size: usize) -> EtcdCluster {
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let cluster = ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("m{i}={}", peer_url(p.1)))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for (i, &ports) in ports.iter().enumerate() {
            let dir = std::env::temp_dir().join(format!(
                "kaiser-etcd-{}-{}",
                std::process::id(),
                ports.0
            ));
            std::fs::create_dir_all(&dir).expect("etcd data dir");
            let member = (format!("m{i}"), cluster.clone());
            let child = spawn_member(&dir, ports, &[], &member);
            members.push(EtcdProcess {
                child,
                dir,
                ports,
                endpoint: format!("http://127.0.0.1:{}", ports.0),
                flags: Vec::new(),
                member,
            });
        }
        for m in &members {
            wait_serving(m.ports.0);
        }
        EtcdCluster { members }
    }

    /// Every member's client URL, comma-separated (`--etcd-servers`).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| m.endpoint.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A tmpfs of a few MiB on a fresh directory, for tests of a full disk;
/// unmounted and removed on drop. Mounting needs root (CAP_SYS_ADMIN), as
/// the project's machines and CI have: without it this panics, never skips.
pub struct SmallDisk {
    pub path: std::path::PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` (rounded up to pages).
    pub fn mount(bytes: u64) -> SmallDisk {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("kaiser-small-disk-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("the mount command");
        assert!(
            out.status.success(),
            "mounting a tmpfs for a full-disk test needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { path }
    }

    /// Fills the disk with the file `filler`, then shrinks it so that about
    /// `room` bytes stay free.
    pub fn fill_leaving(&self, room: u64) {
        use std::io::Write;
        let path = self.path.join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0x5a_u8; 64 << 10];
        while f.write_all(&chunk).is_ok() {}
        let len = f.metadata().expect("filler size").len();
        f.set_len(len.saturating_sub(room)).expect("shrink filler");
    }

    /// Removes the filler: the disk has room again.
    pub fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).expect("remove filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_dir(&self.path);
    }
}
