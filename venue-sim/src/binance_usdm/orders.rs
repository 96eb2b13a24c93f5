//! Binance USD-M's order endpoints over the shared [`Market`]: `POST`/`DELETE`/`GET
//! /fapi/v1/order`, `DELETE /fapi/v1/allOpenOrders` and `GET /fapi/v1/openOrders`.
//!
//! Facts (NOTES-orders.md §1b, the USD-M "New Order", "Cancel Order", "Cancel All Open Orders",
//! "Query Order" and "Current All Open Orders" pages): `type` LIMIT or MARKET here (the
//! conditional types are refused), `timeInForce` GTC, IOC, FOK or GTX (post-only), one-way mode
//! only (`positionSide` BOTH or absent, else -4061), `reduceOnly` "true"/"false",
//! `newOrderRespType` ACK (default: the order as accepted, before matching) or RESULT (after
//! it). Refusals are synchronous errors: -4014/-4023 off the tick/step, -4164 below the minimum
//! notional, -2022 a reduce-only order that would not only reduce, -5021 an unfillable FOK,
//! -5022 a GTX that would take, -2011 "Unknown order sent." and -2013 "Order does not exist.".
//! Cancel-all answers `{"code":200,"msg":"The operation of cancel all open order is done."}`
//! whether or not anything was open.
//!
//! Runs on the server's connection threads; allocates per request.
//!
//! [`Market`]: crate::market::Market

use super::BinanceUsdm;
use super::private_wire::{order_json, usdm_symbol};
use crate::kit::binance_errors::BinanceError;
use crate::kit::binance_params::{
    Params, authenticate, decimal_param, new_client_order_id, order_ref, side_param, with_signed,
};
use crate::market::{ClientOrderRequest, OrderOutcome, OrderReject};
use crate::protocol::{Ctx, HttpRequest};
use qt_core::{OrderType, RejectReason, TimeInForce};
use serde_json::{Value, json};

/// The parameters `POST /fapi/v1/order` takes.
const NEW_ORDER_PARAMS: [&str; 19] = [
    "symbol",
    "side",
    "positionSide",
    "type",
    "timeInForce",
    "quantity",
    "reduceOnly",
    "price",
    "newClientOrderId",
    "stopPrice",
    "closePosition",
    "activationPrice",
    "callbackRate",
    "workingType",
    "priceProtect",
    "newOrderRespType",
    "priceMatch",
    "selfTradePreventionMode",
    "goodTillDate",
];

/// Maps a market refusal onto USD-M's codes.
fn submit_error(inst: &qt_core::Instrument, e: OrderReject) -> BinanceError {
    match e {
        OrderReject::Reason(RejectReason::PriceFilter) => BinanceError::PriceNotOnTick,
        OrderReject::Reason(RejectReason::LotSize) => BinanceError::QtyNotOnStep,
        OrderReject::Reason(RejectReason::MinNotional) => BinanceError::NotionalTooSmall(
            inst.min_notional().to_text(qt_core::decimal::DecimalStyle::Trimmed).to_string(),
        ),
        OrderReject::Reason(RejectReason::WouldTakeLiquidity) => BinanceError::PostOnlyRejected,
        OrderReject::Reason(RejectReason::FokUnfillable) => BinanceError::FokRejected,
        OrderReject::Reason(RejectReason::InsufficientBalance) | OrderReject::InsufficientBalance => {
            BinanceError::MarginInsufficient
        }
        OrderReject::ReduceOnly => BinanceError::ReduceOnlyRejected,
        OrderReject::DuplicateClientOrderId => BinanceError::NewOrderRejected("Duplicate order sent."),
        OrderReject::UnknownSymbol | OrderReject::Reason(RejectReason::UnknownInstrument) => {
            BinanceError::InvalidSymbol
        }
        // A market order into an empty side, or an arithmetic limit of the engine.
        _ => BinanceError::NewOrderRejected("Order book liquidity is less than symbol minimum quantity."),
    }
}

/// A boolean parameter sent as `"true"`/`"false"` (absent: false).
fn flag(p: &Params, name: &'static str) -> Result<bool, BinanceError> {
    match p.get(name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(BinanceError::InvalidParamData(name)),
    }
}

impl BinanceUsdm {
    pub(super) fn new_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&NEW_ORDER_PARAMS))?;
        let market = &ctx.market;
        let (symbol, inst) = usdm_symbol(market, p.required("symbol")?)?;
        let side = side_param(p)?;
        if p.get("positionSide").is_some_and(|s| s != "BOTH") {
            return Err(BinanceError::PositionSideMismatch);
        }
        let order_type = match p.required("type")? {
            "LIMIT" => OrderType::Limit,
            "MARKET" => OrderType::Market,
            "STOP" | "STOP_MARKET" | "TAKE_PROFIT" | "TAKE_PROFIT_MARKET" | "TRAILING_STOP_MARKET" => {
                return Err(BinanceError::ParamNotRequired("type"));
            }
            _ => return Err(BinanceError::InvalidOrderType),
        };
        for unsupported in
            ["stopPrice", "closePosition", "activationPrice", "callbackRate", "priceMatch", "goodTillDate"]
        {
            if p.get(unsupported).is_some() {
                return Err(BinanceError::ParamNotRequired(unsupported));
            }
        }
        let tif = match order_type {
            // The engine fills what the book has and expires the rest, as a market order does.
            OrderType::Market => {
                if p.get("price").is_some() {
                    return Err(BinanceError::ParamNotRequired("price"));
                }
                TimeInForce::Ioc
            }
            OrderType::Limit => match p.required("timeInForce")? {
                "GTC" => TimeInForce::Gtc,
                "IOC" => TimeInForce::Ioc,
                "FOK" => TimeInForce::Fok,
                "GTX" => TimeInForce::PostOnly,
                _ => return Err(BinanceError::InvalidTimeInForce),
            },
        };
        let reduce_only = flag(p, "reduceOnly")?;
        flag(p, "priceProtect")?;
        let result = match p.get("newOrderRespType") {
            None | Some("ACK") => false,
            Some("RESULT") => true,
            Some(_) => return Err(BinanceError::InvalidParamData("newOrderRespType")),
        };
        let client_order_id = new_client_order_id(p)?;
        let price = match order_type {
            OrderType::Limit => match decimal_param("price", p.required("price")?, |t| inst.parse_price(t))? {
                Some(price) => Some(price),
                None => return Err(BinanceError::PriceNotOnTick),
            },
            OrderType::Market => None,
        };
        let qty = match decimal_param("quantity", p.required("quantity")?, |t| inst.parse_qty(t))? {
            Some(qty) => qty,
            None => return Err(BinanceError::QtyNotOnStep),
        };
        let request = ClientOrderRequest { client_order_id, side, order_type, tif, price, qty };
        let outcome = market.submit_with(account, symbol, request, reduce_only);
        std::thread::sleep(ctx.faults.ack_latency());
        let OrderOutcome { order, .. } = outcome.map_err(|e| submit_error(inst, e))?;
        if reduce_only {
            self.remember_reduce_only(account, symbol, order.venue_order_id);
        }
        if result {
            return Ok(order_json(inst, &order, reduce_only, false));
        }
        // ACK: the order as it was accepted, before it matched.
        let mut accepted = order.clone();
        accepted.cum_qty = qt_core::Qty::ZERO;
        accepted.cum_quote = qt_core::Notional::ZERO;
        accepted.status = crate::market::OrderStatus::New;
        accepted.updated = accepted.created;
        Ok(order_json(inst, &accepted, reduce_only, false))
    }

    pub(super) fn cancel_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol", "orderId", "origClientOrderId"]))?;
        let (symbol, inst) = usdm_symbol(&ctx.market, p.required("symbol")?)?;
        let r = order_ref(p)?;
        let result = ctx.market.cancel(account, symbol, &r);
        std::thread::sleep(ctx.faults.ack_latency());
        let view = result.map_err(|_| BinanceError::CancelRejected("Unknown order sent."))?;
        Ok(order_json(inst, &view, self.is_reduce_only(account, symbol, view.venue_order_id), false))
    }

    pub(super) fn cancel_all(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol"]))?;
        let (symbol, _) = usdm_symbol(&ctx.market, p.required("symbol")?)?;
        ctx.market.cancel_all(account, Some(symbol));
        std::thread::sleep(ctx.faults.ack_latency());
        Ok(json!({ "code": 200, "msg": "The operation of cancel all open order is done." }))
    }

    pub(super) fn query_order(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol", "orderId", "origClientOrderId"]))?;
        let (symbol, inst) = usdm_symbol(&ctx.market, p.required("symbol")?)?;
        let r = order_ref(p)?;
        let order = ctx.market.order(account, symbol, &r).ok_or(BinanceError::NoSuchOrder)?;
        Ok(order_json(inst, &order, self.is_reduce_only(account, symbol, order.venue_order_id), true))
    }

    pub(super) fn open_orders(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol"]))?;
        let market = &ctx.market;
        let symbol = p.get("symbol").map(|s| usdm_symbol(market, s).map(|(i, _)| i)).transpose()?;
        let linear = |i: usize| market.instruments().get(i).is_some_and(super::private_wire::is_usdm);
        let orders = market.open_orders(account, symbol);
        Ok(Value::Array(
            orders
                .iter()
                .filter(|o| linear(o.symbol))
                .map(|o| {
                    let ro = self.is_reduce_only(account, o.symbol, o.venue_order_id);
                    order_json(&market.instruments()[o.symbol], o, ro, true)
                })
                .collect(),
        ))
    }
}
