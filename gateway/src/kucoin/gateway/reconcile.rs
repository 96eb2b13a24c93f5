//! Reconciliation on the gateway thread: the due order queries
//! (`GET /api/v1/hf/orders/client-order/{clientOid}?symbol=`, which answers for open and
//! recently closed orders alike) that settle an order of unknown fate (an unanswered new
//! order is queried, never sent again), a gap in the private stream (a drop, a malformed
//! frame, a trade not listed yet) or a cancel without an answer. When the venue filled more
//! than was reported, the order's trades are listed (`hf/fills`) and booked each with its own
//! fee before the order's state is applied; only what the list does not give is booked from
//! the order's cumulative figures (`dealSize`, `dealFunds`, `fee`).
//!
//! The order document's fields (`id`, `size`, `dealSize`, `dealFunds`, `fee`, `feeCurrency`,
//! `active`, `lastUpdatedAt`) are [DOC] (`testdata/kucoin/orders/rest_hf_order_detail_response.json`).
//!
//! Cold paths: each query blocks the thread for at most the request timeout; allocates.

use super::{Gateway, api_error};
use crate::kit::order_state::{NOT_FOUND_LIMIT, QueryReason, Reconcile, ReportsClosed, VenueFigures, VenueState};
use crate::kit::rest_link::{Req, SignedRest};
use crate::kucoin::errors::is_unknown_order;
use crate::kucoin::limits;
use crate::kucoin::rest::{envelope, venue_order_id};
use qt_core::{Clock as _, Nanos, Notional, OrderId, Qty, RejectReason, ReportKind, WallClock};
use serde_json::Value;
use std::time::Instant;

/// What a query's order document says (the fields used).
#[derive(Debug)]
pub(super) struct OrderDoc {
    /// KuCoin's order id.
    pub(super) id: String,
    /// The order's size.
    pub(super) size: Qty,
    /// `dealSize`.
    pub(super) cum: Qty,
    /// `dealFunds`.
    pub(super) value: Option<Notional>,
    /// `fee` (positive when charged), when in `quote`.
    pub(super) fee: Option<Notional>,
    /// `active`: still working.
    pub(super) active: bool,
    /// `lastUpdatedAt`.
    pub(super) ts: Nanos,
}

/// Reads an order document (`data` of a query) on `inst`'s grid; the error names the field.
pub(super) fn parse_order_doc(inst: &qt_core::Instrument, d: &Value) -> Result<OrderDoc, String> {
    let text = |k: &str| d.get(k).and_then(Value::as_str).ok_or_else(|| format!("{k} missing"));
    let qty = |k: &str| -> Result<Qty, String> {
        let t = text(k)?;
        inst.parse_qty(t).map_err(|e| format!("{k} {t:?}: {e}"))
    };
    let money = |k: &str| d.get(k).and_then(Value::as_str).and_then(|t| Notional::parse(t).ok());
    let fee_ccy = d.get("feeCurrency").and_then(Value::as_str).unwrap_or("");
    Ok(OrderDoc {
        id: text("id")?.to_string(),
        size: qty("size")?,
        cum: qty("dealSize")?,
        value: money("dealFunds"),
        fee: money("fee").filter(|_| fee_ccy.is_empty() || fee_ccy == inst.quote()),
        active: d.get("active").and_then(Value::as_bool).ok_or("active missing")?,
        ts: Nanos(d.get("lastUpdatedAt").and_then(Value::as_i64).unwrap_or(0).saturating_mul(1_000_000)),
    })
}

impl Gateway {
    pub(super) fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        let venue_ms = self.core.link.time.venue_ms();
        let due =
            self.core.state.due_within_limits(now, &mut self.core.link.limits, self.core.accounts.len(), venue_ms);
        for r in &due {
            self.reconcile(*r)?;
            self.tidy(r.order_id);
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
        let path = self.client_oid_path(order_id);
        let query = format!("symbol={}", self.instruments[idx].symbol());
        self.core.state.stats.reconciliations += 1;
        let req = Req { method: "GET", path: &path, query: &query, body: "", cost: limits::QUERY };
        let Ok(resp) = self.signed(acct, req) else {
            self.core.state.retry(order_id, false);
            return Ok(());
        };
        let (code, msg) = api_error(&resp);
        if is_unknown_order(code, &msg) {
            return self.not_found(order_id);
        }
        let doc = envelope(&resp)
            .filter(|e| resp.status == 200 && e.is_ok())
            .map(|e| parse_order_doc(&self.instruments[idx], &e.data));
        let doc = match doc {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.core.state.stats.malformed += 1;
                log::warn!("kucoin gateway: query of order {order_id}: unreadable ({e}): {}", resp.body_excerpt());
                self.core.state.retry(order_id, false);
                return Ok(());
            }
            None => {
                log::warn!("kucoin gateway: query of order {order_id}: HTTP {}: {}", resp.status, resp.body_excerpt());
                self.core.state.retry(order_id, false);
                return Ok(());
            }
        };
        self.core.state.settled(order_id);
        self.kucoin_ids.insert(order_id, doc.id.clone());
        let venue_id = venue_order_id(&doc.id);
        if self.core.state.get(&order_id).is_some_and(|o| doc.cum > o.cum_qty) {
            self.core.state.ensure_accepted(order_id, venue_id, WallClock.now())?;
            if self.book_listed(acct, order_id, idx, None)? != super::stream_events::Listed::Booked {
                log::warn!("kucoin gateway: order {order_id}: its fills could not be listed; booking its totals");
            }
        }
        let state = match (doc.active, doc.cum.is_positive()) {
            (true, false) => VenueState::Working,
            (true, true) => VenueState::PartiallyFilled,
            (false, _) if doc.cum >= doc.size => VenueState::Filled,
            (false, _) => VenueState::Closed { refused: self.refused_unseen(order_id) },
        };
        let figures =
            VenueFigures { venue_order_id: venue_id, cum: doc.cum, value: doc.value, fee: doc.fee, ts: doc.ts };
        self.core.state.apply_venue_state(order_id, &self.instruments[idx], state, figures, true, "kucoin")?;
        if job.reason == QueryReason::CancelUnknown && self.core.state.contains(&order_id) {
            // Still working: the cancel did not happen.
            if let Some(r) = self.core.state.order_report(order_id, ReportKind::CancelRejected(RejectReason::Other)) {
                return self.core.state.emit(r);
            }
        }
        Ok(())
    }

    /// The venue does not know `order_id` (open or among its recent closed orders): an order
    /// it acknowledged is left (logged); one it never did is rejected after
    /// [`NOT_FOUND_LIMIT`] such answers (it never reached the venue).
    #[cold]
    fn not_found(&mut self, order_id: OrderId) -> Result<(), ReportsClosed> {
        let accepted = self.core.state.get(&order_id).is_some_and(|o| o.accepted);
        if accepted {
            log::warn!("kucoin gateway: order {order_id} is live here but unknown to the venue");
            self.core.state.settled(order_id);
            return Ok(());
        }
        if self.core.state.retry(order_id, true) >= NOT_FOUND_LIMIT {
            log::warn!("kucoin gateway: order {order_id} never reached the venue; reporting it rejected");
            return self.core.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::Venue;
    use qt_test_support::TestInstrument;

    /// The documented order detail reads to its figures.
    #[test]
    fn the_documented_order_detail_reads() {
        let inst =
            TestInstrument::spot(Venue::Kucoin, "BTC-USDT").assets("BTC", "USDT").tick("0.1").lot("0.00001").build(0);
        let doc: Value =
            serde_json::from_str(include_str!("../../../../testdata/kucoin/orders/rest_hf_order_detail_response.json"))
                .unwrap();
        let d = parse_order_doc(&inst, &doc["data"]).unwrap();
        assert_eq!((d.id.as_str(), d.active), ("6717422bd51c29000775ea03", false));
        let q = inst.parse_qty("0.00001").unwrap();
        assert_eq!((d.size, d.cum), (q, q));
        assert_eq!(d.value, Some(Notional::parse("0.677176").unwrap()));
        assert_eq!(d.fee, Some(Notional::parse("0.000677176").unwrap()));
        assert_eq!(d.ts, Nanos(1_729_577_515_481_000_000));
        assert!(parse_order_doc(&inst, &serde_json::json!({"id": "x"})).unwrap_err().contains("size"));
    }
}
