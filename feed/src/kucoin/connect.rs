//! KuCoin's connect step: the token-based connect flow as pure functions (parse the
//! `POST /api/v1/bullet-public` answer, [`parse_bullet_public`]; the connect URL
//! `<endpoint>?token=<token>&connectId=<id>`, values percent-encoded, [`connect_url`]; the client messages,
//! [`subscribe_message`], [`ping_message`]), and [`Kucoin`], the [`LiveVenue`] that makes the
//! shared live layer a KuCoin spot feed ([`KucoinFeed`]):
//!
//! - **Connect** (on the snapshot thread, before every session: tokens are single-use):
//!   `POST /api/v1/bullet-public` → token + `instanceServers[]` (endpoint, `pingInterval`,
//!   `pingTimeout`) → `wss://<endpoint>?token=<token>&connectId=<n>`.
//! - **Greeting and subscriptions**: the server sends `welcome` first; then one
//!   `{"type":"subscribe"}` per topic (`/market/level2:A,B,..` and `/market/match:A,B,..`, at
//!   most 100 symbols per topic), each acknowledged with `ack`.
//! - **Heartbeat**: `{"id":"<n>","type":"ping"}` every `pingInterval` (`n`: the session's
//!   connect id); a session silent for `pingInterval + pingTimeout` is dropped and reconnected.
//! - **Snapshots**: `GET /api/v1/market/orderbook/level2_{20,100}?symbol=` (public, top levels
//!   only) or the full `GET /api/v3/market/orderbook/level2?symbol=` (which the real venue serves
//!   to signed requests only; this layer sends no signature), synced by [`super::sync`].
//!
//! Thread and contract: the pure functions are cold path on whichever thread connects;
//! allocate, never block, never panic on input. [`KucoinFeed`] is a [`LiveFeed`]: core thread,
//! `poll` never blocks; construction validates the config and may block on DNS; the bullet
//! request and its DNS run on the snapshot thread.

use super::Decoder;
use crate::error::FeedError;
use crate::kit::live::{Heartbeat, LiveFeed, LiveFeedConfig, LiveVenue, SessionPlan, check_common};
use crate::snapshot::HttpsClient;
use qt_core::Nanos;
use std::sync::atomic::{AtomicU64, Ordering};

/// `POST` path of the public token request.
pub const BULLET_PUBLIC_PATH: &str = "/api/v1/bullet-public";
/// Most symbols one topic may name (`/market/level2:A,B,...`).
pub const MAX_SYMBOLS_PER_TOPIC: usize = 100;

/// Why a bullet answer or a connect parameter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// Not valid JSON, or not the documented shape.
    Json,
    /// `code` is not `"200000"`.
    VenueCode,
    /// No instance server speaks `websocket`.
    NoServer,
    /// The token or connect id is empty or holds whitespace or a control byte.
    BadQueryValue,
    /// A topic would name more than [`MAX_SYMBOLS_PER_TOPIC`] symbols, or none.
    TopicSize,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectError::Json => "bullet answer is not {\"code\":..,\"data\":{\"token\":..,\"instanceServers\":[..]}}",
            ConnectError::VenueCode => "bullet answer's \"code\" is not \"200000\"",
            ConnectError::NoServer => "bullet answer lists no instance server with protocol \"websocket\"",
            ConnectError::BadQueryValue => "token or connectId is empty or holds whitespace or a control byte",
            ConnectError::TopicSize => "a topic names 1..=100 symbols",
        })
    }
}

impl std::error::Error for ConnectError {}

/// One `instanceServers[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceServer {
    /// WebSocket endpoint, e.g. `wss://ws-api-spot.kucoin.com/`.
    pub endpoint: String,
    /// `protocol` (`websocket`).
    pub protocol: String,
    /// `encrypt`.
    pub encrypt: bool,
    /// `pingInterval`: send a ping this often (ms).
    pub ping_interval_ms: u64,
    /// `pingTimeout`: the session is dead if no pong within this (ms).
    pub ping_timeout_ms: u64,
}

impl InstanceServer {
    /// [`Self::ping_interval_ms`] as [`Nanos`].
    pub fn ping_interval(&self) -> Nanos {
        ms(self.ping_interval_ms)
    }

    /// [`Self::ping_timeout_ms`] as [`Nanos`].
    pub fn ping_timeout(&self) -> Nanos {
        ms(self.ping_timeout_ms)
    }
}

fn ms(v: u64) -> Nanos {
    Nanos(i64::try_from(v).unwrap_or(i64::MAX).saturating_mul(1_000_000))
}

/// A parsed `bullet-public` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bullet {
    /// `data.token`.
    pub token: String,
    /// `data.instanceServers`, in the venue's order.
    pub servers: Vec<InstanceServer>,
}

impl Bullet {
    /// The first server whose protocol is `websocket`.
    pub fn websocket_server(&self) -> Result<&InstanceServer, ConnectError> {
        self.servers.iter().find(|s| s.protocol == "websocket").ok_or(ConnectError::NoServer)
    }
}

#[derive(serde::Deserialize)]
struct RawBody {
    code: String,
    data: Option<RawBullet>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBullet {
    token: String,
    instance_servers: Vec<RawServer>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawServer {
    endpoint: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    encrypt: bool,
    ping_interval: u64,
    ping_timeout: u64,
}

/// Parses a `POST /api/v1/bullet-public` (or `bullet-private`) response body.
pub fn parse_bullet_public(body: &[u8]) -> Result<Bullet, ConnectError> {
    let mut owned = body.to_vec();
    let raw: RawBody = simd_json::serde::from_slice(&mut owned).map_err(|_| ConnectError::Json)?;
    if raw.code != "200000" {
        return Err(ConnectError::VenueCode);
    }
    let data = raw.data.ok_or(ConnectError::Json)?;
    let servers = data
        .instance_servers
        .into_iter()
        .map(|s| InstanceServer {
            endpoint: s.endpoint,
            protocol: s.protocol,
            encrypt: s.encrypt,
            ping_interval_ms: s.ping_interval,
            ping_timeout_ms: s.ping_timeout,
        })
        .collect();
    Ok(Bullet { token: data.token, servers })
}

/// A query value as KuCoin's clients write it: RFC 3986 unreserved bytes (`A-Z a-z 0-9 - . _ ~`)
/// as they are, every other byte `%XX` (upper-case hex), so a token's `=` padding goes out as
/// `%3D` — what the official SDK and ccxt send (Python's `urlencode`). `None` for an empty value
/// or one holding whitespace or a control byte (no issued token or id does).
fn query_value(v: &str) -> Option<String> {
    if v.is_empty() || v.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return None;
    }
    let mut out = String::with_capacity(v.len() + 8);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    Some(out)
}

/// `<endpoint>?token=<token>&connectId=<connect_id>`, both values percent-encoded as KuCoin's
/// clients send them ([`query_value`]: the token's `==` padding as `%3D%3D`).
pub fn connect_url(endpoint: &str, token: &str, connect_id: &str) -> Result<String, ConnectError> {
    let (Some(token), Some(connect_id)) = (query_value(token), query_value(connect_id)) else {
        return Err(ConnectError::BadQueryValue);
    };
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}token={token}&connectId={connect_id}"))
}

/// `GET` path (with query) of the full level-2 snapshot. KuCoin serves it to **signed** requests
/// only (NOTES.md §4: authenticated, weight 3); the body is what [`super::parse::parse_level2_snapshot`]
/// reads.
pub fn full_snapshot_path(symbol: &str) -> String {
    format!("/api/v3/market/orderbook/level2?symbol={symbol}")
}

/// `GET` path (with query) of the public partial snapshot, `depth` 20 or 100 (`None` otherwise).
/// Same body shape as the full one, but only the top `depth` levels per side: a book synced from
/// it is exact near the top and misses deeper levels until increments touch them.
pub fn partial_snapshot_path(symbol: &str, depth: usize) -> Option<String> {
    matches!(depth, 20 | 100).then(|| format!("/api/v1/market/orderbook/level2_{depth}?symbol={symbol}"))
}

fn topic(prefix: &str, symbols: &[&str]) -> Result<String, ConnectError> {
    if symbols.is_empty() || symbols.len() > MAX_SYMBOLS_PER_TOPIC {
        return Err(ConnectError::TopicSize);
    }
    Ok(format!("{prefix}{}", symbols.join(",")))
}

/// `/market/level2:<SYM>[,<SYM>...]`.
pub fn level2_topic(symbols: &[&str]) -> Result<String, ConnectError> {
    topic(super::parse::LEVEL2_PREFIX, symbols)
}

/// `/market/match:<SYM>[,<SYM>...]`.
pub fn match_topic(symbols: &[&str]) -> Result<String, ConnectError> {
    topic(super::parse::MATCH_PREFIX, symbols)
}

/// `{"id":<id>,"type":"subscribe","topic":"<topic>","response":<response>}` (public topic; the
/// documented example's shape). `topic` comes from [`level2_topic`]/[`match_topic`]: symbols
/// never need JSON escaping.
pub fn subscribe_message(id: u64, topic: &str, response: bool) -> String {
    topic_message("subscribe", id, topic, response)
}

/// `{"id":<id>,"type":"<kind>","topic":"<topic>","response":<response>}` for `kind`
/// `subscribe` or `unsubscribe` (the documented shapes of both).
pub fn topic_message(kind: &str, id: u64, topic: &str, response: bool) -> String {
    format!(r#"{{"id":{id},"type":"{kind}","topic":"{topic}","response":{response}}}"#)
}

/// `{"id":"<id>","type":"ping"}`: send every `pingInterval`; the venue answers `pong`.
pub fn ping_message(id: u64) -> String {
    format!(r#"{{"id":"{id}","type":"ping"}}"#)
}

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

impl LiveVenue for Kucoin {
    type Decoder = Decoder;

    fn name(&self) -> &'static str {
        "kucoin"
    }

    fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    fn opens_sessions(&self) -> bool {
        true
    }

    #[cold]
    fn open_session(&self, rest: &HttpsClient) -> Result<SessionPlan, String> {
        let path = BULLET_PUBLIC_PATH;
        let (status, body) = rest.post(path, b"").map_err(|e| format!("POST {path}: {e}"))?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("POST {path}: HTTP {status}: {text}"));
        }
        let bullet = parse_bullet_public(&body).map_err(|e| format!("POST {path}: {e}"))?;
        let server = bullet.websocket_server().map_err(|e| e.to_string())?;
        let id = self.connect_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let url = connect_url(&server.endpoint, &bullet.token, &format!("qt{id}")).map_err(|e| e.to_string())?;
        let interval = server.ping_interval();
        Ok(SessionPlan {
            url,
            heartbeat: Heartbeat::Every { text: ping_message(id), interval },
            silence_timeout: Some(interval.saturating_add(server.ping_timeout())),
        })
    }

    /// One `subscribe` per topic (level-2, match) per 100 active symbols.
    fn subscriptions(&self, active: &[bool]) -> Vec<String> {
        let on: Vec<&str> = self.symbols.iter().zip(active).filter(|(_, a)| **a).map(|(s, _)| s.as_str()).collect();
        on.chunks(MAX_SYMBOLS_PER_TOPIC).flat_map(|chunk| self.messages("subscribe", chunk)).collect()
    }

    fn change_requests(&self, index: usize, subscribe: bool) -> Option<Vec<String>> {
        let symbol = self.symbols.get(index)?;
        Some(self.messages(if subscribe { "subscribe" } else { "unsubscribe" }, &[symbol.as_str()]))
    }

    fn greeting(&self) -> Option<&'static [u8]> {
        Some(b"\"welcome\"")
    }

    fn snapshot_target(&self, index: usize) -> Option<String> {
        self.snapshot_targets.get(index).cloned()
    }
}

impl Kucoin {
    /// `kind` (`subscribe`/`unsubscribe`) messages for the level-2 and match topics of `symbols`
    /// (1..=100 of them, as configured and checked at start-up).
    fn messages(&self, kind: &str, symbols: &[&str]) -> Vec<String> {
        [level2_topic(symbols), match_topic(symbols)]
            .into_iter()
            .flatten()
            .map(|topic| {
                let id = self.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
                topic_message(kind, id, &topic, true)
            })
            .collect()
    }
}

/// The KuCoin spot market-data feed.
pub type KucoinFeed = LiveFeed<Kucoin>;

impl LiveFeed<Kucoin> {
    /// Validates `cfg` (`ws_url` unused: the bullet answer names the endpoint; `depth_limit`
    /// 20 or 100 for the public partial snapshot, [`FULL_BOOK`] for the full one), builds TLS
    /// and starts the snapshot thread. Blocking start-up work: call before the core loop.
    pub fn new(cfg: LiveFeedConfig) -> Result<Self, FeedError> {
        let mut problems = Vec::new();
        check_common(&cfg, false, true, &mut problems);
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
            .map(|s| match partial_snapshot_path(s, cfg.depth_limit) {
                Some(p) => p,
                None => full_snapshot_path(s),
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
