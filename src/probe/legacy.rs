//! Placeholder until the raw ClientHello prober lands.
use super::net::Dialer;
use crate::facts::{Failure, Protocols, VersionSuites};

/// Raw probe results.
#[derive(Debug, Default)]
pub struct RawScan {
    /// Versions.
    pub protocols: Protocols,
    /// Suites.
    pub ciphers: Vec<VersionSuites>,
    /// SCSV.
    pub fallback_scsv: Option<bool>,
    /// Reneg.
    pub secure_renegotiation: Option<bool>,
    /// Compression.
    pub compression: Option<bool>,
    /// Heartbeat.
    pub heartbeat: Option<bool>,
    /// Chain.
    pub chain: Vec<Vec<u8>>,
    /// Staple.
    pub ocsp_staple: Option<Vec<u8>>,
    /// CertificateRequest seen.
    pub certificate_request: bool,
    /// Failure.
    pub failure: Option<Failure>,
}

/// Raw scan.
pub async fn scan(dialer: &Dialer, server_name: Option<&str>) -> RawScan {
    let _ = (dialer, server_name);
    RawScan::default()
}
