//! Concurrency benchmark: scans many endpoints with the library's probe engine from one process
//! and a bounded pool, the way the operator audits a namespace. Input: `HOST:PORT` targets, a
//! repeat count and a pool size. Output: one JSON line on stdout with scans per second, latency
//! percentiles, connections, incomplete scans and the process's peak RSS (VmHWM).
//!
//! Each scan runs as its own tokio task (spread over the runtime's worker threads);
//! `--single-task` instead polls every scan in flight from one task, as a plain
//! `buffer_unordered` over `probe()` futures does.
//!
//! ```sh
//! cargo bench --bench scan_many -- --sni bench.test --ca ca.pem --pool 50 --repeat 4 127.0.0.1:9001 …
//! ```
//! Used by `benches/concurrency.sh`; loopback targets only. A `harness = false` bench target: run
//! by `cargo test --all-targets` or a bare `cargo bench` it does nothing.

mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use tlsaudit::policy::{Policy, Profile};
use tlsaudit::probe::{ProbeOptions, Target};
use tlsaudit::report::EndpointReport;

/// Scans every target `--repeat` times with at most `--pool` scans in flight.
#[derive(Debug, Parser)]
#[command(name = "scan_many")] // cargo's bench binary name carries a hash
struct Args {
    /// Targets, `HOST:PORT`.
    #[arg(required = true)]
    targets: Vec<String>,
    /// SNI and verification name sent to every target.
    #[arg(long)]
    sni: Option<String>,
    /// Trust anchors (PEM); the built-in web PKI roots are not used.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Scans in flight at once.
    #[arg(long, default_value_t = 16)]
    pool: usize,
    /// How many times each target is scanned.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Poll every scan from one task instead of spawning one task per scan.
    #[arg(long)]
    single_task: bool,
    /// Deadline for each connect and exchange, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

/// What one scan cost and what it found.
struct Sample {
    duration_ms: u64,
    connections: u32,
    /// Accepted (version, suite) pairs.
    suites: usize,
    /// `GET /` was answered (HSTS could be judged).
    http: bool,
    complete: bool,
    /// Why the scan is incomplete: the failure, or that no chain was seen.
    problem: Option<String>,
}

fn main() -> ExitCode {
    let Some(args) = support::driver_args() else {
        eprintln!(
            "scan_many: nothing to do under `cargo test` or a bare `cargo bench`; \
             benches/concurrency.sh runs it"
        );
        return ExitCode::SUCCESS;
    };
    let args = Args::parse_from(args);
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // RUST_LOG=tlsaudit=debug shows why a probe stopped early under load.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("scan_many: failed to start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("scan_many: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<String, String> {
    let targets = args
        .targets
        .iter()
        .map(|text| target(text, args.sni.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let bundles = match &args.ca {
        Some(path) => vec![std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?],
        None => Vec::new(),
    };
    let bundle_refs: Vec<&[u8]> = bundles.iter().map(Vec::as_slice).collect();
    let roots = tlsaudit::cert::root_store(false, &bundle_refs).map_err(|e| e.to_string())?;
    let options = ProbeOptions {
        timeout: Duration::from_millis(args.timeout_ms),
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    };
    let policy = Policy {
        profile: Profile::Intermediate,
        ..Policy::default()
    };
    let jobs: Vec<Target> = (0..args.repeat)
        .flat_map(|_| targets.iter().cloned())
        .collect();
    let (options, policy) = (Arc::new(options), Arc::new(policy));

    let started = Instant::now();
    let pool = args.pool.max(1);
    let samples: Vec<Sample> = if args.single_task {
        futures::stream::iter(&jobs)
            .map(|target| scan(target.clone(), options.clone(), policy.clone()))
            .buffer_unordered(pool)
            .collect()
            .await
    } else {
        let spawned: Vec<Result<Sample, tokio::task::JoinError>> = futures::stream::iter(jobs)
            .map(|target| tokio::spawn(scan(target, options.clone(), policy.clone())))
            .buffer_unordered(pool)
            .collect()
            .await;
        spawned
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("a scan task failed: {e}"))?
    };
    let elapsed = started.elapsed();
    Ok(summary(args, &samples, elapsed))
}

/// One full scan as `tlsaudit scan` does it: probe, then evaluate and grade.
async fn scan(target: Target, options: Arc<ProbeOptions>, policy: Arc<Policy>) -> Sample {
    let facts = tlsaudit::probe::probe(&target, &options).await;
    let report = EndpointReport::assemble(&target, facts, &policy, jiff::Timestamp::now());
    // A scan that lost a probe to the pool's load shows as a failure or a missing chain.
    let problem = match (&report.facts.failure, report.facts.chain.is_empty()) {
        (Some(failure), _) => Some(format!("{:?}: {}", failure.kind, failure.detail)),
        (None, true) => Some("no certificate chain recorded".to_owned()),
        (None, false) => None,
    };
    Sample {
        duration_ms: report.facts.duration_ms,
        connections: report.facts.connections,
        suites: report.facts.ciphers.iter().map(|v| v.suites.len()).sum(),
        http: report.facts.features.http == Some(true),
        complete: problem.is_none(),
        problem,
    }
}

fn target(text: &str, sni: Option<&str>) -> Result<Target, String> {
    let (host, port) = tlsaudit::scan::split_target(text)?;
    let address = host
        .parse::<std::net::IpAddr>()
        .map_err(|_| format!("{text}: only IP literals are scanned (no DNS in a benchmark)"))?;
    Ok(Target {
        address: Some(std::net::SocketAddr::new(address, port)),
        server_name: sni.map(str::to_owned),
        host,
        port,
        protocol: tlsaudit::probe::Protocol::Tls,
    })
}

fn summary(args: &Args, samples: &[Sample], elapsed: Duration) -> String {
    let mut durations: Vec<u64> = samples.iter().map(|s| s.duration_ms).collect();
    durations.sort_unstable();
    let percentile = |p: usize| {
        durations
            .get((durations.len() * p / 100).min(durations.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let mut problems: Vec<&str> = samples
        .iter()
        .filter_map(|s| s.problem.as_deref())
        .collect();
    problems.sort_unstable();
    problems.dedup();
    let connections: u64 = samples.iter().map(|s| u64::from(s.connections)).sum();
    // The benchmark's endpoints are identical, so a scan that lists fewer suites than the most
    // any scan listed lost part of its enumeration.
    let most_suites = samples.iter().map(|s| s.suites).max().unwrap_or(0);
    let scans = samples.len();
    let seconds = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // Reason: counts of at most a few thousand scans.
    let per_second = scans as f64 / seconds;
    serde_json::json!({
        "targets": args.targets.len(),
        "repeat": args.repeat,
        "pool": args.pool,
        "single_task": args.single_task,
        "scans": scans,
        "incomplete": samples.iter().filter(|s| !s.complete).count(),
        "short_suite_lists": samples.iter().filter(|s| s.suites < most_suites).count(),
        "no_http_answer": samples.iter().filter(|s| !s.http).count(),
        "wall_s": (seconds * 1000.0).round() / 1000.0,
        "scans_per_s": (per_second * 10.0).round() / 10.0,
        "scan_ms_p50": percentile(50),
        "scan_ms_p95": percentile(95),
        "scan_ms_max": durations.last().copied().unwrap_or(0),
        "connections": connections,
        "peak_rss_kib": peak_rss_kib(),
        "problems": problems,
    })
    .to_string()
}

/// The process's high-water resident set (Linux `VmHWM`), in KiB; `None` elsewhere.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
