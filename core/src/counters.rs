//! Engine counters: monotonically increasing `u64`s written by the core thread and read by
//! anyone (the stats exporter, the run summary) without locks.
//!
//! Each [`Counter`] has a single writer, so an increment is a relaxed load and store — no
//! locked read-modify-write on the hot path. Readers see each counter's latest value with
//! relaxed ordering (no cross-counter consistency is promised). The block is cache-line padded
//! from its neighbours and allocated once.

use crate::risk_api::BlockReason;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};

/// One single-writer counter.
#[derive(Debug, Default)]
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

/// Counters padded onto their own cache lines, shared between the writer and readers.
pub type SharedCounters = std::sync::Arc<CachePadded<EngineCounters>>;

/// A fresh shared counter block.
pub fn shared() -> SharedCounters {
    std::sync::Arc::new(CachePadded::new(EngineCounters::default()))
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
