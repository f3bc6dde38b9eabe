//! The pre-TLS step every probe connection runs before its ClientHello: nothing for plain TLS, the
//! SSLRequest for PostgreSQL (SMTP and LDAP STARTTLS would be one more arm each). Bounded by the
//! dialer's deadline and by the protocol's reply size. Input: a [`Dialer`] and a fresh TCP stream.
//! Output: the stream positioned for TLS, or a [`NetError`] (`TlsDeclined`, `Foreign`, network).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::net::{Dialer, NetError};
use crate::facts::Protocol;
use crate::tls::starttls::{self, Reply};

/// Runs the dialer's protocol step on `stream`.
pub async fn negotiate(dialer: &Dialer, stream: &mut TcpStream) -> Result<(), NetError> {
    match dialer.protocol {
        Protocol::Tls => Ok(()),
        Protocol::Postgres => postgres(dialer, stream).await,
    }
}

/// Sends the SSLRequest and reads exactly the one-byte answer: bytes after an `S` are the server's
/// TLS, and a server that sends more before the handshake is refused by the TLS layer (the
/// CVE-2021-23222 rule clients follow).
async fn postgres(dialer: &Dialer, stream: &mut TcpStream) -> Result<(), NetError> {
    let mut reply = [0u8; starttls::POSTGRES_REPLY_LEN];
    let exchange = async {
        stream.write_all(&starttls::POSTGRES_SSL_REQUEST).await?;
        stream.read_exact(&mut reply).await
    };
    // Within the per-exchange timeout and the endpoint's overall deadline, like every other step.
    let until = dialer.step_deadline()?;
    match tokio::time::timeout_at(until, exchange).await {
        Err(_) => return Err(dialer.expired(until)),
        // A PostgreSQL server always answers the SSLRequest; a silent close is another protocol.
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(NetError::Foreign(
                "the server closed the connection without answering the PostgreSQL SSLRequest: \
                 not a PostgreSQL server"
                    .to_owned(),
            ));
        }
        Ok(Err(err)) => return Err(dialer.classify(&err)),
        Ok(Ok(_)) => {}
    }
    match starttls::postgres_reply(reply[0]) {
        Reply::Proceed => Ok(()),
        Reply::Declined => Err(NetError::TlsDeclined(
            "the PostgreSQL server answered the SSLRequest with 'N': SSL is off (ssl = off)"
                .to_owned(),
        )),
        Reply::Foreign(what) => Err(NetError::Foreign(what)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A server that accepts and never answers the SSLRequest meets the endpoint's overall
    /// deadline, not one full per-exchange timeout after it.
    #[tokio::test]
    async fn a_silent_postgres_server_ends_at_the_overall_deadline() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
            }
        });
        let dialer = Dialer::new(addr, Duration::from_secs(3600), 1024)
            .with_protocol(Protocol::Postgres)
            .with_deadline(tokio::time::Instant::now(), Duration::from_millis(300));
        // The test's own hang guard (not a benchmark): without the overall deadline this waits 1 h.
        let err = tokio::time::timeout(Duration::from_secs(60), dialer.connect())
            .await
            .expect("the SSLRequest step ended by the overall deadline")
            .unwrap_err();
        assert!(matches!(err, NetError::DeadlineExceeded(_)), "{err:?}");
        assert!(dialer.deadline_exceeded());
        hold.abort();
    }
}
