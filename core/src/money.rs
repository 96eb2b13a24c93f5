//! Exact money types: [`Price`], [`Qty`] and [`Notional`] as integers, never `f64`.
//!
//! `Price` and `Qty` are counts of `10^-scale` units where the scale is the instrument's
//! (`Instrument::price_scale` / `qty_scale`); the instrument's tick and lot are whole numbers of
//! those units, so "on the grid" is an integer remainder test. `Notional` is a value in the
//! instrument's settlement currency at the fixed scale [`NOTIONAL_SCALE`] held in an `i128`, so
//! notionals of different instruments compare and add directly. Arithmetic is checked: overflow
//! returns [`MoneyError::Overflow`], it never wraps. Everything here is `Copy`, allocation-free and
//! safe on the core thread.

use crate::decimal::{self, DecimalError, DecimalStyle, DecimalText};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Decimals of every [`Notional`]: 10^-18 of the settlement currency.
pub const NOTIONAL_SCALE: u8 = 18;

/// Arithmetic that cannot be done exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The result does not fit in the integer type.
    #[error("arithmetic overflow")]
    Overflow,
    /// Division by a zero price, increment or multiplier.
    #[error("division by zero")]
    DivideByZero,
}

/// Direction of rounding to an increment (tick or lot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Toward negative infinity (a smaller price or quantity).
    Down,
    /// Toward positive infinity.
    Up,
    /// To the nearest multiple; exact halves go away from zero.
    Nearest,
}

/// Rounds `units` to a multiple of `increment` (> 0).
#[inline]
pub fn round_to_increment(units: i64, increment: i64, mode: Rounding) -> Result<i64, MoneyError> {
    if increment <= 0 {
        return Err(MoneyError::DivideByZero);
    }
    let rem = units.rem_euclid(increment);
    if rem == 0 {
        return Ok(units);
    }
    let down = units - rem;
    let up = || down.checked_add(increment).ok_or(MoneyError::Overflow);
    match mode {
        Rounding::Down => Ok(down),
        Rounding::Up => up(),
        Rounding::Nearest => {
            let twice = i128::from(rem) * 2;
            let inc = i128::from(increment);
            if twice > inc || (twice == inc && units > 0) { up() } else { Ok(down) }
        }
    }
}

macro_rules! scaled_int {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[repr(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// The largest representable value.
            pub const MAX: Self = Self(i64::MAX);

            /// From a raw count of `10^-scale` units.
            #[inline]
            pub const fn from_units(units: i64) -> Self {
                Self(units)
            }

            /// The raw count of `10^-scale` units.
            #[inline]
            pub const fn units(self) -> i64 {
                self.0
            }

            /// Parses venue text at `scale` decimals, exactly.
            #[inline]
            pub fn parse(text: &str, scale: u8) -> Result<Self, DecimalError> {
                decimal::parse_scaled(text, scale).map(Self)
            }

            /// Parses venue bytes at `scale` decimals, exactly.
            #[inline]
            pub fn parse_bytes(bytes: &[u8], scale: u8) -> Result<Self, DecimalError> {
                decimal::parse_scaled_bytes(bytes, scale).map(Self)
            }

            /// Exact text at `scale` decimals, in `style`.
            #[inline]
            pub fn to_text(self, scale: u8, style: DecimalStyle) -> DecimalText {
                decimal::format_scaled(i128::from(self.0), scale, style)
            }

            /// `self + rhs`, or an error on overflow.
            #[inline]
            pub fn checked_add(self, rhs: Self) -> Result<Self, MoneyError> {
                self.0.checked_add(rhs.0).map(Self).ok_or(MoneyError::Overflow)
            }

            /// `self - rhs`, or an error on overflow.
            #[inline]
            pub fn checked_sub(self, rhs: Self) -> Result<Self, MoneyError> {
                self.0.checked_sub(rhs.0).map(Self).ok_or(MoneyError::Overflow)
            }

            /// `self × n`, or an error on overflow.
            #[inline]
            pub fn checked_mul_int(self, n: i64) -> Result<Self, MoneyError> {
                self.0.checked_mul(n).map(Self).ok_or(MoneyError::Overflow)
            }

            /// `-self`, or an error on overflow.
            #[inline]
            pub fn checked_neg(self) -> Result<Self, MoneyError> {
                self.0.checked_neg().map(Self).ok_or(MoneyError::Overflow)
            }

            /// Absolute value, or an error for the one value without one.
            #[inline]
            pub fn checked_abs(self) -> Result<Self, MoneyError> {
                self.0.checked_abs().map(Self).ok_or(MoneyError::Overflow)
            }

            /// Rounds to a multiple of `increment` (a tick or lot in the same units).
            #[inline]
            pub fn round_to(self, increment: Self, mode: Rounding) -> Result<Self, MoneyError> {
                round_to_increment(self.0, increment.0, mode).map(Self)
            }

            /// Whether the value is a whole multiple of `increment`.
            #[inline]
            pub fn is_multiple_of(self, increment: Self) -> bool {
                increment.0 > 0 && self.0.rem_euclid(increment.0) == 0
            }

            /// Whether the value is zero.
            #[inline]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// Whether the value is above zero.
            #[inline]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// Whether the value is below zero.
            #[inline]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({}u)"), self.0)
            }
        }
    };
}

scaled_int!(
    /// A price: a count of `10^-price_scale` units of the quote currency per unit of the base
    /// (or per contract, for derivatives).
    Price
);
scaled_int!(
    /// A quantity: a count of `10^-qty_scale` units of the base asset (or of contracts).
    /// Signed so a position can be long or short; order quantities are positive.
    Qty
);

/// A value in settlement currency at [`NOTIONAL_SCALE`] decimals: order notionals, PnL, fees,
/// equity. `i128` holds ±1.7·10^20 currency units at that scale.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[repr(transparent)]
pub struct Notional(i128);

impl Notional {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The largest representable value.
    pub const MAX: Self = Self(i128::MAX);

    /// From raw units of `10^-18`.
    #[inline]
    pub const fn from_units(units: i128) -> Self {
        Self(units)
    }

    /// Raw units of `10^-18`.
    #[inline]
    pub const fn units(self) -> i128 {
        self.0
    }

    /// A whole number of currency units.
    #[inline]
    pub fn from_whole(n: i64) -> Self {
        Self(i128::from(n) * decimal::pow10_i128(NOTIONAL_SCALE as u32))
    }

    /// A value given as `units × 10^-scale` (`scale ≤ 18`), exactly.
    #[inline]
    pub fn from_scaled(units: i128, scale: u8) -> Result<Self, MoneyError> {
        let scale = scale.min(NOTIONAL_SCALE);
        units.checked_mul(decimal::pow10_i128(u32::from(NOTIONAL_SCALE - scale))).map(Self).ok_or(MoneyError::Overflow)
    }

    /// Parses currency text exactly (at most 18 decimals).
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        decimal::parse_scaled_i128(text.as_bytes(), NOTIONAL_SCALE).map(Self)
    }

    /// Exact text at 18 decimals in `style`.
    pub fn to_text(self, style: DecimalStyle) -> DecimalText {
        decimal::format_scaled(self.0, NOTIONAL_SCALE, style)
    }

    /// Text rounded (half away from zero) to `decimals` places, for human-readable reports.
    pub fn display_rounded(self, decimals: u8) -> DecimalText {
        let decimals = decimals.min(NOTIONAL_SCALE);
        let step = decimal::pow10_i128(u32::from(NOTIONAL_SCALE - decimals));
        let half = step / 2;
        let rounded = if self.0 >= 0 { (self.0 + half) / step } else { (self.0 - half) / step };
        decimal::format_scaled(rounded, decimals, DecimalStyle::Fixed)
    }

    /// `self + rhs`, or an error on overflow.
    #[inline]
    pub fn checked_add(self, rhs: Self) -> Result<Self, MoneyError> {
        self.0.checked_add(rhs.0).map(Self).ok_or(MoneyError::Overflow)
    }

    /// `self - rhs`, or an error on overflow.
    #[inline]
    pub fn checked_sub(self, rhs: Self) -> Result<Self, MoneyError> {
        self.0.checked_sub(rhs.0).map(Self).ok_or(MoneyError::Overflow)
    }

    /// `-self`, or an error on overflow.
    #[inline]
    pub fn checked_neg(self) -> Result<Self, MoneyError> {
        self.0.checked_neg().map(Self).ok_or(MoneyError::Overflow)
    }

    /// Absolute value, or an error on overflow.
    #[inline]
    pub fn checked_abs(self) -> Result<Self, MoneyError> {
        self.0.checked_abs().map(Self).ok_or(MoneyError::Overflow)
    }

    /// `self × rate`, rounded in `mode` to the notional grid (for fees and percentages).
    #[inline]
    pub fn checked_mul_rate(self, rate: Rate, mode: Rounding) -> Result<Self, MoneyError> {
        let product = self.0.checked_mul(i128::from(rate.0)).ok_or(MoneyError::Overflow)?;
        Ok(Self(div_round_i128(product, i128::from(Rate::ONE.0), mode)?))
    }

    /// Whether the value is below zero.
    #[inline]
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Whether the value is zero.
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Notional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notional({})", self.to_text(DecimalStyle::Trimmed))
    }
}

impl fmt::Display for Notional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_text(DecimalStyle::Trimmed).as_str())
    }
}

/// Integer division of `num` by `den` (> 0 or < 0), rounded in `mode`.
#[inline]
pub fn div_round_i128(num: i128, den: i128, mode: Rounding) -> Result<i128, MoneyError> {
    if den == 0 {
        return Err(MoneyError::DivideByZero);
    }
    let (num, den) = if den < 0 {
        (num.checked_neg().ok_or(MoneyError::Overflow)?, den.checked_neg().ok_or(MoneyError::Overflow)?)
    } else {
        (num, den)
    };
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    if r == 0 {
        return Ok(q);
    }
    Ok(match mode {
        Rounding::Down => q,
        Rounding::Up => q + 1,
        Rounding::Nearest => {
            let twice = r * 2;
            if twice > den || (twice == den && num > 0) { q + 1 } else { q }
        }
    })
}

/// A dimensionless ratio at 8 decimals (`0.001` = 100 000 units): fee rates, percentage limits,
/// leverage. Exact, like the money types; the venues publish fee rates at this precision.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[repr(transparent)]
pub struct Rate(i64);

impl Rate {
    /// Decimals of a rate.
    pub const SCALE: u8 = 8;
    /// 1.0.
    pub const ONE: Self = Self(100_000_000);
    /// 0.
    pub const ZERO: Self = Self(0);

    /// From raw units of `10^-8`.
    #[inline]
    pub const fn from_units(units: i64) -> Self {
        Self(units)
    }

    /// Raw units of `10^-8`.
    #[inline]
    pub const fn units(self) -> i64 {
        self.0
    }

    /// From basis points (1 bp = 0.0001).
    #[inline]
    pub const fn from_bps(bps: i64) -> Self {
        Self(bps * 10_000)
    }

    /// Parses text such as `"0.001"` or `"1.5"`, exactly.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        decimal::parse_scaled(text, Self::SCALE).map(Self)
    }

    /// Exact text.
    pub fn to_text(self) -> DecimalText {
        decimal::format_scaled(i128::from(self.0), Self::SCALE, DecimalStyle::Trimmed)
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rate({})", self.to_text())
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_text().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounding_to_tick() {
        let tick = Price::from_units(5); // e.g. 0.05 at scale 2
        let p = Price::from_units(1_234);
        assert_eq!(p.round_to(tick, Rounding::Down), Ok(Price::from_units(1_230)));
        assert_eq!(p.round_to(tick, Rounding::Up), Ok(Price::from_units(1_235)));
        assert_eq!(p.round_to(tick, Rounding::Nearest), Ok(Price::from_units(1_235)));
        assert_eq!(Price::from_units(1_232).round_to(tick, Rounding::Nearest), Ok(Price::from_units(1_230)));
        assert_eq!(Price::from_units(-1_232).round_to(tick, Rounding::Down), Ok(Price::from_units(-1_235)));
        assert_eq!(Price::from_units(i64::MAX).round_to(tick, Rounding::Up), Err(MoneyError::Overflow));
        assert_eq!(p.round_to(Price::ZERO, Rounding::Down), Err(MoneyError::DivideByZero));
        assert!(Price::from_units(1_235).is_multiple_of(tick));
        assert!(!p.is_multiple_of(tick));
    }

    #[test]
    fn checked_arithmetic_errors_on_overflow() {
        assert_eq!(Qty::MAX.checked_add(Qty::from_units(1)), Err(MoneyError::Overflow));
        assert_eq!(Qty::from_units(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(Price::from_units(i64::MAX / 2 + 1).checked_mul_int(2), Err(MoneyError::Overflow));
        assert_eq!(Notional::MAX.checked_add(Notional::from_units(1)), Err(MoneyError::Overflow));
    }

    #[test]
    fn notional_text_and_fees() {
        let n = Notional::parse("12345.678").unwrap();
        assert_eq!(n.to_text(DecimalStyle::Trimmed).as_str(), "12345.678");
        assert_eq!(Notional::parse("-0.5").unwrap(), Notional::from_scaled(-5, 1).unwrap());
        assert!(Notional::parse("1.-5").is_err());
        assert_eq!(Notional::parse("1e-3").unwrap(), Notional::from_scaled(1, 3).unwrap());
        assert_eq!(Notional::parse("1e3").unwrap(), Notional::parse("1000").unwrap());
        // 10 bps taker fee on 12345.678 = 12.345678
        let fee = n.checked_mul_rate(Rate::from_bps(10), Rounding::Up).unwrap();
        assert_eq!(fee.to_text(DecimalStyle::Trimmed).as_str(), "12.345678");
        assert_eq!(n.display_rounded(2).as_str(), "12345.68");
        assert_eq!(Rate::parse("0.001").unwrap(), Rate::from_bps(10));
    }

    proptest! {
        #[test]
        fn rounding_lands_on_grid_and_within_one_step(units in -1_000_000_000i64..1_000_000_000, inc in 1i64..10_000) {
            for mode in [Rounding::Down, Rounding::Up, Rounding::Nearest] {
                let r = round_to_increment(units, inc, mode).unwrap();
                prop_assert_eq!(r.rem_euclid(inc), 0);
                prop_assert!((r - units).abs() < inc);
                match mode {
                    Rounding::Down => prop_assert!(r <= units),
                    Rounding::Up => prop_assert!(r >= units),
                    Rounding::Nearest => prop_assert!(2 * (r - units).abs() <= inc),
                }
            }
        }

        #[test]
        fn checked_add_matches_i128(a in any::<i64>(), b in any::<i64>()) {
            let wide = i128::from(a) + i128::from(b);
            match Qty::from_units(a).checked_add(Qty::from_units(b)) {
                Ok(q) => prop_assert_eq!(i128::from(q.units()), wide),
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Overflow);
                    prop_assert!(wide > i128::from(i64::MAX) || wide < i128::from(i64::MIN));
                }
            }
        }

        #[test]
        fn div_round_brackets_the_quotient(num in any::<i64>(), den in 1i64..1_000_000) {
            let (num, den) = (i128::from(num), i128::from(den));
            let down = div_round_i128(num, den, Rounding::Down).unwrap();
            let up = div_round_i128(num, den, Rounding::Up).unwrap();
            prop_assert!(down * den <= num && num < (down + 1) * den);
            prop_assert!(up * den >= num && (up - 1) * den < num);
        }
    }
}
