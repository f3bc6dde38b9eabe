//! Certificates: DER → [`CertFacts`](crate::facts::CertFacts), PEM loading for trust anchors and
//! client identities (pure apart from reading bytes the caller hands in).

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why PEM input could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The bytes are not PEM or hold no certificate.
    #[error("failed to read certificates from PEM: {0}")]
    Certificates(String),
    /// No usable private key.
    #[error("failed to read a private key from PEM: {0}")]
    PrivateKey(String),
}

/// Certificates from a PEM bundle.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut &pem[..]).collect();
    let certs = certs.map_err(|e| PemError::Certificates(e.to_string()))?;
    if certs.is_empty() {
        return Err(PemError::Certificates("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub fn private_key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| PemError::PrivateKey(e.to_string()))?
        .ok_or_else(|| PemError::PrivateKey("no PRIVATE KEY block".into()))
}

/// A root store of the web PKI roots (when `system_roots`) plus every certificate in `bundles`.
pub fn root_store(system_roots: bool, bundles: &[&[u8]]) -> Result<RootCertStore, PemError> {
    let mut store = RootCertStore::empty();
    if system_roots {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for pem in bundles {
        for cert in certificates_from_pem(pem)? {
            store.add(cert).map_err(|e| PemError::Certificates(e.to_string()))?;
        }
    }
    Ok(store)
}
