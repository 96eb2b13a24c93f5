//! Reconciliation on the gateway thread: the due order queries (`GET /api/v5/trade/order` by
//! `clOrdId`, which answers for open and recently closed orders alike) that settle an order of
//! unknown fate, a gap in the private stream (a drop, a malformed frame) or a cancel without an
//! answer. When the venue filled more than was reported, `GET /api/v5/trade/fills?ordId=`
//! books each missed trade with its own id, price and fee before the order's state is applied
//! through the same logic as a push ([`Gateway::apply_order`](super::Gateway)).
//!
//! Cold paths: each query blocks the thread for at most the request timeout; allocates.

use super::stream_events::{FillEntry, OrderEntry, Trade};
use super::{FILLS_PATH, Gateway, ORDER_PATH};
use crate::kit::order_state::{NOT_FOUND_LIMIT, QueryReason, Reconcile, ReportsClosed};
use crate::kit::rest_link::{Req, SignedRest};
use crate::okx::errors::CODE_NO_ORDER;
use crate::okx::limits;
use crate::okx::rest::envelope;
use qt_core::{Clock as _, OrderId, RejectReason, ReportKind, WallClock};
use std::time::Instant;

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

    /// Books the trades of `order_id` the venue lists and this gateway has not reported,
    /// oldest first; false when the list could not be had.
    #[cold]
    fn recover_fills(
        &mut self,
        acct: usize,
        order_id: OrderId,
        idx: usize,
        ord_id: &str,
    ) -> Result<bool, ReportsClosed> {
        let query = format!("instId={}&ordId={ord_id}", self.instruments[idx].symbol());
        let req = Req { method: "GET", path: FILLS_PATH, query: &query, body: "", cost: limits::QUERY };
        let Ok(resp) = self.signed(acct, req) else { return Ok(false) };
        let Some(env) = envelope(&resp).filter(|e| resp.status == 200 && e.code == "0") else {
            log::warn!("okx gateway: fills of order {order_id}: HTTP {}: {}", resp.status, resp.body_excerpt());
            return Ok(false);
        };
        let mut fills = Vec::new();
        for f in env.data {
            match serde_json::from_value::<FillEntry>(f) {
                Ok(f) => fills.push(f),
                Err(e) => {
                    self.core.state.stats.malformed += 1;
                    log::warn!("okx gateway: fills of order {order_id}: unreadable entry ({e})");
                    return Ok(false);
                }
            }
        }
        // Newest first on the wire.
        fills.sort_by_key(|f| (f.ts.parse::<i64>().unwrap_or(0), f.trade_id.parse::<i64>().unwrap_or(0)));
        for f in &fills {
            let t = Trade {
                id: &f.trade_id,
                qty: &f.fill_sz,
                px: &f.fill_px,
                fee: &f.fee,
                fee_ccy: &f.fee_ccy,
                maker: f.exec_type == "M",
                ts: &f.ts,
            };
            match self.book_trade(order_id, idx, &t, None) {
                Ok(r) => r?,
                Err(what) => {
                    self.core.state.stats.malformed += 1;
                    log::warn!("okx gateway: fills of order {order_id}: {what}");
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
        let query = format!(
            "instId={}&clOrdId={}",
            self.instruments[idx].symbol(),
            self.core.client_order_id(order_id).as_str()
        );
        self.core.state.stats.reconciliations += 1;
        let req = Req { method: "GET", path: ORDER_PATH, query: &query, body: "", cost: limits::QUERY };
        let Ok(resp) = self.signed(acct, req) else {
            self.core.state.retry(order_id, false);
            return Ok(());
        };
        let Some(env) = envelope(&resp) else {
            log::warn!("okx gateway: query of order {order_id}: HTTP {}: {}", resp.status, resp.body_excerpt());
            self.core.state.retry(order_id, false);
            return Ok(());
        };
        if env.code_num() == CODE_NO_ORDER {
            // Not known to the venue (open or among its recent closed orders).
            let accepted = self.core.state.get(&order_id).is_some_and(|o| o.accepted);
            if accepted {
                log::warn!("okx gateway: order {order_id} is live here but unknown to the venue");
                self.core.state.settled(order_id);
                return Ok(());
            }
            if self.core.state.retry(order_id, true) >= NOT_FOUND_LIMIT {
                log::warn!("okx gateway: order {order_id} never reached the venue; reporting it rejected");
                return self.core.state.finish_order(
                    order_id,
                    ReportKind::Rejected(RejectReason::Other),
                    WallClock.now(),
                );
            }
            return Ok(());
        }
        let first = env.data.first().cloned().filter(|_| resp.status == 200 && env.code == "0");
        let entry = first.map(serde_json::from_value::<OrderEntry>);
        let entry = match entry {
            Some(Ok(e)) => e,
            other => {
                if let Some(Err(e)) = other {
                    self.core.state.stats.malformed += 1;
                    log::warn!("okx gateway: query of order {order_id}: unreadable ({e}): {}", resp.body_excerpt());
                } else {
                    log::warn!("okx gateway: query of order {order_id}: HTTP {}: {}", resp.status, resp.body_excerpt());
                }
                self.core.state.retry(order_id, false);
                return Ok(());
            }
        };
        self.core.state.settled(order_id);
        let behind = self.instruments[idx]
            .parse_qty(&entry.acc_fill_sz)
            .is_ok_and(|cum| self.core.state.get(&order_id).is_some_and(|o| cum > o.cum_qty));
        if behind {
            self.core.state.ensure_accepted(
                order_id,
                crate::okx::rest::venue_order_id(&entry.ord_id),
                WallClock.now(),
            )?;
            if !self.recover_fills(acct, order_id, idx, &entry.ord_id)? {
                log::warn!("okx gateway: order {order_id}: its fills could not be listed; booking its totals");
            }
        }
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        self.apply_order(acct, order_id, idx, &entry, true, &text)?;
        if job.reason == QueryReason::CancelUnknown && self.core.state.contains(&order_id) {
            // Still working: the cancel did not happen.
            if let Some(r) = self.core.state.order_report(order_id, ReportKind::CancelRejected(RejectReason::Other)) {
                return self.core.state.emit(r);
            }
        }
        Ok(())
    }
}
