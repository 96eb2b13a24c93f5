//! Firi public market data for the venue simulator: [`FiriPublic`].
//!
//! Firi publishes no market-data WebSocket; its public REST endpoints (base
//! `https://api.firi.com`, sources in `testdata/firi/README.md`) are served here:
//! - `GET /v2/markets` → `[{"id":"BTCNOK","last":..,"high":..,"low":..,"change":..,"volume":..}]`
//!   (only `id` is exact; the statistics are the simulator's book mid and zeros);
//! - `GET /v2/markets/{market}/depth[?bids=N&asks=N]` → `{"bids":[["price","amount"],..],
//!   "asks":[..]}`, best first, decimal strings on the instrument's grid (default 100 levels a
//!   side);
//! - `GET /v2/markets/{market}/history[?count=N]` → recent trades, newest first:
//!   `[{"id","market","price","amount","side","type":"trade","created_at"}]` — the trades the
//!   simulator saw since this protocol first served the market.
//!
//! Unknown markets get HTTP 404 `{"name":"NotFound","message":..}`. Injected REST failures
//! (`fail_http`) are applied by the server before this handler; the frame faults
//! (`malformed_frames`, `truncated_frames`) apply to depth bodies, Firi having no stream.
//!
//! Threads and contract: `handle_http` runs on the server's connection threads; the per-market
//! trade logs sit behind a short-lived mutex. Allocates freely; never panics on input.

use crate::market::{BookUpdate, TradeView};
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use crossbeam_channel::Receiver;
use qt_core::{Instrument, Price, Qty, Side};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

mod wire;

pub use wire::depth_body;

/// Levels a side when the query names none.
const DEFAULT_LEVELS: usize = 100;
/// Trades kept per market.
const HISTORY: usize = 1000;

/// One market's trade log, fed from its book feed.
#[derive(Debug)]
struct TradeLog {
    rx: Receiver<Arc<BookUpdate>>,
    trades: VecDeque<TradeView>,
}

/// The Firi public-data protocol.
#[derive(Debug, Default)]
pub struct FiriPublic {
    logs: Mutex<HashMap<usize, TradeLog>>,
}

fn not_found(what: &str) -> HttpResponse {
    HttpResponse::json(404, &json!({ "name": "NotFound", "message": what }))
}

fn count(query: &str, key: &str, default: usize) -> Result<usize, HttpResponse> {
    match query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == key) {
        None => Ok(default),
        Some((_, v)) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            HttpResponse::json(
                400,
                &json!({ "name": "BadRequest", "message": format!("{key}: expected a positive integer") }),
            )
        }),
    }
}

impl FiriPublic {
    fn history(&self, ctx: &Ctx, index: usize, inst: &Instrument, n: usize) -> HttpResponse {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = match logs.entry(index) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let Some((_, rx)) = ctx.market.subscribe_book(index, 0) else { return not_found("market has no book") };
                e.insert(TradeLog { rx, trades: VecDeque::new() })
            }
        };
        for u in log.rx.try_iter() {
            for t in &u.trades {
                if log.trades.len() == HISTORY {
                    log.trades.pop_front();
                }
                log.trades.push_back(*t);
            }
        }
        let body: Vec<Value> = log
            .trades
            .iter()
            .rev()
            .take(n)
            .map(|t| {
                json!({
                    "id": t.trade_id.to_string(),
                    "market": inst.symbol(),
                    "price": inst.price_text(t.price).as_ref(),
                    "amount": inst.qty_text(t.qty).as_ref(),
                    "side": if t.aggressor == Side::Buy { "bid" } else { "ask" },
                    "type": "trade",
                    "created_at": t.ts.0.div_euclid(1_000_000),
                })
            })
            .collect();
        HttpResponse::json(200, &Value::Array(body))
    }
}

impl Protocol for FiriPublic {
    fn name(&self) -> &'static str {
        "firi"
    }

    fn is_ws_path(&self, _path: &str) -> bool {
        false
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        if req.method != "GET" {
            return not_found(&format!("{} {} is not a public endpoint", req.method, req.path));
        }
        let market = &ctx.market;
        if req.path == "/v2/markets" {
            let list: Vec<Value> = market
                .instruments()
                .iter()
                .enumerate()
                .map(|(i, inst)| {
                    let snap = market.snapshot(i, 1);
                    let mid = snap.as_ref().and_then(|s| Some((s.bids.first()?.0.units() + s.asks.first()?.0.units()) / 2));
                    let last = mid.map_or_else(String::new, |m| inst.price_text(Price::from_units(m)).as_ref().to_string());
                    json!({ "id": inst.symbol(), "last": last, "high": last, "low": last, "change": "0", "volume": "0" })
                })
                .collect();
            return HttpResponse::json(200, &Value::Array(list));
        }
        let Some(rest) = req.path.strip_prefix("/v2/markets/") else {
            return not_found(&format!("{} is not a public endpoint", req.path));
        };
        let Some((name, what)) = rest.split_once('/') else {
            return not_found(&format!("{} has no resource", req.path));
        };
        let (Some(index), Some(inst)) =
            (market.symbol_index(name), market.symbol_index(name).and_then(|i| market.instruments().get(i)))
        else {
            return not_found(&format!("market {name} does not exist"));
        };
        match what {
            "depth" => {
                let (bids, asks) =
                    match (count(&req.query, "bids", DEFAULT_LEVELS), count(&req.query, "asks", DEFAULT_LEVELS)) {
                        (Ok(b), Ok(a)) => (b, a),
                        (Err(e), _) | (_, Err(e)) => return e,
                    };
                let Some(snap) = market.snapshot(index, bids.max(asks)) else { return not_found("market has no book") };
                let b: Vec<_> = snap.bids.iter().take(bids).copied().collect();
                let a: Vec<_> = snap.asks.iter().take(asks).copied().collect();
                let units =
                    |side: &[(Price, Qty)]| side.iter().map(|(p, q)| (p.units(), q.units())).collect::<Vec<_>>();
                let body = depth_body(inst, &units(&b), &units(&a)).into_bytes();
                let mut resp = HttpResponse { body, ..HttpResponse::json(200, &Value::Null) };
                // Firi has no stream, so the frame faults apply to this body.
                if ctx.faults.take_malformed_frame() {
                    resp.body = b"{\"bids\":[[\"1\",]".to_vec();
                } else if ctx.faults.take_truncated_frame() {
                    resp.body.truncate(resp.body.len() / 2);
                }
                resp
            }
            "history" => match count(&req.query, "count", 100) {
                Ok(n) => self.history(ctx, index, inst, n),
                Err(e) => e,
            },
            other => not_found(&format!("market resource {other} does not exist")),
        }
    }

    fn run_ws(&self, _ctx: &Ctx, _path: &str, _query: &str, ws: &mut dyn WsSession) {
        ws.close(true);
    }
}
