//! Certificates for tests, generated per test with rcgen: CAs, intermediates and leaves with chosen
//! names, validity windows and key types.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
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
            ca_issuers: None,
        }
    }

    /// The same spec with another validity window.
    pub fn valid(mut self, from_days: i64, to_days: i64) -> Self {
        self.from_days = from_days;
        self.to_days = to_days;
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
        params.not_before = now + Duration::days(self.from_days);
        params.not_after = now + Duration::days(self.to_days);
        if self.ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
        params.use_authority_key_identifier_extension = true;
        if let Some(uri) = &self.ca_issuers {
            params.custom_extensions.push(aia_ca_issuers(uri));
        }
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

/// The AIA extension (RFC 5280 4.2.2.1) with one id-ad-caIssuers URI, DER-encoded by hand (rcgen
/// has no builder for it). Short URIs only: every length fits one byte.
fn aia_ca_issuers(uri: &str) -> CustomExtension {
    const ID_AD_CA_ISSUERS: [u8; 10] = [0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let uri = uri.as_bytes();
    assert!(
        uri.len() < 100,
        "AIA URI too long for the short-form encoding"
    );
    let mut description = ID_AD_CA_ISSUERS.to_vec();
    description.push(0x86); // [6] IMPLICIT IA5String: uniformResourceIdentifier
    description.push(u8::try_from(uri.len()).unwrap());
    description.extend_from_slice(uri);
    let mut access = vec![0x30, u8::try_from(description.len()).unwrap()];
    access.extend(description);
    let mut content = vec![0x30, u8::try_from(access.len()).unwrap()];
    content.extend(access);
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
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
