//! Whole reconciles against a fake context (`controller::fixtures`): hand-built Services,
//! EndpointSlices and Ingresses in the informer caches, a table of canned probe facts, and a fake
//! apiserver that serves Secrets and records the status and Events written. No apiserver, no
//! socket; the steps between plan and status are the real ones.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::runtime::controller::Action;
use serde_json::json;

use super::*;
use crate::controller::fixtures::{
    Cluster, FakeApiserver, FakeProbes, audit, context, healthy, ingress, port, service, slice,
};
use crate::crd::{EndpointStatus, TlsAuditStatus};
use crate::findings::{Code, Severity};
use crate::grade::Grade;

#[test]
fn intervals_parse_as_go_durations() {
    assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
    assert!(parse_interval("soon").unwrap_err().contains("soon"));
}

#[test]
fn jitter_stays_within_ten_percent() {
    for _ in 0..100 {
        let d = jittered(Duration::from_secs(3600)).as_secs_f64();
        assert!((3240.0..=3960.0).contains(&d), "{d}");
    }
}

/// `web` in `shop`: Service port https (443) → target port 8443 on two ready replicas.
fn two_replicas() -> Cluster {
    Cluster {
        services: vec![service("web", &[], vec![port(Some("https"), 443)])],
        slices: vec![slice(
            "web",
            Some("https"),
            8443,
            &[("10.0.0.1", Some(true)), ("10.0.0.2", Some(true))],
        )],
        ..Cluster::default()
    }
}

fn codes(endpoint: &EndpointStatus) -> Vec<(Code, Severity)> {
    endpoint
        .findings
        .iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

fn condition<'a>(status: &'a TlsAuditStatus, type_: &str) -> (&'a str, &'a str) {
    let c = status.conditions.iter().find(|c| c.type_ == type_).unwrap();
    (c.status.as_str(), c.reason.as_str())
}

fn only_status(api: &FakeApiserver) -> TlsAuditStatus {
    let statuses = api.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    statuses.into_iter().next().unwrap()
}

#[tokio::test]
async fn every_ready_replica_is_probed_judged_and_written_to_the_status() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    let sha = "aa".repeat(32);
    probes.answer("10.0.0.1:8443", healthy("web.shop.svc", &sha));
    probes.answer("10.0.0.2:8443", healthy("web.shop.svc", &sha));
    let web = audit("web", "shop", json!({"services": {"perEndpoint": true}}));
    let ctx = context(&two_replicas(), &api, &probes);

    let action = reconcile(Arc::clone(&web), Arc::clone(&ctx)).await.unwrap();

    assert_ne!(action, Action::await_change());
    assert_eq!(probes.calls(), 2);
    let status = only_status(&api);
    let addresses: Vec<Option<&str>> = status
        .endpoints
        .iter()
        .map(|e| e.address.as_deref())
        .collect();
    assert_eq!(
        addresses,
        vec![Some("10.0.0.1:8443"), Some("10.0.0.2:8443")]
    );
    for endpoint in &status.endpoints {
        assert_eq!(endpoint.target, "service/web");
        assert_eq!(endpoint.server_name.as_deref(), Some("web.shop.svc"));
        assert_eq!(codes(endpoint), vec![]);
        assert_eq!(endpoint.grade, Some(Grade::APlus));
    }
    let summary = status.summary.as_ref().unwrap();
    assert_eq!((summary.endpoints, summary.compliant), (2, 2));
    assert_eq!(summary.grade, Some(Grade::APlus));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(condition(&status, "Ready"), ("True", "Audited"));
    assert_eq!(condition(&status, "Compliant"), ("True", "Compliant"));
    assert_eq!(api.event_reasons(), Vec::<String>::new());
    let text = ctx.metrics.render().unwrap();
    assert!(
        text.contains(r#"tlsaudit_audit_endpoints{audit="web",namespace="shop"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn replicas_serving_different_leaves_are_each_reported_inconsistent() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    probes.answer("10.0.0.1:8443", healthy("web.shop.svc", &"aa".repeat(32)));
    probes.answer("10.0.0.2:8443", healthy("web.shop.svc", &"bb".repeat(32)));
    let web = audit("web", "shop", json!({"services": {"perEndpoint": true}}));
    let ctx = context(&two_replicas(), &api, &probes);

    reconcile(web, ctx).await.unwrap();

    let status = only_status(&api);
    assert_eq!(status.endpoints.len(), 2);
    for endpoint in &status.endpoints {
        assert_eq!(
            codes(endpoint),
            vec![(Code::BackendInconsistent, Severity::High)]
        );
        // Cluster findings cap no letter (docs/grading.md), but A+ allows nothing above low.
        assert_eq!(endpoint.grade, Some(Grade::A));
    }
    let summary = status.summary.unwrap();
    assert_eq!((summary.findings.high, summary.compliant), (2, 2));
}

#[tokio::test]
async fn an_explicit_endpoint_on_loopback_is_refused_without_a_probe() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    let local = audit(
        "local",
        "shop",
        json!({"endpoints": [{"host": "127.0.0.1", "port": 443}]}),
    );
    let ctx = context(&Cluster::default(), &api, &probes);

    reconcile(local, ctx).await.unwrap();

    assert_eq!(probes.calls(), 0);
    let status = only_status(&api);
    let endpoint = &status.endpoints[0];
    assert_eq!(endpoint.target, "endpoint/127.0.0.1");
    assert_eq!(codes(endpoint), vec![(Code::TargetRefused, Severity::High)]);
    assert_eq!(endpoint.grade, Some(Grade::F));
    assert_eq!(condition(&status, "Compliant"), ("False", "NonCompliant"));
}

/// A kubernetes.io/tls Secret of namespace `shop` holding a self-signed leaf for `host`.
fn tls_secret(name: &str, host: &str) -> serde_json::Value {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("shop".into()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some([("tls.crt".to_owned(), ByteString(pem.into_bytes()))].into()),
        ..Secret::default()
    };
    serde_json::to_value(secret).unwrap()
}

#[tokio::test]
async fn ingress_secrets_are_read_once_and_checked_against_the_served_leaf() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    api.put(
        "/api/v1/namespaces/shop/secrets/shop-tls",
        tls_secret("shop-tls", "shop.example.com"),
    );
    probes.answer(
        "10.1.2.3:443",
        healthy("shop.example.com", &"cc".repeat(32)),
    );
    let cluster = Cluster {
        ingresses: vec![
            ingress(
                "shop",
                &["shop.example.com", "www.shop.example.com"],
                Some("shop-tls"),
                Some("10.1.2.3"),
            ),
            ingress(
                "api",
                &["api.example.com"],
                Some("api-tls"),
                Some("10.1.2.3"),
            ),
        ],
        ..Cluster::default()
    };
    let edge = audit("edge", "shop", json!({"ingresses": {}}));
    let ctx = context(&cluster, &api, &probes);

    reconcile(edge, ctx).await.unwrap();

    let status = only_status(&api);
    let by_name: Vec<(&str, Vec<(Code, Severity)>)> = status
        .endpoints
        .iter()
        .map(|e| (e.server_name.as_deref().unwrap(), codes(e)))
        .collect();
    assert_eq!(
        by_name,
        vec![
            // The probes of 10.1.2.3 see a leaf for shop.example.com only; worst first, then by
            // origin (ingress/api before ingress/shop).
            (
                "api.example.com",
                vec![
                    (Code::CertHostnameMismatch, Severity::High),
                    (Code::IngressSecretMissing, Severity::High),
                ]
            ),
            (
                "www.shop.example.com",
                vec![
                    (Code::CertHostnameMismatch, Severity::High),
                    (Code::IngressHostNotCovered, Severity::High),
                    (Code::IngressSecretMismatch, Severity::Medium),
                ]
            ),
            (
                "shop.example.com",
                vec![(Code::IngressSecretMismatch, Severity::Medium)]
            ),
        ]
    );
    let grades: Vec<Option<Grade>> = status.endpoints.iter().map(|e| e.grade).collect();
    assert_eq!(grades, vec![Some(Grade::M), Some(Grade::M), Some(Grade::A)]);
    let secret_reads: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/secrets/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        secret_reads,
        vec![
            "/api/v1/namespaces/shop/secrets/api-tls",
            "/api/v1/namespaces/shop/secrets/shop-tls",
        ]
    );
    assert_eq!(api.event_reasons(), Vec::<String>::new());
}

#[tokio::test]
async fn a_selector_that_cannot_be_used_is_an_invalid_spec_and_keeps_the_results() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    let spec = json!({"services": {"selector": {"matchExpressions": [{"key": "tier", "operator": "Near"}]}}});
    let mut broken = (*audit("web", "shop", spec)).clone();
    broken.metadata.generation = Some(2);
    let kept = EndpointStatus {
        target: "service/web".into(),
        ..EndpointStatus::default()
    };
    broken.status = Some(TlsAuditStatus {
        endpoints: vec![kept.clone()],
        ..TlsAuditStatus::default()
    });
    let ctx = context(&two_replicas(), &api, &probes);

    let action = reconcile(Arc::new(broken), ctx).await.unwrap();

    assert_eq!(action, Action::await_change());
    assert_eq!(probes.calls(), 0);
    let status = only_status(&api);
    assert_eq!(condition(&status, "Ready"), ("False", "InvalidSpec"));
    assert_eq!(status.endpoints, vec![kept]);
    assert_eq!(status.observed_generation, Some(2));
}

#[tokio::test]
async fn a_missing_client_certificate_makes_ready_false_and_the_audit_still_runs() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    let sha = "aa".repeat(32);
    probes.answer("10.0.0.1:8443", healthy("web.shop.svc", &sha));
    probes.answer("10.0.0.2:8443", healthy("web.shop.svc", &sha));
    let web = audit(
        "web",
        "shop",
        json!({"services": {"perEndpoint": true}, "clientCertificate": {"secretRef": {"name": "client-tls"}}}),
    );
    let ctx = context(&two_replicas(), &api, &probes);

    reconcile(web, ctx).await.unwrap();

    let status = only_status(&api);
    assert_eq!(condition(&status, "Ready"), ("False", "SecretNotFound"));
    assert_eq!(condition(&status, "Compliant"), ("True", "Compliant"));
    assert_eq!(status.endpoints.len(), 2);
}

#[tokio::test]
async fn a_failed_status_write_is_an_operator_error_counted_by_category() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    api.fail_writes();
    let web = audit("web", "shop", json!({"services": {"perEndpoint": true}}));
    let ctx = context(&two_replicas(), &api, &probes);

    let err = reconcile(Arc::clone(&web), Arc::clone(&ctx))
        .await
        .unwrap_err();

    assert_eq!(err.category(), ErrorCategory::PatchStatus);
    assert_eq!(
        error_policy(web, &err, Arc::clone(&ctx)),
        Action::requeue(Duration::from_secs(30))
    );
    let text = ctx.metrics.render().unwrap();
    assert!(
        text.contains(r#"tlsaudit_reconcile_errors_total{error="patch_status"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_suspended_audit_says_so_once_and_exports_no_series() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    let suspended = audit(
        "web",
        "shop",
        json!({"services": {"perEndpoint": true}, "suspend": true}),
    );
    let ctx = context(&two_replicas(), &api, &probes);

    let action = reconcile(Arc::clone(&suspended), Arc::clone(&ctx))
        .await
        .unwrap();

    assert_eq!(action, Action::await_change());
    let status = only_status(&api);
    assert_eq!(condition(&status, "Ready"), ("False", "Suspended"));
    let mut again = (*suspended).clone();
    again.status = Some(status);
    reconcile(Arc::new(again), Arc::clone(&ctx)).await.unwrap();
    assert_eq!(api.statuses().len(), 1);
    assert_eq!(probes.calls(), 0);
    assert!(!ctx.metrics.render().unwrap().contains(r#"audit="web""#));
}

#[tokio::test]
async fn a_service_port_named_postgres_is_probed_after_an_ssl_request_and_judged() {
    use crate::facts::{Facts, Failure, FailureKind, Protocol};
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    let cluster = Cluster {
        services: vec![service(
            "db",
            &[],
            vec![port(Some("postgres"), 5432), port(Some("https"), 443)],
        )],
        ..Cluster::default()
    };
    probes.answer(
        "10.96.0.10:5432",
        Facts {
            protocol: Protocol::Postgres,
            failure: Some(Failure {
                kind: FailureKind::TlsDeclined,
                alert: None,
                detail: "the PostgreSQL server answered the SSLRequest with 'N'".into(),
            }),
            ..Facts::default()
        },
    );
    probes.answer("10.96.0.10:443", healthy("db.shop.svc", &"aa".repeat(32)));
    let db = audit("db", "shop", json!({"services": {}}));
    let ctx = context(&cluster, &api, &probes);

    reconcile(Arc::clone(&db), Arc::clone(&ctx)).await.unwrap();

    assert_eq!(
        probes.dialled(),
        vec![
            (Some("10.96.0.10:443".parse().unwrap()), Protocol::Tls),
            (Some("10.96.0.10:5432".parse().unwrap()), Protocol::Postgres),
        ]
    );
    let status = only_status(&api);
    let postgres = status
        .endpoints
        .iter()
        .find(|e| e.address.as_deref() == Some("10.96.0.10:5432"))
        .unwrap();
    assert_eq!(
        codes(postgres),
        vec![(Code::PostgresSslDisabled, Severity::Critical)]
    );
    assert_eq!(postgres.grade, Some(Grade::F));
}

#[tokio::test]
async fn one_more_replica_soon_after_a_full_probing_probes_only_the_new_one() {
    let (api, probes) = (FakeApiserver::default(), FakeProbes::default());
    let sha = "aa".repeat(32);
    for address in ["10.0.0.1:8443", "10.0.0.2:8443", "10.0.0.3:8443"] {
        probes.answer(address, healthy("web.shop.svc", &sha));
    }
    let web = audit("web", "shop", json!({"services": {"perEndpoint": true}}));
    let ctx = context(&two_replicas(), &api, &probes);
    // No sharing window between audits: whatever is not probed again was reused by the audit.
    let mut ctx = Arc::try_unwrap(ctx).ok().unwrap();
    ctx.prober = crate::controller::reconcile::prober::Prober::new(
        probes.probe_fn(),
        4,
        Duration::ZERO,
        None,
    );
    let ctx = Arc::new(ctx);
    reconcile(Arc::clone(&web), Arc::clone(&ctx)).await.unwrap();
    assert_eq!(probes.calls(), 2);

    // The EndpointSlice gains a third address: only it is probed, and the status has all three.
    let mut ctx = Arc::try_unwrap(ctx).ok().unwrap();
    let three = Cluster {
        slices: vec![slice(
            "web",
            Some("https"),
            8443,
            &[
                ("10.0.0.1", Some(true)),
                ("10.0.0.2", Some(true)),
                ("10.0.0.3", Some(true)),
            ],
        )],
        ..two_replicas()
    };
    ctx.stores.slices = crate::controller::fixtures::store(&three.slices);
    let ctx = Arc::new(ctx);
    reconcile(Arc::clone(&web), Arc::clone(&ctx)).await.unwrap();
    assert_eq!(probes.calls(), 3);
    let last = api.statuses().pop().unwrap();
    assert_eq!(last.summary.as_ref().unwrap().endpoints, 3);

    // audit-now asks for everything again.
    let mut now = (*web).clone();
    now.metadata.annotations = Some(
        [(crate::crd::AUDIT_NOW_ANNOTATION.to_owned(), "1".to_owned())]
            .into_iter()
            .collect(),
    );
    reconcile(Arc::new(now), Arc::clone(&ctx)).await.unwrap();
    assert_eq!(probes.calls(), 6);
}
