//! The flags of `tlsaudit controller`. Input: the command line and environment variables. Output:
//! [`ControllerArgs`], and the Lease timings they give, checked against each other.

use std::net::SocketAddr;
use std::time::Duration;

use super::Error;
use super::lease::Timings;
use super::reconcile::plan::networks::Cidr;

/// A feature switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// Flags of `tlsaudit controller` (each also read from the environment variable shown).
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerArgs {
    /// Most probes running at once, across all audits.
    #[arg(long, env = "TLSAUDIT_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Re-audit period of audits whose spec has no interval (Go duration).
    #[arg(long, env = "TLSAUDIT_DEFAULT_INTERVAL", default_value = "1h", value_parser = crate::duration::parse)]
    pub default_interval: Duration,
    /// A network explicit `endpoints` may reach besides the private ranges (repeatable, or
    /// comma-separated in the environment), e.g. 127.0.0.0/8 for local demos.
    #[arg(
        long = "allow-target-cidr",
        env = "TLSAUDIT_ALLOW_TARGET_CIDRS",
        value_delimiter = ','
    )]
    pub allow_target_cidr: Vec<Cidr>,
    /// Listen address of /metrics, /healthz and /readyz.
    #[arg(long, env = "TLSAUDIT_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Run only while holding the Lease, so that several replicas never audit at once (not used
    /// with `--sharding on`).
    #[arg(
        long,
        env = "TLSAUDIT_LEADER_ELECTION",
        value_enum,
        default_value = "on"
    )]
    pub leader_election: OnOff,
    /// Share the audits between replicas: each keeps a member Lease `<lease-name>-<identity>` and
    /// audits only the audits that rendezvous hashing gives it. Implies no leader election.
    #[arg(long, env = "TLSAUDIT_SHARDING", value_enum, default_value = "off")]
    pub sharding: OnOff,
    /// Watch Secrets (metadata only) so that a changed Secret is audited at once. Off when the
    /// operator may not list Secrets cluster-wide (chart `rbac.secrets: namespaces|none`): a
    /// changed Secret is then picked up at the audit's next interval.
    #[arg(long, env = "TLSAUDIT_WATCH_SECRETS", value_enum, default_value = "on")]
    pub watch_secrets: OnOff,
    /// Name of the leader-election Lease; with sharding, the prefix and label value of the member
    /// Leases.
    #[arg(
        long,
        env = "TLSAUDIT_LEASE_NAME",
        default_value = "tlsaudit-controller"
    )]
    pub lease_name: String,
    /// Namespace of the Lease; default the pod's namespace (POD_NAMESPACE), else the kubeconfig's.
    #[arg(long, env = "TLSAUDIT_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// This replica's name in the Lease; default POD_NAME, else host name and process id.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// How long a Lease holds without renewal (whole seconds, at least 1s).
    #[arg(long, env = "TLSAUDIT_LEASE_DURATION", default_value = "15s", value_parser = crate::duration::parse)]
    pub lease_duration: Duration,
    /// A replica that could not renew its Lease for this long stops auditing (< lease duration).
    #[arg(long, env = "TLSAUDIT_LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = crate::duration::parse)]
    pub lease_renew_deadline: Duration,
    /// Pause between Lease renewals (and, with sharding, member lists); < renew deadline.
    #[arg(long, env = "TLSAUDIT_LEASE_RETRY_PERIOD", default_value = "2s", value_parser = crate::duration::parse)]
    pub lease_retry_period: Duration,
    /// Most endpoints listed in a TlsAudit status (the rest are counted).
    #[arg(long, env = "TLSAUDIT_STATUS_MAX_ENDPOINTS", default_value_t = 50, value_parser = clap::value_parser!(u16).range(0..=500))]
    pub status_max_endpoints: u16,
    /// Most endpoints of one audit that get per-endpoint metric series, worst first; the rest
    /// count in the per-audit series only. Bounds the metrics' cardinality and memory.
    #[arg(long, env = "TLSAUDIT_METRICS_MAX_ENDPOINTS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub metrics_max_endpoints: u32,
    /// Deadline of each connect and exchange of a probe.
    #[arg(long, env = "TLSAUDIT_PROBE_TIMEOUT", default_value = "5s", value_parser = crate::duration::parse)]
    pub probe_timeout: Duration,
    /// Deadline of one endpoint's whole probe (default 6 × --probe-timeout; never below it).
    #[arg(long, env = "TLSAUDIT_PROBE_DEADLINE", value_parser = crate::duration::parse)]
    pub probe_deadline: Option<Duration>,
    /// How long one probe's result is shared by audits naming the same endpoint, SNI and identity.
    #[arg(long, env = "TLSAUDIT_PROBE_CACHE_TTL", default_value = "30s", value_parser = crate::duration::parse)]
    pub probe_cache_ttl: Duration,
    /// Every Nth cycle of an audit probes every replica fully; the other cycles probe one replica
    /// per Service port fully and each other replica lightly (at most 3 connections; it inherits
    /// the full probe's facts only when it serves the same configuration). 1: always full.
    #[arg(long, env = "TLSAUDIT_FULL_PROBE_EVERY", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub full_probe_every: u32,
    /// Audit only this namespace (default: every namespace).
    #[arg(long, env = "TLSAUDIT_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// /readyz turns false once the apiserver, the TlsAudit CRD or the rights to list what the
    /// operator watches have been missing for this long (checked every third of it).
    #[arg(long, env = "TLSAUDIT_READINESS_GRACE", default_value = "30s", value_parser = crate::duration::parse)]
    pub readiness_grace: Duration,
    /// Let audits in the operator's own namespace use `spec.cluster` (webhook, APIService and
    /// CRD conversion caBundles). Needs read access to those cluster-scoped kinds (chart
    /// `clusterAudits.enabled`).
    #[arg(
        long,
        env = "TLSAUDIT_CLUSTER_AUDITS",
        value_enum,
        default_value = "off"
    )]
    pub cluster_audits: OnOff,
    /// The one namespace whose audits may use `spec.cluster`; default the Pod's namespace
    /// (POD_NAMESPACE), else the kubeconfig's.
    #[arg(long, env = "TLSAUDIT_CLUSTER_AUDIT_NAMESPACE")]
    pub cluster_audit_namespace: Option<String>,
    /// How often the operator looks again for an optional kind the cluster does not serve yet
    /// (cert-manager Certificates); a kind that appears is watched from then on.
    #[arg(long, env = "TLSAUDIT_DISCOVERY_INTERVAL", default_value = "1m", value_parser = crate::duration::parse)]
    pub discovery_interval: Duration,
}

impl ControllerArgs {
    /// The Lease timings of these flags, checked as client-go checks its own.
    pub fn lease_timings(&self) -> Result<Timings, Error> {
        let t = Timings {
            lease_duration: self.lease_duration,
            renew_deadline: self.lease_renew_deadline,
            retry_period: self.lease_retry_period,
        };
        if t.lease_duration < Duration::from_secs(1) {
            return Err(Error::LeaseTimings(format!(
                "the lease duration {:?} is under 1s (a Lease counts whole seconds)",
                t.lease_duration
            )));
        }
        if t.renew_deadline >= t.lease_duration {
            return Err(Error::LeaseTimings(format!(
                "the renew deadline {:?} must be shorter than the lease duration {:?}",
                t.renew_deadline, t.lease_duration
            )));
        }
        if t.retry_period.is_zero() || t.retry_period >= t.renew_deadline {
            return Err(Error::LeaseTimings(format!(
                "the retry period {:?} must be above zero and shorter than the renew deadline {:?}",
                t.retry_period, t.renew_deadline
            )));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        args: ControllerArgs,
    }

    fn timings(extra: &[&str]) -> Result<Timings, Error> {
        let argv = [&["tlsaudit"], extra].concat();
        Flags::try_parse_from(argv).unwrap().args.lease_timings()
    }

    #[test]
    fn default_lease_timings_are_client_go_s() {
        assert_eq!(timings(&[]).unwrap(), Timings::default());
    }

    #[test]
    fn lease_timings_must_shrink_from_duration_to_deadline_to_period() {
        let short = timings(&[
            "--lease-duration",
            "4s",
            "--lease-renew-deadline",
            "3s",
            "--lease-retry-period",
            "1s",
        ])
        .unwrap();
        assert_eq!(short.lease_duration, Duration::from_secs(4));
        for bad in [
            ["--lease-renew-deadline", "15s"].as_slice(),
            &["--lease-retry-period", "10s"],
            &["--lease-retry-period", "0s"],
            &[
                "--lease-duration",
                "500ms",
                "--lease-renew-deadline",
                "400ms",
            ],
        ] {
            let err = timings(bad).unwrap_err();
            assert!(matches!(err, Error::LeaseTimings(_)), "{bad:?} gave {err}");
        }
    }

    #[test]
    fn sharding_is_off_unless_asked_for() {
        let args = Flags::try_parse_from(["tlsaudit"]).unwrap().args;
        assert_eq!(args.sharding, OnOff::Off);
        let args = Flags::try_parse_from(["tlsaudit", "--sharding", "on"])
            .unwrap()
            .args;
        assert_eq!(args.sharding, OnOff::On);
    }
}
