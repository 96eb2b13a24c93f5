//! [`WsFeed`]: the live WebSocket [`FeedSource`] shared by venues whose book snapshot arrives
//! *in* the stream (OKX, Kraken; Bybit's protocol has the same shape). A venue supplies only
//! what differs — a [`StreamVenue`] (URL path, request frames, heartbeat rule, reconnect policy)
//! and its [`StreamDecoder`] (parse, sequence/checksum rules, which books need a resubscribe) —
//! and this layer does the rest on top of [`crate::ws::WsClient`]:
//!
//! - **Connect** (TLS over a mio socket, resumed on readiness; never blocks) and, after every
//!   open, send [`StreamVenue::subscribe_requests`]. A reconnect therefore re-subscribes
//!   everything, and the venue's fresh snapshots resync every book.
//! - **Resync one book**: when the decoder reports a gap, a checksum mismatch or an unreadable
//!   book frame it invalidates that book (one `CLEAR` record without `BATCH_END`, so the engine
//!   marks its book invalid and never trades on it) and asks for a resubscribe
//!   ([`StreamDecoder::take_resubscribe`]); the feed sends
//!   [`StreamVenue::resubscribe_requests`] (typically unsubscribe + subscribe of that book).
//!   A book the engine's book refused — crossed or locked, or a level it cannot hold
//!   ([`FeedSource::on_book_refused`]) — takes the same path through
//!   [`VenueDecoder::on_book_refused`].
//!   A book still without a snapshot [`StreamVenue::snapshot_timeout`] after its
//!   (re)subscription is resubscribed again (a refused or lost request must not leave it
//!   invalid forever).
//! - **Heartbeats**: WebSocket pings are answered by tungstenite inside `ws`; the venue's
//!   application-level rule is a [`Heartbeat`] (send a text every interval, or only after an
//!   interval of silence, as OKX asks). A connection silent for
//!   [`StreamVenue::silence_timeout`] (the venue stopped even its heartbeats) is dropped and
//!   reconnected.
//! - **Reconnect** with exponential backoff and jitter ([`crate::ws::Backoff`], policy from
//!   [`StreamVenue::reconnect_policy`]); the backoff resets once frames flow again.
//!
//! Thread and contract: owned and polled by the core thread; `poll` never blocks. The steady
//! state (frames in → decoder → records out) adds no allocation here; the read path allocates
//! only inside rustls/tungstenite (see `ws`). Sending a request (subscribe, ping, resubscribe)
//! is a cold path and allocates one frame. Request texts are built once at start-up. With the
//! journal's raw-frame tap set ([`FeedSource::set_raw_tap`]) every frame the decoder is given is
//! copied to it first (a ring copy, never a wait).

use crate::decoder::VenueDecoder;
use crate::endpoint::Endpoint;
use crate::error::FeedError;
use crate::tls;
use crate::ws::{Backoff, CloseReason, WsClient};
use qt_core::feed_source::FeedState;
use qt_core::journal_raw::{RawFrameKind, RawFrameTap};
use qt_core::{FeedSource, FeedStats, Instrument, InstrumentId, MarketEvent, Nanos};
use std::path::PathBuf;

/// A venue's application-level heartbeat rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heartbeat {
    /// The venue needs none (its WebSocket pings, answered by tungstenite, are enough).
    None,
    /// Send `text` every `interval` (Bybit `{"op":"ping"}`, Kraken `{"method":"ping"}`).
    Every {
        /// The request frame.
        text: String,
        /// How often.
        interval: Nanos,
    },
    /// Send `text` once nothing has been received for `interval` (OKX: "if there's no message
    /// within N seconds (N < 30), send the string 'ping'").
    WhenSilent {
        /// The request frame.
        text: String,
        /// How long a silence triggers it.
        interval: Nanos,
    },
}

/// The venue-specific decoder side of a [`WsFeed`]: a [`VenueDecoder`] that also tells which
/// books are valid and which must be resubscribed. Implemented by `okx::Decoder` and
/// `kraken::Decoder`.
pub trait StreamDecoder: VenueDecoder {
    /// Number of symbols (books) the decoder tracks; indices are `0..symbols()`.
    fn symbols(&self) -> usize;
    /// Whether symbol `index`'s book is valid (a snapshot applied, nothing broken since).
    fn is_live(&self, index: usize) -> bool;
    /// Whether symbol `index`'s book must be resubscribed (after a gap, a checksum mismatch, an
    /// unreadable book frame), clearing the request: the caller resubscribes now.
    fn take_resubscribe(&mut self, index: usize) -> bool;
    /// [`Self::take_resubscribe`] without clearing.
    fn wants_resubscribe(&self, index: usize) -> bool;
}

/// Implements [`StreamDecoder`] for a decoder with a `books: Vec<_>` field (one per symbol) and
/// inherent `is_live`, `take_resubscribe` and `wants_resubscribe` methods (the OKX and Kraken
/// decoders); invoked inside the decoder's own module tree, where `books` is visible.
macro_rules! stream_decoder_by_books {
    ($decoder:ty) => {
        impl $crate::ws_feed::StreamDecoder for $decoder {
            fn symbols(&self) -> usize {
                self.books.len()
            }

            fn is_live(&self, index: usize) -> bool {
                <$decoder>::is_live(self, index)
            }

            fn take_resubscribe(&mut self, index: usize) -> bool {
                <$decoder>::take_resubscribe(self, index)
            }

            fn wants_resubscribe(&self, index: usize) -> bool {
                <$decoder>::wants_resubscribe(self, index)
            }
        }
    };
}
pub(crate) use stream_decoder_by_books;

/// What differs between venues on a live WebSocket feed with in-stream snapshots. Every method
/// is called at start-up or on cold paths (connect, resubscribe, heartbeat), never per frame.
pub trait StreamVenue: Send {
    /// The decoder of this venue's frames.
    type Decoder: StreamDecoder;

    /// Lower-case venue name for the feed name and logs (`okx`, `kraken`).
    fn name(&self) -> &'static str;

    /// The request target (path and query) to open, given the configured URL's own target
    /// (`/` when the URL has none). OKX appends `/ws/v5/public`, Kraken `/v2`.
    fn ws_target(&self, configured: &str) -> String;

    /// Requests sent after every (re)connect, one text frame each, covering every channel of
    /// every symbol (split as the venue's per-request limits require).
    fn subscribe_requests(&self) -> Vec<String>;

    /// Requests that renew symbol `index`'s book subscription so the venue sends a fresh
    /// snapshot (typically unsubscribe then subscribe of that one book), sent in order.
    fn resubscribe_requests(&self, index: usize) -> Vec<String>;

    /// The application-level heartbeat rule.
    fn heartbeat(&self) -> Heartbeat;

    /// A connection that received nothing for this long is dead: drop it and reconnect.
    /// Should exceed the heartbeat interval plus the venue's reply time.
    fn silence_timeout(&self) -> Nanos;

    /// First and largest reconnect delay (before jitter).
    fn reconnect_policy(&self) -> (Nanos, Nanos) {
        (Nanos(100_000_000), Nanos(5_000_000_000))
    }

    /// A book still without a snapshot this long after its (re)subscription is resubscribed.
    fn snapshot_timeout(&self) -> Nanos {
        Nanos(5_000_000_000)
    }
}

/// Where a [`WsFeed`] connects: what every venue's live config has in common.
#[derive(Debug, Clone)]
pub struct WsFeedConfig {
    /// WebSocket base, e.g. `wss://ws.okx.com:8443` (the venue appends its path).
    pub ws_url: String,
    /// PEM CA file to trust instead of the webpki roots (the simulator writes one).
    pub ca_file: Option<PathBuf>,
    /// TLS server name instead of the URL's host (`localhost` for the simulator).
    pub server_name: Option<String>,
    /// Symbols; index in the list = symbol index; each instrument's id goes into its records.
    pub symbols: Vec<Instrument>,
}

/// Connection-level counters of a [`WsFeed`] (the decoder counts frames, gaps, checksums).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WsFeedCounters {
    /// WebSocket sessions opened.
    pub connects: u64,
    /// Sessions opened after the first.
    pub reconnects: u64,
    /// Open sessions lost (including those dropped for silence).
    pub disconnects: u64,
    /// Open sessions dropped because nothing arrived for the silence timeout.
    pub silence_drops: u64,
    /// Connection attempts that failed before the session opened.
    pub connect_failures: u64,
    /// Application-level heartbeats sent.
    pub heartbeats: u64,
    /// Book resubscriptions sent (after a decoder request or a snapshot timeout).
    pub resubscribes: u64,
    /// Books that waited longer than the snapshot timeout.
    pub snapshot_timeouts: u64,
}

/// The live feed of one venue connection (see the module doc).
pub struct WsFeed<V: StreamVenue> {
    name: String,
    venue: V,
    ws: WsClient,
    decoder: V::Decoder,
    subscribe_all: Vec<String>,
    resubscribe: Vec<Vec<String>>,
    heartbeat: Heartbeat,
    silence_timeout: Nanos,
    snapshot_timeout: Nanos,
    /// When a frame last arrived (or the session opened).
    last_frame: Nanos,
    /// When the last heartbeat went out.
    last_heartbeat: Nanos,
    /// Per symbol: when its book was last (re)subscribed.
    subscribed_at: Vec<Nanos>,
    ever_connected: bool,
    counters: WsFeedCounters,
    /// Per symbol: its instrument (to find the symbol of a book the engine found crossed).
    ids: Vec<InstrumentId>,
    /// The journal's raw-frame tap (`[journal] raw_frames`).
    raw: Option<RawFrameTap>,
}

impl<V: StreamVenue> std::fmt::Debug for WsFeed<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsFeed").field("name", &self.name).field("ws", &self.ws).finish()
    }
}

impl<V: StreamVenue> WsFeed<V> {
    /// Validates the common config (every problem at once, named by field), resolves the host
    /// and builds TLS; `decoder` must track `cfg.symbols` in the same order. Blocking start-up
    /// work (DNS, CA file): call before the core loop.
    pub fn new(cfg: &WsFeedConfig, venue: V, decoder: V::Decoder) -> Result<Self, FeedError> {
        let field = venue.name();
        let mut problems = Vec::new();
        let endpoint = Endpoint::parse(&cfg.ws_url, "ws_url").map_err(|e| problems.push(e.to_string())).ok();
        if cfg.symbols.is_empty() {
            problems.push("symbols: empty (expected at least one instrument)".into());
        }
        for (i, s) in cfg.symbols.iter().enumerate() {
            if cfg.symbols[..i].iter().any(|o| o.symbol() == s.symbol()) {
                problems.push(format!("symbols[{i}]: {} is listed twice", s.symbol()));
            }
        }
        if decoder.symbols() != cfg.symbols.len() {
            problems.push(format!(
                "symbols: the decoder tracks {} symbols, the config lists {}",
                decoder.symbols(),
                cfg.symbols.len()
            ));
        }
        let heartbeat = venue.heartbeat();
        if let Heartbeat::Every { interval, .. } | Heartbeat::WhenSilent { interval, .. } = &heartbeat
            && *interval <= Nanos::ZERO
        {
            problems.push(format!("heartbeat interval: {} ns is not positive", interval.0));
        }
        if venue.silence_timeout() <= Nanos::ZERO {
            problems.push(format!("silence_timeout: {} ns is not positive", venue.silence_timeout().0));
        }
        let Some(endpoint) = endpoint.filter(|_| problems.is_empty()) else {
            return Err(FeedError::Config { field, problem: problems.join("; ") });
        };
        let tls = tls::client_config(cfg.ca_file.as_deref())?;
        let addrs = endpoint.resolve()?;
        // Jitter seed: differs between processes and endpoints so reconnect storms spread.
        let seed = addrs.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, a| h.rotate_left(7) ^ u64::from(a.port()))
            ^ u64::from(std::process::id());
        let (base, cap) = venue.reconnect_policy();
        let ws = WsClient::new(
            &endpoint,
            addrs,
            &venue.ws_target(&endpoint.target),
            endpoint.server_name(cfg.server_name.as_deref())?,
            tls,
            Backoff::new(base, cap, seed),
        );
        let names: Vec<&str> = cfg.symbols.iter().map(Instrument::symbol).collect();
        Ok(Self {
            name: format!("{}:{}", venue.name(), names.join(",")),
            subscribe_all: venue.subscribe_requests(),
            resubscribe: (0..cfg.symbols.len()).map(|i| venue.resubscribe_requests(i)).collect(),
            silence_timeout: venue.silence_timeout(),
            snapshot_timeout: venue.snapshot_timeout(),
            heartbeat,
            venue,
            ws,
            decoder,
            last_frame: Nanos::ZERO,
            last_heartbeat: Nanos::ZERO,
            subscribed_at: vec![Nanos::ZERO; cfg.symbols.len()],
            ever_connected: false,
            counters: WsFeedCounters::default(),
            ids: cfg.symbols.iter().map(Instrument::id).collect(),
            raw: None,
        })
    }

    /// Connection counters.
    pub fn counters(&self) -> WsFeedCounters {
        self.counters
    }

    /// The decoder (book state and its counters).
    pub fn decoder(&self) -> &V::Decoder {
        &self.decoder
    }

    /// The venue description.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// Whether symbol `index`'s book is valid.
    pub fn is_synced(&self, index: usize) -> bool {
        self.decoder.is_live(index)
    }

    /// Whether the WebSocket session is open.
    pub fn is_connected(&self) -> bool {
        self.ws.is_open()
    }

    #[cold]
    fn on_closed(&mut self, reason: CloseReason, was_open: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if was_open {
            self.counters.disconnects += 1;
            log::warn!("{}: connection lost ({reason:?}); reconnecting", self.name);
            self.decoder.on_disconnect(now, emit);
        } else {
            self.counters.connect_failures += 1;
        }
    }

    #[cold]
    fn on_opened(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.connects += 1;
        self.counters.reconnects += u64::from(self.ever_connected);
        self.ever_connected = true;
        self.last_frame = now;
        self.last_heartbeat = now;
        self.subscribed_at.fill(now);
        let requests = std::mem::take(&mut self.subscribe_all);
        let sent = self.send_all(&requests, now, emit);
        self.subscribe_all = requests;
        if sent {
            // Breaks seen before the reconnect are answered by the new subscription's snapshots.
            for i in 0..self.subscribed_at.len() {
                self.decoder.take_resubscribe(i);
            }
        }
    }

    /// Sends `texts` in order; false (and the connection handled as lost) if a write failed.
    #[cold]
    fn send_all(&mut self, texts: &[String], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        for text in texts {
            if let Err(reason) = self.ws.send_text(text, now) {
                self.on_closed(reason, true, now, emit);
                return false;
            }
        }
        true
    }

    /// Whether symbol `index` has waited longer than the snapshot timeout for its snapshot.
    #[inline]
    fn snapshot_overdue(&self, index: usize, now: Nanos) -> bool {
        !self.decoder.is_live(index)
            && self.subscribed_at.get(index).is_some_and(|at| now.saturating_sub(*at) >= self.snapshot_timeout)
    }

    #[inline]
    fn heartbeat_due(&self, now: Nanos) -> bool {
        match &self.heartbeat {
            Heartbeat::None => false,
            Heartbeat::Every { interval, .. } => now.saturating_sub(self.last_heartbeat) >= *interval,
            Heartbeat::WhenSilent { interval, .. } => {
                now.saturating_sub(self.last_frame) >= *interval && now.saturating_sub(self.last_heartbeat) >= *interval
            }
        }
    }

    /// Whether any cold work is due: a heartbeat, a resubscription, an overdue snapshot, a
    /// silence long enough to drop the connection.
    #[inline]
    fn work_due(&self, now: Nanos) -> bool {
        self.heartbeat_due(now)
            || now.saturating_sub(self.last_frame) >= self.silence_timeout
            || (0..self.subscribed_at.len()).any(|i| self.decoder.wants_resubscribe(i) || self.snapshot_overdue(i, now))
    }

    #[cold]
    fn service(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if now.saturating_sub(self.last_frame) >= self.silence_timeout {
            log::warn!("{}: nothing received for {} ms; reconnecting", self.name, self.silence_timeout.0 / 1_000_000);
            self.counters.silence_drops += 1;
            self.ws.disconnect(now);
            self.on_closed(CloseReason::Io, true, now, emit);
            return;
        }
        for symbol in 0..self.subscribed_at.len() {
            let overdue = self.snapshot_overdue(symbol, now);
            if self.decoder.take_resubscribe(symbol) || overdue {
                self.counters.resubscribes += 1;
                self.counters.snapshot_timeouts += u64::from(overdue);
                self.subscribed_at[symbol] = now;
                log::info!("{}: resubscribing the book of symbol {symbol}", self.name);
                let texts = std::mem::take(&mut self.resubscribe[symbol]);
                let sent = self.send_all(&texts, now, emit);
                self.resubscribe[symbol] = texts;
                if !sent {
                    return;
                }
            }
        }
        if self.heartbeat_due(now) {
            self.last_heartbeat = now;
            self.counters.heartbeats += 1;
            let result = match &self.heartbeat {
                Heartbeat::Every { text, .. } | Heartbeat::WhenSilent { text, .. } => self.ws.send_text(text, now),
                Heartbeat::None => Ok(false),
            };
            if let Err(reason) = result {
                self.on_closed(reason, true, now, emit);
            }
        }
    }
}

impl<V: StreamVenue> FeedSource for WsFeed<V> {
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
        let raw = &mut self.raw;
        let progress = self.ws.poll(local_now, &mut |frame: &[u8]| {
            if let Some(raw) = raw {
                raw.tap(RawFrameKind::WsText, 0, local_now, frame);
            }
            decoder.on_frame(frame, local_now, &mut emit);
        });
        if progress.frames > 0 {
            self.last_frame = local_now;
            self.ws.reset_backoff();
        }
        if let Some(reason) = progress.closed {
            self.on_closed(reason, was_open || progress.opened, local_now, &mut emit);
        }
        if progress.opened {
            self.on_opened(local_now, &mut emit);
        }
        if self.ws.is_open() && self.work_due(local_now) {
            self.service(local_now, &mut emit);
        }
        emitted
    }

    /// Resyncs the book like a gap: the decoder invalidates it and asks for the resubscribe
    /// the next [`Self::poll`] sends.
    #[cold]
    fn on_book_refused(
        &mut self,
        instrument: InstrumentId,
        reason: qt_core::BookError,
        local_now: Nanos,
        sink: &mut dyn FnMut(&MarketEvent),
    ) {
        crate::decoder::resync_refused(&mut self.decoder, &self.ids, instrument, reason, local_now, sink);
    }

    fn set_raw_tap(&mut self, tap: RawFrameTap) {
        self.raw = Some(tap);
    }

    fn stats(&self) -> Option<FeedStats> {
        Some(self.decoder.stats())
    }

    fn book_gaps(&self, instrument: InstrumentId) -> Option<u64> {
        crate::decoder::gaps_of(&self.decoder, &self.ids, instrument)
    }

    fn state(&self) -> FeedState {
        if self.ws.is_open() && (0..self.subscribed_at.len()).all(|i| self.decoder.is_live(i)) {
            FeedState::Live
        } else {
            FeedState::Recovering
        }
    }
}
