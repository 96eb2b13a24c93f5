//! [`DepthSync`]: one symbol's local-order-book procedure, as Binance documents it ("How to
//! manage a local order book correctly"), turning diffs and REST snapshots into the record
//! stream that keeps the engine's [`qt_core::Book`] exact.
//!
//! 1. Diffs are buffered (bounded, preallocated) until a snapshot arrives; the first buffered
//!    diff triggers the snapshot request (so its `U` is known before the snapshot is taken).
//! 2. At the snapshot: buffered diffs with `u <= lastUpdateId` are dropped; if the first one
//!    left has `U > lastUpdateId + 1` the snapshot is too old and another is requested.
//!    Otherwise the snapshot is emitted (`BookSnapshot`, first `CLEAR`, last `BATCH_END`,
//!    `seq = lastUpdateId`) and the remaining diffs applied.
//! 3. The first applied diff must satisfy `U <= lastUpdateId + 1 <= u`; every later one
//!    `U == previous u + 1`; diffs with `u <= previous u` are ignored.
//! 4. Anything else is a gap: one `BookSnapshot` record with `CLEAR` and no `BATCH_END` is
//!    emitted (the engine's book clears and stays invalid), the diff starts a fresh buffer and a
//!    new snapshot is requested.
//!
//! Pure logic, core thread: no I/O, no syscalls; allocation only at construction (the buffer
//! never grows: on overflow it is emptied and a fresh snapshot requested, see [`DepthSync::on_diff`]).

use crate::binance::parse::DepthSnapshot;
use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use std::collections::VecDeque;

/// Default capacity of a symbol's diff buffer, in level records.
pub const DEFAULT_BUFFER_RECORDS: usize = 64 * 1024;
/// Default capacity of a symbol's diff buffer, in diffs.
pub const DEFAULT_BUFFER_DIFFS: usize = 4096;

/// Where a symbol stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Buffering diffs, waiting for a snapshot; the engine's book is invalid.
    Buffering,
    /// In sequence up to update id `last`; `bridged` once a diff followed the snapshot.
    Synced {
        /// Last applied update id.
        last: u64,
        /// Whether a diff has been applied since the snapshot.
        bridged: bool,
    },
}

/// What happened to one diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Emitted.
    Applied,
    /// Held until the snapshot.
    Buffered,
    /// Older than the book (`u <= last`): ignored.
    Stale,
    /// Out of sequence: book invalidated, resync started.
    Gap,
    /// The buffer was full: emptied, a fresh snapshot will be requested.
    Overflow,
}

/// What happened to one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Emitted; the symbol is in sync (`applied` buffered diffs followed it).
    Synced {
        /// Buffered diffs applied after the snapshot.
        applied: usize,
    },
    /// Older than the first buffered diff: another snapshot is needed.
    TooOld,
    /// Emitted, but a buffered diff after it was out of sequence: resyncing again.
    Gap,
    /// Not waiting for a snapshot (already synced, or superseded): ignored.
    Ignored,
}

#[derive(Debug, Clone, Copy)]
struct BufferedDiff {
    first: u64,
    last: u64,
    start: usize,
    len: usize,
}

/// One symbol's sync state machine.
#[derive(Debug)]
pub struct DepthSync {
    instrument: InstrumentId,
    state: SyncState,
    records: Vec<MarketEvent>,
    diffs: VecDeque<BufferedDiff>,
    /// A snapshot should be requested (consumed by [`Self::take_snapshot_request`]).
    wants_snapshot: bool,
    /// Generation of the request whose answer we accept.
    generation: u64,
    gaps: u64,
}

impl DepthSync {
    /// A symbol waiting for its first diff, buffering up to `max_records` level records in
    /// `max_diffs` diffs (allocated here, never grown).
    pub fn new(instrument: InstrumentId, max_records: usize, max_diffs: usize) -> Self {
        Self {
            instrument,
            state: SyncState::Buffering,
            records: Vec::with_capacity(max_records.max(1)),
            diffs: VecDeque::with_capacity(max_diffs.max(1)),
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

    /// If a snapshot is wanted, returns the generation to tag the request with (and forgets
    /// the want); the answer is accepted only with that generation.
    pub fn take_snapshot_request(&mut self) -> Option<u64> {
        if !self.wants_snapshot {
            return None;
        }
        self.wants_snapshot = false;
        self.generation += 1;
        Some(self.generation)
    }

    /// Whether a snapshot is wanted (without taking the request).
    pub fn wants_snapshot(&self) -> bool {
        self.wants_snapshot
    }

    /// A request could not be queued: ask again on the next poll.
    #[cold]
    pub fn retry_snapshot_request(&mut self) {
        self.wants_snapshot = true;
    }

    /// The generation a snapshot answer must carry.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// One diff (`U = first`, `u = last`) whose level records (flags 0) are `records`.
    pub fn on_diff(
        &mut self,
        first: u64,
        last: u64,
        records: &mut [MarketEvent],
        local_ns: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
    ) -> DiffOutcome {
        match self.state {
            SyncState::Buffering => self.buffer(first, last, records),
            SyncState::Synced { .. } => match self.apply(first, last, records, emit) {
                Some(outcome) => outcome,
                None => {
                    self.gap(local_ns, emit);
                    // The diff that showed the gap starts the new buffer (and the request).
                    self.buffer(first, last, records);
                    DiffOutcome::Gap
                }
            },
        }
    }

    /// Whether diff `first..=last` would be applied now (synced, not stale, in sequence), so
    /// its records may be emitted while it is parsed; [`Self::applied_directly`] must follow.
    #[inline]
    pub fn applies_directly(&self, first: u64, last: u64) -> bool {
        matches!(in_sequence(self.state, first, last), Some(true))
    }

    /// Records that a diff accepted by [`Self::applies_directly`] went out whole.
    #[inline]
    pub fn applied_directly(&mut self, last: u64) {
        self.state = SyncState::Synced { last, bridged: true };
    }

    /// Applies a diff in the synced state; `None` on a gap (nothing emitted).
    #[inline]
    fn apply(
        &mut self,
        first: u64,
        last: u64,
        records: &mut [MarketEvent],
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
    ) -> Option<DiffOutcome> {
        let (state, outcome) = apply_to(self.state, first, last, records, emit);
        self.state = state;
        outcome
    }

    fn buffer(&mut self, first: u64, last: u64, records: &[MarketEvent]) -> DiffOutcome {
        if self.records.len() + records.len() > self.records.capacity() || self.diffs.len() == self.diffs.capacity() {
            return self.overflow();
        }
        let start = self.records.len();
        self.records.extend_from_slice(records);
        self.diffs.push_back(BufferedDiff { first, last, start, len: records.len() });
        if self.diffs.len() == 1 {
            // Step 1 of the procedure: the first buffered diff's `U` is known; fetch now.
            self.request_fresh_snapshot();
        }
        DiffOutcome::Buffered
    }

    #[cold]
    fn overflow(&mut self) -> DiffOutcome {
        self.records.clear();
        self.diffs.clear();
        // Whatever snapshot is in flight can no longer bridge: supersede it.
        self.request_fresh_snapshot();
        DiffOutcome::Overflow
    }

    fn request_fresh_snapshot(&mut self) {
        self.wants_snapshot = true;
        // Invalidate any answer in flight.
        self.generation += 1;
    }

    /// A snapshot answered request `generation`.
    pub fn on_snapshot(
        &mut self,
        snap: &DepthSnapshot,
        generation: u64,
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        if self.state != SyncState::Buffering || generation != self.generation {
            return SnapshotOutcome::Ignored;
        }
        let id = snap.last_update_id;
        while self.diffs.front().is_some_and(|d| d.last <= id) {
            self.diffs.pop_front();
        }
        if let Some(d) = self.diffs.front()
            && d.first > id + 1
        {
            self.request_fresh_snapshot();
            return SnapshotOutcome::TooOld;
        }
        self.emit_snapshot(snap, local_ns, emit);
        self.state = SyncState::Synced { last: id, bridged: false };
        let mut applied = 0;
        let mut gap = false;
        while let Some(d) = self.diffs.pop_front() {
            let slice = &mut self.records[d.start..d.start + d.len];
            // Split borrows: `apply` only touches `state`.
            let (state, outcome) = apply_to(self.state, d.first, d.last, slice, emit);
            self.state = state;
            match outcome {
                Some(DiffOutcome::Applied) => applied += 1,
                Some(_) => {}
                None => {
                    gap = true;
                    break;
                }
            }
        }
        self.records.clear();
        self.diffs.clear();
        if gap {
            // Out of sequence inside the buffer: start over with a newer snapshot (it will be
            // newer than every diff dropped here, so nothing is lost).
            self.gap(local_ns, emit);
            self.request_fresh_snapshot();
            return SnapshotOutcome::Gap;
        }
        SnapshotOutcome::Synced { applied }
    }

    /// The connection was lost or a frame of this stream was unreadable: invalidate the book
    /// and start over (buffer empty; a snapshot is requested at the next diff).
    #[cold]
    pub fn reset(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        emit(&self.invalidation(local_ns));
        self.records.clear();
        self.diffs.clear();
        self.state = SyncState::Buffering;
        self.wants_snapshot = false;
        self.generation += 1;
    }

    #[cold]
    fn gap(&mut self, local_ns: Nanos, emit: &mut (impl FnMut(&MarketEvent) + ?Sized)) {
        self.gaps += 1;
        emit(&self.invalidation(local_ns));
        self.records.clear();
        self.diffs.clear();
        self.state = SyncState::Buffering;
    }

    /// One `BookSnapshot` record with `CLEAR` only: `Book::apply` empties the book and leaves
    /// it invalid until the next complete snapshot.
    fn invalidation(&self, local_ns: Nanos) -> MarketEvent {
        MarketEvent::invalidation(self.instrument, local_ns)
    }

    fn emit_snapshot(&self, snap: &DepthSnapshot, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let total = snap.bids.len() + snap.asks.len();
        let levels = snap.bids.iter().map(|l| (Side::Buy, l)).chain(snap.asks.iter().map(|l| (Side::Sell, l)));
        let mut ev = MarketEvent::new(self.instrument, EventKind::BookSnapshot, Side::Buy, Price::ZERO, Qty::ZERO);
        ev.local_ns = local_ns;
        ev.seq = snap.last_update_id;
        if total == 0 {
            ev.flags = MarketEvent::CLEAR | MarketEvent::BATCH_END;
            emit(&ev);
            return;
        }
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
}

/// The sequence rule: from `state`, applies the diff (emitting it) or reports a gap (`None`).
#[inline]
fn apply_to(
    state: SyncState,
    first: u64,
    last: u64,
    records: &mut [MarketEvent],
    emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
) -> (SyncState, Option<DiffOutcome>) {
    match in_sequence(state, first, last) {
        None => (state, Some(DiffOutcome::Stale)),
        Some(false) => (state, None),
        Some(true) => {
            emit_diff(records, emit);
            (SyncState::Synced { last, bridged: true }, Some(DiffOutcome::Applied))
        }
    }
}

/// The sequence rule alone: `Some(true)` if diff `first..=last` applies in `state`, `Some(false)`
/// if it shows a gap (or the state is not synced), `None` if it is stale.
#[inline]
fn in_sequence(state: SyncState, first: u64, last: u64) -> Option<bool> {
    let SyncState::Synced { last: book, bridged } = state else { return Some(false) };
    if last <= book {
        return None;
    }
    Some(if bridged { first == book + 1 } else { first <= book + 1 })
}

/// Emits a diff's records, the last flagged `BATCH_END` (nothing for a diff without levels).
#[inline]
fn emit_diff(records: &mut [MarketEvent], emit: &mut (impl FnMut(&MarketEvent) + ?Sized)) {
    if let Some(last) = records.last_mut() {
        last.flags |= MarketEvent::BATCH_END;
    }
    for ev in records.iter() {
        emit(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binance::parse::{FrameParser, Parsed, parse_depth_snapshot};
    use qt_core::{Book, InstrumentKind, InstrumentSpec, Venue};

    const CAPTURED_DEPTH: &str = include_str!("../../../testdata/binance_spot/depth.jsonl");
    const CAPTURED_SNAPSHOT: &str = include_str!("../../../testdata/binance_spot/snapshot_NKNUSDT.json");

    fn nknusdt() -> qt_core::Instrument {
        let spec = InstrumentSpec {
            venue: Venue::Binance,
            symbol: "NKNUSDT".into(),
            base: "NKN".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Spot,
            tick_size: "0.00000001".into(),
            lot_size: "0.00000001".into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        qt_core::Instrument::from_spec(InstrumentId(0), &spec).unwrap()
    }

    /// The capture's NKNUSDT diffs as (U, u, records); other symbols' frames are skipped.
    fn captured_diffs() -> Vec<(u64, u64, Vec<MarketEvent>)> {
        let inst = nknusdt();
        let mut parser = FrameParser::new(std::slice::from_ref(&inst));
        let mut out = Vec::new();
        let mut diffs = Vec::new();
        for line in CAPTURED_DEPTH.lines() {
            match parser.parse_frame(line.as_bytes(), Nanos(1), &mut out) {
                Ok(Parsed::Depth { first, last, .. }) => diffs.push((first, last, out.clone())),
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => assert_eq!(e.error, crate::binance::parse::ParseError::UnknownStream, "{line}"),
            }
        }
        assert_eq!(diffs.len(), 150, "README: 150 NKNUSDT diffs");
        diffs
    }

    #[test]
    fn captured_snapshot_bridges_and_every_diff_applies() {
        let inst = nknusdt();
        let mut body = CAPTURED_SNAPSHOT.as_bytes().to_vec();
        let snap = parse_depth_snapshot(&mut body, &inst).unwrap();
        assert_eq!((snap.last_update_id, snap.bids.len(), snap.asks.len()), (499_869_752, 609, 1000));
        let mut sync = DepthSync::new(inst.id(), DEFAULT_BUFFER_RECORDS, DEFAULT_BUFFER_DIFFS);
        let mut book = Book::new(inst.id(), 2000);
        let mut emit = |ev: &MarketEvent| book.apply(ev).unwrap();
        let mut diffs = captured_diffs().into_iter();
        // Buffer the first two diffs (the README: the first is dropped, the second bridges).
        for (first, last, mut recs) in diffs.by_ref().take(2) {
            assert_eq!(sync.on_diff(first, last, &mut recs, Nanos(1), &mut emit), DiffOutcome::Buffered);
        }
        let generation = sync.take_snapshot_request().expect("the first diff asks for a snapshot");
        assert_eq!(sync.on_snapshot(&snap, generation, Nanos(2), &mut emit), SnapshotOutcome::Synced { applied: 1 });
        assert_eq!(sync.state(), SyncState::Synced { last: 499_869_754, bridged: true });
        for (first, last, mut recs) in diffs {
            assert_eq!(
                sync.on_diff(first, last, &mut recs, Nanos(3), &mut emit),
                DiffOutcome::Applied,
                "{first}..{last}"
            );
        }
        assert_eq!(sync.gaps(), 0);
        assert!(book.is_valid());
        assert!(!book.is_crossed());
    }

    #[test]
    fn a_missing_diff_is_a_gap_that_invalidates_and_resyncs() {
        let inst = nknusdt();
        let mut body = CAPTURED_SNAPSHOT.as_bytes().to_vec();
        let snap = parse_depth_snapshot(&mut body, &inst).unwrap();
        let mut sync = DepthSync::new(inst.id(), DEFAULT_BUFFER_RECORDS, DEFAULT_BUFFER_DIFFS);
        let mut book = Book::new(inst.id(), 2000);
        let mut diffs = captured_diffs();
        diffs.remove(10);
        let mut outcomes = Vec::new();
        {
            let mut emit = |ev: &MarketEvent| book.apply(ev).unwrap();
            let (f, l, ref mut r) = diffs[0];
            sync.on_diff(f, l, r, Nanos(1), &mut emit);
            let generation = sync.take_snapshot_request().unwrap();
            sync.on_snapshot(&snap, generation, Nanos(1), &mut emit);
            for (f, l, r) in diffs.iter_mut().skip(1) {
                outcomes.push(sync.on_diff(*f, *l, r, Nanos(1), &mut emit));
            }
        }
        assert_eq!(outcomes.iter().filter(|o| **o == DiffOutcome::Gap).count(), 1);
        assert_eq!(sync.gaps(), 1);
        assert!(!book.is_valid(), "the CLEAR-only record leaves the book invalid");
        assert_eq!(book.depth(qt_core::Side::Buy), 0);
        assert!(!sync.is_synced());
        // A fresh snapshot newer than the buffered diffs resyncs.
        let generation = sync.take_snapshot_request().expect("the gap asks for a snapshot");
        let last_u = diffs.last().unwrap().1;
        let newer = DepthSnapshot { last_update_id: last_u, ..snap };
        let mut emit = |ev: &MarketEvent| book.apply(ev).unwrap();
        assert_eq!(sync.on_snapshot(&newer, generation, Nanos(2), &mut emit), SnapshotOutcome::Synced { applied: 0 });
        assert!(book.is_valid());
    }

    fn diff(_first: u64, _last: u64) -> Vec<MarketEvent> {
        vec![MarketEvent::new(
            InstrumentId(0),
            EventKind::BookDelta,
            Side::Buy,
            Price::from_units(10),
            Qty::from_units(1),
        )]
    }

    #[test]
    fn snapshot_older_than_the_buffer_is_fetched_again_and_stale_answers_ignored() {
        let mut sync = DepthSync::new(InstrumentId(0), 16, 4);
        let mut sink = |_: &MarketEvent| {};
        assert_eq!(sync.on_diff(100, 105, &mut diff(100, 105), Nanos(0), &mut sink), DiffOutcome::Buffered);
        let generation = sync.take_snapshot_request().unwrap();
        let old = DepthSnapshot { last_update_id: 90, bids: vec![], asks: vec![] };
        assert_eq!(sync.on_snapshot(&old, generation, Nanos(0), &mut sink), SnapshotOutcome::TooOld);
        assert_eq!(sync.on_snapshot(&old, generation, Nanos(0), &mut sink), SnapshotOutcome::Ignored, "superseded");
        let generation = sync.take_snapshot_request().unwrap();
        let mut records = Vec::new();
        let good = DepthSnapshot { last_update_id: 102, bids: vec![], asks: vec![] };
        let mut collect = |ev: &MarketEvent| records.push(*ev);
        assert_eq!(sync.on_snapshot(&good, generation, Nanos(0), &mut collect), SnapshotOutcome::Synced { applied: 1 });
        // An empty snapshot is one CLEAR|BATCH_END record, then the bridging diff.
        assert_eq!(records[0].flags, MarketEvent::CLEAR | MarketEvent::BATCH_END);
        assert_eq!((records[1].kind, records[1].flags), (EventKind::BookDelta, MarketEvent::BATCH_END));
        // Stale and in-sequence diffs.
        assert_eq!(sync.on_diff(101, 105, &mut diff(0, 0), Nanos(0), &mut sink), DiffOutcome::Stale);
        assert_eq!(sync.on_diff(106, 108, &mut diff(0, 0), Nanos(0), &mut sink), DiffOutcome::Applied);
        assert_eq!(sync.on_diff(110, 111, &mut diff(0, 0), Nanos(0), &mut sink), DiffOutcome::Gap);
    }

    #[test]
    fn a_full_buffer_overflows_without_growing() {
        let mut sync = DepthSync::new(InstrumentId(0), 4, 2);
        let mut sink = |_: &MarketEvent| {};
        assert_eq!(sync.on_diff(1, 1, &mut diff(1, 1), Nanos(0), &mut sink), DiffOutcome::Buffered);
        assert_eq!(sync.on_diff(2, 2, &mut diff(2, 2), Nanos(0), &mut sink), DiffOutcome::Buffered);
        assert_eq!(sync.on_diff(3, 3, &mut diff(3, 3), Nanos(0), &mut sink), DiffOutcome::Overflow);
        assert_eq!(sync.records.capacity(), 4);
    }
}
