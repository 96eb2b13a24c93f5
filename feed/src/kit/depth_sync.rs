//! [`DepthSync`]: one symbol's snapshot+diff book sync — the local-order-book procedure Binance
//! (spot and USD-M) and KuCoin document — parameterized by the venue's [`SequenceRule`], turning
//! depth messages and REST snapshots into the record stream that keeps the engine's
//! [`qt_core::Book`] exact.
//!
//! 1. Messages are buffered (bounded, preallocated: `DiffBuffer`) until a snapshot arrives.
//!    Where the rule [`SequenceRule::REQUESTS`] snapshots, the first buffered message requests
//!    one (tagged with a generation; an answer with another generation is ignored); otherwise a
//!    snapshot is wanted while anything is buffered.
//! 2. At the snapshot (id `S`): buffered messages the snapshot already holds
//!    ([`SequenceRule::covered`]) are dropped; if the first one left starts after it
//!    ([`SequenceRule::after`]) the snapshot is too old and another is wanted. Otherwise the
//!    snapshot is emitted ([`BookImage::emit`]: `BookSnapshot`, first `CLEAR`, last `BATCH_END`,
//!    `seq = S`) and the rest applied.
//! 3. Each message is then judged by [`SequenceRule::verdict`] against the book's id and
//!    whether a message has followed the snapshot yet: applied ([`SequenceRule::emit`], the last
//!    record `BATCH_END`), ignored as stale, or a gap.
//! 4. A gap emits one `BookSnapshot` record with `CLEAR` and no `BATCH_END` (the engine's book
//!    clears and stays invalid), the message starts a fresh buffer and a new snapshot is wanted.
//!    A gap inside the buffer right after a snapshot starts over with a newer snapshot, or —
//!    where the rule [`SequenceRule::KEEP_AFTER_GAP`] — keeps the rest of the buffer for it.
//!
//! Pure logic, core thread: no I/O, no syscalls; allocation only at construction (the buffer
//! never grows: on overflow it is emptied and a fresh snapshot wanted). Generic, so each venue's
//! rule is compiled into its own copy: no `dyn` on the per-message path.

use crate::kit::diff_buffer::DiffBuffer;
use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};

/// Default capacity of a symbol's buffer, in level records.
pub const DEFAULT_BUFFER_RECORDS: usize = 64 * 1024;

/// What the rule says of one message against the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// In sequence: apply it.
    Apply,
    /// Already in the book: ignore it.
    Stale,
    /// Out of sequence: resync.
    Gap,
}

/// A venue's sequence rule: what its depth messages carry and when one follows the book.
pub trait SequenceRule {
    /// One message's update ids as the venue's parser reads them.
    type Ids: Copy + std::fmt::Debug;
    /// The venue's REST snapshot.
    type Image: BookImage;
    /// Snapshots are requested explicitly, each request tagged with a generation
    /// ([`DepthSync::take_snapshot_request`]); `false`: one is wanted while anything is buffered
    /// and any answer is checked by sequence alone.
    const REQUESTS: bool;
    /// A gap inside the buffer right after a snapshot keeps that message and the ones after it
    /// buffered for the next snapshot (`false`: they are dropped and a newer snapshot is
    /// fetched, which holds all of them).
    const KEEP_AFTER_GAP: bool;

    /// The id the book stands at once the message is applied.
    fn end(ids: Self::Ids) -> u64;
    /// At a snapshot of id `snapshot`: whether the message is already in it (dropped).
    fn covered(ids: Self::Ids, snapshot: u64) -> bool;
    /// At a snapshot of id `snapshot`: whether the message starts after it, so that the
    /// snapshot is too old to bridge.
    fn after(ids: Self::Ids, snapshot: u64) -> bool;
    /// The message against a book at id `book`; `bridged` once a message followed the snapshot.
    fn verdict(ids: Self::Ids, book: u64, bridged: bool) -> Verdict;
    /// Whether the message applies whole now, so its records may be emitted while it is parsed
    /// (a rule that filters a message's records says no for a message that needs it).
    #[inline]
    fn direct(ids: Self::Ids, book: u64, bridged: bool) -> bool {
        Self::verdict(ids, book, bridged) == Verdict::Apply
    }
    /// Emits the records of an applied message against a book at `book`; the last one emitted
    /// carries `BATCH_END`. By default every record (nothing for a message without levels).
    #[inline]
    fn emit(_ids: Self::Ids, _book: u64, records: &mut [MarketEvent], emit: &mut (impl FnMut(&MarketEvent) + ?Sized)) {
        if let Some(last) = records.last_mut() {
            last.flags |= MarketEvent::BATCH_END;
        }
        for ev in records.iter() {
            emit(ev);
        }
    }
}

/// A REST order-book snapshot as the sync applies it.
pub trait BookImage {
    /// Its sequence id (`lastUpdateId`, `sequence`).
    fn id(&self) -> u64;
    /// Emits it as the records of a full book of `instrument` (first `CLEAR`, last `BATCH_END`,
    /// `seq` = its id).
    fn emit(&self, instrument: InstrumentId, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent));
}

/// Where a symbol stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Buffering messages, waiting for a snapshot; the engine's book is invalid.
    Buffering,
    /// In sequence up to update id `last`; `bridged` once a message followed the snapshot.
    Synced {
        /// The book's id: the snapshot's, then the last applied message's end.
        last: u64,
        /// Whether a message has been applied since the snapshot.
        bridged: bool,
    },
}

/// What happened to one depth message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Emitted.
    Applied,
    /// Held until the snapshot.
    Buffered,
    /// Older than the book: ignored.
    Stale,
    /// Out of sequence: book invalidated, resync started.
    Gap,
    /// The buffer was full: emptied, a fresh snapshot wanted.
    Overflow,
}

/// What happened to one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Emitted; the symbol is in sync (`applied` buffered messages followed it).
    Synced {
        /// Buffered messages applied after the snapshot.
        applied: usize,
    },
    /// Older than the first buffered message: another snapshot is wanted.
    TooOld,
    /// Emitted, but a buffered message after it was out of sequence: resyncing again.
    Gap,
    /// Not waiting for a snapshot (already synced, or superseded): ignored.
    Ignored,
}

/// One symbol's sync state machine under rule `R` (see the module doc).
pub struct DepthSync<R: SequenceRule> {
    instrument: InstrumentId,
    state: SyncState,
    buffer: DiffBuffer<R::Ids>,
    /// A snapshot should be requested (consumed by [`Self::take_snapshot_request`]).
    wants_snapshot: bool,
    /// Generation of the request whose answer is accepted.
    generation: u64,
    gaps: u64,
}

impl<R: SequenceRule> std::fmt::Debug for DepthSync<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthSync")
            .field("instrument", &self.instrument)
            .field("state", &self.state)
            .field("buffered", &self.buffer.len())
            .field("gaps", &self.gaps)
            .finish()
    }
}

impl<R: SequenceRule> DepthSync<R> {
    /// A symbol waiting for its first message, buffering up to `max_records` level records in
    /// `max_messages` messages (allocated here, never grown).
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

    /// Whether the engine's book is in sync (a snapshot applied and no gap since).
    #[inline]
    pub fn is_synced(&self) -> bool {
        matches!(self.state, SyncState::Synced { .. })
    }

    /// Gaps seen so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// The generation a snapshot answer must carry to be accepted (rules that
    /// [`SequenceRule::REQUESTS`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether a snapshot is wanted now (without taking the request).
    pub fn wants_snapshot(&self) -> bool {
        if R::REQUESTS { self.wants_snapshot } else { self.state == SyncState::Buffering && !self.buffer.is_empty() }
    }

    /// If a snapshot is wanted, returns the generation to tag the request with (and forgets the
    /// want); the answer is accepted only with that generation.
    pub fn take_snapshot_request(&mut self) -> Option<u64> {
        if !self.wants_snapshot() {
            return None;
        }
        self.wants_snapshot = false;
        self.generation += 1;
        Some(self.generation)
    }

    /// A request could not be sent or failed: ask again (while still waiting for a snapshot).
    #[cold]
    pub fn retry_snapshot_request(&mut self) {
        if self.state == SyncState::Buffering {
            self.wants_snapshot = true;
        }
    }

    /// Whether the message with `ids` would be applied whole now, so its records may be emitted
    /// while it is parsed; [`Self::applied_directly`] must follow.
    #[inline]
    pub fn applies_directly(&self, ids: R::Ids) -> bool {
        match self.state {
            SyncState::Synced { last, bridged } => R::direct(ids, last, bridged),
            SyncState::Buffering => false,
        }
    }

    /// Records that a message accepted by [`Self::applies_directly`] went out whole; `end` is
    /// its [`SequenceRule::end`].
    #[inline]
    pub fn applied_directly(&mut self, end: u64) {
        self.state = SyncState::Synced { last: end, bridged: true };
    }

    /// One depth message with `ids` whose level records (flags 0) are `records`.
    #[inline]
    pub fn on_message(
        &mut self,
        ids: R::Ids,
        records: &mut [MarketEvent],
        local_ns: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
    ) -> DiffOutcome {
        let SyncState::Synced { last, bridged } = self.state else { return self.buffer(ids, records) };
        match R::verdict(ids, last, bridged) {
            Verdict::Apply => {
                R::emit(ids, last, records, emit);
                self.state = SyncState::Synced { last: R::end(ids), bridged: true };
                DiffOutcome::Applied
            }
            Verdict::Stale => DiffOutcome::Stale,
            Verdict::Gap => {
                self.gap(local_ns, &mut |ev| emit(ev));
                // The message that showed the gap starts the new buffer (and the request).
                self.buffer(ids, records);
                DiffOutcome::Gap
            }
        }
    }

    fn buffer(&mut self, ids: R::Ids, records: &[MarketEvent]) -> DiffOutcome {
        if !self.buffer.push(ids, records) {
            return self.overflow();
        }
        if R::REQUESTS && self.buffer.len() == 1 {
            // The first buffered message's ids are known: fetch now.
            self.request_fresh_snapshot();
        }
        DiffOutcome::Buffered
    }

    #[cold]
    fn overflow(&mut self) -> DiffOutcome {
        if R::REQUESTS {
            // Whatever snapshot is in flight can no longer bridge: supersede it.
            self.request_fresh_snapshot();
        }
        DiffOutcome::Overflow
    }

    fn request_fresh_snapshot(&mut self) {
        self.wants_snapshot = true;
        // Invalidates any answer in flight.
        self.generation += 1;
    }

    /// A snapshot answered request `generation` (ignored for rules that do not
    /// [`SequenceRule::REQUESTS`]).
    #[cold]
    pub fn on_snapshot(
        &mut self,
        snap: &R::Image,
        generation: u64,
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        if self.state != SyncState::Buffering || (R::REQUESTS && generation != self.generation) {
            return SnapshotOutcome::Ignored;
        }
        let id = snap.id();
        self.buffer.drop_front_while(|ids| R::covered(*ids, id));
        if self.buffer.front().is_some_and(|ids| R::after(ids, id)) {
            if R::REQUESTS {
                self.request_fresh_snapshot();
            }
            return SnapshotOutcome::TooOld;
        }
        snap.emit(self.instrument, local_ns, emit);
        self.state = SyncState::Synced { last: id, bridged: false };
        let mut applied = 0;
        let mut i = 0;
        while let (SyncState::Synced { last, bridged }, Some((ids, records))) = (self.state, self.buffer.get_mut(i)) {
            match R::verdict(ids, last, bridged) {
                Verdict::Apply => {
                    R::emit(ids, last, records, emit);
                    self.state = SyncState::Synced { last: R::end(ids), bridged: true };
                    applied += 1;
                }
                Verdict::Stale => {}
                Verdict::Gap if R::KEEP_AFTER_GAP => {
                    // This message and the ones after it wait for the next snapshot.
                    self.gaps += 1;
                    emit(&MarketEvent::invalidation(self.instrument, local_ns));
                    self.state = SyncState::Buffering;
                    self.buffer.keep_from(i);
                    return SnapshotOutcome::Gap;
                }
                Verdict::Gap => {
                    // Start over with a newer snapshot: it will be newer than every message
                    // dropped here, so nothing is lost.
                    self.gap(local_ns, emit);
                    self.request_fresh_snapshot();
                    return SnapshotOutcome::Gap;
                }
            }
            i += 1;
        }
        self.buffer.clear();
        SnapshotOutcome::Synced { applied }
    }

    /// The connection was lost, a frame of this symbol was unreadable or the consumer refused
    /// its book: invalidate the book and start over (buffer empty; a snapshot is wanted at the
    /// next message).
    #[cold]
    pub fn reset(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        emit(&MarketEvent::invalidation(self.instrument, local_ns));
        self.buffer.clear();
        self.state = SyncState::Buffering;
        self.wants_snapshot = false;
        self.generation += 1;
    }

    #[cold]
    fn gap(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.gaps += 1;
        emit(&MarketEvent::invalidation(self.instrument, local_ns));
        self.buffer.clear();
        self.state = SyncState::Buffering;
    }

    /// Capacity of the buffer's record storage (never grows).
    #[cfg(test)]
    pub(crate) fn buffer_record_capacity(&self) -> usize {
        self.buffer.record_capacity()
    }
}

/// Emits a full book image of `instrument`: `BookSnapshot` per level (bids then asks), the first
/// `CLEAR`, the last `BATCH_END` (one `CLEAR | BATCH_END` record for an empty book), `seq` and
/// `exchange_ns` on every record. `bids` and `asks` come best first, as the venues send them.
///
/// `worst_first` emits each side worst first, so that every level lands at the best end of the
/// engine's ladder (`qt_core::Book` keeps the best last): an append after a short scan, where
/// best first made each level the worst so far — a search down the whole side and a shift of
/// all of it. Callgrind, Firi's 100-level bodies of `benches/feed_parse_kraken_firi.rs`: see
/// BENCHMARKS.md `feed_parse`, round 6. (KuCoin and Firi emit worst first; Binance best first.)
#[allow(clippy::too_many_arguments)] // reason: one image's fields and its order
pub(crate) fn emit_book_image(
    instrument: InstrumentId,
    bids: &[(Price, Qty)],
    asks: &[(Price, Qty)],
    seq: u64,
    exchange_ns: Nanos,
    local_ns: Nanos,
    worst_first: bool,
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
    let mut put = |i: usize, side: Side, &(price, qty): &(Price, Qty)| {
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
    };
    if worst_first {
        let levels = bids.iter().rev().map(|l| (Side::Buy, l)).chain(asks.iter().rev().map(|l| (Side::Sell, l)));
        for (i, (side, level)) in levels.enumerate() {
            put(i, side, level);
        }
    } else {
        let levels = bids.iter().map(|l| (Side::Buy, l)).chain(asks.iter().map(|l| (Side::Sell, l)));
        for (i, (side, level)) in levels.enumerate() {
            put(i, side, level);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance spot's continuity (`U == previous u + 1`) with snapshots wanted while anything
    /// is buffered, keeping the buffer after a bridging gap or not.
    struct Chain<const KEEP: bool>;

    /// A snapshot of id `.0` with no levels.
    struct Empty(u64);

    impl BookImage for Empty {
        fn id(&self) -> u64 {
            self.0
        }

        fn emit(&self, instrument: InstrumentId, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
            emit_book_image(instrument, &[], &[], self.0, Nanos(0), local_ns, false, emit);
        }
    }

    impl<const KEEP: bool> SequenceRule for Chain<KEEP> {
        type Ids = (u64, u64);
        type Image = Empty;
        const REQUESTS: bool = false;
        const KEEP_AFTER_GAP: bool = KEEP;

        fn end((_, last): (u64, u64)) -> u64 {
            last
        }

        fn covered((_, last): (u64, u64), snapshot: u64) -> bool {
            last <= snapshot
        }

        fn after((first, _): (u64, u64), snapshot: u64) -> bool {
            first > snapshot + 1
        }

        fn verdict((first, last): (u64, u64), book: u64, bridged: bool) -> Verdict {
            if last <= book {
                Verdict::Stale
            } else if first == book + 1 || (!bridged && first <= book + 1) {
                Verdict::Apply
            } else {
                Verdict::Gap
            }
        }
    }

    fn level() -> MarketEvent {
        MarketEvent::new(InstrumentId(0), EventKind::BookDelta, Side::Buy, Price::from_units(1), Qty::from_units(1))
    }

    /// Buffers diffs 1, 2 and 5, answers with a snapshot at 0 (3 and 4 are missing: a gap inside
    /// the buffer), then with a snapshot at 4; returns the two outcomes and the final state.
    fn bridging_gap<const KEEP: bool>() -> (SnapshotOutcome, SnapshotOutcome, SyncState, u64) {
        let mut sync = DepthSync::<Chain<KEEP>>::new(InstrumentId(0), 16, 8);
        let mut sink = |_: &MarketEvent| {};
        for ids in [(1, 1), (2, 2), (5, 5)] {
            assert_eq!(sync.on_message(ids, &mut [level()], Nanos(0), &mut sink), DiffOutcome::Buffered);
        }
        assert!(sync.wants_snapshot(), "wanted while anything is buffered");
        let first = sync.on_snapshot(&Empty(0), 0, Nanos(1), &mut sink);
        assert_eq!(sync.state(), SyncState::Buffering);
        assert_eq!(sync.wants_snapshot(), KEEP, "only a kept buffer still wants a snapshot");
        let second = sync.on_snapshot(&Empty(4), 0, Nanos(2), &mut sink);
        (first, second, sync.state(), sync.gaps())
    }

    /// A gap among the buffered diffs right after a snapshot: a rule that keeps the buffer
    /// bridges the rest on the next snapshot (USD-M); one that drops it starts from the next
    /// snapshot alone (Binance spot, KuCoin, which then fetch one newer than all they dropped).
    #[test]
    fn a_gap_inside_the_buffer_keeps_or_drops_the_rest_as_the_rule_says() {
        let kept = bridging_gap::<true>();
        assert_eq!(
            kept,
            (
                SnapshotOutcome::Gap,
                SnapshotOutcome::Synced { applied: 1 },
                SyncState::Synced { last: 5, bridged: true },
                1
            )
        );
        let dropped = bridging_gap::<false>();
        assert_eq!(
            dropped,
            (
                SnapshotOutcome::Gap,
                SnapshotOutcome::Synced { applied: 0 },
                SyncState::Synced { last: 4, bridged: false },
                1
            )
        );
    }
}
