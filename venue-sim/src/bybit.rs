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

mod books;

use crate::market::{
    AccountEvent, BalanceView, BookUpdate, ClientOrderRequest, ExecKind, FillView, Market, OrderRef, OrderReject,
    OrderStatus, OrderView,
};
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsIncoming, WsSession};
use crate::public_stream::session_over;
use crate::signing;
use books::{BookBoard, BookCursor, Due, SPOT_REST_DEPTH, book_message, push_interval};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use qt_core::decimal::format_scaled;
use qt_core::{
    AccountId, DecimalErrorKind, DecimalStyle, Instrument, InstrumentKind, Nanos, Notional, OrderType, Price, Qty,
    RejectReason, Rounding, Side, TimeInForce,
};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
/// "Spot can input up to 10 args for each subscription request".
const SPOT_MAX_ARGS: usize = 10;
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

    fn next_serial(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The push interval of `orderbook.{depth}`: the test-speed knob, else the documented one.
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
            SPOT_WS_PATH => PublicSession::new(self, ctx, Category::Spot, conn_id).run(ws),
            LINEAR_WS_PATH => PublicSession::new(self, ctx, Category::Linear, conn_id).run(ws),
            PRIVATE_WS_PATH => {
                let idle = query_params(query)
                    .iter()
                    .find(|(k, _)| k == "max_active_time")
                    .and_then(|(_, v)| parse_active_time(v))
                    .unwrap_or(self.idle_timeout);
                PrivateSession::new(self, ctx, conn_id, idle).run(ws)
            }
            _ => ws.close(true),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Categories, ids and decimal text
// ---------------------------------------------------------------------------------------------

/// Bybit's product type, as far as the simulator serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Category {
    Spot,
    Linear,
}

impl Category {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "spot" => Some(Category::Spot),
            "linear" => Some(Category::Linear),
            _ => None,
        }
    }

    fn of(kind: InstrumentKind) -> Option<Self> {
        match kind {
            InstrumentKind::Spot => Some(Category::Spot),
            InstrumentKind::LinearPerpetual => Some(Category::Linear),
            InstrumentKind::InversePerpetual => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
        }
    }

    /// Spot trims trailing zeros; linear writes the instrument's scale (recorded streams).
    fn style(self) -> DecimalStyle {
        match self {
            Category::Spot => DecimalStyle::Trimmed,
            Category::Linear => DecimalStyle::Fixed,
        }
    }
}

fn price_text(inst: &Instrument, cat: Category, p: Price) -> String {
    p.to_text(inst.price_scale(), cat.style()).as_str().to_owned()
}

fn qty_text(inst: &Instrument, cat: Category, q: Qty) -> String {
    q.to_text(inst.qty_scale(), cat.style()).as_str().to_owned()
}

fn units_price(inst: &Instrument, cat: Category, units: i64) -> String {
    price_text(inst, cat, Price::from_units(units))
}

fn units_qty(inst: &Instrument, cat: Category, units: i64) -> String {
    qty_text(inst, cat, Qty::from_units(units))
}

fn value_text(n: Notional) -> String {
    n.to_text(DecimalStyle::Trimmed).as_str().to_owned()
}

fn ms(t: Nanos) -> i64 {
    t.0.div_euclid(1_000_000)
}

/// `8-4-4-4-12` hex from two halves (linear ids look like Bybit's UUIDs).
fn uuid_text(salt: u64, id: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        salt >> 32,
        (salt >> 16) & 0xffff,
        salt & 0xffff,
        id >> 48,
        id & 0xffff_ffff_ffff
    )
}

fn parse_uuid(salt: u64, text: &str) -> Option<u64> {
    let hex: String = text.split('-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    let hi = u64::from_str_radix(hex.get(..16)?, 16).ok()?;
    let lo = u64::from_str_radix(hex.get(16..)?, 16).ok()?;
    (hi == salt).then_some(lo)
}

fn order_id_text(cat: Category, id: u64) -> String {
    match cat {
        Category::Spot => id.to_string(),
        Category::Linear => uuid_text(ORDER_UUID_SALT, id),
    }
}

fn parse_order_id(cat: Category, text: &str) -> Option<u64> {
    match cat {
        Category::Spot => text.parse().ok(),
        Category::Linear => parse_uuid(ORDER_UUID_SALT, text),
    }
}

/// Trade and execution ids: decimal on spot, UUID-shaped on linear (recorded `publicTrade`).
fn trade_id_text(cat: Category, id: u64) -> String {
    match cat {
        Category::Spot => id.to_string(),
        Category::Linear => uuid_text(EXEC_UUID_SALT, id),
    }
}

/// Client order ids the venue makes when the client gave none: a character `orderLinkId`
/// may not contain, so they never collide and render as `""` as Bybit does.
const AUTO_LINK_PREFIX: char = '~';

fn link_id_text(client_order_id: &str) -> &str {
    if client_order_id.starts_with(AUTO_LINK_PREFIX) { "" } else { client_order_id }
}

fn side_text(s: Side) -> &'static str {
    match s {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    }
}

fn order_type_text(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "Limit",
        OrderType::Market => "Market",
    }
}

fn tif_text(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::PostOnly => "PostOnly",
    }
}

/// `max_active_time` of the private stream: `30s`..`600s` or `1m`..`10m`.
fn parse_active_time(text: &str) -> Option<Duration> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        _ => return None,
    };
    (30..=600).contains(&secs).then(|| Duration::from_secs(secs))
}

// ---------------------------------------------------------------------------------------------
// JSON text in documented field order (serde_json's map would sort the keys)
// ---------------------------------------------------------------------------------------------

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

/// A JSON object written key by key.
#[derive(Debug)]
struct Obj(String);

impl Obj {
    fn new() -> Self {
        Obj(String::from("{"))
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_json_str(&mut self.0, k);
        self.0.push(':');
    }

    fn s(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        push_json_str(&mut self.0, v);
        self
    }

    fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k);
        self.0.push_str(json);
        self
    }

    fn int(mut self, k: &str, v: i64) -> Self {
        self.key(k);
        self.0.push_str(&v.to_string());
        self
    }

    fn uint(mut self, k: &str, v: u64) -> Self {
        self.key(k);
        self.0.push_str(&v.to_string());
        self
    }

    fn boolean(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.0.push_str(if v { "true" } else { "false" });
        self
    }

    fn done(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn json_array(items: impl IntoIterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

fn levels_json(inst: &Instrument, cat: Category, levels: &[(i64, i64)]) -> String {
    json_array(
        levels.iter().map(|&(p, q)| {
            format!("[{},{}]", json_str(&units_price(inst, cat, p)), json_str(&units_qty(inst, cat, q)))
        }),
    )
}

/// A `req_id` echoed as Bybit sends it (a string; a number the client sent is written as text).
fn req_id_of(v: &Value) -> Option<String> {
    match v.get("req_id")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// REST: envelope, errors, parameters
// ---------------------------------------------------------------------------------------------

/// A successful REST result (the `result` object's JSON) and extra headers.
#[derive(Debug)]
struct Reply {
    result: String,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn ok(result: String) -> Self {
        Self { result, headers: Vec::new() }
    }

    fn into_response(self, time: i64) -> HttpResponse {
        let body = Obj::new()
            .int("retCode", 0)
            .s("retMsg", "OK")
            .raw("result", &self.result)
            .raw("retExtInfo", "{}")
            .int("time", time)
            .done();
        let mut resp = HttpResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: body.into_bytes(),
        };
        resp.headers.extend(self.headers);
        resp
    }
}

/// A Bybit error: `retCode`, `retMsg`, the HTTP status (200 unless stated) and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiError {
    code: i64,
    msg: String,
    status: u16,
    headers: Vec<(String, String)>,
}

impl ApiError {
    fn new(code: i64, msg: impl Into<String>) -> Self {
        Self { code, msg: msg.into(), status: 200, headers: Vec::new() }
    }

    fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn into_response(self, time: i64) -> HttpResponse {
        let body = Obj::new()
            .int("retCode", self.code)
            .s("retMsg", &self.msg)
            .raw("result", "{}")
            .raw("retExtInfo", "{}")
            .int("time", time)
            .done();
        let mut resp = HttpResponse {
            status: self.status,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: body.into_bytes(),
        };
        resp.headers.extend(self.headers);
        resp
    }
}

// Codes and texts of `docs/v5/error.mdx` (tables "UMA & UTA & Futures" and "Spot Trade"). Where
// the table gives a generic text and live responses carry a more specific one, the message
// names the parameter; the code is always the table's.

fn param_error(what: &str) -> ApiError {
    ApiError::new(10001, format!("params error: {what}"))
}

fn missing(what: &str) -> ApiError {
    ApiError::new(10001, format!("Missing some parameters that must be filled in, {what}"))
}

fn illegal_category() -> ApiError {
    ApiError::new(10001, "Illegal category")
}

fn symbol_invalid(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170121, "Invalid symbol."),
        Category::Linear => param_error("symbol invalid"),
    }
}

/// Spot 170130 "Data sent for paramter '%s' is not valid." (the docs' spelling).
fn invalid_value(cat: Category, field: &str) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170130, format!("Data sent for paramter '{field}' is not valid.")),
        Category::Linear => param_error(&format!("{field} invalid")),
    }
}

fn price_too_precise(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170134, "Order price decimal too long."),
        Category::Linear => param_error("price invalid, not a multiple of tickSize"),
    }
}

fn qty_too_precise(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170137, "Order volume decimal too long"),
        Category::Linear => param_error("qty invalid, not a multiple of qtyStep"),
    }
}

fn qty_below_min(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170136, "Order quantity lower than the minimum."),
        Category::Linear => param_error("qty invalid, below minOrderQty"),
    }
}

fn value_below_min(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170140, "Transaction amount lower than the minimum."),
        Category::Linear => param_error("order value below minNotionalValue"),
    }
}

fn insufficient_balance(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170131, "Balance insufficient"),
        Category::Linear => ApiError::new(110007, "Available balance is insufficient"),
    }
}

fn duplicate_link_id(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170141, "Duplicate clientOrderId"),
        Category::Linear => ApiError::new(110072, "OrderLinkedID is duplicate"),
    }
}

fn order_not_found(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170213, "Order does not exist."),
        Category::Linear => ApiError::new(110001, "Order does not exist"),
    }
}

fn order_too_large(cat: Category) -> ApiError {
    match cat {
        Category::Spot => ApiError::new(170124, "Order amount too large."),
        Category::Linear => param_error("order value too large"),
    }
}

/// `a=b&c=d`, percent-decoded (`+` is a space); later duplicates are kept but lookups take the
/// first.
fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Request parameters from a query string or a JSON body, read as Bybit reads them (strings).
#[derive(Debug)]
enum Params {
    Query(Vec<(String, String)>),
    Body(serde_json::Map<String, Value>),
}

impl Params {
    /// A parameter's text: absent, JSON `null` and `""` are "not given"; a non-string JSON value
    /// is a type error.
    fn get(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self {
            Params::Query(kv) => {
                Ok(kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).filter(|v| !v.is_empty()))
            }
            Params::Body(map) => match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(param_error(&format!("{key} must be a string"))),
            },
        }
    }

    /// An integer parameter (JSON number or numeric string).
    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self {
            Params::Body(map) => match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| param_error(&format!("{key} invalid"))),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => s.parse().map(Some).map_err(|_| param_error(&format!("{key} invalid"))),
                Some(_) => Err(param_error(&format!("{key} invalid"))),
            },
            Params::Query(_) => match self.get(key)? {
                None => Ok(None),
                Some(s) => s.parse().map(Some).map_err(|_| param_error(&format!("{key} invalid"))),
            },
        }
    }

    /// A boolean body parameter.
    fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self {
            Params::Body(map) => match map.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(param_error(&format!("{key} invalid"))),
            },
            Params::Query(_) => Ok(matches!(self.get(key)?.as_deref(), Some("true"))),
        }
    }
}

/// `category` → a served category.
fn category_param(p: &Params) -> Result<Category, ApiError> {
    match p.get("category")? {
        Some(c) => Category::parse(&c).ok_or_else(illegal_category),
        None => Err(illegal_category()),
    }
}

/// `symbol` of `cat` → its index and instrument; an unknown symbol or one of the other category
/// is refused as unknown.
fn symbol_of(market: &Market, cat: Category, symbol: &str) -> Result<(usize, Instrument), ApiError> {
    let idx = market.symbol_index(symbol).ok_or_else(|| symbol_invalid(cat))?;
    let inst = market.instruments().get(idx).cloned().ok_or_else(|| symbol_invalid(cat))?;
    if Category::of(inst.kind()) != Some(cat) {
        return Err(symbol_invalid(cat));
    }
    Ok((idx, inst))
}

// ---------------------------------------------------------------------------------------------
// REST: market data
// ---------------------------------------------------------------------------------------------

/// `GET /v5/market/time` (`market/time.mdx`).
fn server_time(now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let nanos = i128::from(now_ms) * 1_000_000;
    Obj::new().s("timeSecond", &secs.to_string()).s("timeNano", &nanos.to_string()).done()
}

/// The quote precision a spot instrument advertises: one unit of price × quantity, the finest
/// amount its trades produce.
fn quote_precision_decimals(inst: &Instrument) -> u8 {
    (inst.price_scale() + inst.qty_scale()).min(18)
}

fn instrument_json(inst: &Instrument, cat: Category) -> String {
    let tick = price_text(inst, cat, inst.tick());
    let lot = qty_text(inst, cat, inst.lot());
    let min_qty = qty_text(inst, cat, inst.min_qty());
    let min_value = value_text(inst.min_notional());
    // The simulator has no maximum quantity; these are generous bounds the engine's own range
    // checks stay far above.
    let max_qty = "1000000";
    match cat {
        Category::Spot => {
            let quote_precision = format_scaled(1, quote_precision_decimals(inst), DecimalStyle::Trimmed);
            let lot_filter = Obj::new()
                .s("basePrecision", &lot)
                .s("quotePrecision", quote_precision.as_str())
                .s("minOrderQty", &min_qty)
                .s("maxOrderQty", max_qty)
                .s("minOrderAmt", &min_value)
                .s("maxOrderAmt", "100000000")
                .s("maxLimitOrderQty", max_qty)
                .s("maxMarketOrderQty", max_qty)
                .done();
            Obj::new()
                .s("symbol", inst.symbol())
                .s("baseCoin", inst.base())
                .s("quoteCoin", inst.quote())
                .s("innovation", "0")
                .s("status", "Trading")
                .s("marginTrading", "none")
                .s("stTag", "0")
                .raw("lotSizeFilter", &lot_filter)
                .raw("priceFilter", &Obj::new().s("tickSize", &tick).done())
                .raw("riskParameters", &Obj::new().s("priceLimitRatioX", "0.05").s("priceLimitRatioY", "0.1").done())
                .s("symbolType", "")
                .done()
        }
        Category::Linear => {
            let max_price = units_price(inst, cat, inst.tick().units().saturating_mul(100_000_000));
            let lot_filter = Obj::new()
                .s("maxOrderQty", max_qty)
                .s("minOrderQty", &min_qty)
                .s("qtyStep", &lot)
                .s("postOnlyMaxOrderQty", max_qty)
                .s("maxMktOrderQty", max_qty)
                .s("minNotionalValue", &min_value)
                .done();
            Obj::new()
                .s("symbol", inst.symbol())
                .s("contractType", "LinearPerpetual")
                .s("status", "Trading")
                .s("baseCoin", inst.base())
                .s("quoteCoin", inst.quote())
                .s("launchTime", "0")
                .s("deliveryTime", "0")
                .s("deliveryFeeRate", "")
                .s("priceScale", &inst.price_scale().to_string())
                .raw(
                    "leverageFilter",
                    &Obj::new().s("minLeverage", "1").s("maxLeverage", "100.00").s("leverageStep", "0.01").done(),
                )
                .raw(
                    "priceFilter",
                    &Obj::new().s("minPrice", &tick).s("maxPrice", &max_price).s("tickSize", &tick).done(),
                )
                .raw("lotSizeFilter", &lot_filter)
                .boolean("unifiedMarginTrade", true)
                .int("fundingInterval", 480)
                .s("settleCoin", inst.quote())
                .s("copyTrading", "none")
                .s("upperFundingRate", "0.005")
                .s("lowerFundingRate", "-0.005")
                .boolean("isPreListing", false)
                .raw("preListingInfo", "null")
                .raw("riskParameters", &Obj::new().s("priceLimitRatioX", "0.05").s("priceLimitRatioY", "0.1").done())
                .s("symbolType", "")
                .done()
        }
    }
}

/// `GET /v5/market/instruments-info` (`market/instrument.mdx`). An unknown symbol, or one of
/// the other category, gives an empty list (the endpoint filters; it does not validate).
fn instruments_info(ctx: &Ctx, q: &[(String, String)]) -> Result<Reply, ApiError> {
    let p = Params::Query(q.to_vec());
    let cat = category_param(&p)?;
    let symbol = p.get("symbol")?;
    let list: Vec<String> = ctx
        .market
        .instruments()
        .iter()
        .filter(|i| Category::of(i.kind()) == Some(cat))
        .filter(|i| symbol.as_deref().is_none_or(|s| s == i.symbol()))
        .map(|i| instrument_json(i, cat))
        .collect();
    let mut result = Obj::new().s("category", cat.name());
    if cat == Category::Linear {
        result = result.s("nextPageCursor", "");
    }
    Ok(Reply::ok(result.raw("list", &json_array(list)).done()))
}

impl BybitV5 {
    /// `GET /v5/market/orderbook` (`market/orderbook.mdx`): `limit` spot [1, 200] (default 1),
    /// linear [1, 500] (default 25). Spot serves the `orderbook.200` topic's last published view,
    /// so `u` is that topic's `u` ("corresponding to `u` in the wss 200-level orderbook") and
    /// `seq` the market update id it reflects, as on every depth's stream. Linear serves the
    /// market's book now, `u` and `seq` its update id: the documented counterpart, a 500-level
    /// stream, is not simulated.
    fn orderbook(&self, ctx: &Ctx, q: &[(String, String)]) -> Result<Reply, ApiError> {
        let p = Params::Query(q.to_vec());
        let cat = category_param(&p)?;
        let symbol = p.get("symbol")?.ok_or_else(|| missing("symbol"))?;
        let (idx, inst) = symbol_of(&ctx.market, cat, &symbol)?;
        let (max, default) = match cat {
            Category::Spot => (200, 1),
            Category::Linear => (500, 25),
        };
        let limit = p.int("limit")?.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(param_error("limit invalid"));
        }
        let limit = limit as usize;
        let (bids, asks, u, seq, cts) = match (cat, self.book_interval(SPOT_REST_DEPTH)) {
            (Category::Spot, Some(interval)) => {
                let books = self.books.of(idx);
                let mut b = books::lock(&books);
                b.advance(&ctx.market, &ctx.faults, Instant::now());
                let mut view = b.view(SPOT_REST_DEPTH, interval, Instant::now());
                b.release_if_unwatched();
                view.bids.truncate(limit);
                view.asks.truncate(limit);
                (view.bids, view.asks, view.u, view.seq, view.cts)
            }
            _ => {
                let snap = ctx.market.snapshot(idx, limit).ok_or_else(|| symbol_invalid(cat))?;
                let units = |levels: &[(Price, Qty)]| levels.iter().map(|(p, q)| (p.units(), q.units())).collect();
                (units(&snap.bids), units(&snap.asks), snap.update_id, snap.update_id, ms(snap.ts))
            }
        };
        let result = Obj::new()
            .s("s", inst.symbol())
            .raw("a", &levels_json(&inst, cat, &asks))
            .raw("b", &levels_json(&inst, cat, &bids))
            .int("ts", cts)
            .uint("u", u)
            .uint("seq", seq)
            .int("cts", cts)
            .done();
        Ok(Reply::ok(result))
    }
}

// ---------------------------------------------------------------------------------------------
// REST: signed endpoints
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Route {
    Create,
    Cancel,
    CancelAll,
    Realtime,
    WalletBalance,
}

impl Route {
    /// Per-second per-UID limits of `docs/v5/rate-limit.mdx` (UTA Pro table).
    fn limit(self, cat: Option<Category>) -> u32 {
        match (self, cat) {
            (Route::Create | Route::Cancel | Route::CancelAll, Some(Category::Spot)) => 20,
            (Route::Create | Route::Cancel | Route::CancelAll, _) => 10,
            (Route::Realtime | Route::WalletBalance, _) => 50,
        }
    }

    fn is_order_entry(self) -> bool {
        matches!(self, Route::Create | Route::Cancel | Route::CancelAll)
    }
}

/// The string Bybit signs: `timestamp + api_key + recv_window + payload`
/// (`docs/v5/guide.mdx`; `recv_window` is empty when the header is absent).
pub fn string_to_sign(timestamp: &str, api_key: &str, recv_window: &str, payload: &str) -> String {
    let mut s = String::with_capacity(timestamp.len() + api_key.len() + recv_window.len() + payload.len());
    s.push_str(timestamp);
    s.push_str(api_key);
    s.push_str(recv_window);
    s.push_str(payload);
    s
}

/// Who a signed request is from.
#[derive(Debug, Clone, Copy)]
struct Caller {
    account: AccountId,
}

impl BybitV5 {
    /// Checks the key, the timestamp window and the signature, in that order (each failure with
    /// its documented code), then the rate limit, then serves `route`.
    fn signed(&self, ctx: &Ctx, req: &HttpRequest, route: Route, now: i64) -> Result<Reply, ApiError> {
        let caller = authenticate(ctx, req, now)?;
        self.ensure_ledger(ctx, caller.account);
        let params = match req.method.as_str() {
            "GET" => Params::Query(query_params(&req.query)),
            _ => match serde_json::from_slice::<Value>(&req.body) {
                Ok(Value::Object(map)) => Params::Body(map),
                _ => return Err(param_error("request body must be a JSON object")),
            },
        };
        // The limit window is per category where the table distinguishes categories.
        let cat = params.get("category").ok().flatten().and_then(|c| Category::parse(&c));
        let headers = self.rate_limit(caller.account, route, cat, now)?;
        let result = match route {
            Route::Create => self.create_order(ctx, caller, &params),
            Route::Cancel => self.cancel_order(ctx, caller, &params),
            Route::CancelAll => self.cancel_all(ctx, caller, &params),
            Route::Realtime => self.realtime(ctx, caller, &params),
            Route::WalletBalance => wallet_balance(ctx, caller, &params),
        };
        if route.is_order_entry() {
            let delay = ctx.faults.ack_latency();
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
        match result {
            Ok(mut reply) => {
                reply.headers.extend(headers);
                Ok(reply)
            }
            Err(mut e) => {
                e.headers.extend(headers);
                Err(e)
            }
        }
    }

    /// `X-Bapi-Limit*` headers of an allowed request, or 10006 "Too many visits!" (HTTP 200:
    /// the rate-limit page says the JSON response carries it; HTTP 403 is the IP ban).
    fn rate_limit(
        &self,
        account: AccountId,
        route: Route,
        cat: Option<Category>,
        now: i64,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let limit = route.limit(cat);
        if !self.rate_limits {
            return Ok(vec![
                ("X-Bapi-Limit".into(), limit.to_string()),
                ("X-Bapi-Limit-Status".into(), limit.to_string()),
                ("X-Bapi-Limit-Reset-Timestamp".into(), now.to_string()),
            ]);
        }
        let mut st = self.lock();
        let window = st.limiter.entry((account, route, cat)).or_default();
        while window.front().is_some_and(|t| *t <= now - 1000) {
            window.pop_front();
        }
        let headers = |remaining: usize, reset: i64| {
            vec![
                ("X-Bapi-Limit".to_string(), limit.to_string()),
                ("X-Bapi-Limit-Status".to_string(), remaining.to_string()),
                ("X-Bapi-Limit-Reset-Timestamp".to_string(), reset.to_string()),
            ]
        };
        if window.len() >= limit as usize {
            let reset = window.front().map_or(now, |t| t + 1000);
            let mut e = ApiError::new(10006, "Too many visits!");
            e.headers = headers(0, reset);
            return Err(e);
        }
        window.push_back(now);
        Ok(headers(limit as usize - window.len(), now))
    }
}

/// Key (10003), timestamp window (10002), signature (10004).
fn authenticate(ctx: &Ctx, req: &HttpRequest, now: i64) -> Result<Caller, ApiError> {
    let key = req.header("x-bapi-api-key").unwrap_or("");
    let Some((account, secret)) = (!key.is_empty()).then(|| ctx.market.account_by_key(key)).flatten() else {
        return Err(ApiError::new(10003, "API key is invalid."));
    };
    let ts_text = req.header("x-bapi-timestamp").unwrap_or("");
    let rw_text = req.header("x-bapi-recv-window");
    let recv_window = match rw_text {
        None => DEFAULT_RECV_WINDOW_MS,
        Some(t) => match t.trim().parse::<i64>() {
            Ok(v) if v > 0 => v,
            _ => return Err(param_error("recv_window invalid")),
        },
    };
    let in_window =
        ts_text.parse::<i64>().ok().filter(|ts| now - recv_window <= *ts && *ts < now + FUTURE_TOLERANCE_MS).is_some();
    if !in_window {
        // The live text (the error table's is "The request time exceeds the time window range.").
        return Err(ApiError::new(
            10002,
            format!(
                "invalid request, please check your server timestamp or recv_window param. \
                 req_timestamp[{ts_text}],server_timestamp[{now}],recv_window[{recv_window}]"
            ),
        ));
    }
    let payload = match req.method.as_str() {
        "GET" => req.query.clone(),
        _ => String::from_utf8_lossy(&req.body).into_owned(),
    };
    let origin = string_to_sign(ts_text, key, rw_text.unwrap_or(""), &payload);
    let sign = req.header("x-bapi-sign").unwrap_or("");
    if !signing::verify_hex(&secret, origin.as_bytes(), sign) {
        // The error table's text; live responses append the origin string with the
        // timestamp+key+window prefix masked.
        return Err(ApiError::new(
            10004,
            format!("Error sign, please check your signature generation algorithm: origin_string[***{payload}]"),
        ));
    }
    Ok(Caller { account })
}

// ---------------------------------------------------------------------------------------------
// REST: orders
// ---------------------------------------------------------------------------------------------

/// `price` text → a positive price on the instrument's scale; too many decimals is Bybit's
/// "decimal too long", anything else unreadable is "not valid". An off-tick price that parses
/// goes on to the engine, whose `PriceFilter` answers.
fn parse_price(inst: &Instrument, cat: Category, text: &str) -> Result<Price, ApiError> {
    match inst.parse_price(text) {
        Ok(p) if p.is_positive() => Ok(p),
        Ok(_) => Err(invalid_value(cat, "price")),
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => Err(price_too_precise(cat)),
        Err(e) if e.kind() == DecimalErrorKind::Overflow => Err(order_too_large(cat)),
        Err(_) => Err(invalid_value(cat, "price")),
    }
}

/// `qty` text → a positive quantity; off-step quantities that parse go on to the engine.
fn parse_qty(inst: &Instrument, cat: Category, text: &str) -> Result<Qty, ApiError> {
    match inst.parse_qty(text) {
        Ok(q) if q.is_positive() => Ok(q),
        Ok(_) => Err(invalid_value(cat, "qty")),
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => Err(qty_too_precise(cat)),
        Err(e) if e.kind() == DecimalErrorKind::Overflow => Err(order_too_large(cat)),
        Err(_) => Err(invalid_value(cat, "qty")),
    }
}

/// A spot market order sized in quote coin (`marketUnit=quoteCoin`, the default for a market
/// buy): the base quantity, on the lot, that the amount buys (or sells for) walking the
/// opposite side of the book now.
fn qty_for_quote(market: &Market, idx: usize, inst: &Instrument, side: Side, text: &str) -> Result<Qty, ApiError> {
    let cat = Category::Spot;
    let amount = match Notional::parse(text) {
        Ok(a) if a > Notional::ZERO => a,
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => {
            return Err(ApiError::new(170148, "Market order amount decimal too long"));
        }
        _ => return Err(invalid_value(cat, "qty")),
    };
    let step = 10i128.pow(u32::from(18 - quote_precision_decimals(inst)));
    if amount.units() % step != 0 {
        return Err(ApiError::new(170148, "Market order amount decimal too long"));
    }
    if amount < inst.min_notional() {
        return Err(value_below_min(cat));
    }
    let snap = market.snapshot(idx, usize::MAX).ok_or_else(|| symbol_invalid(cat))?;
    let levels = if side == Side::Buy { &snap.asks } else { &snap.bids };
    let mut left = amount;
    let mut units: i64 = 0;
    for (p, q) in levels {
        let whole = inst.notional(*p, *q, Rounding::Up).map_err(|_| order_too_large(cat))?;
        if whole <= left {
            units = units.saturating_add(q.units());
            left = left.checked_sub(whole).unwrap_or(Notional::ZERO);
        } else {
            let part = inst.qty_for_notional(*p, left).map_err(|_| order_too_large(cat))?;
            units = units.saturating_add(part.units());
            break;
        }
    }
    Ok(Qty::from_units(units))
}

/// The documented code of a refusal by the market (see the module doc for the choices).
fn reject_error(cat: Category, inst: &Instrument, qty: Qty, e: &OrderReject) -> ApiError {
    match e {
        // Bybit's spot tick sizes are powers of ten, where an off-tick price is one with too
        // many decimals: 170134 is the code the docs give for it.
        OrderReject::Reason(RejectReason::PriceFilter) => price_too_precise(cat),
        OrderReject::Reason(RejectReason::LotSize) if inst.is_on_lot(qty) => qty_below_min(cat),
        OrderReject::Reason(RejectReason::LotSize) => qty_too_precise(cat),
        OrderReject::Reason(RejectReason::MinNotional) => value_below_min(cat),
        OrderReject::Reason(RejectReason::InsufficientBalance) | OrderReject::InsufficientBalance => {
            insufficient_balance(cat)
        }
        OrderReject::Reason(RejectReason::RateLimited) => ApiError::new(10006, "Too many visits!"),
        OrderReject::DuplicateClientOrderId => duplicate_link_id(cat),
        OrderReject::UnknownSymbol | OrderReject::Reason(RejectReason::UnknownInstrument) => symbol_invalid(cat),
        OrderReject::UnknownOrder | OrderReject::Reason(_) => match cat {
            Category::Spot => ApiError::new(170149, "Create order failed"),
            Category::Linear => param_error("order rejected"),
        },
    }
}

fn valid_link_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ORDER_LINK_ID
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl BybitV5 {
    /// `POST /v5/order/create` (`order/create-order.mdx`).
    fn create_order(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let symbol = p.get("symbol")?.ok_or_else(|| missing("symbol"))?;
        let (idx, inst) = symbol_of(&ctx.market, cat, &symbol)?;
        let side = match p.get("side")?.as_deref() {
            Some("Buy") => Side::Buy,
            Some("Sell") => Side::Sell,
            None => return Err(missing("side")),
            Some(_) => {
                return Err(match cat {
                    Category::Spot => ApiError::new(170117, "Invalid side."),
                    Category::Linear => param_error("side invalid"),
                });
            }
        };
        let order_type = match p.get("orderType")?.as_deref() {
            Some("Limit") => OrderType::Limit,
            Some("Market") => OrderType::Market,
            None => return Err(missing("orderType")),
            Some(_) => {
                return Err(match cat {
                    Category::Spot => ApiError::new(170116, "Invalid orderType."),
                    Category::Linear => param_error("orderType invalid"),
                });
            }
        };
        let tif = match p.get("timeInForce")?.as_deref() {
            None | Some("GTC") => TimeInForce::Gtc,
            Some("IOC") => TimeInForce::Ioc,
            Some("FOK") => TimeInForce::Fok,
            Some("PostOnly") => TimeInForce::PostOnly,
            Some(_) => {
                return Err(match cat {
                    Category::Spot => ApiError::new(170115, "Invalid timeInForce."),
                    Category::Linear => param_error("timeInForce invalid"),
                });
            }
        };
        // "Market order will always use IOC".
        let tif = if order_type == OrderType::Market { TimeInForce::Ioc } else { tif };
        let link = p.get("orderLinkId")?;
        if link.as_deref().is_some_and(|l| !valid_link_id(l)) {
            return Err(param_error("orderLinkId invalid"));
        }
        match cat {
            Category::Spot => {
                if p.int("isLeverage")?.unwrap_or(0) != 0 {
                    return Err(param_error("isLeverage: margin trading is not simulated"));
                }
                if p.get("orderFilter")?.is_some_and(|f| f != "Order") {
                    return Err(param_error("orderFilter: only Order is simulated"));
                }
            }
            Category::Linear => {
                if p.int("positionIdx")?.unwrap_or(0) != 0 {
                    return Err(param_error("position idx not match position mode"));
                }
                if p.flag("reduceOnly")? || p.flag("closeOnTrigger")? {
                    return Err(param_error("reduceOnly/closeOnTrigger: positions are not simulated"));
                }
            }
        }
        if p.get("triggerPrice")?.is_some() || p.get("takeProfit")?.is_some() || p.get("stopLoss")?.is_some() {
            return Err(param_error("conditional and TP/SL orders are not simulated"));
        }
        let qty_text = p.get("qty")?.ok_or_else(|| missing("qty"))?;
        let price = match order_type {
            OrderType::Limit => Some(parse_price(&inst, cat, &p.get("price")?.ok_or_else(|| missing("price"))?)?),
            OrderType::Market => None,
        };
        let quote_sized = cat == Category::Spot
            && order_type == OrderType::Market
            && match p.get("marketUnit")?.as_deref() {
                None => side == Side::Buy,
                Some("quoteCoin") => true,
                Some("baseCoin") => false,
                Some(_) => return Err(invalid_value(cat, "marketUnit")),
            };
        let qty = if quote_sized {
            qty_for_quote(&ctx.market, idx, &inst, side, &qty_text)?
        } else {
            parse_qty(&inst, cat, &qty_text)?
        };
        let client_order_id = link.unwrap_or_else(|| format!("{AUTO_LINK_PREFIX}{}", self.next_serial()));
        let request =
            ClientOrderRequest { client_order_id: Some(client_order_id.clone()), side, order_type, tif, price, qty };
        let ack = |venue_order_id: u64| {
            Reply::ok(
                Obj::new()
                    .s("orderId", &order_id_text(cat, venue_order_id))
                    .s("orderLinkId", link_id_text(&client_order_id))
                    .done(),
            )
        };
        match ctx.market.submit(caller.account, idx, request.clone()) {
            Ok(outcome) => Ok(ack(outcome.order.venue_order_id)),
            // Acknowledged, then closed by the matching engine: a spot post-only order that
            // would take shows `Rejected` (observed live on spot), a linear one `Cancelled`
            // (observed live on linear, and the create-order page: "it will be cancelled").
            Err(OrderReject::Reason(RejectReason::WouldTakeLiquidity)) => {
                let status = if cat == Category::Spot { "Rejected" } else { "Cancelled" };
                let id =
                    self.record_refused(ctx, caller.account, idx, &request, "EC_PostOnlyWillTakeLiquidity", status);
                Ok(ack(id))
            }
            Err(OrderReject::Reason(RejectReason::FokUnfillable)) => {
                let id = self.record_refused(ctx, caller.account, idx, &request, "EC_CancelForNoFullFill", "Cancelled");
                Ok(ack(id))
            }
            Err(e) => Err(reject_error(cat, &inst, qty, &e)),
        }
    }

    /// Records an acknowledged order the engine refused, and tells the account's private
    /// streams. Returns its venue order id.
    fn record_refused(
        &self,
        ctx: &Ctx,
        account: AccountId,
        idx: usize,
        req: &ClientOrderRequest,
        reason: &'static str,
        status: &'static str,
    ) -> u64 {
        let id = SYNTHETIC_ID_BASE + self.next_serial();
        let now = Nanos(ctx.market.now_ms().saturating_mul(1_000_000));
        let view = OrderView {
            symbol: idx,
            venue_order_id: id,
            client_order_id: req.client_order_id.clone().unwrap_or_default(),
            side: req.side,
            order_type: req.order_type,
            tif: req.tif,
            price: req.price.unwrap_or(Price::ZERO),
            qty: req.qty,
            cum_qty: Qty::ZERO,
            cum_quote: Notional::ZERO,
            status: if status == "Rejected" { OrderStatus::Rejected } else { OrderStatus::Canceled },
            created: now,
            updated: now,
        };
        let rec = OrderRecord { view, reject_reason: reason, status_override: Some(status) };
        let mut st = self.lock();
        let ledger = st.ledgers.entry(account).or_default();
        ledger.close(ctx.market.instruments(), rec.clone());
        let rec = Arc::new(rec);
        st.listeners.retain(|(a, tx)| *a != account || tx.send(rec.clone()).is_ok());
        id
    }

    /// `POST /v5/order/cancel` (`order/cancel-order.mdx`): `orderId` wins over `orderLinkId`.
    fn cancel_order(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let symbol = p.get("symbol")?.ok_or_else(|| missing("symbol"))?;
        let (idx, _) = symbol_of(&ctx.market, cat, &symbol)?;
        let r = match (p.get("orderId")?, p.get("orderLinkId")?) {
            (Some(id), _) => OrderRef::Venue(parse_order_id(cat, &id).ok_or_else(|| order_not_found(cat))?),
            (None, Some(link)) => OrderRef::Client(link),
            (None, None) => return Err(missing("orderId or orderLinkId")),
        };
        let view = ctx.market.cancel(caller.account, idx, &r).map_err(|_| order_not_found(cat))?;
        Ok(Reply::ok(
            Obj::new()
                .s("orderId", &order_id_text(cat, view.venue_order_id))
                .s("orderLinkId", link_id_text(&view.client_order_id))
                .done(),
        ))
    }

    /// `POST /v5/order/cancel-all` (`order/cancel-all.mdx`): spot may name nothing (all spot
    /// orders); linear needs `symbol`, `baseCoin` or `settleCoin`. The result carries `list` and
    /// `success` (current page; older revisions gave spot only `success`).
    fn cancel_all(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let scope = scope_symbols(&ctx.market, cat, p, true)?;
        let only_orders = p.get("orderFilter")?.is_none_or(|f| f == "Order");
        let mut list = Vec::new();
        if only_orders {
            for idx in scope {
                for view in ctx.market.cancel_all(caller.account, Some(idx)) {
                    list.push(
                        Obj::new()
                            .s("orderId", &order_id_text(cat, view.venue_order_id))
                            .s("orderLinkId", link_id_text(&view.client_order_id))
                            .done(),
                    );
                }
            }
        }
        Ok(Reply::ok(Obj::new().raw("list", &json_array(list)).s("success", "1").done()))
    }

    /// `GET /v5/order/realtime` (`order/open-order.mdx`): open orders (`openOnly=0`, default),
    /// recent closed ones (`openOnly=1`, up to 500 per category), or one order by `orderId` /
    /// `orderLinkId` whatever its state; newest first; `limit` [1, 50], default 20; the cursor is
    /// an offset.
    fn realtime(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let order_id = p.get("orderId")?;
        let link = p.get("orderLinkId")?;
        let scope = scope_symbols(&ctx.market, cat, p, order_id.is_none() && link.is_none())?;
        let open_only = p.int("openOnly")?.unwrap_or(0);
        let limit = p.int("limit")?.unwrap_or(20);
        if !(1..=50).contains(&limit) {
            return Err(param_error("limit invalid"));
        }
        let offset: usize = match p.get("cursor")? {
            None => 0,
            Some(c) => c.parse().map_err(|_| param_error("cursor invalid"))?,
        };
        let account = caller.account;
        let mut records: Vec<OrderRecord> = Vec::new();
        if order_id.is_some() || link.is_some() {
            let wanted = |r: &OrderRecord| match (&order_id, &link) {
                (Some(id), _) => parse_order_id(cat, id) == Some(r.view.venue_order_id),
                (None, Some(l)) => r.view.client_order_id == *l,
                (None, None) => false,
            };
            let r = match (&order_id, &link) {
                (Some(id), _) => parse_order_id(cat, id).map(OrderRef::Venue),
                (None, Some(l)) => Some(OrderRef::Client(l.clone())),
                (None, None) => None,
            };
            if let Some(r) = r {
                records.extend(
                    scope.iter().filter_map(|idx| ctx.market.order(account, *idx, &r)).map(OrderRecord::plain).take(1),
                );
            }
            if records.is_empty() {
                records.extend(self.with_ledger(ctx, account, |l| {
                    l.closed
                        .iter()
                        .rev()
                        .filter(|r| scope.contains(&r.view.symbol) && wanted(r))
                        .take(1)
                        .cloned()
                        .collect::<Vec<_>>()
                }));
            }
        } else if open_only == 0 {
            records.extend(
                ctx.market
                    .open_orders(account, None)
                    .into_iter()
                    .filter(|o| scope.contains(&o.symbol))
                    .map(OrderRecord::plain),
            );
        } else {
            records.extend(self.with_ledger(ctx, account, |l| {
                l.closed.iter().filter(|r| scope.contains(&r.view.symbol)).cloned().collect::<Vec<_>>()
            }));
        }
        records.sort_by_key(|r| std::cmp::Reverse((r.view.created, r.view.venue_order_id)));
        let total = records.len();
        let page: Vec<OrderRecord> = records.into_iter().skip(offset).take(limit as usize).collect();
        let next = if offset + page.len() < total { (offset + page.len()).to_string() } else { String::new() };
        let instruments = ctx.market.instruments();
        let list: Vec<String> = self.with_ledger(ctx, account, |l| {
            page.iter()
                .filter_map(|r| {
                    let inst = instruments.get(r.view.symbol)?;
                    let fee = l.fee(r.view.symbol, r.view.venue_order_id, None);
                    Some(rest_order_json(inst, cat, r, fee))
                })
                .collect()
        });
        Ok(Reply::ok(
            Obj::new().raw("list", &json_array(list)).s("nextPageCursor", &next).s("category", cat.name()).done(),
        ))
    }

    /// The account's ledger, created (and subscribed) on first use.
    fn ensure_ledger(&self, ctx: &Ctx, account: AccountId) {
        let mut st = self.lock();
        let ledger = st.ledgers.entry(account).or_default();
        if ledger.events.is_none() {
            ledger.events = ctx.market.subscribe_account(account);
        }
    }

    /// Runs `f` on the account's ledger after taking in every event published so far.
    fn with_ledger<R>(&self, ctx: &Ctx, account: AccountId, f: impl FnOnce(&mut AccountLedger) -> R) -> R {
        let mut st = self.lock();
        let ledger = st.ledgers.entry(account).or_default();
        ledger.drain(&ctx.market, account);
        f(ledger)
    }

    /// A channel of the acknowledged-then-refused orders of `account`, for its private streams.
    fn listen_refused(&self, account: AccountId) -> Receiver<Arc<OrderRecord>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.lock().listeners.push((account, tx));
        rx
    }
}

/// The symbols a cancel-all or order query covers: `symbol`, else `baseCoin` / `settleCoin`
/// (linear needs one of them when `required`), else every symbol of the category.
fn scope_symbols(market: &Market, cat: Category, p: &Params, required: bool) -> Result<Vec<usize>, ApiError> {
    if let Some(symbol) = p.get("symbol")? {
        return Ok(vec![symbol_of(market, cat, &symbol)?.0]);
    }
    let base = p.get("baseCoin")?;
    let settle = p.get("settleCoin")?;
    if cat == Category::Linear && required && base.is_none() && settle.is_none() {
        return Err(missing("symbol or settleCoin or baseCoin"));
    }
    Ok(market
        .instruments()
        .iter()
        .enumerate()
        .filter(|(_, i)| Category::of(i.kind()) == Some(cat))
        .filter(|(_, i)| base.as_deref().is_none_or(|b| b == i.base()))
        .filter(|(_, i)| settle.as_deref().is_none_or(|s| s == i.quote()))
        .map(|(idx, _)| idx)
        .collect())
}

/// `GET /v5/account/wallet-balance?accountType=UNIFIED[&coin=A,B]` (`account/wallet-balance.mdx`):
/// one unified account; coins with a zero balance only when asked for by name. USD values use
/// the coin's `…USDT` spot best bid (stablecoins count one for one; others without a market 0).
fn wallet_balance(ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
    match p.get("accountType")?.as_deref() {
        Some("UNIFIED") => {}
        Some(_) => return Err(param_error("accountType only support UNIFIED")),
        None => return Err(missing("accountType")),
    }
    let wanted: Option<Vec<String>> = p.get("coin")?.map(|c| c.split(',').map(|s| s.trim().to_owned()).collect());
    let balances: Vec<BalanceView> = ctx
        .market
        .balances(caller.account)
        .into_iter()
        .filter(|b| match &wanted {
            Some(w) => w.contains(&b.asset),
            None => !(b.free.is_zero() && b.locked.is_zero()),
        })
        .collect();
    let mut total = Notional::ZERO;
    let mut coins = Vec::new();
    for b in &balances {
        let wallet = b.free.checked_add(b.locked).unwrap_or(b.free);
        let usd = usd_value(&ctx.market, &b.asset, wallet);
        total = total.checked_add(usd).unwrap_or(total);
        let w = value_text(wallet);
        coins.push(
            Obj::new()
                .s("coin", &b.asset)
                .s("equity", &w)
                .s("usdValue", usd.display_rounded(8).as_str())
                .s("walletBalance", &w)
                .s("locked", &value_text(b.locked))
                .s("borrowAmount", "0")
                .s("availableToBorrow", "")
                .s("availableToWithdraw", &value_text(b.free))
                .s("accruedInterest", "0")
                .s("totalOrderIM", "0")
                .s("totalPositionIM", "0")
                .s("totalPositionMM", "0")
                .s("unrealisedPnl", "0")
                .s("cumRealisedPnl", "0")
                .done(),
        );
    }
    let total = total.display_rounded(8);
    let account = Obj::new()
        .s("accountType", "UNIFIED")
        .s("accountIMRate", "0")
        .s("accountMMRate", "0")
        .s("totalEquity", total.as_str())
        .s("totalWalletBalance", total.as_str())
        .s("totalMarginBalance", total.as_str())
        .s("totalAvailableBalance", total.as_str())
        .s("totalPerpUPL", "0")
        .s("totalInitialMargin", "0")
        .s("totalMaintenanceMargin", "0")
        .raw("coin", &json_array(coins))
        .done();
    Ok(Reply::ok(Obj::new().raw("list", &json_array([account])).done()))
}

fn usd_value(market: &Market, asset: &str, amount: Notional) -> Notional {
    if matches!(asset, "USDT" | "USDC" | "USD") {
        return amount;
    }
    let symbol = format!("{asset}USDT");
    let Some(idx) = market.symbol_index(&symbol) else { return Notional::ZERO };
    let Some(inst) = market.instruments().get(idx) else { return Notional::ZERO };
    let Some((bid, _)) = market.snapshot(idx, 1).and_then(|s| s.bids.first().copied()) else { return Notional::ZERO };
    amount
        .units()
        .checked_mul(i128::from(bid.units()))
        .map(|v| Notional::from_units(v / 10i128.pow(u32::from(inst.price_scale()))))
        .unwrap_or(Notional::ZERO)
}

// ---------------------------------------------------------------------------------------------
// The venue's own bookkeeping: order ledgers, rate-limit windows, listeners
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct VenueState {
    ledgers: HashMap<AccountId, AccountLedger>,
    limiter: HashMap<(AccountId, Route, Option<Category>), VecDeque<i64>>,
    listeners: Vec<(AccountId, Sender<Arc<OrderRecord>>)>,
}

/// An order as Bybit reports it: the market's view plus what only Bybit says.
#[derive(Debug, Clone)]
struct OrderRecord {
    view: OrderView,
    /// `rejectReason` (`EC_NoError` for ordinary orders).
    reject_reason: &'static str,
    /// `orderStatus` of an acknowledged-then-refused order.
    status_override: Option<&'static str>,
}

impl OrderRecord {
    fn plain(view: OrderView) -> Self {
        Self { view, reject_reason: "EC_NoError", status_override: None }
    }
}

/// What one account's REST answers need beyond the market's state: fees per order (the
/// market's order view has none) and recently closed orders, from the account's events.
#[derive(Debug, Default)]
struct AccountLedger {
    events: Option<Receiver<Arc<AccountEvent>>>,
    /// `(trade id, fee)` per `(symbol, venue order id)`.
    fills: HashMap<(usize, u64), Vec<(u64, Notional)>>,
    /// Closed orders, oldest first, at most [`CLOSED_ORDERS_KEPT`] per category.
    closed: VecDeque<OrderRecord>,
}

fn is_closed(s: OrderStatus) -> bool {
    matches!(s, OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected)
}

impl AccountLedger {
    fn drain(&mut self, market: &Market, account: AccountId) {
        let mut events = Vec::new();
        let mut lost = false;
        if let Some(rx) = &self.events {
            loop {
                match rx.try_recv() {
                    Ok(ev) => events.push(ev),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        lost = true;
                        break;
                    }
                }
            }
        }
        for ev in events {
            self.apply(market.instruments(), &ev);
        }
        if lost || self.events.is_none() {
            // Dropped by the market after falling a whole backlog behind: listen again.
            self.events = market.subscribe_account(account);
        }
    }

    fn apply(&mut self, instruments: &[Instrument], ev: &AccountEvent) {
        let AccountEvent::Order { exec, order } = ev else { return };
        if let ExecKind::Trade(fill) = exec {
            self.fills.entry((order.symbol, order.venue_order_id)).or_default().push((fill.trade_id, fill.fee));
        }
        if is_closed(order.status) {
            self.close(instruments, OrderRecord::plain(order.clone()));
        }
    }

    fn close(&mut self, instruments: &[Instrument], rec: OrderRecord) {
        let key = (rec.view.symbol, rec.view.venue_order_id);
        if let Some(existing) = self.closed.iter_mut().find(|r| (r.view.symbol, r.view.venue_order_id) == key) {
            *existing = rec;
            return;
        }
        let cat_of = |r: &OrderRecord| instruments.get(r.view.symbol).and_then(|i| Category::of(i.kind()));
        let cat = cat_of(&rec);
        self.closed.push_back(rec);
        if self.closed.iter().filter(|r| cat_of(r) == cat).count() > CLOSED_ORDERS_KEPT
            && let Some(pos) = self.closed.iter().position(|r| cat_of(r) == cat)
            && let Some(old) = self.closed.remove(pos)
        {
            self.fills.remove(&(old.view.symbol, old.view.venue_order_id));
        }
    }

    /// Fees of an order's fills, all of them or those up to trade id `upto`.
    fn fee(&self, symbol: usize, venue_order_id: u64, upto: Option<u64>) -> Notional {
        self.fills.get(&(symbol, venue_order_id)).map_or(Notional::ZERO, |fills| {
            fills
                .iter()
                .filter(|(t, _)| upto.is_none_or(|u| *t <= u))
                .fold(Notional::ZERO, |acc, (_, f)| acc.checked_add(*f).unwrap_or(acc))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Order, execution and ticker documents
// ---------------------------------------------------------------------------------------------

/// `orderStatus` (`enum#orderstatus`): `PartiallyFilledCanceled` is spot only; derivatives use
/// `Cancelled` whether or not something filled.
fn status_text(rec: &OrderRecord, cat: Category) -> &'static str {
    if let Some(s) = rec.status_override {
        return s;
    }
    match rec.view.status {
        OrderStatus::New => "New",
        OrderStatus::PartiallyFilled => "PartiallyFilled",
        OrderStatus::Filled => "Filled",
        OrderStatus::Canceled | OrderStatus::Expired if cat == Category::Spot && rec.view.cum_qty.is_positive() => {
            "PartiallyFilledCanceled"
        }
        OrderStatus::Canceled | OrderStatus::Expired => "Cancelled",
        OrderStatus::Rejected => "Rejected",
    }
}

/// `cancelType`: `CancelByUser` for a cancel request, `UNKNOWN` otherwise (IOC remainders,
/// engine refusals).
fn cancel_type_text(rec: &OrderRecord) -> &'static str {
    match (rec.status_override, rec.view.status) {
        (None, OrderStatus::Canceled) => "CancelByUser",
        _ => "UNKNOWN",
    }
}

fn is_open(s: OrderStatus) -> bool {
    matches!(s, OrderStatus::New | OrderStatus::PartiallyFilled)
}

/// The numbers of an order as Bybit writes them.
#[derive(Debug)]
struct OrderNumbers {
    price: String,
    qty: String,
    avg_price: String,
    leaves_qty: String,
    leaves_value: String,
    cum_qty: String,
    cum_value: String,
    cum_fee: String,
    fee_detail: String,
    created: String,
    updated: String,
}

fn order_numbers(inst: &Instrument, cat: Category, rec: &OrderRecord, fee: Notional) -> OrderNumbers {
    let v = &rec.view;
    let market = v.order_type == OrderType::Market;
    let leaves = if is_open(v.status) { v.qty.checked_sub(v.cum_qty).unwrap_or(Qty::ZERO) } else { Qty::ZERO };
    let leaves_value = if market || leaves.is_zero() {
        Notional::ZERO
    } else {
        inst.notional(v.price, leaves, Rounding::Nearest).unwrap_or(Notional::ZERO)
    };
    let avg_price = if v.cum_qty.is_positive() {
        average_price(inst, v.cum_quote, v.cum_qty)
    } else if cat == Category::Spot {
        String::new()
    } else {
        "0".into()
    };
    OrderNumbers {
        price: if market { "0".into() } else { price_text(inst, cat, v.price) },
        qty: qty_text(inst, cat, v.qty),
        avg_price,
        leaves_qty: qty_text(inst, cat, leaves),
        leaves_value: value_text(leaves_value),
        cum_qty: qty_text(inst, cat, v.cum_qty),
        cum_value: value_text(v.cum_quote),
        cum_fee: value_text(fee),
        fee_detail: if fee.is_zero() { "{}".into() } else { Obj::new().s(inst.quote(), &value_text(fee)).done() },
        created: ms(v.created).to_string(),
        updated: ms(v.updated).to_string(),
    }
}

/// `cumExecValue / cumExecQty`, four decimals finer than the tick grid, trimmed.
fn average_price(inst: &Instrument, value: Notional, qty: Qty) -> String {
    let extra: u8 = 4.min(18 - inst.price_scale());
    let Ok(per_unit) = inst.notional(Price::from_units(1), qty, Rounding::Nearest) else { return String::new() };
    if per_unit.units() == 0 {
        return String::new();
    }
    let scaled = value.units().checked_mul(10i128.pow(u32::from(extra)));
    match scaled.and_then(|s| qt_core::money::div_round_i128(s, per_unit.units(), Rounding::Nearest).ok()) {
        Some(units) => format_scaled(units, inst.price_scale() + extra, DecimalStyle::Trimmed).as_str().to_owned(),
        None => String::new(),
    }
}

/// One `data` entry of the private `order` topic: the keys of the docs' stream example
/// (`websocket/private/order.mdx`, `testdata/bybit/order_update.json`) in its order, plus the
/// documented per-category keys `isLeverage` (spot) and `createType` (linear).
fn ws_order_json(inst: &Instrument, cat: Category, rec: &OrderRecord, fee: Notional) -> String {
    let n = order_numbers(inst, cat, rec, fee);
    let v = &rec.view;
    let mut o = Obj::new()
        .s("symbol", inst.symbol())
        .s("orderId", &order_id_text(cat, v.venue_order_id))
        .s("side", side_text(v.side))
        .s("orderType", order_type_text(v.order_type))
        .s("cancelType", cancel_type_text(rec))
        .s("price", &n.price)
        .s("qty", &n.qty)
        .s("orderIv", "")
        .s("timeInForce", tif_text(v.tif))
        .s("orderStatus", status_text(rec, cat))
        .s("orderLinkId", link_id_text(&v.client_order_id))
        .s("lastPriceOnCreated", "")
        .boolean("reduceOnly", false)
        .s("leavesQty", &n.leaves_qty)
        .s("leavesValue", &n.leaves_value)
        .s("cumExecQty", &n.cum_qty)
        .s("cumExecValue", &n.cum_value)
        .s("avgPrice", &n.avg_price)
        .s("blockTradeId", "")
        .int("positionIdx", 0)
        .s("cumExecFee", &n.cum_fee)
        .s("closedPnl", "0")
        .s("createdTime", &n.created)
        .s("updatedTime", &n.updated)
        .s("rejectReason", rec.reject_reason)
        .s("stopOrderType", "")
        .s("tpslMode", "")
        .s("triggerPrice", "")
        .s("takeProfit", "")
        .s("stopLoss", "")
        .s("tpTriggerBy", "")
        .s("slTriggerBy", "")
        .s("tpLimitPrice", "")
        .s("slLimitPrice", "")
        .int("triggerDirection", 0)
        .s("triggerBy", "")
        .boolean("closeOnTrigger", false)
        .s("category", cat.name())
        .s("placeType", "")
        .s("smpType", "None")
        .int("smpGroup", 0)
        .s("smpOrderId", "")
        .s("feeCurrency", "")
        .raw("cumFeeDetail", &n.fee_detail)
        .boolean("rpiTakerAccess", false)
        .s("rpiMatchedQty", "0");
    o = match cat {
        Category::Spot => o.s("isLeverage", "0"),
        Category::Linear => o.s("createType", "CreateByUser"),
    };
    o.done()
}

/// One `list` entry of `GET /v5/order/realtime`: the docs' response example keys in order, plus
/// `marketUnit` and `basePrice` (spot) / `createType` (linear) from its parameter table.
fn rest_order_json(inst: &Instrument, cat: Category, rec: &OrderRecord, fee: Notional) -> String {
    let n = order_numbers(inst, cat, rec, fee);
    let v = &rec.view;
    let mut o = Obj::new()
        .s("orderId", &order_id_text(cat, v.venue_order_id))
        .s("orderLinkId", link_id_text(&v.client_order_id))
        .s("blockTradeId", "")
        .s("symbol", inst.symbol())
        .s("price", &n.price)
        .s("qty", &n.qty)
        .s("side", side_text(v.side))
        .s("isLeverage", if cat == Category::Spot { "0" } else { "" })
        .int("positionIdx", 0)
        .s("orderStatus", status_text(rec, cat))
        .s("cancelType", cancel_type_text(rec))
        .s("rejectReason", rec.reject_reason)
        .s("avgPrice", &n.avg_price)
        .s("leavesQty", &n.leaves_qty)
        .s("leavesValue", &n.leaves_value)
        .s("cumExecQty", &n.cum_qty)
        .s("cumExecValue", &n.cum_value)
        .s("cumExecFee", &n.cum_fee)
        .s("timeInForce", tif_text(v.tif))
        .s("orderType", order_type_text(v.order_type))
        .s("stopOrderType", "")
        .s("orderIv", "")
        .s("triggerPrice", "")
        .s("takeProfit", "")
        .s("stopLoss", "")
        .s("tpTriggerBy", "")
        .s("slTriggerBy", "")
        .int("triggerDirection", 0)
        .s("triggerBy", "")
        .s("lastPriceOnCreated", "")
        .boolean("reduceOnly", false)
        .boolean("closeOnTrigger", false)
        .s("smpType", "None")
        .int("smpGroup", 0)
        .s("smpOrderId", "")
        .s("tpslMode", "")
        .s("tpLimitPrice", "")
        .s("slLimitPrice", "")
        .s("placeType", "")
        .s("createdTime", &n.created)
        .s("updatedTime", &n.updated)
        .raw("cumFeeDetail", &n.fee_detail);
    o = match cat {
        Category::Spot => {
            o.s("marketUnit", if v.order_type == OrderType::Market { "baseCoin" } else { "" }).s("basePrice", "")
        }
        Category::Linear => o.s("createType", "CreateByUser"),
    };
    o.done()
}

/// One `data` entry of the private `execution` topic: the keys of the docs' stream example
/// (`websocket/private/execution.mdx`) in its order.
fn execution_json(inst: &Instrument, cat: Category, order: &OrderView, fill: &FillView) -> String {
    let value = inst.notional(fill.price, fill.qty, Rounding::Nearest).unwrap_or(Notional::ZERO);
    let fee_rate = if value.is_zero() {
        "0".to_string()
    } else {
        fill.fee
            .units()
            .checked_mul(100_000_000)
            .and_then(|n| qt_core::money::div_round_i128(n, value.units(), Rounding::Nearest).ok())
            .map_or_else(|| "0".to_string(), |r| format_scaled(r, 8, DecimalStyle::Trimmed).as_str().to_owned())
    };
    let leaves =
        if is_open(order.status) { order.qty.checked_sub(order.cum_qty).unwrap_or(Qty::ZERO) } else { Qty::ZERO };
    let exec_price = price_text(inst, cat, fill.price);
    Obj::new()
        .s("category", cat.name())
        .s("symbol", inst.symbol())
        .s("execFee", &value_text(fill.fee))
        .s("execId", &trade_id_text(cat, fill.trade_id))
        .s("execPrice", &exec_price)
        .s("execQty", &qty_text(inst, cat, fill.qty))
        .s("execType", "Trade")
        .s("execValue", &value_text(value))
        .boolean("isMaker", fill.is_maker)
        .s("feeRate", &fee_rate)
        .s("tradeIv", "")
        .s("markIv", "")
        .s("blockTradeId", "")
        .s("markPrice", if cat == Category::Linear { &exec_price } else { "" })
        .s("indexPrice", "")
        .s("underlyingPrice", "")
        .s("leavesQty", &qty_text(inst, cat, leaves))
        .s("orderId", &order_id_text(cat, order.venue_order_id))
        .s("orderLinkId", link_id_text(&order.client_order_id))
        .s(
            "orderPrice",
            &if order.order_type == OrderType::Market { "0".into() } else { price_text(inst, cat, order.price) },
        )
        .s("orderQty", &qty_text(inst, cat, order.qty))
        .s("orderType", order_type_text(order.order_type))
        .s("stopOrderType", "UNKNOWN")
        .s("side", side_text(order.side))
        .s("execTime", &ms(fill.ts).to_string())
        .s("isLeverage", "0")
        .done()
}

// ---------------------------------------------------------------------------------------------
// WebSocket sessions: shared pieces
// ---------------------------------------------------------------------------------------------

impl BybitV5 {
    /// A connection id shaped like Bybit's (`d8bu1olkndm7crnfs1e0-j6akw` in the recordings).
    fn conn_id(&self) -> String {
        let n = self.next_serial();
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        format!("{:020x}-{:05x}", t & 0xffff_ffff_ffff_ffff_ffff, n & 0xf_ffff)
    }

    /// A message id for private pushes (a UUID-like string in the docs' examples).
    fn message_id(&self) -> String {
        uuid_text(0x5923_240c_6880_abc5, self.next_serial())
    }
}

/// Messages waiting to go out, in order. Stream data (book, trades, tickers, orders,
/// executions) is subject to the malformed/truncated frame faults; control replies are not.
#[derive(Debug, Default)]
struct Outbox {
    queue: VecDeque<(String, bool)>,
}

impl Outbox {
    fn control(&mut self, text: String) {
        self.queue.push_back((text, false));
    }

    fn data(&mut self, text: String) {
        self.queue.push_back((text, true));
    }

    fn flush(&mut self, ws: &mut dyn WsSession, ctx: &Ctx) -> std::io::Result<()> {
        while let Some((text, data)) = self.queue.pop_front() {
            if data && ctx.faults.take_malformed_frame() {
                ws.send_raw_text(b"{\"topic\":\"malformed\",\"data\":[{\"s\":")?;
            } else if data && ctx.faults.take_truncated_frame() {
                let bytes = text.as_bytes();
                ws.send_raw_text(&bytes[..bytes.len() / 2])?;
            } else {
                ws.send_text(&text)?;
            }
        }
        Ok(())
    }
}

/// One turn's client frame: `Ok(Some(text))`, `Ok(None)` (nothing, or a binary frame), or
/// `Err(())` when the client has gone.
fn next_client_text(ws: &mut dyn WsSession) -> Result<Option<String>, ()> {
    match ws.recv(SESSION_TICK) {
        Ok(Some(WsIncoming::Text(t))) => Ok(Some(t)),
        Ok(Some(WsIncoming::Binary(_))) => Ok(Some(String::new())),
        Ok(Some(WsIncoming::Closed)) | Err(_) => Err(()),
        Ok(None) => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Public streams
// ---------------------------------------------------------------------------------------------

/// A subscribed `tickers.{symbol}` topic: the fields it last sent (linear sends differences).
#[derive(Debug)]
struct TickerTopic {
    topic: String,
    sent: Vec<(&'static str, String)>,
    next_due: Instant,
    changed: bool,
}

/// Trade statistics of a symbol since the session started watching it (the simulator keeps no
/// 24-hour history; the `…24h` ticker fields cover this window).
#[derive(Debug, Default)]
struct TradeStats {
    last: Option<i64>,
    prev: Option<i64>,
    high: Option<i64>,
    low: Option<i64>,
    volume: i128,
    turnover: Notional,
    direction: &'static str,
}

/// A session's view of one symbol: the market subscription behind its trades and ticker, and
/// its places in the venue-wide book topics.
#[derive(Debug)]
struct SymbolFeed {
    symbol: usize,
    inst: Instrument,
    rx: Receiver<Arc<BookUpdate>>,
    best_bid: Option<(i64, i64)>,
    best_ask: Option<(i64, i64)>,
    update_id: u64,
    books: Vec<BookCursor>,
    trades: Option<String>,
    ticker: Option<TickerTopic>,
    stats: TradeStats,
}

impl SymbolFeed {
    fn best_bid(&self) -> Option<(i64, i64)> {
        self.best_bid
    }

    fn best_ask(&self) -> Option<(i64, i64)> {
        self.best_ask
    }

    fn last_price(&self) -> i64 {
        self.stats.last.or(self.stats.prev).or(self.best_bid().map(|b| b.0)).unwrap_or(0)
    }

    /// Applies one market update; returns the `publicTrade` message when trades are watched.
    fn apply(&mut self, cat: Category, update: &BookUpdate, ts: i64) -> Option<String> {
        let units = |level: Option<(Price, Qty)>| level.map(|(p, q)| (p.units(), q.units()));
        self.best_bid = units(update.best_bid);
        self.best_ask = units(update.best_ask);
        self.update_id = update.update_id;
        if update.trades.is_empty() {
            if !update.levels.is_empty()
                && let Some(t) = &mut self.ticker
            {
                t.changed = true;
            }
            return None;
        }
        let mut entries = Vec::with_capacity(update.trades.len());
        for tr in &update.trades {
            let p = tr.price.units();
            // `enum#tickdirection`: a rise is PlusTick, a fall MinusTick, an unchanged price
            // keeps the sign of the last change.
            self.stats.direction = match self.stats.last {
                Some(last) if p > last => "PlusTick",
                Some(last) if p < last => "MinusTick",
                Some(_) if matches!(self.stats.direction, "MinusTick" | "ZeroMinusTick") => "ZeroMinusTick",
                Some(_) => "ZeroPlusTick",
                None => "PlusTick",
            };
            self.stats.last = Some(p);
            self.stats.high = Some(self.stats.high.map_or(p, |h| h.max(p)));
            self.stats.low = Some(self.stats.low.map_or(p, |l| l.min(p)));
            self.stats.volume += i128::from(tr.qty.units());
            let value = self.inst.notional(tr.price, tr.qty, Rounding::Nearest).unwrap_or(Notional::ZERO);
            self.stats.turnover = self.stats.turnover.checked_add(value).unwrap_or(self.stats.turnover);
            if self.trades.is_some() {
                entries.push(trade_entry_json(&self.inst, cat, tr, self.stats.direction, update.update_id));
            }
        }
        if let Some(t) = &mut self.ticker {
            t.changed = true;
        }
        let topic = self.trades.as_ref()?;
        let o = Obj::new().s("topic", topic);
        let o = match cat {
            Category::Spot => o.int("ts", ts).s("type", "snapshot"),
            Category::Linear => o.s("type", "snapshot").int("ts", ts),
        };
        Some(o.raw("data", &json_array(entries)).done())
    }

    /// The ticker fields now, in the docs' order (`websocket/public/ticker.mdx`; linear as in
    /// `testdata/bybit/ticker_linear.json`).
    fn ticker_fields(&self, cat: Category, now_ms: i64) -> Vec<(&'static str, String)> {
        let inst = &self.inst;
        let last = self.last_price();
        let prev = self.stats.prev.unwrap_or(last);
        let pct_decimals: u8 = if cat == Category::Spot { 4 } else { 6 };
        let pct = if prev > 0 {
            let scaled = (i128::from(last) - i128::from(prev)) * 10i128.pow(u32::from(pct_decimals));
            qt_core::money::div_round_i128(scaled, i128::from(prev), Rounding::Nearest).unwrap_or(0)
        } else {
            0
        };
        let px = |u: i64| units_price(inst, cat, u);
        let volume = format_scaled(self.stats.volume, inst.qty_scale(), DecimalStyle::Trimmed).as_str().to_owned();
        let turnover = value_text(self.stats.turnover);
        let pct = format_scaled(pct, pct_decimals, DecimalStyle::Trimmed).as_str().to_owned();
        let high = px(self.stats.high.unwrap_or(last).max(last));
        let low = px(self.stats.low.unwrap_or(last).min(last));
        match cat {
            Category::Spot => vec![
                ("symbol", inst.symbol().to_owned()),
                ("lastPrice", px(last)),
                ("highPrice24h", high),
                ("lowPrice24h", low),
                ("prevPrice24h", px(prev)),
                ("volume24h", volume),
                ("turnover24h", turnover),
                ("price24hPcnt", pct),
                ("usdIndexPrice", if matches!(inst.quote(), "USDT" | "USDC") { px(last) } else { String::new() }),
            ],
            Category::Linear => {
                let (bid, bid_qty) = self.best_bid().unwrap_or((0, 0));
                let (ask, ask_qty) = self.best_ask().unwrap_or((0, 0));
                let eight_hours = 8 * 3600 * 1000;
                let next_funding = (now_ms.div_euclid(eight_hours) + 1) * eight_hours;
                vec![
                    ("symbol", inst.symbol().to_owned()),
                    (
                        "tickDirection",
                        if self.stats.direction.is_empty() { "ZeroPlusTick" } else { self.stats.direction }.into(),
                    ),
                    ("price24hPcnt", pct),
                    ("lastPrice", px(last)),
                    ("prevPrice24h", px(prev)),
                    ("highPrice24h", high),
                    ("lowPrice24h", low),
                    ("prevPrice1h", px(prev)),
                    ("markPrice", px(last)),
                    ("indexPrice", px(last)),
                    ("openInterest", "0".into()),
                    ("openInterestValue", "0.00".into()),
                    ("turnover24h", turnover),
                    ("volume24h", volume),
                    ("fundingIntervalHour", "8".into()),
                    ("fundingCap", "0.005".into()),
                    ("nextFundingTime", next_funding.to_string()),
                    ("fundingRate", "0.0001".into()),
                    ("bid1Price", px(bid)),
                    ("bid1Size", units_qty(inst, cat, bid_qty)),
                    ("ask1Price", px(ask)),
                    ("ask1Size", units_qty(inst, cat, ask_qty)),
                    ("preOpenPrice", String::new()),
                    ("preQty", String::new()),
                    ("curPreListingPhase", String::new()),
                ]
            }
        }
    }
}

/// One `publicTrade` entry: spot keys in the recorded spot order, linear keys in the docs'
/// order (`L` is futures only; `RPI` and `seq` are in the current docs and the recordings).
fn trade_entry_json(
    inst: &Instrument,
    cat: Category,
    tr: &crate::market::TradeView,
    direction: &str,
    seq: u64,
) -> String {
    let id = trade_id_text(cat, tr.trade_id);
    let p = price_text(inst, cat, tr.price);
    let v = qty_text(inst, cat, tr.qty);
    match cat {
        Category::Spot => Obj::new()
            .s("i", &id)
            .int("T", ms(tr.ts))
            .s("p", &p)
            .s("v", &v)
            .s("S", side_text(tr.aggressor))
            .uint("seq", seq)
            .s("s", inst.symbol())
            .boolean("BT", false)
            .boolean("RPI", false)
            .done(),
        Category::Linear => Obj::new()
            .int("T", ms(tr.ts))
            .s("s", inst.symbol())
            .s("S", side_text(tr.aggressor))
            .s("v", &v)
            .s("p", &p)
            .s("L", direction)
            .s("i", &id)
            .boolean("BT", false)
            .boolean("RPI", false)
            .uint("seq", seq)
            .done(),
    }
}

fn ticker_message(
    cat: Category,
    topic: &str,
    kind: &str,
    fields: &[(&'static str, String)],
    cs: u64,
    ts: i64,
) -> String {
    let mut data = Obj::new();
    for (k, v) in fields {
        data = data.s(k, v);
    }
    let data = data.done();
    match cat {
        Category::Spot => {
            Obj::new().s("topic", topic).int("ts", ts).s("type", kind).uint("cs", cs).raw("data", &data).done()
        }
        Category::Linear => {
            Obj::new().s("topic", topic).s("type", kind).raw("data", &data).uint("cs", cs).int("ts", ts).done()
        }
    }
}

/// What a public topic names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PublicTopic {
    Book(usize),
    Trades,
    Ticker,
}

/// One `/v5/public/{spot,linear}` session.
#[derive(Debug)]
struct PublicSession<'a> {
    venue: &'a BybitV5,
    ctx: &'a Ctx,
    cat: Category,
    conn_id: String,
    feeds: Vec<SymbolFeed>,
    out: Outbox,
}

impl<'a> PublicSession<'a> {
    fn new(venue: &'a BybitV5, ctx: &'a Ctx, cat: Category, conn_id: String) -> Self {
        Self { venue, ctx, cat, conn_id, feeds: Vec::new(), out: Outbox::default() }
    }

    fn run(mut self, ws: &mut dyn WsSession) {
        let generation = self.ctx.faults.ws_generation();
        let mut last_heard = Instant::now();
        loop {
            if session_over(self.ctx, generation, ws) {
                return;
            }
            match next_client_text(ws) {
                Err(()) => return,
                Ok(Some(text)) => {
                    last_heard = Instant::now();
                    self.on_client(&text);
                }
                Ok(None) => {}
            }
            if !self.pump() {
                // The market dropped our subscription (we fell a whole backlog behind).
                ws.close(false);
                return;
            }
            if !self.ctx.faults.ws_stalled() {
                self.produce(Instant::now());
                if self.out.flush(ws, self.ctx).is_err() {
                    return;
                }
            }
            if self.out.queue.len() > OUTBOX_LIMIT {
                ws.close(false);
                return;
            }
            if last_heard.elapsed() >= self.venue.idle_timeout {
                ws.close(true);
                return;
            }
        }
    }

    /// The reply to `op`, shaped per the Connect page: spot `ret_msg` names the op and
    /// `req_id` appears only when sent; linear `ret_msg` is empty and `req_id` always present.
    fn reply(&self, op: &str, req_id: Option<&str>, success: bool, ret_msg: Option<&str>) -> String {
        let default_msg = match (self.cat, op) {
            (_, "ping") => "pong",
            (Category::Spot, op) => op,
            (Category::Linear, _) => "",
        };
        let mut o = Obj::new()
            .boolean("success", success)
            .s("ret_msg", ret_msg.unwrap_or(default_msg))
            .s("conn_id", &self.conn_id);
        o = match (self.cat, req_id) {
            (Category::Spot, Some(r)) => o.s("req_id", r),
            (Category::Spot, None) => o,
            (Category::Linear, r) => o.s("req_id", r.unwrap_or("")),
        };
        o.s("op", op).done()
    }

    fn on_client(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            let reply = self.reply("", None, false, Some("error:invalid json"));
            self.out.control(reply);
            return;
        };
        let req_id = req_id_of(&v);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("").to_owned();
        match op.as_str() {
            "ping" => {
                let reply = self.reply("ping", req_id.as_deref(), true, None);
                self.out.control(reply);
            }
            "subscribe" => self.subscribe(&v, req_id.as_deref()),
            "unsubscribe" => self.unsubscribe(&v, req_id.as_deref()),
            _ => {
                let reply = self.reply(&op, req_id.as_deref(), false, Some("error:invalid op"));
                self.out.control(reply);
            }
        }
    }

    fn topic_args(v: &Value) -> Option<Vec<String>> {
        let args = v.get("args")?.as_array()?;
        if args.is_empty() {
            return None;
        }
        args.iter().map(|a| a.as_str().map(str::to_owned)).collect()
    }

    /// `topic` → symbol index and kind, or the failure message.
    fn parse_topic(&self, topic: &str) -> Result<(usize, PublicTopic), String> {
        let bad_symbol = || match self.cat {
            Category::Spot => format!("Invalid symbol :[{topic}]"),
            Category::Linear => format!("error:handler not found,topic:{topic}"),
        };
        let parts: Vec<&str> = topic.split('.').collect();
        let (kind, symbol) = match parts.as_slice() {
            ["orderbook", depth, symbol] => match depth.parse::<usize>().ok().filter(|d| push_interval(*d).is_some()) {
                Some(d) => (PublicTopic::Book(d), *symbol),
                None => return Err(bad_symbol()),
            },
            ["publicTrade", symbol] => (PublicTopic::Trades, *symbol),
            ["tickers", symbol] => (PublicTopic::Ticker, *symbol),
            _ => return Err(bad_symbol()),
        };
        let idx = self.ctx.market.symbol_index(symbol).ok_or_else(bad_symbol)?;
        let kind_ok = self.ctx.market.instruments().get(idx).and_then(|i| Category::of(i.kind())) == Some(self.cat);
        if !kind_ok {
            return Err(bad_symbol());
        }
        Ok((idx, kind))
    }

    fn subscribed(&self, idx: usize, kind: PublicTopic) -> bool {
        self.feeds.iter().find(|f| f.symbol == idx).is_some_and(|f| match kind {
            PublicTopic::Book(d) => f.books.iter().any(|b| b.depth == d),
            PublicTopic::Trades => f.trades.is_some(),
            PublicTopic::Ticker => f.ticker.is_some(),
        })
    }

    /// All topics or none: a request naming an unknown or already subscribed topic fails whole.
    fn subscribe(&mut self, v: &Value, req_id: Option<&str>) {
        let Some(args) = Self::topic_args(v) else {
            let reply = self.reply("subscribe", req_id, false, Some("error:args invalid"));
            self.out.control(reply);
            return;
        };
        if self.cat == Category::Spot && args.len() > SPOT_MAX_ARGS {
            let reply = self.reply("subscribe", req_id, false, Some("args size >10"));
            self.out.control(reply);
            return;
        }
        let mut parsed = Vec::with_capacity(args.len());
        for topic in &args {
            let item = self.parse_topic(topic).and_then(|(idx, kind)| {
                let repeated = parsed.iter().any(|(i, k, _)| *i == idx && *k == kind);
                if repeated || self.subscribed(idx, kind) {
                    Err(format!("error:already subscribed,topic:{topic}"))
                } else {
                    Ok((idx, kind, topic.clone()))
                }
            });
            match item {
                Ok(x) => parsed.push(x),
                Err(msg) => {
                    let reply = self.reply("subscribe", req_id, false, Some(&msg));
                    self.out.control(reply);
                    return;
                }
            }
        }
        let reply = self.reply("subscribe", req_id, true, None);
        self.out.control(reply);
        for (idx, kind, topic) in parsed {
            self.add_topic(idx, kind, topic);
        }
    }

    fn unsubscribe(&mut self, v: &Value, req_id: Option<&str>) {
        let Some(args) = Self::topic_args(v) else {
            let reply = self.reply("unsubscribe", req_id, false, Some("error:args invalid"));
            self.out.control(reply);
            return;
        };
        for topic in &args {
            if let Ok((idx, kind)) = self.parse_topic(topic)
                && let Some(feed) = self.feeds.iter_mut().find(|f| f.symbol == idx)
            {
                match kind {
                    PublicTopic::Book(d) => feed.books.retain(|b| b.depth != d),
                    PublicTopic::Trades => feed.trades = None,
                    PublicTopic::Ticker => feed.ticker = None,
                }
            }
        }
        self.feeds.retain(|f| !f.books.is_empty() || f.trades.is_some() || f.ticker.is_some());
        let reply = self.reply("unsubscribe", req_id, true, None);
        self.out.control(reply);
    }

    /// The session's feed of a symbol, subscribing to the market's full book on first use.
    fn feed(&mut self, idx: usize) -> Option<&mut SymbolFeed> {
        if let Some(pos) = self.feeds.iter().position(|f| f.symbol == idx) {
            return self.feeds.get_mut(pos);
        }
        let inst = self.ctx.market.instruments().get(idx)?.clone();
        let (snap, rx) = self.ctx.market.subscribe_book(idx, 1)?;
        let units = |levels: &[(Price, Qty)]| levels.first().map(|(p, q)| (p.units(), q.units()));
        let (best_bid, best_ask) = (units(&snap.bids), units(&snap.asks));
        let prev = best_bid.map(|(p, _)| p);
        self.feeds.push(SymbolFeed {
            symbol: idx,
            inst,
            rx,
            best_bid,
            best_ask,
            update_id: snap.update_id,
            books: Vec::new(),
            trades: None,
            ticker: None,
            stats: TradeStats { prev, ..TradeStats::default() },
        });
        self.feeds.last_mut()
    }

    fn add_topic(&mut self, idx: usize, kind: PublicTopic, topic: String) {
        let cat = self.cat;
        let ts = self.ctx.market.now_ms();
        let now = Instant::now();
        let venue = self.venue;
        let ctx = self.ctx;
        let Some(feed) = self.feed(idx) else { return };
        let message = match kind {
            PublicTopic::Book(depth) => {
                let Some(interval) = venue.book_interval(depth) else { return };
                let (cursor, v) = BookCursor::watch(venue.books.of(idx), depth, interval, topic, ctx, now);
                let m = book_message(cat, (&cursor.topic, depth), "snapshot", &feed.inst, &v, ts);
                feed.books.push(cursor);
                m
            }
            PublicTopic::Trades => {
                feed.trades = Some(topic);
                return;
            }
            PublicTopic::Ticker => {
                let fields = feed.ticker_fields(cat, ts);
                let m = ticker_message(cat, &topic, "snapshot", &fields, feed.update_id, ts);
                feed.ticker =
                    Some(TickerTopic { topic, sent: fields, next_due: now + LINEAR_TICKER_INTERVAL, changed: false });
                m
            }
        };
        self.out.data(message);
    }

    /// Takes in every market update; `false` if a subscription was dropped.
    fn pump(&mut self) -> bool {
        let ts = self.ctx.market.now_ms();
        let cat = self.cat;
        for feed in &mut self.feeds {
            loop {
                match feed.rx.try_recv() {
                    Ok(update) => {
                        if let Some(m) = feed.apply(cat, &update, ts) {
                            self.out.data(m);
                        }
                        // Spot tickers are snapshots pushed in real time.
                        if cat == Category::Spot && !update.trades.is_empty() && feed.ticker.is_some() {
                            let fields = feed.ticker_fields(cat, ts);
                            if let Some(t) = &mut feed.ticker {
                                self.out.data(ticker_message(cat, &t.topic, "snapshot", &fields, feed.update_id, ts));
                                t.sent = fields;
                                t.changed = false;
                            }
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return false,
                }
            }
        }
        true
    }

    /// Pushes what is due: book views at their intervals, level-1 re-sends, linear ticker deltas.
    fn produce(&mut self, now: Instant) {
        let cat = self.cat;
        let ts = self.ctx.market.now_ms();
        for feed in &mut self.feeds {
            for m in feed.produce(cat, ts, self.ctx, now) {
                self.out.data(m);
            }
        }
    }
}

impl SymbolFeed {
    /// This symbol's pushes that are due at `now`: its book topics' views (published
    /// venue-wide, [`books`]), then a linear ticker delta.
    fn produce(&mut self, cat: Category, ts: i64, ctx: &Ctx, now: Instant) -> Vec<String> {
        let feed = self;
        let mut pending = Vec::new();
        for cursor in &mut feed.books {
            let (depth, inst) = (cursor.depth, &feed.inst);
            match cursor.due(ctx, now) {
                Due::Nothing => {}
                Due::Pushes(pushes) => {
                    let kind = if depth == 1 { "snapshot" } else { "delta" };
                    for p in pushes {
                        pending.push(book_message(cat, (&cursor.topic, depth), kind, inst, &p.levels, ts));
                    }
                }
                Due::Snapshot(v) => {
                    pending.push(book_message(cat, (&cursor.topic, depth), "snapshot", inst, &v, ts));
                }
            }
        }
        if cat == Category::Linear && feed.ticker.as_ref().is_some_and(|t| t.changed && now >= t.next_due) {
            let fields = feed.ticker_fields(cat, ts);
            if let Some(t) = &mut feed.ticker {
                let mut delta: Vec<(&'static str, String)> = vec![("symbol", feed.inst.symbol().to_owned())];
                delta.extend(fields.iter().filter(|f| f.0 != "symbol" && !t.sent.contains(f)).cloned());
                if delta.len() > 1 {
                    pending.push(ticker_message(cat, &t.topic, "delta", &delta, feed.update_id, ts));
                }
                t.sent = fields;
                t.changed = false;
                t.next_due = now + LINEAR_TICKER_INTERVAL;
            }
        }
        pending
    }
}

// ---------------------------------------------------------------------------------------------
// Private stream
// ---------------------------------------------------------------------------------------------

/// One `/v5/private` session (`websocket/wss-authentication.mdx`, `websocket/private/*.mdx`).
#[derive(Debug)]
struct PrivateSession<'a> {
    venue: &'a BybitV5,
    ctx: &'a Ctx,
    conn_id: String,
    idle: Duration,
    account: Option<AccountId>,
    events: Option<Receiver<Arc<AccountEvent>>>,
    refused: Option<Receiver<Arc<OrderRecord>>>,
    /// Subscribed categories of `order` and `execution` (`[spot, linear]`).
    orders: [bool; 2],
    executions: [bool; 2],
    out: Outbox,
}

fn cat_slot(cat: Category) -> usize {
    match cat {
        Category::Spot => 0,
        Category::Linear => 1,
    }
}

impl<'a> PrivateSession<'a> {
    fn new(venue: &'a BybitV5, ctx: &'a Ctx, conn_id: String, idle: Duration) -> Self {
        Self {
            venue,
            ctx,
            conn_id,
            idle,
            account: None,
            events: None,
            refused: None,
            orders: [false; 2],
            executions: [false; 2],
            out: Outbox::default(),
        }
    }

    fn run(mut self, ws: &mut dyn WsSession) {
        let generation = self.ctx.faults.ws_generation();
        let mut last_heard = Instant::now();
        loop {
            if session_over(self.ctx, generation, ws) {
                return;
            }
            match next_client_text(ws) {
                Err(()) => return,
                Ok(Some(text)) => {
                    last_heard = Instant::now();
                    self.on_client(&text);
                }
                Ok(None) => {}
            }
            if !self.pump() {
                ws.close(false);
                return;
            }
            if !self.ctx.faults.ws_stalled() && self.out.flush(ws, self.ctx).is_err() {
                return;
            }
            if self.out.queue.len() > OUTBOX_LIMIT {
                ws.close(false);
                return;
            }
            if last_heard.elapsed() >= self.idle {
                ws.close(true);
                return;
            }
        }
    }

    /// `{"req_id"?,"success","ret_msg","op","conn_id"}` (the Connect page's private examples).
    fn reply(&self, op: &str, req_id: Option<&str>, success: bool, ret_msg: &str) -> String {
        let mut o = Obj::new();
        if let Some(r) = req_id {
            o = o.s("req_id", r);
        }
        o.boolean("success", success).s("ret_msg", ret_msg).s("op", op).s("conn_id", &self.conn_id).done()
    }

    fn on_client(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            let reply = self.reply("", None, false, "error:invalid json");
            self.out.control(reply);
            return;
        };
        let req_id = req_id_of(&v);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("").to_owned();
        let reply = match op.as_str() {
            // "Pong message example of private channels".
            "ping" => {
                let mut o = Obj::new();
                if let Some(r) = &req_id {
                    o = o.s("req_id", r);
                }
                o.s("op", "pong")
                    .raw("args", &json_array([json_str(&self.ctx.market.now_ms().to_string())]))
                    .s("conn_id", &self.conn_id)
                    .done()
            }
            "auth" => {
                let (ok, msg) = match self.auth(&v) {
                    Ok(()) => (true, ""),
                    Err(msg) => (false, msg),
                };
                self.reply("auth", req_id.as_deref(), ok, msg)
            }
            "subscribe" | "unsubscribe" => {
                let on = op == "subscribe";
                let (ok, msg) = match self.topics(&v, on) {
                    Ok(()) => (true, String::new()),
                    Err(msg) => (false, msg),
                };
                self.reply(&op, req_id.as_deref(), ok, &msg)
            }
            _ => self.reply(&op, req_id.as_deref(), false, "error:invalid op"),
        };
        self.out.control(reply);
    }

    /// `{"op":"auth","args":[api_key, expires, signature]}`, signature =
    /// `hex(HMAC-SHA256(secret, "GET/realtime" + expires))`, `expires` in the future (ms).
    fn auth(&mut self, v: &Value) -> Result<(), &'static str> {
        let args = v.get("args").and_then(Value::as_array).ok_or("Params Error")?;
        let key = args.first().and_then(Value::as_str).ok_or("Params Error")?;
        let expires = match args.get(1) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => return Err("Params Error"),
        };
        let signature = args.get(2).and_then(Value::as_str).ok_or("Params Error")?;
        let expires_ms: i64 = expires.parse().map_err(|_| "Params Error")?;
        if expires_ms <= self.ctx.market.now_ms() {
            return Err("Params Error");
        }
        let (account, secret) = self.ctx.market.account_by_key(key).ok_or("Request not authorized")?;
        if !signing::verify_hex(&secret, format!("GET/realtime{expires}").as_bytes(), signature) {
            return Err("Request not authorized");
        }
        if self.account != Some(account) {
            self.account = Some(account);
            self.events = self.ctx.market.subscribe_account(account);
            self.refused = Some(self.venue.listen_refused(account));
            self.venue.ensure_ledger(self.ctx, account);
        }
        Ok(())
    }

    /// `order`, `order.spot`, `order.linear`, `execution`, `execution.spot`,
    /// `execution.linear` (`websocket/private/order.mdx`, `execution.mdx`).
    fn topics(&mut self, v: &Value, on: bool) -> Result<(), String> {
        if self.account.is_none() {
            return Err("Request not authorized".into());
        }
        let args = v.get("args").and_then(Value::as_array).filter(|a| !a.is_empty()).ok_or("error:args invalid")?;
        let mut changes = Vec::new();
        for a in args {
            let topic = a.as_str().ok_or("error:args invalid")?;
            let (name, cats): (&str, &[Category]) = match topic.split_once('.') {
                None => (topic, &[Category::Spot, Category::Linear]),
                Some((name, "spot")) => (name, &[Category::Spot]),
                Some((name, "linear")) => (name, &[Category::Linear]),
                Some(_) => return Err(format!("error:invalid topic:[{topic}]")),
            };
            if !matches!(name, "order" | "execution") {
                return Err(format!("error:invalid topic:[{topic}]"));
            }
            changes.push((name == "order", cats));
        }
        for (orders, cats) in changes {
            for c in cats {
                let slot = cat_slot(*c);
                if orders {
                    self.orders[slot] = on;
                } else {
                    self.executions[slot] = on;
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, topic: &str, entries: Vec<String>) {
        let m = Obj::new()
            .s("id", &self.venue.message_id())
            .s("topic", topic)
            .int("creationTime", self.ctx.market.now_ms())
            .raw("data", &json_array(entries))
            .done();
        self.out.data(m);
    }

    /// Takes in account events and refused orders; `false` if the market dropped us.
    fn pump(&mut self) -> bool {
        let Some(account) = self.account else { return true };
        let mut events = Vec::new();
        if let Some(rx) = &self.events {
            loop {
                match rx.try_recv() {
                    Ok(ev) => events.push(ev),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return false,
                }
            }
        }
        let refused: Vec<Arc<OrderRecord>> =
            self.refused.as_ref().map(|rx| rx.try_iter().collect()).unwrap_or_default();
        let instruments = self.ctx.market.instruments();
        for ev in events {
            let AccountEvent::Order { exec, order } = ev.as_ref() else { continue };
            let Some(inst) = instruments.get(order.symbol) else { continue };
            let Some(cat) = Category::of(inst.kind()) else { continue };
            let slot = cat_slot(cat);
            // An execution goes out before the order state it produced.
            let upto = match exec {
                ExecKind::Trade(fill) => {
                    if self.executions[slot] {
                        self.push("execution", vec![execution_json(inst, cat, order, fill)]);
                    }
                    Some(fill.trade_id)
                }
                _ => None,
            };
            if self.orders[slot] {
                let fee =
                    self.venue.with_ledger(self.ctx, account, |l| l.fee(order.symbol, order.venue_order_id, upto));
                let rec = OrderRecord::plain(order.clone());
                self.push("order", vec![ws_order_json(inst, cat, &rec, fee)]);
            }
        }
        for rec in refused {
            let Some(inst) = instruments.get(rec.view.symbol) else { continue };
            let Some(cat) = Category::of(inst.kind()) else { continue };
            if self.orders[cat_slot(cat)] {
                self.push("order", vec![ws_order_json(inst, cat, &rec, Notional::ZERO)]);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::flow::FlowParams;
    use crate::exchange::matching::FeeSchedule;
    use crate::faults::Faults;
    use crate::market::{AccountConfig, MarketConfig, SymbolConfig};
    use qt_core::{InstrumentId, InstrumentSpec, Rate, Venue};
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::AtomicBool;

    const KEY: &str = "key-a";
    const SECRET: &str = "secret-a";
    const KEY_B: &str = "key-b";
    const SECRET_B: &str = "secret-b";

    fn sample(name: &str) -> String {
        let path = format!("{}/../testdata/bybit/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn sample_json(name: &str) -> Value {
        serde_json::from_str(&sample(name)).unwrap()
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// BTCUSDT spot (tick 0.01, lot 0.00001), ETHUSDT spot whose tick (0.05) and lot (0.0005)
    /// are coarser than the decimals it parses (so off-grid values reach the engine's filters),
    /// SOLUSDT linear perpetual; two accounts.
    fn market(events_per_sec: f64) -> Arc<Market> {
        let spec = |symbol: &str, base: &str, kind, tick: &str, lot: &str, min_qty: &str, price_scale, qty_scale| {
            InstrumentSpec {
                venue: Venue::Bybit,
                symbol: symbol.into(),
                base: base.into(),
                quote: "USDT".into(),
                kind,
                tick_size: tick.into(),
                lot_size: lot.into(),
                min_qty: Some(min_qty.into()),
                min_notional: Some("5".into()),
                multiplier: None,
                price_scale,
                qty_scale,
            }
        };
        let specs = [
            (spec("BTCUSDT", "BTC", InstrumentKind::Spot, "0.01", "0.00001", "0.00001", None, None), "65000"),
            (spec("ETHUSDT", "ETH", InstrumentKind::Spot, "0.05", "0.0005", "0.001", None, Some(4)), "3200"),
            (spec("SOLUSDT", "SOL", InstrumentKind::LinearPerpetual, "0.001", "0.1", "0.1", None, None), "150"),
        ];
        let symbols = specs
            .iter()
            .enumerate()
            .map(|(i, (s, mid))| {
                let instrument = Instrument::from_spec(InstrumentId(i as u32), s).unwrap();
                let start_mid = instrument.parse_price(mid).unwrap();
                let flow = FlowParams {
                    events_per_sec,
                    start_mid: Some(start_mid),
                    size_median_lots: 20.0,
                    seed_levels: 60,
                    ..FlowParams::default()
                };
                SymbolConfig { instrument, flow }
            })
            .collect();
        let account = |key: &str, secret: &str| AccountConfig {
            api_key: key.into(),
            secret: secret.into(),
            balances: vec![
                ("USDT".into(), "1000000".into()),
                ("BTC".into(), "10".into()),
                ("ETH".into(), "100".into()),
            ],
        };
        Market::new(MarketConfig {
            symbols,
            fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
            accounts: vec![account(KEY, SECRET), account(KEY_B, SECRET_B)],
            seed: 11,
        })
        .unwrap()
    }

    fn ctx_of(market: Arc<Market>) -> Ctx {
        Ctx { market, faults: Faults::new(), stop: Arc::new(AtomicBool::new(false)) }
    }

    fn request(method: &str, path: &str, query: &str, headers: Vec<(String, String)>, body: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers,
            body: body.as_bytes().to_vec(),
            peer: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    fn auth_headers(key: &str, secret: &str, ts: i64, payload: &str) -> Vec<(String, String)> {
        let ts = ts.to_string();
        let sign = signing::hmac_sha256_hex(secret, string_to_sign(&ts, key, "5000", payload).as_bytes());
        vec![
            ("x-bapi-api-key".into(), key.into()),
            ("x-bapi-timestamp".into(), ts),
            ("x-bapi-recv-window".into(), "5000".into()),
            ("x-bapi-sign".into(), sign),
            ("content-type".into(), "application/json".into()),
        ]
    }

    fn call(v: &BybitV5, ctx: &Ctx, req: &HttpRequest) -> (u16, Value) {
        let resp = v.handle_http(ctx, req);
        let body: Value = serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("{e}: {:?}", resp.body));
        (resp.status, body)
    }

    fn post_as(v: &BybitV5, ctx: &Ctx, key: &str, secret: &str, path: &str, body: &str) -> Value {
        let req = request("POST", path, "", auth_headers(key, secret, ctx.market.now_ms(), body), body);
        call(v, ctx, &req).1
    }

    fn post(v: &BybitV5, ctx: &Ctx, path: &str, body: &str) -> Value {
        post_as(v, ctx, KEY, SECRET, path, body)
    }

    fn get_signed(v: &BybitV5, ctx: &Ctx, path: &str, query: &str) -> Value {
        let req = request("GET", path, query, auth_headers(KEY, SECRET, ctx.market.now_ms(), query), "");
        call(v, ctx, &req).1
    }

    fn get_public(v: &BybitV5, ctx: &Ctx, path: &str, query: &str) -> Value {
        call(v, ctx, &request("GET", path, query, Vec::new(), "")).1
    }

    fn code(v: &Value) -> i64 {
        v["retCode"].as_i64().unwrap_or(-1)
    }

    fn best(ctx: &Ctx, symbol: usize) -> (Price, Price) {
        let s = ctx.market.snapshot(symbol, 1).unwrap();
        (s.bids[0].0, s.asks[0].0)
    }

    fn px(ctx: &Ctx, symbol: usize, p: Price) -> String {
        ctx.market.instruments()[symbol].price_text(p).as_str().to_owned()
    }

    #[test]
    fn string_to_sign_matches_the_documented_examples() {
        // The docs publish the strings, not the secret: the construction is what can be checked.
        let text = sample("sign_example.txt");
        let mut checked = 0;
        let mut sections: Vec<String> = Vec::new();
        for line in text.lines() {
            if line == "[get]" || line == "[post]" {
                sections.push(String::new());
            } else if let Some(s) = sections.last_mut() {
                s.push_str(line);
                s.push('\n');
            }
        }
        for section in &sections {
            let field = |name: &str| {
                section
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}=")))
                    .map(|v| v.split("   ").next().unwrap_or(v).to_owned())
            };
            let payload = field("queryString").or_else(|| field("jsonBodyString")).unwrap();
            let built = string_to_sign(
                &field("timestamp").unwrap(),
                &field("api_key").unwrap(),
                &field("recv_window").unwrap(),
                &payload,
            );
            assert_eq!(built, field("string_to_sign").unwrap());
            checked += 1;
        }
        assert_eq!(checked, 2, "the GET and the POST example");
    }

    #[test]
    fn signed_order_is_placed_listed_and_cancelled() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let (bid, _) = best(&ctx, 0);
        let price = px(&ctx, 0, Price::from_units(bid.units() - 500));
        let body = format!(
            r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"{price}","timeInForce":"GTC","orderLinkId":"my-order-1"}}"#
        );
        let r = post(&v, &ctx, "/v5/order/create", &body);
        assert_eq!(code(&r), 0, "{r}");
        assert_eq!(r["retMsg"], "OK");
        assert_eq!(keys(&r), set(&["retCode", "retMsg", "result", "retExtInfo", "time"]));
        let order_id = r["result"]["orderId"].as_str().unwrap().to_owned();
        assert!(order_id.parse::<u64>().is_ok(), "spot order ids are decimal: {order_id}");
        assert_eq!(r["result"]["orderLinkId"], "my-order-1");

        let open = get_signed(&v, &ctx, "/v5/order/realtime", "category=spot&symbol=BTCUSDT");
        assert_eq!(code(&open), 0, "{open}");
        let list = open["result"]["list"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["orderId"], order_id.as_str());
        assert_eq!(list[0]["orderStatus"], "New");
        assert_eq!(list[0]["price"], price.trim_end_matches('0').trim_end_matches('.'));
        assert_eq!(list[0]["qty"], "0.01");
        assert_eq!(list[0]["leavesQty"], "0.01");
        assert_eq!(list[0]["cumExecQty"], "0");
        assert_eq!(list[0]["timeInForce"], "GTC");

        let r =
            post(&v, &ctx, "/v5/order/cancel", r#"{"category":"spot","symbol":"BTCUSDT","orderLinkId":"my-order-1"}"#);
        assert_eq!(code(&r), 0, "{r}");
        assert_eq!(r["result"]["orderId"], order_id.as_str());
        let r = post(
            &v,
            &ctx,
            "/v5/order/cancel",
            &format!(r#"{{"category":"spot","symbol":"BTCUSDT","orderId":"{order_id}"}}"#),
        );
        assert_eq!((code(&r), r["retMsg"].as_str().unwrap()), (170213, "Order does not exist."));

        let closed = get_signed(&v, &ctx, "/v5/order/realtime", "category=spot&openOnly=1");
        let list = closed["result"]["list"].as_array().unwrap();
        assert_eq!(list[0]["orderStatus"], "Cancelled");
        assert_eq!(list[0]["cancelType"], "CancelByUser");
        assert!(
            get_signed(&v, &ctx, "/v5/order/realtime", "category=spot")["result"]["list"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn authentication_failures_carry_the_documented_codes() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let body =
            r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1000"}"#;
        let now = ctx.market.now_ms();
        let send =
            |headers: Vec<(String, String)>| call(&v, &ctx, &request("POST", "/v5/order/create", "", headers, body)).1;

        let mut bad_sign = auth_headers(KEY, SECRET, now, body);
        bad_sign[3].1 = signing::hmac_sha256_hex("wrong", b"x");
        let r = send(bad_sign);
        assert_eq!(code(&r), 10004);
        assert!(
            r["retMsg"].as_str().unwrap().starts_with("Error sign, please check your signature generation algorithm")
        );

        let r = send(auth_headers(KEY, SECRET, now - 6000, body));
        assert_eq!(code(&r), 10002);
        assert!(
            r["retMsg"]
                .as_str()
                .unwrap()
                .starts_with("invalid request, please check your server timestamp or recv_window param")
        );
        assert_eq!(code(&send(auth_headers(KEY, SECRET, now + 1500, body))), 10002, "a second ahead is too far");
        assert_eq!(code(&send(auth_headers(KEY, SECRET, now + 500, body))), 0, "within the future tolerance");

        let r = send(auth_headers("nobody", SECRET, now, body));
        assert_eq!((code(&r), r["retMsg"].as_str().unwrap()), (10003, "API key is invalid."));
        assert_eq!(code(&send(Vec::new())), 10003);

        // A signed GET covers the query string as sent; changing it breaks the signature.
        let q = "category=spot&symbol=BTCUSDT";
        let mut h = auth_headers(KEY, SECRET, ctx.market.now_ms(), q);
        assert_eq!(code(&call(&v, &ctx, &request("GET", "/v5/order/realtime", q, h.clone(), "")).1), 0);
        h[3].1 = signing::hmac_sha256_hex(SECRET, b"nope");
        assert_eq!(code(&call(&v, &ctx, &request("GET", "/v5/order/realtime", "category=spot", h, "")).1), 10004);
    }

    #[test]
    fn missing_and_invalid_parameters_are_refused() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let cases = [
            (r#"{"symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"1"}"#, 10001),
            (
                r#"{"category":"inverse","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"1"}"#,
                10001,
            ),
            (r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","price":"1000"}"#, 10001),
            (r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01"}"#, 10001),
            (
                r#"{"category":"spot","symbol":"BTCUSDT","side":"Up","orderType":"Limit","qty":"0.01","price":"1"}"#,
                170117,
            ),
            (
                r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Stop","qty":"0.01","price":"1"}"#,
                170116,
            ),
            (
                r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1","timeInForce":"GTD"}"#,
                170115,
            ),
            (
                r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"abc","price":"1000"}"#,
                170130,
            ),
            (
                r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":0.01,"price":"1000"}"#,
                10001,
            ),
            (
                r#"{"category":"spot","symbol":"NOPEUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1000"}"#,
                170121,
            ),
            (
                r#"{"category":"spot","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"100"}"#,
                170121,
            ),
            (
                r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"100"}"#,
                10001,
            ),
            (
                r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"1000","orderLinkId":"has space"}"#,
                10001,
            ),
            ("not json", 10001),
        ];
        for (body, expected) in cases {
            let r = post(&v, &ctx, "/v5/order/create", body);
            assert_eq!(code(&r), expected, "{body} -> {r}");
            assert_eq!(r["result"], serde_json::json!({}));
        }
        let r = post(&v, &ctx, "/v5/order/cancel", r#"{"category":"spot","symbol":"BTCUSDT"}"#);
        assert_eq!(code(&r), 10001);
        let r = post(&v, &ctx, "/v5/order/cancel-all", r#"{"category":"linear"}"#);
        assert_eq!(code(&r), 10001, "linear cancel-all names a symbol, baseCoin or settleCoin");
        let r = get_public(&v, &ctx, "/v5/market/orderbook", "category=spot");
        assert_eq!(code(&r), 10001);
        let r = get_public(&v, &ctx, "/v5/market/orderbook", "category=linear&symbol=BTCUSDT");
        assert_eq!(code(&r), 10001, "a spot symbol under linear is unknown there");
        let resp = v.handle_http(&ctx, &request("GET", "/v5/nothing", "", Vec::new(), ""));
        assert_eq!(resp.status, 404);
    }

    #[test]
    fn off_grid_prices_and_quantities_get_the_spot_codes() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let (eth_bid, _) = best(&ctx, 1);
        let eth_px = px(&ctx, 1, Price::from_units(eth_bid.units() - 500));
        let order = |symbol: &str, qty: &str, price: &str| {
            let body = format!(
                r#"{{"category":"spot","symbol":"{symbol}","side":"Buy","orderType":"Limit","qty":"{qty}","price":"{price}"}}"#
            );
            let r = post(&v, &ctx, "/v5/order/create", &body);
            (code(&r), r["retMsg"].as_str().unwrap_or("").to_owned())
        };
        // More decimals than the instrument holds: refused while parsing.
        assert_eq!(order("BTCUSDT", "0.01", "60000.001"), (170134, "Order price decimal too long.".into()));
        assert_eq!(order("BTCUSDT", "0.000001", "60000"), (170137, "Order volume decimal too long".into()));
        // On the decimal grid but off the tick / lot: the matching engine's filter answers.
        let off_tick = format!("{}.01", eth_px.split('.').next().unwrap());
        assert_eq!(order("ETHUSDT", "0.01", &off_tick).0, 170134);
        assert_eq!(order("ETHUSDT", "0.0101", &eth_px).0, 170137);
        assert_eq!(order("ETHUSDT", "0.0005", &eth_px), (170136, "Order quantity lower than the minimum.".into()));
        // 0.00001 BTC at 60000 is 0.6 USDT, under the 5 USDT minimum.
        assert_eq!(order("BTCUSDT", "0.00001", "60000"), (170140, "Transaction amount lower than the minimum.".into()));
        assert_eq!(order("BTCUSDT", "1000", "60000"), (170131, "Balance insufficient".into()));
        assert_eq!(order("BTCUSDT", "0", "60000").0, 170130);
        assert_eq!(order("BTCUSDT", "0.01", "-1").0, 170130);
        // Linear refusals are parameter errors (10001).
        let (sol_bid, _) = best(&ctx, 2);
        let sol_px = px(&ctx, 2, Price::from_units(sol_bid.units() - 100));
        let body = format!(
            r#"{{"category":"linear","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"0.15","price":"{sol_px}"}}"#
        );
        assert_eq!(code(&post(&v, &ctx, "/v5/order/create", &body)), 10001);
        let body = format!(
            r#"{{"category":"linear","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"{sol_px}"}}"#
        );
        let r = post(&v, &ctx, "/v5/order/create", &body);
        assert_eq!(code(&r), 0, "{r}");
        let id = r["result"]["orderId"].as_str().unwrap();
        assert_eq!(id.len(), 36, "linear order ids are UUID-shaped: {id}");
        let r = post(
            &v,
            &ctx,
            "/v5/order/cancel",
            &format!(r#"{{"category":"linear","symbol":"SOLUSDT","orderId":"{id}"}}"#),
        );
        assert_eq!(code(&r), 0, "{r}");
    }

    #[test]
    fn post_only_that_would_cross_is_acknowledged_then_refused() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let (_, ask) = best(&ctx, 0);
        let body = format!(
            r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"{}","timeInForce":"PostOnly","orderLinkId":"po-1"}}"#,
            px(&ctx, 0, ask)
        );
        let r = post(&v, &ctx, "/v5/order/create", &body);
        assert_eq!(code(&r), 0, "Bybit acknowledges, then closes the order: {r}");
        let id = r["result"]["orderId"].as_str().unwrap().to_owned();
        let q = format!("category=spot&orderId={id}");
        let got = get_signed(&v, &ctx, "/v5/order/realtime", &q);
        let o = &got["result"]["list"][0];
        assert_eq!(o["orderStatus"], "Rejected", "{got}");
        assert_eq!(o["rejectReason"], "EC_PostOnlyWillTakeLiquidity");
        assert_eq!(o["orderLinkId"], "po-1");
        assert_eq!(o["cumExecQty"], "0");
        // Nothing rests and nothing is locked.
        assert!(ctx.market.open_orders(AccountId(0), None).is_empty());

        let (_, sol_ask) = best(&ctx, 2);
        let body = format!(
            r#"{{"category":"linear","symbol":"SOLUSDT","side":"Buy","orderType":"Limit","qty":"1","price":"{}","timeInForce":"PostOnly"}}"#,
            px(&ctx, 2, sol_ask)
        );
        let r = post(&v, &ctx, "/v5/order/create", &body);
        assert_eq!(code(&r), 0, "{r}");
        assert_eq!(r["result"]["orderLinkId"], "", "no orderLinkId given, none reported");
        let got = get_signed(&v, &ctx, "/v5/order/realtime", "category=linear&symbol=SOLUSDT&openOnly=1");
        let o = &got["result"]["list"][0];
        assert_eq!(o["orderStatus"], "Cancelled");
        assert_eq!(o["rejectReason"], "EC_PostOnlyWillTakeLiquidity");
    }

    #[test]
    fn market_data_endpoints_match_the_documented_shapes() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let doc = sample_json("snapshot_rest.json");
        let r = get_public(&v, &ctx, "/v5/market/orderbook", "category=spot&symbol=BTCUSDT&limit=50");
        assert_eq!(keys(&r), keys(&doc));
        assert_eq!(keys(&r["result"]), keys(&doc["result"]));
        assert_eq!(r["result"]["b"].as_array().unwrap().len(), 50);
        let snap = ctx.market.snapshot(0, 1).unwrap();
        assert_eq!(r["result"]["seq"].as_u64(), Some(snap.update_id), "seq: the market update id of the view");
        assert!(r["result"]["u"].as_u64().is_some_and(|u| u >= 1), "u: the 200-level topic's");
        let bid = &r["result"]["b"][0];
        assert_eq!(ctx.market.instruments()[0].parse_price(bid[0].as_str().unwrap()).unwrap(), snap.bids[0].0);
        assert_eq!(
            get_public(&v, &ctx, "/v5/market/orderbook", "category=spot&symbol=BTCUSDT")["result"]["a"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "spot default limit is 1"
        );
        assert_eq!(
            code(&get_public(&v, &ctx, "/v5/market/orderbook", "category=spot&symbol=BTCUSDT&limit=201")),
            10001
        );

        let spot = get_public(&v, &ctx, "/v5/market/instruments-info", "category=spot&symbol=BTCUSDT");
        let i = &spot["result"]["list"][0];
        assert_eq!(i["priceFilter"]["tickSize"], "0.01");
        assert_eq!(i["lotSizeFilter"]["basePrecision"], "0.00001");
        assert_eq!(i["lotSizeFilter"]["minOrderQty"], "0.00001");
        assert_eq!(i["lotSizeFilter"]["minOrderAmt"], "5");
        let eth = get_public(&v, &ctx, "/v5/market/instruments-info", "category=spot&symbol=ETHUSDT");
        assert_eq!(eth["result"]["list"][0]["priceFilter"]["tickSize"], "0.05");
        assert_eq!(eth["result"]["list"][0]["lotSizeFilter"]["basePrecision"], "0.0005");
        let all = get_public(&v, &ctx, "/v5/market/instruments-info", "category=spot");
        assert_eq!(all["result"]["list"].as_array().unwrap().len(), 2);
        let lin = get_public(&v, &ctx, "/v5/market/instruments-info", "category=linear");
        let i = &lin["result"]["list"][0];
        assert_eq!((i["symbol"].as_str(), i["contractType"].as_str()), (Some("SOLUSDT"), Some("LinearPerpetual")));
        assert_eq!(i["priceFilter"]["tickSize"], "0.001");
        assert_eq!(i["lotSizeFilter"]["qtyStep"], "0.1");
        assert_eq!(i["lotSizeFilter"]["minNotionalValue"], "5");
        assert_eq!(i["priceScale"], "3");
        let none = get_public(&v, &ctx, "/v5/market/instruments-info", "category=linear&symbol=BTCUSDT");
        assert_eq!(none["result"]["list"].as_array().unwrap().len(), 0);

        let t = get_public(&v, &ctx, "/v5/market/time", "");
        let secs: i64 = t["result"]["timeSecond"].as_str().unwrap().parse().unwrap();
        assert!((secs * 1000 - t["time"].as_i64().unwrap()).abs() < 2000);
        assert!(t["result"]["timeNano"].as_str().unwrap().len() >= 19);
    }

    #[test]
    fn rate_limit_answers_10006_with_limit_headers() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let body = r#"{"category":"spot","symbol":"BTCUSDT","orderLinkId":"missing"}"#;
        let mut codes = Vec::new();
        let mut last = None;
        for _ in 0..21 {
            let req =
                request("POST", "/v5/order/cancel", "", auth_headers(KEY, SECRET, ctx.market.now_ms(), body), body);
            let resp = v.handle_http(&ctx, &req);
            let r: Value = serde_json::from_slice(&resp.body).unwrap();
            codes.push(code(&r));
            last = Some(resp);
        }
        assert!(codes[..20].iter().all(|c| *c == 170213), "{codes:?}");
        assert_eq!(codes[20], 10006);
        let resp = last.unwrap();
        let header = |n: &str| resp.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(header("X-Bapi-Limit").as_deref(), Some("20"));
        assert_eq!(header("X-Bapi-Limit-Status").as_deref(), Some("0"));
        assert!(header("X-Bapi-Limit-Reset-Timestamp").is_some());
        assert_eq!(resp.status, 200);
    }

    #[test]
    fn wallet_balance_reports_free_and_locked() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let r = get_signed(&v, &ctx, "/v5/account/wallet-balance", "accountType=UNIFIED&coin=USDT");
        assert_eq!(code(&r), 0, "{r}");
        let coin = &r["result"]["list"][0]["coin"][0];
        assert_eq!(coin["coin"], "USDT");
        assert_eq!(coin["walletBalance"], "1000000");
        assert_eq!(coin["locked"], "0");
        assert_eq!(code(&get_signed(&v, &ctx, "/v5/account/wallet-balance", "accountType=SPOT")), 10001);
    }

    #[test]
    fn spot_market_buy_is_sized_in_quote_coin_by_default() {
        let ctx = ctx_of(market(1.0));
        let v = BybitV5::new();
        let r = post(
            &v,
            &ctx,
            "/v5/order/create",
            r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"100"}"#,
        );
        assert_eq!(code(&r), 0, "{r}");
        let id = r["result"]["orderId"].as_str().unwrap().to_owned();
        let got = get_signed(&v, &ctx, "/v5/order/realtime", &format!("category=spot&orderId={id}"));
        let o = &got["result"]["list"][0];
        assert_eq!(o["orderStatus"], "Filled", "{got}");
        let value = Notional::parse(o["cumExecValue"].as_str().unwrap()).unwrap();
        assert!(value <= Notional::parse("100").unwrap() && value > Notional::parse("99").unwrap(), "{value}");
        assert_ne!(o["cumExecFee"], "0", "fees come from the venue's ledger");
        let r = post(
            &v,
            &ctx,
            "/v5/order/create",
            r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"1"}"#,
        );
        assert_eq!(code(&r), 170140, "1 USDT is under minOrderAmt");
    }

    // ---- WebSocket sessions through an in-memory socket ----

    struct MockWs {
        inbox: Receiver<WsIncoming>,
        outbox: Sender<Vec<u8>>,
        closed: Arc<Mutex<Option<bool>>>,
    }

    impl WsSession for MockWs {
        fn send_text(&mut self, text: &str) -> std::io::Result<()> {
            self.outbox.send(text.as_bytes().to_vec()).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
        }
        fn send_raw_text(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            self.outbox.send(bytes.to_vec()).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
        }
        fn send_ping(&mut self, _payload: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<WsIncoming>> {
            match self.inbox.recv_timeout(timeout) {
                Ok(m) => Ok(Some(m)),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(Some(WsIncoming::Closed)),
            }
        }
        fn close(&mut self, graceful: bool) {
            *self.closed.lock().unwrap() = Some(graceful);
        }
    }

    struct Client {
        to_server: Option<Sender<WsIncoming>>,
        from_server: Receiver<Vec<u8>>,
        closed: Arc<Mutex<Option<bool>>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Client {
        fn open(venue: &Arc<BybitV5>, ctx: &Ctx, path: &str, query: &str) -> Self {
            let (to_server, inbox) = crossbeam_channel::unbounded();
            let (outbox, from_server) = crossbeam_channel::unbounded();
            let closed = Arc::new(Mutex::new(None));
            let mut ws = MockWs { inbox, outbox, closed: closed.clone() };
            let (venue, ctx, path, query) = (venue.clone(), ctx.clone(), path.to_owned(), query.to_owned());
            let thread = std::thread::spawn(move || venue.run_ws(&ctx, &path, &query, &mut ws));
            Self { to_server: Some(to_server), from_server, closed, thread: Some(thread) }
        }

        fn send(&self, text: &str) {
            self.to_server.as_ref().unwrap().send(WsIncoming::Text(text.into())).unwrap();
        }

        fn recv(&self, timeout: Duration) -> Option<String> {
            self.from_server.recv_timeout(timeout).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
        }

        fn recv_json(&self) -> Value {
            let text = self.recv(Duration::from_secs(5)).expect("a message within 5 s");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        }

        /// The next message for which `f` holds, within 5 s.
        fn recv_where(&self, f: impl Fn(&Value) -> bool) -> Value {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let text = self.recv(left).expect("the awaited message within 5 s");
                if let Ok(v) = serde_json::from_str::<Value>(&text)
                    && f(&v)
                {
                    return v;
                }
            }
        }

        fn closed(&self) -> Option<bool> {
            *self.closed.lock().unwrap()
        }

        fn finish(mut self) {
            self.to_server.take();
            if let Some(t) = self.thread.take() {
                t.join().unwrap();
            }
        }
    }

    /// Background flow until the returned flag is set (its own flag: `ctx.stop` would also end
    /// the sessions under test before their last push).
    struct Flow(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

    impl Flow {
        fn stop(mut self) {
            self.0.store(true, Ordering::Relaxed);
            if let Some(t) = self.1.take() {
                t.join().unwrap();
            }
        }
    }

    fn flowing(ctx: &Ctx) -> Flow {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = ctx.market.start_flow(stop.clone()).unwrap();
        Flow(stop, Some(handle))
    }

    /// Applies an orderbook message to a local book (snapshot resets it; size 0 deletes).
    fn apply(book: &mut (BTreeMap<i64, i64>, BTreeMap<i64, i64>), inst: &Instrument, m: &Value) {
        if m["type"] == "snapshot" {
            book.0.clear();
            book.1.clear();
        }
        for (side, key) in [(&mut book.0, "b"), (&mut book.1, "a")] {
            for l in m["data"][key].as_array().unwrap() {
                let p = inst.parse_price(l[0].as_str().unwrap()).unwrap().units();
                let q = inst.parse_qty(l[1].as_str().unwrap()).unwrap().units();
                if q == 0 {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
            }
        }
    }

    /// Position of each key's first `"key":` in a JSON text, for field-order checks.
    fn key_order(text: &str, keys: &[&str]) -> Vec<usize> {
        keys.iter().map(|k| text.find(&format!("\"{k}\"")).unwrap_or(usize::MAX)).collect()
    }

    fn ascending(v: &[usize]) -> bool {
        v.windows(2).all(|w| w[0] < w[1]) && !v.contains(&usize::MAX)
    }

    #[test]
    fn spot_book_stream_snapshot_then_deltas_rebuild_the_top_50() {
        let ctx = ctx_of(market(3000.0));
        let venue = Arc::new(BybitV5::new());
        let flow = flowing(&ctx);
        let c = Client::open(&venue, &ctx, SPOT_WS_PATH, "");
        c.send(r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"],"req_id":"sub-1"}"#);
        let ack = c.recv_json();
        assert_eq!(keys(&ack), set(&["success", "ret_msg", "conn_id", "req_id", "op"]));
        assert_eq!(
            (ack["success"].as_bool(), ack["ret_msg"].as_str(), ack["req_id"].as_str()),
            (Some(true), Some("subscribe"), Some("sub-1"))
        );
        let inst = ctx.market.instruments()[0].clone();
        let mut book = (BTreeMap::new(), BTreeMap::new());
        let snap_text = c.recv(Duration::from_secs(5)).unwrap();
        let snap: Value = serde_json::from_str(&snap_text).unwrap();
        assert_eq!((snap["topic"].as_str(), snap["type"].as_str()), (Some("orderbook.50.BTCUSDT"), Some("snapshot")));
        assert!(ascending(&key_order(&snap_text, &["topic", "ts", "type", "data", "cts"])), "spot order: {snap_text}");
        apply(&mut book, &inst, &snap);
        let doc = sample_json("depth_update.json");
        let mut u = snap["data"]["u"].as_u64().unwrap();
        let mut deltas = 0;
        let mut trades = 0;
        let mut last_seq = snap["data"]["seq"].as_u64();
        let spot_trade_keys = keys(
            &serde_json::from_str::<Value>(sample("publicTrade_spot.jsonl").lines().next().unwrap()).unwrap()["data"]
                [0],
        );
        while deltas < 100 {
            let text = c.recv(Duration::from_secs(5)).expect("deltas keep coming");
            let m: Value = serde_json::from_str(&text).unwrap();
            if m["topic"] == "publicTrade.BTCUSDT" {
                trades += 1;
                assert_eq!(keys(&m["data"][0]), spot_trade_keys);
                continue;
            }
            assert_eq!(m["type"], "delta");
            assert_eq!(keys(&m), keys(&doc), "{text}");
            assert_eq!(keys(&m["data"]), keys(&doc["data"]));
            assert_eq!(m["data"]["u"].as_u64(), Some(u + 1), "u grows by one per message");
            u += 1;
            let seq = m["data"]["seq"].as_u64();
            assert!(seq >= last_seq, "seq never decreases");
            last_seq = seq;
            apply(&mut book, &inst, &m);
            assert!(book.0.len() <= 50 && book.1.len() <= 50);
            deltas += 1;
        }
        // Align: stop the flow, let the last pushes out, then the view equals the market's top 50
        // at the update id the last message carried as `seq`.
        flow.stop();
        while let Some(text) = c.recv(Duration::from_millis(300)) {
            let m: Value = serde_json::from_str(&text).unwrap();
            if m["topic"] == "orderbook.50.BTCUSDT" {
                apply(&mut book, &inst, &m);
                last_seq = m["data"]["seq"].as_u64();
            }
        }
        let snap = ctx.market.snapshot(0, 50).unwrap();
        // The last push reflects the last update that changed the top 50 (later ones, deeper in
        // the book, produce no delta).
        assert!(last_seq.is_some_and(|s| s <= snap.update_id));
        let bids: Vec<(i64, i64)> = snap.bids.iter().map(|(p, q)| (p.units(), q.units())).collect();
        let asks: Vec<(i64, i64)> = snap.asks.iter().map(|(p, q)| (p.units(), q.units())).collect();
        assert_eq!(book.0.iter().rev().map(|(p, q)| (*p, *q)).collect::<Vec<_>>(), bids);
        assert_eq!(book.1.iter().map(|(p, q)| (*p, *q)).collect::<Vec<_>>(), asks);
        assert!(trades > 0, "trades were pushed too");
        c.finish();
    }

    #[test]
    fn linear_stream_shapes_follow_the_docs() {
        let ctx = ctx_of(market(3000.0));
        let venue = Arc::new(BybitV5::new());
        let flow = flowing(&ctx);
        let c = Client::open(&venue, &ctx, LINEAR_WS_PATH, "");
        c.send(r#"{"op":"subscribe","args":["orderbook.50.SOLUSDT","publicTrade.SOLUSDT","tickers.SOLUSDT"]}"#);
        let ack = c.recv_json();
        let recorded: Value = serde_json::from_str(sample("control.jsonl").lines().next().unwrap()).unwrap();
        assert_eq!(keys(&ack), keys(&recorded), "linear ack as recorded");
        assert_eq!((ack["ret_msg"].as_str(), ack["req_id"].as_str()), (Some(""), Some("")));
        let snap_text = c.recv(Duration::from_secs(5)).unwrap();
        let doc_snapshot = sample("snapshot_ws_orderbook50.json.txt");
        let order = ["topic", "type", "ts", "data", "cts"];
        assert!(ascending(&key_order(&doc_snapshot, &order)));
        assert!(ascending(&key_order(&snap_text, &order)), "futures order: {snap_text}");
        let ticker = c.recv_where(|m| m["topic"] == "tickers.SOLUSDT");
        let doc_ticker = sample_json("ticker_linear.json");
        assert_eq!(keys(&ticker), keys(&doc_ticker));
        assert_eq!(keys(&ticker["data"]), keys(&doc_ticker["data"]));
        let delta_text = loop {
            let t = c.recv(Duration::from_secs(5)).unwrap();
            if t.contains("\"orderbook.50.SOLUSDT\"") {
                break t;
            }
        };
        assert!(ascending(&key_order(&delta_text, &order)));
        let trade = c.recv_where(|m| m["topic"] == "publicTrade.SOLUSDT");
        let doc_trade = sample_json("trade.json");
        let mut expected = keys(&doc_trade["data"][0]);
        expected.insert("RPI".into()); // in the current trade page and every recorded frame
        assert_eq!(keys(&trade["data"][0]), expected);
        let recorded: Value = serde_json::from_str(sample("publicTrade_linear.jsonl").lines().next().unwrap()).unwrap();
        assert_eq!(keys(&trade["data"][0]), keys(&recorded["data"][0]));
        assert_eq!(keys(&trade), keys(&doc_trade));
        assert_eq!(trade["data"][0]["i"].as_str().unwrap().len(), 36);
        c.send(r#"{"op":"ping"}"#);
        let pong = c.recv_where(|m| m["op"] == "ping");
        assert_eq!(keys(&pong), set(&["success", "ret_msg", "conn_id", "req_id", "op"]));
        assert_eq!(pong["ret_msg"], "pong");
        flow.stop();
        c.finish();
    }

    #[test]
    fn subscribe_errors_ping_and_idle_close() {
        let ctx = ctx_of(market(1.0));
        let venue = Arc::new(BybitV5::new().with_idle_timeout(Duration::from_millis(300)));
        let c = Client::open(&venue, &ctx, SPOT_WS_PATH, "");
        c.send(r#"{"op":"subscribe","args":["orderbook.40.BTCUSDT"]}"#);
        assert_eq!(c.recv_json()["success"], false);
        c.send(r#"{"op":"subscribe","args":["orderbook.1.SOLUSDT"]}"#);
        assert_eq!(c.recv_json()["success"], false, "a linear symbol on the spot stream");
        c.send(r#"{"req_id":"100001","op":"ping"}"#);
        let pong = c.recv_json();
        assert_eq!(
            (pong["op"].as_str(), pong["ret_msg"].as_str(), pong["success"].as_bool()),
            (Some("ping"), Some("pong"), Some(true))
        );
        c.send("{not json");
        assert_eq!(c.recv_json()["success"], false);
        c.send(r#"{"op":"subscribe","args":["orderbook.1.BTCUSDT"]}"#);
        assert_eq!(c.recv_json()["success"], true);
        let l1 = c.recv_json();
        assert_eq!(l1["type"], "snapshot");
        assert_eq!(l1["data"]["b"].as_array().unwrap().len(), 1);
        let deadline = Instant::now() + Duration::from_secs(3);
        while c.closed().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(c.closed(), Some(true), "an idle client is closed");
        c.finish();
    }

    #[test]
    fn faults_skip_a_sequence_and_corrupt_frames() {
        let ctx = ctx_of(market(3000.0));
        let venue = Arc::new(BybitV5::new());
        let flow = flowing(&ctx);
        let c = Client::open(&venue, &ctx, SPOT_WS_PATH, "");
        c.send(r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#);
        c.recv_json();
        let mut u = c.recv_json()["data"]["u"].as_u64().unwrap();
        let next = |c: &Client| c.recv_where(|m| m["type"] == "delta");
        let m = next(&c);
        assert_eq!(m["data"]["u"].as_u64(), Some(u + 1));
        u += 1;
        ctx.faults.skip_sequence(1);
        let m = next(&c);
        assert_eq!(m["data"]["u"].as_u64(), Some(u + 2), "the injected gap");
        u += 2;
        assert_eq!(next(&c)["data"]["u"].as_u64(), Some(u + 1), "then back to steps of one");
        ctx.faults.malformed_frames(1);
        let bad = loop {
            let t = c.recv(Duration::from_secs(5)).unwrap();
            if serde_json::from_str::<Value>(&t).is_err() {
                break t;
            }
        };
        assert!(bad.starts_with('{'));
        ctx.faults.truncated_frames(1);
        loop {
            let t = c.recv(Duration::from_secs(5)).unwrap();
            if serde_json::from_str::<Value>(&t).is_err() {
                assert!(t.starts_with("{\"topic\":\"orderbook.50.BTCUSDT\""), "the first half of a real message: {t}");
                break;
            }
        }
        let g = ctx.faults.ws_generation();
        ctx.faults.drop_ws_connections();
        assert_ne!(g, ctx.faults.ws_generation());
        let deadline = Instant::now() + Duration::from_secs(3);
        while c.closed().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(c.closed(), Some(false), "a dropped generation closes without a close frame");
        flow.stop();
        c.finish();
    }

    fn private_auth(c: &Client, ctx: &Ctx, key: &str, secret: &str, expires: i64) -> Value {
        let sig = signing::hmac_sha256_hex(secret, format!("GET/realtime{expires}").as_bytes());
        let _ = ctx;
        c.send(&format!(r#"{{"req_id":"a1","op":"auth","args":["{key}",{expires},"{sig}"]}}"#));
        c.recv_json()
    }

    #[test]
    fn private_stream_reports_a_partial_then_full_fill_in_order() {
        let ctx = ctx_of(market(1.0));
        let venue = Arc::new(BybitV5::new());
        let c = Client::open(&venue, &ctx, PRIVATE_WS_PATH, "");
        c.send(r#"{"op":"subscribe","args":["order"]}"#);
        assert_eq!(c.recv_json()["success"], false, "not before auth");
        let now = ctx.market.now_ms();
        assert_eq!(private_auth(&c, &ctx, KEY, "wrong", now + 10_000)["success"], false);
        assert_eq!(private_auth(&c, &ctx, KEY, SECRET, now - 1)["success"], false, "expired");
        let ok = private_auth(&c, &ctx, KEY, SECRET, now + 10_000);
        assert_eq!(
            (ok["success"].as_bool(), ok["op"].as_str(), ok["req_id"].as_str()),
            (Some(true), Some("auth"), Some("a1"))
        );
        c.send(r#"{"op":"subscribe","args":["order","execution"],"req_id":"s1"}"#);
        let ack = c.recv_json();
        assert_eq!(ack["success"], true, "{ack}");
        c.send(r#"{"req_id":"p1","op":"ping"}"#);
        let pong = c.recv_json();
        assert_eq!(keys(&pong), set(&["req_id", "op", "args", "conn_id"]));
        assert_eq!(pong["op"], "pong");

        // A buys through the best ask level and rests the rest; B then sells into it.
        let snap = ctx.market.snapshot(0, 1).unwrap();
        let (ask, ask_qty) = snap.asks[0];
        let inst = ctx.market.instruments()[0].clone();
        let qty = Qty::from_units(ask_qty.units() + 1000);
        let body = format!(
            r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"{}","price":"{}","orderLinkId":"fill-me"}}"#,
            inst.qty_text(qty),
            inst.price_text(ask)
        );
        let r = post(&venue, &ctx, "/v5/order/create", &body);
        assert_eq!(code(&r), 0, "{r}");
        let body = format!(
            r#"{{"category":"spot","symbol":"BTCUSDT","side":"Sell","orderType":"Limit","qty":"{}","price":"{}","timeInForce":"IOC"}}"#,
            inst.qty_text(Qty::from_units(1000)),
            inst.price_text(ask)
        );
        let r = post_as(&venue, &ctx, KEY_B, SECRET_B, "/v5/order/create", &body);
        assert_eq!(code(&r), 0, "{r}");

        let doc_order = sample_json("order_update.json");
        let doc_exec = set(&[
            "category",
            "symbol",
            "execFee",
            "execId",
            "execPrice",
            "execQty",
            "execType",
            "execValue",
            "isMaker",
            "feeRate",
            "tradeIv",
            "markIv",
            "blockTradeId",
            "markPrice",
            "indexPrice",
            "underlyingPrice",
            "leavesQty",
            "orderId",
            "orderLinkId",
            "orderPrice",
            "orderQty",
            "orderType",
            "stopOrderType",
            "side",
            "execTime",
            "isLeverage",
        ]);
        let mut seen = Vec::new();
        let mut exec_qty = 0i64;
        loop {
            let m = c.recv_json();
            let topic = m["topic"].as_str().unwrap().to_owned();
            assert_eq!(keys(&m), keys(&doc_order), "{m}");
            let d = &m["data"][0];
            match topic.as_str() {
                "order" => {
                    let mut expected = keys(&doc_order["data"][0]);
                    expected.insert("isLeverage".into()); // documented for spot
                    assert_eq!(keys(d), expected);
                    assert_eq!(d["orderLinkId"], "fill-me");
                    seen.push(d["orderStatus"].as_str().unwrap().to_owned());
                    if d["orderStatus"] == "Filled" {
                        assert_eq!(d["cumExecQty"].as_str().map(|s| inst.parse_qty(s).unwrap()), Some(qty));
                        assert_eq!(d["leavesQty"], "0");
                        assert_ne!(d["cumExecFee"], "0");
                        break;
                    }
                }
                "execution" => {
                    assert_eq!(keys(d), doc_exec);
                    exec_qty += inst.parse_qty(d["execQty"].as_str().unwrap()).unwrap().units();
                    seen.push(format!("exec:{}", d["isMaker"]));
                }
                other => panic!("unexpected topic {other}"),
            }
        }
        assert_eq!(exec_qty, qty.units(), "executions add up to the order");
        assert_eq!(seen.first().map(String::as_str), Some("New"), "{seen:?}");
        assert!(seen.iter().any(|s| s == "PartiallyFilled"), "{seen:?}");
        assert_eq!(
            seen.iter().rev().nth(1).map(String::as_str),
            Some("exec:true"),
            "the last fill is as maker: {seen:?}"
        );
        // Every order state after New follows its execution.
        for (i, s) in seen.iter().enumerate().skip(1) {
            if !s.starts_with("exec") {
                assert!(seen[i - 1].starts_with("exec"), "{seen:?}");
            }
        }
        c.finish();
    }

    #[test]
    fn refused_post_only_reaches_the_private_stream() {
        let ctx = ctx_of(market(1.0));
        let venue = Arc::new(BybitV5::new());
        let c = Client::open(&venue, &ctx, PRIVATE_WS_PATH, "max_active_time=1m");
        assert_eq!(private_auth(&c, &ctx, KEY, SECRET, ctx.market.now_ms() + 5000)["success"], true);
        c.send(r#"{"op":"subscribe","args":["order.spot"]}"#);
        assert_eq!(c.recv_json()["success"], true);
        let (_, ask) = best(&ctx, 0);
        let body = format!(
            r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"{}","timeInForce":"PostOnly"}}"#,
            px(&ctx, 0, ask)
        );
        assert_eq!(code(&post(&venue, &ctx, "/v5/order/create", &body)), 0);
        let m = c.recv_json();
        assert_eq!(m["data"][0]["orderStatus"], "Rejected");
        assert_eq!(m["data"][0]["rejectReason"], "EC_PostOnlyWillTakeLiquidity");
        c.finish();
    }

    #[test]
    fn helpers_round_trip() {
        assert_eq!(parse_uuid(ORDER_UUID_SALT, &uuid_text(ORDER_UUID_SALT, 123_456_789_012)), Some(123_456_789_012));
        assert_eq!(parse_uuid(ORDER_UUID_SALT, "not-a-uuid"), None);
        assert_eq!(percent_decode("a%2Cb+c%zz"), "a,b c%zz");
        assert_eq!(parse_active_time("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_active_time("29s"), None);
        assert_eq!(parse_active_time("x"), None);
        assert_eq!(json_str("a\"b\\\n"), r#""a\"b\\\n""#);
    }
}
