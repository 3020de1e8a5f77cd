//! The audit policy (`--audit-policy-file`, `audit.k8s.io/v1` Policy):
//! loading, upstream's validation, and the first-matching-rule evaluation
//! that decides each request's level and omitted stages.

use kaiser_apimachinery::codec::{self, Format};
use kaiser_apimachinery::field::{ErrorList, FieldError, child, key};
use serde::Deserialize;

use super::{Level, Stage};
use crate::authz::Attributes;

/// How one request is audited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestConfig {
    pub level: Level,
    pub omit_stages: Vec<Stage>,
    pub omit_managed_fields: bool,
}

/// A validated policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub omit_stages: Vec<Stage>,
    pub omit_managed_fields: bool,
}

/// One rule; empty lists match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub level: Level,
    pub users: Vec<String>,
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<GroupResources>,
    pub namespaces: Vec<String>,
    pub non_resource_urls: Vec<String>,
    /// The rule's stages joined with the policy's.
    pub omit_stages: Vec<Stage>,
    pub omit_managed_fields: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupResources {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPolicy {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default)]
    level: String,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    user_groups: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    resources: Vec<GroupResources>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Vec<String>,
    #[serde(default)]
    omit_stages: Vec<String>,
    omit_managed_fields: Option<bool>,
}

const LEVELS: &[&str] = &["Metadata", "None", "Request", "RequestResponse"];
const STAGES: &[&str] = &[
    "Panic",
    "RequestReceived",
    "ResponseComplete",
    "ResponseStarted",
];

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &std::path::Path) -> Result<Policy, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("failed to read file path {:?}: {e}", path.display()))?;
        Policy::parse(&bytes).map_err(|e| format!("{e}: from file {}", path.display()))
    }

    /// Parses and validates a policy document (YAML or JSON).
    pub fn parse(bytes: &[u8]) -> Result<Policy, String> {
        let value = codec::decode(bytes, Format::Yaml)
            .map_err(|e| format!("failed decoding: {}", e.message))?;
        let raw: RawPolicy =
            serde_json::from_value(value).map_err(|e| format!("failed decoding: {e}"))?;
        if raw.api_version != "audit.k8s.io/v1" || raw.kind != "Policy" {
            return Err(format!(
                "unknown group version field {}, Kind={} in policy",
                raw.api_version, raw.kind
            ));
        }
        let mut errs = ErrorList::new();
        let omit_stages = stages(&raw.omit_stages, "omitStages", &mut errs);
        let mut rules = Vec::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            rules.push(rule(r, &key("rules", i), &omit_stages, &mut errs));
        }
        if !errs.is_empty() {
            return Err(errs.to_string());
        }
        if rules.is_empty() {
            return Err("loaded illegal policy with 0 rules".into());
        }
        Ok(Policy {
            rules,
            omit_stages,
            omit_managed_fields: raw.omit_managed_fields,
        })
    }

    /// The first rule that matches decides; none matching means level None.
    /// `authenticated` is false for requests whose credentials failed: rules
    /// naming users or groups never match them.
    pub fn evaluate(&self, a: &Attributes<'_>, authenticated: bool) -> RequestConfig {
        for r in &self.rules {
            if r.matches(a, authenticated) {
                return RequestConfig {
                    level: r.level,
                    omit_stages: r.omit_stages.clone(),
                    omit_managed_fields: r.omit_managed_fields.unwrap_or(self.omit_managed_fields),
                };
            }
        }
        RequestConfig {
            level: Level::None,
            omit_stages: self.omit_stages.clone(),
            omit_managed_fields: self.omit_managed_fields,
        }
    }
}

fn stages(names: &[String], path: &str, errs: &mut ErrorList) -> Vec<Stage> {
    let mut out = Vec::new();
    for (i, s) in names.iter().enumerate() {
        match Stage::parse(s) {
            Some(st) => out.push(st),
            None => errs.push(FieldError::not_supported(&key(path, i), s.as_str(), STAGES)),
        }
    }
    out
}

fn rule(r: RawRule, path: &str, policy_stages: &[Stage], errs: &mut ErrorList) -> Rule {
    let level_path = child(path, "level");
    let level = match Level::parse(&r.level) {
        Some(l) => l,
        None if r.level.is_empty() => {
            errs.push(FieldError::required(&level_path, ""));
            Level::None
        }
        None => {
            errs.push(FieldError::not_supported(
                &level_path,
                r.level.as_str(),
                LEVELS,
            ));
            Level::None
        }
    };
    let urls_path = child(path, "nonResourceURLs");
    for (i, u) in r.non_resource_urls.iter().enumerate() {
        if u == "*" {
            continue;
        }
        if !u.starts_with('/') {
            errs.push(FieldError::invalid(
                &key(&urls_path, i),
                u.as_str(),
                "non-resource URL rules must begin with a '/' character",
            ));
        }
        if !u.is_empty() && u[..u.len() - 1].contains('*') {
            errs.push(FieldError::invalid(
                &key(&urls_path, i),
                u.as_str(),
                "non-resource URL wildcards '*' must be the final character of the rule",
            ));
        }
    }
    let res_path = child(path, "resources");
    for gr in &r.resources {
        if !gr.group.is_empty() {
            let msgs = kaiser_apimachinery::validation::is_dns1123_subdomain(&gr.group);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(
                    &child(&res_path, "group"),
                    gr.group.as_str(),
                    msgs.join(","),
                ));
            }
        }
        if !gr.resource_names.is_empty() && gr.resources.is_empty() {
            errs.push(FieldError::invalid(
                &child(&res_path, "resourceNames"),
                serde_json::json!(gr.resource_names),
                "using resourceNames requires at least one resource",
            ));
        }
    }
    let mut omit_stages = stages(&r.omit_stages, &child(path, "omitStages"), errs);
    if !r.non_resource_urls.is_empty() && (!r.resources.is_empty() || !r.namespaces.is_empty()) {
        errs.push(FieldError::invalid(
            &urls_path,
            serde_json::json!(r.non_resource_urls),
            "rules cannot apply to both regular resources and non-resource URLs",
        ));
    }
    for s in policy_stages {
        if !omit_stages.contains(s) {
            omit_stages.push(*s);
        }
    }
    Rule {
        level,
        users: r.users,
        user_groups: r.user_groups,
        verbs: r.verbs,
        resources: r.resources,
        namespaces: r.namespaces,
        non_resource_urls: r.non_resource_urls,
        omit_stages,
        omit_managed_fields: r.omit_managed_fields,
    }
}

fn has(list: &[String], s: &str) -> bool {
    list.iter().any(|x| x == s)
}

impl Rule {
    /// Upstream's rule matching: users, groups and verbs first, then either
    /// the resource part (namespaces, resources) or the non-resource URLs.
    pub fn matches(&self, a: &Attributes<'_>, authenticated: bool) -> bool {
        let user_ok = self.users.is_empty() || (authenticated && has(&self.users, &a.user.name));
        let group_ok = self.user_groups.is_empty()
            || (authenticated && a.user.groups.iter().any(|g| has(&self.user_groups, g)));
        if !user_ok || !group_ok {
            return false;
        }
        if !self.verbs.is_empty() && !has(&self.verbs, a.verb) {
            return false;
        }
        if !self.namespaces.is_empty() || !self.resources.is_empty() {
            return self.matches_resource(a);
        }
        if !self.non_resource_urls.is_empty() {
            return !a.resource_request
                && self
                    .non_resource_urls
                    .iter()
                    .any(|u| path_matches(a.path, u));
        }
        true
    }

    fn matches_resource(&self, a: &Attributes<'_>) -> bool {
        if !a.resource_request {
            return false;
        }
        if !self.namespaces.is_empty() && !has(&self.namespaces, a.namespace) {
            return false;
        }
        if self.resources.is_empty() {
            return true;
        }
        let combined = if a.subresource.is_empty() {
            a.resource.to_string()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        self.resources
            .iter()
            .filter(|gr| gr.group == a.api_group)
            .any(|gr| {
                if gr.resources.is_empty() {
                    return true;
                }
                let name_ok = gr.resource_names.is_empty() || has(&gr.resource_names, a.name);
                name_ok
                    && gr
                        .resources
                        .iter()
                        .any(|r| resource_matches(r, &combined, a))
            })
    }
}

fn resource_matches(rule: &str, combined: &str, a: &Attributes<'_>) -> bool {
    if rule == combined || rule == "*" {
        return true;
    }
    if !a.subresource.is_empty() && rule.strip_prefix("*/") == Some(a.subresource) {
        return true;
    }
    rule.strip_suffix("/*") == Some(a.resource)
}

/// `*` matches everything, `/x*` every path starting `/x`, else exact.
fn path_matches(path: &str, spec: &str) -> bool {
    if spec == "*" || spec == path {
        return true;
    }
    spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::UserInfo;

    const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: None
  users: ["system:kube-proxy"]
  verbs: ["watch"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
- level: Request
  omitStages: [ResponseStarted]
  resources:
  - group: ""
    resources: ["pods/log", "*/status"]
  - group: "apps"
    resources: ["deployments/*"]
- level: Metadata
  userGroups: ["devs"]
  namespaces: ["team"]
- level: Request
  resources:
  - group: ""
    resources: ["secrets"]
    resourceNames: ["visible"]
- level: Metadata
"#;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    fn res<'a>(
        u: &'a UserInfo,
        verb: &'a str,
        ns: &'a str,
        group: &'a str,
        resource: &'a str,
        sub: &'a str,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user: u,
            verb,
            resource_request: true,
            path: "",
            namespace: ns,
            api_group: group,
            resource,
            subresource: sub,
            name,
        }
    }

    fn url<'a>(u: &'a UserInfo, path: &'a str) -> Attributes<'a> {
        Attributes {
            resource_request: false,
            path,
            ..res(u, "get", "", "", "", "", "")
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let p = Policy::parse(POLICY.as_bytes()).expect("valid policy");
        let ann = user("ann", &["system:authenticated"]);
        let lvl = |a: &Attributes<'_>| p.evaluate(a, true).level;
        assert_eq!(lvl(&url(&ann, "/healthz")), Level::None);
        assert_eq!(lvl(&url(&ann, "/healthz/etcd")), Level::None);
        assert_eq!(lvl(&url(&ann, "/version")), Level::None);
        assert_eq!(lvl(&url(&ann, "/versionx")), Level::Metadata);
        assert_eq!(lvl(&url(&ann, "/api")), Level::Metadata);
        let cm = res(&ann, "create", "default", "", "configmaps", "", "");
        assert_eq!(lvl(&cm), Level::RequestResponse);
        // The group must match exactly.
        assert_eq!(
            lvl(&res(&ann, "get", "default", "x.io", "configmaps", "", "")),
            Level::Metadata
        );
        // Subresources: exact, `*/sub` and `resource/*`.
        assert_eq!(
            lvl(&res(&ann, "get", "default", "", "pods", "log", "p")),
            Level::Request
        );
        assert_eq!(
            lvl(&res(&ann, "get", "default", "", "pods", "", "p")),
            Level::Metadata
        );
        assert_eq!(
            lvl(&res(&ann, "update", "", "", "nodes", "status", "n")),
            Level::Request
        );
        assert_eq!(
            lvl(&res(
                &ann,
                "update",
                "d",
                "apps",
                "deployments",
                "scale",
                "n"
            )),
            Level::Request
        );
        // resourceNames.
        assert_eq!(
            lvl(&res(&ann, "get", "d", "", "secrets", "", "visible")),
            Level::Request
        );
        assert_eq!(
            lvl(&res(&ann, "get", "d", "", "secrets", "", "hidden")),
            Level::Metadata
        );
        // Users and verbs together.
        let proxy = user("system:kube-proxy", &[]);
        assert_eq!(
            lvl(&res(&proxy, "watch", "", "", "endpoints", "", "")),
            Level::None
        );
        assert_eq!(
            lvl(&res(&proxy, "list", "", "", "endpoints", "", "")),
            Level::Metadata
        );
        // A failed authentication matches no user rule.
        assert_eq!(
            p.evaluate(&res(&proxy, "watch", "", "", "endpoints", "", ""), false)
                .level,
            Level::Metadata
        );
    }

    #[test]
    fn omit_stages_join_the_policys() {
        let p = Policy::parse(POLICY.as_bytes()).expect("valid policy");
        let ann = user("ann", &[]);
        let c = p.evaluate(&res(&ann, "get", "default", "", "pods", "log", "p"), true);
        assert_eq!(
            c.omit_stages,
            [Stage::ResponseStarted, Stage::RequestReceived]
        );
        let c = p.evaluate(&url(&ann, "/api"), true);
        assert_eq!(c.omit_stages, [Stage::RequestReceived]);
        assert!(!c.omit_managed_fields);
    }

    #[test]
    fn omit_managed_fields_rule_overrides_policy() {
        let p = Policy::parse(
            br#"{"apiVersion":"audit.k8s.io/v1","kind":"Policy","omitManagedFields":true,
                "rules":[{"level":"Request","verbs":["create"],"omitManagedFields":false},{"level":"Request"}]}"#,
        )
        .expect("valid");
        let u = user("u", &[]);
        assert!(
            !p.evaluate(&res(&u, "create", "", "", "x", "", ""), true)
                .omit_managed_fields
        );
        assert!(
            p.evaluate(&res(&u, "get", "", "", "x", "", ""), true)
                .omit_managed_fields
        );
    }

    #[test]
    fn invalid_policies_are_refused_with_upstreams_reasons() {
        let e = Policy::parse(
            br#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Loud
- nonResourceURLs: ["healthz", "/a*b"]
  resources: [{group: "Bad_Group"}]
  level: None
  omitStages: [Whenever]
"#,
        )
        .expect_err("invalid");
        assert!(
            e.contains("rules[0].level: Unsupported value: \"Loud\""),
            "{e}"
        );
        assert!(
            e.contains("non-resource URL rules must begin with a '/' character"),
            "{e}"
        );
        assert!(
            e.contains("wildcards '*' must be the final character"),
            "{e}"
        );
        assert!(
            e.contains("rules[1].resources.group: Invalid value: \"Bad_Group\""),
            "{e}"
        );
        assert!(
            e.contains("rules cannot apply to both regular resources and non-resource URLs"),
            "{e}"
        );
        assert!(
            e.contains("rules[1].omitStages[0]: Unsupported value: \"Whenever\""),
            "{e}"
        );
        let e = Policy::parse(b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n")
            .expect_err("no rules");
        assert_eq!(e, "loaded illegal policy with 0 rules");
        let e = Policy::parse(b"apiVersion: v1\nkind: Policy\nrules: [{level: None}]\n")
            .expect_err("wrong version");
        assert!(e.contains("unknown group version"), "{e}");
        let e = Policy::parse(b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {}\n")
            .expect_err("no level");
        assert_eq!(e, "rules[0].level: Required value");
    }
}
