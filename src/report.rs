//! One endpoint's report (facts + findings + grade) and its rendering for humans and as JSON.
//! The JSON is the stable schema that `scan --json` prints. The TlsAudit status does not embed it:
//! it lists a slim `crd::EndpointStatus` per endpoint, built from the report.

use std::sync::Arc;

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
    // Shared with the operator's probe cache and every report of the same result; serialised as
    // the facts themselves.
    pub facts: Arc<Facts>,
}

impl EndpointReport {
    /// Judges `facts` of `target` under `policy` at `now`.
    #[must_use]
    pub fn assemble(
        target: &Target,
        facts: impl Into<Arc<Facts>>,
        policy: &Policy,
        now: jiff::Timestamp,
    ) -> Self {
        let facts = facts.into();
        let name = target.server_name.as_deref().or(Some(target.host.as_str()));
        let findings = crate::evaluate::evaluate(&facts, name, policy, now);
        Self::from_findings(target, facts, findings, now)
    }

    /// A report of `facts` with findings judged elsewhere (sorted here, most severe first), e.g.
    /// an endpoint that was not probed at all.
    #[must_use]
    pub fn from_findings(
        target: &Target,
        facts: impl Into<Arc<Facts>>,
        findings: Vec<Finding>,
        now: jiff::Timestamp,
    ) -> Self {
        let facts = facts.into();
        let mut report = Self {
            host: target.host.clone(),
            port: target.port,
            address: target.address.map(|a| a.to_string()),
            server_name: target.server_name.clone(),
            scanned_at: now.to_string(),
            grade: Grade::F,
            profile: grade::best_profile(&facts),
            findings,
            facts,
        };
        report.rejudge();
        report
    }

    /// Orders the findings most severe first and grades them again (after findings were added).
    pub fn rejudge(&mut self) {
        self.findings
            .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(&b.code)));
        self.grade = grade::grade(&self.facts, &self.findings);
    }

    /// The most severe finding's severity.
    #[must_use]
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The JSON Schema of [`EndpointReport`] (docs/report.schema.json; a test keeps them equal).
pub fn json_schema() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&schemars::schema_for!(EndpointReport)).map(|s| s + "\n")
}

/// Renders a report as pretty JSON (the stable schema of `scan --json`).
pub fn to_json(report: &EndpointReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn severity(&self, severity: Severity) -> String {
        let code = match severity {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        self.paint(code, &format!("{:<8}", severity.as_str().to_uppercase()))
    }
}

fn line(out: &mut String, label: &str, text: &str) {
    use std::fmt::Write;
    let _ = writeln!(out, "  {label:<12} {text}");
}

fn suites(out: &mut String, f: &crate::facts::Facts) {
    for list in &f.ciphers {
        let order = match list.server_order {
            Some(true) => " (server order)",
            Some(false) => " (client order)",
            None => "",
        };
        let names: Vec<&str> = list.suites.iter().map(|s| s.name.as_str()).collect();
        let order = if list.incomplete {
            format!("{order} (incomplete: enumeration stopped on a broken exchange)")
        } else {
            order.to_owned()
        };
        line(
            out,
            list.version.name(),
            &format!("{}{order}", names.join(", ")),
        );
    }
}

fn certificates(out: &mut String, f: &crate::facts::Facts) {
    for (i, cert) in f.chain.iter().enumerate() {
        let label = if i == 0 { "certificate" } else { "chain" };
        let sans = if cert.sans.is_empty() {
            "-".to_owned()
        } else {
            cert.sans.join(", ")
        };
        let key = format!("{} {}", cert.key_type, cert.key_bits);
        line(
            out,
            label,
            &format!("{}  (issuer {})", cert.subject, cert.issuer),
        );
        line(
            out,
            "",
            &format!(
                "SANs {sans}; {key}; {}; notAfter {}",
                cert.signature, cert.not_after
            ),
        );
    }
    let trust = if f.trust.verified {
        "trusted".to_owned()
    } else if f.chain.is_empty() {
        "no certificate seen".to_owned()
    } else {
        format!("NOT trusted: {}", f.trust.error.as_deref().unwrap_or("-"))
    };
    line(out, "trust", &trust);
}

fn yes_no(value: Option<bool>, yes: &str, no: &str) -> String {
    match value {
        Some(true) => yes.to_owned(),
        Some(false) => no.to_owned(),
        None => "not tested".to_owned(),
    }
}

/// The key-exchange lines: TLS ≤ 1.2 ECDHE group and DH size, and the TLS 1.3 groups walked.
fn key_exchange(out: &mut String, f: &crate::facts::Facts) {
    let kx: Vec<String> = [
        f.features
            .ecdhe_group
            .as_ref()
            .map(|g| format!("ECDHE {g}")),
        f.features.dh_bits.map(|bits| format!("DHE {bits}-bit")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !kx.is_empty() {
        line(out, "key exchange", &kx.join(", "));
    }
    if !f.groups.supported.is_empty() {
        line(out, "TLS 1.3 groups", &f.groups.supported.join(", "));
    }
}

/// Renders a report for a terminal; ANSI colour only when `color`.
#[must_use]
pub fn to_text(report: &EndpointReport, color: bool) -> String {
    use std::fmt::Write;
    let style = Style { color };
    let f = &report.facts;
    let mut out = String::new();
    let dialled = report
        .address
        .as_deref()
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    let sni = report
        .server_name
        .as_deref()
        .map(|s| format!("  SNI {s}"))
        .unwrap_or_default();
    let profile = match report.profile {
        None => "none",
        Some(Profile::Old) => "old (deprecated: Mozilla 5.8; 6.0 dropped it)",
        Some(p) => p.as_str(),
    };
    let _ = writeln!(
        out,
        "{}{dialled}{sni}\n  grade {}   Mozilla profile met: {profile}",
        style.paint("1", &format!("{}:{}", report.host, report.port)),
        style.paint("1", report.grade.as_str())
    );
    let versions: Vec<String> = crate::facts::TlsVersion::ALL
        .iter()
        .map(|v| format!("{} {}", v.name(), yes_no(f.protocols.get(*v), "yes", "no")))
        .collect();
    line(&mut out, "protocols", &versions.join(", "));
    suites(&mut out, f);
    if let Some(n) = &f.negotiated {
        let group = n.group.as_deref().unwrap_or("-");
        let alpn = n.alpn.as_deref().unwrap_or("none");
        line(
            &mut out,
            "negotiated",
            &format!("{} {} {group}, ALPN {alpn}", n.version.name(), n.cipher),
        );
    }
    key_exchange(&mut out, f);
    certificates(&mut out, f);
    let ocsp = if f.ocsp.stapled {
        format!(
            "stapled ({})",
            f.ocsp.status.as_deref().unwrap_or("unparsed")
        )
    } else {
        "not stapled".to_owned()
    };
    let client = match f.client_auth.demand {
        crate::facts::ClientAuthDemand::None => "not requested",
        crate::facts::ClientAuthDemand::Optional => "optional",
        crate::facts::ClientAuthDemand::Required => "required",
        crate::facts::ClientAuthDemand::Requested => "requested (required or not: untested)",
        crate::facts::ClientAuthDemand::RequiredAtHttp => {
            "required by HTTP (TLS completes without)"
        }
    };
    line(&mut out, "ocsp", &ocsp);
    line(&mut out, "client cert", client);
    if let Some(failure) = &f.failure {
        line(&mut out, "failure", &failure.detail);
    }
    let _ = writeln!(out, "  findings ({}):", report.findings.len());
    for finding in &report.findings {
        let _ = writeln!(
            out,
            "    {} {:<28} {}",
            style.severity(finding.severity),
            finding.code.as_str(),
            finding.message
        );
        let _ = writeln!(
            out,
            "    {:<8} {:<28} {}",
            "",
            "",
            style.paint("2", &format!("fix: {}", finding.remediation))
        );
    }
    let _ = writeln!(
        out,
        "  scanned in {} ms with {} connections",
        f.duration_ms, f.connections
    );
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_report_schema_is_the_generated_schema() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == super::json_schema().unwrap(),
            "docs/report.schema.json is stale: run `cargo run -- report-schema > docs/report.schema.json`"
        );
    }
}
