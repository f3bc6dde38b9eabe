//! The Gateway API (`gateway.networking.k8s.io`) as the operator sees it: whether its kinds are
//! served ([`GatewayApi`], discovery that degrades gracefully), the objects of an audit's
//! namespace ([`read`]), the key material they name (`material`) and the watches that trigger the
//! audits selecting them (`triggers`). Input: an API client. Output: [`GatewayObjects`] for the
//! pure planning in `reconcile::plan::gateways`, or a [`Problem`] for the audit's conditions.
//!
//! The CRDs are optional. Without them the operator starts as usual, logs once that the kinds are
//! absent, gives every audit with `spec.gateways` the condition Ready=False reason
//! `GatewayAPINotInstalled` (its other endpoints are still probed), and looks again at most every
//! [`REDISCOVER`]; the next reconcile after the CRDs appear audits the Gateways, and the watches of
//! `triggers` start then. A missing kind is never a reconcile error.

pub mod audit;
pub mod material;
pub mod objects;
pub mod triggers;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;

use self::objects::GROUP;
use super::reconcile::plan::gateways::{GatewayObjects, SecretKey};
use super::reconcile::status::Problem;

/// How long a discovery result is trusted before the next audit that needs it looks again.
pub const REDISCOVER: Duration = Duration::from_secs(30);

/// Which Gateway API kinds the apiserver serves (version `v1`; ReferenceGrant also `v1beta1`).
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per optional kind, read as a set"
)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kinds {
    /// `gateways`.
    pub gateways: bool,
    /// `httproutes`.
    pub http_routes: bool,
    /// `grpcroutes` (v1 since Gateway API v1.1).
    pub grpc_routes: bool,
    /// `tlsroutes` (v1 since Gateway API v1.5).
    pub tls_routes: bool,
    /// `backendtlspolicies` (v1 since Gateway API v1.4).
    pub backend_tls_policies: bool,
    /// The served version of `referencegrants` (`v1` since v1.5, else `v1beta1`).
    pub reference_grants: Option<&'static str>,
}

impl Kinds {
    fn describe(self) -> String {
        let mut served = Vec::new();
        for (on, kind) in [
            (self.gateways, "Gateway"),
            (self.http_routes, "HTTPRoute"),
            (self.grpc_routes, "GRPCRoute"),
            (self.tls_routes, "TLSRoute"),
            (self.backend_tls_policies, "BackendTLSPolicy"),
            (self.reference_grants.is_some(), "ReferenceGrant"),
        ] {
            if on {
                served.push(kind);
            }
        }
        if served.is_empty() {
            "none".to_owned()
        } else {
            served.join(", ")
        }
    }
}

#[derive(Debug, Default)]
struct Discovered {
    checked: Option<Instant>,
    kinds: Option<Kinds>,
}

/// The audits (namespace, name) that read each listener Secret (namespace, name).
type SecretReaders = BTreeMap<(String, String), BTreeSet<(String, String)>>;

/// The operator's view of the Gateway API: discovered lazily, cached for [`REDISCOVER`], logged
/// only when it changes; and which audits read which listener Secrets, so that a Secret change
/// triggers them.
#[derive(Debug, Default)]
pub struct GatewayApi {
    state: Mutex<Discovered>,
    readers: Mutex<SecretReaders>,
}

/// Reading Gateway API objects failed for a reason that is the operator's own (not a 403 or 404).
#[derive(Debug, thiserror::Error)]
#[error("failed to list {kind} in namespace {namespace}: {source}")]
pub struct GatewayError {
    /// The kind (plural).
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// API error.
    pub source: kube::Error,
}

fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// The resource names served in `group/version`; empty when the group version is not served.
async fn served(client: &Client, version: &str) -> Result<Vec<String>, kube::Error> {
    match client
        .list_api_group_resources(&format!("{GROUP}/{version}"))
        .await
    {
        Ok(list) => Ok(list.resources.into_iter().map(|r| r.name).collect()),
        Err(err) if status_code(&err) == Some(404) => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}

/// Asks the apiserver which Gateway API kinds it serves.
pub async fn discover(client: &Client) -> Result<Kinds, kube::Error> {
    let v1 = served(client, "v1").await?;
    let has = |name: &str| v1.iter().any(|r| r == name);
    let reference_grants = if has("referencegrants") {
        Some("v1")
    } else if served(client, "v1beta1")
        .await?
        .iter()
        .any(|r| r == "referencegrants")
    {
        Some("v1beta1")
    } else {
        None
    };
    Ok(Kinds {
        gateways: has("gateways"),
        http_routes: has("httproutes"),
        grpc_routes: has("grpcroutes"),
        tls_routes: has("tlsroutes"),
        backend_tls_policies: has("backendtlspolicies"),
        reference_grants,
    })
}

impl GatewayApi {
    /// The served kinds, discovered again when the last look is older than [`REDISCOVER`]. A
    /// failed discovery (apiserver unreachable) keeps the last answer; the readiness check reports
    /// the apiserver itself.
    pub async fn kinds(&self, client: &Client) -> Kinds {
        {
            let state = self.lock();
            if let (Some(at), Some(kinds)) = (state.checked, state.kinds)
                && at.elapsed() < REDISCOVER
            {
                return kinds;
            }
        }
        self.refresh(client).await
    }

    /// The served kinds, discovered now (the watches of `triggers` look every [`REDISCOVER`]
    /// while a kind is absent, so that its CRD is noticed within that period).
    pub async fn refresh(&self, client: &Client) -> Kinds {
        let cached = self.lock().kinds;
        match discover(client).await {
            Ok(kinds) => {
                let mut state = self.lock();
                if state.kinds != Some(kinds) {
                    log_change(state.kinds, kinds);
                }
                state.kinds = Some(kinds);
                state.checked = Some(Instant::now());
                kinds
            }
            Err(err) => {
                tracing::debug!(error = %err, "Gateway API discovery failed; keeping the last answer");
                cached.unwrap_or_default()
            }
        }
    }

    /// Records the listener Secrets that audit `namespace/name` read in its last reconcile
    /// (replacing what it read before).
    pub fn record_secrets<'a>(
        &self,
        namespace: &str,
        name: &str,
        secrets: impl IntoIterator<Item = &'a SecretKey>,
    ) {
        let audit = (namespace.to_owned(), name.to_owned());
        let mut readers = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for audits in readers.values_mut() {
            audits.remove(&audit);
        }
        readers.retain(|_, audits| !audits.is_empty());
        for key in secrets {
            readers
                .entry((key.namespace.clone(), key.name.clone()))
                .or_default()
                .insert(audit.clone());
        }
    }

    /// The audits whose last reconcile read listener Secret `namespace/name`.
    #[must_use]
    pub fn audits_reading(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Vec<kube::runtime::reflector::ObjectRef<crate::crd::TlsAudit>> {
        let readers = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        readers
            .get(&key)
            .into_iter()
            .flatten()
            .map(|(ns, audit)| kube::runtime::reflector::ObjectRef::new(audit).within(ns))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Discovered> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn log_change(before: Option<Kinds>, now: Kinds) {
    if now.gateways {
        tracing::info!(kinds = %now.describe(), "Gateway API discovered: audits with spec.gateways cover it");
    } else if before.is_none_or(|b| b.gateways) {
        tracing::info!(
            recheck_s = REDISCOVER.as_secs(),
            "Gateway API CRDs are not installed: audits with spec.gateways get the condition \
             GatewayAPINotInstalled until they are"
        );
    }
}

/// The problem of an audit that asks for Gateways the apiserver does not serve.
#[must_use]
pub fn not_installed() -> Problem {
    Problem {
        reason: "GatewayAPINotInstalled",
        message: format!(
            "spec.gateways: the Gateway API (gateway.networking.k8s.io/v1 Gateway) is not served \
             by this cluster; install its CRDs (the other endpoints were audited; the operator \
             looks again every {}s)",
            REDISCOVER.as_secs()
        ),
    }
}

fn forbidden(kind: &str, namespace: &str) -> Problem {
    Problem {
        reason: "GatewayAPIForbidden",
        message: format!(
            "spec.gateways: the operator may not list {kind} in namespace {namespace} (its RBAC \
             lacks get/list/watch on gateway.networking.k8s.io; see the chart's rbac.gatewayAPI)"
        ),
    }
}

/// The resource of a Gateway API kind.
#[must_use]
pub fn resource(version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: GROUP.to_owned(),
        version: version.to_owned(),
        api_version: format!("{GROUP}/{version}"),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
    }
}

/// What listing a kind gave: the objects, or a problem for the audit (403, or the kind vanished).
pub type Listed<T> = Result<Vec<T>, Problem>;

/// Lists `plural` in `namespace` and parses each object as `T` (an object that does not parse is
/// left out, with a debug log: the apiserver validated it against a schema we only partly know).
pub async fn list<T: DeserializeOwned>(
    client: &Client,
    namespace: &str,
    resource: &ApiResource,
    kind: &'static str,
) -> Result<Listed<T>, GatewayError> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let list = match api.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(err) if status_code(&err) == Some(403) => return Ok(Err(forbidden(kind, namespace))),
        Err(err) if status_code(&err) == Some(404) => return Ok(Err(not_installed())),
        Err(source) => {
            return Err(GatewayError {
                kind,
                namespace: namespace.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for object in list.items {
        let parsed = serde_json::to_value(&object).and_then(serde_json::from_value::<T>);
        match parsed {
            Ok(t) => out.push(t),
            Err(err) => {
                tracing::debug!(kind, namespace, error = %err, "unparsable object left out");
            }
        }
    }
    Ok(Ok(out))
}

/// The objects listed, or none with the problem noted once.
fn keep<T>(listed: Listed<T>, problems: &mut Vec<Problem>) -> Vec<T> {
    match listed {
        Ok(items) => items,
        Err(problem) => {
            if !problems.contains(&problem) {
                problems.push(problem);
            }
            Vec::new()
        }
    }
}

/// Reads the Gateway API objects of `namespace` that the served `kinds` allow, plus the
/// ReferenceGrants of the namespaces the Gateways' certificateRefs point into. Problems (a kind
/// the operator may not list) are returned beside the objects; the rest is still read.
pub async fn read(
    client: &Client,
    namespace: &str,
    kinds: Kinds,
    policies: bool,
) -> Result<(GatewayObjects, Vec<Problem>), GatewayError> {
    let mut problems = Vec::new();
    let mut objects = GatewayObjects::default();
    let v1 = |kind: &str, plural: &str| resource("v1", kind, plural);
    objects.gateways = keep(
        list(client, namespace, &v1("Gateway", "gateways"), "gateways").await?,
        &mut problems,
    );
    if kinds.http_routes {
        objects.http_routes = keep(
            list(
                client,
                namespace,
                &v1("HTTPRoute", "httproutes"),
                "httproutes",
            )
            .await?,
            &mut problems,
        );
    }
    // GRPCRoutes attach to HTTPS listeners too: their hostnames name clients the same way.
    if kinds.grpc_routes {
        let r = v1("GRPCRoute", "grpcroutes");
        let grpc = keep(
            list(client, namespace, &r, "grpcroutes").await?,
            &mut problems,
        );
        objects.http_routes.extend(grpc);
    }
    if kinds.tls_routes {
        objects.tls_routes = keep(
            list(client, namespace, &v1("TLSRoute", "tlsroutes"), "tlsroutes").await?,
            &mut problems,
        );
    }
    if policies && kinds.backend_tls_policies {
        let r = v1("BackendTLSPolicy", "backendtlspolicies");
        objects.policies = keep(
            list(client, namespace, &r, "backendtlspolicies").await?,
            &mut problems,
        );
    }
    let foreign =
        super::reconcile::plan::gateways::foreign_secret_namespaces(namespace, &objects.gateways);
    let mut grants = BTreeMap::new();
    if let Some(version) = kinds.reference_grants {
        let r = resource(version, "ReferenceGrant", "referencegrants");
        for ns in foreign {
            let listed = list(client, &ns, &r, "referencegrants").await?;
            grants.insert(ns, keep(listed, &mut problems));
        }
    }
    objects.grants = grants;
    Ok((objects, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str) -> SecretKey {
        SecretKey {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn names(api: &GatewayApi, ns: &str, secret: &str) -> Vec<String> {
        api.audits_reading(Some(ns), secret)
            .into_iter()
            .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
            .collect()
    }

    #[test]
    fn a_listener_secret_triggers_the_audits_that_last_read_it() {
        let api = GatewayApi::default();
        api.record_secrets(
            "shop",
            "edge",
            &[key("shop", "web-tls"), key("certs", "shared")],
        );
        api.record_secrets("shop", "all", &[key("certs", "shared")]);
        assert_eq!(
            names(&api, "certs", "shared"),
            vec!["shop/all", "shop/edge"]
        );
        assert_eq!(names(&api, "shop", "web-tls"), vec!["shop/edge"]);
        // The next reconcile of `edge` no longer reads web-tls; a deleted audit reads nothing.
        api.record_secrets("shop", "edge", &[key("certs", "shared")]);
        assert!(names(&api, "shop", "web-tls").is_empty());
        api.record_secrets("shop", "all", []);
        assert_eq!(names(&api, "certs", "shared"), vec!["shop/edge"]);
        assert!(names(&api, "shop", "shared").is_empty());
    }
}
