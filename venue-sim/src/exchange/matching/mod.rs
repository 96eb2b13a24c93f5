//! The simulated venue's matching engine: one [`MatchingEngine`] per instrument, price-time
//! priority, exact integer money.
//!
//! Owned and driven by the sim venue thread (through [`crate::exchange::sim_exchange::SimExchange`]); not
//! shared, not `Sync`-dependent, never blocks. Every operation reports what happened through a
//! [`MatchSink`], synchronously and in event order, so a venue layer can turn the callbacks into
//! exchange-style execution reports (NEW, TRADE, CANCELED, EXPIRED) for client orders and into L2
//! deltas and public trades for everyone.
//!
//! Contract:
//! - Orders: limit GTC / IOC / FOK / post-only and market (optionally bounded by a protection
//!   price). Filters are checked in venue order — price on tick, quantity on lot and at least the
//!   minimum, notional at least the minimum — and every bad order is a [`RejectReason`], never a
//!   panic.
//! - Self-trade prevention is "cancel resting" (Binance `EXPIRE_MAKER`): an incoming client order
//!   never trades with a resting order of the same account; the resting one is cancelled with
//!   [`DoneReason::SelfTradePrevented`]. Background (synthetic) orders may trade with each other.
//! - Fees are exact: `notional × rate` rounded up onto the notional grid (a negative rate is a
//!   rebate, rounded toward zero).
//! - Allocation: per-operation scratch (touched levels, id lists) and emptied level queues are
//!   reused, so a submit or cancel allocates only when the book's structure grows: a B-tree node
//!   for a new price level, or a level queue or the order index outgrowing its capacity.
//!   [`MatchingEngine::check_invariants`] allocates and is for tests.

use qt_core::{
    AccountId, Instrument, Nanos, Notional, OrderId, OrderType, Price, Qty, Rate, RejectReason, Rounding, Side,
    TimeInForce,
};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Emptied level queues kept for reuse, at most this many.
const SPARE_LEVELS: usize = 256;

/// Maker and taker fee rates (negative = rebate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSchedule {
    /// Rate charged to the resting side of a trade.
    pub maker: Rate,
    /// Rate charged to the incoming side of a trade.
    pub taker: Rate,
}

/// Who an order belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The venue's synthetic background flow.
    Background,
    /// A client (one of our accounts).
    Client {
        /// The trading account; self-trade prevention works per account.
        account: AccountId,
        /// The client's own order id.
        order_id: OrderId,
    },
}

impl Owner {
    /// The client account, or `None` for background orders.
    #[inline]
    pub const fn account(self) -> Option<AccountId> {
        match self {
            Owner::Background => None,
            Owner::Client { account, .. } => Some(account),
        }
    }
}

/// An order as submitted to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Whose order.
    pub owner: Owner,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Time in force. Market orders never rest: GTC and IOC both mean "fill what the book has,
    /// expire the rest", FOK is honoured, post-only is rejected.
    pub tif: TimeInForce,
    /// Limit price; for a market order a protection bound (a positive price the order does not
    /// trade through), or zero for none.
    pub price: Price,
    /// Quantity, on the lot grid.
    pub qty: Qty,
}

impl NewOrder {
    /// A limit order.
    pub const fn limit(owner: Owner, side: Side, tif: TimeInForce, price: Price, qty: Qty) -> Self {
        Self { owner, side, order_type: OrderType::Limit, tif, price, qty }
    }

    /// A market order, optionally bounded by a protection price.
    pub const fn market(owner: Owner, side: Side, qty: Qty, bound: Option<Price>) -> Self {
        let price = match bound {
            Some(p) => p,
            None => Price::ZERO,
        };
        Self { owner, side, order_type: OrderType::Market, tif: TimeInForce::Ioc, price, qty }
    }
}

/// A resting order as the book holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrderInfo {
    /// The venue's id.
    pub venue_id: u64,
    /// Whose order.
    pub owner: Owner,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Original quantity.
    pub qty: Qty,
    /// Quantity still working.
    pub leaves_qty: Qty,
    /// When the venue accepted it.
    pub accepted_at: Nanos,
}

impl RestingOrderInfo {
    /// Quantity filled so far.
    #[inline]
    pub fn cum_qty(&self) -> Qty {
        Qty::from_units(self.qty.units() - self.leaves_qty.units())
    }
}

/// One trade between a resting (maker) and an incoming (taker) order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Venue trade id, increasing from 1.
    pub trade_id: u64,
    /// Venue time of the trade.
    pub ts: Nanos,
    /// Trade price (the maker's price).
    pub price: Price,
    /// Trade quantity.
    pub qty: Qty,
    /// The taker's side.
    pub aggressor: Side,
    /// The resting order's owner.
    pub maker: Owner,
    /// The resting order's venue id.
    pub maker_venue_id: u64,
    /// The resting order's quantity still working after this trade.
    pub maker_leaves_qty: Qty,
    /// The resting order's filled quantity including this trade.
    pub maker_cum_qty: Qty,
    /// Fee charged to the maker (negative = rebate).
    pub maker_fee: Notional,
    /// The incoming order's owner.
    pub taker: Owner,
    /// The incoming order's venue id.
    pub taker_venue_id: u64,
    /// The incoming order's quantity still unfilled after this trade (an IOC or market
    /// remainder is expired when matching ends).
    pub taker_leaves_qty: Qty,
    /// The incoming order's filled quantity including this trade.
    pub taker_cum_qty: Qty,
    /// Fee charged to the taker (negative = rebate).
    pub taker_fee: Notional,
}

/// Why an order left the book (or never rested).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DoneReason {
    /// Completely filled.
    Filled,
    /// Cancelled on request.
    Canceled,
    /// The unfilled remainder of an IOC or market order.
    Expired,
    /// A resting order cancelled because an order of the same account would have traded with it.
    SelfTradePrevented,
}

/// The end of an order's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderDone {
    /// The venue's id.
    pub venue_id: u64,
    /// Whose order.
    pub owner: Owner,
    /// Side.
    pub side: Side,
    /// Limit price (the protection bound, or zero, for market orders).
    pub price: Price,
    /// Original quantity.
    pub qty: Qty,
    /// Quantity filled over the order's life.
    pub cum_qty: Qty,
    /// Quantity removed unfilled (zero when [`DoneReason::Filled`]).
    pub leaves_qty: Qty,
    /// Why.
    pub reason: DoneReason,
    /// Venue time.
    pub ts: Nanos,
}

/// Receives the engine's events, synchronously and in event order. Within one operation the order
/// is: `on_accepted` (incoming order passed every check), then per trade `on_fill` followed by
/// `on_done` for a maker it completed, interleaved with `on_done` for resting orders removed by
/// self-trade prevention, then `on_done` for the incoming order if it does not rest, and last one
/// `on_level` per aggregated price level the operation changed, with its final total.
pub trait MatchSink {
    /// An order passed all checks and got venue id `venue_id` (exchange "NEW").
    fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, ts: Nanos) {
        let _ = (venue_id, order, ts);
    }

    /// A trade.
    fn on_fill(&mut self, fill: &Fill) {
        let _ = fill;
    }

    /// An order finished: filled, cancelled, expired or removed by self-trade prevention.
    fn on_done(&mut self, done: &OrderDone) {
        let _ = done;
    }

    /// The aggregated quantity at `price` on `side` is now `qty` (zero: the level is gone).
    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        let _ = (side, price, qty);
    }
}

/// A sink that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl MatchSink for NullSink {}

impl<S: MatchSink + ?Sized> MatchSink for &mut S {
    fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, ts: Nanos) {
        (**self).on_accepted(venue_id, order, ts);
    }
    fn on_fill(&mut self, fill: &Fill) {
        (**self).on_fill(fill);
    }
    fn on_done(&mut self, done: &OrderDone) {
        (**self).on_done(done);
    }
    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        (**self).on_level(side, price, qty);
    }
}

/// One price level: its FIFO queue and the queue's total working quantity (in qty units).
#[derive(Debug, Default)]
struct Level {
    total: i64,
    orders: VecDeque<RestingOrderInfo>,
}

/// A price-time priority limit order book with matching, for one instrument.
#[derive(Debug)]
pub struct MatchingEngine {
    instrument: Instrument,
    fees: FeeSchedule,
    bids: BTreeMap<i64, Level>,
    asks: BTreeMap<i64, Level>,
    /// Resting orders by venue id: where to find them.
    index: HashMap<u64, (Side, i64)>,
    next_venue_id: u64,
    next_trade_id: u64,
    /// Levels changed by the current operation, in first-touch order, without duplicates.
    touched: Vec<(Side, i64)>,
    /// Scratch for bulk cancels.
    scratch_ids: Vec<u64>,
    /// Emptied level queues, reused by new levels.
    spare: Vec<VecDeque<RestingOrderInfo>>,
}

impl MatchingEngine {
    /// An empty book for `instrument` charging `fees`.
    pub fn new(instrument: Instrument, fees: FeeSchedule) -> Self {
        Self {
            instrument,
            fees,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            index: HashMap::new(),
            next_venue_id: 1,
            next_trade_id: 1,
            touched: Vec::with_capacity(64),
            scratch_ids: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// The instrument traded.
    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    /// The fee schedule.
    pub fn fees(&self) -> FeeSchedule {
        self.fees
    }

    /// Submits an order: checks it, matches it against the opposite side in price-time priority,
    /// and rests any remainder of a GTC or post-only limit order. Returns the venue order id, or
    /// why the order was rejected (then nothing happened and the sink heard nothing).
    pub fn submit<S: MatchSink + ?Sized>(
        &mut self,
        order: NewOrder,
        now: Nanos,
        sink: &mut S,
    ) -> Result<u64, RejectReason> {
        self.check_filters(&order)?;
        let bound = self.crossing_bound(&order);
        let rests =
            order.order_type == OrderType::Limit && matches!(order.tif, TimeInForce::Gtc | TimeInForce::PostOnly);
        self.check_ranges(&order, rests)?;
        if order.tif == TimeInForce::PostOnly
            && (order.order_type == OrderType::Market || self.crosses_best(order.side, bound))
        {
            return Err(RejectReason::WouldTakeLiquidity);
        }
        if order.tif == TimeInForce::Fok
            && self.fillable(order.side, bound, order.owner.account(), order.qty) < order.qty.units()
        {
            return Err(RejectReason::FokUnfillable);
        }

        let venue_id = self.next_venue_id;
        self.next_venue_id += 1;
        sink.on_accepted(venue_id, &order, now);
        let mut taker = RestingOrderInfo {
            venue_id,
            owner: order.owner,
            side: order.side,
            price: order.price,
            qty: order.qty,
            leaves_qty: order.qty,
            accepted_at: now,
        };
        self.match_incoming(&mut taker, bound, now, sink);
        if !taker.leaves_qty.is_positive() {
            sink.on_done(&done(&taker, DoneReason::Filled, now));
        } else if rests {
            self.rest(taker);
        } else {
            sink.on_done(&done(&taker, DoneReason::Expired, now));
        }
        self.flush_levels(sink);
        Ok(venue_id)
    }

    /// Cancels a resting order; returns it as it was (with its remaining quantity).
    pub fn cancel<S: MatchSink + ?Sized>(
        &mut self,
        venue_id: u64,
        now: Nanos,
        sink: &mut S,
    ) -> Result<RestingOrderInfo, RejectReason> {
        let removed = self.remove_resting(venue_id, DoneReason::Canceled, now, sink);
        self.flush_levels(sink);
        removed.ok_or(RejectReason::UnknownOrder)
    }

    /// Cancels every resting order of `account` (bids best first, then asks best first, each
    /// level in time priority); returns how many were cancelled.
    pub fn cancel_all_for<S: MatchSink + ?Sized>(&mut self, account: AccountId, now: Nanos, sink: &mut S) -> usize {
        let mut ids = std::mem::take(&mut self.scratch_ids);
        ids.clear();
        ids.extend(self.open_orders_of(account).map(|o| o.venue_id));
        for &id in &ids {
            self.remove_resting(id, DoneReason::Canceled, now, sink);
        }
        let n = ids.len();
        self.scratch_ids = ids;
        self.flush_levels(sink);
        n
    }

    /// Best bid price and its total quantity.
    pub fn best_bid(&self) -> Option<(Price, Qty)> {
        self.bids.iter().next_back().map(level_view)
    }

    /// Best ask price and its total quantity.
    pub fn best_ask(&self) -> Option<(Price, Qty)> {
        self.asks.iter().next().map(level_view)
    }

    /// Total resting quantity at `price` on `side` (zero if there is no level).
    pub fn level_qty(&self, side: Side, price: Price) -> Qty {
        Qty::from_units(self.book(side).get(&price.units()).map_or(0, |l| l.total))
    }

    /// Number of price levels on `side`.
    pub fn level_count(&self, side: Side) -> usize {
        self.book(side).len()
    }

    /// Number of resting orders on both sides.
    pub fn order_count(&self) -> usize {
        self.index.len()
    }

    /// The aggregated levels of `side`, best first: `(price, total qty)`.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (Price, Qty)> + '_ {
        let (bids, asks) = match side {
            Side::Buy => (Some(self.bids.iter().rev()), None),
            Side::Sell => (None, Some(self.asks.iter())),
        };
        bids.into_iter().flatten().chain(asks.into_iter().flatten()).map(level_view)
    }

    /// The queue at one level, in time priority.
    pub fn queue(&self, side: Side, price: Price) -> impl Iterator<Item = &RestingOrderInfo> + '_ {
        self.book(side).get(&price.units()).into_iter().flat_map(|l| l.orders.iter())
    }

    /// Every resting order of `account`: bids best first, then asks best first, each level in
    /// time priority.
    pub fn open_orders_of(&self, account: AccountId) -> impl Iterator<Item = &RestingOrderInfo> + '_ {
        self.bids
            .values()
            .rev()
            .chain(self.asks.values())
            .flat_map(|l| l.orders.iter())
            .filter(move |o| o.owner.account() == Some(account))
    }

    /// A resting order by venue id.
    pub fn order(&self, venue_id: u64) -> Option<&RestingOrderInfo> {
        let (side, px) = self.index.get(&venue_id)?;
        self.book(*side).get(px)?.orders.iter().find(|o| o.venue_id == venue_id)
    }

    /// Checks the book's internal consistency: levels non-empty and uncrossed, each level's total
    /// equal to its queue, every order indexed where it sits. Walks the whole book and allocates
    /// the message; for tests and debugging.
    pub fn check_invariants(&self) -> Result<(), String> {
        if let (Some((bid, _)), Some((ask, _))) = (self.best_bid(), self.best_ask())
            && bid >= ask
        {
            return Err(format!("crossed book: bid {bid:?} >= ask {ask:?}"));
        }
        let mut orders = 0;
        for (side, book) in [(Side::Buy, &self.bids), (Side::Sell, &self.asks)] {
            for (&px, level) in book {
                if level.orders.is_empty() {
                    return Err(format!("{side:?} level {px} is empty but present"));
                }
                let sum: i64 = level.orders.iter().map(|o| o.leaves_qty.units()).sum();
                if sum != level.total {
                    return Err(format!("{side:?} level {px}: total {} but queue sums to {sum}", level.total));
                }
                for o in &level.orders {
                    orders += 1;
                    if o.side != side || o.price.units() != px || !o.leaves_qty.is_positive() || o.leaves_qty > o.qty {
                        return Err(format!("{side:?} level {px} holds inconsistent order {o:?}"));
                    }
                    if self.index.get(&o.venue_id) != Some(&(side, px)) {
                        return Err(format!("order {} not indexed at {side:?} {px}", o.venue_id));
                    }
                }
            }
        }
        if orders != self.index.len() {
            return Err(format!("index holds {} orders, book {orders}", self.index.len()));
        }
        Ok(())
    }

    fn book(&self, side: Side) -> &BTreeMap<i64, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Venue filters, in venue order: price on tick, quantity on lot and above the minimum,
    /// notional above the minimum. [`Self::submit`] applies them first; a venue front end calls
    /// this to reject a bad order before its own checks (e.g. balance), as real venues do.
    pub fn check_filters(&self, order: &NewOrder) -> Result<(), RejectReason> {
        let inst = &self.instrument;
        if order.order_type == OrderType::Limit && !inst.is_on_tick(order.price) {
            return Err(RejectReason::PriceFilter);
        }
        if !inst.is_on_lot(order.qty) || order.qty < inst.min_qty() {
            return Err(RejectReason::LotSize);
        }
        let reference = match order.order_type {
            OrderType::Limit => Some(order.price),
            OrderType::Market => match order.side {
                Side::Buy => self.best_ask(),
                Side::Sell => self.best_bid(),
            }
            .map(|(p, _)| p),
        };
        if let Some(price) = reference {
            let notional = inst.notional(price, order.qty, Rounding::Down).map_err(|_| RejectReason::Other)?;
            if notional < inst.min_notional() {
                return Err(RejectReason::MinNotional);
            }
        }
        Ok(())
    }

    /// Rejects (as `Other`) orders whose trades could overflow the exact arithmetic (a venue's
    /// max-price/max-quantity filters) or whose resting level total would not fit.
    fn check_ranges(&self, order: &NewOrder, rests: bool) -> Result<(), RejectReason> {
        // Notional is monotonic in price for every kind, so the extreme prices bound every trade:
        // the tick (inverse contracts) and the highest price the order could trade at.
        let book_top = self.asks.keys().next_back().or_else(|| self.bids.keys().next_back()).copied();
        let top = match order.order_type {
            OrderType::Limit => order.price.units().max(book_top.unwrap_or(0)),
            OrderType::Market => book_top.unwrap_or(0),
        };
        let rate =
            Rate::from_units(self.fees.maker.units().saturating_abs().max(self.fees.taker.units().saturating_abs()));
        for price in [self.instrument.tick().units(), top] {
            if price > 0 {
                let ok = self
                    .instrument
                    .notional(Price::from_units(price), order.qty, Rounding::Up)
                    .and_then(|n| n.checked_mul_rate(rate, Rounding::Up));
                if ok.is_err() {
                    return Err(RejectReason::Other);
                }
            }
        }
        if rests && self.level_qty(order.side, order.price).checked_add(order.qty).is_err() {
            return Err(RejectReason::Other);
        }
        Ok(())
    }

    /// The worst opposite price (in units) the order may trade at: its limit, its protection
    /// bound, or unbounded.
    fn crossing_bound(&self, order: &NewOrder) -> i64 {
        match (order.order_type, order.side) {
            (OrderType::Limit, _) => order.price.units(),
            (OrderType::Market, _) if order.price.is_positive() => order.price.units(),
            (OrderType::Market, Side::Buy) => i64::MAX,
            (OrderType::Market, Side::Sell) => i64::MIN,
        }
    }

    /// Whether an incoming order on `side` bounded by `bound` would trade with the best opposite
    /// level.
    fn crosses_best(&self, side: Side, bound: i64) -> bool {
        match side {
            Side::Buy => self.asks.keys().next().is_some_and(|&px| px <= bound),
            Side::Sell => self.bids.keys().next_back().is_some_and(|&px| px >= bound),
        }
    }

    /// Opposite quantity an incoming order could trade with (excluding its own account's orders),
    /// counted up to `want`.
    fn fillable(&self, side: Side, bound: i64, account: Option<AccountId>, want: Qty) -> i64 {
        let count = |levels: &mut dyn Iterator<Item = &Level>| {
            let mut total = 0i64;
            for o in levels.flat_map(|l| l.orders.iter()) {
                if account.is_none() || o.owner.account() != account {
                    total = total.saturating_add(o.leaves_qty.units());
                    if total >= want.units() {
                        break;
                    }
                }
            }
            total
        };
        match side {
            Side::Buy => count(&mut self.asks.range(..=bound).map(|(_, l)| l)),
            Side::Sell => count(&mut self.bids.range(bound..).rev().map(|(_, l)| l)),
        }
    }

    /// Matches `taker` against the opposite side while it crosses `bound`.
    fn match_incoming<S: MatchSink + ?Sized>(
        &mut self,
        taker: &mut RestingOrderInfo,
        bound: i64,
        now: Nanos,
        sink: &mut S,
    ) {
        let Self { instrument, fees, bids, asks, index, next_trade_id, touched, spare, .. } = self;
        let maker_side = taker.side.opposite();
        let book = match taker.side {
            Side::Buy => asks,
            Side::Sell => bids,
        };
        let taker_account = taker.owner.account();
        while taker.leaves_qty.is_positive() {
            let entry = match taker.side {
                Side::Buy => book.first_entry(),
                Side::Sell => book.last_entry(),
            };
            let Some(mut entry) = entry else { break };
            let px = *entry.key();
            let crosses = match taker.side {
                Side::Buy => px <= bound,
                Side::Sell => px >= bound,
            };
            if !crosses {
                break;
            }
            touch(touched, maker_side, px);
            let level = entry.get_mut();
            while taker.leaves_qty.is_positive() {
                let Some(maker) = level.orders.front_mut() else {
                    break;
                };
                if taker_account.is_some() && maker.owner.account() == taker_account {
                    let maker = *maker;
                    level.orders.pop_front();
                    level.total -= maker.leaves_qty.units();
                    index.remove(&maker.venue_id);
                    sink.on_done(&done(&maker, DoneReason::SelfTradePrevented, now));
                    continue;
                }
                let qty = taker.leaves_qty.units().min(maker.leaves_qty.units());
                maker.leaves_qty = Qty::from_units(maker.leaves_qty.units() - qty);
                taker.leaves_qty = Qty::from_units(taker.leaves_qty.units() - qty);
                level.total -= qty;
                let price = Price::from_units(px);
                let qty = Qty::from_units(qty);
                let (maker_fee, taker_fee) = trade_fees(instrument, *fees, price, qty);
                let trade_id = *next_trade_id;
                *next_trade_id += 1;
                sink.on_fill(&Fill {
                    trade_id,
                    ts: now,
                    price,
                    qty,
                    aggressor: taker.side,
                    maker: maker.owner,
                    maker_venue_id: maker.venue_id,
                    maker_leaves_qty: maker.leaves_qty,
                    maker_cum_qty: maker.cum_qty(),
                    maker_fee,
                    taker: taker.owner,
                    taker_venue_id: taker.venue_id,
                    taker_leaves_qty: taker.leaves_qty,
                    taker_cum_qty: taker.cum_qty(),
                    taker_fee,
                });
                if !maker.leaves_qty.is_positive() {
                    let maker = *maker;
                    level.orders.pop_front();
                    index.remove(&maker.venue_id);
                    sink.on_done(&done(&maker, DoneReason::Filled, now));
                }
            }
            if level.orders.is_empty() {
                recycle(spare, entry.remove().orders);
            }
        }
    }

    /// Puts `order` at the back of its level's queue.
    fn rest(&mut self, order: RestingOrderInfo) {
        let Self { bids, asks, index, touched, spare, .. } = self;
        let book = match order.side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let px = order.price.units();
        let level = book.entry(px).or_insert_with(|| Level { total: 0, orders: spare.pop().unwrap_or_default() });
        level.total += order.leaves_qty.units();
        level.orders.push_back(order);
        index.insert(order.venue_id, (order.side, px));
        touch(touched, order.side, px);
    }

    /// Removes a resting order and reports it done; level updates are left for `flush_levels`.
    fn remove_resting<S: MatchSink + ?Sized>(
        &mut self,
        venue_id: u64,
        reason: DoneReason,
        now: Nanos,
        sink: &mut S,
    ) -> Option<RestingOrderInfo> {
        let (side, px) = *self.index.get(&venue_id)?;
        let Self { bids, asks, index, touched, spare, .. } = self;
        let book = match side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let level = book.get_mut(&px)?;
        let pos = level.orders.iter().position(|o| o.venue_id == venue_id)?;
        let order = level.orders.remove(pos)?;
        index.remove(&venue_id);
        level.total -= order.leaves_qty.units();
        if level.orders.is_empty()
            && let Some(level) = book.remove(&px)
        {
            recycle(spare, level.orders);
        }
        touch(touched, side, px);
        sink.on_done(&done(&order, reason, now));
        Some(order)
    }

    /// Reports the final total of every level the operation touched.
    fn flush_levels<S: MatchSink + ?Sized>(&mut self, sink: &mut S) {
        for &(side, px) in &self.touched {
            let total = self.book(side).get(&px).map_or(0, |l| l.total);
            sink.on_level(side, Price::from_units(px), Qty::from_units(total));
        }
        self.touched.clear();
    }
}

fn level_view((px, level): (&i64, &Level)) -> (Price, Qty) {
    (Price::from_units(*px), Qty::from_units(level.total))
}

fn touch(touched: &mut Vec<(Side, i64)>, side: Side, px: i64) {
    if !touched.contains(&(side, px)) {
        touched.push((side, px));
    }
}

fn recycle(spare: &mut Vec<VecDeque<RestingOrderInfo>>, mut orders: VecDeque<RestingOrderInfo>) {
    if spare.len() < SPARE_LEVELS {
        orders.clear();
        spare.push(orders);
    }
}

fn done(order: &RestingOrderInfo, reason: DoneReason, ts: Nanos) -> OrderDone {
    OrderDone {
        venue_id: order.venue_id,
        owner: order.owner,
        side: order.side,
        price: order.price,
        qty: order.qty,
        cum_qty: order.cum_qty(),
        leaves_qty: order.leaves_qty,
        reason,
        ts,
    }
}

/// Maker and taker fees of one trade: `notional × rate`, each rounded up onto the notional grid
/// (for inverse contracts the notional itself is first rounded up). `check_ranges` admits only
/// orders whose trades compute, so the fallback is never taken.
fn trade_fees(instrument: &Instrument, fees: FeeSchedule, price: Price, qty: Qty) -> (Notional, Notional) {
    let fee = |rate: Rate| {
        instrument
            .notional(price, qty, Rounding::Up)
            .and_then(|n| n.checked_mul_rate(rate, Rounding::Up))
            .unwrap_or_else(|e| {
                log::error!("fee of {qty:?} @ {price:?} at {rate} failed: {e}");
                Notional::ZERO
            })
    };
    (fee(fees.maker), fee(fees.taker))
}

#[cfg(test)]
mod tests;
