//! Request parameters as the Binance protocols (spot and USD-M) read them ([`Params`]: the query
//! string, then the body), their checks (decimals, integers, client ids) and the signing check of
//! SIGNED endpoints (API key, `timestamp`/`recvWindow`, HMAC-SHA256 `signature`): the same rules
//! on both (USD-M "General Info": "SIGNED Endpoint security", the spot `rest-api.md` text).
//!
//! Pure functions over a request; allocate the parameter list.

use super::binance_errors::BinanceError;
use super::decimal_text::WIRE_DECIMALS;
use super::form::parse_form;
use crate::market::OrderRef;
use crate::protocol::{Ctx, HttpRequest};
use crate::signing;
use qt_core::decimal::{self, DecimalError, DecimalErrorKind};
use qt_core::{AccountId, Side};

/// Parameters of a request: the query string's, then the body's that the query does not
/// override (Binance: "the query string parameter will be used").
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(req: &HttpRequest) -> Result<Self, BinanceError> {
        let mut pairs = parse_form(req.query.as_bytes())?;
        // GET parameters travel in the query string only.
        if req.method != "GET" {
            for (k, v) in parse_form(&req.body)? {
                if !pairs.iter().any(|(n, _)| *n == k) {
                    pairs.push((k, v));
                }
            }
        }
        Ok(Self { pairs })
    }

    /// A parameter as sent (possibly empty).
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter that was sent and is not empty (Binance treats empty as not sent).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&self, name: &'static str) -> Result<&str, BinanceError> {
        self.get(name).ok_or(BinanceError::MandatoryParam(name))
    }

    /// Refuses parameters the endpoint does not take (-1101 too many, -1104 unknown).
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), BinanceError> {
        let sent = self.pairs.len();
        if sent > allowed.len() {
            return Err(BinanceError::TooManyParams { expected: allowed.len(), received: sent });
        }
        let read = self.pairs.iter().filter(|(k, _)| allowed.contains(&k.as_str())).count();
        if read < sent {
            return Err(BinanceError::UnreadParams { read, sent });
        }
        Ok(())
    }
}

/// Parameters every signed endpoint takes besides its own.
pub(crate) const SIGNED: [&str; 3] = ["recvWindow", "timestamp", "signature"];

pub(crate) fn with_signed(own: &[&'static str]) -> Vec<&'static str> {
    own.iter().copied().chain(SIGNED).collect()
}

/// The signed payload: the query string followed by the body, as sent, without `signature`.
pub(crate) fn signing_payload(req: &HttpRequest) -> Vec<u8> {
    fn strip(raw: &[u8]) -> Vec<u8> {
        let kept: Vec<&[u8]> =
            raw.split(|b| *b == b'&').filter(|seg| !(seg.starts_with(b"signature=") || *seg == b"signature")).collect();
        kept.join(&b'&')
    }
    let mut payload = strip(req.query.as_bytes());
    if req.method != "GET" {
        payload.extend(strip(&req.body));
    }
    payload
}

/// A decimal parameter checked the way Binance checks it — legal characters (-1100), at most 8
/// decimals (-1111), fits (-1108) — then parsed exactly by `parse` (the instrument's
/// `parse_price`/`parse_qty`). `Ok(None)` when it has more decimals than the instrument's grid:
/// off the tick or lot, so a filter failure.
pub(crate) fn decimal_param<T>(
    name: &'static str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, DecimalError>,
) -> Result<Option<T>, BinanceError> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(BinanceError::IllegalParam { param: name, range: DECIMAL_RANGE });
    }
    if frac.map_or(0, |f| f.trim_end_matches('0').len()) > usize::from(WIRE_DECIMALS) {
        return Err(BinanceError::BadPrecision(name));
    }
    match parse(text) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => Ok(None),
        Err(_) => Err(BinanceError::ParamOverflow(name)),
    }
}

pub(crate) fn integer_param(name: &'static str, text: &str) -> Result<i64, BinanceError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BinanceError::IllegalParam { param: name, range: INTEGER_RANGE });
    }
    text.parse::<i64>().map_err(|_| BinanceError::ParamOverflow(name))
}

pub(crate) fn valid_client_id(id: &str) -> bool {
    (1..=36).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b))
}

/// Legal range Binance reports for decimal parameters.
pub(crate) const DECIMAL_RANGE: &str = r"^([0-9]{1,20})(\.[0-9]{1,20})?$";
/// Legal range Binance reports for integer parameters.
pub(crate) const INTEGER_RANGE: &str = "^[0-9]{1,20}$";
/// Legal range Binance reports for client order ids.
pub(crate) const CLIENT_ID_RANGE: &str = r"^[\.A-Z\:/a-z0-9_-]{1,36}$";

/// The account of the request's `X-MBX-APIKEY`, and its secret.
pub(crate) fn api_key(ctx: &Ctx, req: &HttpRequest) -> Result<(AccountId, String), BinanceError> {
    let key = req.header("x-mbx-apikey").map(str::trim).unwrap_or("");
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BinanceError::BadApiKeyFormat);
    }
    ctx.market.account_by_key(key).ok_or(BinanceError::RejectedApiKey)
}

/// Checks a SIGNED request: API key, signature, then timing; returns the account.
pub(crate) fn authenticate(ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<AccountId, BinanceError> {
    let (account, secret) = api_key(ctx, req)?;
    check_signed(ctx, &secret, &signing_payload(req), p)?;
    Ok(account)
}

/// Checks `p`'s `signature` over `payload` with `secret`, then its `timestamp` against
/// `recvWindow` (the WebSocket API signs its sorted parameters, REST the request as sent).
pub(crate) fn check_signed(ctx: &Ctx, secret: &str, payload: &[u8], p: &Params) -> Result<(), BinanceError> {
    let signature = p.required("signature")?;
    let timestamp = p.required("timestamp")?;
    if !signing::verify_hex(secret, payload, signature) {
        return Err(BinanceError::InvalidSignature);
    }
    let ts = integer_param("timestamp", timestamp)?;
    // Timestamps may be in microseconds (16 digits) or milliseconds (13 digits).
    let ts_us = if ts >= 100_000_000_000_000 { ts } else { ts.saturating_mul(1000) };
    let recv_us = match p.get("recvWindow") {
        None => 5_000_000,
        Some(text) => match decimal_param("recvWindow", text, |t| decimal::parse_scaled(t, 3)) {
            Ok(Some(v)) if v <= 60_000_000 => v,
            _ => return Err(BinanceError::InvalidParamData("recvWindow")),
        },
    };
    let server_us = ctx.market.now_ms().saturating_mul(1000);
    if ts_us >= server_us.saturating_add(1_000_000) {
        return Err(BinanceError::TimestampAhead);
    }
    if server_us.saturating_sub(ts_us) > recv_us {
        return Err(BinanceError::TimestampOutsideRecvWindow);
    }
    Ok(())
}

/// `side`: `BUY` or `SELL` (-1117 otherwise).
pub(crate) fn side_param(p: &Params) -> Result<Side, BinanceError> {
    match p.required("side")? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(BinanceError::InvalidSide),
    }
}

/// `newClientOrderId` of a new order: absent (the venue names it), or a legal id (-1118 when
/// empty, -1100 when illegal).
pub(crate) fn new_client_order_id(p: &Params) -> Result<Option<String>, BinanceError> {
    match p.raw("newClientOrderId") {
        None => Ok(None),
        Some("") => Err(BinanceError::EmptyNewClientOrderId),
        Some(id) if !valid_client_id(id) => {
            Err(BinanceError::IllegalParam { param: "newClientOrderId", range: CLIENT_ID_RANGE })
        }
        Some(id) => Ok(Some(id.to_string())),
    }
}

/// Reads `orderId` / `origClientOrderId` (at least one; `orderId` wins).
pub(crate) fn order_ref(p: &Params) -> Result<OrderRef, BinanceError> {
    if let Some(id) = p.get("orderId") {
        let id = integer_param("orderId", id)?;
        return Ok(OrderRef::Venue(u64::try_from(id).unwrap_or(0)));
    }
    match p.raw("origClientOrderId") {
        Some("") => Err(BinanceError::EmptyOrigClientOrderId),
        Some(id) => Ok(OrderRef::Client(id.to_string())),
        None => Err(BinanceError::EitherParam("origClientOrderId", "orderId")),
    }
}
