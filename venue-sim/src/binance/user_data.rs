//! Binance spot's user data: the listen key endpoints (`POST`/`PUT`/`DELETE
//! /api/v3/userDataStream`) and the `executionReport` a listen-key stream carries.

use super::errors::BinanceError;
use super::params::{Params, api_key};
use super::wire::{amount_text, rests, side_text, status_text, tif_text, type_text};
use super::{BinanceSpot, STP_MODE};
use crate::kit::decimal_text::{ms, price_text, qty_text};
use crate::market::{ExecKind, Market, OrderStatus, OrderView};
use crate::protocol::{Ctx, HttpRequest};
use qt_core::{AccountId, Nanos, Notional, Price, Qty};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

impl BinanceSpot {
    pub(super) fn listen_key_start(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, secret) = api_key(ctx, req)?;
        p.only(&[])?;
        Ok(json!({ "listenKey": self.listen_keys.start(account, &secret, ctx.market.now_ms()) }))
    }

    pub(super) fn listen_key_keepalive(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, _) = api_key(ctx, req)?;
        p.only(&["listenKey"])?;
        if !self.listen_keys.keepalive(p.required("listenKey")?, account, ctx.market.now_ms()) {
            return Err(BinanceError::InvalidListenKey);
        }
        Ok(json!({}))
    }

    pub(super) fn listen_key_close(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, _) = api_key(ctx, req)?;
        p.only(&["listenKey"])?;
        if !self.listen_keys.close(p.required("listenKey")?, account, ctx.market.now_ms()) {
            return Err(BinanceError::InvalidListenKey);
        }
        Ok(json!({}))
    }

    /// The account of a live listen key.
    pub(super) fn listen_key_account(&self, key: &str, now_ms: i64) -> Option<AccountId> {
        self.listen_keys.account_of(key, now_ms)
    }

    /// An `executionReport` for one order event.
    pub(super) fn execution_report(
        &self,
        market: &Market,
        exec: &ExecKind,
        order: &OrderView,
        account: AccountId,
    ) -> Option<Value> {
        let inst = market.instruments().get(order.symbol)?;
        // New, canceled and expired reports carry no fill: trade id -1 and zero last quantities.
        let no_fill = |x: &'static str, at: Nanos| {
            let none: Option<Notional> = None;
            (
                x,
                -1i64,
                qty_text(inst, Qty::ZERO),
                price_text(inst, Price::ZERO),
                amount_text(Notional::ZERO),
                none,
                false,
                at,
            )
        };
        let (x, t, l, last_px, last_quote, fee, maker, tx_time) = match exec {
            ExecKind::New => no_fill("NEW", order.created),
            ExecKind::Trade(f) => {
                let quote = inst.notional(f.price, f.qty, qt_core::Rounding::Nearest).unwrap_or(Notional::ZERO);
                let id = i64::try_from(f.trade_id).unwrap_or(i64::MAX);
                (
                    "TRADE",
                    id,
                    qty_text(inst, f.qty),
                    price_text(inst, f.price),
                    amount_text(quote),
                    Some(f.fee),
                    f.is_maker,
                    f.ts,
                )
            }
            ExecKind::Canceled => no_fill("CANCELED", order.updated),
            ExecKind::Expired => no_fill("EXPIRED", order.updated),
        };
        let (c, orig_c) = match exec {
            ExecKind::Canceled => match self.cancel_id_of(account, order.symbol, order.venue_order_id) {
                Some(cancel_id) => (cancel_id, order.client_order_id.clone()),
                None => (order.client_order_id.clone(), String::new()),
            },
            _ => (order.client_order_id.clone(), String::new()),
        };
        let on_book = rests(order) && matches!(order.status, OrderStatus::New | OrderStatus::PartiallyFilled);
        let mut v = json!({
            "e": "executionReport",
            "E": market.now_ms(),
            "s": inst.symbol(),
            "c": c,
            "S": side_text(order.side),
            "o": type_text(order),
            "f": tif_text(order),
            "q": qty_text(inst, order.qty),
            "p": price_text(inst, order.price),
            "P": price_text(inst, Price::ZERO),
            "F": qty_text(inst, Qty::ZERO),
            "g": -1,
            "C": orig_c,
            "x": x,
            "X": status_text(order.status),
            "r": "NONE",
            "i": order.venue_order_id,
            "l": l,
            "z": qty_text(inst, order.cum_qty),
            "L": last_px,
            "n": fee.map_or_else(|| "0".to_string(), amount_text),
            "N": if fee.is_some() { Value::from(inst.quote()) } else { Value::Null },
            "T": ms(tx_time),
            "t": t,
            "I": self.execution_ids.fetch_add(1, Ordering::Relaxed),
            "w": on_book,
            "m": maker,
            "M": false,
            "O": ms(order.created),
            "Z": amount_text(order.cum_quote),
            "Y": last_quote,
            "Q": amount_text(Notional::ZERO),
            "V": STP_MODE,
        });
        // "Working Time; This is only visible if the order has been placed on the book."
        if rests(order)
            && let Some(obj) = v.as_object_mut()
        {
            obj.insert("W".into(), Value::from(ms(order.created)));
        }
        Some(v)
    }
}
