//! Idle strategies for a polling thread: what to do when an iteration found no work.
//!
//! Busy-spin for a pinned core on bare metal (lowest latency, burns the core); spin-then-yield
//! for shared machines; backoff that ends in short sleeps for laptops and CI. The strategy is
//! only consulted after an iteration that did nothing, so it never delays available work.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How a polling loop waits when there is no work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IdleStrategy {
    /// Spin with a CPU pause hint; never gives up the core.
    #[default]
    BusySpin,
    /// Spin `spins` empty iterations, then `yield` to the scheduler.
    SpinYield {
        /// Empty iterations before yielding.
        spins: u32,
    },
    /// Spin, then yield, then sleep from 1 µs doubling up to `max_sleep_us`.
    Backoff {
        /// Empty iterations spent spinning.
        spins: u32,
        /// Empty iterations spent yielding after the spins.
        yields: u32,
        /// Longest sleep, microseconds.
        max_sleep_us: u64,
    },
}

impl IdleStrategy {
    /// A backoff suitable for tests and laptops.
    pub const GENTLE: IdleStrategy = IdleStrategy::Backoff { spins: 100, yields: 100, max_sleep_us: 1000 };
}

/// The running state of an idle strategy for one thread.
#[derive(Debug, Clone)]
pub struct Idler {
    strategy: IdleStrategy,
    empty_iterations: u64,
    sleep_us: u64,
}

impl Idler {
    /// A fresh idler.
    pub fn new(strategy: IdleStrategy) -> Self {
        Self { strategy, empty_iterations: 0, sleep_us: 1 }
    }

    /// Called after every iteration with the work it did.
    #[inline]
    pub fn idle(&mut self, work: usize) {
        if work > 0 {
            self.empty_iterations = 0;
            self.sleep_us = 1;
            return;
        }
        self.empty_iterations += 1;
        match self.strategy {
            IdleStrategy::BusySpin => std::hint::spin_loop(),
            IdleStrategy::SpinYield { spins } => {
                if self.empty_iterations <= u64::from(spins) {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            IdleStrategy::Backoff { spins, yields, max_sleep_us } => {
                let n = self.empty_iterations;
                if n <= u64::from(spins) {
                    std::hint::spin_loop();
                } else if n <= u64::from(spins) + u64::from(yields) {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(self.sleep_us));
                    self.sleep_us = (self.sleep_us * 2).min(max_sleep_us.max(1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_sleeps_only_after_spins_and_yields() {
        let mut idler = Idler::new(IdleStrategy::Backoff { spins: 2, yields: 1, max_sleep_us: 4 });
        for _ in 0..3 {
            idler.idle(0);
        }
        assert_eq!(idler.sleep_us, 1, "no sleep yet");
        idler.idle(0);
        idler.idle(0);
        idler.idle(0);
        idler.idle(0);
        assert_eq!(idler.sleep_us, 4, "capped");
        idler.idle(1);
        assert_eq!(idler.empty_iterations, 0);
        assert_eq!(idler.sleep_us, 1);
    }
}
