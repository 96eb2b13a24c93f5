//! What differs between the Binance APIs one gateway speaks: spot (`/api/v3`) and USD-M futures
//! (`/fapi`, [`crate::binance_usdm`]) share the signing, the error shape, the order lifecycle,
//! the listen-key user stream and the reconciliation; a [`Dialect`] names the rest — the paths,
//! the limit table and weights, the order type parameters, the error-code mapping and where the
//! order events sit in the stream — and an [`EventSink`] takes the stream's other events
//! (USD-M's `ACCOUNT_UPDATE`, with funding).
//!
//! Pure data and a trait; [`SPOT`] is Binance spot's dialect.

use crate::binance::{errors, limits};
use crate::kit::rate_limit::{Cost, LimitRule};
use crate::kit::stats::GatewayStats;
use qt_core::{AccountId, OrderRequest, OrderType, RejectReason, TimeInForce};

/// The weight and orders of each request the gateway makes (the kit's rate limiter reads them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Costs {
    /// A new order.
    pub(crate) new_order: Cost,
    /// A cancel, and a cancel-all per symbol.
    pub(crate) cancel: Cost,
    /// An order query.
    pub(crate) query_order: Cost,
    /// The trade list of one order.
    pub(crate) trades: Cost,
    /// One server-time request.
    pub(crate) time: Cost,
}

/// One Binance API's differences (see the module doc).
#[derive(Debug)]
pub(crate) struct Dialect {
    /// The venue's name in errors (`Binance`, `Binance USD-M`).
    pub(crate) venue_name: &'static str,
    /// The name in logs (`binance`, `binance-usdm`).
    pub(crate) log_name: &'static str,
    /// The gateway thread's name; stream threads append `-us<N>`.
    pub(crate) thread: &'static str,
    /// Place / cancel / query one order.
    pub(crate) order_path: &'static str,
    /// Cancel every open order of a symbol (`DELETE`).
    pub(crate) cancel_all_path: &'static str,
    /// The open orders of a symbol (`GET`; a restart's settling looks for orders it lost).
    pub(crate) open_orders_path: &'static str,
    /// The trade list of one order (`orderId=`).
    pub(crate) trades_path: &'static str,
    /// Server time (`{"serverTime": ms}`).
    pub(crate) time_path: &'static str,
    /// The listen key (`POST`/`PUT`/`DELETE`, API key only).
    pub(crate) listen_key_path: &'static str,
    /// The rate-limit rules, request weight first.
    pub(crate) rules: &'static [LimitRule],
    /// Each request's cost.
    pub(crate) costs: Costs,
    /// The reason a new order was refused, from the HTTP status and `{"code","msg"}`.
    pub(crate) reject_reason: fn(u16, i64, &str) -> RejectReason,
    /// Appends the `&type=` / `&timeInForce=` (and, on futures, `&reduceOnly=`) parameters of a
    /// new order to its encoded query.
    pub(crate) order_type_params: fn(&OrderRequest, &mut String),
    /// The `e` of an order event on the user stream.
    pub(crate) order_event: &'static str,
    /// Whether the order event's fields sit in its `o` object (USD-M) rather than at the top.
    pub(crate) order_fields_in_o: bool,
    /// Whether a new order of an account whose stream had a gap waits for the gap's order
    /// queries (at most the reconnect delay) and runs them first, so the fills the stream
    /// missed are reported before the new order goes out.
    pub(crate) settle_gaps_before_new_orders: bool,
    /// Whether user data may come through the WebSocket API subscription
    /// (`crate::binance::ws_api_stream`; spot) rather than only the listen-key stream.
    pub(crate) ws_api_user_data: bool,
}

/// Takes the user stream's events other than order events (spot ignores them).
pub(crate) trait EventSink: Send {
    /// Event `e` of `account`'s stream (`text` as received); an error says why the frame could
    /// not be read (counted as malformed by the caller).
    fn on_event(&mut self, account: AccountId, e: &str, text: &str, stats: &mut GatewayStats) -> Result<(), String>;
}

/// Ignores every event.
#[derive(Debug, Default)]
pub(crate) struct IgnoreEvents;

impl EventSink for IgnoreEvents {
    fn on_event(&mut self, _: AccountId, _: &str, _: &str, _: &mut GatewayStats) -> Result<(), String> {
        Ok(())
    }
}

/// Spot: `LIMIT_MAKER` for post-only, `LIMIT` with GTC/IOC/FOK, `MARKET`; no reduce-only.
fn spot_order_type(request: &OrderRequest, query: &mut String) {
    query.push_str(match (request.order_type, request.tif) {
        (OrderType::Market, _) => "&type=MARKET",
        (OrderType::Limit, TimeInForce::PostOnly) => "&type=LIMIT_MAKER",
        (OrderType::Limit, TimeInForce::Ioc) => "&type=LIMIT&timeInForce=IOC",
        (OrderType::Limit, TimeInForce::Fok) => "&type=LIMIT&timeInForce=FOK",
        (OrderType::Limit, TimeInForce::Gtc) => "&type=LIMIT&timeInForce=GTC",
    });
}

/// Binance spot.
pub(crate) static SPOT: Dialect = Dialect {
    venue_name: "Binance",
    log_name: "binance",
    thread: "qt-gw-binance",
    order_path: "/api/v3/order",
    cancel_all_path: "/api/v3/openOrders",
    open_orders_path: "/api/v3/openOrders",
    trades_path: crate::binance::trades::MY_TRADES_PATH,
    time_path: crate::binance::server_time::TIME_PATH,
    listen_key_path: crate::binance::user_stream::USER_DATA_STREAM,
    rules: limits::RULES,
    costs: Costs {
        new_order: limits::NEW_ORDER,
        cancel: limits::CANCEL,
        query_order: limits::QUERY_ORDER,
        trades: limits::MY_TRADES,
        time: limits::TIME,
    },
    reject_reason: errors::reject_reason,
    order_type_params: spot_order_type,
    order_event: "executionReport",
    order_fields_in_o: false,
    settle_gaps_before_new_orders: false,
    ws_api_user_data: true,
};
