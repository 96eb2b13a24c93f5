//! One simulated market: a [`MatchingEngine`] plus its [`SyntheticFlow`] for one instrument —
//! the unit the sim venue thread drives.
//!
//! Owned by the sim venue thread. The thread interleaves [`SimExchange::step`] (the background
//! event due at [`SimExchange::next_event_time`]) with client orders and cancels at its own sim
//! time; all callbacks go synchronously to the caller's [`MatchSink`]. Deterministic: the same
//! instrument, fees, parameters and seed with the same sequence of calls produce identical
//! callbacks. Never blocks; allocates only as the book, the client-order map or the flow's
//! live-order list grow (see [`crate::exchange::matching`]).

use crate::exchange::flow::{FlowAction, FlowParams, SyntheticFlow};
use crate::exchange::matching::{
    FeeSchedule, Fill, MatchSink, MatchingEngine, NewOrder, OrderDone, Owner, RestingOrderInfo,
};
use qt_core::{AccountId, Instrument, Nanos, OrderId, OrderRequest, Price, Qty, RejectReason, Side};
use std::collections::HashMap;

/// A simulated market for one instrument: matching engine and background flow.
#[derive(Debug)]
pub struct SimExchange {
    engine: MatchingEngine,
    flow: SyntheticFlow,
    /// Open client orders: (account, client order id) → venue order id.
    clients: HashMap<(AccountId, OrderId), u64>,
    /// Scratch for the initial book.
    scratch: Vec<NewOrder>,
    /// Scratch for order ids (backtest levels).
    scratch_ids: Vec<u64>,
}

impl SimExchange {
    /// A market for `instrument` with `fees`, background flow from `flow_params` seeded by
    /// `seed`; the book starts empty (see [`Self::seed_book`]). Fails, naming the parameter, on bad
    /// flow parameters.
    pub fn new(instrument: Instrument, fees: FeeSchedule, flow_params: FlowParams, seed: u64) -> Result<Self, String> {
        let flow = SyntheticFlow::new(&instrument, flow_params, seed)?;
        Ok(Self {
            engine: MatchingEngine::new(instrument, fees),
            flow,
            clients: HashMap::new(),
            scratch: Vec::new(),
            scratch_ids: Vec::new(),
        })
    }

    /// The matching engine (book, orders, levels).
    pub fn engine(&self) -> &MatchingEngine {
        &self.engine
    }

    /// The background flow (fair value, parameters).
    pub fn flow(&self) -> &SyntheticFlow {
        &self.flow
    }

    /// Makes the background flow follow `shocks` ([`crate::exchange::shock`]).
    pub fn set_shocks(&mut self, shocks: crate::exchange::shock::ShockSchedule) {
        self.flow.set_shocks(shocks);
    }

    /// The instrument.
    pub fn instrument(&self) -> &Instrument {
        self.engine.instrument()
    }

    /// Lays down the initial background book (`seed_levels` levels per side around the start
    /// mid) at the flow's start time; returns the number of orders placed.
    pub fn seed_book<S: MatchSink + ?Sized>(&mut self, sink: &mut S) -> usize {
        let mut orders = std::mem::take(&mut self.scratch);
        orders.clear();
        self.flow.seed_orders(&mut orders);
        let at = self.flow.start_time();
        let mut placed = 0;
        for order in &orders {
            let mut tap = Tap { inner: &mut *sink, flow: &mut self.flow, clients: &mut self.clients };
            match self.engine.submit(*order, at, &mut tap) {
                Ok(_) => placed += 1,
                Err(e) => log::debug!("sim seed order {order:?} rejected: {e:?}"),
            }
        }
        self.scratch = orders;
        placed
    }

    /// When the next background event is due.
    pub fn next_event_time(&self) -> Nanos {
        self.flow.next_event_time()
    }

    /// Applies the next background event at its scheduled time and returns that time.
    pub fn step<S: MatchSink + ?Sized>(&mut self, sink: &mut S) -> Nanos {
        let at = self.flow.next_event_time();
        let action = self.flow.next_action(&self.engine);
        let mut tap = Tap { inner: sink, flow: &mut self.flow, clients: &mut self.clients };
        match action {
            FlowAction::Submit(order) => {
                if let Err(e) = self.engine.submit(order, at, &mut tap) {
                    log::debug!("sim background order {order:?} rejected: {e:?}");
                }
            }
            FlowAction::Cancel(venue_id) => {
                if self.engine.cancel(venue_id, at, &mut tap).is_err() {
                    tap.flow.forget_order(venue_id);
                }
            }
        }
        at
    }

    /// Submits a client order (`order_id` is the client's id, unique among its open orders) at
    /// sim time `now`. Rejects an order for another instrument (`UnknownInstrument`) or reusing an
    /// open order's id (`Other`); `reduce_only` and `stop_price` are not simulated.
    pub fn submit_client<S: MatchSink + ?Sized>(
        &mut self,
        order_id: OrderId,
        request: &OrderRequest,
        now: Nanos,
        sink: &mut S,
    ) -> Result<u64, RejectReason> {
        if request.instrument != self.engine.instrument().id() {
            return Err(RejectReason::UnknownInstrument);
        }
        if self.clients.contains_key(&(request.account, order_id)) {
            return Err(RejectReason::Other);
        }
        let order = NewOrder {
            owner: Owner::Client { account: request.account, order_id },
            side: request.side,
            order_type: request.order_type,
            tif: request.tif,
            price: request.price,
            qty: request.qty,
        };
        let mut tap = Tap { inner: sink, flow: &mut self.flow, clients: &mut self.clients };
        self.engine.submit(order, now, &mut tap)
    }

    /// Cancels an open client order by its client order id.
    pub fn cancel_client<S: MatchSink + ?Sized>(
        &mut self,
        account: AccountId,
        order_id: OrderId,
        now: Nanos,
        sink: &mut S,
    ) -> Result<RestingOrderInfo, RejectReason> {
        let venue_id = *self.clients.get(&(account, order_id)).ok_or(RejectReason::UnknownOrder)?;
        let mut tap = Tap { inner: sink, flow: &mut self.flow, clients: &mut self.clients };
        self.engine.cancel(venue_id, now, &mut tap)
    }

    /// Cancels every open order of `account`; returns how many.
    pub fn cancel_all_client<S: MatchSink + ?Sized>(&mut self, account: AccountId, now: Nanos, sink: &mut S) -> usize {
        let mut tap = Tap { inner: sink, flow: &mut self.flow, clients: &mut self.clients };
        self.engine.cancel_all_for(account, now, &mut tap)
    }

    /// The venue id of an open client order.
    pub fn venue_order_id(&self, account: AccountId, order_id: OrderId) -> Option<u64> {
        self.clients.get(&(account, order_id)).copied()
    }

    /// Backtests: makes the background liquidity at `price` on `side` exactly `qty`, as a
    /// recorded book says (zero removes it). Stale background levels of the other side that the
    /// new level would cross are removed first (a recorded book is not crossed), so only client
    /// orders can trade with it: a client order resting at or through `price` fills against it,
    /// as a real order would when the market moves through it. The level's queue position is
    /// not modelled (it is replaced by one order).
    pub fn mirror_level<S: MatchSink + ?Sized>(
        &mut self,
        side: Side,
        price: Price,
        qty: Qty,
        now: Nanos,
        sink: &mut S,
    ) {
        let crossed = |p: Price| match side {
            Side::Buy => p <= price,
            Side::Sell => p >= price,
        };
        let mut stale = std::mem::take(&mut self.scratch_ids);
        stale.clear();
        let other: Vec<Price> =
            self.engine.levels(side.opposite()).map(|(p, _)| p).take_while(|p| crossed(*p)).collect();
        for p in other {
            stale.extend(self.background_at(side.opposite(), p));
        }
        stale.extend(self.background_at(side, price));
        let mut tap = Tap { inner: &mut *sink, flow: &mut self.flow, clients: &mut self.clients };
        for venue_id in &stale {
            let _ = self.engine.cancel(*venue_id, now, &mut tap);
        }
        self.scratch_ids = stale;
        if qty > Qty::ZERO {
            let order = NewOrder::limit(Owner::Background, side, qt_core::TimeInForce::Gtc, price, qty);
            if let Err(e) = self.engine.submit(order, now, &mut tap) {
                log::debug!("backtest level {side:?} {price:?} {qty:?} refused: {e:?}");
            }
        }
    }

    /// Backtests: removes every background order (a recorded snapshot replaces the book).
    pub fn clear_background<S: MatchSink + ?Sized>(&mut self, now: Nanos, sink: &mut S) {
        let mut ids = std::mem::take(&mut self.scratch_ids);
        ids.clear();
        for side in [Side::Buy, Side::Sell] {
            let prices: Vec<Price> = self.engine.levels(side).map(|(p, _)| p).collect();
            for p in prices {
                ids.extend(self.background_at(side, p));
            }
        }
        let mut tap = Tap { inner: sink, flow: &mut self.flow, clients: &mut self.clients };
        for venue_id in &ids {
            let _ = self.engine.cancel(*venue_id, now, &mut tap);
        }
        self.scratch_ids = ids;
    }

    /// Venue ids of the background orders at one level.
    fn background_at(&self, side: Side, price: Price) -> impl Iterator<Item = u64> + '_ {
        self.engine.queue(side, price).filter(|o| o.owner == Owner::Background).map(|o| o.venue_id)
    }
}

/// Forwards every callback to the caller's sink and keeps the flow's live-order list and the
/// client-order map in step with the engine.
struct Tap<'a, S: ?Sized> {
    inner: &'a mut S,
    flow: &'a mut SyntheticFlow,
    clients: &'a mut HashMap<(AccountId, OrderId), u64>,
}

impl<S: MatchSink + ?Sized> MatchSink for Tap<'_, S> {
    fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, ts: Nanos) {
        match order.owner {
            Owner::Background => self.flow.track_order(venue_id),
            Owner::Client { account, order_id } => {
                self.clients.insert((account, order_id), venue_id);
            }
        }
        self.inner.on_accepted(venue_id, order, ts);
    }

    fn on_fill(&mut self, fill: &Fill) {
        self.inner.on_fill(fill);
    }

    fn on_done(&mut self, done: &OrderDone) {
        match done.owner {
            Owner::Background => self.flow.forget_order(done.venue_id),
            Owner::Client { account, order_id } => {
                self.clients.remove(&(account, order_id));
            }
        }
        self.inner.on_done(done);
    }

    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        self.inner.on_level(side, price, qty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentId, InstrumentKind, InstrumentSpec, OrderType, Rate, StrategyId, TimeInForce, Venue};
    use std::collections::BTreeMap;
    use std::fmt::Write;

    fn instrument() -> Instrument {
        Instrument::from_spec(
            InstrumentId(3),
            &InstrumentSpec {
                venue: Venue::Sim,
                symbol: "BTCUSDT".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                kind: InstrumentKind::Spot,
                tick_size: "0.1".into(),
                lot_size: "0.0001".into(),
                min_qty: None,
                min_notional: Some("5".into()),
                multiplier: None,
                price_scale: None,
                qty_scale: None,
            },
        )
        .unwrap()
    }

    fn exchange(seed: u64) -> SimExchange {
        let inst = instrument();
        let params = FlowParams { start_mid: Some(inst.parse_price("60000").unwrap()), ..FlowParams::default() };
        let fees = FeeSchedule { maker: Rate::from_bps(-1), taker: Rate::from_bps(4) };
        SimExchange::new(inst, fees, params, seed).unwrap()
    }

    fn request(side: Side, order_type: OrderType, tif: TimeInForce, price: Price, qty: Qty) -> OrderRequest {
        OrderRequest {
            account: AccountId(1),
            strategy: StrategyId(0),
            instrument: InstrumentId(3),
            side,
            order_type,
            tif,
            price,
            qty,
            reduce_only: false,
            stop_price: None,
        }
    }

    /// Writes every callback as a line of text.
    #[derive(Default)]
    struct Log(String);

    impl MatchSink for Log {
        fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, ts: Nanos) {
            let _ = writeln!(self.0, "A {venue_id} {order:?} {ts:?}");
        }
        fn on_fill(&mut self, fill: &Fill) {
            let _ = writeln!(self.0, "F {fill:?}");
        }
        fn on_done(&mut self, done: &OrderDone) {
            let _ = writeln!(self.0, "D {done:?}");
        }
        fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
            let _ = writeln!(self.0, "L {side:?} {price:?} {qty:?}");
        }
    }

    /// Replays one scripted session: seed, background steps, client orders and cancels.
    fn session(seed: u64) -> String {
        let mut x = exchange(seed);
        let mut log = Log::default();
        x.seed_book(&mut log);
        let mut oid = 0;
        for i in 0..3_000 {
            let now = x.step(&mut log);
            if i % 50 == 0 {
                oid += 1;
                let (bid, _) = x.engine().best_bid().unwrap();
                let side = if oid % 2 == 0 { Side::Buy } else { Side::Sell };
                let qty = x.instrument().parse_qty("0.01").unwrap();
                let req = request(side, OrderType::Limit, TimeInForce::Gtc, bid, qty);
                let _ = x.submit_client(OrderId(oid), &req, now, &mut log);
            }
            if i % 120 == 0 && oid > 2 {
                let _ = x.cancel_client(AccountId(1), OrderId(oid - 2), now, &mut log);
            }
        }
        log.0
    }

    #[test]
    fn same_seed_same_calls_identical_callbacks() {
        let a = session(11);
        assert!(a.lines().filter(|l| l.starts_with('F')).count() > 100);
        assert!(a.contains("Client"));
        assert_eq!(a, session(11));
        assert_ne!(a, session(12));
    }

    #[test]
    fn client_orders_and_cancels() {
        let mut x = exchange(5);
        x.seed_book(&mut Log::default());
        let inst = x.instrument().clone();
        let (bid, _) = x.engine().best_bid().unwrap();
        let below = Price::from_units(bid.units() - 10 * inst.tick().units());
        let qty = inst.parse_qty("0.01").unwrap();
        let now = x.next_event_time();
        let req = request(Side::Buy, OrderType::Limit, TimeInForce::Gtc, below, qty);
        let id = x.submit_client(OrderId(1), &req, now, &mut Log::default()).unwrap();
        assert_eq!(x.venue_order_id(AccountId(1), OrderId(1)), Some(id));
        assert_eq!(x.submit_client(OrderId(1), &req, now, &mut Log::default()), Err(RejectReason::Other));
        let other = OrderRequest { instrument: InstrumentId(9), ..req };
        assert_eq!(x.submit_client(OrderId(2), &other, now, &mut Log::default()), Err(RejectReason::UnknownInstrument));
        let info = x.cancel_client(AccountId(1), OrderId(1), now, &mut Log::default()).unwrap();
        assert_eq!(info.venue_id, id);
        assert_eq!(x.venue_order_id(AccountId(1), OrderId(1)), None);
        assert_eq!(
            x.cancel_client(AccountId(1), OrderId(1), now, &mut Log::default()),
            Err(RejectReason::UnknownOrder)
        );
        // A marketable client order trades with the background and is then forgotten.
        let mut log = Log::default();
        let buy = request(Side::Buy, OrderType::Market, TimeInForce::Ioc, Price::ZERO, qty);
        x.submit_client(OrderId(3), &buy, now, &mut log).unwrap();
        assert!(log.0.contains("F Fill"), "{}", log.0);
        assert_eq!(x.venue_order_id(AccountId(1), OrderId(3)), None);
        for n in 10..13 {
            x.submit_client(OrderId(n), &req, now, &mut Log::default()).unwrap();
        }
        assert_eq!(x.cancel_all_client(AccountId(1), now, &mut Log::default()), 3);
        assert_eq!(x.engine().open_orders_of(AccountId(1)).count(), 0);
    }

    /// Rebuilds the public book from level callbacks and counts trades.
    #[derive(Default)]
    struct Tape {
        l2: [BTreeMap<i64, i64>; 2],
        trades: usize,
        volume: i64,
    }

    impl MatchSink for Tape {
        fn on_fill(&mut self, fill: &Fill) {
            self.trades += 1;
            self.volume += fill.qty.units();
        }
        fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
            if qty.is_zero() {
                self.l2[side as usize].remove(&price.units());
            } else {
                self.l2[side as usize].insert(price.units(), qty.units());
            }
        }
    }

    /// Mid and spread (ticks) of `x`'s book.
    fn touch(x: &SimExchange) -> Option<(i64, i64)> {
        let e = x.engine();
        let ((bid, _), (ask, _)) = (e.best_bid()?, e.best_ask()?);
        Some(((bid.units() + ask.units()) / 2, (ask.units() - bid.units()) / x.instrument().tick().units()))
    }

    #[test]
    fn a_shock_moves_the_book_with_the_fair_value_and_thins_it_an_empty_schedule_changes_nothing() {
        use crate::exchange::shock::{Shock, ShockSchedule};
        let start = Nanos(FlowParams::default().start_time_ns);
        let second = Nanos::SECOND.0;
        // An empty schedule: the same callbacks as no schedule at all.
        let (mut plain, mut empty) = (exchange(9), exchange(9));
        empty.set_shocks(ShockSchedule::for_market(&[], InstrumentId(3), start));
        let (mut a, mut b) = (Log::default(), Log::default());
        plain.seed_book(&mut a);
        empty.seed_book(&mut b);
        for _ in 0..5_000 {
            plain.step(&mut a);
            empty.step(&mut b);
        }
        assert_eq!(a.0, b.0);
        // A crash: −10 % over 1 s from +1 s, spread ×10 and sizes ÷20 for 3 s.
        let crash = Shock {
            at: Nanos(second),
            ramp: Nanos(second),
            fair_move: -0.10,
            hold: Nanos(3 * second),
            spread: 10.0,
            bid_size: 0.05,
            ask_size: 0.05,
            ..Shock::default()
        };
        let mut x = exchange(9);
        x.set_shocks(ShockSchedule::for_market(&[crash], InstrumentId(3), start));
        let mut tape = Tape::default();
        x.seed_book(&mut tape);
        let (mut calm, mut shocked) = (Vec::new(), Vec::new());
        loop {
            let at = x.step(&mut tape).saturating_sub(start).0;
            if at > 4 * second {
                break;
            }
            if let Some((_, spread)) = touch(&x) {
                if at < second {
                    calm.push(spread);
                } else if at > 2 * second + second / 2 {
                    shocked.push(spread);
                }
            }
        }
        let fair = x.flow().fair_price().units();
        let start_mid = x.instrument().parse_price("60000").unwrap().units();
        assert!((fair as f64 / start_mid as f64 - 0.90).abs() < 0.01, "fair {fair} after a 10 % fall from {start_mid}");
        let (mid, _) = touch(&x).expect("a two-sided book");
        assert!(((mid - fair) as f64 / fair as f64).abs() < 0.005, "the book follows: mid {mid}, fair {fair}");
        let median = |v: &mut Vec<i64>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        let (calm, shocked) = (median(&mut calm), median(&mut shocked));
        assert!(shocked >= 4 * calm.max(1), "spread {calm} ticks before, {shocked} in the shock");
    }

    #[test]
    fn long_run_stays_sane() {
        let mut x = exchange(2024);
        let mut tape = Tape::default();
        assert!(x.seed_book(&mut tape) >= 40);
        let tick = x.instrument().tick().units();
        let start = x.instrument().parse_price("60000").unwrap().units();
        let steps = 200_000;
        let (mut two_sided, mut last, mut max_gap, mut spread_sum, mut spread_n) = (0, Nanos::ZERO, 0i64, 0i64, 0i64);
        let (mut min_spread, mut max_spread) = (i64::MAX, 0);
        for i in 0..steps {
            let at = x.step(&mut tape);
            assert!(at > last);
            last = at;
            let e = x.engine();
            if let (Some((bid, _)), Some((ask, _))) = (e.best_bid(), e.best_ask()) {
                assert!(bid < ask, "crossed at step {i}: {bid:?} / {ask:?}");
                assert!(bid.is_positive() && bid.units() % tick == 0);
                two_sided += 1;
                let spread = (ask.units() - bid.units()) / tick;
                spread_sum += spread;
                spread_n += 1;
                min_spread = min_spread.min(spread);
                max_spread = max_spread.max(spread);
                let mid = (bid.units() + ask.units()) / 2;
                assert!((mid - start).abs() < start / 5, "mid {mid} drifted far from {start}");
                max_gap = max_gap.max((mid - x.flow().fair_price().units()).abs() / tick);
            }
            if i % 20_000 == 0 {
                e.check_invariants().unwrap();
                assert_eq!(x.flow().live_orders(), e.order_count(), "flow tracks exactly the resting orders");
            }
        }
        let e = x.engine();
        e.check_invariants().unwrap();
        for side in [Side::Buy, Side::Sell] {
            let levels: BTreeMap<i64, i64> = e.levels(side).map(|(p, q)| (p.units(), q.units())).collect();
            assert_eq!(tape.l2[side as usize], levels);
        }
        let depth = e.order_count();
        let mean_spread = spread_sum as f64 / spread_n as f64;
        eprintln!(
            "two-sided {two_sided}/{steps}, trades {}, volume {}, orders {depth}, spread mean {mean_spread:.2} min {min_spread} max {max_spread}, max |mid-fair| {max_gap} ticks, fair {:?}",
            tape.trades,
            tape.volume,
            x.flow().fair_price()
        );
        assert!(two_sided > steps * 99 / 100);
        assert!(tape.trades > steps / 20, "real trade flow: {} trades", tape.trades);
        assert!((50..2_000).contains(&depth), "depth {depth}");
        assert!(max_spread > min_spread, "spread varies");
        assert!(max_gap < 200, "mid tracks fair: max gap {max_gap} ticks");
        assert!(last.0 > x.flow().start_time().0);
    }
}
