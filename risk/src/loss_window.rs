//! Daily and weekly loss windows: an account's equity against its loss limits per UTC day and
//! per ISO week.
//!
//! [`LossWindows`] keeps, for the current UTC day and the current ISO week (Monday 00:00 UTC to
//! the next Monday), the reference equity at the start of the window and the lowest equity the
//! limit allows (`reference − reference × limit`, the allowance rounded down, toward safety).
//! [`LossWindows::on_equity`] is fed the account's equity (realized + unrealized PnL marked to
//! mid) and reports whether a window is breached. A breach latches until its window rolls; at the
//! roll the reference becomes the first equity seen in the new window.
//!
//! Thread: the core thread, owned by the account's risk state. Contract: `on_equity` is a few
//! integer operations — no allocation, no lock, no syscall; the window boundaries are computed from
//! Unix nanoseconds by floor division (no calendar library). Time is the domain [`Nanos`] clock
//! (Unix epoch); a timestamp earlier than the current window is judged against the current window,
//! never rolls it back.

use crate::profile::ProfileLimits;
use qt_core::{Nanos, Notional, Rate};

/// Nanoseconds in a UTC day (UTC has no leap seconds in Unix time).
const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
/// 1970-01-01 (Unix day 0) was a Thursday, 3 days after Monday 1969-12-29, the start of its ISO
/// week: day `d` is in week `(d + 3) / 7`, rounded toward negative infinity.
const DAYS_FROM_MONDAY_AT_EPOCH: i64 = 3;

/// The Unix day (days since 1970-01-01 UTC, floored) that contains `now`.
#[inline]
pub fn utc_day(now: Nanos) -> i64 {
    now.0.div_euclid(NANOS_PER_DAY)
}

/// The ISO week (weeks since Monday 1969-12-29 00:00 UTC, floored) that contains `now`.
#[inline]
pub fn iso_week(now: Nanos) -> i64 {
    (utc_day(now) + DAYS_FROM_MONDAY_AT_EPOCH).div_euclid(7)
}

/// The result of checking equity against the loss windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossStatus {
    /// Both windows are within their limits.
    Ok,
    /// The day's loss is over the daily limit (the week is not breached).
    DailyBreached,
    /// The week's loss is over the weekly limit; reported even when the day is breached too,
    /// because it lasts longer.
    WeeklyBreached,
}

impl LossStatus {
    /// Whether trading that adds risk must stop.
    #[inline]
    pub const fn is_breached(self) -> bool {
        !matches!(self, Self::Ok)
    }
}

/// One window (a day or a week): its index, reference equity, floor and latch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    /// Which day or week this is.
    index: i64,
    /// Equity at the start of the window.
    reference: Notional,
    /// The lowest equity within the limit; equity below it is a breach.
    floor: Notional,
    /// Set by a breach; cleared only by a roll.
    breached: bool,
}

impl Window {
    #[inline]
    fn open(index: i64, reference: Notional, limit: Rate) -> Self {
        // Nothing to lose: an account without positive equity starts its window breached.
        let (floor, breached) = if reference > Notional::ZERO {
            match allowance(reference, limit).and_then(|a| reference.checked_sub(a).ok()) {
                Some(floor) => (floor, false),
                // Only reachable with limits `resolve` refuses; fail safe.
                None => (reference, true),
            }
        } else {
            (reference, true)
        };
        Self { index, reference, floor, breached }
    }

    /// Rolls to `index` if it is later than the current window, then checks `equity`.
    #[inline]
    fn observe(&mut self, index: i64, equity: Notional, limit: Rate) -> bool {
        if index > self.index {
            *self = Self::open(index, equity, limit);
        }
        if equity < self.floor {
            self.breached = true;
        }
        self.breached
    }
}

/// `reference × limit`, rounded toward zero (a smaller allowance is the safe side), exactly.
///
/// Split as `(q × 10^8 + r) × limit / 10^8 = q × limit + r × limit / 10^8` so it cannot overflow
/// for any positive reference while `0 ≤ limit ≤ 1`. `None` on a negative limit or overflow
/// (only possible with limits `resolve` refuses).
#[inline]
fn allowance(reference: Notional, limit: Rate) -> Option<Notional> {
    let one = i128::from(Rate::ONE.units());
    let limit = i128::from(limit.units());
    if limit < 0 {
        return None;
    }
    let (q, r) = (reference.units().div_euclid(one), reference.units().rem_euclid(one));
    let whole = q.checked_mul(limit)?;
    let part = r.checked_mul(limit)? / one;
    whole.checked_add(part).map(Notional::from_units)
}

/// An account's daily and weekly loss windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossWindows {
    daily_limit: Rate,
    weekly_limit: Rate,
    day: Window,
    week: Window,
}

impl LossWindows {
    /// Windows for an account whose equity is `equity_at_start` at `now`; both windows open at
    /// `now` with that equity as their reference (a mid-day start counts the rest of the day).
    pub fn new(limits: &ProfileLimits, equity_at_start: Notional, now: Nanos) -> Self {
        Self {
            daily_limit: limits.daily_loss_limit,
            weekly_limit: limits.weekly_loss_limit,
            day: Window::open(utc_day(now), equity_at_start, limits.daily_loss_limit),
            week: Window::open(iso_week(now), equity_at_start, limits.weekly_loss_limit),
        }
    }

    /// Checks `equity` (realized + unrealized PnL marked to mid) at `now`, rolling a window whose
    /// boundary has passed first. A loss exactly at the limit is within it; one unit more is a
    /// breach, which latches until its window rolls. No allocation.
    #[inline]
    pub fn on_equity(&mut self, now: Nanos, equity: Notional) -> LossStatus {
        let daily = self.day.observe(utc_day(now), equity, self.daily_limit);
        let weekly = self.week.observe(iso_week(now), equity, self.weekly_limit);
        Self::status_of(daily, weekly)
    }

    /// The status as of the last check, without a new observation.
    #[inline]
    pub fn status(&self) -> LossStatus {
        Self::status_of(self.day.breached, self.week.breached)
    }

    /// Equity at the start of the current UTC day.
    #[inline]
    pub fn daily_reference(&self) -> Notional {
        self.day.reference
    }

    /// Equity at the start of the current ISO week.
    #[inline]
    pub fn weekly_reference(&self) -> Notional {
        self.week.reference
    }

    /// The lowest equity within today's limit.
    #[inline]
    pub fn daily_floor(&self) -> Notional {
        self.day.floor
    }

    /// The lowest equity within this week's limit.
    #[inline]
    pub fn weekly_floor(&self) -> Notional {
        self.week.floor
    }

    #[inline]
    fn status_of(daily: bool, weekly: bool) -> LossStatus {
        match (daily, weekly) {
            (_, true) => LossStatus::WeeklyBreached,
            (true, false) => LossStatus::DailyBreached,
            (false, false) => LossStatus::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CapitalProfile;

    const SEC: i64 = 1_000_000_000;
    const DAY: i64 = NANOS_PER_DAY;
    /// Monday 2024-01-01 00:00:00 UTC.
    const MON: i64 = 1_704_067_200 * SEC;

    fn usd(text: &str) -> Notional {
        Notional::parse(text).unwrap()
    }

    fn limits(daily: &str, weekly: &str) -> ProfileLimits {
        ProfileLimits {
            daily_loss_limit: Rate::parse(daily).unwrap(),
            weekly_loss_limit: Rate::parse(weekly).unwrap(),
            ..ProfileLimits::defaults(CapitalProfile::Medium)
        }
    }

    #[test]
    fn day_and_week_boundaries_from_unix_nanos() {
        let table = [
            // (now, utc day, iso week)
            (0, 0, 0),                          // Thu 1970-01-01 00:00
            (-1, -1, 0),                        // Wed 1969-12-31 23:59:59.999999999
            (-3 * DAY, -3, 0),                  // Mon 1969-12-29 00:00: the epoch's week starts here
            (-3 * DAY - 1, -4, -1),             // Sun 1969-12-28, the week before
            (4 * DAY - 1, 3, 0),                // Sun 1970-01-04 23:59:59.999999999
            (4 * DAY, 4, 1),                    // Mon 1970-01-05 00:00
            (MON, 19_723, 2_818),               // Mon 2024-01-01 00:00
            (MON - 1, 19_722, 2_817),           // Sun 2023-12-31, last nanosecond
            (MON + 7 * DAY - 1, 19_729, 2_818), // Sun 2024-01-07, last nanosecond
        ];
        for (now, day, week) in table {
            assert_eq!((utc_day(Nanos(now)), iso_week(Nanos(now))), (day, week), "{now}");
        }
        // Every Monday 00:00 in a year starts a new week and no other midnight does.
        for d in 0..366 {
            let midnight = Nanos(MON + d * DAY);
            let new_week = iso_week(midnight) != iso_week(Nanos(midnight.0 - 1));
            assert_eq!(new_week, d % 7 == 0, "day {d}");
        }
    }

    #[test]
    fn exactly_at_the_limit_is_ok_one_unit_over_breaches() {
        // Reference 10 000, daily 2 % -> floor 9 800; weekly 5 % -> floor 9 500.
        let table = [
            ("9800", LossStatus::Ok),
            ("9799.999999999999999999", LossStatus::DailyBreached),
            ("9500", LossStatus::DailyBreached),
            ("9499.999999999999999999", LossStatus::WeeklyBreached),
            ("10000", LossStatus::Ok),
            ("12000", LossStatus::Ok),
        ];
        for (equity, expected) in table {
            let mut w = LossWindows::new(&limits("0.02", "0.05"), usd("10000"), Nanos(MON + SEC));
            assert_eq!((w.daily_floor(), w.weekly_floor()), (usd("9800"), usd("9500")));
            assert_eq!(w.on_equity(Nanos(MON + 2 * SEC), usd(equity)), expected, "{equity}");
        }
    }

    #[test]
    fn allowance_rounds_toward_safety() {
        // 1 % of 199 999 999 units is 1 999 999.99 units: the allowance is floored to 1 999 999,
        // so the floor rounds up and a breach comes one unit sooner, never later.
        let reference = Notional::from_units(199_999_999);
        let mut w = LossWindows::new(&limits("0.01", "0.01"), reference, Nanos(MON));
        assert_eq!(w.daily_floor(), Notional::from_units(199_999_999 - 1_999_999));
        assert_eq!(w.on_equity(Nanos(MON), Notional::from_units(199_999_999 - 1_999_999)), LossStatus::Ok);
        assert_eq!(w.on_equity(Nanos(MON), Notional::from_units(199_999_999 - 2_000_000)), LossStatus::WeeklyBreached);
        // Exact at the top of the range: no overflow for the largest reference.
        assert_eq!(allowance(Notional::MAX, Rate::ONE), Some(Notional::MAX));
        assert_eq!(allowance(Notional::MAX, Rate::ZERO), Some(Notional::ZERO));
        assert_eq!(allowance(usd("1"), Rate::from_units(-1)), None);
    }

    #[test]
    fn day_rolls_at_midnight_exactly_and_the_reference_becomes_the_equity_there() {
        // Tuesday, so only the day rolls.
        let tue = MON + DAY;
        let mut w = LossWindows::new(&limits("0.02", "0.05"), usd("10000"), Nanos(tue + 10 * SEC));
        assert_eq!(w.on_equity(Nanos(tue + DAY - 1), usd("9850")), LossStatus::Ok);
        assert_eq!(w.daily_reference(), usd("10000"));
        // 23:59:59.999999999 is still Tuesday: 9 790 breaches Tuesday's floor of 9 800.
        assert_eq!(w.on_equity(Nanos(tue + DAY - 1), usd("9790")), LossStatus::DailyBreached);
        // 00:00:00.000 Wednesday: a new day, reference 9 790, floor 9 594.2.
        assert_eq!(w.on_equity(Nanos(tue + DAY), usd("9790")), LossStatus::Ok);
        assert_eq!((w.daily_reference(), w.daily_floor()), (usd("9790"), usd("9594.2")));
        // The week kept its Monday reference.
        assert_eq!((w.weekly_reference(), w.weekly_floor()), (usd("10000"), usd("9500")));
        assert_eq!(w.on_equity(Nanos(tue + DAY + 1), usd("9594.2")), LossStatus::Ok);
        assert_eq!(w.on_equity(Nanos(tue + DAY + 2), usd("9594.19")), LossStatus::DailyBreached);
    }

    #[test]
    fn breach_latches_within_the_window_and_clears_after_the_roll() {
        let wed = MON + 2 * DAY;
        let mut w = LossWindows::new(&limits("0.02", "0.05"), usd("10000"), Nanos(wed));
        let table = [
            (wed + 3600 * SEC, "9700", LossStatus::DailyBreached),  // breach
            (wed + 7200 * SEC, "10500", LossStatus::DailyBreached), // recovered, still latched
            (wed + DAY - 1, "10000", LossStatus::DailyBreached),    // last nanosecond of the day
            (wed + DAY, "10000", LossStatus::Ok),                   // Thursday: cleared
            (wed + DAY + 1, "9800", LossStatus::Ok),                // at Thursday's floor
        ];
        for (now, equity, expected) in table {
            assert_eq!(w.on_equity(Nanos(now), usd(equity)), expected, "{now} {equity}");
            assert_eq!(w.status(), expected);
        }
    }

    #[test]
    fn iso_week_rolls_on_monday_and_weekly_breach_shows_while_the_day_is_fine() {
        // 2 % a day, 5 % a week: three 1.9 % days stay within each day but breach the week.
        let mut w = LossWindows::new(&limits("0.02", "0.05"), usd("10000"), Nanos(MON + 9 * 3600 * SEC));
        let table = [
            (MON + DAY - SEC, "9810", LossStatus::Ok),                 // Mon: -1.9 %
            (MON + DAY, "9810", LossStatus::Ok),                       // Tue rolls: day reference 9 810
            (MON + 2 * DAY - SEC, "9630", LossStatus::Ok),             // Tue: -1.83 % for the day, -3.7 % for the week
            (MON + 2 * DAY, "9630", LossStatus::Ok),                   // Wed rolls
            (MON + 3 * DAY - SEC, "9499", LossStatus::WeeklyBreached), // Wed: -1.36 % day, -5.01 % week
            (MON + 3 * DAY, "9499", LossStatus::WeeklyBreached),       // Thu: day rolls, week latched
            (MON + 7 * DAY - 1, "10400", LossStatus::WeeklyBreached),  // Sun 23:59:59.999999999: still latched
            (MON + 7 * DAY, "10400", LossStatus::Ok),                  // Monday 00:00: new week, reference 10 400
            // Week floor 9 880 (at it exactly: fine); day floor 10 192 (below: breached).
            (MON + 7 * DAY + SEC, "9880", LossStatus::DailyBreached),
        ];
        for (i, (now, equity, expected)) in table.into_iter().enumerate() {
            assert_eq!(w.on_equity(Nanos(now), usd(equity)), expected, "row {i}");
        }
        assert_eq!((w.weekly_reference(), w.weekly_floor()), (usd("10400"), usd("9880")));
        assert_eq!((w.daily_reference(), w.daily_floor()), (usd("10400"), usd("10192")));
    }

    #[test]
    fn weekly_breach_while_daily_is_fine_has_its_own_status() {
        // Daily 3 %, weekly 5 %: a day started low in the week can be fine while the week is not.
        let mut w = LossWindows::new(&limits("0.03", "0.05"), usd("1000"), Nanos(MON));
        assert_eq!(w.on_equity(Nanos(MON + DAY), usd("970")), LossStatus::Ok); // Tue reference 970
        assert_eq!(w.on_equity(Nanos(MON + DAY + SEC), usd("949")), LossStatus::WeeklyBreached);
        // The day alone is within its limit (floor 940.9).
        assert_eq!(w.daily_floor(), usd("940.9"));
        assert!(!w.day.breached && w.week.breached);
        assert!(w.status().is_breached());
    }

    #[test]
    fn time_going_backwards_never_rolls_a_window_back() {
        let mut w = LossWindows::new(&limits("0.02", "0.05"), usd("100"), Nanos(MON + DAY));
        assert_eq!(w.on_equity(Nanos(MON + DAY + SEC), usd("97")), LossStatus::DailyBreached);
        assert_eq!(w.on_equity(Nanos(MON + SEC), usd("100")), LossStatus::DailyBreached);
        assert_eq!(w.daily_reference(), usd("100"));
    }

    #[test]
    fn no_positive_equity_means_breached_from_the_start() {
        for equity in ["0", "-5"] {
            let mut w = LossWindows::new(&limits("0.02", "0.05"), usd(equity), Nanos(MON));
            assert_eq!(w.status(), LossStatus::WeeklyBreached, "{equity}");
            assert_eq!(w.on_equity(Nanos(MON + 1), usd("1")), LossStatus::WeeklyBreached, "{equity}");
        }
    }
}
