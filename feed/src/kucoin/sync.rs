//! [`Level2Sync`]: one symbol's local-order-book procedure as KuCoin documents it ("Level2
//! calibration"), turning `/market/level2` increments and REST snapshots into the record stream
//! that keeps the engine's [`qt_core::Book`] exact.
//!
//! 1. Increments are buffered (bounded, preallocated) until a snapshot arrives; the first one
//!    buffered requests the snapshot.
//! 2. At the snapshot (`sequence = S`): buffered increments with `sequenceEnd <= S` are dropped;
//!    if the first one left has `sequenceStart > S + 1` the snapshot is too old and another is
//!    requested. Otherwise the snapshot is emitted (`BookSnapshot`, first `CLEAR`, last
//!    `BATCH_END`, `seq = S`) and the rest applied.
//! 3. An increment connects when `sequenceStart <= book + 1` and `sequenceEnd > book`
//!    (`sequenceEnd <= book`: stale, ignored). Within it, only changes whose own sequence is
//!    greater than the book's sequence are applied; the book then stands at `sequenceEnd`.
//!    Emitted records carry `seq = sequenceEnd`, `prev_seq = sequenceStart`, the last one
//!    `BATCH_END`.
//! 4. Anything else is a gap: one `BookSnapshot` record with `CLEAR` and no `BATCH_END` is
//!    emitted (the engine's book clears and stays invalid), the increment starts a fresh buffer
//!    and a new snapshot is requested.
//!
//! Pure logic, core thread: no I/O, no syscalls; allocation only at construction (the buffer
//! never grows: on overflow it is emptied and a fresh snapshot requested).

use crate::diff_buffer::DiffBuffer;
use crate::kucoin::parse::Level2Snapshot;
use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};

/// Default capacity of a symbol's increment buffer, in level records.
pub const DEFAULT_BUFFER_RECORDS: usize = 64 * 1024;
/// Default capacity of a symbol's increment buffer, in increments.
pub const DEFAULT_BUFFER_MESSAGES: usize = 8192;

/// Where a symbol stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Buffering increments, waiting for a snapshot; the engine's book is invalid.
    Buffering,
    /// In sequence up to `last` (the snapshot's sequence or the last `sequenceEnd` applied).
    Synced {
        /// The book's sequence.
        last: u64,
    },
}

/// What happened to one increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrementOutcome {
    /// Applied (its surviving changes emitted).
    Applied,
    /// Held until the snapshot.
    Buffered,
    /// Older than the book (`sequenceEnd <= book`): ignored.
    Stale,
    /// Out of sequence: book invalidated, resync started.
    Gap,
    /// The buffer was full: emptied, a fresh snapshot will be requested.
    Overflow,
}

/// What happened to one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Emitted; the symbol is in sync (`applied` buffered increments followed it).
    Synced {
        /// Buffered increments applied after the snapshot.
        applied: usize,
    },
    /// Older than the first buffered increment: another snapshot is needed.
    TooOld,
    /// Emitted, but a buffered increment after it was out of sequence: resyncing again.
    Gap,
    /// Not waiting for a snapshot (already synced, or superseded): ignored.
    Ignored,
}

/// A held increment's `sequenceStart..=sequenceEnd`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
}

/// One symbol's sync state machine.
#[derive(Debug)]
pub struct Level2Sync {
    instrument: InstrumentId,
    state: SyncState,
    buffer: DiffBuffer<Span>,
    wants_snapshot: bool,
    generation: u64,
    gaps: u64,
}

impl Level2Sync {
    /// A symbol waiting for its first increment, buffering up to `max_records` level records in
    /// `max_messages` increments (allocated here, never grown).
    pub fn new(instrument: InstrumentId, max_records: usize, max_messages: usize) -> Self {
        Self {
            instrument,
            state: SyncState::Buffering,
            buffer: DiffBuffer::new(max_records, max_messages),
            wants_snapshot: false,
            generation: 0,
            gaps: 0,
        }
    }

    /// Current state.
    #[inline]
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// Whether the engine's book is in sync.
    #[inline]
    pub fn is_synced(&self) -> bool {
        matches!(self.state, SyncState::Synced { .. })
    }

    /// Gaps seen so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// The generation a snapshot answer must carry to be accepted.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether a snapshot is wanted (without taking the request).
    pub fn wants_snapshot(&self) -> bool {
        self.wants_snapshot
    }

    /// If a snapshot is wanted, returns the generation to tag the request with (and forgets the
    /// want); the answer is accepted only with that generation.
    pub fn take_snapshot_request(&mut self) -> Option<u64> {
        if !self.wants_snapshot {
            return None;
        }
        self.wants_snapshot = false;
        self.generation += 1;
        Some(self.generation)
    }

    /// A request could not be sent or failed: ask again.
    #[cold]
    pub fn retry_snapshot_request(&mut self) {
        if self.state == SyncState::Buffering {
            self.wants_snapshot = true;
        }
    }

    /// Whether increment `start..=end` (`start <= end`) would be applied whole now (synced and
    /// `start` = the book's sequence + 1), so its records may be emitted while it is parsed;
    /// [`Self::applied_directly`] must follow.
    #[inline]
    pub fn applies_directly(&self, start: u64) -> bool {
        matches!(self.state, SyncState::Synced { last } if last.checked_add(1) == Some(start))
    }

    /// Records that an increment accepted by [`Self::applies_directly`] went out whole.
    #[inline]
    pub fn applied_directly(&mut self, end: u64) {
        self.state = SyncState::Synced { last: end };
    }

    /// One increment (`sequenceStart = start`, `sequenceEnd = end`) whose level records (flags 0,
    /// `seq` = change sequence) are `records`.
    pub fn on_increment(
        &mut self,
        start: u64,
        end: u64,
        records: &mut [MarketEvent],
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> IncrementOutcome {
        match self.state {
            SyncState::Buffering => self.buffer(start, end, records),
            SyncState::Synced { last } => match apply(last, start, end, records, emit) {
                Some((state, outcome)) => {
                    self.state = state;
                    outcome
                }
                None => {
                    self.gap(local_ns, emit);
                    self.buffer(start, end, records);
                    IncrementOutcome::Gap
                }
            },
        }
    }

    fn buffer(&mut self, start: u64, end: u64, records: &[MarketEvent]) -> IncrementOutcome {
        if !self.buffer.push(Span { start, end }, records) {
            return self.overflow();
        }
        if self.buffer.len() == 1 {
            self.request_fresh_snapshot();
        }
        IncrementOutcome::Buffered
    }

    #[cold]
    fn overflow(&mut self) -> IncrementOutcome {
        self.request_fresh_snapshot();
        IncrementOutcome::Overflow
    }

    fn request_fresh_snapshot(&mut self) {
        self.wants_snapshot = true;
        // Invalidates any answer in flight.
        self.generation += 1;
    }

    /// A snapshot answered request `generation`.
    #[cold]
    pub fn on_snapshot(
        &mut self,
        snap: &Level2Snapshot,
        generation: u64,
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        if self.state != SyncState::Buffering || generation != self.generation {
            return SnapshotOutcome::Ignored;
        }
        let s = snap.sequence;
        self.buffer.drop_front_while(|m| m.end <= s);
        if let Some(m) = self.buffer.front()
            && m.start > s.saturating_add(1)
        {
            self.request_fresh_snapshot();
            return SnapshotOutcome::TooOld;
        }
        self.emit_snapshot(snap, local_ns, emit);
        self.state = SyncState::Synced { last: s };
        let mut applied = 0;
        let mut gap = false;
        for i in 0..self.buffer.len() {
            let (SyncState::Synced { last }, Some((m, slice))) = (self.state, self.buffer.get_mut(i)) else { break };
            match apply(last, m.start, m.end, slice, emit) {
                Some((state, outcome)) => {
                    self.state = state;
                    applied += usize::from(outcome == IncrementOutcome::Applied);
                }
                None => {
                    gap = true;
                    break;
                }
            }
        }
        self.buffer.clear();
        if gap {
            self.gap(local_ns, emit);
            self.request_fresh_snapshot();
            return SnapshotOutcome::Gap;
        }
        SnapshotOutcome::Synced { applied }
    }

    /// The connection was lost or an increment of this symbol was unreadable: invalidate the
    /// book and start over (buffer empty; a snapshot is requested at the next increment).
    #[cold]
    pub fn reset(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        emit(&self.invalidation(local_ns));
        self.buffer.clear();
        self.state = SyncState::Buffering;
        self.wants_snapshot = false;
        self.generation += 1;
    }

    #[cold]
    fn gap(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.gaps += 1;
        emit(&self.invalidation(local_ns));
        self.buffer.clear();
        self.state = SyncState::Buffering;
    }

    /// One `BookSnapshot` record with `CLEAR` only: the engine's book empties and stays invalid
    /// until the next complete snapshot.
    fn invalidation(&self, local_ns: Nanos) -> MarketEvent {
        MarketEvent::invalidation(self.instrument, local_ns)
    }

    fn emit_snapshot(&self, snap: &Level2Snapshot, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        emit_book_snapshot(self.instrument, &snap.bids, &snap.asks, snap.sequence, snap.exchange_ns, local_ns, emit);
    }
}

/// Emits a full book image: `BookSnapshot` per level (bids then asks), the first `CLEAR`, the last
/// `BATCH_END` (one `CLEAR | BATCH_END` record for an empty book). Shared with Firi.
///
/// `bids` and `asks` come best first, as the venues send them; each side is emitted worst first,
/// so every level lands at the best end of the engine's ladder (`qt_core::Book` keeps the best
/// last): an append after a short scan, where best first made each level the worst so far — a
/// search down the whole side and a shift of all of it. Callgrind, Firi's 100-level bodies of
/// `benches/feed_parse_kraken_firi.rs`: see BENCHMARKS.md `feed_parse`, round 6.
pub(crate) fn emit_book_snapshot(
    instrument: InstrumentId,
    bids: &[(Price, Qty)],
    asks: &[(Price, Qty)],
    seq: u64,
    exchange_ns: Nanos,
    local_ns: Nanos,
    emit: &mut dyn FnMut(&MarketEvent),
) {
    let total = bids.len() + asks.len();
    let mut ev = MarketEvent::new(instrument, EventKind::BookSnapshot, Side::Buy, Price::ZERO, Qty::ZERO);
    ev.local_ns = local_ns;
    ev.exchange_ns = exchange_ns;
    ev.seq = seq;
    if total == 0 {
        ev.flags = MarketEvent::CLEAR | MarketEvent::BATCH_END;
        emit(&ev);
        return;
    }
    let levels = bids.iter().rev().map(|l| (Side::Buy, l)).chain(asks.iter().rev().map(|l| (Side::Sell, l)));
    for (i, (side, &(price, qty))) in levels.enumerate() {
        ev.side = side;
        ev.price = price;
        ev.qty = qty;
        ev.flags = 0;
        if i == 0 {
            ev.flags |= MarketEvent::CLEAR;
        }
        if i + 1 == total {
            ev.flags |= MarketEvent::BATCH_END;
        }
        emit(&ev);
    }
}

/// The sequence rule from book sequence `book`: `Some((new state, Applied | Stale))`, or `None`
/// on a gap (nothing emitted).
#[inline]
fn apply(
    book: u64,
    start: u64,
    end: u64,
    records: &mut [MarketEvent],
    emit: &mut dyn FnMut(&MarketEvent),
) -> Option<(SyncState, IncrementOutcome)> {
    if end <= book {
        return Some((SyncState::Synced { last: book }, IncrementOutcome::Stale));
    }
    if start > book.saturating_add(1) {
        return None;
    }
    // Changes at or below the book's sequence are already in it; the last survivor ends the batch.
    let last_kept = records.iter().rposition(|ev| ev.seq > book);
    if let Some(last_kept) = last_kept {
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
    Some((SyncState::Synced { last: end }, IncrementOutcome::Applied))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(sync.on_increment(100, 102, &mut r, Nanos(1), &mut emit), IncrementOutcome::Buffered);
        let generation = sync.take_snapshot_request().unwrap();
        assert_eq!(
            sync.on_snapshot(&snap(101), generation, Nanos(2), &mut emit),
            SnapshotOutcome::Synced { applied: 1 }
        );
        assert_eq!(sync.state(), SyncState::Synced { last: 102 });
        // Two snapshot levels, then only the change with sequence 102 (> 101).
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].flags, out[1].flags), (MarketEvent::CLEAR, MarketEvent::BATCH_END));
        let d = out[2];
        assert_eq!((d.price, d.seq, d.prev_seq, d.flags), (Price::from_units(9), 102, 100, MarketEvent::BATCH_END));
        // Overlapping (start <= book + 1 < end) connects; stale is ignored; a hole is a gap.
        out.clear();
        let mut emit = |ev: &MarketEvent| out.push(*ev);
        let mut r = recs(&[(Side::Buy, 8, 1, 102), (Side::Buy, 7, 1, 103)], 102);
        assert_eq!(sync.on_increment(102, 103, &mut r, Nanos(3), &mut emit), IncrementOutcome::Applied);
        let mut r = recs(&[(Side::Buy, 6, 1, 103)], 103);
        assert_eq!(sync.on_increment(103, 103, &mut r, Nanos(3), &mut emit), IncrementOutcome::Stale);
        let mut r = recs(&[(Side::Buy, 5, 1, 105)], 105);
        assert_eq!(sync.on_increment(105, 105, &mut r, Nanos(4), &mut emit), IncrementOutcome::Gap);
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
        sync.on_increment(50, 50, &mut r, Nanos(0), &mut emit);
        let generation = sync.take_snapshot_request().unwrap();
        assert_eq!(sync.on_snapshot(&snap(40), generation, Nanos(0), &mut emit), SnapshotOutcome::TooOld);
        assert_eq!(sync.on_snapshot(&snap(60), generation, Nanos(0), &mut emit), SnapshotOutcome::Ignored);
        let mut r = recs(&[(Side::Buy, 1, 1, 51), (Side::Buy, 2, 1, 51)], 51);
        assert_eq!(sync.on_increment(51, 51, &mut r, Nanos(0), &mut emit), IncrementOutcome::Overflow);
        assert!(sync.wants_snapshot());
    }
}
