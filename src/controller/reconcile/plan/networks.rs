//! Which addresses an explicit `endpoints` entry may reach (no SSRF through a TlsAudit).
//! Input: resolved IP addresses and the operator's `--allow-target-cidr` list. Output: allowed, or
//! the reason for refusal that becomes a `target.refused` finding. Pure.
//!
//! By default explicit targets may be in private networks only (RFC 1918, CGNAT 100.64/10, IPv6
//! ULA), where Service and Pod networks live; loopback, link-local, unspecified, multicast and
//! public addresses are refused unless a `--allow-target-cidr` covers them. Addresses taken from the
//! cluster's own objects (EndpointSlices, ClusterIPs, Ingress status) are not checked: the cluster
//! chose them, not the audit's author.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP network, `address/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a CIDR string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse CIDR {input:?}: {reason}")]
pub struct CidrError {
    input: String,
    reason: &'static str,
}

impl Cidr {
    /// Whether `ip` is inside this network. IPv4-mapped IPv6 addresses count as IPv4.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| CidrError {
            input: input.to_owned(),
            reason,
        };
        let (addr, prefix) = match input.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (input, None),
        };
        let network: IpAddr = addr.trim().parse().map_err(|_| err("not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .map_err(|_| err("prefix is not a number"))?,
            None => max,
        };
        if prefix > max {
            return Err(err("prefix is longer than the address"));
        }
        Ok(Self {
            network: canonical(network),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The private networks explicit targets may reach without configuration.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
];

/// The networks explicit targets may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetNetworks {
    allowed: Vec<Cidr>,
    extra: Vec<Cidr>,
}

impl TargetNetworks {
    /// The default private networks plus `extra` (the operator's `--allow-target-cidr`).
    #[must_use]
    pub fn new(extra: Vec<Cidr>) -> Self {
        let allowed = DEFAULT_ALLOWED
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        Self { allowed, extra }
    }

    /// `Ok` when `ip` may be dialled, else why not (for the `target.refused` message).
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        let ip = canonical(ip);
        // An operator's explicit allowance wins, also for loopback and link-local.
        if self.extra.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        let special = match ip {
            IpAddr::V4(v4) if v4.is_loopback() => Some("loopback"),
            IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
            IpAddr::V4(v4) if v4.is_unspecified() || v4.is_broadcast() => Some("unspecified"),
            IpAddr::V4(v4) if v4.is_multicast() => Some("multicast"),
            IpAddr::V6(v6) if v6.is_loopback() => Some("loopback"),
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some("link-local"),
            IpAddr::V6(v6) if v6.is_unspecified() => Some("unspecified"),
            IpAddr::V6(v6) if v6.is_multicast() => Some("multicast"),
            _ => None,
        };
        if let Some(kind) = special {
            return Err(format!(
                "{ip} is a {kind} address; the operator allows it only with --allow-target-cidr"
            ));
        }
        if self.allowed.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        Err(format!(
            "{ip} is outside the networks the operator allows for explicit endpoints ({}); \
             an administrator can add it with --allow-target-cidr",
            self.allowed
                .iter()
                .chain(&self.extra)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_contains_its_range_and_nothing_else() {
        let net: Cidr = "10.96.0.0/12".parse().unwrap();
        assert!(net.contains(ip("10.96.0.1")));
        assert!(net.contains(ip("10.111.255.255")));
        assert!(!net.contains(ip("10.112.0.0")));
        assert!(!net.contains(ip("fd00::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
    }

    #[test]
    fn a_bare_address_is_a_host_network() {
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
    }

    #[test]
    fn malformed_cidrs_are_refused_with_the_input() {
        for bad in ["10.0.0.0/33", "nope/8", "10.0.0.0/x", "::/129"] {
            let err = bad.parse::<Cidr>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn loopback_link_local_and_public_addresses_are_refused_by_default() {
        let nets = TargetNetworks::new(Vec::new());
        assert!(
            nets.check(ip("127.0.0.1"))
                .unwrap_err()
                .contains("loopback")
        );
        assert!(nets.check(ip("::1")).unwrap_err().contains("loopback"));
        assert!(
            nets.check(ip("169.254.169.254"))
                .unwrap_err()
                .contains("link-local")
        );
        assert!(
            nets.check(ip("fe80::1"))
                .unwrap_err()
                .contains("link-local")
        );
        assert!(
            nets.check(ip("::ffff:127.0.0.1"))
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            nets.check(ip("8.8.8.8"))
                .unwrap_err()
                .contains("outside the networks")
        );
        assert!(
            nets.check(ip("0.0.0.0"))
                .unwrap_err()
                .contains("unspecified")
        );
    }

    #[test]
    fn private_networks_are_allowed_by_default() {
        let nets = TargetNetworks::new(Vec::new());
        for ok in [
            "10.0.0.5",
            "172.20.1.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::5",
        ] {
            assert_eq!(nets.check(ip(ok)), Ok(()), "{ok}");
        }
    }

    #[test]
    fn an_allowed_cidr_lets_loopback_through() {
        let nets = TargetNetworks::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(nets.check(ip("127.0.0.1")), Ok(()));
        assert_eq!(nets.check(ip("127.3.2.1")), Ok(()));
        assert!(nets.check(ip("::1")).is_err());
    }
}
