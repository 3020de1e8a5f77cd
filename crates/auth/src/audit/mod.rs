//! Auditing, as upstream's `k8s.io/apiserver/pkg/audit`: the policy that
//! decides each request's level (`policy`), the `audit.k8s.io/v1` events
//! and the per-request recorder that fills them stage by stage (`event`),
//! and the backends that receive them (`log`: JSON or legacy lines on a
//! file rotated like lumberjack, `rotate`; `batch`: buffered delivery and
//! truncation, for the webhook and the log's `batch` mode).

pub mod batch;
pub mod event;
pub mod log;
pub mod policy;
pub mod rotate;

use std::sync::Arc;

use serde::Serialize;

pub use event::{Event, EventUser, ObjectRef, Recorder, RequestMeta};
pub use policy::{Policy, RequestConfig};

/// How much of a request is recorded, from nothing to both bodies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    #[default]
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "None" => Level::None,
            "Metadata" => Level::Metadata,
            "Request" => Level::Request,
            "RequestResponse" => Level::RequestResponse,
            _ => return None,
        })
    }
}

/// When in a request's life an event is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Stage {
    RequestReceived,
    ResponseStarted,
    ResponseComplete,
    Panic,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "RequestReceived" => Stage::RequestReceived,
            "ResponseStarted" => Stage::ResponseStarted,
            "ResponseComplete" => Stage::ResponseComplete,
            "Panic" => Stage::Panic,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }
}

/// Where events go (the log file, a webhook).
pub trait Backend: Send + Sync {
    /// Takes one event; a backend that cannot deliver logs the failure
    /// itself (upstream's default modes never fail the request).
    fn process(&self, event: &Event);
    /// Flushes what is buffered; called once at shutdown.
    fn shutdown(&self) {}
}

/// The policy and the backends: everything a request needs to be audited.
pub struct Auditor {
    pub policy: Policy,
    backends: Vec<Arc<dyn Backend>>,
}

impl Auditor {
    pub fn new(policy: Policy, backends: Vec<Arc<dyn Backend>>) -> Auditor {
        Auditor { policy, backends }
    }

    pub fn emit(&self, event: &Event) {
        for b in &self.backends {
            b.process(event);
        }
    }

    pub fn shutdown(&self) {
        for b in &self.backends {
            b.shutdown();
        }
    }
}
