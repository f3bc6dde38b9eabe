//! The `tlsaudit` binary.
fn main() {}
