//! Step 4 of the reconcile: every planned endpoint judged. Input: the planned endpoints, the facts
//! probed for each (`None`: not probed), the Ingress TLS Secrets read by `material`, the policy and
//! the time. Output: one [`Audited`] endpoint report per planned endpoint. Pure: no Client, no clock.
//!
//! The engine judges each endpoint's facts alone (`report::EndpointReport::assemble`); this step
//! adds what only the controller can see across endpoints: replicas of one Service that disagree
//! (`consistency`) and Ingress Secrets checked at rest (`ingress`), with `policy.ignore` applied and
//! the grade recomputed. An endpoint that was not probed gets its reason as its only finding.

pub mod certmanager;
pub mod consistency;
pub mod gateway;
pub mod ingress;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::Arc;

use self::consistency::{Replica, inconsistent_backends};
use self::ingress::{SecretCert, at_rest_findings};
use super::plan::{NotProbed, PlannedEndpoint};
use crate::facts::Facts;
use crate::findings::{Code, Finding};
use crate::policy::Policy;
use crate::probe::Target;
use crate::report::EndpointReport;

/// One audited endpoint: what the audit called it and its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    /// What the audit named (`target` in the status and metrics): `service/NAME`, `ingress/NAME`
    /// or `endpoint/HOST`.
    pub origin: String,
    /// The endpoint's report.
    pub report: EndpointReport,
}

/// Judges every planned endpoint. `facts[i]` is what probing `planned[i]` saw (`None` when it was
/// not probed); `ingress_secrets` holds what each Ingress TLS Secret named in `planned` holds.
#[must_use]
pub fn judge(
    planned: &[PlannedEndpoint],
    facts: &[Option<Arc<Facts>>],
    ingress_secrets: &BTreeMap<String, SecretCert>,
    policy: &Policy,
    now: jiff::Timestamp,
) -> Vec<Audited> {
    let mut audited: Vec<Audited> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| Audited {
            origin: p.origin.clone(),
            report: report(p, facts.get(i).and_then(Option::as_ref), policy, now),
        })
        .collect();

    let mut extra: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
    let replicas: Vec<Replica<'_>> = planned
        .iter()
        .zip(&audited)
        .map(|(p, a)| Replica {
            group: p.replica_group.as_deref(),
            address: a.report.address.as_deref().unwrap_or(&a.report.host),
            facts: &a.report.facts,
        })
        .collect();
    for (index, finding) in inconsistent_backends(&replicas) {
        extra.entry(index).or_default().push(finding);
    }
    for (index, p) in planned.iter().enumerate() {
        let Some(secret) = &p.ingress_secret else {
            continue;
        };
        let Some(cert) = ingress_secrets.get(secret) else {
            continue;
        };
        let host = p.dial.server_name.as_deref().unwrap_or(&p.dial.host);
        let served = audited[index]
            .report
            .facts
            .chain
            .first()
            .map(|c| c.sha256.as_str());
        extra
            .entry(index)
            .or_default()
            .extend(at_rest_findings(host, secret, cert, served));
    }
    for (index, findings) in extra {
        if let Some(a) = audited.get_mut(index) {
            add_findings(&mut a.report, findings, policy);
        }
    }
    audited
}

/// The engine's report of one endpoint, or the finding that says why it was not probed.
fn report(
    planned: &PlannedEndpoint,
    facts: Option<&Arc<Facts>>,
    policy: &Policy,
    now: jiff::Timestamp,
) -> EndpointReport {
    let dial = &planned.dial;
    match (&planned.not_probed, facts) {
        (Some(NotProbed::Refused(reason)), _) => {
            unprobed_report(dial, Finding::new(Code::TargetRefused, reason.clone()), now)
        }
        (Some(NotProbed::NoAddress(reason)), _) => {
            unprobed_report(dial, Finding::new(Code::ConnectFailed, reason.clone()), now)
        }
        (None, Some(facts)) => EndpointReport::assemble(dial, Arc::clone(facts), policy, now),
        (None, None) => unprobed_report(
            dial,
            Finding::new(Code::ConnectFailed, "the endpoint was not probed"),
            now,
        ),
    }
}

/// A report for an endpoint that was not probed (refused, or no address): only `finding`.
#[must_use]
pub fn unprobed_report(target: &Target, finding: Finding, now: jiff::Timestamp) -> EndpointReport {
    EndpointReport::from_findings(target, Facts::default(), vec![finding], now)
}

/// Adds controller-side findings to a report: ignored codes dropped, most severe first, grade
/// recomputed.
pub fn add_findings(report: &mut EndpointReport, extra: Vec<Finding>, policy: &Policy) {
    if extra.is_empty() {
        return;
    }
    report.findings.extend(
        extra
            .into_iter()
            .filter(|f| !policy.ignore.contains(&f.code)),
    );
    report.rejudge();
}

/// The audited endpoints, worst first (most severe finding, then worst grade), then by origin,
/// address and name: the order of the status list and of the endpoints that get metric series.
#[must_use]
pub fn worst_first(audited: &[Audited]) -> Vec<&Audited> {
    let mut order: Vec<&Audited> = audited.iter().collect();
    order.sort_by(|a, b| {
        b.report
            .worst()
            .cmp(&a.report.worst())
            .then(b.report.grade.cmp(&a.report.grade))
            .then(a.origin.cmp(&b.origin))
            .then(a.report.address.cmp(&b.report.address))
            .then(a.report.server_name.cmp(&b.report.server_name))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::audited;
    use crate::grade::Grade;

    #[test]
    fn controller_findings_respect_ignore_and_regrade() {
        let mut a = audited(
            "service/a",
            "10.0.0.1:443",
            Grade::A,
            &[Code::AlpnNoH2],
            Some(90),
        );
        let policy = Policy {
            ignore: vec![Code::IngressSecretMismatch],
            ..Policy::default()
        };
        add_findings(
            &mut a.report,
            vec![
                Finding::new(Code::IngressSecretMismatch, "x"),
                Finding::new(Code::BackendInconsistent, "y"),
            ],
            &policy,
        );
        let codes: Vec<Code> = a.report.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::BackendInconsistent, Code::AlpnNoH2]);
    }
}
