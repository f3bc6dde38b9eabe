//! Shared helpers for integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc
)]

pub mod kube;
pub mod openssl;
pub mod peers;
pub mod pki;
pub mod tls_server;
