//! APIServices (apiregistration.k8s.io): the name is `<version>.<group>`,
//! priorities are in range, and a local APIService (no `spec.service`)
//! carries no TLS settings (upstream's `ValidateAPIService`); status writes
//! carry only known condition statuses (`ValidateAPIServiceStatus`).

use base64::Engine;
use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::{is_dns1123_subdomain, is_valid_path_segment_name};
use serde_json::Value;

use super::{at, bool_of, int_of, present, str_of};

const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// `IsDNS1035Label`: messages, empty when valid.
fn dns1035_label(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last().is_some_and(|c| *c != b'-')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        out.push(DNS1035_MSG.to_string());
    }
    out
}

/// The decoded length of `spec.caBundle` (base64 on the wire).
fn ca_bundle_len(spec: &Value) -> usize {
    let text = str_of(spec, "caBundle");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_or(text.len(), |b| b.len())
}

pub fn validate_api_service(obj: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(obj, "spec");
    let group = str_of(spec, "group");
    let version = str_of(spec, "version");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let required = format!("{version}.{group}");
    if is_valid_path_segment_name(name).is_empty() && name != required {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            format!("must be `spec.version+\".\"+spec.group`: {required:?}"),
        ));
    }
    if group.is_empty() && version != "v1" {
        errs.push(FieldError::required(
            "spec.group",
            "only v1 may have an empty group and it better be legacy kube",
        ));
    }
    if !group.is_empty() {
        for m in is_dns1123_subdomain(group) {
            errs.push(FieldError::invalid("spec.group", group, m));
        }
    }
    for m in dns1035_label(version) {
        errs.push(FieldError::invalid("spec.version", version, m));
    }
    let gp = int_of(spec, "groupPriorityMinimum").unwrap_or(0);
    if gp <= 0 || gp > 20000 {
        errs.push(FieldError::invalid(
            "spec.groupPriorityMinimum",
            gp,
            "must be positive and less than 20000",
        ));
    }
    let vp = int_of(spec, "versionPriority").unwrap_or(0);
    if vp <= 0 || vp > 1000 {
        errs.push(FieldError::invalid(
            "spec.versionPriority",
            vp,
            "must be positive and less than 1000",
        ));
    }
    let insecure = bool_of(spec, "insecureSkipTLSVerify");
    let ca_len = ca_bundle_len(spec);
    let service = at(spec, "service");
    if !present(service) {
        if ca_len != 0 {
            errs.push(FieldError::invalid(
                "spec.caBundle",
                format!("{ca_len} bytes"),
                "local APIServices may not have a caBundle",
            ));
        }
        if insecure {
            errs.push(FieldError::invalid(
                "spec.insecureSkipTLSVerify",
                true,
                "local APIServices may not have insecureSkipTLSVerify",
            ));
        }
        return errs;
    }
    if str_of(service, "namespace").is_empty() {
        errs.push(FieldError::required("spec.service.namespace", ""));
    }
    if str_of(service, "name").is_empty() {
        errs.push(FieldError::required("spec.service.name", ""));
    }
    if insecure && ca_len > 0 {
        errs.push(FieldError::invalid(
            "spec.insecureSkipTLSVerify",
            true,
            "may not be true if caBundle is present",
        ));
    }
    errs
}

pub fn validate_api_service_update(new: &Value, _old: &Value) -> ErrorList {
    validate_api_service(new)
}

/// `ValidateAPIServiceStatus`: every condition's status is True, False or
/// Unknown.
pub fn validate_api_service_status(obj: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let conditions = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, c) in conditions.iter().enumerate() {
        let status = str_of(c, "status");
        if !matches!(status, "True" | "False" | "Unknown") {
            errs.push(FieldError::not_supported(
                &format!("status.conditions[{i}].status"),
                status,
                &["True", "False", "Unknown"],
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(obj: &Value) -> String {
        validate_api_service(obj).to_string()
    }

    #[test]
    fn valid_remote_and_local_api_services_pass() {
        let remote = json!({"metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                "service": {"namespace": "kube-system", "name": "metrics-server", "port": 443},
                "insecureSkipTLSVerify": true, "groupPriorityMinimum": 100, "versionPriority": 100}});
        assert!(
            validate_api_service(&remote).is_empty(),
            "{}",
            messages(&remote)
        );
        let core = json!({"metadata": {"name": "v1."},
            "spec": {"version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}});
        assert!(
            validate_api_service(&core).is_empty(),
            "{}",
            messages(&core)
        );
    }

    #[test]
    fn condition_statuses_are_checked() {
        let obj = json!({"status": {"conditions": [
            {"type": "Available", "status": "True"},
            {"type": "Available", "status": "Maybe"}]}});
        assert_eq!(
            validate_api_service_status(&obj).to_string(),
            "status.conditions[1].status: Unsupported value: \"Maybe\": supported values: \"True\", \"False\", \"Unknown\""
        );
    }

    #[test]
    fn upstream_messages_and_paths() {
        let bad = json!({"metadata": {"name": "v1.other.io"},
            "spec": {"group": "Bad_Group", "version": "1x",
                "service": {"port": 443}, "caBundle": "aGVsbG8=",
                "insecureSkipTLSVerify": true}});
        let m = messages(&bad);
        for want in [
            "metadata.name: Invalid value: \"v1.other.io\": must be `spec.version+\".\"+spec.group`: \"1x.Bad_Group\"",
            "spec.group: Invalid value: \"Bad_Group\"",
            "spec.version: Invalid value: \"1x\": a DNS-1035 label",
            "spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000",
            "spec.versionPriority: Invalid value: 0: must be positive and less than 1000",
            "spec.service.namespace: Required value",
            "spec.service.name: Required value",
            "spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present",
        ] {
            assert!(m.contains(want), "missing {want:?} in {m}");
        }
        let local = json!({"metadata": {"name": "v2."},
            "spec": {"version": "v2", "caBundle": "aGVsbG8=", "insecureSkipTLSVerify": true,
                "groupPriorityMinimum": 1, "versionPriority": 1}});
        let m = messages(&local);
        for want in [
            "spec.group: Required value: only v1 may have an empty group",
            "spec.caBundle: Invalid value: \"5 bytes\": local APIServices may not have a caBundle",
            "spec.insecureSkipTLSVerify: Invalid value: true: local APIServices may not have insecureSkipTLSVerify",
        ] {
            assert!(m.contains(want), "missing {want:?} in {m}");
        }
    }
}
