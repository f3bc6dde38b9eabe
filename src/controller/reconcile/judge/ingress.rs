//! An Ingress TLS Secret checked at rest. Input: the Ingress host, what the Secret holds (read by
//! `material`) and the leaf the ingress controller served. Output: `ingress.secret_missing`,
//! `ingress.host_not_covered` and `ingress.secret_mismatch` findings. Pure. Names are matched and
//! fingerprints computed by `cert`, so the Secret and the served chain get one verdict.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::cert::{covers, sha256_hex};
use crate::findings::{Code, Finding};

/// What the Ingress's TLS Secret held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretCert {
    /// The Secret does not exist.
    Missing,
    /// The Secret exists but its tls.crt holds no usable certificate; the reason says why.
    Unusable(String),
    /// The operator may not read the Secret (RBAC). Not a fault of the Secret or the server: the
    /// audit's Ready condition says so, and no at-rest finding is made.
    Unreadable,
    /// The leaf certificate (first of tls.crt), DER.
    Leaf(Vec<u8>),
}

/// The at-rest findings for one Ingress host whose spec.tls names `secret`.
#[must_use]
pub fn at_rest_findings(
    host: &str,
    secret: &str,
    cert: &SecretCert,
    served_leaf_sha256: Option<&str>,
) -> Vec<Finding> {
    let der = match cert {
        SecretCert::Missing => {
            return vec![Finding::new(
                Code::IngressSecretMissing,
                format!("the TLS Secret {secret} for host {host} does not exist"),
            )];
        }
        SecretCert::Unusable(reason) => {
            return vec![Finding::new(
                Code::IngressSecretMissing,
                format!(
                    "the TLS Secret {secret} for host {host} holds no usable certificate: {reason}"
                ),
            )];
        }
        SecretCert::Unreadable => return Vec::new(),
        SecretCert::Leaf(der) => der,
    };
    let mut findings = Vec::new();
    match dns_names(der) {
        Err(reason) => findings.push(Finding::new(
            Code::IngressSecretMissing,
            format!("the certificate in TLS Secret {secret} cannot be parsed: {reason}"),
        )),
        Ok(names) if !covers(&names, host) => findings.push(Finding::new(
            Code::IngressHostNotCovered,
            format!(
                "host {host} is not among the DNS names of the certificate in Secret {secret} ({})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        )),
        Ok(_) => {}
    }
    let stored = sha256_hex(der);
    if let Some(served) = served_leaf_sha256
        && !same_fingerprint(served, &stored)
    {
        findings.push(Finding::new(
            Code::IngressSecretMismatch,
            format!(
                "for host {host} the ingress controller serves the certificate sha256 {} but Secret \
                 {secret} holds sha256 {}",
                short(served),
                short(&stored)
            ),
        ));
    }
    findings
}

fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

fn dns_names(der: &[u8]) -> Result<Vec<String>, String> {
    let (_, cert) =
        x509_parser::certificate::X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let san = cert.subject_alternative_name().map_err(|e| e.to_string())?;
    Ok(san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(name) => Some((*name).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict of `cert::covers` for one certificate DNS name.
    fn name_covers(pattern: &str, host: &str) -> bool {
        covers(&[pattern.to_owned()], host)
    }

    fn leaf(names: &[&str]) -> Vec<u8> {
        let params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(name_covers("*.example.com", "shop.example.com"));
        assert!(name_covers("Shop.Example.com.", "shop.example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(!name_covers("shop.example.com", "api.example.com"));
    }

    #[test]
    fn a_wildcard_over_a_public_suffix_covers_nothing() {
        assert!(!name_covers("*.com", "example.com"));
        let findings = at_rest_findings(
            "example.com",
            "t",
            &SecretCert::Leaf(leaf(&["*.com"])),
            None,
        );
        let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::IngressHostNotCovered]);
    }

    #[test]
    fn a_missing_secret_is_reported_with_its_name() {
        let findings = at_rest_findings("shop.example.com", "shop-tls", &SecretCert::Missing, None);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, Code::IngressSecretMissing);
        assert!(findings[0].message.contains("shop-tls"));
    }

    #[test]
    fn a_host_outside_the_secret_certificate_is_not_covered() {
        let der = leaf(&["api.example.com"]);
        let findings = at_rest_findings(
            "shop.example.com",
            "shop-tls",
            &SecretCert::Leaf(der.clone()),
            Some(&sha256_hex(&der)),
        );
        let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::IngressHostNotCovered]);
        assert!(findings[0].message.contains("api.example.com"));
    }

    #[test]
    fn a_served_leaf_that_differs_from_the_secret_is_a_mismatch() {
        let stored = leaf(&["shop.example.com"]);
        let served = leaf(&["shop.example.com"]);
        let findings = at_rest_findings(
            "shop.example.com",
            "shop-tls",
            &SecretCert::Leaf(stored),
            Some(&sha256_hex(&served)),
        );
        let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::IngressSecretMismatch]);
    }

    #[test]
    fn a_matching_secret_yields_no_finding_even_with_colon_fingerprints() {
        let der = leaf(&["*.example.com"]);
        let colons: String = sha256_hex(&der)
            .to_ascii_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert!(
            at_rest_findings(
                "shop.example.com",
                "t",
                &SecretCert::Leaf(der),
                Some(&colons)
            )
            .is_empty()
        );
    }
}
