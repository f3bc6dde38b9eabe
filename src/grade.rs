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
