//! OKX's connect step: [`OkxLive`], the [`LiveVenue`] that makes a [`LiveFeed`] an OKX
//! public market-data connection, and [`OkxFeed`] (that feed) over [`super::Decoder`].
//!
//! Protocol (OKX v5 "WebSocket" overview and "Order book channel"; `venues/NOTES.md` §3): the
//! feed opens `<ws_url>/ws/v5/public` and sends
//! `{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},..]}` (plus `trades` and
//! `bbo-tbt` when configured); each arg is acknowledged by an `{"event":"subscribe",..}` and a
//! `books` subscription starts with `action:"snapshot"`. A gap (`prevSeqId` ≠ the last
//! `seqId`), a checksum mismatch or an unreadable `books` frame makes the decoder invalidate the
//! book and ask for a resubscribe; the feed sends `unsubscribe` + `subscribe` of that book's
//! `books` arg, which makes OKX send a fresh snapshot.
//!
//! Heartbeat: OKX closes a connection that has pushed nothing for 30 s and asks the client to
//! send the text `ping` when it has received nothing for N < 30 s, expecting `pong`
//! ([`PING_AFTER`]); no reply within [`SILENCE_TIMEOUT`] of the last frame drops and
//! reconnects the connection.
//!
//! Thread and contract: as [`LiveFeed`] (core thread, `poll` never blocks, request texts built at
//! start-up).

use super::Decoder;
use crate::error::FeedError;
use crate::kit::live::{
    DEFAULT_SNAPSHOT_TIMEOUT, Heartbeat, LiveCounters, LiveFeed, LiveFeedConfig, LiveVenue, WsFeedConfig,
};
use qt_core::Nanos;

/// Send `ping` after this long without a frame ("N < 30 s"; 20 s leaves time for the reply).
pub const PING_AFTER: Nanos = Nanos(20_000_000_000);
/// Drop the connection after this long without a frame (the `pong` did not come either).
pub const SILENCE_TIMEOUT: Nanos = Nanos(30_000_000_000);
/// Most args in one subscribe request (our choice: OKX bounds a request by its 64 KB length).
pub const MAX_ARGS_PER_REQUEST: usize = 20;
/// The public stream's path.
pub const PUBLIC_PATH: &str = "/ws/v5/public";

/// The OKX live feed.
pub type OkxFeed = LiveFeed<OkxLive>;

impl LiveFeed<OkxLive> {
    /// The connection counters ([`LiveFeed::link_counters`]; the name from before the kit).
    pub fn counters(&self) -> LiveCounters {
        self.link_counters()
    }
}

/// What an [`OkxFeed`] connects to and subscribes.
#[derive(Debug, Clone)]
pub struct OkxFeedConfig {
    /// URL, TLS and symbols (`instId` = [`qt_core::Instrument::symbol`], e.g. `BTC-USDT`).
    pub common: WsFeedConfig,
    /// Subscribe `trades` too.
    pub trades: bool,
    /// Subscribe `bbo-tbt` too.
    pub bbo: bool,
    /// Send `ping` after this long without a frame ([`PING_AFTER`]).
    pub ping_after: Nanos,
    /// Reconnect after this long without a frame ([`SILENCE_TIMEOUT`]).
    pub silence_timeout: Nanos,
}

impl OkxFeedConfig {
    /// `books` + `trades`, no `bbo-tbt`, documented heartbeat timings.
    pub fn new(common: WsFeedConfig) -> Self {
        Self { common, trades: true, bbo: false, ping_after: PING_AFTER, silence_timeout: SILENCE_TIMEOUT }
    }
}

impl From<&LiveFeedConfig> for OkxFeedConfig {
    /// The uniform live config with this venue's defaults ([`OkxFeedConfig::new`]).
    fn from(c: &LiveFeedConfig) -> Self {
        Self::new(c.into())
    }
}

/// OKX's part of a [`LiveFeed`] (see the module doc).
#[derive(Debug, Clone)]
pub struct OkxLive {
    inst_ids: Vec<String>,
    trades: bool,
    bbo: bool,
    ping_after: Nanos,
    silence_timeout: Nanos,
}

fn arg(channel: &str, inst_id: &str) -> String {
    format!("{{\"channel\":\"{channel}\",\"instId\":\"{inst_id}\"}}")
}

fn request(op: &str, args: &[String]) -> String {
    format!("{{\"op\":\"{op}\",\"args\":[{}]}}", args.join(","))
}

impl LiveVenue for OkxLive {
    type Decoder = Decoder;

    fn name(&self) -> &'static str {
        "okx"
    }

    fn symbol_count(&self) -> usize {
        self.inst_ids.len()
    }

    fn ws_target(&self, configured: &str) -> String {
        format!("{}{PUBLIC_PATH}", configured.trim_end_matches('/'))
    }

    /// Every symbol, whatever `active` says (a symbol's subscription cannot change live).
    fn subscriptions(&self, _active: &[bool]) -> Vec<String> {
        let mut args = Vec::new();
        for id in &self.inst_ids {
            args.push(arg("books", id));
            if self.trades {
                args.push(arg("trades", id));
            }
            if self.bbo {
                args.push(arg("bbo-tbt", id));
            }
        }
        args.chunks(MAX_ARGS_PER_REQUEST).map(|c| request("subscribe", c)).collect()
    }

    fn resubscribe_requests(&self, index: usize) -> Vec<String> {
        let Some(id) = self.inst_ids.get(index) else { return Vec::new() };
        let books = [arg("books", id)];
        vec![request("unsubscribe", &books), request("subscribe", &books)]
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat::WhenSilent { text: "ping".into(), interval: self.ping_after }
    }

    fn silence_timeout(&self) -> Option<Nanos> {
        Some(self.silence_timeout)
    }

    fn snapshot_timeout(&self) -> Option<Nanos> {
        Some(DEFAULT_SNAPSHOT_TIMEOUT)
    }
}

impl OkxLive {
    /// The feed for `cfg` (validated: every problem at once). Blocking start-up work.
    pub fn feed(cfg: OkxFeedConfig) -> Result<OkxFeed, FeedError> {
        let mut problems = Vec::new();
        if cfg.ping_after <= Nanos::ZERO {
            problems.push(format!("ping_after: {} ns is not positive", cfg.ping_after.0));
        }
        if cfg.silence_timeout <= cfg.ping_after {
            problems.push(format!(
                "silence_timeout: {} ns must exceed ping_after ({} ns) to leave time for the pong",
                cfg.silence_timeout.0, cfg.ping_after.0
            ));
        }
        for (i, s) in cfg.common.symbols.iter().enumerate() {
            let id = s.symbol();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                problems.push(format!("symbols[{i}]: {id:?} is not an OKX instId (e.g. BTC-USDT)"));
            }
        }
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "okx", problem: problems.join("; ") });
        }
        let decoder = Decoder::new(&cfg.common.symbols);
        LiveFeed::with_venue(Self::new(&cfg), decoder, &cfg.common.into())
    }

    /// The venue part alone (its requests and rules), e.g. for a raw capture; unvalidated:
    /// [`Self::feed`] validates.
    pub fn new(cfg: &OkxFeedConfig) -> Self {
        Self {
            inst_ids: cfg.common.symbols.iter().map(|s| s.symbol().to_owned()).collect(),
            trades: cfg.trades,
            bbo: cfg.bbo,
            ping_after: cfg.ping_after,
            silence_timeout: cfg.silence_timeout,
        }
    }
}
