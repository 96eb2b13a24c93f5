//! The emergency stop in the engine: trip it, then a strategy that signals on every market
//! event for 100 000 events gets no order out of the core; every open order is cancelled and
//! every position flattened (reduce-only, within the slippage cap); an unauthenticated or
//! replayed reset is refused and trading stays halted; an authenticated reset lets orders flow.
//!
//! One thread: the test drives `Engine::do_work` and plays the venue on the rings after every
//! iteration — two orders in three fill at once, the third rests until cancelled, reduce-only orders
//! fill at their limit.

mod util;

use qt_core::engine::ControlCommand;
use qt_core::queue::{Consumer, Producer, spsc};
use qt_core::strategy::{Actions, StrategyAction};
use qt_core::sys::Pinning;
use qt_core::{
    AccountId, BlockReason, Engine, EngineConfig, EventKind, ExecutionReport, FeedSource, InlineText, MarketEvent,
    MarketView, Nanos, OrderCommand, OrderId, OrderRequest, OrderType, RISK_STRATEGY, ReportKind, RiskCommand,
    RiskReply, Side, SimClock, Strategy, StrategyId, TimeInForce, VenueId, feed_source::FeedState,
};
use qt_risk::ess::ResetToken;
use qt_risk::global_level::{GlobalRisk, GlobalRiskConfig};
use qt_risk::{GateSettings, RiskGate};
use std::sync::Arc;
use util::*;

/// One BTC delta per poll, one millisecond of domain time apart, quotes fixed at 9999.9/10000.1.
struct Ticker {
    clock: SimClock,
    t: Nanos,
    sent: u64,
}

impl FeedSource for Ticker {
    fn name(&self) -> &str {
        "ticker"
    }
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        self.t = Nanos(self.t.0 + Nanos::MILLI.0);
        self.clock.advance_to(self.t);
        let (side, price) = if self.sent.is_multiple_of(2) { (Side::Buy, 99_999) } else { (Side::Sell, 100_001) };
        let kind = if self.sent < 2 { EventKind::BookSnapshot } else { EventKind::BookDelta };
        let mut ev = MarketEvent::new(
            BTC,
            kind,
            side,
            qt_core::Price::from_units(price),
            qt_core::Qty::from_units(1_000_000 + (self.sent % 7) as i64),
        );
        ev.exchange_ns = self.t;
        ev.local_ns = local_now;
        ev.flags = match self.sent {
            0 => MarketEvent::CLEAR,
            _ => MarketEvent::BATCH_END,
        };
        self.sent += 1;
        sink(&ev);
        1
    }
    fn state(&self) -> FeedState {
        FeedState::Live
    }
}

/// Buys one lot at the ask on every event, for its account.
struct Mad {
    id: StrategyId,
    account: AccountId,
    instruments: [qt_core::InstrumentId; 1],
}

impl Strategy for Mad {
    fn name(&self) -> &str {
        "mad"
    }
    fn account(&self) -> AccountId {
        self.account
    }
    fn instruments(&self) -> &[qt_core::InstrumentId] {
        &self.instruments
    }
    fn on_market(&mut self, view: &MarketView<'_>, ev: &MarketEvent, out: &mut Actions) {
        let Some(ask) = view.book(ev.instrument).and_then(|b| b.best_ask()) else { return };
        out.push(StrategyAction::Place(OrderRequest {
            account: self.account,
            strategy: self.id,
            instrument: ev.instrument,
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: ask.price,
            qty: qt_core::Qty::from_units(1),
            reduce_only: false,
            stop_price: None,
        }));
    }
    fn on_report(&mut self, _: &MarketView<'_>, _: &ExecutionReport, _: &mut Actions) {}
}

struct Rig {
    engine: Engine<RiskGate>,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    resting: Vec<(OrderId, OrderRequest)>,
    control: crossbeam_channel::Sender<ControlCommand>,
    replies: crossbeam_channel::Receiver<(u64, RiskReply)>,
    /// New orders from strategies / from the risk component seen by the venue.
    strategy_orders: u64,
    flatten_orders: u64,
    cancel_alls: u64,
    next_id: u64,
}

impl Rig {
    fn new() -> Self {
        let world = World::new();
        let clock = SimClock::new(world.now);
        let settings = GateSettings { flatten_retry: Nanos(50 * Nanos::MILLI.0), ..GateSettings::default() };
        let mut a = spec("a", relaxed(), "1000000");
        let mut b = spec("b", relaxed(), "1000000");
        a.strategies = vec![StrategyId(0)];
        b.strategies = vec![StrategyId(1)];
        let gate =
            RiskGate::new(vec![a, b], settings, ess(), GlobalRisk::new(GlobalRiskConfig::default()).unwrap()).unwrap();
        let cfg = EngineConfig { accounts: 2, housekeeping_interval: Nanos(0), ..EngineConfig::default() };
        let mut engine = Engine::new(cfg, world.instruments.clone(), gate, Arc::new(clock.clone()));
        engine.add_feed(Box::new(Ticker { clock, t: world.now, sent: 0 }));
        let (orders_tx, orders) = spsc(4096);
        let (reports, reports_rx) = spsc(4096);
        engine.add_venue(orders_tx, reports_rx, &[BTC, ETH]);
        for (k, account) in [(0u16, 0u16), (1, 1)] {
            engine.add_strategy(Box::new(Mad { id: StrategyId(k), account: AccountId(account), instruments: [BTC] }));
        }
        let (control, rx) = crossbeam_channel::bounded(16);
        engine.set_control(rx);
        let (tx, replies) = crossbeam_channel::bounded(16);
        engine.set_control_replies(tx);
        Self {
            engine,
            orders,
            reports,
            resting: Vec::new(),
            control,
            replies,
            strategy_orders: 0,
            flatten_orders: 0,
            cancel_alls: 0,
            next_id: 0,
        }
    }

    fn events(&self) -> u64 {
        self.engine.counters().market_events.get()
    }

    /// Runs until `n` more market events went through, serving the venue after each iteration.
    fn run(&mut self, n: u64) {
        let target = self.events() + n;
        while self.events() < target {
            self.engine.do_work();
            self.serve();
        }
        // Let the last reports and the timer settle.
        for _ in 0..4 {
            self.engine.do_work();
            self.serve();
        }
    }

    fn serve(&mut self) {
        while let Ok(cmd) = self.orders.pop() {
            match cmd {
                OrderCommand::New { order_id, request, .. } => {
                    self.next_id += 1;
                    let now = Nanos(0);
                    if request.strategy == RISK_STRATEGY {
                        self.flatten_orders += 1;
                    } else {
                        self.strategy_orders += 1;
                    }
                    let mut r = ExecutionReport::status(order_id, &request, VenueId(0), ReportKind::Accepted, now);
                    if request.reduce_only || !self.next_id.is_multiple_of(3) {
                        r.kind = ReportKind::Fill;
                        r.last_price = request.price;
                        r.last_qty = request.qty;
                        r.cum_qty = request.qty;
                    } else {
                        r.leaves_qty = request.qty;
                        self.resting.push((order_id, request));
                    }
                    self.reports.push(r).unwrap();
                }
                OrderCommand::CancelAll { account, .. } => {
                    self.cancel_alls += 1;
                    let (gone, keep): (Vec<_>, Vec<_>) =
                        self.resting.drain(..).partition(|(_, req)| req.account == account);
                    self.resting = keep;
                    for (id, req) in gone {
                        let r = ExecutionReport::status(id, &req, VenueId(0), ReportKind::Canceled, Nanos(0));
                        self.reports.push(r).unwrap();
                    }
                }
                OrderCommand::Cancel { order_id, .. } => {
                    if let Some(k) = self.resting.iter().position(|(id, _)| *id == order_id) {
                        let (id, req) = self.resting.remove(k);
                        let r = ExecutionReport::status(id, &req, VenueId(0), ReportKind::Canceled, Nanos(0));
                        self.reports.push(r).unwrap();
                    }
                }
            }
        }
    }

    fn command(&mut self, id: u64, command: RiskCommand) -> RiskReply {
        self.control.send(ControlCommand::Risk { id, command }).unwrap();
        for _ in 0..1000 {
            self.engine.do_work();
            self.serve();
            if let Ok((got, reply)) = self.replies.try_recv() {
                assert_eq!(got, id);
                return reply;
            }
        }
        panic!("no reply to command {id}");
    }

    fn open_orders(&self) -> usize {
        self.engine.report(Pinning::NotRequested, Nanos(0)).open_orders
    }
}

fn reset(operator: &str, secret: &[u8], timestamp_ms: i64) -> RiskCommand {
    let token = ResetToken::sign(secret, operator, timestamp_ms).unwrap();
    RiskCommand::EssReset {
        operator: InlineText::new(operator),
        timestamp_ms,
        mac: token.mac,
        received_unix_ms: timestamp_ms + 5,
    }
}

#[test]
fn tripped_stop_holds_against_a_mad_strategy_and_only_an_authenticated_reset_lifts_it() {
    let mut rig = Rig::new();
    rig.run(400);
    assert!(rig.strategy_orders > 300, "orders flowed before the trip: {}", rig.strategy_orders);
    assert!(rig.open_orders() > 50, "resting orders before the trip: {}", rig.open_orders());
    for a in [0, 1] {
        assert!(rig.engine.position(AccountId(a), BTC).qty().is_positive(), "account {a} holds a long");
    }

    let reply = rig.command(1, RiskCommand::EssTrigger { reason: InlineText::new("test: mad strategy") });
    assert!(reply.ok && reply.text.as_str().contains("TRIGGERED"), "{}", reply.text);
    let before = rig.strategy_orders;
    let blocked0 = rig.engine.counters().risk_block.get(BlockReason::EmergencyStop).get();
    rig.run(100_000);
    assert_eq!(rig.strategy_orders - before, 0, "no strategy order may leave the core while halted");
    let blocked = rig.engine.counters().risk_block.get(BlockReason::EmergencyStop).get() - blocked0;
    assert!(blocked >= 2 * 100_000, "every signal was blocked by the stop: {blocked}");
    assert_eq!(rig.cancel_alls, 2, "cancel-all sent once per account");
    assert_eq!(rig.open_orders(), 0, "all open orders cancelled");
    assert!(rig.flatten_orders >= 2, "flatten orders sent: {}", rig.flatten_orders);
    for a in [0, 1] {
        assert!(rig.engine.position(AccountId(a), BTC).qty().is_zero(), "account {a} flattened");
    }
    let counters = rig.engine.risk().counters();
    assert_eq!(counters.triggers(qt_risk::ess::TriggerSource::Manual).get(), 1);

    // Wrong secret: refused, still halted.
    let now_ms = 1_767_225_600_000 + 200_000;
    let reply = rig.command(2, reset("alice", b"not-the-secret-0123456789", now_ms));
    assert!(!reply.ok && reply.text.as_str().contains("not authenticated"), "{}", reply.text);
    let before = rig.strategy_orders;
    rig.run(1_000);
    assert_eq!(rig.strategy_orders, before, "an unauthenticated reset must not lift the stop");

    // The right secret: accepted; the same token again is a replay.
    let good = reset("alice", SECRET, now_ms);
    let reply = rig.command(3, good);
    assert!(reply.ok && reply.text.as_str().contains("reset by alice"), "{}", reply.text);
    rig.run(1_000);
    assert!(rig.strategy_orders - before > 500, "orders flow again after the reset");
    rig.command(4, RiskCommand::EssTrigger { reason: InlineText::new("again") });
    let reply = rig.command(5, good);
    assert!(!reply.ok && reply.text.as_str().contains("replayed"), "{}", reply.text);
    let reply = rig.command(6, RiskCommand::Status);
    assert!(reply.text.as_str().contains("latched") && reply.text.as_str().contains("manual 2"), "{}", reply.text);
    assert_eq!(rig.engine.risk().ess().history().last().map(|r| r.operator.as_str().to_string()), Some("alice".into()));
}
