//! Sharding end to end against the real kube-apiserver of scripts/control-plane.sh: two operators
//! run in-process with `--sharding on` (short Lease timings), each keeping its member Lease; every
//! audit gets a status, each audit's series are exported by exactly the replica that rendezvous
//! hashing names, and a stopped replica's audits are taken over by the other.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ListParams, ObjectMeta};
use serde_json::json;
use support::audit::{
    Routes, audit, create, install_tlsaudit_crd, operator, scrape, secret, wait_status,
};
use support::kube::TestNamespace;
use support::pki::{Hierarchy, Spec};
use support::tls_server::{self, ClientAuth};
use tlsaudit::controller::shard::{self, MEMBER_LABEL};
use tlsaudit::crd::TlsAudit;

const GROUP: &str = "tlsaudit-controller";

fn flags<'a>(ns: &'a str, identity: &'a str) -> Vec<&'a str> {
    vec![
        "--sharding",
        "on",
        "--lease-namespace",
        ns,
        "--identity",
        identity,
        "--lease-duration",
        "4s",
        "--lease-renew-deadline",
        "3s",
        "--lease-retry-period",
        "1s",
        "--allow-target-cidr",
        "127.0.0.0/8",
    ]
}

/// The audits whose last-run series the operator at `addr` exports, among `names`.
async fn exported(addr: std::net::SocketAddr, names: &[String]) -> BTreeSet<String> {
    let text = scrape(addr).await;
    names
        .iter()
        .filter(|n| {
            text.contains(&format!(
                "tlsaudit_audit_last_run_timestamp_seconds{{audit=\"{n}\""
            ))
        })
        .cloned()
        .collect()
}

/// Polls until `done` holds for what each of the two operators exports; panics with both.
async fn wait_split(
    first: std::net::SocketAddr,
    second: std::net::SocketAddr,
    names: &[String],
    what: &str,
    done: impl Fn(&BTreeSet<String>, &BTreeSet<String>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + support::audit::WAIT;
    let mut last = (BTreeSet::new(), BTreeSet::new());
    let mut seen = false;
    while !seen && tokio::time::Instant::now() < deadline {
        last = (exported(first, names).await, exported(second, names).await);
        seen = done(&last.0, &last.1);
        if !seen {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    assert!(
        seen,
        "{what} not seen within {:?}; exported: {last:?}",
        support::audit::WAIT
    );
}

async fn live_members(ns: &TestNamespace) -> BTreeSet<String> {
    let leases = ns
        .api::<Lease>()
        .list(&ListParams::default().labels(&format!("{MEMBER_LABEL}={GROUP}")))
        .await
        .expect("list member Leases");
    shard::live(&leases.items, jiff::Timestamp::now())
}

/// Audit names, three owned by each of `alpha` and `beta` (the key includes the random namespace,
/// so the names are chosen per run to make both shards non-empty).
fn names_split(ns: &str) -> (Vec<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut alpha, mut beta) = (BTreeSet::new(), BTreeSet::new());
    for i in 0.. {
        let name = format!("site-{i}");
        let key = shard::audit_key(ns, &name);
        match shard::owner(&key, ["alpha", "beta"]) {
            Some("alpha") if alpha.len() < 3 => alpha.insert(name),
            Some("beta") if beta.len() < 3 => beta.insert(name),
            _ => false,
        };
        if alpha.len() == 3 && beta.len() == 3 {
            break;
        }
    }
    let all = alpha.iter().chain(&beta).cloned().collect();
    (all, alpha, beta)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_split_the_audits_and_a_stopped_shard_hands_its_audits_over() {
    let ns = TestNamespace::new("shard").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    let leaf = pki.leaf(&Spec::leaf(&["shard.internal"]));
    let server = tls_server::start(
        tls_server::config(
            vec![leaf.der.clone(), pki.intermediate.der.clone()],
            leaf.key_der(),
            ClientAuth::None,
            &["h2", "http/1.1"],
        ),
        "Strict-Transport-Security: max-age=31536000\r\n",
    )
    .await;
    let routes = Routes::default();

    let alpha = operator(&client, ns.name(), &routes, &flags(ns.name(), "alpha")).await;
    let beta = operator(&client, ns.name(), &routes, &flags(ns.name(), "beta")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while live_members(&ns).await != BTreeSet::from(["alpha".to_owned(), "beta".to_owned()]) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both member Leases never became live: {:?}",
            live_members(&ns).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (names, of_alpha, of_beta) = names_split(ns.name());
    let audits = ns.api::<TlsAudit>();
    let trust = json!({"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false});
    for name in &names {
        let spec = json!({"endpoints": [{"host": "127.0.0.1", "port": server.addr.port(), "serverName": "shard.internal"}], "trust": trust});
        create(&audits, &audit(name, spec)).await;
    }
    for name in &names {
        let status = wait_status(&audits, name, "an audit", |s| !s.endpoints.is_empty()).await;
        assert_eq!(status.endpoints.len(), 1, "{name}: {status:#?}");
        assert_eq!(
            status.endpoints[0].address.as_deref(),
            Some(format!("127.0.0.1:{}", server.addr.port()).as_str())
        );
    }
    // Each replica exports exactly its share: the union covers every audit, no audit twice.
    wait_split(
        alpha.metrics_addr(),
        beta.metrics_addr(),
        &names,
        "the rendezvous split",
        |a, b| *a == of_alpha && *b == of_beta,
    )
    .await;

    // Stopping beta deletes its member Lease; alpha takes every audit over.
    let stopped_at = tokio::time::Instant::now();
    beta.stop().await.expect("beta stops cleanly");
    assert_eq!(
        live_members(&ns).await,
        BTreeSet::from(["alpha".to_owned()])
    );
    let everything: BTreeSet<String> = names.iter().cloned().collect();
    let deadline = tokio::time::Instant::now() + support::audit::WAIT;
    loop {
        let a = exported(alpha.metrics_addr(), &names).await;
        if a == everything {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alpha never took over: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let took = stopped_at.elapsed();
    assert!(took < Duration::from_secs(30), "takeover took {took:?}");
    alpha.stop().await.expect("alpha stops cleanly");
    assert!(live_members(&ns).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audits_of_a_member_whose_lease_lapses_are_taken_over() {
    let ns = TestNamespace::new("shard-lapse").await;
    let client = ns.client();
    install_tlsaudit_crd(&client).await;
    let pki = Hierarchy::new();
    create(&ns.api(), &secret("ca", "ca.crt", &pki.root.pem)).await;
    let leaf = pki.leaf(&Spec::leaf(&["shard.internal"]));
    let server = tls_server::start(
        tls_server::config(
            vec![leaf.der.clone(), pki.intermediate.der.clone()],
            leaf.key_der(),
            ClientAuth::None,
            &["h2", "http/1.1"],
        ),
        "",
    )
    .await;
    // A member that crashed: its Lease, renewed once, lapses 10 s from now and is never deleted.
    let renewed = jiff::Timestamp::now();
    let ghost = Lease {
        metadata: ObjectMeta {
            name: Some(shard::member_lease_name(GROUP, "beta")),
            labels: Some([(MEMBER_LABEL.to_owned(), GROUP.to_owned())].into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("beta".into()),
            lease_duration_seconds: Some(10),
            renew_time: Some(MicroTime(renewed)),
            ..LeaseSpec::default()
        }),
    };
    create(&ns.api::<Lease>(), &ghost).await;
    let (names, of_alpha, of_beta) = names_split(ns.name());
    let audits = ns.api::<TlsAudit>();
    let trust = json!({"caBundle": {"secretRef": {"name": "ca"}}, "systemRoots": false, "clusterCA": false});
    for name in &names {
        let spec = json!({"endpoints": [{"host": "127.0.0.1", "port": server.addr.port(), "serverName": "shard.internal"}], "trust": trust});
        create(&audits, &audit(name, spec)).await;
    }
    let routes = Routes::default();
    let alpha = operator(&client, ns.name(), &routes, &flags(ns.name(), "alpha")).await;
    for name in &of_alpha {
        wait_status(&audits, name, "alpha's audit", |s| !s.endpoints.is_empty()).await;
    }
    // While the ghost's Lease holds, its audits stay with it.
    if live_members(&ns).await.contains("beta") {
        let a = exported(alpha.metrics_addr(), &names).await;
        assert!(
            a.is_subset(&of_alpha),
            "alpha audited the ghost's audits early: {a:?}"
        );
    }
    for name in &of_beta {
        wait_status(&audits, name, "the lapsed member's audit", |s| {
            !s.endpoints.is_empty()
        })
        .await;
    }
    let everything: BTreeSet<String> = names.iter().cloned().collect();
    let deadline = tokio::time::Instant::now() + support::audit::WAIT;
    loop {
        let a = exported(alpha.metrics_addr(), &names).await;
        if a == everything {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alpha never took over: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    alpha.stop().await.expect("alpha stops cleanly");
}
