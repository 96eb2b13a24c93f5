//! OKX's text: instrument ids and types, prices and sizes at the instrument's scale, book levels
//! and the `books` checksum (CRC32 of the top 25 levels, interleaved), and the `books` push.

use super::CHECKSUM_DEPTH;
use crate::public_stream::PublishedView;
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument, InstrumentKind};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// An instrument's OKX `instId`: the market symbol when it is already OKX-shaped, else
/// `BASE-QUOTE`.
pub fn inst_id(inst: &Instrument) -> String {
    match inst.kind() {
        _ if inst.symbol().contains('-') => inst.symbol().to_owned(),
        InstrumentKind::Spot => format!("{}-{}", inst.base(), inst.quote()),
        _ => format!("{}-{}-SWAP", inst.base(), inst.quote()),
    }
}

/// The market's instrument whose [`inst_id`] is `id` (a spot pair `BTC-USDT`, a swap
/// `ETH-USDT-SWAP`).
pub(super) fn instrument_index(market: &crate::market::Market, id: &str) -> Option<usize> {
    market.instruments().iter().position(|i| inst_id(i) == id)
}

pub(super) fn inst_type(inst: &Instrument) -> &'static str {
    match inst.kind() {
        InstrumentKind::Spot => "SPOT",
        _ => "SWAP",
    }
}

pub(super) fn px(inst: &Instrument, units: i64) -> String {
    format_scaled(i128::from(units), inst.price_scale(), DecimalStyle::Trimmed).as_str().to_owned()
}

pub(super) fn sz(inst: &Instrument, units: i64) -> String {
    format_scaled(i128::from(units), inst.qty_scale(), DecimalStyle::Trimmed).as_str().to_owned()
}

pub(super) fn levels_json(inst: &Instrument, levels: &[(i64, i64)]) -> Value {
    Value::Array(levels.iter().map(|(p, q)| json!([px(inst, *p), sz(inst, *q), "0", "1"])).collect())
}

/// The action, time, checksum and sequence ids of one `books` push.
#[derive(Debug, Clone, Copy)]
pub struct BooksHead<'a> {
    /// `snapshot` or `update`.
    pub action: &'a str,
    /// Push time, Unix ms (written as a string).
    pub ts: i64,
    /// [`checksum`] of the book after the push.
    pub checksum: i32,
    /// The previous push's `seqId` (-1 on a snapshot).
    pub prev_seq: i64,
    /// This push's `seqId`.
    pub seq: u64,
}

/// A `books` push for `inst`, levels as `(price units, size units, order count)` in the order
/// given (each `[px, sz, "0", orders]`), keys in OKX's order (`arg`, `action`, `data`: `asks`,
/// `bids`, `ts`, `checksum`, `prevSeqId`, `seqId`): the one encoder of the format, which the
/// sessions and the bench streams both use.
pub fn books_message(
    inst: &Instrument,
    head: &BooksHead<'_>,
    bids: &[(i64, i64, u64)],
    asks: &[(i64, i64, u64)],
) -> String {
    let BooksHead { action, ts, checksum, prev_seq, seq } = *head;
    let mut out = format!(
        "{{\"arg\":{{\"channel\":\"books\",\"instId\":{}}},\"action\":{},\"data\":[{{\"asks\":[",
        Value::from(inst_id(inst)),
        Value::from(action)
    );
    for (levels, tail) in [(asks, "],\"bids\":["), (bids, "],")] {
        for (j, &(p, q, orders)) in levels.iter().enumerate() {
            let sep = if j == 0 { "" } else { "," };
            let _ = write!(out, "{sep}[\"{}\",\"{}\",\"0\",\"{orders}\"]", px(inst, p), sz(inst, q));
        }
        out.push_str(tail);
    }
    let _ = write!(out, "\"ts\":\"{ts}\",\"checksum\":{checksum},\"prevSeqId\":{prev_seq},\"seqId\":{seq}}}]}}");
    out
}

/// OKX's checksum of a published view: top 25 per side interleaved, `px:sz` joined by `:`,
/// CRC32 as a signed 32-bit integer.
pub fn checksum(inst: &Instrument, view: &PublishedView) -> i32 {
    let bids: Vec<(i64, i64)> = view.top_bids(CHECKSUM_DEPTH).collect();
    let asks: Vec<(i64, i64)> = view.top_asks(CHECKSUM_DEPTH).collect();
    let mut parts = Vec::with_capacity(4 * CHECKSUM_DEPTH);
    for i in 0..bids.len().max(asks.len()) {
        for level in [bids.get(i), asks.get(i)].into_iter().flatten() {
            parts.push(px(inst, level.0));
            parts.push(sz(inst, level.1));
        }
    }
    crc32fast::hash(parts.join(":").as_bytes()) as i32
}
