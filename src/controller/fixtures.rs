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
use kube::runtime::events::{Recorder, Reporter};
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
use crate::facts::{
    AlpnFacts, CertFacts, Facts, FeatureFacts, Negotiated, OcspFacts, SniFacts, SuiteFacts,
    TlsVersion, TrustFacts, VersionSuites,
};
use crate::findings::{Code, Finding};
use crate::grade::Grade;
use crate::metrics::Metrics;
use crate::report::EndpointReport;

/// The fixed clock of the pure tests.
pub fn now() -> jiff::Timestamp {
    "2026-03-01T00:00:00Z".parse().unwrap()
}

/// An audited endpoint of a `shop` Service, reachable with TLS 1.3, with `codes` as its findings
/// and, unless `None`, a leaf that expires `not_after_days` days (and an hour) after [`now`].
pub fn audited(
    origin: &str,
    address: &str,
    grade: Grade,
    codes: &[Code],
    not_after_days: Option<i64>,
) -> Audited {
    let mut facts = Facts {
        reachable: true,
        ..Facts::default()
    };
    facts.protocols.set(TlsVersion::Tls13, true);
    if let Some(days) = not_after_days {
        let unix = now().as_second() + days * 86_400 + days.signum() * 3600;
        let mut leaf = cert(
            "CN=x",
            "CN=ca",
            &["x.shop.svc"],
            &"ab".repeat(32),
            (0, unix),
        );
        leaf.common_name = Some("x".into());
        leaf.not_after = format!("t+{days}d");
        facts.chain.push(leaf);
    }
    Audited {
        origin: origin.into(),
        report: EndpointReport {
            host: "x.shop.svc".into(),
            port: 443,
            address: Some(address.into()),
            server_name: Some("x.shop.svc".into()),
            scanned_at: now().to_string(),
            grade,
            profile: None,
            findings: codes.iter().map(|c| Finding::new(*c, "m")).collect(),
            facts,
        },
    }
}

fn cert(
    subject: &str,
    issuer: &str,
    sans: &[&str],
    sha256: &str,
    (not_before_unix, not_after_unix): (i64, i64),
) -> CertFacts {
    CertFacts {
        subject: subject.into(),
        issuer: issuer.into(),
        common_name: None,
        sans: sans.iter().map(|s| (*s).to_owned()).collect(),
        serial: "01".into(),
        sha256: sha256.into(),
        not_before: String::new(),
        not_after: String::new(),
        not_before_unix,
        not_after_unix,
        key_type: "EC".into(),
        key_bits: 256,
        curve: None,
        signature: "ecdsa-with-SHA256".into(),
        is_ca: false,
        self_signed: false,
        ca_issuers: Vec::new(),
    }
}

/// What a well-configured endpoint shows today: TLS 1.2 and 1.3 with ECDHE AEAD suites only, h2,
/// HSTS for a year, a good OCSP staple, and a trusted 90-day chain whose leaf (fingerprint
/// `leaf_sha256`) names `server_name`.
pub fn healthy(server_name: &str, leaf_sha256: &str) -> Facts {
    let today = jiff::Timestamp::now().as_second();
    let day = 86_400;
    let ca = "CN=Test CA";
    let leaf = cert(
        &format!("CN={server_name}"),
        ca,
        &[server_name],
        leaf_sha256,
        (today - 30 * day, today + 60 * day),
    );
    let mut intermediate = cert(
        ca,
        "CN=Test Root",
        &[],
        &"c1".repeat(32),
        (today - 365 * day, today + 3 * 365 * day),
    );
    intermediate.is_ca = true;
    let suites = |version, list: &[(u16, &str)]| VersionSuites {
        version,
        server_order: Some(true),
        suites: list
            .iter()
            .map(|(id, name)| SuiteFacts {
                id: *id,
                name: (*name).into(),
            })
            .collect(),
        incomplete: false,
    };
    let mut facts = Facts {
        reachable: true,
        negotiated: Some(Negotiated {
            version: TlsVersion::Tls13,
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
            group: Some("X25519MLKEM768".into()),
            alpn: Some("h2".into()),
        }),
        ciphers: vec![
            suites(
                TlsVersion::Tls12,
                &[
                    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
                    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
                ],
            ),
            suites(
                TlsVersion::Tls13,
                &[
                    (0x1301, "TLS_AES_128_GCM_SHA256"),
                    (0x1302, "TLS_AES_256_GCM_SHA384"),
                ],
            ),
        ],
        chain: vec![leaf, intermediate],
        trust: TrustFacts {
            verified: true,
            path_found: Some(true),
            ordered: Some(true),
            ..TrustFacts::default()
        },
        sni: SniFacts {
            handshake_without_sni: Some(true),
            default_cert_matches: Some(true),
            ..SniFacts::default()
        },
        alpn: AlpnFacts {
            selected: Some("h2".into()),
            h2: Some(true),
        },
        features: FeatureFacts {
            secure_renegotiation: Some(true),
            compression: Some(false),
            heartbeat: Some(false),
            hsts_max_age: Some(31_536_000),
            http: Some(true),
            ..FeatureFacts::default()
        },
        ocsp: OcspFacts {
            stapled: true,
            status: Some("good".into()),
            next_update: None,
            next_update_unix: Some(today + 3 * day),
        },
        connections: 9,
        ..Facts::default()
    };
    for v in TlsVersion::ALL {
        facts.protocols.set(v, v >= TlsVersion::Tls12);
    }
    facts
}

/// A probe function that answers from a table (address dialled → facts; anything else is
/// unreachable) and counts its calls.
#[derive(Clone, Default)]
pub struct FakeProbes {
    answers: Arc<Mutex<HashMap<SocketAddr, Facts>>>,
    calls: Arc<AtomicUsize>,
}

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

    /// The probe function.
    pub fn probe_fn(&self) -> ProbeFn {
        let this = self.clone();
        Arc::new(move |target, _options| {
            this.calls.fetch_add(1, Ordering::SeqCst);
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
            networks: TargetNetworks::new(Vec::new()),
        },
        stores: Stores {
            audits: store(&cluster.audits),
            services: store(&cluster.services),
            slices: store(&cluster.slices),
            ingresses: store(&cluster.ingresses),
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
