//! Firi (Norway) market data: [`Decoder`], the [`crate::decoder::VenueDecoder`] for one Firi
//! market polled over REST.
//!
//! Firi documents no public WebSocket market data (NOTES.md §6, marked RECALL): the order book is
//! polled with `GET /v2/markets/{market}/depth` at a configured rate, and each body handed to
//! [`Decoder::on_frame`] becomes a full book image — `BookSnapshot` per level (bids, then asks),
//! the first `CLEAR`, the last `BATCH_END`, `seq` = the poll's number among the good ones
//! (Firi's body carries no sequence or time, so `exchange_ns` is 0). A refused body is counted
//! and emits nothing here; the live [`connect::FiriFeed`] then invalidates the book until the
//! next good poll.
//!
//! The decoder is the venue kit's shell ([`crate::kit::depth_decoder::DepthDecoder`]) over
//! Firi's wire walk ([`wire::FiriWire`]) and its one-market sync ([`rules::ImageSync`]: every
//! body is the whole book).
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

use crate::kit::depth_decoder::{DepthCounters, DepthDecoder};
use qt_core::Instrument;
use wire::FiriWire;

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

/// The shell's counters as Firi's: each good body is one applied whole-book message.
impl From<DepthCounters> for FiriCounters {
    fn from(c: DepthCounters) -> Self {
        Self {
            messages: c.messages,
            records: c.records,
            parse_errors: c.parse_errors,
            snapshots: c.diffs_applied,
            crossed: c.crossed,
        }
    }
}

/// Turns polled Firi depth bodies of one market into book images. Core thread.
pub type Decoder = DepthDecoder<FiriWire>;

impl DepthDecoder<FiriWire> {
    /// A decoder for one market (`instrument.symbol()` is Firi's market name, e.g. `BTCNOK`).
    pub fn new(instrument: Instrument) -> Self {
        let symbols = [instrument.clone()];
        Self::with_wire(FiriWire::new(instrument), &symbols)
    }

    /// The market's instrument id.
    pub fn instrument_id(&self) -> qt_core::InstrumentId {
        self.wire().instrument().id()
    }

    /// The `GET` path this decoder's bodies come from.
    pub fn depth_path(&self) -> String {
        wire::depth_path(self.wire().instrument().symbol())
    }
}
