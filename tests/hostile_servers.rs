//! The probe engine against hostile servers (issue 12): dates no CA would issue, a server that
//! stalls after every ServerHello, handshakes too large for clients, and names that cannot be
//! sent as SNI. Each test asserts the exact findings and facts, and bounds its wall time with its
//! own timeout — a hang guard, not a benchmark.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use support::hostile;
use support::pki::{Hierarchy, Spec};
use support::tls_server::{self, ClientAuth};
use tlsaudit::facts::{FailureKind, TlsVersion};
use tlsaudit::policy::Policy;
use tlsaudit::probe::{ProbeOptions, Target};
use tlsaudit::report::EndpointReport;

/// Generous bound for a whole probe on a loaded machine; only a hang exceeds it.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn target(addr: std::net::SocketAddr, name: Option<&str>) -> Target {
    Target {
        host: name.unwrap_or("127.0.0.1").to_owned(),
        port: addr.port(),
        address: Some(addr),
        server_name: name.map(str::to_owned),
        protocol: tlsaudit::probe::Protocol::Tls,
    }
}

fn options(anchors: &[rustls::pki_types::CertificateDer<'static>]) -> ProbeOptions {
    let mut roots = rustls::RootCertStore::empty();
    for anchor in anchors {
        roots.add(anchor.clone()).expect("add root");
    }
    ProbeOptions {
        timeout: Duration::from_secs(2),
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    }
}

async fn audit(target: &Target, options: &ProbeOptions) -> EndpointReport {
    let facts = tokio::time::timeout(HANG_GUARD, tlsaudit::probe::probe(target, options))
        .await
        .expect("the probe ends within its hang guard");
    EndpointReport::assemble(target, facts, &Policy::default(), jiff::Timestamp::now())
}

fn findings(report: &EndpointReport) -> BTreeSet<(String, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.code.as_str().to_owned(), f.severity.as_str().to_owned()))
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
        .collect()
}

async fn serve_dated(dated: &hostile::Dated) -> tls_server::Server {
    let config = tls_server::config(
        vec![dated.leaf.clone()],
        dated.key.clone_key(),
        ClientAuth::None,
        &["h2"],
    );
    tls_server::start(config, "Strict-Transport-Security: max-age=31536000\r\n").await
}

#[tokio::test]
async fn a_leaf_valid_for_one_second_is_expired_not_a_panic() {
    let now = time::OffsetDateTime::now_utc();
    let dated = hostile::dated_leaf(
        "short.test",
        now - time::Duration::seconds(10),
        now - time::Duration::seconds(9),
    );
    let server = serve_dated(&dated).await;
    let report = audit(
        &target(server.addr, Some("short.test")),
        &options(std::slice::from_ref(&dated.root)),
    )
    .await;
    assert_eq!(
        report.facts.chain[0].not_after_unix - report.facts.chain[0].not_before_unix,
        1
    );
    assert_eq!(report.facts.trust.path_found, Some(true));
    assert_eq!(
        findings(&report),
        set(&[("cert.expired", "critical")]),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn an_inverted_validity_window_is_reported_not_a_panic() {
    let now = time::OffsetDateTime::now_utc();
    let dated = hostile::dated_leaf(
        "inverted.test",
        now + time::Duration::days(1),
        now - time::Duration::days(1),
    );
    let server = serve_dated(&dated).await;
    let report = audit(
        &target(server.addr, Some("inverted.test")),
        &options(std::slice::from_ref(&dated.root)),
    )
    .await;
    assert!(report.facts.chain[0].not_after_unix < report.facts.chain[0].not_before_unix);
    // No moment is valid: no path can be shown apart from the dates.
    assert_eq!(report.facts.trust.path_found, Some(false));
    assert_eq!(
        findings(&report),
        set(&[("cert.expired", "critical"), ("cert.untrusted", "high")]),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn a_server_that_stalls_after_each_server_hello_ends_at_the_deadline() {
    let server = hostile::stalling_server().await;
    let options = ProbeOptions {
        timeout: Duration::from_millis(200),
        deadline: Duration::from_secs(1),
        ..ProbeOptions::default()
    };
    let report = audit(&target(server.addr, Some("stall.test")), &options).await;
    let facts = &report.facts;
    assert!(facts.deadline_exceeded);
    assert!(facts.reachable);
    assert_eq!(facts.protocols.accepted(), vec![TlsVersion::Tls12]);
    // What was learned is kept; the TLS 1.2 suite list is marked as cut short.
    assert_eq!(facts.ciphers.len(), 1);
    assert!(facts.ciphers[0].incomplete);
    assert!(!facts.ciphers[0].suites.is_empty());
    assert!(
        facts.ciphers[0]
            .suites
            .iter()
            .all(|s| hostile::strong_tls12(s.id))
    );
    assert_eq!(
        facts.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Timeout)
    );
    assert_eq!(
        findings(&report),
        set(&[
            ("connect.timeout", "critical"),
            ("probe.deadline_exceeded", "medium"),
            ("protocol.no_tls1_3", "low"),
            // A hand-built TLS 1.2 server: no EMS echo, no TLS 1.3 for a hybrid group.
            ("tls.no_extended_master_secret", "low"),
            ("kex.no_pq_hybrid", "info"),
        ]),
        "{:#?}",
        report.findings
    );
}

/// Serves `chain` as is: rustls' own loader refuses a certificate over 64 KiB, a resolver does
/// not look.
fn unchecked_config(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> rustls::ServerConfig {
    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(Arc::clone(&self.0))
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let signing = provider.key_provider.load_private_key(key).expect("key");
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(Arc::new(rustls::sign::CertifiedKey::new(
            chain, signing,
        )))))
}

fn big_leaf(pki: &Hierarchy, names: usize) -> support::pki::Issued {
    let sans: Vec<String> = (0..names).map(|i| format!("h{i:05}.big.test")).collect();
    let refs: Vec<&str> = sans.iter().map(String::as_str).collect();
    pki.leaf(&Spec::leaf(&refs))
}

#[tokio::test]
async fn a_certificate_over_64_kib_is_an_oversized_handshake_with_the_raw_facts_kept() {
    let pki = Hierarchy::new();
    let leaf = big_leaf(&pki, 6_000);
    assert!(leaf.der.len() > 90_000, "{}", leaf.der.len());
    let config = unchecked_config(
        vec![leaf.der.clone(), pki.intermediate.der.clone()],
        leaf.key_der(),
    );
    let server = tls_server::start(config, "").await;
    let report = audit(
        &target(server.addr, Some("h00000.big.test")),
        &options(std::slice::from_ref(&pki.root.der)),
    )
    .await;
    let facts = &report.facts;
    assert_eq!(
        facts.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Oversized)
    );
    assert_eq!(
        facts.protocols.accepted(),
        vec![TlsVersion::Tls12, TlsVersion::Tls13]
    );
    // The raw TLS 1.2 hello read the chain that rustls refused.
    assert_eq!(facts.chain.len(), 2);
    assert_eq!(facts.chain[0].sans.len(), 6_000);
    assert_eq!(
        facts.trust.error.as_deref(),
        Some("certificate cannot be decoded")
    );
    assert_eq!(
        findings(&report),
        // webpki cannot decode a certificate over 64 KiB either: clients send bad_certificate.
        set(&[
            ("cert.untrusted", "high"),
            ("tls.oversized_handshake", "high")
        ]),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn a_300_certificate_chain_is_an_oversized_handshake() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["chain.test"]));
    let mut chain = vec![leaf.der.clone()];
    chain.extend(std::iter::repeat_n(pki.intermediate.der.clone(), 299));
    let config = tls_server::config(chain, leaf.key_der(), ClientAuth::None, &["h2"]);
    let server = tls_server::start(config, "").await;
    let report = audit(
        &target(server.addr, Some("chain.test")),
        &options(std::slice::from_ref(&pki.root.der)),
    )
    .await;
    assert_eq!(
        report.facts.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Oversized)
    );
    assert_eq!(
        report.facts.protocols.accepted(),
        vec![TlsVersion::Tls12, TlsVersion::Tls13]
    );
    // The raw TLS 1.2 hello read all of it (under its own 128 KiB message limit).
    assert_eq!(report.facts.chain.len(), 300);
    assert_eq!(
        findings(&report),
        set(&[
            ("chain.wrong_order", "low"),
            ("tls.oversized_handshake", "high")
        ]),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn a_one_megabyte_certificate_is_refused_after_its_header_not_read() {
    let server = hostile::huge_certificate_server(1 << 20).await;
    let report = audit(&target(server.addr, Some("huge.test")), &options(&[])).await;
    let facts = &report.facts;
    assert_eq!(
        facts.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Oversized)
    );
    assert_eq!(facts.protocols.accepted(), vec![TlsVersion::Tls12]);
    assert!(facts.chain.is_empty());
    assert_eq!(
        findings(&report),
        set(&[
            ("protocol.no_tls1_3", "low"),
            // A hand-built TLS 1.2 server: no EMS echo, no TLS 1.3 for a hybrid group.
            ("tls.no_extended_master_secret", "low"),
            ("kex.no_pq_hybrid", "info"),
            ("tls.oversized_handshake", "high")
        ]),
        "{:#?}",
        report.findings
    );
}

/// SNI of every hello but SSL 3.0 ones (SSL 3.0 predates extensions).
fn sni_seen(seen: &std::sync::Mutex<Vec<(u16, Option<String>)>>) -> Vec<Option<String>> {
    std::mem::take(&mut *seen.lock().expect("log"))
        .into_iter()
        .filter(|(version, _)| *version != 0x0300)
        .map(|(_, sni)| sni)
        .collect()
}

#[tokio::test]
async fn raw_hellos_and_rustls_send_the_same_sni_and_none_for_an_ip_literal() {
    let (server, seen) = hostile::sni_recorder().await;
    let _ = audit(&target(server.addr, Some("same.example")), &options(&[])).await;
    let names = sni_seen(&seen);
    // One handshake deliberately goes without SNI (the default-certificate check); every other
    // hello, raw or rustls, carries the very name given.
    assert_eq!(names.iter().filter(|n| n.is_none()).count(), 1, "{names:?}");
    assert!(names.len() > 2, "{names:?}");
    assert!(
        names
            .iter()
            .flatten()
            .all(|name| name.as_str() == "same.example"),
        "{names:?}"
    );

    let _ = audit(&target(server.addr, None), &options(&[])).await;
    let names = sni_seen(&seen);
    assert!(!names.is_empty());
    assert!(names.iter().all(Option::is_none), "{names:?}");
}

#[tokio::test]
async fn a_name_that_cannot_be_sent_as_sni_is_refused_before_dialling() {
    let (server, seen) = hostile::sni_recorder().await;
    for name in ["a".repeat(300), "has space.test".to_owned(), String::new()] {
        let report = audit(&target(server.addr, Some(&name)), &options(&[])).await;
        assert_eq!(report.facts.connections, 0);
        assert_eq!(
            report.facts.failure.as_ref().map(|f| f.kind),
            Some(FailureKind::InvalidTarget)
        );
        assert_eq!(
            findings(&report),
            set(&[("config.invalid", "high")]),
            "{name:?}"
        );
    }
    assert!(seen.lock().expect("log").is_empty());
}

#[tokio::test]
async fn a_broken_certificate_message_after_a_server_hello_is_malformed_not_not_tls() {
    let server = hostile::malformed_certificate_server().await;
    let report = audit(&target(server.addr, Some("broken.test")), &options(&[])).await;
    assert_eq!(
        report.facts.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Malformed)
    );
    assert_eq!(report.facts.protocols.accepted(), vec![TlsVersion::Tls12]);
    assert_eq!(
        findings(&report),
        set(&[
            ("protocol.no_tls1_3", "low"),
            // A hand-built TLS 1.2 server: no EMS echo, no TLS 1.3 for a hybrid group.
            ("tls.no_extended_master_secret", "low"),
            ("kex.no_pq_hybrid", "info"),
            ("tls.malformed_handshake", "high")
        ]),
        "{:#?}",
        report.findings
    );
}
