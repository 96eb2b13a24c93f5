//! Kraken's public REST market data (`/0/public/*`), what a client calls before it opens the
//! v2 WebSocket: `Time`, `SystemStatus`, `Assets`, `AssetPairs`, `Depth`, `Trades` and `Ticker`.
//!
//! Fields follow docs.kraken.com's REST reference ("Get Server Time", "Get System Status",
//! "Get Asset Info", "Get Tradable Asset Pairs", "Get Order Book", "Get Recent Trades",
//! "Get Ticker Information") and the response examples ccxt's kraken module quotes. Every answer
//! is `{"error":[],"result":..}`; a refused request is `{"error":["EQuery:Unknown asset pair"]}`
//! with HTTP 200, as Kraken answers. Prices and volumes are strings at the pair's precision.
//!
//! Guesses where the docs are silent (README "Where the simulator's behaviour is a guess"):
//! - A pair's REST name (the result key and `altname`) is the market symbol (`BTCUSDT`), its
//!   assets keep the market's names (`BTC`, `USDT`; no `XXBT`/`ZUSD` legacy codes) and `wsname`
//!   is the v2 symbol (`BTC/USDT`).
//! - `AssetPairs?pair=..` keys each result by the name as requested (`BTC/USDT` stays
//!   `BTC/USDT`): python-kraken-sdk's order-book client reads `result[<v2 symbol>]`.
//! - The market keeps no trade history, so `Trades` is an empty list with `last` and `Ticker`'s
//!   last trade and day statistics are the mid price and zero volume.
//!
//! Runs on the server's connection threads; allocates per request; never panics on input.

use super::wire::{number, ws_symbol};
use crate::kit::form::parse_form;
use crate::market::Market;
use crate::protocol::HttpResponse;
use qt_core::Instrument;
use serde_json::{Map, Value, json};

/// Fee tiers sent with every pair (Kraken's published starter tiers; informational only).
const TAKER_FEES: [(u64, f64); 2] = [(0, 0.40), (10_000, 0.35)];
const MAKER_FEES: [(u64, f64); 2] = [(0, 0.25), (10_000, 0.20)];

/// `{"error":[],"result":result}`.
fn ok(result: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({"error": [], "result": result}))
}

/// A Kraken error answer (HTTP 200 with the error list, as Kraken sends it).
fn refuse(error: &str) -> HttpResponse {
    HttpResponse::json(200, &json!({"error": [error]}))
}

/// Answers `GET /0/public/<method>` other than `Time`; `None` for a method not simulated.
pub(super) fn public(market: &Market, method: &str, query: &str, now_ms: i64) -> Option<HttpResponse> {
    let Ok(params) = parse_form(query.as_bytes()) else { return Some(refuse("EGeneral:Invalid arguments")) };
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    Some(match method {
        "SystemStatus" => ok(json!({"status": "online", "timestamp": rfc3339_seconds(now_ms)})),
        "Assets" => ok(assets(market, param("asset"))),
        "AssetPairs" => match selected(market, param("pair")) {
            Ok(pairs) => ok(Value::Object(pairs.into_iter().map(|(key, inst)| (key, asset_pair(inst))).collect())),
            Err(e) => e,
        },
        "Depth" => {
            let count = param("count").and_then(|c| c.parse::<usize>().ok()).filter(|c| *c > 0).unwrap_or(100);
            per_pair(market, param("pair"), |idx, inst| depth(market, idx, inst, count, now_ms))
        }
        "Ticker" => per_pair(market, param("pair"), |idx, inst| ticker(market, idx, inst)),
        "Trades" => match one_pair(market, param("pair")) {
            Ok((_, inst)) => {
                ok(json!({ inst.symbol(): [], "last": (i128::from(now_ms.max(0)) * 1_000_000).to_string() }))
            }
            Err(e) => e,
        },
        _ => return None,
    })
}

/// `2024-07-22T16:34:44Z` at `now_ms`.
fn rfc3339_seconds(now_ms: i64) -> String {
    let micros = crate::public_stream::rfc3339_micros(now_ms.div_euclid(1000) * 1_000_000_000);
    // "2024-07-22T16:34:44.000000Z" → "2024-07-22T16:34:44Z".
    micros.split('.').next().map_or(micros.clone(), |s| format!("{s}Z"))
}

/// The instruments a `pair` list names (REST name, v2 symbol or `altname`), each with the key its
/// result goes under (the name as requested); every instrument when `pair` is absent.
fn selected<'m>(market: &'m Market, pair: Option<&str>) -> Result<Vec<(String, &'m Instrument)>, HttpResponse> {
    let Some(list) = pair.filter(|p| !p.is_empty()) else {
        return Ok(market.instruments().iter().map(|i| (i.symbol().to_owned(), i)).collect());
    };
    list.split(',').map(|name| find(market, name).map(|(_, inst)| (name.to_owned(), inst))).collect()
}

fn find<'m>(market: &'m Market, name: &str) -> Result<(usize, &'m Instrument), HttpResponse> {
    crate::public_stream::symbol_by_pair(market, name, '/')
        .and_then(|idx| market.instruments().get(idx).map(|i| (idx, i)))
        .ok_or_else(|| refuse("EQuery:Unknown asset pair"))
}

fn one_pair<'m>(market: &'m Market, pair: Option<&str>) -> Result<(usize, &'m Instrument), HttpResponse> {
    match pair {
        Some(name) if !name.is_empty() && !name.contains(',') => find(market, name),
        _ => Err(refuse("EGeneral:Invalid arguments")),
    }
}

/// `Depth` and `Ticker`: one result per named pair, keyed by its REST name.
fn per_pair(market: &Market, pair: Option<&str>, each: impl Fn(usize, &Instrument) -> Value) -> HttpResponse {
    let Some(list) = pair.filter(|p| !p.is_empty()) else { return refuse("EGeneral:Invalid arguments") };
    let mut result = Map::new();
    for name in list.split(',') {
        match find(market, name) {
            Ok((idx, inst)) => {
                result.insert(inst.symbol().to_owned(), each(idx, inst));
            }
            Err(e) => return e,
        }
    }
    ok(Value::Object(result))
}

/// `Assets`: every base and quote asset (or those `asset` names).
fn assets(market: &Market, wanted: Option<&str>) -> Value {
    let mut out = Map::new();
    for inst in market.instruments() {
        for (name, scale) in [(inst.base(), inst.qty_scale()), (inst.quote(), inst.price_scale())] {
            if wanted.is_some_and(|w| !w.split(',').any(|a| a == name)) {
                continue;
            }
            let decimals = scale.max(8);
            out.entry(name.to_owned()).or_insert_with(|| {
                json!({"aclass": "currency", "altname": name, "decimals": decimals,
                       "display_decimals": scale.min(decimals), "status": "enabled"})
            });
        }
    }
    Value::Object(out)
}

/// One `AssetPairs` entry.
fn asset_pair(inst: &Instrument) -> Value {
    let (ps, qs) = (inst.price_scale(), inst.qty_scale());
    let tiers = |t: &[(u64, f64)]| t.iter().map(|(v, f)| json!([v, f])).collect::<Vec<_>>();
    json!({
        "altname": inst.symbol(),
        "wsname": ws_symbol(inst),
        "aclass_base": "currency",
        "base": inst.base(),
        "aclass_quote": "currency",
        "quote": inst.quote(),
        "lot": "unit",
        "cost_decimals": ps.max(2),
        "pair_decimals": ps,
        "lot_decimals": qs,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": tiers(&TAKER_FEES),
        "fees_maker": tiers(&MAKER_FEES),
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": number(inst.min_qty().units(), qs),
        "costmin": inst.min_notional().to_string(),
        "tick_size": number(inst.tick().units(), ps),
        "status": "online",
    })
}

/// `Depth`: `[price, volume, timestamp]` levels, best first, at most `count` a side.
fn depth(market: &Market, idx: usize, inst: &Instrument, count: usize, now_ms: i64) -> Value {
    let secs = now_ms.div_euclid(1000);
    let side = |levels: &[(qt_core::Price, qt_core::Qty)]| {
        levels
            .iter()
            .map(|(p, q)| json!([number(p.units(), inst.price_scale()), number(q.units(), inst.qty_scale()), secs]))
            .collect::<Vec<_>>()
    };
    match market.snapshot(idx, count.min(500)) {
        Some(snap) => json!({"asks": side(&snap.asks), "bids": side(&snap.bids)}),
        None => json!({"asks": [], "bids": []}),
    }
}

/// `Ticker`: best ask `a` and bid `b` (`[price, whole lot volume, lot volume]`), last trade `c`,
/// volume `v`, VWAP `p`, trade count `t`, low `l`, high `h` and opening price `o`.
fn ticker(market: &Market, idx: usize, inst: &Instrument) -> Value {
    let (ps, qs) = (inst.price_scale(), inst.qty_scale());
    let snap = market.snapshot(idx, 1);
    let best = |levels: Option<&(qt_core::Price, qt_core::Qty)>| levels.map(|(p, q)| (p.units(), q.units()));
    let ask = snap.as_ref().and_then(|s| best(s.asks.first()));
    let bid = snap.as_ref().and_then(|s| best(s.bids.first()));
    let level = |l: Option<(i64, i64)>| {
        let (p, q) = l.unwrap_or((0, 0));
        let whole = q / 10_i64.pow(u32::from(qs)).max(1);
        json!([number(p, ps), whole.to_string(), number(q, qs)])
    };
    let mid = match (ask, bid) {
        (Some((a, _)), Some((b, _))) => (a + b) / 2 / inst.tick().units().max(1) * inst.tick().units().max(1),
        (Some((p, _)), None) | (None, Some((p, _))) => p,
        (None, None) => 0,
    };
    let (price, zero) = (number(mid, ps), number(0, qs));
    json!({
        "a": level(ask),
        "b": level(bid),
        "c": [price, zero],
        "v": [zero, zero],
        "p": [price, price],
        "t": [0, 0],
        "l": [price, price],
        "h": [price, price],
        "o": price,
    })
}
