//! HdrHistogram's percentile distribution text (the `.hgrm` format `outputPercentileDistribution`
//! writes and HdrHistogram's plotter reads): a column header, one row per percentile step
//! (value, percentile, total count so far, 1/(1−percentile)), then mean, deviation, max, total
//! count and the bucket layout. Values are written in microseconds (nanoseconds ÷ 1000), the
//! unit the plotter's examples use.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// Rows per halving of the remaining distance to 100 %, as HdrHistogram's default output.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Nanoseconds per written unit (microseconds).
const SCALE: f64 = 1000.0;

/// The distribution of `hist` (nanoseconds, recorded with `sigfig` significant digits).
pub fn percentile_distribution(hist: &Histogram<u64>, sigfig: u8) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:>12} {:>14} {:>10} {:>14}\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let mut total = 0u64;
    if !hist.is_empty() {
        for v in hist.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / SCALE;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
            } else {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let (mean, stdev, max) = if hist.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (hist.mean() / SCALE, hist.stdev() / SCALE, hist.max() as f64 / SCALE)
    };
    let _ = writeln!(s, "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]");
    let _ = writeln!(s, "#[Max     = {max:12.3}, Total count    = {:12}]", hist.len());
    let _ = writeln!(s, "#[Buckets = {:12}, SubBuckets     = {:12}]", hist.buckets(), sub_buckets(sigfig));
    s
}

/// Sub-buckets per bucket for `sigfig` significant digits: the power of two that holds
/// 2 × 10^sigfig, as HdrHistogram lays them out.
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cumulative_and_the_footer_totals_match() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            h.record(v * 100).unwrap();
        }
        let text = percentile_distribution(&h, 3);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]);
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<Vec<f64>> = text
            .lines()
            .skip(2)
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect();
        assert!(rows.len() > 20, "{text}");
        assert!(rows.windows(2).all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1] && w[0][2] <= w[1][2]));
        let last = rows.last().unwrap();
        assert_eq!((last.len(), last[1], last[2]), (3, 1.0, 10_000.0));
        // p50 of 100 ns .. 1 ms in steps of 100 ns is 500 µs, within the 3 digits.
        let median = rows.iter().find(|r| r[1] >= 0.5).unwrap()[0];
        assert!((499.0..=501.0).contains(&median), "{median}");
        assert!(text.contains("#[Max     =     1000.447, Total count    =        10000]"), "{text}");
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
    }

    #[test]
    fn an_empty_histogram_still_has_its_header_and_footer() {
        let h = Histogram::<u64>::new_with_bounds(1, 1000, 3).unwrap();
        let text = percentile_distribution(&h, 3);
        assert!(text.starts_with("       Value"));
        assert!(text.contains("Total count    =            0]"));
    }
}
