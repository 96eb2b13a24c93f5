//! [`BookSync`]: one symbol's `orderbook.{depth}.{symbol}` sequencing, as Bybit documents it
//! (`docs/v5/websocket/public/orderbook.mdx`), turning parsed pushes into the record stream that
//! keeps the engine's [`qt_core::Book`] exact.
//!
//! - A `snapshot` push — the first after subscribing, or one Bybit re-sends "if there is a
//!   problem on Bybit's end" — replaces the book: `BookSnapshot` records, first `CLEAR`, last
//!   `BATCH_END` (`seq = u`). A `delta` with `u == 1` is a service restart and replaces the book
//!   the same way.
//! - Each later `delta` must carry `u == previous u + 1`: its levels become `BookDelta` records
//!   (`seq = u`, `prev_seq = previous u`, last `BATCH_END`; size 0 deletes the level). A delta
//!   with `u <= previous u` is ignored; deltas before the first snapshot are ignored.
//! - Anything else is a gap: one `BookSnapshot` record with `CLEAR` and no `BATCH_END` (the
//!   engine's book empties and stays invalid), and [`BookSync::take_resubscribe`] asks the feed
//!   to unsubscribe and subscribe the topic again, which makes Bybit send a fresh snapshot.
//!
//! Pure logic, core thread: no I/O, no allocation (records are rewritten in place). The decoder
//! shell drives it as a [`SymbolSync`] ([`crate::kit::depth_decoder`]).

use crate::kit::depth_decoder::DepthCounters;
use crate::kit::symbol_sync::{Resync, SymbolSync};
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos};

/// What happened to one book push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOutcome {
    /// A snapshot (or `u == 1`) replaced the book; `reset` when a valid book was replaced.
    Snapshot {
        /// Whether the symbol was already in sync (a service-side reset).
        reset: bool,
    },
    /// A delta in sequence: emitted.
    Applied,
    /// A delta older than the book: ignored.
    Stale,
    /// A delta while waiting for a snapshot: ignored.
    Waiting,
    /// A delta out of sequence: book invalidated, resubscribe requested.
    Gap,
}

/// One symbol's book sequencing.
#[derive(Debug, Clone)]
pub struct BookSync {
    instrument: InstrumentId,
    /// Last applied `u`; `None` while waiting for a snapshot.
    update: Option<u64>,
    /// `seq` (cross sequence) of the last applied push.
    seq: u64,
    resubscribe: bool,
    gaps: u64,
}

impl BookSync {
    /// A symbol waiting for its first snapshot.
    pub fn new(instrument: InstrumentId) -> Self {
        Self { instrument, update: None, seq: 0, resubscribe: false, gaps: 0 }
    }

    /// Whether the book is valid.
    #[inline]
    pub fn is_synced(&self) -> bool {
        self.update.is_some()
    }

    /// Last applied `u`, if in sync.
    pub fn update_id(&self) -> Option<u64> {
        self.update
    }

    /// `seq` of the last applied push, if in sync (the state the emitted book reflects).
    pub fn book_seq(&self) -> Option<u64> {
        self.update.map(|_| self.seq)
    }

    /// Gaps seen.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Whether a resubscription is pending (not cleared).
    #[inline]
    pub fn resubscribe_pending(&self) -> bool {
        self.resubscribe
    }

    /// Whether the topic must be subscribed again (cleared by the call).
    pub fn take_resubscribe(&mut self) -> bool {
        std::mem::take(&mut self.resubscribe)
    }

    /// Whether a `delta` push with update id `update` would be applied now (in sync, `update` =
    /// the last `u` + 1), so its records may be emitted while it is parsed, with `prev_seq` =
    /// `update - 1`; [`Self::applied_directly`] must follow.
    #[inline]
    pub fn applies_directly(&self, snapshot: bool, update: u64) -> bool {
        !snapshot && update != 1 && self.update.is_some_and(|last| update == last.wrapping_add(1))
    }

    /// Records that a push accepted by [`Self::applies_directly`] went out whole.
    #[inline]
    pub fn applied_directly(&mut self, update: u64, seq: u64) {
        self.update = Some(update);
        self.seq = seq;
    }

    /// One parsed push with its level `records` (from the parser; rewritten here).
    pub fn on_push(
        &mut self,
        snapshot: bool,
        update: u64,
        seq: u64,
        records: &mut [MarketEvent],
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> BookOutcome {
        if snapshot || update == 1 {
            let reset = self.update.is_some();
            self.replace(update, seq, records, local_ns, emit);
            return BookOutcome::Snapshot { reset };
        }
        let Some(last) = self.update else { return BookOutcome::Waiting };
        if update <= last {
            return BookOutcome::Stale;
        }
        if update != last + 1 {
            self.gap(local_ns, emit);
            return BookOutcome::Gap;
        }
        for ev in records.iter_mut() {
            ev.prev_seq = last;
        }
        if let Some(l) = records.last_mut() {
            l.flags |= MarketEvent::BATCH_END;
        }
        for ev in records.iter() {
            emit(ev);
        }
        self.update = Some(update);
        self.seq = seq;
        BookOutcome::Applied
    }

    fn replace(
        &mut self,
        update: u64,
        seq: u64,
        records: &mut [MarketEvent],
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        if records.is_empty() {
            // An empty book is still a complete one.
            let mut ev = self.clear_record(local_ns);
            ev.seq = update;
            ev.flags = MarketEvent::CLEAR | MarketEvent::BATCH_END;
            emit(&ev);
        } else {
            for ev in records.iter_mut() {
                ev.kind = EventKind::BookSnapshot;
                ev.prev_seq = 0;
                ev.flags = 0;
            }
            if let Some(f) = records.first_mut() {
                f.flags |= MarketEvent::CLEAR;
            }
            if let Some(l) = records.last_mut() {
                l.flags |= MarketEvent::BATCH_END;
            }
            for ev in records.iter() {
                emit(ev);
            }
        }
        self.update = Some(update);
        self.seq = seq;
        self.resubscribe = false;
    }

    #[cold]
    fn gap(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.gaps += 1;
        self.invalidate(local_ns, emit);
        self.resubscribe = true;
    }

    /// Invalidates the book (one `CLEAR` record, no `BATCH_END`) and waits for a snapshot.
    #[cold]
    pub fn invalidate(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        emit(&self.clear_record(local_ns));
        self.update = None;
    }

    /// Invalidates and asks for a resubscription (after an unreadable book push).
    #[cold]
    pub fn resync(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.invalidate(local_ns, emit);
        self.resubscribe = true;
    }

    /// The connection is gone: invalid, and the reconnect subscribes everything anyway.
    #[cold]
    pub fn on_disconnect(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.invalidate(local_ns, emit);
        self.resubscribe = false;
    }

    fn clear_record(&self, local_ns: Nanos) -> MarketEvent {
        MarketEvent::invalidation(self.instrument, local_ns)
    }
}

/// A book push's ids and fields as the decoder shell hands them to the sync
/// ([`SymbolSync::on_diff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookPush {
    /// `type` is `snapshot`.
    pub snapshot: bool,
    /// `data.u`: the topic's update id.
    pub update: u64,
    /// `data.seq`: the venue's cross sequence.
    pub seq: u64,
}

/// Bybit's sync in the decoder shell: the snapshot arrives in the stream, a broken book is
/// subscribed again ([`Resync::Resubscribe`]); the walk asks with `(snapshot, u)`, a push emitted
/// while walked leaves the book at `(u, seq)`.
impl SymbolSync for BookSync {
    type Ids = (bool, u64);
    type Diff<'a> = BookPush;
    type Done = (u64, u64);
    type Image = std::convert::Infallible;
    const RESYNC: Resync = Resync::Resubscribe;
    const REQUESTS: bool = false;

    fn for_symbol(instrument: &Instrument, _buffer_messages: usize) -> Self {
        BookSync::new(instrument.id())
    }

    #[inline]
    fn is_synced(&self) -> bool {
        BookSync::is_synced(self)
    }

    fn gaps(&self) -> Option<u64> {
        Some(BookSync::gaps(self))
    }

    #[inline]
    fn applies_directly(&self, (snapshot, update): (bool, u64)) -> bool {
        BookSync::applies_directly(self, snapshot, update)
    }

    #[inline]
    fn applied_directly(&mut self, (update, seq): (u64, u64)) {
        BookSync::applied_directly(self, update, seq);
    }

    fn on_diff(
        &mut self,
        push: BookPush,
        records: &mut [MarketEvent],
        now: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
        c: &mut DepthCounters,
    ) {
        match self.on_push(push.snapshot, push.update, push.seq, records, now, &mut |ev| emit(ev)) {
            BookOutcome::Snapshot { reset } => {
                c.snapshots_applied += 1;
                c.resets += u64::from(reset);
            }
            BookOutcome::Applied => c.diffs_applied += 1,
            BookOutcome::Stale => c.stale += 1,
            BookOutcome::Waiting => c.waiting += 1,
            BookOutcome::Gap => {
                c.gaps += 1;
                c.resyncs += 1;
            }
        }
    }

    fn reset(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        self.resync(now, emit);
        true
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        BookSync::on_disconnect(self, now, emit);
        true
    }

    fn take_resubscribe(&mut self) -> bool {
        BookSync::take_resubscribe(self)
    }

    fn wants_resubscribe(&self) -> bool {
        self.resubscribe_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{Price, Qty, Side};

    fn level(side: Side, p: i64, q: i64) -> MarketEvent {
        MarketEvent::new(InstrumentId(3), EventKind::BookDelta, side, Price::from_units(p), Qty::from_units(q))
    }

    fn run(s: &mut BookSync, snapshot: bool, u: u64, recs: &mut [MarketEvent]) -> (BookOutcome, Vec<MarketEvent>) {
        let mut out = Vec::new();
        let o = s.on_push(snapshot, u, u * 10, recs, Nanos(1), &mut |e| out.push(*e));
        (o, out)
    }

    #[test]
    fn snapshot_then_deltas_in_sequence_then_gap_then_resnapshot() {
        let mut s = BookSync::new(InstrumentId(3));
        assert_eq!(run(&mut s, false, 5, &mut [level(Side::Buy, 1, 1)]).0, BookOutcome::Waiting);
        let (o, out) = run(&mut s, true, 7, &mut [level(Side::Buy, 1, 1), level(Side::Sell, 2, 1)]);
        assert_eq!(o, BookOutcome::Snapshot { reset: false });
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|e| e.kind == EventKind::BookSnapshot));
        assert_eq!((out[0].flags, out[1].flags), (MarketEvent::CLEAR, MarketEvent::BATCH_END));
        let (o, out) = run(&mut s, false, 8, &mut [level(Side::Sell, 2, 0)]);
        assert_eq!(o, BookOutcome::Applied);
        assert_eq!((out[0].kind, out[0].prev_seq, out[0].flags), (EventKind::BookDelta, 7, MarketEvent::BATCH_END));
        assert_eq!(s.book_seq(), Some(80));
        assert_eq!(run(&mut s, false, 8, &mut []).0, BookOutcome::Stale);
        let (o, out) = run(&mut s, false, 10, &mut [level(Side::Sell, 2, 0)]);
        assert_eq!(o, BookOutcome::Gap);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].kind, out[0].flags), (EventKind::BookSnapshot, MarketEvent::CLEAR));
        assert!(!s.is_synced() && s.take_resubscribe() && !s.take_resubscribe());
        assert_eq!(s.gaps(), 1);
        assert_eq!(run(&mut s, false, 11, &mut []).0, BookOutcome::Waiting);
        assert_eq!(run(&mut s, true, 40, &mut []).0, BookOutcome::Snapshot { reset: false });
        // u == 1 on a delta: service restart, the delta is the new book.
        let (o, out) = run(&mut s, false, 1, &mut [level(Side::Buy, 1, 1)]);
        assert_eq!(o, BookOutcome::Snapshot { reset: true });
        assert_eq!(out[0].flags, MarketEvent::CLEAR | MarketEvent::BATCH_END);
        assert_eq!(s.update_id(), Some(1));
    }

    #[test]
    fn an_empty_snapshot_is_one_complete_record() {
        let mut s = BookSync::new(InstrumentId(3));
        let (_, out) = run(&mut s, true, 3, &mut []);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].flags, MarketEvent::CLEAR | MarketEvent::BATCH_END);
        assert!(s.is_synced());
    }
}
