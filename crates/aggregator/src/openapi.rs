//! The remote part of `/openapi/v2` and `/openapi/v3`: each remote
//! APIService's server is asked for its `/openapi/v2` (with the ETag of the
//! last answer) and for the v3 document of its group version (found through
//! its `/openapi/v3` index, fetched again only when the index points to a
//! new URL). Refreshed every minute and when an APIService changes; a
//! server that does not answer keeps its last documents, a deleted
//! APIService loses them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use kaiser_admission::webhook::ServiceResolver;
use kaiser_server::openapi::{RemoteHandle, RemoteSpecs};
use serde_json::Value;
use tokio::sync::watch;

use crate::apiservice::ApiService;
use crate::client::{Backend, Connector};
use crate::headers::{self, Identity};
use crate::informer::Queue;
use crate::proxy::backend_of;
use crate::routes::Routes;

/// Documents are fetched again this often (upstream: every minute).
pub const REFRESH: Duration = Duration::from_secs(60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_DOCUMENT: usize = 64 << 20;

/// What one APIService's server last published.
#[derive(Clone, Default)]
struct Published {
    api_service: Option<ApiService>,
    v2: Option<(Option<String>, Arc<Value>)>,
    /// The v3 document's URL (with its hash) and body.
    v3: Option<(String, Bytes)>,
}

/// Keeps the remote documents current.
pub struct RemoteOpenApi {
    handle: RemoteHandle,
    published: Mutex<BTreeMap<String, Published>>,
    generation: AtomicU64,
    routes: Arc<Routes>,
    resolver: Arc<dyn ServiceResolver>,
    connector: Arc<Connector>,
    pub queue: Arc<Queue>,
}

/// Only the APIService's own group is taken from a remote v2 document.
fn own_paths(doc: &mut Value, group: &str) {
    let prefix = format!("/apis/{group}/");
    let exact = format!("/apis/{group}");
    if let Some(paths) = doc["paths"].as_object_mut() {
        paths.retain(|p, _| p.starts_with(&prefix) || *p == exact);
    }
}

impl RemoteOpenApi {
    pub fn new(
        handle: RemoteHandle,
        routes: Arc<Routes>,
        resolver: Arc<dyn ServiceResolver>,
        connector: Arc<Connector>,
    ) -> RemoteOpenApi {
        RemoteOpenApi {
            handle,
            published: Mutex::default(),
            generation: AtomicU64::new(0),
            routes,
            resolver,
            connector,
            queue: Arc::default(),
        }
    }

    fn identity() -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        let groups = ["system:masters".to_string()];
        headers::set_identity(
            &mut h,
            &Identity {
                name: "system:aggregator",
                groups: &groups,
                extra: &[],
            },
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        h
    }

    async fn get(
        &self,
        b: &Backend,
        path: &str,
        etag: Option<&str>,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), String> {
        let mut h = Self::identity();
        if let Some(t) = etag
            && let Ok(v) = HeaderValue::from_str(t)
        {
            h.insert(header::IF_NONE_MATCH, v);
        }
        tokio::time::timeout(FETCH_TIMEOUT, self.connector.get(b, path, h, MAX_DOCUMENT))
            .await
            .map_err(|_| format!("timed out fetching {path}"))?
    }

    /// Fetches one APIService's documents and publishes the result.
    pub async fn sync(&self, name: &str) -> Result<(), String> {
        let route = self
            .routes
            .get(name)
            .filter(|s| s.service.is_some())
            .and_then(|s| self.routes.lookup(&s.group, &s.version));
        let Some(route) = route else {
            let removed = self
                .published
                .lock()
                .map(|mut p| p.remove(name).is_some())
                .unwrap_or(false);
            if removed {
                self.publish();
            }
            return Ok(());
        };
        let s = route.api_service.clone();
        let b = backend_of(&route, self.resolver.as_ref())
            .await
            .map_err(|(_, m)| m)?;
        let mut p = self
            .published
            .lock()
            .ok()
            .and_then(|m| m.get(name).cloned())
            .unwrap_or_default();
        let before = (p.v2.as_ref().map(|v| v.1.clone()), p.v3.clone());
        let v2 = self.fetch_v2(&b, &s, p.v2.take()).await;
        let v3 = self.fetch_v3(&b, &s, p.v3.take()).await;
        let mut errs = Vec::new();
        match v2 {
            Ok(v) => p.v2 = v,
            Err((old, e)) => {
                p.v2 = old;
                errs.push(e);
            }
        }
        match v3 {
            Ok(v) => p.v3 = v,
            Err((old, e)) => {
                p.v3 = old;
                errs.push(e);
            }
        }
        let changed = before != (p.v2.as_ref().map(|v| v.1.clone()), p.v3.clone())
            || p.api_service.as_ref() != Some(&s);
        p.api_service = Some(s);
        if let Ok(mut m) = self.published.lock() {
            m.insert(name.to_string(), p);
        }
        if changed {
            self.publish();
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }

    async fn fetch_v2(
        &self,
        b: &Backend,
        s: &ApiService,
        old: Option<(Option<String>, Arc<Value>)>,
    ) -> Result<Option<(Option<String>, Arc<Value>)>, (Option<(Option<String>, Arc<Value>)>, String)>
    {
        let etag = old.as_ref().and_then(|(t, _)| t.clone());
        let (code, headers, body) = match self.get(b, "/openapi/v2", etag.as_deref()).await {
            Ok(a) => a,
            Err(e) => return Err((old, e)),
        };
        match code {
            StatusCode::NOT_MODIFIED => Ok(old),
            StatusCode::OK => {
                let mut doc: Value = match serde_json::from_slice(&body) {
                    Ok(d) => d,
                    Err(e) => return Err((old, format!("/openapi/v2: {e}"))),
                };
                own_paths(&mut doc, &s.group);
                let tag = headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                Ok(Some((tag, Arc::new(doc))))
            }
            // A server without OpenAPI v2 publishes nothing.
            StatusCode::NOT_FOUND => Ok(None),
            c => Err((old, format!("/openapi/v2 answered {}", c.as_u16()))),
        }
    }

    async fn fetch_v3(
        &self,
        b: &Backend,
        s: &ApiService,
        old: Option<(String, Bytes)>,
    ) -> Result<Option<(String, Bytes)>, (Option<(String, Bytes)>, String)> {
        let (code, _, body) = match self.get(b, "/openapi/v3", None).await {
            Ok(a) => a,
            Err(e) => return Err((old, e)),
        };
        if code == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if code != StatusCode::OK {
            return Err((old, format!("/openapi/v3 answered {}", code.as_u16())));
        }
        let index: Value = match serde_json::from_slice(&body) {
            Ok(i) => i,
            Err(e) => return Err((old, format!("/openapi/v3: {e}"))),
        };
        let key = format!("apis/{}/{}", s.group, s.version);
        let Some(url) = index["paths"][&key]["serverRelativeURL"].as_str() else {
            return Ok(None);
        };
        if old.as_ref().is_some_and(|(u, _)| u == url) {
            return Ok(old);
        }
        match self.get(b, url, None).await {
            Ok((StatusCode::OK, _, doc)) => Ok(Some((url.to_string(), doc))),
            Ok((c, _, _)) => Err((old, format!("{url} answered {}", c.as_u16()))),
            Err(e) => Err((old, e)),
        }
    }

    /// Hands the current documents to the OpenAPI server.
    fn publish(&self) {
        let Ok(published) = self.published.lock() else {
            return;
        };
        let mut ordered: Vec<&Published> = published.values().collect();
        ordered.sort_by_key(|p| {
            p.api_service
                .as_ref()
                .map(|s| (-s.group_priority_minimum, s.name.clone()))
        });
        let mut specs = RemoteSpecs {
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            ..RemoteSpecs::default()
        };
        for p in ordered {
            if let Some((_, doc)) = &p.v2 {
                specs.v2.push(doc.clone());
            }
            if let (Some((_, body)), Some(s)) = (&p.v3, &p.api_service) {
                specs
                    .v3
                    .insert(format!("apis/{}/{}", s.group, s.version), body.clone());
            }
        }
        self.handle.store(Arc::new(specs));
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let me = &self;
        let sync = move |name: String| async move { me.sync(&name).await };
        let routes = self.routes.clone();
        (self.queue)
            .work_remote(routes, REFRESH, shutdown, sync, "OpenAPI")
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_group_s_paths_are_taken() {
        let mut doc = json!({"paths": {
            "/apis/metrics.k8s.io/v1beta1/nodes": {},
            "/apis/metrics.k8s.io/": {},
            "/apis/metrics.k8s.io": {},
            "/healthz": {},
            "/apis/apps/v1/deployments": {},
        }});
        own_paths(&mut doc, "metrics.k8s.io");
        let mut kept: Vec<&String> = doc["paths"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        kept.sort();
        assert_eq!(
            kept,
            [
                "/apis/metrics.k8s.io",
                "/apis/metrics.k8s.io/",
                "/apis/metrics.k8s.io/v1beta1/nodes"
            ]
        );
    }
}
