//! The operator at scale (design §7): N namespaces × M Services, each Service with one
//! EndpointSlice of E ready addresses, and one TlsAudit per namespace that selects every Service
//! with `perEndpoint: true`. Input: a loopback kube-apiserver (scripts/control-plane.sh; the bench
//! refuses any other) and the shape flags. Output: timings, memory, CPU, API-call counts, status
//! size and metric-series counts as JSON on stdout (progress on stderr).
//!
//! The addresses (198.18.0.0/15) are never dialled by default: the operator runs in-process with
//! probe functions that wait `--probe-delay-ms` and return canned facts of a healthy TLS 1.2/1.3
//! endpoint whose leaf covers the SNI (and a light-probe signature equal for every replica). With
//! `--real` the engine's probes dial them (inside the bench's network namespace). Everything else — informers, triggers, the shared prober, status writes,
//! metrics — is the real operator against the real apiserver.
//!
//! Usage (benches/controller-scale.sh runs all of it):
//! `scale_bench setup --namespaces 100 --services 100`, then
//! `scale_bench run --namespaces 100 --services 100 [--pid apiserver=PID] [-- OPERATOR FLAGS]`.
//! A `harness = false` bench target: `cargo bench --profile dev --bench scale_bench -- memory …`
//! runs one command; run by `cargo test --all-targets` or a bare `cargo bench` it does nothing.
//!
//! This file holds the command line and its dispatch; the rooms are named after what they do:
//! [`cluster`] (the objects `setup` creates), [`fake_probe`] (the canned probe), [`controller`]
//! (`run`), [`memory`], [`resolve`] (the two modes without an apiserver) and [`measure`] (the
//! measurements every mode reports).

mod cluster;
mod controller;
mod fake_probe;
mod measure;
mod memory;
mod resolve;
mod small_audit;
#[path = "../support/mod.rs"]
mod support;

use anyhow::{Context as _, ensure};
use clap::{Parser, Subcommand};
use kube::Client;

/// Label on every object the bench creates.
const BENCH_LABEL: &str = "tlsaudit.dev/bench";
/// Name of the TlsAudit in each namespace.
const AUDIT: &str = "all";
/// Field manager of the bench's own writes.
const MANAGER: &str = "tlsaudit-scale-bench";

#[derive(Parser)]
#[command(name = "scale_bench")] // cargo's bench binary name carries a hash
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the CRD, namespaces, Services, EndpointSlices and TlsAudits.
    Setup {
        #[command(flatten)]
        shape: Shape,
        /// Create requests in flight at once.
        #[arg(long, default_value_t = 32)]
        parallel: usize,
    },
    /// Runs the operator in-process until every audit is complete, then measures.
    Run(RunArgs),
    /// No apiserver: the memory the metrics registry and the probe cache hold per endpoint.
    Memory {
        #[command(flatten)]
        shape: Shape,
    },
    /// No apiserver: CPU time of resolving one audit's targets (`targets::service_targets`) in
    /// one namespace of `--services` Services, each with one EndpointSlice.
    Resolve {
        #[command(flatten)]
        shape: Shape,
    },
}

#[derive(clap::Args, Clone, Copy)]
struct Shape {
    /// Namespaces (one TlsAudit each).
    #[arg(long, default_value_t = 100)]
    namespaces: u32,
    /// Services per namespace.
    #[arg(long, default_value_t = 100)]
    services: u32,
    /// Ready addresses per Service (one EndpointSlice).
    #[arg(long, default_value_t = 5)]
    endpoints: u32,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    shape: Shape,
    /// Simulated wall time of one probe (full or light).
    #[arg(long, default_value_t = 20)]
    probe_delay_ms: u64,
    /// Probe for real with the engine's probes (the addresses must answer: run inside the
    /// network namespace of `benches/controller-scale.sh --real`).
    #[arg(long)]
    real: bool,
    /// Create a 5-endpoint audit in its own namespace once this percentage of the big sweep's
    /// endpoints were probed, and time its first status (0: none).
    #[arg(long, default_value_t = 20)]
    small_audit_at_percent: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_s: u64,
    /// Another process to account (CPU, RSS): NAME=PID, e.g. kube-apiserver=1234 (repeatable).
    #[arg(long = "pid")]
    pids: Vec<String>,
    /// Flags passed to the operator after the bench's own (`--leader-election off
    /// --metrics-addr 127.0.0.1:0`), e.g. `-- --status-max-endpoints 100`.
    #[arg(last = true)]
    operator: Vec<String>,
}

impl Shape {
    fn namespace(i: u32) -> String {
        format!("scale-{i:04}")
    }

    fn service(j: u32) -> String {
        format!("svc-{j:04}")
    }

    fn per_audit(self) -> u32 {
        self.services * self.endpoints
    }

    fn total(self) -> u64 {
        u64::from(self.namespaces) * u64::from(self.per_audit())
    }

    /// A distinct fake Pod address in 198.18.0.0/15 (RFC 2544's benchmarking range, local to the
    /// network namespace of `--real`) for endpoint `k` of Service `j` in namespace `i`; at most
    /// 131,071 addresses.
    fn address(self, i: u32, j: u32, k: u32) -> String {
        let index = (i * self.services + j) * self.endpoints + k + 1;
        let [_, high, mid, low] = index.to_be_bytes();
        format!("198.{}.{mid}.{low}", 18 + high)
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let Some(args) = support::driver_args() else {
        eprintln!(
            "scale_bench: nothing to do under `cargo test` or a bare `cargo bench`; \
             benches/controller-scale.sh runs it"
        );
        return Ok(());
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Setup { shape, parallel } => {
            cluster::setup(&loopback_client().await?, shape, parallel).await
        }
        Command::Run(args) => controller::run(&loopback_client().await?, &args).await,
        Command::Memory { shape } => memory::memory_breakdown(shape).await,
        Command::Resolve { shape } => resolve::resolve(shape),
    }
}

/// A client for KUBECONFIG, refused unless it points at a loopback apiserver: the bench creates
/// tens of thousands of objects and must never do so in a cluster nobody chose.
async fn loopback_client() -> anyhow::Result<Client> {
    let path = std::env::var("KUBECONFIG").context(
        "KUBECONFIG is not set; run: scripts/control-plane.sh start && eval \"$(scripts/control-plane.sh env)\"",
    )?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&path)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let host = config.cluster_url.host().unwrap_or_default().to_owned();
    ensure!(
        host == "127.0.0.1" || host == "localhost" || host == "[::1]",
        "refusing to run against {}: the bench only talks to a loopback test control plane",
        config.cluster_url
    );
    Ok(Client::try_from(config)?)
}
