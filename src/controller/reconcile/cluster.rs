//! The apiserver's own TLS clients (`spec.cluster`), audited: a side step of the reconcile with
//! the same plan → probe → judge shape. Input: the audit's spec and namespace, the shared
//! [`Context`] (client, settings, prober), the policy and the time. Output: one [`Audited`]
//! endpoint per Service address of every ValidatingWebhook-/MutatingWebhookConfiguration webhook,
//! APIService and CRD conversion webhook asked for, plus the [`Problem`]s that make Ready=False.
//!
//! Opt-in twice: the operator runs with `--cluster-audits on`, and only audits in its own
//! namespace may ask (`ClusterAuditsDisabled`, `ClusterAuditsNotAllowed` otherwise): these kinds
//! are cluster-scoped, and a tenant must not read other namespaces' webhook Services through a
//! TlsAudit. The objects are listed at each audit (no informer: a cluster holds tens of them, and a
//! change is picked up at the next interval or `tlsaudit.dev/audit-now`); each referenced Service
//! and its EndpointSlices are read directly, since `--watch-namespace` may leave them outside the
//! caches. Every address passes the metadata-endpoint guard of Service endpoints, and is probed by
//! the shared prober with the caBundle as its only trust (`judge::webhooks::CaBundle::roots`).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::ListParams;
use kube::{Api, Client};

use super::judge::consistency::{Replica, inconsistent_backends};
use super::judge::webhooks::{self, CaBundle};
use super::judge::{Audited, add_findings, unprobed_report};
use super::plan::cluster::{
    ClientConfig, ClusterObjects, ServiceRef, client_configs, service_endpoints,
};
use super::plan::networks::metadata_endpoint;
use super::plan::targets::SERVICE_NAME_LABEL;
use super::plan::{NotProbed, PlannedEndpoint};
use super::prober::{Fingerprint, ProbeKey};
use super::status::Problem;
use crate::controller::context::Context;
use crate::crd::{ClusterTargets, TlsAuditSpec};
use crate::findings::{Code, Finding};
use crate::policy::Policy;
use crate::probe::{ProbeOptions, Protocol, Target};
use crate::report::EndpointReport;

/// What auditing the cluster's client configurations gave.
#[derive(Debug, Default)]
pub struct ClusterAudit {
    /// One report per endpoint, in client-configuration order.
    pub audited: Vec<Audited>,
    /// Why part of it could not be done (Ready=False).
    pub problems: Vec<Problem>,
}

/// An API call of the operator's own failed (not a 403: that is a [`Problem`]).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Listing a cluster-scoped kind failed.
    #[error("failed to list {kind}: {source}")]
    List {
        /// The kind's plural.
        kind: &'static str,
        /// API error.
        source: kube::Error,
    },
    /// Reading a webhook's Service or its EndpointSlices failed.
    #[error("failed to read Service {namespace}/{name}: {source}")]
    ReadService {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// API error.
        source: kube::Error,
    },
}

fn forbidden(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 403)
}

/// Audits what `spec.cluster` asks for, when this audit may ask.
pub async fn audit(
    ctx: &Context,
    namespace: &str,
    spec: &TlsAuditSpec,
    policy: &Policy,
    now: jiff::Timestamp,
) -> Result<ClusterAudit, ClusterError> {
    let Some(wanted) = spec.cluster.as_ref().filter(|c| c.any()) else {
        return Ok(ClusterAudit::default());
    };
    if let Some(problem) = refusal(&ctx.settings.cluster, namespace) {
        return Ok(ClusterAudit {
            audited: Vec::new(),
            problems: vec![problem],
        });
    }
    let mut problems = Vec::new();
    let objects = list_objects(&ctx.client, wanted, &mut problems).await?;
    let configs = client_configs(wanted, &objects);
    let mut services = BTreeMap::new();
    for reference in configs.iter().filter_map(|c| c.service.as_ref()) {
        let key = (reference.namespace.clone(), reference.name.clone());
        if let std::collections::btree_map::Entry::Vacant(slot) = services.entry(key) {
            slot.insert(read_service(&ctx.client, reference, &mut problems).await?);
        }
    }
    let mut audited = Vec::new();
    for config in &configs {
        audited.extend(audit_config(ctx, config, &services, policy, now).await);
    }
    Ok(ClusterAudit { audited, problems })
}

/// Why an audit in `namespace` may not use `spec.cluster`, if it may not.
#[must_use]
pub fn refusal(
    settings: &crate::controller::context::ClusterSettings,
    namespace: &str,
) -> Option<Problem> {
    if !settings.enabled {
        return Some(Problem {
            reason: "ClusterAuditsDisabled",
            message: "spec.cluster asks for the apiserver's webhooks and aggregated APIs, but the \
                      operator runs without --cluster-audits on (chart clusterAudits.enabled)"
                .into(),
        });
    }
    if namespace != settings.namespace {
        return Some(Problem {
            reason: "ClusterAuditsNotAllowed",
            message: format!(
                "spec.cluster is honoured only for audits in the operator's namespace ({}); \
                 webhooks, APIServices and CRDs are cluster-scoped",
                settings.namespace
            ),
        });
    }
    None
}

async fn list<K>(
    client: &Client,
    kind: &'static str,
    problems: &mut Vec<Problem>,
) -> Result<Vec<K>, ClusterError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items),
        Err(err) if forbidden(&err) => {
            problems.push(Problem {
                reason: "ClusterForbidden",
                message: format!(
                    "the operator may not list {kind} (its RBAC lacks it: chart \
                     clusterAudits.enabled grants get/list/watch)"
                ),
            });
            Ok(Vec::new())
        }
        Err(source) => Err(ClusterError::List { kind, source }),
    }
}

async fn list_objects(
    client: &Client,
    wanted: &ClusterTargets,
    problems: &mut Vec<Problem>,
) -> Result<ClusterObjects, ClusterError> {
    let mut objects = ClusterObjects::default();
    if wanted.webhooks {
        objects.validating = list::<ValidatingWebhookConfiguration>(
            client,
            "validatingwebhookconfigurations",
            problems,
        )
        .await?;
        objects.mutating =
            list::<MutatingWebhookConfiguration>(client, "mutatingwebhookconfigurations", problems)
                .await?;
    }
    if wanted.api_services {
        objects.api_services = list::<APIService>(client, "apiservices", problems).await?;
    }
    if wanted.conversion_webhooks {
        objects.crds =
            list::<CustomResourceDefinition>(client, "customresourcedefinitions", problems).await?;
    }
    Ok(objects)
}

/// A Service and its EndpointSlices (`None`: no such Service, or not readable).
type Found = (Option<Service>, Vec<Arc<EndpointSlice>>);

async fn read_service(
    client: &Client,
    reference: &ServiceRef,
    problems: &mut Vec<Problem>,
) -> Result<Found, ClusterError> {
    let err = |source| ClusterError::ReadService {
        namespace: reference.namespace.clone(),
        name: reference.name.clone(),
        source,
    };
    let services: Api<Service> = Api::namespaced(client.clone(), &reference.namespace);
    let service = match services.get_opt(&reference.name).await {
        Ok(found) => found,
        Err(e) if forbidden(&e) => {
            problems.push(Problem {
                reason: "ClusterForbidden",
                message: format!(
                    "the operator may not read Service {}/{}",
                    reference.namespace, reference.name
                ),
            });
            return Ok((None, Vec::new()));
        }
        Err(source) => return Err(err(source)),
    };
    if service.is_none() {
        return Ok((None, Vec::new()));
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &reference.namespace);
    let selector = format!("{SERVICE_NAME_LABEL}={}", reference.name);
    let slices = slices
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(err)?;
    Ok((service, slices.items.into_iter().map(Arc::new).collect()))
}

/// Probes and judges every endpoint of one client configuration.
async fn audit_config(
    ctx: &Context,
    config: &ClientConfig,
    services: &BTreeMap<(String, String), Found>,
    policy: &Policy,
    now: jiff::Timestamp,
) -> Vec<Audited> {
    let Some(reference) = &config.service else {
        return vec![url_report(config, policy, now)];
    };
    let key = (reference.namespace.clone(), reference.name.clone());
    let (service, slices) = services
        .get(&key)
        .map_or((None, &[][..]), |(s, sl)| (s.as_ref(), sl.as_slice()));
    let mut planned = service_endpoints(config, reference, service, slices);
    for endpoint in planned.iter_mut().filter(|p| p.not_probed.is_none()) {
        if let Some(address) = endpoint.dial.address
            && let Err(reason) = metadata_endpoint(address.ip())
        {
            endpoint.not_probed = Some(NotProbed::Refused(reason));
        }
    }
    let bundle = CaBundle::parse(&config.ca_bundle);
    let options = ProbeOptions {
        timeout: ctx.settings.probe_timeout,
        deadline: ctx.settings.probe_deadline,
        roots: bundle.roots(),
        client_identity: None,
        // The apiserver speaks HTTP/1.1 POSTs to these Services: no `GET /`, no HSTS verdict.
        http: false,
        ..ProbeOptions::default()
    };
    let trust = Fingerprint::of(bundle.fingerprint_parts());
    let probes = planned.iter().map(|p| {
        let options = &options;
        async move {
            if p.not_probed.is_some() {
                return None;
            }
            let key = ProbeKey::new(&p.dial, None, trust);
            Some(ctx.prober.facts(key, &p.dial, options).await)
        }
    });
    let facts = futures::future::join_all(probes).await;
    let seconds = now.as_second();
    let mut audited: Vec<Audited> = planned
        .iter()
        .zip(&facts)
        .map(|(p, facts)| {
            let mut report = match (&p.not_probed, facts) {
                (Some(NotProbed::Refused(why)), _) => {
                    unprobed_report(&p.dial, Finding::new(Code::TargetRefused, why.clone()), now)
                }
                (Some(NotProbed::NoAddress(why)), _) => {
                    unprobed_report(&p.dial, no_address(config, why), now)
                }
                (None, None) => unprobed_report(
                    &p.dial,
                    Finding::new(Code::ConnectFailed, "the endpoint was not probed"),
                    now,
                ),
                (None, Some(facts)) => {
                    let mut report =
                        EndpointReport::assemble(&p.dial, Arc::clone(facts), policy, now);
                    // The apiserver offers only http/1.1 to webhooks (client.go, issue 75791).
                    report.findings.retain(|f| f.code != Code::AlpnNoH2);
                    report
                }
            };
            let extra = webhooks::findings(
                config,
                &bundle,
                facts.as_deref().filter(|_| p.not_probed.is_none()),
                policy,
                seconds,
            );
            // The mismatch says what `cert.untrusted` would ("a root the audit does not trust"),
            // naming the caBundle: one finding and one alert for one fact. With
            // insecureSkipTLSVerify nobody verifies the chain: that flag is the finding.
            if extra.iter().any(|f| {
                matches!(
                    f.code,
                    Code::WebhookCaBundleMismatch | Code::WebhookInsecureSkipTlsVerify
                )
            }) {
                report.findings.retain(|f| f.code != Code::CertUntrusted);
            }
            add_findings(&mut report, extra, policy);
            Audited {
                origin: p.origin.clone(),
                report,
            }
        })
        .collect();
    consistency(&planned, &mut audited, policy);
    audited
}

/// `connect.failed` for a webhook whose Service has no address: critical when the apiserver's failed
/// calls fail requests, high when they are ignored (`failurePolicy: Ignore`), as for a mismatch.
fn no_address(config: &ClientConfig, why: &str) -> Finding {
    let finding = Finding::new(Code::ConnectFailed, why);
    if config.fail_closed {
        finding
    } else {
        finding.with_severity(crate::findings::Severity::High)
    }
}

/// Replicas of one webhook Service that serve different certificates or settings.
fn consistency(planned: &[PlannedEndpoint], audited: &mut [Audited], policy: &Policy) {
    let replicas: Vec<Replica<'_>> = planned
        .iter()
        .zip(audited.iter())
        .map(|(p, a)| Replica {
            group: p.replica_group.as_deref(),
            address: a.report.address.as_deref().unwrap_or(&a.report.host),
            facts: &a.report.facts,
        })
        .collect();
    let found = inconsistent_backends(&replicas);
    for (index, finding) in found {
        if let Some(a) = audited.get_mut(index) {
            add_findings(&mut a.report, vec![finding], policy);
        }
    }
}

/// A webhook called through a URL: reported, not dialled.
fn url_report(config: &ClientConfig, policy: &Policy, now: jiff::Timestamp) -> Audited {
    let url = config.url.as_deref().unwrap_or_default();
    let authority = url
        .strip_prefix("https://")
        .unwrap_or(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => (
            host,
            port.parse().unwrap_or(super::plan::cluster::DEFAULT_PORT),
        ),
        _ => (authority, super::plan::cluster::DEFAULT_PORT),
    };
    let target = Target {
        host: host.chars().take(253).collect(),
        port,
        address: None,
        server_name: None,
        protocol: Protocol::Tls,
    };
    let finding = Finding::new(
        Code::WebhookUrlNotProbed,
        format!(
            "{} calls {}: not dialled (tlsaudit dials no URL named by a cluster object)",
            config.describe,
            url.chars().take(300).collect::<String>()
        ),
    );
    let mut report = unprobed_report(&target, finding, now);
    let bundle = CaBundle::parse(&config.ca_bundle);
    let extra = webhooks::findings(config, &bundle, None, policy, now.as_second());
    add_findings(&mut report, extra, policy);
    report.findings.retain(|f| !policy.ignore.contains(&f.code));
    Audited {
        origin: config.origin.clone(),
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::context::ClusterSettings;

    #[test]
    fn only_the_operator_namespace_may_audit_the_cluster_and_only_when_enabled() {
        let on = ClusterSettings {
            enabled: true,
            namespace: "tlsaudit".into(),
        };
        assert_eq!(refusal(&on, "tlsaudit"), None);
        let tenant = refusal(&on, "shop").unwrap();
        assert_eq!(tenant.reason, "ClusterAuditsNotAllowed");
        assert!(tenant.message.contains("(tlsaudit)"), "{}", tenant.message);
        let off = ClusterSettings {
            enabled: false,
            ..on
        };
        assert_eq!(
            refusal(&off, "tlsaudit").map(|p| p.reason),
            Some("ClusterAuditsDisabled")
        );
    }

    #[test]
    fn a_webhook_without_a_service_address_is_critical_unless_its_failures_are_ignored() {
        let mut config = ClientConfig {
            origin: "validatingwebhook/p/w".into(),
            describe: "ValidatingWebhookConfiguration p, webhook w".into(),
            fail_closed: true,
            service: None,
            url: None,
            ca_bundle: Vec::new(),
            insecure_skip_tls_verify: false,
        };
        let closed = no_address(&config, "Service sys/hook does not exist");
        assert_eq!(
            (closed.code, closed.severity),
            (Code::ConnectFailed, crate::findings::Severity::Critical)
        );
        config.fail_closed = false;
        let ignored = no_address(&config, "Service sys/hook does not exist");
        assert_eq!(
            (ignored.code, ignored.severity),
            (Code::ConnectFailed, crate::findings::Severity::High)
        );
    }

    #[test]
    fn a_url_webhook_is_reported_not_dialled_with_its_host_and_port() {
        let config = ClientConfig {
            origin: "validatingwebhook/ext/ext.example.com".into(),
            describe: "ValidatingWebhookConfiguration ext, webhook ext.example.com".into(),
            fail_closed: true,
            service: None,
            url: Some("https://hooks.example.com:9443/validate".into()),
            ca_bundle: Vec::new(),
            insecure_skip_tls_verify: false,
        };
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let audited = url_report(&config, &Policy::default(), now);
        assert_eq!(audited.origin, "validatingwebhook/ext/ext.example.com");
        assert_eq!(
            (audited.report.host.as_str(), audited.report.port),
            ("hooks.example.com", 9443)
        );
        let codes: Vec<Code> = audited.report.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::WebhookUrlNotProbed]);
        assert_eq!(audited.report.facts.connections, 0);
    }
}
