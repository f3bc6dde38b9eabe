//! The Gateway API objects the operator reads (`gateway.networking.k8s.io`), as small serde
//! structs holding only the fields it uses. Input: the JSON of a listed object. Output: typed
//! objects for planning. Field names and defaults follow the Gateway API v1.7.0 standard-channel
//! CRDs (`config/crd/standard/gateway.networking.k8s.io_*.yaml`); every field is optional here so
//! that an object of an older or newer release still parses.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

/// The API group.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// A Gateway (`gateway.networking.k8s.io/v1`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Gateway {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: GatewaySpec,
    /// Status.
    pub status: Option<GatewayStatus>,
}

/// `Gateway.spec` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewaySpec {
    /// Listeners.
    pub listeners: Vec<Listener>,
    /// Gateway-wide TLS settings (frontend client-certificate validation).
    pub tls: Option<GatewayTls>,
}

/// One listener.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Listener {
    /// Name, unique in the Gateway.
    pub name: String,
    /// Hostname (exact or `*.` wildcard); absent matches every hostname.
    pub hostname: Option<String>,
    /// Port.
    pub port: i32,
    /// Protocol: HTTP, HTTPS, TLS, TCP, UDP or implementation-specific.
    pub protocol: String,
    /// TLS settings.
    pub tls: Option<ListenerTls>,
    /// Which routes may attach.
    pub allowed_routes: Option<AllowedRoutes>,
}

/// `listener.tls`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListenerTls {
    /// `Terminate` (default) or `Passthrough`.
    pub mode: Option<String>,
    /// The certificates (Secrets) the listener serves.
    pub certificate_refs: Vec<ObjectRef>,
}

/// A reference with optional group, kind and namespace (certificateRefs, CA refs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ObjectRef {
    /// API group; `""` (core) by default.
    pub group: Option<String>,
    /// Kind; `Secret` (certificateRefs) or `ConfigMap` (CA refs) by default.
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Namespace; the referrer's by default.
    pub namespace: Option<String>,
}

/// `listener.allowedRoutes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AllowedRoutes {
    /// Namespaces routes may attach from.
    pub namespaces: Option<RouteNamespaces>,
}

/// `allowedRoutes.namespaces`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RouteNamespaces {
    /// `Same` (default), `All` or `Selector`.
    pub from: Option<String>,
}

/// `Gateway.spec.tls`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GatewayTls {
    /// Client-facing TLS.
    pub frontend: Option<FrontendTls>,
}

/// `spec.tls.frontend`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FrontendTls {
    /// The default for every HTTPS listener.
    pub default: Option<FrontendTlsConfig>,
    /// Per-port overrides.
    pub per_port: Vec<PerPortTls>,
}

/// `frontend.perPort[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PerPortTls {
    /// Port the override applies to.
    pub port: i32,
    /// Its TLS configuration.
    pub tls: Option<FrontendTlsConfig>,
}

/// A frontend TLS configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FrontendTlsConfig {
    /// Client-certificate validation.
    pub validation: Option<FrontendValidation>,
}

/// `validation` of a frontend TLS configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FrontendValidation {
    /// `AllowValidOnly` (default) or `AllowInsecureFallback`.
    pub mode: Option<String>,
}

/// `Gateway.status` (the addresses).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GatewayStatus {
    /// Addresses bound to the Gateway.
    pub addresses: Vec<GatewayAddress>,
}

/// One `status.addresses[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GatewayAddress {
    /// `IPAddress` (default), `Hostname`, `NamedAddress` or implementation-specific.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The address.
    pub value: String,
}

/// An HTTPRoute or a TLSRoute (the fields both share that the operator uses).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Route {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: RouteSpec,
}

/// A route's spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RouteSpec {
    /// The Gateways (and listeners) the route attaches to.
    pub parent_refs: Vec<ParentRef>,
    /// Hostnames (exact or `*.` wildcards).
    pub hostnames: Vec<String>,
    /// Rules (their backends).
    pub rules: Vec<RouteRule>,
}

/// `parentRefs[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ParentRef {
    /// Group; `gateway.networking.k8s.io` by default.
    pub group: Option<String>,
    /// Kind; `Gateway` by default.
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Namespace; the route's by default.
    pub namespace: Option<String>,
    /// Listener name.
    pub section_name: Option<String>,
    /// Listener port.
    pub port: Option<i32>,
}

/// `rules[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RouteRule {
    /// Backends.
    pub backend_refs: Vec<BackendRef>,
}

/// `backendRefs[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BackendRef {
    /// Group; `""` (core) by default.
    pub group: Option<String>,
    /// Kind; `Service` by default.
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Namespace; the route's by default.
    pub namespace: Option<String>,
    /// Service port.
    pub port: Option<i32>,
}

/// A ReferenceGrant (`v1`, or `v1beta1` on releases before v1.5).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReferenceGrant {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: ReferenceGrantSpec,
}

/// `ReferenceGrant.spec`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReferenceGrantSpec {
    /// Who may refer.
    pub from: Vec<GrantFrom>,
    /// To what.
    pub to: Vec<GrantTo>,
}

/// `spec.from[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GrantFrom {
    /// Group of the referrer.
    pub group: String,
    /// Kind of the referrer.
    pub kind: String,
    /// Namespace of the referrer.
    pub namespace: String,
}

/// `spec.to[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GrantTo {
    /// Group of the referent (`""`: core).
    pub group: String,
    /// Kind of the referent.
    pub kind: String,
    /// Name; absent allows every object of the kind.
    pub name: Option<String>,
}

/// A BackendTLSPolicy (`gateway.networking.k8s.io/v1`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BackendTlsPolicy {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: BackendTlsPolicySpec,
}

/// `BackendTLSPolicy.spec`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BackendTlsPolicySpec {
    /// What the policy applies to.
    pub target_refs: Vec<PolicyTargetRef>,
    /// How the gateway validates the backend's certificate.
    pub validation: BackendValidation,
}

/// `targetRefs[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PolicyTargetRef {
    /// Group (`""` for a Service).
    pub group: String,
    /// Kind (`Service`).
    pub kind: String,
    /// Name.
    pub name: String,
    /// For a Service: the port name.
    pub section_name: Option<String>,
}

/// `spec.validation`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BackendValidation {
    /// CA bundles (ConfigMaps with key `ca.crt`).
    pub ca_certificate_refs: Vec<ObjectRef>,
    /// `System` for the web PKI roots.
    #[serde(rename = "wellKnownCACertificates")]
    pub well_known_ca_certificates: Option<String>,
    /// SNI, and the name verified unless subjectAltNames are given.
    pub hostname: String,
    /// Names one of which the certificate must carry (replaces the hostname check).
    pub subject_alt_names: Vec<SubjectAltName>,
}

/// `validation.subjectAltNames[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SubjectAltName {
    /// `Hostname` or `URI`.
    #[serde(rename = "type")]
    pub type_: String,
    /// For `Hostname`.
    pub hostname: Option<String>,
    /// For `URI`.
    pub uri: Option<String>,
}

impl ObjectMetaExt for ObjectMeta {
    fn name_or_empty(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

/// Short accessors on metadata.
pub trait ObjectMetaExt {
    /// The name, or `""`.
    fn name_or_empty(&self) -> &str;
}
