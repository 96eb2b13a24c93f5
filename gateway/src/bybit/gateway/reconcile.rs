//! Reconciliation on the gateway thread: the due order queries (`GET /v5/order/realtime` by
//! `orderLinkId`, which answers for open and recently closed orders alike) that settle an order
//! of unknown fate, a gap in the private stream or a cancel without an answer. The answer goes
//! through the same order-state logic as an `order` push
//! ([`Gateway::apply_order`](super::Gateway)).
//!
//! Cold paths: each query blocks the thread for at most the request timeout; allocates.

use super::stream_events::OrderEntry;
use super::{Gateway, REALTIME_PATH};
use crate::bybit::limits;
use crate::bybit::rest::envelope;
use crate::kit::order_state::{NOT_FOUND_LIMIT, QueryReason, Reconcile, ReportsClosed};
use crate::kit::rest_link::{Req, SignedRest};
use qt_core::{Clock as _, RejectReason, ReportKind, WallClock};
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
            "category={}&symbol={}&orderLinkId={}",
            self.categories[idx].name(),
            self.instruments[idx].symbol(),
            self.core.client_order_id(order_id).as_str()
        );
        self.core.state.stats.reconciliations += 1;
        let req = Req { method: "GET", path: REALTIME_PATH, query: &query, body: "", cost: limits::QUERY };
        let Ok(resp) = self.signed(acct, req) else {
            self.core.state.retry(order_id, false);
            return Ok(());
        };
        let env = envelope(&resp).filter(|e| resp.status == 200 && e.code == 0);
        let Some(env) = env else {
            log::warn!("bybit gateway: query of order {order_id}: HTTP {}: {}", resp.status, resp.body_excerpt());
            self.core.state.retry(order_id, false);
            return Ok(());
        };
        let first = env.result.get("list").and_then(|l| l.as_array()).and_then(|l| l.first()).cloned();
        let Some(first) = first else {
            // Not known to the venue (open or among its recent closed orders).
            let accepted = self.core.state.get(&order_id).is_some_and(|o| o.accepted);
            if accepted {
                log::warn!("bybit gateway: order {order_id} is live here but unknown to the venue");
                self.core.state.settled(order_id);
                return Ok(());
            }
            if self.core.state.retry(order_id, true) >= NOT_FOUND_LIMIT {
                log::warn!("bybit gateway: order {order_id} never reached the venue; reporting it rejected");
                return self.core.state.finish_order(
                    order_id,
                    ReportKind::Rejected(RejectReason::Other),
                    WallClock.now(),
                );
            }
            return Ok(());
        };
        let entry = match serde_json::from_value::<OrderEntry>(first) {
            Ok(e) => e,
            Err(e) => {
                self.core.state.stats.malformed += 1;
                log::warn!("bybit gateway: query of order {order_id}: unreadable ({e}): {}", resp.body_excerpt());
                self.core.state.retry(order_id, false);
                return Ok(());
            }
        };
        self.core.state.settled(order_id);
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
