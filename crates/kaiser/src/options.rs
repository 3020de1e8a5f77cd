//! The command line: kube-apiserver's flag names where upstream has the
//! flag, completed with defaults, then validated with every error reported.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kaiser_kubeapiserver::services::{Cidr, ServiceNetwork, parse_port_range};

/// The Kubernetes API version kaiser serves.
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "33";

/// A boolean flag's value as upstream's flags read it (Go's
/// `strconv.ParseBool`: `1`, `t`, `TRUE`, `0`, `f`, `False`, …).
pub fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean {s:?}: use true or false")),
    }
}

/// `v1.33.0-kaiser.<crate version>`.
pub fn git_version() -> String {
    format!(
        "v{KUBE_MAJOR}.{KUBE_MINOR}.0-kaiser.{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// kaiser: a Kubernetes API server (the Kubernetes 1.33 API) in one binary.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kaiser",
    disable_version_flag = true,
    allow_negative_numbers = true
)]
pub struct Options {
    /// Print version information and quit (`--version=raw` prints the JSON document).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "true|raw")]
    pub version: Option<String>,

    /// Log level verbosity: 0 for start-up lines and warnings, 1 adds the flags,
    /// 3 adds every request, 5 everything.
    #[arg(short = 'v', long = "v", default_value_t = 0, value_name = "LEVEL")]
    pub verbosity: u8,

    /// The IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: String,

    /// The port to serve HTTPS on (0 picks a free port).
    #[arg(long, default_value_t = 6443)]
    pub secure_port: i64,

    /// Where kaiser keeps its store, certificates and admin kubeconfig.
    #[arg(long, default_value = "kaiser-data")]
    pub data_dir: PathBuf,

    /// Where generated certificates live (default: <data-dir>/pki).
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,

    /// Serving certificate (PEM); with --tls-private-key-file replaces the generated one.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,

    /// Private key of --tls-cert-file (PEM).
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,

    /// CA bundle (PEM) that client certificates must chain to (default: the generated CA).
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,

    /// etcd v3 endpoints, comma separated; empty means the embedded store.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,

    /// The prefix of every key kaiser writes.
    #[arg(long, default_value = "/registry")]
    pub etcd_prefix: String,

    /// CA bundle (PEM) for etcd's serving certificate.
    #[arg(long)]
    pub etcd_cafile: Option<PathBuf>,

    /// Client certificate (PEM) for etcd.
    #[arg(long)]
    pub etcd_certfile: Option<PathBuf>,

    /// Private key (PEM) of --etcd-certfile.
    #[arg(long)]
    pub etcd_keyfile: Option<PathBuf>,

    /// Resources kept in other etcd servers: `group/resource#url;url`, comma
    /// separated (the core group is empty: `/events#https://host:2379`).
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers_overrides: Vec<String>,

    /// Allow privileged (and Windows hostProcess) containers; off as
    /// upstream's default, so such pods are refused until it is set.
    #[arg(long, value_parser = crate::options::go_bool, action = clap::ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub allow_privileged: bool,

    /// Send writes that arrive while etcd is busy together, as one
    /// transaction (kaiser's own flag). Writes made at once may then share a
    /// resourceVersion; set false when kube-apiservers share the etcd, so
    /// that each write has its own revision, as they expect.
    #[arg(long, value_parser = crate::options::go_bool, action = clap::ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub etcd_batch_writes: bool,

    /// How often history older than one interval is compacted (Go duration, 0 disables).
    #[arg(long, default_value = "5m")]
    pub etcd_compaction_interval: String,

    /// Serve reads and watches of resources from watch caches.
    #[arg(long, value_parser = crate::options::go_bool, action = clap::ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub watch_cache: bool,

    /// `resource[.group]#size`, comma separated: size 0 turns the resource's
    /// watch cache off, any other size keeps it (built-in resources only;
    /// Events have none unless a size is given, as upstream).
    #[arg(long, value_delimiter = ',')]
    pub watch_cache_sizes: Vec<String>,

    /// 0 turns watch caches off for the resources `--watch-cache-sizes`
    /// does not name; any other value keeps them.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    pub default_watch_cache_size: i64,

    /// An EncryptionConfiguration (apiserver.config.k8s.io/v1): which
    /// resources are encrypted at rest, with which keys.
    #[arg(long)]
    pub encryption_provider_config: Option<PathBuf>,

    /// Read `--encryption-provider-config` again while running: a changed,
    /// valid file replaces the configuration in use without a restart.
    #[arg(long, value_parser = crate::options::go_bool, action = clap::ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub encryption_provider_config_automatic_reload: bool,

    /// How long `/livez/etcd` and `/readyz/etcd` wait for etcd (Go duration).
    #[arg(long, default_value = "2s")]
    pub etcd_healthcheck_timeout: String,

    /// How long `/readyz/etcd-readiness` waits for etcd (Go duration).
    #[arg(long, default_value = "2s")]
    pub etcd_readycheck_timeout: String,

    /// The storage backend: etcd3, as upstream (kaiser's embedded store
    /// serves when `--etcd-servers` is empty).
    #[arg(long, default_value = "etcd3")]
    pub storage_backend: String,

    /// The media type upstream stores objects as. kaiser stores JSON: the
    /// other types upstream allows are accepted and ignored (upstream lets
    /// a backend ignore this setting), with a warning at start.
    #[arg(long, default_value = "application/json")]
    pub storage_media_type: String,

    /// Deletes in flight at once in a DELETE of a collection, and when a
    /// namespace or a CRD's objects are cleaned up (fewer than 1 is 1).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub delete_collection_workers: i64,

    /// Record a delete's propagation policy in the `orphan` and
    /// `foregroundDeletion` finalizers for the garbage collector; keep it
    /// as the kube-controller-manager's flag of the same name.
    #[arg(long, value_parser = crate::options::go_bool, action = clap::ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub enable_garbage_collector: bool,

    /// How long an etcd lease for expiring keys (Events) is shared with
    /// later keys, at most, in seconds (0 shares none).
    #[arg(long, default_value_t = 60, allow_negative_numbers = true)]
    pub lease_reuse_duration_seconds: i64,

    /// How long start-up waits for etcd to answer before giving up (Go
    /// duration).
    #[arg(long, default_value = "1m0s")]
    pub storage_initialization_timeout: String,

    /// Upstream polls etcd this often for its object-count metrics; kaiser
    /// serves no /metrics, so the value is only checked (Go duration).
    #[arg(long, default_value = "1m0s")]
    pub etcd_count_metric_poll_period: String,

    /// Upstream polls etcd this often for its database-size metric; only
    /// checked, as above (Go duration).
    #[arg(long, default_value = "30s")]
    pub etcd_db_metric_poll_interval: String,

    /// How long Events are kept after their last write (Go duration; 0 keeps
    /// them until deleted).
    #[arg(long, default_value = "1h0m0s")]
    pub event_ttl: String,

    /// The CIDRs (one, or one per IP family for dual-stack) from which
    /// Service cluster IPs are allocated.
    #[arg(long, default_value = "10.0.0.0/24")]
    pub service_cluster_ip_range: String,

    /// The ports NodePort Services may use (`30000-32767` or `30000+2767`).
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,

    /// In-process controllers to run: `*` for all, `-name` to switch one
    /// off (namespace, serviceaccount, root-ca-cert-publisher).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,

    /// The address advertised to clients (default: the bind address, or 127.0.0.1).
    #[arg(long)]
    pub advertise_address: Option<String>,

    /// Who keeps the `kubernetes` Service's endpoints: `lease` (every
    /// server sharing the store, each holding a lease) or `none`.
    #[arg(long, default_value = "lease")]
    pub endpoint_reconciler_type: String,

    /// How long in-flight requests may run after a shutdown signal (Go duration).
    #[arg(long, default_value = "30s")]
    pub shutdown_grace_period: String,

    /// The `iss` of service-account tokens this server issues and accepts.
    #[arg(long, default_value = "https://kubernetes.default.svc.cluster.local")]
    pub service_account_issuer: String,

    /// PEM private key (RSA, or ECDSA P-256/P-384) that signs
    /// service-account tokens (default: one generated in the cert dir).
    #[arg(long)]
    pub service_account_signing_key_file: Option<PathBuf>,

    /// The `jwks_uri` of the service-account issuer's discovery document
    /// (default: this server's /openid/v1/jwks at the advertise address).
    #[arg(long)]
    pub service_account_jwks_uri: Option<String>,

    /// PEM file of public keys (or certificates, or private keys) that
    /// service-account tokens may also be signed with; repeatable. The
    /// signing key's own public key is always accepted.
    #[arg(long)]
    pub service_account_key_file: Vec<PathBuf>,

    /// Audiences tokens must name (default: the issuer).
    #[arg(long, value_delimiter = ',')]
    pub api_audiences: Vec<String>,

    /// The longest lifetime a TokenRequest may get (Go duration, 0 for none).
    #[arg(long, default_value = "0s")]
    pub service_account_max_token_expiration: String,

    #[command(flatten)]
    pub audit: crate::audit::AuditOptions,
    /// Proxy to extension API servers at their endpoints' addresses rather
    /// than their Services' cluster IPs.
    #[arg(long, value_parser = crate::options::go_bool, num_args = 0..=1, default_value = "false", default_missing_value = "true", action = clap::ArgAction::Set)]
    pub enable_aggregator_routing: bool,

    /// Client certificate (PEM) the aggregator presents to extension API
    /// servers (default: one generated in the cert dir, signed by a generated
    /// front-proxy CA).
    #[arg(long)]
    pub proxy_client_cert_file: Option<PathBuf>,

    /// Private key (PEM) of --proxy-client-cert-file.
    #[arg(long)]
    pub proxy_client_key_file: Option<PathBuf>,
    /// Authorizers asked in order, comma separated: AlwaysAllow, AlwaysDeny,
    /// Node, RBAC, Webhook (members of system:masters are always allowed).
    #[arg(long, value_delimiter = ',', default_value = "Node,RBAC")]
    pub authorization_mode: Vec<String>,

    /// Admission plugins to turn on beside the defaults (upstream's names;
    /// kaiser refuses those it does not have).
    #[arg(long, value_delimiter = ',')]
    pub enable_admission_plugins: Vec<String>,

    /// Admission plugins to turn off, defaults included.
    #[arg(long, value_delimiter = ',')]
    pub disable_admission_plugins: Vec<String>,

    #[command(flatten)]
    pub authn: crate::authn::AuthnOptions,
}

/// A resource stored in other etcd servers (`--etcd-servers-overrides`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdOverride {
    pub group: String,
    pub resource: String,
    pub servers: Vec<String>,
}

/// Parses one `group/resource#url;url` override.
fn parse_etcd_override(s: &str) -> Result<EtcdOverride, String> {
    let bad = || {
        format!("{s:?} must be group/resource#servers, the servers URLs separated by semicolons")
    };
    let (gr, servers) = s.split_once('#').ok_or_else(bad)?;
    let (group, resource) = gr.split_once('/').ok_or_else(bad)?;
    if resource.is_empty() || resource.contains('/') || servers.is_empty() {
        return Err(bad());
    }
    let servers: Vec<String> = servers.split(';').map(str::to_string).collect();
    for server in &servers {
        validate_etcd_server(server)?;
    }
    Ok(EtcdOverride {
        group: group.to_string(),
        resource: resource.to_string(),
        servers,
    })
}

/// Options after defaulting and validation, in the types the server uses.
#[derive(Debug, Clone)]
pub struct Completed {
    pub verbosity: u8,
    pub bind_address: IpAddr,
    pub secure_port: u16,
    pub data_dir: PathBuf,
    pub cert_dir: PathBuf,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_private_key_file: Option<PathBuf>,
    pub client_ca_file: Option<PathBuf>,
    pub etcd_servers: Vec<String>,
    pub etcd_prefix: String,
    pub etcd_cafile: Option<PathBuf>,
    pub etcd_cert: Option<(PathBuf, PathBuf)>,
    pub etcd_batch_writes: bool,
    pub etcd_overrides: Vec<EtcdOverride>,
    pub allow_privileged: bool,
    pub compaction_interval: Duration,
    /// How long Events live after their last write (zero: until deleted).
    pub event_ttl: Duration,
    /// `--encryption-provider-config`, resolved to key prefixes; shared by
    /// every store, and replaced by a reload.
    pub encryption: crate::encryption::Current,
    /// `--encryption-provider-config-automatic-reload`: the file to read
    /// again while running, and the content hash of what start-up loaded.
    pub encryption_reload: Option<(PathBuf, u64)>,
    pub etcd_healthcheck_timeout: Duration,
    pub etcd_readycheck_timeout: Duration,
    /// `--storage-media-type` (kaiser stores JSON whatever it says).
    pub storage_media_type: String,
    /// `--delete-collection-workers`, at least 1.
    pub delete_collection_workers: usize,
    /// `--enable-garbage-collector`.
    pub garbage_collector: bool,
    /// `--lease-reuse-duration-seconds` (negative is zero).
    pub lease_reuse: Duration,
    /// How long start-up waits for etcd.
    pub storage_initialization_timeout: Duration,
    /// `--watch-cache`, `--watch-cache-sizes`, `--default-watch-cache-size`.
    pub watch_caching: kaiser_kubeapiserver::watch_cache::WatchCaching,
    pub first_service_ip: IpAddr,
    pub service_network: ServiceNetwork,
    /// Names of the in-process controllers to run.
    pub controllers: Vec<String>,
    pub advertise_address: IpAddr,
    /// `--endpoint-reconciler-type=lease`: publish this server in the
    /// `kubernetes` endpoints alongside the others sharing the store.
    pub lease_endpoints: bool,
    pub shutdown_grace: Duration,
    pub service_account_issuer: String,
    pub service_account_signing_key_file: Option<PathBuf>,
    pub service_account_jwks_uri: Option<String>,
    pub service_account_key_files: Vec<PathBuf>,
    pub api_audiences: Vec<String>,
    pub max_token_expiration: Duration,
    pub audit: crate::audit::AuditConfig,
    pub enable_aggregator_routing: bool,
    /// `--proxy-client-cert-file` and `--proxy-client-key-file`.
    pub proxy_client: Option<(PathBuf, PathBuf)>,
    /// `--disable-admission-plugins`.
    pub disabled_admission_plugins: Vec<String>,
    pub authorization_modes: Vec<kaiser_auth::authz::Mode>,
    pub authn: crate::authn::AuthnConfig,
}

impl Options {
    /// Completes defaults and validates; returns every error found.
    pub fn complete(&self) -> Result<Completed, Vec<String>> {
        let mut errs = Vec::new();
        let bind_address = match self.bind_address.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => {
                errs.push(format!(
                    "--bind-address {:?} is not a valid IP address",
                    self.bind_address
                ));
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
        };
        let secure_port = match u16::try_from(self.secure_port) {
            Ok(p) => p,
            Err(_) => {
                errs.push(format!(
                    "--secure-port {} must be between 0 and 65535, inclusive (0 picks a free port)",
                    self.secure_port
                ));
                0
            }
        };
        match (&self.tls_cert_file, &self.tls_private_key_file) {
            (Some(_), None) => {
                errs.push("--tls-private-key-file is required when --tls-cert-file is set".into())
            }
            (None, Some(_)) => {
                errs.push("--tls-cert-file is required when --tls-private-key-file is set".into())
            }
            _ => {}
        }
        if !self.etcd_prefix.starts_with('/')
            || self.etcd_prefix.len() < 2
            || self.etcd_prefix.contains("//")
        {
            errs.push(format!(
                "--etcd-prefix {:?} must be an absolute key path such as /registry",
                self.etcd_prefix
            ));
        }
        match (&self.proxy_client_cert_file, &self.proxy_client_key_file) {
            (Some(_), None) => errs.push(
                "--proxy-client-key-file is required when --proxy-client-cert-file is set".into(),
            ),
            (None, Some(_)) => errs.push(
                "--proxy-client-cert-file is required when --proxy-client-key-file is set".into(),
            ),
            _ => {}
        }
        match (&self.etcd_certfile, &self.etcd_keyfile) {
            (Some(_), None) => {
                errs.push("--etcd-keyfile is required when --etcd-certfile is set".into())
            }
            (None, Some(_)) => {
                errs.push("--etcd-certfile is required when --etcd-keyfile is set".into())
            }
            _ => {}
        }
        for (flag, f) in [
            ("--tls-cert-file", &self.tls_cert_file),
            ("--tls-private-key-file", &self.tls_private_key_file),
            ("--client-ca-file", &self.client_ca_file),
            ("--etcd-cafile", &self.etcd_cafile),
            ("--etcd-certfile", &self.etcd_certfile),
            ("--etcd-keyfile", &self.etcd_keyfile),
            ("--proxy-client-cert-file", &self.proxy_client_cert_file),
            ("--proxy-client-key-file", &self.proxy_client_key_file),
        ] {
            if let Some(p) = f
                && !p.is_file()
            {
                errs.push(format!("{flag} {}: no such file", p.display()));
            }
        }
        for s in &self.etcd_servers {
            if let Err(e) = validate_etcd_server(s) {
                errs.push(format!("--etcd-servers: {e}"));
            }
        }
        let etcd_overrides: Vec<EtcdOverride> = self
            .etcd_servers_overrides
            .iter()
            .filter_map(|o| {
                parse_etcd_override(o)
                    .map_err(|e| errs.push(format!("--etcd-servers-overrides: {e}")))
                    .ok()
            })
            .collect();
        let compaction_interval = duration_flag(
            "--etcd-compaction-interval",
            &self.etcd_compaction_interval,
            &mut errs,
        );
        let event_ttl = duration_flag("--event-ttl", &self.event_ttl, &mut errs);
        let mut loaded_hash = 0;
        let encryption = self.encryption_provider_config.as_ref().and_then(|p| {
            let root = self.etcd_prefix.trim_end_matches('/');
            match crate::encryption::load(p, root) {
                Ok((e, hash)) => {
                    loaded_hash = hash;
                    Some(Arc::new(e))
                }
                Err(es) => {
                    errs.extend(
                        es.into_iter()
                            .map(|e| format!("--encryption-provider-config: {e}")),
                    );
                    None
                }
            }
        });
        if self.encryption_provider_config_automatic_reload
            && self.encryption_provider_config.is_none()
        {
            errs.push(
                "--encryption-provider-config-automatic-reload must be set with --encryption-provider-config"
                    .to_string(),
            );
        }
        let mut timeout = |flag: &str, value: &str| match parse_duration(value) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                errs.push(format!("--{flag} must be greater than 0"));
                Duration::from_secs(2)
            }
            Err(e) => {
                errs.push(format!("--{flag}: {e}"));
                Duration::from_secs(2)
            }
        };
        let etcd_healthcheck_timeout =
            timeout("etcd-healthcheck-timeout", &self.etcd_healthcheck_timeout);
        let etcd_readycheck_timeout =
            timeout("etcd-readycheck-timeout", &self.etcd_readycheck_timeout);
        const MEDIA_TYPES: [&str; 3] = [
            "application/json",
            "application/vnd.kubernetes.protobuf",
            "application/yaml",
        ];
        if !self.storage_media_type.is_empty()
            && !MEDIA_TYPES.contains(&self.storage_media_type.as_str())
        {
            errs.push(format!(
                "--storage-media-type {:?} invalid, allowed values: {}",
                self.storage_media_type,
                MEDIA_TYPES.join(", ")
            ));
        }
        let storage_initialization_timeout = duration_flag(
            "--storage-initialization-timeout",
            &self.storage_initialization_timeout,
            &mut errs,
        );
        // Only checked: they tune metrics kaiser does not serve.
        duration_flag(
            "--etcd-count-metric-poll-period",
            &self.etcd_count_metric_poll_period,
            &mut errs,
        );
        duration_flag(
            "--etcd-db-metric-poll-interval",
            &self.etcd_db_metric_poll_interval,
            &mut errs,
        );
        if !matches!(self.storage_backend.as_str(), "" | "etcd3") {
            errs.push(format!(
                "--storage-backend invalid, allowed values: etcd3. If not specified, it will default to 'etcd3' (got {:?})",
                self.storage_backend
            ));
        }
        let watch_caching = kaiser_kubeapiserver::watch_cache::WatchCaching {
            enabled: self.watch_cache,
            default_size: u32::try_from(self.default_watch_cache_size).unwrap_or_else(|_| {
                errs.push(format!(
                    "--default-watch-cache-size {} must not be negative",
                    self.default_watch_cache_size
                ));
                0
            }),
            sizes: kaiser_kubeapiserver::watch_cache::WatchCaching::parse_sizes(
                &self.watch_cache_sizes,
            )
            .unwrap_or_else(|e| {
                errs.push(format!("--watch-cache-sizes: {e}"));
                Vec::new()
            }),
        };
        let lease_endpoints = match self.endpoint_reconciler_type.as_str() {
            "lease" => true,
            "none" => false,
            other => {
                errs.push(format!(
                    "--endpoint-reconciler-type {other:?} is not supported: use lease or none"
                ));
                false
            }
        };
        let shutdown_grace = duration_flag(
            "--shutdown-grace-period",
            &self.shutdown_grace_period,
            &mut errs,
        );
        let service_network = self.service_network().unwrap_or_else(|e| {
            errs.extend(e);
            ServiceNetwork::default()
        });
        let max_token_expiration = duration_flag(
            "--service-account-max-token-expiration",
            &self.service_account_max_token_expiration,
            &mut errs,
        );
        if !self.service_account_issuer.contains(':') {
            errs.push(format!(
                "--service-account-issuer {:?} must be a URL",
                self.service_account_issuer
            ));
        }
        if let Some(p) = &self.service_account_signing_key_file
            && !p.is_file()
        {
            errs.push(format!(
                "--service-account-signing-key-file {}: no such file",
                p.display()
            ));
        }
        if let Some(u) = &self.service_account_jwks_uri
            && !u.starts_with("https://")
        {
            errs.push(format!(
                "--service-account-jwks-uri {u:?} must be an https URL"
            ));
        }
        for p in self
            .service_account_key_file
            .iter()
            .filter(|p| !p.is_file())
        {
            errs.push(format!(
                "--service-account-key-file {}: no such file",
                p.display()
            ));
        }
        errs.extend(
            kaiser_admission::plugin_flag_errors(
                &self.enable_admission_plugins,
                &self.disable_admission_plugins,
            )
            .into_iter()
            .map(|e| format!("--{e}")),
        );
        let authorization_modes = kaiser_auth::authz::parse_modes(&self.authorization_mode)
            .unwrap_or_else(|e| {
                errs.extend(e.into_iter().map(|e| format!("--authorization-mode: {e}")));
                Vec::new()
            });
        let controllers = self.controllers().unwrap_or_else(|e| {
            errs.push(e);
            Vec::new()
        });
        let advertise_address = match &self.advertise_address {
            Some(a) => a.parse::<IpAddr>().unwrap_or_else(|_| {
                errs.push(format!(
                    "--advertise-address {a:?} is not a valid IP address"
                ));
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }),
            None if bind_address.is_unspecified() => match bind_address {
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            },
            None => bind_address,
        };
        let audit = self.audit.complete(&mut errs);
        let authn = self.authn.complete(&mut errs);
        // Upstream ties the webhook's config file and the Webhook mode together.
        let webhook_mode = authorization_modes.contains(&kaiser_auth::authz::Mode::Webhook);
        let webhook_file = self.authn.authorization_webhook_config_file.is_some();
        if webhook_mode && !webhook_file {
            errs.push(
                "--authorization-mode: authorization-mode Webhook's authorization config file not passed"
                    .into(),
            );
        }
        if webhook_file && !webhook_mode {
            errs.push("--authorization-webhook-config-file: cannot specify --authorization-webhook-config-file without mode Webhook".into());
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let cert_dir = self
            .cert_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("pki"));
        Ok(Completed {
            verbosity: self.verbosity,
            bind_address,
            secure_port,
            data_dir: self.data_dir.clone(),
            cert_dir,
            tls_cert_file: self.tls_cert_file.clone(),
            tls_private_key_file: self.tls_private_key_file.clone(),
            client_ca_file: self.client_ca_file.clone(),
            etcd_servers: self.etcd_servers.clone(),
            etcd_prefix: self.etcd_prefix.trim_end_matches('/').to_string(),
            etcd_cafile: self.etcd_cafile.clone(),
            etcd_cert: self.etcd_certfile.clone().zip(self.etcd_keyfile.clone()),
            etcd_batch_writes: self.etcd_batch_writes,
            allow_privileged: self.allow_privileged,
            etcd_overrides,
            compaction_interval,
            event_ttl,
            encryption: Arc::new(std::sync::RwLock::new(encryption)),
            encryption_reload: self
                .encryption_provider_config
                .clone()
                .filter(|_| self.encryption_provider_config_automatic_reload)
                .map(|p| (p, loaded_hash)),
            etcd_healthcheck_timeout,
            etcd_readycheck_timeout,
            storage_media_type: self.storage_media_type.clone(),
            delete_collection_workers: usize::try_from(self.delete_collection_workers.max(1))
                .unwrap_or(1),
            garbage_collector: self.enable_garbage_collector,
            lease_reuse: Duration::from_secs(
                u64::try_from(self.lease_reuse_duration_seconds).unwrap_or(0),
            ),
            storage_initialization_timeout,
            watch_caching,
            first_service_ip: service_network
                .cidrs
                .first()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.first()),
            service_network,
            controllers,
            advertise_address,
            lease_endpoints,
            shutdown_grace,
            service_account_issuer: self.service_account_issuer.clone(),
            service_account_signing_key_file: self.service_account_signing_key_file.clone(),
            service_account_key_files: self.service_account_key_file.clone(),
            service_account_jwks_uri: self.service_account_jwks_uri.clone(),
            api_audiences: if self.api_audiences.is_empty() {
                vec![self.service_account_issuer.clone()]
            } else {
                self.api_audiences.clone()
            },
            max_token_expiration,
            audit,
            enable_aggregator_routing: self.enable_aggregator_routing,
            proxy_client: self
                .proxy_client_cert_file
                .clone()
                .zip(self.proxy_client_key_file.clone()),
            authorization_modes,
            disabled_admission_plugins: self.disable_admission_plugins.clone(),
            authn,
        })
    }

    fn service_network(&self) -> Result<ServiceNetwork, Vec<String>> {
        let mut errs = Vec::new();
        let mut cidrs = Vec::new();
        for part in self.service_cluster_ip_range.split(',') {
            match Cidr::parse(part) {
                Ok(c) => cidrs.push(c),
                Err(e) => errs.push(format!("--service-cluster-ip-range: {e}")),
            }
        }
        if cidrs.len() > 2 || (cidrs.len() == 2 && cidrs[0].ip.is_ipv4() == cidrs[1].ip.is_ipv4()) {
            errs.push(
                "--service-cluster-ip-range: at most two CIDRs, one per IP family".to_string(),
            );
        }
        let node_ports = parse_port_range(&self.service_node_port_range)
            .map_err(|e| errs.push(format!("--service-node-port-range: {e}")))
            .unwrap_or((0, 0));
        if errs.is_empty() {
            Ok(ServiceNetwork { cidrs, node_ports })
        } else {
            Err(errs)
        }
    }

    /// The controllers switched on by `--controllers`.
    fn controllers(&self) -> Result<Vec<String>, String> {
        const KNOWN: &[&str] = &[
            "namespace",
            "serviceaccount",
            "root-ca-cert-publisher",
            "clusterrole-aggregation",
        ];
        let mut on: Vec<String> = Vec::new();
        let all = self.controllers.iter().any(|c| c == "*");
        if all {
            on = KNOWN.iter().map(|s| s.to_string()).collect();
        }
        for c in &self.controllers {
            let (off, name) = match c.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, c.as_str()),
            };
            if name == "*" {
                continue;
            }
            if !KNOWN.contains(&name) {
                return Err(format!(
                    "--controllers: {name:?} is not a known controller (known: {})",
                    KNOWN.join(", ")
                ));
            }
            if off {
                on.retain(|n| n != name);
            } else if !on.iter().any(|n| n == name) {
                on.push(name.to_string());
            }
        }
        Ok(on)
    }
}

fn validate_etcd_server(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| format!("{s:?} must start with http:// or https://"))?;
    let hostport = rest.trim_end_matches('/');
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} must name a port"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("{s:?} is not a valid host:port"));
    }
    Ok(())
}

/// Parses a Go-style duration: `300ms`, `30s`, `5m`, `1h30m`, `0`.
/// `value` of `flag` as a Go duration; an error is recorded in `errs` (and
/// zero returned), so that every option's error is reported at once.
fn duration_flag(flag: &str, value: &str, errs: &mut Vec<String>) -> Duration {
    parse_duration(value).unwrap_or_else(|e| {
        errs.push(format!("{flag}: {e}"));
        Duration::ZERO
    })
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
        let secs = match unit.as_str() {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return Err(format!("invalid duration {s:?}: unknown unit {unit:?}")),
        };
        total += Duration::from_secs_f64(secs);
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!(
            "invalid duration {s:?}: a unit (ms, s, m, h) is required"
        ));
    }
    Ok(total)
}

/// The flags as `--name=value` lines, for the start-up log.
pub fn describe(o: &Options) -> Vec<String> {
    let opt = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let mut flags = vec![
        format!(
            "--advertise-address={}",
            o.advertise_address.clone().unwrap_or_default()
        ),
        format!("--allow-privileged={}", o.allow_privileged),
        format!("--bind-address={}", o.bind_address),
        format!("--cert-dir={}", opt(&o.cert_dir)),
        format!("--client-ca-file={}", opt(&o.client_ca_file)),
        format!("--data-dir={}", o.data_dir.display()),
        format!("--etcd-cafile={}", opt(&o.etcd_cafile)),
        format!("--etcd-certfile={}", opt(&o.etcd_certfile)),
        format!("--etcd-compaction-interval={}", o.etcd_compaction_interval),
        format!("--etcd-keyfile={}", opt(&o.etcd_keyfile)),
        format!("--etcd-prefix={}", o.etcd_prefix),
        format!("--etcd-servers={}", o.etcd_servers.join(",")),
        format!(
            "--etcd-servers-overrides={}",
            o.etcd_servers_overrides.join(",")
        ),
        format!("--event-ttl={}", o.event_ttl),
        format!("--etcd-healthcheck-timeout={}", o.etcd_healthcheck_timeout),
        format!("--etcd-readycheck-timeout={}", o.etcd_readycheck_timeout),
        format!("--storage-backend={}", o.storage_backend),
        format!("--watch-cache={}", o.watch_cache),
        format!("--watch-cache-sizes={}", o.watch_cache_sizes.join(",")),
        format!("--default-watch-cache-size={}", o.default_watch_cache_size),
        format!(
            "--encryption-provider-config={}",
            opt(&o.encryption_provider_config)
        ),
        format!("--secure-port={}", o.secure_port),
        format!("--service-cluster-ip-range={}", o.service_cluster_ip_range),
        format!("--service-node-port-range={}", o.service_node_port_range),
        format!("--service-account-issuer={}", o.service_account_issuer),
        format!(
            "--service-account-signing-key-file={}",
            opt(&o.service_account_signing_key_file)
        ),
        format!(
            "--service-account-key-file={}",
            o.service_account_key_file
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        format!(
            "--service-account-jwks-uri={}",
            o.service_account_jwks_uri.clone().unwrap_or_default()
        ),
        format!("--api-audiences={}", o.api_audiences.join(",")),
        format!("--authorization-mode={}", o.authorization_mode.join(",")),
        format!(
            "--enable-admission-plugins={}",
            o.enable_admission_plugins.join(",")
        ),
        format!(
            "--disable-admission-plugins={}",
            o.disable_admission_plugins.join(",")
        ),
        format!(
            "--service-account-max-token-expiration={}",
            o.service_account_max_token_expiration
        ),
        format!("--controllers={}", o.controllers.join(",")),
        format!("--endpoint-reconciler-type={}", o.endpoint_reconciler_type),
        format!(
            "--enable-aggregator-routing={}",
            o.enable_aggregator_routing
        ),
        format!(
            "--proxy-client-cert-file={}",
            opt(&o.proxy_client_cert_file)
        ),
        format!("--proxy-client-key-file={}", opt(&o.proxy_client_key_file)),
        format!("--shutdown-grace-period={}", o.shutdown_grace_period),
        format!("--tls-cert-file={}", opt(&o.tls_cert_file)),
        format!("--tls-private-key-file={}", opt(&o.tls_private_key_file)),
        format!("--v={}", o.verbosity),
    ];
    flags.extend(o.audit.describe());
    flags.extend(o.authn.describe());
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("kaiser").chain(args.iter().copied()))
            .expect("parses")
    }

    #[test]
    fn defaults_complete() {
        let c = parse(&[]).complete().expect("valid");
        assert_eq!(c.secure_port, 6443);
        assert_eq!(c.bind_address.to_string(), "127.0.0.1");
        assert_eq!(c.first_service_ip.to_string(), "10.0.0.1");
        assert_eq!(c.cert_dir, PathBuf::from("kaiser-data/pki"));
        assert_eq!(c.compaction_interval, Duration::from_secs(300));
        assert_eq!(c.event_ttl, Duration::from_secs(3600));
        assert!(c.lease_endpoints);
        assert!(c.etcd_batch_writes);
        assert!(!c.allow_privileged);
        assert!(parse(&["--allow-privileged"]).allow_privileged);
        assert!(parse(&["--allow-privileged=true"]).allow_privileged);
        // Booleans as upstream's flags read them.
        for off in [
            "--etcd-batch-writes=false",
            "--etcd-batch-writes=0",
            "--etcd-batch-writes=F",
        ] {
            assert!(!parse(&[off]).complete().expect("valid").etcd_batch_writes);
        }
        assert!(parse(&["--watch-cache=1"]).watch_cache);
        assert!(!parse(&["--watch-cache=False"]).watch_cache);
        assert!(parse(&["--etcd-batch-writes"]).etcd_batch_writes);
        assert!(Options::try_parse_from(["kaiser", "--watch-cache=yes"]).is_err());
        assert!(
            !parse(&["--endpoint-reconciler-type=none"])
                .complete()
                .expect("valid")
                .lease_endpoints
        );
        // Storage flags upstream has, with its defaults.
        assert_eq!(c.delete_collection_workers, 1);
        assert!(c.garbage_collector);
        assert_eq!(c.lease_reuse, Duration::from_secs(60));
        assert_eq!(c.storage_initialization_timeout, Duration::from_secs(60));
        assert_eq!(c.storage_media_type, "application/json");
        let c = parse(&[
            "--delete-collection-workers=0",
            "--enable-garbage-collector=false",
            "--lease-reuse-duration-seconds=-5",
            "--storage-initialization-timeout=5s",
            "--storage-media-type=application/vnd.kubernetes.protobuf",
            "--etcd-count-metric-poll-period=0",
            "--etcd-db-metric-poll-interval=1m",
        ])
        .complete()
        .expect("valid");
        assert_eq!(c.delete_collection_workers, 1, "fewer than one is one");
        assert!(!c.garbage_collector);
        assert_eq!(c.lease_reuse, Duration::ZERO);
        assert_eq!(c.storage_initialization_timeout, Duration::from_secs(5));
        let c = parse(&["--delete-collection-workers=8"]).complete();
        assert_eq!(c.expect("valid").delete_collection_workers, 8);
    }

    #[test]
    fn every_error_is_reported() {
        let errs = parse(&[
            "--secure-port=-1",
            "--bind-address=nope",
            "--etcd-servers=foo",
            "--service-cluster-ip-range=x",
            "--authorization-mode=RBAC,Bogus",
            "--event-ttl=soon",
            "--etcd-servers-overrides=/events#http://127.0.0.1:2379,events",
            "--endpoint-reconciler-type=master-count",
            "--watch-cache-sizes=pods#-1",
            "--default-watch-cache-size=-5",
            "--etcd-healthcheck-timeout=0s",
            "--etcd-readycheck-timeout=soon",
            "--storage-backend=etcd2",
            "--storage-media-type=text/plain",
            "--storage-initialization-timeout=later",
            "--etcd-count-metric-poll-period=often",
            "--etcd-db-metric-poll-interval=1x",
            "--encryption-provider-config-automatic-reload",
        ])
        .complete()
        .expect_err("invalid");
        assert_eq!(errs.len(), 18, "{errs:?}");
        assert!(
            errs.contains(
                &"--encryption-provider-config-automatic-reload must be set with \
                  --encryption-provider-config"
                    .to_string()
            ),
            "{errs:?}"
        );
        assert!(
            errs.contains(
                &"--storage-media-type \"text/plain\" invalid, allowed values: application/json, \
                  application/vnd.kubernetes.protobuf, application/yaml"
                    .to_string()
            ),
            "{errs:?}"
        );
        for flag in [
            "--storage-initialization-timeout: ",
            "--etcd-count-metric-poll-period: ",
            "--etcd-db-metric-poll-interval: ",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(flag)), "{flag} {errs:?}");
        }
        assert!(
            errs.contains(&"--etcd-healthcheck-timeout must be greater than 0".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("--storage-backend invalid, allowed values: etcd3")),
            "{errs:?}"
        );
        assert!(
            errs.contains(
                &"--watch-cache-sizes: watch cache size cannot be negative: pods#-1".to_string()
            ),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("--endpoint-reconciler-type \"master-count\"")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("--etcd-servers-overrides: \"events\" must be")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with("--event-ttl: ")),
            "{errs:?}"
        );
        assert!(errs.contains(
            &"--authorization-mode: authorization-mode \"Bogus\" is not a valid mode".to_string()
        ));
        assert!(errs[0].contains("--bind-address"));
        assert!(errs[1].contains("--secure-port -1"));
    }

    #[test]
    fn etcd_overrides_parse() {
        let c = parse(&[
            "--etcd-servers=http://127.0.0.1:2379",
            "--etcd-servers-overrides=/events#http://127.0.0.1:2380;https://[::1]:2381,apps/deployments#http://127.0.0.1:2382",
        ])
        .complete()
        .expect("valid");
        assert_eq!(
            c.etcd_overrides[0],
            EtcdOverride {
                group: String::new(),
                resource: "events".into(),
                servers: vec!["http://127.0.0.1:2380".into(), "https://[::1]:2381".into()],
            }
        );
        assert_eq!(c.etcd_overrides[1].group, "apps");
        assert!(parse_etcd_override("events#http://127.0.0.1:1").is_err());
        assert!(parse_etcd_override("/events#ftp://x:1").is_err());
    }

    #[test]
    fn durations_and_cidrs() {
        assert_eq!(
            parse_duration("1h30m").expect("ok"),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("250ms").expect("ok"),
            Duration::from_millis(250)
        );
        assert!(parse_duration("5").is_err());
        let dual = parse(&["--service-cluster-ip-range=10.96.0.0/12,fd00::/108"])
            .complete()
            .expect("dual-stack");
        assert_eq!(dual.service_network.cidrs.len(), 2);
        assert_eq!(dual.first_service_ip.to_string(), "10.96.0.1");
        assert!(
            parse(&["--service-cluster-ip-range=10.0.0.0/24,10.1.0.0/24"])
                .complete()
                .is_err()
        );
        let c = parse(&["--controllers=*,-serviceaccount"])
            .complete()
            .expect("ok");
        assert_eq!(
            c.controllers,
            [
                "namespace",
                "root-ca-cert-publisher",
                "clusterrole-aggregation"
            ]
        );
        assert!(parse(&["--controllers=nope"]).complete().is_err());
        assert!(!c.enable_aggregator_routing);
        for on in [
            &["--enable-aggregator-routing"][..],
            &["--enable-aggregator-routing=true"],
        ] {
            assert!(parse(on).complete().expect("ok").enable_aggregator_routing);
        }
        let half = parse(&["--proxy-client-key-file=/nonexistent"])
            .complete()
            .expect_err("cert missing");
        assert!(
            half.iter()
                .any(|e| e.contains("--proxy-client-cert-file is required"))
        );
        assert!(validate_etcd_server("https://127.0.0.1:2379").is_ok());
        assert!(Options::try_parse_from(["kaiser", "--no-such-flag"]).is_err());
    }
}
