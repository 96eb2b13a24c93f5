//! [`ChecksumBooks`]: the book sync of the venues whose snapshot arrives in the stream and whose
//! loss detector is a per-message CRC32 over the top of the book (OKX `books`, Kraken `book`),
//! parameterized by the venue's [`ChecksumRule`].
//!
//! Per book message ([`ChecksumBooks::apply`]): a snapshot clears the symbol's shadow book; an
//! update of a book that waits for a snapshot is ignored (counted), and one whose `prev_seq`
//! (where the venue sends one) is not the last applied `seq` is a gap. **Every level of the
//! message is applied first** (quantity 0 deletes), **then** each side is trimmed to its depth
//! ([`SideBook::trim`], once per message, never per level), **then** the checksum is verified
//! against the venue's; a message without a checksum is counted as "not provided" and applied
//! unverified.
//!
//! On a gap, a mismatch, an unreadable frame of the book (the venue's decoder says which) or a
//! disconnect the symbol's book is invalidated: one `BookSnapshot` record with `CLEAR`, qty 0,
//! no `BATCH_END`; later updates are ignored and [`ChecksumBooks::wants_resubscribe`] turns
//! true until the connection layer takes it and resubscribes; the new snapshot makes the book
//! valid again.
//!
//! Records: snapshot → `BookSnapshot` per level of the shadow book (bids then asks, first
//! `CLEAR`, last `BATCH_END`; one zero level for an empty book); update → `BookDelta` per level
//! as sent, then — for a venue that sends no delete for a level falling out of the depth
//! ([`ChecksumRule::DELETES_TRIMMED`]) — a zero-quantity `BookDelta` for each level the trim
//! dropped, the last record `BATCH_END` (an update without levels emits nothing). `seq` /
//! `prev_seq` from the message where the venue has them (`prev_seq` 0 when absent or -1).
//!
//! Thread and contract: core thread. Allocates only in [`ChecksumBooks::new`]; `apply` never
//! blocks, never allocates, never panics. Invalidation paths are `#[cold]`.

use crate::decoder::{ChecksumVerdict, FeedStats};
use crate::kit::checksum_book::{Level, PieceCrc, SLOTS_PER_LEVEL, SideBook};
use qt_core::{BookError, EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};

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
}

/// The sequence and checksum fields of one book message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookMessage {
    /// Symbol index.
    pub symbol: usize,
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

/// Counters of a checksum venue's decoder ([`FeedStats`] plus what only these venues count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumCounters {
    /// The common counters.
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

/// One symbol's shadow book and sync state.
#[derive(Debug, Clone)]
pub(crate) struct SymbolBook {
    id: InstrumentId,
    bids: SideBook,
    asks: SideBook,
    /// A snapshot was applied and nothing has broken since.
    pub(crate) live: bool,
    resubscribe: bool,
    /// `seq` of the last applied message, if the venue sent one.
    pub(crate) last_seq: Option<i64>,
    /// Sequence gaps found on this book.
    gaps: u64,
}

/// Every symbol's shadow book and sync under rule `R` (see the module doc).
#[derive(Debug)]
pub struct ChecksumBooks<R> {
    books: Vec<SymbolBook>,
    depth: usize,
    /// A snapshot's records, staged to flag the first and the last.
    out: Vec<MarketEvent>,
    /// Levels the last update's trim dropped: (side, price), for `R::DELETES_TRIMMED`.
    truncated: Vec<(Side, i64)>,
    /// The checksum's reused gathering buffer.
    crc: PieceCrc,
    counters: ChecksumCounters,
    last_checksum: ChecksumVerdict,
    rule: std::marker::PhantomData<fn() -> R>,
}

impl<R: ChecksumRule> ChecksumBooks<R> {
    /// Books for `symbols` (index in the slice = symbol index) keeping `depth` levels a side
    /// after each message. Allocates everything it will use here.
    pub fn new(symbols: &[Instrument], depth: usize) -> Self {
        let depth = depth.max(1);
        let books = symbols
            .iter()
            .map(|s| SymbolBook {
                id: s.id(),
                bids: SideBook::with_depth(depth, true),
                asks: SideBook::with_depth(depth, false),
                live: false,
                resubscribe: false,
                last_seq: None,
                gaps: 0,
            })
            .collect();
        // A trim drops at most the `(SLOTS_PER_LEVEL - 1) × depth` levels a side holds beyond
        // its depth.
        let truncated = if R::DELETES_TRIMMED { 2 * (SLOTS_PER_LEVEL - 1) * depth } else { 0 };
        Self {
            books,
            depth,
            out: Vec::with_capacity(2 * depth + 2),
            truncated: Vec::with_capacity(truncated),
            crc: PieceCrc::new(),
            counters: ChecksumCounters::default(),
            last_checksum: ChecksumVerdict::None,
            rule: std::marker::PhantomData,
        }
    }

    /// A frame begins: counts it and forgets the last frame's checksum verdict.
    #[inline]
    pub fn start_frame(&mut self) {
        self.counters.stats.messages += 1;
        self.last_checksum = ChecksumVerdict::None;
    }

    /// All counters.
    #[inline]
    pub fn counters(&self) -> ChecksumCounters {
        self.counters
    }

    /// The counters, to count what the venue's decoder sees (control frames, parse errors,
    /// trades' records).
    #[inline]
    pub fn counters_mut(&mut self) -> &mut ChecksumCounters {
        &mut self.counters
    }

    /// The verdict on the checksums of the frame since [`Self::start_frame`] (a mismatch of
    /// any of its book messages wins).
    #[inline]
    pub fn last_checksum(&self) -> ChecksumVerdict {
        self.last_checksum
    }

    /// The levels kept a side after each message.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Symbols.
    #[inline]
    pub fn len(&self) -> usize {
        self.books.len()
    }

    /// Whether there are no symbols.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }

    /// Whether symbol `index`'s subscription must be renewed.
    pub fn wants_resubscribe(&self, index: usize) -> bool {
        self.books.get(index).is_some_and(|b| b.resubscribe)
    }

    /// [`Self::wants_resubscribe`], clearing the request (the caller resubscribes now).
    pub fn take_resubscribe(&mut self, index: usize) -> bool {
        self.books.get_mut(index).is_some_and(|b| std::mem::take(&mut b.resubscribe))
    }

    /// Whether symbol `index`'s shadow book is valid.
    pub fn is_live(&self, index: usize) -> bool {
        self.books.get(index).is_some_and(|b| b.live)
    }

    /// Symbol `index`'s shadow book as `(bids, asks)` (iterate best first).
    pub fn book_levels(&self, index: usize) -> Option<(&SideBook, &SideBook)> {
        self.books.get(index).map(|b| (&b.bids, &b.asks))
    }

    /// The venue's `seq` of the last message applied to symbol `index`, while its book is valid
    /// (the state the records emitted so far describe).
    pub fn book_seq(&self, index: usize) -> Option<i64> {
        self.books.get(index).filter(|b| b.live).and_then(|b| b.last_seq)
    }

    /// Symbol `index`'s book and state (for the live layer's queries).
    pub(crate) fn get(&self, index: usize) -> Option<&SymbolBook> {
        self.books.get(index)
    }

    /// Sequence gaps of symbol `index`'s book.
    pub fn book_gaps(&self, index: usize) -> Option<u64> {
        self.books.get(index).map(|b| b.gaps)
    }

    /// One book message whose levels are `levels` (side, level; in the venue's order).
    #[inline]
    pub fn apply(
        &mut self,
        msg: BookMessage,
        levels: &[(Side, Level)],
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        let Some(b) = self.books.get_mut(msg.symbol) else { return };
        if msg.snapshot {
            b.bids.clear();
            b.asks.clear();
        } else if !b.live {
            self.counters.ignored_updates += 1;
            return;
        } else if let (Some(prev), Some(last)) = (msg.prev_seq, b.last_seq)
            && prev != last
        {
            self.counters.stats.gaps += 1;
            b.gaps += 1;
            self.invalidate(msg.symbol, now, emit);
            return;
        }
        for (side, level) in levels {
            match side {
                Side::Buy => b.bids.apply(level),
                Side::Sell => b.asks.apply(level),
            }
        }
        // The whole message, then the depth, then the checksum: never the depth after each
        // level (an insert followed by a delete would lose the level the insert pushed out and
        // the delete brought back).
        self.truncated.clear();
        for (side, book) in [(Side::Buy, &mut b.bids), (Side::Sell, &mut b.asks)] {
            let dropped = book.trim();
            if R::DELETES_TRIMMED {
                self.truncated.extend(dropped.iter().map(|l| (side, l.price)));
            }
        }
        match msg.checksum {
            Some(expected) if !(R::ZERO_IS_ABSENT && expected == 0) => {
                if R::checksum(&mut self.crc, &b.bids, &b.asks) == expected {
                    self.counters.stats.checksum_ok += 1;
                    if self.last_checksum != ChecksumVerdict::Mismatch {
                        self.last_checksum = ChecksumVerdict::Match;
                    }
                } else {
                    self.counters.stats.checksum_failed += 1;
                    self.last_checksum = ChecksumVerdict::Mismatch;
                    self.invalidate(msg.symbol, now, emit);
                    return;
                }
            }
            _ => self.counters.checksum_absent += 1,
        }
        b.live = true;
        if msg.snapshot {
            // A valid snapshot answers any pending resubscribe request.
            b.resubscribe = false;
        }
        b.last_seq = msg.seq;
        let stamp = |mut ev: MarketEvent| {
            ev.exchange_ns = msg.exchange_ns;
            ev.local_ns = now;
            ev.seq = msg.seq.map_or(0, |s| s as u64);
            ev.prev_seq = msg.prev_seq.filter(|p| *p > 0).map_or(0, |p| p as u64);
            ev
        };
        if msg.snapshot {
            let out = &mut self.out;
            out.clear();
            for (side, levels) in [(Side::Buy, &b.bids), (Side::Sell, &b.asks)] {
                for l in levels.iter() {
                    let (price, qty) = (Price::from_units(l.price), Qty::from_units(l.qty));
                    out.push(stamp(MarketEvent::new(b.id, EventKind::BookSnapshot, side, price, qty)));
                }
            }
            if out.is_empty() {
                // An empty book: one zero level carries the CLEAR and the BATCH_END.
                out.push(stamp(MarketEvent::new(b.id, EventKind::BookSnapshot, Side::Buy, Price::ZERO, Qty::ZERO)));
            }
            out[0].flags |= MarketEvent::CLEAR;
            if let Some(last) = out.last_mut() {
                last.flags |= MarketEvent::BATCH_END;
            }
            self.counters.stats.records += out.len() as u64;
            for ev in out.iter() {
                emit(ev);
            }
            return;
        }
        // An update's records go out straight from the staged levels (no second staging), then
        // the trim's deletions; the last of all ends the batch.
        let total = levels.len() + self.truncated.len();
        let last = total.wrapping_sub(1);
        for (k, (side, l)) in levels.iter().enumerate() {
            let (price, qty) = (Price::from_units(l.price), Qty::from_units(l.qty));
            let mut ev = stamp(MarketEvent::new(b.id, EventKind::BookDelta, *side, price, qty));
            if k == last {
                ev.flags |= MarketEvent::BATCH_END;
            }
            emit(&ev);
        }
        for (k, &(side, price)) in self.truncated.iter().enumerate() {
            let mut ev = stamp(MarketEvent::new(b.id, EventKind::BookDelta, side, Price::from_units(price), Qty::ZERO));
            if levels.len() + k == last {
                ev.flags |= MarketEvent::BATCH_END;
            }
            emit(&ev);
        }
        self.counters.stats.records += total as u64;
    }

    /// Drops symbol `index`'s book, tells the engine (one `CLEAR` record without `BATCH_END`)
    /// and asks for a resubscribe.
    #[cold]
    pub fn invalidate(&mut self, index: usize, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let Some(b) = self.books.get_mut(index) else { return };
        b.bids.clear();
        b.asks.clear();
        b.live = false;
        b.last_seq = None;
        if !b.resubscribe {
            b.resubscribe = true;
            self.counters.stats.resyncs += 1;
        }
        self.counters.stats.records += 1;
        emit(&MarketEvent::invalidation(b.id, now));
    }

    /// The connection dropped: every book is invalid and must be resubscribed.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        for i in 0..self.books.len() {
            self.invalidate(i, now, emit);
        }
    }

    /// The consumer's book of symbol `index` refused a record: counted (`crossed` for a
    /// crossing) and invalidated like a checksum mismatch.
    #[cold]
    pub fn on_book_refused(&mut self, index: usize, reason: BookError, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if index < self.books.len() {
            self.counters.stats.crossed += crate::decoder::crossings(reason);
            self.invalidate(index, now, emit);
        }
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

        fn checksum(_: &mut PieceCrc, _: &SideBook, _: &SideBook) -> u32 {
            0
        }
    }

    fn instrument() -> Instrument {
        crate::kit::lift::testing::instrument(Venue::Kraken, 0, "XBT/USD", "1", "1")
    }

    fn msg(snapshot: bool) -> BookMessage {
        BookMessage { symbol: 0, snapshot, seq: None, prev_seq: None, checksum: None, exchange_ns: Nanos(7) }
    }

    /// Runs a depth-2 book through a snapshot (bids 10, 9) and an update inserting bid 11 (which
    /// pushes 9 past the depth): the update's records as (price, qty, flags).
    fn update_records<const DELETES: bool>() -> Vec<(i64, i64, u16)> {
        let mut books = ChecksumBooks::<Trims<DELETES>>::new(&[instrument()], 2);
        let bid = |p: i64| (Side::Buy, Level::without_text(p, 1));
        books.apply(msg(true), &[bid(10), bid(9)], Nanos(1), &mut |_| {});
        let mut out = Vec::new();
        books.apply(msg(false), &[bid(11)], Nanos(2), &mut |ev| out.push(*ev));
        let (bids, _) = books.book_levels(0).unwrap();
        assert_eq!(bids.iter().map(|l| l.price).collect::<Vec<_>>(), [11, 10], "trimmed to the depth");
        assert_eq!(books.counters().stats.records, 2 + out.len() as u64);
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
}
