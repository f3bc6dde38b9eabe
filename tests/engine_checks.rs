//! The handshake checks of issue 9 (items 4, 5, 12, 13) and issue 12 item 7 against real servers:
//! post-quantum hybrid groups (Go crypto/tls and rustls with aws-lc-rs support them, Debian's
//! OpenSSL 3.0 does not), TLS 1.2 extended master secret and SHA-1 handshake signatures
//! (openssl s_server configured both ways), a client certificate requested but not required
//! (nginx `ssl_verify_client optional` and `on`), HSTS on h2 servers, and hostile HTTP heads.
//! Exact codes, severities and facts asserted.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use support::openssl::{OpensslServer, Pki};
use support::peers::{GoServer, NginxServer};
use support::pki::{Hierarchy, Spec};
use support::tls_server::{self, ClientAuth};
use tlsaudit::facts::ClientAuthDemand;
use tlsaudit::findings::Severity;
use tlsaudit::policy::Policy;
use tlsaudit::probe::{ClientIdentity, ProbeOptions, Target};
use tlsaudit::report::EndpointReport;

const TIMEOUT: Duration = Duration::from_secs(3);
/// Mozilla intermediate (5.7) TLS 1.2 suites, for openssl s_server.
const INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305";

/// A CA and an RSA leaf valid for 60 days (no expiry finding).
fn pki() -> Pki {
    Pki::with("rsa:2048", "sha256", 60)
}

/// What every openssl s_server and nginx peer here yields besides the finding under test.
fn openssl_baseline() -> BTreeSet<(&'static str, Severity)> {
    BTreeSet::from([
        ("alpn.no_h2", Severity::Info),
        ("http.no_hsts", Severity::Low),
        ("kex.no_pq_hybrid", Severity::Info),
    ])
}

fn with(extra: &[(&'static str, Severity)]) -> BTreeSet<(&'static str, Severity)> {
    let mut all = openssl_baseline();
    all.extend(extra.iter().copied());
    all
}

fn target(addr: SocketAddr) -> Target {
    Target {
        host: "localhost".into(),
        port: addr.port(),
        address: Some(addr),
        server_name: Some("localhost".into()),
        protocol: tlsaudit::probe::Protocol::Tls,
    }
}

fn openssl_options(pki: &Pki) -> ProbeOptions {
    let pem = std::fs::read(&pki.ca_cert).expect("read CA");
    ProbeOptions {
        timeout: TIMEOUT,
        roots: Arc::new(tlsaudit::cert::root_store(false, &[&pem]).expect("roots")),
        ..ProbeOptions::default()
    }
}

async fn audit(addr: SocketAddr, options: &ProbeOptions, policy: &Policy) -> EndpointReport {
    let target = target(addr);
    let facts = tlsaudit::probe::probe(&target, options).await;
    EndpointReport::assemble(&target, facts, policy, jiff::Timestamp::now())
}

fn findings(report: &EndpointReport) -> BTreeSet<(&'static str, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.severity))
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn go_server_supports_every_pq_hybrid_and_its_h2_endpoint_gets_hsts_checked() {
    let pki = pki();
    let server = GoServer::start(&pki, Some("max-age=63072000"));
    let report = audit(server.addr, &openssl_options(&pki), &Policy::default()).await;
    let f = &report.facts;
    assert_eq!(
        f.groups.supported,
        names(&[
            "X25519MLKEM768",
            "SecP256r1MLKEM768",
            "SecP384r1MLKEM1024",
            "x25519",
            "secp256r1",
            "secp384r1",
            "secp521r1",
        ])
    );
    assert_eq!(f.groups.pq_hybrid, Some(true));
    let negotiated = f.negotiated.as_ref().expect("handshake");
    assert_eq!(negotiated.group.as_deref(), Some("X25519MLKEM768"));
    assert_eq!(negotiated.alpn.as_deref(), Some("h2"));
    // h2 was negotiated, so GET / went over a second connection offering only http/1.1.
    assert_eq!(f.http.status, Some(200));
    assert_eq!(f.http.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(f.features.http, Some(true));
    assert_eq!(f.features.hsts_max_age, Some(63_072_000));
    // Go has EMS and refuses SHA-1 ServerKeyExchange signatures since 1.25 (RFC 9155).
    assert_eq!(f.hardening.extended_master_secret, Some(true));
    assert_eq!(f.hardening.sha1_signatures, Some(false));
    assert_eq!(findings(&report), BTreeSet::new(), "{:#?}", report.findings);
    assert_eq!(report.grade, tlsaudit::grade::Grade::APlus);
}

#[tokio::test]
async fn go_h2_server_without_hsts_gets_http_no_hsts() {
    let pki = pki();
    let server = GoServer::start(&pki, None);
    let report = audit(server.addr, &openssl_options(&pki), &Policy::default()).await;
    assert_eq!(report.facts.http.status, Some(200));
    assert_eq!(report.facts.features.hsts_max_age, None);
    assert_eq!(
        findings(&report),
        BTreeSet::from([("http.no_hsts", Severity::Low)]),
        "{:#?}",
        report.findings
    );
    // SSL Labs 2009r: missing HSTS is a warning that sets A-.
    assert_eq!(report.grade, tlsaudit::grade::Grade::AMinus);
}

#[tokio::test]
async fn rustls_aws_lc_rs_server_negotiates_x25519mlkem768() {
    let hierarchy = Hierarchy::new();
    let leaf = hierarchy.leaf(&Spec::leaf(&["localhost"]));
    let config = tls_server::config(
        vec![leaf.der.clone(), hierarchy.intermediate.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &["h2", "http/1.1"],
    );
    let server = tls_server::start(config, "Strict-Transport-Security: max-age=63072000\r\n").await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(hierarchy.root.der.clone()).expect("root");
    let options = ProbeOptions {
        timeout: TIMEOUT,
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    };
    let report = audit(server.addr, &options, &Policy::default()).await;
    let f = &report.facts;
    assert_eq!(
        f.groups.supported,
        names(&["X25519MLKEM768", "x25519", "secp256r1", "secp384r1"])
    );
    assert_eq!(f.groups.pq_hybrid, Some(true));
    assert_eq!(
        f.negotiated.as_ref().and_then(|n| n.group.as_deref()),
        Some("X25519MLKEM768")
    );
    assert_eq!(f.hardening.extended_master_secret, Some(true));
    assert_eq!(f.hardening.sha1_signatures, Some(false));
    assert_eq!(
        (f.http.status, f.features.hsts_max_age),
        (Some(200), Some(63_072_000))
    );
    assert_eq!(findings(&report), BTreeSet::new(), "{:#?}", report.findings);
}

#[tokio::test]
async fn debian_openssl_3_0_has_no_pq_hybrid_and_lists_its_groups() {
    let server = OpensslServer::start_with(
        pki(),
        &["-www", "-no_tls1", "-no_tls1_1", "-cipher", INTERMEDIATE],
    );
    let report = audit(
        server.addr,
        &openssl_options(&server.pki),
        &Policy::default(),
    )
    .await;
    let f = &report.facts;
    assert_eq!(
        f.groups.supported,
        names(&[
            "x25519",
            "secp256r1",
            "x448",
            "secp521r1",
            "secp384r1",
            "ffdhe2048"
        ])
    );
    assert_eq!(f.groups.pq_hybrid, Some(false));
    // OpenSSL picks by its own default list (x448 before secp521r1 and secp384r1).
    assert_eq!(f.groups.server_order, Some(true));
    assert_eq!(
        f.negotiated.as_ref().and_then(|n| n.group.as_deref()),
        Some("X25519")
    );
    assert_eq!(f.hardening.extended_master_secret, Some(true));
    assert_eq!(f.hardening.sha1_signatures, Some(false));
    assert_eq!(findings(&report), with(&[]), "{:#?}", report.findings);
    // 14 raw hellos (3 + 1 + 1 for TLS 1.2, 3 + 1 + 1 for TLS 1.3, SSLv3/1.0/1.1), 7 for the
    // groups (6 picks and the refusal of the hybrids), 1 SHA-1 probe, and the validated
    // handshakes with and without SNI.
    assert_eq!(f.connections, 14 + 7 + 1 + 2);
}

#[tokio::test]
async fn openssl_without_extended_master_secret_is_reported() {
    let server = OpensslServer::start_with_ssl_conf(
        pki(),
        &["-www", "-tls1_2", "-cipher", INTERMEDIATE],
        "Options = -ExtendedMasterSecret",
    );
    let report = audit(
        server.addr,
        &openssl_options(&server.pki),
        &Policy::default(),
    )
    .await;
    assert_eq!(report.facts.hardening.extended_master_secret, Some(false));
    assert_eq!(report.facts.groups.pq_hybrid, Some(false));
    assert_eq!(
        findings(&report),
        with(&[
            ("tls.no_extended_master_secret", Severity::Low),
            ("protocol.no_tls1_3", Severity::Low),
        ]),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn openssl_at_security_level_0_signs_with_sha1_when_asked() {
    let server = OpensslServer::start_with(
        pki(),
        &["-www", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"],
    );
    let report = audit(
        server.addr,
        &openssl_options(&server.pki),
        &Policy::default(),
    )
    .await;
    assert_eq!(report.facts.hardening.sha1_signatures, Some(true));
    assert_eq!(
        findings(&report),
        with(&[("tls.sha1_signatures", Severity::Medium)]),
        "{:#?}",
        report.findings
    );
}

fn client_identity(pki: &Pki) -> Arc<ClientIdentity> {
    // A client certificate issued by the same test CA the server trusts for clients.
    let dir = pki.dir.path();
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .env("OPENSSL_CONF", "/dev/null")
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "60",
        "-subj",
        "/CN=client",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-keyout",
        "client.key",
        "-out",
        "client.pem",
        "-addext",
        "extendedKeyUsage=clientAuth",
    ]);
    let chain = std::fs::read(dir.join("client.pem")).expect("client cert");
    let key = std::fs::read(dir.join("client.key")).expect("client key");
    Arc::new(ClientIdentity::from_pem(&chain, &key).expect("identity"))
}

#[tokio::test]
async fn nginx_optional_client_certificate_is_medium_and_high_when_mtls_is_expected() {
    let pki = pki();
    let server = NginxServer::start(&pki, "optional");
    let options = openssl_options(&pki);
    let report = audit(server.addr, &options, &Policy::default()).await;
    let auth = &report.facts.client_auth;
    assert_eq!(auth.demand, ClientAuthDemand::Optional);
    assert_eq!(auth.http_status_without_certificate, Some(200));
    assert_eq!(
        findings(&report),
        with(&[("mtls.optional", Severity::Medium)]),
        "{:#?}",
        report.findings
    );
    let expect = Policy {
        require_client_certificate: true,
        ..Policy::default()
    };
    let report = audit(server.addr, &options, &expect).await;
    assert_eq!(
        findings(&report),
        with(&[("mtls.optional", Severity::High)])
    );
    // Given a client identity, the audit still learns that none is needed: high as well.
    let with_identity = ProbeOptions {
        client_identity: Some(client_identity(&pki)),
        ..openssl_options(&pki)
    };
    let report = audit(server.addr, &with_identity, &Policy::default()).await;
    let auth = &report.facts.client_auth;
    assert_eq!(
        (
            auth.demand,
            auth.identity_accepted,
            auth.http_status_without_certificate
        ),
        (ClientAuthDemand::Optional, Some(true), Some(200))
    );
    assert_eq!(
        findings(&report),
        with(&[("mtls.optional", Severity::High)])
    );
}

#[tokio::test]
async fn nginx_verify_client_on_answers_400_and_is_required_at_http() {
    let pki = pki();
    let server = NginxServer::start(&pki, "on");
    let report = audit(server.addr, &openssl_options(&pki), &Policy::default()).await;
    let auth = &report.facts.client_auth;
    assert_eq!(auth.demand, ClientAuthDemand::RequiredAtHttp);
    assert_eq!(auth.http_status_without_certificate, Some(400));
    // The 400 answer carries no HSTS either; nothing but the demand differs from `optional`.
    assert_eq!(
        findings(&report),
        with(&[("mtls.required", Severity::Info)]),
        "{:#?}",
        report.findings
    );
}

async fn hostile_http(response: Vec<u8>, hold: bool) -> EndpointReport {
    let hierarchy = Hierarchy::new();
    let leaf = hierarchy.leaf(&Spec::leaf(&["localhost"]));
    let config = tls_server::config(
        vec![leaf.der.clone(), hierarchy.intermediate.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &[],
    );
    let server = tls_server::start_responding(config, response, hold).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(hierarchy.root.der.clone()).expect("root");
    let options = ProbeOptions {
        timeout: Duration::from_millis(800),
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    };
    tokio::time::timeout(
        Duration::from_secs(30),
        audit(server.addr, &options, &Policy::default()),
    )
    .await
    .expect("the audit ends (hang guard, not a benchmark)")
}

fn http_codes(report: &EndpointReport) -> BTreeSet<(&'static str, Severity)> {
    findings(report)
        .into_iter()
        .filter(|(code, _)| code.starts_with("http."))
        .collect()
}

#[tokio::test]
async fn a_response_head_over_16_kib_makes_hsts_unknown_not_absent() {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..400 {
        head.extend(format!("X-Padding-{i}: {}\r\n", "a".repeat(60)).as_bytes());
    }
    head.extend(b"Strict-Transport-Security: max-age=63072000\r\n\r\n");
    let report = hostile_http(head, false).await;
    assert_eq!(
        report.facts.http.head_incomplete.as_deref(),
        Some("too_large")
    );
    assert_eq!(report.facts.http.status, Some(200));
    assert_eq!(
        http_codes(&report),
        BTreeSet::from([("http.head_unreadable", Severity::Low)])
    );
}

#[tokio::test]
async fn a_max_age_beyond_u64_counts_as_long_hsts() {
    let head = b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=184467440737095516150\r\nContent-Length: 0\r\n\r\n".to_vec();
    let report = hostile_http(head, false).await;
    assert_eq!(report.facts.features.hsts_max_age, Some(u64::MAX));
    assert_eq!(http_codes(&report), BTreeSet::new());
}

#[tokio::test]
async fn a_head_still_arriving_at_the_deadline_makes_hsts_unknown() {
    let head = b"HTTP/1.1 200 OK\r\nX-Slow: 1\r\n".to_vec();
    let report = hostile_http(head, true).await;
    assert_eq!(
        report.facts.http.head_incomplete.as_deref(),
        Some("timeout")
    );
    assert_eq!(
        http_codes(&report),
        BTreeSet::from([("http.head_unreadable", Severity::Low)])
    );
}
