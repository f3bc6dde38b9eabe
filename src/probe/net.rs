//! Bounded network I/O shared by every probe: connect with a deadline, run the pre-TLS step of the
//! endpoint's [`Protocol`] (see [`super::starttls`]), count connections, read with byte and time
//! limits. Input: a socket address, a protocol and limits. Output: a stream ready for a ClientHello
//! or a classified [`NetError`] that the evaluator turns into a reachability finding.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::facts::Protocol;

/// Why a connection or read failed, classified for findings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The peer actively refused the TCP connection.
    #[error("connection refused")]
    Refused,
    /// Connect or read did not complete within the deadline.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The peer reset or closed the connection.
    #[error("connection reset by peer")]
    Reset,
    /// The peer sent more than the byte budget allows.
    #[error("peer sent more than {0} bytes")]
    TooLarge(usize),
    /// Any other socket error.
    #[error("socket error: {0}")]
    Io(String),
    /// The peer speaks the pre-TLS protocol and refused TLS; the text says how.
    #[error("{0}")]
    TlsDeclined(String),
    /// The peer's answer to the pre-TLS request is not the protocol's; the text says what came.
    #[error("{0}")]
    Foreign(String),
}

impl NetError {
    fn from_io(err: &std::io::Error, timeout: Duration) -> Self {
        use std::io::ErrorKind;
        match err.kind() {
            ErrorKind::ConnectionRefused => Self::Refused,
            ErrorKind::TimedOut => Self::Timeout(timeout),
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => Self::Reset,
            _ => Self::Io(err.to_string()),
        }
    }
}

/// Dials one endpoint with fixed limits and counts every TCP connection it opens.
#[derive(Debug, Clone)]
pub struct Dialer {
    /// The address every connection goes to.
    pub addr: SocketAddr,
    /// Deadline for a TCP connect and for each whole exchange (send hello, read reply).
    pub timeout: Duration,
    /// Most bytes read from the peer in one exchange.
    pub max_bytes: usize,
    /// What every connection does before its ClientHello.
    pub protocol: Protocol,
    connections: Arc<AtomicU32>,
}

impl Dialer {
    /// A dialer for `addr` with the given deadline and per-exchange byte budget.
    #[must_use]
    pub fn new(addr: SocketAddr, timeout: Duration, max_bytes: usize) -> Self {
        Self {
            addr,
            timeout,
            max_bytes,
            protocol: Protocol::Tls,
            connections: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The same dialer, running `protocol`'s pre-TLS step on every connection.
    #[must_use]
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Number of TCP connections opened so far by this dialer and its clones.
    #[must_use]
    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Opens a TCP connection within the deadline and runs the protocol's pre-TLS step, so the
    /// stream is ready for a ClientHello.
    pub async fn connect(&self) -> Result<TcpStream, NetError> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let mut stream =
            match tokio::time::timeout(self.timeout, TcpStream::connect(self.addr)).await {
                Err(_) => return Err(NetError::Timeout(self.timeout)),
                Ok(Err(err)) => return Err(NetError::from_io(&err, self.timeout)),
                Ok(Ok(stream)) => stream,
            };
        // Small probe writes must leave at once, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        super::starttls::negotiate(self, &mut stream).await?;
        Ok(stream)
    }

    /// Classifies an I/O error seen on a stream of this dialer.
    #[must_use]
    pub fn classify(&self, err: &std::io::Error) -> NetError {
        NetError::from_io(err, self.timeout)
    }
}

impl Dialer {
    /// Reads into `buf` until `done(buf)` says the reply is complete, the peer closes, the byte budget
    /// ([`Dialer::max_bytes`]) is spent or [`Dialer::timeout`] passes. Returns whether `done` was
    /// satisfied; never allocates past the budget.
    pub async fn read_until<F>(
        &self,
        stream: &mut TcpStream,
        buf: &mut Vec<u8>,
        mut done: F,
    ) -> Result<bool, NetError>
    where
        F: FnMut(&[u8]) -> bool,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut chunk = [0u8; 4096];
        loop {
            if done(buf) {
                return Ok(true);
            }
            if buf.len() >= self.max_bytes {
                return Err(NetError::TooLarge(self.max_bytes));
            }
            let want = chunk.len().min(self.max_bytes - buf.len());
            match tokio::time::timeout_at(deadline, stream.read(&mut chunk[..want])).await {
                Err(_) => return Err(NetError::Timeout(self.timeout)),
                Ok(Ok(0)) => return Ok(done(buf)),
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                Ok(Err(err)) => return Err(self.classify(&err)),
            }
        }
    }
}
