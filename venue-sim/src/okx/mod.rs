//! [`OkxV5`]: the simulator speaking OKX's v5 API with the shared [`Market`] behind it:
//! public market data — the WebSocket `/ws/v5/public` (`books`, `trades`, `bbo-tbt`) and REST
//! `GET /api/v5/public/time`, `/public/instruments`, `/market/books`, `/market/ticker`,
//! `/market/tickers` and `/market/trades` (fields in `rest.rs`) — and order entry: signed REST
//! `POST /api/v5/trade/order`, `cancel-order`, `cancel-batch-orders`, `GET /api/v5/trade/order`,
//! `orders-pending`, `fills`, `GET /api/v5/account/balance`, `positions` (`auth.rs` the
//! `OK-ACCESS-*` check, `trade.rs`, `account.rs`, `order_doc.rs` the documents, `desk.rs` the
//! venue's own bookkeeping), and the private WebSocket `/ws/v5/private` (`login`, the `orders`
//! channel; `private_session.rs`). Spot trades with `tdMode=cash`, SWAP (a `LinearPerpetual`
//! whose symbol is its `instId`, e.g. `BTC-USDT-SWAP`) with `tdMode=cross` and `reduceOnly`.
//!
//! Facts follow OKX's v5 docs as quoted in `venues/NOTES.md` §3 and the samples in
//! `testdata/okx/` (choices where the docs are silent are written next to the code):
//!
//! - **Subscribe**: `{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},..]}`;
//!   each arg is answered by `{"event":"subscribe","arg":{..},"connId":".."}`, a bad arg by
//!   `{"event":"error","code":"60018","msg":"Wrong URL or channel:..",..}`, a request that is
//!   not JSON or has no args by code `60012`. `unsubscribe` is answered the same way.
//! - **`books`** (400 levels, pushed every 100 ms): a subscription starts with
//!   `action:"snapshot"` (`prevSeqId` -1), then `action:"update"` messages with the levels whose
//!   size changed in the top 400 (size `"0"` for a level that left it); `seqId` is the market's
//!   update id the view reflects (the number `/_sim/book` reports as `updateId`, so a client can
//!   align the two) and `prevSeqId` is the previous message's `seqId`. Nothing changed for
//!   [`BOOKS_HEARTBEAT`] → an update with empty sides and `prevSeqId == seqId`. `checksum`: CRC32
//!   of the top 25 levels interleaved `bid1px:bid1sz:ask1px:ask1sz:..` (the remaining levels of
//!   the longer side appended), over the strings as sent, as a signed 32-bit integer. Levels are
//!   `[px, sz, "0", numOrders]`; the market does not count orders per level, so numOrders is
//!   `"1"`. Decimals are trimmed (`"8477"`, as in the doc samples).
//! - **`trades`**: one message per market trade batch, one item per trade (`count` `"1"`).
//! - **`bbo-tbt`**: the best bid and ask whenever they change, at most every 10 ms.
//! - **Heartbeat**: the text `ping` is answered by `pong`. A connection that has had no traffic
//!   either way for the idle limit (30 s, "the connection will break automatically if the
//!   subscription is not established or data has not been pushed for more than 30 seconds") is
//!   closed.
//! - **Faults**: dropped connections, stalls, `skip_sequence` (an update's `prevSeqId` does not
//!   name the previous `seqId`), malformed and truncated frames, and `corrupt_levels` (one level
//!   of an update is sent one lot off while the checksum covers the true book).
//!
//! Threads: each WebSocket session runs on its own connection thread inside
//! [`Protocol::run_ws`]; REST on the caller's connection thread. Allocates freely; blocks only
//! in the WebSocket `recv` tick; never panics on client input.
//!
//! [`Market`]: crate::market::Market

use self::auth::{ApiError, Params, query_params};
use self::desk::{Desk, Route};
use self::private_session::PrivateSession;
use self::rest::{error_body, instruments, ok_body, rest_books, rest_trades, ticker, tickers};
use self::session::Session;
use crate::kit::session::{LoopRules, run_session};
use crate::kit::trade_log::TradeLogs;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use crate::public_stream::Outbox;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod account;
mod auth;
mod desk;
mod order_doc;
mod private_session;
mod rest;
mod session;
mod trade;
mod wire;

pub use auth::{sign_base64, string_to_sign, timestamp_text};
pub use private_session::LOGIN_PATH;
pub use wire::{BooksHead, books_message, checksum, inst_id};

/// The public stream's path.
pub const PUBLIC_WS_PATH: &str = "/ws/v5/public";
/// The private stream's path.
pub const PRIVATE_WS_PATH: &str = "/ws/v5/private";
/// OKX's idle limit (30 s without traffic).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Depth of the `books` channel.
pub const BOOKS_DEPTH: usize = 400;
/// Levels per side in the checksum.
pub const CHECKSUM_DEPTH: usize = 25;
/// `books` push interval.
const BOOKS_INTERVAL: Duration = Duration::from_millis(100);
/// An unchanged `books` channel sends an empty update this often ("about every 60 s").
pub const BOOKS_HEARTBEAT: Duration = Duration::from_secs(60);
/// `bbo-tbt` pushes at most this often.
const BBO_INTERVAL: Duration = Duration::from_millis(10);
/// How long a session waits for a client frame before doing its periodic work.
const SESSION_TICK: Duration = Duration::from_millis(2);
/// A session whose unsent messages exceed this (a long stall) is dropped.
const OUTBOX_LIMIT: usize = 100_000;
/// What a malformed-frame fault sends (cut inside a `books` push).
const MALFORMED: &[u8] = b"{\"arg\":{\"channel\":\"books\",\"instId\":";
/// What a malformed-account-frame fault sends on the private stream (cut inside an `orders`
/// push).
const MALFORMED_PRIVATE: &[u8] = b"{\"arg\":{\"channel\":\"orders\",\"instType\":\"SPOT\"},\"data\":[{\"accFillSz\":";

/// OKX v5 public market data. `new()` gives the documented idle limit; tests shorten it with
/// [`OkxV5::with_idle_timeout`].
#[derive(Debug)]
pub struct OkxV5 {
    idle_timeout: Duration,
    next_conn: AtomicU64,
    trades: TradeLogs,
    desk: Desk,
    rate_limits: bool,
    /// `(api key, passphrase)` the venue insists on (`auth.rs`).
    passphrases: Vec<(String, String)>,
}

impl Default for OkxV5 {
    fn default() -> Self {
        Self::new()
    }
}

impl OkxV5 {
    /// The venue with the documented idle limit.
    pub fn new() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            next_conn: AtomicU64::new(1),
            trades: TradeLogs::default(),
            desk: Desk::default(),
            rate_limits: true,
            passphrases: Vec::new(),
        }
    }

    /// Requests with `api_key` must carry exactly `passphrase` (other keys: any non-empty one).
    pub fn with_passphrase(mut self, api_key: &str, passphrase: &str) -> Self {
        self.passphrases.push((api_key.to_owned(), passphrase.to_owned()));
        self
    }

    /// Turns the per-user rate limits of the trade and account endpoints on or off.
    pub fn with_rate_limits(mut self, on: bool) -> Self {
        self.rate_limits = on;
        self
    }

    fn next_serial(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn conn_id(&self) -> String {
        format!("{:08x}", self.next_serial().wrapping_mul(0x9e37_79b9) & 0xffff_ffff)
    }

    /// A signed endpoint: the signing check, the rate limit, then `route`; the answer is OKX's
    /// `{"code","msg","data"}` (trade answers with `inTime`/`outTime`).
    fn private(&self, ctx: &Ctx, req: &HttpRequest, route: Route) -> HttpResponse {
        let in_time = ctx.market.now_ms().saturating_mul(1000);
        let result = self.serve(ctx, req, route, in_time);
        if matches!(route, Route::Place | Route::Cancel | Route::CancelBatch) {
            let delay = ctx.faults.ack_latency();
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
        result.unwrap_or_else(ApiError::into_response)
    }

    fn serve(&self, ctx: &Ctx, req: &HttpRequest, route: Route, in_time: i64) -> Result<HttpResponse, ApiError> {
        let now = ctx.market.now_ms();
        let caller = self.authenticate(ctx, req, now)?;
        let body: Value = if req.method == "POST" {
            serde_json::from_slice(&req.body).map_err(|_| ApiError::new(200, "50002", "JSON syntax error"))?
        } else {
            Value::Null
        };
        let params = match &body {
            Value::Object(m) => Params::Body(m.clone()),
            _ => Params::Query(query_params(&req.query)),
        };
        let batch = match (&body, route) {
            (Value::Array(list), Route::CancelBatch) => list.len(),
            (_, Route::CancelBatch) => return Err(ApiError::param("batch orders")),
            _ => 1,
        };
        self.within_limit(caller, route, batch, now)?;
        let items = match route {
            Route::Place => self.place(ctx, caller, &params)?,
            Route::Cancel => self.cancel(ctx, caller, &params)?,
            Route::CancelBatch => self.cancel_batch(ctx, caller, body.as_array().map_or(&[], Vec::as_slice))?,
            Route::Order => return Ok(ok_body(Value::Array(self.get_order(ctx, caller, &params)?))),
            Route::Pending => return Ok(ok_body(Value::Array(self.pending(ctx, caller, &params)?))),
            Route::Fills => return Ok(ok_body(Value::Array(self.fills(ctx, caller, &params)?))),
            Route::Balance => return Ok(ok_body(Value::Array(self.balance(ctx, caller, &params)?))),
            Route::Positions => return Ok(ok_body(Value::Array(self.positions(ctx, caller, &params)?))),
        };
        let (code, msg) = items.code();
        let out_time = ctx.market.now_ms().saturating_mul(1000);
        Ok(HttpResponse::json(
            200,
            &serde_json::json!({
                "code": code, "msg": msg, "data": items.items,
                "inTime": in_time.to_string(), "outTime": out_time.to_string(),
            }),
        ))
    }

    /// The same venue closing connections idle for `d`.
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }
}

impl Protocol for OkxV5 {
    fn name(&self) -> &'static str {
        "okx"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == PUBLIC_WS_PATH || path == PRIVATE_WS_PATH
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v5/public/instruments") => instruments(&ctx.market, &req.query),
            ("GET", "/api/v5/market/books") => rest_books(&ctx.market, &req.query),
            ("GET", "/api/v5/market/ticker") => ticker(&ctx.market, &self.trades, &req.query),
            ("GET", "/api/v5/market/tickers") => tickers(&ctx.market, &self.trades, &req.query),
            ("GET", "/api/v5/market/trades") => rest_trades(&ctx.market, &self.trades, &req.query),
            // `GET /api/v5/public/time`: `{"code":"0","msg":"","data":[{"ts":"<ms>"}]}` (the
            // market's clock, so a clock-skew fault shows here).
            ("GET", "/api/v5/public/time") => ok_body(serde_json::json!([{ "ts": ctx.market.now_ms().to_string() }])),
            ("POST", "/api/v5/trade/order") => self.private(ctx, req, Route::Place),
            ("POST", "/api/v5/trade/cancel-order") => self.private(ctx, req, Route::Cancel),
            ("POST", "/api/v5/trade/cancel-batch-orders") => self.private(ctx, req, Route::CancelBatch),
            ("GET", "/api/v5/trade/order") => self.private(ctx, req, Route::Order),
            ("GET", "/api/v5/trade/orders-pending") => self.private(ctx, req, Route::Pending),
            ("GET", "/api/v5/trade/fills") => self.private(ctx, req, Route::Fills),
            ("GET", "/api/v5/account/balance") => self.private(ctx, req, Route::Balance),
            ("GET", "/api/v5/account/positions") => self.private(ctx, req, Route::Positions),
            _ => error_body(404, "404", &format!("{} {} is not an OKX endpoint here", req.method, req.path)),
        }
    }

    fn run_ws(&self, ctx: &Ctx, path: &str, _query: &str, ws: &mut dyn WsSession) {
        let conn_id = self.conn_id();
        let rules = LoopRules {
            tick: SESSION_TICK,
            outbox_limit: OUTBOX_LIMIT,
            idle: Some(self.idle_timeout),
            idle_counts_sends: true,
            binary_as_empty_text: false,
        };
        if path == PRIVATE_WS_PATH {
            run_session(&mut PrivateSession::new(self, ctx, conn_id, MALFORMED_PRIVATE), ctx, ws, &rules);
        } else {
            let mut session = Session { ctx, conn_id, symbols: Vec::new(), out: Outbox::new(MALFORMED) };
            run_session(&mut session, ctx, ws, &rules);
        }
    }
}
