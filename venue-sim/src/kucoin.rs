//! KuCoin spot public market data for the venue simulator: [`KucoinSpot`].
//!
//! What it serves (shapes follow KuCoin's official OpenAPI/AsyncAPI specs as recorded in
//! NOTES.md §4 and `testdata/kucoin/`; decimals are the instrument's exact text; symbols are
//! named `BASE-QUOTE` ([`symbol`]), whatever the market lists them as):
//! - `POST /api/v1/bullet-public` → `{"code":"200000","data":{"token",
//!   "instanceServers":[{"endpoint":"wss://<Host>/","encrypt":true,"protocol":"websocket",
//!   "pingInterval","pingTimeout"}]}}` — the endpoint is this listener (from the `Host` header).
//! - `GET /api/v1/timestamp`, `GET /api/v2/symbols` (`priceIncrement`, `baseIncrement`,
//!   `baseMinSize`, ... from each instrument's grid), the level-2 snapshots
//!   `GET /api/v1/market/orderbook/level2_20|level2_100?symbol=` and the full
//!   `GET /api/v3/market/orderbook/level2?symbol=` (`{"time","sequence","bids","asks"}`; the
//!   real venue wants the full one signed — the simulator does not check). Errors are
//!   `{"code":"400100","msg":..}`.
//! - WebSocket on `/?token=<issued token>&connectId=<id>`: `welcome` first; `ping` → `pong`;
//!   `subscribe`/`unsubscribe` of `/market/level2:A,B` and `/market/match:A,B` (→ `ack` when
//!   `response` is true, `error` for an unknown topic or symbol); `trade.l2update` increments
//!   covering operations `sequenceStart..=sequenceEnd` with each change's own sequence (the last
//!   operation that touched the price); `trade.l3match` per trade. A session that sends nothing
//!   for `pingInterval + pingTimeout` is closed, as KuCoin does; an unknown token gets an
//!   `error` and the close.
//!
//! Diff contract: consecutive increments of a symbol satisfy `sequenceStart == previous
//! sequenceEnd + 1`; an injected sequence skip loses the window's first operation (id and
//! levels), so the next increment starts one later and a client following KuCoin's
//! calibration rule sees the gap.
//!
//! Threads and contract: as every protocol. Issued tokens sit behind a short-lived mutex.

use crate::market::BookUpdate;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsIncoming, WsSession};
use crate::stream::{DiffWindow, MergedLevel, SessionGuard, Verdict, merged_levels, send_data};
use qt_core::{Instrument, Price, Qty, Side};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often a session looks at its socket and feeds.
const WS_POLL: Duration = Duration::from_millis(5);
/// Increment window.
const LEVEL2_EVERY: Duration = Duration::from_millis(50);
/// Most symbols one topic may name.
const MAX_TOPIC_SYMBOLS: usize = 100;

/// The KuCoin spot public-data protocol.
#[derive(Debug)]
pub struct KucoinSpot {
    ping_interval: Duration,
    ping_timeout: Duration,
    tokens: Mutex<HashSet<String>>,
    next_token: AtomicU64,
}

impl Default for KucoinSpot {
    /// KuCoin's published values: ping every 18 s, 10 s to answer.
    fn default() -> Self {
        Self::new(Duration::from_secs(18), Duration::from_secs(10))
    }
}

impl KucoinSpot {
    /// A protocol handing out `ping_interval` / `ping_timeout` in its bullet answers (and
    /// closing sessions silent for their sum).
    pub fn new(ping_interval: Duration, ping_timeout: Duration) -> Self {
        Self { ping_interval, ping_timeout, tokens: Mutex::new(HashSet::new()), next_token: AtomicU64::new(1) }
    }

    fn token_known(&self, token: &str) -> bool {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).contains(token)
    }

    fn bullet(&self, req: &HttpRequest) -> HttpResponse {
        let n = self.next_token.fetch_add(1, Ordering::Relaxed);
        // Shaped like KuCoin's (base64url-ish with a dot); unique per request.
        let token = format!("2neAiuYvAU{n:016x}iAExhsBXZxftpOeh_55i3Ysy2q2LEsEWU64mdzUOPusi34M.sim{n}==");
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone());
        let host = req.header("host").unwrap_or("127.0.0.1");
        ok(json!({
            "token": token,
            "instanceServers": [{
                "endpoint": format!("wss://{host}/"),
                "encrypt": true,
                "protocol": "websocket",
                "pingInterval": self.ping_interval.as_millis() as u64,
                "pingTimeout": self.ping_timeout.as_millis() as u64,
            }],
        }))
    }
}

fn ok(data: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({ "code": "200000", "data": data }))
}

fn error(status: u16, code: &str, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "code": code, "msg": msg }))
}

fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn levels(inst: &Instrument, side: &[(Price, Qty)]) -> Value {
    side.iter().map(|(p, q)| json!([inst.price_text(*p).as_ref(), inst.qty_text(*q).as_ref()])).collect()
}

/// KuCoin's name of `inst`: its symbol if written `BASE-QUOTE`, else built so (a market listed
/// as `BTCUSDT` for every protocol at once is `BTC-USDT` here).
pub fn symbol(inst: &Instrument) -> String {
    if inst.symbol().contains('-') { inst.symbol().to_owned() } else { format!("{}-{}", inst.base(), inst.quote()) }
}

/// The market's index of the symbol KuCoin calls `name`.
fn symbol_index(market: &crate::market::Market, name: &str) -> Option<usize> {
    market.instruments().iter().position(|i| symbol(i) == name)
}

fn symbol_info(inst: &Instrument) -> Value {
    let tick = inst.price_text(inst.tick());
    let lot = inst.qty_text(inst.lot());
    let min = inst.qty_text(inst.min_qty());
    json!({
        "symbol": symbol(inst), "name": symbol(inst), "baseCurrency": inst.base(), "quoteCurrency": inst.quote(),
        "feeCurrency": inst.quote(), "market": inst.quote(), "baseMinSize": min.as_ref(),
        "quoteMinSize": "0.1", "baseMaxSize": "10000000000", "quoteMaxSize": "99999999",
        "baseIncrement": lot.as_ref(), "quoteIncrement": tick.as_ref(), "priceIncrement": tick.as_ref(),
        "priceLimitRate": "0.1", "minFunds": "0.1", "isMarginEnabled": false, "enableTrading": true,
        "feeCategory": 1, "makerFeeCoefficient": "1.00", "takerFeeCoefficient": "1.00", "st": false,
    })
}

fn snapshot(ctx: &Ctx, query: &str, depth: usize) -> HttpResponse {
    let Some(name) = query_value(query, "symbol") else { return error(400, "400100", "symbol is required") };
    let market = &ctx.market;
    let (Some(index), true) = (symbol_index(market, name), !name.is_empty()) else {
        return error(400, "400100", "Unsupported trading pair.");
    };
    let (Some(snap), Some(inst)) = (market.snapshot(index, depth), market.instruments().get(index)) else {
        return error(400, "400100", "Unsupported trading pair.");
    };
    ok(json!({
        "time": market.now_ms(),
        "sequence": snap.update_id.to_string(),
        "bids": levels(inst, &snap.bids),
        "asks": levels(inst, &snap.asks),
    }))
}

impl Protocol for KucoinSpot {
    fn name(&self) -> &'static str {
        "kucoin"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == "/" || path == "/endpoint"
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/api/v1/bullet-public") => self.bullet(req),
            ("GET", "/api/v1/timestamp") => ok(json!(ctx.market.now_ms())),
            ("GET", "/api/v2/symbols") => ok(ctx.market.instruments().iter().map(symbol_info).collect()),
            ("GET", "/api/v1/market/orderbook/level2_20") => snapshot(ctx, &req.query, 20),
            ("GET", "/api/v1/market/orderbook/level2_100") => snapshot(ctx, &req.query, 100),
            ("GET", "/api/v3/market/orderbook/level2") => snapshot(ctx, &req.query, usize::MAX),
            _ => error(404, "404000", &format!("Url {} {} is not found", req.method, req.path)),
        }
    }

    fn run_ws(&self, ctx: &Ctx, _path: &str, query: &str, ws: &mut dyn WsSession) {
        let connect_id = query_value(query, "connectId").unwrap_or("").to_string();
        if !query_value(query, "token").is_some_and(|t| self.token_known(t)) {
            let _ = ws.send_text(
                &json!({ "id": connect_id, "type": "error", "code": 401, "data": "token is invalid" }).to_string(),
            );
            ws.close(true);
            return;
        }
        if ws.send_text(&json!({ "id": connect_id, "type": "welcome" }).to_string()).is_err() {
            return;
        }
        let mut session = Session { feeds: Vec::new(), silent_limit: self.ping_interval + self.ping_timeout };
        session.run(ctx, ws);
    }
}

/// One symbol's subscriptions in a session.
#[derive(Debug)]
struct Feed {
    window: DiffWindow,
    level2: bool,
    matches: bool,
}

struct Session {
    feeds: Vec<Feed>,
    silent_limit: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topic {
    Level2,
    Match,
}

impl Session {
    /// Handles one client message; returns the replies.
    fn on_client(&mut self, ctx: &Ctx, text: &str, out: &mut Vec<String>) {
        let Ok(msg) = serde_json::from_str::<Value>(text) else {
            out.push(json!({ "type": "error", "code": 400, "data": "message is not JSON" }).to_string());
            return;
        };
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let kind = msg.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "ping" => {
                out.push(json!({ "id": id, "type": "pong", "timestamp": ctx.market.now_ms() * 1000 }).to_string())
            }
            "subscribe" | "unsubscribe" => {
                let topic = msg.get("topic").and_then(Value::as_str).unwrap_or("");
                let response = msg.get("response").and_then(Value::as_bool).unwrap_or(false);
                match self.change(ctx, topic, kind == "subscribe") {
                    Ok(()) if response => out.push(json!({ "id": id, "type": "ack" }).to_string()),
                    Ok(()) => {}
                    Err(why) => out.push(json!({ "id": id, "type": "error", "code": 404, "data": why }).to_string()),
                }
            }
            _ => out.push(
                json!({ "id": id, "type": "error", "code": 400, "data": format!("type {kind:?} is not supported") })
                    .to_string(),
            ),
        }
    }

    fn change(&mut self, ctx: &Ctx, topic: &str, on: bool) -> Result<(), String> {
        let (kind, list) = if let Some(l) = topic.strip_prefix("/market/level2:") {
            (Topic::Level2, l)
        } else if let Some(l) = topic.strip_prefix("/market/match:") {
            (Topic::Match, l)
        } else {
            return Err(format!("topic {topic} is not found"));
        };
        let names: Vec<&str> = list.split(',').collect();
        if names.is_empty() || names.len() > MAX_TOPIC_SYMBOLS || names.iter().any(|n| n.is_empty()) {
            return Err(format!("topic {topic}: 1 to {MAX_TOPIC_SYMBOLS} symbols"));
        }
        let mut indices = Vec::new();
        for n in &names {
            indices
                .push(symbol_index(&ctx.market, n).ok_or_else(|| format!("topic {topic}: symbol {n} is not found"))?);
        }
        for symbol in indices {
            let at = match self.feeds.iter().position(|f| f.window.symbol == symbol) {
                Some(i) => i,
                None if on => {
                    let window = DiffWindow::subscribe(&ctx.market, symbol, LEVEL2_EVERY).ok_or("no book")?;
                    self.feeds.push(Feed { window, level2: false, matches: false });
                    self.feeds.len() - 1
                }
                None => continue,
            };
            let feed = &mut self.feeds[at];
            match kind {
                Topic::Level2 => feed.level2 = on,
                Topic::Match => feed.matches = on,
            }
        }
        self.feeds.retain(|f| f.level2 || f.matches);
        Ok(())
    }

    fn matches_of(inst: &Instrument, u: &BookUpdate, out: &mut Vec<String>) {
        for t in &u.trades {
            let data = json!({
                "makerOrderId": format!("{:024x}", t.trade_id.wrapping_mul(2)),
                "price": inst.price_text(t.price).as_ref(),
                "sequence": u.update_id.to_string(),
                "side": if t.aggressor == Side::Buy { "buy" } else { "sell" },
                "size": inst.qty_text(t.qty).as_ref(),
                "symbol": symbol(inst),
                "takerOrderId": format!("{:024x}", t.trade_id.wrapping_mul(2) + 1),
                "time": t.ts.0.max(0).to_string(),
                "tradeId": t.trade_id.to_string(),
                "type": "match",
            });
            out.push(
                json!({ "topic": format!("/market/match:{}", symbol(inst)), "type": "message", "subject": "trade.l3match", "data": data })
                    .to_string(),
            );
        }
    }

    fn level2_of(ctx: &Ctx, inst: &Instrument, window: &crate::stream::Window) -> String {
        let (first, last) = window.ids();
        let side = |levels: &[MergedLevel]| -> Value {
            levels
                .iter()
                .map(|l| {
                    json!([inst.price_text(l.price).as_ref(), inst.qty_text(l.qty).as_ref(), l.last_id.to_string()])
                })
                .collect()
        };
        let (bids, asks) = merged_levels(&window.ops);
        json!({
            "topic": format!("/market/level2:{}", symbol(inst)),
            "type": "message",
            "subject": "trade.l2update",
            "data": {
                "changes": { "asks": side(&asks), "bids": side(&bids) },
                "sequenceEnd": last,
                "sequenceStart": first,
                "symbol": symbol(inst),
                "time": ctx.market.now_ms(),
            },
        })
        .to_string()
    }

    fn run(&mut self, ctx: &Ctx, ws: &mut dyn WsSession) {
        let guard = SessionGuard::new(ctx);
        let mut last_heard = Instant::now();
        let mut replies = Vec::new();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        loop {
            match guard.check(ctx) {
                Verdict::Serve => {}
                Verdict::CloseGracefully => return ws.close(true),
                Verdict::Drop => return ws.close(false),
            }
            match ws.recv(WS_POLL) {
                Ok(Some(WsIncoming::Text(text))) => {
                    last_heard = Instant::now();
                    self.on_client(ctx, &text, &mut replies);
                }
                Ok(Some(WsIncoming::Binary(_))) => last_heard = Instant::now(),
                Ok(None) => {}
                Ok(Some(WsIncoming::Closed)) | Err(_) => return,
            }
            let now = Instant::now();
            if now.duration_since(last_heard) > self.silent_limit {
                log::debug!("venue-sim kucoin: no ping for {:?}; closing", self.silent_limit);
                return ws.close(true);
            }
            if ctx.faults.ws_stalled() {
                // Nothing goes out, pongs included; replies wait.
                continue;
            }
            for text in replies.drain(..) {
                if ws.send_text(&text).is_err() {
                    return;
                }
            }
            for feed in &mut self.feeds {
                seen.clear();
                if feed.window.pump(&mut seen).is_err() {
                    return ws.close(false);
                }
                let Some(inst) = ctx.market.instruments().get(feed.window.symbol) else { continue };
                if feed.matches {
                    for u in &seen {
                        Self::matches_of(inst, u, &mut out);
                    }
                }
                if let Some(window) = feed.window.take_due(now, &ctx.faults)
                    && feed.level2
                {
                    out.push(Self::level2_of(ctx, inst, &window));
                }
            }
            for text in out.drain(..) {
                if send_data(ws, &ctx.faults, &text).is_err() {
                    return;
                }
            }
        }
    }
}
