//! The record layer of a server's reply, read incrementally: records are deframed, handshake
//! messages reassembled across records, and the TLS ≤ 1.2 flight collected up to ServerHelloDone.
//! Input: every byte received so far, possibly cut at any point. Output: a [`ServerFlight`]
//! (ServerHello, certificates, OCSP staple, ServerKeyExchange, CertificateRequest, alert) — or a
//! [`WireError`], never a panic, and never an allocation larger than the bytes actually received.

use super::alert::Alert;
use super::codec::{Cursor, WireError};
use super::codepoints::{
    CONTENT_ALERT, CONTENT_APPLICATION_DATA, CONTENT_CHANGE_CIPHER_SPEC, CONTENT_HANDSHAKE,
    CONTENT_HEARTBEAT, HS_CERTIFICATE, HS_CERTIFICATE_REQUEST, HS_CERTIFICATE_STATUS,
    HS_HELLO_REQUEST, HS_SERVER_HELLO, HS_SERVER_HELLO_DONE, HS_SERVER_KEY_EXCHANGE, TLS1_3,
};
use super::server_hello::{ServerHello, parse_server_hello};

/// Largest record payload accepted (TLSCiphertext limit, 2^14 + 2048).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Largest handshake message accepted; a certificate chain beyond this is not worth reading.
pub const MAX_HANDSHAKE_LEN: usize = 1 << 17;

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
mod tests {
    use super::*;
    use crate::tls::codepoints::{
        EXT_ALPN, EXT_EC_POINT_FORMATS, EXT_HEARTBEAT, EXT_KEY_SHARE, EXT_RENEGOTIATION_INFO,
        EXT_STATUS_REQUEST, EXT_SUPPORTED_VERSIONS, TLS1_2,
    };
    use crate::tls::key_exchange::GROUP_X25519;
    use crate::tls::server_hello::HELLO_RETRY_RANDOM;

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
