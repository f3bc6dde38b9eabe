//! Support for the operator's end-to-end tests against a real kube-apiserver (KUBECONFIG, exported
//! by scripts/test.sh from scripts/control-plane.sh; clients and per-test namespaces come from
//! `support::kube`): the CRD, the operator running in-process and scoped to the test's namespace,
//! object builders, status polling, /metrics scraping, and a TLS server whose certificate can be
//! rotated.
//!
//! Routing: the apiserver refuses loopback addresses in EndpointSlices and Ingress status is only
//! data, while tests may dial loopback only. So the tests give Pods and load balancers addresses
//! from 10.250.0.0/16 and run the operator with a probe function ([`Routes`]) that dials the
//! loopback server registered for each such address; anything unregistered goes to a closed
//! loopback port (connect.refused). The engine, the controller and the apiserver are all real.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use clap::Parser;
use futures::FutureExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tlsaudit::controller::{ControllerArgs, LightFn, Operator, ProbeFn};
use tlsaudit::crd::{TlsAudit, TlsAuditStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a test waits for an audit to show in the status.
pub const WAIT: Duration = Duration::from_secs(90);

/// Server-side applies the TlsAudit CRD (rendered from the Rust types) and waits until it is served.
pub async fn install_tlsaudit_crd(client: &Client) {
    super::kube::install_crd(client, &tlsaudit::crd::crd().expect("render CRD")).await;
}

/// Where the operator's probes go: fake address → loopback server.
#[derive(Clone, Default)]
pub struct Routes(Arc<Mutex<HashMap<SocketAddr, SocketAddr>>>);

impl Routes {
    /// Sends probes of `fake` to `real` (a loopback address).
    pub fn route(&self, fake: SocketAddr, real: SocketAddr) {
        assert!(
            real.ip().is_loopback(),
            "tests dial loopback only, not {real}"
        );
        self.0.lock().unwrap().insert(fake, real);
    }

    /// The light probe function: the engine's light probe, dialling the routed loopback address.
    pub fn light_fn(&self) -> LightFn {
        let routes = self.clone();
        let closed = closed_port();
        Arc::new(move |mut target, options| {
            target.address = Some(match target.address {
                Some(a) if a.ip().is_loopback() => a,
                Some(a) => routes.0.lock().unwrap().get(&a).copied().unwrap_or(closed),
                None => closed,
            });
            async move { tlsaudit::probe::light::probe(&target, &options).await }.boxed()
        })
    }

    /// The probe function: the engine's probe, dialling the routed loopback address.
    pub fn probe_fn(&self) -> ProbeFn {
        let routes = self.clone();
        let closed = closed_port();
        Arc::new(move |mut target, options| {
            let dial = target.address.map(|a| {
                if a.ip().is_loopback() {
                    a
                } else {
                    routes.0.lock().unwrap().get(&a).copied().unwrap_or(closed)
                }
            });
            if dial.is_none() {
                // A name: the operator resolved nothing for it; never let the engine resolve it.
                target.address = Some(closed);
            } else {
                target.address = dial;
            }
            async move { tlsaudit::probe::probe(&target, &options).await }.boxed()
        })
    }
}

/// A loopback port where nothing listens.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A fake Pod or load-balancer address `10.250.x.y:port`.
pub fn fake(n: u16, port: u16) -> SocketAddr {
    let [hi, lo] = n.to_be_bytes();
    SocketAddr::from(([10, 250, hi, lo], port))
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    args: ControllerArgs,
}

/// The operator's flags for a test in `namespace`, plus `extra` (leader election is off unless
/// `extra` sets it).
pub fn args(namespace: &str, extra: &[&str]) -> ControllerArgs {
    let election = if extra.contains(&"--leader-election") {
        [].as_slice()
    } else {
        ["--leader-election", "off"].as_slice()
    };
    let mut argv = vec![
        "tlsaudit",
        "--watch-namespace",
        namespace,
        "--metrics-addr",
        "127.0.0.1:0",
        "--probe-timeout",
        "3s",
        "--probe-cache-ttl",
        "0s",
    ];
    argv.extend_from_slice(election);
    argv.extend_from_slice(extra);
    Flags::try_parse_from(argv).expect("operator flags").args
}

/// Starts the operator in-process for `namespace` with probes routed by `routes`.
pub async fn operator(
    client: &Client,
    namespace: &str,
    routes: &Routes,
    extra: &[&str],
) -> Operator {
    Operator::start_with_probe(
        &args(namespace, extra),
        client.clone(),
        Some(routes.probe_fn()),
    )
    .await
    .expect("start operator")
}

/// A ClusterIP Service with named TCP ports.
pub fn service(name: &str, labels: &[(&str, &str)], ports: &[(&str, i32)]) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(
                ports
                    .iter()
                    .map(|(n, p)| ServicePort {
                        name: Some((*n).into()),
                        port: *p,
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// An EndpointSlice of `service` with ready `addresses` on (`port_name`, `port`).
pub fn endpoint_slice(
    name: &str,
    service: &str,
    port_name: &str,
    port: u16,
    addresses: &[&str],
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubernetes.io/service-name".to_owned(), service.to_owned())].into()),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".into(),
        endpoints: Some(
            addresses
                .iter()
                .map(|a| Endpoint {
                    addresses: vec![(*a).into()],
                    conditions: Some(EndpointConditions {
                        ready: Some(true),
                        ..EndpointConditions::default()
                    }),
                    ..Endpoint::default()
                })
                .collect(),
        ),
        ports: Some(vec![EndpointPort {
            name: Some(port_name.into()),
            port: Some(i32::from(port)),
            protocol: Some("TCP".into()),
            ..EndpointPort::default()
        }]),
    }
}

/// A kubernetes.io/tls Secret.
pub fn tls_secret(name: &str, cert_pem: &str, key_pem: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            (
                "tls.crt".to_owned(),
                ByteString(cert_pem.as_bytes().to_vec()),
            ),
            (
                "tls.key".to_owned(),
                ByteString(key_pem.as_bytes().to_vec()),
            ),
        ])),
        ..Secret::default()
    }
}

/// An Opaque Secret with one key.
pub fn secret(name: &str, key: &str, value: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            key.to_owned(),
            ByteString(value.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// Creates `obj` in the namespace of `api`.
pub async fn create<K>(api: &Api<K>, obj: &K) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), obj)
        .await
        .expect("create object")
}

/// A TlsAudit from a JSON spec.
pub fn audit(name: &str, spec: serde_json::Value) -> TlsAudit {
    TlsAudit::new(name, serde_json::from_value(spec).expect("audit spec"))
}

/// Polls the audit's status until `done` holds; panics with the last status after [`WAIT`].
pub async fn wait_status(
    api: &Api<TlsAudit>,
    name: &str,
    what: &str,
    done: impl Fn(&TlsAuditStatus) -> bool,
) -> TlsAuditStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        if let Ok(audit) = api.get(name).await
            && let Some(status) = audit.status
        {
            if done(&status) {
                return status;
            }
            last = Some(status);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!(
        "TlsAudit {name}: {what} not seen within {WAIT:?}; last status:\n{}",
        serde_json::to_string_pretty(&last).unwrap_or_default()
    );
}

/// The (status, reason, message) of the status condition `type_`; panics when there is none.
pub fn condition<'a>(status: &'a TlsAuditStatus, type_: &str) -> (&'a str, &'a str, &'a str) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:#?}"));
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

/// Asks the operator to audit now (the audit-now annotation).
pub async fn audit_now(api: &Api<TlsAudit>, name: &str) {
    let patch = serde_json::json!({"metadata": {"annotations": {
        tlsaudit::crd::AUDIT_NOW_ANNOTATION: format!("{:x}", rand::random::<u64>())
    }}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate audit");
}

/// The codes of the findings of the endpoint whose address is `address`.
pub fn codes_at(status: &TlsAuditStatus, address: &str) -> Vec<String> {
    status
        .endpoints
        .iter()
        .filter(|e| e.address.as_deref() == Some(address))
        .flat_map(|e| e.findings.iter().map(|f| f.code.to_string()))
        .collect()
}

/// GET /metrics of the operator.
pub async fn scrape(addr: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut out = String::new();
    stream.read_to_string(&mut out).await.expect("read metrics");
    record_metric_names(&out);
    out
}

/// Where the e2e tests collect the metric names the operator really exported; scripts/test-chart.sh
/// checks every name an alert or the dashboard uses against it.
pub const EXPORTED_METRICS: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/exported-metrics.txt");

fn record_metric_names(scrape: &str) {
    use std::io::Write as _;
    let names: std::collections::BTreeSet<&str> = scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    if names.is_empty() {
        return;
    }
    let text = names.iter().fold(String::new(), |mut text, name| {
        text.push_str("# TYPE ");
        text.push_str(name);
        text.push_str(" untyped\n");
        text
    });
    // One append per scrape: concurrent tests add lines, never interleave inside one.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(EXPORTED_METRICS)
        .expect("open the exported-metrics record");
    file.write_all(text.as_bytes())
        .expect("record exported metric names");
}

/// Polls /metrics until `done` holds; panics with the last scrape after [`WAIT`].
pub async fn wait_metrics(addr: SocketAddr, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        last = scrape(addr).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("metrics: {what} not seen within {WAIT:?}; last scrape:\n{last}");
}

/// A certificate resolver whose certificate can be replaced while the server runs.
#[derive(Debug)]
pub struct Rotating(RwLock<Arc<CertifiedKey>>);

impl Rotating {
    /// Serves `chain` with `key`.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Arc<Self> {
        Arc::new(Self(RwLock::new(Arc::new(certified(chain, key)))))
    }

    /// Serves `chain` with `key` from the next handshake on.
    pub fn rotate(&self, chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) {
        *self.0.write().unwrap() = Arc::new(certified(chain, key));
    }
}

fn certified(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> CertifiedKey {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    CertifiedKey::new(
        chain,
        provider
            .key_provider
            .load_private_key(key)
            .expect("load key"),
    )
}

impl ResolvesServerCert for Rotating {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap().clone())
    }
}

/// A server config that serves whatever `resolver` holds.
pub fn rotating_config(resolver: Arc<Rotating>) -> rustls::ServerConfig {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}
