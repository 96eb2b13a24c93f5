//! USD-M account snapshots and the position-mode check, cold helpers on their own connection
//! (the spot helper's [`signed_get_each`](crate::binance::account) shared):
//!
//! - [`query_account`]: signed `GET /fapi/v2/account` per account — each asset's wallet and
//!   available balance and each contract's signed position, exact decimals ([`Notional`]).
//! - [`query_balances`]: the same, shaped as spot's [`AccountBalances`] (`free` = available,
//!   `locked` = wallet − available), so a caller reconciles either venue alike.
//! - `check_one_way`: `GET /fapi/v1/positionSide/dual` → `{"dualSidePosition": bool}`; the
//!   gateway trades one-way mode only (`positionSide` BOTH, `reduceOnly` — "not allowed in hedge
//!   mode", NOTES-orders.md §1b), so a hedge-mode account refuses the start.
//!
//! Blocks for up to the request timeout per account; allocates freely. Errors as spot's.

use super::UsdmGatewayConfig;
use super::dialect::USDM;
use crate::binance::account::{AccountBalances, Balance, signed_get_each};
use crate::kit::error::GatewayError;
use qt_core::{AccountId, Notional};
use serde::Deserialize;

/// The account endpoint (SIGNED, weight 5).
pub const ACCOUNT_PATH: &str = "/fapi/v2/account";
/// The position-mode endpoint (SIGNED, weight 30).
pub const POSITION_MODE_PATH: &str = "/fapi/v1/positionSide/dual";

/// One contract's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdmPosition {
    /// Symbol (`BTCUSDT`).
    pub symbol: String,
    /// Signed amount: positive long, negative short.
    pub amount: Notional,
    /// Average entry price (zero when flat).
    pub entry_price: Notional,
    /// Unrealized PnL at the venue's mark.
    pub unrealized: Notional,
}

/// One account's USD-M wallet and positions at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdmAccount {
    /// Our account id.
    pub account: AccountId,
    /// The venue's `updateTime` (Unix ms), 0 if absent.
    pub update_time_ms: i64,
    /// Each asset: `free` the available balance, `locked` the rest of the wallet balance.
    pub balances: Vec<Balance>,
    /// Each listed contract's position (flat ones included where the venue lists them).
    pub positions: Vec<UsdmPosition>,
}

#[derive(Debug, Deserialize)]
struct RawAsset {
    asset: String,
    #[serde(rename = "walletBalance")]
    wallet: String,
    #[serde(rename = "availableBalance")]
    available: String,
}

#[derive(Debug, Deserialize)]
struct RawPosition {
    symbol: String,
    #[serde(rename = "positionAmt")]
    amount: String,
    #[serde(rename = "entryPrice", default)]
    entry_price: Option<String>,
    #[serde(rename = "unrealizedProfit", default)]
    unrealized: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawAccount {
    #[serde(rename = "updateTime", default)]
    update_time: i64,
    assets: Vec<RawAsset>,
    positions: Vec<RawPosition>,
}

#[derive(Debug, Deserialize)]
struct PositionMode {
    #[serde(rename = "dualSidePosition")]
    dual: bool,
}

fn amount(field: &str, text: &str) -> Result<Notional, String> {
    Notional::parse(text).map_err(|e| format!("{field} {text:?}: {e}"))
}

/// Parses a `/fapi/v2/account` answer of `account`; the error names the field.
pub fn parse_account(account: AccountId, body: &[u8]) -> Result<UsdmAccount, String> {
    let raw: RawAccount = serde_json::from_slice(body).map_err(|e| format!("account answer: {e}"))?;
    let mut balances = Vec::with_capacity(raw.assets.len());
    for (i, a) in raw.assets.iter().enumerate() {
        let wallet = amount(&format!("assets[{i}].walletBalance"), &a.wallet)?;
        let free = amount(&format!("assets[{i}].availableBalance"), &a.available)?;
        let locked = wallet.checked_sub(free).map_err(|e| format!("assets[{i}]: {e}"))?;
        balances.push(Balance { asset: a.asset.clone(), free, locked });
    }
    let mut positions = Vec::with_capacity(raw.positions.len());
    for (i, p) in raw.positions.iter().enumerate() {
        let opt = |field: &str, v: &Option<String>| v.as_deref().map_or(Ok(Notional::ZERO), |t| amount(field, t));
        positions.push(UsdmPosition {
            symbol: p.symbol.clone(),
            amount: amount(&format!("positions[{i}].positionAmt"), &p.amount)?,
            entry_price: opt(&format!("positions[{i}].entryPrice"), &p.entry_price)?,
            unrealized: opt(&format!("positions[{i}].unrealizedProfit"), &p.unrealized)?,
        });
    }
    Ok(UsdmAccount { account, update_time_ms: raw.update_time, balances, positions })
}

/// Queries every account of `cfg` (signed with its key), in `cfg.binance.accounts` order.
pub fn query_account(cfg: &UsdmGatewayConfig) -> Result<Vec<UsdmAccount>, GatewayError> {
    signed_get_each(&cfg.binance, &USDM, ACCOUNT_PATH, &[])?
        .into_iter()
        .map(|(account, url, body)| {
            parse_account(account, &body).map_err(|reason| GatewayError::BadAnswer { method: "GET", url, body: reason })
        })
        .collect()
}

/// [`query_account`]'s balances, shaped as spot's.
pub fn query_balances(cfg: &UsdmGatewayConfig) -> Result<Vec<AccountBalances>, GatewayError> {
    Ok(query_account(cfg)?
        .into_iter()
        .map(|a| AccountBalances { account: a.account, update_time_ms: a.update_time_ms, balances: a.balances })
        .collect())
}

/// Refuses an account in hedge mode (every problem at once, as a configuration error).
pub(crate) fn check_one_way(cfg: &UsdmGatewayConfig) -> Result<(), GatewayError> {
    let mut problems = Vec::new();
    for (account, url, body) in signed_get_each(&cfg.binance, &USDM, POSITION_MODE_PATH, &[])? {
        match position_mode_problem(account, &body) {
            Ok(None) => {}
            Ok(Some(problem)) => problems.push(problem),
            Err(body) => return Err(GatewayError::BadAnswer { method: "GET", url, body }),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(GatewayError::Config { venue: USDM.venue_name, problems }) }
}

/// What a `positionSide/dual` answer of `account` says: `None` one-way mode, a problem in hedge
/// mode; an error (the body's start) when it cannot be read.
fn position_mode_problem(account: AccountId, body: &[u8]) -> Result<Option<String>, String> {
    match serde_json::from_slice::<PositionMode>(body) {
        Ok(PositionMode { dual: false }) => Ok(None),
        Ok(PositionMode { dual: true }) => Ok(Some(format!(
            "account {account}: the USD-M account is in hedge mode (dualSidePosition=true); this gateway \
             trades one-way mode only — switch it with POST {POSITION_MODE_PATH} dualSidePosition=false \
             (no open positions or orders) and start again"
        ))),
        Err(e) => Err(format!("{e}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_answers_parse_exactly_and_bad_amounts_are_named() {
        let body = br#"{"totalWalletBalance":"103.12345678","assets":[{"asset":"USDT","walletBalance":"23.72469206",
            "unrealizedProfit":"0.00000000","availableBalance":"23.00000000"}],
            "positions":[{"symbol":"BTCUSDT","positionAmt":"-0.010","entryPrice":"7103.1000","unrealizedProfit":"-0.3"}]}"#;
        let a = parse_account(AccountId(1), body).unwrap();
        assert_eq!(a.balances[0].free, Notional::parse("23").unwrap());
        assert_eq!(a.balances[0].locked, Notional::parse("0.72469206").unwrap());
        assert_eq!(a.balances[0].total(), Notional::parse("23.72469206").unwrap());
        assert_eq!(a.positions[0].amount, Notional::parse("-0.01").unwrap());
        let bad = br#"{"assets":[],"positions":[{"symbol":"BTCUSDT","positionAmt":"1..0"}]}"#;
        assert!(parse_account(AccountId(1), bad).unwrap_err().contains("positions[0].positionAmt"));
    }

    #[test]
    fn hedge_mode_is_a_problem_naming_the_account_and_one_way_is_not() {
        let hedge = position_mode_problem(AccountId(4), br#"{"dualSidePosition":true}"#).unwrap().unwrap();
        assert!(hedge.starts_with("account 4: ") && hedge.contains("hedge mode"), "{hedge}");
        assert_eq!(position_mode_problem(AccountId(4), br#"{"dualSidePosition":false}"#), Ok(None));
        assert!(position_mode_problem(AccountId(4), b"<html>").unwrap_err().contains("<html>"));
    }
}
