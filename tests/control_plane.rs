//! Smoke tests of the test control plane (scripts/control-plane.sh) and of tests/support/kube.rs:
//! a CRD with a status subresource round-trips, RBAC is enforced, and test namespaces are removed
//! with their contents although no namespace controller runs.

mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use support::kube::{FIELD_MANAGER, TestNamespace, client, config, install_crd};

/// A placeholder resource: it exists only to exercise CRD installation and the status subresource.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "smoke.tlsaudit.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
#[serde(rename_all = "camelCase")]
struct WidgetSpec {
    size: u32,
    color: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WidgetStatus {
    phase: String,
    observed_size: u32,
}

#[tokio::test]
async fn widget_spec_and_status_round_trip_through_the_apiserver() {
    let ns = TestNamespace::new("widget-round-trip").await;
    install_crd(&ns.client(), &Widget::crd()).await;
    let widgets: Api<Widget> = ns.api();

    let spec = WidgetSpec {
        size: 3,
        color: "blue".to_owned(),
    };
    widgets
        .create(&PostParams::default(), &Widget::new("gear", spec.clone()))
        .await
        .expect("create widget");
    let created = widgets.get("gear").await.expect("get widget");
    assert_eq!(created.spec, spec);
    assert_eq!(created.status, None);
    assert_eq!(created.metadata.namespace.as_deref(), Some(ns.name()));
    assert_eq!(created.metadata.generation, Some(1));

    let status = serde_json::json!({
        "apiVersion": "smoke.tlsaudit.dev/v1",
        "kind": "Widget",
        "status": { "phase": "Ready", "observedSize": 3 },
    });
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    widgets
        .patch_status("gear", &apply, &Patch::Apply(&status))
        .await
        .expect("apply widget status");

    let read = widgets.get_status("gear").await.expect("get widget status");
    let expected = WidgetStatus {
        phase: "Ready".to_owned(),
        observed_size: 3,
    };
    assert_eq!(read.status, Some(expected.clone()));
    assert_eq!(read.spec, spec);
    // A status write is not a spec change: the generation stays.
    assert_eq!(read.metadata.generation, Some(1));

    // With a status subresource, the main resource ignores status in writes.
    let bogus = serde_json::json!({
        "apiVersion": "smoke.tlsaudit.dev/v1",
        "kind": "Widget",
        "spec": { "size": 4, "color": "blue" },
        "status": { "phase": "Bogus", "observedSize": 0 },
    });
    widgets
        .patch("gear", &apply, &Patch::Apply(&bogus))
        .await
        .expect("apply widget spec with a status");
    let read = widgets.get("gear").await.expect("get widget");
    assert_eq!(read.spec.size, 4);
    assert_eq!(read.status, Some(expected));
    assert_eq!(read.metadata.generation, Some(2));
}

#[tokio::test]
async fn rbac_forbids_a_user_without_bindings() {
    let ns = TestNamespace::new("rbac").await;
    let mut nobody = config().await;
    nobody.auth_info.impersonate = Some("tlsaudit-test-nobody".to_owned());
    let client = Client::try_from(nobody).expect("client impersonating nobody");
    let config_maps: Api<ConfigMap> = Api::namespaced(client, ns.name());

    let error = config_maps
        .list(&ListParams::default())
        .await
        .expect_err("listing without a binding");
    assert!(
        matches!(&error, kube::Error::Api(status) if status.code == 403),
        "expected 403 Forbidden, got {error:?}"
    );
}

#[tokio::test]
async fn dropping_a_test_namespace_removes_it_and_its_objects_even_with_finalizers() {
    let ns = TestNamespace::new("cleanup").await;
    let name = ns.name().to_owned();
    let blocked = ConfigMap {
        metadata: ObjectMeta {
            name: Some("blocked".to_owned()),
            finalizers: Some(vec!["tlsaudit.dev/never-removed".to_owned()]),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &blocked)
        .await
        .expect("create config map with a finalizer");

    drop(ns);

    let client = client().await;
    let namespace = Api::<Namespace>::all(client.clone())
        .get_opt(&name)
        .await
        .expect("get namespace");
    assert!(
        namespace.is_none(),
        "namespace {name} still exists: {namespace:?}"
    );
    let left = Api::<ConfigMap>::namespaced(client, &name)
        .list(&ListParams::default())
        .await
        .expect("list config maps");
    let left: Vec<_> = left
        .items
        .into_iter()
        .filter_map(|cm| cm.metadata.name)
        .collect();
    assert_eq!(left, Vec::<String>::new());
}
