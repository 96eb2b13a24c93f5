//! [`Histogram`]: a fixed-bucket latency histogram block for the stats file, recorded by one
//! thread with relaxed loads and stores (no read-modify-write), read by anyone.
//!
//! Buckets are log-spaced 1-2-5 bounds from 100 ns to 10 s plus `+Inf`; each bucket counts the
//! samples `≤` its bound and `>` the previous one (not cumulative: readers add them up for
//! Prometheus' `le` buckets). Sum (ns) and count ride along. Recording finds the bucket by
//! counting the bounds below the sample — 25 compares with no branch to mispredict — then does
//! three load/store pairs. The core keeps its hdrhistograms for the summary's exact percentiles;
//! this one is what other processes see.

use super::describe::{Describer, StatBlock};
use crate::counters::Counter;

/// Bucket upper bounds in ns (the last bucket, past them, is `+Inf`).
pub const BOUNDS_NS: [u64; 25] = [
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Buckets, `+Inf` included.
pub const BUCKETS: usize = BOUNDS_NS.len() + 1;

/// A latency histogram in ns (see the module doc).
#[derive(Debug, Default)]
#[repr(C)]
pub struct Histogram {
    buckets: [Counter; BUCKETS],
    sum: Counter,
    count: Counter,
}

impl Histogram {
    /// The bucket a sample of `ns` falls in.
    #[inline]
    pub fn bucket_of(ns: u64) -> usize {
        BOUNDS_NS.iter().map(|b| usize::from(*b < ns)).sum()
    }

    /// The upper bound of bucket `i` (`u64::MAX` for `+Inf`).
    pub fn upper_bound(i: usize) -> u64 {
        BOUNDS_NS.get(i).copied().unwrap_or(u64::MAX)
    }

    /// Records one sample (negative durations count as 0). Only the owning thread may call it.
    #[inline]
    pub fn record(&self, ns: i64) {
        let v = ns.max(0) as u64;
        self.buckets[Self::bucket_of(v)].incr();
        self.sum.add(v);
        self.count.incr();
    }

    /// The bucket counters.
    pub fn buckets(&self) -> &[Counter; BUCKETS] {
        &self.buckets
    }

    /// The sum of samples (ns).
    pub fn sum_counter(&self) -> &Counter {
        &self.sum
    }

    /// The sample count.
    pub fn count_counter(&self) -> &Counter {
        &self.count
    }
}

// SAFETY: `#[repr(C)]` and made only of `Counter`s (`#[repr(transparent)]` `AtomicU64`s).
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for Histogram {
    fn describe(&self, d: &mut Describer<'_>) {
        d.histogram(self, "histogram", &[], "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_on_a_bound_falls_in_that_bucket_and_one_past_in_the_next() {
        for (i, b) in BOUNDS_NS.iter().enumerate() {
            assert_eq!(Histogram::bucket_of(*b), i, "{b} ns");
            assert_eq!(Histogram::bucket_of(b + 1), i + 1, "{} ns", b + 1);
        }
        assert_eq!(Histogram::bucket_of(0), 0);
        assert_eq!(Histogram::bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(Histogram::upper_bound(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn recording_counts_bucket_sum_and_count() {
        let h = Histogram::default();
        h.record(150);
        h.record(150);
        h.record(-5);
        h.record(20_000_000_000);
        assert_eq!(h.buckets()[1].get(), 2);
        assert_eq!(h.buckets()[0].get(), 1);
        assert_eq!(h.buckets()[BUCKETS - 1].get(), 1);
        assert_eq!((h.sum_counter().get(), h.count_counter().get()), (20_000_000_300, 4));
    }

    #[test]
    fn bounds_increase() {
        assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
    }
}
