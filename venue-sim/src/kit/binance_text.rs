//! Texts the Binance protocols (spot and USD-M) write alike: sides, order statuses and amounts
//! of an asset (balances, commissions).
//!
//! Pure functions; allocate the strings they return.

use super::decimal_text::{WIRE_DECIMALS, wire_decimal};
use crate::market::OrderStatus;
use qt_core::decimal::{self, DecimalStyle};
use qt_core::money::NOTIONAL_SCALE;
use qt_core::{Notional, Side};

/// An asset amount with Binance's 8 decimals (all of its digits if it has more).
pub(crate) fn amount_text(n: Notional) -> String {
    let shift = 10i128.pow(u32::from(NOTIONAL_SCALE - WIRE_DECIMALS));
    if n.units() % shift == 0 {
        wire_decimal(n.units() / shift, WIRE_DECIMALS)
    } else {
        decimal::format_scaled(n.units(), NOTIONAL_SCALE, DecimalStyle::Trimmed).to_string()
    }
}

/// `BUY` / `SELL`.
pub(crate) fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// The order status as Binance names it.
pub(crate) fn status_text(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
        OrderStatus::Rejected => "REJECTED",
    }
}
