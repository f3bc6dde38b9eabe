//! The `tlsaudit scan` binary: exit codes for CI use, JSON output and usage errors, against real
//! servers on 127.0.0.1.

mod support;

use std::process::Command;

use support::pki::{Hierarchy, Spec};
use support::tls_server::{self, ClientAuth};

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

fn scan(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .arg("scan")
        .args(args)
        .output()
        .expect("run tlsaudit");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_code_follows_fail_on_and_json_carries_findings_and_facts() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["cli.test"]).valid(-70, 20));
    let config = tls_server::config(
        vec![leaf.der.clone(), pki.intermediate.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &["h2"],
    );
    let server = tls_server::start(config, HSTS).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.root.pem).expect("write CA");
    let target = format!("cli.test:{}", server.addr.port());
    let common = [
        target.as_str(),
        "--address",
        "127.0.0.1",
        "--ca",
        ca.to_str().expect("utf-8"),
        "--no-system-roots",
    ];

    // 20 days left of 90: cert.expiring_soon at medium. Below --fail-on high: exit 0.
    let (code, stdout, stderr) =
        tokio::task::block_in_place(|| scan(&[&common[..], &["--json"]].concat()));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(json["grade"], "A");
    assert_eq!(json["findings"][0]["code"], "cert.expiring_soon");
    assert_eq!(json["findings"][0]["severity"], "medium");
    assert_eq!(json["facts"]["chain"][0]["sans"][0], "cli.test");
    assert_eq!(json["facts"]["protocols"]["tls1_3"], true);

    // The same endpoint fails CI when medium is the threshold.
    let (code, stdout, _) =
        tokio::task::block_in_place(|| scan(&[&common[..], &["--fail-on", "medium"]].concat()));
    assert_eq!(code, 1);
    assert!(stdout.contains("cert.expiring_soon"), "{stdout}");
    assert!(
        !stdout.contains("\x1b["),
        "no colour when stdout is not a terminal"
    );

    // Silenced, nothing is left at medium or above.
    let (code, _, _) = tokio::task::block_in_place(|| {
        scan(
            &[
                &common[..],
                &["--fail-on", "medium", "--ignore", "cert.expiring_soon"],
            ]
            .concat(),
        )
    });
    assert_eq!(code, 0);

    // A 10 % lifetime share: 20 days left is 22 % of 90, so no warning. A 60-day limit for this
    // private CA makes its 90-day leaf cert.long_validity (low).
    let lifetime_flags = [
        "--json",
        "--warning-lifetime-percent",
        "10",
        "--critical-lifetime-percent",
        "5",
        "--max-validity-days",
        "60",
    ];
    let (code, stdout, stderr) =
        tokio::task::block_in_place(|| scan(&[&common[..], &lifetime_flags].concat()));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let findings: Vec<(&str, &str)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default(),
                f["severity"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(findings, [("cert.long_validity", "low")], "{stdout}");
}

#[test]
fn unreachable_target_exits_2_and_usage_errors_say_what_is_wrong() {
    let closed = tls_server::closed_port();
    let (code, stdout, _) = scan(&[&closed.to_string(), "--timeout", "1s"]);
    assert_eq!(code, 2);
    assert!(stdout.contains("connect.refused"), "{stdout}");

    let (code, _, stderr) = scan(&["example.test:0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid port"), "{stderr}");

    let (code, _, stderr) = scan(&["example.test:443", "--ignore", "cert.expird"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown finding code"), "{stderr}");

    let (code, _, stderr) = scan(&["example.test:443", "--warning-lifetime-percent", "0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--warning-lifetime-percent"), "{stderr}");
}
