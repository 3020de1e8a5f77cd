//! storage.k8s.io/v1 StorageClasses and CSIDrivers (upstream's
//! `pkg/apis/storage/validation`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::{
    IMMUTABLE_MSG, arr, at, child, enum_optional, idx, int_of, opt_str, pod, present,
    qualified_name, sem_eq, sorted_entries, str_of,
};

// ---- StorageClass ----

fn storage_class(errs: &mut ErrorList, sc: &Value) {
    let prov = str_of(sc, "provisioner");
    if prov.is_empty() {
        errs.push(FieldError::required("provisioner", ""));
    } else {
        qualified_name(errs, &prov.to_lowercase(), "provisioner");
    }
    let params = at(sc, "parameters");
    let entries = sorted_entries(params);
    if entries.len() > 512 {
        errs.push(FieldError::too_long("parameters", 512));
    } else {
        let mut total = 0;
        for (k, v) in &entries {
            if k.is_empty() {
                errs.push(FieldError::invalid(
                    "parameters",
                    k.as_str(),
                    "field can not be empty.",
                ));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > 256 * 1024 {
            errs.push(FieldError::too_long("parameters", 256 * 1024));
        }
    }
    if let Some(rp) = opt_str(sc, "reclaimPolicy")
        && !rp.is_empty()
    {
        enum_optional(
            errs,
            at(sc, "reclaimPolicy"),
            "reclaimPolicy",
            &["Delete", "Retain"],
        );
    }
    match opt_str(sc, "volumeBindingMode") {
        None => errs.push(FieldError::required("volumeBindingMode", "")),
        Some(m) => {
            let valid = ["Immediate", "WaitForFirstConsumer"];
            if !valid.contains(&m) {
                errs.push(FieldError::not_supported("volumeBindingMode", m, &valid));
            }
        }
    }
    let mut seen: Vec<BTreeMap<&str, BTreeSet<&str>>> = Vec::new();
    for (i, term) in arr(sc, "allowedTopologies").iter().enumerate() {
        let p = idx("allowedTopologies", i);
        let ep = child(&p, "matchLabelExpressions");
        let mut map: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (j, r) in arr(term, "matchLabelExpressions").iter().enumerate() {
            let rp = idx(&ep, j);
            let vp = child(&rp, "values");
            let values = arr(r, "values");
            if values.is_empty() {
                errs.push(FieldError::required(&vp, ""));
            }
            let mut set = BTreeSet::new();
            for (k, v) in values.iter().enumerate() {
                let v = v.as_str().unwrap_or("");
                if !set.insert(v) {
                    errs.push(FieldError::duplicate(&idx(&vp, k), v));
                }
            }
            let k = str_of(r, "key");
            qualified_name(errs, k, &child(&rp, "key"));
            if map.contains_key(k) {
                errs.push(FieldError::duplicate(&child(&rp, "key"), k));
            }
            map.insert(k, set);
        }
        if seen.contains(&map) {
            errs.push(FieldError::duplicate(&ep, ""));
        }
        seen.push(map);
    }
}

/// `ValidateStorageClass`.
pub fn validate_storage_class(sc: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    storage_class(&mut errs, sc);
    errs
}

/// `ValidateStorageClassUpdate`: parameters, provisioner, reclaim policy
/// and binding mode never change.
pub fn validate_storage_class_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    if !sem_eq(at(new, "parameters"), at(old, "parameters")) {
        errs.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if str_of(new, "provisioner") != str_of(old, "provisioner") {
        errs.push(FieldError::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if str_of(new, "reclaimPolicy") != str_of(old, "reclaimPolicy") {
        errs.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    if opt_str(new, "volumeBindingMode") != opt_str(old, "volumeBindingMode") {
        errs.push(FieldError::invalid(
            "volumeBindingMode",
            at(new, "volumeBindingMode").clone(),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

// ---- CSIDriver ----

fn csi_driver_spec(errs: &mut ErrorList, spec: &Value) {
    // Upstream's path says "attachedRequired".
    for (f, p) in [
        ("attachRequired", "spec.attachedRequired"),
        ("podInfoOnMount", "spec.podInfoOnMount"),
        ("storageCapacity", "spec.storageCapacity"),
    ] {
        if !present(at(spec, f)) {
            errs.push(FieldError::required(p, ""));
        }
    }
    enum_optional(
        errs,
        at(spec, "fsGroupPolicy"),
        "spec.fsGroupPolicy",
        &["File", "None", "ReadWriteOnceWithFSType"],
    );
    let mut audiences = HashSet::new();
    for (i, t) in arr(spec, "tokenRequests").iter().enumerate() {
        let p = idx("spec.tokenRequests", i);
        let a = str_of(t, "audience");
        if !audiences.insert(a) {
            errs.push(FieldError::duplicate(&child(&p, "audience"), a));
        }
        if let Some(e) = int_of(t, "expirationSeconds") {
            if e < 600 {
                errs.push(FieldError::invalid(
                    &child(&p, "expirationSeconds"),
                    e,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if e > 1 << 32 {
                errs.push(FieldError::invalid(
                    &child(&p, "expirationSeconds"),
                    e,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
        }
    }
    for (i, m) in arr(spec, "volumeLifecycleModes").iter().enumerate() {
        let m = m.as_str().unwrap_or("");
        if m != "Ephemeral" && m != "Persistent" {
            errs.push(FieldError::not_supported(
                &idx("spec.volumeLifecycleModes", i),
                m,
                &["Ephemeral", "Persistent"],
            ));
        }
    }
}

/// `ValidateCSIDriver`.
pub fn validate_csi_driver(d: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    // Upstream reports the driver name under `name`, not `metadata.name`.
    pod::csi_driver_name(&mut errs, str_of(at(d, "metadata"), "name"), "name");
    csi_driver_spec(&mut errs, at(d, "spec"));
    errs
}

/// `ValidateCSIDriverUpdate`: attachRequired and the lifecycle modes are
/// immutable.
pub fn validate_csi_driver_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_csi_driver(new);
    let (n, o) = (at(new, "spec"), at(old, "spec"));
    if at(n, "attachRequired") != at(o, "attachRequired") {
        errs.push(FieldError::invalid(
            "spec.attachRequired",
            at(n, "attachRequired").clone(),
            IMMUTABLE_MSG,
        ));
    }
    if !sem_eq(at(n, "volumeLifecycleModes"), at(o, "volumeLifecycleModes")) {
        errs.push(super::invalid_raw(
            "spec.volumeLifecycleModes",
            super::gofmt::string_slice(
                "storage.VolumeLifecycleMode",
                at(n, "volumeLifecycleModes"),
            ),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::{assert_errs, assert_has};
    use serde_json::json;

    #[test]
    fn storage_class_rules() {
        let ok = json!({"provisioner": "kubernetes.io/no-provisioner", "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer", "parameters": {"type": "gp3"}});
        assert!(validate_storage_class(&ok).is_empty());
        let bad = json!({"reclaimPolicy": "Recycle", "volumeBindingMode": "Later"});
        assert_errs(
            &validate_storage_class(&bad),
            &[
                "provisioner: Required value",
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
            ],
        );
        let mut changed = ok.clone();
        changed["parameters"]["type"] = json!("io2");
        changed["provisioner"] = json!("ebs.csi.aws.com");
        assert_errs(
            &validate_storage_class_update(&changed, &ok),
            &[
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden.",
            ],
        );
    }

    #[test]
    fn csi_driver_rules() {
        let d = json!({"metadata": {"name": "csi.example.com"}, "spec": {"attachRequired": true,
            "podInfoOnMount": false, "storageCapacity": false, "fsGroupPolicy": "ReadWriteOnceWithFSType",
            "volumeLifecycleModes": ["Persistent"]}});
        assert!(validate_csi_driver(&d).is_empty());
        let mut changed = d.clone();
        changed["spec"]["attachRequired"] = json!(false);
        changed["spec"]["volumeLifecycleModes"] = json!(["Bogus"]);
        let errs = validate_csi_driver_update(&changed, &d);
        assert_has(
            &errs,
            "spec.volumeLifecycleModes[0]: Unsupported value: \"Bogus\": supported values: \"Ephemeral\", \"Persistent\"",
        );
        assert_has(
            &errs,
            "spec.attachRequired: Invalid value: false: field is immutable",
        );
        assert_has(
            &validate_csi_driver(&json!({"metadata": {"name": "x"}, "spec": {}})),
            "spec.attachedRequired: Required value",
        );
    }
}
