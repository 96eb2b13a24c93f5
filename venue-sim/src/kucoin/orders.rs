//! KuCoin's HF spot order entry and account over the shared market: `POST /api/v1/hf/orders`,
//! `DELETE /api/v1/hf/orders/{orderId}?symbol=`, `DELETE /api/v1/hf/orders/client-order/
//! {clientOid}?symbol=`, `DELETE /api/v1/hf/orders?symbol=` (cancel all of a symbol),
//! `GET /api/v1/hf/orders/active?symbol=`, `GET /api/v1/hf/orders/{orderId}?symbol=`,
//! `GET /api/v1/hf/orders/client-order/{clientOid}?symbol=`, `GET /api/v1/hf/fills?symbol=`
//! and `GET /api/v1/accounts`.
//!
//! Facts (`NOTES-orders.md` §4, samples in `testdata/kucoin/orders/`): the ack
//! `{"code":"200000","data":{"orderId","clientOid"}}`; cancel answers `{"orderId"}` /
//! `{"clientOid"}`; cancel-all `"success"`; refusals `{"code","msg"}` — 200004 "Balance
//! insufficient", 900001 "symbol not exists", 400100 parameter errors. Texts of the 400100
//! refusals (size increment, minimum, price increment, duplicate `clientOid`, post-only that
//! would take, unfillable FOK, order not found) are [RECALL] of KuCoin's messages: the docs
//! list only the codes (README). Business refusals (200004, order not found) answer HTTP 200,
//! parameter errors HTTP 400 (the docs: "200 or 4xx").
//! Not simulated (refused with 400100): `GTT`/`cancelAfter`, market orders sized by `funds`,
//! `hidden`/`iceberg`. A post-only order that would take and an FOK that cannot fill are
//! refused at placement (NOTES: "rejected or cancelled by the matcher" [RECALL]).
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use super::auth::ApiError;
use super::order_doc::{fill_json, money, order_json, parse_order_id};
use super::rest::query_value;
use super::symbol_index;
use crate::market::{ClientOrderRequest, Market, OrderRef, OrderReject, OrderView};
use crate::protocol::Ctx;
use qt_core::{AccountId, Instrument, Notional, OrderType, Price, Qty, RejectReason, Side, TimeInForce};
use serde_json::{Map, Value, json};

/// `clientOid`: "unique, up to 40 characters".
const MAX_CLIENT_OID: usize = 40;

/// The symbol named by the query's `symbol`.
pub(super) fn query_symbol(market: &Market, query: &str) -> Result<(usize, Instrument), ApiError> {
    let name =
        query_value(query, "symbol").filter(|s| !s.is_empty()).ok_or_else(|| ApiError::param("symbol is required"))?;
    named(market, &name)
}

fn named(market: &Market, name: &str) -> Result<(usize, Instrument), ApiError> {
    let idx = symbol_index(market, name).ok_or_else(|| ApiError::new(400, "900001", "symbol not exists"))?;
    let inst =
        market.instruments().get(idx).cloned().ok_or_else(|| ApiError::new(400, "900001", "symbol not exists"))?;
    Ok((idx, inst))
}

/// A body field as text (KuCoin sends every number as a string); absent, `null` and `""` are
/// "not given".
fn field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ApiError::param(format!("{key} is invalid"))),
    }
}

fn flag(body: &Map<String, Value>, key: &str) -> Result<bool, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(_) => Err(ApiError::param(format!("{key} is invalid"))),
    }
}

fn need(body: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    field(body, key)?.ok_or_else(|| ApiError::param(format!("{key} is required")))
}

/// A readable place request.
fn read_order(market: &Market, body: &Map<String, Value>) -> Result<(usize, Instrument, ClientOrderRequest), ApiError> {
    let (idx, inst) = named(market, &need(body, "symbol")?)?;
    let side = match need(body, "side")?.as_str() {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => return Err(ApiError::param("side is invalid")),
    };
    let order_type = match need(body, "type")?.as_str() {
        "limit" => OrderType::Limit,
        "market" => OrderType::Market,
        _ => return Err(ApiError::param("type is invalid")),
    };
    let post_only = flag(body, "postOnly")?;
    if flag(body, "hidden")? || flag(body, "iceberg")? {
        return Err(ApiError::param("hidden and iceberg orders are not simulated"));
    }
    let tif = match (order_type, field(body, "timeInForce")?.as_deref(), post_only) {
        (OrderType::Market, _, _) => TimeInForce::Ioc,
        (_, None | Some("GTC"), false) => TimeInForce::Gtc,
        (_, None | Some("GTC"), true) => TimeInForce::PostOnly,
        (_, Some("IOC"), false) => TimeInForce::Ioc,
        (_, Some("FOK"), false) => TimeInForce::Fok,
        (_, Some("IOC" | "FOK"), true) => return Err(ApiError::param("postOnly is not allowed with IOC or FOK")),
        (_, Some("GTT"), _) => return Err(ApiError::param("timeInForce GTT is not simulated")),
        _ => return Err(ApiError::param("timeInForce is invalid")),
    };
    if order_type == OrderType::Market && field(body, "funds")?.is_some() {
        return Err(ApiError::param("market orders sized by funds are not simulated"));
    }
    let qty: Qty =
        inst.parse_qty(&need(body, "size")?).map_err(|_| ApiError::param("Order size increment invalid."))?;
    if !qty.is_positive() {
        return Err(ApiError::param("size is invalid"));
    }
    let price: Option<Price> = match order_type {
        OrderType::Market => None,
        OrderType::Limit => {
            let p: Price =
                inst.parse_price(&need(body, "price")?).map_err(|_| ApiError::param("Price increment invalid."))?;
            if !p.is_positive() {
                return Err(ApiError::param("price is invalid"));
            }
            Some(p)
        }
    };
    let cl = field(body, "clientOid")?;
    if cl.as_deref().is_some_and(|c| c.len() > MAX_CLIENT_OID) {
        return Err(ApiError::param("clientOid is invalid"));
    }
    Ok((idx, inst, ClientOrderRequest { client_order_id: cl, side, order_type, tif, price, qty }))
}

/// KuCoin's refusal of a market rejection.
fn reject(inst: &Instrument, qty: Qty, e: &OrderReject) -> ApiError {
    match e {
        OrderReject::InsufficientBalance | OrderReject::Reason(RejectReason::InsufficientBalance) => {
            ApiError::new(200, "200004", "Balance insufficient")
        }
        OrderReject::Reason(RejectReason::LotSize) if inst.is_on_lot(qty) => {
            ApiError::param("Order size below the minimum requirement.")
        }
        OrderReject::Reason(RejectReason::LotSize) => ApiError::param("Order size increment invalid."),
        OrderReject::Reason(RejectReason::MinNotional) => ApiError::param("Order funds below the minimum requirement."),
        OrderReject::Reason(RejectReason::PriceFilter) => ApiError::param("Price increment invalid."),
        OrderReject::DuplicateClientOrderId => ApiError::param("The clientOid already exists."),
        OrderReject::Reason(RejectReason::WouldTakeLiquidity) => {
            ApiError::param("postOnly order would match an existing order.")
        }
        OrderReject::Reason(RejectReason::FokUnfillable) => ApiError::param("FOK order cannot be filled completely."),
        OrderReject::Reason(RejectReason::RateLimited) => ApiError::new(429, "429000", "Too Many Requests"),
        OrderReject::UnknownSymbol | OrderReject::Reason(RejectReason::UnknownInstrument) => {
            ApiError::new(400, "900001", "symbol not exists")
        }
        OrderReject::UnknownOrder | OrderReject::ReduceOnly | OrderReject::Reason(_) => {
            ApiError::param("Parameter Error")
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(200, "400100", "order_not_exist_or_not_allow_to_cancel")
}

/// The fee paid so far by one order.
fn order_fee(market: &Market, account: AccountId, v: &OrderView) -> Notional {
    market
        .account_trades(account, v.symbol)
        .iter()
        .filter(|t| t.venue_order_id == v.venue_order_id)
        .fold(Notional::ZERO, |a, t| a.checked_add(t.fill.fee).unwrap_or(a))
}

fn doc(market: &Market, account: AccountId, inst: &Instrument, v: &OrderView) -> Value {
    order_json(inst, v, order_fee(market, account, v))
}

/// An order reference from a path tail: a KuCoin order id, or a `clientOid` after
/// `client-order/`.
pub(super) fn order_ref(tail: &str) -> Result<OrderRef, ApiError> {
    match tail.strip_prefix("client-order/") {
        Some(cl) if !cl.is_empty() => {
            Ok(OrderRef::Client(crate::kit::form::percent_decode(cl.as_bytes()).unwrap_or_else(|| cl.to_owned())))
        }
        Some(_) => Err(ApiError::param("clientOid is required")),
        None => parse_order_id(tail).map(OrderRef::Venue).ok_or_else(not_found),
    }
}

/// `POST /api/v1/hf/orders`.
pub(super) fn place(ctx: &Ctx, account: AccountId, body: &[u8]) -> Result<Value, ApiError> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err(ApiError::param("The request body is not a JSON object"));
    };
    let (idx, inst, request) = read_order(&ctx.market, &body)?;
    let qty = request.qty;
    match ctx.market.submit(account, idx, request) {
        Ok(outcome) => Ok(json!({
            "orderId": super::order_doc::order_id(outcome.order.venue_order_id),
            "clientOid": outcome.order.client_order_id,
        })),
        Err(e) => Err(reject(&inst, qty, &e)),
    }
}

/// `DELETE /api/v1/hf/orders/{orderId}|client-order/{clientOid}?symbol=`.
pub(super) fn cancel(ctx: &Ctx, account: AccountId, tail: &str, query: &str) -> Result<Value, ApiError> {
    let (idx, _) = query_symbol(&ctx.market, query)?;
    let r = order_ref(tail)?;
    let v = ctx.market.cancel(account, idx, &r).map_err(|_| not_found())?;
    Ok(match r {
        OrderRef::Client(_) => json!({"clientOid": v.client_order_id}),
        OrderRef::Venue(_) => json!({"orderId": super::order_doc::order_id(v.venue_order_id)}),
    })
}

/// `DELETE /api/v1/hf/orders?symbol=`: every open order of the symbol; `"success"`.
pub(super) fn cancel_all(ctx: &Ctx, account: AccountId, query: &str) -> Result<Value, ApiError> {
    let (idx, _) = query_symbol(&ctx.market, query)?;
    ctx.market.cancel_all(account, Some(idx));
    Ok(Value::from("success"))
}

/// `GET /api/v1/hf/orders/active?symbol=`: the symbol's open orders, newest first.
pub(super) fn active(ctx: &Ctx, account: AccountId, query: &str) -> Result<Value, ApiError> {
    let (idx, inst) = query_symbol(&ctx.market, query)?;
    let mut open = ctx.market.open_orders(account, Some(idx));
    open.sort_by_key(|v| std::cmp::Reverse((v.created, v.venue_order_id)));
    Ok(Value::Array(open.iter().map(|v| doc(&ctx.market, account, &inst, v)).collect()))
}

/// `GET /api/v1/hf/orders/{orderId}|client-order/{clientOid}?symbol=`.
pub(super) fn one(ctx: &Ctx, account: AccountId, tail: &str, query: &str) -> Result<Value, ApiError> {
    let (idx, inst) = query_symbol(&ctx.market, query)?;
    let r = order_ref(tail)?;
    let v = ctx.market.order(account, idx, &r).ok_or_else(|| ApiError::new(200, "400100", "order not exist."))?;
    Ok(doc(&ctx.market, account, &inst, &v))
}

/// `GET /api/v1/hf/fills?symbol=[&orderId=][&limit=]`: the symbol's fills, newest first, at
/// most `limit` (1..=100, default 20), as `{"items":[..],"lastId":..}`. Paging by `lastId` is
/// not simulated: the newest page only.
pub(super) fn fills(ctx: &Ctx, account: AccountId, query: &str) -> Result<Value, ApiError> {
    let market = &ctx.market;
    let (idx, inst) = query_symbol(market, query)?;
    let only = match query_value(query, "orderId").filter(|s| !s.is_empty()) {
        Some(t) => Some(parse_order_id(&t).ok_or_else(|| ApiError::param("orderId is invalid"))?),
        None => None,
    };
    let limit = match query_value(query, "limit") {
        None => 20,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::param("limit is invalid"))?,
    };
    let mut all: Vec<_> = market
        .account_trades(account, idx)
        .into_iter()
        .filter(|t| only.is_none_or(|o| o == t.venue_order_id))
        .collect();
    all.sort_by_key(|t| std::cmp::Reverse((t.fill.ts, t.fill.trade_id)));
    let mut items = Vec::new();
    for t in all.iter().take(limit) {
        let Some(order) = market.order(account, idx, &OrderRef::Venue(t.venue_order_id)) else { continue };
        items.push(fill_json(&inst, &order, &t.fill));
    }
    let last = all.get(limit.min(all.len()).saturating_sub(1)).map_or(0, |t| t.fill.trade_id);
    Ok(json!({"items": items, "lastId": last}))
}

/// `GET /api/v1/accounts[?currency=][&type=]`: one `trade` account per asset with a balance
/// (or the named currency, zero included). `main` accounts are not simulated: `type=main`
/// lists none.
pub(super) fn accounts(ctx: &Ctx, account: AccountId, query: &str) -> Result<Value, ApiError> {
    let currency = query_value(query, "currency").filter(|s| !s.is_empty());
    match query_value(query, "type").as_deref() {
        None | Some("" | "trade" | "trade_hf") => {}
        Some("main" | "margin") => return Ok(json!([])),
        Some(_) => return Err(ApiError::param("type is invalid")),
    }
    let mut out = Vec::new();
    for b in ctx.market.balances(account) {
        let keep = match &currency {
            Some(c) => *c == b.asset,
            None => !(b.free.is_zero() && b.locked.is_zero()),
        };
        if !keep {
            continue;
        }
        let total = b.free.checked_add(b.locked).unwrap_or(b.free);
        out.push(json!({
            "id": format!("{:08x}{}", account.index(), b.asset.to_ascii_lowercase()), "currency": b.asset,
            "type": "trade", "balance": money(total), "available": money(b.free), "holds": money(b.locked),
        }));
    }
    Ok(Value::Array(out))
}
