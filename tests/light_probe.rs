//! One full probe per distinct configuration (issue 13): the operator's prober against replicas
//! that are real rustls servers, each behind a relay that counts the connections it accepts. An
//! identical replica costs at most three connections and inherits the full probe's facts; a
//! replica with another certificate or another protocol set gets a full probe of its own, and
//! `backend.inconsistent` fires; every Nth cycle probes every replica fully.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use support::pki::{Hierarchy, Issued, Spec};
use support::relay::Relay;
use support::tls_server::{self, ClientAuth, Server};
use tlsaudit::controller::reconcile::judge::judge;
use tlsaudit::controller::reconcile::plan::PlannedEndpoint;
use tlsaudit::controller::reconcile::prober::{Depth, Fingerprint, Prober, engine, engine_light};
use tlsaudit::facts::Facts;
use tlsaudit::findings::Code;
use tlsaudit::metrics::Metrics;
use tlsaudit::policy::Policy;
use tlsaudit::probe::{ProbeOptions, Protocol, Target};

const NAME: &str = "web.shop.svc";
const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

/// One replica: a rustls server and the counting relay in front of it.
struct Replica {
    _server: Server,
    relay: Relay,
}

impl Replica {
    async fn start(config: ServerConfig) -> Self {
        let server = tls_server::start(config, HSTS).await;
        let relay = Relay::start(server.addr).await;
        Self {
            _server: server,
            relay,
        }
    }

    fn accepted(&self) -> usize {
        self.relay.accepted()
    }
}

fn chain(pki: &Hierarchy, leaf: &Issued) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    vec![leaf.der.clone(), pki.intermediate.der.clone()]
}

/// TLS 1.2 and 1.3 (rustls' safe defaults), h2 and http/1.1.
fn modern(pki: &Hierarchy, leaf: &Issued) -> ServerConfig {
    tls_server::config(
        chain(pki, leaf),
        leaf.key_der(),
        ClientAuth::None,
        &["h2", "http/1.1"],
    )
}

/// TLS 1.3 only, otherwise as [`modern`].
fn tls13_only(pki: &Hierarchy, leaf: &Issued) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(chain(pki, leaf), leaf.key_der())
        .expect("server certificate");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// The replicas as one Service port's planned endpoints.
fn planned(replicas: &[Replica]) -> Vec<PlannedEndpoint> {
    replicas
        .iter()
        .map(|r| PlannedEndpoint {
            origin: "service/web".into(),
            dial: Target {
                host: NAME.into(),
                port: r.relay.addr().port(),
                address: Some(r.relay.addr()),
                server_name: Some(NAME.into()),
                protocol: Protocol::Tls,
            },
            replica_group: Some("service/web:https".into()),
            ingress_secret: None,
            gateway: None,
            not_probed: None,
        })
        .collect()
}

fn options(pki: &Hierarchy) -> ProbeOptions {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.root.der.clone()).expect("add root");
    ProbeOptions {
        timeout: Duration::from_secs(3),
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    }
}

/// A prober with the engine's probes, no sharing window, and a full cycle every `full_every`.
fn prober(metrics: &Arc<Metrics>, full_every: u32) -> Prober {
    Prober::new(engine(), 16, Duration::ZERO, Some(Arc::clone(metrics)))
        .with_light(Some(engine_light()), full_every)
}

async fn probe(
    prober: &Prober,
    planned: &[PlannedEndpoint],
    pki: &Hierarchy,
    depth: Depth,
) -> Vec<Arc<Facts>> {
    prober
        .probe_with(
            planned,
            &options(pki),
            (None, Fingerprint::default()),
            depth,
        )
        .await
        .into_iter()
        .map(|f| f.expect("every replica is probed"))
        .collect()
}

/// How many replicas got `backend.inconsistent`.
fn inconsistent(planned: &[PlannedEndpoint], facts: &[Arc<Facts>]) -> usize {
    let facts: Vec<Option<Arc<Facts>>> = facts.iter().cloned().map(Some).collect();
    judge(
        planned,
        &facts,
        &BTreeMap::new(),
        &Policy::default(),
        jiff::Timestamp::now(),
    )
    .iter()
    .filter(|a| {
        a.report
            .findings
            .iter()
            .any(|f| f.code == Code::BackendInconsistent)
    })
    .count()
}

/// `(full, light)` from `tlsaudit_probes_total`.
fn probes_total(metrics: &Metrics) -> (u64, u64) {
    let text = metrics.render().expect("render");
    let count = |kind: &str| {
        let prefix = format!("tlsaudit_probes_total{{kind=\"{kind}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .expect("tlsaudit_probes_total")
            .parse()
            .expect("a count")
    };
    (count("full"), count("light"))
}

#[tokio::test]
async fn a_light_probe_of_an_identical_replica_makes_at_most_three_connections_and_inherits_the_facts()
 {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&[NAME]));
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(modern(&pki, &leaf)).await);
    }
    let planned = planned(&replicas);
    let metrics = Arc::new(Metrics::new().unwrap());
    let prober = prober(&metrics, 6);

    let facts = probe(&prober, &planned, &pki, Depth::Light).await;

    // The reference gets the full probe and a light one; the others only the light one.
    assert_eq!(replicas[0].accepted(), facts[0].connections as usize + 3);
    assert!(facts[0].connections > 3);
    for (replica, inherited) in replicas.iter().zip(&facts).skip(1) {
        assert_eq!(replica.accepted(), 3);
        // Inherited: the reference's very facts, held once (the interner shares results that
        // differ only in the probe's own connection count and time).
        assert!(Arc::ptr_eq(inherited, &facts[0]));
    }
    assert_eq!(probes_total(&metrics), (1, 3));
    assert!(facts[0].reachable);
    assert_eq!(inconsistent(&planned, &facts), 0);
}

#[tokio::test]
async fn a_replica_with_another_certificate_gets_a_full_probe_and_is_reported_inconsistent() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&[NAME]));
    let other = pki.leaf(&Spec::leaf(&[NAME]));
    let replicas = vec![
        Replica::start(modern(&pki, &leaf)).await,
        Replica::start(modern(&pki, &leaf)).await,
        Replica::start(modern(&pki, &other)).await,
    ];
    let planned = planned(&replicas);
    let metrics = Arc::new(Metrics::new().unwrap());
    let prober = prober(&metrics, 6);

    let facts = probe(&prober, &planned, &pki, Depth::Light).await;

    assert_eq!(replicas[1].accepted(), 3);
    assert_eq!(replicas[2].accepted(), 3 + facts[2].connections as usize);
    assert!(facts[2].connections > 3);
    assert_ne!(facts[2].chain[0].sha256, facts[0].chain[0].sha256);
    assert_eq!(probes_total(&metrics), (2, 3));
    // The group disagrees: every replica of it gets the finding.
    assert_eq!(inconsistent(&planned, &facts), 3);
}

#[tokio::test]
async fn a_replica_with_another_protocol_set_gets_a_full_probe_and_is_reported_inconsistent() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&[NAME]));
    let replicas = vec![
        Replica::start(modern(&pki, &leaf)).await,
        Replica::start(tls13_only(&pki, &leaf)).await,
        Replica::start(modern(&pki, &leaf)).await,
    ];
    let planned = planned(&replicas);
    let metrics = Arc::new(Metrics::new().unwrap());
    let prober = prober(&metrics, 6);

    let facts = probe(&prober, &planned, &pki, Depth::Light).await;

    // Same leaf, same TLS 1.3 handshake: only the raw TLS 1.2 hello tells them apart.
    assert_eq!(facts[1].chain[0].sha256, facts[0].chain[0].sha256);
    assert_eq!(replicas[1].accepted(), 3 + facts[1].connections as usize);
    assert_eq!(replicas[2].accepted(), 3);
    assert_eq!(facts[1].protocols.tls1_2, Some(false));
    assert_eq!(facts[0].protocols.tls1_2, Some(true));
    assert_eq!(probes_total(&metrics), (2, 3));
    assert_eq!(inconsistent(&planned, &facts), 3);
}

#[tokio::test]
async fn every_nth_cycle_probes_every_replica_fully() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&[NAME]));
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(modern(&pki, &leaf)).await);
    }
    let planned = planned(&replicas);
    let metrics = Arc::new(Metrics::new().unwrap());
    let prober = prober(&metrics, 3);

    let mut depths = Vec::new();
    let mut light_connections = Vec::new();
    for _ in 0..3 {
        let depth = prober.begin_cycle("shop/web");
        depths.push(depth);
        let before = replicas[1].accepted();
        let facts = probe(&prober, &planned, &pki, depth).await;
        light_connections.push((replicas[1].accepted() - before, facts[1].connections));
    }

    assert_eq!(depths, [Depth::Light, Depth::Light, Depth::Full]);
    // Light cycles: 3 connections to replica 1 (its facts are the reference's, shared).
    assert_eq!(light_connections[0].0, 3);
    assert_eq!(light_connections[1].0, 3);
    // The third cycle: replica 1's own full probe, no light one.
    let (accepted, connections) = light_connections[2];
    assert_eq!(accepted, connections as usize);
    assert!(connections > 3);
    // Two light cycles (1 full + 3 light each), then one full cycle (3 full).
    assert_eq!(probes_total(&metrics), (5, 6));
    // Another audit keeps its own count; 1 means every cycle is full.
    assert_eq!(prober.begin_cycle("shop/other"), Depth::Light);
    let always = self::prober(&metrics, 1);
    assert_eq!(always.begin_cycle("shop/web"), Depth::Full);
}
