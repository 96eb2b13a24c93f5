//! The journal thread's stand-in: drains the core → journal ring of [`DecisionRecord`]s and
//! counts them by decision and reason. The durable journal writer is a later issue; until then
//! this consumer keeps the ring moving (so the core's "drop and count when full" policy only
//! triggers when this thread really falls behind) and its counts cross-check the core's.
//!
//! Thread `qt-journal`: owns the consumer end; waits by yielding and short sleeps (it is not a
//! pinned thread). Ends when the stop flag is set and the ring is empty, or the core is gone.

use qt_core::queue::Consumer;
use qt_core::{BlockReason, DecisionRecord};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the journal consumer saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records drained.
    pub records: u64,
    /// Allows.
    pub allow: u64,
    /// Scale-downs, by reason.
    pub scale_down: [u64; BlockReason::COUNT],
    /// Blocks, by reason.
    pub block: [u64; BlockReason::COUNT],
    /// Records whose decision or reason code is not known (a format mismatch).
    pub malformed: u64,
}

impl JournalStats {
    fn count(&mut self, r: &DecisionRecord) {
        self.records += 1;
        match (r.decision, r.block_reason()) {
            (DecisionRecord::ALLOW, _) => self.allow += 1,
            (DecisionRecord::SCALE_DOWN, Some(reason)) => self.scale_down[reason as usize] += 1,
            (DecisionRecord::BLOCK, Some(reason)) => self.block[reason as usize] += 1,
            _ => self.malformed += 1,
        }
    }

    /// Blocks of every reason.
    pub fn blocks(&self) -> u64 {
        self.block.iter().sum()
    }

    /// Scale-downs of every reason.
    pub fn scale_downs(&self) -> u64 {
        self.scale_down.iter().sum()
    }
}

/// Starts the consumer thread.
pub fn spawn(
    mut ring: Consumer<DecisionRecord>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<JournalStats>> {
    std::thread::Builder::new().name("qt-journal".into()).spawn(move || {
        let mut stats = JournalStats::default();
        let mut idle = 0u32;
        loop {
            match ring.pop() {
                Ok(r) => {
                    stats.count(&r);
                    idle = 0;
                }
                Err(_) if ring.is_abandoned() || stop.load(Ordering::Relaxed) => {
                    // Drain what is left, then stop.
                    while let Ok(r) = ring.pop() {
                        stats.count(&r);
                    }
                    return stats;
                }
                Err(_) => {
                    idle = idle.saturating_add(1);
                    if idle < 100 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::queue::spsc;
    use qt_core::{AccountId, DecisionInputs, InstrumentId, Nanos, Qty, RiskDecision, Side};

    #[test]
    fn counts_by_decision_and_reason_and_drains_after_the_producer_is_gone() {
        let (mut tx, rx) = spsc(8);
        let stop = Arc::new(AtomicBool::new(false));
        let handle = spawn(rx, stop).unwrap();
        let req = qt_risk::ess::flatten_request(
            AccountId(0),
            InstrumentId(0),
            Side::Buy,
            qt_core::Price::from_units(10),
            Qty::from_units(3),
        );
        let inputs = DecisionInputs::default();
        for d in [
            RiskDecision::Allow,
            RiskDecision::Block(BlockReason::OrderRate),
            RiskDecision::Block(BlockReason::OrderRate),
            RiskDecision::ScaleDown(Qty::from_units(1), BlockReason::Leverage),
        ] {
            qt_core::queue::push_blocking(&mut tx, DecisionRecord::new(&req, d, &inputs, Nanos(1), Nanos(2))).unwrap();
        }
        drop(tx);
        let s = handle.join().unwrap();
        assert_eq!((s.records, s.allow, s.blocks(), s.scale_downs()), (4, 1, 2, 1));
        assert_eq!(s.block[BlockReason::OrderRate as usize], 2);
        assert_eq!(s.scale_down[BlockReason::Leverage as usize], 1);
    }
}
