//! Tests of what the core journals: every input and decision in order, backpressure that holds
//! market input but not reports, and a failed journal that stops new orders but not cancels.
use super::tests::{PriceCap, eager, registry};
use super::*;
use crate::event::EventKind;
use crate::journal::{JournalFullPolicy, JournalRings};
use crate::money::Qty;
use crate::order::Side;
use crate::queue::spsc;
use crate::time::SimClock;

/// An engine with the eager strategy, a venue link and a journal of `capacity` records.
fn journaled(
    capacity: usize,
) -> (Engine<PriceCap>, SimClock, JournalRings, Consumer<OrderCommand>, Producer<ExecutionReport>) {
    let clock = SimClock::new(Nanos(1_000));
    let mut engine = Engine::new(EngineConfig::default(), registry(), PriceCap(Price::MAX), Arc::new(clock.clone()));
    let (orders_tx, orders_rx) = spsc(16);
    let (reports_tx, reports_rx) = spsc(16);
    engine.add_venue(orders_tx, reports_rx, &[InstrumentId(0)]);
    engine.add_strategy(eager());
    let (link, rings) = JournalLink::new(capacity, JournalFullPolicy::Backpressure);
    engine.set_journal(link);
    (engine, clock, rings, orders_rx, reports_tx)
}

fn snapshot(side: Side, price: i64, flags: u16) -> JournalRecord {
    let mut ev =
        MarketEvent::new(InstrumentId(0), EventKind::BookSnapshot, side, Price::from_units(price), Qty::from_units(5));
    ev.flags = flags;
    JournalRecord { domain_ns: Nanos(2_000), mono_ns: Nanos(7), event: JournalEvent::Market(ev) }
}

fn drain(rings: &mut JournalRings) -> Vec<JournalRecord> {
    std::iter::from_fn(|| rings.records.pop().ok()).collect()
}

#[test]
fn inputs_and_decisions_are_journaled_in_order_with_the_inputs_times() {
    let (mut engine, clock, mut rings, mut orders, _reports) = journaled(1024);
    engine.replay_input(&clock, &snapshot(Side::Buy, 990, MarketEvent::CLEAR), None);
    engine.replay_input(&clock, &snapshot(Side::Sell, 1000, MarketEvent::BATCH_END), None);
    let got = drain(&mut rings);
    let kinds: Vec<&str> = got
        .iter()
        .map(|r| match r.event {
            JournalEvent::Market(_) => "market",
            JournalEvent::Intent(_) => "intent",
            JournalEvent::Decision(_) => "decision",
            JournalEvent::Command(_) => "command",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["market", "market", "intent", "decision", "command"]);
    assert!(got.iter().all(|r| r.domain_ns == Nanos(2_000) && r.mono_ns == Nanos(7)), "{got:?}");
    let JournalEvent::Decision(d) = got[3].event else { unreachable!() };
    let d = d.record(got[3].domain_ns, got[3].mono_ns);
    assert_eq!((d.ts_ns, d.local_ns, d.price), (2_000, 7, 1000));
    let sent = orders.pop().unwrap();
    let JournalEvent::Command(journaled) = got[4].event else { unreachable!() };
    assert_eq!(journaled, sent, "the journaled command is the one sent");
}

#[test]
fn backpressure_holds_market_input_but_reports_still_flow() {
    let (mut engine, _clock, mut rings, _orders, mut reports) = journaled(64);
    let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    engine.add_feed(Box::new(CountingFeed(polls.clone())));
    // Fill the ring to below its headroom (64 / 4 slots free).
    for _ in 0..60 {
        engine.core.journal(JournalEvent::Halt);
    }
    let request = OrderRequest {
        account: AccountId(0),
        strategy: crate::ids::StrategyId(0),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: crate::order::OrderType::Limit,
        tif: crate::order::TimeInForce::Gtc,
        price: Price::from_units(990),
        qty: Qty::from_units(1),
        reduce_only: false,
        stop_price: None,
    };
    let id = engine.core.orders.insert(request, Nanos(0)).unwrap();
    reports.push(ExecutionReport::status(id, &request, VenueId(0), ReportKind::Accepted, Nanos(1))).unwrap();
    engine.do_work();
    assert_eq!(polls.load(Ordering::Relaxed), 0, "no market input while the journal is short of room");
    assert_eq!(engine.counters().journal_market_holds.get(), 1);
    assert_eq!(engine.counters().reports.get(), 1, "execution reports are still applied");
    assert_eq!(engine.counters().journal_dropped.get(), 0);
    drain(&mut rings);
    engine.do_work();
    assert_eq!(polls.load(Ordering::Relaxed), 1, "market input resumes once there is room");
}

#[test]
fn a_journal_that_cannot_write_stops_new_orders_but_not_cancels() {
    let (mut engine, clock, rings, mut orders, _reports) = journaled(1024);
    rings.health.fail();
    engine.replay_input(&clock, &snapshot(Side::Buy, 990, MarketEvent::CLEAR), None);
    engine.replay_input(&clock, &snapshot(Side::Sell, 1000, MarketEvent::BATCH_END), None);
    assert!(orders.pop().is_err(), "no order leaves");
    assert_eq!(engine.counters().journal_refused_orders.get(), 1);
    engine.deliver_local_refusals();
    assert_eq!(engine.core.counters.orders_sent.get(), 0);
    // A cancel-all (operator or emergency stop) still goes out.
    engine.apply_control(ControlCommand::CancelAll(AccountId(0)));
    assert!(matches!(orders.pop(), Ok(OrderCommand::CancelAll { .. })));
}

/// A feed that counts its polls and produces nothing.
struct CountingFeed(Arc<std::sync::atomic::AtomicUsize>);

impl FeedSource for CountingFeed {
    fn name(&self) -> &str {
        "counting"
    }
    fn poll(&mut self, _local_now: Nanos, _sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        self.0.fetch_add(1, Ordering::Relaxed);
        0
    }
    fn state(&self) -> FeedState {
        FeedState::Live
    }
}

#[test]
fn a_replayed_halt_sends_the_wind_downs_cancel_alls_again() {
    let (mut engine, clock, mut rings, mut orders, _reports) = journaled(1024);
    engine.replay_input(&clock, &snapshot(Side::Buy, 990, MarketEvent::CLEAR), None);
    engine.replay_input(&clock, &snapshot(Side::Sell, 1000, MarketEvent::BATCH_END), None);
    let placed = orders.pop().expect("the eager strategy placed an order, working now");
    assert!(matches!(placed, OrderCommand::New { .. }), "{placed:?}");
    drain(&mut rings);
    let halt = JournalRecord { domain_ns: Nanos(3_000), mono_ns: Nanos(9), event: JournalEvent::Halt };
    assert!(engine.replay_input(&clock, &halt, None));
    let got = drain(&mut rings);
    assert!(matches!(got.first().map(|r| r.event), Some(JournalEvent::Halt)), "{got:?}");
    assert!(
        got.iter().any(|r| matches!(r.event, JournalEvent::Command(OrderCommand::CancelAll { .. }))),
        "the halt's cancel-all is produced again: {got:?}"
    );
    assert!(matches!(orders.pop(), Ok(OrderCommand::CancelAll { instrument: None, .. })));
}
