use super::*;
use crate::validation::testutil::{assert_errs, assert_has};
use serde_json::json;

fn subdomain_msg(s: &str) -> String {
    is_dns1123_subdomain(s).join("")
}

/// The minimal Ingress and the TLS example from the docs, combined.
fn ingress() -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "minimal-ingress", "namespace": "default",
        "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
    "spec": {
        "ingressClassName": "nginx-example",
        "tls": [{"hosts": ["https-example.foo.com"], "secretName": "testsecret-tls"}],
        "rules": [
            {"host": "https-example.foo.com", "http": {"paths": [
                {"path": "/testpath", "pathType": "Prefix",
                 "backend": {"service": {"name": "test", "port": {"number": 80}}}}]}},
            {"host": "*.foo.com", "http": {"paths": [
                {"path": "/", "pathType": "ImplementationSpecific",
                 "backend": {"service": {"name": "test", "port": {"name": "http"}}}}]}},
            {"http": {"paths": [
                {"path": "/icons", "pathType": "Exact",
                 "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets"}}}]}}
        ]
    }})
}

#[test]
fn valid_ingress() {
    let i = ingress();
    assert_errs(&validate_ingress(&i), &[]);
    assert_errs(&validate_ingress_update(&i, &i), &[]);
    let only_default =
        json!({"spec": {"defaultBackend": {"service": {"name": "test", "port": {"number": 80}}}}});
    assert_errs(&validate_ingress(&only_default), &[]);
}

#[test]
fn ingress_spec_errors() {
    assert_errs(
        &validate_ingress(&json!({"spec": {}})),
        &[
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
        ],
    );
    let mut i = ingress();
    i["spec"]["rules"] = json!([
        {"host": "1.2.3.4", "http": {"paths": [
            {"path": "/a", "backend": {"service": {"name": "test", "port": {"number": 80}}}},
            {"path": "relative//x/.", "pathType": "Exact",
             "backend": {"service": {"name": "Test", "port": {"number": 70000}}}},
            {"path": "/x", "pathType": "Regex", "backend": {"service": {"name": "test", "port": {}}}},
            {"path": "/y", "pathType": "Prefix",
             "backend": {"service": {"name": "test", "port": {"name": "http", "number": 80}},
                         "resource": {"kind": "Bucket", "name": "b"}}},
            {"path": "/z", "pathType": "Prefix", "backend": {}}
        ]}},
        {"host": "foo.*.com", "http": {"paths": []}}
    ]);
    i["spec"]["tls"] =
        json!([{"hosts": ["ok.example.com", "Bad_Host"], "secretName": "Bad_Secret"}]);
    i["spec"]["ingressClassName"] = json!("Nginx");
    assert_errs(
        &validate_ingress(&i),
        &[
            "spec.rules[0].host: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
            "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
            "spec.rules[0].http.paths[1].path: Invalid value: \"relative//x/.\": must be an absolute path",
            "spec.rules[0].http.paths[1].path: Invalid value: \"relative//x/.\": must not contain '//'",
            "spec.rules[0].http.paths[1].path: Invalid value: \"relative//x/.\": cannot end with '/.'",
            "spec.rules[0].http.paths[1].backend.service.name: Invalid value: \"Test\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.rules[0].http.paths[1].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.rules[0].http.paths[2].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
            "spec.rules[0].http.paths[2].backend: Required value: port name or number is required",
            "spec.rules[0].http.paths[3].backend: Invalid value: \"\": cannot set both resource and service backends",
            "spec.rules[0].http.paths[4].backend: Invalid value: \"\": resource or service backend is required",
            &format!("spec.rules[1].host: Invalid value: \"foo.*.com\": {WILDCARD_MSG}"),
            "spec.rules[1].http.paths: Required value",
            &format!(
                "spec.tls[0].hosts[1]: Invalid value: \"Bad_Host\": {}",
                subdomain_msg("Bad_Host")
            ),
            &format!(
                "spec.tls[0].secretName: Invalid value: \"Bad_Secret\": {}",
                subdomain_msg("Bad_Secret")
            ),
            &format!(
                "spec.ingressClassName: Invalid value: \"Nginx\": {}",
                subdomain_msg("Nginx")
            ),
        ],
    );
}

#[test]
fn ingress_class_annotation_and_ratcheting() {
    let mut i = ingress();
    i["metadata"]["annotations"]["kubernetes.io/ingress.class"] = json!("nginx-example");
    assert_errs(&validate_ingress(&i), &[]);
    i["metadata"]["annotations"]["kubernetes.io/ingress.class"] = json!("nginx");
    assert_errs(
        &validate_ingress(&i),
        &[
            "annotations.kubernetes.io/ingress.class: Invalid value: \"nginx\": must match `ingressClassName` when both are specified",
        ],
    );
    // Invalid secret names stored earlier do not block updates.
    let mut old = ingress();
    old["spec"]["tls"][0]["secretName"] = json!("Legacy_Name");
    assert_errs(&validate_ingress_update(&old, &old), &[]);
    assert_eq!(validate_ingress(&old).iter().count(), 1);
}

#[test]
fn ingress_class() {
    let ic = json!({"metadata": {"name": "external-lb"}, "spec": {
        "controller": "example.com/ingress-controller",
        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters",
            "name": "external-lb", "scope": "Cluster"}}});
    assert_errs(&validate_ingress_class(&ic), &[]);
    assert_errs(&validate_ingress_class_update(&ic, &ic), &[]);
    let mut bad = ic.clone();
    bad["spec"]["controller"] = json!("nginx");
    bad["spec"]["parameters"] = json!({"kind": "", "name": "a/b", "scope": "Namespace"});
    assert_errs(
        &validate_ingress_class(&bad),
        &[
            "spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")",
            "spec.parameters.kind: Required value: kind is required",
            "spec.parameters.name: Invalid value: \"a/b\": may not contain '/'",
            "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
        ],
    );
    assert_has(
        &validate_ingress_class_update(&bad, &ic),
        "spec.controller: Invalid value: \"nginx\": field is immutable",
    );
    let mut cluster_ns = ic.clone();
    cluster_ns["spec"]["parameters"]["namespace"] = json!("default");
    assert_errs(
        &validate_ingress_class(&cluster_ns),
        &["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"],
    );
    cluster_ns["spec"]["parameters"]["scope"] = json!("Global");
    assert_errs(
        &validate_ingress_class(&cluster_ns),
        &[
            "spec.parameters.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespace\"",
        ],
    );
}

/// `test-network-policy` from the docs.
fn network_policy() -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "test-network-policy", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"role": "db"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [
            {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
            {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
            {"podSelector": {"matchLabels": {"role": "frontend"}}}
        ], "ports": [{"protocol": "TCP", "port": 6379}]}],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
            "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]
    }})
}

#[test]
fn valid_network_policy() {
    let np = network_policy();
    assert_errs(&validate_network_policy(&np), &[]);
    assert_errs(&validate_network_policy_update(&np, &np), &[]);
    // An empty spec selects all pods and allows nothing.
    assert_errs(
        &validate_network_policy(&json!({"spec": {"podSelector": {}}})),
        &[],
    );
}

#[test]
fn network_policy_errors() {
    let mut np = network_policy();
    np["spec"]["ingress"][0]["ports"] = json!([
        {"protocol": "ICMP", "port": 70000},
        {"protocol": "TCP", "port": 100, "endPort": 50},
        {"protocol": "TCP", "port": "http", "endPort": 90},
        {"protocol": "TCP", "endPort": 90},
        {"protocol": "TCP", "port": "not_valid"}
    ]);
    np["spec"]["ingress"][0]["from"] = json!([
        {},
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
        {"ipBlock": {"cidr": "10.0.0.0/33", "except": ["10.1.0.0/16"]}},
        {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["nope", "10.0.0.0/16", "11.0.0.0/24", "10.0.1.0/24"]}},
        {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}
    ]);
    np["spec"]["policyTypes"] = json!(["Ingress", "Sideways"]);
    assert_errs(
        &validate_network_policy(&np),
        &[
            "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
            "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ingress[0].ports[1].endPort: Invalid value: 100: must be greater than or equal to `port`",
            "spec.ingress[0].ports[2].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
            "spec.ingress[0].ports[3].endPort: Invalid value: 90: may not be specified when `port` is not specified",
            "spec.ingress[0].ports[4].port: Invalid value: \"not_valid\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.ingress[0].from[0]: Required value: must specify a peer",
            "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
            "spec.ingress[0].from[2].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.ingress[0].from[3].ipBlock.except[0]: Invalid value: \"nope\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.ingress[0].from[3].ipBlock.except[1]: Invalid value: \"10.0.0.0/16\": must be a strict subset of `cidr`",
            "spec.ingress[0].from[3].ipBlock.except[2]: Invalid value: \"11.0.0.0/24\": must be a strict subset of `cidr`",
            "spec.ingress[0].from[4].podSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
        ],
    );
    let mut np = network_policy();
    np["spec"]["policyTypes"] = json!(["Ingress", "Egress", "Ingress"]);
    assert_errs(
        &validate_network_policy(&np),
        &[
            "spec.policyTypes: Invalid value: []networking.PolicyType{\"Ingress\", \"Egress\", \"Ingress\"}: may not specify more than two policyTypes",
        ],
    );
}

#[test]
fn network_policy_update_ratchets_selector_values() {
    let mut old = network_policy();
    old["spec"]["podSelector"] =
        json!({"matchExpressions": [{"key": "role", "operator": "In", "values": ["-bad-"]}]});
    assert!(!validate_network_policy(&old).is_empty());
    assert_errs(&validate_network_policy_update(&old, &old), &[]);
}

/// An EndpointSlice as the docs show it.
fn endpoint_slice_obj() -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "example-abc", "labels": {"kubernetes.io/service-name": "example"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
        "endpoints": [{"addresses": ["10.1.2.3"], "conditions": {"ready": true},
            "hostname": "pod-1", "nodeName": "node-1", "zone": "us-west2-a",
            "hints": {"forZones": [{"name": "us-west2-a"}]}}]})
}

#[test]
fn valid_endpoint_slice() {
    let es = endpoint_slice_obj();
    assert_errs(&validate_endpoint_slice(&es), &[]);
    assert_errs(&validate_endpoint_slice_update(&es, &es), &[]);
    let fqdn = json!({"addressType": "FQDN", "endpoints": [{"addresses": ["example.com"]}]});
    assert_errs(&validate_endpoint_slice(&fqdn), &[]);
}

#[test]
fn endpoint_slice_errors() {
    let mut es = endpoint_slice_obj();
    es["endpoints"] = json!([
        {"addresses": []},
        {"addresses": ["fd00::1", "127.0.0.1", "nope"], "hostname": "Pod_1",
         "hints": {"forZones": [{"name": "a"}, {"name": "a"}]}}
    ]);
    es["ports"] = json!([
        {"name": "http", "protocol": "TCP"},
        {"name": "http", "protocol": "ICMP"},
        {"name": "Web", "appProtocol": "a/b/c"}
    ]);
    assert_errs(
        &validate_endpoint_slice(&es),
        &[
            "endpoints[0].addresses: Required value: must contain at least 1 address",
            "endpoints[1].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 address",
            "endpoints[1].addresses[1]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "endpoints[1].addresses[2]: Invalid value: \"nope\": must be a valid IPv4 address",
            "endpoints[1].addresses[2]: Invalid value: \"nope\": must be a valid IP address",
            &format!(
                "endpoints[1].hostname: Invalid value: \"Pod_1\": {}",
                is_dns1123_label("Pod_1").join("")
            ),
            "endpoints[1].hints.forZones[1].name: Duplicate value: \"a\"",
            "ports[1].name: Duplicate value: \"http\"",
            "ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            &format!(
                "ports[2].name: Invalid value: \"Web\": {}",
                is_dns1123_label("Web").join("")
            ),
            "ports[2].protocol: Required value",
            &format!(
                "ports[2].appProtocol: Invalid value: \"a/b/c\": {}",
                kaiser_apimachinery::validation::is_qualified_name("a/b/c").join("")
            ),
        ],
    );
    let mut changed = endpoint_slice_obj();
    changed["addressType"] = json!("IPv6");
    changed["endpoints"][0]["addresses"] = json!(["fd00::1"]);
    assert_errs(
        &validate_endpoint_slice_update(&changed, &endpoint_slice_obj()),
        &["addressType: Invalid value: \"IPv6\": field is immutable"],
    );
    assert_errs(
        &validate_endpoint_slice(&json!({"addressType": "IP"})),
        &["addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""],
    );
}
