//! Certificates for tests, generated per test with rcgen: CAs, intermediates and leaves with chosen
//! names, validity windows and key types.

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DnType, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A generated certificate and its key.
pub struct Issued {
    /// The certificate.
    pub der: CertificateDer<'static>,
    /// PEM of the certificate.
    pub pem: String,
    /// The key pair (PKCS#8).
    pub key: KeyPair,
    params: CertificateParams,
}

impl Issued {
    /// The private key in rustls form.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// PEM of the private key.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Issues a certificate signed by this one.
    pub fn issue(&self, spec: &Spec) -> Issued {
        let issuer = Issuer::from_params(&self.params, &self.key);
        let (params, key) = spec.params();
        let cert = params.signed_by(&key, &issuer).expect("sign certificate");
        Issued {
            der: cert.der().clone(),
            pem: cert.pem(),
            key,
            params,
        }
    }
}

/// What to put in a certificate. Validity is relative to now, in days.
#[derive(Clone)]
pub struct Spec {
    /// Subject CN.
    pub cn: String,
    /// DNS/IP SANs.
    pub sans: Vec<String>,
    /// Days from now when validity starts (negative: in the past).
    pub from_days: i64,
    /// Days from now when validity ends.
    pub to_days: i64,
    /// A CA certificate.
    pub ca: bool,
    /// Validity window in seconds relative to now, overriding the days (see `valid_hours`).
    pub window_seconds: Option<(i64, i64)>,
    /// OCSP responder URL (Authority Information Access, id-ad-ocsp).
    pub ocsp_url: Option<String>,
    /// CRL distribution point URL.
    pub crl_url: Option<String>,
    /// TLS Feature extension with status_request (OCSP must-staple, RFC 7633).
    pub must_staple: bool,
    /// An Authority Information Access caIssuers URI, as public CAs put in every leaf.
    pub ca_issuers: Option<String>,
}

impl Spec {
    /// A leaf for `names`, valid from 10 days ago to 90 days ahead.
    pub fn leaf(names: &[&str]) -> Self {
        Spec {
            cn: names.first().copied().unwrap_or("leaf").to_owned(),
            sans: names.iter().map(|n| (*n).to_owned()).collect(),
            from_days: -10,
            to_days: 90,
            ca: false,
            window_seconds: None,
            ocsp_url: None,
            crl_url: None,
            must_staple: false,
            ca_issuers: None,
        }
    }

    /// A CA named `cn`, valid from 30 days ago to 5 years ahead.
    pub fn ca(cn: &str) -> Self {
        Spec {
            cn: cn.to_owned(),
            sans: Vec::new(),
            from_days: -30,
            to_days: 5 * 365,
            ca: true,
            window_seconds: None,
            ocsp_url: None,
            crl_url: None,
            must_staple: false,
            ca_issuers: None,
        }
    }

    /// The same spec with another validity window.
    pub fn valid(mut self, from_days: i64, to_days: i64) -> Self {
        self.from_days = from_days;
        self.to_days = to_days;
        self
    }

    /// The same spec valid from `from_hours` to `to_hours` relative to now.
    pub fn valid_hours(mut self, from_hours: i64, to_hours: i64) -> Self {
        self.window_seconds = Some((from_hours * 3600, to_hours * 3600));
        self
    }

    /// The same spec naming an OCSP responder.
    pub fn ocsp(mut self, url: &str) -> Self {
        self.ocsp_url = Some(url.to_owned());
        self
    }

    /// The same spec naming a CRL distribution point.
    pub fn crl(mut self, url: &str) -> Self {
        self.crl_url = Some(url.to_owned());
        self
    }

    /// The same spec with the must-staple TLS Feature extension.
    pub fn must_staple(mut self) -> Self {
        self.must_staple = true;
        self
    }

    /// The same spec with an AIA caIssuers URI.
    pub fn ca_issuers(mut self, uri: &str) -> Self {
        self.ca_issuers = Some(uri.to_owned());
        self
    }

    fn params(&self) -> (CertificateParams, KeyPair) {
        let mut params = CertificateParams::new(self.sans.clone()).expect("certificate params");
        params
            .distinguished_name
            .push(DnType::CommonName, self.cn.clone());
        let now = OffsetDateTime::now_utc();
        let (from, to) = self
            .window_seconds
            .unwrap_or((self.from_days * 86_400, self.to_days * 86_400));
        params.not_before = now + Duration::seconds(from);
        params.not_after = now + Duration::seconds(to);
        if self.ocsp_url.is_some() || self.ca_issuers.is_some() {
            params.custom_extensions.push(authority_info_access(
                self.ocsp_url.as_deref(),
                self.ca_issuers.as_deref(),
            ));
        }
        if let Some(url) = &self.crl_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
        if self.must_staple {
            // id-pe-tlsfeature: SEQUENCE { INTEGER 5 (status_request) }.
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 5, 5, 7, 1, 24],
                    vec![0x30, 0x03, 0x02, 0x01, 0x05],
                ));
        }
        if self.ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
        params.use_authority_key_identifier_extension = true;
        (params, KeyPair::generate().expect("generate key"))
    }

    /// A self-signed certificate from this spec.
    pub fn self_signed(&self) -> Issued {
        let (params, key) = self.params();
        let cert = params.self_signed(&key).expect("self-sign certificate");
        Issued {
            der: cert.der().clone(),
            pem: cert.pem(),
            key,
            params,
        }
    }
}

/// The Authority Information Access extension (RFC 5280 4.2.2.1) with an id-ad-ocsp and/or an
/// id-ad-caIssuers URI, DER-encoded by hand (rcgen has no builder for it). One extension holds both:
/// a certificate may carry AIA only once.
fn authority_info_access(ocsp: Option<&str>, ca_issuers: Option<&str>) -> CustomExtension {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = body.len();
        if len < 0x80 {
            out.push(u8::try_from(len).expect("short length"));
        } else {
            out.push(0x81);
            out.push(u8::try_from(len).expect("AIA under 256 bytes"));
        }
        out.extend_from_slice(body);
        out
    }
    let id_ad_ocsp = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let id_ad_ca_issuers = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut descriptions = Vec::new();
    for (method, uri) in [(id_ad_ocsp, ocsp), (id_ad_ca_issuers, ca_issuers)] {
        if let Some(uri) = uri {
            let mut description = method.to_vec();
            description.extend(tlv(0x86, uri.as_bytes())); // uniformResourceIdentifier [6]
            descriptions.extend(tlv(0x30, &description));
        }
    }
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &descriptions))
}

/// A root CA → intermediate → leaf hierarchy for `localhost`-style names.
pub struct Hierarchy {
    /// Root CA (a trust anchor in tests).
    pub root: Issued,
    /// Intermediate CA.
    pub intermediate: Issued,
}

impl Hierarchy {
    /// A fresh root and intermediate.
    pub fn new() -> Self {
        let root = Spec::ca("tlsaudit test root").self_signed();
        let intermediate = root.issue(&Spec::ca("tlsaudit test intermediate"));
        Hierarchy { root, intermediate }
    }

    /// A leaf issued by the intermediate.
    pub fn leaf(&self, spec: &Spec) -> Issued {
        self.intermediate.issue(spec)
    }
}
