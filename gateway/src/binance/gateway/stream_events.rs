//! The user data stream's side of the gateway thread: connects, drops and frames from the
//! stream threads' channel become reports — spot's `executionReport` (USD-M's
//! `ORDER_TRADE_UPDATE`, the same fields in its `o` object) NEW / TRADE / CANCELED / EXPIRED /
//! REJECTED of this run's orders — de-duplicated by trade id and cumulative quantity; a frame
//! that cannot be read, or a reconnect, schedules a query of the account's live orders. Other
//! events go to the dialect's event sink (USD-M's `ACCOUNT_UPDATE`).
//!
//! Runs on the gateway thread; allocates per frame (JSON); never panics on a frame.

use super::{Gateway, RECONNECT_QUERY_DELAY, inst_notional, ms_to_nanos};
use crate::kit::order_state::{ReportsClosed, TradeCheck, TradeId};
use crate::kit::private_stream::{StreamEvent, StreamMsg};
use qt_core::{ClientOrderId, Liquidity, Nanos, Notional, OrderId, RejectReason, ReportKind, Rounding};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct EventProbe {
    e: String,
}

/// USD-M's `ORDER_TRADE_UPDATE`: the order's fields in `o`.
#[derive(Debug, Deserialize)]
struct Nested {
    o: ExecReport,
}

/// An `executionReport` (the fields used; names as Binance sends them; USD-M's `o` object has
/// the same names, without `C` and `Z`).
#[derive(Debug, Deserialize)]
struct ExecReport {
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "c")]
    client_id: String,
    #[serde(rename = "C", default)]
    orig_client_id: Option<String>,
    #[serde(rename = "x")]
    exec_type: String,
    #[serde(rename = "X")]
    status: String,
    #[serde(rename = "i")]
    order_id: u64,
    #[serde(rename = "l")]
    last_qty: String,
    #[serde(rename = "z")]
    cum_qty: String,
    #[serde(rename = "L")]
    last_price: String,
    #[serde(rename = "n", default)]
    fee: Option<String>,
    #[serde(rename = "N", default)]
    fee_asset: Option<String>,
    #[serde(rename = "T", default)]
    time: Option<i64>,
    #[serde(rename = "t", default)]
    trade_id: Option<i64>,
    #[serde(rename = "m", default)]
    maker: bool,
    #[serde(rename = "Z", default)]
    cum_quote: Option<String>,
}

impl Gateway {
    pub(super) fn on_stream(&mut self, msg: StreamMsg) -> Result<(), ReportsClosed> {
        match msg.event {
            StreamEvent::Connected { reconnect: false } => Ok(()),
            StreamEvent::Connected { reconnect: true } => {
                self.state.stats.reconnects += 1;
                if let Some(id) = self.accounts.get(msg.account).map(|a| a.id) {
                    self.state.reconnected(id, RECONNECT_QUERY_DELAY);
                }
                Ok(())
            }
            StreamEvent::Disconnected { reason } => {
                log::warn!(
                    "{} gateway: user stream of account #{} dropped: {reason}; its new orders are held until it is \
                     back and its live orders are reconciled",
                    self.d.log_name,
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

    /// Queries every live order of account `acct` after `delay` (a gap in its stream).
    fn query_account_orders(&mut self, acct: usize, delay: Duration) {
        let Some(id) = self.accounts.get(acct).map(|a| a.id) else { return };
        self.state.schedule_account(id, delay);
    }

    #[cold]
    fn malformed(&mut self, acct: usize, what: &str, text: &str) {
        self.state.stats.malformed += 1;
        let end = text.char_indices().nth(500).map_or(text.len(), |(i, _)| i);
        log::warn!(
            "{} gateway: malformed user stream frame ({what}); querying live orders: {}",
            self.d.log_name,
            &text[..end]
        );
        self.query_account_orders(acct, Duration::ZERO);
    }

    pub(super) fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        let frame = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => v,
            Err(e) => {
                self.malformed(acct, &e.to_string(), text);
                return Ok(());
            }
        };
        // The WebSocket API wraps each event (`{"subscriptionId":N,"event":{..}}`); the
        // listen-key stream sends it bare.
        let event = match frame {
            serde_json::Value::Object(mut m) if m.contains_key("subscriptionId") => {
                m.remove("event").unwrap_or(serde_json::Value::Null)
            }
            bare => bare,
        };
        let probe = match EventProbe::deserialize(&event) {
            Ok(p) => p,
            Err(e) => {
                self.malformed(acct, &e.to_string(), text);
                return Ok(());
            }
        };
        if probe.e != self.d.order_event {
            // outboundAccountPosition, balanceUpdate, listStatus, ACCOUNT_UPDATE, ...: the sink's.
            let Some(id) = self.accounts.get(acct).map(|a| a.id) else { return Ok(()) };
            if let Err(what) = self.events.on_event(id, &probe.e, text, &mut self.state.stats) {
                self.state.stats.malformed += 1;
                let end = text.char_indices().nth(500).map_or(text.len(), |(i, _)| i);
                log::warn!("{} gateway: malformed {} event ({what}): {}", self.d.log_name, probe.e, &text[..end]);
            }
            return Ok(());
        }
        let parsed = if self.d.order_fields_in_o {
            Nested::deserialize(&event).map(|n| n.o)
        } else {
            ExecReport::deserialize(&event)
        };
        let ev = match parsed {
            Ok(ev) => ev,
            Err(e) => {
                self.malformed(acct, &e.to_string(), text);
                return Ok(());
            }
        };
        // A cancel names itself in `c` and the order in `C`.
        let client_id = match ev.orig_client_id.as_deref() {
            Some(c) if !c.is_empty() => c,
            _ => ev.client_id.as_str(),
        };
        let Some((run, order_id)) = ClientOrderId::parse(client_id) else {
            log::debug!("{} gateway: event of foreign order {client_id:?} ignored", self.d.log_name);
            return Ok(());
        };
        if run != self.run_id {
            log::debug!("{} gateway: event of run {run:08x}'s order {order_id} ignored", self.d.log_name);
            return Ok(());
        }
        let Some(order) = self.state.get(&order_id) else {
            self.state.stats.unknown_order_events += 1;
            log::debug!(
                "{} gateway: {} event for order {order_id}, which is no longer live",
                self.d.log_name,
                ev.exec_type
            );
            return Ok(());
        };
        let Some(&idx) = self.by_id.get(&order.request.instrument) else { return Ok(()) };
        let account_ok = self.accounts.get(acct).is_some_and(|a| a.id == order.request.account);
        if !account_ok || self.by_symbol.get(&ev.symbol) != Some(&idx) {
            self.malformed(acct, "symbol or account does not match the order", text);
            return Ok(());
        }
        let ts = ms_to_nanos(ev.time);
        match ev.exec_type.as_str() {
            "NEW" => self.state.ensure_accepted(order_id, ev.order_id, ts),
            "TRADE" => self.on_trade(acct, order_id, idx, &ev, ts, text),
            "CANCELED" | "EXPIRED" | "EXPIRED_IN_MATCH" | "TRADE_PREVENTION" => {
                self.state.ensure_accepted(order_id, ev.order_id, ts)?;
                match self.instruments[idx].parse_qty(&ev.cum_qty) {
                    Ok(z) => {
                        let quote = ev.cum_quote.as_deref().and_then(|q| Notional::parse(q).ok());
                        self.catch_up(order_id, z, quote, ts)?;
                    }
                    Err(e) => self.malformed(acct, &format!("z: {e}"), text),
                }
                if ev.exec_type == "TRADE_PREVENTION" && !matches!(ev.status.as_str(), "CANCELED" | "EXPIRED") {
                    return Ok(());
                }
                if self.state.contains(&order_id) {
                    self.state.finish_order(order_id, ReportKind::Canceled, ts)?;
                }
                Ok(())
            }
            "REJECTED" => self.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), ts),
            other => {
                log::debug!("{} gateway: execution type {other:?} of order {order_id} ignored", self.d.log_name);
                Ok(())
            }
        }
    }

    fn on_trade(
        &mut self,
        acct: usize,
        order_id: OrderId,
        idx: usize,
        ev: &ExecReport,
        ts: Nanos,
        text: &str,
    ) -> Result<(), ReportsClosed> {
        self.state.ensure_accepted(order_id, ev.order_id, ts)?;
        let inst = &self.instruments[idx];
        let parsed = (|| {
            let l = inst.parse_qty(&ev.last_qty).map_err(|e| format!("l: {e}"))?;
            let z = inst.parse_qty(&ev.cum_qty).map_err(|e| format!("z: {e}"))?;
            let px = inst.parse_price(&ev.last_price).map_err(|e| format!("L: {e}"))?;
            let fee = match (ev.fee.as_deref(), ev.fee_asset.as_deref()) {
                (Some(n), Some(asset)) if asset == inst.quote() => {
                    Some(Notional::parse(n).map_err(|e| format!("n: {e}"))?)
                }
                _ => None,
            };
            if !l.is_positive() || !px.is_positive() || z < l {
                return Err(format!("l {} / z {} / L {} out of range", ev.last_qty, ev.cum_qty, ev.last_price));
            }
            Ok((l, z, px, fee))
        })();
        let (l, z, px, fee) = match parsed {
            Ok(v) => v,
            Err(what) => {
                self.malformed(acct, &what, text);
                return Ok(());
            }
        };
        let quote = inst.notional(px, l, Rounding::Nearest).unwrap_or(Notional::ZERO);
        let fee_in_other_asset =
            fee.is_none() && ev.fee.as_deref().is_some_and(|n| Notional::parse(n).is_ok_and(|v| !v.is_zero()));
        let Some(o) = self.state.get_mut(&order_id) else { return Ok(()) };
        match o.check_trade(ev.trade_id.map(TradeId::from), l, z) {
            TradeCheck::Duplicate => {
                self.state.stats.duplicate_fills += 1;
                return Ok(());
            }
            TradeCheck::New { missed_before: None } => {}
            TradeCheck::New { missed_before: Some(before) } => {
                // Fills before this one were missed: report them from the cumulative quote.
                let before_quote = ev
                    .cum_quote
                    .as_deref()
                    .and_then(|q| Notional::parse(q).ok())
                    .and_then(|q| q.checked_sub(quote).ok());
                self.catch_up(order_id, before, before_quote, ts)?;
            }
        }
        let Some(o) = self.state.get(&order_id) else { return Ok(()) };
        let last = z.checked_sub(o.cum_qty).unwrap_or(l).min(l);
        if fee_in_other_asset {
            self.state.stats.fees_not_in_quote += 1;
        }
        let liquidity = if ev.maker { Liquidity::Maker } else { Liquidity::Taker };
        let quote = if last == l { quote } else { inst_notional(&self.instruments[idx], px, last) };
        self.state.fill(order_id, px, last, fee.unwrap_or(Notional::ZERO), liquidity, ts, quote)
    }
}
