//! DER certificate → [`CertFacts`] with x509-parser, and the name checks the evaluator needs (pure).

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::facts::CertFacts;

/// Why a certificate could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse certificate: {0}")]
pub struct ParseError(String);

/// Hex of the SHA-256 of `der`.
#[must_use]
pub fn sha256_hex(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map_or_else(|_| unix.to_string(), |t| t.to_string())
}

/// Parses one DER certificate into facts.
pub fn cert_facts(der: &[u8]) -> Result<CertFacts, ParseError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| ParseError(e.to_string()))?;
    let (key_type, key_bits, curve) = key_facts(&cert);
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    Ok(CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        sans: sans(&cert),
        serial: hex(cert.tbs_certificate.raw_serial()),
        sha256: sha256_hex(der),
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        not_before_unix: not_before,
        not_after_unix: not_after,
        key_type,
        key_bits,
        curve,
        signature: oid2sn(&cert.signature_algorithm.algorithm, oid_registry()).map_or_else(
            |_| cert.signature_algorithm.algorithm.to_id_string(),
            str::to_owned,
        ),
        is_ca: cert.is_ca(),
        self_signed: is_self_issued(&cert),
        revocation: super::revocation::revocation_facts(&cert),
        ca_issuers: ca_issuer_urls(&cert),
    })
}

fn is_self_issued(cert: &X509Certificate<'_>) -> bool {
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    // Same name: self-signed unless the key identifiers say another key signed it.
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0);
            }
            _ => {}
        }
    }
    match (ski, aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(|ip| ip.to_string()),
            _ => None,
        })
        .collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn key_facts(cert: &X509Certificate<'_>) -> (String, u32, Option<String>) {
    let spki = cert.public_key();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid2sn(&oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_owned));
    let bits = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), bits(rsa.key_size()), None),
        Ok(PublicKey::EC(ec)) => ("EC".into(), bits(ec.key_size()), curve),
        Ok(PublicKey::DSA(y)) => ("DSA".into(), bits(y.len() * 8), None),
        _ => {
            let name = oid2sn(&spki.algorithm.algorithm, oid_registry()).unwrap_or("unknown");
            let (kind, size) = match name {
                "ED25519" | "id-Ed25519" => ("Ed25519", 256),
                "ED448" | "id-Ed448" => ("Ed448", 456),
                _ => ("unknown", 0),
            };
            (kind.into(), size, None)
        }
    }
}

/// Whether a certificate with these SANs (and CN, used only when there are no SANs at all) covers
/// `name`: exact DNS match, a left-most `*` wildcard covering exactly one label, or an IP SAN.
#[must_use]
pub fn covers(sans: &[String], name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = name.parse::<IpAddr>() {
        return sans
            .iter()
            .any(|san| san.parse::<IpAddr>().ok() == Some(ip));
    }
    sans.iter()
        .any(|san| dns_matches(&san.to_ascii_lowercase(), &name))
}

fn dns_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(suffix) => name.split_once('.').is_some_and(|(first, rest)| {
            !first.is_empty() && rest == suffix && suffix.contains('.')
        }),
        None => pattern == name,
    }
}

/// A certificate's subject and issuer names as the contents of their DER SEQUENCE (the form webpki
/// keeps for trust-anchor subjects), for chain-order and completeness checks.
#[must_use]
pub fn names_der(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        sequence_contents(cert.subject().as_raw())?,
        sequence_contents(cert.issuer().as_raw())?,
    ))
}

/// Subject and SubjectPublicKeyInfo as webpki keeps them for a trust anchor (SEQUENCE contents), to
/// recognise a served certificate that is itself a trust anchor (a pinned self-signed certificate).
#[must_use]
pub fn anchor_identity(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        sequence_contents(cert.subject().as_raw())?,
        sequence_contents(cert.public_key().raw)?,
    ))
}

/// The AIA caIssuers URIs (id-ad-caIssuers, RFC 5280 4.2.2.1): where the issuer can be fetched.
fn ca_issuer_urls(cert: &X509Certificate<'_>) -> Vec<String> {
    let oid = x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS;
    cert.extensions()
        .iter()
        .filter_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => Some(aia),
            _ => None,
        })
        .flat_map(|aia| aia.accessdescs.iter())
        .filter(|desc| desc.access_method == oid)
        .filter_map(|desc| match desc.access_location {
            GeneralName::URI(uri) => Some(uri.to_owned()),
            _ => None,
        })
        .collect()
}

fn sequence_contents(tlv: &[u8]) -> Option<Vec<u8>> {
    let (&len, rest) = tlv.get(1..)?.split_first()?;
    let skip = if len < 0x80 {
        0
    } else {
        usize::from(len & 0x7f)
    };
    rest.get(skip..).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn wildcard_covers_exactly_one_label() {
        let sans = s(&["*.example.com"]);
        assert!(covers(&sans, "a.example.com"));
        assert!(!covers(&sans, "a.b.example.com"));
        assert!(!covers(&sans, "example.com"));
    }

    #[test]
    fn names_compare_case_insensitively_and_ignore_the_root_dot() {
        assert!(covers(&s(&["API.Example.com"]), "api.example.com."));
        assert!(!covers(&s(&["api.example.com"]), "web.example.com"));
    }

    #[test]
    fn ip_names_match_only_ip_sans() {
        assert!(covers(&s(&["127.0.0.1"]), "127.0.0.1"));
        assert!(!covers(&s(&["localhost"]), "127.0.0.1"));
    }

    #[test]
    fn a_wildcard_on_a_public_suffix_alone_covers_nothing() {
        assert!(!covers(&s(&["*.com"]), "example.com"));
    }
}
