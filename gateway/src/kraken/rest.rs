//! Kraken's private REST requests as the gateway writes them — form-urlencoded bodies with the
//! nonce first ([`add_order_body`], [`cancel_order_body`], [`cancel_after_body`], [`nonce_body`])
//! and their `API-Key` / `API-Sign` headers ([`sign_headers`]) — and the
//! `{"error":[..],"result":..}` envelope of every answer ([`envelope`]).
//!
//! Facts (`NOTES-orders.md` §5, `testdata/kraken/orders/`): AddOrder `ordertype` limit/market,
//! `type` buy/sell, `volume`, `price`, `pair`, `cl_ord_id` (ours in Kraken's short-UUID form,
//! [`ClOrdId`]); post-only is `oflags=post`, IOC is
//! `timeinforce=IOC` (REST has no FOK: refused here, [`BodyError::Unsupported`]); CancelOrder
//! takes a txid or a `cl_ord_id` in `txid`; CancelAllOrdersAfter `timeout` in seconds (0
//! disarms). The signature (`crate::sign::kraken`) covers the path and the body with its nonce.
//!
//! [`write_order_body`] appends without allocating; the others allocate the body text. Never
//! panics on venue input.

use crate::sign::kraken::KrakenSigner;
use qt_core::{Instrument, OrderId, OrderRequest, OrderType, Side, TimeInForce};
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
/// ClosedOrders.
pub const CLOSED_ORDERS_PATH: &str = "/0/private/ClosedOrders";
/// Balance.
pub const BALANCE_PATH: &str = "/0/private/Balance";
/// Time (public).
pub const TIME_PATH: &str = "/0/public/Time";
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

/// Our client order id as Kraken takes it: Kraken's `cl_ord_id` is a UUID (36 characters), a
/// "short UUID" (32 hex digits) or free text of at most 18 characters (docs.kraken.com "Spot
/// Client Order Identifiers"; the docs' blog "Client Order Identifiers"), so the kit's 26-letter
/// [`qt_core::ClientOrderId`] does not fit. This is the short-UUID form: `7174` ("qt" in hex), `0000`,
/// the run id in 8 hex digits and the order id in 16. Fixed size, no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClOrdId([u8; 32]);

impl ClOrdId {
    /// The id of `order_id` in run `run_id`.
    pub fn new(run_id: u32, order_id: OrderId) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = *b"71740000000000000000000000000000";
        for i in 0..8 {
            b[8 + i] = HEX[((run_id >> (28 - 4 * i)) & 0xf) as usize];
        }
        for i in 0..16 {
            b[16 + i] = HEX[((order_id.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        Self(b)
    }

    /// `(run id, order id)` of an id written by [`ClOrdId::new`]; `None` if it is not ours.
    pub fn parse(text: &str) -> Option<(u32, OrderId)> {
        if text.len() != 32 || !text.starts_with("71740000") || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let run = u32::from_str_radix(text.get(8..16)?, 16).ok()?;
        let order = u64::from_str_radix(text.get(16..)?, 16).ok()?;
        Some((run, OrderId(order)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for ClOrdId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Appends AddOrder's form body for `req` on `inst` (the pair is the instrument's symbol,
/// `/` escaped) named [`ClOrdId::new`]`(run_id, order_id)` to `out`, *without* the nonce: the
/// signed body is `nonce=<n>&` followed by this (the nonce is issued as the request goes out,
/// [`crate::kraken::nonce::NonceLane::with_next`]). Field order: `ordertype`, `type`, `volume`,
/// `pair`, `price` (limit only), `oflags=post` (post-only) or `timeinforce=IOC`, `cl_ord_id`.
/// A market order goes without price or time in force (Kraken's market orders are immediate).
/// No allocation once `out` has the capacity (numbers through `qt_core`'s decimal text). The
/// live path and the benchmark both use it; on error `out` is left as it was.
pub fn write_order_body(
    out: &mut String,
    inst: &Instrument,
    order_id: OrderId,
    run_id: u32,
    req: &OrderRequest,
) -> Result<(), BodyError> {
    let flag = match (req.order_type, req.tif) {
        (OrderType::Market, _) | (OrderType::Limit, TimeInForce::Gtc) => "",
        (OrderType::Limit, TimeInForce::PostOnly) => "&oflags=post",
        (OrderType::Limit, TimeInForce::Ioc) => "&timeinforce=IOC",
        (OrderType::Limit, TimeInForce::Fok) => return Err(BodyError::Unsupported("fill-or-kill")),
        #[allow(unreachable_patterns, reason = "future time-in-force values")]
        _ => return Err(BodyError::Unsupported("this time in force")),
    };
    out.push_str(if req.order_type == OrderType::Market { "ordertype=market" } else { "ordertype=limit" });
    out.push_str(if req.side == Side::Buy { "&type=buy&volume=" } else { "&type=sell&volume=" });
    out.push_str(inst.qty_text(req.qty).as_ref());
    out.push_str("&pair=");
    form_escape_into(out, inst.symbol());
    if req.order_type == OrderType::Limit {
        out.push_str("&price=");
        out.push_str(inst.price_text(req.price).as_ref());
    }
    out.push_str(flag);
    out.push_str("&cl_ord_id=");
    out.push_str(ClOrdId::new(run_id, order_id).as_str());
    Ok(())
}

/// AddOrder's whole body with `nonce` first ([`write_order_body`] after `nonce=<n>&`).
pub fn add_order_body(
    nonce: u64,
    inst: &Instrument,
    order_id: OrderId,
    run_id: u32,
    req: &OrderRequest,
) -> Result<String, BodyError> {
    let mut body = format!("nonce={nonce}&");
    write_order_body(&mut body, inst, order_id, run_id, req)?;
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
    form_escape_into(&mut out, s);
    out
}

/// [`form_escape`] appending to `out` (no allocation with capacity).
fn form_escape_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
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

/// One request for the venue's time (`GET /0/public/Time` → `result.unixtime`, seconds), in
/// Unix ms; the error says why there is none. Kraken signs no timestamp (the nonce is ours), so
/// the estimate only names the venue's clock in logs and paces the limiter's windows.
pub(crate) fn server_time(http: &mut crate::kit::http::HttpsClient) -> Result<i64, String> {
    let resp = http.request("GET", TIME_PATH, "", &[]).map_err(|e| e.to_string())?;
    let result = envelope(&resp.body).map_err(|e| format!("{TIME_PATH}: HTTP {}: {e}", resp.status))?;
    result
        .get("unixtime")
        .and_then(Value::as_i64)
        .map(|s| s.saturating_mul(1000))
        .ok_or_else(|| format!("{TIME_PATH}: unreadable answer: {}", resp.body_excerpt()))
}

/// A txid (`OUF4EM-FRGI2-MQMWZD`) as the report's numeric venue order id: its 64-bit FNV-1a
/// hash (never 0), since Kraken's ids are text.
pub fn venue_order_id(txid: &str) -> u64 {
    txid.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)).max(1)
}

/// AddOrder's txid from its result (`{"txid":["O…"]}`).
pub fn add_order_txid(result: &Value) -> Option<&str> {
    result.get("txid")?.get(0)?.as_str()
}
