//! The authentication flags (and the authorization webhook's), completed
//! and validated with the other options, and the authenticator union and
//! webhook authorizer built from them, in upstream's order
//! (`pkg/kubeapiserver/authenticator/config.go`).
//!
//! `--client-ca-file`, when given, is the only CA client certificates may
//! chain to, as upstream: the generated admin certificate then
//! authenticates only if that bundle holds (or signed it with) kaiser's
//! CA. Without it, kaiser's generated CA is the client CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{ArgAction, Args};
use kaiser_admission::webhook::authz::AuthorizationWebhook;
use kaiser_admission::webhook::oidc::RemoteKeySet;
use kaiser_admission::webhook::token::TokenWebhook;
use kaiser_admission::webhook::{ClientConfig, WebhookClient};
use kaiser_auth::TokenAuthenticator;
use kaiser_auth::authn::cache::CachedTokens;
use kaiser_auth::authn::oidc::{OidcAuthenticator, OidcConfig};
use kaiser_auth::authn::requestheader::{self, RequestHeader};
use kaiser_auth::authn::tokenfile::StaticTokens;
use kaiser_auth::authn::union::{AudienceAgnostic, Authenticator};
use kaiser_auth::authn::x509::CaBundle;
use kaiser_kubeapiserver::KubeApiServer;
use kaiser_kubeapiserver::authentication_info::{AuthenticationInfo, RequestHeaderInfo};

use crate::options::parse_duration;

/// Webhook calls time out after this, as upstream's token and
/// authorization webhooks.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);
const WEBHOOK_VERSIONS: &[&str] = &["v1", "v1beta1"];

/// The authentication flags, under upstream's names.
#[derive(Debug, Clone, Args)]
pub struct AuthnOptions {
    /// Allows requests without credentials, as system:anonymous in group
    /// system:unauthenticated.
    #[arg(long, value_parser = crate::options::go_bool, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub anonymous_auth: bool,

    /// CSV of static bearer tokens: token,user,uid,"group1,group2".
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,

    /// Accepts bootstrap tokens (Secrets of type bootstrap.kubernetes.io/token in kube-system).
    #[arg(long, value_parser = crate::options::go_bool, action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub enable_bootstrap_token_auth: bool,

    /// Kubeconfig naming a TokenReview webhook that authenticates bearer tokens.
    #[arg(long)]
    pub authentication_token_webhook_config_file: Option<PathBuf>,

    /// How long the token webhook's answers are cached (Go duration).
    #[arg(long, default_value = "2m")]
    pub authentication_token_webhook_cache_ttl: String,

    /// The authentication.k8s.io version of the TokenReviews sent (v1 or v1beta1).
    #[arg(long, default_value = "v1beta1")]
    pub authentication_token_webhook_version: String,

    /// The OpenID issuer URL (https); enables OIDC tokens.
    #[arg(long)]
    pub oidc_issuer_url: Option<String>,

    /// The client id ID tokens must be issued for (their aud).
    #[arg(long)]
    pub oidc_client_id: Option<String>,

    /// The claim naming the user.
    #[arg(long, default_value = "sub")]
    pub oidc_username_claim: String,

    /// Prefix of OIDC user names (default: the issuer URL and #, except for
    /// the email claim; - for none).
    #[arg(long, default_value = "")]
    pub oidc_username_prefix: String,

    /// The claim naming the user's groups (a string or a list).
    #[arg(long, default_value = "")]
    pub oidc_groups_claim: String,

    /// Prefix of OIDC group names.
    #[arg(long, default_value = "")]
    pub oidc_groups_prefix: String,

    /// CA bundle (PEM) for the issuer's certificate (default: the system roots).
    #[arg(long)]
    pub oidc_ca_file: Option<PathBuf>,

    /// The signing algorithms accepted, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "RS256")]
    pub oidc_signing_algs: Vec<String>,

    /// key=value claims every ID token must carry (repeatable, or comma separated).
    #[arg(long, value_delimiter = ',')]
    pub oidc_required_claim: Vec<String>,

    /// CA bundle (PEM) of the front proxy's client certificates.
    #[arg(long)]
    pub requestheader_client_ca_file: Option<PathBuf>,

    /// Common names the front proxy's certificate may have (empty: any).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,

    /// Headers naming the user (default: X-Remote-User).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_username_headers: Vec<String>,

    /// Headers naming the user's uid.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,

    /// Headers naming the user's groups (default: X-Remote-Group).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_group_headers: Vec<String>,

    /// Header prefixes of the user's extra attributes (default: X-Remote-Extra-).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_extra_headers_prefix: Vec<String>,

    /// Kubeconfig naming a SubjectAccessReview webhook, asked after RBAC.
    #[arg(long)]
    pub authorization_webhook_config_file: Option<PathBuf>,

    /// The authorization.k8s.io version of the SubjectAccessReviews sent (v1 or v1beta1).
    #[arg(long, default_value = "v1beta1")]
    pub authorization_webhook_version: String,

    /// How long the webhook's allowed answers are cached (Go duration).
    #[arg(long, default_value = "5m")]
    pub authorization_webhook_cache_authorized_ttl: String,

    /// How long the webhook's other answers are cached (Go duration).
    #[arg(long, default_value = "30s")]
    pub authorization_webhook_cache_unauthorized_ttl: String,
}

/// The flags completed: files read, webhooks' kubeconfigs loaded.
#[derive(Debug, Clone)]
pub struct AuthnConfig {
    pub anonymous: bool,
    pub static_tokens: Option<StaticTokens>,
    pub bootstrap_tokens: bool,
    pub token_webhook: Option<(ClientConfig, String, Duration)>,
    pub oidc: Option<(OidcConfig, Option<Vec<u8>>)>,
    pub request_header: Option<RequestHeader>,
    pub authz_webhook: Option<(ClientConfig, String, Duration, Duration)>,
}

fn read(flag: &str, p: &Path, errs: &mut Vec<String>) -> Option<Vec<u8>> {
    std::fs::read(p)
        .map_err(|e| errs.push(format!("{flag} {}: {e}", p.display())))
        .ok()
}

fn webhook_config(flag: &str, p: &Path, errs: &mut Vec<String>) -> Option<ClientConfig> {
    match ClientConfig::from_kubeconfig_file(p) {
        Ok(mut cfg) => {
            cfg.timeout = WEBHOOK_TIMEOUT;
            Some(cfg)
        }
        Err(e) => {
            errs.push(format!("{flag}: {e}"));
            None
        }
    }
}

fn version(flag: &str, v: &str, errs: &mut Vec<String>) -> String {
    if !WEBHOOK_VERSIONS.contains(&v) {
        errs.push(format!(
            "{flag}: unsupported version {v:?} (supported: v1, v1beta1)"
        ));
    }
    v.to_string()
}

fn duration(flag: &str, v: &str, errs: &mut Vec<String>) -> Duration {
    parse_duration(v).unwrap_or_else(|e| {
        errs.push(format!("{flag}: {e}"));
        Duration::ZERO
    })
}

fn or_default(given: &[String], default: &[&str]) -> Vec<String> {
    if given.is_empty() {
        default.iter().map(|s| s.to_string()).collect()
    } else {
        given.to_vec()
    }
}

impl AuthnOptions {
    /// Completes and validates, pushing every problem onto `errs`.
    pub fn complete(&self, errs: &mut Vec<String>) -> AuthnConfig {
        let static_tokens = self.token_auth_file.as_ref().and_then(|p| {
            let text = read("--token-auth-file", p, errs)?;
            StaticTokens::parse(&p.display().to_string(), &String::from_utf8_lossy(&text))
                .map_err(|e| errs.push(format!("--token-auth-file: {e}")))
                .ok()
        });
        let token_webhook = self
            .authentication_token_webhook_config_file
            .as_ref()
            .and_then(|p| {
                let cfg = webhook_config("--authentication-token-webhook-config-file", p, errs)?;
                let v = version(
                    "--authentication-token-webhook-version",
                    &self.authentication_token_webhook_version,
                    errs,
                );
                let ttl = duration(
                    "--authentication-token-webhook-cache-ttl",
                    &self.authentication_token_webhook_cache_ttl,
                    errs,
                );
                Some((cfg, v, ttl))
            });
        let authz_webhook = self
            .authorization_webhook_config_file
            .as_ref()
            .and_then(|p| {
                let cfg = webhook_config("--authorization-webhook-config-file", p, errs)?;
                let v = version(
                    "--authorization-webhook-version",
                    &self.authorization_webhook_version,
                    errs,
                );
                let allowed = duration(
                    "--authorization-webhook-cache-authorized-ttl",
                    &self.authorization_webhook_cache_authorized_ttl,
                    errs,
                );
                let denied = duration(
                    "--authorization-webhook-cache-unauthorized-ttl",
                    &self.authorization_webhook_cache_unauthorized_ttl,
                    errs,
                );
                Some((cfg, v, allowed, denied))
            });
        AuthnConfig {
            anonymous: self.anonymous_auth,
            static_tokens,
            bootstrap_tokens: self.enable_bootstrap_token_auth,
            token_webhook,
            oidc: self.oidc(errs),
            request_header: self.request_header(errs),
            authz_webhook,
        }
    }

    fn oidc(&self, errs: &mut Vec<String>) -> Option<(OidcConfig, Option<Vec<u8>>)> {
        let (issuer, client_id) = match (&self.oidc_issuer_url, &self.oidc_client_id) {
            (None, None) => return None,
            (Some(i), Some(c)) if !i.is_empty() && !c.is_empty() => (i, c),
            _ => {
                errs.push(
                    "--oidc-issuer-url and --oidc-client-id must be specified together".into(),
                );
                return None;
            }
        };
        let mut ok = true;
        if !issuer.starts_with("https://") {
            errs.push(format!(
                "--oidc-issuer-url {issuer:?}: the URL scheme must be https"
            ));
            ok = false;
        }
        if self.oidc_username_claim.is_empty() {
            errs.push("--oidc-username-claim must not be empty".into());
            ok = false;
        }
        for alg in &self.oidc_signing_algs {
            if !kaiser_auth::authn::jwt::SUPPORTED_ALGS.contains(&alg.as_str()) {
                errs.push(format!(
                    "--oidc-signing-algs: unsupported signing alg: {alg} (supported: {})",
                    kaiser_auth::authn::jwt::SUPPORTED_ALGS.join(", ")
                ));
                ok = false;
            }
        }
        let mut required = Vec::new();
        for pair in &self.oidc_required_claim {
            match pair.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    required.push((k.trim().to_string(), v.trim().to_string()))
                }
                _ => {
                    errs.push(format!("--oidc-required-claim: {pair:?} must be key=value"));
                    ok = false;
                }
            }
        }
        let ca = self
            .oidc_ca_file
            .as_ref()
            .and_then(|p| read("--oidc-ca-file", p, errs));
        if self.oidc_ca_file.is_some() && ca.is_none() {
            ok = false;
        }
        ok.then(|| {
            (
                OidcConfig {
                    issuer_url: issuer.clone(),
                    client_id: client_id.clone(),
                    username_claim: self.oidc_username_claim.clone(),
                    username_prefix: OidcConfig::resolve_username_prefix(
                        issuer,
                        &self.oidc_username_claim,
                        &self.oidc_username_prefix,
                    ),
                    groups_claim: self.oidc_groups_claim.clone(),
                    groups_prefix: self.oidc_groups_prefix.clone(),
                    required_claims: required,
                    signing_algs: self.oidc_signing_algs.clone(),
                },
                ca,
            )
        })
    }

    fn request_header(&self, errs: &mut Vec<String>) -> Option<RequestHeader> {
        let p = self.requestheader_client_ca_file.as_ref()?;
        let pem = read("--requestheader-client-ca-file", p, errs)?;
        let ca = CaBundle::from_pem(&pem)
            .map_err(|e| {
                errs.push(format!(
                    "--requestheader-client-ca-file {}: {e}",
                    p.display()
                ))
            })
            .ok()?;
        Some(RequestHeader {
            ca,
            allowed_names: self.requestheader_allowed_names.clone(),
            username_headers: or_default(
                &self.requestheader_username_headers,
                requestheader::DEFAULT_USERNAME_HEADERS,
            ),
            uid_headers: self.requestheader_uid_headers.clone(),
            group_headers: or_default(
                &self.requestheader_group_headers,
                requestheader::DEFAULT_GROUP_HEADERS,
            ),
            extra_prefixes: or_default(
                &self.requestheader_extra_headers_prefix,
                requestheader::DEFAULT_EXTRA_PREFIXES,
            ),
        })
    }

    /// The flags as `--name=value` lines, for the start-up log.
    pub fn describe(&self) -> Vec<String> {
        let opt = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        vec![
            format!("--anonymous-auth={}", self.anonymous_auth),
            format!(
                "--authentication-token-webhook-cache-ttl={}",
                self.authentication_token_webhook_cache_ttl
            ),
            format!(
                "--authentication-token-webhook-config-file={}",
                opt(&self.authentication_token_webhook_config_file)
            ),
            format!(
                "--authentication-token-webhook-version={}",
                self.authentication_token_webhook_version
            ),
            format!(
                "--authorization-webhook-cache-authorized-ttl={}",
                self.authorization_webhook_cache_authorized_ttl
            ),
            format!(
                "--authorization-webhook-cache-unauthorized-ttl={}",
                self.authorization_webhook_cache_unauthorized_ttl
            ),
            format!(
                "--authorization-webhook-config-file={}",
                opt(&self.authorization_webhook_config_file)
            ),
            format!(
                "--authorization-webhook-version={}",
                self.authorization_webhook_version
            ),
            format!(
                "--enable-bootstrap-token-auth={}",
                self.enable_bootstrap_token_auth
            ),
            format!("--oidc-ca-file={}", opt(&self.oidc_ca_file)),
            format!(
                "--oidc-client-id={}",
                self.oidc_client_id.clone().unwrap_or_default()
            ),
            format!("--oidc-groups-claim={}", self.oidc_groups_claim),
            format!("--oidc-groups-prefix={}", self.oidc_groups_prefix),
            format!(
                "--oidc-issuer-url={}",
                self.oidc_issuer_url.clone().unwrap_or_default()
            ),
            format!(
                "--oidc-required-claim={}",
                self.oidc_required_claim.join(",")
            ),
            format!("--oidc-signing-algs={}", self.oidc_signing_algs.join(",")),
            format!("--oidc-username-claim={}", self.oidc_username_claim),
            format!("--oidc-username-prefix={}", self.oidc_username_prefix),
            format!(
                "--requestheader-allowed-names={}",
                self.requestheader_allowed_names.join(",")
            ),
            format!(
                "--requestheader-client-ca-file={}",
                opt(&self.requestheader_client_ca_file)
            ),
            format!(
                "--requestheader-extra-headers-prefix={}",
                self.requestheader_extra_headers_prefix.join(",")
            ),
            format!(
                "--requestheader-group-headers={}",
                self.requestheader_group_headers.join(",")
            ),
            format!(
                "--requestheader-uid-headers={}",
                self.requestheader_uid_headers.join(",")
            ),
            format!(
                "--requestheader-username-headers={}",
                self.requestheader_username_headers.join(",")
            ),
            format!("--token-auth-file={}", opt(&self.token_auth_file)),
        ]
    }
}

/// The client CA: `--client-ca-file`, or kaiser's generated CA.
pub fn client_ca(file: Option<&Path>, generated: &Path, admin_cert: &Path) -> Result<CaBundle> {
    let path = file.unwrap_or(generated);
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let ca = CaBundle::from_pem(&pem).with_context(|| format!("parsing {}", path.display()))?;
    if file.is_some() {
        let admin = std::fs::read(admin_cert).unwrap_or_default();
        let chain: Vec<_> = rustls_pki_types::pem::PemObject::pem_slice_iter(&admin)
            .filter_map(Result::ok)
            .collect();
        if ca
            .verify(&chain, kaiser_apimachinery::time::now_unix())
            .is_err()
        {
            tracing::warn!(
                "--client-ca-file does not vouch for the generated admin certificate: the admin kubeconfig will not authenticate"
            );
        }
    }
    Ok(ca)
}

/// The CA certificates (DER) to name in the TLS certificate request.
pub fn tls_hints(
    client_ca: &CaBundle,
    c: &AuthnConfig,
) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    let mut all = client_ca.certificates().to_vec();
    if let Some(rh) = &c.request_header {
        all.extend(rh.ca.certificates().iter().cloned());
    }
    all
}

/// The union, in upstream's order: request header → x509 → tokens (static
/// file, service accounts, bootstrap, OIDC, webhook) → anonymous.
pub fn authenticator(
    c: &AuthnConfig,
    api_audiences: &[String],
    client_ca: CaBundle,
    kube: &KubeApiServer,
    service_accounts: Option<Arc<dyn TokenAuthenticator>>,
) -> Result<Authenticator> {
    let agnostic = |inner: Arc<dyn TokenAuthenticator>| -> Arc<dyn TokenAuthenticator> {
        Arc::new(AudienceAgnostic {
            inner,
            api_audiences: api_audiences.to_vec(),
        })
    };
    let mut tokens: Vec<Arc<dyn TokenAuthenticator>> = Vec::new();
    if let Some(t) = &c.static_tokens {
        tokens.push(agnostic(Arc::new(t.clone())));
    }
    tokens.extend(service_accounts);
    if c.bootstrap_tokens
        && let Some(b) = kube.bootstrap_tokens()
    {
        tokens.push(agnostic(b));
    }
    if let Some((cfg, ca)) = &c.oidc {
        let keys = RemoteKeySet::new(&cfg.issuer_url, ca.clone())
            .context("--oidc-ca-file: not a usable CA bundle")?;
        let init = keys.clone();
        tokio::spawn(async move { init.initialize().await });
        tokens.push(agnostic(Arc::new(OidcAuthenticator {
            config: cfg.clone(),
            keys,
        })));
    }
    if let Some((cfg, version, ttl)) = &c.token_webhook {
        let client = WebhookClient::new(cfg.clone(), None)
            .context("--authentication-token-webhook-config-file")?;
        let hook = Arc::new(TokenWebhook::new(client, version, api_audiences.to_vec()));
        tokens.push(Arc::new(CachedTokens::new(hook, *ttl, *ttl)));
    }
    Ok(Authenticator {
        request_header: c.request_header.clone(),
        client_ca: Some(client_ca),
        tokens,
        anonymous: c.anonymous,
        api_audiences: api_audiences.to_vec(),
    })
}

/// The authorization webhook, when configured.
pub fn authorization_webhook(c: &AuthnConfig) -> Result<Option<Arc<AuthorizationWebhook>>> {
    let Some((cfg, version, allowed, denied)) = &c.authz_webhook else {
        return Ok(None);
    };
    let client =
        WebhookClient::new(cfg.clone(), None).context("--authorization-webhook-config-file")?;
    Ok(Some(Arc::new(AuthorizationWebhook::new(
        client, version, *allowed, *denied,
    ))))
}

/// What `kube-system/extension-apiserver-authentication` publishes.
pub fn published_info(client_ca: &CaBundle, c: &AuthnConfig) -> AuthenticationInfo {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    AuthenticationInfo {
        client_ca_pem: Some(text(client_ca.pem())),
        request_header: c.request_header.as_ref().map(|rh| RequestHeaderInfo {
            ca_pem: text(rh.ca.pem()),
            allowed_names: rh.allowed_names.clone(),
            username_headers: rh.username_headers.clone(),
            uid_headers: rh.uid_headers.clone(),
            group_headers: rh.group_headers.clone(),
            extra_prefixes: rh.extra_prefixes.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::options::Options;

    fn parse(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("kaiser").chain(args.iter().copied()))
            .expect("parses")
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = parse(&[]).complete().expect("valid").authn;
        assert!(c.anonymous);
        assert!(!c.bootstrap_tokens);
        assert!(c.static_tokens.is_none() && c.oidc.is_none() && c.request_header.is_none());
        let o = parse(&["--anonymous-auth=false", "--enable-bootstrap-token-auth"]);
        let c = o.complete().expect("valid").authn;
        assert!(!c.anonymous);
        assert!(c.bootstrap_tokens);
        assert_eq!(o.authn.authentication_token_webhook_cache_ttl, "2m");
        assert_eq!(o.authn.authorization_webhook_cache_authorized_ttl, "5m");
        assert_eq!(o.authn.authorization_webhook_cache_unauthorized_ttl, "30s");
    }

    #[test]
    fn oidc_flags_complete_as_upstream() {
        let c = parse(&[
            "--oidc-issuer-url=https://issuer.example",
            "--oidc-client-id=kaiser",
            "--oidc-required-claim=hd=example.com,tier=gold",
            "--oidc-signing-algs=RS256,ES256",
        ])
        .complete()
        .expect("valid")
        .authn;
        let (cfg, ca) = c.oidc.expect("configured");
        assert_eq!(cfg.username_claim, "sub");
        assert_eq!(cfg.username_prefix, "https://issuer.example#");
        assert_eq!(
            cfg.required_claims,
            [
                ("hd".to_string(), "example.com".to_string()),
                ("tier".to_string(), "gold".to_string())
            ]
        );
        assert!(ca.is_none());
        let email = parse(&[
            "--oidc-issuer-url=https://issuer.example",
            "--oidc-client-id=kaiser",
            "--oidc-username-claim=email",
        ])
        .complete()
        .expect("valid")
        .authn;
        assert_eq!(email.oidc.expect("configured").0.username_prefix, "");
    }

    #[test]
    fn every_authentication_error_is_reported() {
        let errs = parse(&[
            "--oidc-issuer-url=http://issuer.example",
            "--oidc-client-id=kaiser",
            "--oidc-signing-algs=HS256",
            "--oidc-required-claim=novalue",
            "--token-auth-file=/no/such/file",
            "--requestheader-client-ca-file=/no/such/ca",
            "--authentication-token-webhook-config-file=/no/such/kubeconfig",
        ])
        .complete()
        .expect_err("invalid");
        for want in [
            "the URL scheme must be https",
            "unsupported signing alg: HS256",
            "--oidc-required-claim",
            "--token-auth-file /no/such/file",
            "--requestheader-client-ca-file /no/such/ca",
            "--authentication-token-webhook-config-file",
        ] {
            assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
        }
        let errs = parse(&["--oidc-client-id=kaiser"])
            .complete()
            .expect_err("invalid");
        assert_eq!(
            errs,
            ["--oidc-issuer-url and --oidc-client-id must be specified together"]
        );
    }

    #[test]
    fn request_header_defaults_to_upstreams_header_names() {
        let dir = tempfile::tempdir().expect("test set-up");
        let key = rcgen::KeyPair::generate().expect("test set-up");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("test set-up");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("test set-up");
        let file = dir.path().join("proxy-ca.pem");
        std::fs::write(&file, ca.pem()).expect("test set-up");
        let arg = format!("--requestheader-client-ca-file={}", file.display());
        let rh = parse(&[&arg])
            .complete()
            .expect("valid")
            .authn
            .request_header
            .expect("configured");
        assert_eq!(rh.username_headers, ["X-Remote-User"]);
        assert_eq!(rh.group_headers, ["X-Remote-Group"]);
        assert_eq!(rh.extra_prefixes, ["X-Remote-Extra-"]);
        assert!(rh.uid_headers.is_empty() && rh.allowed_names.is_empty());
    }
}
