//! Certificate facts and chain verdicts from DER (pure).
