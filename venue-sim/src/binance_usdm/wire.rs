//! Binance USD-M's text: the `depthUpdate`, `bookTicker` and `aggTrade` payloads and the
//! `GET /fapi/v1/depth` body, in the documented key order with the contract's numbers.
//!
//! Numbers: USD-M prints prices and quantities at the contract's precision — `pricePrecision`
//! and `quantityPrecision` decimals, which may exceed the tick's (`"7.5040"` at tick 0.001,
//! `"813"`, a delete's `"0"` at step 1; `"65000.10"`, `"1.234"` for BTCUSDT), not spot's 8
//! decimals: every recorded frame and snapshot in `testdata/binance_usdm/` prints them so. The
//! simulator's contract precision is the instrument's scales (`price_scale` / `qty_scale` of its
//! spec), which `exchangeInfo` reports as `pricePrecision` / `quantityPrecision`. Key order: the docs' and captures'
//! (`e,E,T,s,U,u,pu,b,a`; `lastUpdateId,E,T,bids,asks`; `e,u,s,b,B,a,A,T,E`;
//! `e,E,a,s,p,q,f,l,T,m`).
//!
//! Pure functions; allocate the strings they return. The bench generator
//! (`benches/src/feed_streams_usdm.rs`) writes its stream with them.

use crate::kit::decimal_text::ms;
use crate::market::TradeView;
use qt_core::{Instrument, Price, Qty, Side};
use serde_json::Value;
use std::fmt::Write as _;

/// A price of `inst` at the contract's precision.
pub(super) fn price_text(inst: &Instrument, units: i64) -> String {
    inst.price_text(Price::from_units(units)).as_ref().to_owned()
}

/// A quantity of `inst` at the contract's precision.
pub(super) fn qty_text(inst: &Instrument, units: i64) -> String {
    inst.qty_text(Qty::from_units(units)).as_ref().to_owned()
}

/// `[["price","qty"],..]` of `levels` (price units, qty units), in the order given.
fn levels(out: &mut String, inst: &Instrument, levels: &[(i64, i64)]) {
    out.push('[');
    for (j, &(p, q)) in levels.iter().enumerate() {
        let sep = if j == 0 { "" } else { "," };
        let _ = write!(out, "{sep}[\"{}\",\"{}\"]", price_text(inst, p), qty_text(inst, q));
    }
    out.push(']');
}

/// The `depthUpdate` payload of `inst`: event time `event_ms`, transaction time `tx_ms`, update
/// ids `first..=last`, `pu` the previous message's `u`, each side in the order given.
pub fn depth_update_text(
    inst: &Instrument,
    (event_ms, tx_ms): (i64, i64),
    (first, last, pu): (u64, u64, u64),
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) -> String {
    let mut out = String::with_capacity(128 + 32 * (bids.len() + asks.len()));
    let symbol = Value::from(inst.symbol());
    let _ = write!(
        out,
        "{{\"e\":\"depthUpdate\",\"E\":{event_ms},\"T\":{tx_ms},\"s\":{symbol},\"U\":{first},\"u\":{last},\"pu\":{pu},\"b\":"
    );
    levels(&mut out, inst, bids);
    out.push_str(",\"a\":");
    levels(&mut out, inst, asks);
    out.push('}');
    out
}

/// The `GET /fapi/v1/depth` body: the book at `last_update_id`, message time `event_ms`,
/// transaction time `tx_ms`, levels best first.
pub fn depth_body(
    inst: &Instrument,
    last_update_id: u64,
    (event_ms, tx_ms): (i64, i64),
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) -> String {
    let mut out = String::with_capacity(96 + 32 * (bids.len() + asks.len()));
    let _ = write!(out, "{{\"lastUpdateId\":{last_update_id},\"E\":{event_ms},\"T\":{tx_ms},\"bids\":");
    levels(&mut out, inst, bids);
    out.push_str(",\"asks\":");
    levels(&mut out, inst, asks);
    out.push('}');
    out
}

/// The `bookTicker` payload: update id `u`, best bid and ask (price units, qty units).
pub(super) fn book_ticker_text(
    inst: &Instrument,
    u: u64,
    (event_ms, tx_ms): (i64, i64),
    bid: (i64, i64),
    ask: (i64, i64),
) -> String {
    format!(
        "{{\"e\":\"bookTicker\",\"u\":{u},\"s\":{},\"b\":\"{}\",\"B\":\"{}\",\"a\":\"{}\",\"A\":\"{}\",\"T\":{tx_ms},\"E\":{event_ms}}}",
        Value::from(inst.symbol()),
        price_text(inst, bid.0),
        qty_text(inst, bid.1),
        price_text(inst, ask.0),
        qty_text(inst, ask.1),
    )
}

/// The `aggTrade` payload of trade `t` as aggregate `agg_id` (`f` = `l` its trade id, `m`
/// whether the buyer was the maker, i.e. a sell aggressor) at event time `event_ms`.
pub(super) fn agg_trade_text(inst: &Instrument, event_ms: i64, agg_id: u64, t: &TradeView) -> String {
    format!(
        "{{\"e\":\"aggTrade\",\"E\":{event_ms},\"a\":{agg_id},\"s\":{},\"p\":\"{}\",\"q\":\"{}\",\"f\":{id},\"l\":{id},\"T\":{},\"m\":{}}}",
        Value::from(inst.symbol()),
        price_text(inst, t.price.units()),
        qty_text(inst, t.qty.units()),
        ms(t.ts),
        t.aggressor == Side::Sell,
        id = t.trade_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::combined_streams::wrap_payload;
    use qt_core::Venue;
    use qt_test_support::TestInstrument;

    /// A contract with tick `tick` and `pricePrecision` `precision` (quantities at the step's).
    fn contract(symbol: &str, tick: &str, precision: u8, step: &str) -> Instrument {
        let mut spec = TestInstrument::spot(Venue::BinanceUsdm, symbol).tick(tick).lot(step).spec().clone();
        spec.price_scale = Some(precision);
        Instrument::from_spec(qt_core::InstrumentId(0), &spec).unwrap()
    }

    /// The first line of a capture in `testdata/binance_usdm/`, and `payload` as a combined
    /// stream sends it on `stream`.
    fn recorded_and_ours(capture: &str, stream: &str, payload: &str) -> (String, String) {
        let path = format!("{}/../testdata/binance_usdm/{capture}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        (text.lines().next().unwrap().to_owned(), wrap_payload(true, stream, payload))
    }

    /// The first recorded SUSHIUSDT frame (`depth.jsonl`: tick 0.001, price precision 4, step 1),
    /// byte for byte.
    #[test]
    fn a_recorded_depth_update_byte_for_byte() {
        let inst = contract("SUSHIUSDT", "0.001", 4, "1");
        let payload = depth_update_text(
            &inst,
            (1_626_992_741_037, 1_626_992_741_024),
            (600_859_599_090, 600_859_600_917, 600_859_598_061),
            &[(75_040, 813), (76_090, 0), (76_110, 2)],
            &[(76_150, 1563), (76_220, 3284)],
        );
        let (recorded, ours) = recorded_and_ours("depth.jsonl", "sushiusdt@depth@100ms", &payload);
        assert_eq!(ours, recorded);
    }

    /// The first recorded bookTicker and aggTrade frames, byte for byte.
    #[test]
    fn recorded_book_ticker_and_agg_trade_byte_for_byte() {
        let sushi = contract("SUSHIUSDT", "0.001", 4, "1");
        let times = (1_626_992_741_017, 1_626_992_741_012);
        let ticker = book_ticker_text(&sushi, 600_859_600_576, times, (76_110, 2), (76_120, 297));
        let (recorded, ours) = recorded_and_ours("bookTicker.jsonl", "sushiusdt@bookTicker", &ticker);
        assert_eq!(ours, recorded);
        let ctk = contract("CTKUSDT", "0.001", 5, "1");
        let t = TradeView {
            trade_id: 23_961_322,
            price: Price::from_units(101_100),
            qty: Qty::from_units(10),
            aggressor: Side::Buy,
            ts: qt_core::Nanos(1_626_992_741_421_000_000),
        };
        let trade = agg_trade_text(&ctk, 1_626_992_741_575, 16_599_292, &t);
        let (recorded, ours) = recorded_and_ours("aggTrade.jsonl", "ctkusdt@aggTrade", &trade);
        assert_eq!(ours, recorded);
    }
}
