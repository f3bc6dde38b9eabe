//! The one duration grammar of tlsaudit, shared by `scan --timeout`, the controller's flags and a
//! TlsAudit's `spec.interval`. Input: text. Output: a [`Duration`], or why the text is not one. Pure.
//!
//! The grammar is Go's `time.ParseDuration` (what Kubernetes and CEL's `duration()` use): one or
//! more decimal numbers each with a unit — `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h` — such as `90s`,
//! `1h30m` or `1.5s`. A bare number counts as seconds (`scan --timeout 2`). Negative durations are
//! refused: nothing in tlsaudit waits a negative time.

use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Nanoseconds per unit; longer spellings first so that `ms` is not read as `m` + `s`.
const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", NANOS_PER_SECOND),
    ("m", 60 * NANOS_PER_SECOND),
    ("h", 3_600 * NANOS_PER_SECOND),
];

/// Parses `text` (see the module docs for the grammar).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let fail = |reason| DurationError {
        input: text.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(fail("it is negative"));
    }
    let mut rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if rest.is_empty() {
        return Err(fail("it is empty"));
    }
    let mut nanos: u128 = 0;
    let mut first = true;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let per_unit = if unit.is_empty() && first && next.is_empty() {
            // A bare number: seconds.
            NANOS_PER_SECOND
        } else {
            UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, n)| *n)
                .ok_or_else(|| {
                    fail("use a number with a unit: ns, us, ms, s, m, h (e.g. 90s, 1h30m)")
                })?
        };
        let part = scaled(number, per_unit).ok_or_else(|| fail("it is not a number"))?;
        nanos = nanos
            .checked_add(part)
            .ok_or_else(|| fail("it is too long"))?;
        rest = next;
        first = false;
    }
    let seconds = u64::try_from(nanos / NANOS_PER_SECOND).map_err(|_| fail("it is too long"))?;
    let sub = u32::try_from(nanos % NANOS_PER_SECOND).map_err(|_| fail("it is too long"))?;
    Ok(Duration::new(seconds, sub))
}

/// `number` (digits, optionally with a fraction) times `per_unit` nanoseconds, fractions of a
/// nanosecond dropped; `None` when `number` is not a decimal number or overflows.
fn scaled(number: &str, per_unit: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(per_unit)?;
    // Digits past the 30th cannot change a u128 count of nanoseconds of a sane duration.
    let fraction = fraction.get(..fraction.len().min(30)).unwrap_or(fraction);
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().ok()?;
        let denominator = 10_u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        nanos = nanos.checked_add(numerator.checked_mul(per_unit)? / denominator)?;
    }
    Some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_with_every_unit_and_in_sequence() {
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(".5m"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse("2µs"), Ok(Duration::from_micros(2)));
        assert_eq!(parse("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse("1m0.1s"), Ok(Duration::from_millis(60_100)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("+3s"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn a_bare_number_is_seconds() {
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse(" 0.25 "), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn what_is_not_a_duration_is_refused_with_the_text() {
        for bad in [
            "soon",
            "5 parsecs",
            "",
            "-1s",
            "1d",
            "1..5s",
            "s",
            "1h30",
            "1e3s",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("{bad:?}")),
                "{bad:?}: {err}"
            );
        }
        assert!(parse("99999999999999999999999h").is_err());
    }
}
