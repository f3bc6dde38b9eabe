//! The TLS servers of `benches/controller-scale.sh --real`: one rustls server process (a
//! multi-threaded runtime, `--threads` workers) listening on `--listen` (0.0.0.0:8443 inside the
//! bench's private network namespace, where 198.18.0.0/15 is local, so it answers every
//! EndpointSlice address). Its configuration is Mozilla's "intermediate" in rustls terms: TLS 1.2
//! and 1.3, ECDHE with AEAD suites only, X25519/P-256/P-384, h2 and http/1.1, HSTS on `GET /`; the
//! leaf (from a fresh test CA, issued by an intermediate, both served) names `*.scale-NNNN.svc`
//! for every bench namespace. It prints `ready` when it listens and serves until killed.
//!
//! Usage: `cargo run --example scale_servers -- --listen 0.0.0.0:8443 --namespaces 100`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::missing_panics_doc
)]

#[allow(dead_code)]
#[path = "../tests/support/pki.rs"]
mod pki;
#[allow(dead_code)]
#[path = "../tests/support/tls_server.rs"]
mod tls_server;

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use pki::{Hierarchy, Spec};
use tls_server::ClientAuth;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Bench namespaces (scale-0000 …) whose Service names the leaf covers.
    #[arg(long, default_value_t = 100)]
    namespaces: u32,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(serve(&args));
}

async fn serve(args: &Args) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pki = Hierarchy::new();
    let names: Vec<String> = (0..args.namespaces)
        .map(|i| format!("*.scale-{i:04}.svc"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let leaf = pki.leaf(&Spec::leaf(&names));
    let config = tls_server::config(
        vec![leaf.der.clone(), pki.intermediate.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &["h2", "http/1.1"],
    );
    let listener = TcpListener::bind(args.listen)
        .await
        .unwrap_or_else(|e| panic!("bind {}: {e}", args.listen));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    println!("ready");
    while let Ok((tcp, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut buf = [0u8; 4096];
            // One read is enough for the probe's small GET.
            if matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n{HSTS}Connection: close\r\n\r\nok\n"
                );
                let _ = tls.write_all(response.as_bytes()).await;
            }
            let _ = tls.shutdown().await;
        });
    }
}
