//! Kraken's v2 text: symbols, numbers at the pair's precision, `book` snapshot and update
//! messages and the book checksum (CRC32 of the top 10 levels, from the text as sent).
//!
//! Numbers: Kraken prints every price and quantity with exactly the pair's `price_precision` /
//! `qty_precision` decimals (`45285.2`, `0.00100000`, a delete's `0.00000000`; the checksum
//! guide's example and every v1 capture in `testdata/kraken/book.jsonl`), and a client's checksum
//! is built from that text (point removed, leading zeros stripped). The simulator's pair
//! precision is the instrument's scales.

use super::CHECKSUM_DEPTH;
use crate::public_stream::{Levels, MirrorBook, PublishedView, rfc3339_micros};
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument};
use serde_json::Value;

/// An instrument's v2 symbol: the market symbol when it is already `BASE/QUOTE`, else built.
pub fn ws_symbol(inst: &Instrument) -> String {
    if inst.symbol().contains('/') { inst.symbol().to_owned() } else { format!("{}/{}", inst.base(), inst.quote()) }
}

/// A decimal as a bare JSON number with exactly `scale` decimals, written from its exact text
/// (never through `f64`, whose shortest form may be `1e-5`).
pub(super) fn number(units: i64, scale: u8) -> String {
    format_scaled(i128::from(units), scale, DecimalStyle::Fixed).as_str().to_owned()
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
/// current top: `(bids, asks, checksum)` — per side, first the levels removed from the book
/// (`qty` 0), then the levels of the top `depth` whose quantity changed or which entered it
/// (a level that re-enters the depth is sent again), each group best first — and the checksum of
/// the new view; `None` when nothing in the view changed. The view becomes `book`'s top.
///
/// A level that only fell below the subscribed depth is not sent ("you won't receive qty 0 for
/// price levels that fall out of scope"). Deletes go first so that a client truncating to the
/// depth after each level (Kraken's guide) and one truncating after each message end on the same
/// book: after the deletes every level sent is in the new top, and a level that is in the new
/// top never has `depth` better levels in the client's book, so no truncation drops it. Sent
/// price-sorted instead, an insert near the top could come before a delete further down, and a
/// per-level client would drop a level that is never sent again (issue #18).
pub fn book_update(inst: &Instrument, view: &mut PublishedView, book: &MirrorBook) -> Option<(Levels, Levels, u32)> {
    let (bids, asks) = view.diff(book);
    let (bids, asks) = (deletes_first(bids, &book.bids), deletes_first(asks, &book.asks));
    if bids.is_empty() && asks.is_empty() {
        return None;
    }
    Some((bids, asks, checksum(inst, view)))
}

/// One side of a view diff (best first) as sent: the levels gone from `side` (qty 0) first, then
/// the new and changed ones; a qty-0 level still in `side` only fell out of the depth and is
/// dropped.
fn deletes_first(diff: Levels, side: &std::collections::BTreeMap<i64, i64>) -> Levels {
    let (deletes, rest): (Levels, Levels) = diff.into_iter().partition(|(_, q)| *q == 0);
    deletes.into_iter().filter(|(p, _)| !side.contains_key(p)).chain(rest).collect()
}

/// Kraken's v2 checksum of a published view, built from the text the simulator sends ([`number`]
/// at `inst`'s scales): the top 10 asks low → high, then the top 10 bids high → low, each price
/// and qty with the `.` removed and leading zeros stripped, concatenated; CRC32 (IEEE).
pub fn checksum(inst: &Instrument, view: &PublishedView) -> u32 {
    let mut text = String::new();
    for (p, q) in view.top_asks(CHECKSUM_DEPTH).chain(view.top_bids(CHECKSUM_DEPTH)) {
        for (v, scale) in [(p, inst.price_scale()), (q, inst.qty_scale())] {
            let digits = number(v, scale).replace('.', "");
            text.push_str(digits.trim_start_matches('0'));
        }
    }
    crc32fast::hash(text.as_bytes())
}
