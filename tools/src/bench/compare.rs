//! `qt bench --compare A.json B.json`: two saved runs side by side, with the ratio B/A for
//! every figure (below 1 is faster for latencies, slower for throughputs).

use super::BenchError;
use super::report::{BenchReport, WIRE_HEADING};
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
    if a.latency_name() != b.latency_name() {
        let _ = writeln!(
            s,
            "NOTE: A measured {} and B {}: different paths, the latency ratios compare unlike things",
            a.latency_name(),
            b.latency_name()
        );
    }
    if let (Some(wa), Some(wb)) = (&a.wire, &b.wire) {
        let _ = writeln!(
            s,
            "{WIRE_HEADING}: A {} of {} triggers answered, B {} of {}",
            wa.answered, wa.triggers, wb.answered, wb.triggers
        );
    }
    // `wire` for wire-to-wire runs (the heading says what it is), `tick→order` otherwise.
    let name = if a.wire.is_some() && b.wire.is_some() { "wire" } else { "tick→order" };
    let _ = writeln!(s, "{:<22} {:>14} {:>14} {:>8}", "", "A", "B", "B/A");
    let (pa, pb) = (a.latency(), b.latency());
    let latency = |q: &str| format!("{name} {q} ns");
    let rows: [(String, f64, f64); 11] = [
        (latency("p50"), pa.p50 as f64, pb.p50 as f64),
        (latency("p90"), pa.p90 as f64, pb.p90 as f64),
        (latency("p99"), pa.p99 as f64, pb.p99 as f64),
        (latency("p99.9"), pa.p99_9 as f64, pb.p99_9 as f64),
        (latency("p99.99"), pa.p99_99 as f64, pb.p99_99 as f64),
        (latency("max"), pa.max as f64, pb.max as f64),
        ("events/s".into(), a.events_per_s, b.events_per_s),
        ("frames/s".into(), a.frames_per_s, b.frames_per_s),
        ("orders/s".into(), a.orders_per_s, b.orders_per_s),
        ("allocations".into(), a.allocations.unwrap_or(0) as f64, b.allocations.unwrap_or(0) as f64),
        ("stalls".into(), a.stalls as f64, b.stalls as f64),
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
            tick_to_order_ns: Some(Percentiles { p50, ..Percentiles::default() }),
            wire: None,
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
    fn two_wire_runs_compare_their_wire_to_wire_and_a_mixed_pair_says_so() {
        let wire = |p50: u64| {
            let mut r = run(0, 1.0);
            r.mode = "wire".into();
            r.tick_to_order_ns = None;
            r.wire = Some(crate::bench::report::WireFigures {
                wire_to_wire_ns: Percentiles { p50, ..Percentiles::default() },
                triggers: 10,
                answered: 9,
                no_order: 1,
                no_frame: 0,
                stray_orders: 0,
                answer_timeout_ms: 1000,
                warmup_triggers: 4,
                accounts: 1,
                risk_settings: String::new(),
            });
            r
        };
        let text = side_by_side(&wire(100_000), &wire(150_000), ["a.json", "b.json"]);
        let row = |text: &str, name: &str| text.lines().find(|l| l.starts_with(name)).map(str::to_string);
        assert!(row(&text, "wire p50 ns").unwrap().ends_with(" 1.50"), "{text}");
        assert!(row(&text, "tick→order").is_none(), "{text}");
        assert!(text.contains("A 9 of 10 triggers answered"), "{text}");
        assert!(!text.contains("NOTE"), "{text}");
        let mixed = side_by_side(&run(400, 2e6), &wire(100_000), ["a.json", "b.json"]);
        assert!(mixed.contains("NOTE: A measured tick→order and B wire-to-wire"), "{mixed}");
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
