//! Graceful discovery of the Gateway API against the real kube-apiserver: without the Gateway API
//! CRDs the operator starts, gives the audit that asks for Gateways the condition
//! `GatewayAPINotInstalled`, still audits its Services, and counts no reconcile error; once the
//! CRDs are installed it notices by itself (no audit-now, no spec change) and audits the Gateway.
//!
//! This binary removes the cluster-scoped Gateway API CRDs, so it holds one test only; cargo runs
//! test binaries one after another, and `gateway_e2e` installs them again for its own tests.

mod support;

use std::collections::BTreeSet;

use serde_json::json;
use support::audit::{
    Routes, audit, codes_at, condition, create, endpoint_slice, fake, install_tlsaudit_crd,
    operator, scrape, secret, service, tls_secret, wait_status,
};
use support::gateway::{self as gw, install_crds, remove_crds, set_addresses};
use support::kube::TestNamespace;
use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth};
use tlsaudit::crd::TlsAudit;

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

/// A healthy rustls server for `names`, and its leaf.
async fn healthy(pki: &Hierarchy, names: &[&str]) -> (tls_server::Server, Issued) {
    let leaf = pki.leaf(&Spec::leaf(names));
    let chain = vec![leaf.der.clone(), pki.intermediate.der.clone()];
    let server = tls_server::start(
        tls_server::config(chain, leaf.key_der(), ClientAuth::None, &["h2", "http/1.1"]),
        HSTS,
    )
    .await;
    (server, leaf)
}

/// The non-zero `tlsaudit_reconcile_errors_total` series of a scrape.
fn reconcile_errors(metrics: &str) -> Vec<&str> {
    metrics
        .lines()
        .filter(|l| l.starts_with("tlsaudit_reconcile_errors_total{") && !l.ends_with(" 0"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_gateway_api_the_audit_says_so_probes_the_rest_and_notices_the_crds_later() {
    let ns = TestNamespace::new("gw-absent").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    remove_crds(&client).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    let name = ns.name();

    let host = format!("web.{name}.svc");
    let (server, _) = healthy(&pki, &[&host]).await;
    let routes = Routes::default();
    routes.route(fake(50, 8443), server.addr);
    create(&ns.api(), &service("web", &[], &[("https", 443)])).await;
    create(
        &ns.api(),
        &endpoint_slice("web-a", "web", "https", 8443, &["10.250.0.50"]),
    )
    .await;

    let op = operator(
        &client,
        name,
        &routes,
        &["--allow-target-cidr", "127.0.0.0/8"],
    )
    .await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "all",
            json!({
                "services": {"perEndpoint": true},
                "gateways": {},
                "trust": {"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false}
            }),
        ),
    )
    .await;
    let status = wait_status(&audits, "all", "the Service audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 1)
    })
    .await;
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!((ready, reason), ("False", "GatewayAPINotInstalled"));
    assert!(message.contains("gateway.networking.k8s.io"), "{message}");
    assert_eq!(
        codes_at(&status, "10.250.0.50:8443"),
        Vec::<String>::new(),
        "{status:#?}"
    );
    let metrics = scrape(op.metrics_addr()).await;
    assert_eq!(reconcile_errors(&metrics), Vec::<&str>::new());
    assert!(
        metrics.contains("tlsaudit_reconcile_total{result=\"success\"}"),
        "{metrics}"
    );

    // The CRDs appear, then a Gateway: the operator notices both by itself.
    install_crds(&client).await;
    let (gateway_server, leaf) = healthy(&pki, &["shop.example.com"]).await;
    create(
        &ns.api(),
        &tls_secret("shop-tls", &leaf.pem, &leaf.key_pem()),
    )
    .await;
    gw::create(
        &client,
        name,
        "Gateway",
        json!({"metadata": {"name": "edge"}, "spec": {
            "gatewayClassName": "example",
            "listeners": [{"name": "shop", "port": gateway_server.addr.port(), "protocol": "HTTPS",
                           "hostname": "shop.example.com",
                           "tls": {"certificateRefs": [{"name": "shop-tls"}]}}]
        }}),
    )
    .await;
    set_addresses(&client, name, "edge", &["127.0.0.1"]).await;
    let status = wait_status(&audits, "all", "the Gateway audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 2)
    })
    .await;
    assert_eq!(condition(&status, "Ready").0, "True", "{status:#?}");
    let gateway = status
        .endpoints
        .iter()
        .find(|e| e.target == "gateway/edge")
        .unwrap_or_else(|| panic!("{status:#?}"));
    assert_eq!(gateway.server_name.as_deref(), Some("shop.example.com"));
    assert_eq!(
        gateway
            .findings
            .iter()
            .map(|f| f.code.to_string())
            .collect::<BTreeSet<_>>(),
        BTreeSet::new()
    );
    let metrics = scrape(op.metrics_addr()).await;
    assert_eq!(reconcile_errors(&metrics), Vec::<&str>::new());
    op.stop().await.expect("operator stops cleanly");
}
