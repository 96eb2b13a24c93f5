//! Bybit's REST envelope (`retCode`, `retMsg`, `result`, `time`), routing of signed endpoints with
//! their rate limits, and the market-data endpoints (`market/time`, `instruments-info`,
//! `orderbook`).

use super::BybitV5;
use super::books::SPOT_REST_DEPTH;
use super::errors::{ApiError, missing, param_error, symbol_invalid};
use super::orders::wallet_balance;
use super::params::{Params, authenticate, category_param, query_params, symbol_of};
use super::wire::{Category, Obj, json_array, levels_json, ms, price_text, qty_text, units_price, value_text};
use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use qt_core::decimal::format_scaled;
use qt_core::{AccountId, DecimalStyle, Instrument, Price, Qty};
use serde_json::Value;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// REST: envelope, errors, parameters
// ---------------------------------------------------------------------------------------------

/// A successful REST result (the `result` object's JSON) and extra headers.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) result: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Reply {
    pub(super) fn ok(result: String) -> Self {
        Self { result, headers: Vec::new() }
    }

    pub(super) fn into_response(self, time: i64) -> HttpResponse {
        let body = Obj::new()
            .int("retCode", 0)
            .s("retMsg", "OK")
            .raw("result", &self.result)
            .raw("retExtInfo", "{}")
            .int("time", time)
            .done();
        let mut resp = HttpResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: body.into_bytes(),
        };
        resp.headers.extend(self.headers);
        resp
    }
}

// ---------------------------------------------------------------------------------------------
// REST: market data
// ---------------------------------------------------------------------------------------------

/// `GET /v5/market/time` (`market/time.mdx`).
pub(super) fn server_time(now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let nanos = i128::from(now_ms) * 1_000_000;
    Obj::new().s("timeSecond", &secs.to_string()).s("timeNano", &nanos.to_string()).done()
}

/// The quote precision a spot instrument advertises: one unit of price × quantity, the finest
/// amount its trades produce.
pub(super) fn quote_precision_decimals(inst: &Instrument) -> u8 {
    (inst.price_scale() + inst.qty_scale()).min(18)
}

pub(super) fn instrument_json(inst: &Instrument, cat: Category) -> String {
    let tick = price_text(inst, cat, inst.tick());
    let lot = qty_text(inst, cat, inst.lot());
    let min_qty = qty_text(inst, cat, inst.min_qty());
    let min_value = value_text(inst.min_notional());
    // The simulator has no maximum quantity; these are generous bounds the engine's own range
    // checks stay far above.
    let max_qty = "1000000";
    match cat {
        Category::Spot => {
            let quote_precision = format_scaled(1, quote_precision_decimals(inst), DecimalStyle::Trimmed);
            let lot_filter = Obj::new()
                .s("basePrecision", &lot)
                .s("quotePrecision", quote_precision.as_str())
                .s("minOrderQty", &min_qty)
                .s("maxOrderQty", max_qty)
                .s("minOrderAmt", &min_value)
                .s("maxOrderAmt", "100000000")
                .s("maxLimitOrderQty", max_qty)
                .s("maxMarketOrderQty", max_qty)
                .done();
            Obj::new()
                .s("symbol", inst.symbol())
                .s("baseCoin", inst.base())
                .s("quoteCoin", inst.quote())
                .s("innovation", "0")
                .s("status", "Trading")
                .s("marginTrading", "none")
                .s("stTag", "0")
                .raw("lotSizeFilter", &lot_filter)
                .raw("priceFilter", &Obj::new().s("tickSize", &tick).done())
                .raw("riskParameters", &Obj::new().s("priceLimitRatioX", "0.05").s("priceLimitRatioY", "0.1").done())
                .s("symbolType", "")
                .done()
        }
        Category::Linear => {
            let max_price = units_price(inst, cat, inst.tick().units().saturating_mul(100_000_000));
            let lot_filter = Obj::new()
                .s("maxOrderQty", max_qty)
                .s("minOrderQty", &min_qty)
                .s("qtyStep", &lot)
                .s("postOnlyMaxOrderQty", max_qty)
                .s("maxMktOrderQty", max_qty)
                .s("minNotionalValue", &min_value)
                .done();
            Obj::new()
                .s("symbol", inst.symbol())
                .s("contractType", "LinearPerpetual")
                .s("status", "Trading")
                .s("baseCoin", inst.base())
                .s("quoteCoin", inst.quote())
                .s("launchTime", "0")
                .s("deliveryTime", "0")
                .s("deliveryFeeRate", "")
                .s("priceScale", &inst.price_scale().to_string())
                .raw(
                    "leverageFilter",
                    &Obj::new().s("minLeverage", "1").s("maxLeverage", "100.00").s("leverageStep", "0.01").done(),
                )
                .raw(
                    "priceFilter",
                    &Obj::new().s("minPrice", &tick).s("maxPrice", &max_price).s("tickSize", &tick).done(),
                )
                .raw("lotSizeFilter", &lot_filter)
                .boolean("unifiedMarginTrade", true)
                .int("fundingInterval", 480)
                .s("settleCoin", inst.quote())
                .s("copyTrading", "none")
                .s("upperFundingRate", "0.005")
                .s("lowerFundingRate", "-0.005")
                .boolean("isPreListing", false)
                .raw("preListingInfo", "null")
                .raw("riskParameters", &Obj::new().s("priceLimitRatioX", "0.05").s("priceLimitRatioY", "0.1").done())
                .s("symbolType", "")
                .done()
        }
    }
}

/// `GET /v5/market/instruments-info` (`market/instrument.mdx`). An unknown symbol, or one of
/// the other category, gives an empty list (the endpoint filters; it does not validate).
pub(super) fn instruments_info(ctx: &Ctx, q: &[(String, String)]) -> Result<Reply, ApiError> {
    let p = Params::Query(q.to_vec());
    let cat = category_param(&p)?;
    let symbol = p.get("symbol")?;
    let list: Vec<String> = ctx
        .market
        .instruments()
        .iter()
        .filter(|i| Category::of(i.kind()) == Some(cat))
        .filter(|i| symbol.as_deref().is_none_or(|s| s == i.symbol()))
        .map(|i| instrument_json(i, cat))
        .collect();
    let mut result = Obj::new().s("category", cat.name());
    if cat == Category::Linear {
        result = result.s("nextPageCursor", "");
    }
    Ok(Reply::ok(result.raw("list", &json_array(list)).done()))
}

impl BybitV5 {
    /// `GET /v5/market/orderbook` (`market/orderbook.mdx`): `limit` spot [1, 200] (default 1),
    /// linear [1, 500] (default 25). Spot serves the `orderbook.200` topic's last published view,
    /// so `u` is that topic's `u` ("corresponding to `u` in the wss 200-level orderbook") and
    /// `seq` the market update id it reflects, as on every depth's stream. Linear serves the
    /// market's book now, `u` and `seq` its update id: the documented counterpart, a 500-level
    /// stream, is not simulated.
    pub(super) fn orderbook(&self, ctx: &Ctx, q: &[(String, String)]) -> Result<Reply, ApiError> {
        let p = Params::Query(q.to_vec());
        let cat = category_param(&p)?;
        let symbol = p.get("symbol")?.ok_or_else(|| missing("symbol"))?;
        let (idx, inst) = symbol_of(&ctx.market, cat, &symbol)?;
        let (max, default) = match cat {
            Category::Spot => (200, 1),
            Category::Linear => (500, 25),
        };
        let limit = p.int("limit")?.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(param_error("limit invalid"));
        }
        let limit = limit as usize;
        let (bids, asks, u, seq, cts) = match (cat, self.book_interval(SPOT_REST_DEPTH)) {
            (Category::Spot, Some(interval)) => {
                let books = self.books.of(idx);
                let mut b = super::books::lock(&books);
                b.advance(&ctx.market, &ctx.faults, Instant::now());
                let mut view = b.view(SPOT_REST_DEPTH, interval, Instant::now());
                b.release_if_unwatched();
                view.bids.truncate(limit);
                view.asks.truncate(limit);
                (view.bids, view.asks, view.u, view.seq, view.cts)
            }
            _ => {
                let snap = ctx.market.snapshot(idx, limit).ok_or_else(|| symbol_invalid(cat))?;
                let units = |levels: &[(Price, Qty)]| levels.iter().map(|(p, q)| (p.units(), q.units())).collect();
                (units(&snap.bids), units(&snap.asks), snap.update_id, snap.update_id, ms(snap.ts))
            }
        };
        let result = Obj::new()
            .s("s", inst.symbol())
            .raw("a", &levels_json(&inst, cat, &asks))
            .raw("b", &levels_json(&inst, cat, &bids))
            .int("ts", cts)
            .uint("u", u)
            .uint("seq", seq)
            .int("cts", cts)
            .done();
        Ok(Reply::ok(result))
    }
}

// ---------------------------------------------------------------------------------------------
// REST: signed endpoints
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Route {
    Create,
    Cancel,
    CancelAll,
    Realtime,
    WalletBalance,
    PositionList,
}

impl Route {
    /// Per-second per-UID limits of `docs/v5/rate-limit.mdx` (UTA Pro table).
    pub(super) fn limit(self, cat: Option<Category>) -> u32 {
        match (self, cat) {
            (Route::Create | Route::Cancel | Route::CancelAll, Some(Category::Spot)) => 20,
            (Route::Create | Route::Cancel | Route::CancelAll, _) => 10,
            (Route::Realtime | Route::WalletBalance | Route::PositionList, _) => 50,
        }
    }

    pub(super) fn is_order_entry(self) -> bool {
        matches!(self, Route::Create | Route::Cancel | Route::CancelAll)
    }
}

impl BybitV5 {
    /// Checks the key, the timestamp window and the signature, in that order (each failure with
    /// its documented code), then the rate limit, then serves `route`.
    pub(super) fn signed(&self, ctx: &Ctx, req: &HttpRequest, route: Route, now: i64) -> Result<Reply, ApiError> {
        let caller = authenticate(ctx, req, now)?;
        self.ensure_ledger(ctx, caller.account);
        let params = match req.method.as_str() {
            "GET" => Params::Query(query_params(&req.query)),
            _ => match serde_json::from_slice::<Value>(&req.body) {
                Ok(Value::Object(map)) => Params::Body(map),
                _ => return Err(param_error("request body must be a JSON object")),
            },
        };
        // The limit window is per category where the table distinguishes categories.
        let cat = params.get("category").ok().flatten().and_then(|c| Category::parse(&c));
        let headers = self.rate_limit(caller.account, route, cat, now)?;
        let result = match route {
            Route::Create => self.create_order(ctx, caller, &params),
            Route::Cancel => self.cancel_order(ctx, caller, &params),
            Route::CancelAll => self.cancel_all(ctx, caller, &params),
            Route::Realtime => self.realtime(ctx, caller, &params),
            Route::WalletBalance => wallet_balance(ctx, caller, &params),
            Route::PositionList => self.position_list(ctx, caller, &params),
        };
        if route.is_order_entry() {
            let delay = ctx.faults.ack_latency();
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
        match result {
            Ok(mut reply) => {
                reply.headers.extend(headers);
                Ok(reply)
            }
            Err(mut e) => {
                e.headers.extend(headers);
                Err(e)
            }
        }
    }

    /// `X-Bapi-Limit*` headers of an allowed request, or 10006 "Too many visits!" (HTTP 200:
    /// the rate-limit page says the JSON response carries it; HTTP 403 is the IP ban).
    pub(super) fn rate_limit(
        &self,
        account: AccountId,
        route: Route,
        cat: Option<Category>,
        now: i64,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let limit = route.limit(cat);
        if !self.rate_limits {
            return Ok(vec![
                ("X-Bapi-Limit".into(), limit.to_string()),
                ("X-Bapi-Limit-Status".into(), limit.to_string()),
                ("X-Bapi-Limit-Reset-Timestamp".into(), now.to_string()),
            ]);
        }
        let mut st = self.lock();
        let window = st.limiter.entry((account, route, cat)).or_default();
        while window.front().is_some_and(|t| *t <= now - 1000) {
            window.pop_front();
        }
        let headers = |remaining: usize, reset: i64| {
            vec![
                ("X-Bapi-Limit".to_string(), limit.to_string()),
                ("X-Bapi-Limit-Status".to_string(), remaining.to_string()),
                ("X-Bapi-Limit-Reset-Timestamp".to_string(), reset.to_string()),
            ]
        };
        if window.len() >= limit as usize {
            let reset = window.front().map_or(now, |t| t + 1000);
            let mut e = ApiError::new(10006, "Too many visits!");
            e.headers = headers(0, reset);
            return Err(e);
        }
        window.push_back(now);
        Ok(headers(limit as usize - window.len(), now))
    }
}
