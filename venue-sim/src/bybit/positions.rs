//! Bybit linear positions: `GET /v5/position/list` (`position/position.mdx`) and the entries of
//! the private `position` topic (`websocket/private/position.mdx`), from the market's one-way
//! positions ([`crate::market::positions`]).
//!
//! Facts: `category=linear` only here (spot has no positions: 10001); linear needs `symbol` or
//! `settleCoin` ("symbol has a higher priority"); with `symbol` the entry comes whether or not a
//! position is open, with `settleCoin` only positions with `size > 0`. One-way mode:
//! `positionIdx` 0; a flat position has `side` `""`. Keys in the docs' examples' order (samples
//! `rest_position_list_response.json`, `ws_private_position.json` in `testdata/bybit/orders/`).
//!
//! Guesses (README lists them): cross margin without margin figures (IM/MM `"0"`, leverage
//! `"10"`, no liquidation or bankruptcy price); `curRealisedPnl` equals `cumRealisedPnl` (closed
//! PnL less commission plus funding, over the position's life); `avgPrice`/`entryPrice` four
//! decimals finer than the tick, trimmed; `markPrice` the mid; `createdTime` the last change.
//!
//! Runs on the server's connection threads and private sessions; allocates per answer.

use super::BybitV5;
use super::errors::{ApiError, missing, param_error};
use super::orders::cum_realised;
use super::params::{Caller, Params, category_param, symbol_of};
use super::rest::Reply;
use super::wire::{Category, Obj, average_price, json_array, ms, qty_text, side_text, value_text};
use crate::market::positions::scaled_text;
use crate::market::{Market, Position};
use crate::protocol::Ctx;
use qt_core::Instrument;

/// One field's value.
enum Field {
    Text(String),
    Int(i64),
    Flag(bool),
}

/// `GET /v5/position/list` entry keys, in the docs' order.
const REST_KEYS: [&str; 36] = [
    "positionIdx",
    "riskId",
    "riskLimitValue",
    "symbol",
    "side",
    "size",
    "avgPrice",
    "positionValue",
    "tradeMode",
    "positionStatus",
    "autoAddMargin",
    "adlRankIndicator",
    "leverage",
    "breakEvenPrice",
    "positionBalance",
    "markPrice",
    "liqPrice",
    "bustPrice",
    "positionMM",
    "positionMMByMp",
    "positionIM",
    "positionIMByMp",
    "tpslMode",
    "takeProfit",
    "stopLoss",
    "trailingStop",
    "unrealisedPnl",
    "curRealisedPnl",
    "cumRealisedPnl",
    "seq",
    "isReduceOnly",
    "mmrSysUpdateTime",
    "leverageSysUpdatedTime",
    "sessionAvgPrice",
    "createdTime",
    "updatedTime",
];

/// `position` topic entry keys, in the docs' order (`entryPrice` for `avgPrice`, `category`).
const WS_KEYS: [&str; 37] = [
    "positionIdx",
    "tradeMode",
    "riskId",
    "riskLimitValue",
    "symbol",
    "side",
    "size",
    "entryPrice",
    "leverage",
    "breakEvenPrice",
    "positionValue",
    "positionBalance",
    "markPrice",
    "positionIM",
    "positionIMByMp",
    "positionMM",
    "positionMMByMp",
    "takeProfit",
    "stopLoss",
    "trailingStop",
    "unrealisedPnl",
    "curRealisedPnl",
    "cumRealisedPnl",
    "sessionAvgPrice",
    "createdTime",
    "updatedTime",
    "tpslMode",
    "liqPrice",
    "bustPrice",
    "category",
    "positionStatus",
    "adlRankIndicator",
    "autoAddMargin",
    "leverageSysUpdatedTime",
    "mmrSysUpdatedTime",
    "seq",
    "isReduceOnly",
];

/// The value of `key` for position `p` of `inst`.
fn field(market: &Market, inst: &Instrument, p: &Position, key: &str) -> Field {
    let text = |t: &str| Field::Text(t.to_owned());
    let entry = || if p.qty == 0 { "0".into() } else { average_price(inst, p.entry_cost, p.size()) };
    let realised = || Field::Text(value_text(cum_realised(p)));
    let updated = || Field::Text(ms(p.updated).to_string());
    match key {
        "positionIdx" | "tradeMode" | "autoAddMargin" => Field::Int(0),
        "riskId" => Field::Int(1),
        "riskLimitValue" => text("2000000"),
        "symbol" => text(inst.symbol()),
        "side" => text(p.side().map_or("", side_text)),
        // A flat position's size is `"0"`, as the stream example shows it.
        "size" if p.qty == 0 => text("0"),
        "size" => Field::Text(qty_text(inst, Category::Linear, p.size())),
        "avgPrice" | "entryPrice" | "breakEvenPrice" => Field::Text(entry()),
        "positionValue" => Field::Text(value_text(p.entry_cost)),
        "positionStatus" => text("Normal"),
        "adlRankIndicator" => Field::Int(if p.qty == 0 { 0 } else { 2 }),
        "leverage" => text("10"),
        "markPrice" => Field::Text(market.mark_price(p.symbol).map_or_else(|| "0".into(), scaled_text)),
        "unrealisedPnl" => {
            let upl = market.mark_price(p.symbol).map_or(qt_core::Notional::ZERO, |m| p.unrealized(inst, m));
            Field::Text(value_text(upl))
        }
        "curRealisedPnl" | "cumRealisedPnl" => realised(),
        "createdTime" | "updatedTime" => updated(),
        "seq" => Field::Int(ms(p.updated)),
        "isReduceOnly" => Field::Flag(false),
        "tpslMode" => text("Full"),
        "category" => text(Category::Linear.name()),
        "sessionAvgPrice"
        | "liqPrice"
        | "bustPrice"
        | "mmrSysUpdateTime"
        | "mmrSysUpdatedTime"
        | "leverageSysUpdatedTime" => text(""),
        // Margins, balances, TP/SL: none simulated.
        _ => text("0"),
    }
}

/// Position `p` as an object with `keys`, in that order.
fn position_json(market: &Market, inst: &Instrument, p: &Position, keys: &[&str]) -> String {
    keys.iter()
        .fold(Obj::new(), |o, k| match field(market, inst, p, k) {
            Field::Text(t) => o.s(k, &t),
            Field::Int(n) => o.int(k, n),
            Field::Flag(b) => o.boolean(k, b),
        })
        .done()
}

/// One `list` entry of `GET /v5/position/list`.
pub(super) fn rest_position_json(market: &Market, inst: &Instrument, p: &Position) -> String {
    position_json(market, inst, p, &REST_KEYS)
}

/// One `data` entry of the private `position` topic.
pub(super) fn ws_position_json(market: &Market, inst: &Instrument, p: &Position) -> String {
    position_json(market, inst, p, &WS_KEYS)
}

impl BybitV5 {
    /// `GET /v5/position/list?category=linear&(symbol=|settleCoin=)[&baseCoin=]`; `limit` and
    /// `cursor` accepted (one page holds every position here).
    pub(super) fn position_list(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        if cat != Category::Linear {
            return Err(param_error("category only support linear or option or inverse"));
        }
        let market = &ctx.market;
        let held = market.positions(caller.account);
        let position_of = |i: usize| held.iter().find(|x| x.symbol == i).copied().unwrap_or_else(|| Position::flat(i));
        let list: Vec<String> = match (p.get("symbol")?, p.get("settleCoin")?) {
            (Some(symbol), _) => {
                let (idx, inst) = symbol_of(market, cat, &symbol)?;
                vec![rest_position_json(market, &inst, &position_of(idx))]
            }
            (None, Some(settle)) => {
                let base = p.get("baseCoin")?;
                held.iter()
                    .filter(|x| x.qty != 0)
                    .filter_map(|x| market.instruments().get(x.symbol).map(|inst| (inst, x)))
                    .filter(|(inst, _)| Category::of(inst.kind()) == Some(Category::Linear) && inst.quote() == settle)
                    .filter(|(inst, _)| base.as_deref().is_none_or(|b| b == inst.base()))
                    .map(|(inst, x)| rest_position_json(market, inst, x))
                    .collect()
            }
            (None, None) => return Err(missing("symbol or settleCoin")),
        };
        Ok(Reply::ok(
            Obj::new().raw("list", &json_array(list)).s("nextPageCursor", "").s("category", cat.name()).done(),
        ))
    }
}
