//! Bybit's text: categories, order/trade/execution ids, decimals as each category writes them,
//! JSON objects in the documented field order (serde_json's map would sort the keys), and the
//! order and execution documents of the REST answers and the private stream.

use super::ledger::OrderRecord;
use super::{EXEC_UUID_SALT, ORDER_UUID_SALT};
use crate::market::{FillView, OrderStatus, OrderView};
use qt_core::decimal::format_scaled;
use qt_core::{
    DecimalStyle, Instrument, InstrumentKind, Nanos, Notional, OrderType, Price, Qty, Rounding, Side, TimeInForce,
};
use serde_json::Value;
use std::time::Duration;

/// Bybit's product type, as far as the simulator serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Category {
    Spot,
    Linear,
}

impl Category {
    pub(super) fn parse(text: &str) -> Option<Self> {
        match text {
            "spot" => Some(Category::Spot),
            "linear" => Some(Category::Linear),
            _ => None,
        }
    }

    pub(super) fn of(kind: InstrumentKind) -> Option<Self> {
        match kind {
            InstrumentKind::Spot => Some(Category::Spot),
            InstrumentKind::LinearPerpetual => Some(Category::Linear),
            InstrumentKind::InversePerpetual => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
        }
    }

    /// Spot trims trailing zeros; linear writes the instrument's scale (recorded streams).
    pub(super) fn style(self) -> DecimalStyle {
        match self {
            Category::Spot => DecimalStyle::Trimmed,
            Category::Linear => DecimalStyle::Fixed,
        }
    }
}

pub(super) fn price_text(inst: &Instrument, cat: Category, p: Price) -> String {
    p.to_text(inst.price_scale(), cat.style()).as_str().to_owned()
}

pub(super) fn qty_text(inst: &Instrument, cat: Category, q: Qty) -> String {
    q.to_text(inst.qty_scale(), cat.style()).as_str().to_owned()
}

pub(super) fn units_price(inst: &Instrument, cat: Category, units: i64) -> String {
    price_text(inst, cat, Price::from_units(units))
}

pub(super) fn units_qty(inst: &Instrument, cat: Category, units: i64) -> String {
    qty_text(inst, cat, Qty::from_units(units))
}

pub(super) fn value_text(n: Notional) -> String {
    n.to_text(DecimalStyle::Trimmed).as_str().to_owned()
}

pub(super) fn ms(t: Nanos) -> i64 {
    t.0.div_euclid(1_000_000)
}

/// `8-4-4-4-12` hex from two halves (linear ids look like Bybit's UUIDs).
pub(super) fn uuid_text(salt: u64, id: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        salt >> 32,
        (salt >> 16) & 0xffff,
        salt & 0xffff,
        id >> 48,
        id & 0xffff_ffff_ffff
    )
}

pub(super) fn parse_uuid(salt: u64, text: &str) -> Option<u64> {
    let hex: String = text.split('-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    let hi = u64::from_str_radix(hex.get(..16)?, 16).ok()?;
    let lo = u64::from_str_radix(hex.get(16..)?, 16).ok()?;
    (hi == salt).then_some(lo)
}

pub(super) fn order_id_text(cat: Category, id: u64) -> String {
    match cat {
        Category::Spot => id.to_string(),
        Category::Linear => uuid_text(ORDER_UUID_SALT, id),
    }
}

pub(super) fn parse_order_id(cat: Category, text: &str) -> Option<u64> {
    match cat {
        Category::Spot => text.parse().ok(),
        Category::Linear => parse_uuid(ORDER_UUID_SALT, text),
    }
}

/// Trade and execution ids: decimal on spot, UUID-shaped on linear (recorded `publicTrade`).
pub(super) fn trade_id_text(cat: Category, id: u64) -> String {
    match cat {
        Category::Spot => id.to_string(),
        Category::Linear => uuid_text(EXEC_UUID_SALT, id),
    }
}

/// Client order ids the venue makes when the client gave none: a character `orderLinkId`
/// may not contain, so they never collide and render as `""` as Bybit does.
pub(super) const AUTO_LINK_PREFIX: char = '~';

pub(super) fn link_id_text(client_order_id: &str) -> &str {
    if client_order_id.starts_with(AUTO_LINK_PREFIX) { "" } else { client_order_id }
}

pub(super) fn side_text(s: Side) -> &'static str {
    match s {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    }
}

pub(super) fn order_type_text(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "Limit",
        OrderType::Market => "Market",
    }
}

pub(super) fn tif_text(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::PostOnly => "PostOnly",
    }
}

/// `max_active_time` of the private stream: `30s`..`600s` or `1m`..`10m`.
pub(super) fn parse_active_time(text: &str) -> Option<Duration> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        _ => return None,
    };
    (30..=600).contains(&secs).then(|| Duration::from_secs(secs))
}

pub(super) fn push_json_str(out: &mut String, s: &str) {
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

pub(super) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

/// A JSON object written key by key.
#[derive(Debug)]
pub(super) struct Obj(String);

impl Obj {
    pub(super) fn new() -> Self {
        Obj(String::from("{"))
    }

    pub(super) fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_json_str(&mut self.0, k);
        self.0.push(':');
    }

    pub(super) fn s(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        push_json_str(&mut self.0, v);
        self
    }

    pub(super) fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k);
        self.0.push_str(json);
        self
    }

    pub(super) fn int(mut self, k: &str, v: i64) -> Self {
        self.key(k);
        self.0.push_str(&v.to_string());
        self
    }

    pub(super) fn uint(mut self, k: &str, v: u64) -> Self {
        self.key(k);
        self.0.push_str(&v.to_string());
        self
    }

    pub(super) fn boolean(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.0.push_str(if v { "true" } else { "false" });
        self
    }

    pub(super) fn done(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

pub(super) fn json_array(items: impl IntoIterator<Item = String>) -> String {
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

pub(super) fn levels_json(inst: &Instrument, cat: Category, levels: &[(i64, i64)]) -> String {
    json_array(
        levels.iter().map(|&(p, q)| {
            format!("[{},{}]", json_str(&units_price(inst, cat, p)), json_str(&units_qty(inst, cat, q)))
        }),
    )
}

/// A `req_id` echoed as Bybit sends it (a string; a number the client sent is written as text).
pub(super) fn req_id_of(v: &Value) -> Option<String> {
    match v.get("req_id")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `orderStatus` (`enum#orderstatus`): `PartiallyFilledCanceled` is spot only; derivatives use
/// `Cancelled` whether or not something filled.
pub(super) fn status_text(rec: &OrderRecord, cat: Category) -> &'static str {
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
pub(super) fn cancel_type_text(rec: &OrderRecord) -> &'static str {
    match (rec.status_override, rec.view.status) {
        (None, OrderStatus::Canceled) => "CancelByUser",
        _ => "UNKNOWN",
    }
}

pub(super) fn is_open(s: OrderStatus) -> bool {
    matches!(s, OrderStatus::New | OrderStatus::PartiallyFilled)
}

/// The numbers of an order as Bybit writes them.
#[derive(Debug)]
pub(super) struct OrderNumbers {
    pub(super) price: String,
    pub(super) qty: String,
    pub(super) avg_price: String,
    pub(super) leaves_qty: String,
    pub(super) leaves_value: String,
    pub(super) cum_qty: String,
    pub(super) cum_value: String,
    pub(super) cum_fee: String,
    pub(super) fee_detail: String,
    pub(super) created: String,
    pub(super) updated: String,
}

pub(super) fn order_numbers(inst: &Instrument, cat: Category, rec: &OrderRecord, fee: Notional) -> OrderNumbers {
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

pub(super) use crate::kit::decimal_text::average_price;

/// One `data` entry of the private `order` topic: the keys of the docs' stream example
/// (`websocket/private/order.mdx`, `testdata/bybit/order_update.json`) in its order, plus the
/// documented per-category keys `isLeverage` (spot) and `createType` (linear).
pub(super) fn ws_order_json(inst: &Instrument, cat: Category, rec: &OrderRecord, fee: Notional) -> String {
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
        .boolean("reduceOnly", rec.reduce_only)
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
pub(super) fn rest_order_json(inst: &Instrument, cat: Category, rec: &OrderRecord, fee: Notional) -> String {
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
        .boolean("reduceOnly", rec.reduce_only)
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
/// (`websocket/private/execution.mdx`) in its order, and for a linear fill its closed size and
/// PnL (`closedSize`, `execPnl`, from `closing`; the docs' linear example carries both).
pub(super) fn execution_json(
    inst: &Instrument,
    cat: Category,
    order: &OrderView,
    fill: &FillView,
    closing: Option<(Notional, Qty)>,
) -> String {
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
    let o = Obj::new()
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
        .s("isLeverage", "0");
    match (cat, closing) {
        (Category::Linear, Some((pnl, closed))) => {
            o.s("closedSize", &qty_text(inst, cat, closed)).s("execPnl", &value_text(pnl)).done()
        }
        _ => o.done(),
    }
}
