//! The `memory` mode, no apiserver: how much the operator's probe cache and metrics registry hold
//! per endpoint. Input: a [`Shape`]. Output: one JSON report on stdout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tlsaudit::probe::Target;

use crate::fake_probe::{ProbeCount, healthy, probes};
use crate::measure::{f64_of, memory, secs};
use crate::{AUDIT, Shape};

/// The endpoint reports one audit of namespace `i` produces (healthy, as in `run`).
fn reports(shape: Shape, i: u32) -> Vec<tlsaudit::controller::reconcile::judge::Audited> {
    let ns = Shape::namespace(i);
    let policy = tlsaudit::policy::Policy::default();
    let now = jiff::Timestamp::now();
    (0..shape.services)
        .flat_map(|j| (0..shape.endpoints).map(move |k| (j, k)))
        .map(|(j, k)| {
            let host = format!("{}.{ns}.svc", Shape::service(j));
            let target = Target {
                host: host.clone(),
                port: 443,
                address: format!("{}:8443", shape.address(i, j, k)).parse().ok(),
                server_name: Some(host.clone()),
                protocol: tlsaudit::probe::Protocol::Tls,
            };
            tlsaudit::controller::reconcile::judge::Audited {
                origin: format!("service/{}", Shape::service(j)),
                report: tlsaudit::report::EndpointReport::assemble(
                    &target,
                    healthy(&host, 20),
                    &policy,
                    now,
                ),
            }
        })
        .collect()
}

/// Fills the operator's probe cache and metrics registry as `run` does, measuring RSS after each
/// (the cache first: memory freed by the metrics render would otherwise be reused unseen).
pub(crate) async fn memory_breakdown(shape: Shape) -> anyhow::Result<()> {
    use tlsaudit::controller::reconcile::prober::{Fingerprint, ProbeKey, Prober};
    use tlsaudit::controller::reconcile::series::{AuditFacts, audit_series};
    use tlsaudit::metrics::Metrics;
    let rss = || memory("self").1;
    let counter = Arc::new(ProbeCount::default());
    let prober = Prober::new(
        probes(false, false, Duration::ZERO, &counter, Instant::now()).full,
        16,
        Duration::from_secs(30),
        None,
    );
    let before_cache = rss();
    let options = tlsaudit::probe::ProbeOptions::default();
    for i in 0..shape.namespaces {
        for j in 0..shape.services {
            for k in 0..shape.endpoints {
                let host = format!("{}.{}.svc", Shape::service(j), Shape::namespace(i));
                let target = Target {
                    host: host.clone(),
                    port: 443,
                    address: format!("{}:8443", shape.address(i, j, k)).parse().ok(),
                    server_name: Some(host),
                    protocol: tlsaudit::probe::Protocol::Tls,
                };
                let key = ProbeKey::new(&target, None, Fingerprint::default());
                prober.facts(key, &target, &options).await;
            }
        }
    }
    let after_cache = rss();
    let base = rss();
    let metrics = Metrics::new()?;
    let mut series = 0usize;
    for i in 0..shape.namespaces {
        let audited = reports(shape, i);
        let ns = Shape::namespace(i);
        let facts = AuditFacts {
            namespace: &ns,
            audit: AUDIT,
            now: jiff::Timestamp::now(),
            interval: Duration::from_secs(3600),
            client_certificate: None,
            // The operator's default `--metrics-max-endpoints`.
            max_endpoints: 100,
        };
        let produced = audit_series(&facts, &audited);
        series += produced.len();
        metrics.set_audit(&ns, AUDIT, &produced);
    }
    let after_metrics = rss();
    let rendered = Instant::now();
    let text = metrics.render()?;
    let render_s = secs(rendered.elapsed());
    let (text_bytes, peak_render) = (text.len(), memory("self").0);
    drop(text);

    let endpoints = f64_of(shape.total());
    let per_endpoint_kib = |mib: f64| (mib * 1024.0 / endpoints * 10.0).round() / 10.0;
    let report = json!({
        "phase": "memory",
        "endpoints": shape.total(),
        "metric_series": series,
        "metrics_registry_mib": after_metrics - base,
        "metrics_registry_kib_per_endpoint": per_endpoint_kib(after_metrics - base),
        "render_s": render_s,
        "render_text_bytes": text_bytes,
        "vm_hwm_during_render_mib": peak_render,
        "probe_cache_mib": after_cache - before_cache,
        "probe_cache_kib_per_endpoint": per_endpoint_kib(after_cache - before_cache),
        "probes": counter.total(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
