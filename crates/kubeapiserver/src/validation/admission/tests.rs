use super::*;
use crate::validation::testutil::{assert_errs, assert_has};
use serde_json::json;

/// A valid, defaulted webhook.
fn hook() -> Value {
    json!({"name": "w.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "clientConfig": {"service": {"namespace": "ns", "name": "svc", "port": 443, "path": "/validate"}},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                   "resources": ["pods", "pods/status"], "scope": "*"}],
        "failurePolicy": "Fail", "matchPolicy": "Equivalent", "namespaceSelector": {},
        "objectSelector": {}, "timeoutSeconds": 10,
        "matchConditions": [{"name": "not-kube-system", "expression": "object.metadata.namespace != 'kube-system'"}]})
}

fn config(hooks: Vec<Value>) -> Value {
    json!({"metadata": {"name": "c"}, "webhooks": hooks})
}

#[test]
fn valid_webhook_configurations_pass() {
    assert!(validate_validating_webhook_configuration(&config(vec![hook()])).is_empty());
    let mut m = hook();
    m["reinvocationPolicy"] = json!("IfNeeded");
    m["clientConfig"] = json!({"url": "https://hooks.example.com:8443/mutate"});
    assert!(validate_mutating_webhook_configuration(&config(vec![m])).is_empty());
}

#[test]
fn webhook_rules_each_have_upstreams_message() {
    let mut h = hook();
    h["name"] = json!("short");
    h["sideEffects"] = json!("Some");
    h["timeoutSeconds"] = json!(31);
    h["failurePolicy"] = json!("Sometimes");
    h["matchPolicy"] = json!("Fuzzy");
    h["admissionReviewVersions"] = json!(["v2", "v2"]);
    h["rules"] = json!([{"operations": ["*", "PATCH"], "apiGroups": ["*", "apps"], "apiVersions": [""],
        "resources": ["*/*", "pods"], "scope": "Galaxy"}]);
    let errs = validate_validating_webhook_configuration(&config(vec![h]));
    assert_errs(
        &errs,
        &[
            "webhooks[0].name: Invalid value: \"short\": should be a domain with at least three segments separated by dots",
            "webhooks[0].rules[0].operations: Invalid value: []admissionregistration.OperationType{\"*\", \"PATCH\"}: if '*' is present, must not specify other operations",
            "webhooks[0].rules[0].operations[1]: Unsupported value: \"PATCH\": supported values: \"*\", \"CONNECT\", \"CREATE\", \"DELETE\", \"UPDATE\"",
            "webhooks[0].rules[0].apiGroups: Invalid value: []string{\"*\", \"apps\"}: if '*' is present, must not specify other API groups",
            "webhooks[0].rules[0].apiVersions[0]: Required value",
            "webhooks[0].rules[0].resources: Invalid value: []string{\"*/*\", \"pods\"}: if '*/*' is present, must not specify other resources",
            "webhooks[0].rules[0].scope: Unsupported value: \"Galaxy\": supported values: \"*\", \"Cluster\", \"Namespaced\"",
            "webhooks[0].failurePolicy: Unsupported value: \"Sometimes\": supported values: \"Fail\", \"Ignore\"",
            "webhooks[0].matchPolicy: Unsupported value: \"Fuzzy\": supported values: \"Equivalent\", \"Exact\"",
            "webhooks[0].sideEffects: Unsupported value: \"Some\": supported values: \"None\", \"NoneOnDryRun\"",
            "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
            "webhooks[0].admissionReviewVersions[1]: Invalid value: \"v2\": duplicate version",
            "webhooks[0].admissionReviewVersions: Invalid value: []string{\"v2\", \"v2\"}: must include at least one of v1, v1beta1",
        ],
    );
}

#[test]
fn names_are_unique_and_side_effects_and_versions_required() {
    let mut h = hook();
    h.as_object_mut().map(|o| o.remove("sideEffects"));
    h["admissionReviewVersions"] = json!([]);
    let errs = validate_validating_webhook_configuration(&config(vec![hook(), h]));
    assert_errs(
        &errs,
        &[
            "webhooks[1].sideEffects: Required value: must specify one of None, NoneOnDryRun",
            "webhooks[1].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
            "webhooks[1].name: Duplicate value: \"w.example.com\"",
        ],
    );
}

#[test]
fn client_config_needs_exactly_one_https_url_or_service() {
    let mut h = hook();
    h["clientConfig"] = json!({});
    assert_has(
        &validate_validating_webhook_configuration(&config(vec![h.clone()])),
        "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
    );
    h["clientConfig"] = json!({"url": "http://user:pw@example.com/x?a=b#frag"});
    assert_errs(
        &validate_validating_webhook_configuration(&config(vec![h.clone()])),
        &[
            "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
            "webhooks[0].clientConfig.url: Invalid value: \"user:pw\": user information is not permitted in the URL",
            "webhooks[0].clientConfig.url: Invalid value: \"frag\": fragments are not permitted in the URL",
            "webhooks[0].clientConfig.url: Invalid value: \"a=b\": query parameters are not permitted in the URL",
        ],
    );
    h["clientConfig"] = json!({"url": "https:///path"});
    assert_errs(
        &validate_validating_webhook_configuration(&config(vec![h.clone()])),
        &[
            "webhooks[0].clientConfig.url: Invalid value: \"\": host must be provided; desired format: https://host[/path]",
        ],
    );
    h["clientConfig"] = json!({"url": "https://example.com:abc/"});
    assert_errs(
        &validate_validating_webhook_configuration(&config(vec![h.clone()])),
        &[
            "webhooks[0].clientConfig.url: Required value: url must be a valid URL: parse \"https://example.com:abc/\": invalid port \":abc\" after host; desired format: https://host[/path]",
        ],
    );
    h["clientConfig"] = json!({"service": {"name": "svc", "port": 0, "path": "foo//Bar"}});
    assert_errs(
        &validate_validating_webhook_configuration(&config(vec![h])),
        &[
            "webhooks[0].clientConfig.service.name: Required value: service name is required",
            "webhooks[0].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
            "webhooks[0].clientConfig.service.path: Invalid value: \"foo//Bar\": must start with a '/'",
            "webhooks[0].clientConfig.service.path: Invalid value: \"foo//Bar\": segment[1] may not be empty",
            "webhooks[0].clientConfig.service.path: Invalid value: \"foo//Bar\": segment[2]: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ],
    );
}

#[test]
fn match_conditions_are_named_uniquely_and_parse() {
    let mut h = hook();
    h["matchConditions"] = json!([{"name": "a", "expression": "true"}, {"name": "a", "expression": "  "},
        {"name": "", "expression": "1 +"}]);
    let errs = validate_validating_webhook_configuration(&config(vec![h]));
    let lines = crate::validation::testutil::lines(&errs);
    assert_eq!(
        lines[0],
        "webhooks[0].matchConditions[1].expression: Required value"
    );
    assert_eq!(
        lines[1],
        "webhooks[0].matchConditions[1].name: Duplicate value: \"a\""
    );
    assert!(
        lines[2].starts_with("webhooks[0].matchConditions[2].expression: Invalid value: \"1 +\": compilation failed: ERROR: <input>:1:"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        "webhooks[0].matchConditions[2].name: Required value"
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn updates_tolerate_what_the_stored_webhooks_already_break() {
    let mut old = hook();
    old["sideEffects"] = json!("Unknown");
    let old = config(vec![old.clone(), old]);
    let mut new = old.clone();
    new["webhooks"][0]["timeoutSeconds"] = json!(5);
    assert!(validate_validating_webhook_configuration_update(&new, &old).is_empty());
    assert!(!validate_validating_webhook_configuration(&new).is_empty());
}

fn policy_obj() -> Value {
    json!({"metadata": {"name": "p"}, "spec": {"failurePolicy": "Fail",
        "paramKind": {"apiVersion": "example.com/v1", "kind": "Params"},
        "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"], "resources": ["deployments"], "scope": "*"}],
            "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}},
        "variables": [{"name": "replicas", "expression": "object.spec.replicas"}],
        "validations": [{"expression": "variables.replicas <= 5", "message": "too many", "reason": "Invalid"}],
        "auditAnnotations": [{"key": "high", "valueExpression": "'x'"}]}})
}

#[test]
fn admission_policies() {
    assert!(validate_validating_admission_policy(&policy_obj()).is_empty());
    let p = json!({"metadata": {"name": "p"}, "spec": {"failurePolicy": "Maybe",
        "paramKind": {"apiVersion": "a/b/c", "kind": "Not_Ok"}}});
    assert_errs(
        &validate_validating_admission_policy(&p),
        &[
            "spec.failurePolicy: Unsupported value: \"Maybe\": supported values: \"Fail\", \"Ignore\"",
            "spec.paramKind.apiVersion: Invalid value: \"a/b/c\": unexpected GroupVersion string: a/b/c",
            "spec.paramKind.kind: Invalid value: \"Not_Ok\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.matchConstraints: Required value",
            "spec.validations: Required value: validations or auditAnnotations must contain at least one item",
            "spec.auditAnnotations: Required value: validations or auditAnnotations must contain at least one item",
        ],
    );
    let mut p = policy_obj();
    p["spec"]["matchConstraints"] = json!({"namespaceSelector": {}});
    p["spec"]["variables"] = json!([{"name": "in", "expression": ""}]);
    p["spec"]["validations"] = json!([{"expression": " ", "message": "a\nb", "reason": "Teapot"}]);
    p["spec"]["auditAnnotations"] =
        json!([{"key": "k", "valueExpression": "'a'"}, {"key": "k", "valueExpression": ""}]);
    assert_errs(
        &validate_validating_admission_policy(&p),
        &[
            "spec.matchConstraints.matchPolicy: Required value",
            "spec.matchConstraints.objectSelector: Required value",
            "spec.matchConstraints.resourceRules: Required value",
            "spec.variables[0].name: Invalid value: \"in\": name is not a valid CEL identifier",
            "spec.variables[0].expression: Required value: expression is not specified",
            "spec.validations[0].expression: Required value: expression is not specified",
            "spec.validations[0].message: Invalid value: \"a\\nb\": message must not contain line breaks",
            "spec.validations[0].reason: Unsupported value: \"Teapot\": supported values: \"Forbidden\", \"Invalid\", \"RequestEntityTooLarge\"",
            "spec.auditAnnotations[1].valueExpression: Required value: valueExpression is not specified",
            "spec.auditAnnotations[1].key: Duplicate value: \"k\"",
        ],
    );
}

#[test]
fn admission_policy_status_conditions() {
    let p = json!({"status": {"typeChecking": {"expressionWarnings": [{"fieldRef": " "}]},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ok", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}});
    assert_errs(
        &validate_validating_admission_policy_status(&p, &json!({})),
        &[
            "status.typeChecking.expressionWarnings[0].warning: Required value",
            "status.typeChecking.expressionWarnings[0].fieldRef: Required value",
        ],
    );
}

#[test]
fn admission_policy_bindings() {
    let ok = json!({"spec": {"policyName": "p", "validationActions": ["Deny", "Audit"],
        "paramRef": {"name": "params", "parameterNotFoundAction": "Deny"},
        "matchResources": {"matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}}}});
    assert!(validate_validating_admission_policy_binding(&ok).is_empty());
    let bad = json!({"spec": {"policyName": "Bad_Name", "validationActions": ["Deny", "Warn", "Deny", "Shout"],
        "paramRef": {"name": "a/b", "selector": {}, "parameterNotFoundAction": "Maybe"},
        "matchResources": {"matchPolicy": "Exact", "namespaceSelector": {}}}});
    assert_errs(
        &validate_validating_admission_policy_binding(&bad),
        &[
            "spec.policyName: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.paramRef.name: Invalid value: \"a/b\": may not contain '/'",
            "spec.paramRef.name: Forbidden: name and selector are mutually exclusive",
            "spec.paramRef.selector: Forbidden: name and selector are mutually exclusive",
            "spec.paramRef.parameterNotFoundAction: Unsupported value: \"Maybe\": supported values: \"Deny\", \"Allow\"",
            "spec.matchResouces.objectSelector: Required value",
            "spec.validationActions[2]: Duplicate value: \"Deny\"",
            "spec.validationActions[3]: Unsupported value: \"Shout\": supported values: \"Audit\", \"Deny\", \"Warn\"",
            "spec.validationActions: Invalid value: []admissionregistration.ValidationAction{\"Deny\", \"Warn\", \"Deny\", \"Shout\"}: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
        ],
    );
    assert_has(
        &validate_validating_admission_policy_binding(&json!({"spec": {"policyName": "p"}})),
        "spec.validationActions: Required value: at least one validation action is required",
    );
}
