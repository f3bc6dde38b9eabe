//! The light probe: at most three connections that tell whether a replica serves the same TLS
//! configuration as another replica of its Service that got the full probe. Input: a [`Target`]
//! and [`ProbeOptions`]. Output: [`LightFacts`], whose [`Signature`] is compared with the
//! reference replica's; never an error — failures are recorded in it.
//!
//! The three connections, made at once:
//! 1. a validated rustls handshake with the full probe's main offer (SNI, ALPN, client identity;
//!    no `GET /`): the served chain (SHA-256 of every certificate), the negotiated version, suite,
//!    key-exchange group and ALPN protocol, whether a client certificate was requested and whether
//!    an OCSP response was stapled;
//! 2. a raw ClientHello offering at most TLS 1.1 with every suite of that version: a server that
//!    still speaks TLS 1.0 or 1.1 answers with a ServerHello, a current one with an alert;
//! 3. a raw TLS 1.2 ClientHello offering only the suites that are not both forward secret and
//!    AEAD (RSA key exchange, CBC, RC4, 3DES, NULL, export, anonymous): a server with any of them
//!    enabled picks one, a server with none refuses.
//!
//! What a light probe cannot see (the operator's periodic full probe does): differences among the
//! strong suites and in suite order, SSL 3.0 on a server that refuses TLS 1.0/1.1, the PQ-hybrid
//! and other group support beyond the one negotiated, the certificate served without SNI, HTTP
//! (HSTS, the status of `GET /`), client-certificate acceptance beyond the request itself, and
//! the TLS ≤ 1.2 extras (fallback SCSV, renegotiation, compression, heartbeat, extended master
//! secret, SHA-1 signatures, DH parameter size).

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::facts::{Failure, FailureKind, Negotiated, TlsVersion};
use crate::probe::handshake::{self, Offer};
use crate::probe::legacy;
use crate::probe::net::Dialer;
use crate::probe::{ProbeOptions, Target};
use crate::tls::flight::StopAt;
use crate::tls::suites;

/// Connections a light probe makes at most.
pub const MAX_CONNECTIONS: u32 = 3;

/// What a light probe observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LightFacts {
    /// The configuration seen; `None` when the validated handshake did not complete (then the
    /// replica cannot be matched and gets the full probe). Shared: the operator holds one per
    /// distinct configuration, however many replicas serve it.
    pub signature: Option<Arc<Signature>>,
    /// Connections made (at most [`MAX_CONNECTIONS`]).
    pub connections: u32,
    /// Wall time of the light probe in milliseconds.
    pub duration_ms: u64,
    /// Why the validated handshake failed, when it did.
    pub failure: Option<Failure>,
}

/// The configuration a replica serves, as far as three connections tell. Two replicas with equal
/// signatures are taken to serve the same configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    /// SHA-256 of each served certificate, leaf first.
    pub chain: Vec<[u8; 32]>,
    /// Version, suite, group and ALPN of the validated handshake.
    pub negotiated: Negotiated,
    /// The server sent a CertificateRequest.
    pub client_auth_requested: bool,
    /// An OCSP response was stapled.
    pub stapled: bool,
    /// The answer to a hello offering at most TLS 1.1.
    pub legacy_versions: HelloAnswer,
    /// The answer to a TLS 1.2 hello offering only suites that are not forward-secret AEAD.
    pub weak_suites: HelloAnswer,
}

/// How a server answered one raw ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HelloAnswer {
    /// A ServerHello: the version and suite it chose.
    Accepted {
        /// Version of the ServerHello.
        version: u16,
        /// Suite chosen.
        suite: u16,
    },
    /// An alert (its description code) and no ServerHello.
    Alert(u8),
    /// No TLS answer: the connection failed this way.
    Failed(FailureKind),
}

/// Probes `target` lightly (see the module docs).
pub async fn probe(target: &Target, options: &ProbeOptions) -> LightFacts {
    let started = tokio::time::Instant::now();
    let mut facts = match super::check_target(target) {
        Err(err) => LightFacts {
            failure: Some(Failure {
                kind: FailureKind::InvalidTarget,
                alert: None,
                detail: err.to_string(),
            }),
            ..LightFacts::default()
        },
        Ok(()) => match super::resolve(target, options.timeout.min(options.deadline)).await {
            Ok(addr) => {
                let dialer = Dialer::new(addr, options.timeout, options.max_bytes)
                    .with_protocol(target.protocol)
                    .with_deadline(started, options.deadline);
                let facts = observe(&dialer, target, options).await;
                LightFacts {
                    connections: dialer.connections(),
                    ..facts
                }
            }
            Err(failure) => LightFacts {
                failure: Some(failure),
                ..LightFacts::default()
            },
        },
    };
    facts.duration_ms = millis(started.elapsed());
    facts
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

async fn observe(dialer: &Dialer, target: &Target, options: &ProbeOptions) -> LightFacts {
    let name = super::verify_name(target).to_owned();
    let sni = super::sni_of(target);
    let offer = Offer {
        sni: sni.clone(),
        alpn: super::offered_alpn(target.protocol),
        identity: options.client_identity.clone(),
        http_host: None,
    };
    let legacy_hello = legacy::hello(
        TlsVersion::Tls11,
        suites::for_version(TlsVersion::Tls11.wire()),
        sni.as_deref(),
    );
    let weak_hello = legacy::hello(TlsVersion::Tls12, weak_suites(), sni.as_deref());
    let (main, legacy_versions, weak) = tokio::join!(
        handshake::handshake(dialer, &offer, &name),
        answer(dialer, &legacy_hello),
        answer(dialer, &weak_hello),
    );
    let signature = main.negotiated.clone().map(|negotiated| {
        Arc::new(Signature {
            chain: main
                .chain
                .iter()
                .map(|der| Sha256::digest(der.as_ref()).into())
                .collect(),
            negotiated,
            client_auth_requested: main.client_auth_requested,
            stapled: !main.ocsp.is_empty(),
            legacy_versions,
            weak_suites: weak,
        })
    });
    LightFacts {
        signature,
        failure: main.failure,
        ..LightFacts::default()
    }
}

/// The TLS 1.2 suites that are not both forward secret and AEAD, in registry order.
fn weak_suites() -> Vec<u16> {
    suites::for_version(TlsVersion::Tls12.wire())
        .into_iter()
        .filter(|id| suites::lookup(*id).is_some_and(|s| !(s.forward_secret() && s.aead())))
        .collect()
}

async fn answer(dialer: &Dialer, hello: &crate::tls::client_hello::ClientHello) -> HelloAnswer {
    match legacy::exchange(dialer, hello, StopAt::ServerHello).await {
        Ok(flight) => match (flight.server_hello, flight.alert) {
            (Some(hello), _) => HelloAnswer::Accepted {
                version: hello.version(),
                suite: hello.cipher,
            },
            (None, Some(alert)) => HelloAnswer::Alert(alert.description),
            (None, None) => HelloAnswer::Failed(FailureKind::Reset),
        },
        Err(failure) => HelloAnswer::Failed(failure.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weak_hello_offers_no_forward_secret_aead_suite_and_some_of_every_other_kind() {
        let offered = weak_suites();
        assert!(!offered.is_empty());
        let all: Vec<_> = offered
            .iter()
            .filter_map(|id| suites::lookup(*id))
            .collect();
        assert_eq!(all.len(), offered.len());
        assert!(all.iter().all(|s| !(s.forward_secret() && s.aead())));
        assert!(all.iter().any(|s| s.forward_secret() && s.cbc()));
        assert!(all.iter().any(|s| !s.forward_secret() && s.aead()));
        assert!(all.iter().any(|s| s.is_rc4()));
    }
}
