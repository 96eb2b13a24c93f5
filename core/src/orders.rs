//! The core thread's table of working orders and their state machine.
//!
//! Order ids increase by one per order; an order lives in slot `id % capacity` of a table
//! allocated at start-up. When that slot is still taken by an older working order the id is
//! skipped (ids stay unique and increasing); when no slot is free within `capacity` tries the
//! table is full and the order is refused locally. Reports move an order through
//! `PendingNew → Working → (PartiallyFilled) → done`, where done (filled, cancelled, rejected)
//! frees the slot. A report that contradicts the state (unknown id, overfill) is refused and
//! counted by the caller — never a panic. No allocation after construction.

use crate::ids::{AccountId, InstrumentId, OrderId};
use crate::money::Qty;
use crate::order::{OrderRequest, ReportKind};
use crate::time::Nanos;

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Sent, not yet acknowledged.
    PendingNew,
    /// Acknowledged and working, nothing filled.
    Working,
    /// Partly filled and still working.
    PartiallyFilled,
    /// A cancel was sent.
    PendingCancel,
}

/// A working order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveOrder {
    /// Our id.
    pub id: OrderId,
    /// What was sent.
    pub request: OrderRequest,
    /// State.
    pub status: OrderStatus,
    /// Filled so far.
    pub cum_qty: Qty,
    /// Venue's id once known.
    pub venue_order_id: u64,
    /// Monotonic time it was sent.
    pub sent_local_ns: Nanos,
}

/// What applying a report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The order is still working.
    Updated,
    /// The order is done and its slot freed.
    Done,
}

/// A report the table could not apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// No working order has this id.
    UnknownOrder,
    /// A fill beyond the order's quantity.
    Overfill,
}

/// Fixed-capacity table of working orders.
#[derive(Debug, Clone)]
pub struct OrderTable {
    slots: Vec<Option<LiveOrder>>,
    next_id: u64,
    live: usize,
}

impl OrderTable {
    /// A table holding at most `capacity` working orders.
    pub fn new(capacity: usize) -> Self {
        Self { slots: vec![None; capacity.max(1)], next_id: 1, live: 0 }
    }

    /// Number of working orders.
    #[inline]
    pub fn live(&self) -> usize {
        self.live
    }

    /// Registers a new order and returns its id, or `None` if the table is full.
    #[inline]
    pub fn insert(&mut self, request: OrderRequest, sent_local_ns: Nanos) -> Option<OrderId> {
        let cap = self.slots.len() as u64;
        for _ in 0..cap {
            let id = self.next_id;
            self.next_id += 1;
            let slot = &mut self.slots[(id % cap) as usize];
            if slot.is_none() {
                *slot = Some(LiveOrder {
                    id: OrderId(id),
                    request,
                    status: OrderStatus::PendingNew,
                    cum_qty: Qty::ZERO,
                    venue_order_id: 0,
                    sent_local_ns,
                });
                self.live += 1;
                return Some(OrderId(id));
            }
        }
        None
    }

    /// The id the next order gets (ids are never reused).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Makes the next id at least `next` (never lowers it): a restarted engine continues in an
    /// id range no earlier run used, so client order ids stay unique across restarts.
    pub fn skip_ids_to(&mut self, next: u64) {
        self.next_id = self.next_id.max(next);
    }

    /// Removes an order that was never sent (its queue was full).
    #[inline]
    pub fn forget(&mut self, id: OrderId) {
        if let Some(slot) = self.slot_mut(id) {
            *slot = None;
            self.live -= 1;
        }
    }

    #[inline]
    fn slot_mut(&mut self, id: OrderId) -> Option<&mut Option<LiveOrder>> {
        let cap = self.slots.len() as u64;
        let slot = &mut self.slots[(id.0 % cap) as usize];
        match slot {
            Some(o) if o.id == id => Some(slot),
            _ => None,
        }
    }

    /// The working order with `id`.
    #[inline]
    pub fn get(&self, id: OrderId) -> Option<&LiveOrder> {
        let cap = self.slots.len() as u64;
        self.slots[(id.0 % cap) as usize].as_ref().filter(|o| o.id == id)
    }

    /// Marks a cancel as sent.
    pub fn mark_pending_cancel(&mut self, id: OrderId) -> bool {
        match self.slot_mut(id) {
            Some(Some(o)) => {
                o.status = OrderStatus::PendingCancel;
                true
            }
            _ => false,
        }
    }

    /// Applies a venue report for `id`.
    #[inline]
    pub fn apply(
        &mut self,
        id: OrderId,
        kind: ReportKind,
        venue_order_id: u64,
        last_qty: Qty,
        leaves_qty: Qty,
    ) -> Result<Transition, TableError> {
        let slot = self.slot_mut(id).ok_or(TableError::UnknownOrder)?;
        let Some(order) = slot.as_mut() else { return Err(TableError::UnknownOrder) };
        if venue_order_id != 0 {
            order.venue_order_id = venue_order_id;
        }
        let done = match kind {
            ReportKind::Accepted => {
                if order.status == OrderStatus::PendingNew {
                    order.status = OrderStatus::Working;
                }
                false
            }
            ReportKind::Fill => {
                let cum = order.cum_qty.checked_add(last_qty).map_err(|_| TableError::Overfill)?;
                if cum > order.request.qty {
                    return Err(TableError::Overfill);
                }
                order.cum_qty = cum;
                if order.status != OrderStatus::PendingCancel {
                    order.status = OrderStatus::PartiallyFilled;
                }
                cum == order.request.qty || leaves_qty.is_zero()
            }
            ReportKind::Canceled | ReportKind::Rejected(_) => true,
            ReportKind::CancelRejected(_) => {
                if order.status == OrderStatus::PendingCancel {
                    order.status =
                        if order.cum_qty.is_zero() { OrderStatus::Working } else { OrderStatus::PartiallyFilled };
                }
                false
            }
        };
        if done {
            *slot = None;
            self.live -= 1;
            Ok(Transition::Done)
        } else {
            Ok(Transition::Updated)
        }
    }

    /// Working orders of `account` on `instrument`.
    pub fn count_for(&self, account: AccountId, instrument: InstrumentId) -> usize {
        self.iter().filter(|o| o.request.account == account && o.request.instrument == instrument).count()
    }

    /// All working orders (in slot order).
    pub fn iter(&self) -> impl Iterator<Item = &LiveOrder> {
        self.slots.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StrategyId;
    use crate::money::Price;
    use crate::order::{OrderType, RejectReason, Side, TimeInForce};

    fn req(qty: i64) -> OrderRequest {
        OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Price::from_units(100),
            qty: Qty::from_units(qty),
            reduce_only: false,
            stop_price: None,
        }
    }

    #[test]
    fn life_cycle_and_slot_reuse() {
        let mut t = OrderTable::new(2);
        let a = t.insert(req(10), Nanos(1)).unwrap();
        let b = t.insert(req(10), Nanos(1)).unwrap();
        assert_eq!(t.insert(req(10), Nanos(1)), None, "full");
        assert_eq!(t.apply(a, ReportKind::Accepted, 77, Qty::ZERO, Qty::from_units(10)), Ok(Transition::Updated));
        assert_eq!(t.get(a).unwrap().status, OrderStatus::Working);
        assert_eq!(t.apply(a, ReportKind::Fill, 0, Qty::from_units(4), Qty::from_units(6)), Ok(Transition::Updated));
        assert_eq!(t.get(a).unwrap().status, OrderStatus::PartiallyFilled);
        assert_eq!(t.apply(a, ReportKind::Fill, 0, Qty::from_units(7), Qty::ZERO), Err(TableError::Overfill));
        assert_eq!(t.apply(a, ReportKind::Fill, 0, Qty::from_units(6), Qty::ZERO), Ok(Transition::Done));
        assert!(t.get(a).is_none());
        assert_eq!(t.apply(a, ReportKind::Fill, 0, Qty::from_units(1), Qty::ZERO), Err(TableError::UnknownOrder));
        let c = t.insert(req(5), Nanos(2)).unwrap();
        assert!(c.0 > b.0, "ids keep increasing");
        assert_eq!(
            t.apply(b, ReportKind::Rejected(RejectReason::PriceFilter), 0, Qty::ZERO, Qty::ZERO),
            Ok(Transition::Done)
        );
        assert_eq!(t.live(), 1);
        t.forget(c);
        assert_eq!(t.live(), 0);
    }

    #[test]
    fn ids_skip_forward_only_and_slots_still_map() {
        let mut t = OrderTable::new(4);
        let a = t.insert(req(1), Nanos(0)).unwrap();
        t.skip_ids_to(1 << 40);
        t.skip_ids_to(5);
        let b = t.insert(req(1), Nanos(0)).unwrap();
        assert_eq!(a, OrderId(1));
        assert!(b.0 >= 1 << 40 && b.0 < (1 << 40) + 4, "{b:?}");
        assert_eq!(t.next_id(), b.0 + 1);
        assert!(t.get(a).is_some() && t.get(b).is_some());
    }

    #[test]
    fn cancel_rejected_restores_state() {
        let mut t = OrderTable::new(4);
        let a = t.insert(req(10), Nanos(1)).unwrap();
        t.apply(a, ReportKind::Accepted, 1, Qty::ZERO, Qty::from_units(10)).unwrap();
        assert!(t.mark_pending_cancel(a));
        t.apply(a, ReportKind::CancelRejected(RejectReason::UnknownOrder), 0, Qty::ZERO, Qty::ZERO).unwrap();
        assert_eq!(t.get(a).unwrap().status, OrderStatus::Working);
        assert_eq!(t.count_for(AccountId(0), InstrumentId(0)), 1);
        assert_eq!(t.count_for(AccountId(1), InstrumentId(0)), 0);
    }
}
