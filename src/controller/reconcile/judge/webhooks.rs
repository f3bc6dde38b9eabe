//! The apiserver's TLS clients judged (`spec.cluster`). Input: a webhook's, APIService's or CRD
//! conversion webhook's [`ClientConfig`], its parsed caBundle, the facts probed at its Service
//! (verified against that caBundle alone), the policy and the time. Output: `webhook.*` findings
//! naming the object. Pure.
//!
//! The apiserver verifies with Go's `crypto/x509`: the caBundle's certificates are the roots
//! (appended to nothing; an empty caBundle leaves Go's system roots), the name is
//! `<service>.<namespace>.svc`, and every certificate of the path, roots included, must be inside
//! its validity period. So a caBundle that does not lead to the served chain, or whose anchoring
//! CA expired, fails every call.

use std::sync::Arc;

use rustls::RootCertStore;

use crate::controller::reconcile::plan::cluster::ClientConfig;
use crate::facts::{CertFacts, Facts};
use crate::findings::{Code, Finding, Severity};
use crate::lifetime;
use crate::policy::Policy;

/// What a caBundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaBundle {
    /// Unset or blank: the apiserver uses its system roots.
    Empty,
    /// Set, but no certificate in it can be used; the reason says why.
    Invalid(String),
    /// The CA certificates it holds (PEM as stored, and their facts).
    Usable(Vec<u8>, Vec<CertFacts>),
}

impl CaBundle {
    /// Parses a caBundle as the apiserver reads it (PEM; unparsable blocks are skipped, as Go's
    /// `AppendCertsFromPEM` does, as long as one certificate remains).
    #[must_use]
    pub fn parse(pem: &[u8]) -> Self {
        if pem.iter().all(u8::is_ascii_whitespace) {
            return Self::Empty;
        }
        let ders = match crate::cert::certificates_from_pem(pem) {
            Ok(ders) => ders,
            Err(err) => return Self::Invalid(err.to_string()),
        };
        let cas: Vec<CertFacts> = ders
            .iter()
            .filter_map(|der| crate::cert::cert_facts(der).ok())
            .collect();
        if cas.is_empty() {
            return Self::Invalid("it holds no parsable PEM certificate".into());
        }
        match crate::cert::root_store(false, &[pem]) {
            Ok(_) => Self::Usable(pem.to_vec(), cas),
            Err(err) => Self::Invalid(err.to_string()),
        }
    }

    /// The trust anchors the apiserver would use: the bundle's certificates, the built-in web PKI
    /// roots standing in for its system roots when empty, nothing when invalid.
    #[must_use]
    pub fn roots(&self) -> Arc<RootCertStore> {
        let store = match self {
            Self::Empty => crate::cert::root_store(true, &[]).ok(),
            Self::Invalid(_) => None,
            Self::Usable(pem, _) => crate::cert::root_store(false, &[pem.as_slice()]).ok(),
        };
        Arc::new(store.unwrap_or_else(RootCertStore::empty))
    }

    /// What identifies this trust for the probe cache.
    #[must_use]
    pub fn fingerprint_parts(&self) -> Vec<&[u8]> {
        match self {
            Self::Empty => vec![b"webhook-system-roots".as_slice()],
            Self::Invalid(_) => vec![b"webhook-no-roots".as_slice()],
            Self::Usable(pem, _) => vec![b"webhook-ca-bundle".as_slice(), pem.as_slice()],
        }
    }
}

/// The severity of a failed call: critical when it fails requests, high when it is skipped.
fn outage(config: &ClientConfig) -> Severity {
    if config.fail_closed {
        Severity::Critical
    } else {
        Severity::High
    }
}

fn consequence(config: &ClientConfig) -> &'static str {
    if config.fail_closed {
        "every call of the apiserver to it fails, and so do the requests that need it"
    } else {
        "every call of the apiserver to it fails and is ignored (failurePolicy: Ignore): \
         its checks or defaults silently stop applying"
    }
}

/// The `webhook.*` findings of one endpoint of `config`. `facts` is what probing it with
/// `bundle`'s roots gave (`None`: not probed); `now` is Unix seconds.
#[must_use]
pub fn findings(
    config: &ClientConfig,
    bundle: &CaBundle,
    facts: Option<&Facts>,
    policy: &Policy,
    now: i64,
) -> Vec<Finding> {
    let who = &config.describe;
    if config.insecure_skip_tls_verify {
        return vec![Finding::new(
            Code::WebhookInsecureSkipTlsVerify,
            format!(
                "{who} sets insecureSkipTLSVerify: the apiserver does not verify the certificate \
                 of the Service it proxies to"
            ),
        )];
    }
    let mut out = Vec::new();
    let cas = match bundle {
        CaBundle::Invalid(reason) => {
            out.push(
                Finding::new(
                    Code::WebhookCaBundleInvalid,
                    format!(
                        "the caBundle of {who} cannot be used ({reason}); {}",
                        consequence(config)
                    ),
                )
                .with_severity(outage(config)),
            );
            return out;
        }
        CaBundle::Empty => &[][..],
        CaBundle::Usable(_, cas) => cas.as_slice(),
    };
    let served = facts.filter(|f| !f.chain.is_empty());
    if let Some(facts) = served
        && facts.trust.path_found == Some(false)
    {
        let issuer = facts.chain.last().map_or("unknown", |c| c.issuer.as_str());
        let trusted = if cas.is_empty() {
            "the caBundle is empty, so the apiserver uses its system roots, which do not issue it"
                .to_owned()
        } else {
            format!(
                "the caBundle holds {}",
                cas.iter()
                    .map(|c| c.subject.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        out.push(
            Finding::new(
                Code::WebhookCaBundleMismatch,
                format!(
                    "the caBundle of {who} does not verify the certificate its Service serves \
                     (issued by {issuer}; {trusted}); {}",
                    consequence(config)
                ),
            )
            .with_severity(outage(config)),
        );
    }
    for ca in anchors(cas, served) {
        if let Some(finding) = ca_expiry(config, ca, policy, now) {
            out.push(finding);
        }
    }
    out
}

/// The CAs of the bundle that anchor the served chain, or every CA when none is known to.
fn anchors<'a>(cas: &'a [CertFacts], facts: Option<&Facts>) -> Vec<&'a CertFacts> {
    let top = facts.and_then(|f| f.chain.last());
    let anchoring: Vec<&CertFacts> = cas
        .iter()
        .filter(|ca| top.is_some_and(|t| t.issuer == ca.subject || t.sha256 == ca.sha256))
        .collect();
    if anchoring.is_empty() {
        cas.iter().collect()
    } else {
        anchoring
    }
}

/// `webhook.ca_bundle_expiring` for one CA: the lifetime-relative thresholds of
/// `cert.expiring_soon`; an expired CA fails the apiserver's Go verifier like a mismatch.
fn ca_expiry(config: &ClientConfig, ca: &CertFacts, policy: &Policy, now: i64) -> Option<Finding> {
    let who = &config.describe;
    let left = ca.not_after_unix - now;
    if left < 0 {
        return Some(
            Finding::new(
                Code::WebhookCaBundleExpiring,
                format!(
                    "the CA {} in the caBundle of {who} expired on {}; {}",
                    ca.subject,
                    ca.not_after,
                    consequence(config)
                ),
            )
            .with_severity(outage(config)),
        );
    }
    let period = lifetime::validity_period(ca.not_before_unix, ca.not_after_unix);
    let critical = lifetime::Threshold::new(
        policy.critical_days,
        policy.critical_lifetime_percent,
        period,
    );
    let warning =
        lifetime::Threshold::new(policy.warning_days, policy.warning_lifetime_percent, period);
    let (severity, threshold, level) = if left < critical.seconds {
        (Severity::High, critical, "critical")
    } else if left < warning.seconds {
        (Severity::Medium, warning, "warning")
    } else {
        return None;
    };
    Some(
        Finding::new(
            Code::WebhookCaBundleExpiring,
            format!(
                "the CA {} in the caBundle of {who} expires on {} ({} left); {level} threshold: {}",
                ca.subject,
                ca.not_after,
                lifetime::duration(left),
                threshold.describe()
            ),
        )
        .with_severity(severity),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::TrustFacts;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn ca_pem(cn: &str, not_before: i64, not_after: i64) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    fn config(fail_closed: bool) -> ClientConfig {
        ClientConfig {
            origin: "validatingwebhook/policy/check.example.com".into(),
            describe: "ValidatingWebhookConfiguration policy, webhook check.example.com".into(),
            fail_closed,
            service: None,
            url: None,
            ca_bundle: Vec::new(),
            insecure_skip_tls_verify: false,
        }
    }

    fn leaf_issued_by(issuer: &str) -> CertFacts {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["hook.sys.svc".to_owned()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let mut facts = crate::cert::cert_facts(&der).unwrap();
        issuer.clone_into(&mut facts.issuer);
        facts
    }

    fn served(issuer: &str, path_found: bool) -> Facts {
        Facts {
            reachable: true,
            chain: vec![leaf_issued_by(issuer)],
            trust: TrustFacts {
                path_found: Some(path_found),
                ..TrustFacts::default()
            },
            ..Facts::default()
        }
    }

    fn codes(findings: &[Finding]) -> Vec<(Code, Severity)> {
        findings.iter().map(|f| (f.code, f.severity)).collect()
    }

    #[test]
    fn a_bundle_of_another_ca_is_critical_when_failing_closed_and_high_when_ignored() {
        let bundle =
            CaBundle::parse(ca_pem("other ca", NOW - 100 * DAY, NOW + 900 * DAY).as_bytes());
        let facts = served("CN=webhook ca", false);
        let policy = Policy::default();
        let closed = findings(&config(true), &bundle, Some(&facts), &policy, NOW);
        assert_eq!(
            codes(&closed),
            vec![(Code::WebhookCaBundleMismatch, Severity::Critical)]
        );
        assert!(closed[0].message.contains("webhook check.example.com"));
        assert!(
            closed[0].message.contains("CN=webhook ca") && closed[0].message.contains("other ca")
        );
        let open = findings(&config(false), &bundle, Some(&facts), &policy, NOW);
        assert_eq!(
            codes(&open),
            vec![(Code::WebhookCaBundleMismatch, Severity::High)]
        );
        assert!(open[0].message.contains("failurePolicy: Ignore"));
    }

    #[test]
    fn a_verifying_bundle_gives_nothing_and_an_unprobed_endpoint_no_mismatch() {
        let bundle =
            CaBundle::parse(ca_pem("webhook ca", NOW - 100 * DAY, NOW + 900 * DAY).as_bytes());
        let policy = Policy::default();
        let facts = served("CN=webhook ca", true);
        assert!(findings(&config(true), &bundle, Some(&facts), &policy, NOW).is_empty());
        assert!(findings(&config(true), &bundle, None, &policy, NOW).is_empty());
    }

    #[test]
    fn garbage_bundles_are_invalid_and_blank_ones_empty() {
        assert_eq!(CaBundle::parse(b" \n"), CaBundle::Empty);
        assert!(matches!(CaBundle::parse(b"not pem"), CaBundle::Invalid(_)));
        let bundle =
            CaBundle::parse(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(matches!(bundle, CaBundle::Invalid(_)), "{bundle:?}");
        let found = findings(&config(true), &bundle, None, &Policy::default(), NOW);
        assert_eq!(
            codes(&found),
            vec![(Code::WebhookCaBundleInvalid, Severity::Critical)]
        );
        assert!(CaBundle::parse(b"not pem").roots().is_empty());
        assert!(!CaBundle::Empty.roots().is_empty());
    }

    #[test]
    fn an_empty_bundle_that_system_roots_do_not_verify_is_a_mismatch() {
        let facts = served("CN=webhook ca", false);
        let found = findings(
            &config(true),
            &CaBundle::Empty,
            Some(&facts),
            &Policy::default(),
            NOW,
        );
        assert_eq!(
            codes(&found),
            vec![(Code::WebhookCaBundleMismatch, Severity::Critical)]
        );
        assert!(found[0].message.contains("system roots"));
    }

    #[test]
    fn the_anchoring_ca_follows_the_lifetime_relative_expiry_thresholds() {
        let policy = Policy::default();
        // A 10-year CA with 20 days left: under 28 days (warning), not under 14 (critical).
        let warning =
            CaBundle::parse(ca_pem("webhook ca", NOW - 3630 * DAY, NOW + 20 * DAY).as_bytes());
        let facts = served("CN=webhook ca", true);
        let found = findings(&config(true), &warning, Some(&facts), &policy, NOW);
        assert_eq!(
            codes(&found),
            vec![(Code::WebhookCaBundleExpiring, Severity::Medium)]
        );
        let critical =
            CaBundle::parse(ca_pem("webhook ca", NOW - 3630 * DAY, NOW + 5 * DAY).as_bytes());
        let found = findings(&config(true), &critical, Some(&facts), &policy, NOW);
        assert_eq!(
            codes(&found),
            vec![(Code::WebhookCaBundleExpiring, Severity::High)]
        );
        // A 30-day CA with 20 days left has two thirds of its life ahead: nothing.
        let short =
            CaBundle::parse(ca_pem("webhook ca", NOW - 10 * DAY, NOW + 20 * DAY).as_bytes());
        assert!(findings(&config(true), &short, Some(&facts), &policy, NOW).is_empty());
        let expired = CaBundle::parse(ca_pem("webhook ca", NOW - 400 * DAY, NOW - DAY).as_bytes());
        let found = findings(&config(false), &expired, Some(&facts), &policy, NOW);
        assert_eq!(
            codes(&found),
            vec![(Code::WebhookCaBundleExpiring, Severity::High)]
        );
    }

    #[test]
    fn only_the_anchoring_ca_of_a_rotation_bundle_is_judged() {
        let old = ca_pem("old ca", NOW - 3630 * DAY, NOW + 5 * DAY);
        let new = ca_pem("new ca", NOW - DAY, NOW + 3650 * DAY);
        let bundle = CaBundle::parse(format!("{old}{new}").as_bytes());
        let facts = served("CN=new ca", true);
        assert!(
            findings(
                &config(true),
                &bundle,
                Some(&facts),
                &Policy::default(),
                NOW
            )
            .is_empty()
        );
    }

    #[test]
    fn insecure_skip_tls_verify_is_reported_by_name() {
        let mut api = config(true);
        api.describe = "APIService v1beta1.metrics.k8s.io".into();
        api.insecure_skip_tls_verify = true;
        let found = findings(&api, &CaBundle::Empty, None, &Policy::default(), NOW);
        assert_eq!(
            codes(&found),
            vec![(Code::WebhookInsecureSkipTlsVerify, Severity::High)]
        );
        assert!(found[0].message.contains("v1beta1.metrics.k8s.io"));
    }
}
