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
    // An unreadable Secret might hold the served leaf: no verdict (Ready=False says why).
    if !single
        && let Some(served) = served
        && stored.iter().any(|(_, c)| matches!(c, SecretCert::Leaf(_)))
        && !stored.iter().any(|(_, c)| *c == &SecretCert::Unreadable)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::sha256_hex;
    use crate::controller::fixtures::audited;
    use crate::controller::gateway::material::PolicyTrust;
    use crate::controller::reconcile::plan::gateways::{BackendTrust, SecretKey};
    use crate::grade::Grade;
    use crate::probe::{Protocol, Target};

    fn der(names: &[&str]) -> Vec<u8> {
        let params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn key(ns: &str, name: &str) -> SecretKey {
        SecretKey {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn planned(role: GatewayRole) -> PlannedEndpoint {
        PlannedEndpoint {
            origin: "gateway/edge".into(),
            dial: Target {
                host: "shop.example.com".into(),
                port: 443,
                address: Some("10.1.2.3:443".parse().unwrap()),
                server_name: Some("shop.example.com".into()),
                protocol: Protocol::Tls,
            },
            replica_group: None,
            ingress_secret: None,
            not_probed: None,
            gateway: Some(Box::new(role)),
        }
    }

    fn check(secrets: Vec<SecretKey>) -> ListenerCheck {
        ListenerCheck {
            gateway: "edge".into(),
            listener: "shop".into(),
            secrets,
            not_permitted: Vec::new(),
            insecure_fallback: false,
        }
    }

    /// The report of an endpoint that served the leaf `served` (and `codes` from the engine).
    fn served(served: &[u8], codes: &[Code]) -> Audited {
        let mut a = audited("gateway/edge", "10.1.2.3:443", Grade::A, codes, Some(90));
        std::sync::Arc::make_mut(&mut a.report.facts).chain[0].sha256 = sha256_hex(served);
        a
    }

    fn codes(a: &Audited) -> Vec<Code> {
        a.report.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn the_served_leaf_may_be_any_of_several_listener_secrets() {
        let (rsa, ecdsa) = (der(&["shop.example.com"]), der(&["shop.example.com"]));
        let material = GatewayMaterial {
            secrets: [
                (key("shop", "rsa"), SecretCert::Leaf(rsa)),
                (key("shop", "ecdsa"), SecretCert::Leaf(ecdsa.clone())),
            ]
            .into(),
            ..GatewayMaterial::default()
        };
        let p = planned(GatewayRole::Listener(check(vec![
            key("shop", "rsa"),
            key("shop", "ecdsa"),
        ])));
        let mut ok = [served(&ecdsa, &[])];
        judge(
            std::slice::from_ref(&p),
            &mut ok,
            &material,
            &Policy::default(),
        );
        assert_eq!(codes(&ok[0]), Vec::<Code>::new());
        let mut stale = [served(&der(&["shop.example.com"]), &[])];
        judge(
            std::slice::from_ref(&p),
            &mut stale,
            &material,
            &Policy::default(),
        );
        assert_eq!(codes(&stale[0]), vec![Code::GatewaySecretMismatch]);
        assert!(
            stale[0].report.findings[0]
                .message
                .contains("none of the listener's Secrets holds it (shop/rsa, shop/ecdsa)"),
            "{}",
            stale[0].report.findings[0].message
        );
    }

    #[test]
    fn a_missing_secret_a_refused_reference_and_insecure_fallback_are_reported() {
        let mut c = check(vec![key("shop", "gone")]);
        c.not_permitted = vec![key("certs", "shared")];
        c.insecure_fallback = true;
        let material = GatewayMaterial {
            secrets: [(key("shop", "gone"), SecretCert::Missing)].into(),
            ..GatewayMaterial::default()
        };
        let mut a = [served(&der(&["shop.example.com"]), &[])];
        judge(
            &[planned(GatewayRole::Listener(c))],
            &mut a,
            &material,
            &Policy::default(),
        );
        let mut got = codes(&a[0]);
        got.sort();
        assert_eq!(
            got,
            vec![
                Code::GatewaySecretMissing,
                Code::GatewayRefNotPermitted,
                Code::GatewayFrontendInsecureFallback
            ]
        );
        assert!(a[0].report.findings.iter().any(|f| {
            f.message
                .contains("Secret certs/shared is in another namespace")
        }));
    }

    fn backend(subject_alt_names: Vec<(String, String)>) -> BackendCheck {
        BackendCheck {
            policy: "api-tls".into(),
            hostname: "api.internal".into(),
            trust: BackendTrust::ConfigMaps(vec!["api-ca".into()]),
            subject_alt_names,
        }
    }

    fn trusted(unusable: Option<&str>) -> GatewayMaterial {
        let (roots, fingerprint, _) =
            crate::controller::reconcile::material::trust_from(false, &[]);
        GatewayMaterial {
            trust: [(
                "api-tls".to_owned(),
                PolicyTrust {
                    roots: std::sync::Arc::new(roots),
                    fingerprint,
                    unusable: unusable.map(str::to_owned),
                    judged: true,
                },
            )]
            .into(),
            ..GatewayMaterial::default()
        }
    }

    #[test]
    fn a_backend_the_policy_would_refuse_predicts_an_outage() {
        let mut a = served(
            &der(&["x"]),
            &[Code::CertUntrusted, Code::CertHostnameMismatch],
        );
        let found = backend_findings(&backend(Vec::new()), &mut a.report, &trusted(None));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, Code::GatewayBackendTlsInvalid);
        assert!(found[0].message.contains("cert.untrusted"));
        assert!(found[0].message.contains("cert.hostname_mismatch"));

        // A healthy backend: nothing.
        let mut ok = served(&der(&["x"]), &[Code::AlpnNoH2]);
        assert!(backend_findings(&backend(Vec::new()), &mut ok.report, &trusted(None)).is_empty());
        // A missing CA ConfigMap: the gateway fails every connection.
        let found = backend_findings(
            &backend(Vec::new()),
            &mut ok.report,
            &trusted(Some("ConfigMap api-ca does not exist")),
        );
        assert!(found[0].message.contains("ConfigMap api-ca does not exist"));
    }

    #[test]
    fn subject_alt_names_replace_the_hostname_check() {
        // The leaf names x.shop.svc; the hostname is not verified when subjectAltNames are set.
        let sans = |h: &str| vec![("Hostname".to_owned(), h.to_owned())];
        let mut a = served(&der(&["x"]), &[Code::CertHostnameMismatch]);
        let found = backend_findings(&backend(sans("x.shop.svc")), &mut a.report, &trusted(None));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(codes(&a), Vec::<Code>::new());
        let mut b = served(&der(&["x"]), &[Code::CertHostnameMismatch]);
        let found = backend_findings(&backend(sans("y.shop.svc")), &mut b.report, &trusted(None));
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .contains("none of the policy's subjectAltNames (y.shop.svc)")
        );
    }
}
