//! Firi for the venue simulator: [`FiriPublic`] — public market data and, signed, order entry.
//!
//! Order entry (`private.rs`: place, cancel one, cancel all or per market, active orders, one
//! order, order history, the account's fills, balances) is signed with Firi's HMAC scheme
//! (`auth.rs`), writes the documents of `docs.rs` and refuses with `errors.rs`; Firi's exact
//! private bodies are partly unknown, so those two files name each member's source and are the
//! one place to correct a shape. Firi has no private stream: clients poll.
//!
//! Firi publishes no market-data WebSocket; its public REST endpoints (base
//! `https://api.firi.com`; the endpoint list of developers.firi.com "Firi Trading API 1.0.0" as
//! mirrored by the firipy client's README, sources in `testdata/firi/README.md`) are served here:
//! - `GET /time` → `{"time":<epoch seconds>}` (the market's clock; the body's shape is from
//!   clients of the endpoint, not the docs — see README's guesses);
//! - `GET /v2/markets` → `[{"id":"BTCNOK","last":..,"high":..,"low":..,"change":..,"volume":..}]`
//!   and `GET /v2/markets/{market}` → the same object without `id` (only `id` is exact; the
//!   statistics are the simulator's last trade or book mid and zeros);
//! - `GET /v2/markets/{market}/ticker` → `{"bid":..,"ask":..,"spread":..}` and
//!   `GET /v2/markets/tickers` → `[{"market":"BTCNOK","bid":..,"ask":..,"spread":..}]` (best bid
//!   and ask, decimal strings on the instrument's grid; `""` for an empty side);
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

use crate::kit::trade_log::TradeLogs;
use crate::market::Market;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsSession};
use qt_core::{Instrument, Price, Qty, Side};
use serde_json::{Value, json};

mod auth;
mod docs;
mod errors;
mod private;
mod wire;

pub use auth::signed_payload;
pub use wire::depth_body;

/// Levels a side when the query names none.
const DEFAULT_LEVELS: usize = 100;

/// The Firi public-data protocol.
#[derive(Debug, Default)]
pub struct FiriPublic {
    trades: TradeLogs,
    placed: private::Placed,
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

/// Market `index`'s best bid and ask price units, each `None` on an empty side.
fn best(market: &Market, index: usize) -> (Option<i64>, Option<i64>) {
    let snap = market.snapshot(index, 1);
    let side = |levels: Option<&[(Price, Qty)]>| levels.and_then(|l| l.first()).map(|(p, _)| p.units());
    (side(snap.as_ref().map(|s| s.bids.as_slice())), side(snap.as_ref().map(|s| s.asks.as_slice())))
}

impl FiriPublic {
    fn history(&self, market: &Market, index: usize, inst: &Instrument, n: usize) -> HttpResponse {
        let Some(trades) = self.trades.recent(market, index, n) else { return not_found("market has no book") };
        let body: Vec<Value> = trades
            .iter()
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

    /// The `/v2/markets` statistics of one market: `last` is the last trade seen, else the book
    /// mid (`""` with neither); `high`/`low` equal it, `change` and `volume` are `"0"`.
    fn stats(&self, market: &Market, index: usize, inst: &Instrument) -> serde_json::Map<String, Value> {
        let traded = self.trades.recent(market, index, 1).and_then(|t| t.first().map(|t| t.price.units()));
        let mid = match best(market, index) {
            (Some(b), Some(a)) => Some((b + a) / 2),
            _ => None,
        };
        let last =
            traded.or(mid).map_or_else(String::new, |m| inst.price_text(Price::from_units(m)).as_ref().to_owned());
        let mut o = serde_json::Map::new();
        for (k, v) in [("last", last.as_str()), ("high", &last), ("low", &last), ("change", "0"), ("volume", "0")] {
            o.insert(k.to_owned(), Value::from(v));
        }
        o
    }
}

/// The `/ticker` object of one market: best `bid`, `ask` and `spread` (ask − bid), decimal
/// strings on the grid, `""` where a side is empty.
fn ticker(market: &Market, index: usize, inst: &Instrument) -> serde_json::Map<String, Value> {
    let (bid, ask) = best(market, index);
    let text =
        |u: Option<i64>| u.map_or_else(String::new, |u| inst.price_text(Price::from_units(u)).as_ref().to_owned());
    let spread = bid.zip(ask).map(|(b, a)| a - b);
    let mut o = serde_json::Map::new();
    o.insert("bid".to_owned(), Value::from(text(bid)));
    o.insert("ask".to_owned(), Value::from(text(ask)));
    o.insert("spread".to_owned(), Value::from(text(spread)));
    o
}

impl Protocol for FiriPublic {
    fn name(&self) -> &'static str {
        "firi"
    }

    fn is_ws_path(&self, _path: &str) -> bool {
        false
    }

    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
        if let Some(call) = private::call(&req.method, &req.path) {
            return self.private(ctx, req, call);
        }
        if req.method != "GET" {
            return not_found(&format!("{} {} is not a public endpoint", req.method, req.path));
        }
        let market = &ctx.market;
        match req.path.as_str() {
            "/time" => return HttpResponse::json(200, &json!({ "time": market.now_ms().div_euclid(1000) })),
            "/v2/markets" | "/v2/markets/tickers" => {
                let tickers = req.path.ends_with("tickers");
                let list: Vec<Value> = (0..market.instruments().len())
                    .filter_map(|i| {
                        let inst = market.instruments().get(i)?;
                        let (key, mut o) = if tickers {
                            ("market", ticker(market, i, inst))
                        } else {
                            ("id", self.stats(market, i, inst))
                        };
                        o.insert(key.to_owned(), Value::from(inst.symbol()));
                        Some(Value::Object(o))
                    })
                    .collect();
                return HttpResponse::json(200, &Value::Array(list));
            }
            _ => {}
        }
        let Some(rest) = req.path.strip_prefix("/v2/markets/") else {
            return not_found(&format!("{} is not a public endpoint", req.path));
        };
        let (name, what) = rest.split_once('/').unwrap_or((rest, ""));
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
            "" => HttpResponse::json(200, &Value::Object(self.stats(market, index, inst))),
            "ticker" => HttpResponse::json(200, &Value::Object(ticker(market, index, inst))),
            "history" => match count(&req.query, "count", 100) {
                Ok(n) => self.history(market, index, inst, n),
                Err(e) => e,
            },
            other => not_found(&format!("market resource {other} does not exist")),
        }
    }

    fn run_ws(&self, _ctx: &Ctx, _path: &str, _query: &str, ws: &mut dyn WsSession) {
        ws.close(true);
    }
}
