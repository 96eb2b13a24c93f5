//! Request parameters as Bybit reads them (query string or JSON body, [`Params`]) and the signing
//! check of private endpoints (`X-BAPI-*` headers, timestamp window, HMAC-SHA256).

use super::errors::{ApiError, illegal_category, param_error, symbol_invalid};
use super::wire::Category;
use super::{DEFAULT_RECV_WINDOW_MS, FUTURE_TOLERANCE_MS};
use crate::market::Market;
use crate::protocol::{Ctx, HttpRequest};
use crate::signing;
use qt_core::{AccountId, Instrument};
use serde_json::Value;

/// `a=b&c=d`, percent-decoded (`+` is a space); later duplicates are kept but lookups take the
/// first.
pub(super) fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Request parameters from a query string or a JSON body, read as Bybit reads them (strings).
#[derive(Debug)]
pub(super) enum Params {
    Query(Vec<(String, String)>),
    Body(serde_json::Map<String, Value>),
}

impl Params {
    /// A parameter's text: absent, JSON `null` and `""` are "not given"; a non-string JSON value
    /// is a type error.
    pub(super) fn get(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self {
            Params::Query(kv) => {
                Ok(kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).filter(|v| !v.is_empty()))
            }
            Params::Body(map) => match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(param_error(&format!("{key} must be a string"))),
            },
        }
    }

    /// An integer parameter (JSON number or numeric string).
    pub(super) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self {
            Params::Body(map) => match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| param_error(&format!("{key} invalid"))),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => s.parse().map(Some).map_err(|_| param_error(&format!("{key} invalid"))),
                Some(_) => Err(param_error(&format!("{key} invalid"))),
            },
            Params::Query(_) => match self.get(key)? {
                None => Ok(None),
                Some(s) => s.parse().map(Some).map_err(|_| param_error(&format!("{key} invalid"))),
            },
        }
    }

    /// A boolean body parameter.
    pub(super) fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self {
            Params::Body(map) => match map.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(param_error(&format!("{key} invalid"))),
            },
            Params::Query(_) => Ok(matches!(self.get(key)?.as_deref(), Some("true"))),
        }
    }
}

/// `category` → a served category.
pub(super) fn category_param(p: &Params) -> Result<Category, ApiError> {
    match p.get("category")? {
        Some(c) => Category::parse(&c).ok_or_else(illegal_category),
        None => Err(illegal_category()),
    }
}

/// `symbol` of `cat` → its index and instrument; an unknown symbol or one of the other category
/// is refused as unknown.
pub(super) fn symbol_of(market: &Market, cat: Category, symbol: &str) -> Result<(usize, Instrument), ApiError> {
    let idx = market.symbol_index(symbol).ok_or_else(|| symbol_invalid(cat))?;
    let inst = market.instruments().get(idx).cloned().ok_or_else(|| symbol_invalid(cat))?;
    if Category::of(inst.kind()) != Some(cat) {
        return Err(symbol_invalid(cat));
    }
    Ok((idx, inst))
}

/// The string Bybit signs: `timestamp + api_key + recv_window + payload`
/// (`docs/v5/guide.mdx`; `recv_window` is empty when the header is absent).
pub fn string_to_sign(timestamp: &str, api_key: &str, recv_window: &str, payload: &str) -> String {
    let mut s = String::with_capacity(timestamp.len() + api_key.len() + recv_window.len() + payload.len());
    s.push_str(timestamp);
    s.push_str(api_key);
    s.push_str(recv_window);
    s.push_str(payload);
    s
}

/// Who a signed request is from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caller {
    pub(super) account: AccountId,
}

/// Key (10003), timestamp window (10002), signature (10004).
pub(super) fn authenticate(ctx: &Ctx, req: &HttpRequest, now: i64) -> Result<Caller, ApiError> {
    let key = req.header("x-bapi-api-key").unwrap_or("");
    let Some((account, secret)) = (!key.is_empty()).then(|| ctx.market.account_by_key(key)).flatten() else {
        return Err(ApiError::new(10003, "API key is invalid."));
    };
    let ts_text = req.header("x-bapi-timestamp").unwrap_or("");
    let rw_text = req.header("x-bapi-recv-window");
    let recv_window = match rw_text {
        None => DEFAULT_RECV_WINDOW_MS,
        Some(t) => match t.trim().parse::<i64>() {
            Ok(v) if v > 0 => v,
            _ => return Err(param_error("recv_window invalid")),
        },
    };
    let in_window =
        ts_text.parse::<i64>().ok().filter(|ts| now - recv_window <= *ts && *ts < now + FUTURE_TOLERANCE_MS).is_some();
    if !in_window {
        // The live text (the error table's is "The request time exceeds the time window range.").
        return Err(ApiError::new(
            10002,
            format!(
                "invalid request, please check your server timestamp or recv_window param. \
                 req_timestamp[{ts_text}],server_timestamp[{now}],recv_window[{recv_window}]"
            ),
        ));
    }
    let payload = match req.method.as_str() {
        "GET" => req.query.clone(),
        _ => String::from_utf8_lossy(&req.body).into_owned(),
    };
    let origin = string_to_sign(ts_text, key, rw_text.unwrap_or(""), &payload);
    let sign = req.header("x-bapi-sign").unwrap_or("");
    if !signing::verify_hex(&secret, origin.as_bytes(), sign) {
        // The error table's text; live responses append the origin string with the
        // timestamp+key+window prefix masked.
        return Err(ApiError::new(
            10004,
            format!("Error sign, please check your signature generation algorithm: origin_string[***{payload}]"),
        ));
    }
    Ok(Caller { account })
}
