//! tlsaudit audits TLS endpoints: protocol versions, cipher suites, certificates and chains, SNI,
//! ALPN, OCSP stapling and client-certificate demands.
//!
//! The crate is a library with one thin binary (`tlsaudit scan | controller | crd`):
//! - [`tls`] is the pure TLS vocabulary: the record / handshake codec of the raw probes and the
//!   cipher-suite registry, imported by the rooms below and importing none of them;
//! - [`probe`] does the I/O (raw ClientHello probes and validated rustls handshakes) and returns
//!   [`facts::Facts`];
//! - [`cert`] turns DER certificates into facts and chain verdicts (pure);
//! - [`lifetime`] holds the certificate-lifetime rules (BR maximum validity, expiry thresholds);
//! - [`evaluate`] and [`grade`] judge facts against a [`policy::Policy`] at a given time (pure);
//! - [`report`] renders a scan for humans and as JSON; [`duration`] is the one duration grammar;
//! - [`fixtures`] builds facts and reports for unit tests and benches;
//! - [`crd`], [`controller`], [`metrics`] and [`http`] make it a Kubernetes operator: the
//!   controller imports everything else, and nothing imports the controller.

pub mod cert;
pub mod controller;
pub mod crd;
pub mod duration;
pub mod evaluate;
pub mod facts;
pub mod findings;
pub mod fixtures;
pub mod grade;
pub mod http;
pub mod lifetime;
pub mod metrics;
pub mod policy;
pub mod probe;
pub mod report;
pub mod scan;
pub mod tls;
