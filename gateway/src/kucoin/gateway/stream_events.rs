//! The private stream's side of the gateway thread: each `/spotMarket/tradeOrdersV2`
//! `orderChange` push ([`crate::kucoin::order_change`]) moves its order — `open` shows it
//! working, `match` is a trade, `filled` / `canceled` end it — and the fills they report are
//! booked with their real fees, which only `GET /api/v1/hf/fills` gives (the push has none).
//!
//! A `match` push's trade is booked from the order's fills list: the listed trades up to and
//! including the pushed one that were not booked yet (earlier ones the stream missed), each
//! with its own id, price, size and fee; later listed trades wait for their own pushes, so a
//! push seen twice is a duplicate (counted) and never a second fill. A trade not listed yet is
//! queried shortly. A `filled` / `canceled` push that shows more filled than was booked has the
//! missing trades listed first; if they cannot be had the order is queried (its cumulative fee
//! then books the rest) rather than closed without fees. A frame that cannot be read schedules a
//! query of the account's live orders; a reconnect reconciles them before the account's next
//! order.
//!
//! Runs on the gateway thread; allocates per frame (JSON) and per fills list; never panics on a
//! frame.

use super::{FILLS_PATH, Gateway};
use crate::kit::order_state::{
    ORDER_GAP_QUERY_DELAY, QueryReason, ReportsClosed, TradeCheck, TradeId, VenueFigures, VenueState,
};
use crate::kit::rest_link::{Req, SignedRest};
use crate::kucoin::limits;
use crate::kucoin::order_change::{self, ChangeKind, OrderChange};
use crate::kucoin::orders::{FillRow, parse_fills};
use crate::kucoin::rest::{envelope, venue_order_id};
use qt_core::{ClientOrderId, Liquidity, Nanos, Notional, OrderId, Qty, RejectReason, Rounding, TimeInForce};
use std::time::Duration;

/// The trade-id key of a KuCoin trade id (decimal in HF; any text otherwise).
fn trade_key(id: &str) -> TradeId {
    id.parse::<i64>().map_or_else(|_| TradeId::Text(id.into()), TradeId::Num)
}

fn ms_nanos(ms: i64) -> Nanos {
    Nanos(ms.saturating_mul(1_000_000))
}

impl Gateway {
    pub(crate) fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        let Some(change) = order_change::parse(text) else {
            self.core.malformed("kucoin", acct, "not an orderChange of /spotMarket/tradeOrdersV2", text);
            return Ok(());
        };
        let Some((order_id, idx)) = self.live_order(acct, &change, text) else { return Ok(()) };
        if !change.order_id.is_empty() {
            self.kucoin_ids.insert(order_id, change.order_id.clone());
        }
        let result = self.on_change(acct, order_id, idx, &change, text);
        self.tidy(order_id);
        result
    }

    /// This run's live order named by the push's `clientOid` on account `acct`, with its
    /// instrument index; `None` (counted or logged) otherwise.
    fn live_order(&mut self, acct: usize, c: &OrderChange, text: &str) -> Option<(OrderId, usize)> {
        let (run, order_id) = ClientOrderId::parse(&c.client_oid)?;
        if run != self.core.run_id {
            log::debug!("kucoin gateway: event of run {run:08x}'s order {order_id} ignored");
            return None;
        }
        let Some(order) = self.core.state.get(&order_id) else {
            self.core.state.stats.unknown_order_events += 1;
            return None;
        };
        let idx = *self.by_id.get(&order.request.instrument)?;
        let account_ok = self.core.account_id(acct) == Some(order.request.account);
        if !account_ok || self.by_symbol.get(&c.symbol) != Some(&idx) {
            self.core.malformed("kucoin", acct, "symbol or account does not match the order", text);
            return None;
        }
        Some((order_id, idx))
    }

    fn on_change(
        &mut self,
        acct: usize,
        order_id: OrderId,
        idx: usize,
        c: &OrderChange,
        text: &str,
    ) -> Result<(), ReportsClosed> {
        let inst = &self.instruments[idx];
        let cum = match inst.parse_qty(&c.filled_size) {
            Ok(q) => q,
            Err(e) => {
                self.core.malformed("kucoin", acct, &format!("filledSize: {e}"), text);
                return Ok(());
            }
        };
        let ts = Nanos(c.ts_ns);
        let venue_id = venue_order_id(&c.order_id);
        match c.kind {
            // The venue has it, not yet in the book: the ack said as much.
            ChangeKind::Received => Ok(()),
            // A size change (a partial cancel, self-trade prevention): the terminal push says
            // how it ended.
            ChangeKind::Update => Ok(()),
            ChangeKind::Open => self.core.state.ensure_accepted(order_id, venue_id, ts),
            ChangeKind::Match => {
                let Some(fill) = &c.fill else { return Ok(()) };
                self.core.state.ensure_accepted(order_id, venue_id, ts)?;
                let key = trade_key(&fill.trade_id);
                let seen =
                    self.core.state.get(&order_id).is_some_and(|o| o.trade_ids.contains(&key) || cum <= o.cum_qty);
                if seen {
                    self.core.state.stats.duplicate_fills += 1;
                    return Ok(());
                }
                match self.book_listed(acct, order_id, idx, Some((&fill.trade_id, cum)))? {
                    Listed::Booked => Ok(()),
                    Listed::NotYet | Listed::Unavailable => {
                        self.core.state.schedule(order_id, QueryReason::Gap, ORDER_GAP_QUERY_DELAY);
                        Ok(())
                    }
                }
            }
            ChangeKind::Filled | ChangeKind::Canceled => {
                let behind = |g: &Self| g.core.state.get(&order_id).is_some_and(|o| cum > o.cum_qty);
                if behind(self) {
                    self.book_listed(acct, order_id, idx, None)?;
                    if behind(self) {
                        // Trades the list does not give: the query's cumulative fee books them.
                        self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
                        return Ok(());
                    }
                }
                let state = if c.kind == ChangeKind::Filled {
                    VenueState::Filled
                } else {
                    VenueState::Closed { refused: self.refused_unseen(order_id) }
                };
                let figures = VenueFigures { venue_order_id: venue_id, cum, value: None, fee: None, ts };
                self.core.state.apply_venue_state(order_id, &self.instruments[idx], state, figures, false, "kucoin")
            }
        }
    }

    /// Why the venue closed `order_id` if it did so before ever showing it working: a post-only
    /// order that would have taken, an FOK that could not fill (KuCoin's async ack accepts
    /// both before the matcher sees them). `None` for any other order.
    pub(super) fn refused_unseen(&self, order_id: OrderId) -> Option<RejectReason> {
        match self.core.state.get(&order_id).map(|o| o.request.tif) {
            Some(TimeInForce::PostOnly) => Some(RejectReason::WouldTakeLiquidity),
            Some(TimeInForce::Fok) => Some(RejectReason::FokUnfillable),
            _ => None,
        }
    }

    /// Lists `order_id`'s trades (`GET /api/v1/hf/fills?symbol=&orderId=`) and books, oldest
    /// first, those not booked yet: up to and including trade `upto` (its id, and the order's
    /// cumulative filled size after it, from the push) when given, else all.
    #[cold]
    pub(super) fn book_listed(
        &mut self,
        acct: usize,
        order_id: OrderId,
        idx: usize,
        upto: Option<(&str, Qty)>,
    ) -> Result<Listed, ReportsClosed> {
        let Some(kucoin_id) = self.kucoin_ids.get(&order_id).cloned() else { return Ok(Listed::Unavailable) };
        let query = format!("symbol={}&orderId={kucoin_id}&limit=100", self.instruments[idx].symbol());
        let req = Req { method: "GET", path: FILLS_PATH, query: &query, body: "", cost: limits::QUERY };
        self.core.state.stats.trade_queries += 1;
        let Ok(resp) = self.signed(acct, req) else { return Ok(Listed::Unavailable) };
        let Some(env) = envelope(&resp).filter(|e| resp.status == 200 && e.is_ok()) else {
            log::warn!("kucoin gateway: fills of order {order_id}: HTTP {}: {}", resp.status, resp.body_excerpt());
            return Ok(Listed::Unavailable);
        };
        let mut rows = match parse_fills(&env.data) {
            Ok(rows) => rows,
            Err(what) => {
                self.core.state.stats.malformed += 1;
                log::warn!("kucoin gateway: fills of order {order_id}: {what}");
                return Ok(Listed::Unavailable);
            }
        };
        rows.retain(|r| r.order_id == kucoin_id);
        // Newest first on the wire.
        rows.sort_by_key(|r| (r.time_ms, r.trade_id.parse::<i64>().unwrap_or(0)));
        let end = match upto {
            Some((id, _)) => match rows.iter().position(|r| r.trade_id == id) {
                Some(i) => i + 1,
                None => return Ok(Listed::NotYet),
            },
            None => rows.len(),
        };
        for (i, row) in rows[..end].iter().enumerate() {
            let cum = upto.filter(|_| i + 1 == end).map(|(_, cum)| cum);
            match self.book_trade(order_id, idx, row, cum) {
                Ok(r) => r?,
                Err(what) => {
                    self.core.state.stats.malformed += 1;
                    log::warn!("kucoin gateway: fills of order {order_id}: {what}");
                    return Ok(Listed::Unavailable);
                }
            }
        }
        Ok(Listed::Booked)
    }

    /// Reports one listed trade of `order_id` unless it was booked already (its `tradeId`,
    /// or a cumulative `cum` not beyond what was reported); `cum` unknown: the trade adds to
    /// what was reported. An unreadable trade is an error naming the field.
    pub(super) fn book_trade(
        &mut self,
        order_id: OrderId,
        idx: usize,
        row: &FillRow,
        cum: Option<Qty>,
    ) -> Result<Result<(), ReportsClosed>, String> {
        let inst = &self.instruments[idx];
        let l = inst.parse_qty(&row.size).map_err(|e| format!("size {:?}: {e}", row.size))?;
        let px = inst.parse_price(&row.price).map_err(|e| format!("price {:?}: {e}", row.price))?;
        if !l.is_positive() || !px.is_positive() {
            return Err(format!("size {} / price {} out of range", row.size, row.price));
        }
        let fee_in_quote = row.fee_currency == inst.quote();
        let quote = inst.notional(px, l, Rounding::Nearest).unwrap_or(Notional::ZERO);
        let Some(o) = self.core.state.get_mut(&order_id) else { return Ok(Ok(())) };
        let key = trade_key(&row.trade_id);
        if cum.is_none() && o.trade_ids.contains(&key) {
            // Listed again: booked from an earlier list or push.
            return Ok(Ok(()));
        }
        let cum = cum.unwrap_or_else(|| o.cum_qty.checked_add(l).unwrap_or(l));
        match o.check_trade(Some(key), l, cum) {
            TradeCheck::Duplicate => return Ok(Ok(())),
            TradeCheck::New { .. } => {}
        }
        if !fee_in_quote && !row.fee.is_zero() {
            self.core.state.stats.fees_not_in_quote += 1;
        }
        let liquidity = if row.maker { Liquidity::Maker } else { Liquidity::Taker };
        let fee = if fee_in_quote { row.fee } else { Notional::ZERO };
        Ok(self.core.state.fill(order_id, px, l, fee, liquidity, ms_nanos(row.time_ms), quote))
    }
}

/// What a fills list gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listed {
    /// The trades asked for are booked.
    Booked,
    /// The list does not show the pushed trade yet.
    NotYet,
    /// No list (a failed request, an unreadable answer, no KuCoin order id known).
    Unavailable,
}
