//! Builders of facts and endpoint reports for unit tests and benches, so that no test types out a
//! whole [`CertFacts`] or [`Facts`] again. Input: names, Unix times and the few fields a test is
//! about. Output: values as a probe would have recorded them ([`healthy`] is a Mozilla-intermediate
//! endpoint with no finding above info), which a test then breaks one field at a time.
//!
//! Pure: no I/O, no clock (every time is a parameter), no randomness. Not used by the operator or
//! the scanner themselves.

use crate::facts::{
    AlpnFacts, CertFacts, Facts, FeatureFacts, Negotiated, SniFacts, SuiteFacts, TlsVersion,
    TrustFacts, VersionSuites,
};
use crate::findings::Finding;
use crate::grade::Grade;
use crate::report::EndpointReport;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The issuer of [`healthy`]'s leaf: an intermediate CA that [`healthy`] serves too.
pub const INTERMEDIATE: &str = "CN=Fixture Intermediate CA,O=tlsaudit.dev";

/// The root that issued [`INTERMEDIATE`]; a trust anchor, never served.
pub const ROOT: &str = "CN=Fixture Root CA,O=tlsaudit.dev";

/// HSTS max-age of [`healthy`]: one year, enough for A+.
pub const HSTS_ONE_YEAR: u64 = 31_536_000;

/// The TLS 1.2 suites of [`healthy`]: ECDHE-ECDSA with AES-GCM and ChaCha20-Poly1305, strongest
/// first (Mozilla intermediate for an EC key).
pub const TLS12_SUITES: [(u16, &str); 3] = [
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
];

/// The TLS 1.3 suites of [`healthy`].
pub const TLS13_SUITES: [(u16, &str); 3] = [
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
];

/// Builds one certificate's facts. Starts as an EC P-256 certificate signed with
/// `ecdsa-with-SHA256`, not a CA, not self-signed, serial `01`, no subjectAltName, an all-zero
/// fingerprint and validity `0..0` with empty date texts; each method changes one aspect.
#[derive(Debug, Clone)]
#[must_use]
pub struct CertBuilder(CertFacts);

impl CertBuilder {
    /// A certificate of `subject` issued by `issuer` (RFC 4514 names).
    pub fn new(subject: &str, issuer: &str) -> Self {
        Self(CertFacts {
            subject: subject.to_owned(),
            issuer: issuer.to_owned(),
            common_name: None,
            sans: Vec::new(),
            serial: "01".to_owned(),
            sha256: "00".repeat(32),
            not_before: String::new(),
            not_after: String::new(),
            not_before_unix: 0,
            not_after_unix: 0,
            key_type: "EC".to_owned(),
            key_bits: 256,
            curve: Some("P-256".to_owned()),
            signature: "ecdsa-with-SHA256".to_owned(),
            is_ca: false,
            self_signed: false,
            revocation: crate::facts::RevocationFacts::default(),
            ca_issuers: Vec::new(),
        })
    }

    /// A leaf for `name` issued by `issuer`: subject and Common Name `name`, one SAN `name`.
    pub fn leaf(name: &str, issuer: &str) -> Self {
        Self::new(&format!("CN={name}"), issuer)
            .common_name(name)
            .sans(&[name])
    }

    /// The Common Name.
    pub fn common_name(mut self, name: &str) -> Self {
        self.0.common_name = Some(name.to_owned());
        self
    }

    /// The subjectAltNames (DNS names or IP addresses).
    pub fn sans(mut self, sans: &[&str]) -> Self {
        self.0.sans = sans.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The SHA-256 fingerprint (hex).
    pub fn sha256(mut self, sha256: &str) -> Self {
        sha256.clone_into(&mut self.0.sha256);
        self
    }

    /// The serial number (hex).
    pub fn serial(mut self, serial: &str) -> Self {
        serial.clone_into(&mut self.0.serial);
        self
    }

    /// Valid from `not_before` to `not_after` (Unix seconds), with the RFC 3339 texts to match.
    pub fn valid(mut self, not_before: i64, not_after: i64) -> Self {
        self.0.not_before_unix = not_before;
        self.0.not_after_unix = not_after;
        self.0.not_before = rfc3339(not_before);
        self.0.not_after = rfc3339(not_after);
        self
    }

    /// Only the Unix seconds of the validity; the date texts stay as they are.
    pub fn valid_unix(mut self, not_before: i64, not_after: i64) -> Self {
        self.0.not_before_unix = not_before;
        self.0.not_after_unix = not_after;
        self
    }

    /// The public key, e.g. `("RSA", 2048)`; the curve is dropped unless the key is EC.
    pub fn key(mut self, key_type: &str, bits: u32) -> Self {
        key_type.clone_into(&mut self.0.key_type);
        self.0.key_bits = bits;
        if key_type != "EC" {
            self.0.curve = None;
        }
        self
    }

    /// The signature algorithm, e.g. `sha1WithRSAEncryption`.
    pub fn signature(mut self, signature: &str) -> Self {
        signature.clone_into(&mut self.0.signature);
        self
    }

    /// A CA certificate (basicConstraints cA).
    pub fn ca(mut self) -> Self {
        self.0.is_ca = true;
        self
    }

    /// Self-signed: issued by its own subject.
    pub fn self_signed(mut self) -> Self {
        self.0.issuer.clone_from(&self.0.subject);
        self.0.self_signed = true;
        self
    }

    /// AIA caIssuers URIs (where the issuer certificate is published).
    pub fn ca_issuers(mut self, uris: &[&str]) -> Self {
        self.0.ca_issuers = uris.iter().map(|u| (*u).to_owned()).collect();
        self
    }

    /// The facts.
    #[must_use]
    pub fn build(self) -> CertFacts {
        self.0
    }
}

/// RFC 3339 text of Unix seconds (empty when out of range).
fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Suites of one version in server order.
#[must_use]
pub fn suites(version: TlsVersion, list: &[(u16, &str)]) -> VersionSuites {
    VersionSuites {
        version,
        server_order: Some(true),
        suites: list
            .iter()
            .map(|(id, name)| SuiteFacts {
                id: *id,
                name: (*name).to_owned(),
            })
            .collect(),
        incomplete: false,
    }
}

/// A reachable endpoint that accepted `versions` (the others untested) and nothing else recorded.
#[must_use]
pub fn reachable(versions: &[TlsVersion]) -> Facts {
    let mut facts = Facts {
        reachable: true,
        ..Facts::default()
    };
    for version in versions {
        facts.protocols.set(*version, true);
    }
    facts
}

/// A healthy endpoint for `server_name` probed at `now` (Unix seconds): TLS 1.2 and 1.3 only, the
/// ECDHE AEAD suites of [`TLS12_SUITES`] and [`TLS13_SUITES`] in server order, secure
/// renegotiation, no compression or heartbeat, HSTS of one year, h2 by ALPN, SNI optional, no
/// OCSP staple, no client-certificate demand. The served chain is a leaf for `server_name`
/// (valid from 30 days before `now` to 60 days after; fingerprint the SHA-256 of the name, so equal
/// names give equal leaves) and [`INTERMEDIATE`], which outlives it; the chain verifies.
///
/// Judged at `now`: no finding (the leaf names no OCSP responder, so the missing staple is none);
/// grade A+; Mozilla intermediate.
#[must_use]
pub fn healthy(server_name: &str, now: i64) -> Facts {
    let sha = crate::cert::sha256_hex(server_name.as_bytes());
    let leaf = CertBuilder::leaf(server_name, INTERMEDIATE)
        .serial(&sha[..16])
        .sha256(&sha)
        .valid(now - 30 * DAY, now + 60 * DAY)
        .build();
    let intermediate = CertBuilder::new(INTERMEDIATE, ROOT)
        .ca()
        .sha256(&"b1".repeat(32))
        .serial(&"b1".repeat(8))
        .valid(now - 365 * DAY, now + 3 * 365 * DAY)
        .build();
    let mut facts = Facts {
        reachable: true,
        negotiated: Some(Negotiated {
            version: TlsVersion::Tls13,
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
            group: Some("X25519".into()),
            alpn: Some("h2".into()),
        }),
        ciphers: vec![
            suites(TlsVersion::Tls12, &TLS12_SUITES),
            suites(TlsVersion::Tls13, &TLS13_SUITES),
        ],
        chain: vec![leaf, intermediate],
        trust: TrustFacts {
            verified: true,
            path_found: Some(true),
            ordered: Some(true),
            ..TrustFacts::default()
        },
        sni: SniFacts {
            handshake_without_sni: Some(true),
            default_cert_matches: Some(true),
            ..SniFacts::default()
        },
        alpn: AlpnFacts {
            selected: Some("h2".into()),
            h2: Some(true),
        },
        features: FeatureFacts {
            secure_renegotiation: Some(true),
            compression: Some(false),
            heartbeat: Some(false),
            hsts_max_age: Some(HSTS_ONE_YEAR),
            http: Some(true),
            ..FeatureFacts::default()
        },
        connections: 9,
        ..Facts::default()
    };
    for version in TlsVersion::ALL {
        facts.protocols.set(version, version >= TlsVersion::Tls12);
    }
    facts
}

/// The report of `server_name` (port 443) dialled at `address`, with `grade` and `findings` taken
/// as given, not judged: for tests of what reads reports (status, metrics, events). `scanned_at`
/// stays empty and no profile is recorded.
#[must_use]
pub fn report(
    server_name: &str,
    address: &str,
    grade: Grade,
    findings: Vec<Finding>,
    facts: Facts,
) -> EndpointReport {
    EndpointReport {
        host: server_name.to_owned(),
        port: 443,
        address: Some(address.to_owned()),
        server_name: Some(server_name.to_owned()),
        scanned_at: String::new(),
        grade,
        profile: None,
        findings,
        facts: facts.into(),
    }
}
