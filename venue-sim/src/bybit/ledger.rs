//! The venue's own bookkeeping per account: closed orders (including ones the engine refused after
//! an acknowledgement), fees per order, and the state behind one mutex ([`VenueState`]).

use super::CLOSED_ORDERS_KEPT;
use super::rest::Route;
use super::wire::Category;
use crate::market::{AccountEvent, ExecKind, Market, OrderStatus, OrderView};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use qt_core::{AccountId, Instrument, Notional};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// The venue's own bookkeeping: order ledgers, rate-limit windows, listeners
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
pub(super) struct VenueState {
    pub(super) ledgers: HashMap<AccountId, AccountLedger>,
    pub(super) limiter: HashMap<(AccountId, Route, Option<Category>), VecDeque<i64>>,
    pub(super) listeners: Vec<(AccountId, Sender<Arc<OrderRecord>>)>,
}

/// An order as Bybit reports it: the market's view plus what only Bybit says.
#[derive(Debug, Clone)]
pub(super) struct OrderRecord {
    pub(super) view: OrderView,
    /// `rejectReason` (`EC_NoError` for ordinary orders).
    pub(super) reject_reason: &'static str,
    /// `orderStatus` of an acknowledged-then-refused order.
    pub(super) status_override: Option<&'static str>,
    /// `reduceOnly` (set from the venue's marks when the record is written out).
    pub(super) reduce_only: bool,
}

impl OrderRecord {
    pub(super) fn plain(view: OrderView) -> Self {
        Self { view, reject_reason: "EC_NoError", status_override: None, reduce_only: false }
    }
}

/// What one account's REST answers need beyond the market's state: fees per order (the
/// market's order view has none) and recently closed orders, from the account's events.
#[derive(Debug, Default)]
pub(super) struct AccountLedger {
    pub(super) events: Option<Receiver<Arc<AccountEvent>>>,
    /// `(trade id, fee)` per `(symbol, venue order id)`.
    pub(super) fills: HashMap<(usize, u64), Vec<(u64, Notional)>>,
    /// Closed orders, oldest first, at most [`CLOSED_ORDERS_KEPT`] per category.
    pub(super) closed: VecDeque<OrderRecord>,
}

pub(super) fn is_closed(s: OrderStatus) -> bool {
    matches!(s, OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected)
}

impl AccountLedger {
    pub(super) fn drain(&mut self, market: &Market, account: AccountId) {
        let mut events = Vec::new();
        let mut lost = false;
        if let Some(rx) = &self.events {
            loop {
                match rx.try_recv() {
                    Ok(ev) => events.push(ev),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        lost = true;
                        break;
                    }
                }
            }
        }
        for ev in events {
            self.apply(market.instruments(), &ev);
        }
        if lost || self.events.is_none() {
            // Dropped by the market after falling a whole backlog behind: listen again.
            self.events = market.subscribe_account(account);
        }
    }

    pub(super) fn apply(&mut self, instruments: &[Instrument], ev: &AccountEvent) {
        let AccountEvent::Order { exec, order } = ev else { return };
        if let ExecKind::Trade(fill) = exec {
            self.fills.entry((order.symbol, order.venue_order_id)).or_default().push((fill.trade_id, fill.fee));
        }
        if is_closed(order.status) {
            self.close(instruments, OrderRecord::plain(order.clone()));
        }
    }

    pub(super) fn close(&mut self, instruments: &[Instrument], rec: OrderRecord) {
        let key = (rec.view.symbol, rec.view.venue_order_id);
        if let Some(existing) = self.closed.iter_mut().find(|r| (r.view.symbol, r.view.venue_order_id) == key) {
            *existing = rec;
            return;
        }
        let cat_of = |r: &OrderRecord| instruments.get(r.view.symbol).and_then(|i| Category::of(i.kind()));
        let cat = cat_of(&rec);
        self.closed.push_back(rec);
        if self.closed.iter().filter(|r| cat_of(r) == cat).count() > CLOSED_ORDERS_KEPT
            && let Some(pos) = self.closed.iter().position(|r| cat_of(r) == cat)
            && let Some(old) = self.closed.remove(pos)
        {
            self.fills.remove(&(old.view.symbol, old.view.venue_order_id));
        }
    }

    /// Fees of an order's fills, all of them or those up to trade id `upto`.
    pub(super) fn fee(&self, symbol: usize, venue_order_id: u64, upto: Option<u64>) -> Notional {
        self.fills.get(&(symbol, venue_order_id)).map_or(Notional::ZERO, |fills| {
            fills
                .iter()
                .filter(|(t, _)| upto.is_none_or(|u| *t <= u))
                .fold(Notional::ZERO, |acc, (_, f)| acc.checked_add(*f).unwrap_or(acc))
        })
    }
}
