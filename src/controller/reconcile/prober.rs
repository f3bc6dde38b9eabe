//! Step 3 of the reconcile: shared, bounded probing for every audit. Input: the planned endpoints,
//! the audit's key material and the cycle's [`Depth`] (or one target and its probe options).
//! Output: each endpoint's facts.
//!
//! At most `concurrency` probes (full or light) run at once across all audits (a FIFO semaphore),
//! each audit has at most twice that many endpoints in progress (so a small audit is not queued
//! behind every probe of a big one), and
//! one address + SNI + client identity + trust is probed once per short cache window even when
//! several audits (or replicas' groups) name it: concurrent callers share the in-flight probe,
//! later ones reuse its result until the window ends. The probe functions are the engine's
//! (`probe::probe`, `probe::light::probe`), or fakes.
//!
//! One full probe per distinct configuration: in a [`Depth::Light`] cycle, the replicas of one
//! Service port (same replica group, SNI and protocol) get one full probe, of the reference
//! replica; every other replica gets a light probe (at most three connections), and so does the
//! reference. A replica whose light signature equals the reference's inherits the reference's
//! facts (with its own connection count and time); any other replica gets its own full probe, so
//! `backend.inconsistent` still sees every difference a light probe can see. Every Nth cycle of
//! an audit (`--full-probe-every`) is [`Depth::Full`]: every replica is probed fully.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, Shared, WeakShared};
use futures::{FutureExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::intern::{Interner, Signatures};
use super::material::Material;
use super::plan::PlannedEndpoint;
use super::reuse::{Cycle, Previous, Results};
use crate::facts::Facts;
use crate::metrics::{Metrics, ProbeKind};
use crate::probe::light::{self, LightFacts};
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

/// What makes two probes the same probe: the address dialled (`ip:port`, or `host:port` when
/// dialled by name), the SNI / verification name, the client identity offered, the trust anchors
/// the chain is judged against, and the pre-TLS protocol (one port probed as TLS and as PostgreSQL
/// gives different facts). The probe timeout and deadline are not part of it: they are
/// process-wide flags, the same for every probe.
///
/// Held as a SHA-256 digest of those parts, not the parts themselves: the probe caches and every
/// audit's last results hold one key per endpoint (about 110,000 at 50,000 endpoints), and a
/// digest is 32 bytes where the strings took about 200 (BENCHMARKS.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeKey(Fingerprint);

impl ProbeKey {
    /// The key of probing `target` with identity and trust fingerprints.
    #[must_use]
    pub fn new(target: &Target, identity: Option<Fingerprint>, trust: Fingerprint) -> Self {
        let address = target.address.map_or_else(
            || format!("{}:{}", target.host, target.port),
            |a| a.to_string(),
        );
        let server_name = target.server_name.as_deref().map(str::as_bytes);
        let identity = identity.as_ref().map(|f| f.0.as_slice());
        Self(Fingerprint::of([
            address.as_bytes(),
            // Absent and present-but-empty differ: the tag says which.
            if server_name.is_some() { b"+" } else { b"-" },
            server_name.unwrap_or_default(),
            if identity.is_some() { b"+" } else { b"-" },
            identity.unwrap_or_default(),
            trust.0.as_slice(),
            target.protocol.as_str().as_bytes(),
        ]))
    }
}

/// A probe running or finished, shared by everyone asking for the same key.
type SharedProbe<T> = Shared<BoxFuture<'static, Arc<T>>>;

/// The function that probes; the engine's `probe::probe` in the operator, a fake in unit tests.
pub type ProbeFn = Arc<dyn Fn(Target, ProbeOptions) -> BoxFuture<'static, Facts> + Send + Sync>;

/// The function that probes lightly; the engine's `probe::light::probe`, or a fake.
pub type LightFn =
    Arc<dyn Fn(Target, ProbeOptions) -> BoxFuture<'static, LightFacts> + Send + Sync>;

/// The engine's probe function.
#[must_use]
pub fn engine() -> ProbeFn {
    Arc::new(|target, options| async move { crate::probe::probe(&target, &options).await }.boxed())
}

/// The engine's light probe function.
#[must_use]
pub fn engine_light() -> LightFn {
    Arc::new(|target, options| async move { light::probe(&target, &options).await }.boxed())
}

/// How deeply one audit cycle probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Every endpoint gets the full probe.
    Full,
    /// One full probe per replica group; the other replicas are probed lightly.
    Light,
}

/// The probe functions of a prober: the full probe, and the light one (`None`: every probe is
/// full, as when a test injects only a full probe).
#[derive(Clone)]
pub struct Probes {
    /// The full probe.
    pub full: ProbeFn,
    /// The light probe.
    pub light: Option<LightFn>,
}

impl Probes {
    /// The engine's full and light probes.
    #[must_use]
    pub fn engine() -> Self {
        Self {
            full: engine(),
            light: Some(engine_light()),
        }
    }
}

/// A probe's result and when it finished.
type Finished<T> = Arc<std::sync::OnceLock<(Instant, Arc<T>)>>;

struct Entry<T> {
    /// When the probe finished, and its result; unset while it runs. The window counts from
    /// there, so a result of a long audit is still shared at its end, however long it took.
    finished: Finished<T>,
    /// The probe while it runs, held weakly: when every audit waiting for it is gone (deleted,
    /// or its controller stopped), the probe is dropped and its connections close.
    running: WeakShared<BoxFuture<'static, Arc<T>>>,
}

impl<T: Send + Sync + 'static> Entry<T> {
    /// In flight, or finished less than `window` ago.
    fn fresh(&self, now: Instant, window: Duration) -> bool {
        self.finished
            .get()
            .is_none_or(|(at, _)| now.duration_since(*at) < window)
    }

    /// Its result when finished, else the running probe when anybody still waits for it.
    fn share(&self) -> Option<SharedProbe<T>> {
        match self.finished.get() {
            Some((_, result)) => {
                let result = Arc::clone(result);
                Some(async move { result }.boxed().shared())
            }
            None => self.running.upgrade(),
        }
    }
}

/// The shared results of one kind of probe and when expired ones are swept next.
struct Cache<T> {
    entries: HashMap<ProbeKey, Entry<T>>,
    next_sweep: Option<Instant>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            next_sweep: None,
        }
    }
}

impl<T: Send + Sync + 'static> Cache<T> {
    /// The fresh probe of `key`, if any. Expired entries are swept once per window (not on every
    /// lookup: with 50,000 endpoints that would be quadratic), so the map holds at most two
    /// windows' probes.
    fn fresh(&mut self, key: &ProbeKey, window: Duration) -> Option<SharedProbe<T>> {
        let now = Instant::now();
        if self.next_sweep.is_none_or(|at| now >= at) {
            self.entries.retain(|_, e| e.fresh(now, window));
            self.next_sweep = Some(now + window);
        }
        self.entries
            .get(key)
            .filter(|entry| entry.fresh(now, window))
            .and_then(Entry::share)
    }

    /// The fresh probe of `key`, else the one `start` starts (and records).
    fn get_or_start(
        &mut self,
        key: ProbeKey,
        window: Duration,
        start: impl FnOnce(Finished<T>) -> SharedProbe<T>,
    ) -> SharedProbe<T> {
        if let Some(shared) = self.fresh(&key, window) {
            return shared;
        }
        let finished: Finished<T> = Arc::new(std::sync::OnceLock::new());
        let fut = start(Arc::clone(&finished));
        if let Some(running) = fut.downgrade() {
            self.entries.insert(key, Entry { finished, running });
        }
        fut
    }
}

/// The shared prober of the operator.
pub struct Prober {
    probes: Probes,
    permits: Arc<Semaphore>,
    /// Endpoints of one audit in progress at once (twice the concurrency).
    per_audit: usize,
    window: Duration,
    full_every: u64,
    full: Mutex<Cache<Facts>>,
    light: Mutex<Cache<LightFacts>>,
    /// Cycles begun per audit (`namespace/name`), for the periodic full cycle.
    cycles: Mutex<HashMap<String, u64>>,
    /// Identical results (replicas of one configuration, inherited facts) held once.
    interner: Arc<Interner>,
    /// Identical light-probe signatures held once.
    signatures: Arc<Signatures>,
    /// Each audit's last results, for the cycles its changes trigger (incremental re-audit).
    previous: Previous,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("available_permits", &self.permits.available_permits())
            .field("window", &self.window)
            .field("full_every", &self.full_every)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One replica group of a light cycle: its reference's full and light probes, shared by the
/// other members.
struct Group {
    reference: usize,
    full: SharedProbe<Facts>,
    light: SharedProbe<LightFacts>,
}

impl Prober {
    /// A prober running at most `concurrency` probes at once, reusing results for `window`, with
    /// only full probes (see [`Prober::with_light`]).
    #[must_use]
    pub fn new(
        probe: ProbeFn,
        concurrency: usize,
        window: Duration,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Self {
            probes: Probes {
                full: probe,
                light: None,
            },
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            per_audit: concurrency.max(1).saturating_mul(2),
            window,
            full_every: 1,
            full: Mutex::new(Cache::default()),
            light: Mutex::new(Cache::default()),
            cycles: Mutex::new(HashMap::new()),
            interner: Arc::default(),
            signatures: Arc::default(),
            previous: Previous::default(),
            metrics,
        }
    }

    /// Probes lightly with `light` (when `Some`) in every cycle but each `full_every`th.
    #[must_use]
    pub fn with_light(mut self, light: Option<LightFn>, full_every: u32) -> Self {
        self.probes.light = light;
        self.full_every = u64::from(full_every.max(1));
        self
    }

    /// Begins a cycle of `audit` (`namespace/name`) and says how deeply it probes: every
    /// `--full-probe-every`th cycle (counting from 1) is full, the others light. Without a light
    /// probe function every cycle is full.
    pub fn begin_cycle(&self, audit: &str) -> Depth {
        if self.probes.light.is_none() || self.full_every <= 1 {
            return Depth::Full;
        }
        let mut cycles = lock(&self.cycles);
        let cycle = cycles.entry(audit.to_owned()).or_insert(0);
        *cycle += 1;
        if (*cycle).is_multiple_of(self.full_every) {
            Depth::Full
        } else {
            Depth::Light
        }
    }

    /// Begins a cycle of `audit` (`namespace/name`) whose configuration is `token` and whose
    /// interval is `interval`: one that reuses the results of the audit's last full probing when
    /// that was less than half the interval ago under the same token (see `reuse.rs`), else one of
    /// [`Prober::begin_cycle`]'s depth whose results are kept for the cycles after it.
    pub fn begin(&self, audit: &str, token: u64, interval: Duration) -> Cycle {
        let within = interval / 2;
        if let Some((reuse, due)) = self.previous.reusable(audit, token) {
            let depth = if self.probes.light.is_some() {
                Depth::Light
            } else {
                Depth::Full
            };
            return Cycle {
                depth,
                audit: Some(audit.to_owned()),
                token,
                reuse: Some(reuse),
                full_due: Some(due),
                within,
            };
        }
        Cycle {
            depth: self.begin_cycle(audit),
            audit: Some(audit.to_owned()),
            token,
            reuse: None,
            full_due: None,
            within,
        }
    }

    /// Forgets the cycle count and the last results of a deleted audit.
    pub fn forget(&self, audit: &str) {
        lock(&self.cycles).remove(audit);
        self.previous.forget(audit);
    }

    /// The facts of `target`, probed now or shared with a probe of the same key in the window.
    pub async fn facts(
        &self,
        key: ProbeKey,
        target: &Target,
        options: &ProbeOptions,
    ) -> Arc<Facts> {
        self.full_probe(key, target, options).await
    }

    fn full_probe(
        &self,
        key: ProbeKey,
        target: &Target,
        options: &ProbeOptions,
    ) -> SharedProbe<Facts> {
        lock(&self.full).get_or_start(key, self.window, |finished| {
            self.start_full(target.clone(), options.clone(), finished)
        })
    }

    fn light_probe(
        &self,
        light: &LightFn,
        key: ProbeKey,
        target: &Target,
        options: &ProbeOptions,
    ) -> SharedProbe<LightFacts> {
        lock(&self.light).get_or_start(key, self.window, |finished| {
            self.start_light(light, target.clone(), options.clone(), finished)
        })
    }

    /// The facts of every planned endpoint, probed in parallel with the audit's trust anchors and
    /// client identity, each connect and exchange bounded by `timeout` and each endpoint by
    /// `deadline`, as deeply as `depth` says; `None` for an endpoint that is not to be probed.
    pub async fn probe_planned(
        &self,
        planned: &[PlannedEndpoint],
        material: &Material,
        timeout: Duration,
        deadline: Duration,
        cycle: impl Into<Cycle>,
    ) -> Vec<Option<Arc<Facts>>> {
        let options = ProbeOptions {
            timeout,
            deadline,
            roots: Arc::clone(&material.roots),
            client_identity: material.identity.clone(),
            ..ProbeOptions::default()
        };
        let keys = (material.identity_fingerprint, material.trust);
        self.probe_with(planned, &options, keys, cycle).await
    }

    /// [`Prober::probe_planned`] with the probe options and the `(identity, trust)` fingerprints
    /// of the cache key given.
    pub async fn probe_with(
        &self,
        planned: &[PlannedEndpoint],
        options: &ProbeOptions,
        (identity, trust): (Option<Fingerprint>, Fingerprint),
        cycle: impl Into<Cycle>,
    ) -> Vec<Option<Arc<Facts>>> {
        let cycle: Cycle = cycle.into();
        let began = Instant::now();
        let key = |p: &PlannedEndpoint| ProbeKey::new(&p.dial, identity, trust);
        let Some(reuse) = cycle.reuse.as_deref() else {
            let facts = self.probe_each(planned, options, &key, cycle.depth).await;
            self.previous
                .record(&cycle, began, keyed(planned, &key, &facts));
            return facts;
        };
        // An incremental cycle: only the endpoints the last full probing did not cover.
        let mut facts: Vec<Option<Arc<Facts>>> = planned
            .iter()
            .map(|p| {
                p.not_probed
                    .is_none()
                    .then(|| reuse.get(&key(p)).cloned())?
            })
            .collect();
        let new: Vec<usize> = (0..planned.len())
            .filter(|&i| facts[i].is_none() && planned[i].not_probed.is_none())
            .collect();
        let subset: Vec<PlannedEndpoint> = new.iter().map(|&i| planned[i].clone()).collect();
        let probed = self.probe_each(&subset, options, &key, cycle.depth).await;
        self.previous
            .record(&cycle, began, keyed(&subset, &key, &probed));
        for (i, f) in new.into_iter().zip(probed) {
            facts[i] = f;
        }
        facts
    }

    /// Probes every planned endpoint (`None` for one not to be probed), `depth` deep.
    async fn probe_each(
        &self,
        planned: &[PlannedEndpoint],
        options: &ProbeOptions,
        key: &(impl Fn(&PlannedEndpoint) -> ProbeKey + Sync),
        depth: Depth,
    ) -> Vec<Option<Arc<Facts>>> {
        let light = self.probes.light.as_ref().filter(|_| depth == Depth::Light);
        let groups = light.map(|light| self.groups(planned, light, key, options));
        let probes: Vec<BoxFuture<'_, Option<Arc<Facts>>>> = planned
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let group = groups.as_ref().and_then(|g| g.get(&i));
                async move {
                    if p.not_probed.is_some() {
                        return None;
                    }
                    Some(match (light, group) {
                        (Some(light), Some(group)) if group.reference != i => {
                            self.member(light, group, key(p), &p.dial, options).await
                        }
                        (_, Some(group)) => group.full.clone().await,
                        _ => self.facts(key(p), &p.dial, options).await,
                    })
                }
                .boxed()
            })
            .collect();
        // At most `per_audit` endpoints of one audit wait for a permit at a time (the semaphore
        // is FIFO): a small audit created while a big one runs queues behind that many of its
        // probes, not behind all of them.
        futures::stream::iter(probes)
            .buffered(self.per_audit)
            .collect()
            .await
    }

    /// The replica groups of two or more probed members, by member index: the reference is the
    /// first member with a fresh full result, else the first member.
    fn groups(
        &self,
        planned: &[PlannedEndpoint],
        light: &LightFn,
        key: &impl Fn(&PlannedEndpoint) -> ProbeKey,
        options: &ProbeOptions,
    ) -> HashMap<usize, Arc<Group>> {
        let mut members: HashMap<(&str, Option<&str>, Protocol), Vec<usize>> = HashMap::new();
        for (i, p) in planned.iter().enumerate() {
            if let (None, Some(group)) = (&p.not_probed, &p.replica_group) {
                let config = (
                    group.as_str(),
                    p.dial.server_name.as_deref(),
                    p.dial.protocol,
                );
                members.entry(config).or_default().push(i);
            }
        }
        let mut groups = HashMap::new();
        for indices in members.into_values().filter(|m| m.len() > 1) {
            let cached = {
                let mut full = lock(&self.full);
                indices
                    .iter()
                    .copied()
                    .find(|i| full.fresh(&key(&planned[*i]), self.window).is_some())
            };
            let reference = cached.unwrap_or(indices[0]);
            let p = &planned[reference];
            let group = Arc::new(Group {
                reference,
                full: self.full_probe(key(p), &p.dial, options),
                light: self.light_probe(light, key(p), &p.dial, options),
            });
            for i in indices {
                groups.insert(i, Arc::clone(&group));
            }
        }
        groups
    }

    /// A replica other than its group's reference: a fresh full result of its own, else its
    /// light probe; the reference's facts when the light signatures match, else a full probe.
    async fn member(
        &self,
        light: &LightFn,
        group: &Group,
        key: ProbeKey,
        target: &Target,
        options: &ProbeOptions,
    ) -> Arc<Facts> {
        let cached = lock(&self.full).fresh(&key, self.window);
        if let Some(cached) = cached {
            return cached.await;
        }
        let mine = self.light_probe(light, key.clone(), target, options);
        let (reference, reference_light, mine) =
            tokio::join!(group.full.clone(), group.light.clone(), mine);
        if let Some(facts) = inherited(&reference, &reference_light, &mine) {
            return self.interner.intern(facts);
        }
        tracing::debug!(host = %target.host, port = target.port, address = ?target.address, "light probe differs from its reference: full probe");
        self.facts(key, target, options).await
    }

    fn start_full(
        &self,
        target: Target,
        options: ProbeOptions,
        finished: Finished<Facts>,
    ) -> SharedProbe<Facts> {
        let probe = Arc::clone(&self.probes.full);
        let interner = Arc::clone(&self.interner);
        let permits = Arc::clone(&self.permits);
        let metrics = self.metrics.clone();
        async move {
            // A closed semaphore never happens (we never close it); probing unbounded would be worse
            // than waiting, so fall through without a permit only in that impossible case.
            let _permit = permits.acquire_owned().await.ok();
            let started = Instant::now();
            let facts = probe(target, options).await;
            let (reachable, connections) = (facts.reachable, facts.connections);
            // Identical results (replicas of one configuration) are held once.
            let facts = interner.intern(facts);
            let _ = finished.set((Instant::now(), Arc::clone(&facts)));
            if let Some(metrics) = metrics {
                metrics.observe_probe(started.elapsed(), reachable);
                metrics.count_probe(ProbeKind::Full, connections);
            }
            facts
        }
        .boxed()
        .shared()
    }

    fn start_light(
        &self,
        light: &LightFn,
        target: Target,
        options: ProbeOptions,
        finished: Finished<LightFacts>,
    ) -> SharedProbe<LightFacts> {
        let probe = Arc::clone(light);
        let permits = Arc::clone(&self.permits);
        let metrics = self.metrics.clone();
        let signatures = Arc::clone(&self.signatures);
        async move {
            let _permit = permits.acquire_owned().await.ok();
            let mut facts = probe(target, options).await;
            facts.signature = facts.signature.map(|s| signatures.intern(s));
            let facts = Arc::new(facts);
            let _ = finished.set((Instant::now(), Arc::clone(&facts)));
            if let Some(metrics) = metrics {
                metrics.count_probe(ProbeKind::Light, facts.connections);
            }
            facts
        }
        .boxed()
        .shared()
    }
}

/// The results of `planned` by probe key (endpoints not probed left out).
fn keyed(
    planned: &[PlannedEndpoint],
    key: &impl Fn(&PlannedEndpoint) -> ProbeKey,
    facts: &[Option<Arc<Facts>>],
) -> Results {
    let mut out = Results::new();
    for (p, f) in planned.iter().zip(facts) {
        if let Some(f) = f {
            out.insert(key(p), Arc::clone(f));
        }
    }
    out
}

/// The facts a replica inherits from its reference: the reference's, with the replica's own
/// connection count and time, when the reference was probed whole (reachable, within its
/// deadline) and both light probes completed a validated handshake with equal signatures.
#[must_use]
pub fn inherited(
    reference: &Facts,
    reference_light: &LightFacts,
    mine: &LightFacts,
) -> Option<Facts> {
    let same = reference_light.signature.is_some() && reference_light.signature == mine.signature;
    (same && reference.reachable && !reference.deadline_exceeded).then(|| Facts {
        connections: mine.connections,
        duration_ms: mine.duration_ms,
        ..reference.clone()
    })
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

    #[test]
    fn a_probe_key_tells_apart_every_part_of_a_probe() {
        let t = target(443, "web.shop.svc");
        let key = |t: &Target| ProbeKey::new(t, None, Fingerprint::default());
        assert_eq!(key(&t), key(&t.clone()));
        let mut by_name = t.clone();
        by_name.address = None;
        let mut no_sni = t.clone();
        no_sni.server_name = None;
        let mut empty_sni = t.clone();
        empty_sni.server_name = Some(String::new());
        let mut postgres = t.clone();
        postgres.protocol = Protocol::Postgres;
        let other = Fingerprint::of([b"other".as_slice()]);
        let keys = [
            key(&t),
            key(&target(8443, "web.shop.svc")),
            key(&target(443, "api.shop.svc")),
            key(&by_name),
            key(&no_sni),
            key(&empty_sni),
            key(&postgres),
            ProbeKey::new(&t, Some(other), Fingerprint::default()),
            ProbeKey::new(&t, Some(Fingerprint::default()), Fingerprint::default()),
            ProbeKey::new(&t, None, other),
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
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

    fn planned(ports: std::ops::Range<u16>) -> Vec<PlannedEndpoint> {
        ports
            .map(|port| PlannedEndpoint {
                origin: "service/web".into(),
                dial: target(port, "web"),
                replica_group: None,
                ingress_secret: None,
                gateway: None,
                not_probed: None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_small_audit_is_queued_behind_a_bounded_part_of_a_big_one() {
        // Concurrency 1: each audit has at most 2 endpoints in progress. The big audit's first
        // probe holds the permit until the small audit has queued.
        let started = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Semaphore::new(0));
        let (s, g) = (Arc::clone(&started), Arc::clone(&gate));
        let probe: ProbeFn = Arc::new(move |target: Target, _| {
            let (s, g) = (Arc::clone(&s), Arc::clone(&g));
            async move {
                s.lock().unwrap().push(target.port);
                let _open = g.acquire().await.unwrap();
                Facts::default()
            }
            .boxed()
        });
        let prober = Arc::new(Prober::new(probe, 1, Duration::ZERO, None));
        let options = ProbeOptions::default();
        let keys = (None, Fingerprint::default());
        let big = {
            let (prober, options) = (Arc::clone(&prober), options.clone());
            tokio::spawn(async move {
                prober
                    .probe_with(&planned(1..21), &options, keys, Depth::Full)
                    .await
                    .len()
            })
        };
        while started.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let small = {
            let (prober, options) = (Arc::clone(&prober), options.clone());
            tokio::spawn(async move {
                prober
                    .probe_with(&planned(100..101), &options, keys, Depth::Full)
                    .await
                    .len()
            })
        };
        // Let the small audit reach the semaphore's queue before anything finishes.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1000);
        assert_eq!(big.await.unwrap(), 20);
        assert_eq!(small.await.unwrap(), 1);
        let order = started.lock().unwrap().clone();
        assert_eq!(order.len(), 21);
        // The big audit's first two, then the small one (not the big one's other 18 first).
        assert_eq!(order[..3], [1, 2, 100]);
    }

    #[tokio::test]
    async fn a_changed_audit_probes_only_its_new_endpoints_until_the_next_full_probing() {
        // No sharing window: every probe here is one the incremental re-audit made or saved.
        let (probe, calls, _) = counting(Duration::ZERO);
        let prober = Prober::new(probe, 4, Duration::ZERO, None);
        let options = ProbeOptions::default();
        let keys = (None, Fingerprint::default());
        let hour = Duration::from_secs(3600);

        let first = prober.begin("shop/web", 1, hour);
        assert!(first.reuse.is_none() && first.full_due.is_none());
        let facts = prober
            .probe_with(&planned(1..6), &options, keys, first)
            .await;
        assert_eq!((facts.len(), calls.load(Ordering::SeqCst)), (5, 5));

        // One address more, same configuration: only it is probed; the full re-audit stays due
        // an interval after the first probing.
        let second = prober.begin("shop/web", 1, hour);
        assert!(second.reuse.is_some() && second.full_due.is_some());
        let facts = prober
            .probe_with(&planned(1..7), &options, keys, second)
            .await;
        assert_eq!(facts.iter().flatten().count(), 6);
        assert_eq!(calls.load(Ordering::SeqCst), 6);

        // Another configuration (spec, audit-now, Secrets at rest): everything again.
        let third = prober.begin("shop/web", 2, hour);
        assert!(third.reuse.is_none());
        prober
            .probe_with(&planned(1..7), &options, keys, third)
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 12);

        // A deleted audit keeps nothing.
        prober.forget("shop/web");
        assert!(prober.begin("shop/web", 2, hour).reuse.is_none());
    }
}
