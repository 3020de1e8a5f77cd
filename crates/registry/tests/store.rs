//! Tests of the generic REST store (`kaiser_registry::Store`) over the real
//! embedded storage backend: create, update, delete (with preconditions and
//! finalizers), list (selectors, pagination, pinned revisions), watch
//! (replay, selector transitions, initial events) and delete-collection.
//!
//! Expectations follow upstream kube-apiserver's generic registry
//! (`k8s.io/apiserver/pkg/registry/generic/registry`, the etcd3 store and
//! watcher, and the cacher's watch conversion).

use std::sync::Arc;
use std::time::Duration;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_registry::{
    DefaultStrategy, DeleteOptions, ObjectWatch, ResourceInfo, Store, Strategy, WatchEvent,
};
use kaiser_storage::Storage;
use kaiser_storage::embedded::EmbeddedStore;
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a watch may take to deliver an expected event.
const WAIT: Duration = Duration::from_secs(10);
/// How long a watch must stay silent when no event is expected.
const QUIET: Duration = Duration::from_millis(300);

/// A store for namespaced ConfigMap-like objects over a fresh embedded backend.
struct Fixture {
    store: Store,
    storage: Arc<dyn Storage>,
    _dir: TempDir,
}

fn fixture() -> Fixture {
    fixture_with(Arc::new(DefaultStrategy))
}

fn fixture_with(strategy: Arc<dyn Strategy>) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> =
        Arc::new(EmbeddedStore::open(dir.path()).expect("open embedded store"));
    let info = ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true);
    Fixture {
        store: Store::new(info, strategy, storage.clone()),
        storage,
        _dir: dir,
    }
}

/// A strategy whose validation rejects a reserved data key.
struct RejectingStrategy;

impl Strategy for RejectingStrategy {
    fn validate(&self, obj: &Value) -> ErrorList {
        let mut errs = ErrorList::new();
        if obj.pointer("/data/forbidden").is_some() {
            errs.push(FieldError::forbidden(
                "data.forbidden",
                "this key is reserved",
            ));
        }
        errs
    }
}

fn cm_in(ns: &str, name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "data": {"k": "v"},
    })
}

fn cm(name: &str) -> Value {
    cm_in("default", name, json!({}))
}

fn labeled(name: &str, labels: Value) -> Value {
    cm_in("default", name, labels)
}

fn opts(q: &[(&str, &str)]) -> ListOptions {
    ListOptions::from_query(q.iter().copied()).expect("valid list options")
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|o| meta::name(o).to_string())
        .collect()
}

fn cause_fields(e: &StatusError) -> Vec<String> {
    e.details
        .as_ref()
        .map(|d| d.causes.iter().map(|c| c.field.clone()).collect())
        .unwrap_or_default()
}

impl Fixture {
    async fn create(&self, obj: Value) -> Value {
        self.store
            .create(obj, &|_, _| Ok(()), false)
            .await
            .expect("create")
    }

    async fn try_create(&self, obj: Value, dry_run: bool) -> Result<Value, StatusError> {
        self.store.create(obj, &|_, _| Ok(()), dry_run).await
    }

    /// PUT of `obj` as the client sent it.
    async fn put(&self, obj: Value) -> Result<Value, StatusError> {
        self.put_dry(obj, false).await
    }

    async fn put_dry(&self, obj: Value, dry_run: bool) -> Result<Value, StatusError> {
        let ns = meta::namespace(&obj).to_string();
        let name = meta::name(&obj).to_string();
        self.store
            .update(&ns, &name, &|_| Ok(obj.clone()), &|_, _| Ok(()), dry_run)
            .await
            .map(|(o, created)| {
                assert!(!created, "update of an existing object reported a create");
                o
            })
    }

    /// Read-modify-write of the stored object, conditional on its revision.
    async fn modify(&self, name: &str, f: &(dyn Fn(&mut Value) + Sync)) -> Value {
        self.store
            .update(
                "default",
                name,
                &|old| {
                    let mut o = old.cloned().expect("object exists");
                    f(&mut o);
                    Ok(o)
                },
                &|_, _| Ok(()),
                false,
            )
            .await
            .expect("modify")
            .0
    }

    async fn get(&self, name: &str) -> Result<Value, StatusError> {
        self.store.get("default", name).await
    }

    async fn delete(
        &self,
        name: &str,
        o: &DeleteOptions,
    ) -> Result<kaiser_registry::Deleted, StatusError> {
        self.store.delete("default", name, o, &|_, _| Ok(())).await
    }

    async fn list(&self, ns: &str, q: &[(&str, &str)]) -> Value {
        self.store.list(ns, &opts(q)).await.expect("list")
    }

    /// Stores `value` as the configmap `name` in `default`, bypassing the
    /// store (a value no write through it could leave).
    /// `n` small ConfigMaps `<prefix>-00000`… in `default`, written
    /// straight to storage 500 at a time, so that their syncs are shared.
    async fn write_many(&self, prefix: &str, n: usize) {
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let writes = chunk.iter().map(|&i| {
                let storage = self.storage.clone();
                let name = format!("{prefix}-{i:05}");
                async move {
                    let value = format!(
                        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"default","uid":"u{i}"}}}}"#
                    );
                    let key = format!("/registry/configmaps/default/{name}");
                    storage.create(&key, bytes::Bytes::from(value)).await
                }
            });
            for r in futures_util::future::join_all(writes).await {
                r.expect("raw write");
            }
        }
    }

    /// A DELETE of the collection in `default` with the query `q`.
    async fn delete_collection(
        &self,
        q: &[(&str, &str)],
    ) -> (Vec<Arc<kaiser_storage::KeyValue>>, Value) {
        self.delete_collection_by(q, 1).await
    }

    /// The same, `workers` deletes at a time.
    async fn delete_collection_by(
        &self,
        q: &[(&str, &str)],
        workers: usize,
    ) -> (Vec<Arc<kaiser_storage::KeyValue>>, Value) {
        self.store
            .delete_collection(
                "default",
                &opts(q),
                &DeleteOptions::default(),
                &|_, _| Ok(()),
                workers,
            )
            .await
            .expect("delete collection")
    }

    /// The stored objects in `ns`.
    async fn stored(&self, ns: &str) -> Vec<Arc<kaiser_storage::KeyValue>> {
        self.store.list_page(ns, &opts(&[])).await.expect("list").0
    }

    async fn write_raw(&self, name: &str, value: &'static [u8]) {
        self.storage
            .create(
                &format!("/registry/configmaps/default/{name}"),
                bytes::Bytes::from_static(value),
            )
            .await
            .expect("raw write");
    }

    async fn revision(&self) -> i64 {
        self.storage
            .current_revision()
            .await
            .expect("current revision")
    }

    async fn watch(&self, q: &[(&str, &str)]) -> ObjectWatch {
        self.store.watch("default", &opts(q)).await.expect("watch")
    }
}

fn rv(obj: &Value) -> i64 {
    meta::resource_version(obj)
        .parse()
        .unwrap_or_else(|_| panic!("numeric resourceVersion in {obj}"))
}

fn set_label(obj: &mut Value, k: &str, v: &str) {
    obj["metadata"]["labels"][k] = Value::from(v);
}

fn set_data(obj: &mut Value, v: &str) {
    obj["data"]["k"] = Value::from(v);
}

async fn next(w: &mut ObjectWatch) -> WatchEvent {
    tokio::time::timeout(WAIT, w.next())
        .await
        .expect("a watch event before the timeout")
        .expect("the watch is still open")
}

async fn assert_quiet(w: &mut ObjectWatch) {
    if let Ok(ev) = tokio::time::timeout(QUIET, w.next()).await {
        panic!("unexpected watch event: {ev:?}");
    }
}

fn kind_and_name(ev: &WatchEvent) -> (&'static str, String) {
    (ev.kind, meta::name(&ev.object).to_string())
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn create_sets_uid_creation_timestamp_and_resource_version() {
    let f = fixture();
    let before = f.revision().await;
    let a = f.create(cm("a")).await;
    let b = f.create(cm("b")).await;

    let uid = meta::uid(&a);
    assert_eq!(uid.len(), 36, "uid is a UUID: {uid:?}");
    assert_ne!(uid, meta::uid(&b), "every object gets its own uid");
    let ts = meta::str_field(&a, "creationTimestamp");
    assert_eq!(ts.len(), 20, "RFC 3339 seconds in UTC: {ts:?}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts:?}");

    assert!(rv(&a) > before, "create bumps the revision");
    assert_eq!(rv(&b), f.revision().await, "rv is the storage revision");
    assert!(rv(&a) < rv(&b));

    let got = f.get("a").await.expect("get a");
    assert_eq!(meta::resource_version(&got), meta::resource_version(&a));
    assert_eq!(meta::uid(&got), uid);
    assert_eq!(meta::str_field(&got, "creationTimestamp"), ts);
    assert_eq!(got["data"], json!({"k": "v"}));

    // Stored bytes never carry resourceVersion.
    let (kv, _) = f
        .storage
        .get("/registry/configmaps/default/a", None)
        .await
        .expect("raw get");
    let raw: Value = serde_json::from_slice(&kv.expect("stored").value).expect("json");
    assert!(raw["metadata"].get("resourceVersion").is_none(), "{raw}");
    assert_eq!(raw["metadata"]["uid"], Value::from(uid));
}

#[tokio::test]
async fn create_ignores_client_set_server_fields() {
    let f = fixture();
    let mut obj = cm("a");
    obj["metadata"]["resourceVersion"] = json!("12345");
    obj["metadata"]["uid"] = json!("client-chosen");
    obj["metadata"]["deletionTimestamp"] = json!("2000-01-01T00:00:00Z");
    let a = f.create(obj).await;
    assert_ne!(meta::uid(&a), "client-chosen");
    assert_eq!(rv(&a), f.revision().await);
    assert!(meta::deletion_timestamp(&a).is_none(), "{a}");
}

#[tokio::test]
async fn create_with_generate_name() {
    let f = fixture();
    let mut obj = cm("");
    obj["metadata"]["generateName"] = json!("web-");
    let a = f.create(obj.clone()).await;
    let b = f.create(obj).await;
    let name = meta::name(&a);
    assert!(name.starts_with("web-"), "{name}");
    assert_eq!(name.len(), "web-".len() + 5, "{name}");
    assert_ne!(name, meta::name(&b));
    let got = f.get(name).await.expect("generated object is stored");
    assert_eq!(meta::uid(&got), meta::uid(&a));
    assert_eq!(got["metadata"]["generateName"], json!("web-"));
}

/// Names from a fixed list, so that a test can make generated names collide.
struct FixedNames(std::sync::Mutex<Vec<&'static str>>);

impl Strategy for FixedNames {
    fn generate_name(&self, base: &str) -> String {
        let mut names = self.0.lock().expect("names");
        format!("{base}{}", names.remove(0))
    }
}

fn fixed_names(suffixes: &[&'static str]) -> (Fixture, Arc<FixedNames>) {
    let names = Arc::new(FixedNames(std::sync::Mutex::new(suffixes.to_vec())));
    (fixture_with(names.clone()), names)
}

/// Upstream retries a create whose generated name is taken, 8 tries in all.
#[tokio::test]
async fn a_taken_generated_name_is_generated_again() {
    let mut suffixes = vec!["aaaaa", "aaaaa", "aaaaa", "bbbbb"];
    suffixes.extend(["bbbbb"; 8]);
    let (f, names) = fixed_names(&suffixes);
    let mut obj = cm("");
    obj["metadata"]["generateName"] = json!("web-");
    let a = f.create(obj.clone()).await;
    assert_eq!(meta::name(&a), "web-aaaaa");
    // Taken twice, then free.
    let b = f.create(obj.clone()).await;
    assert_eq!(meta::name(&b), "web-bbbbb");
    assert_eq!(
        f.get("web-bbbbb").await.expect("stored")["metadata"]["uid"],
        b["metadata"]["uid"]
    );

    // Taken on all 8 tries: upstream's GenerateNameConflict, nothing stored.
    let before = f.revision().await;
    let e = f
        .try_create(obj, false)
        .await
        .expect_err("every name taken");
    assert_eq!((e.code, e.reason), (409, "AlreadyExists"));
    assert_eq!(
        e.message,
        r#"configmaps "web-bbbbb" already exists, the server was not able to generate a unique name for the object"#
    );
    let d = e.details.as_ref().expect("details");
    assert_eq!(
        (d.name.as_str(), d.kind.as_str()),
        ("web-bbbbb", "configmaps")
    );
    assert_eq!(d.retry_after_seconds, Some(1));
    assert_eq!(f.revision().await, before);
    // Eight tries, each with a name of its own making.
    assert!(names.0.lock().expect("names").is_empty());
}

#[tokio::test]
async fn create_existing_name_is_already_exists() {
    let f = fixture();
    let first = f.create(cm("x")).await;
    let e = f.try_create(cm("x"), false).await.expect_err("duplicate");
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "AlreadyExists");
    assert_eq!(e.message, r#"configmaps "x" already exists"#);
    let d = e.details.as_ref().expect("details");
    assert_eq!(d.name, "x");
    assert_eq!(d.kind, "configmaps");
    // The original is untouched.
    let got = f.get("x").await.expect("get");
    assert_eq!(meta::uid(&got), meta::uid(&first));
    assert_eq!(rv(&got), rv(&first));
}

#[tokio::test]
async fn create_invalid_name_is_invalid() {
    let f = fixture();
    let before = f.revision().await;
    let e = f
        .try_create(cm("Bad_Name"), false)
        .await
        .expect_err("invalid name");
    assert_eq!(e.code, 422);
    assert_eq!(e.reason, "Invalid");
    assert_eq!(cause_fields(&e), vec!["metadata.name".to_string()]);
    assert!(
        e.message.starts_with(
            r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#
        ),
        "{}",
        e.message
    );
    assert_eq!(f.revision().await, before, "nothing written");
}

#[tokio::test]
async fn create_requires_namespace_for_namespaced_kind() {
    let f = fixture();
    let e = f
        .try_create(cm_in("", "a", json!({})), false)
        .await
        .expect_err("no namespace");
    assert_eq!(e.code, 422);
    assert_eq!(cause_fields(&e), vec!["metadata.namespace".to_string()]);
}

#[tokio::test]
async fn strategy_validation_rejects_create_and_update() {
    let f = fixture_with(Arc::new(RejectingStrategy));
    let mut bad = cm("a");
    bad["data"]["forbidden"] = json!("1");
    let e = f
        .try_create(bad.clone(), false)
        .await
        .expect_err("rejected");
    assert_eq!(e.code, 422);
    assert_eq!(e.reason, "Invalid");
    assert_eq!(cause_fields(&e), vec!["data.forbidden".to_string()]);
    assert_eq!(
        e.message,
        r#"ConfigMap "a" is invalid: data.forbidden: Forbidden: this key is reserved"#
    );
    assert_eq!(f.get("a").await.expect_err("not stored").code, 404);

    let ok = f.create(cm("a")).await;
    let e = f.put(bad).await.expect_err("update rejected");
    assert_eq!(e.code, 422);
    assert_eq!(cause_fields(&e), vec!["data.forbidden".to_string()]);
    let got = f.get("a").await.expect("get");
    assert_eq!(rv(&got), rv(&ok), "rejected update wrote nothing");
}

#[tokio::test]
async fn admission_rejection_stops_create() {
    let f = fixture();
    let before = f.revision().await;
    let e = f
        .store
        .create(
            cm("a"),
            &|obj, old| {
                assert!(old.is_none());
                assert!(
                    !meta::uid(obj).is_empty(),
                    "admission sees the final object"
                );
                Err(StatusError::forbidden("denied by test"))
            },
            false,
        )
        .await
        .expect_err("denied");
    assert_eq!(e.code, 403);
    assert_eq!(f.revision().await, before);
}

#[tokio::test]
async fn dry_run_create_returns_object_and_stores_nothing() {
    let f = fixture();
    let before = f.revision().await;
    let out = f.try_create(cm("a"), true).await.expect("dry run");
    assert_eq!(meta::name(&out), "a");
    assert!(!meta::uid(&out).is_empty());
    assert!(!meta::str_field(&out, "creationTimestamp").is_empty());
    assert_eq!(out["data"], json!({"k": "v"}));
    assert_eq!(f.revision().await, before, "no write");
    assert_eq!(f.get("a").await.expect_err("not stored").code, 404);
    assert!(names(&f.list("default", &[]).await).is_empty());
}

/// Upstream's dry-run create (`DryRunnableStorage.Create`) reads the key and
/// answers AlreadyExists when it is taken, as a real create would.
#[tokio::test]
async fn dry_run_create_of_existing_name_is_already_exists() {
    let f = fixture();
    f.create(cm("a")).await;
    let e = f
        .try_create(cm("a"), true)
        .await
        .expect_err("dry-run create of a taken name fails like a real create");
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "AlreadyExists");
}

// ---------------------------------------------------------------- update

#[tokio::test]
async fn update_with_stale_resource_version_conflicts() {
    let f = fixture();
    let v1 = f.create(cm("x")).await;
    let mut v2 = v1.clone();
    set_data(&mut v2, "two");
    let v2 = f.put(v2).await.expect("update at current rv");
    assert!(rv(&v2) > rv(&v1));

    let mut stale = v1.clone();
    set_data(&mut stale, "three");
    let e = f.put(stale).await.expect_err("stale rv");
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "Conflict");
    assert!(
        e.message.contains("the object has been modified"),
        "{}",
        e.message
    );
    assert!(
        e.message
            .starts_with(r#"Operation cannot be fulfilled on configmaps "x": "#),
        "{}",
        e.message
    );
    let got = f.get("x").await.expect("get");
    assert_eq!(got["data"]["k"], json!("two"));
    assert_eq!(rv(&got), rv(&v2));
}

#[tokio::test]
async fn update_without_resource_version_is_unconditional() {
    let f = fixture();
    let v1 = f.create(cm("x")).await;
    f.modify("x", &|o| set_data(o, "two")).await;

    let mut blind = cm("x");
    set_data(&mut blind, "blind");
    assert!(meta::resource_version(&blind).is_empty());
    let out = f.put(blind).await.expect("unconditional update");
    assert_eq!(out["data"]["k"], json!("blind"));
    assert_eq!(rv(&out), f.revision().await);
    assert_eq!(meta::uid(&out), meta::uid(&v1), "uid carried over");
    let got = f.get("x").await.expect("get");
    assert_eq!(got["data"]["k"], json!("blind"));
    assert_eq!(rv(&got), rv(&out));
}

#[tokio::test]
async fn update_carries_over_uid_and_creation_timestamp() {
    let f = fixture();
    let v1 = f.create(cm("x")).await;
    let mut obj = cm("x");
    obj["metadata"]["creationTimestamp"] = json!("2000-01-01T00:00:00Z");
    set_data(&mut obj, "two");
    let out = f.put(obj).await.expect("update");
    assert_eq!(meta::uid(&out), meta::uid(&v1));
    assert_eq!(
        meta::str_field(&out, "creationTimestamp"),
        meta::str_field(&v1, "creationTimestamp")
    );
    let got = f.get("x").await.expect("get");
    assert_eq!(meta::uid(&got), meta::uid(&v1));
    assert_eq!(
        meta::str_field(&got, "creationTimestamp"),
        meta::str_field(&v1, "creationTimestamp")
    );
    assert_eq!(got["data"]["k"], json!("two"));
}

/// A uid in the body is a precondition (upstream's
/// `DefaultUpdatedObjectInfo.Preconditions`); on mismatch the etcd3 store
/// answers "Precondition failed: UID in precondition: <body uid>, UID in
/// object meta: <stored uid>".
#[tokio::test]
async fn update_with_other_uid_is_a_precondition_conflict() {
    let f = fixture();
    let v1 = f.create(cm("x")).await;
    let mut obj = v1.clone();
    obj["metadata"]["uid"] = json!("someone-else");
    set_data(&mut obj, "two");
    let e = f.put(obj).await.expect_err("uid precondition");
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "Conflict");
    let got = f.get("x").await.expect("get");
    assert_eq!(meta::uid(&got), meta::uid(&v1), "uid unchanged");
    assert_eq!(got["data"]["k"], json!("v"), "nothing written");
    let want = format!(
        "Precondition failed: UID in precondition: someone-else, UID in object meta: {}",
        meta::uid(&v1)
    );
    assert!(
        e.message.contains(&want),
        "want …{want}…, got {}",
        e.message
    );
}

#[tokio::test]
async fn no_op_update_keeps_resource_version() {
    let f = fixture();
    let v1 = f.create(cm("x")).await;
    let before = f.revision().await;

    let same = f.put(v1.clone()).await.expect("no-op update with rv");
    assert_eq!(meta::resource_version(&same), meta::resource_version(&v1));

    let mut no_rv = v1.clone();
    meta::metadata_mut(&mut no_rv).remove("resourceVersion");
    let same = f.put(no_rv).await.expect("no-op update without rv");
    assert_eq!(meta::resource_version(&same), meta::resource_version(&v1));

    assert_eq!(f.revision().await, before, "no write for a no-op update");
    assert_eq!(rv(&f.get("x").await.expect("get")), rv(&v1));

    // A real change does bump it.
    let changed = f.modify("x", &|o| set_data(o, "two")).await;
    assert!(rv(&changed) > rv(&v1));
}

#[tokio::test]
async fn update_of_missing_object_is_not_found() {
    let f = fixture();
    let e = f.put(cm("nope")).await.expect_err("missing");
    assert_eq!(e.code, 404);
    assert_eq!(e.reason, "NotFound");
    assert_eq!(e.message, r#"configmaps "nope" not found"#);
    assert_eq!(f.get("nope").await.expect_err("not created").code, 404);
}

#[tokio::test]
async fn dry_run_update_writes_nothing() {
    let f = fixture();
    let v1 = f.create(cm("x")).await;
    let before = f.revision().await;
    let mut obj = v1.clone();
    set_data(&mut obj, "two");
    let out = f.put_dry(obj, true).await.expect("dry-run update");
    assert_eq!(out["data"]["k"], json!("two"));
    assert_eq!(f.revision().await, before);
    assert_eq!(f.get("x").await.expect("get")["data"]["k"], json!("v"));
}

// ---------------------------------------------------------------- delete

#[tokio::test]
async fn delete_returns_success_status() {
    let f = fixture();
    let a = f.create(cm("a")).await;
    let d = f
        .delete("a", &DeleteOptions::default())
        .await
        .expect("delete");
    assert!(d.gone);
    assert_eq!(d.body["kind"], json!("Status"));
    assert_eq!(d.body["apiVersion"], json!("v1"));
    assert_eq!(d.body["status"], json!("Success"));
    assert_eq!(d.body["details"]["name"], json!("a"));
    assert_eq!(d.body["details"]["kind"], json!("configmaps"));
    assert_eq!(d.body["details"]["uid"], Value::from(meta::uid(&a)));
    assert!(f.revision().await > rv(&a), "delete is a write");

    let e = f.get("a").await.expect_err("gone");
    assert_eq!(e.code, 404);
    let e = f
        .delete("a", &DeleteOptions::default())
        .await
        .expect_err("second delete");
    assert_eq!(e.code, 404);
    assert_eq!(e.message, r#"configmaps "a" not found"#);
}

#[tokio::test]
async fn delete_preconditions() {
    let f = fixture();
    let stale = rv(&f.create(cm("a")).await);
    let a = f.modify("a", &|o| set_data(o, "two")).await;
    assert_ne!(rv(&a), stale);

    let e = f
        .delete(
            "a",
            &DeleteOptions {
                precondition_uid: Some("wrong-uid".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("uid mismatch");
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "Conflict");
    assert!(
        e.message.contains(&format!(
            "Precondition failed: UID in precondition: wrong-uid, UID in object meta: {}",
            meta::uid(&a)
        )),
        "{}",
        e.message
    );

    let e = f
        .delete(
            "a",
            &DeleteOptions {
                precondition_resource_version: Some(stale.to_string()),
                ..Default::default()
            },
        )
        .await
        .expect_err("rv mismatch");
    assert_eq!(e.code, 409);
    assert!(
        e.message.contains(&format!(
            "Precondition failed: ResourceVersion in precondition: {stale}, ResourceVersion in object meta: {}",
            rv(&a)
        )),
        "{}",
        e.message
    );
    assert_eq!(rv(&f.get("a").await.expect("still there")), rv(&a));

    let d = f
        .delete(
            "a",
            &DeleteOptions {
                precondition_uid: Some(meta::uid(&a).to_string()),
                precondition_resource_version: Some(meta::resource_version(&a).to_string()),
                ..Default::default()
            },
        )
        .await
        .expect("matching preconditions");
    assert!(d.gone);
    assert_eq!(f.get("a").await.expect_err("gone").code, 404);
}

#[tokio::test]
async fn dry_run_delete_keeps_object() {
    let f = fixture();
    let a = f.create(cm("a")).await;
    let before = f.revision().await;
    let d = f
        .delete(
            "a",
            &DeleteOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await
        .expect("dry-run delete");
    assert!(d.gone);
    assert_eq!(d.body["status"], json!("Success"));
    assert_eq!(f.revision().await, before);
    assert_eq!(rv(&f.get("a").await.expect("still there")), rv(&a));
}

#[tokio::test]
async fn delete_with_finalizers_marks_then_finalizer_removal_deletes() {
    let f = fixture();
    let mut obj = cm("a");
    obj["metadata"]["finalizers"] = json!(["example.com/protect"]);
    let a = f.create(obj).await;

    let d = f
        .delete("a", &DeleteOptions::default())
        .await
        .expect("delete");
    assert!(!d.gone, "waits for finalizers");
    let ts = meta::deletion_timestamp(&d.body)
        .expect("deletionTimestamp set")
        .to_string();
    assert_eq!(meta::finalizers(&d.body), vec!["example.com/protect"]);
    assert!(rv(&d.body) > rv(&a), "marking is a write");

    let got = f.get("a").await.expect("still stored");
    assert_eq!(meta::deletion_timestamp(&got), Some(ts.as_str()));
    assert_eq!(rv(&got), rv(&d.body));
    assert_eq!(meta::uid(&got), meta::uid(&a));

    // Deleting again changes nothing.
    let again = f
        .delete("a", &DeleteOptions::default())
        .await
        .expect("again");
    assert!(!again.gone);
    assert_eq!(meta::deletion_timestamp(&again.body), Some(ts.as_str()));
    assert_eq!(rv(&f.get("a").await.expect("still stored")), rv(&got));

    // An update cannot clear deletionTimestamp.
    let kept = f
        .modify("a", &|o| {
            meta::metadata_mut(o).remove("deletionTimestamp");
            set_data(o, "two");
        })
        .await;
    assert_eq!(meta::deletion_timestamp(&kept), Some(ts.as_str()));
    assert_eq!(
        meta::deletion_timestamp(&f.get("a").await.expect("stored")),
        Some(ts.as_str())
    );

    // Removing the last finalizer removes the object.
    f.modify("a", &|o| {
        o["metadata"]["finalizers"] = json!([]);
    })
    .await;
    assert_eq!(f.get("a").await.expect_err("removed").code, 404);
    assert!(names(&f.list("default", &[]).await).is_empty());
}

/// A kind with a spec, whose generation counts spec changes.
struct SpecStrategy;

impl Strategy for SpecStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn generation_counts_spec_changes_only() {
    let f = fixture_with(Arc::new(SpecStrategy));
    let mut obj = cm("g");
    obj["spec"] = json!({"replicas": 1});
    obj["metadata"]["generation"] = json!(7);
    let created = f.create(obj).await;
    assert_eq!(
        created["metadata"]["generation"], 1,
        "clients cannot set it"
    );

    let relabeled = f.modify("g", &|o| set_label(o, "k", "v")).await;
    assert_eq!(relabeled["metadata"]["generation"], 1);
    let scaled = f
        .modify("g", &|o| {
            o["spec"]["replicas"] = json!(3);
            o["metadata"]["generation"] = json!(42);
        })
        .await;
    assert_eq!(scaled["metadata"]["generation"], 2);
    let same = f.modify("g", &|o| set_data(o, "x")).await;
    assert_eq!(same["metadata"]["generation"], 2);

    // Kinds without a generation never get one.
    let plain = fixture();
    let c = plain.create(cm("p")).await;
    assert!(c["metadata"].get("generation").is_none());
}

/// Foreground and Orphan deletes are recorded as the garbage collector's
/// finalizers; the object stays until they are removed. Background clears them.
#[tokio::test]
async fn propagation_policy_is_recorded_as_finalizers() {
    let f = fixture();
    f.create(cm("fg")).await;
    f.create(cm("or")).await;
    f.create(cm("bg")).await;
    let with = |p: &str| DeleteOptions {
        propagation_policy: Some(p.to_string()),
        ..Default::default()
    };

    let d = f
        .delete("fg", &with("Foreground"))
        .await
        .expect("foreground");
    assert!(!d.gone);
    assert_eq!(meta::finalizers(&d.body), vec!["foregroundDeletion"]);
    assert!(meta::deletion_timestamp(&d.body).is_some());
    let stored = f.get("fg").await.expect("kept for the collector");
    assert_eq!(meta::finalizers(&stored), vec!["foregroundDeletion"]);

    let d = f.delete("or", &with("Orphan")).await.expect("orphan");
    assert!(!d.gone);
    assert_eq!(meta::finalizers(&d.body), vec!["orphan"]);
    // A second delete that asks for Background swaps the finalizers out, and
    // with nothing left to wait for the object goes.
    let d = f
        .delete("or", &with("Background"))
        .await
        .expect("background");
    assert!(d.gone, "{}", d.body);
    assert_eq!(f.get("or").await.expect_err("gone").code, 404);

    let d = f
        .delete("bg", &with("Background"))
        .await
        .expect("background");
    assert!(d.gone);

    // orphanDependents=true means Orphan; a dry run stores nothing.
    f.create(cm("dry")).await;
    let dry = DeleteOptions {
        orphan_dependents: Some(true),
        dry_run: true,
        ..Default::default()
    };
    let d = f.delete("dry", &dry).await.expect("dry run");
    assert_eq!(meta::finalizers(&d.body), vec!["orphan"]);
    let stored = f.get("dry").await.expect("untouched");
    assert!(meta::finalizers(&stored).is_empty());
    assert!(meta::deletion_timestamp(&stored).is_none());
}

/// Without a garbage collector (`--enable-garbage-collector=false`) a
/// propagation policy adds no finalizer, so nothing waits for a collector
/// that does not run; finalizers already there stay.
#[tokio::test]
async fn without_a_garbage_collector_the_policy_adds_no_finalizer() {
    let f = fixture();
    f.create(cm("or")).await;
    let mut kept = cm("kept");
    kept["metadata"]["finalizers"] = json!(["example.com/hold"]);
    f.create(kept).await;
    let with = |p: &str| DeleteOptions {
        propagation_policy: Some(p.to_string()),
        without_garbage_collector: true,
        ..Default::default()
    };
    let d = f.delete("or", &with("Orphan")).await.expect("orphan");
    assert!(d.gone, "{}", d.body);
    assert_eq!(f.get("or").await.expect_err("gone").code, 404);
    let d = f
        .delete("kept", &with("Foreground"))
        .await
        .expect("foreground");
    assert!(!d.gone);
    assert_eq!(meta::finalizers(&d.body), vec!["example.com/hold"]);
}

/// Upstream's `ValidateObjectMetaUpdate` forbids adding finalizers to an
/// object that is being deleted.
#[tokio::test]
async fn no_new_finalizers_on_deleting_object() {
    let f = fixture();
    let mut obj = cm("a");
    obj["metadata"]["finalizers"] = json!(["example.com/one"]);
    f.create(obj).await;
    f.delete("a", &DeleteOptions::default())
        .await
        .expect("mark");
    let mut cur = f.get("a").await.expect("get");
    cur["metadata"]["finalizers"] = json!(["example.com/one", "example.com/two"]);
    let e = f
        .put(cur)
        .await
        .expect_err("new finalizer on deleting object");
    assert_eq!(e.code, 422);
    assert_eq!(cause_fields(&e), vec!["metadata.finalizers".to_string()]);
    assert!(
        e.message
            .contains("no new finalizers can be added if the object is being deleted"),
        "{}",
        e.message
    );
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_shape_and_label_selector() {
    let f = fixture();
    f.create(labeled("a", json!({"app": "web"}))).await;
    f.create(labeled("b", json!({"app": "db"}))).await;
    f.create(labeled("c", json!({"app": "web", "tier": "fe"})))
        .await;
    f.create(cm_in("other", "d", json!({"app": "web"}))).await;

    let all = f.list("default", &[]).await;
    assert_eq!(all["kind"], json!("ConfigMapList"));
    assert_eq!(all["apiVersion"], json!("v1"));
    assert_eq!(
        all["metadata"]["resourceVersion"],
        Value::from(f.revision().await.to_string())
    );
    assert!(all["metadata"].get("continue").is_none());
    assert_eq!(names(&all), ["a", "b", "c"]);
    for item in all["items"].as_array().expect("items") {
        assert!(rv(item) > 0, "items carry their resourceVersion: {item}");
    }

    assert_eq!(
        names(&f.list("default", &[("labelSelector", "app=web")]).await),
        ["a", "c"]
    );
    assert_eq!(
        names(&f.list("default", &[("labelSelector", "app!=web")]).await),
        ["b"]
    );
    assert_eq!(
        names(
            &f.list("default", &[("labelSelector", "app=web,tier=fe")])
                .await
        ),
        ["c"]
    );
    assert!(names(&f.list("default", &[("labelSelector", "app=none")]).await).is_empty());
    assert_eq!(
        names(&f.list("", &[("labelSelector", "app=web")]).await),
        ["a", "c", "d"],
        "all namespaces, in key order (default/… before other/…)"
    );
}

#[tokio::test]
async fn list_field_selector() {
    let f = fixture();
    for n in ["b", "b2", "ba", "c"] {
        f.create(cm(n)).await;
    }
    f.create(cm_in("other", "b", json!({}))).await;

    assert_eq!(
        names(
            &f.list("default", &[("fieldSelector", "metadata.name=b")])
                .await
        ),
        ["b"]
    );
    assert_eq!(
        names(
            &f.list("default", &[("fieldSelector", "metadata.name==ba")])
                .await
        ),
        ["ba"]
    );
    assert_eq!(
        names(
            &f.list("default", &[("fieldSelector", "metadata.name!=b")])
                .await
        ),
        ["b2", "ba", "c"]
    );
    assert!(
        names(
            &f.list("default", &[("fieldSelector", "metadata.name=zz")])
                .await
        )
        .is_empty()
    );
    assert!(
        names(
            &f.list("default", &[("fieldSelector", "metadata.name=a")])
                .await
        )
        .is_empty()
    );

    let across = f.list("", &[("fieldSelector", "metadata.name=b")]).await;
    let ns: Vec<&str> = across["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(meta::namespace)
        .collect();
    assert_eq!(ns, ["default", "other"]);
    assert_eq!(
        names(
            &f.list("", &[("fieldSelector", "metadata.namespace=other")])
                .await
        ),
        ["b"]
    );
}

#[tokio::test]
async fn unsupported_field_selector_is_bad_request() {
    let f = fixture();
    f.create(cm("a")).await;
    let o = opts(&[("fieldSelector", "spec.foo=bar")]);
    let e = f.store.list("default", &o).await.expect_err("unsupported");
    assert_eq!(e.code, 400);
    assert_eq!(e.reason, "BadRequest");
    assert!(
        e.message.contains("field label not supported"),
        "{}",
        e.message
    );
    assert!(e.message.contains("spec.foo"), "{}", e.message);

    let o = opts(&[("fieldSelector", "spec.foo=bar"), ("watch", "true")]);
    let e = f
        .store
        .watch("default", &o)
        .await
        .err()
        .expect("watch with unsupported field selector fails");
    assert_eq!(e.code, 400);
}

async fn create_ten(f: &Fixture) -> Vec<String> {
    let mut all = Vec::new();
    for i in 0..10 {
        let n = format!("cm-{i:02}");
        f.create(labeled(&n, json!({"even": (i % 2 == 0).to_string()})))
            .await;
        all.push(n);
    }
    all
}

#[tokio::test]
async fn list_pagination_covers_everything_once() {
    let f = fixture();
    let all = create_ten(&f).await;
    let rev = f.revision().await;

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut remaining = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let mut q = vec![("limit", "3")];
        if let Some(t) = &token {
            q.push(("continue", t.as_str()));
        }
        let page = f.list("default", &q).await;
        assert_eq!(
            page["metadata"]["resourceVersion"],
            Value::from(rev.to_string()),
            "every page is served at the first page's revision"
        );
        let ns = names(&page);
        sizes.push(ns.len());
        seen.extend(ns);
        remaining.push(page["metadata"].get("remainingItemCount").cloned());
        token = page["metadata"]["continue"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert!(token.is_none(), "pagination ends");
    assert_eq!(sizes, [3, 3, 3, 1]);
    assert_eq!(seen, all, "every name exactly once, in order");
    assert_eq!(
        remaining,
        [Some(json!(7)), Some(json!(4)), Some(json!(1)), None]
    );

    // A limit that covers everything has no continue token.
    let page = f.list("default", &[("limit", "10")]).await;
    assert_eq!(names(&page).len(), 10);
    assert!(page["metadata"].get("continue").is_none());
    assert!(page["metadata"].get("remainingItemCount").is_none());
}

#[tokio::test]
async fn list_pagination_with_label_selector() {
    let f = fixture();
    create_ten(&f).await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = vec![("limit", "2"), ("labelSelector", "even=true")];
        if let Some(t) = &token {
            q.push(("continue", t.as_str()));
        }
        let page = f.list("default", &q).await;
        pages += 1;
        let ns = names(&page);
        assert!(ns.len() <= 2, "{ns:?}");
        seen.extend(ns);
        token = page["metadata"]["continue"].as_str().map(str::to_string);
        if token.is_none() || pages > 10 {
            break;
        }
    }
    assert!(token.is_none());
    assert_eq!(seen, ["cm-00", "cm-02", "cm-04", "cm-06", "cm-08"]);
}

#[tokio::test]
async fn continue_pages_are_served_at_first_page_revision() {
    let f = fixture();
    create_ten(&f).await;
    let first = f.list("default", &[("limit", "3")]).await;
    let rev = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    assert_eq!(names(&first), ["cm-00", "cm-01", "cm-02"]);
    assert_eq!(first["metadata"]["remainingItemCount"], json!(7));

    // Changes after the first page.
    f.create(cm("cm-99")).await;
    f.create(cm("cm-035")).await;
    f.modify("cm-04", &|o| set_data(o, "changed")).await;
    f.delete("cm-05", &DeleteOptions::default())
        .await
        .expect("delete");

    let mut items = Vec::new();
    let mut token = first["metadata"]["continue"].as_str().map(str::to_string);
    let mut pages = 0;
    while let Some(t) = token {
        let page = f.list("default", &[("limit", "3"), ("continue", &t)]).await;
        assert_eq!(
            page["metadata"]["resourceVersion"],
            Value::from(rev.clone())
        );
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        token = page["metadata"]["continue"].as_str().map(str::to_string);
        pages += 1;
        assert!(pages < 10, "pagination ends");
    }
    let got: Vec<&str> = items.iter().map(meta::name).collect();
    assert_eq!(
        got,
        [
            "cm-03", "cm-04", "cm-05", "cm-06", "cm-07", "cm-08", "cm-09"
        ],
        "objects created or deleted after the first page do not show"
    );
    assert_eq!(
        items[1]["data"]["k"],
        json!("v"),
        "cm-04 as of the first page"
    );

    // A fresh list sees the new state.
    let fresh = names(&f.list("default", &[]).await);
    assert!(fresh.contains(&"cm-99".to_string()) && !fresh.contains(&"cm-05".to_string()));
}

// ---------------------------------------------------------------- watch

#[tokio::test]
async fn watch_from_resource_version_replays_later_events() {
    let f = fixture();
    let a = f.create(cm("a")).await;
    let from = rv(&a);
    let b = f.create(cm("b")).await;
    let a2 = f.modify("a", &|o| set_data(o, "two")).await;
    let del = f
        .delete("b", &DeleteOptions::default())
        .await
        .expect("delete");
    assert!(del.gone);
    let del_rev = f.revision().await;

    let from_s = from.to_string();
    let mut w = f
        .watch(&[("watch", "true"), ("resourceVersion", &from_s)])
        .await;

    let e1 = next(&mut w).await;
    assert_eq!(kind_and_name(&e1), ("ADDED", "b".into()));
    assert_eq!(rv(&e1.object), rv(&b));
    assert_eq!(e1.object["metadata"]["uid"], b["metadata"]["uid"]);

    let e2 = next(&mut w).await;
    assert_eq!(kind_and_name(&e2), ("MODIFIED", "a".into()));
    assert_eq!(rv(&e2.object), rv(&a2));
    assert_eq!(e2.object["data"]["k"], json!("two"));

    let e3 = next(&mut w).await;
    assert_eq!(kind_and_name(&e3), ("DELETED", "b".into()));
    assert_eq!(
        rv(&e3.object),
        del_rev,
        "DELETED carries the deleting revision"
    );
    assert_eq!(e3.object["metadata"]["uid"], b["metadata"]["uid"]);
    assert_eq!(w.last_revision(), del_rev);
    assert_quiet(&mut w).await;

    // Live events follow the replay.
    let c = f.create(cm("c")).await;
    let e4 = next(&mut w).await;
    assert_eq!(kind_and_name(&e4), ("ADDED", "c".into()));
    assert_eq!(rv(&e4.object), rv(&c));

    // Other namespaces are not seen.
    f.create(cm_in("other", "z", json!({}))).await;
    assert_quiet(&mut w).await;
}

#[tokio::test]
async fn watch_at_current_revision_sees_only_new_events() {
    let f = fixture();
    f.create(cm("a")).await;
    let now = f.revision().await.to_string();
    let mut w = f
        .watch(&[("watch", "true"), ("resourceVersion", &now)])
        .await;
    assert_quiet(&mut w).await;
    f.create(cm("b")).await;
    assert_eq!(kind_and_name(&next(&mut w).await), ("ADDED", "b".into()));
}

#[tokio::test]
async fn watch_serving_stored_bytes_matches_the_decoded_events() {
    let f = fixture();
    let now = f.revision().await.to_string();
    let q = [("watch", "true"), ("resourceVersion", now.as_str())];
    let mut decoded = f.watch(&q).await;
    let mut raw = f.watch(&q).await;
    raw.serve_stored_bytes();
    let mut other = f.watch(&q).await;
    other.serve_stored_bytes();
    let a = f.create(cm("a")).await;
    let mut b = a.clone();
    set_data(&mut b, "2");
    f.store
        .update("default", "a", &|_| Ok(b.clone()), &|_, _| Ok(()), false)
        .await
        .expect("update");
    f.delete("a", &DeleteOptions::default())
        .await
        .expect("delete");
    for _ in 0..3 {
        let d = next(&mut decoded).await;
        let r = next(&mut raw).await;
        assert!(d.raw.is_none());
        let line = r.raw.expect("stored bytes");
        assert!(line.ends_with(b"\n"), "one event per line");
        // Encoded once, for both watchers: the same bytes, not a copy.
        let shared = next(&mut other).await.raw.expect("stored bytes");
        assert_eq!(shared.as_ptr(), line.as_ptr());
        let ev: Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(ev["type"], d.kind);
        assert_eq!((r.kind, &ev["object"]), (d.kind, &d.object));
    }
    // A selector reads derived attributes, and its watch sends stored bytes
    // too: objects entering the selection as ADDED, leaving it as DELETED
    // (the object it knew, at the revision it left).
    let mut selective = f
        .watch(&[("watch", "true"), ("labelSelector", "x=y")])
        .await;
    selective.serve_stored_bytes();
    let mut c = cm("c");
    set_label(&mut c, "x", "y");
    f.create(c).await;
    let relabel = |v: &'static str| {
        move |old: Option<&Value>| {
            let mut o = old.cloned().unwrap_or_default();
            set_label(&mut o, "x", v);
            Ok(o)
        }
    };
    f.store
        .update("default", "c", &relabel("z"), &|_, _| Ok(()), false)
        .await
        .expect("update");
    let left_at = f.revision().await.to_string();
    f.store
        .update("default", "c", &relabel("y"), &|_, _| Ok(()), false)
        .await
        .expect("update");
    for (kind, label, rv) in [
        ("ADDED", "y", None),
        ("DELETED", "y", Some(left_at)),
        ("ADDED", "y", None),
    ] {
        let ev = next(&mut selective).await;
        let line: Value = serde_json::from_slice(&ev.raw.expect("stored bytes")).expect("JSON");
        assert_eq!((ev.kind, &line["type"]), (kind, &json!(kind)));
        assert_eq!(line["object"]["metadata"]["name"], "c");
        assert_eq!(line["object"]["metadata"]["labels"]["x"], label);
        if let Some(rv) = rv {
            assert_eq!(line["object"]["metadata"]["resourceVersion"], rv);
        }
    }
}

/// A metadata-only watch (client-go's metadata informers) sends each event
/// as a PartialObjectMetadata of the stored metadata, the initial state's
/// included: the decoded object's metadata, revision and all (for an
/// object leaving the selection, the revision it left at).
#[tokio::test]
async fn watch_serving_stored_metadata_matches_the_decoded_events() {
    let f = fixture();
    let mut a = cm("a");
    set_label(&mut a, "x", "y");
    let a = f.create(a).await;
    let q = [("watch", "true"), ("labelSelector", "x=y")];
    let mut decoded = f.watch(&q).await;
    let mut metadata = f.watch(&q).await;
    metadata.serve_stored_metadata();
    let mut b = a.clone();
    set_data(&mut b, "2");
    f.store
        .update("default", "a", &|_| Ok(b.clone()), &|_, _| Ok(()), false)
        .await
        .expect("update");
    // Leaving the selection: DELETED, with the object it knew.
    let relabel = |old: Option<&Value>| {
        let mut o = old.cloned().unwrap_or_default();
        set_label(&mut o, "x", "z");
        Ok(o)
    };
    f.store
        .update("default", "a", &relabel, &|_, _| Ok(()), false)
        .await
        .expect("update");
    for kind in ["ADDED", "MODIFIED", "DELETED"] {
        let d = next(&mut decoded).await;
        let m = next(&mut metadata).await;
        assert_eq!((d.kind, m.kind), (kind, kind));
        let line: Value = serde_json::from_slice(&m.raw.expect("stored metadata")).expect("JSON");
        assert_eq!(line["type"], kind);
        assert_eq!(
            line["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": d.object["metadata"]}),
            "{kind}"
        );
    }
}

/// A strategy that counts how often it reads a field, to see how often
/// selector attributes are derived.
struct CountingStrategy(std::sync::atomic::AtomicUsize);

impl Strategy for CountingStrategy {
    fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        DefaultStrategy.field_value(obj, field)
    }
}

/// Over a watch cache, selectors read attributes derived once per stored
/// object version: later filtered lists and every filtered watcher of an
/// event reuse them instead of decoding again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_attributes_are_derived_once_per_cached_version() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> =
        Arc::new(EmbeddedStore::open(dir.path()).expect("open embedded store"));
    let counting = Arc::new(CountingStrategy(Default::default()));
    let info = ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true);
    let store = Store::cached(info, counting.clone(), storage);
    for i in 0..20 {
        let mut c = cm(&format!("c{i}"));
        set_label(&mut c, "n", if i % 2 == 0 { "even" } else { "odd" });
        store
            .create(c, &|_, _| Ok(()), false)
            .await
            .expect("create");
    }
    // Until the cache holds all twenty (an unfiltered list derives nothing).
    let all = opts(&[("resourceVersion", "0")]);
    let count = |l: Value| l["items"].as_array().map_or(0, Vec::len);
    for _ in 0..100 {
        if count(store.list("default", &all).await.expect("list")) == 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let fields = || counting.0.load(Ordering::Relaxed);
    assert_eq!(fields(), 0);
    let q = opts(&[("labelSelector", "n=even"), ("resourceVersion", "0")]);
    assert_eq!(count(store.list("default", &q).await.expect("list")), 10);
    let after_first = fields();
    assert!(after_first > 0);
    for _ in 0..5 {
        let list = store.list("default", &q).await.expect("list");
        assert_eq!(list["items"].as_array().map_or(0, Vec::len), 10);
    }
    assert_eq!(fields(), after_first, "later lists derived again");
    // Ten filtered watchers of one event: derived once for all of them.
    let now = store
        .storage()
        .current_revision()
        .await
        .expect("rev")
        .to_string();
    let wq = opts(&[
        ("watch", "true"),
        ("labelSelector", "n=even"),
        ("resourceVersion", &now),
    ]);
    let mut watchers = Vec::new();
    for _ in 0..10 {
        let mut w = store.watch("default", &wq).await.expect("watch");
        w.serve_stored_bytes();
        watchers.push(w);
    }
    let before = fields();
    let mut c = cm("new");
    set_label(&mut c, "n", "even");
    store
        .create(c, &|_, _| Ok(()), false)
        .await
        .expect("create");
    for w in &mut watchers {
        let ev = next(w).await;
        let line: Value = serde_json::from_slice(&ev.raw.expect("stored bytes")).expect("JSON");
        assert_eq!(
            (ev.kind, &line["object"]["metadata"]["name"]),
            ("ADDED", &json!("new"))
        );
    }
    let per_derivation = after_first / 20;
    assert_eq!(
        fields() - before,
        per_derivation,
        "one derivation for ten watchers"
    );
}

#[tokio::test]
async fn watch_by_name_sees_only_that_object() {
    let f = fixture();
    let now = f.revision().await.to_string();
    let mut w = f
        .watch(&[
            ("watch", "true"),
            ("resourceVersion", &now),
            ("fieldSelector", "metadata.name=a"),
        ])
        .await;
    f.create(cm("b")).await;
    f.create(cm("a")).await;
    assert_eq!(kind_and_name(&next(&mut w).await), ("ADDED", "a".into()));
    f.delete("b", &DeleteOptions::default())
        .await
        .expect("delete b");
    f.delete("a", &DeleteOptions::default())
        .await
        .expect("delete a");
    assert_eq!(kind_and_name(&next(&mut w).await), ("DELETED", "a".into()));
    assert_quiet(&mut w).await;
}

#[tokio::test]
async fn watch_label_selector_transitions() {
    let f = fixture();
    f.create(labeled("x", json!({"app": "web"}))).await;
    f.create(labeled("y", json!({"app": "db"}))).await;
    let now = f.revision().await.to_string();
    let mut w = f
        .watch(&[
            ("watch", "true"),
            ("resourceVersion", &now),
            ("labelSelector", "app=web"),
        ])
        .await;

    // x stops matching: DELETED.
    let x2 = f.modify("x", &|o| set_label(o, "app", "db")).await;
    let ev = next(&mut w).await;
    assert_eq!(kind_and_name(&ev), ("DELETED", "x".into()));
    assert_eq!(rv(&ev.object), rv(&x2), "at the revision of the change");

    // y starts matching: ADDED.
    let y2 = f.modify("y", &|o| set_label(o, "app", "web")).await;
    let ev = next(&mut w).await;
    assert_eq!(kind_and_name(&ev), ("ADDED", "y".into()));
    assert_eq!(rv(&ev.object), rv(&y2));
    assert_eq!(ev.object["metadata"]["labels"]["app"], json!("web"));

    // Still matching: MODIFIED.
    f.modify("y", &|o| set_data(o, "two")).await;
    let ev = next(&mut w).await;
    assert_eq!(kind_and_name(&ev), ("MODIFIED", "y".into()));
    assert_eq!(ev.object["data"]["k"], json!("two"));

    // Never matching: nothing.
    f.modify("x", &|o| set_data(o, "two")).await;
    f.create(labeled("z", json!({"app": "db"}))).await;
    f.delete("z", &DeleteOptions::default())
        .await
        .expect("delete z");
    assert_quiet(&mut w).await;

    // Deleting a matching object: DELETED.
    f.delete("y", &DeleteOptions::default())
        .await
        .expect("delete y");
    let ev = next(&mut w).await;
    assert_eq!(kind_and_name(&ev), ("DELETED", "y".into()));
    assert_quiet(&mut w).await;
}

/// Upstream (etcd3 watcher `transform`, cacher `convertToWatchEvent`): when an
/// object stops matching the selector the DELETED event carries the previous
/// object (the last state the watcher was shown, which still matches its
/// selector) with the resourceVersion of the change.
#[tokio::test]
async fn watch_selector_exit_delivers_previous_object() {
    let f = fixture();
    f.create(labeled("x", json!({"app": "web"}))).await;
    let now = f.revision().await.to_string();
    let mut w = f
        .watch(&[
            ("watch", "true"),
            ("resourceVersion", &now),
            ("labelSelector", "app=web"),
        ])
        .await;
    let x2 = f
        .modify("x", &|o| {
            set_label(o, "app", "db");
            set_data(o, "two");
        })
        .await;
    let ev = next(&mut w).await;
    assert_eq!(ev.kind, "DELETED");
    assert_eq!(rv(&ev.object), rv(&x2));
    assert_eq!(
        ev.object["metadata"]["labels"]["app"],
        json!("web"),
        "DELETED for a selector exit carries the previous object: {}",
        ev.object
    );
    assert_eq!(ev.object["data"]["k"], json!("v"), "{}", ev.object);
}

#[tokio::test]
async fn watch_without_resource_version_starts_with_current_state() {
    let f = fixture();
    f.create(labeled("a", json!({"app": "web"}))).await;
    f.create(labeled("b", json!({"app": "db"}))).await;
    f.create(labeled("c", json!({"app": "web"}))).await;
    f.create(cm_in("other", "d", json!({"app": "web"}))).await;
    let rev = f.revision().await;

    let mut w = f.watch(&[("watch", "true")]).await;
    let evs = [next(&mut w).await, next(&mut w).await, next(&mut w).await];
    let got: Vec<_> = evs.iter().map(kind_and_name).collect();
    assert_eq!(
        got,
        [
            ("ADDED", "a".to_string()),
            ("ADDED", "b".to_string()),
            ("ADDED", "c".to_string())
        ]
    );
    assert_eq!(w.last_revision(), rev);
    assert_quiet(&mut w).await;
    f.modify("a", &|o| set_data(o, "two")).await;
    assert_eq!(kind_and_name(&next(&mut w).await), ("MODIFIED", "a".into()));

    // resourceVersion=0 behaves the same, and selectors apply to the state.
    let mut w = f
        .watch(&[
            ("watch", "true"),
            ("resourceVersion", "0"),
            ("labelSelector", "app=web"),
        ])
        .await;
    let got = [
        kind_and_name(&next(&mut w).await),
        kind_and_name(&next(&mut w).await),
    ];
    assert_eq!(
        got,
        [("ADDED", "a".to_string()), ("ADDED", "c".to_string())]
    );
    assert_quiet(&mut w).await;
}

/// A streaming list's query, as client-go's reflector sends it.
const WATCH_LIST: &[(&str, &str)] = &[
    ("watch", "true"),
    ("sendInitialEvents", "true"),
    ("resourceVersionMatch", "NotOlderThan"),
    ("allowWatchBookmarks", "true"),
];

#[tokio::test]
async fn send_initial_events_ends_with_bookmark() {
    let f = fixture();
    f.create(cm("a")).await;
    f.create(cm("b")).await;
    let rev = f.revision().await;
    let mut w = f.watch(WATCH_LIST).await;
    assert_eq!(kind_and_name(&next(&mut w).await), ("ADDED", "a".into()));
    assert_eq!(kind_and_name(&next(&mut w).await), ("ADDED", "b".into()));
    let bm = next(&mut w).await;
    assert_eq!(bm.kind, "BOOKMARK");
    assert_eq!(bm.object["kind"], json!("ConfigMap"));
    assert_eq!(bm.object["apiVersion"], json!("v1"));
    assert_eq!(
        bm.object["metadata"]["annotations"]["k8s.io/initial-events-end"],
        json!("true")
    );
    assert_eq!(
        bm.object["metadata"]["resourceVersion"],
        Value::from(rev.to_string())
    );
    assert_quiet(&mut w).await;
    f.create(cm("c")).await;
    assert_eq!(kind_and_name(&next(&mut w).await), ("ADDED", "c".into()));
}

/// The initial state is made as it is sent, from the objects as they were
/// when the watch began: a later write follows as its own event, after the
/// closing bookmark, whether events carry stored bytes or decoded objects.
#[tokio::test]
async fn initial_events_are_the_state_at_the_start_however_late_they_are_read() {
    for stored_bytes in [false, true] {
        let f = fixture();
        f.create(labeled("a", json!({"app": "x"}))).await;
        f.create(labeled("b", json!({"app": "y"}))).await;
        f.create(labeled("c", json!({"app": "x"}))).await;
        let mut w = f
            .watch(&[WATCH_LIST, &[("labelSelector", "app=x")]].concat())
            .await;
        if stored_bytes {
            w.serve_stored_bytes();
        }
        let mut a = f.get("a").await.expect("a");
        a["data"] = json!({"k": "later"});
        f.put(a).await.expect("update a");
        let mut got = Vec::new();
        for _ in 0..4 {
            let e = next(&mut w).await;
            let obj = match &e.raw {
                Some(line) => {
                    serde_json::from_slice::<Value>(line).expect("line")["object"].clone()
                }
                None => e.object.clone(),
            };
            got.push((
                e.kind,
                meta::name(&obj).to_string(),
                obj["data"]["k"].clone(),
            ));
        }
        assert_eq!(
            got,
            [
                ("ADDED", "a".to_string(), json!("v")),
                ("ADDED", "c".to_string(), json!("v")),
                ("BOOKMARK", String::new(), Value::Null),
                ("MODIFIED", "a".to_string(), json!("later")),
            ],
            "stored bytes: {stored_bytes}"
        );
    }
}

/// A stored value that cannot be read ends a watch that would send it in
/// its initial state with an ERROR event, as it fails a LIST.
#[tokio::test]
async fn an_unreadable_initial_object_ends_the_watch_with_an_error() {
    let f = fixture();
    f.create(cm("a")).await;
    f.write_raw("broken", b"{not json").await;
    let mut w = f.watch(&[("watch", "true")]).await;
    assert_eq!(kind_and_name(&next(&mut w).await), ("ADDED", "a".into()));
    let e = next(&mut w).await;
    assert_eq!(e.kind, "ERROR");
    assert_eq!(e.object["code"], json!(500), "{}", e.object);
    let end = tokio::time::timeout(WAIT, w.next()).await.expect("ends");
    assert!(end.is_none(), "{end:?}");
}

/// client-go's reflector (WatchList) sends exactly this query; upstream's
/// `validateWatchOptions` requires `resourceVersionMatch=NotOlderThan` with
/// `sendInitialEvents`, so it must be accepted.
#[tokio::test]
async fn send_initial_events_with_not_older_than_as_client_go_sends_it() {
    let f = fixture();
    f.create(cm("a")).await;
    let o = ListOptions::from_query([
        ("watch", "true"),
        ("sendInitialEvents", "true"),
        ("resourceVersionMatch", "NotOlderThan"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", ""),
    ])
    .unwrap_or_else(|e| panic!("upstream-valid watch-list options rejected: {}", e.message));
    let mut w = f.store.watch("default", &o).await.expect("watch");
    assert_eq!(kind_and_name(&next(&mut w).await), ("ADDED", "a".into()));
    let bm = next(&mut w).await;
    assert_eq!(bm.kind, "BOOKMARK");
    assert_eq!(
        bm.object["metadata"]["annotations"]["k8s.io/initial-events-end"],
        json!("true")
    );
}

/// `sendInitialEvents=false` without a resourceVersion means "start at the
/// most recent revision" (upstream API docs of `sendInitialEvents`): no
/// synthetic ADDED events for existing objects.
#[tokio::test]
async fn send_initial_events_false_skips_current_state() {
    let f = fixture();
    f.create(cm("a")).await;
    let mut w = f
        .watch(&[
            ("watch", "true"),
            ("sendInitialEvents", "false"),
            ("resourceVersionMatch", "NotOlderThan"),
        ])
        .await;
    f.create(cm("b")).await;
    let ev = next(&mut w).await;
    assert_eq!(
        kind_and_name(&ev),
        ("ADDED", "b".into()),
        "first event must be the new object, not the existing one"
    );
}

// ---------------------------------------------------------------- delete collection

#[tokio::test]
async fn delete_collection_with_label_selector() {
    let f = fixture();
    f.create(labeled("a", json!({"app": "web"}))).await;
    f.create(labeled("b", json!({"app": "db"}))).await;
    f.create(labeled("c", json!({"app": "web"}))).await;
    let mut fin = labeled("e", json!({"app": "web"}));
    fin["metadata"]["finalizers"] = json!(["example.com/protect"]);
    f.create(fin).await;
    f.create(cm_in("other", "d", json!({"app": "web"}))).await;

    let out = f.delete_collection(&[("labelSelector", "app=web")]).await;
    let out = f.store.list_of(&out.0, out.1).expect("decoded");
    assert_eq!(out["kind"], json!("ConfigMapList"));
    assert_eq!(names(&out), ["a", "c", "e"]);

    let left = f.list("default", &[]).await;
    assert_eq!(names(&left), ["b", "e"], "only matching objects deleted");
    let e = f.get("e").await.expect("e waits for its finalizer");
    assert!(meta::deletion_timestamp(&e).is_some());
    assert!(f.get("b").await.expect("b kept").get("metadata").is_some());
    assert_eq!(
        names(&f.list("other", &[]).await),
        ["d"],
        "other namespaces untouched"
    );

    // Nothing left to match: an empty result, no error.
    let out = f.delete_collection(&[("labelSelector", "app=none")]).await;
    assert!(out.0.is_empty());
    assert_eq!(names(&f.list("default", &[]).await), ["b", "e"]);
}

#[tokio::test]
async fn delete_collection_goes_through_every_page_or_only_the_one_asked_for() {
    let f = fixture();
    // More objects than one page of DELETE_COLLECTION_PAGE (10,000).
    const N: usize = 10_050;
    f.write_many("cm", N).await;
    // With a limit: that page only, answered with its continue token.
    let (page, list_meta) = f.delete_collection(&[("limit", "40")]).await;
    assert_eq!(page.len(), 40);
    assert!(list_meta["continue"].is_string(), "{list_meta}");
    let left = f.stored("default").await;
    assert_eq!(left.len(), N - 40);
    assert!(left[0].key.ends_with("cm-00040"), "{}", left[0].key);

    // Without one: every page, the answer holding every object it listed.
    let (all, list_meta) = f.delete_collection(&[]).await;
    assert_eq!(all.len(), N - 40);
    assert!(all.windows(2).all(|w| w[0].key < w[1].key), "in key order");
    assert!(list_meta["resourceVersion"].is_string());
    let left = f.stored("default").await;
    assert!(left.is_empty(), "{} left", left.len());
}

/// `--delete-collection-workers`: several deletes in flight at once still
/// delete every object, each once, and answer with all of them in order.
#[tokio::test]
async fn delete_collection_with_several_workers_deletes_everything_once() {
    let f = fixture();
    const N: usize = 1_000;
    f.write_many("w", N).await;
    let before = f.storage.current_revision().await.expect("revision");
    // The same store, over the same backend, counting deletes in flight.
    let counted = Arc::new(CountingDeletes::new(f.storage.clone()));
    let info = ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true);
    let store = Store::new(info, Arc::new(DefaultStrategy), counted.clone());
    let each = DeleteOptions::default();
    let (all, _) = store
        .delete_collection("default", &opts(&[]), &each, &|_, _| Ok(()), 8)
        .await
        .expect("delete collection");
    let most = counted.most.load(std::sync::atomic::Ordering::Relaxed);
    assert!((2..=8).contains(&most), "{most} deletes in flight at most");
    assert_eq!(all.len(), N);
    assert!(all.windows(2).all(|w| w[0].key < w[1].key), "in key order");
    assert!(f.stored("default").await.is_empty());
    // One revision per delete: none twice, none skipped.
    let after = f.storage.current_revision().await.expect("revision");
    assert_eq!(after - before, N as i64);
}

/// A backend that passes everything through and records the most deletes
/// it had in flight at once.
struct CountingDeletes {
    inner: Arc<dyn Storage>,
    in_flight: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl CountingDeletes {
    fn new(inner: Arc<dyn Storage>) -> Self {
        CountingDeletes {
            inner,
            in_flight: Default::default(),
            most: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl Storage for CountingDeletes {
    async fn create(&self, key: &str, value: bytes::Bytes) -> kaiser_storage::Result<i64> {
        self.inner.create(key, value).await
    }
    async fn update(
        &self,
        key: &str,
        value: bytes::Bytes,
        expected: i64,
    ) -> kaiser_storage::Result<i64> {
        self.inner.update(key, value, expected).await
    }
    async fn create_expiring(
        &self,
        key: &str,
        value: bytes::Bytes,
        ttl: Duration,
    ) -> kaiser_storage::Result<i64> {
        self.inner.create_expiring(key, value, ttl).await
    }
    async fn update_expiring(
        &self,
        key: &str,
        value: bytes::Bytes,
        expected: i64,
        ttl: Duration,
    ) -> kaiser_storage::Result<i64> {
        self.inner.update_expiring(key, value, expected, ttl).await
    }
    async fn delete(
        &self,
        key: &str,
        expected: Option<i64>,
    ) -> kaiser_storage::Result<(i64, kaiser_storage::KeyValue)> {
        use std::sync::atomic::Ordering::Relaxed;
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.most.fetch_max(now, Relaxed);
        let r = self.inner.delete(key, expected).await;
        self.in_flight.fetch_sub(1, Relaxed);
        r
    }
    async fn get(
        &self,
        key: &str,
        revision: Option<i64>,
    ) -> kaiser_storage::Result<(Option<kaiser_storage::KeyValue>, i64)> {
        self.inner.get(key, revision).await
    }
    async fn range(
        &self,
        prefix: &str,
        start: &str,
        revision: Option<i64>,
        limit: usize,
    ) -> kaiser_storage::Result<kaiser_storage::RangeResult> {
        self.inner.range(prefix, start, revision, limit).await
    }
    async fn watch(
        &self,
        prefix: &str,
        after: i64,
    ) -> kaiser_storage::Result<kaiser_storage::WatchStream> {
        self.inner.watch(prefix, after).await
    }
    async fn compact(&self, revision: i64) -> kaiser_storage::Result<()> {
        self.inner.compact(revision).await
    }
    async fn current_revision(&self) -> kaiser_storage::Result<i64> {
        self.inner.current_revision().await
    }
    async fn compacted_revision(&self) -> kaiser_storage::Result<i64> {
        self.inner.compacted_revision().await
    }
    async fn check_health(&self) -> kaiser_storage::Result<()> {
        self.inner.check_health().await
    }
    async fn close(&self) -> kaiser_storage::Result<()> {
        self.inner.close().await
    }
}

#[tokio::test]
async fn delete_collection_goes_on_when_its_pages_are_compacted_under_it() {
    let f = fixture();
    const N: usize = 10_020;
    f.write_many("c", N).await;
    // History is compacted to the newest revision again and again while
    // the collection is deleted, so the second page's revision is gone.
    let storage = f.storage.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let compactor = tokio::spawn(async move {
        let mut rounds = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let rev = storage.current_revision().await.expect("revision");
            // Nothing written since the last round: already compacted.
            if storage.compact(rev).await.is_ok() {
                rounds += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rounds
    });
    let (all, _) = f.delete_collection(&[]).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(compactor.await.expect("compactor") > 1);
    assert_eq!(all.len(), N);
    let left = f.stored("default").await;
    assert!(left.is_empty(), "{} left", left.len());
}

#[tokio::test]
async fn byte_paths_match_the_decoded_paths() {
    let f = fixture();
    // Keys in an unusual order, an empty metadata map is filled by the store,
    // and a foreign layout written straight to storage still reads back.
    f.create(json!({"data": {"k": "v\"q"}, "metadata": {"name": "odd", "namespace": "default"}, "kind": "ConfigMap", "apiVersion": "v1"}))
        .await;
    f.create(labeled("plain", json!({"a": "b"}))).await;
    f.write_raw(
        "foreign",
        br#"{"metadata":{"name":"foreign","namespace":"default"},"kind":"ConfigMap","apiVersion":"v1"}"#,
    )
    .await;
    for name in ["odd", "plain", "foreign"] {
        let via_bytes: Value =
            serde_json::from_slice(&f.store.get_json("default", name).await.expect("get_json"))
                .expect("json");
        assert_eq!(
            via_bytes,
            f.store.get("default", name).await.expect("get"),
            "{name}"
        );
    }
    for q in [
        &[][..],
        &[("limit", "2")][..],
        &[("labelSelector", "a=b")][..],
    ] {
        let body = f
            .store
            .list_json("default", &opts(q))
            .await
            .expect("list_json");
        let bytes = body.into_vec().expect("chunks");
        let via_bytes: Value = serde_json::from_slice(&bytes).expect("json");
        let decoded = f.store.list("default", &opts(q)).await.expect("list");
        assert_eq!(via_bytes["items"], decoded["items"], "{q:?}");
        assert_eq!(via_bytes["kind"], "ConfigMapList");
    }
}

/// A LIST body larger than one chunk streams in several, each within the
/// chunk size unless one item is larger, and together they are the list.
#[tokio::test]
async fn list_json_streams_in_chunks() {
    let f = fixture();
    for i in 0..60 {
        let mut obj = cm(&format!("big-{i:02}"));
        // One item larger than a whole chunk.
        let size = if i == 30 { 100_000 } else { 3_000 };
        obj["data"] = json!({"payload": "x".repeat(size)});
        f.create(obj).await;
    }
    let body = f
        .store
        .list_json("default", &opts(&[]))
        .await
        .expect("list_json");
    let chunks: Vec<bytes::Bytes> = body.map(|c| c.expect("readable")).collect();
    assert!(chunks.len() > 3, "{} chunks", chunks.len());
    assert!(
        chunks
            .iter()
            .all(|c| c.len() <= kaiser_registry::JsonList::CHUNK + 3 || c.len() > 100_000),
        "{:?}",
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
    );
    let whole: Vec<u8> = chunks.concat();
    let list: Value = serde_json::from_slice(&whole).expect("valid JSON");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(60));
    let decoded = f.store.list("default", &opts(&[])).await.expect("list");
    assert_eq!(list["items"], decoded["items"]);

    let mut empty = f
        .store
        .list_json("nowhere", &opts(&[]))
        .await
        .expect("empty list");
    let text = empty.next().expect("one chunk").expect("readable");
    assert!(empty.next().is_none(), "an empty list is one chunk");
    assert_eq!(
        serde_json::from_slice::<Value>(&text).expect("json")["items"],
        json!([])
    );
}

/// Stored bytes that are not an object end a streamed LIST with an error
/// at the chunk that reaches them; the chunks before are whole.
#[tokio::test]
async fn list_json_ends_with_an_error_at_a_damaged_value() {
    let f = fixture();
    for i in 0..60 {
        let mut obj = cm(&format!("big-{i:02}"));
        obj["data"] = json!({"payload": "x".repeat(3_000)});
        f.create(obj).await;
    }
    f.write_raw("zz-damaged", b"not an object").await;
    let chunks: Vec<_> = f
        .store
        .list_json("default", &opts(&[]))
        .await
        .expect("the list starts")
        .collect();
    let (last, before) = chunks.split_last().expect("chunks");
    assert!(before.len() >= 2, "{} chunks before", before.len());
    assert!(before.iter().all(Result::is_ok));
    let err = last.as_ref().expect_err("the damaged value");
    assert_eq!(err.code, 500);
    assert!(err.message.contains("zz-damaged"), "{}", err.message);
}
