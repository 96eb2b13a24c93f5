//! OKX v5 public market data: [`Decoder`], the [`crate::VenueDecoder`] for one
//! `wss://ws.okx.com:8443/ws/v5/public` connection carrying `books` (400-level incremental),
//! `bbo-tbt` and `trades` for a fixed set of instruments.
//!
//! Sync (OKX v5 "Order book channel"): a `books` subscription starts with `action:"snapshot"`
//! (`prevSeqId` -1), then `action:"update"` messages whose `prevSeqId` must equal the previous
//! message's `seqId` (a no-change heartbeat has empty sides and `prevSeqId == seqId`; after a
//! maintenance reset `seqId < prevSeqId` once, which the same rule accepts). Every message
//! carries a CRC32 over the top 25 levels' wire strings ([`rules::okx_checksum`]), verified
//! against our shadow book after applying; a `checksum` of 0 or none is counted as "not
//! provided" (OKX announced 0 in production from 2026-06-23) and the `seqId` chain is then the
//! only check. Frames recorded before OKX added `seqId` (the 2022 capture) have no sequence
//! fields; the checksum alone is checked.
//!
//! Shadow book: every level of a message is applied, then each side is trimmed to
//! [`BOOK_DEPTH`] — once per message, never per level ([`crate::kit::checksum_book::SideBook`]; the sync is the shared [`crate::kit::checksum_sync`], one per symbol). OKX's `books` names
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

pub mod connect;
pub mod rules;
pub mod wire;

/// The live feed's old path (now [`connect`]).
pub use connect as live;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

/// The shadow book's pieces, where they were before the venue kit (`crate::kit::checksum_book`)
/// and OKX's checksum (`rules`).
pub mod book {
    pub use super::rules::{CHECKSUM_DEPTH, okx_checksum, okx_checksum_with};
    pub use crate::kit::checksum_book::*;
}

use crate::kit::depth_decoder::DepthDecoder;
use wire::FrameParser;

/// Levels kept per side: the depth of OKX's `books` channel.
pub const BOOK_DEPTH: usize = 400;

/// Counters beyond [`crate::FeedStats`] (the checksum venues' shared set).
pub type OkxCounters = crate::kit::checksum_sync::ChecksumCounters;

/// The OKX v5 decoder (see the module doc): the kit's decoder shell over OKX's wire walk, one
/// checksum sync per symbol. `Decoder::new(symbols)`: `instId` = [`qt_core::Instrument::symbol`],
/// e.g. `BTC-USDT`; the index in the slice is the symbol index.
pub type Decoder = DepthDecoder<FrameParser>;
