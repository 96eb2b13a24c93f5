//! USD-M funding in the simulator ([`FundingClock`]): at every funding time (the boundaries of
//! the funding interval from 00:00 UTC: every 8 h by default, as `premiumIndex`'s
//! `nextFundingTime` says) each position on each USD-M contract pays or receives `rate × position
//! value at the mark` ([`crate::market::Market::book_funding`]), which the user stream shows as
//! `ACCOUNT_UPDATE` with reason `FUNDING_FEE`.
//!
//! The simulator has no timer thread per protocol: the clock is checked on every USD-M request
//! and by every user stream session (every few milliseconds), and a boundary that has passed is
//! booked once, by whichever thread sees it first (several missed boundaries are booked once —
//! a guess at a venue that was not asked, README lists it). [`super::BinanceUsdm::with_funding_interval`]
//! is the test knob.
//!
//! Lock-free (one atomic); books through the market's lock.

use crate::market::Market;
use qt_core::Rate;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The documented funding interval (8 h).
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(8 * 3600);
/// The funding rate the simulator charges (`premiumIndex`'s `lastFundingRate`, 0.01 %).
pub(super) const RATE: Rate = Rate::from_bps(1);

/// When funding is next due, and its interval.
#[derive(Debug)]
pub(super) struct FundingClock {
    every_ms: i64,
    /// The next funding time (Unix ms); 0 until first checked.
    next_ms: AtomicI64,
}

impl FundingClock {
    pub(super) fn new(every: Duration) -> Self {
        Self { every_ms: i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1), next_ms: AtomicI64::new(0) }
    }

    /// The next funding time after `now_ms`.
    pub(super) fn next_after(&self, now_ms: i64) -> i64 {
        (now_ms.div_euclid(self.every_ms) + 1).saturating_mul(self.every_ms)
    }

    /// Books funding on every USD-M contract if a funding time has passed since the last check;
    /// returns whether it did.
    pub(super) fn tick(&self, market: &Market, is_contract: impl Fn(usize) -> bool) -> bool {
        let now = market.now_ms();
        let due = self.next_ms.load(Ordering::Acquire);
        if due == 0 {
            let _ = self.next_ms.compare_exchange(0, self.next_after(now), Ordering::AcqRel, Ordering::Acquire);
            return false;
        }
        if now < due
            || self.next_ms.compare_exchange(due, self.next_after(now), Ordering::AcqRel, Ordering::Acquire).is_err()
        {
            return false;
        }
        for symbol in (0..market.instruments().len()).filter(|i| is_contract(*i)) {
            market.book_funding(symbol, RATE);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Funding is at 00:00, 08:00 and 16:00 UTC by default: the next one after a time in between.
    #[test]
    fn next_funding_is_the_next_boundary() {
        let clock = FundingClock::new(DEFAULT_INTERVAL);
        let every = 8 * 3600 * 1000;
        let day = 1_597_363_200_000; // 2020-08-14 00:00 UTC
        assert_eq!(clock.next_after(1_597_370_495_002), day + every);
        assert_eq!(clock.next_after(day), day + every);
        assert_eq!(clock.next_after(day + 2 * every + 1), day + 3 * every);
        assert_eq!(FundingClock::new(Duration::from_millis(500)).next_after(1_250), 1_500);
    }
}
