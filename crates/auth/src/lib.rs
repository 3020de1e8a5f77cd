//! kaiser's authentication and authorization.
//!
//! Owns `UserInfo`, the authenticators (x509 client certificates so far),
//! the authorizers (the bootstrap policy subset: `system:masters`, discovery
//! and public-info paths), impersonation and auditing (policy, events, the
//! log backend). Takes typed inputs; never speaks HTTP.

pub mod audit;
pub mod authn;
pub mod authz;
pub mod impersonation;
pub mod rbac;
pub mod serviceaccount;

pub use authn::{UserInfo, anonymous, user_from_certificate};
pub use authz::{Attributes, Decision, authorize, forbidden_message};
pub use rbac::Authorizer;
pub use serviceaccount::TokenAuthenticator;
