//! The probe engine's I/O: for one endpoint, raw ClientHello probes (versions, suites, legacy
//! features) and validated rustls handshakes (chain, trust, SNI, ALPN, OCSP, client auth).
//! Input: a [`Target`] and [`ProbeOptions`]. Output: [`Facts`]; never an error — failures are facts.

pub mod groups;
pub mod handshake;
pub mod hardening;
mod identity;
pub mod legacy;
pub mod light;
pub mod net;
pub mod starttls;

pub use identity::{ClientIdentity, IdentityError};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake::Offer;
use net::Dialer;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};

pub use crate::facts::Protocol;

use crate::facts::{
    AlpnFacts, CertFacts, ClientAuthDemand, ClientAuthFacts, Facts, Failure, FailureKind,
    FeatureFacts, GroupFacts, HardeningFacts, HttpFacts, OcspFacts, SniFacts, TlsVersion,
};

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Host name or IP literal as given by the user.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Address to dial instead of resolving `host` (e.g. an EndpointSlice address).
    pub address: Option<SocketAddr>,
    /// SNI and verification name; `None` sends no SNI and verifies against `host`.
    pub server_name: Option<String>,
    /// What each connection does before its ClientHello (PostgreSQL's SSLRequest).
    pub protocol: Protocol,
}

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Deadline for each connect and each exchange.
    pub timeout: Duration,
    /// Deadline for the whole endpoint (every enumeration round and handshake): when it passes,
    /// the probe returns what it learned so far with [`Facts::deadline_exceeded`] set.
    pub deadline: Duration,
    /// Byte budget for one server flight.
    pub max_bytes: usize,
    /// Trust anchors the chain is verified against.
    pub roots: Arc<RootCertStore>,
    /// Client identity offered when the server asks for one.
    pub client_identity: Option<Arc<ClientIdentity>>,
    /// Send one `GET /` over the verified connection to read HSTS.
    pub http: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            deadline: DEFAULT_DEADLINE,
            max_bytes: 256 * 1024,
            roots: Arc::new(RootCertStore::empty()),
            client_identity: None,
            http: true,
        }
    }
}

/// The default of [`ProbeOptions::deadline`]: six times the default per-exchange timeout.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// Probes one endpoint and returns what was observed.
pub async fn probe(target: &Target, options: &ProbeOptions) -> Facts {
    let started = tokio::time::Instant::now();
    let mut facts = match check_target(target) {
        Err(err) => Facts {
            failure: Some(Failure {
                kind: FailureKind::InvalidTarget,
                alert: None,
                detail: err.to_string(),
            }),
            ..Facts::default()
        },
        Ok(()) => match resolve(target, options.timeout.min(options.deadline)).await {
            // Boxed: the concurrent probes make a large future, which callers should not copy around.
            Ok(addr) => Box::pin(probe_address(target, addr, options, started)).await,
            Err(failure) => Facts {
                failure: Some(failure),
                ..Facts::default()
            },
        },
    };
    facts.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    facts
}

/// Why a target cannot be probed: its host or server name cannot be dialled or sent as SNI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {name:?}: {reason}")]
pub struct TargetError {
    /// `host` or `server name`.
    pub what: &'static str,
    /// The name, cut to 80 characters.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks the host and the server name of `target` the way both the raw hellos and rustls will
/// use them, so that both send the same SNI (or, for IP literals, none) and a bad name is refused
/// before anything is dialled.
pub fn check_target(target: &Target) -> Result<(), TargetError> {
    let names = std::iter::once(("host", target.host.as_str()))
        .chain(target.server_name.as_deref().map(|n| ("server name", n)));
    for (what, name) in names {
        let invalid = |reason: String| TargetError {
            what,
            name: name.chars().take(80).collect(),
            reason,
        };
        match crate::tls::server_name::check(name) {
            Err(err) => return Err(invalid(err.to_string())),
            Ok(crate::tls::server_name::HostName::Ip(_)) => {}
            Ok(crate::tls::server_name::HostName::Dns) => {
                // rustls' own rules (e.g. no all-numeric last label) decide what it would send.
                rustls::pki_types::ServerName::try_from(name)
                    .map_err(|_| invalid("not a valid DNS name for TLS".to_owned()))?;
            }
        }
    }
    Ok(())
}

async fn resolve(target: &Target, timeout: Duration) -> Result<SocketAddr, Failure> {
    if let Some(addr) = target.address {
        return Ok(addr);
    }
    let unreachable = |detail: String| Failure {
        kind: FailureKind::Unreachable,
        alert: None,
        detail,
    };
    let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(unreachable(format!("resolving {} timed out", target.host))),
        Ok(Err(err)) => Err(unreachable(format!(
            "cannot resolve {}: {err}",
            target.host
        ))),
        Ok(Ok(mut addrs)) => addrs
            .next()
            .ok_or_else(|| unreachable(format!("{} has no address", target.host))),
    }
}

/// The name a client verifies: the SNI override, else the host.
fn verify_name(target: &Target) -> &str {
    target.server_name.as_deref().unwrap_or(&target.host)
}

/// SNI is sent for names, never for IP literals (RFC 6066).
fn sni_of(target: &Target) -> Option<String> {
    let name = verify_name(target);
    name.parse::<std::net::IpAddr>()
        .is_err()
        .then(|| name.to_owned())
}

async fn probe_address(
    target: &Target,
    addr: SocketAddr,
    options: &ProbeOptions,
    started: tokio::time::Instant,
) -> Facts {
    let dialer = Dialer::new(addr, options.timeout, options.max_bytes)
        .with_protocol(target.protocol)
        .with_deadline(started, options.deadline);
    let name = verify_name(target).to_owned();
    let sni = sni_of(target);
    let http = target.protocol.carries_http();
    let main_offer = Offer {
        sni: sni.clone(),
        alpn: offered_alpn(target.protocol),
        identity: options.client_identity.clone(),
        http_host: (http && options.http).then(|| name.clone()),
    };
    let bare_offer = Offer {
        sni: None,
        ..Offer::default()
    };
    let (raw, main, bare, groups) = tokio::join!(
        raw_scan(&dialer, sni.as_deref()),
        handshake::handshake(&dialer, &main_offer, &name),
        async {
            match &sni {
                Some(_) => Some(handshake::handshake(&dialer, &bare_offer, &name).await),
                None => None,
            }
        },
        groups::scan(&dialer, sni.as_deref())
    );
    let (raw, sha1_signatures) = raw;
    // With an identity offered we still need to know whether the server would accept none, and
    // what its HTTP layer answers then.
    let anonymous_offer = Offer {
        sni: sni.clone(),
        alpn: anonymous_alpn(target.protocol, http && options.http),
        http_host: (http && options.http).then(|| name.clone()),
        ..Offer::default()
    };
    let anonymous = if main.client_auth_requested && options.client_identity.is_some() {
        Some(handshake::handshake(&dialer, &anonymous_offer, &name).await)
    } else {
        None
    };
    // `GET /` is HTTP/1.1: when ALPN chose h2 it goes on a connection that offers only http/1.1
    // (reusing the anonymous one when that got an HTTP answer).
    let anonymous_http = anonymous.as_ref().is_some_and(|o| o.http.is_some());
    let http_retry = if main.http_skipped_h2 && !anonymous_http {
        let offer = Offer {
            identity: options.client_identity.clone(),
            ..anonymous_offer
        };
        Some(handshake::handshake(&dialer, &offer, &name).await)
    } else {
        None
    };
    let mut facts = combine(
        target.protocol,
        &raw,
        &main,
        bare.as_ref(),
        anonymous.as_ref(),
        options,
        &name,
    );
    let http_outcome = http_retry
        .as_ref()
        .or(anonymous.as_ref().filter(|_| main.http_skipped_h2));
    http_facts(&mut facts, http, &main, http_outcome);
    let without_certificate = if options.client_identity.is_some() {
        anonymous.as_ref()
    } else if main.http_skipped_h2 {
        http_retry.as_ref()
    } else {
        Some(&main)
    };
    demand_at_http(
        &mut facts.client_auth,
        without_certificate
            .and_then(|o| o.http.as_ref())
            .and_then(|a| a.status),
    );
    facts.groups = groups;
    facts.hardening = HardeningFacts {
        extended_master_secret: raw.extended_master_secret,
        sha1_signatures,
    };
    if facts.groups.pq_hybrid.is_none() && facts.protocols.tls1_3 == Some(false) {
        facts.groups = GroupFacts {
            pq_hybrid: Some(false),
            ..GroupFacts::default()
        };
    }
    facts.connections = dialer.connections();
    facts.deadline_exceeded = dialer.deadline_exceeded();
    facts
}

/// The raw scan, then (TLS 1.2 accepted) the SHA-1 signature probe.
async fn raw_scan(dialer: &Dialer, sni: Option<&str>) -> (legacy::RawScan, Option<bool>) {
    let raw = legacy::scan(dialer, sni).await;
    let sha1 = if raw.protocols.get(TlsVersion::Tls12) == Some(true) {
        hardening::sha1_signatures(dialer, sni).await
    } else {
        None
    };
    (raw, sha1)
}

/// ALPN of the follow-up handshakes: only `http/1.1` when they carry `GET /`, else what a client
/// of the protocol needs (PostgreSQL 17 refuses a handshake without its own name).
fn anonymous_alpn(protocol: Protocol, get: bool) -> Vec<Vec<u8>> {
    match protocol {
        Protocol::Tls if get => vec![b"http/1.1".to_vec()],
        Protocol::Tls => Vec::new(),
        Protocol::Postgres => offered_alpn(protocol),
    }
}

/// The `GET /` facts: from the main handshake, or from the http/1.1-only one when ALPN chose h2.
/// The anonymous handshake (identity supplied) tells the status without a client certificate.
fn http_facts(
    facts: &mut Facts,
    http: bool,
    main: &handshake::Outcome,
    retry: Option<&handshake::Outcome>,
) {
    if !http {
        return;
    }
    let carrier = if main.http_skipped_h2 {
        retry
    } else {
        Some(main)
    };
    let answer = carrier.and_then(|o| o.http.as_ref());
    facts.features.hsts_max_age = answer.and_then(|a| a.hsts_max_age);
    facts.features.http = carrier
        .and_then(|o| o.negotiated.as_ref())
        .map(|_| answer.is_some());
    facts.http = HttpFacts {
        status: answer.and_then(|a| a.status),
        alpn: answer
            .and(carrier)
            .and_then(|o| o.negotiated.as_ref())
            .and_then(|n| n.alpn.clone()),
        head_incomplete: answer.and_then(|a| a.incomplete).map(str::to_owned),
    };
}

/// ALPN a client of the protocol offers: browsers' h2 and http/1.1, or PostgreSQL's own name
/// (libpq 17 sends it, and PostgreSQL 17 refuses any other).
fn offered_alpn(protocol: Protocol) -> Vec<Vec<u8>> {
    match protocol {
        Protocol::Tls => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Protocol::Postgres => vec![b"postgresql".to_vec()],
    }
}

fn combine(
    protocol: Protocol,
    raw: &legacy::RawScan,
    main: &handshake::Outcome,
    bare: Option<&handshake::Outcome>,
    anonymous: Option<&handshake::Outcome>,
    options: &ProbeOptions,
    name: &str,
) -> Facts {
    let mut facts = Facts {
        protocol,
        protocols: raw.protocols.clone(),
        ciphers: raw.ciphers.clone(),
        negotiated: main.negotiated.clone(),
        ..Facts::default()
    };
    if let Some(n) = &main.negotiated {
        facts.protocols.set(n.version, true);
    }
    facts.reachable = main.negotiated.is_some() || !facts.protocols.accepted().is_empty();
    facts.failure = main
        .failure
        .clone()
        .map(|f| reclassify(f, facts.reachable))
        .or_else(|| (!facts.reachable).then(|| raw.failure.clone()).flatten());

    // The chain a current client saw; else the one a legacy (≤ TLS 1.2) hello got in plaintext.
    let chain: Vec<CertificateDer<'static>> = if main.chain.is_empty() {
        raw.chain
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect()
    } else {
        main.chain.clone()
    };
    let (chain_facts, unparsable) = crate::cert::chain_facts(&chain);
    facts.chain = chain_facts;
    if !chain.is_empty() {
        facts.trust = crate::cert::verify_chain(&options.roots, &chain, name, UnixTime::now());
        facts.trust.public = crate::cert::public::publicly_trusted(&chain, name, UnixTime::now());
        let shape = crate::cert::chain_shape(&chain, &crate::cert::anchor_subjects(&options.roots));
        facts.trust.ordered = Some(shape.ordered);
        facts.trust.missing_issuer = shape.missing_issuer;
        facts.trust.unknown_issuer = shape.unknown_issuer;
        facts.trust.unparsable = u32::try_from(unparsable).unwrap_or(u32::MAX);
    }

    let staple = if main.ocsp.is_empty() {
        raw.ocsp_staple.clone().unwrap_or_default()
    } else {
        main.ocsp.clone()
    };
    facts.ocsp = ocsp_facts(&staple);

    facts.alpn = AlpnFacts {
        selected: main.negotiated.as_ref().and_then(|n| n.alpn.clone()),
        // h2 is judged only where HTTP runs.
        h2: main
            .negotiated
            .as_ref()
            .filter(|_| protocol.carries_http())
            .map(|n| n.alpn.as_deref() == Some("h2")),
    };
    // Only a server that completes a handshake with SNI can be judged on one without it.
    let bare = bare.filter(|_| main.negotiated.is_some());
    facts.sni = sni_facts(bare, &facts.chain, name);
    facts.client_auth = client_auth_facts(raw, main, anonymous, options);
    facts.features = FeatureFacts {
        fallback_scsv: raw.fallback_scsv,
        secure_renegotiation: raw.secure_renegotiation,
        compression: raw.compression,
        heartbeat: raw.heartbeat,
        dh_bits: raw.dh_bits,
        ecdhe_group: raw.ecdhe_group.clone(),
        hsts_max_age: None,
        http: None,
    };
    facts
}

/// A reply rustls could not parse is "not TLS" only when no raw hello got a ServerHello either;
/// from a server that did answer in TLS it is a malformed handshake.
fn reclassify(mut failure: Failure, reachable: bool) -> Failure {
    if reachable && failure.kind == FailureKind::NotTls {
        failure.kind = FailureKind::Malformed;
    }
    failure
}

fn ocsp_facts(staple: &[u8]) -> OcspFacts {
    if staple.is_empty() {
        return OcspFacts::default();
    }
    let parsed = crate::cert::ocsp::parse(staple);
    let next = parsed.as_ref().and_then(|p| p.next_update);
    OcspFacts {
        stapled: true,
        status: parsed.map(|p| p.status.to_owned()),
        next_update: next
            .and_then(|n| jiff::Timestamp::from_second(n).ok())
            .map(|t| t.to_string()),
        next_update_unix: next,
    }
}

fn sni_facts(bare: Option<&handshake::Outcome>, chain: &[CertFacts], name: &str) -> SniFacts {
    let Some(bare) = bare else {
        return SniFacts::default();
    };
    let default_leaf = bare
        .chain
        .first()
        .and_then(|der| crate::cert::cert_facts(der).ok());
    let completed = bare.negotiated.is_some() || default_leaf.is_some();
    SniFacts {
        handshake_without_sni: Some(completed),
        default_cert_matches: default_leaf.as_ref().map(|leaf| {
            chain
                .first()
                .is_some_and(|served| served.sha256 == leaf.sha256)
                || crate::cert::covers(&leaf.sans, name)
        }),
        default_leaf_sha256: default_leaf.map(|leaf| leaf.sha256),
        alert: bare.failure.as_ref().and_then(|f| f.alert.clone()),
    }
}

/// Alerts a server sends when a client certificate is missing or not accepted.
fn is_client_cert_alert(failure: Option<&Failure>) -> bool {
    failure
        .and_then(|f| f.alert.as_deref())
        .is_some_and(|alert| {
            matches!(
                alert,
                "certificate_required"
                    | "handshake_failure"
                    | "bad_certificate"
                    | "unknown_ca"
                    | "certificate_unknown"
                    | "access_denied"
                    | "decrypt_error"
                    | "certificate_expired"
                    | "unsupported_certificate"
                    | "certificate_revoked"
            )
        })
}

fn client_auth_facts(
    raw: &legacy::RawScan,
    main: &handshake::Outcome,
    anonymous: Option<&handshake::Outcome>,
    options: &ProbeOptions,
) -> ClientAuthFacts {
    let requested = main.client_auth_requested || raw.certificate_request;
    let identity = options.client_identity.as_ref();
    let client_cert = identity
        .and_then(|id| id.chain.first())
        .and_then(|der| crate::cert::cert_facts(der).ok());
    if !requested {
        return ClientAuthFacts {
            client_cert,
            ..ClientAuthFacts::default()
        };
    }
    if !main.client_auth_requested {
        // Only a raw hello saw the request; the validated handshake failed before it.
        return ClientAuthFacts {
            demand: ClientAuthDemand::Requested,
            client_cert,
            ..ClientAuthFacts::default()
        };
    }
    // The handshake made without an identity tells whether one is required.
    let without = if identity.is_some() {
        anonymous
    } else {
        Some(main)
    };
    let demand = match without {
        Some(outcome) if is_client_cert_alert(outcome.failure.as_ref()) => {
            ClientAuthDemand::Required
        }
        Some(outcome) if outcome.failure.is_none() => ClientAuthDemand::Optional,
        _ => ClientAuthDemand::Required,
    };
    let with_identity = identity.map(|_| main);
    ClientAuthFacts {
        demand,
        identity_accepted: with_identity.map(|o| o.failure.is_none()),
        alert: with_identity
            .or(without)
            .and_then(|o| o.failure.as_ref())
            .and_then(|f| f.alert.clone()),
        client_cert,
        http_status_without_certificate: None,
    }
}

/// Statuses with which an HTTP server refuses a request that came without a client certificate
/// (nginx `ssl_verify_client on` answers 400; 495/496 are nginx's internal codes for it).
const CERTIFICATE_REFUSED_STATUSES: [u16; 5] = [400, 401, 403, 495, 496];

/// Records the status of `GET /` without a client certificate, and recognises a demand that the
/// TLS layer leaves optional but HTTP enforces.
fn demand_at_http(auth: &mut ClientAuthFacts, status: Option<u16>) {
    if auth.demand == ClientAuthDemand::None {
        return;
    }
    auth.http_status_without_certificate = status;
    if auth.demand == ClientAuthDemand::Optional
        && status.is_some_and(|s| CERTIFICATE_REFUSED_STATUSES.contains(&s))
    {
        auth.demand = ClientAuthDemand::RequiredAtHttp;
    }
}
