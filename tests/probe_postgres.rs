//! PostgreSQL endpoints: the whole engine (raw hellos and rustls handshakes, each after an
//! SSLRequest) against a real PostgreSQL from Debian's `postgresql` package, started by the test on
//! 127.0.0.1 with a weak TLS configuration; a cluster with `ssl = off`; a TLS server probed as
//! PostgreSQL; and `tlsaudit scan --protocol postgres`. Exact codes asserted.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use support::openssl::{OpensslServer, Pki};
use support::postgres::PostgresServer;
use tlsaudit::facts::{FailureKind, TlsVersion};
use tlsaudit::findings::Severity;
use tlsaudit::grade::Grade;
use tlsaudit::policy::Policy;
use tlsaudit::probe::{ProbeOptions, Protocol, Target};
use tlsaudit::report::EndpointReport;

async fn audit(addr: SocketAddr, ca: Option<&Pki>, protocol: Protocol) -> EndpointReport {
    let pems: Vec<Vec<u8>> = ca
        .map(|pki| std::fs::read(&pki.ca_cert).expect("read CA"))
        .into_iter()
        .collect();
    let refs: Vec<&[u8]> = pems.iter().map(Vec::as_slice).collect();
    let roots = tlsaudit::cert::root_store(false, &refs).expect("roots");
    let options = ProbeOptions {
        timeout: Duration::from_secs(3),
        roots: Arc::new(roots),
        ..ProbeOptions::default()
    };
    let target = Target {
        host: "localhost".into(),
        port: addr.port(),
        address: Some(addr),
        server_name: Some("localhost".into()),
        protocol,
    };
    let facts = tlsaudit::probe::probe(&target, &options).await;
    EndpointReport::assemble(&target, facts, &Policy::default(), jiff::Timestamp::now())
}

fn codes(report: &EndpointReport) -> BTreeSet<&'static str> {
    report.findings.iter().map(|f| f.code.as_str()).collect()
}

#[tokio::test]
async fn weak_postgres_tls_is_audited_after_the_ssl_request_like_any_tls_server() {
    let pki = Pki::rsa();
    let server = PostgresServer::start(
        Some(&pki),
        &[
            "ssl_min_protocol_version = 'TLSv1'",
            // Static-RSA and CBC suites next to the good ones; SECLEVEL 0 lets OpenSSL 3 speak TLS 1.0.
            "ssl_ciphers = 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:AES256-SHA:AES128-GCM-SHA256:@SECLEVEL=0'",
            "ssl_prefer_server_ciphers = off",
        ],
    );
    let report = audit(server.addr, Some(&pki), Protocol::Postgres).await;
    assert_eq!(
        codes(&report),
        BTreeSet::from([
            // Debian's OpenSSL 3.0 has no ML-KEM, and SECLEVEL 0 signs with SHA-1 when asked.
            "kex.no_pq_hybrid",
            "tls.sha1_signatures",
            "protocol.tls1_0",
            "protocol.tls1_1",
            "cipher.no_forward_secrecy",
            "cipher.no_server_preference",
        ]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.grade, Grade::B);
    assert_eq!(report.facts.protocol, Protocol::Postgres);
    assert!(report.facts.reachable);
    assert_eq!(
        report.facts.protocols.accepted(),
        vec![
            TlsVersion::Tls10,
            TlsVersion::Tls11,
            TlsVersion::Tls12,
            TlsVersion::Tls13
        ]
    );
    // The validated handshake ran too, offered PostgreSQL's ALPN name and no HTTP request.
    let negotiated = report
        .facts
        .negotiated
        .as_ref()
        .expect("a rustls handshake");
    assert_eq!(negotiated.version, TlsVersion::Tls13);
    assert_eq!(report.facts.features.http, None);
    assert_eq!(report.facts.alpn.h2, None);
    assert_eq!(report.facts.trust.path_found, Some(true));
    assert_eq!(report.facts.chain[0].sans, vec!["localhost", "127.0.0.1"]);
}

#[tokio::test]
async fn postgres_with_ssl_off_is_a_critical_ssl_disabled_finding() {
    let server = PostgresServer::start(None, &[]);
    let report = audit(server.addr, None, Protocol::Postgres).await;
    assert_eq!(
        codes(&report),
        BTreeSet::from(["postgres.ssl_disabled"]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.findings[0].severity, Severity::Critical);
    assert_eq!(
        report.findings[0].message,
        "the PostgreSQL server answered the SSLRequest with 'N': SSL is off (ssl = off)"
    );
    assert_eq!(report.grade, Grade::F);
    assert!(!report.facts.reachable);
    assert_eq!(
        report.facts.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::TlsDeclined)
    );
}

#[tokio::test]
async fn a_postgres_port_probed_as_plain_tls_is_reset() {
    // PostgreSQL reads the ClientHello as a startup packet of absurd length and hangs up.
    let server = PostgresServer::start(None, &[]);
    let report = audit(server.addr, None, Protocol::Tls).await;
    assert_eq!(codes(&report), BTreeSet::from(["connect.reset"]));
}

#[tokio::test]
async fn a_tls_server_probed_as_postgres_is_not_tls_with_what_it_answered() {
    let server = OpensslServer::start(&[]);
    let report = audit(server.addr, Some(&server.pki), Protocol::Postgres).await;
    assert_eq!(codes(&report), BTreeSet::from(["tls.not_tls"]));
    // OpenSSL hangs up on the 8 SSLRequest bytes (no TLS record header).
    assert_eq!(
        report.findings[0].message,
        "the server closed the connection without answering the PostgreSQL SSLRequest: not a \
         PostgreSQL server"
    );
}

#[test]
fn scan_protocol_postgres_reports_ssl_disabled_and_exits_unreachable() {
    let server = PostgresServer::start(None, &[]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args([
            "scan",
            "--json",
            "--no-system-roots",
            "--protocol",
            "postgres",
        ])
        .arg(server.addr.to_string())
        .output()
        .expect("run tlsaudit");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(output.status.code(), Some(2), "{json:#}");
    assert_eq!(json["facts"]["protocol"], "postgres");
    let codes: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["postgres.ssl_disabled"]);
}

#[tokio::test]
async fn an_error_response_to_the_ssl_request_is_not_tls_and_its_text_is_not_repeated() {
    // A pre-SSL PostgreSQL (or an impostor) answers the SSLRequest with an ErrorResponse.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 8];
            if stream.read_exact(&mut request).await.is_ok() {
                assert_eq!(request, [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]);
                let _ = stream
                    .write_all(b"EFATAL: trust me, send your password")
                    .await;
            }
        }
    });
    let report = audit(addr, None, Protocol::Postgres).await;
    server.abort();
    assert_eq!(codes(&report), BTreeSet::from(["tls.not_tls"]));
    assert_eq!(
        report.findings[0].message,
        "the server answered the PostgreSQL SSLRequest with an ErrorResponse ('E'): it predates \
         SSL support or is not PostgreSQL"
    );
    assert_eq!(report.grade, Grade::F);
}
