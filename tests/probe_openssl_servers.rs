//! The whole engine (raw probes + rustls handshakes + evaluation) against Debian's `openssl s_server`
//! and `gnutls-serv`, for what rustls cannot serve: TLS 1.0, static RSA, 1024-bit keys, SHA-1
//! signatures, anonymous suites, 3DES and RC4, and a stapled OCSP response. Exact codes asserted.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use support::openssl::{GnutlsServer, OpensslServer, Pki};
use tlsaudit::facts::{ClientAuthDemand, TlsVersion, VersionSuites};
use tlsaudit::grade::Grade;
use tlsaudit::policy::Policy;
use tlsaudit::probe::{ProbeOptions, Target};
use tlsaudit::report::EndpointReport;

/// Mozilla intermediate as of guidelines 5.7: ECDHE and DHE AEAD suites. 5.8 dropped DHE.
const MOZILLA_INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

async fn audit(addr: std::net::SocketAddr, pki: &Pki) -> EndpointReport {
    let pem = std::fs::read(&pki.ca_cert).expect("read CA");
    let roots = tlsaudit::cert::root_store(false, &[&pem]).expect("roots");
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
        protocol: tlsaudit::probe::Protocol::Tls,
    };
    let facts = tlsaudit::probe::probe(&target, &options).await;
    EndpointReport::assemble(&target, facts, &Policy::default(), jiff::Timestamp::now())
}

fn codes(report: &EndpointReport) -> BTreeSet<&'static str> {
    report.findings.iter().map(|f| f.code.as_str()).collect()
}

fn suite_names(list: &VersionSuites) -> Vec<&str> {
    list.suites.iter().map(|s| s.name.as_str()).collect()
}

#[tokio::test]
async fn tls1_0_only_server_with_a_1024_bit_sha1_certificate_is_legacy_only_and_graded_f() {
    let server = OpensslServer::start_with(
        Pki::with("rsa:1024", "sha1", 60),
        &["-tls1", "-cipher", "ALL:@SECLEVEL=0"],
    );
    let report = audit(server.addr, &server.pki).await;
    assert_eq!(
        codes(&report),
        BTreeSet::from([
            "protocol.legacy_only",
            "protocol.tls1_0",
            "cipher.anon",
            "cipher.no_forward_secrecy",
            "cipher.cbc_only",
            "cipher.weak_dh",
            "cert.weak_key",
            "cert.weak_signature",
            "kex.no_pq_hybrid",
        ]),
        "{:#?}",
        report.findings
    );
    // Anonymous suites cap at F; the certificate was read from the plaintext TLS 1.0 handshake.
    assert_eq!(report.grade, Grade::F);
    assert_eq!(report.profile, None);
    assert_eq!(report.facts.protocols.accepted(), vec![TlsVersion::Tls10]);
    let leaf = &report.facts.chain[0];
    assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("RSA", 1024));
    assert_eq!(leaf.signature, "sha1WithRSAEncryption");
    // A SHA-1 signature is a weak signature, not an unknown issuer.
    assert_eq!(report.facts.trust.path_found, None);
    // OpenSSL sizes its automatic DH group to the 1024-bit key.
    assert_eq!(report.facts.features.dh_bits, Some(1024));
}

#[tokio::test]
async fn static_rsa_cbc_server_lacks_forward_secrecy_and_turns_away_current_clients() {
    let server = OpensslServer::start_with(
        Pki::with("rsa:2048", "sha256", 60),
        &["-cipher", "AES128-SHA:AES256-SHA:@SECLEVEL=0", "-no_tls1_3"],
    );
    let report = audit(server.addr, &server.pki).await;
    assert_eq!(
        codes(&report),
        BTreeSet::from([
            "tls.handshake_failed",
            "protocol.tls1_0",
            "protocol.tls1_1",
            "protocol.no_tls1_3",
            "cipher.no_forward_secrecy",
            "cipher.cbc_only",
            "cipher.no_server_preference",
            "kex.no_pq_hybrid",
        ]),
        "{:#?}",
        report.findings
    );
    let failed = report
        .findings
        .iter()
        .find(|f| f.code.as_str() == "tls.handshake_failed")
        .expect("finding");
    assert!(
        failed.message.contains("handshake_failure"),
        "{}",
        failed.message
    );
    assert_eq!(report.grade, Grade::C);
    for list in &report.facts.ciphers {
        assert_eq!(
            suite_names(list),
            [
                "TLS_RSA_WITH_AES_128_CBC_SHA",
                "TLS_RSA_WITH_AES_256_CBC_SHA"
            ]
        );
    }
    assert!(
        report.facts.trust.verified,
        "the chain from the plaintext handshake verifies"
    );
}

#[tokio::test]
async fn mozilla_5_7_intermediate_server_meets_no_6_0_profile_and_grades_a_minus_in_19_connections()
{
    let server = OpensslServer::start_with(
        Pki::with("rsa:2048", "sha256", 60),
        &[
            "-cipher",
            MOZILLA_INTERMEDIATE,
            "-no_tls1",
            "-no_tls1_1",
            "-www",
        ],
    );
    let report = audit(server.addr, &server.pki).await;
    assert_eq!(
        codes(&report),
        BTreeSet::from(["http.no_hsts", "alpn.no_h2", "kex.no_pq_hybrid"]),
        "{:#?}",
        report.findings
    );
    // SSL Labs 2009r: no HSTS on an HTTP endpoint is a warning that sets A-.
    assert_eq!(report.grade, Grade::AMinus);
    // Its DHE suites are outside Mozilla 6.0 intermediate and 5.8 old alike.
    assert_eq!(report.profile, None);
    // DHE suites with OpenSSL's automatic group for a 2048-bit key; ECDHE prefers x25519.
    assert_eq!(report.facts.features.dh_bits, Some(2048));
    assert_eq!(report.facts.features.ecdhe_group.as_deref(), Some("x25519"));
    assert_eq!(
        report.facts.protocols.accepted(),
        vec![TlsVersion::Tls12, TlsVersion::Tls13]
    );
    // 17 raw hellos (6 + 1 + 1 for TLS 1.2, 3 + 1 + 1 for TLS 1.3, SSLv3/1.0/1.1, no fallback
    // test needed) + the validated handshake + the handshake without SNI, then (issue 9 items 12
    // and 13) 7 group hellos (x25519, secp256r1, x448, secp521r1, secp384r1, ffdhe2048, and the
    // refusal of the post-quantum hybrids) + 1 hello offering only SHA-1 signatures.
    assert_eq!(report.facts.connections, 19 + 7 + 1);
}

#[tokio::test]
async fn gnutls_server_with_3des_and_rc4_is_reported_for_sweet32_and_rc4() {
    let priority = "NONE:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0:+3DES-CBC:+ARCFOUR-128:+SHA1:+MD5:+RSA:\
+ECDHE-RSA:+DHE-RSA:+COMP-NULL:+SIGN-ALL:+GROUP-ALL:+CTYPE-X509";
    let server = GnutlsServer::start(priority);
    let report = audit(server.addr, &server.pki).await;
    assert_eq!(
        codes(&report),
        BTreeSet::from([
            "tls.handshake_failed",
            "protocol.tls1_0",
            "protocol.tls1_1",
            "protocol.no_tls1_3",
            "cipher.rc4",
            "cipher.3des",
            "cipher.no_forward_secrecy",
            "cipher.cbc_only",
            "cipher.no_server_preference",
            "kex.no_pq_hybrid",
            // `+SIGN-ALL` lets gnutls sign its ServerKeyExchange with SHA-1 when asked (RFC 9155).
            "tls.sha1_signatures",
        ]),
        "{:#?}",
        report.findings
    );
    let sweet32 = report
        .findings
        .iter()
        .find(|f| f.code.as_str() == "cipher.3des")
        .expect("finding");
    assert_eq!(
        sweet32.message,
        "64-bit block (3DES/DES) suites accepted: TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA, \
TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    );
    assert_eq!(report.grade, Grade::C);
    assert_eq!(report.facts.client_auth.demand, ClientAuthDemand::Requested);
}

#[tokio::test]
async fn stapled_ocsp_response_is_parsed_as_good_with_its_next_update() {
    let pki = Pki::with("rsa:2048", "sha256", 60);
    let (staple, _) = pki.ocsp_response();
    let path = staple.to_str().expect("utf-8 path").to_owned();
    let server = OpensslServer::start_with(pki, &["-status_file", &path, "-www"]);
    let report = audit(server.addr, &server.pki).await;
    let ocsp = &report.facts.ocsp;
    assert!(ocsp.stapled);
    assert_eq!(ocsp.status.as_deref(), Some("good"));
    assert!(
        !codes(&report).contains("ocsp.not_stapled"),
        "{:#?}",
        report.findings
    );
}
