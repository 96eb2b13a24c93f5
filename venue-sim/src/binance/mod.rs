//! Binance spot's wire protocol for the venue simulator: [`BinanceSpot`].
//!
//! What it serves (field names, types and error texts follow `binance/binance-spot-api-docs`;
//! prices and quantities are decimal strings with Binance's 8 decimals, ids are numbers):
//! - REST: `GET /api/v3/ping`, `/time`, `/exchangeInfo`, `/depth`; signed `POST`/`DELETE`/`GET
//!   /api/v3/order`, `DELETE`/`GET /api/v3/openOrders`, `GET /api/v3/account`, `GET
//!   /api/v3/myTrades` (in `binance/my_trades.rs`); and the listen key
//!   endpoints `POST`/`PUT`/`DELETE /api/v3/userDataStream` (API key only). Binance deprecated
//!   the listen key (2025-04-07) and announced its retirement on 2026-02-20 in favour of the
//!   WebSocket API's `userDataStream.subscribe`; the simulator keeps it because we use it.
//! - Signing: `X-MBX-APIKEY` header; the payload is the query string followed by the body
//!   exactly as sent (percent-encoded, `signature` removed), `signature` = hex
//!   HMAC-SHA256 (any case); `timestamp` (ms or µs) must satisfy
//!   `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow` (default 5000,
//!   at most 60000, up to 3 decimals) against [`Market::now_ms`].
//! - Weight: REQUEST_WEIGHT per IP per calendar minute, reported in `X-MBX-USED-WEIGHT-1M` on
//!   every response; over the limit the answer is HTTP 429 / -1003 with `Retry-After`. New orders
//!   count against ORDERS per account (10 s and 1 day windows, `X-MBX-ORDER-COUNT-10S/-1D`).
//! - WebSocket streams on `/ws/<stream>[/<stream>..]`, `/ws` (then `SUBSCRIBE`) and combined
//!   `/stream?streams=a/b` (`{"stream":..,"data":..}`): `<symbol>@depth[@100ms]` diffs,
//!   `<symbol>@depth<5|10|20>[@100ms]` partial books, `<symbol>@bookTicker`, `<symbol>@trade`, and
//!   a listen key as a stream (`executionReport`, `outboundAccountPosition`,
//!   `listenKeyExpired`). Live `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`
//!   and `GET_PROPERTY`. The server pings every [`BinanceLimits::ws_ping_interval`].
//! - The WebSocket API on [`WS_API_PATH`] (`/ws-api/v3`), user data only ([`ws_api`]):
//!   `session.logon`, `userDataStream.subscribe(.signature)`, `unsubscribe`,
//!   `session.subscriptions`; events in `{"subscriptionId":N,"event":{..}}`.
//!
//! Diff depth contract: each `depthUpdate` covers the book operations with update ids `U..=u`
//! (one id per operation that changed levels, from [`Market::subscribe_book`]); the levels are the
//! final quantity of every price those operations touched (`"0"` removes it); a window without
//! a change sends nothing, so consecutive messages satisfy `U == previous u + 1`. An injected
//! sequence skip ([`Faults::take_skip_sequence`]) loses the first operation of the next diff —
//! its id *and* its level changes — so the message starts at `previous u + 2` and a client
//! following Binance's procedure detects the gap and resynchronises.
//! The test-speed knob [`BinanceLimits::diff_interval`] replaces the windows (zero: one message
//! per operation, `U == u`); by default every stream keeps the window its name asks for.
//!
//! Threads: `handle_http` runs on the server's connection threads and `run_ws` owns one
//! connection thread for the session's life, polling the socket every few milliseconds. Shared
//! state (weights, order counts, listen keys) sits behind short-lived mutexes never held while
//! calling into the [`Market`]. Allocates freely; never panics on client input: every bad
//! request gets Binance's `{"code":..,"msg":..}` with a 4xx status.
//!
//! [`Faults::take_skip_sequence`]: crate::faults::Faults::take_skip_sequence
//! [`Market`]: crate::market::Market
//! [`Market::now_ms`]: crate::market::Market::now_ms
//! [`Market::subscribe_book`]: crate::market::Market::subscribe_book
//!
//! Files: [`errors`] (the refusals and their codes), [`params`] (parameters and the signing
//! check), [`rest`] (routing, weights, market data), [`orders`] (order entry and queries),
//! `my_trades`, [`user_data`] (listen keys and `executionReport`), [`wire`] (JSON shapes),
//! [`session`] (the WebSocket streams).

use self::params::Params;
use self::rest::route;
use self::session::Session;
use crate::bench_probe::BenchProbe;
use crate::kit::binance_limits::{OrderCounter, OrderWindow, WeightMeter};
use crate::kit::combined_streams::stream_names;
use crate::kit::listen_keys::ListenKeys;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use qt_core::AccountId;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod errors;
mod my_trades;
mod orders;
mod params;
mod rest;
mod session;
#[cfg(test)]
mod tests;
mod user_data;
mod wire;
mod ws_api;

pub use crate::kit::combined_streams::wrap_payload;
pub use errors::BinanceError;
pub use wire::depth_update_text;
pub use ws_api::WS_API_PATH;

/// The self-trade prevention the shared matching engine applies (resting orders of the same
/// account are removed), named as Binance names it.
const STP_MODE: &str = "EXPIRE_MAKER";
/// Legal range Binance reports for `symbol`.
const SYMBOL_RANGE: &str = "^[A-Z0-9-_.]{1,20}$";
/// `GET /api/v3/depth` default and maximum `limit`.
const DEPTH_DEFAULT_LIMIT: usize = 100;
const DEPTH_MAX_LIMIT: usize = 5000;
/// `maxPrice` and `maxQty` of the symbol filters, in ticks and lots.
const MAX_TICKS: i64 = 1_000_000_000;
const MAX_LOTS: i64 = 1_000_000_000;
/// How often a session polls its socket (and so how late a 100 ms window may flush).
const WS_POLL: Duration = Duration::from_millis(5);
/// Messages a stalled or slow session may queue before it is dropped, as a venue drops a
/// consumer that does not keep up.
const MAX_OUTBOX: usize = 200_000;
/// How often a user data session re-checks its listen key.
const LISTEN_KEY_CHECK: Duration = Duration::from_millis(200);
/// -2011's message when there is nothing to cancel.
const UNKNOWN_ORDER: &str = "Unknown order sent.";
/// Cancel client ids remembered for `executionReport` `c`/`C`.
const CANCEL_IDS_KEPT: usize = 100_000;

/// Limits and timings of the simulated venue; [`Default`] is Binance's published values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinanceLimits {
    /// REQUEST_WEIGHT per IP per minute (Binance: 6000).
    pub request_weight_per_minute: u32,
    /// ORDERS per account per 10 seconds (Binance: 50).
    pub orders_per_10s: u32,
    /// ORDERS per account per day (Binance: 160 000).
    pub orders_per_day: u32,
    /// Interval of the server's WebSocket pings (Binance: 20 s).
    pub ws_ping_interval: Duration,
    /// How long a listen key lives without a keepalive (Binance: 60 minutes).
    pub listen_key_validity: Duration,
    /// Test-speed knob, not a Binance value: the window of every diff depth stream instead of
    /// the one its name asks for (`@depth` 1000 ms, `@depth@100ms` 100 ms). `Some(ZERO)` sends
    /// each book operation as its own `depthUpdate` (`U == u ==` previous `u + 1`), so a test
    /// can drive 100k real diffs through a client in seconds. Default `None`: the real windows.
    pub diff_interval: Option<Duration>,
}

impl Default for BinanceLimits {
    fn default() -> Self {
        Self {
            request_weight_per_minute: 6000,
            orders_per_10s: 50,
            orders_per_day: 160_000,
            ws_ping_interval: Duration::from_secs(20),
            listen_key_validity: Duration::from_secs(60 * 60),
            diff_interval: None,
        }
    }
}

/// Binance spot's REST API and WebSocket streams over the shared [`Market`].
#[derive(Debug)]
pub struct BinanceSpot {
    limits: BinanceLimits,
    /// REQUEST_WEIGHT used per IP: (minute number, weight).
    weights: WeightMeter,
    /// ORDERS per account: (10 s window, count, day, count).
    orders: OrderCounter,
    listen_keys: ListenKeys,
    cancel_ids: Mutex<CancelIds>,
    /// Source of generated ids (listen keys, cancel client ids, synthetic order ids).
    sequence: AtomicU64,
    /// `executionReport` `I` (execution id).
    execution_ids: AtomicU64,
    /// `qt bench --wire`'s probe, when the simulator runs for it ([`BinanceSpot::with_probe`]).
    probe: Option<Arc<BenchProbe>>,
}

/// The client order id of each user cancel, by (account, symbol, order id), so the
/// `executionReport` of the cancel can carry it as `c` and the order's own id as `C`.
#[derive(Debug, Default)]
struct CancelIds {
    by_order: HashMap<(AccountId, usize, u64), String>,
    order: VecDeque<(AccountId, usize, u64)>,
}

impl Default for BinanceSpot {
    fn default() -> Self {
        Self::new(BinanceLimits::default())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short locks would be a simulator bug; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BinanceSpot {
    /// A venue with `limits` (use [`BinanceLimits::default`] for Binance's own).
    pub fn new(limits: BinanceLimits) -> Self {
        Self {
            listen_keys: ListenKeys::new(limits.listen_key_validity),
            weights: WeightMeter::new(limits.request_weight_per_minute),
            orders: OrderCounter::new(vec![
                OrderWindow { ms: 10_000, limit: limits.orders_per_10s, header: "10S", interval: "10 SECOND" },
                OrderWindow { ms: 86_400_000, limit: limits.orders_per_day, header: "1D", interval: "1 DAY" },
            ]),
            cancel_ids: Mutex::new(CancelIds::default()),
            sequence: AtomicU64::new(1),
            execution_ids: AtomicU64::new(1),
            limits,
            probe: None,
        }
    }

    /// A venue with `limits` whose market-data sessions and order entry report to `probe`
    /// (`qt bench --wire`: [`crate::bench_probe`]).
    pub fn with_probe(limits: BinanceLimits, probe: Arc<BenchProbe>) -> Self {
        Self { probe: Some(probe), ..Self::new(limits) }
    }

    /// The limits in force.
    pub fn limits(&self) -> &BinanceLimits {
        &self.limits
    }

    fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }
}

impl Protocol for BinanceSpot {
    fn name(&self) -> &'static str {
        "binance"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == "/ws" || path.starts_with("/ws/") || path == "/stream" || path == "/stream/" || path == WS_API_PATH
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        if let Some(status) = ctx.faults.take_http_path_failure(&req.path) {
            return crate::http::error_response(status, &format!("simulated HTTP {status} (injected fault)"));
        }
        let now_ms = ctx.market.now_ms();
        let endpoint = route(&req.method, &req.path);
        let params = Params::parse(req);
        let weight = endpoint.as_ref().map_or(1, |e| Self::weight(*e, params.as_ref().ok()));
        let (used, over) = self.charge_weight(req.peer.ip(), weight, now_ms);
        let result = match (over, endpoint, params) {
            (Some(e), _, _) | (None, Err(e), _) | (None, Ok(_), Err(e)) => Err(e),
            (None, Ok(endpoint), Ok(p)) => self.dispatch(ctx, req, endpoint, &p),
        };
        let resp = match result {
            Ok(reply) => {
                let mut resp = HttpResponse::json(200, &reply.body);
                for (k, v) in reply.headers {
                    resp = resp.with_header(&k, v);
                }
                resp
            }
            Err(e) => e.to_response(),
        };
        resp.with_header("X-MBX-USED-WEIGHT-1M", used.to_string())
    }

    fn on_request_head(&self, method: &str, path: &str) {
        if let Some(probe) = &self.probe
            && method == "POST"
            && path == "/api/v3/order"
        {
            probe.order_head_parsed(std::time::Instant::now());
        }
    }

    fn run_ws(&self, ctx: &Ctx, path: &str, query: &str, ws: &mut dyn WsSession) {
        if path == WS_API_PATH {
            return ws_api::WsApiSession::new(self, ctx, query).run(ws);
        }
        let (combined, names) = stream_names(path, query);
        let mut session = Session::new(self, ctx, combined);
        for name in names.split('/').filter(|n| !n.is_empty()) {
            if session.subscribe(name).is_err() {
                log::debug!("venue-sim binance: no stream {name:?}; closing the session");
                ws.close(true);
                return;
            }
        }
        session.run(ws);
    }
}
