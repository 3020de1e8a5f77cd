//! Pods, pod templates and the pod spec every workload embeds, as
//! upstream's `ValidatePodSpec` / `ValidatePodTemplateSpec` /
//! `ValidatePodCreate` / `ValidatePodUpdate` (with 1.33's default feature
//! gates: relaxed env var names and DNS searches, zero-second sleep
//! actions, no pod-level resources).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
};
use serde_json::Value;

use super::quantity::{self, Quantity};
use super::{
    annotations, arr, as_int, at, bool_of, child, dns_label, dns_subdomain, enum_optional,
    enum_required, gofmt, idx, inclusive_range_error, int_of, invalid_raw, is_set, key, labels,
    net, nonneg, not_found, opt_str, present, push_msgs, qualified_name, selector, sem_eq,
    sorted_entries, str_of,
};

/// Upstream's `PodValidationOptions` that differ between create and update.
#[derive(Clone, Debug, Default)]
pub struct PodOpts {
    pub resource_is_pod: bool,
    pub allow_invalid_pod_deletion_cost: bool,
    pub allow_invalid_label_value_in_selector: bool,
    pub allow_indivisible_hugepages: bool,
    pub allow_invalid_topology_selector: bool,
    pub allow_non_local_projected_token_path: bool,
    pub allow_namespaced_sysctls_for_host: bool,
    pub allow_invalid_label_value_in_required_node_affinity: bool,
}

impl PodOpts {
    /// Options for a pod spec, relaxed where the old spec already broke a
    /// rule introduced later (upstream's ratcheting).
    pub fn for_spec(old: Option<&Value>) -> Self {
        let Some(old) = old else {
            return PodOpts::default();
        };
        let mut o = PodOpts::default();
        let aff = at(old, "affinity");
        let terms = |kind: &str| -> Vec<&Value> {
            let a = at(aff, kind);
            let mut out: Vec<&Value> = arr(a, "requiredDuringSchedulingIgnoredDuringExecution")
                .iter()
                .collect();
            out.extend(
                arr(a, "preferredDuringSchedulingIgnoredDuringExecution")
                    .iter()
                    .map(|w| at(w, "podAffinityTerm")),
            );
            out
        };
        o.allow_invalid_label_value_in_selector = terms("podAffinity")
            .into_iter()
            .chain(terms("podAntiAffinity"))
            .any(|t| {
                selector::has_invalid_label_value(at(t, "labelSelector"))
                    || selector::has_invalid_label_value(at(t, "namespaceSelector"))
            });
        o.allow_invalid_topology_selector = arr(old, "topologySpreadConstraints")
            .iter()
            .any(|c| !selector::validate(at(c, "labelSelector"), false, "").is_empty());
        o.allow_indivisible_hugepages = true;
        o.allow_non_local_projected_token_path = arr(old, "volumes").iter().any(|v| {
            arr(at(v, "projected"), "sources").iter().any(|s| {
                let p = str_of(at(s, "serviceAccountToken"), "path");
                !p.is_empty() && !local_non_reserved_path(p, "").is_empty()
            })
        });
        o.allow_namespaced_sysctls_for_host = true;
        let required = at(
            at(aff, "nodeAffinity"),
            "requiredDuringSchedulingIgnoredDuringExecution",
        );
        o.allow_invalid_label_value_in_required_node_affinity =
            arr(required, "nodeSelectorTerms").iter().any(|t| {
                arr(t, "matchExpressions").iter().any(|r| {
                    arr(r, "values")
                        .iter()
                        .any(|v| !is_valid_label_value(v.as_str().unwrap_or("")).is_empty())
                })
            });
        o
    }
}

// ---- messages ----

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const MORE_THAN_ONE_VOLUME: &str = "may not specify more than 1 volume type";
const RELAXED_ENV_MSG: &str = "a valid environment variable name must consist only of printable ASCII characters other than '='";
const MAX_INT32: i64 = 2147483647;
const MAX_UID: i64 = 4294967295;

// ---- Pod and PodTemplate ----

/// `ValidatePodCreate` (without the object metadata, which the store checks).
pub fn validate_pod(pod: &Value) -> ErrorList {
    let opts = PodOpts {
        resource_is_pod: true,
        ..PodOpts::default()
    };
    let mut errs = pod_metadata_and_spec(pod, &opts);
    let spec = at(pod, "spec");
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    if !str_of(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
        errs.push(FieldError::forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    let meta_annotations = at(at(pod, "metadata"), "annotations");
    seccomp_annotations_match(&mut errs, meta_annotations, spec, "spec");
    apparmor_annotations_match(&mut errs, meta_annotations, spec, "spec");
    errs
}

/// `validatePodMetadataAndSpec`.
fn pod_metadata_and_spec(pod: &Value, opts: &PodOpts) -> ErrorList {
    let meta = at(pod, "metadata");
    let spec = at(pod, "spec");
    let mut errs = ErrorList::new();
    pod_specific_annotations(
        &mut errs,
        at(meta, "annotations"),
        spec,
        "metadata.annotations",
        opts,
    );
    errs.extend(validate_pod_spec(spec, Some(meta), "spec", opts));
    if str_of(spec, "serviceAccountName").is_empty() {
        for (vi, v) in arr(spec, "volumes").iter().enumerate() {
            let p = child(&idx("spec.volumes", vi), "projected");
            for (si, s) in arr(at(v, "projected"), "sources").iter().enumerate() {
                if present(at(s, "serviceAccountToken")) {
                    errs.push(FieldError::forbidden(
                        &child(&idx(&child(&p, "sources"), si), "serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for list in ["containers", "initContainers"] {
        for (i, c) in arr(spec, list).iter().enumerate() {
            image_whitespace(&mut errs, c, &idx(&child("spec", list), i));
        }
    }
    errs
}

fn image_whitespace(errs: &mut ErrorList, c: &Value, path: &str) {
    let image = str_of(c, "image");
    if image.len() != image.trim().len() {
        errs.push(FieldError::invalid(
            &child(path, "image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
}

const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate`.
pub fn validate_pod_update(new: &Value, old: &Value) -> ErrorList {
    let old_spec = at(old, "spec");
    let mut opts = PodOpts::for_spec(Some(old_spec));
    opts.resource_is_pod = true;
    let deletion_cost = "controller.kubernetes.io/pod-deletion-cost";
    opts.allow_invalid_pod_deletion_cost =
        at(at(at(old, "metadata"), "annotations"), deletion_cost)
            .as_str()
            .is_some_and(|v| v.parse::<i32>().is_err());
    let mut errs = pod_metadata_and_spec(new, &opts);
    annotation_updates(&mut errs, new, old);
    let spec = at(new, "spec");
    for list in ["containers", "initContainers"] {
        let path = child("spec", list);
        let n = arr(spec, list);
        if n.len() != arr(old_spec, list).len() {
            errs.push(FieldError::forbidden(
                &path,
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            let image = str_of(c, "image");
            if image.is_empty() {
                errs.push(FieldError::required(&child(&idx(&path, i), "image"), ""));
            }
            image_whitespace(&mut errs, c, &idx(&path, i));
        }
    }
    let ads = "spec.activeDeadlineSeconds";
    match (
        int_of(spec, "activeDeadlineSeconds"),
        int_of(old_spec, "activeDeadlineSeconds"),
    ) {
        (Some(n), old_ads) => {
            if !(0..=MAX_INT32).contains(&n) {
                errs.push(FieldError::invalid(
                    ads,
                    n,
                    inclusive_range_error(0, MAX_INT32),
                ));
                return errs;
            }
            if old_ads.is_some_and(|o| o < n) {
                errs.push(FieldError::invalid(
                    ads,
                    n,
                    "must be less than or equal to previous value",
                ));
                return errs;
            }
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            ads,
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }
    only_added_tolerations(&mut errs, spec, old_spec);
    only_deleted_scheduling_gates(&mut errs, spec, old_spec);
    if sem_eq(spec, old_spec) {
        return errs;
    }
    // Mask what may change, then everything else must be equal.
    let mut munged = spec.clone();
    if let Some(m) = munged.as_object_mut() {
        for list in ["containers", "initContainers"] {
            if let Some(cs) = m.get_mut(list).and_then(Value::as_array_mut) {
                for (i, c) in cs.iter_mut().enumerate() {
                    if let Some(co) = c.as_object_mut() {
                        let old_image = arr(old_spec, list)
                            .get(i)
                            .map(|o| at(o, "image").clone())
                            .unwrap_or(Value::Null);
                        co.insert("image".into(), old_image);
                    }
                }
            }
        }
        for f in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match old_spec.get(f) {
                Some(v) => m.insert(f.into(), v.clone()),
                None => m.remove(f),
            };
        }
        let old_grace = int_of(old_spec, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0)
            && int_of(spec, "terminationGracePeriodSeconds") == Some(1)
        {
            m.insert(
                "terminationGracePeriodSeconds".into(),
                at(old_spec, "terminationGracePeriodSeconds").clone(),
            );
        }
        if !arr(old_spec, "schedulingGates").is_empty() {
            gated_pod_mutations(&mut errs, m, old_spec);
        }
    }
    if !sem_eq(&munged, old_spec) {
        errs.push(FieldError::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{}",
                spec_diff(old_spec, &munged)
            ),
        ));
    }
    errs
}

/// A short account of which spec fields differ (upstream prints a
/// `cmp.Diff` of the Go structs here).
pub(crate) fn spec_diff(old: &Value, new: &Value) -> String {
    let keys: BTreeSet<&String> = old
        .as_object()
        .into_iter()
        .flatten()
        .chain(new.as_object().into_iter().flatten())
        .map(|(k, _)| k)
        .collect();
    let mut out = String::new();
    for k in keys {
        let (o, n) = (at(old, k), at(new, k));
        if !sem_eq(o, n) {
            out.push_str(&format!("- {k}: {o}\n+ {k}: {n}\n"));
        }
    }
    out
}

fn gated_pod_mutations(
    errs: &mut ErrorList,
    munged: &mut serde_json::Map<String, Value>,
    old_spec: &Value,
) {
    let new_sel = munged.get("nodeSelector").cloned().unwrap_or(Value::Null);
    let old_sel = at(old_spec, "nodeSelector");
    if !sem_eq(&new_sel, old_sel) {
        for (k, v) in old_sel.as_object().into_iter().flatten() {
            if new_sel.get(k) != Some(v) {
                errs.push(invalid_raw(
                    "spec.nodeSelector",
                    gofmt::string_map(&new_sel),
                    "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                ));
                break;
            }
        }
        match old_spec.get("nodeSelector") {
            Some(v) => munged.insert("nodeSelector".into(), v.clone()),
            None => munged.remove("nodeSelector"),
        };
    }
    let old_na = at(at(old_spec, "affinity"), "nodeAffinity");
    let new_na = munged
        .get("affinity")
        .map(|a| at(a, "nodeAffinity").clone())
        .unwrap_or(Value::Null);
    if !sem_eq(old_na, &new_na) {
        let path = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";
        let old_terms = arr(
            at(old_na, "requiredDuringSchedulingIgnoredDuringExecution"),
            "nodeSelectorTerms",
        );
        let new_terms = arr(
            at(&new_na, "requiredDuringSchedulingIgnoredDuringExecution"),
            "nodeSelectorTerms",
        );
        if present(at(old_na, "requiredDuringSchedulingIgnoredDuringExecution")) {
            if !old_terms.is_empty() && old_terms.len() != new_terms.len() {
                errs.push(invalid_raw(
                    path,
                    gofmt::json(&Value::from(new_terms.to_vec())),
                    "no additions/deletions to non-empty NodeSelectorTerms list are allowed",
                ));
            } else {
                for (i, (o, n)) in old_terms.iter().zip(new_terms).enumerate() {
                    if !term_only_additions(n, o) {
                        errs.push(invalid_raw(
                            &idx(path, i),
                            gofmt::json(n),
                            "only additions are allowed (no mutations or deletions)",
                        ));
                    }
                }
            }
        }
        let aff = munged
            .entry("affinity")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = aff.as_object_mut() {
            if old_na.is_null() {
                a.remove("nodeAffinity");
            } else {
                a.insert("nodeAffinity".into(), old_na.clone());
            }
        }
    }
}

fn term_only_additions(new: &Value, old: &Value) -> bool {
    let (om, of) = (arr(old, "matchExpressions"), arr(old, "matchFields"));
    let (nm, nf) = (arr(new, "matchExpressions"), arr(new, "matchFields"));
    if om.is_empty() && of.is_empty() && (!nm.is_empty() || !nf.is_empty()) {
        return false;
    }
    let prefix = |o: &[Value], n: &[Value]| {
        o.is_empty() || (n.len() >= o.len() && o.iter().zip(n).all(|(a, b)| sem_eq(a, b)))
    };
    prefix(om, nm) && prefix(of, nf)
}

pub(crate) fn annotation_updates(errs: &mut ErrorList, new: &Value, old: &Value) {
    let path = "metadata.annotations";
    let n = at(at(new, "metadata"), "annotations");
    let o = at(at(old, "metadata"), "annotations");
    let apparmor = "container.apparmor.security.beta.kubernetes.io/";
    let mirror = "kubernetes.io/config.mirror";
    for (k, ov) in sorted_entries(o) {
        if n.get(k) == Some(ov) {
            continue;
        }
        if k.starts_with(apparmor) {
            errs.push(FieldError::forbidden(
                &key(path, k),
                "may not remove or update AppArmor annotations",
            ));
        }
        if k == mirror {
            errs.push(FieldError::forbidden(
                &key(path, k),
                "may not remove or update mirror pod annotation",
            ));
        }
    }
    for (k, _) in sorted_entries(n) {
        if o.get(k).is_some() {
            continue;
        }
        if k.starts_with(apparmor) {
            errs.push(FieldError::forbidden(
                &key(path, k),
                "may not add AppArmor annotations",
            ));
        }
        if k == mirror {
            errs.push(FieldError::forbidden(
                &key(path, k),
                "may not add mirror pod annotation",
            ));
        }
    }
}

fn only_added_tolerations(errs: &mut ErrorList, spec: &Value, old_spec: &Value) {
    let path = "spec.tolerations";
    let new = arr(spec, "tolerations");
    for o in arr(old_spec, "tolerations") {
        let found = new.iter().any(|n| {
            let mut oc = o.clone();
            if let Some(m) = oc.as_object_mut() {
                match n.get("tolerationSeconds") {
                    Some(v) => m.insert("tolerationSeconds".into(), v.clone()),
                    None => m.remove("tolerationSeconds"),
                };
            }
            sem_eq(&oc, n)
        });
        if !found {
            errs.push(FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            return;
        }
    }
    tolerations(errs, spec, path);
}

fn only_deleted_scheduling_gates(errs: &mut ErrorList, spec: &Value, old_spec: &Value) {
    let old: HashSet<&str> = arr(old_spec, "schedulingGates")
        .iter()
        .map(|g| str_of(g, "name"))
        .collect();
    let mut added: Vec<(usize, &str)> = Vec::new();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        let name = str_of(g, "name");
        if !old.contains(name) {
            added.retain(|(_, n)| *n != name);
            added.push((i, name));
        }
    }
    for (i, name) in added {
        errs.push(FieldError::forbidden(
            &child(&idx("spec.schedulingGates", i), "name"),
            format!("only deletion is allowed, but found new scheduling gate '{name}'"),
        ));
    }
}

/// `ValidatePodTemplate` (the PodTemplate kind).
pub fn validate_pod_template(obj: &Value) -> ErrorList {
    validate_pod_template_spec(at(obj, "template"), "template", &PodOpts::default())
}

pub fn validate_pod_template_update(new: &Value, old: &Value) -> ErrorList {
    let opts = PodOpts::for_spec(Some(at(at(old, "template"), "spec")));
    validate_pod_template_spec(at(new, "template"), "template", &opts)
}

/// `ValidatePodTemplateSpec`.
pub fn validate_pod_template_spec(template: &Value, path: &str, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    let meta = at(template, "metadata");
    let spec = at(template, "spec");
    labels(&mut errs, at(meta, "labels"), &child(path, "labels"));
    annotations(
        &mut errs,
        at(meta, "annotations"),
        &child(path, "annotations"),
    );
    pod_specific_annotations(
        &mut errs,
        at(meta, "annotations"),
        spec,
        &child(path, "annotations"),
        opts,
    );
    let spec_path = child(path, "spec");
    errs.extend(validate_pod_spec(spec, None, &spec_path, opts));
    seccomp_annotations_match(&mut errs, at(meta, "annotations"), spec, &spec_path);
    apparmor_annotations_match(&mut errs, at(meta, "annotations"), spec, &spec_path);
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &child(&spec_path, "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// `ValidatePodSpecificAnnotations`.
pub(crate) fn pod_specific_annotations(
    errs: &mut ErrorList,
    ann: &Value,
    spec: &Value,
    path: &str,
    opts: &PodOpts,
) {
    let mirror = "kubernetes.io/config.mirror";
    if let Some(v) = opt_str(ann, mirror)
        && str_of(spec, "nodeName").is_empty()
    {
        errs.push(FieldError::invalid(
            &key(path, mirror),
            v,
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    let cost = "controller.kubernetes.io/pod-deletion-cost";
    if !opts.allow_invalid_pod_deletion_cost
        && let Some(v) = opt_str(ann, cost)
        && v.parse::<i32>().is_err()
    {
        errs.push(FieldError::invalid(
            &key(path, cost),
            v,
            "must be a 32bit integer",
        ));
    }
    // Seccomp profiles in the deprecated annotations.
    let pod_key = "seccomp.security.alpha.kubernetes.io/pod";
    if let Some(p) = opt_str(ann, pod_key) {
        seccomp_profile_annotation(errs, p, &child(path, pod_key));
    }
    for (k, v) in sorted_entries(ann) {
        if k.starts_with("container.seccomp.security.alpha.kubernetes.io/") {
            seccomp_profile_annotation(errs, v.as_str().unwrap_or(""), &child(path, k));
        }
    }
    let apparmor = "container.apparmor.security.beta.kubernetes.io/";
    for (k, v) in sorted_entries(ann) {
        let Some(container) = k.strip_prefix(apparmor) else {
            continue;
        };
        let known = ["containers", "initContainers", "ephemeralContainers"]
            .iter()
            .any(|l| arr(spec, l).iter().any(|c| str_of(c, "name") == container));
        if !known {
            errs.push(FieldError::invalid(
                &key(path, k),
                container,
                "container not found",
            ));
        }
        let p = v.as_str().unwrap_or("");
        if !(p.is_empty()
            || p == "runtime/default"
            || p == "unconfined"
            || p.starts_with("localhost/"))
        {
            errs.push(FieldError::invalid(
                &key(path, k),
                p,
                format!("invalid AppArmor profile name: {}", gofmt::quote(p)),
            ));
        }
    }
}

fn seccomp_profile_annotation(errs: &mut ErrorList, p: &str, path: &str) {
    if p == "runtime/default" || p == "docker/default" || p == "unconfined" {
        return;
    }
    if let Some(rest) = p.strip_prefix("localhost/") {
        errs.extend(local_descending_path(rest, path));
        return;
    }
    errs.push(FieldError::invalid(
        path,
        p,
        "must be a valid seccomp profile",
    ));
}

/// Visits every container with its path, as `VisitContainersWithPath`.
fn containers_with_path<'a>(spec: &'a Value, path: &str) -> Vec<(&'a Value, String)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in arr(spec, list).iter().enumerate() {
            out.push((c, idx(&child(path, list), i)));
        }
    }
    out
}

/// `validateSeccompAnnotationsAndFields`.
fn seccomp_annotations_match(errs: &mut ErrorList, ann: &Value, spec: &Value, spec_path: &str) {
    let profile = at(at(spec, "securityContext"), "seccompProfile");
    if present(profile)
        && let Some(a) = opt_str(ann, "seccomp.security.alpha.kubernetes.io/pod")
    {
        seccomp_match(
            errs,
            a,
            profile,
            &child(spec_path, "securityContext.seccompProfile"),
        );
    }
    for (c, cpath) in containers_with_path(spec, spec_path) {
        let profile = at(at(c, "securityContext"), "seccompProfile");
        if !present(profile) {
            continue;
        }
        let k = format!(
            "container.seccomp.security.alpha.kubernetes.io/{}",
            str_of(c, "name")
        );
        if let Some(a) = opt_str(ann, &k) {
            seccomp_match(
                errs,
                a,
                profile,
                &child(&cpath, "securityContext.seccompProfile"),
            );
        }
    }
}

fn seccomp_match(errs: &mut ErrorList, annotation: &str, profile: &Value, path: &str) {
    let msg_type = "seccomp type in annotation and field must match";
    match str_of(profile, "type") {
        "Unconfined" if annotation != "unconfined" => {
            errs.push(FieldError::forbidden(&child(path, "type"), msg_type));
        }
        "RuntimeDefault" if annotation != "runtime/default" && annotation != "docker/default" => {
            errs.push(FieldError::forbidden(&child(path, "type"), msg_type));
        }
        "Localhost" => match annotation.strip_prefix("localhost/") {
            None => errs.push(FieldError::forbidden(&child(path, "type"), msg_type)),
            Some(p) if opt_str(profile, "localhostProfile") != Some(p) => {
                errs.push(FieldError::forbidden(
                    &child(path, "localhostProfile"),
                    "seccomp profile in annotation and field must match",
                ));
            }
            _ => {}
        },
        _ => {}
    }
}

/// `validateAppArmorAnnotationsAndFieldsMatchOnCreate`.
fn apparmor_annotations_match(errs: &mut ErrorList, ann: &Value, spec: &Value, spec_path: &str) {
    if str_of(at(spec, "os"), "name") == "windows" {
        return;
    }
    let pod_profile = at(at(spec, "securityContext"), "appArmorProfile");
    for (c, cpath) in containers_with_path(spec, spec_path) {
        let own = at(at(c, "securityContext"), "appArmorProfile");
        let profile = if present(own) { own } else { pod_profile };
        if !present(profile) {
            continue;
        }
        let k = format!(
            "container.apparmor.security.beta.kubernetes.io/{}",
            str_of(c, "name")
        );
        let Some(a) = opt_str(ann, &k) else {
            continue;
        };
        let path = child(&cpath, "securityContext.appArmorProfile");
        let msg = "apparmor type in annotation and field must match";
        match str_of(profile, "type") {
            "Unconfined" if a != "unconfined" => {
                errs.push(FieldError::forbidden(&child(&path, "type"), msg));
            }
            "RuntimeDefault" if a != "runtime/default" => {
                errs.push(FieldError::forbidden(&child(&path, "type"), msg));
            }
            "Localhost" => match a.strip_prefix("localhost/") {
                None => errs.push(FieldError::forbidden(&child(&path, "type"), msg)),
                Some(p) if opt_str(profile, "localhostProfile") != Some(p) => {
                    errs.push(FieldError::forbidden(
                        &child(&path, "localhostProfile"),
                        "apparmor profile in annotation and field must match",
                    ));
                }
                _ => {}
            },
            _ => {}
        }
    }
}

// ---- PodSpec ----

/// What containers need to know about the pod's volumes.
struct Volumes<'a> {
    /// Valid volumes by name.
    by_name: HashMap<&'a str, &'a Value>,
}

impl Volumes<'_> {
    fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
    fn is_pvc(&self, name: &str) -> bool {
        self.by_name
            .get(name)
            .is_some_and(|v| present(at(v, "persistentVolumeClaim")) || present(at(v, "ephemeral")))
    }
    fn is_image(&self, name: &str) -> bool {
        self.by_name
            .get(name)
            .is_some_and(|v| present(at(v, "image")))
    }
}

/// Shared context of the containers of one spec.
struct Ctx<'a> {
    vols: Volumes<'a>,
    claims: BTreeSet<&'a str>,
    grace: Option<i64>,
    restart_policy: &'a str,
    host_users: bool,
    opts: &'a PodOpts,
}

/// `ValidatePodSpec`. `pod_meta` is the pod's own metadata (absent for
/// templates).
pub fn validate_pod_spec(
    spec: &Value,
    pod_meta: Option<&Value>,
    path: &str,
    opts: &PodOpts,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let grace = int_of(spec, "terminationGracePeriodSeconds");
    if !present(at(spec, "terminationGracePeriodSeconds")) {
        errs.push(FieldError::required(
            &child(path, "terminationGracePeriodSeconds"),
            "",
        ));
    }
    let sc = at(spec, "securityContext");
    let host_users = at(sc, "hostUsers").as_bool().unwrap_or(true);
    let vols = volumes(&mut errs, spec, pod_meta, &child(path, "volumes"), opts);
    let claims: BTreeSet<&str> = arr(spec, "resourceClaims")
        .iter()
        .map(|c| str_of(c, "name"))
        .filter(|n| !n.is_empty())
        .collect();
    resource_claims(&mut errs, spec, &child(path, "resourceClaims"));
    let ctx = Ctx {
        vols,
        claims,
        grace,
        restart_policy: str_of(spec, "restartPolicy"),
        host_users,
        opts,
    };
    containers(&mut errs, spec, &ctx, &child(path, "containers"));
    init_containers(&mut errs, spec, &ctx, &child(path, "initContainers"));
    ephemeral_containers(&mut errs, spec, &ctx, &child(path, "ephemeralContainers"));
    host_network_deps(&mut errs, spec, path, opts);
    enum_required(
        &mut errs,
        str_of(spec, "restartPolicy"),
        &child(path, "restartPolicy"),
        &["Always", "OnFailure", "Never"],
    );
    enum_required(
        &mut errs,
        str_of(spec, "dnsPolicy"),
        &child(path, "dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    );
    labels(
        &mut errs,
        at(spec, "nodeSelector"),
        &child(path, "nodeSelector"),
    );
    pod_security_context(&mut errs, spec, path, opts);
    affinity(
        &mut errs,
        at(spec, "affinity"),
        &child(path, "affinity"),
        opts,
    );
    dns_config(&mut errs, spec, &child(path, "dnsConfig"));
    for (i, g) in arr(spec, "readinessGates").iter().enumerate() {
        qualified_name(
            &mut errs,
            str_of(g, "conditionType"),
            &child(&idx(&child(path, "readinessGates"), i), "conditionType"),
        );
    }
    let mut seen = HashSet::new();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        let p = idx(&child(path, "schedulingGates"), i);
        let name = str_of(g, "name");
        qualified_name(&mut errs, name, &p);
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
    }
    topology_spread(
        &mut errs,
        spec,
        &child(path, "topologySpreadConstraints"),
        opts,
    );
    windows_host_process(&mut errs, spec, path);
    if !host_users {
        if bool_of(spec, "hostNetwork") {
            errs.push(FieldError::forbidden(
                &child(path, "hostNetwork"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if bool_of(spec, "hostPID") {
            errs.push(FieldError::forbidden(
                &child(path, "HostPID"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if bool_of(spec, "hostIPC") {
            errs.push(FieldError::forbidden(
                &child(path, "HostIPC"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
    }
    for f in ["serviceAccountName", "nodeName"] {
        let v = str_of(spec, f);
        if !v.is_empty() {
            dns_subdomain(&mut errs, v, &child(path, f));
        }
    }
    if let Some(n) = int_of(spec, "activeDeadlineSeconds")
        && !(1..=MAX_INT32).contains(&n)
    {
        errs.push(FieldError::invalid(
            &child(path, "activeDeadlineSeconds"),
            n,
            inclusive_range_error(1, MAX_INT32),
        ));
    }
    for f in ["hostname", "subdomain"] {
        let v = str_of(spec, f);
        if !v.is_empty() {
            dns_label(&mut errs, v, &child(path, f));
        }
    }
    if !arr(spec, "tolerations").is_empty() {
        tolerations(&mut errs, spec, &child(path, "tolerations"));
    }
    for (i, h) in arr(spec, "hostAliases").iter().enumerate() {
        let p = idx(&child(path, "hostAliases"), i);
        net::valid_ip(&mut errs, &child(&p, "ip"), str_of(h, "ip"));
        for (j, name) in arr(h, "hostnames").iter().enumerate() {
            dns_subdomain(
                &mut errs,
                name.as_str().unwrap_or(""),
                &idx(&child(&p, "hostnames"), j),
            );
        }
    }
    let pc = str_of(spec, "priorityClassName");
    if !pc.is_empty() {
        dns_subdomain(&mut errs, pc, &child(path, "priorityClassName"));
    }
    if let Some(rc) = opt_str(spec, "runtimeClassName") {
        dns_subdomain(&mut errs, rc, &child(path, "runtimeClassName"));
    }
    if let Some(pp) = opt_str(spec, "preemptionPolicy") {
        enum_required(
            &mut errs,
            pp,
            &child(path, "preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
        );
    }
    if present(at(spec, "overhead")) {
        limits_only(&mut errs, at(spec, "overhead"), &child(path, "overhead"));
    }
    if present(at(spec, "os")) {
        os(&mut errs, spec, path);
    }
    errs
}

fn host_network_deps(errs: &mut ErrorList, spec: &Value, path: &str, opts: &PodOpts) {
    if !bool_of(spec, "hostNetwork") {
        return;
    }
    let cpath = child(path, "containers");
    for (i, c) in arr(spec, "containers").iter().enumerate() {
        let ppath = child(&idx(&cpath, i), "ports");
        for (j, p) in arr(c, "ports").iter().enumerate() {
            let hp = int_of(p, "hostPort").unwrap_or(0);
            let cp = int_of(p, "containerPort").unwrap_or(0);
            if (opts.resource_is_pod || hp != 0) && hp != cp {
                errs.push(FieldError::invalid(
                    &child(&idx(&ppath, j), "hostPort"),
                    hp,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

fn os(errs: &mut ErrorList, spec: &Value, path: &str) {
    let os_path = child(path, "os");
    let name = str_of(at(spec, "os"), "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            &child(&os_path, "name"),
            "cannot be empty",
        ));
        return;
    }
    if name != "linux" && name != "windows" {
        errs.push(FieldError::not_supported(
            &os_path,
            name,
            &["linux", "windows"],
        ));
        return;
    }
    let sc = at(spec, "securityContext");
    let sc_path = child(path, "securityContext");
    if name == "linux" {
        if present(at(sc, "windowsOptions")) {
            errs.push(FieldError::forbidden(
                &child(&sc_path, "windowsOptions"),
                "windows options cannot be set for a linux pod",
            ));
        }
        for (c, cpath) in containers_with_path(spec, path) {
            if present(at(at(c, "securityContext"), "windowsOptions")) {
                errs.push(FieldError::forbidden(
                    &child(&child(&cpath, "securityContext"), "windowsOptions"),
                    "windows options cannot be set for a linux pod",
                ));
            }
        }
        return;
    }
    let windows = "cannot be set for a windows pod";
    if sc.is_object() {
        for f in ["appArmorProfile", "seLinuxOptions"] {
            if present(at(sc, f)) {
                errs.push(FieldError::forbidden(&child(&sc_path, f), windows));
            }
        }
    }
    if present(at(sc, "hostUsers")) {
        errs.push(FieldError::forbidden(&child(path, "hostUsers"), windows));
    }
    for f in ["hostPID", "hostIPC"] {
        if bool_of(spec, f) {
            errs.push(FieldError::forbidden(&child(path, f), windows));
        }
    }
    for f in ["seccompProfile", "fsGroup", "fsGroupChangePolicy"] {
        if present(at(sc, f)) {
            errs.push(FieldError::forbidden(&child(&sc_path, f), windows));
        }
    }
    if !arr(sc, "sysctls").is_empty() {
        errs.push(FieldError::forbidden(&child(&sc_path, "sysctls"), windows));
    }
    if present(at(spec, "shareProcessNamespace")) {
        errs.push(FieldError::forbidden(
            &child(path, "shareProcessNamespace"),
            windows,
        ));
    }
    for f in [
        "runAsUser",
        "runAsGroup",
        "supplementalGroups",
        "supplementalGroupsPolicy",
        "seLinuxChangePolicy",
    ] {
        if present(at(sc, f)) {
            errs.push(FieldError::forbidden(&child(&sc_path, f), windows));
        }
    }
    for (c, cpath) in containers_with_path(spec, path) {
        let csc = at(c, "securityContext");
        let p = child(&cpath, "securityContext");
        for f in [
            "appArmorProfile",
            "seLinuxOptions",
            "seccompProfile",
            "capabilities",
            "readOnlyRootFilesystem",
            "privileged",
            "allowPrivilegeEscalation",
            "procMount",
            "runAsUser",
            "runAsGroup",
        ] {
            if present(at(csc, f)) {
                errs.push(FieldError::forbidden(&child(&p, f), windows));
            }
        }
    }
}

fn windows_host_process(errs: &mut ErrorList, spec: &Value, path: &str) {
    let pod_hp = at(
        at(at(spec, "securityContext"), "windowsOptions"),
        "hostProcess",
    )
    .as_bool();
    let mut count = 0;
    let mut hp_count = 0;
    for (c, cpath) in containers_with_path(spec, path) {
        count += 1;
        let c_hp = at(
            at(at(c, "securityContext"), "windowsOptions"),
            "hostProcess",
        )
        .as_bool();
        if let (Some(p), Some(ch)) = (pod_hp, c_hp)
            && p != ch
        {
            errs.push(FieldError::invalid(
                &child(&cpath, "securityContext.windowsOptions.hostProcess"),
                ch,
                format!("pod hostProcess value must be identical if both are specified, was {p}"),
            ));
        }
        if c_hp == Some(true) || (c_hp.is_none() && pod_hp == Some(true)) {
            hp_count += 1;
        }
    }
    if hp_count > 0 {
        if hp_count != count {
            errs.push(FieldError::invalid(
                path,
                "",
                "If pod contains any hostProcess containers then all containers must be HostProcess containers",
            ));
        }
        if !bool_of(spec, "hostNetwork") {
            errs.push(FieldError::invalid(
                &child(path, "hostNetwork"),
                false,
                "hostNetwork must be true if pod contains any hostProcess containers",
            ));
        }
        if !privileged_allowed() {
            errs.push(FieldError::forbidden(
                path,
                "hostProcess containers are disallowed by cluster policy",
            ));
        }
    }
}

// ---- volumes ----

/// The volume source members, in upstream's order, with the path segment
/// upstream uses in the "more than 1 volume type" error.
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// `ValidateVolumes`: errors, and the valid volumes by name.
fn volumes<'a>(
    errs: &mut ErrorList,
    spec: &'a Value,
    pod_meta: Option<&Value>,
    path: &str,
    opts: &PodOpts,
) -> Volumes<'a> {
    let list = arr(spec, "volumes");
    let pod_name = pod_meta.map(|m| str_of(m, "name")).unwrap_or("");
    let created_pvcs: HashSet<String> = if pod_name.is_empty() {
        HashSet::new()
    } else {
        list.iter()
            .filter(|v| present(at(v, "ephemeral")))
            .map(|v| format!("{pod_name}-{}", str_of(v, "name")))
            .collect()
    };
    let mut by_name = HashMap::new();
    for (i, vol) in list.iter().enumerate() {
        let p = idx(path, i);
        let name = str_of(vol, "name");
        let mut el = ErrorList::new();
        volume_source(&mut el, vol, &p, name, pod_name, opts);
        let name_path = child(&p, "name");
        if name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            dns_label(&mut el, name, &name_path);
        }
        if by_name.contains_key(name) {
            el.push(FieldError::duplicate(&name_path, name));
        }
        if el.is_empty() {
            by_name.insert(name, vol);
        } else {
            errs.extend(el);
        }
        let claim = str_of(at(vol, "persistentVolumeClaim"), "claimName");
        if present(at(vol, "persistentVolumeClaim")) && created_pvcs.contains(claim) {
            errs.push(FieldError::invalid(
                &child(&child(&p, "persistentVolumeClaim"), "claimName"),
                claim,
                "must not reference a PVC that gets created for an ephemeral volume",
            ));
        }
    }
    Volumes { by_name }
}

fn required_members(errs: &mut ErrorList, v: &Value, path: &str, members: &[&str]) {
    for m in members {
        if !is_set(at(v, m)) {
            errs.push(FieldError::required(&child(path, m), ""));
        }
    }
}

fn file_mode(errs: &mut ErrorList, v: &Value, k: &str, path: &str) {
    if let Some(m) = int_of(v, k)
        && !(0..=0o777).contains(&m)
    {
        errs.push(FieldError::invalid(&child(path, k), m, FILE_MODE_MSG));
    }
}

/// `validateVolumeSource`.
fn volume_source(
    errs: &mut ErrorList,
    vol: &Value,
    path: &str,
    vol_name: &str,
    pod_name: &str,
    opts: &PodOpts,
) {
    let mut count = 0;
    for (member, err_seg) in VOLUME_SOURCES {
        let src = at(vol, member);
        if !present(src) {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                &child(path, err_seg),
                MORE_THAN_ONE_VOLUME,
            ));
            continue;
        }
        count += 1;
        let p = child(path, member);
        match *member {
            "emptyDir" => {
                if let Some(Ok(q)) = quantity::of(at(src, "sizeLimit"))
                    && q.is_negative()
                {
                    errs.push(FieldError::forbidden(
                        &child(&p, "sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => host_path(errs, src, &p),
            "gitRepo" => {
                required_members(errs, src, &p, &["repository"]);
                errs.extend(local_descending_path(
                    str_of(src, "directory"),
                    &child(&p, "directory"),
                ));
            }
            "gcePersistentDisk" => {
                required_members(errs, src, &child(path, "persistentDisk"), &["pdName"]);
                partition(errs, src, &child(path, "persistentDisk"));
            }
            "awsElasticBlockStore" => {
                required_members(errs, src, &p, &["volumeID"]);
                partition(errs, src, &p);
            }
            "secret" => {
                required_members(errs, src, &p, &["secretName"]);
                file_mode(errs, src, "defaultMode", &p);
                for (i, kp) in arr(src, "items").iter().enumerate() {
                    key_to_path(errs, kp, &idx(&child(&p, "items"), i));
                }
            }
            "configMap" => {
                required_members(errs, src, &p, &["name"]);
                file_mode(errs, src, "defaultMode", &p);
                for (i, kp) in arr(src, "items").iter().enumerate() {
                    key_to_path(errs, kp, &idx(&child(&p, "items"), i));
                }
            }
            "nfs" => {
                required_members(errs, src, &p, &["server", "path"]);
                let np = str_of(src, "path");
                if !np.starts_with('/') {
                    errs.push(FieldError::invalid(
                        &child(&p, "path"),
                        np,
                        "must be an absolute path",
                    ));
                }
            }
            "iscsi" => {
                required_members(errs, src, &p, &["targetPortal", "iqn"]);
                lun(errs, src, &p);
                if (bool_of(src, "chapAuthDiscovery") || bool_of(src, "chapAuthSession"))
                    && !present(at(src, "secretRef"))
                {
                    errs.push(FieldError::required(&child(&p, "secretRef"), ""));
                }
                if present(at(src, "initiatorName"))
                    && vol_name.len() + 1 + str_of(src, "targetPortal").len() > 64
                {
                    errs.push(FieldError::invalid(
                        &child(path, "name"),
                        vol_name,
                        "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified.",
                    ));
                }
            }
            "glusterfs" => required_members(errs, src, &p, &["endpoints", "path"]),
            "flocker" => {
                let (n, u) = (str_of(src, "datasetName"), str_of(src, "datasetUUID"));
                if n.is_empty() && u.is_empty() {
                    errs.push(FieldError::required(
                        &p,
                        "one of datasetName and datasetUUID is required",
                    ));
                }
                if !n.is_empty() && !u.is_empty() {
                    errs.push(FieldError::invalid(
                        &p,
                        "resource",
                        "datasetName and datasetUUID can not be specified simultaneously",
                    ));
                }
                if n.contains('/') {
                    errs.push(FieldError::invalid(
                        &child(&p, "datasetName"),
                        n,
                        "must not contain '/'",
                    ));
                }
            }
            "persistentVolumeClaim" => required_members(errs, src, &p, &["claimName"]),
            "rbd" => required_members(errs, src, &p, &["monitors", "image"]),
            "cinder" => {
                required_members(errs, src, &p, &["volumeID"]);
                if present(at(src, "secretRef")) && str_of(at(src, "secretRef"), "name").is_empty()
                {
                    errs.push(FieldError::required(&child(&p, "secretRef.name"), ""));
                }
            }
            "cephfs" => required_members(errs, src, &p, &["monitors"]),
            "quobyte" => {
                if str_of(src, "registry").is_empty() {
                    errs.push(FieldError::required(
                        &child(&p, "registry"),
                        "must be a host:port pair or multiple pairs separated by commas",
                    ));
                }
                required_members(errs, src, &p, &["volume"]);
            }
            "downwardAPI" => {
                file_mode(errs, src, "defaultMode", &p);
                for item in arr(src, "items") {
                    downward_api_file(errs, item, &p);
                }
            }
            "fc" => fc(errs, src, &p),
            "flexVolume" => {
                required_members(errs, src, &p, &["driver"]);
                for (k, _) in sorted_entries(at(src, "options")) {
                    let ns = k.split_once('/').map(|(n, _)| n).unwrap_or(k);
                    let normalized = format!(".{}", ns.to_lowercase());
                    if normalized.ends_with(".kubernetes.io") || normalized.ends_with(".k8s.io") {
                        errs.push(FieldError::invalid(
                            &key(&child(&p, "options"), k),
                            k.as_str(),
                            "kubernetes.io and k8s.io namespaces are reserved",
                        ));
                    }
                }
            }
            "azureFile" => required_members(errs, src, &p, &["secretName", "shareName"]),
            "vsphereVolume" => required_members(errs, src, &p, &["volumePath"]),
            "photonPersistentDisk" => required_members(errs, src, &p, &["pdID"]),
            "portworxVolume" => required_members(errs, src, &p, &["volumeID"]),
            "azureDisk" => required_members(errs, src, &p, &["diskName", "diskURI"]),
            "storageos" => {
                let vn = str_of(src, "volumeName");
                if vn.is_empty() {
                    errs.push(FieldError::required(&child(&p, "volumeName"), ""));
                } else {
                    dns_label(errs, vn, &child(&p, "volumeName"));
                }
                let ns = str_of(src, "volumeNamespace");
                if !ns.is_empty() {
                    dns_label(errs, ns, &child(&p, "volumeNamespace"));
                }
            }
            "projected" => projected(errs, src, &p, opts),
            "scaleIO" => required_members(errs, src, &p, &["gateway", "system", "volumeName"]),
            "csi" => {
                csi_driver_name(errs, str_of(src, "driver"), &child(&p, "driver"));
                let secret = at(src, "nodePublishSecretRef");
                if present(secret) {
                    let n = str_of(secret, "name");
                    if n.is_empty() {
                        errs.push(FieldError::required(
                            &child(&p, "nodePublishSecretRef.name"),
                            "",
                        ));
                    } else {
                        dns_subdomain(errs, n, &child(&p, "name"));
                    }
                }
            }
            "ephemeral" => {
                let t = at(src, "volumeClaimTemplate");
                if !present(t) {
                    errs.push(FieldError::required(&child(&p, "volumeClaimTemplate"), ""));
                } else {
                    pvc_template(errs, t, &child(&p, "volumeClaimTemplate"));
                    if !pod_name.is_empty() && !vol_name.is_empty() {
                        let pvc = format!("{pod_name}-{vol_name}");
                        for m in is_dns1123_subdomain(&pvc) {
                            errs.push(FieldError::invalid(
                                &child(path, "name"),
                                vol_name,
                                format!("PVC name {}: {m}", gofmt::quote(&pvc)),
                            ));
                        }
                    }
                }
            }
            "image" => {
                if opts.resource_is_pod && str_of(src, "reference").is_empty() {
                    errs.push(FieldError::required(&child(&p, "reference"), ""));
                }
                pull_policy(errs, str_of(src, "pullPolicy"), &child(&p, "pullPolicy"));
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
}

/// The persistent-volume sources whose checks are the pod volume ones.
pub(crate) const SHARED_PV_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "flocker",
    "quobyte",
    "fc",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
];

/// Checks one source of [`SHARED_PV_SOURCES`] under `path` (the spec).
pub(crate) fn shared_pv_source(errs: &mut ErrorList, member: &str, src: &Value, path: &str) {
    let mut single = serde_json::Map::new();
    single.insert(member.to_string(), src.clone());
    volume_source(
        errs,
        &Value::Object(single),
        path,
        "",
        "",
        &PodOpts::default(),
    );
}

fn partition(errs: &mut ErrorList, src: &Value, path: &str) {
    if let Some(n) = int_of(src, "partition")
        && !(0..=255).contains(&n)
    {
        errs.push(FieldError::invalid(
            &child(path, "partition"),
            n,
            inclusive_range_error(1, 255),
        ));
    }
}

fn lun(errs: &mut ErrorList, src: &Value, path: &str) {
    if let Some(n) = int_of(src, "lun")
        && !(0..=255).contains(&n)
    {
        errs.push(FieldError::invalid(
            &child(path, "lun"),
            n,
            inclusive_range_error(0, 255),
        ));
    }
}

fn fc(errs: &mut ErrorList, src: &Value, path: &str) {
    let wwns = arr(src, "targetWWNs");
    let wwids = arr(src, "wwids");
    if wwns.is_empty() && wwids.is_empty() {
        errs.push(FieldError::required(
            &child(path, "targetWWNs"),
            "must specify either targetWWNs or wwids, but not both",
        ));
    }
    if !wwns.is_empty() && !wwids.is_empty() {
        errs.push(invalid_raw(
            &child(path, "targetWWNs"),
            gofmt::string_slice("string", at(src, "targetWWNs")),
            "targetWWNs and wwids can not be specified simultaneously",
        ));
    }
    if !wwns.is_empty() {
        if !present(at(src, "lun")) {
            errs.push(FieldError::required(
                &child(path, "lun"),
                "lun is required if targetWWNs is specified",
            ));
        } else {
            lun(errs, src, path);
        }
    }
}

/// `validateHostPathVolumeSource`.
pub(crate) fn host_path(errs: &mut ErrorList, src: &Value, path: &str) {
    let p = str_of(src, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&child(path, "path"), ""));
        return;
    }
    errs.extend(path_no_backsteps(p, &child(path, "path")));
    if let Some(t) = opt_str(src, "type") {
        let valid = [
            "",
            "BlockDevice",
            "CharDevice",
            "Directory",
            "DirectoryOrCreate",
            "File",
            "FileOrCreate",
            "Socket",
        ];
        if !valid.contains(&t) {
            errs.push(FieldError::not_supported(&child(path, "type"), t, &valid));
        }
    }
}

fn key_to_path(errs: &mut ErrorList, kp: &Value, path: &str) {
    required_members(errs, kp, path, &["key", "path"]);
    errs.extend(local_non_reserved_path(
        str_of(kp, "path"),
        &child(path, "path"),
    ));
    file_mode(errs, kp, "mode", path);
}

/// `validatePathNoBacksteps`.
pub(crate) fn path_no_backsteps(p: &str, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    if p.split('/').any(|s| s == "..") {
        errs.push(FieldError::invalid(path, p, "must not contain '..'"));
    }
    errs
}

/// `validateLocalDescendingPath`.
pub(crate) fn local_descending_path(p: &str, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    errs.extend(path_no_backsteps(p, path));
    errs
}

/// `ValidateLocalNonReservedPath`.
pub(crate) fn local_non_reserved_path(p: &str, path: &str) -> ErrorList {
    let mut errs = local_descending_path(p, path);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(FieldError::invalid(path, p, "must not start with '..'"));
    }
    errs
}

const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn downward_api_file(errs: &mut ErrorList, file: &Value, path: &str) {
    if str_of(file, "path").is_empty() {
        errs.push(FieldError::required(&child(path, "path"), ""));
    }
    errs.extend(local_non_reserved_path(
        str_of(file, "path"),
        &child(path, "path"),
    ));
    let field_ref = at(file, "fieldRef");
    let res_ref = at(file, "resourceFieldRef");
    if present(field_ref) {
        object_field_selector(
            errs,
            field_ref,
            VOLUME_FIELD_PATHS,
            &child(path, "fieldRef"),
        );
        if present(res_ref) {
            errs.push(FieldError::invalid(
                path,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
    } else if present(res_ref) {
        resource_field_selector(errs, res_ref, &child(path, "resourceFieldRef"), true);
    } else {
        errs.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        ));
    }
    file_mode(errs, file, "mode", path);
}

/// `fieldpath.SplitMaybeSubscriptedPath`.
fn split_subscript(p: &str) -> Option<(&str, &str)> {
    let s = p.strip_suffix("']")?;
    let (path, sub) = s.split_once("['")?;
    (!path.is_empty()).then_some((path, sub))
}

/// `validateObjectFieldSelector`.
fn object_field_selector(errs: &mut ErrorList, fs: &Value, valid: &[&str], path: &str) {
    let version = str_of(fs, "apiVersion");
    let fp = str_of(fs, "fieldPath");
    if version.is_empty() {
        errs.push(FieldError::required(&child(path, "apiVersion"), ""));
        return;
    }
    if fp.is_empty() {
        errs.push(FieldError::required(&child(path, "fieldPath"), ""));
        return;
    }
    let converted = if version != "v1" {
        Err(format!("unsupported pod version: {version}"))
    } else if let Some((p, _)) = split_subscript(fp) {
        match p {
            "metadata.annotations" | "metadata.labels" => Ok(fp.to_string()),
            _ => Err(format!("field label does not support subscript: {fp}")),
        }
    } else {
        match fp {
            "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.serviceAccountName"
            | "spec.schedulerName"
            | "status.phase"
            | "status.hostIP"
            | "status.hostIPs"
            | "status.podIP"
            | "status.podIPs" => Ok(fp.to_string()),
            "spec.host" => Ok("spec.nodeName".to_string()),
            _ => Err(format!("field label not supported: {fp}")),
        }
    };
    let internal = match converted {
        Ok(p) => p,
        Err(e) => {
            errs.push(FieldError::invalid(
                &child(path, "fieldPath"),
                fp,
                format!("error converting fieldPath: {e}"),
            ));
            return;
        }
    };
    if let Some((p, sub)) = split_subscript(&internal) {
        match p {
            "metadata.annotations" => qualified_name(errs, &sub.to_lowercase(), path),
            "metadata.labels" => qualified_name(errs, sub, path),
            _ => errs.push(FieldError::invalid(path, p, "does not support subscript")),
        }
    } else if !valid.contains(&internal.as_str()) {
        errs.push(FieldError::not_supported(
            &child(path, "fieldPath"),
            internal.as_str(),
            valid,
        ));
    }
}

/// `validateContainerResourceFieldSelector`.
fn resource_field_selector(errs: &mut ErrorList, fs: &Value, path: &str, volume: bool) {
    let res = str_of(fs, "resource");
    if volume && str_of(fs, "containerName").is_empty() {
        errs.push(FieldError::required(&child(path, "containerName"), ""));
    } else if res.is_empty() {
        errs.push(FieldError::required(&child(path, "resource"), ""));
    } else if !RESOURCE_FIELD_PATHS.contains(&res)
        && !res.starts_with("requests.hugepages-")
        && !res.starts_with("limits.hugepages-")
    {
        errs.push(FieldError::not_supported(
            &child(path, "resource"),
            res,
            RESOURCE_FIELD_PATHS,
        ));
    }
    let Some(Ok(divisor)) = quantity::of(at(fs, "divisor")) else {
        return;
    };
    if divisor.is_zero() {
        return;
    }
    let d = divisor.to_string();
    let memory_like = [
        "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
    ];
    let dpath = child(path, "divisor");
    match res {
        "limits.cpu" | "requests.cpu" if d != "1m" && d != "1" => {
            errs.push(FieldError::invalid(
                &dpath,
                res,
                "only divisor's values 1m and 1 are supported with the cpu resource",
            ));
        }
        "limits.memory" | "requests.memory" if !memory_like.contains(&d.as_str()) => {
            errs.push(FieldError::invalid(
                &dpath,
                res,
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
            ));
        }
        "limits.ephemeral-storage" | "requests.ephemeral-storage"
            if !memory_like.contains(&d.as_str()) =>
        {
            errs.push(FieldError::invalid(
                &dpath,
                res,
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
            ));
        }
        _ => {}
    }
    if (res.starts_with("requests.hugepages-") || res.starts_with("limits.hugepages-"))
        && !memory_like.contains(&d.as_str())
    {
        errs.push(FieldError::invalid(
            &dpath,
            res,
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource",
        ));
    }
}

/// `validateProjectedVolumeSource`.
fn projected(errs: &mut ErrorList, src: &Value, path: &str, opts: &PodOpts) {
    file_mode(errs, src, "defaultMode", path);
    let mut all_paths: HashSet<String> = HashSet::new();
    for (i, s) in arr(src, "sources").iter().enumerate() {
        let sp = idx(&child(path, "sources"), i);
        let mut n = 0;
        for kind in ["secret", "configMap"] {
            let ks = at(s, kind);
            if !present(ks) {
                continue;
            }
            n += 1;
            let kp = child(&sp, kind);
            if str_of(ks, "name").is_empty() {
                errs.push(FieldError::required(&child(&kp, "name"), ""));
            }
            for (j, item) in arr(ks, "items").iter().enumerate() {
                key_to_path(errs, item, &idx(&child(&kp, "items"), j));
                let p = str_of(item, "path");
                if !p.is_empty() && !all_paths.insert(p.to_string()) {
                    errs.push(FieldError::invalid(
                        path,
                        str_of(ks, "name"),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        let dapi = at(s, "downwardAPI");
        if present(dapi) {
            n += 1;
            let dp = child(&sp, "downwardAPI");
            for item in arr(dapi, "items") {
                downward_api_file(errs, item, &dp);
                let p = str_of(item, "path");
                if !p.is_empty() && !all_paths.insert(p.to_string()) {
                    errs.push(FieldError::invalid(path, p, "conflicting duplicate paths"));
                }
            }
        }
        let sat = at(s, "serviceAccountToken");
        if present(sat) {
            n += 1;
            let tp = child(&sp, "serviceAccountToken");
            let exp = int_of(sat, "expirationSeconds").unwrap_or(0);
            if exp < 600 {
                errs.push(FieldError::invalid(
                    &child(&tp, "expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                errs.push(FieldError::invalid(
                    &child(&tp, "expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            let p = str_of(sat, "path");
            if p.is_empty() {
                errs.push(FieldError::required(&child(path, "path"), ""));
            } else if !opts.allow_non_local_projected_token_path {
                errs.extend(local_non_reserved_path(p, &child(path, "path")));
            }
        }
        let ctb = at(s, "clusterTrustBundle");
        if present(ctb) {
            n += 1;
            let cp = child(&sp, "clusterTrustBundle");
            match (opt_str(ctb, "name"), opt_str(ctb, "signerName")) {
                (Some(_), Some(_)) => errs.push(invalid_raw(
                    &cp,
                    gofmt::json(ctb),
                    "only one of name and signerName may be used",
                )),
                (Some(name), None) => {
                    if name.is_empty() {
                        errs.push(FieldError::required(
                            &child(&cp, "name"),
                            "must be a valid object name",
                        ));
                    }
                    if present(at(ctb, "labelSelector")) {
                        errs.push(invalid_raw(
                            &child(&cp, "labelSelector"),
                            gofmt::label_selector(at(ctb, "labelSelector")),
                            "labelSelector must be unset if name is specified",
                        ));
                    }
                }
                (None, Some(signer)) => {
                    if signer.is_empty() {
                        errs.push(FieldError::required(
                            &child(&cp, "signerName"),
                            "must be a valid signer name",
                        ));
                    }
                    errs.extend(selector::validate(
                        at(ctb, "labelSelector"),
                        false,
                        &child(&cp, "labelSelector"),
                    ));
                }
                (None, None) => errs.push(FieldError::required(
                    &cp,
                    "either name or signerName must be specified",
                )),
            }
            let p = str_of(ctb, "path");
            if p.is_empty() {
                errs.push(FieldError::required(&child(&cp, "path"), ""));
            }
            errs.extend(local_non_reserved_path(p, &child(&cp, "path")));
            if !all_paths.insert(p.to_string()) {
                errs.push(FieldError::invalid(path, p, "conflicting duplicate paths"));
            }
        }
        if n > 1 {
            errs.push(FieldError::forbidden(
                &sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}

/// `ValidateCSIDriverName`.
pub(crate) fn csi_driver_name(errs: &mut ErrorList, name: &str, path: &str) {
    if name.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    if name.len() > 63 {
        errs.push(FieldError::too_long(path, 63));
    }
    push_msgs(errs, path, name, is_dns1123_subdomain(&name.to_lowercase()));
}

/// `ValidatePersistentVolumeClaimTemplate` (ephemeral volumes).
fn pvc_template(errs: &mut ErrorList, t: &Value, path: &str) {
    let meta = at(t, "metadata");
    let mpath = child(path, "metadata");
    annotations(errs, at(meta, "annotations"), &child(&mpath, "annotations"));
    labels(errs, at(meta, "labels"), &child(&mpath, "labels"));
    template_meta_allow_list(errs, meta, &mpath, "cannot be set");
    errs.extend(super::core::pvc_spec(
        at(t, "spec"),
        &child(path, "spec"),
        false,
    ));
}

/// Forbids every ObjectMeta field other than labels and annotations.
pub(crate) fn template_meta_allow_list(errs: &mut ErrorList, meta: &Value, path: &str, msg: &str) {
    let forbidden = kaiser_apimachinery::meta::OBJECT_META_FIELDS
        .into_iter()
        .filter(|f| !matches!(*f, "labels" | "annotations"));
    for f in forbidden {
        if is_set(at(meta, f)) {
            errs.push(FieldError::forbidden(&child(path, f), msg));
        }
    }
}

fn resource_claims(errs: &mut ErrorList, spec: &Value, path: &str) {
    let mut names = HashSet::new();
    for (i, c) in arr(spec, "resourceClaims").iter().enumerate() {
        let p = idx(path, i);
        let name = str_of(c, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&child(&p, "name"), ""));
        } else if names.contains(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        } else {
            dns_label(errs, name, &child(&p, "name"));
            names.insert(name);
        }
        let rc = opt_str(c, "resourceClaimName");
        let rct = opt_str(c, "resourceClaimTemplateName");
        if rc.is_some() && rct.is_some() {
            errs.push(invalid_raw(
                &p,
                gofmt::json(c),
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified",
            ));
        }
        if rc.is_none() && rct.is_none() {
            errs.push(invalid_raw(
                &p,
                gofmt::json(c),
                "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
            ));
        }
        if let Some(n) = rc {
            dns_subdomain(errs, n, &child(&p, "resourceClaimName"));
        }
        if let Some(n) = rct {
            dns_subdomain(errs, n, &child(&p, "resourceClaimTemplateName"));
        }
    }
}

// ---- containers ----

fn containers(errs: &mut ErrorList, spec: &Value, ctx: &Ctx, path: &str) {
    let list = arr(spec, "containers");
    if list.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let mut names: HashSet<&str> = HashSet::new();
    for (i, c) in list.iter().enumerate() {
        let p = idx(path, i);
        container_common(errs, c, ctx, &p);
        let name = str_of(c, "name");
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        }
        if present(at(c, "lifecycle")) {
            lifecycle(errs, at(c, "lifecycle"), ctx.grace, &child(&p, "lifecycle"));
        }
        probes(errs, c, ctx.grace, &p);
        if present(at(c, "restartPolicy")) {
            errs.push(FieldError::forbidden(
                &child(&p, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    host_port_conflicts(errs, list, path, &mut HashSet::new());
}

fn probes(errs: &mut ErrorList, c: &Value, grace: Option<i64>, p: &str) {
    for (kind, success_one, no_grace) in [
        ("livenessProbe", true, false),
        ("readinessProbe", false, true),
        ("startupProbe", true, false),
    ] {
        let probe = at(c, kind);
        if !present(probe) {
            continue;
        }
        let pp = child(p, kind);
        probe_common(errs, probe, grace, &pp);
        if success_one {
            let s = int_of(probe, "successThreshold").unwrap_or(0);
            if s != 1 {
                errs.push(FieldError::invalid(
                    &child(&pp, "successThreshold"),
                    s,
                    "must be 1",
                ));
            }
        }
        if no_grace && let Some(g) = int_of(probe, "terminationGracePeriodSeconds") {
            errs.push(FieldError::invalid(
                &child(&pp, "terminationGracePeriodSeconds"),
                g,
                "must not be set for readinessProbes",
            ));
        }
    }
}

fn init_containers(errs: &mut ErrorList, spec: &Value, ctx: &Ctx, path: &str) {
    let mut names: HashSet<&str> = arr(spec, "containers")
        .iter()
        .map(|c| str_of(c, "name"))
        .collect();
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        let p = idx(path, i);
        container_common(errs, c, ctx, &p);
        let mut restart_always = false;
        if let Some(rp) = opt_str(c, "restartPolicy") {
            if rp != "Always" {
                errs.push(FieldError::not_supported(
                    &child(&p, "restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
            restart_always = rp == "Always";
        }
        let name = str_of(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        host_port_conflicts(errs, std::slice::from_ref(c), path, &mut HashSet::new());
        if restart_always {
            if present(at(c, "lifecycle")) {
                lifecycle(errs, at(c, "lifecycle"), ctx.grace, &child(&p, "lifecycle"));
            }
            probes(errs, c, ctx.grace, &p);
        } else {
            for f in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if present(at(c, f)) {
                    errs.push(FieldError::forbidden(
                        &child(&p, f),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// Fields of an ephemeral container beyond its allow-list, in Go field order.
const EPHEMERAL_FORBIDDEN: &[&str] = &[
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
];

fn ephemeral_containers(errs: &mut ErrorList, spec: &Value, ctx: &Ctx, path: &str) {
    let list = arr(spec, "ephemeralContainers");
    if list.is_empty() {
        return;
    }
    let mut others: HashSet<&str> = HashSet::new();
    for l in ["containers", "initContainers"] {
        others.extend(arr(spec, l).iter().map(|c| str_of(c, "name")));
    }
    let mut all = others.clone();
    for (i, c) in list.iter().enumerate() {
        let p = idx(path, i);
        container_common(errs, c, ctx, &p);
        image_whitespace(errs, c, &p);
        let name = str_of(c, "name");
        if !all.insert(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        }
        let target = str_of(c, "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            errs.push(not_found(&child(&p, "targetContainerName"), target));
        }
        for f in EPHEMERAL_FORBIDDEN {
            if is_set(at(c, f)) {
                errs.push(FieldError::forbidden(
                    &child(&p, f),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, m) in arr(c, "volumeMounts").iter().enumerate() {
            let mp = idx(&child(&p, "volumeMounts"), j);
            for f in ["subPath", "subPathExpr"] {
                if !str_of(m, f).is_empty() {
                    errs.push(FieldError::forbidden(
                        &child(&mp, f),
                        "cannot be set for an Ephemeral Container",
                    ));
                }
            }
        }
    }
}

fn host_port_conflicts(
    errs: &mut ErrorList,
    list: &[Value],
    path: &str,
    seen: &mut HashSet<String>,
) {
    for (ci, c) in list.iter().enumerate() {
        let ports = child(&idx(path, ci), "ports");
        for (pi, p) in arr(c, "ports").iter().enumerate() {
            let hp = int_of(p, "hostPort").unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let s = format!("{}/{}/{hp}", str_of(p, "protocol"), str_of(p, "hostIP"));
            if seen.contains(&s) {
                errs.push(FieldError::duplicate(
                    &child(&idx(&ports, pi), "hostPort"),
                    s,
                ));
            } else {
                seen.insert(s);
            }
        }
    }
}

/// `validateContainerCommon`.
fn container_common(errs: &mut ErrorList, c: &Value, ctx: &Ctx, path: &str) {
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&child(path, "name"), ""));
    } else {
        dns_label(errs, name, &child(path, "name"));
    }
    if str_of(c, "image").is_empty() {
        errs.push(FieldError::required(&child(path, "image"), ""));
    }
    enum_required(
        errs,
        str_of(c, "terminationMessagePolicy"),
        &child(path, "terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
    );
    let mounts: HashMap<&str, &str> = arr(c, "volumeMounts")
        .iter()
        .map(|m| (str_of(m, "name"), str_of(m, "mountPath")))
        .collect();
    let devices: HashMap<&str, &str> = arr(c, "volumeDevices")
        .iter()
        .map(|d| (str_of(d, "name"), str_of(d, "devicePath")))
        .collect();
    container_ports(errs, c, &child(path, "ports"));
    env(errs, c, &child(path, "env"));
    env_from(errs, c, &child(path, "envFrom"));
    volume_mounts(errs, c, &devices, &ctx.vols, &child(path, "volumeMounts"));
    volume_devices(errs, c, &mounts, &ctx.vols, &child(path, "volumeDevices"));
    pull_policy(
        errs,
        str_of(c, "imagePullPolicy"),
        &child(path, "imagePullPolicy"),
    );
    resources(
        errs,
        at(c, "resources"),
        &ctx.claims,
        &child(path, "resources"),
        ctx.opts,
    );
    resize_policy(errs, c, ctx.restart_policy, &child(path, "resizePolicy"));
    security_context(
        errs,
        at(c, "securityContext"),
        &child(path, "securityContext"),
        ctx.host_users,
    );
}

fn pull_policy(errs: &mut ErrorList, p: &str, path: &str) {
    enum_required(errs, p, path, &["Always", "IfNotPresent", "Never"]);
}

fn container_ports(errs: &mut ErrorList, c: &Value, path: &str) {
    let mut names = HashSet::new();
    for (i, p) in arr(c, "ports").iter().enumerate() {
        let pp = idx(path, i);
        let name = str_of(p, "name");
        if !name.is_empty() {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                push_msgs(errs, &child(&pp, "name"), name, msgs);
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(&child(&pp, "name"), name));
            }
        }
        let cp = int_of(p, "containerPort").unwrap_or(0);
        if cp == 0 {
            errs.push(FieldError::required(&child(&pp, "containerPort"), ""));
        } else if !(1..=65535).contains(&cp) {
            errs.push(FieldError::invalid(
                &child(&pp, "containerPort"),
                cp,
                inclusive_range_error(1, 65535),
            ));
        }
        let hp = int_of(p, "hostPort").unwrap_or(0);
        if hp != 0 && !(1..=65535).contains(&hp) {
            errs.push(FieldError::invalid(
                &child(&pp, "hostPort"),
                hp,
                inclusive_range_error(1, 65535),
            ));
        }
        protocol(errs, str_of(p, "protocol"), &child(&pp, "protocol"));
    }
}

/// The supported port protocols, sorted as upstream lists them.
pub(crate) fn protocol(errs: &mut ErrorList, proto: &str, path: &str) {
    enum_required(errs, proto, path, &["SCTP", "TCP", "UDP"]);
}

/// `IsValidPortName` (IANA_SVC_NAME).
pub(crate) fn port_name_errors(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if port.is_empty()
        || !port
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// `ValidatePortNumOrName` on an int-or-string.
pub(crate) fn port_num_or_name(errs: &mut ErrorList, v: &Value, path: &str) {
    match v {
        Value::String(s) => push_msgs(errs, path, s, port_name_errors(s)),
        other => {
            let n = as_int(other).unwrap_or(0);
            if !(1..=65535).contains(&n) {
                errs.push(FieldError::invalid(
                    path,
                    n,
                    inclusive_range_error(1, 65535),
                ));
            }
        }
    }
}

fn relaxed_env_name(errs: &mut ErrorList, name: &str, path: &str) {
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(FieldError::invalid(path, name, RELAXED_ENV_MSG));
    }
}

fn env(errs: &mut ErrorList, c: &Value, path: &str) {
    for (i, e) in arr(c, "env").iter().enumerate() {
        let p = idx(path, i);
        let name = str_of(e, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&child(&p, "name"), ""));
        } else {
            relaxed_env_name(errs, name, &child(&p, "name"));
        }
        let vf = at(e, "valueFrom");
        if !present(vf) {
            continue;
        }
        let vp = child(&p, "valueFrom");
        let mut n = 0;
        if present(at(vf, "fieldRef")) {
            n += 1;
            object_field_selector(
                errs,
                at(vf, "fieldRef"),
                ENV_FIELD_PATHS,
                &child(&vp, "fieldRef"),
            );
        }
        if present(at(vf, "resourceFieldRef")) {
            n += 1;
            resource_field_selector(
                errs,
                at(vf, "resourceFieldRef"),
                &child(&vp, "resourceFieldRef"),
                false,
            );
        }
        for kind in ["configMapKeyRef", "secretKeyRef"] {
            let s = at(vf, kind);
            if !present(s) {
                continue;
            }
            n += 1;
            let kp = child(&vp, kind);
            let name = str_of(s, "name");
            dns_subdomain(errs, name, &child(&kp, "name"));
            let k = str_of(s, "key");
            if k.is_empty() {
                errs.push(FieldError::required(&child(&kp, "key"), ""));
            } else {
                push_msgs(errs, &child(&kp, "key"), k, config_map_key_errors(k));
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !str_of(e, "value").is_empty() {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

/// `IsConfigMapKey`.
pub(crate) fn config_map_key_errors(k: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if k.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if k.is_empty()
        || !k
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".into());
    }
    if k == "." {
        errs.push("must not be '.'".into());
    } else if k == ".." {
        errs.push("must not be '..'".into());
    } else if k.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

fn env_from(errs: &mut ErrorList, c: &Value, path: &str) {
    for (i, e) in arr(c, "envFrom").iter().enumerate() {
        let p = idx(path, i);
        let prefix = str_of(e, "prefix");
        if !prefix.is_empty() {
            relaxed_env_name(errs, prefix, &child(&p, "prefix"));
        }
        let mut n = 0;
        for kind in ["configMapRef", "secretRef"] {
            let s = at(e, kind);
            if !present(s) {
                continue;
            }
            n += 1;
            let np = child(&child(&p, kind), "name");
            let name = str_of(s, "name");
            if name.is_empty() {
                errs.push(FieldError::required(&np, ""));
            } else {
                push_msgs(
                    errs,
                    &np,
                    name,
                    kaiser_apimachinery::validation::name_is_dns_subdomain(name, true),
                );
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn volume_mounts(
    errs: &mut ErrorList,
    c: &Value,
    devices: &HashMap<&str, &str>,
    vols: &Volumes,
    path: &str,
) {
    let privileged = at(at(c, "securityContext"), "privileged").as_bool() == Some(true);
    let mut mount_points = HashSet::new();
    for (i, m) in arr(c, "volumeMounts").iter().enumerate() {
        let p = idx(path, i);
        let name = str_of(m, "name");
        let mount_path = str_of(m, "mountPath");
        if name.is_empty() {
            errs.push(FieldError::required(&child(&p, "name"), ""));
        }
        if !vols.has(name) {
            errs.push(not_found(&child(&p, "name"), name));
        }
        if mount_path.is_empty() {
            errs.push(FieldError::required(&child(&p, "mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(FieldError::invalid(
                &child(&p, "mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        if devices.contains_key(name) {
            errs.push(FieldError::invalid(
                &child(&p, "name"),
                name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.values().any(|d| *d == mount_path) {
            errs.push(FieldError::invalid(
                &child(&p, "mountPath"),
                mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub = str_of(m, "subPath");
        let sub_expr = str_of(m, "subPathExpr");
        if vols.is_image(name) {
            if !sub.is_empty() {
                errs.push(FieldError::invalid(
                    &child(&p, "subPath"),
                    sub,
                    "not allowed in image volume sources",
                ));
            }
            if !sub_expr.is_empty() {
                errs.push(FieldError::invalid(
                    &child(&p, "subPathExpr"),
                    sub_expr,
                    "not allowed in image volume sources",
                ));
            }
        }
        // Upstream reports these under the list path, not the item's.
        if !sub.is_empty() {
            errs.extend(local_descending_path(sub, &child(path, "subPath")));
        }
        if !sub_expr.is_empty() {
            if !sub.is_empty() {
                errs.push(FieldError::invalid(
                    &child(&p, "subPathExpr"),
                    sub_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(local_descending_path(sub_expr, &child(path, "subPathExpr")));
        }
        let prop = at(m, "mountPropagation");
        if let Some(mp) = prop.as_str() {
            let pp = child(path, "mountPropagation");
            let valid = ["Bidirectional", "HostToContainer", "None"];
            if !valid.contains(&mp) {
                errs.push(FieldError::not_supported(&pp, mp, &valid));
            }
            if mp == "Bidirectional" && !privileged {
                errs.push(FieldError::forbidden(
                    &pp,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = opt_str(m, "recursiveReadOnly") {
            let rp = child(path, "recursiveReadOnly");
            match rro {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if !bool_of(m, "readOnly") {
                        errs.push(FieldError::forbidden(
                            &rp,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if prop.as_str().is_some_and(|p| p != "None") {
                        errs.push(FieldError::forbidden(
                            &rp,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                other => errs.push(FieldError::not_supported(
                    &rp,
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
}

fn volume_devices(
    errs: &mut ErrorList,
    c: &Value,
    mounts: &HashMap<&str, &str>,
    vols: &Volumes,
    path: &str,
) {
    let mut paths = HashSet::new();
    let mut names = HashSet::new();
    for (i, d) in arr(c, "volumeDevices").iter().enumerate() {
        let p = idx(path, i);
        let name = str_of(d, "name");
        let dev_path = str_of(d, "devicePath");
        if name.is_empty() {
            errs.push(FieldError::required(&child(&p, "name"), ""));
        }
        if names.contains(name) {
            errs.push(FieldError::invalid(
                &child(&p, "name"),
                name,
                "must be unique",
            ));
        }
        let matched = vols.has(name);
        if matched && !vols.is_pvc(name) {
            errs.push(FieldError::invalid(
                &child(&p, "name"),
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            ));
        }
        if !matched {
            errs.push(not_found(&child(&p, "name"), name));
        }
        if dev_path.is_empty() {
            errs.push(FieldError::required(&child(&p, "devicePath"), ""));
        }
        if paths.contains(dev_path) {
            errs.push(FieldError::invalid(
                &child(&p, "devicePath"),
                dev_path,
                "must be unique",
            ));
        }
        if !dev_path.is_empty() && dev_path.split('/').any(|s| s == "..") {
            errs.push(FieldError::invalid(
                &child(&p, "devicePath"),
                dev_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(dev_path);
        }
        if mounts.contains_key(name) {
            errs.push(FieldError::invalid(
                &child(&p, "name"),
                name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.values().any(|m| *m == dev_path) {
            errs.push(FieldError::invalid(
                &child(&p, "devicePath"),
                dev_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

// ---- resources ----

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

pub(crate) fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

pub(crate) fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

pub(crate) fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

pub(crate) fn is_standard_resource(name: &str) -> bool {
    STANDARD_RESOURCES.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepages(name)
}

/// `validateResourceName`.
pub(crate) fn resource_name(errs: &mut ErrorList, name: &str, path: &str) -> bool {
    let msgs = is_qualified_name(name);
    if !msgs.is_empty() {
        push_msgs(errs, path, name, msgs);
        return false;
    }
    if !name.contains('/') && !is_standard_resource(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    true
}

/// `validateContainerResourceName`.
pub(crate) fn container_resource_name(errs: &mut ErrorList, name: &str, path: &str) {
    resource_name(errs, name, path);
    if !name.contains('/') {
        if !(["cpu", "memory", "ephemeral-storage"].contains(&name) || is_hugepages(name)) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// Parses a quantity member, reporting a syntax error at `path`.
pub(crate) fn parse_quantity(errs: &mut ErrorList, v: &Value, path: &str) -> Option<Quantity> {
    match quantity::of(v)? {
        Ok(q) => Some(q),
        Err(e) => {
            let shown = match v {
                Value::String(s) => Value::from(s.as_str()),
                other => other.clone(),
            };
            errs.push(FieldError::invalid(path, shown, e.message()));
            None
        }
    }
}

/// `ValidateResourceQuantityValue`.
pub(crate) fn resource_quantity_value(errs: &mut ErrorList, name: &str, q: &Quantity, path: &str) {
    if q.is_negative() {
        errs.push(FieldError::invalid(
            path,
            q.to_string(),
            super::NEGATIVE_MSG,
        ));
    }
    if (INTEGER_RESOURCES.contains(&name) || is_extended_resource(name))
        && q.milli_value() % 1000 != 0
    {
        errs.push(invalid_raw(path, q.go_repr(), "must be an integer"));
    }
}

fn hugepages_divisible(name: &str, q: &Quantity) -> bool {
    let Some(size) = name
        .strip_prefix("hugepages-")
        .and_then(|s| quantity::parse(s).ok())
    else {
        return false;
    };
    if size.is_negative() || size.is_zero() || size.milli_value() % 1000 != 0 {
        return false;
    }
    let s = size.value();
    s != 0 && q.value() % s == 0
}

/// Resource requirements with limits only (pod and RuntimeClass overhead).
pub(crate) fn limits_only(errs: &mut ErrorList, limits: &Value, path: &str) {
    let req = serde_json::json!({ "limits": limits });
    resources(errs, &req, &BTreeSet::new(), path, &PodOpts::default());
}

/// `ValidateContainerResourceRequirements`.
fn resources(
    errs: &mut ErrorList,
    req: &Value,
    claims: &BTreeSet<&str>,
    path: &str,
    opts: &PodOpts,
) {
    let lim_path = child(path, "limits");
    let req_path = child(path, "requests");
    let mut lim_cpu_mem = false;
    let mut req_cpu_mem = false;
    let mut lim_huge = false;
    let mut req_huge = false;
    let mut limits: HashMap<&str, Quantity> = HashMap::new();
    for (name, v) in sorted_entries(at(req, "limits")) {
        let p = key(&lim_path, name);
        container_resource_name(errs, name, &p);
        let Some(q) = parse_quantity(errs, v, &p) else {
            continue;
        };
        resource_quantity_value(errs, name, &q, &p);
        if is_hugepages(name) {
            lim_huge = true;
            if !opts.allow_indivisible_hugepages && !hugepages_divisible(name, &q) {
                errs.push(FieldError::invalid(
                    &p,
                    q.to_string(),
                    format!("{q} is not positive integer multiple of {name}"),
                ));
            }
        }
        if name == "cpu" || name == "memory" {
            lim_cpu_mem = true;
        }
        limits.insert(name, q);
    }
    for (name, v) in sorted_entries(at(req, "requests")) {
        let p = key(&req_path, name);
        container_resource_name(errs, name, &p);
        let Some(q) = parse_quantity(errs, v, &p) else {
            continue;
        };
        resource_quantity_value(errs, name, &q, &p);
        match limits.get(name.as_str()) {
            Some(l) => {
                let c = q.compare(l);
                if c.is_ne() && !is_overcommit_allowed(name) {
                    errs.push(FieldError::invalid(
                        &req_path,
                        q.to_string(),
                        format!("must be equal to {name} limit of {l}"),
                    ));
                } else if c.is_gt() {
                    errs.push(FieldError::invalid(
                        &req_path,
                        q.to_string(),
                        format!("must be less than or equal to {name} limit of {l}"),
                    ));
                }
            }
            None => {
                if !is_overcommit_allowed(name) {
                    errs.push(FieldError::required(
                        &lim_path,
                        "Limit must be set for non overcommitable resources",
                    ));
                }
            }
        }
        if is_hugepages(name) {
            req_huge = true;
            if !opts.allow_indivisible_hugepages && !hugepages_divisible(name, &q) {
                errs.push(FieldError::invalid(
                    &p,
                    q.to_string(),
                    format!("{q} is not positive integer multiple of {name}"),
                ));
            }
        }
        if name == "cpu" || name == "memory" {
            req_cpu_mem = true;
        }
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_huge || lim_huge) {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    resource_claim_names(errs, req, claims, &child(path, "claims"));
}

fn resource_claim_names(errs: &mut ErrorList, req: &Value, claims: &BTreeSet<&str>, path: &str) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (i, c) in arr(req, "claims").iter().enumerate() {
        let p = idx(path, i);
        let name = str_of(c, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
            continue;
        }
        if names.contains(name) {
            errs.push(FieldError::duplicate(&p, name));
        } else {
            let request = str_of(c, "request");
            let mut k = name.to_string();
            if !request.is_empty() {
                dns_label(errs, request, &child(&p, "request"));
                k = format!("{name}/{request}");
            }
            if names.contains(&k) {
                errs.push(FieldError::duplicate(&p, k.as_str()));
            } else if request.is_empty() {
                for existing in &names {
                    if existing.split_once('/').is_some_and(|(c, _)| c == name) {
                        errs.push(FieldError::duplicate(&p, name));
                    }
                }
            }
            names.insert(k);
        }
        if !claims.contains(name) {
            let mut e = not_found(&p, name);
            e.detail = "must be one of the names in pod.spec.resourceClaims".into();
            if claims.is_empty() {
                e.detail.push_str(" which is empty");
            } else {
                let list: Vec<&str> = claims.iter().copied().collect();
                e.detail.push_str(&format!(": {}", list.join(", ")));
            }
            errs.push(e);
        }
    }
}

fn resize_policy(errs: &mut ErrorList, c: &Value, restart_policy: &str, path: &str) {
    let mut seen = HashSet::new();
    for (i, p) in arr(c, "resizePolicy").iter().enumerate() {
        let rn = str_of(p, "resourceName");
        if !seen.insert(rn) {
            errs.push(FieldError::duplicate(&idx(path, i), rn));
        }
        enum_required(errs, rn, path, &["cpu", "memory"]);
        let rp = str_of(p, "restartPolicy");
        enum_required(errs, rp, path, &["NotRequired", "RestartContainer"]);
        if restart_policy == "Never" && rp != "NotRequired" {
            errs.push(FieldError::invalid(
                path,
                rp,
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
}

// ---- probes and handlers ----

fn probe_common(errs: &mut ErrorList, probe: &Value, grace: Option<i64>, path: &str) {
    handler(errs, probe, grace, path, false);
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        nonneg(errs, int_of(probe, f).unwrap_or(0), &child(path, f));
    }
    if let Some(g) = int_of(probe, "terminationGracePeriodSeconds")
        && g <= 0
    {
        errs.push(FieldError::invalid(
            &child(path, "terminationGracePeriodSeconds"),
            g,
            "must be greater than 0",
        ));
    }
}

fn lifecycle(errs: &mut ErrorList, lc: &Value, grace: Option<i64>, path: &str) {
    for hook in ["postStart", "preStop"] {
        if present(at(lc, hook)) {
            handler(errs, at(lc, hook), grace, &child(path, hook), true);
        }
    }
}

/// `validateHandler`: exactly one action. Probes offer gRPC, lifecycle
/// hooks offer sleep.
fn handler(errs: &mut ErrorList, h: &Value, grace: Option<i64>, path: &str, lifecycle: bool) {
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    let mut n = 0;
    for kind in kinds {
        let a = at(h, kind);
        if !present(a) {
            continue;
        }
        let p = child(path, kind);
        if n > 0 {
            errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        n += 1;
        match *kind {
            "exec" if arr(a, "command").is_empty() => {
                errs.push(FieldError::required(&child(&p, "command"), ""));
            }
            "httpGet" => {
                if str_of(a, "path").is_empty() {
                    errs.push(FieldError::required(&child(&p, "path"), ""));
                }
                port_num_or_name(errs, at(a, "port"), &child(&p, "port"));
                let scheme = str_of(a, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(
                        &child(&p, "scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for hdr in arr(a, "httpHeaders") {
                    let name = str_of(hdr, "name");
                    if name.is_empty()
                        || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    {
                        errs.push(FieldError::invalid(
                            &child(&p, "httpHeaders"),
                            name,
                            "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
                        ));
                    }
                }
            }
            "tcpSocket" => port_num_or_name(errs, at(a, "port"), &child(&p, "port")),
            "grpc" => {
                let port = Value::from(int_of(a, "port").unwrap_or(0));
                port_num_or_name(errs, &port, &child(&p, "port"));
            }
            "sleep" => {
                let secs = int_of(a, "seconds").unwrap_or(0);
                if let Some(g) = grace
                    && (secs < 0 || secs > g)
                {
                    errs.push(FieldError::invalid(
                        &p,
                        secs,
                        format!(
                            "must be non-negative and less than terminationGracePeriodSeconds ({g})"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
}

// ---- security contexts ----

fn id_range(errs: &mut ErrorList, v: &Value, k: &str, path: &str) {
    if let Some(n) = int_of(v, k)
        && !(0..=MAX_UID).contains(&n)
    {
        errs.push(FieldError::invalid(
            &child(path, k),
            n,
            inclusive_range_error(0, MAX_UID),
        ));
    }
}

fn seccomp_profile(errs: &mut ErrorList, sp: &Value, path: &str) {
    if !present(sp) {
        return;
    }
    let t = str_of(sp, "type");
    let valid = ["Localhost", "RuntimeDefault", "Unconfined"];
    if t.is_empty() {
        errs.push(FieldError::required(
            &child(path, "type"),
            "type is required when seccompProfile is set",
        ));
    } else if !valid.contains(&t) {
        errs.push(FieldError::not_supported(&child(path, "type"), t, &valid));
    }
    if t == "Localhost" {
        match opt_str(sp, "localhostProfile") {
            None => errs.push(FieldError::required(
                &child(path, "localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(p) => errs.extend(local_descending_path(p, &child(path, "localhostProfile"))),
        }
    } else if present(at(sp, "localhostProfile")) {
        errs.push(invalid_raw(
            &child(path, "localhostProfile"),
            format!(
                "core.SeccompProfile{{Type:{}, LocalhostProfile:{}}}",
                gofmt::quote(t),
                gofmt::string_pointer(at(sp, "localhostProfile"))
            ),
            "can only be set when seccomp type is Localhost",
        ));
    }
}

fn apparmor_profile(errs: &mut ErrorList, p: &Value, path: &str) {
    if !present(p) {
        return;
    }
    let lp = at(p, "localhostProfile");
    match str_of(p, "type") {
        "Localhost" => match lp.as_str() {
            None => errs.push(FieldError::required(
                &child(path, "localhostProfile"),
                "must be set when AppArmor type is Localhost",
            )),
            Some(s) => {
                if s.trim() != s {
                    errs.push(FieldError::invalid(
                        &child(path, "localhostProfile"),
                        s,
                        "must not be padded with whitespace",
                    ));
                } else if s.is_empty() {
                    errs.push(FieldError::required(
                        &child(path, "localhostProfile"),
                        "must be set when AppArmor type is Localhost",
                    ));
                }
                if s.len() > 4095 {
                    errs.push(FieldError::too_long(&child(path, "localhostProfile"), 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(s) = lp.as_str() {
                errs.push(FieldError::invalid(
                    &child(path, "localhostProfile"),
                    s,
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => errs.push(FieldError::required(
            &child(path, "type"),
            "type is required when appArmorProfile is set",
        )),
        other => errs.push(FieldError::not_supported(
            &child(path, "type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
}

fn windows_options(errs: &mut ErrorList, w: &Value, path: &str) {
    if !present(w) {
        return;
    }
    if let Some(n) = opt_str(w, "gmsaCredentialSpecName") {
        push_msgs(
            errs,
            &child(path, "gmsaCredentialSpecName"),
            n,
            is_dns1123_subdomain(n),
        );
    }
    if let Some(s) = opt_str(w, "gmsaCredentialSpec") {
        if s.is_empty() {
            errs.push(FieldError::invalid(
                &child(path, "gmsaCredentialSpec"),
                s,
                "gmsaCredentialSpec cannot be an empty string",
            ));
        } else if s.len() > 64 * 1024 {
            errs.push(FieldError::invalid(
                &child(path, "gmsaCredentialSpec"),
                s,
                "gmsaCredentialSpec size must be under 64 KiB",
            ));
        }
    }
    if let Some(u) = opt_str(w, "runAsUserName") {
        let p = child(path, "runAsUserName");
        let parts: Vec<&str> = u.split('\\').collect();
        if u.is_empty() {
            errs.push(FieldError::invalid(
                &p,
                u,
                "runAsUserName cannot be an empty string",
            ));
        } else if u.chars().any(|c| c.is_control()) {
            errs.push(FieldError::invalid(
                &p,
                u,
                "runAsUserName cannot contain control characters",
            ));
        } else if parts.len() > 2 {
            errs.push(FieldError::invalid(
                &p,
                u,
                "runAsUserName cannot contain more than one backslash",
            ));
        } else {
            let (domain, user) = if parts.len() == 2 {
                (Some(parts[0]), parts[1])
            } else {
                (None, parts[0])
            };
            if domain.is_some_and(|d| d.len() >= 256) {
                errs.push(FieldError::invalid(
                    &p,
                    u,
                    "runAsUserName's Domain length must be under 256 characters",
                ));
            }
            if let Some(d) = domain
                && !(netbios_domain(d) || dns_domain(d))
            {
                errs.push(FieldError::invalid(
                    &p,
                    u,
                    "runAsUserName's Domain doesn't match the NetBios nor the DNS format",
                ));
            }
            if user.is_empty() {
                errs.push(FieldError::invalid(
                    &p,
                    u,
                    "runAsUserName's User cannot be empty",
                ));
            } else if user.len() > 104 {
                errs.push(FieldError::invalid(
                    &p,
                    u,
                    "runAsUserName's User length must not be longer than 104 characters",
                ));
            }
            if !user.is_empty() && user.chars().all(|c| c == '.' || c == ' ') {
                errs.push(FieldError::invalid(
                    &p,
                    u,
                    "runAsUserName's User cannot contain only periods or spaces",
                ));
            }
            if user.chars().any(|c| "\"/\\:;|=,+*?<>@[]".contains(c)) {
                errs.push(FieldError::invalid(
                    &p,
                    u,
                    "runAsUserName's User cannot contain the following characters: \"/\\:;|=,+*?<>@[]",
                ));
            }
        }
    }
}

fn netbios_domain(d: &str) -> bool {
    let bad = |c: char| "\\/:*?\"<>|".contains(c);
    let mut chars = d.chars();
    match chars.next() {
        Some(c) if !bad(c) && c != '.' => {}
        _ => return false,
    }
    d.chars().count() <= 15 && chars.all(|c| !bad(c))
}

fn dns_domain(d: &str) -> bool {
    !d.is_empty()
        && d.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// Whether privileged and hostProcess containers are allowed
/// (`--allow-privileged`, false by default as upstream's). Process-wide,
/// like upstream's capabilities, and set once at start-up.
static ALLOW_PRIVILEGED: AtomicBool = AtomicBool::new(false);

/// Sets `--allow-privileged` for every later validation.
pub fn set_allow_privileged(allow: bool) {
    ALLOW_PRIVILEGED.store(allow, Ordering::Relaxed);
}

fn privileged_allowed() -> bool {
    ALLOW_PRIVILEGED.load(Ordering::Relaxed)
}

/// `ValidateSecurityContext` (containers).
fn security_context(errs: &mut ErrorList, sc: &Value, path: &str, host_users: bool) {
    if !present(sc) {
        return;
    }
    if at(sc, "privileged").as_bool() == Some(true) && !privileged_allowed() {
        errs.push(FieldError::forbidden(
            &child(path, "privileged"),
            "disallowed by cluster policy",
        ));
    }
    id_range(errs, sc, "runAsUser", path);
    id_range(errs, sc, "runAsGroup", path);
    if let Some(pm) = opt_str(sc, "procMount") {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(FieldError::not_supported(
                &child(path, "procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && pm == "Unmasked" {
            errs.push(FieldError::invalid(
                &child(path, "procMount"),
                pm,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    seccomp_profile(
        errs,
        at(sc, "seccompProfile"),
        &child(path, "seccompProfile"),
    );
    if at(sc, "allowPrivilegeEscalation").as_bool() == Some(false) {
        if at(sc, "privileged").as_bool() == Some(true) {
            errs.push(invalid_raw(
                path,
                gofmt::json(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        for cap in arr(at(sc, "capabilities"), "add") {
            if cap.as_str() == Some("CAP_SYS_ADMIN") {
                errs.push(invalid_raw(
                    path,
                    gofmt::json(sc),
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                ));
            }
        }
    }
    windows_options(
        errs,
        at(sc, "windowsOptions"),
        &child(path, "windowsOptions"),
    );
    apparmor_profile(
        errs,
        at(sc, "appArmorProfile"),
        &child(path, "appArmorProfile"),
    );
}

/// `validatePodSpecSecurityContext`; v1 keeps the host namespaces on the
/// spec, upstream's internal type in the security context.
fn pod_security_context(errs: &mut ErrorList, spec: &Value, spec_path: &str, opts: &PodOpts) {
    let sc = at(spec, "securityContext");
    if !sc.is_object() {
        return;
    }
    let path = child(spec_path, "securityContext");
    id_range(errs, sc, "fsGroup", &path);
    id_range(errs, sc, "runAsUser", &path);
    id_range(errs, sc, "runAsGroup", &path);
    for (i, g) in arr(sc, "supplementalGroups").iter().enumerate() {
        let n = as_int(g).unwrap_or(0);
        if !(0..=MAX_UID).contains(&n) {
            errs.push(FieldError::invalid(
                &idx(&child(&path, "supplementalGroups"), i),
                n,
                inclusive_range_error(0, MAX_UID),
            ));
        }
    }
    if at(spec, "shareProcessNamespace").as_bool() == Some(true) && bool_of(spec, "hostPID") {
        errs.push(FieldError::invalid(
            &child(&path, "shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    if !arr(sc, "sysctls").is_empty() {
        sysctls(errs, spec, &child(&path, "sysctls"), opts);
    }
    enum_optional(
        errs,
        at(sc, "fsGroupChangePolicy"),
        &child(&path, "fsGroupChangePolicy"),
        &["Always", "OnRootMismatch"],
    );
    seccomp_profile(
        errs,
        at(sc, "seccompProfile"),
        &child(&path, "seccompProfile"),
    );
    windows_options(
        errs,
        at(sc, "windowsOptions"),
        &child(&path, "windowsOptions"),
    );
    apparmor_profile(
        errs,
        at(sc, "appArmorProfile"),
        &child(&path, "appArmorProfile"),
    );
    enum_optional(
        errs,
        at(sc, "supplementalGroupsPolicy"),
        &child(&path, "supplementalGroupsPolicy"),
        &["Merge", "Strict"],
    );
    // Only "Recursive" while the SELinuxMount gate is off (1.33's default).
    enum_optional(
        errs,
        at(sc, "seLinuxChangePolicy"),
        &child(&path, "seLinuxChangePolicy"),
        &["Recursive"],
    );
}

fn sysctl_name_ok(name: &str) -> bool {
    if name.len() > 253 {
        return false;
    }
    // segments of [a-z0-9]([-_a-z0-9]*[a-z0-9])? joined by '.' or '/'
    name.split(['.', '/']).all(|seg| {
        let b = seg.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
    })
}

fn sysctls(errs: &mut ErrorList, spec: &Value, path: &str, opts: &PodOpts) {
    let sc = at(spec, "securityContext");
    let mut names = HashSet::new();
    for (i, s) in arr(sc, "sysctls").iter().enumerate() {
        let p = child(&idx(path, i), "name");
        let name = str_of(s, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if !sysctl_name_ok(name) {
            errs.push(FieldError::invalid(
                &p,
                name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if names.contains(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
        if !opts.allow_namespaced_sysctls_for_host {
            let normalized = name.replace('/', ".");
            let net = normalized.starts_with("net.");
            let ipc = normalized.starts_with("kernel.shm")
                || normalized.starts_with("kernel.msg")
                || normalized == "kernel.sem"
                || normalized.starts_with("fs.mqueue.");
            if bool_of(spec, "hostNetwork") && net {
                errs.push(FieldError::invalid(
                    &p,
                    name,
                    "may not be specified when 'hostNetwork' is true",
                ));
            } else if bool_of(spec, "hostIPC") && ipc {
                errs.push(FieldError::invalid(
                    &p,
                    name,
                    "may not be specified when 'hostIPC' is true",
                ));
            }
        }
        names.insert(name);
    }
}

// ---- scheduling ----

/// `ValidateTolerations` on `v.tolerations`.
pub(crate) fn tolerations(errs: &mut ErrorList, spec: &Value, path: &str) {
    for (i, t) in arr(spec, "tolerations").iter().enumerate() {
        let p = idx(path, i);
        let k = str_of(t, "key");
        let op = str_of(t, "operator");
        let effect = str_of(t, "effect");
        let value = str_of(t, "value");
        if !k.is_empty() {
            qualified_name(errs, k, &child(&p, "key"));
        }
        if k.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                &child(&p, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if present(at(t, "tolerationSeconds")) && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &child(&p, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &child(&p, "operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &child(&p, "operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &child(&p, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            taint_effect(errs, effect, &child(&p, "effect"));
        }
    }
}

pub(crate) fn taint_effect(errs: &mut ErrorList, effect: &str, path: &str) {
    let valid = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
    if !valid.contains(&effect) {
        errs.push(FieldError::not_supported(path, effect, &valid));
    }
}

fn affinity(errs: &mut ErrorList, a: &Value, path: &str, opts: &PodOpts) {
    if !present(a) {
        return;
    }
    let na = at(a, "nodeAffinity");
    if present(na) {
        let np = child(path, "nodeAffinity");
        let req = at(na, "requiredDuringSchedulingIgnoredDuringExecution");
        if present(req) {
            node_selector(
                errs,
                req,
                opts.allow_invalid_label_value_in_required_node_affinity,
                &child(&np, "requiredDuringSchedulingIgnoredDuringExecution"),
            );
        }
        let pp = child(&np, "preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            let w = int_of(t, "weight").unwrap_or(0);
            if !(1..=100).contains(&w) {
                errs.push(FieldError::invalid(
                    &child(&idx(&pp, i), "weight"),
                    w,
                    "must be in the range 1-100",
                ));
            }
            node_selector_term(
                errs,
                at(t, "preference"),
                true,
                &child(&idx(&pp, i), "preference"),
            );
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let pa = at(a, kind);
        if !present(pa) {
            continue;
        }
        let kp = child(path, kind);
        let rp = child(&kp, "requiredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in arr(pa, "requiredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            pod_affinity_term(
                errs,
                t,
                opts.allow_invalid_label_value_in_selector,
                &idx(&rp, i),
            );
        }
        let wp = child(&kp, "preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in arr(pa, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            let w = int_of(t, "weight").unwrap_or(0);
            if !(1..=100).contains(&w) {
                errs.push(FieldError::invalid(
                    &child(&idx(&wp, i), "weight"),
                    w,
                    "must be in the range 1-100",
                ));
            }
            pod_affinity_term(
                errs,
                at(t, "podAffinityTerm"),
                opts.allow_invalid_label_value_in_selector,
                &child(&idx(&wp, i), "podAffinityTerm"),
            );
        }
    }
}

/// `ValidateNodeSelector`.
pub(crate) fn node_selector(errs: &mut ErrorList, ns: &Value, allow_invalid: bool, path: &str) {
    let tp = child(path, "nodeSelectorTerms");
    let terms = arr(ns, "nodeSelectorTerms");
    if terms.is_empty() {
        errs.push(FieldError::required(
            &tp,
            "must have at least one node selector term",
        ));
        return;
    }
    for (i, t) in terms.iter().enumerate() {
        node_selector_term(errs, t, allow_invalid, &idx(&tp, i));
    }
}

fn node_selector_term(errs: &mut ErrorList, t: &Value, allow_invalid: bool, path: &str) {
    let mp = child(path, "matchExpressions");
    for (j, r) in arr(t, "matchExpressions").iter().enumerate() {
        let p = idx(&mp, j);
        let values = arr(r, "values");
        match str_of(r, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &child(&p, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &child(&p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            "Gt" | "Lt" => {
                if values.len() != 1 {
                    errs.push(FieldError::required(
                        &child(&p, "values"),
                        "must be specified single value when `operator` is 'Lt' or 'Gt'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                &child(&p, "operator"),
                other,
                "not a valid selector operator",
            )),
        }
        qualified_name(errs, str_of(r, "key"), &child(&p, "key"));
        if !allow_invalid {
            for (k, v) in values.iter().enumerate() {
                let v = v.as_str().unwrap_or("");
                for m in is_valid_label_value(v) {
                    errs.push(FieldError::invalid(&idx(&child(&p, "values"), k), v, m));
                }
            }
        }
    }
    let fp = child(path, "matchFields");
    for (j, r) in arr(t, "matchFields").iter().enumerate() {
        let p = idx(&fp, j);
        let values = arr(r, "values");
        match str_of(r, "operator") {
            "In" | "NotIn" => {
                if values.len() != 1 {
                    errs.push(FieldError::required(
                        &child(&p, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                &child(&p, "operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let k = str_of(r, "key");
        if k != "metadata.name" {
            errs.push(FieldError::invalid(
                &child(&p, "key"),
                k,
                "not a valid field selector key",
            ));
        } else {
            for (i, v) in values.iter().enumerate() {
                dns_subdomain(
                    errs,
                    v.as_str().unwrap_or(""),
                    &idx(&child(&p, "values"), i),
                );
            }
        }
    }
}

fn pod_affinity_term(errs: &mut ErrorList, t: &Value, allow_invalid: bool, path: &str) {
    errs.extend(selector::validate(
        at(t, "labelSelector"),
        allow_invalid,
        &child(path, "labelSelector"),
    ));
    errs.extend(selector::validate(
        at(t, "namespaceSelector"),
        allow_invalid,
        &child(path, "namespaceSelector"),
    ));
    for ns in arr(t, "namespaces") {
        let n = ns.as_str().unwrap_or("");
        push_msgs(errs, &child(path, "namespace"), n, is_dns1123_label(n));
    }
    match_label_keys(errs, t, path);
    let tk = str_of(t, "topologyKey");
    if tk.is_empty() {
        errs.push(FieldError::required(
            &child(path, "topologyKey"),
            "can not be empty",
        ));
    }
    qualified_name(errs, tk, &child(path, "topologyKey"));
}

/// `validateMatchLabelKeysAndMismatchLabelKeys`.
fn match_label_keys(errs: &mut ErrorList, t: &Value, path: &str) {
    let sel = at(t, "labelSelector");
    let mk = super::strings(t, "matchLabelKeys");
    let mmk = super::strings(t, "mismatchLabelKeys");
    for (f, keys) in [("matchLabelKeys", &mk), ("mismatchLabelKeys", &mmk)] {
        if keys.is_empty() {
            continue;
        }
        let p = child(path, f);
        if !present(sel) {
            errs.push(FieldError::forbidden(
                &p,
                "must not be specified when labelSelector is not set",
            ));
            continue;
        }
        for (i, k) in keys.iter().enumerate() {
            qualified_name(errs, k, &idx(&p, i));
        }
    }
    if present(sel) {
        let positions: HashMap<&str, usize> = mk.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let mut keys: HashSet<&str> = at(sel, "matchLabels")
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        for r in arr(sel, "matchExpressions") {
            let k = str_of(r, "key");
            if let Some(i) = positions.get(k)
                && keys.contains(k)
            {
                errs.push(FieldError::invalid(
                    &idx(path, *i),
                    k,
                    "exists in both matchLabelKeys and labelSelector",
                ));
            }
            keys.insert(k);
        }
    }
    let mismatched: HashSet<&str> = mmk.iter().copied().collect();
    for (i, k) in mk.iter().enumerate() {
        if mismatched.contains(k) {
            errs.push(FieldError::invalid(
                &idx(&child(path, "matchLabelKeys"), i),
                *k,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
}

fn topology_spread(errs: &mut ErrorList, spec: &Value, path: &str, opts: &PodOpts) {
    let list = arr(spec, "topologySpreadConstraints");
    for (i, c) in list.iter().enumerate() {
        let p = idx(path, i);
        let skew = int_of(c, "maxSkew").unwrap_or(0);
        if skew <= 0 {
            errs.push(FieldError::invalid(
                &child(&p, "maxSkew"),
                skew,
                "must be greater than zero",
            ));
        }
        let tk = str_of(c, "topologyKey");
        if tk.is_empty() {
            errs.push(FieldError::required(
                &child(&p, "topologyKey"),
                "can not be empty",
            ));
        }
        let wu = str_of(c, "whenUnsatisfiable");
        let actions = ["DoNotSchedule", "ScheduleAnyway"];
        if !actions.contains(&wu) {
            errs.push(FieldError::not_supported(
                &child(&p, "whenUnsatisfiable"),
                wu,
                &actions,
            ));
        }
        if list[i + 1..]
            .iter()
            .any(|o| str_of(o, "topologyKey") == tk && str_of(o, "whenUnsatisfiable") == wu)
        {
            errs.push(FieldError::duplicate(
                &child(&p, "{topologyKey, whenUnsatisfiable}"),
                format!("{{{tk}, {wu}}}"),
            ));
        }
        if let Some(md) = int_of(c, "minDomains") {
            let mp = child(&p, "minDomains");
            if md <= 0 {
                errs.push(FieldError::invalid(&mp, md, "must be greater than zero"));
            }
            if wu != "DoNotSchedule" {
                errs.push(FieldError::invalid(
                    &mp,
                    md,
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {wu}"),
                ));
            }
        }
        for f in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            enum_optional(errs, at(c, f), &child(&p, f), &["Honor", "Ignore"]);
        }
        let mk = super::strings(c, "matchLabelKeys");
        if !mk.is_empty() {
            let kp = child(&p, "matchLabelKeys");
            let sel = at(c, "labelSelector");
            let mut keys: HashSet<&str> = HashSet::new();
            if present(sel) {
                keys.extend(
                    at(sel, "matchLabels")
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k.as_str()),
                );
                keys.extend(
                    arr(sel, "matchExpressions")
                        .iter()
                        .map(|r| str_of(r, "key")),
                );
            } else {
                errs.push(FieldError::forbidden(
                    &kp,
                    "must not be specified when labelSelector is not set",
                ));
            }
            for (j, k) in mk.iter().enumerate() {
                qualified_name(errs, k, &idx(&kp, j));
                if keys.contains(k) {
                    errs.push(FieldError::invalid(
                        &idx(&kp, j),
                        *k,
                        "exists in both matchLabelKeys and labelSelector",
                    ));
                }
            }
        }
        if !opts.allow_invalid_topology_selector {
            errs.extend(selector::validate(
                at(c, "labelSelector"),
                false,
                &child(&p, "labelSelector"),
            ));
        }
    }
}

fn dns_config(errs: &mut ErrorList, spec: &Value, path: &str) {
    let cfg = at(spec, "dnsConfig");
    if str_of(spec, "dnsPolicy") == "None" {
        if !present(cfg) {
            errs.push(FieldError::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return;
        }
        if arr(cfg, "nameservers").is_empty() {
            errs.push(FieldError::required(
                &child(path, "nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return;
        }
    }
    if !present(cfg) {
        return;
    }
    let ns = arr(cfg, "nameservers");
    if ns.len() > 3 {
        errs.push(invalid_raw(
            &child(path, "nameservers"),
            gofmt::string_slice("string", at(cfg, "nameservers")),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, n) in ns.iter().enumerate() {
        net::valid_ip(
            errs,
            &idx(&child(path, "nameservers"), i),
            n.as_str().unwrap_or(""),
        );
    }
    let searches = super::strings(cfg, "searches");
    let sp = child(path, "searches");
    if searches.len() > 32 {
        errs.push(invalid_raw(
            &sp,
            gofmt::string_slice("string", at(cfg, "searches")),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(invalid_raw(
            &sp,
            gofmt::string_slice("string", at(cfg, "searches")),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        if *s == "." {
            continue;
        }
        let s = s.strip_suffix('.').unwrap_or(s);
        let msgs = subdomain_with_underscore(s);
        push_msgs(errs, &idx(&sp, i), s, msgs);
    }
    for (i, o) in arr(cfg, "options").iter().enumerate() {
        if str_of(o, "name").is_empty() {
            errs.push(FieldError::required(
                &idx(&child(path, "options"), i),
                "must not be empty",
            ));
        }
    }
}

/// `IsDNS1123SubdomainWithUnderscore`.
fn subdomain_with_underscore(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > 253 {
        msgs.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        let l = l.strip_prefix('_').unwrap_or(l);
        let b = l.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && alnum(b[0])
            && alnum(b[b.len() - 1])
            && b.iter().all(|&c| alnum(c) || c == b'-' || c == b'_')
    };
    if s.is_empty() || !s.split('.').all(label_ok) {
        msgs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')".into());
    }
    msgs
}

/// The template's labels as Go prints a `map[string]string`.
pub(crate) fn template_labels(template: &Value) -> String {
    gofmt::string_map(at(at(template, "metadata"), "labels"))
}

/// The "`selector` does not match template `labels`" error.
pub(crate) fn selector_mismatch(template: &Value, template_path: &str) -> FieldError {
    invalid_raw(
        &child(&child(template_path, "metadata"), "labels"),
        template_labels(template),
        "`selector` does not match template `labels`",
    )
}

mod status;
pub use status::validate_pod_status_update;

#[cfg(test)]
mod tests;
