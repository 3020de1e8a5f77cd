//! The availability controllers: every APIService gets an `Available`
//! condition. Local ones are always available (`Local`); a remote one is
//! checked as upstream checks it: its Service exists, a ClusterIP Service
//! listens on the port and has ready endpoints for it, and its server
//! answers `GET /apis/<group>/<version>` with 2xx or 3xx within 5 s (as
//! `system:kube-aggregator` in `system:masters`, with the proxy client
//! certificate, not verifying the server). Checked when the APIService, its
//! Service or its EndpointSlices change, every 30 s, again soon after a
//! failed check, and when the proxy could not reach the backend. Written
//! through the status subresource only when the condition changes.

use std::sync::Arc;
use std::time::Duration;

use kaiser_admission::webhook::{ServiceResolver, WebhookError};
use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::list::ListOptions;
use kaiser_registry::Store;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::apiservice::{ApiService, ServiceRef};
use crate::client::{Backend, Connector};
use crate::headers::{self, Identity};
use crate::informer::{self, Change, Queue};
use crate::routes::Routes;

/// Every APIService is checked again this often (upstream's resync).
pub const RESYNC: Duration = Duration::from_secs(30);
/// A discovery check gets this long (upstream's client timeout).
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// An `Available` condition, without its transition time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub status: &'static str,
    pub reason: &'static str,
    pub message: String,
}

impl Condition {
    fn new(status: &'static str, reason: &'static str, message: String) -> Condition {
        Condition {
            status,
            reason,
            message,
        }
    }

    pub fn local() -> Condition {
        Condition::new(
            "True",
            "Local",
            "Local APIServices are always available".into(),
        )
    }

    pub fn passed() -> Condition {
        Condition::new("True", "Passed", "all checks passed".into())
    }

    fn failed(reason: &'static str, message: String) -> Condition {
        Condition::new("False", reason, message)
    }
}

/// The checks that read only the Service and its EndpointSlices: the
/// condition when one fails, `None` when the server itself may be asked.
pub fn service_condition(
    svc_ref: &ServiceRef,
    service: Option<&Value>,
    slices: &[Value],
) -> Option<Condition> {
    let (ns, name, port) = (&svc_ref.namespace, &svc_ref.name, svc_ref.port);
    let Some(service) = service else {
        return Some(Condition::failed(
            "ServiceNotFound",
            format!("service/{name} in {ns:?} is not present"),
        ));
    };
    let spec = &service["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    if kind != "ClusterIP" {
        return None;
    }
    let Some(svc_port) = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))
    else {
        return Some(Condition::failed(
            "ServicePortError",
            format!("service/{name} in {ns:?} is not listening on port {port}"),
        ));
    };
    let port_name = svc_port["name"].as_str().unwrap_or("");
    if slices.is_empty() {
        return Some(Condition::failed(
            "EndpointsNotFound",
            format!("cannot find endpointslices for service/{name} in {ns:?}"),
        ));
    }
    if !slices.iter().any(|s| has_ready_endpoint(s, port_name)) {
        return Some(Condition::failed(
            "MissingEndpoints",
            format!(
                "endpointslices for service/{name} in {ns:?} have no addresses with port name {port_name:?}"
            ),
        ));
    }
    None
}

/// A slice with a ready endpoint (an absent `ready` counts as ready) and a
/// port named `port_name` that has a number.
fn has_ready_endpoint(slice: &Value, port_name: &str) -> bool {
    let ready = slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["conditions"]["ready"].as_bool() != Some(false));
    let port = slice["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["name"].as_str() == Some(port_name) && p["port"].is_u64());
    ready && port
}

/// Sets the `Available` condition on an APIService object, keeping the
/// transition time unless the status changes.
pub fn set_condition(obj: &mut Value, c: &Condition, now: &str) {
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    if !obj["status"]["conditions"].is_array() {
        obj["status"]["conditions"] = json!([]);
    }
    let Some(list) = obj["status"]["conditions"].as_array_mut() else {
        return;
    };
    match list.iter_mut().find(|x| x["type"] == "Available") {
        Some(x) => {
            if x["status"] != c.status {
                x["status"] = json!(c.status);
                x["lastTransitionTime"] = json!(now);
            }
            x["reason"] = json!(c.reason);
            x["message"] = json!(c.message);
        }
        None => list.push(json!({
            "type": "Available",
            "status": c.status,
            "lastTransitionTime": now,
            "reason": c.reason,
            "message": c.message,
        })),
    }
}

/// The object's current `Available` condition.
pub fn current_condition(obj: &Value) -> Option<(String, String, String)> {
    let c = obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Available")?;
    let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
    Some((s("status"), s("reason"), s("message")))
}

/// The availability controller.
pub struct Availability {
    pub api_services: Arc<Store>,
    pub services: Arc<Store>,
    pub endpoint_slices: Arc<Store>,
    pub routes: Arc<Routes>,
    pub resolver: Arc<dyn ServiceResolver>,
    pub connector: Arc<Connector>,
    /// Insecure, presenting the proxy client certificate.
    pub check_tls: Arc<rustls::ClientConfig>,
    pub queue: Arc<Queue>,
}

fn none(_: &Value, _: Option<&Value>) -> Result<(), StatusError> {
    Ok(())
}

impl Availability {
    /// Checks one APIService and records the result.
    pub async fn sync(&self, name: &str) -> Result<(), String> {
        let obj = match self.api_services.get("", name).await {
            Ok(o) => o,
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e.message),
        };
        let s = ApiService::from_json(&obj);
        let cond = match &s.service {
            None => Condition::local(),
            Some(svc) => self.check(&s, svc).await,
        };
        let failed = cond.reason == "FailedDiscoveryCheck";
        let now = current_condition(&obj);
        let want = (
            cond.status.to_string(),
            cond.reason.to_string(),
            cond.message.clone(),
        );
        if now.as_ref() != Some(&want) {
            let flipped = now.as_ref().map(|c| c.0.as_str()) != Some(cond.status);
            if flipped && s.service.is_some() {
                tracing::info!(apiservice = %name, status = cond.status, reason = cond.reason, message = %cond.message, "changing APIService availability");
            }
            self.write(name, &cond).await?;
        }
        if failed {
            return Err(cond.message);
        }
        Ok(())
    }

    async fn write(&self, name: &str, cond: &Condition) -> Result<(), String> {
        let status = self
            .api_services
            .subresource("status")
            .cloned()
            .unwrap_or_else(|| self.api_services.clone());
        let apply = |old: Option<&Value>| {
            let mut o = old.cloned().unwrap_or(Value::Null);
            set_condition(&mut o, cond, &kaiser_apimachinery::time::now_rfc3339());
            Ok(o)
        };
        match status.update("", name, &apply, &none, false).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(e.message),
        }
    }

    /// The condition of a remote APIService.
    async fn check(&self, s: &ApiService, svc: &ServiceRef) -> Condition {
        let service = match self.services.get_cached(&svc.namespace, &svc.name).await {
            Ok(v) => Some(v),
            Err(e) if e.code == 404 => None,
            Err(e) => {
                return Condition::new(
                    "Unknown",
                    "ServiceAccessError",
                    format!(
                        "service/{} in {:?} cannot be checked due to: {}",
                        svc.name, svc.namespace, e.message
                    ),
                );
            }
        };
        let slices = match &service {
            Some(v) if v["spec"]["type"].as_str().unwrap_or("ClusterIP") == "ClusterIP" => {
                match self.slices(svc).await {
                    Ok(s) => s,
                    Err(e) => {
                        return Condition::new(
                            "Unknown",
                            "EndpointsAccessError",
                            format!(
                                "service/{} in {:?} cannot be checked due to: {e}",
                                svc.name, svc.namespace
                            ),
                        );
                    }
                }
            }
            _ => Vec::new(),
        };
        if let Some(c) = service_condition(svc, service.as_ref(), &slices) {
            return c;
        }
        match self.discovery_check(s, svc).await {
            Ok(()) => Condition::passed(),
            Err(message) => Condition::failed("FailedDiscoveryCheck", message),
        }
    }

    async fn slices(&self, svc: &ServiceRef) -> Result<Vec<Value>, String> {
        let selector = format!("kubernetes.io/service-name={}", svc.name);
        let opts =
            ListOptions::from_query([("resourceVersion", "0"), ("labelSelector", &selector)])
                .map_err(|e| e.message)?;
        let list = self
            .endpoint_slices
            .list(&svc.namespace, &opts)
            .await
            .map_err(|e| e.message)?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// GETs the group version's discovery document from the server.
    async fn discovery_check(&self, s: &ApiService, svc: &ServiceRef) -> Result<(), String> {
        let (host, port) = self
            .resolver
            .resolve(&svc.namespace, &svc.name, svc.port)
            .await
            .map_err(|e| match e {
                WebhookError::Resolve(m) => m,
                other => other.to_string(),
            })?;
        let backend = Backend {
            host,
            port,
            server_name: svc.server_name(),
            tls: self.check_tls.clone(),
        };
        let path = if s.name == "v1." {
            format!("/api/{}", s.version)
        } else {
            format!("/apis/{}/{}", s.group, s.version)
        };
        let url = format!("https://{}{path}", backend.authority());
        let mut h = http::HeaderMap::new();
        let groups = ["system:masters".to_string()];
        headers::set_identity(
            &mut h,
            &Identity {
                name: "system:kube-aggregator",
                groups: &groups,
                extra: &[],
            },
        );
        let call = self.connector.get(&backend, &path, h, 1 << 20);
        let missing = |why: String| format!("failing or missing response from {url}: {why}");
        match tokio::time::timeout(CHECK_TIMEOUT, call).await {
            Err(_) => Err(missing(format!(
                "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            ))),
            Ok(Err(e)) => Err(missing(format!("Get {url:?}: {e}"))),
            Ok(Ok((code, _, _))) if !(200..300).contains(&code.as_u16()) => {
                Err(missing(format!("bad status from {url}: {}", code.as_u16())))
            }
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Queues the APIServices that use Service `namespace/name`.
    fn queue_users_of(&self, namespace: &str, name: &str) {
        for s in self.routes.all() {
            if s.service
                .as_ref()
                .is_some_and(|r| r.namespace == namespace && r.name == name)
            {
                self.queue.add(&s.name);
            }
        }
    }

    /// Runs the controller until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        // Services and EndpointSlices requeue the APIServices that use them.
        let me = self.clone();
        tokio::spawn(informer::list_watch(
            self.services.clone(),
            move |c| {
                if let Change::Event(_, svc) = c {
                    me.queue_users_of(
                        kaiser_apimachinery::meta::namespace(svc),
                        kaiser_apimachinery::meta::name(svc),
                    );
                }
            },
            shutdown.clone(),
        ));
        let me = self.clone();
        tokio::spawn(informer::list_watch(
            self.endpoint_slices.clone(),
            move |c| {
                if let Change::Event(_, slice) = c
                    && let Some(svc) =
                        slice["metadata"]["labels"]["kubernetes.io/service-name"].as_str()
                {
                    me.queue_users_of(kaiser_apimachinery::meta::namespace(slice), svc);
                }
            },
            shutdown.clone(),
        ));
        let routes = self.routes.clone();
        let names = move || routes.all().iter().map(|s| s.name.clone()).collect();
        self.queue.resync_every(RESYNC, names, shutdown.clone());
        let me = &self;
        let sync = move |name: String| async move { me.sync(&name).await };
        let failed = |name: &str, e: String| tracing::debug!(apiservice = %name, error = %e, "APIService not available yet");
        self.queue.work(shutdown, sync, failed).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc_ref() -> ServiceRef {
        ServiceRef {
            namespace: "kube-system".into(),
            name: "metrics-server".into(),
            port: 443,
        }
    }

    fn reason(c: Option<Condition>) -> Option<(&'static str, String)> {
        c.map(|c| (c.reason, c.message))
    }

    #[test]
    fn reasons_and_messages_as_upstream() {
        let r = svc_ref();
        assert_eq!(
            reason(service_condition(&r, None, &[])),
            Some((
                "ServiceNotFound",
                "service/metrics-server in \"kube-system\" is not present".into()
            ))
        );
        let svc =
            json!({"spec": {"type": "ClusterIP", "ports": [{"name": "https", "port": 8443}]}});
        assert_eq!(
            reason(service_condition(&r, Some(&svc), &[])),
            Some((
                "ServicePortError",
                "service/metrics-server in \"kube-system\" is not listening on port 443".into()
            ))
        );
        let svc = json!({"spec": {"ports": [{"name": "https", "port": 443}]}});
        assert_eq!(
            reason(service_condition(&r, Some(&svc), &[])),
            Some((
                "EndpointsNotFound",
                "cannot find endpointslices for service/metrics-server in \"kube-system\"".into()
            ))
        );
        let not_ready = json!({"ports": [{"name": "https", "port": 4443}],
            "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": false}}]});
        let other_port = json!({"ports": [{"name": "metrics", "port": 4443}],
            "endpoints": [{"addresses": ["10.0.0.9"]}]});
        assert_eq!(
            reason(service_condition(&r, Some(&svc), &[not_ready, other_port])),
            Some((
                "MissingEndpoints",
                "endpointslices for service/metrics-server in \"kube-system\" have no addresses with port name \"https\"".into()
            ))
        );
        let ready = json!({"ports": [{"name": "https", "port": 4443}],
            "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": true}}]});
        assert_eq!(service_condition(&r, Some(&svc), &[ready]), None);
        // Other Service types go straight to the discovery check.
        let external = json!({"spec": {"type": "ExternalName", "externalName": "localhost"}});
        assert_eq!(service_condition(&r, Some(&external), &[]), None);
    }

    #[test]
    fn an_unnamed_port_needs_an_empty_name_on_the_slice() {
        let r = svc_ref();
        let svc = json!({"spec": {"ports": [{"port": 443}]}});
        let unnamed =
            json!({"ports": [{"port": 4443}], "endpoints": [{"addresses": ["10.0.0.9"]}]});
        assert_eq!(
            service_condition(&r, Some(&svc), &[unnamed]).map(|c| c.reason),
            Some("MissingEndpoints")
        );
        let named = json!({"ports": [{"name": "", "port": 4443}], "endpoints": [{"addresses": ["10.0.0.9"]}]});
        assert_eq!(service_condition(&r, Some(&svc), &[named]), None);
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut obj = json!({"metadata": {"name": "v1.x.io"}});
        set_condition(&mut obj, &Condition::passed(), "t1");
        let c = &obj["status"]["conditions"][0];
        assert_eq!(
            (
                c["status"].as_str(),
                c["reason"].as_str(),
                c["lastTransitionTime"].as_str()
            ),
            (Some("True"), Some("Passed"), Some("t1"))
        );
        set_condition(&mut obj, &Condition::local(), "t2");
        assert_eq!(obj["status"]["conditions"][0]["lastTransitionTime"], "t1");
        assert_eq!(obj["status"]["conditions"][0]["reason"], "Local");
        let failed = Condition::failed("FailedDiscoveryCheck", "down".into());
        set_condition(&mut obj, &failed, "t3");
        assert_eq!(obj["status"]["conditions"][0]["lastTransitionTime"], "t3");
        assert_eq!(
            obj["status"]["conditions"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            current_condition(&obj),
            Some(("False".into(), "FailedDiscoveryCheck".into(), "down".into()))
        );
    }
}
