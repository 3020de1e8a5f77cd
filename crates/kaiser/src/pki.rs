//! Zero-config certificates: a CA, a serving certificate and an admin client
//! certificate, generated once in the cert dir and reused (renewed when
//! close to expiry), and the admin kubeconfig.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 365;
/// Leaf certificates are renewed this close to expiry.
const RENEW_BEFORE_DAYS: i64 = 30;

/// The user and group of the admin client certificate.
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// Paths of the PEM files in use.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
}

fn write_private(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let to = |secs: i64| rcgen::date_time_ymd(1970, 1, 1) + time_offset(secs);
    params.not_before = to(now - 3600);
    params.not_after = to(now + days * 86_400);
}

fn time_offset(secs: i64) -> std::time::Duration {
    std::time::Duration::from_secs(secs.max(0) as u64)
}

/// Seconds until the certificate in `pem` expires; `None` if unreadable.
fn seconds_left(pem: &str) -> Option<i64> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = p.parse_x509().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(cert.validity().not_after.timestamp() - now)
}

fn fresh(cert: &Path, key: &Path) -> bool {
    key.is_file()
        && fs::read_to_string(cert)
            .ok()
            .and_then(|p| seconds_left(&p))
            .is_some_and(|s| s > RENEW_BEFORE_DAYS * 86_400)
}

/// The CA in `cert`/`key`, reused while fresh, else generated anew with
/// common name `cn`; a new CA removes the `signed` leaves the old one signed.
fn ca(cert: &Path, key: &Path, cn: &str, signed: &[&Path]) -> Result<Issuer<'static, KeyPair>> {
    if fresh(cert, key) {
        let signing_key = KeyPair::from_pem(&fs::read_to_string(key)?)
            .with_context(|| format!("reading {}", key.display()))?;
        return Issuer::from_ca_cert_pem(&fs::read_to_string(cert)?, signing_key)
            .with_context(|| format!("reading {}", cert.display()));
    }
    tracing::info!(cert = %cert.display(), cn, "generating a new CA");
    let signing_key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, CA_DAYS);
    let ca_cert = params.self_signed(&signing_key)?;
    write_private(key, &signing_key.serialize_pem(), 0o600)?;
    write_private(cert, &ca_cert.pem(), 0o644)?;
    for leaf in signed {
        let _ = fs::remove_file(leaf);
    }
    Ok(Issuer::new(params, signing_key))
}

/// What a leaf certificate says about its holder.
struct Leaf<'a> {
    common_name: &'a str,
    organization: Option<&'a str>,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
}

/// Signs `leaf` with `issuer` into `cert`/`key` unless those are still fresh.
fn ensure_leaf(cert: &Path, key: &Path, issuer: &Issuer<KeyPair>, leaf: Leaf) -> Result<()> {
    if fresh(cert, key) {
        return Ok(());
    }
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.subject_alt_names = leaf.sans;
    params
        .distinguished_name
        .push(DnType::CommonName, leaf.common_name);
    if let Some(org) = leaf.organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![leaf.usage];
    validity(&mut params, LEAF_DAYS);
    let leaf_key = KeyPair::generate()?;
    let signed = params.signed_by(&leaf_key, issuer)?;
    write_private(key, &leaf_key.serialize_pem(), 0o600)?;
    write_private(cert, &signed.pem(), 0o644)
}

/// The serving certificate's names: the in-cluster service names, loopback,
/// and each specific address in `sans_ips`.
fn serving_sans(sans_ips: &[IpAddr]) -> Result<Vec<SanType>> {
    let mut names: Vec<String> = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "127.0.0.1",
        "::1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for ip in sans_ips {
        if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
            names.push(ip.to_string());
        }
    }
    let sans = names
        .into_iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()?;
    Ok(sans)
}

/// Creates what is missing or near expiry in `dir`; returns the paths.
pub fn ensure(dir: &Path, sans_ips: &[IpAddr]) -> Result<Pki> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        admin_cert: dir.join("admin.crt"),
        admin_key: dir.join("admin.key"),
    };
    let issuer = ca(
        &pki.ca_cert,
        &dir.join("ca.key"),
        "kaiser-ca",
        &[&pki.serving_cert, &pki.admin_cert],
    )?;
    let serving = Leaf {
        common_name: "kube-apiserver",
        organization: None,
        sans: serving_sans(sans_ips)?,
        usage: ExtendedKeyUsagePurpose::ServerAuth,
    };
    ensure_leaf(&pki.serving_cert, &pki.serving_key, &issuer, serving)?;
    let admin = Leaf {
        common_name: ADMIN_USER,
        organization: Some(ADMIN_GROUP),
        sans: Vec::new(),
        usage: ExtendedKeyUsagePurpose::ClientAuth,
    };
    ensure_leaf(&pki.admin_cert, &pki.admin_key, &issuer, admin)?;
    Ok(pki)
}

/// The front-proxy PKI: the CA extension API servers trust for
/// request-header identities (`--requestheader-client-ca-file` defaults to
/// it), and the client certificate the aggregator's proxy presents.
#[derive(Debug, Clone)]
pub struct FrontProxy {
    pub ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// The common name of the generated proxy client certificate.
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

/// Creates the front-proxy CA and client certificate in `dir` when missing
/// or near expiry (a new CA replaces the client certificate).
pub fn ensure_front_proxy(dir: &Path) -> Result<FrontProxy> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let fp = FrontProxy {
        ca_cert: dir.join("front-proxy-ca.crt"),
        client_cert: dir.join("front-proxy-client.crt"),
        client_key: dir.join("front-proxy-client.key"),
    };
    let issuer = ca(
        &fp.ca_cert,
        &dir.join("front-proxy-ca.key"),
        "kaiser-front-proxy-ca",
        &[&fp.client_cert],
    )?;
    let client = Leaf {
        common_name: FRONT_PROXY_CLIENT,
        organization: None,
        sans: Vec::new(),
        usage: ExtendedKeyUsagePurpose::ClientAuth,
    };
    ensure_leaf(&fp.client_cert, &fp.client_key, &issuer, client)?;
    Ok(fp)
}

/// Writes `<data-dir>/admin.kubeconfig` for `server` (rewritten each start,
/// since the port may change).
pub fn write_kubeconfig(path: &Path, server: &str, ca_pem: &[u8], pki: &Pki) -> Result<()> {
    let b64 = |p: &Path| -> Result<String> {
        Ok(base64::engine::general_purpose::STANDARD
            .encode(fs::read(p).with_context(|| format!("reading {}", p.display()))?))
    };
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let cfg = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kaiser\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {ADMIN_USER}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: kaiser\n  context:\n    cluster: kaiser\n    user: {ADMIN_USER}\n    namespace: default\ncurrent-context: kaiser\npreferences: {{}}\n",
        b64(&pki.admin_cert)?,
        b64(&pki.admin_key)?,
    );
    write_private(path, &cfg, 0o600)
}

/// The service-account signing key, as PEM: from `file` when given, else
/// `<dir>/sa.key`, generated (P-256, PKCS#8) on first start.
pub fn service_account_key(dir: &Path, file: Option<&Path>) -> Result<Vec<u8>> {
    let path = file.map_or_else(|| dir.join("sa.key"), Path::to_path_buf);
    if !path.exists() && file.is_none() {
        let der = kaiser_auth::serviceaccount::generate_pkcs8()?;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64_lines(&der)
        );
        write_private(&path, &pem, 0o600)?;
    }
    fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn base64_lines(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    b64.as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let p = ensure(dir.path(), &[ip]).expect("generate");
        let first = fs::read(&p.serving_cert).expect("read");
        let p2 = ensure(dir.path(), &[ip]).expect("reuse");
        assert_eq!(fs::read(&p2.serving_cert).expect("read"), first);
        let pem = fs::read_to_string(&p.serving_cert).expect("read");
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let cert = parsed.parse_x509().expect("x509");
        let sans = format!(
            "{:?}",
            cert.subject_alternative_name()
                .expect("ext")
                .expect("sans")
                .value
        );
        for want in ["kubernetes.default.svc.cluster.local", "localhost"] {
            assert!(sans.contains(want), "{sans}");
        }
        let admin = fs::read(&p.admin_cert).expect("read");
        let (_, apem) = x509_parser::pem::parse_x509_pem(&admin).expect("pem");
        let user = kaiser_auth::user_from_certificate(&apem.contents).expect("user");
        assert_eq!(user.name, ADMIN_USER);
        assert!(user.groups.contains(&ADMIN_GROUP.to_string()));
        let fp = ensure_front_proxy(dir.path()).expect("front proxy");
        let client = fs::read(&fp.client_cert).expect("read");
        assert_eq!(
            fs::read(ensure_front_proxy(dir.path()).expect("reuse").client_cert).expect("read"),
            client
        );
        let (_, cpem) = x509_parser::pem::parse_x509_pem(&client).expect("pem");
        let proxy = kaiser_auth::user_from_certificate(&cpem.contents).expect("user");
        assert_eq!(proxy.name, FRONT_PROXY_CLIENT);
        let ca = fs::read(&fp.ca_cert).expect("read");
        assert_ne!(ca, fs::read(&p.ca_cert).expect("read"));
        let key_mode = fs::metadata(dir.path().join("ca.key")).expect("meta");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key_mode.permissions().mode() & 0o777, 0o600);
    }
}
