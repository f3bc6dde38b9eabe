//! Test support for tests that talk to a real Kubernetes apiserver.
//!
//! Input: the kubeconfig named by `KUBECONFIG` (scripts/test.sh exports the one of
//! scripts/control-plane.sh, or the caller's with `--existing-cluster`). Output: a checked
//! [`kube::Client`] and a [`TestNamespace`] per test, uniquely named so that tests run in parallel, and
//! removed with everything in it when the test ends, also when it fails.
//!
//! The test control plane has no kube-controller-manager, so no namespace controller empties a
//! deleted namespace. The cleanup therefore does that job itself: it deletes every namespaced
//! resource in the namespace (found by discovery), strips finalizers that nothing would ever remove,
//! and finalizes the namespace through its `/finalize` subresource.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config, Resource};
use serde::de::DeserializeOwned;

/// How long a test waits for the apiserver to answer `/version`, for a CRD to be established and for
/// a namespace to disappear.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Field manager of every server-side apply made by the test support.
pub const FIELD_MANAGER: &str = "tlsaudit-tests";
/// Label on every test namespace (`kubectl delete ns -l tlsaudit.dev/test` removes leftovers).
pub const TEST_LABEL: &str = "tlsaudit.dev/test";

const HOW_TO_START: &str = "Start the test control plane and point KUBECONFIG at it:\n    \
     scripts/control-plane.sh start && eval \"$(scripts/control-plane.sh env)\"\n\
     or run the whole suite with scripts/test.sh (it does both).";

/// The client configuration from `KUBECONFIG`; panics with instructions when it is missing or
/// unusable. Never falls back to ~/.kube/config or in-cluster config: a test must not reach a
/// cluster nobody chose.
pub async fn config() -> Config {
    let path = match std::env::var("KUBECONFIG") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "this test needs a Kubernetes apiserver, but KUBECONFIG is not set.\n{HOW_TO_START}"
        ),
    };
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read KUBECONFIG={path}: {e}\n{HOW_TO_START}"));
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("cannot use KUBECONFIG={path}: {e}\n{HOW_TO_START}"));
    config.connect_timeout = Some(Duration::from_secs(10));
    config
}

/// A client for the apiserver of `KUBECONFIG`, checked to answer; panics with instructions otherwise.
/// The client lives on the calling test's runtime.
pub async fn client() -> Client {
    connect(config().await).await
}

async fn connect(config: Config) -> Client {
    let url = config.cluster_url.clone();
    let client =
        Client::try_from(config).unwrap_or_else(|e| panic!("cannot build a client for {url}: {e}"));
    match tokio::time::timeout(TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => client,
        Ok(Err(e)) => {
            panic!("the apiserver at {url} (from KUBECONFIG) does not answer: {e}\n{HOW_TO_START}")
        }
        Err(elapsed) => panic!(
            "the apiserver at {url} (from KUBECONFIG) did not answer: {elapsed} ({TIMEOUT:?})\n{HOW_TO_START}"
        ),
    }
}

/// Installs (server-side applies) a CRD and waits until the apiserver serves it. Tests in parallel
/// may install the same CRD: the apply is idempotent. CRDs are cluster-scoped and stay installed.
pub async fn install_crd(client: &Client, crd: &CustomResourceDefinition) {
    let name = crd.metadata.name.clone().expect("a CRD has a name");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(crd),
    )
    .await
    .unwrap_or_else(|e| panic!("apply CRD {name}: {e}"));
    tokio::time::timeout(
        TIMEOUT,
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .unwrap_or_else(|_| panic!("CRD {name} not established within {TIMEOUT:?}"))
    .unwrap_or_else(|e| panic!("watch CRD {name}: {e}"));
}

/// A namespace that exists for one test. Dropping it deletes the namespace and its contents and
/// waits until the namespace is gone; a failed cleanup fails the test (unless it already failed).
pub struct TestNamespace {
    name: String,
    client: Client,
    config: Config,
}

impl TestNamespace {
    /// Creates a namespace named `test-<label>-<random>` (label: the test's short name).
    pub async fn new(label: &str) -> Self {
        let config = config().await;
        let client = connect(config.clone()).await;
        let name = unique_name(label);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEST_LABEL.to_owned(), "true".to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("create test namespace {name}: {e}"));
        Self {
            name,
            client,
            config,
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client (a cheap clone) on the test's runtime.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// An `Api` for a namespaced resource type in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await, and blocking this runtime's thread would starve `self.client`'s worker:
        // the cleanup runs on its own thread with its own runtime and client.
        let name = self.name.clone();
        let config = self.config.clone();
        let result = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("start a runtime: {e}"))?;
            runtime.block_on(async {
                let client =
                    Client::try_from(config).map_err(|e| format!("build a client: {e}"))?;
                remove_namespace(&client, &name).await
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the cleanup thread panicked".to_owned()));
        if let Err(e) = result {
            let message = format!("cleanup of test namespace {} failed: {e}", self.name);
            if std::thread::panicking() {
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

fn unique_name(label: &str) -> String {
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let label = label.trim_matches('-');
    format!("test-{label}-{:08x}", rand::random::<u32>())
}

/// Deletes a namespace and everything in it, and waits until the namespace is gone.
pub async fn remove_namespace(client: &Client, name: &str) -> Result<(), String> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    // Deleting first makes the namespace Terminating, so nothing new can be created in it.
    match namespaces.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.is_not_found() => return Ok(()),
        Err(e) => return Err(format!("delete namespace: {e}")),
    }
    empty_namespace(client, name).await?;
    finalize_namespace(&namespaces, name).await?;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match namespaces.get_opt(name).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Some(ns)) => {
                return Err(format!(
                    "namespace still exists after {TIMEOUT:?}: {:?}",
                    ns.status
                ));
            }
            Err(e) => return Err(format!("get namespace: {e}")),
        }
    }
}

/// What the namespace controller would do: delete every namespaced object, then drop the
/// finalizers of objects still waiting for a controller that is not running.
async fn empty_namespace(client: &Client, namespace: &str) -> Result<(), String> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(discovery) => discovery,
        Err(_) => Discovery::new(client.clone())
            .run()
            .await
            .map_err(|e| format!("discovery: {e}"))?,
    };
    let resources: Vec<ApiResource> = discovery
        .groups()
        .flat_map(kube::discovery::ApiGroup::recommended_resources)
        .filter(|(_, caps)| deletable(caps))
        .map(|(resource, _)| resource)
        .collect();
    stream::iter(resources)
        .map(|resource| empty_resource(client, namespace, resource))
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

fn deletable(caps: &ApiCapabilities) -> bool {
    caps.scope == Scope::Namespaced
        && caps.supports_operation(verbs::LIST)
        && caps.supports_operation(verbs::DELETE_COLLECTION)
        && caps.supports_operation(verbs::PATCH)
}

async fn empty_resource(
    client: &Client,
    namespace: &str,
    resource: ApiResource,
) -> Result<(), String> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let what = &resource.plural;
    match api
        .delete_collection(&DeleteParams::background(), &ListParams::default())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.is_not_found() => return Ok(()),
        Err(e) => return Err(format!("delete all {what}: {e}")),
    }
    let left = api
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("list {what}: {e}"))?;
    let unfinalize = serde_json::json!({ "metadata": { "finalizers": null } });
    for object in left {
        let Some(name) = object.metadata.name else {
            continue;
        };
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&unfinalize))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(e) => return Err(format!("remove finalizers of {what}/{name}: {e}")),
        }
    }
    Ok(())
}

/// Clears `spec.finalizers` through the `/finalize` subresource, the namespace controller's last step.
async fn finalize_namespace(namespaces: &Api<Namespace>, name: &str) -> Result<(), String> {
    for _ in 0..5 {
        let Some(mut namespace) = namespaces
            .get_opt(name)
            .await
            .map_err(|e| format!("get namespace: {e}"))?
        else {
            return Ok(());
        };
        if let Some(spec) = namespace.spec.as_mut() {
            spec.finalizers = None;
        }
        match namespaces
            .replace_subresource("finalize", name, &PostParams::default(), &namespace)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => return Ok(()),
            // A namespace controller (in a real cluster) changed it meanwhile: read it again.
            Err(kube::Error::Api(status)) if status.is_conflict() => {}
            Err(e) => return Err(format!("finalize namespace: {e}")),
        }
    }
    Err("finalize namespace: conflicts on 5 attempts".to_owned())
}
