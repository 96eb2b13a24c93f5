//! `qt bench`'s result: [`BenchReport`], what a run prints as a table or as JSON (`--json`,
//! the form `--compare` reads back).

use super::drive::Measured;
use qt_core::latency::LatencyHistogram;
use qt_core::sys::Pinning;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Where tick→order starts: the moment the triggering frame's bytes were available.
pub const FROM: &str = "frame bytes available (MarketEvent.local_ns: the loop iteration's monotonic clock read that \
                        polled the frame; at a fixed --rate, the frame's scheduled time)";
/// Where it ends: the order on the gateway ring.
pub const TO: &str = "order on the gateway ring (OrderCommand.sent_local_ns: the core's monotonic clock read just \
                      before the push)";

/// Tick→order percentiles, nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Orders timed.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th.
    pub p99: u64,
    /// 99.9th.
    pub p99_9: u64,
    /// 99.99th.
    pub p99_99: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// The percentiles of `hist`.
    pub fn of(hist: &LatencyHistogram) -> Self {
        let h = hist.hdr();
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            p99_99: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// `in-process` (decoder → core → order ring on one thread).
    pub mode: String,
    /// The venue whose decoder read the frames.
    pub venue: String,
    /// `max` or `N/s`.
    pub rate: String,
    /// The CPU asked for, if any.
    pub cpu: Option<usize>,
    /// Why that CPU (`--core`, `config`, `isolated`, `none`).
    pub cpu_source: String,
    /// Whether the core thread was pinned.
    pub pinned: bool,
    /// The idle policy of the loop.
    pub idle: String,
    /// Where tick→order starts ([`FROM`]).
    pub from: String,
    /// Where it ends ([`TO`]).
    pub to: String,
    /// Length of the measured window, seconds.
    pub elapsed_s: f64,
    /// Frames decoded in it.
    pub frames: u64,
    /// Market records through the engine in it.
    pub events: u64,
    /// Timed orders.
    pub orders: u64,
    /// Frames a second.
    pub frames_per_s: f64,
    /// Market records a second (decode + book + strategy + risk).
    pub events_per_s: f64,
    /// Orders a second.
    pub orders_per_s: f64,
    /// Tick→order, nanoseconds.
    pub tick_to_order_ns: Percentiles,
    /// Allocations on the core thread (resyncs apart); `None` without the counting allocator.
    pub allocations: Option<u64>,
    /// Loop iterations over the engine's stall threshold (resyncs apart).
    pub stalls: u64,
    /// Resyncs at the end of each lap of the stream.
    pub resyncs: u64,
    /// Stalls in resync iterations.
    pub resync_stalls: u64,
    /// Allocations in resync iterations.
    pub resync_allocations: Option<u64>,
    /// Orders sent from resync polls (not timed).
    pub untimed_orders: u64,
    /// The risk gate's decisions over the whole run (warm-up included).
    pub risk: String,
}

/// What the run was asked for, for the report's header.
#[derive(Debug, Clone)]
pub struct RunLabel {
    /// Venue name.
    pub venue: String,
    /// Rate as given.
    pub rate: String,
    /// The CPU chosen and why.
    pub cpu: Option<usize>,
    /// `--core`, `config`, `isolated` or `none`.
    pub cpu_source: &'static str,
}

impl BenchReport {
    /// The report of `m`, labelled with `label`.
    pub fn new(label: &RunLabel, m: &Measured) -> Self {
        let secs = (m.elapsed.0 as f64 / 1e9).max(1e-9);
        let p = Percentiles::of(&m.tick_to_order);
        let counted = |n: u64| m.allocations_counted.then_some(n);
        Self {
            mode: "in-process".into(),
            venue: label.venue.clone(),
            rate: label.rate.clone(),
            cpu: label.cpu,
            cpu_source: label.cpu_source.into(),
            pinned: matches!(m.pinning, Pinning::Pinned(_)),
            idle: "busy_spin".into(),
            from: FROM.into(),
            to: TO.into(),
            elapsed_s: secs,
            frames: m.frames,
            events: m.events,
            orders: p.count,
            frames_per_s: m.frames as f64 / secs,
            events_per_s: m.events as f64 / secs,
            orders_per_s: p.count as f64 / secs,
            tick_to_order_ns: p,
            allocations: counted(m.allocations),
            stalls: m.stalls,
            resyncs: m.resyncs,
            resync_stalls: m.resync_stalls,
            resync_allocations: counted(m.resync_allocations),
            untimed_orders: m.untimed_orders,
            risk: m.engine.risk.render(),
        }
    }

    /// The human-readable table.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let core = match (self.cpu, self.pinned) {
            (Some(cpu), true) => format!("core {cpu} ({}, pinned)", self.cpu_source),
            (Some(cpu), false) => format!("core {cpu} ({}, NOT pinned: the OS refused)", self.cpu_source),
            (None, _) => "unpinned (no --core, no configured or isolated CPU)".into(),
        };
        let _ = writeln!(s, "qt bench: {} {}, rate {}, {core}, {} idle", self.venue, self.mode, self.rate, self.idle);
        let _ = writeln!(s, "tick→order from {}", self.from);
        let _ = writeln!(s, "            to {}", self.to);
        let p = &self.tick_to_order_ns;
        let _ = writeln!(s, "tick→order (ns) over {} orders:", p.count);
        let _ = writeln!(s, "{:>10} {:>10} {:>10} {:>10} {:>10} {:>10}", "p50", "p90", "p99", "p99.9", "p99.99", "max");
        let _ = writeln!(s, "{:>10} {:>10} {:>10} {:>10} {:>10} {:>10}", p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max);
        let _ = writeln!(
            s,
            "throughput: {:.0} events/s, {:.0} frames/s, {:.0} orders/s over {:.2} s ({} events, {} frames)",
            self.events_per_s, self.frames_per_s, self.orders_per_s, self.elapsed_s, self.events, self.frames
        );
        let allocations = |n: Option<u64>| n.map_or("not counted".to_string(), |n| n.to_string());
        let _ = writeln!(
            s,
            "allocations: {} (core thread)  stalls: {}  resyncs: {} (stalls {}, allocations {}, untimed orders {})",
            allocations(self.allocations),
            self.stalls,
            self.resyncs,
            self.resync_stalls,
            allocations(self.resync_allocations),
            self.untimed_orders
        );
        let _ = writeln!(s, "risk: {}", self.risk);
        s
    }
}
