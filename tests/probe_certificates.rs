//! The probe engine against in-process rustls servers with per-test certificates: each test names one
//! way an endpoint breaks and asserts the exact finding codes, the grade and the recorded facts.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth, Plain, Server};
use tlsaudit::facts::{ClientAuthDemand, FailureKind};
use tlsaudit::findings::Severity;
use tlsaudit::grade::Grade;
use tlsaudit::policy::Policy;
use tlsaudit::probe::{ClientIdentity, ProbeOptions, Target};
use tlsaudit::report::EndpointReport;

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";
/// Codes every rustls test server yields: none. The servers staple nothing, but the rcgen leaves
/// name no OCSP responder, so a missing staple is no finding.
const BASELINE: &[&str] = &[];

fn options(anchors: &[&Issued]) -> ProbeOptions {
    let mut roots = rustls::RootCertStore::empty();
    for anchor in anchors {
        roots.add(anchor.der.clone()).expect("add root");
    }
    ProbeOptions {
        timeout: Duration::from_secs(2),
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    }
}

fn target(server: &Server, name: &str) -> Target {
    Target {
        host: name.to_owned(),
        port: server.addr.port(),
        address: Some(server.addr),
        server_name: Some(name.to_owned()),
        protocol: tlsaudit::probe::Protocol::Tls,
    }
}

async fn audit(target: &Target, options: &ProbeOptions) -> EndpointReport {
    let facts = tlsaudit::probe::probe(target, options).await;
    EndpointReport::assemble(target, facts, &Policy::default(), jiff::Timestamp::now())
}

fn codes(report: &EndpointReport) -> BTreeSet<String> {
    report
        .findings
        .iter()
        .map(|f| f.code.as_str().to_owned())
        .collect()
}

fn expect(extra: &[&str]) -> BTreeSet<String> {
    BASELINE
        .iter()
        .chain(extra)
        .map(|c| (*c).to_owned())
        .collect()
}

async fn serve(chain: Vec<&Issued>, key: &Issued) -> Server {
    let chain = chain.into_iter().map(|c| c.der.clone()).collect();
    tls_server::start(
        tls_server::config(chain, key.key_der(), ClientAuth::None, &["h2", "http/1.1"]),
        HSTS,
    )
    .await
}

#[tokio::test]
async fn healthy_endpoint_with_full_chain_and_hsts_grades_a_plus() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["healthy.test"]));
    let server = serve(vec![&leaf, &pki.intermediate], &leaf).await;
    let report = audit(&target(&server, "healthy.test"), &options(&[&pki.root])).await;
    assert_eq!(codes(&report), expect(&[]), "{:#?}", report.findings);
    assert_eq!(report.grade, Grade::APlus);
    let facts = &report.facts;
    assert!(facts.trust.verified, "{:?}", facts.trust);
    assert_eq!(facts.chain.len(), 2);
    assert_eq!(facts.chain[0].sans, vec!["healthy.test".to_owned()]);
    assert_eq!(facts.chain[0].key_type, "EC");
    assert_eq!(facts.chain[0].key_bits, 256);
    assert_eq!(facts.alpn.selected.as_deref(), Some("h2"));
    assert_eq!(facts.features.hsts_max_age, Some(31_536_000));
    assert_eq!(facts.sni.default_cert_matches, Some(true));
    assert_eq!(facts.client_auth.demand, ClientAuthDemand::None);
}

#[tokio::test]
async fn expired_leaf_is_reported_with_its_dates_even_though_verification_fails() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["expired.test"]).valid(-100, -3));
    let server = serve(vec![&leaf, &pki.intermediate], &leaf).await;
    let report = audit(&target(&server, "expired.test"), &options(&[&pki.root])).await;
    assert_eq!(
        codes(&report),
        expect(&["cert.expired"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::T);
    assert!(!report.facts.trust.verified);
    assert_eq!(
        report.facts.trust.alert.as_deref(),
        Some("certificate_expired")
    );
    assert_eq!(
        report.facts.trust.path_found,
        Some(true),
        "an expired cert from a trusted CA is not 'untrusted'"
    );
    let leaf_facts = &report.facts.chain[0];
    assert!(leaf_facts.not_after_unix < jiff::Timestamp::now().as_second());
}

#[tokio::test]
async fn not_yet_valid_leaf_is_reported() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["future.test"]).valid(5, 60));
    let server = serve(vec![&leaf, &pki.intermediate], &leaf).await;
    let report = audit(&target(&server, "future.test"), &options(&[&pki.root])).await;
    assert_eq!(
        codes(&report),
        expect(&["cert.not_yet_valid"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::T);
}

#[tokio::test]
async fn expiry_inside_the_critical_window_is_high_and_inside_the_warning_window_is_medium() {
    let pki = Hierarchy::new();
    // 90-day certificates: the day thresholds (14 and 28 days) are sooner than the lifetime shares.
    for (days, severity) in [(10, Severity::High), (20, Severity::Medium)] {
        let leaf = pki.leaf(&Spec::leaf(&["soon.test"]).valid(days - 90, days));
        let server = serve(vec![&leaf, &pki.intermediate], &leaf).await;
        let report = audit(&target(&server, "soon.test"), &options(&[&pki.root])).await;
        assert_eq!(
            codes(&report),
            expect(&["cert.expiring_soon"]),
            "{:#?}",
            report.findings
        );
        let finding = report
            .findings
            .iter()
            .find(|f| f.code.as_str() == "cert.expiring_soon")
            .expect("finding");
        assert_eq!(finding.severity, severity, "{days} days left");
    }
}

#[tokio::test]
async fn certificate_for_another_name_is_a_hostname_mismatch_graded_m() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["other.test"]));
    let server = serve(vec![&leaf, &pki.intermediate], &leaf).await;
    let report = audit(&target(&server, "wanted.test"), &options(&[&pki.root])).await;
    // Without SNI the same certificate comes back: one problem, reported once.
    assert_eq!(
        codes(&report),
        expect(&["cert.hostname_mismatch"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::M);
    assert_eq!(report.facts.trust.path_found, Some(true));
    assert_eq!(report.facts.trust.alert.as_deref(), Some("bad_certificate"));
}

#[tokio::test]
async fn self_signed_leaf_is_reported_as_self_signed_and_graded_t() {
    let leaf = Spec::leaf(&["selfie.test"]).self_signed();
    let server = serve(vec![&leaf], &leaf).await;
    let other_root = Hierarchy::new().root;
    let report = audit(&target(&server, "selfie.test"), &options(&[&other_root])).await;
    assert_eq!(
        codes(&report),
        expect(&["cert.self_signed"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::T);
    assert!(report.facts.chain[0].self_signed);
}

#[tokio::test]
async fn chain_from_an_unknown_private_ca_is_untrusted_with_unknown_ca() {
    let private = Hierarchy::new();
    let leaf = private.leaf(&Spec::leaf(&["private.test"]));
    // The server sends its whole chain including its root, so nothing is missing: only trust is.
    let server = serve(vec![&leaf, &private.intermediate, &private.root], &leaf).await;
    let trusted = Spec::ca("the only trusted root").self_signed();
    let report = audit(&target(&server, "private.test"), &options(&[&trusted])).await;
    assert_eq!(
        codes(&report),
        expect(&["cert.untrusted"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.trust.alert.as_deref(), Some("unknown_ca"));
    assert_eq!(report.grade, Grade::T);
}

#[tokio::test]
async fn leaf_served_without_its_intermediate_is_an_incomplete_chain() {
    let pki = Hierarchy::new();
    // Public CAs name their issuer's URL in every leaf (AIA caIssuers): that is the evidence.
    let aia = "http://ca.test/intermediate.der";
    let leaf = pki.leaf(&Spec::leaf(&["partial.test"]).ca_issuers(aia));
    let server = serve(vec![&leaf], &leaf).await;
    let report = audit(&target(&server, "partial.test"), &options(&[&pki.root])).await;
    assert_eq!(
        codes(&report),
        expect(&["chain.incomplete", "cert.untrusted"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(
        report.facts.trust.missing_issuer.as_deref(),
        Some("CN=tlsaudit test intermediate")
    );
    assert_eq!(report.facts.chain[0].ca_issuers, vec![aia.to_owned()]);
    assert_eq!(report.grade, Grade::T);
}

#[tokio::test]
async fn chain_served_in_the_wrong_order_is_reported() {
    let pki = Hierarchy::new();
    let second = pki.root.issue(&Spec::ca("second intermediate"));
    let leaf = second.issue(&Spec::leaf(&["order.test"]));
    // Leaf, then the root-issued intermediate, then the one that issued the leaf.
    let server = serve(vec![&leaf, &pki.intermediate, &second], &leaf).await;
    let report = audit(&target(&server, "order.test"), &options(&[&pki.root])).await;
    assert!(
        codes(&report).contains("chain.wrong_order"),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.trust.ordered, Some(false));
}

#[tokio::test]
async fn intermediate_that_expires_before_the_leaf_is_reported() {
    let root = Spec::ca("root").self_signed();
    let short = root.issue(&Spec::ca("short-lived intermediate").valid(-30, 20));
    let leaf = short.issue(&Spec::leaf(&["short.test"]).valid(-1, 60));
    let server = serve(vec![&leaf, &short], &leaf).await;
    let report = audit(&target(&server, "short.test"), &options(&[&root])).await;
    assert_eq!(
        codes(&report),
        expect(&["chain.expiring_intermediate"]),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn long_lived_leaf_from_a_private_ca_is_no_finding_without_a_policy_limit() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["long.test"]).valid(-1, 800));
    let server = serve(vec![&leaf, &pki.intermediate], &leaf).await;
    let report = audit(&target(&server, "long.test"), &options(&[&pki.root])).await;
    assert_eq!(codes(&report), expect(&[]), "{:#?}", report.findings);
    assert!(
        !report.facts.trust.public,
        "a test CA is not in the web PKI"
    );
}

#[tokio::test]
async fn default_certificate_served_without_sni_that_does_not_match_is_reported() {
    let pki = Hierarchy::new();
    let right = pki.leaf(&Spec::leaf(&["app.test"]));
    let default = pki.leaf(&Spec::leaf(&["default.test"]));
    let config = tls_server::sni_config(
        vec![(
            "app.test",
            vec![right.der.clone(), pki.intermediate.der.clone()],
            right.key_der(),
        )],
        (
            vec![default.der.clone(), pki.intermediate.der.clone()],
            default.key_der(),
        ),
    );
    let server = tls_server::start(config, HSTS).await;
    let report = audit(&target(&server, "app.test"), &options(&[&pki.root])).await;
    assert_eq!(
        codes(&report),
        expect(&["sni.default_cert_mismatch", "alpn.no_h2"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.chain[0].sans, vec!["app.test".to_owned()]);
    assert_eq!(
        report.facts.sni.default_leaf_sha256.as_deref(),
        Some(tlsaudit::cert::sha256_hex(&default.der).as_str())
    );
}

#[tokio::test]
async fn server_selecting_only_http1_is_reported_as_no_h2() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["h1.test"]));
    let config = tls_server::config(
        vec![leaf.der.clone(), pki.intermediate.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &["http/1.1"],
    );
    let server = tls_server::start(config, HSTS).await;
    let report = audit(&target(&server, "h1.test"), &options(&[&pki.root])).await;
    assert_eq!(
        codes(&report),
        expect(&["alpn.no_h2"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.alpn.selected.as_deref(), Some("http/1.1"));
}

/// A server for `mtls.test` that asks for a client certificate from its own client CA (required
/// or optional); returns the server PKI (its root is the audit's trust), the client CA and the server.
async fn mtls_server(required: bool) -> (Hierarchy, Issued, Server) {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["mtls.test"]));
    let client_ca = Spec::ca("client ca").self_signed();
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots
        .add(client_ca.der.clone())
        .expect("client root");
    let client_auth = if required {
        ClientAuth::Required(client_roots)
    } else {
        ClientAuth::Optional(client_roots)
    };
    let config = tls_server::config(
        vec![leaf.der.clone(), pki.intermediate.der.clone()],
        leaf.key_der(),
        client_auth,
        // An h2 server that also speaks http/1.1, as web servers do: `GET /` (HTTP/1.1) goes over
        // a connection that offers only http/1.1, which an h2-only server would refuse.
        &["h2", "http/1.1"],
    );
    let server = tls_server::start(config, HSTS).await;
    (pki, client_ca, server)
}

fn identity(cert: &Issued) -> Arc<ClientIdentity> {
    Arc::new(
        ClientIdentity::from_pem(cert.pem.as_bytes(), cert.key_pem().as_bytes()).expect("identity"),
    )
}

#[tokio::test]
async fn required_client_certificate_without_one_is_reported_missing_with_the_alert() {
    let (pki, _client_ca, server) = mtls_server(true).await;
    let report = audit(&target(&server, "mtls.test"), &options(&[&pki.root])).await;
    assert_eq!(
        codes(&report),
        expect(&["mtls.required", "mtls.client_cert_missing"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.client_auth.demand, ClientAuthDemand::Required);
    assert_eq!(
        report.facts.client_auth.alert.as_deref(),
        Some("certificate_required")
    );
    assert_eq!(
        report.facts.chain.len(),
        2,
        "the served chain is recorded although the handshake failed"
    );
}

#[tokio::test]
async fn required_client_certificate_that_the_server_trusts_is_accepted() {
    let (pki, client_ca, server) = mtls_server(true).await;
    let client = client_ca.issue(&Spec::leaf(&["client.test"]).valid(-70, 20));
    let mut opts = options(&[&pki.root]);
    opts.client_identity = Some(identity(&client));
    let report = audit(&target(&server, "mtls.test"), &opts).await;
    // The 90-day client certificate expires in 20 days: inside the 28-day warning window.
    assert_eq!(
        codes(&report),
        expect(&["mtls.required", "mtls.client_cert_expiring"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.client_auth.identity_accepted, Some(true));
    assert_eq!(report.facts.client_auth.demand, ClientAuthDemand::Required);
    assert_eq!(report.facts.features.hsts_max_age, Some(31_536_000));
}

#[tokio::test]
async fn client_certificate_from_a_ca_the_server_does_not_trust_is_rejected() {
    let (pki, _client_ca, server) = mtls_server(true).await;
    let stranger = Spec::ca("stranger ca")
        .self_signed()
        .issue(&Spec::leaf(&["client.test"]));
    let mut opts = options(&[&pki.root]);
    opts.client_identity = Some(identity(&stranger));
    let report = audit(&target(&server, "mtls.test"), &opts).await;
    assert_eq!(
        codes(&report),
        expect(&["mtls.required", "mtls.client_cert_rejected"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.client_auth.identity_accepted, Some(false));
    assert_eq!(
        report.facts.client_auth.alert.as_deref(),
        Some("unknown_ca")
    );
}

#[tokio::test]
async fn optional_client_certificate_request_is_reported_as_mtls_optional() {
    let (pki, _client_ca, server) = mtls_server(false).await;
    let report = audit(&target(&server, "mtls.test"), &options(&[&pki.root])).await;
    // Issue 9 item 4: anyone passes the TLS layer of a server that only requests a certificate.
    assert_eq!(
        codes(&report),
        expect(&["mtls.optional"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.facts.client_auth.demand, ClientAuthDemand::Optional);
    assert_eq!(
        report.facts.client_auth.http_status_without_certificate,
        Some(200)
    );
}

async fn plain(kind: Plain) -> (EndpointReport, Duration) {
    let server = tls_server::start_plain(kind).await;
    let started = std::time::Instant::now();
    let mut opts = options(&[]);
    opts.timeout = Duration::from_millis(500);
    let report = audit(&target(&server, "plain.test"), &opts).await;
    (report, started.elapsed())
}

#[tokio::test]
async fn refused_port_is_connect_refused_and_unreachable() {
    let addr = tls_server::closed_port();
    let t = Target {
        host: "127.0.0.1".into(),
        port: addr.port(),
        address: Some(addr),
        server_name: None,
        protocol: tlsaudit::probe::Protocol::Tls,
    };
    let report = audit(&t, &options(&[])).await;
    assert_eq!(codes(&report), ["connect.refused".to_owned()].into());
    assert_eq!(report.grade, Grade::F);
    assert!(!report.facts.reachable);
}

#[tokio::test]
async fn silent_server_ends_by_timeout_with_a_finding() {
    let (report, elapsed) = plain(Plain::Silent).await;
    assert_eq!(
        codes(&report),
        ["connect.timeout".to_owned()].into(),
        "{:#?}",
        report.findings
    );
    assert_eq!(
        report.facts.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Timeout)
    );
    // Bounded by the per-exchange deadline, not hanging: generous margin for a loaded machine.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[tokio::test]
async fn plain_http_on_the_port_is_not_tls() {
    let (report, _) = plain(Plain::Http).await;
    assert_eq!(
        codes(&report),
        ["tls.not_tls".to_owned()].into(),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn garbage_and_oversized_records_end_in_a_finding_not_a_panic() {
    for kind in [Plain::Garbage, Plain::HugeRecord, Plain::Close] {
        let (report, _) = plain(kind).await;
        assert!(!report.facts.reachable);
        assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
        let code = report.findings[0].code.as_str();
        assert!(
            [
                "tls.not_tls",
                "connect.reset",
                "connect.timeout",
                "tls.handshake_failed"
            ]
            .contains(&code),
            "{code}"
        );
        assert_eq!(report.grade, Grade::F);
    }
}

#[tokio::test]
async fn certificate_that_is_not_x509_is_reported_unparsable_and_graded_t() {
    let (report, _) = plain(Plain::BadCertificate).await;
    assert!(report.facts.chain.is_empty());
    assert_eq!(report.facts.trust.unparsable, 1);
    // rustls stops at the missing ServerKeyExchange; the raw TLS 1.2 hello read the certificate.
    // The hand-built ServerHello has no extended_master_secret, and without TLS 1.3 there is no
    // post-quantum key exchange.
    assert_eq!(
        codes(&report),
        [
            "cert.unparsable",
            "kex.no_pq_hybrid",
            "protocol.no_tls1_3",
            "tls.handshake_failed",
            "tls.no_extended_master_secret"
        ]
        .map(str::to_owned)
        .into()
    );
    assert_eq!(report.grade, Grade::T);
}
