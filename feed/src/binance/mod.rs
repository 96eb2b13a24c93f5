//! [`BinanceFeed`]: Binance spot market data (diff depth, book ticker, trades) as a
//! [`FeedSource`] polled by the core thread.
//!
//! One combined-stream WebSocket (`/stream?streams=<sym>@depth@100ms/<sym>@bookTicker/<sym>@trade
//! /...`) over TLS on a non-blocking mio socket ([`crate::ws::WsClient`]); frames are parsed by
//! [`parse::FrameParser`] and depth diffs go through one [`sync::DepthSync`] per symbol, whose
//! REST snapshots come from the snapshot thread ([`crate::snapshot::SnapshotFetcher`]).
//!
//! Thread and contract: owned and polled by the core thread. `poll` never blocks: socket I/O
//! only on readiness, `try_send`/`try_recv` on the snapshot channels. After warm-up the
//! parse → sync → emit path allocates nothing (`tests/no_alloc.rs` counts); the WebSocket
//! and TLS layers below allocate per frame/record (measured and reported there). Cold paths
//! (connect, reconnect, resync, snapshot application) allocate and are `#[cold]`.
//!
//! Records: snapshot → `BookSnapshot` (first `CLEAR`, last `BATCH_END`, `seq = lastUpdateId`);
//! diff → `BookDelta` per level (`seq = u`, `prev_seq = U`, last `BATCH_END`, `exchange_ns` from
//! `E`); bookTicker → two `BestBidOffer` (`seq = u`, no venue time); trade → one `Trade`
//! (`seq = t`, side = aggressor). A gap, an unreadable depth frame or a disconnect emits one
//! `BookSnapshot` record with `CLEAR` and no `BATCH_END`: the engine's book empties and stays
//! invalid until the resync's snapshot ends with `BATCH_END`.

pub mod parse;
pub mod sync;

use crate::endpoint::Endpoint;
use crate::error::FeedError;
use crate::snapshot::{HttpsClient, SnapshotFetcher, SnapshotRequest};
use crate::tls;
use crate::ws::{Backoff, CloseReason, WsClient};
use parse::{FrameParser, ParseError, Parsed, StreamKind};
use qt_core::feed_source::FeedState;
use qt_core::{FeedSource, Instrument, MarketEvent, Nanos};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use sync::{DepthSync, DiffOutcome, SnapshotOutcome};

/// Default REST snapshot depth (`limit`).
pub const DEFAULT_DEPTH_LIMIT: usize = 1000;
/// First reconnect delay (before jitter).
pub const RECONNECT_BASE: Nanos = Nanos(100_000_000);
/// Largest reconnect delay (before jitter).
pub const RECONNECT_CAP: Nanos = Nanos(5_000_000_000);

/// What a [`BinanceFeed`] connects to and subscribes.
#[derive(Debug, Clone)]
pub struct BinanceFeedConfig {
    /// WebSocket base, e.g. `wss://stream.binance.com:9443` (the feed appends
    /// `/stream?streams=...`).
    pub ws_url: String,
    /// REST base, e.g. `https://api.binance.com`.
    pub rest_url: String,
    /// PEM CA file to trust instead of the webpki roots (the simulator writes one).
    pub ca_file: Option<PathBuf>,
    /// TLS server name instead of the URL's host (`localhost` for the simulator).
    pub server_name: Option<String>,
    /// Symbols; each instrument's id goes into its records.
    pub symbols: Vec<Instrument>,
    /// REST snapshot `limit` (Binance: at most 5000).
    pub depth_limit: usize,
}

impl BinanceFeedConfig {
    /// A config with the default depth limit, no CA file and no server-name override.
    pub fn new(ws_url: impl Into<String>, rest_url: impl Into<String>, symbols: Vec<Instrument>) -> Self {
        Self {
            ws_url: ws_url.into(),
            rest_url: rest_url.into(),
            ca_file: None,
            server_name: None,
            symbols,
            depth_limit: DEFAULT_DEPTH_LIMIT,
        }
    }
}

/// The feed's counters. Written only by the core thread (plain load + store, no locked
/// instruction), readable from any thread through [`BinanceFeed::counters_handle`].
#[derive(Debug, Default)]
pub struct BinanceCounters {
    messages: AtomicU64,
    records: AtomicU64,
    parse_errors: [AtomicU64; ParseError::REASONS],
    diffs_applied: AtomicU64,
    gaps: AtomicU64,
    resyncs: AtomicU64,
    snapshots_applied: AtomicU64,
    stale_snapshots: AtomicU64,
    snapshot_failures: AtomicU64,
    buffer_overflows: AtomicU64,
    connects: AtomicU64,
    reconnects: AtomicU64,
    disconnects: AtomicU64,
    connect_failures: AtomicU64,
}

#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

#[inline]
fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// A copy of [`BinanceCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinanceCountersSnapshot {
    /// WebSocket data frames received.
    pub messages: u64,
    /// Records emitted.
    pub records: u64,
    /// Refused frames by reason (index: [`ParseError::reason_index`], name:
    /// [`ParseError::reason_name`]).
    pub parse_errors: [u64; ParseError::REASONS],
    /// Depth diffs applied to an in-sync book (buffered ones count when the snapshot lands).
    pub diffs_applied: u64,
    /// Sequence gaps (`U != previous u + 1`, or a snapshot followed by a non-bridging diff).
    pub gaps: u64,
    /// Resyncs started (gaps, unreadable depth frames, reconnects: one per symbol).
    pub resyncs: u64,
    /// Snapshots emitted.
    pub snapshots_applied: u64,
    /// Snapshots older than the buffered diffs (fetched again).
    pub stale_snapshots: u64,
    /// Snapshot fetches that failed after retries.
    pub snapshot_failures: u64,
    /// Diff buffers that overflowed while waiting for a snapshot.
    pub buffer_overflows: u64,
    /// WebSocket sessions opened.
    pub connects: u64,
    /// Sessions opened after the first (reconnections).
    pub reconnects: u64,
    /// Open sessions lost.
    pub disconnects: u64,
    /// Connection attempts that failed before the session opened.
    pub connect_failures: u64,
}

impl BinanceCountersSnapshot {
    /// Refused frames, all reasons.
    pub fn parse_errors_total(&self) -> u64 {
        self.parse_errors.iter().sum()
    }
}

impl BinanceCounters {
    /// A consistent-enough copy (each field read once, relaxed).
    pub fn snapshot(&self) -> BinanceCountersSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BinanceCountersSnapshot {
            messages: r(&self.messages),
            records: r(&self.records),
            parse_errors: std::array::from_fn(|i| r(&self.parse_errors[i])),
            diffs_applied: r(&self.diffs_applied),
            gaps: r(&self.gaps),
            resyncs: r(&self.resyncs),
            snapshots_applied: r(&self.snapshots_applied),
            stale_snapshots: r(&self.stale_snapshots),
            snapshot_failures: r(&self.snapshot_failures),
            buffer_overflows: r(&self.buffer_overflows),
            connects: r(&self.connects),
            reconnects: r(&self.reconnects),
            disconnects: r(&self.disconnects),
            connect_failures: r(&self.connect_failures),
        }
    }
}

/// Everything below the socket: parser, per-symbol sync, counters. Split from the socket so a
/// frame borrowed from the WebSocket is handled in place; public so replay and tests can drive
/// the exact parse → sync → emit path without a socket. Core thread; allocates only in
/// [`Decoder::new`] and on cold paths (snapshots, resyncs).
pub struct Decoder {
    instruments: Vec<Instrument>,
    parser: FrameParser,
    syncs: Vec<DepthSync>,
    scratch: Vec<MarketEvent>,
    counters: Arc<BinanceCounters>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("symbols", &self.syncs.len()).finish()
    }
}

impl Decoder {
    /// A decoder for `symbols` (index in the slice = symbol index).
    pub fn new(symbols: &[Instrument]) -> Self {
        Self {
            instruments: symbols.to_vec(),
            parser: FrameParser::new(symbols),
            syncs: symbols
                .iter()
                .map(|s| DepthSync::new(s.id(), sync::DEFAULT_BUFFER_RECORDS, sync::DEFAULT_BUFFER_DIFFS))
                .collect(),
            scratch: Vec::with_capacity(16 * 1024),
            counters: Arc::new(BinanceCounters::default()),
        }
    }

    /// The counters now.
    pub fn counters(&self) -> BinanceCountersSnapshot {
        self.counters.snapshot()
    }

    /// Symbol `index`'s sync state machine.
    pub fn sync(&self, index: usize) -> Option<&DepthSync> {
        self.syncs.get(index)
    }

    /// If symbol `index` wants a snapshot, the generation to request it with.
    pub fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        self.syncs.get_mut(index)?.take_snapshot_request()
    }

    /// Applies a snapshot for symbol `index` answering request `generation`.
    #[cold]
    pub fn on_snapshot(
        &mut self,
        index: usize,
        snap: &parse::DepthSnapshot,
        generation: u64,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        let c = &self.counters;
        let Some(sync) = self.syncs.get_mut(index) else { return SnapshotOutcome::Ignored };
        let outcome = sync.on_snapshot(snap, generation, now, emit);
        match outcome {
            SnapshotOutcome::Synced { applied } => {
                bump(&c.snapshots_applied);
                add(&c.diffs_applied, applied as u64);
            }
            SnapshotOutcome::TooOld => bump(&c.stale_snapshots),
            SnapshotOutcome::Gap => {
                bump(&c.snapshots_applied);
                bump(&c.gaps);
                bump(&c.resyncs);
            }
            SnapshotOutcome::Ignored => {}
        }
        outcome
    }

    /// One WebSocket data frame (a combined-stream message).
    #[inline]
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        bump(&self.counters.messages);
        match self.parser.parse_frame(frame, now, &mut self.scratch) {
            Ok(Parsed::Depth { symbol, first, last }) => {
                let Some(sync) = self.syncs.get_mut(symbol) else { return };
                match sync.on_diff(first, last, &mut self.scratch, now, emit) {
                    DiffOutcome::Applied => bump(&self.counters.diffs_applied),
                    DiffOutcome::Buffered | DiffOutcome::Stale => {}
                    DiffOutcome::Gap => {
                        bump(&self.counters.gaps);
                        bump(&self.counters.resyncs);
                    }
                    DiffOutcome::Overflow => bump(&self.counters.buffer_overflows),
                }
            }
            Ok(Parsed::BookTicker { .. } | Parsed::Trade { .. }) => {
                for ev in &self.scratch {
                    emit(ev);
                }
            }
            Ok(Parsed::Control) => {}
            Err(failure) => self.on_bad_frame(failure, now, emit),
        }
    }

    #[cold]
    fn on_bad_frame(&mut self, failure: parse::ParseFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        bump(&self.counters.parse_errors[failure.error.reason_index()]);
        log::warn!("binance: frame refused: {}", failure.error);
        // A lost diff breaks the book: resync that symbol now rather than at its next diff.
        // (An unreadable frame whose stream cannot be told is caught by the next diff's `U`.)
        if let Some((symbol, StreamKind::Depth)) = failure.stream
            && let Some(sync) = self.syncs.get_mut(symbol)
        {
            sync.reset(now, emit);
            bump(&self.counters.resyncs);
        }
    }

    /// Connection lost: every book is invalid until its resync.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        for sync in &mut self.syncs {
            sync.reset(now, emit);
            bump(&self.counters.resyncs);
        }
    }
}

impl crate::decoder::VenueDecoder for Decoder {
    fn venue(&self) -> qt_core::Venue {
        qt_core::Venue::Binance
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let mut records = 0u64;
        Decoder::on_frame(self, frame, now, &mut |ev: &MarketEvent| {
            records += 1;
            emit(ev);
        });
        let c = &self.counters.records;
        c.store(c.load(std::sync::atomic::Ordering::Relaxed) + records, std::sync::atomic::Ordering::Relaxed);
    }

    #[cold]
    fn on_snapshot_body(&mut self, index: usize, body: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let Some(instrument) = self.instruments.get(index) else { return false };
        let mut owned = body.to_vec();
        let Ok(snap) = parse::parse_depth_snapshot(&mut owned, instrument) else {
            bump(&self.counters.snapshot_failures);
            return false;
        };
        let Some(generation) = self.take_snapshot_request(index) else { return false };
        !matches!(self.on_snapshot(index, &snap, generation, now, emit), SnapshotOutcome::Ignored)
    }

    fn wants_snapshot(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(DepthSync::wants_snapshot)
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_disconnect(self, now, emit);
    }

    fn stats(&self) -> crate::decoder::DecoderStats {
        let c = self.counters.snapshot();
        crate::decoder::DecoderStats {
            messages: c.messages,
            records: c.records,
            parse_errors: c.parse_errors.iter().sum(),
            gaps: c.gaps,
            checksum_ok: 0,
            checksum_failed: 0,
            resyncs: c.resyncs,
        }
    }
}

/// The Binance spot market-data feed.
pub struct BinanceFeed {
    name: String,
    ws: WsClient,
    decoder: Decoder,
    fetcher: SnapshotFetcher,
    ever_connected: bool,
}

impl std::fmt::Debug for BinanceFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceFeed").field("name", &self.name).field("ws", &self.ws).finish()
    }
}

impl BinanceFeed {
    /// Validates `cfg` (every problem at once), resolves the hosts, builds TLS and starts the
    /// snapshot thread. Blocking start-up work (DNS, CA file): call before the core loop.
    pub fn new(cfg: BinanceFeedConfig) -> Result<Self, FeedError> {
        let mut problems = Vec::new();
        let ws = Endpoint::parse(&cfg.ws_url, "ws_url").map_err(|e| problems.push(e.to_string())).ok();
        let rest = Endpoint::parse(&cfg.rest_url, "rest_url").map_err(|e| problems.push(e.to_string())).ok();
        if cfg.symbols.is_empty() {
            problems.push("symbols: empty (expected at least one instrument)".into());
        }
        if !(1..=5000).contains(&cfg.depth_limit) {
            problems.push(format!("depth_limit: {} is outside 1..=5000", cfg.depth_limit));
        }
        for (i, s) in cfg.symbols.iter().enumerate() {
            if cfg.symbols[..i].iter().any(|o| o.symbol() == s.symbol()) {
                problems.push(format!("symbols[{i}]: {} is listed twice", s.symbol()));
            }
        }
        let (Some(ws_ep), Some(rest_ep)) = (ws, rest) else {
            return Err(FeedError::Config { field: "binance", problem: problems.join("; ") });
        };
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "binance", problem: problems.join("; ") });
        }
        let tls = tls::client_config(cfg.ca_file.as_deref())?;
        let streams: Vec<String> =
            cfg.symbols.iter().flat_map(|s| StreamKind::ALL.map(|k| parse::stream_name(s.symbol(), k))).collect();
        let target = format!("{}/stream?streams={}", ws_ep.target.trim_end_matches('/'), streams.join("/"));
        let ws_addrs = ws_ep.resolve()?;
        let seed = ws_addrs.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, a| h.rotate_left(7) ^ u64::from(a.port()))
            ^ std::process::id() as u64;
        let ws = WsClient::new(
            &ws_ep,
            ws_addrs,
            &target,
            ws_ep.server_name(cfg.server_name.as_deref())?,
            tls.clone(),
            Backoff::new(RECONNECT_BASE, RECONNECT_CAP, seed),
        );
        let rest_addrs = rest_ep.resolve()?;
        let rest_name = rest_ep.server_name(cfg.server_name.as_deref())?;
        let client = HttpsClient::new(rest_ep, rest_addrs, rest_name, tls);
        let fetcher = SnapshotFetcher::spawn(client, cfg.symbols.clone(), cfg.depth_limit)?;
        let names: Vec<&str> = cfg.symbols.iter().map(|s| s.symbol()).collect();
        Ok(Self {
            name: format!("binance:{}", names.join(",")),
            ws,
            decoder: Decoder::new(&cfg.symbols),
            fetcher,
            ever_connected: false,
        })
    }

    /// The counters now.
    pub fn counters(&self) -> BinanceCountersSnapshot {
        self.decoder.counters.snapshot()
    }

    /// A handle to read the counters from another thread.
    pub fn counters_handle(&self) -> Arc<BinanceCounters> {
        self.decoder.counters.clone()
    }

    /// Whether symbol `index` is in sync.
    pub fn is_synced(&self, index: usize) -> bool {
        self.decoder.syncs.get(index).is_some_and(|s| s.is_synced())
    }

    /// Whether the WebSocket session is open.
    pub fn is_connected(&self) -> bool {
        self.ws.is_open()
    }

    #[cold]
    fn on_ws_closed(&mut self, reason: CloseReason, was_open: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &self.decoder.counters;
        if was_open {
            bump(&c.disconnects);
            log::warn!("{}: connection lost ({reason:?}); reconnecting", self.name);
            self.decoder.on_disconnect(now, emit);
        } else {
            bump(&c.connect_failures);
        }
    }

    #[cold]
    fn on_ws_opened(&mut self) {
        let c = &self.decoder.counters;
        bump(&c.connects);
        if self.ever_connected {
            bump(&c.reconnects);
        }
        self.ever_connected = true;
    }

    /// Snapshot answers in, requests out. No blocking: `try_recv` / `try_send`.
    #[inline]
    fn service_snapshots(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        while let Some(reply) = self.fetcher.try_reply() {
            self.on_snapshot_reply(reply, now, emit);
        }
        for (symbol, sync) in self.decoder.syncs.iter_mut().enumerate() {
            if let Some(generation) = sync.take_snapshot_request()
                && !self.fetcher.try_request(SnapshotRequest { symbol, generation })
            {
                sync.retry_snapshot_request();
            }
        }
    }

    #[cold]
    fn on_snapshot_reply(
        &mut self,
        reply: crate::snapshot::SnapshotReply,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        match reply.result {
            Ok(snap) => {
                self.decoder.on_snapshot(reply.symbol, &snap, reply.generation, now, emit);
            }
            Err(why) => {
                bump(&self.decoder.counters.snapshot_failures);
                log::warn!("{}: snapshot failed: {why}", self.name);
                if let Some(sync) = self.decoder.syncs.get_mut(reply.symbol)
                    && reply.generation == sync.generation()
                {
                    sync.retry_snapshot_request();
                }
            }
        }
    }
}

impl FeedSource for BinanceFeed {
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
            self.on_ws_opened();
        }
        self.service_snapshots(local_now, &mut emit);
        add(&self.decoder.counters.records, emitted as u64);
        emitted
    }

    fn state(&self) -> FeedState {
        if self.ws.is_open() && self.decoder.syncs.iter().all(DepthSync::is_synced) {
            FeedState::Live
        } else {
            FeedState::Recovering
        }
    }
}
