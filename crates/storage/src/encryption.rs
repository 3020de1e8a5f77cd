//! Encryption at rest (`--encryption-provider-config`), in kube-apiserver's
//! formats so that an etcd either server wrote can be read by the other.
//!
//! A stored value is `k8s:enc:<provider>:v1:<key name>:` followed by the
//! provider's ciphertext: `aescbc` (random IV, then CBC with PKCS#7 padding),
//! `aesgcm` (random 12-byte nonce, then GCM with the etcd key as the
//! authenticated data) or `secretbox` (random 24-byte nonce, then
//! XSalsa20-Poly1305). `identity` stores values as they are. For each set
//! of resources the first provider writes and every provider may read, so
//! keys can be rotated and encryption switched on or off.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use std::sync::Arc;

use bytes::Bytes;
use crypto_secretbox::aead::{Aead, KeyInit};
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// What marks an encrypted value (any provider, any key).
pub const ENCRYPTED: &[u8] = b"k8s:enc:";

enum Cipher {
    Identity,
    AesCbc(Vec<u8>),
    AesGcm(Box<LessSafeKey>),
    Secretbox(Box<crypto_secretbox::XSalsa20Poly1305>),
}

/// One provider with one key: what it writes starts with its prefix.
pub struct Provider {
    prefix: Vec<u8>,
    cipher: Cipher,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "Provider({})", String::from_utf8_lossy(&self.prefix))
    }
}

fn prefix(provider: &str, name: &str) -> Vec<u8> {
    format!("k8s:enc:{provider}:v1:{name}:").into_bytes()
}

fn random(buf: &mut [u8]) -> Result<(), String> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| "no random bytes available".to_string())
}

impl Provider {
    /// Values stored as they are.
    pub fn identity() -> Self {
        Provider {
            prefix: Vec::new(),
            cipher: Cipher::Identity,
        }
    }

    /// AES-CBC with a 16, 24 or 32-byte key.
    pub fn aescbc(name: &str, key: &[u8]) -> Result<Self, String> {
        if ![16, 24, 32].contains(&key.len()) {
            return Err(format!(
                "aescbc key {name:?} is {} bytes; it must be 16, 24 or 32",
                key.len()
            ));
        }
        Ok(Provider {
            prefix: prefix("aescbc", name),
            cipher: Cipher::AesCbc(key.to_vec()),
        })
    }

    /// AES-GCM with a 16 or 32-byte key.
    pub fn aesgcm(name: &str, key: &[u8]) -> Result<Self, String> {
        let alg = match key.len() {
            16 => &AES_128_GCM,
            32 => &AES_256_GCM,
            n => {
                return Err(format!(
                    "aesgcm key {name:?} is {n} bytes; kaiser takes 16 or 32"
                ));
            }
        };
        let key =
            UnboundKey::new(alg, key).map_err(|_| format!("aesgcm key {name:?} is invalid"))?;
        Ok(Provider {
            prefix: prefix("aesgcm", name),
            cipher: Cipher::AesGcm(Box::new(LessSafeKey::new(key))),
        })
    }

    /// XSalsa20-Poly1305 with a 32-byte key.
    pub fn secretbox(name: &str, key: &[u8]) -> Result<Self, String> {
        let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(key).map_err(|_| {
            format!(
                "secretbox key {name:?} is {} bytes; it must be 32",
                key.len()
            )
        })?;
        Ok(Provider {
            prefix: prefix("secretbox", name),
            cipher: Cipher::Secretbox(Box::new(cipher)),
        })
    }

    fn seal(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = self.prefix.clone();
        match &self.cipher {
            Cipher::Identity => out.extend_from_slice(value),
            Cipher::AesCbc(k) => {
                let mut iv = [0u8; 16];
                random(&mut iv)?;
                out.extend_from_slice(&iv);
                out.extend_from_slice(&cbc_encrypt(k, &iv, value)?);
            }
            Cipher::AesGcm(k) => {
                let mut nonce = [0u8; NONCE_LEN];
                random(&mut nonce)?;
                let mut sealed = value.to_vec();
                k.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(key.as_bytes()),
                    &mut sealed,
                )
                .map_err(|_| "AES-GCM sealing failed".to_string())?;
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
            }
            Cipher::Secretbox(c) => {
                let mut nonce = [0u8; 24];
                random(&mut nonce)?;
                let sealed = c
                    .encrypt(&nonce.into(), value)
                    .map_err(|_| "secretbox sealing failed".to_string())?;
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
            }
        }
        Ok(out)
    }

    fn open(&self, key: &str, data: &[u8]) -> Result<Vec<u8>, String> {
        let short = || "the stored data is shorter than the cipher needs".to_string();
        match &self.cipher {
            Cipher::Identity => Ok(data.to_vec()),
            Cipher::AesCbc(k) => {
                let (iv, body) = data.split_at_checked(16).ok_or_else(short)?;
                cbc_decrypt(k, iv, body)
            }
            Cipher::AesGcm(k) => {
                let (nonce, body) = data.split_at_checked(NONCE_LEN).ok_or_else(short)?;
                let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| short())?;
                let mut buf = body.to_vec();
                let plain = k
                    .open_in_place(nonce, Aad::from(key.as_bytes()), &mut buf)
                    .map_err(|_| "AES-GCM authentication failed (wrong key, or the value was moved from another key)".to_string())?;
                Ok(plain.to_vec())
            }
            Cipher::Secretbox(c) => {
                let (nonce, body) = data.split_at_checked(24).ok_or_else(short)?;
                let nonce = crypto_secretbox::Nonce::from_slice(nonce);
                c.decrypt(nonce, body)
                    .map_err(|_| "secretbox authentication failed (wrong key)".to_string())
            }
        }
    }
}

fn cbc_encrypt(key: &[u8], iv: &[u8], value: &[u8]) -> Result<Vec<u8>, String> {
    let bad = |_| "invalid AES-CBC key or IV".to_string();
    Ok(match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_vec_mut::<Pkcs7>(value),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_vec_mut::<Pkcs7>(value),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(bad)?
            .encrypt_padded_vec_mut::<Pkcs7>(value),
    })
}

fn cbc_decrypt(key: &[u8], iv: &[u8], body: &[u8]) -> Result<Vec<u8>, String> {
    if body.is_empty() || !body.len().is_multiple_of(16) {
        return Err("the stored data is not a multiple of the AES block size".into());
    }
    let bad = |_| "invalid AES-CBC key or IV".to_string();
    let padding = |_| "invalid PKCS#7 padding (wrong key?)".to_string();
    match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_vec_mut::<Pkcs7>(body)
            .map_err(padding),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_vec_mut::<Pkcs7>(body)
            .map_err(padding),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_vec_mut::<Pkcs7>(body)
            .map_err(padding),
    }
}

/// The providers of one set of resources, in the configuration's order.
#[derive(Debug)]
pub struct Providers(pub Vec<Provider>);

impl Providers {
    fn seal(&self, key: &str, value: Bytes) -> Result<Bytes, String> {
        match self.0.first() {
            None => Ok(value),
            Some(p) if matches!(p.cipher, Cipher::Identity) => Ok(value),
            Some(p) => p.seal(key, &value).map(Bytes::from),
        }
    }

    fn open(&self, key: &str, stored: Bytes) -> Result<Bytes, String> {
        for p in &self.0 {
            if matches!(p.cipher, Cipher::Identity) {
                // Plain values only; an encrypted one is for a later provider.
                if !stored.starts_with(ENCRYPTED) {
                    return Ok(stored);
                }
                continue;
            }
            if let Some(body) = stored.strip_prefix(p.prefix.as_slice()) {
                return p.open(key, body).map(Bytes::from);
            }
        }
        Err(no_provider(&stored))
    }
}

fn no_provider(stored: &[u8]) -> String {
    if stored.starts_with(ENCRYPTED) {
        // k8s:enc:<provider>:v1:<key name>:…, named without the ciphertext.
        let head: Vec<&[u8]> = stored.splitn(6, |b| *b == b':').take(5).collect();
        format!(
            "it is encrypted at rest ({}) and no configured provider has that key",
            String::from_utf8_lossy(&head.join(&b':'))
        )
    } else {
        "it is not encrypted, and the configuration does not list identity to read such values"
            .into()
    }
}

/// The providers each key prefix gets, first match first; keys under none
/// are stored as they are.
#[derive(Debug, Default)]
pub struct Encryption {
    rules: Vec<(String, Arc<Providers>)>,
}

impl Encryption {
    /// `(key prefix, providers)` pairs; a key gets the first that matches.
    pub fn new(rules: Vec<(String, Arc<Providers>)>) -> Self {
        Encryption { rules }
    }

    fn providers(&self, key: &str) -> Option<&Providers> {
        self.rules
            .iter()
            .find(|(p, _)| key.starts_with(p.as_str()))
            .map(|(_, ps)| ps.as_ref())
    }

    /// The bytes to store for `value` at `key`.
    pub fn seal(&self, key: &str, value: Bytes) -> Result<Bytes, String> {
        match self.providers(key) {
            Some(ps) => ps.seal(key, value),
            None => Ok(value),
        }
    }

    /// The plain value stored at `key`.
    pub fn open(&self, key: &str, stored: Bytes) -> Result<Bytes, String> {
        match self.providers(key) {
            Some(ps) => ps.open(key, stored),
            None if stored.starts_with(ENCRYPTED) => Err(no_provider(&stored)),
            None => Ok(stored),
        }
    }
}

impl crate::transform::ValueTransform for Encryption {
    fn on_write(&self, key: &str, value: Bytes) -> Result<Bytes, String> {
        self.seal(key, value)
    }

    fn on_read(&self, key: &str, stored: Bytes) -> Result<Bytes, String> {
        self.open(key, stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "/registry/secrets/default/s";

    fn providers() -> Vec<Provider> {
        vec![
            Provider::aescbc("k1", &[7u8; 32]).expect("aescbc"),
            Provider::aescbc("k128", &[7u8; 16]).expect("aescbc"),
            Provider::aesgcm("k2", &[8u8; 32]).expect("aesgcm"),
            Provider::aesgcm("k2s", &[8u8; 16]).expect("aesgcm"),
            Provider::secretbox("k3", &[9u8; 32]).expect("secretbox"),
            Provider::identity(),
        ]
    }

    #[test]
    fn every_provider_round_trips_and_marks_its_values() {
        let value = br#"{"kind":"Secret","data":{"password":"czNjcjN0"}}"#;
        for p in providers() {
            let sealed = p.seal(KEY, value).expect("seal");
            assert!(sealed.starts_with(&p.prefix));
            if !p.prefix.is_empty() {
                assert!(!sealed.windows(8).any(|w| w == b"czNjcjN0"), "{p:?} leaks");
            }
            let body = &sealed[p.prefix.len()..];
            assert_eq!(p.open(KEY, body).expect("open"), value, "{p:?}");
        }
        // Sizes as upstream lays them out: IV + padded blocks, nonce + tag.
        let cbc = providers().remove(0).seal(KEY, value).expect("seal");
        let padded = (value.len() / 16 + 1) * 16;
        assert_eq!(cbc.len(), "k8s:enc:aescbc:v1:k1:".len() + 16 + padded);
        let gcm = providers().remove(2).seal(KEY, value).expect("seal");
        assert_eq!(
            gcm.len(),
            "k8s:enc:aesgcm:v1:k2:".len() + 12 + value.len() + 16
        );
        let sb = providers().remove(4).seal(KEY, value).expect("seal");
        assert_eq!(
            sb.len(),
            "k8s:enc:secretbox:v1:k3:".len() + 24 + 16 + value.len()
        );
    }

    #[test]
    fn gcm_values_are_bound_to_their_key_and_bad_input_is_an_error() {
        let gcm = Provider::aesgcm("k2", &[8u8; 32]).expect("aesgcm");
        let sealed = gcm.seal(KEY, b"v").expect("seal");
        let body = &sealed[gcm.prefix.len()..];
        assert!(gcm.open("/registry/secrets/default/other", body).is_err());
        for p in providers() {
            if p.prefix.is_empty() {
                continue;
            }
            assert!(p.open(KEY, b"").is_err(), "{p:?} on nothing");
            assert!(p.open(KEY, &[1u8; 40]).is_err(), "{p:?} on garbage");
        }
        assert!(Provider::aescbc("x", &[0; 10]).is_err());
        assert!(Provider::aesgcm("x", &[0; 24]).is_err());
        assert!(Provider::secretbox("x", &[0; 16]).is_err());
    }

    #[test]
    fn the_first_provider_writes_and_any_reads() {
        let rules = |ps: Vec<Provider>| {
            Encryption::new(vec![("/registry/secrets/".into(), Arc::new(Providers(ps)))])
        };
        let new_key = || Provider::secretbox("new", &[1u8; 32]).expect("sb");
        let old_key = || Provider::aescbc("old", &[2u8; 32]).expect("cbc");
        let before = rules(vec![old_key(), Provider::identity()]);
        let after = rules(vec![new_key(), old_key(), Provider::identity()]);
        let v = Bytes::from_static(br#"{"data":{}}"#);
        let old = before.seal(KEY, v.clone()).expect("seal");
        assert!(old.starts_with(b"k8s:enc:aescbc:v1:old:"));
        assert_eq!(after.open(KEY, old.clone()).expect("rotated keys read"), v);
        let new = after.seal(KEY, v.clone()).expect("seal");
        assert!(new.starts_with(b"k8s:enc:secretbox:v1:new:"));
        let e = before.open(KEY, new).expect_err("unknown key");
        assert!(
            e.contains("k8s:enc:secretbox:v1:new") && !e.contains('\u{0}'),
            "{e}"
        );
        // identity reads plain values; without it they are refused.
        assert_eq!(after.open(KEY, v.clone()).expect("plain"), v);
        let strict = rules(vec![new_key()]);
        assert!(strict.open(KEY, v.clone()).is_err());
        // Other keys pass as they are, but an encrypted one is named.
        let cm = "/registry/configmaps/default/c";
        assert_eq!(after.seal(cm, v.clone()).expect("plain"), v);
        assert!(after.open(cm, old).is_err());
        // identity first: writes plain, still reads encrypted values.
        let off = rules(vec![Provider::identity(), old_key()]);
        assert_eq!(off.seal(KEY, v.clone()).expect("plain"), v);
        let still = before.seal(KEY, v.clone()).expect("seal");
        assert_eq!(off.open(KEY, still).expect("decrypts"), v);
    }
}
