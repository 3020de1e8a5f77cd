//! **KubeAPIServer**: the built-in resources, their strategies, the
//! bootstrap objects (with the RBAC bootstrap policy), the authorizers that
//! read stored objects (RBAC, Node), RBAC escalation prevention, and the
//! in-process controllers that upstream's control plane runs for them
//! (namespace finalization, ClusterRole aggregation).
//!
//! Knows nothing of CRDs or the aggregator; reaches clients only through
//! the generic server's handlers.

pub mod aggregation;
pub mod authentication_info;
pub mod bootstrap;
pub mod bootstrap_tokens;
pub mod catalogue;
pub mod conversion;
pub mod core;
pub mod defaults;
pub mod endpoint_reconciler;
pub mod escalation;
pub mod mirror;
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
pub mod watch_cache;

use std::sync::{Arc, Mutex};

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
    /// RBAC over mirrors of the RBAC stores.
    rbac: Option<Arc<rbac::RbacAuthorizer>>,
    /// The Node authorizer over mirrors of pods, claims and attachments.
    node: Option<Arc<rbac::NodeAuthorizer>>,
    /// The ClusterRoles as mirrored for RBAC (snapshot index 0), for the
    /// aggregation controller.
    rbac_objects: Option<tokio::sync::watch::Receiver<Option<mirror::Snapshot>>>,
    /// Mirrors to start with the controllers.
    mirrors: Mutex<Vec<mirror::Mirror>>,
    /// Every authorization mode in order, once configured.
    authorizer: Option<Arc<dyn kaiser_auth::Authorizer>>,
    /// The Services store's allocator, for the repair loop.
    service_allocator: Option<Arc<ServiceAllocator>>,
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
    /// Keeps the rules of aggregating ClusterRoles current.
    pub clusterrole_aggregation: bool,
    /// Deletes in flight at once when the namespace controller empties a
    /// namespace (`--delete-collection-workers`).
    pub delete_collection_workers: usize,
}

/// The admission check of the server's own writes (its controllers and the
/// service repair loop): none.
pub(crate) fn no_admission(_: &Value, _: Option<&Value>) -> Result<(), StatusError> {
    Ok(())
}

fn store(
    info: ResourceInfo,
    strategy: impl Strategy + 'static,
    storage: &Arc<dyn Storage>,
    caching: &watch_cache::WatchCaching,
) -> Arc<Store> {
    let cached = caching.caches(&info.group, &info.resource);
    Arc::new(Store::cached_if(
        info,
        Arc::new(strategy),
        storage.clone(),
        cached,
    ))
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
        event_ttl: std::time::Duration,
        overrides: &[(String, String, Arc<dyn Storage>)],
        caching: &watch_cache::WatchCaching,
    ) -> Self {
        // `--etcd-servers-overrides`: a resource's own storage, if it has one.
        let storage_for = |group: &str, resource: &str| -> Arc<dyn Storage> {
            overrides
                .iter()
                .find(|(g, r, _)| g == group && r == resource)
                .map_or_else(|| storage.clone(), |(_, _, s)| s.clone())
        };
        let ns_strategy: Arc<dyn Strategy> = Arc::new(core::namespace::NamespaceStrategy);
        let namespaces = Arc::new(
            Store::cached_if(
                core::namespace::info().storage_root(root),
                ns_strategy.clone(),
                storage_for("", "namespaces"),
                caching.caches("", "namespaces"),
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
            .map(|e| Arc::new(e.store(root, &storage_for(e.group, e.resource), None, caching)));
        let service_allocator: Option<Arc<ServiceAllocator>> = ipaddresses.clone().map(|ips| {
            Arc::new(ServiceAllocator::new(
                net.clone(),
                ips,
                storage.clone(),
                root,
            ))
        });
        let allocator = service_allocator
            .clone()
            .map(|a| a as Arc<dyn kaiser_registry::WriteHooks>);
        table.insert(
            catalogue::ENTRIES
                .iter()
                .map(|e| match (e.group, e.resource, &ipaddresses) {
                    ("networking.k8s.io", "ipaddresses", Some(ips)) => ips.clone(),
                    ("", "services", _) => Arc::new(e.store(
                        root,
                        &storage_for(e.group, e.resource),
                        allocator.clone(),
                        caching,
                    )),
                    _ => Arc::new(e.store(root, &storage_for(e.group, e.resource), None, caching)),
                })
                .collect(),
        );
        table.insert(vec![
            store(
                core::configmap::info().storage_root(root),
                core::configmap::ConfigMapStrategy,
                &storage_for("", "configmaps"),
                caching,
            ),
            // Events expire (`--event-ttl`; zero keeps them), in every
            // version served.
            store(
                {
                    let info = core::event::info().storage_root(root);
                    if event_ttl.is_zero() {
                        info
                    } else {
                        info.expire_after(event_ttl)
                    }
                },
                core::event::EventStrategy,
                &storage_for("", "events"),
                caching,
            ),
            namespaces.clone(),
            store(
                core::secret::info().storage_root(root),
                core::secret::SecretStrategy,
                &storage_for("", "secrets"),
                caching,
            ),
            store(
                core::serviceaccount::info().storage_root(root),
                core::serviceaccount::ServiceAccountStrategy,
                &storage_for("", "serviceaccounts"),
                caching,
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
                info.storage_version =
                    Some((stored.info.group.clone(), stored.info.version.clone()));
                info.group = c.group.to_string();
                info.version = c.version.to_string();
                info.resource = c.resource.to_string();
                let strategy = stored.strategy.clone();
                let cached = caching.caches(c.group, c.resource);
                let storage = storage_for(c.stored.0, c.stored.1);
                let mut store = Store::cached_if(info, strategy.clone(), storage, cached)
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
                    let info = i.storage_root(root).unstored();
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
                authn: None,
            })),
            _ => None,
        };
        let mut kube = KubeApiServer {
            table,
            namespaces,
            net,
            rest,
            rbac: None,
            node: None,
            rbac_objects: None,
            mirrors: Mutex::new(Vec::new()),
            authorizer: None,
            service_allocator,
        };
        kube.mirror_policy();
        kube
    }

    /// Sets up the mirrors RBAC and the Node authorizer read from.
    fn mirror_policy(&mut self) {
        const G: &str = "rbac.authorization.k8s.io";
        let rbac_stores: Option<Vec<Arc<Store>>> = [
            (G, "clusterroles"),
            (G, "roles"),
            (G, "clusterrolebindings"),
            (G, "rolebindings"),
        ]
        .iter()
        .map(|(g, r)| self.store(g, r))
        .collect();
        let node_stores: Option<Vec<Arc<Store>>> = [
            ("", "pods"),
            ("", "persistentvolumeclaims"),
            ("storage.k8s.io", "volumeattachments"),
        ]
        .iter()
        .map(|(g, r)| self.store(g, r))
        .collect();
        let mut mirrors = Vec::new();
        if let Some(stores) = rbac_stores {
            let (m, rx) = mirror::Mirror::new(stores);
            mirrors.push(m);
            self.rbac = Some(Arc::new(rbac::RbacAuthorizer::new(rx.clone())));
            self.rbac_objects = Some(rx);
        }
        if let Some(stores) = node_stores {
            let (m, rx) = mirror::Mirror::new(stores);
            mirrors.push(m);
            let rules = bootstrap::rbac::node_rules();
            self.node = Some(Arc::new(rbac::NodeAuthorizer::new(rx, rules)));
        }
        self.mirrors = Mutex::new(mirrors);
    }

    /// Configures `--authorization-mode`: the union of `system:masters`
    /// (always first, as upstream), public health checks and version, and
    /// the modes in order. `webhook` is
    /// the hook for `Webhook` mode (asked in its place when given). Call
    /// before `handler` and `admission`; returns the union.
    pub fn enable_authorization(
        &mut self,
        modes: &[kaiser_auth::authz::Mode],
        webhook: Option<Arc<dyn kaiser_auth::Authorizer>>,
    ) -> Arc<dyn kaiser_auth::Authorizer> {
        use kaiser_auth::authz::{
            AlwaysAllow, AlwaysDeny, Mode, PrivilegedGroups, PublicHealth, Union,
        };
        let mut list: Vec<Arc<dyn kaiser_auth::Authorizer>> = vec![
            Arc::new(PrivilegedGroups::masters()),
            Arc::new(PublicHealth),
        ];
        for m in modes {
            let a: Option<Arc<dyn kaiser_auth::Authorizer>> = match m {
                Mode::AlwaysAllow => Some(Arc::new(AlwaysAllow)),
                Mode::AlwaysDeny => Some(Arc::new(AlwaysDeny)),
                Mode::Rbac => self.rbac.clone().map(|r| r as _),
                Mode::Node => self.node.clone().map(|n| n as _),
                Mode::Webhook => {
                    if webhook.is_none() {
                        tracing::warn!(
                            "authorization mode Webhook has no webhook configured; it has no opinion"
                        );
                    }
                    webhook.clone()
                }
            };
            list.extend(a);
        }
        let union: Arc<dyn kaiser_auth::Authorizer> = Arc::new(Union(list));
        if let Some(rest) = &mut self.rest {
            let mut r = (**rest).clone();
            r.authorizer = Some(union.clone());
            *rest = Arc::new(r);
        }
        self.authorizer = Some(union.clone());
        union
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
        const G: &str = "rbac.authorization.k8s.io";
        if let (Some(rbac), Some(authorizer), Some(rbs), Some(crbs)) = (
            &self.rbac,
            &self.authorizer,
            self.store(G, "rolebindings"),
            self.store(G, "clusterrolebindings"),
        ) {
            plugins.push(Arc::new(escalation::RbacEscalation {
                rbac: rbac.clone(),
                authorizer: authorizer.clone(),
                role_bindings: rbs,
                cluster_role_bindings: crbs,
            }));
        }
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

    /// Lets TokenReview ask `authn` (call before `handler`).
    pub fn set_authenticator(&mut self, authn: Arc<kaiser_auth::authn::union::Authenticator>) {
        if let Some(rest) = &mut self.rest {
            let mut r = (**rest).clone();
            r.authn = Some(authn);
            *rest = Arc::new(r);
        }
    }

    /// The bootstrap token authenticator over this server's Secrets.
    pub fn bootstrap_tokens(&self) -> Option<Arc<bootstrap_tokens::BootstrapTokens>> {
        Some(Arc::new(bootstrap_tokens::BootstrapTokens {
            secrets: self.store("", "secrets")?,
        }))
    }

    /// Publishes `kube-system/extension-apiserver-authentication` (a
    /// post-start hook).
    pub async fn publish_authentication_info(
        &self,
        info: &authentication_info::AuthenticationInfo,
    ) -> Result<(), StatusError> {
        match self.store("", "configmaps") {
            Some(cms) => authentication_info::publish(&cms, info).await,
            None => Ok(()),
        }
    }

    /// The RBAC authorizer over this server's RBAC stores.
    pub fn rbac(&self) -> Option<Arc<rbac::RbacAuthorizer>> {
        self.rbac.clone()
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

    /// Creates what a fresh cluster has when missing (a post-start hook);
    /// the `kubernetes` endpoints are the endpoint reconciler's.
    pub async fn bootstrap(&self, at: &bootstrap::Endpoint) -> Result<(), StatusError> {
        let none = |_: &Value, _: Option<&Value>| Ok(());
        for (group, resource, obj) in bootstrap::objects(&self.net, at) {
            let Some(store) = self.store(group, resource) else {
                continue;
            };
            let name = meta::name(&obj).to_string();
            match store.create(obj, &none, false).await {
                Ok(_) => tracing::debug!(resource, name, "created a bootstrap object"),
                Err(e) if bootstrap::already_there(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.reconcile_rbac().await
    }

    /// Creates the bootstrap RBAC objects that are missing and reconciles
    /// the others with the bootstrap policy (upstream's
    /// `rbac/bootstrap-roles` post-start hook).
    async fn reconcile_rbac(&self) -> Result<(), StatusError> {
        let none = |_: &Value, _: Option<&Value>| Ok(());
        for (resource, expected) in bootstrap::rbac::objects() {
            let Some(store) = self.store("rbac.authorization.k8s.io", resource) else {
                continue;
            };
            let name = meta::name(&expected).to_string();
            let ns = meta::namespace(&expected).to_string();
            let existing = match store.get(&ns, &name).await {
                Ok(e) => e,
                Err(e) if e.code == 404 => {
                    match store.create(expected.clone(), &none, false).await {
                        Ok(_) => {}
                        Err(e) if bootstrap::already_there(&e) => {}
                        Err(e) => return Err(e),
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let is_role = matches!(resource, "clusterroles" | "roles");
            let change = if is_role {
                bootstrap::rbac::reconcile_role(&expected, &existing).map_or(
                    bootstrap::rbac::BindingChange::None,
                    bootstrap::rbac::BindingChange::Update,
                )
            } else {
                bootstrap::rbac::reconcile_binding(&expected, &existing)
            };
            match change {
                bootstrap::rbac::BindingChange::None => {}
                bootstrap::rbac::BindingChange::Update(_) => {
                    let apply = |old: Option<&Value>| {
                        let old = old.cloned().unwrap_or_else(|| expected.clone());
                        let out = if is_role {
                            bootstrap::rbac::reconcile_role(&expected, &old)
                        } else {
                            match bootstrap::rbac::reconcile_binding(&expected, &old) {
                                bootstrap::rbac::BindingChange::Update(v) => Some(v),
                                _ => None,
                            }
                        };
                        Ok(out.unwrap_or(old))
                    };
                    store.update(&ns, &name, &apply, &none, false).await?;
                    tracing::info!(resource, name, "reconciled a bootstrap RBAC object");
                }
                bootstrap::rbac::BindingChange::Recreate => {
                    let opts = kaiser_registry::DeleteOptions::default();
                    store.delete(&ns, &name, &opts, &none).await?;
                    store.create(expected.clone(), &none, false).await?;
                    tracing::info!(
                        resource,
                        name,
                        "recreated a bootstrap RBAC binding whose roleRef changed"
                    );
                }
            }
        }
        Ok(())
    }

    /// The repair controller of Service allocations (upstream's ClusterIP
    /// and NodePort repair), to run once before serving and then in turns.
    pub fn service_repair(&self) -> Option<services::repair::Repair> {
        Some(services::repair::Repair::new(
            self.service_allocator.clone()?,
            self.store("", "services")?,
            self.store("", "events"),
        ))
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
                which.delete_collection_workers,
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
            tokio::spawn(objects.run(shutdown.clone()));
        }
        if let Ok(mut mirrors) = self.mirrors.lock() {
            for m in mirrors.drain(..) {
                m.start(shutdown.clone());
            }
        }
        if which.clusterrole_aggregation
            && let (Some(rx), Some(store)) = (
                &self.rbac_objects,
                self.store("rbac.authorization.k8s.io", "clusterroles"),
            )
        {
            tokio::spawn(aggregation::run(store, rx.clone(), shutdown));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaiser_storage::embedded::EmbeddedStore;

    /// Which stores read through a watch cache follows the flags, and
    /// Events have none by default, as upstream.
    #[tokio::test]
    async fn watch_caches_follow_the_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let cached = |caching: &watch_cache::WatchCaching, group: &str, resource: &str| {
            let kube = KubeApiServer::new(
                storage.clone(),
                "/registry",
                ServiceNetwork::default(),
                "storage",
                std::time::Duration::ZERO,
                &[],
                caching,
            );
            kube.store(group, resource).expect("served").watch_cached()
        };
        let defaults = watch_cache::WatchCaching::default();
        assert!(cached(&defaults, "", "configmaps"));
        assert!(cached(&defaults, "apps", "deployments"));
        assert!(!cached(&defaults, "", "events"));
        assert!(!cached(&defaults, "events.k8s.io", "events"));
        let sizes = watch_cache::WatchCaching {
            sizes: watch_cache::WatchCaching::parse_sizes(&[
                "events#100".into(),
                "deployments.apps#0".into(),
            ])
            .expect("valid"),
            ..Default::default()
        };
        assert!(cached(&sizes, "", "events"));
        assert!(!cached(&sizes, "apps", "deployments"));
        let off = watch_cache::WatchCaching {
            enabled: false,
            ..Default::default()
        };
        assert!(!cached(&off, "", "configmaps"));
        assert!(!cached(&off, "", "namespaces"));
    }
}
