//! Findings and facts → an SSL Labs–style grade and the best Mozilla profile met (pure).
//! docs/grading.md documents the caps.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::findings::Finding;
use crate::policy::Profile;

/// The endpoint's grade, best first. `T`: trust problem; `M`: name mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Grade {
    /// A+: A with HSTS of at least 6 months.
    #[serde(rename = "A+")]
    APlus,
    /// A.
    A,
    /// B.
    B,
    /// C.
    C,
    /// D.
    D,
    /// E.
    E,
    /// F.
    F,
    /// Certificate not trusted.
    T,
    /// Certificate name mismatch.
    M,
}

impl Grade {
    /// Display text, e.g. `A+`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::APlus => "A+",
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
            Self::E => "E",
            Self::F => "F",
            Self::T => "T",
            Self::M => "M",
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grade of an endpoint.
#[must_use]
pub fn grade(facts: &Facts, findings: &[Finding]) -> Grade {
    let _ = (facts, findings);
    Grade::F
}

/// The strictest Mozilla profile the endpoint meets, if any.
#[must_use]
pub fn best_profile(facts: &Facts) -> Option<Profile> {
    let _ = facts;
    None
}
