//! [`SnapshotFeed`]: the live-connection layer of every venue whose book is a WebSocket diff
//! stream synced against REST snapshots (Binance spot, Binance USD-M, KuCoin), as one
//! [`FeedSource`] polled by the core thread. What differs per venue is a [`SnapshotVenue`]
//! (how to reach a session, what to subscribe, the heartbeat, the snapshot URL) and its
//! [`SnapshotSyncDecoder`] (parse + the venue's sync rule).
//!
//! Threads: the core thread owns the feed and polls it; one snapshot thread (`qt-feed-snapshot`)
//! does everything that blocks — REST snapshots (retried with backoff) and, before every
//! (re)connect, [`SnapshotVenue::open_session`] (KuCoin: `POST /api/v1/bullet-public` for a
//! token, endpoint and ping interval; Binance: the fixed stream URL) plus DNS for the session's
//! host. Both directions are bounded crossbeam channels; the core uses only `try_send` /
//! `try_recv`, so it never blocks.
//!
//! Connection: one [`WsClient`] per session (WebSocket over rustls on a mio socket registered
//! with the core loop's registry). Subscription frames go out when the session opens, or, for
//! venues that greet first (KuCoin's `welcome`), when the greeting arrives. Application-level
//! pings go out every heartbeat interval; a session silent for interval + timeout is dropped.
//! A lost session invalidates every book (the decoder's `on_disconnect`), and the next session
//! is asked for after an exponential backoff with jitter; its subscriptions and the decoders'
//! buffered resync follow.
//!
//! Contract: `poll` never blocks; the frame → decoder → emit path allocates nothing in this
//! layer (the decoders' own contracts apply; rustls/tungstenite are measured in
//! `tests/no_alloc.rs`). Connect, subscribe, ping, snapshot and reconnect paths allocate and are
//! `#[cold]`. With the journal's raw-frame tap set ([`FeedSource::set_raw_tap`]) every frame and
//! every snapshot body the decoder is given is copied to it first (a ring copy, never a wait).

use crate::decoder::VenueDecoder;
use crate::endpoint::Endpoint;
use crate::error::FeedError;
use crate::snapshot::HttpsClient;
use crate::tls;
use crate::ws::{Backoff, CloseReason, WsClient};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use qt_core::feed_source::FeedState;
use qt_core::journal_raw::{RawFrameKind, RawFrameTap};
use qt_core::{FeedSource, FeedStats, Instrument, InstrumentId, MarketEvent, Nanos};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// First reconnect delay (before jitter).
pub const RECONNECT_BASE: Nanos = Nanos(100_000_000);
/// Largest reconnect delay (before jitter).
pub const RECONNECT_CAP: Nanos = Nanos(5_000_000_000);
/// Attempts per snapshot before a failure is reported.
const SNAPSHOT_ATTEMPTS: u32 = 4;
/// Capacity of each direction's channel.
const CHANNEL_CAPACITY: usize = 256;

/// What a [`SnapshotFeed`] connects to and subscribes.
#[derive(Debug, Clone)]
pub struct SnapshotFeedConfig {
    /// WebSocket base, e.g. `wss://stream.binance.com:9443` (Binance: the feed appends
    /// `/stream?streams=...`). Unused by venues that hand out the endpoint (KuCoin's bullet).
    pub ws_url: String,
    /// REST base, e.g. `https://api.binance.com`.
    pub rest_url: String,
    /// PEM CA file to trust instead of the webpki roots (the simulator writes one).
    pub ca_file: Option<PathBuf>,
    /// TLS server name instead of the URLs' hosts (`localhost` for the simulator).
    pub server_name: Option<String>,
    /// Symbols; each instrument's id goes into its records.
    pub symbols: Vec<Instrument>,
    /// REST snapshot depth; its meaning and range are the venue's (see each venue's feed).
    pub depth_limit: usize,
}

impl SnapshotFeedConfig {
    /// A config with depth limit 1000, no CA file and no server-name override.
    pub fn new(ws_url: impl Into<String>, rest_url: impl Into<String>, symbols: Vec<Instrument>) -> Self {
        Self {
            ws_url: ws_url.into(),
            rest_url: rest_url.into(),
            ca_file: None,
            server_name: None,
            symbols,
            depth_limit: 1000,
        }
    }
}

/// A venue's application-level heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Send a ping this often.
    pub interval: Nanos,
    /// The session is dead when nothing arrived for `interval + timeout`.
    pub timeout: Nanos,
}

/// How to reach one WebSocket session, as [`SnapshotVenue::open_session`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPlan {
    /// Full `wss://` URL with path and query.
    pub url: String,
    /// The heartbeat this session needs (`None`: the server pings and tungstenite answers).
    pub heartbeat: Option<Heartbeat>,
}

/// What differs between snapshot-synced venues at the connection level. Shared by the core
/// thread (frames to send, welcome detection) and the snapshot thread (session and snapshot
/// URLs), hence `Sync`.
pub trait SnapshotVenue: Send + Sync + std::fmt::Debug + 'static {
    /// The decoder (parser + sync) of one session.
    type Decoder: SnapshotSyncDecoder;

    /// Short venue label for names and logs (`binance`, `binance_usdm`, `kucoin`).
    fn label(&self) -> &'static str;

    /// On the snapshot thread, before every (re)connect: where the next session is. May block
    /// (KuCoin POSTs for a token with `rest`).
    fn open_session(&self, rest: &HttpsClient) -> Result<SessionPlan, String>;

    /// Text frames to send once the session is ready, given which symbols are subscribed
    /// (`active[i]`): subscriptions, or — when the URL already names every stream — the
    /// unsubscriptions of the inactive ones. Cold path.
    fn subscribe_frames(&self, active: &[bool]) -> Vec<String>;

    /// Text frames that (un)subscribe symbol `index` on an open session. Cold path.
    fn change_frames(&self, index: usize, subscribe: bool) -> Vec<String>;

    /// Whether the venue greets first and subscriptions must wait for [`Self::is_welcome`].
    fn greets_first(&self) -> bool {
        false
    }

    /// Whether `frame` is the venue's greeting (checked only while waiting for it).
    fn is_welcome(&self, _frame: &[u8]) -> bool {
        true
    }

    /// The `n`th application-level ping frame (venues with a [`Heartbeat`]).
    fn ping_frame(&self, _n: u64) -> Option<String> {
        None
    }

    /// `GET` target (path and query) of symbol `index`'s REST snapshot.
    fn snapshot_target(&self, index: usize) -> String;
}

/// The part of a decoder the live layer drives beyond [`VenueDecoder`]: per-symbol snapshot
/// requests tagged with a generation, and their answers.
pub trait SnapshotSyncDecoder: VenueDecoder {
    /// Symbols (indices `0..n`).
    fn symbol_count(&self) -> usize;

    /// Whether symbol `index`'s book is in sync.
    fn is_synced(&self, index: usize) -> bool;

    /// If symbol `index` wants a snapshot now, the generation to tag the request with (the
    /// want is taken: it is not returned again until [`Self::retry_snapshot_request`] or a
    /// new resync).
    fn take_snapshot_request(&mut self, index: usize) -> Option<u64>;

    /// The request `generation` could not be sent or failed: want it again (if still current).
    fn retry_snapshot_request(&mut self, index: usize, generation: u64);

    /// Symbol `index` is (un)subscribed: when it stops, its book is invalidated (one `CLEAR`
    /// record), frames of it still in flight are dropped and no snapshot is wanted for it; when
    /// it starts again it resyncs from its next diff. Cold path.
    fn set_active(&mut self, index: usize, active: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent));

    /// A snapshot body answering request `generation` (parsed in place; refused bodies are
    /// counted and the snapshot wanted again). Cold path.
    fn on_snapshot_reply(
        &mut self,
        index: usize,
        generation: u64,
        body: &mut [u8],
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    );
}

/// Connection-level counters of a [`SnapshotFeed`] (core thread only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// WebSocket sessions opened.
    pub connects: u64,
    /// Sessions opened after the first (reconnections).
    pub reconnects: u64,
    /// Open sessions lost.
    pub disconnects: u64,
    /// Connection attempts that failed before the session opened.
    pub connect_failures: u64,
    /// [`SnapshotVenue::open_session`] failures (token request refused, DNS).
    pub session_failures: u64,
    /// Snapshot fetches that failed after retries.
    pub snapshot_failures: u64,
    /// Subscription frames sent.
    pub subscriptions_sent: u64,
    /// Application-level pings sent.
    pub pings_sent: u64,
    /// Sessions dropped because nothing arrived within the heartbeat's bound.
    pub heartbeat_timeouts: u64,
}

enum Job {
    Session,
    Snapshot { symbol: usize, generation: u64 },
}

/// A session ready to connect: resolved on the snapshot thread.
struct ReadySession {
    endpoint: Endpoint,
    addrs: Vec<SocketAddr>,
    server_name: ServerName<'static>,
    heartbeat: Option<Heartbeat>,
}

enum Reply {
    Session(Result<ReadySession, String>),
    Snapshot { symbol: usize, generation: u64, result: Result<Vec<u8>, String> },
}

/// The core thread's handle on the snapshot thread.
struct Worker {
    jobs: Sender<Job>,
    replies: Receiver<Reply>,
    stop: Arc<AtomicBool>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Worker {
    fn spawn<V: SnapshotVenue>(
        venue: Arc<V>,
        rest: HttpsClient,
        server_name: Option<String>,
    ) -> Result<Self, FeedError> {
        let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(CHANNEL_CAPACITY);
        let (rep_tx, rep_rx) = crossbeam_channel::bounded::<Reply>(CHANNEL_CAPACITY);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        std::thread::Builder::new()
            .name("qt-feed-snapshot".into())
            .spawn(move || run_worker(&*venue, &rest, server_name.as_deref(), &job_rx, &rep_tx, &thread_stop))
            .map_err(|e| FeedError::io("starting the snapshot thread", e))?;
        Ok(Self { jobs: job_tx, replies: rep_rx, stop })
    }

    fn try_send(&self, job: Job) -> bool {
        match self.jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

fn run_worker<V: SnapshotVenue>(
    venue: &V,
    rest: &HttpsClient,
    server_name: Option<&str>,
    jobs: &Receiver<Job>,
    replies: &Sender<Reply>,
    stop: &AtomicBool,
) {
    let mut snapshots: Vec<(usize, u64)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let first = match jobs.recv_timeout(Duration::from_millis(100)) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut session = false;
        for job in std::iter::once(first).chain(jobs.try_iter()) {
            match job {
                Job::Session => session = true,
                Job::Snapshot { symbol, generation } => snapshots.push((symbol, generation)),
            }
        }
        // A session first: snapshots are useless without the stream they sync.
        if session {
            let reply = Reply::Session(resolve_session(venue, rest, server_name));
            if replies.send(reply).is_err() {
                return;
            }
        }
        // Newest request per symbol only.
        snapshots.sort_by_key(|&(s, g)| (s, std::cmp::Reverse(g)));
        snapshots.dedup_by_key(|r| r.0);
        for (symbol, generation) in snapshots.drain(..) {
            let result = fetch_snapshot(rest, &venue.snapshot_target(symbol), stop);
            if replies.send(Reply::Snapshot { symbol, generation, result }).is_err() {
                return;
            }
        }
    }
}

#[cold]
fn resolve_session<V: SnapshotVenue>(
    venue: &V,
    rest: &HttpsClient,
    server_name: Option<&str>,
) -> Result<ReadySession, String> {
    let plan = venue.open_session(rest)?;
    let endpoint = Endpoint::parse(&plan.url, "session url").map_err(|e| e.to_string())?;
    let addrs = endpoint.resolve().map_err(|e| e.to_string())?;
    let server_name = endpoint.server_name(server_name).map_err(|e| e.to_string())?;
    Ok(ReadySession { endpoint, addrs, server_name, heartbeat: plan.heartbeat })
}

#[cold]
fn fetch_snapshot(rest: &HttpsClient, target: &str, stop: &AtomicBool) -> Result<Vec<u8>, String> {
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    for attempt in 1..=SNAPSHOT_ATTEMPTS {
        match rest.get(target) {
            Ok((200, body)) => return Ok(body),
            Ok((status, body)) => {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                last = format!("HTTP {status} for {target}: {text}");
            }
            Err(e) => last = e.to_string(),
        }
        log::warn!("snapshot attempt {attempt}/{SNAPSHOT_ATTEMPTS} failed: {last}");
        if stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Err(last)
}

/// One open (or opening) session.
struct Session {
    ws: WsClient,
    heartbeat: Option<Heartbeat>,
    /// Subscriptions sent (or not needed yet: waiting for the greeting).
    subscribed: bool,
    was_open: bool,
    last_rx: Nanos,
    next_ping: Nanos,
}

enum Link {
    /// No session; ask the snapshot thread for one at `retry_at`.
    Waiting { retry_at: Nanos },
    /// The snapshot thread is resolving the next session.
    Resolving,
    /// Connecting, handshaking or open.
    Connected(Box<Session>),
}

/// What a capture tap ([`SnapshotFeed::set_tap`]) is shown: every raw WebSocket data frame as
/// received, and every REST snapshot body as fetched (before it is parsed in place).
#[derive(Debug, Clone, Copy)]
pub enum Tapped<'a> {
    /// A WebSocket text (or binary) data frame.
    Frame(&'a [u8]),
    /// The REST snapshot body of symbol `symbol`.
    Snapshot {
        /// Symbol index.
        symbol: usize,
        /// The body.
        body: &'a [u8],
    },
}

/// A capture tap: `qt capture` records through it. Not for the trading path.
pub type Tap = Box<dyn FnMut(Tapped<'_>) + Send>;

/// A live snapshot-synced feed for venue `V`.
pub struct SnapshotFeed<V: SnapshotVenue> {
    name: String,
    venue: Arc<V>,
    decoder: V::Decoder,
    worker: Worker,
    tls: Arc<ClientConfig>,
    registry: Option<mio::Registry>,
    token: usize,
    link: Link,
    backoff: Backoff,
    counters: LinkCounters,
    pings: u64,
    tap: Option<Tap>,
    /// The journal's raw-frame tap (`[journal] raw_frames`).
    raw: Option<RawFrameTap>,
    /// Per symbol: subscribed.
    active: Vec<bool>,
    /// Per symbol: its instrument (to find the symbol of a book the engine found crossed).
    ids: Vec<InstrumentId>,
}

impl<V: SnapshotVenue> std::fmt::Debug for SnapshotFeed<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFeed").field("name", &self.name).field("counters", &self.counters).finish()
    }
}

impl<V: SnapshotVenue> SnapshotFeed<V> {
    /// Builds TLS, resolves the REST host and starts the snapshot thread. `cfg` must have been
    /// validated by the venue's constructor. Blocking start-up work: call before the core loop.
    pub fn with_venue(venue: V, decoder: V::Decoder, cfg: &SnapshotFeedConfig) -> Result<Self, FeedError> {
        let rest = Endpoint::parse(&cfg.rest_url, "rest_url")?;
        let tls = tls::client_config(cfg.ca_file.as_deref())?;
        let rest_addrs = rest.resolve()?;
        let rest_name = rest.server_name(cfg.server_name.as_deref())?;
        let seed = rest_addrs.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, a| h.rotate_left(7) ^ u64::from(a.port()))
            ^ u64::from(std::process::id());
        let client = HttpsClient::new(rest, rest_addrs, rest_name, tls.clone());
        let venue = Arc::new(venue);
        let worker = Worker::spawn(venue.clone(), client, cfg.server_name.clone())?;
        let names: Vec<&str> = cfg.symbols.iter().map(|s| s.symbol()).collect();
        Ok(Self {
            name: format!("{}:{}", venue.label(), names.join(",")),
            venue,
            decoder,
            worker,
            tls,
            registry: None,
            token: 0,
            link: Link::Waiting { retry_at: Nanos::ZERO },
            backoff: Backoff::new(RECONNECT_BASE, RECONNECT_CAP, seed),
            counters: LinkCounters::default(),
            pings: 0,
            tap: None,
            raw: None,
            active: vec![true; cfg.symbols.len()],
            ids: cfg.symbols.iter().map(Instrument::id).collect(),
        })
    }

    /// Shows every raw frame and snapshot body to `tap` (`qt capture`); costs one branch per
    /// frame when unset.
    pub fn set_tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// The decoder (its venue-specific counters and sync states).
    pub fn decoder(&self) -> &V::Decoder {
        &self.decoder
    }

    /// Connection-level counters.
    pub fn link_counters(&self) -> LinkCounters {
        self.counters
    }

    /// Whether symbol `index` is in sync.
    pub fn is_synced(&self, index: usize) -> bool {
        self.decoder.is_synced(index)
    }

    /// Whether symbol `index` is subscribed.
    pub fn is_subscribed(&self, index: usize) -> bool {
        self.active.get(index).copied().unwrap_or(false)
    }

    /// Subscribes (`on`) or unsubscribes symbol `index`: on an open session the venue's frames
    /// go out now, and every later session honours it. Unsubscribing invalidates the symbol's
    /// book (through `emit`) and the feed is live without it. Returns whether anything changed.
    /// Cold path (allocates the frames).
    #[cold]
    pub fn set_subscribed(&mut self, index: usize, on: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        match self.active.get_mut(index) {
            Some(flag) if *flag != on => *flag = on,
            _ => return false,
        }
        self.decoder.set_active(index, on, now, emit);
        let Link::Connected(session) = &mut self.link else { return true };
        if !session.subscribed {
            return true; // the greeting has not come yet: the subscriptions will honour it
        }
        let mut failed = None;
        for frame in self.venue.change_frames(index, on) {
            match session.ws.send_text(&frame, now) {
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

    /// Whether the WebSocket session is open.
    pub fn is_connected(&self) -> bool {
        matches!(&self.link, Link::Connected(s) if s.ws.is_open())
    }

    #[cold]
    fn on_reply(&mut self, reply: Reply, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        match reply {
            Reply::Session(Ok(ready)) => self.start_session(ready, now),
            Reply::Session(Err(why)) => {
                self.counters.session_failures += 1;
                log::warn!("{}: no session: {why}", self.name);
                self.link = Link::Waiting { retry_at: now.saturating_add(self.backoff.next_delay()) };
            }
            Reply::Snapshot { symbol, generation, result: Ok(mut body) } => {
                if let Some(tap) = &mut self.tap {
                    tap(Tapped::Snapshot { symbol, body: &body });
                }
                if let Some(raw) = &mut self.raw {
                    raw.tap(RawFrameKind::RestSnapshot, symbol as u32, now, &body);
                }
                self.decoder.on_snapshot_reply(symbol, generation, &mut body, now, emit);
            }
            Reply::Snapshot { symbol, generation, result: Err(why) } => {
                self.counters.snapshot_failures += 1;
                log::warn!("{}: snapshot failed: {why}", self.name);
                self.decoder.retry_snapshot_request(symbol, generation);
            }
        }
    }

    #[cold]
    fn start_session(&mut self, ready: ReadySession, now: Nanos) {
        let Some(registry) = &self.registry else {
            self.link = Link::Waiting { retry_at: now };
            return;
        };
        let mut ws = WsClient::new(
            &ready.endpoint,
            ready.addrs,
            &ready.endpoint.target,
            ready.server_name,
            self.tls.clone(),
            self.backoff.clone(),
        );
        if let Err(e) = ws.register(registry, self.token) {
            log::warn!("{}: registering: {e}", self.name);
            self.counters.connect_failures += 1;
            self.link = Link::Waiting { retry_at: now.saturating_add(self.backoff.next_delay()) };
            return;
        }
        self.link = Link::Connected(Box::new(Session {
            ws,
            heartbeat: ready.heartbeat,
            subscribed: false,
            was_open: false,
            last_rx: now,
            next_ping: now,
        }));
    }

    /// The session ended (`was_open`: after it had opened).
    #[cold]
    fn on_closed(&mut self, reason: CloseReason, was_open: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if was_open {
            self.counters.disconnects += 1;
            log::warn!("{}: connection lost ({reason:?}); reconnecting", self.name);
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

    /// Sends the subscriptions; `Err` if the session broke while sending.
    #[cold]
    fn subscribe(&mut self, now: Nanos) -> Result<(), CloseReason> {
        let Link::Connected(session) = &mut self.link else { return Ok(()) };
        session.subscribed = true;
        for frame in self.venue.subscribe_frames(&self.active) {
            session.ws.send_text(&frame, now)?;
            self.counters.subscriptions_sent += 1;
        }
        Ok(())
    }

    /// Pings when due; `Err` if the session is dead (silent too long, or the send failed).
    #[cold]
    fn heartbeat(&mut self, beat: Heartbeat, now: Nanos) -> Result<(), CloseReason> {
        let Link::Connected(session) = &mut self.link else { return Ok(()) };
        if now.saturating_sub(session.last_rx) > beat.interval.saturating_add(beat.timeout) {
            self.counters.heartbeat_timeouts += 1;
            session.ws.disconnect(now);
            return Err(CloseReason::Io);
        }
        if now >= session.next_ping {
            session.next_ping = now.saturating_add(beat.interval);
            self.pings += 1;
            if let Some(text) = self.venue.ping_frame(self.pings) {
                session.ws.send_text(&text, now)?;
                self.counters.pings_sent += 1;
            }
        }
        Ok(())
    }

    /// Snapshot answers in, requests out; asks for a session when one is due. No blocking.
    #[inline]
    fn service_worker(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        while let Ok(reply) = self.worker.replies.try_recv() {
            self.on_reply(reply, now, emit);
        }
        for symbol in 0..self.decoder.symbol_count() {
            if let Some(generation) = self.decoder.take_snapshot_request(symbol)
                && !self.worker.try_send(Job::Snapshot { symbol, generation })
            {
                self.decoder.retry_snapshot_request(symbol, generation);
            }
        }
        if let Link::Waiting { retry_at } = self.link
            && now >= retry_at
            && self.registry.is_some()
            && self.worker.try_send(Job::Session)
        {
            self.link = Link::Resolving;
        }
    }
}

impl<V: SnapshotVenue> FeedSource for SnapshotFeed<V> {
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
        let Self { link, decoder, venue, backoff, tap, raw, .. } = self;
        if let Link::Connected(session) = link {
            let greets = !session.subscribed && venue.greets_first();
            let mut welcomed = false;
            let progress = session.ws.poll(local_now, &mut |frame: &[u8]| {
                if greets && !welcomed {
                    welcomed = venue.is_welcome(frame);
                }
                if let Some(tap) = tap {
                    tap(Tapped::Frame(frame));
                }
                if let Some(raw) = raw {
                    raw.tap(RawFrameKind::WsText, 0, local_now, frame);
                }
                decoder.on_frame(frame, local_now, &mut emit);
            });
            if progress.frames > 0 {
                session.last_rx = local_now;
                backoff.reset();
            }
            let was_open = session.was_open || progress.opened;
            let heartbeat = session.heartbeat;
            if progress.opened {
                session.was_open = true;
                session.last_rx = local_now;
                session.next_ping = local_now.saturating_add(heartbeat.map_or(Nanos::ZERO, |h| h.interval));
            }
            let ready = session.ws.is_open() && !session.subscribed && (welcomed || !greets);
            let mut closed = progress.closed;
            if progress.opened {
                self.on_opened();
            }
            if closed.is_none() && ready {
                closed = self.subscribe(local_now).err();
            }
            if closed.is_none()
                && was_open
                && let Some(beat) = heartbeat
            {
                closed = self.heartbeat(beat, local_now).err();
            }
            if let Some(reason) = closed {
                self.on_closed(reason, was_open, local_now, &mut emit);
            }
        }
        self.service_worker(local_now, &mut emit);
        emitted
    }

    /// Resyncs the book like a gap: the decoder invalidates it and wants a snapshot, which the
    /// next [`Self::poll`] requests from the snapshot thread.
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
        let synced = (0..self.decoder.symbol_count()).all(|i| !self.is_subscribed(i) || self.decoder.is_synced(i));
        if self.is_connected() && synced { FeedState::Live } else { FeedState::Recovering }
    }
}

/// For [`SnapshotSyncDecoder::set_active`]: sets `active[index]` to `on` and says whether that
/// turned the symbol off (the decoder then invalidates its book).
pub(crate) fn deactivates(active: &mut [bool], index: usize, on: bool) -> bool {
    active.get_mut(index).is_some_and(|flag| std::mem::replace(flag, on) && !on)
}

/// Start-up checks every snapshot-synced venue shares: URLs, symbols present and distinct.
/// Pushes each problem (with its field path) onto `problems`.
pub fn check_common(cfg: &SnapshotFeedConfig, needs_ws_url: bool, problems: &mut Vec<String>) {
    if needs_ws_url && let Err(e) = Endpoint::parse(&cfg.ws_url, "ws_url") {
        problems.push(e.to_string());
    }
    if let Err(e) = Endpoint::parse(&cfg.rest_url, "rest_url") {
        problems.push(e.to_string());
    }
    if cfg.symbols.is_empty() {
        problems.push("symbols: empty (expected at least one instrument)".into());
    }
    for (i, s) in cfg.symbols.iter().enumerate() {
        if cfg.symbols[..i].iter().any(|o| o.symbol() == s.symbol()) {
            problems.push(format!("symbols[{i}]: {} is listed twice", s.symbol()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_are_refused_naming_every_field() {
        let mut cfg = SnapshotFeedConfig::new("ws://insecure", "https://127.0.0.1:1", Vec::new());
        cfg.depth_limit = 7;
        let usdm = crate::binance_usdm::BinanceUsdmFeed::new(cfg.clone()).map(|_| ());
        let kucoin = crate::kucoin::KucoinFeed::new(cfg.clone()).map(|_| ());
        let spot = crate::binance::BinanceFeed::new(SnapshotFeedConfig { depth_limit: 0, ..cfg }).map(|_| ());
        for (result, venue, fields) in [
            (usdm, "binance_usdm", &["ws_url", "symbols", "depth_limit"][..]),
            (kucoin, "kucoin", &["symbols", "depth_limit"][..]),
            (spot, "binance", &["ws_url", "symbols", "depth_limit"][..]),
        ] {
            let Err(FeedError::Config { field, problem }) = result else { panic!("{venue}: accepted") };
            assert_eq!(field, venue);
            for named in fields {
                assert!(problem.contains(named), "{venue}: {problem}");
            }
        }
    }
}
