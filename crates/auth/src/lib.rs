//! kaiser's authentication and authorization.
//!
//! Owns `UserInfo`, the authenticators (x509 client certificates,
//! service-account tokens), the authorization modes that need no I/O
//! (privileged groups, AlwaysAllow, AlwaysDeny, their union), RBAC
//! evaluation over an indexed policy, the Node authorizer's rules over a
//! graph of what is bound to each node, impersonation and auditing (policy,
//! events, the log backend). Takes typed inputs; never speaks HTTP.

pub mod audit;
pub mod authn;
pub mod authz;
pub mod impersonation;
pub mod node;
pub mod rbac;
pub mod serviceaccount;

pub use authn::{UserInfo, anonymous, user_from_certificate};
pub use authz::{Attributes, Authorizer, Decision, UserRules, forbidden_message};
pub use serviceaccount::TokenAuthenticator;
