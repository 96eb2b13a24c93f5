//! Binance USD-M's user data stream: one session per connection to a listen key
//! (`/ws/<listenKey>`, `/private/ws/<listenKey>`, or combined `/stream?streams=<listenKey>`),
//! carrying the account's `ORDER_TRADE_UPDATE` (every order event on a USD-M contract) and
//! `ACCOUNT_UPDATE` (reason `ORDER` after each fill, with the margin balance and the position;
//! `FUNDING_FEE` after funding, balance only), then `listenKeyExpired` (its `E` a string, as the
//! docs' sample prints it) and a close when the key lapses or is deleted.
//!
//! Faults: a dropped or outaged venue drops the session; a stall holds events back (they queue
//! in the market's subscription); malformed and truncated frames, and malformed account frames,
//! replace or cut the next message. The session checks the funding clock as it polls.
//!
//! Runs on its connection thread for the session's life; allocates per message.

use super::private_wire::{account_update, is_usdm, is_usdm_order, order_trade_update};
use super::{BinanceUsdm, PING_EVERY, WS_POLL};
use crate::kit::combined_streams::wrap_payload;
use crate::market::{AccountEvent, PositionReason};
use crate::protocol::{Ctx, WsIncoming, WsSession};
use crate::stream::{SessionGuard, send_data};
use crossbeam_channel::TryRecvError;
use qt_core::{AccountId, Notional};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How often the session re-checks its listen key.
const KEY_CHECK: Duration = Duration::from_millis(200);
/// What a malformed account frame fault sends instead of the next event.
const MALFORMED: &[u8] = b"{\"e\":\"ORDER_TRADE_UPDATE\",\"E\":,]";

impl BinanceUsdm {
    /// The payload of one account event on a USD-M stream (`None`: not for this stream).
    fn user_event(&self, ctx: &Ctx, account: AccountId, ev: &AccountEvent) -> Option<Value> {
        let market = &ctx.market;
        let now = market.now_ms();
        match ev {
            AccountEvent::Order { exec, order } if is_usdm_order(market, order) => {
                let inst = market.instruments().get(order.symbol)?;
                let realized = match exec {
                    crate::market::ExecKind::Trade(f) => market.trade_realized(account, order.symbol, f.trade_id),
                    _ => None,
                };
                let ro = self.is_reduce_only(account, order.symbol, order.venue_order_id);
                Some(order_trade_update(inst, exec, order, ro, realized.unwrap_or(Notional::ZERO), now))
            }
            AccountEvent::Position { reason, position, balance, .. } => {
                let inst = market.instruments().get(position.symbol).filter(|i| is_usdm(i))?;
                let mark = match reason {
                    PositionReason::Fill { .. } => market.mark_price(position.symbol),
                    PositionReason::Funding { .. } => None,
                };
                Some(account_update(inst, reason, position, balance, mark, now))
            }
            _ => None,
        }
    }

    /// Serves the user data stream of `listen_key` (whose account is `account`) until the client
    /// leaves, the key lapses, a fault drops the session, or the simulator stops.
    pub(super) fn run_user_stream(
        &self,
        ctx: &Ctx,
        (account, listen_key): (AccountId, &str),
        combined: bool,
        ws: &mut dyn WsSession,
    ) {
        let Some(rx) = ctx.market.subscribe_account(account) else { return ws.close(true) };
        let guard = SessionGuard::new(ctx);
        let mut next_check = Instant::now() + KEY_CHECK;
        let mut next_ping = Instant::now() + PING_EVERY;
        let contract = |i: usize| ctx.market.instruments().get(i).is_some_and(is_usdm);
        loop {
            if !guard.keep_serving(ctx, ws) {
                return;
            }
            match ws.recv(WS_POLL) {
                Ok(Some(WsIncoming::Closed)) | Err(_) => return,
                Ok(_) => {}
            }
            self.funding.tick(&ctx.market, contract);
            let now = Instant::now();
            if now >= next_check {
                next_check = now + KEY_CHECK;
                let now_ms = ctx.market.now_ms();
                if self.listen_keys.account_of(listen_key, now_ms).is_none() {
                    let expired = json!({ "e": "listenKeyExpired", "E": now_ms.to_string(), "listenKey": listen_key });
                    let _ = ws.send_text(&wrap_payload(combined, listen_key, &expired.to_string()));
                    return ws.close(true);
                }
            }
            if ctx.faults.ws_stalled() {
                continue;
            }
            loop {
                let ev = match rx.try_recv() {
                    Ok(ev) => ev,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return ws.close(false),
                };
                let Some(payload) = self.user_event(ctx, account, &ev) else { continue };
                let sent = if ctx.faults.take_malformed_account_frame() {
                    ws.send_raw_text(MALFORMED)
                } else {
                    send_data(ws, &ctx.faults, &wrap_payload(combined, listen_key, &payload.to_string()))
                };
                if sent.is_err() {
                    return;
                }
            }
            if now >= next_ping {
                next_ping = now + PING_EVERY;
                if ws.send_ping(ctx.market.now_ms().to_string().as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}
