//! What /readyz reports beyond "started": whether the apiserver answers, the TlsAudit CRD is served
//! and the operator may still list what it watches. Input: the `Setup` (client, flags, health).
//! Output: [`crate::http::Health::checked`] every third of the readiness grace period, until the
//! operator stops.
//!
//! The watches themselves cannot tell: a re-established watch on an idle cluster yields nothing,
//! so "no error since" never becomes "healthy again". A cheap `list ?limit=1` of each watched kind
//! does, and it fails on exactly the three cases readiness must show: the apiserver unreachable,
//! the CRD deleted, the RBAC revoked.

use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ListParams;
use kube::{Api, Client, Resource};

use super::context::Setup;
use crate::crd::TlsAudit;

/// Lists one object of `K` in `namespace` (or cluster-wide).
async fn list_one<K>(client: &Client, namespace: Option<&str>) -> Result<(), kube::Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    api.list_metadata(&ListParams::default().limit(1))
        .await
        .map(|_| ())
}

/// One check: every watched kind can be listed.
async fn check(client: &Client, namespace: Option<&str>) -> Result<(), kube::Error> {
    list_one::<TlsAudit>(client, namespace).await?;
    list_one::<Service>(client, namespace).await?;
    list_one::<EndpointSlice>(client, namespace).await?;
    list_one::<Ingress>(client, namespace).await
}

/// Checks every third of the grace period (at least every 100 ms) until dropped.
pub(super) async fn run(setup: &Setup) {
    let grace = setup.args.readiness_grace;
    let period = (grace / 3).max(Duration::from_millis(100));
    let namespace = setup.args.watch_namespace.as_deref();
    let mut failing = false;
    loop {
        // A hung apiserver counts as failing after one period, not after the client's long timeout.
        let result = tokio::time::timeout(period, check(&setup.client, namespace)).await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!("no answer within {period:?}")),
        };
        match &error {
            Some(error) => {
                tracing::warn!(error = %error, "the apiserver check failed: the watches cannot work");
            }
            None if failing => tracing::info!("the apiserver check succeeds again"),
            None => {}
        }
        failing = error.is_some();
        setup.health.checked(!failing);
        tokio::time::sleep(period).await;
    }
}
