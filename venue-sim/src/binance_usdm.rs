//! Binance USD-M futures public market data for the venue simulator: [`BinanceUsdm`].
//!
//! What it serves (field names and shapes follow the USD-M docs, NOTES.md §1b; decimals as the
//! spot protocol writes them, `crate::kit::decimal_text`):
//! - REST: `GET /fapi/v1/ping`, `/fapi/v1/time`, `/fapi/v1/exchangeInfo` (every listed symbol as
//!   a `PERPETUAL` with `PRICE_FILTER.tickSize` and `LOT_SIZE.stepSize` from its grid) and
//!   `/fapi/v1/depth?symbol=&limit=` → `{"lastUpdateId","E","T","bids","asks"}` (limit one of
//!   5, 10, 20, 50, 100, 500, 1000; default 500). Errors are `{"code":..,"msg":..}` with HTTP 400.
//! - WebSocket `/stream?streams=a/b` (combined, `{"stream":..,"data":..}`) and `/ws/a/b` (raw):
//!   `<sym>@depth[@100ms|@250ms|@500ms]` → `depthUpdate` with `E`, `T`, `U`, `u` and
//!   `pu` = the previous message's `u`; `<sym>@bookTicker` → `bookTicker` (`u`, `E`, `T`, best
//!   bid/ask); `<sym>@aggTrade` → `aggTrade` (one per trade: `a`, `p`, `q`, `f`, `l`, `T`, `m`).
//!   Live `SUBSCRIBE` / `UNSUBSCRIBE` (`{"result":null,"id":..}`). The server pings every 20 s.
//!
//! Diff contract: a message covers the market's operations `U..=u`; `pu` chains messages. An
//! injected sequence skip loses the window's first operation as if a one-operation message had
//! been lost: the next message's `pu` is that operation's id, not the previous message's `u`, so
//! a client following the futures rule (`pu == previous u`) sees the gap.
//!
//! Threads and contract: as every protocol (server connection threads; allocates freely; never
//! panics on client input).

use crate::kit::combined_streams::{stream_names, wrap_payload};
use crate::kit::decimal_text::{levels_json, ms, price_text, qty_text};
use crate::kit::form::parse_form;
use crate::market::BookUpdate;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsIncoming, WsSession};
use crate::stream::{DiffWindow, SessionGuard, Verdict, merged_levels, send_data};
use qt_core::{Instrument, Side};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `limit` values `/fapi/v1/depth` accepts.
const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];
/// How often a session looks at its socket and feeds.
const WS_POLL: Duration = Duration::from_millis(5);
/// Server ping interval.
const PING_EVERY: Duration = Duration::from_secs(20);

/// The Binance USD-M futures public-data protocol.
#[derive(Debug, Default)]
pub struct BinanceUsdm;

fn error(code: i32, msg: &str) -> HttpResponse {
    HttpResponse::json(400, &json!({ "code": code, "msg": msg }))
}

fn symbol_of(ctx: &Ctx, name: &str) -> Option<usize> {
    ctx.market.instruments().iter().position(|i| i.symbol().eq_ignore_ascii_case(name))
}

fn symbol_info(inst: &Instrument) -> Value {
    json!({
        "symbol": inst.symbol(),
        "pair": inst.symbol(),
        "contractType": "PERPETUAL",
        "status": "TRADING",
        "baseAsset": inst.base(),
        "quoteAsset": inst.quote(),
        "marginAsset": inst.quote(),
        "pricePrecision": inst.price_scale(),
        "quantityPrecision": inst.qty_scale(),
        "filters": [
            { "filterType": "PRICE_FILTER", "tickSize": price_text(inst, inst.tick()) },
            { "filterType": "LOT_SIZE", "stepSize": qty_text(inst, inst.lot()), "minQty": qty_text(inst, inst.min_qty()) },
        ],
    })
}

impl BinanceUsdm {
    fn depth(ctx: &Ctx, query: &str) -> HttpResponse {
        let Ok(params) = parse_form(query.as_bytes()) else {
            return error(-1100, "Illegal characters found in a parameter.");
        };
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let Some(name) = get("symbol") else {
            return error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
        };
        let Some(index) = symbol_of(ctx, name) else { return error(-1121, "Invalid symbol.") };
        let limit = match get("limit").map(str::parse::<usize>) {
            None => 500,
            Some(Ok(n)) if DEPTH_LIMITS.contains(&n) => n,
            Some(_) => return error(-1130, "Data sent for parameter 'limit' is not valid."),
        };
        let (Some(snap), Some(inst)) = (ctx.market.snapshot(index, limit), ctx.market.instruments().get(index)) else {
            return error(-1121, "Invalid symbol.");
        };
        let now = ctx.market.now_ms();
        HttpResponse::json(
            200,
            &json!({
                "lastUpdateId": snap.update_id,
                "E": now,
                "T": ms(snap.ts),
                "bids": levels_json(inst, &snap.bids),
                "asks": levels_json(inst, &snap.asks),
            }),
        )
    }
}

impl Protocol for BinanceUsdm {
    fn name(&self) -> &'static str {
        "binance_usdm"
    }

    fn is_ws_path(&self, path: &str) -> bool {
        path == "/stream" || path.starts_with("/ws/")
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        let now = ctx.market.now_ms();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/fapi/v1/ping") => HttpResponse::json(200, &json!({})),
            ("GET", "/fapi/v1/time") => HttpResponse::json(200, &json!({ "serverTime": now })),
            ("GET", "/fapi/v1/exchangeInfo") => {
                let symbols: Vec<Value> = ctx.market.instruments().iter().map(symbol_info).collect();
                HttpResponse::json(200, &json!({ "timezone": "UTC", "serverTime": now, "symbols": symbols }))
            }
            ("GET", "/fapi/v1/depth") => Self::depth(ctx, &req.query),
            (_, path) if path.starts_with("/fapi/") => HttpResponse::json(
                404,
                &json!({ "code": -5000, "msg": format!("Path {path}, Method {} is invalid", req.method) }),
            ),
            _ => HttpResponse::json(404, &json!({ "code": -5000, "msg": "Not found" })),
        }
    }

    fn run_ws(&self, ctx: &Ctx, path: &str, query: &str, ws: &mut dyn WsSession) {
        let (combined, names) = stream_names(path, query);
        let Some(mut session) = Session::open(ctx, combined, &names) else {
            ws.close(true);
            return;
        };
        session.run(ctx, ws);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Depth,
    BookTicker,
    AggTrade,
}

#[derive(Debug)]
struct Stream {
    name: String,
    symbol: usize,
    kind: Kind,
}

/// Per symbol: its feed, and the chain of depth messages.
#[derive(Debug)]
struct Feed {
    window: DiffWindow,
    last_u: u64,
    depth_stream: Option<String>,
}

struct Session {
    combined: bool,
    streams: Vec<Stream>,
    feeds: Vec<Feed>,
    next_ping: Instant,
    agg_id: u64,
}

impl Session {
    fn open(ctx: &Ctx, combined: bool, names: &str) -> Option<Self> {
        let mut session = Self {
            combined,
            streams: Vec::new(),
            feeds: Vec::new(),
            next_ping: Instant::now() + PING_EVERY,
            agg_id: 0,
        };
        for name in names.split('/').filter(|n| !n.is_empty()) {
            session.add(ctx, name)?;
        }
        (!session.streams.is_empty()).then_some(session)
    }

    /// Adds stream `name` (`None`: not a stream of a listed symbol).
    fn add(&mut self, ctx: &Ctx, name: &str) -> Option<()> {
        if self.streams.iter().any(|s| s.name == name) {
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

    fn remove(&mut self, name: &str) {
        self.streams.retain(|s| s.name != name);
        for feed in &mut self.feeds {
            if feed.depth_stream.as_deref() == Some(name) {
                feed.depth_stream = None;
            }
        }
    }

    /// A live `SUBSCRIBE` / `UNSUBSCRIBE` (`{"method":..,"params":[..],"id":..}`); the reply.
    fn on_control(&mut self, ctx: &Ctx, text: &str) -> String {
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

    fn stream_of(&self, symbol: usize, kind: Kind) -> Option<&str> {
        self.streams.iter().find(|s| s.symbol == symbol && s.kind == kind).map(|s| s.name.as_str())
    }

    /// Ticker and trade messages of `u`.
    fn immediate(&mut self, ctx: &Ctx, u: &BookUpdate, out: &mut Vec<String>) {
        let Some(inst) = ctx.market.instruments().get(u.symbol) else { return };
        let now = ctx.market.now_ms();
        if let Some(name) = self.stream_of(u.symbol, Kind::BookTicker)
            && let (Some(bid), Some(ask)) = (u.best_bid, u.best_ask)
            && !u.levels.is_empty()
        {
            let payload = json!({
                "e": "bookTicker", "u": u.update_id, "E": now, "T": ms(u.ts), "s": inst.symbol(),
                "b": price_text(inst, bid.0), "B": qty_text(inst, bid.1),
                "a": price_text(inst, ask.0), "A": qty_text(inst, ask.1),
            });
            out.push(wrap_payload(self.combined, name, &payload.to_string()));
        }
        if let Some(name) = self.stream_of(u.symbol, Kind::AggTrade).map(str::to_string) {
            for t in &u.trades {
                self.agg_id += 1;
                let payload = json!({
                    "e": "aggTrade", "E": now, "s": inst.symbol(), "a": self.agg_id,
                    "p": price_text(inst, t.price), "q": qty_text(inst, t.qty),
                    "f": t.trade_id, "l": t.trade_id, "T": ms(t.ts), "m": t.aggressor == Side::Sell,
                });
                out.push(wrap_payload(self.combined, &name, &payload.to_string()));
            }
        }
    }

    fn run(&mut self, ctx: &Ctx, ws: &mut dyn WsSession) {
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
                let side = |levels: &[crate::stream::MergedLevel]| -> Value {
                    levels.iter().map(|l| json!([price_text(inst, l.price), qty_text(inst, l.qty)])).collect()
                };
                let t = window.ops.last().map_or(0, |o| ms(o.ts));
                let payload = json!({
                    "e": "depthUpdate", "E": ctx.market.now_ms(), "T": t, "s": inst.symbol(),
                    "U": first, "u": last, "pu": pu, "b": side(&bids), "a": side(&asks),
                });
                out.push(wrap_payload(self.combined, name, &payload.to_string()));
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
