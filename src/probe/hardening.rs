//! TLS 1.2 handshake hardening that needs a hello of its own: whether the server signs its
//! ServerKeyExchange with SHA-1 when the client offers nothing better (RFC 9155 section 4: "Servers
//! MUST NOT include MD5 and SHA-1 in ServerKeyExchange messages"). The extended master secret
//! (RFC 7627) is read from the raw scan's TLS 1.2 ServerHello instead, at no extra connection.
//! Input: a [`Dialer`] and the SNI name. Output: `Some(accepted)`, or `None` when no (EC)DHE suite
//! answered. Connection budget: one hello.

use crate::facts::TlsVersion;
use crate::probe::legacy::{exchange, hello};
use crate::probe::net::Dialer;
use crate::tls::flight::StopAt;
use crate::tls::key_exchange::{is_sha1_or_md5_scheme, signature_scheme};
use crate::tls::suites::{self, KeyExchange};

/// rsa_pkcs1_sha1, dsa_sha1 and ecdsa_sha1: the only schemes the probe offers.
const SHA1_SCHEMES: [u16; 3] = [0x0201, 0x0202, 0x0203];

/// Offers every signed (EC)DHE suite of TLS 1.2 with SHA-1 signature algorithms only. A
/// ServerKeyExchange signed with SHA-1 (or MD5) is acceptance; an alert, or a signature with a
/// scheme the client did not offer, is not.
pub async fn sha1_signatures(dialer: &Dialer, sni: Option<&str>) -> Option<bool> {
    let signed: Vec<u16> = suites::for_version(TlsVersion::Tls12.wire())
        .into_iter()
        .filter(|id| {
            suites::lookup(*id)
                .is_some_and(|s| matches!(s.kx, KeyExchange::Ecdhe | KeyExchange::Dhe))
        })
        .collect();
    let mut probe = hello(TlsVersion::Tls12, signed, sni);
    probe.signature_schemes = SHA1_SCHEMES.to_vec();
    let flight = exchange(dialer, &probe, StopAt::HelloDone).await.ok()?;
    let Some(server_hello) = &flight.server_hello else {
        // An alert: the server refused to sign with SHA-1.
        return flight.alert.map(|_| false);
    };
    if server_hello.version() != TlsVersion::Tls12.wire() {
        return None;
    }
    let Some(ske) = flight.server_key_exchange.as_deref() else {
        // A ServerHello, then an alert instead of a signature: the server would not sign.
        return flight.alert.map(|_| false);
    };
    let ecdhe = suites::lookup(server_hello.cipher)?.kx == KeyExchange::Ecdhe;
    Some(is_sha1_or_md5_scheme(signature_scheme(ske, ecdhe)?))
}
