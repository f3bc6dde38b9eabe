//! Which audits a change to a watched object concerns. Input: the changed object's namespace, name
//! and labels, and the cached audits (and Services/Ingresses where the link is indirect). Output:
//! references of the audits to reconcile now. Pure; `mod.rs` wires them into `.watches_stream()`.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use kube::core::SelectorExt;
use kube::runtime::reflector::ObjectRef;

use super::material::CLUSTER_CA_CONFIGMAP;
use super::targets::selector;
use crate::crd::TlsAudit;

type Labels = BTreeMap<String, String>;

fn in_namespace<'a>(
    audits: &'a [Arc<TlsAudit>],
    namespace: Option<&'a str>,
) -> impl Iterator<Item = &'a Arc<TlsAudit>> {
    audits
        .iter()
        .filter(move |a| a.namespace().as_deref() == namespace)
}

fn refs<'a>(audits: impl Iterator<Item = &'a Arc<TlsAudit>>) -> Vec<ObjectRef<TlsAudit>> {
    audits.map(|a| ObjectRef::from_obj(a.as_ref())).collect()
}

/// The hash that decides whether a TlsAudit event triggers an audit: the spec's generation and
/// the audit-now annotation. A status write changes neither, so it never requeues.
#[must_use]
pub fn audit_trigger(audit: &TlsAudit) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    audit.metadata.generation.hash(&mut hasher);
    audit
        .annotations()
        .get(crate::crd::AUDIT_NOW_ANNOTATION)
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// Audits whose Service selector matches a Service with `labels` in `namespace`.
#[must_use]
pub fn for_service(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    labels: &Labels,
) -> Vec<ObjectRef<TlsAudit>> {
    refs(in_namespace(audits, namespace).filter(|a| {
        a.spec.services.as_ref().is_some_and(|s| {
            // A selector the reconcile cannot use is reported there; trigger so that it is.
            selector("services", s.selector.as_ref()).map_or(true, |sel| sel.matches(labels))
        })
    }))
}

/// Audits concerned by an EndpointSlice of Service `service` (whose labels are known when the
/// Service is cached; otherwise every audit of the namespace that audits Services).
#[must_use]
pub fn for_endpoint_slice(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    service_labels: Option<&Labels>,
) -> Vec<ObjectRef<TlsAudit>> {
    match service_labels {
        Some(labels) => for_service(audits, namespace, labels),
        None => refs(in_namespace(audits, namespace).filter(|a| a.spec.services.is_some())),
    }
}

/// Audits whose Ingress selector matches an Ingress with `labels` in `namespace`.
#[must_use]
pub fn for_ingress(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    labels: &Labels,
) -> Vec<ObjectRef<TlsAudit>> {
    refs(in_namespace(audits, namespace).filter(|a| {
        a.spec.ingresses.as_ref().is_some_and(|i| {
            selector("ingresses", i.selector.as_ref()).map_or(true, |sel| sel.matches(labels))
        })
    }))
}

/// Audits that read Secret `name`: as CA bundle, client certificate, or the TLS Secret of an
/// Ingress they select.
#[must_use]
pub fn for_secret(
    audits: &[Arc<TlsAudit>],
    ingresses: &[Arc<Ingress>],
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<TlsAudit>> {
    let ingress_labels: Vec<&Labels> = ingresses
        .iter()
        .filter(|i| i.namespace().as_deref() == namespace)
        .filter(|i| {
            i.spec
                .as_ref()
                .and_then(|s| s.tls.as_ref())
                .is_some_and(|tls| tls.iter().any(|t| t.secret_name.as_deref() == Some(name)))
        })
        .map(|i| i.labels())
        .collect();
    refs(in_namespace(audits, namespace).filter(|a| {
        let trust = a
            .spec
            .trust
            .ca_bundle
            .as_ref()
            .and_then(|b| b.secret_ref.as_ref())
            .is_some_and(|r| r.name == name);
        let client = a
            .spec
            .client_certificate
            .as_ref()
            .is_some_and(|c| c.secret_ref.name == name);
        let ingress = a.spec.ingresses.as_ref().is_some_and(|i| {
            selector("ingresses", i.selector.as_ref())
                .is_ok_and(|sel| ingress_labels.iter().any(|labels| sel.matches(labels)))
        });
        trust || client || ingress
    }))
}

/// Audits that read ConfigMap `name`: as CA bundle, or the cluster CA.
#[must_use]
pub fn for_config_map(
    audits: &[Arc<TlsAudit>],
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<TlsAudit>> {
    refs(in_namespace(audits, namespace).filter(|a| {
        let bundle = a
            .spec
            .trust
            .ca_bundle
            .as_ref()
            .and_then(|b| b.config_map_ref.as_ref())
            .is_some_and(|r| r.name == name);
        bundle || (name == CLUSTER_CA_CONFIGMAP && a.spec.trust.cluster_ca)
    }))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::{IngressSpec, IngressTLS};
    use kube::api::ObjectMeta;

    use super::*;

    fn audit(name: &str, namespace: &str, spec: serde_json::Value) -> Arc<TlsAudit> {
        let mut audit = TlsAudit::new(name, serde_json::from_value(spec).unwrap());
        audit.metadata.namespace = Some(namespace.into());
        Arc::new(audit)
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn names(refs: &[ObjectRef<TlsAudit>]) -> Vec<String> {
        refs.iter().map(|r| r.name.clone()).collect()
    }

    #[test]
    fn a_service_change_reaches_the_audits_that_select_it_in_its_namespace() {
        let audits = [
            audit("all", "shop", serde_json::json!({"services": {}})),
            audit(
                "edge",
                "shop",
                serde_json::json!({"services": {"selector": {"matchLabels": {"tier": "edge"}}}}),
            ),
            audit(
                "none",
                "shop",
                serde_json::json!({"endpoints": [{"host": "10.0.0.1", "port": 443}]}),
            ),
            audit("elsewhere", "bank", serde_json::json!({"services": {}})),
        ];
        assert_eq!(
            names(&for_service(
                &audits,
                Some("shop"),
                &labels(&[("tier", "data")])
            )),
            vec!["all"]
        );
        assert_eq!(
            names(&for_service(
                &audits,
                Some("shop"),
                &labels(&[("tier", "edge")])
            )),
            vec!["all", "edge"]
        );
        assert_eq!(
            names(&for_endpoint_slice(&audits, Some("shop"), None)),
            vec!["all", "edge"]
        );
    }

    #[test]
    fn secrets_and_config_maps_reach_the_audits_that_read_them() {
        let audits = [
            audit(
                "ca",
                "shop",
                serde_json::json!({"trust": {"caBundle": {"secretRef": {"name": "ca"}}}, "services": {}}),
            ),
            audit(
                "mtls",
                "shop",
                serde_json::json!({"clientCertificate": {"secretRef": {"name": "client"}}}),
            ),
            audit(
                "cm",
                "shop",
                serde_json::json!({"trust": {"caBundle": {"configMapRef": {"name": "bundle"}}, "clusterCA": false}}),
            ),
            audit(
                "ing",
                "shop",
                serde_json::json!({"ingresses": {}, "trust": {"clusterCA": false}}),
            ),
        ];
        let ingress = Arc::new(Ingress {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            spec: Some(IngressSpec {
                tls: Some(vec![IngressTLS {
                    hosts: None,
                    secret_name: Some("web-tls".into()),
                }]),
                ..IngressSpec::default()
            }),
            status: None,
        });
        let ingresses = [ingress];
        assert_eq!(
            names(&for_secret(&audits, &ingresses, Some("shop"), "ca")),
            vec!["ca"]
        );
        assert_eq!(
            names(&for_secret(&audits, &ingresses, Some("shop"), "client")),
            vec!["mtls"]
        );
        assert_eq!(
            names(&for_secret(&audits, &ingresses, Some("shop"), "web-tls")),
            vec!["ing"]
        );
        assert!(for_secret(&audits, &ingresses, Some("bank"), "ca").is_empty());
        assert_eq!(
            names(&for_config_map(&audits, Some("shop"), "bundle")),
            vec!["cm"]
        );
        assert_eq!(
            names(&for_config_map(&audits, Some("shop"), CLUSTER_CA_CONFIGMAP)),
            vec!["ca", "mtls"]
        );
    }

    #[test]
    fn status_writes_do_not_change_the_trigger_but_spec_and_audit_now_do() {
        let base = audit("a", "shop", serde_json::json!({}));
        let mut with_status = (*base).clone();
        with_status.status = Some(crate::crd::TlsAuditStatus {
            omitted_endpoints: 3,
            ..Default::default()
        });
        assert_eq!(audit_trigger(&base), audit_trigger(&with_status));
        let mut newer = (*base).clone();
        newer.metadata.generation = Some(2);
        assert_ne!(audit_trigger(&base), audit_trigger(&newer));
        let mut poked = (*base).clone();
        poked
            .annotations_mut()
            .insert(crate::crd::AUDIT_NOW_ANNOTATION.into(), "1".into());
        assert_ne!(audit_trigger(&base), audit_trigger(&poked));
    }
}
