//! KuCoin's token-based WebSocket connect flow, as pure functions: parse the
//! `POST /api/v1/bullet-public` answer ([`parse_bullet_public`]), build the connect URL
//! (`<endpoint>?token=<token>&connectId=<id>`, [`connect_url`]), and the client messages
//! ([`subscribe_message`], [`ping_message`]).
//!
//! Thread and contract: cold path (connect/reconnect), on whichever thread connects; allocates,
//! never blocks, never panics on input. The token is single-use per connection in KuCoin's
//! flow: fetch a fresh bullet before every (re)connect.

use qt_core::Nanos;

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
    /// The token or connect id holds a character that would break the query string.
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
            ConnectError::BadQueryValue => "token or connectId holds '&', '#', '%', whitespace or a control byte",
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

fn query_safe(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'&' | b'#' | b'%'))
}

/// `<endpoint>?token=<token>&connectId=<connect_id>` (the token as issued: KuCoin's tokens are
/// base64url-like with `=` padding, passed unencoded as the documented examples do).
pub fn connect_url(endpoint: &str, token: &str, connect_id: &str) -> Result<String, ConnectError> {
    if !query_safe(token) || !query_safe(connect_id) {
        return Err(ConnectError::BadQueryValue);
    }
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
