//! The probe the operator runs in the bench: it waits, then returns canned facts of a healthy
//! endpoint (no address is ever dialled). Input: the SNI and the simulated probe time. Output:
//! facts, and a count of probes made.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tlsaudit::controller::ProbeFn;
use tlsaudit::probe::Target;

/// Probes made, and when the last one finished (ms since the bench started).
#[derive(Default)]
pub(crate) struct ProbeCount {
    /// Probes made.
    pub(crate) calls: AtomicU64,
    /// When the last probe finished, in ms since the bench started.
    pub(crate) last_ms: AtomicU64,
}

/// What a probe of a healthy modern endpoint serving a leaf for `server_name` observes now, taking
/// `elapsed_ms` ([`tlsaudit::fixtures::healthy`]). Replicas of one Service share the leaf (same
/// SNI, same fingerprint), so no drift is reported.
pub(crate) fn healthy(server_name: &str, elapsed_ms: u64) -> tlsaudit::facts::Facts {
    let mut facts = tlsaudit::fixtures::healthy(server_name, jiff::Timestamp::now().as_second());
    facts.duration_ms = elapsed_ms;
    facts
}

pub(crate) fn fake_probe(delay: Duration, count: Arc<ProbeCount>, epoch: Instant) -> ProbeFn {
    Arc::new(move |target: Target, _options| {
        let count = Arc::clone(&count);
        async move {
            tokio::time::sleep(delay).await;
            let name = target.server_name.as_deref().unwrap_or(&target.host);
            let facts = healthy(name, u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
            count.calls.fetch_add(1, Ordering::SeqCst);
            count.last_ms.store(
                u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX),
                Ordering::SeqCst,
            );
            facts
        }
        .boxed()
    })
}
