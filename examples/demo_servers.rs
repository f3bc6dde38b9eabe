//! TLS servers with typical faults for scripts/demo.sh: one rustls server per port from
//! `--port-base`, each with a certificate from a fresh demo CA (written to `--out`), until killed.
//!
//! | port      | service  | what is wrong                                                  |
//! |-----------|----------|----------------------------------------------------------------|
//! | base + 0  | web (1)  | nothing: full chain, TLS 1.2/1.3, HSTS, h2                       |
//! | base + 1  | web (2)  | a stale replica: another leaf, expiring in 10 days             |
//! | base + 2  | billing  | expired certificate                                            |
//! | base + 3  | orders   | intermediate missing from the served chain                     |
//! | base + 4  | search   | certificate for another name                                   |
//! | base + 5  | vault    | requires a client certificate                                  |
//! | base + 7  | printer  | self-signed certificate (an explicit endpoint in the audit)    |
//!
//! base + 6 is left for the TLS 1.0-only `openssl s_server` that demo.sh starts with
//! `legacy.crt`, `legacy-chain.crt` and `legacy.key` from `--out`; `web.crt` and `web.key` there are
//! the current web certificate, which demo.sh puts in the Secret of a cert-manager Certificate.
//!
//! Usage: `cargo run --example demo_servers -- --namespace tlsaudit-demo --listen 0.0.0.0
//! --port-base 18440 --out DIR` (prints `ready` when every server listens).

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

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use pki::{Hierarchy, Issued, Spec};
use tls_server::ClientAuth;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

#[derive(Parser)]
struct Args {
    /// Namespace whose Service names the certificates carry.
    #[arg(long, default_value = "tlsaudit-demo")]
    namespace: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// First port.
    #[arg(long, default_value_t = 18440)]
    port_base: u16,
    /// Directory for ca.crt, legacy.crt, legacy-chain.crt, legacy.key, db.crt, db.key, web.crt and
    /// web.key.
    #[arg(long)]
    out: PathBuf,
}

/// Serves TLS on `addr` and answers each request with a 200 and HSTS, until the process ends.
async fn serve(addr: SocketAddr, chain: Vec<&Issued>, key: &Issued, auth: ClientAuth) {
    let config = tls_server::config(
        chain.iter().map(|c| c.der.clone()).collect(),
        key.key_der(),
        auth,
        &["h2", "http/1.1"],
    );
    let listener = TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
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
    });
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pki = Hierarchy::new();
    let name = |svc: &str| format!("{svc}.{}.svc", args.namespace);
    let at = |offset: u16| SocketAddr::new(args.listen, args.port_base + offset);
    let int = &pki.intermediate;

    let web = pki.leaf(&Spec::leaf(&[&name("web")]));
    let stale = pki.leaf(&Spec::leaf(&[&name("web")]).valid(-80, 10));
    let expired = pki.leaf(&Spec::leaf(&[&name("billing")]).valid(-100, -3));
    let orders = pki.leaf(&Spec::leaf(&[&name("orders")]));
    let search = pki.leaf(&Spec::leaf(&["other.example.com"]));
    let vault = pki.leaf(&Spec::leaf(&[&name("vault")]));
    let legacy = pki.leaf(&Spec::leaf(&[&name("legacy")]));
    // For the PostgreSQL server demo.sh starts itself (db.crt with its chain, db.key).
    let db = pki.leaf(&Spec::leaf(&[&name("db")]));
    let printer = Spec::leaf(&["printer.infra.example"]).self_signed();
    let client_ca = Spec::ca("demo client ca").self_signed();
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots
        .add(client_ca.der.clone())
        .expect("client root");

    serve(at(0), vec![&web, int], &web, ClientAuth::None).await;
    serve(at(1), vec![&stale, int], &stale, ClientAuth::None).await;
    serve(at(2), vec![&expired, int], &expired, ClientAuth::None).await;
    serve(at(3), vec![&orders], &orders, ClientAuth::None).await;
    serve(at(4), vec![&search, int], &search, ClientAuth::None).await;
    serve(
        at(5),
        vec![&vault, int],
        &vault,
        ClientAuth::Required(client_roots),
    )
    .await;
    serve(at(7), vec![&printer], &printer, ClientAuth::None).await;
    std::fs::create_dir_all(&args.out).expect("create --out");
    let write =
        |file: &str, text: &str| std::fs::write(args.out.join(file), text).expect("write PEM");
    write("ca.crt", &pki.root.pem);
    write("legacy.crt", &legacy.pem);
    write("legacy-chain.crt", &pki.intermediate.pem);
    write("legacy.key", &legacy.key_pem());
    write("db.crt", &format!("{}{}", db.pem, pki.intermediate.pem));
    write("db.key", &db.key_pem());
    // The current web certificate: the Secret of the demo's cert-manager Certificate and of the
    // Gateway's listener (the stale replica, which the listener serves, has an older one).
    write("web.crt", &web.pem);
    write("web.key", &web.key_pem());
    println!("ready");
    let _ = tokio::signal::ctrl_c().await;
}
