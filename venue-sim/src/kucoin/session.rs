//! One KuCoin WebSocket session: `/market/level2` increments in windows, tickers and matches,
//! the private order topic ([`super::private`]), welcome, pings and acks.

use super::private::{OrdersTopic, TRADE_ORDERS_TOPIC};
use super::wire::{Change, decimal, level2_message};
use super::{LEVEL2_EVERY, MAX_TOPIC_SYMBOLS, WS_POLL, symbol, symbol_index};
use crate::market::BookUpdate;
use crate::protocol::{Ctx, WsIncoming, WsSession};
use crate::stream::{DiffWindow, MergedLevel, SessionGuard, Verdict, merged_levels, send_data};
use qt_core::{Instrument, Side};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// What a push cut by the `malformed_account_frames` fault reads.
const MALFORMED_PUSH: &[u8] = b"{\"type\":\"message\",\"topic\":\"/spotMarket/tradeOrdersV2\",\"data\":,]";

/// One symbol's subscriptions in a session.
#[derive(Debug)]
pub(super) struct Feed {
    pub(super) window: DiffWindow,
    pub(super) level2: bool,
    pub(super) matches: bool,
}

pub(super) struct Session {
    pub(super) feeds: Vec<Feed>,
    pub(super) silent_limit: Duration,
    /// The private order topic (a session opened with a private token).
    pub(super) orders: Option<OrdersTopic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Topic {
    Level2,
    Match,
}

impl Session {
    /// Handles one client message; returns the replies.
    pub(super) fn on_client(&mut self, ctx: &Ctx, text: &str, out: &mut Vec<String>) {
        let Ok(msg) = serde_json::from_str::<Value>(text) else {
            out.push(json!({ "type": "error", "code": 400, "data": "message is not JSON" }).to_string());
            return;
        };
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let kind = msg.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "ping" => {
                out.push(json!({ "id": id, "type": "pong", "timestamp": ctx.market.now_ms() * 1000 }).to_string())
            }
            "subscribe" | "unsubscribe" => {
                let topic = msg.get("topic").and_then(Value::as_str).unwrap_or("");
                let response = msg.get("response").and_then(Value::as_bool).unwrap_or(false);
                match self.change(ctx, topic, kind == "subscribe") {
                    Ok(()) if response => out.push(json!({ "id": id, "type": "ack" }).to_string()),
                    Ok(()) => {}
                    Err(why) => out.push(json!({ "id": id, "type": "error", "code": 404, "data": why }).to_string()),
                }
            }
            _ => out.push(
                json!({ "id": id, "type": "error", "code": 400, "data": format!("type {kind:?} is not supported") })
                    .to_string(),
            ),
        }
    }

    pub(super) fn change(&mut self, ctx: &Ctx, topic: &str, on: bool) -> Result<(), String> {
        if topic == TRADE_ORDERS_TOPIC {
            let orders = self.orders.as_mut().ok_or_else(|| format!("topic {topic} needs a private token"))?;
            orders.set(ctx, on);
            return Ok(());
        }
        let (kind, list) = if let Some(l) = topic.strip_prefix("/market/level2:") {
            (Topic::Level2, l)
        } else if let Some(l) = topic.strip_prefix("/market/match:") {
            (Topic::Match, l)
        } else {
            return Err(format!("topic {topic} is not found"));
        };
        let names: Vec<&str> = list.split(',').collect();
        if names.is_empty() || names.len() > MAX_TOPIC_SYMBOLS || names.iter().any(|n| n.is_empty()) {
            return Err(format!("topic {topic}: 1 to {MAX_TOPIC_SYMBOLS} symbols"));
        }
        let mut indices = Vec::new();
        for n in &names {
            indices
                .push(symbol_index(&ctx.market, n).ok_or_else(|| format!("topic {topic}: symbol {n} is not found"))?);
        }
        for symbol in indices {
            let at = match self.feeds.iter().position(|f| f.window.symbol == symbol) {
                Some(i) => i,
                None if on => {
                    let window = DiffWindow::subscribe(&ctx.market, symbol, LEVEL2_EVERY).ok_or("no book")?;
                    self.feeds.push(Feed { window, level2: false, matches: false });
                    self.feeds.len() - 1
                }
                None => continue,
            };
            let feed = &mut self.feeds[at];
            match kind {
                Topic::Level2 => feed.level2 = on,
                Topic::Match => feed.matches = on,
            }
        }
        self.feeds.retain(|f| f.level2 || f.matches);
        Ok(())
    }

    pub(super) fn matches_of(inst: &Instrument, u: &BookUpdate, out: &mut Vec<String>) {
        if u.trades.is_empty() {
            return;
        }
        let name = symbol(inst);
        for t in &u.trades {
            let data = json!({
                "makerOrderId": format!("{:024x}", t.trade_id.wrapping_mul(2)),
                "price": decimal(t.price.units(), inst.price_scale()),
                "sequence": u.update_id.to_string(),
                "side": if t.aggressor == Side::Buy { "buy" } else { "sell" },
                "size": decimal(t.qty.units(), inst.qty_scale()),
                "symbol": name,
                "takerOrderId": format!("{:024x}", t.trade_id.wrapping_mul(2) + 1),
                "time": t.ts.0.max(0).to_string(),
                "tradeId": t.trade_id.to_string(),
                "type": "match",
            });
            out.push(
                json!({ "topic": format!("/market/match:{name}"), "type": "message", "subject": "trade.l3match", "data": data })
                    .to_string(),
            );
        }
    }

    pub(super) fn level2_of(ctx: &Ctx, inst: &Instrument, window: &crate::stream::Window) -> String {
        let changes = |levels: &[MergedLevel]| -> Vec<Change> {
            levels.iter().map(|l| (l.price.units(), l.qty.units(), l.last_id)).collect()
        };
        let (bids, asks) = merged_levels(&window.ops);
        level2_message(inst, window.ids(), ctx.market.now_ms(), &changes(&asks), &changes(&bids))
    }

    pub(super) fn run(&mut self, ctx: &Ctx, ws: &mut dyn WsSession) {
        let guard = SessionGuard::new(ctx);
        let mut last_heard = Instant::now();
        let mut replies = Vec::new();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        loop {
            match guard.check(ctx) {
                Verdict::Serve => {}
                Verdict::CloseGracefully => return ws.close(true),
                Verdict::Drop => return ws.close(false),
            }
            match ws.recv(WS_POLL) {
                Ok(Some(WsIncoming::Text(text))) => {
                    last_heard = Instant::now();
                    self.on_client(ctx, &text, &mut replies);
                }
                Ok(Some(WsIncoming::Binary(_))) => last_heard = Instant::now(),
                Ok(None) => {}
                Ok(Some(WsIncoming::Closed)) | Err(_) => return,
            }
            let now = Instant::now();
            if now.duration_since(last_heard) > self.silent_limit {
                log::debug!("venue-sim kucoin: no ping for {:?}; closing", self.silent_limit);
                return ws.close(true);
            }
            if ctx.faults.ws_stalled() {
                // Nothing goes out, pongs included; replies wait.
                continue;
            }
            for text in replies.drain(..) {
                if ws.send_text(&text).is_err() {
                    return;
                }
            }
            for feed in &mut self.feeds {
                seen.clear();
                if feed.window.pump(&mut seen).is_err() {
                    return ws.close(false);
                }
                let Some(inst) = ctx.market.instruments().get(feed.window.symbol) else { continue };
                if feed.matches {
                    for u in &seen {
                        Self::matches_of(inst, u, &mut out);
                    }
                }
                if let Some(window) = feed.window.take_due(now, &ctx.faults)
                    && feed.level2
                {
                    out.push(Self::level2_of(ctx, inst, &window));
                }
            }
            for text in out.drain(..) {
                if send_data(ws, &ctx.faults, &text).is_err() {
                    return;
                }
            }
            if let Some(orders) = &mut self.orders
                && !orders.pump(ctx, &mut out)
            {
                return ws.close(false);
            }
            // The account's pushes take the account-frame fault (`malformed_account_frames`),
            // as every venue's private stream does.
            for text in out.drain(..) {
                let sent = if ctx.faults.take_malformed_account_frame() {
                    ws.send_raw_text(MALFORMED_PUSH)
                } else {
                    ws.send_text(&text)
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    }
}
