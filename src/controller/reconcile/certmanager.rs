//! The cert-manager step of the reconcile, between `material` and `judge`: each planned endpoint
//! linked to the Certificate whose Secret it should serve, and what that Secret holds. Input: the
//! planned endpoints, the spec, the caches (Services, Certificates and whether the kind is
//! served) and the Secrets `material` already read. Output: [`Links`], one per planned endpoint,
//! plus [`Problem`]s for references that cannot be followed.
//!
//! How an endpoint is linked, first match wins:
//! 1. explicitly: `spec.endpoints[].certificate`, or the Service annotation
//!    `tlsaudit.dev/certificate` on an audited Service (a missing Certificate is a problem:
//!    Ready=False, reason `CertificateNotFound`);
//! 2. by its Secret: a Certificate of the namespace whose `spec.secretName` is a Secret the
//!    endpoint should serve ([`served_secrets`]: an Ingress TLS Secret, a Gateway listener's Secrets).
//!
//! When the cluster does not serve Certificates (or the operator may not list them), implicit
//! links find nothing, and an audit that names a Certificate gets one problem whose reason says
//! why (`CertManagerNotInstalled`, `CertificatesForbidden`); the rest of the audit runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::{Client, ResourceExt};

use super::judge::certmanager::{self as judging, Link};
use super::judge::ingress::SecretCert;
use super::judge::{Audited, add_findings};
use super::material::{MaterialError, tls_secret_leaf};
use super::plan::PlannedEndpoint;
use super::status::Problem;
use crate::controller::certmanager::{CERTIFICATE_ANNOTATION, Certificate, Presence};
use crate::controller::context::Context;
use crate::crd::TlsAuditSpec;
use crate::policy::Policy;

/// How long a reconcile waits for the first look at the kind and for the Certificate cache.
const SETTLE: Duration = Duration::from_secs(10);

/// One endpoint's Certificate and what its Secret holds.
#[derive(Debug, Clone)]
pub struct Linked {
    /// The Certificate.
    pub certificate: Arc<Certificate>,
    /// What its `spec.secretName` Secret holds.
    pub secret: SecretCert,
}

/// The links of one audit.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// `per_endpoint[i]`: the link of `planned[i]`, if any.
    pub per_endpoint: Vec<Option<Arc<Linked>>>,
    /// References that could not be followed.
    pub problems: Vec<Problem>,
}

impl Links {
    /// The distinct links (Certificate and its Secret), each once, in a stable order: what the
    /// served certificates are compared with, independent of how many endpoints share a link.
    #[must_use]
    pub fn certificates(&self) -> std::collections::BTreeSet<String> {
        let mut seen = std::collections::HashSet::new();
        self.per_endpoint
            .iter()
            .flatten()
            .filter(|l| seen.insert(Arc::as_ptr(l)))
            .map(|l| format!("{l:?}"))
            .collect()
    }
}

/// The Secrets in `namespace` a planned endpoint should serve: the generic hook of implicit links.
/// Ingress hosts carry their spec.tls Secret, Gateway listeners their permitted certificateRefs
/// (a Certificate writes only Secrets of its own namespace, so refs into another one never link).
#[must_use]
pub fn served_secrets(p: &PlannedEndpoint, namespace: &str) -> Vec<String> {
    p.expected_secrets(namespace)
        .into_iter()
        .filter(|key| key.namespace == namespace)
        .map(|key| key.name)
        .collect()
}

/// A Certificate an endpoint names explicitly, and where (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Certificate name.
    pub name: String,
    /// The field or annotation that names it.
    pub field: String,
}

/// The Certificate each planned endpoint names explicitly: an explicit endpoint's `certificate`
/// (matched by host, port and server name), or the annotation of the endpoint's Service.
#[must_use]
pub fn references(
    planned: &[PlannedEndpoint],
    spec: &TlsAuditSpec,
    services: &[Arc<Service>],
) -> Vec<Option<Reference>> {
    // By name once: an audit may plan tens of thousands of endpoints over thousands of Services.
    let annotated: HashMap<String, &str> = services
        .iter()
        .filter_map(|s| {
            let name = s.annotations().get(CERTIFICATE_ANNOTATION)?.trim();
            (!name.is_empty()).then(|| (s.name_any(), name))
        })
        .collect();
    planned
        .iter()
        .map(|p| {
            if let Some(host) = p.origin.strip_prefix("endpoint/") {
                let (i, e) = spec.endpoints.iter().enumerate().find(|(_, e)| {
                    e.host == host
                        && e.port == p.dial.port
                        && e.server_name.as_deref().unwrap_or(&e.host)
                            == p.dial.server_name.as_deref().unwrap_or(host)
                })?;
                return e.certificate.as_ref().map(|name| Reference {
                    name: name.clone(),
                    field: format!("spec.endpoints[{i}].certificate"),
                });
            }
            let service = p.origin.strip_prefix("service/")?;
            annotated.get(service).map(|name| Reference {
                name: (*name).to_owned(),
                field: format!("the {CERTIFICATE_ANNOTATION} annotation of Service {service}"),
            })
        })
        .collect()
}

/// Links every planned endpoint to its Certificate (pure). `certificates` are those of the
/// audit's namespace, used only when `presence` is [`Presence::Served`].
#[must_use]
pub fn link(
    planned: &[PlannedEndpoint],
    references: &[Option<Reference>],
    presence: Presence,
    certificates: &[Arc<Certificate>],
) -> (Vec<Option<Arc<Certificate>>>, Vec<Problem>) {
    let mut problems = Vec::new();
    if presence != Presence::Served {
        let named: BTreeSet<String> = references
            .iter()
            .flatten()
            .map(|r| format!("{} names Certificate {}", r.field, r.name))
            .collect();
        if !named.is_empty() {
            problems.push(Problem {
                reason: presence.reason(),
                message: format!(
                    "{}, but {}",
                    named.into_iter().collect::<Vec<_>>().join("; "),
                    presence.explain()
                ),
            });
        }
        return (vec![None; planned.len()], problems);
    }
    // Every Certificate given is of the audit's namespace.
    let namespace = certificates
        .first()
        .and_then(|c| c.metadata.namespace.as_deref())
        .unwrap_or_default();
    let by_name: HashMap<&str, &Arc<Certificate>> = certificates
        .iter()
        .filter_map(|c| Some((c.metadata.name.as_deref()?, c)))
        .collect();
    // The first by name of the Certificates that write each Secret (two writing one is a conflict
    // cert-manager reports itself).
    let mut by_secret: HashMap<&str, &Arc<Certificate>> = HashMap::new();
    for c in certificates {
        let slot = by_secret.entry(c.spec.secret_name.as_str()).or_insert(c);
        if c.metadata.name < slot.metadata.name {
            *slot = c;
        }
    }
    let mut missing = BTreeSet::new();
    let links = planned
        .iter()
        .enumerate()
        .map(|(i, p)| match references.get(i).and_then(Option::as_ref) {
            Some(r) => {
                let found = by_name.get(r.name.as_str()).map(|c| Arc::clone(c));
                if found.is_none() && missing.insert(r.name.clone()) {
                    problems.push(Problem {
                        reason: "CertificateNotFound",
                        message: format!(
                            "{} names Certificate {}, which does not exist in this namespace",
                            r.field, r.name
                        ),
                    });
                }
                found
            }
            None => served_secrets(p, namespace)
                .into_iter()
                .find_map(|secret| by_secret.get(secret.as_str()).map(|c| Arc::clone(c))),
        })
        .collect();
    (links, problems)
}

/// Links the planned endpoints of an audit in `namespace` and reads each linked Certificate's
/// Secret (reusing those `material` read for Ingresses).
pub async fn load(
    ctx: &Context,
    namespace: &str,
    spec: &TlsAuditSpec,
    planned: &[PlannedEndpoint],
    read: &BTreeMap<String, SecretCert>,
) -> Result<Links, MaterialError> {
    let cache = &ctx.stores.certificates;
    let mut presence = cache.settled(SETTLE).await;
    if presence == Presence::Served
        && tokio::time::timeout(SETTLE, cache.store.wait_until_ready())
            .await
            .is_err()
    {
        presence = Presence::Unknown;
    }
    let in_ns = |ns: Option<String>| ns.as_deref() == Some(namespace);
    let services: Vec<Arc<Service>> = ctx
        .stores
        .services
        .state()
        .into_iter()
        .filter(|s| in_ns(s.namespace()))
        .collect();
    let certificates: Vec<Arc<Certificate>> = cache
        .store
        .state()
        .into_iter()
        .filter(|c| in_ns(c.namespace()))
        .collect();
    let refs = references(planned, spec, &services);
    let (linked, problems) = link(planned, &refs, presence, &certificates);
    read_secrets(&ctx.client, namespace, linked, read, problems).await
}

async fn read_secrets(
    client: &Client,
    namespace: &str,
    linked: Vec<Option<Arc<Certificate>>>,
    read: &BTreeMap<String, SecretCert>,
    mut problems: Vec<Problem>,
) -> Result<Links, MaterialError> {
    let mut secrets: BTreeMap<String, SecretCert> = BTreeMap::new();
    let mut per_endpoint = Vec::with_capacity(linked.len());
    let mut made: BTreeMap<String, Arc<Linked>> = BTreeMap::new();
    for certificate in linked {
        let Some(certificate) = certificate else {
            per_endpoint.push(None);
            continue;
        };
        let name = certificate.name_any();
        if let Some(done) = made.get(&name) {
            per_endpoint.push(Some(Arc::clone(done)));
            continue;
        }
        let secret_name = certificate.spec.secret_name.clone();
        let known = read.get(&secret_name).or_else(|| secrets.get(&secret_name));
        let secret = if let Some(s) = known {
            s.clone()
        } else {
            let s = tls_secret_leaf(client, namespace, &secret_name).await?;
            // As for Ingress Secrets: the comparison waits for RBAC, and the audit says why.
            if s == SecretCert::Unreadable {
                problems.push(Problem {
                    reason: "SecretForbidden",
                    message: format!(
                        "Certificate {name}: the operator may not read its Secret {secret_name} in \
                         namespace {namespace}, so the served certificate is not compared with it \
                         (chart rbac.secrets)"
                    ),
                });
            }
            secrets.insert(secret_name, s.clone());
            s
        };
        let one = Arc::new(Linked {
            certificate,
            secret,
        });
        made.insert(name, Arc::clone(&one));
        per_endpoint.push(Some(one));
    }
    Ok(Links {
        per_endpoint,
        problems,
    })
}

/// Adds the `certmanager.*` findings to every linked endpoint's report (pure).
pub fn judge(
    audited: &mut [Audited],
    planned: &[PlannedEndpoint],
    links: &Links,
    policy: &Policy,
    now: jiff::Timestamp,
) {
    for (i, (a, p)) in audited.iter_mut().zip(planned).enumerate() {
        let Some(linked) = links.per_endpoint.get(i).and_then(Option::as_ref) else {
            continue;
        };
        let host = p.dial.server_name.as_deref().unwrap_or(&p.dial.host);
        let served = a.report.facts.chain.first();
        let link = Link {
            certificate: &linked.certificate,
            secret: &linked.secret,
        };
        // Ignored codes go first: an ignored stale reload must not remove the Ingress mismatch.
        let found = judging::findings(host, link, served, now)
            .into_iter()
            .filter(|f| !policy.ignore.contains(&f.code))
            .collect();
        let before = a.report.findings.len();
        let extra = judging::merge(&mut a.report.findings, found);
        if extra.is_empty() && a.report.findings.len() != before {
            a.report.rejudge();
        }
        add_findings(&mut a.report, extra, policy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::certmanager::CertificateSpec;
    use crate::controller::fixtures::service;
    use crate::probe::Target;

    fn planned(origin: &str, host: &str, sni: &str, secret: Option<&str>) -> PlannedEndpoint {
        PlannedEndpoint {
            origin: origin.into(),
            dial: Target {
                host: host.into(),
                port: 443,
                address: None,
                server_name: Some(sni.into()),
                protocol: crate::facts::Protocol::Tls,
            },
            replica_group: None,
            ingress_secret: secret.map(Into::into),
            gateway: None,
            not_probed: None,
        }
    }

    fn certificate(name: &str, secret: &str) -> Arc<Certificate> {
        Arc::new(Certificate {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: CertificateSpec {
                secret_name: secret.into(),
                ..Default::default()
            },
            status: None,
        })
    }

    fn spec() -> TlsAuditSpec {
        serde_json::from_value(serde_json::json!({
            "services": {},
            "endpoints": [{"host": "10.0.0.9", "port": 443, "serverName": "legacy.example", "certificate": "legacy"}]
        }))
        .unwrap()
    }

    fn names(links: &[Option<Arc<Certificate>>]) -> Vec<Option<String>> {
        links
            .iter()
            .map(|l| l.as_ref().map(|c| c.name_any()))
            .collect()
    }

    #[test]
    fn endpoints_link_explicitly_by_field_or_annotation_and_implicitly_by_secret() {
        let mut api = (*service("api", &[], vec![])).clone();
        api.metadata.annotations = Some([(CERTIFICATE_ANNOTATION.into(), "api".into())].into());
        let services = [Arc::new(api), service("plain", &[], vec![])];
        let planned = [
            planned("service/api", "api.shop.svc", "api.shop.svc", None),
            planned("service/plain", "plain.shop.svc", "plain.shop.svc", None),
            planned("ingress/web", "web.example", "web.example", Some("web-tls")),
            planned("endpoint/10.0.0.9", "10.0.0.9", "legacy.example", None),
        ];
        let refs = references(&planned, &spec(), &services);
        assert_eq!(
            refs[3].as_ref().map(|r| r.field.as_str()),
            Some("spec.endpoints[0].certificate")
        );
        let certs = [
            certificate("api", "api-tls"),
            certificate("web", "web-tls"),
            certificate("legacy", "legacy-tls"),
        ];
        let (links, problems) = link(&planned, &refs, Presence::Served, &certs);
        assert!(problems.is_empty());
        assert_eq!(
            names(&links),
            vec![
                Some("api".into()),
                None,
                Some("web".into()),
                Some("legacy".into())
            ]
        );
    }

    #[test]
    fn a_stale_reload_replaces_the_ingress_mismatch_unless_the_policy_ignores_it() {
        use crate::findings::Code;
        let run = |policy: &Policy| {
            let mut audited = [crate::controller::fixtures::audited(
                "ingress/web",
                "10.0.0.1:443",
                crate::grade::Grade::A,
                &[Code::IngressSecretMismatch],
                Some(60),
            )];
            // The served leaf dates from 1970; the Secret's is issued now.
            let params = rcgen::CertificateParams::new(vec!["x.shop.svc".to_owned()]).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let der = params.self_signed(&key).unwrap().der().to_vec();
            let mut cert = (*certificate("web", "web-tls")).clone();
            cert.spec.dns_names = vec!["x.shop.svc".into()];
            let links = Links {
                per_endpoint: vec![Some(Arc::new(Linked {
                    certificate: Arc::new(cert),
                    secret: SecretCert::Leaf(der),
                }))],
                problems: Vec::new(),
            };
            let planned = [planned(
                "ingress/web",
                "x.shop.svc",
                "x.shop.svc",
                Some("web-tls"),
            )];
            judge(
                &mut audited,
                &planned,
                &links,
                policy,
                jiff::Timestamp::now(),
            );
            audited[0]
                .report
                .findings
                .iter()
                .map(|f| f.code)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(&Policy::default()), vec![Code::CertmanagerStaleReload]);
        let ignoring = Policy {
            ignore: vec![Code::CertmanagerStaleReload],
            ..Policy::default()
        };
        assert_eq!(run(&ignoring), vec![Code::IngressSecretMismatch]);
    }

    #[test]
    fn a_named_certificate_that_does_not_exist_is_one_problem() {
        let planned = [planned(
            "endpoint/10.0.0.9",
            "10.0.0.9",
            "legacy.example",
            None,
        )];
        let refs = references(&planned, &spec(), &[]);
        let (links, problems) = link(&planned, &refs, Presence::Served, &[]);
        assert_eq!(names(&links), vec![None]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, "CertificateNotFound");
    }

    #[test]
    fn without_the_kind_only_audits_that_name_a_certificate_get_a_problem() {
        let explicit = [planned(
            "endpoint/10.0.0.9",
            "10.0.0.9",
            "legacy.example",
            None,
        )];
        let refs = references(&explicit, &spec(), &[]);
        let (_, problems) = link(&explicit, &refs, Presence::Absent, &[]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, "CertManagerNotInstalled");
        assert!(
            problems[0]
                .message
                .contains("spec.endpoints[0].certificate")
        );
        let (_, problems) = link(&explicit, &refs, Presence::Forbidden, &[]);
        assert_eq!(problems[0].reason, "CertificatesForbidden");

        let implicit = [planned(
            "ingress/web",
            "web.example",
            "web.example",
            Some("web-tls"),
        )];
        let refs = references(&implicit, &TlsAuditSpec::default(), &[]);
        let (links, problems) = link(&implicit, &refs, Presence::Absent, &[]);
        assert_eq!(names(&links), vec![None]);
        assert!(problems.is_empty());
    }
}
