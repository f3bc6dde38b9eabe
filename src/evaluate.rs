//! Facts + policy + now → findings (pure).
