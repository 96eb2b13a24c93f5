//! Binance account snapshots: signed `GET /api/v3/account` per account, each balance's asset,
//! `free` and `locked` as exact decimals ([`Notional`], never f64).
//!
//! Thread: a cold helper — whoever reconciles (the `qt run` main thread at the start and the end
//! of a live run) calls [`query_balances`] on its own connection; never the core thread, never
//! the gateway's order loop. Blocks for up to the configured request timeout per account and
//! allocates freely. Venue errors, transport failures and unparseable answers become a typed
//! [`GatewayError`] naming the URL (the signed query string is never logged); a refusal of the
//! account's key or secret is [`GatewayError::AuthRejected`], naming the account.

use crate::binance::BinanceGatewayConfig;
use crate::binance::dialect::{Dialect, SPOT};
use crate::binance::errors::{GatewayError, is_auth_refusal};
use crate::binance::gateway::validate_for;
use crate::binance::server_time::synced_clock;
use crate::binance::signer::{Signer, signed_query};
use crate::binance::user_stream::api_error;
use crate::kit::http::{HttpsClient, server_name, tls_config};
use qt_core::{AccountId, Notional};
use serde::Deserialize;

/// The account endpoint (SIGNED, weight 20).
pub const ACCOUNT_PATH: &str = "/api/v3/account";

/// One asset's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Asset (`BTC`, `USDT`).
    pub asset: String,
    /// Available.
    pub free: Notional,
    /// Held by open orders.
    pub locked: Notional,
}

impl Balance {
    /// `free + locked`: what the account holds of the asset.
    pub fn total(&self) -> Notional {
        // Both are parsed from at most ~30 digits; the sum cannot overflow i128.
        Notional::from_units(self.free.units().saturating_add(self.locked.units()))
    }
}

/// One account's balances at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalances {
    /// Our account id.
    pub account: AccountId,
    /// The venue's `updateTime` (Unix ms), 0 if absent.
    pub update_time_ms: i64,
    /// Every balance the venue listed.
    pub balances: Vec<Balance>,
}

#[derive(Debug, Deserialize)]
struct RawBalance {
    asset: String,
    free: String,
    locked: String,
}

#[derive(Debug, Deserialize)]
struct RawAccount {
    #[serde(rename = "updateTime", default)]
    update_time: i64,
    balances: Vec<RawBalance>,
}

/// Parses an `/api/v3/account` answer: `(updateTime, balances)`. The error names the field.
pub fn parse_account(body: &[u8]) -> Result<(i64, Vec<Balance>), String> {
    let raw: RawAccount = serde_json::from_slice(body).map_err(|e| format!("account answer: {e}"))?;
    let mut out = Vec::with_capacity(raw.balances.len());
    for (i, b) in raw.balances.into_iter().enumerate() {
        let free = Notional::parse(&b.free).map_err(|e| format!("balances[{i}].free {:?}: {e}", b.free))?;
        let locked = Notional::parse(&b.locked).map_err(|e| format!("balances[{i}].locked {:?}: {e}", b.locked))?;
        out.push(Balance { asset: b.asset, free, locked });
    }
    Ok((raw.update_time, out))
}

/// Queries every account of `cfg` (signed with its key), in `cfg.accounts` order.
pub fn query_balances(cfg: &BinanceGatewayConfig) -> Result<Vec<AccountBalances>, GatewayError> {
    signed_get_each(cfg, &SPOT, ACCOUNT_PATH, &[])?
        .into_iter()
        .map(|(account, url, body)| {
            let (update_time_ms, balances) =
                parse_account(&body).map_err(|reason| GatewayError::BadAnswer { method: "GET", url, body: reason })?;
            Ok(AccountBalances { account, update_time_ms, balances })
        })
        .collect()
}

/// `GET <path>?<params>` signed for every account of `cfg`, in `cfg.accounts` order, on one cold
/// connection to the REST API of the Binance API `d` (its clock estimated once first): each
/// account's id, the URL (for errors) and the 200 answer's body. Any other answer is an error
/// naming the URL; a refused key or secret is [`GatewayError::AuthRejected`].
pub(crate) fn signed_get_each(
    cfg: &BinanceGatewayConfig,
    d: &Dialect,
    path: &str,
    params: &[(&str, &str)],
) -> Result<Vec<(AccountId, String, Vec<u8>)>, GatewayError> {
    let venue = d.venue_name;
    let (rest, _, _) = validate_for(cfg, venue)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let name = server_name(&rest, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue, problems: vec![format!("server_name: {m}")] })?;
    let url = format!("{}{path}", rest.url);
    let mut http = HttpsClient::new(rest, name, tls, cfg.request_timeout);
    let recv_window = cfg.recv_window_ms.to_string();
    let mut out = Vec::with_capacity(cfg.accounts.len());
    let time = synced_clock(cfg, &mut http, d.time_path);
    for (account, api_key, secret) in &cfg.accounts {
        let query = signed_query(&Signer::new(secret), params, &recv_window, time.venue_ms());
        let resp = http
            .request("GET", path, &query, &[("X-MBX-APIKEY", api_key)])
            .map_err(|e| GatewayError::Connect { url: url.clone(), reason: e.to_string() })?;
        if resp.status != 200 {
            let (code, msg) = api_error(&resp.body);
            // A refused key or secret is told apart from a transient failure.
            return Err(GatewayError::Venue { method: "GET", url, status: resp.status, code, msg }
                .for_account(*account, is_auth_refusal));
        }
        out.push((*account, url.clone(), resp.body));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_parse_exactly_and_bad_amounts_are_named() {
        let body = br#"{"makerCommission":15,"updateTime":123456789,"accountType":"SPOT",
            "balances":[{"asset":"BTC","free":"4723846.89208129","locked":"0.00000001"},
                        {"asset":"LTC","free":"4763368.68006011","locked":"0.00000000"}],
            "permissions":["SPOT"],"uid":354937868}"#;
        let (t, b) = parse_account(body).unwrap();
        assert_eq!(t, 123456789);
        assert_eq!(b[0].asset, "BTC");
        assert_eq!(b[0].total(), Notional::parse("4723846.89208130").unwrap());
        assert_eq!(b[1].locked, Notional::ZERO);
        let bad = br#"{"balances":[{"asset":"BTC","free":"1.2.3","locked":"0"}]}"#;
        assert!(parse_account(bad).unwrap_err().contains("balances[0].free"));
        assert!(parse_account(b"{}").is_err());
    }
}
