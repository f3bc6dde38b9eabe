//! The TLS record / handshake codec of the raw probes, pure and without I/O (it is also compiled on
//! its own by the fuzz crate, so it depends on nothing but `std` and `thiserror`).
//! Input: the fields of a ClientHello to build, or the bytes a server sent back, possibly cut at
//! any point. Output: the ClientHello record, or a [`ServerFlight`] (ServerHello, certificates,
//! OCSP staple, CertificateRequest, alert) — or a [`WireError`], never a panic, and never an
//! allocation larger than the bytes actually received.

/// SSL 3.0 on the wire.
pub const SSL3: u16 = 0x0300;
/// TLS 1.0 on the wire.
pub const TLS1_0: u16 = 0x0301;
/// TLS 1.1 on the wire.
pub const TLS1_1: u16 = 0x0302;
/// TLS 1.2 on the wire.
pub const TLS1_2: u16 = 0x0303;
/// TLS 1.3 on the wire (only ever in `supported_versions`).
pub const TLS1_3: u16 = 0x0304;

/// TLS_FALLBACK_SCSV (RFC 7507): "this hello is a downgraded retry".
pub const FALLBACK_SCSV: u16 = 0x5600;
/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746), the extension-free way to ask for secure
/// renegotiation; used for SSL 3.0, whose servers may not parse extensions.
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00FF;

/// Largest record payload accepted (TLSCiphertext limit, 2^14 + 2048).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Largest handshake message accepted; a certificate chain beyond this is not worth reading.
pub const MAX_HANDSHAKE_LEN: usize = 1 << 17;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;
const CONTENT_HEARTBEAT: u8 = 24;

const HS_HELLO_REQUEST: u8 = 0;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_KEY_EXCHANGE: u8 = 12;
const HS_CERTIFICATE_REQUEST: u8 = 13;
const HS_SERVER_HELLO_DONE: u8 = 14;
const HS_CERTIFICATE_STATUS: u8 = 22;

const EXT_SERVER_NAME: u16 = 0;
const EXT_STATUS_REQUEST: u16 = 5;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_HEARTBEAT: u16 = 15;
const EXT_ALPN: u16 = 16;
const EXT_PADDING: u16 = 21;
const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;
const EXT_RENEGOTIATION_INFO: u16 = 0xFF01;

/// The x25519 named group.
pub const GROUP_X25519: u16 = 0x001D;

/// Groups offered: the modern ones first, then the legacy curves and FFDHE groups that old
/// servers may insist on (RFC 7919 servers refuse DHE when no offered FFDHE group matches).
const GROUPS: &[u16] = &[
    GROUP_X25519,
    0x0017, // secp256r1
    0x0018, // secp384r1
    0x0019, // secp521r1
    0x001E, // x448
    0x001A, // brainpoolP256r1
    0x001B, // brainpoolP384r1
    0x001C, // brainpoolP512r1
    0x0016, // secp256k1
    0x0015, // secp224r1
    0x0100, // ffdhe2048
    0x0101, // ffdhe3072
    0x0102, // ffdhe4096
    0x0103, // ffdhe6144
    0x0104, // ffdhe8192
];

/// Signature schemes offered: everything a server might sign with, including SHA-1 and DSA,
/// because the probe wants to learn what the server does, not to judge it here.
const SIGNATURE_SCHEMES: &[u16] = &[
    0x0403, 0x0503, 0x0603, // ecdsa_secp256r1_sha256, secp384r1_sha384, secp521r1_sha512
    0x0807, 0x0808, // ed25519, ed448
    0x0804, 0x0805, 0x0806, // rsa_pss_rsae_sha256/384/512
    0x0809, 0x080A, 0x080B, // rsa_pss_pss_sha256/384/512
    0x0401, 0x0501, 0x0601, // rsa_pkcs1_sha256/384/512
    0x0303, 0x0301, 0x0302, // sha224 ecdsa / rsa / dsa
    0x0203, 0x0201, 0x0202, // sha1 ecdsa / rsa / dsa
    0x0402, 0x0502, 0x0602, // dsa sha256/384/512
];

/// SHA-256("HelloRetryRequest"): the `random` that marks a ServerHello as a HelloRetryRequest.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Why bytes could not be encoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The peer's first bytes are not a TLS record (e.g. an HTTP or SSH banner).
    #[error("peer does not speak TLS: reply starts with {0:?}")]
    NotTls(String),
    /// A record announced more than [`MAX_RECORD_LEN`] bytes.
    #[error("record of {0} bytes exceeds the TLS limit")]
    RecordTooLarge(usize),
    /// A handshake message announced more than [`MAX_HANDSHAKE_LEN`] bytes.
    #[error("handshake message of {0} bytes exceeds the limit")]
    HandshakeTooLarge(usize),
    /// A structure did not parse.
    #[error("failed to parse the server's {0}")]
    Malformed(&'static str),
    /// A message arrived where the protocol does not allow it.
    #[error("unexpected {0} from the server")]
    Unexpected(&'static str),
    /// The peer stopped in the middle of a record or handshake message.
    #[error("server flight ends inside a record or handshake message")]
    Truncated,
    /// The ClientHello to build does not fit its length fields or one record.
    #[error("failed to encode the ClientHello: {0} bytes do not fit")]
    HelloTooLarge(usize),
}

/// The fields of one probe ClientHello. [`ClientHello::encode`] turns it into one record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // Reason: each flag is one independent, optional hello feature.
pub struct ClientHello {
    /// Highest version offered ([`SSL3`] … [`TLS1_3`]); TLS 1.3 is offered only through
    /// `supported_versions`, so a TLS 1.3 hello offers nothing else.
    pub version: u16,
    /// Cipher suites, in preference order (signalling values are added by the flags below).
    pub suites: Vec<u16>,
    /// SNI host name (never an IP literal: RFC 6066 forbids it).
    pub server_name: Option<String>,
    /// ALPN protocol names, in preference order.
    pub alpn: Vec<String>,
    /// Append TLS_FALLBACK_SCSV.
    pub fallback_scsv: bool,
    /// Offer DEFLATE compression besides null.
    pub compression: bool,
    /// Send the heartbeat extension (≤ TLS 1.2).
    pub heartbeat: bool,
    /// Ask for an OCSP staple (`status_request`).
    pub status_request: bool,
    /// Ask for secure renegotiation (extension for TLS, SCSV for SSL 3.0; ≤ TLS 1.2).
    pub renegotiation_info: bool,
    /// The client random.
    pub random: [u8; 32],
    /// Legacy session id; TLS 1.3 middlebox compatibility wants 32 random bytes, ≤ 1.2 none.
    pub session_id: Vec<u8>,
    /// The x25519 public value sent in `key_share` (TLS 1.3); any 32 bytes will do, as the
    /// handshake is never finished.
    pub key_share: [u8; 32],
}

impl ClientHello {
    /// A hello for `version` offering `suites`, with every optional feature off.
    #[must_use]
    pub fn new(version: u16, suites: Vec<u16>, random: [u8; 32], key_share: [u8; 32]) -> Self {
        Self {
            version,
            suites,
            server_name: None,
            alpn: Vec::new(),
            fallback_scsv: false,
            compression: false,
            heartbeat: false,
            status_request: false,
            renegotiation_info: false,
            random,
            session_id: Vec::new(),
            key_share,
        }
    }

    /// Encodes the hello as one handshake record. Its handshake message is never 256–511 bytes
    /// long: a `padding` extension lifts it to 512, as some F5 load balancers hang on that size.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let tls13 = self.version >= TLS1_3;
        let mut body = Vec::with_capacity(512);
        put_u16(&mut body, self.version.min(TLS1_2));
        body.extend_from_slice(&self.random);
        put_vec8(&mut body, &self.session_id)?;

        let mut suites = self.suites.clone();
        if self.version == SSL3 && self.renegotiation_info {
            suites.push(EMPTY_RENEGOTIATION_INFO_SCSV);
        }
        if self.fallback_scsv {
            suites.push(FALLBACK_SCSV);
        }
        let mut suite_bytes = Vec::with_capacity(suites.len() * 2);
        for suite in suites {
            put_u16(&mut suite_bytes, suite);
        }
        put_vec16(&mut body, &suite_bytes)?;
        put_vec8(
            &mut body,
            if self.compression && !tls13 {
                &[1, 0]
            } else {
                &[0]
            },
        )?;

        let mut extensions = self.extensions()?;
        // 4 bytes of handshake header, plus the extensions block's own length field.
        let unpadded = 4
            + body.len()
            + if extensions.is_empty() {
                0
            } else {
                2 + extensions.len()
            };
        if (256..512).contains(&unpadded) {
            let overhead = 4 + if extensions.is_empty() { 2 } else { 0 };
            let fill = 512usize.saturating_sub(unpadded + overhead);
            put_extension(&mut extensions, EXT_PADDING, &vec![0; fill])?;
        }
        if !extensions.is_empty() {
            put_vec16(&mut body, &extensions)?;
        }

        let mut message = Vec::with_capacity(body.len() + 4);
        message.push(HS_CLIENT_HELLO);
        put_u24(&mut message, body.len())?;
        message.extend_from_slice(&body);
        if message.len() > 1 << 14 {
            return Err(WireError::HelloTooLarge(message.len()));
        }
        let mut record = Vec::with_capacity(message.len() + 5);
        record.push(CONTENT_HANDSHAKE);
        // Record version 3.1 for every TLS hello: some servers reject a 3.3 record header.
        put_u16(
            &mut record,
            if self.version == SSL3 { SSL3 } else { TLS1_0 },
        );
        put_vec16(&mut record, &message)?;
        Ok(record)
    }

    fn extensions(&self) -> Result<Vec<u8>, WireError> {
        let mut ext = Vec::with_capacity(256);
        // SSL 3.0 predates extensions; many SSL 3.0-only stacks fail on them.
        if self.version == SSL3 {
            return Ok(ext);
        }
        let tls13 = self.version >= TLS1_3;
        if let Some(name) = &self.server_name {
            let mut entry = vec![0u8];
            put_vec16(&mut entry, name.as_bytes())?;
            let mut list = Vec::new();
            put_vec16(&mut list, &entry)?;
            put_extension(&mut ext, EXT_SERVER_NAME, &list)?;
        }
        let mut groups = Vec::with_capacity(GROUPS.len() * 2);
        for group in GROUPS {
            put_u16(&mut groups, *group);
        }
        let mut data = Vec::new();
        put_vec16(&mut data, &groups)?;
        put_extension(&mut ext, EXT_SUPPORTED_GROUPS, &data)?;
        put_extension(&mut ext, EXT_EC_POINT_FORMATS, &[1, 0])?;
        if self.version >= TLS1_2 {
            let mut schemes = Vec::with_capacity(SIGNATURE_SCHEMES.len() * 2);
            for scheme in SIGNATURE_SCHEMES {
                put_u16(&mut schemes, *scheme);
            }
            let mut data = Vec::new();
            put_vec16(&mut data, &schemes)?;
            put_extension(&mut ext, EXT_SIGNATURE_ALGORITHMS, &data)?;
        }
        if self.status_request {
            // OCSP, no responder ids, no request extensions.
            put_extension(&mut ext, EXT_STATUS_REQUEST, &[1, 0, 0, 0, 0])?;
        }
        if !self.alpn.is_empty() {
            let mut names = Vec::new();
            for proto in &self.alpn {
                put_vec8(&mut names, proto.as_bytes())?;
            }
            let mut data = Vec::new();
            put_vec16(&mut data, &names)?;
            put_extension(&mut ext, EXT_ALPN, &data)?;
        }
        if tls13 {
            put_extension(&mut ext, EXT_SUPPORTED_VERSIONS, &[2, 0x03, 0x04])?;
            let mut share = Vec::with_capacity(40);
            put_u16(&mut share, GROUP_X25519);
            put_vec16(&mut share, &self.key_share)?;
            let mut data = Vec::with_capacity(42);
            put_vec16(&mut data, &share)?;
            put_extension(&mut ext, EXT_KEY_SHARE, &data)?;
        } else {
            if self.heartbeat {
                // peer_allowed_to_send
                put_extension(&mut ext, EXT_HEARTBEAT, &[1])?;
            }
            if self.renegotiation_info {
                put_extension(&mut ext, EXT_RENEGOTIATION_INFO, &[0])?;
            }
            put_extension(&mut ext, EXT_EXTENDED_MASTER_SECRET, &[])?;
        }
        Ok(ext)
    }
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, value: usize) -> Result<(), WireError> {
    if value >= 1 << 24 {
        return Err(WireError::HelloTooLarge(value));
    }
    out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
    Ok(())
}

fn put_vec8(out: &mut Vec<u8>, data: &[u8]) -> Result<(), WireError> {
    let len = u8::try_from(data.len()).map_err(|_| WireError::HelloTooLarge(data.len()))?;
    out.push(len);
    out.extend_from_slice(data);
    Ok(())
}

fn put_vec16(out: &mut Vec<u8>, data: &[u8]) -> Result<(), WireError> {
    let len = u16::try_from(data.len()).map_err(|_| WireError::HelloTooLarge(data.len()))?;
    put_u16(out, len);
    out.extend_from_slice(data);
    Ok(())
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) -> Result<(), WireError> {
    put_u16(out, kind);
    put_vec16(out, data)
}

/// A TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// 1 = warning, 2 = fatal.
    pub level: u8,
    /// The alert description code.
    pub description: u8,
}

impl Alert {
    /// Whether the alert ends the connection (anything but a warning, or a close_notify).
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.level != 1 || self.description == 0
    }

    /// The RFC name of the description, e.g. `handshake_failure`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        alert_name(self.description)
    }
}

/// The RFC name of an alert description, or `unknown`.
#[must_use]
pub fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => "unknown",
    }
}

/// A parsed ServerHello (or HelloRetryRequest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The version field of the message itself (0x0303 for TLS 1.3).
    pub legacy_version: u16,
    /// The server random.
    pub random: [u8; 32],
    /// The selected cipher suite.
    pub cipher: u16,
    /// The selected compression method (0 = null, 1 = DEFLATE).
    pub compression: u8,
    /// Extension types, in the order sent.
    pub extensions: Vec<u16>,
    /// `supported_versions`: the version TLS 1.3 servers really selected.
    pub supported_version: Option<u16>,
    /// A HelloRetryRequest (its random is the RFC 8446 constant).
    pub retry_request: bool,
    /// `renegotiation_info` payload, when the server sent the extension.
    pub renegotiation_info: Option<Vec<u8>>,
    /// `heartbeat` mode, when the server sent the extension.
    pub heartbeat: Option<u8>,
    /// The ALPN protocol selected.
    pub alpn: Option<Vec<u8>>,
    /// The `key_share` group (selected share, or the group a HelloRetryRequest asks for).
    pub key_share_group: Option<u16>,
    /// The server agreed to staple an OCSP response (`status_request` echoed, ≤ TLS 1.2).
    pub status_request: bool,
}

impl ServerHello {
    /// The negotiated version: `supported_versions` when present, else the message version.
    #[must_use]
    pub fn version(&self) -> u16 {
        self.supported_version.unwrap_or(self.legacy_version)
    }
}

/// How far to read a server flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    /// Stop once the ServerHello is parsed.
    ServerHello,
    /// Read a TLS ≤ 1.2 flight through ServerHelloDone (certificates, staple, request). A TLS 1.3
    /// or HelloRetryRequest answer still stops at the ServerHello: the rest is encrypted.
    HelloDone,
}

/// What a server sent in reply to one ClientHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFlight {
    /// The ServerHello, when one arrived.
    pub server_hello: Option<ServerHello>,
    /// DER certificates of the Certificate message (TLS ≤ 1.2), leaf first.
    pub certificates: Vec<Vec<u8>>,
    /// The DER OCSP response of a CertificateStatus message.
    pub ocsp_response: Option<Vec<u8>>,
    /// The body of a ServerKeyExchange message (TLS ≤ 1.2, (EC)DHE suites).
    pub server_key_exchange: Option<Vec<u8>>,
    /// A CertificateRequest was sent.
    pub certificate_request: bool,
    /// ServerHelloDone arrived (the TLS ≤ 1.2 flight is complete).
    pub hello_done: bool,
    /// The alert that ended the flight (fatal, or close_notify).
    pub alert: Option<Alert>,
    /// The last warning alert seen before it (e.g. `unrecognized_name`).
    pub warning: Option<Alert>,
}

/// Parses a server flight incrementally: call [`FlightReader::advance`] with the whole buffer
/// received so far after each read; it consumes only complete records and remembers its place.
#[derive(Debug, Clone)]
pub struct FlightReader {
    stop: StopAt,
    consumed: usize,
    pending: bool,
    handshake: Vec<u8>,
    flight: ServerFlight,
    error: Option<WireError>,
    done: bool,
}

impl FlightReader {
    /// A reader that stops at `stop`.
    #[must_use]
    pub fn new(stop: StopAt) -> Self {
        Self {
            stop,
            consumed: 0,
            pending: false,
            handshake: Vec::new(),
            flight: ServerFlight::default(),
            error: None,
            done: false,
        }
    }

    /// Parses what `received` (every byte so far, not just the new ones) adds; returns `true` once
    /// the flight is complete or has failed, so it can serve as a read loop's stop condition.
    pub fn advance(&mut self, received: &[u8]) -> bool {
        if self.done || self.error.is_some() {
            return true;
        }
        match self.consume(received) {
            Ok(()) => self.done,
            Err(err) => {
                self.error = Some(err);
                true
            }
        }
    }

    /// Whether the flight is complete (without error).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done && self.error.is_none()
    }

    /// What was parsed so far, even if the flight is incomplete or failed later.
    #[must_use]
    pub fn flight(&self) -> &ServerFlight {
        &self.flight
    }

    /// The parse error, if one occurred.
    #[must_use]
    pub fn error(&self) -> Option<&WireError> {
        self.error.as_ref()
    }

    /// The flight, or the error that stopped parsing. A flight cut inside a record or handshake
    /// message is [`WireError::Truncated`]; one cut between records is returned as parsed.
    pub fn finish(self) -> Result<ServerFlight, WireError> {
        match self.into_parts() {
            (flight, None) => Ok(flight),
            (_, Some(err)) => Err(err),
        }
    }

    /// What was parsed, and the error (or truncation) that ended parsing, if any: a caller can
    /// keep a ServerHello even when a later message of the flight is broken.
    #[must_use]
    pub fn into_parts(self) -> (ServerFlight, Option<WireError>) {
        let truncated = !self.done && (self.pending || !self.handshake.is_empty());
        let error = self.error.or(truncated.then_some(WireError::Truncated));
        (self.flight, error)
    }

    fn consume(&mut self, received: &[u8]) -> Result<(), WireError> {
        let Some(mut rest) = received.get(self.consumed..) else {
            return Err(WireError::Malformed("read buffer"));
        };
        while !self.done {
            let first = self.consumed == 0;
            if first {
                check_tls_start(rest)?;
            }
            if rest.len() < 5 {
                break;
            }
            let content = rest[0];
            let version = u16::from_be_bytes([rest[1], rest[2]]);
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            if !(CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HEARTBEAT).contains(&content) {
                return Err(WireError::Malformed("record content type"));
            }
            if version >> 8 != 3 {
                return Err(WireError::Malformed("record version"));
            }
            if len > MAX_RECORD_LEN {
                return Err(WireError::RecordTooLarge(len));
            }
            let Some(payload) = rest.get(5..5 + len) else {
                break;
            };
            self.record(content, payload)?;
            self.consumed += 5 + len;
            rest = &rest[5 + len..];
        }
        self.pending = !rest.is_empty();
        Ok(())
    }

    fn record(&mut self, content: u8, payload: &[u8]) -> Result<(), WireError> {
        let hello_seen = self.flight.server_hello.is_some();
        match content {
            CONTENT_ALERT => {
                let [level, description, ..] = *payload else {
                    return Err(WireError::Malformed("alert"));
                };
                let alert = Alert { level, description };
                if alert.is_final() {
                    self.flight.alert = Some(alert);
                    self.done = true;
                } else {
                    self.flight.warning = Some(alert);
                }
                Ok(())
            }
            CONTENT_HANDSHAKE => {
                if payload.is_empty() {
                    return Err(WireError::Malformed("empty handshake record"));
                }
                // Only one incomplete message is ever kept, so this bound is a safety net.
                if self.handshake.len() + payload.len() > MAX_HANDSHAKE_LEN + 4 + MAX_RECORD_LEN {
                    return Err(WireError::HandshakeTooLarge(
                        self.handshake.len() + payload.len(),
                    ));
                }
                self.handshake.extend_from_slice(payload);
                self.messages()
            }
            CONTENT_CHANGE_CIPHER_SPEC if !hello_seen => Err(WireError::Unexpected(
                "change_cipher_spec before ServerHello",
            )),
            CONTENT_APPLICATION_DATA if !hello_seen => {
                Err(WireError::Unexpected("application data before ServerHello"))
            }
            _ => Ok(()),
        }
    }

    fn messages(&mut self) -> Result<(), WireError> {
        let mut offset = 0;
        while !self.done {
            let Some(header) = self.handshake.get(offset..offset + 4) else {
                break;
            };
            let kind = header[0];
            let len =
                usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
            if len > MAX_HANDSHAKE_LEN {
                return Err(WireError::HandshakeTooLarge(len));
            }
            let Some(body) = self.handshake.get(offset + 4..offset + 4 + len) else {
                break;
            };
            let body = body.to_vec();
            offset += 4 + len;
            self.message(kind, &body)?;
        }
        self.handshake.drain(..offset);
        Ok(())
    }

    fn message(&mut self, kind: u8, body: &[u8]) -> Result<(), WireError> {
        if self.flight.server_hello.is_none() {
            return match kind {
                HS_HELLO_REQUEST => Ok(()),
                HS_SERVER_HELLO => {
                    let hello = parse_server_hello(body)?;
                    self.done = self.stop == StopAt::ServerHello
                        || hello.retry_request
                        || hello.version() >= TLS1_3;
                    self.flight.server_hello = Some(hello);
                    Ok(())
                }
                _ => Err(WireError::Unexpected(
                    "handshake message before ServerHello",
                )),
            };
        }
        match kind {
            HS_SERVER_HELLO => Err(WireError::Unexpected("second ServerHello")),
            HS_CERTIFICATE => {
                self.flight.certificates = parse_certificates(body)?;
                Ok(())
            }
            HS_CERTIFICATE_STATUS => {
                self.flight.ocsp_response = parse_certificate_status(body)?;
                Ok(())
            }
            HS_SERVER_KEY_EXCHANGE => {
                self.flight.server_key_exchange = Some(body.to_vec());
                Ok(())
            }
            HS_CERTIFICATE_REQUEST => {
                self.flight.certificate_request = true;
                Ok(())
            }
            HS_SERVER_HELLO_DONE => {
                self.flight.hello_done = true;
                self.done = true;
                Ok(())
            }
            // Anything else a ≤1.2 flight may carry: not needed.
            _ => Ok(()),
        }
    }
}

/// Size in bits of the prime of a DHE ServerKeyExchange (`dh_p<1..2^16-1>` comes first).
#[must_use]
pub fn dh_prime_bits(server_key_exchange: &[u8]) -> Option<u32> {
    let [hi, lo, rest @ ..] = server_key_exchange else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    let prime = rest.get(..len)?;
    let first = prime.iter().position(|b| *b != 0)?;
    let significant = u32::try_from(prime.len() - first).ok()?;
    Some(significant * 8 - prime[first].leading_zeros())
}

/// The named group of an ECDHE ServerKeyExchange (`curve_type` 3 = named_curve, then the group).
#[must_use]
pub fn ecdhe_group(server_key_exchange: &[u8]) -> Option<u16> {
    match server_key_exchange {
        [3, hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// The IANA name of a TLS supported group.
#[must_use]
pub fn group_name(group: u16) -> String {
    match group {
        0x0017 => "secp256r1".into(),
        0x0018 => "secp384r1".into(),
        0x0019 => "secp521r1".into(),
        0x001d => "x25519".into(),
        0x001e => "x448".into(),
        0x0100 => "ffdhe2048".into(),
        0x0101 => "ffdhe3072".into(),
        0x0102 => "ffdhe4096".into(),
        0x11ec => "X25519MLKEM768".into(),
        other => format!("0x{other:04x}"),
    }
}

/// Parses a complete server flight in one go (see [`FlightReader`]).
pub fn parse_flight(bytes: &[u8], stop: StopAt) -> Result<ServerFlight, WireError> {
    let mut reader = FlightReader::new(stop);
    reader.advance(bytes);
    reader.finish()
}

/// Rejects a reply whose first bytes cannot start a TLS record, as soon as they arrive.
fn check_tls_start(bytes: &[u8]) -> Result<(), WireError> {
    let plausible = match *bytes {
        [] => true,
        [content] => (CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HEARTBEAT).contains(&content),
        [content, major, ..] => {
            (CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HEARTBEAT).contains(&content) && major == 3
        }
    };
    if plausible {
        Ok(())
    } else {
        Err(WireError::NotTls(describe_prefix(bytes)))
    }
}

/// The first bytes of a non-TLS reply, as text when they are printable (`HTTP/1.1 400`), else hex.
fn describe_prefix(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let head = &bytes[..bytes.len().min(16)];
    if head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        String::from_utf8_lossy(head).trim_end().to_owned()
    } else {
        head.iter().fold(String::with_capacity(32), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }
}

/// A bounds-checked cursor over one message; every read names what it was reading.
struct Cursor<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.data.len() {
            return Err(WireError::Malformed(self.what));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Result<usize, WireError> {
        let b = self.take(3)?;
        Ok(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    fn vec8(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn vec16(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    fn vec24(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u24()?;
        self.take(n)
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn end(&self) -> Result<(), WireError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(WireError::Malformed(self.what))
        }
    }
}

fn parse_server_hello(body: &[u8]) -> Result<ServerHello, WireError> {
    let mut c = Cursor::new(body, "ServerHello");
    let legacy_version = c.u16()?;
    let mut random = [0u8; 32];
    random.copy_from_slice(c.take(32)?);
    let session_id = c.vec8()?;
    if session_id.len() > 32 {
        return Err(WireError::Malformed("ServerHello session id"));
    }
    let retry_request = random == HELLO_RETRY_RANDOM;
    let mut hello = ServerHello {
        legacy_version,
        random,
        cipher: c.u16()?,
        compression: c.u8()?,
        extensions: Vec::new(),
        supported_version: None,
        retry_request,
        renegotiation_info: None,
        heartbeat: None,
        alpn: None,
        key_share_group: None,
        status_request: false,
    };
    // Extensions are optional in SSL 3.0 … TLS 1.2 ServerHellos.
    if c.is_empty() {
        return Ok(hello);
    }
    let mut exts = Cursor::new(c.vec16()?, "ServerHello extensions");
    c.end()?;
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        if hello.extensions.contains(&kind) {
            return Err(WireError::Malformed("ServerHello: duplicate extension"));
        }
        hello.extensions.push(kind);
        server_hello_extension(&mut hello, kind, data)?;
    }
    Ok(hello)
}

fn server_hello_extension(
    hello: &mut ServerHello,
    kind: u16,
    data: &[u8],
) -> Result<(), WireError> {
    match kind {
        EXT_SUPPORTED_VERSIONS => {
            let mut c = Cursor::new(data, "supported_versions");
            hello.supported_version = Some(c.u16()?);
            c.end()
        }
        EXT_RENEGOTIATION_INFO => {
            let mut c = Cursor::new(data, "renegotiation_info");
            hello.renegotiation_info = Some(c.vec8()?.to_vec());
            c.end()
        }
        EXT_HEARTBEAT => {
            let mut c = Cursor::new(data, "heartbeat");
            hello.heartbeat = Some(c.u8()?);
            c.end()
        }
        EXT_ALPN => {
            let mut c = Cursor::new(data, "ALPN");
            let mut list = Cursor::new(c.vec16()?, "ALPN");
            c.end()?;
            let name = list.vec8()?;
            list.end()?;
            if name.is_empty() {
                return Err(WireError::Malformed("ALPN"));
            }
            hello.alpn = Some(name.to_vec());
            Ok(())
        }
        EXT_KEY_SHARE => {
            let mut c = Cursor::new(data, "key_share");
            hello.key_share_group = Some(c.u16()?);
            if !hello.retry_request {
                c.vec16()?;
            }
            c.end()
        }
        EXT_STATUS_REQUEST => {
            hello.status_request = true;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn parse_certificates(body: &[u8]) -> Result<Vec<Vec<u8>>, WireError> {
    let mut c = Cursor::new(body, "Certificate");
    let mut list = Cursor::new(c.vec24()?, "Certificate");
    c.end()?;
    let mut certificates = Vec::new();
    while !list.is_empty() {
        let der = list.vec24()?;
        if der.is_empty() {
            return Err(WireError::Malformed("Certificate: empty entry"));
        }
        certificates.push(der.to_vec());
    }
    Ok(certificates)
}

fn parse_certificate_status(body: &[u8]) -> Result<Option<Vec<u8>>, WireError> {
    let mut c = Cursor::new(body, "CertificateStatus");
    // status_type 1 = ocsp; any other type is not a staple tlsaudit can read.
    if c.u8()? != 1 {
        return Ok(None);
    }
    let response = c.vec24()?;
    c.end()?;
    Ok(Some(response.to_vec()))
}

#[cfg(test)]
mod key_exchange_tests {
    use super::*;

    #[test]
    fn dh_prime_size_counts_significant_bits() {
        let mut ske = vec![0x00, 0x80];
        ske.extend([0xff; 128]);
        ske.extend([0x00, 0x01, 0x02]);
        assert_eq!(dh_prime_bits(&ske), Some(1024));
        let mut small = vec![0x00, 0x03, 0x00, 0x7f, 0x01];
        small.extend([0x00, 0x01, 0x02]);
        assert_eq!(dh_prime_bits(&small), Some(15));
        assert_eq!(dh_prime_bits(&[0x00, 0x10, 0xff]), None, "truncated prime");
        assert_eq!(dh_prime_bits(&[]), None);
    }

    #[test]
    fn ecdhe_group_needs_a_named_curve() {
        assert_eq!(ecdhe_group(&[3, 0x00, 0x1d, 32]), Some(0x001d));
        assert_eq!(ecdhe_group(&[1, 0x00, 0x1d]), None);
        assert_eq!(group_name(0x001d), "x25519");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![content, 3, 3];
        out.extend_from_slice(&u16::try_from(payload.len()).expect("small").to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes()[1..]);
        out.extend_from_slice(body);
        out
    }

    fn server_hello_body(random: [u8; 32], cipher: u16, extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&random);
        body.push(0);
        body.extend_from_slice(&cipher.to_be_bytes());
        body.push(0);
        if !extensions.is_empty() {
            let mut ext = Vec::new();
            for (kind, data) in extensions {
                ext.extend_from_slice(&kind.to_be_bytes());
                ext.extend_from_slice(&u16::try_from(data.len()).expect("small").to_be_bytes());
                ext.extend_from_slice(data);
            }
            body.extend_from_slice(&u16::try_from(ext.len()).expect("small").to_be_bytes());
            body.extend_from_slice(&ext);
        }
        body
    }

    fn u24_vec(data: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(data.len()).expect("small").to_be_bytes()[1..].to_vec();
        out.extend_from_slice(data);
        out
    }

    /// The pieces of an encoded ClientHello, read back by an independent little parser.
    #[derive(Debug)]
    struct Decoded {
        record_version: u16,
        handshake_len: usize,
        version: u16,
        session_id: Vec<u8>,
        suites: Vec<u16>,
        compression: Vec<u8>,
        extensions: Vec<(u16, Vec<u8>)>,
    }

    fn decode(record: &[u8]) -> Decoded {
        assert_eq!(record[0], 22);
        let record_len = usize::from(u16::from_be_bytes([record[3], record[4]]));
        assert_eq!(record.len(), 5 + record_len);
        let hs = &record[5..];
        assert_eq!(hs[0], 1);
        let body_len = usize::from(hs[1]) << 16 | usize::from(hs[2]) << 8 | usize::from(hs[3]);
        assert_eq!(hs.len(), 4 + body_len);
        let mut c = Cursor::new(&hs[4..], "test");
        let version = c.u16().expect("version");
        c.take(32).expect("random");
        let session_id = c.vec8().expect("session").to_vec();
        let suites = c
            .vec16()
            .expect("suites")
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        let compression = c.vec8().expect("compression").to_vec();
        let mut extensions = Vec::new();
        if !c.is_empty() {
            let mut e = Cursor::new(c.vec16().expect("extensions"), "test");
            while !e.is_empty() {
                let kind = e.u16().expect("type");
                extensions.push((kind, e.vec16().expect("data").to_vec()));
            }
        }
        c.end().expect("no trailing bytes");
        Decoded {
            record_version: u16::from_be_bytes([record[1], record[2]]),
            handshake_len: hs.len(),
            version,
            session_id,
            suites,
            compression,
            extensions,
        }
    }

    fn ext(d: &Decoded, kind: u16) -> Option<&[u8]> {
        d.extensions
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| v.as_slice())
    }

    #[test]
    fn tls12_hello_carries_every_requested_feature() {
        let mut hello = ClientHello::new(TLS1_2, vec![0xC02F, 0x009C], [7; 32], [9; 32]);
        hello.server_name = Some("example.test".into());
        hello.alpn = vec!["h2".into(), "http/1.1".into()];
        hello.fallback_scsv = true;
        hello.compression = true;
        hello.heartbeat = true;
        hello.status_request = true;
        hello.renegotiation_info = true;
        let d = decode(&hello.encode().expect("encodes"));
        assert_eq!(d.record_version, TLS1_0);
        assert_eq!(d.version, TLS1_2);
        assert!(d.session_id.is_empty());
        assert_eq!(d.suites, vec![0xC02F, 0x009C, FALLBACK_SCSV]);
        assert_eq!(d.compression, vec![1, 0]);
        assert_eq!(
            ext(&d, EXT_SERVER_NAME),
            Some(&b"\x00\x0f\x00\x00\x0cexample.test"[..])
        );
        assert_eq!(ext(&d, EXT_ALPN), Some(&b"\x00\x0c\x02h2\x08http/1.1"[..]));
        assert_eq!(ext(&d, EXT_HEARTBEAT), Some(&[1u8][..]));
        assert_eq!(ext(&d, EXT_STATUS_REQUEST), Some(&[1u8, 0, 0, 0, 0][..]));
        assert_eq!(ext(&d, EXT_RENEGOTIATION_INFO), Some(&[0u8][..]));
        assert_eq!(ext(&d, EXT_EC_POINT_FORMATS), Some(&[1u8, 0][..]));
        assert_eq!(
            ext(&d, EXT_SUPPORTED_GROUPS).map(|g| &g[..4]),
            Some(&[0u8, 30, 0, 0x1d][..])
        );
        assert!(ext(&d, EXT_SIGNATURE_ALGORITHMS).is_some());
        assert!(ext(&d, EXT_SUPPORTED_VERSIONS).is_none() && ext(&d, EXT_KEY_SHARE).is_none());
    }

    #[test]
    fn tls13_hello_offers_only_tls13_with_an_x25519_share() {
        let mut hello = ClientHello::new(TLS1_3, vec![0x1301, 0x1302], [1; 32], [0xAB; 32]);
        hello.session_id = vec![5; 32];
        hello.heartbeat = true;
        hello.compression = true;
        hello.renegotiation_info = true;
        let d = decode(&hello.encode().expect("encodes"));
        assert_eq!(d.version, TLS1_2);
        assert_eq!(d.session_id, vec![5; 32]);
        assert_eq!(d.compression, vec![0]);
        assert_eq!(ext(&d, EXT_SUPPORTED_VERSIONS), Some(&[2u8, 3, 4][..]));
        let mut share = vec![0u8, 36, 0, 0x1d, 0, 32];
        share.extend_from_slice(&[0xAB; 32]);
        assert_eq!(ext(&d, EXT_KEY_SHARE), Some(share.as_slice()));
        assert!(ext(&d, EXT_HEARTBEAT).is_none() && ext(&d, EXT_RENEGOTIATION_INFO).is_none());
    }

    #[test]
    fn ssl3_hello_uses_an_ssl3_record_and_the_renegotiation_scsv_instead_of_extensions() {
        let mut hello = ClientHello::new(SSL3, vec![0x000A], [0; 32], [0; 32]);
        hello.renegotiation_info = true;
        hello.heartbeat = true;
        let d = decode(&hello.encode().expect("encodes"));
        assert_eq!(d.record_version, SSL3);
        assert_eq!(d.version, SSL3);
        assert_eq!(d.suites, vec![0x000A, EMPTY_RENEGOTIATION_INFO_SCSV]);
        assert!(d.extensions.is_empty());
    }

    #[test]
    fn no_hello_length_falls_in_the_f5_range_of_256_to_511_bytes() {
        for version in [SSL3, TLS1_0, TLS1_2, TLS1_3] {
            for suites in 0..300u16 {
                let mut hello = ClientHello::new(version, (1..=suites).collect(), [0; 32], [0; 32]);
                hello.server_name = (suites % 3 == 0).then(|| "a".repeat(usize::from(suites % 50)));
                let d = decode(&hello.encode().expect("encodes"));
                assert!(
                    !(256..512).contains(&d.handshake_len),
                    "{version:#x} {suites}: {}",
                    d.handshake_len
                );
                if ext(&d, EXT_PADDING).is_some() {
                    assert!(
                        (512..=517).contains(&d.handshake_len),
                        "padded to {}",
                        d.handshake_len
                    );
                }
            }
        }
    }

    #[test]
    fn oversized_hellos_are_errors_not_truncations() {
        let hello = ClientHello::new(TLS1_2, vec![1; 40_000], [0; 32], [0; 32]);
        assert!(matches!(hello.encode(), Err(WireError::HelloTooLarge(_))));
        let mut hello = ClientHello::new(TLS1_2, vec![1], [0; 32], [0; 32]);
        hello.alpn = vec!["x".repeat(300)];
        assert_eq!(hello.encode(), Err(WireError::HelloTooLarge(300)));
    }

    fn tls12_flight() -> Vec<u8> {
        let hello = server_hello_body(
            [0x11; 32],
            0xC02F,
            &[
                (EXT_RENEGOTIATION_INFO, vec![0]),
                (EXT_HEARTBEAT, vec![1]),
                (EXT_STATUS_REQUEST, vec![]),
                (EXT_ALPN, b"\x00\x03\x02h2".to_vec()),
                (EXT_EC_POINT_FORMATS, vec![1, 0]),
            ],
        );
        let mut chain = u24_vec(b"leaf-der");
        chain.extend(u24_vec(b"ca-der"));
        let certificate = u24_vec(&chain);
        let mut status = vec![1];
        status.extend(u24_vec(b"ocsp-der"));
        let mut messages = handshake(HS_SERVER_HELLO, &hello);
        messages.extend(handshake(HS_CERTIFICATE, &certificate));
        messages.extend(handshake(HS_CERTIFICATE_STATUS, &status));
        messages.extend(handshake(12, b"server key exchange"));
        messages.extend(handshake(
            HS_CERTIFICATE_REQUEST,
            b"\x01\x01\x00\x00\x00\x00",
        ));
        messages.extend(handshake(HS_SERVER_HELLO_DONE, b""));
        // Split the handshake stream so that one message spans records and others share one.
        let mut out = record(CONTENT_HANDSHAKE, &messages[..50]);
        out.extend(record(CONTENT_HANDSHAKE, &messages[50..103]));
        out.extend(record(CONTENT_HANDSHAKE, &messages[103..]));
        out
    }

    #[test]
    fn tls12_flight_yields_hello_chain_staple_and_certificate_request() {
        let flight = parse_flight(&tls12_flight(), StopAt::HelloDone).expect("parses");
        let hello = flight.server_hello.as_ref().expect("hello");
        assert_eq!(hello.version(), TLS1_2);
        assert_eq!(hello.cipher, 0xC02F);
        assert_eq!(hello.compression, 0);
        assert_eq!(hello.renegotiation_info, Some(vec![]));
        assert_eq!(hello.heartbeat, Some(1));
        assert!(hello.status_request);
        assert_eq!(hello.alpn, Some(b"h2".to_vec()));
        assert!(!hello.retry_request);
        assert_eq!(
            hello.extensions,
            vec![
                EXT_RENEGOTIATION_INFO,
                EXT_HEARTBEAT,
                EXT_STATUS_REQUEST,
                EXT_ALPN,
                EXT_EC_POINT_FORMATS
            ]
        );
        assert_eq!(
            flight.certificates,
            vec![b"leaf-der".to_vec(), b"ca-der".to_vec()]
        );
        assert_eq!(flight.ocsp_response, Some(b"ocsp-der".to_vec()));
        assert!(flight.certificate_request && flight.hello_done);
        assert_eq!(flight.alert, None);
    }

    #[test]
    fn feeding_one_byte_at_a_time_gives_the_same_flight() {
        let bytes = tls12_flight();
        let whole = parse_flight(&bytes, StopAt::HelloDone).expect("parses");
        let mut reader = FlightReader::new(StopAt::HelloDone);
        for end in 0..bytes.len() {
            assert!(!reader.advance(&bytes[..end]), "done early at {end}");
        }
        assert!(reader.advance(&bytes));
        assert_eq!(reader.finish(), Ok(whole));
    }

    #[test]
    fn stopping_at_server_hello_ignores_the_rest_of_the_flight() {
        let bytes = tls12_flight();
        let mut reader = FlightReader::new(StopAt::ServerHello);
        assert!(reader.advance(&bytes[..113]));
        let flight = reader.finish().expect("parses");
        assert_eq!(flight.server_hello.map(|h| h.cipher), Some(0xC02F));
        assert!(flight.certificates.is_empty() && !flight.hello_done);
    }

    #[test]
    fn tls13_server_hello_reports_the_selected_version_and_group_and_ends_the_flight() {
        let mut share = GROUP_X25519.to_be_bytes().to_vec();
        share.extend_from_slice(&[0, 32]);
        share.extend_from_slice(&[3; 32]);
        let body = server_hello_body(
            [0x22; 32],
            0x1302,
            &[(EXT_SUPPORTED_VERSIONS, vec![3, 4]), (EXT_KEY_SHARE, share)],
        );
        let mut bytes = record(CONTENT_HANDSHAKE, &handshake(HS_SERVER_HELLO, &body));
        bytes.extend(record(CONTENT_CHANGE_CIPHER_SPEC, &[1]));
        bytes.extend(record(CONTENT_APPLICATION_DATA, &[0xEE; 40]));
        let flight = parse_flight(&bytes, StopAt::HelloDone).expect("parses");
        let hello = flight.server_hello.expect("hello");
        assert_eq!(
            (hello.legacy_version, hello.version(), hello.cipher),
            (TLS1_2, TLS1_3, 0x1302)
        );
        assert_eq!(hello.key_share_group, Some(GROUP_X25519));
        assert!(!hello.retry_request);
    }

    #[test]
    fn hello_retry_request_is_recognised_by_its_random() {
        let body = server_hello_body(
            HELLO_RETRY_RANDOM,
            0x1301,
            &[
                (EXT_SUPPORTED_VERSIONS, vec![3, 4]),
                (EXT_KEY_SHARE, vec![0, 0x17]),
            ],
        );
        let flight = parse_flight(
            &record(CONTENT_HANDSHAKE, &handshake(HS_SERVER_HELLO, &body)),
            StopAt::HelloDone,
        )
        .expect("parses");
        let hello = flight.server_hello.expect("hello");
        assert!(hello.retry_request);
        assert_eq!(
            (hello.version(), hello.cipher, hello.key_share_group),
            (TLS1_3, 0x1301, Some(0x17))
        );
    }

    #[test]
    fn fatal_alert_ends_the_flight_and_warnings_are_kept_aside() {
        let mut bytes = record(CONTENT_ALERT, &[1, 112]);
        bytes.extend(record(CONTENT_ALERT, &[2, 40]));
        let flight = parse_flight(&bytes, StopAt::HelloDone).expect("parses");
        assert_eq!(
            flight.alert,
            Some(Alert {
                level: 2,
                description: 40
            })
        );
        assert_eq!(flight.alert.map(|a| a.name()), Some("handshake_failure"));
        assert_eq!(flight.warning.map(|a| a.name()), Some("unrecognized_name"));
        assert!(flight.server_hello.is_none());
    }

    #[test]
    fn alert_names_follow_the_rfcs() {
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(48), "unknown_ca");
        assert_eq!(alert_name(116), "certificate_required");
        assert_eq!(alert_name(42), "bad_certificate");
        assert_eq!(alert_name(71), "insufficient_security");
        assert_eq!(alert_name(112), "unrecognized_name");
        assert_eq!(alert_name(86), "inappropriate_fallback");
        assert_eq!(alert_name(255), "unknown");
    }

    #[test]
    fn an_http_reply_is_not_tls_from_its_first_byte() {
        let mut reader = FlightReader::new(StopAt::HelloDone);
        assert!(reader.advance(b"H"));
        assert_eq!(reader.finish(), Err(WireError::NotTls("H".into())));
        let reply = b"HTTP/1.1 400 Bad Request\r\n\r\n";
        assert_eq!(
            parse_flight(reply, StopAt::HelloDone),
            Err(WireError::NotTls("HTTP/1.1 400 Bad".into()))
        );
        assert_eq!(
            parse_flight(b"SSH-2.0\r\n", StopAt::HelloDone),
            Err(WireError::NotTls("SSH-2.0".into()))
        );
        assert_eq!(
            parse_flight(&[0x16, 0x01, 0x00], StopAt::HelloDone),
            Err(WireError::NotTls("160100".into()))
        );
    }

    #[test]
    fn limits_and_malformed_structures_are_errors() {
        let check = |bytes: &[u8], want: WireError| {
            assert_eq!(parse_flight(bytes, StopAt::HelloDone), Err(want));
        };
        check(&[22, 3, 3, 0xFF, 0xFF], WireError::RecordTooLarge(0xFFFF));
        check(
            &record(CONTENT_HANDSHAKE, &[2, 0xFF, 0xFF, 0xFF]),
            WireError::HandshakeTooLarge(0xFF_FFFF),
        );
        check(
            &record(CONTENT_HANDSHAKE, &[]),
            WireError::Malformed("empty handshake record"),
        );
        check(&record(CONTENT_ALERT, &[2]), WireError::Malformed("alert"));
        check(
            &record(CONTENT_HANDSHAKE, &handshake(HS_SERVER_HELLO, &[3, 3, 0])),
            WireError::Malformed("ServerHello"),
        );
        check(
            &record(CONTENT_HANDSHAKE, &handshake(HS_CERTIFICATE, &[0, 0, 0])),
            WireError::Unexpected("handshake message before ServerHello"),
        );
        check(
            &record(CONTENT_APPLICATION_DATA, &[1]),
            WireError::Unexpected("application data before ServerHello"),
        );
        let mut bad_session = server_hello_body([0; 32], 1, &[]);
        bad_session[34] = 33;
        bad_session.extend_from_slice(&[0; 40]);
        check(
            &record(CONTENT_HANDSHAKE, &handshake(HS_SERVER_HELLO, &bad_session)),
            WireError::Malformed("ServerHello session id"),
        );
        let dup = server_hello_body(
            [0; 32],
            1,
            &[(EXT_HEARTBEAT, vec![1]), (EXT_HEARTBEAT, vec![1])],
        );
        check(
            &record(CONTENT_HANDSHAKE, &handshake(HS_SERVER_HELLO, &dup)),
            WireError::Malformed("ServerHello: duplicate extension"),
        );
        let mut trailing = server_hello_body([0; 32], 1, &[(EXT_HEARTBEAT, vec![1])]);
        trailing.push(0);
        check(
            &record(CONTENT_HANDSHAKE, &handshake(HS_SERVER_HELLO, &trailing)),
            WireError::Malformed("ServerHello"),
        );
        let mut second_record = record(CONTENT_HANDSHAKE, &handshake(HS_HELLO_REQUEST, &[]));
        second_record.extend_from_slice(&[0x47, 3, 3, 0, 1, 0]);
        check(&second_record, WireError::Malformed("record content type"));
    }

    #[test]
    fn a_flight_cut_inside_a_record_or_message_is_truncated() {
        let bytes = tls12_flight();
        assert_eq!(
            parse_flight(&bytes[..3], StopAt::HelloDone),
            Err(WireError::Truncated)
        );
        assert_eq!(
            parse_flight(&bytes[..40], StopAt::HelloDone),
            Err(WireError::Truncated)
        );
        assert_eq!(
            parse_flight(&[], StopAt::HelloDone),
            Ok(ServerFlight::default())
        );
        // Cut between records but inside the handshake stream: still truncated.
        assert_eq!(
            parse_flight(&bytes[..55], StopAt::HelloDone),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn pseudo_random_garbage_never_panics() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let base = tls12_flight();
        for _ in 0..20_000 {
            let mut bytes = base.clone();
            for _ in 0..(next() % 8) {
                let at = usize::try_from(next()).expect("fits") % bytes.len();
                bytes[at] = next().to_le_bytes()[0];
            }
            bytes.truncate(usize::try_from(next()).expect("fits") % (bytes.len() + 1));
            let _ = parse_flight(&bytes, StopAt::HelloDone);
            let noise: Vec<u8> = (0..next() % 64).map(|_| next().to_le_bytes()[0]).collect();
            let _ = parse_flight(&noise, StopAt::HelloDone);
        }
    }
}
