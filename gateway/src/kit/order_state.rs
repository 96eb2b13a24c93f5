//! The kit's order state: one record per live order, the reports made from it, fill
//! de-duplication (by trade id and by cumulative quantity), and the reconciliation schedule of
//! orders whose fate (or whose recent events) is unknown.
//!
//! Contract, for every venue:
//! - `Accepted` is reported once, the first time the venue shows the order exists (its answer,
//!   a stream event or a query).
//! - A fill is reported only for quantity beyond what was already reported: a trade id seen
//!   before, or a cumulative quantity not beyond the reported one, is a duplicate and dropped
//!   ([`LiveOrder::check_trade`]); quantity missed before a trade is caught up first.
//! - An order of unknown fate is queried on a schedule ([`OrderState::schedule`],
//!   [`OrderState::retry`]): a failed query backs off exponentially to [`QUERY_BACKOFF_MAX`];
//!   "does not exist" is believed only [`NOT_FOUND_LIMIT`] times [`NOT_FOUND_RETRY`] apart, and
//!   never for an order the venue has already shown. It is never re-sent blindly.
//! - Reports are pushed with [`push_blocking`]: the gateway waits on a full report ring, never
//!   drops a report.
//!
//! Owned by one gateway thread; allocates when an order is added and per trade id kept.

use crate::kit::stats::GatewayStats;
use qt_core::queue::{Producer, push_blocking};
use qt_core::{
    AccountId, Clock as _, ExecutionReport, InstrumentId, Liquidity, Nanos, Notional, OrderId, OrderRequest, Price,
    Qty, ReportKind, Side, VenueId, WallClock,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Gap between the queries that may declare an order unknown to the venue.
pub const NOT_FOUND_RETRY: Duration = Duration::from_millis(300);
/// "Order does not exist" answers needed before an order of unknown fate is declared rejected.
pub const NOT_FOUND_LIMIT: u32 = 2;
/// Longest delay between retries of a failing query.
pub const QUERY_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The report ring's consumer is gone: handling must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReportsClosed;

/// A venue's trade id: a number (Binance `t`) or a text (a UUID, as some venues send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TradeId {
    /// A numeric id.
    Num(i64),
    /// A textual id.
    Text(Box<str>),
}

impl From<i64> for TradeId {
    fn from(id: i64) -> Self {
        TradeId::Num(id)
    }
}

/// The average price of `qty` worth `quote` on `inst`'s price grid (`quote / qty`, rounded to
/// the nearest unit), if positive and representable: what a catch-up fill reports when only an
/// order's cumulative figures are known.
pub(crate) fn average_price(inst: &qt_core::Instrument, quote: Notional, qty: Qty) -> Option<Price> {
    use qt_core::money::{NOTIONAL_SCALE, div_round_i128};
    let scale_gap =
        u32::from(NOTIONAL_SCALE).saturating_sub(u32::from(inst.price_scale()) + u32::from(inst.qty_scale()));
    let den = i128::from(qty.units()).checked_mul(10i128.checked_pow(scale_gap)?)?;
    let p = div_round_i128(quote.units(), den, qt_core::Rounding::Nearest).ok()?;
    i64::try_from(p).ok().map(Price::from_units).filter(|p| p.is_positive())
}

/// Why an order is queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryReason {
    /// A new order got no usable answer: placed or not?
    UnknownFate,
    /// Events may have been missed (stream dropped, malformed frame).
    Gap,
    /// A cancel got no usable answer: cancelled or not?
    CancelUnknown,
}

/// A pending order query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reconcile {
    /// The order.
    pub(crate) order_id: OrderId,
    /// When it is due.
    pub(crate) due: Instant,
    /// Queries made so far.
    pub(crate) attempts: u32,
    /// "Does not exist" answers so far.
    pub(crate) not_found: u32,
    /// Why.
    pub(crate) reason: QueryReason,
}

/// Why an account's new orders are held ([`OrderState::may_send`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Its private stream is down.
    StreamDown,
    /// Its stream is back; its live orders are being queried.
    Reconciling,
}

/// Delay of the query after a push shows more filled than its trades did: the trade events may
/// still be on their way.
pub(crate) const ORDER_GAP_QUERY_DELAY: Duration = Duration::from_millis(300);

/// An order's state as a venue reports it, in the kit's words
/// ([`OrderState::apply_venue_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VenueState {
    /// Working, nothing filled.
    Working,
    /// Working, partly filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Closed (cancelled, expired, refused); `refused`: the venue's refusal of an order it had
    /// acknowledged, when it names one.
    Closed {
        /// Why the venue refused it, if it says.
        refused: Option<qt_core::RejectReason>,
    },
}

/// An order's cumulative figures as a venue reports them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VenueFigures {
    /// The venue's order id (0: not given).
    pub(crate) venue_order_id: u64,
    /// Filled so far.
    pub(crate) cum: Qty,
    /// What the fills were worth, if given.
    pub(crate) value: Option<Notional>,
    /// Fees of the fills in the quote currency, if given.
    pub(crate) fee: Option<Notional>,
    /// The venue's time of the state.
    pub(crate) ts: Nanos,
}

/// A live order.
#[derive(Debug)]
pub(crate) struct LiveOrder {
    /// What the core asked for.
    pub(crate) request: OrderRequest,
    /// The venue's order id (0 until known).
    pub(crate) venue_order_id: u64,
    /// Whether `Accepted` was reported.
    pub(crate) accepted: bool,
    /// Quantity reported filled.
    pub(crate) cum_qty: Qty,
    /// Quote reported filled (Σ price × qty of the fills reported).
    pub(crate) cum_quote: Notional,
    /// Fees reported (Σ of the fills' fees).
    pub(crate) cum_fee: Notional,
    /// Trade ids seen (reported, or found by a query).
    pub(crate) trade_ids: Vec<TradeId>,
}

/// What a trade event adds to an order ([`LiveOrder::check_trade`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TradeCheck {
    /// Seen before (its trade id, or its cumulative quantity is already reported).
    Duplicate,
    /// New. `missed_before`: the order's cumulative quantity before this trade when fills
    /// before it were not reported (to catch up first), else `None`.
    New {
        /// Cumulative quantity to catch up to before reporting this trade.
        missed_before: Option<Qty>,
    },
}

impl LiveOrder {
    /// A new order, nothing known of it at the venue.
    pub(crate) fn new(request: OrderRequest) -> Self {
        Self {
            request,
            venue_order_id: 0,
            accepted: false,
            cum_qty: Qty::ZERO,
            cum_quote: Notional::ZERO,
            cum_fee: Notional::ZERO,
            trade_ids: Vec::new(),
        }
    }

    /// Checks a trade of `last` quantity taking the order to cumulative `cum`, and remembers its
    /// id: a repeated id or a `cum` not beyond what was reported is a duplicate.
    pub(crate) fn check_trade(&mut self, trade_id: Option<TradeId>, last: Qty, cum: Qty) -> TradeCheck {
        if let Some(t) = trade_id {
            if self.trade_ids.contains(&t) {
                return TradeCheck::Duplicate;
            }
            self.trade_ids.push(t);
        }
        if cum <= self.cum_qty {
            // Already reported (a query found it first).
            return TradeCheck::Duplicate;
        }
        let before = cum.checked_sub(last).unwrap_or(Qty::ZERO);
        TradeCheck::New { missed_before: (before > self.cum_qty).then_some(before) }
    }

    /// What is left of the order.
    pub(crate) fn leaves(&self) -> Qty {
        self.request.qty.checked_sub(self.cum_qty).unwrap_or(Qty::ZERO).max(Qty::ZERO)
    }
}

/// The live orders of one gateway, their pending queries, the report ring and the counts.
#[derive(Debug)]
pub(crate) struct OrderState {
    venue: VenueId,
    orders: HashMap<OrderId, LiveOrder>,
    reconciles: Vec<Reconcile>,
    /// Accounts whose private stream is down or whose live orders are being reconciled after
    /// a reconnect: no new order of theirs goes out ([`Self::may_send`]).
    holds: Vec<(AccountId, Hold)>,
    reports: Producer<ExecutionReport>,
    /// What the gateway counted.
    pub(crate) stats: GatewayStats,
}

impl OrderState {
    /// No orders; reports of `venue` go to `reports`.
    pub(crate) fn new(venue: VenueId, reports: Producer<ExecutionReport>) -> Self {
        Self {
            venue,
            orders: HashMap::new(),
            reconciles: Vec::new(),
            holds: Vec::new(),
            reports,
            stats: GatewayStats::default(),
        }
    }

    // ---- the table --------------------------------------------------------------------------

    /// Starts tracking `order_id`.
    pub(crate) fn insert(&mut self, order_id: OrderId, request: OrderRequest) {
        self.orders.insert(order_id, LiveOrder::new(request));
    }

    /// The live order `order_id`.
    pub(crate) fn get(&self, order_id: &OrderId) -> Option<&LiveOrder> {
        self.orders.get(order_id)
    }

    /// The live order `order_id`, mutably.
    pub(crate) fn get_mut(&mut self, order_id: &OrderId) -> Option<&mut LiveOrder> {
        self.orders.get_mut(order_id)
    }

    /// Whether `order_id` is live.
    pub(crate) fn contains(&self, order_id: &OrderId) -> bool {
        self.orders.contains_key(order_id)
    }

    /// Whether no order is live.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    // ---- holds after a disconnect ---------------------------------------------------------

    /// `account`'s private stream dropped: its events are being missed, so no new order of its
    /// goes out until it is back and its live orders are reconciled.
    pub(crate) fn hold(&mut self, account: AccountId) {
        match self.holds.iter_mut().find(|(a, _)| *a == account) {
            Some((_, h)) => *h = Hold::StreamDown,
            None => self.holds.push((account, Hold::StreamDown)),
        }
    }

    /// `account`'s private stream is back: its live orders are queried after `delay` (what the
    /// venue did meanwhile), and its new orders go out again once every such query is answered.
    pub(crate) fn reconnected(&mut self, account: AccountId, delay: Duration) {
        self.schedule_account(account, delay);
        match self.holds.iter_mut().find(|(a, _)| *a == account) {
            Some((_, h)) => *h = Hold::Reconciling,
            None => self.holds.push((account, Hold::Reconciling)),
        }
    }

    /// Whether a new order of `account` may go out now: not while its stream is down, nor while
    /// a query of its live orders is pending after the reconnect (a hold whose queries are all
    /// answered is lifted).
    pub(crate) fn may_send(&mut self, account: AccountId) -> bool {
        let Some(i) = self.holds.iter().position(|(a, _)| *a == account) else { return true };
        if self.holds[i].1 == Hold::StreamDown {
            return false;
        }
        // Any query of its orders: the reconnect's, or a stronger one (an unknown fate) it joined.
        let pending =
            self.reconciles.iter().any(|r| self.orders.get(&r.order_id).is_some_and(|o| o.request.account == account));
        if pending {
            return false;
        }
        self.holds.swap_remove(i);
        true
    }

    /// The live orders of `account`.
    pub(crate) fn of_account(&self, account: AccountId) -> Vec<OrderId> {
        self.orders.iter().filter(|(_, o)| o.request.account == account).map(|(k, _)| *k).collect()
    }

    // ---- reports ----------------------------------------------------------------------------

    /// Counts and pushes a report (waiting while the ring is full).
    pub(crate) fn emit(&mut self, r: ExecutionReport) -> Result<(), ReportsClosed> {
        match r.kind {
            ReportKind::Accepted => self.stats.accepted += 1,
            ReportKind::Rejected(reason) => self.stats.rejected.add(reason),
            ReportKind::Fill => self.stats.fills += 1,
            ReportKind::Canceled => self.stats.cancels += 1,
            ReportKind::CancelRejected(_) => self.stats.cancel_rejects += 1,
        }
        push_blocking(&mut self.reports, r).map_err(|_| ReportsClosed)
    }

    /// A report with no quantities, stamped now.
    pub(crate) fn blank(
        &self,
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
        side: Side,
        kind: ReportKind,
    ) -> ExecutionReport {
        ExecutionReport {
            order_id,
            venue_order_id: 0,
            venue: self.venue,
            account,
            instrument,
            kind,
            side,
            last_price: Price::ZERO,
            last_qty: Qty::ZERO,
            leaves_qty: Qty::ZERO,
            cum_qty: Qty::ZERO,
            fee: Notional::ZERO,
            liquidity: Liquidity::Taker,
            exchange_ns: WallClock.now(),
        }
    }

    /// Reports `CancelRejected(reason)` for a cancel of `order_id` (with its ids and
    /// quantities when it is live here).
    pub(crate) fn reject_cancel(
        &mut self,
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
        reason: qt_core::RejectReason,
    ) -> Result<(), ReportsClosed> {
        let side = self.get(&order_id).map_or(Side::Buy, |o| o.request.side);
        let mut r = self.blank(order_id, account, instrument, side, ReportKind::CancelRejected(reason));
        if let Some(o) = self.get(&order_id) {
            r.venue_order_id = o.venue_order_id;
            r.cum_qty = o.cum_qty;
            r.leaves_qty = o.leaves();
        }
        self.emit(r)
    }

    /// Reports `Rejected(reason)` for a new order never sent (refused here: unknown instrument
    /// or account, rate limited).
    pub(crate) fn reject_unsent(
        &mut self,
        order_id: OrderId,
        request: &OrderRequest,
        reason: qt_core::RejectReason,
    ) -> Result<(), ReportsClosed> {
        let kind = ReportKind::Rejected(reason);
        let r = self.blank(order_id, request.account, request.instrument, request.side, kind);
        self.emit(r)
    }

    /// Logs, at error, every order whose fate is still unknown (`venue`'s gateway is ending).
    pub(crate) fn log_unreconciled(&self, venue: &str) {
        for r in &self.reconciles {
            log::error!(
                "{venue} gateway: order {} left unreconciled at exit ({:?} after {} queries)",
                r.order_id,
                r.reason,
                r.attempts
            );
        }
    }

    /// A report about a live order, with its ids and quantities filled in.
    pub(crate) fn order_report(&self, order_id: OrderId, kind: ReportKind) -> Option<ExecutionReport> {
        let o = self.orders.get(&order_id)?;
        let mut r = self.blank(order_id, o.request.account, o.request.instrument, o.request.side, kind);
        r.venue_order_id = o.venue_order_id;
        r.cum_qty = o.cum_qty;
        r.leaves_qty = o.leaves();
        Some(r)
    }

    /// Reports `Accepted` once, the first time the venue shows the order exists.
    pub(crate) fn ensure_accepted(
        &mut self,
        order_id: OrderId,
        venue_order_id: u64,
        ts: Nanos,
    ) -> Result<(), ReportsClosed> {
        let Some(o) = self.orders.get_mut(&order_id) else { return Ok(()) };
        if venue_order_id != 0 {
            o.venue_order_id = venue_order_id;
        }
        if o.accepted {
            return Ok(());
        }
        o.accepted = true;
        self.reconciles.retain(|r| !(r.order_id == order_id && r.reason == QueryReason::UnknownFate));
        if let Some(mut r) = self.order_report(order_id, ReportKind::Accepted) {
            r.exchange_ns = ts;
            self.emit(r)?;
        }
        Ok(())
    }

    /// Ends an order with `kind` (Canceled or Rejected) and forgets it.
    pub(crate) fn finish_order(&mut self, order_id: OrderId, kind: ReportKind, ts: Nanos) -> Result<(), ReportsClosed> {
        let Some(mut r) = self.order_report(order_id, kind) else { return Ok(()) };
        r.leaves_qty = Qty::ZERO;
        r.exchange_ns = ts;
        self.forget(order_id);
        self.emit(r)
    }

    /// Stops tracking `order_id` and drops its queries.
    pub(crate) fn forget(&mut self, order_id: OrderId) {
        self.orders.remove(&order_id);
        self.reconciles.retain(|r| r.order_id != order_id);
    }

    /// Reports a fill of `qty` at `price` (worth `quote`), advancing the order's cumulative
    /// quantity; forgets the order when nothing is left.
    #[allow(clippy::too_many_arguments, reason = "the fields of one fill")]
    pub(crate) fn fill(
        &mut self,
        order_id: OrderId,
        price: Price,
        qty: Qty,
        fee: Notional,
        liquidity: Liquidity,
        ts: Nanos,
        quote: Notional,
    ) -> Result<(), ReportsClosed> {
        let Some(o) = self.orders.get_mut(&order_id) else { return Ok(()) };
        o.cum_qty = o.cum_qty.checked_add(qty).unwrap_or(o.cum_qty);
        o.cum_quote = o.cum_quote.checked_add(quote).unwrap_or(o.cum_quote);
        o.cum_fee = o.cum_fee.checked_add(fee).unwrap_or(o.cum_fee);
        let Some(mut r) = self.order_report(order_id, ReportKind::Fill) else { return Ok(()) };
        r.last_price = price;
        r.last_qty = qty;
        r.fee = fee;
        r.liquidity = liquidity;
        r.exchange_ns = ts;
        if !r.leaves_qty.is_positive() {
            self.forget(order_id);
        }
        self.emit(r)
    }

    /// The kit's bookkeeping of a private stream's connect or drop (`event`; a frame is not
    /// one) for `account` (its index `index` in the gateway's table, for the log): a reconnect
    /// is counted and the account's live orders are due for a query at once — `true`: run the
    /// due queries now, before the next command (the stream is subscribed again before it says
    /// it is connected, so a query now cannot miss an event); a drop holds the account's new
    /// orders until then.
    pub(crate) fn on_stream_status(
        &mut self,
        account: Option<AccountId>,
        index: usize,
        event: &crate::kit::private_stream::StreamEvent,
        venue: &str,
    ) -> bool {
        use crate::kit::private_stream::StreamEvent;
        match event {
            StreamEvent::Connected { reconnect: true } => {
                self.stats.reconnects += 1;
                if let Some(id) = account {
                    self.reconnected(id, Duration::ZERO);
                }
                true
            }
            StreamEvent::Disconnected { reason } => {
                log::warn!(
                    "{venue} gateway: private stream of account #{index} dropped: {reason}; its new orders are held \
                     until it is back and its live orders are reconciled"
                );
                if let Some(id) = account {
                    self.hold(id);
                }
                false
            }
            StreamEvent::Connected { reconnect: false } | StreamEvent::Frame(_) => false,
        }
    }

    /// Moves live order `order_id` on `inst` to what the venue says of it — in a push, or in a
    /// query's answer when `queried` — and reports what changed: accepted once it is shown to
    /// exist; a partial fill beyond what was reported queried shortly (a push: its trades may
    /// still be on their way) or booked (a query); a filled or closed order's missing part
    /// booked from its figures ([`OrderState::catch_up`]); a closed order the venue refused
    /// after its ack and never showed working `Rejected`, any other closed order `Canceled`.
    #[allow(clippy::too_many_arguments, reason = "an order's state and figures")]
    pub(crate) fn apply_venue_state(
        &mut self,
        order_id: OrderId,
        inst: &qt_core::Instrument,
        state: VenueState,
        f: VenueFigures,
        queried: bool,
        venue: &str,
    ) -> Result<(), ReportsClosed> {
        match state {
            VenueState::Working => self.ensure_accepted(order_id, f.venue_order_id, f.ts),
            VenueState::PartiallyFilled => {
                self.ensure_accepted(order_id, f.venue_order_id, f.ts)?;
                if queried {
                    self.catch_up(order_id, inst, f.cum, f.value, f.fee, f.ts, venue)
                } else {
                    if self.get(&order_id).is_some_and(|o| f.cum > o.cum_qty) {
                        self.schedule(order_id, QueryReason::Gap, ORDER_GAP_QUERY_DELAY);
                    }
                    Ok(())
                }
            }
            VenueState::Filled => {
                self.ensure_accepted(order_id, f.venue_order_id, f.ts)?;
                self.catch_up(order_id, inst, f.cum, f.value, f.fee, f.ts, venue)
            }
            VenueState::Closed { refused } => {
                let accepted = self.get(&order_id).is_some_and(|o| o.accepted);
                let kind = match refused {
                    // Refused after its ack, never shown working: the order was not placed.
                    Some(reason) if !accepted && f.cum.is_zero() => ReportKind::Rejected(reason),
                    _ => ReportKind::Canceled,
                };
                if kind == ReportKind::Canceled {
                    self.ensure_accepted(order_id, f.venue_order_id, f.ts)?;
                    self.catch_up(order_id, inst, f.cum, f.value, f.fee, f.ts, venue)?;
                }
                if self.contains(&order_id) {
                    self.finish_order(order_id, kind, f.ts)?;
                }
                Ok(())
            }
        }
    }

    /// Reports what the venue filled of `order_id` on `inst` beyond what was reported
    /// (`venue_cum`, worth `venue_value`, costing `venue_fee` in all — an order's cumulative
    /// figures when its trades were missed) as one fill at the average price of the missing
    /// part, with the missing part of the fee; a fee the venue did not give is booked as zero,
    /// logged and counted as a fill without fee. `venue` names the gateway in the log.
    #[cold]
    #[allow(clippy::too_many_arguments, reason = "an order's cumulative figures")]
    pub(crate) fn catch_up(
        &mut self,
        order_id: OrderId,
        inst: &qt_core::Instrument,
        venue_cum: Qty,
        venue_value: Option<Notional>,
        venue_fee: Option<Notional>,
        ts: Nanos,
        venue: &str,
    ) -> Result<(), ReportsClosed> {
        let Some(o) = self.get(&order_id) else { return Ok(()) };
        let missing = venue_cum.checked_sub(o.cum_qty).unwrap_or(Qty::ZERO);
        if !missing.is_positive() {
            return Ok(());
        }
        let missing_quote = venue_value.and_then(|v| v.checked_sub(o.cum_quote).ok());
        let price = missing_quote.and_then(|q| average_price(inst, q, missing)).unwrap_or(o.request.price);
        let fee = venue_fee.and_then(|f| f.checked_sub(o.cum_fee).ok()).filter(|f| *f >= Notional::ZERO);
        log::warn!(
            "{venue} gateway: order {order_id}: {} filled without a trade event; booked at {} with fee {}",
            inst.qty_text(missing),
            inst.price_text(price),
            fee.map_or_else(|| "UNKNOWN (zero)".to_string(), |f| f.to_text(qt_core::DecimalStyle::Trimmed).to_string())
        );
        if fee.is_some() {
            self.stats.fills_fee_from_trades += 1;
        } else {
            self.stats.fills_without_fee += 1;
        }
        let quote = missing_quote.unwrap_or(Notional::ZERO);
        self.fill(order_id, price, missing, fee.unwrap_or(Notional::ZERO), Liquidity::Taker, ts, quote)
    }

    // ---- the reconciliation schedule ----------------------------------------------------------

    /// Queries `order_id` after `delay`; an order already scheduled keeps the earlier time and
    /// the stronger reason (an unknown fate or cancel carries more than a gap).
    pub(crate) fn schedule(&mut self, order_id: OrderId, reason: QueryReason, delay: Duration) {
        let due = Instant::now() + delay;
        if let Some(r) = self.reconciles.iter_mut().find(|r| r.order_id == order_id) {
            if r.reason == QueryReason::Gap {
                r.reason = reason;
            }
            r.due = r.due.min(due);
            return;
        }
        self.reconciles.push(Reconcile { order_id, due, attempts: 0, not_found: 0, reason });
    }

    /// Queries `order_id`'s account's live orders after `delay` (a gap in its stream).
    pub(crate) fn schedule_account(&mut self, account: AccountId, delay: Duration) {
        for order_id in self.of_account(account) {
            self.schedule(order_id, QueryReason::Gap, delay);
        }
    }

    /// The queries due at `now`.
    pub(crate) fn due(&self, now: Instant) -> Vec<Reconcile> {
        if self.reconciles.is_empty() {
            return Vec::new();
        }
        self.reconciles.iter().filter(|r| r.due <= now).copied().collect()
    }

    /// The queries due at `now` that may run: none (all postponed) while any of `accounts`
    /// accounts is near a limit of `limits` or backing off — queries are cold work and wait.
    pub(crate) fn due_within_limits(
        &mut self,
        now: Instant,
        limits: &mut crate::kit::rate_limit::RateLimiter,
        accounts: usize,
        venue_ms: i64,
    ) -> Vec<Reconcile> {
        let due = self.due(now);
        if due.is_empty() {
            return due;
        }
        if (0..accounts.max(1)).any(|a| limits.near_limit(now, a, venue_ms)) {
            self.defer_all(limits.backoff_until().unwrap_or(now + Duration::from_secs(1)));
            return Vec::new();
        }
        due
    }

    /// Postpones every query to `until` at the earliest (rate limited).
    pub(crate) fn defer_all(&mut self, until: Instant) {
        for r in &mut self.reconciles {
            r.due = r.due.max(until);
        }
    }

    /// A query of `order_id` was answered: drops its schedule.
    pub(crate) fn settled(&mut self, order_id: OrderId) {
        self.reconciles.retain(|r| r.order_id != order_id);
    }

    /// A query of `order_id` failed (`not_found`: the venue says it does not exist): schedules
    /// the next one and returns the "does not exist" answers so far.
    pub(crate) fn retry(&mut self, order_id: OrderId, not_found: bool) -> u32 {
        let Some(r) = self.reconciles.iter_mut().find(|r| r.order_id == order_id) else { return 0 };
        r.attempts += 1;
        if not_found {
            r.not_found += 1;
            r.due = Instant::now() + NOT_FOUND_RETRY;
        } else {
            let exp = r.attempts.min(7);
            r.due = Instant::now() + (Duration::from_millis(50) * (1u32 << exp)).min(QUERY_BACKOFF_MAX);
        }
        r.not_found
    }

    /// The pending queries.
    pub(crate) fn pending(&self) -> &[Reconcile] {
        &self.reconciles
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::queue::spsc;
    use qt_core::{OrderType, StrategyId, TimeInForce};

    fn request(qty: i64) -> OrderRequest {
        OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Price::from_units(100),
            qty: Qty::from_units(qty),
            reduce_only: false,
            stop_price: None,
        }
    }

    #[test]
    fn trades_are_new_once_by_id_and_by_cumulative_quantity() {
        let mut o = LiveOrder::new(request(100));
        let q = Qty::from_units;
        assert_eq!(o.check_trade(Some(1.into()), q(40), q(40)), TradeCheck::New { missed_before: None });
        o.cum_qty = q(40);
        assert_eq!(o.check_trade(Some(1.into()), q(40), q(40)), TradeCheck::Duplicate, "same id");
        assert_eq!(o.check_trade(None, q(40), q(40)), TradeCheck::Duplicate, "no id, z not beyond 40");
        // z = 90 after a 20 trade: 30 (40 → 70) were missed.
        let text = TradeId::Text("a1b2".into());
        assert_eq!(o.check_trade(Some(text.clone()), q(20), q(90)), TradeCheck::New { missed_before: Some(q(70)) });
        assert_eq!(o.check_trade(Some(text), q(20), q(90)), TradeCheck::Duplicate);
        assert_eq!(o.leaves(), q(60));
    }

    #[test]
    fn unknown_fate_queries_back_off_and_count_not_found() {
        let (tx, _rx) = spsc(8);
        let mut s = OrderState::new(VenueId(0), tx);
        s.insert(OrderId(1), request(10));
        s.schedule(OrderId(1), QueryReason::Gap, Duration::from_secs(60));
        s.schedule(OrderId(1), QueryReason::UnknownFate, Duration::ZERO);
        assert_eq!(s.pending().len(), 1);
        assert_eq!(s.pending()[0].reason, QueryReason::UnknownFate, "the stronger reason is kept");
        assert_eq!(s.due(Instant::now()).len(), 1, "the earlier time is kept");
        assert_eq!(s.retry(OrderId(1), true), 1);
        assert!(s.due(Instant::now()).is_empty(), "not due before NOT_FOUND_RETRY");
        assert_eq!(s.retry(OrderId(1), false), 1, "a failed query does not count as not found");
        assert_eq!(s.retry(OrderId(1), true), NOT_FOUND_LIMIT);
        s.settled(OrderId(1));
        assert!(s.pending().is_empty());
    }

    #[test]
    fn an_accounts_new_orders_are_held_from_a_drop_until_its_orders_are_reconciled() {
        let (tx, _rx) = spsc(8);
        let mut st = OrderState::new(VenueId(0), tx);
        let (a, b) = (AccountId(0), AccountId(1));
        st.insert(OrderId(1), request(5));
        assert!(st.may_send(a) && st.may_send(b));
        st.hold(a);
        assert!(!st.may_send(a), "stream down");
        assert!(st.may_send(b), "another account is not held");
        st.reconnected(a, Duration::ZERO);
        assert!(!st.may_send(a), "its live order is being queried");
        assert_eq!(st.due(Instant::now()).len(), 1);
        st.settled(OrderId(1));
        assert!(st.may_send(a), "every query answered: the hold is lifted");
        assert!(st.may_send(a));
        // Dropped again with no live order: held while down, free once back.
        st.forget(OrderId(1));
        st.hold(a);
        assert!(!st.may_send(a));
        st.reconnected(a, Duration::ZERO);
        assert!(st.may_send(a));
    }
}
