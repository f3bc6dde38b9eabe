//! Step 2 of the reconcile: an audit's key material, read from Secrets and ConfigMaps of the
//! audit's own namespace only — trust anchors (CA bundle, web PKI roots, cluster CA), the mTLS client
//! identity, and the TLS Secrets of the Ingresses it audits. Input: the spec, the planned endpoints
//! and an API client. Output: [`Material`] for the probes and the judge, plus [`Problem`]s (missing
//! Secret, reference to another namespace, unreadable PEM, a Secret the operator may not read)
//! that make Ready=False without stopping the audit. Only an API failure of the operator's own
//! (not a 404, not a 403) is an error.
//!
//! A 403 is the tenant's configuration meeting the operator's RBAC (chart `rbac.secrets: none`, or
//! a namespace outside `rbac.secrets.namespaces`): the audit gets Ready=False with reason
//! `SecretForbidden` (or `ConfigMapForbidden`), its other endpoints are still probed, and
//! `tlsaudit_reconcile_errors_total`, which counts the operator's own failures, does not move.
//!
//! This is the only step that reads Secrets. Private keys go into the [`ClientIdentity`] and
//! nowhere else: not into logs, problems or status.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use rustls::RootCertStore;

use super::judge::ingress::SecretCert;
use super::plan::PlannedEndpoint;
use super::prober::Fingerprint;
use super::status::Problem;
use crate::crd::{KeyRef, TlsAuditSpec};
use crate::probe::ClientIdentity;

/// The ConfigMap every namespace gets with the cluster's CA.
pub const CLUSTER_CA_CONFIGMAP: &str = "kube-root-ca.crt";

/// Trust and identity for one audit.
#[derive(Debug, Clone)]
pub struct Material {
    /// Trust anchors.
    pub roots: Arc<RootCertStore>,
    /// Fingerprint of the trust configuration (probe cache key).
    pub trust: Fingerprint,
    /// Client identity offered to servers that ask.
    pub identity: Option<Arc<ClientIdentity>>,
    /// Fingerprint of the identity (probe cache key).
    pub identity_fingerprint: Option<Fingerprint>,
    /// The client certificate Secret and its leaf notAfter (Unix seconds), for metrics.
    pub client_certificate: Option<(String, i64)>,
    /// What each Ingress TLS Secret named by a planned endpoint holds, by Secret name.
    pub ingress_secrets: BTreeMap<String, SecretCert>,
    /// Parts of the configuration that could not be used.
    pub problems: Vec<Problem>,
}

/// An API call for key material failed (not a 404: that is a [`Problem`]).
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// Reading a Secret failed.
    #[error("failed to read Secret {namespace}/{name}: {source}")]
    ReadSecret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// API error.
        source: kube::Error,
    },
    /// Reading a ConfigMap failed.
    #[error("failed to read ConfigMap {namespace}/{name}: {source}")]
    ReadConfigMap {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// API error.
        source: kube::Error,
    },
}

/// Refuses a reference into another namespace.
pub fn same_namespace(
    field: &str,
    referenced: Option<&str>,
    audit_namespace: &str,
) -> Result<(), Problem> {
    match referenced {
        Some(ns) if !ns.is_empty() && ns != audit_namespace => Err(Problem {
            reason: "CrossNamespaceReference",
            message: format!(
                "{field} names namespace {ns}; an audit may only use Secrets and ConfigMaps of its own \
                 namespace ({audit_namespace})"
            ),
        }),
        _ => Ok(()),
    }
}

/// Trust anchors from the web PKI roots (when asked) and PEM bundles, and their fingerprint.
/// An unreadable bundle is a problem and is left out; the rest still counts.
#[must_use]
pub fn trust_from(
    system_roots: bool,
    bundles: &[(String, Vec<u8>)],
) -> (RootCertStore, Fingerprint, Vec<Problem>) {
    let mut usable: Vec<&[u8]> = Vec::new();
    let mut problems = Vec::new();
    for (source, pem) in bundles {
        match crate::cert::root_store(false, &[pem]) {
            Ok(_) => usable.push(pem),
            Err(err) => problems.push(Problem {
                reason: "InvalidTrustBundle",
                message: format!("{source} holds no usable CA certificate: {err}"),
            }),
        }
    }
    let flag: &[u8] = if system_roots {
        b"system-roots"
    } else {
        b"no-system-roots"
    };
    let fingerprint = Fingerprint::of(std::iter::once(flag).chain(usable.iter().copied()));
    // Every bundle in `usable` was just parsed on its own, so this cannot fail; an empty store is
    // the safe fallback should the engine's loader change.
    let store =
        crate::cert::root_store(system_roots, &usable).unwrap_or_else(|_| RootCertStore::empty());
    (store, fingerprint, problems)
}

/// A client identity from a kubernetes.io/tls Secret's `tls.crt` and `tls.key`.
pub fn identity_from(
    secret_name: &str,
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<(ClientIdentity, Fingerprint, Option<i64>), Problem> {
    let identity = ClientIdentity::from_pem(chain_pem, key_pem).map_err(|err| Problem {
        reason: "InvalidClientCertificate",
        // PemError names what is missing, never the key's bytes.
        message: format!("Secret {secret_name} is not a usable client certificate: {err}"),
    })?;
    let fingerprint = Fingerprint::of([chain_pem, key_pem]);
    let not_after = identity.chain.first().and_then(|leaf| {
        use x509_parser::prelude::FromDer;
        x509_parser::certificate::X509Certificate::from_der(leaf.as_ref())
            .ok()
            .map(|(_, cert)| cert.validity().not_after.timestamp())
    });
    Ok((identity, fingerprint, not_after))
}

fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// What reading an object gave.
#[derive(Debug)]
enum Found<T> {
    /// The object.
    Yes(T),
    /// 404.
    Missing,
    /// 403: the operator may not read it.
    Forbidden,
}

impl<T> Found<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Found<U> {
        match self {
            Self::Yes(t) => Found::Yes(f(t)),
            Self::Missing => Found::Missing,
            Self::Forbidden => Found::Forbidden,
        }
    }
}

/// The problem of an object the operator may not read.
fn forbidden(field: &str, kind: &str, name: &str, namespace: &str) -> Problem {
    Problem {
        reason: if kind == "Secret" {
            "SecretForbidden"
        } else {
            "ConfigMapForbidden"
        },
        message: format!(
            "{field}: the operator may not read {kind} {name} in namespace {namespace} (its RBAC \
             does not allow it, e.g. chart rbac.secrets: none or a namespace outside \
             rbac.secrets.namespaces)"
        ),
    }
}

async fn secret(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Found<Secret>, MaterialError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match api.get(name).await {
        Ok(secret) => Ok(Found::Yes(secret)),
        Err(err) if status_code(&err) == Some(404) => Ok(Found::Missing),
        Err(err) if status_code(&err) == Some(403) => Ok(Found::Forbidden),
        Err(source) => Err(MaterialError::ReadSecret {
            namespace: namespace.into(),
            name: name.into(),
            source,
        }),
    }
}

async fn config_map(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Found<ConfigMap>, MaterialError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.get(name).await {
        Ok(cm) => Ok(Found::Yes(cm)),
        Err(err) if status_code(&err) == Some(404) => Ok(Found::Missing),
        Err(err) if status_code(&err) == Some(403) => Ok(Found::Forbidden),
        Err(source) => Err(MaterialError::ReadConfigMap {
            namespace: namespace.into(),
            name: name.into(),
            source,
        }),
    }
}

fn secret_value(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    secret.data.as_ref()?.get(key).map(|v| v.0.clone())
}

fn config_map_value(cm: &ConfigMap, key: &str) -> Option<Vec<u8>> {
    cm.data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.clone().into_bytes())
        .or_else(|| cm.binary_data.as_ref()?.get(key).map(|v| v.0.clone()))
}

/// Reads a Secret's TLS certificate (`tls.crt`) in `namespace`, for Ingress checks.
async fn tls_secret_leaf(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<SecretCert, MaterialError> {
    let secret = match secret(client, namespace, name).await? {
        Found::Yes(secret) => secret,
        Found::Missing => return Ok(SecretCert::Missing),
        Found::Forbidden => return Ok(SecretCert::Unreadable),
    };
    let Some(pem) = secret_value(&secret, "tls.crt") else {
        return Ok(SecretCert::Unusable("no tls.crt key".into()));
    };
    Ok(match crate::cert::certificates_from_pem(&pem) {
        Ok(certs) => certs.first().map_or_else(
            || SecretCert::Unusable("tls.crt holds no certificate".into()),
            |leaf| SecretCert::Leaf(leaf.as_ref().to_vec()),
        ),
        Err(err) => SecretCert::Unusable(err.to_string()),
    })
}

async fn bundle(
    client: &Client,
    namespace: &str,
    field: &str,
    r: &KeyRef,
    secret_kind: bool,
) -> Result<Result<(String, Vec<u8>), Problem>, MaterialError> {
    if let Err(problem) = same_namespace(field, r.namespace.as_deref(), namespace) {
        return Ok(Err(problem));
    }
    let (kind, value) = if secret_kind {
        (
            "Secret",
            secret(client, namespace, &r.name)
                .await?
                .map(|s| secret_value(&s, &r.key)),
        )
    } else {
        (
            "ConfigMap",
            config_map(client, namespace, &r.name)
                .await?
                .map(|c| config_map_value(&c, &r.key)),
        )
    };
    Ok(match value {
        Found::Forbidden => Err(forbidden(field, kind, &r.name, namespace)),
        Found::Missing => Err(Problem {
            reason: if secret_kind {
                "SecretNotFound"
            } else {
                "ConfigMapNotFound"
            },
            message: format!(
                "{field}: {kind} {} not found in namespace {namespace}",
                r.name
            ),
        }),
        Found::Yes(None) => Err(Problem {
            reason: "KeyNotFound",
            message: format!("{field}: {kind} {} has no key {}", r.name, r.key),
        }),
        Found::Yes(Some(pem)) => Ok((format!("{kind} {}/{}", r.name, r.key), pem)),
    })
}

/// What the TLS Secrets named by `planned` (Ingress hosts) hold, each read once. A Secret the
/// operator may not read is also a configuration problem (Ready=False), as for the audit's own
/// references: the at-rest comparison cannot be made until RBAC allows it.
async fn ingress_secrets(
    client: &Client,
    namespace: &str,
    planned: &[PlannedEndpoint],
    problems: &mut Vec<Problem>,
) -> Result<BTreeMap<String, SecretCert>, MaterialError> {
    let mut secrets = BTreeMap::new();
    for name in planned.iter().filter_map(|p| p.ingress_secret.as_ref()) {
        if !secrets.contains_key(name) {
            let cert = tls_secret_leaf(client, namespace, name).await?;
            if cert == SecretCert::Unreadable {
                problems.push(forbidden("spec.ingresses", "Secret", name, namespace));
            }
            secrets.insert(name.clone(), cert);
        }
    }
    Ok(secrets)
}

/// Reads the audit's trust anchors, client identity and the Ingress TLS Secrets of `planned`.
pub async fn load(
    client: &Client,
    namespace: &str,
    spec: &TlsAuditSpec,
    planned: &[PlannedEndpoint],
) -> Result<Material, MaterialError> {
    let mut problems = Vec::new();
    let mut bundles = Vec::new();
    if let Some(ca) = &spec.trust.ca_bundle {
        let found = match (&ca.secret_ref, &ca.config_map_ref) {
            (Some(r), _) => {
                Some(bundle(client, namespace, "spec.trust.caBundle.secretRef", r, true).await?)
            }
            (None, Some(r)) => Some(
                bundle(
                    client,
                    namespace,
                    "spec.trust.caBundle.configMapRef",
                    r,
                    false,
                )
                .await?,
            ),
            (None, None) => None,
        };
        match found {
            Some(Ok(b)) => bundles.push(b),
            Some(Err(p)) => problems.push(p),
            None => {}
        }
    }
    if spec.trust.cluster_ca {
        match config_map(client, namespace, CLUSTER_CA_CONFIGMAP).await? {
            Found::Yes(cm) => {
                if let Some(pem) = config_map_value(&cm, "ca.crt") {
                    bundles.push((format!("ConfigMap {CLUSTER_CA_CONFIGMAP}/ca.crt"), pem));
                }
            }
            // Absent without a controller-manager (tests) or on exotic clusters: nothing to add.
            Found::Missing => {}
            Found::Forbidden => problems.push(forbidden(
                "spec.trust.clusterCA",
                "ConfigMap",
                CLUSTER_CA_CONFIGMAP,
                namespace,
            )),
        }
    }
    let (roots, trust, bad) = trust_from(spec.trust.system_roots, &bundles);
    problems.extend(bad);

    let mut identity = None;
    let mut identity_fingerprint = None;
    let mut client_certificate = None;
    if let Some(cc) = &spec.client_certificate {
        let r = &cc.secret_ref;
        let field = "spec.clientCertificate.secretRef";
        match same_namespace(field, r.namespace.as_deref(), namespace) {
            Err(problem) => problems.push(problem),
            Ok(()) => match secret(client, namespace, &r.name).await? {
                Found::Forbidden => problems.push(forbidden(field, "Secret", &r.name, namespace)),
                Found::Missing => problems.push(Problem {
                    reason: "SecretNotFound",
                    message: format!(
                        "{field}: Secret {} not found in namespace {namespace}",
                        r.name
                    ),
                }),
                Found::Yes(s) => match (secret_value(&s, "tls.crt"), secret_value(&s, "tls.key")) {
                    (Some(crt), Some(key)) => match identity_from(&r.name, &crt, &key) {
                        Ok((id, fp, not_after)) => {
                            identity = Some(Arc::new(id));
                            identity_fingerprint = Some(fp);
                            client_certificate = not_after.map(|t| (r.name.clone(), t));
                        }
                        Err(problem) => problems.push(problem),
                    },
                    _ => problems.push(Problem {
                        reason: "InvalidClientCertificate",
                        message: format!("{field}: Secret {} lacks tls.crt or tls.key", r.name),
                    }),
                },
            },
        }
    }
    let ingress_secrets = ingress_secrets(client, namespace, planned, &mut problems).await?;
    Ok(Material {
        roots: Arc::new(roots),
        trust,
        identity,
        identity_fingerprint,
        client_certificate,
        ingress_secrets,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_reference_into_another_namespace_is_refused_by_name() {
        let problem = same_namespace(
            "spec.clientCertificate.secretRef",
            Some("kube-system"),
            "shop",
        )
        .unwrap_err();
        assert_eq!(problem.reason, "CrossNamespaceReference");
        assert!(problem.message.contains("kube-system") && problem.message.contains("shop"));
        assert_eq!(same_namespace("f", Some("shop"), "shop"), Ok(()));
        assert_eq!(same_namespace("f", None, "shop"), Ok(()));
    }

    #[test]
    fn bundles_make_the_root_store_and_change_the_fingerprint() {
        let pem = ca_pem().into_bytes();
        let (store, with_ca, problems) = trust_from(false, &[("Secret ca/ca.crt".into(), pem)]);
        assert_eq!(store.len(), 1);
        assert!(problems.is_empty());
        let (_, without, _) = trust_from(false, &[]);
        let (_, system, _) = trust_from(true, &[]);
        assert_ne!(with_ca, without);
        assert_ne!(without, system);
    }

    #[test]
    fn an_unreadable_bundle_is_a_problem_and_the_rest_is_kept() {
        let good = ca_pem().into_bytes();
        let (store, _, problems) = trust_from(
            false,
            &[
                ("Secret ca/ca.crt".into(), good),
                ("ConfigMap x/ca.crt".into(), b"not pem".to_vec()),
            ],
        );
        assert_eq!(store.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, "InvalidTrustBundle");
        assert!(problems[0].message.contains("ConfigMap x/ca.crt"));
    }

    #[test]
    fn a_client_identity_reports_its_not_after_and_never_its_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 6);
        let cert = params.self_signed(&key).unwrap();
        let (identity, _, not_after) = identity_from(
            "client-tls",
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
        )
        .unwrap();
        assert_eq!(identity.chain.len(), 1);
        assert_eq!(
            not_after,
            Some(
                jiff::civil::date(2031, 5, 6)
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .unwrap()
                    .timestamp()
                    .as_second()
            )
        );
        let err = identity_from("client-tls", cert.pem().as_bytes(), b"garbage").unwrap_err();
        assert_eq!(err.reason, "InvalidClientCertificate");
        assert!(err.message.contains("client-tls"));
        // Another certificate's key is refused at load (Ready=False), not blamed on the server.
        let other = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let err = identity_from("client-tls", cert.pem().as_bytes(), other.as_bytes()).unwrap_err();
        assert_eq!(err.reason, "InvalidClientCertificate");
        assert!(err.message.contains("does not match"), "{}", err.message);
    }
}
