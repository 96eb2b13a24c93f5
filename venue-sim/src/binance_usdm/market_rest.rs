//! Binance USD-M's public market REST beyond the book: `GET /fapi/v1/trades`, `aggTrades`,
//! `ticker/24hr`, `ticker/bookTicker` and `premiumIndex`, with the documented fields (USD-M "Market Data" REST pages: Recent-Trades-List,
//! Compressed-Aggregate-Trades-List, 24hr-Ticker-Price-Change-Statistics, Symbol-Order-Book-Ticker,
//! Mark-Price; keys in serde_json's order, not the docs': JSON clients read them by name).
//!
//! Numbers: prices and quantities at the contract's precision as everywhere on USD-M
//! ([`super::wire`]); `premiumIndex`'s prices with 8 decimals as its doc example prints them.
//! Without `symbol` the ticker endpoints and `premiumIndex` answer an array over every symbol.
//!
//! Guesses (README lists them): the statistics of `ticker/24hr` cover the trades on the
//! [`TradeTape`] (not a full 24 h); mark and index price are the mid of the best bid and ask;
//! the funding and interest rates are the default 0.01 % and funding is every 8 h from 00:00 UTC
//! unless the venue's funding interval is set otherwise ([`super::funding`]).

use super::funding::FundingClock;
use super::rest::{error, symbol_of};
use super::tape::{TAPE_LEN, TradeTape};
use super::wire::{price_text, qty_text};
use crate::kit::decimal_text::{ms, wire_decimal};
use crate::kit::form::parse_form;
use crate::market::TradeView;
use crate::protocol::{Ctx, HttpResponse};
use qt_core::decimal::{DecimalStyle, format_scaled};
use qt_core::{Instrument, Price, Qty, Side};
use serde_json::{Value, json};

/// `lastFundingRate` and `interestRate` (the default 0.01 %).
const DEFAULT_RATE: &str = "0.00010000";

/// Which endpoint of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MarketEndpoint {
    Trades,
    AggTrades,
    Ticker24h,
    BookTicker,
    PremiumIndex,
}

impl MarketEndpoint {
    /// The endpoint served at `path`.
    pub(super) fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/fapi/v1/trades" => Self::Trades,
            "/fapi/v1/aggTrades" => Self::AggTrades,
            "/fapi/v1/ticker/24hr" => Self::Ticker24h,
            "/fapi/v1/ticker/bookTicker" => Self::BookTicker,
            "/fapi/v1/premiumIndex" => Self::PremiumIndex,
            _ => return None,
        })
    }
}

/// The answer of `endpoint` to `query`.
pub(super) fn answer(
    ctx: &Ctx,
    (tape, funding): (&TradeTape, &FundingClock),
    endpoint: MarketEndpoint,
    query: &str,
) -> HttpResponse {
    let Ok(params) = parse_form(query.as_bytes()) else {
        return error(-1100, "Illegal characters found in a parameter.");
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let symbol = match get("symbol").map(|s| symbol_of(ctx, s)) {
        None => None,
        Some(Some(i)) => Some(i),
        Some(None) => return error(-1121, "Invalid symbol."),
    };
    let limit = match get("limit").map(str::parse::<usize>) {
        None => 500,
        Some(Ok(n)) if (1..=TAPE_LEN).contains(&n) => n,
        Some(_) => return error(-1130, "Data sent for parameter 'limit' is not valid."),
    };
    let one = |i: usize| -> Value {
        let inst = &ctx.market.instruments()[i];
        match endpoint {
            MarketEndpoint::Ticker24h => ticker_24h(ctx, inst, i, &tape.recent(&ctx.market, i)),
            MarketEndpoint::BookTicker => book_ticker(ctx, inst, i),
            _ => premium_index(ctx, inst, i, funding),
        }
    };
    let body = match (endpoint, symbol) {
        (MarketEndpoint::Trades | MarketEndpoint::AggTrades, None) => {
            return error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
        }
        (MarketEndpoint::Trades | MarketEndpoint::AggTrades, Some(i)) => {
            let inst = &ctx.market.instruments()[i];
            let trades = tape.recent(&ctx.market, i);
            let tail = &trades[trades.len().saturating_sub(limit)..];
            let row = if endpoint == MarketEndpoint::Trades { trade_row } else { agg_trade_row };
            Value::Array(tail.iter().map(|t| row(inst, t)).collect())
        }
        (_, Some(i)) => one(i),
        (_, None) => Value::Array((0..ctx.market.instruments().len()).map(one).collect()),
    };
    HttpResponse::json(200, &body)
}

/// A `trades` row: `id, price, qty, quoteQty, time, isBuyerMaker`.
fn trade_row(inst: &Instrument, t: &TradeView) -> Value {
    let quote = i128::from(t.price.units()) * i128::from(t.qty.units());
    json!({
        "id": t.trade_id,
        "price": price_text(inst, t.price.units()),
        "qty": qty_text(inst, t.qty.units()),
        "quoteQty": wire_decimal(quote, inst.price_scale() + inst.qty_scale()),
        "time": ms(t.ts),
        "isBuyerMaker": t.aggressor == Side::Sell,
    })
}

/// An `aggTrades` row: `a, p, q, f, l, T, m` (one trade per aggregate, numbered by its trade id).
fn agg_trade_row(inst: &Instrument, t: &TradeView) -> Value {
    json!({
        "a": t.trade_id,
        "p": price_text(inst, t.price.units()),
        "q": qty_text(inst, t.qty.units()),
        "f": t.trade_id,
        "l": t.trade_id,
        "T": ms(t.ts),
        "m": t.aggressor == Side::Sell,
    })
}

/// `ticker/24hr` of `inst` over `trades` (oldest first); with no trades, prices are the mid.
fn ticker_24h(ctx: &Ctx, inst: &Instrument, i: usize, trades: &[TradeView]) -> Value {
    let now = ctx.market.now_ms();
    let p = |units: i64| price_text(inst, units);
    let (Some(first), Some(last)) = (trades.first(), trades.last()) else {
        let mid = best(ctx, i).map_or(0, |(b, a)| (b + a) / 2);
        return json!({
            "symbol": inst.symbol(), "priceChange": p(0), "priceChangePercent": "0.000",
            "weightedAvgPrice": p(mid), "lastPrice": p(mid), "lastQty": qty_text(inst, 0),
            "openPrice": p(mid), "highPrice": p(mid), "lowPrice": p(mid),
            "volume": qty_text(inst, 0), "quoteVolume": wire_decimal(0, 0),
            "openTime": now, "closeTime": now, "firstId": -1, "lastId": -1, "count": 0,
        });
    };
    let (open, close) = (first.price.units(), last.price.units());
    let high = trades.iter().map(|t| t.price.units()).max().unwrap_or(close);
    let low = trades.iter().map(|t| t.price.units()).min().unwrap_or(close);
    let volume: i128 = trades.iter().map(|t| i128::from(t.qty.units())).sum();
    let quote: i128 = trades.iter().map(|t| i128::from(t.price.units()) * i128::from(t.qty.units())).sum();
    let vwap = if volume == 0 { i128::from(close) } else { quote / volume };
    let change = close - open;
    let percent = if open == 0 { 0 } else { i128::from(change) * 100_000 / i128::from(open) };
    let scales = inst.price_scale() + inst.qty_scale();
    json!({
        "symbol": inst.symbol(),
        "priceChange": p(change),
        "priceChangePercent": format_scaled(percent, 3, DecimalStyle::Fixed).to_string(),
        "weightedAvgPrice": p(i64::try_from(vwap).unwrap_or(close)),
        "lastPrice": p(close),
        "lastQty": qty_text(inst, last.qty.units()),
        "openPrice": p(open),
        "highPrice": p(high),
        "lowPrice": p(low),
        "volume": wire_decimal(volume, inst.qty_scale()),
        "quoteVolume": wire_decimal(quote, scales),
        "openTime": ms(first.ts),
        "closeTime": ms(last.ts),
        "firstId": first.trade_id,
        "lastId": last.trade_id,
        "count": trades.len(),
    })
}

/// Best bid and ask price units of symbol `i`.
fn best(ctx: &Ctx, i: usize) -> Option<(i64, i64)> {
    let snap = ctx.market.snapshot(i, 1)?;
    Some((snap.bids.first()?.0.units(), snap.asks.first()?.0.units()))
}

/// `ticker/bookTicker`: `symbol, bidPrice, bidQty, askPrice, askQty, time, lastUpdateId`.
fn book_ticker(ctx: &Ctx, inst: &Instrument, i: usize) -> Value {
    let snap = ctx.market.snapshot(i, 1);
    let side = |levels: Option<&[(Price, Qty)]>| {
        let (p, q) = levels.and_then(|l| l.first()).map_or((0, 0), |(p, q)| (p.units(), q.units()));
        (price_text(inst, p), qty_text(inst, q))
    };
    let (bid, bid_qty) = side(snap.as_ref().map(|s| s.bids.as_slice()));
    let (ask, ask_qty) = side(snap.as_ref().map(|s| s.asks.as_slice()));
    json!({
        "symbol": inst.symbol(),
        "bidPrice": bid,
        "bidQty": bid_qty,
        "askPrice": ask,
        "askQty": ask_qty,
        "time": snap.as_ref().map_or_else(|| ctx.market.now_ms(), |s| ms(s.ts)),
        "lastUpdateId": snap.map_or(0, |s| s.update_id),
    })
}

/// `premiumIndex`: `symbol, markPrice, indexPrice, estimatedSettlePrice, lastFundingRate,
/// interestRate, nextFundingTime, time`.
fn premium_index(ctx: &Ctx, inst: &Instrument, i: usize, funding: &FundingClock) -> Value {
    let now = ctx.market.now_ms();
    // The mark every position is valued at: the mid at one more decimal, so a half tick is exact.
    let (mid, scale) = ctx.market.mark_price(i).unwrap_or((0, inst.price_scale() + 1));
    let price = wire_decimal(mid, scale);
    json!({
        "symbol": inst.symbol(),
        "markPrice": price,
        "indexPrice": price,
        "estimatedSettlePrice": price,
        "lastFundingRate": DEFAULT_RATE,
        "interestRate": DEFAULT_RATE,
        "nextFundingTime": funding.next_after(now),
        "time": now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every endpoint of this module is routed, and only those.
    #[test]
    fn routes() {
        for p in [
            "/fapi/v1/trades",
            "/fapi/v1/aggTrades",
            "/fapi/v1/ticker/24hr",
            "/fapi/v1/ticker/bookTicker",
            "/fapi/v1/premiumIndex",
        ] {
            assert!(MarketEndpoint::of(p).is_some(), "{p}");
        }
        assert_eq!(MarketEndpoint::of("/fapi/v1/depth"), None);
    }
}
