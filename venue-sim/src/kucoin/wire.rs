//! KuCoin's spot text for level 2: the `trade.l2update` increment and the REST order book body,
//! written in the documented key order with KuCoin's numbers.
//!
//! Numbers: KuCoin prints prices and sizes in their shortest form — no trailing zeros, no bare
//! point (`"67993.3"`, `"0.0005"`, `"20000"`, a delete's `"0"`): the documentation samples
//! (`testdata/kucoin/depth_update.json`, `snapshot_rest.json`) and every capture in
//! `testdata/kucoin/` print them so. Key order: the documentation samples' (`topic`, `type`,
//! `subject`, `data`; `changes` {`asks`, `bids`}, `sequenceEnd`, `sequenceStart`, `symbol`,
//! `time`; the REST body's `code`, `data` {`time`, `sequence`, `bids`, `asks`}).
//!
//! Pure functions; allocate the strings they return. The bench generators
//! (`benches/src/feed_streams_kucoin.rs`) write their streams with them.

use super::symbol;
use qt_core::Instrument;
use qt_core::decimal::{DecimalStyle, format_scaled};
use serde_json::Value;
use std::fmt::Write as _;

/// One change of an increment: price units, size units (0 deletes), the change's sequence.
pub type Change = (i64, i64, u64);

/// `units × 10^-scale` as KuCoin prints it (shortest form).
fn number(out: &mut String, units: i64, scale: u8) {
    out.push_str(format_scaled(i128::from(units), scale, DecimalStyle::Trimmed).as_str());
}

/// [`number`] as a string (trade prices and sizes).
pub(super) fn decimal(units: i64, scale: u8) -> String {
    format_scaled(i128::from(units), scale, DecimalStyle::Trimmed).as_str().to_owned()
}

/// `"price","size"` of one level, without brackets.
fn level(out: &mut String, inst: &Instrument, price: i64, size: i64) {
    out.push('"');
    number(out, price, inst.price_scale());
    out.push_str("\",\"");
    number(out, size, inst.qty_scale());
    out.push('"');
}

/// The `trade.l2update` message of `inst` covering sequences `first..=last`, at `time_ms`, with
/// its changes (each side in the order given).
pub fn level2_message(
    inst: &Instrument,
    (first, last): (u64, u64),
    time_ms: i64,
    asks: &[Change],
    bids: &[Change],
) -> String {
    let name = symbol(inst);
    let topic = Value::from(format!("/market/level2:{name}"));
    let mut out = String::with_capacity(160 + 40 * (asks.len() + bids.len()));
    let _ = write!(
        out,
        "{{\"topic\":{topic},\"type\":\"message\",\"subject\":\"trade.l2update\",\"data\":{{\"changes\":{{\"asks\":["
    );
    for (changes, tail) in [(asks, "],\"bids\":["), (bids, "]},")] {
        for (j, &(p, q, seq)) in changes.iter().enumerate() {
            out.push_str(if j == 0 { "[" } else { ",[" });
            level(&mut out, inst, p, q);
            let _ = write!(out, ",\"{seq}\"]");
        }
        out.push_str(tail);
    }
    let _ = write!(
        out,
        "\"sequenceEnd\":{last},\"sequenceStart\":{first},\"symbol\":{},\"time\":{time_ms}}}}}",
        Value::from(name)
    );
    out
}

/// The body of `GET /api/v3/market/orderbook/level2` (and the `level2_20`/`level2_100`
/// snapshots): the book at `sequence`, at `time_ms`, levels as `(price units, size units)` best
/// first.
pub fn level2_body(inst: &Instrument, time_ms: i64, sequence: u64, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> String {
    let mut out = String::with_capacity(96 + 32 * (bids.len() + asks.len()));
    let _ = write!(out, "{{\"code\":\"200000\",\"data\":{{\"time\":{time_ms},\"sequence\":\"{sequence}\",\"bids\":[");
    for (levels, tail) in [(bids, "],\"asks\":["), (asks, "]}}")] {
        for (j, &(p, q)) in levels.iter().enumerate() {
            out.push_str(if j == 0 { "[" } else { ",[" });
            level(&mut out, inst, p, q);
            out.push(']');
        }
        out.push_str(tail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::Venue;
    use qt_test_support::TestInstrument;

    fn btc_usdt() -> Instrument {
        TestInstrument::spot(Venue::Kucoin, "BTCUSDT").assets("BTC", "USDT").tick("0.1").lot("0.00000001").build(0)
    }

    /// The documentation's increment (`testdata/kucoin/depth_update.json`), byte for byte.
    #[test]
    fn the_docs_increment_byte_for_byte() {
        let doc = include_str!("../../../testdata/kucoin/depth_update.json").trim_end();
        let ours = level2_message(
            &btc_usdt(),
            (14_701_689_783, 14_701_689_783),
            1_729_816_425_625,
            &[(679_933, 121_427_407, 14_701_689_783)],
            &[],
        );
        assert_eq!(ours, doc);
    }

    /// Sizes and prices in the shortest form, deletes `"0"`; the body in the documented key order.
    #[test]
    fn the_rest_body_prints_shortest_numbers_in_the_docs_key_order() {
        let body = level2_body(
            &btc_usdt(),
            5,
            9,
            &[(669_764, 69_109_872), (669_763, 14_377_000)],
            &[(669_768, 50_000), (669_770, 0)],
        );
        assert_eq!(
            body,
            "{\"code\":\"200000\",\"data\":{\"time\":5,\"sequence\":\"9\",\"bids\":[[\"66976.4\",\"0.69109872\"],[\"66976.3\",\"0.14377\"]],\"asks\":[[\"66976.8\",\"0.0005\"],[\"66977\",\"0\"]]}}"
        );
    }
}
