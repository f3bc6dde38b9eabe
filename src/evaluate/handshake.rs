//! The engine-level checks of the handshake itself (pure): post-quantum key exchange, TLS 1.2
//! hardening (RFC 7627 extended master secret, RFC 9155 SHA-1 signatures), a client certificate
//! that is requested but not required, and an HTTP head too large or too slow to judge HSTS.
//! Input: [`Facts`] and the [`Policy`]. Output: findings pushed onto the evaluator's list.

use crate::facts::{ClientAuthDemand, Facts};
use crate::findings::{Code, Finding, Severity};
use crate::policy::Policy;

/// Every check of this module, for a reachable endpoint.
pub(super) fn judge(facts: &Facts, policy: &Policy, out: &mut Vec<Finding>) {
    key_exchange(facts, out);
    hardening(facts, out);
    client_certificate(facts, policy, out);
    http_head(facts, out);
}

fn key_exchange(facts: &Facts, out: &mut Vec<Finding>) {
    if facts.groups.pq_hybrid != Some(false) {
        return;
    }
    let message = if facts.protocols.tls1_3 == Some(false) {
        "no post-quantum hybrid key exchange: TLS 1.3, which it needs, is not accepted".to_owned()
    } else {
        let groups = if facts.groups.supported.is_empty() {
            "none found".to_owned()
        } else {
            facts.groups.supported.join(", ")
        };
        format!("no post-quantum hybrid key exchange among the TLS 1.3 groups ({groups})")
    };
    out.push(Finding::new(Code::KexNoPqHybrid, message));
}

fn hardening(facts: &Facts, out: &mut Vec<Finding>) {
    if facts.hardening.extended_master_secret == Some(false) {
        out.push(Finding::new(
            Code::TlsNoExtendedMasterSecret,
            "the TLS 1.2 ServerHello does not echo extended_master_secret (RFC 7627)",
        ));
    }
    if facts.hardening.sha1_signatures == Some(true) {
        out.push(Finding::new(
            Code::TlsSha1Signatures,
            "offered only SHA-1 signature algorithms, the server signed its TLS 1.2 ServerKeyExchange with SHA-1 (RFC 9155)",
        ));
    }
}

fn client_certificate(facts: &Facts, policy: &Policy, out: &mut Vec<Finding>) {
    let auth = &facts.client_auth;
    let identity = auth.client_cert.is_some() || auth.identity_accepted.is_some();
    let status = auth
        .http_status_without_certificate
        .map_or_else(String::new, |s| {
            format!("; GET / without one answered HTTP {s}")
        });
    match auth.demand {
        ClientAuthDemand::Optional => {
            let why = if policy.require_client_certificate {
                " although the policy expects mTLS"
            } else if identity {
                " although the audit was given a client certificate for it"
            } else {
                ""
            };
            let severity = if why.is_empty() {
                Severity::Medium
            } else {
                Severity::High
            };
            let message = format!(
                "the server requests a client certificate but completes the handshake without one{why}{status}"
            );
            out.push(Finding::new(Code::MtlsOptional, message).with_severity(severity));
        }
        ClientAuthDemand::RequiredAtHttp => out.push(Finding::new(
            Code::MtlsRequired,
            format!(
                "the server requires a client certificate at the HTTP layer: the handshake completes without one{status}"
            ),
        )),
        ClientAuthDemand::None if policy.require_client_certificate && facts.reachable => {
            out.push(Finding::new(
                Code::MtlsNotRequested,
                "the policy expects mTLS, but the server does not request a client certificate",
            ));
        }
        _ => {}
    }
}

fn http_head(facts: &Facts, out: &mut Vec<Finding>) {
    let Some(reason) = facts.http.head_incomplete.as_deref() else {
        return;
    };
    if facts.features.hsts_max_age.is_some() {
        return;
    }
    let why = match reason {
        "too_large" => "is larger than 16 KiB",
        "timeout" => "was still arriving at the timeout",
        _ => "ended before its blank line",
    };
    out.push(Finding::new(
        Code::HttpHeadUnreadable,
        format!("the response head to GET / {why}; HSTS is unknown"),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ClientAuthFacts, GroupFacts, HardeningFacts, HttpFacts};

    fn judged(facts: &Facts, policy: &Policy) -> Vec<(Code, Severity)> {
        let mut out = Vec::new();
        judge(facts, policy, &mut out);
        out.into_iter().map(|f| (f.code, f.severity)).collect()
    }

    #[test]
    fn an_optional_client_certificate_is_medium_and_high_when_mtls_is_expected() {
        let mut facts = Facts {
            reachable: true,
            client_auth: ClientAuthFacts {
                demand: ClientAuthDemand::Optional,
                http_status_without_certificate: Some(200),
                ..ClientAuthFacts::default()
            },
            ..Facts::default()
        };
        let policy = Policy::default();
        assert_eq!(
            judged(&facts, &policy),
            vec![(Code::MtlsOptional, Severity::Medium)]
        );
        let expect = Policy {
            require_client_certificate: true,
            ..Policy::default()
        };
        assert_eq!(
            judged(&facts, &expect),
            vec![(Code::MtlsOptional, Severity::High)]
        );
        facts.client_auth.identity_accepted = Some(true);
        assert_eq!(
            judged(&facts, &policy),
            vec![(Code::MtlsOptional, Severity::High)]
        );
        facts.client_auth.demand = ClientAuthDemand::RequiredAtHttp;
        assert_eq!(
            judged(&facts, &policy),
            vec![(Code::MtlsRequired, Severity::Info)]
        );
        facts.client_auth = ClientAuthFacts::default();
        assert_eq!(
            judged(&facts, &expect),
            vec![(Code::MtlsNotRequested, Severity::High)]
        );
    }

    #[test]
    fn missing_pq_ems_and_sha1_signatures_are_reported() {
        let facts = Facts {
            reachable: true,
            groups: GroupFacts {
                supported: vec!["x25519".into()],
                pq_hybrid: Some(false),
                ..GroupFacts::default()
            },
            hardening: HardeningFacts {
                extended_master_secret: Some(false),
                sha1_signatures: Some(true),
            },
            ..Facts::default()
        };
        assert_eq!(
            judged(&facts, &Policy::default()),
            vec![
                (Code::KexNoPqHybrid, Severity::Info),
                (Code::TlsNoExtendedMasterSecret, Severity::Low),
                (Code::TlsSha1Signatures, Severity::Medium),
            ]
        );
    }

    #[test]
    fn an_unreadable_head_makes_hsts_unknown_unless_the_part_read_carried_it() {
        let mut facts = Facts {
            reachable: true,
            http: HttpFacts {
                status: Some(200),
                alpn: None,
                head_incomplete: Some("too_large".into()),
            },
            ..Facts::default()
        };
        assert_eq!(
            judged(&facts, &Policy::default()),
            vec![(Code::HttpHeadUnreadable, Severity::Low)]
        );
        facts.features.hsts_max_age = Some(63_072_000);
        assert_eq!(judged(&facts, &Policy::default()), vec![]);
    }
}
