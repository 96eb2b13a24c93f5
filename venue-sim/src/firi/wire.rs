//! Firi's depth body as text: `{"bids":[["price","amount"],..],"asks":[..]}`, bids first as the
//! venue writes it (serde_json's map would sort `asks` first), decimals on the instrument's grid.
//! The one encoder of the format: the simulator's `depth` endpoint and the bench streams use it.
//! Pure; allocates the string it returns.

use qt_core::{Instrument, Price, Qty};

/// The depth body of `inst` with levels as `(price units, amount units)`, each side in the order
/// given (best first).
pub fn depth_body(inst: &Instrument, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> String {
    let mut out = String::with_capacity(16 + 32 * (bids.len() + asks.len()));
    out.push_str("{\"bids\":[");
    for (levels, tail) in [(bids, "],\"asks\":["), (asks, "]}")] {
        for (j, &(p, q)) in levels.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("[\"");
            out.push_str(inst.price_text(Price::from_units(p)).as_ref());
            out.push_str("\",\"");
            out.push_str(inst.qty_text(Qty::from_units(q)).as_ref());
            out.push_str("\"]");
        }
        out.push_str(tail);
    }
    out
}
