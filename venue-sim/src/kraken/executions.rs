//! One private WebSocket v2 session (Kraken's `wss://ws-auth.kraken.com/v2`, served here at
//! [`super::PRIVATE_WS_PATH`]): the `executions` channel for the account a
//! `GetWebSocketsToken` token names, run by the shared loop ([`crate::kit::session`]).
//!
//! Facts (`NOTES-orders.md` §5, samples `testdata/kraken/orders/ws_executions_*.json`, [MIRROR]
//! of docs.kraken.com websocket-v2/executions):
//! - `{"method":"subscribe","params":{"channel":"executions","token":..,"snap_orders":true,
//!   "snap_trades":false}}` → `{"method":"subscribe","result":{"channel":"executions",
//!   "maxratecount":125,"snap_orders","snap_trades"},"success":true,"time_in","time_out"}`; a
//!   bad token → `"success":false,"error":"EAccount:Invalid token"` [the text is a guess].
//! - Then a `snapshot` of the open orders (`snap_orders`, default true; the same schema as
//!   updates, the docs give no example) and the last 50 fills (`snap_trades`, default false).
//! - Updates, one per order event, `{"channel":"executions","type":"update","data":[..],
//!   "sequence":n}`: `pending_new` (the order's details) then `new`; `trade` with `exec_id`,
//!   `trade_id`, `last_qty`, `last_price`, `liquidity_ind`, `cost`, `fees[{asset,qty}]`,
//!   `fee_usd_equiv`, `cum_qty`, `cum_cost`, `avg_price` and `order_status`
//!   `partially_filled` even for the last fill, followed by a separate `filled` update (the docs'
//!   note); `canceled` / `expired` with `reason`. Prices and quantities are JSON numbers.
//! - `{"method":"ping"}` → `{"method":"pong"}`.

use super::KrakenV2;
use super::private::txid;
use super::wire::{number, quoted, ws_symbol};
use crate::kit::session::QueuedSession;
use crate::market::{AccountEvent, ExecKind, FillView, OrderStatus, OrderView};
use crate::protocol::Ctx;
use crate::public_stream::{Outbox, rfc3339_micros};
use crossbeam_channel::Receiver;
use qt_core::{AccountId, Instrument, Notional, OrderType, Side, TimeInForce};
use serde_json::{Value, json};
use std::sync::Arc;

/// The trading counter limit the ack reports (the docs' example, tier-dependent).
const MAX_RATE_COUNT: u64 = 125;
/// Fills a `snap_trades` snapshot carries.
const SNAP_TRADES: usize = 50;

/// A JSON object written field by field, so decimals go out as exact bare numbers.
struct Obj(String);

impl Obj {
    fn new() -> Self {
        Self(String::from("{"))
    }
    fn raw(mut self, k: &str, v: &str) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&quoted(k));
        self.0.push(':');
        self.0.push_str(v);
        self
    }
    fn str(self, k: &str, v: &str) -> Self {
        let q = quoted(v);
        self.raw(k, &q)
    }
    fn done(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn notional_number(n: Notional) -> String {
    n.to_text(qt_core::DecimalStyle::Trimmed).as_str().to_owned()
}

/// A private session.
pub(super) struct ExecSession<'a> {
    venue: &'a KrakenV2,
    ctx: &'a Ctx,
    account: Option<AccountId>,
    events: Option<Receiver<Arc<AccountEvent>>>,
    sequence: u64,
    pub(super) out: Outbox,
}

impl<'a> ExecSession<'a> {
    pub(super) fn new(venue: &'a KrakenV2, ctx: &'a Ctx, malformed: &'static [u8]) -> Self {
        Self { venue, ctx, account: None, events: None, sequence: 0, out: Outbox::new(malformed) }
    }

    fn now_text(&self) -> String {
        rfc3339_micros(self.ctx.market.now_ms().saturating_mul(1_000_000))
    }

    fn answer(&mut self, method: &str, req_id: Option<&Value>, result: Result<Value, String>) {
        let t = self.now_text();
        let mut m = json!({"method": method, "time_in": t, "time_out": t});
        match result {
            Ok(r) => {
                m["result"] = r;
                m["success"] = Value::Bool(true);
            }
            Err(e) => {
                m["error"] = Value::String(e);
                m["success"] = Value::Bool(false);
            }
        }
        if let Some(id) = req_id {
            m["req_id"] = id.clone();
        }
        self.out.control(m.to_string());
    }

    fn subscribe(&mut self, params: &Value, req_id: Option<&Value>) {
        let channel = params.get("channel").and_then(Value::as_str).unwrap_or("");
        if channel != "executions" {
            return self.answer("subscribe", req_id, Err(format!("Channel {channel} not supported here")));
        }
        let token = params.get("token").and_then(Value::as_str).unwrap_or("");
        let Some(account) = self.venue.desk.token_account(token) else {
            return self.answer("subscribe", req_id, Err("EAccount:Invalid token".into()));
        };
        let flag = |k: &str, d: bool| params.get(k).and_then(Value::as_bool).unwrap_or(d);
        let (snap_orders, snap_trades) = (flag("snap_orders", true), flag("snap_trades", false));
        if self.account != Some(account) {
            self.account = Some(account);
            self.events = self.ctx.market.subscribe_account(account);
        }
        let ack = json!({"channel": "executions", "maxratecount": MAX_RATE_COUNT, "snap_orders": snap_orders, "snap_trades": snap_trades});
        self.answer("subscribe", req_id, Ok(ack));
        let mut data = Vec::new();
        let market = &self.ctx.market;
        if snap_orders {
            for v in market.open_orders(account, None) {
                if let Some(inst) = market.instruments().get(v.symbol) {
                    data.push(order_entry(inst, &v, "new", &self.now_text()));
                }
            }
        }
        if snap_trades {
            let mut all = Vec::new();
            for idx in 0..market.instruments().len() {
                all.extend(market.account_trades(account, idx).into_iter().map(|t| (idx, t)));
            }
            all.sort_by_key(|(_, t)| std::cmp::Reverse((t.fill.ts, t.fill.trade_id)));
            for (idx, t) in all.into_iter().take(SNAP_TRADES) {
                let (Some(inst), Some(v)) = (
                    market.instruments().get(idx),
                    market.order(account, idx, &crate::market::OrderRef::Venue(t.venue_order_id)),
                ) else {
                    continue;
                };
                data.push(trade_entry(inst, &v, &t.fill));
            }
        }
        self.send("snapshot", &data);
    }

    fn send(&mut self, kind: &str, data: &[String]) {
        self.sequence += 1;
        let m = format!(
            "{{\"channel\":\"executions\",\"type\":\"{kind}\",\"data\":[{}],\"sequence\":{}}}",
            data.join(","),
            self.sequence
        );
        self.out.account(m);
    }
}

fn side_text(s: Side) -> &'static str {
    if s == Side::Buy { "buy" } else { "sell" }
}

fn status_text(v: &OrderView) -> &'static str {
    match v.status {
        OrderStatus::New => "new",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled | OrderStatus::Rejected => "canceled",
        OrderStatus::Expired => "expired",
    }
}

/// An order's details (`pending_new`, a snapshot entry, `canceled`, `expired`, `filled`).
fn order_entry(inst: &Instrument, v: &OrderView, exec_type: &str, now: &str) -> String {
    let (ps, qs) = (inst.price_scale(), inst.qty_scale());
    let status = if exec_type == "pending_new" { "pending_new" } else { status_text(v) };
    let tif = match v.tif {
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        _ => "GTC",
    };
    let mut o = Obj::new()
        .str("order_id", &txid('O', v.venue_order_id))
        .str("cl_ord_id", &v.client_order_id)
        .str("symbol", &ws_symbol(inst))
        .raw("order_qty", &number(v.qty.units(), qs))
        .raw("cum_qty", &number(v.cum_qty.units(), qs))
        .raw("cum_cost", &notional_number(v.cum_quote))
        .str("time_in_force", tif)
        .str("exec_type", exec_type)
        .str("side", side_text(v.side))
        .str("order_type", if v.order_type == OrderType::Market { "market" } else { "limit" })
        .str("order_status", status)
        .raw("post_only", if v.tif == TimeInForce::PostOnly { "true" } else { "false" })
        .str("fee_ccy_pref", "fciq")
        .str("timestamp", now);
    if v.order_type == OrderType::Limit {
        o = o.raw("limit_price", &number(v.price.units(), ps)).str("limit_price_type", "static");
    }
    match v.status {
        OrderStatus::Canceled if exec_type == "canceled" => o = o.str("reason", "User requested"),
        OrderStatus::Expired => o = o.str("reason", "Insufficient liquidity"),
        _ => {}
    }
    o.done()
}

/// A `trade` execution.
fn trade_entry(inst: &Instrument, v: &OrderView, f: &FillView) -> String {
    let (ps, qs) = (inst.price_scale(), inst.qty_scale());
    let cost = inst.notional(f.price, f.qty, qt_core::Rounding::Nearest).unwrap_or(Notional::ZERO);
    let avg = if v.cum_qty.is_positive() {
        crate::kit::decimal_text::average_price(inst, v.cum_quote, v.cum_qty)
    } else {
        "0".into()
    };
    let status = if v.status == OrderStatus::Filled || v.status == OrderStatus::PartiallyFilled {
        "partially_filled"
    } else {
        status_text(v)
    };
    let fee = notional_number(f.fee);
    Obj::new()
        .str("order_id", &txid('O', v.venue_order_id))
        .str("cl_ord_id", &v.client_order_id)
        .str("exec_id", &txid('T', f.trade_id))
        .str("exec_type", "trade")
        .raw("trade_id", &f.trade_id.to_string())
        .str("symbol", &ws_symbol(inst))
        .str("side", side_text(v.side))
        .raw("last_qty", &number(f.qty.units(), qs))
        .raw("last_price", &number(f.price.units(), ps))
        .str("liquidity_ind", if f.is_maker { "m" } else { "t" })
        .raw("cost", &notional_number(cost))
        .str("order_type", if v.order_type == OrderType::Market { "market" } else { "limit" })
        .str("timestamp", &rfc3339_micros(f.ts.0))
        .str("order_status", status)
        .raw("cum_qty", &number(v.cum_qty.units(), qs))
        .raw("cum_cost", &notional_number(v.cum_quote))
        .raw("avg_price", if avg.is_empty() { "0" } else { &avg })
        .raw("fee_usd_equiv", &fee)
        .raw("fees", &format!("[{{\"asset\":{},\"qty\":{fee}}}]", quoted(inst.quote())))
        .done()
}

impl QueuedSession for ExecSession<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn on_client(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return self.answer("", None, Err("EGeneral:Invalid arguments".into()));
        };
        let req_id = v.get("req_id").cloned();
        match v.get("method").and_then(Value::as_str).unwrap_or("") {
            "ping" => {
                let t = self.now_text();
                let mut m = json!({"method": "pong", "time_in": t, "time_out": t});
                if let Some(id) = req_id {
                    m["req_id"] = id;
                }
                self.out.control(m.to_string());
            }
            "subscribe" => self.subscribe(v.get("params").unwrap_or(&Value::Null), req_id.as_ref()),
            "unsubscribe" => {
                self.account = None;
                self.events = None;
                self.answer("unsubscribe", req_id.as_ref(), Ok(json!({"channel": "executions"})));
            }
            m => {
                let m = m.to_owned();
                self.answer(&m, req_id.as_ref(), Err("EGeneral:Invalid arguments".into()));
            }
        }
    }

    /// The account's order events as executions; `false` if the market dropped the
    /// subscription.
    fn pump(&mut self) -> bool {
        if self.account.is_none() {
            return true;
        }
        let Some(events) = crate::kit::session::drain(self.events.as_ref()) else { return false };
        let market = self.ctx.market.clone();
        for ev in events {
            let AccountEvent::Order { exec, order } = ev.as_ref() else { continue };
            let Some(inst) = market.instruments().get(order.symbol) else { continue };
            let now = rfc3339_micros(order.updated.0);
            match exec {
                ExecKind::New => {
                    self.send("update", &[order_entry(inst, order, "pending_new", &now)]);
                    self.send("update", &[order_entry(inst, order, "new", &now)]);
                }
                ExecKind::Trade(f) => {
                    self.send("update", &[trade_entry(inst, order, f)]);
                    if order.status == OrderStatus::Filled {
                        self.send("update", &[order_entry(inst, order, "filled", &now)]);
                    }
                }
                ExecKind::Canceled => self.send("update", &[order_entry(inst, order, "canceled", &now)]),
                ExecKind::Expired => self.send("update", &[order_entry(inst, order, "expired", &now)]),
            }
        }
        true
    }
}
