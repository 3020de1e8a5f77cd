//! `--encryption-provider-config`: the EncryptionConfiguration file
//! (`apiserver.config.k8s.io/v1`), resolved to the key prefixes of the
//! resources it names, and the value transform every store goes through
//! (decryption, then the protobuf kube-apiserver stores built-in kinds in);
//! with `--encryption-provider-config-automatic-reload`, the file read
//! again while kaiser runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use kaiser_apimachinery::codec::{self, Format};
use kaiser_storage::encryption::{Encryption, Provider, Providers};
use kaiser_storage::transform::ValueTransform;
use serde::Deserialize;
use serde_json::Value;

/// Core resources that are not in the catalogue (their keys are their names).
const CORE: &[&str] = &[
    "namespaces",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "events",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    resources: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<Value>,
}

#[derive(Deserialize)]
struct Keys {
    #[serde(default)]
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct Key {
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

/// Reads and validates the file, every error at once, and resolves it to
/// the key prefixes under `root`; also returns the [`content_hash`] of what
/// it read, which a reload compares against.
pub fn load(path: &Path, root: &str) -> Result<(Encryption, u64), Vec<String>> {
    let bytes =
        std::fs::read(path).map_err(|e| vec![format!("reading {}: {e}", path.display())])?;
    Ok((parse(&bytes, root)?, content_hash(&bytes)))
}

/// Tells one content of the file from another without keeping it (it holds
/// key material).
pub fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

pub fn parse(bytes: &[u8], root: &str) -> Result<Encryption, Vec<String>> {
    let value = codec::decode(bytes, Format::Yaml).map_err(|e| vec![e.message])?;
    let cfg: Config =
        serde_json::from_value(value).map_err(|e| vec![format!("decoding the file: {e}")])?;
    let mut errs = Vec::new();
    if cfg.api_version != "apiserver.config.k8s.io/v1" || cfg.kind != "EncryptionConfiguration" {
        errs.push(format!(
            "the file is {}/{}; it must be apiserver.config.k8s.io/v1 EncryptionConfiguration",
            cfg.api_version, cfg.kind
        ));
    }
    if cfg.resources.is_empty() {
        errs.push("resources: at least one rule is required".into());
    }
    let mut rules = Vec::new();
    for (i, rule) in cfg.resources.iter().enumerate() {
        let at = format!("resources[{i}]");
        if rule.resources.is_empty() {
            errs.push(format!("{at}.resources: at least one resource is required"));
        }
        if rule.providers.is_empty() {
            errs.push(format!("{at}.providers: at least one provider is required"));
        }
        let mut providers = Vec::new();
        for (j, p) in rule.providers.iter().enumerate() {
            match provider_set(p) {
                Ok(mut ps) => providers.append(&mut ps),
                Err(e) => errs.push(format!("{at}.providers[{j}]: {e}")),
            }
        }
        let providers = Arc::new(Providers(providers));
        for (j, r) in rule.resources.iter().enumerate() {
            match key_prefixes(r, root) {
                Ok(prefixes) => rules.extend(prefixes.into_iter().map(|p| (p, providers.clone()))),
                Err(e) => errs.push(format!("{at}.resources[{j}]: {e}")),
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // The first rule naming a resource wins, as upstream's.
    let mut seen = std::collections::HashSet::new();
    rules.retain(|(p, _)| seen.insert(p.clone()));
    Ok(Encryption::new(rules))
}

/// One `providers` entry: exactly one provider type, with its keys in
/// order (each key reads; the first writes).
fn provider_set(p: &Value) -> Result<Vec<Provider>, String> {
    let Some(obj) = p.as_object().filter(|o| o.len() == 1) else {
        return Err("must name exactly one provider".into());
    };
    let Some((kind, body)) = obj.iter().next() else {
        return Err("must name exactly one provider".into());
    };
    let make: fn(&str, &[u8]) -> Result<Provider, String> = match kind.as_str() {
        "identity" => return Ok(vec![Provider::identity()]),
        "aescbc" => Provider::aescbc,
        "aesgcm" => Provider::aesgcm,
        "secretbox" => Provider::secretbox,
        "kms" => return Err("kms providers are not supported by kaiser".into()),
        other => return Err(format!("unknown provider {other:?}")),
    };
    let keys: Keys = serde_json::from_value(body.clone()).map_err(|e| format!("{kind}: {e}"))?;
    if keys.keys.is_empty() {
        return Err(format!("{kind}.keys: at least one key is required"));
    }
    let mut out = Vec::new();
    for (i, k) in keys.keys.iter().enumerate() {
        if k.name.is_empty() || k.name.contains(':') {
            return Err(format!("{kind}.keys[{i}].name: required, and without ':'"));
        }
        let secret = base64::engine::general_purpose::STANDARD
            .decode(k.secret.trim())
            .map_err(|_| format!("{kind}.keys[{i}].secret: not valid base64"))?;
        out.push(make(&k.name, &secret).map_err(|e| format!("{kind}.keys[{i}]: {e}"))?);
    }
    Ok(out)
}

/// The key prefixes of `resource.group`, `*.group`, `*.` (the core group)
/// or `*.*` (everything), as kaiser lays keys out under `root`.
fn key_prefixes(selector: &str, root: &str) -> Result<Vec<String>, String> {
    let root = root.trim_end_matches('/');
    let (resource, group) = selector.split_once('.').unwrap_or((selector, ""));
    if resource.is_empty() || selector.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("{selector:?} must be a lowercase resource[.group]"));
    }
    let builtin = |group: &str| -> Vec<String> {
        let mut out: Vec<String> = kaiser_kubeapiserver::catalogue::ENTRIES
            .iter()
            .filter(|e| e.group == group)
            .map(|e| format!("{root}/{}/", e.storage))
            .collect();
        if group.is_empty() {
            out.extend(CORE.iter().map(|r| format!("{root}/{r}/")));
        }
        if group == "apiextensions.k8s.io" {
            out.push(format!(
                "{root}/apiextensions.k8s.io/customresourcedefinitions/"
            ));
        }
        out
    };
    Ok(match (resource, group) {
        ("*", "*") => vec![format!("{root}/")],
        ("*", g) => {
            let known = builtin(g);
            if known.is_empty() {
                // A custom resource group: all its resources.
                vec![format!("{root}/{g}/")]
            } else {
                known
            }
        }
        (r, "") if CORE.contains(&r) => vec![format!("{root}/{r}/")],
        // events.k8s.io Events are core Events.
        ("events", "events.k8s.io") => vec![format!("{root}/events/")],
        ("customresourcedefinitions", "apiextensions.k8s.io") => {
            vec![format!(
                "{root}/apiextensions.k8s.io/customresourcedefinitions/"
            )]
        }
        (r, g) => match kaiser_kubeapiserver::catalogue::find(g, r) {
            Some(e) => vec![format!("{root}/{}/", e.storage)],
            None if g.is_empty() => return Err(format!("{r:?} is not a core resource")),
            // A custom resource's keys.
            None => vec![format!("{root}/{g}/{r}/")],
        },
    })
}

/// The encryption configuration in use: one for every store, replaced
/// whole when a reload finds the file changed.
pub type Current = Arc<RwLock<Option<Arc<Encryption>>>>;

/// How often `--encryption-provider-config-automatic-reload` reads the file.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Reads the file at `path` every [`RELOAD_EVERY`] until `shutdown`: when
/// its content differs from the last one seen (`loaded`, the
/// [`content_hash`] of what start-up read) and is valid, it replaces the
/// configuration in use (new writes use its first provider; values written
/// with keys it still lists stay readable); when it is not valid, the error
/// is logged once and the configuration in use stays, as upstream's reload
/// controller does.
pub async fn reload(
    path: PathBuf,
    root: String,
    current: Current,
    loaded: u64,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut last = Some(loaded);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RELOAD_EVERY) => {}
            _ = shutdown.wait_for(|down| *down) => return,
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                if last.take().is_some() {
                    tracing::error!(path = %path.display(), error = %e, "cannot read the encryption configuration; the one in use stays");
                }
                continue;
            }
        };
        let hash = content_hash(&bytes);
        if last == Some(hash) {
            continue;
        }
        match parse(&bytes, &root) {
            Ok(e) => {
                *current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(e));
                tracing::info!(path = %path.display(), "encryption configuration reloaded");
            }
            Err(errors) => tracing::error!(
                path = %path.display(),
                ?errors,
                "the changed encryption configuration is not valid; the one in use stays"
            ),
        }
        last = Some(hash);
    }
}

/// What every value goes through between kaiser and its store.
pub struct AtRest {
    pub encryption: Current,
}

impl AtRest {
    fn in_use(&self) -> Option<Arc<Encryption>> {
        self.encryption
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ValueTransform for AtRest {
    fn on_write(&self, key: &str, value: Bytes) -> Result<Bytes, String> {
        match self.in_use() {
            Some(e) => e.seal(key, value),
            None => Ok(value),
        }
    }

    fn on_read(&self, key: &str, stored: Bytes) -> Result<Bytes, String> {
        let plain = match self.in_use() {
            Some(e) => e.open(key, stored)?,
            None => stored,
        };
        // kube-apiserver stores built-in kinds as protobuf.
        match kaiser_apimachinery::protobuf::stored_json(&plain) {
            None => Ok(plain),
            Some(r) => r.map(Bytes::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, "widgets.example.com"]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=
      - identity: {}
  - resources: ["*.apps", "configmaps", "secrets"]
    providers:
      - secretbox:
          keys:
            - name: sb
              secret: MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=
"#;

    #[test]
    fn a_configuration_resolves_to_key_prefixes() {
        let enc = parse(CONFIG.as_bytes(), "/registry").expect("valid");
        let sealed = |key: &str| enc.seal(key, Bytes::from_static(b"{}")).expect("seal");
        assert!(sealed("/registry/secrets/ns/a").starts_with(b"k8s:enc:aescbc:v1:key1:"));
        assert!(sealed("/registry/example.com/widgets/ns/w").starts_with(b"k8s:enc:aescbc:"));
        assert!(sealed("/registry/deployments/ns/d").starts_with(b"k8s:enc:secretbox:v1:sb:"));
        assert!(sealed("/registry/controllerrevisions/ns/r").starts_with(b"k8s:enc:secretbox:"));
        assert!(sealed("/registry/configmaps/ns/c").starts_with(b"k8s:enc:secretbox:"));
        assert_eq!(sealed("/registry/pods/ns/p").as_ref(), b"{}");
        let all = parse(
            CONFIG
                .replace("[secrets, \"widgets.example.com\"]", "[\"*.*\"]")
                .as_bytes(),
            "/kaiser",
        )
        .expect("valid");
        let masterlease = all
            .seal("/kaiser/masterleases/10.0.0.1", Bytes::from_static(b"{}"))
            .expect("seal");
        assert!(masterlease.starts_with(b"k8s:enc:aescbc:"));
    }

    #[test]
    fn every_mistake_is_reported() {
        let bad = r#"
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [Secrets, bogus]
    providers:
      - aescbc: {keys: [{name: k, secret: "bm90IDMyIGJ5dGVz"}]}
      - kms: {name: vault, endpoint: "unix:///kms.sock"}
      - aesgcm: {keys: []}
      - rot13: {}
      - {identity: {}, secretbox: {keys: []}}
      - secretbox: {keys: [{name: "a:b", secret: "eA=="}]}
      - aescbc: {keys: [{name: k, secret: "***"}]}
  - resources: []
    providers: []
"#;
        let errs = parse(bad.as_bytes(), "/registry").expect_err("invalid");
        let want = [
            "resources[0].providers[0]: aescbc.keys[0]: aescbc key \"k\" is 12 bytes",
            "resources[0].providers[1]: kms providers are not supported",
            "resources[0].providers[2]: aesgcm.keys: at least one key",
            "resources[0].providers[3]: unknown provider \"rot13\"",
            "resources[0].providers[4]: must name exactly one provider",
            "resources[0].providers[5]: secretbox.keys[0].name",
            "resources[0].providers[6]: aescbc.keys[0].secret: not valid base64",
            "resources[0].resources[0]: \"Secrets\" must be a lowercase",
            "resources[0].resources[1]: \"bogus\" is not a core resource",
            "resources[1].resources: at least one resource",
            "resources[1].providers: at least one provider",
        ];
        for w in want {
            assert!(errs.iter().any(|e| e.starts_with(w)), "{w}\n{errs:#?}");
        }
        assert_eq!(errs.len(), want.len(), "{errs:#?}");
        let wrong_kind =
            parse(b"apiVersion: v1\nkind: ConfigMap\nresources: []\n", "/r").expect_err("invalid");
        assert!(
            wrong_kind[0].contains("EncryptionConfiguration"),
            "{wrong_kind:?}"
        );
    }

    #[test]
    fn values_at_rest_are_decrypted_then_decoded() {
        let enc = parse(CONFIG.as_bytes(), "/registry").expect("valid");
        let at_rest = AtRest {
            encryption: Arc::new(RwLock::new(Some(Arc::new(enc)))),
        };
        let key = "/registry/secrets/ns/a";
        let json = Bytes::from_static(br#"{"apiVersion":"v1","kind":"Secret"}"#);
        let stored = at_rest.on_write(key, json.clone()).expect("seal");
        assert_ne!(stored, json);
        assert_eq!(at_rest.on_read(key, stored).expect("open"), json);
        let plain = AtRest {
            encryption: Arc::default(),
        };
        let e = plain
            .on_read(key, Bytes::from_static(b"k8s:enc:aescbc:v1:key1:xyz"))
            .expect_err("no key");
        assert!(e.contains("encrypted at rest"), "{e}");
    }
}
