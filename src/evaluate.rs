//! Facts + policy + now → findings (pure). Time is a parameter, never read here.
//! The `handshake` sub-module holds the key-exchange, TLS 1.2 hardening, mTLS-demand and HTTP-head checks.

mod handshake;

use crate::facts::{CertFacts, ClientAuthDemand, Facts, FailureKind, TlsVersion};
use crate::findings::{Code, Finding, Severity};
use crate::policy::{Policy, Profile};
use crate::tls::suites::{self, Suite};

const DAY: i64 = 86_400;
/// Browsers and public CAs cap leaf validity at 398 days.
const MAX_VALIDITY_DAYS: i64 = 398;
/// A+ and `http.no_hsts` need HSTS of at least 180 days.
pub const HSTS_MIN_SECONDS: u64 = 180 * 86_400;

/// Judges the facts of one endpoint. `server_name` is the name a client verifies against.
#[must_use]
pub fn evaluate(
    facts: &Facts,
    server_name: Option<&str>,
    policy: &Policy,
    now: jiff::Timestamp,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let now = now.as_second();
    reachability(facts, &mut out);
    if facts.reachable {
        protocols(facts, policy, &mut out);
        ciphers(facts, &mut out);
        features(facts, &mut out);
    }
    if let Some(leaf) = facts.chain.first() {
        certificate(facts, leaf, server_name, policy, now, &mut out);
        chain(facts, leaf, &mut out);
    }
    if facts.trust.unparsable > 0 {
        let n = facts.trust.unparsable;
        push(
            &mut out,
            Code::CertUnparsable,
            format!("{n} served certificate(s) cannot be parsed as X.509"),
        );
    }
    if facts.negotiated.is_some() || !facts.chain.is_empty() {
        extensions(facts, now, &mut out);
    }
    client_auth(facts, policy, now, &mut out);
    if facts.reachable {
        handshake::judge(facts, policy, &mut out);
    }
    out.retain(|f| !policy.ignore.contains(&f.code));
    out
}

fn push(out: &mut Vec<Finding>, code: Code, message: String) {
    out.push(Finding::new(code, message));
}

fn reachability(facts: &Facts, out: &mut Vec<Finding>) {
    let Some(failure) = &facts.failure else {
        return;
    };
    let alert = failure.alert.as_deref();
    let client_cert_alert = facts.client_auth.demand == ClientAuthDemand::Required;
    let code = match failure.kind {
        FailureKind::Refused => Code::ConnectRefused,
        FailureKind::Timeout => Code::ConnectTimeout,
        FailureKind::Reset if !facts.reachable => Code::ConnectReset,
        FailureKind::Unreachable => Code::ConnectFailed,
        FailureKind::NotTls => Code::TlsNotTls,
        // mTLS outcomes and legacy-only servers have findings of their own.
        _ if client_cert_alert => return,
        _ if facts.reachable && legacy_only(facts) => return,
        FailureKind::Reset | FailureKind::Handshake => Code::TlsHandshakeFailed,
    };
    let mut message = match alert {
        Some(alert) => format!("handshake failed with alert {alert}: {}", failure.detail),
        None => failure.detail.clone(),
    };
    let mut finding = Finding::new(code, String::new());
    if facts.reachable && code == Code::TlsHandshakeFailed {
        message =
            format!("a current client (TLS 1.2/1.3, ECDHE AEAD suites) cannot connect: {message}");
        finding = finding.with_severity(Severity::High);
    }
    finding.message = message;
    out.push(finding);
}

fn legacy_only(facts: &Facts) -> bool {
    let accepted = facts.protocols.accepted();
    !accepted.is_empty() && accepted.iter().all(|v| *v < TlsVersion::Tls12)
}

fn protocols(facts: &Facts, policy: &Policy, out: &mut Vec<Finding>) {
    let p = &facts.protocols;
    for (version, code) in [
        (TlsVersion::Ssl3, Code::ProtocolSslv3),
        (TlsVersion::Tls10, Code::ProtocolTls10),
        (TlsVersion::Tls11, Code::ProtocolTls11),
    ] {
        if p.get(version) == Some(true) {
            push(out, code, format!("the server accepts {}", version.name()));
        }
    }
    if legacy_only(facts) {
        let names: Vec<&str> = p.accepted().iter().map(|v| v.name()).collect();
        push(
            out,
            Code::ProtocolLegacyOnly,
            format!(
                "only {} accepted; TLS 1.2 and 1.3 are refused",
                names.join(", ")
            ),
        );
        return;
    }
    if p.tls1_2 == Some(false) && p.tls1_3 == Some(true) && policy.profile != Profile::Modern {
        push(
            out,
            Code::ProtocolNoTls12,
            "TLS 1.3 only; clients limited to TLS 1.2 cannot connect".into(),
        );
    }
    if p.tls1_3 == Some(false) {
        push(out, Code::ProtocolNoTls13, "TLS 1.3 is not accepted".into());
    }
}

/// A finding raised when any accepted suite matches the predicate.
type Check<'a> = (Code, &'a dyn Fn(&Suite) -> bool, &'a str);

fn ciphers(facts: &Facts, out: &mut Vec<Finding>) {
    let accepted: Vec<(u16, &Suite)> = facts
        .ciphers
        .iter()
        .flat_map(|v| v.suites.iter())
        .filter_map(|s| suites::lookup(s.id).map(|suite| (s.id, suite)))
        .collect();
    let names_where = |pred: &dyn Fn(&Suite) -> bool| -> Vec<String> {
        let mut names: Vec<String> = accepted
            .iter()
            .filter(|(_, s)| pred(s))
            .map(|(id, _)| suites::name(*id))
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let checks: [Check<'_>; 6] = [
        (
            Code::CipherNull,
            &Suite::is_null,
            "NULL (unencrypted) suites accepted",
        ),
        (
            Code::CipherAnon,
            &Suite::is_anon,
            "anonymous suites accepted",
        ),
        (
            Code::CipherExport,
            &Suite::is_export,
            "EXPORT suites accepted",
        ),
        (Code::CipherRc4, &Suite::is_rc4, "RC4 suites accepted"),
        (
            Code::Cipher3des,
            &Suite::is_des_or_3des,
            "64-bit block (3DES/DES) suites accepted",
        ),
        (
            Code::CipherNoForwardSecrecy,
            &|s: &Suite| !s.forward_secret() && !s.is_anon(),
            "suites without forward secrecy accepted",
        ),
    ];
    for (code, pred, what) in checks {
        let names = names_where(pred);
        if !names.is_empty() {
            push(out, code, format!("{what}: {}", names.join(", ")));
        }
    }
    if !accepted.is_empty() && !accepted.iter().any(|(_, s)| s.aead()) {
        push(
            out,
            Code::CipherCbcOnly,
            "no AEAD suite is accepted; every suite uses CBC".into(),
        );
    }
    for version in &facts.ciphers {
        let weak = |s: &Suite| {
            !s.forward_secret() || !s.aead() || s.is_rc4() || s.is_des_or_3des() || s.is_null()
        };
        let first = version.suites.first();
        if version.server_order == Some(true)
            && let Some(first) = first
            && suites::lookup(first.id).is_some_and(weak)
            && accepted.iter().any(|(_, s)| !weak(s))
        {
            push(
                out,
                Code::CipherWeakPreferred,
                format!("{} prefers {}", version.version.name(), first.name),
            );
        }
        // Client order is Mozilla's advice when every suite is strong; with a weak one accepted a
        // client may pick it.
        if version.server_order == Some(false)
            && version.version == TlsVersion::Tls12
            && version
                .suites
                .iter()
                .filter_map(|s| suites::lookup(s.id))
                .any(weak)
        {
            push(
                out,
                Code::CipherNoServerPreference,
                "TLS 1.2 follows the client's suite order while weak suites are accepted".into(),
            );
        }
    }
}

fn features(facts: &Facts, out: &mut Vec<Finding>) {
    let f = &facts.features;
    // TLS 1.3 clients detect a downgrade to 1.2 by the ServerHello random (RFC 8446 4.1.3); the SCSV
    // matters where a server still accepts TLS 1.1 or older.
    let legacy = facts
        .protocols
        .accepted()
        .iter()
        .any(|v| *v <= TlsVersion::Tls11);
    if f.fallback_scsv == Some(false) && legacy {
        push(
            out,
            Code::TlsNoFallbackScsv,
            "a downgraded handshake carrying TLS_FALLBACK_SCSV was accepted".into(),
        );
    }
    let pre13 = facts
        .protocols
        .accepted()
        .iter()
        .any(|v| *v <= TlsVersion::Tls12);
    if f.secure_renegotiation == Some(false) && pre13 {
        push(
            out,
            Code::TlsInsecureRenegotiation,
            "no renegotiation_info (RFC 5746) in the ServerHello".into(),
        );
    }
    if let Some(bits) = f.dh_bits.filter(|bits| *bits < 2048) {
        let severity = if bits < 1024 {
            Severity::High
        } else {
            Severity::Medium
        };
        let message = format!("DHE suites use a {bits}-bit Diffie-Hellman group");
        out.push(Finding::new(Code::CipherWeakDh, message).with_severity(severity));
    }
    if f.compression == Some(true) {
        push(
            out,
            Code::TlsCompression,
            "the server chose DEFLATE compression".into(),
        );
    }
    if f.heartbeat == Some(true) {
        push(
            out,
            Code::TlsHeartbeat,
            "the server answers the heartbeat extension".into(),
        );
    }
    // A head cut short without the header leaves HSTS unknown (`http.head_unreadable`), not absent.
    let unknown = f.hsts_max_age.is_none() && facts.http.head_incomplete.is_some();
    if f.http == Some(true) && !unknown && f.hsts_max_age.is_none_or(|age| age < HSTS_MIN_SECONDS) {
        let what = f.hsts_max_age.map_or_else(
            || "no Strict-Transport-Security header".to_owned(),
            |a| format!("HSTS max-age={a}"),
        );
        push(out, Code::HttpNoHsts, format!("{what} on GET /"));
    }
}

fn days(seconds: i64) -> i64 {
    seconds.div_euclid(DAY)
}

fn certificate(
    facts: &Facts,
    leaf: &CertFacts,
    name: Option<&str>,
    policy: &Policy,
    now: i64,
    out: &mut Vec<Finding>,
) {
    validity(leaf, policy, now, out);
    if let Some(name) = name {
        names(leaf, name, out);
    }
    trust(facts, leaf, out);
    keys(facts, out);
}

fn validity(leaf: &CertFacts, policy: &Policy, now: i64, out: &mut Vec<Finding>) {
    if now > leaf.not_after_unix {
        push(
            out,
            Code::CertExpired,
            format!(
                "the certificate expired on {} ({} days ago)",
                leaf.not_after,
                days(now - leaf.not_after_unix)
            ),
        );
    } else if now < leaf.not_before_unix {
        push(
            out,
            Code::CertNotYetValid,
            format!("the certificate is valid only from {}", leaf.not_before),
        );
    } else {
        let left = days(leaf.not_after_unix - now);
        if left < i64::from(policy.warning_days) {
            let severity = if left < i64::from(policy.critical_days) {
                Severity::High
            } else {
                Severity::Medium
            };
            let message = format!(
                "the certificate expires on {} ({left} days left)",
                leaf.not_after
            );
            out.push(Finding::new(Code::CertExpiringSoon, message).with_severity(severity));
        }
    }
    let validity = days(leaf.not_after_unix - leaf.not_before_unix);
    if validity > MAX_VALIDITY_DAYS {
        push(
            out,
            Code::CertLongValidity,
            format!("the leaf is valid for {validity} days (more than {MAX_VALIDITY_DAYS})"),
        );
    }
}

fn names(leaf: &CertFacts, name: &str, out: &mut Vec<Finding>) {
    if leaf.sans.is_empty() {
        push(
            out,
            Code::CertNoSan,
            format!(
                "no subjectAltName; CN={}",
                leaf.common_name.as_deref().unwrap_or("-")
            ),
        );
    }
    if !crate::cert::covers(&leaf.sans, name) {
        let cn_note = match &leaf.common_name {
            Some(cn)
                if leaf.sans.is_empty() && crate::cert::covers(std::slice::from_ref(cn), name) =>
            {
                " (only the Common Name matches, which clients ignore)"
            }
            _ => "",
        };
        let sans = if leaf.sans.is_empty() {
            "none".to_owned()
        } else {
            leaf.sans.join(", ")
        };
        push(
            out,
            Code::CertHostnameMismatch,
            format!("{name} is not covered by the certificate's SANs: {sans}{cn_note}"),
        );
    }
}

fn trust(facts: &Facts, leaf: &CertFacts, out: &mut Vec<Finding>) {
    let alert = facts.trust.alert.as_deref().unwrap_or("unknown_ca");
    if leaf.self_signed && !facts.trust.verified {
        push(
            out,
            Code::CertSelfSigned,
            format!(
                "self-signed certificate {}; clients fail with {alert}",
                leaf.subject
            ),
        );
    } else if facts.trust.path_found == Some(false) {
        let detail = facts
            .trust
            .error
            .as_deref()
            .unwrap_or("no path to a trust anchor");
        push(
            out,
            Code::CertUntrusted,
            format!(
                "issuer {} is not trusted ({detail}); clients fail with {alert}",
                leaf.issuer
            ),
        );
    }
}

fn keys(facts: &Facts, out: &mut Vec<Finding>) {
    for cert in facts.chain.iter().filter(|c| !(c.self_signed && c.is_ca)) {
        let weak_key = match cert.key_type.as_str() {
            "RSA" | "DSA" => cert.key_bits < 2048,
            "EC" => cert.key_bits < 256,
            _ => false,
        };
        if weak_key {
            push(
                out,
                Code::CertWeakKey,
                format!(
                    "{} has a {}-bit {} key",
                    cert.subject, cert.key_bits, cert.key_type
                ),
            );
        }
        let sig = cert.signature.to_ascii_lowercase();
        if sig.contains("sha1") || sig.contains("md5") {
            push(
                out,
                Code::CertWeakSignature,
                format!("{} is signed with {}", cert.subject, cert.signature),
            );
        }
    }
}

fn chain(facts: &Facts, leaf: &CertFacts, out: &mut Vec<Finding>) {
    if let Some(issuer) = &facts.trust.missing_issuer
        && !leaf.self_signed
    {
        push(
            out,
            Code::ChainIncomplete,
            format!(
                "the issuer {issuer} is neither served nor a trust anchor; {} certificate(s) served",
                facts.chain.len()
            ),
        );
    }
    if facts.trust.ordered == Some(false) {
        push(
            out,
            Code::ChainWrongOrder,
            "the served certificates are not in leaf-to-root order".into(),
        );
    }
    for cert in facts.chain.iter().skip(1).filter(|c| !c.self_signed) {
        if cert.not_after_unix < leaf.not_after_unix {
            push(
                out,
                Code::ChainExpiringIntermediate,
                format!(
                    "intermediate {} expires on {}, before the leaf ({})",
                    cert.subject, cert.not_after, leaf.not_after
                ),
            );
        }
    }
}

fn extensions(facts: &Facts, now: i64, out: &mut Vec<Finding>) {
    if facts.sni.handshake_without_sni == Some(false) {
        let alert = facts.sni.alert.as_deref().unwrap_or("no alert");
        push(
            out,
            Code::SniRequired,
            format!("a handshake without SNI fails ({alert})"),
        );
    } else if facts.sni.default_cert_matches == Some(false) {
        push(
            out,
            Code::SniDefaultCertMismatch,
            "without SNI the server presents a certificate that does not cover the name".into(),
        );
    }
    if facts.alpn.h2 == Some(false) && facts.features.http != Some(false) {
        let selected = facts.alpn.selected.as_deref().unwrap_or("none");
        push(
            out,
            Code::AlpnNoH2,
            format!("offered h2 and http/1.1; the server selected {selected}"),
        );
    }
    let ocsp = &facts.ocsp;
    if !ocsp.stapled {
        push(out, Code::OcspNotStapled, "no OCSP response stapled".into());
    } else if ocsp.status.as_deref() == Some("revoked") {
        push(
            out,
            Code::OcspRevoked,
            "the stapled OCSP response says revoked".into(),
        );
    } else if ocsp.next_update_unix.is_some_and(|next| next < now) {
        push(
            out,
            Code::OcspStale,
            format!(
                "the stapled OCSP response's nextUpdate {} has passed",
                ocsp.next_update.as_deref().unwrap_or("-")
            ),
        );
    }
}

fn client_auth(facts: &Facts, policy: &Policy, now: i64, out: &mut Vec<Finding>) {
    let auth = &facts.client_auth;
    let alert = auth.alert.as_deref().unwrap_or("none");
    match (auth.demand, auth.identity_accepted) {
        (ClientAuthDemand::Required, None) => {
            push(
                out,
                Code::MtlsRequired,
                "the server requires a client certificate".into(),
            );
            push(
                out,
                Code::MtlsClientCertMissing,
                format!(
                    "no client certificate supplied; the server refused the handshake ({alert})"
                ),
            );
        }
        (ClientAuthDemand::Required, Some(_)) => {
            push(
                out,
                Code::MtlsRequired,
                "the server requires a client certificate".into(),
            );
        }
        _ => {}
    }
    if auth.identity_accepted == Some(false) {
        push(
            out,
            Code::MtlsClientCertRejected,
            format!("the server rejected the client certificate ({alert})"),
        );
    }
    if let Some(cert) = &auth.client_cert {
        let left = days(cert.not_after_unix - now);
        if left < i64::from(policy.warning_days) {
            let severity = if left < i64::from(policy.critical_days) {
                Severity::High
            } else {
                Severity::Medium
            };
            let message = if left < 0 {
                format!(
                    "the client certificate {} expired on {}",
                    cert.subject, cert.not_after
                )
            } else {
                format!(
                    "the client certificate {} expires on {} ({left} days left)",
                    cert.subject, cert.not_after
                )
            };
            out.push(Finding::new(Code::MtlsClientCertExpiring, message).with_severity(severity));
        }
    }
}
