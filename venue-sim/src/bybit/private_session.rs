//! Bybit's private WebSocket session (`/v5/private`): authentication, `order` and `execution`
//! topics from the account's events and the venue's refused orders, `position` (linear) after
//! each fill or funding that moved a position, and `wallet` after each change of balances.

use super::BybitV5;
use super::MALFORMED;
use super::ledger::OrderRecord;
use super::orders::wallet_json;
use super::positions::ws_position_json;
use super::wire::{Category, Obj, execution_json, json_array, json_str, req_id_of, ws_order_json};
use crate::kit::session::QueuedSession;
use crate::market::{AccountEvent, ExecKind};
use crate::protocol::Ctx;
use crate::public_stream::Outbox;
use crate::signing;
use crossbeam_channel::Receiver;
use qt_core::{AccountId, Notional};
use serde_json::Value;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Private stream
// ---------------------------------------------------------------------------------------------

/// One `/v5/private` session (`websocket/wss-authentication.mdx`, `websocket/private/*.mdx`).
#[derive(Debug)]
pub(super) struct PrivateSession<'a> {
    pub(super) venue: &'a BybitV5,
    pub(super) ctx: &'a Ctx,
    pub(super) conn_id: String,
    pub(super) account: Option<AccountId>,
    pub(super) events: Option<Receiver<Arc<AccountEvent>>>,
    pub(super) refused: Option<Receiver<Arc<OrderRecord>>>,
    /// Subscribed categories of `order` and `execution` (`[spot, linear]`).
    pub(super) orders: [bool; 2],
    pub(super) executions: [bool; 2],
    /// `position` (linear) and `wallet` subscribed.
    pub(super) positions: bool,
    pub(super) wallet: bool,
    pub(super) out: Outbox,
}

pub(super) fn cat_slot(cat: Category) -> usize {
    match cat {
        Category::Spot => 0,
        Category::Linear => 1,
    }
}

impl<'a> PrivateSession<'a> {
    pub(super) fn new(venue: &'a BybitV5, ctx: &'a Ctx, conn_id: String) -> Self {
        Self {
            venue,
            ctx,
            conn_id,
            account: None,
            events: None,
            refused: None,
            orders: [false; 2],
            executions: [false; 2],
            positions: false,
            wallet: false,
            out: Outbox::new(MALFORMED),
        }
    }

    /// `{"req_id"?,"success","ret_msg","op","conn_id"}` (the Connect page's private examples).
    pub(super) fn reply(&self, op: &str, req_id: Option<&str>, success: bool, ret_msg: &str) -> String {
        let mut o = Obj::new();
        if let Some(r) = req_id {
            o = o.s("req_id", r);
        }
        o.boolean("success", success).s("ret_msg", ret_msg).s("op", op).s("conn_id", &self.conn_id).done()
    }

    /// `{"op":"auth","args":[api_key, expires, signature]}`, signature =
    /// `hex(HMAC-SHA256(secret, "GET/realtime" + expires))`, `expires` in the future (ms).
    pub(super) fn auth(&mut self, v: &Value) -> Result<(), &'static str> {
        let args = v.get("args").and_then(Value::as_array).ok_or("Params Error")?;
        let key = args.first().and_then(Value::as_str).ok_or("Params Error")?;
        let expires = match args.get(1) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => return Err("Params Error"),
        };
        let signature = args.get(2).and_then(Value::as_str).ok_or("Params Error")?;
        let expires_ms: i64 = expires.parse().map_err(|_| "Params Error")?;
        if expires_ms <= self.ctx.market.now_ms() {
            return Err("Params Error");
        }
        let (account, secret) = self.ctx.market.account_by_key(key).ok_or("Request not authorized")?;
        if !signing::verify_hex(&secret, format!("GET/realtime{expires}").as_bytes(), signature) {
            return Err("Request not authorized");
        }
        if self.account != Some(account) {
            self.account = Some(account);
            self.events = self.ctx.market.subscribe_account(account);
            self.refused = Some(self.venue.listen_refused(account));
            self.venue.ensure_ledger(self.ctx, account);
        }
        Ok(())
    }

    /// `order`, `order.spot`, `order.linear`, `execution`, `execution.spot`,
    /// `execution.linear` (`websocket/private/order.mdx`, `execution.mdx`), `position`,
    /// `position.linear` (`position.mdx`) and `wallet` (`wallet.mdx`, no category).
    pub(super) fn topics(&mut self, v: &Value, on: bool) -> Result<(), String> {
        if self.account.is_none() {
            return Err("Request not authorized".into());
        }
        let args = v.get("args").and_then(Value::as_array).filter(|a| !a.is_empty()).ok_or("error:args invalid")?;
        let mut changes = Vec::new();
        let (mut positions, mut wallet) = (None, None);
        for a in args {
            let topic = a.as_str().ok_or("error:args invalid")?;
            match topic {
                "position" | "position.linear" => {
                    positions = Some(on);
                    continue;
                }
                "wallet" => {
                    wallet = Some(on);
                    continue;
                }
                _ => {}
            }
            let (name, cats): (&str, &[Category]) = match topic.split_once('.') {
                None => (topic, &[Category::Spot, Category::Linear]),
                Some((name, "spot")) => (name, &[Category::Spot]),
                Some((name, "linear")) => (name, &[Category::Linear]),
                Some(_) => return Err(format!("error:invalid topic:[{topic}]")),
            };
            if !matches!(name, "order" | "execution") {
                return Err(format!("error:invalid topic:[{topic}]"));
            }
            changes.push((name == "order", cats));
        }
        self.positions = positions.unwrap_or(self.positions);
        self.wallet = wallet.unwrap_or(self.wallet);
        for (orders, cats) in changes {
            for c in cats {
                let slot = cat_slot(*c);
                if orders {
                    self.orders[slot] = on;
                } else {
                    self.executions[slot] = on;
                }
            }
        }
        Ok(())
    }

    pub(super) fn push(&mut self, topic: &str, entries: Vec<String>) {
        let m = Obj::new()
            .s("id", &self.venue.message_id())
            .s("topic", topic)
            .int("creationTime", self.ctx.market.now_ms())
            .raw("data", &json_array(entries))
            .done();
        self.out.account(m);
    }
}

impl QueuedSession for PrivateSession<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn on_client(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            let reply = self.reply("", None, false, "error:invalid json");
            self.out.control(reply);
            return;
        };
        let req_id = req_id_of(&v);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("").to_owned();
        let reply = match op.as_str() {
            // "Pong message example of private channels".
            "ping" => {
                let mut o = Obj::new();
                if let Some(r) = &req_id {
                    o = o.s("req_id", r);
                }
                o.s("op", "pong")
                    .raw("args", &json_array([json_str(&self.ctx.market.now_ms().to_string())]))
                    .s("conn_id", &self.conn_id)
                    .done()
            }
            "auth" => {
                let (ok, msg) = match self.auth(&v) {
                    Ok(()) => (true, ""),
                    Err(msg) => (false, msg),
                };
                self.reply("auth", req_id.as_deref(), ok, msg)
            }
            "subscribe" | "unsubscribe" => {
                let on = op == "subscribe";
                let (ok, msg) = match self.topics(&v, on) {
                    Ok(()) => (true, String::new()),
                    Err(msg) => (false, msg),
                };
                self.reply(&op, req_id.as_deref(), ok, &msg)
            }
            _ => self.reply(&op, req_id.as_deref(), false, "error:invalid op"),
        };
        self.out.control(reply);
    }

    /// Takes in account events and refused orders; `false` if the market dropped us.
    fn pump(&mut self) -> bool {
        let Some(account) = self.account else { return true };
        let Some(events) = crate::kit::session::drain(self.events.as_ref()) else { return false };
        let refused: Vec<Arc<OrderRecord>> =
            self.refused.as_ref().map(|rx| rx.try_iter().collect()).unwrap_or_default();
        let instruments = self.ctx.market.instruments();
        let mut wallet_changed = false;
        for ev in events {
            let (exec, order) = match ev.as_ref() {
                AccountEvent::Order { exec, order } => (exec, order),
                AccountEvent::Balances { .. } => {
                    wallet_changed = true;
                    continue;
                }
                AccountEvent::Position { position, .. } => {
                    wallet_changed = true;
                    let Some(inst) = instruments.get(position.symbol) else { continue };
                    if self.positions && Category::of(inst.kind()) == Some(Category::Linear) {
                        self.push("position", vec![ws_position_json(&self.ctx.market, inst, position)]);
                    }
                    continue;
                }
            };
            let Some(inst) = instruments.get(order.symbol) else { continue };
            let Some(cat) = Category::of(inst.kind()) else { continue };
            let slot = cat_slot(cat);
            // An execution goes out before the order state it produced.
            let upto = match exec {
                ExecKind::Trade(fill) => {
                    if self.executions[slot] {
                        let closing = self.ctx.market.trade_closing(account, order.symbol, fill.trade_id);
                        self.push("execution", vec![execution_json(inst, cat, order, fill, closing)]);
                    }
                    Some(fill.trade_id)
                }
                _ => None,
            };
            if self.orders[slot] {
                let fee =
                    self.venue.with_ledger(self.ctx, account, |l| l.fee(order.symbol, order.venue_order_id, upto));
                let rec = self.venue.marked(account, OrderRecord::plain(order.clone()));
                self.push("order", vec![ws_order_json(inst, cat, &rec, fee)]);
            }
        }
        if wallet_changed && self.wallet {
            self.push("wallet", vec![wallet_json(self.ctx, account, None)]);
        }
        for rec in refused {
            let Some(inst) = instruments.get(rec.view.symbol) else { continue };
            let Some(cat) = Category::of(inst.kind()) else { continue };
            if self.orders[cat_slot(cat)] {
                self.push("order", vec![ws_order_json(inst, cat, &rec, Notional::ZERO)]);
            }
        }
        true
    }
}
