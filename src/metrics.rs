//! The operator's Prometheus metrics, named as /work/metrics-contract.md (docs/metrics.md) says.
//! Input: each completed audit's endpoint reports, probe timings, reconcile outcomes. Output: the
//! text exposition served on /metrics from the operator's own Registry (never the global one).
//!
//! Per-audit series are recomputed from scratch after every audit ([`audit_series`], pure) and the
//! series of the previous audit that are no longer produced are removed, so a vanished endpoint,
//! a fixed finding or a deleted audit leaves no stale series behind.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::controller::status::Audited;
use crate::facts::TlsVersion;
use crate::findings::Severity;

/// Labels every per-endpoint series carries, in this order.
pub const ENDPOINT_LABELS: [&str; 5] = ["namespace", "audit", "target", "endpoint", "server_name"];

/// A per-audit metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// `tlsaudit_certificate_not_after_timestamp_seconds`
    NotAfter,
    /// `tlsaudit_certificate_not_before_timestamp_seconds`
    NotBefore,
    /// `tlsaudit_chain_not_after_timestamp_seconds`
    ChainNotAfter,
    /// `tlsaudit_certificate_info`
    CertificateInfo,
    /// `tlsaudit_finding`
    Finding,
    /// `tlsaudit_findings`
    Findings,
    /// `tlsaudit_endpoint_grade`
    Grade,
    /// `tlsaudit_protocol_enabled`
    ProtocolEnabled,
    /// `tlsaudit_probe_success`
    ProbeSuccess,
    /// `tlsaudit_client_certificate_not_after_timestamp_seconds`
    ClientNotAfter,
    /// `tlsaudit_audit_last_run_timestamp_seconds`
    LastRun,
    /// `tlsaudit_audit_interval_seconds`
    Interval,
    /// `tlsaudit_audit_endpoints`
    Endpoints,
    /// `tlsaudit_audit_earliest_not_after_timestamp_seconds`
    EarliestNotAfter,
    /// `tlsaudit_audit_endpoints_without_series`
    Omitted,
    /// `tlsaudit_key_exchange_info`
    KeyExchangeInfo,
}

/// One series value: family, label values in the family's label order, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Family.
    pub family: Family,
    /// Label values.
    pub labels: Vec<String>,
    /// Value.
    pub value: f64,
}

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

fn series(family: Family, labels: Vec<String>, value: f64) -> Series {
    Series {
        family,
        labels,
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
        out.push(series(Family::KeyExchangeInfo, with(&[group]), 1.0));
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
    for a in crate::controller::status::worst_first(audited) {
        let r = &a.report;
        let endpoint = r
            .address
            .clone()
            .unwrap_or_else(|| format!("{}:{}", r.host, r.port));
        let server_name = r.server_name.clone().unwrap_or_default();
        let base = vec![
            ns.clone(),
            name.clone(),
            a.target.clone(),
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

/// The series an audit exported last, to remove the ones it no longer produces.
type Exported = BTreeMap<(String, String), Vec<(Family, Vec<String>)>>;

/// The registry and every family.
pub struct Metrics {
    registry: Registry,
    families: BTreeMap<Family, GaugeVec>,
    probe_duration: HistogramVec,
    reconciles: IntCounterVec,
    reconcile_errors: IntCounterVec,
    current: Mutex<Exported>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn family_spec(family: Family) -> (&'static str, &'static str, Vec<&'static str>) {
    let endpoint = ENDPOINT_LABELS.to_vec();
    let plus = |extra: &[&'static str]| {
        let mut labels = ENDPOINT_LABELS.to_vec();
        labels.extend_from_slice(extra);
        labels
    };
    let audit = vec!["namespace", "audit"];
    match family {
        Family::NotAfter => (
            "tlsaudit_certificate_not_after_timestamp_seconds",
            "Leaf certificate notAfter (Unix seconds), also when expired or untrusted.",
            endpoint,
        ),
        Family::NotBefore => (
            "tlsaudit_certificate_not_before_timestamp_seconds",
            "Leaf certificate notBefore (Unix seconds).",
            endpoint,
        ),
        Family::ChainNotAfter => (
            "tlsaudit_chain_not_after_timestamp_seconds",
            "Earliest notAfter in the served chain (Unix seconds).",
            endpoint,
        ),
        Family::CertificateInfo => (
            "tlsaudit_certificate_info",
            "Identity of the served leaf certificate (always 1).",
            plus(&["subject", "issuer", "serial", "sha256"]),
        ),
        Family::Finding => (
            "tlsaudit_finding",
            "A present finding on an endpoint (always 1).",
            plus(&["code", "severity"]),
        ),
        Family::Findings => (
            "tlsaudit_findings",
            "Findings per severity in an audit.",
            vec!["namespace", "audit", "severity"],
        ),
        Family::Grade => (
            "tlsaudit_endpoint_grade",
            "Grade of the endpoint (always 1).",
            plus(&["grade"]),
        ),
        Family::ProtocolEnabled => (
            "tlsaudit_protocol_enabled",
            "Whether a protocol version is accepted (0 or 1).",
            plus(&["version"]),
        ),
        Family::ProbeSuccess => (
            "tlsaudit_probe_success",
            "Whether a TLS handshake with the endpoint completed (0 or 1).",
            endpoint,
        ),
        Family::ClientNotAfter => (
            "tlsaudit_client_certificate_not_after_timestamp_seconds",
            "notAfter of the audit's mTLS client certificate (Unix seconds).",
            vec!["namespace", "audit", "secret"],
        ),
        Family::LastRun => (
            "tlsaudit_audit_last_run_timestamp_seconds",
            "When the audit last completed (Unix seconds).",
            audit,
        ),
        Family::Interval => (
            "tlsaudit_audit_interval_seconds",
            "The audit's configured interval in seconds.",
            audit,
        ),
        Family::Endpoints => (
            "tlsaudit_audit_endpoints",
            "Endpoints the audit covered.",
            audit,
        ),
        Family::EarliestNotAfter => (
            "tlsaudit_audit_earliest_not_after_timestamp_seconds",
            "Earliest leaf notAfter among all the audit's endpoints (Unix seconds).",
            audit,
        ),
        Family::Omitted => (
            "tlsaudit_audit_endpoints_without_series",
            "Endpoints of the audit beyond --metrics-max-endpoints: counted, but without series of their own.",
            audit,
        ),
        Family::KeyExchangeInfo => (
            "tlsaudit_key_exchange_info",
            "Key-exchange group the validated handshake negotiated, e.g. X25519MLKEM768 (always 1).",
            plus(&["group"]),
        ),
    }
}

const FAMILIES: [Family; 16] = [
    Family::NotAfter,
    Family::NotBefore,
    Family::ChainNotAfter,
    Family::CertificateInfo,
    Family::Finding,
    Family::Findings,
    Family::Grade,
    Family::ProtocolEnabled,
    Family::ProbeSuccess,
    Family::ClientNotAfter,
    Family::LastRun,
    Family::Interval,
    Family::Endpoints,
    Family::EarliestNotAfter,
    Family::Omitted,
    Family::KeyExchangeInfo,
];

/// Why the metrics could not be set up or rendered.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A family could not be created or registered.
    #[error("failed to register metric: {0}")]
    Register(#[from] prometheus::Error),
    /// The exposition could not be encoded.
    #[error("failed to encode metrics: {0}")]
    Encode(String),
}

impl Metrics {
    /// A fresh registry with every family and `tlsaudit_build_info{version}` = 1.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let mut families = BTreeMap::new();
        for family in FAMILIES {
            let (name, help, labels) = family_spec(family);
            let vec = GaugeVec::new(Opts::new(name, help), &labels)?;
            registry.register(Box::new(vec.clone()))?;
            families.insert(family, vec);
        }
        let probe_duration = HistogramVec::new(
            HistogramOpts::new(
                "tlsaudit_probe_duration_seconds",
                "Wall time of one endpoint probe.",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            &["result"],
        )?;
        registry.register(Box::new(probe_duration.clone()))?;
        let reconciles = IntCounterVec::new(
            Opts::new("tlsaudit_reconcile_total", "Reconciles by result."),
            &["result"],
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        let reconcile_errors = IntCounterVec::new(
            Opts::new(
                "tlsaudit_reconcile_errors_total",
                "Reconcile errors by category.",
            ),
            &["error"],
        )?;
        registry.register(Box::new(reconcile_errors.clone()))?;
        let build_info = GaugeVec::new(
            Opts::new("tlsaudit_build_info", "Build information (always 1)."),
            &["version"],
        )?;
        registry.register(Box::new(build_info.clone()))?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        for result in ["success", "error"] {
            reconciles.with_label_values(&[result]);
        }
        for category in crate::controller::reconcile::Error::CATEGORIES {
            reconcile_errors.with_label_values(&[category]);
        }
        Ok(Self {
            registry,
            families,
            probe_duration,
            reconciles,
            reconcile_errors,
            current: Mutex::new(BTreeMap::new()),
        })
    }

    /// Replaces the per-audit series of one audit with `series`.
    pub fn set_audit(&self, namespace: &str, audit: &str, series: &[Series]) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (namespace.to_owned(), audit.to_owned());
        let fresh: BTreeSet<(Family, Vec<String>)> = series
            .iter()
            .map(|s| (s.family, s.labels.clone()))
            .collect();
        if let Some(old) = current.get(&key) {
            for (family, labels) in old {
                if !fresh.contains(&(*family, labels.clone())) {
                    self.remove(*family, labels);
                }
            }
        }
        for s in series {
            if let Some(vec) = self.families.get(&s.family) {
                vec.with_label_values(&s.labels).set(s.value);
            }
        }
        current.insert(key, fresh.into_iter().collect());
    }

    /// Removes every series of a deleted audit.
    pub fn remove_audit(&self, namespace: &str, audit: &str) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = current.remove(&(namespace.to_owned(), audit.to_owned())) {
            for (family, labels) in old {
                self.remove(family, &labels);
            }
        }
    }

    /// Removes the series of every audit not in `keep` (after a relist that missed deletions).
    pub fn retain_audits(&self, keep: &BTreeSet<(String, String)>) {
        let gone: Vec<(String, String)> = {
            let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            current
                .keys()
                .filter(|k| !keep.contains(*k))
                .cloned()
                .collect()
        };
        for (ns, name) in gone {
            self.remove_audit(&ns, &name);
        }
    }

    fn remove(&self, family: Family, labels: &[String]) {
        if let Some(vec) = self.families.get(&family) {
            // Absent already is fine: the goal is that the series is gone.
            let _ = vec.remove_label_values(labels);
        }
    }

    /// Records one probe's wall time.
    pub fn observe_probe(&self, elapsed: Duration, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.probe_duration
            .with_label_values(&[result])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a reconcile; `error` is a short static category.
    pub fn reconciled(&self, error: Option<&'static str>) {
        match error {
            None => self.reconciles.with_label_values(&["success"]).inc(),
            Some(category) => {
                self.reconciles.with_label_values(&["error"]).inc();
                self.reconcile_errors.with_label_values(&[category]).inc();
            }
        }
    }

    /// The text exposition.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .map_err(|e| MetricsError::Encode(e.to_string()))?;
        String::from_utf8(buf).map_err(|e| MetricsError::Encode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{CertFacts, Facts};
    use crate::findings::{Code, Finding};
    use crate::grade::Grade;
    use crate::report::EndpointReport;

    fn cert(not_after: i64, sha: &str) -> CertFacts {
        CertFacts {
            subject: "CN=web".into(),
            issuer: "CN=ca".into(),
            common_name: None,
            sans: vec![],
            serial: "0a".into(),
            sha256: sha.into(),
            not_before: String::new(),
            not_after: String::new(),
            not_before_unix: 1_000,
            not_after_unix: not_after,
            key_type: "EC".into(),
            key_bits: 256,
            curve: None,
            signature: "ecdsa-with-SHA256".into(),
            is_ca: false,
            self_signed: false,
        }
    }

    fn audited(address: &str, codes: &[Code]) -> Audited {
        let mut facts = Facts {
            reachable: true,
            ..Facts::default()
        };
        facts.chain = vec![cert(2_000_000, "ff"), cert(1_500_000, "ee")];
        facts.protocols.set(TlsVersion::Tls12, true);
        facts.protocols.set(TlsVersion::Tls10, false);
        Audited {
            target: "service/web".into(),
            report: EndpointReport {
                host: "web.shop.svc".into(),
                port: 443,
                address: Some(address.into()),
                server_name: Some("web.shop.svc".into()),
                scanned_at: String::new(),
                grade: Grade::F,
                profile: None,
                findings: codes.iter().map(|c| Finding::new(*c, "m")).collect(),
                facts,
            },
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

    #[test]
    fn reconciles_and_probes_are_counted() {
        let metrics = Metrics::new().unwrap();
        metrics.reconciled(None);
        metrics.reconciled(Some("patch_status"));
        metrics.observe_probe(Duration::from_millis(120), true);
        let text = metrics.render().unwrap();
        assert!(text.contains(r#"tlsaudit_reconcile_total{result="success"} 1"#));
        assert!(text.contains(r#"tlsaudit_reconcile_total{result="error"} 1"#));
        assert!(text.contains(r#"tlsaudit_reconcile_errors_total{error="patch_status"} 1"#));
        assert!(text.contains(r#"tlsaudit_probe_duration_seconds_count{result="success"} 1"#));
    }
}
