//! [`OrderRateWindow`]: at most `orders` orders in any window of length `per` (a sliding
//! window over the send times of the last `orders` allowed orders).
//!
//! Thread: the core thread, one per account inside the risk gate. Contract: the ring of send
//! times is allocated once in [`OrderRateWindow::new`]; [`OrderRateWindow::would_exceed`] and
//! [`OrderRateWindow::record`] are a compare and a store — no allocation, no syscall. Time is
//! the domain clock (Unix ns), so a replay sees the same decisions as the live run.

use crate::profile::OrderRate;
use qt_core::Nanos;

/// The send times of the last `orders` orders, oldest overwritten first.
#[derive(Debug, Clone)]
pub struct OrderRateWindow {
    per: Nanos,
    sent: Vec<Nanos>,
    next: usize,
    filled: usize,
}

impl OrderRateWindow {
    /// A window enforcing `rate` (`rate.orders ≥ 1`, checked by profile resolution; a zero is
    /// treated as one so the window can never be empty).
    pub fn new(rate: OrderRate) -> Self {
        let n = (rate.orders as usize).max(1);
        Self { per: rate.per, sent: vec![Nanos::ZERO; n], next: 0, filled: 0 }
    }

    /// Whether one more order at `now` would make more than `orders` within `per`: true when
    /// the window is full and its oldest order is less than `per` old.
    #[inline]
    pub fn would_exceed(&self, now: Nanos) -> bool {
        if self.filled < self.sent.len() {
            return false;
        }
        // Full ring: `next` is the oldest slot.
        now.saturating_sub(self.sent[self.next]) < self.per
    }

    /// Records an order sent at `now`.
    #[inline]
    pub fn record(&mut self, now: Nanos) {
        self.sent[self.next] = now;
        self.next = if self.next + 1 == self.sent.len() { 0 } else { self.next + 1 };
        if self.filled < self.sent.len() {
            self.filled += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_at_the_limit_then_one_more() {
        let mut w = OrderRateWindow::new(OrderRate { orders: 3, per: Nanos::SECOND });
        for t in [0, 100, 200] {
            assert!(!w.would_exceed(Nanos(t)));
            w.record(Nanos(t));
        }
        // A fourth within the second of the first is over the limit …
        assert!(w.would_exceed(Nanos(Nanos::SECOND.0 - 1)));
        // … and allowed once the first has aged out exactly one window.
        assert!(!w.would_exceed(Nanos(Nanos::SECOND.0)));
        w.record(Nanos(Nanos::SECOND.0));
        assert!(w.would_exceed(Nanos(Nanos::SECOND.0 + 99)));
        assert!(!w.would_exceed(Nanos(Nanos::SECOND.0 + 100)));
    }
}
