//! Reconciliation on the gateway thread: the due order queries (`GET /api/v3/order`) that settle
//! an order of unknown fate, a gap in the user data stream or a cancel without an answer, and
//! the catch-up of what the venue filled without a stream event — each missing trade booked
//! with its real commission from `GET /api/v3/myTrades` ([`crate::binance::trades`]), or, when
//! the trade list cannot account for it, one fill with its fee unknown (logged and counted in
//! [`GatewayStats::fills_without_fee`](crate::binance::GatewayStats::fills_without_fee)).
//!
//! Cold paths of the gateway thread: each query blocks it for at most the request timeout;
//! allocates per query.

use super::{Gateway, QueryAnswer, RECONNECT_QUERY_DELAY, Req, inst_notional, ms_to_nanos};
use crate::binance::errors::CODE_NO_SUCH_ORDER;
use crate::binance::trades::{TradeFill, parse_trades, recovered_fills};
use crate::binance::user_stream::api_error;
use crate::kit::order_state::{NOT_FOUND_LIMIT, QueryReason, Reconcile, ReportsClosed};
use qt_core::money::{NOTIONAL_SCALE, div_round_i128};
use qt_core::{
    AccountId, ClientOrderId, Clock as _, Liquidity, Nanos, Notional, OrderId, Price, Qty, RejectReason, ReportKind,
    Rounding, WallClock,
};
use std::time::{Duration, Instant};

impl Gateway {
    pub(super) fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        let due = self.state.due(now);
        if due.is_empty() {
            return Ok(0);
        }
        // Near a limit (any account's) or backing off: queries are cold work and wait.
        let venue_ms = self.time.venue_ms();
        if (0..self.accounts.len().max(1)).any(|a| self.limits.near_limit(now, a, venue_ms)) {
            let until = self.limits.backoff_until().unwrap_or(now + Duration::from_secs(1));
            self.state.defer_all(until);
            return Ok(0);
        }
        for r in &due {
            self.reconcile(*r)?;
        }
        Ok(due.len())
    }

    /// Runs the pending gap queries of `account`'s orders now, waiting first until they are due
    /// (at most [`RECONNECT_QUERY_DELAY`]: the reconnected stream's subscription), so what its
    /// stream missed is reported before a new order of the account is sent.
    #[cold]
    pub(super) fn settle_gaps(&mut self, account: AccountId) -> Result<(), ReportsClosed> {
        let jobs: Vec<Reconcile> = self
            .state
            .pending()
            .iter()
            .filter(|r| {
                r.reason == QueryReason::Gap
                    && self.state.get(&r.order_id).is_some_and(|o| o.request.account == account)
            })
            .copied()
            .collect();
        let Some(latest) = jobs.iter().map(|r| r.due).max() else { return Ok(()) };
        let wait = latest.saturating_duration_since(Instant::now()).min(RECONNECT_QUERY_DELAY);
        log::info!(
            "{} gateway: settling {} order(s) of account {account} after a stream gap before a new order (waiting {wait:?})",
            self.d.log_name,
            jobs.len()
        );
        std::thread::sleep(wait);
        for job in jobs {
            self.reconcile(job)?;
        }
        Ok(())
    }

    #[cold]
    fn reconcile(&mut self, job: Reconcile) -> Result<(), ReportsClosed> {
        let Some(o) = self.state.get(&job.order_id) else {
            self.state.settled(job.order_id);
            return Ok(());
        };
        let (Some(&acct), Some(&idx)) =
            (self.account_index.get(&o.request.account), self.by_id.get(&o.request.instrument))
        else {
            self.state.settled(job.order_id);
            return Ok(());
        };
        let order_id = job.order_id;
        let symbol = self.instruments[idx].symbol().to_string();
        let client_id = ClientOrderId::new(self.run_id, order_id);
        self.state.stats.reconciliations += 1;
        let result = self.signed(
            acct,
            Req {
                method: "GET",
                path: self.d.order_path,
                encoded: "",
                params: &[("symbol", &symbol), ("origClientOrderId", client_id.as_str())],
                cost: self.d.costs.query_order,
            },
        );
        let retry = |g: &mut Self, not_found: bool| g.state.retry(order_id, not_found);
        let resp = match result {
            Ok(resp) => resp,
            Err(_) => {
                retry(self, false);
                return Ok(());
            }
        };
        if resp.status != 200 {
            let (code, msg) = api_error(&resp.body);
            if code == CODE_NO_SUCH_ORDER {
                let accepted = self.state.get(&order_id).is_some_and(|o| o.accepted);
                if accepted {
                    log::warn!(
                        "{} gateway: order {order_id} is live here but unknown to the venue ({msg:?})",
                        self.d.log_name
                    );
                    self.state.settled(order_id);
                    return Ok(());
                }
                if retry(self, true) >= NOT_FOUND_LIMIT {
                    log::warn!(
                        "{} gateway: order {order_id} never reached the venue; reporting it rejected",
                        self.d.log_name
                    );
                    return self.state.finish_order(
                        order_id,
                        ReportKind::Rejected(RejectReason::Other),
                        WallClock.now(),
                    );
                }
            } else {
                log::warn!(
                    "{} gateway: query of order {order_id}: HTTP {}, code {code}, {msg:?}",
                    self.d.log_name,
                    resp.status
                );
                retry(self, false);
            }
            return Ok(());
        }
        let answer = match serde_json::from_slice::<QueryAnswer>(&resp.body) {
            Ok(a) => a,
            Err(e) => {
                self.state.stats.malformed += 1;
                log::warn!(
                    "{} gateway: query of order {order_id}: unreadable ({e}): {}",
                    self.d.log_name,
                    resp.body_excerpt()
                );
                retry(self, false);
                return Ok(());
            }
        };
        let inst = &self.instruments[idx];
        let executed = match inst.parse_qty(&answer.executed_qty) {
            Ok(q) => q,
            Err(e) => {
                self.state.stats.malformed += 1;
                log::warn!("{} gateway: query of order {order_id}: executedQty: {e}", self.d.log_name);
                retry(self, false);
                return Ok(());
            }
        };
        let quote = Notional::parse(&answer.cum_quote).ok();
        let ts = ms_to_nanos(answer.update_time);
        self.state.settled(order_id);
        self.state.ensure_accepted(order_id, answer.order_id, ts)?;
        self.catch_up(order_id, executed, quote, ts)?;
        if !self.state.contains(&order_id) {
            return Ok(());
        }
        match answer.status.as_str() {
            "CANCELED" | "EXPIRED" | "EXPIRED_IN_MATCH" | "PENDING_CANCEL" => {
                self.state.finish_order(order_id, ReportKind::Canceled, ts)
            }
            "REJECTED" => self.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), ts),
            _ if job.reason == QueryReason::CancelUnknown => {
                // Still working: the cancel did not happen.
                let Some(r) = self.state.order_report(order_id, ReportKind::CancelRejected(RejectReason::Other)) else {
                    return Ok(());
                };
                self.state.emit(r)
            }
            _ => Ok(()),
        }
    }

    /// Reports what the venue filled beyond what was reported (`venue_cum`, with cumulative
    /// quote `venue_quote`): each missing trade on its own, with its real commission, from the
    /// order's trade list; if that list cannot account for the missing quantity, one fill at the
    /// average price of the missing part whose fee is unknown (zero, logged, counted).
    #[cold]
    pub(super) fn catch_up(
        &mut self,
        order_id: OrderId,
        venue_cum: Qty,
        venue_quote: Option<Notional>,
        ts: Nanos,
    ) -> Result<(), ReportsClosed> {
        let Some(o) = self.state.get(&order_id) else { return Ok(()) };
        let Some(&idx) = self.by_id.get(&o.request.instrument) else { return Ok(()) };
        let missing = venue_cum.checked_sub(o.cum_qty).unwrap_or(Qty::ZERO);
        if !missing.is_positive() {
            return Ok(());
        }
        let why = match self.missing_trades(order_id, idx, missing) {
            Ok(fills) => return self.report_trades(order_id, idx, &fills),
            Err(why) => why,
        };
        let Some(o) = self.state.get(&order_id) else { return Ok(()) };
        let inst = &self.instruments[idx];
        let missing_quote = venue_quote.and_then(|q| q.checked_sub(o.cum_quote).ok());
        // price = quote / qty, on the instrument's price grid.
        let scale_gap =
            u32::from(NOTIONAL_SCALE).saturating_sub(u32::from(inst.price_scale()) + u32::from(inst.qty_scale()));
        let price = missing_quote
            .and_then(|q| {
                let den = i128::from(missing.units()).checked_mul(10i128.checked_pow(scale_gap)?)?;
                div_round_i128(q.units(), den, Rounding::Nearest).ok()
            })
            .and_then(|p| i64::try_from(p).ok())
            .map(Price::from_units)
            .filter(|p| p.is_positive())
            .unwrap_or(o.request.price);
        log::warn!(
            "{} gateway: order {order_id}: {} filled at the venue without a stream event; its trades are \
             not known ({why}); reporting it at {} with its FEE UNKNOWN (booked as zero, counted as a fill \
             without fee)",
            self.d.log_name,
            inst.qty_text(missing),
            inst.price_text(price)
        );
        self.state.stats.fills_without_fee += 1;
        let quote = missing_quote.unwrap_or(Notional::ZERO);
        self.state.fill(order_id, price, missing, Notional::ZERO, Liquidity::Taker, ts, quote)
    }

    /// The order's unreported trades that make up `missing`, from `GET /api/v3/myTrades`
    /// (weight 5); the error says why they are not known.
    #[cold]
    fn missing_trades(&mut self, order_id: OrderId, idx: usize, missing: Qty) -> Result<Vec<TradeFill>, String> {
        let o = self.state.get(&order_id).ok_or("the order is no longer live")?;
        if o.venue_order_id == 0 {
            return Err("the venue's order id is not known".into());
        }
        let acct = *self.account_index.get(&o.request.account).ok_or("unknown account")?;
        let venue_order_id = o.venue_order_id;
        let (path, cost) = (self.d.trades_path, self.d.costs.trades);
        if !self.admit(acct, cost) {
            return Err("rate limited".into());
        }
        let symbol = self.instruments[idx].symbol().to_string();
        let id_text = venue_order_id.to_string();
        self.state.stats.trade_queries += 1;
        let resp = self
            .signed(
                acct,
                Req { method: "GET", path, encoded: "", params: &[("symbol", &symbol), ("orderId", &id_text)], cost },
            )
            .map_err(|e| format!("{path}: {e}"))?;
        if resp.status != 200 {
            let (code, msg) = api_error(&resp.body);
            return Err(format!("{path}: HTTP {}, code {code}, {msg:?}", resp.status));
        }
        let trades = parse_trades(&resp.body).map_err(|e| {
            self.state.stats.malformed += 1;
            format!("{e}: {}", resp.body_excerpt())
        })?;
        let seen = &self.state.get(&order_id).ok_or("the order is no longer live")?.trade_ids;
        recovered_fills(&self.instruments[idx], trades, venue_order_id, seen, missing)
    }

    /// Reports trades found by [`Self::missing_trades`] as fills, remembering their ids so the
    /// stream's late events for them are recognised as duplicates.
    #[cold]
    fn report_trades(&mut self, order_id: OrderId, idx: usize, fills: &[TradeFill]) -> Result<(), ReportsClosed> {
        for f in fills {
            let Some(o) = self.state.get_mut(&order_id) else { return Ok(()) };
            o.trade_ids.push(f.trade_id.into());
            self.state.stats.fills_fee_from_trades += 1;
            if f.fee_in_other_asset {
                self.state.stats.fees_not_in_quote += 1;
            }
            log::info!(
                "{} gateway: order {order_id}: trade {} ({} at {}, commission {}) found by query",
                self.d.log_name,
                f.trade_id,
                self.instruments[idx].qty_text(f.qty),
                self.instruments[idx].price_text(f.price),
                f.fee.to_text(qt_core::DecimalStyle::Trimmed)
            );
            let liquidity = if f.maker { Liquidity::Maker } else { Liquidity::Taker };
            let quote = inst_notional(&self.instruments[idx], f.price, f.qty);
            self.state.fill(order_id, f.price, f.qty, f.fee, liquidity, f.ts, quote)?;
        }
        Ok(())
    }
}
