//! KuCoin's HF order documents: one order as "Get Open Orders" / "Get Order By OrderId"
//! (REST) and the private `/spotMarket/tradeOrdersV2` `orderChange` push write it, one fill as
//! "Get Trade History" (`GET /api/v1/hf/fills`), and the order and trade ids.
//!
//! Facts: `testdata/kucoin/orders/rest_hf_open_orders_response.json`,
//! `rest_hf_order_detail_response.json`, `ws_trade_orders_v2_open.json` and `../order_update.json`
//! ([DOC], the official SDK's spec examples) and the legacy match/filled/canceled samples
//! ([MIRROR, weak]); `NOTES-orders.md` §4:
//! - every number a string in KuCoin's shortest form; times `createdAt` / `orderTime` ms, the
//!   push's `ts` ns; `fee` positive when charged, in `feeCurrency` (the quote);
//! - push `type` open / match / filled / canceled, `status` open / match / done; a match with
//!   `status` open is a maker fill, `match` a taker fill; a match carries `matchPrice`,
//!   `matchSize`, `tradeId`, `liquidity` (maker/taker) and `feeType` (`makerFee`/`takerFee`;
//!   the push has no fee amount — the fee is in `hf/fills`, NOTES §4).
//! - Ids: KuCoin's order ids are 24 hex digits; the simulator writes the market's venue id
//!   so ([`order_id`], [`parse_order_id`]). HF trade ids are decimal strings (the market's).
//! - Guesses (README): `remainFunds`/`cancelledFunds` are `price × size` of the remainder for a
//!   limit order, "0" for market; `userId` the account's index.
//!
//! Pure functions over market views; allocate the JSON.

use super::symbol;
use super::wire::decimal;
use crate::kit::decimal_text::ms;
use crate::market::{FillView, OrderStatus, OrderView};
use qt_core::{DecimalStyle, Instrument, Notional, OrderType, Qty, Rounding, Side, TimeInForce};
use serde_json::{Value, json};

/// An order id as KuCoin writes it: 24 lower-case hex digits.
pub fn order_id(venue_order_id: u64) -> String {
    format!("{venue_order_id:024x}")
}

/// The market's venue id of a KuCoin order id (`None` if it is not one the simulator wrote).
pub fn parse_order_id(text: &str) -> Option<u64> {
    (text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u64::from_str_radix(text, 16).ok())?
}

fn price(inst: &Instrument, p: qt_core::Price) -> String {
    decimal(p.units(), inst.price_scale())
}

fn size(inst: &Instrument, q: Qty) -> String {
    decimal(q.units(), inst.qty_scale())
}

pub(super) fn money(n: Notional) -> String {
    if n.is_zero() { "0".into() } else { n.to_text(DecimalStyle::Trimmed).as_str().to_owned() }
}

fn side_text(s: Side) -> &'static str {
    if s == Side::Buy { "buy" } else { "sell" }
}

fn tif_text(v: &OrderView) -> &'static str {
    match v.tif {
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        _ => "GTC",
    }
}

fn type_text(v: &OrderView) -> &'static str {
    if v.order_type == OrderType::Market { "market" } else { "limit" }
}

/// The part of an order no longer working: the rest of a done order, zero otherwise.
fn unfilled(v: &OrderView) -> Qty {
    v.qty.checked_sub(v.cum_qty).unwrap_or(Qty::ZERO)
}

fn is_done(v: &OrderView) -> bool {
    !matches!(v.status, OrderStatus::New | OrderStatus::PartiallyFilled)
}

/// `price × qty` of a limit order's quantity (`funds`, `remainFunds`).
fn funds(inst: &Instrument, v: &OrderView, qty: Qty) -> String {
    if v.order_type == OrderType::Market {
        return "0".into();
    }
    inst.notional(v.price, qty, Rounding::Nearest).map_or_else(|_| "0".into(), money)
}

/// One order as the REST endpoints write it; `fee` the sum of its fills' fees.
pub(super) fn order_json(inst: &Instrument, v: &OrderView, fee: Notional) -> Value {
    let done = is_done(v);
    let (remain, cancelled) = if done { (Qty::ZERO, unfilled(v)) } else { (unfilled(v), Qty::ZERO) };
    let price_text = if v.order_type == OrderType::Market { "0".into() } else { price(inst, v.price) };
    json!({
        "id": order_id(v.venue_order_id), "clientOid": v.client_order_id, "symbol": symbol(inst),
        "opType": "DEAL", "type": type_text(v), "side": side_text(v.side), "price": price_text,
        "size": size(inst, v.qty), "funds": funds(inst, v, v.qty), "dealSize": size(inst, v.cum_qty),
        "dealFunds": money(v.cum_quote), "fee": money(fee), "feeCurrency": inst.quote(), "stp": null,
        "timeInForce": tif_text(v), "postOnly": v.tif == TimeInForce::PostOnly, "hidden": false,
        "iceberg": false, "visibleSize": "0", "cancelAfter": 0, "channel": "API", "remark": null,
        "tags": null, "cancelExist": v.status == OrderStatus::Canceled, "tradeType": "TRADE",
        "inOrderBook": !done, "cancelledSize": size(inst, cancelled),
        "cancelledFunds": funds(inst, v, cancelled), "remainSize": size(inst, remain),
        "remainFunds": funds(inst, v, remain), "tax": "0", "active": !done,
        "createdAt": ms(v.created), "lastUpdatedAt": ms(v.updated),
    })
}

/// What a push reports.
#[derive(Debug, Clone, Copy)]
pub(super) enum Change<'a> {
    Open,
    Match(&'a FillView),
    Filled,
    Canceled,
}

/// The `data` of one `orderChange` push of `v` (its state after the change).
pub(super) fn push_data(inst: &Instrument, v: &OrderView, change: Change<'_>) -> Value {
    let done = is_done(v);
    let (remain, cancelled) = if done { (Qty::ZERO, unfilled(v)) } else { (unfilled(v), Qty::ZERO) };
    let (kind, status) = match change {
        Change::Open => ("open", "open"),
        Change::Match(f) if f.is_maker => ("match", "open"),
        Change::Match(_) => ("match", "match"),
        Change::Filled => ("filled", "done"),
        Change::Canceled => ("canceled", "done"),
    };
    let mut d = json!({
        "canceledSize": size(inst, cancelled), "clientOid": v.client_order_id,
        "filledSize": size(inst, v.cum_qty), "orderId": order_id(v.venue_order_id),
        "orderTime": ms(v.created), "orderType": type_text(v), "originSize": size(inst, v.qty),
        "price": if v.order_type == OrderType::Market { "0".into() } else { price(inst, v.price) },
        "remainSize": size(inst, remain), "side": side_text(v.side), "size": size(inst, v.qty),
        "status": status, "symbol": symbol(inst), "ts": v.updated.0, "type": kind,
    });
    if let Change::Match(f) = change {
        d["matchPrice"] = Value::from(price(inst, f.price));
        d["matchSize"] = Value::from(size(inst, f.qty));
        d["tradeId"] = Value::from(f.trade_id.to_string());
        d["liquidity"] = Value::from(if f.is_maker { "maker" } else { "taker" });
        d["feeType"] = Value::from(if f.is_maker { "makerFee" } else { "takerFee" });
        d["ts"] = Value::from(f.ts.0);
    }
    d
}

/// One item of `GET /api/v1/hf/fills` ([RECALL] of the docs' "Get Trade History" fields).
pub(super) fn fill_json(inst: &Instrument, v: &OrderView, f: &FillView) -> Value {
    let value = inst.notional(f.price, f.qty, Rounding::Nearest).unwrap_or(Notional::ZERO);
    json!({
        "id": f.trade_id, "orderId": order_id(v.venue_order_id), "counterOrderId": "",
        "tradeId": f.trade_id, "symbol": symbol(inst), "side": side_text(v.side),
        "liquidity": if f.is_maker { "maker" } else { "taker" }, "type": type_text(v),
        "forceTaker": false, "price": price(inst, f.price), "size": size(inst, f.qty),
        "funds": money(value), "fee": money(f.fee), "feeRate": "", "feeCurrency": inst.quote(),
        "stop": "", "tradeType": "TRADE", "taxRate": "0", "tax": "0", "createdAt": ms(f.ts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_round_trip_as_24_hex_digits() {
        assert_eq!(order_id(0x670f_d33b), "0000000000000000670fd33b");
        assert_eq!(parse_order_id(&order_id(42)), Some(42));
        assert_eq!(parse_order_id(&order_id(u64::MAX)), Some(u64::MAX));
        // A real KuCoin id is wider than the market's ids: not one the simulator wrote.
        for bad in ["", "42", "670fd33bf9406e0007ab3945", "670fd33bf9406e0007ab394x"] {
            assert_eq!(parse_order_id(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod sample_tests {
    use super::*;
    use crate::market::OrderStatus;
    use qt_core::{Nanos, Price, Venue};
    use qt_test_support::TestInstrument;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        k.sort();
        k
    }

    fn sample(text: &str) -> Value {
        serde_json::from_str(text).expect("a JSON sample")
    }

    /// The documented open order and `open` push have exactly the fields ours have.
    #[test]
    fn documents_have_the_samples_fields() {
        let inst = TestInstrument::spot(Venue::Kucoin, "BTC-USDT").assets("BTC", "USDT").tick("0.1").lot("0.00001");
        let inst = inst.build(0);
        let qty = inst.parse_qty("0.00001").unwrap();
        let v = OrderView {
            symbol: 0,
            venue_order_id: 7,
            client_order_id: "5c52e11203aa677f33e493fb".into(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: inst.parse_price("50000").unwrap_or(Price::ZERO),
            qty,
            cum_qty: Qty::ZERO,
            cum_quote: Notional::ZERO,
            status: OrderStatus::New,
            created: Nanos(1_729_235_902_748_000_000),
            updated: Nanos(1_729_235_909_862_000_000),
        };
        let rest = sample(include_str!("../../../testdata/kucoin/orders/rest_hf_open_orders_response.json"));
        let ours = order_json(&inst, &v, Notional::ZERO);
        assert_eq!(keys(&ours), keys(&rest["data"][0]));
        assert_eq!(
            (ours["size"].as_str(), ours["price"].as_str(), ours["funds"].as_str()),
            (Some("0.00001"), Some("50000"), Some("0.5"))
        );
        assert_eq!((ours["remainFunds"].as_str(), ours["createdAt"].as_i64()), (Some("0.5"), Some(1_729_235_902_748)));
        let push = sample(include_str!("../../../testdata/kucoin/orders/ws_trade_orders_v2_open.json"));
        let ours = push_data(&inst, &v, Change::Open);
        assert_eq!(keys(&ours), keys(&push["data"]));
        for k in
            ["type", "status", "remainSize", "originSize", "filledSize", "canceledSize", "price", "orderType", "side"]
        {
            assert_eq!(ours[k], push["data"][k], "{k}");
        }
    }

    /// A fill of `hf/fills` carries every field of KuCoin's documented one (HF docs; the
    /// newer docs add `taxRate` and `tax`), numbers as the sample writes them.
    #[test]
    fn a_fill_has_the_documented_fields() {
        let doc = sample(include_str!("../../../testdata/kucoin/orders/rest_hf_fills_response.json"));
        let item = &doc["data"]["items"][0];
        let inst = TestInstrument::spot(Venue::Kucoin, "BTC-USDT").assets("BTC", "USDT").tick("0.1").lot("0.00001");
        let inst = inst.build(0);
        let f = FillView {
            trade_id: 616_179_312_641,
            price: inst.parse_price("1").unwrap(),
            qty: inst.parse_qty("1").unwrap(),
            fee: Notional::parse("0.00021").unwrap(),
            is_maker: false,
            ts: Nanos(1_661_390_702_919_000_000),
        };
        let v = OrderView {
            symbol: 0,
            venue_order_id: 7,
            client_order_id: "c".into(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: f.price,
            qty: f.qty,
            cum_qty: f.qty,
            cum_quote: Notional::ZERO,
            status: OrderStatus::Filled,
            created: Nanos(0),
            updated: f.ts,
        };
        let ours = fill_json(&inst, &v, &f);
        for k in keys(item) {
            assert!(ours.get(&k).is_some(), "{k} missing from {ours}");
        }
        for k in ["tradeId", "side", "liquidity", "price", "size", "funds", "fee", "feeCurrency", "type", "createdAt"] {
            assert_eq!(ours[k], item[k], "{k}");
        }
    }

    /// A match carries the legacy samples' fill fields (plus V2's `feeType`).
    #[test]
    fn a_match_has_the_fill_fields() {
        let legacy = sample(include_str!("../../../testdata/kucoin/orders/ws_legacy_v1_match_taker.json"));
        let inst = TestInstrument::spot(Venue::Kucoin, "KCS-USDT").assets("KCS", "USDT").tick("0.00001").lot("0.1");
        let inst = inst.build(0);
        let f = FillView {
            trade_id: 9,
            price: inst.parse_price("0.96738").unwrap(),
            qty: inst.parse_qty("0.1").unwrap(),
            fee: Notional::ZERO,
            is_maker: false,
            ts: Nanos(1),
        };
        let v = OrderView {
            symbol: 0,
            venue_order_id: 7,
            client_order_id: "c".into(),
            side: Side::Sell,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: inst.parse_price("0.938").unwrap(),
            qty: f.qty,
            cum_qty: f.qty,
            cum_quote: Notional::ZERO,
            status: OrderStatus::Filled,
            created: Nanos(0),
            updated: Nanos(1),
        };
        let ours = push_data(&inst, &v, Change::Match(&f));
        for k in ["matchPrice", "matchSize", "liquidity", "status", "type", "remainSize", "filledSize", "price", "size"]
        {
            assert_eq!(ours[k], legacy["data"][k], "{k}");
        }
        assert_eq!(ours["feeType"], "takerFee");
    }
}
