//! In-process rustls servers on 127.0.0.1 for probe tests: chosen chain, SNI-dependent certificates,
//! ALPN, client-certificate demands, and a tiny HTTP responder (for HSTS). Plus plain TCP servers
//! that are silent, answer HTTP or send garbage.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ResolvesServerCertUsingSni, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server task bound to 127.0.0.1; aborted on drop.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Client-certificate policy of a test server.
pub enum ClientAuth {
    /// No CertificateRequest.
    None,
    /// Request, accept none.
    Optional(RootCertStore),
    /// Require one from these roots.
    Required(RootCertStore),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A server config serving `chain` with `key`.
pub fn config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: ClientAuth,
    alpn: &[&str],
) -> ServerConfig {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions");
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .allow_unauthenticated()
                .build()
                .expect("client verifier"),
        ),
        ClientAuth::Required(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .expect("client verifier"),
        ),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .expect("server certificate");
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config
}

/// A server config that picks the certificate by SNI, with `default` for unknown or missing SNI.
pub fn sni_config(
    by_name: Vec<(&str, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    default: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
) -> ServerConfig {
    #[derive(Debug)]
    struct WithDefault(ResolvesServerCertUsingSni, Arc<CertifiedKey>);
    impl rustls::server::ResolvesServerCert for WithDefault {
        fn resolve(&self, hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            if hello.server_name().is_none() {
                return Some(self.1.clone());
            }
            self.0.resolve(hello).or_else(|| Some(self.1.clone()))
        }
    }
    let provider = provider();
    let certified = |chain, key: PrivateKeyDer<'static>| {
        let signing = provider
            .key_provider
            .load_private_key(key)
            .expect("load key");
        CertifiedKey::new(chain, signing)
    };
    let mut sni = ResolvesServerCertUsingSni::new();
    for (name, chain, key) in by_name {
        sni.add(name, certified(chain, key))
            .expect("add SNI certificate");
    }
    let default = Arc::new(certified(default.0, default.1));
    ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(WithDefault(sni, default)))
}

/// Serves TLS with `config`; answers any request with a 200 carrying `headers`.
pub async fn start(config: ServerConfig, headers: &'static str) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{headers}Connection: close\r\n\r\nok"
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Server { addr, task }
}

/// Serves TLS with `config` and answers every request with exactly `response`; then closes the
/// connection, or with `hold` keeps it open without sending more (a head still arriving).
pub async fn start_responding(config: ServerConfig, response: Vec<u8>, hold: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let response = Arc::new(response);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, response) = (acceptor.clone(), response.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls.write_all(&response).await;
                let _ = tls.flush().await;
                if hold {
                    // Keep the connection (and the head) open until the client gives up.
                    let _ = tls.read(&mut buf).await;
                } else {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    Server { addr, task }
}

/// What a plain TCP test server does with each connection.
#[derive(Clone, Copy)]
pub enum Plain {
    /// Accept and never send anything.
    Silent,
    /// Answer like an HTTP server.
    Http,
    /// Send bytes that are not TLS.
    Garbage,
    /// Send a TLS record header claiming a huge record, then nothing.
    HugeRecord,
    /// Close immediately.
    Close,
    /// Answer every hello with a TLS 1.2 ServerHello and a Certificate message whose certificate
    /// is not X.509.
    BadCertificate,
}

/// ServerHello (TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, renegotiation_info) + Certificate
/// (one entry: "not a certificate") + ServerHelloDone, in one handshake record.
fn bad_certificate_flight() -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    hello.extend([0x11; 32]);
    hello.extend([
        0x00, 0xc0, 0x2f, 0x00, 0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00,
    ]);
    let garbage = b"not a certificate";
    let mut list = vec![0x00, 0x00, garbage.len() as u8];
    list.extend(garbage);
    let mut certificate = vec![0x00, 0x00, list.len() as u8];
    certificate.extend(list);
    let mut messages = Vec::new();
    for (kind, body) in [(0x02u8, hello), (0x0b, certificate), (0x0e, Vec::new())] {
        messages.push(kind);
        messages.extend([0x00, 0x00, body.len() as u8]);
        messages.extend(body);
    }
    let mut record = vec![0x16, 0x03, 0x03, 0x00, messages.len() as u8];
    record.extend(messages);
    record
}

/// A plain TCP server on 127.0.0.1.
pub async fn start_plain(kind: Plain) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 1024];
            match kind {
                Plain::Silent => held.push(tcp),
                Plain::Http => {
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp
                        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        .await;
                }
                Plain::Garbage => {
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp
                        .write_all(&[0x17, 0x99, 0x42, 0xff, 0x00, 0x13, 0x37, 0x01])
                        .await;
                    held.push(tcp);
                }
                Plain::HugeRecord => {
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp.write_all(&[0x16, 0x03, 0x03, 0xff, 0xff, 0x02]).await;
                    held.push(tcp);
                }
                Plain::Close => drop(tcp),
                Plain::BadCertificate => {
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp.write_all(&bad_certificate_flight()).await;
                    held.push(tcp);
                }
            }
        }
    });
    Server { addr, task }
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}
