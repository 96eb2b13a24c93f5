//! Binance's connect step: [`CombinedStreams`], the [`LiveVenue`] of Binance spot (and, with its
//! own decoder and streams, USD-M futures), and [`BinanceFeed`], the spot feed on the shared
//! live layer.
//!
//! Protocol: one combined-stream WebSocket (`<ws_url>/stream?streams=<sym>@depth@100ms/
//! <sym>@bookTicker/<sym>@trade/...`) naming every stream, so no subscription frames (only
//! `UNSUBSCRIBE` for symbols switched off, and `SUBSCRIBE`/`UNSUBSCRIBE` of one symbol on a live
//! session); the server pings and tungstenite answers, so no application heartbeat. REST
//! snapshots (`GET <snapshot_path>?symbol=S&limit=N`) come from the layer's snapshot thread and
//! are synced by the decoder.
//!
//! Thread and contract: as [`LiveFeed`] (core thread, `poll` never blocks); everything here is
//! start-up or cold path.

use super::{Decoder, parse};
use crate::error::FeedError;
use crate::kit::live::{LiveDecoder, LiveFeed, LiveFeedConfig, LiveVenue, check_common};
use parse::StreamKind;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::kit::live::{RECONNECT_BASE, RECONNECT_CAP};

/// Default REST snapshot depth (`limit`).
pub const DEFAULT_DEPTH_LIMIT: usize = 1000;

/// What a [`BinanceFeed`] connects to and subscribes (`ws_url` e.g.
/// `wss://stream.binance.com:9443`, the feed appends `/stream?streams=...`; `rest_url` e.g.
/// `https://api.binance.com`; `depth_limit` at most 5000).
pub type BinanceFeedConfig = LiveFeedConfig;

/// A Binance venue at the connection level (spot with [`Decoder`], USD-M with
/// `crate::binance_usdm::Decoder`): one combined-stream URL naming every stream, REST snapshots
/// from a fixed target per symbol.
pub struct CombinedStreams<D> {
    label: &'static str,
    /// `/stream?streams=<s1>/<s2>/...`.
    target: String,
    /// Each symbol's stream names.
    streams: Vec<Vec<String>>,
    snapshot_targets: Vec<String>,
    /// Ids of live `SUBSCRIBE` / `UNSUBSCRIBE` requests.
    request_ids: AtomicU64,
    decoder: std::marker::PhantomData<fn() -> D>,
}

impl<D> std::fmt::Debug for CombinedStreams<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CombinedStreams").field("label", &self.label).field("target", &self.target).finish()
    }
}

impl<D> CombinedStreams<D> {
    /// `<ws_url>/stream?streams=<s1>/<s2>/...` naming `streams` (per symbol of `cfg`), and
    /// `<snapshot_path>?symbol=<S>&limit=<depth_limit>` per symbol.
    pub(crate) fn new(
        label: &'static str,
        cfg: &LiveFeedConfig,
        streams: Vec<Vec<String>>,
        snapshot_path: &str,
    ) -> Self {
        let target = format!("/stream?streams={}", streams.concat().join("/"));
        let snapshot_targets = cfg
            .symbols
            .iter()
            .map(|s| format!("{snapshot_path}?symbol={}&limit={}", s.symbol(), cfg.depth_limit))
            .collect();
        let request_ids = AtomicU64::new(0);
        Self { label, target, streams, snapshot_targets, request_ids, decoder: std::marker::PhantomData }
    }

    /// `{"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[..],"id":n}` (stream names are
    /// lower-case ASCII with `@`: nothing to escape).
    fn request(&self, method: &str, streams: &[&String]) -> String {
        let id = self.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let params: Vec<String> = streams.iter().map(|s| format!("\"{s}\"")).collect();
        format!(r#"{{"method":"{method}","params":[{}],"id":{id}}}"#, params.join(","))
    }
}

impl<D: LiveDecoder + 'static> LiveVenue for CombinedStreams<D> {
    type Decoder = D;

    fn name(&self) -> &'static str {
        self.label
    }

    fn symbol_count(&self) -> usize {
        self.streams.len()
    }

    fn ws_target(&self, configured: &str) -> String {
        format!("{}{}", configured.trim_end_matches('/'), self.target)
    }

    /// The URL names every stream: unsubscribe the inactive symbols' ones.
    fn subscriptions(&self, active: &[bool]) -> Vec<String> {
        let off: Vec<&String> =
            self.streams.iter().zip(active).filter(|(_, on)| !**on).flat_map(|(s, _)| s.iter()).collect();
        if off.is_empty() { Vec::new() } else { vec![self.request("UNSUBSCRIBE", &off)] }
    }

    fn change_requests(&self, index: usize, subscribe: bool) -> Option<Vec<String>> {
        let names: Vec<&String> = self.streams.get(index)?.iter().collect();
        Some(vec![self.request(if subscribe { "SUBSCRIBE" } else { "UNSUBSCRIBE" }, &names)])
    }

    fn snapshot_target(&self, index: usize) -> Option<String> {
        self.snapshot_targets.get(index).cloned()
    }
}

/// Binance spot at the connection level.
pub type BinanceSpot = CombinedStreams<Decoder>;

/// The Binance spot market-data feed: [`LiveFeed`] over [`BinanceSpot`].
pub type BinanceFeed = LiveFeed<BinanceSpot>;

impl LiveFeed<BinanceSpot> {
    /// Validates `cfg` (every problem at once), resolves the hosts, builds TLS and starts the
    /// snapshot thread. Blocking start-up work (DNS, CA file): call before the core loop.
    pub fn new(cfg: BinanceFeedConfig) -> Result<Self, FeedError> {
        let mut problems = Vec::new();
        check_common(&cfg, true, true, &mut problems);
        if !(1..=5000).contains(&cfg.depth_limit) {
            problems.push(format!("depth_limit: {} is outside 1..=5000", cfg.depth_limit));
        }
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "binance", problem: problems.join("; ") });
        }
        let streams =
            cfg.symbols.iter().map(|s| StreamKind::ALL.map(|k| parse::stream_name(s.symbol(), k)).to_vec()).collect();
        let venue = BinanceSpot::new("binance", &cfg, streams, "/api/v3/depth");
        Self::with_venue(venue, Decoder::new(&cfg.symbols), &cfg)
    }

    /// The counters now (decoder and connection).
    pub fn counters(&self) -> super::BinanceCountersSnapshot {
        let mut c = self.decoder().counters();
        let link = self.link_counters();
        c.connects = link.connects;
        c.reconnects = link.reconnects;
        c.disconnects = link.disconnects;
        c.connect_failures = link.connect_failures;
        c.snapshot_failures += link.snapshot_failures;
        c
    }
}
