//! One `/v2` session: `book` and `trade` subscriptions, their pushes and heartbeats, run by the
//! shared loop ([`crate::kit::session`]).

use super::wire::{book_message, book_update, checksum, number, quoted, ws_symbol};
use super::{DEPTHS, HEARTBEAT_INTERVAL};
use crate::kit::session::QueuedSession;
use crate::market::{BookUpdate, TradeView};
use crate::protocol::Ctx;
use crate::public_stream::{
    MirrorBook, Outbox, PublishedView, SymbolSubscription, pump_symbols, rfc3339_micros, symbol_by_pair, symbol_feed,
};
use crossbeam_channel::Receiver;
use qt_core::{Instrument, Side};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// A subscribed `book`.
#[derive(Debug)]
pub(super) struct BookChannel {
    pub(super) view: PublishedView,
    pub(super) dirty: bool,
}

/// A session's view of one symbol.
#[derive(Debug)]
pub(super) struct SymbolFeed {
    pub(super) symbol: usize,
    pub(super) inst: Instrument,
    pub(super) name: String,
    pub(super) rx: Receiver<Arc<BookUpdate>>,
    pub(super) book: MirrorBook,
    pub(super) channel: Option<BookChannel>,
    pub(super) trades: bool,
}

impl SymbolSubscription for SymbolFeed {
    fn parts(&mut self) -> (usize, &Receiver<Arc<BookUpdate>>, &mut MirrorBook) {
        (self.symbol, &self.rx, &mut self.book)
    }

    fn start(symbol: usize, inst: Instrument, rx: Receiver<Arc<BookUpdate>>, book: MirrorBook) -> Self {
        Self { symbol, name: ws_symbol(&inst), inst, rx, book, channel: None, trades: false }
    }

    fn on_update(&mut self, update: &BookUpdate, changed: bool, out: &mut Outbox) {
        if changed && let Some(c) = &mut self.channel {
            c.dirty = true;
        }
        if self.trades && !update.trades.is_empty() {
            out.data(self.trade_message(&update.trades));
        }
    }
}

impl SymbolFeed {
    pub(super) fn trade_message(&self, trades: &[TradeView]) -> String {
        let items: Vec<String> = trades
            .iter()
            .map(|t| {
                format!(
                    "{{\"symbol\":{},\"side\":\"{}\",\"price\":{},\"qty\":{},\"ord_type\":\"limit\",\"trade_id\":{},\"timestamp\":{}}}",
                    quoted(&self.name),
                    if t.aggressor == Side::Buy { "buy" } else { "sell" },
                    number(t.price.units(), self.inst.price_scale()),
                    number(t.qty.units(), self.inst.qty_scale()),
                    t.trade_id,
                    quoted(&rfc3339_micros(t.ts.0)),
                )
            })
            .collect();
        format!("{{\"channel\":\"trade\",\"type\":\"update\",\"data\":[{}]}}", items.join(","))
    }
}

/// One `/v2` session.
#[derive(Debug)]
pub(super) struct Session<'a> {
    pub(super) ctx: &'a Ctx,
    pub(super) symbols: Vec<SymbolFeed>,
    pub(super) out: Outbox,
    /// When the next `heartbeat` is due.
    pub(super) next_heartbeat: Instant,
}

pub(super) fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

impl Session<'_> {
    pub(super) fn reply(&mut self, method: &str, req_id: Option<&Value>, body: Value) {
        let stamp = rfc3339_micros(now_ns());
        let mut v = body;
        v["method"] = Value::String(method.into());
        v["time_in"] = Value::String(stamp.clone());
        v["time_out"] = Value::String(stamp);
        if let Some(id) = req_id {
            v["req_id"] = id.clone();
        }
        self.out.control(v.to_string());
    }

    pub(super) fn on_subscription(&mut self, subscribe: bool, v: &Value, req_id: Option<&Value>) {
        let method = if subscribe { "subscribe" } else { "unsubscribe" };
        let params = v.get("params");
        let channel = params.and_then(|p| p.get("channel")).and_then(Value::as_str).unwrap_or("").to_owned();
        let symbols: Vec<String> = params
            .and_then(|p| p.get("symbol"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let depth = params.and_then(|p| p.get("depth")).map_or(Some(10), Value::as_u64);
        let snapshot = params.and_then(|p| p.get("snapshot")).and_then(Value::as_bool).unwrap_or(true);
        let refuse = |s: &mut Self, error: String, symbol: Option<&str>| {
            let mut body = json!({"error": error, "success": false});
            if let Some(sym) = symbol {
                body["symbol"] = Value::String(sym.into());
            }
            s.reply(method, req_id, body);
        };
        if channel != "book" && channel != "trade" {
            return refuse(self, format!("Channel {channel} not found"), None);
        }
        let Some(depth) = depth.filter(|d| DEPTHS.contains(d)) else {
            return refuse(self, "Invalid depth".into(), None);
        };
        if symbols.is_empty() {
            return refuse(self, "Missing symbol".into(), None);
        }
        for name in symbols {
            let Some(idx) = symbol_by_pair(&self.ctx.market, &name, '/') else {
                refuse(self, format!("Currency pair not supported {name}"), Some(&name));
                continue;
            };
            let mut result = json!({"channel": channel, "symbol": name});
            if channel == "book" {
                result["depth"] = json!(depth);
            }
            if subscribe {
                result["snapshot"] = json!(snapshot);
            }
            self.reply(method, req_id, json!({"result": result, "success": true}));
            match (subscribe, channel.as_str()) {
                (true, "book") => self.subscribe_book(idx, depth as usize, snapshot),
                (true, _) => self.subscribe_trades(idx, snapshot),
                (false, chan) => self.unsubscribe(idx, chan == "book"),
            }
        }
    }

    pub(super) fn feed(&mut self, idx: usize) -> Option<&mut SymbolFeed> {
        symbol_feed(&mut self.symbols, &self.ctx.market, idx)
    }

    /// (Re)subscribing `book` sends a fresh snapshot (how a client resyncs).
    pub(super) fn subscribe_book(&mut self, idx: usize, depth: usize, snapshot: bool) {
        let Some(feed) = self.feed(idx) else { return };
        let (view, bids, asks) = PublishedView::snapshot(&feed.book, depth);
        let sum = checksum(&feed.inst, &view);
        let message = snapshot.then(|| book_message(&feed.inst, "snapshot", &bids, &asks, sum, now_ns()));
        feed.channel = Some(BookChannel { view, dirty: false });
        if let Some(m) = message {
            self.out.data(m);
        }
    }

    pub(super) fn subscribe_trades(&mut self, idx: usize, snapshot: bool) {
        let Some(feed) = self.feed(idx) else { return };
        feed.trades = true;
        if snapshot {
            self.out.data("{\"channel\":\"trade\",\"type\":\"snapshot\",\"data\":[]}".into());
        }
    }

    pub(super) fn unsubscribe(&mut self, idx: usize, book: bool) {
        if let Some(feed) = self.symbols.iter_mut().find(|f| f.symbol == idx) {
            if book {
                feed.channel = None;
            } else {
                feed.trades = false;
            }
        }
        self.symbols.retain(|f| f.channel.is_some() || f.trades);
    }

    /// Sends a `book` update for every view whose top changed.
    pub(super) fn produce_pushes(&mut self) {
        let faults = &self.ctx.faults;
        for feed in &mut self.symbols {
            let Some(c) = &mut feed.channel else { continue };
            if !c.dirty {
                continue;
            }
            c.dirty = false;
            let Some((mut bids, mut asks, sum)) = book_update(&feed.inst, &mut c.view, &feed.book) else { continue };
            if faults.take_corrupt_level() {
                let lot = feed.inst.lot().units();
                if let Some(level) = bids.first_mut().or(asks.first_mut()) {
                    level.1 += lot;
                }
            }
            let m = book_message(&feed.inst, "update", &bids, &asks, sum, now_ns());
            self.out.data(m);
        }
    }
}

impl QueuedSession for Session<'_> {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.out
    }

    /// The heartbeat when one is due (only once something is subscribed), then the book and
    /// trade pushes.
    fn produce(&mut self, now: Instant) {
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + HEARTBEAT_INTERVAL;
            if !self.symbols.is_empty() {
                self.out.control("{\"channel\":\"heartbeat\"}".into());
            }
        }
        self.produce_pushes();
    }

    fn on_client(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.reply("", None, json!({"error": "Malformed request", "success": false}));
            return;
        };
        let method = v.get("method").and_then(Value::as_str).unwrap_or("").to_owned();
        let req_id = v.get("req_id").cloned();
        match method.as_str() {
            "ping" => self.reply("pong", req_id.as_ref(), json!({})),
            "subscribe" | "unsubscribe" => self.on_subscription(method == "subscribe", &v, req_id.as_ref()),
            _ => self.reply(&method, req_id.as_ref(), json!({"error": "Method not found", "success": false})),
        }
    }

    /// Takes in every market update; `false` if the market dropped a subscription.
    fn pump(&mut self) -> bool {
        pump_symbols(&mut self.symbols, &mut self.out)
    }
}
