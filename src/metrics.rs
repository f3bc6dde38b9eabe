//! The operator's Prometheus metrics: the definition of every metric (name, type, labels and their
//! values, help) and the operator's own Registry (never the global one). Input: the per-audit series
//! the reconcile computes (`controller::reconcile::series`), probe timings, reconcile outcomes.
//! Output: the text exposition served on /metrics, and docs/metrics.md ([`markdown`]; a test keeps
//! the file equal to it).
//!
//! An audit's series are replaced as a whole after every audit ([`Metrics::set_audit`]): the series
//! of the previous audit that are no longer produced are removed, so a vanished endpoint, a fixed
//! finding or a deleted audit leaves no stale series behind.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::facts::TlsVersion;
use crate::findings::Severity;
use crate::grade::Grade;

/// Labels every per-endpoint series carries, in this order.
pub const ENDPOINT_LABELS: [&str; 5] = ["namespace", "audit", "target", "endpoint", "server_name"];

/// The type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A count that only goes up.
    Counter,
    /// A distribution in buckets.
    Histogram,
}

impl Kind {
    /// The Prometheus type name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Counter => "counter",
            Self::Histogram => "histogram",
        }
    }
}

/// Which values a label takes (for docs/metrics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Names from the cluster (namespace, audit, Secret, …).
    Names,
    /// These strings.
    Fixed(&'static [&'static str]),
    /// A finding code (docs/findings.md).
    Codes,
    /// A severity.
    Severities,
    /// A grade.
    Grades,
    /// A protocol version.
    Versions,
    /// An [`ErrorCategory`].
    ErrorCategories,
}

/// One label of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// Label name.
    pub name: &'static str,
    /// The values it takes.
    pub values: Values,
}

const fn label(name: &'static str, values: Values) -> Label {
    Label { name, values }
}

const NAMESPACE: Label = label("namespace", Values::Names);
const AUDIT: Label = label("audit", Values::Names);

/// Values of `result` on `tlsaudit_probe_duration_seconds`.
pub const PROBE_RESULTS: [&str; 2] = ["success", "failure"];
/// Values of `kind` on `tlsaudit_probes_total` and `tlsaudit_probe_connections_total`.
pub const PROBE_KINDS: [&str; 2] = ["full", "light"];

/// A kind of probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// Every check.
    Full,
    /// At most three connections, compared with a full probe of another replica.
    Light,
}

impl ProbeKind {
    /// The `kind` label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        let [full, light] = PROBE_KINDS;
        match self {
            Self::Full => full,
            Self::Light => light,
        }
    }
}

/// Values of `group` on `tlsaudit_key_exchange_info`: the groups the validated (rustls, aws-lc-rs)
/// client offers, so the label stays bounded.
pub const KEY_EXCHANGE_GROUPS: [&str; 4] = ["X25519MLKEM768", "X25519", "secp256r1", "secp384r1"];
/// Values of `result` on `tlsaudit_reconcile_total`.
pub const RECONCILE_RESULTS: [&str; 2] = ["success", "error"];

/// Whose series a metric is: the label set in front of its own labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One endpoint of an audit: [`ENDPOINT_LABELS`] first.
    Endpoint,
    /// One audit, or the operator itself: only the metric's own labels.
    Own,
}

/// A metric's definition: what Prometheus registers and docs/metrics.md lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    /// Metric name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Whose series these are.
    pub scope: Scope,
    /// The metric's own labels (after [`ENDPOINT_LABELS`] for per-endpoint metrics).
    pub labels: &'static [Label],
    /// Help text, also the meaning in docs/metrics.md.
    pub help: &'static str,
}

impl Definition {
    /// Every label name, in registration order.
    #[must_use]
    pub fn label_names(&self) -> Vec<&'static str> {
        let own = self.labels.iter().map(|l| l.name);
        match self.scope {
            Scope::Endpoint => ENDPOINT_LABELS.into_iter().chain(own).collect(),
            Scope::Own => own.collect(),
        }
    }
}

macro_rules! families {
    ($( $variant:ident = $name:literal, $scope:ident [$($label:expr),*], $help:literal; )*) => {
        /// A per-audit metric family: a gauge whose series the reconcile recomputes after each audit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Family { $( #[doc = $help] $variant, )* }

        const FAMILY_DEFINITIONS: &[Definition] = &[
            $( Definition {
                name: $name,
                kind: Kind::Gauge,
                scope: Scope::$scope,
                labels: &[$($label),*],
                help: $help,
            }, )*
        ];

        impl Family {
            /// Every family, in documentation order.
            pub const ALL: &[Family] = &[ $( Family::$variant, )* ];

            /// The definition of this family.
            #[must_use]
            pub fn definition(self) -> &'static Definition {
                &FAMILY_DEFINITIONS[self as usize]
            }
        }
    };
}

families! {
    NotAfter = "tlsaudit_certificate_not_after_timestamp_seconds", Endpoint [],
        "Leaf certificate notAfter (Unix seconds), also when expired or untrusted.";
    NotBefore = "tlsaudit_certificate_not_before_timestamp_seconds", Endpoint [],
        "Leaf certificate notBefore (Unix seconds).";
    ChainNotAfter = "tlsaudit_chain_not_after_timestamp_seconds", Endpoint [],
        "Earliest notAfter in the served chain (Unix seconds).";
    CertificateInfo = "tlsaudit_certificate_info", Endpoint [
        label("subject", Values::Names), label("issuer", Values::Names),
        label("serial", Values::Names), label("sha256", Values::Names)
    ],
        "Identity of the served leaf certificate (always 1); identity is only here, never on the expiry series.";
    Finding = "tlsaudit_finding", Endpoint [label("code", Values::Codes), label("severity", Values::Severities)],
        "A present finding on an endpoint (always 1).";
    Findings = "tlsaudit_findings", Own [NAMESPACE, AUDIT, label("severity", Values::Severities)],
        "Findings per severity in an audit, over all its endpoints.";
    Grade = "tlsaudit_endpoint_grade", Endpoint [label("grade", Values::Grades)],
        "Grade of the endpoint (always 1).";
    ProtocolEnabled = "tlsaudit_protocol_enabled", Endpoint [label("version", Values::Versions)],
        "Whether a protocol version is accepted (0 or 1).";
    ProbeSuccess = "tlsaudit_probe_success", Endpoint [],
        "Whether a TLS handshake with the endpoint completed (0 or 1).";
    KeyExchange = "tlsaudit_key_exchange_info", Endpoint [label("group", Values::Fixed(&KEY_EXCHANGE_GROUPS))],
        "Key-exchange group the validated handshake negotiated (always 1; absent when it did not complete). The client offers X25519MLKEM768 first, as current browsers do.";
    ClientNotAfter = "tlsaudit_client_certificate_not_after_timestamp_seconds", Own [
        NAMESPACE, AUDIT, label("secret", Values::Names)
    ],
        "notAfter of the audit's mTLS client certificate (Unix seconds).";
    LastRun = "tlsaudit_audit_last_run_timestamp_seconds", Own [NAMESPACE, AUDIT],
        "When the audit last completed (Unix seconds).";
    Interval = "tlsaudit_audit_interval_seconds", Own [NAMESPACE, AUDIT],
        "The audit's configured interval in seconds (stale when time() - last run > 2 * interval).";
    Endpoints = "tlsaudit_audit_endpoints", Own [NAMESPACE, AUDIT],
        "Endpoints the audit covered.";
    EarliestNotAfter = "tlsaudit_audit_earliest_not_after_timestamp_seconds", Own [NAMESPACE, AUDIT],
        "Earliest leaf notAfter among all the audit's endpoints, also those without series of their own (Unix seconds).";
    Omitted = "tlsaudit_audit_endpoints_without_series", Own [NAMESPACE, AUDIT],
        "Endpoints of the audit beyond --metrics-max-endpoints: counted, but without series of their own.";
}

/// `tlsaudit_probe_duration_seconds`.
pub const PROBE_DURATION: Definition = Definition {
    name: "tlsaudit_probe_duration_seconds",
    kind: Kind::Histogram,
    scope: Scope::Own,
    labels: &[label("result", Values::Fixed(&PROBE_RESULTS))],
    help: "Wall time of one endpoint probe; result is whether any TLS handshake got an answer.",
};

/// `tlsaudit_probes_total`.
pub const PROBES: Definition = Definition {
    name: "tlsaudit_probes_total",
    kind: Kind::Counter,
    scope: Scope::Own,
    labels: &[label("kind", Values::Fixed(&PROBE_KINDS))],
    help: "Probes made, by kind: full (every check) or light (at most 3 connections proving a replica serves its Service's configuration).",
};

/// `tlsaudit_probe_connections_total`.
pub const PROBE_CONNECTIONS: Definition = Definition {
    name: "tlsaudit_probe_connections_total",
    kind: Kind::Counter,
    scope: Scope::Own,
    labels: &[label("kind", Values::Fixed(&PROBE_KINDS))],
    help: "TCP connections the probes made, by kind of probe.",
};

/// `tlsaudit_reconcile_total`.
pub const RECONCILES: Definition = Definition {
    name: "tlsaudit_reconcile_total",
    kind: Kind::Counter,
    scope: Scope::Own,
    labels: &[label("result", Values::Fixed(&RECONCILE_RESULTS))],
    help: "Reconciles by result.",
};

/// `tlsaudit_reconcile_errors_total`.
pub const RECONCILE_ERRORS: Definition = Definition {
    name: "tlsaudit_reconcile_errors_total",
    kind: Kind::Counter,
    scope: Scope::Own,
    labels: &[label("error", Values::ErrorCategories)],
    help: "Reconcile errors by category (the operator's own failures, never an endpoint's).",
};

/// `tlsaudit_build_info`.
pub const BUILD_INFO: Definition = Definition {
    name: "tlsaudit_build_info",
    kind: Kind::Gauge,
    scope: Scope::Own,
    labels: &[label("version", Values::Names)],
    help: "Build information (always 1).",
};

/// Every metric the operator exports, in documentation order.
#[must_use]
pub fn definitions() -> Vec<&'static Definition> {
    let mut all: Vec<&'static Definition> = Family::ALL.iter().map(|f| f.definition()).collect();
    all.extend([
        &PROBE_DURATION,
        &PROBES,
        &PROBE_CONNECTIONS,
        &RECONCILES,
        &RECONCILE_ERRORS,
        &BUILD_INFO,
    ]);
    all
}

macro_rules! error_categories {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// The `error` label of `tlsaudit_reconcile_errors_total`: a short static category per
        /// failed action. The reconcile's errors map onto these; every one is exported from the
        /// start (at 0), so alerts can tell "no errors" from "not exported".
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ErrorCategory { $( $(#[$doc])* $variant, )* }

        impl ErrorCategory {
            /// Every category.
            pub const ALL: &[ErrorCategory] = &[ $( ErrorCategory::$variant, )* ];

            /// The label value.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCategory::$variant => $name, )* }
            }
        }
    };
}

error_categories! {
    /// Reading a Secret failed.
    ReadSecret = "read_secret",
    /// Reading a ConfigMap failed.
    ReadConfigMap = "read_configmap",
    /// The informer caches did not fill in time.
    CacheSync = "cache_sync",
    /// Reading the ingress controller's Service or EndpointSlices failed.
    ReadControllerService = "read_controller_service",
    /// Writing the status failed.
    PatchStatus = "patch_status",
    /// The TlsAudit had no namespace.
    NoNamespace = "no_namespace",
    /// Listing webhook configurations, APIServices or CRDs, or reading their Services, failed.
    ReadClusterObjects = "read_cluster_objects",
    /// Listing Gateway API objects (or discovering the Gateway API) failed.
    ReadGatewayApi = "read_gateway_api",
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

/// The per-audit series as exposition text: per audit, per family, its sample lines.
///
/// Kept as text rather than in the `prometheus` registry: a registry series costs about 1 KiB
/// (label pairs, hashes, a proto copy at every scrape), a sample line its own length. At 120,000
/// series that is about 23 MB instead of a few hundred. A scrape sends these blocks as they are
/// (reference-counted, never copied), so it costs no second copy of the exposition.
type Rendered = BTreeMap<(String, String), BTreeMap<Family, Bytes>>;

/// The registry (operator-wide metrics) and the per-audit series.
pub struct Metrics {
    registry: Registry,
    probe_duration: HistogramVec,
    probes: IntCounterVec,
    probe_connections: IntCounterVec,
    reconciles: IntCounterVec,
    reconcile_errors: IntCounterVec,
    audits: Mutex<Rendered>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

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

fn opts(definition: &Definition) -> Opts {
    Opts::new(definition.name, definition.help)
}

impl Metrics {
    /// A fresh registry with every metric, `tlsaudit_build_info{version}` = 1, and every reconcile
    /// result and error category at 0.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let probe_duration = HistogramVec::new(
            HistogramOpts::new(PROBE_DURATION.name, PROBE_DURATION.help)
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            &PROBE_DURATION.label_names(),
        )?;
        registry.register(Box::new(probe_duration.clone()))?;
        let probes = IntCounterVec::new(opts(&PROBES), &PROBES.label_names())?;
        registry.register(Box::new(probes.clone()))?;
        let probe_connections =
            IntCounterVec::new(opts(&PROBE_CONNECTIONS), &PROBE_CONNECTIONS.label_names())?;
        registry.register(Box::new(probe_connections.clone()))?;
        for kind in PROBE_KINDS {
            probes.with_label_values(&[kind]);
            probe_connections.with_label_values(&[kind]);
        }
        let reconciles = IntCounterVec::new(opts(&RECONCILES), &RECONCILES.label_names())?;
        registry.register(Box::new(reconciles.clone()))?;
        let reconcile_errors =
            IntCounterVec::new(opts(&RECONCILE_ERRORS), &RECONCILE_ERRORS.label_names())?;
        registry.register(Box::new(reconcile_errors.clone()))?;
        let build_info = GaugeVec::new(opts(&BUILD_INFO), &BUILD_INFO.label_names())?;
        registry.register(Box::new(build_info.clone()))?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        for result in RECONCILE_RESULTS {
            reconciles.with_label_values(&[result]);
        }
        for category in ErrorCategory::ALL {
            reconcile_errors.with_label_values(&[category.as_str()]);
        }
        Ok(Self {
            registry,
            probe_duration,
            probes,
            probe_connections,
            reconciles,
            reconcile_errors,
            audits: Mutex::new(BTreeMap::new()),
        })
    }

    /// Replaces the per-audit series of one audit with `series` (a series given twice keeps its
    /// last value; one whose label count does not fit its family is dropped).
    pub fn set_audit(&self, namespace: &str, audit: &str, series: &[Series]) {
        let mut latest: BTreeMap<(Family, &[String]), f64> = BTreeMap::new();
        for s in series {
            latest.insert((s.family, s.labels.as_slice()), s.value);
        }
        let mut text: BTreeMap<Family, String> = BTreeMap::new();
        for ((family, labels), value) in latest {
            sample(
                text.entry(family).or_default(),
                family.definition(),
                labels,
                value,
            );
        }
        let blocks = text
            .into_iter()
            .filter(|(_, lines)| !lines.is_empty())
            .map(|(family, mut lines)| {
                lines.shrink_to_fit();
                (family, Bytes::from(lines))
            })
            .collect();
        let mut audits = self.audits.lock().unwrap_or_else(PoisonError::into_inner);
        audits.insert((namespace.to_owned(), audit.to_owned()), blocks);
    }

    /// Removes every series of a deleted audit.
    pub fn remove_audit(&self, namespace: &str, audit: &str) {
        let mut audits = self.audits.lock().unwrap_or_else(PoisonError::into_inner);
        audits.remove(&(namespace.to_owned(), audit.to_owned()));
    }

    /// Removes the series of every audit not in `keep` (after a relist that missed deletions).
    pub fn retain_audits(&self, keep: &BTreeSet<(String, String)>) {
        let mut audits = self.audits.lock().unwrap_or_else(PoisonError::into_inner);
        audits.retain(|key, _| keep.contains(key));
    }

    /// Records one probe's wall time.
    pub fn observe_probe(&self, elapsed: Duration, success: bool) {
        let [ok, failed] = PROBE_RESULTS;
        let result = if success { ok } else { failed };
        self.probe_duration
            .with_label_values(&[result])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one probe of `kind` that made `connections` connections.
    pub fn count_probe(&self, kind: ProbeKind, connections: u32) {
        self.probes.with_label_values(&[kind.as_str()]).inc();
        self.probe_connections
            .with_label_values(&[kind.as_str()])
            .inc_by(u64::from(connections));
    }

    /// Counts a reconcile; `error` is the category of its failure.
    pub fn reconciled(&self, error: Option<ErrorCategory>) {
        let [success, failure] = RECONCILE_RESULTS;
        match error {
            None => self.reconciles.with_label_values(&[success]).inc(),
            Some(category) => {
                self.reconciles.with_label_values(&[failure]).inc();
                self.reconcile_errors
                    .with_label_values(&[category.as_str()])
                    .inc();
            }
        }
    }

    /// The text exposition in pieces, to be sent one after another: the operator-wide metrics,
    /// then every per-audit family that has a series (each family once, with its HELP and TYPE).
    /// The per-audit pieces are shared with the store, not copied.
    pub fn render_chunks(&self) -> Result<Vec<Bytes>, MetricsError> {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .map_err(|e| MetricsError::Encode(e.to_string()))?;
        let mut chunks = vec![Bytes::from(buf)];
        let audits = self.audits.lock().unwrap_or_else(PoisonError::into_inner);
        for family in Family::ALL {
            let mut blocks = audits.values().filter_map(|a| a.get(family)).peekable();
            if blocks.peek().is_none() {
                continue;
            }
            let definition = family.definition();
            let help = definition.help.replace('\\', "\\\\").replace('\n', "\\n");
            chunks.push(Bytes::from(format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n",
                name = definition.name,
                kind = definition.kind.as_str()
            )));
            chunks.extend(blocks.cloned());
        }
        Ok(chunks)
    }

    /// The text exposition as one string ([`Metrics::render_chunks`] joined).
    pub fn render(&self) -> Result<String, MetricsError> {
        let chunks = self.render_chunks()?;
        let mut text = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
        for chunk in &chunks {
            text.extend_from_slice(chunk);
        }
        String::from_utf8(text).map_err(|e| MetricsError::Encode(e.to_string()))
    }
}

/// Appends one sample line of `definition` to `out`: labels sorted by name, values escaped as
/// the text format requires (backslash, double quote, newline).
fn sample(out: &mut String, definition: &Definition, labels: &[String], value: f64) {
    let names = definition.label_names();
    if names.len() != labels.len() {
        return;
    }
    let mut pairs: Vec<(&str, &str)> = names
        .into_iter()
        .zip(labels.iter().map(String::as_str))
        .collect();
    pairs.sort_unstable();
    out.push_str(definition.name);
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        out.push_str(if i == 0 { "{" } else { "," });
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !labels.is_empty() {
        out.push('}');
    }
    out.push(' ');
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
    out.push('\n');
}

fn values_text(values: Values) -> Option<String> {
    let list = |names: Vec<&str>| names.join(", ");
    match values {
        Values::Names => None,
        Values::Fixed(names) => Some(list(names.to_vec())),
        Values::Codes => Some("see [findings.md](findings.md)".to_owned()),
        Values::Severities => Some(list(Severity::ALL.iter().map(|s| s.as_str()).collect())),
        Values::Grades => Some(format!(
            "{}, best to worst",
            list(Grade::ALL.iter().map(|g| g.as_str()).collect())
        )),
        Values::Versions => Some(list(TlsVersion::ALL.iter().map(|v| v.name()).collect())),
        Values::ErrorCategories => Some(list(
            ErrorCategory::ALL.iter().map(|c| c.as_str()).collect(),
        )),
    }
}

fn labels_text(definition: &Definition) -> String {
    let mut parts = Vec::new();
    if definition.scope == Scope::Endpoint {
        parts.push("(per-endpoint)".to_owned());
    }
    for l in definition.labels {
        parts.push(match values_text(l.values) {
            Some(values) => format!("{} ({values})", l.name),
            None => l.name.to_owned(),
        });
    }
    parts.join(", ")
}

/// docs/metrics.md: every metric as a Markdown table (a test keeps the file equal to this).
#[must_use]
pub fn markdown() -> String {
    let mut out = format!(
        "# Metrics\n\n\
         Generated from `src/metrics.rs` by `tlsaudit metrics`; a test keeps this page equal to it.\n\
         The operator serves these series on `:8080/metrics` from its own Prometheus registry. The table\n\
         is a contract: `scripts/test-chart.sh` checks every metric name that an alert or the dashboard\n\
         uses against it, and against what the operator really exported during the e2e tests.\n\n\
         Per-endpoint series carry the labels {}.\n\
         `endpoint` is `host:port` of the dialled address (e.g. `10.0.0.5:8443`), `target` what the\n\
         audit named (`service/NAME`, `ingress/NAME`, `endpoint/HOST`), `server_name` the SNI and\n\
         verification name.\n\n\
         | metric | type | labels | meaning |\n|---|---|---|---|\n",
        ENDPOINT_LABELS.join(", ")
    );
    for d in definitions() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            d.name,
            d.kind.as_str(),
            labels_text(d),
            d.help
        );
    }
    out.push_str(
        "\nCardinality is bounded: per-endpoint series exist for at most `--metrics-max-endpoints` \
         (default 100)\nendpoints of each audit, the worst first (most severe finding, then grade) as in \
         the status; every\nendpoint still counts in `tlsaudit_findings`, `tlsaudit_audit_endpoints` and\n\
         `tlsaudit_audit_earliest_not_after_timestamp_seconds`. About 13 series per endpoint: at 50,000\n\
         endpoints without the bound, the registry alone held about 1 GiB (BENCHMARKS.md, \"Controller \
         at scale\").\n\n\
         Series of a deleted audit or a vanished endpoint are removed; a replica that loses the Lease \
         clears its\nseries. Identity (serial, fingerprint) lives only in `tlsaudit_certificate_info`, \
         never on the expiry\nseries, so a renewed certificate does not leave stale expiry series \
         behind.\nAn operator-down alert uses `up{job=~\".*tlsaudit.*\"} == 0` or \
         `absent(tlsaudit_build_info)`.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_and_probes_are_counted() {
        let metrics = Metrics::new().unwrap();
        metrics.reconciled(None);
        metrics.reconciled(Some(ErrorCategory::PatchStatus));
        metrics.observe_probe(Duration::from_millis(120), true);
        let text = metrics.render().unwrap();
        assert!(text.contains(r#"tlsaudit_reconcile_total{result="success"} 1"#));
        assert!(text.contains(r#"tlsaudit_reconcile_total{result="error"} 1"#));
        assert!(text.contains(r#"tlsaudit_reconcile_errors_total{error="patch_status"} 1"#));
        assert!(text.contains(r#"tlsaudit_probe_duration_seconds_count{result="success"} 1"#));
    }

    #[test]
    fn every_error_category_is_exported_from_the_start() {
        let text = Metrics::new().unwrap().render().unwrap();
        for category in ErrorCategory::ALL {
            let line = format!(
                r#"tlsaudit_reconcile_errors_total{{error="{}"}} 0"#,
                category.as_str()
            );
            assert!(text.contains(&line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn every_definition_is_registered_under_its_name_and_type() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_probe(Duration::from_millis(5), false);
        let text = metrics.render().unwrap();
        // Per-audit families have series only after an audit (`reconcile::series` tests them).
        for d in [
            &PROBE_DURATION,
            &PROBES,
            &PROBE_CONNECTIONS,
            &RECONCILES,
            &RECONCILE_ERRORS,
            &BUILD_INFO,
        ] {
            let line = format!("# TYPE {} {}", d.name, d.kind.as_str());
            assert!(text.contains(&line), "missing {line}\n{text}");
        }
        let all = definitions();
        let unique: BTreeSet<&str> = all.iter().map(|d| d.name).collect();
        assert_eq!(unique.len(), all.len());
        assert_eq!(all.len(), 22);
    }

    #[test]
    fn docs_metrics_md_is_the_generated_contract() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == markdown(),
            "docs/metrics.md is stale: run `cargo run -- metrics > docs/metrics.md`"
        );
    }
}
