//! Managed fields across the `scale` subresource: the `Scale` object shows
//! the entries that own the parent's replicas path (as `spec.replicas` of
//! `autoscaling/v1`), and what a scale write records goes back to the
//! parent's entries, as upstream's scale handler does.

use super::entries::Entry;
use super::path::{Path, PathElement};
use super::set::Set;

pub const SCALE_API_VERSION: &str = "autoscaling/v1";

fn scale_replicas() -> Path {
    vec![PathElement::field("spec"), PathElement::field("replicas")]
}

/// The parent's replicas path (`.spec.replicas`) as a path.
pub fn replicas_path(dotted: &str) -> Path {
    dotted
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .map(PathElement::field)
        .collect()
}

/// The entries a `Scale` of the parent shows.
pub fn to_subresource(parent: &[Entry], parent_api_version: &str, replicas: &Path) -> Vec<Entry> {
    parent
        .iter()
        .filter(|e| e.api_version == parent_api_version && e.fields.has(replicas))
        .map(|e| Entry {
            api_version: SCALE_API_VERSION.to_string(),
            fields: Set::from_paths([scale_replicas().as_slice()]),
            ..e.clone()
        })
        .collect()
}

/// The parent's entries after a scale write left `scale` as the `Scale`'s
/// entries: managers that no longer own `spec.replicas` there lose the
/// replicas path, new owners get it.
pub fn to_parent(
    parent: &[Entry],
    scale: &[Entry],
    parent_api_version: &str,
    replicas: &Path,
) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(parent.len() + scale.len());
    let mut used = vec![false; scale.len()];
    for p in parent {
        if p.api_version != parent_api_version || !p.fields.has(replicas) {
            out.push(p.clone());
            continue;
        }
        match scale.iter().position(|s| s.same_manager(p)) {
            Some(i) => {
                used[i] = true;
                out.push(p.clone());
            }
            None => {
                let rest = p.fields.difference(&Set::from_paths([replicas.as_slice()]));
                if !rest.is_empty() {
                    out.push(Entry {
                        fields: rest,
                        ..p.clone()
                    });
                }
            }
        }
    }
    for (s, _) in scale.iter().zip(&used).filter(|(_, u)| !**u) {
        if !s.fields.has(&scale_replicas()) {
            continue;
        }
        // Upstream takes the time from a parent entry of the same manager.
        let time = parent
            .iter()
            .find(|p| p.same_manager(s))
            .and_then(|p| p.time.clone());
        let entry = Entry {
            api_version: parent_api_version.to_string(),
            time,
            fields: Set::from_paths([replicas.as_slice()]),
            ..s.clone()
        };
        match out.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(e) => *e = entry,
            None => out.push(entry),
        }
    }
    out
}
