//! Findings and facts → an SSL Labs–style grade (rating guide 2009r, 16 May 2025) and the best
//! Mozilla server-side TLS profile met (guidelines 6.0; `old` from 5.8) (pure). docs/grading.md
//! documents every cap with its source.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::evaluate::HSTS_MIN_SECONDS;
use crate::facts::{Facts, TlsVersion};
use crate::findings::{Code, Finding, Severity};
use crate::policy::Profile;
use crate::tls::suites;

/// The endpoint's grade, best first: A+, A, A-, B … E, M (name mismatch), T (trust problem), F. `M` and
/// `T` replace the letter of a working handshake (`T` wins over `M`); only `F` is worse.
// The variant order is the one order of "worse" (the derived `Ord`): status, metrics and
// `minimumGrade` compare grades with it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Grade {
    /// A+: A with TLS 1.3, HSTS of at least 6 months and no other warning.
    #[serde(rename = "A+")]
    APlus,
    /// A.
    A,
    /// A-: an A with a warning (SSL Labs 2009r): no TLS 1.3, or no valid HSTS on an HTTP endpoint.
    #[serde(rename = "A-")]
    AMinus,
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
    pub const ALL: [Grade; 10] = [
        Self::APlus,
        Self::A,
        Self::AMinus,
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
            Self::AMinus => "A-",
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
        | Code::PostgresSslDisabled
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
        | Code::ChainIncomplete => Grade::B,
        Code::ProtocolNoTls13 | Code::HttpNoHsts => Grade::AMinus,
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
            | Code::CertWeakSignature
    )
}

/// Certificate facts SSL Labs fails outright (F): an MD5/MD2 signature (2009e) or an RSA/DSA key
/// below 1024 bits (2009e) on a served certificate other than a root.
fn certificate_fails(facts: &Facts, findings: &[Finding]) -> bool {
    let reported = |code: Code| findings.iter().any(|f| f.code == code);
    let below_root = || facts.chain.iter().filter(|c| !(c.self_signed && c.is_ca));
    let md5 = below_root().any(|c| {
        let sig = c.signature.to_ascii_lowercase();
        sig.contains("md5") || sig.contains("md2")
    });
    let tiny_key =
        below_root().any(|c| matches!(c.key_type.as_str(), "RSA" | "DSA") && c.key_bits < 1024);
    (md5 && reported(Code::CertWeakSignature)) || (tiny_key && reported(Code::CertWeakKey))
}

/// The grade of an endpoint: the worst cap of its findings; `T` for trust problems (including a
/// SHA-1-signed certificate), `M` for a name mismatch (a failed connection stays `F`); `A+` for an
/// `A` with TLS 1.3, HSTS of 180 days or more and no finding above low.
#[must_use]
pub fn grade(facts: &Facts, findings: &[Finding]) -> Grade {
    if !facts.reachable {
        return Grade::F;
    }
    let letter = findings.iter().map(finding_cap).max().unwrap_or(Grade::A);
    if letter == Grade::F || certificate_fails(facts, findings) {
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
    let tls13 = facts.protocols.tls1_3 == Some(true);
    let hsts = facts
        .features
        .hsts_max_age
        .is_some_and(|age| age >= HSTS_MIN_SECONDS);
    let clean = findings.iter().all(|f| f.severity <= Severity::Low);
    if letter == Grade::A && tls13 && hsts && clean {
        Grade::APlus
    } else {
        letter
    }
}

/// Mozilla intermediate's TLS 1.2 suites (guidelines 6.0, unchanged from 5.8): ECDHE with AES-GCM
/// or ChaCha20-Poly1305. DHE was dropped in 5.8.
const INTERMEDIATE_SUITES: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Mozilla old's TLS ≤ 1.2 suites beyond intermediate's (guidelines 5.8, the last with `old`):
/// ECDHE CBC, static-RSA AES and 3DES; no DHE since 5.8.
const OLD_EXTRA_SUITES: [&str; 15] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
];

/// The strictest Mozilla profile the endpoint meets, if any: `modern` and `intermediate` as in the
/// server-side TLS guidelines 6.0 (2026-04-06), `old` (deprecated: dropped by 6.0) as in 5.8.
/// Judged from the accepted versions, the TLS ≤ 1.2 suites and the certificate keys; curves,
/// certificate types and HSTS are not part of it.
#[must_use]
pub fn best_profile(facts: &Facts) -> Option<Profile> {
    let p = &facts.protocols;
    let accepted = p.accepted();
    if accepted.is_empty() {
        return None;
    }
    let names: Vec<&str> = facts
        .ciphers
        .iter()
        .filter(|v| v.version != TlsVersion::Tls13)
        .flat_map(|v| v.suites.iter())
        .map(|s| suites::lookup(s.id).map_or("", |suite| suite.name))
        .collect();
    // 5.8 raised old's RSA minimum from 1024 to 2048 bits; EC certificates use P-256 or P-384.
    let strong_keys = facts
        .chain
        .iter()
        .filter(|c| !(c.self_signed && c.is_ca))
        .all(|c| match c.key_type.as_str() {
            "RSA" | "DSA" => c.key_bits >= 2048,
            "EC" => c.key_bits >= 256,
            _ => true,
        });
    if !strong_keys {
        return None;
    }
    if accepted == [TlsVersion::Tls13] {
        return Some(Profile::Modern);
    }
    let within = |allowed: &[&[&str]]| {
        names
            .iter()
            .all(|name| allowed.iter().any(|list| list.contains(name)))
    };
    if accepted.iter().all(|v| *v >= TlsVersion::Tls12) && within(&[&INTERMEDIATE_SUITES]) {
        return Some(Profile::Intermediate);
    }
    let old_versions = accepted.iter().all(|v| *v >= TlsVersion::Tls10);
    (old_versions && within(&[&INTERMEDIATE_SUITES, &OLD_EXTRA_SUITES])).then_some(Profile::Old)
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
                case(
                    "no HSTS (SSL Labs 2009r)",
                    changed(|f| f.features.hsts_max_age = None),
                ),
                Grade::AMinus,
                Some(Intermediate),
            ),
            (
                case(
                    "no TLS 1.3 (SSL Labs 2009r)",
                    changed(|f| f.protocols.set(TlsVersion::Tls13, false)),
                ),
                Grade::AMinus,
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
                Grade::APlus,
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
        use Profile::Intermediate;
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
                // Mozilla 5.8 raised old's RSA minimum to 2048 bits.
                None,
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
                // Mozilla 5.8 old keeps only TLS_RSA_WITH_3DES_EDE_CBC_SHA.
                None,
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

#[cfg(test)]
mod verdict_tests {
    //! Issue 9's verdicts: facts → findings → grade and profile, with a fixed clock and no I/O.

    use super::*;
    use crate::facts::{SuiteFacts, TrustFacts};
    use crate::fixtures::{self, CertBuilder, DAY, INTERMEDIATE};
    use crate::policy::Policy;

    /// The fixed clock: 2026-03-01T00:00:00Z.
    const NOW: i64 = 1_772_323_200;
    const NAME: &str = "a.test";

    fn suites(version: TlsVersion, ids: &[u16]) -> crate::facts::VersionSuites {
        let names: Vec<(u16, String)> = ids.iter().map(|id| (*id, suites::name(*id))).collect();
        let list: Vec<(u16, &str)> = names.iter().map(|(id, n)| (*id, n.as_str())).collect();
        fixtures::suites(version, &list)
    }

    /// The fixtures' healthy endpoint (Mozilla 6.0 intermediate, HSTS of a year over HTTP) with an
    /// OCSP staple, so that it has no finding at all: A+.
    fn healthy() -> Facts {
        let mut facts = fixtures::healthy(NAME, NOW);
        facts.ocsp.stapled = true;
        facts
    }

    fn judge_with(facts: &Facts, policy: &Policy) -> (Vec<(&'static str, Severity)>, Grade) {
        let at = jiff::Timestamp::from_second(NOW).unwrap();
        let findings = crate::evaluate::evaluate(facts, Some(NAME), policy, at);
        let codes = findings
            .iter()
            .map(|f| (f.code.as_str(), f.severity))
            .collect();
        (codes, grade(facts, &findings))
    }

    fn judge(facts: &Facts) -> (Vec<(&'static str, Severity)>, Grade) {
        judge_with(facts, &Policy::default())
    }

    #[test]
    fn a_minus_sits_between_a_and_b_and_serialises_as_a_minus() {
        assert!(Grade::A < Grade::AMinus && Grade::AMinus < Grade::B);
        assert_eq!(serde_json::to_string(&Grade::AMinus).unwrap(), "\"A-\"");
        assert_eq!(
            serde_json::from_str::<Grade>("\"A-\"").unwrap(),
            Grade::AMinus
        );
        assert!(Grade::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Grade::ALL.len(), 10);
    }

    #[test]
    fn healthy_intermediate_endpoint_is_a_plus_and_meets_intermediate() {
        let facts = healthy();
        assert_eq!(judge(&facts), (vec![], Grade::APlus));
        assert_eq!(best_profile(&facts), Some(Profile::Intermediate));
    }

    #[test]
    fn tls1_3_only_is_an_info_finding_without_a_cap_and_silent_under_modern() {
        let mut facts = healthy();
        facts.protocols.tls1_2 = Some(false);
        facts.ciphers.remove(0);
        assert_eq!(
            judge(&facts),
            (vec![("protocol.no_tls1_2", Severity::Info)], Grade::APlus)
        );
        let modern = Policy {
            profile: Profile::Modern,
            ..Policy::default()
        };
        assert_eq!(judge_with(&facts, &modern), (vec![], Grade::APlus));
        assert_eq!(best_profile(&facts), Some(Profile::Modern));
    }

    #[test]
    fn no_tls1_3_caps_at_a_minus_even_with_hsts() {
        let mut facts = healthy();
        facts.protocols.tls1_3 = Some(false);
        facts.ciphers.pop();
        assert_eq!(
            judge(&facts),
            (vec![("protocol.no_tls1_3", Severity::Low)], Grade::AMinus)
        );
    }

    #[test]
    fn missing_or_short_hsts_caps_an_http_endpoint_at_a_minus() {
        for hsts in [None, Some(86_400)] {
            let mut facts = healthy();
            facts.features.hsts_max_age = hsts;
            assert_eq!(
                judge(&facts),
                (vec![("http.no_hsts", Severity::Low)], Grade::AMinus)
            );
        }
    }

    #[test]
    fn endpoint_that_does_not_speak_http_is_a_without_hsts() {
        let mut facts = healthy();
        facts.features.http = Some(false);
        facts.features.hsts_max_age = None;
        assert_eq!(judge(&facts), (vec![], Grade::A));
    }

    #[test]
    fn tls1_3_not_tested_withholds_a_plus() {
        let mut facts = healthy();
        facts.protocols.tls1_3 = None;
        assert_eq!(judge(&facts), (vec![], Grade::A));
    }

    #[test]
    fn sha1_signed_leaf_is_t_and_md5_is_f() {
        let mut facts = healthy();
        facts.chain[0].signature = "sha1WithRSAEncryption".into();
        assert_eq!(
            judge(&facts),
            (vec![("cert.weak_signature", Severity::High)], Grade::T)
        );
        facts.chain[0].signature = "md5WithRSAEncryption".into();
        assert_eq!(judge(&facts).1, Grade::F);
    }

    #[test]
    fn sha1_self_signature_of_a_served_root_is_not_judged() {
        let mut facts = healthy();
        let root = CertBuilder::new(fixtures::ROOT, fixtures::ROOT)
            .ca()
            .self_signed()
            .signature("sha1WithRSAEncryption")
            .valid(NOW - DAY, NOW + 900 * DAY)
            .build();
        facts.chain.push(root);
        assert_eq!(judge(&facts), (vec![], Grade::APlus));
    }

    #[test]
    fn rsa_1024_leaf_is_a_high_weak_key_capped_at_b_and_rsa_512_fails() {
        let mut facts = healthy();
        facts.chain[0].key_type = "RSA".into();
        facts.chain[0].key_bits = 1024;
        assert_eq!(
            judge(&facts),
            (vec![("cert.weak_key", Severity::High)], Grade::B)
        );
        assert_eq!(best_profile(&facts), None);
        facts.chain[0].key_bits = 512;
        assert_eq!(judge(&facts).1, Grade::F);
    }

    #[test]
    fn expired_leaf_with_a_path_is_only_expired_and_graded_t() {
        let mut facts = healthy();
        facts.chain[0].not_after_unix = NOW - 3 * DAY;
        facts.trust = TrustFacts {
            verified: false,
            path_found: Some(true),
            alert: Some("certificate_expired".into()),
            ordered: Some(true),
            ..TrustFacts::default()
        };
        assert_eq!(
            judge(&facts),
            (vec![("cert.expired", Severity::Critical)], Grade::T)
        );
    }

    fn untrusted(facts: &mut Facts, unknown: &str, missing: Option<&str>) {
        facts.trust = TrustFacts {
            verified: false,
            path_found: Some(false),
            alert: Some("unknown_ca".into()),
            error: Some("unknown issuer: no path to a trust anchor".into()),
            ordered: Some(true),
            unknown_issuer: Some(unknown.into()),
            missing_issuer: missing.map(str::to_owned),
            ..TrustFacts::default()
        };
    }

    fn messages(facts: &Facts) -> Vec<String> {
        let at = jiff::Timestamp::from_second(NOW).unwrap();
        crate::evaluate::evaluate(facts, Some(NAME), &Policy::default(), at)
            .into_iter()
            .map(|f| format!("{}: {}", f.code, f.message))
            .collect()
    }

    #[test]
    fn complete_chain_under_an_unknown_root_is_untrusted_only() {
        let mut facts = healthy();
        untrusted(&mut facts, "CN=Root", None);
        assert_eq!(
            judge(&facts),
            (vec![("cert.untrusted", Severity::High)], Grade::T)
        );
        assert_eq!(
            messages(&facts),
            [
                "cert.untrusted: the served chain is complete up to CN=Root, a root the audit does \
              not trust; clients fail with unknown_ca"
            ]
        );
    }

    #[test]
    fn lone_leaf_of_an_unknown_issuer_without_aia_names_both_possible_causes() {
        let mut facts = healthy();
        facts.chain.truncate(1);
        untrusted(&mut facts, "CN=Int", None);
        assert_eq!(
            messages(&facts),
            [
                "cert.untrusted: issuer CN=Int is neither served nor trusted: either the server \
              omits an intermediate, or CN=Int is a private CA the audit does not trust; clients \
              fail with unknown_ca"
            ]
        );
    }

    #[test]
    fn lone_leaf_naming_its_issuer_by_aia_is_an_incomplete_chain() {
        let mut facts = healthy();
        facts.chain[0] = CertBuilder::leaf(NAME, INTERMEDIATE)
            .ca_issuers(&["http://ca.test/int.der"])
            .valid(NOW - DAY, NOW + 60 * DAY)
            .build();
        facts.chain.truncate(1);
        untrusted(&mut facts, "CN=Int", Some("CN=Int"));
        assert_eq!(
            judge(&facts),
            (
                vec![
                    ("cert.untrusted", Severity::High),
                    ("chain.incomplete", Severity::High)
                ],
                Grade::T
            )
        );
        assert_eq!(
            messages(&facts),
            [
                "cert.untrusted: no path to a trust anchor: CN=Int is not served (see \
                 chain.incomplete); clients that do not fetch it fail with unknown_ca",
                "chain.incomplete: the intermediate CN=Int is not served (1 certificate(s) \
                 served; the leaf names it at http://ca.test/int.der)"
            ]
        );
    }

    #[test]
    fn revoked_staple_fails_the_grade() {
        let mut facts = healthy();
        facts.ocsp.status = Some("revoked".into());
        assert_eq!(
            judge(&facts),
            (vec![("ocsp.revoked", Severity::Critical)], Grade::F)
        );
    }

    #[test]
    fn dhe_suites_of_mozilla_5_7_meet_no_profile_since_5_8() {
        let mut facts = healthy();
        // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
        facts.ciphers[0].suites.push(SuiteFacts {
            id: 0x009E,
            name: suites::name(0x009E),
        });
        assert_eq!(best_profile(&facts), None);
    }

    #[test]
    fn tls1_0_with_mozilla_5_8_old_suites_meets_deprecated_old() {
        let mut facts = healthy();
        facts.protocols.tls1_0 = Some(true);
        facts.protocols.tls1_1 = Some(true);
        facts.ciphers.push(suites(
            TlsVersion::Tls10,
            &[0xC013, 0xC014, 0x002F, 0x0035, 0x000A],
        ));
        assert_eq!(best_profile(&facts), Some(Profile::Old));
        // RC4 is outside even old.
        facts.ciphers[2].suites.push(SuiteFacts {
            id: 0x0005,
            name: suites::name(0x0005),
        });
        assert_eq!(best_profile(&facts), None);
    }

    #[test]
    fn profile_suite_lists_name_known_code_points() {
        let known: Vec<&str> = (0..=u16::MAX)
            .filter_map(suites::lookup)
            .map(|s| s.name)
            .collect();
        for name in INTERMEDIATE_SUITES.iter().chain(&OLD_EXTRA_SUITES) {
            assert!(known.contains(name), "{name} is not in the suite table");
        }
    }
}
