//! [`TestInstrument`]: builds the [`Instrument`]s tests drive decoders, books and feeds with,
//! from the few fields a test cares about (venue, symbol, tick, lot) with neutral defaults for
//! the rest.

use qt_core::{Instrument, InstrumentId, InstrumentKind, InstrumentSpec, Venue};

/// A test instrument under construction: spot, base `B`, quote `USDT`, tick `0.01`, lot `0.001`,
/// no minimums, unless set otherwise.
#[derive(Debug, Clone)]
pub struct TestInstrument {
    spec: InstrumentSpec,
}

impl TestInstrument {
    /// A spot instrument of `venue` named `symbol`, with the defaults above.
    pub fn spot(venue: Venue, symbol: &str) -> Self {
        TestInstrument {
            spec: InstrumentSpec {
                venue,
                symbol: symbol.into(),
                base: "B".into(),
                quote: "USDT".into(),
                kind: InstrumentKind::Spot,
                tick_size: "0.01".into(),
                lot_size: "0.001".into(),
                min_qty: None,
                min_notional: None,
                multiplier: None,
                price_scale: None,
                qty_scale: None,
            },
        }
    }

    /// The price grid, as the venue writes it (`"0.01"`).
    pub fn tick(mut self, tick: &str) -> Self {
        self.spec.tick_size = tick.into();
        self
    }

    /// The quantity grid (`"0.001"`).
    pub fn lot(mut self, lot: &str) -> Self {
        self.spec.lot_size = lot.into();
        self
    }

    /// Tick and lot given as decimal places: 2 ⇒ `"0.01"`, 0 ⇒ `"1"`.
    pub fn decimals(self, price_decimals: u8, qty_decimals: u8) -> Self {
        self.tick(&step(price_decimals)).lot(&step(qty_decimals))
    }

    /// The base and quote assets.
    pub fn assets(mut self, base: &str, quote: &str) -> Self {
        self.spec.base = base.into();
        self.spec.quote = quote.into();
        self
    }

    /// What kind of instrument (spot, linear perpetual, …).
    pub fn kind(mut self, kind: InstrumentKind) -> Self {
        self.spec.kind = kind;
        self
    }

    /// The venue's minimum order quantity and notional.
    pub fn minimums(mut self, min_qty: &str, min_notional: &str) -> Self {
        self.spec.min_qty = Some(min_qty.into());
        self.spec.min_notional = Some(min_notional.into());
        self
    }

    /// The venue's minimum order notional alone (no minimum quantity).
    pub fn min_notional(mut self, min_notional: &str) -> Self {
        self.spec.min_notional = Some(min_notional.into());
        self
    }

    /// The decimals quantities are held at, when finer than the lot (`InstrumentSpec::qty_scale`).
    pub fn qty_scale(mut self, decimals: u8) -> Self {
        self.spec.qty_scale = Some(decimals);
        self
    }

    /// The spec as built so far.
    pub fn spec(&self) -> &InstrumentSpec {
        &self.spec
    }

    /// The instrument, with id `id`. Panics on a spec `Instrument::from_spec` refuses: a test
    /// instrument that does not build is a mistake in the test.
    #[allow(clippy::expect_used, reason = "test support: a bad test instrument is the test's bug")]
    pub fn build(&self, id: u32) -> Instrument {
        Instrument::from_spec(InstrumentId(id), &self.spec).expect("a valid test instrument")
    }
}

/// `10^-decimals` as the venue would write it.
fn step(decimals: u8) -> String {
    match decimals {
        0 => "1".to_string(),
        d => format!("0.{}1", "0".repeat(usize::from(d) - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_write_the_grid_as_the_venue_does() {
        let spec = TestInstrument::spot(Venue::Kraken, "XBT/USD").decimals(1, 8).spec().clone();
        assert_eq!((spec.tick_size.as_str(), spec.lot_size.as_str()), ("0.1", "0.00000001"));
        let spec = TestInstrument::spot(Venue::Kraken, "X").decimals(0, 0).spec().clone();
        assert_eq!((spec.tick_size.as_str(), spec.lot_size.as_str()), ("1", "1"));
    }

    #[test]
    fn the_builder_sets_what_it_is_told_and_builds() {
        let i = TestInstrument::spot(Venue::Okx, "BTC-USDT")
            .tick("0.1")
            .lot("0.0001")
            .assets("BTC", "USDT")
            .minimums("0.0001", "5")
            .build(7);
        assert_eq!(i.id(), InstrumentId(7));
        assert_eq!(i.symbol(), "BTC-USDT");
    }
}
