//! `imbalance`: a small order-book-imbalance taker, the first strategy that really trades.
//!
//! On every consistent book update of its instrument it computes the depth imbalance of the
//! best `levels` levels, `(bid_qty − ask_qty) / (bid_qty + ask_qty)`, exactly in binary
//! fixed-point (`I32F32`; the ratio is a signal, not money). Above `+threshold` it buys `qty` at
//! the best ask, below `−threshold` it sells at the best bid, as IOC limit orders, keeping its
//! position within `±max_position`, one order in flight at a time and at most one order per
//! `cooldown`. Allocation-free; runs on the core thread.

use super::{Actions, MarketView, Strategy, StrategyAction};
use crate::event::MarketEvent;
use crate::ids::{AccountId, InstrumentId, StrategyId};
use crate::money::{Price, Qty};
use crate::order::{ExecutionReport, OrderRequest, OrderType, ReportKind, Side, TimeInForce};
use crate::time::Nanos;
use fixed::types::I32F32;

/// Parameters, on the instrument's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImbalanceParams {
    /// Order quantity (on the lot grid).
    pub qty: Qty,
    /// Largest absolute position the strategy builds.
    pub max_position: Qty,
    /// Imbalance that triggers an order, in `(0, 1)`.
    pub threshold: I32F32,
    /// Levels per side in the imbalance.
    pub levels: usize,
    /// Minimum domain time between orders.
    pub cooldown: Nanos,
}

/// The imbalance taker.
#[derive(Debug, Clone)]
pub struct ImbalanceTaker {
    id: StrategyId,
    name: &'static str,
    account: AccountId,
    instrument: [InstrumentId; 1],
    params: ImbalanceParams,
    in_flight: bool,
    last_order_at: Option<Nanos>,
}

impl ImbalanceTaker {
    /// The name accounts whitelist it by.
    pub const NAME: &'static str = "imbalance";

    /// A strategy instance.
    pub fn new(id: StrategyId, account: AccountId, instrument: InstrumentId, params: ImbalanceParams) -> Self {
        Self { id, name: Self::NAME, account, instrument: [instrument], params, in_flight: false, last_order_at: None }
    }

    /// `(bid − ask) / (bid + ask)` in binary fixed-point; `None` when both are zero.
    #[inline]
    pub fn imbalance(bid_qty: Qty, ask_qty: Qty) -> Option<I32F32> {
        let (b, a) = (i128::from(bid_qty.units()), i128::from(ask_qty.units()));
        let total = b + a;
        if total <= 0 {
            return None;
        }
        // |b − a| ≤ total, so the quotient is in [−2^32, 2^32] and fits I32F32's 64 bits.
        let bits = ((b - a) << 32) / total;
        i64::try_from(bits).ok().map(I32F32::from_bits)
    }

    fn order(&self, side: Side, price: Price, qty: Qty) -> OrderRequest {
        OrderRequest {
            account: self.account,
            strategy: self.id,
            instrument: self.instrument[0],
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
            price,
            qty,
            reduce_only: false,
            stop_price: None,
        }
    }
}

impl Strategy for ImbalanceTaker {
    fn name(&self) -> &str {
        self.name
    }

    fn account(&self) -> AccountId {
        self.account
    }

    fn instruments(&self) -> &[InstrumentId] {
        &self.instrument
    }

    fn on_market(&mut self, view: &MarketView<'_>, ev: &MarketEvent, out: &mut Actions) {
        if !ev.is_batch_end() || ev.instrument != self.instrument[0] || self.in_flight {
            return;
        }
        if let Some(last) = self.last_order_at
            && view.now.saturating_sub(last) < self.params.cooldown
        {
            return;
        }
        let Some(book) = view.book(ev.instrument) else { return };
        if !book.is_valid() {
            return;
        }
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else { return };
        let Some(imb) = Self::imbalance(
            book.qty_within(Side::Buy, self.params.levels),
            book.qty_within(Side::Sell, self.params.levels),
        ) else {
            return;
        };
        let position = view.position(self.account, ev.instrument).qty();
        let side = if imb > self.params.threshold {
            Side::Buy
        } else if imb < -self.params.threshold {
            Side::Sell
        } else {
            return;
        };
        let after = position.units().saturating_add(side.sign().saturating_mul(self.params.qty.units()));
        if after.unsigned_abs() > self.params.max_position.units().unsigned_abs() {
            return;
        }
        let price = if side == Side::Buy { ask.price } else { bid.price };
        if out.push(StrategyAction::Place(self.order(side, price, self.params.qty))) {
            self.in_flight = true;
            self.last_order_at = Some(view.now);
        }
    }

    fn on_report(&mut self, _view: &MarketView<'_>, report: &ExecutionReport, _out: &mut Actions) {
        let done = match report.kind {
            ReportKind::Fill => report.leaves_qty.is_zero(),
            ReportKind::Canceled | ReportKind::Rejected(_) => true,
            ReportKind::Accepted | ReportKind::CancelRejected(_) => false,
        };
        if done {
            self.in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imbalance_is_exact_binary_fixed_point() {
        let q = Qty::from_units;
        assert_eq!(ImbalanceTaker::imbalance(q(3), q(1)), Some(I32F32::from_num(0.5)));
        assert_eq!(ImbalanceTaker::imbalance(q(1), q(3)), Some(I32F32::from_num(-0.5)));
        assert_eq!(ImbalanceTaker::imbalance(q(5), q(0)), Some(I32F32::ONE));
        assert_eq!(ImbalanceTaker::imbalance(q(0), q(0)), None);
        assert_eq!(ImbalanceTaker::imbalance(Qty::MAX, Qty::MAX), Some(I32F32::ZERO));
    }
}
