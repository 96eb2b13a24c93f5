//! Numbers as the Binance spot and USD-M protocols write them: prices, quantities and amounts as
//! decimal strings with 8 decimals (more only where the value needs them), book levels as
//! `[["price","qty"],..]`, and times as Unix milliseconds; and [`average_price`], the average
//! fill price Bybit and OKX write.
//!
//! Pure functions; allocate the strings they return.

use qt_core::decimal::{self, DecimalStyle};
use qt_core::{Instrument, Nanos, Notional, Price, Qty, Rounding};
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

/// `cumExecValue / cumExecQty`, four decimals finer than the tick grid, trimmed.
/// (Shared by Bybit's and OKX's order documents.)
pub(crate) fn average_price(inst: &Instrument, value: Notional, qty: Qty) -> String {
    let extra: u8 = 4.min(18 - inst.price_scale());
    let Ok(per_unit) = inst.notional(Price::from_units(1), qty, Rounding::Nearest) else { return String::new() };
    if per_unit.units() == 0 {
        return String::new();
    }
    let scaled = value.units().checked_mul(10i128.pow(u32::from(extra)));
    match scaled.and_then(|s| qt_core::money::div_round_i128(s, per_unit.units(), Rounding::Nearest).ok()) {
        Some(units) => {
            decimal::format_scaled(units, inst.price_scale() + extra, DecimalStyle::Trimmed).as_str().to_owned()
        }
        None => String::new(),
    }
}
