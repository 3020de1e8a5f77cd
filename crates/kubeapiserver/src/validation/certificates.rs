//! certificates.k8s.io/v1 CertificateSigningRequests (upstream's
//! `pkg/apis/certificates/validation`): the request is a PEM-encoded
//! PKCS#10 request with a valid signature, signer names and usages are
//! well formed, and the `approval` and `status` subresources may each change
//! only their own conditions and fields. What the stored object already
//! breaks is tolerated on update, as upstream does.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::{is_dns1123_label, is_dns1123_subdomain};
use serde_json::Value;
use x509_parser::prelude::FromDer;

use super::{arr, at, child, gofmt, idx, int_of, raw, str_of, strings};

const LEGACY_SIGNER: &str = "kubernetes.io/legacy-unknown";
const USAGES: [&str; 23] = [
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

/// Which changes the request path allows, and what stored data is tolerated.
#[derive(Clone, Copy, Default)]
pub struct Opts {
    pub allow_setting_approval_conditions: bool,
    pub allow_setting_certificate: bool,
    allow_both_approved_and_denied: bool,
    allow_legacy_signer_name: bool,
    allow_duplicate_condition_types: bool,
    allow_empty_condition_type: bool,
    allow_arbitrary_certificate: bool,
    allow_unknown_usages: bool,
    allow_duplicate_usages: bool,
}

/// A field holding bytes (`[]byte`, base64 on the wire).
fn bytes_of(v: &Value, k: &str) -> Vec<u8> {
    let s = str_of(v, k);
    STANDARD.decode(s.as_bytes()).unwrap_or_default()
}

/// Go's `%#v` of a `[]byte` field: `[]byte(nil)` when absent.
fn go_bytes(v: &Value, k: &str) -> String {
    if at(v, k).is_null() {
        return "[]byte(nil)".into();
    }
    let items: Vec<String> = bytes_of(v, k).iter().map(|x| format!("{x:#x}")).collect();
    format!("[]byte{{{}}}", items.join(", "))
}

/// One PEM block as Go's `pem.Decode` sees it.
struct PemBlock {
    label: String,
    has_headers: bool,
    der: Vec<u8>,
}

/// The PEM blocks of `data`, in order (blocks whose body is not base64 are
/// skipped, as Go's decoder skips them).
fn pem_blocks(data: &[u8]) -> Vec<PemBlock> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut has_headers = false;
        let mut in_headers = true;
        let mut closed = false;
        for l in lines.by_ref() {
            if l.trim_end() == end {
                closed = true;
                break;
            }
            if in_headers && l.contains(':') {
                has_headers = true;
                continue;
            }
            in_headers = false;
            body.push_str(l.trim());
        }
        if let (true, Ok(der)) = (closed, STANDARD.decode(body.as_bytes())) {
            out.push(PemBlock {
                label: label.to_string(),
                has_headers,
                der,
            });
        }
    }
    out
}

/// `validateCSR`: a PKCS#10 request whose signature checks out.
fn request_error(pem: &[u8]) -> Option<String> {
    let block = match pem_blocks(pem).into_iter().next() {
        Some(b) if b.label == "CERTIFICATE REQUEST" => b,
        _ => return Some("PEM block type must be CERTIFICATE REQUEST".into()),
    };
    let csr =
        match x509_parser::certification_request::X509CertificationRequest::from_der(&block.der) {
            Ok((rest, _)) if !rest.is_empty() => {
                return Some("asn1: syntax error: trailing data".into());
            }
            Ok((_, csr)) => csr,
            Err(_) => return Some("x509: malformed certificate request".into()),
        };
    let err = csr.verify_signature().err()?;
    if matches!(
        err,
        x509_parser::error::X509Error::SignatureUnsupportedAlgorithm
    ) {
        return Some("x509: cannot verify signature: algorithm unimplemented".into());
    }
    use x509_parser::public_key::PublicKey;
    let spki = &csr.certification_request_info.subject_pki;
    Some(
        match spki.parsed() {
            Ok(PublicKey::RSA(_)) => "crypto/rsa: verification error",
            Ok(PublicKey::EC(_)) => "x509: ECDSA verification failure",
            _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => {
                "x509: Ed25519 verification failure"
            }
            _ => "x509: cannot verify signature: algorithm unimplemented",
        }
        .to_string(),
    )
}

/// `validateCertificate`: empty, or CERTIFICATE blocks only.
fn certificate_error(pem: &[u8]) -> Option<String> {
    if pem.is_empty() {
        return None;
    }
    let blocks = pem_blocks(pem);
    if blocks.is_empty() {
        return Some("must contain at least one CERTIFICATE PEM block".into());
    }
    for b in blocks {
        if b.label != "CERTIFICATE" {
            return Some(format!(
                "only CERTIFICATE PEM blocks are allowed, found {}",
                gofmt::quote(&b.label)
            ));
        }
        if b.has_headers {
            return Some("no PEM block headers are permitted".into());
        }
        let mut rest = b.der.as_slice();
        let mut count = 0;
        while !rest.is_empty() {
            match x509_parser::parse_x509_certificate(rest) {
                Ok((r, _)) => {
                    rest = r;
                    count += 1;
                }
                Err(_) => return Some("x509: malformed certificate".into()),
            }
        }
        if count == 0 {
            return Some("found CERTIFICATE PEM block containing 0 certificates".into());
        }
    }
    None
}

/// `ValidateSignerName`: `<domain>/<path>`, each part made of DNS names.
pub fn signer_name(errs: &mut ErrorList, name: &str, path: &str) {
    if name.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let segments: Vec<&str> = name.split('/').collect();
    let [domain, rest] = segments[..] else {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        ));
        return;
    };
    if domain.len() > 253 {
        errs.push(FieldError::too_long(path, 253));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    for l in &labels {
        let msgs = is_dns1123_label(l);
        if !msgs.is_empty() {
            for m in msgs {
                errs.push(FieldError::invalid(
                    path,
                    domain,
                    format!("validating label {}: {m}", gofmt::quote(l)),
                ));
            }
            break;
        }
    }
    if labels.len() < 2 {
        errs.push(FieldError::invalid(
            path,
            domain,
            "should be a domain with at least two segments separated by dots",
        ));
    }
    for l in rest.split('.') {
        let msgs = is_dns1123_subdomain(l);
        if !msgs.is_empty() {
            for m in msgs {
                errs.push(FieldError::invalid(
                    path,
                    rest,
                    format!("validating label {}: {m}", gofmt::quote(l)),
                ));
            }
            break;
        }
    }
    let max = 253 + (253 + 63 + 1) + 1;
    if name.len() > max {
        errs.push(FieldError::too_long(path, max));
    }
}

const TRUE_ONLY: [&str; 3] = ["Approved", "Denied", "Failed"];

fn conditions(errs: &mut ErrorList, csr: &Value, opts: Opts) {
    let mut seen = HashSet::new();
    let (mut approved, mut denied) = (false, false);
    for (i, c) in arr(at(csr, "status"), "conditions").iter().enumerate() {
        let p = idx("status.conditions", i);
        let ty = str_of(c, "type");
        let tp = child(&p, "type");
        if !opts.allow_empty_condition_type && ty.is_empty() {
            errs.push(FieldError::required(&tp, ""));
        }
        let allowed: &[&str] = if TRUE_ONLY.contains(&ty) {
            &["True"]
        } else {
            &["False", "True", "Unknown"]
        };
        let status = str_of(c, "status");
        let sp = child(&p, "status");
        if status.is_empty() {
            errs.push(FieldError::required(&sp, ""));
        } else if !allowed.contains(&status) {
            errs.push(FieldError::not_supported(&sp, status, allowed));
        }
        if !opts.allow_both_approved_and_denied {
            let exclusive = "Approved and Denied conditions are mutually exclusive";
            if ty == "Approved" {
                approved = true;
                if denied {
                    errs.push(FieldError::invalid(&tp, ty, exclusive));
                }
            } else if ty == "Denied" {
                denied = true;
                if approved {
                    errs.push(FieldError::invalid(&tp, ty, exclusive));
                }
            }
        }
        if !opts.allow_duplicate_condition_types && !seen.insert(ty) {
            errs.push(FieldError::duplicate(&tp, ty));
        }
    }
}

fn csr(csr: &Value, opts: Opts) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(csr, "spec");
    let request = bytes_of(spec, "request");
    if let Some(e) = request_error(&request) {
        errs.push(raw(
            kaiser_apimachinery::field::ErrorKind::Invalid,
            "spec.request",
            go_bytes(spec, "request"),
            &e,
        ));
    }
    let usages = strings(spec, "usages");
    if usages.is_empty() {
        errs.push(FieldError::required("spec.usages", ""));
    }
    for (i, u) in usages.iter().enumerate() {
        if !opts.allow_unknown_usages && !USAGES.contains(u) {
            errs.push(FieldError::not_supported(
                &idx("spec.usages", i),
                *u,
                &USAGES,
            ));
        }
    }
    if !opts.allow_duplicate_usages {
        let mut seen = HashSet::new();
        for (i, u) in usages.iter().enumerate() {
            if !seen.insert(*u) {
                errs.push(FieldError::duplicate(&idx("spec.usages", i), *u));
            }
        }
    }
    let signer = str_of(spec, "signerName");
    if !opts.allow_legacy_signer_name && signer == LEGACY_SIGNER {
        errs.push(FieldError::invalid(
            "spec.signerName",
            signer,
            "the legacy signerName is not allowed via this API version",
        ));
    } else {
        signer_name(&mut errs, signer, "spec.signerName");
    }
    if let Some(s) = int_of(spec, "expirationSeconds")
        && s < 600
    {
        errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            s,
            "may not specify a duration less than 600 seconds (10 minutes)",
        ));
    }
    conditions(&mut errs, csr, opts);
    if !opts.allow_arbitrary_certificate
        && let Some(e) = certificate_error(&bytes_of(at(csr, "status"), "certificate"))
    {
        errs.push(FieldError::invalid(
            "status.certificate",
            "<certificate data>",
            e,
        ));
    }
    errs
}

fn condition_types(csr: &Value) -> Vec<&str> {
    arr(at(csr, "status"), "conditions")
        .iter()
        .map(|c| str_of(c, "type"))
        .collect()
}

fn has_unknown_usage(csr: &Value) -> bool {
    strings(at(csr, "spec"), "usages")
        .iter()
        .any(|u| !USAGES.contains(u))
}

fn has_duplicate<'a>(items: impl IntoIterator<Item = &'a str>) -> bool {
    let mut seen = HashSet::new();
    items.into_iter().any(|i| !seen.insert(i))
}

/// `getValidationOptions`: what `old` (the stored object) already breaks.
fn tolerated(new: &Value, old: &Value) -> Opts {
    let types = condition_types(old);
    let old_cert = bytes_of(at(old, "status"), "certificate");
    Opts {
        allow_both_approved_and_denied: types.contains(&"Approved") && types.contains(&"Denied"),
        allow_legacy_signer_name: str_of(at(old, "spec"), "signerName") == LEGACY_SIGNER,
        allow_duplicate_condition_types: has_duplicate(types.iter().copied()),
        allow_empty_condition_type: types.contains(&""),
        allow_arbitrary_certificate: bytes_of(at(new, "status"), "certificate") == old_cert
            || certificate_error(&old_cert).is_some(),
        allow_unknown_usages: has_unknown_usage(old),
        allow_duplicate_usages: has_duplicate(strings(at(old, "spec"), "usages")),
        ..Opts::default()
    }
}

/// `ValidateCertificateSigningRequestCreate`.
pub fn validate_csr(obj: &Value) -> ErrorList {
    csr(obj, Opts::default())
}

fn conditions_of<'a>(csr: &'a Value, ty: &str) -> Vec<&'a Value> {
    arr(at(csr, "status"), "conditions")
        .iter()
        .filter(|c| str_of(c, "type") == ty)
        .collect()
}

/// `validateCertificateSigningRequestUpdate` with the path's permissions.
fn csr_update(new: &Value, old: &Value, allow: Opts) -> ErrorList {
    let opts = Opts {
        allow_setting_approval_conditions: allow.allow_setting_approval_conditions,
        allow_setting_certificate: allow.allow_setting_certificate,
        ..tolerated(new, old)
    };
    let mut errs = csr(new, opts);
    let path = "status.conditions";
    for t in ["Approved", "Denied", "Failed"] {
        if conditions_of(new, t).len() < conditions_of(old, t).len() {
            errs.push(FieldError::forbidden(
                path,
                format!(
                    "updates may not remove a condition of type {}",
                    gofmt::quote(t)
                ),
            ));
        }
    }
    if !opts.allow_setting_approval_conditions {
        for t in ["Approved", "Denied"] {
            let (n, o) = (conditions_of(new, t), conditions_of(old, t));
            if n.len() > o.len() {
                errs.push(FieldError::forbidden(
                    path,
                    format!(
                        "updates may not add a condition of type {}",
                        gofmt::quote(t)
                    ),
                ));
            } else if n.len() == o.len() && n.iter().zip(&o).any(|(a, b)| !super::sem_eq(a, b)) {
                errs.push(FieldError::forbidden(
                    path,
                    format!(
                        "updates may not modify a condition of type {}",
                        gofmt::quote(t)
                    ),
                ));
            }
        }
    }
    let (nc, oc) = (
        bytes_of(at(new, "status"), "certificate"),
        bytes_of(at(old, "status"), "certificate"),
    );
    if nc != oc {
        if !opts.allow_setting_certificate {
            errs.push(FieldError::forbidden(
                "status.certificate",
                "updates may not set certificate content",
            ));
        } else if !oc.is_empty() {
            errs.push(FieldError::forbidden(
                "status.certificate",
                "updates may not modify existing certificate content",
            ));
        }
    }
    errs
}

/// `ValidateCertificateSigningRequestUpdate` (the main resource).
pub fn validate_csr_update(new: &Value, old: &Value) -> ErrorList {
    csr_update(new, old, Opts::default())
}

/// `ValidateCertificateSigningRequestStatusUpdate`: may set the certificate.
pub fn validate_csr_status_update(new: &Value, old: &Value) -> ErrorList {
    csr_update(
        new,
        old,
        Opts {
            allow_setting_certificate: true,
            ..Opts::default()
        },
    )
}

/// `ValidateCertificateSigningRequestApprovalUpdate`: may set Approved and
/// Denied conditions.
pub fn validate_csr_approval_update(new: &Value, old: &Value) -> ErrorList {
    csr_update(
        new,
        old,
        Opts {
            allow_setting_approval_conditions: true,
            ..Opts::default()
        },
    )
}

#[cfg(test)]
mod tests;
