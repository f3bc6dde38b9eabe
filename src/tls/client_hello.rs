//! The probe's ClientHello: every version from SSL 3.0 to TLS 1.3, any suite list, and the optional
//! features the raw probes test (SNI, ALPN, fallback SCSV, compression, heartbeat, OCSP stapling,
//! secure renegotiation). Input: a [`ClientHello`]'s fields. Output: one handshake record, or a
//! [`WireError`] when the hello does not fit.

use super::codec::{WireError, put_extension, put_u16, put_u24, put_vec8, put_vec16};
use super::codepoints::{
    CONTENT_HANDSHAKE, EMPTY_RENEGOTIATION_INFO_SCSV, EXT_ALPN, EXT_EC_POINT_FORMATS,
    EXT_EXTENDED_MASTER_SECRET, EXT_HEARTBEAT, EXT_KEY_SHARE, EXT_PADDING, EXT_RENEGOTIATION_INFO,
    EXT_SERVER_NAME, EXT_SIGNATURE_ALGORITHMS, EXT_STATUS_REQUEST, EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS, FALLBACK_SCSV, HS_CLIENT_HELLO, SSL3, TLS1_0, TLS1_2, TLS1_3,
};
use super::key_exchange::GROUP_X25519;

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
    /// `supported_groups` to offer instead of the default list (empty: the default list).
    pub groups: Vec<u16>,
    /// TLS 1.3: send an empty `key_share`, so the server names the group it wants in a
    /// HelloRetryRequest (RFC 8446 4.2.8).
    pub empty_key_share: bool,
    /// `signature_algorithms` to offer instead of the default list (empty: the default list).
    pub signature_schemes: Vec<u16>,
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
            groups: Vec::new(),
            empty_key_share: false,
            signature_schemes: Vec::new(),
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
        let offered = if self.groups.is_empty() {
            GROUPS
        } else {
            &self.groups
        };
        let mut groups = Vec::with_capacity(offered.len() * 2);
        for group in offered {
            put_u16(&mut groups, *group);
        }
        let mut data = Vec::new();
        put_vec16(&mut data, &groups)?;
        put_extension(&mut ext, EXT_SUPPORTED_GROUPS, &data)?;
        put_extension(&mut ext, EXT_EC_POINT_FORMATS, &[1, 0])?;
        if self.version >= TLS1_2 {
            let offered = if self.signature_schemes.is_empty() {
                SIGNATURE_SCHEMES
            } else {
                &self.signature_schemes
            };
            let mut schemes = Vec::with_capacity(offered.len() * 2);
            for scheme in offered {
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
            if !self.empty_key_share {
                put_u16(&mut share, GROUP_X25519);
                put_vec16(&mut share, &self.key_share)?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::codec::Cursor;

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
    fn a_group_probe_hello_offers_its_own_groups_with_an_empty_key_share() {
        let mut hello = ClientHello::new(TLS1_3, vec![0x1301], [1; 32], [0xAB; 32]);
        hello.groups = vec![0x11EC, 0x001D];
        hello.empty_key_share = true;
        let d = decode(&hello.encode().expect("encodes"));
        assert_eq!(
            ext(&d, EXT_SUPPORTED_GROUPS),
            Some(&[0u8, 4, 0x11, 0xEC, 0, 0x1D][..])
        );
        assert_eq!(ext(&d, EXT_KEY_SHARE), Some(&[0u8, 0][..]));
    }

    #[test]
    fn a_sha1_probe_hello_offers_only_its_signature_schemes() {
        let mut hello = ClientHello::new(TLS1_2, vec![0xC02F], [1; 32], [0; 32]);
        hello.signature_schemes = vec![0x0201, 0x0203];
        let d = decode(&hello.encode().expect("encodes"));
        assert_eq!(
            ext(&d, EXT_SIGNATURE_ALGORITHMS),
            Some(&[0u8, 4, 2, 1, 2, 3][..])
        );
        assert!(ext(&d, EXT_EXTENDED_MASTER_SECRET).is_some());
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
}
