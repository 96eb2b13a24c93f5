//! [`BybitV5`]: the simulator speaking Bybit's v5 API — REST market data and trading, the public
//! WebSocket streams (`/v5/public/spot`, `/v5/public/linear`) and the private one
//! (`/v5/private`) — with the shared [`Market`] behind it.
//!
//! Facts follow the official docs, `bybit-exchange/docs` (v5 pages named where used, e.g.
//! `docs/v5/guide.mdx` for signing, `docs/v5/error.mdx` for codes), the verbatim samples in
//! `testdata/bybit/` and the recorded traffic there; where the docs are silent or contradict
//! each other the choice is written next to the code.
//!
//! - **Categories.** A `Spot` instrument is served under `category=spot`, a `LinearPerpetual`
//!   one under `category=linear`; anything else (inverse, option, a symbol of the other kind) is
//!   refused the way Bybit refuses an unknown symbol. Decimals are written as Bybit writes them:
//!   spot trimmed (`"65140"`, `"0.000116"`, as in the recorded spot stream), linear at the
//!   instrument's scale (`"65114.20"`, `"6.054"`).
//! - **Signing** (`docs/v5/guide.mdx`): `X-BAPI-SIGN = hex(HMAC-SHA256(secret, timestamp +
//!   api_key + recv_window + (query string as sent | raw JSON body)))`, timestamp window
//!   `server_time - recv_window <= timestamp < server_time + 1000`.
//! - **Order book streams** (`books`). Each `orderbook.{depth}.{symbol}` topic is published
//!   once for the venue: at the documented push interval it sends the difference of the new
//!   depth-limited view against the last one (a level leaving the view is sent with size
//!   `"0"`), and every session on the topic replays the same messages. `u` grows by exactly one
//!   per view of a topic and is the same for every subscriber; `seq` is the market's update id
//!   the view reflects (as `/_sim/book`'s `updateId`). The spot REST book is the 200-level
//!   topic's last view with its `u` and `seq` (`market/orderbook.mdx`: "corresponding to `u` in
//!   the wss 200-level orderbook"), so a client can align REST and stream the documented way.
//!   [`BybitV5::with_book_push_interval`] is a test-speed knob replacing the documented
//!   intervals (zero: a push after every market operation that changes the view).
//! - **Linear positions** (`positions.rs`): `category=linear` orders move the account's one-way
//!   position (`positionIdx` 0) in the shared market, which books closed PnL, fees and funding to
//!   the USDT wallet; `GET /v5/position/list`; `reduceOnly` honoured (an order larger than the
//!   position trimmed to it, none or a same-side position refused with 110017); the private
//!   `position` and `wallet` topics.
//! - **Private stream** events come from [`Market::subscribe_account`]; post-only and
//!   fill-or-kill orders that the engine refuses are acknowledged (`retCode` 0, as Bybit does:
//!   "the ack … indicates that the request is successfully accepted") and then reported as a
//!   closed order with Bybit's `rejectReason`, from this venue's own per-account ledger.
//!
//! Threads: [`Protocol::handle_http`] runs on the caller's connection thread; each WebSocket
//! session runs on its own connection thread inside [`Protocol::run_ws`] until the client leaves,
//! a fault drops it, or `ctx.stop`. Shared venue state (ledgers, rate-limit windows, listeners of
//! synthetic order events) sits behind one mutex held only for short bookkeeping; it may call
//! into the market while held (a subscription), never the other way round, so the two locks
//! cannot deadlock; each symbol's book topics sit behind a mutex of their own with the same
//! rule. Allocates freely; blocks only in the
//! WebSocket `recv` tick and the injected acknowledgement delay; never panics on client input.
//!
//! Files: [`wire`] (categories, ids, decimal and JSON text, order and execution documents),
//! [`errors`] (codes and texts), [`params`] (parameters and the signing check), [`rest`]
//! (envelope, routing, rate limits, market data), [`orders`] (order entry, queries, wallet),
//! [`positions`] (position list and topic entries),
//! [`ledger`] (the venue's own order bookkeeping), [`books`] (venue-wide book topics),
//! [`session`] and [`private_session`] (the public and private WebSocket sessions).
//!
//! [`Market`]: crate::market::Market
//! [`Market::subscribe_account`]: crate::market::Market::subscribe_account

use self::books::{BookBoard, push_interval};
use self::errors::ApiError;
use self::ledger::{OrderRecord, VenueState};
use self::params::query_params;
use self::private_session::PrivateSession;
use self::rest::{Reply, Route, instruments_info, server_time};
use self::session::PublicSession;
use self::wire::{Category, parse_active_time};
use crate::kit::order_marks::OrderMarks;
use crate::kit::session::{LoopRules, run_session};
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use qt_core::AccountId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

mod books;
mod errors;
mod ledger;
mod orders;
mod params;
mod positions;
mod private_session;
mod rest;
mod session;
#[cfg(test)]
mod tests;
mod wire;

pub use books::{View as BookView, spot_book_message};
pub use params::string_to_sign;

/// Public spot stream path (`docs/v5/websocket/wss-authentication.mdx`, "Connect").
pub const SPOT_WS_PATH: &str = "/v5/public/spot";
/// Public linear (USDT/USDC perpetual) stream path.
pub const LINEAR_WS_PATH: &str = "/v5/public/linear";
/// Private stream path.
pub const PRIVATE_WS_PATH: &str = "/v5/private";

/// `X-BAPI-RECV-WINDOW` when the header is absent ("default value is 5,000").
pub const DEFAULT_RECV_WINDOW_MS: i64 = 5000;
/// How far ahead of the server clock a timestamp may be (`timestamp < server_time + 1000`).
const FUTURE_TOLERANCE_MS: i64 = 1000;
/// Idle limit when nothing else is configured: "if there is no ping-pong and no stream data
/// sent from server end, the connection will be cut off after 10 minutes" (Connect page).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// `orderLinkId`: "A max of 36 characters. Combinations of numbers, letters (upper and lower
/// cases), dashes, and underscores" (`order/create-order.mdx`).
const MAX_ORDER_LINK_ID: usize = 36;
/// "a maximum of recent 500 closed status records are kept under each account each category"
/// (`order/open-order.mdx`).
const CLOSED_ORDERS_KEPT: usize = 500;
/// Venue order ids of acknowledged-then-refused orders (post-only, FOK) live above this, far
/// from the engine's ids.
const SYNTHETIC_ID_BASE: u64 = 1 << 60;
/// Linear tickers push deltas at most this often ("Derivatives & Options - 100ms").
const LINEAR_TICKER_INTERVAL: Duration = Duration::from_millis(100);
/// How long a session waits for a client frame before doing its periodic work.
const SESSION_TICK: Duration = Duration::from_millis(2);
/// A session whose unsent messages exceed this (a long stall) is dropped, as a venue drops a
/// consumer that cannot keep up.
const OUTBOX_LIMIT: usize = 100_000;
/// What a malformed-frame fault sends (cut inside a push).
const MALFORMED: &[u8] = b"{\"topic\":\"malformed\",\"data\":[{\"s\":";
/// "Spot can input up to 10 args for each subscription request".
const SPOT_MAX_ARGS: usize = 10;
/// Reduce-only orders remembered.
const REDUCE_ONLY_KEPT: usize = 100_000;
/// Salts of the UUID-shaped ids linear orders and executions carry (spot ids are decimal).
const ORDER_UUID_SALT: u64 = 0x5f3c_7a1e_4b2d_4c9a;
const EXEC_UUID_SALT: u64 = 0x20f4_3950_d8dd_5b31;

/// Bybit v5. `new()` gives the documented defaults; tests shorten the idle limit with
/// [`BybitV5::with_idle_timeout`].
#[derive(Debug)]
pub struct BybitV5 {
    idle_timeout: Duration,
    rate_limits: bool,
    book_push_interval: Option<Duration>,
    books: BookBoard,
    state: Mutex<VenueState>,
    next_id: AtomicU64,
    /// Reduce-only orders (the market does not keep the flag).
    reduce_only: OrderMarks,
}

impl Default for BybitV5 {
    fn default() -> Self {
        Self::new()
    }
}

impl BybitV5 {
    /// The venue with the documented idle limit and per-UID rate limits on.
    pub fn new() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            rate_limits: true,
            book_push_interval: None,
            books: BookBoard::default(),
            state: Mutex::new(VenueState::default()),
            next_id: AtomicU64::new(1),
            reduce_only: OrderMarks::new(REDUCE_ONLY_KEPT),
        }
    }

    /// Sessions whose client sends nothing for `d` are closed (the private stream's
    /// `max_active_time` query parameter still overrides it per session).
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Test-speed knob, not a Bybit value: every `orderbook.{depth}` topic pushes at `d` instead
    /// of its documented interval ([`push_interval`]). `Duration::ZERO` pushes after every market
    /// operation that changes the topic's view (still `u + 1` per message), so a test can drive
    /// 100k real deltas through a client in seconds. Without it: the documented intervals.
    pub fn with_book_push_interval(mut self, d: Duration) -> Self {
        self.book_push_interval = Some(d);
        self
    }

    /// Turns the per-UID, per-endpoint rate limits (`docs/v5/rate-limit.mdx`) on or off.
    pub fn with_rate_limits(mut self, on: bool) -> Self {
        self.rate_limits = on;
        self
    }

    fn lock(&self) -> MutexGuard<'_, VenueState> {
        // Bookkeeping only; a poisoned lock still holds consistent maps.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `rec` with its `reduceOnly` flag from the venue's marks.
    fn marked(&self, account: AccountId, mut rec: OrderRecord) -> OrderRecord {
        rec.reduce_only = self.reduce_only.contains((account, rec.view.symbol, rec.view.venue_order_id));
        rec
    }

    fn next_serial(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The push interval of `orderbook.{depth}`: the test-speed knob, else the documented one.
    /// How a session is run: closed after `idle` (default: the venue's idle limit) without a
    /// client message; a binary frame is answered as invalid JSON.
    fn rules(&self, idle: Option<Duration>) -> LoopRules {
        LoopRules {
            tick: SESSION_TICK,
            outbox_limit: OUTBOX_LIMIT,
            idle: Some(idle.unwrap_or(self.idle_timeout)),
            idle_counts_sends: false,
            binary_as_empty_text: true,
        }
    }

    fn book_interval(&self, depth: usize) -> Option<Duration> {
        push_interval(depth).map(|i| self.book_push_interval.unwrap_or(i))
    }
}

impl Protocol for BybitV5 {
    fn name(&self) -> &'static str {
        "bybit"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        matches!(path, SPOT_WS_PATH | LINEAR_WS_PATH | PRIVATE_WS_PATH)
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        let now = ctx.market.now_ms();
        let outcome = match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v5/market/time") => Ok(Reply::ok(server_time(now))),
            ("GET", "/v5/market/instruments-info") => instruments_info(ctx, &query_params(&req.query)),
            ("GET", "/v5/market/orderbook") => self.orderbook(ctx, &query_params(&req.query)),
            ("POST", "/v5/order/create") => self.signed(ctx, req, Route::Create, now),
            ("POST", "/v5/order/cancel") => self.signed(ctx, req, Route::Cancel, now),
            ("POST", "/v5/order/cancel-all") => self.signed(ctx, req, Route::CancelAll, now),
            ("GET", "/v5/order/realtime") => self.signed(ctx, req, Route::Realtime, now),
            ("GET", "/v5/account/wallet-balance") => self.signed(ctx, req, Route::WalletBalance, now),
            ("GET", "/v5/position/list") => self.signed(ctx, req, Route::PositionList, now),
            _ => Err(ApiError::new(10017, "Route not found.").with_status(404)),
        };
        let time = ctx.market.now_ms();
        match outcome {
            Ok(reply) => reply.into_response(time),
            Err(e) => e.into_response(time),
        }
    }

    fn run_ws(&self, ctx: &Ctx, path: &str, query: &str, ws: &mut dyn WsSession) {
        let conn_id = self.conn_id();
        match path {
            SPOT_WS_PATH => {
                run_session(&mut PublicSession::new(self, ctx, Category::Spot, conn_id), ctx, ws, &self.rules(None));
            }
            LINEAR_WS_PATH => {
                run_session(&mut PublicSession::new(self, ctx, Category::Linear, conn_id), ctx, ws, &self.rules(None));
            }
            PRIVATE_WS_PATH => {
                let idle = query_params(query)
                    .iter()
                    .find(|(k, _)| k == "max_active_time")
                    .and_then(|(_, v)| parse_active_time(v))
                    .unwrap_or(self.idle_timeout);
                run_session(&mut PrivateSession::new(self, ctx, conn_id), ctx, ws, &self.rules(Some(idle)));
            }
            _ => ws.close(true),
        }
    }
}
