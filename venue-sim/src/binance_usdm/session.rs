//! One Binance USD-M WebSocket session: `depth` windows chained by `pu`, `bookTicker`, `aggTrade`,
//! live `SUBSCRIBE`/`UNSUBSCRIBE` and pings, on one route ([`Route`]): a stream the route does not
//! carry is accepted and never delivered.

use super::rest::symbol_of;
use super::route::Route;
use super::wire::{agg_trade_text, book_ticker_text, depth_update_text};
use super::{PING_EVERY, WS_POLL};
use crate::kit::combined_streams::wrap_payload;
use crate::kit::decimal_text::ms;
use crate::market::BookUpdate;
use crate::protocol::{Ctx, WsIncoming, WsSession};
use crate::stream::{DiffWindow, MergedLevel, SessionGuard, Verdict, merged_levels, send_data};
use qt_core::{Price, Qty};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Depth,
    BookTicker,
    AggTrade,
}

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) name: String,
    pub(super) symbol: usize,
    pub(super) kind: Kind,
}

/// Per symbol: its feed, and the chain of depth messages.
#[derive(Debug)]
pub(super) struct Feed {
    pub(super) window: DiffWindow,
    pub(super) last_u: u64,
    pub(super) depth_stream: Option<String>,
}

pub(super) struct Session {
    pub(super) combined: bool,
    pub(super) route: Route,
    /// Streams accepted on a route that does not carry them: never delivered.
    pub(super) silent: Vec<String>,
    pub(super) streams: Vec<Stream>,
    pub(super) feeds: Vec<Feed>,
    pub(super) next_ping: Instant,
    pub(super) agg_id: u64,
}

impl Session {
    /// A session on `route` with the streams `names` asks for (`/`-separated). On a raw path a
    /// segment without `@` is a connection id (`/ws/0`, as ccxt numbers its connections), not a
    /// stream; no streams at all is a session waiting for `SUBSCRIBE`. `None`: an unknown stream.
    pub(super) fn open(ctx: &Ctx, route: Route, combined: bool, names: &str) -> Option<Self> {
        let mut session = Self {
            combined,
            route,
            silent: Vec::new(),
            streams: Vec::new(),
            feeds: Vec::new(),
            next_ping: Instant::now() + PING_EVERY,
            agg_id: 0,
        };
        for name in names.split('/').filter(|n| !n.is_empty() && (combined || n.contains('@'))) {
            session.add(ctx, name)?;
        }
        Some(session)
    }

    /// Adds stream `name` (`None`: not a stream of a listed symbol).
    pub(super) fn add(&mut self, ctx: &Ctx, name: &str) -> Option<()> {
        if self.streams.iter().any(|s| s.name == name) || self.silent.iter().any(|s| s == name) {
            return Some(());
        }
        let (sym, kind) = name.split_once('@')?;
        if sym.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let symbol = symbol_of(ctx, sym)?;
        let (kind, every) = match kind {
            "depth" | "depth@250ms" => (Kind::Depth, Duration::from_millis(250)),
            "depth@100ms" => (Kind::Depth, Duration::from_millis(100)),
            "depth@500ms" => (Kind::Depth, Duration::from_millis(500)),
            "bookTicker" => (Kind::BookTicker, Duration::from_millis(100)),
            "aggTrade" => (Kind::AggTrade, Duration::from_millis(100)),
            _ => return None,
        };
        if !self.route.carries(kind) {
            self.silent.push(name.to_string());
            return Some(());
        }
        let feed = match self.feeds.iter().position(|f| f.window.symbol == symbol) {
            Some(i) => &mut self.feeds[i],
            None => {
                let window = DiffWindow::subscribe(&ctx.market, symbol, every)?;
                let last_u = window.start_id;
                self.feeds.push(Feed { window, last_u, depth_stream: None });
                self.feeds.last_mut()?
            }
        };
        if kind == Kind::Depth {
            // The window's period is the depth stream's; a depth stream named after a ticker or
            // trade stream of the same symbol keeps the feed's first period.
            feed.depth_stream = Some(name.to_string());
        }
        self.streams.push(Stream { name: name.to_string(), symbol, kind });
        Some(())
    }

    pub(super) fn remove(&mut self, name: &str) {
        self.streams.retain(|s| s.name != name);
        self.silent.retain(|s| s != name);
        for feed in &mut self.feeds {
            if feed.depth_stream.as_deref() == Some(name) {
                feed.depth_stream = None;
            }
        }
    }

    /// A live `SUBSCRIBE` / `UNSUBSCRIBE` (`{"method":..,"params":[..],"id":..}`); the reply.
    pub(super) fn on_control(&mut self, ctx: &Ctx, text: &str) -> String {
        let Ok(req) = serde_json::from_str::<Value>(text) else {
            return json!({ "code": 3, "msg": "Invalid JSON" }).to_string();
        };
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let names: Vec<&str> = req
            .get("params")
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match req.get("method").and_then(Value::as_str) {
            Some("SUBSCRIBE") => {
                if let Some(bad) = names.iter().find(|n| self.add(ctx, n).is_none()) {
                    return json!({ "code": 2, "msg": format!("Invalid request: unknown stream `{bad}`"), "id": id })
                        .to_string();
                }
            }
            Some("UNSUBSCRIBE") => names.iter().for_each(|n| self.remove(n)),
            _ => return json!({ "code": 2, "msg": "Invalid request: unknown method", "id": id }).to_string(),
        }
        json!({ "result": null, "id": id }).to_string()
    }

    pub(super) fn stream_of(&self, symbol: usize, kind: Kind) -> Option<&str> {
        self.streams.iter().find(|s| s.symbol == symbol && s.kind == kind).map(|s| s.name.as_str())
    }

    /// Ticker and trade messages of `u`.
    pub(super) fn immediate(&mut self, ctx: &Ctx, u: &BookUpdate, out: &mut Vec<String>) {
        let Some(inst) = ctx.market.instruments().get(u.symbol) else { return };
        let now = ctx.market.now_ms();
        if let Some(name) = self.stream_of(u.symbol, Kind::BookTicker)
            && let (Some(bid), Some(ask)) = (u.best_bid, u.best_ask)
            && !u.levels.is_empty()
        {
            let units = |(p, q): (Price, Qty)| (p.units(), q.units());
            let payload = book_ticker_text(inst, u.update_id, (now, ms(u.ts)), units(bid), units(ask));
            out.push(wrap_payload(self.combined, name, &payload));
        }
        if let Some(name) = self.stream_of(u.symbol, Kind::AggTrade).map(str::to_string) {
            for t in &u.trades {
                self.agg_id += 1;
                out.push(wrap_payload(self.combined, &name, &agg_trade_text(inst, now, self.agg_id, t)));
            }
        }
    }

    pub(super) fn run(&mut self, ctx: &Ctx, ws: &mut dyn WsSession) {
        let guard = SessionGuard::new(ctx);
        let mut seen = Vec::new();
        let mut out = Vec::new();
        loop {
            match guard.check(ctx) {
                Verdict::Serve => {}
                Verdict::CloseGracefully => return ws.close(true),
                Verdict::Drop => return ws.close(false),
            }
            match ws.recv(WS_POLL) {
                Ok(Some(WsIncoming::Closed)) | Err(_) => return,
                Ok(Some(WsIncoming::Text(text))) => {
                    let reply = self.on_control(ctx, &text);
                    if ws.send_text(&reply).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
            }
            if ctx.faults.ws_stalled() {
                continue;
            }
            for i in 0..self.feeds.len() {
                seen.clear();
                if self.feeds[i].window.pump(&mut seen).is_err() {
                    return ws.close(false);
                }
                for u in &seen {
                    self.immediate(ctx, u, &mut out);
                }
            }
            let now = Instant::now();
            for feed in &mut self.feeds {
                let Some(window) = feed.window.take_due(now, &ctx.faults) else { continue };
                let (first, last) = window.ids();
                // `pu` chains what the venue published, whether this session shows it or not.
                let pu = window.lost.unwrap_or(feed.last_u);
                feed.last_u = last;
                let Some(name) = &feed.depth_stream else { continue };
                let Some(inst) = ctx.market.instruments().get(feed.window.symbol) else { continue };
                let (bids, asks) = merged_levels(&window.ops);
                let units = |levels: &[MergedLevel]| -> Vec<(i64, i64)> {
                    levels.iter().map(|l| (l.price.units(), l.qty.units())).collect()
                };
                let t = window.ops.last().map_or(0, |o| ms(o.ts));
                let times = (ctx.market.now_ms(), t);
                let payload = depth_update_text(inst, times, (first, last, pu), &units(&bids), &units(&asks));
                out.push(wrap_payload(self.combined, name, &payload));
            }
            for text in out.drain(..) {
                if send_data(ws, &ctx.faults, &text).is_err() {
                    return;
                }
            }
            if now >= self.next_ping {
                self.next_ping = now + PING_EVERY;
                if ws.send_ping(ctx.market.now_ms().to_string().as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}
