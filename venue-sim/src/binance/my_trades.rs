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
use super::params::{Params, authenticate, with_signed};
use super::wire::amount_text;
use crate::kit::binance_trades::{TRADE_LIST_PARAMS, TradeListRules, select_trades};
use crate::kit::decimal_text::{ms, price_text, qty_text};
use crate::protocol::{Ctx, HttpRequest};
use qt_core::{Rounding, Side};
use serde_json::{Value, json};

/// Spot's trade list rules: at most 24 hours between `startTime` and `endTime` (-1127), no
/// `orderId` with a time range.
const RULES: TradeListRules = TradeListRules {
    max_span_ms: 24 * 60 * 60 * 1000,
    order_id_with_time: false,
    bad_span: BinanceError::TimeSpanTooLong,
};

impl BinanceSpot {
    pub(super) fn my_trades(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&TRADE_LIST_PARAMS))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let trades = select_trades(market, account, symbol, p, &RULES)?;
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
