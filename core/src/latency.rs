//! Latency histograms (hdrhistogram) recorded on the core thread.
//!
//! Allocated once at start-up with fixed bounds (1 ns … 60 s, 3 significant digits); recording
//! never allocates (auto-resize is off; values above the bound are clamped and counted).

use hdrhistogram::Histogram;

/// A latency histogram in nanoseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    clamped: u64,
}

/// Percentiles of a [`LatencyHistogram`], in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Minimum.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
}

impl LatencyHistogram {
    const MAX_NS: u64 = 60_000_000_000;

    /// An empty histogram.
    pub fn new() -> Self {
        // Bounds are constants that hdrhistogram accepts (low ≥ 1, high ≥ 2·low, sigfig ≤ 5).
        #[allow(clippy::expect_used)]
        let hist = Histogram::new_with_bounds(1, Self::MAX_NS, 3).expect("constant histogram bounds are valid");
        Self { hist, clamped: 0 }
    }

    /// Records one sample (negative values count as 0 ns, huge ones are clamped).
    #[inline]
    pub fn record(&mut self, ns: i64) {
        let v = ns.max(1) as u64;
        let v = if v > Self::MAX_NS {
            self.clamped += 1;
            Self::MAX_NS
        } else {
            v
        };
        // Cannot fail: v is within the bounds the histogram was created with.
        let _ = self.hist.record(v);
    }

    /// Samples above the upper bound, recorded as the bound.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// The underlying histogram (nanoseconds), for exports that need every bucket (`qt bench`'s
    /// percentile distribution).
    pub fn hdr(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        let _ = self.hist.add(&other.hist);
        self.clamped += other.clamped;
    }

    /// Percentiles.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.hist;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_within_precision() {
        let mut h = LatencyHistogram::new();
        for v in 1..=1000 {
            h.record(v * 1000);
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((499_000..=501_000).contains(&s.p50), "{s:?}");
        assert!((989_000..=991_000).contains(&s.p99), "{s:?}");
        h.record(i64::MAX);
        assert_eq!(h.clamped(), 1);
    }
}
