//! KuCoin's private stream of one account as a kit [`StreamSession`]: `open` asks for a token
//! (signed `POST /api/v1/bullet-private`, on the venue's clock), connects to
//! `<ws_url>/?token=<token>&connectId=<id>`, and subscribes to `/spotMarket/tradeOrdersV2`
//! (`privateChannel`, `response: true`), waiting for the `ack` (the `welcome` that comes first is
//! skipped), so a returned connection already carries every order event.
//! `{"id","type":"ping"}` goes out every `pingInterval` the token's answer names (KuCoin closes a
//! session silent for `pingInterval + pingTimeout`); `welcome`, `ack` and `pong` are
//! housekeeping; an `error` ends the connection; `message` frames go to the gateway thread.
//!
//! Facts: `NOTES-orders.md` §4, `testdata/kucoin/orders/rest_bullet_private_response.json`.
//! The answer's `instanceServers[0].endpoint` is not followed: the configured `ws_url` is the
//! venue's private endpoint (production `wss://ws-api-spot.kucoin.com`), as the token is only
//! valid there (a simplification; NOTES shows one endpoint). The token is percent-encoded in
//! the query (`=` → `%3D`, as the official SDK sends it).
//!
//! `open` runs on the caller first, then on the account's stream thread to reconnect.
//! Allocates per frame; blocks in `open` for up to the request timeout per step.

use crate::kit::http::HttpsClient;
use crate::kit::private_stream::{self, FrameAction, StreamSession, Ws, WsTarget};
use crate::kit::rest_link::send_signed;
use crate::kucoin::order_change::TOPIC;
use crate::kucoin::rest::{KucoinKey, envelope};
use qt_core::{AccountId, Clock};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// The token endpoint.
pub(crate) const BULLET_PATH: &str = "/api/v1/bullet-private";
/// Ping interval when the token's answer names none (KuCoin's published 18 s).
pub(crate) const DEFAULT_PING: Duration = Duration::from_secs(18);

/// A control frame (`welcome`, `ack`, `pong`, `error`, `message`).
#[derive(Debug, Deserialize)]
struct Control {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

/// A token and its ping interval, from a `bullet-private` answer's `data`.
pub(crate) fn parse_bullet(data: &serde_json::Value) -> Option<(String, Duration)> {
    let token = data.get("token")?.as_str().filter(|t| !t.is_empty())?.to_string();
    let ping = data
        .get("instanceServers")
        .and_then(|s| s.get(0))
        .and_then(|s| s.get("pingInterval"))
        .and_then(serde_json::Value::as_u64)
        .map_or(DEFAULT_PING, Duration::from_millis);
    Some((token, ping.clamp(Duration::from_secs(1), DEFAULT_PING)))
}

/// `text` with the characters a base64 token carries that a query must escape.
fn encode_token(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '=' => out.push_str("%3D"),
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            '&' => out.push_str("%26"),
            c => out.push(c),
        }
    }
    out
}

/// One account's private stream.
pub(crate) struct PrivateStream {
    account: AccountId,
    key: KucoinKey,
    http: HttpsClient,
    target: WsTarget,
    clock: Arc<dyn Clock>,
    /// The venue's clock minus ours, ms (the gateway thread's estimate).
    offset_ms: Arc<AtomicI64>,
    ping_every: Duration,
    next_ping: Instant,
    serial: u64,
}

impl PrivateStream {
    pub(crate) fn new(
        account: AccountId,
        key: KucoinKey,
        http: HttpsClient,
        target: WsTarget,
        clock: Arc<dyn Clock>,
        offset_ms: Arc<AtomicI64>,
    ) -> Self {
        let next_ping = Instant::now() + DEFAULT_PING;
        Self { account, key, http, target, clock, offset_ms, ping_every: DEFAULT_PING, next_ping, serial: 0 }
    }

    fn venue_ms(&self) -> i64 {
        self.clock.now().0 / 1_000_000 + self.offset_ms.load(Ordering::Relaxed)
    }

    /// A fresh token (and its ping interval).
    fn token(&mut self) -> Result<(String, Duration), String> {
        let venue_ms = self.venue_ms();
        let resp = send_signed(&mut self.http, self.key.signer(), "POST", BULLET_PATH, "", "", venue_ms)
            .map_err(|e| format!("{BULLET_PATH}: {e}"))?;
        match envelope(&resp) {
            Some(env) if resp.status == 200 && env.is_ok() => {
                parse_bullet(&env.data).ok_or_else(|| format!("{BULLET_PATH}: no token in {}", resp.body_excerpt()))
            }
            Some(env) => Err(format!("{BULLET_PATH}: HTTP {} code {} {}", resp.status, env.code, env.msg)),
            None => Err(format!("{BULLET_PATH}: HTTP {}: {}", resp.status, resp.body_excerpt())),
        }
    }
}

impl StreamSession for PrivateStream {
    fn open(&mut self) -> Result<Ws, String> {
        let (token, ping) = self.token()?;
        self.serial += 1;
        let path = format!("/?token={}&connectId=qt{}a{}", encode_token(&token), self.serial, self.account.0);
        let mut ws = private_stream::connect(&self.target, &path)?;
        let sub =
            format!(r#"{{"id":"qtsub","type":"subscribe","topic":"{TOPIC}","privateChannel":true,"response":true}}"#);
        private_stream::exchange(&mut ws, sub, "subscribe", self.target.timeout, |t| {
            match serde_json::from_str::<Control>(t) {
                Ok(c) if c.kind == "ack" => Some(Ok(())),
                Ok(c) if c.kind == "error" => Some(Err(format!("subscribe refused: {:?} {:?}", c.code, c.data))),
                _ => None,
            }
        })?;
        self.ping_every = ping;
        self.next_ping = Instant::now() + ping;
        Ok(ws)
    }

    fn classify(&mut self, text: &str) -> FrameAction {
        match serde_json::from_str::<Control>(text) {
            Ok(c) if c.kind == "message" => FrameAction::Forward,
            Ok(c) if c.kind == "error" => FrameAction::Reconnect(format!("error {:?}: {:?}", c.code, c.data)),
            Ok(_) => FrameAction::Ignore,
            // Not a frame of ours: the gateway thread counts it as malformed.
            Err(_) => FrameAction::Forward,
        }
    }

    fn maintain(&mut self, _now: Instant, _connected: bool) -> Result<(), String> {
        Ok(())
    }

    fn heartbeat(&mut self, now: Instant) -> Option<String> {
        if now < self.next_ping {
            return None;
        }
        self.next_ping = now + self.ping_every;
        self.serial += 1;
        Some(format!(r#"{{"id":"qtping{}","type":"ping"}}"#, self.serial))
    }

    fn close(&mut self) {}

    fn describe(&self) -> String {
        format!("kucoin account {} ({}{TOPIC})", self.account, self.target.endpoint.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::http::{Endpoint, server_name, tls_config};
    use qt_core::WallClock;

    fn session_at(rest: &str, ws: &str, ca: Option<&std::path::Path>, key: (&str, &str, &str)) -> PrivateStream {
        let tls = tls_config(ca).unwrap();
        let endpoint = Endpoint::parse(ws, &["wss"]).unwrap();
        let name = server_name(&endpoint, Some("localhost")).unwrap();
        let target = WsTarget { endpoint, name: name.clone(), tls: tls.clone(), timeout: Duration::from_secs(10) };
        let rest = Endpoint::parse(rest, &["https"]).unwrap();
        let http = HttpsClient::new(rest, name, tls, Duration::from_secs(10));
        let key = KucoinKey::new(key.0, key.1, key.2).unwrap();
        PrivateStream::new(AccountId(0), key, http, target, Arc::new(WallClock), Arc::new(AtomicI64::new(0)))
    }

    fn session() -> PrivateStream {
        session_at("https://127.0.0.1:1", "wss://127.0.0.1:1", None, ("k", "s", "p"))
    }

    #[test]
    fn pushes_go_to_the_gateway_answers_do_not_and_an_error_reconnects() {
        let mut s = session();
        let doc = include_str!("../../../testdata/kucoin/orders/ws_trade_orders_v2_open.json");
        assert_eq!(s.classify(doc), FrameAction::Forward);
        assert_eq!(s.classify(r#"{"type":"message","data":,]"#), FrameAction::Forward, "counted as malformed");
        assert_eq!(s.classify(r#"{"id":"c1","type":"welcome"}"#), FrameAction::Ignore);
        assert_eq!(s.classify(r#"{"id":"qtsub","type":"ack"}"#), FrameAction::Ignore);
        assert_eq!(s.classify(r#"{"id":"1","type":"pong","timestamp":1}"#), FrameAction::Ignore);
        let err = r#"{"id":"x","type":"error","code":401,"data":"token is invalid"}"#;
        assert!(matches!(s.classify(err), FrameAction::Reconnect(r) if r.contains("401")));
    }

    #[test]
    fn pings_follow_the_tokens_interval() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../testdata/kucoin/orders/rest_bullet_private_response.json"))
                .unwrap();
        let (token, ping) = parse_bullet(&doc["data"]).unwrap();
        assert!(token.ends_with("=="));
        assert!(encode_token(&token).ends_with("%3D%3D"));
        assert_eq!(ping, Duration::from_secs(18));
        let mut s = session();
        s.ping_every = Duration::from_secs(5);
        let now = Instant::now();
        s.next_ping = now + s.ping_every;
        assert_eq!(s.heartbeat(now), None);
        let due = now + Duration::from_secs(5);
        let ping: serde_json::Value = serde_json::from_str(&s.heartbeat(due).unwrap()).unwrap();
        assert_eq!(ping["type"], "ping");
        assert_eq!(s.heartbeat(due + Duration::from_secs(1)), None);
        assert!(s.heartbeat(due + Duration::from_secs(5)).is_some());
    }

    /// Against the simulator over TLS: the token, the subscription, then a push of an order the
    /// account places directly on the market; a wrong passphrase cannot open it.
    #[test]
    fn the_stream_opens_against_the_simulator_and_carries_order_changes() {
        use qt_test_support::TestInstrument;
        use qt_venue_sim::exchange::flow::FlowParams;
        use qt_venue_sim::exchange::matching::FeeSchedule;
        use qt_venue_sim::faults::Faults;
        use qt_venue_sim::kucoin::KucoinSpot;
        use qt_venue_sim::market::{AccountConfig, ClientOrderRequest, Market, MarketConfig, SymbolConfig};
        use qt_venue_sim::server::{ServerConfig, VenueSimServer};
        let inst = TestInstrument::spot(qt_core::Venue::Kucoin, "BTC-USDT").assets("BTC", "USDT").tick("0.1");
        let inst = inst.lot("0.0001").build(0);
        let flow = FlowParams {
            events_per_sec: 5.0,
            start_mid: Some(inst.parse_price("60000").unwrap()),
            ..FlowParams::default()
        };
        let market = Market::new(MarketConfig {
            symbols: vec![SymbolConfig { instrument: inst.clone(), flow }],
            fees: FeeSchedule { maker: qt_core::Rate::from_bps(1), taker: qt_core::Rate::from_bps(5) },
            accounts: vec![AccountConfig {
                api_key: "gk".into(),
                secret: "gs".into(),
                balances: vec![("USDT".into(), "100000".into())],
            }],
            seed: 5,
        })
        .unwrap();
        let dir = std::env::temp_dir().join(format!("qt-gw-kucoin-ps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = VenueSimServer::start(ServerConfig {
            market,
            faults: Faults::new(),
            protocols: vec![(
                Arc::new(KucoinSpot::default().with_passphrase("gk", "gp")),
                "127.0.0.1:0".parse().unwrap(),
            )],
            ca_file: dir.join("ca.pem"),
        })
        .unwrap();
        let addr = server.addr_of("kucoin").unwrap();
        let (rest, ws) = (format!("https://{addr}"), format!("wss://{addr}"));
        let mut bad = session_at(&rest, &ws, Some(&server.ca_file), ("gk", "gs", "wrong"));
        assert!(bad.open().unwrap_err().contains("400004"));
        let mut s = session_at(&rest, &ws, Some(&server.ca_file), ("gk", "gs", "gp"));
        let mut conn = s.open().unwrap();
        let req = ClientOrderRequest {
            client_order_id: Some("ps1".into()),
            side: qt_core::Side::Buy,
            order_type: qt_core::OrderType::Limit,
            tif: qt_core::TimeInForce::Gtc,
            price: Some(inst.parse_price("30000").unwrap()),
            qty: inst.parse_qty("0.01").unwrap(),
        };
        server.market.submit(qt_core::AccountId(0), 0, req).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let change = loop {
            assert!(Instant::now() < deadline, "no push");
            match conn.read() {
                Ok(tungstenite::Message::Text(t)) if s.classify(t.as_str()) == FrameAction::Forward => {
                    break crate::kucoin::order_change::parse(t.as_str()).unwrap();
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if crate::kit::http::is_timeout(&e) => {}
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!((change.client_oid.as_str(), change.kind), ("ps1", crate::kucoin::order_change::ChangeKind::Open));
    }
}
