//! OKX's REST endpoints (`/api/v5/public/instruments`, `/api/v5/market/books`, `/ticker`,
//! `/tickers`, `/trades`) and their `{"code","msg","data"}` envelope.
//!
//! Fields and types follow OKX's v5 reference ("Get instruments", "Get ticker", "Get tickers",
//! "Get trades"; every number a string). Where the simulator has no value for a documented
//! field it answers as OKX does for a field that does not apply (`""`), or as written at the
//! field (README lists these guesses).

use super::BOOKS_DEPTH;
use super::wire::instrument_index;
use super::wire::{inst_id, inst_type, levels_json, px, sz};
use crate::kit::trade_log::TradeLogs;
use crate::market::Market;
use crate::protocol::HttpResponse;
use crate::public_stream::Levels;
use serde_json::{Value, json};

pub(super) fn ok_body(data: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({"code": "0", "msg": "", "data": data}))
}

pub(super) fn error_body(status: u16, code: &str, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"code": code, "msg": msg, "data": []}))
}

/// The value of query parameter `key`; an empty value (`?instId=BTC-USDT&sz=`) counts as absent.
/// OKX's docs do not say what an empty value means; clients that send every optional parameter
/// expect this (a guess, listed in README).
pub(super) fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// `GET /api/v5/public/instruments?instType=SPOT[&instId=..]`.
pub(super) fn instruments(market: &Market, query: &str) -> HttpResponse {
    let Some(kind) = query_value(query, "instType") else {
        return error_body(400, "50014", "Parameter instType can not be empty");
    };
    let wanted = query_value(query, "instId");
    let data: Vec<Value> = market
        .instruments()
        .iter()
        .filter(|i| inst_type(i) == kind && wanted.is_none_or(|w| w == inst_id(i)))
        .enumerate()
        .map(|(n, i)| instrument_json(n, i))
        .collect();
    if wanted.is_some() && data.is_empty() {
        return error_body(400, "51001", "Instrument ID does not exist");
    }
    ok_body(Value::Array(data))
}

/// OKX's listing time for every simulated instrument (Unix ms): the venue's real value is a
/// date per instrument; the simulator has none, so a fixed past one.
const LIST_TIME_MS: &str = "1606468572000";
/// The order-size caps OKX prints for a spot instrument (`maxLmtSz`, `maxMktSz`, `maxLmtAmt`,
/// `maxMktAmt`, the algo caps): the simulator enforces none, so large fixed values as OKX's
/// BTC-USDT shows them.
const MAX_LMT_SZ: &str = "9999999999";
const MAX_MKT_SZ: &str = "1000000";
const MAX_LMT_AMT: &str = "20000000";
const MAX_MKT_AMT: &str = "1000000";

/// One instrument of "Get instruments", every documented field present: SPOT instruments carry
/// `baseCcy`/`quoteCcy` and empty derivative fields; the others (SWAP) carry `uly`,
/// `instFamily`, `settleCcy` (the quote), a linear contract of `ctVal` "1" base unit, and empty
/// `baseCcy`/`quoteCcy` ("Only applicable to SPOT/MARGIN"). `n` numbers `instIdCode`.
fn instrument_json(n: usize, i: &qt_core::Instrument) -> Value {
    let spot = inst_type(i) == "SPOT";
    let family = format!("{}-{}", i.base(), i.quote());
    let deriv = |yes: &str| -> String { if spot { String::new() } else { yes.to_owned() } };
    let ccy = |yes: &str| -> String { if spot { yes.to_owned() } else { String::new() } };
    json!({
        "instType": inst_type(i), "instId": inst_id(i), "instIdCode": 10_000 + n,
        "uly": deriv(&family), "instFamily": deriv(&family), "category": "1",
        "baseCcy": ccy(i.base()), "quoteCcy": ccy(i.quote()), "settleCcy": deriv(i.quote()),
        "ctVal": deriv("1"), "ctMult": deriv("1"), "ctValCcy": deriv(i.base()), "ctType": deriv("linear"),
        "optType": "", "stk": "", "listTime": LIST_TIME_MS, "auctionEndTime": "", "expTime": "",
        "lever": deriv("100"), "alias": "", "openType": "", "ruleType": "normal",
        "tickSz": i.price_text(i.tick()).as_ref(), "lotSz": i.qty_text(i.lot()).as_ref(),
        "minSz": i.qty_text(i.min_qty()).as_ref(), "state": "live",
        "maxLmtSz": MAX_LMT_SZ, "maxMktSz": MAX_MKT_SZ, "maxLmtAmt": MAX_LMT_AMT, "maxMktAmt": MAX_MKT_AMT,
        "maxTwapSz": MAX_LMT_SZ, "maxIcebergSz": MAX_LMT_SZ, "maxTriggerSz": MAX_LMT_SZ, "maxStopSz": MAX_MKT_SZ,
        "tradeQuoteCcyList": if spot { json!([i.quote()]) } else { json!([]) },
    })
}

/// One ticker of "Get ticker(s)": best bid and ask with their sizes, the last trade seen (else
/// the book mid, size "0"); the 24 h statistics cover the trades the simulator logged since this
/// protocol first served the market (open/high/low the last price when none).
fn ticker_json(market: &Market, trades: &TradeLogs, idx: usize, inst: &qt_core::Instrument) -> Value {
    let snap = market.snapshot(idx, 1);
    let top = |side: Option<&[(qt_core::Price, qt_core::Qty)]>| {
        side.and_then(|l| l.first()).map(|(p, q)| (p.units(), q.units()))
    };
    let bid = top(snap.as_ref().map(|s| s.bids.as_slice()));
    let ask = top(snap.as_ref().map(|s| s.asks.as_slice()));
    let logged = trades.recent(market, idx, crate::kit::trade_log::HISTORY).unwrap_or_default();
    let mid = bid.zip(ask).map(|(b, a)| ((b.0 + a.0) / 2, 0));
    let last = logged.first().map(|t| (t.price.units(), t.qty.units())).or(mid);
    let text = |u: Option<i64>, f: fn(&qt_core::Instrument, i64) -> String| u.map_or_else(String::new, |u| f(inst, u));
    let last_px = last.map(|l| l.0);
    let prices = logged.iter().map(|t| t.price.units());
    let high = prices.clone().max().or(last_px);
    let low = prices.min().or(last_px);
    let open = logged.last().map(|t| t.price.units()).or(last_px);
    let vol: i64 = logged.iter().map(|t| t.qty.units()).sum();
    let vol_ccy: i128 = logged.iter().map(|t| i128::from(t.price.units()) * i128::from(t.qty.units())).sum();
    let vol_ccy = i64::try_from(vol_ccy / 10_i128.pow(inst.qty_scale().into())).unwrap_or(i64::MAX);
    json!({
        "instType": inst_type(inst), "instId": inst_id(inst),
        "last": text(last_px, px), "lastSz": text(last.map(|l| l.1), sz),
        "askPx": text(ask.map(|a| a.0), px), "askSz": text(ask.map(|a| a.1), sz),
        "bidPx": text(bid.map(|b| b.0), px), "bidSz": text(bid.map(|b| b.1), sz),
        "open24h": text(open, px), "high24h": text(high, px), "low24h": text(low, px),
        "volCcy24h": px(inst, vol_ccy), "vol24h": sz(inst, vol),
        "sodUtc0": text(open, px), "sodUtc8": text(open, px),
        "ts": market.now_ms().to_string(),
    })
}

/// The instrument the query's `instId` names, or the error OKX answers (50014 absent, 51001
/// unknown).
fn named_instrument<'m>(market: &'m Market, query: &str) -> Result<(usize, &'m qt_core::Instrument), HttpResponse> {
    let Some(id) = query_value(query, "instId") else {
        return Err(error_body(400, "50014", "Parameter instId can not be empty"));
    };
    instrument_index(market, id)
        .and_then(|i| Some((i, market.instruments().get(i)?)))
        .ok_or_else(|| error_body(400, "51001", "Instrument ID does not exist"))
}

/// `GET /api/v5/market/ticker?instId=..`.
pub(super) fn ticker(market: &Market, trades: &TradeLogs, query: &str) -> HttpResponse {
    let (idx, inst) = match named_instrument(market, query) {
        Ok(found) => found,
        Err(e) => return e,
    };
    ok_body(json!([ticker_json(market, trades, idx, inst)]))
}

/// `GET /api/v5/market/tickers?instType=SPOT`.
pub(super) fn tickers(market: &Market, trades: &TradeLogs, query: &str) -> HttpResponse {
    let Some(kind) = query_value(query, "instType") else {
        return error_body(400, "50014", "Parameter instType can not be empty");
    };
    let data: Vec<Value> = market
        .instruments()
        .iter()
        .enumerate()
        .filter(|(_, i)| inst_type(i) == kind)
        .map(|(idx, i)| ticker_json(market, trades, idx, i))
        .collect();
    ok_body(Value::Array(data))
}

/// `GET /api/v5/market/trades?instId=..[&limit=N]` (default 100, at most 500): the trades the
/// simulator logged since this protocol first served the market, newest first.
pub(super) fn rest_trades(market: &Market, trades: &TradeLogs, query: &str) -> HttpResponse {
    let (idx, inst) = match named_instrument(market, query) {
        Ok(found) => found,
        Err(e) => return e,
    };
    let limit = match query_value(query, "limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        Some(_) => return error_body(400, "51000", "Parameter limit error"),
    };
    let data: Vec<Value> = trades
        .recent(market, idx, limit)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            json!({
                "instId": inst_id(inst), "tradeId": t.trade_id.to_string(),
                "px": px(inst, t.price.units()), "sz": sz(inst, t.qty.units()),
                "side": if t.aggressor == qt_core::Side::Buy { "buy" } else { "sell" },
                "source": "0", "ts": t.ts.0.div_euclid(1_000_000).to_string(),
            })
        })
        .collect();
    ok_body(Value::Array(data))
}

/// `GET /api/v5/market/books?instId=..&sz=..` (default 1, at most 400).
pub(super) fn rest_books(market: &Market, query: &str) -> HttpResponse {
    let Some(idx) = query_value(query, "instId").and_then(|id| instrument_index(market, id)) else {
        return error_body(400, "51001", "Instrument ID does not exist");
    };
    let depth = match query_value(query, "sz").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if (1..=BOOKS_DEPTH).contains(&n) => n,
        Some(_) => return error_body(400, "51000", "Parameter sz error"),
    };
    let (Some(snap), Some(inst)) = (market.snapshot(idx, depth), market.instruments().get(idx)) else {
        return error_body(400, "51001", "Instrument ID does not exist");
    };
    let side = |levels: &[(qt_core::Price, qt_core::Qty)]| -> Levels {
        levels.iter().map(|(p, q)| (p.units(), q.units())).collect()
    };
    ok_body(json!([{
        "asks": levels_json(inst, &side(&snap.asks)),
        "bids": levels_json(inst, &side(&snap.bids)),
        "ts": market.now_ms().to_string(),
    }]))
}
