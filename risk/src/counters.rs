//! [`RiskCounters`]: what the risk component counts, written by the core thread (single writer,
//! relaxed stores, see [`qt_core::counters::Counter`]) and read by anyone — the run summary, the
//! control thread's `qt ess status`, a stats exporter — without locks.

use crate::ess::TriggerSource;
use qt_core::counters::Counter;

/// The risk component's counters and gauges.
#[derive(Debug, Default)]
pub struct RiskCounters {
    /// Emergency-stop triggers per [`TriggerSource`] (`ess_triggers_total{source}`), counting
    /// repeats while halted.
    pub ess_triggers: [Counter; TriggerSource::COUNT],
    /// Gauge: 0 armed, 1 triggered, 2 latched.
    pub ess_state: Counter,
    /// Resets accepted.
    pub ess_resets: Counter,
    /// Resets refused (unauthenticated, expired, replayed, not halted).
    pub ess_resets_refused: Counter,
    /// Flatten orders emitted.
    pub flatten_orders: Counter,
    /// Open positions a flatten round could not price (no two-sided quote).
    pub flatten_unpriced: Counter,
    /// Gauge: global risk level, 0 INFO, 1 WARNING, 2 CRITICAL (`risk_level`).
    pub level: Counter,
    /// `risk.updated` events (level changes).
    pub level_changes: Counter,
    /// Timer ticks on which the global level could not be updated (an open position's mark was
    /// invalid or stale).
    pub level_skipped: Counter,
}

impl RiskCounters {
    /// The trigger counter of `source`.
    #[inline]
    pub fn triggers(&self, source: TriggerSource) -> &Counter {
        &self.ess_triggers[source as usize]
    }
}
