//! The operator at scale (design §7): N namespaces × M Services, each Service with one
//! EndpointSlice of E ready addresses, and one TlsAudit per namespace that selects every Service
//! with `perEndpoint: true`. Input: a loopback kube-apiserver (scripts/control-plane.sh; the bench
//! refuses any other) and the shape flags. Output: timings, memory, CPU, API-call counts, status
//! size and metric-series counts as JSON on stdout (progress on stderr).
//!
//! The addresses (10.x.y.z) are never dialled: the operator runs in-process with a probe function
//! that waits `--probe-delay-ms` and returns canned facts of a healthy TLS 1.2/1.3 endpoint whose
//! leaf covers the SNI. Everything else — informers, triggers, the shared prober, status writes,
//! metrics — is the real operator against the real apiserver.
//!
//! Usage (benches/controller-scale.sh runs all of it):
//! `scale_bench setup --namespaces 100 --services 100`, then
//! `scale_bench run --namespaces 100 --services 100 [--pid apiserver=PID] [-- OPERATOR FLAGS]`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use clap::{Parser, Subcommand};
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tlsaudit::controller::probes::ProbeFn;
use tlsaudit::controller::{ControllerArgs, Operator};
use tlsaudit::crd::{AUDIT_NOW_ANNOTATION, TlsAudit, TlsAuditStatus};
use tlsaudit::facts::{
    AlpnFacts, CertFacts, Facts, FeatureFacts, Negotiated, SniFacts, SuiteFacts, TlsVersion,
    TrustFacts, VersionSuites,
};
use tlsaudit::probe::Target;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Label on every object the bench creates.
const BENCH_LABEL: &str = "tlsaudit.dev/bench";
/// Name of the TlsAudit in each namespace.
const AUDIT: &str = "all";
/// Field manager of the bench's own writes.
const MANAGER: &str = "tlsaudit-scale-bench";

#[derive(Parser)]
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
    /// Simulated wall time of one probe.
    #[arg(long, default_value_t = 20)]
    probe_delay_ms: u64,
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

#[derive(Parser)]
struct OperatorFlags {
    #[command(flatten)]
    args: ControllerArgs,
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

    /// A distinct fake Pod address 10.a.b.c for endpoint `k` of Service `j` in namespace `i`.
    fn address(self, i: u32, j: u32, k: u32) -> String {
        let index = (i * self.services + j) * self.endpoints + k + 1;
        let [_, high, mid, low] = index.to_be_bytes();
        format!("10.{high}.{mid}.{low}")
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Setup { shape, parallel } => {
            setup(&loopback_client().await?, shape, parallel).await
        }
        Command::Run(args) => run(&loopback_client().await?, &args).await,
        Command::Memory { shape } => memory_breakdown(shape).await,
        Command::Resolve { shape } => resolve(shape),
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

// --- setup -----------------------------------------------------------------------------------------

fn labels() -> BTreeMap<String, String> {
    [(BENCH_LABEL.to_owned(), "scale".to_owned())].into()
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

fn service(name: &str) -> Service {
    Service {
        metadata: meta(name),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("https".into()),
                port: 443,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn slice(service: &str, addresses: Vec<String>) -> EndpointSlice {
    let mut metadata = meta(&format!("{service}-1"));
    if let Some(l) = metadata.labels.as_mut() {
        l.insert("kubernetes.io/service-name".into(), service.into());
    }
    EndpointSlice {
        metadata,
        address_type: "IPv4".into(),
        endpoints: Some(addresses.into_iter().map(endpoint).collect()),
        ports: Some(vec![EndpointPort {
            name: Some("https".into()),
            port: Some(8443),
            protocol: Some("TCP".into()),
            ..EndpointPort::default()
        }]),
    }
}

fn endpoint(address: String) -> Endpoint {
    Endpoint {
        addresses: vec![address],
        conditions: Some(EndpointConditions {
            ready: Some(true),
            ..EndpointConditions::default()
        }),
        ..Endpoint::default()
    }
}

fn audit() -> anyhow::Result<TlsAudit> {
    // clusterCA off: the test control plane has no controller-manager to publish kube-root-ca.crt.
    let spec = json!({
        "services": {"perEndpoint": true},
        "trust": {"systemRoots": true, "clusterCA": false}
    });
    let mut audit = TlsAudit::new(AUDIT, serde_json::from_value(spec)?);
    audit.metadata.labels = Some(labels());
    Ok(audit)
}

/// Creates `obj`; an existing one counts as created (setup can be re-run).
async fn create<K>(api: Api<K>, obj: K) -> anyhow::Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("create {}", obj.name_any())),
    }
}

async fn install_crd(client: &Client) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = tlsaudit::crd::crd()?;
    let name = crd.name_any();
    crds.patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(&crd))
        .await?;
    let established = kube::runtime::wait::conditions::is_crd_established();
    tokio::time::timeout(
        Duration::from_secs(30),
        kube::runtime::wait::await_condition(crds, &name, established),
    )
    .await
    .context("CRD not established within 30 s")??;
    Ok(())
}

async fn setup(client: &Client, shape: Shape, parallel: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    install_crd(client).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    futures::stream::iter((0..shape.namespaces).map(|i| {
        create(
            namespaces.clone(),
            Namespace {
                metadata: meta(&Shape::namespace(i)),
                ..Namespace::default()
            },
        )
    }))
    .buffer_unordered(parallel)
    .try_collect::<()>()
    .await?;
    let after_namespaces = started.elapsed();

    let services = (0..shape.namespaces).flat_map(|i| {
        (0..shape.services).flat_map(move |j| {
            let ns = Shape::namespace(i);
            let name = Shape::service(j);
            let addresses = (0..shape.endpoints)
                .map(|k| shape.address(i, j, k))
                .collect();
            [
                create(Api::namespaced(client.clone(), &ns), service(&name)).boxed(),
                create(
                    Api::namespaced(client.clone(), &ns),
                    slice(&name, addresses),
                )
                .boxed(),
            ]
        })
    });
    let mut done = 0u64;
    let objects = u64::from(shape.namespaces) * u64::from(shape.services) * 2;
    let mut stream = futures::stream::iter(services).buffer_unordered(parallel);
    while let Some(result) = stream.next().await {
        result?;
        done += 1;
        if done.is_multiple_of(2000) {
            eprintln!(
                "setup: {done}/{objects} Services+EndpointSlices after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let after_services = started.elapsed();
    let audit = audit()?;
    futures::stream::iter((0..shape.namespaces).map(|i| {
        create(
            Api::namespaced(client.clone(), &Shape::namespace(i)),
            audit.clone(),
        )
    }))
    .buffer_unordered(parallel)
    .try_collect::<()>()
    .await?;
    let report = json!({
        "phase": "setup",
        "namespaces": shape.namespaces,
        "services": shape.namespaces * shape.services,
        "endpoint_slices": shape.namespaces * shape.services,
        "endpoints": shape.total(),
        "audits": shape.namespaces,
        "parallel_requests": parallel,
        "namespaces_s": secs(after_namespaces),
        "services_and_slices_s": secs(after_services.saturating_sub(after_namespaces)),
        "total_s": secs(started.elapsed()),
        "objects_per_s": f64_of(objects) / after_services.saturating_sub(after_namespaces).as_secs_f64(),
        "loadavg": loadavg(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

// --- the fake probe ------------------------------------------------------------------------------

/// Probes made, and when the last one finished (ms since the bench started).
#[derive(Default)]
struct ProbeCount {
    calls: AtomicU64,
    last_ms: AtomicU64,
}

fn cert(
    (subject, issuer): (&str, &str),
    sans: Vec<String>,
    sha: String,
    days: (i64, i64),
    is_ca: bool,
) -> CertFacts {
    let now = jiff::Timestamp::now().as_second();
    let (before, after) = (now + days.0 * 86_400, now + days.1 * 86_400);
    let rfc = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    CertFacts {
        subject: subject.to_owned(),
        issuer: issuer.to_owned(),
        common_name: sans.first().cloned(),
        sans,
        serial: sha[..16].to_owned(),
        sha256: sha,
        not_before: rfc(before),
        not_after: rfc(after),
        not_before_unix: before,
        not_after_unix: after,
        key_type: "EC".into(),
        key_bits: 256,
        curve: Some("P-256".into()),
        signature: "ecdsa-with-SHA256".into(),
        is_ca,
        self_signed: false,
    }
}

fn suites(version: TlsVersion, list: &[(u16, &str)]) -> VersionSuites {
    VersionSuites {
        version,
        server_order: Some(true),
        incomplete: false,
        suites: list
            .iter()
            .map(|(id, name)| SuiteFacts {
                id: *id,
                name: (*name).to_owned(),
            })
            .collect(),
    }
}

/// What a probe of a healthy modern endpoint serving a leaf for `server_name` observes. Replicas
/// of one Service share the leaf (same SNI → same fingerprint), so no drift is reported.
fn healthy(server_name: &str, elapsed_ms: u64) -> Facts {
    use sha2::Digest as _;
    let sha =
        sha2::Sha256::digest(server_name.as_bytes())
            .iter()
            .fold(String::new(), |mut hex, b| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{b:02x}");
                hex
            });
    let ca = "CN=Bench Intermediate CA,O=tlsaudit bench";
    let mut facts = Facts {
        reachable: true,
        negotiated: Some(Negotiated {
            version: TlsVersion::Tls13,
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
            group: Some("X25519".into()),
            alpn: Some("h2".into()),
        }),
        ciphers: vec![
            suites(
                TlsVersion::Tls12,
                &[
                    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
                    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
                    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
                ],
            ),
            suites(
                TlsVersion::Tls13,
                &[
                    (0x1301, "TLS_AES_128_GCM_SHA256"),
                    (0x1302, "TLS_AES_256_GCM_SHA384"),
                    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
                ],
            ),
        ],
        chain: vec![
            cert(
                (&format!("CN={server_name}"), ca),
                vec![server_name.to_owned()],
                sha,
                (-30, 60),
                false,
            ),
            cert(
                (ca, "CN=Bench Root CA"),
                Vec::new(),
                "b1".repeat(32),
                (-365, 3 * 365),
                true,
            ),
        ],
        trust: TrustFacts {
            verified: true,
            path_found: Some(true),
            ordered: Some(true),
            ..TrustFacts::default()
        },
        sni: SniFacts {
            handshake_without_sni: Some(true),
            default_cert_matches: Some(true),
            ..SniFacts::default()
        },
        alpn: AlpnFacts {
            selected: Some("h2".into()),
            h2: Some(true),
        },
        features: FeatureFacts {
            secure_renegotiation: Some(true),
            compression: Some(false),
            heartbeat: Some(false),
            hsts_max_age: Some(31_536_000),
            http: Some(true),
            ..FeatureFacts::default()
        },
        connections: 9,
        duration_ms: elapsed_ms,
        ..Facts::default()
    };
    for v in TlsVersion::ALL {
        facts.protocols.set(v, v >= TlsVersion::Tls12);
    }
    facts
}

fn fake_probe(delay: Duration, count: Arc<ProbeCount>, epoch: Instant) -> ProbeFn {
    Arc::new(move |target: Target, _options| {
        let count = Arc::clone(&count);
        async move {
            tokio::time::sleep(delay).await;
            let name = target.server_name.as_deref().unwrap_or(&target.host);
            let facts = healthy(name, u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
            count.calls.fetch_add(1, Ordering::SeqCst);
            count.last_ms.store(
                u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX),
                Ordering::SeqCst,
            );
            facts
        }
        .boxed()
    })
}

// --- measurements --------------------------------------------------------------------------------

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 100.0).round() / 100.0
}

#[expect(clippy::cast_precision_loss, reason = "counts far below 2^53")]
fn f64_of(n: u64) -> f64 {
    n as f64
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `VmHWM` and `VmRSS` of a process in MiB.
fn memory(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0.0, |kb| (f64_of(kb) / 1024.0 * 10.0).round() / 10.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// User + system CPU seconds of a process (USER_HZ is 100 on Linux).
fn cpu(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    f64_of(tick(11) + tick(12)) / 100.0
}

/// `apiserver_request_total` summed by `verb resource[/subresource]`.
async fn api_requests(client: &Client) -> anyhow::Result<BTreeMap<String, u64>> {
    let request = hyper::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let (resource, sub) = (label("resource"), label("subresource"));
        if resource.is_empty() {
            continue;
        }
        let key = if sub.is_empty() {
            format!("{} {resource}", label("verb"))
        } else {
            format!("{} {resource}/{sub}", label("verb"))
        };
        let n = value.trim().parse::<f64>().unwrap_or(0.0);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a counter"
        )]
        let n = n as u64;
        *out.entry(key).or_default() += n;
    }
    Ok(out)
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Every bench audit's status, listed in pages so that one list stays small.
async fn statuses(
    client: &Client,
    lists: &AtomicU64,
) -> anyhow::Result<BTreeMap<String, Option<TlsAuditStatus>>> {
    let api: Api<TlsAudit> = Api::all(client.clone());
    let mut out = BTreeMap::new();
    let mut params = ListParams::default()
        .labels(&format!("{BENCH_LABEL}=scale"))
        .limit(20);
    loop {
        lists.fetch_add(1, Ordering::SeqCst);
        let page = api.list(&params).await?;
        for a in page.items {
            out.insert(a.namespace().unwrap_or_default(), a.status);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(out),
        }
    }
}

fn complete(status: Option<&TlsAuditStatus>, endpoints: u32) -> bool {
    status.is_some_and(|s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == endpoints)
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn last_audit(status: Option<&TlsAuditStatus>) -> Option<jiff::Timestamp> {
    status.and_then(|s| s.last_audit_time.as_ref()).map(|t| t.0)
}

/// One /metrics scrape of the operator, streamed: bytes, series per metric name, seconds.
async fn scrape(addr: std::net::SocketAddr) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut lines = tokio::io::BufReader::with_capacity(1 << 16, stream).lines();
    let (mut bytes, mut series) = (0u64, 0u64);
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    let mut body = false;
    while let Some(line) = lines.next_line().await? {
        bytes += line.len() as u64 + 1;
        if !body {
            body = line.is_empty();
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        series += 1;
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        *by_name.entry(name.to_owned()).or_default() += 1;
    }
    Ok(json!({
        "seconds": secs(started.elapsed()),
        "bytes": bytes,
        "series": series,
        "series_by_metric": by_name,
    }))
}

// --- run -----------------------------------------------------------------------------------------

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
            "probes": self.probes.calls.load(Ordering::SeqCst),
            "bench_vm_hwm_mib": hwm,
            "bench_vm_rss_mib": rss,
            "bench_cpu_s": cpu("self"),
            "loadavg": loadavg(),
            "other_processes": processes,
        })
    }

    fn probes(&self) -> u64 {
        self.probes.calls.load(Ordering::SeqCst)
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

async fn run(client: &Client, args: &RunArgs) -> anyhow::Result<()> {
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
    let sample_facts = tlsaudit::report::EndpointReport::assemble(
        &Target {
            host: "svc-0000.scale-0000.svc".into(),
            port: 443,
            address: None,
            server_name: Some("svc-0000.scale-0000.svc".into()),
        },
        healthy("svc-0000.scale-0000.svc", args.probe_delay_ms),
        &tlsaudit::policy::Policy::default(),
        jiff::Timestamp::now(),
    );
    let codes: Vec<String> = sample_facts
        .findings
        .iter()
        .map(|f| format!("{} ({:?})", f.code.as_str(), f.severity))
        .collect();
    let canned = json!({"grade": sample_facts.grade.as_str(), "findings": codes});
    eprintln!("canned probe result: {canned}");

    let api_before = api_requests(client).await?;
    let start = bench.sample();
    let started = Instant::now();
    let delay = Duration::from_millis(args.probe_delay_ms);
    let operator = Operator::start_with_probe(
        &operator_args,
        client.clone(),
        Some(fake_probe(delay, Arc::clone(&bench.probes), bench.epoch)),
    )
    .await?;
    let timeout = Duration::from_secs(args.timeout_s);
    let initial = initial_cycle(&bench, started, timeout).await?;
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

    let report = json!({
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
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
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
    // Every endpoint has its own address, so no audit can be complete before all were probed; the
    // apiserver is listed only from then on, keeping the bench's own load off the measurement.
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
        "endpoints_in_status_summary": expected,
        "other_audits_redone": others_redone,
        "api_requests": delta(&api_after, &api_before),
    }))
}

/// The size of one audit as the apiserver returns it, and of its status alone.
async fn status_size(client: &Client, shape: Shape) -> anyhow::Result<serde_json::Value> {
    let ns = Shape::namespace(shape.namespaces.saturating_sub(1));
    let path = format!("{}/{AUDIT}", TlsAudit::url_path(&(), Some(&ns)));
    let raw = client
        .request_text(hyper::Request::get(path).body(Vec::new())?)
        .await?;
    let mut value: serde_json::Value = serde_json::from_str(&raw)?;
    let status = serde_json::to_vec(&value["status"])?.len();
    let listed = value["status"]["endpoints"].as_array().map_or(0, Vec::len);
    let omitted = value["status"]["omittedEndpoints"].clone();
    if let Some(meta) = value["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    Ok(json!({
        "audit_json_bytes": raw.len(),
        "audit_json_bytes_without_managed_fields": serde_json::to_vec(&value)?.len(),
        "status_json_bytes": status,
        "endpoints_listed": listed,
        "omitted_endpoints": omitted,
    }))
}

// --- memory breakdown ----------------------------------------------------------------------------

/// The endpoint reports one audit of namespace `i` produces (healthy, as in `run`).
fn reports(shape: Shape, i: u32) -> Vec<tlsaudit::controller::status::Audited> {
    let ns = Shape::namespace(i);
    let policy = tlsaudit::policy::Policy::default();
    let now = jiff::Timestamp::now();
    (0..shape.services)
        .flat_map(|j| (0..shape.endpoints).map(move |k| (j, k)))
        .map(|(j, k)| {
            let host = format!("{}.{ns}.svc", Shape::service(j));
            let target = Target {
                host: host.clone(),
                port: 443,
                address: format!("{}:8443", shape.address(i, j, k)).parse().ok(),
                server_name: Some(host.clone()),
            };
            tlsaudit::controller::status::Audited {
                target: format!("service/{}", Shape::service(j)),
                report: tlsaudit::report::EndpointReport::assemble(
                    &target,
                    healthy(&host, 20),
                    &policy,
                    now,
                ),
            }
        })
        .collect()
}

/// Fills the operator's probe cache and metrics registry as `run` does, measuring RSS after each
/// (the cache first: memory freed by the metrics render would otherwise be reused unseen).
async fn memory_breakdown(shape: Shape) -> anyhow::Result<()> {
    use tlsaudit::controller::probes::{Fingerprint, ProbeKey, Prober};
    use tlsaudit::metrics::{AuditFacts, Metrics, audit_series};
    let rss = || memory("self").1;
    let counter = Arc::new(ProbeCount::default());
    let prober = Prober::new(
        fake_probe(Duration::ZERO, Arc::clone(&counter), Instant::now()),
        16,
        Duration::from_secs(30),
        None,
    );
    let before_cache = rss();
    let options = tlsaudit::probe::ProbeOptions::default();
    for i in 0..shape.namespaces {
        for j in 0..shape.services {
            for k in 0..shape.endpoints {
                let host = format!("{}.{}.svc", Shape::service(j), Shape::namespace(i));
                let target = Target {
                    host: host.clone(),
                    port: 443,
                    address: format!("{}:8443", shape.address(i, j, k)).parse().ok(),
                    server_name: Some(host),
                };
                let key = ProbeKey::new(&target, None, Fingerprint::default());
                prober.facts(key, &target, &options).await;
            }
        }
    }
    let after_cache = rss();
    let base = rss();
    let metrics = Metrics::new()?;
    let mut series = 0usize;
    for i in 0..shape.namespaces {
        let audited = reports(shape, i);
        let ns = Shape::namespace(i);
        let facts = AuditFacts {
            namespace: &ns,
            audit: AUDIT,
            now: jiff::Timestamp::now(),
            interval: Duration::from_secs(3600),
            client_certificate: None,
            // The operator's default `--metrics-max-endpoints`.
            max_endpoints: 100,
        };
        let produced = audit_series(&facts, &audited);
        series += produced.len();
        metrics.set_audit(&ns, AUDIT, &produced);
    }
    let after_metrics = rss();
    let rendered = Instant::now();
    let text = metrics.render()?;
    let render_s = secs(rendered.elapsed());
    let (text_bytes, peak_render) = (text.len(), memory("self").0);
    drop(text);

    let endpoints = f64_of(shape.total());
    let per_endpoint_kib = |mib: f64| (mib * 1024.0 / endpoints * 10.0).round() / 10.0;
    let report = json!({
        "phase": "memory",
        "endpoints": shape.total(),
        "metric_series": series,
        "metrics_registry_mib": after_metrics - base,
        "metrics_registry_kib_per_endpoint": per_endpoint_kib(after_metrics - base),
        "render_s": render_s,
        "render_text_bytes": text_bytes,
        "vm_hwm_during_render_mib": peak_render,
        "probe_cache_mib": after_cache - before_cache,
        "probe_cache_kib_per_endpoint": per_endpoint_kib(after_cache - before_cache),
        "probes": counter.calls.load(Ordering::SeqCst),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

// --- target resolution ---------------------------------------------------------------------------

/// Times `service_targets` for one audit selecting every Service of one namespace.
fn resolve(shape: Shape) -> anyhow::Result<()> {
    let ns = Shape::namespace(0);
    let in_ns = |mut meta: ObjectMeta| {
        meta.namespace = Some(ns.clone());
        meta
    };
    let mut services = Vec::new();
    let mut slices = Vec::new();
    for j in 0..shape.services {
        let name = Shape::service(j);
        let mut svc = service(&name);
        svc.metadata = in_ns(svc.metadata);
        services.push(Arc::new(svc));
        let addresses = (0..shape.endpoints)
            .map(|k| shape.address(0, j, k))
            .collect();
        let mut sl = slice(&name, addresses);
        sl.metadata = in_ns(sl.metadata);
        slices.push(Arc::new(sl));
    }
    let spec = audit()?.spec;
    let started = Instant::now();
    let planned = tlsaudit::controller::targets::service_targets(&ns, &spec, &services, &slices)?;
    let elapsed = started.elapsed();
    ensure!(
        planned.len() == shape.per_audit() as usize,
        "resolved {} endpoints, expected {}",
        planned.len(),
        shape.per_audit()
    );
    let report = json!({
        "phase": "resolve",
        "services_in_namespace": shape.services,
        "endpoints": planned.len(),
        "seconds": elapsed.as_secs_f64(),
    });
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
