//! Bybit's connect step: [`BybitFeedConfig`], [`BybitLive`] (the [`LiveVenue`] saying what is
//! Bybit's: the category's path, topics, requests, heartbeat rule, reconnect policy) and
//! [`BybitFeed`], the v5 public market-data feed on the shared [`LiveFeed`] layer.
//!
//! After the socket opens the feed sends `{"op":"subscribe","args":[..]}` (at most
//! [`MAX_ARGS_PER_REQUEST`] topics per request); a book the decoder finds broken is renewed with
//! `unsubscribe` + `subscribe` of its book topic (Bybit then sends a fresh snapshot), as is one
//! still without a snapshot [`SNAPSHOT_TIMEOUT`] after its (re)subscription; `{"op":"ping"}`
//! goes out every ping interval and three silent intervals (at least [`SILENCE_FLOOR`]) drop
//! the connection.
//!
//! Thread and contract: as [`LiveFeed`] (core thread, `poll` never blocks, request texts built
//! at start-up).

use super::sync::BookSync;
use super::{
    Category, DEFAULT_DEPTH, Decoder, MAX_ARGS_PER_REQUEST, PING_INTERVAL, RECONNECT_BASE, RECONNECT_CAP,
    SILENCE_FLOOR, SNAPSHOT_TIMEOUT, parse,
};
use crate::error::FeedError;
use crate::kit::live::{Heartbeat, LiveFeed, LiveFeedConfig, LiveVenue, check_common};
use parse::TopicKind;
use qt_core::{Instrument, Nanos};
use std::path::PathBuf;

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

impl From<&LiveFeedConfig> for BybitFeedConfig {
    /// The uniform live config with Bybit's defaults ([`BybitFeedConfig::new`]: spot).
    fn from(c: &LiveFeedConfig) -> Self {
        Self {
            ca_file: c.ca_file.clone(),
            server_name: c.server_name.clone(),
            ..Self::new(&c.ws_url, c.symbols.clone())
        }
    }
}

/// Bybit's part of a [`LiveFeed`]: topic names, requests and heartbeat rule.
#[derive(Debug, Clone)]
pub struct BybitLive {
    category: Category,
    /// Per symbol: its book topic.
    books: Vec<String>,
    /// Every topic (book and trades), in subscription order.
    topics: Vec<String>,
    ping_interval: Nanos,
}

fn request(op: &str, topics: &[String]) -> String {
    let args: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    format!("{{\"op\":\"{op}\",\"args\":[{}]}}", args.join(","))
}

impl LiveVenue for BybitLive {
    type Decoder = Decoder;

    fn name(&self) -> &'static str {
        "bybit"
    }

    fn symbol_count(&self) -> usize {
        self.books.len()
    }

    fn ws_target(&self, configured: &str) -> String {
        format!("{}{}", configured.trim_end_matches('/'), self.category.path())
    }

    /// Every topic, whatever `active` says (a symbol's subscription cannot change live).
    fn subscriptions(&self, _active: &[bool]) -> Vec<String> {
        self.topics.chunks(MAX_ARGS_PER_REQUEST).map(|c| request("subscribe", c)).collect()
    }

    fn resubscribe_requests(&self, index: usize) -> Vec<String> {
        let Some(book) = self.books.get(index) else { return Vec::new() };
        let one = std::slice::from_ref(book);
        vec![request("unsubscribe", one), request("subscribe", one)]
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat::Every { text: "{\"op\":\"ping\"}".into(), interval: self.ping_interval }
    }

    /// Every ping is answered, so three silent ping intervals (at least [`SILENCE_FLOOR`]) mean
    /// a dead connection (Bybit itself cuts one after 10 minutes without traffic).
    fn silence_timeout(&self) -> Option<Nanos> {
        Some(Nanos(self.ping_interval.0.saturating_mul(3).max(SILENCE_FLOOR.0)))
    }

    fn reconnect_policy(&self) -> (Nanos, Nanos) {
        (RECONNECT_BASE, RECONNECT_CAP)
    }

    fn snapshot_timeout(&self) -> Option<Nanos> {
        Some(SNAPSHOT_TIMEOUT)
    }
}

/// The Bybit v5 public market-data feed: a [`LiveFeed`] over [`BybitLive`] and [`Decoder`].
pub type BybitFeed = LiveFeed<BybitLive>;

impl LiveFeed<BybitLive> {
    /// Validates `cfg` (every problem at once), resolves the host and builds TLS. Blocking
    /// start-up work (DNS, CA file): call before the core loop.
    pub fn new(cfg: BybitFeedConfig) -> Result<Self, FeedError> {
        let common = LiveFeedConfig {
            ws_url: cfg.ws_url,
            rest_url: String::new(),
            ca_file: cfg.ca_file,
            server_name: cfg.server_name,
            symbols: cfg.symbols,
            depth_limit: usize::from(cfg.depth),
        };
        let mut problems = Vec::new();
        check_common(&common, true, false, &mut problems);
        if !cfg.category.depths().contains(&cfg.depth) {
            problems.push(format!("depth: {} is not one of {:?}", cfg.depth, cfg.category.depths()));
        }
        if cfg.ping_interval <= Nanos::ZERO {
            problems.push(format!("ping_interval: {} ns is not positive", cfg.ping_interval.0));
        }
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "bybit", problem: problems.join("; ") });
        }
        let mut books = Vec::new();
        let mut topics = Vec::new();
        for s in &common.symbols {
            let book = parse::topic_name(s.symbol(), TopicKind::Book, cfg.depth);
            books.push(book.clone());
            topics.push(book);
            if cfg.trades {
                topics.push(parse::topic_name(s.symbol(), TopicKind::Trade, cfg.depth));
            }
        }
        let venue = BybitLive { category: cfg.category, books, topics, ping_interval: cfg.ping_interval };
        let decoder = Decoder::new(&common.symbols, cfg.depth);
        Self::with_venue(venue, decoder, &common)
    }

    /// The counters now: the decoder's, with the connection's (sessions, pings,
    /// resubscriptions) merged in.
    pub fn counters(&self) -> super::BybitCounters {
        let link = self.link_counters();
        super::BybitCounters {
            pings: link.heartbeats,
            resubscribes: link.resubscribes,
            snapshot_timeouts: link.snapshot_timeouts,
            connects: link.connects,
            reconnects: link.reconnects,
            disconnects: link.disconnects,
            connect_failures: link.connect_failures,
            ..self.decoder().counters()
        }
    }

    /// Bybit's `seq` of the last book push applied for symbol `index` (the state the records
    /// emitted so far describe), if in sync.
    pub fn book_seq(&self, index: usize) -> Option<u64> {
        self.decoder().sync(index).and_then(BookSync::book_seq)
    }
}
