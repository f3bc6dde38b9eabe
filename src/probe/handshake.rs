//! Validated-client handshakes with rustls (TLS 1.2/1.3). A recording verifier keeps the served chain
//! and OCSP staple and lets the handshake finish, so facts survive a failed verification; the chain is
//! judged afterwards by `cert::verify_chain`. Input: a [`Dialer`] and what to offer. Output:
//! [`Outcome`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, InvalidMessage, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use super::ClientIdentity;
use super::net::{Dialer, NetError};
use crate::facts::{Failure, FailureKind, Negotiated, TlsVersion};
use crate::tls::alert::alert_name;
use crate::tls::suites;

/// What the server did in one handshake.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The served chain, leaf first (recorded even when the handshake failed later).
    pub chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response (empty when none).
    pub ocsp: Vec<u8>,
    /// The handshake's parameters when it completed.
    pub negotiated: Option<Negotiated>,
    /// The server sent a CertificateRequest.
    pub client_auth_requested: bool,
    /// Why the handshake (or the first read after it) failed.
    pub failure: Option<Failure>,
    /// What `GET /` got back, when the response began like HTTP.
    pub http: Option<HttpAnswer>,
    /// `GET /` was asked for but not sent, because ALPN selected h2 (the request is HTTP/1.1).
    pub http_skipped_h2: bool,
}

/// The head of the response to `GET /`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code of the status line, when it parses.
    pub status: Option<u16>,
    /// `max-age` of the first Strict-Transport-Security header (saturated at `u64::MAX`).
    pub hsts_max_age: Option<u64>,
    /// Why the head was not read whole: `too_large`, `timeout` or `closed`.
    pub incomplete: Option<&'static str>,
}

/// What to offer in a handshake.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    /// SNI to send; `None` sends none.
    pub sni: Option<String>,
    /// ALPN protocols to offer.
    pub alpn: Vec<Vec<u8>>,
    /// Client identity to present when asked.
    pub identity: Option<Arc<ClientIdentity>>,
    /// After the handshake, send `GET /` and read the response head (HSTS).
    pub http_host: Option<String>,
}

#[derive(Debug, Default)]
struct Recorded {
    chain: Vec<CertificateDer<'static>>,
    ocsp: Vec<u8>,
    client_auth_requested: bool,
}

type Shared = Arc<Mutex<Recorded>>;

fn with<T>(shared: &Shared, f: impl FnOnce(&mut Recorded) -> T) -> T {
    f(&mut shared.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Accepts every chain after recording it: the audit judges the chain itself, and this client sends
/// no secret that a forged server could use.
#[derive(Debug)]
struct RecordingVerifier {
    recorded: Shared,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        with(&self.recorded, |r| {
            r.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            r.ocsp = ocsp_response.to_vec();
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// Notes that the server asked for a client certificate, and presents the identity if there is one.
#[derive(Debug)]
struct RecordingResolver {
    recorded: Shared,
    key: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        with(&self.recorded, |r| r.client_auth_requested = true);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn config(offer: &Offer, recorded: &Shared) -> Result<ClientConfig, rustls::Error> {
    let provider = provider();
    let key = match &offer.identity {
        Some(identity) => {
            let signing = provider
                .key_provider
                .load_private_key(identity.key.clone_key())?;
            Some(Arc::new(CertifiedKey::new(identity.chain.clone(), signing)))
        }
        None => None,
    };
    let schemes = provider
        .signature_verification_algorithms
        .supported_schemes();
    let verifier = RecordingVerifier {
        recorded: recorded.clone(),
        schemes,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(RecordingResolver {
            recorded: recorded.clone(),
            key,
        }));
    config.alpn_protocols.clone_from(&offer.alpn);
    config.enable_sni = offer.sni.is_some();
    Ok(config)
}

/// Runs one handshake (and the optional HTTP request) against the dialer's address.
pub async fn handshake(dialer: &Dialer, offer: &Offer, verify_name: &str) -> Outcome {
    let recorded: Shared = Arc::default();
    let mut outcome = Outcome::default();
    let failure = run(dialer, offer, verify_name, &recorded, &mut outcome)
        .await
        .err();
    outcome.failure = failure;
    with(&recorded, |r| {
        outcome.chain = std::mem::take(&mut r.chain);
        outcome.ocsp = std::mem::take(&mut r.ocsp);
        outcome.client_auth_requested = r.client_auth_requested;
    });
    outcome
}

async fn run(
    dialer: &Dialer,
    offer: &Offer,
    verify_name: &str,
    recorded: &Shared,
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    let config = config(offer, recorded)
        .map_err(|e| failure(FailureKind::Handshake, None, e.to_string()))?;
    // With SNI off rustls still needs a name; it is not sent. The probe validated both names
    // before dialling, so the raw hellos and this handshake send the same SNI, or none.
    let name = offer.sni.as_deref().unwrap_or(verify_name);
    let server_name = ServerName::try_from(name.to_owned()).map_err(|e| {
        failure(
            FailureKind::InvalidTarget,
            None,
            format!("invalid server name {name:?}: {e}"),
        )
    })?;
    let tcp = dialer.connect().await.map_err(|e| net_failure(&e))?;
    let connector = TlsConnector::from(Arc::new(config));
    let until = dialer.step_deadline().map_err(|e| net_failure(&e))?;
    let mut tls = match tokio::time::timeout_at(until, connector.connect(server_name, tcp)).await {
        Err(_) => return Err(net_failure(&dialer.expired(until))),
        Ok(Err(err)) => return Err(io_failure(dialer, &err)),
        Ok(Ok(tls)) => tls,
    };
    let (_, conn) = tls.get_ref();
    outcome.negotiated = negotiated(conn);
    let client_auth_requested = with(recorded, |r| r.client_auth_requested);
    let h2 = outcome.negotiated.as_ref().and_then(|n| n.alpn.as_deref()) == Some("h2");
    outcome.http_skipped_h2 = offer.http_host.is_some() && h2;
    if let Some(host) = offer.http_host.as_ref().filter(|_| !h2) {
        let (http, err) = http_head(dialer, &mut tls, host).await;
        outcome.http = http;
        if let Some(err) = err {
            return Err(err);
        }
    } else if client_auth_requested {
        // TLS 1.3 servers judge the client certificate after the handshake: wait briefly for an alert.
        let mut byte = [0u8; 1];
        let settle = dialer.timeout.min(Duration::from_millis(300));
        if let Ok(Err(err)) = tokio::time::timeout(settle, tls.read(&mut byte)).await {
            return Err(io_failure(dialer, &err));
        }
    }
    Ok(())
}

fn negotiated(conn: &rustls::ClientConnection) -> Option<Negotiated> {
    let version = match conn.protocol_version()? {
        rustls::ProtocolVersion::TLSv1_3 => TlsVersion::Tls13,
        _ => TlsVersion::Tls12,
    };
    let suite = conn.negotiated_cipher_suite()?.suite();
    Some(Negotiated {
        version,
        cipher: suites::name(u16::from(suite)),
        group: conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name())),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    })
}

/// Most bytes of a response head read; a longer head is judged on this much (`too_large`).
pub const MAX_HTTP_HEAD: usize = 16 * 1024;

/// Sends `GET /` and reads the response head; returns (HTTP facts, a failure such as a post-handshake
/// alert). A peer that does not speak HTTP is not a failure.
async fn http_head<S>(
    dialer: &Dialer,
    tls: &mut S,
    host: &str,
) -> (Option<HttpAnswer>, Option<Failure>)
where
    S: AsyncReadExt + AsyncWriteExt + Unpin,
{
    const MAX_HEAD: usize = MAX_HTTP_HEAD;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tlsaudit\r\nConnection: close\r\n\r\n"
    );
    // Within the per-exchange timeout and the endpoint's overall deadline.
    let deadline = match dialer.step_deadline() {
        Ok(deadline) => deadline,
        Err(err) => return (None, Some(net_failure(&err))),
    };
    // tokio-rustls may hold the encrypted request in its buffer when the socket is not writable at
    // once (or the task's I/O budget is spent): flush, or both sides wait for each other.
    let send = async {
        tls.write_all(request.as_bytes()).await?;
        tls.flush().await
    };
    match tokio::time::timeout_at(deadline, send).await {
        Err(_) => return (None, Some(net_failure(&dialer.expired(deadline)))),
        Ok(Err(err)) => return (None, Some(io_failure(dialer, &err))),
        Ok(Ok(())) => {}
    }
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    let mut incomplete = None;
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            incomplete = Some("too_large");
            break;
        }
        match tokio::time::timeout_at(deadline, tls.read(&mut chunk)).await {
            Err(_) => {
                // Notes an overall deadline that ended the read: the facts are incomplete.
                let _ended = dialer.expired(deadline);
                incomplete = Some("timeout");
                break;
            }
            Ok(Ok(0)) => {
                incomplete = Some("closed");
                break;
            }
            Ok(Ok(n)) => head.extend_from_slice(&chunk[..n.min(MAX_HEAD - head.len())]),
            Ok(Err(err)) => {
                let failure = io_failure(dialer, &err);
                // A TLS alert after the handshake is a finding; a plain close is not.
                return (None, failure.alert.is_some().then_some(failure));
            }
        }
    }
    if !head.starts_with(b"HTTP/") {
        return (None, None);
    }
    (Some(read_head(&head, incomplete)), None)
}

/// Judges a response head, whole or cut short (`incomplete` says why): the status code and HSTS.
#[must_use]
pub fn read_head(head: &[u8], incomplete: Option<&'static str>) -> HttpAnswer {
    let text = String::from_utf8_lossy(head);
    // Only complete lines count: a header cut at the limit must not yield a truncated max-age.
    let whole = match (incomplete, text.rfind('\n')) {
        (Some(_), Some(end)) => &text[..=end],
        (Some(_), None) => "",
        (None, _) => &text,
    };
    let status = whole
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok());
    HttpAnswer {
        status,
        hsts_max_age: hsts_max_age(whole),
        incomplete,
    }
}

/// `max-age` of the first Strict-Transport-Security header in an HTTP response head.
#[must_use]
pub fn hsts_max_age(head: &str) -> Option<u64> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name
            .trim()
            .eq_ignore_ascii_case("strict-transport-security")
        {
            return None;
        }
        value.split(';').find_map(|directive| {
            let (key, v) = directive.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| saturating_seconds(v.trim().trim_matches('"')))?
        })
    })
}

/// Delta-seconds (RFC 6797 6.1.1: `1*DIGIT`); a value beyond `u64` saturates, as RFC 9111 1.2.2
/// asks of delta-seconds, instead of reading as no header at all.
fn saturating_seconds(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

fn failure(kind: FailureKind, alert: Option<&str>, detail: String) -> Failure {
    Failure {
        kind,
        alert: alert.map(str::to_owned),
        detail,
    }
}

/// Classifies a connect-level error.
#[must_use]
pub fn net_failure(err: &NetError) -> Failure {
    let kind = match err {
        NetError::Refused => FailureKind::Refused,
        NetError::Timeout(_) | NetError::DeadlineExceeded(_) => FailureKind::Timeout,
        NetError::Reset => FailureKind::Reset,
        NetError::TooLarge(_) => FailureKind::Oversized,
        NetError::Foreign(_) => FailureKind::NotTls,
        NetError::Io(_) => FailureKind::Unreachable,
        NetError::TlsDeclined(_) => FailureKind::TlsDeclined,
    };
    failure(kind, None, err.to_string())
}

fn io_failure(dialer: &Dialer, err: &std::io::Error) -> Failure {
    let Some(tls_err) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return net_failure(&dialer.classify(err));
    };
    match tls_err {
        rustls::Error::AlertReceived(alert) => {
            let name = alert_name(u8::from(*alert));
            failure(
                FailureKind::Handshake,
                Some(name),
                format!("server sent alert {name}"),
            )
        }
        rustls::Error::InvalidMessage(
            InvalidMessage::HandshakePayloadTooLarge | InvalidMessage::CertificatePayloadTooLarge,
        ) => failure(
            FailureKind::Oversized,
            None,
            format!("handshake message over the 64 KiB that clients accept: {tls_err}"),
        ),
        rustls::Error::InvalidMessage(_) if !matches!(dialer.classify(err), NetError::Reset) => {
            failure(
                FailureKind::NotTls,
                None,
                format!("not a TLS reply: {tls_err}"),
            )
        }
        other => failure(FailureKind::Handshake, None, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_max_age_is_read_case_insensitively() {
        let head = "HTTP/1.1 200 OK\r\nstrict-transport-security: max-age=31536000; includeSubDomains\r\n\r\n";
        assert_eq!(hsts_max_age(head), Some(31_536_000));
        assert_eq!(hsts_max_age("HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(
            hsts_max_age("HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=\"60\"\r\n"),
            Some(60)
        );
    }

    #[test]
    fn a_max_age_beyond_u64_saturates_instead_of_vanishing() {
        let head =
            "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=99999999999999999999999\r\n\r\n";
        assert_eq!(hsts_max_age(head), Some(u64::MAX));
        assert_eq!(
            hsts_max_age("HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=-1\r\n"),
            None
        );
    }

    #[test]
    fn a_cut_head_is_judged_on_its_complete_lines_only() {
        let head = b"HTTP/1.1 200 OK\r\nX-Pad: aaaa\r\nStrict-Transport-Security: max-age=3153";
        let answer = read_head(head, Some("too_large"));
        assert_eq!(answer.status, Some(200));
        assert_eq!(answer.hsts_max_age, None);
        assert_eq!(answer.incomplete, Some("too_large"));
        let whole = read_head(b"HTTP/1.1 400 Bad Request\r\n\r\n", None);
        assert_eq!((whole.status, whole.incomplete), (Some(400), None));
    }
}
