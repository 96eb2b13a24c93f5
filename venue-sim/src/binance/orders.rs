//! Binance spot's order endpoints: `POST`/`DELETE`/`GET /api/v3/order`, `DELETE`/`GET
//! /api/v3/openOrders` and `GET /api/v3/account`, over the shared [`Market`](crate::market::Market).

use super::errors::{BinanceError, submit_error};
use super::params::{Params, authenticate, decimal_param, integer_param, valid_client_id, with_signed};
use super::rest::{Reply, RespType};
use super::wire::{amount_text, cancel_json, order_response, query_json};
use super::{BinanceSpot, CANCEL_IDS_KEPT, MAX_LOTS, MAX_TICKS, STP_MODE, UNKNOWN_ORDER, lock};
use crate::kit::binance_params::CLIENT_ID_RANGE;
use crate::kit::binance_params::{new_client_order_id, order_ref, side_param};
use crate::market::{ClientOrderRequest, Market, OrderOutcome, OrderRef, OrderReject, OrderStatus, OrderView};
use crate::protocol::{Ctx, HttpRequest};
use qt_core::{AccountId, InstrumentKind, Notional, OrderType, Price, Qty, RejectReason};
use qt_core::{Clock as _, TimeInForce, WallClock};
use serde_json::{Value, json};

impl BinanceSpot {
    pub(super) fn new_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Reply, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&[
            "symbol",
            "side",
            "type",
            "timeInForce",
            "quantity",
            "quoteOrderQty",
            "price",
            "newClientOrderId",
            "strategyId",
            "strategyType",
            "stopPrice",
            "trailingDelta",
            "icebergQty",
            "newOrderRespType",
            "selfTradePreventionMode",
            "pegPriceType",
            "pegOffsetValue",
            "pegOffsetType",
        ]))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let side = side_param(p)?;
        let kind = p.required("type")?;
        let (order_type, maker_only) = match kind {
            "LIMIT" => (OrderType::Limit, false),
            "LIMIT_MAKER" => (OrderType::Limit, true),
            "MARKET" => (OrderType::Market, false),
            "STOP_LOSS" => {
                return Err(BinanceError::NewOrderRejected("Stop loss orders are not supported for this symbol."));
            }
            "STOP_LOSS_LIMIT" => {
                return Err(BinanceError::NewOrderRejected(
                    "Stop loss limit orders are not supported for this symbol.",
                ));
            }
            "TAKE_PROFIT" => {
                return Err(BinanceError::NewOrderRejected("Take profit orders are not supported for this symbol."));
            }
            "TAKE_PROFIT_LIMIT" => {
                return Err(BinanceError::NewOrderRejected(
                    "Take profit limit orders are not supported for this symbol.",
                ));
            }
            _ => return Err(BinanceError::InvalidOrderType),
        };
        let tif = match order_type {
            OrderType::Market => {
                for extra in ["price", "timeInForce"] {
                    if p.get(extra).is_some() {
                        return Err(BinanceError::ParamNotRequired(extra));
                    }
                }
                // The engine fills what the book has and expires the rest, as Binance does.
                TimeInForce::Ioc
            }
            OrderType::Limit if maker_only => {
                if p.get("timeInForce").is_some() {
                    return Err(BinanceError::ParamNotRequired("timeInForce"));
                }
                TimeInForce::PostOnly
            }
            OrderType::Limit => match p.required("timeInForce")? {
                "GTC" => TimeInForce::Gtc,
                "IOC" => TimeInForce::Ioc,
                "FOK" => TimeInForce::Fok,
                _ => return Err(BinanceError::InvalidTimeInForce),
            },
        };
        if order_type == OrderType::Market && p.get("quoteOrderQty").is_some() {
            return Err(BinanceError::NewOrderRejected(
                "Quote order qty market orders are not support for this symbol.",
            ));
        }
        if p.get("quoteOrderQty").is_some() {
            return Err(BinanceError::ParamNotRequired("quoteOrderQty"));
        }
        if p.get("icebergQty").is_some() {
            return Err(BinanceError::NewOrderRejected("Iceberg orders are not supported for this symbol."));
        }
        for unsupported in ["stopPrice", "trailingDelta", "pegPriceType", "pegOffsetValue", "pegOffsetType"] {
            if p.get(unsupported).is_some() {
                return Err(BinanceError::ParamNotRequired(unsupported));
            }
        }
        let qty_text = match (order_type, p.get("quantity")) {
            (_, Some(q)) => q,
            (OrderType::Market, None) => return Err(BinanceError::EitherParam("quantity", "quoteOrderQty")),
            (OrderType::Limit, None) => return Err(BinanceError::MandatoryParam("quantity")),
        };
        let price_text = match order_type {
            OrderType::Limit => Some(p.required("price")?),
            OrderType::Market => None,
        };
        let resp_type = match p.get("newOrderRespType") {
            None if order_type == OrderType::Limit && maker_only => RespType::Ack,
            None => RespType::Full,
            Some("ACK") => RespType::Ack,
            Some("RESULT") => RespType::Result,
            Some("FULL") => RespType::Full,
            Some(_) => return Err(BinanceError::InvalidParamData("newOrderRespType")),
        };
        if p.get("selfTradePreventionMode").is_some_and(|m| m != STP_MODE) {
            return Err(BinanceError::InvalidParamData("selfTradePreventionMode"));
        }
        let client_order_id = new_client_order_id(p)?;
        if let Some(id) = p.get("strategyId") {
            integer_param("strategyId", id)?;
        }
        if let Some(t) = p.get("strategyType")
            && integer_param("strategyType", t)? < 1_000_000
        {
            return Err(BinanceError::InvalidParamData("strategyType"));
        }
        // Exact parsing onto the instrument's grid. A value with more decimals than the grid is
        // off the tick or lot: the filter the engine would name, in the engine's order.
        let price = match price_text {
            None => None,
            Some(text) => match decimal_param("price", text, |t| inst.parse_price(t))? {
                Some(price) if price.units() <= inst.tick().units().saturating_mul(MAX_TICKS) => Some(price),
                _ => return Err(BinanceError::FilterFailure("PRICE_FILTER")),
            },
        };
        let qty = match decimal_param("quantity", qty_text, |t| inst.parse_qty(t))? {
            Some(qty) if qty.units() <= inst.lot().units().saturating_mul(MAX_LOTS) => qty,
            _ if price.is_some_and(|p| !inst.is_on_tick(p)) => return Err(BinanceError::FilterFailure("PRICE_FILTER")),
            _ => return Err(BinanceError::FilterFailure("LOT_SIZE")),
        };
        let now_ms = market.now_ms();
        let headers = self.count_order(account, now_ms)?;
        let outcome = market.submit(
            account,
            symbol,
            ClientOrderRequest { client_order_id: client_order_id.clone(), side, order_type, tif, price, qty },
        );
        std::thread::sleep(ctx.faults.ack_latency());
        let outcome = match outcome {
            Ok(o) => o,
            Err(OrderReject::Reason(RejectReason::FokUnfillable)) => {
                // The engine refuses an unfillable FOK outright; Binance accepts it and expires
                // it at once. Answer as Binance does, with an id no other order uses.
                let view = OrderView {
                    symbol,
                    venue_order_id: (1 << 48) + self.next_sequence(),
                    client_order_id: client_order_id.unwrap_or_else(|| format!("sim{:016x}", self.next_sequence())),
                    side,
                    order_type,
                    tif,
                    price: price.unwrap_or(Price::ZERO),
                    qty,
                    cum_qty: Qty::ZERO,
                    cum_quote: Notional::ZERO,
                    status: OrderStatus::Expired,
                    created: WallClock.now(),
                    updated: WallClock.now(),
                };
                OrderOutcome { order: view, fills: Vec::new() }
            }
            Err(e) => return Err(submit_error(e)),
        };
        let body = order_response(inst, &outcome, resp_type);
        Ok(Reply { body, headers })
    }

    /// Remembers the client id of a user cancel for the order's `executionReport`.
    pub(super) fn remember_cancel_id(&self, account: AccountId, symbol: usize, order_id: u64, cancel_id: &str) {
        let mut c = lock(&self.cancel_ids);
        let key = (account, symbol, order_id);
        if c.by_order.insert(key, cancel_id.to_string()).is_none() {
            c.order.push_back(key);
        }
        while c.order.len() > CANCEL_IDS_KEPT {
            if let Some(old) = c.order.pop_front() {
                c.by_order.remove(&old);
            }
        }
    }

    pub(super) fn cancel_id_of(&self, account: AccountId, symbol: usize, order_id: u64) -> Option<String> {
        lock(&self.cancel_ids).by_order.get(&(account, symbol, order_id)).cloned()
    }

    pub(super) fn generated_cancel_id(&self) -> String {
        format!("cancel{:016x}", self.next_sequence())
    }

    /// Cancels one open order, recording `cancel_id` first so the stream can name it.
    pub(super) fn cancel_one(
        &self,
        market: &Market,
        account: AccountId,
        symbol: usize,
        order: &OrderView,
        cancel_id: &str,
    ) -> Result<OrderView, BinanceError> {
        self.remember_cancel_id(account, symbol, order.venue_order_id, cancel_id);
        market
            .cancel(account, symbol, &OrderRef::Venue(order.venue_order_id))
            .map_err(|_| BinanceError::CancelRejected(UNKNOWN_ORDER))
    }

    pub(super) fn cancel_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol", "orderId", "origClientOrderId", "newClientOrderId", "cancelRestrictions"]))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let r = order_ref(p)?;
        let cancel_id = match p.raw("newClientOrderId") {
            None | Some("") => self.generated_cancel_id(),
            Some(id) if !valid_client_id(id) => {
                return Err(BinanceError::IllegalParam { param: "newClientOrderId", range: CLIENT_ID_RANGE });
            }
            Some(id) => id.to_string(),
        };
        let restriction = match p.get("cancelRestrictions") {
            None => None,
            Some("ONLY_NEW") => Some(OrderStatus::New),
            Some("ONLY_PARTIALLY_FILLED") => Some(OrderStatus::PartiallyFilled),
            Some(_) => return Err(BinanceError::InvalidParamData("cancelRestrictions")),
        };
        let found = market.order(account, symbol, &r);
        let result = match found {
            Some(order) if matches!(order.status, OrderStatus::New | OrderStatus::PartiallyFilled) => {
                if restriction.is_some_and(|s| s != order.status) {
                    std::thread::sleep(ctx.faults.ack_latency());
                    return Err(BinanceError::CancelRejected("Order was not canceled due to cancel restrictions."));
                }
                self.cancel_one(market, account, symbol, &order, &cancel_id)
            }
            _ => Err(BinanceError::CancelRejected(UNKNOWN_ORDER)),
        };
        std::thread::sleep(ctx.faults.ack_latency());
        let view = result?;
        Ok(cancel_json(inst, &view, &cancel_id, market.now_ms()))
    }

    pub(super) fn cancel_open_orders(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol"]))?;
        let market = &ctx.market;
        let (symbol, inst) = self.symbol(market, p.required("symbol")?)?;
        let open = market.open_orders(account, Some(symbol));
        let mut out = Vec::new();
        for order in &open {
            let cancel_id = self.generated_cancel_id();
            if let Ok(view) = self.cancel_one(market, account, symbol, order, &cancel_id) {
                out.push(cancel_json(inst, &view, &cancel_id, market.now_ms()));
            }
        }
        std::thread::sleep(ctx.faults.ack_latency());
        if out.is_empty() {
            return Err(BinanceError::CancelRejected(UNKNOWN_ORDER));
        }
        Ok(Value::Array(out))
    }

    pub(super) fn query_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol", "orderId", "origClientOrderId"]))?;
        let (symbol, inst) = self.symbol(&ctx.market, p.required("symbol")?)?;
        let r = order_ref(p)?;
        let order = ctx.market.order(account, symbol, &r).ok_or(BinanceError::NoSuchOrder)?;
        Ok(query_json(inst, &order))
    }

    pub(super) fn open_orders(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol"]))?;
        let market = &ctx.market;
        let symbol = match p.get("symbol") {
            Some(s) => Some(self.symbol(market, s)?.0),
            None => None,
        };
        let orders = market.open_orders(account, symbol);
        let spot =
            |o: &&OrderView| market.instruments().get(o.symbol).is_some_and(|i| i.kind() == InstrumentKind::Spot);
        Ok(Value::Array(orders.iter().filter(spot).map(|o| query_json(&market.instruments()[o.symbol], o)).collect()))
    }

    pub(super) fn account(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["omitZeroBalances"]))?;
        let omit_zero = match p.get("omitZeroBalances") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(BinanceError::InvalidParamData("omitZeroBalances")),
        };
        let balances: Vec<Value> = ctx
            .market
            .balances(account)
            .iter()
            .filter(|b| !(omit_zero && b.free.is_zero() && b.locked.is_zero()))
            .map(|b| json!({ "asset": b.asset, "free": amount_text(b.free), "locked": amount_text(b.locked) }))
            .collect();
        // The market does not expose its fee schedule, so the commission fields read zero.
        Ok(json!({
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": { "maker": "0.00000000", "taker": "0.00000000", "buyer": "0.00000000", "seller": "0.00000000" },
            "canTrade": true,
            "canWithdraw": true,
            "canDeposit": true,
            "brokered": false,
            "requireSelfTradePrevention": false,
            "preventSor": false,
            "updateTime": ctx.market.now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": account.0,
        }))
    }
}
