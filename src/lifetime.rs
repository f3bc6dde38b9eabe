//! Certificate lifetimes (pure): a certificate's validity period, the longest validity the CA/Browser
//! Forum Baseline Requirements allow for a publicly trusted leaf issued at a given notBefore, and the
//! expiry thresholds relative to a certificate's lifetime. Input: Unix seconds and policy numbers;
//! output: seconds, day counts and the threshold that applies.
//!
//! Sources: BR §6.3.2 as amended by ballot SC-081 (BR v2.1.5, effective 2025-05-16; text quoted from
//! BR v2.2.6, `cabforum/servercert` `docs/BR.md`); the "Validity Period" definition of BR §1.6.1 (RFC
//! 5280: notBefore through notAfter, inclusive); BR §7.1.2.7 ("`notBefore`: a value within 48 hours
//! of the certificate signing operation"). Renewal at two thirds of the lifetime is cert-manager's
//! default (`pkg/util/pki/renewaltime.go`) and what Let's Encrypt asks of ACME clients.

/// A day for the Baseline Requirements' calculations: "a day is measured as 86,400 seconds".
pub const DAY: i64 = 86_400;

/// How far a notBefore may sit from the signing operation (BR §7.1.2.7).
const NOT_BEFORE_LENIENCY: i64 = 48 * 3600;

/// Maximum validity of a publicly trusted leaf issued before the first phase of SC-081.
const BEFORE_SC081_DAYS: u32 = 398;

/// SC-081's phases: from this Unix second (00:00 UTC) on, at most this many days.
const SC081_PHASES: [(i64, u32); 3] = [
    (1_773_532_800, 200), // 2026-03-15
    (1_805_068_800, 100), // 2027-03-15
    (1_868_227_200, 47),  // 2029-03-15
];

/// The validity period in seconds: notBefore through notAfter inclusive, so one second more than
/// their difference (a Let's Encrypt 90-day certificate, `notAfter = notBefore + 90 d − 1 s`, is
/// exactly 90 days).
#[must_use]
pub fn validity_period(not_before: i64, not_after: i64) -> i64 {
    not_after.saturating_sub(not_before).saturating_add(1)
}

/// The period in whole days as the BRs count it: any excess over a multiple of 86,400 s is one more
/// day.
#[must_use]
pub fn period_days(period: i64) -> i64 {
    period.div_euclid(DAY) + i64::from(period.rem_euclid(DAY) != 0)
}

/// The longest validity in days the Baseline Requirements allow for a leaf with this notBefore.
/// The notBefore may lie up to 48 hours from the real signing time, so a certificate dated up to
/// 48 hours after a phase boundary gets the older, longer limit: no false alarm at the boundary.
#[must_use]
pub fn public_max_days(not_before: i64) -> u32 {
    let earliest_signing = not_before.saturating_sub(NOT_BEFORE_LENIENCY);
    SC081_PHASES
        .iter()
        .rev()
        .find(|(from, _)| earliest_signing >= *from)
        .map_or(BEFORE_SC081_DAYS, |(_, days)| *days)
}

/// An expiry threshold: the smaller of a fixed number of days and a share of the lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    /// Remaining seconds below which the threshold fires.
    pub seconds: i64,
    /// The fixed part, in days.
    pub days: u32,
    /// The lifetime part, in percent of the validity period.
    pub percent: u32,
    /// The validity period it was computed for, in seconds.
    pub lifetime: i64,
}

impl Threshold {
    /// `min(days, lifetime × percent / 100)` for a certificate valid for `lifetime` seconds.
    #[must_use]
    pub fn new(days: u32, percent: u32, lifetime: i64) -> Self {
        let fixed = i64::from(days) * DAY;
        let relative = lifetime.saturating_mul(i64::from(percent.min(100))) / 100;
        Self {
            seconds: fixed.min(relative),
            days,
            percent,
            lifetime,
        }
    }

    /// Whether the lifetime share, not the day count, set the threshold.
    #[must_use]
    pub fn by_lifetime(&self) -> bool {
        self.seconds < i64::from(self.days) * DAY
    }

    /// Which rule fired, for a finding message.
    #[must_use]
    pub fn describe(&self) -> String {
        if self.by_lifetime() {
            format!(
                "{}% of its lifetime of {} ({}, sooner than {} days)",
                self.percent,
                duration(self.lifetime),
                duration(self.seconds),
                self.days
            )
        } else {
            format!("{} days", self.days)
        }
    }
}

/// Seconds as whole hours below two days, else as days with one decimal when not whole; rounded to
/// the nearest unit, so that a certificate valid "until 23:59:59" reads as whole days.
#[must_use]
pub fn duration(seconds: i64) -> String {
    let round = |unit: i64| (seconds + unit / 2).div_euclid(unit);
    if seconds.abs() < 2 * DAY {
        return format!("{} hours", round(3600));
    }
    let tenths = round(DAY / 10);
    if tenths % 10 == 0 {
        format!("{} days", tenths / 10)
    } else {
        format!("{}.{} days", tenths / 10, (tenths % 10).abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;
    const PHASE_200: i64 = 1_773_532_800;
    const PHASE_100: i64 = 1_805_068_800;
    const PHASE_47: i64 = 1_868_227_200;

    #[test]
    fn phase_starts_are_midnight_utc_of_the_ballot_dates() {
        for (unix, date) in [
            (PHASE_200, "2026-03-15T00:00:00Z"),
            (PHASE_100, "2027-03-15T00:00:00Z"),
            (PHASE_47, "2029-03-15T00:00:00Z"),
        ] {
            let parsed: jiff::Timestamp = date.parse().unwrap();
            assert_eq!(parsed.as_second(), unix);
        }
    }

    #[test]
    fn a_lets_encrypt_style_90_day_certificate_is_exactly_90_days() {
        let not_before = PHASE_200 + 10 * DAY;
        let period = validity_period(not_before, not_before + 90 * DAY - 1);
        assert_eq!(period, 90 * DAY);
        assert_eq!(period_days(period), 90);
        assert_eq!(period_days(period + 1), 91, "any excess counts as a day");
    }

    #[test]
    fn before_2026_03_15_the_limit_is_398_days() {
        assert_eq!(public_max_days(PHASE_200 - 400 * DAY), 398);
        assert_eq!(public_max_days(PHASE_200 - 1), 398);
    }

    #[test]
    fn each_boundary_keeps_the_older_limit_for_48_hours_after_it() {
        for (start, older, newer) in [
            (PHASE_200, 398, 200),
            (PHASE_100, 200, 100),
            (PHASE_47, 100, 47),
        ] {
            assert_eq!(public_max_days(start - 48 * HOUR), older);
            assert_eq!(public_max_days(start), older, "signed up to 48 h earlier");
            assert_eq!(public_max_days(start + 48 * HOUR - 1), older);
            assert_eq!(public_max_days(start + 48 * HOUR), newer);
            assert_eq!(public_max_days(start + 30 * DAY), newer);
        }
    }

    #[test]
    fn after_2029_03_15_the_limit_stays_47_days() {
        assert_eq!(public_max_days(PHASE_47 + 3650 * DAY), 47);
    }

    #[test]
    fn short_lived_certificates_take_the_lifetime_share_long_lived_ones_the_days() {
        let six_days = Threshold::new(28, 33, 160 * HOUR);
        assert!(six_days.by_lifetime());
        assert_eq!(six_days.seconds, 160 * HOUR * 33 / 100);
        let forty_five = Threshold::new(28, 33, 45 * DAY);
        assert_eq!(forty_five.seconds, 45 * DAY * 33 / 100);
        let ninety = Threshold::new(28, 33, 90 * DAY);
        assert!(!ninety.by_lifetime());
        assert_eq!(ninety.seconds, 28 * DAY);
        assert_eq!(ninety.describe(), "28 days");
        assert_eq!(
            forty_five.describe(),
            "33% of its lifetime of 45 days (14.9 days, sooner than 28 days)"
        );
    }

    #[test]
    fn one_hundred_percent_means_days_only() {
        assert_eq!(Threshold::new(14, 100, 6 * DAY).seconds, 6 * DAY);
        assert_eq!(Threshold::new(14, 100, 398 * DAY).seconds, 14 * DAY);
    }

    #[test]
    fn durations_read_as_hours_or_days() {
        assert_eq!(duration(53 * HOUR), "2.2 days");
        assert_eq!(duration(26 * HOUR), "26 hours");
        assert_eq!(duration(5 * DAY), "5 days");
        assert_eq!(duration(5 * DAY - 1), "5 days");
        assert_eq!(duration(40 * HOUR - 1), "40 hours");
    }
}
