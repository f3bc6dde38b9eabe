//! A served chain → whether it leads to a root of the built-in web PKI (`webpki-roots`, Mozilla's
//! root program), independent of the anchors an audit trusts. The CA/Browser Forum Baseline
//! Requirements bind only such chains, so `cert.long_validity` applies their limit only there.

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};

/// Whether `chain` has a path to a web PKI root. Expired or not-yet-valid leaves and name
/// mismatches still count: the question is who issued the certificate, not whether it is usable now.
#[must_use]
pub fn publicly_trusted(chain: &[CertificateDer<'_>], name: &str, now: UnixTime) -> bool {
    static WEB_PKI: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let roots = WEB_PKI.get_or_init(|| {
        let mut store = RootCertStore::empty();
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(store)
    });
    let verdict = super::verify_chain(roots, chain, name, now);
    verdict.verified || verdict.path_found == Some(true)
}
