//! Target resolution: a `TlsAudit` spec plus the cluster objects it selects (Services,
//! EndpointSlices, Ingresses, from the informer caches) → the list of endpoints to probe. Pure: the
//! caller hands in the objects of the audit's namespace; explicit host names are resolved and
//! checked against the allowed networks elsewhere (`networks`), because that needs DNS.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use super::{NotProbed, PlannedEndpoint};
use crate::crd::{ControllerService, TlsAuditSpec};
use crate::probe::{Protocol, Target};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A selector of the spec that the apiserver accepted but that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to use the {what} selector: {reason}")]
pub struct SelectorError {
    what: &'static str,
    reason: String,
}

/// Converts an optional label selector; absent or empty selects everything. Refuses what the
/// apiserver would refuse in a built-in object's selector (bad label keys or values, `Exists`
/// with values, `In` without), so that an invalid selector is a Ready=False, never a selector that
/// quietly matches nothing.
pub fn selector(
    what: &'static str,
    selector: Option<&LabelSelector>,
) -> Result<Selector, SelectorError> {
    let err = |reason: String| SelectorError { what, reason };
    let Some(s) = selector else {
        return Ok(Selector::default());
    };
    for (key, value) in s.match_labels.iter().flatten() {
        label_key(key).map_err(err)?;
        label_value(value).map_err(|e| err(format!("matchLabels[{key}]: {e}")))?;
    }
    for (i, e) in s.match_expressions.iter().flatten().enumerate() {
        label_key(&e.key).map_err(|r| err(format!("matchExpressions[{i}]: {r}")))?;
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(err(format!(
                    "matchExpressions[{i}]: operator {} takes no values",
                    e.operator
                )));
            }
            "In" | "NotIn" if values.is_empty() => {
                return Err(err(format!(
                    "matchExpressions[{i}]: operator {} needs at least one value",
                    e.operator
                )));
            }
            _ => {}
        }
        for value in values {
            label_value(value).map_err(|r| err(format!("matchExpressions[{i}]: {r}")))?;
        }
    }
    Selector::try_from(s.clone()).map_err(|e| err(e.to_string()))
}

/// A label name: 1–63 alphanumerics, `-`, `_` or `.`, beginning and ending alphanumeric.
fn label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A DNS-1123 subdomain: at most 253 characters of lower-case labels separated by dots.
fn dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain (Kubernetes' qualified name).
fn label_key(key: &str) -> Result<(), String> {
    let shown: String = key.chars().take(80).collect();
    let ok = match key.split_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix) && label_name(name),
        None => label_name(key),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{shown:?} is not a valid label key ([prefix/]name: name of at most 63 alphanumerics, \
             '-', '_' or '.', beginning and ending alphanumeric; prefix a DNS subdomain)"
        ))
    }
}

fn label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || label_name(value) {
        Ok(())
    } else {
        let shown: String = value.chars().take(80).collect();
        Err(format!("{shown:?} is not a valid label value"))
    }
}

/// Whether a Service port looks like TLS when the spec names no ports.
#[must_use]
pub fn looks_like_tls(port: &ServicePort) -> bool {
    let app = port
        .app_protocol
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = port
        .name
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(app.as_str(), "https" | "tls")
        || matches!(name.as_str(), "https" | "tls")
        || name.ends_with("-tls")
        || name.ends_with("-https")
        || port.port == 443
        || port.port == 8443
}

/// The protocol a Service port speaks before TLS: PostgreSQL when its `appProtocol` is `postgresql`
/// or `postgres`, or its name is `postgres`, `postgresql`, `*-postgres` or `*-postgresql` (the names
/// of the common operators' and charts' Services); else plain TLS.
#[must_use]
pub fn port_protocol(port: &ServicePort) -> Protocol {
    let app = port
        .app_protocol
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = port
        .name
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let postgres = |text: &str| {
        matches!(text, "postgres" | "postgresql")
            || text.ends_with("-postgres")
            || text.ends_with("-postgresql")
    };
    if matches!(app.as_str(), "postgres" | "postgresql") || postgres(&name) {
        Protocol::Postgres
    } else {
        Protocol::Tls
    }
}

fn is_tcp(port: &ServicePort) -> bool {
    port.protocol.as_deref().is_none_or(|p| p == "TCP")
}

/// The ports of `svc` an audit probes: those named or numbered in `wanted`, else TLS-looking and
/// PostgreSQL ones ([`port_protocol`]).
#[must_use]
pub fn selected_ports<'a>(svc: &'a Service, wanted: &[IntOrString]) -> Vec<&'a ServicePort> {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    ports
        .iter()
        .filter(|p| is_tcp(p))
        .filter(|p| {
            if wanted.is_empty() {
                looks_like_tls(p) || port_protocol(p) != Protocol::Tls
            } else {
                wanted.iter().any(|w| port_matches(p, w))
            }
        })
        .collect()
}

fn port_matches(port: &ServicePort, wanted: &IntOrString) -> bool {
    match wanted {
        IntOrString::Int(n) => port.port == *n,
        IntOrString::String(name) => {
            port.name.as_deref() == Some(name.as_str()) || name.parse::<i32>() == Ok(port.port)
        }
    }
}

/// Ready addresses of `service`'s EndpointSlices for the Service port named `port_name`, with the
/// slice's target port, sorted and deduplicated (a Pod may sit in two slices during a move).
#[must_use]
pub fn ready_addresses(
    service: &str,
    port_name: Option<&str>,
    slices: &[Arc<EndpointSlice>],
) -> Vec<SocketAddr> {
    let mut out = BTreeSet::new();
    let wanted_name = port_name.unwrap_or_default();
    for slice in slices
        .iter()
        .filter(|s| s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some(service))
    {
        if slice.address_type == "FQDN" {
            continue;
        }
        let Some(port) = slice.ports.as_deref().unwrap_or_default().iter().find(|p| {
            p.name.as_deref().unwrap_or_default() == wanted_name
                && p.protocol.as_deref().is_none_or(|proto| proto == "TCP")
        }) else {
            continue;
        };
        let Some(number) = port.port.and_then(|n| u16::try_from(n).ok()) else {
            continue;
        };
        for endpoint in slice.endpoints.as_deref().unwrap_or_default() {
            // A nil ready condition means ready (EndpointSlice API contract).
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true);
            if !ready {
                continue;
            }
            for address in &endpoint.addresses {
                if let Ok(ip) = address.parse::<IpAddr>() {
                    out.insert(SocketAddr::new(ip, number));
                }
            }
        }
    }
    out.into_iter().collect()
}

fn cluster_ip(svc: &Service) -> Option<IpAddr> {
    let spec = svc.spec.as_ref()?;
    spec.cluster_ip
        .as_deref()
        .filter(|ip| *ip != "None")
        .and_then(|ip| ip.parse().ok())
}

/// The DNS name of a Service, the default SNI and verification name.
#[must_use]
pub fn service_host(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc")
}

/// Endpoints of the Services an audit selects. `services` and `slices` are the namespace's.
pub fn service_targets(
    namespace: &str,
    spec: &TlsAuditSpec,
    services: &[Arc<Service>],
    slices: &[Arc<EndpointSlice>],
) -> Result<Vec<PlannedEndpoint>, SelectorError> {
    let Some(wanted) = spec.services.as_ref() else {
        return Ok(Vec::new());
    };
    let selector = selector("services", wanted.selector.as_ref())?;
    let mut planned = Vec::new();
    let mut services: Vec<_> = services
        .iter()
        .filter(|s| selector.matches(s.labels()))
        .collect();
    services.sort_by_key(|s| s.name_any());
    // Slices grouped by Service once: scanning every slice for every Service port would be
    // quadratic in the Services of a namespace (1.8 s at 10,000 in the scale benchmark).
    let mut slices_of: std::collections::HashMap<&str, Vec<Arc<EndpointSlice>>> =
        std::collections::HashMap::new();
    for slice in slices {
        if let Some(service) = slice.labels().get(SERVICE_NAME_LABEL) {
            slices_of
                .entry(service.as_str())
                .or_default()
                .push(Arc::clone(slice));
        }
    }
    for svc in services {
        if svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            continue;
        }
        let name = svc.name_any();
        let host = service_host(&name, namespace);
        let server_name = spec.server_name.clone().unwrap_or_else(|| host.clone());
        for port in selected_ports(svc, &wanted.ports) {
            let Ok(number) = u16::try_from(port.port) else {
                continue;
            };
            let protocol = port_protocol(port);
            let origin = format!("service/{name}");
            let group = format!(
                "{origin}:{}",
                port.name.clone().unwrap_or_else(|| number.to_string())
            );
            let addresses = match (wanted.per_endpoint, cluster_ip(svc)) {
                (false, Some(ip)) => vec![SocketAddr::new(ip, number)],
                _ => ready_addresses(
                    &name,
                    port.name.as_deref(),
                    slices_of.get(name.as_str()).map_or(&[][..], Vec::as_slice),
                ),
            };
            if addresses.is_empty() {
                planned.push(PlannedEndpoint {
                    origin,
                    dial: Target {
                        host: host.clone(),
                        port: number,
                        address: None,
                        server_name: Some(server_name.clone()),
                        protocol,
                    },
                    replica_group: None,
                    ingress_secret: None,
                    not_probed: Some(NotProbed::NoAddress(format!(
                        "Service {name} port {number} has no ready endpoint address"
                    ))),
                    gateway: None,
                });
                continue;
            }
            let grouped = wanted.per_endpoint && addresses.len() > 1;
            for address in addresses {
                planned.push(PlannedEndpoint {
                    origin: origin.clone(),
                    dial: Target {
                        host: host.clone(),
                        port: number,
                        address: Some(address),
                        server_name: Some(server_name.clone()),
                        protocol,
                    },
                    replica_group: grouped.then(|| group.clone()),
                    ingress_secret: None,
                    not_probed: None,
                    gateway: None,
                });
            }
        }
    }
    Ok(planned)
}

/// Where an ingress controller is dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngressDial {
    /// An address (from the controller Service, or the Ingress's load-balancer IP).
    Address(SocketAddr),
    /// A load-balancer host name, dialled by name.
    Host(String),
}

/// The address of a configured ingress-controller Service: its first ready EndpointSlice address
/// for the port, else its ClusterIP. `services`/`slices` are those of the Service's namespace.
#[must_use]
pub fn controller_address(
    controller: &ControllerService,
    services: &[Arc<Service>],
    slices: &[Arc<EndpointSlice>],
) -> Option<SocketAddr> {
    let svc = services.iter().find(|s| s.name_any() == controller.name)?;
    let wanted = controller.port.clone().unwrap_or(IntOrString::Int(443));
    let port = selected_ports(svc, std::slice::from_ref(&wanted))
        .into_iter()
        .next()?;
    ready_addresses(&controller.name, port.name.as_deref(), slices)
        .into_iter()
        .next()
        .or_else(|| {
            let number = u16::try_from(port.port).ok()?;
            cluster_ip(svc).map(|ip| SocketAddr::new(ip, number))
        })
}

/// Every TLS host of the Ingresses an audit selects, dialled at `dial` when given (a controller
/// Service), else at each Ingress's own load-balancer address.
pub fn ingress_targets(
    spec: &TlsAuditSpec,
    ingresses: &[Arc<Ingress>],
    dial: Option<SocketAddr>,
) -> Result<Vec<PlannedEndpoint>, SelectorError> {
    let Some(wanted) = spec.ingresses.as_ref() else {
        return Ok(Vec::new());
    };
    let selector = selector("ingresses", wanted.selector.as_ref())?;
    let mut ingresses: Vec<_> = ingresses
        .iter()
        .filter(|i| selector.matches(i.labels()))
        .collect();
    ingresses.sort_by_key(|i| i.name_any());
    let mut planned = Vec::new();
    for ingress in ingresses {
        let name = ingress.name_any();
        let route = match dial {
            Some(addr) => Some(IngressDial::Address(addr)),
            None => load_balancer(ingress),
        };
        let tls = ingress
            .spec
            .as_ref()
            .and_then(|s| s.tls.as_deref())
            .unwrap_or_default();
        for entry in tls {
            for host in entry.hosts.as_deref().unwrap_or_default() {
                // A wildcard is not a name a client sends; there is nothing to dial.
                if host.starts_with("*.") {
                    continue;
                }
                let (address, dial_host, not_probed) = match &route {
                    Some(IngressDial::Address(addr)) => (Some(*addr), host.clone(), None),
                    Some(IngressDial::Host(lb)) => (None, lb.clone(), None),
                    None => (
                        None,
                        host.clone(),
                        Some(NotProbed::NoAddress(format!(
                            "Ingress {name} has no status.loadBalancer address yet; set \
                             spec.ingresses.controllerService to dial the ingress controller"
                        ))),
                    ),
                };
                planned.push(PlannedEndpoint {
                    origin: format!("ingress/{name}"),
                    dial: Target {
                        host: dial_host,
                        port: 443,
                        address,
                        server_name: Some(host.clone()),
                        protocol: Protocol::Tls,
                    },
                    replica_group: None,
                    ingress_secret: entry.secret_name.clone(),
                    not_probed,
                    gateway: None,
                });
            }
        }
    }
    Ok(planned)
}

fn load_balancer(ingress: &Ingress) -> Option<IngressDial> {
    let lb = ingress
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?;
    if let Some(ip) = lb.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()) {
        return Some(IngressDial::Address(SocketAddr::new(ip, 443)));
    }
    lb.hostname.clone().map(IngressDial::Host)
}

/// The explicit endpoints of the spec, not yet resolved or checked.
#[must_use]
pub fn explicit_targets(spec: &TlsAuditSpec) -> Vec<PlannedEndpoint> {
    spec.endpoints
        .iter()
        .map(|e| PlannedEndpoint {
            origin: format!("endpoint/{}", e.host),
            dial: Target {
                host: e.host.clone(),
                port: e.port,
                address: None,
                server_name: Some(e.server_name.clone().unwrap_or_else(|| e.host.clone())),
                protocol: e.protocol,
            },
            replica_group: None,
            ingress_secret: None,
            not_probed: None,
            gateway: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{ingress, port, service, slice};
    use crate::crd::{IngressTargets, ServiceTargets};

    fn spec_with_services(targets: ServiceTargets) -> TlsAuditSpec {
        TlsAuditSpec {
            services: Some(targets),
            ..TlsAuditSpec::default()
        }
    }

    #[test]
    fn tls_looking_ports_are_chosen_when_none_are_named() {
        let mut https_app = port(Some("web"), 8080);
        https_app.app_protocol = Some("https".into());
        let svc = service(
            "web",
            &[],
            vec![
                port(Some("http"), 80),
                port(Some("https"), 9000),
                port(Some("metrics-tls"), 9100),
                port(Some("admin-https"), 9200),
                port(Some("tls"), 9300),
                port(None, 443),
                port(Some("alt"), 8443),
                https_app,
                port(Some("grpc"), 9090),
            ],
        );
        let chosen: Vec<i32> = selected_ports(&svc, &[]).iter().map(|p| p.port).collect();
        assert_eq!(chosen, vec![9000, 9100, 9200, 9300, 443, 8443, 8080]);
    }

    #[test]
    fn postgres_ports_are_chosen_by_name_or_app_protocol_and_planned_as_postgres() {
        let mut app = port(Some("db"), 6432);
        app.app_protocol = Some("postgresql".into());
        let svc = service(
            "db",
            &[],
            vec![
                port(Some("postgres"), 5432),
                port(Some("replica-postgresql"), 5433),
                app,
                port(Some("metrics"), 9187),
                port(Some("https"), 8443),
            ],
        );
        let spec = spec_with_services(ServiceTargets::default());
        let planned = service_targets("shop", &spec, &[svc], &[]).unwrap();
        let dialled: Vec<(u16, Protocol)> = planned
            .iter()
            .map(|p| (p.dial.port, p.dial.protocol))
            .collect();
        assert_eq!(
            dialled,
            vec![
                (5432, Protocol::Postgres),
                (5433, Protocol::Postgres),
                (6432, Protocol::Postgres),
                (8443, Protocol::Tls),
            ]
        );
        assert_eq!(planned[0].dial.server_name.as_deref(), Some("db.shop.svc"));
    }

    #[test]
    fn an_explicitly_named_postgres_port_keeps_its_protocol() {
        let svc = service("db", &[], vec![port(Some("postgres"), 5432)]);
        let spec = spec_with_services(ServiceTargets {
            ports: vec![IntOrString::Int(5432)],
            ..ServiceTargets::default()
        });
        let planned = service_targets("shop", &spec, &[svc], &[]).unwrap();
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].dial.protocol, Protocol::Postgres);
    }

    #[test]
    fn named_and_numbered_ports_select_exactly_those() {
        let svc = service(
            "web",
            &[],
            vec![
                port(Some("http"), 80),
                port(Some("https"), 443),
                port(Some("admin"), 9443),
            ],
        );
        let chosen: Vec<i32> = selected_ports(
            &svc,
            &[IntOrString::String("admin".into()), IntOrString::Int(80)],
        )
        .iter()
        .map(|p| p.port)
        .collect();
        assert_eq!(chosen, vec![80, 9443]);
    }

    #[test]
    fn a_service_without_per_endpoint_is_dialled_at_its_cluster_ip_with_the_service_name() {
        let spec = spec_with_services(ServiceTargets::default());
        let planned = service_targets(
            "shop",
            &spec,
            &[service("web", &[], vec![port(Some("https"), 443)])],
            &[],
        )
        .unwrap();
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].origin, "service/web");
        assert_eq!(
            planned[0].dial.address,
            Some("10.96.0.10:443".parse().unwrap())
        );
        assert_eq!(planned[0].dial.server_name.as_deref(), Some("web.shop.svc"));
        assert_eq!(planned[0].replica_group, None);
    }

    #[test]
    fn per_endpoint_dials_every_ready_slice_address_at_the_target_port() {
        let spec = spec_with_services(ServiceTargets {
            per_endpoint: true,
            ..ServiceTargets::default()
        });
        let services = [service("web", &[], vec![port(Some("https"), 443)])];
        let slices = [
            slice(
                "web",
                Some("https"),
                8443,
                &[
                    ("10.0.0.2", Some(true)),
                    ("10.0.0.1", None),
                    ("10.0.0.3", Some(false)),
                ],
            ),
            slice("other", Some("https"), 8443, &[("10.0.0.9", Some(true))]),
        ];
        let planned = service_targets("shop", &spec, &services, &slices).unwrap();
        let addrs: Vec<String> = planned
            .iter()
            .map(|p| p.dial.address.unwrap().to_string())
            .collect();
        assert_eq!(addrs, vec!["10.0.0.1:8443", "10.0.0.2:8443"]);
        assert!(
            planned
                .iter()
                .all(|p| p.replica_group.as_deref() == Some("service/web:https"))
        );
    }

    #[test]
    fn a_service_with_no_ready_address_is_reported_not_dropped() {
        let spec = spec_with_services(ServiceTargets {
            per_endpoint: true,
            ..ServiceTargets::default()
        });
        let planned = service_targets(
            "shop",
            &spec,
            &[service("web", &[], vec![port(Some("https"), 443)])],
            &[],
        )
        .unwrap();
        assert_eq!(planned.len(), 1);
        assert!(
            matches!(&planned[0].not_probed, Some(NotProbed::NoAddress(m)) if m.contains("web"))
        );
    }

    #[test]
    fn the_label_selector_and_the_server_name_override_apply() {
        let targets = ServiceTargets {
            selector: Some(LabelSelector {
                match_labels: Some([("tier".to_owned(), "edge".to_owned())].into()),
                ..LabelSelector::default()
            }),
            ..ServiceTargets::default()
        };
        let mut spec = spec_with_services(targets);
        spec.server_name = Some("shop.example.com".into());
        let services = [
            service("edge", &[("tier", "edge")], vec![port(Some("https"), 443)]),
            service("db", &[("tier", "data")], vec![port(Some("https"), 443)]),
        ];
        let planned = service_targets("shop", &spec, &services, &[]).unwrap();
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].origin, "service/edge");
        assert_eq!(
            planned[0].dial.server_name.as_deref(),
            Some("shop.example.com")
        );
    }

    #[test]
    fn ingress_hosts_are_dialled_at_the_load_balancer_with_sni_of_the_host() {
        let spec = TlsAuditSpec {
            ingresses: Some(IngressTargets::default()),
            ..TlsAuditSpec::default()
        };
        let ingresses = [ingress(
            "shop",
            &["shop.example.com", "*.example.com", "api.example.com"],
            Some("shop-tls"),
            Some("10.1.2.3"),
        )];
        let planned = ingress_targets(&spec, &ingresses, None).unwrap();
        let sni: Vec<_> = planned
            .iter()
            .map(|p| p.dial.server_name.clone().unwrap())
            .collect();
        assert_eq!(sni, vec!["shop.example.com", "api.example.com"]);
        assert!(
            planned
                .iter()
                .all(|p| p.dial.address == Some("10.1.2.3:443".parse().unwrap()))
        );
        assert!(
            planned
                .iter()
                .all(|p| p.ingress_secret.as_deref() == Some("shop-tls"))
        );
    }

    #[test]
    fn a_controller_service_replaces_the_load_balancer_address() {
        let spec = TlsAuditSpec {
            ingresses: Some(IngressTargets::default()),
            ..TlsAuditSpec::default()
        };
        let controller = ControllerService {
            name: "ingress-nginx".into(),
            namespace: None,
            port: None,
        };
        let services = [service(
            "ingress-nginx",
            &[],
            vec![port(Some("https"), 443)],
        )];
        let slices = [slice(
            "ingress-nginx",
            Some("https"),
            8443,
            &[("10.0.0.7", Some(true))],
        )];
        let dial = controller_address(&controller, &services, &slices);
        assert_eq!(dial, Some("10.0.0.7:8443".parse().unwrap()));
        let planned = ingress_targets(
            &spec,
            &[ingress("shop", &["shop.example.com"], None, None)],
            dial,
        )
        .unwrap();
        assert_eq!(planned[0].dial.address, dial);
        assert_eq!(planned[0].not_probed, None);
    }

    #[test]
    fn an_ingress_without_an_address_is_reported() {
        let spec = TlsAuditSpec {
            ingresses: Some(IngressTargets::default()),
            ..TlsAuditSpec::default()
        };
        let planned = ingress_targets(
            &spec,
            &[ingress("shop", &["shop.example.com"], None, None)],
            None,
        )
        .unwrap();
        assert!(
            matches!(&planned[0].not_probed, Some(NotProbed::NoAddress(m)) if m.contains("controllerService"))
        );
    }

    #[test]
    fn invalid_selectors_are_refused_not_matched_against_nothing() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let expression = |key: &str, operator: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: operator.into(),
                values: (!values.is_empty())
                    .then(|| values.iter().map(|v| (*v).to_owned()).collect()),
            }]),
            ..LabelSelector::default()
        };
        let labels = |key: &str, value: &str| LabelSelector {
            match_labels: Some([(key.to_owned(), value.to_owned())].into()),
            ..LabelSelector::default()
        };
        for (bad, why) in [
            (labels("bad key!", "x"), "not a valid label key"),
            (labels("Example.COM/app", "x"), "not a valid label key"),
            (labels("app", "no spaces"), "not a valid label value"),
            (expression("app", "Exists", &["web"]), "takes no values"),
            (expression("app", "In", &[]), "needs at least one value"),
            (expression("-app", "Exists", &[]), "not a valid label key"),
            (expression("app", "Near", &["x"]), "operator"),
        ] {
            let err = selector("services", Some(&bad)).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
            assert!(
                err.starts_with("failed to use the services selector"),
                "{err}"
            );
        }
        for good in [
            labels("app.kubernetes.io/name", "web"),
            labels("tier", ""),
            expression("tier", "In", &["edge", "web"]),
            expression("tier", "DoesNotExist", &[]),
        ] {
            assert!(selector("services", Some(&good)).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn explicit_endpoints_default_their_server_name_to_the_host() {
        let spec: TlsAuditSpec = serde_json::from_value(serde_json::json!({
            "endpoints": [{"host": "printer.infra.svc", "port": 443}, {"host": "10.0.0.1", "port": 8443, "serverName": "x.internal"}]
        }))
        .unwrap();
        let planned = explicit_targets(&spec);
        assert_eq!(planned[0].origin, "endpoint/printer.infra.svc");
        assert_eq!(
            planned[0].dial.server_name.as_deref(),
            Some("printer.infra.svc")
        );
        assert_eq!(planned[1].dial.server_name.as_deref(), Some("x.internal"));
    }

    #[test]
    fn explicit_endpoints_carry_their_protocol_defaulting_to_tls() {
        let spec: TlsAuditSpec = serde_json::from_value(serde_json::json!({
            "endpoints": [{"host": "db.data.svc", "port": 5432, "protocol": "postgres"}, {"host": "web.data.svc", "port": 443}]
        }))
        .unwrap();
        let planned = explicit_targets(&spec);
        assert_eq!(planned[0].dial.protocol, Protocol::Postgres);
        assert_eq!(planned[1].dial.protocol, Protocol::Tls);
    }
}
