//! Key-exchange parameters: named groups and what a TLS ≤ 1.2 ServerKeyExchange reveals about the
//! server's (EC)DHE choice. Input: a ServerKeyExchange body or a group code point. Output: the DH
//! prime size, the ECDHE group, or a group's IANA name.

/// The x25519 named group.
pub const GROUP_X25519: u16 = 0x001D;
/// SecP256r1MLKEM768 (draft-ietf-tls-ecdhe-mlkem): ECDH P-256 + ML-KEM-768.
pub const GROUP_SECP256R1_MLKEM768: u16 = 0x11EB;
/// X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem): X25519 + ML-KEM-768, what current browsers send.
pub const GROUP_X25519_MLKEM768: u16 = 0x11EC;
/// SecP384r1MLKEM1024 (draft-ietf-tls-ecdhe-mlkem): ECDH P-384 + ML-KEM-1024.
pub const GROUP_SECP384R1_MLKEM1024: u16 = 0x11ED;

/// The TLS 1.3 key-exchange groups the group probe asks about, in its offer order: the
/// post-quantum hybrids, the elliptic curves, then the RFC 7919 finite-field groups.
pub const TLS13_GROUPS: &[u16] = &[
    GROUP_X25519_MLKEM768,
    GROUP_SECP256R1_MLKEM768,
    GROUP_SECP384R1_MLKEM1024,
    GROUP_X25519,
    0x0017, // secp256r1
    0x0018, // secp384r1
    0x0019, // secp521r1
    0x001E, // x448
    0x0100, // ffdhe2048
    0x0101, // ffdhe3072
    0x0102, // ffdhe4096
    0x0103, // ffdhe6144
    0x0104, // ffdhe8192
];

/// A post-quantum hybrid (ECDHE + ML-KEM) group.
#[must_use]
pub fn is_pq_hybrid(group: u16) -> bool {
    matches!(
        group,
        GROUP_X25519_MLKEM768 | GROUP_SECP256R1_MLKEM768 | GROUP_SECP384R1_MLKEM1024
    )
}

/// An RFC 7919 finite-field Diffie-Hellman group.
#[must_use]
pub fn is_ffdhe(group: u16) -> bool {
    (0x0100..=0x01FF).contains(&group)
}

/// The SignatureScheme of a TLS 1.2 ServerKeyExchange of an ECDHE (`ecdhe` true) or DHE suite:
/// the two bytes after the key-exchange parameters (RFC 5246 7.4.3, RFC 8422 5.4).
#[must_use]
pub fn signature_scheme(server_key_exchange: &[u8], ecdhe: bool) -> Option<u16> {
    let mut rest = server_key_exchange;
    if ecdhe {
        // curve_type named_curve (3 bytes), then ECPoint<1..2^8-1>.
        let [3, _, _, len, tail @ ..] = rest else {
            return None;
        };
        rest = tail.get(usize::from(*len)..)?;
    } else {
        // dh_p, dh_g, dh_Ys: three <1..2^16-1> vectors.
        for _ in 0..3 {
            let [hi, lo, tail @ ..] = rest else {
                return None;
            };
            rest = tail.get(usize::from(u16::from_be_bytes([*hi, *lo]))..)?;
        }
    }
    match rest {
        [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// A SHA-1 (or MD5) SignatureScheme: hash byte 1 (MD5) or 2 (SHA-1) of RFC 5246's pairs.
#[must_use]
pub fn is_sha1_or_md5_scheme(scheme: u16) -> bool {
    matches!(scheme >> 8, 1 | 2) && (scheme & 0xFF) <= 3
}

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
        0x0103 => "ffdhe6144".into(),
        0x0104 => "ffdhe8192".into(),
        GROUP_SECP256R1_MLKEM768 => "SecP256r1MLKEM768".into(),
        GROUP_X25519_MLKEM768 => "X25519MLKEM768".into(),
        GROUP_SECP384R1_MLKEM1024 => "SecP384r1MLKEM1024".into(),
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

    #[test]
    fn hybrid_groups_are_named_and_recognised() {
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0x11eb), "SecP256r1MLKEM768");
        assert_eq!(group_name(0x11ed), "SecP384r1MLKEM1024");
        assert!(TLS13_GROUPS.iter().take(3).all(|g| is_pq_hybrid(*g)));
        assert!(!is_pq_hybrid(GROUP_X25519) && is_ffdhe(0x0100) && !is_ffdhe(0x001e));
    }

    #[test]
    fn the_server_key_exchange_signature_scheme_follows_the_parameters() {
        // ECDHE: named curve x25519, a 2-byte point, then rsa_pkcs1_sha1.
        let ecdhe = [3, 0x00, 0x1d, 2, 0xaa, 0xbb, 0x02, 0x01, 0x00, 0x01, 0xff];
        assert_eq!(signature_scheme(&ecdhe, true), Some(0x0201));
        assert_eq!(signature_scheme(&ecdhe[..6], true), None);
        // DHE: p = 1 byte, g = 1 byte, Ys = 1 byte, then rsa_pss_rsae_sha256.
        let dhe = [0, 1, 0x17, 0, 1, 2, 0, 1, 9, 0x08, 0x04, 0, 0];
        assert_eq!(signature_scheme(&dhe, false), Some(0x0804));
        assert_eq!(signature_scheme(&dhe[..4], false), None);
        assert!(is_sha1_or_md5_scheme(0x0201) && is_sha1_or_md5_scheme(0x0203));
        assert!(!is_sha1_or_md5_scheme(0x0401) && !is_sha1_or_md5_scheme(0x0804));
    }
}
