//! Bybit v5 public market data: [`Decoder`] (the [`VenueDecoder`] of
//! `orderbook.{depth}.{symbol}`, `publicTrade.{symbol}` and `tickers.{symbol}` pushes) and
//! [`BybitFeed`], the [`FeedSource`] over one non-blocking TLS WebSocket to
//! `<ws_url>/v5/public/{spot|linear}`.
//!
//! Protocol (`bybit-exchange/docs` v5: the public orderbook, trade and ticker pages and the
//! Connect page; facts in `venues/NOTES.md` §2): after the socket opens the feed sends
//! `{"op":"subscribe","args":[..]}` (at most 10 topics per request, the spot limit); the book
//! topic starts with a `snapshot` and continues with `delta`s whose `u` grows by exactly one
//! ([`sync::BookSync`]; the notes mark the `+1` rule as recalled, not documented — it holds over
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

pub mod parse;
pub mod sync;

use crate::decoder::{DecoderStats, VenueDecoder};
use crate::endpoint::Endpoint;
use crate::error::FeedError;
use crate::tls;
use crate::ws::{Backoff, CloseReason, WsClient};
use parse::{FrameParser, ParseError, ParseFailure, Parsed, TopicKind};
use qt_core::feed_source::FeedState;
use qt_core::{FeedSource, Instrument, MarketEvent, Nanos, Venue};
use std::path::PathBuf;
use sync::{BookOutcome, BookSync};

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
    /// Resyncs started (gaps, unreadable book pushes, disconnects: one per symbol).
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
        }
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
        match self.parser.parse_frame(frame, now, &mut self.scratch) {
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
            Err(failure) => self.on_bad_frame(failure, now, emit),
        }
    }

    #[cold]
    fn on_bad_frame(&mut self, failure: ParseFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.parse_errors[failure.error.reason_index()] += 1;
        log::warn!("bybit: frame refused: {}", failure.error);
        // A lost book push breaks the book: resync that symbol now rather than at its next `u`.
        if let Some((symbol, TopicKind::Book)) = failure.topic
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
    log::warn!("bybit: request refused: {}", String::from_utf8_lossy(frame));
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

    fn stats(&self) -> DecoderStats {
        let c = &self.counters;
        DecoderStats {
            messages: c.messages,
            records: c.records,
            parse_errors: c.parse_errors_total(),
            gaps: c.gaps,
            checksum_ok: 0,
            checksum_failed: 0,
            resyncs: c.resyncs,
        }
    }
}

/// What a [`BybitFeed`] connects to and subscribes.
#[derive(Debug, Clone)]
pub struct BybitFeedConfig {
    /// WebSocket base, e.g. `wss://stream.bybit.com` (the feed appends the category's path).
    pub ws_url: String,
    /// Spot or linear.
    pub category: Category,
    /// PEM CA file to trust instead of the webpki roots (the simulator writes one).
    pub ca_file: Option<PathBuf>,
    /// TLS server name instead of the URL's host (`localhost` for the simulator).
    pub server_name: Option<String>,
    /// Symbols; each instrument's id goes into its records.
    pub symbols: Vec<Instrument>,
    /// Book depth (`orderbook.{depth}`), one of [`Category::depths`].
    pub depth: u16,
    /// Subscribe `publicTrade.{symbol}` too.
    pub trades: bool,
    /// Application-level ping interval ([`PING_INTERVAL`]; Bybit drops a silent connection).
    pub ping_interval: Nanos,
}

impl BybitFeedConfig {
    /// Spot, depth 50, trades on, no CA file, no server-name override.
    pub fn new(ws_url: impl Into<String>, symbols: Vec<Instrument>) -> Self {
        Self {
            ws_url: ws_url.into(),
            category: Category::Spot,
            ca_file: None,
            server_name: None,
            symbols,
            depth: DEFAULT_DEPTH,
            trades: true,
            ping_interval: PING_INTERVAL,
        }
    }
}

/// Prebuilt request texts (built at start-up; sending one is a cold path).
#[derive(Debug)]
struct Requests {
    /// Subscribe requests covering every topic, at most [`MAX_ARGS_PER_REQUEST`] each.
    subscribe_all: Vec<String>,
    /// Per symbol: unsubscribe and subscribe of its book topic.
    resubscribe: Vec<(String, String)>,
    ping: String,
}

fn request(op: &str, topics: &[String]) -> String {
    let args: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    format!("{{\"op\":\"{op}\",\"args\":[{}]}}", args.join(","))
}

/// The Bybit v5 public market-data feed.
pub struct BybitFeed {
    name: String,
    ws: WsClient,
    decoder: Decoder,
    requests: Requests,
    last_ping: Nanos,
    ping_interval: Nanos,
    /// Per symbol: when its book topic was last (re)subscribed.
    subscribed_at: Vec<Nanos>,
    ever_connected: bool,
}

impl std::fmt::Debug for BybitFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybitFeed").field("name", &self.name).field("ws", &self.ws).finish()
    }
}

impl BybitFeed {
    /// Validates `cfg` (every problem at once), resolves the host and builds TLS. Blocking
    /// start-up work (DNS, CA file): call before the core loop.
    pub fn new(cfg: BybitFeedConfig) -> Result<Self, FeedError> {
        let mut problems = Vec::new();
        let ws = Endpoint::parse(&cfg.ws_url, "ws_url").map_err(|e| problems.push(e.to_string())).ok();
        if cfg.symbols.is_empty() {
            problems.push("symbols: empty (expected at least one instrument)".into());
        }
        if !cfg.category.depths().contains(&cfg.depth) {
            problems.push(format!("depth: {} is not one of {:?}", cfg.depth, cfg.category.depths()));
        }
        for (i, s) in cfg.symbols.iter().enumerate() {
            if cfg.symbols[..i].iter().any(|o| o.symbol() == s.symbol()) {
                problems.push(format!("symbols[{i}]: {} is listed twice", s.symbol()));
            }
        }
        let Some(ws_ep) = ws else { return Err(FeedError::Config { field: "bybit", problem: problems.join("; ") }) };
        if cfg.ping_interval <= Nanos::ZERO {
            problems.push(format!("ping_interval: {} ns is not positive", cfg.ping_interval.0));
        }
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "bybit", problem: problems.join("; ") });
        }
        let tls = tls::client_config(cfg.ca_file.as_deref())?;
        let target = format!("{}{}", ws_ep.target.trim_end_matches('/'), cfg.category.path());
        let addrs = ws_ep.resolve()?;
        let seed = addrs.iter().fold(0x2545_f491_4f6c_dd1du64, |h, a| h.rotate_left(7) ^ u64::from(a.port()))
            ^ u64::from(std::process::id());
        let ws = WsClient::new(
            &ws_ep,
            addrs,
            &target,
            ws_ep.server_name(cfg.server_name.as_deref())?,
            tls,
            Backoff::new(RECONNECT_BASE, RECONNECT_CAP, seed),
        );
        let mut topics = Vec::new();
        let mut resubscribe = Vec::new();
        for s in &cfg.symbols {
            let book = parse::topic_name(s.symbol(), TopicKind::Book, cfg.depth);
            resubscribe.push((
                request("unsubscribe", std::slice::from_ref(&book)),
                request("subscribe", std::slice::from_ref(&book)),
            ));
            topics.push(book);
            if cfg.trades {
                topics.push(parse::topic_name(s.symbol(), TopicKind::Trade, cfg.depth));
            }
        }
        let subscribe_all = topics.chunks(MAX_ARGS_PER_REQUEST).map(|c| request("subscribe", c)).collect();
        let names: Vec<&str> = cfg.symbols.iter().map(|s| s.symbol()).collect();
        Ok(Self {
            name: format!("bybit:{}", names.join(",")),
            ws,
            decoder: Decoder::new(&cfg.symbols, cfg.depth),
            requests: Requests { subscribe_all, resubscribe, ping: "{\"op\":\"ping\"}".into() },
            last_ping: Nanos::ZERO,
            ping_interval: cfg.ping_interval,
            subscribed_at: vec![Nanos::ZERO; cfg.symbols.len()],
            ever_connected: false,
        })
    }

    /// The counters now.
    pub fn counters(&self) -> BybitCounters {
        self.decoder.counters
    }

    /// The decoder (sync state per symbol).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Whether symbol `index`'s book is valid.
    pub fn is_synced(&self, index: usize) -> bool {
        self.decoder.syncs.get(index).is_some_and(BookSync::is_synced)
    }

    /// Bybit's `seq` of the last book push applied for symbol `index` (the state the records
    /// emitted so far describe), if in sync.
    pub fn book_seq(&self, index: usize) -> Option<u64> {
        self.decoder.syncs.get(index).and_then(BookSync::book_seq)
    }

    /// Whether the WebSocket session is open.
    pub fn is_connected(&self) -> bool {
        self.ws.is_open()
    }

    #[cold]
    fn on_ws_closed(&mut self, reason: CloseReason, was_open: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if was_open {
            self.decoder.counters.disconnects += 1;
            log::warn!("{}: connection lost ({reason:?}); reconnecting", self.name);
            self.decoder.on_disconnect(now, emit);
        } else {
            self.decoder.counters.connect_failures += 1;
        }
    }

    #[cold]
    fn on_ws_opened(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.decoder.counters;
        c.connects += 1;
        c.reconnects += u64::from(self.ever_connected);
        self.ever_connected = true;
        self.last_ping = now;
        self.subscribed_at.fill(now);
        for i in 0..self.requests.subscribe_all.len() {
            if !self.send(i, None, now, emit) {
                return;
            }
        }
        // Gaps seen before the reconnect are answered by the new subscription's snapshots.
        for sync in &mut self.decoder.syncs {
            sync.take_resubscribe();
        }
    }

    /// Sends `subscribe_all[all]` or, with `symbol`, that symbol's resubscription. False if the
    /// connection dropped doing so.
    #[cold]
    fn send(&mut self, all: usize, symbol: Option<usize>, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let texts: [Option<&str>; 2] = match symbol {
            None => [self.requests.subscribe_all.get(all).map(String::as_str), None],
            Some(s) => match self.requests.resubscribe.get(s) {
                Some((u, s)) => [Some(u.as_str()), Some(s.as_str())],
                None => [None, None],
            },
        };
        let mut failed = None;
        for text in texts.into_iter().flatten() {
            if let Err(reason) = self.ws.send_text(text, now) {
                failed = Some(reason);
                break;
            }
        }
        match failed {
            Some(reason) => {
                self.on_ws_closed(reason, true, now, emit);
                false
            }
            None => true,
        }
    }

    /// Whether symbol `index` has waited longer than [`SNAPSHOT_TIMEOUT`] for its snapshot.
    #[inline]
    fn snapshot_overdue(&self, index: usize, now: Nanos) -> bool {
        !self.decoder.syncs.get(index).is_none_or(BookSync::is_synced)
            && self.subscribed_at.get(index).is_some_and(|at| now.saturating_sub(*at) >= SNAPSHOT_TIMEOUT)
    }

    /// Whether a request is due: a ping, a resubscription, an overdue snapshot.
    #[inline]
    fn request_due(&self, now: Nanos) -> bool {
        now.saturating_sub(self.last_ping) >= self.ping_interval
            || self
                .decoder
                .syncs
                .iter()
                .enumerate()
                .any(|(i, s)| s.resubscribe_pending() || self.snapshot_overdue(i, now))
    }

    #[cold]
    fn service_requests(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        for symbol in 0..self.decoder.syncs.len() {
            let timed_out = self.snapshot_overdue(symbol, now);
            if self.decoder.take_resubscribe(symbol) || timed_out {
                self.decoder.counters.resubscribes += 1;
                self.decoder.counters.snapshot_timeouts += u64::from(timed_out);
                if let Some(at) = self.subscribed_at.get_mut(symbol) {
                    *at = now;
                }
                log::info!("{}: resubscribing the book of symbol {symbol}", self.name);
                if !self.send(0, Some(symbol), now, emit) {
                    return;
                }
            }
        }
        if now.saturating_sub(self.last_ping) >= self.ping_interval {
            self.last_ping = now;
            self.decoder.counters.pings += 1;
            let ping = std::mem::take(&mut self.requests.ping);
            let result = self.ws.send_text(&ping, now);
            self.requests.ping = ping;
            if let Err(reason) = result {
                self.on_ws_closed(reason, true, now, emit);
            }
        }
    }
}

impl FeedSource for BybitFeed {
    fn name(&self) -> &str {
        &self.name
    }

    fn register(&mut self, registry: &mio::Registry, token_base: usize) -> std::io::Result<bool> {
        self.ws.register(registry, token_base)?;
        Ok(true)
    }

    #[inline]
    fn on_ready(&mut self, _token: usize) {
        self.ws.on_ready();
    }

    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        let mut emitted = 0usize;
        let mut emit = |ev: &MarketEvent| {
            emitted += 1;
            sink(ev);
        };
        let was_open = self.ws.is_open();
        let decoder = &mut self.decoder;
        let progress = self.ws.poll(local_now, &mut |frame: &[u8]| decoder.on_frame(frame, local_now, &mut emit));
        if progress.frames > 0 {
            self.ws.reset_backoff();
        }
        if let Some(reason) = progress.closed {
            self.on_ws_closed(reason, was_open || progress.opened, local_now, &mut emit);
        }
        if progress.opened {
            self.on_ws_opened(local_now, &mut emit);
        }
        if self.ws.is_open() && self.request_due(local_now) {
            self.service_requests(local_now, &mut emit);
        }
        emitted
    }

    fn state(&self) -> FeedState {
        if self.ws.is_open() && self.decoder.syncs.iter().all(BookSync::is_synced) {
            FeedState::Live
        } else {
            FeedState::Recovering
        }
    }
}
