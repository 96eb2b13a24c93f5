//! Reconciliation on the gateway thread: the due order queries that settle an order of unknown
//! fate, a gap in the private stream (a drop, a malformed frame) or a cancel without an answer.
//! An order is looked up by our `cl_ord_id` — `OpenOrders` (`cl_ord_id` filter), then
//! `ClosedOrders` — so an order whose AddOrder answer was lost is found without its txid. When
//! the venue filled more than was reported, `TradesHistory` books each missed trade with its
//! own id (the stream's `exec_id`), price and fee before the order's state is applied; only if
//! that fails is the rest booked from the order's totals (`vol_exec`, `cost`, `fee`).
//!
//! Cold paths: each query blocks the thread for at most the request timeout; allocates.

use super::Gateway;
use super::events::Trade;
use crate::kit::order_state::{NOT_FOUND_LIMIT, QueryReason, Reconcile, ReportsClosed, VenueFigures, VenueState};
use crate::kraken::limits;
use crate::kraken::rest::{
    CLOSED_ORDERS_PATH, ClOrdId, OPEN_ORDERS_PATH, TRADES_HISTORY_PATH, envelope, venue_order_id,
};
use qt_core::{Clock as _, Notional, OrderId, RejectReason, ReportKind, WallClock};
use serde_json::Value;
use std::time::Instant;

/// What a lookup found.
enum Lookup {
    /// The order's txid and its document (OpenOrders / ClosedOrders shape).
    Order(String, Value),
    /// Neither open nor closed.
    Absent,
    /// The venue could not be asked, or its answer not read.
    Failed,
}

fn text<'a>(doc: &'a Value, field: &str) -> &'a str {
    doc.get(field).and_then(Value::as_str).unwrap_or("")
}

impl Gateway {
    pub(super) fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        let venue_ms = self.core.link.time.venue_ms();
        let due =
            self.core.state.due_within_limits(now, &mut self.core.link.limits, self.core.accounts.len(), venue_ms);
        for r in &due {
            self.reconcile(*r)?;
        }
        Ok(due.len())
    }

    /// `cl`'s order in `path`'s answer (`open` or `closed` map).
    fn lookup_in(&mut self, acct: usize, path: &'static str, key: &str, cl: &str) -> Lookup {
        let Ok(resp) = self.post(acct, path, &format!("cl_ord_id={cl}"), limits::QUERY) else { return Lookup::Failed };
        let result = match envelope(&resp.body) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("kraken gateway: {path} for {cl}: {e}");
                return Lookup::Failed;
            }
        };
        let Some(map) = result.get(key).and_then(Value::as_object) else {
            self.core.state.stats.malformed += 1;
            return Lookup::Failed;
        };
        map.iter()
            .find(|(_, o)| text(o, "cl_ord_id") == cl)
            .map_or(Lookup::Absent, |(txid, o)| Lookup::Order(txid.clone(), o.clone()))
    }

    /// Books the trades of order `txid` (our `order_id`) that TradesHistory lists and this
    /// gateway has not reported, oldest first; false when the list could not be had.
    #[cold]
    fn recover_fills(&mut self, acct: usize, order_id: OrderId, idx: usize, txid: &str) -> Result<bool, ReportsClosed> {
        let Ok(resp) = self.post(acct, TRADES_HISTORY_PATH, "", limits::HISTORY) else { return Ok(false) };
        let Some(trades) = envelope(&resp.body).ok().and_then(|r| r.get("trades").and_then(Value::as_object).cloned())
        else {
            log::warn!("kraken gateway: trades of order {order_id}: {}", resp.body_excerpt());
            return Ok(false);
        };
        let mut mine: Vec<(&String, &Value)> = trades.iter().filter(|(_, t)| text(t, "ordertxid") == txid).collect();
        let time = |t: &Value| t.get("time").and_then(Value::as_f64).unwrap_or(0.0);
        mine.sort_by(|a, b| time(a.1).total_cmp(&time(b.1)));
        let quote = self.instruments[idx].quote().to_owned();
        for (id, t) in mine {
            let fees = [(quote.clone(), text(t, "fee").to_owned())];
            let maker = t.get("maker").and_then(Value::as_bool).unwrap_or(false);
            let trade = Trade { id, qty: text(t, "vol"), px: text(t, "price"), fees: &fees, maker };
            match self.book_trade(order_id, idx, &trade, None) {
                Ok(r) => r?,
                Err(what) => {
                    self.core.state.stats.malformed += 1;
                    log::warn!("kraken gateway: trades of order {order_id}: {what}");
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    #[cold]
    fn reconcile(&mut self, job: Reconcile) -> Result<(), ReportsClosed> {
        let order_id = job.order_id;
        let Some(o) = self.core.state.get(&order_id) else {
            self.core.state.settled(order_id);
            return Ok(());
        };
        let (Some(acct), Some(&idx)) = (self.core.account(o.request.account), self.by_id.get(&o.request.instrument))
        else {
            self.core.state.settled(order_id);
            return Ok(());
        };
        let cl = ClOrdId::new(self.core.run_id, order_id);
        self.core.state.stats.reconciliations += 1;
        let found = match self.lookup_in(acct, OPEN_ORDERS_PATH, "open", cl.as_str()) {
            Lookup::Absent => self.lookup_in(acct, CLOSED_ORDERS_PATH, "closed", cl.as_str()),
            other => other,
        };
        let (txid, doc) = match found {
            Lookup::Order(txid, doc) => (txid, doc),
            Lookup::Failed => {
                self.core.state.retry(order_id, false);
                return Ok(());
            }
            Lookup::Absent => {
                if self.core.state.get(&order_id).is_some_and(|o| o.accepted) {
                    log::warn!("kraken gateway: order {order_id} is live here but unknown to the venue");
                    self.core.state.settled(order_id);
                    return Ok(());
                }
                if self.core.state.retry(order_id, true) >= NOT_FOUND_LIMIT {
                    log::warn!("kraken gateway: order {order_id} never reached the venue; reporting it rejected");
                    let kind = ReportKind::Rejected(RejectReason::Other);
                    return self.core.state.finish_order(order_id, kind, WallClock.now());
                }
                return Ok(());
            }
        };
        let inst = &self.instruments[idx];
        let Ok(cum) = inst.parse_qty(text(&doc, "vol_exec")) else {
            self.core.state.stats.malformed += 1;
            log::warn!("kraken gateway: query of order {order_id}: unreadable vol_exec: {doc}");
            self.core.state.retry(order_id, false);
            return Ok(());
        };
        self.core.state.settled(order_id);
        let venue_id = venue_order_id(&txid);
        let now = WallClock.now();
        if self.core.state.get(&order_id).is_some_and(|o| cum > o.cum_qty) {
            self.core.state.ensure_accepted(order_id, venue_id, now)?;
            if !self.recover_fills(acct, order_id, idx, &txid)? {
                log::warn!("kraken gateway: order {order_id}: its trades could not be listed; booking its totals");
            }
        }
        let state = match text(&doc, "status") {
            "pending" | "open" if cum.is_zero() => VenueState::Working,
            "pending" | "open" => VenueState::PartiallyFilled,
            "closed" => VenueState::Filled,
            "canceled" | "expired" => VenueState::Closed { refused: None },
            other => {
                log::debug!("kraken gateway: order status {other:?} of order {order_id} ignored");
                return Ok(());
            }
        };
        let value = Notional::parse(text(&doc, "cost")).ok();
        let fee = Notional::parse(text(&doc, "fee")).ok();
        let figures = VenueFigures { venue_order_id: venue_id, cum, value, fee, ts: now };
        self.core.state.apply_venue_state(order_id, &self.instruments[idx], state, figures, true, "kraken")?;
        if job.reason == QueryReason::CancelUnknown && self.core.state.contains(&order_id) {
            // Still working: the cancel did not happen.
            if let Some(r) = self.core.state.order_report(order_id, ReportKind::CancelRejected(RejectReason::Other)) {
                return self.core.state.emit(r);
            }
        }
        Ok(())
    }
}
