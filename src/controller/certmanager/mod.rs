//! cert-manager `Certificate`s (`cert-manager.io/v1`), an optional kind. Input: nothing here but
//! types. Output: the small serde model of the fields tlsaudit reads, the [`Presence`] of the kind
//! in the cluster, and [`Certificates`], the handle a reconcile reads (informer cache + presence).
//!
//! The model is tlsaudit's own: a few fields of the cert-manager v1.21.2 CRD
//! (`deploy/crds/cert-manager.io_certificates.yaml`): `spec.secretName` (required), `spec.dnsNames`,
//! `spec.ipAddresses`, `spec.commonName`; `status.conditions` (`Ready`, `Issuing`),
//! `status.notBefore`, `status.notAfter`, `status.renewalTime`, `status.revision`,
//! `status.failedIssuanceAttempts`, `status.lastFailureTime`. Unknown fields are ignored, so newer
//! cert-manager versions keep working; no cert-manager crate is needed.
//!
//! `discovery` finds out whether the kind is served, watches it once it is, and turns Certificate
//! changes into audit triggers.

pub mod discovery;

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::Store;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The API group of cert-manager's Certificate.
pub const GROUP: &str = "cert-manager.io";
/// The served version tlsaudit reads.
pub const VERSION: &str = "v1";

/// Service annotation that links a Service's audited ports to a Certificate of its namespace:
/// `tlsaudit.dev/certificate: NAME`.
pub const CERTIFICATE_ANNOTATION: &str = "tlsaudit.dev/certificate";

/// A cert-manager Certificate: the fields tlsaudit reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Object metadata.
    pub metadata: ObjectMeta,
    /// What was requested.
    #[serde(default)]
    pub spec: CertificateSpec,
    /// What cert-manager reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateStatus>,
}

/// `spec` of a Certificate (the fields tlsaudit reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// The Secret cert-manager writes the certificate to, in the Certificate's namespace.
    #[serde(default)]
    pub secret_name: String,
    /// Requested DNS subject alternative names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// Requested IP address subject alternative names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// Requested common name (clients ignore it when any SAN is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
}

/// `status` of a Certificate (the fields tlsaudit reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// `Ready` and `Issuing`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CertificateCondition>,
    /// Validity start of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<jiff::Timestamp>,
    /// Expiry of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<jiff::Timestamp>,
    /// When cert-manager will next renew; unset: no renewal scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<jiff::Timestamp>,
    /// The issued revision (1 for the first issuance, +1 per renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// Consecutive failed issuance attempts (removed on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i64>,
    /// Time of the last failed issuance (removed on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<jiff::Timestamp>,
}

/// One status condition of a Certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateCondition {
    /// `Ready` or `Issuing`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<jiff::Timestamp>,
}

impl Certificate {
    /// The condition of type `type_`, if cert-manager set one.
    #[must_use]
    pub fn condition(&self, type_: &str) -> Option<&CertificateCondition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
    }
}

impl kube::Resource for Certificate {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind((): &()) -> Cow<'_, str> {
        "Certificate".into()
    }

    fn group((): &()) -> Cow<'_, str> {
        GROUP.into()
    }

    fn version((): &()) -> Cow<'_, str> {
        VERSION.into()
    }

    fn plural((): &()) -> Cow<'_, str> {
        "certificates".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Whether the cluster serves cert-manager Certificates to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Not looked yet (the first look runs at start).
    Unknown,
    /// The last look failed (the apiserver did not answer it); looking again.
    Unavailable,
    /// `cert-manager.io/v1` Certificates are not served (cert-manager is not installed).
    Absent,
    /// Served, but the operator may not list them (its RBAC lacks the rule).
    Forbidden,
    /// Served and listable: the cache holds them.
    Served,
}

impl Presence {
    /// The condition reason of an audit that names a Certificate while the kind is unusable.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unknown | Self::Unavailable | Self::Served => "CertificatesUnavailable",
            Self::Absent => "CertManagerNotInstalled",
            Self::Forbidden => "CertificatesForbidden",
        }
    }

    /// Why the kind cannot be used, for messages.
    #[must_use]
    pub fn explain(self) -> &'static str {
        match self {
            Self::Unknown | Self::Unavailable | Self::Served => {
                "the operator could not yet read the cluster's cert-manager Certificates (it keeps \
                 trying)"
            }
            Self::Absent => {
                "the cluster does not serve cert-manager.io/v1 Certificates (cert-manager is not \
                 installed); the operator links them as soon as the kind appears"
            }
            Self::Forbidden => {
                "the operator may not list cert-manager.io Certificates (chart rbac.certManager: \
                 false, or a ClusterRole without the rule)"
            }
        }
    }
}

/// What a reconcile reads about Certificates: the informer cache and whether it can be trusted.
#[derive(Clone)]
pub struct Certificates {
    /// The Certificates of the watched namespaces (empty while the kind is not served).
    pub store: Store<Certificate>,
    /// Whether the kind is served; the cache holds them only when [`Presence::Served`].
    pub presence: watch::Receiver<Presence>,
}

impl Certificates {
    /// A handle over `store` whose presence says [`Presence::Absent`] forever (tests, and a
    /// controller that does not look).
    #[must_use]
    pub fn absent(store: Store<Certificate>) -> Self {
        let (_, presence) = watch::channel(Presence::Absent);
        Self { store, presence }
    }

    /// The presence once the first look is done (waiting at most `wait` for it).
    pub async fn settled(&self, wait: std::time::Duration) -> Presence {
        let mut presence = self.presence.clone();
        let seen = tokio::time::timeout(wait, presence.wait_for(|p| *p != Presence::Unknown)).await;
        match seen {
            Ok(Ok(p)) => *p,
            // The discovery loop is gone (controller stopping) or slow: use what is known.
            _ => *self.presence.borrow(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_as_cert_manager_writes_it_parses_and_unknown_fields_are_ignored() {
        let cert: Certificate = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "secretName": "web-tls",
                "dnsNames": ["web.shop.svc"],
                "issuerRef": {"name": "ca", "kind": "Issuer"},
                "privateKey": {"algorithm": "ECDSA"}
            },
            "status": {
                "conditions": [{"type": "Ready", "status": "False", "reason": "Pending",
                                "message": "Issuing certificate as Secret does not exist",
                                "lastTransitionTime": "2026-11-30T10:00:00Z", "observedGeneration": 1}],
                "notAfter": "2027-02-28T10:00:00Z",
                "renewalTime": "2027-01-29T10:00:00Z",
                "revision": 3,
                "failedIssuanceAttempts": 2
            }
        }))
        .unwrap();
        assert_eq!(cert.spec.secret_name, "web-tls");
        assert_eq!(cert.spec.dns_names, vec!["web.shop.svc"]);
        let ready = cert.condition("Ready").unwrap();
        assert_eq!(ready.reason.as_deref(), Some("Pending"));
        let status = cert.status.as_ref().unwrap();
        assert_eq!(status.revision, Some(3));
        assert_eq!(
            status.renewal_time,
            Some("2027-01-29T10:00:00Z".parse().unwrap())
        );
        assert_eq!(
            <Certificate as kube::Resource>::url_path(&(), Some("shop")),
            "/apis/cert-manager.io/v1/namespaces/shop/certificates"
        );
    }
}
