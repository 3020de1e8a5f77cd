//! The generic REST store: every verb over `Storage` for one resource, with
//! upstream's metadata handling, optimistic concurrency, finalizers and
//! dry run. Objects are JSON values; stored bytes omit `resourceVersion`,
//! which is the storage revision and is filled in on every read.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use kaiser_apimachinery::field::ErrorList;
use kaiser_apimachinery::list::{ContinueToken, ListOptions, RvMatch};
use kaiser_apimachinery::managedfields::{FieldManager, TypeSchema, entries};
use kaiser_apimachinery::validation::{validate_object_meta, validate_object_meta_update};
use kaiser_apimachinery::{StatusError, codec, meta, time};
use kaiser_storage::{KeyValue, Storage, StorageError};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::resource::ResourceInfo;
use crate::strategy::Strategy;
use crate::watch::ObjectWatch;

/// How long a read at a revision the store has not reached waits for it
/// before the 504 (upstream's watch cache blocks as long).
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// Tries at a free name for a create by `generateName` (upstream's count).
const NAME_GENERATION_ATTEMPTS: u32 = 8;

/// A check run on the final object before it is written (validating
/// admission); gets the new object and the old one on update.
pub type AdmitFn<'a> = &'a (dyn Fn(&Value, Option<&Value>) -> Result<(), StatusError> + Sync);

/// Guaranteed-update retries before giving up on a busy object.
const MAX_UPDATE_RETRIES: usize = 16;

/// Objects a DELETE of a collection reads at a time, as upstream's
/// `deleteCollectionPageSize`.
const DELETE_COLLECTION_PAGE: i64 = 10_000;

/// `DeleteOptions` as the store uses them.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    /// The deprecated `orphanDependents` flag.
    pub orphan_dependents: Option<bool>,
    /// `--enable-garbage-collector=false`: no garbage collector acts on the
    /// propagation policy, so a delete leaves the finalizers as they are.
    pub without_garbage_collector: bool,
}

/// The finalizer the garbage collector honours to orphan dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer the garbage collector honours to delete dependents first.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Records the delete's propagation policy in the object's finalizers, as
/// upstream's store does for the garbage collector; returns whether they
/// changed.
fn propagation_finalizers(obj: &mut Value, opts: &DeleteOptions) -> bool {
    if opts.without_garbage_collector {
        return false;
    }
    let old = meta::finalizers(obj);
    let has = |f: &str| old.iter().any(|x| x == f);
    let policy = opts.propagation_policy.as_deref();
    let orphan = match (opts.orphan_dependents, policy) {
        (Some(o), _) => o,
        (None, Some(p)) => p == "Orphan",
        (None, None) => has(ORPHAN_FINALIZER),
    };
    let foreground = match (opts.orphan_dependents, policy) {
        (Some(_), _) => false,
        (None, Some(p)) => p == "Foreground",
        (None, None) => has(FOREGROUND_FINALIZER) && !orphan,
    };
    let mut new: Vec<String> = old
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan {
        new.push(ORPHAN_FINALIZER.into());
    }
    if foreground {
        new.push(FOREGROUND_FINALIZER.into());
    }
    let same = new.len() == old.len() && new.iter().all(|f| has(f));
    if !same {
        meta::metadata_mut(obj).insert("finalizers".into(), Value::from(new));
    }
    !same
}

/// What a delete did.
#[derive(Clone, Debug)]
pub struct Deleted {
    /// The object (or a `Status` when the strategy says so).
    pub body: Value,
    /// False when the object remains, waiting for finalizers.
    pub gone: bool,
}

/// The generic store for one resource.
pub struct Store {
    pub info: Arc<ResourceInfo>,
    pub strategy: Arc<dyn Strategy>,
    storage: Arc<dyn Storage>,
    /// Subresources (`status`, …): the same objects under another strategy.
    subresources: Vec<(String, Arc<Store>)>,
    /// Allocations and releases around writes, when the resource has any.
    hooks: Option<Arc<dyn crate::WriteHooks>>,
    /// Set when this version is served from another version's objects.
    conversion: Option<Conversion>,
    /// `status`, `scale` … for a subresource's store; empty otherwise.
    subresource: String,
    /// The kind's server-side apply type model, compiled on first use and
    /// shared with the subresources' stores.
    type_schema: Arc<OnceLock<Arc<TypeSchema>>>,
    /// Whether `storage` is a watch cache of the resource.
    watch_cached: bool,
    /// Names what this store derives from stored values (selector
    /// attributes depend on the strategy and the conversion).
    id: u64,
}

fn next_store_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What label and field selectors read from one stored object: derived
/// once per stored version and kept with the cached value (as upstream's
/// cacher keeps labels and fields), so that filtered lists and watches do
/// not decode every object for every reader.
pub(crate) struct SelectorAttrs {
    labels: Option<Map<String, Value>>,
    fields: Vec<(&'static str, Option<String>)>,
}

impl SelectorAttrs {
    fn of(strategy: &dyn Strategy, obj: &Value) -> Self {
        let names = ["metadata.name", "metadata.namespace"]
            .into_iter()
            .chain(strategy.extra_selectable_fields().iter().copied());
        SelectorAttrs {
            labels: meta::labels(obj).cloned(),
            fields: names.map(|f| (f, strategy.field_value(obj, f))).collect(),
        }
    }

    /// The attributes of the object `kv` holds, as the store `owner` (with
    /// `strategy`) derives them: kept with the value for its other readers.
    pub(crate) fn derived<E>(
        kv: &KeyValue,
        owner: u64,
        strategy: &dyn Strategy,
        decode: impl FnOnce() -> Result<Value, E>,
    ) -> Result<Arc<Self>, E> {
        kv.derived
            .get_or_try(owner, || Ok(Self::of(strategy, &decode()?)))
    }

    pub(crate) fn selected_by(&self, opts: &ListOptions) -> bool {
        opts.label_selector.matches(self.labels.as_ref())
            && opts.field_selector.matches(|f| {
                self.fields
                    .iter()
                    .find(|(name, _)| *name == f)
                    .and_then(|(_, v)| v.clone())
            })
    }
}

/// How a write records `metadata.managedFields`, and what else it may do.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOptions<'a> {
    pub dry_run: bool,
    /// The field manager of a non-apply write: what it changes becomes its
    /// `Update` entry. `None` leaves the entries as the new object has
    /// them (an apply computed them already; internal writes keep them).
    pub manager: Option<&'a str>,
    /// Creates a missing object on update even when the strategy does not
    /// (server-side apply creates).
    pub force_allow_create: bool,
}

/// Converts between a served version and the version objects are stored
/// in (autoscaling/v1 HPAs over autoscaling/v2 objects, events.k8s.io/v1
/// Events over core/v1 ones, a CRD's versions over its storage version).
/// Strategies see the stored form, except under [`Conversion::Custom`].
#[derive(Clone, Debug)]
pub enum Conversion {
    /// Field-by-field conversion functions.
    Fns {
        to_storage: fn(Value) -> Value,
        from_storage: fn(Value) -> Value,
    },
    /// Versions that differ only in `apiVersion` (a CRD's `None` strategy).
    ApiVersion { served: String, stored: String },
    /// A conversion that may fail and may wait on I/O (a CRD's conversion
    /// webhook). It runs at the storage boundary only: strategies see the
    /// served form, as upstream validates a custom resource in the version
    /// it was sent in.
    Custom(Arc<dyn Converter>),
}

/// A [`Conversion::Custom`] implementation.
pub trait Converter: Send + Sync + std::fmt::Debug {
    /// Stored objects in the served version (many at once where it can).
    fn to_served(&self, objs: Vec<Value>) -> Result<Vec<Value>, StatusError>;
    /// A served object in the storage version.
    fn to_storage(&self, obj: Value) -> Result<Value, StatusError>;
}

impl Conversion {
    pub fn to_storage(&self, v: Value) -> Result<Value, StatusError> {
        Ok(match self {
            Conversion::Fns { to_storage, .. } => to_storage(v),
            Conversion::ApiVersion { stored, .. } => with_api_version(v, stored),
            Conversion::Custom(c) => return c.to_storage(v),
        })
    }

    pub fn from_storage(&self, v: Value) -> Result<Value, StatusError> {
        Ok(match self {
            Conversion::Fns { from_storage, .. } => from_storage(v),
            Conversion::ApiVersion { served, .. } => with_api_version(v, served),
            Conversion::Custom(c) => {
                return c
                    .to_served(vec![v])?
                    .pop()
                    .ok_or_else(|| StatusError::internal("conversion returned no object"));
            }
        })
    }

    /// Several stored objects in the served version.
    pub fn from_storage_all(&self, objs: Vec<Value>) -> Result<Vec<Value>, StatusError> {
        match self {
            Conversion::Custom(c) if !objs.is_empty() => c.to_served(objs),
            _ => objs.into_iter().map(|o| self.from_storage(o)).collect(),
        }
    }

    /// Whether the strategy sees served objects (converted only when
    /// written and read).
    fn at_boundary(&self) -> bool {
        matches!(self, Conversion::Custom(_))
    }
}

fn with_api_version(mut v: Value, api_version: &str) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), Value::from(api_version));
    }
    v
}

impl Store {
    pub fn new(info: ResourceInfo, strategy: Arc<dyn Strategy>, storage: Arc<dyn Storage>) -> Self {
        Store {
            info: Arc::new(info),
            strategy,
            storage,
            subresources: Vec::new(),
            hooks: None,
            conversion: None,
            subresource: String::new(),
            type_schema: Arc::default(),
            watch_cached: false,
            id: next_store_id(),
        }
    }

    /// A store whose reads at revision 0 and watches come from a watch cache
    /// of the resource's key prefix (must be called inside a tokio runtime).
    pub fn cached(
        info: ResourceInfo,
        strategy: Arc<dyn Strategy>,
        storage: Arc<dyn Storage>,
    ) -> Self {
        let cache = kaiser_storage::cacher::Cacher::new(storage, &info.storage_prefix);
        Store {
            watch_cached: true,
            ..Store::new(info, strategy, Arc::new(cache))
        }
    }

    /// Whether reads at revision 0 and watches come from a watch cache.
    pub fn watch_cached(&self) -> bool {
        self.watch_cached
    }

    /// [`Store::cached`] when `cached`, else reading storage directly (a
    /// resource whose watch cache is switched off).
    pub fn cached_if(
        info: ResourceInfo,
        strategy: Arc<dyn Strategy>,
        storage: Arc<dyn Storage>,
        cached: bool,
    ) -> Self {
        if cached {
            Self::cached(info, strategy, storage)
        } else {
            Self::new(info, strategy, storage)
        }
    }

    /// Adds a subresource served by `strategy` over the same objects.
    pub fn with_subresource(mut self, name: &str, strategy: Arc<dyn Strategy>) -> Self {
        let info = Arc::make_mut(&mut self.info);
        if !info.subresources.iter().any(|s| s == name) {
            info.subresources.push(name.to_string());
        }
        let sub = Store {
            info: self.info.clone(),
            strategy,
            storage: self.storage.clone(),
            subresources: Vec::new(),
            hooks: self.hooks.clone(),
            conversion: self.conversion.clone(),
            subresource: name.to_string(),
            type_schema: self.type_schema.clone(),
            watch_cached: self.watch_cached,
            // Another strategy may select by other fields.
            id: next_store_id(),
        };
        self.subresources.push((name.to_string(), Arc::new(sub)));
        self
    }

    /// Runs `hooks` around every write (set before adding subresources,
    /// which share them).
    pub fn with_hooks(mut self, hooks: Arc<dyn crate::WriteHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Serves this version over objects stored in another (set before
    /// adding subresources, which share it).
    pub fn with_conversion(mut self, conversion: Conversion) -> Self {
        self.id = next_store_id();
        self.conversion = Some(conversion);
        self
    }

    /// Whether objects are converted on the way in and out (so stored
    /// bytes cannot be served as they are).
    pub fn converts(&self) -> bool {
        self.conversion.is_some()
    }

    pub(crate) fn conversion(&self) -> Option<Conversion> {
        self.conversion.clone()
    }

    /// A stored object in the served version.
    pub fn decode(&self, kv: &KeyValue) -> Result<Value, StatusError> {
        let obj = decode_kv(kv)?;
        self.served_from_stored(obj)
    }

    /// The selector attributes of a stored object (derived once per
    /// stored version while the value is cached).
    pub(crate) fn attrs(&self, kv: &KeyValue) -> Result<Arc<SelectorAttrs>, StatusError> {
        SelectorAttrs::derived(kv, self.id, &*self.strategy, || self.decode(kv))
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// A stored object in the served version.
    fn served_from_stored(&self, obj: Value) -> Result<Value, StatusError> {
        match &self.conversion {
            Some(c) => c.from_storage(obj),
            None => Ok(obj),
        }
    }

    /// An object in the form the strategy works on, in the served version.
    fn served(&self, obj: Value) -> Result<Value, StatusError> {
        match &self.conversion {
            Some(c) if !c.at_boundary() => c.from_storage(obj),
            _ => Ok(obj),
        }
    }

    /// The bytes to store for an object in the strategy's form.
    fn stored_bytes(&self, obj: &mut Value) -> Result<Bytes, StatusError> {
        match &self.conversion {
            Some(c) if c.at_boundary() => Self::encode(&mut c.to_storage(obj.clone())?),
            _ => Self::encode(obj),
        }
    }

    /// A table row of a served object (strategies see the stored form).
    pub fn table_row(&self, obj: &Value) -> Vec<Value> {
        match &self.conversion {
            Some(c) if !c.at_boundary() => match c.to_storage(obj.clone()) {
                Ok(stored) => self.strategy.table_row(&stored),
                Err(_) => self.strategy.table_row(obj),
            },
            _ => self.strategy.table_row(obj),
        }
    }

    /// Serves the `scale` subresource over the replica counts at `paths`.
    pub fn with_scale(mut self, paths: crate::scale::ScalePaths) -> Self {
        let info = Arc::make_mut(&mut self.info);
        if !info.subresources.iter().any(|s| s == "scale") {
            info.subresources.push("scale".into());
        }
        info.scale = Some(paths);
        self
    }

    /// The store behind a subresource.
    pub fn subresource(&self, name: &str) -> Option<&Arc<Store>> {
        self.subresources
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The subresource this store serves (`""` for the resource itself).
    pub fn subresource_name(&self) -> &str {
        &self.subresource
    }

    /// The kind's server-side apply type model: from the custom resource
    /// schema on [`ResourceInfo::schema`], else the built-in definition.
    pub fn type_schema(&self) -> Arc<TypeSchema> {
        self.type_schema
            .get_or_init(|| match &self.info.schema {
                Some(s) => Arc::new(TypeSchema::for_custom_resource(s)),
                None => TypeSchema::for_definition(&self.info.definition_name()),
            })
            .clone()
    }

    /// Whether managed fields are recorded on the served form, before
    /// conversion: a version whose fields differ from the stored one's
    /// (autoscaling/v1 HPAs, events.k8s.io/v1 Events). Other stores record
    /// them on the stored form after the strategy's prepare.
    fn tracks_served_form(&self) -> bool {
        matches!(self.conversion, Some(Conversion::Fns { .. }))
    }

    /// Records a non-apply write of `new` over `old` (`{}` on create) by
    /// `manager` in `new`'s managed fields.
    fn track_update(&self, old: &Value, new: &mut Value, manager: &str) {
        let schema = self.type_schema();
        let now = time::now_rfc3339();
        let api_version = self.info.api_version();
        FieldManager {
            schema: &schema,
            api_version: &api_version,
            kind: &self.info.kind,
            subresource: &self.subresource,
            reset: self.strategy.reset_fields(),
            now: &now,
        }
        .update(old, new, manager);
    }

    fn key(&self, ns: &str, name: &str) -> String {
        if self.info.namespaced {
            format!("{}{ns}/{name}", self.info.storage_prefix)
        } else {
            format!("{}{name}", self.info.storage_prefix)
        }
    }

    /// The key prefix for a list in `ns` (all namespaces when empty).
    fn list_prefix(&self, ns: &str) -> String {
        if self.info.namespaced && !ns.is_empty() {
            format!("{}{ns}/", self.info.storage_prefix)
        } else {
            self.info.storage_prefix.clone()
        }
    }

    fn not_found(&self, name: &str) -> StatusError {
        StatusError::not_found(&self.info.group_resource(), name)
    }

    /// Maps a storage error to the `Status` a client sees.
    pub fn status_error(&self, e: StorageError, name: &str) -> StatusError {
        let gr = self.info.group_resource();
        match e {
            StorageError::NotFound(_) => self.not_found(name),
            StorageError::KeyExists(_) => StatusError::already_exists(&gr, name),
            StorageError::Conflict { .. } => StatusError::conflict(
                &gr,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ),
            StorageError::Compacted { .. } => StatusError::resource_expired(
                "The resourceVersion for the provided list is too old.",
            ),
            StorageError::FutureRevision { requested, current } => {
                let mut e = StatusError::timeout(format!(
                    "Too large resource version: {requested}, current: {current}"
                ));
                e.details = Some(Box::new(kaiser_apimachinery::status::StatusDetails {
                    causes: vec![kaiser_apimachinery::status::StatusCause {
                        kind: "ResourceVersionTooLarge".into(),
                        message: "Too large resource version".into(),
                        field: String::new(),
                    }],
                    retry_after_seconds: Some(1),
                    ..Default::default()
                }));
                e
            }
            // Upstream hands etcd's own error through: a 500 with no
            // reason, whose message clients and their docs look for.
            StorageError::TooLarge { .. } => {
                StatusError::new(500, "", "etcdserver: request is too large")
            }
            StorageError::Backend(m) => StatusError::new(500, "", m),
            StorageError::Unavailable(m) => StatusError::service_unavailable(m),
            StorageError::Io(m) => StatusError::internal(m),
        }
    }

    /// The stored form: the object without `resourceVersion` (callers stamp
    /// the new revision afterwards).
    ///
    /// `apiVersion`, `kind` and `metadata` lead, so that reads can splice the
    /// revision in without decoding (see [`write_with_resource_version`]).
    fn encode(obj: &mut Value) -> Result<Bytes, StatusError> {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.shift_remove("resourceVersion");
        }
        if let Some(o) = obj.as_object_mut() {
            for (i, k) in ["apiVersion", "kind", "metadata"].iter().enumerate() {
                if let Some(v) = o.shift_remove(*k) {
                    o.shift_insert(i.min(o.len()), (*k).to_string(), v);
                }
            }
        }
        let mut bytes = codec::to_json(obj);
        // Stored bytes live as long as the object (in the watch cache and
        // the embedded store): keep none of the slack the buffer grew with.
        bytes.shrink_to_fit();
        Ok(Bytes::from(bytes))
    }

    /// GET from the watch cache when the store has one (possibly a little
    /// stale, like an informer's lister), falling back to storage for
    /// objects the cache has not seen yet.
    pub async fn get_cached(&self, ns: &str, name: &str) -> Result<Value, StatusError> {
        self.decode(&self.cached_kv(ns, name).await?)
    }

    /// The stored bytes of an object, from the watch cache when it has it
    /// (no resourceVersion spliced in).
    pub async fn get_cached_json(&self, ns: &str, name: &str) -> Result<Bytes, StatusError> {
        Ok(self.cached_kv(ns, name).await?.value)
    }

    /// The stored key-value from the watch cache, or from storage when the
    /// cache has not seen it; a 404 when neither has it.
    async fn cached_kv(&self, ns: &str, name: &str) -> Result<KeyValue, StatusError> {
        let key = self.key(ns, name);
        for revision in [Some(0), None] {
            let (kv, _) = self
                .storage
                .get(&key, revision)
                .await
                .map_err(|e| self.status_error(e, name))?;
            if let Some(kv) = kv {
                return Ok(kv);
            }
        }
        Err(self.not_found(name))
    }

    /// GET's `resourceVersion`: empty or "0" read the current object, as
    /// does a revision the store has reached (upstream's cache answers with
    /// its current state once it is that fresh); a later one waits for the
    /// store as [`Self::check_reached`] does, an unparsable one is upstream's 500.
    pub async fn check_get_resource_version(&self, rv: &str) -> Result<(), StatusError> {
        let rv = match meta::parse_resource_version(rv) {
            Ok(Some(rv)) if rv > 0 => rv,
            Ok(_) => return Ok(()),
            Err(e) => return Err(StatusError::new(500, "", e)),
        };
        self.check_reached(rv).await
    }

    /// Waits, up to [`FRESHNESS_WAIT`] as upstream's cache does, for the
    /// store to reach `rv`; past that, upstream's 504 "Too large resource
    /// version". Another replica's write is seen here once it is in etcd, so
    /// the wait mostly covers a revision no server has reached yet.
    pub(crate) async fn check_reached(&self, rv: i64) -> Result<(), StatusError> {
        let deadline = tokio::time::Instant::now() + FRESHNESS_WAIT;
        let mut pause = Duration::from_millis(5);
        loop {
            let current = self
                .storage
                .current_revision()
                .await
                .map_err(|e| self.status_error(e, ""))?;
            if rv <= current {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                let e = StorageError::FutureRevision {
                    requested: rv,
                    current,
                };
                return Err(self.status_error(e, ""));
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    pub async fn get(&self, ns: &str, name: &str) -> Result<Value, StatusError> {
        let (kv, _) = self
            .storage
            .get(&self.key(ns, name), None)
            .await
            .map_err(|e| self.status_error(e, name))?;
        let kv = kv.ok_or_else(|| self.not_found(name))?;
        self.decode(&kv)
    }

    /// Checks that every field selector names a supported field.
    pub fn check_field_selector(&self, opts: &ListOptions) -> Result<(), StatusError> {
        for r in &opts.field_selector.requirements {
            let ok = matches!(r.field.as_str(), "metadata.name" | "metadata.namespace")
                || self
                    .strategy
                    .extra_selectable_fields()
                    .contains(&r.field.as_str());
            if !ok {
                return Err(StatusError::bad_request(format!(
                    "field label not supported: {}",
                    r.field
                )));
            }
        }
        Ok(())
    }

    /// LIST with selectors, pagination and resourceVersion semantics.
    pub async fn list(&self, ns: &str, opts: &ListOptions) -> Result<Value, StatusError> {
        let (kvs, list_meta) = self.list_kvs(ns, opts).await?;
        self.list_of(&kvs, list_meta)
    }

    /// The decoded list document of stored objects `kvs`.
    pub fn list_of(&self, kvs: &[Arc<KeyValue>], list_meta: Value) -> Result<Value, StatusError> {
        let items = match &self.conversion {
            // One conversion call for the whole page.
            Some(c) if c.at_boundary() => {
                let raw = kvs
                    .iter()
                    .map(|kv| decode_kv(kv))
                    .collect::<Result<Vec<_>, _>>()?;
                c.from_storage_all(raw)?
            }
            _ => kvs
                .iter()
                .map(|kv| self.decode(kv))
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(self.list_document(list_meta, Value::Array(items)))
    }

    /// This resource's list object (`<Kind>List`) of `items`.
    pub fn list_document(&self, list_meta: Value, items: Value) -> Value {
        codec::object([
            ("kind", Value::from(self.info.list_kind())),
            ("apiVersion", Value::from(self.info.api_version())),
            ("metadata", list_meta),
            ("items", items),
        ])
    }

    /// LIST as JSON bytes assembled from the stored bytes, without decoding
    /// and re-encoding each item (the common path for plain JSON clients).
    pub async fn list_json(&self, ns: &str, opts: &ListOptions) -> Result<JsonList, StatusError> {
        let (kvs, list_meta) = self.list_kvs(ns, opts).await?;
        self.json_list(kvs, &list_meta)
    }

    /// The list document of stored objects `kvs` as JSON bytes made from
    /// their stored bytes (when the served form is the stored one).
    pub fn json_list(
        &self,
        kvs: Vec<Arc<KeyValue>>,
        list_meta: &Value,
    ) -> Result<JsonList, StatusError> {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"{\"kind\":");
        serde_json::to_writer(&mut head, &self.info.list_kind()).map_err(StatusError::internal)?;
        head.extend_from_slice(b",\"apiVersion\":");
        serde_json::to_writer(&mut head, &self.info.api_version())
            .map_err(StatusError::internal)?;
        head.extend_from_slice(b",\"metadata\":");
        serde_json::to_writer(&mut head, list_meta).map_err(StatusError::internal)?;
        head.extend_from_slice(b",\"items\":[");
        Ok(JsonList::new(head, kvs))
    }

    /// The stored objects of a LIST page and the list's metadata, for
    /// callers that render each item as they send it (see
    /// [`Store::decodes_alone`]).
    pub async fn list_page(
        &self,
        ns: &str,
        opts: &ListOptions,
    ) -> Result<(Vec<Arc<KeyValue>>, Value), StatusError> {
        self.list_kvs(ns, opts).await
    }

    /// Whether [`Store::decode`] serves each stored object on its own; a
    /// conversion webhook instead converts a whole page in one call.
    pub fn decodes_alone(&self) -> bool {
        !self
            .conversion
            .as_ref()
            .is_some_and(Conversion::at_boundary)
    }

    /// GET as JSON bytes from the stored bytes.
    pub async fn get_json(&self, ns: &str, name: &str) -> Result<Vec<u8>, StatusError> {
        let (kv, _) = self
            .storage
            .get(&self.key(ns, name), None)
            .await
            .map_err(|e| self.status_error(e, name))?;
        let kv = kv.ok_or_else(|| self.not_found(name))?;
        let mut out = Vec::with_capacity(kv.value.len() + 32);
        write_with_resource_version(&mut out, &kv)?;
        Ok(out)
    }

    /// The page of stored objects a LIST returns, and the list's metadata.
    async fn list_kvs(
        &self,
        ns: &str,
        opts: &ListOptions,
    ) -> Result<(Vec<Arc<KeyValue>>, Value), StatusError> {
        self.check_field_selector(opts)?;
        let prefix = self.list_prefix(ns);
        let (mut revision, mut start) = match &opts.continue_token {
            // A negative revision: from the key on, at the current revision.
            Some(t) => (
                Some(t.revision).filter(|r| *r > 0),
                format!("{}{}", self.info.storage_prefix, t.start),
            ),
            None => (None, String::new()),
        };
        // resourceVersion=0 means "any": the watch cache may answer.
        if opts.continue_token.is_none() && opts.resource_version == Some(0) {
            revision = Some(0);
        }
        if opts.continue_token.is_none()
            && let Some(rv) = opts.resource_version.filter(|rv| *rv > 0)
        {
            let exact = opts.resource_version_match == RvMatch::Exact
                || (opts.resource_version_match == RvMatch::Unset && opts.limit > 0);
            if exact {
                revision = Some(rv);
            } else {
                self.check_reached(rv).await?;
            }
        }
        // A field selector on the name narrows the read to one key.
        if let Some(name) = opts.field_selector.exact("metadata.name") {
            if self.info.namespaced && ns.is_empty() {
                // Across namespaces: still a range, filtered below.
            } else if start.is_empty() {
                start = self.key(ns, name);
            }
        }
        let limit = usize::try_from(opts.limit.max(0)).unwrap_or(0);
        let filtered = !opts.label_selector.is_empty() || !opts.field_selector.is_empty();
        let mut items = Vec::new();
        let mut next_start: Option<String> = None;
        let mut remaining = None;
        let mut at = revision;
        loop {
            let page_size = if limit == 0 {
                0
            } else {
                (limit - items.len()).max(if filtered { 100 } else { 0 })
            };
            let page = self
                .storage
                .range(&prefix, &start, at, page_size)
                .await
                .map_err(|e| match (e, &opts.continue_token) {
                    // Compacted under a paginated list: it may go on from
                    // the same key at the current revision, inconsistently.
                    (StorageError::Compacted { .. }, Some(t)) => StatusError::continue_expired(
                        ContinueToken::new(-1, t.start.clone()).encode(),
                    ),
                    (e, _) => self.status_error(e, ""),
                })?;
            at = Some(page.revision);
            // The page's items move into the result (no copies); only the
            // last key is kept, to continue from.
            let page_len = page.kvs.len();
            let last_of_page = page.kvs.last().map(|kv| kv.key.clone());
            let mut examined = 0;
            let mut full = false;
            for kv in page.kvs {
                examined += 1;
                if !filtered || self.attrs(&kv)?.selected_by(opts) {
                    items.push(kv);
                    if limit > 0 && items.len() == limit {
                        full = true;
                        break;
                    }
                }
            }
            let more = page.more || examined < page_len;
            if full && more {
                // The loop stopped at the item just kept.
                if let Some(kv) = items.last() {
                    next_start = Some(format!("{}\0", kv.key));
                }
                if !filtered {
                    remaining = Some(page.count - examined as i64);
                }
                break;
            }
            if !page.more {
                break;
            }
            match last_of_page {
                Some(k) => start = format!("{k}\0"),
                None => break,
            }
        }
        let revision = at.unwrap_or(0);
        let mut list_meta = json!({ "resourceVersion": revision.to_string() });
        if let Some(k) = next_start {
            let rel = k
                .strip_prefix(&self.info.storage_prefix)
                .unwrap_or(&k)
                .to_string();
            list_meta["continue"] = Value::from(ContinueToken::new(revision, rel).encode());
            if let Some(r) = remaining.filter(|r| *r > 0) {
                list_meta["remainingItemCount"] = Value::from(r);
            }
        }
        Ok((items, list_meta))
    }

    /// Sets identity fields and runs defaulting, preparation and validation
    /// for a new object.
    fn prepare_create(&self, obj: &mut Value, opts: &WriteOptions<'_>) -> Result<(), StatusError> {
        let m = meta::metadata_mut(obj);
        for f in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
        let generate = m
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name_empty = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty();
        if name_empty && !generate.is_empty() {
            m.insert(
                "name".into(),
                Value::from(self.strategy.generate_name(&generate)),
            );
        }
        m.insert(
            "uid".into(),
            Value::from(kaiser_apimachinery::uid::new_v4().to_string()),
        );
        m.insert("creationTimestamp".into(), Value::from(time::now_rfc3339()));
        self.strategy.default(obj);
        self.strategy.prepare_for_create(obj);
        if self.strategy.tracks_generation() {
            meta::metadata_mut(obj).insert("generation".into(), Value::from(1));
        }
        if let Some(manager) = opts.manager {
            self.track_update(&Value::Object(Map::new()), obj, manager);
        }
        let mut errs = self.validate_meta(obj);
        errs.extend(self.strategy.validate(obj));
        self.check(obj, &errs)
    }

    fn validate_meta(&self, obj: &Value) -> ErrorList {
        let empty = Map::new();
        validate_object_meta(
            meta::metadata(obj).unwrap_or(&empty),
            self.info.namespaced,
            self.strategy.name_validator(),
        )
    }

    fn check(&self, obj: &Value, errs: &ErrorList) -> Result<(), StatusError> {
        if errs.is_empty() {
            return Ok(());
        }
        Err(StatusError::invalid(
            &self.info.kind,
            &self.info.group,
            meta::name(obj),
            errs,
        ))
    }

    /// CREATE. `ns` is the request's namespace, already checked against the body.
    pub async fn create(
        &self,
        obj: Value,
        admit: AdmitFn<'_>,
        dry_run: bool,
    ) -> Result<Value, StatusError> {
        let opts = WriteOptions {
            dry_run,
            ..Default::default()
        };
        self.create_with(obj, admit, &opts).await
    }

    /// CREATE with field management and options.
    pub async fn create_with(
        &self,
        obj: Value,
        admit: AdmitFn<'_>,
        opts: &WriteOptions<'_>,
    ) -> Result<Value, StatusError> {
        Ok(self.create_with_json(obj, admit, opts).await?.0)
    }

    /// [`Store::create_with`], also returning the created object as compact
    /// JSON made from the bytes just stored (with its `resourceVersion`),
    /// when the served form is the stored one: a response then needs no
    /// second encoding.
    ///
    /// A name made from `generateName` that turns out to be taken is made
    /// again, up to [`NAME_GENERATION_ATTEMPTS`] tries in all, as upstream
    /// does; each try is a whole create, validating admission included.
    pub async fn create_with_json(
        &self,
        mut obj: Value,
        admit: AdmitFn<'_>,
        opts: &WriteOptions<'_>,
    ) -> Result<(Value, Option<Vec<u8>>), StatusError> {
        let metadata = meta::metadata(&obj);
        let field = |f: &str| {
            metadata
                .and_then(|m| m.get(f))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let generated = !field("generateName").is_empty();
        if !generated {
            return self.create_once(obj, admit, opts).await;
        }
        let retry = field("name").is_empty();
        let mut attempt = 1;
        loop {
            let again = (retry && attempt < NAME_GENERATION_ATTEMPTS).then(|| obj.clone());
            match self.create_once(obj, admit, opts).await {
                Err(e) if e.reason == "AlreadyExists" => {
                    let name = e.details.as_ref().map_or("", |d| d.name.as_str());
                    let e = StatusError::generate_name_conflict(&self.info.group_resource(), name);
                    match again {
                        Some(next) => obj = next,
                        None => return Err(e),
                    }
                }
                r => return r,
            }
            attempt += 1;
        }
    }

    /// One try of [`Store::create_with_json`].
    async fn create_once(
        &self,
        mut obj: Value,
        admit: AdmitFn<'_>,
        opts: &WriteOptions<'_>,
    ) -> Result<(Value, Option<Vec<u8>>), StatusError> {
        let dry_run = opts.dry_run;
        let served_tracking = self.tracks_served_form();
        if served_tracking && let Some(manager) = opts.manager {
            self.track_update(&Value::Object(Map::new()), &mut obj, manager);
        }
        if let Some(c) = &self.conversion
            && !c.at_boundary()
        {
            obj = c.to_storage(obj)?;
        }
        let prepare_opts = WriteOptions {
            manager: opts.manager.filter(|_| !served_tracking),
            ..*opts
        };
        self.prepare_create(&mut obj, &prepare_opts)?;
        admit(&obj, None)?;
        let name = meta::name(&obj).to_string();
        let key = self.key(meta::namespace(&obj), &name);
        if let Some(h) = &self.hooks {
            // A taken name is a 409 before anything is allocated for it.
            let (existing, _) = self
                .storage
                .get(&key, None)
                .await
                .map_err(|e| self.status_error(e, &name))?;
            if existing.is_some() {
                return Err(StatusError::already_exists(
                    &self.info.group_resource(),
                    &name,
                ));
            }
            h.before_write(&mut obj, None, dry_run).await?;
        }
        if dry_run {
            // A dry run still reports a name that is taken.
            let (existing, _) = self
                .storage
                .get(&key, None)
                .await
                .map_err(|e| self.status_error(e, &name))?;
            if existing.is_some() {
                return Err(StatusError::already_exists(
                    &self.info.group_resource(),
                    &name,
                ));
            }
            return Ok((self.served(obj)?, None));
        }
        let mut written = self.create_encoded(&key, &mut obj).await;
        // Too big to store: without its managed fields it may fit, as
        // upstream retries a non-apply write.
        if matches!(written, Ok(Err(StorageError::TooLarge { .. }))) && opts.manager.is_some() {
            entries::remove(&mut obj);
            written = self.create_encoded(&key, &mut obj).await;
        }
        let written = written.and_then(|w| w.map_err(|e| self.status_error(e, &name)));
        if let Some(h) = &self.hooks {
            h.after_write(&obj, None, written.is_ok()).await;
        }
        let (rev, stored) = written?;
        meta::set_resource_version(&mut obj, rev);
        let mut json = None;
        if self.conversion.is_none() {
            let mut out = Vec::with_capacity(stored.len() + 40);
            json = splice_revision(&mut out, &stored, rev).then_some(out);
        }
        Ok((self.served(obj)?, json))
    }

    /// Stores a new object: the outer error is the encoding's, the inner
    /// one the storage's.
    async fn create_encoded(
        &self,
        key: &str,
        obj: &mut Value,
    ) -> Result<Result<(i64, Bytes), StorageError>, StatusError> {
        let bytes = self.stored_bytes(obj)?;
        let written = match self.info.expire_after {
            Some(ttl) => self.storage.create_expiring(key, bytes.clone(), ttl).await,
            None => self.storage.create(key, bytes.clone()).await,
        };
        Ok(written.map(|rev| (rev, bytes)))
    }

    /// Overwrites the object at `key` if it is still at `rev`; a kind that
    /// expires starts its time to live again (upstream's TTLFunc).
    async fn storage_update(&self, key: &str, bytes: Bytes, rev: i64) -> Result<i64, StorageError> {
        match self.info.expire_after {
            Some(ttl) => self.storage.update_expiring(key, bytes, rev, ttl).await,
            None => self.storage.update(key, bytes, rev).await,
        }
    }

    /// Stores an updated object (errors as [`Store::create_encoded`]).
    async fn update_encoded(
        &self,
        key: &str,
        new: &mut Value,
        kv: &KeyValue,
    ) -> Result<Result<i64, StorageError>, StatusError> {
        let bytes = self.stored_bytes(new)?;
        Ok(self.storage_update(key, bytes, kv.mod_revision).await)
    }

    /// UPDATE and PATCH: reads the current object, lets `apply` build the new
    /// one, checks preconditions and rules, and writes with a compare on the
    /// revision read, retrying on a concurrent write (upstream's guaranteed
    /// update). Returns the object and whether it was created.
    pub async fn update(
        &self,
        ns: &str,
        name: &str,
        apply: &(dyn Fn(Option<&Value>) -> Result<Value, StatusError> + Sync),
        admit: AdmitFn<'_>,
        dry_run: bool,
    ) -> Result<(Value, bool), StatusError> {
        let opts = WriteOptions {
            dry_run,
            ..Default::default()
        };
        self.update_with(ns, name, apply, admit, &opts).await
    }

    /// UPDATE and PATCH with field management and options.
    pub async fn update_with(
        &self,
        ns: &str,
        name: &str,
        apply: &(dyn Fn(Option<&Value>) -> Result<Value, StatusError> + Sync),
        admit: AdmitFn<'_>,
        opts: &WriteOptions<'_>,
    ) -> Result<(Value, bool), StatusError> {
        let dry_run = opts.dry_run;
        let key = self.key(ns, name);
        for _ in 0..MAX_UPDATE_RETRIES {
            let (kv, _) = self
                .storage
                .get(&key, None)
                .await
                .map_err(|e| self.status_error(e, name))?;
            let Some(kv) = kv else {
                if !self.strategy.allow_create_on_update() && !opts.force_allow_create {
                    return Err(self.not_found(name));
                }
                let obj = apply(None)?;
                return match self.create_with(obj, admit, opts).await {
                    Err(e) if e.reason == "AlreadyExists" => continue,
                    other => other.map(|o| (o, true)),
                };
            };
            let mut old = decode_kv(&kv)?;
            let served_tracking = self.tracks_served_form();
            let mut new = match &self.conversion {
                Some(c) if c.at_boundary() => {
                    old = c.from_storage(old)?;
                    apply(Some(&old))?
                }
                Some(c) => {
                    let served_old = c.from_storage(old.clone())?;
                    let mut served_new = apply(Some(&served_old))?;
                    if served_tracking && let Some(manager) = opts.manager {
                        self.track_update(&served_old, &mut served_new, manager);
                    }
                    c.to_storage(served_new)?
                }
                None => apply(Some(&old))?,
            };
            let prepare_opts = WriteOptions {
                manager: opts.manager.filter(|_| !served_tracking),
                ..*opts
            };
            let rv = meta::resource_version(&new).to_string();
            if !rv.is_empty() && rv != kv.mod_revision.to_string() {
                return Err(self.status_error(
                    StorageError::Conflict {
                        key: key.clone(),
                        current: None,
                    },
                    name,
                ));
            }
            let new_uid = meta::uid(&new);
            if !new_uid.is_empty() && new_uid != meta::uid(&old) {
                return Err(precondition_failed(
                    &self.info.group_resource(),
                    name,
                    "UID",
                    new_uid,
                    meta::uid(&old),
                ));
            }
            self.prepare_update(&mut new, &old, &prepare_opts)?;
            admit(&new, Some(&old))?;
            if let Some(h) = &self.hooks {
                h.before_write(&mut new, Some(&old), dry_run).await?;
            }
            if dry_run {
                return Ok((self.served(new)?, false));
            }
            // What the hooks reserved for `new`, to release if the write fails.
            let reserved = self.hooks.as_ref().map(|_| new.clone());
            let slim = opts.manager.is_some();
            let (result, written) = self
                .write_update(&key, name, new, &old, &kv, &rv, slim)
                .await;
            if let (Some(h), Some(reserved)) = (&self.hooks, reserved) {
                match &result {
                    Some(Ok((new, _)))
                        if written
                            && meta::deletion_timestamp(new).is_some()
                            && meta::finalizers(new).is_empty()
                            && !self.strategy.has_pending_finalizers(new) =>
                    {
                        h.after_write(&reserved, Some(&old), false).await;
                        h.after_delete(&old).await;
                    }
                    Some(Ok((new, _))) if written => h.after_write(new, Some(&old), true).await,
                    _ => h.after_write(&reserved, Some(&old), false).await,
                }
            }
            match result {
                Some(r) => return r.and_then(|(o, created)| Ok((self.served(o)?, created))),
                None => continue,
            }
        }
        Err(self.status_error(StorageError::Conflict { key, current: None }, name))
    }

    /// The storage half of one update attempt: `None` asks for a retry
    /// (a concurrent write), the bool says whether storage changed.
    /// `slim`: a value too big to store is retried without its managed
    /// fields, as upstream does for a non-apply write.
    #[allow(clippy::too_many_arguments)]
    async fn write_update(
        &self,
        key: &str,
        name: &str,
        mut new: Value,
        old: &Value,
        kv: &KeyValue,
        rv: &str,
        slim: bool,
    ) -> (Option<Result<(Value, bool), StatusError>>, bool) {
        if same_ignoring_rv(&new, old) {
            return (Some(Ok((old.clone(), false))), false);
        }
        // The last finalizer gone from a deleting object: it goes now.
        if meta::deletion_timestamp(&new).is_some()
            && meta::finalizers(&new).is_empty()
            && !self.strategy.has_pending_finalizers(&new)
        {
            return match self.storage.delete(key, Some(kv.mod_revision)).await {
                Ok((rev, _)) => {
                    meta::set_resource_version(&mut new, rev);
                    (Some(Ok((new, false))), true)
                }
                Err(StorageError::Conflict { .. }) => (None, false),
                Err(e) => (Some(Err(self.status_error(e, name))), false),
            };
        }
        let mut outcome = self.update_encoded(key, &mut new, kv).await;
        if slim && matches!(outcome, Ok(Err(StorageError::TooLarge { .. }))) {
            entries::remove(&mut new);
            outcome = self.update_encoded(key, &mut new, kv).await;
        }
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return (Some(Err(e)), false),
        };
        match outcome {
            Ok(rev) => {
                meta::set_resource_version(&mut new, rev);
                (Some(Ok((new, false))), true)
            }
            Err(StorageError::Conflict { .. }) if rv.is_empty() => (None, false),
            Err(e) => (Some(Err(self.status_error(e, name))), false),
        }
    }

    fn prepare_update(
        &self,
        new: &mut Value,
        old: &Value,
        opts: &WriteOptions<'_>,
    ) -> Result<(), StatusError> {
        // Identity and server-set fields carry over from the stored object.
        meta::keep_fields(
            new,
            old,
            &[
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ],
        );
        // An empty name (or namespace) in the request means the stored one.
        let mut fill = vec!["name"];
        if self.info.namespaced {
            fill.push("namespace");
        }
        let empty: Vec<&str> = fill
            .into_iter()
            .filter(|f| meta::str_field(new, f).is_empty())
            .collect();
        meta::keep_fields(new, old, &empty);
        let m = meta::metadata_mut(new);
        m.remove("selfLink");
        self.strategy.default(new);
        self.strategy.prepare_for_update(new, old);
        if self.strategy.tracks_generation() {
            let old_gen = meta::metadata(old)
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let next = old_gen + i64::from(self.strategy.spec_changed(new, old));
            meta::metadata_mut(new).insert("generation".into(), Value::from(next));
        }
        if let Some(manager) = opts.manager {
            self.track_update(old, new, manager);
        }
        let mut errs = self.validate_meta(new);
        let empty = Map::new();
        errs.extend(validate_object_meta_update(
            meta::metadata(new).unwrap_or(&empty),
            meta::metadata(old).unwrap_or(&empty),
        ));
        errs.extend(self.strategy.validate_update(new, old));
        self.check(new, &errs)
    }

    /// DELETE with preconditions and finalizers.
    pub async fn delete(
        &self,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
        admit: AdmitFn<'_>,
    ) -> Result<Deleted, StatusError> {
        let key = self.key(ns, name);
        for _ in 0..MAX_UPDATE_RETRIES {
            let (kv, _) = self
                .storage
                .get(&key, None)
                .await
                .map_err(|e| self.status_error(e, name))?;
            let kv = kv.ok_or_else(|| self.not_found(name))?;
            let mut obj = decode_kv(&kv)?;
            self.check_preconditions(&obj, opts, name)?;
            admit(&obj, None)?;
            let finalizers_changed = propagation_finalizers(&mut obj, opts);
            let graceful =
                !meta::finalizers(&obj).is_empty() | self.strategy.begin_graceful_delete(&mut obj);
            if graceful {
                let first = meta::deletion_timestamp(&obj).is_none();
                if first {
                    let m = meta::metadata_mut(&mut obj);
                    m.insert("deletionTimestamp".into(), Value::from(time::now_rfc3339()));
                    m.insert("deletionGracePeriodSeconds".into(), Value::from(0));
                }
                if first || finalizers_changed {
                    if opts.dry_run {
                        return Ok(Deleted {
                            body: self.served_from_stored(obj)?,
                            gone: false,
                        });
                    }
                    match self
                        .storage_update(&key, Self::encode(&mut obj)?, kv.mod_revision)
                        .await
                    {
                        Ok(rev) => meta::set_resource_version(&mut obj, rev),
                        Err(StorageError::Conflict { .. }) => continue,
                        Err(e) => return Err(self.status_error(e, name)),
                    }
                }
                return Ok(Deleted {
                    body: self.served_from_stored(obj)?,
                    gone: false,
                });
            }
            if opts.dry_run {
                return Ok(Deleted {
                    body: self.deleted_body(obj)?,
                    gone: true,
                });
            }
            match self.storage.delete(&key, Some(kv.mod_revision)).await {
                Ok((rev, _)) => {
                    if let Some(h) = &self.hooks {
                        h.after_delete(&obj).await;
                    }
                    meta::set_resource_version(&mut obj, rev);
                    return Ok(Deleted {
                        body: self.deleted_body(obj)?,
                        gone: true,
                    });
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(self.status_error(e, name)),
            }
        }
        Err(self.status_error(StorageError::Conflict { key, current: None }, name))
    }

    fn check_preconditions(
        &self,
        obj: &Value,
        opts: &DeleteOptions,
        name: &str,
    ) -> Result<(), StatusError> {
        let gr = self.info.group_resource();
        if let Some(uid) = &opts.precondition_uid
            && uid != meta::uid(obj)
        {
            return Err(precondition_failed(&gr, name, "UID", uid, meta::uid(obj)));
        }
        if let Some(rv) = &opts.precondition_resource_version
            && rv != meta::resource_version(obj)
        {
            return Err(precondition_failed(
                &gr,
                name,
                "ResourceVersion",
                rv,
                meta::resource_version(obj),
            ));
        }
        Ok(())
    }

    fn deleted_body(&self, obj: Value) -> Result<Value, StatusError> {
        if self.strategy.return_deleted_object() {
            return self.served_from_stored(obj);
        }
        Ok(kaiser_apimachinery::status::success_status(
            kaiser_apimachinery::status::StatusDetails {
                name: meta::name(&obj).to_string(),
                group: self.info.group.clone(),
                kind: self.info.resource.clone(),
                uid: meta::uid(&obj).to_string(),
                ..Default::default()
            },
        ))
    }

    /// DELETECOLLECTION: deletes each matching object, one at a time as
    /// upstream's single default worker does. Returns the stored objects
    /// as listed (an object another client deleted meanwhile included, as
    /// upstream) and the list's metadata; render them with
    /// [`Store::list_of`] or [`Store::json_list`].
    ///
    /// Up to `workers` deletes are in flight at once (upstream's
    /// `--delete-collection-workers`; fewer than one is one): on the
    /// embedded store they then share syncs.
    pub async fn delete_collection(
        &self,
        ns: &str,
        list_opts: &ListOptions,
        opts: &DeleteOptions,
        admit: AdmitFn<'_>,
        workers: usize,
    ) -> Result<(Vec<Arc<KeyValue>>, Value), StatusError> {
        // As upstream: a request with a limit deletes that one page and
        // answers with it; otherwise every page of DELETE_COLLECTION_PAGE,
        // each read at the first page's revision, and the answer carries
        // the first page's metadata. Only stored bytes are kept for the
        // answer, so that a large collection is never decoded all at once.
        let one_page = list_opts.limit > 0;
        let mut page_opts = list_opts.clone();
        if !one_page {
            page_opts.limit = DELETE_COLLECTION_PAGE;
        }
        let per_item = DeleteOptions {
            precondition_uid: None,
            precondition_resource_version: None,
            ..opts.clone()
        };
        let mut listed = Vec::new();
        let mut first_meta = None;
        loop {
            let (kvs, list_meta) = match self.list_kvs(ns, &page_opts).await {
                // Compacted under the pages (the deletes themselves fill
                // the history): go on from the same key at the current
                // revision, as the 410's token offers.
                Err(e) if e.code == 410 && page_opts.continue_token.is_some() => {
                    if let Some(t) = page_opts.continue_token.as_mut() {
                        t.revision = -1;
                    }
                    self.list_kvs(ns, &page_opts).await?
                }
                r => r?,
            };
            let mut items = kvs.iter();
            let mut running = futures_util::stream::FuturesUnordered::new();
            loop {
                while running.len() < workers.max(1) {
                    let Some(kv) = items.next() else { break };
                    let (item_ns, name) = self.key_parts(&kv.key);
                    running.push(self.delete(item_ns, name, &per_item, admit));
                }
                match running.next().await {
                    None => break,
                    Some(Ok(_)) => {}
                    Some(Err(e)) if e.code == 404 => {}
                    Some(Err(e)) => return Err(e),
                }
            }
            drop(running);
            listed.extend(kvs);
            let next = list_meta
                .get("continue")
                .and_then(Value::as_str)
                .map(ContinueToken::decode);
            if one_page {
                return Ok((listed, list_meta));
            }
            first_meta.get_or_insert(list_meta);
            match next {
                Some(t) => {
                    page_opts.continue_token = Some(t.map_err(StatusError::internal)?);
                    page_opts.resource_version = None;
                    page_opts.resource_version_match = RvMatch::Unset;
                }
                None => break,
            }
        }
        Ok((listed, first_meta.unwrap_or_else(|| json!({}))))
    }

    /// The namespace and name a key of this store's stands for.
    fn key_parts<'k>(&self, key: &'k str) -> (&'k str, &'k str) {
        let rel = key.strip_prefix(&self.info.storage_prefix).unwrap_or(key);
        if self.info.namespaced {
            rel.split_once('/').unwrap_or(("", rel))
        } else {
            ("", rel)
        }
    }

    /// WATCH from the options' resourceVersion (initial state first when
    /// none is given, as upstream).
    pub async fn watch(&self, ns: &str, opts: &ListOptions) -> Result<ObjectWatch, StatusError> {
        self.check_field_selector(opts)?;
        ObjectWatch::start(self, ns, opts).await
    }

    pub(crate) fn prefix_for(&self, ns: &str) -> String {
        self.list_prefix(ns)
    }
}

/// The 409 for a failed precondition, worded as upstream.
fn precondition_failed(
    gr: &kaiser_apimachinery::GroupResource,
    name: &str,
    what: &str,
    want: &str,
    have: &str,
) -> StatusError {
    StatusError::conflict(
        gr,
        name,
        &format!(
            "Precondition failed: {what} in precondition: {want}, {what} in object meta: {have}"
        ),
    )
}

/// One item of a [`JsonList`]: stored bytes with the offset where
/// `resourceVersion` goes, or (for stored bytes of another layout) the
/// object encoded anew.
enum ListItem {
    /// `len` is the item's length once spliced: the chunking needs it
    /// before the bytes are copied.
    Spliced {
        kv: Arc<KeyValue>,
        at: usize,
        len: usize,
    },
    Encoded(Vec<u8>),
}

impl ListItem {
    fn new(kv: Arc<KeyValue>) -> Result<ListItem, StatusError> {
        match kaiser_apimachinery::meta::metadata_body_offset(&kv.value) {
            Some(at) => {
                let comma = usize::from(kv.value.get(at) != Some(&b'}'));
                let digits = itoa::Buffer::new().format(kv.mod_revision).len();
                let len = kv.value.len() + RV_FIELD.len() + digits + 1 + comma;
                Ok(ListItem::Spliced { kv, at, len })
            }
            None => {
                let mut out = Vec::new();
                write_with_resource_version(&mut out, &kv)?;
                Ok(ListItem::Encoded(out))
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            ListItem::Spliced { len, .. } => *len,
            ListItem::Encoded(b) => b.len(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            ListItem::Spliced { kv, at, .. } => splice(out, &kv.value, *at, kv.mod_revision),
            ListItem::Encoded(b) => out.extend_from_slice(b),
        }
    }
}

const RV_FIELD: &[u8] = b"\"resourceVersion\":\"";

/// Appends `"resourceVersion":"<rev>"`.
fn push_revision(out: &mut Vec<u8>, rev: i64) {
    out.extend_from_slice(RV_FIELD);
    out.extend_from_slice(itoa::Buffer::new().format(rev).as_bytes());
    out.push(b'"');
}

/// Writes stored bytes with `"resourceVersion":"<rv>"` inserted at `at`.
fn splice(out: &mut Vec<u8>, value: &[u8], at: usize, rv: i64) {
    out.extend_from_slice(&value[..at]);
    push_revision(out, rv);
    if value.get(at) != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(&value[at..]);
}

/// A LIST response body in JSON, produced in chunks of about
/// [`JsonList::CHUNK`] bytes as it is sent: the stored bytes are held by
/// reference (shared with the watch cache) and read once, when they are
/// copied into the chunk being written, so a large list never exists as
/// one buffer and its first bytes leave before its last items are looked
/// at. Its length is therefore known only at the end.
pub struct JsonList {
    head: Option<Vec<u8>>,
    items: std::vec::IntoIter<Arc<KeyValue>>,
    /// An item made ready that did not fit the chunk before.
    carried: Option<ListItem>,
    first: bool,
    done: bool,
}

impl JsonList {
    pub const CHUNK: usize = 64 * 1024;

    fn new(head: Vec<u8>, items: Vec<Arc<KeyValue>>) -> JsonList {
        JsonList {
            head: Some(head),
            items: items.into_iter(),
            carried: None,
            first: true,
            done: false,
        }
    }

    /// The whole body as one buffer.
    pub fn into_vec(self) -> Result<Vec<u8>, StatusError> {
        let mut out = Vec::new();
        for chunk in self {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn next_item(&mut self) -> Option<Result<ListItem, StatusError>> {
        match self.carried.take() {
            Some(item) => Some(Ok(item)),
            None => self.items.next().map(ListItem::new),
        }
    }
}

/// Chunks of the body; an item whose stored bytes cannot be read is an
/// error, after which nothing more is produced.
impl Iterator for JsonList {
    type Item = Result<bytes::Bytes, StatusError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut out = self.head.take().unwrap_or_default();
        out.reserve(Self::CHUNK);
        touch(self.items.as_slice());
        loop {
            let item = match self.next_item() {
                Some(Ok(item)) => item,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    out.extend_from_slice(b"]}");
                    self.done = true;
                    break;
                }
            };
            // An item that does not fit starts the next chunk; one larger
            // than a chunk gets a chunk of its own.
            if !out.is_empty() && out.len() + item.len() + 3 > out.capacity() {
                self.carried = Some(item);
                break;
            }
            if !self.first {
                out.push(b',');
            }
            self.first = false;
            out.reserve(item.len() + 3);
            item.write(&mut out);
        }
        Some(Ok(out.into()))
    }
}

/// Reads the first byte of the values a chunk is about to copy. The reads
/// do not depend on one another, so the processor overlaps their cache
/// misses (a list's values are scattered over the heap and cold), where
/// the copy itself would wait for each in turn.
fn touch(items: &[Arc<KeyValue>]) {
    let ahead = items.len().min(JsonList::CHUNK / 512);
    let mut seen = 0u8;
    for kv in &items[..ahead] {
        seen ^= kv.value.first().copied().unwrap_or(0);
    }
    std::hint::black_box(seen);
}

/// Appends stored JSON bytes with `resourceVersion` spliced in; false (and
/// nothing written) when the bytes do not have the layout that allows it.
pub(crate) fn splice_revision(out: &mut Vec<u8>, value: &[u8], rev: i64) -> bool {
    match kaiser_apimachinery::meta::metadata_body_offset(value) {
        Some(at) => {
            splice(out, value, at, rev);
            true
        }
        None => false,
    }
}

/// Appends stored JSON bytes with `resourceVersion` added as the last field
/// of the metadata, where decoding and stamping the revision puts it (so
/// that text made from the bytes is the decoded object's); false (and
/// nothing written) for bytes of another layout.
pub fn splice_revision_last(out: &mut Vec<u8>, value: &[u8], rev: i64) -> bool {
    let Some(spans) = meta::metadata_spans(value) else {
        return false;
    };
    let end = spans.body.end;
    out.extend_from_slice(&value[..end]);
    if !value[spans.body].iter().all(u8::is_ascii_whitespace) {
        out.push(b',');
    }
    push_revision(out, rev);
    out.extend_from_slice(&value[end..]);
    true
}

/// Appends a stored object as a compact `PartialObjectMetadata`: its stored
/// metadata (`spans` of `value`, see `meta::metadata_spans`) with
/// `resourceVersion` added, nothing decoded.
pub fn write_partial_metadata(
    out: &mut Vec<u8>,
    value: &[u8],
    spans: &meta::MetadataSpans,
    rev: i64,
) {
    out.extend_from_slice(
        br#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"#,
    );
    push_revision(out, rev);
    let body = &value[spans.body.clone()];
    if !body.iter().all(u8::is_ascii_whitespace) {
        out.push(b',');
        out.extend_from_slice(body);
    }
    out.extend_from_slice(b"}}");
}

fn write_with_resource_version(out: &mut Vec<u8>, kv: &KeyValue) -> Result<(), StatusError> {
    if splice_revision(out, &kv.value, kv.mod_revision) {
        return Ok(());
    }
    codec::write_json(out, &decode_kv(kv)?);
    Ok(())
}

/// Decodes stored bytes and stamps the revision as `resourceVersion`.
pub fn decode_kv(kv: &KeyValue) -> Result<Value, StatusError> {
    let mut obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| StatusError::internal(format!("stored object {} is corrupt: {e}", kv.key)))?;
    meta::set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

fn same_ignoring_rv(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        v
    };
    strip(a) == strip(b)
}

/// `generateName` plus five random characters from upstream's alphabet; a
/// base longer than 58 bytes is cut to 58 (at a character boundary, so a
/// name validation will refuse is still made without a panic).
pub(crate) fn random_name(base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut cut = base.len().min(58);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    let r = kaiser_apimachinery::uid::new_v4();
    let suffix: String = r.as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{}{suffix}", &base[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_keep_the_prefix() {
        let n = random_name("web-");
        assert!(n.starts_with("web-") && n.len() == 9, "{n}");
        assert_ne!(random_name("a-"), random_name("a-"));
        // Cut at 58 bytes, never inside a character.
        let long = format!("a{}", "é".repeat(40));
        let n = random_name(&long);
        assert!(n.starts_with(&long[..57]) && n.len() == 57 + 5, "{n}");
    }
}
