//! cert-manager Certificates judged against what an endpoint serves. Input: the Certificate an
//! endpoint is linked to, what its Secret holds (read by `material`), the leaf the endpoint
//! served, the name clients use, and the time. Output: `certmanager.*` findings. Pure.
//!
//! - `certmanager.stale_reload`: the served leaf differs from the Secret's and is older (by
//!   notBefore): cert-manager renewed the Secret, the workload never reloaded it.
//! - `certmanager.secret_mismatch`: it differs and is not older (another certificate is served).
//! - `certmanager.renewal_overdue`: `status.renewalTime` passed more than [`RENEWAL_GRACE`] ago.
//! - `certmanager.not_ready`: `Ready=False` for more than [`NOT_READY_GRACE`], with its reason.
//! - `certmanager.name_not_covered`: the name clients use is outside `spec.dnsNames` /
//!   `spec.ipAddresses` (`cert::covers`, the one name-coverage rule).

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};

use super::ingress::SecretCert;
use crate::cert::{cert_facts, covers};
use crate::controller::certmanager::Certificate;
use crate::facts::CertFacts;
use crate::findings::{Code, Finding};

/// How long after `status.renewalTime` a Certificate may still be renewing. cert-manager renews
/// at renewalTime; an ACME order with HTTP-01 or DNS-01 challenges takes minutes (DNS propagation
/// included), so an hour past the time without a new renewalTime means the renewal failed.
pub const RENEWAL_GRACE: SignedDuration = SignedDuration::from_hours(1);

/// How long `Ready=False` may last before it is reported: a new or re-keyed Certificate is not
/// Ready until it is issued. Ten minutes, as the `for:` of the cert-manager mixin's
/// CertManagerCertNotReady alert.
pub const NOT_READY_GRACE: SignedDuration = SignedDuration::from_mins(10);

/// Codes of the plain "served ≠ its Secret" findings of other steps (Ingress today; the Gateway
/// listener's after the merge): a stale reload replaces them, a mismatch defers to them.
pub const PLAIN_MISMATCH: &[Code] = &[Code::IngressSecretMismatch, Code::GatewaySecretMismatch];

/// One endpoint's link: its Certificate and what the Certificate's Secret holds.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// The Certificate.
    pub certificate: &'a Certificate,
    /// What its `spec.secretName` Secret holds.
    pub secret: &'a SecretCert,
}

/// The findings of one endpoint linked to a Certificate. `host` is the name clients use (SNI);
/// `served` the leaf the endpoint served (`None` when it was not reached).
#[must_use]
pub fn findings(
    host: &str,
    link: Link<'_>,
    served: Option<&CertFacts>,
    now: Timestamp,
) -> Vec<Finding> {
    let cert = link.certificate;
    let name = cert.metadata.name.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    if let Some(f) = not_ready(name, cert, now) {
        out.push(f);
    }
    if let Some(f) = renewal_overdue(name, cert, now) {
        out.push(f);
    }
    if let Some(f) = name_not_covered(name, cert, host) {
        out.push(f);
    }
    if let (Some(served), SecretCert::Leaf(der)) = (served, link.secret)
        && let Ok(stored) = cert_facts(der)
        && let Some(f) = served_vs_secret(name, cert, served, &stored)
    {
        out.push(f);
    }
    out
}

fn not_ready(name: &str, cert: &Certificate, now: Timestamp) -> Option<Finding> {
    let ready = cert.condition("Ready")?;
    if ready.status != "False" {
        return None;
    }
    if let Some(since) = ready.last_transition_time
        && now.duration_since(since) < NOT_READY_GRACE
    {
        return None;
    }
    let reason = ready.reason.as_deref().unwrap_or("no reason given");
    let message = ready.message.as_deref().unwrap_or_default();
    let since = ready
        .last_transition_time
        .map(|t| format!(" since {t}"))
        .unwrap_or_default();
    Some(Finding::new(
        Code::CertmanagerNotReady,
        format!("Certificate {name} is Ready=False{since}: {reason}: {message}"),
    ))
}

fn renewal_overdue(name: &str, cert: &Certificate, now: Timestamp) -> Option<Finding> {
    let status = cert.status.as_ref()?;
    let due = status.renewal_time?;
    let late = now.duration_since(due);
    if late <= RENEWAL_GRACE {
        return None;
    }
    let mut message = format!(
        "Certificate {name} was due for renewal at {due} ({} h ago) and was not renewed",
        late.as_hours()
    );
    if let Some(not_after) = status.not_after {
        let _ = write!(
            message,
            "; the certificate in Secret {} expires at {not_after}",
            cert.spec.secret_name
        );
    }
    if let Some(attempts) = status.failed_issuance_attempts {
        let _ = write!(message, "; {attempts} failed issuance attempt(s)");
        if let Some(at) = status.last_failure_time {
            let _ = write!(message, ", the last at {at}");
        }
    }
    Some(Finding::new(Code::CertmanagerRenewalOverdue, message))
}

fn name_not_covered(name: &str, cert: &Certificate, host: &str) -> Option<Finding> {
    let spec = &cert.spec;
    let mut names: Vec<String> = spec
        .dns_names
        .iter()
        .chain(&spec.ip_addresses)
        .cloned()
        .collect();
    // Clients ignore the common name when any SAN is set (the CRD's own text, RFC 6125 §6.4.4).
    if names.is_empty()
        && let Some(cn) = &spec.common_name
    {
        names.push(cn.clone());
    }
    if covers(&names, host) {
        return None;
    }
    Some(Finding::new(
        Code::CertmanagerNameNotCovered,
        format!(
            "{host}, the name clients use, is not covered by Certificate {name} (spec.dnsNames, \
             spec.ipAddresses: {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ),
    ))
}

fn served_vs_secret(
    name: &str,
    cert: &Certificate,
    served: &CertFacts,
    stored: &CertFacts,
) -> Option<Finding> {
    if same_fingerprint(&served.sha256, &stored.sha256) {
        return None;
    }
    let secret = &cert.spec.secret_name;
    let revision = cert
        .status
        .as_ref()
        .and_then(|s| s.revision)
        .map(|r| format!(" (revision {r})"))
        .unwrap_or_default();
    let what = format!(
        "serves sha256 {} (notBefore {}) but Secret {secret} of Certificate {name}{revision} holds \
         sha256 {} (notBefore {})",
        short(&served.sha256),
        served.not_before,
        short(&stored.sha256),
        stored.not_before
    );
    Some(if served.not_before_unix < stored.not_before_unix {
        Finding::new(
            Code::CertmanagerStaleReload,
            format!("the endpoint {what}: the renewed Secret was not reloaded"),
        )
    } else {
        Finding::new(
            Code::CertmanagerSecretMismatch,
            format!("the endpoint {what}"),
        )
    })
}

fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

/// Merges an endpoint's `certmanager.*` findings with those it already has: a stale reload
/// replaces a plain mismatch of the same fact ([`PLAIN_MISMATCH`]); a mismatch that another step
/// already reported is not repeated. Returns the findings to add; removes replaced ones from
/// `existing`.
pub fn merge(existing: &mut Vec<Finding>, mut extra: Vec<Finding>) -> Vec<Finding> {
    if extra.iter().any(|f| f.code == Code::CertmanagerStaleReload) {
        existing.retain(|f| !PLAIN_MISMATCH.contains(&f.code));
    } else if existing.iter().any(|f| PLAIN_MISMATCH.contains(&f.code)) {
        extra.retain(|f| f.code != Code::CertmanagerSecretMismatch);
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::certmanager::{
        CertificateCondition, CertificateSpec, CertificateStatus,
    };
    use crate::findings::Severity;

    fn now() -> Timestamp {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A self-signed leaf for `names`, valid from `days_ago` days before [`now`].
    fn leaf(names: &[&str], days_ago: i64) -> (Vec<u8>, CertFacts) {
        let mut params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap();
        let start = now().as_second() - days_ago * 86_400;
        params.not_before = time::OffsetDateTime::from_unix_timestamp(start).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(start + 90 * 86_400).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let facts = cert_facts(&der).unwrap();
        (der, facts)
    }

    fn certificate(dns: &[&str], status: CertificateStatus) -> Certificate {
        Certificate {
            metadata: kube::api::ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: CertificateSpec {
                secret_name: "web-tls".into(),
                dns_names: dns.iter().map(|d| (*d).to_owned()).collect(),
                ..Default::default()
            },
            status: Some(status),
        }
    }

    fn ready(status: &str, reason: &str, since: &str) -> CertificateStatus {
        CertificateStatus {
            conditions: vec![CertificateCondition {
                type_: "Ready".into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some("Issuing certificate as Secret does not exist".into()),
                last_transition_time: Some(at(since)),
            }],
            ..Default::default()
        }
    }

    fn codes(findings: &[Finding]) -> Vec<(Code, Severity)> {
        findings.iter().map(|f| (f.code, f.severity)).collect()
    }

    #[test]
    fn a_served_leaf_older_than_the_renewed_secret_is_a_stale_reload() {
        let (_, old) = leaf(&["web.shop.svc"], 60);
        let (renewed, _) = leaf(&["web.shop.svc"], 1);
        let secret = SecretCert::Leaf(renewed);
        let mut status = ready("True", "Ready", "2026-11-30T12:00:00Z");
        status.revision = Some(2);
        let cert = certificate(&["web.shop.svc"], status);
        let link = Link {
            certificate: &cert,
            secret: &secret,
        };
        let found = findings("web.shop.svc", link, Some(&old), now());
        assert_eq!(
            codes(&found),
            vec![(Code::CertmanagerStaleReload, Severity::High)]
        );
        assert!(
            found[0].message.contains("revision 2"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_served_leaf_newer_than_the_secret_is_a_mismatch_and_the_same_leaf_is_nothing() {
        let (stored, stored_facts) = leaf(&["web.shop.svc"], 30);
        let (_, newer) = leaf(&["web.shop.svc"], 1);
        let secret = SecretCert::Leaf(stored);
        let cert = certificate(&["web.shop.svc"], CertificateStatus::default());
        let link = Link {
            certificate: &cert,
            secret: &secret,
        };
        assert_eq!(
            codes(&findings("web.shop.svc", link, Some(&newer), now())),
            vec![(Code::CertmanagerSecretMismatch, Severity::Medium)]
        );
        assert!(findings("web.shop.svc", link, Some(&stored_facts), now()).is_empty());
        // Not reached: nothing to compare.
        assert!(findings("web.shop.svc", link, None, now()).is_empty());
    }

    #[test]
    fn renewal_time_past_the_grace_is_overdue_and_within_it_is_not() {
        let secret = SecretCert::Missing;
        let mut status = ready("True", "Ready", "2026-09-01T00:00:00Z");
        status.renewal_time = Some(at("2026-12-01T10:30:00Z"));
        status.not_after = Some(at("2026-12-31T00:00:00Z"));
        status.failed_issuance_attempts = Some(2);
        let overdue = certificate(&["web.shop.svc"], status.clone());
        let link = Link {
            certificate: &overdue,
            secret: &secret,
        };
        let found = findings("web.shop.svc", link, None, now());
        assert_eq!(
            codes(&found),
            vec![(Code::CertmanagerRenewalOverdue, Severity::High)]
        );
        assert!(found[0].message.contains("2 failed issuance attempt(s)"));
        status.renewal_time = Some(at("2026-12-01T11:30:00Z"));
        let renewing = certificate(&["web.shop.svc"], status);
        let link = Link {
            certificate: &renewing,
            secret: &secret,
        };
        assert!(findings("web.shop.svc", link, None, now()).is_empty());
    }

    #[test]
    fn ready_false_is_reported_with_its_reason_after_the_grace() {
        let secret = SecretCert::Missing;
        let failing = certificate(
            &["web.shop.svc"],
            ready("False", "DoesNotExist", "2026-12-01T11:00:00Z"),
        );
        let link = Link {
            certificate: &failing,
            secret: &secret,
        };
        let found = findings("web.shop.svc", link, None, now());
        assert_eq!(
            codes(&found),
            vec![(Code::CertmanagerNotReady, Severity::High)]
        );
        assert!(
            found[0]
                .message
                .contains("DoesNotExist: Issuing certificate")
        );
        let fresh = certificate(
            &["web.shop.svc"],
            ready("False", "DoesNotExist", "2026-12-01T11:55:00Z"),
        );
        let link = Link {
            certificate: &fresh,
            secret: &secret,
        };
        assert!(findings("web.shop.svc", link, None, now()).is_empty());
    }

    #[test]
    fn dns_names_must_cover_the_name_clients_use_by_the_one_coverage_rule() {
        let secret = SecretCert::Missing;
        let wildcard = certificate(&["*.example.test"], CertificateStatus::default());
        let link = Link {
            certificate: &wildcard,
            secret: &secret,
        };
        assert!(findings("shop.example.test", link, None, now()).is_empty());
        let found = findings("a.shop.example.test", link, None, now());
        assert_eq!(
            codes(&found),
            vec![(Code::CertmanagerNameNotCovered, Severity::High)]
        );
        assert!(found[0].message.contains("*.example.test"));
    }

    #[test]
    fn a_stale_reload_replaces_the_plain_ingress_mismatch_and_a_mismatch_defers_to_it() {
        let plain = Finding::new(Code::IngressSecretMismatch, "x");
        let mut existing = vec![plain.clone()];
        let added = merge(
            &mut existing,
            vec![Finding::new(Code::CertmanagerStaleReload, "y")],
        );
        assert!(existing.is_empty());
        assert_eq!(added.len(), 1);
        let mut existing = vec![plain];
        let added = merge(
            &mut existing,
            vec![Finding::new(Code::CertmanagerSecretMismatch, "z")],
        );
        assert_eq!(existing.len(), 1);
        assert!(added.is_empty());
    }
}
