//! Binance spot's user data: the listen key endpoints (`POST`/`PUT`/`DELETE
//! /api/v3/userDataStream`) and the `executionReport` a listen-key stream carries.

use super::errors::BinanceError;
use super::params::Params;
use super::wire::{amount_text, rests, side_text, status_text, tif_text, type_text};
use super::{BinanceSpot, ListenKey, STP_MODE, lock};
use crate::kit::decimal_text::{ms, price_text, qty_text};
use crate::market::{ExecKind, Market, OrderStatus, OrderView};
use crate::protocol::{Ctx, HttpRequest};
use crate::signing;
use qt_core::{AccountId, Nanos, Notional, Price, Qty};
use qt_core::{Clock as _, WallClock};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

impl BinanceSpot {
    pub(super) fn listen_key_start(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, secret) = self.api_key(ctx, req)?;
        p.only(&[])?;
        let now = ctx.market.now_ms();
        let expires_ms =
            now.saturating_add(i64::try_from(self.limits.listen_key_validity.as_millis()).unwrap_or(i64::MAX));
        let mut keys = lock(&self.listen_keys);
        // "If the account has an active listenKey, that listenKey will be returned and its
        // validity will be extended for 60 minutes."
        if let Some((key, lk)) = keys.iter_mut().find(|(_, lk)| lk.account == account && lk.expires_ms > now) {
            lk.expires_ms = expires_ms;
            return Ok(json!({ "listenKey": key }));
        }
        keys.retain(|_, lk| lk.expires_ms > now);
        let seed = format!("{}:{}:{}", account.0, WallClock.now().0, self.next_sequence());
        let key: String = signing::hmac_sha256_hex(&secret, seed.as_bytes()).chars().take(60).collect();
        keys.insert(key.clone(), ListenKey { account, expires_ms });
        Ok(json!({ "listenKey": key }))
    }

    /// The listen key named by the request, checked to belong to the caller.
    pub(super) fn listen_key_param<'p>(
        &self,
        ctx: &Ctx,
        req: &HttpRequest,
        p: &'p Params,
    ) -> Result<(&'p str, i64), BinanceError> {
        let (account, _) = self.api_key(ctx, req)?;
        p.only(&["listenKey"])?;
        let key = p.required("listenKey")?;
        let now = ctx.market.now_ms();
        let keys = lock(&self.listen_keys);
        match keys.get(key) {
            Some(lk) if lk.account == account && lk.expires_ms > now => Ok((key, now)),
            _ => Err(BinanceError::InvalidListenKey),
        }
    }

    pub(super) fn listen_key_keepalive(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (key, now) = self.listen_key_param(ctx, req, p)?;
        let validity = i64::try_from(self.limits.listen_key_validity.as_millis()).unwrap_or(i64::MAX);
        if let Some(lk) = lock(&self.listen_keys).get_mut(key) {
            lk.expires_ms = now.saturating_add(validity);
        }
        Ok(json!({}))
    }

    pub(super) fn listen_key_close(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (key, _) = self.listen_key_param(ctx, req, p)?;
        lock(&self.listen_keys).remove(key);
        Ok(json!({}))
    }

    /// The account of a live listen key.
    pub(super) fn listen_key_account(&self, key: &str, now_ms: i64) -> Option<AccountId> {
        lock(&self.listen_keys).get(key).filter(|lk| lk.expires_ms > now_ms).map(|lk| lk.account)
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
