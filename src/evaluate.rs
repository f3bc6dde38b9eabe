//! Facts + policy + now → findings (pure). Time is a parameter, never read here.

use crate::facts::Facts;
use crate::findings::Finding;
use crate::policy::Policy;

/// Judges the facts of one endpoint. `server_name` is the name a client verifies against.
#[must_use]
pub fn evaluate(facts: &Facts, server_name: Option<&str>, policy: &Policy, now: jiff::Timestamp) -> Vec<Finding> {
    let _ = (facts, server_name, policy, now);
    Vec::new()
}
