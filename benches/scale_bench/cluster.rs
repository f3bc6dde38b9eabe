//! The cluster the bench audits: Namespaces, Services with one EndpointSlice each, and one
//! TlsAudit per namespace, built from a [`Shape`] and created on the apiserver (`setup`). Input:
//! the shape and a loopback client. Output: the objects, and the setup timings as JSON on stdout.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tlsaudit::crd::TlsAudit;

use crate::measure::{f64_of, loadavg, secs};
use crate::{AUDIT, BENCH_LABEL, MANAGER, Shape};

fn labels() -> BTreeMap<String, String> {
    [(BENCH_LABEL.to_owned(), "scale".to_owned())].into()
}

pub(crate) fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

/// Service `name` with one port `https` (443).
pub(crate) fn service(name: &str) -> Service {
    Service {
        metadata: meta(name),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("https".into()),
                port: 443,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The EndpointSlice of Service `service`: every address ready, port `https` → 8443.
pub(crate) fn slice(service: &str, addresses: Vec<String>) -> EndpointSlice {
    let mut metadata = meta(&format!("{service}-1"));
    if let Some(l) = metadata.labels.as_mut() {
        l.insert("kubernetes.io/service-name".into(), service.into());
    }
    EndpointSlice {
        metadata,
        address_type: "IPv4".into(),
        endpoints: Some(addresses.into_iter().map(endpoint).collect()),
        ports: Some(vec![EndpointPort {
            name: Some("https".into()),
            port: Some(8443),
            protocol: Some("TCP".into()),
            ..EndpointPort::default()
        }]),
    }
}

/// One ready endpoint at `address`.
pub(crate) fn endpoint(address: String) -> Endpoint {
    Endpoint {
        addresses: vec![address],
        conditions: Some(EndpointConditions {
            ready: Some(true),
            ..EndpointConditions::default()
        }),
        ..Endpoint::default()
    }
}

/// The TlsAudit of every namespace: all Services, one probe per endpoint.
pub(crate) fn audit() -> anyhow::Result<TlsAudit> {
    // clusterCA off: the test control plane has no controller-manager to publish kube-root-ca.crt.
    let spec = json!({
        "services": {"perEndpoint": true},
        "trust": {"systemRoots": true, "clusterCA": false}
    });
    let mut audit = TlsAudit::new(AUDIT, serde_json::from_value(spec)?);
    audit.metadata.labels = Some(labels());
    Ok(audit)
}

/// Creates `obj`; an existing one counts as created (setup can be re-run).
pub(crate) async fn create<K>(api: Api<K>, obj: K) -> anyhow::Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("create {}", obj.name_any())),
    }
}

/// Applies the TlsAudit CRD and waits until it is established.
async fn install_crd(client: &Client) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = tlsaudit::crd::crd()?;
    let name = crd.name_any();
    crds.patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(&crd))
        .await?;
    let established = kube::runtime::wait::conditions::is_crd_established();
    tokio::time::timeout(
        Duration::from_secs(30),
        kube::runtime::wait::await_condition(crds, &name, established),
    )
    .await
    .context("CRD not established within 30 s")??;
    Ok(())
}

/// Creates the CRD, then the namespaces, Services, EndpointSlices and TlsAudits of `shape` with
/// `parallel` requests in flight, and prints the timings.
pub(crate) async fn setup(client: &Client, shape: Shape, parallel: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    install_crd(client).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    futures::stream::iter((0..shape.namespaces).map(|i| {
        create(
            namespaces.clone(),
            Namespace {
                metadata: meta(&Shape::namespace(i)),
                ..Namespace::default()
            },
        )
    }))
    .buffer_unordered(parallel)
    .try_collect::<()>()
    .await?;
    let after_namespaces = started.elapsed();

    let services = (0..shape.namespaces).flat_map(|i| {
        (0..shape.services).flat_map(move |j| {
            let ns = Shape::namespace(i);
            let name = Shape::service(j);
            let addresses = (0..shape.endpoints)
                .map(|k| shape.address(i, j, k))
                .collect();
            [
                create(Api::namespaced(client.clone(), &ns), service(&name)).boxed(),
                create(
                    Api::namespaced(client.clone(), &ns),
                    slice(&name, addresses),
                )
                .boxed(),
            ]
        })
    });
    let mut done = 0u64;
    let objects = u64::from(shape.namespaces) * u64::from(shape.services) * 2;
    let mut stream = futures::stream::iter(services).buffer_unordered(parallel);
    while let Some(result) = stream.next().await {
        result?;
        done += 1;
        if done.is_multiple_of(2000) {
            eprintln!(
                "setup: {done}/{objects} Services+EndpointSlices after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let after_services = started.elapsed();
    let audit = audit()?;
    futures::stream::iter((0..shape.namespaces).map(|i| {
        create(
            Api::namespaced(client.clone(), &Shape::namespace(i)),
            audit.clone(),
        )
    }))
    .buffer_unordered(parallel)
    .try_collect::<()>()
    .await?;
    let report = json!({
        "phase": "setup",
        "namespaces": shape.namespaces,
        "services": shape.namespaces * shape.services,
        "endpoint_slices": shape.namespaces * shape.services,
        "endpoints": shape.total(),
        "audits": shape.namespaces,
        "parallel_requests": parallel,
        "namespaces_s": secs(after_namespaces),
        "services_and_slices_s": secs(after_services.saturating_sub(after_namespaces)),
        "total_s": secs(started.elapsed()),
        "objects_per_s": f64_of(objects) / after_services.saturating_sub(after_namespaces).as_secs_f64(),
        "loadavg": loadavg(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
