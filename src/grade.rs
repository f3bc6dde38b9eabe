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
