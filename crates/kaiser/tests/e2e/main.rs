//! End-to-end tests: the real `kaiser` binary driven by real clients
//! (kubectl in several versions, kube-rs, curl), on loopback.

mod harness;

mod apply;
mod bad_input;
mod binary;
mod catalogue;
mod crd;
mod etcd;
mod health;
mod kube_rs;
mod kubectl;
mod machinery;
mod persistence;
mod protobuf;
mod schema;
mod watch;
