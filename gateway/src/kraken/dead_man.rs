//! Kraken's dead-man's switch as the gateway keeps it ([`DeadMan`]): `CancelAllOrdersAfter`
//! with a timeout of [`DeadMan::timeout`] seconds, re-sent every third of the timeout while the
//! engine is healthy, so the venue cancels every resting order of the account once refreshes
//! stop — the engine crashed, hung, or judged itself unhealthy — within the timeout.
//!
//! Kraken's advice ([RECALL], `NOTES-orders.md` §5): a timeout of 60 s refreshed every 15–30 s.
//! A refused or unanswered refresh is retried at the next pass (`failed`), not after a full
//! interval, so one lost request does not let the switch fire while healthy. Disarming is a
//! timeout of 0 (a clean stop that leaves orders resting on purpose).
//!
//! Pure bookkeeping on the gateway thread; no allocation, no I/O.

use std::time::{Duration, Instant};

/// When to refresh the switch.
#[derive(Debug, Clone)]
pub struct DeadMan {
    timeout: Duration,
    next: Option<Instant>,
}

impl DeadMan {
    /// A switch of `timeout` (at least 1 s; whole seconds on the wire), due at once.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout: timeout.max(Duration::from_secs(1)), next: None }
    }

    /// The `timeout` to send, in seconds.
    pub fn timeout_s(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }

    /// The refresh interval: a third of the timeout.
    pub fn every(&self) -> Duration {
        self.timeout / 3
    }

    /// Whether a refresh is due at `now`: only while `healthy` (an unhealthy engine lets the
    /// switch fire).
    pub fn due(&self, now: Instant, healthy: bool) -> bool {
        healthy && self.next.is_none_or(|t| now >= t)
    }

    /// The venue accepted a refresh sent at `now`.
    pub fn refreshed(&mut self, now: Instant) {
        self.next = Some(now + self.every());
    }

    /// A refresh failed: due again at the next pass.
    pub fn failed(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_every_third_of_the_timeout_only_while_healthy() {
        let t0 = Instant::now();
        let mut d = DeadMan::new(Duration::from_secs(60));
        assert_eq!((d.timeout_s(), d.every()), (60, Duration::from_secs(20)));
        assert!(d.due(t0, true), "armed at once");
        assert!(!d.due(t0, false), "never refreshed while unhealthy");
        d.refreshed(t0);
        assert!(!d.due(t0 + Duration::from_secs(19), true));
        assert!(d.due(t0 + Duration::from_secs(20), true));
        assert!(!d.due(t0 + Duration::from_secs(20), false));
        d.failed();
        assert!(d.due(t0 + Duration::from_secs(1), true), "a failed refresh is retried at once");
        assert_eq!(DeadMan::new(Duration::from_millis(10)).timeout_s(), 1);
    }
}
