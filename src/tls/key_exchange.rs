//! Key-exchange parameters: named groups and what a TLS ≤ 1.2 ServerKeyExchange reveals about the
//! server's (EC)DHE choice. Input: a ServerKeyExchange body or a group code point. Output: the DH
//! prime size, the ECDHE group, or a group's IANA name.

/// The x25519 named group.
pub const GROUP_X25519: u16 = 0x001D;

/// Size in bits of the prime of a DHE ServerKeyExchange (`dh_p<1..2^16-1>` comes first).
#[must_use]
pub fn dh_prime_bits(server_key_exchange: &[u8]) -> Option<u32> {
    let [hi, lo, rest @ ..] = server_key_exchange else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    let prime = rest.get(..len)?;
    let first = prime.iter().position(|b| *b != 0)?;
    let significant = u32::try_from(prime.len() - first).ok()?;
    Some(significant * 8 - prime[first].leading_zeros())
}

/// The named group of an ECDHE ServerKeyExchange (`curve_type` 3 = named_curve, then the group).
#[must_use]
pub fn ecdhe_group(server_key_exchange: &[u8]) -> Option<u16> {
    match server_key_exchange {
        [3, hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// The IANA name of a TLS supported group.
#[must_use]
pub fn group_name(group: u16) -> String {
    match group {
        0x0017 => "secp256r1".into(),
        0x0018 => "secp384r1".into(),
        0x0019 => "secp521r1".into(),
        0x001d => "x25519".into(),
        0x001e => "x448".into(),
        0x0100 => "ffdhe2048".into(),
        0x0101 => "ffdhe3072".into(),
        0x0102 => "ffdhe4096".into(),
        0x11ec => "X25519MLKEM768".into(),
        other => format!("0x{other:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dh_prime_size_counts_significant_bits() {
        let mut ske = vec![0x00, 0x80];
        ske.extend([0xff; 128]);
        ske.extend([0x00, 0x01, 0x02]);
        assert_eq!(dh_prime_bits(&ske), Some(1024));
        let mut small = vec![0x00, 0x03, 0x00, 0x7f, 0x01];
        small.extend([0x00, 0x01, 0x02]);
        assert_eq!(dh_prime_bits(&small), Some(15));
        assert_eq!(dh_prime_bits(&[0x00, 0x10, 0xff]), None, "truncated prime");
        assert_eq!(dh_prime_bits(&[]), None);
    }

    #[test]
    fn ecdhe_group_needs_a_named_curve() {
        assert_eq!(ecdhe_group(&[3, 0x00, 0x1d, 32]), Some(0x001d));
        assert_eq!(ecdhe_group(&[1, 0x00, 0x1d]), None);
        assert_eq!(group_name(0x001d), "x25519");
    }
}
