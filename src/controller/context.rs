//! What the controller runs on. `Setup`: the operator's client, flags, identity, metrics, health
//! and probe function, built once by `Operator::start` and handed to the supervisor. [`Context`]:
//! what every reconcile shares — settings, informer caches, the prober, metrics and the Event
//! recorder — built from the setup each time the controller starts.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;

use super::args::ControllerArgs;
use super::reconcile::plan::networks::TargetNetworks;
use super::reconcile::prober::{ProbeFn, Prober};
use crate::crd::TlsAudit;
use crate::http::Health;
use crate::metrics::Metrics;

/// The `controller` of the operator's Events.
pub const EVENT_REPORTER: &str = "tlsaudit-controller";

/// What the controller is built from.
pub(crate) struct Setup {
    /// API client.
    pub client: Client,
    /// The operator's flags.
    pub args: ControllerArgs,
    /// This replica's name (Leases, Events).
    pub identity: String,
    /// The registry.
    pub metrics: Arc<Metrics>,
    /// Readiness, flipped by the supervisor.
    pub health: Arc<Health>,
    /// How endpoints are probed.
    pub probe: ProbeFn,
}

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
    /// Networks explicit endpoints may reach.
    pub networks: TargetNetworks,
}

impl Settings {
    /// The settings `args` give.
    #[must_use]
    pub fn from_args(args: &ControllerArgs) -> Self {
        Self {
            default_interval: args.default_interval,
            status_max_endpoints: usize::from(args.status_max_endpoints),
            metrics_max_endpoints: usize::try_from(args.metrics_max_endpoints)
                .unwrap_or(usize::MAX),
            probe_timeout: args.probe_timeout,
            networks: TargetNetworks::new(args.allow_target_cidr.clone()),
        }
    }
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

impl Context {
    /// The context of a controller started from `setup` over `stores`.
    pub(crate) fn new(setup: &Setup, stores: Stores) -> Self {
        let args = &setup.args;
        let reporter = Reporter {
            controller: EVENT_REPORTER.into(),
            instance: Some(setup.identity.clone()),
        };
        Self {
            client: setup.client.clone(),
            settings: Settings::from_args(args),
            stores,
            prober: Prober::new(
                Arc::clone(&setup.probe),
                usize::from(args.concurrency),
                args.probe_cache_ttl,
                Some(Arc::clone(&setup.metrics)),
            ),
            metrics: Arc::clone(&setup.metrics),
            recorder: Recorder::new(setup.client.clone(), reporter),
        }
    }
}
