//! The `run` mode: the real operator in-process against the apiserver, with the fake probes (or,
//! with `--real`, the engine's, against the servers of the bench's network namespace). Times
//! the initial cycle until every audit is complete, then an audit-now and an added endpoint, and
//! counts API calls, memory, CPU, status size and metric series. Input: [`RunArgs`] and a loopback
//! client holding what `setup` created. Output: one JSON report on stdout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use clap::Parser;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tlsaudit::controller::{ControllerArgs, Operator};
use tlsaudit::crd::{AUDIT_NOW_ANNOTATION, TlsAudit, TlsAuditStatus};
use tlsaudit::probe::Target;

use crate::cluster::endpoint;
use crate::fake_probe::{ProbeCount, healthy, probes};
use crate::measure::{
    api_requests, complete, cpu, delta, last_audit, loadavg, memory, scrape, secs, status_size,
    statuses,
};
use crate::{AUDIT, RunArgs, Shape};

/// The operator's own command line, parsed as its binary would.
#[derive(Parser)]
struct OperatorFlags {
    #[command(flatten)]
    args: ControllerArgs,
}

/// One `run`: the client, the shape and what is counted along the way.
struct Bench {
    client: Client,
    shape: Shape,
    epoch: Instant,
    probes: Arc<ProbeCount>,
    lists: AtomicU64,
    pids: Vec<(String, String)>,
}

impl Bench {
    fn sample(&self) -> serde_json::Value {
        let (hwm, rss) = memory("self");
        let mut processes = serde_json::Map::new();
        for (name, pid) in &self.pids {
            let (hwm, rss) = memory(pid);
            processes.insert(
                name.clone(),
                json!({"cpu_s": cpu(pid), "vm_hwm_mib": hwm, "vm_rss_mib": rss}),
            );
        }
        json!({
            "t_s": secs(self.epoch.elapsed()),
            "probes": self.probes(),
            "probes_full": self.probes.full.load(Ordering::SeqCst),
            "probes_light": self.probes.light.load(Ordering::SeqCst),
            "connections": self.probes.connections.load(Ordering::SeqCst),
            "bench_vm_hwm_mib": hwm,
            "bench_vm_rss_mib": rss,
            "bench_cpu_s": cpu("self"),
            "loadavg": loadavg(),
            "other_processes": processes,
        })
    }

    fn probes(&self) -> u64 {
        self.probes.total()
    }

    /// Waits until `done` holds for the statuses, polling every second.
    async fn wait_statuses(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&BTreeMap<String, Option<TlsAuditStatus>>) -> bool,
    ) -> anyhow::Result<BTreeMap<String, Option<TlsAuditStatus>>> {
        let deadline = Instant::now() + timeout;
        let mut last_log = Instant::now();
        loop {
            let all = statuses(&self.client, &self.lists).await?;
            if done(&all) {
                return Ok(all);
            }
            if Instant::now() > deadline {
                bail!("{what} not reached within {timeout:?}: {}", self.sample());
            }
            if last_log.elapsed() > Duration::from_secs(10) {
                eprintln!("waiting for {what}: {}", self.sample());
                last_log = Instant::now();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The operator's flags: the bench's own, then `extra`.
fn operator_args(extra: &[String]) -> anyhow::Result<ControllerArgs> {
    let mut argv: Vec<String> = [
        "tlsaudit",
        "--leader-election",
        "off",
        "--metrics-addr",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    argv.extend(extra.iter().cloned());
    Ok(OperatorFlags::try_parse_from(argv)?.args)
}

/// Runs the operator until every audit is complete, measures, then times the two changes.
pub(crate) async fn run(client: &Client, args: &RunArgs) -> anyhow::Result<()> {
    let shape = args.shape;
    let operator_args = operator_args(&args.operator)?;
    let pids = args
        .pids
        .iter()
        .filter_map(|p| p.split_once('='))
        .map(|(n, p)| (n.to_owned(), p.to_owned()))
        .collect();
    let bench = Bench {
        client: client.clone(),
        shape,
        epoch: Instant::now(),
        probes: Arc::new(ProbeCount::default()),
        lists: AtomicU64::new(0),
        pids,
    };
    let canned = canned(args.probe_delay_ms);
    eprintln!("canned probe result: {canned}");

    let api_before = api_requests(client).await?;
    let start = bench.sample();
    let started = Instant::now();
    let delay = Duration::from_millis(args.probe_delay_ms);
    let operator = Operator::start_with_probes(
        &operator_args,
        client.clone(),
        probes(args.real, true, delay, &bench.probes, bench.epoch),
    )
    .await?;
    let timeout = Duration::from_secs(args.timeout_s);
    let small = (args.small_audit_at_percent > 0).then(|| {
        let after = shape.total() * args.small_audit_at_percent / 100;
        crate::small_audit::spawn(client.clone(), shape, Arc::clone(&bench.probes), after)
    });
    let initial = initial_cycle(&bench, started, timeout).await?;
    let small = match small {
        Some(task) => task.await??,
        None => serde_json::Value::Null,
    };
    let api_initial = api_requests(client).await?;
    let lists_initial = bench.lists.load(Ordering::SeqCst);

    let status_size = status_size(client, shape).await?;
    let before_scrape = memory("self").0;
    let metrics = scrape(operator.metrics_addr()).await?;
    let after_scrape = bench.sample();

    // Let the probe cache window pass so that the audit-now cycle really probes again.
    let ttl = operator_args.probe_cache_ttl + Duration::from_secs(2);
    let last = Duration::from_millis(bench.probes.last_ms.load(Ordering::SeqCst));
    if let Some(wait) = (last + ttl).checked_sub(bench.epoch.elapsed()) {
        eprintln!(
            "waiting {:.0} s for the probe cache window to pass",
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
    }
    let audit_now = second_cycle(&bench, Change::AuditNow).await?;
    let slice_change = second_cycle(&bench, Change::AddEndpoint).await?;
    let end = bench.sample();
    operator.stop().await?;

    let mut report = contract(args, &start, &initial, &after_scrape, &slice_change, &small);
    let rest = json!({
        "real_probes": args.real,
        "phase": "run",
        "shape": {
            "namespaces": shape.namespaces,
            "services": shape.namespaces * shape.services,
            "endpoints": shape.total(),
            "audits": shape.namespaces,
            "endpoints_per_audit": shape.per_audit(),
        },
        "probe_delay_ms": args.probe_delay_ms,
        "operator_flags": {
            "concurrency": operator_args.concurrency,
            "status_max_endpoints": operator_args.status_max_endpoints,
            "probe_cache_ttl_s": operator_args.probe_cache_ttl.as_secs_f64(),
            "extra": args.operator,
        },
        "canned_probe_result": canned,
        "at_start": start,
        "initial": initial,
        "api_requests_initial_cycle": delta(&api_initial, &api_before),
        "bench_own_list_requests_initial_cycle": lists_initial,
        "status_size": status_size,
        "bench_vm_hwm_before_scrape_mib": before_scrape,
        "metrics_scrape": metrics,
        "after_scrape": after_scrape,
        "audit_now_cycle": audit_now,
        "endpoint_added_cycle": slice_change,
        "at_end": end,
    });
    if let (Some(top), serde_json::Value::Object(rest)) = (report.as_object_mut(), rest) {
        top.extend(rest);
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The grade and findings of the fake probe's canned facts.
fn canned(delay_ms: u64) -> serde_json::Value {
    let sample_facts = tlsaudit::report::EndpointReport::assemble(
        &Target {
            host: "svc-0000.scale-0000.svc".into(),
            port: 443,
            address: None,
            server_name: Some("svc-0000.scale-0000.svc".into()),
            protocol: tlsaudit::probe::Protocol::Tls,
        },
        healthy("svc-0000.scale-0000.svc", delay_ms),
        &tlsaudit::policy::Policy::default(),
        jiff::Timestamp::now(),
    );
    let codes: Vec<String> = sample_facts
        .findings
        .iter()
        .map(|f| format!("{} ({:?})", f.code.as_str(), f.severity))
        .collect();
    json!({"grade": sample_facts.grade.as_str(), "findings": codes})
}

/// The numbers of issue 13's contract, first in the report (`null`: not measured by this bench).
fn contract(
    args: &RunArgs,
    start: &serde_json::Value,
    initial: &serde_json::Value,
    after_scrape: &serde_json::Value,
    slice_change: &serde_json::Value,
    small: &serde_json::Value,
) -> serde_json::Value {
    let endpoints = args.shape.total();
    let done = &initial["at_completion"];
    let sweep_cpu =
        done["bench_cpu_s"].as_f64().unwrap_or(0.0) - start["bench_cpu_s"].as_f64().unwrap_or(0.0);
    let per_endpoint = |v: f64| v / crate::measure::f64_of(endpoints);
    let connections = done["connections"].as_u64();
    let real = |v: serde_json::Value| {
        if args.real {
            v
        } else {
            serde_json::Value::Null
        }
    };
    json!({
        "endpoints": endpoints,
        "sweep_seconds": initial["all_statuses_complete_s"],
        "peak_rss_mib": after_scrape["bench_vm_hwm_mib"],
        "probes_full": done["probes_full"],
        "probes_light": done["probes_light"],
        "connections": real(json!(connections)),
        "connections_per_endpoint": real(json!(connections.map(|c| per_endpoint(crate::measure::f64_of(c))))),
        "operator_cpu_ms_per_endpoint": per_endpoint(sweep_cpu) * 1000.0,
        "one_address_change_probes": slice_change["probes"],
        "small_audit_first_status_seconds": small["first_status_s"],
        "small_audit": small,
    })
}

/// From operator start until every audit lists all its endpoints with Ready=True.
async fn initial_cycle(
    bench: &Bench,
    started: Instant,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let expected = bench.shape.total();
    let mut samples = Vec::new();
    let mut last = Instant::now();
    // Every endpoint has its own address and gets at least one probe (full or light), so no audit
    // can be complete before that many were made; the apiserver is listed only from then on,
    // keeping the bench's own load off most of the measurement.
    while bench.probes() < expected {
        ensure!(
            started.elapsed() < timeout,
            "only {} of {expected} probes after {timeout:?}",
            bench.probes()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        if last.elapsed() >= Duration::from_secs(10) {
            let s = bench.sample();
            eprintln!("progress: {s}");
            samples.push(s);
            last = Instant::now();
        }
    }
    let probes_done = started.elapsed();
    let per_audit = bench.shape.per_audit();
    let all = bench
        .wait_statuses(timeout, "every audit complete", |all| {
            all.len() == bench.shape.namespaces as usize
                && all.values().all(|s| complete(s.as_ref(), per_audit))
        })
        .await?;
    let complete_after = started.elapsed();
    let done = bench.sample();
    // Settle: reconciles triggered during the initial sync may still re-run and probe again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let times: Vec<jiff::Timestamp> = all
        .values()
        .filter_map(|s| last_audit(s.as_ref()))
        .collect();
    let spread = match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) => b.duration_since(*a).as_secs(),
        _ => 0,
    };
    Ok(json!({
        "all_probes_done_s": secs(probes_done),
        "all_statuses_complete_s": secs(complete_after),
        "first_to_last_audit_completion_s": spread,
        "probes_expected": expected,
        "probes_at_completion": done["probes"],
        "probes_after_5s_settle": bench.probes(),
        "at_completion": done,
        "progress": samples,
    }))
}

#[derive(Clone, Copy, Debug)]
enum Change {
    /// Annotate audit 0 with audit-now.
    AuditNow,
    /// Add a ready address to the EndpointSlice of Service 0 in namespace 0.
    AddEndpoint,
}

/// Changes one thing and measures how fast its audit (and only it) is re-audited.
async fn second_cycle(bench: &Bench, change: Change) -> anyhow::Result<serde_json::Value> {
    let client = &bench.client;
    let shape = bench.shape;
    let ns = Shape::namespace(0);
    let before = statuses(client, &bench.lists).await?;
    let api_before = api_requests(client).await?;
    let probes_before = bench.probes();
    let full_before = bench.probes.full.load(Ordering::SeqCst);
    let previous = last_audit(before.get(&ns).and_then(Option::as_ref));
    let mut expected = before
        .get(&ns)
        .and_then(|s| s.as_ref()?.summary.as_ref().map(|x| x.endpoints))
        .unwrap_or(shape.per_audit());
    // lastAuditTime has one-second resolution: start the change in a fresh second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let changed = Instant::now();
    match change {
        Change::AuditNow => {
            let patch = json!({"metadata": {"annotations": {AUDIT_NOW_ANNOTATION: bench.epoch.elapsed().as_nanos().to_string()}}});
            Api::<TlsAudit>::namespaced(client.clone(), &ns)
                .patch(AUDIT, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        Change::AddEndpoint => {
            let name = format!("{}-1", Shape::service(0));
            let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
            let mut slice = api.get(&name).await?;
            let extra = Shape {
                namespaces: shape.namespaces + 1,
                ..shape
            }
            .address(shape.namespaces, 0, 0);
            slice
                .endpoints
                .get_or_insert_with(Vec::new)
                .push(endpoint(extra));
            api.replace(&name, &PostParams::default(), &slice).await?;
            expected += 1;
        }
    }
    let api: Api<TlsAudit> = Api::namespaced(client.clone(), &ns);
    let deadline = Instant::now() + Duration::from_secs(600);
    let latency = loop {
        let audit = api.get(AUDIT).await?;
        let status = audit.status.as_ref();
        if last_audit(status) != previous && complete(status, expected) {
            break changed.elapsed();
        }
        ensure!(
            Instant::now() < deadline,
            "{change:?}: audit not redone within 600 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give any wrongly triggered audit time to show.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = statuses(client, &bench.lists).await?;
    let others_redone = after
        .iter()
        .filter(|(k, s)| {
            **k != ns
                && last_audit(s.as_ref()) != last_audit(before.get(*k).and_then(Option::as_ref))
        })
        .count();
    let api_after = api_requests(client).await?;
    Ok(json!({
        "change": format!("{change:?}"),
        "seconds_until_status_updated": secs(latency),
        "probes": bench.probes() - probes_before,
        "probes_full": bench.probes.full.load(Ordering::SeqCst) - full_before,
        "endpoints_in_status_summary": expected,
        "other_audits_redone": others_redone,
        "api_requests": delta(&api_after, &api_before),
    }))
}
