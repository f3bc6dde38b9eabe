//! Step 1 of the reconcile: which endpoints an audit covers. Input: the audit's spec, the informer
//! caches (Services, EndpointSlices, Ingresses of its namespace), the allowed networks. Output: a
//! [`Plan`] — every [`PlannedEndpoint`] with where to dial it, or why the spec cannot be used.
//!
//! The selection itself is pure (`targets`, `networks`); this step adds the I/O it needs: waiting
//! for the caches, reading an ingress controller's Service that may live outside them, and
//! resolving explicit host names and Ingress load-balancer host names (every address a name
//! resolves to must be allowed). Names are resolved concurrently ([`RESOLVE_CONCURRENCY`] at a
//! time) under one deadline, the probe timeout, for all of them together.
//!
//! The guard (`networks`): explicit endpoints and Ingress `status.loadBalancer` addresses must lie
//! in the allowed networks; no planned address at all may be a cloud metadata endpoint.

pub mod cluster;
pub mod gateways;
pub mod networks;
pub mod targets;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::ListParams;
use kube::{Api, Client, Resource};

use self::networks::TargetNetworks;
use self::targets::{SERVICE_NAME_LABEL, SelectorError};
use crate::controller::context::Context;
use crate::crd::{ControllerService, TlsAuditSpec};
use crate::probe::Target;

/// How long a reconcile waits for the informer caches to fill.
const CACHE_SYNC: Duration = Duration::from_secs(30);

/// Most name lookups of one audit in flight at once.
pub const RESOLVE_CONCURRENCY: usize = 16;

/// One endpoint an audit covers: probed, or reported without a probe when [`Self::not_probed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEndpoint {
    /// What the audit named, shown as `target` in the status and the metrics: `service/NAME`,
    /// `ingress/NAME` or `endpoint/HOST`.
    pub origin: String,
    /// Where to connect, with which SNI and verification name.
    pub dial: Target,
    /// Replicas of one Service port share a group; their served certificates must agree.
    pub replica_group: Option<String>,
    /// For Ingress hosts: the TLS Secret named by the Ingress (checked at rest).
    pub ingress_secret: Option<String>,
    /// Why the endpoint gets a finding instead of a probe.
    pub not_probed: Option<NotProbed>,
    /// For Gateway API endpoints: what else it is checked against (`gateways`).
    pub gateway: Option<Box<gateways::GatewayRole>>,
}

/// Why a planned endpoint gets a finding instead of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotProbed {
    /// An explicit endpoint outside the allowed networks (`target.refused`).
    Refused(String),
    /// There is no address to dial (`connect.failed`).
    NoAddress(String),
}

/// What planning an audit gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every endpoint the audit covers: Services, then Ingress hosts, then explicit endpoints.
    Endpoints(Vec<PlannedEndpoint>),
    /// The spec cannot be used (a selector the apiserver accepted but that cannot be evaluated):
    /// Ready=False with reason `InvalidSpec` until the spec changes.
    InvalidSpec(SelectorError),
}

/// The operator failed to plan (never the audit's fault).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The informer caches did not fill.
    #[error("failed to sync the informer caches within {0:?}")]
    CacheSync(Duration),
    /// Reading the ingress controller's Service or EndpointSlices failed.
    #[error("failed to read ingress controller Service {namespace}/{name}: {source}")]
    ReadControllerService {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// API error.
        source: kube::Error,
    },
}

fn in_namespace<K: Resource>(items: Vec<Arc<K>>, namespace: &str) -> Vec<Arc<K>> {
    items
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .collect()
}

/// Plans the audit of `spec` in `namespace`.
pub async fn plan(ctx: &Context, namespace: &str, spec: &TlsAuditSpec) -> Result<Plan, PlanError> {
    let stores = &ctx.stores;
    let ready = async {
        stores.services.wait_until_ready().await.ok();
        stores.slices.wait_until_ready().await.ok();
        stores.ingresses.wait_until_ready().await.ok();
    };
    tokio::time::timeout(CACHE_SYNC, ready)
        .await
        .map_err(|_| PlanError::CacheSync(CACHE_SYNC))?;

    let services = in_namespace(stores.services.state(), namespace);
    let slices = in_namespace(stores.slices.state(), namespace);
    let mut planned = match targets::service_targets(namespace, spec, &services, &slices) {
        Ok(p) => p,
        Err(e) => return Ok(Plan::InvalidSpec(e)),
    };
    // Endpoints whose address the audit's author or a tenant's object chose.
    let mut guarded = Vec::new();
    if let Some(wanted) = &spec.ingresses {
        let dial = match &wanted.controller_service {
            Some(controller) => controller_address(&ctx.client, namespace, controller).await?,
            None => None,
        };
        let ingresses = in_namespace(stores.ingresses.state(), namespace);
        match targets::ingress_targets(spec, &ingresses, dial) {
            // Without a controller Service, the addresses come from the Ingresses' status, which
            // a tenant can write: they pass the same guard as explicit endpoints.
            Ok(p) if dial.is_none() => guarded.extend(p),
            Ok(p) => planned.extend(p),
            Err(e) => return Ok(Plan::InvalidSpec(e)),
        }
    }
    guarded.extend(targets::explicit_targets(spec));
    let settings = &ctx.settings;
    resolve_all(&mut guarded, &settings.networks, settings.probe_timeout).await;
    planned.extend(guarded);
    refuse_metadata(&mut planned);
    Ok(Plan::Endpoints(planned))
}

/// Marks every endpoint whose address is a cloud metadata endpoint refused, wherever the address
/// came from (a tenant can write an EndpointSlice too).
fn refuse_metadata(planned: &mut [PlannedEndpoint]) {
    for endpoint in planned.iter_mut().filter(|p| p.not_probed.is_none()) {
        if let Some(address) = endpoint.dial.address
            && let Err(reason) = networks::metadata_endpoint(address.ip())
        {
            endpoint.not_probed = Some(NotProbed::Refused(reason));
        }
    }
}

/// Resolves and checks every guarded endpoint, [`RESOLVE_CONCURRENCY`] at a time, all under one
/// deadline `timeout` from now: 10,000 unresolvable names cost one timeout, not 10,000.
async fn resolve_all(
    guarded: &mut [PlannedEndpoint],
    networks: &TargetNetworks,
    timeout: Duration,
) {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + timeout;
    futures::stream::iter(guarded.iter_mut())
        .for_each_concurrent(RESOLVE_CONCURRENCY, |endpoint| {
            resolve_guarded(endpoint, networks, deadline, timeout)
        })
        .await;
}

/// The ingress controller Service may live in another namespace (ingress-nginx), outside the
/// caches when the operator watches one namespace: read it directly, once per audit.
async fn controller_address(
    client: &Client,
    namespace: &str,
    controller: &ControllerService,
) -> Result<Option<SocketAddr>, PlanError> {
    let ns = controller
        .namespace
        .clone()
        .unwrap_or_else(|| namespace.to_owned());
    let err = |source| PlanError::ReadControllerService {
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

/// Checks a guarded endpoint's address, or resolves its host and pins the address; else marks it
/// not probed. Every address the name resolves to must be allowed, so DNS cannot smuggle in a
/// forbidden one.
async fn resolve_guarded(
    endpoint: &mut PlannedEndpoint,
    networks: &TargetNetworks,
    deadline: tokio::time::Instant,
    timeout: Duration,
) {
    if endpoint.not_probed.is_some() {
        return;
    }
    if let Some(address) = endpoint.dial.address {
        if let Err(reason) = networks.check(address.ip()) {
            endpoint.not_probed = Some(NotProbed::Refused(format!(
                "{}: {reason}",
                endpoint.dial.host
            )));
        }
        return;
    }
    let host = endpoint
        .dial
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addresses: Vec<IpAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![ip]
    } else {
        let lookup = tokio::net::lookup_host((host.as_str(), endpoint.dial.port));
        match tokio::time::timeout_at(deadline, lookup).await {
            Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
            Ok(Err(e)) => {
                endpoint.not_probed = Some(NotProbed::NoAddress(format!(
                    "{host} does not resolve: {e}"
                )));
                return;
            }
            Err(_) => {
                endpoint.not_probed = Some(NotProbed::NoAddress(format!(
                    "{host} did not resolve within the audit's resolution deadline ({timeout:?})"
                )));
                return;
            }
        }
    };
    for ip in &addresses {
        if let Err(reason) = networks.check(*ip) {
            endpoint.not_probed = Some(NotProbed::Refused(format!("{host}: {reason}")));
            return;
        }
    }
    match addresses.first() {
        Some(ip) => endpoint.dial.address = Some(SocketAddr::new(*ip, endpoint.dial.port)),
        None => {
            endpoint.not_probed = Some(NotProbed::NoAddress(format!(
                "{host} resolves to no address"
            )));
        }
    }
}
