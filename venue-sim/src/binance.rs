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

mod my_trades;

use crate::market::{
    AccountEvent, BalanceView, BookUpdate, ClientOrderRequest, ExecKind, FillView, Market, OrderOutcome, OrderRef,
    OrderReject, OrderStatus, OrderView,
};
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsIncoming, WsSession};
use crate::signing;
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::decimal::{self, DecimalError, DecimalErrorKind, DecimalStyle};
use qt_core::money::NOTIONAL_SCALE;
use qt_core::{AccountId, Instrument, InstrumentKind, Nanos, Notional, OrderType, Price, Qty, RejectReason, Side};
use qt_core::{Clock as _, TimeInForce, WallClock};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Decimals Binance writes prices, quantities and amounts with (its asset precision).
const WIRE_DECIMALS: u8 = 8;
/// The self-trade prevention the shared matching engine applies (resting orders of the same
/// account are removed), named as Binance names it.
const STP_MODE: &str = "EXPIRE_MAKER";
/// Legal range Binance reports for decimal parameters.
const DECIMAL_RANGE: &str = r"^([0-9]{1,20})(\.[0-9]{1,20})?$";
/// Legal range Binance reports for integer parameters.
const INTEGER_RANGE: &str = "^[0-9]{1,20}$";
/// Legal range Binance reports for `symbol`.
const SYMBOL_RANGE: &str = "^[A-Z0-9-_.]{1,20}$";
/// Legal range Binance reports for client order ids.
const CLIENT_ID_RANGE: &str = r"^[\.A-Z\:/a-z0-9_-]{1,36}$";
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

/// A request Binance refuses, with its documented code and message (`errors.md`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BinanceError {
    /// -1000: a simulator condition with no Binance equivalent.
    #[error("An unknown error occurred while processing the request.")]
    Unknown,
    /// -1003: the IP used more request weight than its limit this minute.
    #[error(
        "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
    )]
    TooMuchWeight {
        /// The limit.
        limit: u32,
        /// Seconds until the minute resets.
        retry_after_s: u64,
    },
    /// -1015: the account placed too many orders in an interval.
    #[error("Too many new orders; current limit is {limit} orders per {interval}.")]
    TooManyOrders {
        /// The limit.
        limit: u32,
        /// `10 SECOND` or `1 DAY`.
        interval: &'static str,
    },
    /// -1020: no such endpoint (or method).
    #[error("This operation is not supported.")]
    UnsupportedOperation {
        /// 404 (no such path) or 405 (wrong method).
        status: u16,
    },
    /// -1021: `timestamp` older than `recvWindow`.
    #[error("Timestamp for this request is outside of the recvWindow.")]
    TimestampOutsideRecvWindow,
    /// -1021: `timestamp` 1000 ms or more ahead of the server.
    #[error("Timestamp for this request was 1000ms ahead of the server's time.")]
    TimestampAhead,
    /// -1022: the HMAC does not match.
    #[error("Signature for this request is not valid.")]
    InvalidSignature,
    /// -1100: undecodable parameters.
    #[error("Illegal characters found in a parameter.")]
    IllegalCharacters,
    /// -1100: a parameter outside its legal range.
    #[error("Illegal characters found in parameter '{param}'; legal range is '{range}'.")]
    IllegalParam {
        /// Parameter name.
        param: &'static str,
        /// Its legal range, as Binance states it.
        range: &'static str,
    },
    /// -1101: the same parameter twice.
    #[error("Duplicate values for a parameter detected.")]
    DuplicateParam,
    /// -1101: more parameters than the endpoint takes.
    #[error("Too many parameters; expected '{expected}' and received '{received}'.")]
    TooManyParams {
        /// Parameters the endpoint takes.
        expected: usize,
        /// Parameters sent.
        received: usize,
    },
    /// -1102: a mandatory parameter missing or empty.
    #[error("Mandatory parameter '{0}' was not sent, was empty/null, or malformed.")]
    MandatoryParam(&'static str),
    /// -1102: neither of two alternatives sent.
    #[error("Param '{0}' or '{1}' must be sent, but both were empty/null!")]
    EitherParam(&'static str, &'static str),
    /// -1104: parameters the endpoint does not know.
    #[error("Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'.")]
    UnreadParams {
        /// Parameters understood.
        read: usize,
        /// Parameters sent.
        sent: usize,
    },
    /// -1106: a parameter this order type does not take.
    #[error("Parameter '{0}' sent when not required.")]
    ParamNotRequired(&'static str),
    /// -1108: a number too large.
    #[error("Parameter '{0}' overflowed.")]
    ParamOverflow(&'static str),
    /// -1111: more decimals than Binance's 8.
    #[error("Parameter '{0}' has too much precision.")]
    BadPrecision(&'static str),
    /// -1115.
    #[error("Invalid timeInForce.")]
    InvalidTimeInForce,
    /// -1116.
    #[error("Invalid orderType.")]
    InvalidOrderType,
    /// -1117.
    #[error("Invalid side.")]
    InvalidSide,
    /// -1118.
    #[error("New client order ID was empty.")]
    EmptyNewClientOrderId,
    /// -1119.
    #[error("Original client order ID was empty.")]
    EmptyOrigClientOrderId,
    /// -1121.
    #[error("Invalid symbol.")]
    InvalidSymbol,
    /// -1125.
    #[error("This listenKey does not exist.")]
    InvalidListenKey,
    /// -1127: `endTime` before `startTime`, or more than 24 hours after it.
    #[error("More than 24 hours between startTime and endTime.")]
    TimeSpanTooLong,
    /// -1128.
    #[error("Combination of optional parameters invalid.")]
    BadParamCombination,
    /// -1130.
    #[error("Data sent for parameter '{0}' is not valid.")]
    InvalidParamData(&'static str),
    /// -1013: a symbol filter (`PRICE_FILTER`, `LOT_SIZE`, `NOTIONAL`).
    #[error("Filter failure: {0}")]
    FilterFailure(&'static str),
    /// -2010: the matching engine refused the order (the documented message).
    #[error("{0}")]
    NewOrderRejected(&'static str),
    /// -2011: the cancel was refused (`Unknown order sent.` when there is nothing to cancel).
    #[error("{0}")]
    CancelRejected(&'static str),
    /// -2013.
    #[error("Order does not exist.")]
    NoSuchOrder,
    /// -2014: no or malformed `X-MBX-APIKEY`.
    #[error("API-key format invalid.")]
    BadApiKeyFormat,
    /// -2015: unknown API key.
    #[error("Invalid API-key, IP, or permissions for action.")]
    RejectedApiKey,
}

impl BinanceError {
    /// Binance's error code.
    pub fn code(&self) -> i32 {
        use BinanceError::*;
        match self {
            Unknown => -1000,
            TooMuchWeight { .. } => -1003,
            TooManyOrders { .. } => -1015,
            UnsupportedOperation { .. } => -1020,
            TimestampOutsideRecvWindow | TimestampAhead => -1021,
            InvalidSignature => -1022,
            IllegalCharacters | IllegalParam { .. } => -1100,
            DuplicateParam | TooManyParams { .. } => -1101,
            MandatoryParam(_) | EitherParam(..) => -1102,
            UnreadParams { .. } => -1104,
            ParamNotRequired(_) => -1106,
            ParamOverflow(_) => -1108,
            BadPrecision(_) => -1111,
            InvalidTimeInForce => -1115,
            InvalidOrderType => -1116,
            InvalidSide => -1117,
            EmptyNewClientOrderId => -1118,
            EmptyOrigClientOrderId => -1119,
            InvalidSymbol => -1121,
            InvalidListenKey => -1125,
            TimeSpanTooLong => -1127,
            BadParamCombination => -1128,
            InvalidParamData(_) => -1130,
            FilterFailure(_) => -1013,
            NewOrderRejected(_) => -2010,
            CancelRejected(_) => -2011,
            NoSuchOrder => -2013,
            BadApiKeyFormat => -2014,
            RejectedApiKey => -2015,
        }
    }

    /// The HTTP status Binance answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            BinanceError::Unknown => 500,
            BinanceError::TooMuchWeight { .. } | BinanceError::TooManyOrders { .. } => 429,
            BinanceError::UnsupportedOperation { status } => *status,
            BinanceError::BadApiKeyFormat | BinanceError::RejectedApiKey => 401,
            _ => 400,
        }
    }

    /// The error as Binance sends it: `{"code":..,"msg":..}` with its status (and
    /// `Retry-After` on a weight 429).
    pub fn to_response(&self) -> HttpResponse {
        let resp = HttpResponse::json(self.http_status(), &json!({ "code": self.code(), "msg": self.to_string() }));
        match self {
            BinanceError::TooMuchWeight { retry_after_s, .. } => {
                resp.with_header("Retry-After", retry_after_s.to_string())
            }
            _ => resp,
        }
    }
}

/// Binance spot's REST API and WebSocket streams over the shared [`Market`].
#[derive(Debug)]
pub struct BinanceSpot {
    limits: BinanceLimits,
    /// REQUEST_WEIGHT used per IP: (minute number, weight).
    weights: Mutex<HashMap<IpAddr, (i64, u32)>>,
    /// ORDERS per account: (10 s window, count, day, count).
    orders: Mutex<HashMap<AccountId, OrderCounts>>,
    listen_keys: Mutex<HashMap<String, ListenKey>>,
    cancel_ids: Mutex<CancelIds>,
    /// Source of generated ids (listen keys, cancel client ids, synthetic order ids).
    sequence: AtomicU64,
    /// `executionReport` `I` (execution id).
    execution_ids: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy)]
struct OrderCounts {
    window_10s: i64,
    count_10s: u32,
    day: i64,
    count_day: u32,
}

#[derive(Debug, Clone)]
struct ListenKey {
    account: AccountId,
    expires_ms: i64,
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

/// Unix milliseconds of a [`Nanos`] time.
pub(crate) fn ms(ts: Nanos) -> i64 {
    ts.0.div_euclid(1_000_000)
}

/// `units × 10^-scale` as Binance writes it: 8 decimals (more only if the value needs them).
fn wire_decimal(units: i128, scale: u8) -> String {
    if scale <= WIRE_DECIMALS
        && let Some(widened) = units.checked_mul(10i128.pow(u32::from(WIRE_DECIMALS - scale)))
    {
        return decimal::format_scaled(widened, WIRE_DECIMALS, DecimalStyle::Fixed).to_string();
    }
    decimal::format_scaled(units, scale, DecimalStyle::Fixed).to_string()
}

pub(crate) fn price_text(inst: &Instrument, p: Price) -> String {
    wire_decimal(i128::from(p.units()), inst.price_scale())
}

pub(crate) fn qty_text(inst: &Instrument, q: Qty) -> String {
    wire_decimal(i128::from(q.units()), inst.qty_scale())
}

fn amount_text(n: Notional) -> String {
    let shift = 10i128.pow(u32::from(NOTIONAL_SCALE - WIRE_DECIMALS));
    if n.units() % shift == 0 {
        wire_decimal(n.units() / shift, WIRE_DECIMALS)
    } else {
        decimal::format_scaled(n.units(), NOTIONAL_SCALE, DecimalStyle::Trimmed).to_string()
    }
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn type_text(o: &OrderView) -> &'static str {
    match (o.order_type, o.tif) {
        (OrderType::Market, _) => "MARKET",
        (OrderType::Limit, TimeInForce::PostOnly) => "LIMIT_MAKER",
        (OrderType::Limit, _) => "LIMIT",
    }
}

fn tif_text(o: &OrderView) -> &'static str {
    // Binance reports GTC for MARKET and LIMIT_MAKER orders.
    match (o.order_type, o.tif) {
        (OrderType::Limit, TimeInForce::Ioc) => "IOC",
        (OrderType::Limit, TimeInForce::Fok) => "FOK",
        _ => "GTC",
    }
}

fn status_text(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
        OrderStatus::Rejected => "REJECTED",
    }
}

/// Whether the order rests on the book once placed (Binance's "working" orders with a
/// `workingTime`/`W`): GTC limit and LIMIT_MAKER orders.
fn rests(o: &OrderView) -> bool {
    o.order_type == OrderType::Limit && matches!(o.tif, TimeInForce::Gtc | TimeInForce::PostOnly)
}

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    Depth,
    NewOrder,
    CancelOrder,
    QueryOrder,
    CancelOpenOrders,
    OpenOrders,
    Account,
    MyTrades,
    ListenKeyStart,
    ListenKeyKeepalive,
    ListenKeyClose,
}

fn route(method: &str, path: &str) -> Result<Endpoint, BinanceError> {
    use Endpoint::*;
    let methods: &[(&str, Endpoint)] = match path {
        "/api/v3/ping" => &[("GET", Ping)],
        "/api/v3/time" => &[("GET", Time)],
        "/api/v3/exchangeInfo" => &[("GET", ExchangeInfo)],
        "/api/v3/depth" => &[("GET", Depth)],
        "/api/v3/order" => &[("POST", NewOrder), ("DELETE", CancelOrder), ("GET", QueryOrder)],
        "/api/v3/openOrders" => &[("DELETE", CancelOpenOrders), ("GET", OpenOrders)],
        "/api/v3/account" => &[("GET", Account)],
        "/api/v3/myTrades" => &[("GET", MyTrades)],
        "/api/v3/userDataStream" => {
            &[("POST", ListenKeyStart), ("PUT", ListenKeyKeepalive), ("DELETE", ListenKeyClose)]
        }
        _ => return Err(BinanceError::UnsupportedOperation { status: 404 }),
    };
    methods
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, e)| *e)
        .ok_or(BinanceError::UnsupportedOperation { status: 405 })
}

/// Parameters of a request: the query string's, then the body's that the query does not
/// override (Binance: "the query string parameter will be used").
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Params {
    pairs: Vec<(String, String)>,
}

fn percent_decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = std::str::from_utf8(s.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes `application/x-www-form-urlencoded` pairs; a name twice is -1101.
pub(crate) fn parse_form(raw: &[u8]) -> Result<Vec<(String, String)>, BinanceError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for seg in raw.split(|b| *b == b'&').filter(|s| !s.is_empty()) {
        let (k, v) = match seg.iter().position(|b| *b == b'=') {
            Some(i) => (&seg[..i], &seg[i + 1..]),
            None => (seg, &b""[..]),
        };
        let k = percent_decode(k).ok_or(BinanceError::IllegalCharacters)?;
        let v = percent_decode(v).ok_or(BinanceError::IllegalCharacters)?;
        if pairs.iter().any(|(n, _)| *n == k) {
            return Err(BinanceError::DuplicateParam);
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

impl Params {
    fn parse(req: &HttpRequest) -> Result<Self, BinanceError> {
        let mut pairs = parse_form(req.query.as_bytes())?;
        // GET parameters travel in the query string only.
        if req.method != "GET" {
            for (k, v) in parse_form(&req.body)? {
                if !pairs.iter().any(|(n, _)| *n == k) {
                    pairs.push((k, v));
                }
            }
        }
        Ok(Self { pairs })
    }

    /// A parameter as sent (possibly empty).
    fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter that was sent and is not empty (Binance treats empty as not sent).
    fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<&str, BinanceError> {
        self.get(name).ok_or(BinanceError::MandatoryParam(name))
    }

    /// Refuses parameters the endpoint does not take (-1101 too many, -1104 unknown).
    fn only(&self, allowed: &[&str]) -> Result<(), BinanceError> {
        let sent = self.pairs.len();
        if sent > allowed.len() {
            return Err(BinanceError::TooManyParams { expected: allowed.len(), received: sent });
        }
        let read = self.pairs.iter().filter(|(k, _)| allowed.contains(&k.as_str())).count();
        if read < sent {
            return Err(BinanceError::UnreadParams { read, sent });
        }
        Ok(())
    }
}

/// Parameters every signed endpoint takes besides its own.
const SIGNED: [&str; 3] = ["recvWindow", "timestamp", "signature"];

fn with_signed(own: &[&'static str]) -> Vec<&'static str> {
    own.iter().copied().chain(SIGNED).collect()
}

/// The signed payload: the query string followed by the body, as sent, without `signature`.
fn signing_payload(req: &HttpRequest) -> Vec<u8> {
    fn strip(raw: &[u8]) -> Vec<u8> {
        let kept: Vec<&[u8]> =
            raw.split(|b| *b == b'&').filter(|seg| !(seg.starts_with(b"signature=") || *seg == b"signature")).collect();
        kept.join(&b'&')
    }
    let mut payload = strip(req.query.as_bytes());
    if req.method != "GET" {
        payload.extend(strip(&req.body));
    }
    payload
}

/// A decimal parameter checked the way Binance checks it — legal characters (-1100), at most 8
/// decimals (-1111), fits (-1108) — then parsed exactly by `parse` (the instrument's
/// `parse_price`/`parse_qty`). `Ok(None)` when it has more decimals than the instrument's grid:
/// off the tick or lot, so a filter failure.
fn decimal_param<T>(
    name: &'static str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, DecimalError>,
) -> Result<Option<T>, BinanceError> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(BinanceError::IllegalParam { param: name, range: DECIMAL_RANGE });
    }
    if frac.map_or(0, |f| f.trim_end_matches('0').len()) > usize::from(WIRE_DECIMALS) {
        return Err(BinanceError::BadPrecision(name));
    }
    match parse(text) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => Ok(None),
        Err(_) => Err(BinanceError::ParamOverflow(name)),
    }
}

fn integer_param(name: &'static str, text: &str) -> Result<i64, BinanceError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BinanceError::IllegalParam { param: name, range: INTEGER_RANGE });
    }
    text.parse::<i64>().map_err(|_| BinanceError::ParamOverflow(name))
}

fn valid_client_id(id: &str) -> bool {
    (1..=36).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b))
}

/// A successful answer: the body and any extra headers.
#[derive(Debug)]
struct Reply {
    body: Value,
    headers: Vec<(String, String)>,
}

impl From<Value> for Reply {
    fn from(body: Value) -> Self {
        Self { body, headers: Vec::new() }
    }
}

/// How `POST /api/v3/order` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RespType {
    Ack,
    Result,
    Full,
}

impl BinanceSpot {
    /// A venue with `limits` (use [`BinanceLimits::default`] for Binance's own).
    pub fn new(limits: BinanceLimits) -> Self {
        Self {
            limits,
            weights: Mutex::new(HashMap::new()),
            orders: Mutex::new(HashMap::new()),
            listen_keys: Mutex::new(HashMap::new()),
            cancel_ids: Mutex::new(CancelIds::default()),
            sequence: AtomicU64::new(1),
            execution_ids: AtomicU64::new(1),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &BinanceLimits {
        &self.limits
    }

    /// Adds `weight` to `ip`'s current minute; returns the weight used and, if over the limit,
    /// the error to answer with.
    fn charge_weight(&self, ip: IpAddr, weight: u32, now_ms: i64) -> (u32, Option<BinanceError>) {
        let minute = now_ms.div_euclid(60_000);
        let used = {
            let mut w = lock(&self.weights);
            let entry = w.entry(ip).or_insert((minute, 0));
            if entry.0 != minute {
                *entry = (minute, 0);
            }
            entry.1 = entry.1.saturating_add(weight);
            entry.1
        };
        let limit = self.limits.request_weight_per_minute;
        let retry_after_s = u64::try_from((minute + 1) * 60_000 - now_ms).unwrap_or(0).div_ceil(1000).max(1);
        (used, (used > limit).then_some(BinanceError::TooMuchWeight { limit, retry_after_s }))
    }

    /// Counts one new order of `account`; the error if it exceeds an ORDERS limit, else the
    /// `X-MBX-ORDER-COUNT-*` headers.
    fn count_order(&self, account: AccountId, now_ms: i64) -> Result<Vec<(String, String)>, BinanceError> {
        let window = now_ms.div_euclid(10_000);
        let day = now_ms.div_euclid(86_400_000);
        let mut all = lock(&self.orders);
        let c = all.entry(account).or_default();
        if c.window_10s != window {
            c.window_10s = window;
            c.count_10s = 0;
        }
        if c.day != day {
            c.day = day;
            c.count_day = 0;
        }
        if c.count_10s >= self.limits.orders_per_10s {
            return Err(BinanceError::TooManyOrders { limit: self.limits.orders_per_10s, interval: "10 SECOND" });
        }
        if c.count_day >= self.limits.orders_per_day {
            return Err(BinanceError::TooManyOrders { limit: self.limits.orders_per_day, interval: "1 DAY" });
        }
        c.count_10s += 1;
        c.count_day += 1;
        Ok(vec![
            ("X-MBX-ORDER-COUNT-10S".into(), c.count_10s.to_string()),
            ("X-MBX-ORDER-COUNT-1D".into(), c.count_day.to_string()),
        ])
    }

    fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// The account of the request's `X-MBX-APIKEY`, and its secret.
    fn api_key(&self, ctx: &Ctx, req: &HttpRequest) -> Result<(AccountId, String), BinanceError> {
        let key = req.header("x-mbx-apikey").map(str::trim).unwrap_or("");
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BinanceError::BadApiKeyFormat);
        }
        ctx.market.account_by_key(key).ok_or(BinanceError::RejectedApiKey)
    }

    /// Checks a SIGNED request: API key, signature, then timing; returns the account.
    fn authenticate(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<AccountId, BinanceError> {
        let (account, secret) = self.api_key(ctx, req)?;
        let signature = p.required("signature")?;
        let timestamp = p.required("timestamp")?;
        if !signing::verify_hex(&secret, &signing_payload(req), signature) {
            return Err(BinanceError::InvalidSignature);
        }
        let ts = integer_param("timestamp", timestamp)?;
        // Timestamps may be in microseconds (16 digits) or milliseconds (13 digits).
        let ts_us = if ts >= 100_000_000_000_000 { ts } else { ts.saturating_mul(1000) };
        let recv_us = match p.get("recvWindow") {
            None => 5_000_000,
            Some(text) => match decimal_param("recvWindow", text, |t| decimal::parse_scaled(t, 3)) {
                Ok(Some(v)) if v <= 60_000_000 => v,
                _ => return Err(BinanceError::InvalidParamData("recvWindow")),
            },
        };
        let server_us = ctx.market.now_ms().saturating_mul(1000);
        if ts_us >= server_us.saturating_add(1_000_000) {
            return Err(BinanceError::TimestampAhead);
        }
        if server_us.saturating_sub(ts_us) > recv_us {
            return Err(BinanceError::TimestampOutsideRecvWindow);
        }
        Ok(account)
    }

    /// The `symbol` parameter: legal, and a spot instrument of the market.
    fn symbol<'m>(&self, market: &'m Market, text: &str) -> Result<(usize, &'m Instrument), BinanceError> {
        if text.is_empty()
            || text.len() > 20
            || !text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        {
            return Err(BinanceError::IllegalParam { param: "symbol", range: SYMBOL_RANGE });
        }
        let idx = market.symbol_index(text).ok_or(BinanceError::InvalidSymbol)?;
        let inst = market.instruments().get(idx).ok_or(BinanceError::InvalidSymbol)?;
        if inst.kind() != InstrumentKind::Spot {
            return Err(BinanceError::InvalidSymbol);
        }
        Ok((idx, inst))
    }

    fn weight(endpoint: Endpoint, p: Option<&Params>) -> u32 {
        match endpoint {
            Endpoint::Ping | Endpoint::Time => 1,
            Endpoint::ExchangeInfo | Endpoint::Account => 20,
            Endpoint::Depth => {
                let limit = p
                    .and_then(|p| p.get("limit"))
                    .and_then(|l| l.parse::<usize>().ok())
                    .unwrap_or(DEPTH_DEFAULT_LIMIT)
                    .min(DEPTH_MAX_LIMIT);
                match limit {
                    0..=100 => 5,
                    101..=500 => 25,
                    501..=1000 => 50,
                    _ => 250,
                }
            }
            Endpoint::NewOrder | Endpoint::CancelOrder | Endpoint::CancelOpenOrders => 1,
            Endpoint::QueryOrder => 4,
            Endpoint::MyTrades => {
                if p.is_some_and(|p| p.get("orderId").is_some()) {
                    5
                } else {
                    20
                }
            }
            Endpoint::OpenOrders => {
                if p.is_some_and(|p| p.get("symbol").is_some()) {
                    6
                } else {
                    80
                }
            }
            Endpoint::ListenKeyStart | Endpoint::ListenKeyKeepalive | Endpoint::ListenKeyClose => 2,
        }
    }

    fn dispatch(&self, ctx: &Ctx, req: &HttpRequest, endpoint: Endpoint, p: &Params) -> Result<Reply, BinanceError> {
        match endpoint {
            Endpoint::Ping => {
                p.only(&[])?;
                Ok(json!({}).into())
            }
            Endpoint::Time => {
                p.only(&[])?;
                Ok(json!({ "serverTime": ctx.market.now_ms() }).into())
            }
            Endpoint::ExchangeInfo => self.exchange_info(ctx, p).map(Reply::from),
            Endpoint::Depth => self.depth(ctx, p).map(Reply::from),
            Endpoint::NewOrder => self.new_order(ctx, req, p),
            Endpoint::CancelOrder => self.cancel_order(ctx, req, p).map(Reply::from),
            Endpoint::QueryOrder => self.query_order(ctx, req, p).map(Reply::from),
            Endpoint::CancelOpenOrders => self.cancel_open_orders(ctx, req, p).map(Reply::from),
            Endpoint::OpenOrders => self.open_orders(ctx, req, p).map(Reply::from),
            Endpoint::Account => self.account(ctx, req, p).map(Reply::from),
            Endpoint::MyTrades => self.my_trades(ctx, req, p).map(Reply::from),
            Endpoint::ListenKeyStart => self.listen_key_start(ctx, req, p).map(Reply::from),
            Endpoint::ListenKeyKeepalive => self.listen_key_keepalive(ctx, req, p).map(Reply::from),
            Endpoint::ListenKeyClose => self.listen_key_close(ctx, req, p).map(Reply::from),
        }
    }

    fn exchange_info(&self, ctx: &Ctx, p: &Params) -> Result<Value, BinanceError> {
        p.only(&["symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"])?;
        let market = &ctx.market;
        let chosen: Vec<usize> = match (p.get("symbol"), p.get("symbols")) {
            (Some(_), Some(_)) => return Err(BinanceError::BadParamCombination),
            (Some(s), None) => vec![self.symbol(market, s)?.0],
            (None, Some(list)) => {
                let names: Vec<String> =
                    serde_json::from_str(list).map_err(|_| BinanceError::InvalidParamData("symbols"))?;
                let mut out = Vec::new();
                for name in &names {
                    let idx = self.symbol(market, name)?.0;
                    if out.contains(&idx) {
                        return Err(BinanceError::InvalidParamData("symbols"));
                    }
                    out.push(idx);
                }
                out
            }
            (None, None) => (0..market.instruments().len())
                .filter(|i| market.instruments()[*i].kind() == InstrumentKind::Spot)
                .collect(),
        };
        if let Some(status) = p.get("symbolStatus")
            && !matches!(status, "TRADING" | "END_OF_DAY" | "HALT" | "BREAK")
        {
            return Err(BinanceError::InvalidParamData("symbolStatus"));
        }
        let wanted_status = p.get("symbolStatus").unwrap_or("TRADING");
        let symbols: Vec<Value> = if wanted_status == "TRADING" {
            chosen.iter().map(|i| symbol_info(&market.instruments()[*i])).collect()
        } else {
            Vec::new()
        };
        Ok(json!({
            "timezone": "UTC",
            "serverTime": market.now_ms(),
            "rateLimits": [
                { "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                  "limit": self.limits.request_weight_per_minute },
                { "rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                  "limit": self.limits.orders_per_10s },
                { "rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                  "limit": self.limits.orders_per_day },
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }))
    }

    fn depth(&self, ctx: &Ctx, p: &Params) -> Result<Value, BinanceError> {
        p.only(&["symbol", "limit", "symbolStatus"])?;
        let (idx, inst) = self.symbol(&ctx.market, p.required("symbol")?)?;
        let limit = match p.get("limit") {
            None => DEPTH_DEFAULT_LIMIT,
            Some(text) => {
                let n = integer_param("limit", text)?;
                if n < 1 {
                    return Err(BinanceError::InvalidParamData("limit"));
                }
                // "If limit > 5000, then the response will truncate to 5000."
                usize::try_from(n).unwrap_or(DEPTH_MAX_LIMIT).min(DEPTH_MAX_LIMIT)
            }
        };
        let snap = ctx.market.snapshot(idx, limit).ok_or(BinanceError::InvalidSymbol)?;
        Ok(json!({
            "lastUpdateId": snap.update_id,
            "bids": levels_json(inst, &snap.bids),
            "asks": levels_json(inst, &snap.asks),
        }))
    }

    fn new_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Reply, BinanceError> {
        let account = self.authenticate(ctx, req, p)?;
        p.only(&with_signed(&[
            "symbol",
            "side",
            "type",
            "timeInForce",
            "quantity",
            "quoteOrderQty",
            "price",
            "newClientOrderId",
            "strategyId",
            "strategyType",
            "stopPrice",
            "trailingDelta",
            "icebergQty",
            "newOrderRespType",
            "selfTradePreventionMode",
            "pegPriceType",
            "pegOffsetValue",
            "pegOffsetType",
        ]))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let side = match p.required("side")? {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            _ => return Err(BinanceError::InvalidSide),
        };
        let kind = p.required("type")?;
        let (order_type, maker_only) = match kind {
            "LIMIT" => (OrderType::Limit, false),
            "LIMIT_MAKER" => (OrderType::Limit, true),
            "MARKET" => (OrderType::Market, false),
            "STOP_LOSS" => {
                return Err(BinanceError::NewOrderRejected("Stop loss orders are not supported for this symbol."));
            }
            "STOP_LOSS_LIMIT" => {
                return Err(BinanceError::NewOrderRejected(
                    "Stop loss limit orders are not supported for this symbol.",
                ));
            }
            "TAKE_PROFIT" => {
                return Err(BinanceError::NewOrderRejected("Take profit orders are not supported for this symbol."));
            }
            "TAKE_PROFIT_LIMIT" => {
                return Err(BinanceError::NewOrderRejected(
                    "Take profit limit orders are not supported for this symbol.",
                ));
            }
            _ => return Err(BinanceError::InvalidOrderType),
        };
        let tif = match order_type {
            OrderType::Market => {
                for extra in ["price", "timeInForce"] {
                    if p.get(extra).is_some() {
                        return Err(BinanceError::ParamNotRequired(extra));
                    }
                }
                // The engine fills what the book has and expires the rest, as Binance does.
                TimeInForce::Ioc
            }
            OrderType::Limit if maker_only => {
                if p.get("timeInForce").is_some() {
                    return Err(BinanceError::ParamNotRequired("timeInForce"));
                }
                TimeInForce::PostOnly
            }
            OrderType::Limit => match p.required("timeInForce")? {
                "GTC" => TimeInForce::Gtc,
                "IOC" => TimeInForce::Ioc,
                "FOK" => TimeInForce::Fok,
                _ => return Err(BinanceError::InvalidTimeInForce),
            },
        };
        if order_type == OrderType::Market && p.get("quoteOrderQty").is_some() {
            return Err(BinanceError::NewOrderRejected(
                "Quote order qty market orders are not support for this symbol.",
            ));
        }
        if p.get("quoteOrderQty").is_some() {
            return Err(BinanceError::ParamNotRequired("quoteOrderQty"));
        }
        if p.get("icebergQty").is_some() {
            return Err(BinanceError::NewOrderRejected("Iceberg orders are not supported for this symbol."));
        }
        for unsupported in ["stopPrice", "trailingDelta", "pegPriceType", "pegOffsetValue", "pegOffsetType"] {
            if p.get(unsupported).is_some() {
                return Err(BinanceError::ParamNotRequired(unsupported));
            }
        }
        let qty_text = match (order_type, p.get("quantity")) {
            (_, Some(q)) => q,
            (OrderType::Market, None) => return Err(BinanceError::EitherParam("quantity", "quoteOrderQty")),
            (OrderType::Limit, None) => return Err(BinanceError::MandatoryParam("quantity")),
        };
        let price_text = match order_type {
            OrderType::Limit => Some(p.required("price")?),
            OrderType::Market => None,
        };
        let resp_type = match p.get("newOrderRespType") {
            None if order_type == OrderType::Limit && maker_only => RespType::Ack,
            None => RespType::Full,
            Some("ACK") => RespType::Ack,
            Some("RESULT") => RespType::Result,
            Some("FULL") => RespType::Full,
            Some(_) => return Err(BinanceError::InvalidParamData("newOrderRespType")),
        };
        if p.get("selfTradePreventionMode").is_some_and(|m| m != STP_MODE) {
            return Err(BinanceError::InvalidParamData("selfTradePreventionMode"));
        }
        let client_order_id = match p.raw("newClientOrderId") {
            None => None,
            Some("") => return Err(BinanceError::EmptyNewClientOrderId),
            Some(id) if !valid_client_id(id) => {
                return Err(BinanceError::IllegalParam { param: "newClientOrderId", range: CLIENT_ID_RANGE });
            }
            Some(id) => Some(id.to_string()),
        };
        if let Some(id) = p.get("strategyId") {
            integer_param("strategyId", id)?;
        }
        if let Some(t) = p.get("strategyType")
            && integer_param("strategyType", t)? < 1_000_000
        {
            return Err(BinanceError::InvalidParamData("strategyType"));
        }
        // Exact parsing onto the instrument's grid. A value with more decimals than the grid is
        // off the tick or lot: the filter the engine would name, in the engine's order.
        let price = match price_text {
            None => None,
            Some(text) => match decimal_param("price", text, |t| inst.parse_price(t))? {
                Some(price) if price.units() <= inst.tick().units().saturating_mul(MAX_TICKS) => Some(price),
                _ => return Err(BinanceError::FilterFailure("PRICE_FILTER")),
            },
        };
        let qty = match decimal_param("quantity", qty_text, |t| inst.parse_qty(t))? {
            Some(qty) if qty.units() <= inst.lot().units().saturating_mul(MAX_LOTS) => qty,
            _ if price.is_some_and(|p| !inst.is_on_tick(p)) => return Err(BinanceError::FilterFailure("PRICE_FILTER")),
            _ => return Err(BinanceError::FilterFailure("LOT_SIZE")),
        };
        let now_ms = market.now_ms();
        let headers = self.count_order(account, now_ms)?;
        let outcome = market.submit(
            account,
            symbol,
            ClientOrderRequest { client_order_id: client_order_id.clone(), side, order_type, tif, price, qty },
        );
        std::thread::sleep(ctx.faults.ack_latency());
        let outcome = match outcome {
            Ok(o) => o,
            Err(OrderReject::Reason(RejectReason::FokUnfillable)) => {
                // The engine refuses an unfillable FOK outright; Binance accepts it and expires
                // it at once. Answer as Binance does, with an id no other order uses.
                let view = OrderView {
                    symbol,
                    venue_order_id: (1 << 48) + self.next_sequence(),
                    client_order_id: client_order_id.unwrap_or_else(|| format!("sim{:016x}", self.next_sequence())),
                    side,
                    order_type,
                    tif,
                    price: price.unwrap_or(Price::ZERO),
                    qty,
                    cum_qty: Qty::ZERO,
                    cum_quote: Notional::ZERO,
                    status: OrderStatus::Expired,
                    created: WallClock.now(),
                    updated: WallClock.now(),
                };
                OrderOutcome { order: view, fills: Vec::new() }
            }
            Err(e) => return Err(submit_error(e)),
        };
        let body = order_response(inst, &outcome, resp_type);
        Ok(Reply { body, headers })
    }

    /// Reads `orderId` / `origClientOrderId` (at least one).
    fn order_ref(p: &Params) -> Result<OrderRef, BinanceError> {
        if let Some(id) = p.get("orderId") {
            let id = integer_param("orderId", id)?;
            return Ok(OrderRef::Venue(u64::try_from(id).unwrap_or(0)));
        }
        match p.raw("origClientOrderId") {
            Some("") => Err(BinanceError::EmptyOrigClientOrderId),
            Some(id) => Ok(OrderRef::Client(id.to_string())),
            None => Err(BinanceError::EitherParam("origClientOrderId", "orderId")),
        }
    }

    /// Remembers the client id of a user cancel for the order's `executionReport`.
    fn remember_cancel_id(&self, account: AccountId, symbol: usize, order_id: u64, cancel_id: &str) {
        let mut c = lock(&self.cancel_ids);
        let key = (account, symbol, order_id);
        if c.by_order.insert(key, cancel_id.to_string()).is_none() {
            c.order.push_back(key);
        }
        while c.order.len() > CANCEL_IDS_KEPT {
            if let Some(old) = c.order.pop_front() {
                c.by_order.remove(&old);
            }
        }
    }

    fn cancel_id_of(&self, account: AccountId, symbol: usize, order_id: u64) -> Option<String> {
        lock(&self.cancel_ids).by_order.get(&(account, symbol, order_id)).cloned()
    }

    fn generated_cancel_id(&self) -> String {
        format!("cancel{:016x}", self.next_sequence())
    }

    /// Cancels one open order, recording `cancel_id` first so the stream can name it.
    fn cancel_one(
        &self,
        market: &Market,
        account: AccountId,
        symbol: usize,
        order: &OrderView,
        cancel_id: &str,
    ) -> Result<OrderView, BinanceError> {
        self.remember_cancel_id(account, symbol, order.venue_order_id, cancel_id);
        market
            .cancel(account, symbol, &OrderRef::Venue(order.venue_order_id))
            .map_err(|_| BinanceError::CancelRejected(UNKNOWN_ORDER))
    }

    fn cancel_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = self.authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol", "orderId", "origClientOrderId", "newClientOrderId", "cancelRestrictions"]))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let r = Self::order_ref(p)?;
        let cancel_id = match p.raw("newClientOrderId") {
            None | Some("") => self.generated_cancel_id(),
            Some(id) if !valid_client_id(id) => {
                return Err(BinanceError::IllegalParam { param: "newClientOrderId", range: CLIENT_ID_RANGE });
            }
            Some(id) => id.to_string(),
        };
        let restriction = match p.get("cancelRestrictions") {
            None => None,
            Some("ONLY_NEW") => Some(OrderStatus::New),
            Some("ONLY_PARTIALLY_FILLED") => Some(OrderStatus::PartiallyFilled),
            Some(_) => return Err(BinanceError::InvalidParamData("cancelRestrictions")),
        };
        let found = market.order(account, symbol, &r);
        let result = match found {
            Some(order) if matches!(order.status, OrderStatus::New | OrderStatus::PartiallyFilled) => {
                if restriction.is_some_and(|s| s != order.status) {
                    std::thread::sleep(ctx.faults.ack_latency());
                    return Err(BinanceError::CancelRejected("Order was not canceled due to cancel restrictions."));
                }
                self.cancel_one(market, account, symbol, &order, &cancel_id)
            }
            _ => Err(BinanceError::CancelRejected(UNKNOWN_ORDER)),
        };
        std::thread::sleep(ctx.faults.ack_latency());
        let view = result?;
        Ok(cancel_json(inst, &view, &cancel_id, market.now_ms()))
    }

    fn cancel_open_orders(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = self.authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol"]))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let open = market.open_orders(account, Some(symbol));
        let mut out = Vec::new();
        for order in &open {
            let cancel_id = self.generated_cancel_id();
            if let Ok(view) = self.cancel_one(market, account, symbol, order, &cancel_id) {
                out.push(cancel_json(inst, &view, &cancel_id, market.now_ms()));
            }
        }
        std::thread::sleep(ctx.faults.ack_latency());
        if out.is_empty() {
            return Err(BinanceError::CancelRejected(UNKNOWN_ORDER));
        }
        Ok(Value::Array(out))
    }

    fn query_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = self.authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol", "orderId", "origClientOrderId"]))?;
        let (symbol, inst) = self.symbol(&ctx.market, p.required("symbol")?)?;
        let r = Self::order_ref(p)?;
        let order = ctx.market.order(account, symbol, &r).ok_or(BinanceError::NoSuchOrder)?;
        Ok(query_json(inst, &order))
    }

    fn open_orders(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = self.authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol"]))?;
        let market = &ctx.market;
        let symbol = match p.get("symbol") {
            Some(s) => Some(self.symbol(market, s)?.0),
            None => None,
        };
        let orders = market.open_orders(account, symbol);
        let spot =
            |o: &&OrderView| market.instruments().get(o.symbol).is_some_and(|i| i.kind() == InstrumentKind::Spot);
        Ok(Value::Array(orders.iter().filter(spot).map(|o| query_json(&market.instruments()[o.symbol], o)).collect()))
    }

    fn account(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = self.authenticate(ctx, req, p)?;
        p.only(&with_signed(&["omitZeroBalances"]))?;
        let omit_zero = match p.get("omitZeroBalances") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(BinanceError::InvalidParamData("omitZeroBalances")),
        };
        let balances: Vec<Value> = ctx
            .market
            .balances(account)
            .iter()
            .filter(|b| !(omit_zero && b.free.is_zero() && b.locked.is_zero()))
            .map(|b| json!({ "asset": b.asset, "free": amount_text(b.free), "locked": amount_text(b.locked) }))
            .collect();
        // The market does not expose its fee schedule, so the commission fields read zero.
        Ok(json!({
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": { "maker": "0.00000000", "taker": "0.00000000", "buyer": "0.00000000", "seller": "0.00000000" },
            "canTrade": true,
            "canWithdraw": true,
            "canDeposit": true,
            "brokered": false,
            "requireSelfTradePrevention": false,
            "preventSor": false,
            "updateTime": ctx.market.now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": account.0,
        }))
    }

    fn listen_key_start(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, secret) = self.api_key(ctx, req)?;
        p.only(&[])?;
        let now = ctx.market.now_ms();
        let expires_ms =
            now.saturating_add(i64::try_from(self.limits.listen_key_validity.as_millis()).unwrap_or(i64::MAX));
        let mut keys = lock(&self.listen_keys);
        // "If the account has an active listenKey, that listenKey will be returned and its
        // validity will be extended for 60 minutes."
        if let Some((key, lk)) = keys.iter_mut().find(|(_, lk)| lk.account == account && lk.expires_ms > now) {
            lk.expires_ms = expires_ms;
            return Ok(json!({ "listenKey": key }));
        }
        keys.retain(|_, lk| lk.expires_ms > now);
        let seed = format!("{}:{}:{}", account.0, WallClock.now().0, self.next_sequence());
        let key: String = signing::hmac_sha256_hex(&secret, seed.as_bytes()).chars().take(60).collect();
        keys.insert(key.clone(), ListenKey { account, expires_ms });
        Ok(json!({ "listenKey": key }))
    }

    /// The listen key named by the request, checked to belong to the caller.
    fn listen_key_param<'p>(
        &self,
        ctx: &Ctx,
        req: &HttpRequest,
        p: &'p Params,
    ) -> Result<(&'p str, i64), BinanceError> {
        let (account, _) = self.api_key(ctx, req)?;
        p.only(&["listenKey"])?;
        let key = p.required("listenKey")?;
        let now = ctx.market.now_ms();
        let keys = lock(&self.listen_keys);
        match keys.get(key) {
            Some(lk) if lk.account == account && lk.expires_ms > now => Ok((key, now)),
            _ => Err(BinanceError::InvalidListenKey),
        }
    }

    fn listen_key_keepalive(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (key, now) = self.listen_key_param(ctx, req, p)?;
        let validity = i64::try_from(self.limits.listen_key_validity.as_millis()).unwrap_or(i64::MAX);
        if let Some(lk) = lock(&self.listen_keys).get_mut(key) {
            lk.expires_ms = now.saturating_add(validity);
        }
        Ok(json!({}))
    }

    fn listen_key_close(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (key, _) = self.listen_key_param(ctx, req, p)?;
        lock(&self.listen_keys).remove(key);
        Ok(json!({}))
    }

    /// The account of a live listen key.
    fn listen_key_account(&self, key: &str, now_ms: i64) -> Option<AccountId> {
        lock(&self.listen_keys).get(key).filter(|lk| lk.expires_ms > now_ms).map(|lk| lk.account)
    }

    /// An `executionReport` for one order event.
    fn execution_report(
        &self,
        market: &Market,
        exec: &ExecKind,
        order: &OrderView,
        account: AccountId,
    ) -> Option<Value> {
        let inst = market.instruments().get(order.symbol)?;
        let zero_qty = qty_text(inst, Qty::ZERO);
        let (x, t, l, last_px, last_quote, fee, maker, tx_time) = match exec {
            ExecKind::New => (
                "NEW",
                -1i64,
                zero_qty.clone(),
                price_text(inst, Price::ZERO),
                amount_text(Notional::ZERO),
                None,
                false,
                order.created,
            ),
            ExecKind::Trade(f) => {
                let quote = inst.notional(f.price, f.qty, qt_core::Rounding::Nearest).unwrap_or(Notional::ZERO);
                let id = i64::try_from(f.trade_id).unwrap_or(i64::MAX);
                (
                    "TRADE",
                    id,
                    qty_text(inst, f.qty),
                    price_text(inst, f.price),
                    amount_text(quote),
                    Some(f.fee),
                    f.is_maker,
                    f.ts,
                )
            }
            ExecKind::Canceled => (
                "CANCELED",
                -1,
                zero_qty.clone(),
                price_text(inst, Price::ZERO),
                amount_text(Notional::ZERO),
                None,
                false,
                order.updated,
            ),
            ExecKind::Expired => (
                "EXPIRED",
                -1,
                zero_qty.clone(),
                price_text(inst, Price::ZERO),
                amount_text(Notional::ZERO),
                None,
                false,
                order.updated,
            ),
        };
        let (c, orig_c) = match exec {
            ExecKind::Canceled => match self.cancel_id_of(account, order.symbol, order.venue_order_id) {
                Some(cancel_id) => (cancel_id, order.client_order_id.clone()),
                None => (order.client_order_id.clone(), String::new()),
            },
            _ => (order.client_order_id.clone(), String::new()),
        };
        let on_book = rests(order) && matches!(order.status, OrderStatus::New | OrderStatus::PartiallyFilled);
        let mut v = json!({
            "e": "executionReport",
            "E": market.now_ms(),
            "s": inst.symbol(),
            "c": c,
            "S": side_text(order.side),
            "o": type_text(order),
            "f": tif_text(order),
            "q": qty_text(inst, order.qty),
            "p": price_text(inst, order.price),
            "P": price_text(inst, Price::ZERO),
            "F": qty_text(inst, Qty::ZERO),
            "g": -1,
            "C": orig_c,
            "x": x,
            "X": status_text(order.status),
            "r": "NONE",
            "i": order.venue_order_id,
            "l": l,
            "z": qty_text(inst, order.cum_qty),
            "L": last_px,
            "n": fee.map_or_else(|| "0".to_string(), amount_text),
            "N": if fee.is_some() { Value::from(inst.quote()) } else { Value::Null },
            "T": ms(tx_time),
            "t": t,
            "I": self.execution_ids.fetch_add(1, Ordering::Relaxed),
            "w": on_book,
            "m": maker,
            "M": false,
            "O": ms(order.created),
            "Z": amount_text(order.cum_quote),
            "Y": last_quote,
            "Q": amount_text(Notional::ZERO),
            "V": STP_MODE,
        });
        // "Working Time; This is only visible if the order has been placed on the book."
        if rests(order)
            && let Some(obj) = v.as_object_mut()
        {
            obj.insert("W".into(), Value::from(ms(order.created)));
        }
        Some(v)
    }
}

fn submit_error(e: OrderReject) -> BinanceError {
    match e {
        OrderReject::Reason(RejectReason::PriceFilter) => BinanceError::FilterFailure("PRICE_FILTER"),
        OrderReject::Reason(RejectReason::LotSize) => BinanceError::FilterFailure("LOT_SIZE"),
        OrderReject::Reason(RejectReason::MinNotional) => BinanceError::FilterFailure("NOTIONAL"),
        OrderReject::Reason(RejectReason::WouldTakeLiquidity) => {
            BinanceError::NewOrderRejected("Order would immediately match and take.")
        }
        OrderReject::Reason(RejectReason::InsufficientBalance) | OrderReject::InsufficientBalance => {
            BinanceError::NewOrderRejected("Account has insufficient balance for requested action.")
        }
        OrderReject::Reason(RejectReason::UnknownInstrument) | OrderReject::UnknownSymbol => {
            BinanceError::InvalidSymbol
        }
        OrderReject::DuplicateClientOrderId => BinanceError::NewOrderRejected("Duplicate order sent."),
        OrderReject::Reason(RejectReason::Other) => {
            // Arithmetic limits of the engine, or a market order into an empty book.
            BinanceError::NewOrderRejected("Order book liquidity is less than symbol minimum quantity.")
        }
        _ => BinanceError::Unknown,
    }
}

pub(crate) fn levels_json(inst: &Instrument, levels: &[(Price, Qty)]) -> Value {
    Value::Array(levels.iter().map(|(p, q)| json!([price_text(inst, *p), qty_text(inst, *q)])).collect())
}

/// One `exchangeInfo` symbol with filters from the instrument's exact grid.
fn symbol_info(inst: &Instrument) -> Value {
    let tick = inst.tick();
    let lot = inst.lot();
    let max_price = Price::from_units(tick.units().saturating_mul(MAX_TICKS));
    let max_qty = Qty::from_units(lot.units().saturating_mul(MAX_LOTS));
    let max_notional = inst.notional(max_price, max_qty, qt_core::Rounding::Up).unwrap_or(Notional::MAX);
    json!({
        "symbol": inst.symbol(),
        "status": "TRADING",
        "baseAsset": inst.base(),
        "baseAssetPrecision": WIRE_DECIMALS,
        "quoteAsset": inst.quote(),
        "quotePrecision": WIRE_DECIMALS,
        "quoteAssetPrecision": WIRE_DECIMALS,
        "baseCommissionPrecision": WIRE_DECIMALS,
        "quoteCommissionPrecision": WIRE_DECIMALS,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": false,
        "ocoAllowed": false,
        "otoAllowed": false,
        "quoteOrderQtyMarketAllowed": false,
        "allowTrailingStop": false,
        "cancelReplaceAllowed": false,
        "amendAllowed": false,
        "isSpotTradingAllowed": true,
        "isMarginTradingAllowed": false,
        "filters": [
            { "filterType": "PRICE_FILTER", "minPrice": price_text(inst, tick), "maxPrice": price_text(inst, max_price),
              "tickSize": price_text(inst, tick) },
            { "filterType": "LOT_SIZE", "minQty": qty_text(inst, inst.min_qty()), "maxQty": qty_text(inst, max_qty),
              "stepSize": qty_text(inst, lot) },
            { "filterType": "NOTIONAL", "minNotional": amount_text(inst.min_notional()), "applyMinToMarket": true,
              "maxNotional": amount_text(max_notional), "applyMaxToMarket": false, "avgPriceMins": 0 },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": STP_MODE,
        "allowedSelfTradePreventionModes": [STP_MODE],
    })
}

/// The `POST /api/v3/order` answer in `resp_type`.
fn order_response(inst: &Instrument, outcome: &OrderOutcome, resp_type: RespType) -> Value {
    let o = &outcome.order;
    let mut v = json!({
        "symbol": inst.symbol(),
        "orderId": o.venue_order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "transactTime": ms(o.created),
    });
    if resp_type == RespType::Ack {
        return v;
    }
    if let Some(obj) = v.as_object_mut() {
        let more = json!({
            "price": price_text(inst, o.price),
            "origQty": qty_text(inst, o.qty),
            "executedQty": qty_text(inst, o.cum_qty),
            "origQuoteOrderQty": amount_text(Notional::ZERO),
            "cummulativeQuoteQty": amount_text(o.cum_quote),
            "status": status_text(o.status),
            "timeInForce": tif_text(o),
            "type": type_text(o),
            "side": side_text(o.side),
            "workingTime": ms(o.created),
            "selfTradePreventionMode": STP_MODE,
        });
        if let Value::Object(m) = more {
            obj.extend(m);
        }
        if resp_type == RespType::Full {
            obj.insert("fills".into(), Value::Array(outcome.fills.iter().map(|f| fill_json(inst, f)).collect()));
        }
    }
    v
}

fn fill_json(inst: &Instrument, f: &FillView) -> Value {
    json!({
        "price": price_text(inst, f.price),
        "qty": qty_text(inst, f.qty),
        "commission": amount_text(f.fee),
        "commissionAsset": inst.quote(),
        "tradeId": f.trade_id,
    })
}

/// The `DELETE /api/v3/order` answer (one element of `DELETE /api/v3/openOrders`).
fn cancel_json(inst: &Instrument, o: &OrderView, cancel_id: &str, now_ms: i64) -> Value {
    json!({
        "symbol": inst.symbol(),
        "origClientOrderId": o.client_order_id,
        "orderId": o.venue_order_id,
        "orderListId": -1,
        "clientOrderId": cancel_id,
        "transactTime": now_ms,
        "price": price_text(inst, o.price),
        "origQty": qty_text(inst, o.qty),
        "executedQty": qty_text(inst, o.cum_qty),
        "origQuoteOrderQty": amount_text(Notional::ZERO),
        "cummulativeQuoteQty": amount_text(o.cum_quote),
        "status": status_text(o.status),
        "timeInForce": tif_text(o),
        "type": type_text(o),
        "side": side_text(o.side),
        "selfTradePreventionMode": STP_MODE,
    })
}

/// The `GET /api/v3/order` answer (one element of `GET /api/v3/openOrders`).
fn query_json(inst: &Instrument, o: &OrderView) -> Value {
    json!({
        "symbol": inst.symbol(),
        "orderId": o.venue_order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": price_text(inst, o.price),
        "origQty": qty_text(inst, o.qty),
        "executedQty": qty_text(inst, o.cum_qty),
        "cummulativeQuoteQty": amount_text(o.cum_quote),
        "status": status_text(o.status),
        "timeInForce": tif_text(o),
        "type": type_text(o),
        "side": side_text(o.side),
        "stopPrice": price_text(inst, Price::ZERO),
        "icebergQty": qty_text(inst, Qty::ZERO),
        "time": ms(o.created),
        "updateTime": ms(o.updated),
        "isWorking": true,
        "workingTime": ms(o.created),
        "origQuoteOrderQty": amount_text(Notional::ZERO),
        "selfTradePreventionMode": STP_MODE,
    })
}

fn account_position_json(ts: Nanos, balances: &[BalanceView], now_ms: i64) -> Value {
    json!({
        "e": "outboundAccountPosition",
        "E": now_ms,
        "u": ms(ts),
        "B": balances.iter().map(|b| json!({ "a": b.asset, "f": amount_text(b.free), "l": amount_text(b.locked) })).collect::<Vec<_>>(),
    })
}

impl Protocol for BinanceSpot {
    fn name(&self) -> &'static str {
        "binance"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == "/ws" || path.starts_with("/ws/") || path == "/stream" || path == "/stream/"
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

    fn run_ws(&self, ctx: &Ctx, path: &str, query: &str, ws: &mut dyn WsSession) {
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

/// A stream a session can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stream {
    /// `<symbol>@depth[@100ms]`.
    Diff { symbol: usize, every: Duration },
    /// `<symbol>@depth<levels>[@100ms]`.
    Partial { symbol: usize, levels: usize, every: Duration },
    /// `<symbol>@bookTicker`.
    BookTicker { symbol: usize },
    /// `<symbol>@trade`.
    Trade { symbol: usize },
    /// A listen key.
    User { listen_key: String },
}

impl Stream {
    fn symbol(&self) -> Option<usize> {
        match self {
            Stream::Diff { symbol, .. }
            | Stream::Partial { symbol, .. }
            | Stream::BookTicker { symbol }
            | Stream::Trade { symbol } => Some(*symbol),
            Stream::User { .. } => None,
        }
    }
}

/// Per-stream state of a session.
#[derive(Debug)]
enum StreamState {
    /// Book operations since the last diff, and when the window closes.
    Diff {
        pending: Vec<Arc<BookUpdate>>,
        next_flush: Instant,
    },
    Partial {
        next_flush: Instant,
    },
    BookTicker {
        last: Option<((Price, Qty), (Price, Qty))>,
    },
    Trade,
    User {
        account: AccountId,
        rx: Receiver<Arc<AccountEvent>>,
    },
}

#[derive(Debug)]
struct Subscription {
    name: String,
    stream: Stream,
    state: StreamState,
}

/// Something queued for the client.
#[derive(Debug)]
enum Outgoing {
    /// A stream message (subject to frame faults).
    Data(String),
    /// A user data stream message (subject to frame faults and to account frame faults).
    Account(String),
    /// A reply to a control request.
    Control(String),
}

/// Why a stream name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadStream(String);

/// A live subscription request from the client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlRequest {
    method: ControlMethod,
    #[serde(default)]
    params: Option<Vec<Value>>,
    #[serde(default)]
    #[allow(dead_code, reason = "checked on the raw JSON, where a missing id differs from null")]
    id: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types, reason = "the wire names, matched by serde")]
enum ControlMethod {
    SUBSCRIBE,
    UNSUBSCRIBE,
    LIST_SUBSCRIPTIONS,
    SET_PROPERTY,
    GET_PROPERTY,
}

/// One WebSocket session: its subscriptions, the market feeds behind them, and what is queued
/// for the client.
struct Session<'a> {
    venue: &'a BinanceSpot,
    ctx: &'a Ctx,
    combined: bool,
    subs: Vec<Subscription>,
    /// One book feed per symbol any subscription needs.
    books: HashMap<usize, Receiver<Arc<BookUpdate>>>,
    outbox: VecDeque<Outgoing>,
    next_ping: Instant,
    next_key_check: Instant,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("combined", &self.combined)
            .field("subs", &self.subs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>())
            .field("queued", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Session<'a> {
    fn new(venue: &'a BinanceSpot, ctx: &'a Ctx, combined: bool) -> Self {
        let now = Instant::now();
        Self {
            venue,
            ctx,
            combined,
            subs: Vec::new(),
            books: HashMap::new(),
            outbox: VecDeque::new(),
            next_ping: now + venue.limits.ws_ping_interval,
            next_key_check: now + LISTEN_KEY_CHECK,
        }
    }

    /// Parses a stream name (lower-case symbol, Binance's suffixes) or a live listen key.
    fn parse_stream(&self, name: &str) -> Result<Stream, BadStream> {
        let bad = || BadStream(name.to_string());
        let Some((sym, kind)) = name.split_once('@') else {
            return self
                .venue
                .listen_key_account(name, self.ctx.market.now_ms())
                .map(|_| Stream::User { listen_key: name.to_string() })
                .ok_or_else(bad);
        };
        if sym.is_empty() || sym.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let market = &self.ctx.market;
        let symbol = market
            .instruments()
            .iter()
            .position(|i| i.kind() == InstrumentKind::Spot && i.symbol().eq_ignore_ascii_case(sym))
            .ok_or_else(bad)?;
        let second = Duration::from_millis(1000);
        let fast = Duration::from_millis(100);
        let stream = match kind {
            "depth" | "depth@1000ms" => {
                Stream::Diff { symbol, every: self.venue.limits.diff_interval.unwrap_or(second) }
            }
            "depth@100ms" => Stream::Diff { symbol, every: self.venue.limits.diff_interval.unwrap_or(fast) },
            "bookTicker" => Stream::BookTicker { symbol },
            "trade" => Stream::Trade { symbol },
            other => {
                let (levels, every) = match other.split_once('@') {
                    Some((l, "100ms")) => (l, fast),
                    Some((l, "1000ms")) => (l, second),
                    Some(_) => return Err(bad()),
                    None => (other, second),
                };
                match levels {
                    "depth5" => Stream::Partial { symbol, levels: 5, every },
                    "depth10" => Stream::Partial { symbol, levels: 10, every },
                    "depth20" => Stream::Partial { symbol, levels: 20, every },
                    _ => return Err(bad()),
                }
            }
        };
        Ok(stream)
    }

    fn subscribe(&mut self, name: &str) -> Result<(), BadStream> {
        if self.subs.iter().any(|s| s.name == name) {
            return Ok(());
        }
        let stream = self.parse_stream(name)?;
        let now = Instant::now();
        let market = &self.ctx.market;
        if let Some(symbol) = stream.symbol()
            && !self.books.contains_key(&symbol)
        {
            let (_, rx) = market.subscribe_book(symbol, 0).ok_or_else(|| BadStream(name.to_string()))?;
            self.books.insert(symbol, rx);
        }
        let state = match &stream {
            Stream::Diff { every, .. } => StreamState::Diff { pending: Vec::new(), next_flush: now + *every },
            Stream::Partial { every, .. } => StreamState::Partial { next_flush: now + *every },
            Stream::BookTicker { .. } => StreamState::BookTicker { last: None },
            Stream::Trade { .. } => StreamState::Trade,
            Stream::User { listen_key } => {
                let account = self
                    .venue
                    .listen_key_account(listen_key, market.now_ms())
                    .ok_or_else(|| BadStream(name.to_string()))?;
                let rx = market.subscribe_account(account).ok_or_else(|| BadStream(name.to_string()))?;
                StreamState::User { account, rx }
            }
        };
        self.subs.push(Subscription { name: name.to_string(), stream, state });
        Ok(())
    }

    fn unsubscribe(&mut self, name: &str) {
        self.subs.retain(|s| s.name != name);
        let needed: Vec<usize> = self.subs.iter().filter_map(|s| s.stream.symbol()).collect();
        self.books.retain(|symbol, _| needed.contains(symbol));
    }

    fn reply(&mut self, v: Value) {
        self.outbox.push_back(Outgoing::Control(v.to_string()));
    }

    /// Handles one text frame from the client (Binance's live subscription requests).
    fn on_control(&mut self, text: &str) {
        let raw: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.reply(json!({ "code": 3, "msg": format!("Invalid JSON: {e}") }));
                return;
            }
        };
        let id = raw.get("id").cloned();
        let req: ControlRequest = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                self.reply(json!({ "code": 2, "msg": format!("Invalid request: {e}"), "id": id }));
                return;
            }
        };
        let id = match id {
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Value::Number(n),
            Some(Value::String(s)) if s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric()) => Value::String(s),
            Some(Value::Null) => Value::Null,
            _ => {
                self.reply(json!({ "code": 2, "msg": "Invalid request: request ID must be an unsigned integer" }));
                return;
            }
        };
        let params = req.params.unwrap_or_default();
        match req.method {
            ControlMethod::SUBSCRIBE | ControlMethod::UNSUBSCRIBE => {
                let mut names = Vec::new();
                for p in &params {
                    match p.as_str() {
                        Some(n) => names.push(n.to_string()),
                        None => {
                            self.reply(
                                json!({ "code": 2, "msg": "Invalid request: stream names must be strings", "id": id }),
                            );
                            return;
                        }
                    }
                }
                if matches!(req.method, ControlMethod::SUBSCRIBE) {
                    if let Some(bad) = names.iter().find(|n| self.parse_stream(n).is_err()) {
                        let msg = format!("Invalid request: unknown stream `{bad}`");
                        self.reply(json!({ "code": 2, "msg": msg, "id": id }));
                        return;
                    }
                    for n in &names {
                        if let Err(BadStream(bad)) = self.subscribe(n) {
                            let msg = format!("Invalid request: unknown stream `{bad}`");
                            self.reply(json!({ "code": 2, "msg": msg, "id": id }));
                            return;
                        }
                    }
                } else {
                    for n in &names {
                        self.unsubscribe(n);
                    }
                }
                self.reply(json!({ "result": null, "id": id }));
            }
            ControlMethod::LIST_SUBSCRIPTIONS => {
                let names: Vec<&str> = self.subs.iter().map(|s| s.name.as_str()).collect();
                let v = json!({ "result": names, "id": id });
                self.reply(v);
            }
            ControlMethod::SET_PROPERTY => match params.as_slice() {
                [Value::String(name), value] if name == "combined" => match value.as_bool() {
                    Some(b) => {
                        self.combined = b;
                        self.reply(json!({ "result": null, "id": id }));
                    }
                    None => self.reply(json!({ "code": 1, "msg": "Invalid value type: expected Boolean", "id": id })),
                },
                [Value::String(_), _] => self.reply(json!({ "code": 0, "msg": "Unknown property", "id": id })),
                _ => {
                    self.reply(json!({ "code": 2, "msg": "Invalid request: property name must be a string", "id": id }))
                }
            },
            ControlMethod::GET_PROPERTY => match params.as_slice() {
                [Value::String(name)] if name == "combined" => {
                    let v = json!({ "result": self.combined, "id": id });
                    self.reply(v);
                }
                [Value::String(_)] => self.reply(json!({ "code": 0, "msg": "Unknown property", "id": id })),
                _ => {
                    self.reply(json!({ "code": 2, "msg": "Invalid request: property name must be a string", "id": id }))
                }
            },
        }
    }

    /// Moves market and account events into the subscriptions; `Err` if a feed was dropped
    /// for falling behind (the session must end, as Binance disconnects a slow consumer).
    fn pump(&mut self) -> Result<(), ()> {
        let mut updates: Vec<Arc<BookUpdate>> = Vec::new();
        for rx in self.books.values() {
            loop {
                match rx.try_recv() {
                    Ok(u) => updates.push(u),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Err(()),
                }
            }
        }
        let market = self.ctx.market.clone();
        let now_ms = market.now_ms();
        let mut out: Vec<String> = Vec::new();
        for u in &updates {
            let Some(inst) = market.instruments().get(u.symbol) else { continue };
            for sub in self.subs.iter_mut().filter(|s| s.stream.symbol() == Some(u.symbol)) {
                match &mut sub.state {
                    StreamState::Diff { pending, .. } => {
                        if !u.levels.is_empty() {
                            pending.push(u.clone());
                        }
                    }
                    StreamState::BookTicker { last } => {
                        let (Some(bid), Some(ask)) = (u.best_bid, u.best_ask) else { continue };
                        if *last != Some((bid, ask)) {
                            *last = Some((bid, ask));
                            let payload = json!({
                                "u": u.update_id,
                                "s": inst.symbol(),
                                "b": price_text(inst, bid.0),
                                "B": qty_text(inst, bid.1),
                                "a": price_text(inst, ask.0),
                                "A": qty_text(inst, ask.1),
                            });
                            out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
                        }
                    }
                    StreamState::Trade => {
                        for t in &u.trades {
                            let payload = json!({
                                "e": "trade",
                                "E": now_ms,
                                "s": inst.symbol(),
                                "t": t.trade_id,
                                "p": price_text(inst, t.price),
                                "q": qty_text(inst, t.qty),
                                "T": ms(t.ts),
                                "m": t.aggressor == Side::Sell,
                                "M": true,
                            });
                            out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
                        }
                    }
                    StreamState::Partial { .. } | StreamState::User { .. } => {}
                }
            }
        }
        let mut account_out = Vec::new();
        for sub in &self.subs {
            let StreamState::User { account, rx } = &sub.state else { continue };
            loop {
                let ev = match rx.try_recv() {
                    Ok(ev) => ev,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Err(()),
                };
                let payload = match &*ev {
                    AccountEvent::Order { exec, order } => {
                        match self.venue.execution_report(&market, exec, order, *account) {
                            Some(v) => v,
                            None => continue,
                        }
                    }
                    AccountEvent::Balances { ts, balances } => account_position_json(*ts, balances, now_ms),
                };
                account_out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
            }
        }
        self.outbox.extend(out.into_iter().map(Outgoing::Data));
        self.outbox.extend(account_out.into_iter().map(Outgoing::Account));
        Ok(())
    }

    /// Closes the windows that are due: diffs (with an injected sequence skip if one is
    /// pending) and partial books.
    fn flush_windows(&mut self, now: Instant) {
        let market = self.ctx.market.clone();
        let mut out = Vec::new();
        for sub in &mut self.subs {
            match (&sub.stream, &mut sub.state) {
                (Stream::Diff { symbol, every }, StreamState::Diff { pending, next_flush }) if now >= *next_flush => {
                    *next_flush = advance(*next_flush, *every, now);
                    if pending.is_empty() {
                        continue;
                    }
                    if self.ctx.faults.take_skip_sequence() {
                        // The first operation of this diff is lost, ids and levels alike.
                        pending.remove(0);
                    }
                    // A zero window (the test-speed knob) sends every operation on its own.
                    let per_diff = if every.is_zero() { 1 } else { pending.len().max(1) };
                    for ops in pending.chunks(per_diff) {
                        if let Some(payload) = diff_json(&market, *symbol, ops) {
                            out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
                        }
                    }
                    pending.clear();
                }
                (Stream::Partial { symbol, levels, every }, StreamState::Partial { next_flush })
                    if now >= *next_flush =>
                {
                    *next_flush = advance(*next_flush, *every, now);
                    let (Some(snap), Some(inst)) =
                        (market.snapshot(*symbol, *levels), market.instruments().get(*symbol))
                    else {
                        continue;
                    };
                    let payload = json!({
                        "lastUpdateId": snap.update_id,
                        "bids": levels_json(inst, &snap.bids),
                        "asks": levels_json(inst, &snap.asks),
                    });
                    out.push(wrap_payload(self.combined, &sub.name, &payload.to_string()));
                }
                _ => {}
            }
        }
        self.outbox.extend(out.into_iter().map(Outgoing::Data));
    }

    /// Sends everything queued, applying pending frame faults to stream messages.
    fn send_outbox(&mut self, ws: &mut dyn WsSession) -> std::io::Result<()> {
        let faults = &self.ctx.faults;
        while let Some(msg) = self.outbox.pop_front() {
            match msg {
                Outgoing::Control(text) => ws.send_text(&text)?,
                Outgoing::Account(_) if faults.take_malformed_account_frame() => {
                    ws.send_raw_text(b"{\"e\":\"executionReport\",\"E\":,]")?;
                }
                Outgoing::Data(text) | Outgoing::Account(text) => {
                    if faults.take_malformed_frame() {
                        ws.send_raw_text(b"{\"e\":\"depthUpdate\",\"E\":,]")?;
                    } else if faults.take_truncated_frame() {
                        ws.send_raw_text(&text.as_bytes()[..text.len() / 2])?;
                    } else {
                        ws.send_text(&text)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether every listen key of the session is still live; sends `listenKeyExpired` for the
    /// first that is not.
    fn check_listen_keys(&mut self, ws: &mut dyn WsSession) -> bool {
        let now_ms = self.ctx.market.now_ms();
        for sub in &self.subs {
            if let Stream::User { listen_key } = &sub.stream
                && self.venue.listen_key_account(listen_key, now_ms).is_none()
            {
                let payload = json!({ "e": "listenKeyExpired", "E": now_ms, "listenKey": listen_key });
                let _ = ws.send_text(&wrap_payload(self.combined, &sub.name, &payload.to_string()));
                return false;
            }
        }
        true
    }

    /// The session loop; returns when the client leaves, a fault drops the session, or the
    /// simulator stops.
    fn run(&mut self, ws: &mut dyn WsSession) {
        let faults = self.ctx.faults.clone();
        let generation = faults.ws_generation();
        loop {
            if self.ctx.stop.load(Ordering::Relaxed) {
                ws.close(true);
                return;
            }
            if faults.ws_generation() != generation || faults.in_outage() {
                ws.close(false);
                return;
            }
            match ws.recv(WS_POLL) {
                Ok(Some(WsIncoming::Text(text))) => self.on_control(&text),
                Ok(Some(WsIncoming::Binary(_))) | Ok(None) => {}
                Ok(Some(WsIncoming::Closed)) | Err(_) => return,
            }
            if self.pump().is_err() {
                log::debug!("venue-sim binance: session fell behind its feed; dropping it");
                ws.close(false);
                return;
            }
            let now = Instant::now();
            if now >= self.next_key_check {
                self.next_key_check = now + LISTEN_KEY_CHECK;
                if !self.check_listen_keys(ws) {
                    ws.close(true);
                    return;
                }
            }
            if faults.ws_stalled() {
                // Nothing goes out; diffs keep accumulating and messages queue.
                if self.outbox.len() > MAX_OUTBOX {
                    ws.close(false);
                    return;
                }
                continue;
            }
            self.flush_windows(now);
            if self.send_outbox(ws).is_err() {
                return;
            }
            if now >= self.next_ping {
                self.next_ping = now + self.venue.limits.ws_ping_interval;
                if ws.send_ping(self.ctx.market.now_ms().to_string().as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

/// Whether an upgrade path is the combined endpoint (`/stream?streams=a/b`), and the
/// `/`-separated stream names it (or a raw `/ws/a/b` path) asks for.
pub(crate) fn stream_names(path: &str, query: &str) -> (bool, String) {
    if path == "/stream" || path == "/stream/" {
        let streams = parse_form(query.as_bytes())
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "streams").map(|(_, v)| v))
            .unwrap_or_default();
        (true, streams)
    } else {
        (false, path.strip_prefix("/ws").unwrap_or("").trim_start_matches('/').to_string())
    }
}

pub(crate) fn wrap_payload(combined: bool, stream: &str, payload: &str) -> String {
    if combined { format!("{{\"stream\":{},\"data\":{payload}}}", Value::from(stream)) } else { payload.to_string() }
}

/// The next window end after `now` on the grid of `every` from `prev`.
fn advance(prev: Instant, every: Duration, now: Instant) -> Instant {
    let next = prev + every;
    if next > now { next } else { now + every }
}

/// The `depthUpdate` covering `ops` (consecutive book operations): final quantity per touched
/// price, bids best first, asks best first.
fn diff_json(market: &Market, symbol: usize, ops: &[Arc<BookUpdate>]) -> Option<Value> {
    let inst = market.instruments().get(symbol)?;
    let first = ops.first()?.update_id;
    let last = ops.last()?.update_id;
    let mut bids: BTreeMap<i64, Qty> = BTreeMap::new();
    let mut asks: BTreeMap<i64, Qty> = BTreeMap::new();
    for op in ops {
        for (side, price, qty) in &op.levels {
            let book = if *side == Side::Buy { &mut bids } else { &mut asks };
            book.insert(price.units(), *qty);
        }
    }
    let side_json = |levels: Vec<(&i64, &Qty)>| -> Value {
        Value::Array(
            levels
                .into_iter()
                .map(|(p, q)| json!([price_text(inst, Price::from_units(*p)), qty_text(inst, *q)]))
                .collect(),
        )
    };
    Some(json!({
        "e": "depthUpdate",
        "E": market.now_ms(),
        "s": inst.symbol(),
        "U": first,
        "u": last,
        "b": side_json(bids.iter().rev().collect()),
        "a": side_json(asks.iter().collect()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::flow::FlowParams;
    use crate::exchange::matching::FeeSchedule;
    use crate::faults::Faults;
    use crate::market::{AccountConfig, MarketConfig, SymbolConfig};
    use crossbeam_channel::{Sender, unbounded};
    use qt_core::{InstrumentId, InstrumentSpec, Rate, Venue};
    use std::collections::BTreeSet;
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicBool;

    /// The documented example key pair (`rest-api.md`, "SIGNED Endpoint Examples for POST
    /// /api/v3/order"; `testdata/binance_spot/sign_example.txt`).
    const DOC_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const TAKER_KEY: &str = "takerKey";
    const TAKER_SECRET: &str = "takerSecret";

    const ORDER_UPDATE: &str = include_str!("../../testdata/binance_spot/order_update.json");
    const DEPTH_UPDATE: &str = include_str!("../../testdata/binance_spot/depth_update.json");
    const BOOK_TICKER: &str = include_str!("../../testdata/binance_spot/book_ticker.json");
    const TRADE: &str = include_str!("../../testdata/binance_spot/trade.json");
    const PARTIAL_DEPTH: &str = include_str!("../../testdata/binance_spot/partial_depth.json");
    const SNAPSHOT_REST: &str = include_str!("../../testdata/binance_spot/snapshot_rest.json");
    const CAPTURED_DEPTH: &str = include_str!("../../testdata/binance_spot/depth.jsonl");
    const CAPTURED_BOOK_TICKER: &str = include_str!("../../testdata/binance_spot/bookTicker.jsonl");

    fn spec(symbol: &str, base: &str, tick: &str, lot: &str) -> InstrumentSpec {
        InstrumentSpec {
            venue: Venue::Binance,
            symbol: symbol.into(),
            base: base.into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Spot,
            tick_size: tick.into(),
            lot_size: lot.into(),
            min_qty: Some(lot.into()),
            min_notional: Some("5".into()),
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        }
    }

    /// BTCUSDT (tick 0.01, lot 0.00001, mid 65000) and ETHUSDT (tick 0.05, lot 0.002, mid 3200,
    /// so that off-grid values parse and reach the engine's filters); no background flow runs,
    /// so the seeded book only changes by the test's own orders.
    fn market() -> Arc<Market> {
        let sym = |id: u32, s: InstrumentSpec, mid: &str| {
            let instrument = Instrument::from_spec(InstrumentId(id), &s).unwrap();
            let start_mid = Some(instrument.parse_price(mid).unwrap());
            SymbolConfig {
                instrument,
                flow: FlowParams { start_mid, size_median_lots: 200.0, ..FlowParams::default() },
            }
        };
        let account = |key: &str, secret: &str| AccountConfig {
            api_key: key.into(),
            secret: secret.into(),
            balances: vec![("USDT".into(), "100000".into()), ("BTC".into(), "2".into()), ("ETH".into(), "10".into())],
        };
        Market::new(MarketConfig {
            symbols: vec![
                sym(0, spec("BTCUSDT", "BTC", "0.01", "0.00001"), "65000"),
                sym(1, spec("ETHUSDT", "ETH", "0.05", "0.002"), "3200"),
            ],
            fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
            accounts: vec![account(DOC_KEY, DOC_SECRET), account(TAKER_KEY, TAKER_SECRET)],
            seed: 11,
        })
        .unwrap()
    }

    fn ctx() -> Ctx {
        Ctx { market: market(), faults: Faults::new(), stop: Arc::new(AtomicBool::new(false)) }
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    fn request(method: &str, path: &str, query: &str, body: &str, key: Option<&str>) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: key.map(|k| vec![("x-mbx-apikey".to_string(), k.to_string())]).unwrap_or_default(),
            body: body.as_bytes().to_vec(),
            peer: peer(),
        }
    }

    /// A SIGNED request with `params` in the body (POST) or the query (GET, DELETE), as the
    /// documented examples build it: `params&recvWindow=5000&timestamp=<ts>&signature=<hex>`.
    fn signed_at(method: &str, path: &str, params: &str, ts: i64, key: &str, secret: &str) -> HttpRequest {
        let sep = if params.is_empty() { "" } else { "&" };
        let payload = format!("{params}{sep}recvWindow=5000&timestamp={ts}");
        let sig = signing::hmac_sha256_hex(secret, payload.as_bytes());
        let full = format!("{payload}&signature={sig}");
        if method == "POST" {
            request(method, path, "", &full, Some(key))
        } else {
            request(method, path, &full, "", Some(key))
        }
    }

    fn signed(ctx: &Ctx, method: &str, path: &str, params: &str) -> HttpRequest {
        signed_at(method, path, params, ctx.market.now_ms(), DOC_KEY, DOC_SECRET)
    }

    fn call(venue: &BinanceSpot, ctx: &Ctx, req: &HttpRequest) -> (u16, Value) {
        let resp = venue.handle_http(ctx, req);
        let body: Value = serde_json::from_slice(&resp.body).expect("every answer is JSON");
        (resp.status, body)
    }

    fn assert_error(resp: (u16, Value), status: u16, code: i64, msg: &str) {
        assert_eq!(resp.1, json!({ "code": code, "msg": msg }), "body");
        assert_eq!(resp.0, status, "status of {}", resp.1);
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    }

    fn best(ctx: &Ctx, symbol: usize) -> ((Price, Qty), (Price, Qty)) {
        let snap = ctx.market.snapshot(symbol, 1).unwrap();
        (snap.bids[0], snap.asks[0])
    }

    fn btc_text(p: Price) -> String {
        decimal::format_scaled(i128::from(p.units()), 2, DecimalStyle::Fixed).to_string()
    }

    #[test]
    fn documented_signing_payloads_and_signatures() {
        // rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order", HMAC examples 1-3.
        let all = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let sig1 = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        let body = request("POST", "/api/v3/order", "", &format!("{all}&signature={sig1}"), Some(DOC_KEY));
        assert_eq!(signing_payload(&body), all.as_bytes());
        let query = request("POST", "/api/v3/order", &format!("{all}&signature={sig1}"), "", Some(DOC_KEY));
        assert_eq!(signing_payload(&query), all.as_bytes());
        assert!(signing::verify_hex(DOC_SECRET, &signing_payload(&query), sig1));
        let sig3 = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
        let mixed = request(
            "POST",
            "/api/v3/order",
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            &format!("quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature={sig3}"),
            Some(DOC_KEY),
        );
        let payload = signing_payload(&mixed);
        assert_eq!(
            payload,
            b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        );
        assert_eq!(signing::hmac_sha256_hex(DOC_SECRET, &payload), sig3);
    }

    #[test]
    fn signed_order_with_the_documented_key_is_accepted() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let (bid, _) = best(&ctx, 0);
        let below = btc_text(Price::from_units(bid.0.units() - 500));
        let params = format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00100&price={below}");
        let resp = venue.handle_http(&ctx, &signed(&ctx, "POST", "/api/v3/order", &params));
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let header = |n: &str| resp.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(header("X-MBX-USED-WEIGHT-1M").as_deref(), Some("1"));
        assert_eq!(header("X-MBX-ORDER-COUNT-10S").as_deref(), Some("1"));
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        // A LIMIT order answers FULL by default.
        let expected: BTreeSet<String> = [
            "symbol",
            "orderId",
            "orderListId",
            "clientOrderId",
            "transactTime",
            "price",
            "origQty",
            "executedQty",
            "origQuoteOrderQty",
            "cummulativeQuoteQty",
            "status",
            "timeInForce",
            "type",
            "side",
            "workingTime",
            "selfTradePreventionMode",
            "fills",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(keys(&v), expected);
        assert_eq!(v["status"], "NEW");
        assert_eq!(v["origQty"], "0.00100000");
        assert_eq!(v["price"], format!("{below}000000"));
        assert_eq!(v["executedQty"], "0.00000000");
        assert_eq!(v["fills"], json!([]));
        assert!(v["orderId"].is_u64());
        // The same order queried and cancelled.
        let id = v["orderId"].as_u64().unwrap();
        let (status, q) =
            call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}")));
        assert_eq!((status, q["status"].as_str()), (200, Some("NEW")));
        assert_eq!(q["isWorking"], true);
        let (status, open) = call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/openOrders", "symbol=BTCUSDT"));
        assert_eq!(status, 200);
        assert_eq!(open.as_array().map(Vec::len), Some(1));
        let cancel =
            signed(&ctx, "DELETE", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}&newClientOrderId=myCancel"));
        let (status, c) = call(&venue, &ctx, &cancel);
        assert_eq!(status, 200, "{c}");
        assert_eq!(c["status"], "CANCELED");
        assert_eq!(c["clientOrderId"], "myCancel");
        assert_eq!(c["origClientOrderId"], v["clientOrderId"]);
        assert_error(call(&venue, &ctx, &cancel), 400, -2011, "Unknown order sent.");
        let (status, q) =
            call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}")));
        assert_eq!((status, q["status"].as_str()), (200, Some("CANCELED")));
        assert_error(
            call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/order", "symbol=BTCUSDT&orderId=999999")),
            400,
            -2013,
            "Order does not exist.",
        );
        assert_error(
            call(&venue, &ctx, &signed(&ctx, "DELETE", "/api/v3/openOrders", "symbol=BTCUSDT")),
            400,
            -2011,
            "Unknown order sent.",
        );
    }

    #[test]
    fn bad_signature_is_1022() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let mut req = signed(
            &ctx,
            "POST",
            "/api/v3/order",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1",
        );
        let body = String::from_utf8(req.body.clone()).unwrap().replace("quantity=1", "quantity=2");
        req.body = body.into_bytes();
        assert_error(call(&venue, &ctx, &req), 400, -1022, "Signature for this request is not valid.");
        let wrong_secret = signed_at("GET", "/api/v3/account", "", ctx.market.now_ms(), DOC_KEY, "nope");
        assert_error(call(&venue, &ctx, &wrong_secret), 400, -1022, "Signature for this request is not valid.");
        let garbage = request("GET", "/api/v3/account", "timestamp=1&signature=zz", "", Some(DOC_KEY));
        assert_error(call(&venue, &ctx, &garbage), 400, -1022, "Signature for this request is not valid.");
    }

    #[test]
    fn timestamps_outside_the_window_are_1021() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let now = ctx.market.now_ms();
        let old = signed_at("GET", "/api/v3/account", "", now - 6000, DOC_KEY, DOC_SECRET);
        assert_error(call(&venue, &ctx, &old), 400, -1021, "Timestamp for this request is outside of the recvWindow.");
        let ahead = signed_at("GET", "/api/v3/account", "", now + 2000, DOC_KEY, DOC_SECRET);
        assert_error(
            call(&venue, &ctx, &ahead),
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        );
        // Microsecond timestamps and a wider window are accepted.
        let payload = format!("recvWindow=60000&timestamp={}", (now - 30_000) * 1000);
        let sig = signing::hmac_sha256_hex(DOC_SECRET, payload.as_bytes());
        let micros = request("GET", "/api/v3/account", &format!("{payload}&signature={sig}"), "", Some(DOC_KEY));
        assert_eq!(call(&venue, &ctx, &micros).0, 200);
        // recvWindow above 60000 is refused.
        let payload = format!("recvWindow=60001&timestamp={now}");
        let sig = signing::hmac_sha256_hex(DOC_SECRET, payload.as_bytes());
        let wide = request("GET", "/api/v3/account", &format!("{payload}&signature={sig}"), "", Some(DOC_KEY));
        assert_error(call(&venue, &ctx, &wide), 400, -1130, "Data sent for parameter 'recvWindow' is not valid.");
        // A skewed server clock moves the window with it.
        ctx.market.set_clock_skew_ms(-10_000);
        let fresh = signed_at("GET", "/api/v3/account", "", now, DOC_KEY, DOC_SECRET);
        assert_error(
            call(&venue, &ctx, &fresh),
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        );
    }

    #[test]
    fn api_key_errors_are_2014_and_2015() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let mut req = signed(&ctx, "GET", "/api/v3/account", "");
        req.headers.clear();
        assert_error(call(&venue, &ctx, &req), 401, -2014, "API-key format invalid.");
        let unknown = signed_at("GET", "/api/v3/account", "", ctx.market.now_ms(), "unknownKey", DOC_SECRET);
        assert_error(call(&venue, &ctx, &unknown), 401, -2015, "Invalid API-key, IP, or permissions for action.");
        let listen = request("POST", "/api/v3/userDataStream", "", "", Some("unknownKey"));
        assert_error(call(&venue, &ctx, &listen), 401, -2015, "Invalid API-key, IP, or permissions for action.");
        let listen = request("POST", "/api/v3/userDataStream", "", "", None);
        assert_error(call(&venue, &ctx, &listen), 401, -2014, "API-key format invalid.");
    }

    #[test]
    fn parameter_errors_use_the_documented_messages() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let order = |params: &str| call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", params));
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=60000"),
            400,
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=&price=60000"),
            400,
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=MARKET"),
            400,
            -1102,
            "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&timeInForce=GTC&quantity=0.001&price=60000"),
            400,
            -1106,
            "Parameter 'timeInForce' sent when not required.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0O1&price=60000"),
            400,
            -1100,
            r"Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\.[0-9]{1,20})?$'.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000000001&price=60000"),
            400,
            -1111,
            "Parameter 'quantity' has too much precision.",
        );
        assert_error(
            order("symbol=btcusdt&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000"),
            400,
            -1100,
            "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
        );
        assert_error(
            order("symbol=XRPUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1"),
            400,
            -1121,
            "Invalid symbol.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=HOLD&type=LIMIT&timeInForce=GTC&quantity=1&price=1"),
            400,
            -1117,
            "Invalid side.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTD&quantity=1&price=1"),
            400,
            -1115,
            "Invalid timeInForce.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=ICEBERG&quantity=1&price=1"),
            400,
            -1116,
            "Invalid orderType.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=STOP_LOSS&quantity=1&stopPrice=1"),
            400,
            -2010,
            "Stop loss orders are not supported for this symbol.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&newClientOrderId="),
            400,
            -1118,
            "New client order ID was empty.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&newClientOrderId=a%20b"),
            400,
            -1100,
            r"Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\.A-Z\:/a-z0-9_-]{1,36}$'.",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&color=red"),
            400,
            -1104,
            "Not all sent parameters were read; read '9' parameter(s) but was sent '10'.",
        );
        // A parameter twice in the query.
        let dup = request("GET", "/api/v3/depth", "symbol=BTCUSDT&symbol=ETHUSDT", "", None);
        assert_error(call(&venue, &ctx, &dup), 400, -1101, "Duplicate values for a parameter detected.");
        let many = request("GET", "/api/v3/time", "a=1", "", None);
        assert_error(call(&venue, &ctx, &many), 400, -1101, "Too many parameters; expected '0' and received '1'.");
        let bad_escape = request("GET", "/api/v3/depth", "symbol=%zz", "", None);
        assert_error(call(&venue, &ctx, &bad_escape), 400, -1100, "Illegal characters found in a parameter.");
        let missing = request("GET", "/api/v3/depth", "", "", None);
        assert_error(
            call(&venue, &ctx, &missing),
            400,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
        let no_sig =
            request("GET", "/api/v3/account", &format!("timestamp={}", ctx.market.now_ms()), "", Some(DOC_KEY));
        assert_error(
            call(&venue, &ctx, &no_sig),
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        );
        let nowhere = request("GET", "/api/v3/nothing", "", "", None);
        assert_error(call(&venue, &ctx, &nowhere), 404, -1020, "This operation is not supported.");
        let method = request("PATCH", "/api/v3/order", "", "", None);
        assert_error(call(&venue, &ctx, &method), 405, -1020, "This operation is not supported.");
    }

    #[test]
    fn filters_fail_with_1013() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let order = |params: &str| call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", params));
        let (bid, _) = best(&ctx, 0);
        let px = btc_text(Price::from_units(bid.0.units() - 1000));
        // Off the tick: more decimals than the tick has (caught while parsing) ...
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000.005"),
            400,
            -1013,
            "Filter failure: PRICE_FILTER",
        );
        // ... and on the grid but not a multiple of ETHUSDT's 0.05 tick (the engine's check).
        assert_error(
            order("symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.010&price=3000.01"),
            400,
            -1013,
            "Filter failure: PRICE_FILTER",
        );
        // Off the lot, both ways; an off-tick price still wins (filters are checked in order).
        assert_error(
            order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000015&price={px}")),
            400,
            -1013,
            "Filter failure: LOT_SIZE",
        );
        assert_error(
            order("symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.011&price=3000.00"),
            400,
            -1013,
            "Filter failure: LOT_SIZE",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000015&price=60000.005"),
            400,
            -1013,
            "Filter failure: PRICE_FILTER",
        );
        // Below the minimum notional (5 USDT).
        assert_error(
            order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00001&price={px}")),
            400,
            -1013,
            "Filter failure: NOTIONAL",
        );
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=99999999999.00"),
            400,
            -1013,
            "Filter failure: PRICE_FILTER",
        );
    }

    #[test]
    fn engine_rejections_are_2010() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let order = |params: &str| call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", params));
        let (bid, ask) = best(&ctx, 0);
        let px = btc_text(Price::from_units(bid.0.units() - 1000));
        assert_error(
            order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=10&price={px}")),
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        );
        assert_error(
            order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.001&price={}", btc_text(ask.0))),
            400,
            -2010,
            "Order would immediately match and take.",
        );
        // LIMIT_MAKER answers ACK by default.
        let (status, v) =
            order(&format!("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.001&price={px}&newClientOrderId=dup1"));
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            keys(&v),
            ["clientOrderId", "orderId", "orderListId", "symbol", "transactTime"].map(String::from).into()
        );
        assert_error(
            order(&format!(
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={px}&newClientOrderId=dup1"
            )),
            400,
            -2010,
            "Duplicate order sent.",
        );
        // An unfillable FOK is accepted and expires at once, as on Binance.
        let (status, v) = order(&format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=FOK&quantity=1&price={}&newOrderRespType=RESULT",
            btc_text(ask.0)
        ));
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], "EXPIRED");
        assert_eq!(v["executedQty"], "0.00000000");
        assert!(v.get("fills").is_none());
        // A marketable IOC fills at the ask and reports its fills.
        let (status, v) = order(&format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.00010&price={}",
            btc_text(ask.0)
        ));
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], "FILLED");
        assert_eq!(v["fills"][0]["price"], price_text(&ctx.market.instruments()[0], ask.0));
        assert_eq!(v["fills"][0]["qty"], "0.00010000");
        assert_eq!(v["fills"][0]["commissionAsset"], "USDT");
        assert_eq!(
            keys(&v["fills"][0]),
            ["commission", "commissionAsset", "price", "qty", "tradeId"].map(String::from).into()
        );
        // MARKET orders take no price.
        assert_error(
            order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&price=1"),
            400,
            -1106,
            "Parameter 'price' sent when not required.",
        );
        let (status, v) = order("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.00010");
        assert_eq!((status, v["status"].as_str(), v["type"].as_str()), (200, Some("FILLED"), Some("MARKET")), "{v}");
    }

    #[test]
    fn weight_is_charged_per_ip_and_limited_with_429() {
        let ctx = ctx();
        let venue = BinanceSpot::new(BinanceLimits { request_weight_per_minute: 10, ..BinanceLimits::default() });
        let resp = venue.handle_http(&ctx, &request("GET", "/api/v3/exchangeInfo", "", "", None));
        assert_eq!(resp.status, 429);
        assert!(resp.headers.iter().any(|(k, v)| k == "X-MBX-USED-WEIGHT-1M" && v == "20"), "{:?}", resp.headers);
        assert!(resp.headers.iter().any(|(k, _)| k == "Retry-After"));
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(
            body,
            json!({ "code": -1003, "msg": "Too much request weight used; current limit is 10 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API." })
        );
        // Pings weigh 1: within a few calls one minute's count passes the limit.
        let venue = BinanceSpot::new(BinanceLimits { request_weight_per_minute: 5, ..BinanceLimits::default() });
        let mut seen = Vec::new();
        for _ in 0..20 {
            let resp = venue.handle_http(&ctx, &request("GET", "/api/v3/ping", "", "", None));
            let used: u32 = resp.headers.iter().find(|(k, _)| k == "X-MBX-USED-WEIGHT-1M").unwrap().1.parse().unwrap();
            seen.push((resp.status, used));
        }
        assert!(seen.iter().any(|(s, u)| *s == 429 && *u > 5), "{seen:?}");
        assert!(seen.iter().all(|(s, u)| (*s == 200) == (*u <= 5)), "{seen:?}");
        // Depth weight follows the limit.
        let venue = BinanceSpot::default();
        let weight = |q: &str| {
            let resp = venue.handle_http(&ctx, &request("GET", "/api/v3/depth", q, "", None));
            let h = resp.headers.iter().find(|(k, _)| k == "X-MBX-USED-WEIGHT-1M").unwrap().1.clone();
            h.parse::<u32>().unwrap()
        };
        let a = weight("symbol=BTCUSDT");
        let b = weight("symbol=BTCUSDT&limit=500");
        let c = weight("symbol=BTCUSDT&limit=1000");
        let d = weight("symbol=BTCUSDT&limit=5000");
        // Differences are robust to a minute rollover between calls only if none happens;
        // check the increments instead of absolute values where the window held.
        if b > a && c > b && d > c {
            assert_eq!((a, b - a, c - b, d - c), (5, 25, 50, 250));
        }
    }

    #[test]
    fn market_data_endpoints_match_the_documented_shapes() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let (status, t) = call(&venue, &ctx, &request("GET", "/api/v3/time", "", "", None));
        assert_eq!(status, 200);
        assert!((t["serverTime"].as_i64().unwrap() - ctx.market.now_ms()).abs() < 1000);
        assert_eq!(call(&venue, &ctx, &request("GET", "/api/v3/ping", "", "", None)), (200, json!({})));
        let (status, depth) = call(&venue, &ctx, &request("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=5", "", None));
        assert_eq!(status, 200);
        let sample: Value = serde_json::from_str(SNAPSHOT_REST).unwrap();
        assert_eq!(keys(&depth), keys(&sample));
        assert_eq!(depth["bids"].as_array().unwrap().len(), 5);
        let snap = ctx.market.snapshot(0, 5).unwrap();
        assert_eq!(depth["lastUpdateId"], snap.update_id);
        let level = &depth["asks"][0];
        assert_eq!(
            level,
            &json!([
                price_text(&ctx.market.instruments()[0], snap.asks[0].0),
                qty_text(&ctx.market.instruments()[0], snap.asks[0].1)
            ])
        );
        assert!(level[0].as_str().unwrap().ends_with("000000"), "8 decimals: {level}");
        let (status, info) = call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbol=BTCUSDT", "", None));
        assert_eq!(status, 200);
        let symbols = info["symbols"].as_array().unwrap();
        assert_eq!(symbols.len(), 1);
        let s = &symbols[0];
        assert_eq!((s["symbol"].as_str(), s["status"].as_str()), (Some("BTCUSDT"), Some("TRADING")));
        assert_eq!((s["baseAsset"].as_str(), s["quoteAsset"].as_str()), (Some("BTC"), Some("USDT")));
        let filter =
            |name: &str| s["filters"].as_array().unwrap().iter().find(|f| f["filterType"] == name).unwrap().clone();
        assert_eq!(filter("PRICE_FILTER")["tickSize"], "0.01000000");
        assert_eq!(filter("PRICE_FILTER")["minPrice"], "0.01000000");
        assert_eq!(filter("LOT_SIZE")["stepSize"], "0.00001000");
        assert_eq!(filter("LOT_SIZE")["minQty"], "0.00001000");
        assert_eq!(filter("NOTIONAL")["minNotional"], "5.00000000");
        // Every documented key of each filter (filters.md).
        assert_eq!(
            keys(&filter("PRICE_FILTER")),
            ["filterType", "maxPrice", "minPrice", "tickSize"].map(String::from).into()
        );
        assert_eq!(keys(&filter("LOT_SIZE")), ["filterType", "maxQty", "minQty", "stepSize"].map(String::from).into());
        assert_eq!(
            keys(&filter("NOTIONAL")),
            ["applyMaxToMarket", "applyMinToMarket", "avgPriceMins", "filterType", "maxNotional", "minNotional"]
                .map(String::from)
                .into()
        );
        let (_, eth) =
            call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbols=%5B%22ETHUSDT%22%5D", "", None));
        assert_eq!(eth["symbols"][0]["filters"][0]["tickSize"], "0.05000000");
        let (_, all) = call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "", "", None));
        assert_eq!(all["symbols"].as_array().unwrap().len(), 2);
        assert_error(
            call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbol=NOPE", "", None)),
            400,
            -1121,
            "Invalid symbol.",
        );
        assert_error(
            call(&venue, &ctx, &request("GET", "/api/v3/exchangeInfo", "symbols=%5B%22NOPE%22%5D", "", None)),
            400,
            -1121,
            "Invalid symbol.",
        );
        assert_error(
            call(&venue, &ctx, &request("GET", "/api/v3/depth", "symbol=NOPE", "", None)),
            400,
            -1121,
            "Invalid symbol.",
        );
        let (_, account) = call(&venue, &ctx, &signed(&ctx, "GET", "/api/v3/account", ""));
        let usdt = account["balances"].as_array().unwrap().iter().find(|b| b["asset"] == "USDT").unwrap().clone();
        assert_eq!(usdt, json!({ "asset": "USDT", "free": "100000.00000000", "locked": "0.00000000" }));
    }

    #[test]
    fn listen_keys_start_keep_alive_and_close() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let (status, v) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(DOC_KEY)));
        assert_eq!(status, 200);
        let key = v["listenKey"].as_str().unwrap().to_string();
        assert_eq!(key.len(), 60);
        // An active key is returned again.
        let (_, again) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(DOC_KEY)));
        assert_eq!(again["listenKey"], key.as_str());
        let (_, other) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(TAKER_KEY)));
        assert_ne!(other["listenKey"], key.as_str());
        let q = format!("listenKey={key}");
        assert_eq!(
            call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", &q, "", Some(DOC_KEY))),
            (200, json!({}))
        );
        assert_error(
            call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", &q, "", Some(TAKER_KEY))),
            400,
            -1125,
            "This listenKey does not exist.",
        );
        assert_eq!(
            call(&venue, &ctx, &request("DELETE", "/api/v3/userDataStream", &q, "", Some(DOC_KEY))),
            (200, json!({}))
        );
        assert_error(
            call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", &q, "", Some(DOC_KEY))),
            400,
            -1125,
            "This listenKey does not exist.",
        );
        assert_error(
            call(&venue, &ctx, &request("PUT", "/api/v3/userDataStream", "", "", Some(DOC_KEY))),
            400,
            -1102,
            "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed.",
        );
    }

    #[test]
    fn bad_input_never_panics_and_always_gets_binance_json() {
        let (ctx, venue) = (ctx(), BinanceSpot::default());
        let inputs = [
            ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=-1"),
            ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=99999999999999999999999"),
            ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=0"),
            ("GET", "/api/v3/depth", "symbol=%F0%28%8C%BC"),
            ("GET", "/api/v3/depth", "&&&=&=="),
            ("GET", "/api/v3/exchangeInfo", "symbols=%5Bnot-json"),
            ("GET", "/api/v3/exchangeInfo", "symbol=BTCUSDT&symbols=%5B%5D"),
            ("POST", "/api/v3/order", "timestamp=99999999999999999999&signature=00"),
            ("GET", "/api/v3/order", "symbol=BTCUSDT"),
            ("DELETE", "/api/v3/openOrders", ""),
            ("GET", "/api/v3/openOrders", "symbol=%00"),
            ("PUT", "/api/v3/userDataStream", "listenKey=%"),
            ("GET", "/", ""),
        ];
        for (method, path, query) in inputs {
            for key in [None, Some(DOC_KEY)] {
                let resp = venue.handle_http(&ctx, &request(method, path, query, "", key));
                let v: Value = serde_json::from_slice(&resp.body).unwrap();
                assert!((400..500).contains(&resp.status), "{method} {path}?{query}: {} {v}", resp.status);
                assert!(v["code"].as_i64().is_some_and(|c| c < 0) && v["msg"].is_string(), "{v}");
            }
        }
        // Signed requests whose parameters are wrong after authentication.
        let order = |params: &str| venue.handle_http(&ctx, &signed(&ctx, "POST", "/api/v3/order", params));
        for params in [
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=99999999999999999999&price=1",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1.&price=1",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=.5&price=1",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0&price=0",
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1e3",
            "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=10",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1&newOrderRespType=ALL",
        ] {
            let resp = order(params);
            assert!((400..500).contains(&resp.status), "{params}: {}", resp.status);
        }
    }

    /// What a [`FakeWs`] was asked to send.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Sent {
        Text(String),
        Raw(Vec<u8>),
        Ping,
        Close(bool),
    }

    /// A [`WsSession`] on channels: the test feeds client messages and reads what was sent.
    struct FakeWs {
        incoming: Receiver<WsIncoming>,
        sent: Sender<Sent>,
        ready: Option<Sender<()>>,
    }

    impl WsSession for FakeWs {
        fn send_text(&mut self, text: &str) -> std::io::Result<()> {
            self.sent.send(Sent::Text(text.into())).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
        }
        fn send_raw_text(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            self.sent.send(Sent::Raw(bytes.into())).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
        }
        fn send_ping(&mut self, _payload: &[u8]) -> std::io::Result<()> {
            self.sent.send(Sent::Ping).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
        }
        fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<WsIncoming>> {
            if let Some(ready) = self.ready.take() {
                let _ = ready.send(());
            }
            match self.incoming.recv_timeout(timeout) {
                Ok(m) => Ok(Some(m)),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(Some(WsIncoming::Closed)),
            }
        }
        fn close(&mut self, graceful: bool) {
            let _ = self.sent.send(Sent::Close(graceful));
        }
    }

    /// A running session on `path?query`: send client frames with `to_server`, read with
    /// `from_server`; it has subscribed its initial streams once `new` returns.
    struct Client {
        to_server: Sender<WsIncoming>,
        from_server: Receiver<Sent>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Client {
        fn new(venue: &Arc<BinanceSpot>, ctx: &Ctx, path: &str, query: &str) -> Self {
            let (to_server, incoming) = unbounded();
            let (sent, from_server) = unbounded();
            let (ready_tx, ready_rx) = unbounded();
            let (venue, ctx, path, query) = (venue.clone(), ctx.clone(), path.to_string(), query.to_string());
            let thread = std::thread::spawn(move || {
                let mut ws = FakeWs { incoming, sent, ready: Some(ready_tx) };
                venue.run_ws(&ctx, &path, &query, &mut ws);
            });
            let _ = ready_rx.recv_timeout(Duration::from_secs(5));
            Self { to_server, from_server, thread: Some(thread) }
        }

        fn next(&self, timeout: Duration) -> Option<Sent> {
            self.from_server.recv_timeout(timeout).ok()
        }

        /// The next text frame as JSON (skipping pings).
        fn json(&self, timeout: Duration) -> Option<Value> {
            let deadline = Instant::now() + timeout;
            loop {
                match self.next(deadline.saturating_duration_since(Instant::now()))? {
                    Sent::Text(t) => return Some(serde_json::from_str(&t).expect("valid JSON")),
                    Sent::Ping => continue,
                    other => panic!("expected a text frame, got {other:?}"),
                }
            }
        }

        /// The next text frame whose JSON satisfies `pred`.
        fn json_where(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
            let deadline = Instant::now() + timeout;
            loop {
                let v = self.json(deadline.saturating_duration_since(Instant::now()))?;
                if pred(&v) {
                    return Some(v);
                }
            }
        }
    }

    impl Drop for Client {
        fn drop(&mut self) {
            let _ = self.to_server.send(WsIncoming::Closed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    const WAIT: Duration = Duration::from_secs(3);

    fn submit(ctx: &Ctx, account: u16, side: Side, tif: TimeInForce, price: Price, units: i64) -> OrderOutcome {
        ctx.market
            .submit(
                AccountId(account),
                0,
                ClientOrderRequest {
                    client_order_id: None,
                    side,
                    order_type: OrderType::Limit,
                    tif,
                    price: Some(price),
                    qty: Qty::from_units(units),
                },
            )
            .unwrap()
    }

    #[test]
    fn diff_depth_messages_are_consecutive_and_shaped_like_the_docs() {
        let ctx = ctx();
        let venue = Arc::new(BinanceSpot::default());
        let client = Client::new(&venue, &ctx, "/ws/btcusdt@depth@100ms", "");
        let (bid, _) = best(&ctx, 0);
        let sample: Value = serde_json::from_str(DEPTH_UPDATE).unwrap();
        let mut prev_u = None;
        let mut covered = 0;
        for i in 0..6 {
            // Two operations on one new price within the window: the diff carries the last.
            let px = Price::from_units(bid.0.units() - 10_000 - i * 100);
            submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, px, 100);
            submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, px, 50);
            let v = client.json(WAIT).expect("a diff");
            assert_eq!(keys(&v), keys(&sample));
            assert_eq!((v["e"].as_str(), v["s"].as_str()), (Some("depthUpdate"), Some("BTCUSDT")));
            let (first, last) = (v["U"].as_u64().unwrap(), v["u"].as_u64().unwrap());
            if let Some(p) = prev_u {
                assert_eq!(first, p + 1, "consecutive: {v}");
            }
            prev_u = Some(last);
            covered += last - first + 1;
            let level =
                v["b"].as_array().unwrap().iter().find(|l| l[0] == price_text(&ctx.market.instruments()[0], px));
            if last - first == 1 {
                assert_eq!(level.unwrap()[1], "0.00150000", "aggregated to the final quantity: {v}");
            }
        }
        assert_eq!(covered, 12);
        // A skipped sequence number: the next diff starts two past the last one and lacks the
        // lost operation's level.
        ctx.faults.skip_sequence(1);
        let lost = Price::from_units(bid.0.units() - 20_000);
        let kept = Price::from_units(bid.0.units() - 20_100);
        submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, lost, 100);
        submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, kept, 100);
        let v = client.json(WAIT).expect("a diff after the skip");
        let inst = &ctx.market.instruments()[0];
        let prices: Vec<&str> = v["b"].as_array().unwrap().iter().filter_map(|l| l[0].as_str()).collect();
        assert_eq!(v["U"].as_u64(), Some(prev_u.unwrap() + 2), "{v}");
        assert!(!prices.contains(&price_text(inst, lost).as_str()), "{v}");
        if v["u"] != v["U"] || prices.contains(&price_text(inst, kept).as_str()) {
            assert!(prices.contains(&price_text(inst, kept).as_str()), "{v}");
        }
    }

    #[test]
    fn diff_json_keeps_the_last_quantity_per_price_and_orders_sides() {
        let ctx = ctx();
        let p = |u: i64| Price::from_units(u);
        let op = |id: u64, levels: Vec<(Side, Price, Qty)>| {
            Arc::new(BookUpdate {
                symbol: 0,
                update_id: id,
                ts: Nanos(0),
                levels,
                trades: Vec::new(),
                best_bid: None,
                best_ask: None,
            })
        };
        let q = Qty::from_units;
        let ops = vec![
            op(7, vec![(Side::Buy, p(100), q(5)), (Side::Sell, p(300), q(1))]),
            op(8, vec![(Side::Buy, p(100), q(0)), (Side::Buy, p(200), q(2))]),
            op(9, vec![(Side::Sell, p(250), q(4)), (Side::Sell, p(300), q(3))]),
        ];
        let v = diff_json(&ctx.market, 0, &ops).unwrap();
        assert_eq!((v["U"].as_u64(), v["u"].as_u64()), (Some(7), Some(9)));
        assert_eq!(v["b"], json!([["2.00000000", "0.00002000"], ["1.00000000", "0.00000000"]]));
        assert_eq!(v["a"], json!([["2.50000000", "0.00004000"], ["3.00000000", "0.00003000"]]));
    }

    #[test]
    fn streams_match_the_documented_and_captured_shapes() {
        let ctx = ctx();
        let venue = Arc::new(BinanceSpot::default());
        let client =
            Client::new(&venue, &ctx, "/stream", "streams=btcusdt@bookTicker/btcusdt@trade/btcusdt@depth5@100ms");
        let (bid, ask) = best(&ctx, 0);
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
        let ticker = client.json_where(WAIT, |v| v["stream"] == "btcusdt@bookTicker").expect("bookTicker");
        let trade = client.json_where(WAIT, |v| v["stream"] == "btcusdt@trade").expect("trade");
        let partial = client.json_where(WAIT, |v| v["stream"] == "btcusdt@depth5@100ms").expect("partial depth");
        assert_eq!(keys(&ticker), ["data", "stream"].map(String::from).into());
        assert_eq!(keys(&ticker["data"]), keys(&serde_json::from_str(BOOK_TICKER).unwrap()));
        assert_eq!(keys(&trade["data"]), keys(&serde_json::from_str(TRADE).unwrap()));
        assert_eq!(keys(&partial["data"]), keys(&serde_json::from_str(PARTIAL_DEPTH).unwrap()));
        assert_eq!(partial["data"]["bids"].as_array().map(Vec::len), Some(5));
        assert_eq!(trade["data"]["m"], false, "the buyer took liquidity");
        assert_eq!(trade["data"]["p"], price_text(&ctx.market.instruments()[0], ask.0));
        assert_eq!(ticker["data"]["b"], price_text(&ctx.market.instruments()[0], bid.0));
        // The captured production frames have the same keys (bookTicker, depthUpdate).
        let captured: Value = serde_json::from_str(CAPTURED_BOOK_TICKER.lines().next().unwrap()).unwrap();
        assert_eq!(keys(&captured), keys(&ticker));
        assert_eq!(keys(&captured["data"]), keys(&ticker["data"]));
        let captured: Value = serde_json::from_str(CAPTURED_DEPTH.lines().next().unwrap()).unwrap();
        assert_eq!(keys(&captured["data"]), keys(&serde_json::from_str(DEPTH_UPDATE).unwrap()));
    }

    #[test]
    fn live_subscriptions_and_control_errors() {
        let ctx = ctx();
        let venue = Arc::new(BinanceSpot::default());
        let client = Client::new(&venue, &ctx, "/ws", "");
        let send = |t: &str| client.to_server.send(WsIncoming::Text(t.into())).unwrap();
        send(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@depth"],"id":1}"#);
        assert_eq!(client.json(WAIT), Some(json!({ "result": null, "id": 1 })));
        send(r#"{"method":"LIST_SUBSCRIPTIONS","id":"ab3"}"#);
        assert_eq!(client.json(WAIT), Some(json!({ "result": ["btcusdt@trade", "ethusdt@depth"], "id": "ab3" })));
        send(r#"{"method":"UNSUBSCRIBE","params":["ethusdt@depth"],"id":2}"#);
        assert_eq!(client.json(WAIT), Some(json!({ "result": null, "id": 2 })));
        send(r#"{"method":"GET_PROPERTY","params":["combined"],"id":3}"#);
        assert_eq!(client.json(WAIT), Some(json!({ "result": false, "id": 3 })));
        send(r#"{"method":"SET_PROPERTY","params":["combined",true],"id":4}"#);
        assert_eq!(client.json(WAIT), Some(json!({ "result": null, "id": 4 })));
        send(r#"{"method":"SET_PROPERTY","params":["combined","yes"],"id":5}"#);
        assert_eq!(
            client.json(WAIT),
            Some(json!({ "code": 1, "msg": "Invalid value type: expected Boolean", "id": 5 }))
        );
        send(r#"{"method":"SUBSCRIBE","params":["BTCUSDT@trade"],"id":6}"#);
        assert_eq!(client.json(WAIT).unwrap()["code"], 2);
        send("{not json");
        let v = client.json(WAIT).unwrap();
        assert_eq!(v["code"], 3);
        assert!(v["msg"].as_str().unwrap().starts_with("Invalid JSON: "), "{v}");
        send(r#"{"method":"FETCH","id":7}"#);
        let v = client.json(WAIT).unwrap();
        assert_eq!(v["code"], 2);
        assert!(v["msg"].as_str().unwrap().starts_with("Invalid request: unknown variant `FETCH`"), "{v}");
        send(r#"{"method":"LIST_SUBSCRIPTIONS"}"#);
        assert_eq!(
            client.json(WAIT),
            Some(json!({ "code": 2, "msg": "Invalid request: request ID must be an unsigned integer" }))
        );
        // Now combined: a trade arrives wrapped.
        let (_, ask) = best(&ctx, 0);
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
        let v = client.json(WAIT).unwrap();
        assert_eq!(v["stream"], "btcusdt@trade");
        assert_eq!(v["data"]["e"], "trade");
    }

    #[test]
    fn frame_faults_pings_and_drops() {
        let ctx = ctx();
        let venue = Arc::new(BinanceSpot::new(BinanceLimits {
            ws_ping_interval: Duration::from_millis(50),
            ..BinanceLimits::default()
        }));
        let client = Client::new(&venue, &ctx, "/ws/btcusdt@trade", "");
        let (_, ask) = best(&ctx, 0);
        let next_data = |client: &Client| loop {
            match client.next(WAIT).expect("a frame") {
                Sent::Ping => continue,
                other => return other,
            }
        };
        ctx.faults.malformed_frames(1);
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
        let Sent::Raw(bytes) = next_data(&client) else { panic!("a raw frame") };
        assert!(serde_json::from_slice::<Value>(&bytes).is_err());
        ctx.faults.truncated_frames(1);
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
        let Sent::Raw(bytes) = next_data(&client) else { panic!("a raw frame") };
        assert!(serde_json::from_slice::<Value>(&bytes).is_err());
        assert!(bytes.starts_with(b"{\"E\":") || bytes.starts_with(b"{\""), "{}", String::from_utf8_lossy(&bytes));
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
        let Sent::Text(t) = next_data(&client) else { panic!("a text frame") };
        assert_eq!(serde_json::from_str::<Value>(&t).unwrap()["e"], "trade");
        // Pings keep coming.
        let pinged = (0..20).any(|_| client.next(Duration::from_millis(200)) == Some(Sent::Ping));
        assert!(pinged);
        // A stall holds everything back (pings included); once it ends, the trade arrives.
        ctx.faults.stall_ws_for(Duration::from_secs(60));
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
        while client.next(Duration::ZERO).is_some() {}
        assert_eq!(client.next(Duration::from_millis(200)), None);
        ctx.faults.clear();
        let Sent::Text(t) = next_data(&client) else { panic!("a text frame") };
        assert_eq!(serde_json::from_str::<Value>(&t).unwrap()["e"], "trade");
        // Dropping connections closes the session without a close frame.
        ctx.faults.drop_ws_connections();
        let closed = (0..100).find_map(|_| match client.next(Duration::from_millis(100)) {
            Some(Sent::Close(graceful)) => Some(graceful),
            _ => None,
        });
        assert_eq!(closed, Some(false));
    }

    #[test]
    fn execution_reports_follow_a_partial_then_complete_fill() {
        let ctx = ctx();
        let venue = Arc::new(BinanceSpot::default());
        let (_, key) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(DOC_KEY)));
        let key = key["listenKey"].as_str().unwrap().to_string();
        let client = Client::new(&venue, &ctx, &format!("/ws/{key}"), "");
        let inst = ctx.market.instruments()[0].clone();
        let (_, ask) = best(&ctx, 0);
        // Our sell joins the best ask behind the background orders there.
        let params =
            format!("symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.00100&price={}", btc_text(ask.0));
        let (status, placed) = call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", &params));
        assert_eq!(status, 200, "{placed}");
        let is_report = |v: &Value| v["e"] == "executionReport";
        let new = client.json_where(WAIT, is_report).expect("NEW");
        let sample: Value = serde_json::from_str(ORDER_UPDATE).unwrap();
        let mut expected = keys(&sample["event"]);
        // `v` (prevented match id) only appears when self-trade prevention expired the order.
        expected.remove("v");
        assert_eq!(keys(&new), expected);
        assert_eq!((new["x"].as_str(), new["X"].as_str(), new["w"].as_bool()), (Some("NEW"), Some("NEW"), Some(true)));
        assert_eq!(new["i"], placed["orderId"]);
        assert_eq!(new["c"], placed["clientOrderId"]);
        assert_eq!(new["q"], "0.00100000");
        // The taker account takes the background quantity plus 40 of our 100 lots, then the rest.
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, ask.1.units() + 40);
        submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 60);
        let first = client.json_where(WAIT, is_report).expect("first TRADE");
        let second = client.json_where(WAIT, is_report).expect("second TRADE");
        let px = price_text(&inst, ask.0);
        let fields = |v: &Value| {
            [v["x"].clone(), v["X"].clone(), v["l"].clone(), v["z"].clone(), v["L"].clone(), v["m"].clone()]
        };
        assert_eq!(
            fields(&first),
            [
                json!("TRADE"),
                json!("PARTIALLY_FILLED"),
                json!("0.00040000"),
                json!("0.00040000"),
                json!(px),
                json!(true)
            ]
        );
        assert_eq!(
            fields(&second),
            [json!("TRADE"), json!("FILLED"), json!("0.00060000"), json!("0.00100000"), json!(px), json!(true)]
        );
        assert_eq!(keys(&first), expected);
        assert_eq!(first["N"], "USDT");
        assert!(first["t"].as_i64().unwrap() > 0);
        assert_eq!(second["w"], false);
        // Z is the cumulative quote: price × filled.
        let z = inst.notional(ask.0, Qty::from_units(100), qt_core::Rounding::Nearest).unwrap();
        assert_eq!(second["Z"], amount_text(z));
        // Balances follow on the same stream.
        let pos = client.json_where(WAIT, |v| v["e"] == "outboundAccountPosition").expect("balances");
        assert_eq!(keys(&pos), ["B", "E", "e", "u"].map(String::from).into());
        assert_eq!(keys(&pos["B"][0]), ["a", "f", "l"].map(String::from).into());
        // A user cancel carries the cancel's client id as c and the order's as C.
        let (bid_now, _) = best(&ctx, 0);
        let params = format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00100&price={}&newClientOrderId=rest1",
            btc_text(Price::from_units(bid_now.0.units() - 1000))
        );
        call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", &params));
        call(
            &venue,
            &ctx,
            &signed(&ctx, "DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=rest1&newClientOrderId=kill1"),
        );
        let cancel = client.json_where(WAIT, |v| is_report(v) && v["x"] == "CANCELED").expect("CANCELED");
        assert_eq!(
            (cancel["c"].as_str(), cancel["C"].as_str(), cancel["X"].as_str()),
            (Some("kill1"), Some("rest1"), Some("CANCELED"))
        );
        // A closed listen key ends the stream with listenKeyExpired.
        call(
            &venue,
            &ctx,
            &request("DELETE", "/api/v3/userDataStream", &format!("listenKey={key}"), "", Some(DOC_KEY)),
        );
        let expired = client.json_where(WAIT, |v| v["e"] == "listenKeyExpired").expect("listenKeyExpired");
        assert_eq!(expired["listenKey"], key.as_str());
    }

    #[test]
    fn unknown_streams_and_listen_keys_close_the_session() {
        let ctx = ctx();
        let venue = Arc::new(BinanceSpot::default());
        for path in ["/ws/btcusdt@kline_1m", "/ws/notakey", "/ws/BTCUSDT@trade", "/ws/xrpusdt@trade"] {
            let client = Client::new(&venue, &ctx, path, "");
            assert_eq!(client.next(WAIT), Some(Sent::Close(true)), "{path}");
        }
        assert!(
            venue.is_ws_path("/ws/btcusdt@trade") && venue.is_ws_path("/stream") && !venue.is_ws_path("/api/v3/time")
        );
    }
}
