//! Fairness (issue 13, goal 5): a small audit — one Service with 5 endpoints in its own namespace —
//! created while the big sweep is in flight, and the time until its first complete status. Input:
//! a loopback client, the bench's shape, the probe counters and when to create it. Output: the
//! seconds, and how far the big sweep was at creation and at the small audit's first status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client};
use serde_json::json;
use tlsaudit::crd::TlsAudit;

use crate::cluster::{audit, create, meta, service, slice};
use crate::fake_probe::ProbeCount;
use crate::measure::{complete, secs};
use crate::{AUDIT, BENCH_LABEL, Shape};

/// The small audit's namespace (not labelled like the big ones, so their counts stay exact).
const NAMESPACE: &str = "scale-small";
/// Its endpoints.
const ENDPOINTS: u32 = 5;

/// Once `after` probes were made, creates the small audit and waits for its first complete status.
pub(crate) fn spawn(
    client: Client,
    shape: Shape,
    probes: Arc<ProbeCount>,
    after: u64,
) -> tokio::task::JoinHandle<anyhow::Result<serde_json::Value>> {
    tokio::spawn(async move {
        while probes.total() < after {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let probes_at_creation = probes.total();
        let created = Instant::now();
        create(
            Api::<Namespace>::all(client.clone()),
            Namespace {
                metadata: meta(NAMESPACE),
                ..Namespace::default()
            },
        )
        .await?;
        // Addresses past the big audits' and past the one the second cycle adds.
        let beyond = Shape {
            namespaces: shape.namespaces + 2,
            ..shape
        };
        let addresses = (0..ENDPOINTS)
            .map(|k| beyond.address(shape.namespaces + 1, 0, k))
            .collect();
        let name = Shape::service(0);
        create(Api::namespaced(client.clone(), NAMESPACE), service(&name)).await?;
        create(
            Api::namespaced(client.clone(), NAMESPACE),
            slice(&name, addresses),
        )
        .await?;
        let mut small = audit()?;
        if let Some(labels) = small.metadata.labels.as_mut() {
            labels.insert(BENCH_LABEL.into(), "small".into());
        }
        let api: Api<TlsAudit> = Api::namespaced(client.clone(), NAMESPACE);
        create(api.clone(), small).await?;
        let deadline = created + Duration::from_secs(3600);
        loop {
            let status = api.get(AUDIT).await?.status;
            if complete(status.as_ref(), ENDPOINTS) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the small audit never completed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(json!({
            "first_status_s": secs(created.elapsed()),
            "big_sweep_probes_at_creation": probes_at_creation,
            "big_sweep_probes_at_first_status": probes.total(),
        }))
    })
}
