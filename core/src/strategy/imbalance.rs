//! `imbalance`: a small order-book-imbalance taker, the first strategy that really trades.
//!
//! On every consistent book update of its instrument it computes the depth imbalance of the
//! best `levels` levels, `(bid_qty − ask_qty) / (bid_qty + ask_qty)`, exactly in binary
//! fixed-point (`I32F32`; the ratio is a signal, not money). Above `+threshold` it buys `qty` at
//! the best ask, below `−threshold` it sells at the best bid, as IOC limit orders, keeping its
//! position within `±max_position`, one order in flight at a time ([`ImbalanceTaker::MAX_WORKING`])
//! and at most one order per `cooldown`. With a signal instrument ([`ImbalanceTaker::with_signal`],
//! `signal_venue` in configuration) it reads the imbalance from that book — another venue's book
//! of the same pair — and trades its own instrument at its own book's touch, both books valid.
//! Resting ([`ImbalanceTaker::with_resting`], `rest_for` in configuration): it joins its own side
//! of the touch instead (buys at the bid, sells at the ask) with a GTC limit order and cancels it
//! once it has rested `rest_for` unfilled.
//!
//! Swap ([`super::swap`]): new parameters and version in place. Under the hand-over policy the
//! new version counts as in flight every order of its strategy id in the engine's order table
//! (so it never sends a second order while one is working) and manages the resting one (its
//! expiry counts from the swap unless the old version's is still known); under cancel-replace
//! the same orders are all pending cancel, so it places again only after every terminal report;
//! under drop it forgets them (test only).
//! Allocation-free; runs on the core thread.

use super::swap::{ParamPatch, StrategySwap, SwapApplied, SwapPolicy, SwapRefused};
use super::{Actions, MarketView, Strategy, StrategyAction};
use crate::event::MarketEvent;
use crate::ids::{AccountId, InstrumentId, OrderId, StrategyId};
use crate::money::{Price, Qty};
use crate::order::{ExecutionReport, OrderRequest, OrderType, ReportKind, Side, TimeInForce};
use crate::orders::OrderStatus;
use crate::time::Nanos;
use fixed::types::I32F32;

/// Parameters, on the instrument's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImbalanceParams {
    /// Order quantity (on the lot grid).
    pub qty: Qty,
    /// Largest absolute position the strategy builds.
    pub max_position: Qty,
    /// Imbalance that triggers an order, in `(0, 1)`.
    pub threshold: I32F32,
    /// Levels per side in the imbalance.
    pub levels: usize,
    /// Minimum domain time between orders.
    pub cooldown: Nanos,
}

/// The imbalance taker.
#[derive(Debug, Clone)]
pub struct ImbalanceTaker {
    id: StrategyId,
    name: &'static str,
    account: AccountId,
    /// The traded instrument, then the signal instrument (the same one unless set apart).
    instruments: [InstrumentId; 2],
    /// How many of `instruments` it subscribes (1: no separate signal).
    subscribed: usize,
    params: ImbalanceParams,
    /// How long a resting order rests before it is cancelled (`Nanos::ZERO`: IOC taker orders).
    rest_for: Nanos,
    /// Orders it has working (placed, no terminal report yet); at most [`Self::MAX_WORKING`].
    working: u32,
    /// The resting order it manages, once accepted.
    resting: Option<Resting>,
    last_order_at: Option<Nanos>,
    version: u32,
}

/// A resting order the strategy cancels when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resting {
    id: OrderId,
    since: Nanos,
    cancel_sent: bool,
}

impl ImbalanceTaker {
    /// The name accounts whitelist it by.
    pub const NAME: &'static str = "imbalance";

    /// Orders it has working at once, at most: one in flight at a time.
    pub const MAX_WORKING: u32 = 1;

    /// A strategy instance.
    pub fn new(id: StrategyId, account: AccountId, instrument: InstrumentId, params: ImbalanceParams) -> Self {
        Self {
            id,
            name: Self::NAME,
            account,
            instruments: [instrument, instrument],
            subscribed: 1,
            params,
            rest_for: Nanos::ZERO,
            working: 0,
            resting: None,
            last_order_at: None,
            version: 1,
        }
    }

    /// Rests its orders at its own side of the touch (GTC) and cancels each after `rest_for`
    /// unfilled; `Nanos::ZERO` keeps IOC taker orders.
    pub fn with_resting(mut self, rest_for: Nanos) -> Self {
        self.rest_for = rest_for;
        self
    }

    /// The running parameters.
    pub fn params(&self) -> &ImbalanceParams {
        &self.params
    }

    /// How long its orders rest (`Nanos::ZERO`: IOC).
    pub fn rest_for(&self) -> Nanos {
        self.rest_for
    }

    /// Orders it counts as working.
    pub fn working(&self) -> u32 {
        self.working
    }

    /// The parameters after `patch`, checked against the traded instrument's grid (a view
    /// without the instrument checks only what needs no grid).
    fn patched(&self, patch: &ParamPatch, view: &MarketView<'_>) -> Result<(ImbalanceParams, Nanos), SwapRefused> {
        let mut p = self.params;
        p.qty = patch.qty.unwrap_or(p.qty);
        p.max_position = patch.max_position.unwrap_or(p.max_position);
        p.threshold = patch.threshold.unwrap_or(p.threshold);
        if let Some(levels) = patch.levels {
            p.levels = levels as usize;
        }
        p.cooldown = patch.cooldown.unwrap_or(p.cooldown);
        let rest_for = patch.rest_for.unwrap_or(self.rest_for);
        let on_lot = |q: Qty| q.is_positive() && view.instrument(self.traded()).is_none_or(|i| i.is_on_lot(q));
        if !on_lot(p.qty)
            || !on_lot(p.max_position)
            || view.instrument(self.traded()).is_some_and(|i| p.qty < i.min_qty())
        {
            return Err(SwapRefused::BadQty);
        }
        if p.max_position < p.qty {
            return Err(SwapRefused::PositionBelowQty);
        }
        if p.threshold <= I32F32::ZERO || p.threshold >= I32F32::ONE {
            return Err(SwapRefused::BadThreshold);
        }
        if p.levels == 0 || p.levels > 1000 {
            return Err(SwapRefused::BadLevels);
        }
        if p.cooldown < Nanos::ZERO || rest_for < Nanos::ZERO {
            return Err(SwapRefused::BadDuration);
        }
        Ok((p, rest_for))
    }

    /// Reads the imbalance from `signal`'s book (e.g. another venue's book of the same pair)
    /// and still trades its own instrument.
    pub fn with_signal(mut self, signal: InstrumentId) -> Self {
        self.instruments[1] = signal;
        self.subscribed = if signal == self.instruments[0] { 1 } else { 2 };
        self
    }

    fn traded(&self) -> InstrumentId {
        self.instruments[0]
    }

    fn signal(&self) -> InstrumentId {
        self.instruments[1]
    }

    /// `(bid − ask) / (bid + ask)` in binary fixed-point; `None` when both are zero.
    #[inline]
    pub fn imbalance(bid_qty: Qty, ask_qty: Qty) -> Option<I32F32> {
        let (b, a) = (i128::from(bid_qty.units()), i128::from(ask_qty.units()));
        let total = b + a;
        if total <= 0 {
            return None;
        }
        // |b − a| ≤ total, so the quotient is in [−2^32, 2^32] and fits I32F32's 64 bits.
        let bits = ((b - a) << 32) / total;
        i64::try_from(bits).ok().map(I32F32::from_bits)
    }

    fn order(&self, side: Side, price: Price, qty: Qty) -> OrderRequest {
        let tif = if self.rest_for > Nanos::ZERO { TimeInForce::Gtc } else { TimeInForce::Ioc };
        OrderRequest {
            account: self.account,
            strategy: self.id,
            instrument: self.traded(),
            side,
            order_type: OrderType::Limit,
            tif,
            price,
            qty,
            reduce_only: false,
            stop_price: None,
        }
    }
}

impl Strategy for ImbalanceTaker {
    fn name(&self) -> &str {
        self.name
    }

    fn account(&self) -> AccountId {
        self.account
    }

    fn instruments(&self) -> &[InstrumentId] {
        &self.instruments[..self.subscribed]
    }

    fn on_market(&mut self, view: &MarketView<'_>, ev: &MarketEvent, out: &mut Actions) {
        if !ev.is_batch_end() {
            return;
        }
        // A resting order that has waited long enough is cancelled (once; its report ends it).
        if let Some(r) = self.resting.as_mut()
            && !r.cancel_sent
            && view.now.saturating_sub(r.since) >= self.rest_for
            && out.push(StrategyAction::Cancel(r.id))
        {
            r.cancel_sent = true;
        }
        if ev.instrument != self.signal() || self.working >= Self::MAX_WORKING {
            return;
        }
        if let Some(last) = self.last_order_at
            && view.now.saturating_sub(last) < self.params.cooldown
        {
            return;
        }
        // Priced from a sibling listing's book while the traded venue's is invalid (an outage
        // there): the router sends the order to a healthy sibling.
        let (Some(signal), Some(book)) = (view.book(self.signal()), view.canonical_book(self.traded())) else { return };
        if !signal.is_valid() || !book.is_valid() {
            return;
        }
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else { return };
        let Some(imb) = Self::imbalance(
            signal.qty_within(Side::Buy, self.params.levels),
            signal.qty_within(Side::Sell, self.params.levels),
        ) else {
            return;
        };
        // Across venues: after a failover the strategy's fills land at a sibling listing.
        let position = view.canonical_qty(self.account, self.traded());
        let side = if imb > self.params.threshold {
            Side::Buy
        } else if imb < -self.params.threshold {
            Side::Sell
        } else {
            return;
        };
        let after = position.units().saturating_add(side.sign().saturating_mul(self.params.qty.units()));
        if after.unsigned_abs() > self.params.max_position.units().unsigned_abs() {
            return;
        }
        // Taking: across the spread; resting: joining its own side of the touch.
        let resting = self.rest_for > Nanos::ZERO;
        let price = match (side, resting) {
            (Side::Buy, false) | (Side::Sell, true) => ask.price,
            (Side::Sell, false) | (Side::Buy, true) => bid.price,
        };
        if out.push(StrategyAction::Place(self.order(side, price, self.params.qty))) {
            self.working += 1;
            self.last_order_at = Some(view.now);
        }
    }

    fn on_report(&mut self, view: &MarketView<'_>, report: &ExecutionReport, _out: &mut Actions) {
        let done = match report.kind {
            ReportKind::Fill => report.leaves_qty.is_zero(),
            ReportKind::Canceled | ReportKind::Rejected(_) => true,
            ReportKind::Accepted => {
                if self.rest_for > Nanos::ZERO && self.resting.is_none() {
                    self.resting = Some(Resting { id: report.order_id, since: view.now, cancel_sent: false });
                }
                false
            }
            ReportKind::CancelRejected(_) => false,
        };
        if done {
            self.working = self.working.saturating_sub(1);
            if self.resting.is_some_and(|r| r.id == report.order_id) {
                self.resting = None;
            }
        }
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn check_swap(&self, swap: &StrategySwap, view: &MarketView<'_>) -> Result<(), SwapRefused> {
        self.patched(&swap.params, view).map(|_| ())
    }

    fn swap(&mut self, swap: &StrategySwap, view: &MarketView<'_>) -> Result<SwapApplied, SwapRefused> {
        let (params, rest_for) = self.patched(&swap.params, view)?;
        self.params = params;
        self.rest_for = rest_for;
        self.version = swap.version;
        // What is in flight comes from the engine's order table, not from the old version.
        let mine = || view.orders.iter().filter(|o| o.request.strategy == self.id);
        let working = mine().count() as u32;
        if swap.policy == SwapPolicy::Drop {
            // No hand-over: a fresh instance that knows nothing of the working orders.
            self.working = 0;
            self.resting = None;
            self.last_order_at = None;
            return Ok(SwapApplied { working, adopted: 0 });
        }
        self.working = working;
        // The resting order it manages: the old version's if still working, else the first of
        // its orders in the table (its expiry counted from now); a cancel already sent counts.
        let known = self.resting.and_then(|r| view.orders.get(r.id).map(|o| (r, o)));
        self.resting = match known {
            Some((r, o)) => Some(Resting { cancel_sent: r.cancel_sent || o.status == OrderStatus::PendingCancel, ..r }),
            None => mine().next().map(|o| Resting {
                id: o.id,
                since: view.now,
                cancel_sent: o.status == OrderStatus::PendingCancel,
            }),
        };
        Ok(SwapApplied { working, adopted: working })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imbalance_is_exact_binary_fixed_point() {
        let q = Qty::from_units;
        assert_eq!(ImbalanceTaker::imbalance(q(3), q(1)), Some(I32F32::from_num(0.5)));
        assert_eq!(ImbalanceTaker::imbalance(q(1), q(3)), Some(I32F32::from_num(-0.5)));
        assert_eq!(ImbalanceTaker::imbalance(q(5), q(0)), Some(I32F32::ONE));
        assert_eq!(ImbalanceTaker::imbalance(q(0), q(0)), None);
        assert_eq!(ImbalanceTaker::imbalance(Qty::MAX, Qty::MAX), Some(I32F32::ZERO));
    }

    /// One unit per order, threshold 0.5 over one level, no cooldown.
    fn params(max_position: i64) -> ImbalanceParams {
        ImbalanceParams {
            qty: Qty::from_units(1),
            max_position: Qty::from_units(max_position),
            threshold: I32F32::from_num(0.5),
            levels: 1,
            cooldown: Nanos(0),
        }
    }

    /// A book of `bid_qty` at 100 and `ask_qty` at 101 (units), valid.
    fn book(id: InstrumentId, bid_qty: i64, ask_qty: i64) -> crate::book::Book {
        use crate::event::EventKind;
        let mut b = crate::book::Book::new(id, 16);
        let mut bid =
            MarketEvent::new(id, EventKind::BookSnapshot, Side::Buy, Price::from_units(100), Qty::from_units(bid_qty));
        bid.flags = MarketEvent::CLEAR;
        let mut ask =
            MarketEvent::new(id, EventKind::BookSnapshot, Side::Sell, Price::from_units(101), Qty::from_units(ask_qty));
        ask.flags = MarketEvent::BATCH_END;
        b.apply(&bid).unwrap();
        b.apply(&ask).unwrap();
        b
    }

    /// A view at time 1 over these parts.
    fn view_at<'a>(
        registry: &'a crate::instrument::InstrumentRegistry,
        books: &'a [crate::book::Book],
        positions: &'a crate::position::PositionBook,
        orders: &'a crate::orders::OrderTable,
        siblings: &'a crate::routing::Siblings,
    ) -> MarketView<'a> {
        MarketView { instruments: registry, books, positions, orders, now: Nanos(1), local_now: Nanos(1), siblings }
    }

    /// The end of a batch of book updates of `id`.
    fn batch_end(id: InstrumentId) -> MarketEvent {
        let mut ev =
            MarketEvent::new(id, crate::event::EventKind::BookDelta, Side::Buy, Price::from_units(100), Qty::ZERO);
        ev.flags = MarketEvent::BATCH_END;
        ev
    }

    #[test]
    fn with_a_signal_it_reads_that_book_and_trades_its_own() {
        use crate::instrument::{InstrumentRegistry, InstrumentSpec, Venue};
        let mut registry = InstrumentRegistry::new();
        let traded = registry.add(&InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
        let signal = registry.add(&InstrumentSpec::spot(Venue::Okx, "BTC-USDT", "BTC", "USDT", "1", "1")).unwrap();
        // The traded book is balanced (no signal of its own); the signal book leans to the bid.
        let books = [book(traded, 5, 5), book(signal, 9, 1)];
        let positions = crate::position::PositionBook::new(1, 2);
        let orders = crate::orders::OrderTable::new(4);
        let view = MarketView {
            instruments: &registry,
            books: &books,
            positions: &positions,
            orders: &orders,
            now: Nanos(1),
            local_now: Nanos(1),
            siblings: &crate::routing::NO_SIBLINGS,
        };
        let params = params(10);
        let batch_end = |id| {
            let mut ev =
                MarketEvent::new(id, crate::event::EventKind::BookDelta, Side::Buy, Price::from_units(100), Qty::ZERO);
            ev.flags = MarketEvent::BATCH_END;
            ev
        };
        let mut plain = ImbalanceTaker::new(StrategyId(0), AccountId(0), traded, params);
        let mut out = Actions::default();
        plain.on_market(&view, &batch_end(traded), &mut out);
        assert!(out.is_empty(), "its own book is balanced");

        let mut cross = ImbalanceTaker::new(StrategyId(0), AccountId(0), traded, params).with_signal(signal);
        assert_eq!(cross.instruments(), [traded, signal]);
        cross.on_market(&view, &batch_end(traded), &mut out);
        assert!(out.is_empty(), "only the signal book's updates trigger it");
        cross.on_market(&view, &batch_end(signal), &mut out);
        match out.take(0) {
            Some(StrategyAction::Place(o)) => {
                assert_eq!((o.instrument, o.side, o.price), (traded, Side::Buy, Price::from_units(101)), "{o:?}");
            }
            other => panic!("expected a buy of the traded instrument at its ask, got {other:?}"),
        }
    }

    #[test]
    fn its_position_limit_counts_every_venue_of_the_canonical_instrument() {
        use crate::instrument::{InstrumentRegistry, InstrumentSpec, Venue};
        let mut registry = InstrumentRegistry::new();
        let traded = registry.add(&InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
        let sibling = registry.add(&InstrumentSpec::spot(Venue::Bybit, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
        let mut siblings = crate::routing::Siblings::alone(&registry);
        siblings.add_group(&registry, "BTC/USDT", &[traded, sibling]).unwrap();
        let books = [book(traded, 9, 1), book(sibling, 5, 5)];
        // Its orders were routed to the sibling after a failover: 2 held there, none at home.
        let mut positions = crate::position::PositionBook::new(1, 2);
        let inst = registry.get(sibling).unwrap();
        positions
            .get_mut(AccountId(0), sibling)
            .unwrap()
            .apply_fill(inst, Side::Buy, Price::from_units(101), Qty::from_units(2), crate::money::Notional::ZERO)
            .unwrap();
        let orders = crate::orders::OrderTable::new(4);
        let view = |siblings| view_at(&registry, &books, &positions, &orders, siblings);
        let params = params(2);
        let ev = batch_end(traded);
        let mut out = Actions::default();
        ImbalanceTaker::new(StrategyId(0), AccountId(0), traded, params).on_market(&view(&siblings), &ev, &mut out);
        assert!(out.is_empty(), "at its limit across venues");
        // Without the canonical grouping the same view would let it buy past the limit.
        ImbalanceTaker::new(StrategyId(0), AccountId(0), traded, params).on_market(
            &view(&crate::routing::NO_SIBLINGS),
            &ev,
            &mut out,
        );
        assert!(!out.is_empty());
    }

    #[test]
    fn with_its_own_book_invalid_it_prices_from_a_valid_sibling_listing() {
        use crate::instrument::{InstrumentRegistry, InstrumentSpec, Venue};
        let mut registry = InstrumentRegistry::new();
        let traded = registry.add(&InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
        let sibling = registry.add(&InstrumentSpec::spot(Venue::Bybit, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
        let signal = registry.add(&InstrumentSpec::spot(Venue::Okx, "BTC-USDT", "BTC", "USDT", "1", "1")).unwrap();
        let mut siblings = crate::routing::Siblings::alone(&registry);
        siblings.add_group(&registry, "BTC/USDT", &[traded, sibling]).unwrap();
        // The traded venue's book is down (never valid); its sibling's and the signal's are up.
        let books = [crate::book::Book::new(traded, 16), book(sibling, 5, 5), book(signal, 9, 1)];
        let positions = crate::position::PositionBook::new(1, 3);
        let orders = crate::orders::OrderTable::new(4);
        let view = |siblings| view_at(&registry, &books, &positions, &orders, siblings);
        let ev = batch_end(signal);
        let mut out = Actions::default();
        let mut alone = ImbalanceTaker::new(StrategyId(0), AccountId(0), traded, params(10)).with_signal(signal);
        alone.on_market(&view(&crate::routing::NO_SIBLINGS), &ev, &mut out);
        assert!(out.is_empty(), "no listing elsewhere: nothing to price from");
        let mut listed = ImbalanceTaker::new(StrategyId(0), AccountId(0), traded, params(10)).with_signal(signal);
        listed.on_market(&view(&siblings), &ev, &mut out);
        match out.take(0) {
            Some(StrategyAction::Place(o)) => {
                assert_eq!((o.instrument, o.side, o.price), (traded, Side::Buy, Price::from_units(101)), "{o:?}");
            }
            other => panic!("expected a buy priced from the sibling's ask, got {other:?}"),
        }
    }

    #[test]
    fn resting_it_joins_its_side_of_the_touch_and_cancels_after_rest_for_once() {
        use crate::instrument::{InstrumentRegistry, InstrumentSpec, Venue};
        let mut registry = InstrumentRegistry::new();
        let id = registry.add(&InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
        let books = [book(id, 9, 1)];
        let positions = crate::position::PositionBook::new(1, 1);
        let orders = crate::orders::OrderTable::new(4);
        let at = |now| MarketView {
            instruments: &registry,
            books: &books,
            positions: &positions,
            orders: &orders,
            now: Nanos(now),
            local_now: Nanos(now),
            siblings: &crate::routing::NO_SIBLINGS,
        };
        let mut taker = ImbalanceTaker::new(StrategyId(0), AccountId(0), id, params(10)).with_resting(Nanos(100));
        let mut out = Actions::default();
        taker.on_market(&at(1), &batch_end(id), &mut out);
        let Some(StrategyAction::Place(o)) = out.take(0) else { panic!("a resting buy") };
        assert_eq!((o.tif, o.price), (TimeInForce::Gtc, Price::from_units(100)), "joins the bid");
        out.clear();
        let accepted = ExecutionReport::status(OrderId(7), &o, crate::ids::VenueId(0), ReportKind::Accepted, Nanos(1));
        taker.on_report(&at(1), &accepted, &mut out);
        taker.on_market(&at(50), &batch_end(id), &mut out);
        assert!(out.is_empty(), "still resting, and one order at a time");
        taker.on_market(&at(101), &batch_end(id), &mut out);
        assert_eq!(out.take(0), Some(StrategyAction::Cancel(OrderId(7))));
        out.clear();
        taker.on_market(&at(200), &batch_end(id), &mut out);
        assert!(out.is_empty(), "the cancel is sent once; the order is in flight until its report");
        let canceled = ExecutionReport::status(OrderId(7), &o, crate::ids::VenueId(0), ReportKind::Canceled, Nanos(2));
        taker.on_report(&at(201), &canceled, &mut out);
        taker.on_market(&at(202), &batch_end(id), &mut out);
        assert!(matches!(out.take(0), Some(StrategyAction::Place(_))), "free to place again");
    }
}
