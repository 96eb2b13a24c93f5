//! [`LiveFeed`]: the one live layer every WebSocket venue runs on, as one [`FeedSource`] polled
//! by the core thread. A venue supplies only its connect step — a [`LiveVenue`] in its
//! `connect.rs` (URLs, subscription frames, heartbeat rule, reconnect policy, session opening,
//! snapshot targets) — and a decoder that is a [`LiveDecoder`]; this layer does the rest:
//!
//! - **Connect** (`session.rs`): TLS WebSocket over a mio socket ([`crate::ws::WsClient`]),
//!   advanced on readiness, never blocking. The session is the configured URL (resolved once at
//!   start-up), or — for a venue that [`LiveVenue::opens_sessions`] — opened over REST on the
//!   snapshot thread before every connect (KuCoin's bullet token).
//! - **Subscribe** once the session is open, or, for venues that greet first (KuCoin's
//!   `welcome`), once the greeting arrives; symbols can be (un)subscribed on a live session
//!   where the venue allows it ([`LiveFeed::set_subscribed`]).
//! - **Heartbeat and silence** ([`heartbeat`]): the venue's application-level rule (every
//!   interval, or after an interval of silence as OKX asks); a session silent for the silence
//!   timeout is dropped.
//! - **Reconnect** (`reconnect.rs`) after an exponential backoff with jitter; the backoff resets
//!   once frames flow again. A lost session invalidates every book (the decoder's
//!   `on_disconnect`).
//! - **Resync** (`resync.rs`): every session subscribes everything again and the venue's fresh
//!   snapshots resync the books; a book the decoder (or the engine's book, through
//!   [`FeedSource::on_book_refused`]) finds broken is resubscribed, or — for venues that sync
//!   against REST — re-snapshotted from the optional snapshot thread (`snapshot_source.rs`).
//! - **Counters** ([`counters`]) of the connection; taps ([`tap`]) for `qt capture` and the
//!   journal's raw frames.
//!
//! Contract: `poll` never blocks (socket I/O on readiness, `try_send`/`try_recv` on the snapshot
//! channels); the frame → decoder → emit path adds no allocation here (the decoders' own
//! contracts apply; rustls/tungstenite are measured in `tests/no_alloc.rs`). Connect, subscribe,
//! heartbeat, resubscribe, snapshot and reconnect paths allocate and are `#[cold]`. With a tap
//! set every frame and REST body the decoder is given is copied to it first.

pub mod config;
pub mod counters;
pub mod heartbeat;
pub(crate) mod reconnect;
pub(crate) mod resync;
pub(crate) mod session;
pub(crate) mod snapshot_source;
pub mod tap;
pub mod venue;

pub use config::{LiveFeedConfig, WsFeedConfig, check_common};
pub use counters::LiveCounters;
pub use heartbeat::Heartbeat;
pub use tap::{Tap, Tapped};
pub(crate) use venue::deactivates;
pub use venue::{DEFAULT_SNAPSHOT_TIMEOUT, LiveDecoder, LiveVenue, RECONNECT_BASE, RECONNECT_CAP, SessionPlan};

use crate::decoder::VenueDecoder;
use crate::endpoint::Endpoint;
use crate::error::FeedError;
use crate::snapshot::HttpsClient;
use crate::tls;
use crate::ws::{Backoff, CloseReason};
use qt_core::feed_source::FeedState;
use qt_core::journal_raw::{RawFrameKind, RawFrameTap};
use qt_core::log_ring::FieldValue;
use qt_core::{FeedSource, FeedStats, Instrument, InstrumentId, MarketEvent, Nanos};
use reconnect::Link;
use resync::Resync;
use rustls::ClientConfig;
use session::{ReadySession, Session};
use snapshot_source::{Job, Reply, SnapshotSource};
use std::sync::Arc;
use tap::Outlets;

/// The live feed of venue `V` (see the module doc).
pub struct LiveFeed<V: LiveVenue> {
    name: String,
    venue: Arc<V>,
    decoder: V::Decoder,
    /// The snapshot thread, for venues with REST snapshots or session opening.
    source: Option<SnapshotSource>,
    /// The session of a venue that does not open one over REST, resolved at start-up.
    fixed: Option<ReadySession>,
    tls: Arc<ClientConfig>,
    registry: Option<mio::Registry>,
    token: usize,
    link: Link,
    backoff: Backoff,
    counters: LiveCounters,
    resync: Resync,
    outlets: Outlets,
}

impl<V: LiveVenue> std::fmt::Debug for LiveFeed<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed").field("name", &self.name).field("counters", &self.counters).finish()
    }
}

impl<V: LiveVenue> LiveFeed<V> {
    /// Validates what every venue shares (URLs the venue uses, symbols, that `venue` and
    /// `decoder` track `cfg.symbols`, the heartbeat; every problem at once, under the venue's
    /// name), builds TLS, resolves the fixed session's host or starts the snapshot thread.
    /// Venue-specific checks are the venue constructor's. Blocking start-up work (DNS, CA file):
    /// call before the core loop.
    #[cold]
    pub fn with_venue(venue: V, decoder: V::Decoder, cfg: &LiveFeedConfig) -> Result<Self, FeedError> {
        let uses_rest = venue.opens_sessions() || venue.snapshot_target(0).is_some();
        let mut problems = Vec::new();
        check_common(cfg, !venue.opens_sessions(), uses_rest, &mut problems);
        for (what, n) in [("venue", venue.symbol_count()), ("decoder", decoder.symbol_count())] {
            if n != cfg.symbols.len() {
                problems
                    .push(format!("symbols: the {what} tracks {n} symbols, the config lists {}", cfg.symbols.len()));
            }
        }
        heartbeat::check(&venue.heartbeat(), venue.silence_timeout(), &mut problems);
        if !problems.is_empty() {
            return Err(FeedError::Config { field: venue.name(), problem: problems.join("; ") });
        }
        let tls = tls::client_config(cfg.ca_file.as_deref())?;
        let fixed = if venue.opens_sessions() {
            None
        } else {
            let ws = Endpoint::parse(&cfg.ws_url, "ws_url")?;
            let plan = SessionPlan {
                url: ws.url_with_target(&venue.ws_target(&ws.target)),
                heartbeat: venue.heartbeat(),
                silence_timeout: venue.silence_timeout(),
            };
            Some(ReadySession::resolve(plan, cfg.server_name.as_deref())?)
        };
        let venue = Arc::new(venue);
        let (source, seed) = if uses_rest {
            let rest = Endpoint::parse(&cfg.rest_url, "rest_url")?;
            let addrs = rest.resolve()?;
            let seed = reconnect::jitter_seed(&addrs);
            let name = rest.server_name(cfg.server_name.as_deref())?;
            let client = HttpsClient::new(rest, addrs, name, tls.clone());
            (Some(SnapshotSource::spawn(venue.clone(), client, cfg.server_name.clone())?), seed)
        } else {
            (None, reconnect::jitter_seed(fixed.as_ref().map_or(&[], ReadySession::addrs)))
        };
        let (base, cap) = venue.reconnect_policy();
        let names: Vec<&str> = cfg.symbols.iter().map(Instrument::symbol).collect();
        Ok(Self {
            name: format!("{}:{}", venue.name(), names.join(",")),
            resync: Resync::new(&*venue, cfg.symbols.len()),
            venue,
            decoder,
            source,
            fixed,
            tls,
            registry: None,
            token: 0,
            link: Link::Waiting { retry_at: Nanos::ZERO },
            backoff: Backoff::new(base, cap, seed),
            counters: LiveCounters::default(),
            outlets: Outlets::new(cfg.symbols.iter().map(Instrument::id).collect()),
        })
    }

    /// Shows every raw frame and REST snapshot body to `tap` (`qt capture`); costs one branch
    /// per frame when unset.
    pub fn set_tap(&mut self, tap: Tap) {
        self.outlets.set_tap(tap);
    }

    /// The decoder (its venue-specific counters and sync states).
    pub fn decoder(&self) -> &V::Decoder {
        &self.decoder
    }

    /// The venue's connect step.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// Connection-level counters.
    pub fn link_counters(&self) -> LiveCounters {
        self.counters
    }

    /// Whether symbol `index` is in sync.
    pub fn is_synced(&self, index: usize) -> bool {
        self.decoder.is_synced(index)
    }

    /// Whether symbol `index` is subscribed.
    pub fn is_subscribed(&self, index: usize) -> bool {
        self.resync.active.get(index).copied().unwrap_or(false)
    }

    /// Whether the WebSocket session is open.
    pub fn is_connected(&self) -> bool {
        matches!(&self.link, Link::Connected(s) if s.ws.is_open())
    }

    /// Subscribes (`on`) or unsubscribes symbol `index`, where the venue can change one symbol's
    /// subscription on a live session ([`LiveVenue::change_requests`]): on an open session the
    /// venue's frames go out now, and every later session honours it. Unsubscribing invalidates
    /// the symbol's book (through `emit`) and the feed is live without it. Returns whether
    /// anything changed. Cold path (allocates the frames).
    #[cold]
    pub fn set_subscribed(&mut self, index: usize, on: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let Some(frames) = self.venue.change_requests(index, on) else { return false };
        match self.resync.active.get_mut(index) {
            Some(flag) if *flag != on => *flag = on,
            _ => return false,
        }
        self.decoder.set_active(index, on, now, emit);
        let Link::Connected(session) = &mut self.link else { return true };
        if !session.subscribed {
            return true; // not open or not greeted yet: the subscriptions will honour it
        }
        let mut failed = None;
        for frame in &frames {
            match session.ws.send_text(frame, now) {
                Ok(_) => self.counters.subscriptions_sent += 1,
                Err(reason) => {
                    failed = Some(reason);
                    break;
                }
            }
        }
        if let Some(reason) = failed {
            let was_open = session.was_open;
            self.on_closed(reason, was_open, now, emit);
        }
        true
    }

    /// A session ready to connect: start it (it connects on the next poll).
    #[cold]
    fn start_session(&mut self, ready: ReadySession, now: Nanos) {
        let Some(registry) = &self.registry else {
            self.link = Link::Waiting { retry_at: now };
            return;
        };
        match Session::start(ready, self.tls.clone(), self.backoff.clone(), registry, self.token) {
            Ok(session) => self.link = Link::Connected(Box::new(session)),
            Err(e) => {
                qt_core::core_log!(
                    Warn, "feed: registering the session failed", 0;
                    feed = FieldValue::text(&self.name), error = FieldValue::display(&e)
                );
                self.counters.connect_failures += 1;
                self.link = Link::Waiting { retry_at: now.saturating_add(self.backoff.next_delay()) };
            }
        }
    }

    /// The session ended (`was_open`: after it had opened): invalidate, and wait out the backoff.
    #[cold]
    fn on_closed(&mut self, reason: CloseReason, was_open: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if was_open {
            self.counters.disconnects += 1;
            qt_core::core_log!(
                Warn, "feed: connection lost; reconnecting", 0;
                feed = FieldValue::text(&self.name), reason = reason.name()
            );
            self.decoder.on_disconnect(now, emit);
        } else {
            self.counters.connect_failures += 1;
        }
        self.link = Link::Waiting { retry_at: now.saturating_add(self.backoff.next_delay()) };
    }

    #[cold]
    fn on_opened(&mut self) {
        self.counters.connects += 1;
        if self.counters.connects > 1 {
            self.counters.reconnects += 1;
        }
    }

    /// Sends the subscriptions; every book counts as (re)subscribed now, so breaks seen before
    /// are answered by the fresh snapshots. `Err` if the session broke while sending.
    #[cold]
    fn subscribe(&mut self, now: Nanos) -> Result<(), CloseReason> {
        let Link::Connected(session) = &mut self.link else { return Ok(()) };
        session.subscribed = true;
        for frame in self.venue.subscriptions(&self.resync.active) {
            session.ws.send_text(&frame, now)?;
            self.counters.subscriptions_sent += 1;
        }
        self.resync.all_subscribed(now);
        for i in 0..self.resync.len() {
            self.decoder.take_resubscribe(i);
        }
        Ok(())
    }

    /// Whether cold work is due on the open session: a heartbeat, a silence drop, a
    /// resubscription.
    #[inline]
    fn work_due(&self, session: &Session, now: Nanos) -> bool {
        session.live.beat_due(now) || session.live.is_silent(now) || self.resync.work_due(&self.decoder, now)
    }

    /// Drops a silent session, resubscribes the books that want it, sends a due heartbeat;
    /// `Err` if the session is dead or broke while sending.
    #[cold]
    fn service(&mut self, now: Nanos) -> Result<(), CloseReason> {
        let Link::Connected(session) = &mut self.link else { return Ok(()) };
        if session.live.is_silent(now) {
            qt_core::core_log!(
                Warn, "feed: nothing received for the silence timeout; reconnecting", 0;
                feed = FieldValue::text(&self.name)
            );
            self.counters.silence_drops += 1;
            session.ws.disconnect(now);
            return Err(CloseReason::Io);
        }
        for symbol in 0..self.resync.len() {
            if let Some(overdue) = self.resync.take(symbol, &mut self.decoder, now) {
                self.counters.resubscribes += 1;
                self.counters.snapshot_timeouts += u64::from(overdue);
                qt_core::core_log!(
                    Info, "feed: resubscribing a book", 0;
                    feed = FieldValue::text(&self.name), symbol_index = symbol
                );
                for text in self.resync.requests(symbol) {
                    session.ws.send_text(text, now)?;
                }
            }
        }
        if let Some(text) = session.live.take_beat(now) {
            self.counters.heartbeats += 1;
            session.ws.send_text(text, now)?;
        }
        Ok(())
    }

    /// The snapshot thread's answer.
    #[cold]
    fn on_reply(&mut self, reply: Reply, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        match reply {
            Reply::Session(Ok(ready)) => self.start_session(ready, now),
            Reply::Session(Err(why)) => {
                self.counters.session_failures += 1;
                qt_core::core_log!(
                    Warn, "feed: no session", 0;
                    feed = FieldValue::text(&self.name), why = FieldValue::text(&why)
                );
                self.link = Link::Waiting { retry_at: now.saturating_add(self.backoff.next_delay()) };
            }
            Reply::Snapshot { symbol, generation, result: Ok(mut body) } => {
                self.outlets.body(RawFrameKind::RestSnapshot, symbol, &body, now);
                self.decoder.on_snapshot_reply(symbol, generation, &mut body, now, emit);
            }
            Reply::Snapshot { symbol, generation, result: Err(why) } => {
                self.counters.snapshot_failures += 1;
                qt_core::core_log!(
                    Warn, "feed: snapshot failed", 0;
                    feed = FieldValue::text(&self.name), symbol_index = symbol, why = FieldValue::text(&why)
                );
                self.decoder.retry_snapshot_request(symbol, generation);
            }
        }
    }

    /// Snapshot answers in, requests out; starts (or asks for) a session when one is due. No
    /// blocking.
    #[inline]
    fn service_link(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        while let Some(reply) = self.source.as_ref().and_then(SnapshotSource::try_recv) {
            self.on_reply(reply, now, emit);
        }
        if let Some(source) = &self.source {
            for symbol in 0..self.resync.len() {
                if let Some(generation) = self.decoder.take_snapshot_request(symbol)
                    && !source.try_send(Job::Snapshot { symbol, generation })
                {
                    self.decoder.retry_snapshot_request(symbol, generation);
                }
            }
        }
        if let Link::Waiting { retry_at } = self.link
            && now >= retry_at
            && self.registry.is_some()
        {
            self.next_session(now);
        }
    }

    #[cold]
    fn next_session(&mut self, now: Nanos) {
        if let Some(ready) = &self.fixed {
            self.start_session(ready.clone(), now);
        } else if self.source.as_ref().is_some_and(|s| s.try_send(Job::Session)) {
            self.link = Link::Opening;
        }
    }
}

impl<V: LiveVenue> FeedSource for LiveFeed<V> {
    fn name(&self) -> &str {
        &self.name
    }

    fn register(&mut self, registry: &mio::Registry, token_base: usize) -> std::io::Result<bool> {
        self.registry = Some(registry.try_clone()?);
        self.token = token_base;
        Ok(true)
    }

    #[inline]
    fn on_ready(&mut self, _token: usize) {
        if let Link::Connected(session) = &mut self.link {
            session.ws.on_ready();
        }
    }

    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        let mut emitted = 0usize;
        let mut emit = |ev: &MarketEvent| {
            emitted += 1;
            sink(ev);
        };
        let Self { link, decoder, venue, backoff, outlets, .. } = self;
        if let Link::Connected(session) = link {
            let greeting = if session.subscribed { None } else { venue.greeting() };
            let mut greeted = false;
            let progress = session.ws.poll(local_now, &mut |frame: &[u8]| {
                if let Some(marker) = greeting
                    && !greeted
                {
                    greeted = memchr::memmem::find(frame, marker).is_some();
                }
                outlets.frame(frame, local_now);
                decoder.on_frame(frame, local_now, &mut emit);
            });
            if progress.frames > 0 {
                session.live.received(local_now);
                backoff.reset();
            }
            if progress.opened {
                session.was_open = true;
                session.live.opened(local_now);
            }
            let was_open = session.was_open;
            let open = session.ws.is_open();
            let ready = open && !session.subscribed && (greeted || greeting.is_none());
            let mut closed = progress.closed;
            if progress.opened {
                self.on_opened();
            }
            if closed.is_none() && ready {
                closed = self.subscribe(local_now).err();
            }
            if closed.is_none()
                && open
                && let Link::Connected(session) = &self.link
                && self.work_due(session, local_now)
            {
                closed = self.service(local_now).err();
            }
            if let Some(reason) = closed {
                self.on_closed(reason, was_open, local_now, &mut emit);
            }
        }
        self.service_link(local_now, &mut emit);
        emitted
    }

    /// Resyncs the book like a gap: the decoder invalidates it and wants a resubscribe or a
    /// snapshot, which the next [`Self::poll`] sends or requests.
    #[cold]
    fn on_book_refused(
        &mut self,
        instrument: InstrumentId,
        reason: qt_core::BookError,
        local_now: Nanos,
        sink: &mut dyn FnMut(&MarketEvent),
    ) {
        self.outlets.book_refused(&mut self.decoder, instrument, reason, local_now, sink);
    }

    fn set_raw_tap(&mut self, tap: RawFrameTap) {
        self.outlets.set_raw(tap);
    }

    fn stats(&self) -> Option<FeedStats> {
        Some(self.decoder.stats())
    }

    fn book_gaps(&self, instrument: InstrumentId) -> Option<u64> {
        self.outlets.book_gaps(&self.decoder, instrument)
    }

    fn state(&self) -> FeedState {
        let synced = (0..self.resync.len()).all(|i| !self.is_subscribed(i) || self.decoder.is_synced(i));
        if self.is_connected() && synced { FeedState::Live } else { FeedState::Recovering }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentSpec, Venue};

    fn instrument(venue: Venue, symbol: &str) -> Instrument {
        let spec = InstrumentSpec::spot(venue, symbol, "BTC", "USDT", "0.01", "0.00001");
        Instrument::from_spec(InstrumentId(0), &spec).expect("valid instrument")
    }

    #[test]
    fn a_venue_that_cannot_change_subscriptions_live_refuses_set_subscribed() {
        let common = WsFeedConfig {
            ws_url: "wss://127.0.0.1:1".into(),
            ca_file: None,
            server_name: None,
            symbols: vec![instrument(Venue::Okx, "BTC-USDT")],
        };
        let mut feed = crate::okx::connect::OkxLive::feed(crate::okx::connect::OkxFeedConfig::new(common)).unwrap();
        assert_eq!(FeedSource::name(&feed), "okx:BTC-USDT");
        let mut records = 0;
        assert!(!feed.set_subscribed(0, false, Nanos(1), &mut |_| records += 1));
        assert!(feed.is_subscribed(0) && records == 0, "nothing changed");
        assert_eq!(feed.state(), FeedState::Recovering, "not connected yet");
    }

    #[test]
    fn every_venue_with_its_own_config_builds_from_the_uniform_one() {
        let cfg = |venue, symbol| {
            let mut c = LiveFeedConfig::new("wss://127.0.0.1:1", "", vec![instrument(venue, symbol)]);
            c.server_name = Some("localhost".into());
            c
        };
        let okx = crate::okx::connect::OkxLive::feed((&cfg(Venue::Okx, "BTC-USDT")).into()).unwrap();
        let kraken = crate::kraken::connect::KrakenLive::feed((&cfg(Venue::Kraken, "BTC/USD")).into()).unwrap();
        let bybit = crate::bybit::BybitFeed::new((&cfg(Venue::Bybit, "BTCUSDT")).into()).unwrap();
        let names = [FeedSource::name(&okx), FeedSource::name(&kraken), FeedSource::name(&bybit)];
        assert_eq!(names, ["okx:BTC-USDT", "kraken:BTC/USD", "bybit:BTCUSDT"]);
        let mut firi = LiveFeedConfig::new("", "https://127.0.0.1:1", vec![instrument(Venue::Firi, "BTCNOK")]);
        let one = crate::firi::FiriFeedConfig::try_from(&firi).unwrap();
        assert_eq!((one.rest_url.as_str(), one.instrument.symbol()), ("https://127.0.0.1:1", "BTCNOK"));
        firi.symbols.push(instrument(Venue::Firi, "ETHNOK"));
        assert!(crate::firi::FiriFeedConfig::try_from(&firi).is_err(), "one market per Firi feed");
    }

    #[test]
    fn a_stream_venue_seen_as_before_subscribes_every_symbol() {
        use crate::ws_feed::StreamVenue;
        let common = WsFeedConfig {
            ws_url: "wss://127.0.0.1:1".into(),
            ca_file: None,
            server_name: None,
            symbols: vec![instrument(Venue::Kraken, "BTC/USD"), instrument(Venue::Kraken, "ETH/USD")],
        };
        let venue = crate::kraken::connect::KrakenLive::new(&crate::kraken::connect::KrakenFeedConfig::new(common));
        let all = venue.subscribe_requests();
        assert_eq!(all, venue.subscriptions(&[true, true]));
        assert!(all[0].contains("\"BTC/USD\",\"ETH/USD\""), "{all:?}");
    }
}
