//! Certificates: DER → [`CertFacts`], the webpki chain verdict, OCSP staples, and PEM loading for
//! trust anchors and client identities. Pure apart from the bytes the caller hands in; the
//! verification time is a parameter.

mod facts;
pub mod ocsp;

use std::sync::Arc;

pub use facts::{ParseError, anchor_identity, cert_facts, covers, names_der, sha256_hex};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, RootCertStore};

use crate::facts::{CertFacts, TrustFacts};
use crate::tls::alert::alert_name;

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
            store
                .add(cert)
                .map_err(|e| PemError::Certificates(e.to_string()))?;
        }
    }
    Ok(store)
}

/// Facts of every certificate in a served chain; unparsable certificates are skipped and counted.
#[must_use]
pub fn chain_facts(chain: &[CertificateDer<'_>]) -> (Vec<CertFacts>, usize) {
    let mut facts = Vec::with_capacity(chain.len());
    let mut broken = 0;
    for der in chain {
        match cert_facts(der) {
            Ok(f) => facts.push(f),
            Err(_) => broken += 1,
        }
    }
    (facts, broken)
}

/// Judges a served chain against `roots` for `name` at `now`, the way a rustls/webpki client would,
/// and separates "no path to a trust anchor" from "expired" and "wrong name".
#[must_use]
pub fn verify_chain(
    roots: &Arc<RootCertStore>,
    chain: &[CertificateDer<'_>],
    name: &str,
    now: UnixTime,
) -> TrustFacts {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return TrustFacts {
            error: Some("no certificate served".into()),
            ..TrustFacts::default()
        };
    };
    if roots.is_empty() {
        return TrustFacts {
            error: Some("no trust anchors configured".into()),
            alert: Some("unknown_ca".into()),
            path_found: Some(false),
            ..TrustFacts::default()
        };
    }
    if is_anchor(roots, leaf) {
        // The served certificate is itself trusted (pinned); names and dates are judged elsewhere.
        return TrustFacts {
            verified: true,
            path_found: Some(true),
            ..TrustFacts::default()
        };
    }
    let Ok(server_name) = ServerName::try_from(name.to_owned()) else {
        return TrustFacts {
            error: Some(format!("invalid server name {name:?}")),
            ..TrustFacts::default()
        };
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        match WebPkiServerVerifier::builder_with_provider(roots.clone(), provider).build() {
            Ok(v) => v,
            Err(e) => {
                return TrustFacts {
                    error: Some(e.to_string()),
                    ..TrustFacts::default()
                };
            }
        };
    let check =
        |at: UnixTime| verifier.verify_server_cert(leaf, intermediates, &server_name, &[], at);
    match check(now) {
        Ok(_) => TrustFacts {
            verified: true,
            path_found: Some(true),
            ..TrustFacts::default()
        },
        Err(err) => {
            let path_found = match &err {
                rustls::Error::InvalidCertificate(ce) if is_name_error(ce) => Some(true),
                rustls::Error::InvalidCertificate(ce) if is_time_error(ce) => {
                    // Expired or not yet valid: ask again at the edge of the leaf's validity window,
                    // so an expired certificate from a trusted CA is not also called untrusted.
                    Some(match inside_validity(leaf, now).map(check) {
                        Some(Ok(_)) => true,
                        Some(Err(rustls::Error::InvalidCertificate(ce))) => is_name_error(&ce),
                        _ => false,
                    })
                }
                // A SHA-1/MD5 signature is judged as a weak signature, not as a missing path.
                rustls::Error::InvalidCertificate(ce) if is_algorithm_error(ce) => None,
                _ => Some(false),
            };
            TrustFacts {
                verified: false,
                alert: Some(alert_of(&err).to_owned()),
                error: Some(describe(&err)),
                path_found,
                ..TrustFacts::default()
            }
        }
    }
}

fn is_anchor(roots: &RootCertStore, cert: &CertificateDer<'_>) -> bool {
    anchor_identity(cert).is_some_and(|(subject, spki)| {
        roots
            .roots
            .iter()
            .any(|a| a.subject.as_ref() == subject && a.subject_public_key_info.as_ref() == spki)
    })
}

fn is_algorithm_error(err: &CertificateError) -> bool {
    matches!(
        err,
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
    )
}

/// A short, stable description of a verification error (rustls' Display can carry whole DER lists).
fn describe(err: &rustls::Error) -> String {
    let rustls::Error::InvalidCertificate(ce) = err else {
        return err.to_string();
    };
    let text = match ce {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate expired"
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate not valid yet"
        }
        CertificateError::UnknownIssuer => "unknown issuer: no path to a trust anchor",
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "certificate not valid for the name"
        }
        e if is_algorithm_error(e) => "signature algorithm not accepted (SHA-1, MD5 or unknown)",
        CertificateError::BadSignature => "bad signature in the chain",
        CertificateError::Revoked => "certificate revoked",
        CertificateError::BadEncoding => "certificate cannot be decoded",
        _ => return format!("invalid certificate: {}", truncate(&err.to_string(), 160)),
    };
    text.to_owned()
}

fn truncate(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(i, _)| &text[..i])
}

fn is_name_error(err: &CertificateError) -> bool {
    matches!(
        err,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
    )
}

fn is_time_error(err: &CertificateError) -> bool {
    matches!(
        err,
        CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. }
    )
}

/// The moment closest to `now` at which the leaf is valid (its last or first second).
fn inside_validity(leaf: &CertificateDer<'_>, now: UnixTime) -> Option<UnixTime> {
    let facts = cert_facts(leaf).ok()?;
    let now = i64::try_from(now.as_secs()).ok()?;
    let at = now.clamp(facts.not_before_unix + 1, facts.not_after_unix - 1);
    Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(at).ok()?,
    )))
}

/// The alert a client sends for this verification error.
fn alert_of(err: &rustls::Error) -> &'static str {
    let alert = match err {
        rustls::Error::InvalidCertificate(ce) => AlertDescription::from(ce.clone()),
        _ => AlertDescription::BadCertificate,
    };
    alert_name(u8::from(alert))
}

/// Subject-name DERs of the trust anchors, for the chain-completeness check.
#[must_use]
pub fn anchor_subjects(roots: &RootCertStore) -> Vec<Vec<u8>> {
    roots
        .roots
        .iter()
        .map(|anchor| anchor.subject.as_ref().to_vec())
        .collect()
}

/// The shape of a served chain against the trust anchors: whether it is in leaf-to-root order, and
/// the issuer name of its last certificate when that issuer is neither served nor an anchor.
#[must_use]
pub fn chain_shape(
    chain: &[CertificateDer<'_>],
    anchor_subjects: &[Vec<u8>],
) -> (bool, Option<String>) {
    let names: Vec<(Vec<u8>, Vec<u8>)> = chain.iter().filter_map(|der| names_der(der)).collect();
    if names.len() != chain.len() || names.is_empty() {
        return (true, None);
    }
    let ordered = names.windows(2).all(|pair| pair[0].1 == pair[1].0);
    // Walk issuer links from the leaf through whatever was served, in any order.
    let mut current = 0;
    let mut seen = vec![false; names.len()];
    loop {
        seen[current] = true;
        let (subject, issuer) = &names[current];
        if subject == issuer || anchor_subjects.iter().any(|a| a == issuer) {
            return (ordered, None);
        }
        let next = names
            .iter()
            .enumerate()
            .position(|(i, (s, _))| !seen[i] && s == issuer);
        let Some(next) = next else {
            let issuer_text = cert_facts(&chain[current])
                .map(|f| f.issuer)
                .unwrap_or_default();
            return (ordered, Some(issuer_text));
        };
        current = next;
    }
}
