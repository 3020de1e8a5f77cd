//! The `kaiser` binary: options → complete → validate → CreateServerChain →
//! PrepareRun → Run, and signal handling. The only place the three servers
//! (Aggregator, KubeAPIServer, APIExtensionsServer) meet.

mod audit;
mod authn;
mod encryption;
mod options;
mod pki;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use kaiser_aggregator::Aggregator;
use kaiser_apiextensions::ApiExtensionsServer;
use kaiser_kubeapiserver::KubeApiServer;
use kaiser_server::healthz::{Check, HealthChecks};
use kaiser_server::openapi::OpenApi;
use kaiser_server::{GenericServer, ResourceTable, Scope, chain, serve};
use kaiser_storage::Storage;
use kaiser_storage::embedded::EmbeddedStore;
use kaiser_storage::etcd::{EtcdConfig, EtcdStore};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::sync::watch;

use options::{Completed, Options};

// Request handling allocates many small JSON nodes; mimalloc halves the
// allocator's share of instructions against glibc's malloc (callgrind).
// Built without transparent huge pages (`no_thp`): with them, resident
// memory grew in 2 MiB steps, a third higher after 10,000 objects, for no
// measurable speed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let opts = match Options::try_parse() {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            };
        }
    };
    match opts.version.as_deref() {
        Some("raw") => {
            println!(
                "{}",
                serde_json::to_string_pretty(&version_info()).unwrap_or_default()
            );
            return ExitCode::SUCCESS;
        }
        Some("false") | None => {}
        Some(_) => {
            println!("Kubernetes {}", options::git_version());
            return ExitCode::SUCCESS;
        }
    }
    let completed = match opts.complete() {
        Ok(c) => c,
        Err(errs) => {
            for e in &errs {
                eprintln!("Error: {e}");
            }
            eprintln!("kaiser did not start: {} invalid option(s)", errs.len());
            return ExitCode::from(1);
        }
    };
    init_logging(completed.verbosity);
    if completed.verbosity >= 1 {
        for f in options::describe(&opts) {
            tracing::info!("FLAG: {f}");
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(completed)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(v: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let ours = match v {
        0..=2 => LevelFilter::INFO,
        3 | 4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    // Libraries (hyper, h2, rustls) speak only at -v=6 and above.
    let others = if v >= 6 {
        LevelFilter::DEBUG
    } else {
        LevelFilter::WARN
    };
    let filter = Targets::new()
        .with_target("kaiser", ours)
        .with_default(others);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init();
}

/// The `/version` document, with upstream's fields.
fn version_info() -> Value {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "major": options::KUBE_MAJOR,
        "minor": options::KUBE_MINOR,
        "emulationMajor": options::KUBE_MAJOR,
        "emulationMinor": options::KUBE_MINOR,
        "minCompatibilityMajor": options::KUBE_MAJOR,
        "minCompatibilityMinor": "32",
        "gitVersion": options::git_version(),
        "gitCommit": option_env!("KAISER_GIT_COMMIT").unwrap_or("unknown"),
        "gitTreeState": "clean",
        "buildDate": option_env!("KAISER_BUILD_DATE").unwrap_or("unknown"),
        "goVersion": "none (rust)",
        "compiler": "rustc",
        "platform": format!("{}/{arch}", std::env::consts::OS),
    })
}

/// Signals: the first SIGINT/SIGTERM starts a graceful shutdown, a second
/// one exits at once.
fn watch_signals(tx: watch::Sender<bool>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        for n in 0.. {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if n == 0 {
                tracing::info!(
                    "shutdown signal received; shutting down gracefully (send another to exit at once)"
                );
                let _ = tx.send(true);
            } else {
                eprintln!("second shutdown signal: exiting now");
                std::process::exit(1);
            }
        }
    });
    Ok(())
}

/// The three servers joined by delegation, and what they share.
struct ServerChain {
    kube: KubeApiServer,
    extensions: ApiExtensionsServer,
    aggregator: Arc<Aggregator>,
    generic: Arc<GenericServer>,
}

/// What the server chain is built from, besides the options: things made
/// at start-up (storage, keys, certificates, the audit backend).
struct ChainInputs<'a> {
    storage: Arc<dyn Storage>,
    storage_check: &'a str,
    /// `--etcd-servers-overrides`: one store per distinct set of servers.
    overrides: Vec<Override>,
    addr: SocketAddr,
    token_key: Arc<kaiser_auth::serviceaccount::TokenKey>,
    proxy_client: (Vec<u8>, Vec<u8>),
    client_ca: kaiser_auth::authn::x509::CaBundle,
    shutdown: watch::Receiver<bool>,
    audit: Option<Arc<kaiser_auth::audit::Auditor>>,
}

fn create_server_chain(c: &Completed, inputs: ChainInputs<'_>) -> Result<ServerChain> {
    let ChainInputs {
        storage,
        storage_check,
        overrides,
        addr,
        token_key,
        proxy_client,
        client_ca,
        shutdown,
        audit,
    } = inputs;
    let storage_name = if c.etcd_servers.is_empty() {
        "storage-0"
    } else {
        "etcd-0"
    };
    let by_resource: Vec<(String, String, Arc<dyn Storage>)> = overrides
        .iter()
        .flat_map(|o| {
            o.resources
                .iter()
                .map(|(g, r)| (g.clone(), r.clone(), o.storage.clone()))
        })
        .collect();
    kaiser_kubeapiserver::validation::pod::set_allow_privileged(c.allow_privileged);
    let jwks_uri = c.service_account_jwks_uri.clone().unwrap_or_else(|| {
        let at = SocketAddr::new(c.advertise_address, addr.port());
        format!("https://{at}{}", kaiser_server::generic::JWKS_PATH)
    });
    let oidc = token_key.discovery(&jwks_uri).map(|(config, keys)| {
        let bytes = |v: serde_json::Value| bytes::Bytes::from(v.to_string());
        (bytes(config), bytes(keys))
    });
    let mut kube = KubeApiServer::new(
        storage.clone(),
        &c.etcd_prefix,
        c.service_network.clone(),
        storage_name,
        c.event_ttl,
        &by_resource,
        &c.watch_caching,
    );
    let max_exp = c.max_token_expiration.as_secs() as i64;
    let tokens = kube
        .enable_tokens(token_key, max_exp)
        .map(|t| t as Arc<dyn kaiser_auth::TokenAuthenticator>);
    let authenticator = Arc::new(authn::authenticator(
        &c.authn,
        &c.api_audiences,
        client_ca,
        &kube,
        tokens,
    )?);
    kube.set_authenticator(authenticator.clone());
    let webhook = authn::authorization_webhook(&c.authn)?.map(|w| w as _);
    let authorizer = kube.enable_authorization(&c.authorization_modes, webhook);
    // Conversion webhooks reach Services as the aggregator does.
    let extensions =
        ApiExtensionsServer::new(storage.clone(), &c.etcd_prefix, c.watch_caching.enabled)
            .with_service_resolver(
                kube.service_resolver(c.enable_aggregator_routing)
                    .map(|r| r as Arc<dyn kaiser_admission::webhook::ServiceResolver>),
            );
    let scope = Scope {
        admission: kube.admission().without(&c.disabled_admission_plugins),
        shutdown: shutdown.clone(),
        delete_collection_workers: c.delete_collection_workers,
        garbage_collector: c.garbage_collector,
    };
    let tables: Vec<Arc<ResourceTable>> = vec![kube.table.clone(), extensions.table.clone()];
    // Built back to front: each server is handed its delegate.
    let not_found = chain::not_found();
    let extensions_handler = extensions.handler(scope.clone(), not_found);
    let kube_handler = kube.handler(scope, extensions_handler);
    let server_address = format!("{}:{}", c.advertise_address, addr.port());
    let version = version_info();
    let openapi = OpenApi::new(version["gitVersion"].as_str().unwrap_or(""));
    let store = |g: &str, r: &str| {
        kube.store(g, r)
            .with_context(|| format!("the {r} store is missing"))
    };
    let aggregator = Aggregator::new(kaiser_aggregator::Config {
        tables: tables.clone(),
        server_address,
        api_services: store("apiregistration.k8s.io", "apiservices")?,
        services: store("", "services")?,
        endpoint_slices: store("discovery.k8s.io", "endpointslices")?,
        crds: extensions.crds.clone(),
        resolver: kube
            .service_resolver(c.enable_aggregator_routing)
            .context("the service resolver needs services and endpointslices")?,
        proxy_client: Some(proxy_client),
        openapi: openapi.remote_handle(),
    })?;
    let passthrough = aggregator.passthrough();
    let handler = aggregator.clone().handler(kube_handler);
    let generic = Arc::new(GenericServer {
        chain: handler,
        health: health_checks(c, storage, storage_check, &overrides, shutdown),
        version,
        tables,
        openapi,
        oidc,
        authn: authenticator,
        authorizer: Some(authorizer),
        audit,
        passthrough: Some(passthrough),
    });
    Ok(ServerChain {
        kube,
        extensions,
        aggregator,
        generic,
    })
}

fn health_checks(
    c: &Completed,
    storage: Arc<dyn Storage>,
    check_name: &str,
    overrides: &[Override],
    shutdown: watch::Receiver<bool>,
) -> HealthChecks {
    let store_check = |name: &str, s: Arc<dyn Storage>, limit: Duration| {
        Check::new(name, move || {
            let s = s.clone();
            Box::pin(async move {
                match tokio::time::timeout(limit, s.check_health()).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {limit:?}")),
                }
            })
        })
    };
    // Upstream names each distinct set of override servers by its index.
    let mut store_checks = vec![store_check(
        check_name,
        storage.clone(),
        c.etcd_healthcheck_timeout,
    )];
    for (i, o) in overrides.iter().enumerate() {
        store_checks.push(store_check(
            &format!("etcd-override-{i}"),
            o.storage.clone(),
            c.etcd_healthcheck_timeout,
        ));
    }
    // etcd's readiness, with its own timeout, in /readyz only (as upstream).
    let readiness = (!c.etcd_servers.is_empty())
        .then(|| store_check("etcd-readiness", storage, c.etcd_readycheck_timeout));
    let shutdown_check = Check::new("shutdown", move || {
        let down = *shutdown.borrow();
        Box::pin(async move {
            if down {
                Err("the server is shutting down".to_string())
            } else {
                Ok(())
            }
        })
    });
    let with = |last: Vec<Check>| {
        std::iter::once(Check::ping())
            .chain(store_checks.iter().cloned())
            .chain(last)
            .collect()
    };
    HealthChecks {
        livez: with(Vec::new()),
        readyz: with(readiness.into_iter().chain([shutdown_check]).collect()),
    }
}

/// The embedded store in the data dir, or etcd when `--etcd-servers` is set;
/// also the name of its health check.
async fn open_storage(c: &Completed) -> Result<(Arc<dyn Storage>, &'static str)> {
    if c.etcd_servers.is_empty() {
        let dir = c.data_dir.join("store");
        let store: Arc<dyn Storage> = Arc::new(
            EmbeddedStore::open(&dir)
                .with_context(|| format!("opening the store in {}", dir.display()))?,
        );
        // Only kaiser writes here: transformed only to encrypt.
        let encrypted = c
            .encryption
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let store = if encrypted { at_rest(c, store) } else { store };
        return Ok((store, "storage"));
    }
    Ok((open_etcd(c, &c.etcd_servers).await?, "etcd"))
}

/// etcd at `servers`, with the `--etcd-*` TLS files.
async fn open_etcd(c: &Completed, servers: &[String]) -> Result<Arc<dyn Storage>> {
    let read =
        |p: &std::path::Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let cfg = EtcdConfig {
        endpoints: servers.to_vec(),
        ca_pem: c.etcd_cafile.as_deref().map(read).transpose()?,
        client_cert_pem: match &c.etcd_cert {
            Some((cert, key)) => Some((read(cert)?, read(key)?)),
            None => None,
        },
        one_write_per_request: !c.etcd_batch_writes,
        lease_reuse: Some(c.lease_reuse),
    };
    // How long start-up waits for etcd to answer (upstream's bound on
    // storage initialization).
    let wait = c.storage_initialization_timeout;
    let etcd: Arc<dyn Storage> = Arc::new(EtcdStore::connect(&cfg, wait).await?);
    // Always transformed: an etcd kube-apiserver wrote holds built-in kinds
    // as protobuf.
    Ok(at_rest(c, etcd))
}

/// `store` with values encrypted as `--encryption-provider-config` says and
/// read back from kube-apiserver's encodings.
fn at_rest(c: &Completed, store: Arc<dyn Storage>) -> Arc<dyn Storage> {
    let transform = encryption::AtRest {
        encryption: c.encryption.clone(),
    };
    Arc::new(kaiser_storage::transform::Transformed::new(
        store,
        Arc::new(transform),
    ))
}

/// Where kaiser kept CRDs and APIServices before it used upstream's key
/// layout (`<prefix>/<group>/<resource>/`): such keys move once, each as a
/// create at the new key and a delete of the old.
async fn move_legacy_keys(storage: &dyn Storage, root: &str) -> Result<()> {
    let root = root.trim_end_matches('/');
    for (old, new) in [
        (
            "customresourcedefinitions",
            "apiextensions.k8s.io/customresourcedefinitions",
        ),
        ("apiservices", "apiregistration.k8s.io/apiservices"),
    ] {
        let (old, new) = (format!("{root}/{old}/"), format!("{root}/{new}/"));
        let page = storage.range(&old, "", None, 0).await?;
        for kv in &page.kvs {
            let to = format!("{new}{}", &kv.key[old.len()..]);
            match storage.create(&to, kv.value.clone()).await {
                Ok(_) | Err(kaiser_storage::StorageError::KeyExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
            // Another replica may be moving the same keys.
            match storage.delete(&kv.key, Some(kv.mod_revision)).await {
                Ok(_)
                | Err(
                    kaiser_storage::StorageError::NotFound(_)
                    | kaiser_storage::StorageError::Conflict { .. },
                ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !page.kvs.is_empty() {
            tracing::info!(from = %old, to = %new, keys = page.kvs.len(), "moved keys to upstream's layout");
        }
    }
    Ok(())
}

/// With `--endpoint-reconciler-type=lease` and an address clients can use:
/// the reconciler of the `kubernetes` endpoints, after its first round.
async fn endpoint_reconciler(
    c: &Completed,
    kube: &kaiser_kubeapiserver::KubeApiServer,
    storage: &Arc<dyn Storage>,
    here: &kaiser_kubeapiserver::bootstrap::Endpoint,
) -> Option<Arc<kaiser_kubeapiserver::endpoint_reconciler::EndpointReconciler>> {
    if !c.lease_endpoints {
        return None;
    }
    // Endpoints may not hold loopback addresses (upstream validation), and
    // nobody inside a cluster could use one.
    if here.address.is_loopback() {
        tracing::info!(address = %here.address, "not publishing the kubernetes endpoints of a loopback address");
        return None;
    }
    let r = Arc::new(
        kaiser_kubeapiserver::endpoint_reconciler::EndpointReconciler::new(
            kube.store("", "endpoints")?,
            kube.store("discovery.k8s.io", "endpointslices"),
            storage.clone(),
            &c.etcd_prefix,
            here.address,
            here.port,
        ),
    );
    if let Err(e) = r.reconcile().await {
        tracing::warn!(error = %e, "reconciling the kubernetes endpoints");
    }
    Some(r)
}

/// One distinct set of `--etcd-servers-overrides` servers and the
/// resources (group, resource) kept there.
struct Override {
    servers: Vec<String>,
    resources: Vec<(String, String)>,
    storage: Arc<dyn Storage>,
}

/// Connects to each distinct set of override servers, in the order given.
async fn open_overrides(c: &Completed) -> Result<Vec<Override>> {
    let mut out: Vec<Override> = Vec::new();
    for o in &c.etcd_overrides {
        let resource = (o.group.clone(), o.resource.clone());
        if let Some(same) = out.iter_mut().find(|x| x.servers == o.servers) {
            same.resources.push(resource);
            continue;
        }
        out.push(Override {
            servers: o.servers.clone(),
            resources: vec![resource],
            storage: open_etcd(c, &o.servers).await?,
        });
    }
    Ok(out)
}

fn load_tls(
    c: &Completed,
    pki: &pki::Pki,
    client_ca: &kaiser_auth::authn::x509::CaBundle,
) -> Result<Arc<rustls::ServerConfig>> {
    let (cert_path, key_path) = match (&c.tls_cert_file, &c.tls_private_key_file) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => (pki.serving_cert.clone(), pki.serving_key.clone()),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let hints = authn::tls_hints(client_ca, &c.authn);
    Ok(serve::tls_config(chain, key, hints)?)
}

/// What start-up hands to the serving loop.
struct Running {
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    generic: Arc<GenericServer>,
    reconciling: Option<tokio::task::JoinHandle<()>>,
    auditor: Option<Arc<kaiser_auth::audit::Auditor>>,
    storage: Arc<dyn Storage>,
}

/// CreateServerChain and PrepareRun: everything before serving.
async fn start_up(
    c: &Completed,
    started: Instant,
    shutdown_rx: watch::Receiver<bool>,
) -> Result<Running> {
    std::fs::create_dir_all(&c.data_dir)
        .with_context(|| format!("creating --data-dir {}", c.data_dir.display()))?;
    if !matches!(c.storage_media_type.as_str(), "" | "application/json") {
        tracing::warn!(
            media_type = %c.storage_media_type,
            "--storage-media-type is ignored: kaiser stores objects as JSON"
        );
    }
    let (storage, storage_check) = open_storage(c).await?;
    move_legacy_keys(&*storage, &c.etcd_prefix)
        .await
        .context("moving CRDs and APIServices to upstream's key layout")?;
    let overrides = open_overrides(c).await?;
    let override_stores: Vec<Arc<dyn Storage>> =
        overrides.iter().map(|o| o.storage.clone()).collect();
    let pki = pki::ensure(
        &c.cert_dir,
        &[c.first_service_ip, c.advertise_address, c.bind_address],
    )?;
    let client_ca = authn::client_ca(c.client_ca_file.as_deref(), &pki.ca_cert, &pki.admin_cert)?;
    let tls = load_tls(c, &pki, &client_ca)?;
    let sa_key =
        pki::service_account_key(&c.cert_dir, c.service_account_signing_key_file.as_deref())?;
    let mut token_key = kaiser_auth::serviceaccount::TokenKey::from_pem(
        &sa_key,
        &c.service_account_issuer,
        c.api_audiences.clone(),
    )
    .context("loading the service account signing key")?;
    for path in &c.service_account_key_files {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        token_key
            .add_verification_keys(&pem, &path.display().to_string())
            .context("--service-account-key-file")?;
    }
    let token_key = Arc::new(token_key);
    // Without --proxy-client-*-file, a generated front-proxy CA signs the
    // proxy's client certificate (and is what request-header authentication
    // trusts by default).
    let front_proxy = match &c.proxy_client {
        Some(_) => None,
        None => Some(pki::ensure_front_proxy(&c.cert_dir)?),
    };
    let (proxy_cert, proxy_key) = match (&c.proxy_client, &front_proxy) {
        (Some(files), _) => files.clone(),
        (None, Some(fp)) => (fp.client_cert.clone(), fp.client_key.clone()),
        (None, None) => anyhow::bail!("no proxy client certificate"),
    };
    let read =
        |p: &std::path::Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let proxy_client = (read(&proxy_cert)?, read(&proxy_key)?);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(c.bind_address, c.secure_port))
        .await
        .with_context(|| format!("listening on {}:{}", c.bind_address, c.secure_port))?;
    let addr = listener.local_addr()?;
    let auditor = audit::build(&c.audit)?;

    // CreateServerChain.
    let ServerChain {
        kube,
        extensions,
        aggregator,
        generic,
    } = create_server_chain(
        c,
        ChainInputs {
            storage: storage.clone(),
            storage_check,
            overrides,
            addr,
            token_key,
            proxy_client,
            client_ca: client_ca.clone(),
            shutdown: shutdown_rx.clone(),
            audit: auditor.clone(),
        },
    )?;

    // PrepareRun: bootstrap objects, controllers, kubeconfig.
    let here = kaiser_kubeapiserver::bootstrap::Endpoint {
        address: c.advertise_address,
        port: addr.port(),
    };
    kube.bootstrap(&here)
        .await
        .map_err(|e| anyhow::anyhow!("creating the bootstrap objects: {e}"))?;
    kube.publish_authentication_info(&authn::published_info(&client_ca, &c.authn))
        .await
        .map_err(|e| anyhow::anyhow!("publishing extension-apiserver-authentication: {e}"))?;
    // Allocations match the Services stored before this server allocates
    // (upstream holds readiness for its first repair, at most a minute).
    if let Some(mut repair) = kube.service_repair() {
        match tokio::time::timeout(Duration::from_secs(10), repair.run_once()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e.message, "repairing service allocations"),
            Err(_) => tracing::warn!("repairing service allocations: no answer within 10 s"),
        }
        tokio::spawn(repair.run(shutdown_rx.clone()));
    }
    let ca_pem = std::fs::read(&pki.ca_cert)?;
    let on = |name: &str| c.controllers.iter().any(|n| n == name);
    let controllers = kaiser_kubeapiserver::Controllers {
        namespace: on("namespace"),
        service_account: on("serviceaccount"),
        root_ca_publisher: on("root-ca-cert-publisher")
            .then(|| String::from_utf8_lossy(&ca_pem).into_owned()),
        clusterrole_aggregation: on("clusterrole-aggregation"),
        delete_collection_workers: c.delete_collection_workers,
    };
    aggregator.start(shutdown_rx.clone());
    if let Some((path, loaded)) = &c.encryption_reload {
        tokio::spawn(encryption::reload(
            path.clone(),
            c.etcd_prefix.trim_end_matches('/').to_string(),
            c.encryption.clone(),
            *loaded,
            shutdown_rx.clone(),
        ));
    }
    extensions.start_controllers(c.delete_collection_workers, shutdown_rx.clone());
    kube.start_controllers(
        &controllers,
        vec![kube.table.clone(), extensions.table.clone()],
        shutdown_rx.clone(),
    );
    let reconciler = endpoint_reconciler(c, &kube, &storage, &here).await;
    let reconciling = reconciler.map(|r| tokio::spawn(r.run(shutdown_rx.clone())));
    for s in std::iter::once(storage.clone()).chain(override_stores) {
        tokio::spawn(kaiser_storage::compactor::run(
            s,
            c.compaction_interval,
            shutdown_rx.clone(),
        ));
    }
    // The admin kubeconfig is for this machine: the address kaiser listens
    // on, unless it listens everywhere (then the one it advertises).
    let local = if c.bind_address.is_unspecified() {
        c.advertise_address
    } else {
        c.bind_address
    };
    let host = match local {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let kubeconfig = c.data_dir.join("admin.kubeconfig");
    pki::write_kubeconfig(
        &kubeconfig,
        &format!("https://{host}:{}", addr.port()),
        &ca_pem,
        &pki,
    )?;

    // Run.
    tracing::info!(address = %addr, startup_ms = started.elapsed().as_millis() as u64, "Serving securely on {addr}");
    println!(
        "kaiser is ready: kubectl --kubeconfig {} get ns",
        kubeconfig.display()
    );
    generic.warm_openapi(Duration::from_secs(1));
    Ok(Running {
        listener,
        tls,
        generic,
        reconciling,
        auditor,
        storage,
    })
}

async fn run(c: Completed) -> Result<()> {
    let started = Instant::now();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    watch_signals(shutdown_tx)?;
    // Nothing is served yet, so nothing to drain: a signal during start-up
    // (which may wait on a store that does not answer, or a full disk)
    // ends it.
    let mut signalled = shutdown_rx.clone();
    let r = tokio::select! {
        running = start_up(&c, started, shutdown_rx.clone()) => running?,
        _ = signalled.wait_for(|s| *s) => {
            tracing::info!("shutdown signal during start-up: stopping before serving");
            return Ok(());
        }
    };
    serve::serve(r.listener, r.tls, r.generic, shutdown_rx, c.shutdown_grace).await?;
    // It took this server out of the endpoints when the signal came; the
    // store must outlive that write.
    if let Some(task) = r.reconciling {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if let Some(a) = r.auditor {
        // Buffered backends send what they hold; their workers block.
        let _ = tokio::task::spawn_blocking(move || a.shutdown()).await;
    }
    r.storage.close().await.context("flushing the store")?;
    tracing::info!("shut down cleanly");
    Ok(())
}
