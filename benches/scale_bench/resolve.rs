//! The `resolve` mode, no apiserver: CPU time of resolving one audit's targets in one namespace of
//! [`Shape::services`] Services. Input: a [`Shape`]. Output: one JSON line on stdout.

use std::sync::Arc;
use std::time::Instant;

use anyhow::ensure;
use kube::api::ObjectMeta;
use serde_json::json;

use crate::Shape;
use crate::cluster::{audit, service, slice};

/// Times `service_targets` for one audit selecting every Service of one namespace.
pub(crate) fn resolve(shape: Shape) -> anyhow::Result<()> {
    let ns = Shape::namespace(0);
    let in_ns = |mut meta: ObjectMeta| {
        meta.namespace = Some(ns.clone());
        meta
    };
    let mut services = Vec::new();
    let mut slices = Vec::new();
    for j in 0..shape.services {
        let name = Shape::service(j);
        let mut svc = service(&name);
        svc.metadata = in_ns(svc.metadata);
        services.push(Arc::new(svc));
        let addresses = (0..shape.endpoints)
            .map(|k| shape.address(0, j, k))
            .collect();
        let mut sl = slice(&name, addresses);
        sl.metadata = in_ns(sl.metadata);
        slices.push(Arc::new(sl));
    }
    let spec = audit()?.spec;
    let started = Instant::now();
    let planned = tlsaudit::controller::reconcile::plan::targets::service_targets(
        &ns, &spec, &services, &slices,
    )?;
    let elapsed = started.elapsed();
    ensure!(
        planned.len() == shape.per_audit() as usize,
        "resolved {} endpoints, expected {}",
        planned.len(),
        shape.per_audit()
    );
    let report = json!({
        "phase": "resolve",
        "services_in_namespace": shape.services,
        "endpoints": planned.len(),
        "seconds": elapsed.as_secs_f64(),
    });
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
