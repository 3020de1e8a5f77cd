//! Managed fields through the generic store over the real embedded
//! backend: every managed write records its entry, `managedFields: []`
//! resets them, a status write records its subresource, and (a seeded
//! property test) applying the same configuration twice writes nothing the
//! second time: the resourceVersion stays.

use std::sync::Arc;

use kaiser_apimachinery::managedfields::{FieldManager, entries};
use kaiser_apimachinery::{StatusError, meta, time};
use kaiser_registry::strategy::StatusStrategy;
use kaiser_registry::{ResourceInfo, Store, Strategy, WriteOptions};
use kaiser_storage::Storage;
use kaiser_storage::embedded::EmbeddedStore;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The main resource of a kind with a status subresource.
struct Widgets;

impl Strategy for Widgets {
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if let Some(o) = new.as_object_mut() {
            match old.get("status") {
                Some(s) => o.insert("status".into(), s.clone()),
                None => o.remove("status"),
            };
        }
    }

    fn reset_fields(&self) -> kaiser_apimachinery::managedfields::ResetFields {
        kaiser_apimachinery::managedfields::ResetFields::Status
    }
}

fn schema() -> Value {
    json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "size": {"type": "integer"},
            "color": {"type": "string"},
            "items": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["id"],
                "items": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string"}, "v": {"type": "integer"}}}}}},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}})
}

struct Fixture {
    store: Store,
    _dir: TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> =
        Arc::new(EmbeddedStore::open(dir.path()).expect("open embedded store"));
    let mut info = ResourceInfo::new("example.com", "v1", "widgets", "Widget", true);
    info.schema = Some(Arc::new(schema()));
    let strategy: Arc<dyn Strategy> = Arc::new(Widgets);
    let store = Store::new(info, strategy.clone(), storage)
        .with_subresource("status", Arc::new(StatusStrategy(strategy)));
    Fixture { store, _dir: dir }
}

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"}, "spec": spec})
}

fn admit(_: &Value, _: Option<&Value>) -> Result<(), StatusError> {
    Ok(())
}

fn managers(obj: &Value) -> Vec<(String, String, String)> {
    entries::of(obj)
        .expect("entries")
        .into_iter()
        .map(|e| (e.manager, e.operation.as_str().to_string(), e.subresource))
        .collect()
}

fn managed(manager: &str) -> WriteOptions<'_> {
    WriteOptions {
        manager: Some(manager),
        ..Default::default()
    }
}

impl Fixture {
    async fn put(&self, store: &Store, obj: Value, manager: &str) -> Value {
        store
            .update_with(
                "default",
                "w",
                &|_| Ok(obj.clone()),
                &admit,
                &managed(manager),
            )
            .await
            .expect("update")
            .0
    }

    /// A server-side apply through the store, as the handler does it.
    async fn apply(
        &self,
        spec: &Value,
        manager: &str,
        force: bool,
    ) -> Result<(Value, bool), StatusError> {
        let config = widget(spec.clone());
        let store = &self.store;
        let f = |old: Option<&Value>| {
            let schema = store.type_schema();
            let now = time::now_rfc3339();
            let empty = json!({});
            FieldManager {
                schema: &schema,
                api_version: "example.com/v1",
                kind: "Widget",
                subresource: "",
                reset: store.strategy.reset_fields(),
                now: &now,
            }
            .apply(old.unwrap_or(&empty), &config, manager, force)
        };
        let opts = WriteOptions {
            force_allow_create: true,
            ..Default::default()
        };
        store.update_with("default", "w", &f, &admit, &opts).await
    }
}

#[tokio::test]
async fn writes_record_their_managers() {
    let f = fixture();
    let created = f
        .store
        .create_with(widget(json!({"size": 1})), &admit, &managed("creator"))
        .await
        .expect("create");
    assert_eq!(
        managers(&created),
        [("creator".into(), "Update".into(), String::new())]
    );
    assert_eq!(
        created["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {".": {}, "f:size": {}}})
    );
    let mut edit = created.clone();
    edit["spec"]["color"] = json!("red");
    let edited = f.put(&f.store, edit, "editor").await;
    assert_eq!(managers(&edited).len(), 2);
    // A status write records its subresource; spec changes through it do
    // not count.
    let status = f.store.subresource("status").expect("status store").clone();
    let mut st = edited.clone();
    st["status"] = json!({"ready": true});
    st["spec"]["size"] = json!(7);
    let written = f.put(&status, st, "controller").await;
    assert_eq!(written["spec"]["size"], 1);
    assert!(managers(&written).contains(&("controller".into(), "Update".into(), "status".into())));
    // Status changes through the main resource are reset and not owned.
    let mut main = written.clone();
    main["status"] = json!({"ready": false});
    let same = f.put(&f.store, main, "someone").await;
    assert_eq!(
        meta::resource_version(&same),
        meta::resource_version(&written)
    );
    // Writing an empty list resets the entries.
    let mut reset = same.clone();
    reset["metadata"]["managedFields"] = json!([]);
    let cleared = f.put(&f.store, reset, "resetter").await;
    assert!(
        cleared["metadata"].get("managedFields").is_none(),
        "{cleared}"
    );
    assert!(
        f.store.get("default", "w").await.expect("get")["metadata"]
            .get("managedFields")
            .is_none()
    );
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn random_spec(r: &mut Rng) -> Value {
    let mut spec = json!({"size": r.below(3)});
    if r.below(2) == 0 {
        spec["color"] = json!(["red", "blue"][r.below(2) as usize]);
    }
    if r.below(2) == 0 {
        let mut items = Vec::new();
        for id in ["a", "b", "c"] {
            if r.below(2) == 0 {
                items.push(json!({"id": id, "v": r.below(2)}));
            }
        }
        spec["items"] = Value::Array(items);
    }
    spec
}

#[tokio::test]
async fn property_applying_the_same_configuration_twice_keeps_the_resource_version() {
    let f = fixture();
    let mut rng = Rng(0x0bad_5eed_1234_5678);
    let mut checked = 0;
    for round in 0..60 {
        let who = ["a", "b"][rng.below(2) as usize];
        let spec = random_spec(&mut rng);
        // Every other round forces; the others may conflict.
        let force = round % 2 == 1;
        let Ok((first, _)) = f.apply(&spec, who, force).await else {
            continue;
        };
        let (second, created) = f.apply(&spec, who, force).await.expect("same apply again");
        assert!(!created);
        assert_eq!(
            meta::resource_version(&first),
            meta::resource_version(&second),
            "round {round}: {spec}"
        );
        assert_eq!(first, second, "round {round}");
        checked += 1;
    }
    assert!(checked > 30, "too few applies got through: {checked}");
}

#[tokio::test]
async fn writes_too_big_with_their_managed_fields_are_stored_without_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> =
        Arc::new(EmbeddedStore::open(dir.path()).expect("open embedded store"));
    let info = ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true);
    let store = Store::new(info, Arc::new(kaiser_registry::DefaultStrategy), storage);
    // About 1.54 MB of data; its managed fields would take it past the
    // store's 1.5 MiB limit.
    let data: serde_json::Map<String, Value> = (0..8000)
        .map(|i| (format!("k{i:05}"), Value::from("x".repeat(180))))
        .collect();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "big", "namespace": "default"}, "data": data});
    let created = store
        .create_with(cm, &admit, &managed("writer"))
        .await
        .expect("stored without managed fields");
    assert!(created["metadata"].get("managedFields").is_none());
    // An object with entries that an update makes too big loses them.
    let small = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "grows", "namespace": "default"}, "data": {"a": "b"}});
    let small = store
        .create_with(small, &admit, &managed("writer"))
        .await
        .expect("create");
    assert!(small["metadata"].get("managedFields").is_some());
    let mut edit = small.clone();
    edit["data"] = created["data"].clone();
    let (updated, _) = store
        .update_with(
            "default",
            "grows",
            &|_| Ok(edit.clone()),
            &admit,
            &managed("writer"),
        )
        .await
        .expect("update stored");
    assert_eq!(updated["data"]["k00000"], "x".repeat(180));
    assert!(updated["metadata"].get("managedFields").is_none());
    // Without a manager (an apply's own entries) the limit stands.
    let mut bigger = updated.clone();
    bigger["data"]["huge"] = json!("y".repeat(200_000));
    let err = store
        .update_with(
            "default",
            "grows",
            &|_| Ok(bigger.clone()),
            &admit,
            &WriteOptions::default(),
        )
        .await
        .expect_err("too large");
    assert_eq!(
        (err.code, err.reason, err.message.as_str()),
        (500, "", "etcdserver: request is too large")
    );
}
