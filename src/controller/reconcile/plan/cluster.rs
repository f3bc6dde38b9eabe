//! The apiserver's own TLS clients (`spec.cluster`), planned. Input: the ValidatingWebhook- and
//! MutatingWebhookConfigurations, APIServices and CustomResourceDefinitions of the cluster, then
//! each referenced Service and its EndpointSlices. Output: one [`ClientConfig`] per webhook,
//! APIService or conversion webhook, and the [`PlannedEndpoint`]s to probe for it. Pure.
//!
//! The endpoints are dialled as the apiserver dials them (Kubernetes `k8s.io/apiserver/pkg/util/
//! webhook/client.go` `HookClient` for admission and conversion webhooks; `k8s.io/kube-aggregator/
//! pkg/apiserver/handler_proxy.go` `updateAPIService` for APIServices): the Service port, 443 when
//! unset; SNI and verification name `<service>.<namespace>.svc`; trust = the caBundle alone (an
//! empty one means the apiserver's system roots). The apiserver reaches the Service through its
//! ClusterIP (or one endpoint with `--enable-aggregator-routing`); every ready EndpointSlice
//! address is probed here, so that one replica with a stale certificate is seen too.

use std::net::SocketAddr;
use std::sync::Arc;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::ResourceExt;

use super::targets::{ready_addresses, service_host};
use super::{NotProbed, PlannedEndpoint};
use crate::crd::ClusterTargets;
use crate::probe::{Protocol, Target};

/// The port the apiserver dials when a service reference names none.
pub const DEFAULT_PORT: u16 = 443;

/// A Service the apiserver calls.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Service port (443 when the reference names none).
    pub port: u16,
}

/// One TLS client configuration of the apiserver: a webhook, an APIService or a CRD conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The status and metrics `target`: `validatingwebhook/CONFIG/WEBHOOK`,
    /// `mutatingwebhook/CONFIG/WEBHOOK`, `apiservice/NAME` or `crdconversion/NAME`.
    pub origin: String,
    /// The object named for a person, e.g. `ValidatingWebhookConfiguration policy, webhook
    /// validate.policy.example.com`.
    pub describe: String,
    /// Whether a failed call fails the request (`failurePolicy: Fail`, the default; always for
    /// APIServices and conversion webhooks) rather than being skipped (`Ignore`).
    pub fail_closed: bool,
    /// The Service called, when not a URL.
    pub service: Option<ServiceRef>,
    /// The URL called instead of a Service.
    pub url: Option<String>,
    /// The caBundle as stored (PEM); empty when unset.
    pub ca_bundle: Vec<u8>,
    /// APIService `insecureSkipTLSVerify`.
    pub insecure_skip_tls_verify: bool,
}

/// The cluster-scoped objects of the kinds an audit asked for.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    /// ValidatingWebhookConfigurations.
    pub validating: Vec<ValidatingWebhookConfiguration>,
    /// MutatingWebhookConfigurations.
    pub mutating: Vec<MutatingWebhookConfiguration>,
    /// APIServices.
    pub api_services: Vec<APIService>,
    /// CustomResourceDefinitions.
    pub crds: Vec<CustomResourceDefinition>,
}

fn port(port: Option<i32>) -> u16 {
    port.and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_PORT)
}

fn webhook(
    kind: &str,
    prefix: &str,
    config: &str,
    name: &str,
    failure_policy: Option<&str>,
    client: &WebhookClientConfig,
) -> ClientConfig {
    ClientConfig {
        origin: format!("{prefix}/{config}/{name}"),
        describe: format!("{kind} {config}, webhook {name}"),
        // admissionregistration.k8s.io/v1 defaults failurePolicy to Fail.
        fail_closed: failure_policy != Some("Ignore"),
        service: client.service.as_ref().map(|s| ServiceRef {
            namespace: s.namespace.clone(),
            name: s.name.clone(),
            port: port(s.port),
        }),
        url: client.url.clone(),
        ca_bundle: client
            .ca_bundle
            .as_ref()
            .map(|b| b.0.clone())
            .unwrap_or_default(),
        insecure_skip_tls_verify: false,
    }
}

/// Every client configuration `wanted` asks for, in a stable order (kind, then name).
#[must_use]
pub fn client_configs(wanted: &ClusterTargets, objects: &ClusterObjects) -> Vec<ClientConfig> {
    let mut out = Vec::new();
    if wanted.webhooks {
        for config in &objects.validating {
            let name = config.name_any();
            for hook in config.webhooks.iter().flatten() {
                out.push(webhook(
                    "ValidatingWebhookConfiguration",
                    "validatingwebhook",
                    &name,
                    &hook.name,
                    hook.failure_policy.as_deref(),
                    &hook.client_config,
                ));
            }
        }
        for config in &objects.mutating {
            let name = config.name_any();
            for hook in config.webhooks.iter().flatten() {
                out.push(webhook(
                    "MutatingWebhookConfiguration",
                    "mutatingwebhook",
                    &name,
                    &hook.name,
                    hook.failure_policy.as_deref(),
                    &hook.client_config,
                ));
            }
        }
    }
    if wanted.api_services {
        for api in &objects.api_services {
            // No service: the group is served by the apiserver itself (local).
            let Some(service) = api.spec.as_ref().and_then(|s| s.service.as_ref()) else {
                continue;
            };
            let spec = api.spec.as_ref();
            let name = api.name_any();
            out.push(ClientConfig {
                origin: format!("apiservice/{name}"),
                describe: format!("APIService {name}"),
                fail_closed: true,
                service: Some(ServiceRef {
                    namespace: service.namespace.clone().unwrap_or_default(),
                    name: service.name.clone().unwrap_or_default(),
                    port: port(service.port),
                }),
                url: None,
                ca_bundle: spec
                    .and_then(|s| s.ca_bundle.as_ref())
                    .map(|b| b.0.clone())
                    .unwrap_or_default(),
                insecure_skip_tls_verify: spec
                    .and_then(|s| s.insecure_skip_tls_verify)
                    .unwrap_or(false),
            });
        }
    }
    if wanted.conversion_webhooks {
        for crd in &objects.crds {
            let Some(conversion) = crd.spec.conversion.as_ref() else {
                continue;
            };
            let Some(client) = conversion
                .webhook
                .as_ref()
                .and_then(|w| w.client_config.as_ref())
                .filter(|_| conversion.strategy == "Webhook")
            else {
                continue;
            };
            let name = crd.name_any();
            out.push(ClientConfig {
                origin: format!("crdconversion/{name}"),
                describe: format!("CustomResourceDefinition {name}, conversion webhook"),
                fail_closed: true,
                service: client.service.as_ref().map(|s| ServiceRef {
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                    port: port(s.port),
                }),
                url: client.url.clone(),
                ca_bundle: client
                    .ca_bundle
                    .as_ref()
                    .map(|b| b.0.clone())
                    .unwrap_or_default(),
                insecure_skip_tls_verify: false,
            });
        }
    }
    out
}

/// The endpoints to probe for `config`'s Service: every ready address of the Service port it
/// names, dialled with SNI `<service>.<namespace>.svc`. `service` is that Service (`None`: it does
/// not exist), `slices` its EndpointSlices. A missing Service, port or ready address is one
/// unprobed endpoint (`connect.failed`): the apiserver's calls fail the same way.
#[must_use]
pub fn service_endpoints(
    config: &ClientConfig,
    reference: &ServiceRef,
    service: Option<&Service>,
    slices: &[Arc<EndpointSlice>],
) -> Vec<PlannedEndpoint> {
    let host = service_host(&reference.name, &reference.namespace);
    let target = |address: Option<SocketAddr>| Target {
        host: host.clone(),
        port: reference.port,
        address,
        server_name: Some(host.clone()),
        protocol: Protocol::Tls,
    };
    let unprobed = |why: String| {
        vec![PlannedEndpoint {
            origin: config.origin.clone(),
            dial: target(None),
            replica_group: None,
            ingress_secret: None,
            gateway: None,
            not_probed: Some(NotProbed::NoAddress(format!(
                "{}: {why}; every call of the apiserver to it fails",
                config.describe
            ))),
        }]
    };
    let svc_name = format!("Service {}/{}", reference.namespace, reference.name);
    let Some(service) = service else {
        return unprobed(format!("{svc_name} does not exist"));
    };
    let spec = service.spec.as_ref();
    if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        return unprobed(format!(
            "{svc_name} is an ExternalName Service, which tlsaudit does not resolve"
        ));
    }
    let port = spec
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|p| p.port == i32::from(reference.port));
    let Some(port) = port else {
        return unprobed(format!("{svc_name} has no port {}", reference.port));
    };
    let addresses = ready_addresses(&reference.name, port.name.as_deref(), slices);
    if addresses.is_empty() {
        return unprobed(format!(
            "{svc_name} port {} has no ready endpoint address",
            reference.port
        ));
    }
    let group = (addresses.len() > 1).then(|| format!("{}:{}", config.origin, reference.port));
    addresses
        .into_iter()
        .map(|address| PlannedEndpoint {
            origin: config.origin.clone(),
            dial: target(Some(address)),
            replica_group: group.clone(),
            ingress_secret: None,
            gateway: None,
            not_probed: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::admissionregistration::v1::{ServiceReference, ValidatingWebhook};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as agg;
    use kube::api::ObjectMeta;

    use super::*;
    use crate::controller::fixtures::{port as service_port, service, slice};

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        }
    }

    fn validating(policy: Option<&str>, client: WebhookClientConfig) -> ValidatingWebhook {
        ValidatingWebhook {
            name: "check.example.com".into(),
            failure_policy: policy.map(str::to_owned),
            client_config: client,
            admission_review_versions: vec!["v1".into()],
            side_effects: "None".into(),
            ..ValidatingWebhook::default()
        }
    }

    fn to_service(namespace: &str, name: &str, port: Option<i32>) -> WebhookClientConfig {
        WebhookClientConfig {
            service: Some(ServiceReference {
                namespace: namespace.into(),
                name: name.into(),
                port,
                path: Some("/validate".into()),
            }),
            ca_bundle: Some(ByteString(b"PEM".to_vec())),
            url: None,
        }
    }

    fn all() -> ClusterTargets {
        ClusterTargets {
            webhooks: true,
            api_services: true,
            conversion_webhooks: true,
        }
    }

    #[test]
    fn webhooks_default_to_port_443_and_fail_closed_unless_ignored() {
        let objects = ClusterObjects {
            validating: vec![ValidatingWebhookConfiguration {
                metadata: meta("policy"),
                webhooks: Some(vec![
                    validating(None, to_service("sys", "hook", None)),
                    validating(Some("Ignore"), to_service("sys", "hook", Some(8443))),
                ]),
            }],
            ..ClusterObjects::default()
        };
        let configs = client_configs(&all(), &objects);
        assert_eq!(configs.len(), 2);
        assert_eq!(
            configs[0].origin,
            "validatingwebhook/policy/check.example.com"
        );
        assert_eq!(
            configs[0].describe,
            "ValidatingWebhookConfiguration policy, webhook check.example.com"
        );
        assert_eq!(configs[0].service.as_ref().map(|s| s.port), Some(443));
        assert!(configs[0].fail_closed);
        assert_eq!(configs[1].service.as_ref().map(|s| s.port), Some(8443));
        assert!(!configs[1].fail_closed);
        assert_eq!(configs[0].ca_bundle, b"PEM");
        // Not asked for: nothing.
        let none = client_configs(&ClusterTargets::default(), &objects);
        assert!(none.is_empty());
    }

    #[test]
    fn local_api_services_and_crds_without_webhook_conversion_are_skipped() {
        let api = |name: &str, service: Option<agg::ServiceReference>, insecure| agg::APIService {
            metadata: meta(name),
            spec: Some(agg::APIServiceSpec {
                service,
                insecure_skip_tls_verify: insecure,
                group: Some("metrics.k8s.io".into()),
                version: Some("v1beta1".into()),
                ..agg::APIServiceSpec::default()
            }),
            status: None,
        };
        let crd = |name: &str, strategy: &str| CustomResourceDefinition {
            metadata: meta(name),
            spec: ext::CustomResourceDefinitionSpec {
                conversion: Some(ext::CustomResourceConversion {
                    strategy: strategy.into(),
                    webhook: Some(ext::WebhookConversion {
                        client_config: Some(ext::WebhookClientConfig {
                            url: Some("https://10.0.0.1/convert".into()),
                            ..ext::WebhookClientConfig::default()
                        }),
                        conversion_review_versions: vec!["v1".into()],
                    }),
                }),
                ..ext::CustomResourceDefinitionSpec::default()
            },
            status: None,
        };
        let objects = ClusterObjects {
            api_services: vec![
                api("v1.apps", None, None),
                api(
                    "v1beta1.metrics.k8s.io",
                    Some(agg::ServiceReference {
                        namespace: Some("kube-system".into()),
                        name: Some("metrics-server".into()),
                        port: None,
                    }),
                    Some(true),
                ),
            ],
            crds: vec![
                crd("a.example.com", "None"),
                crd("b.example.com", "Webhook"),
            ],
            ..ClusterObjects::default()
        };
        let configs = client_configs(&all(), &objects);
        let origins: Vec<&str> = configs.iter().map(|c| c.origin.as_str()).collect();
        assert_eq!(
            origins,
            vec![
                "apiservice/v1beta1.metrics.k8s.io",
                "crdconversion/b.example.com"
            ]
        );
        assert!(configs[0].insecure_skip_tls_verify);
        assert_eq!(
            configs[0].service,
            Some(ServiceRef {
                namespace: "kube-system".into(),
                name: "metrics-server".into(),
                port: 443
            })
        );
        assert_eq!(configs[1].url.as_deref(), Some("https://10.0.0.1/convert"));
        assert_eq!(configs[1].service, None);
    }

    #[test]
    fn every_ready_address_of_the_named_port_is_dialled_with_the_service_dns_name() {
        let config = webhook(
            "ValidatingWebhookConfiguration",
            "validatingwebhook",
            "policy",
            "check.example.com",
            None,
            &to_service("sys", "hook", None),
        );
        let reference = config.service.clone().unwrap();
        let svc = service("hook", &[], vec![service_port(Some("https"), 443)]);
        let slices = [slice(
            "hook",
            Some("https"),
            9443,
            &[("10.0.0.2", Some(true)), ("10.0.0.1", None)],
        )];
        let planned = service_endpoints(&config, &reference, Some(svc.as_ref()), &slices);
        let dialled: Vec<String> = planned
            .iter()
            .map(|p| p.dial.address.unwrap().to_string())
            .collect();
        assert_eq!(dialled, vec!["10.0.0.1:9443", "10.0.0.2:9443"]);
        assert!(
            planned
                .iter()
                .all(|p| p.dial.server_name.as_deref() == Some("hook.sys.svc"))
        );
        assert!(planned.iter().all(|p| p.dial.port == 443));
        assert!(planned.iter().all(|p| p.replica_group.is_some()));
    }

    #[test]
    fn a_missing_service_or_port_is_one_unprobed_endpoint_naming_the_webhook() {
        let config = webhook(
            "MutatingWebhookConfiguration",
            "mutatingwebhook",
            "inject",
            "inject.example.com",
            None,
            &to_service("sys", "hook", Some(8443)),
        );
        let reference = config.service.clone().unwrap();
        let planned = service_endpoints(&config, &reference, None, &[]);
        assert_eq!(planned.len(), 1);
        let Some(NotProbed::NoAddress(why)) = &planned[0].not_probed else {
            panic!("{planned:?}");
        };
        assert!(why.contains("inject.example.com") && why.contains("sys/hook does not exist"));
        let svc = service("hook", &[], vec![service_port(Some("https"), 443)]);
        let planned = service_endpoints(&config, &reference, Some(svc.as_ref()), &[]);
        assert!(
            matches!(&planned[0].not_probed, Some(NotProbed::NoAddress(w)) if w.contains("no port 8443"))
        );
    }
}
