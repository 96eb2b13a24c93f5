//! The private stream's side of the gateway thread: each `executions` item moves our order —
//! `new` accepts it; a `trade` is a fill with its real fee (the `fees` in the quote currency),
//! de-duplicated by `exec_id` and by cumulative quantity through the kit's order state;
//! `filled`, `canceled` and `expired` end it. An order that ends (or shows more filled) beyond
//! the trades seen — a dropped stream, a malformed frame — is queried, so its missed trades are
//! booked from TradesHistory with their own fees. A frame that cannot be read is counted and
//! schedules a query of the account's live orders (the kit's `GatewayCore::malformed`); a
//! reconnect reconciles them before the account's next order (the shell's stream handling).
//!
//! Runs on the gateway thread; allocates per frame (JSON); never panics on a frame.

use super::Gateway;
use crate::kit::order_state::VenueState;
use crate::kit::order_state::{ORDER_GAP_QUERY_DELAY, QueryReason, ReportsClosed, TradeCheck, TradeId, VenueFigures};
use crate::kraken::executions::{ExecType, Execution, Frame, parse_frame};
use crate::kraken::rest::{ClOrdId, venue_order_id};
use qt_core::{Clock as _, Liquidity, Notional, OrderId, Qty, Rounding, WallClock};
use std::time::Duration;

/// One trade as the stream or TradesHistory reports it (decimal text as sent).
pub(super) struct Trade<'a> {
    /// `exec_id` / the trade txid.
    pub(super) id: &'a str,
    pub(super) qty: &'a str,
    pub(super) px: &'a str,
    /// `(asset, qty)` of each fee.
    pub(super) fees: &'a [(String, String)],
    pub(super) maker: bool,
}

impl Gateway {
    fn malformed(&mut self, acct: usize, what: &str, text: &str) {
        self.core.malformed("kraken", acct, what, text);
    }

    pub(crate) fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        let items = match parse_frame(text) {
            Ok(Frame::Executions { items, .. }) => items,
            Ok(_) => return Ok(()),
            Err(e) => {
                self.malformed(acct, &e.to_string(), text);
                return Ok(());
            }
        };
        for item in &items {
            self.on_execution(acct, item, text)?;
        }
        Ok(())
    }

    /// This run's live order named by `cl` of account `acct`; `None` otherwise (counted when
    /// `count`: an order's end arrives after its last fill ended it here, and is not counted).
    pub(super) fn live_order(&mut self, acct: usize, cl: Option<&str>, count: bool) -> Option<OrderId> {
        let (run, order_id) = ClOrdId::parse(cl?)?;
        if run != self.core.run_id {
            log::debug!("kraken gateway: event of run {run:08x}'s order {order_id} ignored");
            return None;
        }
        let Some(order) = self.core.state.get(&order_id) else {
            self.core.state.stats.unknown_order_events += u64::from(count);
            return None;
        };
        let account_ok = self.core.account_id(acct) == Some(order.request.account);
        account_ok.then_some(order_id)
    }

    fn on_execution(&mut self, acct: usize, e: &Execution, text: &str) -> Result<(), ReportsClosed> {
        let count = matches!(e.exec_type, ExecType::New | ExecType::Trade);
        let Some(order_id) = self.live_order(acct, e.cl_ord_id.as_deref(), count) else { return Ok(()) };
        let Some(idx) = self.core.state.get(&order_id).and_then(|o| self.by_id.get(&o.request.instrument).copied())
        else {
            return Ok(());
        };
        let venue_id = venue_order_id(&e.order_id);
        let cum = match e.cum_qty.as_deref().map(|c| self.instruments[idx].parse_qty(c)) {
            Some(Ok(q)) => Some(q),
            Some(Err(err)) => {
                self.malformed(acct, &format!("cum_qty: {err}"), text);
                return Ok(());
            }
            None => None,
        };
        let now = WallClock.now();
        match e.exec_type {
            ExecType::PendingNew | ExecType::Other => Ok(()),
            ExecType::New => {
                self.core.state.ensure_accepted(order_id, venue_id, now)?;
                self.behind(order_id, cum, ORDER_GAP_QUERY_DELAY);
                Ok(())
            }
            ExecType::Trade => {
                let Some(f) = &e.fill else { return Ok(()) };
                self.core.state.ensure_accepted(order_id, venue_id, now)?;
                let t = Trade { id: &f.exec_id, qty: &f.qty, px: &f.price, fees: &f.fees, maker: f.maker };
                match self.book_trade(order_id, idx, &t, cum) {
                    Ok(r) => r,
                    Err(what) => {
                        self.malformed(acct, &what, text);
                        Ok(())
                    }
                }
            }
            ExecType::Filled | ExecType::Canceled | ExecType::Expired => {
                self.core.state.ensure_accepted(order_id, venue_id, now)?;
                if self.behind(order_id, cum, Duration::ZERO) {
                    // Trades were missed: the query books them with their fees, then ends it.
                    return Ok(());
                }
                let state = if e.exec_type == ExecType::Filled {
                    VenueState::Filled
                } else {
                    VenueState::Closed { refused: None }
                };
                let cum = cum.or_else(|| self.core.state.get(&order_id).map(|o| o.cum_qty)).unwrap_or(Qty::ZERO);
                let figures = VenueFigures { venue_order_id: venue_id, cum, value: None, fee: None, ts: now };
                self.core.state.apply_venue_state(order_id, &self.instruments[idx], state, figures, false, "kraken")
            }
        }
    }

    /// Whether the venue's cumulative `cum` is beyond what was reported of `order_id`; if so the
    /// order is queried after `delay`.
    fn behind(&mut self, order_id: OrderId, cum: Option<Qty>, delay: Duration) -> bool {
        let behind = cum.is_some_and(|c| self.core.state.get(&order_id).is_some_and(|o| c > o.cum_qty));
        if behind {
            self.core.state.schedule(order_id, QueryReason::Gap, delay);
        }
        behind
    }

    /// Reports one trade of `order_id` unless it was reported already (its id, or a cumulative
    /// `cum` not beyond what was reported); `cum` unknown (TradesHistory): the trade adds to
    /// what was reported. The fee is the sum of the `fees` in the quote currency (others are
    /// counted, not booked). An unreadable trade is an error naming the field.
    pub(super) fn book_trade(
        &mut self,
        order_id: OrderId,
        idx: usize,
        t: &Trade<'_>,
        cum: Option<Qty>,
    ) -> Result<Result<(), ReportsClosed>, String> {
        let inst = &self.instruments[idx];
        let l = inst.parse_qty(t.qty).map_err(|e| format!("last_qty: {e}"))?;
        let px = inst.parse_price(t.px).map_err(|e| format!("last_price: {e}"))?;
        if !l.is_positive() || !px.is_positive() {
            return Err(format!("last_qty {} / last_price {} out of range", t.qty, t.px));
        }
        let (mut fee, mut foreign) = (Notional::ZERO, false);
        for (asset, qty) in t.fees {
            let q = Notional::parse(qty).map_err(|e| format!("fee {qty:?}: {e}"))?;
            if asset == inst.quote() {
                fee = fee.checked_add(q).map_err(|e| format!("fee {qty:?}: {e}"))?;
            } else if !q.is_zero() {
                foreign = true;
            }
        }
        let quote = inst.notional(px, l, Rounding::Nearest).unwrap_or(Notional::ZERO);
        let Some(o) = self.core.state.get_mut(&order_id) else { return Ok(Ok(())) };
        let cum = cum.unwrap_or_else(|| o.cum_qty.checked_add(l).unwrap_or(l));
        match o.check_trade(Some(TradeId::Text(t.id.into())), l, cum) {
            TradeCheck::Duplicate => {
                self.core.state.stats.duplicate_fills += 1;
                return Ok(Ok(()));
            }
            TradeCheck::New { missed_before: None } => {}
            TradeCheck::New { missed_before: Some(_) } => {
                // Trades before this one were missed: a query books them.
                self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
            }
        }
        if foreign {
            self.core.state.stats.fees_not_in_quote += 1;
        }
        let liquidity = if t.maker { Liquidity::Maker } else { Liquidity::Taker };
        Ok(self.core.state.fill(order_id, px, l, fee, liquidity, WallClock.now(), quote))
    }
}
