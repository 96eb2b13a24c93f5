//! Binance USD-M's REST answers: errors, `exchangeInfo` symbols and the `depth` snapshot.

use super::wire::{depth_body, price_text, qty_text};
use super::{BinanceUsdm, DEPTH_LIMITS};
use crate::kit::decimal_text::ms;
use crate::kit::form::parse_form;
use crate::protocol::{Ctx, HttpResponse};
use qt_core::{Instrument, Price, Qty};
use serde_json::{Value, json};

pub(super) fn error(code: i32, msg: &str) -> HttpResponse {
    HttpResponse::json(400, &json!({ "code": code, "msg": msg }))
}

pub(super) fn symbol_of(ctx: &Ctx, name: &str) -> Option<usize> {
    ctx.market.instruments().iter().position(|i| i.symbol().eq_ignore_ascii_case(name))
}

pub(super) fn symbol_info(inst: &Instrument) -> Value {
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
            { "filterType": "PRICE_FILTER", "tickSize": price_text(inst, inst.tick().units()) },
            { "filterType": "LOT_SIZE", "stepSize": qty_text(inst, inst.lot().units()), "minQty": qty_text(inst, inst.min_qty().units()) },
        ],
    })
}

impl BinanceUsdm {
    pub(super) fn depth(ctx: &Ctx, query: &str) -> HttpResponse {
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
        let units = |side: &[(Price, Qty)]| side.iter().map(|(p, q)| (p.units(), q.units())).collect::<Vec<_>>();
        let times = (ctx.market.now_ms(), ms(snap.ts));
        let body = depth_body(inst, snap.update_id, times, &units(&snap.bids), &units(&snap.asks));
        HttpResponse { body: body.into_bytes(), ..HttpResponse::json(200, &Value::Null) }
    }
}
