//! Versions served over another version's stored objects, with their
//! conversions: `autoscaling/v1` HorizontalPodAutoscalers over
//! `autoscaling/v2` ones (what v1 cannot express rides in annotations, as
//! upstream does, so a round trip through v1 loses nothing), and
//! `events.k8s.io/v1` Events over core/v1 Events.

use kaiser_registry::Conversion;
use serde_json::{Map, Value, json};

/// Annotations that carry v2-only HPA fields through v1.
const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";

pub const HPA_V1: Conversion = Conversion::Fns {
    to_storage: hpa_v1_to_v2,
    from_storage: hpa_v2_to_v1,
};

pub const EVENTS_V1: Conversion = Conversion::Fns {
    to_storage: events_to_core,
    from_storage: core_to_events,
};

/// Fields both HPA versions carry unchanged.
const SPEC_FIELDS: &[&str] = &["scaleTargetRef", "minReplicas", "maxReplicas"];
const STATUS_FIELDS: &[&str] = &[
    "observedGeneration",
    "lastScaleTime",
    "currentReplicas",
    "desiredReplicas",
];

/// The named fields of `from` that are present.
fn pick(from: &Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| from.get(*f).map(|v| ((*f).to_string(), v.clone())))
        .collect()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn is_cpu_utilization(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Resource")
        && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && m.pointer("/resource/target/type").and_then(Value::as_str) == Some("Utilization")
}

fn set_annotation(o: &mut Map<String, Value>, key: &str, value: String) {
    let md = o.entry("metadata").or_insert_with(|| json!({}));
    if !md.is_object() {
        *md = json!({});
    }
    if let Some(md) = md.as_object_mut() {
        let a = md.entry("annotations").or_insert_with(|| json!({}));
        if !a.is_object() {
            *a = json!({});
        }
        if let Some(a) = a.as_object_mut() {
            a.insert(key.to_string(), Value::String(value));
        }
    }
}

fn take_annotation(o: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let raw = o
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
        .and_then(|a| a.remove(key))?;
    serde_json::from_str(raw.as_str()?).ok()
}

fn drop_empty_annotations(o: &mut Map<String, Value>) {
    if let Some(md) = o.get_mut("metadata").and_then(Value::as_object_mut)
        && md
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        md.remove("annotations");
    }
}

fn hpa_v2_to_v1(v2: Value) -> Value {
    let mut o = obj(v2);
    o.insert("apiVersion".into(), json!("autoscaling/v1"));
    let spec = obj(o.remove("spec").unwrap_or_default());
    let mut s1 = pick(&spec, SPEC_FIELDS);
    let metrics: Vec<Value> = spec
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (cpu, others): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization);
    if let Some(u) = cpu
        .first()
        .and_then(|m| m.pointer("/resource/target/averageUtilization"))
    {
        s1.insert("targetCPUUtilizationPercentage".into(), u.clone());
    }
    if !others.is_empty() {
        set_annotation(&mut o, METRICS, Value::Array(others).to_string());
    }
    if let Some(b) = spec.get("behavior") {
        set_annotation(&mut o, BEHAVIOR, b.to_string());
    }
    o.insert("spec".into(), Value::Object(s1));
    if let Some(status) = o.remove("status") {
        let st = obj(status);
        let mut s1 = pick(&st, STATUS_FIELDS);
        s1.entry("currentReplicas").or_insert(json!(0));
        let current: Vec<Value> = st
            .get("currentMetrics")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let (cpu, others): (Vec<Value>, Vec<Value>) = current.into_iter().partition(|m| {
            m.get("type").and_then(Value::as_str) == Some("Resource")
                && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        });
        if let Some(u) = cpu
            .first()
            .and_then(|m| m.pointer("/resource/current/averageUtilization"))
        {
            s1.insert("currentCPUUtilizationPercentage".into(), u.clone());
        }
        if !others.is_empty() {
            set_annotation(&mut o, CURRENT_METRICS, Value::Array(others).to_string());
        }
        if let Some(c) = st
            .get("conditions")
            .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
        {
            set_annotation(&mut o, CONDITIONS, c.to_string());
        }
        o.insert("status".into(), Value::Object(s1));
    }
    Value::Object(o)
}

fn hpa_v1_to_v2(v1: Value) -> Value {
    let mut o = obj(v1);
    o.insert("apiVersion".into(), json!("autoscaling/v2"));
    let spec = obj(o.remove("spec").unwrap_or_default());
    let mut s2 = pick(&spec, SPEC_FIELDS);
    let mut metrics = Vec::new();
    if let Some(u) = spec
        .get("targetCPUUtilizationPercentage")
        .filter(|u| !u.is_null())
    {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": u}}}));
    }
    if let Some(Value::Array(more)) = take_annotation(&mut o, METRICS) {
        metrics.extend(more);
    }
    if !metrics.is_empty() {
        s2.insert("metrics".into(), Value::Array(metrics));
    }
    if let Some(b) = take_annotation(&mut o, BEHAVIOR) {
        s2.insert("behavior".into(), b);
    }
    o.insert("spec".into(), Value::Object(s2));
    let conditions = take_annotation(&mut o, CONDITIONS);
    let current = take_annotation(&mut o, CURRENT_METRICS);
    if let Some(status) = o.remove("status") {
        let st = obj(status);
        let mut s2 = pick(&st, STATUS_FIELDS);
        let mut cm = Vec::new();
        if let Some(u) = st
            .get("currentCPUUtilizationPercentage")
            .filter(|u| !u.is_null())
        {
            cm.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageUtilization": u}}}));
        }
        if let Some(Value::Array(more)) = current {
            cm.extend(more);
        }
        if !cm.is_empty() {
            s2.insert("currentMetrics".into(), Value::Array(cm));
        }
        if let Some(c) = conditions {
            s2.insert("conditions".into(), c);
        }
        o.insert("status".into(), Value::Object(s2));
    }
    drop_empty_annotations(&mut o);
    Value::Object(o)
}

/// `(events.k8s.io/v1 name, core/v1 name)` of the fields that differ.
const EVENT_RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(v: Value, api_version: &str, from_events: bool) -> Value {
    let mut o = obj(v);
    o.insert("apiVersion".into(), json!(api_version));
    for (new, old) in EVENT_RENAMES {
        let (src, dst) = if from_events { (new, old) } else { (old, new) };
        if let Some(v) = o.remove(*src) {
            o.insert((*dst).to_string(), v);
        }
    }
    Value::Object(o)
}

fn events_to_core(v: Value) -> Value {
    rename(v, "v1", true)
}

fn core_to_events(v: Value) -> Value {
    rename(v, "events.k8s.io/v1", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_through_v1() {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                     "minReplicas": 1, "maxReplicas": 5,
                     "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 3}});
        let v1 = hpa_v2_to_v1(v2.clone());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert!(v1["spec"].get("metrics").is_none());
        assert!(v1["metadata"]["annotations"][METRICS].as_str().is_some());
        assert_eq!(hpa_v1_to_v2(v1), v2);
    }

    #[test]
    fn a_plain_v1_hpa_converts() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"}, "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        let v2 = hpa_v1_to_v2(v1);
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        assert!(v2["metadata"].get("annotations").is_none());
        assert_eq!(hpa_v1_to_v2(json!(5))["apiVersion"], "autoscaling/v2");
    }

    #[test]
    fn events_rename_both_ways() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hi", "count": 2, "reason": "X"});
        let ev = core_to_events(core.clone());
        assert_eq!(ev["apiVersion"], "events.k8s.io/v1");
        assert_eq!(ev["regarding"]["name"], "p");
        assert_eq!(ev["note"], "hi");
        assert_eq!(ev["deprecatedCount"], 2);
        assert_eq!(events_to_core(ev), core);
    }
}
