//! Kraken spot WebSocket v2 public market data: [`Decoder`], the [`crate::VenueDecoder`] for one
//! `wss://ws.kraken.com/v2` connection carrying `book` (at one subscribed depth) and `trade`.
//!
//! Sync (docs.kraken.com, book channel and "book checksum v2"): a `book` subscription starts
//! with a `snapshot`, then `update`s; there are **no sequence numbers**, the per-message CRC32
//! ([`rules::kraken_checksum`]) is the only loss detector. **Every level of a message is applied
//! first** (qty 0 deletes), **then** the book is truncated to the subscribed depth (Kraken sends
//! no delete for levels falling out of scope), then the checksum is verified — truncated once
//! per message, never after each level: an update that inserts a level and then deletes another
//! keeps the level the insert pushed past the depth ([`crate::kit::checksum_book::SideBook`]; the sync is the shared
//! [`crate::kit::checksum_sync`], one per symbol). A message without
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

pub mod connect;
pub mod rules;
pub mod wire;

/// The live feed's old path (now [`connect`]).
pub use connect as live;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

/// Kraken's checksum rule, where it was before the venue kit (`rules`).
pub mod book {
    pub use super::rules::*;
}

use crate::kit::depth_decoder::DepthDecoder;
use qt_core::Instrument;
pub use rules::Precision;
use wire::FrameParser;

/// Depths Kraken's v2 `book` channel accepts.
pub const DEPTHS: [usize; 5] = [10, 25, 100, 500, 1000];

/// Counters beyond [`crate::FeedStats`] (the checksum venues' shared set).
pub type KrakenCounters = crate::kit::checksum_sync::ChecksumCounters;

/// The Kraken WS v2 decoder (see the module doc): the kit's decoder shell over Kraken's wire
/// walk, one checksum sync per symbol.
pub type Decoder = DepthDecoder<FrameParser>;

impl DepthDecoder<FrameParser> {
    /// A decoder for `symbols` at the default depth 10. `precisions[i]` is Kraken's
    /// price/qty precision of `symbols[i]`; a missing entry defaults to the instrument's
    /// `price_scale()`/`qty_scale()`.
    pub fn new(symbols: &[Instrument], precisions: &[Precision]) -> Self {
        Self::with_depth(symbols, precisions, DEPTHS[0])
    }

    /// As [`Self::new`], for a `book` subscription of `depth` levels (one of [`DEPTHS`]; other
    /// values are used as given). Allocates everything it will use here.
    pub fn with_depth(symbols: &[Instrument], precisions: &[Precision], depth: usize) -> Self {
        Self::with_wire(FrameParser::new(symbols, precisions, depth), symbols)
    }

    /// The subscribed depth.
    pub fn depth(&self) -> usize {
        self.wire().depth()
    }
}
