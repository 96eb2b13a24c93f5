//! Engine counters: monotonically increasing `u64`s written by the core thread and read by
//! anyone (the stats exporter, the run summary) without locks.
//!
//! Each [`Counter`] has a single writer, so an increment is a relaxed load and store — no
//! locked read-modify-write on the hot path. Readers see each counter's latest value with
//! relaxed ordering (no cross-counter consistency is promised). The block is cache-line padded
//! from its neighbours and allocated once.
//!
//! The block lives in the stats file ([`crate::stats`]): it is a [`StatBlock`], placed in the
//! engine's stats region (a shared file mapping, or an anonymous one without a file), and
//! [`SharedCounters`] is a handle into that mapping — the same one load and store per increment
//! as the `Arc` it replaced.

use crate::risk_api::BlockReason;
use crate::stats::{Describer, StatBlock, StatsHandle};
use std::sync::atomic::{AtomicU64, Ordering};

/// One single-writer counter: an `AtomicU64` (transparent, so blocks of them map onto the
/// stats file's slots).
#[derive(Debug, Default)]
#[repr(transparent)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one. Only the owning thread may call it.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Adds `n`. Only the owning thread may call it.
    #[inline]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    /// Sets a gauge value. Only the owning thread may call it.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything the core thread counts.
#[derive(Debug, Default)]
#[repr(C)]
pub struct EngineCounters {
    /// Market event records processed.
    pub market_events: Counter,
    /// Venue messages (batches) processed.
    pub market_batches: Counter,
    /// Records the book refused (bad price/qty), skipped.
    pub book_errors: Counter,
    /// Books found crossed or locked after a complete message (invalidated, their feed told).
    pub books_crossed: Counter,
    /// Records for an instrument the engine does not know, skipped.
    pub unknown_instrument_events: Counter,
    /// Order requests from strategies.
    pub order_requests: Counter,
    /// Orders sent to gateways.
    pub orders_sent: Counter,
    /// Cancels sent to gateways.
    pub cancels_sent: Counter,
    /// Orders not sent because the gateway queue was full.
    pub order_queue_full: Counter,
    /// Orders not sent because the order table was full.
    pub order_table_full: Counter,
    /// Strategy actions dropped because the per-event action buffer was full.
    pub signal_overflow: Counter,
    /// Execution reports received.
    pub reports: Counter,
    /// Fills received.
    pub fills: Counter,
    /// Orders accepted by venues.
    pub accepted: Counter,
    /// Orders rejected by venues.
    pub venue_rejects: Counter,
    /// Orders cancelled or expired at venues.
    pub cancels: Counter,
    /// Reports for orders the engine does not know, or that contradict its state.
    pub unmatched_reports: Counter,
    /// Reports or fills the position book could not apply (overflow, unknown slot).
    pub accounting_errors: Counter,
    /// Gauge: working orders.
    pub open_orders: Counter,
    /// Loop iterations.
    pub loop_iterations: Counter,
    /// Loop iterations that did work.
    pub busy_iterations: Counter,
    /// Busy iterations slower than the stall threshold.
    pub stalls: Counter,
    /// Records pushed to the journal ring.
    pub journal_records: Counter,
    /// Records dropped: ring full under `DropAndCount`, or the journal thread gone.
    pub journal_dropped: Counter,
    /// Pushes that found the ring full and waited for room (backpressure).
    pub journal_waits: Counter,
    /// Loop iterations that polled no feed because the journal ring was short of room.
    pub journal_market_holds: Counter,
    /// Strategy orders refused because the journal could not write.
    pub journal_refused_orders: Counter,
    /// Gauge: records waiting in the journal ring (stats tick).
    pub journal_ring_depth: Counter,
    /// Gauge: the engine's domain time in ns (simulated time in a simulated run, the wall
    /// clock's monotonic time in a live one) at the last stats tick.
    pub domain_time_ns: Counter,
    /// Risk-originated orders (emergency-stop flatten) sent.
    pub risk_orders_sent: Counter,
    /// Risk-originated orders refused by the engine's sanity check (not reduce-only, off grid,
    /// not reducing the open position) or by a full table/queue.
    pub risk_orders_refused: Counter,
    /// Risk actions dropped because the action buffer was full.
    pub risk_action_overflow: Counter,
    /// Funding payments applied to positions.
    pub funding_payments: Counter,
    /// Control commands for the risk component whose reply could not be sent.
    pub control_replies_dropped: Counter,
    /// Risk decisions: allowed.
    pub risk_allow: Counter,
    /// Risk decisions: scaled down, by reason.
    pub risk_scale_down: ReasonCounters,
    /// Risk decisions: blocked, by reason.
    pub risk_block: ReasonCounters,
}

/// One counter per [`BlockReason`].
#[derive(Debug, Default)]
#[repr(transparent)]
pub struct ReasonCounters([Counter; BlockReason::COUNT]);

impl ReasonCounters {
    /// The counter for `reason`.
    #[inline]
    pub fn get(&self, reason: BlockReason) -> &Counter {
        &self.0[reason as usize]
    }

    /// Sum over reasons.
    pub fn total(&self) -> u64 {
        self.0.iter().map(Counter::get).sum()
    }

    /// `(reason, count)` for every reason with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (BlockReason, u64)> + '_ {
        BlockReason::ALL.iter().map(|r| (*r, self.get(*r).get())).filter(|(_, n)| *n > 0)
    }
}

/// The engine's counter block in its stats region (on its own cache lines), shared between the
/// writer and readers.
pub type SharedCounters = StatsHandle<EngineCounters>;

/// A fresh counter block in a private anonymous region (no file).
pub fn shared() -> SharedCounters {
    crate::stats::private_block()
}

// SAFETY: `#[repr(C)]`, made only of `Counter`s and `ReasonCounters` (transparent arrays of them).
#[allow(unsafe_code, reason = "the SAFETY line above states the layout a StatBlock promises")]
unsafe impl StatBlock for EngineCounters {
    fn describe(&self, d: &mut Describer<'_>) {
        let c = |d: &mut Describer<'_>, c: &Counter, name: &str, help: &str| d.counter(c, name, &[], help);
        c(d, &self.market_events, "market_events_total", "Market records processed.");
        c(d, &self.market_batches, "market_batches_total", "Venue messages (batches) processed.");
        c(d, &self.book_errors, "book_errors_total", "Records the book refused.");
        c(d, &self.books_crossed, "books_crossed_total", "Books found crossed or locked after a message.");
        c(d, &self.unknown_instrument_events, "unknown_instrument_events_total", "Records for unknown instruments.");
        c(d, &self.order_requests, "order_requests_total", "Order requests from strategies.");
        c(d, &self.orders_sent, "orders_sent_total", "Orders sent to gateways.");
        c(d, &self.cancels_sent, "cancels_sent_total", "Cancels sent to gateways.");
        c(d, &self.order_queue_full, "order_queue_full_total", "Orders or cancels not sent: gateway queue full.");
        c(d, &self.order_table_full, "order_table_full_total", "Orders not sent: order table full.");
        c(d, &self.signal_overflow, "signal_overflow_total", "Strategy actions dropped: action buffer full.");
        c(d, &self.reports, "reports_total", "Execution reports received.");
        c(d, &self.fills, "fills_total", "Fills received.");
        c(d, &self.accepted, "orders_accepted_total", "Orders accepted by venues.");
        c(d, &self.venue_rejects, "orders_rejected_total", "Orders rejected by venues.");
        c(d, &self.cancels, "orders_cancelled_total", "Orders cancelled or expired at venues.");
        c(d, &self.unmatched_reports, "unmatched_reports_total", "Reports for unknown or contradicted orders.");
        c(d, &self.accounting_errors, "accounting_errors_total", "Reports the position book could not apply.");
        d.gauge(&self.open_orders, "open_orders", &[], "Working orders.");
        c(d, &self.loop_iterations, "loop_iterations_total", "Core loop iterations.");
        c(d, &self.busy_iterations, "loop_busy_iterations_total", "Core loop iterations that did work.");
        c(d, &self.stalls, "loop_stalls_total", "Busy iterations slower than the stall threshold.");
        c(d, &self.journal_records, "journal_records_total", "Records the core pushed to the journal ring.");
        c(d, &self.journal_dropped, "journal_dropped_total", "Journal records dropped.");
        c(d, &self.journal_waits, "journal_backpressure_stalls_total", "Journal pushes that waited for room.");
        c(
            d,
            &self.journal_market_holds,
            "journal_market_holds_total",
            "Loop iterations that polled no feed: journal ring short of room.",
        );
        c(
            d,
            &self.journal_refused_orders,
            "journal_refused_orders_total",
            "Orders refused: the journal could not write.",
        );
        d.gauge(&self.journal_ring_depth, "queue_depth", &[("queue", "journal")], "Items waiting in a queue.");
        d.gauge_as(
            &self.domain_time_ns,
            crate::stats::GaugeFormat { unit: crate::stats::Unit::Seconds, signed: false, scale: 9 },
            "engine_domain_time_seconds",
            &[],
            "The engine's domain time at the last stats tick (simulated time in a simulated run).",
        );
        c(d, &self.risk_orders_sent, "risk_orders_sent_total", "Emergency-stop flatten orders sent.");
        c(d, &self.risk_orders_refused, "risk_orders_refused_total", "Risk-originated orders refused.");
        c(d, &self.risk_action_overflow, "risk_action_overflow_total", "Risk actions dropped: buffer full.");
        c(d, &self.funding_payments, "funding_payments_total", "Funding payments applied.");
        c(d, &self.control_replies_dropped, "control_replies_dropped_total", "Control replies that could not be sent.");
        const ALL: &str = "Pre-trade risk gate decisions over all accounts.";
        d.counter(&self.risk_allow, "risk_decisions_total", &[("decision", "allow"), ("reason", "none")], ALL);
        for r in BlockReason::ALL {
            d.counter(
                self.risk_scale_down.get(r),
                "risk_decisions_total",
                &[("decision", "scale_down"), ("reason", r.name())],
                ALL,
            );
            d.counter(
                self.risk_block.get(r),
                "risk_decisions_total",
                &[("decision", "block"), ("reason", r.name())],
                ALL,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_reads_across_threads() {
        let c = shared();
        let writer = c.clone();
        std::thread::spawn(move || {
            for _ in 0..1000 {
                writer.fills.incr();
            }
            writer.risk_block.get(BlockReason::MaxOrderNotional).add(3);
        })
        .join()
        .unwrap();
        assert_eq!(c.fills.get(), 1000);
        assert_eq!(c.risk_block.total(), 3);
        assert_eq!(c.risk_block.nonzero().collect::<Vec<_>>(), vec![(BlockReason::MaxOrderNotional, 3)]);
    }
}
