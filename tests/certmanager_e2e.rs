//! cert-manager Certificates end to end, against the real kube-apiserver of
//! scripts/control-plane.sh with cert-manager's own v1.21.2 CRDs (the pinned upstream YAML of
//! `scripts/toolchain.sh path crds-cert-manager`). No cert-manager controller runs: each test
//! writes the Certificate's status through the status subresource itself, as cert-manager would.
//! Probes reach real rustls servers on loopback (see `support::audit`). Exact codes asserted.
//!
//! The CRD is cluster-wide and one test removes it: tests that need it hold [`CRD`] for reading,
//! the test without it for writing, so they never overlap. The tests label the CRD they install;
//! a CRD they did not install (a real cert-manager, `--existing-cluster`) is used as it is and never
//! removed: the test that needs it absent then fails and says why.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use support::audit::{
    Routes, audit, codes_at, condition, create, endpoint_slice, fake, install_tlsaudit_crd,
    operator, scrape, secret, tls_secret, wait_status,
};
use support::kube::{TEST_LABEL, TestNamespace, install_crd};
use support::pki::{Hierarchy, Issued, Spec};
use support::tls_server::{self, ClientAuth, Server};
use tlsaudit::controller::certmanager::{CERTIFICATE_ANNOTATION, Certificate};
use tlsaudit::crd::{TlsAudit, TlsAuditStatus};

/// Tests that need the cert-manager CRD read-lock it; the test that removes it write-locks it.
static CRD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const CRD_NAME: &str = "certificates.cert-manager.io";
const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

fn codes(status: &TlsAuditStatus, address: &str) -> BTreeSet<String> {
    codes_at(status, address).into_iter().collect()
}

/// cert-manager's Certificate CRD, from the pinned upstream manifest.
fn certificate_crd() -> CustomResourceDefinition {
    let out = std::process::Command::new("bash")
        .args(["scripts/toolchain.sh", "path", "crds-cert-manager"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/toolchain.sh");
    assert!(out.status.success(), "toolchain.sh path crds-cert-manager");
    let dir = String::from_utf8(out.stdout).expect("utf-8 path");
    let path = format!("{}/cert-manager.io_certificates.yaml", dir.trim());
    let text = std::fs::read_to_string(&path).expect("read the pinned Certificate CRD");
    serde_yaml::from_str(&text).expect("the Certificate CRD")
}

/// Lists Certificates until the apiserver answers `served` (true: 200, false: 404).
async fn wait_served(client: &Client, served: bool) {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource());
    let mut seen = false;
    for _ in 0..300 {
        seen = match api.list_metadata(&ListParams::default().limit(1)).await {
            Ok(_) => served,
            Err(kube::Error::Api(s)) => s.code == 404 && !served,
            Err(_) => false,
        };
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "Certificates never became served={served}");
}

/// Whether the cluster's Certificate CRD exists and was installed by someone else than these tests
/// (cert-manager itself, on a cluster of `scripts/test.sh --existing-cluster`).
async fn foreign_crd(client: &Client) -> bool {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.get_opt(CRD_NAME)
        .await
        .expect("get CRD")
        .is_some_and(|crd| {
            !crd.metadata
                .labels
                .unwrap_or_default()
                .contains_key(TEST_LABEL)
        })
}

/// Installs the pinned CRD, labelled as the tests', unless cert-manager's own is there: that one is
/// used as it is, never overwritten.
async fn install_cert_manager(client: &Client) {
    if !foreign_crd(client).await {
        let mut crd = certificate_crd();
        crd.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(TEST_LABEL.to_owned(), "true".to_owned());
        install_crd(client, &crd).await;
    }
    wait_served(client, true).await;
}

/// Removes the CRD these tests installed. Refuses to remove one they did not install: that would
/// delete every Certificate of a real cluster.
async fn remove_cert_manager(client: &Client) {
    assert!(
        !foreign_crd(client).await,
        "{CRD_NAME} was not installed by these tests (cert-manager runs in this cluster?): this test \
         removes the CRD, which would delete every Certificate; run it on scripts/control-plane.sh"
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let deleted = crds.delete(CRD_NAME, &DeleteParams::default()).await;
    assert!(
        deleted.is_ok() || matches!(&deleted, Err(kube::Error::Api(s)) if s.code == 404),
        "delete CRD {CRD_NAME}: {deleted:?}"
    );
    for _ in 0..300 {
        if crds.get_opt(CRD_NAME).await.expect("get CRD").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_served(client, false).await;
}

fn resource() -> ApiResource {
    ApiResource::erase::<Certificate>(&())
}

/// Creates Certificate `name` for Secret `secret` with `dns_names`, and writes its `status`
/// through the status subresource (what cert-manager's controllers would do).
async fn certificate(
    ns: &TestNamespace,
    name: &str,
    secret: &str,
    dns_names: &[&str],
    status: serde_json::Value,
) {
    let api: Api<DynamicObject> = Api::namespaced_with(ns.client(), ns.name(), &resource());
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name},
        "spec": {"secretName": secret, "dnsNames": dns_names,
                 "issuerRef": {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}}
    }))
    .expect("certificate");
    create(&api, &object).await;
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .expect("certificate status");
}

/// A Ready=True status with `revision`: issued a day ago, renewal due in 59 days.
fn ready(revision: i64) -> serde_json::Value {
    let now = jiff::Timestamp::now();
    let at = |days: i64| (now + jiff::SignedDuration::from_hours(24 * days)).to_string();
    json!({
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                        "message": "Certificate is up to date and has not expired",
                        "lastTransitionTime": at(-1)}],
        "notBefore": at(-1), "notAfter": at(89), "renewalTime": at(59), "revision": revision
    })
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

async fn setup(label: &str) -> (TestNamespace, Hierarchy, Routes) {
    let ns = TestNamespace::new(label).await;
    install_tlsaudit_crd(&ns.client()).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    (ns, pki, Routes::default())
}

/// A Service `name` annotated with `certificate`, one ready address `ip` on port https 443.
async fn annotated_service(ns: &TestNamespace, name: &str, certificate: &str, ip: &str) {
    let mut svc = support::audit::service(name, &[("app", name)], &[("https", 443)]);
    svc.metadata.annotations =
        Some([(CERTIFICATE_ANNOTATION.to_owned(), certificate.to_owned())].into());
    create(&ns.api::<Service>(), &svc).await;
    create(
        &ns.api(),
        &endpoint_slice(&format!("{name}-a"), name, "https", 443, &[ip]),
    )
    .await;
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

fn reconcile_errors(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("tlsaudit_reconcile_errors_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_secret_that_the_server_never_reloaded_is_a_stale_reload() {
    let _crd = CRD.read().await;
    let (ns, pki, routes) = setup("cm-stale").await;
    let client = ns.client();
    install_cert_manager(&client).await;
    let host = format!("web.{}.svc", ns.name());
    // The Pod loaded certificate A 50 days ago; cert-manager since renewed the Secret to B.
    let old = pki.leaf(&Spec::leaf(&[&host]).valid(-50, 40));
    let renewed = pki.leaf(&Spec::leaf(&[&host]).valid(-1, 89));
    let server = serve(&pki, &old).await;
    routes.route(fake(1, 443), server.addr);
    create(
        &ns.api(),
        &tls_secret("web-tls", &renewed.pem, &renewed.key_pem()),
    )
    .await;
    certificate(&ns, "web", "web-tls", &[&host], ready(2)).await;
    annotated_service(&ns, "web", "web", "10.250.0.1").await;

    let op = operator(&client, ns.name(), &routes, &["--discovery-interval", "1s"]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "web",
            json!({"services": {"perEndpoint": true}, "trust": trust()}),
        ),
    )
    .await;
    let status = wait_status(&audits, "web", "the endpoint audited", |s| {
        !s.endpoints.is_empty()
    })
    .await;
    assert_eq!(
        codes(&status, "10.250.0.1:443"),
        set(&["certmanager.stale_reload"]),
        "{status:#?}"
    );
    let finding = status.endpoints[0]
        .findings
        .iter()
        .find(|f| f.code.to_string() == "certmanager.stale_reload")
        .expect("the finding");
    assert_eq!(finding.severity.to_string(), "high");
    assert!(
        finding.message.contains("revision 2"),
        "{}",
        finding.message
    );
    assert_eq!(condition(&status, "Ready").0, "True");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_certificates_not_ready_overdue_or_missing_the_host_are_reported() {
    let _crd = CRD.read().await;
    let (ns, pki, routes) = setup("cm-ingress").await;
    let client = ns.client();
    install_cert_manager(&client).await;
    let now = jiff::Timestamp::now();
    let at = |hours: i64| (now + jiff::SignedDuration::from_hours(hours)).to_string();
    // Each host: the Secret holds what is served, so only the Certificate itself is judged.
    let mut hosts = Vec::new();
    for (i, name) in ["failing", "overdue", "narrow"].iter().enumerate() {
        let host = format!("{name}.example.test");
        let leaf = pki.leaf(&Spec::leaf(&[&host]));
        create(
            &ns.api(),
            &tls_secret(&format!("{name}-tls"), &leaf.pem, &leaf.key_pem()),
        )
        .await;
        let server = serve(&pki, &leaf).await;
        let n = u16::try_from(i + 1).unwrap();
        routes.route(fake(n, 443), server.addr);
        ingress(
            &ns,
            name,
            &host,
            &format!("{name}-tls"),
            &format!("10.250.0.{n}"),
        )
        .await;
        hosts.push((server, host));
    }
    let failing = json!({
        "conditions": [{"type": "Ready", "status": "False", "reason": "Failed",
                        "message": "The certificate request has failed to complete and will be retried",
                        "lastTransitionTime": at(-2)}],
        "revision": 1, "failedIssuanceAttempts": 1, "lastFailureTime": at(-2)
    });
    certificate(&ns, "failing", "failing-tls", &[&hosts[0].1], failing).await;
    let mut overdue = ready(1);
    overdue["renewalTime"] = json!(at(-3));
    certificate(&ns, "overdue", "overdue-tls", &[&hosts[1].1], overdue).await;
    certificate(&ns, "narrow", "narrow-tls", &["www.example.test"], ready(1)).await;

    let op = operator(&client, ns.name(), &routes, &["--discovery-interval", "1s"]).await;
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
    assert_eq!(
        codes(&status, "10.250.0.1:443"),
        set(&["certmanager.not_ready"]),
        "{status:#?}"
    );
    assert_eq!(
        codes(&status, "10.250.0.2:443"),
        set(&["certmanager.renewal_overdue"]),
        "{status:#?}"
    );
    assert_eq!(
        codes(&status, "10.250.0.3:443"),
        set(&["certmanager.name_not_covered"]),
        "{status:#?}"
    );
    let severities: BTreeSet<String> = status
        .endpoints
        .iter()
        .flat_map(|e| e.findings.iter().map(|f| f.severity.to_string()))
        .collect();
    assert_eq!(severities, set(&["high"]));
    let failing = status
        .endpoints
        .iter()
        .find(|e| e.target == "ingress/failing")
        .expect("failing");
    assert!(
        failing.findings[0]
            .message
            .contains("Failed: The certificate request has failed"),
        "{}",
        failing.findings[0].message
    );
    assert_eq!(condition(&status, "Ready").0, "True");
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cert_manager_only_audits_naming_a_certificate_get_a_condition_while_it_is_absent()
{
    let _crd = CRD.write().await;
    let (ns, pki, routes) = setup("cm-absent").await;
    let client = ns.client();
    remove_cert_manager(&client).await;
    let host = format!("web.{}.svc", ns.name());
    let leaf = pki.leaf(&Spec::leaf(&[&host]));
    let server = serve(&pki, &leaf).await;
    routes.route(fake(1, 443), server.addr);
    annotated_service(&ns, "web", "web", "10.250.0.1").await;
    let shop = pki.leaf(&Spec::leaf(&["shop.example.test"]));
    create(
        &ns.api(),
        &tls_secret("shop-tls", &shop.pem, &shop.key_pem()),
    )
    .await;
    let shop_server = serve(&pki, &shop).await;
    routes.route(fake(2, 443), shop_server.addr);
    ingress(&ns, "shop", "shop.example.test", "shop-tls", "10.250.0.2").await;

    let op = operator(&client, ns.name(), &routes, &["--discovery-interval", "1s"]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "named",
            json!({"services": {"perEndpoint": true}, "trust": trust()}),
        ),
    )
    .await;
    create(
        &audits,
        &audit("implicit", json!({"ingresses": {}, "trust": trust()})),
    )
    .await;
    let named = wait_status(&audits, "named", "the service audited", |s| {
        !s.endpoints.is_empty()
    })
    .await;
    let (state, reason, message) = condition(&named, "Ready");
    assert_eq!((state, reason), ("False", "CertManagerNotInstalled"));
    assert!(
        message
            .contains("tlsaudit.dev/certificate annotation of Service web names Certificate web"),
        "{message}"
    );
    assert_eq!(codes(&named, "10.250.0.1:443"), set(&[]), "{named:#?}");
    let implicit = wait_status(&audits, "implicit", "the ingress audited", |s| {
        !s.endpoints.is_empty()
    })
    .await;
    assert_eq!(condition(&implicit, "Ready").0, "True");
    assert_eq!(
        codes(&implicit, "10.250.0.2:443"),
        set(&[]),
        "{implicit:#?}"
    );
    // Several discovery intervals pass: no reconcile error, no error loop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reconcile_errors(&scrape(op.metrics_addr()).await), 0);

    // cert-manager is installed: the operator notices, and the named Certificate links without a
    // change to the audit.
    install_cert_manager(&client).await;
    create(
        &ns.api(),
        &tls_secret("web-tls", &leaf.pem, &leaf.key_pem()),
    )
    .await;
    certificate(&ns, "web", "web-tls", &[&host], ready(1)).await;
    let named = wait_status(
        &audits,
        "named",
        "Ready=True once Certificates are served",
        |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        },
    )
    .await;
    assert_eq!(condition(&named, "Ready").1, "Audited");
    assert_eq!(codes(&named, "10.250.0.1:443"), set(&[]), "{named:#?}");

    // cert-manager is removed again: its watch finds the kind gone and the condition comes back.
    remove_cert_manager(&client).await;
    let named = wait_status(
        &audits,
        "named",
        "Ready=False once Certificates are gone",
        |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.reason == "CertManagerNotInstalled")
        },
    )
    .await;
    assert_eq!(codes(&named, "10.250.0.1:443"), set(&[]), "{named:#?}");
    assert_eq!(reconcile_errors(&scrape(op.metrics_addr()).await), 0);
    op.stop().await.expect("operator stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cert_manager_example_is_accepted_by_the_apiserver() {
    let _crd = CRD.read().await;
    let ns = TestNamespace::new("cm-example").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    install_cert_manager(&client).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cert-manager.yaml");
    let text = std::fs::read_to_string(path).expect("read the example");
    let dry_run = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    let mut kinds = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let yaml = <serde_yaml::Value as serde::Deserialize>::deserialize(document).expect("yaml");
        let value = serde_json::to_value(yaml).expect("json");
        let kind = value["kind"].as_str().expect("kind").to_owned();
        match kind.as_str() {
            "Certificate" => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), ns.name(), &resource());
                let object: DynamicObject = serde_json::from_value(value).expect("certificate");
                api.create(&dry_run, &object)
                    .await
                    .expect("the Certificate is valid");
            }
            "Service" => {
                let object: Service = serde_json::from_value(value).expect("service");
                ns.api::<Service>()
                    .create(&dry_run, &object)
                    .await
                    .expect("the Service is valid");
            }
            "TlsAudit" => {
                let object: TlsAudit = serde_json::from_value(value).expect("audit");
                assert_eq!(
                    object.spec.endpoints[0].certificate.as_deref(),
                    Some("legacy")
                );
                ns.api::<TlsAudit>()
                    .create(&dry_run, &object)
                    .await
                    .expect("the TlsAudit is valid");
            }
            other => panic!("unexpected kind {other} in the example"),
        }
        kinds.push(kind);
    }
    assert_eq!(kinds, vec!["Certificate", "Service", "TlsAudit"]);
}

/// A client that acts as ServiceAccount `sa` of `ns`, which a Role there allows what the operator
/// needs for an audit of that namespace, but not cert-manager Certificates (chart
/// `rbac.certManager: false`).
async fn client_without_certificate_rights(ns: &TestNamespace) -> Client {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "operator"},
        "rules": [
            {"apiGroups": ["tlsaudit.dev"], "resources": ["tlsaudits"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["tlsaudit.dev"], "resources": ["tlsaudits/status"], "verbs": ["patch", "update"]},
            {"apiGroups": [""], "resources": ["services", "configmaps", "secrets"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]}
        ]
    }))
    .expect("role");
    create(&ns.api::<Role>(), &role).await;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "operator"},
        "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": ns.name()}]
    }))
    .expect("binding");
    create(&ns.api::<RoleBinding>(), &binding).await;
    let mut config = support::kube::config().await;
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{}:operator", ns.name()));
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".into(),
        "system:authenticated".into(),
    ]);
    Client::try_from(config).expect("impersonating client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rights_on_certificates_only_audits_naming_one_get_a_condition() {
    let _crd = CRD.read().await;
    let (ns, pki, routes) = setup("cm-forbidden").await;
    let client = ns.client();
    install_cert_manager(&client).await;
    let host = format!("web.{}.svc", ns.name());
    let leaf = pki.leaf(&Spec::leaf(&[&host]));
    let server = serve(&pki, &leaf).await;
    routes.route(fake(1, 443), server.addr);
    annotated_service(&ns, "web", "web", "10.250.0.1").await;
    certificate(&ns, "web", "web-tls", &[&host], ready(1)).await;

    let restricted = client_without_certificate_rights(&ns).await;
    let op = operator(
        &restricted,
        ns.name(),
        &routes,
        &["--discovery-interval", "1s"],
    )
    .await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "named",
            json!({"services": {"perEndpoint": true}, "trust": trust()}),
        ),
    )
    .await;
    let named = wait_status(&audits, "named", "the service audited", |s| {
        !s.endpoints.is_empty()
    })
    .await;
    let (state, reason, message) = condition(&named, "Ready");
    assert_eq!((state, reason), ("False", "CertificatesForbidden"));
    assert!(message.contains("rbac.certManager"), "{message}");
    assert_eq!(codes(&named, "10.250.0.1:443"), set(&[]), "{named:#?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reconcile_errors(&scrape(op.metrics_addr()).await), 0);
    op.stop().await.expect("operator stops cleanly");
}
