//! The account trade list both Binance protocols serve (spot `GET /api/v3/myTrades`, USD-M
//! `GET /fapi/v1/userTrades`): which of the account's trades on a symbol a request selects
//! ([`select_trades`]), under each venue's rules ([`TradeListRules`]).
//!
//! Shared rules (spot `rest-api.md` "Account trade list", USD-M "Account Trade List"): `orderId`
//! (that order's trades only), `startTime`/`endTime` by trade time, `fromId` (trades with id >=
//! it, never with a time range: -1128), `limit` default 500, at most 1000; oldest first;
//! without `fromId` or `startTime` the most recent trades.
//!
//! Pure over the market's trade views; allocates the list.

use super::binance_errors::BinanceError;
use super::binance_params::{Params, integer_param};
use super::decimal_text::ms;
use crate::market::{AccountTradeView, Market};
use qt_core::AccountId;

/// `limit`'s default and maximum.
const DEFAULT_LIMIT: i64 = 500;
const MAX_LIMIT: i64 = 1000;

/// The parameters a trade list takes besides the signed ones.
pub(crate) const TRADE_LIST_PARAMS: [&str; 6] = ["symbol", "orderId", "startTime", "endTime", "fromId", "limit"];

/// Where the venues differ.
#[derive(Debug, Clone)]
pub(crate) struct TradeListRules {
    /// Longest `startTime`..`endTime` span, milliseconds.
    pub(crate) max_span_ms: i64,
    /// Whether `orderId` may be combined with a time range.
    pub(crate) order_id_with_time: bool,
    /// The refusal of a span that is too long or reversed.
    pub(crate) bad_span: BinanceError,
}

/// The trades of `account` on `symbol` that `p` selects, oldest first.
pub(crate) fn select_trades(
    market: &Market,
    account: AccountId,
    symbol: usize,
    p: &Params,
    rules: &TradeListRules,
) -> Result<Vec<AccountTradeView>, BinanceError> {
    let number = |name: &'static str| p.get(name).map(|t| integer_param(name, t)).transpose();
    let (order_id, start, end, from_id) =
        (number("orderId")?, number("startTime")?, number("endTime")?, number("fromId")?);
    let limit = number("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(BinanceError::InvalidParamData("limit"));
    }
    let timed = start.is_some() || end.is_some();
    if timed && (from_id.is_some() || (order_id.is_some() && !rules.order_id_with_time)) {
        return Err(BinanceError::BadParamCombination);
    }
    if let (Some(s), Some(e)) = (start, end)
        && (e < s || e - s > rules.max_span_ms)
    {
        return Err(rules.bad_span.clone());
    }
    let mut trades: Vec<_> = market
        .account_trades(account, symbol)
        .into_iter()
        .filter(|t| order_id.is_none_or(|id| u64::try_from(id).is_ok_and(|id| id == t.venue_order_id)))
        .filter(|t| from_id.is_none_or(|id| u64::try_from(id).is_ok_and(|id| t.fill.trade_id >= id)))
        .filter(|t| start.is_none_or(|s| ms(t.fill.ts) >= s) && end.is_none_or(|e| ms(t.fill.ts) <= e))
        .collect();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if from_id.is_some() || start.is_some() {
        trades.truncate(limit);
    } else if trades.len() > limit {
        trades.drain(..trades.len() - limit);
    }
    Ok(trades)
}
