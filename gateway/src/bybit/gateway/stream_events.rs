//! The private stream's side of the gateway thread: `execution` pushes become fills (real
//! `execFee`, de-duplicated by `execId` and by cumulative quantity), `order` pushes move an
//! order's state (accepted, filled, cancelled, refused after its ack) — the same order-state
//! logic a query's answer goes through ([`Gateway::apply_order`]). A frame that cannot be read
//! schedules a query of the account's live orders; a reconnect reconciles them at once, before
//! the next command.
//!
//! Runs on the gateway thread; allocates per frame (JSON); never panics on a frame.

use super::{Category, Gateway, ms_to_nanos};
use crate::bybit::errors::closed_reason;
use crate::bybit::rest::venue_order_id;
use crate::kit::order_state::{QueryReason, ReportsClosed, TradeCheck, TradeId, average_price};
use crate::kit::private_stream::{StreamEvent, StreamMsg};
use qt_core::{ClientOrderId, Liquidity, Nanos, Notional, OrderId, Qty, RejectReason, ReportKind, Rounding};
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Delay of the query after an `order` push shows more filled than the executions did: the
/// executions may still be on their way.
const ORDER_GAP_QUERY_DELAY: Duration = Duration::from_millis(300);

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
    pub(super) fn on_stream(&mut self, msg: StreamMsg) -> Result<(), ReportsClosed> {
        match msg.event {
            StreamEvent::Connected { reconnect: false } => Ok(()),
            StreamEvent::Connected { reconnect: true } => {
                // Subscribed before `open` returned: a query now cannot miss an event.
                self.state.stats.reconnects += 1;
                if let Some(id) = self.accounts.get(msg.account).map(|a| a.id) {
                    self.state.reconnected(id, Duration::ZERO);
                }
                self.run_due_reconciles(Instant::now()).map(|_| ())
            }
            StreamEvent::Disconnected { reason } => {
                log::warn!(
                    "bybit gateway: private stream of account #{} dropped: {reason}; its new orders are held until it \
                     is back and its live orders are reconciled",
                    msg.account
                );
                if let Some(id) = self.accounts.get(msg.account).map(|a| a.id) {
                    self.state.hold(id);
                }
                Ok(())
            }
            StreamEvent::Frame(text) => self.on_frame(msg.account, &text),
        }
    }

    #[cold]
    fn malformed(&mut self, acct: usize, what: &str, text: &str) {
        self.state.stats.malformed += 1;
        let end = text.char_indices().nth(500).map_or(text.len(), |(i, _)| i);
        log::warn!("bybit gateway: malformed private stream frame ({what}); querying live orders: {}", &text[..end]);
        if let Some(id) = self.accounts.get(acct).map(|a| a.id) {
            self.state.schedule_account(id, Duration::ZERO);
        }
    }

    pub(super) fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        let push = match serde_json::from_str::<Push>(text) {
            Ok(p) => p,
            Err(e) => {
                self.malformed(acct, &e.to_string(), text);
                return Ok(());
            }
        };
        let topic = push.topic.split('.').next().unwrap_or("");
        for entry in push.data {
            match topic {
                "execution" => match serde_json::from_value::<ExecEntry>(entry) {
                    Ok(e) => self.on_execution(acct, &e, text)?,
                    Err(e) => self.malformed(acct, &format!("execution: {e}"), text),
                },
                "order" => match serde_json::from_value::<OrderEntry>(entry) {
                    Ok(o) => self.on_order(acct, &o, text)?,
                    Err(e) => self.malformed(acct, &format!("order: {e}"), text),
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
        if run != self.run_id {
            log::debug!("bybit gateway: event of run {run:08x}'s order {order_id} ignored");
            return None;
        }
        let Some(order) = self.state.get(&order_id) else {
            self.state.stats.unknown_order_events += 1;
            return None;
        };
        let idx = *self.by_id.get(&order.request.instrument)?;
        let account_ok = self.accounts.get(acct).is_some_and(|a| a.id == order.request.account);
        let cat_ok = cat.is_none_or(|c| Category::parse(c) == Some(self.categories[idx]));
        if !account_ok || !cat_ok || self.by_symbol.get(&(self.categories[idx], symbol.to_string())) != Some(&idx) {
            self.malformed(acct, "category, symbol or account does not match the order", text);
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
        self.state.ensure_accepted(order_id, venue_order_id(&ev.order_id), ts)?;
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
                self.malformed(acct, &what, text);
                return Ok(());
            }
        };
        let fee_in_quote = ev.fee_currency.as_deref().is_none_or(|c| c.is_empty() || c == inst.quote());
        let quote = inst.notional(px, l, Rounding::Nearest).unwrap_or(Notional::ZERO);
        let Some(o) = self.state.get_mut(&order_id) else { return Ok(()) };
        // Cumulative after this trade: the order's size less what is left; with nothing left
        // (filled, or closed meanwhile) only the trade's own quantity is known.
        let cum = if leaves.is_positive() {
            o.request.qty.checked_sub(leaves).unwrap_or(l)
        } else {
            o.cum_qty.checked_add(l).unwrap_or(l)
        };
        match o.check_trade(Some(TradeId::Text(ev.exec_id.as_str().into())), l, cum) {
            TradeCheck::Duplicate => {
                self.state.stats.duplicate_fills += 1;
                return Ok(());
            }
            TradeCheck::New { missed_before: None } => {}
            TradeCheck::New { missed_before: Some(_) } => {
                // Trades before this one were missed: the order's figures will book them.
                self.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
            }
        }
        if !fee_in_quote && !fee.is_zero() {
            self.state.stats.fees_not_in_quote += 1;
        }
        let liquidity = if ev.is_maker { Liquidity::Maker } else { Liquidity::Taker };
        let fee = if fee_in_quote { fee } else { Notional::ZERO };
        self.state.fill(order_id, px, l, fee, liquidity, ts, quote)
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
                self.malformed(acct, &format!("cumExecQty: {e}"), text);
                return Ok(());
            }
        };
        let value = entry.cum_exec_value.as_deref().and_then(|v| Notional::parse(v).ok());
        let fee = entry.cum_exec_fee.as_deref().and_then(|v| Notional::parse(v).ok());
        let refused = closed_reason(entry.reject_reason.as_deref().unwrap_or(""));
        match entry.order_status.as_str() {
            "New" | "Untriggered" | "Triggered" => self.state.ensure_accepted(order_id, venue_id, ts),
            "PartiallyFilled" => {
                self.state.ensure_accepted(order_id, venue_id, ts)?;
                if queried {
                    self.catch_up(order_id, cum, value, fee, ts)
                } else {
                    if self.state.get(&order_id).is_some_and(|o| cum > o.cum_qty) {
                        self.state.schedule(order_id, QueryReason::Gap, ORDER_GAP_QUERY_DELAY);
                    }
                    Ok(())
                }
            }
            "Filled" => {
                self.state.ensure_accepted(order_id, venue_id, ts)?;
                self.catch_up(order_id, cum, value, fee, ts)
            }
            "Cancelled" | "PartiallyFilledCanceled" | "Deactivated" | "Rejected" => {
                let accepted = self.state.get(&order_id).is_some_and(|o| o.accepted);
                let kind = match (entry.order_status.as_str(), refused) {
                    // Refused after its ack, never shown working: the order was not placed.
                    (_, Some(reason)) if !accepted && cum.is_zero() => ReportKind::Rejected(reason),
                    ("Rejected", _) if !accepted && cum.is_zero() => ReportKind::Rejected(RejectReason::Other),
                    _ => ReportKind::Canceled,
                };
                if kind == ReportKind::Canceled {
                    self.state.ensure_accepted(order_id, venue_id, ts)?;
                    self.catch_up(order_id, cum, value, fee, ts)?;
                }
                if self.state.contains(&order_id) {
                    self.state.finish_order(order_id, kind, ts)?;
                }
                Ok(())
            }
            other => {
                log::debug!("bybit gateway: order status {other:?} of order {order_id} ignored");
                Ok(())
            }
        }
    }

    /// Reports what the venue filled beyond what was reported (`venue_cum`, worth
    /// `venue_value`, costing `venue_fee` in all) as one fill at the average price of the
    /// missing part, with the missing part of the fee; a fee the venue did not give is booked
    /// as zero, logged and counted as a fill without fee.
    #[cold]
    pub(super) fn catch_up(
        &mut self,
        order_id: OrderId,
        venue_cum: Qty,
        venue_value: Option<Notional>,
        venue_fee: Option<Notional>,
        ts: Nanos,
    ) -> Result<(), ReportsClosed> {
        let Some(o) = self.state.get(&order_id) else { return Ok(()) };
        let Some(&idx) = self.by_id.get(&o.request.instrument) else { return Ok(()) };
        let missing = venue_cum.checked_sub(o.cum_qty).unwrap_or(Qty::ZERO);
        if !missing.is_positive() {
            return Ok(());
        }
        let inst = &self.instruments[idx];
        let missing_quote = venue_value.and_then(|v| v.checked_sub(o.cum_quote).ok());
        let price = missing_quote.and_then(|q| average_price(inst, q, missing)).unwrap_or(o.request.price);
        let fee = venue_fee.and_then(|f| f.checked_sub(o.cum_fee).ok()).filter(|f| *f >= Notional::ZERO);
        log::warn!(
            "bybit gateway: order {order_id}: {} filled without an execution event; booked at {} with fee {}",
            inst.qty_text(missing),
            inst.price_text(price),
            fee.map_or_else(|| "UNKNOWN (zero)".to_string(), |f| f.to_text(qt_core::DecimalStyle::Trimmed).to_string())
        );
        if fee.is_some() {
            self.state.stats.fills_fee_from_trades += 1;
        } else {
            self.state.stats.fills_without_fee += 1;
        }
        let quote = missing_quote.unwrap_or(Notional::ZERO);
        self.state.fill(order_id, price, missing, fee.unwrap_or(Notional::ZERO), Liquidity::Taker, ts, quote)
    }
}
