//! KuCoin's REST answers: the `{"code","data"}` envelope, symbols and the level-2 order book
//! snapshots.

use super::wire::level2_body;
use super::{symbol, symbol_index};
use crate::kit::form::percent_decode;
use crate::protocol::{Ctx, HttpResponse};
use qt_core::{Instrument, Price, Qty};
use serde_json::{Value, json};

pub(super) fn ok(data: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({ "code": "200000", "data": data }))
}

pub(super) fn error(status: u16, code: &str, msg: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "code": code, "msg": msg }))
}

/// The decoded value of `key` in a raw query string. Clients percent-encode values (the
/// official SDK and ccxt send a bullet token's `==` as `%3D%3D`); a value that does not decode
/// (a bad `%` escape, not UTF-8) is taken as written.
pub(super) fn query_value(query: &str, key: &str) -> Option<String> {
    let (_, v) = query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == key)?;
    Some(percent_decode(v.as_bytes()).unwrap_or_else(|| v.to_owned()))
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
        "callauctionIsEnabled": false, "callauctionPriceFloor": null, "callauctionPriceCeiling": null,
        "callauctionFirstStageStartTime": null, "callauctionSecondStageStartTime": null,
        "callauctionThirdStageStartTime": null, "tradingStartTime": null,
    })
}

/// `GET /api/v2/symbols/{symbol}`: one [`symbol_info`], or `400100` for a symbol not listed.
pub(super) fn one_symbol(ctx: &Ctx, name: &str) -> HttpResponse {
    let name = percent_decode(name.as_bytes()).unwrap_or_else(|| name.to_owned());
    match symbol_index(&ctx.market, &name).and_then(|i| ctx.market.instruments().get(i)) {
        Some(inst) => ok(symbol_info(inst)),
        None => error(400, "400100", "Unsupported trading pair."),
    }
}

/// `GET /api/v3/currencies`: each base and quote asset once, in listing order, shaped as the
/// SDK's `GetAllCurrencies` example (`currency`, `name`, `fullName`, `precision`, `confirms`,
/// `contractAddress`, `isMarginEnabled`, `isDebitEnabled`, `chains`). `precision` is the most
/// decimals the asset is traded in (size decimals of a base, price decimals of a quote); no
/// chains are listed (the simulator has no deposits or withdrawals).
pub(super) fn currencies(ctx: &Ctx) -> HttpResponse {
    let mut assets: Vec<(&str, u8)> = Vec::new();
    for inst in ctx.market.instruments() {
        for (asset, scale) in [(inst.base(), inst.qty_scale()), (inst.quote(), inst.price_scale())] {
            match assets.iter_mut().find(|(a, _)| *a == asset) {
                Some((_, s)) => *s = (*s).max(scale),
                None => assets.push((asset, scale)),
            }
        }
    }
    ok(assets
        .iter()
        .map(|(a, scale)| {
            json!({
                "currency": a, "name": a, "fullName": a, "precision": scale, "confirms": null,
                "contractAddress": null, "isMarginEnabled": false, "isDebitEnabled": false, "chains": [],
            })
        })
        .collect())
}

pub(super) fn snapshot(ctx: &Ctx, query: &str, depth: usize) -> HttpResponse {
    let Some(name) = query_value(query, "symbol") else { return error(400, "400100", "symbol is required") };
    let market = &ctx.market;
    let (Some(index), true) = (symbol_index(market, &name), !name.is_empty()) else {
        return error(400, "400100", "Unsupported trading pair.");
    };
    let (Some(snap), Some(inst)) = (market.snapshot(index, depth), market.instruments().get(index)) else {
        return error(400, "400100", "Unsupported trading pair.");
    };
    let units = |side: &[(Price, Qty)]| side.iter().map(|(p, q)| (p.units(), q.units())).collect::<Vec<_>>();
    let body = level2_body(inst, market.now_ms(), snap.update_id, &units(&snap.bids), &units(&snap.asks));
    HttpResponse { body: body.into_bytes(), ..HttpResponse::json(200, &Value::Null) }
}
