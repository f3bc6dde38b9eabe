//! The Kubernetes operator: `tlsaudit controller` and `tlsaudit crd`. Input: command-line flags
//! (or their environment variables) and a kubeconfig or in-cluster service account. Output:
//! audited `TlsAudit` statuses, Events, metrics on `--metrics-addr`, until SIGTERM/SIGINT.
//!
//! Wiring: informer caches (reflectors) of TlsAudits, Services, EndpointSlices and Ingresses, and
//! metadata-only watches of Secrets and ConfigMaps, feed a `kube::runtime::Controller` on
//! TlsAudit; each watched change maps back to the audits it concerns (`triggers`). With leader
//! election on, the controller runs only while this replica holds the Lease (`lease`); with
//! sharding on, every replica runs it but audits only the audits it owns (`shard`), and a change of
//! members re-triggers the audits that moved to this replica.

pub mod consistency;
pub mod events;
pub mod ingress;
pub mod lease;
pub mod material;
pub mod networks;
pub mod probes;
pub mod reconcile;
pub mod shard;
pub mod status;
pub mod targets;
pub mod triggers;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, PredicateConfig, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::lease::{Elector, Timings};
use self::networks::{Cidr, TargetNetworks};
use self::probes::{ProbeFn, Prober};
use self::reconcile::{Context, Settings, Stores};
use self::shard::{Membership, Shard};
use crate::crd::TlsAudit;
use crate::http::{self, Health};
use crate::metrics::Metrics;

/// A feature switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

fn duration(text: &str) -> Result<Duration, String> {
    reconcile::parse_interval(text)
}

/// Flags of `tlsaudit controller` (each also read from the environment variable shown).
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerArgs {
    /// Most probes running at once, across all audits.
    #[arg(long, env = "TLSAUDIT_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Re-audit period of audits whose spec has no interval (Go duration).
    #[arg(long, env = "TLSAUDIT_DEFAULT_INTERVAL", default_value = "1h", value_parser = duration)]
    pub default_interval: Duration,
    /// A network explicit `endpoints` may reach besides the private ranges (repeatable, or
    /// comma-separated in the environment), e.g. 127.0.0.0/8 for local demos.
    #[arg(
        long = "allow-target-cidr",
        env = "TLSAUDIT_ALLOW_TARGET_CIDRS",
        value_delimiter = ','
    )]
    pub allow_target_cidr: Vec<Cidr>,
    /// Listen address of /metrics, /healthz and /readyz.
    #[arg(long, env = "TLSAUDIT_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Run only while holding the Lease, so that several replicas never audit at once (not used
    /// with `--sharding on`).
    #[arg(
        long,
        env = "TLSAUDIT_LEADER_ELECTION",
        value_enum,
        default_value = "on"
    )]
    pub leader_election: OnOff,
    /// Share the audits between replicas: each keeps a member Lease `<lease-name>-<identity>` and
    /// audits only the audits that rendezvous hashing gives it. Implies no leader election.
    #[arg(long, env = "TLSAUDIT_SHARDING", value_enum, default_value = "off")]
    pub sharding: OnOff,
    /// Watch Secrets (metadata only) so that a changed Secret is audited at once. Off when the
    /// operator may not list Secrets cluster-wide (chart `rbac.secrets: namespaces|none`): a
    /// changed Secret is then picked up at the audit's next interval.
    #[arg(long, env = "TLSAUDIT_WATCH_SECRETS", value_enum, default_value = "on")]
    pub watch_secrets: OnOff,
    /// Name of the leader-election Lease; with sharding, the prefix and label value of the member
    /// Leases.
    #[arg(
        long,
        env = "TLSAUDIT_LEASE_NAME",
        default_value = "tlsaudit-controller"
    )]
    pub lease_name: String,
    /// Namespace of the Lease; default the pod's namespace (POD_NAMESPACE), else the kubeconfig's.
    #[arg(long, env = "TLSAUDIT_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// This replica's name in the Lease; default POD_NAME, else host name and process id.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// How long a Lease holds without renewal (whole seconds, at least 1s).
    #[arg(long, env = "TLSAUDIT_LEASE_DURATION", default_value = "15s", value_parser = duration)]
    pub lease_duration: Duration,
    /// A replica that could not renew its Lease for this long stops auditing (< lease duration).
    #[arg(long, env = "TLSAUDIT_LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = duration)]
    pub lease_renew_deadline: Duration,
    /// Pause between Lease renewals (and, with sharding, member lists); < renew deadline.
    #[arg(long, env = "TLSAUDIT_LEASE_RETRY_PERIOD", default_value = "2s", value_parser = duration)]
    pub lease_retry_period: Duration,
    /// Most endpoints listed in a TlsAudit status (the rest are counted).
    #[arg(long, env = "TLSAUDIT_STATUS_MAX_ENDPOINTS", default_value_t = 50, value_parser = clap::value_parser!(u16).range(0..=500))]
    pub status_max_endpoints: u16,
    /// Most endpoints of one audit that get per-endpoint metric series, worst first; the rest
    /// count in the per-audit series only. Bounds the metrics' cardinality and memory.
    #[arg(long, env = "TLSAUDIT_METRICS_MAX_ENDPOINTS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub metrics_max_endpoints: u32,
    /// Deadline of each connect and exchange of a probe.
    #[arg(long, env = "TLSAUDIT_PROBE_TIMEOUT", default_value = "5s", value_parser = duration)]
    pub probe_timeout: Duration,
    /// Deadline of one endpoint's whole probe (default 6 × --probe-timeout; never below it).
    #[arg(long, env = "TLSAUDIT_PROBE_DEADLINE", value_parser = duration)]
    pub probe_deadline: Option<Duration>,
    /// How long one probe's result is shared by audits naming the same endpoint, SNI and identity.
    #[arg(long, env = "TLSAUDIT_PROBE_CACHE_TTL", default_value = "30s", value_parser = duration)]
    pub probe_cache_ttl: Duration,
    /// Audit only this namespace (default: every namespace).
    #[arg(long, env = "TLSAUDIT_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
}

/// Flags of `tlsaudit crd`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CrdArgs {}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("failed to create a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    /// The apiserver did not answer.
    #[error("failed to reach the Kubernetes apiserver: {0}")]
    Apiserver(#[source] kube::Error),
    /// The metrics registry could not be built.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// The metrics address could not be bound.
    #[error(transparent)]
    Http(#[from] http::HttpError),
    /// The Lease could not be read or written for longer than the renew deadline.
    #[error(transparent)]
    Lease(#[from] lease::LeaseError),
    /// Another replica took the Lease or renewal kept failing; this replica stopped auditing.
    #[error("failed to keep the leader Lease {0}: stopped auditing")]
    LeadershipLost(String),
    /// The CRD could not be rendered.
    #[error(transparent)]
    Crd(#[from] crate::crd::CrdError),
    /// The Lease timings contradict each other.
    #[error("invalid Lease timings: {0}")]
    LeaseTimings(String),
    /// The operator task ended abnormally.
    #[error("failed to join the operator task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// `tlsaudit crd`: prints the CRD YAML.
pub fn run_crd(_args: &CrdArgs) -> Result<(), Error> {
    print!("{}", crate::crd::crd_yaml()?);
    Ok(())
}

/// `tlsaudit controller`: runs the operator until SIGTERM or SIGINT.
pub async fn run(args: ControllerArgs) -> Result<(), Error> {
    let client = Client::try_default().await.map_err(Error::Client)?;
    let mut operator = Operator::start(&args, client).await?;
    tracing::info!(metrics = %operator.metrics_addr(), "operator started");
    tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            operator.stop().await
        }
        result = operator.wait() => result,
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    // Without signal handlers there is no way to be told to stop; run until killed.
    if tokio::signal::ctrl_c().await.is_err() {
        futures::future::pending::<()>().await;
    }
}

/// A running operator (used by `run` and by the end-to-end tests, which run it in-process).
#[derive(Debug)]
pub struct Operator {
    metrics_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), Error>>,
    http: JoinHandle<()>,
}

impl Operator {
    /// Binds the metrics address, checks the apiserver, and starts auditing (after winning the
    /// Lease when leader election is on).
    pub async fn start(args: &ControllerArgs, client: Client) -> Result<Self, Error> {
        Self::start_with_probe(args, client, None).await
    }

    /// [`Operator::start`] with another probe function than the engine's. The end-to-end tests
    /// use this to route the fake Pod IPs of their EndpointSlices to loopback servers: the
    /// apiserver refuses loopback addresses in EndpointSlices, and tests may dial only loopback.
    pub async fn start_with_probe(
        args: &ControllerArgs,
        client: Client,
        probe: Option<ProbeFn>,
    ) -> Result<Self, Error> {
        let timings = lease_timings(args)?;
        client.apiserver_version().await.map_err(Error::Apiserver)?;
        let metrics = Arc::new(Metrics::new()?);
        let health = Arc::new(Health::default());
        let listener = http::bind(args.metrics_addr).await?;
        let metrics_addr = listener
            .local_addr()
            .map_err(|source| http::HttpError::Bind {
                addr: args.metrics_addr,
                source,
            })?;
        let (stop, stopped) = watch::channel(false);
        let http = tokio::spawn(http::serve(
            listener,
            Arc::clone(&health),
            Arc::clone(&metrics),
            wait_for(stopped.clone()),
        ));

        let identity = args.identity.clone().unwrap_or_else(default_identity);
        let namespace = args
            .lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| client.default_namespace().to_owned());
        let coordination = if args.sharding == OnOff::On {
            if args.leader_election == OnOff::On {
                tracing::info!("sharding is on: leader election is not used");
            }
            Coordination::Sharded(Membership::new(
                client.clone(),
                &namespace,
                &args.lease_name,
                &identity,
                timings,
            ))
        } else if args.leader_election == OnOff::On {
            Coordination::Elected(Elector::new(
                client.clone(),
                &namespace,
                &args.lease_name,
                &identity,
                timings,
            ))
        } else {
            Coordination::Alone
        };
        let parts = Parts {
            client,
            args: args.clone(),
            identity,
            metrics,
            health,
            probe,
        };
        let task = tokio::spawn(supervise(parts, coordination, stopped));
        Ok(Self {
            metrics_addr,
            stop,
            task,
            http,
        })
    }

    /// Where /metrics, /healthz and /readyz are served.
    #[must_use]
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Stops auditing (in-flight reconciles finish), releases the Lease, stops serving.
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(true);
        let result = self.task.await?;
        let _ = self.http.await;
        result
    }

    /// Waits until the operator stops by itself (lost leadership).
    pub async fn wait(&mut self) -> Result<(), Error> {
        (&mut self.task).await?
    }
}

/// The Lease timings of `args`, checked as client-go checks its own.
fn lease_timings(args: &ControllerArgs) -> Result<Timings, Error> {
    let t = Timings {
        lease_duration: args.lease_duration,
        renew_deadline: args.lease_renew_deadline,
        retry_period: args.lease_retry_period,
    };
    if t.lease_duration < Duration::from_secs(1) {
        return Err(Error::LeaseTimings(format!(
            "the lease duration {:?} is under 1s (a Lease counts whole seconds)",
            t.lease_duration
        )));
    }
    if t.renew_deadline >= t.lease_duration {
        return Err(Error::LeaseTimings(format!(
            "the renew deadline {:?} must be shorter than the lease duration {:?}",
            t.renew_deadline, t.lease_duration
        )));
    }
    if t.retry_period.is_zero() || t.retry_period >= t.renew_deadline {
        return Err(Error::LeaseTimings(format!(
            "the retry period {:?} must be above zero and shorter than the renew deadline {:?}",
            t.retry_period, t.renew_deadline
        )));
    }
    Ok(t)
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "tlsaudit".to_owned(), |h| h.trim().to_owned());
    format!("{host}-{}", std::process::id())
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    // An error means the sender is gone: treat it as stop.
    let _ = stopped.wait_for(|s| *s).await;
}

struct Parts {
    client: Client,
    args: ControllerArgs,
    identity: String,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    probe: Option<ProbeFn>,
}

/// How this replica shares the work with others.
enum Coordination {
    /// It does not: it audits everything.
    Alone,
    /// It audits everything while it holds the leader Lease.
    Elected(Elector),
    /// It audits its share of the audits while it is a live member.
    Sharded(Membership),
}

/// Runs the controller directly, as a shard, or campaigns for the Lease and runs it while leading.
async fn supervise(
    parts: Parts,
    coordination: Coordination,
    stopped: watch::Receiver<bool>,
) -> Result<(), Error> {
    parts.health.set_ready(true);
    let mut elector = match coordination {
        Coordination::Alone => {
            run_controller(&parts, None, wait_for(stopped)).await;
            return Ok(());
        }
        Coordination::Sharded(membership) => {
            run_sharded(&parts, &membership, stopped).await;
            return Ok(());
        }
        Coordination::Elected(elector) => elector,
    };
    let timings = elector.timings();
    loop {
        if *stopped.borrow() {
            return Ok(());
        }
        match elector.try_acquire_or_renew().await {
            Ok(true) => break,
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "leader election attempt failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(timings.retry_period) => {}
            () = wait_for(stopped.clone()) => return Ok(()),
        }
    }
    tracing::info!(identity = %elector.identity(), "became leader");
    let (halt, halted) = watch::channel(false);
    let mut controller = Box::pin(run_controller(&parts, None, wait_for(halted)));
    let outcome = loop {
        tokio::select! {
            () = &mut controller => break Ok(()),
            () = wait_for(stopped.clone()) => {
                let _ = halt.send(true);
                // Finish in-flight audits, but never past the point where the Lease could lapse.
                if tokio::time::timeout(timings.renew_deadline / 2, &mut controller).await.is_err() {
                    tracing::warn!("in-flight audits cancelled at shutdown");
                }
                break Ok(());
            }
            () = tokio::time::sleep(timings.retry_period) => {
                match elector.try_acquire_or_renew().await {
                    Ok(true) => {}
                    Ok(false) => break Err(Error::LeadershipLost(elector.identity().to_owned())),
                    Err(err) if elector.within_deadline() => tracing::warn!(error = %err, "failed to renew the Lease; retrying"),
                    Err(err) => {
                        tracing::error!(error = %err, "failed to renew the Lease within the deadline");
                        break Err(Error::LeadershipLost(elector.identity().to_owned()));
                    }
                }
            }
        }
    };
    // Dropping the controller here (on loss) cancels every in-flight reconcile at once.
    drop(controller);
    parts.metrics.retain_audits(&BTreeSet::new());
    if outcome.is_ok()
        && let Err(err) = elector.release().await
    {
        tracing::warn!(error = %err, "failed to release the Lease");
    }
    outcome
}

/// Runs the controller as one shard: renews the member Lease and publishes the live members every
/// retry period, until `stopped`; then leaves (deletes the Lease) so the others take over at once.
async fn run_sharded(parts: &Parts, membership: &Membership, stopped: watch::Receiver<bool>) {
    let timings = membership.timings();
    tracing::info!(identity = %membership.identity(), "sharding the audits");
    let (view, viewed) = watch::channel(Arc::new(BTreeSet::new()));
    let (halt, halted) = watch::channel(false);
    let shard = Shard::new(membership.identity(), viewed);
    {
        let controller = run_controller(parts, Some(shard), wait_for(halted));
        let heartbeat = heartbeat(membership, &view, stopped);
        tokio::pin!(controller, heartbeat);
        tokio::select! {
            () = &mut controller => {}
            () = &mut heartbeat => {
                let _ = halt.send(true);
                // Finish in-flight audits, but never past the point where the member Lease could lapse.
                if tokio::time::timeout(timings.renew_deadline / 2, &mut controller).await.is_err() {
                    tracing::warn!("in-flight audits cancelled at shutdown");
                }
            }
        }
    }
    parts.metrics.retain_audits(&BTreeSet::new());
    if let Err(err) = membership.leave().await {
        tracing::warn!(error = %err, "failed to delete the member Lease");
    }
}

/// Renews the member Lease and publishes the live members until `stopped`. A replica that could
/// not renew and list within the renew deadline publishes no members (owns nothing): its Lease
/// may lapse, and the others then take its audits.
async fn heartbeat(
    membership: &Membership,
    view: &watch::Sender<Arc<BTreeSet<String>>>,
    stopped: watch::Receiver<bool>,
) {
    let timings = membership.timings();
    let mut last_ok: Option<tokio::time::Instant> = None;
    loop {
        let attempt = tokio::time::Instant::now();
        let refreshed = tokio::time::timeout(timings.renew_deadline, membership.refresh()).await;
        let failure = match refreshed {
            Ok(Ok(members)) => {
                last_ok = Some(attempt);
                view.send_if_modified(|current| {
                    if **current == members {
                        return false;
                    }
                    tracing::info!(members = ?members, "shard members changed");
                    *current = Arc::new(members);
                    true
                });
                None
            }
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!("no answer within {:?}", timings.renew_deadline)),
        };
        if let Some(error) = failure {
            tracing::warn!(error = %error, "failed to refresh the shard members");
            if last_ok.is_none_or(|t| t.elapsed() >= timings.renew_deadline) {
                view.send_if_modified(|current| {
                    let had = !current.is_empty();
                    *current = Arc::new(BTreeSet::new());
                    had
                });
            }
        }
        tokio::select! {
            () = tokio::time::sleep(timings.retry_period) => {}
            () = wait_for(stopped.clone()) => return,
        }
    }
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
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .predicate_filter(predicates::resource_version, PredicateConfig::default())
}

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
    .default_backoff()
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
    metrics: Arc<Metrics>,
) -> impl futures::Stream<Item = Result<TlsAudit, watcher::Error>> + Send + 'static {
    watcher(
        api::<TlsAudit>(client, namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .inspect_ok(move |event| match event {
        watcher::Event::Delete(audit) => {
            metrics.remove_audit(&audit.namespace().unwrap_or_default(), &audit.name_any());
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
    .predicate_filter(triggers::audit_trigger, PredicateConfig::default())
}

/// Reconciles `audit` when this replica owns it (always without sharding); otherwise drops its
/// series and waits: a change of members re-triggers it if it moves here.
async fn reconcile_share(
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
    let result = reconcile::reconcile(Arc::clone(&audit), Arc::clone(&ctx)).await;
    if result.is_ok() {
        ctx.metrics.reconciled(None);
    }
    // The members may have changed during the audit: the new owner exports its series.
    if !owned() {
        ctx.metrics.remove_audit(&ns, &name);
    }
    result
}

fn context(parts: &Parts, stores: Stores) -> Arc<Context> {
    let args = &parts.args;
    let reporter = Reporter {
        controller: "tlsaudit-controller".into(),
        instance: Some(parts.identity.clone()),
    };
    Arc::new(Context {
        client: parts.client.clone(),
        settings: Settings {
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
        },
        stores,
        prober: Prober::new(
            parts.probe.clone().unwrap_or_else(probes::engine),
            usize::from(args.concurrency),
            args.probe_cache_ttl,
            Some(Arc::clone(&parts.metrics)),
        ),
        metrics: Arc::clone(&parts.metrics),
        recorder: Recorder::new(parts.client.clone(), reporter),
    })
}

/// Builds and runs the controller until `shutdown`.
async fn run_controller(
    parts: &Parts,
    shard: Option<Shard>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = &parts.client;
    let ns = parts.args.watch_namespace.as_deref();
    let watch_secrets = parts.args.watch_secrets == OnOff::On;
    let (audits, audit_writer) = reflector::store::<TlsAudit>();
    let (services, service_writer) = reflector::store::<Service>();
    let (slices, slice_writer) = reflector::store::<EndpointSlice>();
    let (ingresses, ingress_writer) = reflector::store::<Ingress>();
    let stores = Stores {
        audits: audits.clone(),
        services: services.clone(),
        slices,
        ingresses: ingresses.clone(),
    };
    let ctx = context(parts, stores);
    let audit_events = audit_stream(
        client,
        ns,
        audit_writer,
        audits.clone(),
        Arc::clone(&parts.metrics),
    );

    let (a1, a2, a3, a4, a5) = (
        audits.clone(),
        audits.clone(),
        audits.clone(),
        audits.clone(),
        audits.clone(),
    );
    let moved = match &shard {
        Some(shard) => moved_in(shard.clone(), audits.clone(), Arc::clone(&parts.metrics)).boxed(),
        None => futures::stream::pending().boxed(),
    };
    Controller::for_stream(audit_events, audits)
        .reconcile_on(moved)
        .with_config(kube::runtime::Config::default().debounce(Duration::from_secs(1)))
        .watches_stream(cached(client, ns, service_writer), move |svc: Service| {
            triggers::for_service(&a1.state(), svc.namespace().as_deref(), svc.labels())
        })
        .watches_stream(
            cached(client, ns, slice_writer),
            move |slice: EndpointSlice| {
                let ns = slice.namespace();
                let service = slice
                    .labels()
                    .get(targets::SERVICE_NAME_LABEL)
                    .and_then(|name| {
                        services
                            .get(&ObjectRef::new(name).within(ns.as_deref().unwrap_or_default()))
                    });
                let labels = service.as_deref().map(ResourceExt::labels);
                triggers::for_endpoint_slice(&a2.state(), ns.as_deref(), labels)
            },
        )
        .watches_stream(cached(client, ns, ingress_writer), move |ing: Ingress| {
            triggers::for_ingress(&a3.state(), ing.namespace().as_deref(), ing.labels())
        })
        .watches_stream(
            metadata::<Secret>(client, ns, watch_secrets),
            move |secret| {
                let ns = secret.namespace();
                triggers::for_secret(
                    &a4.state(),
                    &ingresses.state(),
                    ns.as_deref(),
                    &secret.name_any(),
                )
            },
        )
        .watches_stream(metadata::<ConfigMap>(client, ns, true), move |cm| {
            triggers::for_config_map(&a5.state(), cm.namespace().as_deref(), &cm.name_any())
        })
        .graceful_shutdown_on(shutdown)
        .run(
            move |audit, ctx: Arc<Context>| reconcile_share(audit, ctx, shard.clone()),
            reconcile::error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        args: ControllerArgs,
    }

    fn timings(extra: &[&str]) -> Result<Timings, Error> {
        let argv = [&["tlsaudit"], extra].concat();
        lease_timings(&Flags::try_parse_from(argv).unwrap().args)
    }

    #[test]
    fn default_lease_timings_are_client_go_s() {
        assert_eq!(timings(&[]).unwrap(), Timings::default());
    }

    #[test]
    fn lease_timings_must_shrink_from_duration_to_deadline_to_period() {
        let short = timings(&[
            "--lease-duration",
            "4s",
            "--lease-renew-deadline",
            "3s",
            "--lease-retry-period",
            "1s",
        ])
        .unwrap();
        assert_eq!(short.lease_duration, Duration::from_secs(4));
        for bad in [
            ["--lease-renew-deadline", "15s"].as_slice(),
            &["--lease-retry-period", "10s"],
            &["--lease-retry-period", "0s"],
            &[
                "--lease-duration",
                "500ms",
                "--lease-renew-deadline",
                "400ms",
            ],
        ] {
            let err = timings(bad).unwrap_err();
            assert!(matches!(err, Error::LeaseTimings(_)), "{bad:?} gave {err}");
        }
    }

    #[test]
    fn sharding_is_off_unless_asked_for() {
        let args = Flags::try_parse_from(["tlsaudit"]).unwrap().args;
        assert_eq!(args.sharding, OnOff::Off);
        let args = Flags::try_parse_from(["tlsaudit", "--sharding", "on"])
            .unwrap()
            .args;
        assert_eq!(args.sharding, OnOff::On);
    }
}
