//! Bybit v5 public market data: [`Decoder`] (the [`VenueDecoder`] of
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

use crate::decoder::{FeedStats, VenueDecoder};
use crate::kit::direct::DiffSink;
use qt_core::{Instrument, MarketEvent, Nanos, Venue};
use rules::{BookOutcome, BookSync};
use wire::{FrameParser, ParseError, ParseFailure, Parsed, TopicKind};

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

/// Everything below the socket: parser, per-symbol book sync, counters. Public so replay and
/// tests drive the exact parse → sync → emit path without a socket. Core thread; allocates
/// only in [`Decoder::new`].
pub struct Decoder {
    parser: FrameParser,
    syncs: Vec<BookSync>,
    scratch: Vec<MarketEvent>,
    counters: BybitCounters,
    /// Whether an in-sequence diff is emitted while it is parsed ([`crate::kit::direct`]); `false`
    /// stages every diff (see [`Decoder::set_direct`]).
    direct: bool,
    warns: crate::warn_gate::WarnGate,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("symbols", &self.syncs.len()).finish()
    }
}

impl Decoder {
    /// A decoder for `symbols` (index in the slice = symbol index) with book topic
    /// `orderbook.{depth}.{symbol}`.
    pub fn new(symbols: &[Instrument], depth: u16) -> Self {
        Self {
            parser: FrameParser::new(symbols, depth),
            syncs: symbols.iter().map(|s| BookSync::new(s.id())).collect(),
            scratch: Vec::with_capacity(4 * 1024),
            counters: BybitCounters::default(),
            direct: true,
            warns: crate::warn_gate::WarnGate::new(),
        }
    }

    /// Emit an in-sequence diff while it is parsed (`true`, the default) or stage every diff
    /// first (`false`). Both paths emit the same records for every frame the venue sends
    /// correctly (the tests replay captures both ways); they differ only for a diff refused half
    /// way, whose first records the direct path has already emitted before the invalidation.
    /// For tests and for comparing the two paths' cost.
    pub fn set_direct(&mut self, on: bool) {
        self.direct = on;
    }

    /// The counters now.
    pub fn counters(&self) -> BybitCounters {
        self.counters
    }

    /// Symbol `index`'s book sync.
    pub fn sync(&self, index: usize) -> Option<&BookSync> {
        self.syncs.get(index)
    }

    /// Whether symbol `index`'s book topic must be subscribed again (cleared by the call).
    pub fn take_resubscribe(&mut self, index: usize) -> bool {
        self.syncs.get_mut(index).is_some_and(BookSync::take_resubscribe)
    }

    /// One WebSocket text frame.
    #[inline]
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.counters;
        c.messages += 1;
        // A delta that applies now goes straight from the parser to `emit` (no staging).
        let mut sink = DirectDeltas { direct: self.direct, syncs: &self.syncs, emit, emitted: 0 };
        let parsed = self.parser.parse_frame_into(frame, now, &mut self.scratch, &mut sink);
        let emitted = sink.emitted;
        match parsed {
            Ok(Parsed::BookEmitted { symbol, update, seq }) => {
                if let Some(sync) = self.syncs.get_mut(symbol) {
                    sync.applied_directly(update, seq);
                }
                c.records += emitted;
                c.deltas_applied += 1;
            }
            Ok(Parsed::Book { symbol, snapshot, update, seq }) => {
                let Some(sync) = self.syncs.get_mut(symbol) else { return };
                let n = self.scratch.len() as u64;
                match sync.on_push(snapshot, update, seq, &mut self.scratch, now, emit) {
                    BookOutcome::Snapshot { reset } => {
                        c.snapshots += 1;
                        c.resets += u64::from(reset);
                        c.records += n.max(1);
                    }
                    BookOutcome::Applied => {
                        c.records += n;
                        c.deltas_applied += 1;
                    }
                    BookOutcome::Stale | BookOutcome::Waiting => c.ignored_deltas += 1,
                    BookOutcome::Gap => {
                        c.gaps += 1;
                        c.resyncs += 1;
                        c.records += 1;
                    }
                }
            }
            Ok(Parsed::Trades { .. }) => {
                for ev in &self.scratch {
                    emit(ev);
                }
                c.records += self.scratch.len() as u64;
            }
            Ok(Parsed::Ticker { .. }) => c.tickers += 1,
            Ok(Parsed::Control { success, pong }) => {
                c.control += 1;
                c.control_failures += u64::from(!success);
                c.pongs += u64::from(pong);
                if !success {
                    refused(frame);
                }
            }
            Err(failure) => {
                // Records of a delta refused half way went out: count them.
                c.records += emitted;
                self.on_bad_frame(failure, now, emit);
            }
        }
    }

    #[cold]
    fn on_bad_frame(&mut self, failure: ParseFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.parse_errors[failure.error.reason_index()] += 1;
        self.warns.warn("bybit", &"frame", &failure.error, now);
        // A lost book push breaks the book: resync that symbol now rather than at its next `u`.
        if let Some((symbol, TopicKind::Book)) = failure.stream
            && let Some(sync) = self.syncs.get_mut(symbol)
        {
            sync.resync(now, emit);
            self.counters.resyncs += 1;
            self.counters.records += 1;
        }
    }

    /// Connection lost: every book is invalid until the new session's snapshot.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        for sync in &mut self.syncs {
            sync.on_disconnect(now, emit);
            self.counters.resyncs += 1;
            self.counters.records += 1;
        }
    }
}

#[cold]
fn refused(frame: &[u8]) {
    // On the core thread: a fixed-size record for the qt-log thread (the frame's first bytes).
    let frame = std::str::from_utf8(frame).unwrap_or("<not UTF-8>");
    qt_core::core_log!(Warn, "bybit: request refused", 0; frame = qt_core::log_ring::FieldValue::text(frame));
}

/// The decoder's [`DiffSink`]: a delta whose sync would apply it now is emitted while it is
/// parsed (and its records counted).
struct DirectDeltas<'a> {
    direct: bool,
    syncs: &'a [BookSync],
    emit: &'a mut dyn FnMut(&MarketEvent),
    emitted: u64,
}

impl DiffSink<(bool, u64)> for DirectDeltas<'_> {
    #[inline]
    fn direct(&mut self, symbol: usize, (snapshot, update): (bool, u64)) -> bool {
        self.direct && self.syncs.get(symbol).is_some_and(|s| s.applies_directly(snapshot, update))
    }

    #[inline]
    fn emit(&mut self, ev: &MarketEvent) {
        self.emitted += 1;
        (self.emit)(ev);
    }
}

impl VenueDecoder for Decoder {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_frame(self, frame, now, emit);
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_disconnect(self, now, emit);
    }

    #[cold]
    fn on_book_refused(
        &mut self,
        index: usize,
        reason: qt_core::BookError,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        let c = &mut self.counters;
        let counts = [&mut c.crossed, &mut c.resyncs, &mut c.records];
        crate::decoder::reset_refused(&mut self.syncs, index, reason, counts, |sync| sync.resync(now, emit));
    }

    fn book_gaps(&self, index: usize) -> Option<u64> {
        self.syncs.get(index).map(BookSync::gaps)
    }

    fn stats(&self) -> FeedStats {
        let c = &self.counters;
        let counts = [c.messages, c.records, c.gaps, c.crossed, c.resyncs];
        crate::decoder::sync_stats(counts, c.parse_errors, self.warns.suppressed())
    }
}
