//! The `TlsAudit` custom resource (`tlsaudit.dev/v1alpha1`): spec and status as Rust types, the
//! single source of truth of the CRD. Input: nothing. Output: the types the controller reads and
//! writes, and the CRD YAML that `tlsaudit crd` prints (crds/tlsaudit.yaml is that output).
//!
//! Validation lives in the schema so that `kubectl apply` rejects a bad spec: port ranges and enums
//! as OpenAPI, cross-field checks (interval ≥ 1m, critical ≤ warning thresholds, one CA source) as CEL.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::Protocol;
use crate::findings::Code;
use crate::grade::Grade;
use crate::policy::Profile;

mod gateways;
mod status;
pub use gateways::GatewayTargets;
pub use status::{
    AuditSummary, EndpointStatus, FindingStatus, LeafStatus, SeverityCounts, TlsAuditStatus,
};

/// API group of the resource.
pub const GROUP: &str = "tlsaudit.dev";
/// Field manager of the controller's server-side applies.
pub const FIELD_MANAGER: &str = "tlsaudit-controller";
/// Most explicit `endpoints` per audit: each costs a name lookup and a probe per reconcile, and the
/// status lists them; more than this belongs in several audits.
pub const MAX_EXPLICIT_ENDPOINTS: usize = 256;

/// Annotation whose change makes the controller audit at once (its value is free text, e.g. a
/// timestamp): `kubectl annotate tla NAME tlsaudit.dev/audit-now="$(date +%s)" --overwrite`.
pub const AUDIT_NOW_ANNOTATION: &str = "tlsaudit.dev/audit-now";

/// Audits the TLS endpoints of Services, Ingresses and explicit hosts in one namespace.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "tlsaudit.dev",
    version = "v1alpha1",
    kind = "TlsAudit",
    doc = "Audits the TLS endpoints of Services, Ingresses and explicit hosts in one namespace: \
           protocols, ciphers, certificates and chains, SNI, ALPN, OCSP and mTLS.",
    plural = "tlsaudits",
    singular = "tlsaudit",
    namespaced,
    shortname = "tla",
    category = "all",
    status = "TlsAuditStatus",
    derive = "PartialEq",
    derive = "Default",
    printcolumn = r#"{"name":"Endpoints","type":"integer","jsonPath":".status.summary.endpoints"}"#,
    printcolumn = r#"{"name":"Grade","type":"string","jsonPath":".status.summary.grade"}"#,
    printcolumn = r#"{"name":"Critical","type":"integer","jsonPath":".status.summary.findings.critical"}"#,
    printcolumn = r#"{"name":"Expiring","type":"integer","jsonPath":".status.summary.earliestExpiryDays",
                      "description":"Days until the earliest leaf certificate expires"}"#,
    printcolumn = r#"{"name":"Last Audit","type":"date","jsonPath":".status.lastAuditTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TlsAuditSpec {
    /// Services of this namespace to audit; omit to audit none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ServiceTargets>,
    /// Ingresses of this namespace: every spec.tls host is dialled at the ingress controller with
    /// SNI = host, and the TLS Secret's certificate is checked too. Omit to audit none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingresses: Option<IngressTargets>,
    /// Gateway API Gateways of this namespace (`gateway.networking.k8s.io/v1`): every HTTPS or TLS
    /// listener in Terminate mode is dialled at the Gateway's status addresses with SNI = the
    /// listener hostname (or the hostnames of its attached routes) and checked against its
    /// certificateRefs; TLSRoutes of Passthrough listeners and the namespace's BackendTLSPolicies
    /// too. Omit to audit none; without the Gateway API CRDs the audit says so in a condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateways: Option<GatewayTargets>,
    /// Explicit targets, e.g. a legacy device (at most 256). Addresses outside the operator's
    /// allowed networks (loopback, link-local, and by default anything that is not a private
    /// network) are refused, cloud metadata endpoints always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub endpoints: Vec<ExplicitEndpoint>,
    /// SNI and verification name for Services; default `<service>.<namespace>.svc`. A DNS name or
    /// an IP address, at most 253 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(
            pattern = r"^(\[?[0-9A-Fa-f:.]+\]?|[A-Za-z0-9_*]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)*)$"
        )
    )]
    pub server_name: Option<String>,
    /// Trust anchors the served chains are verified against.
    #[serde(default)]
    pub trust: Trust,
    /// Client certificate offered to servers that ask for one (mTLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<ClientCertificate>,
    /// How findings are judged.
    #[serde(default)]
    pub policy: AuditPolicy,
    /// Re-audit period (Go duration such as `30m` or `1h30m`, at least 1m, jittered); default the
    /// operator's `--default-interval` (1h). Changes to the audit or its targets trigger an audit at
    /// once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"),
        length(max = 64),
        extend("x-kubernetes-validations" = [{
            "rule": "duration(self) >= duration('1m')",
            "message": "interval must be at least 1m"
        }])
    )]
    pub interval: Option<String>,
    /// Stop auditing (the last status stays).
    #[serde(default)]
    pub suspend: bool,
    /// The apiserver's own TLS clients: the Services behind admission webhooks, aggregated APIs
    /// and CRD conversion webhooks, probed as the apiserver dials them and checked against their
    /// caBundle. Cluster-scoped, so honoured only for audits in the operator's own namespace when
    /// the operator runs with `--cluster-audits on` (chart `clusterAudits.enabled`); elsewhere
    /// Ready=False with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterTargets>,
}

/// Which cluster-scoped client configurations of the apiserver to audit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterTargets {
    /// Every `clientConfig.service` of the ValidatingWebhookConfigurations and
    /// MutatingWebhookConfigurations.
    #[serde(default)]
    pub webhooks: bool,
    /// Every APIService with a `spec.service` (aggregated APIs such as metrics-server).
    #[serde(default)]
    pub api_services: bool,
    /// Every CustomResourceDefinition with `spec.conversion.strategy: Webhook`.
    #[serde(default)]
    pub conversion_webhooks: bool,
}

impl ClusterTargets {
    /// Whether anything is asked for.
    #[must_use]
    pub fn any(&self) -> bool {
        self.webhooks || self.api_services || self.conversion_webhooks
    }
}

/// Which Services to audit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTargets {
    /// Label selector; empty or absent selects every Service of the namespace (at most 64 labels
    /// and 32 expressions of at most 64 values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Ports by name or number. Default: ports that look like TLS (appProtocol https or tls, name
    /// https, tls, *-tls or *-https, port 443 or 8443) or PostgreSQL (appProtocol postgresql or
    /// postgres, name postgres, postgresql, *-postgres or *-postgresql; probed after an SSLRequest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-validations" = [{
        "rule": "self.all(p, type(p) == int ? (p >= 1 && p <= 65535) : (size(p) > 0 && size(p) <= 15))",
        "message": "ports must be port names or numbers from 1 to 65535"
    }]))]
    pub ports: Vec<IntOrString>,
    /// Probe every ready address of the Service's EndpointSlices instead of the ClusterIP (finds
    /// replicas that serve different certificates).
    #[serde(default)]
    pub per_endpoint: bool,
}

/// Which Ingresses to audit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressTargets {
    /// Label selector; empty or absent selects every Ingress of the namespace (bounded as the
    /// Service selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Dial the ingress controller through this Service (its ready EndpointSlice addresses, else
    /// its ClusterIP) instead of the Ingress's status.loadBalancer address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_service: Option<ControllerService>,
}

/// The Service in front of an ingress controller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControllerService {
    /// Service name.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// Service namespace; default the audit's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: Option<String>,
    /// Service port (name or number) that serves HTTPS; default 443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "type(self) == int ? (self >= 1 && self <= 65535) : (size(self) > 0 && size(self) <= 15)",
        "message": "port must be a port name or a number from 1 to 65535"
    }]))]
    pub port: Option<IntOrString>,
}

/// One explicit target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExplicitEndpoint {
    /// Host name or IP address (IPv6 with or without brackets), at most 253 characters.
    #[schemars(
        length(min = 1, max = 253),
        regex(
            pattern = r"^(\[?[0-9A-Fa-f:.]+\]?|[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)*)$"
        )
    )]
    pub host: String,
    /// TCP port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// SNI and verification name; default `host`. A DNS name or an IP address, at most 253
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(
            pattern = r"^(\[?[0-9A-Fa-f:.]+\]?|[A-Za-z0-9_*]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)*)$"
        )
    )]
    pub server_name: Option<String>,
    /// What the client sends before its ClientHello: `tls` (nothing, the default) or `postgres`
    /// (PostgreSQL's SSLRequest; TLS starts when the server answers `S`).
    #[serde(default, skip_serializing_if = "Protocol::is_tls")]
    pub protocol: Protocol,
    /// The cert-manager Certificate (`cert-manager.io/v1`, this namespace) whose Secret this
    /// endpoint should serve: its readiness, renewal and DNS names are checked, and a served
    /// certificate older than its Secret's is a stale reload. Services use the annotation
    /// `tlsaudit.dev/certificate: NAME` instead; Ingress hosts are linked by their Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub certificate: Option<String>,
}

/// Trust anchors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trust {
    /// PEM CA certificates from a Secret or ConfigMap of this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundle>,
    /// Trust the built-in web PKI roots (Mozilla's list).
    #[serde(default = "yes")]
    pub system_roots: bool,
    /// Trust the cluster CA (ConfigMap kube-root-ca.crt of this namespace, when present).
    #[serde(default = "yes", rename = "clusterCA")]
    pub cluster_ca: bool,
}

impl Default for Trust {
    fn default() -> Self {
        Self {
            ca_bundle: None,
            system_roots: true,
            cluster_ca: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// Where a CA bundle is read from: exactly one of `secretRef` and `configMapRef`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.secretRef) != has(self.configMapRef)",
    "message": "caBundle needs exactly one of secretRef or configMapRef"
}]))]
pub struct CaBundle {
    /// A Secret key holding PEM certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<KeyRef>,
    /// A ConfigMap key holding PEM certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<KeyRef>,
}

/// A key of a Secret or ConfigMap in the audit's namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    /// Object name (a DNS-1123 subdomain).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// Key in the object's data (alphanumerics, `-`, `_`, `.`).
    #[serde(default = "default_ca_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
    /// Must be empty or the audit's own namespace: the operator never reads another namespace's
    /// Secrets for an audit (a reference elsewhere is refused with a status condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
}

fn default_ca_key() -> String {
    "ca.crt".to_owned()
}

/// The client certificate for mTLS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientCertificate {
    /// A kubernetes.io/tls Secret (tls.crt chain, tls.key) in the audit's namespace.
    pub secret_ref: SecretRef,
}

/// A Secret in the audit's namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Secret name (a DNS-1123 subdomain).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// Must be empty or the audit's own namespace (see `KeyRef.namespace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
}

/// How findings are judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPolicy {
    /// Mozilla server-side TLS profile the endpoints are expected to meet (guidelines 6.0):
    /// `modern` (TLS 1.3 only; a TLS 1.3-only endpoint is then not reported for lacking TLS 1.2)
    /// or `intermediate` (TLS 1.2 and 1.3 with ECDHE AEAD suites). `old` is deprecated: Mozilla 6.0
    /// dropped it as not recommended; it is still accepted and judged by guidelines 5.8.
    #[serde(default)]
    pub profile: Profile,
    /// Certificate expiry thresholds: each is the smaller of a day count and a share of the
    /// certificate's lifetime, so short-lived certificates renewed on schedule raise nothing.
    #[serde(default)]
    pub expiry: Expiry,
    /// Longest leaf validity in days accepted from CAs outside the web PKI (private and cluster
    /// CAs): a longer leaf gets `cert.long_validity`. Unset: no limit. Leaves whose chain reaches a
    /// web PKI root are judged by the CA/Browser Forum Baseline Requirements instead (§6.3.2, ballot
    /// SC-081: 398 days before 2026-03-15, 200 from then, 100 from 2027-03-15, 47 from 2029-03-15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub max_validity_days: Option<u32>,
    /// An endpoint complies when its grade is at least this and it has no critical finding.
    #[serde(default = "default_minimum_grade")]
    pub minimum_grade: Grade,
    /// Finding codes to silence (docs/findings.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub ignore: Vec<Code>,
    /// The endpoints are meant for mTLS: `mtls.optional` (a client certificate requested but
    /// not required) becomes high, and `mtls.not_requested` reports a server that never asks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_client_certificate: bool,
}

impl Default for AuditPolicy {
    fn default() -> Self {
        Self {
            profile: Profile::default(),
            expiry: Expiry::default(),
            max_validity_days: None,
            minimum_grade: default_minimum_grade(),
            ignore: Vec::new(),
            require_client_certificate: false,
        }
    }
}

fn default_minimum_grade() -> Grade {
    Grade::B
}

/// Expiry thresholds. Each one is the smaller of a number of days before notAfter and a share of
/// the certificate's lifetime (notBefore to notAfter), so that short-lived certificates renewed on
/// schedule (cert-manager renews at two thirds of the lifetime by default) raise nothing, while
/// 90-day and longer certificates follow the day counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.criticalDays <= self.warningDays",
    "message": "criticalDays must not exceed warningDays"
}, {
    "rule": "self.criticalLifetimePercent <= self.warningLifetimePercent",
    "message": "criticalLifetimePercent must not exceed warningLifetimePercent"
}]))]
pub struct Expiry {
    /// `cert.expiring_soon` (medium) within this many days, when that is sooner than
    /// `warningLifetimePercent` of the lifetime.
    #[serde(default = "default_warning_days")]
    #[schemars(range(max = 3650))]
    pub warning_days: u32,
    /// `cert.expiring_soon` becomes high within this many days, when that is sooner than
    /// `criticalLifetimePercent` of the lifetime.
    #[serde(default = "default_critical_days")]
    #[schemars(range(max = 3650))]
    pub critical_days: u32,
    /// `cert.expiring_soon` (medium) only when less than this percentage of the lifetime is left.
    /// 33 (a third) is what remains when cert-manager renews; 100 means the day count alone decides.
    #[serde(default = "default_warning_lifetime_percent")]
    #[schemars(range(min = 1, max = 100))]
    pub warning_lifetime_percent: u32,
    /// `cert.expiring_soon` becomes high only when less than this percentage of the lifetime is
    /// left (17: about a sixth).
    #[serde(default = "default_critical_lifetime_percent")]
    #[schemars(range(min = 1, max = 100))]
    pub critical_lifetime_percent: u32,
}

impl Default for Expiry {
    fn default() -> Self {
        Self {
            warning_days: default_warning_days(),
            critical_days: default_critical_days(),
            warning_lifetime_percent: default_warning_lifetime_percent(),
            critical_lifetime_percent: default_critical_lifetime_percent(),
        }
    }
}

fn default_warning_days() -> u32 {
    crate::policy::DEFAULT_WARNING_DAYS
}

fn default_critical_days() -> u32 {
    crate::policy::DEFAULT_CRITICAL_DAYS
}

fn default_warning_lifetime_percent() -> u32 {
    crate::policy::DEFAULT_WARNING_LIFETIME_PERCENT
}

fn default_critical_lifetime_percent() -> u32 {
    crate::policy::DEFAULT_CRITICAL_LIFETIME_PERCENT
}

impl AuditPolicy {
    /// The engine's policy for this spec.
    #[must_use]
    pub fn engine_policy(&self) -> crate::policy::Policy {
        crate::policy::Policy {
            warning_days: self.expiry.warning_days,
            critical_days: self.expiry.critical_days,
            warning_lifetime_percent: self.expiry.warning_lifetime_percent,
            critical_lifetime_percent: self.expiry.critical_lifetime_percent,
            max_validity_days: self.max_validity_days,
            profile: self.profile,
            ignore: self.ignore.clone(),
            require_client_certificate: self.require_client_certificate,
        }
    }
}

/// The CRD, with the schema formats the apiserver does not know (`uint16`, `uint32`, from Rust's
/// unsigned types) removed (their ranges are already in `minimum`/`maximum`), and bounds on the
/// label selectors, whose schema comes from k8s-openapi without any.
pub fn crd() -> Result<CustomResourceDefinition, serde_json::Error> {
    use kube::CustomResourceExt;
    let mut value = serde_json::to_value(TlsAudit::crd())?;
    strip_unknown_formats(&mut value);
    if let Some(versions) = value
        .pointer_mut("/spec/versions")
        .and_then(serde_json::Value::as_array_mut)
    {
        for version in versions {
            for kind in ["services", "ingresses", "gateways"] {
                let path = format!(
                    "/schema/openAPIV3Schema/properties/spec/properties/{kind}/properties/selector"
                );
                if let Some(selector) = version.pointer_mut(&path) {
                    bound_selector(selector);
                }
            }
        }
    }
    serde_json::from_value(value)
}

/// Caps a LabelSelector schema: 64 labels, 32 expressions of at most 64 values, Kubernetes' label
/// lengths (keys 317 = 253-character prefix, `/`, 63-character name; values 63), the four
/// operators, and `Exists`/`DoesNotExist` without values. Label key syntax is checked by the
/// controller (a bad key makes Ready=False).
fn bound_selector(selector: &mut serde_json::Value) {
    use serde_json::json;
    let set = |v: &mut serde_json::Value, pointer: &str, key: &str, bound: serde_json::Value| {
        if let Some(serde_json::Value::Object(map)) = v.pointer_mut(pointer) {
            map.insert(key.to_owned(), bound);
        }
    };
    set(
        selector,
        "/properties/matchLabels",
        "maxProperties",
        json!(64),
    );
    set(
        selector,
        "/properties/matchLabels/additionalProperties",
        "maxLength",
        json!(63),
    );
    set(
        selector,
        "/properties/matchExpressions",
        "maxItems",
        json!(32),
    );
    let item = "/properties/matchExpressions/items";
    set(
        selector,
        &format!("{item}/properties/key"),
        "maxLength",
        json!(317),
    );
    set(
        selector,
        &format!("{item}/properties/operator"),
        "enum",
        json!(["In", "NotIn", "Exists", "DoesNotExist"]),
    );
    set(
        selector,
        &format!("{item}/properties/values"),
        "maxItems",
        json!(64),
    );
    set(
        selector,
        &format!("{item}/properties/values/items"),
        "maxLength",
        json!(63),
    );
    set(
        selector,
        item,
        "x-kubernetes-validations",
        json!([{
            "rule": "self.operator in ['Exists', 'DoesNotExist'] ? (!has(self.values) || size(self.values) == 0) : (has(self.values) && size(self.values) > 0)",
            "message": "Exists and DoesNotExist take no values; In and NotIn need at least one"
        }]),
    );
}

fn strip_unknown_formats(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map
                .get("format")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|f| f.starts_with("uint"))
            {
                map.remove("format");
            }
            map.values_mut().for_each(strip_unknown_formats);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_unknown_formats),
        _ => {}
    }
}

/// Why the CRD could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// JSON round trip of the generated CRD.
    #[error("failed to render the CRD as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// YAML rendering.
    #[error("failed to render the CRD as YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
}

/// The CRD as YAML, as `tlsaudit crd` prints it and crds/tlsaudit.yaml holds it.
pub fn crd_yaml() -> Result<String, CrdError> {
    let body = serde_yaml::to_string(&crd()?)?;
    Ok(format!(
        "# Generated by `tlsaudit crd` from src/crd.rs; do not edit.\n---\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_spec_gets_the_documented_defaults() {
        let spec: TlsAuditSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(spec.interval, None);
        assert!(spec.trust.system_roots && spec.trust.cluster_ca);
        assert_eq!(
            spec.policy.expiry,
            Expiry {
                warning_days: 28,
                critical_days: 14,
                warning_lifetime_percent: 33,
                critical_lifetime_percent: 17,
            }
        );
        assert_eq!(spec.policy.max_validity_days, None);
        assert_eq!(spec.policy.minimum_grade, Grade::B);
        assert_eq!(spec.policy.profile, Profile::Intermediate);
    }

    #[test]
    fn service_ports_accept_names_and_numbers() {
        let targets: ServiceTargets =
            serde_json::from_str(r#"{"ports": ["https", 8443], "perEndpoint": true}"#).unwrap();
        assert_eq!(
            targets.ports,
            vec![IntOrString::String("https".into()), IntOrString::Int(8443)]
        );
        assert!(targets.per_endpoint);
    }

    #[test]
    fn crd_schema_carries_the_cel_rules_and_the_condition_list_map() {
        let yaml = crd_yaml().unwrap();
        for needle in [
            "duration(self) >= duration('1m')",
            "self.criticalDays <= self.warningDays",
            "self.criticalLifetimePercent <= self.warningLifetimePercent",
            "has(self.secretRef) != has(self.configMapRef)",
            "x-kubernetes-list-type: map",
            "cert.expired",
            "shortNames:\n    - tla",
        ] {
            assert!(yaml.contains(needle), "CRD lacks {needle:?}:\n{yaml}");
        }
    }
}
