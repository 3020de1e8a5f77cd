//! Scenarios after upstream's structured-merge-diff and managedfields
//! tests, and seeded property tests over a small schema.

use serde_json::{Value, json};

use super::entries::{self, Entry, Operation};
use super::manager::{FieldManager, MAX_UPDATE_MANAGERS, ResetFields};
use super::path::{PathElement, path_string};
use super::schema::TypeSchema;
use super::set::Set;
use super::typed::Typed;
use super::{scale, typed};

const NOW: &str = "2024-05-01T10:00:00Z";
const LATER: &str = "2024-05-01T11:00:00Z";

fn widget_schema() -> TypeSchema {
    TypeSchema::for_custom_resource(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "image": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "containers": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"}, "image": {"type": "string"},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                        "items": {"type": "object", "properties": {
                            "containerPort": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"}}}}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "args": {"type": "array", "items": {"type": "string"}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}}},
        "status": {"type": "object", "properties": {"ready": {"type": "integer"}}}}}))
}

fn manager(s: &TypeSchema) -> FieldManager<'_> {
    FieldManager {
        schema: s,
        api_version: "example.com/v1",
        kind: "Widget",
        subresource: "",
        reset: ResetFields::None,
        now: NOW,
    }
}

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns"}, "spec": spec})
}

/// `(manager, operation, fieldsV1)` of each entry, in order.
fn owners(obj: &Value) -> Vec<(String, &'static str, Value)> {
    entries::of(obj)
        .expect("entries")
        .into_iter()
        .map(|e| {
            (
                e.manager.clone(),
                e.operation.as_str(),
                e.fields.to_fields_v1(),
            )
        })
        .collect()
}

fn apply(fm: &FieldManager<'_>, live: &Value, spec: Value, who: &str) -> Value {
    fm.apply(live, &widget(spec), who, false)
        .unwrap_or_else(|e| panic!("apply by {who}: {e:?}"))
}

#[test]
fn an_apply_creates_the_object_and_owns_what_it_applied() {
    let s = widget_schema();
    let fm = manager(&s);
    let out = apply(
        &fm,
        &json!({}),
        json!({"replicas": 1, "labels": {"a": "b"}}),
        "a",
    );
    assert_eq!(out["spec"], json!({"replicas": 1, "labels": {"a": "b"}}));
    let mf = &out["metadata"]["managedFields"];
    assert_eq!(
        serde_json::to_string(mf).expect("json"),
        r#"[{"manager":"a","operation":"Apply","apiVersion":"example.com/v1","time":"2024-05-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:labels":{"f:a":{}},"f:replicas":{}}}}]"#
    );
}

#[test]
fn a_second_applier_conflicts_and_takes_over_with_force() {
    let s = widget_schema();
    let fm = manager(&s);
    let one = apply(&fm, &json!({}), json!({"replicas": 1, "image": "x"}), "a");
    let err = fm
        .apply(&one, &widget(json!({"replicas": 2})), "b", false)
        .expect_err("conflict");
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert_eq!(
        err.message,
        r#"Apply failed with 1 conflict: conflict with "a": .spec.replicas"#
    );
    let causes = &err.details.as_ref().expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(
        (
            causes[0].kind.as_str(),
            causes[0].message.as_str(),
            causes[0].field.as_str()
        ),
        (
            "FieldManagerConflict",
            r#"conflict with "a""#,
            ".spec.replicas"
        )
    );
    // The same value is no conflict: both own it.
    let shared = apply(&fm, &one, json!({"replicas": 1}), "b");
    assert_eq!(owners(&shared).len(), 2);
    // Forced, b takes the field from a.
    let forced = fm
        .apply(&one, &widget(json!({"replicas": 2})), "b", true)
        .expect("forced");
    assert_eq!(forced["spec"]["replicas"], 2);
    assert_eq!(
        owners(&forced),
        vec![
            ("a".into(), "Apply", json!({"f:spec": {"f:image": {}}})),
            ("b".into(), "Apply", json!({"f:spec": {"f:replicas": {}}})),
        ]
    );
}

#[test]
fn conflicts_with_several_managers_are_listed_by_manager() {
    let s = widget_schema();
    let fm = manager(&s);
    let one = apply(&fm, &json!({}), json!({"replicas": 1, "image": "x"}), "a");
    let mut two = widget(json!({"replicas": 1, "image": "x", "labels": {"l": "1"}}));
    two["metadata"]["managedFields"] = one["metadata"]["managedFields"].clone();
    fm.update(&one, &mut two, "kubectl-edit");
    let err = fm
        .apply(
            &two,
            &widget(json!({"replicas": 5, "image": "y", "labels": {"l": "2"}})),
            "c",
            false,
        )
        .expect_err("conflicts");
    assert_eq!(
        err.message,
        "Apply failed with 3 conflicts: conflicts with \"a\":\n- .spec.image\n- .spec.replicas\nconflicts with \"kubectl-edit\" using example.com/v1:\n- .spec.labels.l"
    );
    let fields: Vec<&str> = err
        .details
        .as_ref()
        .expect("details")
        .causes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(fields, [".spec.image", ".spec.replicas", ".spec.labels.l"]);
}

#[test]
fn a_dropped_field_goes_only_when_nobody_else_owns_it() {
    let s = widget_schema();
    let fm = manager(&s);
    let one = apply(&fm, &json!({}), json!({"replicas": 1, "image": "x"}), "a");
    let dropped = apply(&fm, &one, json!({"replicas": 1}), "a");
    assert_eq!(dropped["spec"], json!({"replicas": 1}));
    // A map the applier no longer sets goes with its keys; one that
    // another manager still owns is left empty.
    let labelled = apply(
        &fm,
        &dropped,
        json!({"replicas": 1, "labels": {"k": "v"}}),
        "a",
    );
    let unlabelled = apply(&fm, &labelled, json!({"replicas": 1}), "a");
    assert_eq!(unlabelled["spec"], json!({"replicas": 1}));
    let held = apply(&fm, &labelled, json!({"labels": {}}), "c");
    let emptied = apply(&fm, &held, json!({"replicas": 1}), "a");
    assert_eq!(emptied["spec"], json!({"replicas": 1, "labels": {}}));
    // b also applied the image: a dropping it leaves it.
    let both = apply(&fm, &one, json!({"image": "x"}), "b");
    let kept = apply(&fm, &both, json!({"replicas": 1}), "a");
    assert_eq!(kept["spec"], json!({"replicas": 1, "image": "x"}));
    // b changed nothing, so its entry has no time and sorts first.
    assert_eq!(
        owners(&kept),
        vec![
            ("b".into(), "Apply", json!({"f:spec": {"f:image": {}}})),
            ("a".into(), "Apply", json!({"f:spec": {"f:replicas": {}}})),
        ]
    );
    assert_eq!(kept["metadata"]["managedFields"][0].get("time"), None);
    // A field an updater owns stays too.
    let mut edited = kept.clone();
    edited["spec"]["labels"] = json!({"e": "1"});
    fm.update(&kept, &mut edited, "kubectl-edit");
    let again = apply(&fm, &edited, json!({"replicas": 1}), "a");
    assert_eq!(again["spec"]["labels"], json!({"e": "1"}));
}

#[test]
fn list_map_elements_are_added_and_removed_by_key() {
    let s = widget_schema();
    let fm = manager(&s);
    let c = |n: &str, img: &str| json!({"name": n, "image": img});
    let one = apply(
        &fm,
        &json!({}),
        json!({"containers": [c("x", "1"), c("y", "1")]}),
        "a",
    );
    let other = apply(&fm, &one, json!({"containers": [c("z", "9")]}), "b");
    assert_eq!(
        other["spec"]["containers"],
        json!([c("x", "1"), c("y", "1"), c("z", "9")])
    );
    let without_y = apply(&fm, &other, json!({"containers": [c("x", "1")]}), "a");
    assert_eq!(
        without_y["spec"]["containers"],
        json!([c("x", "1"), c("z", "9")])
    );
    // Ports keyed by containerPort and the defaulted protocol.
    let ports = apply(
        &fm,
        &without_y,
        json!({"containers": [{"name": "x", "image": "1", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}]}),
        "a",
    );
    let owned = entries::of(&ports).expect("entries");
    let a = owned.iter().find(|e| e.manager == "a").expect("a");
    let paths: Vec<String> = a.fields.paths().iter().map(|p| path_string(p)).collect();
    assert!(
        paths.contains(
            &r#".spec.containers[name="x"].ports[containerPort=80,protocol="TCP"]"#.to_string()
        ),
        "{paths:?}"
    );
    let fewer = apply(
        &fm,
        &ports,
        json!({"containers": [{"name": "x", "image": "1", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}),
        "a",
    );
    assert_eq!(
        fewer["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 53, "protocol": "UDP"}])
    );
    assert_eq!(fewer["spec"]["containers"][1], c("z", "9"));
}

#[test]
fn sets_atomic_lists_and_atomic_maps() {
    let s = widget_schema();
    let fm = manager(&s);
    let one = apply(
        &fm,
        &json!({}),
        json!({"tags": ["a", "b"], "args": ["1"], "selector": {"a": "1"}}),
        "a",
    );
    let two = apply(&fm, &one, json!({"tags": ["c"]}), "b");
    assert_eq!(two["spec"]["tags"], json!(["a", "b", "c"]));
    // Atomic values are owned and replaced as a whole.
    let err = fm
        .apply(&two, &widget(json!({"args": ["2"]})), "b", false)
        .expect_err("conflict");
    assert!(err.message.ends_with(": .spec.args"), "{}", err.message);
    let err = fm
        .apply(&two, &widget(json!({"selector": {"b": "2"}})), "b", false)
        .expect_err("conflict");
    assert!(err.message.ends_with(": .spec.selector"), "{}", err.message);
    let f = entries::of(&two).expect("entries");
    let b = f.iter().find(|e| e.manager == "b").expect("b");
    assert_eq!(
        b.fields.to_fields_v1(),
        json!({"f:spec": {"f:tags": {"v:\"c\"": {}}}})
    );
}

#[test]
fn updates_take_what_they_change_from_everyone_else() {
    let s = widget_schema();
    let fm = manager(&s);
    let mut created = widget(json!({"replicas": 1, "image": "x"}));
    fm.update(&json!({}), &mut created, "kubectl-create");
    created["metadata"]["uid"] = json!("u1");
    assert_eq!(
        owners(&created),
        vec![(
            "kubectl-create".into(),
            "Update",
            json!({"f:spec": {".": {}, "f:image": {}, "f:replicas": {}}})
        )]
    );
    let mut edited = created.clone();
    edited["spec"]["replicas"] = json!(3);
    let later = FieldManager {
        now: LATER,
        ..manager(&s)
    };
    later.update(&created, &mut edited, "kubectl-edit");
    let list = entries::of(&edited).expect("entries");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].manager, "kubectl-create");
    assert_eq!(list[0].time.as_deref(), Some(NOW));
    assert_eq!(list[1].manager, "kubectl-edit");
    assert_eq!(list[1].time.as_deref(), Some(LATER));
    assert_eq!(
        list[1].fields.to_fields_v1(),
        json!({"f:spec": {"f:replicas": {}}})
    );
    // An update that changes nothing records nothing.
    let mut same = edited.clone();
    later.update(&edited, &mut same, "someone");
    assert_eq!(same, edited);
    // A conflict with an updater names its API version.
    let err = fm
        .apply(&edited, &widget(json!({"replicas": 4})), "a", false)
        .expect_err("conflict");
    assert_eq!(
        err.message,
        r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using example.com/v1: .spec.replicas"#
    );
}

#[test]
fn managed_fields_reset_and_tracking_restarts_at_the_next_apply() {
    let s = widget_schema();
    let fm = manager(&s);
    let mut live = apply(&fm, &json!({}), json!({"replicas": 1}), "a");
    live["metadata"]["uid"] = json!("u1");
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([]);
    fm.update(&live, &mut reset, "x");
    assert!(reset["metadata"].get("managedFields").is_none());
    // Updates do not track objects without entries.
    let mut edited = reset.clone();
    edited["spec"]["image"] = json!("i");
    fm.update(&reset, &mut edited, "x");
    assert!(edited["metadata"].get("managedFields").is_none());
    // The next apply gives what is there to before-first-apply, which
    // a different value then conflicts with.
    let err = fm
        .apply(&edited, &widget(json!({"replicas": 2})), "a", false)
        .expect_err("conflict");
    assert!(
        err.message
            .contains(r#""before-first-apply" using example.com/v1"#),
        "{}",
        err.message
    );
    let applied = apply(&fm, &edited, json!({"replicas": 1}), "a");
    let names: Vec<(String, &str)> = owners(&applied)
        .into_iter()
        .map(|(m, o, _)| (m, o))
        .collect();
    assert_eq!(
        names,
        [
            ("a".into(), "Apply"),
            ("before-first-apply".into(), "Update")
        ]
    );
    // One empty entry also resets.
    let mut one_empty = applied.clone();
    one_empty["metadata"]["managedFields"] = json!([{}]);
    fm.update(&applied, &mut one_empty, "x");
    assert!(one_empty["metadata"].get("managedFields").is_none());
}

#[test]
fn subresource_writes_keep_the_live_entries() {
    let s = widget_schema();
    let st = FieldManager {
        subresource: "status",
        reset: ResetFields::AllButStatus,
        ..manager(&s)
    };
    let mut live = apply(&manager(&s), &json!({}), json!({"replicas": 1}), "a");
    live["metadata"]["uid"] = json!("u1");
    let mut new = live.clone();
    new["status"] = json!({"ready": 1});
    new["spec"]["replicas"] = json!(9);
    new["metadata"]["managedFields"] = json!([]);
    st.update(&live, &mut new, "controller");
    let list = entries::of(&new).expect("entries");
    assert_eq!(list.len(), 2, "{list:?}");
    let c = list
        .iter()
        .find(|e| e.manager == "controller")
        .expect("controller");
    assert_eq!(c.subresource, "status");
    assert_eq!(
        c.fields.to_fields_v1(),
        json!({"f:status": {".": {}, "f:ready": {}}})
    );
    assert_eq!(
        c.describe(),
        r#""controller" with subresource "status" using example.com/v1"#
    );
    let a = list
        .iter()
        .find(|e| e.manager == "a")
        .expect("a keeps spec");
    assert!(
        a.fields
            .has(&[PathElement::field("spec"), PathElement::field("replicas")])
    );
}

#[test]
fn update_entries_are_capped_into_ancient_changes() {
    let s = widget_schema();
    let mut obj = widget(json!({}));
    obj["metadata"]["uid"] = json!("u");
    obj["metadata"]["managedFields"] = json!([{"manager": "seed", "operation": "Update",
        "apiVersion": "example.com/v1", "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:image": {}}}}]);
    for i in 0..12 {
        let now = format!("2024-05-01T10:{i:02}:00Z");
        let fm = FieldManager {
            now: &now,
            ..manager(&s)
        };
        let mut next = obj.clone();
        next["spec"]["labels"][format!("l{i}")] = json!("v");
        fm.update(&obj, &mut next, &format!("m{i:02}"));
        obj = next;
    }
    let list = entries::of(&obj).expect("entries");
    assert_eq!(list.len(), MAX_UPDATE_MANAGERS);
    let ancient = list
        .iter()
        .find(|e| e.manager == "ancient-changes")
        .expect("ancient-changes");
    assert_eq!(ancient.operation, Operation::Update);
    assert!(
        ancient
            .fields
            .has(&[PathElement::field("spec"), PathElement::field("image")])
    );
    assert!(
        !list
            .iter()
            .any(|e| e.manager == "seed" || e.manager == "m00")
    );
}

#[test]
fn applying_the_same_configuration_again_changes_nothing() {
    let s = widget_schema();
    let fm = manager(&s);
    let config =
        json!({"replicas": 1, "containers": [{"name": "x", "ports": [{"containerPort": 1}]}]});
    let one = apply(&fm, &json!({}), config.clone(), "a");
    let later = FieldManager {
        now: LATER,
        ..manager(&s)
    };
    let two = later
        .apply(&one, &widget(config), "a", false)
        .expect("apply");
    assert_eq!(one, two, "same object, same entries, same time");
}

#[test]
fn kubectl_takes_over_fields_client_side_apply_set() {
    let s = widget_schema();
    let fm = manager(&s);
    let last = r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"annotations":{},"name":"w","namespace":"ns"},"spec":{"replicas":1}}"#;
    let mut live = widget(json!({"replicas": 1, "image": "i"}));
    live["metadata"]["annotations"] = json!({super::manager::LAST_APPLIED: last});
    let mut created = live.clone();
    fm.update(&json!({}), &mut created, "kubectl-client-side-apply");
    created["metadata"]["uid"] = json!("u");
    // Another manager is not allowed the same.
    let err = fm
        .apply(&created, &widget(json!({"replicas": 2})), "other", false)
        .expect_err("conflict");
    assert!(
        err.message.contains("kubectl-client-side-apply"),
        "{}",
        err.message
    );
    let out = fm
        .apply(&created, &widget(json!({"replicas": 2})), "kubectl", false)
        .expect("upgrade without conflict");
    assert_eq!(out["spec"]["replicas"], 2);
    let annotation = out["metadata"]["annotations"][super::manager::LAST_APPLIED]
        .as_str()
        .expect("annotation");
    assert_eq!(
        annotation,
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\",\"namespace\":\"ns\"},\"spec\":{\"replicas\":2}}\n"
    );
    // Fields whose live value differs from the annotation still conflict.
    let err = fm
        .apply(&created, &widget(json!({"image": "j"})), "kubectl", false)
        .expect_err("image was not client-side applied");
    assert!(err.message.ends_with(".spec.image"), "{}", err.message);
}

#[test]
fn bad_configurations_get_upstreams_errors() {
    let s = widget_schema();
    let fm = manager(&s);
    let err = fm
        .apply(&json!({}), &widget(json!({"bogus": 1})), "a", false)
        .expect_err("unknown field");
    assert_eq!(err.code, 500);
    assert_eq!(
        err.message,
        "failed to create typed patch object (ns/w; example.com/v1, Kind=Widget): .spec.bogus: field not declared in schema"
    );
    let err = fm
        .apply(
            &json!({}),
            &widget(json!({"containers": [{"image": "x"}, {"name": "a"}, {"name": "a"}]})),
            "a",
            false,
        )
        .expect_err("keys");
    assert!(err.message.contains(".spec.containers: element 0: associative list with keys has an element that omits key field \"name\""), "{}", err.message);
    let mut wrong = widget(json!({}));
    wrong["kind"] = json!("Gadget");
    let err = fm.apply(&json!({}), &wrong, "a", false).expect_err("kind");
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "invalid object type: example.com/v1, Kind=Gadget")
    );
    let mut with_mf = widget(json!({}));
    with_mf["metadata"]["managedFields"] = json!([]);
    let err = fm
        .apply(&json!({}), &with_mf, "a", false)
        .expect_err("managedFields");
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "metadata.managedFields must be nil")
    );
    let err = fm
        .apply(&json!({}), &widget(json!({"replicas": "x"})), "a", false)
        .expect_err("type");
    assert!(
        err.message
            .ends_with(".spec.replicas: expected numeric (int or float), got string"),
        "{}",
        err.message
    );
}

#[test]
fn scale_sees_and_writes_the_replicas_owner() {
    let path = scale::replicas_path(".spec.replicas");
    let e = |m: &str, fields: Value| Entry {
        manager: m.into(),
        operation: Operation::Update,
        api_version: "apps/v1".into(),
        subresource: String::new(),
        time: Some(NOW.into()),
        fields: Set::from_fields_v1(&fields).expect("set"),
    };
    let parent = vec![
        e(
            "create",
            json!({"f:spec": {"f:replicas": {}, "f:paused": {}}}),
        ),
        e("other", json!({"f:spec": {"f:paused": {}}})),
    ];
    let sub = scale::to_subresource(&parent, "apps/v1", &path);
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0].api_version, "autoscaling/v1");
    // kubectl-scale took spec.replicas on the Scale.
    let scaled = vec![Entry {
        manager: "kubectl-scale".into(),
        subresource: "scale".into(),
        api_version: "autoscaling/v1".into(),
        time: Some(LATER.into()),
        ..e("x", json!({"f:spec": {"f:replicas": {}}}))
    }];
    let back = scale::to_parent(&parent, &scaled, "apps/v1", &path);
    let summary: Vec<(String, Value, Option<String>)> = back
        .iter()
        .map(|e| (e.manager.clone(), e.fields.to_fields_v1(), e.time.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "create".into(),
                json!({"f:spec": {"f:paused": {}}}),
                Some(NOW.into())
            ),
            (
                "other".into(),
                json!({"f:spec": {"f:paused": {}}}),
                Some(NOW.into())
            ),
            (
                "kubectl-scale".into(),
                json!({"f:spec": {"f:replicas": {}}}),
                None
            ),
        ]
    );
}

#[test]
fn built_in_kinds_record_upstreams_fields_v1() {
    let s = TypeSchema::for_definition("io.k8s.api.apps.v1.Deployment");
    let fm = FieldManager {
        schema: &s,
        api_version: "apps/v1",
        kind: "Deployment",
        subresource: "",
        reset: ResetFields::Status,
        now: NOW,
    };
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx",
                    "ports": [{"containerPort": 80}]}]}}},
        "status": {"replicas": 5}});
    let out = fm.apply(&json!({}), &config, "a", false).expect("apply");
    let fields = &out["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(
        serde_json::to_string(fields).expect("json"),
        r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}"#
    );
}

// ----- property tests -----

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// A random configuration for the widget schema.
fn random_spec(r: &mut Rng) -> Value {
    let mut spec = serde_json::Map::new();
    if r.below(2) == 0 {
        spec.insert("replicas".into(), json!(r.below(3)));
    }
    if r.below(2) == 0 {
        spec.insert("image".into(), json!(r.pick(&["a", "b"])));
    }
    if r.below(2) == 0 {
        let mut labels = serde_json::Map::new();
        for k in ["x", "y", "z"] {
            if r.below(2) == 0 {
                labels.insert(k.into(), json!(r.pick(&["1", "2"])));
            }
        }
        spec.insert("labels".into(), Value::Object(labels));
    }
    if r.below(2) == 0 {
        let mut cs = Vec::new();
        for n in ["c1", "c2", "c3"] {
            if r.below(2) == 0 {
                let mut c = json!({"name": n});
                if r.below(2) == 0 {
                    c["image"] = json!(r.pick(&["i", "j"]));
                }
                if r.below(2) == 0 {
                    c["ports"] = json!([{"containerPort": r.below(2) + 80}]);
                }
                cs.push(c);
            }
        }
        spec.insert("containers".into(), Value::Array(cs));
    }
    if r.below(3) == 0 {
        let tags: Vec<&str> = ["t1", "t2"]
            .into_iter()
            .filter(|_| r.below(2) == 0)
            .collect();
        spec.insert("tags".into(), json!(tags));
    }
    // A configuration that owns nothing leaves no entry, and the next
    // apply gives the object to before-first-apply (as upstream): keep
    // one owned field.
    if !spec.contains_key("replicas") && !spec.contains_key("image") {
        spec.insert("image".into(), json!("a"));
    }
    Value::Object(spec)
}

/// The value at a path of an object, if any.
fn value_at<'a>(v: &'a Value, path: &[PathElement], s: &TypeSchema) -> Option<&'a Value> {
    let _ = s;
    let mut cur = v;
    for pe in path {
        cur = match pe {
            PathElement::Field(f) => cur.get(f)?,
            PathElement::Key(k) => cur.as_array()?.iter().find(|item| {
                k.iter()
                    .all(|(name, want)| item.get(name).unwrap_or(&json!("TCP")) == want)
            })?,
            PathElement::Value(want) => cur.as_array()?.iter().find(|x| *x == want)?,
            PathElement::Index(i) => cur.as_array()?.get(*i)?,
        };
    }
    Some(cur)
}

#[test]
fn property_reapplying_is_a_no_op_and_others_fields_survive() {
    let s = widget_schema();
    let fm = manager(&s);
    let later = FieldManager {
        now: LATER,
        ..manager(&s)
    };
    let mut rng = Rng(0x5eed_0000_0000_0001);
    for round in 0..400 {
        let mut live = json!({});
        for step in 0..4 {
            let who = *rng.pick(&["a", "b", "c"]);
            let spec = random_spec(&mut rng);
            let before = entries::of(&live).expect("entries");
            match fm.apply(&live, &widget(spec.clone()), who, false) {
                Ok(next) => {
                    // Re-applying changes nothing, time included.
                    let again = later
                        .apply(&next, &widget(spec), who, false)
                        .expect("re-apply of the same configuration");
                    assert_eq!(again, next, "round {round} step {step}");
                    // Nobody else lost a field or saw it change.
                    let after = entries::of(&next).expect("entries");
                    for other in before.iter().filter(|e| e.manager != who) {
                        let now = after
                            .iter()
                            .find(|e| e.same_manager(other))
                            .unwrap_or_else(|| panic!("round {round}: {} vanished", other.manager));
                        assert_eq!(now.fields, other.fields, "round {round} step {step}");
                        for p in other.fields.paths() {
                            let (old, new) = (value_at(&live, &p, &s), value_at(&next, &p, &s));
                            let what = format!(
                                "round {round} step {step}: {} of {}",
                                path_string(&p),
                                other.manager
                            );
                            // Scalars keep their value; maps and list
                            // elements stay (others may add below them).
                            match old {
                                Some(v) if !v.is_object() && !v.is_array() && !v.is_null() => {
                                    assert_eq!(old, new, "{what} changed")
                                }
                                Some(_) => assert!(new.is_some(), "{what} removed"),
                                None => {}
                            }
                        }
                    }
                    live = next;
                }
                Err(e) => assert_eq!(e.code, 409, "round {round}: {e:?}"),
            }
        }
    }
}

fn random_value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth == 0 { 4 } else { 7 }) {
        0 => Value::Null,
        1 => json!(r.below(5) as i64 - 2),
        2 => json!(*r.pick(&["", "a", "name", "TCP", "{", "k:x"])),
        3 => json!(r.below(2) == 0),
        4 => json!(0.5),
        5 => Value::Array(
            (0..r.below(4))
                .map(|_| random_value(r, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "spec",
                "replicas",
                "containers",
                "name",
                "ports",
                "containerPort",
                "protocol",
                "tags",
                "labels",
                "metadata",
                "managedFields",
                "x",
                "f:y",
            ];
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(5) {
                m.insert((*r.pick(&keys)).to_string(), random_value(r, depth - 1));
            }
            Value::Object(m)
        }
    }
}

#[test]
fn property_no_input_panics() {
    let s = widget_schema();
    let d = TypeSchema::for_definition("io.k8s.api.apps.v1.Deployment");
    let schemas = [&s, &d];
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..3000 {
        let schema = *rng.pick(&schemas);
        let fm = FieldManager {
            schema,
            ..manager(&s)
        };
        let mut live = random_value(&mut rng, 4);
        if rng.below(2) == 0 {
            live = widget(random_value(&mut rng, 3));
        }
        let mut config = widget(random_value(&mut rng, 3));
        if rng.below(4) == 0 {
            config = random_value(&mut rng, 4);
        }
        let _ = fm.apply(&live, &config, "a", rng.below(2) == 0);
        let mut new = random_value(&mut rng, 4);
        fm.update(&live, &mut new, "u");
        let t = Typed::new(schema);
        let root = schema.root();
        let _ = t.compare(root, &live, &config);
        let set = t.to_set(root, &config);
        let _ = t.remove(root, &live, &set);
        let _ = t.ensure_named_fields_are_members(Some(root), &set);
        let _ = typed::errors_string(&t.validate(root, &config));
        let _ = Set::from_fields_v1(&random_value(&mut rng, 4));
        let _ = entries::decode(Some(&random_value(&mut rng, 3)));
    }
}

#[test]
fn merged_lists_keep_live_only_elements_in_place_and_the_configurations_order() {
    let s = widget_schema();
    let t = Typed::new(&s);
    let c = |n: &str| json!({"name": n});
    let live = widget(json!({"containers": [c("a"), c("b"), c("c")]}));
    let config = widget(json!({"containers": [c("c"), c("a")]}));
    let merged = t.merge(s.root(), &live, &config);
    assert_eq!(
        merged["spec"]["containers"],
        json!([c("b"), c("c"), c("a")])
    );
    // Compared: nothing changed but the order.
    let cmp = t.compare(s.root(), &live, &merged);
    assert!(cmp.added.is_empty() && cmp.modified.is_empty() && cmp.removed.is_empty());
    // Sets merge by value.
    let live = widget(json!({"tags": ["x", "y"]}));
    let config = widget(json!({"tags": ["z", "x"]}));
    assert_eq!(
        t.merge(s.root(), &live, &config)["spec"]["tags"],
        json!(["z", "x", "y"])
    );
}
