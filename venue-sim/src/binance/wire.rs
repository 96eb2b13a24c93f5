//! Binance spot's JSON shapes: enum texts, `exchangeInfo` symbols, order, cancel and query
//! answers, account positions and `depthUpdate` diffs (as text, in Binance's key order).

use super::rest::RespType;
use super::{MAX_LOTS, MAX_TICKS, STP_MODE};
pub(super) use crate::kit::binance_text::{amount_text, side_text, status_text};
use crate::kit::decimal_text::{WIRE_DECIMALS, ms, price_text, qty_text};
use crate::market::{BalanceView, BookUpdate, FillView, Market, OrderOutcome, OrderView};
use qt_core::TimeInForce;
use qt_core::{Instrument, Nanos, Notional, OrderType, Price, Qty, Side};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

pub(super) fn type_text(o: &OrderView) -> &'static str {
    match (o.order_type, o.tif) {
        (OrderType::Market, _) => "MARKET",
        (OrderType::Limit, TimeInForce::PostOnly) => "LIMIT_MAKER",
        (OrderType::Limit, _) => "LIMIT",
    }
}

pub(super) fn tif_text(o: &OrderView) -> &'static str {
    // Binance reports GTC for MARKET and LIMIT_MAKER orders.
    match (o.order_type, o.tif) {
        (OrderType::Limit, TimeInForce::Ioc) => "IOC",
        (OrderType::Limit, TimeInForce::Fok) => "FOK",
        _ => "GTC",
    }
}

/// Whether the order rests on the book once placed (Binance's "working" orders with a
/// `workingTime`/`W`): GTC limit and LIMIT_MAKER orders.
pub(super) fn rests(o: &OrderView) -> bool {
    o.order_type == OrderType::Limit && matches!(o.tif, TimeInForce::Gtc | TimeInForce::PostOnly)
}

/// One `exchangeInfo` symbol with filters from the instrument's exact grid.
pub(super) fn symbol_info(inst: &Instrument) -> Value {
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
pub(super) fn order_response(inst: &Instrument, outcome: &OrderOutcome, resp_type: RespType) -> Value {
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
        obj.extend(order_fields(inst, o));
        obj.insert("workingTime".into(), ms(o.created).into());
        if resp_type == RespType::Full {
            obj.insert("fills".into(), Value::Array(outcome.fills.iter().map(|f| fill_json(inst, f)).collect()));
        }
    }
    v
}

pub(super) fn fill_json(inst: &Instrument, f: &FillView) -> Value {
    json!({
        "price": price_text(inst, f.price),
        "qty": qty_text(inst, f.qty),
        "commission": amount_text(f.fee),
        "commissionAsset": inst.quote(),
        "tradeId": f.trade_id,
    })
}

/// The fields every order answer carries: price, quantities, status, type, time in force, side
/// and self-trade prevention mode.
fn order_fields(inst: &Instrument, o: &OrderView) -> Map<String, Value> {
    let fields = json!({
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
    });
    match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `head` (an object) with [`order_fields`] added.
fn with_order_fields(mut head: Value, inst: &Instrument, o: &OrderView) -> Value {
    if let Value::Object(m) = &mut head {
        m.extend(order_fields(inst, o));
    }
    head
}

/// The `DELETE /api/v3/order` answer (one element of `DELETE /api/v3/openOrders`).
pub(super) fn cancel_json(inst: &Instrument, o: &OrderView, cancel_id: &str, now_ms: i64) -> Value {
    let head = json!({
        "symbol": inst.symbol(),
        "origClientOrderId": o.client_order_id,
        "orderId": o.venue_order_id,
        "orderListId": -1,
        "clientOrderId": cancel_id,
        "transactTime": now_ms,
    });
    with_order_fields(head, inst, o)
}

/// The `GET /api/v3/order` answer (one element of `GET /api/v3/openOrders`).
pub(super) fn query_json(inst: &Instrument, o: &OrderView) -> Value {
    let head = json!({
        "symbol": inst.symbol(),
        "orderId": o.venue_order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "stopPrice": price_text(inst, Price::ZERO),
        "icebergQty": qty_text(inst, Qty::ZERO),
        "time": ms(o.created),
        "updateTime": ms(o.updated),
        "isWorking": true,
        "workingTime": ms(o.created),
    });
    with_order_fields(head, inst, o)
}

pub(super) fn account_position_json(ts: Nanos, balances: &[BalanceView], now_ms: i64) -> Value {
    json!({
        "e": "outboundAccountPosition",
        "E": now_ms,
        "u": ms(ts),
        "B": balances.iter().map(|b| json!({ "a": b.asset, "f": amount_text(b.free), "l": amount_text(b.locked) })).collect::<Vec<_>>(),
    })
}

/// The `depthUpdate` covering `ops` (consecutive book operations): final quantity per touched
/// price, bids best first, asks best first, as [`depth_update_text`] writes it.
pub(super) fn diff_json(market: &Market, symbol: usize, ops: &[Arc<BookUpdate>]) -> Option<String> {
    let inst = market.instruments().get(symbol)?;
    let first = ops.first()?.update_id;
    let last = ops.last()?.update_id;
    let mut bids: BTreeMap<i64, i64> = BTreeMap::new();
    let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
    for op in ops {
        for (side, price, qty) in &op.levels {
            let book = if *side == Side::Buy { &mut bids } else { &mut asks };
            book.insert(price.units(), qty.units());
        }
    }
    let bids: Vec<(i64, i64)> = bids.into_iter().rev().collect();
    let asks: Vec<(i64, i64)> = asks.into_iter().collect();
    Some(depth_update_text(inst, market.now_ms(), (first, last), &bids, &asks))
}

/// A spot `depthUpdate` payload for `inst` at event time `event_ms` covering update ids
/// `first..=last`, levels as `(price units, qty units)` in the order given, keys in Binance's
/// order (`e`, `E`, `s`, `U`, `u`, `b`, `a`): the one encoder of the format, which the sessions
/// and the bench streams both use.
pub fn depth_update_text(
    inst: &Instrument,
    event_ms: i64,
    (first, last): (u64, u64),
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) -> String {
    let symbol = Value::from(inst.symbol());
    let mut out = format!("{{\"e\":\"depthUpdate\",\"E\":{event_ms},\"s\":{symbol},\"U\":{first},\"u\":{last},\"b\":[");
    for (levels, tail) in [(bids, "],\"a\":["), (asks, "]}")] {
        for (j, &(p, q)) in levels.iter().enumerate() {
            let sep = if j == 0 { "" } else { "," };
            let (p, q) = (price_text(inst, Price::from_units(p)), qty_text(inst, Qty::from_units(q)));
            let _ = write!(out, "{sep}[\"{p}\",\"{q}\"]");
        }
        out.push_str(tail);
    }
    out
}
