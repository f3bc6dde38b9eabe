//! The server's answer to a ClientHello: a ServerHello or a HelloRetryRequest, with the extensions
//! the probes read (supported_versions, key_share, ALPN, renegotiation_info, heartbeat,
//! status_request). Input: the body of one ServerHello handshake message. Output: a
//! [`ServerHello`], or a [`WireError`].

use super::codec::{Cursor, WireError};
use super::codepoints::{
    EXT_ALPN, EXT_EXTENDED_MASTER_SECRET, EXT_HEARTBEAT, EXT_KEY_SHARE, EXT_RENEGOTIATION_INFO,
    EXT_STATUS_REQUEST, EXT_SUPPORTED_VERSIONS,
};

/// SHA-256("HelloRetryRequest"): the `random` that marks a ServerHello as a HelloRetryRequest.
pub(super) const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

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

    /// The server agreed to the extended master secret (RFC 7627, `extended_master_secret`).
    #[must_use]
    pub fn extended_master_secret(&self) -> bool {
        self.extensions.contains(&EXT_EXTENDED_MASTER_SECRET)
    }
}

pub(super) fn parse_server_hello(body: &[u8]) -> Result<ServerHello, WireError> {
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
