//! KuCoin's REST answers: the `{"code","data"}` envelope, symbols and the level-2 order book
//! snapshots.

use super::wire::level2_body;
use super::{symbol, symbol_index};
use crate::protocol::{Ctx, HttpResponse};
use qt_core::{Instrument, Price, Qty};
use serde_json::{Value, json};

pub(super) fn ok(data: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({ "code": "200000", "data": data }))
}

pub(super) fn error(status: u16, code: &str, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "code": code, "msg": msg }))
}

pub(super) fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
}

pub(super) fn symbol_info(inst: &Instrument) -> Value {
    let tick = inst.price_text(inst.tick());
    let lot = inst.qty_text(inst.lot());
    let min = inst.qty_text(inst.min_qty());
    let name = symbol(inst);
    json!({
        "symbol": name, "name": name, "baseCurrency": inst.base(), "quoteCurrency": inst.quote(),
        "feeCurrency": inst.quote(), "market": inst.quote(), "baseMinSize": min.as_ref(),
        "quoteMinSize": "0.1", "baseMaxSize": "10000000000", "quoteMaxSize": "99999999",
        "baseIncrement": lot.as_ref(), "quoteIncrement": tick.as_ref(), "priceIncrement": tick.as_ref(),
        "priceLimitRate": "0.1", "minFunds": "0.1", "isMarginEnabled": false, "enableTrading": true,
        "feeCategory": 1, "makerFeeCoefficient": "1.00", "takerFeeCoefficient": "1.00", "st": false,
    })
}

pub(super) fn snapshot(ctx: &Ctx, query: &str, depth: usize) -> HttpResponse {
    let Some(name) = query_value(query, "symbol") else { return error(400, "400100", "symbol is required") };
    let market = &ctx.market;
    let (Some(index), true) = (symbol_index(market, name), !name.is_empty()) else {
        return error(400, "400100", "Unsupported trading pair.");
    };
    let (Some(snap), Some(inst)) = (market.snapshot(index, depth), market.instruments().get(index)) else {
        return error(400, "400100", "Unsupported trading pair.");
    };
    let units = |side: &[(Price, Qty)]| side.iter().map(|(p, q)| (p.units(), q.units())).collect::<Vec<_>>();
    let body = level2_body(inst, market.now_ms(), snap.update_id, &units(&snap.bids), &units(&snap.asks));
    HttpResponse { body: body.into_bytes(), ..HttpResponse::json(200, &Value::Null) }
}
