//! What the bench measures and reports: process memory and CPU from /proc, the apiserver's request
//! counters, the audits' statuses and their size, and one scrape of the operator's /metrics.
//! Input: process ids, a loopback client, the metrics address. Output: numbers and JSON values
//! for the modes' reports.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kube::api::ListParams;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tlsaudit::crd::{TlsAudit, TlsAuditStatus};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::{AUDIT, BENCH_LABEL, Shape};

/// Seconds, rounded to hundredths.
pub(crate) fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 100.0).round() / 100.0
}

/// A count as a float.
#[expect(clippy::cast_precision_loss, reason = "counts far below 2^53")]
pub(crate) fn f64_of(n: u64) -> f64 {
    n as f64
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `VmHWM` and `VmRSS` of a process in MiB.
pub(crate) fn memory(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0.0, |kb| (f64_of(kb) / 1024.0 * 10.0).round() / 10.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// User + system CPU seconds of a process (USER_HZ is 100 on Linux).
pub(crate) fn cpu(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    f64_of(tick(11) + tick(12)) / 100.0
}

/// `apiserver_request_total` summed by `verb resource[/subresource]`.
pub(crate) async fn api_requests(client: &Client) -> anyhow::Result<BTreeMap<String, u64>> {
    let request = hyper::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let (resource, sub) = (label("resource"), label("subresource"));
        if resource.is_empty() {
            continue;
        }
        let key = if sub.is_empty() {
            format!("{} {resource}", label("verb"))
        } else {
            format!("{} {resource}/{sub}", label("verb"))
        };
        let n = value.trim().parse::<f64>().unwrap_or(0.0);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a counter"
        )]
        let n = n as u64;
        *out.entry(key).or_default() += n;
    }
    Ok(out)
}

/// Counters that grew from `before` to `after`, by how much.
pub(crate) fn delta(
    after: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Every bench audit's status, listed in pages so that one list stays small.
pub(crate) async fn statuses(
    client: &Client,
    lists: &AtomicU64,
) -> anyhow::Result<BTreeMap<String, Option<TlsAuditStatus>>> {
    let api: Api<TlsAudit> = Api::all(client.clone());
    let mut out = BTreeMap::new();
    let mut params = ListParams::default()
        .labels(&format!("{BENCH_LABEL}=scale"))
        .limit(20);
    loop {
        lists.fetch_add(1, Ordering::SeqCst);
        let page = api.list(&params).await?;
        for a in page.items {
            out.insert(a.namespace().unwrap_or_default(), a.status);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(out),
        }
    }
}

/// Whether a status lists all `endpoints` and says Ready=True.
pub(crate) fn complete(status: Option<&TlsAuditStatus>, endpoints: u32) -> bool {
    status.is_some_and(|s| {
        s.summary.as_ref().is_some_and(|x| x.endpoints == endpoints)
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// When the status says the audit last ran.
pub(crate) fn last_audit(status: Option<&TlsAuditStatus>) -> Option<jiff::Timestamp> {
    status.and_then(|s| s.last_audit_time.as_ref()).map(|t| t.0)
}

/// One /metrics scrape of the operator, streamed as Prometheus reads it (HTTP/1.1, so the body
/// may come chunked): body bytes, series per metric name, seconds. Nothing but one line at a time
/// is held, so the scrape does not inflate the RSS it is part of.
pub(crate) async fn scrape(addr: std::net::SocketAddr) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut reader = tokio::io::BufReader::with_capacity(1 << 16, stream);
    let mut chunked = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            anyhow::bail!("/metrics: the connection closed inside the response head");
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if text.trim_end().is_empty() {
            break;
        }
        chunked |= text.starts_with("transfer-encoding:") && text.contains("chunked");
    }
    let mut count = Exposition::default();
    if chunked {
        let mut partial = Vec::new();
        loop {
            line.clear();
            reader.read_until(b'\n', &mut line).await?;
            let size = std::str::from_utf8(&line)?
                .trim()
                .split(';')
                .next()
                .unwrap_or("");
            let size = usize::from_str_radix(size, 16)?;
            if size == 0 {
                break;
            }
            let mut data = vec![0; size];
            reader.read_exact(&mut data).await?;
            let mut rest = &data[..];
            while let Some(at) = rest.iter().position(|&b| b == b'\n') {
                partial.extend_from_slice(&rest[..at]);
                count.line(&partial);
                partial.clear();
                rest = &rest[at + 1..];
            }
            partial.extend_from_slice(rest);
            let mut crlf = [0; 2];
            reader.read_exact(&mut crlf).await?;
        }
        count.line(&partial);
    } else {
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).await? == 0 {
                break;
            }
            count.line(line.strip_suffix(b"\n").unwrap_or(&line));
        }
    }
    Ok(json!({
        "seconds": secs(started.elapsed()),
        "bytes": count.bytes,
        "series": count.series,
        "series_by_metric": count.by_name,
    }))
}

/// The lines of an exposition-format body, counted.
#[derive(Default)]
struct Exposition {
    bytes: u64,
    series: u64,
    by_name: BTreeMap<String, u64>,
}

impl Exposition {
    /// Counts one line (without its newline).
    fn line(&mut self, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        self.bytes += line.len() as u64 + 1;
        if line.starts_with(b"#") {
            return;
        }
        self.series += 1;
        let name = line
            .split(|&b| b == b'{' || b == b' ')
            .next()
            .unwrap_or_default();
        *self
            .by_name
            .entry(String::from_utf8_lossy(name).into_owned())
            .or_default() += 1;
    }
}

/// The size of one audit as the apiserver returns it, and of its status alone.
pub(crate) async fn status_size(
    client: &Client,
    shape: Shape,
) -> anyhow::Result<serde_json::Value> {
    let ns = Shape::namespace(shape.namespaces.saturating_sub(1));
    let path = format!("{}/{AUDIT}", TlsAudit::url_path(&(), Some(&ns)));
    let raw = client
        .request_text(hyper::Request::get(path).body(Vec::new())?)
        .await?;
    let mut value: serde_json::Value = serde_json::from_str(&raw)?;
    let status = serde_json::to_vec(&value["status"])?.len();
    let listed = value["status"]["endpoints"].as_array().map_or(0, Vec::len);
    let omitted = value["status"]["omittedEndpoints"].clone();
    if let Some(meta) = value["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    Ok(json!({
        "audit_json_bytes": raw.len(),
        "audit_json_bytes_without_managed_fields": serde_json::to_vec(&value)?.len(),
        "status_json_bytes": status,
        "endpoints_listed": listed,
        "omitted_endpoints": omitted,
    }))
}
