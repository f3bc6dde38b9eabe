//! The certificate-lifetime and revocation rules as pure functions of (facts, policy, now): the
//! CA/Browser Forum maximum validity on public chains (BR §6.3.2, ballot SC-081), the private-CA
//! policy limit, lifetime-relative expiry thresholds and the OCSP staple findings. The endpoint is
//! `fixtures::healthy` with its leaf replaced; leaves with revocation extensions are generated with
//! rcgen and parsed by `cert::cert_facts`. Dates are set exactly and the clock is fixed.

mod support;

use support::pki::{Hierarchy, Spec};
use tlsaudit::evaluate::evaluate;
use tlsaudit::facts::{CertFacts, Facts};
use tlsaudit::findings::{Code, Finding, Severity};
use tlsaudit::fixtures::{self, CertBuilder, INTERMEDIATE};
use tlsaudit::policy::Policy;

const DAY: i64 = 86_400;
const HOUR: i64 = 3600;
/// 2026-03-15T00:00:00Z, the first SC-081 phase (200 days).
const PHASE_200: i64 = 1_773_532_800;

fn leaf(spec: &Spec) -> CertFacts {
    let pki = Hierarchy::new();
    tlsaudit::cert::cert_facts(&pki.leaf(spec).der).expect("parse leaf")
}

/// A healthy endpoint serving `leaf`, valid from `not_before` for `period` seconds (inclusive
/// validity: notAfter = notBefore + period − 1 s).
fn endpoint(leaf: CertFacts, not_before: i64, period: i64, public: bool) -> Facts {
    let mut facts = fixtures::healthy("rules.test", not_before);
    let dated = CertBuilder::leaf("rules.test", INTERMEDIATE)
        .valid(not_before, not_before + period - 1)
        .build();
    facts.chain[0] = CertFacts {
        revocation: leaf.revocation,
        ..dated
    };
    facts.trust.public = public;
    facts
}

fn plain_leaf() -> CertFacts {
    CertBuilder::leaf("rules.test", INTERMEDIATE).build()
}

/// Findings of the certificate rules at `now` (other areas have no facts here and stay silent).
fn judge(facts: &Facts, policy: &Policy, now: i64) -> Vec<Finding> {
    evaluate(
        facts,
        Some("rules.test"),
        policy,
        jiff::Timestamp::from_second(now).expect("timestamp in range"),
    )
}

fn codes(findings: &[Finding]) -> Vec<(Code, Severity)> {
    findings.iter().map(|f| (f.code, f.severity)).collect()
}

#[test]
fn a_public_250_day_leaf_issued_after_2026_03_15_breaks_the_200_day_limit() {
    let not_before = PHASE_200 + 17 * DAY;
    let facts = endpoint(plain_leaf(), not_before, 250 * DAY, true);
    let findings = judge(&facts, &Policy::default(), not_before + DAY);
    assert_eq!(codes(&findings), [(Code::CertLongValidity, Severity::Low)]);
    assert_eq!(
        findings[0].message,
        "the leaf is valid for 250 days from 2026-04-01T00:00:00Z; the CA/Browser Forum Baseline \
         Requirements (§6.3.2, ballot SC-081) allow at most 200 days"
    );
}

#[test]
fn a_public_398_day_leaf_dated_inside_the_48_hours_after_the_boundary_is_accepted() {
    let not_before = PHASE_200 + 47 * HOUR;
    let facts = endpoint(plain_leaf(), not_before, 398 * DAY, true);
    assert_eq!(
        codes(&judge(&facts, &Policy::default(), not_before + DAY)),
        []
    );
}

#[test]
fn a_public_398_day_leaf_dated_48_hours_after_the_boundary_is_too_long() {
    let not_before = PHASE_200 + 48 * HOUR;
    let facts = endpoint(plain_leaf(), not_before, 398 * DAY, true);
    assert_eq!(
        codes(&judge(&facts, &Policy::default(), not_before + DAY)),
        [(Code::CertLongValidity, Severity::Low)]
    );
}

#[test]
fn a_public_leaf_one_second_over_200_days_counts_as_201_days() {
    let not_before = PHASE_200 + 30 * DAY;
    let at_limit = endpoint(plain_leaf(), not_before, 200 * DAY, true);
    assert_eq!(codes(&judge(&at_limit, &Policy::default(), not_before)), []);
    let over = endpoint(plain_leaf(), not_before, 200 * DAY + 1, true);
    let findings = judge(&over, &Policy::default(), not_before);
    assert_eq!(codes(&findings), [(Code::CertLongValidity, Severity::Low)]);
    assert!(findings[0].message.contains("valid for 201 days"));
}

#[test]
fn a_private_ca_leaf_is_judged_only_against_the_policy_limit() {
    let not_before = PHASE_200 + 17 * DAY;
    let facts = endpoint(plain_leaf(), not_before, 825 * DAY, false);
    assert_eq!(
        codes(&judge(&facts, &Policy::default(), not_before + DAY)),
        []
    );
    let policy = Policy {
        max_validity_days: Some(730),
        ..Policy::default()
    };
    let findings = judge(&facts, &policy, not_before + DAY);
    assert_eq!(codes(&findings), [(Code::CertLongValidity, Severity::Low)]);
    assert!(
        findings[0]
            .message
            .ends_with("the policy (maxValidityDays) allows at most 730 days"),
        "{}",
        findings[0].message
    );
}

#[test]
fn a_six_day_certificate_renewed_at_two_thirds_never_raises_expiry() {
    let period = 160 * HOUR;
    let facts = endpoint(plain_leaf(), PHASE_200, period, true);
    // Just before renewal: a third of the lifetime (53.3 h) is left.
    let renewal = PHASE_200 + period * 2 / 3;
    assert_eq!(codes(&judge(&facts, &Policy::default(), renewal)), []);
    assert_eq!(codes(&judge(&facts, &Policy::default(), PHASE_200)), []);
}

#[test]
fn a_six_day_certificate_left_past_its_renewal_warns_then_goes_critical() {
    let period = 160 * HOUR;
    let facts = endpoint(plain_leaf(), PHASE_200, period, true);
    let warn = judge(&facts, &Policy::default(), PHASE_200 + period - 40 * HOUR);
    assert_eq!(codes(&warn), [(Code::CertExpiringSoon, Severity::Medium)]);
    assert!(
        warn[0].message.ends_with(
            "(40 hours left); warning threshold: 33% of its lifetime of 6.7 days \
             (2.2 days, sooner than 28 days)"
        ),
        "{}",
        warn[0].message
    );
    let critical = judge(&facts, &Policy::default(), PHASE_200 + period - 20 * HOUR);
    assert_eq!(codes(&critical), [(Code::CertExpiringSoon, Severity::High)]);
}

#[test]
fn a_45_day_certificate_renewed_on_schedule_raises_nothing_but_warns_when_overdue() {
    let facts = endpoint(plain_leaf(), PHASE_200, 45 * DAY, true);
    let at_renewal = PHASE_200 + 30 * DAY; // 15 days left: under 28 days, over 33% of 45
    assert_eq!(codes(&judge(&facts, &Policy::default(), at_renewal)), []);
    let overdue = judge(&facts, &Policy::default(), PHASE_200 + 35 * DAY);
    assert_eq!(
        codes(&overdue),
        [(Code::CertExpiringSoon, Severity::Medium)]
    );
    let late = judge(&facts, &Policy::default(), PHASE_200 + 40 * DAY);
    assert_eq!(codes(&late), [(Code::CertExpiringSoon, Severity::High)]);
}

#[test]
fn a_90_day_certificate_follows_the_day_thresholds() {
    let facts = endpoint(plain_leaf(), PHASE_200, 90 * DAY, true);
    let five_left = judge(&facts, &Policy::default(), PHASE_200 + 85 * DAY);
    assert_eq!(
        codes(&five_left),
        [(Code::CertExpiringSoon, Severity::High)]
    );
    assert!(
        five_left[0]
            .message
            .ends_with("(5 days left); critical threshold: 14 days"),
        "{}",
        five_left[0].message
    );
    let twenty_left = judge(&facts, &Policy::default(), PHASE_200 + 70 * DAY);
    assert_eq!(
        codes(&twenty_left),
        [(Code::CertExpiringSoon, Severity::Medium)]
    );
    assert_eq!(
        codes(&judge(&facts, &Policy::default(), PHASE_200 + 60 * DAY)),
        []
    );
}

#[test]
fn lifetime_percent_100_restores_the_day_only_rule() {
    let facts = endpoint(plain_leaf(), PHASE_200, 160 * HOUR, true);
    let policy = Policy {
        warning_lifetime_percent: 100,
        critical_lifetime_percent: 100,
        ..Policy::default()
    };
    assert_eq!(
        codes(&judge(&facts, &policy, PHASE_200 + HOUR)),
        [(Code::CertExpiringSoon, Severity::High)]
    );
}

#[test]
fn the_client_certificate_follows_the_same_lifetime_rule() {
    let mut facts = endpoint(plain_leaf(), PHASE_200, 90 * DAY, true);
    let mut client = facts.chain[0].clone();
    client.not_before_unix = PHASE_200;
    client.not_after_unix = PHASE_200 + 160 * HOUR - 1;
    facts.client_auth.client_cert = Some(client);
    let now = PHASE_200 + 100 * HOUR; // 60 h of 160 h left
    assert_eq!(codes(&judge(&facts, &Policy::default(), now)), []);
    let late = judge(&facts, &Policy::default(), PHASE_200 + 150 * HOUR);
    assert_eq!(
        codes(&late),
        [(Code::MtlsClientCertExpiring, Severity::High)]
    );
}

#[test]
fn revocation_sources_and_must_staple_are_recorded_from_the_extensions() {
    let with = leaf(
        &Spec::leaf(&["rules.test"])
            .ocsp("http://ocsp.rules.test")
            .crl("http://crl.rules.test/1.crl")
            .must_staple(),
    );
    assert_eq!(with.revocation.ocsp_urls, ["http://ocsp.rules.test"]);
    assert_eq!(with.revocation.crl_urls, ["http://crl.rules.test/1.crl"]);
    assert!(with.revocation.must_staple);
    let without = leaf(&Spec::leaf(&["rules.test"]));
    assert!(without.revocation.ocsp_urls.is_empty() && without.revocation.crl_urls.is_empty());
    assert!(!without.revocation.must_staple);
}

#[test]
fn a_missing_staple_is_info_only_when_the_leaf_names_an_ocsp_responder() {
    let now = PHASE_200 + DAY;
    let without_url = endpoint(plain_leaf(), PHASE_200, 90 * DAY, true);
    assert_eq!(codes(&judge(&without_url, &Policy::default(), now)), []);
    let crl_only = leaf(&Spec::leaf(&["rules.test"]).crl("http://crl.rules.test/1.crl"));
    let crl_only = endpoint(crl_only, PHASE_200, 90 * DAY, true);
    assert_eq!(codes(&judge(&crl_only, &Policy::default(), now)), []);
    let with_url = leaf(&Spec::leaf(&["rules.test"]).ocsp("http://ocsp.rules.test"));
    let findings = judge(
        &endpoint(with_url, PHASE_200, 90 * DAY, true),
        &Policy::default(),
        now,
    );
    assert_eq!(codes(&findings), [(Code::OcspNotStapled, Severity::Info)]);
    assert_eq!(
        findings[0].message,
        "no OCSP response stapled; the leaf names the responder http://ocsp.rules.test"
    );
}

#[test]
fn must_staple_without_a_staple_is_high_and_with_one_is_silent() {
    let now = PHASE_200 + DAY;
    let must = leaf(
        &Spec::leaf(&["rules.test"])
            .ocsp("http://ocsp.rules.test")
            .must_staple(),
    );
    let mut facts = endpoint(must, PHASE_200, 90 * DAY, true);
    assert_eq!(
        codes(&judge(&facts, &Policy::default(), now)),
        [(Code::OcspMustStapleMissing, Severity::High)]
    );
    facts.ocsp.stapled = true;
    facts.ocsp.status = Some("good".into());
    facts.ocsp.next_update_unix = Some(now + DAY);
    assert_eq!(codes(&judge(&facts, &Policy::default(), now)), []);
}

#[test]
fn no_staple_finding_without_a_completed_handshake() {
    let must = leaf(&Spec::leaf(&["rules.test"]).must_staple());
    let mut facts = endpoint(must, PHASE_200, 90 * DAY, true);
    facts.negotiated = None;
    assert_eq!(
        codes(&judge(&facts, &Policy::default(), PHASE_200 + DAY)),
        []
    );
}
