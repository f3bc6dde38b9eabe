//! Pre-TLS negotiation bytes: what a client sends before its ClientHello when an application
//! protocol opens TLS inside its own plaintext exchange, and how the server's answer reads. Today
//! PostgreSQL's SSLRequest; SMTP and LDAP STARTTLS fit the same shape (a request, a bounded reply,
//! a verdict). Input: the reply bytes. Output: a [`Reply`].
//!
//! PostgreSQL (protocol docs, "Message Flow" → "SSL Session Encryption",
//! <https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL>): the client sends
//! an SSLRequest; "the server then responds with a single byte containing `S` or `N`, indicating that
//! it is willing or unwilling to perform SSL, respectively". A server predating SSL support answers
//! with an ErrorResponse (`E`), whose text a client must not trust or show, since no server has been
//! authenticated yet.

/// The SSLRequest message: Int32 length 8, then Int32 code 80877103 (`1234 << 16 | 5679`).
pub const POSTGRES_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F];

/// Bytes of the PostgreSQL answer to an SSLRequest: exactly one; what follows an `S` is TLS.
pub const POSTGRES_REPLY_LEN: usize = 1;

/// The server's answer to a pre-TLS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Go on with the TLS handshake.
    Proceed,
    /// The server speaks the protocol and refuses TLS.
    Declined,
    /// The answer is not one the protocol allows; the text describes it (never the peer's words).
    Foreign(String),
}

/// Reads PostgreSQL's one-byte answer to an SSLRequest.
#[must_use]
pub fn postgres_reply(byte: u8) -> Reply {
    match byte {
        b'S' => Reply::Proceed,
        b'N' => Reply::Declined,
        // The ErrorResponse text is unauthenticated: name the message type only.
        b'E' => Reply::Foreign(
            "the server answered the PostgreSQL SSLRequest with an ErrorResponse ('E'): it predates \
             SSL support or is not PostgreSQL"
                .to_owned(),
        ),
        other => Reply::Foreign(format!(
            "the server answered the PostgreSQL SSLRequest with byte 0x{other:02x}, not 'S' or 'N': \
             not a PostgreSQL server"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ssl_request_is_length_eight_and_code_80877103() {
        assert_eq!(POSTGRES_SSL_REQUEST[..4], 8u32.to_be_bytes());
        assert_eq!(POSTGRES_SSL_REQUEST[4..], 80_877_103u32.to_be_bytes());
    }

    #[test]
    fn s_proceeds_n_declines_and_anything_else_is_foreign() {
        assert_eq!(postgres_reply(b'S'), Reply::Proceed);
        assert_eq!(postgres_reply(b'N'), Reply::Declined);
        assert!(matches!(postgres_reply(b'E'), Reply::Foreign(m) if m.contains("ErrorResponse")));
        // A TLS server answers the 8 bytes with an alert record (content type 21).
        assert!(matches!(postgres_reply(0x15), Reply::Foreign(m) if m.contains("0x15")));
    }
}
