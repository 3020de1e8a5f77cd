//! Compact JWS tokens: splitting and decoding, JSON Web Keys (RSA and
//! EC), and signature checks with `ring` for RS256/384/512,
//! PS256/384/512, ES256 and ES384.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::{Map, Value};

/// The algorithms kaiser can verify.
pub const SUPPORTED_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
];

/// A decoded (not yet verified) token.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, what the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS; `None` when `token` is not one.
pub fn parse(token: &str) -> Option<Jwt> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&B64.decode(h).ok()?).ok()?;
    let claims = match serde_json::from_slice(&B64.decode(c).ok()?).ok()? {
        Value::Object(m) => m,
        _ => return None,
    };
    Some(Jwt {
        alg: header.get("alg")?.as_str()?.to_string(),
        kid: header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string),
        claims,
        signing_input: format!("{h}.{c}"),
        signature: B64.decode(s).ok()?,
    })
}

/// A public key from a JWKS document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// Modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed SEC1 point on `crv` (`P-256` or `P-384`).
    Ec { crv: String, point: Vec<u8> },
}

/// One key of a key set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    pub key: PublicKey,
}

/// The usable signing keys of a JWKS document (`{"keys": [...]}`); keys of
/// other kinds or uses are skipped.
pub fn parse_jwks(doc: &Value) -> Vec<Jwk> {
    doc.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|k| {
            k.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(parse_jwk)
        .collect()
}

fn parse_jwk(k: &Value) -> Option<Jwk> {
    let field = |f: &str| {
        k.get(f)
            .and_then(Value::as_str)
            .and_then(|s| B64.decode(s).ok())
    };
    let key = match k.get("kty")?.as_str()? {
        "RSA" => PublicKey::Rsa {
            n: strip_zeros(field("n")?),
            e: strip_zeros(field("e")?),
        },
        "EC" => {
            let crv = k.get("crv")?.as_str()?.to_string();
            let size = match crv.as_str() {
                "P-256" => 32,
                "P-384" => 48,
                _ => return None,
            };
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != size || y.len() != size {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::Ec { crv, point }
        }
        _ => return None,
    };
    Some(Jwk {
        kid: k.get("kid").and_then(Value::as_str).map(str::to_string),
        key,
    })
}

/// `v` without leading zero bytes (one zero stays for a zero value).
pub(crate) fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros.min(v.len().saturating_sub(1)));
    v
}

/// Whether `sig` over `input` verifies with `key` under `alg`.
pub fn verify(alg: &str, key: &PublicKey, input: &[u8], sig: &[u8]) -> bool {
    match key {
        PublicKey::Rsa { n, e } => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
                _ => return false,
            };
            signature::RsaPublicKeyComponents { n, e }
                .verify(params, input, sig)
                .is_ok()
        }
        PublicKey::Ec { crv, point } => {
            let algorithm: &dyn signature::VerificationAlgorithm = match (alg, crv.as_str()) {
                ("ES256", "P-256") => &signature::ECDSA_P256_SHA256_FIXED,
                ("ES384", "P-384") => &signature::ECDSA_P384_SHA384_FIXED,
                _ => return false,
            };
            UnparsedPublicKey::new(algorithm, point)
                .verify(input, sig)
                .is_ok()
        }
    }
}

/// A string claim.
pub fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A NumericDate claim (seconds, possibly fractional).
pub fn claim_time(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_f64).map(|t| t as i64)
}

/// The `aud` claim: a string or a list of strings.
pub fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Signing keys and tokens for tests.
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    /// A 2048-bit RSA key (ring cannot generate RSA keys).
    const RSA_PKCS8_PEM: &str = include_str!("testdata/rsa2048.pem");

    pub enum Signer {
        Rsa(RsaKeyPair),
        Ec(EcdsaKeyPair),
    }

    pub fn rsa() -> Signer {
        let body: String = RSA_PKCS8_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("test set-up");
        Signer::Rsa(RsaKeyPair::from_pkcs8(&der).expect("test set-up"))
    }

    pub fn ec() -> Signer {
        let rng = SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("test set-up");
        Signer::Ec(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &rng)
                .expect("test set-up"),
        )
    }

    impl Signer {
        pub fn alg(&self) -> &'static str {
            match self {
                Signer::Rsa(_) => "RS256",
                Signer::Ec(_) => "ES256",
            }
        }

        /// The public half as a JWK with `kid`.
        pub fn jwk(&self, kid: &str) -> Value {
            match self {
                Signer::Rsa(k) => {
                    let pk = k.public();
                    let c: signature::RsaPublicKeyComponents<Vec<u8>> = pk.into();
                    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                        "n": B64.encode(&c.n), "e": B64.encode(&c.e)})
                }
                Signer::Ec(k) => {
                    let p = k.public_key().as_ref();
                    json!({"kty": "EC", "kid": kid, "crv": "P-256",
                        "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])})
                }
            }
        }

        pub fn sign(&self, kid: &str, claims: &Value) -> String {
            let header = json!({"alg": self.alg(), "kid": kid, "typ": "JWT"});
            let input = format!(
                "{}.{}",
                B64.encode(header.to_string()),
                B64.encode(claims.to_string())
            );
            let rng = SystemRandom::new();
            let sig = match self {
                Signer::Rsa(k) => {
                    let mut sig = vec![0; k.public().modulus_len()];
                    k.sign(
                        &signature::RSA_PKCS1_SHA256,
                        &rng,
                        input.as_bytes(),
                        &mut sig,
                    )
                    .expect("test set-up");
                    sig
                }
                Signer::Ec(k) => k
                    .sign(&rng, input.as_bytes())
                    .expect("test set-up")
                    .as_ref()
                    .to_vec(),
            };
            format!("{input}.{}", B64.encode(sig))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ec, rsa};
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures_verify_with_their_own_key_only() {
        for (signer, other) in [(rsa(), ec()), (ec(), rsa())] {
            let token = signer.sign("k1", &json!({"sub": "me", "aud": ["a", "b"]}));
            let jwt = parse(&token).expect("a JWT");
            assert_eq!(jwt.alg, signer.alg());
            assert_eq!(jwt.kid.as_deref(), Some("k1"));
            assert_eq!(audiences(&jwt.claims), ["a", "b"]);
            let keys = parse_jwks(&json!({"keys": [signer.jwk("k1"), other.jwk("k2")]}));
            assert_eq!(keys.len(), 2);
            let input = jwt.signing_input.as_bytes();
            assert!(verify(&jwt.alg, &keys[0].key, input, &jwt.signature));
            assert!(!verify(&jwt.alg, &keys[1].key, input, &jwt.signature));
            // A changed payload no longer matches its signature.
            let mut bad = jwt.signature.clone();
            bad[5] ^= 1;
            assert!(!verify(&jwt.alg, &keys[0].key, input, &bad));
            // The right key under the wrong algorithm fails too.
            assert!(!verify("HS256", &keys[0].key, input, &jwt.signature));
        }
    }

    #[test]
    fn malformed_tokens_and_keys_are_ignored() {
        assert!(parse("a.b").is_none());
        assert!(parse("a.b.c.d").is_none());
        assert!(parse("!!.!!.!!").is_none());
        let not_object = format!(
            "{}.{}.",
            B64.encode("{\"alg\":\"RS256\"}"),
            B64.encode("[1]")
        );
        assert!(parse(&not_object).is_none());
        let keys = parse_jwks(&json!({"keys": [
            {"kty": "oct", "k": "AAAA"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "use": "enc"},
        ]}));
        assert!(keys.is_empty(), "{keys:?}");
        assert_eq!(strip_zeros(vec![0, 0, 1]), [1]);
        assert_eq!(strip_zeros(vec![0]), [0]);
    }
}
