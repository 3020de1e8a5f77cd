//! Webhook targets and their TLS material, from API objects
//! (`WebhookClientConfig`: url or service, caBundle) or kubeconfig files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use kaiser_apimachinery::codec::{self, Format};
use serde_json::Value;

use super::WebhookError;

/// A Service port named by an API object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    /// Request path, `/` when the object gives none.
    pub path: String,
    /// 443 when the object gives none, as upstream.
    pub port: u16,
}

/// Where requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An `https://` (or, for kubeconfig targets, `http://`) URL.
    Url(String),
    Service(ServiceRef),
}

/// Everything needed to call one webhook.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub target: Target,
    /// PEM certificates trusted for the server; the system roots when `None`.
    pub ca_bundle: Option<Vec<u8>>,
    /// PEM client certificate chain and key presented to the server.
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
    pub insecure_skip_tls_verify: bool,
    /// TLS server name to verify instead of the URL's host.
    pub server_name: Option<String>,
    /// Sent as `Authorization: Bearer …`.
    pub bearer_token: Option<String>,
    /// Per request; upstream's default for most webhooks is 10 s (30 s for
    /// token and authorization webhooks, which pass their own).
    pub timeout: Duration,
}

impl ClientConfig {
    /// A URL target with default TLS.
    pub fn url(url: impl Into<String>) -> Self {
        ClientConfig {
            target: Target::Url(url.into()),
            ca_bundle: None,
            client_cert: None,
            insecure_skip_tls_verify: false,
            server_name: None,
            bearer_token: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// From an API `WebhookClientConfig` object (`url` or `service`, and a
    /// base64 `caBundle`), as CRD conversion and admission webhooks carry it.
    pub fn from_api(cfg: &Value) -> Result<Self, WebhookError> {
        let target = match (cfg.get("url").and_then(Value::as_str), cfg.get("service")) {
            (Some(url), None) => Target::Url(url.to_string()),
            (None, Some(svc)) => {
                let s = |k: &str| svc.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let port = match svc.get("port") {
                    None | Some(Value::Null) => 443,
                    Some(p) => p
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .filter(|p| *p > 0)
                        .ok_or_else(|| WebhookError::Config(format!("invalid port {p}")))?,
                };
                let path = match s("path") {
                    p if p.is_empty() => "/".to_string(),
                    p => p,
                };
                Target::Service(ServiceRef {
                    namespace: s("namespace"),
                    name: s("name"),
                    path,
                    port,
                })
            }
            _ => {
                return Err(WebhookError::Config(
                    "exactly one of url or service is required".into(),
                ));
            }
        };
        let ca_bundle = match cfg.get("caBundle").and_then(Value::as_str) {
            Some(b) if !b.is_empty() => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| WebhookError::Config(format!("caBundle: {e}")))?,
            ),
            _ => None,
        };
        Ok(ClientConfig {
            ca_bundle,
            ..ClientConfig::url("")
        }
        .with_target(target))
    }

    fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// From a kubeconfig file, the format of upstream's webhook
    /// `--*-config-file` flags: the current context's cluster (`server`,
    /// `certificate-authority[-data]`, `insecure-skip-tls-verify`,
    /// `tls-server-name`) and user (`client-certificate[-data]`,
    /// `client-key[-data]`, `token`, `tokenFile`); relative paths are
    /// relative to the file.
    pub fn from_kubeconfig_file(path: &Path) -> Result<Self, WebhookError> {
        let bytes = std::fs::read(path)
            .map_err(|e| WebhookError::Config(format!("reading {}: {e}", path.display())))?;
        let doc = codec::decode(&bytes, Format::Yaml)
            .map_err(|e| WebhookError::Config(format!("{}: {}", path.display(), e.message)))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_kubeconfig(&doc, &base)
            .map_err(|e| WebhookError::Config(format!("{}: {e}", path.display())))
    }

    fn from_kubeconfig(doc: &Value, base: &Path) -> Result<Self, String> {
        let current = doc.get("current-context").and_then(Value::as_str);
        let context = named(doc, "contexts", current).and_then(|c| c.get("context"));
        let pick = |list: &str, key: &str| {
            let name = context.and_then(|c| c.get(key)).and_then(Value::as_str);
            named(doc, list, name).and_then(|e| e.get(key))
        };
        let cluster = pick("clusters", "cluster").ok_or("no cluster")?;
        let user = pick("users", "user");
        let server = cluster
            .get("server")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("the cluster has no server")?;
        let mut cfg = ClientConfig::url(server);
        cfg.ca_bundle = material(cluster, "certificate-authority", base)?;
        cfg.insecure_skip_tls_verify = cluster
            .get("insecure-skip-tls-verify")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        cfg.server_name = cluster
            .get("tls-server-name")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(user) = user {
            let cert = material(user, "client-certificate", base)?;
            let key = material(user, "client-key", base)?;
            cfg.client_cert = match (cert, key) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                _ => return Err("client-certificate and client-key go together".into()),
            };
            cfg.bearer_token = match (user.get("token"), user.get("tokenFile")) {
                (Some(Value::String(t)), _) => Some(t.clone()),
                (_, Some(Value::String(f))) => Some(
                    std::fs::read_to_string(resolve(base, f))
                        .map_err(|e| format!("tokenFile {f}: {e}"))?
                        .trim()
                        .to_string(),
                ),
                _ => None,
            };
        }
        Ok(cfg)
    }

    /// The URL as shown in errors and logs.
    pub fn display_url(&self) -> String {
        match &self.target {
            Target::Url(u) => u.clone(),
            Target::Service(s) => format!(
                "https://{}.{}.svc:{}{}",
                s.name, s.namespace, s.port, s.path
            ),
        }
    }
}

/// The entry of `list` called `name`, or the first one when no name is given.
fn named<'a>(doc: &'a Value, list: &str, name: Option<&str>) -> Option<&'a Value> {
    let items = doc.get(list)?.as_array()?;
    match name {
        Some(n) => items
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(n)),
        None => items.first(),
    }
}

/// `<key>-data` (base64) or `<key>` (a file path).
fn material(section: &Value, key: &str, base: &Path) -> Result<Option<Vec<u8>>, String> {
    if let Some(data) = section
        .get(format!("{key}-data"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    {
        return base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|e| format!("{key}-data: {e}"));
    }
    match section
        .get(key)
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        Some(p) => std::fs::read(resolve(base, p))
            .map(Some)
            .map_err(|e| format!("{key} {p}: {e}")),
        None => Ok(None),
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_config_with_service_defaults_port_and_path() {
        let cfg = ClientConfig::from_api(&json!({
            "service": {"namespace": "ns", "name": "conv"},
            "caBundle": "aGVsbG8="
        }))
        .expect("test set-up");
        assert_eq!(
            cfg.target,
            Target::Service(ServiceRef {
                namespace: "ns".into(),
                name: "conv".into(),
                path: "/".into(),
                port: 443
            })
        );
        assert_eq!(cfg.ca_bundle.as_deref(), Some(&b"hello"[..]));
        assert_eq!(cfg.display_url(), "https://conv.ns.svc:443/");
    }

    #[test]
    fn api_config_needs_exactly_one_target() {
        assert!(ClientConfig::from_api(&json!({})).is_err());
        assert!(
            ClientConfig::from_api(&json!({"url": "https://x", "service": {"name": "a"}})).is_err()
        );
        assert!(ClientConfig::from_api(&json!({"service": {"name": "a", "port": 70000}})).is_err());
    }

    #[test]
    fn kubeconfig_uses_the_current_context_and_relative_files() {
        let dir = tempfile::tempdir().expect("test set-up");
        std::fs::write(dir.path().join("ca.pem"), b"CA").expect("test set-up");
        std::fs::write(dir.path().join("tok"), b"secret\n").expect("test set-up");
        let file = dir.path().join("webhook.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://other\n- name: hook\n  cluster:\n    server: https://127.0.0.1:9443/authn\n    certificate-authority: ca.pem\nusers:\n- name: me\n  user:\n    tokenFile: tok\ncontexts:\n- name: c\n  context:\n    cluster: hook\n    user: me\ncurrent-context: c\n",
        )
        .expect("test set-up");
        let cfg = ClientConfig::from_kubeconfig_file(&file).expect("test set-up");
        assert_eq!(
            cfg.target,
            Target::Url("https://127.0.0.1:9443/authn".into())
        );
        assert_eq!(cfg.ca_bundle.as_deref(), Some(&b"CA"[..]));
        assert_eq!(cfg.bearer_token.as_deref(), Some("secret"));
        assert!(cfg.client_cert.is_none());
    }

    #[test]
    fn kubeconfig_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("test set-up");
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, "clusters: []\n").expect("test set-up");
        let err = ClientConfig::from_kubeconfig_file(&file)
            .expect_err("must fail")
            .to_string();
        assert!(
            err.contains("bad.yaml") && err.contains("no cluster"),
            "{err}"
        );
    }
}
