//! Which built-in resources get a watch cache: `--watch-cache` (all or
//! none), `--watch-cache-sizes` (`resource[.group]#size`, where only zero
//! means anything: no cache) and `--default-watch-cache-size` (zero: no
//! cache for resources not listed). As upstream, Events have none unless
//! a size says otherwise: they are many, short-lived and rarely watched.

/// Resources upstream serves without a watch cache by default.
const UNCACHED_BY_DEFAULT: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

#[derive(Clone, Debug)]
pub struct WatchCaching {
    pub enabled: bool,
    pub default_size: u32,
    /// `(group, resource, size)` from `--watch-cache-sizes`.
    pub sizes: Vec<(String, String, u32)>,
}

impl Default for WatchCaching {
    fn default() -> Self {
        WatchCaching {
            enabled: true,
            default_size: 100,
            sizes: Vec::new(),
        }
    }
}

impl WatchCaching {
    /// Parses `--watch-cache-sizes` entries (`resource[.group]#size`).
    pub fn parse_sizes(entries: &[String]) -> Result<Vec<(String, String, u32)>, String> {
        entries
            .iter()
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (gr, size) = e
                    .split_once('#')
                    .filter(|(_, s)| !s.contains('#'))
                    .ok_or_else(|| format!("invalid value of watch cache size: {e}"))?;
                let size: i64 = size
                    .parse()
                    .map_err(|_| format!("invalid size of watch cache size: {e}"))?;
                let size = u32::try_from(size)
                    .map_err(|_| format!("watch cache size cannot be negative: {e}"))?;
                let (resource, group) = gr.split_once('.').unwrap_or((gr, ""));
                Ok((group.to_string(), resource.to_string(), size))
            })
            .collect()
    }

    /// Whether `group/resource` is served from a watch cache.
    pub fn caches(&self, group: &str, resource: &str) -> bool {
        if !self.enabled {
            return false;
        }
        if let Some((_, _, size)) = self
            .sizes
            .iter()
            .rev()
            .find(|(g, r, _)| g == group && r == resource)
        {
            return *size > 0;
        }
        !UNCACHED_BY_DEFAULT.contains(&(group, resource)) && self.default_size > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_decide_as_upstream() {
        let sizes = WatchCaching::parse_sizes(&[
            "pods#0".into(),
            "deployments.apps#1000".into(),
            "events#50".into(),
        ])
        .expect("valid");
        assert_eq!(sizes[1], ("apps".into(), "deployments".into(), 1000));
        let c = WatchCaching {
            sizes,
            ..Default::default()
        };
        assert!(!c.caches("", "pods"));
        assert!(c.caches("apps", "deployments"));
        assert!(c.caches("", "events"), "a size overrides the default");
        assert!(!c.caches("events.k8s.io", "events"));
        assert!(c.caches("", "configmaps"));
        let d = WatchCaching::default();
        assert!(!d.caches("", "events") && d.caches("", "secrets"));
        let none = WatchCaching {
            default_size: 0,
            sizes: vec![("".into(), "secrets".into(), 10)],
            ..Default::default()
        };
        assert!(none.caches("", "secrets") && !none.caches("", "configmaps"));
        let off = WatchCaching {
            enabled: false,
            ..Default::default()
        };
        assert!(!off.caches("", "secrets"));
        for bad in ["pods", "pods#x", "pods#-1", "a#1#2"] {
            assert!(WatchCaching::parse_sizes(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
