//! Identical probe results held once. Input: the facts of a finished probe, or the signature of
//! a light probe. Output: an `Arc` shared with every other live result of the same configuration.
//!
//! The replicas of a Service, and Services behind one ingress controller, usually serve the very
//! same configuration: their facts differ only in the probe's own wall time and connection count.
//! The probe cache keeps one `Arc<Facts>` per endpoint for its window (about 3.7 KiB each), so at
//! 50,000 endpoints it held 180 MiB; with identical results shared it holds one copy per distinct
//! configuration. The shared copy keeps the wall time and connection count of the first probe
//! that produced it; a probe cut by its deadline (whose message quotes both) is never shared.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::facts::Facts;
use crate::probe::light::Signature;

/// The live probe results by content, held weakly: a result nobody uses any more is dropped.
#[derive(Debug, Default)]
pub struct Interner {
    live: Mutex<Live<Facts>>,
}

/// Values held weakly by the hash of their content, swept of dead ones as the map doubles.
#[derive(Debug)]
struct Live<T> {
    by_hash: HashMap<u64, Vec<Weak<T>>>,
    /// Entries after the last sweep of dead ones; the next sweep comes at twice as many.
    swept_at: usize,
}

impl<T> Default for Live<T> {
    fn default() -> Self {
        Self {
            by_hash: HashMap::new(),
            swept_at: 0,
        }
    }
}

impl<T> Live<T> {
    /// The live value of `hash` that `same` accepts, if any.
    fn held(&mut self, hash: u64, mut same: impl FnMut(&T) -> bool) -> Option<Arc<T>> {
        let held = self.by_hash.get_mut(&hash)?;
        held.retain(|w| w.strong_count() > 0);
        held.iter().filter_map(Weak::upgrade).find(|h| same(h))
    }

    /// Records `value` under `hash`, and sweeps the dead entries when the map has doubled.
    fn insert(&mut self, hash: u64, value: &Arc<T>) {
        self.by_hash
            .entry(hash)
            .or_default()
            .push(Arc::downgrade(value));
        if self.by_hash.len() > (2 * self.swept_at).max(1024) {
            self.by_hash.retain(|_, same| {
                same.retain(|w| w.strong_count() > 0);
                !same.is_empty()
            });
            self.swept_at = self.by_hash.len();
        }
    }
}

impl Interner {
    /// `facts` as an `Arc`, the one already held when a live result of the same configuration
    /// exists.
    pub fn intern(&self, mut facts: Facts) -> Arc<Facts> {
        if facts.deadline_exceeded {
            return Arc::new(facts);
        }
        let hash = content_hash(&mut facts);
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = live.held(hash, |held| same_configuration(held, &mut facts)) {
            return held;
        }
        let facts = Arc::new(facts);
        live.insert(hash, &facts);
        facts
    }

    /// Distinct live results held (for tests and benchmarks).
    #[must_use]
    pub fn distinct(&self) -> usize {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.by_hash
            .values()
            .flatten()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}

/// Runs `f` on `facts` with the per-probe statistics set to `(duration_ms, connections)`, then
/// restores them.
fn with_stats<T>(facts: &mut Facts, stats: (u64, u32), f: impl FnOnce(&Facts) -> T) -> T {
    let saved = (facts.duration_ms, facts.connections);
    (facts.duration_ms, facts.connections) = stats;
    let out = f(facts);
    (facts.duration_ms, facts.connections) = saved;
    out
}

/// A hash of everything but the per-probe statistics.
fn content_hash(facts: &mut Facts) -> u64 {
    with_stats(facts, (0, 0), |f| {
        let mut hasher = HashWriter(DefaultHasher::new());
        // Serialising into a hasher cannot fail (the writer never errors, Facts has no map
        // with non-string keys); a failure would only make this result unshared.
        let _ = serde_json::to_writer(&mut hasher, f);
        hasher.0.finish()
    })
}

/// Whether `held` and `facts` differ at most in the per-probe statistics.
fn same_configuration(held: &Facts, facts: &mut Facts) -> bool {
    with_stats(facts, (held.duration_ms, held.connections), |f| f == held)
}

struct HashWriter(DefaultHasher);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The light-probe signatures of live results, each held once: every replica that serves one
/// configuration shares its signature (about 300 bytes with its strings and chain digests), so the
/// light-probe cache holds one per distinct configuration rather than one per endpoint.
#[derive(Debug, Default)]
pub struct Signatures {
    live: Mutex<Live<Signature>>,
}

impl Signatures {
    /// `signature`, or the equal one already held.
    pub fn intern(&self, signature: Arc<Signature>) -> Arc<Signature> {
        let mut hasher = DefaultHasher::new();
        std::hash::Hash::hash(&*signature, &mut hasher);
        let hash = hasher.finish();
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = live.held(hash, |held| *held == *signature) {
            return held;
        }
        live.insert(hash, &signature);
        signature
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(port_suite: &str, ms: u64) -> Facts {
        let mut facts = Facts {
            reachable: true,
            duration_ms: ms,
            connections: 16,
            ..Facts::default()
        };
        facts.alpn.selected = Some(port_suite.to_owned());
        facts
    }

    #[test]
    fn results_that_differ_only_in_timing_are_held_once() {
        let interner = Interner::default();
        let a = interner.intern(facts("h2", 8));
        let b = interner.intern(facts("h2", 11));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(b.duration_ms, 8, "the first probe's statistics are kept");
        let c = interner.intern(facts("http/1.1", 8));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(interner.distinct(), 2);
    }

    #[test]
    fn a_result_nobody_holds_is_not_kept_and_a_deadline_result_is_never_shared() {
        let interner = Interner::default();
        drop(interner.intern(facts("h2", 8)));
        assert_eq!(interner.distinct(), 0);
        let mut cut = facts("h2", 30_000);
        cut.deadline_exceeded = true;
        let a = interner.intern(cut.clone());
        let b = interner.intern(cut);
        assert!(!Arc::ptr_eq(&a, &b));
    }
    #[test]
    fn equal_signatures_are_held_once_and_dropped_with_their_last_holder() {
        use crate::facts::{Negotiated, TlsVersion};
        use crate::probe::light::HelloAnswer;
        let signature = |leaf: u8| {
            Arc::new(Signature {
                chain: vec![[leaf; 32]],
                negotiated: Negotiated {
                    version: TlsVersion::Tls13,
                    cipher: "TLS13_AES_128_GCM_SHA256".into(),
                    group: Some("X25519MLKEM768".into()),
                    alpn: None,
                },
                client_auth_requested: false,
                stapled: false,
                legacy_versions: HelloAnswer::Alert(70),
                weak_suites: HelloAnswer::Alert(40),
            })
        };
        let set = Signatures::default();
        let first = set.intern(signature(1));
        let again = set.intern(signature(1));
        assert!(Arc::ptr_eq(&first, &again));
        let other = set.intern(signature(2));
        assert!(!Arc::ptr_eq(&first, &other));
        let weak = Arc::downgrade(&first);
        drop((first, again));
        assert_eq!(weak.strong_count(), 0);
        assert!(!Arc::ptr_eq(&set.intern(signature(1)), &other));
    }
}
