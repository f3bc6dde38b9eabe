//! What the controller runs on. `Setup`: the operator's client, flags, identity, metrics, health
//! and probe function, built once by `Operator::start` and handed to the supervisor. [`Context`]:
//! what every reconcile shares — settings, informer caches, the prober, metrics and the Event
//! recorder — built from the setup each time the controller starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::Store;
use tokio::sync::watch;

use super::args::ControllerArgs;
use super::certmanager::Certificates;
use super::gateway::GatewayApi;
use super::reconcile::events::Recorder;
use super::reconcile::plan::networks::TargetNetworks;
use super::reconcile::prober::{Prober, Probes};
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
    /// How endpoints are probed (full and light).
    pub probes: Probes,
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
    /// Deadline of one endpoint's whole probe. Process-wide, like the timeout, so the probe
    /// cache's key (address, SNI, protocol, identity, trust) need not include either.
    pub probe_deadline: Duration,
    /// Networks explicit endpoints may reach.
    pub networks: TargetNetworks,
    /// Who may audit the apiserver's webhooks and aggregated APIs (`spec.cluster`).
    pub cluster: ClusterSettings,
}

/// Where `spec.cluster` is honoured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `--cluster-audits on`.
    pub enabled: bool,
    /// The operator's namespace, the only one whose audits may use it.
    pub namespace: String,
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
            probe_deadline: args
                .probe_deadline
                .unwrap_or_else(|| args.probe_timeout.saturating_mul(6))
                .max(args.probe_timeout),
            networks: TargetNetworks::new(args.allow_target_cidr.clone()),
            cluster: ClusterSettings {
                enabled: args.cluster_audits == super::args::OnOff::On,
                namespace: args
                    .cluster_audit_namespace
                    .clone()
                    .or_else(|| std::env::var("POD_NAMESPACE").ok())
                    .unwrap_or_default(),
            },
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
    /// cert-manager Certificates, when the cluster serves them.
    pub certificates: Certificates,
}

/// Running reconciles by `(namespace, name)`: an id and the sender that cancels it.
type Registry = HashMap<(String, String), (u64, watch::Sender<bool>)>;

/// The reconciles in flight, so that deleting an audit cancels its probes at once instead of
/// letting them run to their deadlines.
#[derive(Debug, Default)]
pub struct InFlight {
    running: Mutex<Registry>,
    next: AtomicU64,
}

/// One registered reconcile: resolves [`Self::cancelled`] when its audit is deleted, and
/// unregisters itself when dropped.
pub struct Running<'a> {
    in_flight: &'a InFlight,
    key: (String, String),
    id: u64,
    cancelled: watch::Receiver<bool>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a reconcile of `namespace/name`.
    pub fn start(&self, namespace: &str, name: &str) -> Running<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let key = (namespace.to_owned(), name.to_owned());
        let (cancel, cancelled) = watch::channel(false);
        self.lock().insert(key.clone(), (id, cancel));
        Running {
            in_flight: self,
            key,
            id,
            cancelled,
        }
    }

    /// Cancels the reconcile of `namespace/name`, if one runs.
    pub fn cancel(&self, namespace: &str, name: &str) {
        if let Some((_, cancel)) = self.lock().remove(&(namespace.to_owned(), name.to_owned())) {
            let _ = cancel.send(true);
        }
    }
}

impl Running<'_> {
    /// Resolves when the audit was deleted.
    pub async fn cancelled(&mut self) {
        // An error means the sender is gone: the entry was removed by `cancel`.
        let _ = self.cancelled.wait_for(|c| *c).await;
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut running = self.in_flight.lock();
        if running.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            running.remove(&self.key);
        }
    }
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
    /// Reconciles in flight (cancelled when their audit is deleted).
    pub in_flight: InFlight,
    /// The Gateway API as discovered (absent until its CRDs are installed).
    pub gateway_api: Arc<GatewayApi>,
}

impl Context {
    /// The context of a controller started from `setup` over `stores`.
    pub(crate) fn new(setup: &Setup, stores: Stores) -> Self {
        let args = &setup.args;
        let reporter = Reporter {
            controller: EVENT_REPORTER.into(),
            instance: Some(setup.identity.clone()),
        };
        let mut settings = Settings::from_args(args);
        if settings.cluster.namespace.is_empty() {
            setup
                .client
                .default_namespace()
                .clone_into(&mut settings.cluster.namespace);
        }
        Self {
            client: setup.client.clone(),
            settings,
            stores,
            prober: Prober::new(
                Arc::clone(&setup.probes.full),
                usize::from(args.concurrency),
                args.probe_cache_ttl,
                Some(Arc::clone(&setup.metrics)),
            )
            .with_light(setup.probes.light.clone(), args.full_probe_every),
            metrics: Arc::clone(&setup.metrics),
            recorder: Recorder::new(setup.client.clone(), reporter),
            in_flight: InFlight::default(),
            gateway_api: Arc::new(GatewayApi::default()),
        }
    }
}
