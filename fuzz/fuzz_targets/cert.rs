//! Feeds arbitrary DER to certificate judging: the input is cut into certificates (at each outer
//! DER SEQUENCE), which go through `cert_facts`, the webpki chain verdict (including the retry
//! inside the leaf's validity window, where server-chosen dates once crashed `clamp`), the chain
//! shape, the OCSP parser and finally `evaluate` on the resulting facts. Nothing may panic.
//! The pure rooms are compiled in from the main crate's source, as in the flight target, so the
//! operator's dependency tree (kube, tokio) stays out of the fuzz build.

#![no_main]
#![allow(dead_code, unused_imports)]

#[path = "../../src/cert/mod.rs"]
mod cert;
#[path = "../../src/evaluate.rs"]
mod evaluate;
#[path = "../../src/facts.rs"]
mod facts;
#[path = "../../src/findings.rs"]
mod findings;
#[path = "../../src/lifetime.rs"]
mod lifetime;
#[path = "../../src/policy.rs"]
mod policy;
#[path = "../../src/tls/mod.rs"]
mod tls;

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};

/// A fixed "now" (2026-01-01): the target must be deterministic.
const NOW: u64 = 1_767_225_600;

/// Splits `data` into the DER SEQUENCEs it starts with (at most 8); the rest is one more part.
fn split(mut data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    while !data.is_empty() && parts.len() < 8 {
        let len = match data {
            [0x30, n, rest @ ..] if *n < 0x80 => Some((2, usize::from(*n), rest.len())),
            [0x30, 0x81, n, rest @ ..] => Some((3, usize::from(*n), rest.len())),
            [0x30, 0x82, a, b, rest @ ..] => {
                Some((4, usize::from(*a) << 8 | usize::from(*b), rest.len()))
            }
            _ => None,
        };
        match len {
            Some((header, body, available)) if body <= available => {
                parts.push(&data[..header + body]);
                data = &data[header + body..];
            }
            _ => {
                parts.push(data);
                break;
            }
        }
    }
    parts
}

fuzz_target!(|data: &[u8]| {
    let chain: Vec<CertificateDer<'_>> = split(data)
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW));

    // The last certificate is offered as the trust anchor, when rustls accepts it as one.
    let mut roots = RootCertStore::empty();
    if let Some(last) = chain.last() {
        let _ = roots.add(last.clone().into_owned());
    }
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().take(2).cloned());
    }
    let roots = Arc::new(roots);

    let (chain_facts, unparsable) = cert::chain_facts(&chain);
    let mut trust = cert::verify_chain(&roots, &chain, "fuzz.example", now);
    trust.public = cert::public::publicly_trusted(&chain, "fuzz.example", now);
    let shape = cert::chain_shape(&chain, &cert::anchor_subjects(&roots));
    trust.ordered = Some(shape.ordered);
    trust.missing_issuer = shape.missing_issuer;
    trust.unknown_issuer = shape.unknown_issuer;
    trust.unparsable = u32::try_from(unparsable).unwrap_or(u32::MAX);
    let _ = cert::ocsp::parse(data);

    let facts = facts::Facts {
        reachable: true,
        chain: chain_facts,
        trust,
        ..facts::Facts::default()
    };
    let at = jiff::Timestamp::from_second(NOW as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    for name in [Some("fuzz.example"), None] {
        let _ = evaluate::evaluate(&facts, name, &policy::Policy::default(), at);
    }
});
