//! Positions and PnL per account and instrument, exact.
//!
//! A [`Position`] keeps its signed quantity and the signed entry notional of that quantity (so
//! the average entry is exact: entry notional ÷ quantity), realized PnL and fees. Reducing a
//! position releases a proportional share of the entry notional (the one division, rounded to
//! nearest on the 10^-18 grid). Unrealized PnL is marked to a price, normally the book's mid.
//! Inverse contracts keep notionals in the base currency, where a long gains as the notional
//! *falls*. Owned by the core thread; preallocated per (account, instrument); no allocation.

use crate::ids::{AccountId, InstrumentId};
use crate::instrument::{Instrument, InstrumentKind};
use crate::money::{MoneyError, Notional, Price, Qty, Rounding, div_round_i128};
use crate::order::Side;

/// One account's position in one instrument.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    qty: Qty,
    entry_notional: Notional,
    realized: Notional,
    fees: Notional,
    traded_notional: Notional,
    funding: Notional,
    fills: u64,
}

impl Position {
    /// Signed quantity: positive long, negative short.
    #[inline]
    pub fn qty(&self) -> Qty {
        self.qty
    }

    /// Signed notional of the open quantity at its entry prices.
    #[inline]
    pub fn entry_notional(&self) -> Notional {
        self.entry_notional
    }

    /// Realized PnL before fees.
    #[inline]
    pub fn realized(&self) -> Notional {
        self.realized
    }

    /// Fees paid (negative = rebates received).
    #[inline]
    pub fn fees(&self) -> Notional {
        self.fees
    }

    /// Funding received (positive) or paid (negative) on a perpetual, included in
    /// [`Position::realized`].
    #[inline]
    pub fn funding(&self) -> Notional {
        self.funding
    }

    /// Books a funding payment: `amount` received (positive) or paid (negative) in settlement
    /// currency, as the venue settles it on a perpetual. It is realized PnL at once.
    pub fn apply_funding(&mut self, amount: Notional) -> Result<(), MoneyError> {
        self.realized = self.realized.checked_add(amount)?;
        self.funding = self.funding.checked_add(amount)?;
        Ok(())
    }

    /// Absolute notional traded.
    #[inline]
    pub fn traded_notional(&self) -> Notional {
        self.traded_notional
    }

    /// Number of fills.
    #[inline]
    pub fn fills(&self) -> u64 {
        self.fills
    }

    /// Whether there is an open quantity.
    #[inline]
    pub fn is_open(&self) -> bool {
        !self.qty.is_zero()
    }

    /// Applies a fill of `qty` (positive) on `side` at `price`, paying `fee`.
    pub fn apply_fill(
        &mut self,
        inst: &Instrument,
        side: Side,
        price: Price,
        qty: Qty,
        fee: Notional,
    ) -> Result<(), MoneyError> {
        let fill_sign = side.sign();
        let fill_notional = inst.notional(price, qty, Rounding::Nearest)?;
        self.traded_notional = self.traded_notional.checked_add(fill_notional.checked_abs()?)?;
        self.fees = self.fees.checked_add(fee)?;
        self.fills += 1;
        let pos_sign = self.qty.units().signum();
        if pos_sign == 0 || pos_sign == fill_sign {
            self.qty = self.qty.checked_add(qty.checked_mul_int(fill_sign)?)?;
            let signed = if fill_sign > 0 { fill_notional } else { fill_notional.checked_neg()? };
            self.entry_notional = self.entry_notional.checked_add(signed)?;
            return Ok(());
        }
        // Reducing (and perhaps flipping).
        let open = self.qty.checked_abs()?;
        let close = if qty < open { qty } else { open };
        let released = Notional::from_units(div_round_i128(
            self.entry_notional.units().checked_mul(i128::from(close.units())).ok_or(MoneyError::Overflow)?,
            i128::from(open.units()),
            Rounding::Nearest,
        )?);
        let exit = inst.notional(price, close, Rounding::Nearest)?;
        let exit = if pos_sign > 0 { exit } else { exit.checked_neg()? };
        let pnl = exit.checked_sub(released)?;
        let pnl = if inst.kind() == InstrumentKind::InversePerpetual { pnl.checked_neg()? } else { pnl };
        self.realized = self.realized.checked_add(pnl)?;
        self.entry_notional = self.entry_notional.checked_sub(released)?;
        self.qty = self.qty.checked_add(close.checked_mul_int(fill_sign)?)?;
        let rest = qty.checked_sub(close)?;
        if rest.is_positive() {
            // Flipped: the rest opens a position on the fill's side.
            let n = inst.notional(price, rest, Rounding::Nearest)?;
            self.qty = rest.checked_mul_int(fill_sign)?;
            self.entry_notional = if fill_sign > 0 { n } else { n.checked_neg()? };
        } else if self.qty.is_zero() {
            // Rounding residue of the entry notional belongs to realized PnL, not to a flat position.
            self.entry_notional = Notional::ZERO;
        }
        Ok(())
    }

    /// Unrealized PnL of the open quantity marked at `mark`.
    pub fn unrealized(&self, inst: &Instrument, mark: Price) -> Result<Notional, MoneyError> {
        if self.qty.is_zero() {
            return Ok(Notional::ZERO);
        }
        let value = inst.notional(mark, self.qty, Rounding::Nearest)?;
        let pnl = value.checked_sub(self.entry_notional)?;
        if inst.kind() == InstrumentKind::InversePerpetual { pnl.checked_neg() } else { Ok(pnl) }
    }

    /// Average entry price rounded to a whole price unit (display; spot and linear only).
    pub fn avg_entry(&self, inst: &Instrument) -> Option<Price> {
        if self.qty.is_zero() {
            return None;
        }
        let one = inst.notional(Price::from_units(1), self.qty, Rounding::Nearest).ok()?;
        let units = div_round_i128(self.entry_notional.units(), one.units(), Rounding::Nearest).ok()?;
        i64::try_from(units).ok().map(Price::from_units)
    }
}

/// One position as it stands after a fill or a funding payment, copied off the core thread
/// ([`PositionTap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionUpdate {
    /// Account.
    pub account: AccountId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// The position after the change.
    pub position: Position,
}

/// Where the core copies each changed position (a live run's periodic reconciliation reads
/// them): a bounded ring the core pushes to without waiting. A full ring drops the copy and
/// raises `lost` for good, so the reader knows its picture is incomplete rather than wrong.
#[derive(Debug)]
pub struct PositionTap {
    /// The ring (core → reader).
    pub ring: crate::queue::Producer<PositionUpdate>,
    /// Set (never cleared) when a copy could not be pushed.
    pub lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl PositionTap {
    /// A tap and its reader's end, `capacity` updates deep.
    pub fn new(
        capacity: usize,
    ) -> (Self, crate::queue::Consumer<PositionUpdate>, std::sync::Arc<std::sync::atomic::AtomicBool>) {
        let (ring, rx) = crate::queue::spsc(capacity);
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        (Self { ring, lost: lost.clone() }, rx, lost)
    }

    /// Pushes `update` without waiting; a full ring raises `lost`.
    #[inline]
    pub fn publish(&mut self, update: PositionUpdate) {
        if self.ring.push(update).is_err() {
            self.lost.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// All positions of a run: one slot per (account, instrument), allocated at start-up.
#[derive(Debug, Clone)]
pub struct PositionBook {
    instruments: usize,
    positions: Vec<Position>,
}

impl PositionBook {
    /// Flat positions for `accounts × instruments`.
    pub fn new(accounts: usize, instruments: usize) -> Self {
        Self { instruments, positions: vec![Position::default(); accounts * instruments] }
    }

    #[inline]
    fn slot(&self, account: AccountId, instrument: InstrumentId) -> Option<usize> {
        let i = instrument.index();
        (i < self.instruments).then(|| account.index() * self.instruments + i).filter(|s| *s < self.positions.len())
    }

    /// The position, if both ids are known.
    #[inline]
    pub fn get(&self, account: AccountId, instrument: InstrumentId) -> Option<&Position> {
        self.slot(account, instrument).map(|s| &self.positions[s])
    }

    /// The position, mutably.
    #[inline]
    pub fn get_mut(&mut self, account: AccountId, instrument: InstrumentId) -> Option<&mut Position> {
        self.slot(account, instrument).map(|s| &mut self.positions[s])
    }

    /// Number of accounts.
    pub fn accounts(&self) -> usize {
        self.positions.len().checked_div(self.instruments).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{InstrumentSpec, Venue};

    fn inst(kind: InstrumentKind, mult: Option<&str>) -> Instrument {
        Instrument::from_spec(
            InstrumentId(0),
            &InstrumentSpec {
                venue: Venue::Sim,
                symbol: "X".into(),
                base: "BTC".into(),
                quote: "USD".into(),
                kind,
                tick_size: "0.5".into(),
                lot_size: "0.001".into(),
                min_qty: None,
                min_notional: None,
                multiplier: mult.map(String::from),
                price_scale: None,
                qty_scale: None,
            },
        )
        .unwrap()
    }

    fn px(i: &Instrument, s: &str) -> Price {
        i.parse_price(s).unwrap()
    }
    fn qx(i: &Instrument, s: &str) -> Qty {
        i.parse_qty(s).unwrap()
    }
    fn n(s: &str) -> Notional {
        Notional::parse(s).unwrap()
    }

    #[test]
    fn long_round_trip_realizes_exactly() {
        let i = inst(InstrumentKind::Spot, None);
        let mut p = Position::default();
        p.apply_fill(&i, Side::Buy, px(&i, "100"), qx(&i, "1"), n("0.1")).unwrap();
        p.apply_fill(&i, Side::Buy, px(&i, "101"), qx(&i, "1"), n("0.1")).unwrap();
        assert_eq!(p.avg_entry(&i), Some(px(&i, "100.5")));
        assert_eq!(p.unrealized(&i, px(&i, "102")).unwrap(), n("3"));
        p.apply_fill(&i, Side::Sell, px(&i, "103"), qx(&i, "0.5"), n("0")).unwrap();
        assert_eq!(p.realized(), n("1.25"));
        p.apply_fill(&i, Side::Sell, px(&i, "99"), qx(&i, "1.5"), n("0")).unwrap();
        assert_eq!(p.realized(), n("-1"));
        assert!(!p.is_open());
        assert_eq!(p.entry_notional(), Notional::ZERO);
        assert_eq!(p.fees(), n("0.2"));
        assert_eq!(p.fills(), 4);
    }

    #[test]
    fn short_and_flip() {
        let i = inst(InstrumentKind::LinearPerpetual, Some("0.01"));
        let mut p = Position::default();
        // Sell 100 contracts × 0.01 at 200 → short notional 200.
        p.apply_fill(&i, Side::Sell, px(&i, "200"), qx(&i, "100"), Notional::ZERO).unwrap();
        assert_eq!(p.entry_notional(), n("-200"));
        assert_eq!(p.unrealized(&i, px(&i, "190")).unwrap(), n("10"));
        // Buy 150 at 190: close 100 (+10), open long 50 at 190.
        p.apply_fill(&i, Side::Buy, px(&i, "190"), qx(&i, "150"), Notional::ZERO).unwrap();
        assert_eq!(p.realized(), n("10"));
        assert_eq!(p.qty(), qx(&i, "50"));
        assert_eq!(p.entry_notional(), n("95"));
    }

    #[test]
    fn inverse_long_gains_when_price_rises() {
        let i = inst(InstrumentKind::InversePerpetual, Some("100"));
        let mut p = Position::default();
        p.apply_fill(&i, Side::Buy, px(&i, "20000"), qx(&i, "1"), Notional::ZERO).unwrap();
        // 100 USD at 20000 = 0.005 BTC; at 25000 = 0.004 BTC; long gains 0.001 BTC.
        assert_eq!(p.unrealized(&i, px(&i, "25000")).unwrap(), n("0.001"));
        p.apply_fill(&i, Side::Sell, px(&i, "25000"), qx(&i, "1"), Notional::ZERO).unwrap();
        assert_eq!(p.realized(), n("0.001"));
    }

    #[test]
    fn funding_is_realized_pnl() {
        let i = inst(InstrumentKind::LinearPerpetual, Some("1"));
        let mut p = Position::default();
        p.apply_fill(&i, Side::Buy, px(&i, "100"), qx(&i, "1"), Notional::ZERO).unwrap();
        p.apply_funding(n("-0.25")).unwrap();
        p.apply_funding(n("0.05")).unwrap();
        assert_eq!(p.funding(), n("-0.2"));
        assert_eq!(p.realized(), n("-0.2"));
        p.apply_fill(&i, Side::Sell, px(&i, "101"), qx(&i, "1"), Notional::ZERO).unwrap();
        assert_eq!(p.realized(), n("0.8"));
    }

    #[test]
    fn position_book_slots() {
        let mut b = PositionBook::new(2, 3);
        assert_eq!(b.accounts(), 2);
        assert!(b.get(AccountId(1), InstrumentId(2)).is_some());
        assert!(b.get(AccountId(2), InstrumentId(0)).is_none());
        assert!(b.get(AccountId(0), InstrumentId(3)).is_none());
        let i = inst(InstrumentKind::Spot, None);
        b.get_mut(AccountId(1), InstrumentId(2))
            .unwrap()
            .apply_fill(&i, Side::Buy, px(&i, "1"), qx(&i, "1"), Notional::ZERO)
            .unwrap();
        assert!(b.get(AccountId(1), InstrumentId(2)).unwrap().is_open());
        assert!(!b.get(AccountId(0), InstrumentId(2)).unwrap().is_open());
    }
}
