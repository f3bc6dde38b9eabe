//! Step 3 of the reconcile: shared, bounded probing for every audit. Input: the planned endpoints and
//! the audit's key material (or one target and its probe options). Output: each endpoint's facts.
//! At most `concurrency` probes run at once across all audits (a semaphore), and one address + SNI +
//! client identity + trust is probed once per short cache window even when several audits (or
//! replicas' groups) name it: concurrent callers share the in-flight probe, later ones reuse its
//! result until the window ends. The probe function is the engine's (`probe::probe`), or a fake.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared, WeakShared};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::intern::Interner;
use super::material::Material;
use super::plan::PlannedEndpoint;
use crate::facts::Facts;
use crate::metrics::Metrics;
use crate::probe::{ProbeOptions, Protocol, Target};

/// A digest that identifies configuration (trust anchors, client identity) without holding it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The digest of `parts`, each length-prefixed so that boundaries count.
    #[must_use]
    pub fn of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        Self(hasher.finalize().into())
    }
}

/// What makes two probes the same probe. The probe timeout and deadline are not part of it: they
/// are process-wide flags, the same for every probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeKey {
    /// `ip:port` dialled, or `host:port` when dialled by name.
    pub address: String,
    /// SNI / verification name.
    pub server_name: Option<String>,
    /// Client identity offered, if any.
    pub identity: Option<Fingerprint>,
    /// Trust anchors the chain is judged against.
    pub trust: Fingerprint,
    /// The pre-TLS protocol: one port probed as TLS and as PostgreSQL gives different facts.
    pub protocol: Protocol,
}

impl ProbeKey {
    /// The key of probing `target` with identity and trust fingerprints.
    #[must_use]
    pub fn new(target: &Target, identity: Option<Fingerprint>, trust: Fingerprint) -> Self {
        let address = target.address.map_or_else(
            || format!("{}:{}", target.host, target.port),
            |a| a.to_string(),
        );
        Self {
            address,
            server_name: target.server_name.clone(),
            identity,
            trust,
            protocol: target.protocol,
        }
    }
}

type ProbeFuture = Shared<BoxFuture<'static, Arc<Facts>>>;

/// The function that probes; the engine's `probe::probe` in the operator, a fake in unit tests.
pub type ProbeFn = Arc<dyn Fn(Target, ProbeOptions) -> BoxFuture<'static, Facts> + Send + Sync>;

/// The engine's probe function.
#[must_use]
pub fn engine() -> ProbeFn {
    Arc::new(|target, options| async move { crate::probe::probe(&target, &options).await }.boxed())
}

/// A probe's result and when it finished.
type Finished = Arc<std::sync::OnceLock<(Instant, Arc<Facts>)>>;

struct Entry {
    /// When the probe finished, and its facts; unset while it runs. The window counts from
    /// there, so a result of a long audit is still shared at its end, however long it took.
    finished: Finished,
    /// The probe while it runs, held weakly: when every audit waiting for it is gone (deleted,
    /// or its controller stopped), the probe is dropped and its connections close.
    running: WeakShared<BoxFuture<'static, Arc<Facts>>>,
}

impl Entry {
    /// In flight, or finished less than `window` ago.
    fn fresh(&self, now: Instant, window: Duration) -> bool {
        self.finished
            .get()
            .is_none_or(|(at, _)| now.duration_since(*at) < window)
    }

    /// Its result when finished, else the running probe when anybody still waits for it.
    fn share(&self) -> Option<ProbeFuture> {
        match self.finished.get() {
            Some((_, facts)) => {
                let facts = Arc::clone(facts);
                Some(async move { facts }.boxed().shared())
            }
            None => self.running.upgrade(),
        }
    }
}

/// The shared prober of the operator.
pub struct Prober {
    probe: ProbeFn,
    permits: Arc<Semaphore>,
    window: Duration,
    cache: Mutex<Cache>,
    interner: Arc<Interner>,
    metrics: Option<Arc<Metrics>>,
}

/// The shared results and when expired ones are swept next.
#[derive(Default)]
struct Cache {
    entries: HashMap<ProbeKey, Entry>,
    next_sweep: Option<Instant>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("available_permits", &self.permits.available_permits())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// A prober running at most `concurrency` probes at once, reusing results for `window`.
    #[must_use]
    pub fn new(
        probe: ProbeFn,
        concurrency: usize,
        window: Duration,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Self {
            probe,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            window,
            cache: Mutex::new(Cache::default()),
            interner: Arc::default(),
            metrics,
        }
    }

    /// The facts of `target`, probed now or shared with a probe of the same key in the window.
    pub async fn facts(
        &self,
        key: ProbeKey,
        target: &Target,
        options: &ProbeOptions,
    ) -> Arc<Facts> {
        let shared = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            // Expired entries are swept once per window (not on every lookup: with 50,000
            // endpoints that would be quadratic), so the map holds at most two windows' probes.
            if cache.next_sweep.is_none_or(|at| now >= at) {
                cache.entries.retain(|_, e| e.fresh(now, self.window));
                cache.next_sweep = Some(now + self.window);
            }
            let shared = cache
                .entries
                .get(&key)
                .filter(|entry| entry.fresh(now, self.window))
                .and_then(Entry::share);
            if let Some(shared) = shared {
                shared
            } else {
                let finished: Finished = Arc::new(std::sync::OnceLock::new());
                let fut = self.start(target.clone(), options.clone(), Arc::clone(&finished));
                if let Some(running) = fut.downgrade() {
                    cache.entries.insert(key, Entry { finished, running });
                }
                fut
            }
        };
        shared.await
    }

    /// The facts of every planned endpoint, probed in parallel with the audit's trust anchors and
    /// client identity, each connect and exchange bounded by `timeout` and each endpoint by
    /// `deadline`; `None` for an endpoint that is not to be probed.
    pub async fn probe_planned(
        &self,
        planned: &[PlannedEndpoint],
        material: &Material,
        timeout: Duration,
        deadline: Duration,
    ) -> Vec<Option<Arc<Facts>>> {
        let options = ProbeOptions {
            timeout,
            deadline,
            roots: Arc::clone(&material.roots),
            client_identity: material.identity.clone(),
            ..ProbeOptions::default()
        };
        let probes = planned.iter().map(|p| {
            let options = &options;
            async move {
                if p.not_probed.is_some() {
                    return None;
                }
                let key = ProbeKey::new(&p.dial, material.identity_fingerprint, material.trust);
                Some(self.facts(key, &p.dial, options).await)
            }
        });
        futures::future::join_all(probes).await
    }

    fn start(&self, target: Target, options: ProbeOptions, finished: Finished) -> ProbeFuture {
        let probe = Arc::clone(&self.probe);
        let interner = Arc::clone(&self.interner);
        let permits = Arc::clone(&self.permits);
        let metrics = self.metrics.clone();
        async move {
            // A closed semaphore never happens (we never close it); probing unbounded would be worse
            // than waiting, so fall through without a permit only in that impossible case.
            let _permit = permits.acquire_owned().await.ok();
            let started = Instant::now();
            // Identical results (replicas of one configuration) are held once.
            let facts = interner.intern(probe(target, options).await);
            let _ = finished.set((Instant::now(), Arc::clone(&facts)));
            if let Some(metrics) = metrics {
                metrics.observe_probe(started.elapsed(), facts.reachable);
            }
            facts
        }
        .boxed()
        .shared()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn counting(delay: Duration) -> (ProbeFn, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let max_running = Arc::new(AtomicUsize::new(0));
        let (c, r, m) = (
            Arc::clone(&calls),
            Arc::clone(&running),
            Arc::clone(&max_running),
        );
        let probe: ProbeFn = Arc::new(move |_, _| {
            let (c, r, m) = (Arc::clone(&c), Arc::clone(&r), Arc::clone(&m));
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                r.fetch_sub(1, Ordering::SeqCst);
                Facts {
                    reachable: true,
                    connections: 1,
                    ..Facts::default()
                }
            }
            .boxed()
        });
        (probe, calls, max_running)
    }

    fn target(port: u16, sni: &str) -> Target {
        Target {
            host: "web.shop.svc".into(),
            port,
            address: Some(format!("10.0.0.1:{port}").parse().unwrap()),
            server_name: Some(sni.into()),
            protocol: Protocol::Tls,
        }
    }

    #[tokio::test]
    async fn concurrent_audits_of_one_endpoint_share_one_probe() {
        let (probe, calls, _) = counting(Duration::from_millis(50));
        let prober = Prober::new(probe, 4, Duration::from_secs(30), None);
        let t = target(443, "web.shop.svc");
        let key = ProbeKey::new(&t, None, Fingerprint::default());
        let options = ProbeOptions::default();
        let (a, b, c) = tokio::join!(
            prober.facts(key.clone(), &t, &options),
            prober.facts(key.clone(), &t, &options),
            prober.facts(key.clone(), &t, &options),
        );
        assert!(a.reachable && b.reachable && c.reachable);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Within the window a later audit reuses the result.
        prober.facts(key, &t, &options).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn another_sni_identity_trust_or_protocol_is_another_probe() {
        let (probe, calls, _) = counting(Duration::from_millis(1));
        let prober = Prober::new(probe, 4, Duration::from_secs(30), None);
        let options = ProbeOptions::default();
        let t1 = target(443, "a.example");
        let t2 = target(443, "b.example");
        prober
            .facts(
                ProbeKey::new(&t1, None, Fingerprint::default()),
                &t1,
                &options,
            )
            .await;
        prober
            .facts(
                ProbeKey::new(&t2, None, Fingerprint::default()),
                &t2,
                &options,
            )
            .await;
        let id = Some(Fingerprint::of([b"client".as_slice()]));
        prober
            .facts(
                ProbeKey::new(&t1, id, Fingerprint::default()),
                &t1,
                &options,
            )
            .await;
        prober
            .facts(
                ProbeKey::new(&t1, None, Fingerprint::of([b"ca".as_slice()])),
                &t1,
                &options,
            )
            .await;
        let postgres = Target {
            protocol: Protocol::Postgres,
            ..t1.clone()
        };
        prober
            .facts(
                ProbeKey::new(&postgres, None, Fingerprint::default()),
                &postgres,
                &options,
            )
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_zero_window_probes_again_after_completion() {
        let (probe, calls, _) = counting(Duration::from_millis(1));
        let prober = Prober::new(probe, 4, Duration::ZERO, None);
        let t = target(443, "web");
        let options = ProbeOptions::default();
        prober
            .facts(
                ProbeKey::new(&t, None, Fingerprint::default()),
                &t,
                &options,
            )
            .await;
        prober
            .facts(
                ProbeKey::new(&t, None, Fingerprint::default()),
                &t,
                &options,
            )
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_probe_nobody_waits_for_any_more_is_dropped_and_a_new_one_starts() {
        struct Dropped(Arc<AtomicUsize>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (d, c) = (Arc::clone(&dropped), Arc::clone(&calls));
        let probe: ProbeFn = Arc::new(move |_, _| {
            let guard = Dropped(Arc::clone(&d));
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                let _guard = guard;
                futures::future::pending::<Facts>().await
            }
            .boxed()
        });
        let prober = Prober::new(probe, 4, Duration::from_secs(30), None);
        let t = target(443, "web");
        let key = || ProbeKey::new(&t, None, Fingerprint::default());
        let options = ProbeOptions::default();
        // The only waiter gives up (its audit was deleted): the probe is dropped with it.
        let waited =
            tokio::time::timeout(Duration::from_millis(20), prober.facts(key(), &t, &options));
        assert!(waited.await.is_err());
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        // The next audit of the same key starts a probe of its own rather than a dead one.
        let again =
            tokio::time::timeout(Duration::from_millis(20), prober.facts(key(), &t, &options));
        assert!(again.await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_more_than_the_concurrency_limit_probe_at_once() {
        let (probe, calls, max_running) = counting(Duration::from_millis(20));
        let prober = Arc::new(Prober::new(probe, 3, Duration::from_secs(30), None));
        let options = ProbeOptions::default();
        let jobs = (1..=12u16).map(|port| {
            let prober = Arc::clone(&prober);
            let options = options.clone();
            async move {
                let t = target(port, "web");
                prober
                    .facts(
                        ProbeKey::new(&t, None, Fingerprint::default()),
                        &t,
                        &options,
                    )
                    .await
            }
        });
        futures::future::join_all(jobs).await;
        assert_eq!(calls.load(Ordering::SeqCst), 12);
        assert_eq!(max_running.load(Ordering::SeqCst), 3);
    }
}
