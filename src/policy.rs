//! What the evaluator judges against: expiry thresholds (days and shares of the lifetime), the longest
//! leaf validity accepted from private CAs, the Mozilla profile asked for, the codes to silence.
//! Shared by `scan` flags and the TlsAudit `spec.policy`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::findings::Code;

/// A Mozilla server-side TLS profile: `modern` and `intermediate` as in the guidelines 6.0
/// (2026-04-06); `old` as in 5.8, deprecated because 6.0 dropped it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Deprecated (removed in Mozilla 6.0, not recommended): TLS 1.0+ with Mozilla 5.8's old
    /// suites, for legacy clients.
    Old,
    /// The recommended default: TLS 1.2 and 1.3 with ECDHE AEAD suites (no DHE since 5.8).
    #[default]
    Intermediate,
    /// TLS 1.3 only.
    Modern,
}

impl Profile {
    /// Lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Old => "old",
            Self::Intermediate => "intermediate",
            Self::Modern => "modern",
        }
    }
}

/// Default `warning_days`.
pub const DEFAULT_WARNING_DAYS: u32 = 28;
/// Default `critical_days`.
pub const DEFAULT_CRITICAL_DAYS: u32 = 14;
/// Default `warning_lifetime_percent`: a third of the lifetime, the share cert-manager and Let's
/// Encrypt clients still have left when they renew (at two thirds), rounded down.
pub const DEFAULT_WARNING_LIFETIME_PERCENT: u32 = 33;
/// Default `critical_lifetime_percent`: a sixth of the lifetime, rounded.
pub const DEFAULT_CRITICAL_LIFETIME_PERCENT: u32 = 17;

/// The judgement settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Days before notAfter when `cert.expiring_soon` becomes medium (unless the lifetime share is
    /// smaller).
    pub warning_days: u32,
    /// Days before notAfter when `cert.expiring_soon` becomes high (unless the lifetime share is
    /// smaller).
    pub critical_days: u32,
    /// `cert.expiring_soon` is medium only when less than this percentage of the certificate's
    /// validity period is left (1–100; 100: days only). The effective threshold is the smaller one.
    pub warning_lifetime_percent: u32,
    /// The same for high.
    pub critical_lifetime_percent: u32,
    /// Longest leaf validity in days accepted on chains outside the web PKI (`None`: no limit).
    /// Publicly trusted chains are judged by the CA/Browser Forum schedule instead.
    pub max_validity_days: Option<u32>,
    /// The profile the endpoint is expected to meet (its violations are reported).
    pub profile: Profile,
    /// Codes never reported.
    pub ignore: Vec<Code>,
    /// The endpoint is meant for mTLS: a client certificate that is optional (or not requested
    /// at all) is a high finding.
    pub require_client_certificate: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            warning_days: DEFAULT_WARNING_DAYS,
            critical_days: DEFAULT_CRITICAL_DAYS,
            warning_lifetime_percent: DEFAULT_WARNING_LIFETIME_PERCENT,
            critical_lifetime_percent: DEFAULT_CRITICAL_LIFETIME_PERCENT,
            max_validity_days: None,
            profile: Profile::Intermediate,
            ignore: Vec::new(),
            require_client_certificate: false,
        }
    }
}
