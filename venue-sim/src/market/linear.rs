//! The derivative side of [`Market`]: each account's one-way [`Position`] per derivative symbol
//! ([`LinearBook`]), moved by fills under the market's lock (realized PnL and fees booked to the
//! quote asset's balance, one [`AccountEvent::Position`] per fill), the reduce-only check, the
//! mark price (the mid), and funding ([`Market::book_funding`]).
//!
//! Runs under the market's lock on simulator threads; allocates per event.

use super::positions::Position;
use super::{AccountEvent, AccountState, BalanceView, FillView, Market};
use qt_core::{AccountId, Clock as _, Instrument, InstrumentKind, Nanos, Notional, Qty, Rate, Side, WallClock};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Realized PnL remembered per trade (for trade lists and order events), per account.
const REALIZED_KEPT: usize = 100_000;

/// What moved a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionReason {
    /// A fill of the account's order.
    Fill {
        /// The trade.
        trade_id: u64,
        /// PnL the fill realized, before fees.
        realized: Notional,
        /// Its commission.
        fee: Notional,
    },
    /// Funding at `rate`: `amount` booked to the balance (negative: paid).
    Funding {
        /// The funding rate.
        rate: Rate,
        /// What was booked.
        amount: Notional,
    },
}

/// One account's derivative positions and the realized PnL of its recent fills.
#[derive(Debug, Default)]
pub(super) struct LinearBook {
    positions: BTreeMap<usize, Position>,
    realized: HashMap<(usize, u64), Notional>,
    realized_order: VecDeque<(usize, u64)>,
}

impl LinearBook {
    /// Whether an order on `side` of `qty` only reduces the position on `symbol`.
    pub(super) fn reduces(&self, symbol: usize, side: Side, qty: Qty) -> bool {
        let Some(p) = self.positions.get(&symbol) else { return false };
        p.side() == Some(side.opposite()) && qty <= p.size()
    }
}

/// The margin balance of `inst` (its quote asset) of account `a`.
fn margin_balance(a: &AccountState, inst: &Instrument) -> BalanceView {
    let (free, locked) = a.balances.get(inst.quote()).copied().unwrap_or((Notional::ZERO, Notional::ZERO));
    BalanceView { asset: inst.quote().to_string(), free, locked }
}

/// Adds `amount` to the free balance of `asset`.
fn book(a: &mut AccountState, asset: &str, amount: Notional) {
    let b = a.balances.entry(asset.to_string()).or_insert((Notional::ZERO, Notional::ZERO));
    b.0 = b.0.checked_add(amount).unwrap_or(b.0);
}

/// Moves account `a`'s position on `symbol` by its fill (the order was on `side`), books the
/// realized PnL less the fee to the margin asset, and returns the event that says so.
pub(super) fn on_fill(
    a: &mut AccountState,
    inst: &Instrument,
    symbol: usize,
    side: Side,
    f: &FillView,
) -> AccountEvent {
    let pos = a.linear.positions.entry(symbol).or_insert_with(|| Position::flat(symbol));
    let realized = pos.apply_fill(inst, side, f.price, f.qty, f.ts);
    pos.fees = pos.fees.checked_add(f.fee).unwrap_or(pos.fees);
    let position = *pos;
    let lin = &mut a.linear;
    lin.realized.insert((symbol, f.trade_id), realized);
    lin.realized_order.push_back((symbol, f.trade_id));
    while lin.realized_order.len() > REALIZED_KEPT {
        if let Some(old) = lin.realized_order.pop_front() {
            lin.realized.remove(&old);
        }
    }
    book(a, inst.quote(), realized.checked_sub(f.fee).unwrap_or(realized));
    AccountEvent::Position {
        ts: f.ts,
        reason: PositionReason::Fill { trade_id: f.trade_id, realized, fee: f.fee },
        position,
        balance: margin_balance(a, inst),
    }
}

impl Market {
    /// The account's derivative positions (flat ones included once traded), by symbol index.
    pub fn positions(&self, account: AccountId) -> Vec<Position> {
        let st = self.lock();
        st.accounts.get(account.index()).map(|a| a.linear.positions.values().copied().collect()).unwrap_or_default()
    }

    /// The account's position on `symbol` (flat if it never traded it).
    pub fn position(&self, account: AccountId, symbol: usize) -> Position {
        let st = self.lock();
        st.accounts
            .get(account.index())
            .and_then(|a| a.linear.positions.get(&symbol).copied())
            .unwrap_or_else(|| Position::flat(symbol))
    }

    /// The PnL a recent fill of the account realized (`None` for spot fills or forgotten ones).
    pub fn trade_realized(&self, account: AccountId, symbol: usize, trade_id: u64) -> Option<Notional> {
        let st = self.lock();
        st.accounts.get(account.index()).and_then(|a| a.linear.realized.get(&(symbol, trade_id)).copied())
    }

    /// The mark price of `symbol`: the mid of the best bid and ask as `(units, scale)`, at one
    /// more decimal than the price grid so a half tick is exact. `None` with a side empty.
    pub fn mark_price(&self, symbol: usize) -> Option<(i128, u8)> {
        let snap = self.snapshot(symbol, 1)?;
        let inst = self.symbols.get(symbol)?;
        let (bid, ask) = (snap.bids.first()?.0.units(), snap.asks.first()?.0.units());
        Some(((i128::from(bid) + i128::from(ask)) * 5, inst.price_scale() + 1))
    }

    /// Books funding on derivative `symbol` at `rate` for every account holding a position
    /// there: `−rate × position value at the mark`, to the quote asset, each with an
    /// [`AccountEvent::Position`]. Returns how many accounts were charged or paid.
    pub fn book_funding(&self, symbol: usize, rate: Rate) -> usize {
        let Some(inst) = self.symbols.get(symbol) else { return 0 };
        if inst.kind() == InstrumentKind::Spot {
            return 0;
        }
        let Some(mark) = self.mark_price(symbol) else { return 0 };
        let ts: Nanos = WallClock.now();
        let mut st = self.lock();
        let mut n = 0;
        for a in &mut st.accounts {
            let Some(pos) = a.linear.positions.get_mut(&symbol) else { continue };
            if pos.qty == 0 {
                continue;
            }
            let amount = pos.funding_fee(inst, rate, mark);
            pos.funding = pos.funding.checked_add(amount).unwrap_or(pos.funding);
            pos.updated = ts;
            let position = *pos;
            book(a, inst.quote(), amount);
            let ev = Arc::new(AccountEvent::Position {
                ts,
                reason: PositionReason::Funding { rate, amount },
                position,
                balance: margin_balance(a, inst),
            });
            a.subscribers.retain(|tx| tx.try_send(ev.clone()).is_ok());
            n += 1;
        }
        n
    }
}
