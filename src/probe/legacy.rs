//! Raw ClientHello probes: what a server accepts beyond what rustls can speak (SSL 3.0, TLS 1.0/1.1,
//! every IANA suite), its suite preference order, and legacy features (TLS_FALLBACK_SCSV, secure
//! renegotiation, compression, heartbeat), plus the TLS ≤ 1.2 flight's chain, OCSP staple and
//! CertificateRequest. Input: a [`Dialer`] (address, limits, connection counter) and the SNI name.
//! Output: a [`RawScan`]; never an error — failures are recorded in it.
//!
//! Connection budget: per version, one hello per accepted suite plus the refused one, one more for
//! the preference order when two or more suites were found, and one fallback probe overall. The
//! five versions are probed concurrently, so wall time is that of the longest version.

use std::net::IpAddr;

use futures::future::join_all;
use tokio::io::AsyncWriteExt;

use crate::facts::{Failure, FailureKind, Protocols, SuiteFacts, TlsVersion, VersionSuites};
use crate::probe::net::{Dialer, NetError};
use crate::tls::client_hello::ClientHello;
use crate::tls::codec::WireError;
use crate::tls::flight::{FlightReader, ServerFlight, StopAt};
use crate::tls::key_exchange;
use crate::tls::suites::{self, KeyExchange};

/// inappropriate_fallback: the answer of a server that honours TLS_FALLBACK_SCSV.
const ALERT_INAPPROPRIATE_FALLBACK: u8 = 86;

/// What the raw probes observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawScan {
    /// Accepted versions; each is `Some` once tested, `None` when the probe could not tell.
    pub protocols: Protocols,
    /// Accepted suites per accepted version (oldest version first), with the server's order.
    pub ciphers: Vec<VersionSuites>,
    /// TLS_FALLBACK_SCSV honoured; `None` when fewer than two versions are accepted.
    pub fallback_scsv: Option<bool>,
    /// RFC 5746 renegotiation_info answered (highest accepted version ≤ TLS 1.2).
    pub secure_renegotiation: Option<bool>,
    /// DEFLATE compression selected when offered.
    pub compression: Option<bool>,
    /// Heartbeat extension echoed.
    pub heartbeat: Option<bool>,
    /// DER certificates of a TLS ≤ 1.2 Certificate message, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The DER OCSP response of a TLS ≤ 1.2 CertificateStatus message.
    pub ocsp_staple: Option<Vec<u8>>,
    /// A CertificateRequest was seen in a TLS ≤ 1.2 flight.
    pub certificate_request: bool,
    /// Why no version got a ServerHello (refused, timeout, reset, not TLS, or an alert).
    pub failure: Option<Failure>,
    /// Smallest DHE prime any accepted DHE suite used, in bits.
    pub dh_bits: Option<u32>,
    /// ECDHE group the server chose for a TLS ≤ 1.2 ECDHE suite (offered every common group).
    pub ecdhe_group: Option<String>,
    /// The TLS 1.2 ServerHello echoed `extended_master_secret` (RFC 7627; every legacy hello
    /// offers it); `None` when TLS 1.2 was not accepted.
    pub extended_master_secret: Option<bool>,
}

/// Probes every version and suite the server accepts (see the module docs for the budget).
pub async fn scan(dialer: &Dialer, server_name: Option<&str>) -> RawScan {
    // RFC 6066: SNI carries host names only, never IP literals.
    let sni = server_name.filter(|name| name.parse::<IpAddr>().is_err());
    let probes = join_all(TlsVersion::ALL.map(|v| enumerate(dialer, sni, v))).await;

    let orders = join_all(probes.iter().map(|p| server_order(dialer, sni, p)));
    let (orders, fallback_scsv) = tokio::join!(orders, fallback(dialer, sni, &probes));

    let mut scan = RawScan {
        fallback_scsv,
        ..RawScan::default()
    };
    for (probe, server_order) in probes.iter().zip(orders) {
        if let Some(accepted) = probe.accepted {
            scan.protocols.set(probe.version, accepted);
        }
        if probe.accepted == Some(true) {
            scan.ciphers.push(VersionSuites {
                version: probe.version,
                server_order,
                incomplete: probe.incomplete,
                suites: probe
                    .suites
                    .iter()
                    .map(|id| SuiteFacts {
                        id: *id,
                        name: suites::name(*id),
                    })
                    .collect(),
            });
        }
    }
    read_legacy_flight(&mut scan, &probes);
    scan.extended_master_secret = probes
        .iter()
        .find(|p| p.version == TlsVersion::Tls12 && p.accepted == Some(true))
        .and_then(|p| p.first.as_ref())
        .and_then(|f| f.server_hello.as_ref())
        .map(crate::tls::server_hello::ServerHello::extended_master_secret);
    scan.dh_bits = probes.iter().filter_map(|p| p.dh_bits).min();
    scan.ecdhe_group = probes
        .iter()
        .rev()
        .find_map(|p| p.ecdhe_group)
        .map(key_exchange::group_name);
    if !probes.iter().any(|p| p.answered) {
        scan.failure = probes
            .iter()
            .rev()
            .filter_map(|p| p.failure.as_ref())
            .min_by_key(|f| failure_rank(f))
            .cloned();
    }
    tracing::debug!(
        address = %dialer.addr,
        connections = dialer.connections(),
        accepted = ?scan.protocols.accepted(),
        "raw probe finished"
    );
    scan
}

/// Fills the features, chain, staple and CertificateRequest from the first flight of the highest
/// accepted version up to TLS 1.2 (TLS 1.3 encrypts all of them).
fn read_legacy_flight(scan: &mut RawScan, probes: &[VersionProbe]) {
    let legacy = probes
        .iter()
        .rev()
        .filter(|p| p.version <= TlsVersion::Tls12 && p.accepted == Some(true))
        .find_map(|p| p.first.as_ref());
    let Some(flight) = legacy else {
        return;
    };
    if let Some(hello) = &flight.server_hello {
        scan.secure_renegotiation = Some(hello.renegotiation_info.is_some());
        scan.compression = Some(hello.compression != 0);
        scan.heartbeat = Some(hello.heartbeat.is_some());
    }
    scan.chain.clone_from(&flight.certificates);
    scan.ocsp_staple.clone_from(&flight.ocsp_response);
    scan.certificate_request = flight.certificate_request;
}

/// What the probes of one version found.
#[derive(Debug)]
struct VersionProbe {
    version: TlsVersion,
    accepted: Option<bool>,
    /// Accepted suites, in the order the server picked them.
    suites: Vec<u16>,
    /// The first (feature-carrying) flight, when it accepted this version.
    first: Option<ServerFlight>,
    /// A ServerHello of any version arrived: the endpoint speaks TLS.
    answered: bool,
    /// Why the first hello got no ServerHello of this version.
    failure: Option<Failure>,
    /// Enumeration stopped on a broken exchange (twice in a row): the list may lack suites.
    incomplete: bool,
    /// Smallest DHE prime seen in a ServerKeyExchange, in bits.
    dh_bits: Option<u32>,
    /// ECDHE group of the first ECDHE ServerKeyExchange seen.
    ecdhe_group: Option<u16>,
}

impl VersionProbe {
    /// Notes the key exchange parameters of a ≤ TLS 1.2 flight that chose `suite`.
    fn note_key_exchange(&mut self, flight: &ServerFlight, suite: u16) {
        let Some(ske) = flight.server_key_exchange.as_deref() else {
            return;
        };
        match suites::lookup(suite).map(|s| s.kx) {
            Some(KeyExchange::Dhe | KeyExchange::DhAnon) => {
                if let Some(bits) = key_exchange::dh_prime_bits(ske) {
                    self.dh_bits = Some(self.dh_bits.map_or(bits, |seen| seen.min(bits)));
                }
            }
            Some(KeyExchange::Ecdhe | KeyExchange::EcdhAnon) => {
                self.ecdhe_group = self.ecdhe_group.or_else(|| key_exchange::ecdhe_group(ske));
            }
            _ => {}
        }
    }
}

/// Offers every known suite of `version`, removes the one the server picks, and repeats until it
/// refuses: one connection per accepted suite plus one.
async fn enumerate(dialer: &Dialer, sni: Option<&str>, version: TlsVersion) -> VersionProbe {
    let mut probe = VersionProbe {
        version,
        accepted: None,
        suites: Vec::new(),
        first: None,
        answered: false,
        failure: None,
        incomplete: false,
        dh_bits: None,
        ecdhe_group: None,
    };
    let mut remaining = suites::for_version(version.wire());
    let mut first = hello(version, remaining.clone(), sni);
    let stop = if version == TlsVersion::Tls13 {
        StopAt::ServerHello
    } else {
        // Piggyback the legacy features and read the whole flight for chain, staple and request.
        first.compression = true;
        first.heartbeat = true;
        first.status_request = true;
        StopAt::HelloDone
    };
    let flight = match exchange(dialer, &first, stop).await {
        Ok(flight) => flight,
        Err(failure) => {
            // A server that drops the connection on a hello is refusing that version.
            probe.accepted = (failure.kind == FailureKind::Reset).then_some(false);
            probe.failure = Some(failure);
            return probe;
        }
    };
    let Some(picked) = selected(&flight, version) else {
        probe.answered = flight.server_hello.is_some();
        probe.accepted = Some(false);
        probe.failure = Some(refusal(&flight, version));
        return probe;
    };
    probe.answered = true;
    probe.accepted = Some(true);
    probe.suites.push(picked);
    probe.note_key_exchange(&flight, picked);
    probe.first = Some(flight);
    // Below TLS 1.3 the rest of the flight is in the clear and arrives with the ServerHello: read it
    // for each suite's key exchange parameters (DH prime size) at no extra connection.
    let round_stop = if version == TlsVersion::Tls13 {
        StopAt::ServerHello
    } else {
        StopAt::HelloDone
    };

    let mut last = picked;
    // Each round removes one offered suite, so this ends after at most `remaining.len()` rounds.
    while let Some(at) = remaining.iter().position(|id| *id == last) {
        remaining.remove(at);
        if remaining.is_empty() {
            break;
        }
        let next = hello(version, remaining.clone(), sni);
        // Not a refusal but a broken exchange (a reset, a timeout under load): one more try, then
        // the list is marked incomplete rather than silently short.
        let retried = match exchange(dialer, &next, round_stop).await {
            Ok(flight) => Ok(flight),
            Err(_) => exchange(dialer, &next, round_stop).await,
        };
        let flight = match retried {
            Ok(flight) => flight,
            Err(failure) => {
                tracing::debug!(address = %dialer.addr, version = version.name(), detail = %failure.detail,
                    "suite enumeration stopped early");
                probe.incomplete = true;
                break;
            }
        };
        let Some(picked) = selected(&flight, version) else {
            break;
        };
        if !probe.suites.contains(&picked) {
            probe.suites.push(picked);
        }
        probe.note_key_exchange(&flight, picked);
        last = picked;
    }
    probe
}

/// Offers the found suites in reverse: a server with its own order still picks its favourite, a
/// client-ordered one picks our (new) first.
async fn server_order(dialer: &Dialer, sni: Option<&str>, probe: &VersionProbe) -> Option<bool> {
    let (first, last) = match probe.suites.as_slice() {
        [first, .., last] => (*first, *last),
        _ => return None,
    };
    let reversed = probe.suites.iter().rev().copied().collect();
    let flight = exchange(
        dialer,
        &hello(probe.version, reversed, sni),
        StopAt::ServerHello,
    )
    .await;
    match flight.ok().and_then(|f| selected(&f, probe.version)) {
        Some(id) if id == first => Some(true),
        Some(id) if id == last => Some(false),
        _ => None,
    }
}

/// One hello with TLS_FALLBACK_SCSV at the second-highest accepted version: a server honouring it
/// answers inappropriate_fallback, one ignoring it negotiates.
async fn fallback(dialer: &Dialer, sni: Option<&str>, probes: &[VersionProbe]) -> Option<bool> {
    let mut accepted = probes.iter().filter(|p| p.accepted == Some(true)).rev();
    let (_highest, lower) = (accepted.next()?, accepted.next()?);
    let mut probe = hello(
        lower.version,
        suites::for_version(lower.version.wire()),
        sni,
    );
    probe.fallback_scsv = true;
    let flight = exchange(dialer, &probe, StopAt::ServerHello).await.ok()?;
    match (&flight.server_hello, flight.alert) {
        (_, Some(alert)) if alert.description == ALERT_INAPPROPRIATE_FALLBACK => Some(true),
        (Some(_), _) => Some(false),
        _ => None,
    }
}

pub(super) fn hello(version: TlsVersion, suites: Vec<u16>, sni: Option<&str>) -> ClientHello {
    let mut hello = ClientHello::new(version.wire(), suites, rand::random(), rand::random());
    hello.server_name = sni.map(str::to_owned);
    if version == TlsVersion::Tls13 {
        hello.session_id = rand::random::<[u8; 32]>().to_vec();
    } else {
        // Some servers insist on RFC 5746 from every client; ask on every legacy hello.
        hello.renegotiation_info = true;
    }
    hello
}

/// The suite picked, when the ServerHello negotiated exactly the offered version.
fn selected(flight: &ServerFlight, version: TlsVersion) -> Option<u16> {
    flight
        .server_hello
        .as_ref()
        .filter(|h| h.version() == version.wire())
        .map(|h| h.cipher)
}

/// Describes why a flight without an acceptable ServerHello refused `version`.
fn refusal(flight: &ServerFlight, version: TlsVersion) -> Failure {
    let offered = version.name();
    match (&flight.server_hello, flight.alert) {
        (Some(hello), _) => Failure {
            kind: FailureKind::Handshake,
            alert: None,
            detail: format!(
                "server answered a {offered} ClientHello with version {}",
                TlsVersion::from_wire(hello.version()).map_or_else(
                    || format!("0x{:04x}", hello.version()),
                    |v| v.name().to_owned()
                )
            ),
        },
        (None, Some(alert)) => Failure {
            kind: FailureKind::Handshake,
            alert: Some(alert.name().to_owned()),
            detail: format!(
                "server sent a {} alert to a {offered} ClientHello",
                alert.name()
            ),
        },
        (None, None) => Failure {
            kind: FailureKind::Reset,
            alert: None,
            detail: format!("server closed the connection on a {offered} ClientHello"),
        },
    }
}

/// Sends one hello on a fresh connection and reads the reply up to `stop`. `Ok` means the server
/// answered in TLS (a ServerHello or an alert); everything else is a classified failure.
pub(super) async fn exchange(
    dialer: &Dialer,
    hello: &ClientHello,
    stop: StopAt,
) -> Result<ServerFlight, Failure> {
    let bytes = hello.encode().map_err(|err| wire_failure(&err))?;
    let mut stream = dialer.connect().await.map_err(|err| net_failure(&err))?;
    let until = dialer.step_deadline().map_err(|err| net_failure(&err))?;
    match tokio::time::timeout_at(until, stream.write_all(&bytes)).await {
        Err(_) => return Err(net_failure(&dialer.expired(until))),
        Ok(Err(err)) => return Err(net_failure(&dialer.classify(&err))),
        Ok(Ok(())) => {}
    }
    let mut reader = FlightReader::new(stop);
    let mut received = Vec::new();
    let read = dialer
        .read_until(&mut stream, &mut received, |buf| reader.advance(buf))
        .await;
    let (flight, error) = reader.into_parts();
    if flight.server_hello.is_some() || flight.alert.is_some() {
        return Ok(flight);
    }
    match (read, error) {
        (Err(err), _) => Err(net_failure(&err)),
        (Ok(_), Some(err)) => Err(wire_failure(&err)),
        (Ok(_), None) => Err(Failure {
            kind: FailureKind::Reset,
            alert: None,
            detail: "server closed the connection without answering the ClientHello".to_owned(),
        }),
    }
}

fn net_failure(err: &NetError) -> Failure {
    let kind = match err {
        NetError::Refused => FailureKind::Refused,
        NetError::Timeout(_) | NetError::DeadlineExceeded(_) => FailureKind::Timeout,
        NetError::Reset => FailureKind::Reset,
        NetError::TooLarge(_) => FailureKind::Oversized,
        NetError::Io(_) => FailureKind::Unreachable,
        NetError::TlsDeclined(_) => FailureKind::TlsDeclined,
        NetError::Foreign(_) => FailureKind::NotTls,
    };
    Failure {
        kind,
        alert: None,
        detail: err.to_string(),
    }
}

fn wire_failure(err: &WireError) -> Failure {
    let kind = match err {
        WireError::NotTls(_) => FailureKind::NotTls,
        WireError::HandshakeTooLarge(_) => FailureKind::Oversized,
        _ => FailureKind::Handshake,
    };
    Failure {
        kind,
        alert: None,
        detail: err.to_string(),
    }
}

/// Which failure explains an endpoint best when every version failed: a foreign protocol first,
/// then what the server said, then what the network did.
fn failure_rank(failure: &Failure) -> u8 {
    match (failure.kind, failure.alert.is_some()) {
        (FailureKind::TlsDeclined | FailureKind::NotTls | FailureKind::InvalidTarget, _) => 0,
        (FailureKind::Handshake | FailureKind::Oversized | FailureKind::Malformed, true) => 1,
        (FailureKind::Handshake | FailureKind::Oversized | FailureKind::Malformed, false) => 2,
        (FailureKind::Timeout, _) => 3,
        (FailureKind::Reset, _) => 4,
        (FailureKind::Unreachable, _) => 5,
        (FailureKind::Refused, _) => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::flight;

    fn failure(kind: FailureKind, alert: Option<&str>) -> Failure {
        Failure {
            kind,
            alert: alert.map(str::to_owned),
            detail: String::new(),
        }
    }

    #[test]
    fn the_most_telling_failure_wins() {
        let mut all = [
            failure(FailureKind::Refused, None),
            failure(FailureKind::Timeout, None),
            failure(FailureKind::Handshake, Some("handshake_failure")),
            failure(FailureKind::Reset, None),
        ];
        let best = all
            .iter()
            .min_by_key(|f| failure_rank(f))
            .map(|f| f.alert.clone());
        assert_eq!(best, Some(Some("handshake_failure".to_owned())));
        all[1] = failure(FailureKind::NotTls, None);
        let best = all.iter().min_by_key(|f| failure_rank(f)).map(|f| f.kind);
        assert_eq!(best, Some(FailureKind::NotTls));
    }

    #[test]
    fn only_the_offered_version_counts_as_selected() {
        let mut bytes = vec![22, 3, 1, 0, 42, 2, 0, 0, 38, 3, 1];
        bytes.extend_from_slice(&[0; 33]); // random, empty session id
        bytes.extend_from_slice(&[0, 0x2F, 0]);
        let body =
            flight::parse_flight(&bytes, StopAt::ServerHello).expect("a TLS 1.0 ServerHello");
        assert_eq!(selected(&body, TlsVersion::Tls10), Some(0x002F));
        assert_eq!(selected(&body, TlsVersion::Tls12), None);
        let failure = refusal(&body, TlsVersion::Tls12);
        assert_eq!(
            failure.detail,
            "server answered a TLSv1.2 ClientHello with version TLSv1.0"
        );
    }
}
