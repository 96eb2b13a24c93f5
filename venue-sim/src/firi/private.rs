//! Firi's private REST endpoints over the shared market, signed (`auth.rs`), with the documents
//! of `docs.rs` and the refusals of `errors.rs`.
//!
//! Paths \[third-party wrappers listing developers.firi.com's paths, `NOTES-orders.md` §6\]:
//! - `POST /v2/orders` — place a limit order → `{"id":n}`.
//! - `GET /v2/orders`, `GET /v2/orders/{market}` — the active orders, oldest first.
//! - `GET /v2/orders/history`, `GET /v2/orders/{market}/history` (and the
//!   `/v2/history/orders[/{market}]` spelling another wrapper lists) — the account's recent
//!   orders that are no longer active, newest first, `?count=N` (default 100).
//! - `GET /v2/order/{id}` — one order, active or recent.
//! - `DELETE /v2/orders/{id}/detailed`, `DELETE /v2/orders/{id}/{market}/detailed` — cancel one,
//!   answering the order after the cancel (\[RECALL\] "returns details"; the order document is
//!   our guess).
//! - `DELETE /v2/orders` — cancel all; `DELETE /v2/orders/{market}` — cancel all of a market;
//!   both answer the orders cancelled (ours: the docs give no body).
//! - `GET /v2/history/trades` — the account's fills, newest first, `?count=N` (default 100).
//! - `GET /v2/balances` — every currency.
//!
//! Faults: `ack_latency` delays the answers of place and cancel; `malformed_account_frames`
//! cuts the body of an order or fill query (Firi has no private stream, so its private
//! messages are these bodies); REST failures and outages are the server's.
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use super::FiriPublic;
use super::auth::authenticate;
use super::docs;
use super::errors::FiriError;
use crate::market::{Market, OrderRef, OrderStatus, OrderView};
use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use qt_core::AccountId;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Items a history query answers when it names no `count`.
const DEFAULT_COUNT: usize = 100;
/// Orders [`Placed`] remembers for the history endpoints.
const PLACED_KEPT: usize = 10_000;
/// What a malformed-account-frame fault answers instead of a query's body (cut inside it).
const MALFORMED: &[u8] = b"[{\"id\":1,\"market\":";

/// What a private request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Call<'a> {
    Place,
    Active(Option<&'a str>),
    History(Option<&'a str>),
    Order(&'a str),
    CancelOne(&'a str),
    CancelAll(Option<&'a str>),
    Trades,
    Balances,
}

/// The private call `method path` names, `None` for a public (or unknown) path.
pub(super) fn call<'a>(method: &str, path: &'a str) -> Option<Call<'a>> {
    let parts: Vec<&str> = path.strip_prefix("/v2/")?.split('/').collect();
    Some(match (method, parts.as_slice()) {
        ("POST", ["orders"]) => Call::Place,
        ("GET", ["orders"]) => Call::Active(None),
        ("GET", ["orders", "history"] | ["history", "orders"]) => Call::History(None),
        ("GET", ["orders", m, "history"] | ["history", "orders", m]) => Call::History(Some(m)),
        ("GET", ["orders", m]) => Call::Active(Some(m)),
        ("GET", ["order", id]) => Call::Order(id),
        ("DELETE", ["orders"]) => Call::CancelAll(None),
        ("DELETE", ["orders", id, "detailed"] | ["orders", id, _, "detailed"]) => Call::CancelOne(id),
        ("DELETE", ["orders", m]) => Call::CancelAll(Some(m)),
        ("GET", ["history", "trades"]) => Call::Trades,
        ("GET", ["balances"]) => Call::Balances,
        _ => return None,
    })
}

fn ok(v: &Value) -> HttpResponse {
    HttpResponse::json(200, v)
}

fn market_index(market: &Market, name: &str) -> Result<usize, FiriError> {
    market.symbol_index(name).ok_or_else(|| FiriError::NotFound(format!("market {name} does not exist")))
}

fn count(query: &str) -> Result<usize, FiriError> {
    match query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == "count") {
        None => Ok(DEFAULT_COUNT),
        Some((_, v)) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| FiriError::BadRequest("count".into())),
    }
}

fn docs_of(market: &Market, orders: &[OrderView]) -> Value {
    Value::Array(orders.iter().filter_map(|v| Some(docs::order(market.instruments().get(v.symbol)?, v))).collect())
}

/// The account's order with venue id `id` (open or recent), on any market.
fn find(market: &Market, account: AccountId, id: &str) -> Result<OrderView, FiriError> {
    let not_found = || FiriError::NotFound(format!("order {id} does not exist"));
    let id: u64 = id.parse().map_err(|_| not_found())?;
    (0..market.instruments().len()).find_map(|i| market.order(account, i, &OrderRef::Venue(id))).ok_or_else(not_found)
}

/// The orders placed through this protocol, newest last, at most [`PLACED_KEPT`]: what the
/// history endpoints list (the market answers for one order, not for an account's past ones).
#[derive(Debug, Default)]
pub(super) struct Placed {
    orders: Mutex<VecDeque<(AccountId, usize, u64)>>,
}

impl Placed {
    fn add(&self, account: AccountId, v: &OrderView) {
        let mut q = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        if q.len() == PLACED_KEPT {
            q.pop_front();
        }
        q.push_back((account, v.symbol, v.venue_order_id));
    }

    /// The account's placed orders no longer active (on one market or all), newest first.
    fn history(&self, market: &Market, account: AccountId, symbol: Option<usize>, n: usize) -> Vec<OrderView> {
        let mine: Vec<(usize, u64)> = {
            let q = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
            q.iter()
                .filter(|(a, s, _)| *a == account && symbol.is_none_or(|x| x == *s))
                .map(|(_, s, id)| (*s, *id))
                .collect()
        };
        let mut done: Vec<OrderView> = mine
            .into_iter()
            .filter_map(|(s, id)| market.order(account, s, &OrderRef::Venue(id)))
            .filter(|v| !matches!(v.status, OrderStatus::New | OrderStatus::PartiallyFilled))
            .collect();
        done.sort_by_key(|v| std::cmp::Reverse((v.updated, v.venue_order_id)));
        done.truncate(n);
        done
    }
}

impl FiriPublic {
    /// Answers a private call.
    pub(super) fn private(&self, ctx: &Ctx, req: &HttpRequest, call: Call<'_>) -> HttpResponse {
        let account = match authenticate(ctx, req) {
            Ok(a) => a,
            Err(e) => return e.into_response(),
        };
        let acks = matches!(call, Call::Place | Call::CancelOne(_) | Call::CancelAll(_));
        let queried = matches!(call, Call::Active(_) | Call::History(_) | Call::Order(_) | Call::Trades);
        let answer = self.answer(ctx, req, account, call);
        if acks {
            let delay = ctx.faults.ack_latency();
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
        match answer {
            Ok(_) if queried && ctx.faults.take_malformed_account_frame() => {
                HttpResponse { body: MALFORMED.to_vec(), ..ok(&Value::Null) }
            }
            Ok(v) => ok(&v),
            Err(e) => e.into_response(),
        }
    }

    fn answer(&self, ctx: &Ctx, req: &HttpRequest, account: AccountId, call: Call<'_>) -> Result<Value, FiriError> {
        let market = &ctx.market;
        match call {
            Call::Place => {
                let (idx, _, order) = docs::read_order(market, &req.body)?;
                let out = market.submit(account, idx, order).map_err(|e| FiriError::of_reject(&e))?;
                self.placed.add(account, &out.order);
                Ok(serde_json::json!({ "id": out.order.venue_order_id }))
            }
            Call::Active(m) => {
                let symbol = m.map(|m| market_index(market, m)).transpose()?;
                Ok(docs_of(market, &market.open_orders(account, symbol)))
            }
            Call::History(m) => {
                let symbol = m.map(|m| market_index(market, m)).transpose()?;
                Ok(docs_of(market, &self.placed.history(market, account, symbol, count(&req.query)?)))
            }
            Call::Order(id) => {
                let v = find(market, account, id)?;
                let inst = market.instruments().get(v.symbol).ok_or_else(|| FiriError::NotFound(id.into()))?;
                Ok(docs::order(inst, &v))
            }
            Call::CancelOne(id) => {
                let v = find(market, account, id)?;
                let after = market
                    .cancel(account, v.symbol, &OrderRef::Venue(v.venue_order_id))
                    .map_err(|e| FiriError::of_reject(&e))?;
                let inst = market.instruments().get(v.symbol).ok_or_else(|| FiriError::NotFound(id.into()))?;
                Ok(docs::order(inst, &after))
            }
            Call::CancelAll(m) => {
                let symbol = m.map(|m| market_index(market, m)).transpose()?;
                let gone = market.cancel_all(account, symbol);
                Ok(docs_of(market, &gone))
            }
            Call::Trades => {
                let n = count(&req.query)?;
                let mut all = Vec::new();
                for idx in 0..market.instruments().len() {
                    all.extend(market.account_trades(account, idx).into_iter().map(|t| (idx, t)));
                }
                all.sort_by_key(|(_, t)| std::cmp::Reverse((t.fill.ts, t.fill.trade_id)));
                let list = all
                    .iter()
                    .take(n)
                    .filter_map(|(idx, t)| Some(docs::fill(market.instruments().get(*idx)?, t)))
                    .collect();
                Ok(Value::Array(list))
            }
            Call::Balances => Ok(Value::Array(market.balances(account).iter().map(docs::balance).collect())),
        }
    }
}
