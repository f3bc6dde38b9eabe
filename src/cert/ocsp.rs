//! A stapled OCSP response (RFC 6960) → certificate status and nextUpdate. A small bounded DER walk:
//! only the fields the audit reports are read; anything malformed yields `None`, never a panic.

/// What a staple says about the first certificate it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staple {
    /// `good`, `revoked` or `unknown`.
    pub status: &'static str,
    /// nextUpdate as Unix seconds, when present.
    pub next_update: Option<i64>,
}

/// One DER TLV: (tag, contents, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, body, rest) = tlv(input)?;
    (t == tag).then_some((body, rest))
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` → Unix seconds.
fn generalized_time(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?;
    let digits = text.strip_suffix('Z')?;
    let digits = digits.split('.').next()?;
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<i16>().ok();
    let small = |r: std::ops::Range<usize>| n(r).and_then(|v| i8::try_from(v).ok());
    // The fallible constructor: out-of-range parts give None, not a panic.
    let dt = jiff::civil::DateTime::new(
        n(0..4)?,
        small(4..6)?,
        small(6..8)?,
        small(8..10)?,
        small(10..12)?,
        small(12..14)?,
        0,
    )
    .ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// Parses an OCSPResponse as stapled in a TLS handshake.
#[must_use]
pub fn parse(der: &[u8]) -> Option<Staple> {
    const SEQ: u8 = 0x30;
    let (response, _) = expect(der, SEQ)?;
    let (status, rest) = expect(response, 0x0a)?; // responseStatus ENUMERATED
    if status != [0] {
        return None; // not "successful"
    }
    let (bytes, _) = expect(rest, 0xa0)?; // responseBytes [0] EXPLICIT
    let (bytes, _) = expect(bytes, SEQ)?;
    let (_, after_oid) = expect(bytes, 0x06)?; // responseType OID (id-pkix-ocsp-basic)
    let (basic, _) = expect(after_oid, 0x04)?; // OCTET STRING
    let (basic, _) = expect(basic, SEQ)?; // BasicOCSPResponse
    let (data, _) = expect(basic, SEQ)?; // tbsResponseData
    let mut fields = data;
    if let Some((0xa0, _, rest)) = tlv(fields) {
        fields = rest; // version
    }
    let (_, _, rest) = tlv(fields)?; // responderID
    let (_, rest) = expect(rest, 0x18)?; // producedAt
    let (responses, _) = expect(rest, SEQ)?;
    let (single, _) = expect(responses, SEQ)?;
    let (_, rest) = expect(single, SEQ)?; // certID
    let (tag, _, rest) = tlv(rest)?;
    let status = match tag {
        0x80 => "good",
        0xa1 => "revoked",
        0x82 => "unknown",
        _ => return None,
    };
    let (_, rest) = expect(rest, 0x18)?; // thisUpdate
    let next_update = expect(rest, 0xa0)
        .and_then(|(explicit, _)| expect(explicit, 0x18))
        .and_then(|(time, _)| generalized_time(time));
    Some(Staple {
        status,
        next_update,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_reads_utc_seconds() {
        assert_eq!(generalized_time(b"20300101000000Z"), Some(1_893_456_000));
        assert_eq!(generalized_time(b"20301301000000Z"), None);
        assert_eq!(generalized_time(b"garbage"), None);
    }

    #[test]
    fn truncated_or_garbage_staples_give_none() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x30, 0x82, 0xff, 0xff]), None);
        assert_eq!(parse(&[0x30, 0x03, 0x0a, 0x01, 0x01]), None);
    }
}
