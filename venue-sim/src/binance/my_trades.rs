//! Binance spot's account trade list, `GET /api/v3/myTrades` (USER_DATA, signed), for
//! [`BinanceSpot`]: the trades of the account's open and recently closed orders on one symbol.
//!
//! As `binance-spot-api-docs` (`rest-api.md`, "Account trade list") documents it: `symbol`
//! mandatory; `orderId` (only that order's trades), `startTime`/`endTime` (by trade time, at
//! most 24 hours apart), `fromId` (trades with id >= it), `limit` (default 500, at most 1000).
//! `fromId` cannot be combined with `startTime`/`endTime`, nor `orderId` with
//! `startTime`/`endTime` (-1128). Without `fromId` or `startTime` the most recent trades are
//! returned; the list is oldest first. Weight 5 with `orderId`, else 20
//! ([`BinanceSpot::weight`]). Each element: `symbol`, `id`, `orderId`, `orderListId` (-1),
//! `price`, `qty`, `quoteQty`, `commission`, `commissionAsset` (the quote asset: the shared
//! matching engine charges fees in quote), `time`, `isBuyer`, `isMaker`, `isBestMatch`.
//!
//! Runs on the server's connection threads; allocates per request.

use super::BinanceSpot;
use super::errors::BinanceError;
use super::params::{Params, integer_param, with_signed};
use super::wire::amount_text;
use crate::kit::decimal_text::{ms, price_text, qty_text};
use crate::protocol::{Ctx, HttpRequest};
use qt_core::{Rounding, Side};
use serde_json::{Value, json};

/// `limit`'s default and maximum.
const DEFAULT_LIMIT: i64 = 500;
const MAX_LIMIT: i64 = 1000;
/// Longest `startTime`..`endTime` span, milliseconds.
const MAX_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

impl BinanceSpot {
    pub(super) fn my_trades(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = self.authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol", "orderId", "startTime", "endTime", "fromId", "limit"]))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let number = |name: &'static str| p.get(name).map(|t| integer_param(name, t)).transpose();
        let (order_id, start, end, from_id) =
            (number("orderId")?, number("startTime")?, number("endTime")?, number("fromId")?);
        let limit = number("limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(BinanceError::InvalidParamData("limit"));
        }
        let timed = start.is_some() || end.is_some();
        if timed && (from_id.is_some() || order_id.is_some()) {
            return Err(BinanceError::BadParamCombination);
        }
        if let (Some(s), Some(e)) = (start, end)
            && (e < s || e - s > MAX_SPAN_MS)
        {
            return Err(BinanceError::TimeSpanTooLong);
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
        let quote_asset = inst.quote();
        Ok(Value::Array(
            trades
                .iter()
                .map(|t| {
                    let f = &t.fill;
                    let quote = inst.notional(f.price, f.qty, Rounding::Nearest).unwrap_or_default();
                    json!({
                        "symbol": inst.symbol(),
                        "id": f.trade_id,
                        "orderId": t.venue_order_id,
                        "orderListId": -1,
                        "price": price_text(inst, f.price),
                        "qty": qty_text(inst, f.qty),
                        "quoteQty": amount_text(quote),
                        "commission": amount_text(f.fee),
                        "commissionAsset": quote_asset,
                        "time": ms(f.ts),
                        "isBuyer": t.side == Side::Buy,
                        "isMaker": f.is_maker,
                        "isBestMatch": true,
                    })
                })
                .collect(),
        ))
    }
}
