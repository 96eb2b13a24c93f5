//! OKX's order documents: one order as "Get order details" / "Get order List" (REST) and the
//! private `orders` channel (push) write it, one fill as "Get transaction details"
//! (`/trade/fills`), and the `instType` / `ordType` / `state` words.
//!
//! Facts: the samples `testdata/okx/orders/rest_orders_pending_response.json` and
//! `testdata/okx/order_update.json` ([MIRROR] of the docs): every number a string; `fee` and
//! `fillFee` negative when charged ("fee: negative number represents the user transaction fee
//! charged by the platform"); `fillSz` / `fillPx` / `tradeId` / `fillTime` the last fill;
//! `accFillSz` the cumulative fill; `avgPx` its average. `cancelSource` (third-party copies of
//! the docs' table, not in NOTES): `"1"` cancelled by the user, `"13"` an FOK that could not
//! fill completely, `"14"` an IOC's unfilled part, `"31"` a post-only that would take.
//! Guesses (README): a non-fill push carries `fillSz` `"0"` and empty fill fields; SWAP
//! contracts are one base unit (`ctVal` 1 in "Get instruments"), so `sz` is the base quantity.
//!
//! Pure functions over market views; allocate the JSON.

use super::wire::{inst_id, inst_type};
use crate::kit::decimal_text::{average_price, ms};
use crate::market::{FillView, OrderStatus, OrderView};
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument, InstrumentKind, Notional, OrderType, Side, TimeInForce};
use serde_json::{Map, Value, json};

/// `ordType` of an order as the market keeps it.
pub(super) fn ord_type(v: &OrderView) -> &'static str {
    match (v.order_type, v.tif) {
        (OrderType::Market, _) => "market",
        (_, TimeInForce::PostOnly) => "post_only",
        (_, TimeInForce::Fok) => "fok",
        (_, TimeInForce::Ioc) => "ioc",
        _ => "limit",
    }
}

/// `state`.
pub(super) fn state(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "live",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected => "canceled",
    }
}

/// `tdMode` the simulator trades each kind in: spot `cash`, SWAP `cross`.
pub(super) fn td_mode(inst: &Instrument) -> &'static str {
    if inst.kind() == InstrumentKind::Spot { "cash" } else { "cross" }
}

pub(super) fn side_text(s: Side) -> &'static str {
    if s == Side::Buy { "buy" } else { "sell" }
}

/// A fee as OKX writes it: negative when charged.
pub(super) fn fee_text(fee: Notional) -> String {
    let signed = fee.checked_neg().unwrap_or(fee);
    if signed.is_zero() { "0".into() } else { signed.to_text(DecimalStyle::Trimmed).as_str().to_owned() }
}

fn px(inst: &Instrument, v: qt_core::Price) -> String {
    inst.price_text(v).as_ref().to_owned()
}

fn sz(inst: &Instrument, v: qt_core::Qty) -> String {
    format_scaled(i128::from(v.units()), inst.qty_scale(), DecimalStyle::Trimmed).as_str().to_owned()
}

/// One order: what both shapes share.
#[derive(Debug, Clone, Copy)]
pub(super) struct OrderDoc<'a> {
    pub(super) inst: &'a Instrument,
    pub(super) view: &'a OrderView,
    /// The order's fills up to the state shown, oldest first.
    pub(super) fills: &'a [FillView],
    pub(super) reduce_only: bool,
    /// `cancelSource` of a venue-cancelled order (`""` otherwise: derived from the state).
    pub(super) cancel_source: &'static str,
}

impl OrderDoc<'_> {
    fn cancel_source(&self) -> &'static str {
        if !self.cancel_source.is_empty() {
            return self.cancel_source;
        }
        match self.view.status {
            OrderStatus::Canceled => "1",
            OrderStatus::Expired if self.view.tif == TimeInForce::Fok => "13",
            OrderStatus::Expired => "14",
            _ => "",
        }
    }

    fn total_fee(&self) -> Notional {
        self.fills.iter().fold(Notional::ZERO, |a, f| a.checked_add(f.fee).unwrap_or(a))
    }

    /// The fields of "Get order details".
    pub(super) fn rest(&self) -> Map<String, Value> {
        let (inst, v) = (self.inst, self.view);
        let last = self.fills.last();
        let quote = inst.quote();
        let price = if v.order_type == OrderType::Market { String::new() } else { px(inst, v.price) };
        let avg = if v.cum_qty.is_positive() { average_price(inst, v.cum_quote, v.cum_qty) } else { String::new() };
        let fill_px = last.map_or_else(String::new, |f| px(inst, f.price));
        let fill_sz = last.map_or_else(|| "0".into(), |f| sz(inst, f.qty));
        let trade_id = last.map_or_else(String::new, |f| f.trade_id.to_string());
        let fill_time = last.map_or_else(String::new, |f| ms(f.ts).to_string());
        let spot = inst.kind() == InstrumentKind::Spot;
        let text = |s: &str| Value::String(s.to_owned());
        let fields: [(&str, Value); 53] = [
            ("instType", text(inst_type(inst))),
            ("instId", Value::String(inst_id(inst))),
            ("tgtCcy", text("")),
            ("ccy", text("")),
            ("ordId", Value::String(v.venue_order_id.to_string())),
            ("clOrdId", text(&v.client_order_id)),
            ("tag", text("")),
            ("px", Value::String(price)),
            ("pxUsd", text("")),
            ("pxVol", text("")),
            ("pxType", text("")),
            ("sz", Value::String(sz(inst, v.qty))),
            ("pnl", text("0")),
            ("ordType", text(ord_type(v))),
            ("side", text(side_text(v.side))),
            ("posSide", text(if spot { "" } else { "net" })),
            ("tdMode", text(td_mode(inst))),
            ("accFillSz", Value::String(sz(inst, v.cum_qty))),
            ("fillPx", Value::String(fill_px)),
            ("tradeId", Value::String(trade_id)),
            ("fillSz", Value::String(fill_sz)),
            ("fillTime", Value::String(fill_time)),
            ("avgPx", Value::String(avg)),
            ("state", text(state(v.status))),
            ("stpId", text("")),
            ("stpMode", text("cancel_maker")),
            ("lever", text(if spot { "" } else { "1" })),
            ("attachAlgoClOrdId", text("")),
            ("tpTriggerPx", text("")),
            ("tpTriggerPxType", text("")),
            ("tpOrdPx", text("")),
            ("slTriggerPx", text("")),
            ("slTriggerPxType", text("")),
            ("slOrdPx", text("")),
            ("attachAlgoOrds", json!([])),
            ("linkedAlgoOrd", json!({"algoId": ""})),
            ("feeCcy", text(quote)),
            ("fee", Value::String(fee_text(self.total_fee()))),
            ("rebateCcy", text(quote)),
            ("rebate", text("0")),
            ("source", text("")),
            ("category", text("normal")),
            ("reduceOnly", text(if self.reduce_only { "true" } else { "false" })),
            ("isTpLimit", text("false")),
            ("cancelSource", text(self.cancel_source())),
            ("cancelSourceReason", text("")),
            ("quickMgnType", text("")),
            ("algoClOrdId", text("")),
            ("algoId", text("")),
            ("tradeQuoteCcy", text(quote)),
            ("uTime", Value::String(ms(v.updated).to_string())),
            ("cTime", Value::String(ms(v.created).to_string())),
            ("reqId", text("")),
        ];
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// One `data` entry of the `orders` channel: the REST fields plus the push's own
    /// (`fillFee`, `fillFeeCcy`, `execType`, …), `trade` the fill this push reports.
    pub(super) fn push(&self, trade: Option<&FillView>) -> Value {
        let mut m = self.rest();
        m.remove("cancelSourceReason");
        let inst = self.inst;
        let put = |m: &mut Map<String, Value>, k: &str, v: String| {
            m.insert(k.to_owned(), Value::String(v));
        };
        match trade {
            Some(f) => {
                put(&mut m, "fillSz", sz(inst, f.qty));
                put(&mut m, "fillPx", px(inst, f.price));
                put(&mut m, "tradeId", f.trade_id.to_string());
                put(&mut m, "fillTime", ms(f.ts).to_string());
                put(&mut m, "fillFee", fee_text(f.fee));
                put(&mut m, "execType", if f.is_maker { "M" } else { "T" }.into());
            }
            None => {
                for k in ["fillPx", "tradeId", "fillTime", "execType"] {
                    put(&mut m, k, String::new());
                }
                put(&mut m, "fillSz", "0".into());
                put(&mut m, "fillFee", "0".into());
            }
        }
        put(&mut m, "fillFeeCcy", inst.quote().to_owned());
        for k in [
            "amendResult",
            "amendSource",
            "fillPnl",
            "fillNotionalUsd",
            "notionalUsd",
            "fillPxVol",
            "fillPxUsd",
            "fillMarkVol",
            "fillFwdPx",
            "fillMarkPx",
            "fillIdxPx",
            "lastPx",
            "msg",
        ] {
            put(&mut m, k, String::new());
        }
        put(&mut m, "code", "0".into());
        Value::Object(m)
    }
}

/// One entry of "Get transaction details" (`GET /api/v5/trade/fills`).
pub(super) fn fill_json(inst: &Instrument, order: &OrderView, f: &FillView) -> Value {
    json!({
        "instType": inst_type(inst), "instId": inst_id(inst), "tradeId": f.trade_id.to_string(),
        "ordId": order.venue_order_id.to_string(), "clOrdId": order.client_order_id,
        "billId": f.trade_id.to_string(), "subType": if order.side == Side::Buy { "1" } else { "2" },
        "tag": "", "fillPx": px(inst, f.price), "fillSz": sz(inst, f.qty), "fillIdxPx": "", "fillPnl": "0",
        "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": "",
        "side": side_text(order.side),
        "posSide": if inst.kind() == InstrumentKind::Spot { "" } else { "net" },
        "execType": if f.is_maker { "M" } else { "T" }, "feeCcy": inst.quote(), "fee": fee_text(f.fee),
        "ts": ms(f.ts).to_string(), "fillTime": ms(f.ts).to_string(), "feeRate": "",
        "tradeQuoteCcy": inst.quote(),
    })
}
