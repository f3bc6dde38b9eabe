//! Findings and facts → grade and Mozilla profile (pure).
