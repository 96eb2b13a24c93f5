//! Binance USD-M's private text: the order object of the order endpoints, positions and
//! balances of the account endpoints, and the user data stream's `ORDER_TRADE_UPDATE` and
//! `ACCOUNT_UPDATE` events, with the fields the docs list (samples in
//! `testdata/binance_usdm/orders/`, from NOTES-orders.md §1b's sources).
//!
//! Numbers: prices and quantities at the contract's precision (as the market data,
//! [`super::wire`]); quote amounts of an order (`cumQuote`) at price + quantity decimals;
//! balances, PnL and commissions with 8 decimals; average and entry prices with three decimals
//! more than the price (truncated). Margin type `cross`, position side `BOTH` (one-way mode),
//! working type `CONTRACT_PRICE`, STP mode `EXPIRE_MAKER`, price match `NONE`.
//!
//! Pure functions of the market's views; allocate the JSON they return.

use super::wire::{price_text, qty_text};
use crate::kit::binance_errors::BinanceError;
use crate::kit::binance_text::{amount_text, side_text, status_text};
use crate::kit::decimal_text::ms;
use crate::market::positions::{Position, scaled_text};
use crate::market::{BalanceView, ExecKind, Market, OrderView, PositionReason};
use qt_core::decimal::{self, DecimalStyle};
use qt_core::money::NOTIONAL_SCALE;
use qt_core::{Instrument, InstrumentKind, Notional, OrderType, Qty, TimeInForce};
use serde_json::{Value, json};

/// The self-trade prevention the shared engine applies, named as Binance names it.
const STP_MODE: &str = "EXPIRE_MAKER";
/// Extra decimals of average and entry prices beyond the price grid.
const AVG_EXTRA_DECIMALS: u8 = 3;

/// Whether USD-M lists `inst` (a linear perpetual).
pub(super) fn is_usdm(inst: &Instrument) -> bool {
    inst.kind() == InstrumentKind::LinearPerpetual
}

/// The `symbol` parameter: a USD-M contract of the market (-1121 otherwise).
pub(super) fn usdm_symbol<'m>(market: &'m Market, text: &str) -> Result<(usize, &'m Instrument), BinanceError> {
    let i = market.symbol_index(text).ok_or(BinanceError::InvalidSymbol)?;
    let inst = market.instruments().get(i).filter(|inst| is_usdm(inst)).ok_or(BinanceError::InvalidSymbol)?;
    Ok((i, inst))
}

/// A quote amount of `inst` at price + quantity decimals (truncated).
pub(super) fn quote_text(inst: &Instrument, n: Notional) -> String {
    let scale = (inst.price_scale() + inst.qty_scale()).min(NOTIONAL_SCALE);
    let units = n.units() / 10i128.pow(u32::from(NOTIONAL_SCALE - scale));
    decimal::format_scaled(units, scale, DecimalStyle::Fixed).to_string()
}

/// `quote / qty` as a price of `inst` with [`AVG_EXTRA_DECIMALS`] more decimals ("0…" when `qty`
/// is zero).
fn avg_price_text(inst: &Instrument, quote: Notional, qty: Qty) -> String {
    let scale = inst.price_scale() + AVG_EXTRA_DECIMALS;
    let shift = u32::from(scale) + u32::from(inst.qty_scale());
    let units = if qty.is_zero() || shift > u32::from(NOTIONAL_SCALE) {
        0
    } else {
        quote.units() / 10i128.pow(u32::from(NOTIONAL_SCALE) - shift) / i128::from(qty.units())
    };
    scaled_text((units, scale))
}

fn tif_text(o: &OrderView) -> &'static str {
    match o.tif {
        TimeInForce::Ioc if o.order_type == OrderType::Limit => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::PostOnly => "GTX",
        _ => "GTC",
    }
}

fn type_text(o: &OrderView) -> &'static str {
    match o.order_type {
        OrderType::Market => "MARKET",
        OrderType::Limit => "LIMIT",
    }
}

/// The order object of `POST`/`DELETE`/`GET /fapi/v1/order` and `openOrders` (`time` only on
/// queries).
pub(super) fn order_json(inst: &Instrument, o: &OrderView, reduce_only: bool, with_time: bool) -> Value {
    let mut v = json!({
        "clientOrderId": o.client_order_id,
        "cumQty": qty_text(inst, o.cum_qty.units()),
        "cumQuote": quote_text(inst, o.cum_quote),
        "executedQty": qty_text(inst, o.cum_qty.units()),
        "orderId": o.venue_order_id,
        "avgPrice": avg_price_text(inst, o.cum_quote, o.cum_qty),
        "origQty": qty_text(inst, o.qty.units()),
        "price": price_text(inst, o.price.units()),
        "reduceOnly": reduce_only,
        "side": side_text(o.side),
        "positionSide": "BOTH",
        "status": status_text(o.status),
        "stopPrice": "0",
        "closePosition": false,
        "symbol": inst.symbol(),
        "timeInForce": tif_text(o),
        "type": type_text(o),
        "origType": type_text(o),
        "updateTime": ms(o.updated),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": false,
        "priceMatch": "NONE",
        "selfTradePreventionMode": STP_MODE,
        "goodTillDate": 0,
    });
    if with_time && let Some(obj) = v.as_object_mut() {
        obj.insert("time".into(), Value::from(ms(o.created)));
    }
    v
}

/// The `er` expiry reason of an order event: 2 an IOC/FOK remainder, 9 a market order's.
fn expiry_reason(exec: &ExecKind, o: &OrderView) -> &'static str {
    match exec {
        ExecKind::Expired if o.order_type == OrderType::Market => "9",
        ExecKind::Expired => "2",
        _ => "0",
    }
}

/// One `ORDER_TRADE_UPDATE` for an order event; `realized` is the PnL of the fill (`rp`).
pub(super) fn order_trade_update(
    inst: &Instrument,
    exec: &ExecKind,
    o: &OrderView,
    reduce_only: bool,
    realized: Notional,
    now_ms: i64,
) -> Value {
    let (x, last_qty, last_px, fee, trade_id, maker, at) = match exec {
        ExecKind::Trade(f) => ("TRADE", f.qty.units(), f.price.units(), f.fee, f.trade_id, f.is_maker, f.ts),
        ExecKind::New => ("NEW", 0, 0, Notional::ZERO, 0, false, o.created),
        ExecKind::Canceled => ("CANCELED", 0, 0, Notional::ZERO, 0, false, o.updated),
        ExecKind::Expired => ("EXPIRED", 0, 0, Notional::ZERO, 0, false, o.updated),
    };
    json!({
        "e": "ORDER_TRADE_UPDATE",
        "E": now_ms,
        "T": ms(at),
        "o": {
            "s": inst.symbol(),
            "c": o.client_order_id,
            "S": side_text(o.side),
            "o": type_text(o),
            "f": tif_text(o),
            "q": qty_text(inst, o.qty.units()),
            "p": price_text(inst, o.price.units()),
            "ap": avg_price_text(inst, o.cum_quote, o.cum_qty),
            "sp": "0",
            "x": x,
            "X": status_text(o.status),
            "i": o.venue_order_id,
            "l": qty_text(inst, last_qty),
            "z": qty_text(inst, o.cum_qty.units()),
            "L": price_text(inst, last_px),
            "N": inst.quote(),
            "n": amount_text(fee),
            "T": ms(at),
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": maker,
            "R": reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": type_text(o),
            "ps": "BOTH",
            "cp": false,
            "rp": amount_text(realized),
            "pP": false,
            "si": 0,
            "ss": 0,
            "V": STP_MODE,
            "pm": "NONE",
            "gtd": 0,
            "er": expiry_reason(exec, o),
        }
    })
}

/// The wallet balance of a balance view (free + locked).
pub(super) fn wallet(b: &BalanceView) -> Notional {
    b.free.checked_add(b.locked).unwrap_or(b.free)
}

/// An entry price of `p` (`"0"…` when flat).
pub(super) fn entry_text(inst: &Instrument, p: &Position) -> String {
    let scale = inst.price_scale() + AVG_EXTRA_DECIMALS;
    scaled_text(p.entry_price(inst, scale).unwrap_or((0, scale)))
}

/// One `ACCOUNT_UPDATE` for a position event: reason `ORDER` with the balance and the position
/// (`cr` the accumulated realized PnL, `up` at `mark`), or `FUNDING_FEE` with the balance only
/// ("When FUNDING FEE occurs in a crossed position, ACCOUNT_UPDATE will be pushed with only the
/// balance B … without any position P message").
pub(super) fn account_update(
    inst: &Instrument,
    reason: &PositionReason,
    p: &Position,
    balance: &BalanceView,
    mark: Option<(i128, u8)>,
    now_ms: i64,
) -> Value {
    let wb = amount_text(wallet(balance));
    let (m, positions) = match reason {
        PositionReason::Fill { .. } => {
            let up = mark.map_or(Notional::ZERO, |m| p.unrealized(inst, m));
            let pos = json!({
                "s": inst.symbol(),
                "pa": signed_qty_text(inst, p.qty),
                "ep": entry_text(inst, p),
                "bep": entry_text(inst, p),
                "cr": amount_text(p.realized),
                "up": amount_text(up),
                "mt": "cross",
                "iw": "0",
                "ps": "BOTH",
            });
            ("ORDER", vec![pos])
        }
        PositionReason::Funding { .. } => ("FUNDING_FEE", Vec::new()),
    };
    json!({
        "e": "ACCOUNT_UPDATE",
        "E": now_ms,
        "T": ms(p.updated),
        "a": {
            "m": m,
            "B": [{ "a": balance.asset, "wb": wb, "cw": wb, "bc": "0" }],
            "P": positions,
        }
    })
}

/// A signed position size of `inst` at its precision.
pub(super) fn signed_qty_text(inst: &Instrument, qty: i64) -> String {
    let text = qty_text(inst, qty.saturating_abs());
    if qty < 0 { format!("-{text}") } else { text }
}

/// Whether the order event belongs on a USD-M user stream (orders of USD-M contracts).
pub(super) fn is_usdm_order(market: &Market, o: &OrderView) -> bool {
    market.instruments().get(o.symbol).is_some_and(is_usdm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::FillView;
    use qt_core::{Nanos, Rate, Side, Venue};
    use qt_test_support::TestInstrument;
    use std::collections::BTreeSet;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../testdata/binance_usdm/orders/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }

    fn contract() -> Instrument {
        let spec = TestInstrument::spot(Venue::BinanceUsdm, "BTCUSDT").kind(InstrumentKind::LinearPerpetual);
        spec.tick("0.1").lot("0.001").build(0)
    }

    fn order(inst: &Instrument) -> OrderView {
        OrderView {
            symbol: 0,
            venue_order_id: 8_886_774,
            client_order_id: "TEST".into(),
            side: Side::Sell,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: inst.parse_price("7103.1").unwrap(),
            qty: inst.parse_qty("0.002").unwrap(),
            cum_qty: inst.parse_qty("0.001").unwrap(),
            cum_quote: Notional::parse("7.1031").unwrap(),
            status: crate::market::OrderStatus::PartiallyFilled,
            created: Nanos(1_568_879_465_650_000_000),
            updated: Nanos(1_568_879_465_651_000_000),
        }
    }

    /// The order object has every field of the docs' order answers (the conditional-order
    /// fields `activatePrice`/`priceRate` only appear for trailing stops, which are refused).
    #[test]
    fn order_objects_carry_the_documented_fields() {
        let inst = contract();
        let o = order(&inst);
        let ours = keys(&order_json(&inst, &o, false, false));
        assert_eq!(ours, keys(&sample("rest_new_order_response.json")));
        let mut listed = keys(&sample("rest_open_orders_response.json")[0]);
        listed.retain(|k| k != "activatePrice" && k != "priceRate");
        let queried = keys(&order_json(&inst, &o, false, true));
        assert!(listed.is_subset(&queried), "missing: {:?}", listed.difference(&queried).collect::<Vec<_>>());
        assert_eq!(order_json(&inst, &o, true, false)["avgPrice"], "7103.1000");
    }

    /// `ORDER_TRADE_UPDATE` carries the sample's fields (less the trailing-stop-only `AP`, `cr`),
    /// `ACCOUNT_UPDATE` its balance and position fields.
    #[test]
    fn stream_events_carry_the_documented_fields() {
        let inst = contract();
        let o = order(&inst);
        let fill = FillView {
            trade_id: 7,
            price: o.price,
            qty: inst.parse_qty("0.001").unwrap(),
            fee: Notional::parse("0.0035").unwrap(),
            is_maker: true,
            ts: o.updated,
        };
        let ours = order_trade_update(&inst, &ExecKind::Trade(fill), &o, false, Notional::ZERO, 1);
        let doc = sample("uds_order_trade_update.json");
        assert_eq!(keys(&ours), keys(&doc));
        let mut doc_o = keys(&doc["o"]);
        doc_o.retain(|k| k != "AP" && k != "cr");
        assert_eq!(keys(&ours["o"]), doc_o);
        assert_eq!(
            (ours["o"]["x"].as_str(), ours["o"]["l"].as_str(), ours["o"]["t"].as_u64()),
            (Some("TRADE"), Some("0.001"), Some(7))
        );

        let mut p = Position::flat(0);
        p.apply_fill(&inst, Side::Buy, inst.parse_price("100").unwrap(), inst.parse_qty("0.5").unwrap(), Nanos(1));
        let balance =
            BalanceView { asset: "USDT".into(), free: Notional::parse("10").unwrap(), locked: Notional::ZERO };
        let reason = PositionReason::Fill { trade_id: 7, realized: Notional::ZERO, fee: Notional::ZERO };
        let ours = account_update(&inst, &reason, &p, &balance, Some((1010, 1)), 2);
        let doc = sample("uds_account_update.json");
        assert_eq!(keys(&ours), keys(&doc));
        assert_eq!(keys(&ours["a"]), keys(&doc["a"]));
        assert_eq!(keys(&ours["a"]["B"][0]), keys(&doc["a"]["B"][0]));
        assert_eq!(keys(&ours["a"]["P"][0]), keys(&doc["a"]["P"][0]));
        assert_eq!(ours["a"]["P"][0]["up"], "0.50000000", "0.5 long from 100, marked at 101");
        let funding = PositionReason::Funding { rate: Rate::from_bps(1), amount: Notional::ZERO };
        let ours = account_update(&inst, &funding, &p, &balance, None, 2);
        assert_eq!((ours["a"]["m"].as_str(), ours["a"]["P"].as_array().map(Vec::len)), (Some("FUNDING_FEE"), Some(0)));
    }
}
