//! The operator under attack, end to end against the real kube-apiserver of
//! scripts/control-plane.sh (issue 12, items 8–13): a partitioned leader, cloud metadata addresses,
//! a tenant naming a Secret the operator may not read, long audit names, an audit deleted while
//! its probe stalls, and the apiserver going away. Every probe reaches only loopback (see
//! `support::audit`); the partition and the outage are a TCP relay on loopback in front of the
//! apiserver (`support::relay`). Timeouts in these tests are hang guards, never benchmarks.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use support::audit::{
    Routes, WAIT, args, audit, audit_now, codes_at, create, fake, install_tlsaudit_crd, scrape,
    secret, wait_status,
};
use support::kube::{TestNamespace, config};
use support::relay::{Mode, Relay, upstream};
use tlsaudit::controller::{Error, Operator, ProbeFn};
use tlsaudit::crd::{TlsAudit, TlsAuditStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn ready(status: &TlsAuditStatus) -> Option<(&str, &str, &str)> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.as_str(), c.reason.as_str(), c.message.as_str()))
}

async fn setup(label: &str) -> (TestNamespace, Client) {
    let ns = TestNamespace::new(label).await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    (ns, client)
}

/// Polls `probe` every 200 ms until it holds; panics with `what` after [`WAIT`] (a hang guard).
async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = probe().await;
    while !seen && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = probe().await;
    }
    assert!(seen, "{what} not seen within {WAIT:?}");
}

async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec?.holder_identity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_stops_at_its_deadline_and_does_not_take_the_lease_back() {
    let (ns, client) = setup("partition").await;
    let base = config().await;
    let relay = Relay::start(upstream(&base)).await;
    let a_client = Client::try_from(relay.config(base)).expect("client through the relay");
    let routes = Routes::default();
    let election = |identity: &'static str| {
        vec![
            "--leader-election",
            "on",
            "--lease-namespace",
            ns.name(),
            "--lease-name",
            "partition",
            "--lease-duration",
            "3s",
            "--lease-renew-deadline",
            "2s",
            "--lease-retry-period",
            "500ms",
            "--identity",
            identity,
        ]
    };
    let leases: Api<Lease> = ns.api();
    let mut a = Operator::start_with_probe(
        &args(ns.name(), &election("replica-a")),
        a_client,
        Some(routes.probe_fn()),
    )
    .await
    .expect("start replica A");
    eventually("replica A holding the Lease", || async {
        holder(&leases, "partition").await.as_deref() == Some("replica-a")
    })
    .await;

    // A is cut off mid-term, its connections held open; B campaigns on the real apiserver.
    relay.set(Mode::Frozen);
    let b = Operator::start_with_probe(
        &args(ns.name(), &election("replica-b")),
        client.clone(),
        Some(routes.probe_fn()),
    )
    .await
    .expect("start replica B");
    // A stops auditing when its renew deadline passes, although no request of it ever returns.
    let stopped = tokio::time::timeout(WAIT, a.wait())
        .await
        .expect("replica A stops by itself while partitioned");
    assert!(
        matches!(&stopped, Err(Error::LeadershipLost(id)) if id == "replica-a"),
        "{stopped:?}"
    );
    eventually("replica B holding the Lease", || async {
        holder(&leases, "partition").await.as_deref() == Some("replica-b")
    })
    .await;
    let taken = leases.get("partition").await.expect("Lease");
    let transitions = taken.spec.as_ref().and_then(|s| s.lease_transitions);

    // The partition heals: whatever A had in flight reaches the apiserver now, and must not win.
    relay.set(Mode::Open);
    for _ in 0..3 {
        // Three lease durations of watching, a hang guard rather than a measurement.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let lease = leases.get("partition").await.expect("Lease");
        let spec = lease.spec.expect("Lease spec");
        assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
        assert_eq!(spec.lease_transitions, transitions);
    }
    drop(a);
    b.stop().await.expect("replica B stops cleanly");
}

/// A probe function that records every target it is asked to dial, then dials as `routes` says.
fn recording(routes: &Routes) -> (ProbeFn, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let inner = routes.probe_fn();
    let log = Arc::clone(&seen);
    let probe: ProbeFn = Arc::new(move |target, options| {
        log.lock().expect("probe log").push(format!(
            "{} {:?}",
            target.host,
            target.address.map(|a| a.to_string())
        ));
        inner(target, options).boxed()
    });
    (probe, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_metadata_endpoints_are_refused_without_ever_being_dialled() {
    let (ns, client) = setup("metadata").await;
    let routes = Routes::default();
    let (probe, dialled) = recording(&routes);
    // Even an operator that allows every address never opens a metadata endpoint.
    let op = Operator::start_with_probe(
        &args(ns.name(), &["--allow-target-cidr", "0.0.0.0/0,::/0"]),
        client.clone(),
        Some(probe),
    )
    .await
    .expect("start operator");
    let metadata = [
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "169.254.170.2",
        "168.63.129.16",
    ];
    let endpoints: Vec<_> = metadata
        .iter()
        .map(|h| json!({"host": h, "port": 80}))
        .collect();
    let audits = ns.api::<TlsAudit>();
    create(&audits, &audit("explicit", json!({"endpoints": endpoints}))).await;

    // An Ingress whose status (writable by whoever may update ingresses/status) names IMDS.
    let ingress: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "imds"},
        "spec": {"tls": [{"hosts": ["shop.example.test"]}], "rules": [{"host": "shop.example.test"}]}
    }))
    .unwrap();
    let ingresses = ns.api::<Ingress>();
    create(&ingresses, &ingress).await;
    let lb = json!({"status": {"loadBalancer": {"ingress": [{"ip": "169.254.169.254"}]}}});
    ingresses
        .patch_status("imds", &PatchParams::default(), &Patch::Merge(&lb))
        .await
        .expect("ingress status");
    create(&audits, &audit("ingress", json!({"ingresses": {}}))).await;

    let status = wait_status(&audits, "explicit", "5 refused endpoints", |s| {
        s.endpoints.len() == 5
    })
    .await;
    for endpoint in &status.endpoints {
        let codes: Vec<&str> = endpoint.findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["target.refused"], "{endpoint:#?}");
        assert!(
            endpoint.findings[0]
                .message
                .contains("is a cloud metadata endpoint; the operator never dials it"),
            "{endpoint:#?}"
        );
    }
    let hosts: BTreeSet<&str> = status.endpoints.iter().map(|e| e.host.as_str()).collect();
    assert_eq!(hosts, metadata.into_iter().collect());

    let status = wait_status(&audits, "ingress", "the Ingress host", |s| {
        s.endpoints.len() == 1
    })
    .await;
    let endpoint = &status.endpoints[0];
    assert_eq!(endpoint.target, "ingress/imds");
    let codes: Vec<&str> = endpoint.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["target.refused"], "{endpoint:#?}");
    assert!(
        endpoint.findings[0].message.contains("169.254.169.254"),
        "{endpoint:#?}"
    );
    // Nothing was handed to the prober at all: no connection was attempted.
    assert_eq!(*dialled.lock().unwrap(), Vec::<String>::new());
    op.stop().await.expect("operator stops cleanly");
}

/// A Role for the operator in `ns` with everything it needs except Secrets (chart
/// `rbac.secrets: none`), bound to ServiceAccount `tlsaudit`.
async fn operator_without_secret_rights(ns: &TestNamespace) -> Client {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "tlsaudit"}})).expect("account");
    create(&ns.api::<ServiceAccount>(), &sa).await;
    let grant = |group: &str, resources: &[&str], verbs: &[&str]| json!({"apiGroups": [group], "resources": resources, "verbs": verbs});
    let read = ["get", "list", "watch"];
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "tlsaudit"},
        "rules": [
            grant("tlsaudit.dev", &["tlsaudits"], &read),
            grant("tlsaudit.dev", &["tlsaudits/status"], &["get", "patch", "update"]),
            grant("", &["services", "configmaps"], &read),
            grant("discovery.k8s.io", &["endpointslices"], &read),
            grant("networking.k8s.io", &["ingresses"], &read),
            grant("events.k8s.io", &["events"], &["create", "patch"]),
        ]
    }))
    .expect("RBAC object");
    create(&ns.api::<Role>(), &role).await;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "tlsaudit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tlsaudit"},
        "subjects": [{"kind": "ServiceAccount", "name": "tlsaudit", "namespace": ns.name()}]
    }))
    .expect("RBAC object");
    create(&ns.api::<RoleBinding>(), &binding).await;
    let mut config = config().await;
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{}:tlsaudit", ns.name()));
    Client::try_from(config).expect("impersonating client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_operator_may_not_read_makes_ready_false_and_the_rest_is_audited() {
    let (ns, _) = setup("forbidden").await;
    create(&ns.api(), &secret("ca", "ca.crt", "not read anyway")).await;
    let restricted = operator_without_secret_rights(&ns).await;
    let routes = Routes::default();
    let op = Operator::start_with_probe(
        &args(ns.name(), &["--watch-secrets", "off"]),
        restricted,
        Some(routes.probe_fn()),
    )
    .await
    .expect("start operator");
    let audits = ns.api::<TlsAudit>();
    let spec = json!({
        "endpoints": [{"host": "10.250.0.70", "port": 443}],
        "trust": {"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false}
    });
    create(&audits, &audit("tenant", spec)).await;
    let first = wait_status(&audits, "tenant", "Ready=False", |s| ready(s).is_some()).await;
    let (status, reason, message) = ready(&first).unwrap();
    assert_eq!((status, reason), ("False", "SecretForbidden"));
    assert!(
        message.contains("spec.trust.caBundle.secretRef: the operator may not read Secret ca"),
        "{message}"
    );
    // The endpoint was still probed (a real dial of the unrouted, closed loopback port).
    assert_eq!(
        codes_at(&first, "10.250.0.70:443"),
        ["connect.refused"],
        "{first:#?}"
    );
    // A second audit, so that a failing reconcile would have been counted by now.
    let before = first.last_audit_time.clone();
    audit_now(&audits, "tenant").await;
    wait_status(&audits, "tenant", "a second audit", |s| {
        s.last_audit_time != before
    })
    .await;
    let metrics = scrape(op.metrics_addr()).await;
    let counted: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tlsaudit_reconcile_errors_total{"))
        .collect();
    assert_eq!(counted.len(), 6, "{metrics}");
    let errors: Vec<&str> = counted.into_iter().filter(|l| !l.ends_with(" 0")).collect();
    assert_eq!(
        errors,
        Vec::<&str>::new(),
        "tenant problems are not operator errors"
    );
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingress_secret_the_operator_may_not_read_makes_ready_false_and_the_host_is_probed() {
    let (ns, _) = setup("forbidden-ingress").await;
    let restricted = operator_without_secret_rights(&ns).await;
    let routes = Routes::default();
    let op = Operator::start_with_probe(
        &args(ns.name(), &["--watch-secrets", "off"]),
        restricted,
        Some(routes.probe_fn()),
    )
    .await
    .expect("start operator");
    let ingress: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "shop"},
        "spec": {
            "tls": [{"hosts": ["shop.example.test"], "secretName": "shop-tls"}],
            "rules": [{"host": "shop.example.test"}]
        }
    }))
    .unwrap();
    let ingresses = ns.api::<Ingress>();
    create(&ingresses, &ingress).await;
    let lb = json!({"status": {"loadBalancer": {"ingress": [{"ip": "10.250.0.72"}]}}});
    ingresses
        .patch_status("shop", &PatchParams::default(), &Patch::Merge(&lb))
        .await
        .expect("ingress status");
    let audits = ns.api::<TlsAudit>();
    let spec = json!({"ingresses": {}, "trust": {"systemRoots": false, "clusterCA": false}});
    create(&audits, &audit("shop", spec)).await;
    let status = wait_status(&audits, "shop", "Ready=False", |s| {
        ready(s).is_some() && s.endpoints.len() == 1
    })
    .await;
    let (state, reason, message) = ready(&status).unwrap();
    assert_eq!((state, reason), ("False", "SecretForbidden"), "{message}");
    assert!(
        message.contains("spec.ingresses: the operator may not read Secret shop-tls"),
        "{message}"
    );
    // The host was still dialled (the unrouted, closed loopback port). The unread Secret is no
    // finding: nothing is known about it, and a page for an RBAC setting would be a false one.
    let endpoint = &status.endpoints[0];
    let codes: Vec<&str> = endpoint.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["connect.refused"], "{endpoint:#?}");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_with_a_253_character_name_still_gets_its_events() {
    let (ns, client) = setup("long-name").await;
    let routes = Routes::default();
    let op = Operator::start_with_probe(&args(ns.name(), &[]), client, Some(routes.probe_fn()))
        .await
        .expect("start operator");
    let name = format!("a{}", "b".repeat(252));
    let audits = ns.api::<TlsAudit>();
    // Unrouted: the probe meets a closed loopback port, a critical finding.
    create(
        &audits,
        &audit(
            &name,
            json!({"endpoints": [{"host": "10.250.0.71", "port": 443}]}),
        ),
    )
    .await;
    let status = wait_status(&audits, &name, "connect.refused", |s| {
        !s.endpoints.is_empty()
    })
    .await;
    assert_eq!(codes_at(&status, "10.250.0.71:443"), ["connect.refused"]);
    let events = ns.api::<Event>();
    eventually("the CriticalFinding Event", || async {
        events
            .list(&ListParams::default())
            .await
            .is_ok_and(|l| !l.items.is_empty())
    })
    .await;
    let found = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    assert_eq!(found.len(), 1, "{found:#?}");
    let event = &found[0];
    assert_eq!(event.reason.as_deref(), Some("CriticalFinding"));
    assert_eq!(
        event.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some(name.as_str())
    );
    assert!(event.metadata.name.as_ref().unwrap().len() <= 253);
    op.stop().await.expect("operator stops cleanly");
}

/// A TLS "server" that accepts and then says nothing; each accepted connection reports when the
/// client closed it.
async fn stalling_server() -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<&'static str>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let _ = tx.send("accepted");
            tokio::spawn(async move {
                let mut buf = [0_u8; 4096];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                let _ = tx.send("closed");
            });
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_audit_closes_its_stalled_probe_connection() {
    let (ns, client) = setup("delete-cancels").await;
    let routes = Routes::default();
    let (stall, mut seen) = stalling_server().await;
    routes.route(fake(72, 443), stall);
    let mut flags = args(ns.name(), &[]);
    // Left alone, the stalled exchange would hold the connection for ten minutes.
    flags.probe_timeout = Duration::from_secs(600);
    let op = Operator::start_with_probe(&flags, client, Some(routes.probe_fn()))
        .await
        .expect("start operator");
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "stalled",
            json!({"endpoints": [{"host": "10.250.0.72", "port": 443}]}),
        ),
    )
    .await;
    let first = tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("a probe connects");
    assert_eq!(first, Some("accepted"));
    audits
        .delete("stalled", &DeleteParams::default())
        .await
        .expect("delete audit");
    // The probe may have opened more than one connection; every one of them must close.
    let (mut accepted, mut closed) = (1, 0);
    while closed < accepted {
        let next = tokio::time::timeout(WAIT, seen.recv())
            .await
            .expect("every probe connection is closed once the audit is deleted");
        match next {
            Some("accepted") => accepted += 1,
            Some("closed") => closed += 1,
            other => panic!("the stalling server stopped: {other:?}"),
        }
    }
    assert_eq!(accepted, closed);
    op.stop().await.expect("operator stops cleanly");
}

async fn readyz(addr: SocketAddr) -> String {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let _ = stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_false_while_the_apiserver_is_gone_and_back_when_it_returns() {
    let (ns, _) = setup("readiness").await;
    let base = config().await;
    let relay = Relay::start(upstream(&base)).await;
    let client = Client::try_from(relay.config(base)).expect("client through the relay");
    let routes = Routes::default();
    let op = Operator::start_with_probe(
        &args(ns.name(), &["--readiness-grace", "1s"]),
        client,
        Some(routes.probe_fn()),
    )
    .await
    .expect("start operator");
    let addr = op.metrics_addr();
    eventually("/readyz 200", || async {
        readyz(addr).await.starts_with("HTTP/1.1 200")
    })
    .await;
    relay.set(Mode::Cut);
    eventually("/readyz 503 without the apiserver", || async {
        readyz(addr).await.starts_with("HTTP/1.1 503")
    })
    .await;
    relay.set(Mode::Open);
    eventually("/readyz 200 again", || async {
        readyz(addr).await.starts_with("HTTP/1.1 200")
    })
    .await;
    op.stop().await.expect("operator stops cleanly");
}
