//! Firi (Norway) market data: [`Decoder`], the [`crate::decoder::VenueDecoder`] for one Firi
//! market polled over REST.
//!
//! Firi documents no public WebSocket market data (NOTES.md §6, marked RECALL): the order book is
//! polled with `GET /v2/markets/{market}/depth` at a configured rate, and each body handed to
//! [`Decoder::on_frame`] becomes a full book image — `BookSnapshot` per level (bids, then asks),
//! the first `CLEAR`, the last `BATCH_END`, `seq` = the poll's number (Firi's body carries no
//! sequence or time, so `exchange_ns` is 0). A refused body is counted and emits nothing here;
//! the live [`connect::FiriFeed`] then invalidates the book until the next good poll.
//!
//! Thread and contract: the core thread. `on_frame` never blocks; it parses into reused buffers
//! (a simd-json tape and the level vectors), so after warm-up it allocates nothing. The fetching itself is not
//! here: [`poller::FiriPoller`] fetches on its own thread and hands the bodies over, and
//! [`connect::FiriFeed`] is the [`qt_core::FeedSource`] joining the two.

pub mod connect;
pub mod wire;

/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;
pub mod poller;
pub mod rules;

pub use connect::{FiriFeed, FiriFeedConfig};
pub use poller::{FiriPoller, Poll};

use crate::decoder::FeedStats;
use crate::kit::json::TapeBuffers;
use qt_core::{Instrument, MarketEvent, Nanos, Venue};
use wire::DepthBody;

/// The decoder's counters (core thread only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiriCounters {
    /// Bodies handed to [`Decoder::on_frame`].
    pub messages: u64,
    /// Records emitted.
    pub records: u64,
    /// Bodies refused, by reason ([`wire::ParseError::reason_index`]).
    pub parse_errors: [u64; wire::ParseError::REASONS],
    /// Book images emitted.
    pub snapshots: u64,
    /// Images found crossed or locked (invalidated until the next body).
    pub crossed: u64,
}

/// Bodies the parse buffers are first sized for (bytes; they grow to the largest body seen).
const INITIAL_BODY_CAPACITY: usize = 16 * 1024;

/// Turns polled Firi depth bodies of one market into book images. Core thread.
#[derive(Debug)]
pub struct Decoder {
    instrument: Instrument,
    counters: FiriCounters,
    /// The reused parse buffers.
    tape: TapeBuffers,
    /// The last body's levels (reused).
    book: DepthBody,
    warns: crate::warn_gate::WarnGate,
}

impl Decoder {
    /// A decoder for one market (`instrument.symbol()` is Firi's market name, e.g. `BTCNOK`).
    pub fn new(instrument: Instrument) -> Self {
        Self {
            instrument,
            counters: FiriCounters::default(),
            warns: crate::warn_gate::WarnGate::new(),
            tape: TapeBuffers::new(INITIAL_BODY_CAPACITY),
            book: DepthBody { bids: Vec::new(), asks: Vec::new() },
        }
    }

    /// The market's instrument id.
    pub fn instrument_id(&self) -> qt_core::InstrumentId {
        self.instrument.id()
    }

    /// The `GET` path this decoder's bodies come from.
    pub fn depth_path(&self) -> String {
        wire::depth_path(self.instrument.symbol())
    }

    /// The counters now.
    pub fn counters(&self) -> FiriCounters {
        self.counters
    }

    /// One depth body: emits the full book image, or counts the refusal and emits nothing.
    pub fn on_frame(&mut self, body: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.messages += 1;
        match wire::parse_depth_into(&mut self.tape, body, &self.instrument, &mut self.book) {
            Ok(()) => {
                let book = &self.book;
                self.counters.snapshots += 1;
                let c = &mut self.counters;
                let seq = c.snapshots;
                let mut counted = |ev: &MarketEvent| {
                    c.records += 1;
                    emit(ev);
                };
                rules::emit_body(self.instrument.id(), book, seq, now, &mut counted);
            }
            Err(e) => {
                self.counters.parse_errors[e.reason_index()] += 1;
                self.warns.warn("firi", &format_args!("{} depth body", self.instrument.symbol()), &e, now);
            }
        }
    }
}

impl Decoder {
    /// Polling failed for longer than the caller tolerates: invalidate the book (one
    /// `BookSnapshot` record with `CLEAR` and no `BATCH_END`) until the next body.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let ev = MarketEvent::invalidation(self.instrument.id(), now);
        self.counters.records += 1;
        emit(&ev);
    }
}

impl crate::decoder::VenueDecoder for Decoder {
    fn venue(&self) -> Venue {
        Venue::Firi
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_frame(self, frame, now, emit);
    }

    /// Polling failed for longer than the caller tolerates: invalidate the book (one
    /// `BookSnapshot` record with `CLEAR` and no `BATCH_END`) until the next body.
    #[cold]
    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_disconnect(self, now, emit);
    }

    /// Counts a crossing and invalidates the book; the next polled body replaces it.
    #[cold]
    fn on_book_refused(
        &mut self,
        _index: usize,
        reason: qt_core::BookError,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        self.counters.crossed += crate::decoder::crossings(reason);
        Decoder::on_disconnect(self, now, emit);
    }

    fn stats(&self) -> FeedStats {
        let c = &self.counters;
        // No gaps (every body is a full image); each crossed book is its resync.
        let counts = [c.messages, c.records, 0, c.crossed, c.crossed];
        crate::decoder::sync_stats(counts, c.parse_errors, self.warns.suppressed())
    }
}
