//! OKX v5 public market data: [`Decoder`], the [`VenueDecoder`] for one
//! `wss://ws.okx.com:8443/ws/v5/public` connection carrying `books` (400-level incremental),
//! `bbo-tbt` and `trades` for a fixed set of instruments.
//!
//! Sync (OKX v5 "Order book channel"): a `books` subscription starts with `action:"snapshot"`
//! (`prevSeqId` -1), then `action:"update"` messages whose `prevSeqId` must equal the previous
//! message's `seqId` (a no-change heartbeat has empty sides and `prevSeqId == seqId`; after a
//! maintenance reset `seqId < prevSeqId` once, which the same rule accepts). Every message
//! carries a CRC32 over the top 25 levels' wire strings ([`book::okx_checksum`]), verified
//! against our shadow book after applying; a `checksum` of 0 or none is counted as "not
//! provided" (OKX announced 0 in production from 2026-06-23) and the `seqId` chain is then the
//! only check. Frames recorded before OKX added `seqId` (the 2022 capture) have no sequence
//! fields; the checksum alone is checked.
//!
//! Shadow book: every level of a message is applied, then each side is trimmed to
//! [`BOOK_DEPTH`] — once per message, never per level ([`book::SideBook`]). OKX's `books` names
//! no truncation (400 levels in the snapshot; the checksum reads the top 25), so the bound is
//! ours; trimming after each level dropped a level for good whenever an update inserted one and
//! deleted another while the side held 400.
//!
//! On a gap, a checksum mismatch or an unreadable `books` frame the symbol's book is
//! invalidated (one `BookSnapshot` record with `CLEAR`, qty 0, no `BATCH_END`), further updates
//! are ignored, and [`Decoder::wants_resubscribe`] turns true until the connection layer takes
//! it ([`Decoder::take_resubscribe`]) and resubscribes; the new snapshot makes the book valid.
//!
//! Records: snapshot → `BookSnapshot` per level of the shadow book (bids then asks, first
//! `CLEAR`, last `BATCH_END`); update → `BookDelta` per level as sent (last `BATCH_END`; a
//! heartbeat emits nothing); `seq = seqId`, `prev_seq = prevSeqId` (0 when absent or -1),
//! `exchange_ns` from `ts`. `bbo-tbt` → two `BestBidOffer` (bid, offer); `trades` → one
//! `Trade` per item (`seq = tradeId`, side = taker's).
//!
//! Thread and contract: core thread. `on_frame` never blocks and, after warm-up, allocates
//! nothing (reused parse buffers, preallocated books of [`BOOK_DEPTH`] levels per side);
//! never panics on bad input. Error paths are `#[cold]`.

pub mod book;
pub mod connect;
pub mod parse;

/// The live feed's old path (now [`connect`]).
pub use connect as live;

use crate::decoder::{ChecksumVerdict, FeedStats, VenueDecoder};
use book::{PieceCrc, SideBook, okx_checksum_with};
use parse::{FrameParser, Parsed};
use qt_core::{EventKind, Instrument, InstrumentId, MarketEvent, Nanos, Price, Qty, Side, Venue};

/// Levels kept per side: the depth of OKX's `books` channel.
pub const BOOK_DEPTH: usize = 400;

/// Counters beyond [`FeedStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OkxCounters {
    /// The common counters.
    pub stats: FeedStats,
    /// `books` messages whose `checksum` was 0 or absent (nothing to verify).
    pub checksum_absent: u64,
    /// `pong`, subscribe acks and other non-error events.
    pub control: u64,
    /// `{"event":"error"}` frames.
    pub control_errors: u64,
    /// Updates ignored because the book waits for a snapshot (after an invalidation).
    pub ignored_updates: u64,
}

#[derive(Debug, Clone)]
struct SymbolBook {
    id: InstrumentId,
    bids: SideBook,
    asks: SideBook,
    /// A snapshot was applied and nothing has broken since.
    live: bool,
    /// `seqId` of the last applied message, if the venue sent one.
    last_seq: Option<i64>,
    resubscribe: bool,
    /// Sequence gaps found on this book (`prevSeqId` not the last `seqId`).
    gaps: u64,
}

/// The OKX v5 decoder (see the module doc).
#[derive(Debug)]
pub struct Decoder {
    parser: FrameParser,
    books: Vec<SymbolBook>,
    out: Vec<MarketEvent>,
    counters: OkxCounters,
    last_checksum: ChecksumVerdict,
    /// The checksum's gathering buffer, reused.
    crc: PieceCrc,
    warns: crate::warn_gate::WarnGate,
}

impl Decoder {
    /// A decoder for `symbols` (`instId` = [`Instrument::symbol`], e.g. `BTC-USDT`; the index in
    /// the slice is the symbol index). Allocates everything it will use here.
    pub fn new(symbols: &[Instrument]) -> Self {
        let books = symbols
            .iter()
            .map(|i| SymbolBook {
                id: i.id(),
                bids: SideBook::with_depth(BOOK_DEPTH, true),
                asks: SideBook::with_depth(BOOK_DEPTH, false),
                live: false,
                last_seq: None,
                gaps: 0,
                resubscribe: false,
            })
            .collect();
        Self {
            parser: FrameParser::new(symbols),
            books,
            out: Vec::with_capacity(2 * BOOK_DEPTH + 2),
            counters: OkxCounters::default(),
            last_checksum: ChecksumVerdict::None,
            crc: PieceCrc::new(),
            warns: crate::warn_gate::WarnGate::new(),
        }
    }

    /// All counters.
    pub fn counters(&self) -> OkxCounters {
        self.counters
    }

    /// Whether symbol `index`'s `books` subscription must be renewed (after a gap, a checksum
    /// mismatch, an unreadable frame or a disconnect).
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

    /// Decodes one frame, emitting its records.
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.stats.messages += 1;
        self.last_checksum = ChecksumVerdict::None;
        match self.parser.parse_frame(frame, now, &mut self.out) {
            Ok(Parsed::Control) => self.counters.control += 1,
            Ok(Parsed::ControlError) => self.counters.control_errors += 1,
            Ok(Parsed::Bbo { .. } | Parsed::Trades { .. }) => {
                self.counters.stats.records += self.out.len() as u64;
                for ev in &self.out {
                    emit(ev);
                }
            }
            Ok(Parsed::Book { symbol, snapshot, seq, prev_seq, checksum, exchange_ns }) => {
                self.on_book(symbol, snapshot, seq, prev_seq, checksum, exchange_ns, now, emit);
            }
            Err(failure) => self.on_parse_error(failure, now, emit),
        }
    }

    #[cold]
    fn on_parse_error(&mut self, failure: parse::ParseFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.stats.parse_errors += 1;
        self.counters.stats.parse_error_reasons[failure.error.reason_index()] += 1;
        self.warns.warn("okx", &"frame", &failure.error, now);
        if let Some(symbol) = failure.book_symbol {
            self.invalidate(symbol, now, emit);
        }
    }

    #[allow(clippy::too_many_arguments)] // reason: the fields of one parsed `books` message
    fn on_book(
        &mut self,
        symbol: usize,
        snapshot: bool,
        seq: Option<i64>,
        prev_seq: Option<i64>,
        checksum: Option<i32>,
        exchange_ns: Nanos,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        let Some(b) = self.books.get_mut(symbol) else { return };
        if snapshot {
            b.bids.clear();
            b.asks.clear();
        } else if !b.live {
            self.counters.ignored_updates += 1;
            return;
        } else if let (Some(prev), Some(last)) = (prev_seq, b.last_seq)
            && prev != last
        {
            self.counters.stats.gaps += 1;
            b.gaps += 1;
            self.invalidate(symbol, now, emit);
            return;
        }
        for (side, level) in self.parser.levels() {
            match side {
                Side::Buy => b.bids.apply(level),
                Side::Sell => b.asks.apply(level),
            }
        }
        // The whole message, then the bound: never per level (see `SideBook`).
        b.bids.trim();
        b.asks.trim();
        match checksum {
            Some(expected) if expected != 0 => {
                if okx_checksum_with(&mut self.crc, b.bids.iter(), b.asks.iter()) == expected {
                    self.counters.stats.checksum_ok += 1;
                    self.last_checksum = ChecksumVerdict::Match;
                } else {
                    self.counters.stats.checksum_failed += 1;
                    self.invalidate(symbol, now, emit);
                    self.last_checksum = ChecksumVerdict::Mismatch;
                    return;
                }
            }
            _ => self.counters.checksum_absent += 1,
        }
        b.live = true;
        if snapshot {
            // A valid snapshot answers any pending resubscribe request.
            b.resubscribe = false;
        }
        b.last_seq = seq;
        let stamp = |mut ev: MarketEvent| {
            ev.exchange_ns = exchange_ns;
            ev.local_ns = now;
            ev.seq = seq.map_or(0, |s| s as u64);
            ev.prev_seq = prev_seq.filter(|p| *p > 0).map_or(0, |p| p as u64);
            ev
        };
        let out = &mut self.out;
        out.clear();
        if snapshot {
            for (side, levels) in [(Side::Buy, &b.bids), (Side::Sell, &b.asks)] {
                for l in levels.iter() {
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
                // An empty book: one zero level carries the CLEAR and the BATCH_END.
                let ev = MarketEvent::new(b.id, EventKind::BookSnapshot, Side::Buy, Price::ZERO, Qty::ZERO);
                out.push(stamp(ev));
            }
            out[0].flags |= MarketEvent::CLEAR;
        } else {
            // An update's records go out straight from the staged levels (no second staging).
            let levels = self.parser.levels();
            let last = levels.len().wrapping_sub(1);
            for (k, (side, l)) in levels.iter().enumerate() {
                let mut ev = stamp(MarketEvent::new(
                    b.id,
                    EventKind::BookDelta,
                    *side,
                    Price::from_units(l.price),
                    Qty::from_units(l.qty),
                ));
                if k == last {
                    ev.flags |= MarketEvent::BATCH_END;
                }
                emit(&ev);
            }
            self.counters.stats.records += levels.len() as u64;
            return;
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
        b.last_seq = None;
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
        Venue::Okx
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

    fn book_gaps(&self, index: usize) -> Option<u64> {
        self.books.get(index).map(|b| b.gaps)
    }
}
