//! Kraken spot WebSocket v2 public market data: [`Decoder`], the [`VenueDecoder`] for one
//! `wss://ws.kraken.com/v2` connection carrying `book` (at one subscribed depth) and `trade`.
//!
//! Sync (docs.kraken.com, book channel and "book checksum v2"): a `book` subscription starts
//! with a `snapshot`, then `update`s; there are **no sequence numbers**, the per-message CRC32
//! ([`book::kraken_checksum`]) is the only loss detector. **Every level of a message is applied
//! first** (qty 0 deletes), **then** the book is truncated to the subscribed depth (Kraken sends
//! no delete for levels falling out of scope), then the checksum is verified — truncated once
//! per message, never after each level: an update that inserts a level and then deletes another
//! keeps the level the insert pushed past the depth ([`SideBook`]). A message without
//! `checksum` is counted as "not provided" and applied unverified.
//!
//! Precision: the checksum formats prices and quantities at the pair's *Kraken* precision
//! (`price_precision` / `qty_precision` of the v2 `instrument` channel), which the caller passes
//! per symbol as [`Precision`]. It may differ from the instrument's scales (a scale larger than
//! Kraken's precision lets the book hold the same values; the digits are re-expressed), so both
//! are kept.
//!
//! On a checksum mismatch or an unreadable `book` frame the symbol's book is invalidated (one
//! `BookSnapshot` record with `CLEAR`, qty 0, no `BATCH_END`), later updates are ignored, and
//! [`Decoder::wants_resubscribe`] turns true until taken ([`Decoder::take_resubscribe`]); the
//! resubscription's snapshot makes the book valid again.
//!
//! Records: snapshot → `BookSnapshot` per level of the shadow book (bids then asks, first
//! `CLEAR`, last `BATCH_END`); update → `BookDelta` per level as sent, then a zero-quantity
//! `BookDelta` for each level the message's truncation dropped (so a consumer's unlimited book
//! stays equal to the shadow book; last `BATCH_END`);
//! `exchange_ns` from `timestamp`, `seq`/`prev_seq` 0 (Kraken has none). `trade` updates → one
//! `Trade` per item (`seq = trade_id`, side = taker's); the trade snapshot (recent history on
//! subscribe) is not emitted.
//!
//! Thread and contract: core thread. `on_frame` never blocks, allocates nothing after warm-up
//! (reused parse buffers, books preallocated for the subscribed depth plus what a message adds), never panics on bad
//! input. Error paths are `#[cold]`.

pub mod book;
pub mod connect;
pub mod parse;

/// The live feed's old path (now [`connect`]).
pub use connect as live;

use crate::decoder::{ChecksumVerdict, FeedStats, VenueDecoder};
use crate::okx::book::{PieceCrc, SLOTS_PER_LEVEL, SideBook};
pub use book::Precision;
use book::kraken_checksum_with;
use parse::{FrameParser, Parsed};
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side, Venue};

/// Depths Kraken's v2 `book` channel accepts.
pub const DEPTHS: [usize; 5] = [10, 25, 100, 500, 1000];

/// Counters beyond [`FeedStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KrakenCounters {
    /// The common counters.
    pub stats: FeedStats,
    /// `book` items without a `checksum`.
    pub checksum_absent: u64,
    /// Heartbeats, status, method replies, trade snapshots.
    pub control: u64,
    /// Method replies with `"success":false`.
    pub control_errors: u64,
    /// Book updates ignored because the book waits for a snapshot.
    pub ignored_updates: u64,
}

#[derive(Debug, Clone)]
struct SymbolBook {
    id: InstrumentId,
    bids: SideBook,
    asks: SideBook,
    live: bool,
    resubscribe: bool,
}

/// The Kraken WS v2 decoder (see the module doc).
#[derive(Debug)]
pub struct Decoder {
    parser: FrameParser,
    books: Vec<SymbolBook>,
    depth: usize,
    out: Vec<MarketEvent>,
    /// Levels the last update truncated out of the subscribed depth: (side, price).
    /// Preallocated for the most a trim can drop; see [`Decoder::on_book_item`].
    truncated: Vec<(Side, i64)>,
    /// The checksum's reused buffer.
    crc: PieceCrc,
    counters: KrakenCounters,
    last_checksum: ChecksumVerdict,
    warns: crate::warn_gate::WarnGate,
}

impl Decoder {
    /// A decoder for `symbols` at the default depth 10. `precisions[i]` is Kraken's
    /// price/qty precision of `symbols[i]`; a missing entry defaults to the instrument's
    /// `price_scale()`/`qty_scale()`.
    pub fn new(symbols: &[Instrument], precisions: &[Precision]) -> Self {
        Self::with_depth(symbols, precisions, DEPTHS[0])
    }

    /// As [`Self::new`], for a `book` subscription of `depth` levels (one of [`DEPTHS`]; other
    /// values are used as given). Allocates everything it will use here.
    pub fn with_depth(symbols: &[Instrument], precisions: &[Precision], depth: usize) -> Self {
        let depth = depth.max(1);
        let books = symbols
            .iter()
            .map(|s| SymbolBook {
                id: s.id(),
                bids: SideBook::with_depth(depth, true),
                asks: SideBook::with_depth(depth, false),
                live: false,
                resubscribe: false,
            })
            .collect();
        Self {
            parser: FrameParser::new(symbols, precisions, depth),
            books,
            depth,
            // The staged levels and as many truncation records.
            out: Vec::with_capacity(4 * depth + 2),
            // A trim drops at most the `(SLOTS_PER_LEVEL - 1) × depth` levels a side holds
            // beyond its depth.
            truncated: Vec::with_capacity(2 * (SLOTS_PER_LEVEL - 1) * depth),
            crc: PieceCrc::new(),
            counters: KrakenCounters::default(),
            last_checksum: ChecksumVerdict::None,
            warns: crate::warn_gate::WarnGate::new(),
        }
    }

    /// The subscribed depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// All counters.
    pub fn counters(&self) -> KrakenCounters {
        self.counters
    }

    /// Whether symbol `index`'s `book` subscription must be renewed.
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

    /// Symbol `index`'s shadow book as `(bids, asks)` (iterate best first; `price`/`qty` in
    /// instrument units, the text fields are empty for Kraken).
    pub fn book_levels(&self, index: usize) -> Option<(&SideBook, &SideBook)> {
        self.books.get(index).map(|b| (&b.bids, &b.asks))
    }

    /// Decodes one frame, emitting its records.
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.stats.messages += 1;
        self.last_checksum = ChecksumVerdict::None;
        match self.parser.parse_frame(frame, now, &mut self.out) {
            Ok(Parsed::Control) => self.counters.control += 1,
            Ok(Parsed::ControlError) => self.counters.control_errors += 1,
            Ok(Parsed::Trades) => {
                self.counters.stats.records += self.out.len() as u64;
                for ev in &self.out {
                    emit(ev);
                }
            }
            Ok(Parsed::Book { snapshot }) => {
                for k in 0..self.parser.book_items().len() {
                    self.on_book_item(k, snapshot, now, emit);
                }
            }
            Err(e) => self.on_parse_error(frame, e, now, emit),
        }
    }

    #[cold]
    fn on_parse_error(
        &mut self,
        frame: &[u8],
        error: parse::ParseError,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        self.counters.stats.parse_errors += 1;
        self.counters.stats.parse_error_reasons[error.reason_index()] += 1;
        self.warns.warn("kraken", &"frame", &error, now);
        for i in 0..self.books.len() {
            if self.books[i].live && self.parser.book_frame_names(frame, i) {
                self.invalidate(i, now, emit);
            }
        }
    }

    fn on_book_item(&mut self, k: usize, snapshot: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let item = self.parser.book_items()[k];
        let levels = &self.parser.levels()[item.start..item.end];
        let Some(b) = self.books.get_mut(item.symbol) else { return };
        if snapshot {
            b.bids.clear();
            b.asks.clear();
        } else if !b.live {
            self.counters.ignored_updates += 1;
            return;
        }
        for &(side, ref level) in levels {
            match side {
                Side::Buy => b.bids.apply(level),
                Side::Sell => b.asks.apply(level),
            }
        }
        // Kraken's rule: the whole message, then the subscribed depth, then the checksum —
        // never the depth after each level (an insert followed by a delete would lose the
        // level the insert pushed out and the delete brought back). Kraken sends no delete for
        // a level that falls out of the depth; the engine's book has no depth limit, so each
        // is deleted explicitly in the records.
        self.truncated.clear();
        for (side, book) in [(Side::Buy, &mut b.bids), (Side::Sell, &mut b.asks)] {
            for l in book.trim() {
                self.truncated.push((side, l.price));
            }
        }
        match item.checksum {
            Some(expected) => {
                if kraken_checksum_with(&mut self.crc, b.bids.iter(), b.asks.iter()) == expected {
                    self.counters.stats.checksum_ok += 1;
                    if self.last_checksum != ChecksumVerdict::Mismatch {
                        self.last_checksum = ChecksumVerdict::Match;
                    }
                } else {
                    self.counters.stats.checksum_failed += 1;
                    self.last_checksum = ChecksumVerdict::Mismatch;
                    self.invalidate(item.symbol, now, emit);
                    return;
                }
            }
            None => self.counters.checksum_absent += 1,
        }
        b.live = true;
        if snapshot {
            // A valid snapshot answers any pending resubscribe request.
            b.resubscribe = false;
        }
        let stamp = |mut ev: MarketEvent| {
            ev.exchange_ns = item.exchange_ns;
            ev.local_ns = now;
            ev
        };
        let out = &mut self.out;
        out.clear();
        if snapshot {
            for (side, side_levels) in [(Side::Buy, &b.bids), (Side::Sell, &b.asks)] {
                for l in side_levels.iter() {
                    let ev = MarketEvent::new(
                        b.id,
                        EventKind::BookSnapshot,
                        side,
                        Price::from_units(l.price),
                        Qty::from_units(l.qty),
                    );
                    out.push(stamp(ev));
                }
            }
            if out.is_empty() {
                let ev = MarketEvent::new(b.id, EventKind::BookSnapshot, Side::Buy, Price::ZERO, Qty::ZERO);
                out.push(stamp(ev));
            }
            out[0].flags |= MarketEvent::CLEAR;
        } else {
            for &(side, ref level) in levels {
                let (price, qty) = (Price::from_units(level.price), Qty::from_units(level.qty));
                let ev = MarketEvent::new(b.id, EventKind::BookDelta, side, price, qty);
                out.push(stamp(ev));
            }
            for &(side, price) in &self.truncated {
                let ev = MarketEvent::new(b.id, EventKind::BookDelta, side, Price::from_units(price), Qty::ZERO);
                out.push(stamp(ev));
            }
        }
        if let Some(last) = out.last_mut() {
            last.flags |= MarketEvent::BATCH_END;
        }
        self.counters.stats.records += out.len() as u64;
        for ev in out.iter() {
            emit(ev);
        }
    }

    /// Drops symbol `index`'s book, tells the engine (one `CLEAR` record without
    /// `BATCH_END`) and asks for a resubscribe.
    #[cold]
    fn invalidate(&mut self, index: usize, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let Some(b) = self.books.get_mut(index) else { return };
        b.bids.clear();
        b.asks.clear();
        b.live = false;
        if !b.resubscribe {
            b.resubscribe = true;
            self.counters.stats.resyncs += 1;
        }
        let ev = MarketEvent::invalidation(b.id, now);
        self.counters.stats.records += 1;
        emit(&ev);
    }

    /// The connection dropped: every book is invalid and must be resubscribed.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        for i in 0..self.books.len() {
            self.invalidate(i, now, emit);
        }
    }
}

impl VenueDecoder for Decoder {
    fn venue(&self) -> Venue {
        Venue::Kraken
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_frame(self, frame, now, emit);
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_disconnect(self, now, emit);
    }

    fn last_checksum(&self) -> ChecksumVerdict {
        self.last_checksum
    }

    #[cold]
    fn on_book_refused(
        &mut self,
        index: usize,
        reason: qt_core::BookError,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        if index < self.books.len() {
            self.counters.stats.crossed += crate::decoder::crossings(reason);
            self.invalidate(index, now, emit);
        }
    }

    fn stats(&self) -> FeedStats {
        FeedStats { warnings_suppressed: self.warns.suppressed(), ..self.counters.stats }
    }
}
