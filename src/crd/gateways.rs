//! The `spec.gateways` part of the `TlsAudit` spec: which Gateway API objects an audit covers.
//! Input: nothing. Output: the type the CRD schema is generated from.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which Gateways (and Gateway API policies) to audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayTargets {
    /// Label selector; empty or absent selects every Gateway of the namespace (bounded as the
    /// Service selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Also audit every BackendTLSPolicy of this namespace: each target Service is probed with
    /// SNI = the policy's `validation.hostname` and trust = its CA ConfigMaps (or the web PKI for
    /// `wellKnownCACertificates: System`), as the gateway will connect to it. Default true.
    #[serde(default = "yes", rename = "backendTLSPolicies")]
    pub backend_tls_policies: bool,
}

impl Default for GatewayTargets {
    fn default() -> Self {
        Self {
            selector: None,
            backend_tls_policies: true,
        }
    }
}

fn yes() -> bool {
    true
}
