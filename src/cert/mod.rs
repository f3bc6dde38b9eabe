//! Certificates: DER → [`CertFacts`], the webpki chain verdict, OCSP staples, and PEM loading for
//! trust anchors and client identities. Pure apart from the bytes the caller hands in; the
//! verification time is a parameter.

mod facts;
pub mod ocsp;
pub mod public;
mod revocation;

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
                    // Expired or not yet valid: ask again at moments when the served certificates
                    // are valid, so an expired certificate from a trusted CA is not also called
                    // untrusted. Untrusted means no path exists whatever the time.
                    Some(moments_inside_validity(chain, now).into_iter().any(|at| {
                        match check(at) {
                            Ok(_) => true,
                            Err(rustls::Error::InvalidCertificate(ce)) => is_name_error(&ce),
                            Err(_) => false,
                        }
                    }))
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

/// Moments close to `now` at which to judge the path without its dates: first one inside every
/// served certificate's validity window (when they overlap), then one inside each window alone
/// (leaf first), for chains whose certificates were never valid at the same time.
fn moments_inside_validity(chain: &[CertificateDer<'_>], now: UnixTime) -> Vec<UnixTime> {
    let windows: Vec<(i64, i64)> = chain
        .iter()
        .filter_map(|der| cert_facts(der).ok())
        .map(|f| (f.not_before_unix, f.not_after_unix))
        .collect();
    let Ok(now) = i64::try_from(now.as_secs()) else {
        return Vec::new();
    };
    let overlap = windows
        .iter()
        .copied()
        .reduce(|(b1, a1), (b2, a2)| (b1.max(b2), a1.min(a2)));
    let mut moments: Vec<u64> = overlap
        .into_iter()
        .chain(windows.iter().copied())
        .filter(|(from, to)| from <= to)
        .filter_map(|(from, to)| u64::try_from(now.clamp(from, to)).ok())
        .collect();
    moments.dedup();
    moments
        .into_iter()
        .map(|secs| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)))
        .collect()
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

/// What the served chain's shape says, judged against the trust anchors' subject names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainShape {
    /// Each served certificate is followed by its issuer.
    pub ordered: bool,
    /// Issuer name at the top of the served path when it is neither served nor a trust anchor.
    pub unknown_issuer: Option<String>,
    /// The same issuer, set only when the evidence says it is an intermediate the server should
    /// send: a served CA certificate is left off the path (a gap), or the leaf is served alone and
    /// names where its issuer is published (AIA caIssuers, which public CAs always include).
    pub missing_issuer: Option<String>,
}

/// The shape of a served chain against the trust anchors: order, and which issuer is unknown and
/// whether that is a missing intermediate. A chain of leaf and intermediates that ends below an
/// unknown root is complete (roots are never sent): only its trust is in question.
#[must_use]
pub fn chain_shape(chain: &[CertificateDer<'_>], anchor_subjects: &[Vec<u8>]) -> ChainShape {
    let names: Vec<(Vec<u8>, Vec<u8>)> = chain.iter().filter_map(|der| names_der(der)).collect();
    if names.len() != chain.len() || names.is_empty() {
        return ChainShape {
            ordered: true,
            ..ChainShape::default()
        };
    }
    let ordered = names.windows(2).all(|pair| pair[0].1 == pair[1].0);
    // Walk issuer links from the leaf through whatever was served, in any order.
    let mut current = 0;
    let mut on_path = vec![false; names.len()];
    loop {
        on_path[current] = true;
        let (subject, issuer) = &names[current];
        if subject == issuer || anchor_subjects.iter().any(|a| a == issuer) {
            return ChainShape {
                ordered,
                ..ChainShape::default()
            };
        }
        let next = names
            .iter()
            .enumerate()
            .position(|(i, (s, _))| !on_path[i] && s == issuer);
        match next {
            Some(next) => current = next,
            None => break,
        }
    }
    let facts: Vec<Option<CertFacts>> = chain.iter().map(|der| cert_facts(der).ok()).collect();
    let unknown = facts[current]
        .as_ref()
        .map(|f| f.issuer.clone())
        .unwrap_or_default();
    let gap = facts
        .iter()
        .zip(&on_path)
        .any(|(f, on)| !on && f.as_ref().is_some_and(|f| f.is_ca));
    let leaf_names_its_issuer = current == 0
        && facts[0]
            .as_ref()
            .is_some_and(|leaf| !leaf.is_ca && !leaf.ca_issuers.is_empty());
    ChainShape {
        ordered,
        missing_issuer: (gap || leaf_names_its_issuer).then(|| unknown.clone()),
        unknown_issuer: Some(unknown),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000;

    struct Made {
        der: CertificateDer<'static>,
        params: CertificateParams,
        key: KeyPair,
    }

    fn make(cn: &str, ca: bool, days: (i64, i64), issuer: Option<&Made>) -> Made {
        let mut params = CertificateParams::new(vec![format!("{cn}.test")]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let at = |d: i64| time::OffsetDateTime::from_unix_timestamp(NOW + d * DAY).unwrap();
        params.not_before = at(days.0);
        params.not_after = at(days.1);
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let key = KeyPair::generate().unwrap();
        let cert = match issuer {
            Some(i) => params
                .signed_by(&key, &Issuer::from_params(&i.params, &i.key))
                .unwrap(),
            None => params.self_signed(&key).unwrap(),
        };
        Made {
            der: cert.der().clone(),
            params,
            key,
        }
    }

    fn subject(made: &Made) -> Vec<u8> {
        names_der(&made.der).unwrap().0
    }

    fn unix(secs: i64) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs.try_into().unwrap()))
    }

    #[test]
    fn leaf_and_intermediate_under_an_unknown_root_are_complete_but_the_root_is_unknown() {
        let root = make("root", true, (-30, 900), None);
        let int = make("int", true, (-30, 900), Some(&root));
        let leaf = make("leaf", false, (-1, 60), Some(&int));
        let shape = chain_shape(&[leaf.der.clone(), int.der.clone()], &[]);
        assert_eq!(
            shape,
            ChainShape {
                ordered: true,
                unknown_issuer: Some("CN=root".into()),
                missing_issuer: None,
            }
        );
        // Under the root as an anchor nothing is unknown.
        let anchored = chain_shape(&[leaf.der, int.der], &[subject(&root)]);
        assert_eq!(anchored.unknown_issuer, None);
    }

    #[test]
    fn served_root_without_the_intermediate_between_it_and_the_leaf_is_a_gap() {
        let root = make("root", true, (-30, 900), None);
        let int = make("int", true, (-30, 900), Some(&root));
        let leaf = make("leaf", false, (-1, 60), Some(&int));
        let anchor = subject(&root);
        let shape = chain_shape(&[leaf.der, root.der], &[anchor]);
        assert_eq!(shape.missing_issuer.as_deref(), Some("CN=int"));
        assert_eq!(shape.unknown_issuer.as_deref(), Some("CN=int"));
        assert!(!shape.ordered);
    }

    #[test]
    fn lone_leaf_without_aia_is_ambiguous_not_missing() {
        let int = make("int", true, (-30, 900), None);
        let leaf = make("leaf", false, (-1, 60), Some(&int));
        let shape = chain_shape(&[leaf.der], &[]);
        assert_eq!(shape.unknown_issuer.as_deref(), Some("CN=int"));
        assert_eq!(shape.missing_issuer, None);
    }

    #[test]
    fn moments_fall_inside_every_window_first_then_each_window_alone() {
        let root = make("root", true, (-30, 900), None);
        let int = make("int", true, (-30, 900), Some(&root));
        let leaf = make("leaf", false, (-100, -3), Some(&int));
        let moments = moments_inside_validity(&[leaf.der, int.der], unix(NOW));
        let secs: Vec<i64> = moments
            .iter()
            .map(|m| i64::try_from(m.as_secs()).unwrap())
            .collect();
        // Overlap ends with the leaf (-3 days); then the leaf alone; then the intermediate (now).
        assert_eq!(secs, [NOW - 3 * DAY, NOW]);
    }

    #[test]
    fn windows_that_never_overlap_still_give_a_moment_in_each() {
        let root = make("root", true, (-30, 900), None);
        // An intermediate reissued after the leaf expired.
        let int = make("int", true, (-2, 900), Some(&root));
        let leaf = make("leaf", false, (-100, -3), Some(&int));
        let moments = moments_inside_validity(&[leaf.der, int.der], unix(NOW));
        let secs: Vec<i64> = moments
            .iter()
            .map(|m| i64::try_from(m.as_secs()).unwrap())
            .collect();
        assert_eq!(secs, [NOW - 3 * DAY, NOW]);
    }
}
