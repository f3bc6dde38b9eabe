//! Verdicts an SRE can trust (issue 9, items 1–3, 6, 10, 11), each against a real server — Debian's
//! `openssl s_server` or an in-process rustls server — with the exact codes, severities, grade and
//! Mozilla profile asserted: no false alarm for TLS 1.3-only servers, expired leaves or complete
//! chains under an unknown root; SHA-1 certificates graded T; SSL Labs 2009r's A- and A+; Mozilla
//! 6.0's intermediate.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use support::openssl::{OpensslServer, Pki};
use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth};
use tlsaudit::findings::Severity;
use tlsaudit::grade::Grade;
use tlsaudit::policy::{Policy, Profile};
use tlsaudit::probe::{ProbeOptions, Target};
use tlsaudit::report::EndpointReport;

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

/// Mozilla server-side TLS guidelines 6.0 intermediate, RSA and ECDSA suites (no DHE since 5.8).
const MOZILLA_6_INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305";

/// s_server flags for a Mozilla 6.0 intermediate configuration (TLS 1.2 and 1.3) that serves HTTP.
fn intermediate_www(extra: &[&str]) -> Vec<String> {
    [
        "-cipher",
        MOZILLA_6_INTERMEDIATE,
        "-no_tls1",
        "-no_tls1_1",
        "-www",
    ]
    .iter()
    .chain(extra)
    .map(|a| (*a).to_owned())
    .collect()
}

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

fn options(anchors: &[&[u8]], http: bool) -> ProbeOptions {
    let roots = tlsaudit::cert::root_store(false, anchors).expect("roots");
    ProbeOptions {
        timeout: Duration::from_secs(3),
        roots: Arc::new(roots),
        http,
        ..ProbeOptions::default()
    }
}

fn target(addr: SocketAddr, name: &str) -> Target {
    Target {
        host: name.to_owned(),
        port: addr.port(),
        address: Some(addr),
        server_name: Some(name.to_owned()),
        protocol: tlsaudit::probe::Protocol::Tls,
    }
}

async fn audit(target: &Target, options: &ProbeOptions, policy: &Policy) -> EndpointReport {
    let facts = tlsaudit::probe::probe(target, options).await;
    EndpointReport::assemble(target, facts, policy, jiff::Timestamp::now())
}

/// The findings as (code, severity) pairs.
fn findings(report: &EndpointReport) -> BTreeSet<(&'static str, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.severity))
        .collect()
}

fn message<'a>(report: &'a EndpointReport, code: &str) -> &'a str {
    report
        .findings
        .iter()
        .find(|f| f.code.as_str() == code)
        .map_or("", |f| f.message.as_str())
}

/// Writes rcgen certificates as PEM files and wraps them as the [`Pki`] an s_server serves:
/// `leaf` with its key, `chain` as `-cert_chain`, `anchor` as the CA the audit trusts.
fn pki_files(leaf: &Issued, chain: &[&Issued], anchor: &Issued) -> (Pki, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write PEM");
        path
    };
    let chain_pem: String = chain.iter().map(|c| c.pem.as_str()).collect();
    let chain_path = write("chain.pem", &chain_pem);
    let pki = Pki {
        ca_cert: write("ca.pem", &anchor.pem),
        ca_key: write("ca.key", &anchor.key_pem()),
        cert: write("cert.pem", &leaf.pem),
        key: write("key.pem", &leaf.key_pem()),
        dir,
    };
    (pki, chain_path.to_str().expect("utf-8 path").to_owned())
}

fn ca_pem(pki: &Pki) -> Vec<u8> {
    std::fs::read(&pki.ca_cert).expect("read CA")
}

fn scan_exit_code(addr: SocketAddr, ca: &Path) -> (i32, String) {
    let target = format!("localhost:{}", addr.port());
    let output = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args([
            "scan",
            &target,
            "--address",
            "127.0.0.1",
            "--no-system-roots",
        ])
        .arg("--ca")
        .arg(ca)
        .output()
        .expect("run tlsaudit scan");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

// Item 1: a TLS 1.3-only server is Mozilla modern, not a high finding.
#[tokio::test(flavor = "multi_thread")]
async fn tls1_3_only_openssl_server_gets_an_info_finding_exit_code_0_and_meets_modern() {
    let server =
        OpensslServer::start_with(Pki::with("rsa:2048", "sha256", 60), &["-tls1_3", "-www"]);
    let opts = options(&[&ca_pem(&server.pki)], true);
    let t = target(server.addr, "localhost");
    let report = audit(&t, &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("kex.no_pq_hybrid", Severity::Info),
            ("protocol.no_tls1_2", Severity::Info),
            ("http.no_hsts", Severity::Low),
            ("alpn.no_h2", Severity::Info),
        ]),
        "{:#?}",
        report.findings
    );
    // No cap from TLS 1.3-only; the missing HSTS on this HTTP endpoint is what sets A-.
    assert_eq!(report.grade, Grade::AMinus);
    assert_eq!(report.profile, Some(Profile::Modern));

    // Under the modern profile it is silent.
    let modern = Policy {
        profile: Profile::Modern,
        ..Policy::default()
    };
    let report = audit(&t, &opts, &modern).await;
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.code.as_str() == "protocol.no_tls1_2"),
        "{:#?}",
        report.findings
    );

    // `tlsaudit scan` (default --fail-on high) passes CI.
    let ca = server.pki.ca_cert.clone();
    let (code, stdout) = tokio::task::block_in_place(|| scan_exit_code(server.addr, &ca));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("protocol.no_tls1_2"), "{stdout}");
}

// Items 1 and 10: with HSTS, TLS 1.3 only reaches A+.
#[tokio::test]
async fn tls1_3_only_rustls_server_with_hsts_grades_a_plus() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["modern.test"]));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("TLS 1.3")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der.clone(), pki.intermediate.der.clone()],
        leaf.key_der(),
    )
    .expect("certificate");
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let server = tls_server::start(config, HSTS).await;
    let opts = options(&[pki.root.pem.as_bytes()], true);
    let report = audit(
        &target(server.addr, "modern.test"),
        &opts,
        &Policy::default(),
    )
    .await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([("protocol.no_tls1_2", Severity::Info),]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::APlus);
    assert_eq!(report.profile, Some(Profile::Modern));
}

// Item 2: an expired leaf from a trusted CA is one fault: cert.expired, not also cert.untrusted.
#[tokio::test]
async fn expired_leaf_under_a_trusted_chain_on_openssl_is_only_expired_and_graded_t() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["localhost"]).valid(-100, -3));
    let (files, chain) = pki_files(&leaf, &[&pki.intermediate], &pki.root);
    let flags = intermediate_www(&["-cert_chain", &chain]);
    let server = OpensslServer::start_with(files, &args(&flags));
    let opts = options(&[pki.root.pem.as_bytes()], true);
    let report = audit(&target(server.addr, "localhost"), &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("kex.no_pq_hybrid", Severity::Info),
            ("cert.expired", Severity::Critical),
            ("http.no_hsts", Severity::Low),
            ("alpn.no_h2", Severity::Info),
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::T);
    assert_eq!(report.facts.trust.path_found, Some(true));
    assert_eq!(
        report.facts.trust.alert.as_deref(),
        Some("certificate_expired")
    );
}

// Item 3: leaf + intermediate, as every server should send, under a root the audit does not trust.
#[tokio::test]
async fn complete_chain_under_an_unknown_root_on_openssl_is_untrusted_but_not_incomplete() {
    let private = Hierarchy::new();
    let leaf = private.leaf(&Spec::leaf(&["localhost"]));
    let other = Spec::ca("the only trusted root").self_signed();
    let (files, chain) = pki_files(&leaf, &[&private.intermediate], &other);
    let flags = intermediate_www(&["-cert_chain", &chain]);
    let server = OpensslServer::start_with(files, &args(&flags));
    let opts = options(&[other.pem.as_bytes()], true);
    let report = audit(&target(server.addr, "localhost"), &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("kex.no_pq_hybrid", Severity::Info),
            ("cert.untrusted", Severity::High),
            ("http.no_hsts", Severity::Low),
            ("alpn.no_h2", Severity::Info),
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::T);
    assert_eq!(report.facts.trust.missing_issuer, None);
    assert_eq!(
        report.facts.trust.unknown_issuer.as_deref(),
        Some("CN=tlsaudit test root")
    );
    assert_eq!(
        message(&report, "cert.untrusted"),
        "the served chain is complete up to CN=tlsaudit test root, a root the audit does not \
         trust; clients fail with unknown_ca"
    );
}

// Item 3: a leaf served alone, from an issuer without AIA (cert-manager's CA issuer): ambiguous.
#[tokio::test]
async fn leaf_alone_without_aia_from_an_unknown_issuer_is_untrusted_and_says_both_causes() {
    let private_ca = Spec::ca("cert-manager private ca").self_signed();
    let leaf = private_ca.issue(&Spec::leaf(&["private.test"]));
    let config = tls_server::config(
        vec![leaf.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &["h2", "http/1.1"],
    );
    let server = tls_server::start(config, HSTS).await;
    let other = Spec::ca("the only trusted root").self_signed();
    let opts = options(&[other.pem.as_bytes()], true);
    let report = audit(
        &target(server.addr, "private.test"),
        &opts,
        &Policy::default(),
    )
    .await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([("cert.untrusted", Severity::High),]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::T);
    assert!(report.facts.chain[0].ca_issuers.is_empty());
    assert_eq!(
        message(&report, "cert.untrusted"),
        "issuer CN=cert-manager private ca is neither served nor trusted: either the server \
         omits an intermediate, or CN=cert-manager private ca is a private CA the audit does not \
         trust; clients fail with unknown_ca"
    );
}

// Item 3: the same leaf alone, but naming its issuer's URL (AIA caIssuers) as public CAs do.
#[tokio::test]
async fn leaf_alone_with_aia_on_openssl_is_an_incomplete_chain() {
    let pki = Hierarchy::new();
    let aia = "http://ca.test/int.der";
    let leaf = pki.leaf(&Spec::leaf(&["localhost"]).ca_issuers(aia));
    let (files, _) = pki_files(&leaf, &[], &pki.root);
    let server = OpensslServer::start_with(files, &args(&intermediate_www(&[])));
    let opts = options(&[pki.root.pem.as_bytes()], true);
    let report = audit(&target(server.addr, "localhost"), &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("kex.no_pq_hybrid", Severity::Info),
            ("chain.incomplete", Severity::High),
            ("cert.untrusted", Severity::High),
            ("http.no_hsts", Severity::Low),
            ("alpn.no_h2", Severity::Info),
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(
        message(&report, "chain.incomplete"),
        "the intermediate CN=tlsaudit test intermediate is not served (1 certificate(s) served; \
         the leaf names it at http://ca.test/int.der)"
    );
    assert_eq!(report.grade, Grade::T);
}

// Item 6: browsers, Go and rustls reject SHA-1-signed certificates: T, high.
#[tokio::test]
async fn sha1_signed_leaf_on_openssl_is_a_high_weak_signature_graded_t() {
    let cipher = format!("{MOZILLA_6_INTERMEDIATE}:@SECLEVEL=0");
    let server = OpensslServer::start_with(
        Pki::with("rsa:2048", "sha1", 60),
        &["-cipher", &cipher, "-no_tls1", "-no_tls1_1", "-www"],
    );
    let opts = options(&[&ca_pem(&server.pki)], true);
    let report = audit(&target(server.addr, "localhost"), &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("kex.no_pq_hybrid", Severity::Info),
            // SECLEVEL 0 also lets OpenSSL sign its ServerKeyExchange with SHA-1 (RFC 9155).
            ("tls.sha1_signatures", Severity::Medium),
            ("cert.weak_signature", Severity::High),
            ("http.no_hsts", Severity::Low),
            ("alpn.no_h2", Severity::Info),
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::T);
    assert_eq!(report.facts.chain[0].signature, "sha1WithRSAEncryption");
    // A SHA-1 signature is not an unknown issuer.
    assert_eq!(report.facts.trust.path_found, None);
}

// Items 10 and 11: Mozilla 6.0 intermediate without TLS 1.3 is A- (SSL Labs 2009r).
#[tokio::test]
async fn tls1_2_only_mozilla_6_intermediate_server_meets_intermediate_and_grades_a_minus() {
    let server = OpensslServer::start_with(
        Pki::with("rsa:2048", "sha256", 60),
        &[
            "-cipher",
            MOZILLA_6_INTERMEDIATE,
            "-no_tls1",
            "-no_tls1_1",
            "-no_tls1_3",
        ],
    );
    // No HTTP request: only the missing TLS 1.3 can set A- here.
    let opts = options(&[&ca_pem(&server.pki)], false);
    let report = audit(&target(server.addr, "localhost"), &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("protocol.no_tls1_3", Severity::Low),
            ("kex.no_pq_hybrid", Severity::Info),
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::AMinus);
    assert_eq!(report.profile, Some(Profile::Intermediate));
}

// Item 10: an HTTP/1.1 server with TLS 1.3 and a year of HSTS is A+; without TLS 1.3 it is A-.
#[tokio::test]
async fn http1_server_with_hsts_grades_a_plus_with_tls1_3_and_a_minus_without() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["h1.test"]));
    let opts = options(&[pki.root.pem.as_bytes()], true);
    for (versions, grade) in [
        (
            &[&rustls::version::TLS13, &rustls::version::TLS12][..],
            Grade::APlus,
        ),
        (&[&rustls::version::TLS12][..], Grade::AMinus),
    ] {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der.clone(), pki.intermediate.der.clone()],
            leaf.key_der(),
        )
        .expect("certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server = tls_server::start(config, HSTS).await;
        let report = audit(&target(server.addr, "h1.test"), &opts, &Policy::default()).await;
        let mut expected = BTreeSet::from([("alpn.no_h2", Severity::Info)]);
        if grade == Grade::AMinus {
            expected.insert(("protocol.no_tls1_3", Severity::Low));
            // The post-quantum hybrids need TLS 1.3.
            expected.insert(("kex.no_pq_hybrid", Severity::Info));
        }
        assert_eq!(findings(&report), expected, "{:#?}", report.findings);
        assert_eq!(report.grade, grade);
        assert_eq!(report.facts.features.hsts_max_age, Some(31_536_000));
        assert_eq!(report.profile, Some(Profile::Intermediate));
    }
}

// Item 6: an RSA-1024 leaf: SSL Labs caps B; rustls/webpki clients reject it, so the finding is high.
#[tokio::test]
async fn rsa_1024_leaf_on_openssl_is_a_high_weak_key() {
    let cipher = format!("{MOZILLA_6_INTERMEDIATE}:@SECLEVEL=0");
    let server = OpensslServer::start_with(
        Pki::with("rsa:1024", "sha256", 60),
        &["-cipher", &cipher, "-no_tls1", "-no_tls1_1", "-www"],
    );
    let opts = options(&[&ca_pem(&server.pki)], true);
    let report = audit(&target(server.addr, "localhost"), &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("kex.no_pq_hybrid", Severity::Info),
            // SECLEVEL 0 also lets OpenSSL sign its ServerKeyExchange with SHA-1 (RFC 9155).
            ("tls.sha1_signatures", Severity::Medium),
            ("cert.weak_key", Severity::High),
            ("http.no_hsts", Severity::Low),
            ("alpn.no_h2", Severity::Info),
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::B);
    assert!(
        message(&report, "cert.weak_key").contains("rustls/webpki clients reject it"),
        "{:#?}",
        report.findings
    );
    // Mozilla 5.8 raised even old's RSA minimum to 2048 bits.
    assert_eq!(report.profile, None);
}

// Item 3: a gap — the server sends the leaf and the root but not the intermediate between them.
#[tokio::test]
async fn leaf_and_root_without_the_intermediate_is_an_incomplete_chain() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["gap.test"]));
    let config = tls_server::config(
        vec![leaf.der.clone(), pki.root.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &["h2", "http/1.1"],
    );
    let server = tls_server::start(config, HSTS).await;
    let opts = options(&[pki.root.pem.as_bytes()], true);
    let report = audit(&target(server.addr, "gap.test"), &opts, &Policy::default()).await;
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            ("chain.incomplete", Severity::High),
            ("cert.untrusted", Severity::High),
            ("chain.wrong_order", Severity::Low),
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(
        message(&report, "chain.incomplete"),
        "the intermediate CN=tlsaudit test intermediate is not served (2 certificate(s) served; \
         the served CA certificates do not connect to the leaf without it)"
    );
    assert_eq!(report.grade, Grade::T);
}
