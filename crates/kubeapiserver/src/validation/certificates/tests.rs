use super::*;
use crate::validation::testutil::{assert_errs, assert_has, lines};
use serde_json::json;

/// A freshly signed PKCS#10 request, PEM-encoded.
fn request_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["node-1".to_string()]).expect("params");
    params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

fn b64(s: &[u8]) -> String {
    STANDARD.encode(s)
}

fn csr_obj(request: &str) -> Value {
    json!({"metadata": {"name": "c"}, "spec": {"request": b64(request.as_bytes()),
        "signerName": "example.com/my-signer", "usages": ["digital signature", "client auth"],
        "expirationSeconds": 3600}, "status": {}})
}

/// A self-signed certificate, PEM-encoded.
fn certificate_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["node-1".to_string()]).expect("params");
    params.self_signed(&key).expect("cert").pem()
}

#[test]
fn valid_requests_pass() {
    assert!(validate_csr(&csr_obj(&request_pem())).is_empty());
}

#[test]
fn garbage_and_tampered_requests_fail() {
    let errs = validate_csr(&csr_obj("hi"));
    assert_errs(
        &errs,
        &[
            "spec.request: Invalid value: []byte{0x68, 0x69}: PEM block type must be CERTIFICATE REQUEST",
        ],
    );
    // Flip a byte of the signature: the request still parses, the
    // signature no longer verifies.
    let pem = request_pem();
    let block = pem_blocks(pem.as_bytes()).remove(0);
    let mut der = block.der;
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let body = b64(&der);
    let tampered =
        format!("-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n");
    let l = lines(&validate_csr(&csr_obj(&tampered)));
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].ends_with(": x509: ECDSA verification failure"),
        "{}",
        l[0]
    );
    let no_request = json!({"spec": {"signerName": "example.com/s", "usages": ["any"]}});
    assert_errs(
        &validate_csr(&no_request),
        &["spec.request: Invalid value: []byte(nil): PEM block type must be CERTIFICATE REQUEST"],
    );
}

#[test]
fn spec_rules() {
    let mut c = csr_obj(&request_pem());
    c["spec"]["usages"] = json!(["any", "flying", "any"]);
    c["spec"]["signerName"] = json!("kubernetes.io/legacy-unknown");
    c["spec"]["expirationSeconds"] = json!(599);
    assert_errs(
        &validate_csr(&c),
        &[
            "spec.usages[1]: Unsupported value: \"flying\": supported values: \"any\", \"cert sign\", \"client auth\", \"code signing\", \"content commitment\", \"crl sign\", \"data encipherment\", \"decipher only\", \"digital signature\", \"email protection\", \"encipher only\", \"ipsec end system\", \"ipsec tunnel\", \"ipsec user\", \"key agreement\", \"key encipherment\", \"microsoft sgc\", \"netscape sgc\", \"ocsp signing\", \"s/mime\", \"server auth\", \"signing\", \"timestamping\"",
            "spec.usages[2]: Duplicate value: \"any\"",
            "spec.signerName: Invalid value: \"kubernetes.io/legacy-unknown\": the legacy signerName is not allowed via this API version",
            "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)",
        ],
    );
    c["spec"]["usages"] = json!([]);
    c["spec"]["signerName"] = json!("nodomain");
    c["spec"]["expirationSeconds"] = json!(600);
    assert_errs(
        &validate_csr(&c),
        &[
            "spec.usages: Required value",
            "spec.signerName: Invalid value: \"nodomain\": must be a fully qualified domain and path of the form 'example.com/signer-name'",
        ],
    );
    let mut errs = ErrorList::new();
    signer_name(&mut errs, "example/Bad_Path", "spec.signerName");
    assert_errs(
        &errs,
        &[
            "spec.signerName: Invalid value: \"example\": should be a domain with at least two segments separated by dots",
            "spec.signerName: Invalid value: \"Bad_Path\": validating label \"Bad_Path\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ],
    );
}

fn approved(status: &str) -> Value {
    json!({"type": "Approved", "status": status, "reason": "ok"})
}

#[test]
fn conditions_and_subresources() {
    let old = csr_obj(&request_pem());
    let mut new = old.clone();
    new["status"]["conditions"] = json!([approved("True")]);
    // The main resource and the status path may not approve …
    assert_errs(
        &validate_csr_update(&new, &old),
        &["status.conditions: Forbidden: updates may not add a condition of type \"Approved\""],
    );
    assert_has(
        &validate_csr_status_update(&new, &old),
        "status.conditions: Forbidden: updates may not add a condition of type \"Approved\"",
    );
    // … the approval path may.
    assert!(validate_csr_approval_update(&new, &old).is_empty());
    // Removing or contradicting a decision is refused.
    let mut denied = new.clone();
    denied["status"]["conditions"] =
        json!([{"type": "Denied", "status": "False"}, approved("False")]);
    assert_errs(
        &validate_csr_approval_update(&denied, &new),
        &[
            "status.conditions[0].status: Unsupported value: \"False\": supported values: \"True\"",
            "status.conditions[1].status: Unsupported value: \"False\": supported values: \"True\"",
            "status.conditions[1].type: Invalid value: \"Approved\": Approved and Denied conditions are mutually exclusive",
        ],
    );
    let mut removed = new.clone();
    removed["status"]["conditions"] = json!([]);
    assert_errs(
        &validate_csr_approval_update(&removed, &new),
        &["status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""],
    );
}

#[test]
fn certificates_are_set_once_through_status() {
    let old = csr_obj(&request_pem());
    let mut issued = old.clone();
    issued["status"]["certificate"] = json!(b64(certificate_pem().as_bytes()));
    assert!(validate_csr_status_update(&issued, &old).is_empty());
    assert_errs(
        &validate_csr_update(&issued, &old),
        &["status.certificate: Forbidden: updates may not set certificate content"],
    );
    let mut reissued = issued.clone();
    reissued["status"]["certificate"] = json!(b64(certificate_pem().as_bytes()));
    assert_errs(
        &validate_csr_status_update(&reissued, &issued),
        &["status.certificate: Forbidden: updates may not modify existing certificate content"],
    );
    let mut wrong = old.clone();
    wrong["status"]["certificate"] = json!(b64(request_pem().as_bytes()));
    assert_errs(
        &validate_csr_status_update(&wrong, &old),
        &[
            "status.certificate: Invalid value: \"<certificate data>\": only CERTIFICATE PEM blocks are allowed, found \"CERTIFICATE REQUEST\"",
        ],
    );
}
