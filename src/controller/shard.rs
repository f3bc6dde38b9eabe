//! Sharding of the audits between replicas (`--sharding on`). Input: this replica's identity, the
//! member Leases in the lease namespace, and audit keys (`namespace/name`). Output: the live member
//! set, and for each audit the one replica that audits it.
//!
//! Kubernetes is the membership service: every replica keeps its own Lease
//! `<lease-name>-<identity>` labelled [`MEMBER_LABEL`]`=<lease-name>` and renews it every retry
//! period; the live members are the labelled Leases whose `renewTime + leaseDurationSeconds` lies in
//! the future. Ownership is rendezvous (highest-random-weight) hashing of the audit key over the
//! live identities: every replica computes the same owner from the same member set, with no
//! coordination, and a departing member moves only its own audits.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::lease::Timings;

/// Label on member Leases; its value is the `--lease-name` the replicas share.
pub const MEMBER_LABEL: &str = "tlsaudit.dev/member";

/// The key an audit is hashed by.
#[must_use]
pub fn audit_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The rendezvous weight of `member` for `key`: SHA-256 rather than std's hasher, whose algorithm may
/// change between Rust releases while replicas of two builds must agree during a rollout.
fn weight(member: &str, key: &str) -> u64 {
    let mut hasher = Sha256::new();
    // Length-prefixed, so that ("ab", "c") and ("a", "bc") never hash alike.
    hasher.update((member.len() as u64).to_be_bytes());
    hasher.update(member.as_bytes());
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The member that owns `key`: the one with the highest weight (ties, practically impossible, go
/// to the greater identity so that the order of `members` never matters). `None` without members.
pub fn owner<'a>(key: &str, members: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    members
        .into_iter()
        .max_by_key(|member| (weight(member, key), *member))
}

/// The keys that `me` owns under `new` but did not own under `old`.
pub fn moved_in<'k>(
    keys: impl IntoIterator<Item = &'k str>,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
    me: &str,
) -> Vec<&'k str> {
    keys.into_iter()
        .filter(|key| {
            owner(key, new.iter().map(String::as_str)) == Some(me)
                && owner(key, old.iter().map(String::as_str)) != Some(me)
        })
        .collect()
}

/// The identities of the Leases still live at `now` (renewed less than their duration ago).
#[must_use]
pub fn live(leases: &[Lease], now: jiff::Timestamp) -> BTreeSet<String> {
    leases
        .iter()
        .filter_map(|lease| {
            let spec = lease.spec.as_ref()?;
            let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty())?;
            let renewed = spec.renew_time.as_ref()?.0;
            let seconds = i64::from(spec.lease_duration_seconds?);
            let expires = renewed
                .checked_add(jiff::SignedDuration::from_secs(seconds))
                .ok()?;
            (expires > now).then(|| holder.to_owned())
        })
        .collect()
}

/// `text` as a DNS name of at most `max` characters (also a valid label value when `max` ≤ 63).
/// Anything altered gets a hash suffix of the original, so that two identities differing only in
/// case or punctuation still get two names.
#[must_use]
pub fn dns_name(text: &str, max: usize) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed == text && !text.is_empty() && text.len() <= max {
        return trimmed.to_owned();
    }
    let suffix =
        Sha256::digest(text.as_bytes())
            .iter()
            .take(4)
            .fold(String::new(), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            });
    let room = max.saturating_sub(suffix.len() + 1);
    let head: String = trimmed.chars().take(room).collect();
    let head = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        suffix
    } else {
        format!("{head}-{suffix}")
    }
}

/// The name of `identity`'s member Lease in group `lease_name`.
#[must_use]
pub fn member_lease_name(lease_name: &str, identity: &str) -> String {
    dns_name(&format!("{lease_name}-{identity}"), 253)
}

/// This replica's view of the members, shared with the reconciles: an empty set (before the
/// first renewal, or when renewal kept failing) owns nothing.
#[derive(Debug, Clone)]
pub struct Shard {
    identity: Arc<str>,
    view: watch::Receiver<Arc<BTreeSet<String>>>,
}

impl Shard {
    /// A handle for `identity` reading `view`.
    #[must_use]
    pub fn new(identity: &str, view: watch::Receiver<Arc<BTreeSet<String>>>) -> Self {
        Self {
            identity: identity.into(),
            view,
        }
    }

    /// This replica's identity.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Whether this replica audits `namespace/name` under the current members.
    #[must_use]
    pub fn owns(&self, namespace: &str, name: &str) -> bool {
        let members = self.view.borrow();
        owner(
            &audit_key(namespace, name),
            members.iter().map(String::as_str),
        ) == Some(&*self.identity)
    }

    /// The receiver of member-set changes.
    #[must_use]
    pub fn view(&self) -> watch::Receiver<Arc<BTreeSet<String>>> {
        self.view.clone()
    }
}

/// The member Lease API failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} member Lease {name}: {source}")]
pub struct MembershipError {
    action: &'static str,
    name: String,
    source: kube::Error,
}

/// This replica's member Lease and the list of its peers'.
#[derive(Debug)]
pub struct Membership {
    api: Api<Lease>,
    group: String,
    name: String,
    identity: String,
    timings: Timings,
}

impl Membership {
    /// Membership of `identity` in group `lease_name`, with Leases in `namespace`.
    #[must_use]
    pub fn new(
        client: Client,
        namespace: &str,
        lease_name: &str,
        identity: &str,
        timings: Timings,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            group: dns_name(lease_name, 63),
            name: member_lease_name(lease_name, identity),
            identity: identity.to_owned(),
            timings,
        }
    }

    /// This replica's identity.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The timings of the member Leases.
    #[must_use]
    pub fn timings(&self) -> Timings {
        self.timings
    }

    fn error(&self, action: &'static str, source: kube::Error) -> MembershipError {
        MembershipError {
            action,
            name: self.name.clone(),
            source,
        }
    }

    fn lease(&self, now: jiff::Timestamp, from: Option<Lease>) -> Lease {
        let mut lease = from.unwrap_or_default();
        let metadata = &mut lease.metadata;
        metadata.name = Some(self.name.clone());
        metadata
            .labels
            .get_or_insert_default()
            .insert(MEMBER_LABEL.to_owned(), self.group.clone());
        let acquired = lease.spec.as_ref().and_then(|s| s.acquire_time.clone());
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.timings.lease_duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        });
        lease
    }

    /// Renews (or creates) this replica's Lease, then lists the live members. The caller bounds
    /// the call by the renew deadline (`supervise::heartbeat`).
    pub async fn refresh(&self) -> Result<BTreeSet<String>, MembershipError> {
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error("read", e))?;
        // Stamped after the read answered, not at the start of an attempt that may have hung.
        let now = jiff::Timestamp::now();
        if current.is_some() {
            // `replace` carries the resourceVersion just read (optimistic concurrency): should
            // anything else have written this Lease meanwhile, the renewal fails with a conflict
            // and is retried from a fresh read.
            self.api
                .replace(
                    &self.name,
                    &PostParams::default(),
                    &self.lease(now, current),
                )
                .await
                .map_err(|e| self.error("renew", e))?;
        } else {
            let fresh = Lease {
                metadata: ObjectMeta::default(),
                spec: None,
            };
            self.api
                .create(&PostParams::default(), &self.lease(now, Some(fresh)))
                .await
                .map_err(|e| self.error("create", e))?;
        }
        let selector = format!("{MEMBER_LABEL}={}", self.group);
        let leases = self
            .api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.error("list", e))?;
        Ok(live(&leases.items, jiff::Timestamp::now()))
    }

    /// Deletes this replica's Lease, so that the others take its audits over at their next list.
    pub async fn leave(&self) -> Result<(), MembershipError> {
        match self.api.delete(&self.name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(self.error("delete", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn members(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn keys(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| audit_key("team", &format!("audit-{i}")))
            .collect()
    }

    fn owners(keys: &[String], members: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .map(|k| {
                let o = owner(k, members.iter().copied()).unwrap();
                (k.clone(), o.to_owned())
            })
            .collect()
    }

    #[test]
    fn nobody_owns_an_audit_without_members() {
        assert_eq!(owner("team/web", std::iter::empty()), None);
    }

    #[test]
    fn a_single_member_owns_every_audit() {
        for key in keys(50) {
            assert_eq!(owner(&key, ["alpha"]), Some("alpha"));
        }
    }

    #[test]
    fn the_owner_does_not_depend_on_the_order_of_the_members() {
        let keys = keys(1000);
        let reference = owners(&keys, &["alpha", "beta", "gamma"]);
        for order in [
            ["alpha", "gamma", "beta"],
            ["beta", "alpha", "gamma"],
            ["beta", "gamma", "alpha"],
            ["gamma", "alpha", "beta"],
            ["gamma", "beta", "alpha"],
        ] {
            assert_eq!(owners(&keys, &order), reference, "{order:?}");
        }
    }

    #[test]
    fn when_a_member_leaves_only_its_audits_move() {
        let keys = keys(1000);
        let before = owners(&keys, &["alpha", "beta", "gamma"]);
        let after = owners(&keys, &["alpha", "gamma"]);
        let mut moved = 0;
        for key in &keys {
            if before[key] == "beta" {
                moved += 1;
                assert_ne!(after[key], "beta");
            } else {
                assert_eq!(after[key], before[key], "{key} moved needlessly");
            }
        }
        assert!(moved > 0);
    }

    #[test]
    fn when_a_member_joins_only_the_audits_it_takes_move() {
        let keys = keys(1000);
        let before = owners(&keys, &["alpha", "beta"]);
        let after = owners(&keys, &["alpha", "beta", "gamma"]);
        for key in &keys {
            assert!(
                after[key] == before[key] || after[key] == "gamma",
                "{key}: {} → {}",
                before[key],
                after[key]
            );
        }
    }

    #[test]
    fn a_thousand_audits_spread_roughly_evenly_over_three_members() {
        let keys = keys(1000);
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for o in owners(&keys, &["alpha", "beta", "gamma"]).into_values() {
            *counts.entry(o).or_default() += 1;
        }
        assert_eq!(counts.len(), 3, "{counts:?}");
        for (member, n) in &counts {
            // 333 expected; ±25 % is far outside the binomial spread (σ ≈ 15).
            assert!((250..=417).contains(n), "{member}: {n} of 1000");
        }
    }

    #[test]
    fn the_owner_is_the_same_across_builds() {
        // Pinned values: replicas of two releases must agree during a rolling update.
        assert_eq!(weight("alpha", "team/web"), 4_934_609_719_205_597_825);
        assert_eq!(weight("beta", "team/web"), 12_690_986_695_248_463_888);
        assert_eq!(owner("team/web", ["alpha", "beta"]), Some("beta"));
        assert_ne!(weight("ab", "c"), weight("a", "bc"));
        assert_eq!(
            owner("team/web", ["alpha", "beta", "gamma"]),
            owner("team/web", ["gamma", "beta", "alpha"])
        );
    }

    #[test]
    fn moved_in_lists_only_the_audits_newly_owned() {
        let keys = keys(300);
        let old = members(&["alpha", "beta"]);
        let new = members(&["alpha"]);
        let moved = moved_in(keys.iter().map(String::as_str), &old, &new, "alpha");
        let expected: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| owner(k, ["alpha", "beta"]) == Some("beta"))
            .collect();
        assert_eq!(moved, expected);
        assert!(!moved.is_empty());
        // From nobody (the start) to a member set: everything this replica owns is new.
        let all = moved_in(
            keys.iter().map(String::as_str),
            &BTreeSet::new(),
            &new,
            "alpha",
        );
        assert_eq!(all.len(), 300);
        assert!(moved_in(keys.iter().map(String::as_str), &old, &new, "beta").is_empty());
    }

    fn lease(holder: Option<&str>, renewed: Option<&str>, seconds: Option<i32>) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                renew_time: renewed.map(|t| MicroTime(t.parse().unwrap())),
                lease_duration_seconds: seconds,
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn only_leases_renewed_within_their_duration_are_live_members() {
        let now: jiff::Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        let leases = [
            lease(Some("fresh"), Some("2026-01-01T00:00:05Z"), Some(15)),
            lease(Some("expired"), Some("2026-01-01T00:00:00Z"), Some(10)),
            lease(Some("just-alive"), Some("2026-01-01T00:00:00Z"), Some(11)),
            lease(None, Some("2026-01-01T00:00:05Z"), Some(15)),
            lease(Some(""), Some("2026-01-01T00:00:05Z"), Some(15)),
            lease(Some("never-renewed"), None, Some(15)),
            lease(Some("no-duration"), Some("2026-01-01T00:00:05Z"), None),
        ];
        assert_eq!(live(&leases, now), members(&["fresh", "just-alive"]));
    }

    #[test]
    fn member_lease_names_are_dns_names_and_distinct_per_identity() {
        assert_eq!(
            member_lease_name("tlsaudit-controller", "tlsaudit-7d9f-abcde"),
            "tlsaudit-controller-tlsaudit-7d9f-abcde"
        );
        let upper = member_lease_name("tlsaudit", "Pod_A");
        let lower = member_lease_name("tlsaudit", "pod-a");
        assert_ne!(upper, lower);
        assert!(upper.starts_with("tlsaudit-pod-a-"), "{upper}");
        let long = member_lease_name("tlsaudit", &"x".repeat(400));
        assert_eq!(long.len(), 253);
        for name in [
            &upper,
            &long,
            &dns_name("--", 63),
            &dns_name(&"y".repeat(99), 63),
        ] {
            assert!(name.len() <= 253 && !name.is_empty(), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
                "{name}"
            );
            assert!(
                name.starts_with(|c: char| c.is_ascii_alphanumeric()),
                "{name}"
            );
            assert!(
                name.ends_with(|c: char| c.is_ascii_alphanumeric()),
                "{name}"
            );
        }
        assert_eq!(dns_name(&"y".repeat(99), 63).len(), 63);
    }
}
