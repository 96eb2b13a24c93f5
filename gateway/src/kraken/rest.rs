//! Kraken's private REST requests as the gateway writes them — form-urlencoded bodies with the
//! nonce first ([`add_order_body`], [`cancel_order_body`], [`cancel_after_body`], [`nonce_body`])
//! and their `API-Key` / `API-Sign` headers ([`sign_headers`]) — and the
//! `{"error":[..],"result":..}` envelope of every answer ([`envelope`]).
//!
//! Facts (`NOTES-orders.md` §5, `testdata/kraken/orders/`): AddOrder `ordertype` limit/market,
//! `type` buy/sell, `volume`, `price`, `pair`, `cl_ord_id`; post-only is `oflags=post`, IOC is
//! `timeinforce=IOC` (REST has no FOK: refused here, [`BodyError::Unsupported`]); CancelOrder
//! takes a txid or a `cl_ord_id` in `txid`; CancelAllOrdersAfter `timeout` in seconds (0
//! disarms). The signature (`crate::sign::kraken`) covers the path and the body with its nonce.
//!
//! Allocates the body text; never panics on venue input.

use crate::sign::kraken::KrakenSigner;
use qt_core::{ClientOrderId, Instrument, OrderRequest, OrderType, Side, TimeInForce};
use serde_json::Value;

/// Paths of the private endpoints.
pub const ADD_ORDER_PATH: &str = "/0/private/AddOrder";
/// CancelOrder.
pub const CANCEL_ORDER_PATH: &str = "/0/private/CancelOrder";
/// CancelAll.
pub const CANCEL_ALL_PATH: &str = "/0/private/CancelAll";
/// CancelAllOrdersAfter (the dead-man's switch).
pub const CANCEL_AFTER_PATH: &str = "/0/private/CancelAllOrdersAfter";
/// OpenOrders.
pub const OPEN_ORDERS_PATH: &str = "/0/private/OpenOrders";
/// QueryOrders.
pub const QUERY_ORDERS_PATH: &str = "/0/private/QueryOrders";
/// TradesHistory.
pub const TRADES_HISTORY_PATH: &str = "/0/private/TradesHistory";
/// Balance.
pub const BALANCE_PATH: &str = "/0/private/Balance";
/// GetWebSocketsToken.
pub const WS_TOKEN_PATH: &str = "/0/private/GetWebSocketsToken";

/// Why an order cannot be written as a Kraken request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A time in force or type Kraken's REST AddOrder does not offer.
    #[error("kraken REST AddOrder does not offer {0}")]
    Unsupported(&'static str),
}

/// `nonce=<n>` alone (OpenOrders, Balance, CancelAll, GetWebSocketsToken).
pub fn nonce_body(nonce: u64) -> String {
    format!("nonce={nonce}")
}

/// AddOrder's body for `req` on `inst` (the pair is the instrument's symbol) with client id `cl`.
pub fn add_order_body(
    nonce: u64,
    inst: &Instrument,
    req: &OrderRequest,
    cl: &ClientOrderId,
) -> Result<String, BodyError> {
    let side = if req.side == Side::Buy { "buy" } else { "sell" };
    let mut body = format!("nonce={nonce}&ordertype=");
    match req.order_type {
        OrderType::Market => body.push_str("market"),
        OrderType::Limit => body.push_str("limit"),
    }
    body.push_str("&type=");
    body.push_str(side);
    body.push_str("&volume=");
    body.push_str(inst.qty_text(req.qty).as_ref());
    body.push_str("&pair=");
    body.push_str(&form_escape(inst.symbol()));
    if req.order_type == OrderType::Limit {
        body.push_str("&price=");
        body.push_str(inst.price_text(req.price).as_ref());
    }
    match (req.order_type, req.tif) {
        (OrderType::Market, _) | (OrderType::Limit, TimeInForce::Gtc) => {}
        (OrderType::Limit, TimeInForce::PostOnly) => body.push_str("&oflags=post"),
        (OrderType::Limit, TimeInForce::Ioc) => body.push_str("&timeinforce=IOC"),
        (OrderType::Limit, TimeInForce::Fok) => return Err(BodyError::Unsupported("fill-or-kill")),
        #[allow(unreachable_patterns, reason = "future time-in-force values")]
        _ => return Err(BodyError::Unsupported("this time in force")),
    }
    body.push_str("&cl_ord_id=");
    body.push_str(cl.as_str());
    Ok(body)
}

/// CancelOrder's body: `txid` a venue txid or our client order id.
pub fn cancel_order_body(nonce: u64, txid: &str) -> String {
    format!("nonce={nonce}&txid={}", form_escape(txid))
}

/// CancelAllOrdersAfter's body (`timeout_s` 0 disarms the switch).
pub fn cancel_after_body(nonce: u64, timeout_s: u64) -> String {
    format!("nonce={nonce}&timeout={timeout_s}")
}

/// `%`-escapes what a form value may not hold bare (`/` in `BTC/USD`, `&`, `=`, `+`, space).
fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `API-Key` and `API-Sign` headers for `path` with `body` (whose nonce is `nonce`).
pub fn sign_headers(signer: &KrakenSigner, api_key: &str, path: &str, nonce: u64, body: &str) -> [(String, String); 2] {
    let mut sign = String::with_capacity(88);
    signer.signature_into(path, &nonce.to_string(), body, &mut sign);
    [("API-Key".into(), api_key.to_owned()), ("API-Sign".into(), sign)]
}

/// An answer's envelope: `Ok(result)` when `error` is empty, else `Err(first error text)`;
/// an answer that is not the envelope is `Err` with a description.
pub fn envelope(body: &[u8]) -> Result<Value, String> {
    let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(body) else {
        return Err("not a Kraken answer (not a JSON object)".into());
    };
    match m.get("error") {
        Some(Value::Array(errs)) if errs.is_empty() => Ok(m.remove("result").unwrap_or(Value::Null)),
        Some(Value::Array(errs)) => Err(errs.first().and_then(Value::as_str).unwrap_or("unknown error").to_owned()),
        _ => Err("not a Kraken answer (no error list)".into()),
    }
}

/// AddOrder's txid from its result (`{"txid":["O…"]}`).
pub fn add_order_txid(result: &Value) -> Option<&str> {
    result.get("txid")?.get(0)?.as_str()
}
