//! OKX's REST endpoints (`/api/v5/public/instruments`, `/api/v5/market/books`) and their
//! `{"code","msg","data"}` envelope.

use super::BOOKS_DEPTH;
use super::wire::{inst_id, inst_type, levels_json};
use crate::market::Market;
use crate::protocol::HttpResponse;
use crate::public_stream::{Levels, symbol_by_pair};
use serde_json::{Value, json};

pub(super) fn ok_body(data: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({"code": "0", "msg": "", "data": data}))
}

pub(super) fn error_body(status: u16, code: &str, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"code": code, "msg": msg, "data": []}))
}

pub(super) fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// `GET /api/v5/public/instruments?instType=SPOT[&instId=..]`.
pub(super) fn instruments(market: &Market, query: &str) -> HttpResponse {
    let Some(kind) = query_value(query, "instType").filter(|t| !t.is_empty()) else {
        return error_body(400, "50014", "Parameter instType can not be empty");
    };
    let wanted = query_value(query, "instId");
    let data: Vec<Value> = market
        .instruments()
        .iter()
        .filter(|i| inst_type(i) == kind && wanted.is_none_or(|w| w == inst_id(i)))
        .map(|i| {
            json!({
                "instType": inst_type(i), "instId": inst_id(i), "baseCcy": i.base(), "quoteCcy": i.quote(),
                "tickSz": i.price_text(i.tick()).as_ref(), "lotSz": i.qty_text(i.lot()).as_ref(),
                "minSz": i.qty_text(i.min_qty()).as_ref(), "state": "live",
            })
        })
        .collect();
    if wanted.is_some() && data.is_empty() {
        return error_body(400, "51001", "Instrument ID does not exist");
    }
    ok_body(Value::Array(data))
}

/// `GET /api/v5/market/books?instId=..&sz=..` (default 1, at most 400).
pub(super) fn rest_books(market: &Market, query: &str) -> HttpResponse {
    let Some(idx) = query_value(query, "instId").and_then(|id| symbol_by_pair(market, id, '-')) else {
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
