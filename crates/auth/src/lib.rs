//! kaiser's authentication and authorization.
//!
//! Owns `UserInfo`, the authenticators (x509 client certificates so far) and
//! the authorizers (the bootstrap policy subset: `system:masters`, discovery
//! and public-info paths). Takes typed inputs; never speaks HTTP.

pub mod authn;
pub mod authz;
pub mod rbac;
pub mod serviceaccount;

pub use authn::{UserInfo, anonymous, user_from_certificate};
pub use authz::{Attributes, Decision, authorize, forbidden_message};
pub use rbac::Authorizer;
pub use serviceaccount::TokenAuthenticator;
