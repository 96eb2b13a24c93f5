//! The simulator's own endpoints, served on every listener and never subject to injected REST
//! failures, outages or the connection cap (an operator must be able to end an outage with
//! `{"clear":true}`):
//!
//! - `POST /_sim/faults` with a JSON object of any of `drop_ws` (bool), `stall_ws_ms`,
//!   `skip_sequence`, `malformed_frames`, `malformed_account_frames` (Binance user data stream
//!   only), `truncated_frames`, `corrupt_levels`, `fail_http` (`{"count":n,"status":s}`, and
//!   `"path":"/api/v3/myTrades"` to fail one Binance path only), `ack_latency_ms`, `outage_ms`, `clock_skew_ms` (signed),
//!   `clear` (bool, applied first), and `only_here` (bool): the faults reach only the protocol
//!   of the listener the request came to (its scope, [`crate::faults::Faults::scoped`]), not
//!   every protocol (the default; `clear` there clears every listener's too). Durations and the skew are at most [`MAX_FAULT_MS`] (one
//!   day) either way; a larger value is refused with a 400 naming the field and the limit,
//!   never wrapped or silently ignored. All fields are checked before any is applied.
//! - `POST /_sim/funding` with `{"symbol"?: "BTCUSDT", "rate"?: "0.0001"}`: books funding now on
//!   that derivative symbol (or every one) at `rate` (default 0.01 %) for every position, as a
//!   funding time would ([`crate::market::Market::book_funding`]) → `{"ok":true,"positions":n}`;
//!   the test trigger beside Binance USD-M's funding clock.
//! - `GET /_sim/book?symbol=BTCUSDT&depth=N` → `{"symbol","updateId","bids":[["price","qty"],..],
//!   "asks":[..]}` with the instrument's exact decimal text, best levels first (depth defaults
//!   to [`DEFAULT_BOOK_DEPTH`]).
//!
//! Runs on the connection thread that read the request; allocates freely; never panics on a
//! bad body.

use crate::http::error_response;
use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use serde_json::{Value, json};
use std::time::Duration;

/// Depth of `/_sim/book` when the query gives none.
pub const DEFAULT_BOOK_DEPTH: usize = 100;
/// The longest fault duration (`stall_ws_ms`, `ack_latency_ms`, `outage_ms`) and the largest
/// clock skew either way that `/_sim/faults` accepts: one day.
pub const MAX_FAULT_MS: u64 = 86_400_000;

/// Whether `path` is one of the simulator's own endpoints.
pub fn is_control_path(path: &str) -> bool {
    path.starts_with("/_sim/")
}

/// The simulator's own endpoints.
pub fn control(req: &HttpRequest, ctx: &Ctx) -> HttpResponse {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/_sim/faults") => match apply_faults(&req.body, ctx) {
            Ok(applied) => HttpResponse::json(200, &json!({ "ok": true, "applied": applied })),
            Err(problems) => error_response(400, &problems.join("; ")),
        },
        ("GET", "/_sim/book") => book(&req.query, ctx),
        ("POST", "/_sim/funding") => funding(&req.body, ctx),
        (_, "/_sim/faults") => error_response(405, "use POST /_sim/faults with a JSON object"),
        (_, "/_sim/book") => error_response(405, "use GET /_sim/book?symbol=SYMBOL&depth=N"),
        _ => error_response(
            404,
            &format!("no simulator endpoint {}; there are /_sim/faults, /_sim/book and /_sim/funding", req.path),
        ),
    }
}

/// One validated fault setting.
enum FaultSetting {
    Clear,
    DropWs,
    StallWs(Duration),
    SkipSequence(u32),
    MalformedFrames(u32),
    MalformedAccountFrames(u32),
    TruncatedFrames(u32),
    CorruptLevels(u32),
    FailHttp { count: u32, status: u16, path: Option<String> },
    AckLatency(Duration),
    Outage(Duration),
    ClockSkewMs(i64),
    OnlyHere,
}

/// Checks every field of a `/_sim/faults` body, then applies them all (`clear` first); returns
/// the names applied, or every problem found.
fn apply_faults(body: &[u8], ctx: &Ctx) -> Result<Vec<String>, Vec<String>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| vec![format!("body is not JSON: {e}")])?;
    let Value::Object(fields) = value else {
        return Err(vec![format!("body must be a JSON object, got {value}")]);
    };
    let mut problems = Vec::new();
    let mut settings = Vec::new();
    let u32_of = |k: &str, v: &Value| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("{k}: expected an integer 0..=4294967295, got {v}"))
    };
    let ms_of = |k: &str, v: &Value| {
        let ms = v.as_u64().ok_or_else(|| format!("{k}: expected milliseconds (a non-negative integer), got {v}"))?;
        if ms > MAX_FAULT_MS {
            return Err(format!("{k}: at most {MAX_FAULT_MS} ms (one day), got {ms}; refused, nothing applied"));
        }
        Ok(Duration::from_millis(ms))
    };
    let flag_of = |k: &str, v: &Value| v.as_bool().ok_or_else(|| format!("{k}: expected true or false, got {v}"));
    for (k, v) in &fields {
        let setting = match k.as_str() {
            "clear" => flag_of(k, v).map(|on| on.then_some(FaultSetting::Clear)),
            "drop_ws" => flag_of(k, v).map(|on| on.then_some(FaultSetting::DropWs)),
            "only_here" => flag_of(k, v).map(|on| on.then_some(FaultSetting::OnlyHere)),
            "stall_ws_ms" => ms_of(k, v).map(|d| Some(FaultSetting::StallWs(d))),
            "skip_sequence" => u32_of(k, v).map(|n| Some(FaultSetting::SkipSequence(n))),
            "malformed_frames" => u32_of(k, v).map(|n| Some(FaultSetting::MalformedFrames(n))),
            "malformed_account_frames" => u32_of(k, v).map(|n| Some(FaultSetting::MalformedAccountFrames(n))),
            "truncated_frames" => u32_of(k, v).map(|n| Some(FaultSetting::TruncatedFrames(n))),
            "corrupt_levels" => u32_of(k, v).map(|n| Some(FaultSetting::CorruptLevels(n))),
            "ack_latency_ms" => ms_of(k, v).map(|d| Some(FaultSetting::AckLatency(d))),
            "outage_ms" => ms_of(k, v).map(|d| Some(FaultSetting::Outage(d))),
            "clock_skew_ms" => v.as_i64().ok_or_else(|| format!("{k}: expected an integer, got {v}")).and_then(|ms| {
                if ms.unsigned_abs() > MAX_FAULT_MS {
                    Err(format!("{k}: at most {MAX_FAULT_MS} ms (one day) either way, got {ms}; refused"))
                } else {
                    Ok(Some(FaultSetting::ClockSkewMs(ms)))
                }
            }),
            "fail_http" => {
                fail_http_of(v).map(|(count, status, path)| Some(FaultSetting::FailHttp { count, status, path }))
            }
            other => Err(format!(
                "unknown field {other:?} (expected clear, only_here, drop_ws, stall_ws_ms, skip_sequence, malformed_frames, \
                 malformed_account_frames, truncated_frames, corrupt_levels, fail_http, ack_latency_ms, outage_ms, clock_skew_ms)"
            )),
        };
        match setting {
            Ok(Some(s)) => settings.push((k.clone(), s)),
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    settings.sort_by_key(|(_, s)| !matches!(s, FaultSetting::Clear));
    let only_here = settings.iter().any(|(_, s)| matches!(s, FaultSetting::OnlyHere));
    let f = if only_here { &ctx.faults } else { ctx.faults.shared() };
    for (_, s) in &settings {
        match s {
            FaultSetting::Clear => {
                f.clear();
                if !only_here {
                    ctx.market.set_clock_skew_ms(0);
                }
            }
            FaultSetting::DropWs => f.drop_ws_connections(),
            FaultSetting::StallWs(d) => f.stall_ws_for(*d),
            FaultSetting::SkipSequence(n) => f.skip_sequence(*n),
            FaultSetting::MalformedFrames(n) => f.malformed_frames(*n),
            FaultSetting::MalformedAccountFrames(n) => f.malformed_account_frames(*n),
            FaultSetting::TruncatedFrames(n) => f.truncated_frames(*n),
            FaultSetting::CorruptLevels(n) => f.corrupt_levels(*n),
            FaultSetting::FailHttp { count, status, path: None } => f.fail_http(*count, *status),
            FaultSetting::FailHttp { count, status, path: Some(path) } => f.fail_http_path(path, *count, *status),
            FaultSetting::AckLatency(d) => f.set_ack_latency(*d),
            FaultSetting::Outage(d) => f.outage_for(*d),
            FaultSetting::ClockSkewMs(ms) => ctx.market.set_clock_skew_ms(*ms),
            FaultSetting::OnlyHere => {}
        }
    }
    Ok(settings.into_iter().map(|(k, _)| k).collect())
}

fn fail_http_of(v: &Value) -> Result<(u32, u16, Option<String>), String> {
    let count = v.get("count").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
        format!("fail_http.count: expected a non-negative integer, got {}", v.get("count").unwrap_or(&Value::Null))
    })?;
    let status = match v.get("status") {
        None => 503,
        Some(s) => s
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| (400..=599).contains(n))
            .ok_or_else(|| format!("fail_http.status: expected an HTTP error status 400..=599, got {s}"))?,
    };
    let path = match v.get("path") {
        None => None,
        Some(Value::String(p)) if p.starts_with('/') => Some(p.clone()),
        Some(p) => return Err(format!("fail_http.path: expected a request path like \"/api/v3/myTrades\", got {p}")),
    };
    Ok((count, status, path))
}

/// `GET /_sim/book`.
/// `POST /_sim/funding`: funding now, on one derivative symbol or all.
fn funding(body: &[u8], ctx: &Ctx) -> HttpResponse {
    let fields: serde_json::Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            _ => return error_response(400, "body must be a JSON object: {\"symbol\"?:..,\"rate\"?:\"0.0001\"}"),
        }
    };
    let market = &ctx.market;
    let rate = match fields.get("rate") {
        None => qt_core::Rate::from_bps(1),
        Some(Value::String(t)) => match qt_core::Rate::parse(t) {
            Ok(r) => r,
            Err(e) => return error_response(400, &format!("rate: {e}")),
        },
        Some(other) => return error_response(400, &format!("rate: expected a decimal string, got {other}")),
    };
    let symbols: Vec<usize> = match fields.get("symbol") {
        None => (0..market.instruments().len()).collect(),
        Some(Value::String(name)) => match market.symbol_index(name) {
            Some(i) => vec![i],
            None => return error_response(404, &format!("symbol {name:?} is not listed")),
        },
        Some(other) => return error_response(400, &format!("symbol: expected a string, got {other}")),
    };
    let positions: usize = symbols.into_iter().map(|i| market.book_funding(i, rate)).sum();
    HttpResponse::json(200, &json!({ "ok": true, "positions": positions }))
}

fn book(query: &str, ctx: &Ctx) -> HttpResponse {
    let mut symbol = None;
    let mut depth = DEFAULT_BOOK_DEPTH;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "symbol" => symbol = Some(v),
            "depth" | "limit" => match v.parse::<usize>() {
                Ok(n) if n > 0 => depth = n,
                _ => return error_response(400, &format!("depth: expected a positive integer, got {v:?}")),
            },
            _ => {}
        }
    }
    let Some(symbol) = symbol else { return error_response(400, "symbol: missing (GET /_sim/book?symbol=BTCUSDT)") };
    let market = &ctx.market;
    let Some(index) = market.symbol_index(symbol).or_else(|| market.symbol_index(&symbol.to_ascii_uppercase())) else {
        let known: Vec<&str> = market.instruments().iter().map(|i| i.symbol()).collect();
        return error_response(404, &format!("symbol {symbol:?} is not listed (listed: {})", known.join(", ")));
    };
    let (Some(snap), Some(inst)) = (market.snapshot(index, depth), market.instruments().get(index)) else {
        return error_response(404, &format!("symbol {symbol:?} has no book"));
    };
    let levels = |side: &[(qt_core::Price, qt_core::Qty)]| -> Vec<Value> {
        side.iter().map(|(p, q)| json!([inst.price_text(*p).as_ref(), inst.qty_text(*q).as_ref()])).collect()
    };
    HttpResponse::json(
        200,
        &json!({
            "symbol": inst.symbol(),
            "updateId": snap.update_id,
            "bids": levels(&snap.bids),
            "asks": levels(&snap.asks),
        }),
    )
}
