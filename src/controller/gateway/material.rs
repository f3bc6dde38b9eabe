//! The key material Gateway API endpoints are checked against. Input: the planned endpoints (their
//! [`GatewayRole`]s) and an API client. Output: [`GatewayMaterial`] — what each listener Secret
//! holds at rest (`tls.crt` only: the key is never read into anything) and the trust anchors of
//! each BackendTLSPolicy (its `ca.crt` ConfigMaps, or the web PKI for `System`).
//!
//! A listener Secret of another namespace is read only when the plan found a ReferenceGrant that
//! allows the Gateway to use it (Gateway API rules); its CA ConfigMaps are always the policy's own
//! namespace (the Gateway API calls a cross-namespace caCertificateRef invalid).

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::Client;
use rustls::RootCertStore;

use crate::controller::reconcile::judge::ingress::SecretCert;
use crate::controller::reconcile::material::{
    Found, MaterialError, config_map, config_map_value, tls_secret_leaf, trust_from,
};
use crate::controller::reconcile::plan::PlannedEndpoint;
use crate::controller::reconcile::plan::gateways::{BackendTrust, GatewayRole, SecretKey};
use crate::controller::reconcile::prober::Fingerprint;
use crate::controller::reconcile::status::Problem;

/// The trust a BackendTLSPolicy validates its backends with.
#[derive(Debug, Clone)]
pub struct PolicyTrust {
    /// Trust anchors.
    pub roots: Arc<RootCertStore>,
    /// Their fingerprint (probe cache key).
    pub fingerprint: Fingerprint,
    /// Why the policy's own trust could not be reproduced (missing or unreadable ConfigMap, an
    /// implementation-specific CA set); `None` when it was.
    pub unusable: Option<String>,
    /// Whether the probe's verdict is the gateway's: false for implementation-specific trust.
    pub judged: bool,
}

/// What Gateway API endpoints are checked against.
#[derive(Debug, Clone, Default)]
pub struct GatewayMaterial {
    /// Listener Secrets at rest.
    pub secrets: BTreeMap<SecretKey, SecretCert>,
    /// Trust by BackendTLSPolicy name.
    pub trust: BTreeMap<String, PolicyTrust>,
    /// Listener Secrets the operator may not read (Ready=False, reason `SecretForbidden`).
    pub problems: Vec<Problem>,
}

/// Reads the listener Secrets and the BackendTLSPolicy CA ConfigMaps of `planned`, each once.
pub async fn load(
    client: &Client,
    namespace: &str,
    planned: &[PlannedEndpoint],
) -> Result<GatewayMaterial, MaterialError> {
    let mut material = GatewayMaterial::default();
    for role in planned.iter().filter_map(|p| p.gateway.as_deref()) {
        match role {
            GatewayRole::Listener(check) => {
                for key in &check.secrets {
                    if !material.secrets.contains_key(key) {
                        let cert = tls_secret_leaf(client, &key.namespace, &key.name).await?;
                        if cert == SecretCert::Unreadable {
                            material.problems.push(Problem {
                                reason: "SecretForbidden",
                                message: format!(
                                    "spec.gateways: the operator may not read Secret {key} of \
                                     Gateway {} listener {} (its RBAC does not allow it, e.g. chart \
                                     rbac.secrets: none or a namespace outside \
                                     rbac.secrets.namespaces)",
                                    check.gateway, check.listener
                                ),
                            });
                        }
                        material.secrets.insert(key.clone(), cert);
                    }
                }
            }
            GatewayRole::Backend(check) => {
                if !material.trust.contains_key(&check.policy) {
                    let trust = policy_trust(client, namespace, &check.trust).await?;
                    material.trust.insert(check.policy.clone(), trust);
                }
            }
        }
    }
    Ok(material)
}

async fn policy_trust(
    client: &Client,
    namespace: &str,
    trust: &BackendTrust,
) -> Result<PolicyTrust, MaterialError> {
    let names = match trust {
        BackendTrust::System => return Ok(trusted(true, &[], None)),
        BackendTrust::Unsupported(reason) => {
            let mut t = trusted(false, &[], Some(reason.clone()));
            t.judged = false;
            return Ok(t);
        }
        BackendTrust::ConfigMaps(names) => names,
    };
    let mut bundles = Vec::new();
    let mut unusable = Vec::new();
    for name in names {
        match config_map(client, namespace, name).await? {
            Found::Yes(cm) => match config_map_value(&cm, "ca.crt") {
                Some(pem) => bundles.push((format!("ConfigMap {name}/ca.crt"), pem)),
                None => unusable.push(format!("ConfigMap {name} has no key ca.crt")),
            },
            Found::Missing => unusable.push(format!(
                "ConfigMap {name} does not exist in namespace {namespace}"
            )),
            Found::Forbidden => unusable.push(format!(
                "the operator may not read ConfigMap {name} in namespace {namespace} (RBAC)"
            )),
        }
    }
    let mut t = trusted(false, &bundles, None);
    unusable.extend(t.unusable.take());
    t.unusable = (!unusable.is_empty()).then(|| unusable.join("; "));
    Ok(t)
}

fn trusted(system: bool, bundles: &[(String, Vec<u8>)], unusable: Option<String>) -> PolicyTrust {
    let (roots, fingerprint, problems) = trust_from(system, bundles);
    let mut reasons: Vec<String> = unusable.into_iter().collect();
    reasons.extend(problems.into_iter().map(|p| p.message));
    PolicyTrust {
        roots: Arc::new(roots),
        fingerprint,
        unusable: (!reasons.is_empty()).then(|| reasons.join("; ")),
        judged: true,
    }
}
