//! Gateway API endpoints judged beyond the engine's findings. Input: the planned endpoints with
//! their [`GatewayRole`]s, what their listener Secrets hold and how each BackendTLSPolicy's trust
//! was loaded ([`GatewayMaterial`]), and the endpoint reports. Output: `gateway.*` findings added
//! to the reports. Pure.
//!
//! - A listener: each permitted certificateRef Secret checked at rest with the Ingress check
//!   (`ingress::at_rest`, in `gateway.*` codes); the served leaf must be one of them
//!   (`gateway.secret_mismatch`); refused cross-namespace refs (`gateway.ref_not_permitted`);
//!   frontend validation `AllowInsecureFallback` (`gateway.frontend_insecure_fallback`).
//! - A BackendTLSPolicy backend: the engine judged the served chain with the policy's trust and
//!   SNI = its hostname, so an untrusted, expired, not-yet-valid or misnamed leaf is what the
//!   gateway will refuse (`gateway.backend_tls_invalid`). With `subjectAltNames` the hostname is
//!   not verified (Gateway API), so `cert.hostname_mismatch` is replaced by a check of those names.

use super::ingress::{AtRest, SecretCert, at_rest, holds, short};
use super::{Audited, add_findings};
use crate::controller::gateway::material::GatewayMaterial;
use crate::controller::reconcile::plan::PlannedEndpoint;
use crate::controller::reconcile::plan::gateways::{BackendCheck, GatewayRole, ListenerCheck};
use crate::findings::{Code, Finding};
use crate::policy::Policy;
use crate::report::EndpointReport;

/// The Gateway wording of the at-rest check.
pub const GATEWAY: AtRest = AtRest {
    missing: Code::GatewaySecretMissing,
    not_covered: Code::GatewayHostNotCovered,
    mismatch: Code::GatewaySecretMismatch,
    server: "the gateway",
};

/// Adds the `gateway.*` findings to every Gateway API endpoint of `audited` (`audited[i]` is the
/// report of `planned[i]`).
pub fn judge(
    planned: &[PlannedEndpoint],
    audited: &mut [Audited],
    material: &GatewayMaterial,
    policy: &Policy,
) {
    for (p, a) in planned.iter().zip(audited.iter_mut()) {
        let findings = match p.gateway.as_deref() {
            Some(GatewayRole::Listener(check)) => listener_findings(p, check, &a.report, material),
            Some(GatewayRole::Backend(check)) => backend_findings(check, &mut a.report, material),
            None => continue,
        };
        add_findings(&mut a.report, findings, policy);
    }
}

/// The findings of one listener endpoint.
#[must_use]
pub fn listener_findings(
    planned: &PlannedEndpoint,
    check: &ListenerCheck,
    report: &EndpointReport,
    material: &GatewayMaterial,
) -> Vec<Finding> {
    let host = planned
        .dial
        .server_name
        .as_deref()
        .unwrap_or(&planned.dial.host);
    let where_ = format!("Gateway {} listener {}", check.gateway, check.listener);
    let mut out: Vec<Finding> = check
        .not_permitted
        .iter()
        .map(|key| {
            Finding::new(
                Code::GatewayRefNotPermitted,
                format!(
                    "{where_}: certificateRef Secret {key} is in another namespace and no \
                     ReferenceGrant in {} allows Gateways of this namespace to use it; the \
                     operator did not read it",
                    key.namespace
                ),
            )
        })
        .collect();
    if check.insecure_fallback {
        out.push(Finding::new(
            Code::GatewayFrontendInsecureFallback,
            format!(
                "{where_} (port {}): client certificates are validated in mode \
                 AllowInsecureFallback, so clients without a valid certificate are let through",
                planned.dial.port
            ),
        ));
    }
    let served = report.facts.chain.first().map(|c| c.sha256.as_str());
    let stored: Vec<(String, &SecretCert)> = check
        .secrets
        .iter()
        .filter_map(|key| material.secrets.get(key).map(|c| (key.to_string(), c)))
        .collect();
    // With one Secret the Ingress check says it all; with several (an RSA and an ECDSA
    // certificate) the served leaf must be one of them.
    let single = stored.len() == 1;
    for (name, cert) in &stored {
        out.extend(at_rest(
            &GATEWAY,
            host,
            name,
            cert,
            served.filter(|_| single),
        ));
    }
    if !single
        && let Some(served) = served
        && stored.iter().any(|(_, c)| matches!(c, SecretCert::Leaf(_)))
        && !stored.iter().any(|(_, c)| holds(c, served))
    {
        let names: Vec<&str> = stored.iter().map(|(n, _)| n.as_str()).collect();
        out.push(Finding::new(
            Code::GatewaySecretMismatch,
            format!(
                "for host {host} the gateway serves the certificate sha256 {} but none of the \
                 listener's Secrets holds it ({})",
                short(served),
                names.join(", ")
            ),
        ));
    }
    out
}

/// The engine's verdicts that the gateway's validation of a backend shares.
const VALIDATION: &[Code] = &[
    Code::CertExpired,
    Code::CertNotYetValid,
    Code::CertUntrusted,
    Code::CertSelfSigned,
    Code::CertHostnameMismatch,
];

/// The findings of one BackendTLSPolicy backend; drops `cert.hostname_mismatch` from `report` when
/// the policy's subjectAltNames replace the hostname check.
pub fn backend_findings(
    check: &BackendCheck,
    report: &mut EndpointReport,
    material: &GatewayMaterial,
) -> Vec<Finding> {
    let Some(trust) = material.trust.get(&check.policy) else {
        return Vec::new();
    };
    let Some(sans) = report.facts.chain.first().map(|leaf| leaf.sans.clone()) else {
        // Nothing served: the engine's reachability findings already say the gateway cannot
        // connect either.
        return Vec::new();
    };
    let mut failing: Vec<String> = Vec::new();
    if !check.subject_alt_names.is_empty() {
        let before = report.findings.len();
        report
            .findings
            .retain(|f| f.code != Code::CertHostnameMismatch);
        if report.findings.len() != before {
            report.rejudge();
        }
        let hostnames: Vec<&str> = check
            .subject_alt_names
            .iter()
            .filter(|(t, _)| t == "Hostname")
            .map(|(_, h)| h.as_str())
            .collect();
        let uris = check.subject_alt_names.len() - hostnames.len();
        let covered = hostnames.iter().any(|h| crate::cert::covers(&sans, h));
        // URI subjectAltNames cannot be compared (the engine records DNS and IP SANs only): a
        // policy with any is not reported on names.
        if !covered && uris == 0 {
            failing.push(format!(
                "none of the policy's subjectAltNames ({}) is among the certificate's SANs ({})",
                hostnames.join(", "),
                sans.join(", ")
            ));
        }
    }
    if !trust.judged {
        return Vec::new();
    }
    for f in report
        .findings
        .iter()
        .filter(|f| VALIDATION.contains(&f.code))
    {
        failing.push(format!("{}: {}", f.code, f.message));
    }
    if let Some(reason) = &trust.unusable {
        failing.push(format!(
            "the policy's CA certificates are unusable: {reason}"
        ));
    }
    if failing.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        Code::GatewayBackendTlsInvalid,
        format!(
            "BackendTLSPolicy {} (hostname {}): the gateway will refuse this backend's \
             certificate: {}",
            check.policy,
            check.hostname,
            failing.join("; ")
        ),
    )]
}
