//! One `/ws/v5/private` session: `login`, then the `orders` channel from the account's events
//! and the venue's own cancellations ([`super::desk`]), run by the shared loop
//! ([`crate::kit::session`]).
//!
//! Facts (`NOTES-orders.md` §3, samples `testdata/okx/orders/ws_login_*.json`,
//! `ws_orders_subscribe_*.json`, `order_update.json`; [MIRROR] of the docs):
//! - `{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}`, `timestamp` in
//!   seconds, `sign = base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify"))`;
//!   the login "expires 30 s after its timestamp" (a timestamp more than 30 s off the venue's
//!   clock either way is refused: the ahead side is a guess). Success
//!   `{"event":"login","code":"0","msg":"","connId"}`, failure
//!   `{"event":"error","code":"60009","msg":"Login failed.","connId"}`.
//! - Subscribing before login: 60011 "Please log in"; an unknown channel or a bad `instType`:
//!   60018 / 60012 as the public stream answers them.
//! - `orders` with `instType` SPOT, SWAP or ANY (and optionally `instId`): no data at
//!   subscription, one push per order update `{"arg":{"channel","instType","uid"},"data":[..]}`.
//! - `ping` → `pong`; idle 30 s without traffic closes the session.
//!
//! Faults: pushes go out as account frames (the malformed-account-frame fault), drops and
//! outages as for every session.

use super::OkxV5;
use super::auth::{Caller, verify_base64};
use super::desk::Refused;
use super::order_doc::OrderDoc;
use super::wire::instrument_index;
use super::wire::{inst_id, inst_type};
use crate::kit::session::QueuedSession;
use crate::market::{AccountEvent, ExecKind};
use crate::protocol::Ctx;
use crate::public_stream::Outbox;
use crossbeam_channel::Receiver;
use qt_core::AccountId;
use serde_json::{Value, json};
use std::sync::Arc;

/// The path the login signs.
pub const LOGIN_PATH: &str = "/users/self/verify";
/// How far the login timestamp may be from the venue's clock, s.
const LOGIN_WINDOW_S: i64 = 30;

/// One `orders` subscription.
#[derive(Debug, Clone)]
struct Sub {
    inst_type: String,
    inst_id: Option<String>,
}

/// A private session.
pub(super) struct PrivateSession<'a> {
    venue: &'a OkxV5,
    ctx: &'a Ctx,
    conn_id: String,
    account: Option<AccountId>,
    events: Option<Receiver<Arc<AccountEvent>>>,
    refused: Option<Receiver<Arc<Refused>>>,
    subs: Vec<Sub>,
    pub(super) out: Outbox,
}

impl<'a> PrivateSession<'a> {
    pub(super) fn new(venue: &'a OkxV5, ctx: &'a Ctx, conn_id: String, malformed: &'static [u8]) -> Self {
        Self {
            venue,
            ctx,
            conn_id,
            account: None,
            events: None,
            refused: None,
            subs: Vec::new(),
            out: Outbox::new(malformed),
        }
    }

    fn error(&mut self, id: Option<&str>, code: &str, msg: &str) {
        let mut m = json!({"event": "error", "code": code, "msg": msg, "connId": self.conn_id});
        if let Some(id) = id {
            m["id"] = Value::from(id);
        }
        self.out.control(m.to_string());
    }

    fn login(&mut self, v: &Value) -> bool {
        let Some(arg) = v.get("args").and_then(Value::as_array).and_then(|a| a.first()) else { return false };
        let field = |k: &str| arg.get(k).and_then(Value::as_str).unwrap_or("");
        let (key, pass, ts, sign) = (field("apiKey"), field("passphrase"), field("timestamp"), field("sign"));
        let Some((account, secret)) = self.ctx.market.account_by_key(key) else { return false };
        if !self.venue.passphrase_ok(key, pass) {
            return false;
        }
        let Ok(secs) = ts.parse::<i64>() else { return false };
        if (self.ctx.market.now_ms().div_euclid(1000) - secs).abs() > LOGIN_WINDOW_S {
            return false;
        }
        if !verify_base64(&secret, format!("{ts}GET{LOGIN_PATH}").as_bytes(), sign) {
            return false;
        }
        if self.account != Some(account) {
            self.account = Some(account);
            self.events = self.ctx.market.subscribe_account(account);
            self.refused = Some(self.venue.desk.listen(account));
        }
        true
    }

    fn on_arg(&mut self, id: Option<&str>, subscribe: bool, arg: &Value) {
        if self.account.is_none() {
            return self.error(id, "60011", "Please log in");
        }
        let channel = arg.get("channel").and_then(Value::as_str).unwrap_or("");
        let inst_type = arg.get("instType").and_then(Value::as_str).unwrap_or("");
        if channel != "orders" {
            return self.error(id, "60018", &format!("Wrong URL or channel:{channel} doesn't exist."));
        }
        if !matches!(inst_type, "SPOT" | "SWAP" | "ANY" | "MARGIN" | "FUTURES" | "OPTION") {
            return self.error(id, "60012", &format!("Invalid request: instType {inst_type:?}"));
        }
        let inst = arg.get("instId").and_then(Value::as_str).map(str::to_owned);
        if let Some(i) = &inst
            && instrument_index(&self.ctx.market, i).is_none()
        {
            return self.error(id, "60018", &format!("Wrong URL or channel:{channel},instId:{i} doesn't exist."));
        }
        let sub = Sub { inst_type: inst_type.to_owned(), inst_id: inst };
        self.subs.retain(|s| !(s.inst_type == sub.inst_type && s.inst_id == sub.inst_id));
        if subscribe {
            self.subs.push(sub);
        }
        let mut m =
            json!({"event": if subscribe { "subscribe" } else { "unsubscribe" }, "arg": arg, "connId": self.conn_id});
        if let Some(id) = id {
            m["id"] = Value::from(id);
        }
        self.out.control(m.to_string());
    }

    /// The subscription a push of `inst` goes out under, if any.
    fn sub_for(&self, inst: &qt_core::Instrument) -> Option<&Sub> {
        let (kind, id) = (inst_type(inst), inst_id(inst));
        self.subs
            .iter()
            .find(|s| (s.inst_type == "ANY" || s.inst_type == kind) && s.inst_id.as_deref().is_none_or(|i| i == id))
    }

    fn push(&mut self, kind: &str, entry: Value) {
        let Some(account) = self.account else { return };
        let m = json!({
            "arg": {"channel": "orders", "instType": kind, "uid": account.index().to_string()},
            "data": [entry],
        });
        self.out.account(m.to_string());
    }
}

impl QueuedSession for PrivateSession<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    fn on_client(&mut self, text: &str) {
        if text == "ping" {
            self.out.control("pong".into());
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return self.error(None, "60012", &format!("Invalid request: {text}"));
        };
        let id = v.get("id").and_then(Value::as_str).map(str::to_owned);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        match op {
            "login" => {
                if self.login(&v) {
                    let m = json!({"event": "login", "code": "0", "msg": "", "connId": self.conn_id});
                    self.out.control(m.to_string());
                } else {
                    self.error(None, "60009", "Login failed.");
                }
            }
            "subscribe" | "unsubscribe" => {
                let Some(args) = v.get("args").and_then(Value::as_array).filter(|a| !a.is_empty()) else {
                    return self.error(id.as_deref(), "60012", &format!("Invalid request: {text}"));
                };
                for a in args.clone() {
                    self.on_arg(id.as_deref(), op == "subscribe", &a);
                }
            }
            _ => self.error(id.as_deref(), "60012", &format!("Invalid request: {text}")),
        }
    }

    /// Takes in the account's events and the venue's cancellations; `false` if the market
    /// dropped the subscription.
    fn pump(&mut self) -> bool {
        let Some(account) = self.account else { return true };
        let Some(events) = crate::kit::session::drain(self.events.as_ref()) else { return false };
        let refused: Vec<Arc<Refused>> = self.refused.as_ref().map(|rx| rx.try_iter().collect()).unwrap_or_default();
        let market = &self.ctx.market;
        let caller = Caller { account };
        for ev in events {
            let AccountEvent::Order { exec, order } = ev.as_ref() else { continue };
            let Some(inst) = market.instruments().get(order.symbol) else { continue };
            if self.sub_for(inst).is_none() {
                continue;
            }
            let trade = match exec {
                ExecKind::Trade(f) => Some(*f),
                _ => None,
            };
            let fills = self.venue.order_fills(market, caller, order, trade.map(|f| f.trade_id));
            let reduce_only = self.venue.desk.reduce_only.contains((account, order.symbol, order.venue_order_id));
            let doc = OrderDoc { inst, view: order, fills: &fills, reduce_only, cancel_source: "" };
            let entry = doc.push(trade.as_ref());
            self.push(inst_type(inst), entry);
        }
        for r in refused {
            let Some(inst) = market.instruments().get(r.view.symbol) else { continue };
            if self.sub_for(inst).is_none() {
                continue;
            }
            let doc = OrderDoc { inst, view: &r.view, fills: &[], reduce_only: false, cancel_source: r.cancel_source };
            let entry = doc.push(None);
            self.push(inst_type(inst), entry);
        }
        true
    }
}
