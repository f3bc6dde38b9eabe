//! PostgreSQL end to end: the operator against the real kube-apiserver of scripts/control-plane.sh
//! finds Service ports that speak PostgreSQL by their names (`postgres`, `*-postgresql`), probes
//! them after an SSLRequest, and reports real Debian PostgreSQL servers on loopback (see
//! `support::audit` for the fake Pod addresses): one with a weak TLS configuration, one with
//! `ssl = off`. Exact codes asserted.

mod support;

use std::collections::BTreeSet;

use serde_json::json;
use support::audit::{
    Routes, audit, codes_at, condition, create, endpoint_slice, fake, install_tlsaudit_crd,
    operator, secret, service, wait_status,
};
use support::kube::TestNamespace;
use support::openssl::Pki;
use support::postgres::PostgresServer;
use tlsaudit::crd::TlsAudit;

fn codes(status: &tlsaudit::crd::TlsAuditStatus, address: &str) -> BTreeSet<String> {
    codes_at(status, address).into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_services_are_found_by_port_name_and_audited_after_an_ssl_request() {
    let ns = TestNamespace::new("postgres").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let pki = Pki::rsa();
    let ca = std::fs::read_to_string(&pki.ca_cert).expect("read CA");
    create(&ns.api(), &secret("ca", "ca.crt", &ca)).await;
    let weak = PostgresServer::start(
        Some(&pki),
        &[
            "ssl_min_protocol_version = 'TLSv1'",
            "ssl_ciphers = 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:AES128-GCM-SHA256:@SECLEVEL=0'",
        ],
    );
    let plaintext = PostgresServer::start(None, &[]);
    let routes = Routes::default();
    routes.route(fake(1, 5432), weak.addr);
    routes.route(fake(2, 5432), plaintext.addr);
    create(&ns.api(), &service("db", &[], &[("postgres", 5432)])).await;
    create(
        &ns.api(),
        &endpoint_slice("db-a", "db", "postgres", 5432, &["10.250.0.1"]),
    )
    .await;
    create(
        &ns.api(),
        &service(
            "legacy",
            &[],
            &[("tcp-postgresql", 5432), ("metrics", 9187)],
        ),
    )
    .await;
    create(
        &ns.api(),
        &endpoint_slice(
            "legacy-a",
            "legacy",
            "tcp-postgresql",
            5432,
            &["10.250.0.2"],
        ),
    )
    .await;
    let op = operator(&client, ns.name(), &routes, &[]).await;
    let audits = ns.api::<TlsAudit>();
    create(
        &audits,
        &audit(
            "databases",
            json!({
                "services": {"perEndpoint": true},
                "serverName": "localhost",
                "trust": {"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false}
            }),
        ),
    )
    .await;

    let status = wait_status(&audits, "databases", "both databases audited", |s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == 2)
    })
    .await;
    let set = |codes: &[&str]| {
        codes
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        codes(&status, "10.250.0.1:5432"),
        set(&[
            "protocol.tls1_0",
            "protocol.tls1_1",
            "cipher.no_forward_secrecy",
            // OpenSSL 3.0 at SECLEVEL=0 signs with SHA-1 when asked and has no ML-KEM.
            "tls.sha1_signatures",
            "kex.no_pq_hybrid",
        ]),
        "{status:#?}"
    );
    assert_eq!(
        codes(&status, "10.250.0.2:5432"),
        set(&["postgres.ssl_disabled"]),
        "{status:#?}"
    );
    assert_eq!(
        status.summary.as_ref().map(|s| s.findings.critical),
        Some(1)
    );
    assert_eq!(condition(&status, "Ready").0, "True");
    assert_eq!(condition(&status, "Compliant").0, "False");
    op.stop().await.expect("operator stops cleanly");
}
