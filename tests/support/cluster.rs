//! Cluster-scoped objects of a test (webhook configurations, APIServices, CRDs): created from JSON, and
//! deleted by a guard when the test ends, passed or failed, on its own thread and runtime (as
//! `kube::TestNamespace` does), so that no webhook or APIService outlives the test that made it.

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, Config};

/// Creates a cluster-scoped object from its JSON.
pub async fn create_cluster<K>(client: &Client, object: serde_json::Value) -> K
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).expect("object");
    Api::<K>::all(client.clone())
        .create(&PostParams::default(), &object)
        .await
        .expect("create cluster object")
}

/// Deletes the named ValidatingWebhookConfigurations, APIServices and CRDs when dropped.
pub struct Cleanup {
    /// The test control plane's client configuration.
    pub config: Config,
    /// ValidatingWebhookConfigurations to delete.
    pub webhooks: Vec<String>,
    /// APIServices to delete.
    pub api_services: Vec<String>,
    /// CustomResourceDefinitions to delete.
    pub crds: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let config = self.config.clone();
        let webhooks = std::mem::take(&mut self.webhooks);
        let api_services = std::mem::take(&mut self.api_services);
        let crds = std::mem::take(&mut self.crds);
        let result = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = Client::try_from(config).map_err(|e| e.to_string())?;
                let hooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
                for name in &webhooks {
                    gone(hooks.delete(name, &DeleteParams::default()).await)?;
                }
                let apis: Api<APIService> = Api::all(client.clone());
                for name in &api_services {
                    gone(apis.delete(name, &DeleteParams::default()).await)?;
                }
                let definitions: Api<CustomResourceDefinition> = Api::all(client);
                for name in &crds {
                    gone(definitions.delete(name, &DeleteParams::default()).await)?;
                }
                Ok::<(), String>(())
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the cleanup thread panicked".into()));
        if let Err(e) = result {
            if std::thread::panicking() {
                eprintln!("cleanup of cluster objects failed: {e}");
            } else {
                panic!("cleanup of cluster objects failed: {e}");
            }
        }
    }
}

fn gone<T>(result: Result<T, kube::Error>) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
