//! KuCoin's public ticker answers: `GET /api/v1/market/orderbook/level1`, `/api/v1/market/stats`,
//! `/api/v1/market/allTickers` and `/api/v1/market/histories`, shaped as the official SDK's
//! spec examples (`kucoin-universal-sdk` `generate/spot/market/api_market_test.py`: `GetTicker`,
//! `Get24hrStats`, `GetAllTickers`, `GetTradeHistory`), numbers in KuCoin's shortest form.
//!
//! The market keeps no trade history, so [`Tapes`] follows each symbol's trades from the first
//! ticker request on (a book subscription drained at every request, resubscribed if the market
//! dropped it for falling behind): `histories` lists the last [`HISTORY`] trades seen, and the
//! "24 h" statistics cover the trades seen since the tape started (a simulator run is far
//! shorter than a day). Fee rates are the documentation example's `"0.001"` with coefficient
//! `"1"`. These are the simulator's choices, listed in README.
//!
//! Runs on the server's connection threads; allocates per request; the tapes sit behind a
//! short-lived mutex.

use super::rest::{error, ok, query_value};
use super::wire::decimal;
use super::{symbol, symbol_index};
use crate::market::{BookUpdate, Market, TradeView};
use crate::protocol::{Ctx, HttpResponse};
use crossbeam_channel::{Receiver, TryRecvError};
use qt_core::decimal::{DecimalStyle, format_scaled};
use qt_core::{Instrument, Side};
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Trades `histories` lists (KuCoin: the last 100).
pub(super) const HISTORY: usize = 100;

/// One symbol's followed trades.
#[derive(Debug, Default)]
struct Tape {
    rx: Option<Receiver<Arc<BookUpdate>>>,
    recent: VecDeque<TradeView>,
    first_price: Option<i64>,
    high: i64,
    low: i64,
    /// Sum of sizes, size units.
    vol: i128,
    /// Sum of price × size, price units × size units.
    value: i128,
}

impl Tape {
    fn drain(&mut self, market: &Market, symbol: usize) {
        loop {
            let Some(rx) = &self.rx else {
                self.rx = market.subscribe_book(symbol, 0).map(|(_, rx)| rx);
                if self.rx.is_none() {
                    return;
                }
                continue;
            };
            match rx.try_recv() {
                Ok(u) => u.trades.iter().for_each(|t| self.record(t)),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => self.rx = None,
            }
        }
    }

    fn record(&mut self, t: &TradeView) {
        let p = t.price.units();
        if self.first_price.is_none() {
            (self.first_price, self.high, self.low) = (Some(p), p, p);
        }
        self.high = self.high.max(p);
        self.low = self.low.min(p);
        self.vol += i128::from(t.qty.units());
        self.value += i128::from(p) * i128::from(t.qty.units());
        if self.recent.len() == HISTORY {
            self.recent.pop_front();
        }
        self.recent.push_back(*t);
    }
}

/// Every symbol's [`Tape`], started on first use.
#[derive(Debug, Default)]
pub(super) struct Tapes(Mutex<Vec<Tape>>);

impl Tapes {
    /// Runs `f` on `symbol`'s tape, brought up to date.
    fn with<R>(&self, market: &Market, symbol: usize, f: impl FnOnce(&Tape) -> R) -> R {
        let mut tapes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if tapes.len() < market.instruments().len() {
            tapes.resize_with(market.instruments().len(), Tape::default);
        }
        let tape = &mut tapes[symbol];
        tape.drain(market, symbol);
        f(tape)
    }
}

fn text(units: i128, scale: u8) -> String {
    format_scaled(units, scale, DecimalStyle::Trimmed).as_str().to_owned()
}

fn best(side: &[(qt_core::Price, qt_core::Qty)]) -> Option<(i64, i64)> {
    side.first().map(|(p, q)| (p.units(), q.units()))
}

/// The `Get24hrStats` fields of `inst` (without `time`), plus `bestBidSize`/`bestAskSize` when
/// `sizes` (the `allTickers` entry has them).
fn stats_fields(ctx: &Ctx, tapes: &Tapes, index: usize, inst: &Instrument, sizes: bool) -> Map<String, Value> {
    let (ps, qs) = (inst.price_scale(), inst.qty_scale());
    let snap = ctx.market.snapshot(index, 1);
    let (bid, ask) = snap.as_ref().map_or((None, None), |s| (best(&s.bids), best(&s.asks)));
    let price = |v: Option<(i64, i64)>| v.map_or(Value::Null, |(p, _)| decimal(p, ps).into());
    let size = |v: Option<(i64, i64)>| v.map_or(Value::Null, |(_, q)| decimal(q, qs).into());
    let mut m = Map::new();
    m.insert("symbol".into(), symbol(inst).into());
    m.insert("buy".into(), price(bid));
    if sizes {
        m.insert("bestBidSize".into(), size(bid));
    }
    m.insert("sell".into(), price(ask));
    if sizes {
        m.insert("bestAskSize".into(), size(ask));
    }
    tapes.with(&ctx.market, index, |t| {
        let last = t.recent.back().map(|t| t.price.units());
        let change = match (last, t.first_price) {
            (Some(l), Some(f)) => i128::from(l) - i128::from(f),
            _ => 0,
        };
        // changeRate: change / first, to 4 decimals (the docs print "-0.0014").
        let rate = t.first_price.filter(|f| *f != 0).map_or(0, |f| change * 10_000 / i128::from(f));
        let (high, low) = if t.first_price.is_some() { (t.high, t.low) } else { (0, 0) };
        let avg = if t.vol == 0 { 0 } else { t.value / t.vol };
        m.insert("changeRate".into(), text(rate, 4).into());
        m.insert("changePrice".into(), text(change, ps).into());
        m.insert("high".into(), text(high.into(), ps).into());
        m.insert("low".into(), text(low.into(), ps).into());
        m.insert("vol".into(), text(t.vol, qs).into());
        m.insert("volValue".into(), text(t.value, ps + qs).into());
        m.insert("last".into(), last.map_or(Value::Null, |l| decimal(l, ps).into()));
        m.insert("averagePrice".into(), text(avg, ps).into());
    });
    for (k, v) in
        [("takerFeeRate", "0.001"), ("makerFeeRate", "0.001"), ("takerCoefficient", "1"), ("makerCoefficient", "1")]
    {
        m.insert(k.into(), v.into());
    }
    m
}

/// The symbol named by `?symbol=`, or the documented `400100` answer.
fn named<'a>(ctx: &'a Ctx, query: &str) -> Result<(usize, &'a Instrument), HttpResponse> {
    let name = query_value(query, "symbol").ok_or_else(|| error(400, "400100", "symbol is required"))?;
    let index = symbol_index(&ctx.market, &name).ok_or_else(|| error(400, "400100", "Unsupported trading pair."))?;
    let inst = ctx.market.instruments().get(index).ok_or_else(|| error(400, "400100", "Unsupported trading pair."))?;
    Ok((index, inst))
}

/// `GET /api/v1/market/orderbook/level1?symbol=`: `{"time","sequence","price","size",
/// "bestBid","bestBidSize","bestAsk","bestAskSize"}` (`price`/`size`: the last trade, `null`
/// before the first one the tape saw).
pub(super) fn level1(ctx: &Ctx, tapes: &Tapes, query: &str) -> HttpResponse {
    let (index, inst) = match named(ctx, query) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let Some(snap) = ctx.market.snapshot(index, 1) else { return error(400, "400100", "Unsupported trading pair.") };
    let (ps, qs) = (inst.price_scale(), inst.qty_scale());
    let last = tapes.with(&ctx.market, index, |t| t.recent.back().map(|t| (t.price.units(), t.qty.units())));
    let price = |v: Option<(i64, i64)>| v.map_or(Value::Null, |(p, _)| decimal(p, ps).into());
    let size = |v: Option<(i64, i64)>| v.map_or(Value::Null, |(_, q)| decimal(q, qs).into());
    let (bid, ask) = (best(&snap.bids), best(&snap.asks));
    ok(json!({
        "time": ctx.market.now_ms(),
        "sequence": snap.update_id.to_string(),
        "price": price(last),
        "size": size(last),
        "bestBid": price(bid),
        "bestBidSize": size(bid),
        "bestAsk": price(ask),
        "bestAskSize": size(ask),
    }))
}

/// `GET /api/v1/market/stats?symbol=`: `{"time","symbol","buy","sell","changeRate",
/// "changePrice","high","low","vol","volValue","last","averagePrice", fee rates}`.
pub(super) fn stats(ctx: &Ctx, tapes: &Tapes, query: &str) -> HttpResponse {
    let (index, inst) = match named(ctx, query) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let mut m = Map::new();
    m.insert("time".into(), ctx.market.now_ms().into());
    m.extend(stats_fields(ctx, tapes, index, inst, false));
    ok(Value::Object(m))
}

/// `GET /api/v1/market/allTickers`: `{"time","ticker":[{"symbol","symbolName","buy",
/// "bestBidSize","sell","bestAskSize",...}]}`.
pub(super) fn all_tickers(ctx: &Ctx, tapes: &Tapes) -> HttpResponse {
    let ticker: Vec<Value> = ctx
        .market
        .instruments()
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let mut m = Map::new();
            m.insert("symbol".into(), symbol(inst).into());
            m.insert("symbolName".into(), symbol(inst).into());
            m.extend(stats_fields(ctx, tapes, i, inst, true));
            Value::Object(m)
        })
        .collect();
    ok(json!({ "time": ctx.market.now_ms(), "ticker": ticker }))
}

/// `GET /api/v1/market/histories?symbol=`: the last [`HISTORY`] trades, oldest first, each
/// `{"sequence","price","size","side","time"}` (`time` in nanoseconds; `side` the taker's).
pub(super) fn histories(ctx: &Ctx, tapes: &Tapes, query: &str) -> HttpResponse {
    let (index, inst) = match named(ctx, query) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let (ps, qs) = (inst.price_scale(), inst.qty_scale());
    let trades = tapes.with(&ctx.market, index, |t| {
        t.recent
            .iter()
            .map(|t| {
                json!({
                    "sequence": t.trade_id.to_string(),
                    "price": decimal(t.price.units(), ps),
                    "size": decimal(t.qty.units(), qs),
                    "side": if t.aggressor == Side::Buy { "buy" } else { "sell" },
                    "time": t.ts.0.max(0),
                })
            })
            .collect::<Vec<_>>()
    });
    ok(Value::Array(trades))
}
