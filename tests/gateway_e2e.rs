//! The Gateway API end to end against the real kube-apiserver with the pinned upstream Gateway API
//! CRDs (v1.7.0, standard channel): Gateways, HTTPRoutes, ReferenceGrants and BackendTLSPolicies
//! are real API objects, the Gateway's `status.addresses` are written through the status
//! subresource (127.0.0.1, allowed by `--allow-target-cidr`), and every probe reaches a real rustls
//! server on loopback. Each test asserts the exact finding codes of each endpoint.

mod support;

use std::collections::BTreeSet;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ObjectMeta, Patch, PatchParams};
use serde_json::json;
use support::audit::{
    Routes, audit, audit_now, condition, create, endpoint_slice, fake, install_tlsaudit_crd,
    operator, secret, service, tls_secret, wait_status,
};
use support::gateway::{self as gw, install_crds, set_addresses};
use support::kube::TestNamespace;
use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth, Server};
use tlsaudit::crd::{TlsAudit, TlsAuditStatus};

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

/// The codes of the endpoint of `target` dialled with SNI `server_name` (`["<absent>"]` when the
/// status has no such endpoint, so that the assertion shows the status).
fn codes(status: &TlsAuditStatus, target: &str, server_name: &str) -> BTreeSet<String> {
    let Some(endpoint) = status
        .endpoints
        .iter()
        .find(|e| e.target == target && e.server_name.as_deref() == Some(server_name))
    else {
        return set(&["<absent>"]);
    };
    endpoint
        .findings
        .iter()
        .map(|f| f.code.to_string())
        .collect()
}

async fn serve(pki: &Hierarchy, leaf: &Issued) -> Server {
    let chain = vec![leaf.der.clone(), pki.intermediate.der.clone()];
    tls_server::start(
        tls_server::config(chain, leaf.key_der(), ClientAuth::None, &["h2", "http/1.1"]),
        HSTS,
    )
    .await
}

fn trust() -> serde_json::Value {
    json!({"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false})
}

struct Setup {
    client: kube::Client,
    ns: TestNamespace,
    pki: Hierarchy,
}

async fn setup(label: &str) -> Setup {
    let ns = TestNamespace::new(label).await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    install_crds(&client).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    Setup { client, ns, pki }
}

fn listener(
    name: &str,
    port: u16,
    hostname: &str,
    secrets: &[(&str, Option<&str>)],
) -> serde_json::Value {
    let refs: Vec<_> = secrets
        .iter()
        .map(|(name, ns)| match ns {
            Some(ns) => json!({"name": name, "namespace": ns}),
            None => json!({"name": name}),
        })
        .collect();
    json!({"name": name, "port": port, "protocol": "HTTPS", "hostname": hostname,
           "tls": {"mode": "Terminate", "certificateRefs": refs}})
}

/// Gateway `edge` (listeners `shop` and `foreign` on port `pa`, `wild` on `pb`, an HTTP listener)
/// at 127.0.0.1, HTTPRoute `api` (api.example.com) and GRPCRoute `rpc` (rpc.example.com) on its
/// listener `wild`.
async fn edge_gateway(client: &kube::Client, name: &str, other: &str, pa: u16, pb: u16) {
    gw::create(
        client,
        name,
        "Gateway",
        json!({"metadata": {"name": "edge", "labels": {"tier": "edge"}}, "spec": {
            "gatewayClassName": "example",
            "listeners": [
                listener("shop", pa, "shop.example.com", &[("shop-tls", None)]),
                listener("foreign", pa, "foreign.example.com", &[("shared", Some(other))]),
                listener("wild", pb, "*.example.com", &[("www-tls", None)]),
                {"name": "plain", "port": 80, "protocol": "HTTP"}
            ]
        }}),
    )
    .await;
    set_addresses(client, name, "edge", &["127.0.0.1"]).await;
    gw::create(
        client,
        name,
        "HTTPRoute",
        json!({"metadata": {"name": "api"}, "spec": {
            "parentRefs": [{"name": "edge", "sectionName": "wild"}],
            "hostnames": ["api.example.com"],
            "rules": [{"backendRefs": [{"name": "api", "port": 80}]}]
        }}),
    )
    .await;
    gw::create(
        client,
        name,
        "GRPCRoute",
        json!({"metadata": {"name": "rpc"}, "spec": {
            "parentRefs": [{"name": "edge", "sectionName": "wild"}],
            "hostnames": ["rpc.example.com"],
            "rules": [{"backendRefs": [{"name": "rpc", "port": 9000}]}]
        }}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_listener_serving_another_certificate_than_its_secret_is_reported() {
    let Setup { client, ns, pki } = setup("gw-listener").await;
    let other = TestNamespace::new("gw-certs").await;
    let name = ns.name();

    // Listener `shop` names Secret shop-tls, but the gateway serves another certificate.
    let at_rest = pki.leaf(&Spec::leaf(&["shop.example.com"]));
    let served = pki.leaf(&Spec::leaf(&["shop.example.com", "foreign.example.com"]));
    let a = serve(&pki, &served).await;
    create(
        &ns.api(),
        &tls_secret("shop-tls", &at_rest.pem, &at_rest.key_pem()),
    )
    .await;
    // Listener `foreign` names a Secret of another namespace, holding the served certificate.
    create(
        &other.api(),
        &tls_secret("shared", &served.pem, &served.key_pem()),
    )
    .await;
    // Listener `wild` (*.example.com) serves the certificate of its Secret, which names only
    // www.example.com, while its HTTPRoute sends clients to api.example.com.
    let www = pki.leaf(&Spec::leaf(&["www.example.com"]));
    let b = serve(&pki, &www).await;
    create(&ns.api(), &tls_secret("www-tls", &www.pem, &www.key_pem())).await;

    let (pa, pb) = (a.addr.port(), b.addr.port());
    edge_gateway(&client, name, other.name(), pa, pb).await;

    let routes = Routes::default();
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
            "edge",
            json!({"gateways": {"selector": {"matchLabels": {"tier": "edge"}}}, "trust": trust()}),
        ),
    )
    .await;

    let status = wait_status(&audits, "edge", "the four listener names audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 4)
    })
    .await;
    assert_eq!(
        codes(&status, "gateway/edge", "shop.example.com"),
        set(&["gateway.secret_mismatch"]),
        "{status:#?}"
    );
    assert_eq!(
        codes(&status, "gateway/edge", "foreign.example.com"),
        set(&["gateway.ref_not_permitted"]),
        "{status:#?}"
    );
    for routed in ["api.example.com", "rpc.example.com"] {
        assert_eq!(
            codes(&status, "gateway/edge", routed),
            set(&["cert.hostname_mismatch", "gateway.host_not_covered"]),
            "{routed}: {status:#?}"
        );
    }
    let endpoint = status
        .endpoints
        .iter()
        .find(|e| e.server_name.as_deref() == Some("shop.example.com"))
        .unwrap();
    assert_eq!(endpoint.address, Some(format!("127.0.0.1:{pa}")));
    assert_eq!(condition(&status, "Ready").0, "True", "{status:#?}");

    // A ReferenceGrant in the Secret's namespace makes the reference valid: the Secret is read,
    // and it holds what is served.
    gw::create(
        &client,
        other.name(),
        "ReferenceGrant",
        json!({"metadata": {"name": "gateways-of-shop"}, "spec": {
            "from": [{"group": gw::GROUP, "kind": "Gateway", "namespace": name}],
            "to": [{"group": "", "kind": "Secret", "name": "shared"}]
        }}),
    )
    .await;
    audit_now(&audits, "edge").await;
    let status = wait_status(&audits, "edge", "the granted reference honoured", |s| {
        s.endpoints.iter().any(|e| {
            e.server_name.as_deref() == Some("foreign.example.com") && e.findings.is_empty()
        })
    })
    .await;
    assert_eq!(
        codes(&status, "gateway/edge", "foreign.example.com"),
        set(&[])
    );

    // Secret shop-tls renewed to what the gateway serves: the Secret watch triggers the audit (no
    // audit-now), and the mismatch is gone.
    renew(&ns.api(), "shop-tls", &served).await;
    wait_status(&audits, "edge", "the renewed Secret seen", |s| {
        s.endpoints
            .iter()
            .any(|e| e.server_name.as_deref() == Some("shop.example.com") && e.findings.is_empty())
    })
    .await;

    op.stop().await.expect("operator stops cleanly");
    drop(other);
}

/// Replaces the certificate and key of TLS Secret `name` with `leaf`'s.
async fn renew(api: &kube::Api<Secret>, name: &str, leaf: &Issued) {
    let patch = json!({"data": {
        "tls.crt": ByteString(leaf.pem.as_bytes().to_vec()),
        "tls.key": ByteString(leaf.key_pem().into_bytes()),
    }});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("renew the Secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_tls_policy_whose_hostname_the_backend_certificate_does_not_cover_is_reported() {
    let Setup { client, ns, pki } = setup("gw-backend").await;
    let name = ns.name();
    let routes = Routes::default();
    // The backend serves a certificate from the policy's CA, but for another name.
    let leaf = pki.leaf(&Spec::leaf(&["api.internal.example"]));
    let backend = serve(&pki, &leaf).await;
    routes.route(fake(40, 8443), backend.addr);
    create(&ns.api(), &service("api", &[], &[("https", 443)])).await;
    create(
        &ns.api(),
        &endpoint_slice("api-a", "api", "https", 8443, &["10.250.0.40"]),
    )
    .await;
    create(
        &ns.api(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some("backend-ca".into()),
                ..ObjectMeta::default()
            },
            data: Some([("ca.crt".to_owned(), pki.root.pem.clone())].into()),
            ..ConfigMap::default()
        },
    )
    .await;
    gw::create(
        &client,
        name,
        "BackendTLSPolicy",
        json!({"metadata": {"name": "api-tls"}, "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": "api", "sectionName": "https"}],
            "validation": {
                "hostname": "backend.example.internal",
                "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "backend-ca"}]
            }
        }}),
    )
    .await;
    let op = operator(&client, name, &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    // The audit trusts nothing itself: the backend is judged with the policy's CA alone.
    create(
        &audits,
        &audit(
            "backends",
            json!({"gateways": {}, "trust": {"systemRoots": false, "clusterCA": false}}),
        ),
    )
    .await;
    let status = wait_status(&audits, "backends", "the policy's backend audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 1)
    })
    .await;
    assert_eq!(
        codes(
            &status,
            "backendtlspolicy/api-tls",
            "backend.example.internal"
        ),
        set(&["cert.hostname_mismatch", "gateway.backend_tls_invalid"]),
        "{status:#?}"
    );
    let finding = status.endpoints[0]
        .findings
        .iter()
        .find(|f| f.code.to_string() == "gateway.backend_tls_invalid")
        .unwrap();
    assert_eq!(finding.severity.to_string(), "critical");
    assert!(
        finding.message.contains("BackendTLSPolicy api-tls"),
        "{}",
        finding.message
    );
    assert_eq!(
        status.endpoints[0].address.as_deref(),
        Some("10.250.0.40:8443")
    );
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_validation_in_allow_insecure_fallback_mode_is_reported() {
    let Setup { client, ns, pki } = setup("gw-fallback").await;
    let name = ns.name();
    let leaf = pki.leaf(&Spec::leaf(&["mtls.example.com"]));
    let server = serve(&pki, &leaf).await;
    create(
        &ns.api(),
        &tls_secret("mtls-tls", &leaf.pem, &leaf.key_pem()),
    )
    .await;
    let port = server.addr.port();
    gw::create(
        &client,
        name,
        "Gateway",
        json!({"metadata": {"name": "mtls"}, "spec": {
            "gatewayClassName": "example",
            "listeners": [listener("mtls", port, "mtls.example.com", &[("mtls-tls", None)])],
            "tls": {"frontend": {"default": {"validation": {
                "mode": "AllowInsecureFallback",
                "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "client-ca"}]
            }}}}
        }}),
    )
    .await;
    set_addresses(&client, name, "mtls", &["127.0.0.1"]).await;
    let routes = Routes::default();
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
        &audit("mtls", json!({"gateways": {}, "trust": trust()})),
    )
    .await;
    let status = wait_status(&audits, "mtls", "the listener audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 1)
    })
    .await;
    assert_eq!(
        codes(&status, "gateway/mtls", "mtls.example.com"),
        set(&["gateway.frontend_insecure_fallback"]),
        "{status:#?}"
    );
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_routes_of_passthrough_listeners_probe_their_backends_with_the_route_hostnames() {
    let Setup { client, ns, pki } = setup("gw-passthrough").await;
    let name = ns.name();
    let routes = Routes::default();
    let leaf = pki.leaf(&Spec::leaf(&["db.example.com"]));
    let backend = serve(&pki, &leaf).await;
    routes.route(fake(41, 5443), backend.addr);
    create(&ns.api(), &service("db", &[], &[("tls", 5443)])).await;
    create(
        &ns.api(),
        &endpoint_slice("db-a", "db", "tls", 5443, &["10.250.0.41"]),
    )
    .await;
    gw::create(
        &client,
        name,
        "Gateway",
        json!({"metadata": {"name": "tcp"}, "spec": {
            "gatewayClassName": "example",
            "listeners": [{"name": "pass", "port": 443, "protocol": "TLS", "tls": {"mode": "Passthrough"}}]
        }}),
    )
    .await;
    gw::create(
        &client,
        name,
        "TLSRoute",
        json!({"metadata": {"name": "db"}, "spec": {
            "parentRefs": [{"name": "tcp", "sectionName": "pass"}],
            "hostnames": ["db.example.com", "replica.example.com"],
            "rules": [{"backendRefs": [{"name": "db", "port": 5443}]}]
        }}),
    )
    .await;
    let op = operator(&client, name, &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit("tcp", json!({"gateways": {}, "trust": trust()})),
    )
    .await;
    let status = wait_status(&audits, "tcp", "both route hostnames audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 2)
    })
    .await;
    assert_eq!(codes(&status, "tlsroute/db", "db.example.com"), set(&[]));
    assert_eq!(
        codes(&status, "tlsroute/db", "replica.example.com"),
        set(&["cert.hostname_mismatch"]),
        "{status:#?}"
    );
    assert!(
        status
            .endpoints
            .iter()
            .all(|e| e.address.as_deref() == Some("10.250.0.41:5443")),
        "{status:#?}"
    );
    op.stop().await.expect("operator stops cleanly");
}
