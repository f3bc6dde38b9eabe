//! tlsaudit audits TLS endpoints: protocol versions, cipher suites, certificates and chains, SNI,
//! ALPN, OCSP stapling and client-certificate demands.
//!
//! The crate is a library with one thin binary (`tlsaudit scan | controller | crd`):
//! - [`probe`] does the I/O (raw ClientHello probes and validated rustls handshakes) and returns
//!   [`facts::Facts`];
//! - [`cert`] turns DER certificates into facts and chain verdicts (pure);
//! - [`evaluate`] and [`grade`] judge facts against a [`policy::Policy`] at a given time (pure);
//! - [`report`] renders a scan for humans and as JSON;
//! - [`fixtures`] builds facts and reports for unit tests and benches;
//! - [`crd`], [`controller`], [`metrics`] and [`http`] make it a Kubernetes operator.

pub mod cert;
pub mod controller;
pub mod crd;
pub mod evaluate;
pub mod facts;
pub mod findings;
pub mod fixtures;
pub mod grade;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod probe;
pub mod report;
pub mod scan;
