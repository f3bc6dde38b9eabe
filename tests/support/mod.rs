//! Shared helpers for integration tests: the test control plane's client and namespaces (`kube`),
//! the operator with loopback servers behind fake Pod addresses (`audit`), rustls certificate
//! hierarchies (`pki`) and servers (`tls_server`), the Gateway API CRDs and objects (`gateway`), a freezable TCP relay in front of the apiserver (`relay`), Debian's OpenSSL/GnuTLS servers (`openssl`) and PostgreSQL (`postgres`).

// The one allow of the integration tests. Reason: every test binary uses a different subset of
// these helpers, and a helper that cannot do its job fails the test loudly (unwrap, panic!).
// clippy.toml already allows both inside #[test] functions, but not in helpers (rust-clippy#11119).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::missing_panics_doc
)]

pub mod audit;
pub mod cluster;
pub mod gateway;
pub mod hostile;
pub mod kube;
pub mod openssl;
pub mod peers;
pub mod pki;
pub mod postgres;
pub mod relay;
pub mod tls_server;
