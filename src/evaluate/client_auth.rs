//! The client-certificate verdicts (pure): what the server demands, whether it took the audit's
//! identity, and how long that identity has left. Input: [`Facts`], the [`Policy`] and `now`.
//! Output: findings pushed onto the evaluator's list.

use super::{expiry_level, push};
use crate::facts::{ClientAuthDemand, Facts};
use crate::findings::{Code, Finding, Severity};
use crate::lifetime;
use crate::policy::Policy;

/// The mTLS findings of one endpoint.
pub(super) fn client_auth(facts: &Facts, policy: &Policy, now: i64, out: &mut Vec<Finding>) {
    let auth = &facts.client_auth;
    let alert = auth.alert.as_deref().unwrap_or("none");
    match (auth.demand, auth.identity_accepted) {
        (ClientAuthDemand::Required, None) => {
            push(
                out,
                Code::MtlsRequired,
                "the server requires a client certificate".into(),
            );
            push(
                out,
                Code::MtlsClientCertMissing,
                format!(
                    "no client certificate supplied; the server refused the handshake ({alert})"
                ),
            );
        }
        (ClientAuthDemand::Required, Some(_)) => {
            push(
                out,
                Code::MtlsRequired,
                "the server requires a client certificate".into(),
            );
        }
        _ => {}
    }
    if auth.identity_accepted == Some(false) {
        push(
            out,
            Code::MtlsClientCertRejected,
            format!("the server rejected the client certificate ({alert})"),
        );
    }
    if let Some(cert) = &auth.client_cert {
        let left = cert.not_after_unix - now;
        let level = if left < 0 {
            Some((Severity::High, None))
        } else {
            expiry_level(cert, policy, now).map(|(severity, t)| (severity, Some(t)))
        };
        if let Some((severity, threshold)) = level {
            let message = match threshold {
                None => format!(
                    "the client certificate {} expired on {}",
                    cert.subject, cert.not_after
                ),
                Some(threshold) => format!(
                    "the client certificate {} expires on {} ({} left); threshold: {}",
                    cert.subject,
                    cert.not_after,
                    lifetime::duration(left),
                    threshold.describe()
                ),
            };
            out.push(Finding::new(Code::MtlsClientCertExpiring, message).with_severity(severity));
        }
    }
}
