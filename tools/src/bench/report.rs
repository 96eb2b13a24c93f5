//! `qt bench`'s result: [`BenchReport`], what a run prints as a table or as JSON (`--json`,
//! the form `--compare` reads back).

use super::drive::Measured;
use super::wire::WireMeasured;
use super::wire_setup::{ANSWER_TIMEOUT, WireShape};
use qt_core::Nanos;
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

/// `--wire`: where wire-to-wire starts.
pub const WIRE_FROM: &str = "the simulator writes the trigger frame to its socket (its monotonic clock read just \
                             before the TLS write of the depthUpdate)";
/// `--wire`: where it ends.
pub const WIRE_TO: &str = "the simulator has parsed the request head of the order it triggered (POST /api/v3/order; \
                           the same process's monotonic clock)";
/// `--wire`: what the figure is called wherever it is printed.
pub const WIRE_HEADING: &str = "wire-to-wire (loopback TLS, this machine)";

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
    /// `in-process` (decoder → core → order ring on one thread) or `wire` (`--wire`).
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
    /// Frames decoded in it (`--wire`: the trigger frames sent).
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
    /// Tick→order, nanoseconds (in-process runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_to_order_ns: Option<Percentiles>,
    /// `--wire` runs: wire-to-wire and the triggers' tally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<WireFigures>,
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

/// A `--wire` run's own figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFigures {
    /// Wire-to-wire ([`WIRE_FROM`] → [`WIRE_TO`]), nanoseconds, over the answered triggers.
    pub wire_to_wire_ns: Percentiles,
    /// Trigger frames sent in the measured window.
    pub triggers: u64,
    /// Triggers answered by an order (the timed ones).
    pub answered: u64,
    /// Triggers whose frame went out but no order came within the answer timeout.
    pub no_order: u64,
    /// Triggers whose frame never went out.
    pub no_frame: u64,
    /// Orders with no trigger waiting for one.
    pub stray_orders: u64,
    /// How long a trigger waited for its order, milliseconds.
    pub answer_timeout_ms: u64,
    /// Triggers before the window (connects, syncs, first answers).
    pub warmup_triggers: u64,
    /// Trading accounts (one symbol and one strategy each).
    pub accounts: u64,
    /// The risk settings the bench's engine ran with.
    pub risk_settings: String,
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
    /// What every run reports the same way: the label, the pinning, the window and its rates;
    /// the rest empty for the mode's constructor to fill.
    fn common(label: &RunLabel, pinning: Pinning, elapsed: Nanos, (frames, events): (u64, u64), orders: u64) -> Self {
        let secs = (elapsed.0 as f64 / 1e9).max(1e-9);
        Self {
            mode: String::new(),
            venue: label.venue.clone(),
            rate: label.rate.clone(),
            cpu: label.cpu,
            cpu_source: label.cpu_source.into(),
            pinned: matches!(pinning, Pinning::Pinned(_)),
            idle: "busy_spin".into(),
            from: String::new(),
            to: String::new(),
            elapsed_s: secs,
            frames,
            events,
            orders,
            frames_per_s: frames as f64 / secs,
            events_per_s: events as f64 / secs,
            orders_per_s: orders as f64 / secs,
            tick_to_order_ns: None,
            wire: None,
            allocations: None,
            stalls: 0,
            resyncs: 0,
            resync_stalls: 0,
            resync_allocations: None,
            untimed_orders: 0,
            risk: String::new(),
        }
    }

    /// The report of `m`, labelled with `label`.
    pub fn new(label: &RunLabel, m: &Measured) -> Self {
        let p = Percentiles::of(&m.tick_to_order);
        let counted = |n: u64| m.allocations_counted.then_some(n);
        Self {
            mode: "in-process".into(),
            from: FROM.into(),
            to: TO.into(),
            tick_to_order_ns: Some(p),
            allocations: counted(m.allocations),
            stalls: m.stalls,
            resyncs: m.resyncs,
            resync_stalls: m.resync_stalls,
            resync_allocations: counted(m.resync_allocations),
            untimed_orders: m.untimed_orders,
            risk: m.engine.risk.render(),
            ..Self::common(label, m.pinning, m.elapsed, (m.frames, m.events), p.count)
        }
    }

    /// The report of a `--wire` run `m` of `shape`, labelled with `label` (its frames are the
    /// trigger frames).
    pub fn wire(label: &RunLabel, m: &WireMeasured, shape: &WireShape) -> Self {
        let p = Percentiles::of(&m.wire_to_wire);
        Self {
            mode: "wire".into(),
            from: WIRE_FROM.into(),
            to: WIRE_TO.into(),
            wire: Some(WireFigures {
                wire_to_wire_ns: p,
                triggers: m.triggers,
                answered: p.count,
                no_order: m.no_order,
                no_frame: m.no_frame,
                stray_orders: m.stray_orders,
                answer_timeout_ms: ANSWER_TIMEOUT.as_millis() as u64,
                warmup_triggers: m.warmup_triggers,
                accounts: shape.accounts,
                risk_settings: shape.risk_settings(),
            }),
            allocations: m.allocations_counted.then_some(m.allocations),
            stalls: m.stalls,
            untimed_orders: m.stray_orders,
            risk: m.engine.risk.render(),
            ..Self::common(label, m.pinning, m.elapsed, (m.triggers, m.events), p.count)
        }
    }

    /// The latency this run measured: wire-to-wire for `--wire` runs, else tick→order.
    pub fn latency(&self) -> Percentiles {
        match &self.wire {
            Some(w) => w.wire_to_wire_ns,
            None => self.tick_to_order_ns.unwrap_or_default(),
        }
    }

    /// What [`BenchReport::latency`] is called.
    pub fn latency_name(&self) -> &'static str {
        if self.wire.is_some() { WIRE_HEADING } else { "tick→order" }
    }

    /// The human-readable table.
    pub fn to_text(&self) -> String {
        if let Some(w) = &self.wire {
            return self.wire_text(w);
        }
        let mut s = String::new();
        let core = self.core();
        let _ = writeln!(s, "qt bench: {} {}, rate {}, {core}, {} idle", self.venue, self.mode, self.rate, self.idle);
        let _ = writeln!(s, "tick→order from {}", self.from);
        let _ = writeln!(s, "            to {}", self.to);
        let p = self.latency();
        let _ = writeln!(s, "tick→order (ns) over {} orders:", p.count);
        percentile_rows(&mut s, &p);
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

    /// The `--wire` table.
    fn wire_text(&self, w: &WireFigures) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "qt bench --wire: {} over loopback TLS, rate {}, {}, {} idle",
            self.venue,
            self.rate,
            self.core(),
            self.idle
        );
        let _ = writeln!(
            s,
            "{WIRE_HEADING} — NOT tick→order: the simulator, TLS both ways, the feed, the engine, the gateway"
        );
        let _ = writeln!(s, "  from {}", self.from);
        let _ = writeln!(s, "    to {}", self.to);
        let _ = writeln!(s, "{WIRE_HEADING} (ns) over {} orders:", w.answered);
        percentile_rows(&mut s, &w.wire_to_wire_ns);
        let _ = writeln!(
            s,
            "triggers: {}  orders: {}  no order: {} (none within {} ms)  no frame: {}  stray orders: {}  ({:.2} s, {} warm-up triggers before)",
            w.triggers,
            w.answered,
            w.no_order,
            w.answer_timeout_ms,
            w.no_frame,
            w.stray_orders,
            self.elapsed_s,
            w.warmup_triggers
        );
        let allocations = self.allocations.map_or("not counted".to_string(), |n| n.to_string());
        let _ = writeln!(
            s,
            "allocations: {allocations} (core thread: feed TLS/WebSocket included)  stalls: {}  market events: {}",
            self.stalls, self.events
        );
        let _ = writeln!(s, "bench risk settings: {}", w.risk_settings);
        let _ = writeln!(s, "risk: {}", self.risk);
        s
    }

    /// Where the core thread ran.
    fn core(&self) -> String {
        match (self.cpu, self.pinned) {
            (Some(cpu), true) => format!("core {cpu} ({}, pinned)", self.cpu_source),
            (Some(cpu), false) => format!("core {cpu} ({}, NOT pinned: the OS refused)", self.cpu_source),
            (None, _) => "unpinned (no --core, no configured or isolated CPU)".into(),
        }
    }
}

/// The percentile header and row of `p`.
fn percentile_rows(s: &mut String, p: &Percentiles) {
    let _ = writeln!(s, "{:>10} {:>10} {:>10} {:>10} {:>10} {:>10}", "p50", "p90", "p99", "p99.9", "p99.99", "max");
    let _ = writeln!(s, "{:>10} {:>10} {:>10} {:>10} {:>10} {:>10}", p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max);
}
