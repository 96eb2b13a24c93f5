//! KuCoin's sequence rule ("Level2 calibration") for the kit's snapshot+diff sync
//! ([`crate::kit::depth_sync`]); [`Level2Sync`] is that sync under it.
//!
//! - Increments carry `sequenceStart..=sequenceEnd`; the first buffered one requests the
//!   snapshot.
//! - At the snapshot (`sequence = S`): buffered increments with `sequenceEnd <= S` are dropped;
//!   if the first one left has `sequenceStart > S + 1` the snapshot is too old.
//! - An increment connects when `sequenceStart <= book + 1` and `sequenceEnd > book`
//!   (`sequenceEnd <= book`: stale, ignored). Within it, only changes whose own sequence is
//!   greater than the book's are applied; the book then stands at `sequenceEnd`. Emitted records
//!   carry `seq = sequenceEnd`, `prev_seq = sequenceStart`, the last one `BATCH_END`.
//! - Anything else is a gap, after which a newer snapshot is fetched.
//!
//! Pure logic, core thread: no I/O, no allocation.

use crate::kit::depth_sync::{BookImage, SequenceRule, Verdict, emit_book_image};
use crate::kucoin::wire::Level2Snapshot;
use qt_core::{InstrumentId, MarketEvent, Nanos};

pub use crate::kit::depth_sync::{DEFAULT_BUFFER_RECORDS, DiffOutcome as IncrementOutcome, SnapshotOutcome, SyncState};

/// Default capacity of a symbol's increment buffer, in increments.
pub const DEFAULT_BUFFER_MESSAGES: usize = 8192;

/// One symbol's sync under KuCoin's rule.
pub type Level2Sync = crate::kit::depth_sync::DepthSync<Level2Rule>;

/// KuCoin's rule; an increment's ids are `(sequenceStart, sequenceEnd)`.
#[derive(Debug, Clone, Copy)]
pub struct Level2Rule;

impl SequenceRule for Level2Rule {
    type Ids = (u64, u64);
    type Image = Level2Snapshot;
    const REQUESTS: bool = true;
    const KEEP_AFTER_GAP: bool = false;

    #[inline]
    fn end((_, end): (u64, u64)) -> u64 {
        end
    }

    #[inline]
    fn covered((_, end): (u64, u64), snapshot: u64) -> bool {
        end <= snapshot
    }

    #[inline]
    fn after((start, _): (u64, u64), snapshot: u64) -> bool {
        start > snapshot.saturating_add(1)
    }

    #[inline]
    fn verdict((start, end): (u64, u64), book: u64, _bridged: bool) -> Verdict {
        if end <= book {
            Verdict::Stale
        } else if start > book.saturating_add(1) {
            Verdict::Gap
        } else {
            Verdict::Apply
        }
    }

    /// Whole (`sequenceStart` = the book's sequence + 1, nothing to filter) goes straight out.
    #[inline]
    fn direct((start, _): (u64, u64), book: u64, _bridged: bool) -> bool {
        book.checked_add(1) == Some(start)
    }

    /// Changes at or below the book's sequence are already in it; the last survivor ends the
    /// batch.
    #[inline]
    fn emit(
        (start, end): (u64, u64),
        book: u64,
        records: &mut [MarketEvent],
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
    ) {
        let Some(last_kept) = records.iter().rposition(|ev| ev.seq > book) else { return };
        for (i, ev) in records.iter_mut().enumerate().take(last_kept + 1) {
            if ev.seq <= book {
                continue;
            }
            ev.seq = end;
            ev.prev_seq = start;
            if i == last_kept {
                ev.flags |= MarketEvent::BATCH_END;
            }
            emit(ev);
        }
    }
}

/// A KuCoin snapshot goes out each side worst first (see `emit_book_image`), with its `time`.
impl BookImage for Level2Snapshot {
    #[inline]
    fn id(&self) -> u64 {
        self.sequence
    }

    fn emit(&self, instrument: InstrumentId, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        emit_book_image(instrument, &self.bids, &self.asks, self.sequence, self.exchange_ns, local_ns, true, emit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{EventKind, Price, Qty, Side};

    const ID: InstrumentId = InstrumentId(1);

    /// An increment's records: `(side, price, qty, change sequence)`.
    fn recs(levels: &[(Side, i64, i64, u64)], start: u64) -> Vec<MarketEvent> {
        levels
            .iter()
            .map(|&(side, p, q, seq)| {
                let mut ev = MarketEvent::new(ID, EventKind::BookDelta, side, Price::from_units(p), Qty::from_units(q));
                ev.seq = seq;
                ev.prev_seq = start;
                ev
            })
            .collect()
    }

    fn snap(sequence: u64) -> Level2Snapshot {
        Level2Snapshot {
            sequence,
            exchange_ns: Nanos(0),
            bids: vec![(Price::from_units(10), Qty::from_units(1))],
            asks: vec![(Price::from_units(12), Qty::from_units(1))],
        }
    }

    #[test]
    fn changes_at_or_below_the_snapshot_sequence_are_skipped() {
        let mut sync = Level2Sync::new(ID, 64, 8);
        let mut out = Vec::new();
        let mut emit = |ev: &MarketEvent| out.push(*ev);
        let mut r = recs(&[(Side::Buy, 10, 5, 100), (Side::Sell, 12, 0, 101), (Side::Buy, 9, 3, 102)], 100);
        assert_eq!(sync.on_message((100, 102), &mut r, Nanos(1), &mut emit), IncrementOutcome::Buffered);
        let generation = sync.take_snapshot_request().unwrap();
        assert_eq!(
            sync.on_snapshot(&snap(101), generation, Nanos(2), &mut emit),
            SnapshotOutcome::Synced { applied: 1 }
        );
        assert_eq!(sync.state(), SyncState::Synced { last: 102, bridged: true });
        // Two snapshot levels, then only the change with sequence 102 (> 101).
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].flags, out[1].flags), (MarketEvent::CLEAR, MarketEvent::BATCH_END));
        let d = out[2];
        assert_eq!((d.price, d.seq, d.prev_seq, d.flags), (Price::from_units(9), 102, 100, MarketEvent::BATCH_END));
        // Overlapping (start <= book + 1 < end) connects; stale is ignored; a hole is a gap.
        out.clear();
        let mut emit = |ev: &MarketEvent| out.push(*ev);
        let mut r = recs(&[(Side::Buy, 8, 1, 102), (Side::Buy, 7, 1, 103)], 102);
        assert_eq!(sync.on_message((102, 103), &mut r, Nanos(3), &mut emit), IncrementOutcome::Applied);
        let mut r = recs(&[(Side::Buy, 6, 1, 103)], 103);
        assert_eq!(sync.on_message((103, 103), &mut r, Nanos(3), &mut emit), IncrementOutcome::Stale);
        let mut r = recs(&[(Side::Buy, 5, 1, 105)], 105);
        assert_eq!(sync.on_message((105, 105), &mut r, Nanos(4), &mut emit), IncrementOutcome::Gap);
        assert_eq!(out.len(), 2, "one kept change, then the invalidation");
        assert_eq!((out[0].price, out[0].flags), (Price::from_units(7), MarketEvent::BATCH_END));
        assert!(out[1].is_clear() && !out[1].is_batch_end());
        assert_eq!((sync.gaps(), sync.is_synced(), sync.wants_snapshot()), (1, false, true));
    }

    #[test]
    fn too_old_snapshots_superseded_answers_and_overflow() {
        let mut sync = Level2Sync::new(ID, 2, 8);
        let mut emit = |_: &MarketEvent| {};
        let mut r = recs(&[(Side::Buy, 1, 1, 50)], 50);
        sync.on_message((50, 50), &mut r, Nanos(0), &mut emit);
        let generation = sync.take_snapshot_request().unwrap();
        assert_eq!(sync.on_snapshot(&snap(40), generation, Nanos(0), &mut emit), SnapshotOutcome::TooOld);
        assert_eq!(sync.on_snapshot(&snap(60), generation, Nanos(0), &mut emit), SnapshotOutcome::Ignored);
        let mut r = recs(&[(Side::Buy, 1, 1, 51), (Side::Buy, 2, 1, 51)], 51);
        assert_eq!(sync.on_message((51, 51), &mut r, Nanos(0), &mut emit), IncrementOutcome::Overflow);
        assert!(sync.wants_snapshot());
    }
}
