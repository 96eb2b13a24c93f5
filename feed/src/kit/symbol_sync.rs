//! [`SymbolSync`]: one symbol's book sync as the decoder shell
//! ([`crate::kit::depth_decoder::DepthDecoder`]) drives it, whatever the venue's sync is — the
//! snapshot+diff sync ([`DepthSync`], any [`SequenceRule`]: Binance spot and USD-M, KuCoin) or
//! Bybit's in-stream sync ([`crate::bybit::rules::BookSync`]) or Firi's whole-book bodies
//! ([`crate::firi::rules::ImageSync`]) or the checksum venues' shadow book
//! ([`crate::kit::checksum_sync::ChecksumSync`]: OKX, Kraken).
//!
//! A sync says how a broken book comes back ([`Resync`]): from a REST snapshot the live layer
//! fetches (the snapshot half: requests, generations, answers) or from the snapshot the venue
//! sends in the stream once the book is subscribed again (the resubscribe half), or needs nothing
//! asked for (every message is the whole book). The shell's
//! [`crate::kit::live::LiveDecoder`] half follows that kind; the methods of the other kind keep
//! their defaults (nothing wanted, nothing to take). Each sync counts the outcome of a diff
//! into the shell's [`DepthCounters`] itself.
//!
//! Thread and contract: core thread. `applies_directly`, `applied_directly` and `on_diff` are on
//! the per-frame path (no allocation, no panics); the rest are cold.

use crate::kit::depth_decoder::DepthCounters;
use crate::kit::depth_sync::{DEFAULT_BUFFER_RECORDS, DepthSync, DiffOutcome, SequenceRule, SnapshotOutcome};
use qt_core::{Instrument, MarketEvent, Nanos};

/// How a sync's broken book comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    /// A REST snapshot, requested by the live layer ([`SymbolSync::take_snapshot_request`]).
    Snapshot,
    /// A fresh subscription: the venue sends the snapshot in the stream
    /// ([`SymbolSync::take_resubscribe`]).
    Resubscribe,
    /// Nothing to ask for: every message is the whole book, and the next one replaces a broken
    /// book (Firi's polled bodies, [`crate::firi::rules::ImageSync`]).
    NextMessage,
}

/// One symbol's book sync, as the decoder shell drives it (see the module doc).
pub trait SymbolSync: Send + Sized {
    /// What the wire walk asks [`Self::applies_directly`] with (read before the levels).
    type Ids: Copy;
    /// A staged diff's ids and fields, for [`Self::on_diff`] (borrowing the wire walk's staged
    /// levels where the diff's levels are not records: a checksum sync's).
    type Diff<'a>: Copy;
    /// What a diff emitted while it was walked leaves the book at ([`Self::applied_directly`]).
    type Done: Copy;
    /// A REST snapshot ([`Resync::Snapshot`]; never built for the other kind).
    type Image;
    /// How a broken book comes back.
    const RESYNC: Resync;
    /// Snapshot requests carry the sync's generation ([`Self::generation`]) and only that answer
    /// is taken; `false`: the shell tracks the request in flight itself.
    const REQUESTS: bool;

    /// A sync for `instrument` of `capacity` (allocated here, never grown): the diffs it buffers
    /// where it buffers, the levels a side its shadow book keeps where it keeps one.
    fn for_symbol(instrument: &Instrument, capacity: usize) -> Self;
    /// Whether the book is in sync.
    fn is_synced(&self) -> bool;
    /// Sequence gaps seen, where the sync counts them (`None`: the venue has no sequence).
    fn gaps(&self) -> Option<u64>;
    /// Whether the diff with `ids` would be applied whole now, so that its records may go out
    /// while it is walked; [`Self::applied_directly`] follows.
    fn applies_directly(&self, ids: Self::Ids) -> bool;
    /// A diff accepted by [`Self::applies_directly`] went out whole.
    fn applied_directly(&mut self, done: Self::Done);
    /// A staged diff whose level records are `records`: applied, buffered, ignored or a gap,
    /// counted in `c`; records that go out go to `emit`.
    fn on_diff(
        &mut self,
        diff: Self::Diff<'_>,
        records: &mut [MarketEvent],
        now: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
        c: &mut DepthCounters,
    );
    /// The book broke (an unreadable diff, a refused record): one invalidation record, and the
    /// resync of its kind is wanted. Returns whether that started a resync (`false`: the sync
    /// already waited for one, which still stands).
    fn reset(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool;
    /// The connection dropped: one invalidation record; the reconnect resyncs. Returns whether
    /// a resync started, as [`Self::reset`].
    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        self.reset(now, emit)
    }

    /// Whether a REST snapshot is wanted now ([`Resync::Snapshot`]).
    fn wants_snapshot(&self) -> bool {
        false
    }
    /// A wanted snapshot's request generation, taking the want ([`Self::REQUESTS`]).
    fn take_snapshot_request(&mut self) -> Option<u64> {
        None
    }
    /// The request could not be sent or failed: want it again.
    fn retry_snapshot_request(&mut self) {}
    /// The generation an answer must carry ([`Self::REQUESTS`]).
    fn generation(&self) -> u64 {
        0
    }
    /// A parsed REST snapshot answering request `generation`.
    fn on_snapshot(
        &mut self,
        _image: &Self::Image,
        _generation: u64,
        _now: Nanos,
        _emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        SnapshotOutcome::Ignored
    }

    /// Whether the book must be subscribed again, clearing the request ([`Resync::Resubscribe`]).
    fn take_resubscribe(&mut self) -> bool {
        false
    }
    /// [`Self::take_resubscribe`] without clearing.
    fn wants_resubscribe(&self) -> bool {
        false
    }
}

/// The snapshot+diff sync: REST snapshots, diffs buffered while it waits.
impl<R: SequenceRule<Ids: Send>> SymbolSync for DepthSync<R> {
    type Ids = R::Ids;
    type Diff<'a> = R::Ids;
    type Done = u64;
    type Image = R::Image;
    const RESYNC: Resync = Resync::Snapshot;
    const REQUESTS: bool = R::REQUESTS;

    fn for_symbol(instrument: &Instrument, buffer_messages: usize) -> Self {
        DepthSync::new(instrument.id(), DEFAULT_BUFFER_RECORDS, buffer_messages)
    }

    #[inline]
    fn is_synced(&self) -> bool {
        DepthSync::is_synced(self)
    }

    fn gaps(&self) -> Option<u64> {
        Some(DepthSync::gaps(self))
    }

    #[inline]
    fn applies_directly(&self, ids: R::Ids) -> bool {
        DepthSync::applies_directly(self, ids)
    }

    #[inline]
    fn applied_directly(&mut self, end: u64) {
        DepthSync::applied_directly(self, end);
    }

    #[inline]
    fn on_diff(
        &mut self,
        ids: R::Ids,
        records: &mut [MarketEvent],
        now: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
        c: &mut DepthCounters,
    ) {
        match self.on_message(ids, records, now, emit) {
            DiffOutcome::Applied => c.diffs_applied += 1,
            DiffOutcome::Buffered => {}
            DiffOutcome::Stale => c.stale += 1,
            DiffOutcome::Gap => {
                c.gaps += 1;
                c.resyncs += 1;
            }
            DiffOutcome::Overflow => c.buffer_overflows += 1,
        }
    }

    fn reset(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        DepthSync::reset(self, now, emit);
        true
    }

    fn wants_snapshot(&self) -> bool {
        DepthSync::wants_snapshot(self)
    }

    fn take_snapshot_request(&mut self) -> Option<u64> {
        DepthSync::take_snapshot_request(self)
    }

    fn retry_snapshot_request(&mut self) {
        DepthSync::retry_snapshot_request(self);
    }

    fn generation(&self) -> u64 {
        DepthSync::generation(self)
    }

    fn on_snapshot(
        &mut self,
        image: &R::Image,
        generation: u64,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        DepthSync::on_snapshot(self, image, generation, now, emit)
    }
}
