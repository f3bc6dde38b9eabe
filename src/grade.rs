//! Findings and facts → an SSL Labs–style grade and the best Mozilla profile met (pure).
//! docs/grading.md documents the caps.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::evaluate::HSTS_MIN_SECONDS;
use crate::facts::{Facts, TlsVersion};
use crate::findings::{Code, Finding, Severity};
use crate::policy::Profile;
use crate::tls::suites::{self, Suite};

/// The endpoint's grade, best first: A+, A … E, M (name mismatch), T (trust problem), F. `M` and
/// `T` replace the letter of a working handshake (`T` wins over `M`); only `F` is worse.
// The variant order is the one order of "worse" (the derived `Ord`): status, metrics and
// `minimumGrade` compare grades with it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Grade {
    /// A+: A with HSTS of at least 6 months.
    #[serde(rename = "A+")]
    APlus,
    /// A.
    A,
    /// B.
    B,
    /// C.
    C,
    /// D.
    D,
    /// E.
    E,
    /// Certificate name mismatch.
    M,
    /// Certificate not trusted.
    T,
    /// F.
    F,
}

impl Grade {
    /// Every grade, best first.
    pub const ALL: [Grade; 9] = [
        Self::APlus,
        Self::A,
        Self::B,
        Self::C,
        Self::D,
        Self::E,
        Self::M,
        Self::T,
        Self::F,
    ];

    /// Display text, e.g. `A+`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::APlus => "A+",
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
            Self::E => "E",
            Self::F => "F",
            Self::T => "T",
            Self::M => "M",
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The letter cap a finding imposes (documented in docs/grading.md).
#[must_use]
pub fn cap(code: Code) -> Grade {
    match code {
        Code::ConnectRefused
        | Code::ConnectTimeout
        | Code::ConnectReset
        | Code::ConnectFailed
        | Code::TlsNotTls
        | Code::TlsHandshakeFailed
        | Code::ProtocolSslv3
        | Code::CipherNull
        | Code::CipherAnon
        | Code::CipherExport
        | Code::OcspRevoked => Grade::F,
        Code::ProtocolLegacyOnly
        | Code::CipherRc4
        | Code::Cipher3des
        | Code::TlsCompression
        | Code::TlsInsecureRenegotiation => Grade::C,
        Code::ProtocolTls10
        | Code::ProtocolTls11
        | Code::CipherNoForwardSecrecy
        | Code::CipherCbcOnly
        | Code::CipherWeakPreferred
        | Code::CipherWeakDh
        | Code::CertWeakKey
        | Code::CertWeakSignature
        | Code::ChainIncomplete => Grade::B,
        _ => Grade::A,
    }
}

/// A handshake failure of a current client on an endpoint that still answers older hellos caps at C,
/// not F: the server works for some clients.
fn finding_cap(finding: &Finding) -> Grade {
    match finding.code {
        Code::TlsHandshakeFailed if finding.severity < Severity::Critical => Grade::C,
        code => cap(code),
    }
}

/// Findings that make the grade `T` (clients do not trust the certificate).
fn is_trust_problem(code: Code) -> bool {
    matches!(
        code,
        Code::CertUnparsable
            | Code::CertUntrusted
            | Code::CertSelfSigned
            | Code::CertExpired
            | Code::CertNotYetValid
    )
}

/// The grade of an endpoint: the worst cap of its findings; `T` for trust problems, `M` for a name
/// mismatch (a failed connection stays `F`); `A+` for an `A` with HSTS of 180 days or more and no
/// finding above low.
#[must_use]
pub fn grade(facts: &Facts, findings: &[Finding]) -> Grade {
    if !facts.reachable {
        return Grade::F;
    }
    let letter = findings.iter().map(finding_cap).max().unwrap_or(Grade::A);
    if letter == Grade::F {
        return Grade::F;
    }
    if findings.iter().any(|f| is_trust_problem(f.code)) {
        return Grade::T;
    }
    if findings
        .iter()
        .any(|f| f.code == Code::CertHostnameMismatch)
    {
        return Grade::M;
    }
    let hsts = facts
        .features
        .hsts_max_age
        .is_some_and(|age| age >= HSTS_MIN_SECONDS);
    let clean = findings.iter().all(|f| f.severity <= Severity::Low);
    if letter == Grade::A && hsts && clean {
        Grade::APlus
    } else {
        letter
    }
}

/// Mozilla intermediate's TLS 1.2 suites: ECDHE/DHE with AES-GCM or ChaCha20-Poly1305.
fn intermediate_suite(suite: &Suite) -> bool {
    suite.forward_secret() && suite.aead()
}

/// Mozilla old's suites: anything but NULL, anonymous, EXPORT, RC4 and single DES.
fn old_suite(suite: &Suite) -> bool {
    !(suite.is_null() || suite.is_anon() || suite.is_export() || suite.is_rc4())
}

/// The strictest Mozilla profile (server-side TLS guidelines v5.7) the endpoint meets, if any.
#[must_use]
pub fn best_profile(facts: &Facts) -> Option<Profile> {
    let p = &facts.protocols;
    let accepted = p.accepted();
    if accepted.is_empty() {
        return None;
    }
    let suites: Vec<&Suite> = facts
        .ciphers
        .iter()
        .filter(|v| v.version != TlsVersion::Tls13)
        .flat_map(|v| v.suites.iter())
        .filter_map(|s| suites::lookup(s.id))
        .collect();
    if accepted == [TlsVersion::Tls13] {
        return Some(Profile::Modern);
    }
    let strong_key = facts
        .chain
        .first()
        .is_none_or(|leaf| match leaf.key_type.as_str() {
            "RSA" => leaf.key_bits >= 2048,
            "EC" => leaf.key_bits >= 256,
            _ => true,
        });
    if accepted.iter().all(|v| *v >= TlsVersion::Tls12)
        && suites.iter().all(|s| intermediate_suite(s))
        && strong_key
    {
        return Some(Profile::Intermediate);
    }
    let no_ssl3 = p.ssl3 != Some(true);
    (no_ssl3 && suites.iter().all(|s| old_suite(s))).then_some(Profile::Old)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::evaluate;
    use crate::facts::{Failure, FailureKind, OcspFacts, TrustFacts};
    use crate::fixtures::{self, CertBuilder, DAY, INTERMEDIATE};
    use crate::policy::Policy;

    /// The fixed clock: 2026-03-01T00:00:00Z.
    const NOW: i64 = 1_772_323_200;
    const NAME: &str = "web.shop.svc";

    fn healthy() -> Facts {
        fixtures::healthy(NAME, NOW)
    }

    /// One fact pattern, judged for `name` at `at` under the default policy.
    struct Case {
        pattern: &'static str,
        facts: Facts,
        name: &'static str,
        at: i64,
    }

    /// `facts` of `NAME`, judged at `NOW`.
    fn case(pattern: &'static str, facts: Facts) -> Case {
        Case {
            pattern,
            facts,
            name: NAME,
            at: NOW,
        }
    }

    impl Case {
        fn named(self, name: &'static str) -> Self {
            Self { name, ..self }
        }

        fn at(self, at: i64) -> Self {
            Self { at, ..self }
        }
    }

    /// Each case's grade and best profile are the expected ones.
    fn assert_judged(cases: Vec<(Case, Grade, Option<Profile>)>) {
        for (case, grade_expected, profile_expected) in cases {
            let now = jiff::Timestamp::from_second(case.at).unwrap();
            let findings = evaluate(&case.facts, Some(case.name), &Policy::default(), now);
            assert_eq!(
                (grade(&case.facts, &findings), best_profile(&case.facts)),
                (grade_expected, profile_expected),
                "{}: {findings:?}",
                case.pattern
            );
        }
    }

    fn with_tls12_suite(suite: (u16, &str)) -> Facts {
        let mut facts = healthy();
        facts.ciphers[0] = fixtures::suites(
            TlsVersion::Tls12,
            &[(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), suite],
        );
        facts
    }

    fn changed(change: impl FnOnce(&mut Facts)) -> Facts {
        let mut facts = healthy();
        change(&mut facts);
        facts
    }

    fn failed(kind: FailureKind, alert: Option<&str>) -> Failure {
        Failure {
            kind,
            alert: alert.map(str::to_owned),
            detail: "what the socket said".into(),
        }
    }

    #[test]
    fn versions_hsts_and_connection_failures_grade_as_documented() {
        use Profile::{Intermediate, Modern, Old};
        assert_judged(vec![
            (case("healthy", healthy()), Grade::APlus, Some(Intermediate)),
            (
                case("no HSTS", changed(|f| f.features.hsts_max_age = None)),
                Grade::A,
                Some(Intermediate),
            ),
            (
                case(
                    "no TLS 1.3 (a low finding keeps A+)",
                    changed(|f| f.protocols.set(TlsVersion::Tls13, false)),
                ),
                Grade::APlus,
                Some(Intermediate),
            ),
            (
                case(
                    "TLS 1.3 only",
                    changed(|f| {
                        f.protocols.set(TlsVersion::Tls12, false);
                        f.ciphers.remove(0);
                    }),
                ),
                Grade::A,
                Some(Modern),
            ),
            (
                case(
                    "TLS 1.0 enabled",
                    changed(|f| f.protocols.set(TlsVersion::Tls10, true)),
                ),
                Grade::B,
                Some(Old),
            ),
            (
                case(
                    "SSLv3 enabled",
                    changed(|f| f.protocols.set(TlsVersion::Ssl3, true)),
                ),
                Grade::F,
                None,
            ),
            (
                case(
                    "a current client fails where raw hellos succeed",
                    changed(|f| {
                        f.negotiated = None;
                        f.failure = Some(failed(FailureKind::Handshake, Some("handshake_failure")));
                    }),
                ),
                Grade::C,
                Some(Intermediate),
            ),
            (
                case(
                    "connection refused",
                    Facts {
                        failure: Some(failed(FailureKind::Refused, None)),
                        ..Facts::default()
                    },
                ),
                Grade::F,
                None,
            ),
        ]);
    }

    #[test]
    fn certificate_patterns_grade_t_m_or_by_their_caps() {
        use Profile::{Intermediate, Old};
        let untrusted = TrustFacts {
            verified: false,
            alert: Some("unknown_ca".into()),
            path_found: Some(false),
            ordered: Some(true),
            ..TrustFacts::default()
        };
        let untrusted_facts = changed(|f| f.trust = untrusted);
        assert_judged(vec![
            (
                case("expired", healthy()).at(NOW + 61 * DAY),
                Grade::T,
                Some(Intermediate),
            ),
            (
                case("expiring, warning window", healthy()).at(NOW + 40 * DAY),
                Grade::A,
                Some(Intermediate),
            ),
            (
                case("expiring, critical window", healthy()).at(NOW + 50 * DAY),
                Grade::A,
                Some(Intermediate),
            ),
            (
                case("not yet valid", healthy()).at(NOW - 31 * DAY),
                Grade::T,
                Some(Intermediate),
            ),
            (
                case("untrusted", untrusted_facts.clone()),
                Grade::T,
                Some(Intermediate),
            ),
            (
                case("hostname mismatch", healthy()).named("api.shop.svc"),
                Grade::M,
                Some(Intermediate),
            ),
            (
                case("untrusted and mismatched", untrusted_facts).named("api.shop.svc"),
                Grade::T,
                Some(Intermediate),
            ),
            (
                case(
                    "1024-bit RSA leaf",
                    changed(|f| {
                        f.chain[0] = CertBuilder::leaf(NAME, INTERMEDIATE)
                            .key("RSA", 1024)
                            .valid(NOW - DAY, NOW + 90 * DAY)
                            .build();
                    }),
                ),
                Grade::B,
                Some(Old),
            ),
            (
                case(
                    "incomplete chain",
                    changed(|f| {
                        f.chain.truncate(1);
                        f.trust.missing_issuer = Some(INTERMEDIATE.into());
                    }),
                ),
                Grade::B,
                Some(Intermediate),
            ),
            (
                case(
                    "leaf valid for 399 days (a low finding keeps A+)",
                    changed(|f| {
                        f.chain[0] = CertBuilder::leaf(NAME, INTERMEDIATE)
                            .valid(NOW - DAY, NOW + 398 * DAY)
                            .build();
                    }),
                ),
                Grade::APlus,
                Some(Intermediate),
            ),
            (
                case(
                    "OCSP staple says revoked",
                    changed(|f| {
                        f.ocsp = OcspFacts {
                            stapled: true,
                            status: Some("revoked".into()),
                            ..OcspFacts::default()
                        };
                    }),
                ),
                Grade::F,
                Some(Intermediate),
            ),
        ]);
    }

    #[test]
    fn weak_cipher_families_and_features_cap_the_grade_and_the_profile() {
        use Profile::{Intermediate, Old};
        assert_judged(vec![
            (
                case(
                    "static RSA (no forward secrecy)",
                    with_tls12_suite((0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256")),
                ),
                Grade::B,
                Some(Old),
            ),
            (
                case(
                    "3DES",
                    with_tls12_suite((0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA")),
                ),
                Grade::C,
                Some(Old),
            ),
            (
                case(
                    "RC4",
                    with_tls12_suite((0x0005, "TLS_RSA_WITH_RC4_128_SHA")),
                ),
                Grade::C,
                None,
            ),
            (
                case("NULL", with_tls12_suite((0x0002, "TLS_RSA_WITH_NULL_SHA"))),
                Grade::F,
                None,
            ),
            (
                case(
                    "anonymous",
                    with_tls12_suite((0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA")),
                ),
                Grade::F,
                None,
            ),
            (
                case(
                    "EXPORT",
                    with_tls12_suite((0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5")),
                ),
                Grade::F,
                None,
            ),
            (
                case(
                    "CBC only, no TLS 1.3",
                    changed(|f| {
                        f.ciphers = vec![fixtures::suites(
                            TlsVersion::Tls12,
                            &[(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")],
                        )];
                        f.protocols.set(TlsVersion::Tls13, false);
                    }),
                ),
                Grade::B,
                Some(Old),
            ),
            (
                case("1024-bit DH", changed(|f| f.features.dh_bits = Some(1024))),
                Grade::B,
                Some(Intermediate),
            ),
            (
                case(
                    "compression",
                    changed(|f| f.features.compression = Some(true)),
                ),
                Grade::C,
                Some(Intermediate),
            ),
        ]);
    }

    #[test]
    fn an_unreachable_endpoint_is_f_even_without_findings() {
        assert_eq!(grade(&Facts::default(), &[]), Grade::F);
    }

    #[test]
    fn f_outranks_trust_and_trust_outranks_a_name_mismatch() {
        let facts = healthy();
        let findings = |codes: &[Code]| -> Vec<Finding> {
            codes.iter().map(|code| Finding::new(*code, "m")).collect()
        };
        assert_eq!(
            grade(&facts, &findings(&[Code::CertExpired, Code::CipherNull])),
            Grade::F
        );
        assert_eq!(
            grade(
                &facts,
                &findings(&[Code::CertHostnameMismatch, Code::CertUntrusted])
            ),
            Grade::T
        );
        assert_eq!(
            grade(
                &facts,
                &findings(&[Code::CertHostnameMismatch, Code::Cipher3des])
            ),
            Grade::M
        );
        assert_eq!(
            grade(&facts, &findings(&[Code::ProtocolTls10, Code::CipherRc4])),
            Grade::C
        );
    }

    #[test]
    fn a_plus_needs_hsts_of_180_days_and_nothing_above_low() {
        let mut facts = healthy();
        let low = [Finding::new(Code::TlsHeartbeat, "m")];
        facts.features.hsts_max_age = Some(HSTS_MIN_SECONDS);
        assert_eq!(grade(&facts, &low), Grade::APlus);
        let medium = [Finding::new(Code::ChainExpiringIntermediate, "m")];
        assert_eq!(grade(&facts, &medium), Grade::A);
        facts.features.hsts_max_age = Some(HSTS_MIN_SECONDS - 1);
        assert_eq!(grade(&facts, &low), Grade::A);
    }

    #[test]
    fn a_failed_handshake_caps_at_c_when_high_and_at_f_when_critical() {
        let facts = healthy();
        let failed = Finding::new(Code::TlsHandshakeFailed, "m");
        assert_eq!(grade(&facts, std::slice::from_ref(&failed)), Grade::F);
        assert_eq!(
            grade(&facts, &[failed.with_severity(Severity::High)]),
            Grade::C
        );
    }

    #[test]
    fn no_accepted_version_meets_no_profile() {
        let mut facts = healthy();
        facts.protocols = crate::facts::Protocols::default();
        assert_eq!(best_profile(&facts), None);
        assert_eq!(
            best_profile(&fixtures::reachable(&[TlsVersion::Tls13])),
            Some(Profile::Modern)
        );
    }
}
