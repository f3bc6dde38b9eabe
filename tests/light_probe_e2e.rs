//! Light probes through the whole operator (issue 13), against the real kube-apiserver of
//! scripts/control-plane.sh and real rustls servers behind fake Pod addresses: in a light cycle a
//! Service's replicas cost one full probe plus light ones, a replica serving another certificate
//! still gets its full probe and `backend.inconsistent`, and the Nth cycle probes every replica
//! fully.

mod support;

use std::time::Duration;

use serde_json::json;
use support::audit::{
    Routes, args, audit, audit_now, codes_at, create, endpoint_slice, fake, install_tlsaudit_crd,
    secret, service, wait_metrics, wait_status,
};
use support::kube::TestNamespace;
use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth, Server};
use tlsaudit::controller::{Operator, Probes};
use tlsaudit::crd::TlsAudit;

async fn serve(pki: &Hierarchy, leaf: &Issued) -> Server {
    let chain = vec![leaf.der.clone(), pki.intermediate.der.clone()];
    tls_server::start(
        tls_server::config(chain, leaf.key_der(), ClientAuth::None, &["h2", "http/1.1"]),
        "Strict-Transport-Security: max-age=31536000\r\n",
    )
    .await
}

/// The value of `tlsaudit_probes_total{kind}` in `text`.
fn probes(text: &str, kind: &str) -> Option<u64> {
    let prefix = format!("tlsaudit_probes_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_light_cycle_probes_one_replica_fully_and_the_nth_cycle_probes_all() {
    let ns = TestNamespace::new("light").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    let host = format!("web.{}.svc", ns.name());
    let leaf = pki.leaf(&Spec::leaf(&[&host]));
    let other = pki.leaf(&Spec::leaf(&[&host]));
    let servers = [
        serve(&pki, &leaf).await,
        serve(&pki, &leaf).await,
        serve(&pki, &other).await,
    ];
    let routes = Routes::default();
    for (n, server) in (1..).zip(&servers) {
        routes.route(fake(n, 8443), server.addr);
    }
    create(
        &ns.api(),
        &service("web", &[("app", "web")], &[("https", 443)]),
    )
    .await;
    create(
        &ns.api(),
        &endpoint_slice(
            "web-a",
            "web",
            "https",
            8443,
            &["10.250.0.1", "10.250.0.2", "10.250.0.3"],
        ),
    )
    .await;
    let probes_fns = Probes {
        full: routes.probe_fn(),
        light: Some(routes.light_fn()),
    };
    let flags = args(ns.name(), &["--full-probe-every", "2"]);
    let op = Operator::start_with_probes(&flags, client.clone(), probes_fns)
        .await
        .expect("start operator");
    let audits = ns.api::<TlsAudit>();
    let trust = json!({"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false});
    create(
        &audits,
        &audit(
            "web",
            json!({"services": {"perEndpoint": true}, "trust": trust}),
        ),
    )
    .await;

    // Cycle 1 (light): the reference (10.250.0.1) fully, every replica lightly, and the replica
    // with the other leaf fully; the group disagrees, so every replica gets the finding.
    let status = wait_status(&audits, "web", "three replicas audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 3)
    })
    .await;
    for address in ["10.250.0.1:8443", "10.250.0.2:8443", "10.250.0.3:8443"] {
        assert_eq!(
            codes_at(&status, address),
            ["backend.inconsistent"],
            "{status:#?}"
        );
    }
    let text = wait_metrics(op.metrics_addr(), "cycle 1 counted", |m| {
        probes(m, "light") == Some(3)
    })
    .await;
    assert_eq!(probes(&text, "full"), Some(2), "{text}");

    // Cycle 2 (--full-probe-every 2): every replica fully, no light probe.
    let first = status.last_audit_time.clone();
    // lastAuditTime has one-second resolution: start the second cycle in a fresh second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    audit_now(&audits, "web").await;
    wait_status(&audits, "web", "the second cycle", |s| {
        s.last_audit_time != first
    })
    .await;
    let text = wait_metrics(op.metrics_addr(), "cycle 2 counted", |m| {
        probes(m, "full") == Some(5)
    })
    .await;
    assert_eq!(probes(&text, "light"), Some(3), "{text}");
    op.stop().await.expect("operator stops cleanly");
}
