//! The operator end to end against the real kube-apiserver of scripts/control-plane.sh: TlsAudits,
//! Services, EndpointSlices, Ingresses and Secrets are real API objects, the operator runs
//! in-process (scoped to the test's namespace), and every probe reaches a real rustls server on
//! loopback (see `support::audit` for how fake Pod addresses are routed there). Each test asserts
//! the exact finding codes in the status, and the metrics or Events the change must produce.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use support::audit::{
    Routes, audit, audit_now, codes_at, condition, create, endpoint_slice, fake,
    install_tlsaudit_crd, operator, rotating_config, secret, service, tls_secret, wait_metrics,
    wait_status,
};
use support::kube::TestNamespace;
use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth, Server};
use tlsaudit::controller::lease::{Elector, Timings};
use tlsaudit::crd::{TlsAudit, TlsAuditStatus};

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

fn codes(status: &TlsAuditStatus, address: &str) -> BTreeSet<String> {
    codes_at(status, address).into_iter().collect()
}

/// A healthy rustls server for `names` (leaf + intermediate, HSTS, h2).
async fn healthy(pki: &Hierarchy, names: &[&str]) -> (Server, Issued) {
    let leaf = pki.leaf(&Spec::leaf(names));
    (serve(pki, &leaf, ClientAuth::None).await, leaf)
}

async fn serve(pki: &Hierarchy, leaf: &Issued, auth: ClientAuth) -> Server {
    let chain = vec![leaf.der.clone(), pki.intermediate.der.clone()];
    tls_server::start(
        tls_server::config(chain, leaf.key_der(), auth, &["h2", "http/1.1"]),
        HSTS,
    )
    .await
}

/// The trust part of a spec: only the test's root, from Secret `ca`.
fn trust() -> serde_json::Value {
    json!({"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false})
}

struct Setup {
    client: kube::Client,
    ns: TestNamespace,
    pki: Hierarchy,
    routes: Routes,
}

async fn setup(label: &str) -> Setup {
    let ns = TestNamespace::new(label).await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    Setup {
        client,
        ns,
        pki,
        routes: Routes::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_serving_an_expired_and_a_healthy_certificate_are_reported_inconsistent() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("replicas").await;
    let host = format!("web.{}.svc", ns.name());
    let (good, _) = healthy(&pki, &[&host]).await;
    let expired = pki.leaf(&Spec::leaf(&[&host]).valid(-100, -5));
    let bad = serve(&pki, &expired, ClientAuth::None).await;
    routes.route(fake(1, 8443), good.addr);
    routes.route(fake(2, 8443), bad.addr);
    create(
        &ns.api(),
        &service("web", &[("app", "web")], &[("https", 443)]),
    )
    .await;
    create(
        &ns.api(),
        &endpoint_slice("web-a", "web", "https", 8443, &["10.250.0.1", "10.250.0.2"]),
    )
    .await;
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "web",
            json!({"services": {"perEndpoint": true}, "trust": trust()}),
        ),
    )
    .await;

    let status = wait_status(&audits, "web", "both replicas audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 2)
    })
    .await;
    assert_eq!(
        codes(&status, "10.250.0.2:8443"),
        set(&["cert.expired", "backend.inconsistent"]),
        "{status:#?}"
    );
    assert_eq!(
        codes(&status, "10.250.0.1:8443"),
        set(&["backend.inconsistent"]),
        "{status:#?}"
    );
    // The worst endpoint comes first, with its served leaf although it is expired.
    assert_eq!(
        status.endpoints[0].address.as_deref(),
        Some("10.250.0.2:8443")
    );
    let leaf = status.endpoints[0]
        .leaf
        .as_ref()
        .expect("expired leaf recorded");
    // Whole days as the finding message counts them: expired 5 days (and a few seconds) ago.
    assert_eq!(leaf.days_left, -5);
    assert_eq!(
        status.summary.as_ref().map(|s| s.findings.critical),
        Some(1)
    );
    assert_eq!(condition(&status, "Ready").0, "True");
    assert_eq!(condition(&status, "Compliant").0, "False");

    let text = wait_metrics(op.metrics_addr(), "cert.expired series", |m| {
        m.contains("cert.expired")
    })
    .await;
    for endpoint in ["10.250.0.1:8443", "10.250.0.2:8443"] {
        let series = format!(
            "tlsaudit_certificate_not_after_timestamp_seconds{{audit=\"web\",endpoint=\"{endpoint}\",namespace=\"{}\",server_name=\"{host}\",target=\"service/web\"}}",
            ns.name()
        );
        assert!(text.contains(&series), "missing {series}\n{text}");
    }
    assert!(text.contains(&format!(
        "tlsaudit_findings{{audit=\"web\",namespace=\"{}\",severity=\"critical\"}} 1",
        ns.name()
    )));

    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("list events");
    let warning = events
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("CriticalFinding"))
        .unwrap_or_else(|| panic!("no CriticalFinding event: {:#?}", events.items));
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    let note = warning.note.as_deref().unwrap_or_default();
    assert!(
        note.contains("service/web 10.250.0.2:8443: cert.expired"),
        "{note}"
    );

    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_rotated_on_a_backend_is_picked_up() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("rotate").await;
    let host = format!("api.{}.svc", ns.name());
    let old = pki.leaf(&Spec::leaf(&[&host]).valid(-80, 5));
    let resolver = support::audit::Rotating::new(
        vec![old.der.clone(), pki.intermediate.der.clone()],
        old.key_der(),
    );
    let server = tls_server::start(rotating_config(resolver.clone()), HSTS).await;
    routes.route(fake(3, 443), server.addr);
    create(&ns.api(), &service("api", &[], &[("https", 443)])).await;
    create(
        &ns.api(),
        &endpoint_slice("api-a", "api", "https", 443, &["10.250.0.3"]),
    )
    .await;
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "api",
            json!({"services": {"perEndpoint": true}, "trust": trust()}),
        ),
    )
    .await;

    let old_sha = tlsaudit::cert::sha256_hex(&old.der);
    let status = wait_status(&audits, "api", "the old leaf", |s| {
        s.endpoints
            .first()
            .and_then(|e| e.leaf.as_ref())
            .is_some_and(|l| l.sha256 == old_sha)
    })
    .await;
    assert!(
        codes(&status, "10.250.0.3:443").contains("cert.expiring_soon"),
        "{status:#?}"
    );

    let new = pki.leaf(&Spec::leaf(&[&host]));
    resolver.rotate(
        vec![new.der.clone(), pki.intermediate.der.clone()],
        new.key_der(),
    );
    audit_now(&audits, "api").await;
    let new_sha = tlsaudit::cert::sha256_hex(&new.der);
    let status = wait_status(&audits, "api", "the rotated leaf", |s| {
        s.endpoints
            .first()
            .and_then(|e| e.leaf.as_ref())
            .is_some_and(|l| l.sha256 == new_sha)
    })
    .await;
    assert_eq!(codes(&status, "10.250.0.3:443"), set(&[]), "{status:#?}");
    let text = wait_metrics(op.metrics_addr(), "the new leaf's info series", |m| {
        m.contains(&new_sha)
    })
    .await;
    assert!(
        !text.contains(&old_sha),
        "the old leaf's series is gone:\n{text}"
    );
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_service_loses_its_endpoint_and_its_metric_series() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("delete").await;
    let mut servers = Vec::new();
    for (i, name) in [(4u16, "shop"), (5, "cart")] {
        let (server, _) = healthy(&pki, &[&format!("{name}.{}.svc", ns.name())]).await;
        routes.route(fake(i, 443), server.addr);
        servers.push(server);
        create(
            &ns.api(),
            &service(name, &[("tier", "web")], &[("https", 443)]),
        )
        .await;
        let ip = format!("10.250.0.{i}");
        create(
            &ns.api(),
            &endpoint_slice(&format!("{name}-a"), name, "https", 443, &[&ip]),
        )
        .await;
    }
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    let spec = json!({"services": {"selector": {"matchLabels": {"tier": "web"}}, "perEndpoint": true}, "trust": trust()});
    create(&audits, &audit("web", spec)).await;
    wait_status(&audits, "web", "two services", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 2)
    })
    .await;
    wait_metrics(op.metrics_addr(), "cart's series", |m| {
        m.contains("target=\"service/cart\"")
    })
    .await;

    ns.api::<Service>()
        .delete("cart", &DeleteParams::default())
        .await
        .expect("delete service");
    let status = wait_status(&audits, "web", "one service left", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 1)
    })
    .await;
    assert_eq!(status.endpoints[0].target, "service/shop");
    let text = wait_metrics(op.metrics_addr(), "cart's series gone", |m| {
        !m.contains("service/cart")
    })
    .await;
    assert!(text.contains("target=\"service/shop\""), "{text}");
    assert!(text.contains(&format!(
        "tlsaudit_audit_endpoints{{audit=\"web\",namespace=\"{}\"}} 1",
        ns.name()
    )));

    // A deleted audit takes every series with it.
    audits
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete audit");
    wait_metrics(op.metrics_addr(), "the audit's series gone", |m| {
        !m.contains("audit=\"web\"")
    })
    .await;
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_spec_is_rejected_and_an_unusable_selector_makes_ready_false() {
    let Setup {
        client, ns, routes, ..
    } = setup("invalid").await;
    let audits = ns.api::<TlsAudit>();
    let err = audits
        .create(
            &kube::api::PostParams::default(),
            &audit("bad", json!({"interval": "10s"})),
        )
        .await
        .expect_err("interval 10s is refused");
    assert!(
        err.to_string().contains("interval must be at least 1m"),
        "{err}"
    );

    let op = operator(&client, ns.name(), &routes, &[]).await;
    let spec = json!({"services": {"selector": {"matchExpressions": [{"key": "tier", "operator": "Near"}]}}});
    create(&audits, &audit("odd", spec)).await;
    let status = wait_status(&audits, "odd", "Ready=False", |s| {
        s.conditions.iter().any(|c| c.type_ == "Ready")
    })
    .await;
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!((ready, reason), ("False", "InvalidSpec"));
    assert!(message.contains("services selector"), "{message}");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_another_namespace_is_refused_and_the_results_are_kept() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("crossns").await;
    let (server, _) = healthy(&pki, &["legacy.internal"]).await;
    let op = operator(
        &client,
        ns.name(),
        &routes,
        &["--allow-target-cidr", "127.0.0.0/8"],
    )
    .await;
    let audits = ns.api::<TlsAudit>();
    let spec = json!({
        "endpoints": [{"host": "127.0.0.1", "port": server.addr.port(), "serverName": "legacy.internal"}],
        "trust": trust(),
        "clientCertificate": {"secretRef": {"name": "client", "namespace": "kube-system"}},
    });
    create(&audits, &audit("legacy", spec)).await;
    let status = wait_status(&audits, "legacy", "an audited endpoint", |s| {
        !s.endpoints.is_empty()
    })
    .await;
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!((ready, reason), ("False", "CrossNamespaceReference"));
    assert!(message.contains("kube-system"), "{message}");
    let address = format!("127.0.0.1:{}", server.addr.port());
    assert_eq!(codes(&status, &address), set(&[]), "{status:#?}");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_succeeds_with_the_client_certificate_secret_and_reports_it_missing_without() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("mtls").await;
    let host = format!("db.{}.svc", ns.name());
    let leaf = pki.leaf(&Spec::leaf(&[&host]));
    let client_ca = Spec::ca("client ca").self_signed();
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots
        .add(client_ca.der.clone())
        .expect("client root");
    let server = serve(&pki, &leaf, ClientAuth::Required(client_roots)).await;
    let identity = client_ca.issue(&Spec::leaf(&["auditor"]));
    create(
        &ns.api(),
        &tls_secret("auditor", &identity.pem, &identity.key_pem()),
    )
    .await;
    routes.route(fake(6, 5443), server.addr);
    create(&ns.api(), &service("db", &[], &[("db-tls", 5443)])).await;
    create(
        &ns.api(),
        &endpoint_slice("db-a", "db", "db-tls", 5443, &["10.250.0.6"]),
    )
    .await;
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    let base = json!({"services": {"perEndpoint": true}, "trust": trust()});
    let mut with = base.clone();
    with["clientCertificate"] = json!({"secretRef": {"name": "auditor"}});
    create(&audits, &audit("with", with)).await;
    create(&audits, &audit("without", base)).await;

    let done = |s: &TlsAuditStatus| !s.endpoints.is_empty();
    let with = wait_status(&audits, "with", "an audited endpoint", done).await;
    let without = wait_status(&audits, "without", "an audited endpoint", done).await;
    assert_eq!(
        codes(&with, "10.250.0.6:5443"),
        set(&["mtls.required"]),
        "{with:#?}"
    );
    assert_eq!(condition(&with, "Ready").0, "True");
    assert_eq!(
        codes(&without, "10.250.0.6:5443"),
        set(&["mtls.required", "mtls.client_cert_missing"]),
        "{without:#?}"
    );
    let text = wait_metrics(op.metrics_addr(), "client certificate expiry", |m| {
        m.contains("tlsaudit_client_certificate_not_after_timestamp_seconds")
    })
    .await;
    assert!(text.contains("secret=\"auditor\""), "{text}");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_client_secret_makes_ready_false_and_loses_no_result() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("nosecret").await;
    let host = format!("web.{}.svc", ns.name());
    let (server, _) = healthy(&pki, &[&host]).await;
    routes.route(fake(7, 443), server.addr);
    create(&ns.api(), &service("web", &[], &[("https", 443)])).await;
    create(
        &ns.api(),
        &endpoint_slice("web-a", "web", "https", 443, &["10.250.0.7"]),
    )
    .await;
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    let spec = json!({"services": {"perEndpoint": true}, "trust": trust(), "clientCertificate": {"secretRef": {"name": "gone"}}});
    create(&audits, &audit("web", spec)).await;
    let status = wait_status(&audits, "web", "an audited endpoint", |s| {
        !s.endpoints.is_empty()
    })
    .await;
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!((ready, reason), ("False", "SecretNotFound"));
    assert!(message.contains("Secret gone not found"), "{message}");
    assert_eq!(codes(&status, "10.250.0.7:443"), set(&[]), "{status:#?}");

    // Creating the Secret triggers an audit at once (the Secret watch), and Ready recovers.
    let identity = Spec::ca("client ca")
        .self_signed()
        .issue(&Spec::leaf(&["auditor"]));
    create(
        &ns.api(),
        &tls_secret("gone", &identity.pem, &identity.key_pem()),
    )
    .await;
    let status = wait_status(&audits, "web", "Ready=True", |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
    .await;
    assert_eq!(condition(&status, "Ready").1, "Audited");
    op.stop().await.expect("operator stops cleanly");
}

/// An Ingress with one TLS host and Secret, published at load-balancer address `lb`.
async fn ingress(ns: &TestNamespace, name: &str, host: &str, secret: &str, lb: &str) {
    let ingress: Ingress = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"tls": [{"hosts": [host], "secretName": secret}], "rules": [{"host": host}]}
    }))
    .expect("ingress");
    let ingresses = ns.api::<Ingress>();
    create(&ingresses, &ingress).await;
    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": lb}]}}});
    ingresses
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("ingress status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_secrets_are_checked_at_rest_and_against_what_is_served() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("ingress").await;
    // shop: the Secret's certificate names another host, and the controller serves exactly it.
    let other = pki.leaf(&Spec::leaf(&["other.example.test"]));
    create(
        &ns.api(),
        &tls_secret("shop-tls", &other.pem, &other.key_pem()),
    )
    .await;
    let shop = serve(&pki, &other, ClientAuth::None).await;
    routes.route(fake(8, 443), shop.addr);
    ingress(&ns, "shop", "shop.example.test", "shop-tls", "10.250.0.8").await;
    // api: the Secret is right, but the controller still serves an older certificate.
    let stored = pki.leaf(&Spec::leaf(&["api.example.test"]));
    let stale = pki.leaf(&Spec::leaf(&["api.example.test"]));
    create(
        &ns.api(),
        &tls_secret("api-tls", &stored.pem, &stored.key_pem()),
    )
    .await;
    let api = serve(&pki, &stale, ClientAuth::None).await;
    routes.route(fake(9, 443), api.addr);
    ingress(&ns, "api", "api.example.test", "api-tls", "10.250.0.9").await;
    // docs: the Secret does not exist; the controller serves a fine certificate anyway.
    let (docs, _) = healthy(&pki, &["docs.example.test"]).await;
    routes.route(fake(10, 443), docs.addr);
    ingress(&ns, "docs", "docs.example.test", "docs-tls", "10.250.0.10").await;

    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit("edge", json!({"ingresses": {}, "trust": trust()})),
    )
    .await;
    let status = wait_status(&audits, "edge", "three ingress hosts", |s| {
        s.endpoints.len() == 3
    })
    .await;
    let shop = status
        .endpoints
        .iter()
        .find(|e| e.target == "ingress/shop")
        .expect("shop");
    assert_eq!(shop.server_name.as_deref(), Some("shop.example.test"));
    assert_eq!(
        codes(&status, "10.250.0.8:443"),
        set(&["ingress.host_not_covered", "cert.hostname_mismatch"]),
        "{status:#?}"
    );
    assert_eq!(
        codes(&status, "10.250.0.9:443"),
        set(&["ingress.secret_mismatch"]),
        "{status:#?}"
    );
    assert_eq!(
        codes(&status, "10.250.0.10:443"),
        set(&["ingress.secret_missing"]),
        "{status:#?}"
    );
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_loopback_endpoints_are_refused_unless_the_operator_allows_them() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("ssrf").await;
    let (server, _) = healthy(&pki, &["legacy.internal"]).await;
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    let spec = json!({
        "endpoints": [
            {"host": "127.0.0.1", "port": server.addr.port(), "serverName": "legacy.internal"},
            {"host": "169.254.169.254", "port": 443}
        ],
        "trust": trust()
    });
    create(&audits, &audit("legacy", spec)).await;
    let status = wait_status(&audits, "legacy", "two endpoints", |s| {
        s.endpoints.len() == 2
    })
    .await;
    for endpoint in &status.endpoints {
        let codes: Vec<_> = endpoint.findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, vec!["target.refused"], "{status:#?}");
    }
    let messages: Vec<_> = status
        .endpoints
        .iter()
        .map(|e| e.findings[0].message.clone())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("loopback")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("link-local")),
        "{messages:?}"
    );
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_writes_do_not_trigger_further_audits() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("noloop").await;
    let (server, _) = healthy(&pki, &["legacy.internal"]).await;
    let op = operator(
        &client,
        ns.name(),
        &routes,
        &["--allow-target-cidr", "127.0.0.0/8"],
    )
    .await;
    let audits = ns.api::<TlsAudit>();
    let spec = json!({"endpoints": [{"host": "127.0.0.1", "port": server.addr.port(), "serverName": "legacy.internal"}], "trust": trust()});
    create(&audits, &audit("quiet", spec)).await;
    wait_status(&audits, "quiet", "one audit", |s| !s.endpoints.is_empty()).await;
    let count = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("tlsaudit_reconcile_total{result=\"success\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let first = count(&wait_metrics(op.metrics_addr(), "a reconcile", |m| count(m) >= 1).await);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = count(&support::audit::scrape(op.metrics_addr()).await);
    assert_eq!(later, first, "the status write must not requeue the audit");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_hold_the_lease_at_once_and_a_released_lease_moves() {
    let ns = TestNamespace::new("lease").await;
    let client = ns.client();
    let timings = Timings {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    };
    let mut a = Elector::new(client.clone(), ns.name(), "tlsaudit", "replica-a", timings);
    let mut b = Elector::new(client.clone(), ns.name(), "tlsaudit", "replica-b", timings);
    let (won_a, won_b) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
    let (won_a, won_b) = (won_a.expect("a tries"), won_b.expect("b tries"));
    assert!(
        won_a ^ won_b,
        "exactly one replica wins a race: a={won_a} b={won_b}"
    );
    let (leader, follower) = if won_a {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    // While the leader renews, the follower never gets the Lease.
    for _ in 0..10 {
        assert!(leader.try_acquire_or_renew().await.expect("renew"));
        assert!(
            !follower
                .try_acquire_or_renew()
                .await
                .expect("follower tries")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A leader that stops renewing loses the Lease after the lease duration, not before.
    assert!(
        !follower
            .try_acquire_or_renew()
            .await
            .expect("follower tries")
    );
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert!(
        follower
            .try_acquire_or_renew()
            .await
            .expect("follower takes over")
    );
    assert!(
        !leader
            .try_acquire_or_renew()
            .await
            .expect("old leader tries"),
        "the old leader must not win back"
    );
    // Releasing hands the Lease over at once.
    follower.release().await.expect("release");
    assert!(
        leader
            .try_acquire_or_renew()
            .await
            .expect("takes the released lease")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_replica_holding_the_lease_audits_and_a_stopped_leader_hands_over() {
    let Setup {
        client,
        ns,
        pki,
        routes,
    } = setup("leader").await;
    let (server, _) = healthy(&pki, &["legacy.internal"]).await;
    let lease = [
        "--leader-election",
        "on",
        "--lease-namespace",
        ns.name(),
        "--allow-target-cidr",
        "127.0.0.0/8",
    ];
    let first = operator(
        &client,
        ns.name(),
        &routes,
        &[&lease[..], &["--identity", "first"]].concat(),
    )
    .await;
    // The first replica takes the free Lease at once; the second then finds it held.
    let leases = ns.api::<k8s_openapi::api::coordination::v1::Lease>();
    let held = || async {
        leases
            .get_opt("tlsaudit-controller")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while held().await.as_deref() != Some("first") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first replica never took the Lease"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = operator(
        &client,
        ns.name(),
        &routes,
        &[&lease[..], &["--identity", "second"]].concat(),
    )
    .await;
    let audits = ns.api::<TlsAudit>();
    let spec = json!({"endpoints": [{"host": "127.0.0.1", "port": server.addr.port(), "serverName": "legacy.internal"}], "trust": trust()});
    create(&audits, &audit("solo", spec)).await;
    wait_status(&audits, "solo", "an audit", |s| !s.endpoints.is_empty()).await;
    let ran = "tlsaudit_audit_last_run_timestamp_seconds{audit=\"solo\"";
    wait_metrics(first.metrics_addr(), "the leader's audit", |m| {
        m.contains(ran)
    })
    .await;
    assert!(
        !support::audit::scrape(second.metrics_addr())
            .await
            .contains(ran),
        "the follower must not audit"
    );

    // Stopping the leader releases the Lease; the second replica takes over and audits.
    first.stop().await.expect("leader stops cleanly");
    wait_metrics(second.metrics_addr(), "the new leader's audit", |m| {
        m.contains(ran)
    })
    .await;
    assert_eq!(held().await.as_deref(), Some("second"));
    second.stop().await.expect("operator stops cleanly");
}
