//! Binance USD-M futures' side of the shared Binance gateway (`crate::binance::dialect`): its
//! paths (`/fapi`), its limit table and weights, its order types (`GTX` post-only,
//! `reduceOnly`) and its error codes mapped onto [`RejectReason`].
//!
//! Facts: `/work/shared/venues/NOTES-orders.md` §1b (a mirror of the USD-M docs' text,
//! `agutikov/binapi`): REQUEST_WEIGHT 2400 per minute per IP (`X-MBX-USED-WEIGHT-1M`); ORDERS
//! 300 per 10 s and 1200 per minute per account (`X-MBX-ORDER-COUNT-10S` / `-1M`); a new order
//! costs 1 on each order count and 0 weight; cancel, cancel-all and an order query 1;
//! `userTrades` 5; time 1 (the docs' weights; the venue's headers correct our count on every
//! answer). Pure data and pure functions.

use crate::binance::dialect::{Costs, Dialect};
use crate::kit::rate_limit::{Cost, Counts, LimitRule, Scope};
use qt_core::{OrderRequest, OrderType, RejectReason, TimeInForce};

/// The rules, request weight first (the gateway reads index 0 as the weight).
const RULES: &[LimitRule] = &[
    LimitRule {
        header: Some("x-mbx-used-weight-1m"),
        counts: Counts::Weight,
        scope: Scope::Ip,
        limit: 2400,
        window_ms: 60_000,
    },
    LimitRule {
        header: Some("x-mbx-order-count-10s"),
        counts: Counts::Orders,
        scope: Scope::Account,
        limit: 300,
        window_ms: 10_000,
    },
    LimitRule {
        header: Some("x-mbx-order-count-1m"),
        counts: Counts::Orders,
        scope: Scope::Account,
        limit: 1200,
        window_ms: 60_000,
    },
];

/// `-2018` balance is insufficient.
pub const CODE_BALANCE_INSUFFICIENT: i64 = -2018;
/// `-2019` margin is insufficient.
pub const CODE_MARGIN_INSUFFICIENT: i64 = -2019;
/// `-2022` REDUCE_ONLY_REJECT: a reduce-only order that would not only reduce the position.
pub const CODE_REDUCE_ONLY_REJECTED: i64 = -2022;
/// `-4003` quantity less than or equal to zero.
pub const CODE_QTY_NOT_POSITIVE: i64 = -4003;
/// `-4005` quantity greater than the maximum.
pub const CODE_QTY_TOO_LARGE: i64 = -4005;
/// `-4014` price not increased by tick size.
pub const CODE_PRICE_OFF_TICK: i64 = -4014;
/// `-4016` limit price above the allowed multiplier of the mark.
pub const CODE_PRICE_TOO_HIGH: i64 = -4016;
/// `-4023` quantity not increased by step size.
pub const CODE_QTY_OFF_STEP: i64 = -4023;
/// `-4024` limit price below the allowed multiplier of the mark.
pub const CODE_PRICE_TOO_LOW: i64 = -4024;
/// `-4061` the order's position side does not match the account's mode (hedge mode).
pub const CODE_POSITION_SIDE_MISMATCH: i64 = -4061;
/// `-4164` order notional below the minimum (unless reduce-only).
pub const CODE_MIN_NOTIONAL: i64 = -4164;
/// `-5021` a FOK order that could not be filled at once.
pub const CODE_FOK_UNFILLABLE: i64 = -5021;
/// `-5022` a post-only (GTX) order that would take.
pub const CODE_POST_ONLY_WOULD_TAKE: i64 = -5022;

/// The reason a new USD-M order was refused: USD-M's own codes, then spot's shared ones (rate
/// limits -1003/-1015 and HTTP 418/429, -1121 invalid symbol, -1013 filters).
///
/// -2022 (reduce-only rejected) and -4061 (hedge mode) have no [`RejectReason`] of their own:
/// they are `Other`, logged with the venue's code by the gateway.
pub fn reject_reason(status: u16, code: i64, msg: &str) -> RejectReason {
    match code {
        CODE_BALANCE_INSUFFICIENT | CODE_MARGIN_INSUFFICIENT => RejectReason::InsufficientBalance,
        CODE_MIN_NOTIONAL => RejectReason::MinNotional,
        CODE_POST_ONLY_WOULD_TAKE => RejectReason::WouldTakeLiquidity,
        CODE_FOK_UNFILLABLE => RejectReason::FokUnfillable,
        CODE_PRICE_OFF_TICK | CODE_PRICE_TOO_HIGH | CODE_PRICE_TOO_LOW => RejectReason::PriceFilter,
        CODE_QTY_OFF_STEP | CODE_QTY_NOT_POSITIVE | CODE_QTY_TOO_LARGE => RejectReason::LotSize,
        CODE_REDUCE_ONLY_REJECTED | CODE_POSITION_SIDE_MISMATCH => RejectReason::Other,
        _ => crate::binance::errors::reject_reason(status, code, msg),
    }
}

/// `LIMIT` with GTC / IOC / FOK / GTX (post-only), or `MARKET`; `reduceOnly=true` for a
/// reduce-only order (one-way mode: `positionSide` is left to its default, BOTH).
fn order_type(request: &OrderRequest, query: &mut String) {
    query.push_str(match (request.order_type, request.tif) {
        (OrderType::Market, _) => "&type=MARKET",
        (OrderType::Limit, TimeInForce::Ioc) => "&type=LIMIT&timeInForce=IOC",
        (OrderType::Limit, TimeInForce::Fok) => "&type=LIMIT&timeInForce=FOK",
        (OrderType::Limit, TimeInForce::PostOnly) => "&type=LIMIT&timeInForce=GTX",
        (OrderType::Limit, TimeInForce::Gtc) => "&type=LIMIT&timeInForce=GTC",
    });
    if request.reduce_only {
        query.push_str("&reduceOnly=true");
    }
}

/// The encoded parameters of a new USD-M order (`POST /fapi/v1/order`), appended to `out`
/// ([`crate::binance::gateway::write_order_params`] in this dialect).
pub fn write_order_query(out: &mut String, inst: &qt_core::Instrument, client_id: &str, request: &OrderRequest) {
    crate::binance::gateway::write_order_params(&USDM, out, inst, client_id, request);
}

/// Server time.
pub(crate) const TIME_PATH: &str = "/fapi/v1/time";

/// Binance USD-M futures.
pub(crate) static USDM: Dialect = Dialect {
    venue_name: "Binance USD-M",
    log_name: "binance-usdm",
    thread: "qt-gw-busdm",
    order_path: "/fapi/v1/order",
    cancel_all_path: "/fapi/v1/allOpenOrders",
    open_orders_path: "/fapi/v1/openOrders",
    trades_path: "/fapi/v1/userTrades",
    time_path: TIME_PATH,
    listen_key_path: "/fapi/v1/listenKey",
    rules: RULES,
    costs: Costs {
        new_order: Cost::order(0),
        cancel: Cost::weight(1),
        query_order: Cost::weight(1),
        trades: Cost::weight(5),
        time: Cost::weight(1),
    },
    reject_reason,
    order_type_params: order_type,
    order_event: "ORDER_TRADE_UPDATE",
    order_fields_in_o: true,
    // A position's missed fills change what a reduce-only order may do: settle them first.
    settle_gaps_before_new_orders: true,
    // USD-M's WebSocket API (`/ws-fapi/v1`) is not used: the listen-key stream is USD-M's documented way.
    ws_api_user_data: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{AccountId, InstrumentId, Price, Qty, Side, StrategyId};

    #[test]
    fn usdm_codes_map_to_reasons_and_spot_codes_still_apply() {
        let r = |code, msg| reject_reason(400, code, msg);
        assert_eq!(r(-2022, "ReduceOnly Order is rejected."), RejectReason::Other);
        assert_eq!(r(-4164, "Order's notional must be no smaller than 5"), RejectReason::MinNotional);
        assert_eq!(r(-5022, "Due to the order could not be executed as maker"), RejectReason::WouldTakeLiquidity);
        assert_eq!(r(-5021, "FOK"), RejectReason::FokUnfillable);
        assert_eq!(r(-2019, "Margin is insufficient."), RejectReason::InsufficientBalance);
        assert_eq!(r(-4014, "Price not increased by tick size."), RejectReason::PriceFilter);
        assert_eq!(r(-4023, "Qty not increased by step size."), RejectReason::LotSize);
        assert_eq!(r(-1121, "Invalid symbol."), RejectReason::UnknownInstrument);
        assert_eq!(reject_reason(429, -1003, "Too many requests"), RejectReason::RateLimited);
    }

    #[test]
    fn post_only_is_gtx_and_reduce_only_is_sent() {
        let mut request = OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side: Side::Sell,
            order_type: OrderType::Limit,
            tif: TimeInForce::PostOnly,
            price: Price::from_units(1),
            qty: Qty::from_units(1),
            reduce_only: true,
            stop_price: None,
        };
        let mut p = String::new();
        order_type(&request, &mut p);
        assert_eq!(p, "&type=LIMIT&timeInForce=GTX&reduceOnly=true");
        request.order_type = OrderType::Market;
        request.reduce_only = false;
        let mut p = String::new();
        order_type(&request, &mut p);
        assert_eq!(p, "&type=MARKET");
    }
}
