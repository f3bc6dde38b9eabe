//! The `TlsAudit` status types: what the last audit found, written by the controller only (the
//! spec types and the CRD itself are in the parent module). Input: nothing. Output: the types the
//! status step builds and patches.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::TlsVersion;
use crate::findings::{Code, Severity};
use crate::grade::Grade;
use crate::policy::Profile;

/// What the last audit found. Written by the controller only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsAuditStatus {
    /// The spec generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: the audit ran with its whole configuration; `Compliant`: every endpoint meets the
    /// policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// When the last audit completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_audit_time: Option<Time>,
    /// When the next periodic audit is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_audit_time: Option<Time>,
    /// Totals over every audited endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<AuditSummary>,
    /// The worst endpoints (by severity, then grade), at most the operator's
    /// `--status-max-endpoints`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointStatus>,
    /// Endpoints audited but left out of `endpoints` to keep the status small.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_endpoints: u32,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Totals of one audit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditSummary {
    /// Endpoints audited.
    pub endpoints: u32,
    /// Endpoints that meet the policy.
    pub compliant: u32,
    /// Worst grade over the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<Grade>,
    /// Earliest leaf notAfter over the endpoints (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_expiry: Option<String>,
    /// Whole days from the audit to `earliestExpiry` (negative once expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_expiry_days: Option<i64>,
    /// Findings per severity over every endpoint (ignored codes excluded).
    pub findings: SeverityCounts,
}

/// Finding counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeverityCounts {
    /// Critical findings.
    pub critical: u32,
    /// High findings.
    pub high: u32,
    /// Medium findings.
    pub medium: u32,
    /// Low findings.
    pub low: u32,
}

impl SeverityCounts {
    /// Counts one finding of `severity` (info is not counted).
    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Info => {}
        }
    }
}

/// One endpoint's result, slimmed for the status (the full report is `tlsaudit scan --json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStatus {
    /// What the audit named: `service/NAME`, `ingress/NAME` or `endpoint/HOST`.
    pub target: String,
    /// Address dialled, `ip:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Host name of the target.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// SNI and verification name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Grade A+ … F, T (trust), M (name mismatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<Grade>,
    /// Strictest Mozilla profile met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Accepted protocol versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<TlsVersion>,
    /// Cipher suite a current client negotiated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The served leaf certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<LeafStatus>,
    /// Findings, most severe first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingStatus>,
}

/// The served leaf certificate, as far as the status needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeafStatus {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// DNS and IP subjectAltNames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// Whole days from the audit to notAfter (negative once expired).
    pub days_left: i64,
    /// Key type and size, e.g. `EC 256`.
    pub key_type: String,
    /// Signature algorithm.
    pub signature: String,
    /// SHA-256 fingerprint of the DER certificate, hex.
    pub sha256: String,
    /// notBefore (RFC 3339): with notAfter, the lifetime the expiry thresholds are relative to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub not_before: String,
    /// OCSP responder URLs the leaf names (none: revocation by CRL only, as at Let's Encrypt).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ocsp_urls: Vec<String>,
    /// CRL distribution points the leaf names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_urls: Vec<String>,
    /// The leaf demands a stapled OCSP response (TLS Feature must-staple).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_staple: bool,
}

/// One finding in the status (remediations are in docs/findings.md and `tlsaudit scan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindingStatus {
    /// Stable code.
    pub code: Code,
    /// Severity after policy.
    pub severity: Severity,
    /// What was found.
    pub message: String,
}
