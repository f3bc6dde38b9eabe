//! Hostile TLS peers for the hang, panic and size tests: hand-built raw servers on 127.0.0.1 that
//! answer a ClientHello and then stall, announce a megabyte certificate, or record the SNI of
//! every hello; and certificates with dates no CA would issue.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A hostile server task bound to 127.0.0.1; aborted (with its connections) on drop.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fields of a ClientHello the hostile servers look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// legacy_version.
    pub version: u16,
    /// Offered suites, in order.
    pub suites: Vec<u16>,
    /// The SNI host name, if one was sent.
    pub sni: Option<String>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Parses the ClientHello in the first handshake record of `record` (header included).
pub fn parse_hello(record: &[u8]) -> Option<Hello> {
    let body = record.get(9..)?;
    let version = u16_at(body, 0)?;
    let mut at = 34;
    at += 1 + usize::from(*body.get(at)?);
    let suites_len = usize::from(u16_at(body, at)?);
    let suites = body
        .get(at + 2..at + 2 + suites_len)?
        .chunks(2)
        .filter_map(|c| u16_at(c, 0))
        .collect();
    at += 2 + suites_len;
    at += 1 + usize::from(*body.get(at)?);
    let mut sni = None;
    if let Some(ext_len) = u16_at(body, at) {
        let exts = body.get(at + 2..at + 2 + usize::from(ext_len))?;
        let mut i = 0;
        while let (Some(kind), Some(len)) = (u16_at(exts, i), u16_at(exts, i + 2)) {
            let data = exts.get(i + 4..i + 4 + usize::from(len))?;
            if kind == 0 {
                let name_len = usize::from(u16_at(data, 3)?);
                sni = Some(String::from_utf8_lossy(data.get(5..5 + name_len)?).into_owned());
            }
            i += 4 + usize::from(len);
        }
    }
    Some(Hello {
        version,
        suites,
        sni,
    })
}

/// Reads one whole TLS record (the ClientHello) from `tcp`.
pub async fn read_hello(tcp: &mut TcpStream) -> Option<Hello> {
    let mut record = vec![0u8; 5];
    tcp.read_exact(&mut record).await.ok()?;
    let len = usize::from(u16_at(&record, 3)?);
    record.resize(5 + len, 0);
    tcp.read_exact(&mut record[5..]).await.ok()?;
    parse_hello(&record)
}

fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut out = vec![kind, len[1], len[2], len[3]];
    out.extend_from_slice(body);
    out
}

fn record(content: u8, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![content];
    out.extend(version.to_be_bytes());
    out.extend(u16::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A ServerHello record of `version` choosing `suite`, with an empty renegotiation_info.
pub fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend([0x5a; 32]);
    body.push(0);
    body.extend(suite.to_be_bytes());
    body.push(0);
    body.extend([0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00]);
    record(22, version, &handshake_message(2, &body))
}

/// A fatal alert record.
pub fn alert(description: u8) -> Vec<u8> {
    record(21, 0x0303, &[2, description])
}

/// Serves each connection with `serve` on 127.0.0.1; the task (and every connection) ends when
/// the returned server is dropped.
pub async fn start<F, Fut>(serve: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            connections.spawn(serve(tcp));
        }
    });
    Server { addr, task }
}

/// TLS 1.2 suites with forward secrecy and AEAD, not anonymous: a server choosing only these
/// raises no cipher finding, however many rounds the probe manages.
pub fn strong_tls12(id: u16) -> bool {
    tlsaudit::tls::suites::lookup(id).is_some_and(|s| {
        s.forward_secret() && s.aead() && !s.is_anon() && !s.is_null() && !s.tls13()
    })
}

/// Answers every TLS 1.2 ClientHello with a ServerHello for the first strong suite offered, then
/// stalls with the connection open; other versions get a protocol_version alert.
pub async fn stalling_server() -> Server {
    start(|mut tcp| async move {
        let Some(hello) = read_hello(&mut tcp).await else {
            return;
        };
        let pick = hello.suites.iter().copied().find(|id| strong_tls12(*id));
        let reply = match pick {
            Some(suite) if hello.version == 0x0303 => server_hello(0x0303, suite),
            Some(_) => alert(70),
            None => alert(40),
        };
        let _ = tcp.write_all(&reply).await;
        // Stall: hold the socket until the client gives up.
        let mut sink = [0u8; 1024];
        while let Ok(n) = tcp.read(&mut sink).await {
            if n == 0 {
                return;
            }
        }
    })
    .await
}

/// Answers every ClientHello with a TLS 1.2 ServerHello and a Certificate message announcing
/// `len` bytes, then sends them (in 16 KiB records) as long as the client reads.
pub async fn huge_certificate_server(len: usize) -> Server {
    start(move |mut tcp| async move {
        if read_hello(&mut tcp).await.is_none() {
            return;
        }
        let mut first = server_hello(0x0303, 0xc02f);
        // Certificate: handshake length, certificate_list length, then one entry's length; the
        // entry's `len` bytes follow in further records.
        let mut start = vec![11];
        for n in [len + 6, len + 3, len] {
            start.extend_from_slice(&u32::try_from(n).unwrap().to_be_bytes()[1..]);
        }
        first.extend(record(22, 0x0303, &start));
        if tcp.write_all(&first).await.is_err() {
            return;
        }
        let chunk = vec![0x30; 16 * 1024];
        let mut sent = 0;
        while sent < len {
            let n = chunk.len().min(len - sent);
            if tcp
                .write_all(&record(22, 0x0303, &chunk[..n]))
                .await
                .is_err()
            {
                return;
            }
            sent += n;
        }
        let mut sink = [0u8; 64];
        let _ = tcp.read(&mut sink).await;
    })
    .await
}

/// Records the legacy version and SNI of every ClientHello and answers handshake_failure.
pub async fn sni_recorder() -> (Server, Arc<Mutex<Vec<(u16, Option<String>)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = start(move |mut tcp| {
        let log = Arc::clone(&log);
        async move {
            if let Some(hello) = read_hello(&mut tcp).await {
                log.lock().unwrap().push((hello.version, hello.sni));
            }
            let _ = tcp.write_all(&alert(40)).await;
        }
    })
    .await;
    (server, seen)
}

/// A trust anchor and a leaf for `name` valid exactly from `not_before` to `not_after` (which
/// may be inverted, or one second apart).
pub struct Dated {
    /// The root, to trust.
    pub root: CertificateDer<'static>,
    /// The leaf.
    pub leaf: CertificateDer<'static>,
    /// The leaf's key.
    pub key: PrivateKeyDer<'static>,
}

/// Issues a [`Dated`] leaf.
pub fn dated_leaf(name: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Dated {
    let now = OffsetDateTime::now_utc();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "tlsaudit hostile root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.not_before = now - time::Duration::days(30);
    ca.not_after = now + time::Duration::days(365);
    let ca_key = KeyPair::generate().unwrap();
    let root = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().unwrap();
    let leaf = params.signed_by(&key, &issuer).unwrap();
    Dated {
        root: root.der().clone(),
        leaf: leaf.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// Answers every ClientHello with a TLS 1.2 ServerHello and a Certificate message whose list
/// length claims more bytes than the message holds.
pub async fn malformed_certificate_server() -> Server {
    start(|mut tcp| async move {
        if read_hello(&mut tcp).await.is_none() {
            return;
        }
        let mut flight = server_hello(0x0303, 0xc02f);
        flight.extend(record(22, 0x0303, &handshake_message(11, &[0, 0, 0x10, 0])));
        let _ = tcp.write_all(&flight).await;
        let mut sink = [0u8; 64];
        let _ = tcp.read(&mut sink).await;
    })
    .await
}
