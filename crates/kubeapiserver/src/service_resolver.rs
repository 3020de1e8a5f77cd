//! Turns a Service reference (namespace, name, port) into an address this
//! process can dial, for webhooks and the aggregator's proxy: a ready
//! endpoint from the Service's EndpointSlices (endpoint routing), or the
//! Service's cluster IP. kaiser runs no kube-proxy, so cluster IPs are only
//! reachable where something else routes them; endpoint routing is what
//! works on a bare machine.

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_admission::webhook::{ServiceResolver, WebhookError};
use kaiser_apimachinery::list::ListOptions;
use kaiser_registry::Store;
use serde_json::Value;

/// Resolves Services from the `services` and `endpointslices` stores.
pub struct StoreServiceResolver {
    pub services: Arc<Store>,
    pub endpoint_slices: Arc<Store>,
    /// `true`: dial a ready endpoint; `false`: dial the cluster IP.
    pub endpoint_routing: bool,
}

#[async_trait]
impl ServiceResolver for StoreServiceResolver {
    async fn resolve(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> Result<(String, u16), WebhookError> {
        let svc = self
            .services
            .get_cached(namespace, name)
            .await
            .map_err(|_| WebhookError::Resolve(format!("service \"{name}\" not found")))?;
        let svc_port = service_port(&svc, port).ok_or_else(|| {
            WebhookError::Resolve(format!(
                "no service port {port} found for service \"{name}\""
            ))
        })?;
        let spec = &svc["spec"];
        if spec["type"] == "ExternalName" {
            let host = spec["externalName"].as_str().unwrap_or_default();
            return Ok((host.to_string(), port));
        }
        if !self.endpoint_routing {
            return match spec["clusterIP"].as_str() {
                Some(ip) if !ip.is_empty() && ip != "None" => Ok((ip.to_string(), port)),
                _ => Err(WebhookError::Resolve(format!(
                    "service \"{name}\" has no cluster IP"
                ))),
            };
        }
        let query = [
            ("resourceVersion", "0"),
            (
                "labelSelector",
                &format!("kubernetes.io/service-name={name}"),
            ),
        ];
        let opts = ListOptions::from_query(query.iter().map(|(k, v)| (*k, *v)))
            .map_err(|e| WebhookError::Resolve(e.message))?;
        let slices = self
            .endpoint_slices
            .list(namespace, &opts)
            .await
            .map_err(|e| WebhookError::Resolve(e.message))?;
        pick_endpoint(
            slices["items"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            svc_port,
        )
        .ok_or_else(|| {
            WebhookError::Resolve(format!("no endpoints available for service \"{name}\""))
        })
    }
}

/// The Service's port entry for `port`.
fn service_port(svc: &Value, port: u16) -> Option<&Value> {
    svc["spec"]["ports"]
        .as_array()?
        .iter()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))
}

/// The first ready address of a slice whose port carries the Service port's
/// name, with that port's number.
fn pick_endpoint(slices: &[Value], svc_port: &Value) -> Option<(String, u16)> {
    let want = svc_port["name"].as_str().unwrap_or("");
    for slice in slices {
        let Some(number) = slice["ports"].as_array().and_then(|ports| {
            ports
                .iter()
                .find(|p| p["name"].as_str().unwrap_or("") == want)
                .and_then(|p| p["port"].as_u64())
                .and_then(|p| u16::try_from(p).ok())
        }) else {
            continue;
        };
        let ready = slice["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| {
                // An absent `ready` condition counts as ready, as upstream reads it.
                e["conditions"]["ready"].as_bool() != Some(false)
            });
        if let Some(addr) = ready.and_then(|e| e["addresses"][0].as_str()) {
            return Some((addr.to_string(), number));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_a_ready_endpoint_of_the_named_port() {
        let svc_port = json!({"name": "https", "port": 443, "targetPort": 8443});
        let slices = vec![
            json!({"ports": [{"name": "metrics", "port": 9000}],
                   "endpoints": [{"addresses": ["10.0.0.9"]}]}),
            json!({"ports": [{"name": "https", "port": 8443}],
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": true}}
            ]}),
        ];
        assert_eq!(
            pick_endpoint(&slices, &svc_port),
            Some(("10.0.0.2".to_string(), 8443))
        );
        let unnamed = json!({"port": 443});
        assert_eq!(pick_endpoint(&slices, &unnamed), None);
    }

    #[test]
    fn finds_the_service_port_by_number() {
        let svc = json!({"spec": {"ports": [{"port": 80}, {"name": "https", "port": 443}]}});
        assert_eq!(
            service_port(&svc, 443).expect("test set-up")["name"],
            "https"
        );
        assert!(service_port(&svc, 8080).is_none());
    }
}
