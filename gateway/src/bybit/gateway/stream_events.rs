//! The private stream's side of the gateway thread: `execution` pushes become fills (real
//! `execFee`, de-duplicated by `execId` and by cumulative quantity), `order` pushes move an
//! order's state (accepted, filled, cancelled, refused after its ack) — the same order-state
//! logic a query's answer goes through ([`Gateway::apply_order`]). A frame that cannot be read
//! schedules a query of the account's live orders; a reconnect reconciles them at once, before
//! the next command.
//!
//! Runs on the gateway thread; allocates per frame (JSON); never panics on a frame.

use super::{Category, Gateway};
use crate::bybit::errors::closed_reason;
use crate::bybit::rest::venue_order_id;
use crate::kit::order_state::{QueryReason, ReportsClosed, TradeCheck, TradeId, VenueFigures, VenueState};
use crate::kit::shell::ms_to_nanos;
use qt_core::{ClientOrderId, Liquidity, Nanos, Notional, OrderId, RejectReason, Rounding};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct Push {
    topic: String,
    data: Vec<Value>,
}

/// An `order` push entry or a `realtime` list entry (the fields used; Bybit's names).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderEntry {
    #[serde(default)]
    category: Option<String>,
    symbol: String,
    order_id: String,
    order_link_id: String,
    order_status: String,
    cum_exec_qty: String,
    #[serde(default)]
    cum_exec_value: Option<String>,
    #[serde(default)]
    cum_exec_fee: Option<String>,
    #[serde(default)]
    reject_reason: Option<String>,
    #[serde(default)]
    updated_time: Option<String>,
}

/// An `execution` push entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecEntry {
    category: String,
    symbol: String,
    exec_id: String,
    exec_qty: String,
    exec_price: String,
    exec_fee: String,
    #[serde(default)]
    exec_type: Option<String>,
    #[serde(default)]
    fee_currency: Option<String>,
    #[serde(default)]
    is_maker: bool,
    leaves_qty: String,
    order_id: String,
    order_link_id: String,
    #[serde(default)]
    exec_time: Option<String>,
}

fn time_of(text: Option<&str>) -> Nanos {
    ms_to_nanos(text.and_then(|t| t.parse::<i64>().ok()))
}

impl Gateway {
    pub(super) fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        let push = match serde_json::from_str::<Push>(text) {
            Ok(p) => p,
            Err(e) => {
                self.core.malformed("bybit", acct, &e.to_string(), text);
                return Ok(());
            }
        };
        let topic = push.topic.split('.').next().unwrap_or("");
        for entry in push.data {
            match topic {
                "execution" => match serde_json::from_value::<ExecEntry>(entry) {
                    Ok(e) => self.on_execution(acct, &e, text)?,
                    Err(e) => self.core.malformed("bybit", acct, &format!("execution: {e}"), text),
                },
                "order" => match serde_json::from_value::<OrderEntry>(entry) {
                    Ok(o) => self.on_order(acct, &o, text)?,
                    Err(e) => self.core.malformed("bybit", acct, &format!("order: {e}"), text),
                },
                // position, wallet, …: not ours to report.
                _ => {}
            }
        }
        Ok(())
    }

    /// This run's live order named by `link` in category `cat` / `symbol` of account `acct`,
    /// with its instrument index; `None` (counted or logged) otherwise.
    fn live_order(
        &mut self,
        acct: usize,
        link: &str,
        cat: Option<&str>,
        symbol: &str,
        text: &str,
    ) -> Option<(OrderId, usize)> {
        let (run, order_id) = ClientOrderId::parse(link)?;
        if run != self.core.run_id {
            log::debug!("bybit gateway: event of run {run:08x}'s order {order_id} ignored");
            return None;
        }
        let Some(order) = self.core.state.get(&order_id) else {
            self.core.state.stats.unknown_order_events += 1;
            return None;
        };
        let idx = *self.by_id.get(&order.request.instrument)?;
        let account_ok = self.core.account_id(acct) == Some(order.request.account);
        let cat_ok = cat.is_none_or(|c| Category::parse(c) == Some(self.categories[idx]));
        if !account_ok || !cat_ok || self.by_symbol.get(&(self.categories[idx], symbol.to_string())) != Some(&idx) {
            self.core.malformed("bybit", acct, "category, symbol or account does not match the order", text);
            return None;
        }
        Some((order_id, idx))
    }

    fn on_execution(&mut self, acct: usize, ev: &ExecEntry, text: &str) -> Result<(), ReportsClosed> {
        if ev.exec_type.as_deref().is_some_and(|t| t != "Trade") {
            // Funding, ADL, delivery, …: not an order's fill.
            return Ok(());
        }
        let Some((order_id, idx)) = self.live_order(acct, &ev.order_link_id, Some(&ev.category), &ev.symbol, text)
        else {
            return Ok(());
        };
        let ts = time_of(ev.exec_time.as_deref());
        self.core.state.ensure_accepted(order_id, venue_order_id(&ev.order_id), ts)?;
        let inst = &self.instruments[idx];
        let parsed = (|| {
            let l = inst.parse_qty(&ev.exec_qty).map_err(|e| format!("execQty: {e}"))?;
            let px = inst.parse_price(&ev.exec_price).map_err(|e| format!("execPrice: {e}"))?;
            let leaves = inst.parse_qty(&ev.leaves_qty).map_err(|e| format!("leavesQty: {e}"))?;
            let fee = Notional::parse(&ev.exec_fee).map_err(|e| format!("execFee: {e}"))?;
            if !l.is_positive() || !px.is_positive() {
                return Err(format!("execQty {} / execPrice {} out of range", ev.exec_qty, ev.exec_price));
            }
            Ok((l, px, leaves, fee))
        })();
        let (l, px, leaves, fee) = match parsed {
            Ok(v) => v,
            Err(what) => {
                self.core.malformed("bybit", acct, &what, text);
                return Ok(());
            }
        };
        let fee_in_quote = ev.fee_currency.as_deref().is_none_or(|c| c.is_empty() || c == inst.quote());
        let quote = inst.notional(px, l, Rounding::Nearest).unwrap_or(Notional::ZERO);
        let Some(o) = self.core.state.get_mut(&order_id) else { return Ok(()) };
        // Cumulative after this trade: the order's size less what is left; with nothing left
        // (filled, or closed meanwhile) only the trade's own quantity is known.
        let cum = if leaves.is_positive() {
            o.request.qty.checked_sub(leaves).unwrap_or(l)
        } else {
            o.cum_qty.checked_add(l).unwrap_or(l)
        };
        match o.check_trade(Some(TradeId::Text(ev.exec_id.as_str().into())), l, cum) {
            TradeCheck::Duplicate => {
                self.core.state.stats.duplicate_fills += 1;
                return Ok(());
            }
            TradeCheck::New { missed_before: None } => {}
            TradeCheck::New { missed_before: Some(_) } => {
                // Trades before this one were missed: the order's figures will book them.
                self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
            }
        }
        if !fee_in_quote && !fee.is_zero() {
            self.core.state.stats.fees_not_in_quote += 1;
        }
        let liquidity = if ev.is_maker { Liquidity::Maker } else { Liquidity::Taker };
        let fee = if fee_in_quote { fee } else { Notional::ZERO };
        self.core.state.fill(order_id, px, l, fee, liquidity, ts, quote)
    }

    fn on_order(&mut self, acct: usize, entry: &OrderEntry, text: &str) -> Result<(), ReportsClosed> {
        let Some((order_id, idx)) =
            self.live_order(acct, &entry.order_link_id, entry.category.as_deref(), &entry.symbol, text)
        else {
            return Ok(());
        };
        self.apply_order(acct, order_id, idx, entry, false, text)
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
        let ts = time_of(entry.updated_time.as_deref());
        let venue_id = venue_order_id(&entry.order_id);
        let inst = &self.instruments[idx];
        let cum = match inst.parse_qty(&entry.cum_exec_qty) {
            Ok(q) => q,
            Err(e) => {
                self.core.malformed("bybit", acct, &format!("cumExecQty: {e}"), text);
                return Ok(());
            }
        };
        let value = entry.cum_exec_value.as_deref().and_then(|v| Notional::parse(v).ok());
        let fee = entry.cum_exec_fee.as_deref().and_then(|v| Notional::parse(v).ok());
        let refused = closed_reason(entry.reject_reason.as_deref().unwrap_or(""));
        let state = match entry.order_status.as_str() {
            "New" | "Untriggered" | "Triggered" => VenueState::Working,
            "PartiallyFilled" => VenueState::PartiallyFilled,
            "Filled" => VenueState::Filled,
            "Rejected" => VenueState::Closed { refused: refused.or(Some(RejectReason::Other)) },
            "Cancelled" | "PartiallyFilledCanceled" | "Deactivated" => VenueState::Closed { refused },
            other => {
                log::debug!("bybit gateway: order status {other:?} of order {order_id} ignored");
                return Ok(());
            }
        };
        let figures = VenueFigures { venue_order_id: venue_id, cum, value, fee, ts };
        self.core.state.apply_venue_state(order_id, &self.instruments[idx], state, figures, queried, "bybit")
    }
}
