//! What becomes of Firi orders, by polling (Firi has no private stream): each account with live
//! orders is polled every `poll_every`, and at once when the kit's schedule says so (a new
//! order or a cancel without an answer, a cancel-all, a refused cancel).
//!
//! One poll of an account, in this order (so no fill can slip between the steps):
//! 1. `GET /v2/orders` — the active orders. An order of ours listed there is working.
//! 2. Claims — an order whose placing got no answer has no venue id: it is the listed order
//!    (active, else among `GET /v2/orders/history`) of the same market, side, price and amount
//!    that no live or finished order of ours has; Firi takes no client order id, so this is the
//!    only link (an identical order placed by hand at the same time could be taken for it).
//!    Not found [`NOT_FOUND_LIMIT`] times, [`NOT_FOUND_RETRY`](crate::kit::order_state) apart:
//!    it never arrived, `Rejected(Other)`. It is never re-sent.
//! 3. `GET /v2/history/trades?count=<fills_page>` — the account's newest fills; each fill of a
//!    live order is reported once (de-duplicated by its trade id through the kit's order
//!    state) with its own price, amount and fee.
//! 4. Closures — an order of ours no longer active was filled or cancelled before step 1, so all
//!    its fills were listed in step 3: `GET /v2/order/{id}` gives `matched`/`remaining`; what
//!    the fill page missed is booked from `matched` (fee unknown, logged and counted), then
//!    the order ends `Canceled` (something remained) or is filled.
//!
//! A body that cannot be read is counted (`malformed`) and the poll ends; the next one starts
//! over. Polls are cold work: none runs while the limiter backs off (after a 429) or an account
//! is near a limit.
//!
//! Runs on the gateway thread; each request blocks it for at most the request timeout;
//! allocates.

use super::gateway::{Gateway, ORDERS_PATH};
use crate::firi::rest::REQUEST;
use crate::firi::wire::{FiriFill, FiriOrder, parse_fill, parse_order};
use crate::kit::order_state::{QueryReason, ReportsClosed, TradeCheck, TradeId, VenueFigures, VenueState};
use crate::kit::rest_link::{Req, signed_resyncing};
use qt_core::{Clock as _, Liquidity, Notional, OrderId, RejectReason, ReportKind, Rounding, WallClock};
use serde_json::Value;
use std::time::{Duration, Instant};

/// "Not listed" answers before an order of unknown fate is declared never placed (Firi cannot
/// be asked by client id, so a few more looks than the kit's default).
pub(crate) const NOT_FOUND_LIMIT: u32 = 5;
/// Orders of the history asked for when claiming.
const HISTORY_PAGE: usize = 100;
const TRADES_PATH: &str = "/v2/history/trades";
const HISTORY_PATH: &str = "/v2/orders/history";

impl Gateway {
    /// Runs the polls due at `now`: those the schedule asks for, and every account with live
    /// orders whose interval passed. Returns how many ran.
    pub(crate) fn run_polls(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        let venue_ms = self.core.link.time.venue_ms();
        let n = self.core.accounts.len();
        let due = self.core.state.due_within_limits(now, &mut self.core.link.limits, n, venue_ms);
        let mut accounts: Vec<usize> = Vec::new();
        for r in &due {
            let acct = self.core.state.get(&r.order_id).and_then(|o| self.core.account(o.request.account));
            match acct {
                Some(a) if !accounts.contains(&a) => accounts.push(a),
                Some(_) => {}
                None => self.core.state.settled(r.order_id),
            }
        }
        if !self.core.link.limits.backing_off(now) {
            for acct in 0..n {
                let live = self.core.account_id(acct).is_some_and(|id| !self.core.state.of_account(id).is_empty());
                let near = self.core.link.limits.near_limit(now, acct, venue_ms);
                if live && now >= self.next_poll[acct] && !near && !accounts.contains(&acct) {
                    accounts.push(acct);
                }
            }
        }
        // A poll answers every query of its account that is due, even one the limiter put off
        // (a periodic poll near a limit must not starve it).
        let due = if accounts.is_empty() { due } else { self.core.state.due(now) };
        for &acct in &accounts {
            self.next_poll[acct] = now + self.poll_every;
            self.poll(acct, &due)?;
        }
        Ok(accounts.len())
    }

    /// A signed GET of a list; `None` (logged, a bad body counted) when there is none.
    fn list(&mut self, acct: usize, path: &str, query: &str) -> Option<Vec<Value>> {
        let req = Req { method: "GET", path, query, body: "", cost: REQUEST };
        let resp = signed_resyncing(self, acct, req).ok()?;
        if resp.status != 200 {
            log::warn!("firi gateway: GET {path}: HTTP {}: {}", resp.status, resp.body_excerpt());
            return None;
        }
        match serde_json::from_slice::<Value>(&resp.body) {
            Ok(Value::Array(list)) => Some(list),
            _ => {
                self.core.state.stats.malformed += 1;
                log::warn!("firi gateway: GET {path}: unreadable answer: {}", resp.body_excerpt());
                None
            }
        }
    }

    /// Reads every order of a list; `None` (counted) if any cannot be read.
    fn orders(&mut self, list: &[Value], what: &str) -> Option<Vec<FiriOrder>> {
        let parsed: Result<Vec<FiriOrder>, String> = list.iter().map(|v| parse_order(v, &self.instruments)).collect();
        parsed
            .map_err(|e| {
                self.core.state.stats.malformed += 1;
                log::warn!("firi gateway: {what}: unreadable order: {e}");
            })
            .ok()
    }

    /// Polls account index `acct` (steps in the module doc); `due` are the scheduled queries.
    fn poll(&mut self, acct: usize, due: &[crate::kit::order_state::Reconcile]) -> Result<(), ReportsClosed> {
        let Some(account) = self.core.account_id(acct) else { return Ok(()) };
        let mine: Vec<OrderId> = due
            .iter()
            .map(|r| r.order_id)
            .filter(|id| self.core.state.get(id).is_some_and(|o| o.request.account == account))
            .collect();
        self.core.state.stats.reconciliations += mine.len() as u64;
        let failed = |g: &mut Self| {
            for id in &mine {
                g.core.state.retry(*id, false);
            }
            Ok(())
        };
        let Some(active) = self.list(acct, ORDERS_PATH, "") else { return failed(self) };
        let Some(active) = self.orders(&active, "active orders") else { return failed(self) };
        if !self.claim(acct, account, &active, due)? {
            return failed(self);
        }
        let query = format!("count={}", self.fills_page);
        let Some(trades) = self.list(acct, TRADES_PATH, &query) else { return failed(self) };
        let fills: Result<Vec<FiriFill>, String> = trades.iter().map(|v| parse_fill(v, &self.instruments)).collect();
        let fills = match fills {
            Ok(f) => f,
            Err(e) => {
                self.core.state.stats.malformed += 1;
                log::warn!("firi gateway: fills: unreadable fill: {e}");
                return failed(self);
            }
        };
        // Newest first on the wire: booked oldest first.
        for f in fills.iter().rev() {
            let owner = self
                .core
                .state
                .of_account(account)
                .into_iter()
                .find(|id| self.core.state.get(id).is_some_and(|o| o.venue_order_id == f.order_id));
            if let Some(order_id) = owner {
                self.book(order_id, f)?;
            }
        }
        for order_id in self.core.state.of_account(account) {
            let Some(o) = self.core.state.get(&order_id) else { continue };
            let venue_id = o.venue_order_id;
            if venue_id == 0 {
                continue;
            }
            if active.iter().any(|a| a.id == venue_id) && self.ioc.contains(&order_id) {
                // An IOC still working (found by a claim, or its cancel went unanswered).
                self.cancel_ioc(acct, order_id)?;
            } else if active.iter().any(|a| a.id == venue_id) {
                let cancel_unknown = self
                    .core
                    .state
                    .pending()
                    .iter()
                    .any(|r| r.order_id == order_id && r.reason == QueryReason::CancelUnknown);
                self.core.state.settled(order_id);
                if cancel_unknown
                    && let Some(r) =
                        self.core.state.order_report(order_id, ReportKind::CancelRejected(RejectReason::Other))
                {
                    // Still working: the cancel did not happen.
                    self.core.state.emit(r)?;
                }
            } else {
                self.close(acct, order_id, venue_id)?;
            }
        }
        let state = &self.core.state;
        self.ioc.retain(|id| state.contains(id));
        Ok(())
    }

    /// Step 2: gives each live order without a venue id the listed order it must be; false when
    /// the history could not be read.
    fn claim(
        &mut self,
        acct: usize,
        account: qt_core::AccountId,
        active: &[FiriOrder],
        due: &[crate::kit::order_state::Reconcile],
    ) -> Result<bool, ReportsClosed> {
        let unknown: Vec<OrderId> = self
            .core
            .state
            .of_account(account)
            .into_iter()
            .filter(|id| self.core.state.get(id).is_some_and(|o| o.venue_order_id == 0))
            .collect();
        if unknown.is_empty() {
            return Ok(true);
        }
        let mut candidates = active.to_vec();
        let query = format!("count={HISTORY_PAGE}");
        let Some(history) = self.list(acct, HISTORY_PATH, &query) else { return Ok(false) };
        let Some(history) = self.orders(&history, "order history") else { return Ok(false) };
        candidates.extend(history);
        let mut taken: Vec<u64> = self
            .core
            .state
            .of_account(account)
            .iter()
            .filter_map(|id| self.core.state.get(id).map(|o| o.venue_order_id))
            .filter(|id| *id != 0)
            .collect();
        for order_id in unknown {
            let Some(o) = self.core.state.get(&order_id) else { continue };
            let (req, idx) = (o.request, self.by_id.get(&o.request.instrument).copied());
            let found = candidates.iter().find(|c| {
                Some(c.inst) == idx
                    && c.side == req.side
                    && c.price == req.price
                    && c.amount == req.qty
                    && !taken.contains(&c.id)
                    && !self.done.contains(&c.id)
            });
            match found {
                Some(c) => {
                    log::info!("firi gateway: order {order_id} found at the venue as {}", c.id);
                    taken.push(c.id);
                    self.core.state.ensure_accepted(order_id, c.id, WallClock.now())?;
                }
                // Not listed (again): one more "does not exist" answer.
                None if due.iter().any(|r| r.order_id == order_id)
                    && self.core.state.retry(order_id, true) >= NOT_FOUND_LIMIT =>
                {
                    log::warn!("firi gateway: order {order_id} never reached the venue; reporting it rejected");
                    let kind = ReportKind::Rejected(RejectReason::Other);
                    self.core.state.finish_order(order_id, kind, WallClock.now())?;
                }
                None => {}
            }
        }
        Ok(true)
    }

    /// Reports fill `f` of `order_id` unless its trade id was seen.
    fn book(&mut self, order_id: OrderId, f: &FiriFill) -> Result<(), ReportsClosed> {
        let inst = &self.instruments[f.inst];
        let Some(o) = self.core.state.get_mut(&order_id) else { return Ok(()) };
        if o.request.instrument != inst.id() {
            self.core.state.stats.malformed += 1;
            log::warn!("firi gateway: fill {} of order {order_id} is on another market", f.id);
            return Ok(());
        }
        let cum = o.cum_qty.checked_add(f.qty).unwrap_or(o.cum_qty);
        if o.check_trade(Some(TradeId::Text(f.id.clone())), f.qty, cum) == TradeCheck::Duplicate {
            return Ok(());
        }
        let quote = inst.notional(f.price, f.qty, Rounding::Nearest).unwrap_or(Notional::ZERO);
        let liquidity = if f.maker { Liquidity::Maker } else { Liquidity::Taker };
        self.core.state.fill(order_id, f.price, f.qty, f.fee, liquidity, WallClock.now(), quote)
    }

    /// Step 4: `order_id` (venue id `venue_id`) is no longer active; asks for it and ends it.
    fn close(&mut self, acct: usize, order_id: OrderId, venue_id: u64) -> Result<(), ReportsClosed> {
        let path = format!("/v2/order/{venue_id}");
        let req = Req { method: "GET", path: &path, query: "", body: "", cost: REQUEST };
        let resp = match signed_resyncing(self, acct, req) {
            Ok(r) => r,
            Err(_) => {
                self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
                self.core.state.retry(order_id, false);
                return Ok(());
            }
        };
        if resp.status == 404 {
            log::warn!("firi gateway: order {order_id} ({venue_id}) is live here but unknown to the venue; ending it");
            self.mark_done(venue_id);
            return self.core.state.finish_order(order_id, ReportKind::Canceled, WallClock.now());
        }
        let doc = serde_json::from_slice::<Value>(&resp.body).ok().filter(|_| resp.status == 200);
        let parsed = doc.map(|d| parse_order(&d, &self.instruments));
        match parsed {
            Some(Ok(doc)) => self.finish_from(order_id, &doc),
            other => {
                if let Some(Err(e)) = other {
                    self.core.state.stats.malformed += 1;
                    log::warn!("firi gateway: order {order_id}: unreadable: {e}");
                } else {
                    log::warn!("firi gateway: order {order_id}: HTTP {}: {}", resp.status, resp.body_excerpt());
                }
                self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
                self.core.state.retry(order_id, false);
                Ok(())
            }
        }
    }

    /// Ends `order_id` as `doc` (no longer active) says: what its fills missed booked from
    /// `matched`, then filled or `Canceled`.
    pub(crate) fn finish_from(&mut self, order_id: OrderId, doc: &FiriOrder) -> Result<(), ReportsClosed> {
        self.mark_done(doc.id);
        let inst = self.instruments[doc.inst].clone();
        let state = if doc.remaining.is_positive() { VenueState::Closed { refused: None } } else { VenueState::Filled };
        let f = VenueFigures { venue_order_id: doc.id, cum: doc.matched, value: None, fee: None, ts: WallClock.now() };
        self.core.state.apply_venue_state(order_id, &inst, state, f, true, "firi")?;
        self.core.state.settled(order_id);
        Ok(())
    }

    /// A `200` answer to a cancel (the order after it): ends the order when every fill is
    /// booked, else polls the account at once (its fills first).
    pub(crate) fn after_cancel(
        &mut self,
        _acct: usize,
        order_id: OrderId,
        resp: &crate::kit::http::Response,
    ) -> Result<(), ReportsClosed> {
        let doc = serde_json::from_slice::<Value>(&resp.body).ok();
        let parsed = doc.map(|d| parse_order(&d, &self.instruments));
        let reported = self.core.state.get(&order_id).map(|o| o.cum_qty);
        match (parsed, reported) {
            (Some(Ok(doc)), Some(cum)) if doc.matched <= cum && doc.remaining.is_positive() => {
                self.finish_from(order_id, &doc)
            }
            (Some(Err(e)), _) => {
                self.core.state.stats.malformed += 1;
                log::warn!("firi gateway: cancel of {order_id}: unreadable answer: {e}");
                self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
                Ok(())
            }
            _ => {
                self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
                Ok(())
            }
        }
    }
}
