//! Kraken's connect step: [`KrakenLive`], the [`LiveVenue`] that makes a [`LiveFeed`]
//! a Kraken public market-data connection, and [`KrakenFeed`] (that feed) over
//! [`super::Decoder`].
//!
//! Protocol (docs.kraken.com, WebSocket v2 `book`, `trade`, `heartbeat` and `ping` pages;
//! `venues/NOTES.md` §5): the feed opens `<ws_url>/v2` and sends
//! `{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD",..],"depth":10}}`
//! (and `trade` with `"snapshot":false` when configured). Each `book` subscription starts with a
//! `snapshot`; Kraken has no sequence numbers, so the per-message CRC32 is the only loss
//! detector. A checksum mismatch or an unreadable `book` frame makes the decoder invalidate the
//! book and ask for a resubscribe; the feed sends `unsubscribe` + `subscribe` of that symbol's
//! `book`, which makes Kraken send a fresh snapshot.
//!
//! Heartbeat: once subscribed, Kraken sends `{"channel":"heartbeat"}` about every second; the
//! feed sends `{"method":"ping"}` every [`PING_INTERVAL`] (answered by `"method":"pong"`) and a
//! connection silent for [`SILENCE_TIMEOUT`] — no data, no heartbeat — is dropped and
//! reconnected.
//!
//! Thread and contract: as [`LiveFeed`] (core thread, `poll` never blocks, request texts built at
//! start-up).

use super::{DEPTHS, Decoder, Precision};
use crate::error::FeedError;
use crate::kit::live::{
    DEFAULT_SNAPSHOT_TIMEOUT, Heartbeat, LiveCounters, LiveFeed, LiveFeedConfig, LiveVenue, WsFeedConfig,
};
use qt_core::Nanos;

/// Application-level ping interval (our choice; the 1 s heartbeats already prove liveness).
pub const PING_INTERVAL: Nanos = Nanos(20_000_000_000);
/// Drop the connection after this long without a frame (ten missed 1 s heartbeats).
pub const SILENCE_TIMEOUT: Nanos = Nanos(10_000_000_000);
/// The v2 stream's path.
pub const V2_PATH: &str = "/v2";

/// The Kraken live feed.
pub type KrakenFeed = LiveFeed<KrakenLive>;

impl LiveFeed<KrakenLive> {
    /// The connection counters ([`LiveFeed::link_counters`]; the name from before the kit).
    pub fn counters(&self) -> LiveCounters {
        self.link_counters()
    }
}

/// What a [`KrakenFeed`] connects to and subscribes.
#[derive(Debug, Clone)]
pub struct KrakenFeedConfig {
    /// URL, TLS and symbols (v2 names, [`qt_core::Instrument::symbol`] = `BTC/USD`).
    pub common: WsFeedConfig,
    /// Kraken's `price_precision`/`qty_precision` per symbol (the checksum's formatting); a
    /// missing entry uses the instrument's scales.
    pub precisions: Vec<Precision>,
    /// `book` depth, one of [`DEPTHS`].
    pub depth: usize,
    /// Subscribe `trade` too.
    pub trades: bool,
    /// `{"method":"ping"}` interval ([`PING_INTERVAL`]).
    pub ping_interval: Nanos,
    /// Reconnect after this long without a frame ([`SILENCE_TIMEOUT`]).
    pub silence_timeout: Nanos,
}

impl KrakenFeedConfig {
    /// Depth 10, trades on, the instruments' scales as precisions, documented timings.
    pub fn new(common: WsFeedConfig) -> Self {
        Self {
            common,
            precisions: Vec::new(),
            depth: DEPTHS[0],
            trades: true,
            ping_interval: PING_INTERVAL,
            silence_timeout: SILENCE_TIMEOUT,
        }
    }
}

impl From<&LiveFeedConfig> for KrakenFeedConfig {
    /// The uniform live config with this venue's defaults ([`KrakenFeedConfig::new`]).
    fn from(c: &LiveFeedConfig) -> Self {
        Self::new(c.into())
    }
}

/// Kraken's part of a [`LiveFeed`] (see the module doc).
#[derive(Debug, Clone)]
pub struct KrakenLive {
    symbols: Vec<String>,
    depth: usize,
    trades: bool,
    ping_interval: Nanos,
    silence_timeout: Nanos,
}

fn request(method: &str, channel: &str, symbols: &[&str], extra: &str) -> String {
    let names: Vec<String> = symbols.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "{{\"method\":\"{method}\",\"params\":{{\"channel\":\"{channel}\",\"symbol\":[{}]{extra}}}}}",
        names.join(",")
    )
}

impl KrakenLive {
    fn book_request(&self, method: &str, symbols: &[&str]) -> String {
        request(method, "book", symbols, &format!(",\"depth\":{}", self.depth))
    }

    /// The feed for `cfg` (validated: every problem at once). Blocking start-up work.
    pub fn feed(cfg: KrakenFeedConfig) -> Result<KrakenFeed, FeedError> {
        let mut problems = Vec::new();
        if !DEPTHS.contains(&cfg.depth) {
            problems.push(format!("depth: {} is not one of {DEPTHS:?}", cfg.depth));
        }
        if cfg.ping_interval <= Nanos::ZERO {
            problems.push(format!("ping_interval: {} ns is not positive", cfg.ping_interval.0));
        }
        if cfg.silence_timeout <= Nanos::ZERO {
            problems.push(format!("silence_timeout: {} ns is not positive", cfg.silence_timeout.0));
        }
        if cfg.precisions.len() > cfg.common.symbols.len() {
            problems.push(format!(
                "precisions: {} entries for {} symbols",
                cfg.precisions.len(),
                cfg.common.symbols.len()
            ));
        }
        for (i, s) in cfg.common.symbols.iter().enumerate() {
            let name = s.symbol();
            if name.split('/').filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())).count() != 2
                || name.matches('/').count() != 1
            {
                problems.push(format!("symbols[{i}]: {name:?} is not a Kraken v2 symbol (e.g. BTC/USD)"));
            }
        }
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "kraken", problem: problems.join("; ") });
        }
        let decoder = Decoder::with_depth(&cfg.common.symbols, &cfg.precisions, cfg.depth);
        LiveFeed::with_venue(Self::new(&cfg), decoder, &cfg.common.into())
    }

    /// The venue part alone (its requests and rules), e.g. for a raw capture; unvalidated:
    /// [`Self::feed`] validates.
    pub fn new(cfg: &KrakenFeedConfig) -> Self {
        Self {
            symbols: cfg.common.symbols.iter().map(|s| s.symbol().to_owned()).collect(),
            depth: cfg.depth,
            trades: cfg.trades,
            ping_interval: cfg.ping_interval,
            silence_timeout: cfg.silence_timeout,
        }
    }
}

impl LiveVenue for KrakenLive {
    type Decoder = Decoder;

    fn name(&self) -> &'static str {
        "kraken"
    }

    fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    fn ws_target(&self, configured: &str) -> String {
        format!("{}{V2_PATH}", configured.trim_end_matches('/'))
    }

    /// Every symbol, whatever `active` says (a symbol's subscription cannot change live).
    fn subscriptions(&self, _active: &[bool]) -> Vec<String> {
        let names: Vec<&str> = self.symbols.iter().map(String::as_str).collect();
        let mut out = vec![self.book_request("subscribe", &names)];
        if self.trades {
            out.push(request("subscribe", "trade", &names, ",\"snapshot\":false"));
        }
        out
    }

    fn resubscribe_requests(&self, index: usize) -> Vec<String> {
        let Some(name) = self.symbols.get(index) else { return Vec::new() };
        vec![self.book_request("unsubscribe", &[name]), self.book_request("subscribe", &[name])]
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat::Every { text: "{\"method\":\"ping\"}".into(), interval: self.ping_interval }
    }

    fn silence_timeout(&self) -> Option<Nanos> {
        Some(self.silence_timeout)
    }

    fn snapshot_timeout(&self) -> Option<Nanos> {
        Some(DEFAULT_SNAPSHOT_TIMEOUT)
    }
}
