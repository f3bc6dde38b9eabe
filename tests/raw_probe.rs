//! The raw ClientHello probe engine against real servers on loopback: `openssl s_server`,
//! `gnutls-serv` (in its own network namespace) and hand-rolled misbehaving TCP servers.
//! Every assertion is exact: versions, suite ids, order, features, failure kinds, connection counts.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use tlsaudit::facts::{FailureKind, Protocols, TlsVersion, VersionSuites};
use tlsaudit::probe::legacy::{RawScan, scan};
use tlsaudit::probe::net::Dialer;
use tlsaudit::tls::suites;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use support::openssl::{GnutlsServer, OpensslServer, Pki, free_port};

const TIMEOUT: Duration = Duration::from_secs(3);

/// Mozilla's "intermediate" TLS 1.2 suites (the TLS 1.3 defaults stay OpenSSL's).
const MOZILLA_INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

async fn probe(addr: SocketAddr, timeout: Duration) -> (RawScan, u32, Duration) {
    let dialer = Dialer::new(addr, timeout, 256 * 1024);
    let started = Instant::now();
    let result = scan(&dialer, Some("localhost")).await;
    let elapsed = started.elapsed();
    eprintln!(
        "{addr}: {} connections in {elapsed:?}",
        dialer.connections()
    );
    (result, dialer.connections(), elapsed)
}

/// Every version tested: `accepted` ones true, the rest false.
fn only(accepted: &[TlsVersion]) -> Protocols {
    let mut protocols = Protocols::default();
    for version in TlsVersion::ALL {
        protocols.set(version, accepted.contains(&version));
    }
    protocols
}

fn ids(suites: &VersionSuites) -> Vec<u16> {
    suites.suites.iter().map(|s| s.id).collect()
}

fn id_set(suites: &VersionSuites) -> BTreeSet<u16> {
    suites.suites.iter().map(|s| s.id).collect()
}

/// The suites `openssl ciphers -V -s -PROTOCOL SPEC` lists for RSA or anonymous authentication:
/// an oracle independent of tlsaudit's table for what an RSA-keyed s_server accepts.
fn openssl_rsa_suites(protocol: &str, spec: &str) -> BTreeSet<u16> {
    let out = Command::new("openssl")
        .args(["ciphers", "-V", "-s", protocol, spec])
        .env("OPENSSL_CONF", "/dev/null")
        .output()
        .expect("`openssl` is not installed: run `apt-get install openssl`");
    assert!(
        out.status.success(),
        "openssl ciphers failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains("Au=RSA") || line.contains("Au=None"))
        .map(|line| {
            let code = line.split_whitespace().next().expect("code column");
            let (hi, lo) = code.split_once(',').expect("0xHH,0xLL");
            let byte =
                |s: &str| u8::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex byte");
            u16::from_be_bytes([byte(hi), byte(lo)])
        })
        .collect()
}

#[tokio::test]
async fn tls1_0_only_server_is_found_to_accept_exactly_tls1_0_and_its_suites() {
    let server = OpensslServer::start(&["-tls1", "-cipher", "ALL:@SECLEVEL=0"]);
    let (result, _, _) = probe(server.addr, TIMEOUT).await;

    assert_eq!(result.protocols, only(&[TlsVersion::Tls10]));
    assert_eq!(result.ciphers.len(), 1);
    let tls10 = &result.ciphers[0];
    assert_eq!(tls10.version, TlsVersion::Tls10);
    let expected = openssl_rsa_suites("-tls1", "ALL:@SECLEVEL=0");
    assert_eq!(expected.len(), 16, "oracle changed: {expected:x?}");
    assert_eq!(id_set(tls10), expected);
    assert_eq!(tls10.server_order, Some(false));
    let anon: Vec<u16> = ids(tls10)
        .into_iter()
        .filter(|id| suites::lookup(*id).is_some_and(suites::Suite::is_anon))
        .collect();
    assert_eq!(
        anon.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([0xC018, 0xC019, 0x0034, 0x003A, 0x0046, 0x0089])
    );

    assert_eq!(result.chain, vec![server.pki.cert_der()]);
    assert_eq!(result.secure_renegotiation, Some(true));
    assert_eq!(result.compression, Some(false));
    assert_eq!(result.heartbeat, Some(false));
    assert_eq!(result.fallback_scsv, None);
    assert_eq!(result.ocsp_staple, None);
    assert!(!result.certificate_request);
    assert_eq!(result.failure, None);
}

#[tokio::test]
async fn static_rsa_server_offers_only_its_two_suites_without_forward_secrecy_on_tls1_0_to_1_2() {
    let server =
        OpensslServer::start(&["-cipher", "AES128-SHA:AES256-SHA:@SECLEVEL=0", "-no_tls1_3"]);
    let (result, connections, _) = probe(server.addr, TIMEOUT).await;

    assert_eq!(
        result.protocols,
        only(&[TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12])
    );
    let versions: Vec<TlsVersion> = result.ciphers.iter().map(|c| c.version).collect();
    assert_eq!(
        versions,
        vec![TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12]
    );
    for version in &result.ciphers {
        // Client-ordered server: discovery follows tlsaudit's offer, and the reversed offer flips it.
        assert_eq!(ids(version), vec![0x002F, 0x0035], "{:?}", version.version);
        assert_eq!(version.server_order, Some(false));
        assert!(
            version
                .suites
                .iter()
                .all(|s| suites::lookup(s.id).is_some_and(|s| !s.forward_secret()))
        );
        assert_eq!(version.suites[0].name, "TLS_RSA_WITH_AES_128_CBC_SHA");
    }
    assert_eq!(result.fallback_scsv, Some(true));
    assert_eq!(result.chain.len(), 1);
    // Per version 2 accepted + 1 refused + 1 order check, 2 refusals (SSLv3, TLS 1.3), 1 fallback.
    assert_eq!(connections, 3 * 4 + 2 + 1);
}

#[tokio::test]
async fn default_openssl_server_yields_tls1_3_suites_in_client_order() {
    let server = OpensslServer::start(&[]);
    let (result, connections, _) = probe(server.addr, TIMEOUT).await;

    assert_eq!(
        result.protocols,
        only(&[TlsVersion::Tls12, TlsVersion::Tls13])
    );
    let tls13 = result
        .ciphers
        .iter()
        .find(|c| c.version == TlsVersion::Tls13)
        .expect("TLS 1.3 suites");
    assert_eq!(ids(tls13), vec![0x1301, 0x1302, 0x1303]);
    assert_eq!(tls13.server_order, Some(false));
    assert_eq!(tls13.suites[2].name, "TLS_CHACHA20_POLY1305_SHA256");
    let tls12 = result
        .ciphers
        .iter()
        .find(|c| c.version == TlsVersion::Tls12)
        .expect("TLS 1.2 suites");
    assert_eq!(tls12.server_order, Some(false));
    assert_eq!(ids(tls12)[0], 0xC02F);
    let expected = openssl_rsa_suites("-tls1_2", "DEFAULT");
    assert_eq!(expected.len(), 20, "oracle changed: {expected:x?}");
    assert_eq!(id_set(tls12), expected);
    assert_eq!(result.fallback_scsv, Some(true));
    assert_eq!(result.secure_renegotiation, Some(true));
    // One connection per accepted suite cannot be beaten, so OpenSSL's 20 default TLS 1.2 suites
    // cost more than the 20-connection target (which the Mozilla-intermediate test holds):
    // TLS 1.3 3 + 1 + order; TLS 1.2 20 + 1 + order; SSLv3, 1.0, 1.1 refused; 1 fallback.
    assert_eq!(connections, 5 + 22 + 3 + 1);
}

#[tokio::test]
async fn server_preference_is_detected_and_reported_in_the_servers_order() {
    let server = OpensslServer::start(&["-serverpref", "-cipher", MOZILLA_INTERMEDIATE]);
    let (result, _, _) = probe(server.addr, TIMEOUT).await;

    let tls13 = result
        .ciphers
        .iter()
        .find(|c| c.version == TlsVersion::Tls13)
        .expect("TLS 1.3 suites");
    // OpenSSL's TLS 1.3 default order: AES-256-GCM, ChaCha20, AES-128-GCM.
    assert_eq!(ids(tls13), vec![0x1302, 0x1303, 0x1301]);
    assert_eq!(tls13.server_order, Some(true));
    let tls12 = result
        .ciphers
        .iter()
        .find(|c| c.version == TlsVersion::Tls12)
        .expect("TLS 1.2 suites");
    // The configured list, minus the ECDSA suites an RSA key cannot serve.
    assert_eq!(
        ids(tls12),
        vec![0xC02F, 0xC030, 0xCCA8, 0x009E, 0x009F, 0xCCAA]
    );
    assert_eq!(tls12.server_order, Some(true));
}

#[tokio::test]
async fn mozilla_intermediate_server_is_scanned_in_at_most_20_connections() {
    let server = OpensslServer::start(&["-cipher", MOZILLA_INTERMEDIATE]);
    let (result, connections, elapsed) = probe(server.addr, TIMEOUT).await;

    assert_eq!(
        result.protocols,
        only(&[TlsVersion::Tls12, TlsVersion::Tls13])
    );
    let tls12 = result
        .ciphers
        .iter()
        .find(|c| c.version == TlsVersion::Tls12)
        .expect("TLS 1.2 suites");
    assert_eq!(
        id_set(tls12),
        BTreeSet::from([0xC02F, 0xC030, 0xCCA8, 0x009E, 0x009F, 0xCCAA])
    );
    // TLS 1.3: 3 + 1 + order; TLS 1.2: 6 + 1 + order; SSLv3, 1.0, 1.1 refused; 1 fallback.
    assert_eq!(connections, 5 + 8 + 3 + 1);
    assert!(connections <= 20);
    assert_eq!(result.fallback_scsv, Some(true));
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[tokio::test]
async fn gnutls_server_with_3des_and_rc4_reports_exactly_those_suites() {
    // The ids `gnutls-cli --list --priority` prints for this priority string.
    let priority = "NONE:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0:+3DES-CBC:+ARCFOUR-128:+SHA1:+MD5:+RSA:\
+ECDHE-RSA:+DHE-RSA:+COMP-NULL:+SIGN-ALL:+GROUP-ALL:+CTYPE-X509";
    let server = GnutlsServer::start(priority);
    let (result, connections, elapsed) = probe(server.addr, TIMEOUT).await;
    eprintln!("gnutls-serv via namespace relay: {connections} connections, {elapsed:?}");

    assert_eq!(
        result.protocols,
        only(&[TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12])
    );
    assert_eq!(result.ciphers.len(), 3);
    for version in &result.ciphers {
        // GnuTLS follows the client's order, so discovery follows tlsaudit's offer order.
        assert_eq!(
            ids(version),
            vec![0xC011, 0xC012, 0x0016, 0x0004, 0x0005, 0x000A],
            "{:?}",
            version.version
        );
        assert_eq!(version.server_order, Some(false));
        let triple: BTreeSet<u16> = ids(version)
            .into_iter()
            .filter(|id| suites::lookup(*id).is_some_and(suites::Suite::is_des_or_3des))
            .collect();
        assert_eq!(triple, BTreeSet::from([0x000A, 0xC012, 0x0016]));
        let rc4: BTreeSet<u16> = ids(version)
            .into_iter()
            .filter(|id| suites::lookup(*id).is_some_and(suites::Suite::is_rc4))
            .collect();
        assert_eq!(rc4, BTreeSet::from([0x0004, 0x0005, 0xC011]));
    }
    assert_eq!(result.chain, vec![server.pki.cert_der()]);
    // Per version 6 accepted + 1 refused + 1 order check; SSLv3 and TLS 1.3 refused; 1 fallback.
    assert_eq!(connections, 3 * 8 + 2 + 1);
}

/// A TCP server on 127.0.0.1 that answers every connection with `reply` (or nothing) after the
/// client's first bytes, and keeps silent connections open.
async fn fake_server(reply: Option<&'static [u8]>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                match reply {
                    Some(bytes) => {
                        let _ = stream.write_all(bytes).await;
                        let _ = stream.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn silent_server_fails_with_a_timeout_within_the_timeout() {
    let timeout = Duration::from_millis(700);
    let addr = fake_server(None).await;
    let (result, connections, elapsed) = probe(addr, timeout).await;

    assert_eq!(
        result.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Timeout)
    );
    assert_eq!(result.protocols, Protocols::default());
    assert!(result.ciphers.is_empty());
    assert_eq!(connections, 5);
    assert!(
        elapsed >= timeout && elapsed < timeout * 2,
        "took {elapsed:?}"
    );
}

#[tokio::test]
async fn http_server_is_reported_as_not_tls() {
    let addr = fake_server(Some(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    ))
    .await;
    let (result, _, _) = probe(addr, TIMEOUT).await;

    let failure = result.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::NotTls);
    assert_eq!(
        failure.detail,
        "peer does not speak TLS: reply starts with \"HTTP/1.1 400 Bad\""
    );
    assert_eq!(result.protocols, Protocols::default());
}

#[tokio::test]
async fn garbage_servers_are_classified_without_panicking() {
    let noise = fake_server(Some(&[0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03])).await;
    let (result, _, _) = probe(noise, TIMEOUT).await;
    assert_eq!(result.failure.map(|f| f.kind), Some(FailureKind::NotTls));

    // A handshake record holding a ServerHello with an empty body.
    let broken_hello = fake_server(Some(&[22, 3, 3, 0, 4, 2, 0, 0, 0])).await;
    let (result, _, _) = probe(broken_hello, TIMEOUT).await;
    let failure = result.failure.expect("a failure");
    assert_eq!(
        (failure.kind, failure.detail.as_str()),
        (
            FailureKind::Handshake,
            "failed to parse the server's ServerHello"
        )
    );

    let huge_record = fake_server(Some(&[22, 3, 1, 0xFF, 0xFF, 0, 0, 0])).await;
    let (result, _, _) = probe(huge_record, TIMEOUT).await;
    let failure = result.failure.expect("a failure");
    assert_eq!(
        (failure.kind, failure.detail.as_str()),
        (
            FailureKind::Handshake,
            "record of 65535 bytes exceeds the TLS limit"
        )
    );

    let cut = fake_server(Some(&[22, 3, 3, 0, 40, 2, 0, 0])).await;
    let (result, _, _) = probe(cut, TIMEOUT).await;
    let failure = result.failure.expect("a failure");
    assert_eq!(
        (failure.kind, failure.detail.as_str()),
        (
            FailureKind::Handshake,
            "server flight ends inside a record or handshake message"
        )
    );
}

#[tokio::test]
async fn refused_port_is_reported_as_refused() {
    let addr = free_port();
    let (result, connections, _) = probe(addr, TIMEOUT).await;
    assert_eq!(result.failure.map(|f| f.kind), Some(FailureKind::Refused));
    assert_eq!(result.protocols, Protocols::default());
    assert_eq!(connections, 5);
}

#[tokio::test]
async fn stapled_ocsp_response_is_captured_byte_for_byte() {
    let pki = Pki::rsa();
    let (path, der) = pki.ocsp_response();
    let path = path.to_str().expect("utf-8 path").to_owned();
    let server = OpensslServer::start_with(pki, &["-status_file", &path]);
    let (result, _, _) = probe(server.addr, TIMEOUT).await;

    assert_eq!(result.ocsp_staple, Some(der));
    assert_eq!(result.chain, vec![server.pki.cert_der()]);
}

#[tokio::test]
async fn certificate_request_is_seen_when_the_server_demands_a_client_certificate() {
    let server = OpensslServer::start(&["-Verify", "1"]);
    let (result, _, _) = probe(server.addr, TIMEOUT).await;

    assert!(result.certificate_request);
    assert_eq!(
        result.protocols,
        only(&[TlsVersion::Tls12, TlsVersion::Tls13])
    );
}

#[tokio::test]
async fn server_that_closes_every_connection_refuses_every_version_with_a_reset() {
    let addr = fake_server(Some(b"")).await;
    let (result, connections, _) = probe(addr, TIMEOUT).await;

    let failure = result.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::Reset);
    assert_eq!(
        failure.detail,
        "server closed the connection without answering the ClientHello"
    );
    assert_eq!(result.protocols, only(&[]));
    assert_eq!(connections, 5);
}

#[tokio::test]
async fn server_that_answers_every_hello_with_an_alert_reports_the_alert_name() {
    let addr = fake_server(Some(&[21, 3, 3, 0, 2, 2, 40])).await;
    let (result, _, _) = probe(addr, TIMEOUT).await;

    let failure = result.failure.expect("a failure");
    assert_eq!(
        (failure.kind, failure.alert.as_deref()),
        (FailureKind::Handshake, Some("handshake_failure"))
    );
    assert_eq!(
        failure.detail,
        "server sent a handshake_failure alert to a TLSv1.3 ClientHello"
    );
    assert_eq!(result.protocols, only(&[]));
}

#[tokio::test]
async fn hello_retry_request_still_counts_as_tls1_3_acceptance() {
    // No x25519: every TLS 1.3 hello (which carries only an x25519 share) gets a HelloRetryRequest.
    let server = OpensslServer::start(&["-groups", "P-256", "-no_tls1_2"]);
    let (result, connections, _) = probe(server.addr, TIMEOUT).await;

    assert_eq!(result.protocols, only(&[TlsVersion::Tls13]));
    assert_eq!(ids(&result.ciphers[0]), vec![0x1301, 0x1302, 0x1303]);
    assert_eq!(result.fallback_scsv, None);
    assert_eq!(result.secure_renegotiation, None);
    assert!(result.chain.is_empty());
    // 3 accepted + 1 refused + 1 order check; SSLv3, 1.0, 1.1, 1.2 refused.
    assert_eq!(connections, 5 + 4);
}
