//! The IANA code points the codec speaks: protocol versions, signalling cipher-suite values, record
//! content types, handshake message types and extension types. Input: nothing. Output: constants.

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

pub(super) const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
pub(super) const CONTENT_ALERT: u8 = 21;
pub(super) const CONTENT_HANDSHAKE: u8 = 22;
pub(super) const CONTENT_APPLICATION_DATA: u8 = 23;
pub(super) const CONTENT_HEARTBEAT: u8 = 24;

pub(super) const HS_HELLO_REQUEST: u8 = 0;
pub(super) const HS_CLIENT_HELLO: u8 = 1;
pub(super) const HS_SERVER_HELLO: u8 = 2;
pub(super) const HS_CERTIFICATE: u8 = 11;
pub(super) const HS_SERVER_KEY_EXCHANGE: u8 = 12;
pub(super) const HS_CERTIFICATE_REQUEST: u8 = 13;
pub(super) const HS_SERVER_HELLO_DONE: u8 = 14;
pub(super) const HS_CERTIFICATE_STATUS: u8 = 22;

pub(super) const EXT_SERVER_NAME: u16 = 0;
pub(super) const EXT_STATUS_REQUEST: u16 = 5;
pub(super) const EXT_SUPPORTED_GROUPS: u16 = 10;
pub(super) const EXT_EC_POINT_FORMATS: u16 = 11;
pub(super) const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
pub(super) const EXT_HEARTBEAT: u16 = 15;
pub(super) const EXT_ALPN: u16 = 16;
pub(super) const EXT_PADDING: u16 = 21;
pub(super) const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
pub(super) const EXT_SUPPORTED_VERSIONS: u16 = 43;
pub(super) const EXT_KEY_SHARE: u16 = 51;
pub(super) const EXT_RENEGOTIATION_INFO: u16 = 0xFF01;
