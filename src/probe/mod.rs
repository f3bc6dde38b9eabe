//! The probe engine's I/O: for one endpoint, raw ClientHello probes (versions, suites, legacy
//! features) and validated rustls handshakes (chain, trust, SNI, ALPN, OCSP, client auth).
//! Input: a [`Target`] and [`ProbeOptions`]. Output: [`Facts`]; never an error — failures are facts.

pub mod legacy;
pub mod net;
pub mod suites;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::facts::Facts;

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Host name or IP literal as given by the user.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Address to dial instead of resolving `host` (e.g. an EndpointSlice address).
    pub address: Option<SocketAddr>,
    /// SNI and verification name; `None` sends no SNI and verifies against `host`.
    pub server_name: Option<String>,
}

/// A client certificate chain and its private key (mTLS).
#[derive(Debug)]
pub struct ClientIdentity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key. Never logged or serialised.
    pub key: PrivateKeyDer<'static>,
}

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Deadline for each connect and each exchange.
    pub timeout: Duration,
    /// Byte budget for one server flight.
    pub max_bytes: usize,
    /// Trust anchors the chain is verified against.
    pub roots: Arc<RootCertStore>,
    /// Client identity offered when the server asks for one.
    pub client_identity: Option<Arc<ClientIdentity>>,
    /// Send one `GET /` over the verified connection to read HSTS.
    pub http: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
            roots: Arc::new(RootCertStore::empty()),
            client_identity: None,
            http: true,
        }
    }
}

/// Probes one endpoint and returns what was observed.
pub async fn probe(target: &Target, options: &ProbeOptions) -> Facts {
    let _ = (target, options);
    Facts::default()
}

impl ClientIdentity {
    /// Loads a client identity from a PEM chain and a PEM private key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, crate::cert::PemError> {
        Ok(Self {
            chain: crate::cert::certificates_from_pem(chain_pem)?,
            key: crate::cert::private_key_from_pem(key_pem)?,
        })
    }
}
