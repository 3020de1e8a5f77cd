//! Auto-registration, as upstream's autoregister and CRD registration
//! controllers: a local APIService (no `spec.service`) for every built-in
//! group version the chain serves, labelled
//! `kube-aggregator.kubernetes.io/automanaged: onstart` and reconciled once
//! per start, and one for every group version a CRD serves, labelled
//! `true`, reconciled continuously and deleted when no CRD serves it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::list::ListOptions;
use kaiser_registry::{DeleteOptions, Store};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::apiservice::{
    AUTOMANAGED_LABEL, ApiService, CRD_GROUP_PRIORITY, CRD_VERSION_PRIORITY, GROUP,
    builtin_priority,
};
use crate::informer::{self, Cache, Change, Queue};

const ON_START: &str = "onstart";
const ALWAYS: &str = "true";

/// An APIService auto-registration wants.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub group: String,
    pub version: String,
    pub group_priority: i64,
    pub version_priority: i64,
    /// `true` for CRD group versions (kept in sync), `false` for built-ins
    /// (synced once per start).
    pub always: bool,
}

impl Desired {
    pub fn name(&self) -> String {
        format!("{}.{}", self.version, self.group)
    }

    fn spec(&self) -> Value {
        let mut spec = json!({"service": null});
        if !self.group.is_empty() {
            spec["group"] = json!(self.group);
        }
        spec["version"] = json!(self.version);
        spec["groupPriorityMinimum"] = json!(self.group_priority);
        spec["versionPriority"] = json!(self.version_priority);
        spec
    }

    /// The APIService object to create.
    pub fn object(&self) -> Value {
        let label = if self.always { ALWAYS } else { ON_START };
        json!({
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": self.name(), "labels": {AUTOMANAGED_LABEL: label}},
            "spec": self.spec(),
        })
    }

    /// Whether `s` already has this spec.
    fn matches(&self, s: &ApiService) -> bool {
        s.service.is_none()
            && s.ca_bundle.is_none()
            && !s.insecure_skip_tls_verify
            && s.group == self.group
            && s.version == self.version
            && s.group_priority_minimum == self.group_priority
            && s.version_priority == self.version_priority
    }
}

/// The built-in APIServices for the group versions served at start (those
/// upstream has priorities for; the aggregator's own group is not one).
pub fn builtin(group_versions: &[(String, String)]) -> Vec<Desired> {
    let mut out: Vec<Desired> = Vec::new();
    for (g, v) in group_versions {
        if g == GROUP || out.iter().any(|d| &d.group == g && &d.version == v) {
            continue;
        }
        let Some((gp, vp)) = builtin_priority(g, v) else {
            continue;
        };
        out.push(Desired {
            group: g.clone(),
            version: v.clone(),
            group_priority: gp,
            version_priority: vp,
            always: false,
        });
    }
    out
}

/// The group versions a CRD serves.
pub fn crd_group_versions(crd: &Value) -> Vec<Desired> {
    let group = crd["spec"]["group"].as_str().unwrap_or("");
    crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool() == Some(true))
        .filter_map(|v| v["name"].as_str())
        .map(|v| Desired {
            group: group.to_string(),
            version: v.to_string(),
            group_priority: CRD_GROUP_PRIORITY,
            version_priority: CRD_VERSION_PRIORITY,
            always: true,
        })
        .collect()
}

fn automanaged(obj: &Value) -> Option<&str> {
    obj["metadata"]["labels"][AUTOMANAGED_LABEL].as_str()
}

/// What to do with one APIService name.
#[derive(Debug, PartialEq)]
pub enum Action {
    Nothing,
    Create,
    Update,
    Delete,
}

/// Upstream's decision table for one name: what is wanted, what exists,
/// whether it was synced since start and whether it existed at start.
pub fn decide(
    desired: Option<&Desired>,
    current: Option<&Value>,
    synced: bool,
    existed_at_start: bool,
) -> Action {
    if desired.is_some_and(|d| !d.always) && synced {
        return Action::Nothing;
    }
    let Some(curr) = current else {
        return if desired.is_some() {
            Action::Create
        } else {
            Action::Nothing
        };
    };
    match automanaged(curr) {
        Some(ON_START) if !existed_at_start || synced => return Action::Nothing,
        Some(ON_START | ALWAYS) => {}
        _ => return Action::Nothing,
    }
    match desired {
        None => Action::Delete,
        Some(d) if d.matches(&ApiService::from_json(curr)) => Action::Nothing,
        Some(_) => Action::Update,
    }
}

/// The auto-registration controller.
pub struct AutoRegister {
    api_services: Arc<Store>,
    crds: Arc<Store>,
    builtin: BTreeMap<String, Desired>,
    crd_desired: Mutex<BTreeMap<String, Desired>>,
    synced: Mutex<BTreeSet<String>>,
    at_start: Mutex<BTreeSet<String>>,
    pub queue: Arc<Queue>,
}

fn none(_: &Value, _: Option<&Value>) -> Result<(), StatusError> {
    Ok(())
}

impl AutoRegister {
    pub fn new(api_services: Arc<Store>, crds: Arc<Store>, builtin: Vec<Desired>) -> AutoRegister {
        AutoRegister {
            api_services,
            crds,
            builtin: builtin.into_iter().map(|d| (d.name(), d)).collect(),
            crd_desired: Mutex::default(),
            synced: Mutex::default(),
            at_start: Mutex::default(),
            queue: Arc::default(),
        }
    }

    fn desired(&self, name: &str) -> Option<Desired> {
        let crd = self
            .crd_desired
            .lock()
            .ok()
            .and_then(|m| m.get(name).cloned());
        crd.or_else(|| self.builtin.get(name).cloned())
    }

    /// Replaces the CRD part of the desired set from all CRDs; queues the
    /// names that changed.
    fn set_crds(&self, crds: &BTreeMap<String, Value>) {
        let mut next = BTreeMap::new();
        for crd in crds.values() {
            for d in crd_group_versions(crd) {
                next.insert(d.name(), d);
            }
        }
        let Ok(mut cur) = self.crd_desired.lock() else {
            return;
        };
        let changed: Vec<String> = cur
            .keys()
            .chain(next.keys())
            .filter(|k| cur.get(*k) != next.get(*k))
            .cloned()
            .collect();
        *cur = next;
        drop(cur);
        for n in changed {
            self.queue.add(&n);
        }
    }

    async fn sync(&self, name: &str) -> Result<(), StatusError> {
        let desired = self.desired(name);
        let current = match self.api_services.get("", name).await {
            Ok(o) => Some(o),
            Err(e) if e.code == 404 => None,
            Err(e) => return Err(e),
        };
        let synced = self.synced.lock().is_ok_and(|s| s.contains(name));
        let at_start = self.at_start.lock().is_ok_and(|s| s.contains(name));
        let action = decide(desired.as_ref(), current.as_ref(), synced, at_start);
        match (&action, &desired) {
            (Action::Create, Some(d)) => {
                match self.api_services.create(d.object(), &none, false).await {
                    Err(e) if e.reason != "AlreadyExists" => return Err(e),
                    _ => {}
                }
            }
            (Action::Update, Some(d)) => {
                let spec = d.spec();
                let apply = |old: Option<&Value>| {
                    let mut o = old.cloned().unwrap_or(Value::Null);
                    o["spec"] = spec.clone();
                    Ok(o)
                };
                self.api_services
                    .update("", name, &apply, &none, false)
                    .await?;
            }
            (Action::Delete, _) => {
                match self
                    .api_services
                    .delete("", name, &DeleteOptions::default(), &none)
                    .await
                {
                    Err(e) if e.code != 404 => return Err(e),
                    _ => {}
                }
            }
            _ => {}
        }
        if let Ok(mut s) = self.synced.lock() {
            s.insert(name.to_string());
        }
        Ok(())
    }

    /// Runs until `shutdown`: takes the CRDs and APIServices present now,
    /// then reconciles every name that changes.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let Ok(all) = ListOptions::from_query([]) else {
            return;
        };
        if let Ok(list) = self.crds.list("", &all).await {
            let mut cache = Cache::default();
            cache.apply(&Change::Listed(
                list["items"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            ));
            self.set_crds(&cache.objects);
        }
        if let Ok(list) = self.api_services.list("", &all).await
            && let Ok(mut at_start) = self.at_start.lock()
        {
            for o in list["items"].as_array().into_iter().flatten() {
                let name = kaiser_apimachinery::meta::name(o).to_string();
                self.queue.add(&name);
                at_start.insert(name);
            }
        }
        for name in self.builtin.keys() {
            self.queue.add(name);
        }
        let me = self.clone();
        let mut cache = Cache::default();
        tokio::spawn(informer::list_watch(
            self.crds.clone(),
            move |c| {
                cache.apply(&c);
                me.set_crds(&cache.objects);
            },
            shutdown.clone(),
        ));
        let me = &self;
        let sync = move |name: String| async move { me.sync(&name).await };
        let failed = |name: &str, e: StatusError| tracing::warn!(apiservice = %name, error = %e.message, "auto-registration failed; retrying");
        self.queue.work(shutdown, sync, failed).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gv(g: &str, v: &str) -> (String, String) {
        (g.to_string(), v.to_string())
    }

    #[test]
    fn built_ins_use_upstream_priorities() {
        let d = builtin(&[
            gv("", "v1"),
            gv("apps", "v1"),
            gv("apps", "v1"),
            gv(GROUP, "v1"),
            gv("autoscaling", "v2"),
            gv("unknown.example.com", "v1"),
        ]);
        let names: Vec<String> = d.iter().map(Desired::name).collect();
        assert_eq!(names, ["v1.", "v1.apps", "v2.autoscaling"]);
        let core = d[0].object();
        assert_eq!(core["metadata"]["labels"][AUTOMANAGED_LABEL], "onstart");
        assert_eq!(
            core["spec"],
            json!({"service": null, "version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1})
        );
        assert_eq!(d[2].object()["spec"]["versionPriority"], 30);
    }

    #[test]
    fn crds_register_their_served_versions() {
        let crd = json!({"spec": {"group": "stable.example.com", "versions": [
            {"name": "v1", "served": true}, {"name": "v1beta1", "served": false}]}});
        let d = crd_group_versions(&crd);
        assert_eq!(d.len(), 1);
        let o = d[0].object();
        assert_eq!(o["metadata"]["name"], "v1.stable.example.com");
        assert_eq!(o["metadata"]["labels"][AUTOMANAGED_LABEL], "true");
        assert_eq!(o["spec"]["groupPriorityMinimum"], 1000);
        assert_eq!(o["spec"]["versionPriority"], 100);
    }

    #[test]
    fn the_decision_table_is_upstreams() {
        let onstart = builtin(&[gv("apps", "v1")]).remove(0);
        let always = crd_group_versions(
            &json!({"spec": {"group": "x.io", "versions": [{"name": "v1", "served": true}]}}),
        )
        .remove(0);
        let obj = |d: &Desired| d.object();
        let mut changed = always.object();
        changed["spec"]["versionPriority"] = json!(5);
        let unmanaged = json!({"metadata": {"name": "v1.x.io"}, "spec": {"group": "x.io"}});
        // Not found: create what is wanted.
        assert_eq!(decide(Some(&always), None, false, false), Action::Create);
        assert_eq!(decide(Some(&onstart), None, false, false), Action::Create);
        assert_eq!(decide(None, None, false, false), Action::Nothing);
        // Built-ins sync once per start.
        assert_eq!(decide(Some(&onstart), None, true, false), Action::Nothing);
        // Objects nobody manages are left alone.
        assert_eq!(decide(None, Some(&unmanaged), false, true), Action::Nothing);
        assert_eq!(
            decide(Some(&always), Some(&unmanaged), false, true),
            Action::Nothing
        );
        // A CRD version gone: its APIService goes.
        assert_eq!(
            decide(None, Some(&obj(&always)), true, true),
            Action::Delete
        );
        // An onstart object deleted once when no longer wanted, if it existed at start.
        assert_eq!(
            decide(None, Some(&obj(&onstart)), false, true),
            Action::Delete
        );
        assert_eq!(
            decide(None, Some(&obj(&onstart)), false, false),
            Action::Nothing
        );
        // Specs are put back.
        assert_eq!(
            decide(Some(&always), Some(&changed), true, true),
            Action::Update
        );
        assert_eq!(
            decide(Some(&always), Some(&obj(&always)), true, true),
            Action::Nothing
        );
    }
}
