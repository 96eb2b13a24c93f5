//! Binance USD-M futures for the venue simulator: [`BinanceUsdm`], public market data and, on
//! the accounts' linear perpetuals, order entry, account, positions, funding and the user data
//! stream.
//!
//! What it serves (field names and shapes follow the USD-M docs, NOTES.md §1b; decimals at the
//! contract's precision and payloads in the documented key order, as the captures in
//! `testdata/binance_usdm/` show them: [`depth_update_text`], [`depth_body`]):
//! - REST: `GET /fapi/v1/ping`, `/fapi/v1/time`, `/fapi/v1/exchangeInfo` (every listed symbol as
//!   a `PERPETUAL` with `PRICE_FILTER.tickSize` and `LOT_SIZE.stepSize` from its grid) and
//!   `/fapi/v1/depth?symbol=&limit=` → `{"lastUpdateId","E","T","bids","asks"}` (limit one of
//!   5, 10, 20, 50, 100, 500, 1000; default 500); `trades`, `aggTrades`, `ticker/24hr`,
//!   `ticker/bookTicker` and `premiumIndex` ([`market_rest`]). Errors are `{"code":..,"msg":..}`
//!   with HTTP 400.
//! - WebSocket on the routes `/public`, `/market`, `/private` and bare ([`route`]), each as
//!   `/stream[?streams=a/b]` (combined, `{"stream":..,"data":..}`) and `/ws[/a/b]` (raw; `/ws/0`
//!   is a connection waiting for `SUBSCRIBE`):
//!   `<sym>@depth[@100ms|@250ms|@500ms]` → `depthUpdate` with `E`, `T`, `U`, `u` and
//!   `pu` = the previous message's `u`; `<sym>@bookTicker` → `bookTicker` (`u`, `E`, `T`, best
//!   bid/ask); `<sym>@aggTrade` → `aggTrade` (one per trade: `a`, `p`, `q`, `f`, `l`, `T`, `m`).
//!   Live `SUBSCRIBE` / `UNSUBSCRIBE` (`{"result":null,"id":..}`). The server pings every 20 s.
//!
//! - Private (signed as on spot: `X-MBX-APIKEY`, HMAC-SHA256 `signature` over the query string
//!   and body as sent, `timestamp`/`recvWindow`; `kit::binance_params`): orders
//!   ([`orders`]: `POST`/`DELETE`/`GET /fapi/v1/order`, `DELETE /fapi/v1/allOpenOrders`,
//!   `GET /fapi/v1/openOrders`), account ([`account`]: `balance`, `account`, `positionRisk` in v2
//!   and v3, `userTrades`, `positionSide/dual`, the listen key), routed by [`private_rest`]. Only
//!   `LinearPerpetual` instruments are USD-M contracts here; one-way mode; positions and funding
//!   are the market's ([`crate::market::positions`], [`funding`]).
//! - User data stream ([`user_stream`]): a listen key as the stream (`/ws/<key>`,
//!   `/private/ws/<key>`, `/stream?streams=<key>`): `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`
//!   (`ORDER`, `FUNDING_FEE`), `listenKeyExpired`.
//!
//! Diff contract: a message covers the market's operations `U..=u`; `pu` chains messages. An
//! injected sequence skip loses the window's first operation as if a one-operation message had
//! been lost: the next message's `pu` is that operation's id, not the previous message's `u`, so
//! a client following the futures rule (`pu == previous u`) sees the gap.
//!
//! Threads and contract: as every protocol (server connection threads; allocates freely; never
//! panics on client input).

use self::funding::FundingClock;
use self::market_rest::MarketEndpoint;
use self::private_rest::PrivateEndpoint;
use self::rest::symbol_info;
use self::route::split_route;
use self::session::Session;
use self::tape::TradeTape;
use crate::kit::combined_streams::stream_names;
use crate::kit::listen_keys::ListenKeys;
use crate::kit::order_marks::OrderMarks;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use qt_core::AccountId;
use serde_json::{Value, json};
use std::time::Duration;

mod account;
mod funding;
mod market_rest;
mod orders;
mod private_rest;
mod private_wire;
mod rest;
mod route;
mod session;
mod tape;
mod user_stream;
mod wire;

pub use wire::{depth_body, depth_update_text};

/// `limit` values `/fapi/v1/depth` accepts.
const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];
/// How often a session looks at its socket and feeds.
const WS_POLL: Duration = Duration::from_millis(5);
/// Server ping interval.
const PING_EVERY: Duration = Duration::from_secs(20);
/// How long a listen key lives without a keepalive (60 minutes).
const LISTEN_KEY_VALIDITY: Duration = Duration::from_secs(60 * 60);
/// Reduce-only order ids remembered (for `reduceOnly` / `R` in later answers and events).
const REDUCE_ONLY_KEPT: usize = 100_000;

/// The Binance USD-M futures protocol.
#[derive(Debug)]
pub struct BinanceUsdm {
    /// Recent trades for `trades`, `aggTrades` and `ticker/24hr`.
    tape: TradeTape,
    listen_keys: ListenKeys,
    funding: FundingClock,
    /// Reduce-only orders.
    reduce_only: OrderMarks,
}

impl Default for BinanceUsdm {
    fn default() -> Self {
        Self::with_funding_interval(funding::DEFAULT_INTERVAL)
    }
}

impl BinanceUsdm {
    /// USD-M with funding every `every` (from 00:00 UTC) instead of the documented 8 h: a test
    /// knob (a second makes funding observable in a test).
    pub fn with_funding_interval(every: Duration) -> Self {
        Self {
            tape: TradeTape::default(),
            listen_keys: ListenKeys::new(LISTEN_KEY_VALIDITY),
            funding: FundingClock::new(every),
            reduce_only: OrderMarks::new(REDUCE_ONLY_KEPT),
        }
    }

    fn remember_reduce_only(&self, account: AccountId, symbol: usize, order_id: u64) {
        self.reduce_only.mark((account, symbol, order_id));
    }

    fn is_reduce_only(&self, account: AccountId, symbol: usize, order_id: u64) -> bool {
        self.reduce_only.contains((account, symbol, order_id))
    }

    /// Books funding if a funding time has passed.
    fn tick_funding(&self, ctx: &Ctx) {
        self.funding.tick(&ctx.market, |i| ctx.market.instruments().get(i).is_some_and(private_wire::is_usdm));
    }
}

impl Protocol for BinanceUsdm {
    fn name(&self) -> &'static str {
        "binance_usdm"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        split_route(path).is_some()
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        if let Some(status) = ctx.faults.take_http_path_failure(&req.path) {
            return crate::http::error_response(status, &format!("simulated HTTP {status} (injected fault)"));
        }
        self.tick_funding(ctx);
        let now = ctx.market.now_ms();
        if let Some(endpoint) = PrivateEndpoint::of(&req.method, &req.path) {
            return self.private(ctx, req, endpoint);
        }
        if req.method == "GET"
            && let Some(endpoint) = MarketEndpoint::of(&req.path)
        {
            return market_rest::answer(ctx, (&self.tape, &self.funding), endpoint, &req.query);
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/fapi/v1/ping") => HttpResponse::json(200, &json!({})),
            ("GET", "/fapi/v1/time") => HttpResponse::json(200, &json!({ "serverTime": now })),
            ("GET", "/fapi/v1/exchangeInfo") => {
                let symbols: Vec<Value> = ctx.market.instruments().iter().map(symbol_info).collect();
                HttpResponse::json(200, &json!({ "timezone": "UTC", "serverTime": now, "symbols": symbols }))
            }
            ("GET", "/fapi/v1/depth") => Self::depth(ctx, &req.query),
            (_, path) if path.starts_with("/fapi/") => HttpResponse::json(
                404,
                &json!({ "code": -5000, "msg": format!("Path {path}, Method {} is invalid", req.method) }),
            ),
            _ => HttpResponse::json(404, &json!({ "code": -5000, "msg": "Not found" })),
        }
    }

    fn run_ws(&self, ctx: &Ctx, path: &str, query: &str, ws: &mut dyn WsSession) {
        let Some((route, rest)) = split_route(path) else { return ws.close(true) };
        let (combined, names) = stream_names(rest, query);
        let now = ctx.market.now_ms();
        if let Some(account) = self.listen_keys.account_of(&names, now) {
            // A listen key is the user data stream (on the bare or `/private` route).
            return self.run_user_stream(ctx, (account, &names), combined, ws);
        }
        let Some(mut session) = Session::open(ctx, route, combined, &names) else {
            ws.close(true);
            return;
        };
        session.run(ctx, ws);
    }
}
