//! rbac.authorization.k8s.io/v1 roles and bindings (upstream's
//! `pkg/apis/rbac/validation`).

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::is_valid_path_segment_name;
use serde_json::Value;

use super::{
    arr, at, child, dns_subdomain, gofmt, idx, invalid_raw, present, push_msgs, selector, str_of,
};

const GROUP: &str = "rbac.authorization.k8s.io";

fn policy_rule(errs: &mut ErrorList, rule: &Value, namespaced: bool, path: &str) {
    if arr(rule, "verbs").is_empty() {
        errs.push(FieldError::required(
            &child(path, "verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = arr(rule, "nonResourceURLs");
    if !urls.is_empty() {
        let urls_go = gofmt::string_slice("string", at(rule, "nonResourceURLs"));
        if namespaced {
            errs.push(invalid_raw(
                &child(path, "nonResourceURLs"),
                urls_go.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !arr(rule, "apiGroups").is_empty()
            || !arr(rule, "resources").is_empty()
            || !arr(rule, "resourceNames").is_empty()
        {
            errs.push(invalid_raw(
                &child(path, "nonResourceURLs"),
                urls_go,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return;
    }
    if arr(rule, "apiGroups").is_empty() {
        errs.push(FieldError::required(
            &child(path, "apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if arr(rule, "resources").is_empty() {
        errs.push(FieldError::required(
            &child(path, "resources"),
            "resource rules must supply at least one resource",
        ));
    }
}

/// `ValidateRole` / `ValidateClusterRole` (rules and aggregation).
pub fn validate_role(role: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let namespaced = str_of(role, "kind") == "Role";
    for (i, r) in arr(role, "rules").iter().enumerate() {
        policy_rule(&mut errs, r, namespaced, &idx("rules", i));
    }
    let agg = at(role, "aggregationRule");
    if !namespaced && present(agg) {
        let sp = "aggregationRule.clusterRoleSelectors";
        let sels = arr(agg, "clusterRoleSelectors");
        if sels.is_empty() {
            errs.push(FieldError::required(
                sp,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, s) in sels.iter().enumerate() {
            let p = idx(sp, i);
            errs.extend(selector::validate(s, false, &p));
            if selector::as_selector(s).is_none() {
                errs.push(invalid_raw(
                    &p,
                    gofmt::label_selector(s),
                    "invalid label selector.",
                ));
            }
        }
    }
    errs
}

fn role_ref(errs: &mut ErrorList, binding: &Value, kinds: &[&str]) {
    let r = at(binding, "roleRef");
    let group = str_of(r, "apiGroup");
    if group != GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            group,
            &[GROUP],
        ));
    }
    let kind = str_of(r, "kind");
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported("roleRef.kind", kind, kinds));
    }
    let name = str_of(r, "name");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        push_msgs(errs, "roleRef.name", name, is_valid_path_segment_name(name));
    }
}

fn subject(errs: &mut ErrorList, s: &Value, namespaced: bool, path: &str) {
    let name = str_of(s, "name");
    let group = str_of(s, "apiGroup");
    if name.is_empty() {
        errs.push(FieldError::required(&child(path, "name"), ""));
    }
    match str_of(s, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                dns_subdomain(errs, name, &child(path, "name"));
            }
            if !group.is_empty() {
                errs.push(FieldError::not_supported(
                    &child(path, "apiGroup"),
                    group,
                    &[""],
                ));
            }
            if !namespaced && str_of(s, "namespace").is_empty() {
                errs.push(FieldError::required(&child(path, "namespace"), ""));
            }
        }
        k @ ("User" | "Group") => {
            if name.is_empty() {
                let what = if k == "User" { "user" } else { "group" };
                errs.push(FieldError::invalid(
                    &child(path, "name"),
                    name,
                    format!("{what} name cannot be empty"),
                ));
            }
            if group != GROUP {
                errs.push(FieldError::not_supported(
                    &child(path, "apiGroup"),
                    group,
                    &[GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &child(path, "kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
}

fn binding(b: &Value, namespaced: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    role_ref(&mut errs, b, kinds);
    for (i, s) in arr(b, "subjects").iter().enumerate() {
        subject(&mut errs, s, namespaced, &idx("subjects", i));
    }
    errs
}

/// `ValidateRoleBinding`.
pub fn validate_role_binding(b: &Value) -> ErrorList {
    binding(b, true)
}

/// `ValidateClusterRoleBinding`.
pub fn validate_cluster_role_binding(b: &Value) -> ErrorList {
    binding(b, false)
}

fn role_ref_immutable(errs: &mut ErrorList, new: &Value, old: &Value) {
    let (n, o) = (at(new, "roleRef"), at(old, "roleRef"));
    let same = ["apiGroup", "kind", "name"]
        .iter()
        .all(|f| str_of(n, f) == str_of(o, f));
    if !same {
        errs.push(invalid_raw(
            "roleRef",
            format!(
                "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
                gofmt::quote(str_of(n, "apiGroup")),
                gofmt::quote(str_of(n, "kind")),
                gofmt::quote(str_of(n, "name"))
            ),
            "cannot change roleRef",
        ));
    }
}

pub fn validate_role_binding_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = binding(new, true);
    role_ref_immutable(&mut errs, new, old);
    errs
}

pub fn validate_cluster_role_binding_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = binding(new, false);
    role_ref_immutable(&mut errs, new, old);
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::{assert_errs, assert_has};
    use serde_json::json;

    #[test]
    fn role_rules() {
        let role = json!({"kind": "Role", "rules": [
            {"apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            {"verbs": ["get"]}
        ]});
        assert_errs(
            &validate_role(&role),
            &[
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                "rules[2].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[2].resources: Required value: resource rules must supply at least one resource",
            ],
        );
        let cr = json!({"kind": "ClusterRole", "rules": [
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
        ]});
        assert!(validate_role(&cr).is_empty());
        let agg = json!({"kind": "ClusterRole", "aggregationRule": {"clusterRoleSelectors": []}});
        assert_errs(
            &validate_role(&agg),
            &[
                "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil",
            ],
        );
    }

    #[test]
    fn bindings() {
        let rb = json!({
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Secret", "name": ""},
            "subjects": [
                {"kind": "ServiceAccount", "name": "default", "apiGroup": "x"},
                {"kind": "User", "name": "", "apiGroup": "rbac.authorization.k8s.io"},
                {"kind": "Robot", "name": "r"}
            ]
        });
        assert_errs(
            &validate_role_binding(&rb),
            &[
                "roleRef.kind: Unsupported value: \"Secret\": supported values: \"Role\", \"ClusterRole\"",
                "roleRef.name: Required value",
                "subjects[0].apiGroup: Unsupported value: \"x\": supported values: \"\"",
                "subjects[1].name: Required value",
                "subjects[1].name: Invalid value: \"\": user name cannot be empty",
                "subjects[2].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
            ],
        );
        let crb = json!({
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}]
        });
        assert_errs(
            &validate_cluster_role_binding(&crb),
            &["subjects[0].namespace: Required value"],
        );
        let mut changed = crb.clone();
        changed["roleRef"]["name"] = json!("edit");
        assert_has(
            &validate_cluster_role_binding_update(&changed, &crb),
            "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef",
        );
    }
}
