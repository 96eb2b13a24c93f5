//! Instruments and the registry the engine looks them up in.
//!
//! An [`Instrument`] fixes the integer grid its prices and quantities live on: `price_scale` and
//! `qty_scale` decimals, a tick and a lot that are whole numbers of those units, minimum quantity
//! and notional, and the contract multiplier. It converts between the grid and a venue's decimal
//! text, rounds for sizing, and computes notionals exactly. The registry is built once at start-up
//! (allocates) and read by id on the core thread (no allocation, no hashing).

use crate::decimal::{self, DecimalError, DecimalStyle, DecimalText};
use crate::ids::InstrumentId;
use crate::money::{MoneyError, NOTIONAL_SCALE, Notional, Price, Qty, Rounding, div_round_i128};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// The venues Quantum Trader knows. `Sim` is the built-in in-process simulated venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Venue {
    /// The built-in simulated venue.
    Sim,
    /// Binance spot.
    Binance,
    /// Binance USD-M futures.
    BinanceUsdm,
    /// Bybit v5.
    Bybit,
    /// OKX v5.
    Okx,
    /// KuCoin.
    Kucoin,
    /// Kraken.
    Kraken,
    /// Firi.
    Firi,
}

impl Venue {
    /// Every venue, in a fixed order.
    pub const ALL: [Venue; 8] = [
        Venue::Sim,
        Venue::Binance,
        Venue::BinanceUsdm,
        Venue::Bybit,
        Venue::Okx,
        Venue::Kucoin,
        Venue::Kraken,
        Venue::Firi,
    ];

    /// The lower-case name used in config and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Venue::Sim => "sim",
            Venue::Binance => "binance",
            Venue::BinanceUsdm => "binance_usdm",
            Venue::Bybit => "bybit",
            Venue::Okx => "okx",
            Venue::Kucoin => "kucoin",
            Venue::Kraken => "kraken",
            Venue::Firi => "firi",
        }
    }
}

impl std::str::FromStr for Venue {
    type Err = String;

    /// Parses the lower-case name used in config and metrics (`binance`, `bybit`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Venue::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Venue::ALL.iter().map(|v| v.name()).collect();
            format!("unknown venue {s:?} (known: {})", names.join(", "))
        })
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of contract an instrument is; decides how notional and PnL are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    /// Spot: quantity in base asset, notional = price × qty in quote.
    Spot,
    /// Linear (USD-margined) perpetual: notional = price × qty × multiplier in quote.
    LinearPerpetual,
    /// Inverse (coin-margined) perpetual: notional = qty × multiplier ÷ price in base.
    InversePerpetual,
}

/// How an instrument is described in config or by a venue's `exchangeInfo`: decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    /// The venue it trades on.
    pub venue: Venue,
    /// The venue's symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Base asset, e.g. `BTC`.
    pub base: String,
    /// Quote asset, e.g. `USDT`.
    pub quote: String,
    /// Contract kind.
    pub kind: InstrumentKind,
    /// Price increment, e.g. `"0.01"`.
    pub tick_size: String,
    /// Quantity increment, e.g. `"0.00001"`.
    pub lot_size: String,
    /// Smallest order quantity; defaults to one lot.
    #[serde(default)]
    pub min_qty: Option<String>,
    /// Smallest order notional in settlement currency; defaults to zero.
    #[serde(default)]
    pub min_notional: Option<String>,
    /// Contract multiplier (`ctVal`); defaults to 1.
    #[serde(default)]
    pub multiplier: Option<String>,
    /// Decimals prices are held at; defaults to the tick size's decimals. Larger lets the book
    /// hold off-tick venue prices exactly.
    #[serde(default)]
    pub price_scale: Option<u8>,
    /// Decimals quantities are held at; defaults to the lot size's decimals.
    #[serde(default)]
    pub qty_scale: Option<u8>,
}

impl InstrumentSpec {
    /// A spot instrument with the given grid and no minimums beyond one lot (tests, tools and
    /// simulators; venues' real filters come from their `exchangeInfo`).
    pub fn spot(venue: Venue, symbol: &str, base: &str, quote: &str, tick_size: &str, lot_size: &str) -> Self {
        Self {
            venue,
            symbol: symbol.into(),
            base: base.into(),
            quote: quote.into(),
            kind: InstrumentKind::Spot,
            tick_size: tick_size.into(),
            lot_size: lot_size.into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        }
    }

    /// The same with a minimum order notional.
    pub fn with_min_notional(mut self, min_notional: &str) -> Self {
        self.min_notional = Some(min_notional.into());
        self
    }
}

/// An instrument specification that cannot be used, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// A decimal field did not parse.
    #[error("{field}: {source}")]
    Decimal {
        /// The field name.
        field: &'static str,
        /// Why.
        source: DecimalError,
    },
    /// A field's value is out of range.
    #[error("{field}: {message}")]
    Invalid {
        /// The field name.
        field: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The same venue and symbol twice.
    #[error("instrument {venue}:{symbol} is defined twice")]
    Duplicate {
        /// Venue.
        venue: Venue,
        /// Symbol.
        symbol: String,
    },
}

/// One tradable instrument and its exact grid.
#[derive(Clone, PartialEq, Eq)]
pub struct Instrument {
    id: InstrumentId,
    venue: Venue,
    symbol: String,
    base: String,
    quote: String,
    kind: InstrumentKind,
    price_scale: u8,
    qty_scale: u8,
    tick: Price,
    lot: Qty,
    min_qty: Qty,
    min_notional: Notional,
    multiplier_units: i64,
    multiplier_scale: u8,
}

impl Instrument {
    /// Builds an instrument from its decimal description; `id` is its registry slot.
    pub fn from_spec(id: InstrumentId, spec: &InstrumentSpec) -> Result<Self, InstrumentError> {
        let dec = |field: &'static str, text: &str| {
            decimal::significant_decimals(text).map_err(|source| InstrumentError::Decimal { field, source })
        };
        let invalid = |field: &'static str, message: String| InstrumentError::Invalid { field, message };
        if spec.symbol.trim().is_empty() {
            return Err(invalid("symbol", "must not be empty".into()));
        }
        let tick_decimals = dec("tick_size", &spec.tick_size)?;
        let lot_decimals = dec("lot_size", &spec.lot_size)?;
        let price_scale = spec.price_scale.unwrap_or(tick_decimals);
        let qty_scale = spec.qty_scale.unwrap_or(lot_decimals);
        if price_scale < tick_decimals {
            return Err(invalid(
                "price_scale",
                format!("{price_scale} is fewer decimals than tick_size {:?} needs ({tick_decimals})", spec.tick_size),
            ));
        }
        if qty_scale < lot_decimals {
            return Err(invalid(
                "qty_scale",
                format!("{qty_scale} is fewer decimals than lot_size {:?} needs ({lot_decimals})", spec.lot_size),
            ));
        }
        let multiplier_text = spec.multiplier.as_deref().unwrap_or("1");
        let multiplier_scale = dec("multiplier", multiplier_text)?;
        if u32::from(price_scale) + u32::from(qty_scale) + u32::from(multiplier_scale) > u32::from(NOTIONAL_SCALE) {
            return Err(invalid(
                "price_scale",
                format!(
                    "price ({price_scale}) + quantity ({qty_scale}) + multiplier ({multiplier_scale}) decimals exceed {NOTIONAL_SCALE}"
                ),
            ));
        }
        let parse_pos = |field: &'static str, text: &str, scale: u8| -> Result<i64, InstrumentError> {
            let v = decimal::parse_scaled(text, scale).map_err(|source| InstrumentError::Decimal { field, source })?;
            if v <= 0 {
                return Err(invalid(field, format!("{text:?} must be greater than zero")));
            }
            Ok(v)
        };
        let tick = Price::from_units(parse_pos("tick_size", &spec.tick_size, price_scale)?);
        let lot = Qty::from_units(parse_pos("lot_size", &spec.lot_size, qty_scale)?);
        let min_qty = match &spec.min_qty {
            Some(text) => {
                let q = Qty::from_units(parse_pos("min_qty", text, qty_scale)?);
                if !q.is_multiple_of(lot) {
                    return Err(invalid(
                        "min_qty",
                        format!("{text:?} is not a multiple of lot_size {:?}", spec.lot_size),
                    ));
                }
                q
            }
            None => lot,
        };
        let min_notional = match &spec.min_notional {
            Some(text) => {
                let n = Notional::parse(text)
                    .map_err(|source| InstrumentError::Decimal { field: "min_notional", source })?;
                if n.is_negative() {
                    return Err(invalid("min_notional", format!("{text:?} must not be negative")));
                }
                n
            }
            None => Notional::ZERO,
        };
        let multiplier_units = parse_pos("multiplier", multiplier_text, multiplier_scale)?;
        Ok(Self {
            id,
            venue: spec.venue,
            symbol: spec.symbol.clone(),
            base: spec.base.clone(),
            quote: spec.quote.clone(),
            kind: spec.kind,
            price_scale,
            qty_scale,
            tick,
            lot,
            min_qty,
            min_notional,
            multiplier_units,
            multiplier_scale,
        })
    }

    /// Registry slot.
    pub fn id(&self) -> InstrumentId {
        self.id
    }
    /// Venue.
    pub fn venue(&self) -> Venue {
        self.venue
    }
    /// Venue symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// Base asset.
    pub fn base(&self) -> &str {
        &self.base
    }
    /// Quote asset.
    pub fn quote(&self) -> &str {
        &self.quote
    }
    /// Contract kind.
    pub fn kind(&self) -> InstrumentKind {
        self.kind
    }
    /// Decimals of a [`Price`] of this instrument.
    pub fn price_scale(&self) -> u8 {
        self.price_scale
    }
    /// Decimals of a [`Qty`] of this instrument.
    pub fn qty_scale(&self) -> u8 {
        self.qty_scale
    }
    /// Price increment.
    pub fn tick(&self) -> Price {
        self.tick
    }
    /// Quantity increment.
    pub fn lot(&self) -> Qty {
        self.lot
    }
    /// Smallest order quantity.
    pub fn min_qty(&self) -> Qty {
        self.min_qty
    }
    /// Smallest order notional.
    pub fn min_notional(&self) -> Notional {
        self.min_notional
    }
    /// The contract multiplier as trimmed decimal text (`"1"` for spot).
    pub fn multiplier_text(&self) -> String {
        Qty::from_units(self.multiplier_units).to_text(self.multiplier_scale, DecimalStyle::Trimmed).to_string()
    }

    /// Parses a venue price string onto this instrument's scale (it may still be off-tick).
    #[inline]
    pub fn parse_price(&self, text: &str) -> Result<Price, DecimalError> {
        Price::parse(text, self.price_scale)
    }
    /// Parses a venue quantity string onto this instrument's scale.
    #[inline]
    pub fn parse_qty(&self, text: &str) -> Result<Qty, DecimalError> {
        Qty::parse(text, self.qty_scale)
    }
    /// The exact price text a venue expects (tick decimals, trimmed of nothing).
    #[inline]
    pub fn price_text(&self, price: Price) -> DecimalText {
        price.to_text(self.price_scale, DecimalStyle::Fixed)
    }
    /// The exact quantity text a venue expects.
    #[inline]
    pub fn qty_text(&self, qty: Qty) -> DecimalText {
        qty.to_text(self.qty_scale, DecimalStyle::Fixed)
    }
    /// Rounds a price to the tick.
    #[inline]
    pub fn round_price(&self, price: Price, mode: Rounding) -> Result<Price, MoneyError> {
        price.round_to(self.tick, mode)
    }
    /// Rounds a quantity to the lot.
    #[inline]
    pub fn round_qty(&self, qty: Qty, mode: Rounding) -> Result<Qty, MoneyError> {
        qty.round_to(self.lot, mode)
    }
    /// Whether `price` is a positive multiple of the tick.
    #[inline]
    pub fn is_on_tick(&self, price: Price) -> bool {
        price.is_positive() && price.is_multiple_of(self.tick)
    }
    /// Whether `qty` is a positive multiple of the lot.
    #[inline]
    pub fn is_on_lot(&self, qty: Qty) -> bool {
        qty.is_positive() && qty.is_multiple_of(self.lot)
    }

    /// Notional of `qty` at `price` in settlement currency, exact for spot and linear contracts;
    /// for inverse contracts the division rounds in `mode`. The sign follows `qty`.
    #[inline]
    pub fn notional(&self, price: Price, qty: Qty, mode: Rounding) -> Result<Notional, MoneyError> {
        let p = i128::from(price.units());
        let q = i128::from(qty.units());
        let m = i128::from(self.multiplier_units);
        match self.kind {
            InstrumentKind::Spot | InstrumentKind::LinearPerpetual => {
                let raw = p.checked_mul(q).and_then(|v| v.checked_mul(m)).ok_or(MoneyError::Overflow)?;
                Notional::from_scaled(raw, self.price_scale + self.qty_scale + self.multiplier_scale)
            }
            InstrumentKind::InversePerpetual => {
                if p == 0 {
                    return Err(MoneyError::DivideByZero);
                }
                // qty × mult ÷ price, in units of 10^-18: scale the numerator so the quotient lands
                // on the notional grid.
                let shift = u32::from(NOTIONAL_SCALE) + u32::from(self.price_scale)
                    - u32::from(self.qty_scale)
                    - u32::from(self.multiplier_scale);
                let num = q
                    .checked_mul(m)
                    .and_then(|v| v.checked_mul(decimal::pow10_i128(shift)))
                    .ok_or(MoneyError::Overflow)?;
                div_round_i128(num, p, mode).map(Notional::from_units)
            }
        }
    }

    /// The largest quantity (rounded down to the lot) whose notional at `price` is at most
    /// `notional`; used to scale orders down to a limit.
    pub fn qty_for_notional(&self, price: Price, notional: Notional) -> Result<Qty, MoneyError> {
        if notional.is_negative() || !price.is_positive() {
            return Ok(Qty::ZERO);
        }
        let unit = self.notional(price, self.lot, Rounding::Up)?;
        if unit.units() <= 0 {
            return Err(MoneyError::DivideByZero);
        }
        let lots = notional.units() / unit.units();
        let lots = i64::try_from(lots).map_err(|_| MoneyError::Overflow)?;
        self.lot.checked_mul_int(lots)
    }
}

impl fmt::Debug for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Instrument({}:{} #{} {:?} tick {} lot {})",
            self.venue,
            self.symbol,
            self.id,
            self.kind,
            self.tick.to_text(self.price_scale, DecimalStyle::Trimmed),
            self.lot.to_text(self.qty_scale, DecimalStyle::Trimmed)
        )
    }
}

/// All instruments of a run, indexed densely by [`InstrumentId`].
#[derive(Debug, Default, Clone)]
pub struct InstrumentRegistry {
    instruments: Vec<Instrument>,
    by_symbol: HashMap<(Venue, String), InstrumentId>,
}

impl InstrumentRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an instrument; its id is the next slot.
    pub fn add(&mut self, spec: &InstrumentSpec) -> Result<InstrumentId, InstrumentError> {
        let key = (spec.venue, spec.symbol.clone());
        if self.by_symbol.contains_key(&key) {
            return Err(InstrumentError::Duplicate { venue: spec.venue, symbol: spec.symbol.clone() });
        }
        let id =
            InstrumentId(u32::try_from(self.instruments.len()).map_err(|_| InstrumentError::Invalid {
                field: "instruments",
                message: "too many instruments".into(),
            })?);
        self.instruments.push(Instrument::from_spec(id, spec)?);
        self.by_symbol.insert(key, id);
        Ok(id)
    }

    /// The instrument with `id`, if it exists.
    #[inline]
    pub fn get(&self, id: InstrumentId) -> Option<&Instrument> {
        self.instruments.get(id.index())
    }

    /// Looks up by venue and symbol (start-up and cold paths; hashes).
    pub fn find(&self, venue: Venue, symbol: &str) -> Option<&Instrument> {
        self.by_symbol.get(&(venue, symbol.to_string())).and_then(|id| self.get(*id))
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }

    /// All instruments in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn spec(kind: InstrumentKind, tick: &str, lot: &str) -> InstrumentSpec {
        InstrumentSpec {
            venue: Venue::Binance,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            kind,
            tick_size: tick.into(),
            lot_size: lot.into(),
            min_qty: None,
            min_notional: Some("5".into()),
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        }
    }

    #[test]
    fn grid_from_binance_filter_strings() {
        let i =
            Instrument::from_spec(InstrumentId(0), &spec(InstrumentKind::Spot, "0.01000000", "0.00001000")).unwrap();
        assert_eq!(i.price_scale(), 2);
        assert_eq!(i.qty_scale(), 5);
        assert_eq!(i.tick(), Price::from_units(1));
        let p = i.parse_price("26123.40000000").unwrap();
        assert_eq!(i.price_text(p).as_str(), "26123.40");
        let q = i.parse_qty("0.00123").unwrap();
        assert_eq!(i.qty_text(q).as_str(), "0.00123");
        // 26123.40 × 0.00123 = 32.131782
        assert_eq!(i.notional(p, q, Rounding::Down).unwrap(), Notional::parse("32.131782").unwrap());
        assert!(i.parse_price("26123.405").is_err());
    }

    #[test]
    fn inverse_notional_divides_exactly_with_rounding() {
        let mut s = spec(InstrumentKind::InversePerpetual, "0.5", "1");
        s.multiplier = Some("100".into());
        let i = Instrument::from_spec(InstrumentId(0), &s).unwrap();
        // 3 contracts × 100 USD ÷ 30000 = 0.01 BTC exactly.
        let n = i.notional(i.parse_price("30000").unwrap(), i.parse_qty("3").unwrap(), Rounding::Down).unwrap();
        assert_eq!(n, Notional::parse("0.01").unwrap());
        // 1 × 100 ÷ 30000.5 is not exact: down and up differ by one unit.
        let p = i.parse_price("30000.5").unwrap();
        let q = i.parse_qty("1").unwrap();
        let down = i.notional(p, q, Rounding::Down).unwrap();
        let up = i.notional(p, q, Rounding::Up).unwrap();
        assert_eq!(up.units() - down.units(), 1);
    }

    #[test]
    fn qty_for_notional_rounds_down_to_lot() {
        let i = Instrument::from_spec(InstrumentId(0), &spec(InstrumentKind::Spot, "0.01", "0.001")).unwrap();
        let q = i.qty_for_notional(i.parse_price("100").unwrap(), Notional::parse("10.05").unwrap()).unwrap();
        assert_eq!(i.qty_text(q).as_str(), "0.100");
    }

    #[test]
    fn bad_specs_name_the_field() {
        let e = Instrument::from_spec(InstrumentId(0), &spec(InstrumentKind::Spot, "0", "1")).unwrap_err();
        assert!(e.to_string().starts_with("tick_size:"), "{e}");
        let e = Instrument::from_spec(InstrumentId(0), &spec(InstrumentKind::Spot, "0.01", "abc")).unwrap_err();
        assert!(e.to_string().contains("lot_size") && e.to_string().contains("abc"), "{e}");
        let mut s = spec(InstrumentKind::Spot, "0.01", "0.01");
        s.min_qty = Some("0.015".into());
        let e = Instrument::from_spec(InstrumentId(0), &s).unwrap_err();
        assert!(e.to_string().starts_with("min_qty:"), "{e}");
        let mut reg = InstrumentRegistry::new();
        reg.add(&spec(InstrumentKind::Spot, "0.01", "0.01")).unwrap();
        assert!(matches!(reg.add(&spec(InstrumentKind::Spot, "0.01", "0.01")), Err(InstrumentError::Duplicate { .. })));
        assert_eq!(reg.find(Venue::Binance, "BTCUSDT").unwrap().id(), InstrumentId(0));
    }
}
