//! The probes the operator runs in the bench, counted: the fake ones (they wait, then return
//! canned facts of a healthy endpoint; no address is ever dialled) or, with `--real`, the engine's
//! own. Input: the SNI and the simulated probe time. Output: facts, and counts of the probes made
//! and the connections they made.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tlsaudit::controller::{LightFn, ProbeFn, Probes};
use tlsaudit::facts::{Negotiated, TlsVersion};
use tlsaudit::probe::Target;
use tlsaudit::probe::light::{HelloAnswer, LightFacts, Signature};

/// Probes made, their connections, and when the last one finished (ms since the bench started).
#[derive(Default)]
pub(crate) struct ProbeCount {
    /// Full probes made.
    pub(crate) full: AtomicU64,
    /// Light probes made.
    pub(crate) light: AtomicU64,
    /// Connections the probes made (the fake ones report what their canned facts say).
    pub(crate) connections: AtomicU64,
    /// When the last probe finished, in ms since the bench started.
    pub(crate) last_ms: AtomicU64,
}

impl ProbeCount {
    fn finished(&self, epoch: Instant, connections: u32) {
        self.connections
            .fetch_add(u64::from(connections), Ordering::SeqCst);
        self.last_ms.store(
            u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Full and light probes made.
    pub(crate) fn total(&self) -> u64 {
        self.full.load(Ordering::SeqCst) + self.light.load(Ordering::SeqCst)
    }
}

/// What a probe of a healthy modern endpoint serving a leaf for `server_name` observes now, taking
/// `elapsed_ms` ([`tlsaudit::fixtures::healthy`]). Replicas of one Service share the leaf (same
/// SNI, same fingerprint), so no drift is reported.
pub(crate) fn healthy(server_name: &str, elapsed_ms: u64) -> tlsaudit::facts::Facts {
    let mut facts = tlsaudit::fixtures::healthy(server_name, jiff::Timestamp::now().as_second());
    facts.duration_ms = elapsed_ms;
    facts
}

/// The fake probes (`light`: with the fake light probe, which waits as long and sees every
/// replica of a Service alike), or with `real` the engine's; all counted in `count`.
pub(crate) fn probes(
    real: bool,
    light: bool,
    delay: Duration,
    count: &Arc<ProbeCount>,
    epoch: Instant,
) -> Probes {
    let engine = Probes::engine();
    let (full, light_fn): (ProbeFn, LightFn) = if real {
        (
            engine.full,
            engine.light.unwrap_or_else(|| fake_light(delay)),
        )
    } else {
        (fake_full(delay), fake_light(delay))
    };
    let c = Arc::clone(count);
    let full: ProbeFn = Arc::new(move |target: Target, options| {
        let (c, probe) = (Arc::clone(&c), full(target, options));
        async move {
            let facts = probe.await;
            c.full.fetch_add(1, Ordering::SeqCst);
            c.finished(epoch, facts.connections);
            facts
        }
        .boxed()
    });
    let c = Arc::clone(count);
    let light_fn: LightFn = Arc::new(move |target: Target, options| {
        let (c, probe) = (Arc::clone(&c), light_fn(target, options));
        async move {
            let facts = probe.await;
            c.light.fetch_add(1, Ordering::SeqCst);
            c.finished(epoch, facts.connections);
            facts
        }
        .boxed()
    });
    Probes {
        full,
        light: light.then_some(light_fn),
    }
}

fn fake_full(delay: Duration) -> ProbeFn {
    Arc::new(move |target: Target, _options| {
        async move {
            tokio::time::sleep(delay).await;
            let name = target.server_name.as_deref().unwrap_or(&target.host);
            healthy(name, u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
        }
        .boxed()
    })
}

fn fake_light(delay: Duration) -> LightFn {
    Arc::new(move |_target: Target, _options| {
        async move {
            tokio::time::sleep(delay).await;
            LightFacts {
                signature: Some(Arc::new(Signature {
                    chain: vec![[1; 32], [2; 32]],
                    negotiated: Negotiated {
                        version: TlsVersion::Tls13,
                        cipher: "TLS13_AES_128_GCM_SHA256".into(),
                        group: Some("X25519MLKEM768".into()),
                        alpn: Some("h2".into()),
                    },
                    client_auth_requested: false,
                    stapled: false,
                    legacy_versions: HelloAnswer::Alert(70),
                    weak_suites: HelloAnswer::Alert(40),
                })),
                connections: 3,
                duration_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                failure: None,
            }
        }
        .boxed()
    })
}
