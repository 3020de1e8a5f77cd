//! End-to-end tests: the real `kaiser` binary driven by real clients
//! (kubectl in several versions, kube-rs, curl), on loopback.

mod harness;

mod aggregator;
mod apply;
mod audit;
mod authn;
mod bad_input;
mod binary;
mod catalogue;
mod crd;
mod crd_more;
mod etcd;
mod extension_server;
mod health;
mod kube_rs;
mod kubectl;
mod machinery;
mod persistence;
mod protobuf;
mod python_client;
mod rbac;
mod schema;
mod validation_more;
mod watch;
