//! KuCoin spot for the venue simulator — public market data and HF spot order entry: [`KucoinSpot`].
//!
//! What it serves (shapes follow KuCoin's official OpenAPI/AsyncAPI specs as recorded in
//! NOTES.md §4 and `testdata/kucoin/`; decimals in KuCoin's shortest form and level-2 text in the
//! documented key order, [`level2_message`] / [`level2_body`]; symbols are named `BASE-QUOTE`
//! ([`symbol`]), whatever the market lists them as):
//! - `POST /api/v1/bullet-public` → `{"code":"200000","data":{"token",
//!   "instanceServers":[{"endpoint":"wss://<Host>/","encrypt":true,"protocol":"websocket",
//!   "pingInterval","pingTimeout"}]}}` — the endpoint is this listener (from the `Host` header).
//! - `GET /api/v1/timestamp`, `GET /api/v2/symbols` (`priceIncrement`, `baseIncrement`,
//!   `baseMinSize`, ... from each instrument's grid), the level-2 snapshots
//!   `GET /api/v1/market/orderbook/level2_20|level2_100?symbol=` and the full
//!   `GET /api/v3/market/orderbook/level2?symbol=` (`{"time","sequence","bids","asks"}`; the
//!   real venue wants the full one signed — the simulator does not check). Errors are
//!   `{"code":"400100","msg":..}`.
//! - `GET /api/v1/symbols` (as v2), `GET /api/v2/symbols/{symbol}`, `GET /api/v3/currencies`
//!   ([`rest`]); `GET /api/v1/market/orderbook/level1`, `stats`, `allTickers` and `histories`
//!   ([`tickers`]), shaped as the official SDK's spec examples.
//! - WebSocket on `/?token=<issued token>&connectId=<id>` (query values percent-decoded: clients
//!   send the token's `==` as `%3D%3D`): `welcome` first; `ping` → `pong`;
//!   `subscribe`/`unsubscribe` of `/market/level2:A,B` and `/market/match:A,B` (→ `ack` when
//!   `response` is true, `error` for an unknown topic or symbol); `trade.l2update` increments
//!   covering operations `sequenceStart..=sequenceEnd` with each change's own sequence (the last
//!   operation that touched the price); `trade.l3match` per trade. A session that sends nothing
//!   for `pingInterval + pingTimeout` is closed, as KuCoin does; an unknown token gets an
//!   `error` and the close.
//!
//! Order entry (issue #20): signed HF spot orders, cancels, open orders, fills and accounts
//! (`orders.rs`, the `KC-API-*` check in `auth.rs`, the documents in `order_doc.rs`) and a private
//! bullet token (`POST /api/v1/bullet-private`, signed) whose sessions may subscribe to
//! `/spotMarket/tradeOrdersV2` (`private.rs`). Rate limits are not simulated for KuCoin.
//!
//! Diff contract: consecutive increments of a symbol satisfy `sequenceStart == previous
//! sequenceEnd + 1`; an injected sequence skip loses the window's first operation (id and
//! levels), so the next increment starts one later and a client following KuCoin's
//! calibration rule sees the gap.
//!
//! Threads and contract: as every protocol. Issued tokens sit behind a short-lived mutex.

use self::auth::ApiError;
use self::private::OrdersTopic;
use self::rest::{currencies, error, ok, one_symbol, query_value, snapshot, symbol_info};
use self::session::Session;
use self::tickers::Tapes;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use qt_core::{AccountId, Instrument};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod auth;
mod order_doc;
mod orders;
mod private;
mod rest;
mod session;
mod tickers;
mod wire;

pub use crate::signing::sign_base64;
pub use auth::string_to_sign;
pub use order_doc::{order_id, parse_order_id};
pub use private::TRADE_ORDERS_TOPIC;
pub use wire::{Change, level2_body, level2_message};

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
    /// Issued tokens: public (`None`) or private to an account.
    tokens: Mutex<HashMap<String, Option<AccountId>>>,
    next_token: AtomicU64,
    tapes: Tapes,
    /// `(api key, passphrase)` the venue insists on (`auth.rs`).
    passphrases: Vec<(String, String)>,
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
        Self {
            ping_interval,
            ping_timeout,
            tokens: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            tapes: Tapes::default(),
            passphrases: Vec::new(),
        }
    }

    /// Requests with `api_key` must carry the MAC of exactly `passphrase` (other keys: any).
    pub fn with_passphrase(mut self, api_key: &str, passphrase: &str) -> Self {
        self.passphrases.push((api_key.to_owned(), passphrase.to_owned()));
        self
    }

    /// The token's kind: `None` unknown, `Some(None)` public, `Some(Some(account))` private.
    fn token(&self, token: &str) -> Option<Option<AccountId>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(token).copied()
    }

    fn bullet(&self, req: &HttpRequest, account: Option<AccountId>) -> HttpResponse {
        let n = self.next_token.fetch_add(1, Ordering::Relaxed);
        // Shaped like KuCoin's (base64url-ish with a dot); unique per request.
        let token = format!("2neAiuYvAU{n:016x}iAExhsBXZxftpOeh_55i3Ysy2q2LEsEWU64mdzUOPusi34M.sim{n}==");
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), account);
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

impl KucoinSpot {
    /// A signed endpoint: the `KC-API-*` check, then `serve`; `{"code":"200000","data"}` or the
    /// refusal.
    fn private(
        &self,
        ctx: &Ctx,
        req: &HttpRequest,
        serve: impl FnOnce(AccountId) -> Result<Value, ApiError>,
    ) -> HttpResponse {
        match self.authenticate(ctx, req).and_then(serve) {
            Ok(data) => ok(data),
            Err(e) => e.into_response(),
        }
    }

    /// The order-entry routes; `None` for a path that is not one.
    fn order_entry(&self, ctx: &Ctx, req: &HttpRequest) -> Option<HttpResponse> {
        const ORDERS: &str = "/api/v1/hf/orders";
        let q = req.query.as_str();
        let tail = req.path.strip_prefix(ORDERS).map(|t| t.strip_prefix('/').unwrap_or(t));
        let resp = match (req.method.as_str(), req.path.as_str(), tail) {
            ("POST", "/api/v1/bullet-private", _) => match self.authenticate(ctx, req) {
                Ok(account) => self.bullet(req, Some(account)),
                Err(e) => e.into_response(),
            },
            ("GET", "/api/v1/accounts", _) => self.private(ctx, req, |a| orders::accounts(ctx, a, q)),
            ("GET", "/api/v1/hf/fills", _) => self.private(ctx, req, |a| orders::fills(ctx, a, q)),
            ("POST", ORDERS, _) => self.private(ctx, req, |a| orders::place(ctx, a, &req.body)),
            ("DELETE", ORDERS, _) => self.private(ctx, req, |a| orders::cancel_all(ctx, a, q)),
            ("GET", _, Some("active")) => self.private(ctx, req, |a| orders::active(ctx, a, q)),
            ("GET", _, Some(t)) if !t.is_empty() => self.private(ctx, req, |a| orders::one(ctx, a, t, q)),
            ("DELETE", _, Some(t)) if !t.is_empty() => self.private(ctx, req, |a| orders::cancel(ctx, a, t, q)),
            _ => return None,
        };
        if req.method != "GET" {
            let delay = ctx.faults.ack_latency();
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
        Some(resp)
    }
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
            ("POST", "/api/v1/bullet-public") => self.bullet(req, None),
            ("GET", "/api/v1/timestamp") => ok(json!(ctx.market.now_ms())),
            ("GET", "/api/v2/symbols" | "/api/v1/symbols") => {
                ok(ctx.market.instruments().iter().map(symbol_info).collect())
            }
            ("GET", p) if p.starts_with("/api/v2/symbols/") => one_symbol(ctx, &p["/api/v2/symbols/".len()..]),
            ("GET", "/api/v3/currencies") => currencies(ctx),
            ("GET", "/api/v1/market/orderbook/level1") => tickers::level1(ctx, &self.tapes, &req.query),
            ("GET", "/api/v1/market/stats") => tickers::stats(ctx, &self.tapes, &req.query),
            ("GET", "/api/v1/market/allTickers") => tickers::all_tickers(ctx, &self.tapes),
            ("GET", "/api/v1/market/histories") => tickers::histories(ctx, &self.tapes, &req.query),
            ("GET", "/api/v1/market/orderbook/level2_20") => snapshot(ctx, &req.query, 20),
            ("GET", "/api/v1/market/orderbook/level2_100") => snapshot(ctx, &req.query, 100),
            ("GET", "/api/v3/market/orderbook/level2") => snapshot(ctx, &req.query, usize::MAX),
            _ => self
                .order_entry(ctx, req)
                .unwrap_or_else(|| error(404, "404000", &format!("Url {} {} is not found", req.method, req.path))),
        }
    }

    fn run_ws(&self, ctx: &Ctx, _path: &str, query: &str, ws: &mut dyn WsSession) {
        let connect_id = query_value(query, "connectId").unwrap_or_default();
        let Some(kind) = query_value(query, "token").and_then(|t| self.token(&t)) else {
            let _ = ws.send_text(
                &json!({ "id": connect_id, "type": "error", "code": 401, "data": "token is invalid" }).to_string(),
            );
            ws.close(true);
            return;
        };
        if ws.send_text(&json!({ "id": connect_id, "type": "welcome" }).to_string()).is_err() {
            return;
        }
        let mut session = Session {
            feeds: Vec::new(),
            silent_limit: self.ping_interval + self.ping_timeout,
            orders: kind.map(OrdersTopic::new),
        };
        session.run(ctx, ws);
    }
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
