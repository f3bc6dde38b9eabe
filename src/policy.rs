//! What the evaluator judges against: expiry thresholds, the Mozilla profile asked for, the codes to
//! silence. Shared by `scan` flags and the TlsAudit `spec.policy`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::findings::Code;

/// A Mozilla server-side TLS profile.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Legacy clients: TLS 1.0+ and broad suites.
    Old,
    /// The recommended default: TLS 1.2+ with ECDHE/DHE AEAD suites.
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

/// The judgement settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Days before notAfter when `cert.expiring_soon` becomes medium.
    pub warning_days: u32,
    /// Days before notAfter when `cert.expiring_soon` becomes high.
    pub critical_days: u32,
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
            warning_days: 28,
            critical_days: 14,
            profile: Profile::Intermediate,
            ignore: Vec::new(),
            require_client_certificate: false,
        }
    }
}
