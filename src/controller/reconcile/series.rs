//! An audit's metric series. Input: the audited endpoints of one completed audit and what the
//! audit contributes besides them ([`AuditFacts`]). Output: every per-audit [`Series`], recomputed
//! from scratch, for [`Metrics::set_audit`](crate::metrics::Metrics::set_audit). Pure.
//!
//! Only the worst `--metrics-max-endpoints` endpoints get series of their own (the order of the
//! status); every endpoint still counts in the per-audit series.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::judge::{Audited, worst_first};
use crate::facts::TlsVersion;
use crate::findings::Severity;
use crate::metrics::{Family, Series};

/// What an audit contributes besides its endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditFacts<'a> {
    /// Namespace of the audit.
    pub namespace: &'a str,
    /// Name of the audit.
    pub audit: &'a str,
    /// When the audit completed.
    pub now: jiff::Timestamp,
    /// The configured interval.
    pub interval: Duration,
    /// The client certificate Secret and its notAfter (Unix seconds), when one is used.
    pub client_certificate: Option<(&'a str, i64)>,
    /// Most endpoints of this audit that get per-endpoint series (the worst first); the others
    /// count in the per-audit series only. Bounds the cardinality (`--metrics-max-endpoints`).
    pub max_endpoints: usize,
}

#[expect(
    clippy::cast_precision_loss,
    reason = "Unix seconds and counts fit f64's 53-bit mantissa"
)]
fn float(n: i64) -> f64 {
    n as f64
}

/// Longest label value exported: a spec's `serverName` or an endpoint's host may be long (the CRD
/// caps them at 253), and a label is copied into every sample of every scrape.
pub const MAX_LABEL_VALUE: usize = 128;

/// `value` when it fits [`MAX_LABEL_VALUE`], else its head and `~` and 8 hex digits of its
/// SHA-256: two long values that share a head still get two series.
#[must_use]
pub fn bounded_label(value: String) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    if value.len() <= MAX_LABEL_VALUE {
        return value;
    }
    let digest = Sha256::digest(value.as_bytes());
    let mut cut = MAX_LABEL_VALUE - 9;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = value[..cut].to_owned();
    out.push('~');
    for byte in digest.iter().take(4) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn series(family: Family, labels: Vec<String>, value: f64) -> Series {
    Series {
        family,
        labels: labels.into_iter().map(bounded_label).collect(),
        value,
    }
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

/// The series of one endpoint; `base` holds the per-endpoint label values.
fn endpoint_series(base: &[String], audited: &Audited, out: &mut Vec<Series>) {
    let r = &audited.report;
    let with = |extra: &[&str]| {
        let mut labels = base.to_vec();
        labels.extend(extra.iter().map(|s| (*s).to_owned()));
        labels
    };
    if let Some(leaf) = r.facts.chain.first() {
        out.push(series(
            Family::NotAfter,
            base.to_vec(),
            float(leaf.not_after_unix),
        ));
        out.push(series(
            Family::NotBefore,
            base.to_vec(),
            float(leaf.not_before_unix),
        ));
        let identity = [
            leaf.subject.as_str(),
            &leaf.issuer,
            &leaf.serial,
            &leaf.sha256,
        ];
        out.push(series(Family::CertificateInfo, with(&identity), 1.0));
    }
    if let Some(earliest) = r.facts.chain.iter().map(|c| c.not_after_unix).min() {
        out.push(series(
            Family::ChainNotAfter,
            base.to_vec(),
            float(earliest),
        ));
    }
    let mut codes = BTreeSet::new();
    for f in &r.findings {
        if codes.insert((f.code, f.severity)) {
            let labels = with(&[f.code.as_str(), f.severity.as_str()]);
            out.push(series(Family::Finding, labels, 1.0));
        }
    }
    out.push(series(Family::Grade, with(&[r.grade.as_str()]), 1.0));
    for version in TlsVersion::ALL {
        if let Some(accepted) = r.facts.protocols.get(version) {
            out.push(series(
                Family::ProtocolEnabled,
                with(&[version.name()]),
                flag(accepted),
            ));
        }
    }
    out.push(series(
        Family::ProbeSuccess,
        base.to_vec(),
        flag(r.facts.reachable),
    ));
    // The group a current client (rustls, post-quantum first) negotiated: a bounded label.
    if let Some(group) = r.facts.negotiated.as_ref().and_then(|n| n.group.as_deref()) {
        out.push(series(Family::KeyExchange, with(&[group]), 1.0));
    }
}

/// Every per-audit series of one completed audit (pure).
#[must_use]
pub fn audit_series(audit: &AuditFacts<'_>, audited: &[Audited]) -> Vec<Series> {
    let (ns, name) = (audit.namespace.to_owned(), audit.audit.to_owned());
    let mut out = Vec::new();
    let mut by_severity: BTreeMap<&'static str, i64> =
        Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut seen = BTreeSet::new();
    let mut with_series = 0usize;
    let mut earliest: Option<i64> = None;
    for a in worst_first(audited) {
        let r = &a.report;
        let endpoint = r
            .address
            .clone()
            .unwrap_or_else(|| format!("{}:{}", r.host, r.port));
        let server_name = r.server_name.clone().unwrap_or_default();
        let base = vec![
            ns.clone(),
            name.clone(),
            a.origin.clone(),
            endpoint,
            server_name,
        ];
        // Two targets can name one endpoint (an Ingress and a Service); its series exist once.
        if !seen.insert(base.clone()) {
            continue;
        }
        for f in &r.findings {
            *by_severity.entry(f.severity.as_str()).or_default() += 1;
        }
        if let Some(leaf) = r.facts.chain.first() {
            earliest = Some(earliest.map_or(leaf.not_after_unix, |e| e.min(leaf.not_after_unix)));
        }
        if with_series < audit.max_endpoints {
            with_series += 1;
            endpoint_series(&base, a, &mut out);
        }
    }
    let audit_labels = vec![ns.clone(), name.clone()];
    for (severity, n) in by_severity {
        let labels = vec![ns.clone(), name.clone(), severity.to_owned()];
        out.push(series(Family::Findings, labels, float(n)));
    }
    if let Some((secret, not_after)) = audit.client_certificate {
        let labels = vec![ns.clone(), name.clone(), secret.to_owned()];
        out.push(series(Family::ClientNotAfter, labels, float(not_after)));
    }
    let last_run = float(audit.now.as_millisecond()) / 1000.0;
    out.push(series(Family::LastRun, audit_labels.clone(), last_run));
    out.push(series(
        Family::Interval,
        audit_labels.clone(),
        audit.interval.as_secs_f64(),
    ));
    if let Some(earliest) = earliest {
        out.push(series(
            Family::EarliestNotAfter,
            audit_labels.clone(),
            float(earliest),
        ));
    }
    let omitted = seen.len() - with_series;
    out.push(series(
        Family::Omitted,
        audit_labels.clone(),
        float(i64::try_from(omitted).unwrap_or(i64::MAX)),
    ));
    let endpoints = float(i64::try_from(seen.len()).unwrap_or(i64::MAX));
    out.push(series(Family::Endpoints, audit_labels, endpoints));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::CertFacts;
    use crate::findings::{Code, Finding};
    use crate::fixtures::{self, CertBuilder};
    use crate::grade::Grade;
    use crate::metrics::Metrics;

    fn cert(not_after: i64, sha: &str) -> CertFacts {
        CertBuilder::new("CN=web", "CN=ca")
            .serial("0a")
            .sha256(sha)
            .valid_unix(1_000, not_after)
            .build()
    }

    fn audited(address: &str, codes: &[Code]) -> Audited {
        let mut facts = fixtures::reachable(&[TlsVersion::Tls12]);
        facts.chain = vec![cert(2_000_000, "ff"), cert(1_500_000, "ee")];
        facts.protocols.set(TlsVersion::Tls10, false);
        let findings = codes.iter().map(|c| Finding::new(*c, "m")).collect();
        Audited {
            origin: "service/web".into(),
            report: fixtures::report("web.shop.svc", address, Grade::F, findings, facts),
        }
    }

    fn facts<'a>() -> AuditFacts<'a> {
        AuditFacts {
            namespace: "shop",
            audit: "web",
            now: jiff::Timestamp::from_second(1_700_000_000).unwrap(),
            interval: Duration::from_secs(3600),
            client_certificate: Some(("client-tls", 1_800_000_000)),
            max_endpoints: 100,
        }
    }

    #[test]
    fn only_the_worst_endpoints_get_series_beyond_the_bound_and_expiry_stays_per_audit() {
        let metrics = Metrics::new().unwrap();
        let mut audited_list: Vec<Audited> = (1..=5)
            .map(|i| audited(&format!("10.0.0.{i}:443"), &[]))
            .collect();
        audited_list.push(audited("10.0.0.9:443", &[Code::CertExpired]));
        let bounded = AuditFacts {
            max_endpoints: 2,
            ..facts()
        };
        metrics.set_audit("shop", "web", &audit_series(&bounded, &audited_list));
        let text = metrics.render().unwrap();
        let endpoints_with_grade = text
            .lines()
            .filter(|l| l.starts_with("tlsaudit_endpoint_grade{"))
            .count();
        assert_eq!(endpoints_with_grade, 2, "{text}");
        assert!(
            text.contains(r#"endpoint="10.0.0.9:443""#),
            "the expired one is among the worst: {text}"
        );
        assert!(
            text.contains(
                r#"tlsaudit_audit_endpoints_without_series{audit="web",namespace="shop"} 4"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"tlsaudit_audit_endpoints{audit="web",namespace="shop"} 6"#),
            "{text}"
        );
        assert!(text.contains(r#"tlsaudit_audit_earliest_not_after_timestamp_seconds{audit="web",namespace="shop"}"#), "{text}");
    }

    #[test]
    fn the_negotiated_group_is_a_label_of_the_key_exchange_info_series() {
        let mut endpoint = audited("10.0.0.1:443", &[]);
        std::sync::Arc::make_mut(&mut endpoint.report.facts).negotiated =
            Some(crate::facts::Negotiated {
                version: TlsVersion::Tls13,
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
                group: Some("X25519MLKEM768".into()),
                alpn: None,
            });
        let all = audit_series(&facts(), &[endpoint]);
        let kx: Vec<&Series> = all
            .iter()
            .filter(|s| s.family == Family::KeyExchange)
            .collect();
        assert_eq!(kx.len(), 1);
        assert_eq!(
            kx[0].labels.last().map(String::as_str),
            Some("X25519MLKEM768")
        );
        assert!((kx[0].value - 1.0).abs() < f64::EPSILON);
        // Without a completed validated handshake there is no series.
        let bare = audit_series(&facts(), &[audited("10.0.0.1:443", &[])]);
        assert!(bare.iter().all(|s| s.family != Family::KeyExchange));
    }

    #[test]
    fn an_audit_produces_the_contract_series() {
        let metrics = Metrics::new().unwrap();
        metrics.set_audit(
            "shop",
            "web",
            &audit_series(&facts(), &[audited("10.0.0.1:443", &[Code::CertExpired])]),
        );
        let text = metrics.render().unwrap();
        let endpoint = r#"audit="web",endpoint="10.0.0.1:443",namespace="shop",server_name="web.shop.svc",target="service/web""#;
        for line in [
            format!("tlsaudit_certificate_not_after_timestamp_seconds{{{endpoint}}} 2000000"),
            format!("tlsaudit_chain_not_after_timestamp_seconds{{{endpoint}}} 1500000"),
            format!("tlsaudit_certificate_not_before_timestamp_seconds{{{endpoint}}} 1000"),
            r#"tlsaudit_finding{audit="web",code="cert.expired",endpoint="10.0.0.1:443",namespace="shop",server_name="web.shop.svc",severity="critical",target="service/web"} 1"#.to_owned(),
            r#"tlsaudit_endpoint_grade{audit="web",endpoint="10.0.0.1:443",grade="F",namespace="shop",server_name="web.shop.svc",target="service/web"} 1"#.to_owned(),
            r#"tlsaudit_protocol_enabled{audit="web",endpoint="10.0.0.1:443",namespace="shop",server_name="web.shop.svc",target="service/web",version="TLSv1.0"} 0"#.to_owned(),
            format!("tlsaudit_probe_success{{{endpoint}}} 1"),
            r#"tlsaudit_findings{audit="web",namespace="shop",severity="critical"} 1"#.to_owned(),
            r#"tlsaudit_findings{audit="web",namespace="shop",severity="high"} 0"#.to_owned(),
            r#"tlsaudit_client_certificate_not_after_timestamp_seconds{audit="web",namespace="shop",secret="client-tls"} 1800000000"#.to_owned(),
            r#"tlsaudit_audit_last_run_timestamp_seconds{audit="web",namespace="shop"} 1700000000"#.to_owned(),
            r#"tlsaudit_audit_interval_seconds{audit="web",namespace="shop"} 3600"#.to_owned(),
            r#"tlsaudit_audit_endpoints{audit="web",namespace="shop"} 1"#.to_owned(),
            r#"tlsaudit_build_info{version=""#.to_owned(),
        ] {
            assert!(text.contains(&line), "missing {line}\n{text}");
        }
        assert!(
            text.contains(r#"serial="0a",server_name="web.shop.svc",sha256="ff",subject="CN=web""#)
        );
        // Identity never rides on the expiry series.
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("tlsaudit_certificate_not_after") && l.contains("sha256"))
        );
    }

    #[test]
    fn a_vanished_endpoint_and_a_fixed_finding_lose_their_series() {
        let metrics = Metrics::new().unwrap();
        metrics.set_audit(
            "shop",
            "web",
            &audit_series(
                &facts(),
                &[
                    audited("10.0.0.1:443", &[Code::CertExpired]),
                    audited("10.0.0.2:443", &[]),
                ],
            ),
        );
        metrics.set_audit(
            "shop",
            "web",
            &audit_series(&facts(), &[audited("10.0.0.2:443", &[])]),
        );
        let text = metrics.render().unwrap();
        assert!(!text.contains("10.0.0.1:443"), "{text}");
        assert!(!text.contains("cert.expired"), "{text}");
        assert!(text.contains("10.0.0.2:443"));
    }

    #[test]
    fn long_label_values_are_cut_with_a_hash_of_the_whole() {
        assert_eq!(bounded_label("web.shop.svc".into()), "web.shop.svc");
        let a = bounded_label(format!("{}a", "x".repeat(300)));
        let b = bounded_label(format!("{}b", "x".repeat(300)));
        assert_eq!(a.len(), MAX_LABEL_VALUE);
        assert_eq!(b.len(), MAX_LABEL_VALUE);
        assert_ne!(a, b);
        assert!(
            a.starts_with(&"x".repeat(119)) && a.as_bytes()[119] == b'~',
            "{a}"
        );
        let wide = bounded_label("é".repeat(200));
        assert!(
            wide.len() <= MAX_LABEL_VALUE && wide.contains('~'),
            "{wide}"
        );
    }

    #[test]
    fn a_deleted_audit_loses_every_series() {
        let metrics = Metrics::new().unwrap();
        metrics.set_audit(
            "shop",
            "web",
            &audit_series(&facts(), &[audited("10.0.0.1:443", &[Code::CertExpired])]),
        );
        metrics.set_audit(
            "shop",
            "api",
            &audit_series(
                &AuditFacts {
                    audit: "api",
                    ..facts()
                },
                &[audited("10.0.0.9:443", &[])],
            ),
        );
        metrics.remove_audit("shop", "web");
        let text = metrics.render().unwrap();
        assert!(!text.contains(r#"audit="web""#), "{text}");
        assert!(text.contains(r#"audit="api""#));
        metrics.retain_audits(&BTreeSet::new());
        assert!(!metrics.render().unwrap().contains(r#"audit="api""#));
    }
}
