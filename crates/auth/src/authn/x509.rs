//! Client certificates: CA bundles that chains are verified against
//! (webpki, as rustls verifies servers: signatures, validity, the
//! `clientAuth` key usage), and the user a verified certificate names
//! (CN the user, each O a group, the certificate's SHA-256 as credential
//! id), as upstream's `CommonNameUserConversion`.
//!
//! TLS only asks for a certificate and checks that the client holds its
//! key; which CA a chain satisfies is decided here, so one connection can
//! be checked against the client CA and the front proxy's CA separately.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{AuthnError, CREDENTIAL_ID_KEY, UserInfo, hex};

/// A CA bundle client certificate chains must lead to.
#[derive(Clone)]
pub struct CaBundle {
    pem: Vec<u8>,
    certs: Vec<CertificateDer<'static>>,
    verifier: Arc<dyn ClientCertVerifier>,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl CaBundle {
    /// From PEM text holding one or more CA certificates.
    pub fn from_pem(pem: &[u8]) -> Result<Self, AuthnError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| AuthnError::new(format!("reading PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(AuthnError::new("no PEM certificate found"));
        }
        let mut roots = rustls::RootCertStore::empty();
        for c in &certs {
            roots
                .add(c.clone())
                .map_err(|e| AuthnError::new(format!("not a usable CA certificate: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| AuthnError::new(e.to_string()))?;
        Ok(CaBundle {
            pem: pem.to_vec(),
            certs,
            verifier,
        })
    }

    /// The bundle as it was read.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// The CA certificates (DER).
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// Whether `chain` (leaf first, then the intermediates the client sent)
    /// leads to one of this bundle's CAs at `now` (Unix seconds); the error
    /// is upstream's wording, for the log.
    pub fn verify(&self, chain: &[CertificateDer<'_>], now: i64) -> Result<(), String> {
        let (leaf, intermediates) = chain.split_first().ok_or("no client certificate")?;
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.max(0) as u64));
        self.verifier
            .verify_client_cert(leaf, intermediates, at)
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "verifying certificate {} failed: {}",
                    identifier(leaf),
                    go_wording(&e)
                )
            })
    }
}

/// Go's words for the usual verification failures.
fn go_wording(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "x509: certificate signed by unknown authority".into()
        }
        rustls::Error::InvalidCertificate(
            C::Expired | C::NotValidYet | C::ExpiredContext { .. } | C::NotValidYetContext { .. },
        ) => "x509: certificate has expired or is not yet valid".into(),
        rustls::Error::InvalidCertificate(C::InvalidPurpose | C::InvalidPurposeContext { .. }) => {
            "x509: certificate specifies an incompatible key usage".into()
        }
        other => format!("x509: {other}"),
    }
}

/// `SN=<serial>` of a certificate, as upstream names it in errors.
fn identifier(der: &[u8]) -> String {
    match X509Certificate::from_der(der) {
        Ok((_, c)) => format!("SN={}", c.serial),
        Err(_) => "SN=?".into(),
    }
}

/// The subject's common name of a certificate, if it has one.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    Some(cn.to_string())
}

/// The latest instant (Unix seconds) at which every certificate of `chain`
/// is still valid.
pub fn chain_not_after(chain: &[CertificateDer<'_>]) -> i64 {
    chain
        .iter()
        .filter_map(|c| X509Certificate::from_der(c).ok())
        .map(|(_, c)| c.validity().not_after.timestamp())
        .min()
        .unwrap_or(i64::MAX)
}

/// The user of a client certificate already verified against a CA: CN is
/// the user name, each O a group, and the SHA-256 of the certificate its
/// credential id. `None` without a CN (the request falls through to the
/// next authenticator, as upstream).
pub fn user_from_certificate(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_string();
    if name.is_empty() {
        return None;
    }
    let groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut extra = std::collections::BTreeMap::new();
    extra.insert(
        CREDENTIAL_ID_KEY.to_string(),
        vec![format!("X509SHA256={}", hex(digest.as_ref()))],
    );
    Some(UserInfo {
        name,
        uid: String::new(),
        groups,
        extra,
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Certificates for tests: a CA and leaves it signs.
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    use rustls::pki_types::CertificateDer;

    pub struct Ca {
        pub pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    pub fn ca(name: &str) -> Ca {
        let key = KeyPair::generate().expect("test set-up");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("test set-up");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("test set-up");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    impl Ca {
        /// A client certificate with this CN and O (rcgen keeps the last
        /// O pushed, so one at most).
        pub fn leaf(&self, cn: &str, orgs: &[&str]) -> CertificateDer<'static> {
            let key = KeyPair::generate().expect("test set-up");
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("test set-up");
            params.distinguished_name = rcgen::DistinguishedName::new();
            if !cn.is_empty() {
                params.distinguished_name.push(DnType::CommonName, cn);
            }
            for o in orgs {
                params.distinguished_name.push(DnType::OrganizationName, *o);
            }
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let cert = params.signed_by(&key, &self.issuer).expect("test set-up");
            cert.der().clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::ca;
    use super::*;

    #[test]
    fn chains_verify_only_against_their_own_ca() {
        let a = ca("a");
        let b = ca("b");
        let bundle = CaBundle::from_pem(a.pem.as_bytes()).expect("test set-up");
        let now = kaiser_apimachinery::time::now_unix();
        let leaf = a.leaf("alice", &["devs"]);
        assert_eq!(bundle.verify(std::slice::from_ref(&leaf), now), Ok(()));
        let foreign = b.leaf("mallory", &[]);
        let err = bundle
            .verify(&[foreign], now)
            .expect_err("another CA's certificate");
        assert!(err.contains("signed by unknown authority"), "{err}");
        let err = bundle
            .verify(std::slice::from_ref(&leaf), 0)
            .expect_err("not yet valid (rcgen's certificates start in 1975)");
        assert!(err.contains("expired"), "{err}");
        assert!(bundle.verify(&[], now).is_err());
        assert!(chain_not_after(std::slice::from_ref(&leaf)) > now);
        assert_eq!(common_name(&leaf).as_deref(), Some("alice"));

        let user = user_from_certificate(&leaf).expect("a CN");
        assert_eq!(user.name, "alice");
        assert_eq!(user.groups, ["devs"]);
        let id = &user.extra[CREDENTIAL_ID_KEY][0];
        assert!(id.starts_with("X509SHA256=") && id.len() == 11 + 64, "{id}");
        assert!(user_from_certificate(&a.leaf("", &["x"])).is_none());
        assert!(user_from_certificate(b"junk").is_none());
    }

    #[test]
    fn bundles_need_certificates() {
        assert!(CaBundle::from_pem(b"").is_err());
        assert!(
            CaBundle::from_pem(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
