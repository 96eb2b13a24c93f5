//! The kit's server-time sync: an estimate of the venue's clock relative to ours, applied to
//! every signed timestamp, so a host clock seconds off does not get every order refused for its
//! timestamp (Binance -1021, Bybit 10002, OKX 50102, ...).
//!
//! Estimator: each sample is one request for the venue's time, stamped with our clock when sent
//! and when answered; assuming the answer was made halfway, the offset is
//! `server − (sent + received) / 2`, wrong by at most half the round trip. Of [`SAMPLES`]
//! samples the one with the shortest round trip wins ([`estimate`]). The venue's time is then
//! our clock plus the offset ([`TimeSync::venue_ms`]).
//!
//! Schedule: estimated at start, again every [`TimeSync::every`] (default [`DEFAULT_EVERY`]),
//! and at once after a timestamp reject ([`TimeSync::expire`]). Our clock comes through a
//! [`Clock`] seam, so a test can run a gateway whose clock is off.
//!
//! Owned by one thread (each gateway thread and each cold helper has its own); the sync blocks
//! for the samples' requests; no allocation.

use qt_core::Clock;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default interval between estimates.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);
/// Samples per estimate.
pub const SAMPLES: usize = 3;

/// One request for the venue's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Our clock when the request was sent, Unix ms.
    pub sent_ms: i64,
    /// Our clock when the answer arrived, Unix ms.
    pub received_ms: i64,
    /// The venue's time in the answer, Unix ms.
    pub server_ms: i64,
}

impl Sample {
    /// The round trip, ms.
    pub fn rtt_ms(&self) -> i64 {
        self.received_ms - self.sent_ms
    }

    /// The venue's clock minus ours at the request's midpoint, ms.
    pub fn offset_ms(&self) -> i64 {
        self.server_ms - self.sent_ms - self.rtt_ms().div_euclid(2)
    }
}

/// An offset estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// The venue's clock minus ours, ms.
    pub offset_ms: i64,
    /// The round trip of the sample it came from (the estimate's error is at most half of it).
    pub rtt_ms: i64,
}

/// The estimate from the sample with the shortest round trip (`None` without a usable sample:
/// one whose clock went backwards is not).
pub fn estimate(samples: &[Sample]) -> Option<Estimate> {
    samples
        .iter()
        .filter(|s| s.rtt_ms() >= 0)
        .min_by_key(|s| s.rtt_ms())
        .map(|s| Estimate { offset_ms: s.offset_ms(), rtt_ms: s.rtt_ms() })
}

/// The venue's clock as one thread sees it.
#[derive(Debug)]
pub struct TimeSync {
    clock: Arc<dyn Clock>,
    offset_ms: i64,
    every: Duration,
    next: Option<Instant>,
    estimates: u64,
}

impl TimeSync {
    /// No estimate yet (offset 0), due at once; re-estimated every `every` (zero: only at
    /// start and after a reject).
    pub fn new(clock: Arc<dyn Clock>, every: Duration) -> Self {
        Self { clock, offset_ms: 0, every, next: None, estimates: 0 }
    }

    /// Our clock, Unix ms.
    pub fn local_ms(&self) -> i64 {
        self.clock.now().0.div_euclid(1_000_000)
    }

    /// The venue's clock, Unix ms: what goes into a signed request's timestamp.
    pub fn venue_ms(&self) -> i64 {
        self.local_ms() + self.offset_ms
    }

    /// The current estimate of the venue's clock minus ours, ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// Estimates made so far.
    pub fn estimates(&self) -> u64 {
        self.estimates
    }

    /// Whether an estimate is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.next.is_none_or(|t| now >= t)
    }

    /// Makes the next estimate due at once (after a timestamp reject).
    pub fn expire(&mut self) {
        self.next = None;
    }

    /// Estimates the offset from [`SAMPLES`] calls of `venue_time` (one request for the venue's
    /// time, Unix ms, each). Failed samples are skipped; with none usable the offset is kept,
    /// the next try is due after `every` (or 1 s), and the error says why.
    #[cold]
    pub fn sync(
        &mut self,
        now: Instant,
        mut venue_time: impl FnMut() -> Result<i64, String>,
    ) -> Result<Estimate, String> {
        let mut samples = [Sample { sent_ms: 0, received_ms: -1, server_ms: 0 }; SAMPLES];
        let mut last_error = String::new();
        for s in &mut samples {
            let sent_ms = self.local_ms();
            match venue_time() {
                Ok(server_ms) => *s = Sample { sent_ms, received_ms: self.local_ms(), server_ms },
                Err(e) => last_error = e,
            }
        }
        let retry = if self.every.is_zero() { Duration::from_secs(1) } else { self.every };
        self.next = Some(now + retry);
        let e = estimate(&samples).ok_or_else(|| format!("no sample of the venue's time: {last_error}"))?;
        self.offset_ms = e.offset_ms;
        self.estimates += 1;
        if self.every.is_zero() {
            self.next = Some(now + Duration::from_secs(u64::MAX / 4));
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{Nanos, SimClock};

    #[test]
    fn the_shortest_round_trip_wins_and_the_midpoint_is_used() {
        let s = |sent_ms, received_ms, server_ms| Sample { sent_ms, received_ms, server_ms };
        // Venue 3000 ms ahead; the 10 ms round trip answered at its midpoint.
        let e = estimate(&[s(1_000, 1_200, 4_150), s(2_000, 2_010, 5_005), s(3_000, 3_050, 6_000)]).unwrap();
        assert_eq!(e, Estimate { offset_ms: 3_000, rtt_ms: 10 });
        // A clock stepping back mid-sample is not a sample.
        assert_eq!(estimate(&[s(5_000, 4_000, 0)]), None);
        assert_eq!(estimate(&[]), None);
        // Behind by 2.5 s.
        assert_eq!(estimate(&[s(10_000, 10_004, 7_502)]).unwrap().offset_ms, -2_500);
    }

    #[test]
    fn sync_applies_the_offset_to_the_venue_clock_and_keeps_it_on_failure() {
        // Our clock is 3 s behind the venue; each request takes 4 ms of our clock.
        let clock = Arc::new(SimClock::new(Nanos(1_700_000_000_000_000_000)));
        let mut t = TimeSync::new(clock.clone(), DEFAULT_EVERY);
        let now = Instant::now();
        assert!(t.due(now));
        let venue = |c: &SimClock| {
            c.advance_to(Nanos(c.now().0 + 2_000_000));
            let server = c.now().0 / 1_000_000 + 3_000;
            c.advance_to(Nanos(c.now().0 + 2_000_000));
            Ok(server)
        };
        let e = t.sync(now, || venue(&clock)).unwrap();
        assert_eq!(e, Estimate { offset_ms: 3_000, rtt_ms: 4 });
        assert_eq!(t.venue_ms(), t.local_ms() + 3_000);
        assert!(!t.due(now) && t.due(now + DEFAULT_EVERY));
        t.expire();
        assert!(t.due(now), "a reject makes it due at once");
        let err = t.sync(now, || Err("HTTP 503".to_string())).unwrap_err();
        assert!(err.contains("HTTP 503"), "{err}");
        assert_eq!(t.offset_ms(), 3_000, "a failed sync keeps the last estimate");
        assert_eq!(t.estimates(), 1);
    }
}
