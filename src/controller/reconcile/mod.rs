//! One audit's reconcile, a pipeline of steps, each in its own module:
//!
//! 1. [`plan`] — which endpoints the audit covers (informer caches; DNS for explicit hosts);
//! 2. [`material`] — trust anchors, client identity and Ingress TLS Secrets (the only Secret reads);
//!    [`certmanager`] links endpoints to cert-manager Certificates and reads their Secrets;
//! 3. [`prober`] — the facts of every endpoint (shared, bounded probing);
//! 4. [`judge`] — facts → endpoint reports with the controller's own findings (pure);
//! 5. [`status`] — the bounded status, written with server-side apply;
//! 6. [`events`] — Warning/Normal Events on new critical findings and on recovery;
//! 7. [`series`] — the audit's metric series.
//!
//! Input: a `TlsAudit` and the shared [`Context`]. Output: the status, Events, metric series, and
//! when to audit next. A broken endpoint is a finding, a missing Secret a condition; `reconcile`
//! fails only when the operator cannot do its own work (API calls).

pub mod certmanager;
pub mod cluster;
pub mod events;
pub mod intern;
pub mod judge;
pub mod material;
pub mod plan;
pub mod prober;
pub mod reuse;
pub mod series;
pub mod status;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;

use self::material::MaterialError;
use self::plan::{Plan, PlanError};
use self::series::AuditFacts;
use self::status::{PatchStatusError, Problem, StatusInput};
use super::context::Context;
use super::gateway::{self, GatewayError};
use crate::crd::{TlsAudit, TlsAuditStatus};
use crate::metrics::ErrorCategory;

/// Why a reconcile failed (the operator's own failure, never an endpoint's).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Planning failed (cache sync, the ingress controller's Service).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Reading a Secret or ConfigMap failed.
    #[error(transparent)]
    Material(#[from] MaterialError),
    /// Writing the status failed.
    #[error(transparent)]
    PatchStatus(#[from] PatchStatusError),
    /// Reading the cluster's webhooks, APIServices, CRDs or their Services failed.
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    /// Listing Gateway API objects failed (not a 403 or a 404: those are conditions).
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The object has no namespace (never for a namespaced kind).
    #[error("failed to reconcile TlsAudit {0}: it has no namespace")]
    NoNamespace(String),
}

impl Error {
    /// The category for `tlsaudit_reconcile_errors_total{error}`.
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Plan(PlanError::CacheSync(_)) => ErrorCategory::CacheSync,
            Self::Plan(PlanError::ReadControllerService { .. }) => {
                ErrorCategory::ReadControllerService
            }
            Self::Material(MaterialError::ReadSecret { .. }) => ErrorCategory::ReadSecret,
            Self::Material(MaterialError::ReadConfigMap { .. }) => ErrorCategory::ReadConfigMap,
            Self::PatchStatus(_) => ErrorCategory::PatchStatus,
            Self::Cluster(_) => ErrorCategory::ReadClusterObjects,
            Self::NoNamespace(_) => ErrorCategory::NoNamespace,
            Self::Gateway(_) => ErrorCategory::ReadGatewayApi,
        }
    }
}

/// Parses `spec.interval` (the grammar of [`crate::duration`]); the error is the message of the
/// InvalidSpec condition.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| format!("spec.interval: {e}"))
}

/// `interval` ± 10 %, so that audits created together drift apart.
#[must_use]
pub fn jittered(interval: Duration) -> Duration {
    let spread = interval.as_secs_f64() * 0.1;
    let offset = rand::random_range(-spread..=spread);
    Duration::from_secs_f64((interval.as_secs_f64() + offset).max(1.0))
}

/// When to audit next: a jittered interval, or after a cycle that reused results, when the full
/// re-audit is due (it keeps the schedule of the last full probing).
fn next_wait(full_due: Option<std::time::Instant>, interval: Duration) -> Duration {
    full_due.map_or_else(
        || jittered(interval),
        |due| {
            due.saturating_duration_since(std::time::Instant::now())
                .max(Duration::from_secs(1))
        },
    )
}

/// What identifies an audit's configuration for reusing probe results: its generation (the spec),
/// its audit-now annotation (which asks for a fresh probe of everything), and what the served
/// certificates are compared with at rest (Ingress and listener Secrets, linked Certificates): a
/// renewed Secret must be compared with what is served now, not with an earlier probe.
fn cycle_token(audit: &TlsAudit, at_rest: &[&(dyn std::fmt::Debug + Sync)]) -> u64 {
    use std::hash::{Hash, Hasher};
    struct Digest(std::hash::DefaultHasher);
    impl std::fmt::Write for Digest {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut digest = Digest(std::hash::DefaultHasher::new());
    audit.metadata.generation.hash(&mut digest.0);
    audit
        .annotations()
        .get(crate::crd::AUDIT_NOW_ANNOTATION)
        .hash(&mut digest.0);
    for part in at_rest {
        // Writing into a hasher cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut digest, format_args!("{part:?}"));
    }
    digest.0.finish()
}

/// Reconciles one audit: plan → material → probe → judge → status, events, series.
pub async fn reconcile(audit: Arc<TlsAudit>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = audit.name_any();
    let namespace = audit
        .namespace()
        .ok_or_else(|| Error::NoNamespace(name.clone()))?;
    if audit.spec.suspend {
        return suspend(&ctx, &audit, &namespace).await;
    }
    let interval = match audit.spec.interval.as_deref().map(parse_interval) {
        None => ctx.settings.default_interval,
        Some(Ok(i)) => i,
        Some(Err(message)) => return invalid_spec(&ctx, &audit, &namespace, message).await,
    };
    let mut planned = match plan::plan(&ctx, &namespace, &audit.spec).await? {
        Plan::Endpoints(planned) => planned,
        Plan::InvalidSpec(e) => return invalid_spec(&ctx, &audit, &namespace, e.to_string()).await,
    };
    // The Gateway API part (`controller::gateway`): its endpoints, conditions and key material.
    let gateways = match gateway::audit::plan(&ctx, &namespace, &audit.spec).await? {
        Ok(g) => g,
        Err(e) => return invalid_spec(&ctx, &audit, &namespace, e.to_string()).await,
    };
    planned.extend(gateways.endpoints);
    let mut material = material::load(&ctx.client, &namespace, &audit.spec, &planned).await?;
    material.problems.extend(gateways.problems);
    let gateway_material = gateway::material::load(&ctx.client, &namespace, &planned).await?;
    ctx.gateway_api
        .record_secrets(&namespace, &name, gateway_material.secrets.keys());
    material
        .problems
        .extend(gateway_material.problems.iter().cloned());
    let links = certmanager::load(
        &ctx,
        &namespace,
        &audit.spec,
        &planned,
        &material.ingress_secrets,
    )
    .await?;
    // A change of the audit's targets soon after its last full probing probes only what is new.
    let linked = links.certificates();
    let at_rest: [&(dyn std::fmt::Debug + Sync); 3] = [
        &material.ingress_secrets,
        &gateway_material.secrets,
        &linked,
    ];
    let token = cycle_token(&audit, &at_rest);
    let key = format!("{namespace}/{name}");
    let cycle = ctx.prober.begin(&key, token, interval);
    let full_due = cycle.full_due;
    let facts = gateway::audit::probe(&ctx, &planned, &material, &gateway_material, cycle).await;
    let now = jiff::Timestamp::now();
    let policy = audit.spec.policy.engine_policy();
    let mut audited = judge::judge(&planned, &facts, &material.ingress_secrets, &policy, now);
    judge::gateway::judge(&planned, &mut audited, &gateway_material, &policy);
    certmanager::judge(&mut audited, &planned, &links, &policy, now);
    let mut problems: Vec<Problem> = [material.problems.as_slice(), &links.problems].concat();
    // The apiserver's own TLS clients (spec.cluster): opt-in, operator namespace only.
    let cluster = cluster::audit(&ctx, &namespace, &audit.spec, &policy, now).await?;
    audited.extend(cluster.audited);
    problems.extend(cluster.problems);

    let wait = next_wait(full_due, interval);
    let next =
        now + jiff::SignedDuration::try_from(wait).unwrap_or(jiff::SignedDuration::from_hours(1));
    let previous = audit.status.as_ref();
    let st = status::build(
        &audited,
        &StatusInput {
            generation: audit.metadata.generation,
            minimum_grade: audit.spec.policy.minimum_grade,
            problems: &problems,
            now,
            next,
            previous,
            max_endpoints: ctx.settings.status_max_endpoints,
        },
    );
    let series = audit_series(&ctx, &audit, now, interval, &material, &audited);
    let endpoints = audited.len();
    // Reports, plan, results and key material are freed before waiting on the apiserver, where a
    // hundred audits finishing together held them all at once (BENCHMARKS.md §3). The series are
    // set once the status is written, so a deleted audit (its patch fails) leaves none behind.
    drop((audited, planned, facts, material, gateway_material, links));
    status::patch(&ctx.client, &namespace, &name, &st).await?;
    events::publish(&ctx.recorder, &audit, previous, &st).await;
    ctx.metrics.set_audit(&namespace, &name, &series);
    tracing::info!(
        audit = %name,
        namespace = %namespace,
        endpoints,
        critical = st.summary.as_ref().map_or(0, |s| s.findings.critical),
        next_in_s = wait.as_secs(),
        "audit complete"
    );
    Ok(Action::requeue(wait))
}

/// The audit's metric series, from its reports and the client certificate it presented.
fn audit_series(
    ctx: &Context,
    audit: &TlsAudit,
    now: jiff::Timestamp,
    interval: Duration,
    material: &material::Material,
    audited: &[judge::Audited],
) -> Vec<crate::metrics::Series> {
    let namespace = audit.namespace().unwrap_or_default();
    let name = audit.name_any();
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
    series::audit_series(&facts, audited)
}

/// A suspended audit keeps its last results and exports no series; Ready says why, written once.
async fn suspend(ctx: &Context, audit: &TlsAudit, namespace: &str) -> Result<Action, Error> {
    let name = audit.name_any();
    ctx.metrics.remove_audit(namespace, &name);
    let previous = audit.status.as_ref();
    if ready_reason(previous) != Some("Suspended") {
        let problem = Problem {
            reason: "Suspended",
            message: "spec.suspend is true; the last results are kept".into(),
        };
        let generation = audit.metadata.generation;
        let st = status::invalid(previous, generation, &problem, jiff::Timestamp::now());
        status::patch(&ctx.client, namespace, &name, &st).await?;
    }
    Ok(Action::await_change())
}

fn ready_reason(status: Option<&TlsAuditStatus>) -> Option<&str> {
    status
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == status::READY))
        .map(|c| c.reason.as_str())
}

/// A spec that cannot be used: Ready=False with the reason, previous results kept, and no retry
/// until the spec changes (a new generation triggers the next attempt).
async fn invalid_spec(
    ctx: &Context,
    audit: &TlsAudit,
    namespace: &str,
    message: String,
) -> Result<Action, Error> {
    let name = audit.name_any();
    let problem = Problem {
        reason: "InvalidSpec",
        message,
    };
    tracing::warn!(audit = %name, namespace = %namespace, reason = %problem.message, "audit spec cannot be used");
    let previous = audit.status.as_ref();
    let st = status::invalid(
        previous,
        audit.metadata.generation,
        &problem,
        jiff::Timestamp::now(),
    );
    status::patch(&ctx.client, namespace, &name, &st).await?;
    Ok(Action::await_change())
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
