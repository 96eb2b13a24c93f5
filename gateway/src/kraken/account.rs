//! Kraken account balances for `qt run`'s reconciliation: signed `POST /0/private/Balance`
//! (`result` maps each asset to its total as exact decimal text), in the Binance helper's
//! [`AccountBalances`] shape. Kraken's `Balance` gives totals only, so each asset's total is
//! its `free` and `locked` is zero (what reconciliation compares is the total).
//!
//! Thread: a cold helper on its own connection, never the gateway's loop. Its nonces come from
//! the key's [`NonceLane`] — the same lane the gateway thread uses in this process, journalled
//! in `state_dir` — so a balance query never sends a nonce below or between the gateway's.
//! Blocks for up to the request timeout per account; allocates. A refusal of the account's
//! credentials is [`GatewayError::AuthRejected`]; the signed headers are never logged.

pub use crate::binance::account::{AccountBalances, Balance};
use crate::kit::config::GatewayConfig;
use crate::kit::error::GatewayError;
use crate::kit::http::{HttpsClient, server_name, tls_config};
use crate::kit::rest_link::{nonce_first, send_signed};
use crate::kraken::errors::is_auth_refusal;
use crate::kraken::gateway::{VENUE_NAME, validate};
use crate::kraken::nonce::NonceLane;
use crate::kraken::rest::{BALANCE_PATH, envelope};
use crate::sign::kraken::KrakenSigner;
use crate::sign::{Credentials, Secret};
use qt_core::Notional;
use serde_json::Value;

/// Parses Balance's `result` (`{"USDT":"100.5",…}`); the error names the asset.
pub fn parse_balance(result: &Value) -> Result<Vec<Balance>, String> {
    let map = result.as_object().ok_or("the result is not an object")?;
    let mut out = Vec::with_capacity(map.len());
    for (asset, v) in map {
        let text = v.as_str().ok_or(format!("{asset}: not a decimal string"))?;
        let free = Notional::parse(text).map_err(|e| format!("{asset} {text:?}: {e}"))?;
        out.push(Balance { asset: asset.clone(), free, locked: Notional::ZERO });
    }
    Ok(out)
}

/// Every account of `cfg`'s balances, in `cfg.accounts` order.
pub fn query_balances(cfg: &GatewayConfig) -> Result<Vec<AccountBalances>, GatewayError> {
    let (rest, _, _) = validate(cfg)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let name = server_name(&rest, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] })?;
    let url = format!("{}{BALANCE_PATH}", rest.url);
    let mut http = HttpsClient::new(rest, name, tls, cfg.request_timeout);
    let mut out = Vec::with_capacity(cfg.accounts.len());
    for (account, key, secret) in &cfg.accounts {
        let signer =
            KrakenSigner::new(Credentials { key: Some(key.clone()), secret: Secret::new(secret), passphrase: None })?;
        let lane = NonceLane::open(cfg.state_dir.as_deref(), key)
            .map_err(|e| GatewayError::Config { venue: VENUE_NAME, problems: vec![e.to_string()] })?;
        let sent = lane.with_next(|nonce| {
            let stamp = i64::try_from(nonce).unwrap_or(i64::MAX);
            send_signed(&mut http, &signer, "POST", BALANCE_PATH, "", &nonce_first(stamp, ""), stamp)
        });
        let resp = sent
            .map_err(|e| GatewayError::Config { venue: VENUE_NAME, problems: vec![e.to_string()] })?
            .map_err(|e| GatewayError::Connect { url: url.clone(), reason: e.to_string() })?;
        let result = envelope(&resp.body).map_err(|msg| {
            if is_auth_refusal(&msg) {
                GatewayError::AuthRejected {
                    account: *account,
                    method: "POST",
                    url: url.clone(),
                    status: 200,
                    code: 0,
                    msg,
                }
            } else {
                GatewayError::Venue { method: "POST", url: url.clone(), status: resp.status, code: 0, msg }
            }
        })?;
        let balances = parse_balance(&result).map_err(|body| GatewayError::BadAnswer {
            method: "POST",
            url: url.clone(),
            body,
        })?;
        out.push(AccountBalances { account: *account, update_time_ms: 0, balances });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_balance_parses_exactly() {
        let doc = include_str!("../../../testdata/kraken/orders/rest_balance_response.json");
        let v: Value = serde_json::from_str(doc).unwrap();
        let b = parse_balance(&v["result"]).unwrap();
        let xbt = b.iter().find(|b| b.asset == "XXBT").unwrap();
        assert_eq!((b.len(), xbt.free), (8, Notional::parse("3.2223768244").unwrap()));
        assert!(b.iter().all(|b| b.locked.is_zero()));
        assert!(parse_balance(&serde_json::json!({"X": "1x"})).is_err());
        assert!(parse_balance(&serde_json::json!({"X": 1})).is_err());
    }
}
