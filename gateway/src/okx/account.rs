//! OKX account snapshots: signed `GET /api/v5/account/balance` (each currency's `cashBal` and
//! `frozenBal`, exact decimals) and, when the gateway trades SWAP instruments,
//! `GET /api/v5/account/positions?instType=SWAP` (each net position's signed `pos` and
//! `avgPx`), in the Bybit helper's shapes ([`crate::bybit::account`]) so `qt run` reconciles
//! every venue the same way.
//!
//! Thread: a cold helper — whoever reconciles calls [`query_account`] on its own connection;
//! never the gateway's loop. Blocks for up to the request timeout per request and allocates
//! freely. A refusal of the account's credentials is [`GatewayError::AuthRejected`] naming the
//! account; the signed headers are never logged.

pub use crate::bybit::account::{AccountBalances, AccountSnapshot, Balance, Position};
use crate::kit::http::{HttpsClient, server_name, tls_config};
use crate::okx::errors::{GatewayError, is_auth_refusal};
use crate::okx::gateway::validate;
use crate::okx::rest::{OkxKey, envelope, send_signed};
use crate::okx::server_time::synced_clock;
use crate::okx::{OkxGatewayConfig, VENUE_NAME};
use qt_core::{AccountId, InstrumentKind, Notional};
use serde_json::Value;

/// The balance endpoint.
pub const BALANCE_PATH: &str = "/api/v5/account/balance";
/// The position endpoint.
pub const POSITIONS_PATH: &str = "/api/v5/account/positions";

fn dec(v: &Value, field: &str, at: &str) -> Result<Notional, String> {
    let text = v.get(field).and_then(Value::as_str).unwrap_or("0");
    let text = if text.is_empty() { "0" } else { text };
    Notional::parse(text).map_err(|e| format!("{at}.{field} {text:?}: {e}"))
}

/// Parses a `balance` answer's `data`: `(uTime, balances)`; `free` = `cashBal` − `frozenBal`.
/// The error names the field.
pub fn parse_balance(data: &[Value]) -> Result<(i64, Vec<Balance>), String> {
    let mut out = Vec::new();
    let mut time = 0;
    for (i, acct) in data.iter().enumerate() {
        time = acct.get("uTime").and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(time);
        let details = acct.get("details").and_then(Value::as_array).ok_or(format!("data[{i}]: no details"))?;
        for (j, d) in details.iter().enumerate() {
            let at = format!("data[{i}].details[{j}]");
            let asset = d.get("ccy").and_then(Value::as_str).ok_or(format!("{at}.ccy missing"))?.to_string();
            let cash = dec(d, "cashBal", &at)?;
            let locked = dec(d, "frozenBal", &at)?;
            let free = cash.checked_sub(locked).map_err(|e| format!("{at}: {e}"))?;
            out.push(Balance { asset, free, locked });
        }
    }
    Ok((time, out))
}

/// Parses a `positions` answer's `data` (net mode: `pos` signed); flat positions are left out.
pub fn parse_positions(data: &[Value]) -> Result<Vec<Position>, String> {
    let mut out = Vec::new();
    for (i, p) in data.iter().enumerate() {
        let at = format!("data[{i}]");
        let symbol = p.get("instId").and_then(Value::as_str).ok_or(format!("{at}.instId missing"))?.to_string();
        let size = dec(p, "pos", &at)?;
        if size.is_zero() {
            continue;
        }
        let size = match p.get("posSide").and_then(Value::as_str) {
            Some("short") => Notional::ZERO.checked_sub(size).map_err(|e| format!("{at}: {e}"))?,
            _ => size,
        };
        out.push(Position { symbol, size, avg_price: dec(p, "avgPx", &at)? });
    }
    Ok(out)
}

/// Queries every account of `cfg` (signed with its key), in `cfg.accounts` order.
pub fn query_account(cfg: &OkxGatewayConfig) -> Result<Vec<AccountSnapshot>, GatewayError> {
    let (rest, _) = validate(cfg)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let name = server_name(&rest, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] })?;
    let base = rest.url.clone();
    let mut http = HttpsClient::new(rest, name, tls, cfg.request_timeout);
    let time = synced_clock(cfg, &mut http);
    let swaps = cfg.instruments.iter().any(|i| i.kind() == InstrumentKind::LinearPerpetual);
    let mut out = Vec::with_capacity(cfg.accounts.len());
    for (account, api_key, secret) in &cfg.accounts {
        let key = OkxKey::new(api_key, secret, crate::okx::passphrase(cfg, *account))
            .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![m] })?;
        let mut get = |path: &'static str, query: &str| -> Result<Vec<Value>, GatewayError> {
            let url = format!("{base}{path}");
            let resp = send_signed(&mut http, &key, "GET", path, query, "", time.venue_ms())
                .map_err(|e| GatewayError::Connect { url: url.clone(), reason: e.to_string() })?;
            match envelope(&resp) {
                Some(env) if resp.status == 200 && env.code == "0" => Ok(env.data),
                Some(env) => Err(venue_error(*account, url, resp.status, env.code_num(), env.msg)),
                None => Err(venue_error(*account, url, resp.status, 0, resp.body_excerpt())),
            }
        };
        let data = get(BALANCE_PATH, "")?;
        let bad =
            |path: &str, body: String| GatewayError::BadAnswer { method: "GET", url: format!("{base}{path}"), body };
        let (time_ms, balances) = parse_balance(&data).map_err(|b| bad(BALANCE_PATH, b))?;
        let positions = if swaps {
            parse_positions(&get(POSITIONS_PATH, "instType=SWAP")?).map_err(|b| bad(POSITIONS_PATH, b))?
        } else {
            Vec::new()
        };
        out.push(AccountSnapshot {
            balances: AccountBalances { account: *account, update_time_ms: time_ms, balances },
            positions,
        });
    }
    Ok(out)
}

fn venue_error(account: AccountId, url: String, status: u16, code: i64, msg: String) -> GatewayError {
    GatewayError::Venue { method: "GET", url, status, code, msg }.for_account(account, is_auth_refusal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_balance_parses_exactly() {
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/okx/orders/rest_balance_response.json")).unwrap();
        let (time, b) = parse_balance(doc["data"].as_array().unwrap()).unwrap();
        assert_eq!(time, 1_705_474_164_160);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].asset, "USDT");
        assert_eq!(b[0].locked, Notional::parse("158.573").unwrap());
        assert_eq!(b[0].total(), Notional::parse("4850.435693622894").unwrap());
        let bad = serde_json::json!([{"details":[{"ccy":"X","cashBal":"1x"}]}]);
        assert!(parse_balance(bad.as_array().unwrap()).is_err());
    }

    #[test]
    fn net_positions_keep_their_sign() {
        let data = serde_json::json!([
            {"instId":"BTC-USDT-SWAP","posSide":"net","pos":"-0.3","avgPx":"60000.5"},
            {"instId":"ETH-USDT-SWAP","posSide":"net","pos":"0","avgPx":""},
        ]);
        let p = parse_positions(data.as_array().unwrap()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].symbol.as_str(), p[0].size), ("BTC-USDT-SWAP", Notional::parse("-0.3").unwrap()));
        assert_eq!(p[0].avg_price, Notional::parse("60000.5").unwrap());
    }
}
