//! kaiser's authentication and authorization.
//!
//! Owns `UserInfo`, the authenticators and their union (`authn`: client
//! certificates, front-proxy headers, static, service-account, bootstrap
//! and OIDC tokens, anonymous), the authorization modes that need no I/O
//! (privileged groups, AlwaysAllow, AlwaysDeny, their union), RBAC
//! evaluation over an indexed policy, the Node authorizer's rules over a
//! graph of what is bound to each node, impersonation and auditing (policy,
//! events, the log backend). Takes typed inputs (header maps, certificate
//! chains, objects); never serves or sends HTTP.

pub mod audit;
pub mod authn;
pub mod authz;
pub mod impersonation;
pub mod node;
pub mod rbac;
pub mod serviceaccount;

pub use authn::{TokenAuthenticator, UserInfo, anonymous, user_from_certificate};
pub use authz::{Attributes, Authorizer, Decision, UserRules, forbidden_message};
