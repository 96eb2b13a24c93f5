//! [`ChecksumSync`]: one symbol's book sync on the venues whose snapshot arrives in the stream
//! and whose loss detector is a per-message CRC32 over the top of the book (OKX `books`, Kraken
//! `book`), parameterized by the venue's [`ChecksumRule`] — the [`SymbolSync`] the decoder shell
//! ([`crate::kit::depth_decoder::DepthDecoder`]) drives for them, each symbol with its own shadow
//! book and checksum buffer.
//!
//! Per book message ([`ChecksumSync::apply`], the walk's staged levels borrowed): a snapshot
//! clears the shadow book; an update of a book that waits for a snapshot is ignored (counted as
//! `waiting`), and one whose `prev_seq` (where the venue sends one) is not the last applied
//! `seq` is a gap. **Every level of the message is applied first** (quantity 0 deletes),
//! **then** each side is trimmed to its depth ([`SideBook::trim`], once per message, never per
//! level), **then** the checksum is verified against the venue's; a message without a checksum
//! is counted as "not provided" and applied unverified.
//!
//! On a gap, a mismatch, an unreadable frame of the book (the venue's wire walk says which) or a
//! disconnect the book is invalidated: one `BookSnapshot` record with `CLEAR`, qty 0, no
//! `BATCH_END`; later updates are ignored and [`ChecksumSync::wants_resubscribe`] turns true
//! until the connection layer takes it and resubscribes ([`Resync::Resubscribe`]); the new
//! snapshot makes the book valid again.
//!
//! Records: snapshot → `BookSnapshot` per level of the shadow book (bids then asks, first
//! `CLEAR`, last `BATCH_END`; one zero level for an empty book); update → `BookDelta` per level
//! as sent, then — for a venue that sends no delete for a level falling out of the depth
//! ([`ChecksumRule::DELETES_TRIMMED`]) — a zero-quantity `BookDelta` for each level the trim
//! dropped, the last record `BATCH_END` (an update without levels emits nothing). `seq` /
//! `prev_seq` from the message where the venue has them (`prev_seq` 0 when absent or -1).
//!
//! Thread and contract: core thread. Allocates only in [`ChecksumSync::new`]; `apply` never
//! blocks, never allocates, never panics. Invalidation is `#[cold]`.

use crate::kit::checksum_book::{Level, PieceCrc, SideBook};
use crate::kit::depth_decoder::{DepthCounters, DepthDecoder, DepthWire};
use crate::kit::symbol_sync::{Resync, SymbolSync};
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};

use crate::decoder::FeedStats;

/// A checksum venue's rule: how its CRC32 reads the book, and what its messages leave out.
pub trait ChecksumRule {
    /// The venue's checksum of the book `bids`/`asks` (best first), gathered in `crc` (reset
    /// first), as the unsigned 32-bit value the venue's field carries.
    fn checksum(crc: &mut PieceCrc, bids: &SideBook, asks: &SideBook) -> u32;
    /// A checksum field of 0 means "not provided" (OKX announced 0 from 2026-06-23).
    const ZERO_IS_ABSENT: bool;
    /// The venue sends no delete for levels falling out of the subscribed depth (Kraken): each
    /// level the trim drops goes out as a zero-quantity `BookDelta`, so a consumer's unlimited
    /// book stays equal to the shadow book.
    const DELETES_TRIMMED: bool;
    /// The venue's book messages carry sequence numbers, and the sync counts gaps per book
    /// ([`SymbolSync::gaps`]; OKX's `seqId`/`prevSeqId`; Kraken has none).
    const SEQUENCED: bool;
}

/// The sequence and checksum fields of one book message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookMessage {
    /// A snapshot (replaces the book) rather than an update.
    pub snapshot: bool,
    /// The message's sequence number, if the venue sends one.
    pub seq: Option<i64>,
    /// The previous message's sequence number as the venue states it, if it does.
    pub prev_seq: Option<i64>,
    /// The venue's checksum, if present.
    pub checksum: Option<u32>,
    /// Venue time, Unix ns.
    pub exchange_ns: Nanos,
}

/// One book message as the wire walk hands it to the sync: its fields and its staged levels
/// (side, level; in the venue's order), borrowed from the walk.
pub type BookDiff<'a> = (BookMessage, &'a [(Side, Level)]);

/// Counters of a checksum venue's decoder ([`FeedStats`] plus what only these venues count):
/// the shell's [`DepthCounters`] as OKX and Kraken name them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumCounters {
    /// The common counters (`warnings_suppressed` is the decoder's `stats()`'s alone).
    pub stats: FeedStats,
    /// Book messages without a checksum to verify (absent, or 0 where that means absent).
    pub checksum_absent: u64,
    /// Heartbeats, pongs, acks, status, method replies, trade snapshots: non-error control.
    pub control: u64,
    /// The venue's error replies (`{"event":"error"}`, `"success":false`).
    pub control_errors: u64,
    /// Updates ignored because the book waits for a snapshot (after an invalidation).
    pub ignored_updates: u64,
}

impl From<DepthCounters> for ChecksumCounters {
    fn from(c: DepthCounters) -> Self {
        Self {
            stats: FeedStats {
                messages: c.messages,
                records: c.records,
                parse_errors: c.parse_errors_total(),
                parse_error_reasons: c.parse_errors,
                gaps: c.gaps,
                checksum_ok: c.checksum_ok,
                checksum_failed: c.checksum_failed,
                crossed: c.crossed,
                resyncs: c.resyncs,
                warnings_suppressed: 0,
            },
            checksum_absent: c.checksum_absent,
            control: c.control,
            control_errors: c.venue_errors,
            ignored_updates: c.waiting,
        }
    }
}

/// One symbol's shadow book and sync state under rule `R` (see the module doc).
#[derive(Debug, Clone)]
pub struct ChecksumSync<R> {
    id: InstrumentId,
    bids: SideBook,
    asks: SideBook,
    /// A snapshot was applied and nothing has broken since.
    live: bool,
    resubscribe: bool,
    /// `seq` of the last applied message, if the venue sent one.
    last_seq: Option<i64>,
    /// Sequence gaps found on this book.
    gaps: u64,
    /// The checksum's reused gathering buffer.
    crc: PieceCrc,
    rule: std::marker::PhantomData<fn() -> R>,
}

impl<R: ChecksumRule> ChecksumSync<R> {
    /// The book of `instrument` keeping `depth` levels a side after each message. Allocates
    /// everything it will use here.
    pub fn new(instrument: &Instrument, depth: usize) -> Self {
        let depth = depth.max(1);
        Self {
            id: instrument.id(),
            bids: SideBook::with_depth(depth, true),
            asks: SideBook::with_depth(depth, false),
            live: false,
            resubscribe: false,
            last_seq: None,
            gaps: 0,
            crc: PieceCrc::new(),
            rule: std::marker::PhantomData,
        }
    }

    /// The levels kept a side after each message.
    pub fn depth(&self) -> usize {
        self.bids.depth()
    }

    /// Whether the shadow book is valid.
    #[inline]
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The shadow book as `(bids, asks)` (iterate best first).
    pub fn book_levels(&self) -> (&SideBook, &SideBook) {
        (&self.bids, &self.asks)
    }

    /// The venue's `seq` of the last message applied, while the book is valid (the state the
    /// records emitted so far describe).
    pub fn book_seq(&self) -> Option<i64> {
        self.last_seq.filter(|_| self.live)
    }

    /// One book message whose levels are `levels` (side, level; in the venue's order); its
    /// outcome counted in `c`, its records to `emit`.
    #[inline]
    pub fn apply(
        &mut self,
        msg: BookMessage,
        levels: &[(Side, Level)],
        now: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
        c: &mut DepthCounters,
    ) {
        if msg.snapshot {
            self.bids.clear();
            self.asks.clear();
        } else if !self.live {
            c.waiting += 1;
            return;
        } else if let (Some(prev), Some(last)) = (msg.prev_seq, self.last_seq)
            && prev != last
        {
            c.gaps += 1;
            self.gaps += 1;
            c.resyncs += u64::from(self.invalidate(now, &mut |ev| emit(ev)));
            return;
        }
        for (side, level) in levels {
            match side {
                Side::Buy => self.bids.apply(level),
                Side::Sell => self.asks.apply(level),
            }
        }
        // The whole message, then the depth, then the checksum: never the depth after each
        // level (an insert followed by a delete would lose the level the insert pushed out and
        // the delete brought back). The dropped levels stay readable in their slots.
        let dropped = [self.bids.trim().len(), self.asks.trim().len()];
        match msg.checksum {
            Some(expected) if !(R::ZERO_IS_ABSENT && expected == 0) => {
                if R::checksum(&mut self.crc, &self.bids, &self.asks) == expected {
                    c.checksum_ok += 1;
                    c.match_frame = c.messages;
                } else {
                    c.checksum_failed += 1;
                    c.mismatch_frame = c.messages;
                    c.resyncs += u64::from(self.invalidate(now, &mut |ev| emit(ev)));
                    return;
                }
            }
            _ => c.checksum_absent += 1,
        }
        self.live = true;
        if msg.snapshot {
            // A valid snapshot answers any pending resubscribe request.
            self.resubscribe = false;
        }
        self.last_seq = msg.seq;
        let stamp = |side, price: i64, qty: i64, kind| {
            let mut ev = MarketEvent::new(self.id, kind, side, Price::from_units(price), Qty::from_units(qty));
            ev.exchange_ns = msg.exchange_ns;
            ev.local_ns = now;
            ev.seq = msg.seq.map_or(0, |s| s as u64);
            ev.prev_seq = msg.prev_seq.filter(|p| *p > 0).map_or(0, |p| p as u64);
            ev
        };
        if msg.snapshot {
            c.snapshots_applied += 1;
            let total = self.bids.len() + self.asks.len();
            if total == 0 {
                // An empty book: one zero level carries the CLEAR and the BATCH_END.
                let mut ev = stamp(Side::Buy, 0, 0, EventKind::BookSnapshot);
                ev.flags |= MarketEvent::CLEAR | MarketEvent::BATCH_END;
                emit(&ev);
                return;
            }
            let mut k = 0;
            for (side, book) in [(Side::Buy, &self.bids), (Side::Sell, &self.asks)] {
                for l in book.iter() {
                    let mut ev = stamp(side, l.price, l.qty, EventKind::BookSnapshot);
                    if k == 0 {
                        ev.flags |= MarketEvent::CLEAR;
                    }
                    k += 1;
                    if k == total {
                        ev.flags |= MarketEvent::BATCH_END;
                    }
                    emit(&ev);
                }
            }
            return;
        }
        c.diffs_applied += 1;
        // An update's records go out straight from the staged levels, then the trim's
        // deletions; the last of all ends the batch.
        let deletes = if R::DELETES_TRIMMED { dropped[0] + dropped[1] } else { 0 };
        let last = (levels.len() + deletes).wrapping_sub(1);
        for (k, (side, l)) in levels.iter().enumerate() {
            let mut ev = stamp(*side, l.price, l.qty, EventKind::BookDelta);
            if k == last {
                ev.flags |= MarketEvent::BATCH_END;
            }
            emit(&ev);
        }
        if R::DELETES_TRIMMED {
            let mut k = levels.len();
            for (side, book, n) in [(Side::Buy, &self.bids, dropped[0]), (Side::Sell, &self.asks, dropped[1])] {
                for l in book.trimmed(n) {
                    let mut ev = stamp(side, l.price, 0, EventKind::BookDelta);
                    if k == last {
                        ev.flags |= MarketEvent::BATCH_END;
                    }
                    k += 1;
                    emit(&ev);
                }
            }
        }
    }

    /// Drops the book, tells the engine (one `CLEAR` record without `BATCH_END`) and asks for a
    /// resubscribe; returns whether that is a new request (not one already pending).
    #[cold]
    pub fn invalidate(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        self.bids.clear();
        self.asks.clear();
        self.live = false;
        self.last_seq = None;
        emit(&MarketEvent::invalidation(self.id, now));
        !std::mem::replace(&mut self.resubscribe, true)
    }
}

/// The checksum sync in the decoder shell: the snapshot arrives in the stream, a broken book is
/// subscribed again ([`Resync::Resubscribe`]); no diff is applied while walked (the checksum
/// reads the whole message first), each is a [`BookDiff`].
impl<R: ChecksumRule> SymbolSync for ChecksumSync<R> {
    type Ids = ();
    type Diff<'a> = BookDiff<'a>;
    type Done = ();
    type Image = std::convert::Infallible;
    const RESYNC: Resync = Resync::Resubscribe;
    const REQUESTS: bool = false;

    /// `depth`: the levels a side the shadow book keeps.
    fn for_symbol(instrument: &Instrument, depth: usize) -> Self {
        Self::new(instrument, depth)
    }

    #[inline]
    fn is_synced(&self) -> bool {
        self.live
    }

    fn gaps(&self) -> Option<u64> {
        R::SEQUENCED.then_some(self.gaps)
    }

    #[inline]
    fn applies_directly(&self, (): ()) -> bool {
        false
    }

    #[inline]
    fn applied_directly(&mut self, (): ()) {}

    #[inline]
    fn on_diff(
        &mut self,
        (msg, levels): BookDiff<'_>,
        _records: &mut [MarketEvent],
        now: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
        c: &mut DepthCounters,
    ) {
        self.apply(msg, levels, now, emit, c);
    }

    fn reset(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        self.invalidate(now, emit)
    }

    fn take_resubscribe(&mut self) -> bool {
        std::mem::take(&mut self.resubscribe)
    }

    fn wants_resubscribe(&self) -> bool {
        self.resubscribe
    }
}

/// The checksum venues' decoders (`crate::okx::Decoder`, `crate::kraken::Decoder`): their
/// shadow books, as they were queried before the one shell.
impl<W: DepthWire<Sync = ChecksumSync<R>>, R: ChecksumRule + 'static> DepthDecoder<W> {
    /// Whether symbol `index`'s shadow book is valid.
    pub fn is_live(&self, index: usize) -> bool {
        self.is_synced(index)
    }

    /// Symbol `index`'s shadow book as `(bids, asks)` (iterate best first; `price`/`qty` in
    /// instrument units; each level's checksum piece as the venue's checksum reads it).
    pub fn book_levels(&self, index: usize) -> Option<(&SideBook, &SideBook)> {
        self.sync(index).map(ChecksumSync::book_levels)
    }

    /// The venue's `seq` of the last book message applied to symbol `index`, while its book is
    /// valid (the state the records emitted so far describe; OKX's `seqId`).
    pub fn book_seq(&self, index: usize) -> Option<i64> {
        self.sync(index).and_then(ChecksumSync::book_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::Venue;

    /// A rule whose checksum is never sent (messages carry none), deleting what its trim drops
    /// or not.
    struct Trims<const DELETES: bool>;

    impl<const DELETES: bool> ChecksumRule for Trims<DELETES> {
        const ZERO_IS_ABSENT: bool = false;
        const DELETES_TRIMMED: bool = DELETES;
        const SEQUENCED: bool = false;

        fn checksum(_: &mut PieceCrc, _: &SideBook, _: &SideBook) -> u32 {
            0
        }
    }

    fn instrument() -> Instrument {
        crate::kit::lift::testing::instrument(Venue::Kraken, 0, "XBT/USD", "1", "1")
    }

    fn msg(snapshot: bool) -> BookMessage {
        BookMessage { snapshot, seq: None, prev_seq: None, checksum: None, exchange_ns: Nanos(7) }
    }

    /// Runs a depth-2 book through a snapshot (bids 10, 9) and an update inserting bid 11 (which
    /// pushes 9 past the depth): the update's records as (price, qty, flags).
    fn update_records<const DELETES: bool>() -> Vec<(i64, i64, u16)> {
        let mut book = ChecksumSync::<Trims<DELETES>>::new(&instrument(), 2);
        let mut c = DepthCounters::default();
        let bid = |p: i64| (Side::Buy, Level::without_text(p, 1));
        let mut snapshot = Vec::new();
        book.apply(msg(true), &[bid(10), bid(9)], Nanos(1), &mut |ev| snapshot.push(*ev), &mut c);
        assert_eq!(snapshot.len(), 2);
        let mut out = Vec::new();
        book.apply(msg(false), &[bid(11)], Nanos(2), &mut |ev| out.push(*ev), &mut c);
        let (bids, _) = book.book_levels();
        assert_eq!(bids.iter().map(|l| l.price).collect::<Vec<_>>(), [11, 10], "trimmed to the depth");
        assert_eq!((c.snapshots_applied, c.diffs_applied, c.checksum_absent), (1, 1, 2));
        out.iter().map(|e| (e.price.units(), e.qty.units(), e.flags)).collect()
    }

    /// An update's records go out straight from its levels; where the venue sends no delete for
    /// a level falling out of the depth (Kraken), the trim's delete follows and only the last
    /// record of the message ends the batch.
    #[test]
    fn an_update_ends_its_batch_once_after_the_trims_deletes() {
        assert_eq!(update_records::<true>(), [(11, 1, 0), (9, 0, MarketEvent::BATCH_END)]);
        assert_eq!(update_records::<false>(), [(11, 1, MarketEvent::BATCH_END)]);
    }

    /// A resync already asked for is not counted again: an invalidation while the book waits
    /// for its resubscription asks nothing new.
    #[test]
    fn an_invalidation_asks_for_one_resubscription() {
        let mut book = ChecksumSync::<Trims<false>>::new(&instrument(), 2);
        let mut records = 0;
        assert!(book.invalidate(Nanos(1), &mut |_| records += 1));
        assert!(!book.invalidate(Nanos(2), &mut |_| records += 1));
        assert_eq!(records, 2, "each tells the engine");
        assert!(book.wants_resubscribe() && book.take_resubscribe() && !book.wants_resubscribe());
        assert!(book.invalidate(Nanos(3), &mut |_| {}), "taken: a new request");
    }

    /// Through the shell (OKX's decoder): a book already waiting for its resubscription is told
    /// again of each refused frame of it and of a disconnect, but counts one resync, as the
    /// checksum venues' own shell did; and each frame has its own checksum verdict.
    #[test]
    fn the_shell_counts_one_resync_a_resubscription_and_a_verdict_a_frame() {
        use crate::decoder::{ChecksumVerdict, VenueDecoder};
        use crate::okx::Decoder;
        let mut dec = Decoder::new(&[crate::kit::lift::testing::instrument(Venue::Okx, 0, "X-Y", "1", "1")]);
        let lvl = |px: &[u8]| Level::new(0, 1, px, b"1").unwrap();
        let crc = crate::okx::rules::okx_checksum(&[lvl(b"99")], &[lvl(b"101")]);
        let books = |action: &str, prev: i64, seq: i64, checksum: i64| {
            format!(
                r#"{{"arg":{{"channel":"books","instId":"X-Y"}},"action":"{action}","data":[{{"asks":[["101","1","0","1"]],"bids":[["99","1","0","1"]],"ts":"1","checksum":{checksum},"prevSeqId":{prev},"seqId":{seq}}}]}}"#
            )
        };
        let feed = |dec: &mut Decoder, frame: &str| {
            let mut records = 0;
            dec.on_frame(frame.as_bytes(), Nanos(1), &mut |_| records += 1);
            records
        };
        assert_eq!(feed(&mut dec, &books("snapshot", -1, 10, crc.into())), 2);
        assert!(dec.is_live(0) && dec.last_checksum() == ChecksumVerdict::Match);
        let truncated = books("update", 10, 11, 0)[..60].to_string();
        assert_eq!(feed(&mut dec, &truncated), 1, "the book is invalidated");
        assert_eq!(dec.last_checksum(), ChecksumVerdict::None);
        assert_eq!(feed(&mut dec, &truncated), 1, "and told again");
        VenueDecoder::on_disconnect(&mut dec, Nanos(2), &mut |_| {});
        assert_eq!((dec.stats().resyncs, dec.stats().records), (1, 5), "one resubscription, still pending");
        assert!(dec.take_resubscribe(0) && !dec.wants_resubscribe(0));
        VenueDecoder::on_disconnect(&mut dec, Nanos(3), &mut |_| {});
        assert_eq!(dec.stats().resyncs, 2, "taken: a new one");
        feed(&mut dec, &books("snapshot", -1, 20, crc.into()));
        assert_eq!(feed(&mut dec, &books("update", 20, 21, 12_345)), 1, "a mismatch invalidates");
        assert_eq!(dec.last_checksum(), ChecksumVerdict::Mismatch);
        assert_eq!((dec.stats().checksum_ok, dec.stats().checksum_failed, dec.stats().resyncs), (2, 1, 3));
        assert_eq!(feed(&mut dec, "pong"), 0);
        assert_eq!(dec.last_checksum(), ChecksumVerdict::None);
    }
}
