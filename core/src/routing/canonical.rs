//! Canonical instruments: one instrument (e.g. `BTC/USDT` spot) listed at several venues, each
//! listing its own [`Instrument`] (venue symbol, tick, lot) — the *siblings* of one canonical
//! instrument.
//!
//! [`Siblings`] groups registry ids; it is built once at start-up (allocates) and read on the
//! core thread by index (no allocation, no hashing). [`check_grid`] is the one rule siblings
//! must obey: the same tick, lot, scales, kind and multiplier, so an order's integer price and
//! quantity mean the same thing at every venue it may be routed to. Config runs it on the
//! configured instruments; loading each venue's instruments endpoint at start (a later step)
//! runs the same check on what the venue says ([`check_grid`] is that seam).

use crate::decimal::DecimalStyle;
use crate::ids::InstrumentId;
use crate::instrument::{Instrument, InstrumentRegistry};

/// Why two siblings cannot be one canonical instrument, naming both values and both venues.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} differs: {a_value} at {a_venue} ({a_symbol}) but {b_value} at {b_venue} ({b_symbol})")]
pub struct GridMismatch {
    /// Which property (`tick_size`, `lot_size`, `kind`, `multiplier`, `price_scale`, `qty_scale`).
    pub field: &'static str,
    /// The first listing's venue.
    pub a_venue: String,
    /// Its symbol.
    pub a_symbol: String,
    /// Its value.
    pub a_value: String,
    /// The second listing's venue.
    pub b_venue: String,
    /// Its symbol.
    pub b_symbol: String,
    /// Its value.
    pub b_value: String,
}

/// Checks that `a` and `b` share one grid (see the module doc); the first difference found.
pub fn check_grid(a: &Instrument, b: &Instrument) -> Result<(), Box<GridMismatch>> {
    let mismatch = |field: &'static str, av: String, bv: String| {
        Box::new(GridMismatch {
            field,
            a_venue: a.venue().to_string(),
            a_symbol: a.symbol().to_string(),
            a_value: av,
            b_venue: b.venue().to_string(),
            b_symbol: b.symbol().to_string(),
            b_value: bv,
        })
    };
    let tick = |i: &Instrument| i.tick().to_text(i.price_scale(), DecimalStyle::Trimmed).to_string();
    let lot = |i: &Instrument| i.lot().to_text(i.qty_scale(), DecimalStyle::Trimmed).to_string();
    if a.kind() != b.kind() {
        return Err(mismatch("kind", format!("{:?}", a.kind()), format!("{:?}", b.kind())));
    }
    if tick(a) != tick(b) {
        return Err(mismatch("tick_size", tick(a), tick(b)));
    }
    if lot(a) != lot(b) {
        return Err(mismatch("lot_size", lot(a), lot(b)));
    }
    if a.price_scale() != b.price_scale() {
        return Err(mismatch("price_scale", a.price_scale().to_string(), b.price_scale().to_string()));
    }
    if a.qty_scale() != b.qty_scale() {
        return Err(mismatch("qty_scale", a.qty_scale().to_string(), b.qty_scale().to_string()));
    }
    if a.multiplier_text() != b.multiplier_text() {
        return Err(mismatch("multiplier", a.multiplier_text(), b.multiplier_text()));
    }
    Ok(())
}

/// Sibling groups over a registry: which instruments are one canonical instrument.
#[derive(Debug, Clone, Default)]
pub struct Siblings {
    /// Group of each instrument (`NONE`: alone).
    group_of: Vec<u32>,
    /// Each group's members, in registry order.
    groups: Vec<Vec<InstrumentId>>,
    /// Each group's canonical name.
    names: Vec<String>,
}

const NONE: u32 = u32::MAX;

/// No canonical groups: every instrument alone (views built outside an engine).
pub static NO_SIBLINGS: Siblings = Siblings { group_of: Vec::new(), groups: Vec::new(), names: Vec::new() };

impl Siblings {
    /// Every instrument of `instruments` alone (no canonical groups).
    pub fn alone(instruments: &InstrumentRegistry) -> Self {
        Self { group_of: vec![NONE; instruments.len()], groups: Vec::new(), names: Vec::new() }
    }

    /// Makes `members` one canonical instrument named `name`, after checking every member's
    /// grid against the first. An instrument already in a group, or unknown, is refused.
    pub fn add_group(
        &mut self,
        instruments: &InstrumentRegistry,
        name: &str,
        members: &[InstrumentId],
    ) -> Result<(), SiblingError> {
        let mut found = Vec::with_capacity(members.len());
        for m in members {
            let inst = instruments.get(*m).ok_or(SiblingError::Unknown(*m))?;
            if self.group_of.get(m.index()).is_some_and(|g| *g != NONE) {
                return Err(SiblingError::TwoGroups(inst.symbol().to_string(), inst.venue().to_string()));
            }
            if found.iter().any(|f: &&Instrument| f.venue() == inst.venue()) {
                return Err(SiblingError::SameVenue(name.to_string(), inst.venue().to_string()));
            }
            found.push(inst);
        }
        if let Some((first, rest)) = found.split_first() {
            for other in rest {
                check_grid(first, other).map_err(SiblingError::Grid)?;
            }
        }
        if self.group_of.len() < instruments.len() {
            self.group_of.resize(instruments.len(), NONE);
        }
        let g = self.groups.len() as u32;
        for m in members {
            self.group_of[m.index()] = g;
        }
        self.groups.push(members.to_vec());
        self.names.push(name.to_string());
        Ok(())
    }

    /// The instruments that are `instrument` (itself first if alone, else its group in registry
    /// order). No allocation.
    #[inline]
    pub fn of(&self, instrument: InstrumentId) -> &[InstrumentId] {
        match self.group_of.get(instrument.index()) {
            Some(g) if *g != NONE => self.groups.get(*g as usize).map_or(&[], Vec::as_slice),
            _ => &[],
        }
    }

    /// The canonical name of `instrument`'s group, if it has one.
    pub fn name(&self, instrument: InstrumentId) -> Option<&str> {
        let g = *self.group_of.get(instrument.index())?;
        self.names.get(g as usize).map(String::as_str)
    }

    /// The groups: name and members.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &[InstrumentId])> {
        self.names.iter().map(String::as_str).zip(self.groups.iter().map(Vec::as_slice))
    }
}

/// A sibling group that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SiblingError {
    /// An id outside the registry.
    #[error("instrument #{0} is not in the registry")]
    Unknown(InstrumentId),
    /// An instrument named by two canonical instruments.
    #[error("{0} at {1} already belongs to another canonical instrument")]
    TwoGroups(String, String),
    /// Two listings of one canonical instrument at one venue.
    #[error("canonical instrument {0:?} is listed twice at {1}")]
    SameVenue(String, String),
    /// The siblings' grids differ.
    #[error(transparent)]
    Grid(Box<GridMismatch>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{InstrumentSpec, Venue};

    fn registry(bybit_tick: &str, bybit_lot: &str) -> InstrumentRegistry {
        let mut r = InstrumentRegistry::new();
        r.add(&InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001")).unwrap();
        r.add(&InstrumentSpec::spot(Venue::Bybit, "BTCUSDT", "BTC", "USDT", bybit_tick, bybit_lot)).unwrap();
        r.add(&InstrumentSpec::spot(Venue::Okx, "BTC-USDT", "BTC", "USDT", "0.01", "0.00001")).unwrap();
        r
    }

    #[test]
    fn siblings_on_one_grid_form_a_group() {
        let r = registry("0.01", "0.00001");
        let mut s = Siblings::alone(&r);
        s.add_group(&r, "BTC/USDT", &[InstrumentId(0), InstrumentId(1), InstrumentId(2)]).unwrap();
        assert_eq!(s.of(InstrumentId(1)), &[InstrumentId(0), InstrumentId(1), InstrumentId(2)]);
        assert_eq!(s.name(InstrumentId(2)), Some("BTC/USDT"));
    }

    #[test]
    fn a_grid_mismatch_names_both_values_and_both_venues() {
        let r = registry("0.1", "0.00001");
        let mut s = Siblings::alone(&r);
        let err = s.add_group(&r, "BTC/USDT", &[InstrumentId(0), InstrumentId(1)]).unwrap_err();
        let text = err.to_string();
        for part in ["tick_size", "0.01", "0.1", "binance", "bybit"] {
            assert!(text.contains(part), "{text}");
        }
        let r = registry("0.01", "0.0001");
        let err = Siblings::alone(&r).add_group(&r, "BTC/USDT", &[InstrumentId(0), InstrumentId(1)]).unwrap_err();
        assert!(err.to_string().contains("lot_size differs: 0.00001 at binance"), "{err}");
        assert!(err.to_string().contains("0.0001 at bybit"), "{err}");
    }

    #[test]
    fn an_instrument_alone_has_no_siblings_and_two_groups_are_refused() {
        let r = registry("0.01", "0.00001");
        let mut s = Siblings::alone(&r);
        assert!(s.of(InstrumentId(0)).is_empty());
        s.add_group(&r, "A", &[InstrumentId(0), InstrumentId(1)]).unwrap();
        assert!(matches!(s.add_group(&r, "B", &[InstrumentId(1), InstrumentId(2)]), Err(SiblingError::TwoGroups(..))));
        assert!(matches!(s.add_group(&r, "C", &[InstrumentId(2), InstrumentId(9)]), Err(SiblingError::Unknown(_))));
    }
}
