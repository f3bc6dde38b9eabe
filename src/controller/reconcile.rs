//! One audit's reconcile, a pipeline: resolve targets → probe → evaluate → write status, events and
//! metrics. Input: a `TlsAudit` and the shared [`Context`]. Output: the status (server-side apply on
//! the status subresource), Events, metric series, and when to audit next.
//!
//! Only this module and `material` hold a `Client` or a socket; resolving, judging and the status
//! are pure functions in `targets`, `ingress`, `consistency`, `status`, `events` and `metrics`.
//! A broken endpoint is a finding, a missing Secret a condition; `reconcile` fails only when the
//! operator cannot do its own work (API calls).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::consistency::{Replica, inconsistent_backends};
use super::ingress::{SecretCert, at_rest_findings};
use super::material::{self, Material, MaterialError};
use super::networks::TargetNetworks;
use super::probes::{ProbeKey, Prober};
use super::status::{self, Audited, Problem, StatusInput};
use super::targets::{self, Planned, SERVICE_NAME_LABEL, Unprobed};
use crate::crd::{FIELD_MANAGER, TlsAudit, TlsAuditStatus};
use crate::findings::{Code, Finding};
use crate::metrics::{AuditFacts, Metrics, audit_series};
use crate::probe::ProbeOptions;
use crate::report::EndpointReport;

/// Operator settings a reconcile needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Interval of audits whose spec names none.
    pub default_interval: Duration,
    /// Most endpoints listed in a status.
    pub status_max_endpoints: usize,
    /// Most endpoints per audit with metric series of their own.
    pub metrics_max_endpoints: usize,
    /// Deadline of each connect and exchange of a probe.
    pub probe_timeout: Duration,
    /// Deadline of one endpoint's whole probe. Process-wide, like the timeout, so the probe
    /// cache's key (address, SNI, identity, trust) need not include either.
    pub probe_deadline: Duration,
    /// Networks explicit endpoints may reach.
    pub networks: TargetNetworks,
}

/// The informer caches the reconcile reads instead of the apiserver.
#[derive(Clone)]
pub struct Stores {
    /// TlsAudits.
    pub audits: Store<TlsAudit>,
    /// Services.
    pub services: Store<Service>,
    /// EndpointSlices.
    pub slices: Store<EndpointSlice>,
    /// Ingresses.
    pub ingresses: Store<Ingress>,
}

/// Everything a reconcile shares with the others.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Operator settings.
    pub settings: Settings,
    /// Informer caches.
    pub stores: Stores,
    /// The shared, bounded prober.
    pub prober: Prober,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Event publisher.
    pub recorder: Recorder,
}

/// Why a reconcile failed (the operator's own failure, never an endpoint's).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a Secret or ConfigMap failed.
    #[error(transparent)]
    Material(#[from] MaterialError),
    /// The informer caches did not fill.
    #[error("failed to sync the informer caches within {0:?}")]
    CacheSync(Duration),
    /// Listing the ingress controller's Service or EndpointSlices failed.
    #[error("failed to read ingress controller Service {namespace}/{name}: {source}")]
    ReadControllerService {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// API error.
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("failed to patch the status of TlsAudit {namespace}/{name}: {source}")]
    PatchStatus {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// API error.
        source: kube::Error,
    },
    /// The object has no namespace (never for a namespaced kind).
    #[error("failed to reconcile TlsAudit {0}: it has no namespace")]
    NoNamespace(String),
}

impl Error {
    /// Every category, so each error series exists (at 0) from the start: alerts and dashboards can
    /// tell "no errors" from "not exported".
    pub const CATEGORIES: &[&str] = &[
        "read_secret",
        "read_configmap",
        "cache_sync",
        "read_controller_service",
        "patch_status",
        "no_namespace",
    ];

    /// A short static category for `tlsaudit_reconcile_errors_total{error}`.
    #[must_use]
    pub fn category(&self) -> &'static str {
        match self {
            Self::Material(MaterialError::ReadSecret { .. }) => "read_secret",
            Self::Material(MaterialError::ReadConfigMap { .. }) => "read_configmap",
            Self::CacheSync(_) => "cache_sync",
            Self::ReadControllerService { .. } => "read_controller_service",
            Self::PatchStatus { .. } => "patch_status",
            Self::NoNamespace(_) => "no_namespace",
        }
    }
}

/// Parses a Go duration (`1h30m`, `90s`).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let parsed: kube::core::Duration = text
        .parse()
        .map_err(|e| format!("interval {text:?}: {e}"))?;
    if parsed.is_negative() {
        return Err(format!("interval {text:?} is negative"));
    }
    Ok(parsed.into())
}

/// `interval` ± 10 %, so that audits created together drift apart.
#[must_use]
pub fn jittered(interval: Duration) -> Duration {
    let spread = interval.as_secs_f64() * 0.1;
    let offset = rand::random_range(-spread..=spread);
    Duration::from_secs_f64((interval.as_secs_f64() + offset).max(1.0))
}

/// Reconciles one audit.
pub async fn reconcile(audit: Arc<TlsAudit>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = audit.name_any();
    let namespace = audit
        .namespace()
        .ok_or_else(|| Error::NoNamespace(name.clone()))?;
    let previous = audit.status.as_ref();
    let generation = audit.metadata.generation;

    if audit.spec.suspend {
        ctx.metrics.remove_audit(&namespace, &name);
        let problem = Problem {
            reason: "Suspended",
            message: "spec.suspend is true; the last results are kept".into(),
        };
        if previous
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == status::READY))
            .map(|c| c.reason.as_str())
            != Some("Suspended")
        {
            let st = status::invalid(previous, generation, &problem, jiff::Timestamp::now());
            patch_status(&ctx.client, &namespace, &name, &st).await?;
        }
        return Ok(Action::await_change());
    }

    let interval = match audit.spec.interval.as_deref().map(parse_interval) {
        None => ctx.settings.default_interval,
        Some(Ok(i)) => i,
        Some(Err(message)) => {
            return invalid_spec(&ctx, &namespace, &name, previous, generation, message).await;
        }
    };

    let planned = match plan(&ctx, &namespace, &audit).await? {
        Ok(planned) => planned,
        Err(message) => {
            return invalid_spec(&ctx, &namespace, &name, previous, generation, message).await;
        }
    };
    let material = material::load(&ctx.client, &namespace, &audit.spec).await?;
    let policy = audit.spec.policy.engine_policy();
    let audited = probe_and_judge(&ctx, &namespace, planned, &material, &policy).await?;

    let now = jiff::Timestamp::now();
    let wait = jittered(interval);
    let next =
        now + jiff::SignedDuration::try_from(wait).unwrap_or(jiff::SignedDuration::from_hours(1));
    let st = status::build(
        &audited,
        &StatusInput {
            generation,
            minimum_grade: audit.spec.policy.minimum_grade,
            problems: &material.problems,
            now,
            next,
            previous,
            max_endpoints: ctx.settings.status_max_endpoints,
        },
    );
    patch_status(&ctx.client, &namespace, &name, &st).await?;
    publish_events(&ctx, &audit, previous, &st).await;
    let facts = AuditFacts {
        namespace: &namespace,
        audit: &name,
        now,
        interval,
        client_certificate: material
            .client_certificate
            .as_ref()
            .map(|(s, t)| (s.as_str(), *t)),
        max_endpoints: ctx.settings.metrics_max_endpoints,
    };
    ctx.metrics
        .set_audit(&namespace, &name, &audit_series(&facts, &audited));
    tracing::info!(
        audit = %name,
        namespace = %namespace,
        endpoints = audited.len(),
        critical = st.summary.as_ref().map_or(0, |s| s.findings.critical),
        next_in_s = wait.as_secs(),
        "audit complete"
    );
    Ok(Action::requeue(wait))
}

async fn invalid_spec(
    ctx: &Context,
    namespace: &str,
    name: &str,
    previous: Option<&TlsAuditStatus>,
    generation: Option<i64>,
    message: String,
) -> Result<Action, Error> {
    let problem = Problem {
        reason: "InvalidSpec",
        message,
    };
    tracing::warn!(audit = %name, namespace = %namespace, reason = %problem.message, "audit spec cannot be used");
    let st = status::invalid(previous, generation, &problem, jiff::Timestamp::now());
    patch_status(&ctx.client, namespace, name, &st).await?;
    // A spec change (new generation) triggers the next attempt.
    Ok(Action::await_change())
}

fn in_namespace<K: Resource>(items: Vec<Arc<K>>, namespace: &str) -> Vec<Arc<K>> {
    items
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .collect()
}

/// Every endpoint of the audit, or the reason the spec cannot be used.
async fn plan(
    ctx: &Context,
    namespace: &str,
    audit: &TlsAudit,
) -> Result<Result<Vec<Planned>, String>, Error> {
    let spec = &audit.spec;
    let sync = Duration::from_secs(30);
    let stores = &ctx.stores;
    let ready = async {
        stores.services.wait_until_ready().await.ok();
        stores.slices.wait_until_ready().await.ok();
        stores.ingresses.wait_until_ready().await.ok();
    };
    tokio::time::timeout(sync, ready)
        .await
        .map_err(|_| Error::CacheSync(sync))?;

    let services = in_namespace(stores.services.state(), namespace);
    let slices = in_namespace(stores.slices.state(), namespace);
    let mut planned = match targets::service_targets(namespace, spec, &services, &slices) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if spec.ingresses.is_some() {
        let dial = match spec
            .ingresses
            .as_ref()
            .and_then(|i| i.controller_service.as_ref())
        {
            Some(controller) => controller_address(&ctx.client, namespace, controller).await?,
            None => None,
        };
        let ingresses = in_namespace(stores.ingresses.state(), namespace);
        match targets::ingress_targets(spec, &ingresses, dial) {
            Ok(p) => planned.extend(p),
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
    let mut explicit = targets::explicit_targets(spec);
    for p in &mut explicit {
        resolve_explicit(p, &ctx.settings.networks, ctx.settings.probe_timeout).await;
    }
    planned.extend(explicit);
    Ok(Ok(planned))
}

/// The ingress controller Service may live in another namespace (ingress-nginx), outside the
/// caches when the operator watches one namespace: read it directly, once per audit.
async fn controller_address(
    client: &Client,
    namespace: &str,
    controller: &crate::crd::ControllerService,
) -> Result<Option<SocketAddr>, Error> {
    let ns = controller
        .namespace
        .clone()
        .unwrap_or_else(|| namespace.to_owned());
    let err = |source| Error::ReadControllerService {
        namespace: ns.clone(),
        name: controller.name.clone(),
        source,
    };
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let Some(svc) = services.get_opt(&controller.name).await.map_err(err)? else {
        return Ok(None);
    };
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
    let list = slices
        .list(&ListParams::default().labels(&format!("{SERVICE_NAME_LABEL}={}", controller.name)))
        .await
        .map_err(err)?;
    let slices: Vec<Arc<EndpointSlice>> = list.items.into_iter().map(Arc::new).collect();
    Ok(targets::controller_address(
        controller,
        &[Arc::new(svc)],
        &slices,
    ))
}

/// Resolves an explicit endpoint's host and pins the address, or marks it refused. Every address
/// the name resolves to must be allowed, so DNS cannot smuggle in a forbidden one.
async fn resolve_explicit(p: &mut Planned, networks: &TargetNetworks, timeout: Duration) {
    let host = p
        .probe
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addresses: Vec<IpAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![ip]
    } else {
        match tokio::time::timeout(
            timeout,
            tokio::net::lookup_host((host.as_str(), p.probe.port)),
        )
        .await
        {
            Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
            Ok(Err(e)) => {
                p.unreachable = Some(Unprobed::NoAddress(format!("{host} does not resolve: {e}")));
                return;
            }
            Err(_) => {
                p.unreachable = Some(Unprobed::NoAddress(format!(
                    "{host} did not resolve within {timeout:?}"
                )));
                return;
            }
        }
    };
    for ip in &addresses {
        if let Err(reason) = networks.check(*ip) {
            p.unreachable = Some(Unprobed::Refused(format!("{host}: {reason}")));
            return;
        }
    }
    match addresses.first() {
        Some(ip) => p.probe.address = Some(SocketAddr::new(*ip, p.probe.port)),
        None => {
            p.unreachable = Some(Unprobed::NoAddress(format!(
                "{host} resolves to no address"
            )));
        }
    }
}

/// Probes every planned endpoint and judges it, adding the controller's own findings.
async fn probe_and_judge(
    ctx: &Context,
    namespace: &str,
    planned: Vec<Planned>,
    material: &Material,
    policy: &crate::policy::Policy,
) -> Result<Vec<Audited>, Error> {
    let options = ProbeOptions {
        timeout: ctx.settings.probe_timeout,
        deadline: ctx.settings.probe_deadline,
        roots: Arc::clone(&material.roots),
        client_identity: material.identity.clone(),
        ..ProbeOptions::default()
    };
    let probes = planned.iter().map(|p| {
        let options = &options;
        async move {
            if p.unreachable.is_some() {
                return None;
            }
            let key = ProbeKey::new(&p.probe, material.identity_fingerprint, material.trust);
            Some(ctx.prober.facts(key, &p.probe, options).await)
        }
    });
    let facts = futures::future::join_all(probes).await;
    let now = jiff::Timestamp::now();

    let mut audited: Vec<Audited> = planned
        .iter()
        .zip(&facts)
        .map(|(p, facts)| {
            let report = match (&p.unreachable, facts) {
                (Some(Unprobed::Refused(reason)), _) => status::unprobed_report(
                    &p.probe,
                    Finding::new(Code::TargetRefused, reason.clone()),
                    now,
                ),
                (Some(Unprobed::NoAddress(reason)), _) => status::unprobed_report(
                    &p.probe,
                    Finding::new(Code::ConnectFailed, reason.clone()),
                    now,
                ),
                (None, Some(facts)) => {
                    EndpointReport::assemble(&p.probe, (**facts).clone(), policy, now)
                }
                (None, None) => status::unprobed_report(
                    &p.probe,
                    Finding::new(Code::ConnectFailed, "the endpoint was not probed"),
                    now,
                ),
            };
            Audited {
                target: p.target.clone(),
                report,
            }
        })
        .collect();

    let mut extra: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
    let replicas: Vec<Replica<'_>> = planned
        .iter()
        .zip(&audited)
        .map(|(p, a)| Replica {
            group: p.group.as_deref(),
            address: a.report.address.as_deref().unwrap_or(&a.report.host),
            facts: &a.report.facts,
        })
        .collect();
    for (index, finding) in inconsistent_backends(&replicas) {
        extra.entry(index).or_default().push(finding);
    }
    let mut secrets: BTreeMap<String, SecretCert> = BTreeMap::new();
    for (index, p) in planned.iter().enumerate() {
        let Some(secret) = &p.ingress_secret else {
            continue;
        };
        if !secrets.contains_key(secret) {
            let cert = material::tls_secret_leaf(&ctx.client, namespace, secret).await?;
            secrets.insert(secret.clone(), cert);
        }
        let Some(cert) = secrets.get(secret) else {
            continue;
        };
        let host = p.probe.server_name.as_deref().unwrap_or(&p.probe.host);
        let served = audited[index]
            .report
            .facts
            .chain
            .first()
            .map(|c| c.sha256.as_str());
        extra
            .entry(index)
            .or_default()
            .extend(at_rest_findings(host, secret, cert, served));
    }
    for (index, findings) in extra {
        if let Some(a) = audited.get_mut(index) {
            status::add_findings(&mut a.report, findings, policy);
        }
    }
    Ok(audited)
}

async fn patch_status(
    client: &Client,
    namespace: &str,
    name: &str,
    status: &TlsAuditStatus,
) -> Result<(), Error> {
    let api: Api<TlsAudit> = Api::namespaced(client.clone(), namespace);
    let patch = json!({
        "apiVersion": TlsAudit::api_version(&()),
        "kind": TlsAudit::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| Error::PatchStatus {
        namespace: namespace.into(),
        name: name.into(),
        source,
    })
}

async fn publish_events(
    ctx: &Context,
    audit: &TlsAudit,
    before: Option<&TlsAuditStatus>,
    after: &TlsAuditStatus,
) {
    let reference = audit.object_ref(&());
    for event in super::events::changes(before, after) {
        // An event that cannot be written is not worth failing the audit over.
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(audit = %audit.name_any(), error = %err, reason = %event.reason, "failed to publish event");
        }
    }
}

/// What to do after a failed reconcile: count it and retry in 30 s (the controller's own backoff
/// spreads repeated failures).
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube's Controller::run requires"
)]
pub fn error_policy(audit: Arc<TlsAudit>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconciled(Some(error.category()));
    tracing::warn!(audit = %audit.name_any(), namespace = ?audit.namespace(), error = %error, "reconcile failed");
    Action::requeue(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_as_go_durations() {
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_interval("soon").unwrap_err().contains("soon"));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(3600)).as_secs_f64();
            assert!((3240.0..=3960.0).contains(&d), "{d}");
        }
    }
}
