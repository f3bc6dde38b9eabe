//! Step 6 of the reconcile: which Kubernetes Events an audit emits. Input: the status before and
//! after an audit. Output: a Warning for critical findings that were not there before, a Normal
//! `Recovered` when the last critical finding is gone. [`changes`] is pure; [`publish`] writes them
//! through the [`Recorder`]. The previous state is read from the stored status, so a restart does
//! not repeat the warnings.
//!
//! The [`Recorder`] writes `events.k8s.io/v1` Events as kube's does, but names them so that the name
//! stays a valid object name for audits whose own name is up to 253 characters long (kube's
//! `<object name>.<hex nanoseconds>` exceeds 253 past about 236).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Client, Resource, ResourceExt};

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

/// Writes Events about objects, as `reporter`.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    reporter: Reporter,
}

/// Most characters of an Event name (a DNS subdomain).
const MAX_NAME: usize = 253;

/// The name of an Event about `object` at `nanos`: `<object>.<hex nanos>`, the object's name cut and
/// suffixed with a hash of the whole when that would pass 253 characters.
#[must_use]
pub fn event_name(object: &str, nanos: i128) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    let suffix = format!("{nanos:x}");
    if object.len() + 1 + suffix.len() <= MAX_NAME {
        return format!("{object}.{suffix}");
    }
    let mut hash = String::new();
    for byte in Sha256::digest(object.as_bytes()).iter().take(4) {
        let _ = write!(hash, "{byte:02x}");
    }
    // Object names are ASCII (DNS subdomains); cut on a boundary anyway.
    let mut cut = MAX_NAME - suffix.len() - hash.len() - 2;
    while !object.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = object[..cut].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{head}-{hash}.{suffix}")
}

impl Recorder {
    /// A recorder writing as `reporter`.
    #[must_use]
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self { client, reporter }
    }

    /// Creates one Event about `reference`.
    pub async fn publish(
        &self,
        ev: &Event,
        reference: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = jiff::Timestamp::now();
        let object = reference
            .name
            .as_deref()
            .unwrap_or(&self.reporter.controller);
        let namespace = reference
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let event = K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(reference.clone()),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: Some(namespace.clone()),
                name: Some(event_name(object, now.as_nanosecond())),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(match ev.type_ {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            related: ev.secondary.clone(),
            ..K8sEvent::default()
        };
        Api::<K8sEvent>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &event)
            .await
            .map(|_| ())
    }
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

    #[test]
    fn event_names_stay_object_names_for_the_longest_audit_names() {
        assert_eq!(event_name("web", 0x1f), "web.1f");
        let long = "a".repeat(253);
        let name = event_name(&long, i128::from(i64::MAX));
        assert_eq!(name.len(), 253, "{name}");
        assert!(name.ends_with(".7fffffffffffffff"), "{name}");
        let other = event_name(&format!("{}b", "a".repeat(252)), i128::from(i64::MAX));
        assert_ne!(name, other);
        assert_eq!(event_name(&"c".repeat(236), 0x1234).len(), 241);
    }
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
