//! One endpoint's report (facts + findings + grade) and its rendering for humans and as JSON.
//! The JSON is the stable schema that `scan --json` prints and the TlsAudit status embeds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::findings::{Finding, Severity};
use crate::grade::{self, Grade};
use crate::policy::{Policy, Profile};
use crate::probe::Target;

/// The audit of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointReport {
    /// Host as given.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Address dialled.
    pub address: Option<String>,
    /// SNI / verification name.
    pub server_name: Option<String>,
    /// When the scan ran, RFC 3339.
    pub scanned_at: String,
    /// Grade A+ … F, T, M.
    pub grade: Grade,
    /// Strictest Mozilla profile met.
    pub profile: Option<Profile>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// What was observed.
    pub facts: Facts,
}

impl EndpointReport {
    /// Judges `facts` of `target` under `policy` at `now`.
    #[must_use]
    pub fn assemble(target: &Target, facts: Facts, policy: &Policy, now: jiff::Timestamp) -> Self {
        let name = target.server_name.as_deref().or(Some(target.host.as_str()));
        let mut findings = crate::evaluate::evaluate(&facts, name, policy, now);
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(&b.code)));
        Self {
            host: target.host.clone(),
            port: target.port,
            address: target.address.map(|a| a.to_string()),
            server_name: target.server_name.clone(),
            scanned_at: now.to_string(),
            grade: grade::grade(&facts, &findings),
            profile: grade::best_profile(&facts),
            findings,
            facts,
        }
    }

    /// The most severe finding's severity.
    #[must_use]
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
