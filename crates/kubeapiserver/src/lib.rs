//! **KubeAPIServer**: the built-in resources, their strategies, the
//! bootstrap objects and the in-process controllers that upstream's
//! control plane runs for them (namespace finalization).
//!
//! Knows nothing of CRDs or the aggregator; reaches clients only through
//! the generic server's handlers.

pub mod bootstrap;
pub mod catalogue;
pub mod conversion;
pub mod core;
pub mod defaults;
mod namespace_controller;
pub mod namespace_objects;
pub mod pods;
pub mod printers;
pub mod rbac;
pub mod rest;
pub mod service_resolver;
pub mod services;
pub mod status;
pub mod tokens;
pub mod validation;

use std::sync::Arc;

use kaiser_admission::{Chain, NamespaceLifecycle};
use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::meta;
use kaiser_registry::{ResourceInfo, Store, Strategy};
use kaiser_server::{Handler, ResourceTable, Scope, chain};
use kaiser_storage::Storage;
use serde_json::Value;
use services::{ServiceAllocator, ServiceNetwork};
use tokio::sync::watch;

pub use bootstrap::SYSTEM_NAMESPACES;

/// The built-in API server.
pub struct KubeApiServer {
    pub table: Arc<ResourceTable>,
    pub namespaces: Arc<Store>,
    pub net: ServiceNetwork,
    /// The endpoints that are not stored objects (reviews, binding …).
    rest: Option<Arc<rest::Rest>>,
}

/// The in-process controllers that can be switched off (`--controllers`).
#[derive(Clone, Debug)]
pub struct Controllers {
    /// Finalizes terminating namespaces (deletes their content).
    pub namespace: bool,
    /// Makes the `default` ServiceAccount in every namespace.
    pub service_account: bool,
    /// Publishes `kube-root-ca.crt` (with this CA bundle) in every namespace.
    pub root_ca_publisher: Option<String>,
}

fn store(
    info: ResourceInfo,
    strategy: impl Strategy + 'static,
    storage: &Arc<dyn Storage>,
) -> Arc<Store> {
    Arc::new(Store::cached(info, Arc::new(strategy), storage.clone()))
}

impl KubeApiServer {
    /// Builds the resource table over `storage`, with keys under `root`
    /// (`--etcd-prefix`, `/registry` by default).
    /// `storage_name` names the store in `componentstatuses` (`etcd-0`).
    pub fn new(
        storage: Arc<dyn Storage>,
        root: &str,
        net: ServiceNetwork,
        storage_name: &str,
    ) -> Self {
        let ns_strategy: Arc<dyn Strategy> = Arc::new(core::namespace::NamespaceStrategy);
        let namespaces = Arc::new(
            Store::cached(
                core::namespace::info().storage_root(root),
                ns_strategy.clone(),
                storage.clone(),
            )
            .with_subresource(
                "status",
                Arc::new(status::BuiltinStatusStrategy::new(
                    ns_strategy,
                    "",
                    "Namespace",
                )),
            )
            .with_subresource(
                "finalize",
                Arc::new(core::namespace::NamespaceFinalizeStrategy),
            ),
        );
        let table = Arc::new(ResourceTable::new());
        let ipaddresses = catalogue::find("networking.k8s.io", "ipaddresses")
            .map(|e| Arc::new(e.store(root, &storage, None)));
        let allocator: Option<Arc<dyn kaiser_registry::WriteHooks>> =
            ipaddresses.clone().map(|ips| {
                Arc::new(ServiceAllocator::new(
                    net.clone(),
                    ips,
                    storage.clone(),
                    root,
                )) as _
            });
        table.insert(
            catalogue::ENTRIES
                .iter()
                .map(|e| match (e.group, e.resource, &ipaddresses) {
                    ("networking.k8s.io", "ipaddresses", Some(ips)) => ips.clone(),
                    ("", "services", _) => Arc::new(e.store(root, &storage, allocator.clone())),
                    _ => Arc::new(e.store(root, &storage, None)),
                })
                .collect(),
        );
        table.insert(vec![
            store(
                core::configmap::info().storage_root(root),
                core::configmap::ConfigMapStrategy,
                &storage,
            ),
            store(
                core::event::info().storage_root(root),
                core::event::EventStrategy,
                &storage,
            ),
            namespaces.clone(),
            store(
                core::secret::info().storage_root(root),
                core::secret::SecretStrategy,
                &storage,
            ),
            store(
                core::serviceaccount::info().storage_root(root),
                core::serviceaccount::ServiceAccountStrategy,
                &storage,
            ),
        ]);
        // Versions served over another version's objects.
        let converted: Vec<Arc<Store>> = catalogue::CONVERTED
            .iter()
            .filter_map(|c| {
                let stored = table
                    .all()
                    .into_iter()
                    .find(|s| (s.info.group.as_str(), s.info.resource.as_str()) == c.stored)?;
                let mut info = (*stored.info).clone();
                info.group = c.group.to_string();
                info.version = c.version.to_string();
                info.resource = c.resource.to_string();
                let strategy = stored.strategy.clone();
                let mut store = Store::cached(info, strategy.clone(), storage.clone())
                    .with_conversion(c.conversion.clone());
                if stored.subresource("status").is_some() {
                    let s = status::BuiltinStatusStrategy::new(
                        strategy,
                        &stored.info.group,
                        &stored.info.kind,
                    );
                    store = store.with_subresource("status", Arc::new(s));
                }
                Some(Arc::new(store))
            })
            .collect();
        table.insert(converted);
        // Endpoints without storage: in the table for discovery only.
        table.insert(
            rest::infos()
                .into_iter()
                .map(|i| {
                    let info = i.storage_root(root);
                    Arc::new(Store::new(
                        info,
                        Arc::new(kaiser_registry::DefaultStrategy),
                        storage.clone(),
                    ))
                })
                .collect(),
        );
        let find = |g: &str, r: &str| {
            table
                .all()
                .into_iter()
                .find(|s| s.info.group == g && s.info.resource == r)
        };
        let rest = match (find("", "pods"), find("policy", "poddisruptionbudgets")) {
            (Some(pods), Some(pdbs)) => Some(Arc::new(rest::Rest {
                pods,
                pdbs,
                storage: storage.clone(),
                storage_name: storage_name.to_string(),
                tokens: None,
                authorizer: None,
            })),
            _ => None,
        };
        let mut kube = KubeApiServer {
            table,
            namespaces,
            net,
            rest,
        };
        if let (Some(rest), Some(rbac)) = (&kube.rest, kube.rbac()) {
            let mut r = (**rest).clone();
            r.authorizer = Some(rbac);
            kube.rest = Some(Arc::new(r));
        }
        kube
    }

    /// The admission plugins for the whole chain, in upstream's order.
    pub fn admission(&self) -> Chain {
        let mut plugins: Vec<Arc<dyn kaiser_admission::Plugin>> =
            vec![Arc::new(NamespaceLifecycle::new(self.namespaces.clone()))];
        if let Some(sas) = self.store("", "serviceaccounts") {
            plugins.push(Arc::new(kaiser_admission::ServiceAccount {
                service_accounts: sas,
            }));
        }
        plugins.push(Arc::new(kaiser_admission::TaintNodesByCondition));
        if let Some(pcs) = self.store("scheduling.k8s.io", "priorityclasses") {
            plugins.push(Arc::new(kaiser_admission::Priority {
                priority_classes: pcs,
            }));
        }
        plugins.push(Arc::new(kaiser_admission::DefaultTolerationSeconds));
        plugins.push(Arc::new(kaiser_admission::StorageObjectInUseProtection));
        Chain::new(plugins)
    }

    /// Serves the built-in resources; everything else goes to `delegate`.
    pub fn handler(&self, scope: Scope, delegate: Handler) -> Handler {
        let stored = chain::resource_server(self.table.clone(), scope, delegate);
        match &self.rest {
            Some(rest) => rest::handler(rest.clone(), stored),
            None => stored,
        }
    }

    /// Serves `serviceaccounts/token` with `key`; returns the bearer-token
    /// authenticator that accepts what it issues (call before `handler`).
    pub fn enable_tokens(
        &mut self,
        key: Arc<kaiser_auth::serviceaccount::TokenKey>,
        max_expiration: i64,
    ) -> Option<Arc<tokens::ServiceAccountTokens>> {
        let t = Arc::new(tokens::ServiceAccountTokens {
            key,
            service_accounts: self.store("", "serviceaccounts")?,
            pods: self.store("", "pods"),
            secrets: self.store("", "secrets"),
            max_expiration,
        });
        if let Some(rest) = &mut self.rest {
            let mut r = (**rest).clone();
            r.tokens = Some(t.clone());
            *rest = Arc::new(r);
        }
        Some(t)
    }

    /// The RBAC authorizer over this server's RBAC stores.
    pub fn rbac(&self) -> Option<Arc<rbac::RbacAuthorizer>> {
        const G: &str = "rbac.authorization.k8s.io";
        Some(Arc::new(rbac::RbacAuthorizer {
            cluster_roles: self.store(G, "clusterroles")?,
            roles: self.store(G, "roles")?,
            cluster_role_bindings: self.store(G, "clusterrolebindings")?,
            role_bindings: self.store(G, "rolebindings")?,
        }))
    }

    /// Resolves Service references for webhooks and the aggregator's proxy
    /// (`--enable-aggregator-routing` picks endpoint routing).
    pub fn service_resolver(
        &self,
        endpoint_routing: bool,
    ) -> Option<Arc<service_resolver::StoreServiceResolver>> {
        Some(Arc::new(service_resolver::StoreServiceResolver {
            services: self.store("", "services")?,
            endpoint_slices: self.store("discovery.k8s.io", "endpointslices")?,
            endpoint_routing,
        }))
    }

    /// The store of a built-in resource (preferred version).
    pub fn store(&self, group: &str, resource: &str) -> Option<Arc<Store>> {
        self.table
            .all()
            .into_iter()
            .find(|s| s.info.group == group && s.info.resource == resource)
    }

    /// Creates what a fresh cluster has when missing, and points the
    /// `kubernetes` Endpoints and EndpointSlice at `at` (a post-start hook).
    pub async fn bootstrap(&self, at: &bootstrap::Endpoint) -> Result<(), StatusError> {
        let none = |_: &Value, _: Option<&Value>| Ok(());
        for (group, resource, obj) in bootstrap::objects(&self.net, at) {
            let Some(store) = self.store(group, resource) else {
                continue;
            };
            let name = meta::name(&obj).to_string();
            let ns = meta::namespace(&obj).to_string();
            match store.create(obj.clone(), &none, false).await {
                Ok(_) => tracing::debug!(resource, name, "created a bootstrap object"),
                Err(e) if bootstrap::already_there(&e) => {
                    // Where this server is reachable may have changed.
                    if matches!(resource, "endpoints" | "endpointslices") {
                        let apply = |old: Option<&Value>| {
                            let mut new = obj.clone();
                            if let Some(m) = old.and_then(|o| o.get("metadata")) {
                                new["metadata"] = m.clone();
                            }
                            Ok(new)
                        };
                        store.update(&ns, &name, &apply, &none, false).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Starts the in-process controllers; they stop when `shutdown` turns true.
    pub fn start_controllers(
        &self,
        which: &Controllers,
        content: Vec<Arc<ResourceTable>>,
        shutdown: watch::Receiver<bool>,
    ) {
        if which.namespace {
            tokio::spawn(namespace_controller::run(
                self.namespaces.clone(),
                content,
                shutdown.clone(),
            ));
        }
        let objects = namespace_objects::NamespaceObjects {
            namespaces: self.namespaces.clone(),
            root_ca: which
                .root_ca_publisher
                .clone()
                .and_then(|ca| Some((self.store("", "configmaps")?, ca))),
            service_accounts: which
                .service_account
                .then(|| self.store("", "serviceaccounts"))
                .flatten(),
        };
        if objects.root_ca.is_some() || objects.service_accounts.is_some() {
            tokio::spawn(objects.run(shutdown));
        }
    }
}
