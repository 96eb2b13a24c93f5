//! Firi's private documents as the simulator writes them — one order, one fill, one balance —
//! and the order request it reads. The one place these shapes live: Firi's exact private bodies
//! are not published where we could read them (the ReDoc page's samples are collapsed), so
//! every member here is named with its source and is easy to correct.
//!
//! - Order request \[third-party wrappers listing the doc's paths, `NOTES-orders.md` §6\]:
//!   `POST /v2/orders` `{"market":"BTCNOK","type":"bid"|"ask","price":"…","amount":"…"}`, all
//!   strings; only limit orders are known (no market, IOC, FOK or post-only flag). Answer
//!   `{"id":<number>}` \[legacy SDK reads `result.data.id`; a number is our guess\].
//! - Order \[legacy SDK columns\]: `id`, `market`, `type`, `price`, `amount`, `remaining`,
//!   `matched`, `created_at` (ours: RFC 3339). No status member is known: a client derives it
//!   from `matched`/`remaining` and presence in the active list (`NOTES-orders.md` §6).
//! - Fill (`GET /v2/history/trades`) — entirely ours: `id` (string), `order_id` (the order's
//!   `id`), `market`, `type` (the order's side, `bid`/`ask`), `price`, `amount`, `fee` (quote
//!   asset, positive when charged), `fee_currency`, `maker`, `created_at`.
//! - Balance \[legacy SDK fields\]: `currency`, `balance` (total), `hold` (locked),
//!   `available`.
//!
//! Pure functions over market views; allocate the JSON.

use super::errors::FiriError;
use crate::market::{AccountTradeView, BalanceView, ClientOrderRequest, Market, OrderView};
use crate::public_stream::rfc3339_micros;
use qt_core::{DecimalStyle, Instrument, Nanos, Notional, OrderType, Side, TimeInForce};
use serde_json::{Value, json};

/// `bid` / `ask`.
pub(super) fn side_text(s: Side) -> &'static str {
    if s == Side::Buy { "bid" } else { "ask" }
}

fn time(t: Nanos) -> String {
    rfc3339_micros(t.0)
}

fn money(n: Notional) -> String {
    n.to_text(DecimalStyle::Trimmed).as_str().to_owned()
}

/// One order.
pub(super) fn order(inst: &Instrument, v: &OrderView) -> Value {
    let remaining = v.qty.checked_sub(v.cum_qty).unwrap_or(v.qty);
    json!({
        "id": v.venue_order_id,
        "market": inst.symbol(),
        "type": side_text(v.side),
        "price": inst.price_text(v.price).as_ref(),
        "amount": inst.qty_text(v.qty).as_ref(),
        "remaining": inst.qty_text(remaining).as_ref(),
        "matched": inst.qty_text(v.cum_qty).as_ref(),
        "created_at": time(v.created),
    })
}

/// One fill of the account.
pub(super) fn fill(inst: &Instrument, t: &AccountTradeView) -> Value {
    let f = &t.fill;
    json!({
        "id": f.trade_id.to_string(),
        "order_id": t.venue_order_id,
        "market": inst.symbol(),
        "type": side_text(t.side),
        "price": inst.price_text(f.price).as_ref(),
        "amount": inst.qty_text(f.qty).as_ref(),
        "fee": money(f.fee),
        "fee_currency": inst.quote(),
        "maker": f.is_maker,
        "created_at": time(f.ts),
    })
}

/// One balance.
pub(super) fn balance(b: &BalanceView) -> Value {
    json!({
        "currency": b.asset,
        "balance": money(b.free.checked_add(b.locked).unwrap_or(b.free)),
        "hold": money(b.locked),
        "available": money(b.free),
    })
}

/// The order a `POST /v2/orders` body asks for: `(market index, instrument, request)`.
pub(super) fn read_order(market: &Market, body: &[u8]) -> Result<(usize, Instrument, ClientOrderRequest), FiriError> {
    let bad = |t: &str| FiriError::BadRequest(t.to_owned());
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad("Body must be a JSON object"));
    };
    // "Timestamp and validity has to be strings": so, by the same API, the order's fields.
    let text = |k: &str| {
        m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| bad(&format!("{k} must be a string")))
    };
    let name = text("market")?;
    let idx = market.symbol_index(name).ok_or_else(|| FiriError::NotFound(format!("market {name} does not exist")))?;
    let inst =
        market.instruments().get(idx).cloned().ok_or_else(|| FiriError::NotFound("market has no book".into()))?;
    let side = match text("type")? {
        "bid" => Side::Buy,
        "ask" => Side::Sell,
        _ => return Err(bad("type must be bid or ask")),
    };
    let price =
        inst.parse_price(text("price")?).ok().filter(|p| p.is_positive()).ok_or_else(|| bad("Invalid price"))?;
    let qty = inst.parse_qty(text("amount")?).ok().filter(|q| q.is_positive()).ok_or_else(|| bad("Invalid amount"))?;
    let req = ClientOrderRequest {
        client_order_id: None,
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        price: Some(price),
        qty,
    };
    Ok((idx, inst, req))
}
