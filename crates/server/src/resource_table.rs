//! The resource table: which resources a server serves right now. Read on
//! every request without locks; replaced whole when resources come or go
//! (CRDs at run time).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use kaiser_registry::Store;

#[derive(Default)]
struct Entries {
    /// In registration order, which discovery keeps.
    ordered: Vec<Arc<Store>>,
    index: HashMap<(String, String, String), usize>,
}

/// A lock-free, swappable map from (group, version, resource) to its store.
#[derive(Default)]
pub struct ResourceTable {
    entries: ArcSwap<Entries>,
}

impl ResourceTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn lookup(&self, group: &str, version: &str, resource: &str) -> Option<Arc<Store>> {
        let e = self.entries.load();
        let i = *e
            .index
            .get(&(group.to_string(), version.to_string(), resource.to_string()))?;
        e.ordered.get(i).cloned()
    }

    /// Every store, in registration order.
    pub fn all(&self) -> Vec<Arc<Store>> {
        self.entries.load().ordered.clone()
    }

    /// Adds (or replaces) stores.
    pub fn insert(&self, stores: Vec<Arc<Store>>) {
        self.entries.rcu(|cur| {
            let mut ordered = cur.ordered.clone();
            for s in &stores {
                let i = &s.info;
                let key = (i.group.clone(), i.version.clone(), i.resource.clone());
                match cur.index.get(&key) {
                    Some(&at) => ordered[at] = s.clone(),
                    None => ordered.push(s.clone()),
                }
            }
            Arc::new(build(ordered))
        });
    }

    /// Removes every store of a group/version/resource.
    pub fn remove(&self, group: &str, version: &str, resource: &str) {
        self.entries.rcu(|cur| {
            let ordered = cur
                .ordered
                .iter()
                .filter(|s| {
                    !(s.info.group == group
                        && s.info.version == version
                        && s.info.resource == resource)
                })
                .cloned()
                .collect();
            Arc::new(build(ordered))
        });
    }
}

fn build(ordered: Vec<Arc<Store>>) -> Entries {
    let index = ordered
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                (
                    s.info.group.clone(),
                    s.info.version.clone(),
                    s.info.resource.clone(),
                ),
                i,
            )
        })
        .collect();
    Entries { ordered, index }
}
