//! OKX's text: instrument ids and types, prices and sizes at the instrument's scale, book levels
//! and the `books` checksum (CRC32 of the top 25 levels, interleaved).

use super::CHECKSUM_DEPTH;
use crate::public_stream::PublishedView;
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, Instrument, InstrumentKind};
use serde_json::{Value, json};

/// An instrument's OKX `instId`: the market symbol when it is already OKX-shaped, else
/// `BASE-QUOTE`.
pub fn inst_id(inst: &Instrument) -> String {
    if inst.symbol().contains('-') { inst.symbol().to_owned() } else { format!("{}-{}", inst.base(), inst.quote()) }
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
