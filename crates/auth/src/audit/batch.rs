//! Buffered delivery (upstream's `batch` mode): events queue in a bounded
//! buffer and one worker thread hands them on in batches, when a batch is
//! full or the oldest queued event has waited long enough, optionally
//! throttled; a full buffer drops the event with an error, as upstream.
//! Also the truncating wrapper of `--audit-*-truncate-*`.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Backend, Event, Level};

/// Where a batch goes.
pub trait BatchSink: Send + Sync + 'static {
    fn send(&self, events: &[Event]);
}

/// Upstream's `--audit-*-batch-*` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    pub buffer_size: usize,
    pub max_batch_size: usize,
    pub max_wait: Duration,
    /// Batches per second and burst, when throttled.
    pub throttle: Option<(f32, u32)>,
}

pub struct Buffered {
    name: &'static str,
    tx: Mutex<Option<SyncSender<Event>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Buffered {
    pub fn new(name: &'static str, sink: Arc<dyn BatchSink>, config: BatchConfig) -> Buffered {
        let (tx, rx) = mpsc::sync_channel(config.buffer_size.max(1));
        let worker = std::thread::Builder::new()
            .name(format!("audit-{name}"))
            .spawn(move || run(rx, sink.as_ref(), &config))
            .map_err(|e| tracing::error!(error = %e, "cannot start the audit {name} worker"))
            .ok();
        Buffered {
            name,
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(worker),
        }
    }
}

impl Backend for Buffered {
    fn process(&self, event: &Event) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = tx.as_ref() else {
            return;
        };
        match tx.try_send(event.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => tracing::error!(
                backend = self.name,
                audit_id = %event.audit_id,
                "audit buffer queue blocked; event dropped"
            ),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Stops taking events, sends what is queued and waits for the worker.
    fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = w.join();
        }
    }
}

fn run(rx: Receiver<Event>, sink: &dyn BatchSink, config: &BatchConfig) {
    let mut limiter = config.throttle.map(|(qps, burst)| Limiter::new(qps, burst));
    let mut open = true;
    while open {
        // Wait for the first event of a batch, then fill it until it is
        // full or max_wait has passed since that first event.
        let first = match rx.recv() {
            Ok(e) => e,
            Err(_) => break,
        };
        let deadline = Instant::now() + config.max_wait;
        let mut batch = vec![first];
        while batch.len() < config.max_batch_size {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = if left.is_zero() {
                rx.try_recv().map_err(|e| match e {
                    mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            } else {
                rx.recv_timeout(left)
            };
            match next {
                Ok(e) => batch.push(e),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if let Some(l) = limiter.as_mut() {
            l.wait();
        }
        sink.send(&batch);
    }
}

/// A token bucket: `qps` tokens a second, at most `burst` saved.
struct Limiter {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Limiter {
    fn new(qps: f32, burst: u32) -> Limiter {
        Limiter {
            qps: f64::from(qps).max(f64::MIN_POSITIVE),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    fn wait(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.qps).min(self.burst);
        self.last = now;
        if self.tokens < 1.0 {
            let secs = (1.0 - self.tokens) / self.qps;
            std::thread::sleep(Duration::from_secs_f64(secs.min(60.0)));
            self.tokens = 1.0;
            self.last = Instant::now();
        }
        self.tokens -= 1.0;
    }
}

const TRUNCATED: &str = "audit.k8s.io/truncated";

/// Events larger than `max_event_size` bytes (as JSON) lose their request
/// and response objects and are marked truncated; still too large, dropped.
pub struct Truncate {
    pub inner: Arc<dyn Backend>,
    pub max_event_size: usize,
}

/// The event as the truncating wrapper would pass it on, or None to drop.
pub fn truncated(event: &Event, max_event_size: usize) -> Option<std::borrow::Cow<'_, Event>> {
    let size = |e: &Event| serde_json::to_vec(e).map_or(usize::MAX, |v| v.len());
    if size(event) <= max_event_size {
        return Some(std::borrow::Cow::Borrowed(event));
    }
    if event.level < Level::Request {
        return None;
    }
    let mut cut = event.clone();
    cut.request_object = None;
    cut.response_object = None;
    cut.annotations.insert(TRUNCATED.into(), "true".into());
    (size(&cut) <= max_event_size).then_some(std::borrow::Cow::Owned(cut))
}

impl Backend for Truncate {
    fn process(&self, event: &Event) {
        match truncated(event, self.max_event_size) {
            Some(e) => self.inner.process(&e),
            None => {
                tracing::error!(audit_id = %event.audit_id, "audit event is too large even after truncation; dropped")
            }
        }
    }

    fn shutdown(&self) {
        self.inner.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Stage, event::EventUser};
    use serde_json::json;

    fn event(id: &str) -> Event {
        Event {
            kind: "Event",
            api_version: "audit.k8s.io/v1",
            level: Level::RequestResponse,
            audit_id: id.into(),
            stage: Stage::ResponseComplete,
            request_uri: "/api".into(),
            verb: "get".into(),
            user: EventUser::default(),
            impersonated_user: None,
            source_ips: vec![],
            user_agent: String::new(),
            object_ref: None,
            response_status: None,
            request_object: Some(json!({"data": "x".repeat(500)})),
            response_object: None,
            request_received_timestamp: String::new(),
            stage_timestamp: String::new(),
            annotations: Default::default(),
        }
    }

    #[derive(Default)]
    struct Batches(Mutex<Vec<Vec<String>>>);

    impl BatchSink for Batches {
        fn send(&self, events: &[Event]) {
            let ids = events.iter().map(|e| e.audit_id.clone()).collect();
            self.0.lock().expect("lock").push(ids);
        }
    }

    #[test]
    fn batches_up_to_the_max_size_and_flushes_at_shutdown() {
        let sink = Arc::new(Batches::default());
        let b = Buffered::new(
            "test",
            sink.clone(),
            BatchConfig {
                buffer_size: 100,
                max_batch_size: 3,
                max_wait: Duration::from_secs(30),
                throttle: Some((1000.0, 10)),
            },
        );
        for i in 0..7 {
            b.process(&event(&i.to_string()));
        }
        b.shutdown();
        b.process(&event("late"));
        let got = sink.0.lock().expect("lock").clone();
        assert_eq!(
            got,
            vec![vec!["0", "1", "2"], vec!["3", "4", "5"], vec!["6"]]
        );
    }

    #[test]
    fn large_events_lose_their_objects() {
        let e = event("big");
        let small = truncated(&e, 10_000).expect("fits");
        assert!(small.request_object.is_some());
        let cut = truncated(&e, 400).expect("fits once cut");
        assert!(cut.request_object.is_none());
        assert_eq!(cut.annotations[TRUNCATED], "true");
        assert!(truncated(&e, 10).is_none());
    }
}
