//! Numbers as the Binance spot and USD-M protocols write them: prices, quantities and amounts as
//! decimal strings with 8 decimals (more only where the value needs them), book levels as
//! `[["price","qty"],..]`, and times as Unix milliseconds.
//!
//! Pure functions; allocate the strings they return.

use qt_core::decimal::{self, DecimalStyle};
use qt_core::{Instrument, Nanos, Price, Qty};
use serde_json::{Value, json};

/// Decimals prices, quantities and amounts are written with (Binance's asset precision).
pub(crate) const WIRE_DECIMALS: u8 = 8;

/// Unix milliseconds of a [`Nanos`] time.
pub(crate) fn ms(ts: Nanos) -> i64 {
    ts.0.div_euclid(1_000_000)
}

/// `units × 10^-scale` with [`WIRE_DECIMALS`] decimals (more only if the value needs them).
pub(crate) fn wire_decimal(units: i128, scale: u8) -> String {
    if scale <= WIRE_DECIMALS
        && let Some(widened) = units.checked_mul(10i128.pow(u32::from(WIRE_DECIMALS - scale)))
    {
        return decimal::format_scaled(widened, WIRE_DECIMALS, DecimalStyle::Fixed).to_string();
    }
    decimal::format_scaled(units, scale, DecimalStyle::Fixed).to_string()
}

/// A price of `inst`.
pub(crate) fn price_text(inst: &Instrument, p: Price) -> String {
    wire_decimal(i128::from(p.units()), inst.price_scale())
}

/// A quantity of `inst`.
pub(crate) fn qty_text(inst: &Instrument, q: Qty) -> String {
    wire_decimal(i128::from(q.units()), inst.qty_scale())
}

/// Book levels as `[["price","qty"],..]`.
pub(crate) fn levels_json(inst: &Instrument, levels: &[(Price, Qty)]) -> Value {
    Value::Array(levels.iter().map(|(p, q)| json!([price_text(inst, *p), qty_text(inst, *q)])).collect())
}
