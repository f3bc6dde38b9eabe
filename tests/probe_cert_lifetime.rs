//! Certificate lifetime and revocation rules against in-process rustls servers: short-lived
//! certificates renewed on schedule raise nothing, a 90-day certificate with 5 days left is high,
//! the private-CA validity limit comes from the policy, and a missing OCSP staple matters only when
//! the leaf names a responder (info) or demands a staple (high).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth, Server};
use tlsaudit::findings::Severity;
use tlsaudit::grade::Grade;
use tlsaudit::policy::Policy;
use tlsaudit::probe::{ProbeOptions, Target};
use tlsaudit::report::EndpointReport;

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

async fn audit_with(spec: Spec, policy: &Policy) -> EndpointReport {
    let pki = Hierarchy::new();
    let name = spec.cn.clone();
    let leaf = pki.leaf(&spec);
    let server = serve(&leaf, &pki.intermediate).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.root.der.clone()).expect("add root");
    let options = ProbeOptions {
        timeout: Duration::from_secs(2),
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    };
    let target = Target {
        host: name.clone(),
        port: server.addr.port(),
        address: Some(server.addr),
        server_name: Some(name),
        protocol: tlsaudit::probe::Protocol::Tls,
    };
    let facts = tlsaudit::probe::probe(&target, &options).await;
    EndpointReport::assemble(&target, facts, policy, jiff::Timestamp::now())
}

async fn audit(spec: Spec) -> EndpointReport {
    audit_with(spec, &Policy::default()).await
}

async fn serve(leaf: &Issued, intermediate: &Issued) -> Server {
    let chain = vec![leaf.der.clone(), intermediate.der.clone()];
    tls_server::start(
        tls_server::config(chain, leaf.key_der(), ClientAuth::None, &["h2", "http/1.1"]),
        HSTS,
    )
    .await
}

fn findings(report: &EndpointReport) -> BTreeSet<(String, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.code.as_str().to_owned(), f.severity))
        .collect()
}

fn only(code: &str, severity: Severity) -> BTreeSet<(String, Severity)> {
    BTreeSet::from([(code.to_owned(), severity)])
}

#[tokio::test]
async fn a_six_day_certificate_renewed_on_schedule_raises_no_expiry_finding() {
    // Let's Encrypt's shortlived profile: 160 hours. 100 hours in, 60 hours (37 %) are left.
    let report = audit(Spec::leaf(&["short.test"]).valid_hours(-100, 60)).await;
    assert_eq!(findings(&report), BTreeSet::new(), "{:#?}", report.findings);
    assert_eq!(report.grade, Grade::APlus);
}

#[tokio::test]
async fn a_45_day_certificate_renewed_on_schedule_raises_no_expiry_finding() {
    // 16 days left: inside the 28-day window, but more than a third of 45 days.
    let report = audit(Spec::leaf(&["tlsserver.test"]).valid(-29, 16)).await;
    assert_eq!(findings(&report), BTreeSet::new(), "{:#?}", report.findings);
}

#[tokio::test]
async fn a_90_day_certificate_with_5_days_left_is_expiring_soon_at_high() {
    let report = audit(Spec::leaf(&["classic.test"]).valid(-85, 5)).await;
    assert_eq!(
        findings(&report),
        only("cert.expiring_soon", Severity::High),
        "{:#?}",
        report.findings
    );
    assert!(
        report.findings[0]
            .message
            .ends_with("critical threshold: 14 days"),
        "{}",
        report.findings[0].message
    );
}

#[tokio::test]
async fn a_250_day_private_ca_leaf_breaks_only_the_policy_limit() {
    let spec = Spec::leaf(&["private.test"]).valid(-10, 240);
    let policy = Policy {
        max_validity_days: Some(200),
        ..Policy::default()
    };
    let report = audit_with(spec, &policy).await;
    assert_eq!(
        findings(&report),
        only("cert.long_validity", Severity::Low),
        "{:#?}",
        report.findings
    );
    assert!(!report.facts.trust.public);
    assert!(
        report.findings[0]
            .message
            .ends_with("the policy (maxValidityDays) allows at most 200 days"),
        "{}",
        report.findings[0].message
    );
}

#[tokio::test]
async fn a_leaf_naming_an_ocsp_responder_without_a_staple_is_info() {
    let spec = Spec::leaf(&["ocsp.test"])
        .ocsp("http://ocsp.ocsp.test")
        .crl("http://crl.ocsp.test/ca.crl");
    let report = audit(spec).await;
    assert_eq!(
        findings(&report),
        only("ocsp.not_stapled", Severity::Info),
        "{:#?}",
        report.findings
    );
    let revocation = &report.facts.chain[0].revocation;
    assert_eq!(revocation.ocsp_urls, ["http://ocsp.ocsp.test"]);
    assert_eq!(revocation.crl_urls, ["http://crl.ocsp.test/ca.crl"]);
    assert!(!revocation.must_staple);
    assert!(!report.facts.ocsp.stapled);
    assert_eq!(report.grade, Grade::APlus);
}

#[tokio::test]
async fn a_leaf_with_only_a_crl_url_and_no_staple_is_no_finding() {
    let report = audit(Spec::leaf(&["crl.test"]).crl("http://crl.crl.test/ca.crl")).await;
    assert_eq!(findings(&report), BTreeSet::new(), "{:#?}", report.findings);
    assert_eq!(
        report.facts.chain[0].revocation.crl_urls,
        ["http://crl.crl.test/ca.crl"]
    );
}

#[tokio::test]
async fn a_must_staple_leaf_served_without_a_staple_is_high() {
    let spec = Spec::leaf(&["muststaple.test"])
        .ocsp("http://ocsp.muststaple.test")
        .must_staple();
    let report = audit(spec).await;
    assert_eq!(
        findings(&report),
        only("ocsp.must_staple_missing", Severity::High),
        "{:#?}",
        report.findings
    );
    assert!(report.facts.chain[0].revocation.must_staple);
}
