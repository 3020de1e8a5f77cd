//! The bootstrap RBAC policy: upstream's default ClusterRoles, Roles and
//! bindings, read from `rbac_policy.txt` (our own compact statement of
//! the 1.33 policy), and their reconciliation at every start as upstream
//! does it: missing rules, aggregation selectors, subjects, labels and
//! annotations are added; objects annotated
//! `rbac.authorization.kubernetes.io/autoupdate: "false"` are left alone;
//! a binding whose roleRef changed is recreated.

use serde_json::{Map, Value, json};

use kaiser_auth::rbac::{PolicyRule, covers};

const POLICY: &str = include_str!("rbac_policy.txt");
const API_VERSION: &str = "rbac.authorization.k8s.io/v1";
const GROUP: &str = "rbac.authorization.k8s.io";
pub const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";
const BOOTSTRAPPING: &str = "kubernetes.io/bootstrapping";

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({"name": name, "labels": {BOOTSTRAPPING: "rbac-defaults"},
        "annotations": {AUTOUPDATE: "true"}});
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| {
            if x == "\"\"" {
                String::new()
            } else {
                x.to_string()
            }
        })
        .collect()
}

/// `rule VERBS GROUPS RESOURCES [NAMES]` or `url VERBS PATHS`.
fn parse_rule(words: &[&str]) -> Option<Value> {
    let rule = match words {
        ["rule", verbs, groups, resources, rest @ ..] if rest.len() <= 1 => PolicyRule {
            verbs: list(verbs),
            api_groups: list(groups),
            resources: list(resources),
            resource_names: rest.first().map(|n| list(n)).unwrap_or_default(),
            non_resource_urls: Vec::new(),
        },
        ["url", verbs, paths] => PolicyRule {
            verbs: list(verbs),
            non_resource_urls: list(paths),
            ..Default::default()
        },
        _ => return None,
    };
    Some(rule.to_json())
}

fn subject(word: &str) -> Option<Value> {
    let (kind, name) = word.split_once(':')?;
    Some(match kind {
        "user" => json!({"apiGroup": GROUP, "kind": "User", "name": name}),
        "group" => json!({"apiGroup": GROUP, "kind": "Group", "name": name}),
        "sa" => {
            let (ns, n) = name.split_once('/')?;
            json!({"kind": "ServiceAccount", "name": n, "namespace": ns})
        }
        _ => return None,
    })
}

fn binding(
    kind: &str,
    meta: Value,
    role_kind: &str,
    role: &str,
    subjects: &[&str],
) -> Option<Value> {
    let subjects: Option<Vec<Value>> = subjects.iter().map(|s| subject(s)).collect();
    let mut b = json!({"apiVersion": API_VERSION, "kind": kind, "metadata": meta,
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role}});
    let subjects = subjects?;
    if !subjects.is_empty() {
        b["subjects"] = json!(subjects);
    }
    Some(b)
}

/// `clusterrole NAME [label=K=V]... [aggregate=K=V]...`
fn cluster_role(name: &str, options: &[&str]) -> Option<Value> {
    let mut role = json!({"apiVersion": API_VERSION, "kind": "ClusterRole",
        "metadata": metadata(name, None)});
    let mut selectors = Vec::new();
    for o in options {
        let (what, kv) = o.split_once('=')?;
        let (k, v) = kv.split_once('=')?;
        match what {
            "label" => role["metadata"]["labels"][k] = json!(v),
            "aggregate" => selectors.push(json!({"matchLabels": {k: v}})),
            _ => return None,
        }
    }
    if !selectors.is_empty() {
        role["aggregationRule"] = json!({"clusterRoleSelectors": selectors});
    }
    Some(role)
}

/// One object per header line, with the rules of the lines under it.
fn parse_header(words: &[&str]) -> Option<Vec<(&'static str, Value)>> {
    Some(match words {
        ["clusterrole", name, options @ ..] => vec![("clusterroles", cluster_role(name, options)?)],
        ["role", ns, name] => vec![(
            "roles",
            json!({"apiVersion": API_VERSION, "kind": "Role", "metadata": metadata(name, Some(ns))}),
        )],
        ["controller", name] => {
            let full = format!("system:controller:{name}");
            let role = cluster_role(&full, &[])?;
            let sa = format!("sa:kube-system/{name}");
            let b = binding(
                "ClusterRoleBinding",
                metadata(&full, None),
                "ClusterRole",
                &full,
                &[&sa],
            )?;
            vec![("clusterroles", role), ("clusterrolebindings", b)]
        }
        ["clusterrolebinding", name, role, subjects @ ..] => vec![(
            "clusterrolebindings",
            binding(
                "ClusterRoleBinding",
                metadata(name, None),
                "ClusterRole",
                role,
                subjects,
            )?,
        )],
        ["rolebinding", ns, name, role, subjects @ ..] => {
            let (kind, role) = role.split_once('/')?;
            vec![(
                "rolebindings",
                binding(
                    "RoleBinding",
                    metadata(name, Some(ns)),
                    kind,
                    role,
                    subjects,
                )?,
            )]
        }
        _ => return None,
    })
}

/// Parses the policy text: `(resource, object)` in file order, or the
/// number of the first line that does not parse.
pub fn parse(text: &str) -> Result<Vec<(&'static str, Value)>, usize> {
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    // Where the rules of the current role go (index into `out`).
    let mut current: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        if line.starts_with(' ') {
            let role = current.ok_or(i + 1)?;
            let rule = parse_rule(&words).ok_or(i + 1)?;
            let obj = &mut out[role].1;
            match obj.get_mut("rules").and_then(Value::as_array_mut) {
                Some(rules) => rules.push(rule),
                None => obj["rules"] = json!([rule]),
            }
            continue;
        }
        let objs = parse_header(&words).ok_or(i + 1)?;
        current = objs
            .iter()
            .position(|(r, _)| matches!(*r, "clusterroles" | "roles"))
            .map(|p| out.len() + p);
        out.extend(objs);
    }
    Ok(out)
}

/// Every bootstrap RBAC object, roles before the bindings that use them.
pub fn objects() -> Vec<(&'static str, Value)> {
    let mut objs = match parse(POLICY) {
        Ok(o) => o,
        Err(line) => {
            tracing::error!(line, "the bootstrap RBAC policy does not parse");
            Vec::new()
        }
    };
    objs.sort_by_key(|(r, _)| matches!(*r, "clusterrolebindings" | "rolebindings"));
    objs
}

/// The rules of the bootstrap `system:node` role: the Node authorizer's
/// static node rules.
pub fn node_rules() -> Vec<PolicyRule> {
    objects()
        .iter()
        .find(|(r, o)| {
            *r == "clusterroles" && o.pointer("/metadata/name") == Some(&json!("system:node"))
        })
        .map(|(_, o)| PolicyRule::list(o))
        .unwrap_or_default()
}

/// `expected` keys with `existing` values winning, as upstream merges
/// labels and annotations.
fn merged(expected: Option<&Value>, existing: Option<&Value>) -> Option<Value> {
    let mut out: Map<String, Value> = Map::new();
    for m in [expected, existing].into_iter().flatten() {
        if let Some(m) = m.as_object() {
            out.extend(m.clone());
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn protected(existing: &Value) -> bool {
    existing
        .pointer(&format!(
            "/metadata/annotations/{}",
            AUTOUPDATE.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        == Some("false")
}

fn merge_metadata(out: &mut Value, expected: &Value) {
    for f in ["labels", "annotations"] {
        let m = merged(
            expected.pointer(&format!("/metadata/{f}")),
            out.pointer(&format!("/metadata/{f}")),
        );
        if let (Some(m), Some(meta)) = (m, out.get_mut("metadata").and_then(Value::as_object_mut)) {
            meta.insert(f.into(), m);
        }
    }
}

/// Appends the items of `expected[field]` that `out[field]` lacks.
fn union_list(out: &mut Value, expected: &Value, field: &str) {
    let want: Vec<Value> = expected
        .get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if want.is_empty() {
        return;
    }
    let mut have: Vec<Value> = out
        .get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for w in want {
        if !have.contains(&w) {
            have.push(w);
        }
    }
    out[field] = json!(have);
}

/// A role reconciled against its bootstrap version; `None` when nothing
/// changes or the role is protected.
pub fn reconcile_role(expected: &Value, existing: &Value) -> Option<Value> {
    if protected(existing) {
        return None;
    }
    let mut out = existing.clone();
    merge_metadata(&mut out, expected);
    if let Some(rule) = expected.get("aggregationRule") {
        if out.get("aggregationRule").is_none_or(Value::is_null) {
            out["aggregationRule"] = json!({});
        }
        union_list(&mut out["aggregationRule"], rule, "clusterRoleSelectors");
    }
    let (_, missing) = covers(&PolicyRule::list(existing), &PolicyRule::list(expected));
    if !missing.is_empty() {
        let mut rules: Vec<Value> = existing
            .get("rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        rules.extend(missing.iter().map(PolicyRule::to_json));
        out["rules"] = json!(rules);
    }
    (out != *existing).then_some(out)
}

/// What to do with an existing binding.
#[derive(Debug, PartialEq)]
pub enum BindingChange {
    None,
    Update(Value),
    /// The roleRef differs (it cannot be updated): delete and create.
    Recreate,
}

pub fn reconcile_binding(expected: &Value, existing: &Value) -> BindingChange {
    if protected(existing) {
        return BindingChange::None;
    }
    if expected.get("roleRef") != existing.get("roleRef") {
        return BindingChange::Recreate;
    }
    let mut out = existing.clone();
    merge_metadata(&mut out, expected);
    union_list(&mut out, expected, "subjects");
    if out == *existing {
        BindingChange::None
    } else {
        BindingChange::Update(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(objs: &[(&str, Value)], resource: &str) -> Vec<String> {
        objs.iter()
            .filter(|(r, _)| *r == resource)
            .filter_map(|(_, o)| o.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    }

    /// Counts and names from upstream's golden files (testdata/*.yaml of
    /// plugin/pkg/auth/authorizer/rbac/bootstrappolicy) for the default
    /// feature gates of 1.33.
    #[test]
    fn policy_matches_upstream_lists() {
        let objs = parse(POLICY).expect("parses");
        let crs = names(&objs, "clusterroles");
        let crbs = names(&objs, "clusterrolebindings");
        let controllers = crs
            .iter()
            .filter(|n| n.starts_with("system:controller:"))
            .count();
        assert_eq!(crs.len() - controllers, 31, "cluster-roles.yaml");
        assert_eq!(controllers, 35, "controller-roles.yaml");
        assert_eq!(crbs.len() - controllers, 12, "cluster-role-bindings.yaml");
        assert_eq!(names(&objs, "roles").len(), 7, "namespace-roles.yaml");
        assert_eq!(
            names(&objs, "rolebindings").len(),
            7,
            "namespace-role-bindings.yaml"
        );
        for want in [
            "admin",
            "edit",
            "view",
            "cluster-admin",
            "system:aggregate-to-view",
            "system:discovery",
            "system:basic-user",
            "system:public-info-viewer",
            "system:node",
            "system:kube-scheduler",
            "system:kube-controller-manager",
            "system:controller:clusterrole-aggregation-controller",
            "system:controller:service-cidrs-controller",
        ] {
            assert!(crs.iter().any(|n| n == want), "{want}");
        }
        let view = objs
            .iter()
            .find(|(_, o)| o["metadata"]["name"] == "view")
            .expect("view");
        assert_eq!(
            view.1["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"],
            "true"
        );
        assert_eq!(
            view.1["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]["rbac.authorization.k8s.io/aggregate-to-view"],
            "true"
        );
        assert_eq!(view.1["metadata"]["annotations"][AUTOUPDATE], "true");
        let masters = objs
            .iter()
            .find(|(r, o)| *r == "clusterrolebindings" && o["metadata"]["name"] == "cluster-admin")
            .expect("binding");
        assert_eq!(masters.1["subjects"][0]["name"], "system:masters");
        let sa = objs
            .iter()
            .find(|(_, o)| {
                o["metadata"]["name"] == "system:controller:job-controller"
                    && o["kind"] == "ClusterRoleBinding"
            })
            .expect("sa binding");
        assert_eq!(
            sa.1["subjects"][0],
            json!({"kind": "ServiceAccount", "name": "job-controller", "namespace": "kube-system"})
        );
        assert!(node_rules().len() > 10);
        assert_eq!(parse("clusterrole x\n  rule get"), Err(2));
    }

    #[test]
    fn reconciliation_adds_and_respects_autoupdate() {
        let expected = json!({"metadata": {"name": "r", "labels": {"a": "1"}, "annotations": {AUTOUPDATE: "true"}},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]});
        let existing = json!({"metadata": {"name": "r", "labels": {"a": "mine"}},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]});
        let out = reconcile_role(&expected, &existing).expect("changes");
        assert_eq!(out["metadata"]["labels"]["a"], "mine");
        assert_eq!(out["metadata"]["annotations"][AUTOUPDATE], "true");
        assert_eq!(
            out["rules"][1],
            json!({"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]})
        );
        assert_eq!(reconcile_role(&expected, &out), None);
        let mut frozen = existing.clone();
        frozen["metadata"]["annotations"] = json!({AUTOUPDATE: "false"});
        assert_eq!(reconcile_role(&expected, &frozen), None);

        let b = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r"},
            "subjects": [{"kind": "Group", "name": "g1"}, {"kind": "Group", "name": "g2"}]});
        let old = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r"},
            "subjects": [{"kind": "User", "name": "u"}, {"kind": "Group", "name": "g1"}]});
        match reconcile_binding(&b, &old) {
            BindingChange::Update(v) => assert_eq!(v["subjects"].as_array().map(Vec::len), Some(3)),
            other => panic!("{other:?}"),
        }
        let moved =
            json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "other"}});
        assert_eq!(reconcile_binding(&b, &moved), BindingChange::Recreate);
    }
}
