//! Binance USD-M futures public market data for the venue simulator: [`BinanceUsdm`].
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
//! Diff contract: a message covers the market's operations `U..=u`; `pu` chains messages. An
//! injected sequence skip loses the window's first operation as if a one-operation message had
//! been lost: the next message's `pu` is that operation's id, not the previous message's `u`, so
//! a client following the futures rule (`pu == previous u`) sees the gap.
//!
//! Threads and contract: as every protocol (server connection threads; allocates freely; never
//! panics on client input).

use self::market_rest::MarketEndpoint;
use self::rest::symbol_info;
use self::route::split_route;
use self::session::Session;
use self::tape::TradeTape;
use crate::kit::combined_streams::stream_names;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use serde_json::{Value, json};
use std::time::Duration;

mod market_rest;
mod rest;
mod route;
mod session;
mod tape;
mod wire;

pub use wire::{depth_body, depth_update_text};

/// `limit` values `/fapi/v1/depth` accepts.
const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];
/// How often a session looks at its socket and feeds.
const WS_POLL: Duration = Duration::from_millis(5);
/// Server ping interval.
const PING_EVERY: Duration = Duration::from_secs(20);

/// The Binance USD-M futures public-data protocol.
#[derive(Debug, Default)]
pub struct BinanceUsdm {
    /// Recent trades for `trades`, `aggTrades` and `ticker/24hr`.
    tape: TradeTape,
}

impl Protocol for BinanceUsdm {
    fn name(&self) -> &'static str {
        "binance_usdm"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        split_route(path).is_some()
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        let now = ctx.market.now_ms();
        if req.method == "GET"
            && let Some(endpoint) = MarketEndpoint::of(&req.path)
        {
            return market_rest::answer(ctx, &self.tape, endpoint, &req.query);
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
        let Some(mut session) = Session::open(ctx, route, combined, &names) else {
            ws.close(true);
            return;
        };
        session.run(ctx, ws);
    }
}
