//! Facts + policy + now → findings (pure). Time is a parameter, never read here.
//! `client_auth` judges the client-certificate demand and the audit's own client certificate; the
//! `handshake` sub-module holds the key-exchange, TLS 1.2 hardening, mTLS-demand and HTTP-head checks.

mod client_auth;
mod handshake;

use crate::facts::{CertFacts, ClientAuthDemand, Facts, FailureKind, Protocol, TlsVersion};
use crate::findings::{Code, Finding, Severity};
use crate::lifetime;
use crate::policy::{Policy, Profile};
use crate::tls::suites::{self, Suite};

const DAY: i64 = 86_400;
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
    probe_limits(facts, &mut out);
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
    client_auth::client_auth(facts, policy, now, &mut out);
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
        FailureKind::Oversized => Code::TlsOversizedHandshake,
        FailureKind::Malformed => Code::TlsMalformedHandshake,
        FailureKind::InvalidTarget => Code::ConfigInvalid,
        FailureKind::TlsDeclined => match facts.protocol {
            Protocol::Postgres => Code::PostgresSslDisabled,
            Protocol::Tls => Code::TlsNotTls,
        },
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

/// The probe's own limits: an endpoint that outlasted its overall deadline.
fn probe_limits(facts: &Facts, out: &mut Vec<Finding>) {
    if facts.deadline_exceeded {
        let (ms, connections) = (facts.duration_ms, facts.connections);
        let message = format!(
            "the probe stopped at the endpoint's deadline after {ms} ms and {connections} \
             connections; suite lists marked incomplete may lack suites"
        );
        push(out, Code::ProbeDeadlineExceeded, message);
    }
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
            "TLS 1.3 only (Mozilla modern); clients limited to TLS 1.2 (before Android 10, Java 11, \
             OpenSSL 1.1.1) cannot connect"
                .into(),
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
    validity(leaf, facts.trust.public, policy, now, out);
    if let Some(name) = name {
        names(leaf, name, out);
    }
    trust(facts, leaf, out);
    keys(facts, out);
}

fn validity(leaf: &CertFacts, public: bool, policy: &Policy, now: i64, out: &mut Vec<Finding>) {
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
    } else if let Some((severity, threshold)) = expiry_level(leaf, policy, now) {
        let message = format!(
            "the certificate expires on {} ({} left); {} threshold: {}",
            leaf.not_after,
            lifetime::duration(leaf.not_after_unix - now),
            if severity == Severity::High {
                "critical"
            } else {
                "warning"
            },
            threshold.describe()
        );
        out.push(Finding::new(Code::CertExpiringSoon, message).with_severity(severity));
    }
    long_validity(leaf, public, policy, out);
}

/// The severity and threshold an unexpired certificate has crossed: each threshold is the smaller of
/// its day count and its share of the lifetime, so short-lived certificates renewed on schedule
/// (at two thirds of their lifetime) never cross one.
fn expiry_level(
    cert: &CertFacts,
    policy: &Policy,
    now: i64,
) -> Option<(Severity, lifetime::Threshold)> {
    let period = lifetime::validity_period(cert.not_before_unix, cert.not_after_unix);
    let left = cert.not_after_unix - now;
    let critical = lifetime::Threshold::new(
        policy.critical_days,
        policy.critical_lifetime_percent,
        period,
    );
    let warning =
        lifetime::Threshold::new(policy.warning_days, policy.warning_lifetime_percent, period);
    if left < critical.seconds {
        Some((Severity::High, critical))
    } else if left < warning.seconds {
        Some((Severity::Medium, warning))
    } else {
        None
    }
}

/// BR §6.3.2 (ballot SC-081) on publicly trusted leaves, judged by the limit in force at notBefore;
/// `policy.max_validity_days` on the others.
fn long_validity(leaf: &CertFacts, public: bool, policy: &Policy, out: &mut Vec<Finding>) {
    let period = lifetime::validity_period(leaf.not_before_unix, leaf.not_after_unix);
    let days = lifetime::period_days(period);
    let (max, rule) = if public {
        (
            lifetime::public_max_days(leaf.not_before_unix),
            "the CA/Browser Forum Baseline Requirements (§6.3.2, ballot SC-081) allow",
        )
    } else if let Some(max) = policy.max_validity_days {
        (max, "the policy (maxValidityDays) allows")
    } else {
        return;
    };
    if period > i64::from(max) * lifetime::DAY {
        push(
            out,
            Code::CertLongValidity,
            format!(
                "the leaf is valid for {days} days from {}; {rule} at most {max} days",
                leaf.not_before
            ),
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
        push(
            out,
            Code::CertUntrusted,
            untrusted_message(facts, leaf, alert),
        );
    }
}

/// Why no path to a trust anchor exists, saying what the evidence supports and no more.
fn untrusted_message(facts: &Facts, leaf: &CertFacts, alert: &str) -> String {
    let trust = &facts.trust;
    match (&trust.missing_issuer, &trust.unknown_issuer) {
        (Some(missing), _) => format!(
            "no path to a trust anchor: {missing} is not served (see chain.incomplete); \
             clients that do not fetch it fail with {alert}"
        ),
        (None, Some(unknown)) if facts.chain.len() == 1 && !leaf.is_ca => format!(
            "issuer {unknown} is neither served nor trusted: either the server omits an \
             intermediate, or {unknown} is a private CA the audit does not trust; \
             clients fail with {alert}"
        ),
        (None, Some(unknown)) => format!(
            "the served chain is complete up to {unknown}, a root the audit does not trust; \
             clients fail with {alert}"
        ),
        (None, None) => {
            let detail = trust
                .error
                .as_deref()
                .unwrap_or("no path to a trust anchor");
            format!(
                "issuer {} is not trusted ({detail}); clients fail with {alert}",
                leaf.issuer
            )
        }
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
            let rejected = if matches!(cert.key_type.as_str(), "RSA" | "DSA") {
                "; rustls/webpki clients reject it (they require 2048 bits, as BR 6.1.5 does)"
            } else {
                ""
            };
            push(
                out,
                Code::CertWeakKey,
                format!(
                    "{} has a {}-bit {} key{rejected}",
                    cert.subject, cert.key_bits, cert.key_type
                ),
            );
        }
        if weak_signature(&cert.signature) {
            push(
                out,
                Code::CertWeakSignature,
                format!(
                    "{} is signed with {}; Chrome, Firefox, Go 1.18+ and rustls/webpki reject it",
                    cert.subject, cert.signature
                ),
            );
        }
    }
}

/// A certificate signature clients no longer accept: SHA-1, MD5 or MD2.
#[must_use]
pub fn weak_signature(algorithm: &str) -> bool {
    let sig = algorithm.to_ascii_lowercase();
    sig.contains("sha1") || sig.contains("md5") || sig.contains("md2")
}

fn chain(facts: &Facts, leaf: &CertFacts, out: &mut Vec<Finding>) {
    if let Some(issuer) = &facts.trust.missing_issuer
        && !leaf.self_signed
    {
        let evidence = if facts.chain.len() == 1 {
            match leaf.ca_issuers.first() {
                Some(url) => format!("; the leaf names it at {url}"),
                None => String::new(),
            }
        } else {
            "; the served CA certificates do not connect to the leaf without it".to_owned()
        };
        push(
            out,
            Code::ChainIncomplete,
            format!(
                "the intermediate {issuer} is not served ({} certificate(s) served{evidence})",
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
        not_stapled(facts, out);
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

/// A missing staple matters only when the leaf names an OCSP responder (Let's Encrypt and others
/// have moved to CRLs) and only after a completed handshake, which asked for one; must-staple makes
/// it fatal for clients that enforce RFC 7633.
fn not_stapled(facts: &Facts, out: &mut Vec<Finding>) {
    let Some(leaf) = facts.chain.first().filter(|_| facts.negotiated.is_some()) else {
        return;
    };
    let revocation = &leaf.revocation;
    if revocation.must_staple {
        push(
            out,
            Code::OcspMustStapleMissing,
            "the leaf demands a stapled OCSP response (TLS Feature status_request) and none was stapled".into(),
        );
    } else if let Some(url) = revocation.ocsp_urls.first() {
        push(
            out,
            Code::OcspNotStapled,
            format!("no OCSP response stapled; the leaf names the responder {url}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ClientAuthFacts, Failure, OcspFacts, SniFacts, TrustFacts, VersionSuites};
    use crate::fixtures::{self, CertBuilder, DAY, INTERMEDIATE, ROOT};

    /// The fixed clock: 2026-03-01T00:00:00Z.
    const NOW: i64 = 1_772_323_200;
    const NAME: &str = "web.shop.svc";

    fn healthy() -> Facts {
        fixtures::healthy(NAME, NOW)
    }

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(seconds).unwrap()
    }

    /// Every finding of `facts` for `NAME` at `now` under `policy`, as (code, severity), by code.
    fn judge_with(facts: &Facts, policy: &Policy, now: i64) -> Vec<(Code, Severity)> {
        let mut found: Vec<(Code, Severity)> = evaluate(facts, Some(NAME), policy, at(now))
            .iter()
            .map(|f| (f.code, f.severity))
            .collect();
        found.sort();
        found
    }

    fn judge(facts: &Facts) -> Vec<(Code, Severity)> {
        judge_with(facts, &Policy::default(), NOW)
    }

    /// The message of the one finding with `code`.
    fn message(facts: &Facts, name: Option<&str>, now: i64, code: Code) -> String {
        let found = evaluate(facts, name, &Policy::default(), at(now));
        let with_code: Vec<&Finding> = found.iter().filter(|f| f.code == code).collect();
        assert_eq!(with_code.len(), 1, "{found:?}");
        with_code[0].message.clone()
    }

    /// `healthy()` with the TLS 1.2 suites replaced by `list` in the given order.
    fn with_tls12_suites(list: &[(u16, &str)], server_order: Option<bool>) -> Facts {
        let mut facts = healthy();
        facts.ciphers[0] = VersionSuites {
            server_order,
            ..fixtures::suites(TlsVersion::Tls12, list)
        };
        facts
    }

    const ECDHE_GCM: (u16, &str) = (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    const ECDHE_CBC: (u16, &str) = (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
    const RSA_GCM: (u16, &str) = (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256");
    const RSA_RC4: (u16, &str) = (0x0005, "TLS_RSA_WITH_RC4_128_SHA");
    const ECDHE_3DES: (u16, &str) = (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA");
    const RSA_NULL: (u16, &str) = (0x0002, "TLS_RSA_WITH_NULL_SHA");
    const DH_ANON: (u16, &str) = (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA");
    const RSA_EXPORT_RC4: (u16, &str) = (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5");

    #[test]
    fn a_healthy_intermediate_endpoint_has_no_finding() {
        assert_eq!(judge(&healthy()), vec![]);
    }

    #[test]
    fn a_good_ocsp_staple_leaves_no_finding_at_all() {
        let mut facts = healthy();
        facts.ocsp = OcspFacts {
            stapled: true,
            status: Some("good".into()),
            next_update: None,
            next_update_unix: Some(NOW + DAY),
        };
        assert_eq!(judge(&facts), vec![]);
    }

    #[test]
    fn tls1_0_and_tls1_1_are_high_and_a_missing_fallback_scsv_matters_only_beside_them() {
        let mut facts = healthy();
        facts.features.fallback_scsv = Some(false);
        assert_eq!(
            judge(&facts),
            vec![],
            "TLS 1.2/1.3 only: TLS 1.3 clients detect the downgrade themselves"
        );
        facts.protocols.set(TlsVersion::Tls10, true);
        facts.protocols.set(TlsVersion::Tls11, true);
        assert_eq!(
            judge(&facts),
            vec![
                (Code::ProtocolTls10, Severity::High),
                (Code::ProtocolTls11, Severity::High),
                (Code::TlsNoFallbackScsv, Severity::Low),
            ]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::ProtocolTls10),
            "the server accepts TLSv1.0"
        );
    }

    #[test]
    fn sslv3_is_critical() {
        let mut facts = healthy();
        facts.protocols.set(TlsVersion::Ssl3, true);
        assert_eq!(
            judge(&facts),
            vec![(Code::ProtocolSslv3, Severity::Critical),]
        );
    }

    #[test]
    fn a_legacy_only_server_is_critical_and_its_failed_current_handshake_is_not_reported_twice() {
        let mut facts = healthy();
        for version in TlsVersion::ALL {
            facts.protocols.set(version, version == TlsVersion::Tls10);
        }
        facts.ciphers = vec![fixtures::suites(TlsVersion::Tls10, &[ECDHE_CBC])];
        facts.negotiated = None;
        facts.failure = Some(Failure {
            kind: FailureKind::Handshake,
            alert: Some("protocol_version".into()),
            detail: "peer is incompatible".into(),
        });
        assert_eq!(
            judge(&facts),
            vec![
                (Code::ProtocolTls10, Severity::High),
                (Code::ProtocolLegacyOnly, Severity::Critical),
                (Code::CipherCbcOnly, Severity::Medium),
            ]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::ProtocolLegacyOnly),
            "only TLSv1.0 accepted; TLS 1.2 and 1.3 are refused"
        );
    }

    #[test]
    fn a_current_client_failing_where_raw_hellos_succeed_is_high_not_critical() {
        let mut facts = healthy();
        facts.negotiated = None;
        facts.failure = Some(Failure {
            kind: FailureKind::Handshake,
            alert: Some("handshake_failure".into()),
            detail: "received fatal alert".into(),
        });
        assert_eq!(
            judge(&facts),
            vec![(Code::TlsHandshakeFailed, Severity::High),]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::TlsHandshakeFailed),
            "a current client (TLS 1.2/1.3, ECDHE AEAD suites) cannot connect: handshake failed \
             with alert handshake_failure: received fatal alert"
        );
    }

    #[test]
    fn an_unreachable_endpoint_has_exactly_one_critical_finding_per_failure_kind() {
        for (kind, code) in [
            (FailureKind::Refused, Code::ConnectRefused),
            (FailureKind::Timeout, Code::ConnectTimeout),
            (FailureKind::Reset, Code::ConnectReset),
            (FailureKind::Unreachable, Code::ConnectFailed),
            (FailureKind::NotTls, Code::TlsNotTls),
            (FailureKind::Handshake, Code::TlsHandshakeFailed),
        ] {
            let facts = Facts {
                failure: Some(Failure {
                    kind,
                    alert: None,
                    detail: "what the socket said".into(),
                }),
                ..Facts::default()
            };
            assert_eq!(judge(&facts), vec![(code, Severity::Critical)], "{kind:?}");
            assert_eq!(
                message(&facts, Some(NAME), NOW, code),
                "what the socket said"
            );
        }
    }

    #[test]
    fn an_expired_leaf_is_critical_and_counts_the_days_since() {
        let facts = healthy();
        let later = NOW + 61 * DAY;
        assert_eq!(
            judge_with(&facts, &Policy::default(), later),
            vec![(Code::CertExpired, Severity::Critical),]
        );
        assert_eq!(
            message(&facts, Some(NAME), later, Code::CertExpired),
            "the certificate expired on 2026-04-30T00:00:00Z (1 days ago)"
        );
    }

    #[test]
    fn a_leaf_expires_medium_inside_the_warning_window_and_high_inside_the_critical_one() {
        let facts = healthy();
        let not_after = NOW + 60 * DAY;
        let policy = Policy::default();
        for (left, expected) in [
            (28 * DAY, None),
            (28 * DAY - 1, Some(Severity::Medium)),
            (14 * DAY, Some(Severity::Medium)),
            (14 * DAY - 1, Some(Severity::High)),
            (0, Some(Severity::High)),
        ] {
            let expiring: Vec<Severity> = judge_with(&facts, &policy, not_after - left)
                .into_iter()
                .filter(|(code, _)| *code == Code::CertExpiringSoon)
                .map(|(_, severity)| severity)
                .collect();
            assert_eq!(
                expiring,
                expected.into_iter().collect::<Vec<_>>(),
                "{left} s before notAfter"
            );
        }
        assert_eq!(
            message(
                &facts,
                Some(NAME),
                not_after - 10 * DAY,
                Code::CertExpiringSoon
            ),
            "the certificate expires on 2026-04-30T00:00:00Z (10 days left); critical threshold: 14 days"
        );
        // 60 of 90 days left: inside 90 days, but a third of the lifetime is not used up yet.
        let wide = Policy {
            warning_days: 90,
            critical_days: 30,
            ..Policy::default()
        };
        assert_eq!(judge_with(&facts, &wide, NOW), vec![]);
        let wide = Policy {
            warning_lifetime_percent: 100,
            critical_lifetime_percent: 100,
            ..wide
        };
        assert_eq!(
            judge_with(&facts, &wide, NOW),
            vec![(Code::CertExpiringSoon, Severity::Medium),]
        );
    }

    #[test]
    fn a_leaf_not_valid_yet_is_critical() {
        assert_eq!(
            judge_with(&healthy(), &Policy::default(), NOW - 31 * DAY),
            vec![(Code::CertNotYetValid, Severity::Critical),]
        );
    }

    #[test]
    fn a_public_leaf_issued_before_2026_03_15_may_last_398_days_and_a_private_one_any_time() {
        let mut facts = healthy();
        facts.trust.public = true;
        // notBefore 2026-02-28: 398 days, notBefore through notAfter inclusive.
        facts.chain[0] = CertBuilder::leaf(NAME, INTERMEDIATE)
            .valid(NOW - DAY, NOW + 397 * DAY - 1)
            .build();
        assert_eq!(judge(&facts), vec![]);
        facts.chain[0] = CertBuilder::leaf(NAME, INTERMEDIATE)
            .valid(NOW - DAY, NOW + 397 * DAY)
            .build();
        assert_eq!(judge(&facts), vec![(Code::CertLongValidity, Severity::Low)]);
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::CertLongValidity),
            "the leaf is valid for 399 days from 2026-02-28T00:00:00Z; the CA/Browser Forum Baseline \
             Requirements (§6.3.2, ballot SC-081) allow at most 398 days"
        );
        facts.trust.public = false;
        assert_eq!(judge(&facts), vec![]);
        let limited = Policy {
            max_validity_days: Some(90),
            ..Policy::default()
        };
        assert_eq!(
            judge_with(&facts, &limited, NOW),
            vec![(Code::CertLongValidity, Severity::Low)]
        );
    }

    #[test]
    fn an_untrusted_issuer_names_the_verifier_error_and_the_client_alert() {
        let mut facts = healthy();
        facts.trust = TrustFacts {
            verified: false,
            error: Some("invalid peer certificate: UnknownIssuer".into()),
            alert: Some("unknown_ca".into()),
            path_found: Some(false),
            ordered: Some(true),
            ..TrustFacts::default()
        };
        assert_eq!(judge(&facts), vec![(Code::CertUntrusted, Severity::High),]);
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::CertUntrusted),
            format!(
                "issuer {INTERMEDIATE} is not trusted (invalid peer certificate: UnknownIssuer); \
                 clients fail with unknown_ca"
            )
        );
    }

    #[test]
    fn a_self_signed_leaf_is_reported_as_self_signed_not_as_untrusted() {
        let mut facts = healthy();
        facts.chain = vec![
            CertBuilder::leaf(NAME, "")
                .self_signed()
                .valid(NOW - DAY, NOW + 90 * DAY)
                .build(),
        ];
        facts.trust = TrustFacts {
            verified: false,
            path_found: Some(false),
            ordered: Some(true),
            ..TrustFacts::default()
        };
        assert_eq!(judge(&facts), vec![(Code::CertSelfSigned, Severity::High),]);
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::CertSelfSigned),
            "self-signed certificate CN=web.shop.svc; clients fail with unknown_ca"
        );
    }

    #[test]
    fn a_name_outside_the_sans_is_a_mismatch_and_no_name_is_not_checked() {
        let facts = healthy();
        let found = evaluate(&facts, Some("api.shop.svc"), &Policy::default(), at(NOW));
        let codes: Vec<(Code, Severity)> = found.iter().map(|f| (f.code, f.severity)).collect();
        assert_eq!(codes, vec![(Code::CertHostnameMismatch, Severity::High),]);
        assert_eq!(
            found[0].message,
            "api.shop.svc is not covered by the certificate's SANs: web.shop.svc"
        );
        assert_eq!(
            evaluate(&facts, None, &Policy::default(), at(NOW)).len(),
            0,
            "without a name nothing remains"
        );
    }

    #[test]
    fn a_leaf_with_only_a_common_name_has_no_san_and_mismatches() {
        let mut facts = healthy();
        facts.chain[0] = CertBuilder::new("CN=web.shop.svc", INTERMEDIATE)
            .common_name(NAME)
            .valid(NOW - DAY, NOW + 90 * DAY)
            .build();
        assert_eq!(
            judge(&facts),
            vec![
                (Code::CertHostnameMismatch, Severity::High),
                (Code::CertNoSan, Severity::High),
            ]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::CertHostnameMismatch),
            "web.shop.svc is not covered by the certificate's SANs: none (only the Common Name \
             matches, which clients ignore)"
        );
    }

    #[test]
    fn weak_keys_and_sha1_signatures_are_high_except_on_a_self_signed_root() {
        let mut facts = healthy();
        facts.chain[0] = CertBuilder::leaf(NAME, INTERMEDIATE)
            .key("RSA", 1024)
            .signature("sha1WithRSAEncryption")
            .valid(NOW - DAY, NOW + 90 * DAY)
            .build();
        facts.chain.push(
            CertBuilder::new(ROOT, ROOT)
                .ca()
                .self_signed()
                .key("RSA", 1024)
                .signature("md5WithRSAEncryption")
                .valid(NOW - 365 * DAY, NOW + 3650 * DAY)
                .build(),
        );
        assert_eq!(
            judge(&facts),
            vec![
                (Code::CertWeakKey, Severity::High),
                (Code::CertWeakSignature, Severity::High),
            ]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::CertWeakKey),
            "CN=web.shop.svc has a 1024-bit RSA key; rustls/webpki clients reject it (they \
             require 2048 bits, as BR 6.1.5 does)"
        );
    }

    #[test]
    fn chain_problems_incomplete_misordered_and_an_intermediate_expiring_first() {
        let mut facts = healthy();
        facts.chain.truncate(1);
        facts.trust.missing_issuer = Some(INTERMEDIATE.into());
        assert_eq!(
            judge(&facts),
            vec![(Code::ChainIncomplete, Severity::High),]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::ChainIncomplete),
            format!("the intermediate {INTERMEDIATE} is not served (1 certificate(s) served)")
        );

        let mut facts = healthy();
        facts.trust.ordered = Some(false);
        facts.chain[1] = CertBuilder::new(INTERMEDIATE, ROOT)
            .ca()
            .valid(NOW - DAY, NOW + 30 * DAY)
            .build();
        assert_eq!(
            judge(&facts),
            vec![
                (Code::ChainWrongOrder, Severity::Low),
                (Code::ChainExpiringIntermediate, Severity::Medium),
            ]
        );
    }

    #[test]
    fn an_unparsable_served_certificate_is_high() {
        let mut facts = healthy();
        facts.trust.unparsable = 1;
        assert_eq!(judge(&facts), vec![(Code::CertUnparsable, Severity::High),]);
    }

    #[test]
    fn each_weak_cipher_family_has_its_own_code() {
        for (suite, expected) in [
            (
                RSA_GCM,
                vec![(Code::CipherNoForwardSecrecy, Severity::Medium)],
            ),
            (
                RSA_RC4,
                vec![
                    (Code::CipherRc4, Severity::High),
                    (Code::CipherNoForwardSecrecy, Severity::Medium),
                ],
            ),
            (ECDHE_3DES, vec![(Code::Cipher3des, Severity::Medium)]),
            (
                RSA_NULL,
                vec![
                    (Code::CipherNull, Severity::Critical),
                    (Code::CipherNoForwardSecrecy, Severity::Medium),
                ],
            ),
            (DH_ANON, vec![(Code::CipherAnon, Severity::Critical)]),
            (
                RSA_EXPORT_RC4,
                vec![
                    (Code::CipherExport, Severity::Critical),
                    (Code::CipherRc4, Severity::High),
                    (Code::CipherNoForwardSecrecy, Severity::Medium),
                ],
            ),
        ] {
            // Server order with a strong suite first: only the family's own codes.
            let facts = with_tls12_suites(&[ECDHE_GCM, suite], Some(true));
            let mut expected = expected;
            expected.sort();
            assert_eq!(judge(&facts), expected, "{}", suite.1);
        }
        let facts = with_tls12_suites(&[ECDHE_GCM, RSA_GCM, RSA_RC4], Some(true));
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::CipherNoForwardSecrecy),
            "suites without forward secrecy accepted: TLS_RSA_WITH_AES_128_GCM_SHA256, \
             TLS_RSA_WITH_RC4_128_SHA"
        );
    }

    #[test]
    fn a_weak_suite_first_in_server_order_is_medium_and_in_client_order_info() {
        let preferred = with_tls12_suites(&[RSA_GCM, ECDHE_GCM], Some(true));
        assert_eq!(
            judge(&preferred),
            vec![
                (Code::CipherNoForwardSecrecy, Severity::Medium),
                (Code::CipherWeakPreferred, Severity::Medium),
            ]
        );
        assert_eq!(
            message(&preferred, Some(NAME), NOW, Code::CipherWeakPreferred),
            "TLSv1.2 prefers TLS_RSA_WITH_AES_128_GCM_SHA256"
        );
        let client_order = with_tls12_suites(&[ECDHE_GCM, RSA_GCM], Some(false));
        assert_eq!(
            judge(&client_order),
            vec![
                (Code::CipherNoForwardSecrecy, Severity::Medium),
                (Code::CipherNoServerPreference, Severity::Info),
            ]
        );
        let strong_client_order = with_tls12_suites(&fixtures::TLS12_SUITES, Some(false));
        assert_eq!(
            judge(&strong_client_order),
            vec![],
            "client order is fine when every suite is strong"
        );
    }

    #[test]
    fn only_cbc_suites_without_tls1_3_is_medium_plus_the_missing_tls1_3() {
        let mut facts = with_tls12_suites(&[ECDHE_CBC], Some(true));
        facts.ciphers.truncate(1);
        facts.protocols.set(TlsVersion::Tls13, false);
        assert_eq!(
            judge(&facts),
            vec![
                (Code::ProtocolNoTls13, Severity::Low),
                (Code::CipherCbcOnly, Severity::Medium),
            ]
        );
    }

    #[test]
    fn tls1_3_only_lacks_tls1_2_for_intermediate_but_not_for_modern() {
        let mut facts = healthy();
        facts.protocols.set(TlsVersion::Tls12, false);
        facts.ciphers.remove(0);
        // Issue 9: legacy-client reach is information, not a weakness.
        assert_eq!(judge(&facts), vec![(Code::ProtocolNoTls12, Severity::Info)]);
        let modern = Policy {
            profile: Profile::Modern,
            ..Policy::default()
        };
        assert_eq!(judge_with(&facts, &modern, NOW), vec![]);
    }

    #[test]
    fn a_small_dh_group_is_medium_below_2048_and_high_below_1024() {
        for (bits, expected) in [
            (2048, None),
            (1024, Some(Severity::Medium)),
            (1023, Some(Severity::High)),
        ] {
            let mut facts = healthy();
            facts.features.dh_bits = Some(bits);
            let weak_dh: Vec<Severity> = judge(&facts)
                .into_iter()
                .filter(|(code, _)| *code == Code::CipherWeakDh)
                .map(|(_, severity)| severity)
                .collect();
            assert_eq!(
                weak_dh,
                expected.into_iter().collect::<Vec<_>>(),
                "{bits} bits"
            );
        }
    }

    #[test]
    fn compression_heartbeat_and_insecure_renegotiation_are_reported() {
        let mut facts = healthy();
        facts.features.compression = Some(true);
        facts.features.heartbeat = Some(true);
        facts.features.secure_renegotiation = Some(false);
        assert_eq!(
            judge(&facts),
            vec![
                (Code::TlsInsecureRenegotiation, Severity::High),
                (Code::TlsCompression, Severity::High),
                (Code::TlsHeartbeat, Severity::Low),
            ]
        );
    }

    #[test]
    fn hsts_below_180_days_or_missing_is_low_and_only_judged_on_http() {
        let mut facts = healthy();
        facts.features.hsts_max_age = Some(HSTS_MIN_SECONDS);
        assert_eq!(judge(&facts), vec![]);
        facts.features.hsts_max_age = Some(HSTS_MIN_SECONDS - 1);
        assert_eq!(judge(&facts), vec![(Code::HttpNoHsts, Severity::Low),]);
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::HttpNoHsts),
            "HSTS max-age=15551999 on GET /"
        );
        facts.features.hsts_max_age = None;
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::HttpNoHsts),
            "no Strict-Transport-Security header on GET /"
        );
        facts.features.http = Some(false);
        assert_eq!(judge(&facts), vec![]);
    }

    #[test]
    fn sni_and_alpn_behaviour_is_info_or_low() {
        let mut facts = healthy();
        facts.sni = SniFacts {
            handshake_without_sni: Some(false),
            alert: Some("unrecognized_name".into()),
            ..SniFacts::default()
        };
        facts.alpn.h2 = Some(false);
        facts.alpn.selected = Some("http/1.1".into());
        assert_eq!(
            judge(&facts),
            vec![
                (Code::SniRequired, Severity::Info),
                (Code::AlpnNoH2, Severity::Info),
            ]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::AlpnNoH2),
            "offered h2 and http/1.1; the server selected http/1.1"
        );
        facts.sni = SniFacts {
            handshake_without_sni: Some(true),
            default_cert_matches: Some(false),
            ..SniFacts::default()
        };
        facts.features.http = Some(false);
        assert_eq!(
            judge(&facts),
            vec![(Code::SniDefaultCertMismatch, Severity::Low),],
            "no alpn.no_h2 on an endpoint that does not answer HTTP"
        );
    }

    #[test]
    fn a_revoked_staple_is_critical_and_a_stale_one_medium() {
        let mut facts = healthy();
        facts.ocsp = OcspFacts {
            stapled: true,
            status: Some("revoked".into()),
            next_update: None,
            next_update_unix: None,
        };
        assert_eq!(judge(&facts), vec![(Code::OcspRevoked, Severity::Critical)]);
        facts.ocsp = OcspFacts {
            stapled: true,
            status: Some("good".into()),
            next_update: Some("2026-02-28T23:59:59Z".into()),
            next_update_unix: Some(NOW - 1),
        };
        assert_eq!(judge(&facts), vec![(Code::OcspStale, Severity::Medium)]);
    }

    #[test]
    fn a_required_client_certificate_that_was_not_supplied_is_high_and_hides_the_failure() {
        let mut facts = healthy();
        facts.negotiated = None;
        facts.failure = Some(Failure {
            kind: FailureKind::Handshake,
            alert: Some("certificate_required".into()),
            detail: "received fatal alert".into(),
        });
        facts.client_auth = ClientAuthFacts {
            demand: ClientAuthDemand::Required,
            alert: Some("certificate_required".into()),
            ..ClientAuthFacts::default()
        };
        assert_eq!(
            judge(&facts),
            vec![
                (Code::MtlsRequired, Severity::Info),
                (Code::MtlsClientCertMissing, Severity::High),
            ]
        );
        facts.client_auth.identity_accepted = Some(false);
        assert_eq!(
            judge(&facts),
            vec![
                (Code::MtlsRequired, Severity::Info),
                (Code::MtlsClientCertRejected, Severity::High),
            ]
        );
    }

    #[test]
    fn an_expiring_or_expired_client_certificate_is_reported_by_the_same_windows() {
        let mut facts = healthy();
        facts.client_auth = ClientAuthFacts {
            demand: ClientAuthDemand::Required,
            identity_accepted: Some(true),
            alert: None,
            client_cert: Some(
                CertBuilder::new("CN=auditor", "CN=clients")
                    .valid(NOW - 70 * DAY, NOW + 20 * DAY)
                    .build(),
            ),
            http_status_without_certificate: None,
        };
        assert_eq!(
            judge(&facts),
            vec![
                (Code::MtlsRequired, Severity::Info),
                (Code::MtlsClientCertExpiring, Severity::Medium),
            ]
        );
        assert_eq!(
            message(&facts, Some(NAME), NOW, Code::MtlsClientCertExpiring),
            "the client certificate CN=auditor expires on 2026-03-21T00:00:00Z (20 days left); \
             threshold: 28 days"
        );
        let expired = NOW + 21 * DAY;
        assert_eq!(
            message(&facts, Some(NAME), expired, Code::MtlsClientCertExpiring),
            "the client certificate CN=auditor expired on 2026-03-21T00:00:00Z"
        );
        assert!(
            judge_with(&facts, &Policy::default(), expired)
                .contains(&(Code::MtlsClientCertExpiring, Severity::High))
        );
    }

    #[test]
    fn ignored_codes_are_never_reported() {
        let mut facts = healthy();
        facts.protocols.set(TlsVersion::Tls10, true);
        let policy = Policy {
            ignore: vec![Code::OcspNotStapled, Code::ProtocolTls10],
            ..Policy::default()
        };
        assert_eq!(judge_with(&facts, &policy, NOW), vec![]);
    }
}
