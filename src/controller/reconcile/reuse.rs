//! Incremental re-audit: the results of an audit's last cycle, reused by the cycles a change of
//! its targets triggers. Input: each cycle's probe results by probe key. Output: what the next
//! cycle of the same audit may reuse, and when its next full probing is due.
//!
//! A change of one EndpointSlice triggers the whole audit. Within the first half of the audit's
//! interval after its last full probing, and while its spec (generation) and audit-now annotation
//! are unchanged, the endpoints whose probe key (address, SNI, identity, trust, protocol) was
//! probed then are judged on those results; only new keys are probed. The scheduled re-audit
//! (at that probing plus the interval) probes everything again, and so does a change in the
//! second half of the interval, an audit-now, a spec change or an operator restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::prober::{Depth, ProbeKey};
use crate::facts::Facts;

/// Probe results by key.
pub type Results = HashMap<ProbeKey, Arc<Facts>>;

/// How one cycle of an audit probes.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// How deeply the endpoints it probes are probed.
    pub depth: Depth,
    /// The audit (`namespace/name`), when its results are to be kept for later cycles.
    pub audit: Option<String>,
    /// What identifies the audit's configuration (generation, audit-now annotation).
    pub token: u64,
    /// Results of the audit's last cycle that this one reuses instead of probing.
    pub reuse: Option<Arc<Results>>,
    /// When the next full probing is due, for a cycle that reuses results: the re-audit then
    /// keeps the schedule of the last full probing.
    pub full_due: Option<Instant>,
    /// How long after a full probing its results may be reused (half the audit's interval).
    pub within: Duration,
}

impl From<Depth> for Cycle {
    fn from(depth: Depth) -> Self {
        Self {
            depth,
            audit: None,
            token: 0,
            reuse: None,
            full_due: None,
            within: Duration::ZERO,
        }
    }
}

struct Last {
    token: u64,
    /// When the cycle that probed every endpoint began.
    probed_at: Instant,
    /// How long after `probed_at` results may be reused.
    within: Duration,
    results: Arc<Results>,
}

/// The last results of every audit.
#[derive(Default)]
pub struct Previous {
    by_audit: Mutex<HashMap<String, Last>>,
}

impl std::fmt::Debug for Previous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Previous").finish_non_exhaustive()
    }
}

impl Previous {
    /// What a cycle of `audit` beginning now may reuse, and when its full probing is due.
    #[must_use]
    pub fn reusable(&self, audit: &str, token: u64) -> Option<(Arc<Results>, Instant)> {
        let by_audit = self.by_audit.lock().unwrap_or_else(PoisonError::into_inner);
        let last = by_audit.get(audit)?;
        let now = Instant::now();
        (last.token == token && now < last.probed_at + last.within)
            .then(|| (Arc::clone(&last.results), last.probed_at + 2 * last.within))
    }

    /// Keeps the results of a cycle of `audit` that began at `began`: all of them after a full
    /// probing, merged into the last ones after a cycle that reused those.
    pub fn record(&self, cycle: &Cycle, began: Instant, results: Results) {
        let Some(audit) = cycle.audit.as_ref().filter(|_| !cycle.within.is_zero()) else {
            return;
        };
        let mut by_audit = self.by_audit.lock().unwrap_or_else(PoisonError::into_inner);
        let last = match (&cycle.reuse, by_audit.get(audit)) {
            (Some(reused), Some(last)) if last.token == cycle.token => {
                let mut merged = (**reused).clone();
                merged.extend(results);
                Last {
                    token: cycle.token,
                    probed_at: last.probed_at,
                    within: last.within,
                    results: Arc::new(merged),
                }
            }
            _ => Last {
                token: cycle.token,
                probed_at: began,
                within: cycle.within,
                results: Arc::new(results),
            },
        };
        by_audit.insert(audit.clone(), last);
    }

    /// Forgets a deleted audit.
    pub fn forget(&self, audit: &str) {
        let mut by_audit = self.by_audit.lock().unwrap_or_else(PoisonError::into_inner);
        by_audit.remove(audit);
    }
}
