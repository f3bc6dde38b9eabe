//! Which audits a change of a Gateway API object concerns, and the watches that see the changes.
//! Input: a client, the watched namespace, the shared [`GatewayApi`] and the TlsAudit cache.
//! Output: a stream of audits to reconcile, for `Controller::reconcile_on`.
//!
//! Each watched kind (Gateway, HTTPRoute, GRPCRoute, TLSRoute, BackendTLSPolicy) waits until discovery finds
//! it served, checking every [`REDISCOVER`]; only then does its metadata-only watch start. When
//! the watch is refused (403: no RBAC for it) or its kind vanishes (404, or discovery no longer
//! finds it: the CRD was deleted), it pauses for [`REDISCOVER`] and waits again: no error loop, no
//! log above debug. The mapping from a changed object to audits is pure.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::{ApiResource, DynamicObject};
use kube::core::{PartialObjectMeta, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};

use super::{GatewayApi, Kinds, REDISCOVER, resource};
use crate::controller::reconcile::plan::targets::selector;
use crate::controller::watches::WatchBackoff;
use crate::crd::TlsAudit;

/// A watched Gateway API kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Gateways: their selector decides.
    Gateway,
    /// HTTPRoutes, GRPCRoutes, TLSRoutes and BackendTLSPolicies: every gateway audit of the
    /// namespace.
    Related(&'static str, &'static str),
}

impl Watched {
    /// Every kind whose change can change an audit's result.
    pub const ALL: [Watched; 5] = [
        Watched::Gateway,
        Watched::Related("HTTPRoute", "httproutes"),
        Watched::Related("GRPCRoute", "grpcroutes"),
        Watched::Related("TLSRoute", "tlsroutes"),
        Watched::Related("BackendTLSPolicy", "backendtlspolicies"),
    ];

    fn resource(self) -> ApiResource {
        match self {
            Self::Gateway => resource("v1", "Gateway", "gateways"),
            Self::Related(kind, plural) => resource("v1", kind, plural),
        }
    }

    fn served(self, kinds: Kinds) -> bool {
        match self {
            Self::Gateway => kinds.gateways,
            Self::Related(_, "httproutes") => kinds.http_routes,
            Self::Related(_, "grpcroutes") => kinds.grpc_routes,
            Self::Related(_, "tlsroutes") => kinds.tls_routes,
            Self::Related(_, _) => kinds.backend_tls_policies,
        }
    }
}

type Changed = PartialObjectMeta<DynamicObject>;

enum Phase {
    /// Until discovery finds the kind; after a refused or vanished watch, first a pause.
    Waiting {
        pause: bool,
    },
    Watching(BoxStream<'static, Result<watcher::Event<Changed>, watcher::Error>>),
}

/// Whether a watch error is a 403 (RBAC, e.g. chart `rbac.gatewayAPI: false`) or a 404 (the CRD
/// is gone): retrying at the watch backoff would only repeat it.
fn refused(err: &watcher::Error) -> bool {
    let code = match err {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s))
        | watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    matches!(code, 403 | 404)
}

/// The changed objects of `kind`, once discovery finds it served.
fn changes(
    client: Client,
    namespace: Option<String>,
    api: Arc<GatewayApi>,
    kind: Watched,
) -> BoxStream<'static, Changed> {
    futures::stream::unfold(Phase::Waiting { pause: false }, move |mut phase| {
        let (client, namespace, api) = (client.clone(), namespace.clone(), Arc::clone(&api));
        async move {
            loop {
                match &mut phase {
                    Phase::Waiting { pause } => {
                        if *pause {
                            tokio::time::sleep(REDISCOVER).await;
                        }
                        if kind.served(api.refresh(&client).await) {
                            let r = kind.resource();
                            let objects: Api<Changed> = match &namespace {
                                Some(ns) => Api::namespaced_with(client.clone(), ns, &r),
                                None => Api::all_with(client.clone(), &r),
                            };
                            let stream = watcher(objects, watcher::Config::default())
                                .backoff(WatchBackoff::default())
                                .boxed();
                            phase = Phase::Watching(stream);
                        } else {
                            phase = Phase::Waiting { pause: true };
                        }
                    }
                    Phase::Watching(stream) => match stream.next().await {
                        Some(Ok(event)) => {
                            let touched: Vec<Changed> = match event {
                                watcher::Event::Apply(o)
                                | watcher::Event::Delete(o)
                                | watcher::Event::InitApply(o) => vec![o],
                                watcher::Event::Init | watcher::Event::InitDone => Vec::new(),
                            };
                            if !touched.is_empty() {
                                return Some((touched, phase));
                            }
                        }
                        Some(Err(err)) => {
                            tracing::debug!(kind = ?kind, error = %err, "Gateway API watch failed");
                            if refused(&err) || !kind.served(api.kinds(&client).await) {
                                phase = Phase::Waiting { pause: true };
                            }
                        }
                        None => phase = Phase::Waiting { pause: true },
                    },
                }
            }
        }
    })
    .flat_map(futures::stream::iter)
    .boxed()
}

/// The audits to reconcile when Gateway API objects change, for as long as the controller runs.
pub fn audits_to_reconcile(
    client: &Client,
    namespace: Option<&str>,
    api: &Arc<GatewayApi>,
    audits: &Store<TlsAudit>,
) -> BoxStream<'static, ObjectRef<TlsAudit>> {
    let streams = Watched::ALL.map(|kind| {
        let audits = audits.clone();
        changes(
            client.clone(),
            namespace.map(str::to_owned),
            Arc::clone(api),
            kind,
        )
        .flat_map(move |changed| {
            let ns = changed.namespace();
            let refs = for_gateway_object(
                &audits.state(),
                kind == Watched::Gateway,
                ns.as_deref(),
                changed.labels(),
            );
            futures::stream::iter(refs)
        })
    });
    futures::stream::select_all(streams).boxed()
}

/// Audits concerned by a changed Gateway API object in `namespace`: for a Gateway, the audits whose
/// gateway selector matches its labels; for a route or policy, every audit with `spec.gateways`.
#[must_use]
pub fn for_gateway_object(
    audits: &[Arc<TlsAudit>],
    gateway: bool,
    namespace: Option<&str>,
    labels: &BTreeMap<String, String>,
) -> Vec<ObjectRef<TlsAudit>> {
    audits
        .iter()
        .filter(|a| a.namespace().as_deref() == namespace)
        .filter(|a| {
            a.spec.gateways.as_ref().is_some_and(|g| {
                // A selector the reconcile cannot use is reported there; trigger so that it is.
                !gateway
                    || selector("gateways", g.selector.as_ref()).map_or(true, |s| s.matches(labels))
            })
        })
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::fixtures::audit;

    #[test]
    fn a_forbidden_or_vanished_kind_pauses_its_watch_and_other_errors_retry() {
        let api = |code: u16| {
            kube::Error::Api(
                kube::core::Status::failure("x", "Forbidden")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert!(refused(&watcher::Error::InitialListFailed(api(403))));
        assert!(refused(&watcher::Error::WatchStartFailed(api(404))));
        assert!(refused(&watcher::Error::WatchError(
            kube::core::Status::failure("x", "NotFound")
                .with_code(404)
                .boxed()
        )));
        assert!(!refused(&watcher::Error::WatchFailed(api(500))));
        assert!(!refused(&watcher::Error::WatchError(
            kube::core::Status::failure("x", "Expired")
                .with_code(410)
                .boxed()
        )));
        assert!(!refused(&watcher::Error::NoResourceVersion));
    }

    #[test]
    fn a_gateway_triggers_the_audits_selecting_it_and_a_route_every_gateway_audit() {
        let audits = [
            audit("all", "shop", json!({"gateways": {}})),
            audit(
                "edge",
                "shop",
                json!({"gateways": {"selector": {"matchLabels": {"tier": "edge"}}}}),
            ),
            audit("services", "shop", json!({"services": {}})),
            audit("elsewhere", "bank", json!({"gateways": {}})),
        ];
        let names = |refs: Vec<ObjectRef<TlsAudit>>| -> Vec<String> {
            refs.into_iter().map(|r| r.name).collect()
        };
        let internal: BTreeMap<String, String> = [("tier".into(), "internal".into())].into();
        assert_eq!(
            names(for_gateway_object(&audits, true, Some("shop"), &internal)),
            vec!["all"]
        );
        let edge: BTreeMap<String, String> = [("tier".into(), "edge".into())].into();
        assert_eq!(
            names(for_gateway_object(&audits, true, Some("shop"), &edge)),
            vec!["all", "edge"]
        );
        assert_eq!(
            names(for_gateway_object(&audits, false, Some("shop"), &internal)),
            vec!["all", "edge"]
        );
        assert!(for_gateway_object(&audits, true, Some("other"), &edge).is_empty());
    }
}
