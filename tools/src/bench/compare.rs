//! `qt bench --compare A.json B.json`: two saved runs side by side, with the ratio B/A for
//! every figure (below 1 is faster for latencies, slower for throughputs).

use super::BenchError;
use super::report::BenchReport;
use std::fmt::Write as _;
use std::path::Path;

/// Reads a saved `--json` run.
pub fn load(path: &Path) -> Result<BenchReport, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|e| BenchError::Read(path.display().to_string(), e))?;
    serde_json::from_str(&text).map_err(|e| BenchError::NotARun(path.display().to_string(), e))
}

/// B/A, or `-` where A is 0.
fn ratio(a: f64, b: f64) -> String {
    if a == 0.0 { "-".into() } else { format!("{:.2}", b / a) }
}

/// The side-by-side table of `a` and `b` (named by `names`).
pub fn side_by_side(a: &BenchReport, b: &BenchReport, names: [&str; 2]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "A: {} ({} {}, rate {}, {} orders)", names[0], a.venue, a.mode, a.rate, a.orders);
    let _ = writeln!(s, "B: {} ({} {}, rate {}, {} orders)", names[1], b.venue, b.mode, b.rate, b.orders);
    let _ = writeln!(s, "{:<22} {:>14} {:>14} {:>8}", "", "A", "B", "B/A");
    let (pa, pb) = (&a.tick_to_order_ns, &b.tick_to_order_ns);
    let rows: [(&str, f64, f64); 11] = [
        ("tick→order p50 ns", pa.p50 as f64, pb.p50 as f64),
        ("tick→order p90 ns", pa.p90 as f64, pb.p90 as f64),
        ("tick→order p99 ns", pa.p99 as f64, pb.p99 as f64),
        ("tick→order p99.9 ns", pa.p99_9 as f64, pb.p99_9 as f64),
        ("tick→order p99.99 ns", pa.p99_99 as f64, pb.p99_99 as f64),
        ("tick→order max ns", pa.max as f64, pb.max as f64),
        ("events/s", a.events_per_s, b.events_per_s),
        ("frames/s", a.frames_per_s, b.frames_per_s),
        ("orders/s", a.orders_per_s, b.orders_per_s),
        ("allocations", a.allocations.unwrap_or(0) as f64, b.allocations.unwrap_or(0) as f64),
        ("stalls", a.stalls as f64, b.stalls as f64),
    ];
    for (name, x, y) in rows {
        let _ = writeln!(s, "{name:<22} {x:>14.0} {y:>14.0} {:>8}", ratio(x, y));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Percentiles;

    fn run(p50: u64, events_per_s: f64) -> BenchReport {
        BenchReport {
            mode: "in-process".into(),
            venue: "okx".into(),
            rate: "max".into(),
            cpu: None,
            cpu_source: "none".into(),
            pinned: false,
            idle: "busy_spin".into(),
            from: String::new(),
            to: String::new(),
            elapsed_s: 1.0,
            frames: 10,
            events: 100,
            orders: 5,
            frames_per_s: 10.0,
            events_per_s,
            orders_per_s: 5.0,
            tick_to_order_ns: Percentiles { p50, ..Percentiles::default() },
            allocations: Some(0),
            stalls: 0,
            resyncs: 0,
            resync_stalls: 0,
            resync_allocations: Some(0),
            untimed_orders: 0,
            risk: String::new(),
        }
    }

    #[test]
    fn ratios_are_b_over_a_and_zero_a_has_none() {
        let text = side_by_side(&run(400, 2e6), &run(600, 1e6), ["a.json", "b.json"]);
        let row = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap().to_string();
        assert!(row("tick→order p50 ns").ends_with(" 1.50"), "{text}");
        assert!(row("events/s").ends_with(" 0.50"), "{text}");
        assert!(row("stalls").ends_with(" -"), "{text}");
    }
}
