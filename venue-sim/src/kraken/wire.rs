//! Kraken's v2 text: symbols, numbers at the instrument's scale, `book` snapshot and update
//! messages and the book checksum (CRC32 of the top 10 levels).

use super::CHECKSUM_DEPTH;
use crate::public_stream::{Levels, MirrorBook, PublishedView, rfc3339_micros};
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument};
use serde_json::Value;

/// An instrument's v2 symbol: the market symbol when it is already `BASE/QUOTE`, else built.
pub fn ws_symbol(inst: &Instrument) -> String {
    if inst.symbol().contains('/') { inst.symbol().to_owned() } else { format!("{}/{}", inst.base(), inst.quote()) }
}

/// A decimal as a bare JSON number, written from its exact text (never through `f64`, whose
/// shortest form may be `1e-5`).
pub(super) fn number(units: i64, scale: u8) -> String {
    format_scaled(i128::from(units), scale, DecimalStyle::Trimmed).as_str().to_owned()
}

pub(super) fn levels_json(inst: &Instrument, levels: &[(i64, i64)]) -> String {
    let items: Vec<String> = levels
        .iter()
        .map(|(p, q)| {
            format!("{{\"price\":{},\"qty\":{}}}", number(*p, inst.price_scale()), number(*q, inst.qty_scale()))
        })
        .collect();
    format!("[{}]", items.join(","))
}

pub(super) fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A `book` message of `kind` (`snapshot` / `update`) for `inst` (named by [`ws_symbol`]) with
/// the given levels and `checksum`, exactly as a session sends it (updates carry `timestamp`,
/// from `ts_ns`).
pub fn book_message(
    inst: &Instrument,
    kind: &str,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
    sum: u32,
    ts_ns: i64,
) -> String {
    let timestamp =
        if kind == "update" { format!(",\"timestamp\":{}", quoted(&rfc3339_micros(ts_ns))) } else { String::new() };
    format!(
        "{{\"channel\":\"book\",\"type\":\"{kind}\",\"data\":[{{\"symbol\":{},\"bids\":{},\"asks\":{},\"checksum\":{sum}{timestamp}}}]}}",
        quoted(&ws_symbol(inst)),
        levels_json(inst, bids),
        levels_json(inst, asks),
    )
}

/// The `book` update a subscription whose last published view is `view` sends for `book`'s
/// current top: `(bids, asks, checksum)`, each side best first — the levels of the top `depth`
/// whose quantity changed or which entered it, and with `qty` 0 the levels removed from the
/// book — and the checksum of the new view; `None` when nothing in the view changed. The view
/// becomes `book`'s top.
///
/// A level that only fell below the subscribed depth is not sent: Kraken's client applies the
/// whole message, then truncates to the depth, then verifies ("you won't receive qty 0 for price
/// levels that fall out of scope"). Sent best first, an insert near the top comes before a
/// delete further down, so a client that truncated after each level would lose a level here.
pub fn book_update(view: &mut PublishedView, book: &MirrorBook) -> Option<(Levels, Levels, u32)> {
    let (mut bids, mut asks) = view.diff(book);
    bids.retain(|(p, q)| *q != 0 || !book.bids.contains_key(p));
    asks.retain(|(p, q)| *q != 0 || !book.asks.contains_key(p));
    if bids.is_empty() && asks.is_empty() {
        return None;
    }
    Some((bids, asks, checksum(view)))
}

/// Kraken's v2 checksum of a published view whose units are at the pair's precision: each
/// value's digits without the point and leading zeros are exactly its integer units.
pub fn checksum(view: &PublishedView) -> u32 {
    let mut text = String::new();
    for (p, q) in view.top_asks(CHECKSUM_DEPTH).chain(view.top_bids(CHECKSUM_DEPTH)) {
        for v in [p, q] {
            if v != 0 {
                text.push_str(&v.to_string());
            }
        }
    }
    crc32fast::hash(text.as_bytes())
}
