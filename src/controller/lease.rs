//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! audits. Input: the Lease's name and namespace, this replica's identity and timings. Output: "I
//! lead" or "I do not", renewed every retry period.
//!
//! The rules follow client-go's leader election: a replica takes the Lease when it is free
//! (no holder) or when its record has not changed for a whole lease duration as measured on this
//! replica's own monotonic clock (no trust in other clocks); every write carries the
//! resourceVersion it read, so two replicas racing for the Lease cannot both win. A leader that
//! has not renewed within the renew deadline (shorter than the lease duration) must stop at once;
//! the difference is the margin in which it stops before anybody else may take over.
//!
//! Every attempt is bounded: [`Elector::try_acquire_or_renew`] gives up when the time left until the
//! renew deadline runs out (a partitioned leader stops instead of hanging in a request), and the
//! times it writes and observes are taken when the apiserver answered, never at the start of an
//! attempt that may have hung (a healed ex-leader must not judge a fresh Lease expired).

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// Timings of the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long a Lease record holds without renewal.
    pub lease_duration: Duration,
    /// A leader that has not renewed for this long stops leading (must be < `lease_duration`).
    pub renew_deadline: Duration,
    /// Pause between attempts.
    pub retry_period: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What this replica last saw of the Lease, and when (on its own clock).
#[derive(Debug, Clone)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    at: Instant,
}

/// One replica's view of the election.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: Timings,
    observed: Option<Observed>,
    last_renewed: Option<Instant>,
}

/// The Lease API failed or did not answer in time (a lost race is not an error: it is "not
/// leading").
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} Lease {name}: {}", cause(source.as_ref(), *timeout))]
pub struct LeaseError {
    action: &'static str,
    name: String,
    #[source]
    source: Option<kube::Error>,
    timeout: Option<Duration>,
}

fn cause(source: Option<&kube::Error>, timeout: Option<Duration>) -> String {
    match (source, timeout) {
        (Some(e), _) => e.to_string(),
        (None, Some(t)) => format!("no answer within {t:?}"),
        (None, None) => "unknown".to_owned(),
    }
}

fn conflict_or_exists(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

impl Elector {
    /// An elector for Lease `namespace/name` as `identity`.
    #[must_use]
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timings: Timings,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timings,
            observed: None,
            last_renewed: None,
        }
    }

    /// This replica's identity.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The election timings.
    #[must_use]
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Whether the last successful renewal is recent enough to keep leading.
    #[must_use]
    pub fn within_deadline(&self) -> bool {
        self.last_renewed
            .is_some_and(|t| t.elapsed() < self.timings.renew_deadline)
    }

    /// How long the next attempt may take: what is left of the renew deadline while leading, else
    /// the renew deadline (a campaigning replica holds nothing it could lose).
    #[must_use]
    pub fn attempt_budget(&self) -> Duration {
        match self.last_renewed {
            Some(t) => self.timings.renew_deadline.saturating_sub(t.elapsed()),
            None => self.timings.renew_deadline,
        }
    }

    /// [`Self::try_acquire_or_renew`] bounded by [`Self::attempt_budget`]: an attempt that the
    /// apiserver does not answer in time is dropped (its requests cancelled) and is an error.
    pub async fn attempt(&mut self) -> Result<bool, LeaseError> {
        let budget = self.attempt_budget();
        if let Ok(result) = tokio::time::timeout(budget, self.try_acquire_or_renew()).await {
            return result;
        }
        if !self.within_deadline() {
            self.last_renewed = None;
        }
        Err(LeaseError {
            action: "renew in time",
            name: self.name.clone(),
            source: None,
            timeout: Some(budget),
        })
    }

    fn spec(
        &self,
        now: jiff::Timestamp,
        acquired: Option<MicroTime>,
        transitions: i32,
    ) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.timings.lease_duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Takes or renews the Lease. `Ok(true)`: this replica leads until `renew_deadline` from now.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaseError> {
        let attempt = Instant::now();
        let err = |action, source| LeaseError {
            action,
            name: self.name.clone(),
            source: Some(source),
            timeout: None,
        };
        let Some(mut lease) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| err("read", e))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(jiff::Timestamp::now(), None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(self.won(attempt)),
                Err(e) if conflict_or_exists(&e) => Ok(false),
                Err(e) => Err(err("create", e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|o| o.holder != holder || o.renew_time != spec.renew_time);
        if changed {
            // Stamped when the answer arrived: a read that hung through a partition must not make
            // a record renewed meanwhile look old.
            self.observed = Some(Observed {
                holder: holder.clone(),
                renew_time: spec.renew_time.clone(),
                at: Instant::now(),
            });
        }
        let mine = holder.as_deref() == Some(self.identity.as_str());
        if !mine
            && holder.is_some()
            && self
                .observed
                .as_ref()
                .is_some_and(|o| o.at.elapsed() < self.timings.lease_duration)
        {
            self.last_renewed = None;
            return Ok(false);
        }
        let (acquired, transitions) = if mine {
            (
                spec.acquire_time.clone(),
                spec.lease_transitions.unwrap_or(0),
            )
        } else {
            (None, spec.lease_transitions.unwrap_or(0).saturating_add(1))
        };
        // The times written are those of the write, not of the start of the attempt.
        lease.spec = Some(self.spec(jiff::Timestamp::now(), acquired, transitions));
        // `replace` sends the resourceVersion just read (optimistic concurrency): a concurrent
        // writer makes this a 409, and a 409 is a lost race.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(self.won(attempt)),
            Err(e) if conflict_or_exists(&e) => {
                self.last_renewed = None;
                Ok(false)
            }
            Err(e) => Err(err("update", e)),
        }
    }

    fn won(&mut self, attempt: Instant) -> bool {
        // Deadlines count from before the request: the apiserver may have stored it at any time
        // after that.
        self.last_renewed = Some(attempt);
        self.observed = None;
        true
    }

    /// Gives the Lease up (when held), so that another replica takes over without waiting.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        self.last_renewed = None;
        let err = |action, source| LeaseError {
            action,
            name: self.name.clone(),
            source: Some(source),
            timeout: None,
        };
        let Some(mut lease) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| err("read", e))?
        else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if conflict_or_exists(&e) => Ok(()),
            Err(e) => Err(err("release", e)),
        }
    }
}
