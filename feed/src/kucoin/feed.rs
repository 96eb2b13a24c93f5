//! [`KucoinFeed`]: KuCoin spot public market data as a live [`qt_core::FeedSource`] — the shared
//! [`SnapshotFeed`] layer with what differs here:
//!
//! - **Connect** (on the snapshot thread, before every session: tokens are single-use):
//!   `POST /api/v1/bullet-public` → token + `instanceServers[]` (endpoint, `pingInterval`,
//!   `pingTimeout`) → `wss://<endpoint>?token=<token>&connectId=<n>` ([`super::connect`]).
//! - **Greeting and subscriptions**: the server sends `welcome` first; then one
//!   `{"type":"subscribe"}` per topic (`/market/level2:A,B,..` and `/market/match:A,B,..`, at
//!   most 100 symbols per topic), each acknowledged with `ack`.
//! - **Heartbeat**: `{"id":"<n>","type":"ping"}` every `pingInterval`; a session silent for
//!   `pingInterval + pingTimeout` is dropped and reconnected.
//! - **Snapshots**: `GET /api/v1/market/orderbook/level2_{20,100}?symbol=` (public, top levels
//!   only) or the full `GET /api/v3/market/orderbook/level2?symbol=` (which the real venue serves
//!   to signed requests only; this layer sends no signature), synced by [`super::sync`].
//!
//! Thread and contract: as [`SnapshotFeed`]. Construction validates the config and may block on
//! DNS; the bullet request and its DNS run on the snapshot thread.

use super::{Decoder, connect, parse};
use crate::error::FeedError;
use crate::snapshot::HttpsClient;
use crate::snapshot_feed::{Heartbeat, SessionPlan, SnapshotFeed, SnapshotFeedConfig, SnapshotSyncDecoder};
use crate::snapshot_feed::{SnapshotVenue, check_common, deactivates};
use qt_core::{MarketEvent, Nanos};
use std::sync::atomic::{AtomicU64, Ordering};

/// `depth_limit` meaning "the full book" (`/api/v3/market/orderbook/level2`).
pub const FULL_BOOK: usize = 0;

/// KuCoin at the connection level.
#[derive(Debug)]
pub struct Kucoin {
    symbols: Vec<String>,
    snapshot_targets: Vec<String>,
    /// Ids of subscribe / unsubscribe messages.
    request_ids: AtomicU64,
    connect_ids: AtomicU64,
}

impl SnapshotVenue for Kucoin {
    type Decoder = Decoder;

    fn label(&self) -> &'static str {
        "kucoin"
    }

    #[cold]
    fn open_session(&self, rest: &HttpsClient) -> Result<SessionPlan, String> {
        let path = connect::BULLET_PUBLIC_PATH;
        let (status, body) = rest.post(path, b"").map_err(|e| format!("POST {path}: {e}"))?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("POST {path}: HTTP {status}: {text}"));
        }
        let bullet = connect::parse_bullet_public(&body).map_err(|e| format!("POST {path}: {e}"))?;
        let server = bullet.websocket_server().map_err(|e| e.to_string())?;
        let id = self.connect_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let url =
            connect::connect_url(&server.endpoint, &bullet.token, &format!("qt{id}")).map_err(|e| e.to_string())?;
        Ok(SessionPlan {
            url,
            heartbeat: Some(Heartbeat { interval: server.ping_interval(), timeout: server.ping_timeout() }),
        })
    }

    /// One `subscribe` per topic (level-2, match) per 100 active symbols.
    fn subscribe_frames(&self, active: &[bool]) -> Vec<String> {
        let on: Vec<&str> = self.symbols.iter().zip(active).filter(|(_, a)| **a).map(|(s, _)| s.as_str()).collect();
        on.chunks(connect::MAX_SYMBOLS_PER_TOPIC).flat_map(|chunk| self.messages("subscribe", chunk)).collect()
    }

    fn change_frames(&self, index: usize, subscribe: bool) -> Vec<String> {
        let Some(symbol) = self.symbols.get(index) else { return Vec::new() };
        self.messages(if subscribe { "subscribe" } else { "unsubscribe" }, &[symbol.as_str()])
    }

    fn greets_first(&self) -> bool {
        true
    }

    fn is_welcome(&self, frame: &[u8]) -> bool {
        frame.windows(9).any(|w| w == b"\"welcome\"")
    }

    fn ping_frame(&self, n: u64) -> Option<String> {
        Some(connect::ping_message(n))
    }

    fn snapshot_target(&self, index: usize) -> String {
        self.snapshot_targets.get(index).cloned().unwrap_or_default()
    }
}

impl Kucoin {
    /// `kind` (`subscribe`/`unsubscribe`) messages for the level-2 and match topics of `symbols`
    /// (1..=100 of them, as configured and checked at start-up).
    fn messages(&self, kind: &str, symbols: &[&str]) -> Vec<String> {
        [connect::level2_topic(symbols), connect::match_topic(symbols)]
            .into_iter()
            .flatten()
            .map(|topic| {
                let id = self.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
                connect::topic_message(kind, id, &topic, true)
            })
            .collect()
    }
}

impl SnapshotSyncDecoder for Decoder {
    fn symbol_count(&self) -> usize {
        self.syncs.len()
    }

    fn is_synced(&self, index: usize) -> bool {
        Decoder::is_synced(self, index)
    }

    fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        if !self.active.get(index).copied().unwrap_or(false) {
            return None;
        }
        Decoder::take_snapshot_request(self, index)
    }

    #[cold]
    fn set_active(&mut self, index: usize, active: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if deactivates(&mut self.active, index, active)
            && let Some(sync) = self.syncs.get_mut(index)
        {
            sync.reset(now, emit);
            self.counters.records += 1;
        }
    }

    fn retry_snapshot_request(&mut self, index: usize, generation: u64) {
        if let Some(sync) = self.syncs.get_mut(index)
            && sync.generation() == generation
        {
            sync.retry_snapshot_request();
        }
    }

    #[cold]
    fn on_snapshot_reply(
        &mut self,
        index: usize,
        generation: u64,
        body: &mut [u8],
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        let Some(instrument) = self.instruments.get(index) else { return };
        match parse::parse_level2_snapshot(body, instrument) {
            Ok(snap) => {
                self.on_snapshot(index, &snap, generation, now, emit);
            }
            Err(e) => {
                self.counters.snapshot_failures += 1;
                self.warns.snapshot_refused("kucoin", instrument.symbol(), &e, now);
                SnapshotSyncDecoder::retry_snapshot_request(self, index, generation);
            }
        }
    }
}

/// The KuCoin spot market-data feed.
pub type KucoinFeed = SnapshotFeed<Kucoin>;

impl SnapshotFeed<Kucoin> {
    /// Validates `cfg` (`ws_url` unused: the bullet answer names the endpoint; `depth_limit`
    /// 20 or 100 for the public partial snapshot, [`FULL_BOOK`] for the full one), builds TLS
    /// and starts the snapshot thread. Blocking start-up work: call before the core loop.
    pub fn new(cfg: SnapshotFeedConfig) -> Result<Self, FeedError> {
        let mut problems = Vec::new();
        check_common(&cfg, false, &mut problems);
        if !matches!(cfg.depth_limit, FULL_BOOK | 20 | 100) {
            problems.push(format!("depth_limit: {} is not 20, 100 or 0 (full book)", cfg.depth_limit));
        }
        let names: Vec<&str> = cfg.symbols.iter().map(|s| s.symbol()).collect();
        if names.iter().any(|n| n.is_empty() || n.contains(',')) {
            problems.push("symbols: a KuCoin symbol is non-empty and holds no ','".into());
        }
        if !problems.is_empty() {
            return Err(FeedError::Config { field: "kucoin", problem: problems.join("; ") });
        }
        let snapshot_targets = names
            .iter()
            .map(|s| match connect::partial_snapshot_path(s, cfg.depth_limit) {
                Some(p) => p,
                None => connect::full_snapshot_path(s),
            })
            .collect();
        let venue = Kucoin {
            symbols: names.iter().map(|s| s.to_string()).collect(),
            snapshot_targets,
            request_ids: AtomicU64::new(0),
            connect_ids: AtomicU64::new(0),
        };
        Self::with_venue(venue, Decoder::new(&cfg.symbols), &cfg)
    }
}
