//! Replicas behind one Service port must serve the same leaf and protocol versions. Input: the
//! facts of each probed replica with its consistency group. Output: a `backend.inconsistent`
//! finding for every replica of a group whose members disagree. Pure.

use std::collections::BTreeMap;

use crate::facts::{Facts, TlsVersion};
use crate::findings::{Code, Finding};

/// One probed replica.
#[derive(Debug, Clone, Copy)]
pub struct Replica<'a> {
    /// Consistency group (`service/NAME:PORT`); `None` is never compared.
    pub group: Option<&'a str>,
    /// Address dialled.
    pub address: &'a str,
    /// What the probe saw.
    pub facts: &'a Facts,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Signature {
    leaf: Option<String>,
    versions: Vec<TlsVersion>,
}

impl Signature {
    fn describe(&self) -> String {
        let leaf = self
            .leaf
            .as_deref()
            .map_or("none", |l| l.get(..16).unwrap_or(l));
        let versions: Vec<&str> = self.versions.iter().map(|v| v.name()).collect();
        format!(
            "leaf sha256 {leaf}, {}",
            if versions.is_empty() {
                "no version".into()
            } else {
                versions.join("+")
            }
        )
    }
}

/// Findings to add, as `(index into replicas, finding)`.
#[must_use]
pub fn inconsistent_backends(replicas: &[Replica<'_>]) -> Vec<(usize, Finding)> {
    let mut groups: BTreeMap<&str, Vec<(usize, Signature)>> = BTreeMap::new();
    for (index, replica) in replicas.iter().enumerate() {
        // An unreachable replica has its own reachability finding; it says nothing about drift.
        let (Some(group), true) = (replica.group, replica.facts.reachable) else {
            continue;
        };
        let signature = Signature {
            leaf: replica
                .facts
                .chain
                .first()
                .map(|c| c.sha256.to_ascii_lowercase()),
            versions: replica.facts.protocols.accepted(),
        };
        groups.entry(group).or_default().push((index, signature));
    }
    let mut out = Vec::new();
    for (group, members) in groups {
        let mut distinct: Vec<&Signature> = members.iter().map(|(_, s)| s).collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() < 2 {
            continue;
        }
        let listing: Vec<String> = members
            .iter()
            .take(6)
            .map(|(i, s)| format!("{} ({})", replicas[*i].address, s.describe()))
            .collect();
        let message = format!(
            "the {} replicas of {group} serve {} different configurations: {}{}",
            members.len(),
            distinct.len(),
            listing.join("; "),
            if members.len() > listing.len() {
                "; …"
            } else {
                ""
            }
        );
        for (index, _) in &members {
            out.push((
                *index,
                Finding::new(Code::BackendInconsistent, message.clone()),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, CertBuilder};

    fn facts(leaf: &str, versions: &[TlsVersion]) -> Facts {
        let mut facts = fixtures::reachable(versions);
        facts
            .chain
            .push(CertBuilder::new("CN=web", "CN=ca").sha256(leaf).build());
        facts
    }

    #[test]
    fn replicas_with_different_leaves_are_all_flagged() {
        let a = facts("aaaa", &[TlsVersion::Tls12, TlsVersion::Tls13]);
        let b = facts("bbbb", &[TlsVersion::Tls12, TlsVersion::Tls13]);
        let replicas = [
            Replica {
                group: Some("service/web:https"),
                address: "10.0.0.1:8443",
                facts: &a,
            },
            Replica {
                group: Some("service/web:https"),
                address: "10.0.0.2:8443",
                facts: &b,
            },
            Replica {
                group: Some("service/api:https"),
                address: "10.0.0.3:8443",
                facts: &a,
            },
        ];
        let found = inconsistent_backends(&replicas);
        let indices: Vec<usize> = found.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, vec![0, 1]);
        assert_eq!(found[0].1.code, Code::BackendInconsistent);
        assert!(
            found[0]
                .1
                .message
                .contains("10.0.0.2:8443 (leaf sha256 bbbb"),
            "{}",
            found[0].1.message
        );
    }

    #[test]
    fn replicas_with_different_versions_are_flagged() {
        let a = facts("aaaa", &[TlsVersion::Tls12, TlsVersion::Tls13]);
        let b = facts("aaaa", &[TlsVersion::Tls10, TlsVersion::Tls12]);
        let replicas = [
            Replica {
                group: Some("g"),
                address: "a",
                facts: &a,
            },
            Replica {
                group: Some("g"),
                address: "b",
                facts: &b,
            },
        ];
        assert_eq!(inconsistent_backends(&replicas).len(), 2);
    }

    #[test]
    fn identical_or_ungrouped_or_unreachable_replicas_are_not_flagged() {
        let a = facts("aaaa", &[TlsVersion::Tls13]);
        let down = Facts::default();
        let other = facts("bbbb", &[TlsVersion::Tls13]);
        let replicas = [
            Replica {
                group: Some("g"),
                address: "a",
                facts: &a,
            },
            Replica {
                group: Some("g"),
                address: "b",
                facts: &a,
            },
            Replica {
                group: Some("g"),
                address: "c",
                facts: &down,
            },
            Replica {
                group: None,
                address: "d",
                facts: &other,
            },
        ];
        assert!(inconsistent_backends(&replicas).is_empty());
    }
}
