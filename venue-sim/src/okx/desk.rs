//! What OKX's order entry keeps beside the shared market, behind one short lock ([`Desk`]):
//! orders acknowledged and then cancelled by the venue (a post-only order that would take, a
//! fill-or-kill that cannot fill: the market refuses them, OKX acks them with `sCode` 0 and then
//! pushes `canceled` with a `cancelSource`), the private sessions listening for those, the
//! per-account rate-limit windows, and which orders were reduce-only.
//!
//! Held only for bookkeeping; never calls into the market while held.

use crate::kit::order_marks::OrderMarks;
use crate::market::OrderView;
use crossbeam_channel::{Receiver, Sender};
use qt_core::AccountId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Acknowledged-then-cancelled orders kept per account for queries.
const REFUSED_KEPT: usize = 1000;
/// Reduce-only orders remembered.
const REDUCE_ONLY_KEPT: usize = 100_000;

/// An order OKX acknowledged and then cancelled itself, with its `cancelSource`.
#[derive(Debug, Clone)]
pub(super) struct Refused {
    pub(super) view: OrderView,
    pub(super) cancel_source: &'static str,
}

/// The rate-limited endpoint groups (`NOTES-orders.md` §3; "Rate limit" of each endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Route {
    Place,
    Cancel,
    CancelBatch,
    Order,
    Pending,
    Fills,
    Balance,
    Positions,
}

impl Route {
    /// Requests (cancel-batch: orders) allowed per 2 s window per user (place and cancel also
    /// per instrument at OKX; per user here, the stricter reading).
    pub(super) fn limit(self) -> usize {
        match self {
            Route::Place | Route::Cancel | Route::Order | Route::Pending | Route::Fills => 60,
            Route::CancelBatch => 300,
            Route::Balance | Route::Positions => 10,
        }
    }
}

/// The rate-limit window, ms.
pub(super) const WINDOW_MS: i64 = 2000;

#[derive(Debug, Default)]
struct State {
    refused: HashMap<AccountId, VecDeque<Arc<Refused>>>,
    listeners: Vec<(AccountId, Sender<Arc<Refused>>)>,
    windows: HashMap<(AccountId, Route), VecDeque<i64>>,
}

/// The venue's own bookkeeping.
#[derive(Debug)]
pub(super) struct Desk {
    state: Mutex<State>,
    pub(super) reduce_only: OrderMarks,
}

impl Default for Desk {
    fn default() -> Self {
        Self { state: Mutex::new(State::default()), reduce_only: OrderMarks::new(REDUCE_ONLY_KEPT) }
    }
}

impl Desk {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a refused order and tells the account's private sessions.
    pub(super) fn refuse(&self, account: AccountId, r: Refused) {
        let r = Arc::new(r);
        let mut st = self.lock();
        let kept = st.refused.entry(account).or_default();
        if kept.len() == REFUSED_KEPT {
            kept.pop_front();
        }
        kept.push_back(r.clone());
        st.listeners.retain(|(a, tx)| *a != account || tx.send(r.clone()).is_ok());
    }

    /// A refused order of `account` on `symbol` by venue id or client id.
    pub(super) fn find(
        &self,
        account: AccountId,
        symbol: usize,
        ord_id: Option<u64>,
        cl: Option<&str>,
    ) -> Option<Refused> {
        let st = self.lock();
        let kept = st.refused.get(&account)?;
        kept.iter()
            .rev()
            .find(|r| {
                r.view.symbol == symbol
                    && match (ord_id, cl) {
                        (Some(id), _) => r.view.venue_order_id == id,
                        (None, Some(c)) => r.view.client_order_id == c,
                        (None, None) => false,
                    }
            })
            .map(|r| (**r).clone())
    }

    /// A channel of `account`'s refused orders.
    pub(super) fn listen(&self, account: AccountId) -> Receiver<Arc<Refused>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.lock().listeners.push((account, tx));
        rx
    }

    /// Spends `n` of `route`'s window at `now`; `false` (nothing spent) past the limit.
    pub(super) fn admit(&self, account: AccountId, route: Route, n: usize, now: i64) -> bool {
        let mut st = self.lock();
        let w = st.windows.entry((account, route)).or_default();
        while w.front().is_some_and(|t| *t <= now - WINDOW_MS) {
            w.pop_front();
        }
        if w.len() + n > route.limit() {
            return false;
        }
        w.extend(std::iter::repeat_n(now, n));
        true
    }
}
