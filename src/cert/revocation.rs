//! A parsed certificate → [`RevocationFacts`]: the OCSP responder URLs (Authority Information Access,
//! `id-ad-ocsp`), the CRL distribution points, and whether the TLS Feature extension (RFC 7633)
//! demands a stapled OCSP response ("must-staple"). Pure; a malformed extension yields nothing.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::FromDer;

use crate::facts::RevocationFacts;

/// DER contents of `id-pe-tlsfeature`, OID 1.3.6.1.5.5.7.1.24 (RFC 7633 section 6).
const TLS_FEATURE_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x18];
/// The `status_request` TLS extension (RFC 6066 section 8), the feature that means must-staple.
const STATUS_REQUEST: u32 = 5;

/// The revocation facts of one certificate.
#[must_use]
pub fn revocation_facts(cert: &X509Certificate<'_>) -> RevocationFacts {
    let mut facts = RevocationFacts::default();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                facts.ocsp_urls.extend(
                    aia.accessdescs
                        .iter()
                        .filter(|d| d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP)
                        .filter_map(|d| uri(&d.access_location)),
                );
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                facts.crl_urls.extend(
                    points
                        .points
                        .iter()
                        .filter_map(|p| match &p.distribution_point {
                            Some(DistributionPointName::FullName(names)) => Some(names),
                            _ => None,
                        })
                        .flatten()
                        .filter_map(uri),
                );
            }
            _ if ext.oid.as_bytes() == TLS_FEATURE_OID => {
                facts.must_staple = tls_features(ext.value).contains(&STATUS_REQUEST);
            }
            _ => {}
        }
    }
    facts
}

fn uri(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::URI(uri) => Some((*uri).to_owned()),
        _ => None,
    }
}

/// `Features ::= SEQUENCE OF INTEGER` (RFC 7633 section 6); empty when it does not parse.
fn tls_features(value: &[u8]) -> Vec<u32> {
    <Vec<u32>>::from_der(value).map_or_else(|_| Vec::new(), |(_, features)| features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_feature_status_request_is_read_from_its_der_sequence() {
        assert_eq!(tls_features(&[0x30, 0x03, 0x02, 0x01, 0x05]), vec![5]);
        assert_eq!(
            tls_features(&[0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x11]),
            vec![5, 17]
        );
    }

    #[test]
    fn a_malformed_tls_feature_extension_lists_nothing() {
        assert!(tls_features(&[]).is_empty());
        assert!(tls_features(&[0x30, 0x05, 0x02, 0x01]).is_empty());
        assert!(tls_features(&[0x04, 0x01, 0x05]).is_empty());
    }
}
