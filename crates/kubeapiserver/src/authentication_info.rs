//! The `kube-system/extension-apiserver-authentication` ConfigMap, as
//! upstream's cluster-authentication-trust controller keeps it: the client
//! CA, and the front proxy's CA, allowed names and headers, for extension
//! API servers to authenticate what the aggregator forwards. What is there
//! already is kept and merged with ours (CA certificates and header names
//! de-duplicated), so several servers can share it.

use kaiser_apimachinery::StatusError;
use kaiser_registry::Store;
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "extension-apiserver-authentication";

/// The front proxy's side of the ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHeaderInfo {
    pub ca_pem: String,
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_prefixes: Vec<String>,
}

/// What this server publishes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthenticationInfo {
    pub client_ca_pem: Option<String>,
    pub request_header: Option<RequestHeaderInfo>,
}

/// The PEM blocks of a bundle, whitespace-normalised for comparison.
fn pem_blocks(pem: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let after = &rest[start..];
        let Some(end) = after.find("-----END CERTIFICATE-----") else {
            break;
        };
        let block = &after[..end + "-----END CERTIFICATE-----".len()];
        let body: String = block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        out.push(body);
        rest = &after[block.len()..];
    }
    out
}

/// Upstream's `combineCertLists`: the existing certificates, then ours,
/// each once.
fn combine_pem(existing: &str, ours: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    for b in pem_blocks(existing).into_iter().chain(pem_blocks(ours)) {
        if !blocks.contains(&b) {
            blocks.push(b);
        }
    }
    blocks.iter().map(|b| format!("{b}\n")).collect()
}

fn json_list(data: &Map<String, Value>, key: &str) -> Vec<String> {
    data.get(key)
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default()
}

/// The existing list, then ours, each once, as a JSON string.
fn combine_list(data: &Map<String, Value>, key: &str, ours: &[String]) -> Value {
    let mut all = json_list(data, key);
    for x in ours {
        if !all.contains(x) {
            all.push(x.clone());
        }
    }
    json!(serde_json::to_string(&all).unwrap_or_else(|_| "[]".into()))
}

/// The ConfigMap's `data`, `existing` merged with `info`.
pub fn merged_data(existing: &Map<String, Value>, info: &AuthenticationInfo) -> Map<String, Value> {
    let text = |k: &str| existing.get(k).and_then(Value::as_str).unwrap_or("");
    let mut data = Map::new();
    let client_ca = combine_pem(
        text("client-ca-file"),
        info.client_ca_pem.as_deref().unwrap_or(""),
    );
    if !client_ca.is_empty() {
        data.insert("client-ca-file".into(), json!(client_ca));
    }
    let rh = info.request_header.clone().unwrap_or_default();
    let rh_ca = combine_pem(text("requestheader-client-ca-file"), &rh.ca_pem);
    if rh_ca.is_empty() {
        return data;
    }
    for (key, ours) in [
        ("requestheader-username-headers", &rh.username_headers),
        ("requestheader-uid-headers", &rh.uid_headers),
        ("requestheader-group-headers", &rh.group_headers),
        ("requestheader-extra-headers-prefix", &rh.extra_prefixes),
    ] {
        data.insert(key.into(), combine_list(existing, key, ours));
    }
    data.insert("requestheader-client-ca-file".into(), json!(rh_ca));
    data.insert(
        "requestheader-allowed-names".into(),
        combine_list(existing, "requestheader-allowed-names", &rh.allowed_names),
    );
    data
}

/// Creates or updates the ConfigMap (a post-start hook; `kube-system` exists).
pub async fn publish(configmaps: &Store, info: &AuthenticationInfo) -> Result<(), StatusError> {
    let none = |_: &Value, _: Option<&Value>| Ok(());
    match configmaps.get(NAMESPACE, NAME).await {
        Err(e) if e.code == 404 => {
            let data = merged_data(&Map::new(), info);
            let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": NAME, "namespace": NAMESPACE}, "data": data});
            match configmaps.create(obj, &none, false).await {
                Err(e) if e.reason == "AlreadyExists" => Box::pin(publish(configmaps, info)).await,
                other => other.map(|_| ()),
            }
        }
        Err(e) => Err(e),
        Ok(current) => {
            let existing = current
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let data = merged_data(&existing, info);
            if data == existing {
                return Ok(());
            }
            let apply = |old: Option<&Value>| {
                let mut new = old.cloned().unwrap_or_else(|| current.clone());
                let existing = new
                    .get("data")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                new["data"] = Value::Object(merged_data(&existing, info));
                Ok(new)
            };
            configmaps
                .update(NAMESPACE, NAME, &apply, &none, false)
                .await
                .map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    const B: &str = "-----BEGIN CERTIFICATE-----\r\nBBBB\r\n-----END CERTIFICATE-----\r\n";

    fn info() -> AuthenticationInfo {
        AuthenticationInfo {
            client_ca_pem: Some(A.into()),
            request_header: Some(RequestHeaderInfo {
                ca_pem: B.into(),
                allowed_names: vec!["front-proxy-client".into()],
                username_headers: vec!["X-Remote-User".into()],
                uid_headers: vec![],
                group_headers: vec!["X-Remote-Group".into()],
                extra_prefixes: vec!["X-Remote-Extra-".into()],
            }),
        }
    }

    #[test]
    fn a_fresh_configmap_has_upstreams_keys() {
        let d = merged_data(&Map::new(), &info());
        assert_eq!(d["client-ca-file"], A);
        assert_eq!(
            d["requestheader-client-ca-file"],
            "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(d["requestheader-allowed-names"], "[\"front-proxy-client\"]");
        assert_eq!(d["requestheader-username-headers"], "[\"X-Remote-User\"]");
        assert_eq!(d["requestheader-uid-headers"], "[]");
        assert_eq!(
            d["requestheader-extra-headers-prefix"],
            "[\"X-Remote-Extra-\"]"
        );
        let only_client = AuthenticationInfo {
            client_ca_pem: Some(A.into()),
            request_header: None,
        };
        assert_eq!(merged_data(&Map::new(), &only_client).len(), 1);
    }

    #[test]
    fn existing_content_is_merged_once() {
        let first = merged_data(&Map::new(), &info());
        assert_eq!(merged_data(&first, &info()), first, "idempotent");
        let mut other = info();
        other.client_ca_pem = Some(B.into());
        if let Some(rh) = &mut other.request_header {
            rh.allowed_names = vec!["proxy-2".into()];
        }
        let both = merged_data(&first, &other);
        assert_eq!(
            pem_blocks(both["client-ca-file"].as_str().unwrap_or("")).len(),
            2
        );
        assert_eq!(
            both["requestheader-allowed-names"],
            "[\"front-proxy-client\",\"proxy-2\"]"
        );
    }
}
