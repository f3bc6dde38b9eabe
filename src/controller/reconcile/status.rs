//! Step 5 of the reconcile: the audited endpoints → the bounded `TlsAudit` status (summary, the
//! worst N endpoints, Ready and Compliant conditions), written with server-side apply. Input: the
//! [`Audited`] endpoints, the configuration [`Problem`]s and [`StatusInput`]. Output: the status.
//! Building it is pure (time is a parameter); [`patch`] is the one API call.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};

use super::judge::{Audited, worst_first};
use crate::crd::{
    AuditSummary, EndpointStatus, FIELD_MANAGER, FindingStatus, LeafStatus, SeverityCounts,
    TlsAudit, TlsAuditStatus,
};
use crate::findings::Severity;
use crate::grade::Grade;
use crate::report::EndpointReport;

/// Condition type: the audit ran with its whole configuration.
pub const READY: &str = "Ready";
/// Condition type: every endpoint meets the policy.
pub const COMPLIANT: &str = "Compliant";

/// A part of the audit's configuration that could not be used (Ready=False).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// CamelCase reason, e.g. `SecretNotFound`.
    pub reason: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// Whether an endpoint meets the policy: grade at least `minimum` and no critical finding.
#[must_use]
pub fn complies(report: &EndpointReport, minimum: Grade) -> bool {
    report.grade <= minimum && report.worst() != Some(Severity::Critical)
}

/// Whole days from `now` to `unix`, truncated toward zero: "9 days left", "expired 3 days ago" (-3),
/// as the finding messages count them.
fn days_until(unix: i64, now: jiff::Timestamp) -> i64 {
    (unix - now.as_second()) / 86_400
}

/// Longest name (target, host, server name, DN) in the status.
pub const MAX_NAME: usize = 300;
/// Longest finding or condition message in the status.
pub const MAX_MESSAGE: usize = 1024;
/// Most subjectAltNames listed per leaf (a certificate may carry thousands).
pub const MAX_SANS: usize = 32;

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut: every string the
/// status copies from a spec, a certificate or a server is bounded, so that the status patch stays
/// small whatever an endpoint serves.
#[must_use]
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

/// The slim status form of one endpoint.
#[must_use]
pub fn endpoint_status(audited: &Audited, now: jiff::Timestamp) -> EndpointStatus {
    let report = &audited.report;
    let facts = &report.facts;
    let name = |s: &str| bounded(s, MAX_NAME);
    EndpointStatus {
        target: name(&audited.origin),
        address: report.address.clone(),
        host: name(&report.host),
        port: report.port,
        server_name: report.server_name.as_deref().map(name),
        grade: Some(report.grade),
        profile: report.profile,
        versions: facts.protocols.accepted(),
        cipher: facts.negotiated.as_ref().map(|n| n.cipher.clone()),
        leaf: facts.chain.first().map(|leaf| LeafStatus {
            subject: name(&leaf.subject),
            issuer: name(&leaf.issuer),
            sans: leaf.sans.iter().take(MAX_SANS).map(|s| name(s)).collect(),
            not_after: leaf.not_after.clone(),
            days_left: days_until(leaf.not_after_unix, now),
            key_type: format!("{} {}", leaf.key_type, leaf.key_bits),
            signature: leaf.signature.clone(),
            sha256: leaf.sha256.clone(),
            not_before: leaf.not_before.clone(),
            ocsp_urls: leaf.revocation.ocsp_urls.clone(),
            crl_urls: leaf.revocation.crl_urls.clone(),
            must_staple: leaf.revocation.must_staple,
        }),
        findings: report
            .findings
            .iter()
            .map(|f| FindingStatus {
                code: f.code,
                severity: f.severity,
                message: bounded(&f.message, MAX_MESSAGE),
            })
            .collect(),
    }
}

/// Everything the status needs beyond the reports.
#[derive(Debug, Clone)]
pub struct StatusInput<'a> {
    /// `metadata.generation` of the audited spec.
    pub generation: Option<i64>,
    /// The policy's minimum grade.
    pub minimum_grade: Grade,
    /// Configuration problems (Ready=False when any).
    pub problems: &'a [Problem],
    /// When the audit completed.
    pub now: jiff::Timestamp,
    /// When the next periodic audit is due.
    pub next: jiff::Timestamp,
    /// The status before this audit (for condition transition times).
    pub previous: Option<&'a TlsAuditStatus>,
    /// Most endpoints listed.
    pub max_endpoints: usize,
}

/// Builds the status of one audit.
#[must_use]
pub fn build(audited: &[Audited], input: &StatusInput<'_>) -> TlsAuditStatus {
    let now = input.now;
    let mut summary = AuditSummary {
        endpoints: count(audited.len()),
        ..AuditSummary::default()
    };
    let mut findings = SeverityCounts::default();
    let mut earliest: Option<(i64, String)> = None;
    for a in audited {
        let r = &a.report;
        if complies(r, input.minimum_grade) {
            summary.compliant += 1;
        }
        for f in &r.findings {
            findings.add(f.severity);
        }
        if summary.grade.is_none_or(|g| r.grade > g) {
            summary.grade = Some(r.grade);
        }
        if let Some(leaf) = r.facts.chain.first()
            && earliest
                .as_ref()
                .is_none_or(|(t, _)| leaf.not_after_unix < *t)
        {
            earliest = Some((leaf.not_after_unix, leaf.not_after.clone()));
        }
    }
    summary.findings = findings;
    if let Some((unix, text)) = earliest {
        summary.earliest_expiry = Some(text);
        summary.earliest_expiry_days = Some(days_until(unix, now));
    }

    let order = worst_first(audited);
    let endpoints: Vec<EndpointStatus> = order
        .iter()
        .take(input.max_endpoints)
        .map(|a| endpoint_status(a, now))
        .collect();
    let omitted = count(audited.len().saturating_sub(endpoints.len()));

    let previous = input
        .previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let conditions = vec![
        condition(previous, READY, ready(audited.len(), input.problems), input),
        condition(
            previous,
            COMPLIANT,
            compliant(&summary, &order, input.minimum_grade),
            input,
        ),
    ];
    TlsAuditStatus {
        observed_generation: input.generation,
        conditions,
        last_audit_time: Some(Time(now)),
        next_audit_time: Some(Time(input.next)),
        summary: Some(summary),
        endpoints,
        omitted_endpoints: omitted,
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

type Verdict = (&'static str, &'static str, String);

fn ready(endpoints: usize, problems: &[Problem]) -> Verdict {
    match problems {
        [] => (
            "True",
            "Audited",
            format!("audited {endpoints} endpoint(s)"),
        ),
        [only] => ("False", only.reason, only.message.clone()),
        [first, ..] => (
            "False",
            first.reason,
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

fn compliant(summary: &AuditSummary, worst_first: &[&Audited], minimum: Grade) -> Verdict {
    if summary.endpoints == 0 {
        return (
            "Unknown",
            "NoEndpoints",
            "the audit selects no endpoint".to_owned(),
        );
    }
    let failing = summary.endpoints - summary.compliant;
    if failing == 0 {
        return (
            "True",
            "Compliant",
            format!(
                "all {} endpoint(s) have grade {minimum} or better and no critical finding",
                summary.endpoints
            ),
        );
    }
    let worst = worst_first.first().map(|a| {
        let r = &a.report;
        let codes: Vec<&str> = r.findings.iter().take(3).map(|f| f.code.as_str()).collect();
        format!(
            "; worst: {} {} grade {} ({})",
            a.origin,
            r.address.as_deref().unwrap_or(&r.host),
            r.grade,
            codes.join(", ")
        )
    });
    (
        "False",
        "NonCompliant",
        format!(
            "{failing} of {} endpoint(s) are below grade {minimum} or have a critical finding{}",
            summary.endpoints,
            worst.unwrap_or_default()
        ),
    )
}

fn condition(
    previous: &[Condition],
    type_: &str,
    verdict: Verdict,
    input: &StatusInput<'_>,
) -> Condition {
    let (status, reason, message) = verdict;
    // The transition time moves only when the status flips (Kubernetes API conventions).
    let since = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or(Time(input.now), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: bounded(&message, MAX_MESSAGE * 4),
        observed_generation: input.generation,
        last_transition_time: since,
    }
}

/// A Ready=False status for an audit whose spec cannot be used at all; the previous results stay.
#[must_use]
pub fn invalid(
    previous: Option<&TlsAuditStatus>,
    generation: Option<i64>,
    problem: &Problem,
    now: jiff::Timestamp,
) -> TlsAuditStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let input = StatusInput {
        generation,
        minimum_grade: Grade::B,
        problems: std::slice::from_ref(problem),
        now,
        next: now,
        previous,
        max_endpoints: 0,
    };
    let ready = condition(
        &status.conditions,
        READY,
        ("False", problem.reason, problem.message.clone()),
        &input,
    );
    status.conditions.retain(|c| c.type_ != READY);
    status.conditions.insert(0, ready);
    status.observed_generation = generation;
    status
}

/// The status write failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to patch the status of TlsAudit {namespace}/{name}: {source}")]
pub struct PatchStatusError {
    namespace: String,
    name: String,
    source: kube::Error,
}

/// The server-side apply body of a status, serialised straight from the typed status: a
/// `serde_json::Value` of it took several times the status's JSON size for as long as the patch
/// was in flight, and a hundred audits finishing together held that at once (BENCHMARKS.md §3).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusApply<'a> {
    api_version: std::borrow::Cow<'a, str>,
    kind: std::borrow::Cow<'a, str>,
    status: &'a TlsAuditStatus,
}

/// Writes `status` to TlsAudit `namespace/name` (server-side apply on the status subresource, as
/// the only owner of its fields).
pub async fn patch(
    client: &Client,
    namespace: &str,
    name: &str,
    status: &TlsAuditStatus,
) -> Result<(), PatchStatusError> {
    let api: Api<TlsAudit> = Api::namespaced(client.clone(), namespace);
    let patch = StatusApply {
        api_version: TlsAudit::api_version(&()),
        kind: TlsAudit::kind(&()),
        status,
    };
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| PatchStatusError {
        namespace: namespace.into(),
        name: name.into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{audited, now};
    use crate::facts::TlsVersion;
    use crate::findings::Code;

    fn input<'a>(
        problems: &'a [Problem],
        previous: Option<&'a TlsAuditStatus>,
        max: usize,
    ) -> StatusInput<'a> {
        StatusInput {
            generation: Some(3),
            minimum_grade: Grade::B,
            problems,
            now: now(),
            next: now() + jiff::SignedDuration::from_hours(1),
            previous,
            max_endpoints: max,
        }
    }

    #[test]
    fn the_summary_counts_findings_grades_and_the_earliest_expiry() {
        let list = [
            audited(
                "service/a",
                "10.0.0.1:443",
                Grade::A,
                &[Code::AlpnNoH2],
                Some(90),
            ),
            audited(
                "service/b",
                "10.0.0.2:443",
                Grade::F,
                &[Code::CertExpired, Code::ProtocolTls10],
                Some(-3),
            ),
            audited(
                "service/c",
                "10.0.0.3:443",
                Grade::T,
                &[Code::CertUntrusted, Code::Cipher3des],
                Some(20),
            ),
        ];
        let status = build(&list, &input(&[], None, 50));
        let summary = status.summary.unwrap();
        assert_eq!(summary.endpoints, 3);
        assert_eq!(summary.compliant, 1);
        assert_eq!(summary.grade, Some(Grade::F));
        assert_eq!(
            summary.findings,
            SeverityCounts {
                critical: 1,
                high: 2,
                medium: 1,
                low: 0
            }
        );
        assert_eq!(summary.earliest_expiry.as_deref(), Some("t+-3d"));
        assert_eq!(summary.earliest_expiry_days, Some(-3));
        assert_eq!(status.observed_generation, Some(3));
    }

    #[test]
    fn the_status_lists_the_worst_endpoints_first_and_counts_the_rest() {
        let list = [
            audited("service/a", "10.0.0.1:443", Grade::A, &[], Some(90)),
            audited(
                "service/b",
                "10.0.0.2:443",
                Grade::F,
                &[Code::CertExpired],
                Some(-3),
            ),
            audited(
                "service/c",
                "10.0.0.3:443",
                Grade::T,
                &[Code::CertUntrusted],
                Some(20),
            ),
        ];
        let status = build(&list, &input(&[], None, 2));
        let targets: Vec<&str> = status.endpoints.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, vec!["service/b", "service/c"]);
        assert_eq!(status.omitted_endpoints, 1);
        let leaf = status.endpoints[1].leaf.as_ref().unwrap();
        assert_eq!((leaf.days_left, leaf.key_type.as_str()), (20, "EC 256"));
        assert_eq!(status.endpoints[0].findings[0].code, Code::CertExpired);
        assert_eq!(status.endpoints[0].versions, vec![TlsVersion::Tls13]);
    }

    #[test]
    fn conditions_say_ready_and_non_compliant_with_the_worst_endpoint() {
        let list = [audited(
            "service/b",
            "10.0.0.2:443",
            Grade::F,
            &[Code::CertExpired],
            Some(-3),
        )];
        let status = build(&list, &input(&[], None, 50));
        let ready = &status.conditions[0];
        assert_eq!(
            (
                ready.type_.as_str(),
                ready.status.as_str(),
                ready.reason.as_str()
            ),
            (READY, "True", "Audited")
        );
        let compliant = &status.conditions[1];
        assert_eq!(
            (compliant.status.as_str(), compliant.reason.as_str()),
            ("False", "NonCompliant")
        );
        assert!(
            compliant
                .message
                .contains("service/b 10.0.0.2:443 grade F (cert.expired)"),
            "{}",
            compliant.message
        );
    }

    #[test]
    fn a_problem_makes_ready_false_and_keeps_every_result() {
        let problems = [Problem {
            reason: "SecretNotFound",
            message: "Secret client-tls not found in namespace shop".into(),
        }];
        let list = [audited(
            "service/a",
            "10.0.0.1:443",
            Grade::A,
            &[],
            Some(90),
        )];
        let status = build(&list, &input(&problems, None, 50));
        assert_eq!(status.conditions[0].status, "False");
        assert_eq!(status.conditions[0].reason, "SecretNotFound");
        assert!(status.conditions[0].message.contains("client-tls"));
        assert_eq!(status.endpoints.len(), 1);
        assert_eq!(status.conditions[1].status, "True");
    }

    #[test]
    fn transition_times_move_only_when_the_status_flips() {
        let list = [audited(
            "service/a",
            "10.0.0.1:443",
            Grade::A,
            &[],
            Some(90),
        )];
        let mut first = build(&list, &input(&[], None, 50));
        let earlier: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        for c in &mut first.conditions {
            c.last_transition_time = Time(earlier);
        }
        let problems = [Problem {
            reason: "SecretNotFound",
            message: "m".into(),
        }];
        let second = build(&list, &input(&problems, Some(&first), 50));
        assert_eq!(second.conditions[0].last_transition_time, Time(now()));
        assert_eq!(second.conditions[1].last_transition_time, Time(earlier));
    }

    #[test]
    fn an_invalid_spec_keeps_the_previous_results() {
        let list = [audited(
            "service/a",
            "10.0.0.1:443",
            Grade::A,
            &[],
            Some(90),
        )];
        let before = build(&list, &input(&[], None, 50));
        let problem = Problem {
            reason: "InvalidSpec",
            message: "bad selector".into(),
        };
        let after = invalid(Some(&before), Some(4), &problem, now());
        assert_eq!(after.endpoints, before.endpoints);
        assert_eq!(after.conditions[0].reason, "InvalidSpec");
        assert_eq!(after.conditions.len(), 2);
        assert_eq!(after.observed_generation, Some(4));
    }

    #[test]
    fn the_leaf_status_carries_the_revocation_sources_and_must_staple() {
        let mut endpoint = audited("service/a", "10.0.0.1:443", Grade::A, &[], Some(90));
        let leaf = &mut std::sync::Arc::make_mut(&mut endpoint.report.facts).chain[0];
        leaf.not_before = "2026-01-01T00:00:00Z".into();
        leaf.revocation.ocsp_urls = vec!["http://ocsp.example".into()];
        leaf.revocation.crl_urls = vec!["http://crl.example/1.crl".into()];
        leaf.revocation.must_staple = true;
        let status = build(&[endpoint], &input(&[], None, 50));
        let leaf = status.endpoints[0].leaf.as_ref().unwrap();
        assert_eq!(leaf.not_before, "2026-01-01T00:00:00Z");
        assert_eq!(leaf.ocsp_urls, ["http://ocsp.example"]);
        assert_eq!(leaf.crl_urls, ["http://crl.example/1.crl"]);
        assert!(leaf.must_staple);
    }
    #[test]
    fn the_apply_body_is_the_status_with_its_kind() {
        let endpoints = [audited(
            "service/a",
            "10.0.0.1:443",
            Grade::B,
            &[Code::CertExpiringSoon],
            Some(9),
        )];
        let status = build(&endpoints, &input(&[], None, 10));
        let body = StatusApply {
            api_version: TlsAudit::api_version(&()),
            kind: TlsAudit::kind(&()),
            status: &status,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "apiVersion": "tlsaudit.dev/v1alpha1",
                "kind": "TlsAudit",
                "status": serde_json::to_value(&status).unwrap(),
            })
        );
    }
}
