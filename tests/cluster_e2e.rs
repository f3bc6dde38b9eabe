//! `spec.cluster` end to end against the real kube-apiserver of scripts/control-plane.sh: real
//! ValidatingWebhookConfigurations, an APIService and a CRD conversion webhook point at a real Service whose EndpointSlice
//! address is routed to a real rustls server on loopback (`support::audit`), and the operator,
//! in-process with `--cluster-audits on`, checks each caBundle against the served chain.
//!
//! Safety: these objects are live in the test apiserver. The webhooks match only a made-up API
//! group that nothing serves (and an object label nobody sets); the APIService serves a made-up
//! group/version; the CRD has one version, so its conversion webhook is never called. Both are deleted when the test ends, passed or failed (`support::cluster::Cleanup`), before the
//! namespace, so that no request of another test is intercepted and discovery stays whole.

mod support;

use std::collections::BTreeSet;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::Client;
use serde_json::json;
use support::audit::{
    Routes, audit, condition, create, endpoint_slice, fake, install_tlsaudit_crd, operator,
    service, wait_status,
};
use support::cluster::{Cleanup, create_cluster};
use support::kube::TestNamespace;
use support::pki::{Hierarchy, Spec};
use support::tls_server::{self, ClientAuth};
use tlsaudit::crd::{TlsAudit, TlsAuditStatus};

/// Held by each test for its whole run: while the unavailable APIService exists, a parallel test's
/// namespace cleanup could meet a discovery error for its group.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The made-up API group the test's webhooks match and its APIService serves.
const GROUP: &str = "e2e.tlsaudit.invalid";

/// `(code, severity)` of the findings of the endpoint whose status target is `target`.
fn findings_of(status: &TlsAuditStatus, target: &str) -> BTreeSet<(String, String)> {
    status
        .endpoints
        .iter()
        .filter(|e| e.target == target)
        .flat_map(|e| {
            e.findings
                .iter()
                .map(|f| (f.code.to_string(), f.severity.to_string()))
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
        .collect()
}

/// A webhook on Service `namespace/hook` (port 443 by default) that can never be called: it
/// matches only [`GROUP`], which nothing serves, and objects labelled `tlsaudit.dev/e2e: never`.
fn webhook(name: &str, namespace: &str, ca_pem: &str, failure_policy: &str) -> serde_json::Value {
    // ByteString serialises as base64, the wire form of caBundle.
    let ca_bundle = serde_json::to_value(k8s_openapi::ByteString(ca_pem.as_bytes().to_vec()))
        .expect("caBundle");
    json!({
        "name": name,
        "clientConfig": {
            "service": {"namespace": namespace, "name": "hook", "path": "/validate"},
            "caBundle": ca_bundle,
        },
        "rules": [{"apiGroups": [GROUP], "apiVersions": ["v1"], "operations": ["CREATE"],
                   "resources": ["nothings"], "scope": "*"}],
        "objectSelector": {"matchLabels": {"tlsaudit.dev/e2e": "never"}},
        "failurePolicy": failure_policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 1,
    })
}

/// The names of the test's webhook configurations (wrong caBundle, right caBundle) and APIService.
fn names(namespace: &str) -> (String, String, String) {
    (
        format!("tlsaudit-e2e-wrong-{namespace}"),
        format!("tlsaudit-e2e-right-{namespace}"),
        format!("v1.{GROUP}"),
    )
}

/// The test's CRD with a conversion webhook: one version only, so the apiserver never converts.
const CRD: &str = "widgets.e2e.tlsaudit.invalid";

/// Registers, for Service `namespace/hook`: a configuration whose two webhooks (failurePolicy Fail and
/// Ignore) trust `wrong_ca`, one whose webhook trusts `right_ca`, an APIService with
/// insecureSkipTLSVerify, and a CRD whose conversion webhook trusts `wrong_ca`. The guard deletes
/// them all.
async fn register(client: &Client, namespace: &str, right_ca: &str, wrong_ca: &str) -> Cleanup {
    let (wrong, right, api_name) = names(namespace);
    let cleanup = Cleanup {
        config: support::kube::config().await,
        webhooks: vec![wrong.clone(), right.clone()],
        api_services: vec![api_name.clone()],
        crds: vec![CRD.to_owned()],
    };
    let _: ValidatingWebhookConfiguration = create_cluster(
        client,
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": wrong},
            "webhooks": [
                webhook("fail.e2e.tlsaudit.invalid", namespace, wrong_ca, "Fail"),
                webhook("ignore.e2e.tlsaudit.invalid", namespace, wrong_ca, "Ignore"),
            ],
        }),
    )
    .await;
    let _: ValidatingWebhookConfiguration = create_cluster(
        client,
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": right},
            "webhooks": [webhook("ok.e2e.tlsaudit.invalid", namespace, right_ca, "Ignore")],
        }),
    )
    .await;
    let _: APIService = create_cluster(
        client,
        json!({
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": api_name},
            "spec": {
                "group": GROUP, "version": "v1",
                "service": {"namespace": namespace, "name": "hook"},
                "insecureSkipTLSVerify": true,
                "groupPriorityMinimum": 1000, "versionPriority": 15,
            },
        }),
    )
    .await;
    let _: CustomResourceDefinition =
        create_cluster(client, conversion_crd(namespace, wrong_ca)).await;
    cleanup
}

/// [`CRD`], converted by a webhook on Service `namespace/hook` that trusts `ca_pem`.
fn conversion_crd(namespace: &str, ca_pem: &str) -> serde_json::Value {
    let ca_bundle = serde_json::to_value(k8s_openapi::ByteString(ca_pem.as_bytes().to_vec()))
        .expect("caBundle");
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD},
        "spec": {
            "group": GROUP,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}],
            "conversion": {"strategy": "Webhook", "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": {"service": {"namespace": namespace, "name": "hook", "path": "/convert"},
                                 "caBundle": ca_bundle},
            }},
        },
    })
}

/// A rustls server for `hook.<namespace>.svc` (leaf and intermediate of `pki`), behind Service `hook`
/// (port 443, named https) whose one EndpointSlice address 10.250.0.41:9443 `routes` sends to it.
async fn serve_hook(ns: &TestNamespace, pki: &Hierarchy, routes: &Routes) -> tls_server::Server {
    let host = format!("hook.{}.svc", ns.name());
    let leaf = pki.leaf(&Spec::leaf(&[&host]));
    let server = tls_server::start(
        tls_server::config(
            vec![leaf.der.clone(), pki.intermediate.der.clone()],
            leaf.key_der(),
            ClientAuth::None,
            &["http/1.1"],
        ),
        "",
    )
    .await;
    routes.route(fake(41, 9443), server.addr);
    create(&ns.api(), &service("hook", &[], &[("https", 443)])).await;
    create(
        &ns.api(),
        &endpoint_slice("hook-a", "hook", "https", 9443, &["10.250.0.41"]),
    )
    .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_ca_bundle_from_another_ca_is_reported_and_the_right_one_is_not() {
    let _serial = SERIAL.lock().await;
    let ns = TestNamespace::new("webhooks").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let pki = Hierarchy::new();
    let other = Hierarchy::new();
    let host = format!("hook.{}.svc", ns.name());
    let routes = Routes::default();
    let _server = serve_hook(&ns, &pki, &routes).await;
    let (wrong, right, api_name) = names(ns.name());
    let _cleanup = register(&client, ns.name(), &pki.root.pem, &other.root.pem).await;

    let op = operator(
        &client,
        ns.name(),
        &routes,
        &[
            "--cluster-audits",
            "on",
            "--cluster-audit-namespace",
            ns.name(),
        ],
    )
    .await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "cluster",
            json!({"cluster": {"webhooks": true, "apiServices": true, "conversionWebhooks": true}}),
        ),
    )
    .await;
    let fail = format!("validatingwebhook/{wrong}/fail.e2e.tlsaudit.invalid");
    let ignore = format!("validatingwebhook/{wrong}/ignore.e2e.tlsaudit.invalid");
    let ok = format!("validatingwebhook/{right}/ok.e2e.tlsaudit.invalid");
    let api = format!("apiservice/{api_name}");
    let conversion = format!("crdconversion/{CRD}");
    let status = wait_status(&audits, "cluster", "the webhooks and the APIService", |s| {
        [&fail, &ignore, &ok, &api, &conversion]
            .iter()
            .all(|t| s.endpoints.iter().any(|e| &e.target == *t))
    })
    .await;

    // Another CA: critical when the apiserver's failed calls fail requests, high when ignored.
    for (target, severity) in [
        (&fail, "critical"),
        (&ignore, "high"),
        (&conversion, "critical"),
    ] {
        // cert.untrusted would say the same: the mismatch replaces it.
        let expected = [("webhook.ca_bundle_mismatch", severity)];
        assert_eq!(
            findings_of(&status, target),
            pairs(&expected),
            "{target}: {status:#?}"
        );
    }
    assert_eq!(findings_of(&status, &ok), pairs(&[]), "{status:#?}");
    assert_eq!(
        findings_of(&status, &api),
        pairs(&[("webhook.insecure_skip_tls_verify", "high")]),
        "{status:#?}"
    );
    let mismatch = status
        .endpoints
        .iter()
        .find(|e| e.target == fail)
        .and_then(|e| {
            e.findings
                .iter()
                .find(|f| f.code.as_str() == "webhook.ca_bundle_mismatch")
        })
        .expect("mismatch finding");
    assert!(
        mismatch.message.contains(&format!(
            "ValidatingWebhookConfiguration {wrong}, webhook fail.e2e.tlsaudit.invalid"
        )),
        "{}",
        mismatch.message
    );
    // Dialled as the apiserver dials it: the Service port, SNI <service>.<namespace>.svc.
    let endpoint = status
        .endpoints
        .iter()
        .find(|e| e.target == ok)
        .expect("ok");
    assert_eq!(endpoint.server_name.as_deref(), Some(host.as_str()));
    assert_eq!(endpoint.address.as_deref(), Some("10.250.0.41:9443"));
    assert_eq!(endpoint.port, 443);
    assert_eq!(condition(&status, "Ready").0, "True");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_cluster_is_refused_when_the_operator_runs_without_cluster_audits() {
    let _serial = SERIAL.lock().await;
    let ns = TestNamespace::new("webhooks-off").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let routes = Routes::default();
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit("cluster", json!({"cluster": {"webhooks": true}})),
    )
    .await;
    let status = wait_status(&audits, "cluster", "Ready=False", |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "False")
    })
    .await;
    let (_, reason, message) = condition(&status, "Ready");
    assert_eq!(reason, "ClusterAuditsDisabled");
    assert!(message.contains("--cluster-audits on"), "{message}");
    assert_eq!(status.endpoints.len(), 0);
    op.stop().await.expect("operator stops cleanly");
}
