//! Linear (quote-margined) positions of the simulated accounts: one one-way position per account
//! and derivative symbol ([`Position`]), moved by the account's fills, with its average entry,
//! realized PnL (before fees) and commission; unrealized PnL at a mark price; funding.
//!
//! The model is deliberately simple and shared by every protocol that trades derivatives
//! (Binance USD-M, Bybit linear), so they agree: cross margin, no leverage or margin checks, no
//! liquidation; realized PnL, commission and funding are booked to the account's balance of the
//! instrument's quote asset (the margin asset) by [`crate::market::Market`] under its lock.
//!
//! Pure arithmetic on exact integers; allocates nothing; never panics (overflow saturates to the
//! value before the operation, as the market's balances do).

use qt_core::decimal::{self, DecimalStyle};
use qt_core::money::NOTIONAL_SCALE;
use qt_core::{Instrument, Nanos, Notional, Price, Qty, Rate, Rounding, Side};

/// One account's position on one symbol, as the venue keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Symbol index in the market.
    pub symbol: usize,
    /// Signed size in quantity units of the instrument: positive long, negative short.
    pub qty: i64,
    /// What the open size cost at entry (|size| × average entry price), never negative.
    pub entry_cost: Notional,
    /// Realized PnL of the closed parts, before fees, accumulated.
    pub realized: Notional,
    /// Commission paid on this symbol's fills, accumulated.
    pub fees: Notional,
    /// Funding booked on this symbol, accumulated (negative: paid).
    pub funding: Notional,
    /// Last change.
    pub updated: Nanos,
}

impl Position {
    /// An empty position on `symbol`.
    pub fn flat(symbol: usize) -> Self {
        Self { symbol, ..Self::default() }
    }

    /// The side the position is on (`None` when flat).
    pub fn side(&self) -> Option<Side> {
        match self.qty {
            0 => None,
            q if q > 0 => Some(Side::Buy),
            _ => Some(Side::Sell),
        }
    }

    /// The size as a quantity (unsigned).
    pub fn size(&self) -> Qty {
        Qty::from_units(self.qty.saturating_abs())
    }

    /// Applies a fill of `qty` at `price` on `side`; returns the PnL it realized (before fees).
    /// A fill larger than an opposite position closes it and opens the rest the other way.
    pub fn apply_fill(&mut self, inst: &Instrument, side: Side, price: Price, qty: Qty, ts: Nanos) -> Notional {
        let delta = match side {
            Side::Buy => qty.units(),
            Side::Sell => -qty.units(),
        };
        self.updated = ts;
        let notional = |q: i64| inst.notional(price, Qty::from_units(q), Rounding::Nearest).unwrap_or(Notional::ZERO);
        if self.qty == 0 || self.qty.signum() == delta.signum() {
            self.qty = self.qty.saturating_add(delta);
            self.entry_cost = self.entry_cost.checked_add(notional(delta.abs())).unwrap_or(self.entry_cost);
            return Notional::ZERO;
        }
        let open = self.qty.abs();
        let closing = open.min(delta.abs());
        // The closed part's share of the entry cost (exact when it closes everything).
        let cost_closed = if closing == open {
            self.entry_cost
        } else {
            let share = self.entry_cost.units().saturating_mul(i128::from(closing)) / i128::from(open);
            Notional::from_units(share)
        };
        let exit = notional(closing);
        let pnl = if self.qty > 0 { exit.checked_sub(cost_closed) } else { cost_closed.checked_sub(exit) };
        let pnl = pnl.unwrap_or(Notional::ZERO);
        self.realized = self.realized.checked_add(pnl).unwrap_or(self.realized);
        self.entry_cost = self.entry_cost.checked_sub(cost_closed).unwrap_or(Notional::ZERO);
        self.qty += delta.signum() * closing;
        let rest = delta.abs() - closing;
        if rest > 0 {
            self.qty = delta.signum() * rest;
            self.entry_cost = notional(rest);
        }
        pnl
    }

    /// The average entry price as `(units, scale)` at `scale` decimals (truncated), `None` when
    /// flat.
    pub fn entry_price(&self, inst: &Instrument, scale: u8) -> Option<(i128, u8)> {
        if self.qty == 0 {
            return None;
        }
        // cost / size: cost at 10^-18, size at 10^-qty_scale; the price at 10^-scale.
        let num = self.entry_cost.units().checked_mul(10i128.pow(u32::from(inst.qty_scale())))?;
        let num = num.checked_mul(10i128.pow(u32::from(scale)))?;
        let den = i128::from(self.qty.abs()).checked_mul(10i128.pow(u32::from(NOTIONAL_SCALE)))?;
        Some((num / den, scale))
    }

    /// Unrealized PnL at `mark` (`units × 10^-scale`).
    pub fn unrealized(&self, inst: &Instrument, (mark, scale): (i128, u8)) -> Notional {
        let Some(value) = mark_value(inst, self.qty, (mark, scale)) else { return Notional::ZERO };
        let cost =
            if self.qty >= 0 { self.entry_cost } else { self.entry_cost.checked_neg().unwrap_or(Notional::ZERO) };
        value.checked_sub(cost).unwrap_or(Notional::ZERO)
    }

    /// The signed value of the position at `mark` (negative when short).
    pub fn notional_at(&self, inst: &Instrument, mark: (i128, u8)) -> Notional {
        mark_value(inst, self.qty, mark).unwrap_or(Notional::ZERO)
    }

    /// The funding this position pays (negative) or receives (positive) at `rate` and `mark`:
    /// longs pay shorts when the rate is positive, `−rate × value at mark`.
    pub fn funding_fee(&self, inst: &Instrument, rate: Rate, mark: (i128, u8)) -> Notional {
        let value = self.notional_at(inst, mark);
        value.checked_mul_rate(rate, Rounding::Nearest).and_then(Notional::checked_neg).unwrap_or(Notional::ZERO)
    }
}

/// `qty × mark` (signed) as a notional, for a linear contract.
fn mark_value(inst: &Instrument, qty: i64, (mark, scale): (i128, u8)) -> Option<Notional> {
    let raw = i128::from(qty).checked_mul(mark)?;
    let scale = u32::from(inst.qty_scale()) + u32::from(scale);
    let n = if scale <= u32::from(NOTIONAL_SCALE) {
        raw.checked_mul(10i128.pow(u32::from(NOTIONAL_SCALE) - scale))?
    } else {
        raw / 10i128.pow(scale - u32::from(NOTIONAL_SCALE))
    };
    Some(Notional::from_units(n))
}

/// `(units, scale)` as fixed text.
pub fn scaled_text((units, scale): (i128, u8)) -> String {
    decimal::format_scaled(units, scale, DecimalStyle::Fixed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentKind, Venue};
    use qt_test_support::TestInstrument;

    fn contract() -> Instrument {
        let spec = TestInstrument::spot(Venue::BinanceUsdm, "BTCUSDT").kind(InstrumentKind::LinearPerpetual);
        spec.tick("0.1").lot("0.001").build(0)
    }

    fn n(text: &str) -> Notional {
        Notional::parse(text).unwrap()
    }

    /// Buy 2 at 100, buy 2 at 110 (entry 105), sell 3 at 120 (+45), sell 3 at 100: closes the
    /// last 1 (−5) and opens 2 short at 100.
    #[test]
    fn fills_average_in_realize_out_and_flip() {
        let inst = contract();
        let mut p = Position::flat(0);
        let px = |t: &str| inst.parse_price(t).unwrap();
        let q = |t: &str| inst.parse_qty(t).unwrap();
        assert_eq!(p.apply_fill(&inst, Side::Buy, px("100"), q("2"), Nanos(1)), Notional::ZERO);
        assert_eq!(p.apply_fill(&inst, Side::Buy, px("110"), q("2"), Nanos(2)), Notional::ZERO);
        assert_eq!(p.entry_price(&inst, 2), Some((10_500, 2)));
        assert_eq!(p.apply_fill(&inst, Side::Sell, px("120"), q("3"), Nanos(3)), n("45"));
        assert_eq!((p.qty, p.entry_cost), (1000, n("105")));
        assert_eq!(p.unrealized(&inst, (1150, 1)), n("10"));
        assert_eq!(p.apply_fill(&inst, Side::Sell, px("100"), q("3"), Nanos(4)), n("-5"));
        assert_eq!((p.qty, p.entry_cost, p.realized), (-2000, n("200"), n("40")));
        assert_eq!(p.side(), Some(Side::Sell));
        // Short 2 from 100: the mark at 90 is +20, and a positive rate pays the short.
        assert_eq!(p.unrealized(&inst, (900, 1)), n("20"));
        assert_eq!(p.funding_fee(&inst, Rate::from_bps(1), (900, 1)), n("0.018"));
        assert_eq!(p.notional_at(&inst, (900, 1)), n("-180"));
    }

    /// A long pays funding at a positive rate; flat pays nothing.
    #[test]
    fn funding_sign_follows_the_side() {
        let inst = contract();
        let mut p = Position::flat(0);
        assert_eq!(p.funding_fee(&inst, Rate::from_bps(1), (1000, 1)), Notional::ZERO);
        p.apply_fill(&inst, Side::Buy, inst.parse_price("100").unwrap(), inst.parse_qty("1").unwrap(), Nanos(1));
        assert_eq!(p.funding_fee(&inst, Rate::from_bps(1), (1000, 1)), n("-0.01"));
        assert_eq!(scaled_text(p.entry_price(&inst, 3).unwrap()), "100.000");
    }
}
