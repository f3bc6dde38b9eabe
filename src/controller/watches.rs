//! What the controller watches and which audits each change concerns. Input: the `Setup` (client,
//! flags) and, with sharding, this replica's [`Shard`]. Output: a running `kube::runtime::Controller`
//! on TlsAudit until shutdown.
//!
//! Informer caches (reflectors) of TlsAudits, Services, EndpointSlices and Ingresses, and
//! metadata-only watches of Secrets and ConfigMaps, trigger the audits that select or read the
//! changed object (the trigger functions below are pure). A status write never re-triggers; a
//! change of shard members triggers the audits that moved to this replica. A deleted audit's
//! series are dropped as the watch sees it go.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::core::{PartialObjectMeta, SelectorExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, PredicateConfig, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use super::args::OnOff;
use super::certmanager::{Certificate, Certificates, Presence, discovery};
use super::context::{Context, Setup, Stores};
use super::reconcile;
use super::reconcile::material::CLUSTER_CA_CONFIGMAP;
use super::reconcile::plan::targets::{SERVICE_NAME_LABEL, selector};
use super::shard::{self, Shard};
use crate::crd::TlsAudit;
use crate::metrics::Metrics;

/// Builds and runs the controller until `shutdown`.
pub(super) async fn run_controller(
    setup: &Setup,
    shard: Option<Shard>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = &setup.client;
    let ns = setup.args.watch_namespace.as_deref();
    let watch_secrets = setup.args.watch_secrets == OnOff::On;
    let (audits, audit_writer) = reflector::store::<TlsAudit>();
    let (services, service_writer) = reflector::store::<Service>();
    let (slices, slice_writer) = reflector::store::<EndpointSlice>();
    let (ingresses, ingress_writer) = reflector::store::<Ingress>();
    let (certificates, certificate_changes) = certificate_watch(
        setup,
        discovery::Caches {
            audits: audits.clone(),
            services: services.clone(),
            ingresses: ingresses.clone(),
        },
    );
    let stores = Stores {
        audits: audits.clone(),
        services: services.clone(),
        slices,
        ingresses: ingresses.clone(),
        certificates,
    };
    let ctx = Arc::new(Context::new(setup, stores));
    let audit_events = audit_stream(client, ns, audit_writer, audits.clone(), Arc::clone(&ctx));

    let (a1, a2, a3, a4, a5) = (
        audits.clone(),
        audits.clone(),
        audits.clone(),
        audits.clone(),
        audits.clone(),
    );
    let moved = match &shard {
        Some(shard) => moved_in(shard.clone(), audits.clone(), Arc::clone(&setup.metrics)).boxed(),
        None => futures::stream::pending().boxed(),
    };
    let gateway_secrets = Arc::clone(&ctx.gateway_api);
    // Gateway API objects, watched once their kinds are discovered (`gateway::triggers`).
    let gateway_changes =
        super::gateway::triggers::audits_to_reconcile(client, ns, &ctx.gateway_api, &audits);
    Controller::for_stream(audit_events, audits)
        .reconcile_on(moved)
        .reconcile_on(certificate_changes)
        .reconcile_on(gateway_changes)
        .with_config(kube::runtime::Config::default().debounce(Duration::from_secs(1)))
        // Each watch backs off on its own (WatchBackoff). kube's default trigger backoff pauses
        // every watch after any one's error, growing to a minute: after an apiserver restart each
        // watch's 410 Gone extended it and the operator saw no change for 12–70 s.
        .trigger_backoff(NoSharedBackoff)
        .watches_stream(cached(client, ns, service_writer), move |svc: Service| {
            for_service(&a1.state(), svc.namespace().as_deref(), svc.labels())
        })
        .watches_stream(
            cached(client, ns, slice_writer),
            move |slice: EndpointSlice| {
                let ns = slice.namespace();
                let service = slice.labels().get(SERVICE_NAME_LABEL).and_then(|name| {
                    services.get(&ObjectRef::new(name).within(ns.as_deref().unwrap_or_default()))
                });
                let labels = service.as_deref().map(ResourceExt::labels);
                for_endpoint_slice(&a2.state(), ns.as_deref(), labels)
            },
        )
        .watches_stream(cached(client, ns, ingress_writer), move |ing: Ingress| {
            for_ingress(&a3.state(), ing.namespace().as_deref(), ing.labels())
        })
        .watches_stream(
            metadata::<Secret>(client, ns, watch_secrets),
            move |secret| {
                let ns = secret.namespace();
                let mut audits = for_secret(
                    &a4.state(),
                    &ingresses.state(),
                    ns.as_deref(),
                    &secret.name_any(),
                );
                // Gateway listener Secrets, as the last audits of their Gateways read them.
                audits.extend(gateway_secrets.audits_reading(ns.as_deref(), &secret.name_any()));
                audits
            },
        )
        .watches_stream(metadata::<ConfigMap>(client, ns, true), move |cm| {
            for_config_map(&a5.state(), cm.namespace().as_deref(), &cm.name_any())
        })
        .graceful_shutdown_on(shutdown)
        .run(
            move |audit, ctx: Arc<Context>| reconcile_if_owned(audit, ctx, shard.clone()),
            reconcile::error_policy,
            ctx,
        )
        .for_each(|result| async move {
            match result {
                // A watch failed (apiserver gone, CRD deleted, RBAC revoked): it retries with
                // `WatchBackoff`; /readyz turns false if it lasts (`health`).
                Err(kube::runtime::controller::Error::QueueError(err)) => {
                    tracing::warn!(error = %err, "watch failed; retrying");
                }
                Err(err) => tracing::debug!(error = %err, "controller event"),
                Ok(_) => {}
            }
        })
        .await;
}

/// The audits that moved to this replica at each change of members; the series of those that moved
/// away are dropped on the way (their reconciles, still scheduled, will find them not owned).
fn moved_in(
    shard: Shard,
    audits: reflector::Store<TlsAudit>,
    metrics: Arc<Metrics>,
) -> impl futures::Stream<Item = ObjectRef<TlsAudit>> + Send + 'static {
    let start = (shard.view(), Arc::new(BTreeSet::new()));
    futures::stream::unfold(start, |(mut view, old)| async move {
        if view.changed().await.is_err() {
            // The membership loop is gone: only the shutdown remains.
            futures::future::pending::<()>().await;
        }
        let new = Arc::clone(&view.borrow_and_update());
        Some(((Arc::clone(&old), Arc::clone(&new)), (view, new)))
    })
    .flat_map(move |(old, new)| {
        let keys: Vec<(String, String, String)> = audits
            .state()
            .iter()
            .map(|a| {
                let ns = a.namespace().unwrap_or_default();
                let name = a.name_any();
                (shard::audit_key(&ns, &name), ns, name)
            })
            .collect();
        let me = shard.identity();
        let gained: BTreeSet<&str> =
            shard::moved_in(keys.iter().map(|k| k.0.as_str()), &old, &new, me)
                .into_iter()
                .collect();
        let mut refs = Vec::new();
        for (key, ns, name) in &keys {
            if gained.contains(key.as_str()) {
                refs.push(ObjectRef::new(name).within(ns));
            } else if !shard.owns(ns, name) {
                metrics.remove_audit(ns, name);
            }
        }
        tracing::debug!(
            gained = refs.len(),
            "re-evaluating audits after a change of members"
        );
        futures::stream::iter(refs)
    })
}

/// No extra pause of all watches together when one of them fails (see [`WatchBackoff`]).
#[derive(Debug, Clone)]
struct NoSharedBackoff;

impl Iterator for NoSharedBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for NoSharedBackoff {
    fn reset(&mut self) {}
}

/// The backoff of a failed watch: 250 ms doubling to at most 4 s, so that a watch comes back
/// within seconds after the apiserver or the CRD does (kube's default climbs to 30 s and resets
/// only after 120 s, which made recovery after a CRD re-creation take up to two minutes).
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
}

impl WatchBackoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(4);
}

impl Default for WatchBackoff {
    fn default() -> Self {
        Self { next: Self::FIRST }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let current = self.next;
        self.next = (current * 2).min(Self::MAX);
        Some(current)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The cert-manager Certificate cache with the kind's presence, and the audits its changes trigger
/// (`certmanager::discovery`: looked for until served, then watched).
fn certificate_watch(
    setup: &Setup,
    caches: discovery::Caches,
) -> (
    Certificates,
    impl futures::Stream<Item = ObjectRef<TlsAudit>> + Send + 'static,
) {
    let (store, writer) = reflector::store::<Certificate>();
    let (presence, presence_reader) = tokio::sync::watch::channel(Presence::Unknown);
    let changes = discovery::triggers(
        &setup.client,
        setup.args.watch_namespace.as_deref(),
        setup.args.discovery_interval,
        writer,
        presence,
        caches,
    );
    let certificates = Certificates {
        store,
        presence: presence_reader,
    };
    (certificates, changes)
}

/// A watch of `K` that fills the informer cache behind `writer` and yields changed objects (a
/// relist that changes nothing triggers nothing).
fn cached<K>(
    client: &Client,
    namespace: Option<&str>,
    writer: reflector::store::Writer<K>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    watcher(api::<K>(client, namespace), watcher::Config::default())
        .backoff(WatchBackoff::default())
        .modify(slim)
        .reflect(writer)
        .touched_objects()
        .predicate_filter(predicates::resource_version, PredicateConfig::default())
}

/// Drops what the operator never reads from an object before it enters an informer cache:
/// `managedFields` (a JSON tree per field manager, often larger than the object itself) and
/// kubectl's `last-applied-configuration` annotation (a second copy of the object).
fn slim<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// kubectl's copy of the last applied manifest.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A metadata-only watch of `K` (Secrets, ConfigMaps: their contents are read only when an audit
/// uses them, and only from its namespace).
fn metadata<K>(
    client: &Client,
    namespace: Option<&str>,
    enabled: bool,
) -> futures::stream::BoxStream<'static, Result<PartialObjectMeta<K>, watcher::Error>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    if !enabled {
        return futures::stream::pending().boxed();
    }
    watcher(
        api::<PartialObjectMeta<K>>(client, namespace),
        watcher::Config::default(),
    )
    .backoff(WatchBackoff::default())
    .touched_objects()
    .predicate_filter(predicates::resource_version, PredicateConfig::default())
    .boxed()
}

/// The TlsAudit watch: fills the cache, drops a deleted audit's metrics, and yields an audit only
/// when its spec generation or audit-now annotation changed (status writes do not requeue).
fn audit_stream(
    client: &Client,
    namespace: Option<&str>,
    writer: reflector::store::Writer<TlsAudit>,
    reader: reflector::Store<TlsAudit>,
    ctx: Arc<Context>,
) -> impl futures::Stream<Item = Result<TlsAudit, watcher::Error>> + Send + 'static {
    let metrics = Arc::clone(&ctx.metrics);
    watcher(
        api::<TlsAudit>(client, namespace),
        watcher::Config::default(),
    )
    .backoff(WatchBackoff::default())
    .modify(slim)
    .reflect(writer)
    .inspect_ok(move |event| match event {
        watcher::Event::Delete(audit) => {
            let (ns, name) = (audit.namespace().unwrap_or_default(), audit.name_any());
            // Its probes stop now, not at their deadlines.
            ctx.in_flight.cancel(&ns, &name);
            ctx.prober.forget(&format!("{ns}/{name}"));
            metrics.remove_audit(&ns, &name);
            ctx.gateway_api.record_secrets(&ns, &name, []);
        }
        // After a relist, deletions missed while disconnected show as absence from the cache.
        watcher::Event::InitDone => {
            let keep = reader
                .state()
                .iter()
                .map(|a| (a.namespace().unwrap_or_default(), a.name_any()))
                .collect();
            metrics.retain_audits(&keep);
        }
        _ => {}
    })
    .applied_objects()
    .predicate_filter(audit_trigger, PredicateConfig::default())
}

/// Reconciles `audit` when this replica owns it (always without sharding); otherwise drops its
/// series and waits: a change of members re-triggers it if it moves here.
async fn reconcile_if_owned(
    audit: Arc<TlsAudit>,
    ctx: Arc<Context>,
    shard: Option<Shard>,
) -> Result<Action, reconcile::Error> {
    let ns = audit.namespace().unwrap_or_default();
    let name = audit.name_any();
    let owned = || shard.as_ref().is_none_or(|s| s.owns(&ns, &name));
    if !owned() {
        ctx.metrics.remove_audit(&ns, &name);
        return Ok(Action::await_change());
    }
    let result = {
        let mut running = ctx.in_flight.start(&ns, &name);
        tokio::select! {
            result = reconcile::reconcile(Arc::clone(&audit), Arc::clone(&ctx)) => result,
            // Dropping the reconcile closes its probe connections.
            () = running.cancelled() => {
                tracing::info!(audit = %name, namespace = %ns, "audit deleted: its probes were cancelled");
                ctx.metrics.remove_audit(&ns, &name);
                return Ok(Action::await_change());
            }
        }
    };
    if result.is_ok() {
        ctx.metrics.reconciled(None);
    }
    // The members may have changed during the audit: the new owner exports its series.
    if !owned() {
        ctx.metrics.remove_audit(&ns, &name);
    }
    result
}

// --- triggers: changed object → the audits it concerns (pure) ---------------------------------

/// Labels of an object, for selector matching.
type Labels = BTreeMap<String, String>;

fn in_namespace<'a>(
    audits: &'a [Arc<TlsAudit>],
    namespace: Option<&'a str>,
) -> impl Iterator<Item = &'a Arc<TlsAudit>> {
    audits
        .iter()
        .filter(move |a| a.namespace().as_deref() == namespace)
}

fn refs<'a>(audits: impl Iterator<Item = &'a Arc<TlsAudit>>) -> Vec<ObjectRef<TlsAudit>> {
    audits.map(|a| ObjectRef::from_obj(a.as_ref())).collect()
}

/// The hash that decides whether a TlsAudit event triggers an audit: the spec's generation and
/// the audit-now annotation. A status write changes neither, so it never requeues.
#[must_use]
pub fn audit_trigger(audit: &TlsAudit) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    audit.metadata.generation.hash(&mut hasher);
    audit
        .annotations()
        .get(crate::crd::AUDIT_NOW_ANNOTATION)
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// Audits whose Service selector matches a Service with `labels` in `namespace`.
#[must_use]
pub fn for_service(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    labels: &Labels,
) -> Vec<ObjectRef<TlsAudit>> {
    refs(in_namespace(audits, namespace).filter(|a| {
        a.spec.services.as_ref().is_some_and(|s| {
            // A selector the reconcile cannot use is reported there; trigger so that it is.
            selector("services", s.selector.as_ref()).map_or(true, |sel| sel.matches(labels))
        })
    }))
}

/// Audits concerned by an EndpointSlice of Service `service` (whose labels are known when the
/// Service is cached; otherwise every audit of the namespace that audits Services).
#[must_use]
pub fn for_endpoint_slice(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    service_labels: Option<&Labels>,
) -> Vec<ObjectRef<TlsAudit>> {
    match service_labels {
        Some(labels) => for_service(audits, namespace, labels),
        None => refs(in_namespace(audits, namespace).filter(|a| a.spec.services.is_some())),
    }
}

/// Audits whose Ingress selector matches an Ingress with `labels` in `namespace`.
#[must_use]
pub fn for_ingress(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    labels: &Labels,
) -> Vec<ObjectRef<TlsAudit>> {
    refs(in_namespace(audits, namespace).filter(|a| {
        a.spec.ingresses.as_ref().is_some_and(|i| {
            selector("ingresses", i.selector.as_ref()).map_or(true, |sel| sel.matches(labels))
        })
    }))
}

/// Audits that read Secret `name`: as CA bundle, client certificate, or the TLS Secret of an
/// Ingress they select.
#[must_use]
pub fn for_secret(
    audits: &[Arc<TlsAudit>],
    ingresses: &[Arc<Ingress>],
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<TlsAudit>> {
    let ingress_labels: Vec<&Labels> = ingresses
        .iter()
        .filter(|i| i.namespace().as_deref() == namespace)
        .filter(|i| {
            i.spec
                .as_ref()
                .and_then(|s| s.tls.as_ref())
                .is_some_and(|tls| tls.iter().any(|t| t.secret_name.as_deref() == Some(name)))
        })
        .map(|i| i.labels())
        .collect();
    refs(in_namespace(audits, namespace).filter(|a| {
        let trust = a
            .spec
            .trust
            .ca_bundle
            .as_ref()
            .and_then(|b| b.secret_ref.as_ref())
            .is_some_and(|r| r.name == name);
        let client = a
            .spec
            .client_certificate
            .as_ref()
            .is_some_and(|c| c.secret_ref.name == name);
        let ingress = a.spec.ingresses.as_ref().is_some_and(|i| {
            selector("ingresses", i.selector.as_ref())
                .is_ok_and(|sel| ingress_labels.iter().any(|labels| sel.matches(labels)))
        });
        trust || client || ingress
    }))
}

/// Audits that read ConfigMap `name`: as CA bundle, or the cluster CA.
#[must_use]
pub fn for_config_map(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<TlsAudit>> {
    refs(in_namespace(audits, namespace).filter(|a| {
        let bundle = a
            .spec
            .trust
            .ca_bundle
            .as_ref()
            .and_then(|b| b.config_map_ref.as_ref())
            .is_some_and(|r| r.name == name);
        bundle || (name == CLUSTER_CA_CONFIGMAP && a.spec.trust.cluster_ca)
    }))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::{IngressSpec, IngressTLS};
    use kube::api::ObjectMeta;

    use super::*;
    use crate::controller::fixtures::audit;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn names(refs: &[ObjectRef<TlsAudit>]) -> Vec<String> {
        refs.iter().map(|r| r.name.clone()).collect()
    }

    #[test]
    fn a_service_change_reaches_the_audits_that_select_it_in_its_namespace() {
        let audits = [
            audit("all", "shop", serde_json::json!({"services": {}})),
            audit(
                "edge",
                "shop",
                serde_json::json!({"services": {"selector": {"matchLabels": {"tier": "edge"}}}}),
            ),
            audit(
                "none",
                "shop",
                serde_json::json!({"endpoints": [{"host": "10.0.0.1", "port": 443}]}),
            ),
            audit("elsewhere", "bank", serde_json::json!({"services": {}})),
        ];
        assert_eq!(
            names(&for_service(
                &audits,
                Some("shop"),
                &labels(&[("tier", "data")])
            )),
            vec!["all"]
        );
        assert_eq!(
            names(&for_service(
                &audits,
                Some("shop"),
                &labels(&[("tier", "edge")])
            )),
            vec!["all", "edge"]
        );
        assert_eq!(
            names(&for_endpoint_slice(&audits, Some("shop"), None)),
            vec!["all", "edge"]
        );
    }

    #[test]
    fn secrets_and_config_maps_reach_the_audits_that_read_them() {
        let audits = [
            audit(
                "ca",
                "shop",
                serde_json::json!({"trust": {"caBundle": {"secretRef": {"name": "ca"}}}, "services": {}}),
            ),
            audit(
                "mtls",
                "shop",
                serde_json::json!({"clientCertificate": {"secretRef": {"name": "client"}}}),
            ),
            audit(
                "cm",
                "shop",
                serde_json::json!({"trust": {"caBundle": {"configMapRef": {"name": "bundle"}}, "clusterCA": false}}),
            ),
            audit(
                "ing",
                "shop",
                serde_json::json!({"ingresses": {}, "trust": {"clusterCA": false}}),
            ),
        ];
        let ingress = Arc::new(Ingress {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            spec: Some(IngressSpec {
                tls: Some(vec![IngressTLS {
                    hosts: None,
                    secret_name: Some("web-tls".into()),
                }]),
                ..IngressSpec::default()
            }),
            status: None,
        });
        let ingresses = [ingress];
        assert_eq!(
            names(&for_secret(&audits, &ingresses, Some("shop"), "ca")),
            vec!["ca"]
        );
        assert_eq!(
            names(&for_secret(&audits, &ingresses, Some("shop"), "client")),
            vec!["mtls"]
        );
        assert_eq!(
            names(&for_secret(&audits, &ingresses, Some("shop"), "web-tls")),
            vec!["ing"]
        );
        assert!(for_secret(&audits, &ingresses, Some("bank"), "ca").is_empty());
        assert_eq!(
            names(&for_config_map(&audits, Some("shop"), "bundle")),
            vec!["cm"]
        );
        assert_eq!(
            names(&for_config_map(&audits, Some("shop"), CLUSTER_CA_CONFIGMAP)),
            vec!["ca", "mtls"]
        );
    }

    #[test]
    fn status_writes_do_not_change_the_trigger_but_spec_and_audit_now_do() {
        let base = audit("a", "shop", serde_json::json!({}));
        let mut with_status = (*base).clone();
        with_status.status = Some(crate::crd::TlsAuditStatus {
            omitted_endpoints: 3,
            ..Default::default()
        });
        assert_eq!(audit_trigger(&base), audit_trigger(&with_status));
        let mut newer = (*base).clone();
        newer.metadata.generation = Some(2);
        assert_ne!(audit_trigger(&base), audit_trigger(&newer));
        let mut poked = (*base).clone();
        poked
            .annotations_mut()
            .insert(crate::crd::AUDIT_NOW_ANNOTATION.into(), "1".into());
        assert_ne!(audit_trigger(&base), audit_trigger(&poked));
    }
}
