//! The private stream's side of the gateway thread: each `orders` push carries the order's
//! state and, when it reports a trade, that trade (`tradeId`, `fillSz`, `fillPx`, `fillFee`) —
//! the trade becomes a fill (its real fee, de-duplicated by `tradeId` and by cumulative
//! quantity `accFillSz`), the state moves the order (accepted, filled, cancelled, cancelled by
//! the venue after its ack) through the same logic a query's answer goes through
//! ([`Gateway::apply_order`]). A frame that cannot be read schedules a query of the account's
//! live orders; a reconnect reconciles them before the account's next order.
//!
//! Runs on the gateway thread; allocates per frame (JSON); never panics on a frame.

use super::Gateway;
use crate::kit::order_state::{QueryReason, ReportsClosed, TradeCheck, TradeId, VenueFigures, VenueState};
use crate::kit::shell::ms_to_nanos;
use crate::okx::errors::cancel_source_reason;
use crate::okx::rest::venue_order_id;
use qt_core::{ClientOrderId, Liquidity, Nanos, Notional, OrderId, Qty, Rounding};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct Push {
    arg: PushArg,
    data: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct PushArg {
    channel: String,
}

/// An `orders` push entry or a `trade/order` answer (the fields used; OKX's names).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderEntry {
    pub(super) inst_id: String,
    pub(super) ord_id: String,
    #[serde(default)]
    pub(super) cl_ord_id: String,
    pub(super) state: String,
    pub(super) acc_fill_sz: String,
    #[serde(default)]
    avg_px: String,
    /// Cumulative fee, negative when charged.
    #[serde(default)]
    fee: String,
    #[serde(default)]
    fee_ccy: String,
    #[serde(default)]
    cancel_source: String,
    #[serde(default)]
    u_time: String,
    // The trade this push reports (push only).
    #[serde(default)]
    trade_id: String,
    #[serde(default)]
    fill_sz: String,
    #[serde(default)]
    fill_px: String,
    #[serde(default)]
    fill_fee: String,
    #[serde(default)]
    fill_fee_ccy: String,
    #[serde(default)]
    fill_time: String,
    #[serde(default)]
    exec_type: String,
}

/// One entry of `GET /api/v5/trade/fills`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FillEntry {
    pub(super) trade_id: String,
    pub(super) fill_px: String,
    pub(super) fill_sz: String,
    pub(super) fee: String,
    #[serde(default)]
    pub(super) fee_ccy: String,
    #[serde(default)]
    pub(super) exec_type: String,
    #[serde(default)]
    pub(super) ts: String,
}

fn time_of(text: &str) -> Nanos {
    ms_to_nanos(text.parse::<i64>().ok())
}

/// A fee as OKX writes it (negative when charged) → what we report (positive when paid).
fn fee_of(text: &str) -> Result<Notional, String> {
    if text.is_empty() {
        return Ok(Notional::ZERO);
    }
    let v = Notional::parse(text).map_err(|e| format!("fee {text:?}: {e}"))?;
    v.checked_neg().map_err(|e| format!("fee {text:?}: {e}"))
}

/// One trade as reported: `(trade id, qty, price, fee, fee currency, maker, time)`.
pub(super) struct Trade<'a> {
    pub(super) id: &'a str,
    pub(super) qty: &'a str,
    pub(super) px: &'a str,
    pub(super) fee: &'a str,
    pub(super) fee_ccy: &'a str,
    pub(super) maker: bool,
    pub(super) ts: &'a str,
}

impl Gateway {
    pub(crate) fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        let push = match serde_json::from_str::<Push>(text) {
            Ok(p) => p,
            Err(e) => {
                self.core.malformed("okx", acct, &e.to_string(), text);
                return Ok(());
            }
        };
        if push.arg.channel != "orders" {
            return Ok(());
        }
        for entry in push.data {
            match serde_json::from_value::<OrderEntry>(entry) {
                Ok(o) => self.on_order(acct, &o, text)?,
                Err(e) => self.core.malformed("okx", acct, &format!("orders: {e}"), text),
            }
        }
        Ok(())
    }

    /// This run's live order named by `cl` on `inst_id` of account `acct`, with its
    /// instrument index; `None` (counted or logged) otherwise.
    pub(super) fn live_order(&mut self, acct: usize, cl: &str, inst_id: &str, text: &str) -> Option<(OrderId, usize)> {
        let (run, order_id) = ClientOrderId::parse(cl)?;
        if run != self.core.run_id {
            log::debug!("okx gateway: event of run {run:08x}'s order {order_id} ignored");
            return None;
        }
        let Some(order) = self.core.state.get(&order_id) else {
            self.core.state.stats.unknown_order_events += 1;
            return None;
        };
        let idx = *self.by_id.get(&order.request.instrument)?;
        let account_ok = self.core.account_id(acct) == Some(order.request.account);
        if !account_ok || self.by_inst_id.get(inst_id) != Some(&idx) {
            self.core.malformed("okx", acct, "instrument or account does not match the order", text);
            return None;
        }
        Some((order_id, idx))
    }

    fn on_order(&mut self, acct: usize, entry: &OrderEntry, text: &str) -> Result<(), ReportsClosed> {
        let Some((order_id, idx)) = self.live_order(acct, &entry.cl_ord_id, &entry.inst_id, text) else {
            return Ok(());
        };
        if !entry.trade_id.is_empty() {
            let trade = Trade {
                id: &entry.trade_id,
                qty: &entry.fill_sz,
                px: &entry.fill_px,
                fee: &entry.fill_fee,
                fee_ccy: &entry.fill_fee_ccy,
                maker: entry.exec_type == "M",
                ts: &entry.fill_time,
            };
            let cum = match self.instruments[idx].parse_qty(&entry.acc_fill_sz) {
                Ok(q) => q,
                Err(e) => {
                    self.core.malformed("okx", acct, &format!("accFillSz: {e}"), text);
                    return Ok(());
                }
            };
            self.core.state.ensure_accepted(order_id, venue_order_id(&entry.ord_id), time_of(&entry.u_time))?;
            if let Err(what) = self.book_trade(order_id, idx, &trade, Some(cum)) {
                self.core.malformed("okx", acct, &what, text);
                return Ok(());
            }
        }
        self.apply_order(acct, order_id, idx, entry, false, text)
    }

    /// Reports one trade of `order_id` unless it was reported already (its `tradeId`, or a
    /// cumulative `cum` not beyond what was reported); `cum` unknown (a `fills` answer): the
    /// trade adds to what was reported. An unreadable trade is an error naming the field.
    pub(super) fn book_trade(
        &mut self,
        order_id: OrderId,
        idx: usize,
        t: &Trade<'_>,
        cum: Option<Qty>,
    ) -> Result<Result<(), ReportsClosed>, String> {
        let inst = &self.instruments[idx];
        let l = inst.parse_qty(t.qty).map_err(|e| format!("fillSz: {e}"))?;
        let px = inst.parse_price(t.px).map_err(|e| format!("fillPx: {e}"))?;
        let fee = fee_of(t.fee)?;
        if !l.is_positive() || !px.is_positive() {
            return Err(format!("fillSz {} / fillPx {} out of range", t.qty, t.px));
        }
        let fee_in_quote = t.fee_ccy.is_empty() || t.fee_ccy == inst.quote();
        let quote = inst.notional(px, l, Rounding::Nearest).unwrap_or(Notional::ZERO);
        let id = t.id.parse::<i64>().map_or_else(|_| TradeId::Text(t.id.into()), TradeId::Num);
        let Some(o) = self.core.state.get_mut(&order_id) else { return Ok(Ok(())) };
        let cum = cum.unwrap_or_else(|| o.cum_qty.checked_add(l).unwrap_or(l));
        match o.check_trade(Some(id), l, cum) {
            TradeCheck::Duplicate => {
                self.core.state.stats.duplicate_fills += 1;
                return Ok(Ok(()));
            }
            TradeCheck::New { missed_before: None } => {}
            TradeCheck::New { missed_before: Some(_) } => {
                // Trades before this one were missed: a query of its fills books them.
                self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
            }
        }
        if !fee_in_quote && !fee.is_zero() {
            self.core.state.stats.fees_not_in_quote += 1;
        }
        let liquidity = if t.maker { Liquidity::Maker } else { Liquidity::Taker };
        let fee = if fee_in_quote { fee } else { Notional::ZERO };
        Ok(self.core.state.fill(order_id, px, l, fee, liquidity, time_of(t.ts), quote))
    }

    /// Moves live order `order_id` to what `entry` (a push, or a query's answer when
    /// `queried`) says; returns after reporting what changed.
    pub(super) fn apply_order(
        &mut self,
        acct: usize,
        order_id: OrderId,
        idx: usize,
        entry: &OrderEntry,
        queried: bool,
        text: &str,
    ) -> Result<(), ReportsClosed> {
        let ts = time_of(&entry.u_time);
        let venue_id = venue_order_id(&entry.ord_id);
        let inst = &self.instruments[idx];
        let cum = match inst.parse_qty(&entry.acc_fill_sz) {
            Ok(q) => q,
            Err(e) => {
                self.core.malformed("okx", acct, &format!("accFillSz: {e}"), text);
                return Ok(());
            }
        };
        // The order's value: avgPx × accFillSz (avgPx may be finer than the tick).
        let value = Notional::parse(&entry.avg_px).ok().and_then(|avg| {
            let units = avg.units().checked_mul(i128::from(cum.units()))? / 10i128.pow(u32::from(inst.qty_scale()));
            Some(Notional::from_units(units))
        });
        let fee_in_quote = entry.fee_ccy.is_empty() || entry.fee_ccy == inst.quote();
        let fee = fee_of(&entry.fee).ok().filter(|_| fee_in_quote);
        let state = match entry.state.as_str() {
            "live" => VenueState::Working,
            "partially_filled" => VenueState::PartiallyFilled,
            "filled" => VenueState::Filled,
            "canceled" | "mmp_canceled" => VenueState::Closed { refused: cancel_source_reason(&entry.cancel_source) },
            other => {
                log::debug!("okx gateway: order state {other:?} of order {order_id} ignored");
                return Ok(());
            }
        };
        let figures = VenueFigures { venue_order_id: venue_id, cum, value, fee, ts };
        self.core.state.apply_venue_state(order_id, &self.instruments[idx], state, figures, queried, "okx")
    }
}
