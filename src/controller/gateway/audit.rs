//! The Gateway API part of one audit's reconcile: plan (discovery, objects, the SSRF guard) and
//! probe (each BackendTLSPolicy backend with the policy's own trust). Input: the audit's spec, the
//! shared [`Context`]. Output: planned endpoints with their [`GatewayRole`]s and the problems
//! (conditions) to report; then the facts of every planned endpoint.

use std::sync::Arc;

use kube::Resource;

use super::{GatewayError, not_installed, read};
use crate::controller::context::Context;
use crate::controller::gateway::material::GatewayMaterial;
use crate::controller::reconcile::material::Material;
use crate::controller::reconcile::plan::gateways::{
    GatewayRole, backend_targets, listener_targets, passthrough_targets,
};
use crate::controller::reconcile::plan::networks::{TargetNetworks, metadata_endpoint};
use crate::controller::reconcile::plan::targets::SelectorError;
use crate::controller::reconcile::plan::{NotProbed, PlannedEndpoint};
use crate::controller::reconcile::prober::ProbeKey;
use crate::controller::reconcile::reuse::Cycle;
use crate::controller::reconcile::status::Problem;
use crate::crd::TlsAuditSpec;
use crate::facts::Facts;
use crate::probe::ProbeOptions;

/// What the Gateway API adds to an audit's plan.
#[derive(Debug, Default)]
pub struct GatewayPlan {
    /// Listener, passthrough-backend and BackendTLSPolicy-backend endpoints.
    pub endpoints: Vec<PlannedEndpoint>,
    /// Conditions: the Gateway API is not installed, or may not be read.
    pub problems: Vec<Problem>,
}

fn in_namespace<K: Resource>(items: Vec<Arc<K>>, namespace: &str) -> Vec<Arc<K>> {
    items
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .collect()
}

/// Plans the Gateway API endpoints of `spec` in `namespace`. `Ok(Err(_))`: the gateway selector
/// cannot be used (InvalidSpec).
pub async fn plan(
    ctx: &Context,
    namespace: &str,
    spec: &TlsAuditSpec,
) -> Result<Result<GatewayPlan, SelectorError>, GatewayError> {
    let Some(wanted) = &spec.gateways else {
        return Ok(Ok(GatewayPlan::default()));
    };
    let kinds = ctx.gateway_api.kinds(&ctx.client).await;
    if !kinds.gateways {
        return Ok(Ok(GatewayPlan {
            endpoints: Vec::new(),
            problems: vec![not_installed()],
        }));
    }
    let (objects, problems) =
        read(&ctx.client, namespace, kinds, wanted.backend_tls_policies).await?;
    let mut listeners = match listener_targets(namespace, wanted, &objects) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    // Gateway status addresses are written by a gateway implementation, or by any tenant with
    // status rights: they pass the guard of explicit endpoints and Ingress addresses.
    guard(&mut listeners, &ctx.settings.networks);
    let services = in_namespace(ctx.stores.services.state(), namespace);
    let slices = in_namespace(ctx.stores.slices.state(), namespace);
    let mut backends = match passthrough_targets(namespace, wanted, &objects, &services, &slices) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    if wanted.backend_tls_policies {
        backends.extend(backend_targets(namespace, &objects, &services, &slices));
    }
    refuse_metadata(&mut backends);
    listeners.extend(backends);
    Ok(Ok(GatewayPlan {
        endpoints: listeners,
        problems,
    }))
}

/// Refuses listener addresses outside the allowed networks (loopback, link-local, public unless
/// `--allow-target-cidr` allows them; metadata endpoints always).
pub fn guard(planned: &mut [PlannedEndpoint], networks: &TargetNetworks) {
    for p in planned.iter_mut().filter(|p| p.not_probed.is_none()) {
        if let Some(address) = p.dial.address
            && let Err(reason) = networks.check(address.ip())
        {
            p.not_probed = Some(NotProbed::Refused(format!("{}: {reason}", p.dial.host)));
        }
    }
}

/// Refuses EndpointSlice addresses that are cloud metadata endpoints.
fn refuse_metadata(planned: &mut [PlannedEndpoint]) {
    for p in planned.iter_mut().filter(|p| p.not_probed.is_none()) {
        if let Some(address) = p.dial.address
            && let Err(reason) = metadata_endpoint(address.ip())
        {
            p.not_probed = Some(NotProbed::Refused(reason));
        }
    }
}

/// The facts of every planned endpoint: BackendTLSPolicy backends with their policy's trust, all
/// others through [`crate::controller::reconcile::prober::Prober::probe_planned`] with the
/// audit's. Both share the prober's bound and cache.
pub async fn probe(
    ctx: &Context,
    planned: &[PlannedEndpoint],
    material: &Material,
    gateway: &GatewayMaterial,
    cycle: Cycle,
) -> Vec<Option<Arc<Facts>>> {
    let (timeout, deadline) = (ctx.settings.probe_timeout, ctx.settings.probe_deadline);
    let backend = |p: &PlannedEndpoint| match p.gateway.as_deref() {
        Some(GatewayRole::Backend(check)) => gateway.trust.get(&check.policy),
        _ => None,
    };
    if !planned.iter().any(|p| backend(p).is_some()) {
        return ctx
            .prober
            .probe_planned(planned, material, timeout, deadline, cycle)
            .await;
    }
    let (own, rest): (Vec<usize>, Vec<usize>) =
        (0..planned.len()).partition(|i| backend(&planned[*i]).is_some());
    let others: Vec<PlannedEndpoint> = rest.iter().map(|i| planned[*i].clone()).collect();
    let backends = own.iter().map(|i| {
        let p = &planned[*i];
        async move {
            let trust = backend(p)?;
            if p.not_probed.is_some() {
                return None;
            }
            let options = ProbeOptions {
                timeout,
                deadline,
                roots: Arc::clone(&trust.roots),
                client_identity: material.identity.clone(),
                ..ProbeOptions::default()
            };
            let key = ProbeKey::new(&p.dial, material.identity_fingerprint, trust.fingerprint);
            Some(ctx.prober.facts(key, &p.dial, &options).await)
        }
    });
    let (other_facts, backend_facts) = futures::join!(
        ctx.prober
            .probe_planned(&others, material, timeout, deadline, cycle),
        futures::future::join_all(backends)
    );
    let mut facts = vec![None; planned.len()];
    for (i, f) in rest.into_iter().zip(other_facts) {
        facts[i] = f;
    }
    for (i, f) in own.into_iter().zip(backend_facts) {
        facts[i] = f;
    }
    facts
}
