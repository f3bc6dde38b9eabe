//! Step 6 of the reconcile: which Kubernetes Events an audit emits. Input: the status before and
//! after an audit. Output: a Warning for critical findings that were not there before, a Normal
//! `Recovered` when the last critical finding is gone. [`changes`] is pure; [`publish`] is a thin
//! call on `kube::runtime::events::Recorder`. The previous state is read from the stored status, so
//! a restart does not repeat the warnings.

use std::collections::BTreeSet;

use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};

use crate::crd::{TlsAudit, TlsAuditStatus};
use crate::findings::Severity;

/// Event reason of a new critical finding.
pub const CRITICAL_FINDING: &str = "CriticalFinding";
/// Event reason of a recovery.
pub const RECOVERED: &str = "Recovered";

fn criticals(status: Option<&TlsAuditStatus>) -> BTreeSet<(String, String, String)> {
    status
        .into_iter()
        .flat_map(|s| &s.endpoints)
        .flat_map(|e| {
            e.findings
                .iter()
                .filter(|f| f.severity == Severity::Critical)
                .map(|f| {
                    (
                        format!("{} {}", e.target, e.address.as_deref().unwrap_or(&e.host)),
                        f.code.as_str().to_owned(),
                        f.message.clone(),
                    )
                })
        })
        .collect()
}

fn critical_count(status: Option<&TlsAuditStatus>) -> u32 {
    status
        .and_then(|s| s.summary.as_ref())
        .map_or(0, |s| s.findings.critical)
}

/// The events to publish after an audit moved the status from `before` to `after`.
#[must_use]
pub fn changes(before: Option<&TlsAuditStatus>, after: &TlsAuditStatus) -> Vec<Event> {
    let old: BTreeSet<(String, String)> = criticals(before)
        .into_iter()
        .map(|(endpoint, code, _)| (endpoint, code))
        .collect();
    let new: Vec<(String, String, String)> = criticals(Some(after))
        .into_iter()
        .filter(|(endpoint, code, _)| !old.contains(&(endpoint.clone(), code.clone())))
        .collect();
    let mut events = Vec::new();
    if !new.is_empty() {
        let mut note = new
            .iter()
            .map(|(endpoint, code, message)| format!("{endpoint}: {code}: {message}"))
            .collect::<Vec<_>>()
            .join("; ");
        // The Events API caps the note at 1 kB.
        if note.len() > 1000 {
            let mut cut = 990;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
            note.push_str(" …");
        }
        events.push(Event {
            type_: EventType::Warning,
            reason: CRITICAL_FINDING.into(),
            note: Some(note),
            action: "Audit".into(),
            secondary: None,
        });
    }
    if critical_count(before) > 0 && critical_count(Some(after)) == 0 {
        events.push(Event {
            type_: EventType::Normal,
            reason: RECOVERED.into(),
            note: Some("no critical finding is left".into()),
            action: "Audit".into(),
            secondary: None,
        });
    }
    events
}

/// Publishes the [`changes`] from `before` to `after` on `audit`. An Event that cannot be written is
/// logged, not worth failing the audit over.
pub async fn publish(
    recorder: &Recorder,
    audit: &TlsAudit,
    before: Option<&TlsAuditStatus>,
    after: &TlsAuditStatus,
) {
    let reference = audit.object_ref(&());
    for event in changes(before, after) {
        if let Err(err) = recorder.publish(&event, &reference).await {
            tracing::warn!(audit = %audit.name_any(), error = %err, reason = %event.reason, "failed to publish event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{AuditSummary, EndpointStatus, FindingStatus, SeverityCounts};
    use crate::findings::Code;

    fn status(findings: &[(Code, Severity)]) -> TlsAuditStatus {
        let mut counts = SeverityCounts::default();
        for (_, s) in findings {
            counts.add(*s);
        }
        TlsAuditStatus {
            summary: Some(AuditSummary {
                findings: counts,
                ..AuditSummary::default()
            }),
            endpoints: vec![EndpointStatus {
                target: "service/web".into(),
                address: Some("10.0.0.1:443".into()),
                findings: findings
                    .iter()
                    .map(|(code, severity)| FindingStatus {
                        code: *code,
                        severity: *severity,
                        message: "m".into(),
                    })
                    .collect(),
                ..EndpointStatus::default()
            }],
            ..TlsAuditStatus::default()
        }
    }

    #[test]
    fn a_new_critical_finding_is_a_warning_naming_endpoint_and_code() {
        let events = changes(
            None,
            &status(&[
                (Code::CertExpired, Severity::Critical),
                (Code::AlpnNoH2, Severity::Info),
            ]),
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].type_, EventType::Warning);
        assert_eq!(events[0].reason, CRITICAL_FINDING);
        assert_eq!(
            events[0].note.as_deref(),
            Some("service/web 10.0.0.1:443: cert.expired: m")
        );
    }

    #[test]
    fn a_critical_finding_already_reported_is_not_repeated() {
        let before = status(&[(Code::CertExpired, Severity::Critical)]);
        assert!(changes(Some(&before), &before.clone()).is_empty());
    }

    #[test]
    fn the_last_critical_finding_gone_is_a_recovery() {
        let before = status(&[(Code::CertExpired, Severity::Critical)]);
        let events = changes(Some(&before), &status(&[(Code::AlpnNoH2, Severity::Info)]));
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].type_, events[0].reason.as_str()),
            (EventType::Normal, RECOVERED)
        );
    }
}
