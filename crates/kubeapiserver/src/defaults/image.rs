//! The tag of a container image reference, as upstream's image-name parser
//! (docker's normalized-name grammar) sees it: it decides `imagePullPolicy`.

/// Whether the reference pulls `Always`: its tag is `latest`, given or
/// implied (no tag and no digest). A reference that does not parse, or has
/// only a digest, pulls `IfNotPresent`.
pub(super) fn pulls_always(image: &str) -> bool {
    tag_of(image).as_deref() == Some("latest")
}

/// The tag the parser finds: `latest` when neither tag nor digest is
/// given, `""` with a digest only, `None` when the reference is invalid.
fn tag_of(image: &str) -> Option<String> {
    // A bare 64-hex string is an image id, which the parser refuses.
    if image.len() == 64
        && image
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let (domain, remainder) = split_domain(image);
    // The repository path (up to the first ':') must be lowercase.
    let remote = remainder.split(':').next().unwrap_or("");
    if remote.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let full = format!("{domain}/{remainder}");

    let (name_tag, digest) = match full.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (full.as_str(), None),
    };
    if let Some(d) = digest
        && !valid_digest(d)
    {
        return None;
    }
    // A tag follows the last ':' that has no '/' after it (a port does).
    let (name, tag) = match name_tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (name_tag, None),
    };
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return None;
    }
    if name.len() > 255 {
        return None;
    }
    let mut parts = name.split('/');
    let first = parts.next().unwrap_or("");
    if !(valid_domain(first) || valid_path_component(first)) {
        return None;
    }
    let mut rest = 0;
    for p in parts {
        if !valid_path_component(p) {
            return None;
        }
        rest += 1;
    }
    if rest == 0 {
        return None;
    }
    Some(match (tag, digest) {
        (Some(t), _) => t.to_owned(),
        (None, Some(_)) => String::new(),
        (None, None) => "latest".to_owned(),
    })
}

/// Docker's split of a name into registry and path: the first component is
/// a registry when it has a '.' or ':', is `localhost`, or has uppercase.
fn split_domain(name: &str) -> (String, String) {
    let (domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), name.to_owned()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".to_owned()
    } else {
        domain
    };
    if domain == "docker.io" && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    (domain, remainder)
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`.
fn valid_path_component(s: &str) -> bool {
    let mut seen_alnum = false;
    let mut sep = String::new();
    for c in s.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if !sep.is_empty() {
                let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
                if !ok {
                    return false;
                }
                sep.clear();
            }
            seen_alnum = true;
        } else if matches!(c, '.' | '_' | '-') && seen_alnum {
            sep.push(c);
        } else {
            return false;
        }
    }
    seen_alnum && sep.is_empty()
}

/// A host name or bracketed IPv6 address, with an optional numeric port.
fn valid_domain(s: &str) -> bool {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return false;
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    if s.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    matches!(chars.next(), Some(c) if word(c))
        && t.len() <= 128
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// A digest of a registered algorithm with its exact lowercase-hex length.
fn valid_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == want
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn latest_given_or_implied_pulls_always() {
        for image in [
            "nginx",
            "nginx:latest",
            "library/nginx",
            "docker.io/library/nginx:latest",
            "registry.example.com:5000/team/app",
            "localhost/app",
            "localhost:5000/app:latest",
            "[::1]:5000/app",
            "Example.COM/app",
        ] {
            assert!(pulls_always(image), "{image} should pull Always");
        }
        assert!(pulls_always(&format!("nginx:latest@{SHA}")));
    }

    #[test]
    fn other_tags_digests_and_bad_references_pull_if_not_present() {
        for image in [
            "nginx:1.25",
            "nginx:Latest",
            "registry.example.com:5000/team/app:v2",
            "",
            " nginx",
            "Nginx",
            "nginx:",
            "nginx@sha256:abc",
            "a/b//c",
            "nginx:-bad",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(!pulls_always(image), "{image} should pull IfNotPresent");
        }
        assert!(!pulls_always(&format!("nginx@{SHA}")));
        assert_eq!(tag_of(&format!("nginx@{SHA}")).as_deref(), Some(""));
        assert_eq!(tag_of("busybox:1.36").as_deref(), Some("1.36"));
        assert_eq!(tag_of("Nginx"), None);
    }

    #[test]
    fn path_components() {
        assert!(valid_path_component("a.b_c__d--e"));
        assert!(!valid_path_component("a..b"));
        assert!(!valid_path_component("_a"));
        assert!(!valid_path_component("a-"));
        assert!(!valid_path_component(""));
        assert!(valid_domain("my-registry.local:443"));
        assert!(!valid_domain("-bad.com"));
    }
}
