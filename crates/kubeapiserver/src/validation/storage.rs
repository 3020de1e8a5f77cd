//! storage.k8s.io/v1 StorageClasses, CSIDrivers, VolumeAttachments,
//! CSINodes and CSIStorageCapacities (upstream's
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

// ---- VolumeAttachment ----

const MAX_ATTACHMENT_METADATA: usize = 256 * 1024;
const MAX_VOLUME_ERROR_MESSAGE: usize = 1024;

fn volume_attachment(errs: &mut ErrorList, va: &Value) {
    let spec = at(va, "spec");
    let attacher = str_of(spec, "attacher");
    if attacher.is_empty() {
        errs.push(FieldError::required("spec.attacher", ""));
    }
    let source = at(spec, "source");
    let pv = at(source, "persistentVolumeName");
    let inline = at(source, "inlineVolumeSpec");
    let exactly_one = "must specify exactly one of inlineVolumeSpec and persistentVolumeName";
    match (present(inline), present(pv)) {
        (false, false) => errs.push(FieldError::required("spec.source", exactly_one)),
        (true, true) => errs.push(FieldError::forbidden("spec.source", exactly_one)),
        (false, true) => {
            if pv.as_str() == Some("") {
                errs.push(FieldError::required(
                    "spec.source.persistentVolumeName",
                    "must specify non empty persistentVolumeName",
                ));
            }
        }
        (true, false) => errs.extend(super::core::pv_spec_at(
            inline,
            "",
            false,
            &super::core::PvSpecAt {
                path: "spec.source.inlineVolumeSpec",
                inline: true,
            },
        )),
    }
    super::dns_subdomain(errs, str_of(spec, "nodeName"), "spec.nodeName");
    let status = at(va, "status");
    let size: usize = sorted_entries(at(status, "attachmentMetadata"))
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > MAX_ATTACHMENT_METADATA {
        errs.push(FieldError::too_long(
            "status.attachmentMetadata",
            MAX_ATTACHMENT_METADATA,
        ));
    }
    for e in ["attachError", "detachError"] {
        if str_of(at(status, e), "message").len() > MAX_VOLUME_ERROR_MESSAGE {
            // Upstream reports the metadata limit here.
            errs.push(FieldError::too_long(
                &format!("status.{e}.message"),
                MAX_ATTACHMENT_METADATA,
            ));
        }
    }
    // v1's own checks.
    pod::csi_driver_name(errs, attacher, "spec.attacher");
    if let Some(name) = pv.as_str() {
        super::dns_subdomain(errs, name, "spec.source.persistentVolumeName");
    }
}

/// `ValidateVolumeAttachment` and `ValidateVolumeAttachmentV1`.
pub fn validate_volume_attachment(va: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    volume_attachment(&mut errs, va);
    errs
}

/// `ValidateVolumeAttachmentUpdate`: the spec never changes (also the
/// status subresource's check).
pub fn validate_volume_attachment_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_volume_attachment(new);
    if !sem_eq(at(new, "spec"), at(old, "spec")) {
        errs.push(super::invalid_raw(
            "spec",
            super::gofmt::json(at(new, "spec")),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

// ---- CSINode ----

const CSI_NODE_ID_MAX: usize = 256;

fn csi_node(errs: &mut ErrorList, node: &Value) {
    let mut names = HashSet::new();
    for (i, d) in arr(at(node, "spec"), "drivers").iter().enumerate() {
        let p = idx("spec.drivers", i);
        let name = str_of(d, "name");
        pod::csi_driver_name(errs, name, &child(&p, "name"));
        let id = str_of(d, "nodeID");
        let ip = child(&p, "nodeID");
        if id.is_empty() {
            errs.push(FieldError::required(&ip, ""));
        }
        if id.len() > CSI_NODE_ID_MAX {
            errs.push(FieldError::invalid(
                &ip,
                id,
                format!("must be {CSI_NODE_ID_MAX} characters or less"),
            ));
        }
        if let Some(n) = int_of(at(d, "allocatable"), "count") {
            super::nonneg(errs, n, &child(&p, "allocatable.count"));
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        }
        let mut keys = HashSet::new();
        for k in super::strings(d, "topologyKeys") {
            if k.is_empty() {
                errs.push(FieldError::required(&p, ""));
            }
            if !keys.insert(k) {
                errs.push(FieldError::duplicate(&p, k));
            }
            qualified_name(errs, k, &p);
        }
    }
}

/// `ValidateCSINode` (long node IDs allowed, as upstream's strategy does).
pub fn validate_csi_node(node: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    csi_node(&mut errs, node);
    errs
}

/// `ValidateCSINodeUpdate`: drivers already listed never change.
pub fn validate_csi_node_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_csi_node(new);
    let new_drivers = arr(at(new, "spec"), "drivers");
    for o in arr(at(old, "spec"), "drivers") {
        for n in new_drivers {
            if str_of(o, "name") == str_of(n, "name") && !sem_eq(o, n) {
                errs.push(super::invalid_raw(
                    "CSINodeDriver",
                    super::gofmt::json(n),
                    IMMUTABLE_MSG,
                ));
            }
        }
    }
    errs
}

// ---- CSIStorageCapacity ----

fn storage_capacity(errs: &mut ErrorList, c: &Value, allow_invalid_labels: bool) {
    errs.extend(super::selector::validate(
        at(c, "nodeTopology"),
        allow_invalid_labels,
        "nodeTopology",
    ));
    super::dns_subdomain(errs, str_of(c, "storageClassName"), "storageClassName");
    if let Some(Ok(q)) = super::quantity::of(at(c, "capacity"))
        && q.is_negative()
    {
        errs.push(FieldError::invalid(
            "capacity",
            q.to_string(),
            super::NEGATIVE_MSG,
        ));
    }
}

/// `ValidateCSIStorageCapacity`.
pub fn validate_csi_storage_capacity(c: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    storage_capacity(&mut errs, c, false);
    errs
}

/// `ValidateCSIStorageCapacityUpdate`: topology and class never change.
pub fn validate_csi_storage_capacity_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let allow = super::selector::has_invalid_label_value(at(old, "nodeTopology"));
    storage_capacity(&mut errs, new, allow);
    if !sem_eq(at(new, "nodeTopology"), at(old, "nodeTopology")) {
        errs.push(super::invalid_raw(
            "nodeTopology",
            super::gofmt::label_selector(at(new, "nodeTopology")),
            IMMUTABLE_MSG,
        ));
    }
    if str_of(new, "storageClassName") != str_of(old, "storageClassName") {
        errs.push(FieldError::invalid(
            "storageClassName",
            str_of(new, "storageClassName"),
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

    #[test]
    fn volume_attachments() {
        let va = json!({"spec": {"attacher": "csi.example.com", "nodeName": "node-1",
            "source": {"persistentVolumeName": "pv-1"}}, "status": {"attached": false}});
        assert!(validate_volume_attachment(&va).is_empty());
        assert_errs(
            &validate_volume_attachment(&json!({"spec": {"source": {}}})),
            &[
                "spec.attacher: Required value",
                "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName",
                "spec.nodeName: Invalid value: \"\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.attacher: Required value",
                "spec.attacher: Invalid value: \"\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ],
        );
        let inline = json!({"spec": {"attacher": "csi.example.com", "nodeName": "n",
            "source": {"inlineVolumeSpec": {"capacity": {"storage": "1Gi"}, "claimRef": {"name": "c"},
                "accessModes": ["ReadWriteOnce"]}}}});
        assert_errs(
            &validate_volume_attachment(&inline),
            &[
                "spec.source.inlineVolumeSpec.claimRef: Forbidden: may not be specified in the context of inline volumes",
                "spec.source.inlineVolumeSpec.capacity: Forbidden: may not be specified in the context of inline volumes",
                "spec.source.inlineVolumeSpec.csi: Required value: has to be specified in the context of inline volumes",
                "spec.source.inlineVolumeSpec: Required value: must specify a volume type",
            ],
        );
        let mut moved = va.clone();
        moved["spec"]["nodeName"] = json!("node-2");
        moved["status"]["attachError"] = json!({"message": "x".repeat(1025)});
        let errs = validate_volume_attachment_update(&moved, &va);
        assert_has(
            &errs,
            "status.attachError.message: Too long: may not be more than 262144 bytes",
        );
        assert_has(
            &errs,
            &format!("spec: Invalid value: {}: field is immutable", moved["spec"]),
        );
    }

    #[test]
    fn csi_nodes() {
        let node = json!({"spec": {"drivers": [{"name": "csi.example.com", "nodeID": "n1",
            "topologyKeys": ["topology.example.com/zone"], "allocatable": {"count": 5}}]}});
        assert!(validate_csi_node(&node).is_empty());
        let bad = json!({"spec": {"drivers": [
            {"name": "csi.example.com", "nodeID": "", "topologyKeys": ["k", "k", ""], "allocatable": {"count": -1}},
            {"name": "csi.example.com", "nodeID": "x".repeat(257)}]}});
        assert_errs(
            &validate_csi_node(&bad),
            &[
                "spec.drivers[0].nodeID: Required value",
                "spec.drivers[0].allocatable.count: Invalid value: -1: must be greater than or equal to 0",
                "spec.drivers[0]: Duplicate value: \"k\"",
                "spec.drivers[0]: Required value",
                "spec.drivers[0]: Invalid value: \"\": name part must be non-empty",
                "spec.drivers[0]: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                &format!(
                    "spec.drivers[1].nodeID: Invalid value: \"{}\": must be 256 characters or less",
                    "x".repeat(257)
                ),
                "spec.drivers[1].name: Duplicate value: \"csi.example.com\"",
            ],
        );
        let mut changed = node.clone();
        changed["spec"]["drivers"][0]["nodeID"] = json!("n2");
        assert_errs(
            &validate_csi_node_update(&changed, &node),
            &[&format!(
                "CSINodeDriver: Invalid value: {}: field is immutable",
                changed["spec"]["drivers"][0]
            )],
        );
    }

    #[test]
    fn csi_storage_capacities() {
        let c = json!({"storageClassName": "fast", "capacity": "10Gi",
            "nodeTopology": {"matchLabels": {"topology.example.com/zone": "a"}}});
        assert!(validate_csi_storage_capacity(&c).is_empty());
        assert_errs(
            &validate_csi_storage_capacity(&json!({"storageClassName": "Fast!", "capacity": "-1"})),
            &[
                "storageClassName: Invalid value: \"Fast!\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "capacity: Invalid value: \"-1\": must be greater than or equal to 0",
            ],
        );
        let mut changed = c.clone();
        changed["storageClassName"] = json!("slow");
        changed["nodeTopology"] = json!({});
        assert_errs(
            &validate_csi_storage_capacity_update(&changed, &c),
            &[
                "nodeTopology: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
                "storageClassName: Invalid value: \"slow\": field is immutable",
            ],
        );
    }
}
