//! Graceful discovery of cert-manager Certificates. Input: a client, the watched namespace, the
//! look-again interval, the cache writer and the caches of audits, Services and Ingresses. Output: a
//! stream of the audits to re-audit, while the [`Presence`] it publishes tells every reconcile
//! whether the Certificate cache can be used.
//!
//! The loop: look (`list` of one Certificate's metadata) → 404: [`Presence::Absent`], 403:
//! [`Presence::Forbidden`], another failure: [`Presence::Unavailable`]; look again every interval,
//! silently. Once served, watch Certificates
//! into the cache and trigger the audits each change concerns; a watch that finds the kind gone
//! (404/403, the CRD deleted or the rule revoked) falls back to looking. Each change of presence
//! is logged once and re-triggers the audits that name a Certificate explicitly, so their
//! condition follows. No error is retried in a tight loop, nothing is counted as a reconcile error.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ListParams;
use kube::core::SelectorExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

use super::{CERTIFICATE_ANNOTATION, Certificate, Presence};
use crate::controller::reconcile::plan::targets::selector;
use crate::controller::watches::{WatchBackoff, for_secret};
use crate::crd::TlsAudit;

/// The caches a Certificate change is mapped through.
#[derive(Clone)]
pub struct Caches {
    /// TlsAudits.
    pub audits: Store<TlsAudit>,
    /// Services (for the certificate annotation).
    pub services: Store<Service>,
    /// Ingresses (for their TLS Secrets).
    pub ingresses: Store<Ingress>,
}

/// What the loop owns between polls.
struct Looker {
    api: Api<Certificate>,
    interval: Duration,
    writer: reflector::store::Writer<Certificate>,
    presence: watch::Sender<Presence>,
    caches: Caches,
    watch: Option<BoxStream<'static, Result<watcher::Event<Certificate>, watcher::Error>>>,
    /// Resource versions seen, so that a relist that changes nothing triggers nothing.
    seen: HashMap<(String, String), String>,
    looked: bool,
}

/// The audits to re-audit as Certificates change or the kind comes and goes. Runs as long as it
/// is polled (the controller drops it at shutdown).
pub fn triggers(
    client: &Client,
    namespace: Option<&str>,
    interval: Duration,
    writer: reflector::store::Writer<Certificate>,
    presence: watch::Sender<Presence>,
    caches: Caches,
) -> impl Stream<Item = ObjectRef<TlsAudit>> + Send + 'static {
    let api = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let looker = Looker {
        api,
        interval,
        writer,
        presence,
        caches,
        watch: None,
        seen: HashMap::new(),
        looked: false,
    };
    futures::stream::unfold(looker, |mut looker| async move {
        let refs = looker.next_refs().await;
        Some((futures::stream::iter(refs), looker))
    })
    .flatten()
}

fn status_code(err: &watcher::Error) -> Option<u16> {
    let status = match err {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s,
        watcher::Error::WatchError(s) => s.as_ref(),
        _ => return None,
    };
    Some(status.code)
}

impl Looker {
    /// Waits for the next change that concerns audits and returns them.
    async fn next_refs(&mut self) -> Vec<ObjectRef<TlsAudit>> {
        loop {
            if let Some(watch) = self.watch.as_mut() {
                match watch.next().await {
                    Some(Ok(event)) => {
                        self.writer.apply_watcher_event(&event);
                        let refs = self.changed(&event);
                        if !refs.is_empty() {
                            return refs;
                        }
                    }
                    Some(Err(err)) => match status_code(&err) {
                        Some(code @ (403 | 404)) => {
                            self.watch = None;
                            let now = if code == 404 {
                                Presence::Absent
                            } else {
                                Presence::Forbidden
                            };
                            let refs = self.publish(now);
                            if !refs.is_empty() {
                                return refs;
                            }
                        }
                        // The watch retries after `WatchBackoff`; /readyz does not depend on it.
                        _ => {
                            tracing::debug!(error = %err, "cert-manager Certificate watch failed; retrying");
                        }
                    },
                    None => self.watch = None,
                }
                continue;
            }
            if self.looked {
                tokio::time::sleep(self.interval).await;
            }
            self.looked = true;
            let now = match self
                .api
                .list_metadata(&ListParams::default().limit(1))
                .await
            {
                Ok(_) => Presence::Served,
                Err(kube::Error::Api(s)) if s.code == 404 => Presence::Absent,
                Err(kube::Error::Api(s)) if s.code == 403 => Presence::Forbidden,
                Err(err) => {
                    tracing::debug!(error = %err, "could not look for cert-manager Certificates; looking again later");
                    Presence::Unavailable
                }
            };
            if now == Presence::Served {
                self.seen.clear();
                self.watch = Some(
                    watcher(self.api.clone(), watcher::Config::default())
                        .backoff(WatchBackoff::default())
                        .boxed(),
                );
            }
            let refs = self.publish(now);
            if !refs.is_empty() {
                return refs;
            }
        }
    }

    /// Publishes `now`; on a change, logs it once and returns the audits that name a Certificate
    /// explicitly (none on the first look: every audit is reconciled at start anyway).
    fn publish(&mut self, now: Presence) -> Vec<ObjectRef<TlsAudit>> {
        let before = self.presence.send_replace(now);
        if before == now {
            return Vec::new();
        }
        match now {
            Presence::Served => {
                tracing::info!("cert-manager Certificates are served: linking them to endpoints");
            }
            Presence::Absent => tracing::info!(
                every_s = self.interval.as_secs(),
                "cert-manager Certificates (cert-manager.io/v1) are not served; looking again periodically"
            ),
            Presence::Forbidden => tracing::warn!(
                "the operator may not list cert-manager Certificates (RBAC); Certificate links are off"
            ),
            Presence::Unavailable => tracing::warn!(
                every_s = self.interval.as_secs(),
                "could not find out whether cert-manager Certificates are served; looking again periodically"
            ),
            Presence::Unknown => {}
        }
        if before == Presence::Unknown {
            return Vec::new();
        }
        let services = self.caches.services.state();
        self.caches
            .audits
            .state()
            .iter()
            .filter(|a| names_certificates(a, &services))
            .map(|a| ObjectRef::from_obj(a.as_ref()))
            .collect()
    }

    /// The audits concerned by the Certificates a watch event changed.
    fn changed(&mut self, event: &watcher::Event<Certificate>) -> Vec<ObjectRef<TlsAudit>> {
        let (watcher::Event::Apply(cert)
        | watcher::Event::InitApply(cert)
        | watcher::Event::Delete(cert)) = event
        else {
            return Vec::new();
        };
        let key = (cert.namespace().unwrap_or_default(), cert.name_any());
        let version = cert.resource_version().unwrap_or_default();
        let deleted = matches!(event, watcher::Event::Delete(_));
        if deleted {
            self.seen.remove(&key);
        } else if self.seen.insert(key, version.clone()).as_ref() == Some(&version) {
            return Vec::new();
        }
        let audits = self.caches.audits.state();
        let services = self.caches.services.state();
        let ingresses = self.caches.ingresses.state();
        for_certificate(&audits, &services, &ingresses, cert)
    }
}

/// Whether `audit` names a Certificate itself: an explicit endpoint's `certificate`, or the
/// certificate annotation on a Service it selects.
#[must_use]
pub fn names_certificates(audit: &TlsAudit, services: &[Arc<Service>]) -> bool {
    audit.spec.endpoints.iter().any(|e| e.certificate.is_some())
        || !annotated_services(audit, services, None).is_empty()
}

/// The Services of `audit`'s namespace that it selects and that carry the certificate annotation
/// (with value `name`, when given).
#[must_use]
pub fn annotated_services<'a>(
    audit: &TlsAudit,
    services: &'a [Arc<Service>],
    name: Option<&str>,
) -> Vec<&'a Arc<Service>> {
    let Some(wanted) = &audit.spec.services else {
        return Vec::new();
    };
    let Ok(sel) = selector("services", wanted.selector.as_ref()) else {
        return Vec::new();
    };
    let ns = audit.namespace();
    services
        .iter()
        .filter(|s| s.namespace() == ns)
        .filter(|s| {
            s.annotations()
                .get(CERTIFICATE_ANNOTATION)
                .is_some_and(|v| name.is_none_or(|n| v.trim() == n))
        })
        .filter(|s| sel.matches(s.labels()))
        .collect()
}

/// The audits a change of `cert` concerns: those that name it (explicit endpoint, annotated
/// Service) and those that read its Secret (CA bundle, client certificate, an Ingress's TLS Secret).
#[must_use]
pub fn for_certificate(
    audits: &[Arc<TlsAudit>],
    services: &[Arc<Service>],
    ingresses: &[Arc<Ingress>],
    cert: &Certificate,
) -> Vec<ObjectRef<TlsAudit>> {
    let ns = cert.namespace();
    let name = cert.name_any();
    let mut refs: Vec<ObjectRef<TlsAudit>> = audits
        .iter()
        .filter(|a| a.namespace() == ns)
        .filter(|a| {
            a.spec
                .endpoints
                .iter()
                .any(|e| e.certificate.as_deref() == Some(name.as_str()))
                || !annotated_services(a, services, Some(&name)).is_empty()
        })
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect();
    if !cert.spec.secret_name.is_empty() {
        refs.extend(for_secret(
            audits,
            ingresses,
            ns.as_deref(),
            &cert.spec.secret_name,
        ));
    }
    let mut seen = BTreeSet::new();
    refs.retain(|r| seen.insert((r.namespace.clone(), r.name.clone())));
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    refs
}

#[cfg(test)]
mod tests {
    use kube::api::ObjectMeta;

    use super::*;
    use crate::controller::fixtures::{audit, ingress, service};

    fn annotated(name: &str, cert: &str) -> Arc<Service> {
        let mut svc = (*service(name, &[("app", name)], vec![])).clone();
        svc.metadata.annotations = Some([(CERTIFICATE_ANNOTATION.into(), cert.into())].into());
        Arc::new(svc)
    }

    fn certificate(name: &str, secret: &str) -> Certificate {
        Certificate {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            spec: super::super::CertificateSpec {
                secret_name: secret.into(),
                ..Default::default()
            },
            status: None,
        }
    }

    fn names(refs: &[ObjectRef<TlsAudit>]) -> Vec<String> {
        refs.iter().map(|r| r.name.clone()).collect()
    }

    #[test]
    fn a_certificate_change_reaches_the_audits_that_name_it_or_serve_its_secret() {
        let audits = [
            audit(
                "explicit",
                "shop",
                serde_json::json!({"endpoints": [{"host": "10.0.0.1", "port": 443, "certificate": "web"}]}),
            ),
            audit(
                "annotated",
                "shop",
                serde_json::json!({"services": {"selector": {"matchLabels": {"app": "api"}}}}),
            ),
            audit("edge", "shop", serde_json::json!({"ingresses": {}})),
            audit("other", "bank", serde_json::json!({"ingresses": {}})),
        ];
        let services = [annotated("api", "api-cert"), annotated("web", "web")];
        let ingresses = [ingress("web", &["web.example"], Some("web-tls"), None)];
        assert_eq!(
            names(&for_certificate(
                &audits,
                &services,
                &ingresses,
                &certificate("web", "web-tls")
            )),
            vec!["edge", "explicit"]
        );
        assert_eq!(
            names(&for_certificate(
                &audits,
                &services,
                &ingresses,
                &certificate("api-cert", "api-tls")
            )),
            vec!["annotated"]
        );
        assert!(names_certificates(&audits[0], &services));
        assert!(names_certificates(&audits[1], &services));
        assert!(!names_certificates(&audits[2], &services));
    }
}
