//! The TlsAudit CRD: crds/tlsaudit.yaml is exactly what `tlsaudit crd` prints (no drift from the Rust
//! types), and the real kube-apiserver of scripts/control-plane.sh enforces its validation: each bad
//! spec is refused at create time with a message that names the field and the rule.

mod support;

use kube::Api;
use kube::api::{ApiResource, DynamicObject, PostParams};
use serde_json::json;
use support::audit::{audit, install_tlsaudit_crd};
use support::kube::TestNamespace;
use tlsaudit::crd::TlsAudit;

#[test]
fn the_checked_in_crd_is_what_tlsaudit_crd_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/tlsaudit.yaml");
    let file = std::fs::read_to_string(path).expect("read crds/tlsaudit.yaml");
    let generated = tlsaudit::crd::crd_yaml().expect("render CRD");
    assert!(
        file == generated,
        "crds/tlsaudit.yaml is stale: regenerate it with `cargo run -- crd > crds/tlsaudit.yaml`"
    );
}

/// Specs the apiserver must reject, each with the text its message must contain.
fn bad_specs() -> Vec<(&'static str, serde_json::Value, &'static str)> {
    vec![
        (
            "port-zero",
            json!({"endpoints": [{"host": "printer.infra.svc", "port": 0}]}),
            "spec.endpoints[0].port in body should be greater than or equal to 1",
        ),
        (
            "service-port-zero",
            json!({"services": {"ports": ["https", 0]}}),
            "ports must be port names or numbers from 1 to 65535",
        ),
        (
            "critical-after-warning",
            json!({"policy": {"expiry": {"warningDays": 7, "criticalDays": 14}}}),
            "criticalDays must not exceed warningDays",
        ),
        (
            "critical-share-above-warning",
            json!({"policy": {"expiry": {"warningLifetimePercent": 10, "criticalLifetimePercent": 20}}}),
            "criticalLifetimePercent must not exceed warningLifetimePercent",
        ),
        (
            "share-over-100",
            json!({"policy": {"expiry": {"warningLifetimePercent": 150}}}),
            "spec.policy.expiry.warningLifetimePercent in body should be less than or equal to 100",
        ),
        (
            "zero-max-validity",
            json!({"policy": {"maxValidityDays": 0}}),
            "spec.policy.maxValidityDays in body should be greater than or equal to 1",
        ),
        (
            "short-interval",
            json!({"interval": "10s"}),
            "interval must be at least 1m",
        ),
        (
            "not-a-duration",
            json!({"interval": "hourly"}),
            "spec.interval in body should match",
        ),
        (
            "unknown-code",
            json!({"policy": {"ignore": ["cert.expird"]}}),
            "spec.policy.ignore[0]: Unsupported value: \"cert.expird\"",
        ),
        (
            "two-ca-sources",
            json!({"trust": {"caBundle": {"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}}}),
            "caBundle needs exactly one of secretRef or configMapRef",
        ),
        (
            "no-ca-source",
            json!({"trust": {"caBundle": {}}}),
            "caBundle needs exactly one of secretRef or configMapRef",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apiserver_rejects_bad_specs_with_a_clear_message() {
    let ns = TestNamespace::new("crd").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let api = ns.api::<TlsAudit>();
    // Bad specs do not even parse as the Rust types; send them as raw objects.
    let raw: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns.name(),
        &ApiResource::erase::<TlsAudit>(&()),
    );
    for (name, spec, expected) in bad_specs() {
        let object = DynamicObject::new(name, &ApiResource::erase::<TlsAudit>(&()))
            .data(json!({ "spec": spec }));
        let err = raw
            .create(&PostParams::default(), &object)
            .await
            .expect_err(name);
        let kube::Error::Api(status) = &err else {
            panic!("{name}: not an API error: {err}")
        };
        assert_eq!(status.code, 422, "{name}: {status:?}");
        assert!(
            status.message.contains(expected),
            "{name}: {:?} lacks {expected:?}",
            status.message
        );
    }

    // A good spec is accepted, with the documented defaults filled in by the apiserver.
    let good = json!({"services": {"ports": ["https", 8443]}, "interval": "1h30m",
                      "policy": {"expiry": {"criticalDays": 7}, "ignore": ["alpn.no_h2"]}});
    let created = api
        .create(&PostParams::default(), &audit("good", good))
        .await
        .expect("good spec");
    let spec = created.spec;
    assert_eq!(spec.policy.expiry.warning_days, 28);
    assert_eq!(spec.policy.expiry.critical_days, 7);
    assert_eq!(spec.policy.expiry.warning_lifetime_percent, 33);
    assert_eq!(spec.policy.expiry.critical_lifetime_percent, 17);
    assert_eq!(spec.policy.max_validity_days, None);
    assert!(spec.trust.system_roots && spec.trust.cluster_ca);
    assert_eq!(spec.interval.as_deref(), Some("1h30m"));

    // SSL Labs 2009r's A- is a grade, and Mozilla's deprecated `old` profile is still accepted.
    let legacy = json!({"policy": {"minimumGrade": "A-", "profile": "old"}});
    let created = api
        .create(&PostParams::default(), &audit("legacy", legacy))
        .await
        .expect("A- and old are accepted");
    assert_eq!(
        created.spec.policy.minimum_grade,
        tlsaudit::grade::Grade::AMinus
    );
    assert_eq!(created.spec.policy.profile, tlsaudit::policy::Profile::Old);
}
