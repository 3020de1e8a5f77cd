//! The project's one outbound webhook client: every call kaiser makes to a
//! server outside itself (token and authorization webhooks, audit webhooks,
//! CRD conversion webhooks, OIDC discovery, admission webhooks) goes through
//! [`WebhookClient`].
//!
//! A target is either a URL or a Service reference (`namespace/name:port`
//! plus path) that a [`ServiceResolver`] turns into an address; TLS trusts
//! the target's `caBundle` (or the system roots when it has none), may
//! present a client certificate, and names a Service target
//! `<name>.<namespace>.svc` as upstream does. Targets also come from
//! kubeconfig files, the format of upstream's `--*-config-file` flags
//! ([`ClientConfig::from_kubeconfig_file`]).
//!
//! Beside the client, the authenticators and the authorizer that call out
//! through it: the token webhook ([`token`], TokenReview), the
//! authorization webhook ([`authz`], SubjectAccessReview) and OIDC key
//! sets ([`oidc`]); they implement `kaiser_auth`'s traits.

pub mod authz;
mod client;
mod config;
pub mod oidc;
pub mod token;

pub use client::{WebhookClient, connect_tls, tls_client_config};
pub use config::{ClientConfig, ServiceRef, Target};

use async_trait::async_trait;

/// Why a webhook call failed; the message is safe to show to clients (it
/// never contains credentials).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid webhook configuration: {0}")]
    Config(String),
    #[error("failed to resolve the webhook's service: {0}")]
    Resolve(String),
    #[error("failed calling webhook {url}: {reason}")]
    Call { url: String, reason: String },
    #[error("webhook {url} answered with HTTP status {code}: {body}")]
    Status {
        url: String,
        code: u16,
        body: String,
    },
    #[error("webhook {url} answered with a body that is not valid JSON: {reason}")]
    Decode { url: String, reason: String },
    #[error("webhook {url} did not answer within {seconds}s")]
    Timeout { url: String, seconds: u64 },
}

/// Where a Service's port is reachable from this process: an address to
/// connect to. Implemented over the Service and EndpointSlice stores by the
/// KubeAPIServer.
#[async_trait]
pub trait ServiceResolver: Send + Sync {
    /// Host (IP address or name) and port to dial for `port` of Service
    /// `namespace/name`.
    async fn resolve(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> Result<(String, u16), WebhookError>;
}

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod tests;
