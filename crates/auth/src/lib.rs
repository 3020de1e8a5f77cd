//! kaiser's authentication and authorization.
//!
//! Owns `UserInfo`, the authenticators and their union (`authn`: client
//! certificates, front-proxy headers, static, service-account, bootstrap
//! and OIDC tokens, anonymous) and the authorizers (the bootstrap policy
//! subset: `system:masters`, discovery and public-info paths; RBAC). Takes
//! typed inputs (header maps, certificate chains, objects); never serves
//! or sends HTTP.

pub mod authn;
pub mod authz;
pub mod rbac;
pub mod serviceaccount;

pub use authn::{TokenAuthenticator, UserInfo, anonymous, user_from_certificate};
pub use authz::{Attributes, Decision, authorize, forbidden_message};
pub use rbac::Authorizer;
