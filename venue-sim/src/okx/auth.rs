//! OKX's private REST requests as the simulator reads them: the `OK-ACCESS-*` signing check
//! ("REST Authentication"), the parameters (JSON body or query string, [`Params`]) and the
//! `{"code","msg","data"}` refusals of the whole request ([`ApiError`]).
//!
//! Facts (`venues/NOTES.md` §3 signing, `NOTES-orders.md` §3 errors, both [MIRROR] of
//! okx.com/docs-v5):
//! - `OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))`,
//!   `requestPath` with `?query` for a GET; `OK-ACCESS-TIMESTAMP` ISO-8601 UTC with
//!   milliseconds (`2020-12-08T09:08:57.715Z`).
//! - Checked in this order, each with its code (HTTP 401): key 50111 "Invalid OK-ACCESS-KEY.",
//!   passphrase 50105, timestamp 50102 "Timestamp request expired." (an unreadable one 50112),
//!   signature 50113 "Invalid signature.".
//! - The window: OKX says a request expires 30 s after its timestamp; the docs say nothing of a
//!   timestamp ahead of the venue's clock, so the simulator refuses one more than 30 s ahead too
//!   (a guess, README).
//! - The passphrase: the shared market keeps no passphrase per key, so a key registered with
//!   [`super::OkxV5::with_passphrase`] must send exactly it, and any other key any non-empty one
//!   (a simulator simplification, README).
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use qt_core::AccountId;
use serde_json::{Value, json};

/// How far a timestamp may be from the venue's clock, ms.
pub(super) const TIMESTAMP_WINDOW_MS: i64 = 30_000;

/// A refusal of the whole request: `{"code","msg","data":[]}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) msg: String,
    pub(super) headers: Vec<(String, String)>,
    /// A trade request's refusal of one order (`sCode` / `sMsg` of its item), not of the request.
    pub(super) per_item: bool,
}

impl ApiError {
    pub(super) fn new(status: u16, code: &'static str, msg: impl Into<String>) -> Self {
        Self { status, code, msg: msg.into(), headers: Vec::new(), per_item: false }
    }

    /// A refusal of one order of a trade request (its item's `sCode`).
    pub(super) fn item(code: &'static str, msg: &str) -> Self {
        Self { per_item: true, ..Self::new(200, code, msg) }
    }

    /// 51000 "Parameter {param0} error" (HTTP 200, as OKX answers parameter errors).
    pub(super) fn param(name: &str) -> Self {
        Self::new(200, "51000", format!("Parameter {name} error"))
    }

    /// 50014 "Parameter {param0} can not be empty".
    pub(super) fn missing(name: &str) -> Self {
        Self::new(200, "50014", format!("Parameter {name} can not be empty"))
    }

    pub(super) fn into_response(self) -> HttpResponse {
        let mut resp = HttpResponse::json(self.status, &json!({"code": self.code, "msg": self.msg, "data": []}));
        resp.headers.extend(self.headers);
        resp
    }
}

/// Who a signed request is from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caller {
    pub(super) account: AccountId,
}

/// Epoch ms of `2020-12-08T09:08:57.715Z` (milliseconds optional, `Z` required).
pub(super) fn parse_iso_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || *b.last()? != b'Z' || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok()).flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let ms = match &text[19..text.len() - 1] {
        "" => 0,
        frac if frac.len() == 4 && frac.starts_with('.') => num(20..23)?,
        _ => return None,
    };
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if mo > 2 { mo - 3 } else { mo + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// Epoch ms as OKX's `OK-ACCESS-TIMESTAMP` (`2020-12-08T09:08:57.715Z`), for test clients.
pub fn timestamp_text(epoch_ms: i64) -> String {
    let (days, rem) = (epoch_ms.div_euclid(86_400_000), epoch_ms.rem_euclid(86_400_000));
    let (y, m, d) = crate::http::civil_from_days(days);
    let (h, mi, s, ms) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

pub use crate::signing::sign_base64;
pub(super) use crate::signing::verify_base64;

/// The string OKX signs for a REST request.
pub fn string_to_sign(timestamp: &str, method: &str, request_path: &str, body: &str) -> String {
    format!("{timestamp}{method}{request_path}{body}")
}

impl super::OkxV5 {
    /// Whether `passphrase` is acceptable for `key` (see the module doc).
    pub(super) fn passphrase_ok(&self, key: &str, passphrase: &str) -> bool {
        match self.passphrases.iter().find(|(k, _)| k == key) {
            Some((_, p)) => p == passphrase,
            None => !passphrase.is_empty(),
        }
    }

    /// Key, passphrase, timestamp window and signature, in that order.
    pub(super) fn authenticate(&self, ctx: &Ctx, req: &HttpRequest, now: i64) -> Result<Caller, ApiError> {
        let key = req.header("ok-access-key").unwrap_or("");
        let Some((account, secret)) = (!key.is_empty()).then(|| ctx.market.account_by_key(key)).flatten() else {
            return Err(ApiError::new(401, "50111", "Invalid OK-ACCESS-KEY."));
        };
        if !self.passphrase_ok(key, req.header("ok-access-passphrase").unwrap_or("")) {
            return Err(ApiError::new(401, "50105", "Request header \"OK-ACCESS-PASSPHRASE\" incorrect."));
        }
        let ts_text = req.header("ok-access-timestamp").unwrap_or("");
        let Some(ts) = parse_iso_ms(ts_text) else {
            return Err(ApiError::new(401, "50112", "Invalid OK-ACCESS-TIMESTAMP."));
        };
        if (now - ts).abs() > TIMESTAMP_WINDOW_MS {
            return Err(ApiError::new(401, "50102", "Timestamp request expired."));
        }
        let path = if req.query.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, req.query) };
        let body = if req.method == "GET" { String::new() } else { String::from_utf8_lossy(&req.body).into_owned() };
        let prehash = string_to_sign(ts_text, &req.method, &path, &body);
        if !verify_base64(&secret, prehash.as_bytes(), req.header("ok-access-sign").unwrap_or("")) {
            return Err(ApiError::new(401, "50113", "Invalid signature."));
        }
        Ok(Caller { account })
    }
}

/// One request's parameters: a JSON object (POST body) or a query string (GET).
#[derive(Debug)]
pub(super) enum Params {
    Body(serde_json::Map<String, Value>),
    Query(Vec<(String, String)>),
}

impl Params {
    /// A parameter's text; absent, `null` and `""` are "not given"; every OKX parameter is a
    /// string, so another JSON type is a parameter error.
    pub(super) fn get(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self {
            Params::Query(kv) => {
                Ok(kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).filter(|v| !v.is_empty()))
            }
            Params::Body(map) => match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                // `reduceOnly` is a boolean in OKX's docs.
                Some(Value::Bool(b)) => Ok(Some(b.to_string())),
                Some(_) => Err(ApiError::param(key)),
            },
        }
    }

    /// A required parameter.
    pub(super) fn need(&self, key: &str) -> Result<String, ApiError> {
        self.get(key)?.ok_or_else(|| ApiError::missing(key))
    }

    /// A boolean parameter (`true` / `"true"`).
    pub(super) fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key)?.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::param(key)),
        }
    }
}

/// `a=b&c=d` (values are plain here: OKX's query parameters are ids, types and numbers).
pub(super) fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_read_as_okx_writes_them() {
        assert_eq!(parse_iso_ms("2020-12-08T09:08:57.715Z"), Some(1_607_418_537_715));
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso_ms("2024-02-29T23:59:59.999Z"), Some(1_709_251_199_999));
        assert_eq!(timestamp_text(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
        assert_eq!(parse_iso_ms(&timestamp_text(1_709_251_199_999)), Some(1_709_251_199_999));
        for bad in ["", "2020-12-08 09:08:57.715Z", "2020-12-08T09:08:57.715", "2020-13-08T09:08:57Z", "x"] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn signatures_verify_only_with_their_secret() {
        let sig = sign_base64("secret", b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC");
        assert!(verify_base64("secret", b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC", &sig));
        assert!(!verify_base64("other", b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC", &sig));
        assert!(!verify_base64("secret", b"x", "not base64!"));
    }
}
