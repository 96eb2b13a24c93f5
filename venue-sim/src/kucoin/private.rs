//! The private topic `/spotMarket/tradeOrdersV2` of a session opened with a
//! `POST /api/v1/bullet-private` token: the account's order events as `orderChange` pushes.
//!
//! Facts (`NOTES-orders.md` §4; `testdata/kucoin/orders/ws_trade_orders_v2_open.json`,
//! `order_update.json`): subscribe `{"id","type":"subscribe","topic":"/spotMarket/tradeOrdersV2",
//! "privateChannel":true,"response":true}` → `ack`; each push
//! `{"topic","type":"message","subject":"orderChange","userId","channelType":"private","data"}`.
//! One push per market event: accepted → `open`, a fill → `match` (then `filled` when it
//! completed the order), a cancel or an expired remainder → `canceled`. A public-token session
//! subscribing to it gets an `error` (code 404, as for an unknown topic; a guess).

use super::order_doc::{Change, push_data};
use crate::market::{AccountEvent, ExecKind, OrderStatus};
use crate::protocol::Ctx;
use crossbeam_channel::Receiver;
use qt_core::AccountId;
use serde_json::json;
use std::sync::Arc;

/// The private topic.
pub const TRADE_ORDERS_TOPIC: &str = "/spotMarket/tradeOrdersV2";

/// A private session's order topic.
#[derive(Debug)]
pub(super) struct OrdersTopic {
    account: AccountId,
    rx: Option<Receiver<Arc<AccountEvent>>>,
}

impl OrdersTopic {
    pub(super) fn new(account: AccountId) -> Self {
        Self { account, rx: None }
    }

    /// Turns the topic on or off.
    pub(super) fn set(&mut self, ctx: &Ctx, on: bool) {
        self.rx = if on { self.rx.take().or_else(|| ctx.market.subscribe_account(self.account)) } else { None };
    }

    /// Appends the pushes of the account's new events to `out`; `false` if the market dropped
    /// the subscription.
    pub(super) fn pump(&mut self, ctx: &Ctx, out: &mut Vec<String>) -> bool {
        let Some(events) = crate::kit::session::drain(self.rx.as_ref()) else { return false };
        for ev in events {
            let AccountEvent::Order { exec, order } = ev.as_ref() else { continue };
            let Some(inst) = ctx.market.instruments().get(order.symbol) else { continue };
            let mut changes = Vec::with_capacity(2);
            match exec {
                ExecKind::New => changes.push(Change::Open),
                ExecKind::Trade(f) => {
                    changes.push(Change::Match(f));
                    if order.status == OrderStatus::Filled {
                        changes.push(Change::Filled);
                    }
                }
                ExecKind::Canceled | ExecKind::Expired => changes.push(Change::Canceled),
            }
            for c in changes {
                let m = json!({
                    "topic": TRADE_ORDERS_TOPIC, "type": "message", "subject": "orderChange",
                    "userId": self.account.index().to_string(), "channelType": "private",
                    "data": push_data(inst, order, c),
                });
                out.push(m.to_string());
            }
        }
        true
    }
}
