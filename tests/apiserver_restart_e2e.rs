//! The apiserver restarts mid-audit (issue 12, item 14): `scripts/control-plane.sh restart` stops
//! etcd and kube-apiserver and starts them again on the same ports with the same data, while the
//! operator runs in-process. Afterwards the audit continues, nothing is lost, and no Event is sent
//! twice. Alone in its test binary, because the restart interrupts every test using the apiserver.

mod support;

use std::path::Path;

use k8s_openapi::api::events::v1::Event;
use kube::api::ListParams;
use serde_json::json;
use support::audit::{
    Routes, audit, audit_now, codes_at, create, endpoint_slice, fake, install_tlsaudit_crd,
    operator, secret, service, wait_status,
};
use support::kube::TestNamespace;
use support::pki::{Hierarchy, Spec};
use support::tls_server;
use tlsaudit::crd::TlsAudit;

/// Restarts the control plane that KUBECONFIG points at (its state directory holds the kubeconfig).
async fn restart_control_plane() {
    let kubeconfig = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let state = Path::new(&kubeconfig)
        .parent()
        .expect("the kubeconfig's directory")
        .to_owned();
    assert!(
        state.join("ports").is_file(),
        "KUBECONFIG={kubeconfig} is not a control plane of scripts/control-plane.sh (no ports file \
         beside it): this test restarts that control plane"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/control-plane.sh");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .arg("restart")
            .env("TLSAUDIT_STATE", &state)
            .output()
    })
    .await
    .expect("join")
    .expect("run control-plane.sh restart");
    assert!(
        output.status.success(),
        "control-plane.sh restart failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_restart_mid_audit_loses_nothing_and_repeats_no_event() {
    let ns = TestNamespace::new("apiserver-restart").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    let host = format!("web.{}.svc", ns.name());
    let expired = pki.leaf(&Spec::leaf(&[&host]).valid(-100, -5));
    let chain = vec![expired.der.clone(), pki.intermediate.der.clone()];
    let server = tls_server::start(
        tls_server::config(
            chain,
            expired.key_der(),
            tls_server::ClientAuth::None,
            &["h2"],
        ),
        "",
    )
    .await;
    let routes = Routes::default();
    routes.route(fake(80, 8443), server.addr);
    create(
        &ns.api(),
        &service("web", &[("app", "web")], &[("https", 443)]),
    )
    .await;
    create(
        &ns.api(),
        &endpoint_slice("web-1", "web", "https", 8443, &["10.250.0.80"]),
    )
    .await;
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    let spec = json!({
        "services": {"selector": {"matchLabels": {"app": "web"}}, "perEndpoint": true},
        "trust": {"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false}
    });
    create(&audits, &audit("web", spec)).await;
    let before = wait_status(&audits, "web", "cert.expired", |s| {
        codes_at(s, "10.250.0.80:8443").contains(&"cert.expired".to_owned())
    })
    .await;
    let events = ns.api::<Event>();
    let critical = |list: &[Event]| {
        list.iter()
            .filter(|e| e.reason.as_deref() == Some("CriticalFinding"))
            .count()
    };
    let listed = events.list(&ListParams::default()).await.expect("events");
    assert_eq!(critical(&listed.items), 1, "{:#?}", listed.items);

    restart_control_plane().await;

    // Everything stored before is still there, and the operator audits on.
    audit_now(&audits, "web").await;
    let after = wait_status(&audits, "web", "an audit after the restart", |s| {
        s.last_audit_time != before.last_audit_time
    })
    .await;
    assert_eq!(
        codes_at(&after, "10.250.0.80:8443"),
        codes_at(&before, "10.250.0.80:8443")
    );
    assert_eq!(after.summary, {
        let mut summary = before.summary.clone().expect("summary");
        if let Some(s) = after.summary.as_ref() {
            summary.earliest_expiry_days = s.earliest_expiry_days;
        }
        Some(summary)
    });
    let listed = events.list(&ListParams::default()).await.expect("events");
    assert_eq!(critical(&listed.items), 1, "{:#?}", listed.items);
    op.stop().await.expect("operator stops cleanly");
}
