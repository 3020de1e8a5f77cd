//! core/v1: pods and pod specs (wherever they are embedded), services,
//! volumes and the other core kinds.

use serde_json::{Value, json};

use super::image::pulls_always;
use super::quantity::{canonicalize, resource_list};
use super::{
    Obj, child, child_or_new, items, len_zero, num_unset, root, set_num, set_ptr, set_str, str_at,
    str_unset, unset,
};

// ---- pods ----

pub(super) fn pod(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    pod_only(spec);
    pod_spec(spec);
}

/// What upstream defaults on a Pod but not on a pod template.
fn pod_only(spec: &mut Obj) {
    // Limits without requests request the limits.
    for key in ["containers", "initContainers"] {
        for c in items(spec, key) {
            requests_from_limits(c);
        }
    }
    set_ptr(spec, "enableServiceLinks", true);
    // On the host network, container ports are host ports.
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for key in ["containers", "initContainers"] {
            for c in items(spec, key) {
                for p in items(c, "ports") {
                    let port = p.get("containerPort").cloned();
                    if num_unset(p, "hostPort")
                        && let Some(port) = port.filter(|v| v.as_i64().is_some_and(|n| n != 0))
                    {
                        p.insert("hostPort".into(), port);
                    }
                }
            }
        }
    }
}

fn requests_from_limits(c: &mut Obj) {
    let Some(res) = child(c, "resources") else {
        return;
    };
    let limits = match res.get("limits") {
        Some(Value::Object(l)) if !l.is_empty() => l.clone(),
        _ => return,
    };
    let Some(req) = child_or_new(res, "requests") else {
        return;
    };
    for (k, v) in limits {
        req.entry(k).or_insert(v);
    }
}

/// A pod spec anywhere: in a Pod or in any template.
pub(super) fn pod_spec(spec: &mut Obj) {
    set_str(spec, "dnsPolicy", "ClusterFirst");
    set_str(spec, "restartPolicy", "Always");
    set_ptr(spec, "securityContext", json!({}));
    set_ptr(spec, "terminationGracePeriodSeconds", 30);
    set_str(spec, "schedulerName", "default-scheduler");
    service_account_alias(spec);
    for v in items(spec, "volumes") {
        volume(v);
    }
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for c in items(spec, key) {
            container(c);
        }
    }
    resource_list(spec.get_mut("overhead"));
}

/// Requirements: both lists rounded and canonical.
fn resources(r: &mut Obj) {
    resource_list(r.get_mut("limits"));
    resource_list(r.get_mut("requests"));
}

/// `spec.template.spec` of a workload (both levels are Go value structs).
pub(super) fn template_pod_spec(spec: &mut Obj) {
    if let Some(t) = child_or_new(spec, "template")
        && let Some(s) = child_or_new(t, "spec")
    {
        pod_spec(s);
    }
}

/// `serviceAccount` is a read-back alias: conversion takes
/// `serviceAccountName` (or, when empty, `serviceAccount`) and writes the
/// result to both.
fn service_account_alias(spec: &mut Obj) {
    let name = [
        str_at(spec, "serviceAccountName"),
        str_at(spec, "serviceAccount"),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .map(str::to_owned);
    if let Some(name) = name {
        spec.insert("serviceAccountName".into(), Value::from(name.clone()));
        spec.insert("serviceAccount".into(), Value::from(name));
    }
}

fn container(c: &mut Obj) {
    if str_unset(c, "imagePullPolicy") {
        let policy = if pulls_always(str_at(c, "image")) {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".into(), Value::from(policy));
    }
    set_str(c, "terminationMessagePath", "/dev/termination-log");
    set_str(c, "terminationMessagePolicy", "File");
    for p in items(c, "ports") {
        set_str(p, "protocol", "TCP");
    }
    if let Some(r) = child(c, "resources") {
        resources(r);
    }
    for e in items(c, "env") {
        if let Some(vf) = child(e, "valueFrom")
            && let Some(fr) = child(vf, "fieldRef")
        {
            set_str(fr, "apiVersion", "v1");
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child(c, key) {
            probe(p);
        }
    }
    if let Some(lc) = child(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(g) = child(lc, key).and_then(|h| child(h, "httpGet")) {
                http_get(g);
            }
        }
    }
}

fn probe(p: &mut Obj) {
    set_num(p, "timeoutSeconds", 1);
    set_num(p, "periodSeconds", 10);
    set_num(p, "successThreshold", 1);
    set_num(p, "failureThreshold", 3);
    if let Some(g) = child(p, "httpGet") {
        http_get(g);
    }
    if let Some(g) = child(p, "grpc") {
        set_ptr(g, "service", "");
    }
}

fn http_get(g: &mut Obj) {
    set_str(g, "path", "/");
    set_str(g, "scheme", "HTTP");
}

// ---- volumes ----

fn volume(v: &mut Obj) {
    // A volume naming no source is an emptyDir.
    if !v.iter().any(|(k, val)| k != "name" && !val.is_null()) {
        v.insert("emptyDir".into(), json!({}));
    }
    if let Some(size) = child(v, "emptyDir").and_then(|e| e.get_mut("sizeLimit")) {
        canonicalize(size);
    }
    for key in ["secret", "configMap"] {
        if let Some(s) = child(v, key) {
            set_ptr(s, "defaultMode", 420);
        }
    }
    if let Some(d) = child(v, "downwardAPI") {
        set_ptr(d, "defaultMode", 420);
        downward_items(d);
    }
    if let Some(p) = child(v, "projected") {
        set_ptr(p, "defaultMode", 420);
        for s in items(p, "sources") {
            if let Some(d) = child(s, "downwardAPI") {
                downward_items(d);
            }
            if let Some(t) = child(s, "serviceAccountToken") {
                set_ptr(t, "expirationSeconds", 3600);
            }
        }
    }
    if let Some(e) = child(v, "ephemeral")
        && let Some(t) = child(e, "volumeClaimTemplate")
        && let Some(s) = child_or_new(t, "spec")
    {
        pvc_spec(s);
    }
    volume_sources(v);
}

fn downward_items(d: &mut Obj) {
    for i in items(d, "items") {
        if let Some(fr) = child(i, "fieldRef") {
            set_str(fr, "apiVersion", "v1");
        }
    }
}

/// Defaults of the sources a Volume and a PersistentVolume share.
fn volume_sources(v: &mut Obj) {
    if let Some(h) = child(v, "hostPath") {
        set_ptr(h, "type", "");
    }
    if let Some(i) = child(v, "iscsi") {
        set_str(i, "iscsiInterface", "default");
    }
    if let Some(r) = child(v, "rbd") {
        set_str(r, "pool", "rbd");
        set_str(r, "user", "admin");
        set_str(r, "keyring", "/etc/ceph/keyring");
    }
    if let Some(a) = child(v, "azureDisk") {
        set_ptr(a, "cachingMode", "ReadWrite");
        set_ptr(a, "kind", "Shared");
        set_ptr(a, "fsType", "ext4");
        set_ptr(a, "readOnly", false);
    }
    if let Some(s) = child(v, "scaleIO") {
        set_str(s, "storageMode", "ThinProvisioned");
        set_str(s, "fsType", "xfs");
    }
}

pub(super) fn pvc_spec(s: &mut Obj) {
    set_ptr(s, "volumeMode", "Filesystem");
    if let Some(r) = child(s, "resources") {
        resources(r);
    }
}

// ---- kinds ----

pub(super) fn pod_template(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    template_pod_spec(o);
}

pub(super) fn replication_controller(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_ptr(spec, "replicas", 1);
    // Selector and labels come from the template's labels when missing.
    let labels = spec
        .get("template")
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let Some(t) = child(spec, "template")
        && let Some(s) = child_or_new(t, "spec")
    {
        pod_spec(s);
    }
    let Some(labels) = labels else { return };
    if len_zero(spec, "selector") {
        spec.insert("selector".into(), labels.clone());
    }
    if labels.as_object().is_some_and(|l| !l.is_empty())
        && let Some(meta) = child_or_new(o, "metadata")
        && len_zero(meta, "labels")
    {
        meta.insert("labels".into(), labels);
    }
}

pub(super) fn service(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_str(spec, "sessionAffinity", "None");
    match str_at(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    set_str(spec, "type", "ClusterIP");
    for p in items(spec, "ports") {
        set_str(p, "protocol", "TCP");
        let target_unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if target_unset && let Some(port) = p.get("port").filter(|v| v.is_number()).cloned() {
            p.insert("targetPort".into(), port);
        }
    }
    let ty = str_at(spec, "type").to_owned();
    let external = ty == "LoadBalancer"
        || ty == "NodePort"
        || (ty == "ClusterIP" && !len_zero(spec, "externalIPs"));
    if external {
        set_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(ty.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        set_ptr(spec, "internalTrafficPolicy", "Cluster");
    }
    if ty == "LoadBalancer" {
        set_ptr(spec, "allocateLoadBalancerNodePorts", true);
    }
    // The registry's IP-family initialisation (not defaults.go): a create
    // without a policy is single-stack, headless without selector dual.
    if ty != "ExternalName" && unset(spec, "ipFamilyPolicy") {
        let headless_selectorless =
            str_at(spec, "clusterIP") == "None" && len_zero(spec, "selector");
        let policy = if headless_selectorless {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        spec.insert("ipFamilyPolicy".into(), Value::from(policy));
    }
    if ty == "LoadBalancer"
        && let Some(lb) = child(o, "status").and_then(|s| child(s, "loadBalancer"))
    {
        for ing in items(lb, "ingress") {
            if !str_at(ing, "ip").is_empty() {
                set_ptr(ing, "ipMode", "VIP");
            }
        }
    }
}

pub(super) fn endpoints(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    for s in items(o, "subsets") {
        for p in items(s, "ports") {
            set_str(p, "protocol", "TCP");
        }
    }
}

pub(super) fn secret(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    set_str(o, "type", "Opaque");
}

pub(super) fn namespace(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let name = o
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    // The name label always mirrors the name (a generateName has none yet).
    if let Some(name) = name
        && let Some(meta) = child_or_new(o, "metadata")
        && let Some(labels) = child_or_new(meta, "labels")
    {
        labels.insert("kubernetes.io/metadata.name".into(), Value::from(name));
    }
    if let Some(status) = child_or_new(o, "status") {
        set_str(status, "phase", "Active");
    }
}

pub(super) fn node(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(spec) = child(o, "spec") {
        node_pod_cidrs(spec);
    }
    if let Some(status) = child(o, "status") {
        if unset(status, "allocatable")
            && let Some(cap) = status.get("capacity").filter(|c| c.is_object()).cloned()
        {
            status.insert("allocatable".into(), cap);
        }
        resource_list(status.get_mut("capacity"));
        resource_list(status.get_mut("allocatable"));
    }
}

/// Conversion keeps `podCIDR` equal to the first of `podCIDRs`; the single
/// field wins when both are given and differ.
fn node_pod_cidrs(spec: &mut Obj) {
    let single = str_at(spec, "podCIDR").to_owned();
    let first = spec
        .get("podCIDRs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (single.is_empty(), first) {
        (false, None) => {
            spec.insert("podCIDRs".into(), json!([single]));
        }
        (false, Some(f)) if f != single => {
            spec.insert("podCIDRs".into(), json!([single]));
        }
        (true, Some(f)) => {
            spec.insert("podCIDR".into(), Value::from(f));
        }
        _ => {}
    }
}

pub(super) fn limit_range(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child(o, "spec") else { return };
    for item in items(spec, "limits") {
        if str_at(item, "type") != "Container" {
            continue;
        }
        // default ← max, then defaultRequest ← default, then ← min.
        fill_missing(item, "default", "max");
        fill_missing(item, "defaultRequest", "default");
        fill_missing(item, "defaultRequest", "min");
    }
    for item in items(spec, "limits") {
        for key in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            resource_list(item.get_mut(key));
        }
    }
}

pub(super) fn resource_quota(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(spec) = child(o, "spec") {
        resource_list(spec.get_mut("hard"));
    }
    if let Some(status) = child(o, "status") {
        resource_list(status.get_mut("hard"));
        resource_list(status.get_mut("used"));
    }
}

/// Copies into the map at `to` each entry of the map at `from` it lacks.
fn fill_missing(item: &mut Obj, to: &str, from: &str) {
    let src = match item.get(from) {
        Some(Value::Object(m)) if !m.is_empty() => m.clone(),
        _ => return,
    };
    let Some(dst) = child_or_new(item, to) else {
        return;
    };
    for (k, v) in src {
        dst.entry(k).or_insert(v);
    }
}

pub(super) fn persistent_volume(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(status) = child_or_new(o, "status") {
        set_str(status, "phase", "Pending");
    }
    if let Some(spec) = child_or_new(o, "spec") {
        pv_spec(spec);
        set_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        set_ptr(spec, "volumeMode", "Filesystem");
    }
}

/// The source defaults of a PersistentVolumeSpec (also used inline).
pub(super) fn pv_spec(spec: &mut Obj) {
    volume_sources(spec);
    resource_list(spec.get_mut("capacity"));
}

pub(super) fn persistent_volume_claim(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    pvc(o);
}

/// A whole claim, also a StatefulSet's volume claim template.
pub(super) fn pvc(o: &mut Obj) {
    if let Some(status) = child_or_new(o, "status") {
        set_str(status, "phase", "Pending");
        resource_list(status.get_mut("capacity"));
        resource_list(status.get_mut("allocatedResources"));
    }
    if let Some(spec) = child_or_new(o, "spec") {
        pvc_spec(spec);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::run_twice as run;

    /// The container defaults every container gets, for an image.
    fn defaulted_container(name: &str, image: &str, pull: &str) -> Value {
        json!({
            "name": name,
            "image": image,
            "imagePullPolicy": pull,
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "resources": {}
        })
    }

    fn spec_defaults() -> Value {
        json!({
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
            "schedulerName": "default-scheduler"
        })
    }

    fn merged(base: Value, extra: Value) -> Value {
        let mut out = base.as_object().cloned().unwrap_or_default();
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            out.insert(k, v);
        }
        Value::Object(out)
    }

    #[test]
    fn minimal_pod() {
        let got = run(
            "",
            "v1",
            "Pod",
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {}}]}
            }),
        );
        let spec = merged(
            spec_defaults(),
            json!({
                "enableServiceLinks": true,
                "containers": [defaulted_container("c", "nginx", "Always")]
            }),
        );
        assert_eq!(
            got,
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": spec
            })
        );
    }

    #[test]
    fn pod_containers_probes_env_ports_and_resources() {
        let got = run(
            "",
            "v1",
            "Pod",
            json!({"spec": {
                "hostNetwork": true,
                "serviceAccount": "builder",
                "initContainers": [{"name": "i", "image": "busybox:1.36",
                    "resources": {"limits": {"cpu": "1"}}}],
                "containers": [{
                    "name": "c", "image": "app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP", "hostPort": 5353}],
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "100m"}},
                    "livenessProbe": {"httpGet": {"port": 8080}},
                    "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
                    "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
                    "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}}
                }],
                "ephemeralContainers": [{"name": "debug", "image": "busybox:latest"}]
            }}),
        );
        let spec = merged(
            spec_defaults(),
            json!({
                "hostNetwork": true,
                "enableServiceLinks": true,
                "serviceAccount": "builder",
                "serviceAccountName": "builder",
                "initContainers": [merged(defaulted_container("i", "busybox:1.36", "IfNotPresent"),
                    json!({"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}))],
                "containers": [{
                    "name": "c", "image": "app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "ports": [
                        {"containerPort": 80, "hostPort": 80, "protocol": "TCP"},
                        {"containerPort": 53, "protocol": "UDP", "hostPort": 5353}
                    ],
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}}],
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "1Gi"}},
                    "livenessProbe": {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "readinessProbe": {"grpc": {"port": 9000, "service": ""},
                        "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3},
                    "startupProbe": {"exec": {"command": ["true"]},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 30},
                    "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop", "scheme": "HTTP"}}}
                }],
                "ephemeralContainers": [{"name": "debug", "image": "busybox:latest",
                    "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}]
            }),
        );
        assert_eq!(got, json!({"spec": spec}));
    }

    #[test]
    fn pod_volumes() {
        let got = run(
            "",
            "v1",
            "Pod",
            json!({"spec": {"containers": [], "volumes": [
                {"name": "scratch"},
                {"name": "s", "secret": {"secretName": "x"}},
                {"name": "cm", "configMap": {"name": "x", "defaultMode": 256}},
                {"name": "h", "hostPath": {"path": "/var"}},
                {"name": "d", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"name": "pr", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token"}},
                    {"downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
                ]}},
                {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                {"name": "r", "rbd": {"monitors": ["m"], "image": "i"}},
                {"name": "is", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0}},
                {"name": "az", "azureDisk": {"diskName": "d", "diskURI": "u"}},
                {"name": "sc", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}}}
            ]}}),
        );
        let spec = merged(
            spec_defaults(),
            json!({"enableServiceLinks": true, "containers": [], "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "s", "secret": {"secretName": "x", "defaultMode": 420}},
                {"name": "cm", "configMap": {"name": "x", "defaultMode": 256}},
                {"name": "h", "hostPath": {"path": "/var", "type": ""}},
                {"name": "d", "downwardAPI": {"defaultMode": 420, "items": [{"path": "n",
                    "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}},
                {"name": "pr", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                    {"downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels", "apiVersion": "v1"}}]}}
                ]}},
                {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}},
                {"name": "r", "rbd": {"monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"}},
                {"name": "is", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0, "iscsiInterface": "default"}},
                {"name": "az", "azureDisk": {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite",
                    "kind": "Shared", "fsType": "ext4", "readOnly": false}},
                {"name": "sc", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"},
                    "storageMode": "ThinProvisioned", "fsType": "xfs"}}
            ]}),
        );
        assert_eq!(got, json!({"spec": spec}));
    }

    #[test]
    fn user_values_are_kept() {
        let spec = json!({
            "dnsPolicy": "Default", "restartPolicy": "Never", "securityContext": {"runAsUser": 1},
            "terminationGracePeriodSeconds": 0, "schedulerName": "mine", "enableServiceLinks": false,
            "serviceAccountName": "a", "serviceAccount": "b",
            "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never",
                "terminationMessagePath": "/tmp/t", "terminationMessagePolicy": "FallbackToLogsOnError",
                "ports": [{"containerPort": 1, "protocol": "SCTP"}]}]
        });
        let got = run("", "v1", "Pod", json!({"spec": spec}));
        let mut want = spec.clone();
        // serviceAccountName wins over the alias.
        want["serviceAccount"] = json!("a");
        assert_eq!(got, json!({"spec": want}));
    }

    #[test]
    fn pod_template_gets_spec_defaults_only() {
        let got = run(
            "",
            "v1",
            "PodTemplate",
            json!({"template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1", "resources": {"limits": {"cpu": "1"}}}]}}}),
        );
        let mut c = defaulted_container("c", "nginx:1", "IfNotPresent");
        c["resources"] = json!({"limits": {"cpu": "1"}});
        let spec = merged(spec_defaults(), json!({"containers": [c]}));
        assert_eq!(
            got,
            json!({"template": {"metadata": {"labels": {"a": "b"}}, "spec": spec}})
        );
    }

    #[test]
    fn replication_controller() {
        let got = run(
            "",
            "v1",
            "ReplicationController",
            json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        );
        let mut c = defaulted_container("c", "nginx", "Always");
        c.as_object_mut().map(|m| m.remove("resources"));
        assert_eq!(
            got,
            json!({"metadata": {"name": "rc", "labels": {"app": "x"}}, "spec": {
                "replicas": 1, "selector": {"app": "x"},
                "template": {"metadata": {"labels": {"app": "x"}},
                    "spec": merged(spec_defaults(), json!({"containers": [c]}))}}})
        );
        // Given selector, labels and replicas stay.
        let got = run(
            "",
            "v1",
            "ReplicationController",
            json!({"metadata": {"labels": {"own": "1"}}, "spec": {"replicas": 0, "selector": {"app": "y"},
                "template": {"metadata": {"labels": {"app": "x"}}}}}),
        );
        assert_eq!(got["metadata"]["labels"], json!({"own": "1"}));
        assert_eq!(got["spec"]["selector"], json!({"app": "y"}));
        assert_eq!(got["spec"]["replicas"], json!(0));
    }

    #[test]
    fn service_cluster_ip() {
        let got = run(
            "",
            "v1",
            "Service",
            json!({"metadata": {"name": "s"}, "spec": {"selector": {"app": "x"},
                "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}, {"port": 81, "targetPort": 0}]}}),
        );
        assert_eq!(
            got,
            json!({"metadata": {"name": "s"}, "spec": {
                "selector": {"app": "x"},
                "ports": [
                    {"port": 80, "protocol": "TCP", "targetPort": 80},
                    {"port": 53, "protocol": "UDP", "targetPort": "dns"},
                    {"port": 81, "protocol": "TCP", "targetPort": 81}
                ],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack"
            }})
        );
    }

    #[test]
    fn service_load_balancer_and_others() {
        let got = run(
            "",
            "v1",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 443, "targetPort": 8443}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "h"}]}}}),
        );
        assert_eq!(
            got,
            json!({"spec": {
                "type": "LoadBalancer",
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": true,
                "ipFamilyPolicy": "SingleStack"
            }, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "h"}]}}})
        );
        let got = run(
            "",
            "v1",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "x.example.com",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"type": "ExternalName", "externalName": "x.example.com", "sessionAffinity": "None"}})
        );
        let got = run(
            "",
            "v1",
            "Service",
            json!({"spec": {"clusterIP": "None", "externalIPs": ["1.1.1.1"], "ipFamilyPolicy": "PreferDualStack",
                "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local"}}),
        );
        assert_eq!(got["spec"]["externalTrafficPolicy"], json!("Local"));
        assert_eq!(got["spec"]["internalTrafficPolicy"], json!("Local"));
        assert_eq!(got["spec"]["ipFamilyPolicy"], json!("PreferDualStack"));
        let got = run("", "v1", "Service", json!({"spec": {"clusterIP": "None"}}));
        assert_eq!(got["spec"]["ipFamilyPolicy"], json!("RequireDualStack"));
        let got = run(
            "",
            "v1",
            "Service",
            json!({"spec": {"externalIPs": ["1.1.1.1"]}}),
        );
        assert_eq!(got["spec"]["externalTrafficPolicy"], json!("Cluster"));
    }

    #[test]
    fn small_core_kinds() {
        assert_eq!(
            run("", "v1", "Secret", json!({"data": {}})),
            json!({"data": {}, "type": "Opaque"})
        );
        assert_eq!(
            run("", "v1", "Secret", json!({"type": "kubernetes.io/tls"})),
            json!({"type": "kubernetes.io/tls"})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "Endpoints",
                json!({"subsets": [{"ports": [{"port": 80}, {"port": 1, "protocol": "UDP"}]}]})
            ),
            json!({"subsets": [{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 1, "protocol": "UDP"}]}]})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "Namespace",
                json!({"metadata": {"name": "ns", "labels": {"a": "b"}}})
            ),
            json!({"metadata": {"name": "ns", "labels": {"a": "b", "kubernetes.io/metadata.name": "ns"}},
                "status": {"phase": "Active"}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "Namespace",
                json!({"metadata": {"generateName": "ns-"}, "status": {"phase": "Terminating"}})
            ),
            json!({"metadata": {"generateName": "ns-"}, "status": {"phase": "Terminating"}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "PersistentVolumeClaim",
                json!({"spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}})
            ),
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "PersistentVolumeClaim",
                json!({"spec": {"volumeMode": "Block"}})
            ),
            json!({"spec": {"volumeMode": "Block"}, "status": {"phase": "Pending"}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "PersistentVolume",
                json!({"spec": {"capacity": {"storage": "1Gi"},
                "hostPath": {"path": "/data"}}})
            ),
            json!({"spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data", "type": ""},
                "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "Node",
                json!({"spec": {"podCIDR": "10.0.0.0/24"},
                "status": {"capacity": {"cpu": "4"}}})
            ),
            json!({"spec": {"podCIDR": "10.0.0.0/24", "podCIDRs": ["10.0.0.0/24"]},
                "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"}}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "Node",
                json!({"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]}})
            ),
            json!({"spec": {"podCIDR": "10.0.0.0/24", "podCIDRs": ["10.0.0.0/24", "fd00::/64"]}})
        );
    }

    #[test]
    fn quantities_come_back_canonical() {
        let got = run(
            "",
            "v1",
            "Pod",
            json!({"spec": {"overhead": {"cpu": "0.25"}, "containers": [{"name": "c", "image": "x:1",
                "resources": {"limits": {"cpu": "0.5", "memory": "1.5Gi"}, "requests": {"cpu": "0.0001"}}}],
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1024Mi"}}]}}),
        );
        assert_eq!(
            got["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "1536Mi"}, "requests": {"cpu": "1m", "memory": "1536Mi"}})
        );
        assert_eq!(got["spec"]["overhead"], json!({"cpu": "250m"}));
        assert_eq!(
            got["spec"]["volumes"][0]["emptyDir"],
            json!({"sizeLimit": "1Gi"})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "ResourceQuota",
                json!({"spec": {"hard": {"pods": "10", "requests.cpu": "1000m"}}})
            ),
            json!({"spec": {"hard": {"pods": "10", "requests.cpu": "1"}}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "Node",
                json!({"status": {"capacity": {"memory": "2048Ki"}, "allocatable": {"cpu": "3.5"}}})
            ),
            json!({"status": {"capacity": {"memory": "2Mi"}, "allocatable": {"cpu": "3500m"}}})
        );
        assert_eq!(
            run(
                "",
                "v1",
                "PersistentVolumeClaim",
                json!({"spec": {"resources": {"requests": {"storage": "0.5Gi"}}}})
            )["spec"]["resources"],
            json!({"requests": {"storage": "512Mi"}})
        );
    }

    #[test]
    fn limit_range_container_defaults() {
        let got = run(
            "",
            "v1",
            "LimitRange",
            json!({"spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "100m", "ephemeral-storage": "1Mi"},
                    "default": {"memory": "512Mi"}},
                {"type": "Pod", "max": {"cpu": "4"}}
            ]}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "100m", "ephemeral-storage": "1Mi"},
                    "default": {"memory": "512Mi", "cpu": "2"},
                    "defaultRequest": {"memory": "512Mi", "cpu": "2", "ephemeral-storage": "1Mi"}},
                {"type": "Pod", "max": {"cpu": "4"}}
            ]}})
        );
    }
}
