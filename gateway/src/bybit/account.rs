//! Bybit account snapshots: signed `GET /v5/account/wallet-balance?accountType=UNIFIED` (each
//! coin's `walletBalance` and `locked`, exact decimals) and, when the gateway trades linear
//! instruments, `GET /v5/position/list?category=linear&settleCoin=…` (each one-way position's
//! signed size and entry price).
//!
//! Thread: a cold helper — whoever reconciles (the `qt run` main thread at the start and the end
//! of a live run) calls [`query_account`] on its own connection; never the gateway's loop.
//! Blocks for up to the request timeout per request and allocates freely. A refusal of the
//! account's key or secret is [`GatewayError::AuthRejected`] naming the account; the signed
//! headers are never logged.
//!
//! The balance types are the Binance helper's ([`crate::binance::account`]): one shape for
//! every venue's snapshot.

pub use crate::binance::account::{AccountBalances, Balance};
use crate::bybit::errors::{GatewayError, is_auth_refusal};
use crate::bybit::gateway::validate;
use crate::bybit::rest::{BybitKey, envelope, send_signed};
use crate::bybit::server_time::synced_clock;
use crate::bybit::{BybitGatewayConfig, VENUE_NAME};
use crate::kit::http::{HttpsClient, server_name, tls_config};
use qt_core::{AccountId, InstrumentKind, Notional};
use serde_json::Value;

/// The wallet endpoint.
pub const WALLET_PATH: &str = "/v5/account/wallet-balance";
/// The position endpoint.
pub const POSITION_PATH: &str = "/v5/position/list";

/// One linear position (one-way mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The symbol.
    pub symbol: String,
    /// Signed size: positive long, negative short (the size's decimal text as a [`Notional`]).
    pub size: Notional,
    /// Entry price (`avgPrice`).
    pub avg_price: Notional,
}

/// One account's wallet and positions at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSnapshot {
    /// Balances (`free` = wallet balance − locked).
    pub balances: AccountBalances,
    /// Open linear positions.
    pub positions: Vec<Position>,
}

fn dec(v: &Value, field: &str, at: &str) -> Result<Notional, String> {
    let text = v.get(field).and_then(Value::as_str).unwrap_or("0");
    let text = if text.is_empty() { "0" } else { text };
    Notional::parse(text).map_err(|e| format!("{at}.{field} {text:?}: {e}"))
}

/// Parses a `wallet-balance` `result`: `(time, balances)`. The error names the field.
pub fn parse_wallet(result: &Value, time_ms: i64) -> Result<Vec<Balance>, String> {
    let _ = time_ms;
    let list = result.get("list").and_then(Value::as_array).ok_or("wallet answer: no list")?;
    let mut out = Vec::new();
    for (i, acct) in list.iter().enumerate() {
        let coins = acct.get("coin").and_then(Value::as_array).ok_or(format!("list[{i}]: no coin"))?;
        for (j, c) in coins.iter().enumerate() {
            let at = format!("list[{i}].coin[{j}]");
            let asset = c.get("coin").and_then(Value::as_str).ok_or(format!("{at}.coin missing"))?.to_string();
            let wallet = dec(c, "walletBalance", &at)?;
            let locked = dec(c, "locked", &at)?;
            let free = wallet.checked_sub(locked).map_err(|e| format!("{at}: {e}"))?;
            out.push(Balance { asset, free, locked });
        }
    }
    Ok(out)
}

/// Parses a `position/list` `result`; flat positions are left out.
pub fn parse_positions(result: &Value) -> Result<Vec<Position>, String> {
    let list = result.get("list").and_then(Value::as_array).ok_or("position answer: no list")?;
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let at = format!("list[{i}]");
        let symbol = p.get("symbol").and_then(Value::as_str).ok_or(format!("{at}.symbol missing"))?.to_string();
        let size = dec(p, "size", &at)?;
        if size.is_zero() {
            continue;
        }
        let size = match p.get("side").and_then(Value::as_str) {
            Some("Sell") => Notional::ZERO.checked_sub(size).map_err(|e| format!("{at}: {e}"))?,
            _ => size,
        };
        out.push(Position { symbol, size, avg_price: dec(p, "avgPrice", &at)? });
    }
    Ok(out)
}

/// Queries every account of `cfg` (signed with its key), in `cfg.accounts` order.
pub fn query_account(cfg: &BybitGatewayConfig) -> Result<Vec<AccountSnapshot>, GatewayError> {
    let (rest, _) = validate(cfg)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let name = server_name(&rest, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] })?;
    let base = rest.url.clone();
    let mut http = HttpsClient::new(rest, name, tls, cfg.request_timeout);
    let time = synced_clock(cfg, &mut http);
    let settle: Vec<String> = {
        let mut s: Vec<String> = cfg
            .instruments
            .iter()
            .filter(|i| i.kind() == InstrumentKind::LinearPerpetual)
            .map(|i| i.quote().to_string())
            .collect();
        s.sort();
        s.dedup();
        s
    };
    let mut out = Vec::with_capacity(cfg.accounts.len());
    for (account, api_key, secret) in &cfg.accounts {
        let key = BybitKey::new(api_key, secret, cfg.recv_window_ms);
        let mut get = |path: &'static str, query: &str| -> Result<(Value, i64), GatewayError> {
            let url = format!("{base}{path}");
            let resp = send_signed(&mut http, &key, "GET", path, query, "", time.venue_ms())
                .map_err(|e| GatewayError::Connect { url: url.clone(), reason: e.to_string() })?;
            match envelope(&resp) {
                Some(env) if resp.status == 200 && env.code == 0 => Ok((env.result, env.time.unwrap_or(0))),
                Some(env) => Err(venue_error(*account, url, resp.status, env.code, env.msg)),
                None => Err(venue_error(*account, url, resp.status, 0, resp.body_excerpt())),
            }
        };
        let (wallet, time_ms) = get(WALLET_PATH, "accountType=UNIFIED")?;
        let balances = parse_wallet(&wallet, time_ms).map_err(|body| GatewayError::BadAnswer {
            method: "GET",
            url: format!("{base}{WALLET_PATH}"),
            body,
        })?;
        let mut positions = Vec::new();
        for coin in &settle {
            let (result, _) = get(POSITION_PATH, &format!("category=linear&settleCoin={coin}"))?;
            positions.extend(parse_positions(&result).map_err(|body| GatewayError::BadAnswer {
                method: "GET",
                url: format!("{base}{POSITION_PATH}"),
                body,
            })?);
        }
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
    fn documented_answers_parse_exactly() {
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/bybit/orders/rest_wallet_balance_response.json"))
                .unwrap();
        let b = parse_wallet(&doc["result"], 0).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].asset.as_str(), b[0].free, b[0].locked), ("BTC", Notional::ZERO, Notional::ZERO));
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/bybit/orders/rest_position_list_response.json"))
                .unwrap();
        let p = parse_positions(&doc["result"]).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].symbol.as_str(), p[0].size), ("BTCUSD", Notional::parse("-300").unwrap()));
        assert_eq!(p[0].avg_price, Notional::parse("27464.50441675").unwrap());
        assert!(parse_wallet(&serde_json::json!({"list":[{"coin":[{"coin":"X","walletBalance":"1x"}]}]}), 0).is_err());
    }
}
