//! The Kubernetes operator: `tlsaudit controller`. Input: command-line flags (or their environment
//! variables) and a kubeconfig or in-cluster service account. Output: audited `TlsAudit` statuses,
//! Events, metrics on `--metrics-addr`, until SIGTERM/SIGINT.
//!
//! The rooms, outside in:
//! - this module: [`run`] and the [`Operator`] lifecycle (start, stop, wait) and its [`Error`];
//! - `args`: the flags; `context`: what the controller is built from and what reconciles share;
//! - `supervise`: who audits — alone, the holder of the leader Lease (`lease`), or each member for
//!   its share of the audits (`shard`);
//! - `watches`: the informer caches and watches, and which audits each change triggers;
//! - `certmanager`: cert-manager Certificates, an optional kind, discovered and watched once served;
//! - `gateway`: the optional Gateway API — discovery, objects, key material, watches;
//! - `health`: the periodic check of the apiserver and the watched resources behind /readyz;
//! - `reconcile`: one audit, a pipeline plan → material → probe → judge → status, events, series.

pub mod args;
pub mod certmanager;
pub mod context;
pub mod gateway;
mod health;
pub mod lease;
pub mod reconcile;
pub mod shard;
mod supervise;
pub mod watches;

#[cfg(test)]
pub(crate) mod fixtures;

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::args::{ControllerArgs, OnOff};
use self::context::Setup;
use self::lease::Elector;
pub use self::reconcile::prober::{LightFn, ProbeFn, Probes};
use self::shard::Membership;
use self::supervise::{Coordination, supervise, wait_for};
use crate::http::{self, Health};
use crate::metrics::Metrics;

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
    /// The Lease timings contradict each other.
    #[error("invalid Lease timings: {0}")]
    LeaseTimings(String),
    /// The operator task ended abnormally.
    #[error("failed to join the operator task: {0}")]
    Join(#[from] tokio::task::JoinError),
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
        let probes = probe.map_or_else(Probes::engine, |full| Probes { full, light: None });
        Self::start_with_probes(args, client, probes).await
    }

    /// [`Operator::start`] with other full and light probe functions (a test's routed engine
    /// probes, a bench's fakes). Without a light probe every probe is full.
    pub async fn start_with_probes(
        args: &ControllerArgs,
        client: Client,
        probes: Probes,
    ) -> Result<Self, Error> {
        let timings = args.lease_timings()?;
        client.apiserver_version().await.map_err(Error::Apiserver)?;
        let metrics = Arc::new(Metrics::new()?);
        let health = Arc::new(Health::new(args.readiness_grace));
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
        let setup = Setup {
            client,
            args: args.clone(),
            identity,
            metrics,
            health,
            probes,
        };
        let task = tokio::spawn(supervise(setup, coordination, stopped));
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

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "tlsaudit".to_owned(), |h| h.trim().to_owned());
    format!("{host}-{}", std::process::id())
}
