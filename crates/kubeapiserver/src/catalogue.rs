//! The built-in resource catalogue: every storage-backed resource a 1.33
//! kube-apiserver serves by default in a GA version (beyond the core kinds
//! with hand-written strategies in `core`), as data: names, scope, verbs,
//! short names, categories, subresources, key prefix, the status a new
//! object starts with, what bumps `metadata.generation`, and the fields
//! a field selector may use. [`BuiltinStrategy`] turns one entry plus the
//! kind's defaulting, validation and printer into a registry strategy.

use std::sync::Arc;

use kaiser_apimachinery::field::ErrorList;
use kaiser_apimachinery::table::Column;
use kaiser_registry::strategy::{DEFAULT_COLUMNS, lookup_path};
use kaiser_registry::{ResourceInfo, Store, Strategy};
use kaiser_storage::Storage;
use serde_json::Value;

use crate::{defaults, printers, validation};

/// One served resource, as data.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub group: &'static str,
    pub version: &'static str,
    pub resource: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// `status`, `scale` …: each gets its own strategy over the same objects.
    pub subresources: &'static [&'static str],
    /// The key segment under the storage root (upstream's etcd layout).
    pub storage: &'static str,
    /// The status every new object starts with, as JSON; `None` keeps what
    /// the client sent (nodes, whose kubelet reports status on create).
    pub initial_status: Option<&'static str>,
    /// The top-level field whose changes bump `metadata.generation`.
    pub generation: Option<&'static str>,
    /// Field-selector fields beyond `metadata.name`/`metadata.namespace`.
    pub selectable: &'static [&'static str],
    /// Where a `Scale` reads and writes the replica counts.
    pub scale: bool,
    /// `(since minor, replacement)` for a version upstream deprecated.
    pub deprecated: Option<(u32, &'static str)>,
}

const fn entry(
    group: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Entry {
    Entry {
        group,
        version: "v1",
        resource,
        kind,
        namespaced,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: resource,
        initial_status: None,
        generation: None,
        selectable: &[],
        scale: false,
        deprecated: None,
    }
}

impl Entry {
    const fn version(mut self, v: &'static str) -> Self {
        self.version = v;
        self
    }
    const fn short(mut self, s: &'static [&'static str]) -> Self {
        self.short_names = s;
        self
    }
    const fn all(mut self) -> Self {
        self.categories = &["all"];
        self
    }
    const fn api_extensions(mut self) -> Self {
        self.categories = &["api-extensions"];
        self
    }
    /// A `status` subresource; new objects start with `initial`.
    const fn status(mut self, initial: &'static str) -> Self {
        self.subresources = &["status"];
        self.initial_status = Some(initial);
        self
    }
    /// `status` and `scale` subresources.
    const fn scalable(mut self, initial: &'static str) -> Self {
        self.subresources = &["scale", "status"];
        self.initial_status = Some(initial);
        self.scale = true;
        self
    }
    /// Subresources served outside the store (`rest`), listed for discovery.
    const fn extra_subresources(mut self, subs: &'static [&'static str]) -> Self {
        self.subresources = subs;
        self
    }
    const fn generation(mut self, field: &'static str) -> Self {
        self.generation = Some(field);
        self
    }
    const fn storage(mut self, s: &'static str) -> Self {
        self.storage = s;
        self
    }
    const fn selectable(mut self, f: &'static [&'static str]) -> Self {
        self.selectable = f;
        self
    }
    const fn deprecated(mut self, since: u32, replacement: &'static str) -> Self {
        self.deprecated = Some((since, replacement));
        self
    }
}

const CORE: &str = "";
const APPS: &str = "apps";
const BATCH: &str = "batch";
const NET: &str = "networking.k8s.io";
const RBAC: &str = "rbac.authorization.k8s.io";
const STORAGE: &str = "storage.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const FLOW: &str = "flowcontrol.apiserver.k8s.io";

/// The storage-backed built-in resources besides namespaces, configmaps,
/// secrets, serviceaccounts and core events (those live in `core`).
pub const ENTRIES: &[Entry] = &[
    // core/v1
    entry(CORE, "endpoints", "Endpoints", true)
        .short(&["ep"])
        .storage("services/endpoints")
        .deprecated(33, "discovery.k8s.io/v1 EndpointSlice"),
    entry(CORE, "limitranges", "LimitRange", true).short(&["limits"]),
    entry(CORE, "nodes", "Node", false)
        .short(&["no"])
        .storage("minions")
        .selectable(&["spec.unschedulable"])
        .with_status_kept(),
    entry(CORE, "persistentvolumeclaims", "PersistentVolumeClaim", true)
        .short(&["pvc"])
        .status(r#"{"phase":"Pending"}"#),
    entry(CORE, "persistentvolumes", "PersistentVolume", false)
        .short(&["pv"])
        .status(r#"{"phase":"Pending"}"#),
    entry(CORE, "pods", "Pod", true)
        .short(&["po"])
        .all()
        .status(r#"{"phase":"Pending"}"#)
        .extra_subresources(&["binding", "ephemeralcontainers", "eviction", "resize", "status"])
        .selectable(&[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]),
    entry(CORE, "podtemplates", "PodTemplate", true),
    entry(CORE, "replicationcontrollers", "ReplicationController", true)
        .short(&["rc"])
        .all()
        .storage("controllers")
        .scalable(r#"{"replicas":0}"#)
        .generation("spec")
        .selectable(&["status.replicas"]),
    entry(CORE, "resourcequotas", "ResourceQuota", true)
        .short(&["quota"])
        .storage("resourcequotas")
        .status("{}"),
    entry(CORE, "services", "Service", true)
        .short(&["svc"])
        .all()
        .storage("services/specs")
        .status(r#"{"loadBalancer":{}}"#)
        .selectable(&["spec.clusterIP", "spec.type"]),
    // admissionregistration.k8s.io/v1
    entry(ADMISSION, "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false)
        .api_extensions()
        .generation("webhooks"),
    entry(ADMISSION, "validatingadmissionpolicies", "ValidatingAdmissionPolicy", false)
        .api_extensions()
        .status("{}")
        .generation("spec"),
    entry(ADMISSION, "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", false)
        .api_extensions()
        .generation("spec"),
    entry(ADMISSION, "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false)
        .api_extensions()
        .generation("webhooks"),
    // apiregistration.k8s.io/v1
    entry("apiregistration.k8s.io", "apiservices", "APIService", false)
        .storage("apiregistration.k8s.io/apiservices")
        .api_extensions()
        .status("{}"),
    // apps/v1
    entry(APPS, "controllerrevisions", "ControllerRevision", true),
    entry(APPS, "daemonsets", "DaemonSet", true)
        .short(&["ds"])
        .all()
        .status(r#"{"currentNumberScheduled":0,"numberMisscheduled":0,"desiredNumberScheduled":0,"numberReady":0}"#)
        .generation("spec"),
    entry(APPS, "deployments", "Deployment", true)
        .short(&["deploy"])
        .all()
        .scalable("{}")
        .generation("spec"),
    entry(APPS, "replicasets", "ReplicaSet", true)
        .short(&["rs"])
        .all()
        .scalable(r#"{"replicas":0}"#)
        .generation("spec")
        .selectable(&["status.replicas"]),
    entry(APPS, "statefulsets", "StatefulSet", true)
        .short(&["sts"])
        .all()
        .scalable(r#"{"replicas":0,"availableReplicas":0}"#)
        .generation("spec"),
    // autoscaling/v2
    entry("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true)
        .version("v2")
        .short(&["hpa"])
        .all()
        .status(r#"{"desiredReplicas":0}"#),
    // batch/v1
    entry(BATCH, "cronjobs", "CronJob", true)
        .short(&["cj"])
        .all()
        .status("{}")
        .generation("spec"),
    entry(BATCH, "jobs", "Job", true)
        .all()
        .status("{}")
        .generation("spec")
        .selectable(&["status.successful"]),
    // certificates.k8s.io/v1
    entry("certificates.k8s.io", "certificatesigningrequests", "CertificateSigningRequest", false)
        .short(&["csr"])
        .status("{}")
        .extra_subresources(&["approval", "status"])
        .selectable(&["spec.signerName"]),
    // coordination.k8s.io/v1
    entry("coordination.k8s.io", "leases", "Lease", true),
    // discovery.k8s.io/v1
    entry("discovery.k8s.io", "endpointslices", "EndpointSlice", true),
    // flowcontrol.apiserver.k8s.io/v1
    entry(FLOW, "flowschemas", "FlowSchema", false)
        .status("{}")
        .generation("spec"),
    entry(FLOW, "prioritylevelconfigurations", "PriorityLevelConfiguration", false)
        .status("{}")
        .generation("spec"),
    // networking.k8s.io/v1
    entry(NET, "ingressclasses", "IngressClass", false),
    entry(NET, "ingresses", "Ingress", true)
        .short(&["ing"])
        .storage("ingress")
        .status(r#"{"loadBalancer":{}}"#)
        .generation("spec"),
    entry(NET, "ipaddresses", "IPAddress", false).short(&["ip"]),
    entry(NET, "networkpolicies", "NetworkPolicy", true)
        .short(&["netpol"])
        .generation("spec"),
    entry(NET, "servicecidrs", "ServiceCIDR", false).status("{}"),
    // node.k8s.io/v1
    entry("node.k8s.io", "runtimeclasses", "RuntimeClass", false),
    // policy/v1
    entry("policy", "poddisruptionbudgets", "PodDisruptionBudget", true)
        .short(&["pdb"])
        .status(r#"{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}"#)
        .generation("spec"),
    // rbac.authorization.k8s.io/v1
    entry(RBAC, "clusterrolebindings", "ClusterRoleBinding", false),
    entry(RBAC, "clusterroles", "ClusterRole", false),
    entry(RBAC, "rolebindings", "RoleBinding", true),
    entry(RBAC, "roles", "Role", true),
    // scheduling.k8s.io/v1
    entry("scheduling.k8s.io", "priorityclasses", "PriorityClass", false).short(&["pc"]),
    // storage.k8s.io/v1
    entry(STORAGE, "csidrivers", "CSIDriver", false),
    entry(STORAGE, "csinodes", "CSINode", false),
    entry(STORAGE, "csistoragecapacities", "CSIStorageCapacity", true),
    entry(STORAGE, "storageclasses", "StorageClass", false).short(&["sc"]),
    entry(STORAGE, "volumeattachments", "VolumeAttachment", false).status(r#"{"attached":false}"#),
];

/// A version served over another entry's stored objects.
pub struct Converted {
    /// What discovery shows (scope, names, subresources as the stored entry).
    pub group: &'static str,
    pub version: &'static str,
    pub resource: &'static str,
    /// The stored entry: group and resource.
    pub stored: (&'static str, &'static str),
    pub conversion: kaiser_registry::Conversion,
}

/// `autoscaling/v1` HPAs and `events.k8s.io/v1` Events.
pub const CONVERTED: &[Converted] = &[
    Converted {
        group: "autoscaling",
        version: "v1",
        resource: "horizontalpodautoscalers",
        stored: ("autoscaling", "horizontalpodautoscalers"),
        conversion: crate::conversion::HPA_V1,
    },
    Converted {
        group: "events.k8s.io",
        version: "v1",
        resource: "events",
        stored: ("", "events"),
        conversion: crate::conversion::EVENTS_V1,
    },
];

impl Entry {
    /// A `status` subresource whose writes through the main resource are
    /// kept on create (nodes report their own status when they register).
    const fn with_status_kept(mut self) -> Self {
        self.subresources = &["status"];
        self.initial_status = None;
        self
    }

    /// The entry as discovery and the registry see it.
    pub fn info(&self, root: &str) -> ResourceInfo {
        let mut info = ResourceInfo::new(
            self.group,
            self.version,
            self.resource,
            self.kind,
            self.namespaced,
        )
        .short_names(self.short_names)
        .categories(self.categories)
        .subresources(self.subresources);
        info.storage_prefix = format!("{}/{}/", root.trim_end_matches('/'), self.storage);
        if let Some((since, replacement)) = self.deprecated {
            info = info.deprecated(since, None, replacement);
        }
        info
    }

    /// The store of the entry, with its subresources.
    pub fn store(
        &self,
        root: &str,
        storage: &Arc<dyn Storage>,
        hooks: Option<Arc<dyn kaiser_registry::WriteHooks>>,
        caching: &crate::watch_cache::WatchCaching,
    ) -> Store {
        let strategy: Arc<dyn Strategy> = Arc::new(BuiltinStrategy::new(*self));
        let cached = caching.caches(self.group, self.resource);
        let mut store =
            Store::cached_if(self.info(root), strategy.clone(), storage.clone(), cached);
        if let Some(h) = hooks {
            store = store.with_hooks(h);
        }
        for sub in self.subresources {
            match *sub {
                "status" => {
                    let s = crate::status::BuiltinStatusStrategy::new(
                        strategy.clone(),
                        self.group,
                        self.kind,
                    );
                    store = store.with_subresource("status", Arc::new(s));
                }
                "approval" => {
                    let s = crate::status::CsrApprovalStrategy(strategy.clone());
                    store = store.with_subresource("approval", Arc::new(s));
                }
                "scale" => store = store.with_scale(kaiser_registry::scale::ScalePaths::builtin()),
                "ephemeralcontainers" | "resize" | "binding" => {
                    let part = match *sub {
                        "resize" => crate::pods::PodPart::Resize,
                        "binding" => crate::pods::PodPart::Binding,
                        _ => crate::pods::PodPart::EphemeralContainers,
                    };
                    let s = crate::pods::PodPartStrategy {
                        pod: strategy.clone(),
                        part,
                    };
                    store = store.with_subresource(sub, Arc::new(s));
                }
                _ => {}
            }
        }
        store
    }
}

/// The entry for a group and resource, if the catalogue has it.
pub fn find(group: &str, resource: &str) -> Option<&'static Entry> {
    ENTRIES
        .iter()
        .find(|e| e.group == group && e.resource == resource)
}

/// A registry strategy assembled from a catalogue entry and the kind's
/// defaulting, validation and printer.
pub struct BuiltinStrategy {
    entry: Entry,
    /// `entry.initial_status`, parsed once.
    initial_status: Option<Value>,
    default: Option<fn(&mut Value)>,
    validator: Option<validation::Validator>,
    printer: Option<printers::Printer>,
}

impl BuiltinStrategy {
    pub fn new(entry: Entry) -> Self {
        BuiltinStrategy {
            entry,
            initial_status: entry
                .initial_status
                .and_then(|s| serde_json::from_str(s).ok()),
            default: defaults::defaulter(entry.group, entry.version, entry.kind),
            validator: validation::validator(entry.group, entry.kind),
            printer: printers::printer(entry.group, entry.kind),
        }
    }
}

impl Strategy for BuiltinStrategy {
    /// RBAC objects and APIServices (`v1.`) are named like paths
    /// (`system:discovery`) and IPAddresses by their address, as upstream
    /// validates them; everything else is a DNS subdomain.
    fn name_validator(&self) -> kaiser_apimachinery::validation::NameValidator {
        match (self.entry.group, self.entry.kind) {
            ("rbac.authorization.k8s.io" | "apiregistration.k8s.io", _) => {
                kaiser_apimachinery::validation::name_is_path_segment
            }
            ("networking.k8s.io", "IPAddress") => validation::ipam::ip_address_name,
            _ => kaiser_apimachinery::validation::name_is_dns_subdomain,
        }
    }

    fn default(&self, obj: &mut Value) {
        if let Some(f) = self.default {
            f(obj);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if self.entry.kind == "Job" {
            let uid = kaiser_apimachinery::meta::uid(obj).to_string();
            defaults::job_generate_selector(obj, &uid);
        }
        let Some(status) = &self.initial_status else {
            return;
        };
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), status.clone());
        }
        if self.entry.kind == "Pod" {
            let qos = crate::pods::qos_class(obj);
            obj["status"]["qosClass"] = Value::from(qos);
        }
    }

    fn reset_fields(&self) -> kaiser_apimachinery::managedfields::ResetFields {
        if self.entry.subresources.contains(&"status") {
            kaiser_apimachinery::managedfields::ResetFields::Status
        } else {
            kaiser_apimachinery::managedfields::ResetFields::None
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // A CertificateSigningRequest's spec never changes after create.
        if self.entry.kind == "CertificateSigningRequest"
            && let Some(o) = new.as_object_mut()
        {
            match old.get("spec") {
                Some(s) => o.insert("spec".into(), s.clone()),
                None => o.remove("spec"),
            };
        }
        // With a status subresource, the main resource cannot change status.
        if self.entry.subresources.contains(&"status")
            && let Some(o) = new.as_object_mut()
        {
            match old.get("status") {
                Some(s) => o.insert("status".into(), s.clone()),
                None => o.remove("status"),
            };
        }
    }

    fn validate(&self, obj: &Value) -> ErrorList {
        self.validator
            .as_ref()
            .map_or_else(ErrorList::new, |v| (v.create)(obj))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        self.validator
            .as_ref()
            .map_or_else(ErrorList::new, |v| (v.update)(new, old))
    }

    fn tracks_generation(&self) -> bool {
        self.entry.generation.is_some()
    }

    fn return_deleted_object(&self) -> bool {
        // Upstream's pod and service registries answer DELETE with the object.
        matches!(
            (self.entry.group, self.entry.resource),
            ("", "pods" | "services")
        )
    }

    fn spec_changed(&self, new: &Value, old: &Value) -> bool {
        let field = self.entry.generation.unwrap_or("spec");
        new.get(field) != old.get(field)
    }

    fn extra_selectable_fields(&self) -> &[&'static str] {
        self.entry.selectable
    }

    fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(kaiser_apimachinery::meta::name(obj).to_string()),
            "metadata.namespace" => Some(kaiser_apimachinery::meta::namespace(obj).to_string()),
            // Unset booleans and counts select as their zero value.
            "spec.hostNetwork" | "spec.unschedulable" => {
                Some(lookup_path(obj, field).unwrap_or_else(|| "false".into()))
            }
            "status.replicas" | "status.successful" => {
                Some(lookup_path(obj, field).unwrap_or_else(|| "0".into()))
            }
            _ => Some(lookup_path(obj, field).unwrap_or_default()),
        }
    }

    fn table_columns(&self) -> &[Column] {
        self.printer.as_ref().map_or(DEFAULT_COLUMNS, |p| p.columns)
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        match &self.printer {
            Some(p) => (p.row)(obj),
            None => {
                let ts = kaiser_apimachinery::meta::str_field(obj, "creationTimestamp");
                vec![
                    Value::from(kaiser_apimachinery::meta::name(obj)),
                    Value::from(ts),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_unique_and_have_schemas() {
        let mut seen = std::collections::HashSet::new();
        for e in ENTRIES {
            assert!(seen.insert((e.group, e.resource)), "{} twice", e.resource);
            let def = e.info("/registry").definition_name();
            assert!(
                kaiser_apimachinery::schema::definition(&def).is_some(),
                "no schema for {def}"
            );
            if let Some(s) = e.initial_status {
                assert!(serde_json::from_str::<Value>(s).is_ok(), "{}", e.kind);
            }
        }
    }

    #[test]
    fn status_is_reset_on_create_and_kept_on_update() {
        let s = BuiltinStrategy::new(*find("apps", "deployments").expect("deployments"));
        let mut obj = serde_json::json!({"spec": {"replicas": 1}, "status": {"replicas": 9}});
        s.prepare_for_create(&mut obj);
        assert_eq!(obj["status"], serde_json::json!({}));
        let old = serde_json::json!({"spec": {"replicas": 1}, "status": {"replicas": 2}});
        let mut new = serde_json::json!({"spec": {"replicas": 3}, "status": {"replicas": 7}});
        s.prepare_for_update(&mut new, &old);
        assert_eq!(new["status"]["replicas"], 2);
        assert!(s.tracks_generation());
        assert!(s.spec_changed(&new, &old));
        let node = BuiltinStrategy::new(*find("", "nodes").expect("nodes"));
        let mut n = serde_json::json!({"status": {"capacity": {"cpu": "2"}}});
        node.prepare_for_create(&mut n);
        assert_eq!(n["status"]["capacity"]["cpu"], "2");
        assert_eq!(
            node.field_value(&n, "spec.unschedulable").as_deref(),
            Some("false")
        );
    }

    #[test]
    fn endpoints_warn_of_their_deprecation() {
        let info = find("", "endpoints").expect("endpoints").info("/registry");
        assert_eq!(
            info.deprecation.as_deref(),
            Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")
        );
        assert_eq!(info.storage_prefix, "/registry/services/endpoints/");
    }
}
