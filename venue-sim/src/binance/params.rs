//! Request parameters as Binance spot reads them ([`Params`]: the query string, then the body),
//! their checks (decimals, integers, client ids) and the signing check of SIGNED endpoints
//! (API key, `timestamp`/`recvWindow`, HMAC-SHA256 `signature`).

use super::errors::BinanceError;
use super::{BinanceSpot, DECIMAL_RANGE, INTEGER_RANGE};
use crate::kit::decimal_text::WIRE_DECIMALS;
use crate::kit::form::parse_form;
use crate::protocol::{Ctx, HttpRequest};
use crate::signing;
use qt_core::AccountId;
use qt_core::decimal::{self, DecimalError, DecimalErrorKind};

/// Parameters of a request: the query string's, then the body's that the query does not
/// override (Binance: "the query string parameter will be used").
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Params {
    pub(super) pairs: Vec<(String, String)>,
}

impl Params {
    pub(super) fn parse(req: &HttpRequest) -> Result<Self, BinanceError> {
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
    pub(super) fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter that was sent and is not empty (Binance treats empty as not sent).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.is_empty())
    }

    pub(super) fn required(&self, name: &'static str) -> Result<&str, BinanceError> {
        self.get(name).ok_or(BinanceError::MandatoryParam(name))
    }

    /// Refuses parameters the endpoint does not take (-1101 too many, -1104 unknown).
    pub(super) fn only(&self, allowed: &[&str]) -> Result<(), BinanceError> {
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
pub(super) const SIGNED: [&str; 3] = ["recvWindow", "timestamp", "signature"];

pub(super) fn with_signed(own: &[&'static str]) -> Vec<&'static str> {
    own.iter().copied().chain(SIGNED).collect()
}

/// The signed payload: the query string followed by the body, as sent, without `signature`.
pub(super) fn signing_payload(req: &HttpRequest) -> Vec<u8> {
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
pub(super) fn decimal_param<T>(
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

pub(super) fn integer_param(name: &'static str, text: &str) -> Result<i64, BinanceError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BinanceError::IllegalParam { param: name, range: INTEGER_RANGE });
    }
    text.parse::<i64>().map_err(|_| BinanceError::ParamOverflow(name))
}

pub(super) fn valid_client_id(id: &str) -> bool {
    (1..=36).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b))
}

impl BinanceSpot {
    /// The account of the request's `X-MBX-APIKEY`, and its secret.
    pub(super) fn api_key(&self, ctx: &Ctx, req: &HttpRequest) -> Result<(AccountId, String), BinanceError> {
        let key = req.header("x-mbx-apikey").map(str::trim).unwrap_or("");
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BinanceError::BadApiKeyFormat);
        }
        ctx.market.account_by_key(key).ok_or(BinanceError::RejectedApiKey)
    }

    /// Checks a SIGNED request: API key, signature, then timing; returns the account.
    pub(super) fn authenticate(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<AccountId, BinanceError> {
        let (account, secret) = self.api_key(ctx, req)?;
        let signature = p.required("signature")?;
        let timestamp = p.required("timestamp")?;
        if !signing::verify_hex(&secret, &signing_payload(req), signature) {
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
        Ok(account)
    }
}
