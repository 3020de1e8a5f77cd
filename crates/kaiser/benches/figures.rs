//! The figures in the README, measured in one run (`cargo bench -p kaiser
//! --bench figures`): start-up time, create throughput of the raw store and
//! through the HTTPS API, and memory after 10,000 ConfigMaps. Ratios are
//! computed within the run because the machines are shared and noisy.
//! All traffic stays on 127.0.0.1 and every loop is bounded. `KAISER_BIN`
//! names another kaiser binary to measure with the same load generator.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kaiser_storage::Storage;
use kaiser_storage::embedded::EmbeddedStore;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The kaiser binary measured: this build's, or `KAISER_BIN` (to compare
/// two builds with one load generator).
fn kaiser_bin() -> String {
    std::env::var("KAISER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kaiser").to_string())
}
const VALUE: usize = 1024;
/// Creates per writer of each 32-writer raw store run.
const RAW_EACH: usize = 400;
/// Creates per client of the lean and HTTP/2 runs (the memory figure
/// counts on 8,800 ConfigMaps after them and the warm-up).
const LEAN_EACH: usize = 150;
const H2_EACH: usize = 75;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A kaiser process, stopped (SIGTERM, then waited for) when dropped, so
/// that a panicking run leaves none behind.
struct Kaiser(Child);

impl Kaiser {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Kaiser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &Path, port: u16) -> Kaiser {
    spawn_with(dir, port, &[])
}

fn spawn_with(dir: &Path, port: u16, extra: &[&str]) -> Kaiser {
    Kaiser(
        Command::new(kaiser_bin())
            .arg(format!("--secure-port={port}"))
            .args(extra)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kaiser"),
    )
}

async fn client(dir: &Path) -> Client {
    let kc = Kubeconfig::read_from(dir.join("kaiser-data/admin.kubeconfig")).expect("kubeconfig");
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

/// Polls until `GET /readyz` answers `ok`; a cheap TCP connect first avoids
/// a TLS attempt per millisecond before the listener exists.
async fn wait_ready(port: u16, c: &Client, limit: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            let req = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("request");
            if c.request_text(req)
                .await
                .map(|t| t == "ok")
                .unwrap_or(false)
            {
                return start.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("kaiser not ready within {limit:?}");
}

/// User plus system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let (user, system) = cpu_split(pid);
    user + system
}

/// User and system CPU time of a process, in seconds.
fn cpu_split(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

/// Waits (at most 10 s) until a process uses under 2% of a core over
/// 200 ms; returns how long that took.
async fn settle(pid: u32) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let before = cpu_seconds(pid);
        tokio::time::sleep(Duration::from_millis(200)).await;
        if cpu_seconds(pid) - before < 0.004 {
            break;
        }
    }
    start.elapsed()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time of a process's live threads in seconds, to the nanosecond
/// (`/proc/<pid>/task/*/schedstat`), where `/proc/<pid>/stat` counts 10 ms
/// ticks: too coarse for a burst of a tenth of a second.
fn thread_cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum();
    ns as f64 / 1e9
}

/// A raw store run: creates/s, and the CPU per create of this process (the
/// writers, the store's flusher and the runtime; nothing else runs then).
struct RawRun {
    rate: f64,
    cpu_us: f64,
}

async fn store_rate(writers: usize, per_writer: usize) -> RawRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
    let cpu = thread_cpu_seconds(std::process::id());
    let rate = raw_rate(store.clone(), writers, per_writer).await;
    let cpu_us =
        (thread_cpu_seconds(std::process::id()) - cpu) * 1e6 / (writers * per_writer) as f64;
    store.close().await.expect("close");
    RawRun { rate, cpu_us }
}

/// Creates/s of `writers` tasks each creating `per_writer` keys in turn;
/// the store stays open.
async fn raw_rate(store: Arc<dyn Storage>, writers: usize, per_writer: usize) -> f64 {
    let value = Bytes::from(vec![b'x'; VALUE]);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, value) = (store.clone(), value.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                store
                    .create(
                        &format!("/registry/configmaps/bench/w{w}-{i}"),
                        value.clone(),
                    )
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (writers * per_writer) as f64 / start.elapsed().as_secs_f64()
}

/// 1,000 watchers on one resource while 1,000 objects are created at
/// 200/s: delay from each create's acknowledgement to its arrival at every
/// watcher, and kaiser's CPU and RSS meanwhile.
/// `selected`: every watcher has a label selector (that every object
/// matches), as controllers and kubelets watch with selectors.
async fn fan_out(c: &Client, dir: &Path, port: u16, pid: u32, selected: bool) {
    const WATCHERS: usize = 1000;
    const WRITES: usize = 1000;
    let (namespace, selector) = if selected {
        ("fan-selected", "&labelSelector=app%3Dfan")
    } else {
        ("fan", "")
    };
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).expect("ns");
    Api::<Namespace>::all(c.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), namespace);
    let rv = api
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .expect("list")
        .metadata
        .resource_version
        .unwrap_or_default();
    let tls = watcher_tls(dir);
    let mut tasks = Vec::new();
    for _ in 0..WATCHERS {
        let path = format!(
            "/api/v1/namespaces/{namespace}/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=120{selector}"
        );
        tasks.push(tokio::spawn(lean_watch(tls.clone(), port, path, WRITES)));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu0 = cpu_seconds(pid);
    let own0 = cpu_seconds(std::process::id());
    // 200 writes/s offered by 4 writers at 50/s each, so one slow create
    // does not hold back the rest (a single sequential writer measures its
    // own round trips, not the rate).
    const WRITERS: usize = 4;
    let start = Instant::now();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let api = api.clone();
        writers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(5 * WRITERS as u64));
            let mut acks = Vec::new();
            for n in (w..WRITES).step_by(WRITERS) {
                tick.tick().await;
                let mut meta = serde_json::json!({"name": format!("fan-{n}")});
                if selected {
                    meta["labels"] = serde_json::json!({"app": "fan"});
                }
                let cm: ConfigMap =
                    serde_json::from_value(serde_json::json!({"metadata": meta})).expect("cm");
                api.create(&PostParams::default(), &cm)
                    .await
                    .expect("create");
                acks.push((n, Instant::now()));
            }
            acks
        }));
    }
    let mut acks = vec![start; WRITES];
    for w in writers {
        for (n, at) in w.await.expect("writer") {
            acks[n] = at;
        }
    }
    let write_secs = start.elapsed().as_secs_f64();
    let mut delays = Vec::with_capacity(WATCHERS * WRITES);
    let mut missing = 0;
    for t in tasks {
        for (n, at) in t.await.expect("watcher").into_iter().enumerate() {
            match at {
                Some(at) => {
                    delays.push(at.saturating_duration_since(acks[n]).as_secs_f64() * 1000.0)
                }
                None => missing += 1,
            }
        }
    }
    let cpu = cpu_seconds(pid) - cpu0;
    let own = cpu_seconds(std::process::id()) - own0;
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let pct = |p: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "watch fan-out{}, {WATCHERS} watchers x {WRITES} creates at {:.0}/s: delay p50 {:.1} ms, p99 {:.1} ms ({missing} deliveries missing); kaiser CPU {:.1} s, RSS {:.1} MiB; the clients' CPU {own:.1} s",
        if selected {
            " with a label selector"
        } else {
            ""
        },
        WRITES as f64 / write_secs,
        pct(0.5),
        pct(0.99),
        cpu,
        rss_kib(pid) as f64 / 1024.0
    );
}

struct ListRun {
    median: Duration,
    bytes: usize,
    server_ms: f64,
    client_ms: f64,
    /// kaiser's highest resident memory during the LISTs over its memory
    /// before them, sampled every 5 ms.
    rss_growth_mib: f64,
}

/// LISTs `path` 15 times (after one unmeasured LIST, which grows the
/// connection's buffers) with a kube-rs client on a one-thread runtime of
/// its own: the body passes from the connection task to the reader without
/// waking another thread for every piece, so the client costs what it must
/// (on the shared two-thread runtime it cost more CPU than kaiser did).
fn timed_lists(dir: &Path, pid: u32, path: &str, accept: Option<&'static str>) -> ListRun {
    let (dir, path) = (dir.to_path_buf(), path.to_string());
    let peak = RssPeak::start(pid);
    let run = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let c = client(&dir).await;
            let mut bytes = list_bytes(&c, &path, accept).await;
            let cpu0 = cpu_seconds(pid);
            let own0 = cpu_seconds(std::process::id());
            let mut times = Vec::new();
            for _ in 0..15 {
                let t = Instant::now();
                bytes = list_bytes(&c, &path, accept).await;
                times.push(t.elapsed());
            }
            times.sort();
            ListRun {
                median: times[7],
                bytes,
                server_ms: (cpu_seconds(pid) - cpu0) * 1000.0 / 15.0,
                client_ms: (cpu_seconds(std::process::id()) - own0) * 1000.0 / 15.0,
                rss_growth_mib: 0.0,
            }
        })
    });
    let mut run = run.join().expect("the LIST client");
    run.rss_growth_mib = peak.growth_mib();
    run
}

/// kaiser's highest resident memory over its memory at the start, sampled
/// every 5 ms on a thread of its own until `growth_mib`.
struct RssPeak {
    before: u64,
    sampling: Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
}

impl RssPeak {
    fn start(pid: u32) -> RssPeak {
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let on = sampling.clone();
        RssPeak {
            before: rss_kib(pid),
            sampling,
            sampler: std::thread::spawn(move || {
                let mut peak = 0;
                while on.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(rss_kib(pid));
                    std::thread::sleep(Duration::from_millis(5));
                }
                peak
            }),
        }
    }

    fn growth_mib(self) -> f64 {
        self.sampling
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let peak = self.sampler.join().expect("the RSS sampler");
        peak.saturating_sub(self.before) as f64 / 1024.0
    }
}

/// TLS for the fan-out's watchers: kaiser's CA, the admin's certificate.
fn watcher_tls(dir: &Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let pki = dir.join("kaiser-data/pki");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.join("ca.crt")).expect("ca"))
        .expect("root");
    let cert = CertificateDer::from_pem_file(pki.join("admin.crt")).expect("cert");
    let key = PrivateKeyDer::from_pem_file(pki.join("admin.key")).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert], key)
        .expect("client certificate");
    Arc::new(cfg)
}

/// A TLS connection to kaiser on loopback `port`, Nagle off.
async fn tls_connect(
    tls: Arc<rustls::ClientConfig>,
    port: u16,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let _ = tcp.set_nodelay(true);
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("server name");
    tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .expect("TLS")
}

/// One watcher of the fan-out, as cheap as a client can be: its own TLS
/// connection, an HTTP/1.1 request written by hand, and the stream scanned
/// for `"name":"fan-<n>"` as it arrives (no HTTP library between the
/// socket and the reader, no JSON decoding). With kube-rs watchers the
/// 1,000 clients spent as much CPU as kaiser, on the same two cores.
/// Returns when each object was first seen.
async fn lean_watch(
    tls: Arc<rustls::ClientConfig>,
    port: u16,
    path: String,
    writes: usize,
) -> Vec<Option<Instant>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const NEEDLE: &[u8] = b"\"name\":\"fan-";
    let mut s = tls_connect(tls, port).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fan-out\r\n\r\n");
    s.write_all(request.as_bytes()).await.expect("request");
    let mut seen = vec![None; writes];
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = Vec::new();
    while got < writes {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Instant::now();
        pending.extend_from_slice(&buf[..n]);
        // Whole lines only: one may arrive in several reads.
        let Some(end) = memchr::memrchr(b'\n', &pending) else {
            continue;
        };
        let mut start = 0;
        for stop in memchr::memchr_iter(b'\n', &pending[..=end]) {
            let line = &pending[start..stop];
            start = stop + 1;
            // The name comes early in an event's line.
            let head = &line[..line.len().min(256)];
            let Some(at) = memchr::memmem::find(head, NEEDLE) else {
                continue;
            };
            let digits = &head[at + NEEDLE.len()..];
            let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
            let n = std::str::from_utf8(&digits[..len])
                .ok()
                .and_then(|d| d.parse::<usize>().ok());
            if let Some(n) = n.filter(|n| *n < writes)
                && seen[n].is_none()
            {
                seen[n] = Some(now);
                got += 1;
            }
        }
        pending.drain(..=end);
    }
    seen
}

/// CPU seconds of kaiser (user, kernel) and of this process at a moment,
/// to report what a phase cost each side per create.
struct CpuMark {
    pid: u32,
    kaiser: (f64, f64),
    own: f64,
}

impl CpuMark {
    fn now(pid: u32) -> CpuMark {
        CpuMark {
            pid,
            kaiser: cpu_split(pid),
            own: cpu_seconds(std::process::id()),
        }
    }

    /// kaiser's CPU per create since the mark (its kernel share), and the
    /// clients' (this process).
    fn per_create(&self, creates: usize) -> CreateCpu {
        let (user, kernel) = cpu_split(self.pid);
        let us = |s: f64| s * 1e6 / creates as f64;
        CreateCpu {
            kaiser_us: us(user + kernel - self.kaiser.0 - self.kaiser.1),
            kernel_us: us(kernel - self.kaiser.1),
            clients_us: us(cpu_seconds(std::process::id()) - self.own),
        }
    }
}

/// CPU per create, in microseconds, by process.
struct CreateCpu {
    kaiser_us: f64,
    /// kaiser's share in the kernel.
    kernel_us: f64,
    clients_us: f64,
}

impl std::fmt::Display for CreateCpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CPU per create: kaiser {:.0} us ({:.0} us of it in the kernel), the clients {:.0} us",
            self.kaiser_us, self.kernel_us, self.clients_us
        )
    }
}

/// Creates/s with `clients` lean clients, each `each` creates in turn on
/// its own TLS connection: HTTP/1.1 written by hand, the JSON body made by
/// formatting the name into a template, and the 201 response read by its
/// `Content-Length` without decoding. So the figure is the server's, not a
/// client library's: on these shared cores the 32 kube-rs clients spend
/// about as much CPU per create as kaiser does.
async fn lean_rate(
    tls: &Arc<rustls::ClientConfig>,
    port: u16,
    clients: usize,
    each: usize,
    prefix: &str,
) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|w| {
            tokio::spawn(lean_creates(
                tls.clone(),
                port,
                format!("{prefix}-{w}"),
                each,
            ))
        })
        .collect();
    for t in tasks {
        t.await.expect("lean client");
    }
    (clients * each) as f64 / start.elapsed().as_secs_f64()
}

/// One lean client: `each` ConfigMap creates named `<prefix>-<i>`, one at a
/// time; panics on any answer but 201.
async fn lean_creates(tls: Arc<rustls::ClientConfig>, port: u16, prefix: String, each: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tls_connect(tls, port).await;
    let payload = "x".repeat(VALUE);
    let mut buf = vec![0u8; 16 * 1024];
    let mut have = 0;
    let mut request = Vec::with_capacity(2048);
    for i in 0..each {
        let body = configmap_json(&format!("{prefix}-{i}"), &payload);
        request.clear();
        request.extend_from_slice(
            format!(
                "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lean-create\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(body.as_bytes());
        s.write_all(&request).await.expect("request");
        // The head, then as many body bytes as it announces.
        let head_end = loop {
            if let Some(at) = memchr::memmem::find(&buf[..have], b"\r\n\r\n") {
                break at + 4;
            }
            if have == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = s.read(&mut buf[have..]).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            have += n;
        };
        let head = std::str::from_utf8(&buf[..head_end]).expect("head");
        assert!(head.starts_with("HTTP/1.1 201"), "create answered {head}");
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .expect("content-length");
        let end = head_end + length;
        if buf.len() < end {
            buf.resize(end, 0);
        }
        while have < end {
            let n = s.read(&mut buf[have..]).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            have += n;
        }
        buf.copy_within(end..have, 0);
        have -= end;
    }
}

/// GETs `path` and counts the body's bytes as they arrive.
async fn list_bytes(c: &Client, path: &str, accept: Option<&str>) -> usize {
    let mut req = http::Request::get(path);
    if let Some(a) = accept {
        req = req.header(http::header::ACCEPT, a);
    }
    body_bytes(c, req.body(Vec::new()).expect("request")).await
}

/// How many ConfigMaps `default` holds, from a LIST of one.
async fn configmaps(c: &Client) -> i64 {
    Api::<ConfigMap>::namespaced(c.clone(), "default")
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .expect("list")
        .metadata
        .remaining_item_count
        .unwrap_or(0)
        + 1
}

/// Sends `req` and counts its response body's bytes as they arrive.
async fn body_bytes(c: &Client, req: http::Request<Vec<u8>>) -> usize {
    use futures_util::AsyncReadExt;
    let mut stream = Box::pin(c.request_stream(req).await.expect("list"));
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await.expect("read");
        if n == 0 {
            return total;
        }
        total += n;
    }
}

/// A ConfigMap's JSON made by formatting, as the lean clients send it.
fn configmap_json(name: &str, payload: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"payload":"{payload}"}}}}"#
    )
}

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "data": {"payload": "x".repeat(VALUE)},
    }))
    .expect("configmap")
}

async fn api_rate(c: &Client, clients: usize, per_client: usize, prefix: &str) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..clients {
        let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                api.create(
                    &PostParams::default(),
                    &configmap(&format!("{prefix}-{w}-{i}")),
                )
                .await
                .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (clients * per_client) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("kaiser figures (one run; 2 shared cores, numbers are noisy)\n");
    // `cargo bench -p kaiser --bench figures -- list fanout` runs only the
    // named optional sections (list, fanout, selected, delete, etcd,
    // startup, rss: the RSS 10 s after the creates); none runs all.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |s: &str| only.is_empty() || only.iter().any(|o| o == s);

    // Store throughput, raw. The 32-writer rate is taken before and after
    // the API's creates, and the API's are set against their mean: the
    // disk's fdatasync latency on these shared machines drifts by a factor
    // of two within minutes, and one short burst would catch only one side.
    let store_1 = store_rate(1, 1000).await.rate;
    let before = store_rate(32, RAW_EACH).await;
    let raw_before = before.rate;
    println!(
        "embedded store, 1 KiB creates:  1 writer {store_1:>8.0}/s   32 writers {raw_before:>8.0}/s"
    );

    // A server with an existing data dir.
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = spawn(dir.path(), port);
    let kubeconfig = dir.path().join("kaiser-data/admin.kubeconfig");
    let t = Instant::now();
    while !kubeconfig.exists() && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let c = client(dir.path()).await;
    wait_ready(port, &c, Duration::from_secs(30)).await;
    let cpu_before = cpu_seconds(child.id());
    let api_32 = api_rate(&c, 32, 50, "warm").await;
    let server_cpu_us = (cpu_seconds(child.id()) - cpu_before) * 1e6 / 1600.0;
    let rss_before = rss_kib(child.id());
    let tls = watcher_tls(dir.path());
    let mark = CpuMark::now(child.id());
    let lean_32 = lean_rate(&tls, port, 32, LEAN_EACH, "lean").await;
    let lean_cpu = mark.per_create(32 * LEAN_EACH);
    // As client-go's clients talk: one HTTP/2 connection, every request
    // a stream on it.
    let mark = CpuMark::now(child.id());
    let h2_32 = h2_rate(&tls, port, 32, H2_EACH, "h2").await;
    let h2_cpu = mark.per_create(32 * H2_EACH);
    // The same clients against the floor: no API work, only TLS, HTTP
    // and one create in a fresh embedded store per request.
    let bare_dir = tempfile::tempdir().expect("tempdir");
    let bare_store: Arc<dyn Storage> =
        Arc::new(EmbeddedStore::open(bare_dir.path()).expect("open"));
    let bare_32 = bare_rate(dir.path(), bare_store.clone(), 32, 50).await;
    let bare = BareServer::start(dir.path(), bare_store.clone());
    let bare_lean = lean_rate(&tls, bare.port, 32, LEAN_EACH, "lean").await;
    drop(bare);
    bare_store.close().await.expect("close");
    let after = store_rate(32, RAW_EACH).await;
    let raw_after = after.rate;
    let store_32 = (raw_before + raw_after) / 2.0;
    println!(
        "raw store at 32 writers, again after the API's creates: {raw_after:>8.0}/s; the ratios below are to the mean of both, {store_32:.0}/s"
    );
    // What two cores allow before the server does any TLS or HTTP work:
    // each create through the API costs at least the store's CPU (its
    // groups are smaller there, so it costs more) and the load generator's.
    let store_cpu = (before.cpu_us + after.cpu_us) / 2.0;
    let client_cpu = lean_cpu.clients_us;
    let ceiling = 2e6 / (store_cpu + client_cpu);
    println!(
        "  CPU per raw create at 32 writers: {store_cpu:.1} us (writers, flusher and runtime); with the lean clients' {client_cpu:.1} us, two cores allow at most {ceiling:.0} creates/s = {:.2} of the raw store before the server does any TLS, HTTP or API work",
        ceiling / store_32
    );
    println!(
        "HTTPS API, 1 KiB ConfigMap creates, 32 clients: {api_32:>8.0}/s  = {:.2} of the raw store at 32 writers",
        api_32 / store_32
    );
    println!(
        "  server CPU per create: {server_cpu_us:.0} us (the load generator shares the same 2 cores), i.e. at most {:.0}/s per core",
        1e6 / server_cpu_us
    );
    println!(
        "  with 32 lean clients (hand-written HTTP/1.1, no decoding): {lean_32:>8.0}/s = {:.2} of the raw store; {lean_cpu}",
        lean_32 / store_32,
    );
    println!(
        "  with 32 streams on one HTTP/2 connection (hyper's client, no decoding): {h2_32:>8.0}/s = {:.2} of the raw store; {h2_cpu}",
        h2_32 / store_32,
    );
    println!(
        "bare HTTPS server (kaiser's TLS and certificates, hyper, one raw-store create per request, the body echoed), same 32 kube-rs clients: {bare_32:>8.0}/s = {:.2} of the raw store; kaiser = {:.2} of the bare server",
        bare_32 / store_32,
        api_32 / bare_32
    );
    println!(
        "  with the 32 lean clients: {bare_lean:>8.0}/s = {:.2} of the raw store; kaiser = {:.2} of the bare server",
        bare_lean / store_32,
        lean_32 / bare_lean
    );

    // Memory after 10,016 ConfigMaps of 1 KiB (8,800 already exist: 1,600
    // warm-up creates, 4,800 lean ones, 2,400 over HTTP/2).
    api_rate(&c, 32, 38, "mem").await;
    let rss_after = rss_kib(child.id());
    println!(
        "RSS: {:.1} MiB idle after start-up and warm-up, {:.1} MiB after 10,000 ConfigMaps of 1 KiB",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    // Reads are measured on a server at rest, so that work left behind by
    // the burst of writes above is not billed to the first LISTs.
    let settled = settle(child.id()).await;
    println!(
        "  (server at rest {:.1} s after the last create; RSS then {:.1} MiB)",
        settled.as_secs_f64(),
        rss_kib(child.id()) as f64 / 1024.0
    );
    if want("rss") {
        tokio::time::sleep(Duration::from_secs(10)).await;
        println!(
            "  RSS 10 s later: {:.1} MiB",
            rss_kib(child.id()) as f64 / 1024.0
        );
    }
    // LIST of all ConfigMaps as plain JSON, the body counted as it streams
    // in (no client-side decoding).
    let listed = configmaps(&c).await;
    // (what, query, Accept): plain JSON, then the forms decoded item by
    // item: a Table as kubectl asks for one (here without pages) and
    // curl's pretty JSON.
    type ListCase = (&'static str, &'static str, Option<&'static str>);
    let lists: &[ListCase] = if want("list") {
        &[
            ("consistent (resourceVersion unset)", "", None),
            (
                "from the watch cache (resourceVersion=0)",
                "?resourceVersion=0",
                None,
            ),
            (
                "as a Table, no pages (kubectl get's form)",
                "",
                Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
            ),
            (
                "as a PartialObjectMetadataList (client-go's metadata informers)",
                "",
                Some("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"),
            ),
            ("pretty JSON (curl's default)", "?pretty=true", None),
        ]
    } else {
        &[]
    };
    for &(what, query, accept) in lists {
        let path = format!("/api/v1/namespaces/default/configmaps{query}");
        let run = timed_lists(dir.path(), child.id(), &path, accept);
        println!(
            "LIST of {listed} ConfigMaps of 1 KiB, {what}: median {:.1} ms for {:.1} MB = {:.0} MB/s of JSON body; CPU per LIST: kaiser {:.1} ms, the kube-rs client {:.1} ms (on the same 2 cores); kaiser's RSS peak +{:.1} MiB",
            run.median.as_secs_f64() * 1000.0,
            run.bytes as f64 / 1e6,
            run.bytes as f64 / 1e6 / run.median.as_secs_f64(),
            run.server_ms,
            run.client_ms,
            run.rss_growth_mib,
        );
    }
    if want("fanout") {
        fan_out(&c, dir.path(), port, child.id(), false).await;
    }
    if want("selected") {
        fan_out(&c, dir.path(), port, child.id(), true).await;
    }
    drop(child);

    if want("etcd") {
        etcd_figures().await;
    }
    if want("startup") {
        startup_figures(dir.path()).await;
    }
    if want("delete") {
        // Last, as it empties the namespace, on a kaiser started again over
        // the same data (and over a copy of it): one DELETE of the
        // collection with upstream's default of one worker, each delete
        // waiting for its own sync, then with 8 deletes in flight.
        let copy = tempfile::tempdir().expect("tempdir");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(dir.path().join("kaiser-data"))
            .arg(copy.path())
            .status()
            .expect("cp");
        assert!(copied.success(), "copying the data dir");
        delete_collection_figure(dir.path(), port, 1).await;
        delete_collection_figure(copy.path(), port, 8).await;
    }
}

/// Times one DELETE of the ConfigMaps in `default` on a kaiser started
/// over `dir` with `--delete-collection-workers=<workers>`.
async fn delete_collection_figure(dir: &Path, port: u16, workers: usize) {
    let flag = format!("--delete-collection-workers={workers}");
    let child = spawn_with(dir, port, &[flag.as_str()]);
    let c = c_for(dir, port).await;
    wait_ready(port, &c, Duration::from_secs(30)).await;
    let path = "/api/v1/namespaces/default/configmaps";
    let objects = configmaps(&c).await;
    let peak = RssPeak::start(child.id());
    let t = Instant::now();
    let req = http::Request::delete(path)
        .body(Vec::new())
        .expect("request");
    let bytes = body_bytes(&c, req).await;
    let took = t.elapsed();
    println!(
        "DELETE of the collection of {objects} ConfigMaps, {workers} worker(s): {:.2} s ({:.0} us per object), an answer of {:.1} MB; kaiser's RSS peak +{:.1} MiB",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / objects as f64,
        bytes as f64 / 1e6,
        peak.growth_mib(),
    );
}

/// etcd's own put rate: `writers` clients each putting its keys one at a
/// time, one put per request.
async fn put_rate(endpoint: &str, writers: usize, per_writer: usize) -> f64 {
    let client = etcd_client::Client::connect([endpoint], None)
        .await
        .expect("connect to etcd");
    let value = vec![b'x'; VALUE];
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (mut kv, value) = (client.kv_client(), value.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                kv.put(format!("/bench/puts/w{w}-{i}"), value.clone(), None)
                    .await
                    .expect("put");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (writers * per_writer) as f64 / start.elapsed().as_secs_f64()
}

/// etcd: its own put rate against creates through kaiser on it.
async fn etcd_figures() {
    let etcd = kaiser_storage::testing::EtcdProcess::start();
    let me = std::process::id();
    let (e0, m0) = (cpu_seconds(etcd.pid()), cpu_seconds(me));
    // 32 writers of 100 creates each, for etcd and through kaiser alike.
    const WRITERS: usize = 32;
    const EACH: usize = 100;
    let etcd_32 = put_rate(&etcd.endpoint, WRITERS, EACH).await;
    let (e1, m1) = (cpu_seconds(etcd.pid()), cpu_seconds(me));
    // kaiser's etcd store alone: creates (compare and put), batched while
    // etcd is busy.
    let raw: Arc<dyn Storage> = Arc::new(etcd.store().await);
    let store_32 = raw_rate(raw.clone(), WRITERS, EACH).await;
    raw.close().await.expect("close");
    let edir = tempfile::tempdir().expect("tempdir");
    let eport = free_port();
    let echild = Kaiser(
        Command::new(kaiser_bin())
            .arg(format!("--secure-port={eport}"))
            .arg(format!("--etcd-servers={}", etcd.endpoint))
            .current_dir(edir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kaiser on etcd"),
    );
    let ekc = edir.path().join("kaiser-data/admin.kubeconfig");
    let t = Instant::now();
    while !ekc.exists() && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ec = client(edir.path()).await;
    wait_ready(eport, &ec, Duration::from_secs(30)).await;
    let (e2, m2, k2) = (
        cpu_seconds(etcd.pid()),
        cpu_seconds(me),
        cpu_seconds(echild.id()),
    );
    let api_etcd = api_rate(&ec, WRITERS, EACH, "etcd").await;
    let (e3, m3, k3) = (
        cpu_seconds(etcd.pid()),
        cpu_seconds(me),
        cpu_seconds(echild.id()),
    );
    println!(
        "etcd, 1 KiB creates with 32 writers: etcd's own put rate {etcd_32:>7.0}/s; through kaiser's API {api_etcd:>7.0}/s = {:.2} of it",
        api_etcd / etcd_32
    );
    println!(
        "  kaiser's etcd store alone, creates: {store_32:>7.0}/s = {:.2} of etcd's put rate",
        store_32 / etcd_32
    );
    // CPU per write, by process: where the two shared cores went.
    let us = |s: f64| s * 1e6 / (WRITERS * EACH) as f64;
    println!(
        "  CPU per write: raw puts: etcd {:.0} us, writer {:.0} us; through kaiser: etcd {:.0} us, kaiser {:.0} us, kube-rs clients {:.0} us",
        us(e1 - e0),
        us(m1 - m0),
        us(e3 - e2),
        us(k3 - k2),
        us(m3 - m2)
    );
    drop(echild);
    // The floor on etcd: the bare server putting each body with the same
    // etcd client kaiser uses.
    let bare_store: Arc<dyn Storage> = Arc::new(etcd.store().await);
    let (e4, m4) = (cpu_seconds(etcd.pid()), cpu_seconds(me));
    let bare_etcd = bare_rate(edir.path(), bare_store.clone(), WRITERS, EACH).await;
    let (e5, m5) = (cpu_seconds(etcd.pid()), cpu_seconds(me));
    bare_store.close().await.expect("close");
    println!(
        "  bare HTTPS server putting each body into etcd, same clients: {bare_etcd:>7.0}/s = {:.2} of etcd's put rate; kaiser = {:.2} of the bare server",
        bare_etcd / etcd_32,
        api_etcd / bare_etcd
    );
    println!(
        "  CPU per write through the bare server: etcd {:.0} us, bare server and kube-rs clients together {:.0} us",
        us(e5 - e4),
        us(m5 - m4)
    );
}

/// Start-up on an existing data dir, against a bare process start.
async fn startup_figures(dir: &Path) {
    let mut starts = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(kaiser_bin())
            .arg("--version")
            .output()
            .expect("version");
        assert!(out.status.success());
        bare.push(t.elapsed());
        let port = free_port();
        let child = spawn(dir, port);
        starts.push(wait_ready(port, &c_for(dir, port).await, Duration::from_secs(30)).await);
        drop(child);
    }
    starts.sort();
    bare.sort();
    let (s, b) = (starts[2], bare[2]);
    println!(
        "start to /readyz OK on an existing data dir (10,000+ objects): median {:.1} ms over 5 starts; a bare `kaiser --version` process: {:.1} ms (ratio {:.1})",
        s.as_secs_f64() * 1000.0,
        b.as_secs_f64() * 1000.0,
        s.as_secs_f64() / b.as_secs_f64()
    );
}

/// A client for a server that will listen on `port` (the kubeconfig is
/// rewritten by each start, so build the client from the CA and admin files).
async fn c_for(dir: &Path, port: u16) -> Client {
    let mut kc =
        Kubeconfig::read_from(dir.join("kaiser-data/admin.kubeconfig")).expect("kubeconfig");
    for cluster in &mut kc.clusters {
        if let Some(c) = cluster.cluster.as_mut() {
            c.server = Some(format!("https://127.0.0.1:{port}"));
        }
    }
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

/// The floor under any HTTPS API server on this machine: kaiser's own TLS
/// configuration and certificates, hyper's HTTP/1.1 and HTTP/2, and per
/// request nothing but reading the body, one create in `store`, and the
/// body echoed back with 201 (kube-rs decodes it as the created object).
/// It runs on its own two-thread runtime, as kaiser would in its process.
struct BareServer {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BareServer {
    fn start(dir: &Path, store: Arc<dyn Storage>) -> BareServer {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let pki = dir.join("kaiser-data/pki");
        let cert = CertificateDer::from_pem_file(pki.join("apiserver.crt")).expect("cert");
        let key = PrivateKeyDer::from_pem_file(pki.join("apiserver.key")).expect("key");
        let ca = CertificateDer::from_pem_file(pki.join("ca.crt")).expect("ca");
        let tls = kaiser_server::serve::tls_config(vec![cert], key, vec![ca]).expect("tls");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(bare_serve(listener, tls, store, stopped));
        });
        BareServer {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn bare_serve(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    store: Arc<dyn Storage>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    use http_body_util::{BodyExt, Full};
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    // Keys stay unique across bare servers over one store.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut stopped => return,
            conn = listener.accept() => match conn {
                Ok(c) => c,
                Err(_) => continue,
            },
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, store) = (acceptor.clone(), store.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let store = store.clone();
                    async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        let n = NEXT.fetch_add(1, Ordering::Relaxed);
                        let key = format!("/registry/configmaps/bare/{n}");
                        let status = match store.create(&key, body.clone()).await {
                            Ok(_) => http::StatusCode::CREATED,
                            Err(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
                        };
                        let resp = http::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(body))
                            .expect("response");
                        Ok::<_, hyper::Error>(resp)
                    }
                });
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

/// Creates/s through the bare server over `store`, with the same 32
/// kube-rs clients and requests as kaiser's figure.
async fn bare_rate(dir: &Path, store: Arc<dyn Storage>, clients: usize, each: usize) -> f64 {
    let bare = BareServer::start(dir, store);
    let c = c_for(dir, bare.port).await;
    api_rate(&c, clients, each, "bare").await
}

/// Creates/s with `streams` concurrent requests, `each` in turn, as
/// streams of one HTTP/2 connection (client-go's clients share one per
/// config): hyper's HTTP/2 client, the 201 body read but not decoded.
async fn h2_rate(
    tls: &Arc<rustls::ClientConfig>,
    port: u16,
    streams: usize,
    each: usize,
    prefix: &str,
) -> f64 {
    use http_body_util::{BodyExt, Full};
    let mut cfg = (**tls).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let cfg = Arc::new(cfg);
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls_connect(cfg, port).await),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let payload = "x".repeat(VALUE);
    let start = Instant::now();
    let tasks: Vec<_> = (0..streams)
        .map(|w| {
            let mut send = send.clone();
            let prefix = format!("{prefix}-{w}");
            let payload = payload.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    let body = configmap_json(&format!("{prefix}-{i}"), &payload);
                    let req = http::Request::post(format!(
                        "https://127.0.0.1:{port}/api/v1/namespaces/default/configmaps"
                    ))
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .expect("request");
                    send.ready().await.expect("ready");
                    let resp = send.send_request(req).await.expect("send");
                    assert_eq!(resp.status(), 201);
                    resp.into_body().collect().await.expect("body");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("h2 client");
    }
    (streams * each) as f64 / start.elapsed().as_secs_f64()
}
