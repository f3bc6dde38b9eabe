//! The Gateway API in the test apiserver: its pinned upstream CRDs (v1.7.0 standard channel, cached
//! by `scripts/toolchain.sh crds`), installed or removed, and Gateway API objects as dynamic
//! objects (the operator reads them without typed bindings, and so do the tests).

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// The API group.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// The directory of the cached CRD YAML (`scripts/toolchain.sh path crds-gateway-api`).
fn crd_dir() -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("bash")
        .arg(format!("{root}/scripts/toolchain.sh"))
        .args(["path", "crds-gateway-api"])
        .output()
        .expect("run scripts/toolchain.sh path crds-gateway-api");
    assert!(out.status.success(), "toolchain.sh path: {out:?}");
    let dir = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(
        dir.is_dir(),
        "{} is missing: run `bash scripts/toolchain.sh crds`",
        dir.display()
    );
    dir
}

/// Every Gateway API CRD of the pinned release.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut files: Vec<_> = std::fs::read_dir(crd_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_yaml::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

/// Installs the Gateway API CRDs and waits until each is served.
pub async fn install_crds(client: &Client) {
    for crd in crds() {
        super::kube::install_crd(client, &crd).await;
    }
}

/// Deletes the Gateway API CRDs and waits until the apiserver no longer serves the group.
pub async fn remove_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds() {
        let name = crd.metadata.name.unwrap();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => panic!("delete CRD {name}: {e}"),
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let gone = matches!(
            client.list_api_group_resources(&format!("{GROUP}/v1")).await,
            Err(kube::Error::Api(s)) if s.code == 404
        );
        let crds_gone = api
            .list(&kube::api::ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .all(|c| c.spec.group != GROUP);
        if gone && crds_gone {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Gateway API is still served 60 s after its CRDs were deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `gateway.networking.k8s.io/v1` resource of `kind`.
pub fn resource(kind: &str) -> ApiResource {
    let plural = match kind {
        "BackendTLSPolicy" => "backendtlspolicies".to_owned(),
        other => format!("{}s", other.to_ascii_lowercase()),
    };
    ApiResource {
        group: GROUP.into(),
        version: "v1".into(),
        api_version: format!("{GROUP}/v1"),
        kind: kind.into(),
        plural,
    }
}

/// Creates a Gateway API object of `kind` from JSON (apiVersion and kind are filled in).
pub async fn create(client: &Client, namespace: &str, kind: &str, mut object: serde_json::Value) {
    let r = resource(kind);
    object["apiVersion"] = serde_json::json!(r.api_version);
    object["kind"] = serde_json::json!(kind);
    let obj: DynamicObject = serde_json::from_value(object).unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &r);
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {kind}: {e}"));
}

/// Sets a Gateway's `status.addresses` through the status subresource, as a gateway
/// implementation would.
pub async fn set_addresses(client: &Client, namespace: &str, gateway: &str, addresses: &[&str]) {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource("Gateway"));
    let addresses: Vec<_> = addresses
        .iter()
        .map(|a| serde_json::json!({"type": "IPAddress", "value": a}))
        .collect();
    api.patch_status(
        gateway,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {"addresses": addresses}})),
    )
    .await
    .unwrap_or_else(|e| panic!("set the status addresses of Gateway {gateway}: {e}"));
}
