//! Test fixtures of the controller, between pure unit tests and the e2e tests: cluster objects built
//! by hand, informer caches filled from them, canned probe facts, and a fake apiserver that answers
//! from a table and records what the controller wrote. With them a whole reconcile runs with no
//! apiserver and no socket (`reconcile::tests`).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use k8s_openapi::api::core::v1::{
    LoadBalancerStatus, Service, ServicePort, ServiceSpec, ServiceStatus,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    Ingress, IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressSpec, IngressStatus,
    IngressTLS,
};
use kube::api::ObjectMeta;
use kube::runtime::events::Reporter;

use crate::controller::reconcile::events::Recorder;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::{Value, json};

use super::context::{Context, Settings, Stores};
use super::reconcile::judge::Audited;
use super::reconcile::plan::networks::TargetNetworks;
use super::reconcile::plan::targets::SERVICE_NAME_LABEL;
use super::reconcile::prober::{ProbeFn, Prober};
use crate::crd::{TlsAudit, TlsAuditStatus};
use crate::facts::{Facts, OcspFacts, Protocol, TlsVersion};
use crate::findings::{Code, Finding};
use crate::fixtures::{self, CertBuilder};
use crate::grade::Grade;
use crate::metrics::Metrics;

/// The fixed clock of the pure tests.
pub fn now() -> jiff::Timestamp {
    "2026-03-01T00:00:00Z".parse().unwrap()
}

/// An audited endpoint of a `shop` Service, reachable with TLS 1.3, with `codes` as its findings
/// and, unless `None`, a leaf that expires `not_after_days` days (and an hour) after [`now`]; the
/// leaf's date text is `t+{days}d`, so that a test sees which leaf a status names.
pub fn audited(
    origin: &str,
    address: &str,
    grade: Grade,
    codes: &[Code],
    not_after_days: Option<i64>,
) -> Audited {
    let mut facts = fixtures::reachable(&[TlsVersion::Tls13]);
    if let Some(days) = not_after_days {
        let unix = now().as_second() + days * fixtures::DAY + days.signum() * 3600;
        let mut leaf = CertBuilder::new("CN=x", "CN=ca")
            .common_name("x")
            .sans(&["x.shop.svc"])
            .sha256(&"ab".repeat(32))
            .valid_unix(0, unix)
            .build();
        leaf.not_after = format!("t+{days}d");
        facts.chain.push(leaf);
    }
    let findings = codes.iter().map(|c| Finding::new(*c, "m")).collect();
    let mut report = fixtures::report("x.shop.svc", address, grade, findings, facts);
    report.scanned_at = now().to_string();
    Audited {
        origin: origin.into(),
        report,
    }
}

/// What a well-configured endpoint shows today: [`fixtures::healthy`] at the real clock (the
/// reconcile under test judges at the real clock too), its leaf's fingerprint `leaf_sha256`, and a
/// good OCSP staple, so that no finding at all remains.
pub fn healthy(server_name: &str, leaf_sha256: &str) -> Facts {
    let today = jiff::Timestamp::now().as_second();
    let mut facts = fixtures::healthy(server_name, today);
    if let Some(leaf) = facts.chain.first_mut() {
        leaf_sha256.clone_into(&mut leaf.sha256);
    }
    facts.ocsp = OcspFacts {
        stapled: true,
        status: Some("good".into()),
        next_update: None,
        next_update_unix: Some(today + 3 * fixtures::DAY),
    };
    facts
}

/// A probe function that answers from a table (address dialled → facts; anything else is
/// unreachable) and counts its calls.
#[derive(Clone, Default)]
pub struct FakeProbes {
    answers: Arc<Mutex<HashMap<SocketAddr, Facts>>>,
    calls: Arc<AtomicUsize>,
    dialled: Arc<Mutex<Vec<Dialled>>>,
}

/// The address and pre-TLS protocol of one probe.
pub type Dialled = (Option<SocketAddr>, Protocol);

impl FakeProbes {
    /// Probes of `address` see `facts`.
    pub fn answer(&self, address: &str, facts: Facts) {
        let address = address.parse().unwrap();
        self.answers.lock().unwrap().insert(address, facts);
    }

    /// How many probes ran.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The address and pre-TLS protocol of every probe that ran, sorted.
    pub fn dialled(&self) -> Vec<Dialled> {
        let mut dialled = self.dialled.lock().unwrap().clone();
        dialled.sort();
        dialled
    }

    /// The probe function.
    pub fn probe_fn(&self) -> ProbeFn {
        let this = self.clone();
        Arc::new(move |target, _options| {
            this.calls.fetch_add(1, Ordering::SeqCst);
            this.dialled
                .lock()
                .unwrap()
                .push((target.address, target.protocol));
            let facts = target
                .address
                .and_then(|a| this.answers.lock().unwrap().get(&a).cloned())
                .unwrap_or_default();
            async move { facts }.boxed()
        })
    }
}

/// One request the fake apiserver answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// JSON body (`null` without one).
    pub body: Value,
}

/// An apiserver stand-in: GETs are answered from a table of objects by path (404 otherwise),
/// writes are echoed back (or fail with [`FakeApiserver::fail_writes`]), and every request is
/// recorded.
#[derive(Clone, Default)]
pub struct FakeApiserver {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    fail_writes: Arc<Mutex<bool>>,
}

impl FakeApiserver {
    /// GET `path` answers `object`.
    pub fn put(&self, path: &str, object: Value) {
        self.objects.lock().unwrap().insert(path.into(), object);
    }

    /// Every write answers 500 from now on.
    pub fn fail_writes(&self) {
        *self.fail_writes.lock().unwrap() = true;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The statuses written so far (server-side apply patches of `tlsaudits/NAME/status`).
    pub fn statuses(&self) -> Vec<TlsAuditStatus> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with("/status"))
            .map(|r| serde_json::from_value(r.body["status"].clone()).unwrap())
            .collect()
    }

    /// The reasons of the Events created so far.
    pub fn event_reasons(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
            .map(|r| r.body["reason"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// A client whose requests this fake answers.
    pub fn client(&self) -> Client {
        let this = self.clone();
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let this = this.clone();
            async move { Ok::<_, Infallible>(this.answer(request).await) }
        });
        Client::new(service, "default")
    }

    async fn answer(&self, request: Request<kube::client::Body>) -> Response<Full<Bytes>> {
        let method = request.method().to_string();
        let path = request.uri().path().to_owned();
        let bytes = request
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.requests.lock().unwrap().push(Recorded {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        let reply = |status: StatusCode, value: &Value| {
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(value.to_string())))
                .unwrap()
        };
        if method == "GET" {
            return match self.objects.lock().unwrap().get(&path) {
                Some(object) => reply(StatusCode::OK, object),
                None => reply(StatusCode::NOT_FOUND, &api_status(404, "NotFound")),
            };
        }
        if *self.fail_writes.lock().unwrap() {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &api_status(500, "InternalError"),
            );
        }
        let mut echo = body;
        if path.ends_with("/status") {
            // The apply patch names kind and status only; answer a whole TlsAudit.
            let name = path.rsplit('/').nth(1).unwrap_or_default();
            echo["metadata"] = json!({"name": name, "namespace": "shop"});
            echo["spec"] = json!({});
        }
        reply(StatusCode::OK, &echo)
    }
}

fn api_status(code: u16, reason: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": reason, "reason": reason, "code": code,
    })
}

/// An informer cache already filled with `objects`.
pub fn store<K>(objects: &[Arc<K>]) -> Store<K>
where
    K: Resource + kube::runtime::reflector::Lookup + Clone + 'static,
    <K as kube::runtime::reflector::Lookup>::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    let (reader, mut writer) = reflector::store::<K>();
    writer.apply_watcher_event(&watcher::Event::Init);
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(K::clone(object)));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    reader
}

/// The cluster a reconcile sees: the informer caches' contents.
#[derive(Default)]
pub struct Cluster {
    /// TlsAudits.
    pub audits: Vec<Arc<TlsAudit>>,
    /// Services.
    pub services: Vec<Arc<Service>>,
    /// EndpointSlices.
    pub slices: Vec<Arc<EndpointSlice>>,
    /// Ingresses.
    pub ingresses: Vec<Arc<Ingress>>,
}

/// A reconcile context over `cluster`, `api` and `probes`, with the operator's default settings
/// (no extra allowed networks).
pub fn context(cluster: &Cluster, api: &FakeApiserver, probes: &FakeProbes) -> Arc<Context> {
    let client = api.client();
    let metrics = Arc::new(Metrics::new().unwrap());
    Arc::new(Context {
        client: client.clone(),
        settings: Settings {
            default_interval: Duration::from_secs(3600),
            status_max_endpoints: 50,
            metrics_max_endpoints: 100,
            probe_timeout: Duration::from_secs(5),
            probe_deadline: Duration::from_secs(30),
            networks: TargetNetworks::new(Vec::new()),
            cluster: crate::controller::context::ClusterSettings::default(),
        },
        stores: Stores {
            audits: store(&cluster.audits),
            services: store(&cluster.services),
            slices: store(&cluster.slices),
            ingresses: store(&cluster.ingresses),
            certificates: crate::controller::certmanager::Certificates::absent(store(&[])),
        },
        prober: Prober::new(
            probes.probe_fn(),
            4,
            Duration::from_secs(30),
            Some(Arc::clone(&metrics)),
        ),
        metrics,
        recorder: Recorder::new(
            client,
            Reporter {
                controller: "tlsaudit-test".into(),
                instance: None,
            },
        ),
        in_flight: crate::controller::context::InFlight::default(),
        gateway_api: Arc::default(),
    })
}

/// Metadata of `name` in namespace `shop`.
pub fn meta(name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("shop".into()),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        ),
        ..ObjectMeta::default()
    }
}

/// A Service port.
pub fn port(name: Option<&str>, number: i32) -> ServicePort {
    ServicePort {
        name: name.map(Into::into),
        port: number,
        ..ServicePort::default()
    }
}

/// A Service of namespace `shop` with ClusterIP 10.96.0.10.
pub fn service(name: &str, labels: &[(&str, &str)], ports: Vec<ServicePort>) -> Arc<Service> {
    Arc::new(Service {
        metadata: meta(name, labels),
        spec: Some(ServiceSpec {
            cluster_ip: Some("10.96.0.10".into()),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus::default()),
            ..ServiceStatus::default()
        }),
    })
}

/// An EndpointSlice of `service` with one port and `(address, ready)` endpoints.
pub fn slice(
    service: &str,
    port_name: Option<&str>,
    port: i32,
    endpoints: &[(&str, Option<bool>)],
) -> Arc<EndpointSlice> {
    Arc::new(EndpointSlice {
        metadata: meta(&format!("{service}-abc"), &[(SERVICE_NAME_LABEL, service)]),
        address_type: "IPv4".into(),
        endpoints: Some(
            endpoints
                .iter()
                .map(|(ip, ready)| Endpoint {
                    addresses: vec![(*ip).into()],
                    conditions: Some(EndpointConditions {
                        ready: *ready,
                        ..EndpointConditions::default()
                    }),
                    ..Endpoint::default()
                })
                .collect(),
        ),
        ports: Some(vec![EndpointPort {
            name: port_name.map(Into::into),
            port: Some(port),
            ..EndpointPort::default()
        }]),
    })
}

/// An Ingress of namespace `shop` with one TLS entry, and a load-balancer IP when given.
pub fn ingress(
    name: &str,
    hosts: &[&str],
    secret: Option<&str>,
    lb_ip: Option<&str>,
) -> Arc<Ingress> {
    Arc::new(Ingress {
        metadata: meta(name, &[]),
        spec: Some(IngressSpec {
            tls: Some(vec![IngressTLS {
                hosts: Some(hosts.iter().map(|h| (*h).into()).collect()),
                secret_name: secret.map(Into::into),
            }]),
            ..IngressSpec::default()
        }),
        status: lb_ip.map(|ip| IngressStatus {
            load_balancer: Some(IngressLoadBalancerStatus {
                ingress: Some(vec![IngressLoadBalancerIngress {
                    ip: Some(ip.into()),
                    ..IngressLoadBalancerIngress::default()
                }]),
            }),
        }),
    })
}

/// A TlsAudit `name` in `namespace` with the spec `spec` (JSON, as a user writes it).
pub fn audit(name: &str, namespace: &str, spec: Value) -> Arc<TlsAudit> {
    let mut audit = TlsAudit::new(name, serde_json::from_value(spec).unwrap());
    audit.metadata.namespace = Some(namespace.into());
    audit.metadata.generation = Some(1);
    Arc::new(audit)
}
