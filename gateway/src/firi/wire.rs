//! Firi's private bodies as the gateway writes and reads them — the one place their shapes
//! live, each member named with its source, so a correction is made here alone:
//!
//! - New order \[third-party wrappers listing developers.firi.com's paths, `NOTES-orders.md`
//!   §6\]: `POST /v2/orders` `{"market":"BTCNOK","type":"bid"|"ask","price":"…","amount":"…"}`,
//!   every value a string ("Timestamp and validity has to be strings" \[DOC\] — the clients send
//!   the order's fields the same way). Only limit orders are known: no market, IOC, FOK or
//!   post-only flag and no client order id, so the body carries none ([`write_order_body`]).
//!   Answer `{"id":…}` \[legacy SDK reads `result.data.id`\]; a number or a digit string.
//! - Order \[legacy SDK columns\]: `id`, `market`, `type`, `price`, `amount`, `remaining`,
//!   `matched`; no status member — active (listed by `GET /v2/orders`) or not, and
//!   `matched`/`remaining` tell it ([`FiriOrder`]).
//! - Fill (`GET /v2/history/trades`) — not published; the simulator's shape: `id`, `order_id`,
//!   `market`, `type`, `price`, `amount`, `fee`, `fee_currency`, `maker` ([`FiriFill`]). A fee
//!   in the base currency is converted at the fill's price.
//! - Balance \[legacy SDK fields\]: `currency`, `balance`, `hold`, `available`.
//! - Refusal \[RECALL: the legacy SDK reads `error.response.data.message`\]: `{"name","message"}`
//!   ([`FiriRefusal`]).
//!
//! Pure functions. [`write_order_body`] appends without allocating once `out` has capacity; the
//! readers allocate (JSON) and never panic on venue input.

use crate::bybit::account::Balance;
use qt_core::{Instrument, Notional, OrderRequest, Price, Qty, Rounding, Side};
use serde_json::Value;

/// `bid` / `ask`.
pub fn side_word(side: Side) -> &'static str {
    if side == Side::Buy { "bid" } else { "ask" }
}

/// Appends the `POST /v2/orders` body of `req` on `inst` to `out`:
/// `{"market":"<symbol>","type":"bid"|"ask","price":"<price>","amount":"<qty>"}`, decimals on
/// the instrument's grid. Only the limit fields are written (Firi documents no other order
/// type or flag; the gateway refuses those before calling this). No allocation once `out` has
/// capacity (about 80 bytes).
pub fn write_order_body(out: &mut String, inst: &Instrument, req: &OrderRequest) {
    out.push_str("{\"market\":\"");
    out.push_str(inst.symbol());
    out.push_str("\",\"type\":\"");
    out.push_str(side_word(req.side));
    out.push_str("\",\"price\":\"");
    out.push_str(inst.price_text(req.price).as_str());
    out.push_str("\",\"amount\":\"");
    out.push_str(inst.qty_text(req.qty).as_str());
    out.push_str("\"}");
}

/// An order id: a JSON number or a digit string.
pub fn order_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The id in a `POST /v2/orders` answer (`{"id":…}`).
pub fn placed_id(body: &Value) -> Option<u64> {
    body.get("id").and_then(order_id)
}

/// A refusal: `name` and `message` (either may be empty when the body has none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FiriRefusal {
    /// `name` (`ApiKeyNotFound`, `NotFound`, `BadRequest`, …).
    pub name: String,
    /// `message` (`Expired Signature`, `Invalid Signature`, `Insufficient funds`, …).
    pub message: String,
}

impl FiriRefusal {
    /// Reads a refusal body; a body that is not one gives its start as the message.
    pub fn parse(body: &[u8]) -> Self {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.is_object() => Self { name: text(&v, "name"), message: text(&v, "message") },
            _ => Self { name: String::new(), message: String::from_utf8_lossy(&body[..body.len().min(200)]).into() },
        }
    }
}

fn field<'a>(v: &'a Value, k: &str) -> Result<&'a str, String> {
    v.get(k).and_then(Value::as_str).ok_or_else(|| format!("{k} missing or not a string"))
}

fn side(v: &Value) -> Result<Side, String> {
    match field(v, "type")? {
        "bid" => Ok(Side::Buy),
        "ask" => Ok(Side::Sell),
        other => Err(format!("type {other:?} is neither bid nor ask")),
    }
}

fn qty(inst: &Instrument, v: &Value, k: &str) -> Result<Qty, String> {
    let t = field(v, k)?;
    inst.parse_qty(t).map_err(|e| format!("{k} {t:?}: {e}"))
}

fn price(inst: &Instrument, v: &Value, k: &str) -> Result<Price, String> {
    let t = field(v, k)?;
    inst.parse_price(t).map_err(|e| format!("{k} {t:?}: {e}"))
}

fn money(v: &Value, k: &str) -> Result<Notional, String> {
    let t = field(v, k)?;
    Notional::parse(t).map_err(|e| format!("{k} {t:?}: {e}"))
}

/// One order as Firi lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiriOrder {
    /// Firi's order id.
    pub id: u64,
    /// The instrument's index in the caller's table.
    pub inst: usize,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Ordered amount.
    pub amount: Qty,
    /// Not yet filled (on a closed order: what was cancelled).
    pub remaining: Qty,
    /// Filled.
    pub matched: Qty,
}

/// The index and instrument of `market` in `instruments` (an unknown market is an error).
fn market<'i>(instruments: &'i [Instrument], v: &Value) -> Result<(usize, &'i Instrument), String> {
    let m = field(v, "market")?;
    instruments
        .iter()
        .enumerate()
        .find(|(_, i)| i.symbol() == m)
        .ok_or_else(|| format!("market {m:?} is not traded here"))
}

/// Reads one order of a market of `instruments`.
pub fn parse_order(v: &Value, instruments: &[Instrument]) -> Result<FiriOrder, String> {
    let id = v.get("id").and_then(order_id).ok_or("id missing or not a number")?;
    let (idx, inst) = market(instruments, v)?;
    Ok(FiriOrder {
        id,
        inst: idx,
        side: side(v)?,
        price: price(inst, v, "price")?,
        amount: qty(inst, v, "amount")?,
        remaining: qty(inst, v, "remaining")?,
        matched: qty(inst, v, "matched")?,
    })
}

/// One fill of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiriFill {
    /// The trade's id.
    pub id: Box<str>,
    /// The order's id.
    pub order_id: u64,
    /// The instrument's index in the caller's table.
    pub inst: usize,
    /// The order's side.
    pub side: Side,
    /// Price.
    pub price: Price,
    /// Amount.
    pub qty: Qty,
    /// Fee in the quote currency (positive when charged).
    pub fee: Notional,
    /// Whether the order was the maker.
    pub maker: bool,
}

/// Reads one fill of a market of `instruments`.
pub fn parse_fill(v: &Value, instruments: &[Instrument]) -> Result<FiriFill, String> {
    let id = match v.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str().into(),
        Some(Value::Number(n)) => n.to_string().into(),
        _ => return Err("id missing".into()),
    };
    let order_id = v.get("order_id").and_then(order_id).ok_or("order_id missing or not a number")?;
    let (idx, inst) = market(instruments, v)?;
    let (px, q) = (price(inst, v, "price")?, qty(inst, v, "amount")?);
    let mut fee = money(v, "fee")?;
    let currency = v.get("fee_currency").and_then(Value::as_str).unwrap_or(inst.quote());
    if currency == inst.base() && currency != inst.quote() {
        // A fee taken from the base asset, worth its amount at the fill's price.
        let t = field(v, "fee")?;
        let in_base = inst.parse_qty(t).map_err(|e| format!("fee {t:?} in {currency}: {e}"))?;
        fee = inst.notional(px, in_base, Rounding::Nearest).map_err(|e| format!("fee: {e}"))?;
    } else if currency != inst.quote() {
        return Err(format!("fee_currency {currency:?} is neither {} nor {}", inst.base(), inst.quote()));
    }
    let maker = v.get("maker").and_then(Value::as_bool).unwrap_or(false);
    Ok(FiriFill { id, order_id, inst: idx, side: side(v)?, price: px, qty: q, fee, maker })
}

/// Reads a `GET /v2/balances` answer (`free` = `available`, `locked` = `hold`).
pub fn parse_balances(body: &Value) -> Result<Vec<Balance>, String> {
    let list = body.as_array().ok_or("not a list")?;
    list.iter()
        .enumerate()
        .map(|(i, b)| {
            let at = |e: String| format!("[{i}]: {e}");
            Ok(Balance {
                asset: field(b, "currency").map_err(at)?.to_owned(),
                free: money(b, "available").map_err(at)?,
                locked: money(b, "hold").map_err(at)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{AccountId, InstrumentId, OrderType, StrategyId, TimeInForce, Venue};
    use serde_json::json;

    fn btcnok() -> Instrument {
        qt_test_support::TestInstrument::spot(Venue::Firi, "BTCNOK")
            .assets("BTC", "NOK")
            .tick("1")
            .lot("0.0001")
            .build(0)
    }

    /// The body of `samples/firi/orders/sign_vectors.txt`'s `[order_body]` (the shape the
    /// third-party clients send), written by the live path's writer.
    #[test]
    fn the_order_body_is_the_clients_shape_and_appends_without_allocating() {
        let inst = btcnok();
        let req = OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: inst.parse_price("500000").unwrap(),
            qty: inst.parse_qty("0.001").unwrap(),
            reduce_only: false,
            stop_price: None,
        };
        let mut out = String::with_capacity(128);
        let cap = out.capacity();
        write_order_body(&mut out, &inst, &req);
        assert_eq!(out, r#"{"market":"BTCNOK","type":"bid","price":"500000","amount":"0.0010"}"#);
        assert_eq!(out.capacity(), cap, "no reallocation");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["amount"].as_str().map(|a| inst.parse_qty(a).unwrap()), Some(req.qty));
        out.clear();
        write_order_body(&mut out, &inst, &OrderRequest { side: Side::Sell, ..req });
        assert!(out.contains(r#""type":"ask""#), "{out}");
    }

    #[test]
    fn orders_fills_balances_and_refusals_read_exactly() {
        let inst = [btcnok()];
        let o = json!({"id": 42, "market": "BTCNOK", "type": "ask", "price": "650000", "amount": "0.0020",
            "remaining": "0.0015", "matched": "0.0005", "created_at": "2026-12-07T18:00:00.000000Z"});
        let o = parse_order(&o, &inst).unwrap();
        assert_eq!((o.id, o.inst, o.side), (42, 0, Side::Sell));
        assert_eq!((o.amount.units(), o.remaining.units(), o.matched.units()), (20, 15, 5));
        assert_eq!(placed_id(&json!({"id": "77"})), Some(77), "a digit string is an id too");
        let bad = json!({"id": 1, "market": "ETHNOK", "type": "bid", "price": "1", "amount": "1", "remaining": "1", "matched": "0"});
        assert!(parse_order(&bad, &inst).unwrap_err().contains("ETHNOK"));

        let f = json!({"id": "9", "order_id": 42, "market": "BTCNOK", "type": "ask", "price": "650000",
            "amount": "0.0005", "fee": "0.065", "fee_currency": "NOK", "maker": true});
        let f = parse_fill(&f, &inst).unwrap();
        assert_eq!((&*f.id, f.order_id, f.maker), ("9", 42, true));
        assert_eq!(f.fee, Notional::parse("0.065").unwrap());
        // A fee in BTC is worth its amount at the fill's price.
        let f = json!({"id": 10, "order_id": 42, "market": "BTCNOK", "type": "bid", "price": "650000",
            "amount": "0.0005", "fee": "0.0001", "fee_currency": "BTC"});
        assert_eq!(parse_fill(&f, &inst).unwrap().fee, Notional::parse("65").unwrap());
        let f = json!({"id": "1", "order_id": 1, "market": "BTCNOK", "type": "bid", "price": "1", "amount": "1", "fee": "x"});
        assert!(parse_fill(&f, &inst).is_err());

        let b = json!([{"currency": "NOK", "balance": "1000", "hold": "250.5", "available": "749.5"}]);
        let b = parse_balances(&b).unwrap();
        assert_eq!((b[0].asset.as_str(), b[0].total()), ("NOK", Notional::parse("1000").unwrap()));
        assert!(parse_balances(&json!({"NOK": 1})).is_err());

        let r = FiriRefusal::parse(br#"{"name":"ExpiredSignature","message":"Expired Signature"}"#);
        assert_eq!(r.message, "Expired Signature");
        assert_eq!(FiriRefusal::parse(b"<html>").message, "<html>");
    }
}
