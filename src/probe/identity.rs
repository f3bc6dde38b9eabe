//! The client identity offered for mTLS: a PEM chain and key, checked when loaded so that an
//! unusable key (RSA below 2048 bits, Ed448, garbage, another certificate's key) is the caller's
//! error, never a handshake failure blamed on the server. Input: PEM bytes. Output: a
//! [`ClientIdentity`] or an [`IdentityError`] that says what is wrong (never the key's bytes).

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A client certificate chain and its private key (mTLS).
#[derive(Debug)]
pub struct ClientIdentity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key. Never logged or serialised.
    pub key: PrivateKeyDer<'static>,
}

/// Why a client certificate and key cannot be used for mTLS.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The PEM holds no certificate or no private key.
    #[error(transparent)]
    Pem(#[from] crate::cert::PemError),
    /// The TLS library cannot sign with this key.
    #[error(
        "unsupported {kind} client key ({reason}): use RSA of 2048 to 8192 bits, ECDSA P-256 or \
         P-384, or Ed25519"
    )]
    UnsupportedKey {
        /// `RSA`, `EC`, `Ed25519`, `Ed448` or `unknown`.
        kind: &'static str,
        /// The TLS library's reason.
        reason: String,
    },
    /// The key is not the one of the leaf certificate.
    #[error("the client key does not match the client certificate's public key")]
    KeyMismatch,
}

impl ClientIdentity {
    /// Loads a client identity from a PEM chain and a PEM private key, and checks at once that
    /// the TLS library can sign with the key and that it belongs to the leaf: an unusable
    /// identity is the caller's error, not a handshake failure to blame on the server.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, IdentityError> {
        let identity = Self {
            chain: crate::cert::certificates_from_pem(chain_pem)?,
            key: crate::cert::private_key_from_pem(key_pem)?,
        };
        identity.check()?;
        Ok(identity)
    }

    fn check(&self) -> Result<(), IdentityError> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(self.key.clone_key())
            .map_err(|err| IdentityError::UnsupportedKey {
                kind: key_kind(&self.key),
                reason: err.to_string(),
            })?;
        let certified = rustls::sign::CertifiedKey::new(self.chain.clone(), signing);
        match certified.keys_match() {
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                Err(IdentityError::KeyMismatch)
            }
            // `Unknown`: the signer cannot show its public key; the server will judge it.
            _ => Ok(()),
        }
    }
}

/// The algorithm of a private key, from its PEM label or its PKCS#8 algorithm identifier.
fn key_kind(key: &PrivateKeyDer<'_>) -> &'static str {
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    const ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
    let contains = |der: &[u8], oid: &[u8]| der.windows(oid.len()).take(64).any(|w| w == oid);
    match key {
        PrivateKeyDer::Pkcs1(_) => "RSA",
        PrivateKeyDer::Sec1(_) => "EC",
        PrivateKeyDer::Pkcs8(der) => {
            let der = der.secret_pkcs8_der();
            [
                (RSA, "RSA"),
                (EC, "EC"),
                (ED25519, "Ed25519"),
                (ED448, "Ed448"),
            ]
            .into_iter()
            .find(|(oid, _)| contains(der, oid))
            .map_or("unknown", |(_, kind)| kind)
        }
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_key_loads_and_another_certificates_key_is_refused() {
        let (cert, key) = issued("client.test");
        let (_, other_key) = issued("other.test");
        assert!(ClientIdentity::from_pem(cert.as_bytes(), key.as_bytes()).is_ok());
        let err = ClientIdentity::from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(matches!(err, IdentityError::KeyMismatch), "{err}");
    }

    #[test]
    fn a_key_rustls_cannot_sign_with_is_named_by_algorithm() {
        let (cert, _) = issued("client.test");
        // An Ed448 PKCS#8 key (RFC 8410 test vector shape: OID 1.3.101.113).
        let ed448 = "-----BEGIN PRIVATE KEY-----\nMEcCAQAwBQYDK2VxBDsEOc4Cx1QxbNzLQqSUJ9Ko+dM0iGhZDPdkdCkboXqlIUmb\nVPnbRd0aIvG3CvHUsYWIqMiFjo6P5GKa2Q==\n-----END PRIVATE KEY-----\n";
        let err = ClientIdentity::from_pem(cert.as_bytes(), ed448.as_bytes()).unwrap_err();
        assert!(
            matches!(err, IdentityError::UnsupportedKey { kind: "Ed448", .. }),
            "{err}"
        );
    }
}
