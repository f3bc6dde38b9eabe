//! Gateway API targets: the Gateways, routes, ReferenceGrants and BackendTLSPolicies of an audit's
//! namespace (read by `controller::gateway`) → planned endpoints. Pure.
//!
//! - Every listener with protocol `HTTPS`, or `TLS` in mode `Terminate` (the default), is dialled
//!   at the Gateway's first `status.addresses` entry of type `IPAddress` on the listener port, with
//!   SNI = the listener hostname; for a wildcard or absent hostname, with each hostname of the
//!   routes attached to it (HTTPRoutes and GRPCRoutes for HTTPS, TLSRoutes for TLS) that the
//!   listener hostname matches. `Hostname` addresses are not resolved (reported, not probed).
//! - Each endpoint carries the listener's certificateRefs Secrets ([`ListenerCheck`]). A Secret of
//!   another namespace counts only when a ReferenceGrant there allows it ([`grant_permits`]).
//! - `TLS` listeners in mode `Passthrough`: the backend Services of their TLSRoutes are probed
//!   directly with SNI = each route hostname.
//! - BackendTLSPolicies: each target Service (port = `sectionName`, else every TCP port) is
//!   probed with SNI = `validation.hostname` and the policy's trust ([`BackendCheck`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::core::SelectorExt;

use super::targets::{SelectorError, selector, service_targets};
use super::{NotProbed, PlannedEndpoint};
use crate::controller::gateway::objects::{
    BackendTlsPolicy, GROUP, Gateway, Listener, ObjectMetaExt, ReferenceGrant, Route,
    SubjectAltName,
};
use crate::crd::{GatewayTargets, ServiceTargets, TlsAuditSpec};
use crate::probe::{Protocol, Target};

/// What a Gateway API endpoint is checked against beyond the engine's own findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayRole {
    /// A Gateway listener that terminates TLS.
    Listener(ListenerCheck),
    /// A backend of a BackendTLSPolicy.
    Backend(BackendCheck),
}

/// A Secret by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A terminating listener's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerCheck {
    /// Gateway name.
    pub gateway: String,
    /// Listener name.
    pub listener: String,
    /// The Secrets this endpoint should serve (certificateRefs the operator may use): the same
    /// role as `PlannedEndpoint::ingress_secret` for an Ingress host.
    pub secrets: Vec<SecretKey>,
    /// certificateRefs to Secrets of other namespaces that no ReferenceGrant allows.
    pub not_permitted: Vec<SecretKey>,
    /// Frontend client-certificate validation in mode `AllowInsecureFallback` applies to it.
    pub insecure_fallback: bool,
}

/// A BackendTLSPolicy backend's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCheck {
    /// Policy name.
    pub policy: String,
    /// `validation.hostname` (the SNI).
    pub hostname: String,
    /// The trust the gateway validates with.
    pub trust: BackendTrust,
    /// `validation.subjectAltNames`: when set, one of them must match instead of the hostname.
    pub subject_alt_names: Vec<(String, String)>,
}

/// Where a BackendTLSPolicy's trust comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendTrust {
    /// `caCertificateRefs`: ConfigMaps of the policy's namespace (key `ca.crt`).
    ConfigMaps(Vec<String>),
    /// `wellKnownCACertificates: System`: the web PKI roots.
    System,
    /// Something the operator cannot reproduce (another kind, an implementation's CA set).
    Unsupported(String),
}

/// Gateway API objects of one namespace, as read for an audit.
#[derive(Debug, Clone, Default)]
pub struct GatewayObjects {
    /// Gateways.
    pub gateways: Vec<Gateway>,
    /// HTTPRoutes and GRPCRoutes (the routes of HTTPS listeners).
    pub http_routes: Vec<Route>,
    /// TLSRoutes.
    pub tls_routes: Vec<Route>,
    /// BackendTLSPolicies.
    pub policies: Vec<BackendTlsPolicy>,
    /// ReferenceGrants by namespace, of each namespace a certificateRef points into.
    pub grants: BTreeMap<String, Vec<ReferenceGrant>>,
}

/// Whether `grants` (those of namespace `grant_namespace`) allow a Gateway of `from_namespace` to
/// use Secret `secret`. Gateway API, ReferenceGrant: "All cross-namespace references in Gateway API
/// (with the exception of cross-namespace Gateway-route attachment) require a ReferenceGrant"; a
/// grant matches when one `from` entry is {group `gateway.networking.k8s.io`, kind `Gateway`,
/// namespace `from_namespace`} and one `to` entry is {group `""`, kind `Secret`, name absent or
/// `secret`}.
#[must_use]
pub fn grant_permits(grants: &[ReferenceGrant], from_namespace: &str, secret: &str) -> bool {
    grants.iter().any(|g| {
        let from = g
            .spec
            .from
            .iter()
            .any(|f| f.group == GROUP && f.kind == "Gateway" && f.namespace == from_namespace);
        let to = g.spec.to.iter().any(|t| {
            t.group.is_empty()
                && t.kind == "Secret"
                && t.name.as_deref().is_none_or(|n| n == secret)
        });
        from && to
    })
}

/// Whether a listener hostname (exact, `*.` wildcard, or absent) matches a host name a client
/// sends. Gateway API, Listener hostname: "`*.example.com` would match both `test.example.com`,
/// and `foo.test.example.com`, but not `example.com`".
#[must_use]
pub fn listener_matches(listener: Option<&str>, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match listener.map(str::to_ascii_lowercase) {
        None => true,
        Some(pattern) => match pattern.strip_prefix('*') {
            Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            None => pattern == host,
        },
    }
}

/// Whether `route` attaches to `listener` of `gateway` (in `namespace`): a parentRef naming the
/// Gateway, with no sectionName or the listener's, and no port or the listener's. Routes are read
/// from the Gateway's own namespace, which every `allowedRoutes.namespaces.from` admits.
fn attached(route: &Route, gateway: &str, namespace: &str, listener: &Listener) -> bool {
    let route_ns = route.metadata.namespace.as_deref().unwrap_or(namespace);
    route.spec.parent_refs.iter().any(|p| {
        p.group.as_deref().unwrap_or(GROUP) == GROUP
            && p.kind.as_deref().unwrap_or("Gateway") == "Gateway"
            && p.name == gateway
            && p.namespace.as_deref().unwrap_or(route_ns) == namespace
            && p.section_name.as_deref().is_none_or(|s| s == listener.name)
            && p.port.is_none_or(|port| port == listener.port)
    })
}

/// The names a client sends to `listener`: its hostname when exact, else the exact hostnames of
/// the attached `routes` that it matches (wildcard route hostnames name no client).
#[must_use]
pub fn listener_names(
    gateway: &str,
    namespace: &str,
    listener: &Listener,
    routes: &[Route],
) -> Vec<String> {
    let hostname = listener.hostname.as_deref().filter(|h| !h.is_empty());
    if let Some(h) = hostname
        && !h.starts_with('*')
    {
        return vec![h.to_ascii_lowercase()];
    }
    let names: BTreeSet<String> = routes
        .iter()
        .filter(|r| attached(r, gateway, namespace, listener))
        .flat_map(|r| r.spec.hostnames.iter())
        .filter(|h| !h.starts_with('*'))
        .filter(|h| listener_matches(hostname, h))
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    names.into_iter().collect()
}

fn is_terminating(listener: &Listener) -> bool {
    let mode = listener
        .tls
        .as_ref()
        .and_then(|t| t.mode.as_deref())
        .unwrap_or("Terminate");
    listener.protocol == "HTTPS" || (listener.protocol == "TLS" && mode == "Terminate")
}

fn is_passthrough(listener: &Listener) -> bool {
    listener.protocol == "TLS"
        && listener.tls.as_ref().and_then(|t| t.mode.as_deref()) == Some("Passthrough")
}

/// Where a Gateway is dialled: its first `IPAddress` status address, else why it is not.
fn gateway_address(gateway: &Gateway) -> Result<IpAddr, String> {
    let name = gateway.metadata.name_or_empty();
    let addresses = gateway
        .status
        .as_ref()
        .map(|s| s.addresses.as_slice())
        .unwrap_or_default();
    if let Some(ip) = addresses
        .iter()
        .filter(|a| a.type_.as_deref().unwrap_or("IPAddress") == "IPAddress")
        .find_map(|a| a.value.parse::<IpAddr>().ok())
    {
        return Ok(ip);
    }
    match addresses.first() {
        None => Err(format!(
            "Gateway {name} has no status.addresses yet (its gateway implementation has not \
             programmed it)"
        )),
        Some(a) => Err(format!(
            "Gateway {name} has no IPAddress status address (first: {} {}); the operator does not \
             resolve Hostname or NamedAddress addresses",
            a.type_.as_deref().unwrap_or("IPAddress"),
            a.value
        )),
    }
}

/// The frontend validation mode that applies to an HTTPS listener on `port`: the `perPort` entry
/// for the port, else the default. Gateway API, FrontendTLSConfig perPort: "Once set this
/// configuration overrides the default configuration for all Listeners handling HTTPS traffic
/// that match this port."
fn insecure_fallback(gateway: &Gateway, listener: &Listener) -> bool {
    if listener.protocol != "HTTPS" {
        return false;
    }
    let Some(frontend) = gateway.spec.tls.as_ref().and_then(|t| t.frontend.as_ref()) else {
        return false;
    };
    let config = frontend
        .per_port
        .iter()
        .find(|p| p.port == listener.port)
        .and_then(|p| p.tls.as_ref())
        .or(frontend.default.as_ref());
    config
        .and_then(|c| c.validation.as_ref())
        .and_then(|v| v.mode.as_deref())
        == Some("AllowInsecureFallback")
}

/// The Secrets of a listener's certificateRefs, split into usable and not permitted. References to
/// other kinds than core Secrets are implementation-specific and left out.
fn listener_secrets(
    namespace: &str,
    listener: &Listener,
    grants: &BTreeMap<String, Vec<ReferenceGrant>>,
) -> (Vec<SecretKey>, Vec<SecretKey>) {
    let mut usable = Vec::new();
    let mut refused = Vec::new();
    for r in listener
        .tls
        .iter()
        .flat_map(|t| t.certificate_refs.iter())
        .filter(|r| r.group.as_deref().unwrap_or_default().is_empty())
        .filter(|r| r.kind.as_deref().unwrap_or("Secret") == "Secret")
    {
        let key = SecretKey {
            namespace: r.namespace.clone().unwrap_or_else(|| namespace.to_owned()),
            name: r.name.clone(),
        };
        let own = key.namespace == namespace;
        let granted = || {
            grants
                .get(&key.namespace)
                .is_some_and(|g| grant_permits(g, namespace, &key.name))
        };
        if own || granted() {
            usable.push(key);
        } else {
            refused.push(key);
        }
    }
    (usable, refused)
}

/// The namespaces other than `namespace` that the certificateRefs of `gateways` point into: their
/// ReferenceGrants must be read.
#[must_use]
pub fn foreign_secret_namespaces(namespace: &str, gateways: &[Gateway]) -> BTreeSet<String> {
    gateways
        .iter()
        .flat_map(|g| g.spec.listeners.iter())
        .flat_map(|l| l.tls.iter().flat_map(|t| t.certificate_refs.iter()))
        .filter_map(|r| r.namespace.clone())
        .filter(|ns| ns != namespace)
        .collect()
}

/// The endpoints of the terminating listeners of the selected Gateways.
pub fn listener_targets(
    namespace: &str,
    wanted: &GatewayTargets,
    objects: &GatewayObjects,
) -> Result<Vec<PlannedEndpoint>, SelectorError> {
    let selector = selector("gateways", wanted.selector.as_ref())?;
    let mut gateways: Vec<&Gateway> = objects
        .gateways
        .iter()
        .filter(|g| selector.matches(g.metadata.labels.as_ref().unwrap_or(&BTreeMap::new())))
        .collect();
    gateways.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut planned = Vec::new();
    for gateway in gateways {
        let name = gateway.metadata.name_or_empty();
        let address = gateway_address(gateway);
        for listener in gateway.spec.listeners.iter().filter(|l| is_terminating(l)) {
            let Ok(port) = u16::try_from(listener.port) else {
                continue;
            };
            let routes = if listener.protocol == "HTTPS" {
                &objects.http_routes
            } else {
                &objects.tls_routes
            };
            let (secrets, not_permitted) = listener_secrets(namespace, listener, &objects.grants);
            let check = ListenerCheck {
                gateway: name.to_owned(),
                listener: listener.name.clone(),
                secrets,
                not_permitted,
                insecure_fallback: insecure_fallback(gateway, listener),
            };
            for host in listener_names(name, namespace, listener, routes) {
                planned.push(PlannedEndpoint {
                    origin: format!("gateway/{name}"),
                    dial: Target {
                        host: host.clone(),
                        port,
                        address: address.as_ref().ok().map(|ip| SocketAddr::new(*ip, port)),
                        server_name: Some(host),
                        protocol: Protocol::Tls,
                    },
                    replica_group: None,
                    ingress_secret: None,
                    not_probed: address.as_ref().err().cloned().map(NotProbed::NoAddress),
                    gateway: Some(Box::new(GatewayRole::Listener(check.clone()))),
                });
            }
        }
    }
    Ok(planned)
}

/// The endpoints of the Services `service` names on `ports` (every TCP port when empty), with
/// `server_name`, each ready EndpointSlice address dialled; `origin` replaces `service/NAME`.
fn backend_service(
    namespace: &str,
    service: &str,
    ports: Vec<IntOrString>,
    server_name: &str,
    origin: &str,
    services: &[Arc<Service>],
    slices: &[Arc<EndpointSlice>],
) -> Vec<PlannedEndpoint> {
    let Some(svc) = services.iter().find(|s| s.name_any() == service) else {
        return vec![PlannedEndpoint {
            origin: origin.to_owned(),
            dial: Target {
                host: super::targets::service_host(service, namespace),
                port: 443,
                address: None,
                server_name: Some(server_name.to_owned()),
                protocol: Protocol::Tls,
            },
            replica_group: None,
            ingress_secret: None,
            not_probed: Some(NotProbed::NoAddress(format!(
                "{origin} names Service {service}, which does not exist in namespace {namespace}"
            ))),
            gateway: None,
        }];
    };
    let ports = if ports.is_empty() {
        svc.spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .filter(|p| p.protocol.as_deref().is_none_or(|proto| proto == "TCP"))
            .map(|p| IntOrString::Int(p.port))
            .collect()
    } else {
        ports
    };
    let spec = TlsAuditSpec {
        services: Some(ServiceTargets {
            selector: None,
            ports,
            per_endpoint: true,
        }),
        server_name: Some(server_name.to_owned()),
        ..TlsAuditSpec::default()
    };
    // An empty selector selects the one Service handed in; it cannot fail.
    let mut planned =
        service_targets(namespace, &spec, std::slice::from_ref(svc), slices).unwrap_or_default();
    for p in &mut planned {
        origin.clone_into(&mut p.origin);
        if let Some(group) = &mut p.replica_group {
            *group = format!("{origin}:{group}");
        }
    }
    planned
}

/// The backend Services of the TLSRoutes attached to the selected Gateways' Passthrough listeners,
/// dialled directly with SNI = each exact route hostname (the name clients send through the
/// gateway).
pub fn passthrough_targets(
    namespace: &str,
    wanted: &GatewayTargets,
    objects: &GatewayObjects,
    services: &[Arc<Service>],
    slices: &[Arc<EndpointSlice>],
) -> Result<Vec<PlannedEndpoint>, SelectorError> {
    let selector = selector("gateways", wanted.selector.as_ref())?;
    let mut routes: BTreeMap<String, &Route> = BTreeMap::new();
    for gateway in objects
        .gateways
        .iter()
        .filter(|g| selector.matches(g.metadata.labels.as_ref().unwrap_or(&BTreeMap::new())))
    {
        let name = gateway.metadata.name_or_empty();
        for listener in gateway.spec.listeners.iter().filter(|l| is_passthrough(l)) {
            for route in objects
                .tls_routes
                .iter()
                .filter(|r| attached(r, name, namespace, listener))
            {
                routes.insert(route.metadata.name_or_empty().to_owned(), route);
            }
        }
    }
    let mut planned = Vec::new();
    for (name, route) in routes {
        let origin = format!("tlsroute/{name}");
        let hosts: BTreeSet<&str> = route
            .spec
            .hostnames
            .iter()
            .map(String::as_str)
            .filter(|h| !h.starts_with('*'))
            .collect();
        for backend in route
            .spec
            .rules
            .iter()
            .flat_map(|r| r.backend_refs.iter())
            .filter(|b| b.group.as_deref().unwrap_or_default().is_empty())
            .filter(|b| b.kind.as_deref().unwrap_or("Service") == "Service")
            .filter(|b| b.namespace.as_deref().is_none_or(|ns| ns == namespace))
        {
            let ports: Vec<IntOrString> = backend.port.map(IntOrString::Int).into_iter().collect();
            for host in &hosts {
                planned.extend(backend_service(
                    namespace,
                    &backend.name,
                    ports.clone(),
                    host,
                    &origin,
                    services,
                    slices,
                ));
            }
        }
    }
    Ok(planned)
}

fn backend_trust(policy: &BackendTlsPolicy) -> BackendTrust {
    let validation = &policy.spec.validation;
    let refs = &validation.ca_certificate_refs;
    if !refs.is_empty() {
        let mut names = Vec::new();
        for r in refs {
            let core = r.group.as_deref().unwrap_or_default().is_empty();
            if !core || r.kind.as_deref().unwrap_or("ConfigMap") != "ConfigMap" {
                return BackendTrust::Unsupported(format!(
                    "caCertificateRefs names {} {} (only core ConfigMaps are reproduced)",
                    r.kind.as_deref().unwrap_or("ConfigMap"),
                    r.name
                ));
            }
            names.push(r.name.clone());
        }
        return BackendTrust::ConfigMaps(names);
    }
    match validation.well_known_ca_certificates.as_deref() {
        Some("System") => BackendTrust::System,
        other => BackendTrust::Unsupported(format!(
            "wellKnownCACertificates {:?} is implementation-specific",
            other.unwrap_or_default()
        )),
    }
}

fn alt_names(names: &[SubjectAltName]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            let value = if n.type_ == "URI" {
                n.uri.clone()
            } else {
                n.hostname.clone()
            };
            (n.type_.clone(), value.unwrap_or_default())
        })
        .collect()
}

/// The backends of every BackendTLSPolicy of the namespace that targets a Service (port =
/// `sectionName`, else every TCP port), dialled at each ready EndpointSlice address as the
/// gateway does, with SNI = `validation.hostname`.
#[must_use]
pub fn backend_targets(
    namespace: &str,
    objects: &GatewayObjects,
    services: &[Arc<Service>],
    slices: &[Arc<EndpointSlice>],
) -> Vec<PlannedEndpoint> {
    let mut policies: Vec<&BackendTlsPolicy> = objects.policies.iter().collect();
    policies.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut planned = Vec::new();
    for policy in policies {
        let name = policy.metadata.name_or_empty();
        let validation = &policy.spec.validation;
        let check = BackendCheck {
            policy: name.to_owned(),
            hostname: validation.hostname.clone(),
            trust: backend_trust(policy),
            subject_alt_names: alt_names(&validation.subject_alt_names),
        };
        let origin = format!("backendtlspolicy/{name}");
        for target in policy
            .spec
            .target_refs
            .iter()
            .filter(|t| t.group.is_empty() && t.kind == "Service")
        {
            let ports = target
                .section_name
                .clone()
                .map(IntOrString::String)
                .into_iter()
                .collect();
            for mut p in backend_service(
                namespace,
                &target.name,
                ports,
                &validation.hostname,
                &origin,
                services,
                slices,
            ) {
                p.gateway = Some(Box::new(GatewayRole::Backend(check.clone())));
                planned.push(p);
            }
        }
    }
    planned
}

impl PlannedEndpoint {
    /// The Secrets this endpoint should serve, by namespace and name: an Ingress host's TLS Secret
    /// (in `audit_namespace`), or a Gateway listener's permitted certificateRefs.
    #[must_use]
    pub fn expected_secrets(&self, audit_namespace: &str) -> Vec<SecretKey> {
        let mut out: Vec<SecretKey> = self
            .ingress_secret
            .iter()
            .map(|name| SecretKey {
                namespace: audit_namespace.to_owned(),
                name: name.clone(),
            })
            .collect();
        if let Some(GatewayRole::Listener(check)) = self.gateway.as_deref() {
            out.extend(check.secrets.iter().cloned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::fixtures::{port, service, slice};

    fn gateway(value: serde_json::Value) -> Gateway {
        serde_json::from_value(value).unwrap()
    }

    fn route(name: &str, parent: &serde_json::Value, hostnames: &[&str]) -> Route {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"parentRefs": [parent], "hostnames": hostnames}
        }))
        .unwrap()
    }

    fn grant(from_ns: &str, to_name: Option<&str>) -> ReferenceGrant {
        let mut to = json!({"group": "", "kind": "Secret"});
        if let Some(n) = to_name {
            to["name"] = json!(n);
        }
        serde_json::from_value(json!({
            "metadata": {"name": "g", "namespace": "certs"},
            "spec": {
                "from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": from_ns}],
                "to": [to]
            }
        }))
        .unwrap()
    }

    fn web() -> Gateway {
        gateway(json!({
            "metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "edge"}},
            "spec": {"listeners": [
                {"name": "exact", "port": 443, "protocol": "HTTPS", "hostname": "shop.example.com",
                 "tls": {"certificateRefs": [{"name": "shop-tls"}]}},
                {"name": "wild", "port": 8443, "protocol": "HTTPS", "hostname": "*.example.com",
                 "tls": {"certificateRefs": [{"name": "wild-tls"}, {"name": "shared", "namespace": "certs"}]}},
                {"name": "any", "port": 9443, "protocol": "TLS",
                 "tls": {"mode": "Terminate", "certificateRefs": [{"name": "any-tls", "namespace": "other"}]}},
                {"name": "plain", "port": 80, "protocol": "HTTP"},
                {"name": "pass", "port": 6443, "protocol": "TLS", "tls": {"mode": "Passthrough"}}
            ]},
            "status": {"addresses": [
                {"type": "Hostname", "value": "lb.example.net"},
                {"value": "10.1.2.3"}
            ]}
        }))
    }

    fn sni(planned: &[PlannedEndpoint]) -> Vec<(u16, String)> {
        planned
            .iter()
            .map(|p| (p.dial.port, p.dial.server_name.clone().unwrap()))
            .collect()
    }

    fn listener(p: &PlannedEndpoint) -> &ListenerCheck {
        match p.gateway.as_deref() {
            Some(GatewayRole::Listener(c)) => c,
            other => panic!("not a listener: {other:?}"),
        }
    }

    #[test]
    fn terminating_listeners_are_dialled_at_the_ip_address_with_listener_or_route_names() {
        let objects = GatewayObjects {
            gateways: vec![web()],
            http_routes: vec![
                // Attached to the whole Gateway: its names under *.example.com count for `wild`.
                route(
                    "store",
                    &json!({"name": "web"}),
                    &[
                        "store.example.com",
                        "a.b.example.com",
                        "*.example.com",
                        "other.org",
                    ],
                ),
                // Attached to another listener by sectionName: ignored for `wild`.
                route(
                    "admin",
                    &json!({"name": "web", "sectionName": "exact"}),
                    &["admin.example.com"],
                ),
                // Attached to another Gateway.
                route("else", &json!({"name": "edge"}), &["else.example.com"]),
            ],
            tls_routes: vec![route(
                "db",
                &json!({"name": "web", "port": 9443}),
                &["db.internal"],
            )],
            ..GatewayObjects::default()
        };
        let planned = listener_targets("shop", &GatewayTargets::default(), &objects).unwrap();
        assert_eq!(
            sni(&planned),
            vec![
                (443, "shop.example.com".to_owned()),
                (8443, "a.b.example.com".to_owned()),
                (8443, "store.example.com".to_owned()),
                (9443, "db.internal".to_owned()),
            ]
        );
        assert!(planned.iter().all(|p| p.origin == "gateway/web"));
        assert_eq!(
            planned[1].dial.address,
            Some("10.1.2.3:8443".parse().unwrap())
        );
        assert!(planned.iter().all(|p| p.not_probed.is_none()));
        assert_eq!(
            listener(&planned[0]).secrets,
            vec![SecretKey {
                namespace: "shop".into(),
                name: "shop-tls".into()
            }]
        );
        // No ReferenceGrant read: both foreign Secrets are refused, not read.
        assert_eq!(listener(&planned[1]).secrets.len(), 1);
        assert_eq!(
            listener(&planned[1]).not_permitted[0].to_string(),
            "certs/shared"
        );
        assert_eq!(
            listener(&planned[3]).not_permitted[0].to_string(),
            "other/any-tls"
        );
        assert_eq!(
            planned[0].expected_secrets("shop"),
            listener(&planned[0]).secrets
        );
    }

    #[test]
    fn the_selector_picks_gateways_by_label() {
        let objects = GatewayObjects {
            gateways: vec![web()],
            ..GatewayObjects::default()
        };
        let other: GatewayTargets =
            serde_json::from_value(json!({"selector": {"matchLabels": {"tier": "internal"}}}))
                .unwrap();
        assert!(
            listener_targets("shop", &other, &objects)
                .unwrap()
                .is_empty()
        );
        let edge: GatewayTargets =
            serde_json::from_value(json!({"selector": {"matchLabels": {"tier": "edge"}}})).unwrap();
        assert_eq!(listener_targets("shop", &edge, &objects).unwrap().len(), 1);
    }

    #[test]
    fn a_gateway_with_only_a_hostname_address_is_reported_not_resolved() {
        let mut gw = web();
        gw.status.as_mut().unwrap().addresses.pop();
        let objects = GatewayObjects {
            gateways: vec![gw],
            ..GatewayObjects::default()
        };
        let planned = listener_targets("shop", &GatewayTargets::default(), &objects).unwrap();
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].dial.address, None);
        assert!(
            matches!(&planned[0].not_probed, Some(NotProbed::NoAddress(m))
                if m.contains("Hostname lb.example.net") && m.contains("does not resolve")),
            "{:?}",
            planned[0].not_probed
        );
    }

    #[test]
    fn a_reference_grant_allows_exactly_gateways_of_its_from_namespace_to_its_secrets() {
        assert!(grant_permits(&[grant("shop", None)], "shop", "shared"));
        assert!(grant_permits(
            &[grant("shop", Some("shared"))],
            "shop",
            "shared"
        ));
        assert!(!grant_permits(
            &[grant("shop", Some("other"))],
            "shop",
            "shared"
        ));
        assert!(!grant_permits(&[grant("bank", None)], "shop", "shared"));
        assert!(!grant_permits(&[], "shop", "shared"));
        // A grant to another kind, or from another kind of referrer, does not count.
        let mut to_cm = grant("shop", None);
        to_cm.spec.to[0].kind = "ConfigMap".into();
        assert!(!grant_permits(&[to_cm], "shop", "shared"));
        let mut from_route = grant("shop", None);
        from_route.spec.from[0].kind = "HTTPRoute".into();
        assert!(!grant_permits(&[from_route], "shop", "shared"));

        let objects = GatewayObjects {
            gateways: vec![web()],
            http_routes: vec![route(
                "store",
                &json!({"name": "web"}),
                &["store.example.com"],
            )],
            grants: [("certs".to_owned(), vec![grant("shop", Some("shared"))])].into(),
            ..GatewayObjects::default()
        };
        let planned = listener_targets("shop", &GatewayTargets::default(), &objects).unwrap();
        let wild = listener(&planned[1]);
        assert_eq!(
            wild.secrets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["shop/wild-tls", "certs/shared"]
        );
        assert!(wild.not_permitted.is_empty());
        assert_eq!(
            foreign_secret_namespaces("shop", &objects.gateways)
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["certs", "other"]
        );
    }

    #[test]
    fn wildcard_listener_hostnames_match_any_number_of_labels_but_not_the_apex() {
        assert!(listener_matches(Some("*.example.com"), "a.example.com"));
        assert!(listener_matches(Some("*.example.com"), "a.b.example.com"));
        assert!(!listener_matches(Some("*.example.com"), "example.com"));
        assert!(listener_matches(
            Some("Shop.Example.com"),
            "shop.example.com."
        ));
        assert!(listener_matches(None, "anything.org"));
    }

    #[test]
    fn insecure_fallback_follows_the_per_port_override_of_the_default() {
        let mut gw = web();
        gw.spec.tls = serde_json::from_value(json!({"frontend": {
            "default": {"validation": {"mode": "AllowInsecureFallback"}},
            "perPort": [{"port": 443, "tls": {"validation": {"mode": "AllowValidOnly"}}}]
        }}))
        .unwrap();
        let objects = GatewayObjects {
            gateways: vec![gw],
            http_routes: vec![route(
                "store",
                &json!({"name": "web"}),
                &["store.example.com"],
            )],
            tls_routes: vec![route("db", &json!({"name": "web"}), &["db.internal"])],
            ..GatewayObjects::default()
        };
        let planned = listener_targets("shop", &GatewayTargets::default(), &objects).unwrap();
        let fallback: Vec<(u16, bool)> = planned
            .iter()
            .map(|p| (p.dial.port, listener(p).insecure_fallback))
            .collect();
        // 443 overridden to AllowValidOnly; 8443 takes the default; the TLS listener is not HTTPS.
        assert_eq!(fallback, vec![(443, false), (8443, true), (9443, false)]);
    }

    #[test]
    fn passthrough_routes_probe_their_backend_services_with_the_route_hostnames() {
        let mut tls_route = route(
            "db",
            &json!({"name": "web", "sectionName": "pass"}),
            &["db.example.com", "*.db.example.com"],
        );
        tls_route.spec.rules =
            serde_json::from_value(json!([{"backendRefs": [{"name": "postgres", "port": 5443}]}]))
                .unwrap();
        let objects = GatewayObjects {
            gateways: vec![web()],
            tls_routes: vec![tls_route],
            ..GatewayObjects::default()
        };
        let services = [service("postgres", &[], vec![port(Some("tls"), 5443)])];
        let slices = [slice(
            "postgres",
            Some("tls"),
            5443,
            &[("10.0.0.5", Some(true)), ("10.0.0.6", Some(true))],
        )];
        let planned = passthrough_targets(
            "shop",
            &GatewayTargets::default(),
            &objects,
            &services,
            &slices,
        )
        .unwrap();
        let dialled: Vec<(String, String, String)> = planned
            .iter()
            .map(|p| {
                (
                    p.origin.clone(),
                    p.dial.address.unwrap().to_string(),
                    p.dial.server_name.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            dialled,
            vec![
                (
                    "tlsroute/db".into(),
                    "10.0.0.5:5443".into(),
                    "db.example.com".into()
                ),
                (
                    "tlsroute/db".into(),
                    "10.0.0.6:5443".into(),
                    "db.example.com".into()
                ),
            ]
        );
        assert_eq!(
            planned[0].replica_group.as_deref(),
            Some("tlsroute/db:service/postgres:tls")
        );
    }

    #[test]
    fn backend_tls_policies_dial_their_target_service_ports_with_the_policy_hostname() {
        let policy: BackendTlsPolicy = serde_json::from_value(json!({
            "metadata": {"name": "api-tls", "namespace": "shop"},
            "spec": {
                "targetRefs": [
                    {"group": "", "kind": "Service", "name": "api", "sectionName": "https"},
                    {"group": "", "kind": "Service", "name": "gone"}
                ],
                "validation": {"hostname": "api.internal", "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "api-ca"}]}
            }
        }))
        .unwrap();
        let objects = GatewayObjects {
            policies: vec![policy],
            ..GatewayObjects::default()
        };
        let services = [service(
            "api",
            &[],
            vec![port(Some("https"), 443), port(Some("metrics"), 9090)],
        )];
        let slices = [slice(
            "api",
            Some("https"),
            8443,
            &[("10.0.0.7", Some(true))],
        )];
        let planned = backend_targets("shop", &objects, &services, &slices);
        assert_eq!(planned.len(), 2);
        assert_eq!(planned[0].origin, "backendtlspolicy/api-tls");
        assert_eq!(
            planned[0].dial.address,
            Some("10.0.0.7:8443".parse().unwrap())
        );
        assert_eq!(planned[0].dial.server_name.as_deref(), Some("api.internal"));
        match planned[0].gateway.as_deref() {
            Some(GatewayRole::Backend(check)) => {
                assert_eq!(check.trust, BackendTrust::ConfigMaps(vec!["api-ca".into()]));
                assert_eq!(check.hostname, "api.internal");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&planned[1].not_probed, Some(NotProbed::NoAddress(m)) if m.contains("Service gone")),
            "{:?}",
            planned[1].not_probed
        );
    }

    #[test]
    fn backend_trust_is_system_or_config_maps_and_other_kinds_are_not_reproduced() {
        let trust = |validation: serde_json::Value| {
            backend_trust(
                &serde_json::from_value(json!({"spec": {"validation": validation}})).unwrap(),
            )
        };
        assert_eq!(
            trust(json!({"hostname": "a", "wellKnownCACertificates": "System"})),
            BackendTrust::System
        );
        assert!(matches!(
            trust(json!({"hostname": "a", "wellKnownCACertificates": "example.com/cas"})),
            BackendTrust::Unsupported(_)
        ));
        assert!(matches!(
            trust(json!({"hostname": "a", "caCertificateRefs": [{"group": "", "kind": "Secret", "name": "x"}]})),
            BackendTrust::Unsupported(m) if m.contains("Secret x")
        ));
    }
}
