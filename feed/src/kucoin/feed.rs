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
use crate::snapshot_feed::{SnapshotVenue, check_common};
use qt_core::{MarketEvent, Nanos};
use std::sync::atomic::{AtomicU64, Ordering};

/// `depth_limit` meaning "the full book" (`/api/v3/market/orderbook/level2`).
pub const FULL_BOOK: usize = 0;

/// KuCoin at the connection level.
#[derive(Debug)]
pub struct Kucoin {
    subscriptions: Vec<String>,
    snapshot_targets: Vec<String>,
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

    fn subscribe_frames(&self) -> Vec<String> {
        self.subscriptions.clone()
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

impl SnapshotSyncDecoder for Decoder {
    fn symbol_count(&self) -> usize {
        self.syncs.len()
    }

    fn is_synced(&self, index: usize) -> bool {
        Decoder::is_synced(self, index)
    }

    fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        Decoder::take_snapshot_request(self, index)
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
                log::warn!("kucoin: snapshot of {} refused: {e}", instrument.symbol());
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
        let mut subscriptions = Vec::new();
        for (i, chunk) in names.chunks(connect::MAX_SYMBOLS_PER_TOPIC).enumerate() {
            for (j, topic) in [connect::level2_topic(chunk), connect::match_topic(chunk)].into_iter().enumerate() {
                match topic {
                    Ok(t) => subscriptions.push(connect::subscribe_message((2 * i + j + 1) as u64, &t, true)),
                    Err(e) => problems.push(format!("symbols: {e}")),
                }
            }
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
        let venue = Kucoin { subscriptions, snapshot_targets, connect_ids: AtomicU64::new(0) };
        Self::with_venue(venue, Decoder::new(&cfg.symbols), &cfg)
    }
}
