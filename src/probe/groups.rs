//! TLS 1.3 key-exchange groups: which the server supports, in which order it picks them, and
//! whether a post-quantum hybrid (ML-KEM) is among them. Each hello offers every group not yet
//! found with an empty `key_share` (RFC 8446 4.2.8 allows it), so the server names its pick in a
//! HelloRetryRequest: support is proven without computing a key, and the pick is dropped from the
//! next offer. Input: a [`Dialer`] and the SNI name. Output: [`GroupFacts`].
//!
//! Connection budget: one hello per supported group, plus one that ends the walk (refused); once
//! the server picks an FFDHE group the other FFDHE groups leave the offer, so at most one is
//! listed. OpenSSL 3.0's defaults cost 7 hellos, Go's 8, rustls' (aws-lc-rs) 5; a server without
//! TLS 1.3 costs 1. The hellos carry no key share, so the server computes nothing for them.

use crate::facts::{GroupFacts, TlsVersion};
use crate::probe::legacy::{exchange, hello};
use crate::probe::net::Dialer;
use crate::tls::flight::StopAt;
use crate::tls::key_exchange::{TLS13_GROUPS, group_name, is_ffdhe, is_pq_hybrid};
use crate::tls::suites;

/// Walks the server's TLS 1.3 groups (see the module docs for the budget).
pub async fn scan(dialer: &Dialer, sni: Option<&str>) -> GroupFacts {
    let mut remaining = TLS13_GROUPS.to_vec();
    let mut picked: Vec<u16> = Vec::new();
    let mut facts = GroupFacts::default();
    // Each round removes one group from `remaining`, so this ends after at most its length.
    while !remaining.is_empty() {
        let mut probe = hello(
            TlsVersion::Tls13,
            suites::for_version(TlsVersion::Tls13.wire()),
            sni,
        );
        probe.groups.clone_from(&remaining);
        probe.empty_key_share = true;
        // A broken exchange gets one more try, as in the suite enumeration.
        let answer = match exchange(dialer, &probe, StopAt::ServerHello).await {
            Ok(flight) => Ok(flight),
            Err(_) => exchange(dialer, &probe, StopAt::ServerHello).await,
        };
        let Ok(flight) = answer else {
            facts.incomplete = !picked.is_empty();
            break;
        };
        let group = flight
            .server_hello
            .as_ref()
            .filter(|h| h.version() == TlsVersion::Tls13.wire())
            .and_then(|h| h.key_share_group);
        match group {
            Some(group) if remaining.contains(&group) => {
                picked.push(group);
                // One FFDHE group is enough to know the server does FFDHE in TLS 1.3.
                remaining.retain(|g| *g != group && !(is_ffdhe(group) && is_ffdhe(*g)));
            }
            // A group that was not offered breaks RFC 8446; nothing more can be learned.
            Some(_) => {
                facts.incomplete = true;
                break;
            }
            // Refused (an alert), or no TLS 1.3: the walk is over.
            None => break,
        }
    }
    let answered = !picked.is_empty();
    facts.pq_hybrid = answered.then(|| picked.iter().any(|g| is_pq_hybrid(*g)));
    facts.server_order = server_order(&picked);
    facts.supported = picked.into_iter().map(group_name).collect();
    tracing::debug!(address = %dialer.addr, groups = ?facts.supported, "group probe finished");
    facts
}

/// `Some(true)` when the picks left the offer order (the server applied its own preference);
/// `None` when they followed it, which cannot tell server from client order.
fn server_order(picked: &[u16]) -> Option<bool> {
    let rank = |g: &u16| TLS13_GROUPS.iter().position(|x| x == g);
    picked
        .windows(2)
        .any(|pair| rank(&pair[0]) > rank(&pair[1]))
        .then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_against_the_offer_order_reveal_a_server_preference() {
        assert_eq!(server_order(&[0x11EC, 0x001D, 0x0017]), None);
        assert_eq!(server_order(&[0x001D, 0x11EC]), Some(true));
        assert_eq!(server_order(&[]), None);
    }
}
