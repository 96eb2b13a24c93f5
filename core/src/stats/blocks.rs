//! The core thread's stats blocks beyond [`crate::counters::EngineCounters`]: per account, per
//! venue, per account × venue, per feed, per book, per strategy, the latency histograms and the
//! risk component's numbers. Each is a `#[repr(C)]` [`StatBlock`] the engine places in its
//! stats region at start-up; the metric names are those of `docs/STATS.md`.
//!
//! Owner: the core thread, which counts events as they happen and copies the numbers it does
//! not count itself (feed decoders, books, positions, the risk component) on its stats tick —
//! plain stores, no allocation.

use super::describe::{Describer, GaugeFormat, StatBlock};
use super::histogram::Histogram;
use super::layout::Unit;
use crate::counters::{Counter, ReasonCounters};
use crate::feed_source::FeedStats;
use crate::risk_api::BlockReason;

/// Decimal scale of the money gauges (`account_equity`, `account_pnl`): exact to 1e-8.
pub const MONEY_SCALE: u8 = 8;

/// One account's numbers.
#[derive(Debug, Default)]
#[repr(C)]
pub struct AccountStats {
    /// Gate decisions: allowed.
    pub allow: Counter,
    /// Gate decisions: scaled down, by reason.
    pub scale_down: ReasonCounters,
    /// Gate decisions: blocked, by reason.
    pub block: ReasonCounters,
    /// Gauge: positions with a non-zero quantity.
    pub positions_open: Counter,
    /// Gauge (i64, [`MONEY_SCALE`]): equity as the risk component last computed it.
    pub equity: Counter,
    /// Gauge (i64, [`MONEY_SCALE`]): realized PnL over the account's positions.
    pub pnl_realized: Counter,
    /// Gauge (i64, [`MONEY_SCALE`]): unrealized PnL at the books' mids.
    pub pnl_unrealized: Counter,
    /// Gauge (i64, [`MONEY_SCALE`]): fees paid.
    pub pnl_fees: Counter,
}

// SAFETY: `#[repr(C)]`, made only of `Counter`s and `ReasonCounters` (transparent arrays of them).
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for AccountStats {
    fn describe(&self, d: &mut Describer<'_>) {
        const DECISIONS: &str = "Pre-trade risk gate decisions.";
        d.counter(&self.allow, "risk_gate_decisions_total", &[("decision", "allow"), ("reason", "none")], DECISIONS);
        for r in BlockReason::ALL {
            let labels = [("decision", "scale_down"), ("reason", r.name())];
            d.counter(self.scale_down.get(r), "risk_gate_decisions_total", &labels, DECISIONS);
        }
        for r in BlockReason::ALL {
            let labels = [("decision", "block"), ("reason", r.name())];
            d.counter(self.block.get(r), "risk_gate_decisions_total", &labels, DECISIONS);
        }
        d.gauge(&self.positions_open, "positions_open", &[], "Positions with a non-zero quantity.");
        let money = GaugeFormat::money(MONEY_SCALE);
        d.gauge_as(&self.equity, money, "account_equity", &[], "Account equity (settlement currency).");
        const PNL: &str = "Account PnL by kind (settlement currency; fees as paid).";
        d.gauge_as(&self.pnl_realized, money, "account_pnl", &[("kind", "realized")], PNL);
        d.gauge_as(&self.pnl_unrealized, money, "account_pnl", &[("kind", "unrealized")], PNL);
        d.gauge_as(&self.pnl_fees, money, "account_pnl", &[("kind", "fees")], PNL);
    }
}

/// One account's fills at one venue (`trades_executed_total{account,venue}`) and whether the
/// account may route there.
#[derive(Debug, Default)]
#[repr(C)]
pub struct AccountVenueStats {
    /// Fills.
    pub trades: Counter,
    /// Gauge: 1 while the venue is healthy for this account (the venue's score and the
    /// account's own rejects there).
    pub healthy: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for AccountVenueStats {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.trades, "trades_executed_total", &[], "Fills received.");
        d.gauge(&self.healthy, "account_venue_healthy", &[], "1 while the venue is healthy for the account.");
    }
}

/// One venue's health score and its components (`crate::routing::health`), set on the live
/// timer.
#[derive(Debug, Default)]
#[repr(C)]
pub struct VenueHealthStats {
    /// Gauge: 0–100.
    pub score: Counter,
    /// Gauge: 1 while every component passes.
    pub healthy: Counter,
    /// Gauge: orders waiting for the venue's first answer.
    pub waiting: Counter,
    /// Gauge (ns): p99 of order → first answer over the last answers.
    pub ack_p99_ns: Counter,
    /// Gauge: rejects per mille of answers in the window.
    pub reject_permille: Counter,
    /// Gauge (ns): age of the venue's freshest book.
    pub md_age_ns: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for VenueHealthStats {
    fn describe(&self, d: &mut Describer<'_>) {
        let secs = GaugeFormat { unit: Unit::Seconds, signed: false, scale: 9 };
        d.gauge(&self.score, "venue_health_score", &[], "Venue health score (0-100; 100 healthy).");
        d.gauge(&self.healthy, "venue_healthy", &[], "1 while every health component passes.");
        d.gauge(&self.waiting, "venue_orders_awaiting_answer", &[], "Orders waiting for the venue's first answer.");
        d.gauge_as(&self.ack_p99_ns, secs, "venue_ack_p99_seconds", &[], "p99 of order to first answer.");
        d.gauge(&self.reject_permille, "venue_reject_permille", &[], "Rejects per mille of answers (window).");
        d.gauge_as(&self.md_age_ns, secs, "venue_market_data_age_seconds", &[], "Age of the freshest book.");
    }
}

/// Failovers of one account to one venue of its chain
/// (`exchange_failover_events_total{account,primary,selected}`).
#[derive(Debug, Default)]
#[repr(C)]
pub struct FailoverStats {
    /// Times the account's selected venue became this one.
    pub events: Counter,
}

// SAFETY: `#[repr(C)]`, one `Counter`.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for FailoverStats {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.events, "exchange_failover_events_total", &[], "Changes of an account's selected venue.");
    }
}

/// One venue link's numbers (the core's view of its gateway and queues).
#[derive(Debug, Default)]
#[repr(C)]
pub struct VenueStats {
    /// Orders sent to the gateway.
    pub orders: Counter,
    /// Orders the venue accepted.
    pub acks: Counter,
    /// Orders the venue rejected.
    pub rejects: Counter,
    /// Gauge: 1 while the venue is healthy (its gateway says so and no feed is recovering).
    pub connected: Counter,
    /// Gauge: orders in the order ring not yet taken by the gateway.
    pub order_queue_depth: Counter,
    /// Orders or cancels refused because the order ring was full.
    pub order_queue_full: Counter,
    /// Gauge: reports in the report ring not yet applied.
    pub report_queue_depth: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for VenueStats {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.orders, "gateway_orders_total", &[], "Orders handed to the venue's gateway.");
        d.counter(&self.acks, "gateway_acks_total", &[], "Orders the venue accepted.");
        d.counter(&self.rejects, "gateway_rejects_total", &[], "Orders the venue rejected.");
        d.gauge(&self.connected, "gateway_connected", &[], "1 while the venue is usable.");
        d.gauge(&self.order_queue_depth, "queue_depth", &[("queue", "orders")], "Items waiting in a queue.");
        d.counter(&self.order_queue_full, "queue_full_events_total", &[("queue", "orders")], "Pushes refused: full.");
        d.gauge(&self.report_queue_depth, "queue_depth", &[("queue", "reports")], "Items waiting in a queue.");
    }
}

/// One live gateway's view of its venue's clock (owner: the gateway thread, `Owner::Gateway`):
/// the server-time sync's estimate, which every signed timestamp is corrected by.
#[derive(Debug, Default)]
#[repr(C)]
pub struct GatewayClockStats {
    /// Gauge (i64 milliseconds, read in seconds): the venue's clock minus ours at the last
    /// estimate.
    pub offset_ms: Counter,
    /// Estimates of the venue's clock made.
    pub syncs: Counter,
    /// Requests the venue refused for their timestamp (Binance -1021).
    pub timestamp_rejects: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for GatewayClockStats {
    fn describe(&self, d: &mut Describer<'_>) {
        let seconds = GaugeFormat { unit: Unit::Seconds, signed: true, scale: 3 };
        const OFFSET: &str = "The venue's clock minus ours, as the gateway's time sync last estimated it.";
        d.gauge_as(&self.offset_ms, seconds, "gateway_clock_offset_seconds", &[], OFFSET);
        d.counter(&self.syncs, "gateway_time_syncs_total", &[], "Estimates of the venue's clock made.");
        const REJECTS: &str = "Requests the venue refused for their timestamp.";
        d.counter(&self.timestamp_rejects, "gateway_timestamp_rejects_total", &[], REJECTS);
    }
}

/// One feed's decoder counters, copied from [`FeedStats`] on the stats tick.
#[derive(Debug, Default)]
#[repr(C)]
pub struct FeedBlock {
    /// Frames.
    pub messages: Counter,
    /// Gaps.
    pub gaps: Counter,
    /// Checksum mismatches.
    pub checksum_failed: Counter,
    /// Parse errors by reason index.
    pub parse_errors: [Counter; FeedStats::PARSE_REASONS],
    /// Resyncs.
    pub resyncs: Counter,
}

impl FeedBlock {
    /// Copies `s` (plain stores).
    #[inline]
    pub fn copy_from(&self, s: &FeedStats) {
        self.messages.set(s.messages);
        self.gaps.set(s.gaps);
        self.checksum_failed.set(s.checksum_failed);
        for (c, v) in self.parse_errors.iter().zip(s.parse_error_reasons) {
            c.set(v);
        }
        self.resyncs.set(s.resyncs);
    }
}

/// Label values of the parse-error reasons (the feed crate's `ParseError::reason_index`).
const REASON_LABELS: [&str; FeedStats::PARSE_REASONS] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

// SAFETY: `#[repr(C)]`, only `Counter`s and an array of them.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for FeedBlock {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.messages, "feed_messages_total", &[], "Frames handed to the feed's decoder.");
        d.counter(&self.gaps, "feed_gaps_total", &[], "Sequence gaps detected.");
        d.counter(&self.checksum_failed, "feed_checksum_failures_total", &[], "Book checksum mismatches.");
        for (c, r) in self.parse_errors.iter().zip(REASON_LABELS) {
            d.counter(c, "feed_parse_errors_total", &[("reason", r)], "Frames refused, by reason index.");
        }
        d.counter(&self.resyncs, "feed_resyncs_total", &[], "Resyncs the feed started.");
    }
}

/// One book's health, copied on the stats tick.
#[derive(Debug, Default)]
#[repr(C)]
pub struct BookStats {
    /// Gauge: 1 valid, 0 invalid.
    pub valid: Counter,
    /// Invalidations (each followed by a resync).
    pub resyncs: Counter,
    /// Venue messages applied.
    pub messages: Counter,
    /// Time spent invalid (ns).
    pub invalid_ns: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for BookStats {
    fn describe(&self, d: &mut Describer<'_>) {
        d.gauge(&self.valid, "book_valid", &[], "1 while the book is valid.");
        d.counter(&self.resyncs, "book_resyncs_total", &[], "Times the book went invalid and resynced.");
        d.counter(&self.messages, "book_messages_total", &[], "Venue messages applied to the book.");
        let secs = GaugeFormat { unit: Unit::Seconds, signed: false, scale: 9 };
        d.gauge_as(&self.invalid_ns, secs, "book_invalid_seconds", &[], "Time spent invalid.");
    }
}

/// One strategy's numbers.
#[derive(Debug, Default)]
#[repr(C)]
pub struct StrategyStats {
    /// Orders the strategy asked for.
    pub signals: Counter,
}

// SAFETY: `#[repr(C)]`, one `Counter`.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for StrategyStats {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.signals, "signals_generated_total", &[], "Orders the strategy asked for.");
    }
}

/// The core's latency histograms.
#[derive(Debug, Default)]
#[repr(C)]
pub struct LatencyStats {
    /// Receive of the triggering record → order in the ring.
    pub tick_to_order: Histogram,
    /// Order in the ring → the venue's acceptance applied.
    pub order_ack: Histogram,
    /// Busy loop iterations.
    pub loop_iteration: Histogram,
}

// SAFETY: `#[repr(C)]`, three `Histogram`s (themselves StatBlocks).
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for LatencyStats {
    fn describe(&self, d: &mut Describer<'_>) {
        d.histogram(&self.tick_to_order, "tick_to_order_seconds", &[], "Triggering record received → order enqueued.");
        d.histogram(&self.order_ack, "order_ack_seconds", &[], "Order enqueued → the venue's acceptance applied.");
        d.histogram(&self.loop_iteration, "loop_iteration_seconds", &[], "Busy core loop iterations.");
    }
}

/// Emergency-stop trigger sources a [`RiskStats`] block has room for.
pub const MAX_TRIGGER_SOURCES: usize = 8;

/// The risk component's numbers, copied on the stats tick ([`crate::PreTradeCheck::publish_stats`]).
#[derive(Debug, Default)]
#[repr(C)]
pub struct RiskStats {
    /// Emergency-stop triggers per source (the names: [`crate::PreTradeCheck::trigger_sources`]).
    pub ess_triggers: [Counter; MAX_TRIGGER_SOURCES],
    /// Gauge: 1 while the emergency stop is latched.
    pub ess_latched: Counter,
    /// Gauge: the global risk level (0 lowest).
    pub global_risk_level: Counter,
}

impl RiskStats {
    /// Describes the block with `sources` naming the trigger slots (unnamed slots: `unused_N`).
    pub fn describe_with(&self, d: &mut Describer<'_>, sources: &[&str]) {
        const UNUSED: [&str; MAX_TRIGGER_SOURCES] =
            ["unused_0", "unused_1", "unused_2", "unused_3", "unused_4", "unused_5", "unused_6", "unused_7"];
        for (i, c) in self.ess_triggers.iter().enumerate() {
            let source = sources.get(i).copied().unwrap_or(UNUSED[i]);
            d.counter(c, "ess_triggers_total", &[("source", source)], "Emergency-stop triggers by source.");
        }
        d.gauge(&self.ess_latched, "ess_latched", &[], "1 while the emergency stop is latched.");
        d.gauge(
            &self.global_risk_level,
            "global_risk_level",
            &[],
            "Global risk level (0 INFO, 1 WARNING, 2 CRITICAL).",
        );
    }
}

// SAFETY: `#[repr(C)]`, only `Counter`s and an array of them.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for RiskStats {
    fn describe(&self, d: &mut Describer<'_>) {
        self.describe_with(d, &[]);
    }
}

/// Stress scenarios a [`StressStats`] block has room for.
pub const MAX_STRESS_SCENARIOS: usize = 7;

/// `qt stress`'s runs per scenario and result (owner: its main thread, `Owner::Main`): slot
/// `2 * i` counts scenario `i`'s passes, `2 * i + 1` its failures (a scenario that could not run
/// counts as a failure).
#[derive(Debug, Default)]
#[repr(C)]
pub struct StressStats {
    /// Runs per scenario × {pass, fail}.
    pub runs: [Counter; 2 * MAX_STRESS_SCENARIOS],
}

impl StressStats {
    /// The counter of scenario `index`'s runs with this result (`None` past the block's room).
    pub fn run(&self, index: usize, passed: bool) -> Option<&Counter> {
        self.runs.get(2 * index + usize::from(!passed))
    }

    /// Describes the block with `scenarios` naming the slots (every slot must be named: give
    /// exactly [`MAX_STRESS_SCENARIOS`]).
    pub fn describe_with(&self, d: &mut Describer<'_>, scenarios: &[&str]) {
        for (i, name) in scenarios.iter().take(MAX_STRESS_SCENARIOS).enumerate() {
            for (slot, result) in [(2 * i, "pass"), (2 * i + 1, "fail")] {
                d.counter(
                    &self.runs[slot],
                    "stress_scenario_runs_total",
                    &[("scenario", name), ("result", result)],
                    "Stress scenario runs by scenario and result (qt stress).",
                );
            }
        }
    }
}

// SAFETY: `#[repr(C)]`, only an array of `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for StressStats {
    fn describe(&self, d: &mut Describer<'_>) {
        self.describe_with(d, &[]);
    }
}

/// The journal thread's numbers (owner: `qt-journal`).
#[derive(Debug, Default)]
#[repr(C)]
pub struct JournalBlock {
    /// Records written.
    pub records: Counter,
    /// Bytes written (frames: header and payload).
    pub bytes: Counter,
    /// Commits (batches published).
    pub commits: Counter,
    /// Gauge: 1 once writing has failed (orders are refused from then on).
    pub write_failed: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for JournalBlock {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.records, "journal_written_records_total", &[], "Records the journal thread wrote.");
        d.counter_in(&self.bytes, Unit::Bytes, "journal_written_bytes_total", &[], "Bytes the journal thread wrote.");
        d.counter(&self.commits, "journal_commits_total", &[], "Journal commits (batches).");
        d.gauge(&self.write_failed, "journal_write_failed", &[], "1 once the journal failed to write.");
    }
}

/// What the last reconciliation of one account with its venue found (owner: the main thread,
/// which reconciles).
#[derive(Debug, Default)]
#[repr(C)]
pub struct ReconciliationBlock {
    /// Gauge: positions and balances that differed at the last reconciliation (0: they agree).
    pub differences: Counter,
    /// Reconciliations run.
    pub runs: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for ReconciliationBlock {
    fn describe(&self, d: &mut Describer<'_>) {
        d.gauge(
            &self.differences,
            "reconciliation_difference",
            &[],
            "Positions and balances that differed from the venue at the last reconciliation (0: agree).",
        );
        d.counter(&self.runs, "reconciliation_runs_total", &[], "Reconciliations with the venue run.");
    }
}

/// The stats thread's own numbers (owner: the stats thread).
#[derive(Debug, Default)]
#[repr(C)]
pub struct ExporterBlock {
    /// `GET /metrics` answered (and textfile writes).
    pub scrapes: Counter,
    /// Health probes answered.
    pub probes: Counter,
    /// Requests answered 400, 404, 405 or 431.
    pub bad_requests: Counter,
    /// Connections closed without an answer delivered.
    pub connection_errors: Counter,
    /// node_exporter textfiles written.
    pub textfile_writes: Counter,
    /// node_exporter textfile writes that failed.
    pub textfile_errors: Counter,
}

// SAFETY: `#[repr(C)]`, only `Counter`s.
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for ExporterBlock {
    fn describe(&self, d: &mut Describer<'_>) {
        d.counter(&self.scrapes, "stats_scrapes_total", &[], "Metrics renderings served (scrapes, textfile writes).");
        d.counter(&self.probes, "stats_health_probes_total", &[], "Health probes answered.");
        d.counter(&self.bad_requests, "stats_bad_requests_total", &[], "Requests answered 400, 404, 405 or 431.");
        d.counter(
            &self.connection_errors,
            "stats_connection_errors_total",
            &[],
            "Connections closed without an answer delivered.",
        );
        d.counter(&self.textfile_writes, "stats_textfile_writes_total", &[], "node_exporter textfiles written.");
        d.counter(
            &self.textfile_errors,
            "stats_textfile_errors_total",
            &[],
            "node_exporter textfile writes that failed.",
        );
    }
}
