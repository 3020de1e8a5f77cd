//! The audit flags (upstream's `--audit-*` names and defaults), their
//! validation (errors join the other options' list), and the auditor they
//! build: the policy plus the log backend (blocking, or buffered in
//! `batch` mode) and the webhook backend (`EventList` batches posted with
//! the project's webhook client, retried with backoff), either optionally
//! truncating.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{ArgAction, Args};
use kaiser_admission::webhook::{ClientConfig, WebhookClient, WebhookError};
use kaiser_auth::audit::batch::{BatchConfig, Buffered, Truncate};
use kaiser_auth::audit::log::{Format, LogBackend};
use kaiser_auth::audit::rotate::Rotation;
use kaiser_auth::audit::{Auditor, Backend, Policy};

use crate::options::parse_duration;

const MODES: &[&str] = &["batch", "blocking", "blocking-strict"];
const VERSIONS: &[&str] = &["audit.k8s.io/v1"];

/// The `--audit-*` flags.
#[derive(Debug, Clone, Args)]
pub struct AuditOptions {
    /// Path to the audit policy (audit.k8s.io/v1 Policy); without one no events are recorded.
    #[arg(long)]
    pub audit_policy_file: Option<PathBuf>,

    /// Where the log backend writes events, one a line; `-` is standard output.
    #[arg(long)]
    pub audit_log_path: Option<String>,

    /// Log line format: json or legacy.
    #[arg(long, default_value = "json")]
    pub audit_log_format: String,

    /// Days to keep rotated log files (0: forever).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxage: i64,

    /// Rotated log files to keep (0: all).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxbackup: i64,

    /// Megabytes a log file may reach before it is rotated (0: 100).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxsize: i64,

    /// Gzip rotated log files.
    #[arg(long, value_parser = crate::options::go_bool, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub audit_log_compress: bool,

    /// Log backend mode: blocking, blocking-strict or batch.
    #[arg(long, default_value = "blocking")]
    pub audit_log_mode: String,

    /// Events buffered before batching (batch mode).
    #[arg(long, default_value_t = 10000)]
    pub audit_log_batch_buffer_size: i64,

    /// Largest batch (batch mode).
    #[arg(long, default_value_t = 1)]
    pub audit_log_batch_max_size: i64,

    /// Longest wait before a partial batch is written (batch mode, Go duration).
    #[arg(long, default_value = "0s")]
    pub audit_log_batch_max_wait: String,

    /// Throttle batches (batch mode).
    #[arg(long, value_parser = crate::options::go_bool, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub audit_log_batch_throttle_enable: bool,

    /// Batches per second when throttled.
    #[arg(long, default_value_t = 0.0)]
    pub audit_log_batch_throttle_qps: f32,

    /// Batches allowed at once when throttled.
    #[arg(long, default_value_t = 0)]
    pub audit_log_batch_throttle_burst: i64,

    /// Drop request and response objects of events larger than the maximum.
    #[arg(long, value_parser = crate::options::go_bool, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub audit_log_truncate_enabled: bool,

    /// Largest batch in bytes when truncating.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub audit_log_truncate_max_batch_size: i64,

    /// Largest event in bytes when truncating.
    #[arg(long, default_value_t = 100 * 1024)]
    pub audit_log_truncate_max_event_size: i64,

    /// The API version of logged events.
    #[arg(long, default_value = "audit.k8s.io/v1")]
    pub audit_log_version: String,

    /// A kubeconfig-format file naming the audit webhook.
    #[arg(long)]
    pub audit_webhook_config_file: Option<PathBuf>,

    /// Wait before retrying the first failed webhook request (Go duration).
    #[arg(long, default_value = "10s")]
    pub audit_webhook_initial_backoff: String,

    /// Webhook backend mode: blocking, blocking-strict or batch.
    #[arg(long, default_value = "batch")]
    pub audit_webhook_mode: String,

    /// Events buffered before batching (batch mode).
    #[arg(long, default_value_t = 10000)]
    pub audit_webhook_batch_buffer_size: i64,

    /// Largest batch (batch mode).
    #[arg(long, default_value_t = 400)]
    pub audit_webhook_batch_max_size: i64,

    /// Longest wait before a partial batch is sent (batch mode, Go duration).
    #[arg(long, default_value = "30s")]
    pub audit_webhook_batch_max_wait: String,

    /// Throttle batches (batch mode).
    #[arg(long, value_parser = crate::options::go_bool, num_args = 0..=1, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    pub audit_webhook_batch_throttle_enable: bool,

    /// Batches per second when throttled.
    #[arg(long, default_value_t = 10.0)]
    pub audit_webhook_batch_throttle_qps: f32,

    /// Batches allowed at once when throttled.
    #[arg(long, default_value_t = 15)]
    pub audit_webhook_batch_throttle_burst: i64,

    /// Drop request and response objects of events larger than the maximum.
    #[arg(long, value_parser = crate::options::go_bool, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub audit_webhook_truncate_enabled: bool,

    /// Largest batch in bytes when truncating.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub audit_webhook_truncate_max_batch_size: i64,

    /// Largest event in bytes when truncating.
    #[arg(long, default_value_t = 100 * 1024)]
    pub audit_webhook_truncate_max_event_size: i64,

    /// The API version of the event lists sent.
    #[arg(long, default_value = "audit.k8s.io/v1")]
    pub audit_webhook_version: String,
}

/// The log backend's settings after validation.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub path: PathBuf,
    pub format: Format,
    pub rotation: Rotation,
    /// Set in batch mode.
    pub batch: Option<BatchConfig>,
    /// Maximum event size when truncating.
    pub truncate: Option<usize>,
}

/// The webhook backend's settings after validation.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub client: ClientConfig,
    pub initial_backoff: Duration,
    /// Batch mode's settings; the blocking modes send each event alone.
    pub batch: BatchConfig,
    pub truncate: Option<usize>,
}

/// Auditing after validation.
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    pub policy: Option<Policy>,
    pub log: Option<LogConfig>,
    pub webhook: Option<WebhookConfig>,
}

struct BatchFlags<'a> {
    plugin: &'a str,
    mode: &'a str,
    buffer_size: i64,
    max_size: i64,
    max_wait: &'a str,
    throttle: bool,
    qps: f32,
    burst: i64,
}

/// Upstream's checks of a backend's mode and batch settings.
fn batch_config(f: &BatchFlags<'_>, errs: &mut Vec<String>) -> Option<BatchConfig> {
    if !MODES.contains(&f.mode) {
        errs.push(format!(
            "invalid audit {} mode {}, allowed modes are {:?}",
            f.plugin,
            f.mode,
            MODES.join(",")
        ));
        return None;
    }
    let max_wait = parse_duration(f.max_wait).unwrap_or_else(|e| {
        errs.push(format!("--audit-{}-batch-max-wait: {e}", f.plugin));
        Duration::ZERO
    });
    if f.mode != "batch" {
        return None;
    }
    let before = errs.len();
    if f.buffer_size <= 0 {
        errs.push(format!(
            "invalid audit batch {} buffer size {}, must be a positive number",
            f.plugin, f.buffer_size
        ));
    }
    if f.max_size <= 0 {
        errs.push(format!(
            "invalid audit batch {} max batch size {}, must be a positive number",
            f.plugin, f.max_size
        ));
    }
    if f.throttle {
        if f.qps <= 0.0 {
            errs.push(format!(
                "invalid audit batch {} throttle QPS {}, must be a positive number",
                f.plugin, f.qps
            ));
        }
        if f.burst <= 0 {
            errs.push(format!(
                "invalid audit batch {} throttle burst {}, must be a positive number",
                f.plugin, f.burst
            ));
        }
    }
    (errs.len() == before).then(|| BatchConfig {
        buffer_size: f.buffer_size as usize,
        max_batch_size: f.max_size as usize,
        max_wait,
        throttle: f
            .throttle
            .then(|| (f.qps, u32::try_from(f.burst).unwrap_or(u32::MAX))),
    })
}

fn truncate_config(
    plugin: &str,
    enabled: bool,
    max_batch: i64,
    max_event: i64,
    errs: &mut Vec<String>,
) -> Option<usize> {
    if !enabled {
        return None;
    }
    if max_event <= 0 {
        errs.push(format!(
            "invalid audit truncate {plugin} max event size {max_event}, must be a positive number"
        ));
        return None;
    }
    if max_batch < max_event {
        errs.push(format!(
            "invalid audit truncate {plugin} max batch size {max_batch}, must be greater than max event size ({max_event})"
        ));
        return None;
    }
    Some(max_event as usize)
}

impl AuditOptions {
    /// Validates the flags and loads the policy; errors go to `errs`.
    pub fn complete(&self, errs: &mut Vec<String>) -> AuditConfig {
        let policy = self.audit_policy_file.as_ref().and_then(|p| {
            Policy::load(p)
                .map_err(|e| errs.push(format!("--audit-policy-file: {e}")))
                .ok()
        });
        AuditConfig {
            policy,
            log: self.log(errs),
            webhook: self.webhook(errs),
        }
    }

    fn webhook(&self, errs: &mut Vec<String>) -> Option<WebhookConfig> {
        let path = self.audit_webhook_config_file.as_ref()?;
        let before = errs.len();
        let client = ClientConfig::from_kubeconfig_file(path)
            .map_err(|e| errs.push(format!("--audit-webhook-config-file: {e}")))
            .ok();
        let initial_backoff = parse_duration(&self.audit_webhook_initial_backoff)
            .map_err(|e| errs.push(format!("--audit-webhook-initial-backoff: {e}")))
            .ok();
        let batch = batch_config(
            &BatchFlags {
                plugin: "webhook",
                mode: &self.audit_webhook_mode,
                buffer_size: self.audit_webhook_batch_buffer_size,
                max_size: self.audit_webhook_batch_max_size,
                max_wait: &self.audit_webhook_batch_max_wait,
                throttle: self.audit_webhook_batch_throttle_enable,
                qps: self.audit_webhook_batch_throttle_qps,
                burst: self.audit_webhook_batch_throttle_burst,
            },
            errs,
        );
        let truncate = truncate_config(
            "webhook",
            self.audit_webhook_truncate_enabled,
            self.audit_webhook_truncate_max_batch_size,
            self.audit_webhook_truncate_max_event_size,
            errs,
        );
        if !VERSIONS.contains(&self.audit_webhook_version.as_str()) {
            errs.push(format!(
                "--audit-webhook-version: invalid group version {:?}, allowed versions are {VERSIONS:?}",
                self.audit_webhook_version
            ));
        }
        if errs.len() != before {
            return None;
        }
        Some(WebhookConfig {
            client: client?,
            initial_backoff: initial_backoff?,
            // Blocking modes: every event on its own, at once.
            batch: batch.unwrap_or(BatchConfig {
                buffer_size: self.audit_webhook_batch_buffer_size.max(1) as usize,
                max_batch_size: 1,
                max_wait: Duration::ZERO,
                throttle: None,
            }),
            truncate,
        })
    }

    fn log(&self, errs: &mut Vec<String>) -> Option<LogConfig> {
        let path = self.audit_log_path.as_deref().filter(|p| !p.is_empty())?;
        let before = errs.len();
        let batch = batch_config(
            &BatchFlags {
                plugin: "log",
                mode: &self.audit_log_mode,
                buffer_size: self.audit_log_batch_buffer_size,
                max_size: self.audit_log_batch_max_size,
                max_wait: &self.audit_log_batch_max_wait,
                throttle: self.audit_log_batch_throttle_enable,
                qps: self.audit_log_batch_throttle_qps,
                burst: self.audit_log_batch_throttle_burst,
            },
            errs,
        );
        let truncate = truncate_config(
            "log",
            self.audit_log_truncate_enabled,
            self.audit_log_truncate_max_batch_size,
            self.audit_log_truncate_max_event_size,
            errs,
        );
        if !VERSIONS.contains(&self.audit_log_version.as_str()) {
            errs.push(format!(
                "--audit-log-version: invalid group version {:?}, allowed versions are {VERSIONS:?}",
                self.audit_log_version
            ));
        }
        let format = Format::parse(&self.audit_log_format);
        if format.is_none() {
            errs.push(format!(
                "invalid audit log format {}, allowed formats are {:?}",
                self.audit_log_format,
                Format::ALLOWED.join(",")
            ));
        }
        for (flag, v) in [
            ("--audit-log-maxage", self.audit_log_maxage),
            ("--audit-log-maxbackup", self.audit_log_maxbackup),
            ("--audit-log-maxsize", self.audit_log_maxsize),
        ] {
            if v < 0 {
                errs.push(format!("{flag} {v} can't be a negative number"));
            }
        }
        if errs.len() != before {
            return None;
        }
        Some(LogConfig {
            path: PathBuf::from(path),
            format: format.unwrap_or_default(),
            rotation: Rotation {
                max_size_mb: self.audit_log_maxsize as u64,
                max_backups: self.audit_log_maxbackup as usize,
                max_age_days: self.audit_log_maxage as u64,
                compress: self.audit_log_compress,
            },
            batch,
            truncate,
        })
    }

    /// The flags as `--name=value` lines, for the start-up log.
    pub fn describe(&self) -> Vec<String> {
        vec![
            format!(
                "--audit-policy-file={}",
                self.audit_policy_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            format!(
                "--audit-log-path={}",
                self.audit_log_path.clone().unwrap_or_default()
            ),
            format!("--audit-log-format={}", self.audit_log_format),
            format!("--audit-log-maxage={}", self.audit_log_maxage),
            format!("--audit-log-maxbackup={}", self.audit_log_maxbackup),
            format!("--audit-log-maxsize={}", self.audit_log_maxsize),
            format!("--audit-log-mode={}", self.audit_log_mode),
            format!(
                "--audit-webhook-config-file={}",
                self.audit_webhook_config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            format!("--audit-webhook-mode={}", self.audit_webhook_mode),
            format!(
                "--audit-webhook-batch-max-size={}",
                self.audit_webhook_batch_max_size
            ),
            format!(
                "--audit-webhook-batch-max-wait={}",
                self.audit_webhook_batch_max_wait
            ),
        ]
    }
}

/// The auditor the flags ask for: None without a policy or a backend.
/// Called inside the runtime: the webhook's worker thread uses it.
pub fn build(c: &AuditConfig) -> Result<Option<Arc<Auditor>>> {
    let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
    if let Some(log) = &c.log {
        let backend = LogBackend::open(&log.path, log.format, log.rotation.clone())
            .with_context(|| format!("opening --audit-log-path {}", log.path.display()))?;
        let mut b: Arc<dyn Backend> = Arc::new(backend);
        if let Some(batch) = &log.batch {
            b = Arc::new(Buffered::new("log", Arc::new(SinkOf(b)), batch.clone()));
        }
        if let Some(max) = log.truncate {
            b = Arc::new(Truncate {
                inner: b,
                max_event_size: max,
            });
        }
        backends.push(b);
    }
    if let Some(w) = &c.webhook {
        let client = WebhookClient::new(w.client.clone(), None)
            .context("setting up the audit webhook (--audit-webhook-config-file)")?;
        let sink = WebhookSink {
            client,
            runtime: tokio::runtime::Handle::current(),
            initial_backoff: w.initial_backoff,
        };
        let mut b: Arc<dyn Backend> =
            Arc::new(Buffered::new("webhook", Arc::new(sink), w.batch.clone()));
        if let Some(max) = w.truncate {
            b = Arc::new(Truncate {
                inner: b,
                max_event_size: max,
            });
        }
        backends.push(b);
    }
    if backends.is_empty() {
        return Ok(None);
    }
    let Some(policy) = &c.policy else {
        tracing::info!("No audit policy file provided, no events will be recorded");
        return Ok(None);
    };
    Ok(Some(Arc::new(Auditor::new(policy.clone(), backends))))
}

/// Attempts per batch, as upstream's webhook backoff (5 steps).
const WEBHOOK_ATTEMPTS: u32 = 5;

/// Posts batches as `audit.k8s.io/v1` EventLists; connection failures,
/// timeouts, 429 and 5xx answers are retried after a growing wait
/// (initial backoff, times 1.5 each step).
struct WebhookSink {
    client: WebhookClient,
    runtime: tokio::runtime::Handle,
    initial_backoff: Duration,
}

fn retryable(e: &WebhookError) -> bool {
    match e {
        WebhookError::Call { .. } | WebhookError::Timeout { .. } => true,
        WebhookError::Status { code, .. } => *code == 429 || *code >= 500,
        _ => false,
    }
}

/// The EventList a batch is sent as.
fn event_list(events: &[kaiser_auth::audit::Event]) -> serde_json::Value {
    serde_json::json!({
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "metadata": {},
        "items": events,
    })
}

impl kaiser_auth::audit::batch::BatchSink for WebhookSink {
    fn send(&self, events: &[kaiser_auth::audit::Event]) {
        let list = event_list(events);
        let mut wait = self.initial_backoff;
        for attempt in 1..=WEBHOOK_ATTEMPTS {
            match self.runtime.block_on(self.client.post_json(&list)) {
                // Any 2xx is delivered; the answer's body does not matter.
                Ok(_) | Err(WebhookError::Decode { .. }) => return,
                Err(e) if retryable(&e) && attempt < WEBHOOK_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "audit webhook failed; retrying");
                    std::thread::sleep(wait);
                    wait = wait.mul_f64(1.5);
                }
                Err(e) => {
                    tracing::error!(
                        "Error in audit plugin 'webhook' affecting {} audit events: {e}",
                        events.len()
                    );
                    return;
                }
            }
        }
    }
}

/// A backend as the sink of a buffered one: each event of a batch in turn.
struct SinkOf(Arc<dyn Backend>);

impl kaiser_auth::audit::batch::BatchSink for SinkOf {
    fn send(&self, events: &[kaiser_auth::audit::Event]) {
        for e in events {
            self.0.process(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        audit: AuditOptions,
    }

    fn complete(args: &[&str]) -> (AuditConfig, Vec<String>) {
        let cli = Cli::try_parse_from(std::iter::once("kaiser").chain(args.iter().copied()))
            .expect("parses");
        let mut errs = Vec::new();
        let c = cli.audit.complete(&mut errs);
        (c, errs)
    }

    #[test]
    fn every_audit_error_is_reported() {
        let (_, errs) = complete(&[
            "--audit-policy-file=/no/such/policy.yaml",
            "--audit-log-path=/tmp/x.log",
            "--audit-log-maxsize=-1",
            "--audit-log-maxbackup=-2",
            "--audit-log-format=xml",
            "--audit-log-mode=sometimes",
        ]);
        assert_eq!(errs.len(), 5, "{errs:?}");
        assert!(errs[0].starts_with("--audit-policy-file: failed to read file path"));
        assert!(errs.contains(&"--audit-log-maxsize -1 can't be a negative number".to_string()));
        assert!(errs.contains(&"--audit-log-maxbackup -2 can't be a negative number".to_string()));
        assert!(
            errs.iter()
                .any(|e| e.starts_with("invalid audit log format xml"))
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("invalid audit log mode sometimes"))
        );
        let (_, errs) = complete(&[
            "--audit-log-path=-",
            "--audit-log-mode=batch",
            "--audit-log-batch-max-size=0",
            "--audit-log-batch-throttle-enable",
            "--audit-log-truncate-enabled",
            "--audit-log-truncate-max-event-size=0",
        ]);
        assert_eq!(errs.len(), 4, "{errs:?}");
        let (_, errs) = complete(&[
            "--audit-webhook-config-file=/no/such/webhook.kubeconfig",
            "--audit-webhook-mode=never",
            "--audit-webhook-initial-backoff=soon",
        ]);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with(
            "--audit-webhook-config-file: invalid webhook configuration: reading /no/such"
        ));
    }

    #[test]
    fn webhook_settings() {
        let dir = tempfile::tempdir().expect("tmp");
        let kc = dir.path().join("hook.kubeconfig");
        std::fs::write(
            &kc,
            "clusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1/a\ncontexts:\n- name: c\n  context: {cluster: c}\ncurrent-context: c\n",
        )
        .expect("write");
        let flag = format!("--audit-webhook-config-file={}", kc.display());
        let (c, errs) = complete(&[&flag]);
        assert!(errs.is_empty(), "{errs:?}");
        let w = c.webhook.expect("webhook");
        assert_eq!(w.initial_backoff, Duration::from_secs(10));
        assert_eq!(
            w.batch,
            BatchConfig {
                buffer_size: 10000,
                max_batch_size: 400,
                max_wait: Duration::from_secs(30),
                throttle: Some((10.0, 15)),
            }
        );
        let (c, _) = complete(&[&flag, "--audit-webhook-mode=blocking"]);
        assert_eq!(c.webhook.expect("webhook").batch.max_batch_size, 1);
        assert!(retryable(&WebhookError::Status {
            url: String::new(),
            code: 503,
            body: String::new()
        }));
        assert!(!retryable(&WebhookError::Status {
            url: String::new(),
            code: 400,
            body: String::new()
        }));
        let list = event_list(&[]);
        assert_eq!(list["kind"], "EventList");
        assert_eq!(list["items"], serde_json::json!([]));
    }

    #[test]
    fn defaults_and_rotation() {
        let (c, errs) = complete(&[]);
        assert!(errs.is_empty() && c.log.is_none() && c.policy.is_none());
        let (c, errs) = complete(&[
            "--audit-log-path=/tmp/a.log",
            "--audit-log-maxsize=5",
            "--audit-log-maxbackup=3",
            "--audit-log-maxage=7",
            "--audit-log-compress",
        ]);
        assert!(errs.is_empty(), "{errs:?}");
        let log = c.log.expect("log");
        assert_eq!(
            log.rotation,
            Rotation {
                max_size_mb: 5,
                max_backups: 3,
                max_age_days: 7,
                compress: true
            }
        );
        assert!(log.batch.is_none() && log.truncate.is_none());
    }
}
