//! [`ChecksumDecoder`]: the decoder shell of the venues whose book snapshot arrives in the stream
//! and whose loss detector is a checksum (OKX, Kraken) — the [`VenueDecoder`] every such venue
//! is, given its wire walk ([`ChecksumWire`]) and, through it, its rule
//! ([`ChecksumRule`]), and the [`LiveDecoder`] half (resubscriptions).
//!
//! Per frame: the frame is counted, the wire walk parses it; control frames are counted, trade
//! and best-bid/offer records go out as parsed, and each book message goes to the shared sync
//! ([`ChecksumBooks::apply`]). A refused frame is counted by reason, warned about (rate-limited)
//! and invalidates the books it belonged to (as the wire walk tells). Disconnects, consumer
//! refusals and counters are the sync's.
//!
//! Thread and contract: core thread. `on_frame` never blocks, allocates nothing after warm-up
//! (the wire walk's reused buffers; books preallocated), never panics on bad input. Generic over
//! the wire: each venue's decoder is its own monomorphized copy, no `dyn` between walk and sync.

use crate::decoder::{ChecksumVerdict, FeedStats, VenueDecoder};
use crate::kit::checksum_book::{Level, SideBook};
use crate::kit::checksum_sync::{BookMessage, ChecksumBooks, ChecksumCounters, ChecksumRule};
use crate::kit::live::LiveDecoder;
use crate::parse_error::ParseError;
use qt_core::{BookError, MarketEvent, Nanos, Side, Venue};

/// What one parsed frame holds, as the shell handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFrame {
    /// Heartbeat, pong, ack, status, a successful method reply: counted.
    Control,
    /// The venue's error reply: counted.
    ControlError,
    /// Trade or best-bid/offer records, in the record vector.
    Records,
    /// One book message; its levels are all of [`ChecksumWire::levels`].
    Book(BookMessage),
    /// [`ChecksumWire::book_count`] book messages, each with its levels ([`ChecksumWire::book`]).
    Books,
}

/// A refused frame and the books it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError {
    /// Why.
    pub error: ParseError,
    /// Which books the frame belonged to.
    pub broken: Broken,
}

/// The books a refused frame belonged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// None (or none that can be told).
    None,
    /// Symbol index's book.
    Symbol(usize),
    /// Every valid book the frame names ([`ChecksumWire::names`]).
    Named,
}

/// A checksum venue's wire walk: its frames parsed into book messages and records.
pub trait ChecksumWire {
    /// The venue's checksum rule.
    type Rule: ChecksumRule;
    /// The venue.
    const VENUE: Venue;
    /// Its name in warnings.
    const LABEL: &'static str;
    /// The rule counts sequence gaps per book ([`VenueDecoder::book_gaps`]).
    const SEQUENCED: bool;

    /// Parses one frame; trade and best-bid/offer records go to `out` (cleared first), stamped
    /// `local_ns`.
    fn parse(&mut self, frame: &[u8], local_ns: Nanos, out: &mut Vec<MarketEvent>) -> Result<WireFrame, WireError>;
    /// The staged levels of the last frame (a [`WireFrame::Book`]'s).
    fn levels(&self) -> &[(Side, Level)];
    /// Book messages of the last [`WireFrame::Books`] frame.
    #[inline]
    fn book_count(&self) -> usize {
        0
    }
    /// Book message `k` of the last [`WireFrame::Books`] frame and its levels.
    #[inline]
    fn book(&self, _k: usize) -> Option<(BookMessage, &[(Side, Level)])> {
        None
    }
    /// Whether the unreadable `frame` names symbol `index`'s book ([`Broken::Named`]). Cold.
    #[inline]
    fn names(&self, _frame: &[u8], _index: usize) -> bool {
        false
    }
}

/// A checksum venue's decoder: its wire walk `W` and the shared sync (see the module doc).
#[derive(Debug)]
pub struct ChecksumDecoder<W: ChecksumWire> {
    pub(crate) parser: W,
    pub(crate) books: ChecksumBooks<W::Rule>,
    /// The wire walk's trade and best-bid/offer records.
    out: Vec<MarketEvent>,
    warns: crate::warn_gate::WarnGate,
}

impl<W: ChecksumWire> ChecksumDecoder<W> {
    /// A decoder over `parser` for `symbols` (index in the slice = symbol index) keeping `depth`
    /// levels a side; room for `records` trade/BBO records a frame. Allocates everything it will
    /// use here.
    pub fn with_parser(parser: W, symbols: &[qt_core::Instrument], depth: usize, records: usize) -> Self {
        Self {
            parser,
            books: ChecksumBooks::new(symbols, depth),
            out: Vec::with_capacity(records),
            warns: crate::warn_gate::WarnGate::new(),
        }
    }

    /// All counters.
    pub fn counters(&self) -> ChecksumCounters {
        self.books.counters()
    }

    /// Whether symbol `index`'s book subscription must be renewed (after a gap, a checksum
    /// mismatch, an unreadable frame or a disconnect).
    pub fn wants_resubscribe(&self, index: usize) -> bool {
        self.books.wants_resubscribe(index)
    }

    /// [`Self::wants_resubscribe`], clearing the request (the caller resubscribes now).
    pub fn take_resubscribe(&mut self, index: usize) -> bool {
        self.books.take_resubscribe(index)
    }

    /// Whether symbol `index`'s shadow book is valid.
    pub fn is_live(&self, index: usize) -> bool {
        self.books.is_live(index)
    }

    /// Symbol `index`'s shadow book as `(bids, asks)` (iterate best first; `price`/`qty` in
    /// instrument units; the wire texts where the venue's checksum reads them).
    pub fn book_levels(&self, index: usize) -> Option<(&SideBook, &SideBook)> {
        self.books.book_levels(index)
    }

    /// Decodes one frame, emitting its records.
    #[inline]
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.books.start_frame();
        match self.parser.parse(frame, now, &mut self.out) {
            Ok(WireFrame::Control) => self.books.counters_mut().control += 1,
            Ok(WireFrame::ControlError) => self.books.counters_mut().control_errors += 1,
            Ok(WireFrame::Records) => {
                self.books.counters_mut().stats.records += self.out.len() as u64;
                for ev in &self.out {
                    emit(ev);
                }
            }
            Ok(WireFrame::Book(msg)) => self.books.apply(msg, self.parser.levels(), now, emit),
            Ok(WireFrame::Books) => {
                for k in 0..self.parser.book_count() {
                    if let Some((msg, levels)) = self.parser.book(k) {
                        self.books.apply(msg, levels, now, emit);
                    }
                }
            }
            Err(failure) => self.on_parse_error(frame, failure, now, emit),
        }
    }

    #[cold]
    fn on_parse_error(&mut self, frame: &[u8], failure: WireError, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.books.counters_mut().stats;
        c.parse_errors += 1;
        c.parse_error_reasons[failure.error.reason_index()] += 1;
        self.warns.warn(W::LABEL, &"frame", &failure.error, now);
        match failure.broken {
            Broken::None => {}
            Broken::Symbol(symbol) => self.books.invalidate(symbol, now, emit),
            Broken::Named => {
                for i in 0..self.books.len() {
                    if self.books.is_live(i) && self.parser.names(frame, i) {
                        self.books.invalidate(i, now, emit);
                    }
                }
            }
        }
    }

    /// The connection dropped: every book is invalid and must be resubscribed.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.books.on_disconnect(now, emit);
    }
}

impl<W: ChecksumWire + Send> VenueDecoder for ChecksumDecoder<W> {
    fn venue(&self) -> Venue {
        W::VENUE
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        ChecksumDecoder::on_frame(self, frame, now, emit);
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        ChecksumDecoder::on_disconnect(self, now, emit);
    }

    fn last_checksum(&self) -> ChecksumVerdict {
        self.books.last_checksum()
    }

    #[cold]
    fn on_book_refused(&mut self, index: usize, reason: BookError, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.books.on_book_refused(index, reason, now, emit);
    }

    fn stats(&self) -> FeedStats {
        FeedStats { warnings_suppressed: self.warns.suppressed(), ..self.books.counters().stats }
    }

    fn book_gaps(&self, index: usize) -> Option<u64> {
        if W::SEQUENCED { self.books.book_gaps(index) } else { None }
    }
}

/// The live layer's half: a checksum venue's broken book is subscribed again (its snapshot comes
/// in the stream).
impl<W: ChecksumWire + Send + 'static> LiveDecoder for ChecksumDecoder<W> {
    fn symbol_count(&self) -> usize {
        self.books.len()
    }

    fn is_synced(&self, index: usize) -> bool {
        self.books.is_live(index)
    }

    fn take_resubscribe(&mut self, index: usize) -> bool {
        self.books.take_resubscribe(index)
    }

    fn wants_resubscribe(&self, index: usize) -> bool {
        self.books.wants_resubscribe(index)
    }
}
