//! The ClusterRole aggregation controller (kube-controller-manager's
//! `clusterrole-aggregation`, in-process): a ClusterRole with an
//! `aggregationRule` gets as rules the union of the rules of every other
//! ClusterRole its selectors match, kept current as ClusterRoles change.

use std::sync::Arc;

use kaiser_apimachinery::{StatusError, labels, meta};
use kaiser_registry::Store;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::mirror::{self, Snapshot};
use crate::no_admission;

/// The rules `role` aggregates from `all` (the ClusterRoles), in
/// upstream's order: selectors in order, matching roles by name, each
/// distinct rule once. `None` when the role has no aggregation rule.
pub fn aggregated_rules(role: &Value, all: &[Value]) -> Option<Vec<Value>> {
    let selectors = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)?;
    let mut sorted: Vec<&Value> = all.iter().collect();
    sorted.sort_by_key(|r| meta::name(r));
    let mut rules: Vec<Value> = Vec::new();
    for sel in selectors {
        let Ok(selector) = labels::from_label_selector(Some(sel)) else {
            continue;
        };
        for other in &sorted {
            if meta::name(other) == meta::name(role) || !selector.matches(meta::labels(other)) {
                continue;
            }
            for r in other
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !rules.contains(r) {
                    rules.push(r.clone());
                }
            }
        }
    }
    Some(rules)
}

/// Writes the aggregated rules of every aggregating ClusterRole whose
/// rules differ from what its selectors now match.
async fn sync(store: &Store, snapshot: &Snapshot) {
    let all = mirror::values(snapshot, 0);
    for role in &all {
        let Some(want) = aggregated_rules(role, &all) else {
            continue;
        };
        let have = role.get("rules").cloned().unwrap_or(Value::Null);
        if have == json!(want) || (want.is_empty() && have.is_null()) {
            continue;
        }
        let name = meta::name(role).to_string();
        let apply = |old: Option<&Value>| {
            let mut r = old
                .cloned()
                .ok_or_else(|| StatusError::not_found(&store.info.group_resource(), &name))?;
            r["rules"] = json!(want);
            Ok(r)
        };
        match store.update("", &name, &apply, &no_admission, false).await {
            Ok(_) => tracing::debug!(role = %name, "aggregated the rules of a ClusterRole"),
            Err(e) if e.code == 404 || e.code == 409 => {}
            Err(e) => {
                tracing::warn!(role = %name, error = %e, "cannot aggregate the rules of a ClusterRole")
            }
        }
    }
}

/// Runs until `shutdown`: every change of the ClusterRoles (mirrored in
/// `rx`) re-aggregates.
pub async fn run(
    store: Arc<Store>,
    mut rx: watch::Receiver<Option<Snapshot>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let snap = rx.borrow_and_update().clone();
        if let Some(s) = snap {
            sync(&store, &s).await;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_matching_roles() {
        let view = json!({"metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "view"}}]}});
        let a = json!({"metadata": {"name": "b-role", "labels": {"agg": "view"}},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]});
        let b = json!({"metadata": {"name": "a-role", "labels": {"agg": "view"}},
            "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
                      {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]});
        let other = json!({"metadata": {"name": "c", "labels": {"agg": "edit"}},
            "rules": [{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]}]});
        let all = [view.clone(), a, b, other];
        let rules = aggregated_rules(&view, &all).expect("aggregating");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0]["verbs"][0], "list", "sorted by role name");
        assert_eq!(aggregated_rules(&all[3], &all), None);
        // An empty selector matches every other role.
        let everything =
            json!({"metadata": {"name": "all"}, "aggregationRule": {"clusterRoleSelectors": [{}]}});
        assert_eq!(
            aggregated_rules(&everything, &all).map(|r| r.len()),
            Some(3)
        );
    }
}
