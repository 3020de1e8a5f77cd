//! Service-account tokens: JWTs with upstream's claims (`iss`, `sub`
//! `system:serviceaccount:<ns>:<name>`, `aud`, `exp`, `iat`, `nbf`, `jti`,
//! and the `kubernetes.io` claim naming the service account and the object
//! the token is bound to), signed with an RSA (RS256) or ECDSA (ES256,
//! ES384) key and verified with it or any key of
//! `--service-account-key-file` (PEM public keys, certificates or private
//! keys, as upstream reads them).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_SHA256, RsaKeyPair,
};
use rustls::pki_types::pem::{PemObject, SectionKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::authn::jwt::{self, PublicKey};
use crate::authn::{CREDENTIAL_ID_KEY, UserInfo};

/// `extra` keys of a service account's user, as upstream.
pub const POD_NAME_KEY: &str = "authentication.kubernetes.io/pod-name";
pub const POD_UID_KEY: &str = "authentication.kubernetes.io/pod-uid";
pub const NODE_NAME_KEY: &str = "authentication.kubernetes.io/node-name";
pub const NODE_UID_KEY: &str = "authentication.kubernetes.io/node-uid";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the service account signing key is not an RSA, P-256 or P-384 private key: {0}")]
    Key(String),
    #[error("no public key could be read from {0}")]
    PublicKeys(String),
    #[error("signing failed")]
    Sign,
}

/// The object a token is bound to (its deletion invalidates the token).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundRef {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    pub namespace: String,
    pub serviceaccount: BoundRef,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pod: Option<BoundRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret: Option<BoundRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<BoundRef>,
}

/// The claims of a service-account token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaim,
    pub nbf: i64,
    pub sub: String,
}

impl Claims {
    /// The identity the token carries, as upstream's authenticator gives it
    /// (the union adds `system:authenticated`): the account, its groups,
    /// and in `extra` the bound pod and node and the token's id.
    pub fn user(&self) -> UserInfo {
        let k = &self.kubernetes;
        let ns = &k.namespace;
        let mut extra = BTreeMap::new();
        if let Some(p) = &k.pod
            && !p.name.is_empty()
            && !p.uid.is_empty()
        {
            extra.insert(POD_NAME_KEY.to_string(), vec![p.name.clone()]);
            extra.insert(POD_UID_KEY.to_string(), vec![p.uid.clone()]);
        }
        if !self.jti.is_empty() {
            extra.insert(
                CREDENTIAL_ID_KEY.to_string(),
                vec![format!("JTI={}", self.jti)],
            );
        }
        if let Some(n) = &k.node
            && !n.name.is_empty()
        {
            extra.insert(NODE_NAME_KEY.to_string(), vec![n.name.clone()]);
            if !n.uid.is_empty() {
                extra.insert(NODE_UID_KEY.to_string(), vec![n.uid.clone()]);
            }
        }
        UserInfo {
            name: format!("system:serviceaccount:{ns}:{}", k.serviceaccount.name),
            uid: k.serviceaccount.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ],
            extra,
        }
    }
}

/// A signing key of one of the kinds upstream accepts.
enum Signer {
    Rsa(RsaKeyPair),
    /// With its curve (`P-256` or `P-384`).
    Ec(EcdsaKeyPair, &'static str),
}

impl Signer {
    fn alg(&self) -> &'static str {
        match self {
            Signer::Rsa(_) => "RS256",
            Signer::Ec(_, crv) => ec_alg(crv),
        }
    }

    fn public(&self) -> PublicKey {
        match self {
            Signer::Rsa(k) => {
                let c: ring::signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                PublicKey::Rsa { n: c.n, e: c.e }
            }
            Signer::Ec(k, crv) => PublicKey::Ec {
                crv: crv.to_string(),
                point: k.public_key().as_ref().to_vec(),
            },
        }
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, TokenError> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .map_err(|_| TokenError::Sign)?;
                Ok(sig)
            }
            Signer::Ec(k, _) => k
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| TokenError::Sign),
        }
    }

    /// A private key as PEM holds it: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    fn from_der(kind: SectionKind, der: &[u8]) -> Result<Signer, TokenError> {
        let rng = SystemRandom::new();
        let ec = |der: &[u8]| {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                .map(|k| Signer::Ec(k, "P-256"))
                .or_else(|_| {
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, der, &rng)
                        .map(|k| Signer::Ec(k, "P-384"))
                })
        };
        let found = match kind {
            SectionKind::PrivateKey => ec(der)
                .ok()
                .or_else(|| RsaKeyPair::from_pkcs8(der).ok().map(Signer::Rsa)),
            SectionKind::RsaPrivateKey => RsaKeyPair::from_der(der).ok().map(Signer::Rsa),
            // ring reads EC keys as PKCS#8 only: wrap the SEC1 key in one
            // for each curve it may be on.
            SectionKind::EcPrivateKey => [P256_OID, P384_OID]
                .iter()
                .find_map(|curve| ec(&sec1_as_pkcs8(der, curve)).ok()),
            _ => None,
        };
        found.ok_or_else(|| TokenError::Key(format!("unusable {kind:?} section")))
    }
}

/// The JWS algorithm of an ECDSA key on `crv`.
fn ec_alg(crv: &str) -> &'static str {
    if crv == "P-384" { "ES384" } else { "ES256" }
}

/// A key tokens may be signed with, and its id as upstream derives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationKey {
    pub kid: String,
    pub key: PublicKey,
}

impl VerificationKey {
    fn new(key: PublicKey) -> Self {
        VerificationKey {
            kid: key_id(&key),
            key,
        }
    }

    /// The key as a JWKS entry.
    pub fn jwk(&self) -> Value {
        match &self.key {
            PublicKey::Rsa { n, e } => serde_json::json!({
                "use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256",
                "n": B64.encode(n), "e": B64.encode(e),
            }),
            PublicKey::Ec { crv, point } => {
                let half = point.len().saturating_sub(1) / 2;
                serde_json::json!({
                    "use": "sig", "kty": "EC", "kid": self.kid, "crv": crv,
                    "alg": ec_alg(crv),
                    "x": B64.encode(&point[1..1 + half]), "y": B64.encode(&point[1 + half..]),
                })
            }
        }
    }
}

/// The signing key, the keys tokens may be signed with, and what tokens
/// must say to be accepted.
pub struct TokenKey {
    signer: Signer,
    kid: String,
    /// Ours first, then those of `--service-account-key-file`.
    verifiers: Vec<VerificationKey>,
    pub issuer: String,
    /// Audiences the API server accepts (`--api-audiences`, default the issuer).
    pub audiences: Vec<String>,
}

impl TokenKey {
    /// From the first private key in a PEM document (PKCS#8, or PKCS#1
    /// RSA as kubeadm writes it, or SEC1 EC as openssl does).
    pub fn from_pem(pem: &[u8], issuer: &str, audiences: Vec<String>) -> Result<Self, TokenError> {
        let signer = pem_sections(pem)
            .find_map(|(kind, der)| Signer::from_der(kind, &der).ok())
            .ok_or_else(|| TokenError::Key("no private key in the PEM document".into()))?;
        Self::with_signer(signer, issuer, audiences)
    }

    fn with_signer(
        signer: Signer,
        issuer: &str,
        audiences: Vec<String>,
    ) -> Result<Self, TokenError> {
        let own = VerificationKey::new(signer.public());
        Ok(TokenKey {
            signer,
            kid: own.kid.clone(),
            verifiers: vec![own],
            issuer: issuer.to_string(),
            audiences,
        })
    }

    /// Also accepts tokens signed with the public keys in `pem`
    /// (`--service-account-key-file`: PUBLIC KEY, CERTIFICATE or private
    /// key sections); `source` names the file in the error when it holds
    /// none.
    pub fn add_verification_keys(&mut self, pem: &[u8], source: &str) -> Result<(), TokenError> {
        let mut found = 0;
        for (kind, der) in pem_sections(pem) {
            let key = match kind {
                SectionKind::PublicKey => spki_key(&der),
                SectionKind::Certificate => x509_parser::parse_x509_certificate(&der)
                    .ok()
                    .and_then(|(_, cert)| spki_key(cert.public_key().raw)),
                _ => Signer::from_der(kind, &der).ok().map(|s| s.public()),
            };
            let Some(key) = key else { continue };
            found += 1;
            let key = VerificationKey::new(key);
            if !self.verifiers.contains(&key) {
                self.verifiers.push(key);
            }
        }
        if found == 0 {
            return Err(TokenError::PublicKeys(source.to_string()));
        }
        Ok(())
    }

    /// The keys tokens may be signed with, for the JWKS document.
    pub fn verification_keys(&self) -> &[VerificationKey] {
        &self.verifiers
    }

    /// The service-account issuer discovery documents, as upstream serves
    /// them: the OpenID provider configuration naming `jwks_uri`, and the
    /// key set. `None` unless the issuer is an https URL without query or
    /// fragment (upstream then serves neither).
    pub fn discovery(&self, jwks_uri: &str) -> Option<(Value, Value)> {
        let https = self.issuer.strip_prefix("https://")?;
        if https.is_empty() || https.contains(['?', '#']) {
            return None;
        }
        let keys: Vec<Value> = self.verifiers.iter().map(VerificationKey::jwk).collect();
        let algs: std::collections::BTreeSet<&str> = keys
            .iter()
            .filter_map(|k| k.get("alg").and_then(Value::as_str))
            .collect();
        let config = serde_json::json!({
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
        });
        Some((config, serde_json::json!({ "keys": keys })))
    }

    /// A signed token for `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let header = serde_json::json!({"alg": self.signer.alg(), "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(serde_json::to_vec(claims).map_err(|_| TokenError::Sign)?)
        );
        let sig = self.signer.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", B64.encode(sig)))
    }

    /// The claims of a token this key signed, if its signature, issuer,
    /// audience and validity window check out at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        self.verify_for(token, now, &self.audiences)
            .ok()
            .flatten()
            .map(|(c, _)| c)
    }

    /// Upstream's service-account JWT check: `Ok(None)` for a token that is
    /// not a JWT of this issuer (another authenticator's); an error for
    /// one of ours that fails; else the claims and the audiences of
    /// `wanted` (the API audiences when empty) the token is for.
    pub fn verify_for(
        &self,
        token: &str,
        now: i64,
        wanted: &[String],
    ) -> Result<Option<(Claims, Vec<String>)>, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let Some(payload) = B64
            .decode(c)
            .ok()
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        else {
            return Ok(None);
        };
        if payload.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Ok(None);
        }
        let header: Option<Value> = B64
            .decode(h)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok());
        let alg = header
            .as_ref()
            .and_then(|h| h.get("alg"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let sig = B64.decode(s).unwrap_or_default();
        let input = &token[..h.len() + 1 + c.len()];
        // `none` and HMAC never verify: `jwt::verify` knows only
        // public-key algorithms, each tied to its key's kind.
        let signed = self
            .verifiers
            .iter()
            .any(|v| jwt::verify(alg, &v.key, input.as_bytes(), &sig));
        if !signed {
            return Err("token could not be verified".into());
        }
        let claims: Claims = serde_json::from_value(payload)
            .map_err(|_| "service account token claims could not be read".to_string())?;
        // A minute of leeway for clock skew, as upstream allows.
        if now >= claims.exp + 60 {
            return Err("service account token has expired".into());
        }
        if claims.nbf > now + 60 {
            return Err("service account token is not valid yet".into());
        }
        let wanted = if wanted.is_empty() {
            &self.audiences
        } else {
            wanted
        };
        let auds = crate::authn::intersect(&claims.aud, wanted);
        if auds.is_empty() {
            return Err(format!(
                "token audiences {:?} is invalid for the target audiences {:?}",
                claims.aud, wanted
            ));
        }
        Ok(Some((claims, auds)))
    }

    pub fn key_id(&self) -> &str {
        &self.kid
    }
}

/// The PEM sections of `pem`, in order, up to the first malformed one.
fn pem_sections(pem: &[u8]) -> impl Iterator<Item = (SectionKind, Vec<u8>)> + '_ {
    <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(pem).map_while(Result::ok)
}

/// The RSA or EC (P-256, P-384) key of a DER SubjectPublicKeyInfo.
fn spki_key(der: &[u8]) -> Option<PublicKey> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey as Parsed;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der).ok()?;
    match spki.parsed().ok()? {
        Parsed::RSA(rsa) => Some(PublicKey::Rsa {
            n: jwt::strip_zeros(rsa.modulus.to_vec()),
            e: jwt::strip_zeros(rsa.exponent.to_vec()),
        }),
        Parsed::EC(point) => {
            let crv = match point.data().len() {
                65 => "P-256",
                97 => "P-384",
                _ => return None,
            };
            Some(PublicKey::Ec {
                crv: crv.into(),
                point: point.data().to_vec(),
            })
        }
        _ => None,
    }
}

/// DER of the curves' OIDs (prime256v1, secp384r1).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER of the id-ecPublicKey and rsaEncryption OIDs.
const EC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const RSA_KEY_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// One DER element: `tag`, its length, `body`.
fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(body);
    out
}

fn der_uint(v: &[u8]) -> Vec<u8> {
    let v = jwt::strip_zeros(v.to_vec());
    let mut body = Vec::with_capacity(v.len() + 1);
    if v.first().is_some_and(|b| *b >= 0x80) {
        body.push(0);
    }
    body.extend_from_slice(&v);
    der(0x02, &body)
}

/// A SEC1 `ECPrivateKey` as the PKCS#8 document ring reads, on `curve`.
fn sec1_as_pkcs8(sec1: &[u8], curve: &[u8]) -> Vec<u8> {
    let alg = der(0x30, &[EC_KEY_OID, curve].concat());
    let body = [&der(0x02, &[0])[..], &alg, &der(0x04, sec1)].concat();
    der(0x30, &body)
}

/// The DER SubjectPublicKeyInfo of `key`.
fn spki_der(key: &PublicKey) -> Vec<u8> {
    let (alg, bits) = match key {
        PublicKey::Rsa { n, e } => (
            der(0x30, &[RSA_KEY_OID, &[0x05, 0x00]].concat()),
            der(0x30, &[der_uint(n), der_uint(e)].concat()),
        ),
        PublicKey::Ec { crv, point } => {
            let curve = if crv == "P-384" { P384_OID } else { P256_OID };
            (der(0x30, &[EC_KEY_OID, curve].concat()), point.clone())
        }
    };
    let bits = der(0x03, &[&[0u8][..], &bits].concat());
    der(0x30, &[alg, bits].concat())
}

/// Upstream's key id: the SHA-256 of the key's DER SubjectPublicKeyInfo,
/// base64url without padding.
fn key_id(key: &PublicKey) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, &spki_der(key)).as_ref())
}

/// Generates a fresh P-256 key as PKCS#8 DER.
pub fn generate_pkcs8() -> Result<Vec<u8>, TokenError> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| TokenError::Key(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            aud: vec!["https://kubernetes.default.svc.cluster.local".into()],
            exp: now + 3600,
            iat: now,
            iss: "https://kubernetes.default.svc.cluster.local".into(),
            jti: "j".into(),
            kubernetes: KubernetesClaim {
                namespace: "default".into(),
                serviceaccount: BoundRef {
                    name: "default".into(),
                    uid: "u".into(),
                },
                ..Default::default()
            },
            nbf: now,
            sub: "system:serviceaccount:default:default".into(),
        }
    }

    /// A freshly generated P-256 key.
    fn ec_key(iss: &str) -> TokenKey {
        let der = generate_pkcs8().expect("key");
        TokenKey::from_pem(pem("PRIVATE KEY", &der).as_bytes(), iss, vec![iss.into()]).expect("key")
    }

    #[test]
    fn signs_and_verifies() {
        let iss = "https://kubernetes.default.svc.cluster.local";
        let key = ec_key(iss);
        let now = 1_700_000_000;
        let token = key.sign(&claims(now)).expect("sign");
        let got = key.verify(&token, now + 10).expect("valid");
        let user = got.user();
        assert_eq!(user.name, "system:serviceaccount:default:default");
        assert_eq!(
            user.groups,
            ["system:serviceaccounts", "system:serviceaccounts:default"]
        );
        assert_eq!(user.extra[CREDENTIAL_ID_KEY], ["JTI=j"]);
        // Another issuer's JWT is none of our business; a wrong audience is.
        assert_eq!(key.verify_for("a.b.c", now, &[]), Ok(None));
        let err = key
            .verify_for(&token, now, &["vault".to_string()])
            .expect_err("audience");
        assert!(err.contains("invalid for the target audiences"), "{err}");
        // Expired, tampered, foreign audience, another key: all refused.
        assert!(key.verify(&token, now + 3600 + 120).is_none());
        let mut bad = token.clone();
        bad.insert(bad.len() / 2, 'x');
        assert!(key.verify(&bad, now).is_none());
        let mut other = claims(now);
        other.aud = vec!["elsewhere".into()];
        assert!(key.verify(&key.sign(&other).expect("sign"), now).is_none());
        let key2 = ec_key(iss);
        assert!(key2.verify(&token, now).is_none());
        assert!(key.verify("a.b", now).is_none());
        assert!(key.verify("", now).is_none());
    }

    const RSA_PKCS8: &str = include_str!("authn/testdata/rsa2048.pem");
    const ISS: &str = "https://kubernetes.default.svc.cluster.local";

    fn pem(label: &str, der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64"))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn rsa_keys_sign_rs256_with_upstreams_key_id() {
        let key = TokenKey::from_pem(RSA_PKCS8.as_bytes(), ISS, vec![ISS.into()]).expect("key");
        // `openssl pkey -pubout -outform DER | sha256 | base64url` of the key.
        assert_eq!(key.key_id(), "0AG6AeJSK4VTVbY5HXYlSHm8pHTv12Q0TpT1IS8CJcs");
        let now = 1_700_000_000;
        let token = key.sign(&claims(now)).expect("sign");
        let header: Value = serde_json::from_slice(
            &B64.decode(token.split('.').next().expect("header"))
                .expect("base64"),
        )
        .expect("json");
        assert_eq!(header["alg"], "RS256");
        assert!(key.verify(&token, now).is_some());
        let jwk = key.verification_keys()[0].jwk();
        assert_eq!(
            (jwk["kty"].as_str(), jwk["alg"].as_str()),
            (Some("RSA"), Some("RS256"))
        );
        assert_eq!(jwk["e"], "AQAB");
    }

    #[test]
    fn key_files_add_keys_tokens_may_be_signed_with() {
        let rsa = TokenKey::from_pem(RSA_PKCS8.as_bytes(), ISS, vec![ISS.into()]).expect("key");
        let now = 1_700_000_000;
        let token = rsa.sign(&claims(now)).expect("sign");
        let mut ec = ec_key(ISS);
        assert!(ec.verify(&token, now).is_none(), "not yet trusted");
        // The RSA key's public half as a PUBLIC KEY section, beside junk.
        let public = pem("PUBLIC KEY", &spki_der(&rsa.verification_keys()[0].key));
        assert!(ec.add_verification_keys(b"not a key", "junk.pem").is_err());
        ec.add_verification_keys(public.as_bytes(), "sa.pub")
            .expect("public key");
        assert_eq!(ec.verification_keys().len(), 2);
        assert!(ec.verify(&token, now).is_some());
        // A private key file serves as its public key, once.
        ec.add_verification_keys(RSA_PKCS8.as_bytes(), "sa.key")
            .expect("private key");
        assert_eq!(ec.verification_keys().len(), 2);
        // The EC key's own tokens still verify, and say ES256.
        let own = ec.sign(&claims(now)).expect("sign");
        assert!(ec.verify(&own, now).is_some());
        assert!(rsa.verify(&own, now).is_none());
    }

    #[test]
    fn pkcs1_and_sec1_keys_are_read() {
        // kubeadm writes sa.key as PKCS#1; `openssl ecparam -genkey` SEC1.
        let pkcs1 = include_str!("authn/testdata/rsa2048-pkcs1.pem");
        let key = TokenKey::from_pem(pkcs1.as_bytes(), ISS, vec![]).expect("PKCS#1 key");
        assert_eq!(key.key_id(), "0AG6AeJSK4VTVbY5HXYlSHm8pHTv12Q0TpT1IS8CJcs");
        let sec1 = include_str!("authn/testdata/ec-p256-sec1.pem");
        let key = TokenKey::from_pem(sec1.as_bytes(), ISS, vec![]).expect("SEC1 key");
        // From `openssl pkey -pubout -outform DER | sha256 | base64url`.
        assert_eq!(key.key_id(), "MP7c5IocMX2t-WqTq5FmpQ0w6WUBe9zRHKTf73ocbKs");
        assert_eq!(key.verification_keys()[0].jwk()["alg"], "ES256");
        assert!(
            TokenKey::from_pem(
                b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
                ISS,
                vec![]
            )
            .is_err()
        );
    }

    #[test]
    fn discovery_only_for_https_issuers() {
        let key = TokenKey::from_pem(RSA_PKCS8.as_bytes(), ISS, vec![]).expect("key");
        let (config, keys) = key
            .discovery("https://10.0.0.1:6443/openid/v1/jwks")
            .expect("https");
        assert_eq!(config["issuer"], ISS);
        assert_eq!(
            config["response_types_supported"],
            serde_json::json!(["id_token"])
        );
        assert_eq!(keys["keys"][0]["kid"], key.key_id());
        for iss in [
            "http://example.com",
            "https://example.com?x=1",
            "kaiser",
            "https://",
        ] {
            let other = TokenKey::from_pem(RSA_PKCS8.as_bytes(), iss, vec![]).expect("key");
            assert!(
                other.discovery("https://x/openid/v1/jwks").is_none(),
                "{iss}"
            );
        }
    }
}
