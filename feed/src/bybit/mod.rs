//! Bybit v5 public market data: [`Decoder`] (the [`crate::VenueDecoder`] of
//! `orderbook.{depth}.{symbol}`, `publicTrade.{symbol}` and `tickers.{symbol}` pushes) and
//! [`BybitFeed`], the [`qt_core::FeedSource`] over one non-blocking TLS WebSocket to
//! `<ws_url>/v5/public/{spot|linear}` — the shared [`crate::kit::live::LiveFeed`] layer with
//! [`BybitLive`] ([`connect`]) saying what is Bybit's (topics, requests, heartbeat).
//!
//! Protocol (`bybit-exchange/docs` v5: the public orderbook, trade and ticker pages and the
//! Connect page; facts in `venues/NOTES.md` §2): after the socket opens the feed sends
//! `{"op":"subscribe","args":[..]}` (at most 10 topics per request, the spot limit); the book
//! topic starts with a `snapshot` and continues with `delta`s whose `u` grows by exactly one
//! ([`rules::BookSync`]; the notes mark the `+1` rule as recalled, not documented — it holds over
//! the whole recorded spot capture and is what our simulator implements). A gap or an
//! unreadable book push invalidates that symbol's book and the feed sends `unsubscribe` +
//! `subscribe` for its book topic, which makes Bybit send a fresh snapshot. Bybit drops a
//! connection that is silent for 10 minutes and recommends `{"op":"ping"}` every 20 s, which the
//! feed sends. A reconnect subscribes everything again, and a book topic still without a
//! snapshot [`SNAPSHOT_TIMEOUT`] after its (re)subscription is resubscribed (a refused or lost
//! request must not leave a book invalid forever).
//!
//! The decoder is the kit's shell ([`crate::kit::depth_decoder::DepthDecoder`]) over Bybit's wire
//! walk ([`wire`]) and sync ([`rules`]).
//!
//! Thread and contract: owned and polled by the core thread; `poll` never blocks. After warm-up
//! the parse → sync → emit path allocates nothing (`Decoder::on_frame`, counted in
//! `tests/no_alloc.rs`); sending a request (subscribe, ping; cold) allocates one frame.
//! Records: book snapshot → `BookSnapshot` (first `CLEAR`, last `BATCH_END`), delta →
//! `BookDelta` per level (last `BATCH_END`), both with `seq = u` and `exchange_ns` from `ts`;
//! trade → `Trade` (`seq` = Bybit's `seq`, side = taker).
//! A gap, an unreadable book push or a disconnect emits one `BookSnapshot` record with `CLEAR`
//! and no `BATCH_END`.

pub mod connect;
pub mod rules;
pub mod wire;

/// The sync under its name before the venue kit (`rules`).
pub use rules as sync;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

pub use connect::{BybitFeed, BybitFeedConfig, BybitLive};

use crate::kit::depth_decoder::{DepthCounters, DepthDecoder};
use qt_core::{Instrument, Nanos};
use wire::{FrameParser, ParseError};

/// Application-level ping interval (`venues/NOTES.md` §2 "Heartbeat": send `{"op":"ping"}` every
/// 20 s; the Connect page cuts a connection with no ping-pong and no data after 10 minutes).
pub const PING_INTERVAL: Nanos = Nanos(20_000_000_000);
/// First reconnect delay (before jitter).
pub const RECONNECT_BASE: Nanos = Nanos(100_000_000);
/// Largest reconnect delay (before jitter).
pub const RECONNECT_CAP: Nanos = Nanos(5_000_000_000);
/// Most topics in one subscribe request (spot refuses more: "args size >10").
pub const MAX_ARGS_PER_REQUEST: usize = 10;
/// A book topic still without a snapshot this long after its (re)subscription is subscribed
/// again (a refused or lost request, a snapshot that never came).
pub const SNAPSHOT_TIMEOUT: Nanos = Nanos(5_000_000_000);
/// The shortest silence after which a connection is given up, however short the ping interval.
pub const SILENCE_FLOOR: Nanos = Nanos(30_000_000_000);
/// Default book depth (`orderbook.50`, pushed every 20 ms on spot).
pub const DEFAULT_DEPTH: u16 = 50;

/// Which public stream a [`BybitFeed`] connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `/v5/public/spot`.
    Spot,
    /// `/v5/public/linear` (USDT/USDC perpetuals and futures).
    Linear,
}

impl Category {
    /// The WebSocket path.
    pub const fn path(self) -> &'static str {
        match self {
            Category::Spot => "/v5/public/spot",
            Category::Linear => "/v5/public/linear",
        }
    }

    /// Book depths Bybit offers in this category (`websocket/public/orderbook.mdx`).
    pub const fn depths(self) -> &'static [u16] {
        match self {
            Category::Spot => &[1, 50, 200, 1000],
            Category::Linear => &[1, 50, 200, 500, 1000],
        }
    }
}

/// Counters of a [`Decoder`] (and its feed). Plain values: read them through
/// [`Decoder::counters`] / [`BybitFeed::counters`] on the core thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BybitCounters {
    /// Frames handed to the decoder.
    pub messages: u64,
    /// Records emitted.
    pub records: u64,
    /// Refused frames by reason ([`ParseError::reason_index`]).
    pub parse_errors: [u64; ParseError::REASONS],
    /// Book deltas applied to an in-sync book.
    pub deltas_applied: u64,
    /// Book `u` gaps.
    pub gaps: u64,
    /// Books found crossed or locked after a complete message (each resynced).
    pub crossed: u64,
    /// Resyncs started (gaps, unreadable book pushes, crossed books, disconnects: one per symbol).
    pub resyncs: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Snapshots (or `u == 1`) that replaced a valid book: service-side resets.
    pub resets: u64,
    /// Deltas ignored (older than the book, or before the first snapshot).
    pub ignored_deltas: u64,
    /// Ticker pushes (counted, not normalized).
    pub tickers: u64,
    /// Replies to our requests (subscribe acks, pongs).
    pub control: u64,
    /// Replies with `success: false`.
    pub control_failures: u64,
    /// Pongs.
    pub pongs: u64,
    /// Pings sent.
    pub pings: u64,
    /// Book topics subscribed again after a gap (or [`SNAPSHOT_TIMEOUT`]).
    pub resubscribes: u64,
    /// Book topics that waited longer than [`SNAPSHOT_TIMEOUT`] for a snapshot.
    pub snapshot_timeouts: u64,
    /// WebSocket sessions opened.
    pub connects: u64,
    /// Sessions opened after the first.
    pub reconnects: u64,
    /// Open sessions lost.
    pub disconnects: u64,
    /// Connection attempts that failed before the session opened.
    pub connect_failures: u64,
}

impl BybitCounters {
    /// Refused frames, all reasons.
    pub fn parse_errors_total(&self) -> u64 {
        self.parse_errors.iter().sum()
    }
}

/// The decoder shell's counters, as Bybit names them (its connection-level ones are filled by
/// [`BybitFeed::counters`]).
impl From<DepthCounters> for BybitCounters {
    fn from(c: DepthCounters) -> Self {
        Self {
            messages: c.messages,
            records: c.records,
            parse_errors: c.parse_errors,
            deltas_applied: c.diffs_applied,
            gaps: c.gaps,
            crossed: c.crossed,
            resyncs: c.resyncs,
            snapshots: c.snapshots_applied,
            resets: c.resets,
            ignored_deltas: c.stale + c.waiting,
            tickers: c.tickers,
            control: c.control + c.venue_errors,
            control_failures: c.venue_errors,
            pongs: c.pongs,
            ..Self::default()
        }
    }
}

/// Everything below the socket: parser, per-symbol book sync ([`rules::BookSync`]), counters —
/// the kit's decoder shell over Bybit's wire walk. Public so replay and tests drive the exact
/// parse → sync → emit path without a socket. Core thread; allocates only in
/// [`DepthDecoder::new`](Decoder::new).
pub type Decoder = DepthDecoder<FrameParser>;

impl DepthDecoder<FrameParser> {
    /// A decoder for `symbols` (index in the slice = symbol index) with book topic
    /// `orderbook.{depth}.{symbol}`.
    pub fn new(symbols: &[Instrument], depth: u16) -> Self {
        Self::with_wire(FrameParser::new(symbols, depth), symbols)
    }
}
