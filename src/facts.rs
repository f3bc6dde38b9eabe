//! What a probe observed on one endpoint, before any judgement: versions, suites, the served chain,
//! SNI/ALPN/OCSP/client-auth behaviour and how connections failed. Produced by `probe`, judged by
//! `evaluate` and `grade`, embedded in `scan --json`; the TlsAudit status keeps only a summary of
//! them (`crd::EndpointStatus`: versions, cipher, leaf).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A TLS protocol version.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum TlsVersion {
    /// SSL 3.0.
    #[serde(rename = "SSLv3")]
    Ssl3,
    /// TLS 1.0.
    #[serde(rename = "TLSv1.0")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLSv1.1")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl TlsVersion {
    /// All versions, oldest first.
    pub const ALL: [TlsVersion; 5] = [
        Self::Ssl3,
        Self::Tls10,
        Self::Tls11,
        Self::Tls12,
        Self::Tls13,
    ];

    /// The two-byte version on the wire.
    #[must_use]
    pub fn wire(self) -> u16 {
        match self {
            Self::Ssl3 => 0x0300,
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }

    /// The version with this wire value.
    #[must_use]
    pub fn from_wire(value: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.wire() == value)
    }

    /// Display name, e.g. `TLSv1.2`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Ssl3 => "SSLv3",
            Self::Tls10 => "TLSv1.0",
            Self::Tls11 => "TLSv1.1",
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }
}

/// Which versions the server accepted; `None` means not tested (or the test could not tell).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Protocols {
    /// SSL 3.0 accepted.
    pub ssl3: Option<bool>,
    /// TLS 1.0 accepted.
    #[serde(rename = "tls1_0")]
    pub tls1_0: Option<bool>,
    /// TLS 1.1 accepted.
    #[serde(rename = "tls1_1")]
    pub tls1_1: Option<bool>,
    /// TLS 1.2 accepted.
    #[serde(rename = "tls1_2")]
    pub tls1_2: Option<bool>,
    /// TLS 1.3 accepted.
    #[serde(rename = "tls1_3")]
    pub tls1_3: Option<bool>,
}

impl Protocols {
    /// Whether `version` was seen accepted.
    #[must_use]
    pub fn get(&self, version: TlsVersion) -> Option<bool> {
        match version {
            TlsVersion::Ssl3 => self.ssl3,
            TlsVersion::Tls10 => self.tls1_0,
            TlsVersion::Tls11 => self.tls1_1,
            TlsVersion::Tls12 => self.tls1_2,
            TlsVersion::Tls13 => self.tls1_3,
        }
    }

    /// Records whether `version` is accepted.
    pub fn set(&mut self, version: TlsVersion, accepted: bool) {
        let slot = match version {
            TlsVersion::Ssl3 => &mut self.ssl3,
            TlsVersion::Tls10 => &mut self.tls1_0,
            TlsVersion::Tls11 => &mut self.tls1_1,
            TlsVersion::Tls12 => &mut self.tls1_2,
            TlsVersion::Tls13 => &mut self.tls1_3,
        };
        *slot = Some(accepted);
    }

    /// Accepted versions, oldest first.
    #[must_use]
    pub fn accepted(&self) -> Vec<TlsVersion> {
        TlsVersion::ALL
            .into_iter()
            .filter(|v| self.get(*v) == Some(true))
            .collect()
    }
}

/// A cipher suite the server accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuiteFacts {
    /// IANA code point.
    pub id: u16,
    /// IANA name, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    pub name: String,
}

/// The suites one version accepts, in the server's preference order when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionSuites {
    /// The protocol version.
    pub version: TlsVersion,
    /// Whether the server imposes its own order (`None`: fewer than two suites, cannot tell).
    pub server_order: Option<bool>,
    /// Accepted suites: server order when `server_order`, else discovery order.
    pub suites: Vec<SuiteFacts>,
    /// Enumeration stopped on a broken exchange: more suites may be accepted than listed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// Facts about one certificate, recorded whether or not the chain verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertFacts {
    /// Subject distinguished name (RFC 4514 text).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject common name, when present.
    pub common_name: Option<String>,
    /// DNS and IP subjectAltNames.
    pub sans: Vec<String>,
    /// Serial number, hex.
    pub serial: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// notBefore as Unix seconds.
    pub not_before_unix: i64,
    /// notAfter as Unix seconds.
    pub not_after_unix: i64,
    /// Key type: `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA` or `unknown`.
    pub key_type: String,
    /// Key size in bits (RSA modulus, EC curve size).
    pub key_bits: u32,
    /// Named curve for EC keys.
    pub curve: Option<String>,
    /// Signature algorithm, e.g. `sha256WithRSAEncryption`.
    pub signature: String,
    /// Whether this certificate is a CA (basicConstraints cA).
    pub is_ca: bool,
    /// Issuer and subject are the same name and the signature verifies with its own key.
    pub self_signed: bool,
    /// Where clients learn whether the certificate is revoked, and whether it demands a staple.
    #[serde(default)]
    pub revocation: RevocationFacts,
    /// Authority Information Access caIssuers URIs: where the issuer certificate can be fetched.
    /// Public CAs put one in every leaf; private CA issuers (cert-manager's CA issuer) usually do
    /// not, so an unknown issuer plus this URL points at an intermediate the server failed to send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_issuers: Vec<String>,
}

/// The revocation sources a certificate names (RFC 5280 4.2.1.13, 4.2.2.1) and its TLS Feature
/// extension (RFC 7633).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevocationFacts {
    /// OCSP responder URLs (Authority Information Access, `id-ad-ocsp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ocsp_urls: Vec<String>,
    /// CRL distribution point URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_urls: Vec<String>,
    /// The TLS Feature extension lists `status_request` ("OCSP must-staple").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_staple: bool,
}

/// The verdict of the certificate verifier (webpki) on the served chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustFacts {
    /// The chain verified against the trust anchors for the server name.
    pub verified: bool,
    /// The verifier's reason when it did not.
    pub error: Option<String>,
    /// The alert a client would send, e.g. `unknown_ca`, `certificate_expired`, `bad_certificate`.
    pub alert: Option<String>,
    /// The chain verified apart from the name and validity dates.
    pub path_found: Option<bool>,
    /// Each served certificate is followed by its issuer (leaf to root order).
    pub ordered: Option<bool>,
    /// The issuer that the server should have sent: set only where the evidence points at a
    /// missing intermediate (served CA certificates that issued neither the leaf nor each other,
    /// or a leaf served alone whose unknown issuer its AIA caIssuers URL names).
    pub missing_issuer: Option<String>,
    /// Issuer name at the top of the served path when it is neither served nor a trust anchor: an
    /// untrusted (private) root, or an intermediate the server did not send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_issuer: Option<String>,
    /// Served certificates that could not be parsed (they are absent from `chain`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unparsable: u32,
    /// The chain leads to a root of the built-in web PKI (Mozilla's set, `webpki-roots`), whatever
    /// the audit trusts and whether or not the leaf is in its validity window: the CA/Browser Forum
    /// Baseline Requirements apply to it.
    #[serde(default)]
    pub public: bool,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How the connection failed when no TLS handshake completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// TCP refused.
    Refused,
    /// TCP connect or the handshake timed out.
    Timeout,
    /// The peer reset or closed the connection.
    Reset,
    /// The name did not resolve or the address is unusable.
    Unreachable,
    /// The peer does not speak TLS.
    NotTls,
    /// The peer speaks the pre-TLS protocol (e.g. PostgreSQL) and refused to start TLS.
    TlsDeclined,
    /// The peer sent a TLS alert, or the handshake failed otherwise.
    Handshake,
    /// The peer speaks TLS but sent a handshake message larger than clients accept (rustls, Go and
    /// browsers stop at 64 KiB), e.g. a huge certificate or chain.
    Oversized,
    /// The peer answered with a ServerHello, but a later handshake message does not parse.
    Malformed,
    /// The target's name cannot be used (not a host name or IP literal); nothing was dialled.
    InvalidTarget,
}

/// A classified failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// Class of failure.
    pub kind: FailureKind,
    /// TLS alert name the server sent, if any.
    pub alert: Option<String>,
    /// Human-readable detail.
    pub detail: String,
}

/// The handshake a current client (rustls, TLS 1.2/1.3) made.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Negotiated {
    /// Negotiated version.
    pub version: TlsVersion,
    /// Negotiated suite (IANA name).
    pub cipher: String,
    /// Key exchange group, e.g. `X25519`.
    pub group: Option<String>,
    /// ALPN protocol selected.
    pub alpn: Option<String>,
}

/// SNI behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SniFacts {
    /// Whether a handshake without SNI completed (`None`: not tested, e.g. target is an IP).
    pub handshake_without_sni: Option<bool>,
    /// SHA-256 of the leaf served without SNI.
    pub default_leaf_sha256: Option<String>,
    /// Whether the leaf served without SNI covers the server name.
    pub default_cert_matches: Option<bool>,
    /// Alert the server sent to a handshake without SNI.
    pub alert: Option<String>,
}

/// ALPN behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlpnFacts {
    /// Protocol selected when `h2` and `http/1.1` are offered.
    pub selected: Option<String>,
    /// HTTP/2 negotiable.
    pub h2: Option<bool>,
}

/// OCSP stapling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OcspFacts {
    /// A staple was sent.
    pub stapled: bool,
    /// `good`, `revoked` or `unknown` when the staple parses.
    pub status: Option<String>,
    /// nextUpdate (RFC 3339) when the staple parses.
    pub next_update: Option<String>,
    /// nextUpdate as Unix seconds.
    pub next_update_unix: Option<i64>,
}

/// Whether the server asks for a client certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthDemand {
    /// No CertificateRequest.
    #[default]
    None,
    /// Requested; the handshake completes without one.
    Optional,
    /// Requested; the handshake fails without one.
    Required,
    /// Requested in a legacy handshake; whether it is required could not be tested because no
    /// current client reached that point.
    Requested,
    /// Requested; the handshake completes without one, but the HTTP layer refuses the request
    /// (400, 401, 403, 495 or 496), like nginx `ssl_verify_client on`.
    RequiredAtHttp,
}

/// Client-certificate behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientAuthFacts {
    /// What the server demands.
    pub demand: ClientAuthDemand,
    /// With a client identity supplied: whether the server accepted it.
    pub identity_accepted: Option<bool>,
    /// Alert the server sent (missing or rejected certificate).
    pub alert: Option<String>,
    /// Facts of the supplied client certificate.
    pub client_cert: Option<CertFacts>,
    /// Status code the server answered to `GET /` on a handshake without a client certificate
    /// (an nginx `ssl_verify_client on` answers 400 there although the handshake completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status_without_certificate: Option<u16>,
}

/// Other protocol features the grade uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureFacts {
    /// TLS_FALLBACK_SCSV honoured (`None`: not testable, only one version).
    pub fallback_scsv: Option<bool>,
    /// RFC 5746 renegotiation_info answered on TLS ≤ 1.2.
    pub secure_renegotiation: Option<bool>,
    /// TLS compression (DEFLATE) accepted.
    pub compression: Option<bool>,
    /// Heartbeat extension echoed.
    pub heartbeat: Option<bool>,
    /// Smallest finite-field DH prime of an accepted DHE suite, in bits (TLS ≤ 1.2).
    pub dh_bits: Option<u32>,
    /// Group the server chose for ECDHE when offered all common groups (TLS ≤ 1.2).
    pub ecdhe_group: Option<String>,
    /// HSTS max-age in seconds from one `GET /` (`None`: not HTTP, or not tested).
    pub hsts_max_age: Option<u64>,
    /// The endpoint answered HTTP.
    pub http: Option<bool>,
}

/// TLS 1.3 key-exchange groups, learned from hellos with an empty `key_share`: the server names
/// the group it wants in a HelloRetryRequest (RFC 8446 4.1.4), which proves support without any
/// key being computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupFacts {
    /// Groups the server selected, in the order it selected them while the probe removed each
    /// pick from the offer (offer order: hybrids, elliptic curves, FFDHE). Only the first FFDHE
    /// group picked is listed: the others leave the offer then.
    pub supported: Vec<String>,
    /// The server picks by its own preference (`true` when its picks left the offer order; `None`
    /// when they followed it, which a server ordering by the client also does).
    pub server_order: Option<bool>,
    /// A post-quantum hybrid group (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024) is
    /// supported (`None`: not tested, or TLS 1.3 did not answer).
    pub pq_hybrid: Option<bool>,
    /// The probe stopped on a broken exchange: more groups may be supported than listed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// TLS 1.2 handshake hardening, read from the raw hellos.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HardeningFacts {
    /// The TLS 1.2 ServerHello echoed `extended_master_secret` (RFC 7627); `None`: no TLS 1.2.
    pub extended_master_secret: Option<bool>,
    /// A TLS 1.2 hello offering only SHA-1 signature algorithms (and only (EC)DHE suites) got a
    /// ServerKeyExchange signed with SHA-1 (RFC 9155 forbids it); `None`: not tested.
    pub sha1_signatures: Option<bool>,
}

/// The answer to the one `GET /` the probe sends (HSTS, and the status without a client
/// certificate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpFacts {
    /// Status code of the response (`None`: no HTTP response, or not tested).
    pub status: Option<u16>,
    /// ALPN protocol of the connection that carried the request (`http/1.1`, or `None` when the
    /// server selected none). The request offers only `http/1.1`, so h2 servers answer it too.
    pub alpn: Option<String>,
    /// Why the response head could not be read whole: `too_large` (over 16 KiB), `timeout` or
    /// `closed`. HSTS is then unknown rather than absent, unless the part read carried it.
    pub head_incomplete: Option<String>,
}

/// Everything observed on one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// The application protocol spoken before TLS (`tls` when the ClientHello comes first).
    #[serde(default, skip_serializing_if = "Protocol::is_tls")]
    pub protocol: Protocol,
    /// Whether any TLS handshake (raw or validated) got a ServerHello.
    pub reachable: bool,
    /// Why nothing worked, when `reachable` is false; or why the validated handshake failed.
    pub failure: Option<Failure>,
    /// Accepted protocol versions.
    pub protocols: Protocols,
    /// Accepted suites per version.
    pub ciphers: Vec<VersionSuites>,
    /// The validated (rustls) handshake, when it completed.
    pub negotiated: Option<Negotiated>,
    /// The served chain, leaf first, as sent.
    pub chain: Vec<CertFacts>,
    /// Verification verdict.
    pub trust: TrustFacts,
    /// SNI behaviour.
    pub sni: SniFacts,
    /// ALPN behaviour.
    pub alpn: AlpnFacts,
    /// OCSP stapling.
    pub ocsp: OcspFacts,
    /// Client-certificate behaviour.
    pub client_auth: ClientAuthFacts,
    /// Other features.
    pub features: FeatureFacts,
    /// TLS 1.3 key-exchange groups and post-quantum support.
    #[serde(default)]
    pub groups: GroupFacts,
    /// TLS 1.2 handshake hardening (extended master secret, SHA-1 signatures).
    #[serde(default)]
    pub hardening: HardeningFacts,
    /// The `GET /` answer.
    #[serde(default)]
    pub http: HttpFacts,
    /// TCP connections the probe opened.
    pub connections: u32,
    /// Wall time of the probe in milliseconds.
    pub duration_ms: u64,
    /// The endpoint's overall deadline ended the probe: facts not yet learned are absent, and
    /// suite lists that were cut are marked incomplete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deadline_exceeded: bool,
}

/// How a connection reaches its TLS handshake: at once, or after an in-band request of an
/// application protocol. Room for SMTP and LDAP STARTTLS.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The ClientHello is the first byte sent (HTTPS, gRPC, most TLS services).
    #[default]
    Tls,
    /// PostgreSQL: an SSLRequest first, TLS after the server answers `S`.
    Postgres,
}

impl Protocol {
    /// Every protocol, in documentation order.
    pub const ALL: [Protocol; 2] = [Self::Tls, Self::Postgres];

    /// Lower-case name as used in the CRD, JSON and `scan --protocol`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Postgres => "postgres",
        }
    }

    /// The protocol of a lower-case name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Plain TLS, no pre-TLS step.
    #[must_use]
    #[allow(clippy::trivially_copy_pass_by_ref)] // Reason: serde's skip_serializing_if passes a reference.
    pub fn is_tls(&self) -> bool {
        *self == Self::Tls
    }

    /// Whether HTTP runs over the TLS connection (so HSTS and h2 are judged).
    #[must_use]
    pub fn carries_http(self) -> bool {
        self == Self::Tls
    }
}
