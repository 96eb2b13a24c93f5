//! KuCoin account snapshots: signed `GET /api/v1/accounts?type=trade` (each currency's
//! `balance`, `available` and `holds`, exact decimals) in the Bybit helper's shapes
//! ([`crate::bybit::account`]) so `qt run` reconciles every venue the same way; and
//! [`validate`], the configuration check the KuCoin parts share.
//!
//! Facts: `testdata/kucoin/orders/rest_accounts_response.json` ([DOC]): entries
//! `{id, currency, type, balance, available, holds}`; the HF spot account is `type` `trade`
//! (older HF docs: `trade_hf`; both are counted), `main` is the funding account and is left out.
//!
//! Thread: a cold helper — whoever reconciles calls [`query_account`] on its own connection.
//! Blocks for up to the request timeout per request and allocates freely. A refusal of the
//! account's credentials is [`GatewayError::AuthRejected`] naming the account; the signed
//! headers are never logged.

pub use crate::bybit::account::{AccountBalances, AccountSnapshot, Balance, Position};
use crate::kit::config::GatewayConfig;
use crate::kit::http::{Endpoint, HttpsClient, server_name, tls_config};
use crate::kit::rest_link::send_signed;
use crate::kucoin::VENUE_NAME;
use crate::kucoin::errors::{GatewayError, is_auth_refusal};
use crate::kucoin::rest::{KucoinKey, envelope};
use crate::kucoin::server_time::synced_clock;
use qt_core::{AccountId, InstrumentKind, Notional};
use serde_json::Value;

/// The accounts endpoint.
pub const ACCOUNTS_PATH: &str = "/api/v1/accounts";

/// The passphrase of `account` in `cfg` (empty when none is configured: validation says so).
pub(crate) fn passphrase(cfg: &GatewayConfig, account: AccountId) -> &str {
    cfg.passphrases.iter().find(|(a, _)| *a == account).map_or("", |(_, p)| p.as_str())
}

/// Every problem of `cfg` for KuCoin at once; the REST and WebSocket endpoints otherwise.
pub(crate) fn validate(cfg: &GatewayConfig) -> Result<(Endpoint, Endpoint), GatewayError> {
    let mut problems = Vec::new();
    let endpoints = cfg.problems(&mut problems);
    for (i, inst) in cfg.instruments.iter().enumerate() {
        let sym = inst.symbol();
        if inst.kind() != InstrumentKind::Spot {
            problems.push(format!("instruments[{i}]: {sym:?} is {:?}; KuCoin trades spot here", inst.kind()));
        }
        // The order body writes the symbol unescaped: letters, digits and one dash only.
        let plain = sym.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !plain || sym.split('-').count() != 2 || sym.split('-').any(str::is_empty) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} is not a KuCoin symbol (BTC-USDT)"));
        }
        if cfg.instruments[..i].iter().any(|o| o.symbol() == sym) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} appears twice"));
        }
    }
    for (account, _, _) in &cfg.accounts {
        if passphrase(cfg, *account).is_empty() {
            problems.push(format!("passphrases: account {account} has none (KuCoin keys need their passphrase)"));
        }
    }
    match endpoints {
        Some(endpoints) if problems.is_empty() => Ok(endpoints),
        _ => Err(GatewayError::Config { venue: VENUE_NAME, problems }),
    }
}

fn dec(v: &Value, field: &str, at: &str) -> Result<Notional, String> {
    let text = v.get(field).and_then(Value::as_str).unwrap_or("0");
    Notional::parse(text).map_err(|e| format!("{at}.{field} {text:?}: {e}"))
}

/// Parses an `accounts` answer's `data`: the trading accounts' balances (`free` = `available`,
/// `locked` = `holds`). The error names the field.
pub fn parse_accounts(data: &Value) -> Result<Vec<Balance>, String> {
    let list = data.as_array().ok_or("data is not a list")?;
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let at = format!("data[{i}]");
        if !matches!(a.get("type").and_then(Value::as_str), Some("trade" | "trade_hf")) {
            continue;
        }
        let asset = a.get("currency").and_then(Value::as_str).ok_or(format!("{at}.currency missing"))?.to_string();
        out.push(Balance { asset, free: dec(a, "available", &at)?, locked: dec(a, "holds", &at)? });
    }
    Ok(out)
}

/// Queries every account of `cfg` (signed with its key), in `cfg.accounts` order.
pub fn query_account(cfg: &GatewayConfig) -> Result<Vec<AccountSnapshot>, GatewayError> {
    let (rest, _) = validate(cfg)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let name = server_name(&rest, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] })?;
    let url = format!("{}{ACCOUNTS_PATH}", rest.url);
    let mut http = HttpsClient::new(rest, name, tls, cfg.request_timeout);
    let time = synced_clock(cfg, &mut http);
    let mut out = Vec::with_capacity(cfg.accounts.len());
    for (account, api_key, secret) in &cfg.accounts {
        let key = KucoinKey::new(api_key, secret, passphrase(cfg, *account))
            .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![m] })?;
        let venue_ms = time.venue_ms();
        let resp = send_signed(&mut http, key.signer(), "GET", ACCOUNTS_PATH, "type=trade", "", venue_ms)
            .map_err(|e| GatewayError::Connect { url: url.clone(), reason: e.to_string() })?;
        let (code, msg) = match envelope(&resp) {
            Some(env) if resp.status == 200 && env.is_ok() => (0, env.data),
            Some(env) => (env.code_num(), Value::String(env.msg)),
            None => (-1, Value::String(resp.body_excerpt())),
        };
        if code != 0 {
            let msg = msg.as_str().unwrap_or("").to_string();
            let (status, code) = (resp.status, code.max(0));
            let e = GatewayError::Venue { method: "GET", url, status, code, msg };
            return Err(e.for_account(*account, is_auth_refusal));
        }
        let data = msg;
        let balances =
            parse_accounts(&data).map_err(|body| GatewayError::BadAnswer { method: "GET", url: url.clone(), body })?;
        out.push(AccountSnapshot {
            balances: AccountBalances { account: *account, update_time_ms: venue_ms, balances },
            positions: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symbol the order body could not write unescaped, a repeated one, a key without its
    /// passphrase: each named.
    #[test]
    fn validation_names_every_problem() {
        use qt_test_support::TestInstrument;
        let inst = |i, s: &str| TestInstrument::spot(qt_core::Venue::Kucoin, s).assets("A", "B").build(i);
        let cfg = GatewayConfig {
            rest_url: "https://127.0.0.1:1".into(),
            ws_url: "wss://127.0.0.1:1".into(),
            instruments: vec![inst(0, "BTC-USDT"), inst(1, "BTC-USDT"), inst(2, "BT\"C-USDT")],
            accounts: vec![(AccountId(0), "k".into(), "s".into())],
            ..GatewayConfig::default()
        };
        let Err(GatewayError::Config { problems, .. }) = validate(&cfg) else { panic!("accepted") };
        let all = problems.join("\n");
        assert!(all.contains("instruments[1].symbol: \"BTC-USDT\" appears twice"), "{all}");
        assert!(all.contains("instruments[2].symbol"), "{all}");
        assert!(all.contains("account 0 has none"), "{all}");
    }

    #[test]
    fn the_documented_accounts_parse_exactly() {
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/kucoin/orders/rest_accounts_response.json")).unwrap();
        let b = parse_accounts(&doc["data"]).unwrap();
        assert_eq!(b.len(), 1, "the main account is left out: {b:?}");
        assert_eq!(b[0].asset, "USDT");
        assert_eq!((b[0].free, b[0].locked), (Notional::parse("26.66759503").unwrap(), Notional::ZERO));
        let bad = serde_json::json!([{"type":"trade","currency":"X","available":"1x","holds":"0"}]);
        assert!(parse_accounts(&bad).is_err());
    }
}
