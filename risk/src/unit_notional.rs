//! [`UnitNotionals`]: the notional of one price unit × one quantity unit per spot or linear
//! instrument, learned once, so the gate values `price × qty` with one multiplication instead of
//! [`qt_core::Instrument::notional`]'s scale arithmetic on every call.
//!
//! Spot and linear notionals are linear in `price × qty` (the instrument multiplies by its
//! multiplier and shifts by a power of ten), so `notional(p, q) = p × q × notional(1, 1)` exactly;
//! inverse contracts divide by the price and always take the instrument's own path.
//!
//! Thread: the core thread (owned by the gate). Contract: capacity for [`MAX_CACHED`]
//! instruments is allocated at construction; learning and lookups never allocate; instruments
//! beyond the capacity just use the instrument's path.

use qt_core::{Instrument, InstrumentKind, MoneyError, Notional, Price, Qty, Rounding};

/// Instruments whose unit notional is cached.
pub const MAX_CACHED: usize = 4096;

/// Per-instrument notional of one price unit × one quantity unit (0: not cached).
#[derive(Debug, Clone)]
pub struct UnitNotionals {
    per_unit: Vec<i128>,
}

impl Default for UnitNotionals {
    fn default() -> Self {
        Self { per_unit: Vec::with_capacity(MAX_CACHED) }
    }
}

impl UnitNotionals {
    /// No cache: every value takes the instrument's path (for cold scale-down paths).
    pub const EMPTY: Self = Self { per_unit: Vec::new() };

    /// Caches `inst`'s unit notional (spot and linear only). No allocation.
    #[inline]
    pub fn learn(&mut self, inst: &Instrument) {
        let i = inst.id().index();
        if i >= MAX_CACHED || inst.kind() == InstrumentKind::InversePerpetual {
            return;
        }
        if i >= self.per_unit.len() {
            // Within the capacity reserved at construction.
            self.per_unit.resize(i + 1, 0);
        }
        if self.per_unit[i] == 0
            && let Ok(n) = inst.notional(Price::from_units(1), Qty::from_units(1), Rounding::Nearest)
        {
            self.per_unit[i] = n.units();
        }
    }

    /// `inst.notional(price, qty, mode)`, by one multiplication when cached.
    #[inline]
    pub fn notional(&self, inst: &Instrument, price: Price, qty: Qty, mode: Rounding) -> Result<Notional, MoneyError> {
        match self.per_unit.get(inst.id().index()) {
            Some(&u) if u != 0 => i128::from(price.units())
                .checked_mul(i128::from(qty.units()))
                .and_then(|v| v.checked_mul(u))
                .map(Notional::from_units)
                .ok_or(MoneyError::Overflow),
            _ => inst.notional(price, qty, mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentId, InstrumentSpec, Venue};

    #[test]
    fn cached_values_equal_the_instruments_own() {
        let mut spec = InstrumentSpec::spot(Venue::Sim, "X", "X", "USD", "0.5", "0.001");
        let spot = Instrument::from_spec(InstrumentId(0), &spec).unwrap();
        spec.kind = InstrumentKind::LinearPerpetual;
        spec.multiplier = Some("0.01".into());
        let linear = Instrument::from_spec(InstrumentId(1), &spec).unwrap();
        let mut u = UnitNotionals::default();
        u.learn(&spot);
        u.learn(&linear);
        for inst in [&spot, &linear] {
            for (p, q) in [(1, 1), (130_001, 7), (-3, 250_000), (i64::from(i32::MAX), -12_345)] {
                let (p, q) = (Price::from_units(p), Qty::from_units(q));
                assert_eq!(
                    u.notional(inst, p, q, Rounding::Up),
                    inst.notional(p, q, Rounding::Up),
                    "{inst:?} {p:?} {q:?}"
                );
            }
        }
    }
}
