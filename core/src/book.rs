//! [`Book`]: one instrument's L2 order book, exact integers, fixed capacity.
//!
//! Owned by the core thread. Each side is a sorted array of `(price, qty)` levels with the best
//! level at the *end*, so the common updates (near the top of book) move few bytes and the best
//! level is one load. Capacity is fixed at construction: a level beyond it is dropped (the book
//! keeps the best `capacity` levels and counts what it dropped) — no allocation after start-up.
//! The book applies levels; deciding whether a venue's stream is in sequence is the feed's job,
//! which marks the book invalid on a gap. A book that is not valid must never be traded on.
//! The checks the book makes itself, in [`Book::apply`]: after a complete venue message (a book
//! record with `BATCH_END`) a valid book whose best bid is at or above its best ask — crossed or
//! locked, a missed update — turns invalid and `apply` reports [`BookError::Crossed`]; a level it
//! cannot hold (a non-positive price, a negative quantity) turns it invalid too, reported as
//! that error. Every consumer (the engine, `qt feed-check`) sees them the same way and asks its
//! feed to resync the book.
//! One comparison of the two best prices per message. [`BookHealth`] counts messages,
//! invalidations, crossings and the time the book spent invalid.

use crate::event::{EventKind, MarketEvent};
use crate::ids::InstrumentId;
use crate::money::{Price, Qty};
use crate::order::Side;
use crate::time::Nanos;

/// One price level: the total quantity resting at a price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Price.
    pub price: Price,
    /// Total quantity (always positive in a book).
    pub qty: Qty,
}

/// A level the book refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// Price zero or negative.
    #[error("non-positive price")]
    NonPositivePrice,
    /// Negative level quantity.
    #[error("negative quantity")]
    NegativeQty,
    /// The event is for another instrument.
    #[error("event for another instrument")]
    WrongInstrument,
    /// The record was applied and ended a venue message, and the book is now crossed or locked
    /// (best bid at or above best ask): it was marked invalid and must be resynced.
    #[error("the book is crossed or locked after a complete message")]
    Crossed,
}

/// What a [`Book`] has seen of its feed's health (all counts since construction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookHealth {
    /// Venue messages applied (records with `BATCH_END`).
    pub messages: u64,
    /// Times the book went from valid to invalid (gap, checksum, bad frame, disconnect,
    /// crossing): each is followed by a resync.
    pub invalidations: u64,
    /// Times the book was found crossed or locked after a complete message.
    pub crossed: u64,
    /// Local time spent invalid, from the first snapshot's clear on (the initial sync included).
    pub invalid_ns: Nanos,
}

/// Levels at the touch [`touch_search`] halves without a branch before it binary-searches the
/// rest ([`branchless_suffix_start`]'s steps are for exactly 16).
const TOUCH_SCAN: usize = 16;
const _: () = assert!(TOUCH_SCAN == 16);

/// One side of the book: sorted so the best level is last.
#[derive(Debug, Clone)]
struct Ladder {
    levels: Vec<Level>,
    /// `true` for bids (ascending prices, best = highest = last).
    ascending: bool,
}

impl Ladder {
    fn with_capacity(capacity: usize, ascending: bool) -> Self {
        Self { levels: Vec::with_capacity(capacity), ascending }
    }

    /// Index of `price`, or where it would be inserted ([`touch_search`]).
    #[inline]
    fn search(&self, price: Price) -> Result<usize, usize> {
        if self.ascending {
            // Bids: ascending, best (highest) last.
            touch_search(&self.levels, price, |l| l.price, |l| l.price > price)
        } else {
            // Asks: descending, best (lowest) last.
            touch_search(&self.levels, price, |l| l.price, |l| l.price < price)
        }
    }

    /// Sets the level at `price` to `qty` (0 removes). Returns whether a level was dropped for
    /// lack of capacity.
    #[inline]
    fn set(&mut self, price: Price, qty: Qty) -> bool {
        match self.search(price) {
            Ok(i) => {
                if qty.is_zero() {
                    self.levels.remove(i);
                } else {
                    self.levels[i].qty = qty;
                }
                false
            }
            Err(_) if qty.is_zero() => false,
            Err(i) => {
                if self.levels.len() < self.levels.capacity() {
                    self.levels.insert(i, Level { price, qty });
                    false
                } else if i == 0 {
                    // Worse than every level we keep: drop it.
                    true
                } else {
                    // Full: drop the worst level (index 0) to make room for a better one — one
                    // shift of the levels below `i` down by one, instead of a `remove(0)` that
                    // moves the whole side and an `insert` that moves the top back up.
                    self.levels.copy_within(1..i, 0);
                    self.levels[i - 1] = Level { price, qty };
                    true
                }
            }
        }
    }

    #[inline]
    fn best(&self) -> Option<Level> {
        self.levels.last().copied()
    }
}

/// Where the run of levels better than a price starts in `levels`, a side sorted worst first
/// (best last): the smallest `j` with `better(l)` for every level in `levels[j..]`. `better` must
/// hold for a suffix of `levels` and for nothing before it.
///
/// Walks down from the best four levels a step, then two, then one: one compare per step
/// instead of one per level, since a level better than the price means every level above it
/// is too. [`touch_search`] uses it for a side shorter than its 16-level window (a full window
/// is halved without branches instead). See BENCHMARKS.md, `book`.
#[inline(always)]
fn better_suffix_start<T>(levels: &[T], better: impl Fn(&T) -> bool) -> usize {
    let mut j = levels.len();
    while j >= 4 && better(&levels[j - 4]) {
        j -= 4;
    }
    if j >= 2 && better(&levels[j - 2]) {
        j -= 2;
    }
    if j >= 1 && better(&levels[j - 1]) {
        j -= 1;
    }
    j
}

/// Index of the level priced `price` in `levels` (one side sorted worst first, best last;
/// `price_of` reads a level's price, `better(l)`: level `l` is better than `price`), or where it
/// would be inserted. Used by the engine's ladders and the feeds' shadow books.
///
/// First the best level alone (an update at the touch, a new best, a full image built worst
/// first: one compare), then the top [`TOUCH_SCAN`] levels by halving without a branch
/// ([`branchless_suffix_start`]), then a binary search of the rest.
///
/// Venue updates are top-heavy (87 % within the best ten levels on `book_apply/top_heavy`).
/// The 8-step binary search over 256 levels this replaced was a dependent compare chain costing
/// the same at the touch as deep in the book; the scan down from the best that followed it
/// (four levels a step, [`better_suffix_start`]) retired few instructions but its exits were a
/// data-dependent branch per step, mispredicted on most records. Measured on `benches/book.rs`
/// and the feed streams: BENCHMARKS.md, `book`.
#[inline(always)]
pub fn touch_search<T, P: PartialEq>(
    levels: &[T],
    price: P,
    price_of: impl Fn(&T) -> P,
    better: impl Fn(&T) -> bool,
) -> Result<usize, usize> {
    let len = levels.len();
    match levels.last() {
        None => return Err(0),
        Some(best) if !better(best) => return if price_of(best) == price { Ok(len - 1) } else { Err(len) },
        Some(_) => {}
    }
    let floor = len.saturating_sub(TOUCH_SCAN);
    let top = &levels[floor..];
    let start = match <&[T; TOUCH_SCAN]>::try_from(top) {
        Ok(window) => floor + branchless_suffix_start(window, &better),
        Err(_) => floor + better_suffix_start(top, &better),
    };
    // Better than `price` from `start` on; worse than all of the top: in the rest.
    let start = if start == floor { levels[..floor].partition_point(|l| !better(l)) } else { start };
    match start.checked_sub(1) {
        Some(j) if price_of(&levels[j]) == price => Ok(j),
        _ => Err(start),
    }
}

/// Where the better levels of a full touch window start (as [`better_suffix_start`] finds it),
/// given that its last level (the best) is better: the answer is in `0..16`, found by three
/// halving steps and a last compare, each one load and one compare whose outcome moves the base
/// by an arithmetic select rather than a branch, so a record costs the same wherever it lands
/// and nothing is mispredicted.
#[inline(always)]
fn branchless_suffix_start<T>(window: &[T; TOUCH_SCAN], better: impl Fn(&T) -> bool) -> usize {
    debug_assert!(better(&window[TOUCH_SCAN - 1]));
    let mut base = 0;
    for half in [8, 4, 2] {
        base += half * usize::from(!better(&window[base + half - 1]));
    }
    base + usize::from(!better(&window[base]))
}

/// One instrument's L2 book.
#[derive(Debug, Clone)]
pub struct Book {
    instrument: InstrumentId,
    bids: Ladder,
    asks: Ladder,
    valid: bool,
    last_seq: u64,
    last_exchange_ns: Nanos,
    last_local_ns: Nanos,
    dropped_levels: u64,
    health: BookHealth,
    /// Local time the book last turned invalid (or its first clear); meaningful while invalid.
    invalid_since: Option<Nanos>,
}

impl Book {
    /// An empty, invalid book keeping at most `depth` levels per side (allocates once, here).
    pub fn new(instrument: InstrumentId, depth: usize) -> Self {
        let depth = depth.max(1);
        Self {
            instrument,
            bids: Ladder::with_capacity(depth, true),
            asks: Ladder::with_capacity(depth, false),
            valid: false,
            last_seq: 0,
            last_exchange_ns: Nanos::ZERO,
            last_local_ns: Nanos::ZERO,
            dropped_levels: 0,
            health: BookHealth::default(),
            invalid_since: None,
        }
    }

    /// The instrument.
    #[inline]
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// Levels kept per side.
    pub fn capacity(&self) -> usize {
        self.bids.levels.capacity()
    }

    /// Applies one normalized record. Snapshot records replace the book (the first carries
    /// `CLEAR`; the book turns valid at the snapshot's `BATCH_END`); deltas set one level; trades
    /// and best-bid/offer records only update the timestamps.
    ///
    /// A book record with `BATCH_END` that leaves a valid book crossed or locked is applied, then
    /// the book is marked invalid and [`BookError::Crossed`] returned; a level the book cannot
    /// hold is not applied, the book is marked invalid and the level's error returned. Either
    /// way the caller asks the feed to resync the book. ([`BookError::WrongInstrument`] leaves
    /// the book as it was: the record is not this book's.)
    #[inline]
    pub fn apply(&mut self, ev: &MarketEvent) -> Result<(), BookError> {
        if ev.instrument != self.instrument {
            return Err(BookError::WrongInstrument);
        }
        let book_record = match ev.kind {
            EventKind::BookSnapshot => {
                if ev.is_clear() {
                    self.clear_at(ev.local_ns);
                }
                if !ev.qty.is_zero()
                    && let Err(e) = self.set_level(ev.side, ev.price, ev.qty)
                {
                    return Err(self.refused_level(e, ev.local_ns));
                }
                if ev.is_batch_end() && !self.valid {
                    self.turn_valid(ev.local_ns);
                }
                true
            }
            EventKind::BookDelta => {
                if let Err(e) = self.set_level(ev.side, ev.price, ev.qty) {
                    return Err(self.refused_level(e, ev.local_ns));
                }
                true
            }
            EventKind::Trade | EventKind::BestBidOffer => false,
        };
        self.last_seq = ev.seq;
        self.last_exchange_ns = ev.exchange_ns;
        self.last_local_ns = ev.local_ns;
        if ev.is_batch_end() {
            self.health.messages += 1;
            if book_record && self.valid && self.is_crossed() {
                return Err(self.found_crossed(ev.local_ns));
            }
        }
        Ok(())
    }

    #[inline]
    fn turn_valid(&mut self, now: Nanos) {
        self.valid = true;
        if let Some(since) = self.invalid_since {
            self.health.invalid_ns = self.health.invalid_ns.saturating_add(now.saturating_sub(since));
        }
    }

    /// A level the book cannot hold: it no longer mirrors the venue, invalid until resynced.
    #[cold]
    fn refused_level(&mut self, e: BookError, now: Nanos) -> BookError {
        self.turn_invalid(now);
        e
    }

    /// The book ends a message crossed or locked: counted, and invalid until resynced.
    #[cold]
    fn found_crossed(&mut self, now: Nanos) -> BookError {
        self.health.crossed += 1;
        self.turn_invalid(now);
        BookError::Crossed
    }

    /// Marks the book invalid from `now`. A book never valid yet starts its invalid time at its
    /// first clear (the first snapshot's first record), so the initial sync counts as invalid
    /// without a check on every record.
    #[cold]
    fn turn_invalid(&mut self, now: Nanos) {
        if self.valid {
            self.valid = false;
            self.health.invalidations += 1;
            self.invalid_since = Some(now);
        } else if self.invalid_since.is_none() {
            self.invalid_since = Some(now);
        }
    }

    /// Counts so far; `now` (local time) closes the current invalid stretch, if any.
    pub fn health(&self, now: Nanos) -> BookHealth {
        let mut h = self.health;
        if let (false, Some(since)) = (self.valid, self.invalid_since) {
            h.invalid_ns = h.invalid_ns.saturating_add(now.saturating_sub(since));
        }
        h
    }

    /// Sets the total at `price` on `side` (zero removes the level).
    #[inline]
    pub fn set_level(&mut self, side: Side, price: Price, qty: Qty) -> Result<(), BookError> {
        if !price.is_positive() {
            return Err(BookError::NonPositivePrice);
        }
        if qty.is_negative() {
            return Err(BookError::NegativeQty);
        }
        let ladder = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if ladder.set(price, qty) {
            self.dropped_levels += 1;
        }
        Ok(())
    }

    /// Removes every level and marks the book invalid until the next full snapshot.
    pub fn clear(&mut self) {
        self.clear_at(self.last_local_ns);
    }

    fn clear_at(&mut self, now: Nanos) {
        self.bids.levels.clear();
        self.asks.levels.clear();
        self.turn_invalid(now);
    }

    /// Whether the book reflects the venue (synced, no gap since). Never trade on an invalid book.
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// Marks the book invalid (gap, checksum mismatch, disconnect); a resync makes it valid.
    #[cold]
    pub fn invalidate(&mut self) {
        self.turn_invalid(self.last_local_ns);
    }

    /// Marks the book valid once a feed's sync rules say it is in sequence.
    pub fn mark_valid(&mut self) {
        if !self.valid {
            self.turn_valid(self.last_local_ns);
        }
    }

    /// Best bid.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    /// Best ask.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    /// Best level on `side`.
    #[inline]
    pub fn best(&self, side: Side) -> Option<Level> {
        match side {
            Side::Buy => self.best_bid(),
            Side::Sell => self.best_ask(),
        }
    }

    /// Mid price, rounded down to a whole price unit; `None` unless both sides have a level.
    #[inline]
    pub fn mid(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let sum = i128::from(b.price.units()) + i128::from(a.price.units());
        Some(Price::from_units(sum.div_euclid(2) as i64))
    }

    /// Best ask minus best bid.
    #[inline]
    pub fn spread(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        a.price.checked_sub(b.price).ok()
    }

    /// Whether the best bid is at or above the best ask (a symptom of a missed update).
    #[inline]
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// Levels on `side`, best first.
    #[inline]
    pub fn levels(&self, side: Side) -> impl ExactSizeIterator<Item = Level> + '_ {
        let ladder = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        ladder.levels.iter().rev().copied()
    }

    /// Number of levels on `side`.
    #[inline]
    pub fn depth(&self, side: Side) -> usize {
        match side {
            Side::Buy => self.bids.levels.len(),
            Side::Sell => self.asks.levels.len(),
        }
    }

    /// Total quantity within the best `n` levels of `side`.
    #[inline]
    pub fn qty_within(&self, side: Side, n: usize) -> Qty {
        let mut total = 0i64;
        for level in self.levels(side).take(n) {
            total = total.saturating_add(level.qty.units());
        }
        Qty::from_units(total)
    }

    /// The quantity at exactly `price` on `side` (zero if none).
    pub fn qty_at(&self, side: Side, price: Price) -> Qty {
        let ladder = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        match ladder.search(price) {
            Ok(i) => ladder.levels[i].qty,
            Err(_) => Qty::ZERO,
        }
    }

    /// Sequence of the last applied record.
    #[inline]
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Venue time of the last applied record.
    #[inline]
    pub fn last_exchange_ns(&self) -> Nanos {
        self.last_exchange_ns
    }

    /// Local (monotonic) receive time of the last applied record.
    #[inline]
    pub fn last_local_ns(&self) -> Nanos {
        self.last_local_ns
    }

    /// Levels dropped because a side was full.
    pub fn dropped_levels(&self) -> u64 {
        self.dropped_levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn p(u: i64) -> Price {
        Price::from_units(u)
    }
    fn q(u: i64) -> Qty {
        Qty::from_units(u)
    }

    fn ev(kind: EventKind, side: Side, price: i64, qty: i64, flags: u16) -> MarketEvent {
        let mut e = MarketEvent::new(InstrumentId(0), kind, side, p(price), q(qty));
        e.flags = flags;
        e
    }

    #[test]
    fn snapshot_then_deltas() {
        let mut b = Book::new(InstrumentId(0), 8);
        assert!(!b.is_valid());
        b.apply(&ev(EventKind::BookSnapshot, Side::Buy, 100, 5, MarketEvent::CLEAR)).unwrap();
        b.apply(&ev(EventKind::BookSnapshot, Side::Buy, 99, 7, 0)).unwrap();
        assert!(!b.is_valid(), "valid only at the end of the snapshot");
        b.apply(&ev(EventKind::BookSnapshot, Side::Sell, 102, 3, MarketEvent::BATCH_END)).unwrap();
        assert!(b.is_valid());
        assert_eq!(b.best_bid(), Some(Level { price: p(100), qty: q(5) }));
        assert_eq!(b.best_ask(), Some(Level { price: p(102), qty: q(3) }));
        assert_eq!(b.mid(), Some(p(101)));
        assert_eq!(b.spread(), Some(p(2)));
        b.apply(&ev(EventKind::BookDelta, Side::Sell, 101, 4, 0)).unwrap();
        b.apply(&ev(EventKind::BookDelta, Side::Buy, 100, 0, 0)).unwrap();
        assert_eq!(b.best_ask().unwrap().price, p(101));
        assert_eq!(b.best_bid().unwrap().price, p(99));
        assert_eq!(b.levels(Side::Sell).map(|l| l.price.units()).collect::<Vec<_>>(), vec![101, 102]);
        assert_eq!(b.qty_within(Side::Sell, 2), q(7));
        assert_eq!(b.qty_at(Side::Sell, p(102)), q(3));
        // Removing a level that is not there is harmless.
        b.apply(&ev(EventKind::BookDelta, Side::Sell, 150, 0, 0)).unwrap();
        assert_eq!(b.depth(Side::Sell), 2);
    }

    #[test]
    fn invalidation_record_empties_the_book_and_leaves_it_invalid() {
        let mut b = Book::new(InstrumentId(0), 4);
        b.apply(&ev(EventKind::BookSnapshot, Side::Buy, 100, 5, MarketEvent::CLEAR | MarketEvent::BATCH_END)).unwrap();
        assert!(b.is_valid());
        b.apply(&MarketEvent::invalidation(InstrumentId(0), Nanos(7))).unwrap();
        assert!(!b.is_valid());
        assert_eq!(b.depth(Side::Buy), 0);
        assert_eq!(b.last_local_ns(), Nanos(7));
    }

    fn at(mut e: MarketEvent, local_ns: i64) -> MarketEvent {
        e.local_ns = Nanos(local_ns);
        e
    }

    #[test]
    fn a_crossed_or_locked_book_after_a_complete_message_turns_invalid_and_is_reported() {
        // A snapshot with its best bid (70 000) over its best ask (65 002).
        let mut b = Book::new(InstrumentId(0), 8);
        b.apply(&at(ev(EventKind::BookSnapshot, Side::Buy, 70_000, 1, MarketEvent::CLEAR), 10)).unwrap();
        let end = at(ev(EventKind::BookSnapshot, Side::Sell, 65_002, 1, MarketEvent::BATCH_END), 10);
        assert_eq!(b.apply(&end), Err(BookError::Crossed));
        assert!(!b.is_valid(), "a crossed snapshot is not a valid book");

        // A sane snapshot, then a delta message that locks it (bid == ask): invalid at its end,
        // not in the middle of the message.
        b.apply(&at(ev(EventKind::BookSnapshot, Side::Buy, 100, 1, MarketEvent::CLEAR), 20)).unwrap();
        b.apply(&at(ev(EventKind::BookSnapshot, Side::Sell, 102, 1, MarketEvent::BATCH_END), 20)).unwrap();
        assert!(b.is_valid());
        b.apply(&at(ev(EventKind::BookDelta, Side::Buy, 102, 1, 0), 30)).unwrap();
        assert!(b.is_valid(), "mid-message states are not checked");
        let locked = at(ev(EventKind::BookDelta, Side::Buy, 101, 1, MarketEvent::BATCH_END), 30);
        assert_eq!(b.apply(&locked), Err(BookError::Crossed));
        assert!(!b.is_valid());
        // Already invalid: not reported again.
        assert_eq!(b.apply(&at(ev(EventKind::BookDelta, Side::Buy, 99, 1, MarketEvent::BATCH_END), 35)), Ok(()));

        let h = b.health(Nanos(50));
        assert_eq!((h.messages, h.crossed, h.invalidations), (4, 2, 2), "{h:?}");
        // Invalid 10..20 (first record to the sane snapshot) and 30..50 (locked, still invalid).
        assert_eq!(h.invalid_ns, Nanos(30));
    }

    #[test]
    fn trades_and_quotes_are_not_checked_for_crossing() {
        let mut b = Book::new(InstrumentId(0), 8);
        b.apply(&ev(EventKind::BookSnapshot, Side::Buy, 100, 1, MarketEvent::CLEAR)).unwrap();
        b.apply(&ev(EventKind::BookSnapshot, Side::Sell, 101, 1, MarketEvent::BATCH_END)).unwrap();
        b.apply(&ev(EventKind::BookDelta, Side::Buy, 101, 1, 0)).unwrap();
        // The message is still open; a trade flagged BATCH_END of another stream is not a book state.
        assert_eq!(b.apply(&ev(EventKind::Trade, Side::Buy, 101, 1, MarketEvent::BATCH_END)), Ok(()));
        assert!(b.is_valid());
    }

    #[test]
    fn refuses_bad_levels() {
        let mut b = Book::new(InstrumentId(0), 4);
        assert_eq!(b.set_level(Side::Buy, p(0), q(1)), Err(BookError::NonPositivePrice));
        assert_eq!(b.set_level(Side::Buy, p(1), q(-1)), Err(BookError::NegativeQty));
        let other = MarketEvent::new(InstrumentId(9), EventKind::BookDelta, Side::Buy, p(1), q(1));
        assert_eq!(b.apply(&other), Err(BookError::WrongInstrument));
        // Through `apply` a level the book cannot hold also turns a valid book invalid.
        b.apply(&ev(EventKind::BookSnapshot, Side::Buy, 100, 1, MarketEvent::CLEAR | MarketEvent::BATCH_END)).unwrap();
        assert!(b.is_valid());
        assert_eq!(b.apply(&other), Err(BookError::WrongInstrument));
        assert!(b.is_valid(), "another instrument's record leaves this book alone");
        assert_eq!(b.apply(&ev(EventKind::BookDelta, Side::Sell, 0, 1, 0)), Err(BookError::NonPositivePrice));
        assert!(!b.is_valid());
        assert_eq!(b.health(Nanos::ZERO).invalidations, 1);
    }

    #[test]
    fn full_side_keeps_the_best_levels() {
        let mut b = Book::new(InstrumentId(0), 3);
        for price in [100, 99, 98] {
            b.set_level(Side::Buy, p(price), q(1)).unwrap();
        }
        b.set_level(Side::Buy, p(97), q(1)).unwrap(); // worse than all kept: dropped
        b.set_level(Side::Buy, p(101), q(1)).unwrap(); // better: evicts 98
        assert_eq!(b.levels(Side::Buy).map(|l| l.price.units()).collect::<Vec<_>>(), vec![101, 100, 99]);
        assert_eq!(b.dropped_levels(), 2);
        assert_eq!(b.bids.levels.capacity(), 3, "never grows");
    }

    proptest! {
        /// Random snapshots and deltas: the book equals a `BTreeMap` reference after every record.
        #[test]
        fn matches_btreemap_reference(ops in proptest::collection::vec((0u8..10, any::<bool>(), 1i64..60, 0i64..5), 1..400)) {
            let mut book = Book::new(InstrumentId(0), 64);
            let mut bids: BTreeMap<i64, i64> = BTreeMap::new();
            let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
            for (op, is_bid, price, qty) in ops {
                let side = if is_bid { Side::Buy } else { Side::Sell };
                let reference = if is_bid { &mut bids } else { &mut asks };
                if op == 0 {
                    // A fresh one-level snapshot.
                    book.apply(&ev(EventKind::BookSnapshot, side, price, qty.max(1), MarketEvent::CLEAR | MarketEvent::BATCH_END)).unwrap();
                    bids.clear();
                    asks.clear();
                    let reference = if is_bid { &mut bids } else { &mut asks };
                    reference.insert(price, qty.max(1));
                } else {
                    book.apply(&ev(EventKind::BookDelta, side, price, qty, 0)).unwrap();
                    if qty == 0 { reference.remove(&price); } else { reference.insert(price, qty); }
                }
                let got_bids: Vec<(i64, i64)> = book.levels(Side::Buy).map(|l| (l.price.units(), l.qty.units())).collect();
                let want_bids: Vec<(i64, i64)> = bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
                let got_asks: Vec<(i64, i64)> = book.levels(Side::Sell).map(|l| (l.price.units(), l.qty.units())).collect();
                let want_asks: Vec<(i64, i64)> = asks.iter().map(|(p, q)| (*p, *q)).collect();
                prop_assert_eq!(got_bids, want_bids);
                prop_assert_eq!(got_asks, want_asks);
            }
        }

        /// Deltas only, prices over 150 ticks (books well past the 16-level touch window) and
        /// landing near the touch as often as deep: after every record the side equals a
        /// `BTreeMap`.
        #[test]
        fn deep_books_match_btreemap_reference(ops in proptest::collection::vec((any::<bool>(), 0i64..150, any::<bool>(), 0i64..4), 1..1500)) {
            let mut book = Book::new(InstrumentId(0), 256);
            let mut bids: BTreeMap<i64, i64> = BTreeMap::new();
            let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
            for (is_bid, offset, near, qty) in ops {
                // Bids below 1000, asks above: near the touch (within 8 ticks) or anywhere.
                let distance = if near { offset % 8 } else { offset };
                let (side, price, reference) = if is_bid {
                    (Side::Buy, 1000 - distance, &mut bids)
                } else {
                    (Side::Sell, 1001 + distance, &mut asks)
                };
                book.apply(&ev(EventKind::BookDelta, side, price, qty, 0)).unwrap();
                if qty == 0 { reference.remove(&price); } else { reference.insert(price, qty); }
                let got: Vec<(i64, i64)> = book.levels(side).map(|l| (l.price.units(), l.qty.units())).collect();
                let want: Vec<(i64, i64)> = if is_bid {
                    bids.iter().rev().map(|(p, q)| (*p, *q)).collect()
                } else {
                    asks.iter().map(|(p, q)| (*p, *q)).collect()
                };
                prop_assert_eq!(got, want);
            }
            prop_assert_eq!(book.dropped_levels(), 0);
        }
    }
}
