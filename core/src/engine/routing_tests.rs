//! Failover end to end in the engine: two venue links (a test gateway on each pair of rings)
//! listing one canonical instrument; the primary stops answering, orders move to the second
//! venue (counted, journaled), come back after the hold, and are refused with every venue down.
use super::tests::PriceCap;
use super::*;
use crate::event::EventKind;
use crate::instrument::{InstrumentSpec, Venue};
use crate::journal::{JournalFullPolicy, JournalRings};
use crate::money::Qty;
use crate::order::Side;
use crate::queue::spsc;
use crate::routing::{HealthSettings, RouterSettings, RoutingPlan, Siblings};
use crate::time::SimClock;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PRIMARY: VenueId = VenueId(0);
const SECOND: VenueId = VenueId(1);
const AT_PRIMARY: InstrumentId = InstrumentId(0);
const AT_SECOND: InstrumentId = InstrumentId(1);

/// Market records the test hands the engine, one batch per call.
struct QueueFeed(Arc<Mutex<std::collections::VecDeque<MarketEvent>>>);

impl FeedSource for QueueFeed {
    fn name(&self) -> &str {
        "queue"
    }
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        let mut n = 0;
        while let Some(mut ev) = self.0.lock().unwrap().pop_front() {
            ev.local_ns = local_now;
            sink(&ev);
            n += 1;
        }
        n
    }
    fn state(&self) -> FeedState {
        FeedState::Live
    }
}

struct Rig {
    engine: Engine<PriceCap>,
    market: Arc<Mutex<std::collections::VecDeque<MarketEvent>>>,
    orders: [Consumer<OrderCommand>; 2],
    reports: [Producer<ExecutionReport>; 2],
    control: crossbeam_channel::Sender<ControlCommand>,
    journal: JournalRings,
}

/// Health by unanswered orders only (200 ms), one account.
fn rig(return_after: Duration) -> Rig {
    let health = HealthSettings {
        ack_timeout: Nanos(200 * Nanos::MILLI.0),
        max_md_age: None,
        ..HealthSettings::connectivity_only()
    };
    rig_with(1, health, return_after)
}

/// `accounts` accounts, each with the chain primary → second.
fn rig_with(accounts: usize, health: HealthSettings, return_after: Duration) -> Rig {
    rig_on(accounts, health, return_after, Arc::new(SimClock::new(Nanos(0))))
}

fn rig_on(accounts: usize, health: HealthSettings, return_after: Duration, clock: Arc<dyn Clock>) -> Rig {
    let mut r = InstrumentRegistry::new();
    r.add(&InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.1", "0.001")).unwrap();
    r.add(&InstrumentSpec::spot(Venue::Bybit, "BTCUSDT", "BTC", "USDT", "0.1", "0.001")).unwrap();
    let mut siblings = Siblings::alone(&r);
    siblings.add_group(&r, "BTC/USDT", &[AT_PRIMARY, AT_SECOND]).unwrap();
    let cfg = EngineConfig {
        housekeeping_interval: Nanos::MILLI,
        timer_clock: TimerClock::Monotonic,
        accounts,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(cfg, r, PriceCap(Price::from_units(i64::MAX)), clock);
    let market = Arc::new(Mutex::new(std::collections::VecDeque::new()));
    engine.add_feed(Box::new(QueueFeed(market.clone())));
    let (a_tx, a_orders) = spsc(64);
    let (a_reports, a_rx) = spsc(64);
    let (b_tx, b_orders) = spsc(64);
    let (b_reports, b_rx) = spsc(64);
    engine.add_venue(a_tx, a_rx, &[AT_PRIMARY]);
    engine.add_venue(b_tx, b_rx, &[AT_SECOND]);
    engine.set_routing(RoutingPlan {
        chains: vec![vec![PRIMARY, SECOND]; accounts],
        siblings,
        router: RouterSettings { return_after: Nanos::from_duration(return_after) },
        health,
    });
    // Buys one lot at the primary's ask on every batch end (its instrument is AT_PRIMARY).
    engine.add_strategy(super::tests::eager());
    let (control, rx) = crossbeam_channel::bounded(8);
    engine.set_control(rx);
    let (link, journal) = JournalLink::new(4096, JournalFullPolicy::DropAndCount);
    engine.set_journal(link);
    Rig { engine, market, orders: [a_orders, b_orders], reports: [a_reports, b_reports], control, journal }
}

impl Rig {
    /// A two-sided book on the primary's instrument: the buyer sends one order.
    fn tick(&mut self, ask: i64) {
        let mut q = self.market.lock().unwrap();
        let bid = MarketEvent::new(
            AT_PRIMARY,
            EventKind::BookSnapshot,
            Side::Buy,
            Price::from_units(ask - 10),
            Qty::from_units(5),
        );
        let mut bid = bid;
        bid.flags = MarketEvent::CLEAR;
        let mut ask = MarketEvent::new(
            AT_PRIMARY,
            EventKind::BookSnapshot,
            Side::Sell,
            Price::from_units(ask),
            Qty::from_units(5),
        );
        ask.flags = MarketEvent::BATCH_END;
        q.push_back(bid);
        q.push_back(ask);
        drop(q);
        for _ in 0..4 {
            self.engine.do_work();
        }
    }

    /// The orders venue `v` was handed since last asked.
    fn sent(&mut self, v: usize) -> Vec<(OrderId, OrderRequest)> {
        std::iter::from_fn(|| self.orders[v].pop().ok())
            .filter_map(|c| match c {
                OrderCommand::New { order_id, request, .. } => Some((order_id, request)),
                _ => None,
            })
            .collect()
    }

    fn accept(&mut self, v: usize, order: &(OrderId, OrderRequest)) {
        let report = ExecutionReport::status(order.0, &order.1, VenueId(v as u16), ReportKind::Accepted, Nanos(0));
        assert!(self.reports[v].push(report).is_ok());
        self.engine.do_work();
    }

    /// Runs the loop until `done` or 10 s (a functional deadline, generous on a loaded machine).
    fn until(&mut self, what: &str, done: impl Fn(&Engine<PriceCap>) -> bool) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&self.engine) {
            assert!(Instant::now() < deadline, "{what} never happened");
            self.engine.do_work();
            std::thread::sleep(Duration::from_millis(1));
        }
        Instant::now()
    }

    fn failovers(&mut self) -> Vec<crate::routing::Failover> {
        let mut out = Vec::new();
        while let Ok(r) = self.journal.records.pop() {
            if let JournalEvent::Failover(f) = r.event {
                out.push(f);
            }
        }
        out
    }

    fn failover_count(&self, selected: VenueId) -> u64 {
        self.engine.core.stats.failover_count(AccountId(0), selected)
    }
}

#[test]
fn a_primary_that_stops_answering_loses_new_orders_to_the_second_venue_until_healthy_for_the_hold() {
    let hold = Duration::from_millis(1500);
    let mut rig = rig(hold);
    sys::init_clock();

    // Both healthy: the order goes to the primary, as its own instrument.
    rig.tick(1000);
    let first = rig.sent(0);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1.instrument, AT_PRIMARY);
    rig.accept(0, &first[0]);

    // The primary stops answering: the next order waits there unanswered past the timeout.
    rig.tick(1001);
    let stuck = rig.sent(0);
    assert_eq!(stuck.len(), 1);
    rig.until("the failover", |e| e.router().selected(AccountId(0)) == Some(SECOND));
    assert_eq!(rig.failover_count(SECOND), 1);
    let journaled = rig.failovers();
    assert_eq!(journaled.len(), 1, "{journaled:?}");
    assert_eq!((journaled[0].primary, journaled[0].from, journaled[0].to), (PRIMARY, Some(PRIMARY), Some(SECOND)));

    // New orders go to the second venue, as its sibling; the stuck one is never re-sent.
    rig.tick(1002);
    let moved = rig.sent(1);
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].1.instrument, AT_SECOND);
    assert_ne!(moved[0].0, stuck[0].0);
    assert!(rig.sent(0).is_empty());
    rig.accept(1, &moved[0]);
    assert!(rig.engine.core.orders.get(stuck[0].0).is_some(), "the stuck order stays the primary's");

    // The primary answers again: healthy, but orders stay on the second venue for the hold.
    rig.accept(0, &stuck[0]);
    let recovered = Instant::now();
    rig.until("the primary healthy", |e| e.venue_health().next().is_some_and(|v| v.healthy));
    let back = rig.until("the return", |e| e.router().selected(AccountId(0)) == Some(PRIMARY));
    assert!(back.duration_since(recovered) >= hold, "returned after {:?}", back.duration_since(recovered));
    assert_eq!(rig.failover_count(PRIMARY), 1);
    let journaled = rig.failovers();
    assert_eq!(journaled.len(), 1, "{journaled:?}");
    assert_eq!((journaled[0].from, journaled[0].to), (Some(SECOND), Some(PRIMARY)));
    rig.tick(1003);
    assert_eq!(rig.sent(0).len(), 1);
    assert!(rig.sent(1).is_empty());
}

#[test]
fn with_every_venue_reported_down_orders_are_refused_with_no_healthy_venue() {
    let mut rig = rig(Duration::from_millis(100));
    sys::init_clock();
    for venue in [PRIMARY, SECOND] {
        rig.control.send(ControlCommand::VenueHealth { venue, healthy: false }).unwrap();
    }
    rig.until("every venue down", |e| e.router().selected(AccountId(0)).is_none());
    let journaled = rig.failovers();
    assert_eq!(journaled.last().map(|f| f.to), Some(None), "{journaled:?}");
    rig.tick(1000);
    rig.engine.do_work();
    assert!(rig.sent(0).is_empty() && rig.sent(1).is_empty());
    let c = rig.engine.counters();
    assert_eq!(c.risk_block.get(BlockReason::NoHealthyVenue).get(), 1);
    // Either one back: anything healthy beats nothing, at once.
    rig.control.send(ControlCommand::VenueHealth { venue: SECOND, healthy: true }).unwrap();
    rig.until("the second venue selected", |e| e.router().selected(AccountId(0)) == Some(SECOND));
    rig.tick(1001);
    assert_eq!(rig.sent(1).len(), 1);
}

#[test]
fn one_accounts_rejects_move_only_that_account_while_the_venue_stays_healthy() {
    let health = HealthSettings { min_answers: 2, max_reject_permille: 500, ..HealthSettings::connectivity_only() };
    let mut rig = rig_with(2, health, Duration::from_secs(60));
    sys::init_clock();
    rig.tick(1000); // a book, and one order of account 0 (accepted below)
    let request = |account: u16| OrderRequest {
        account: AccountId(account),
        strategy: crate::ids::StrategyId(0),
        instrument: AT_PRIMARY,
        side: Side::Buy,
        order_type: crate::order::OrderType::Limit,
        tif: crate::order::TimeInForce::Gtc,
        price: Price::from_units(1000),
        qty: Qty::from_units(1),
        reduce_only: false,
        stop_price: None,
    };
    for _ in 0..3 {
        rig.engine.core.place(request(1), Nanos(0));
    }
    rig.engine.core.place(request(0), Nanos(0));
    let sent = rig.sent(0);
    assert_eq!(sent.len(), 5);
    for order in &sent {
        if order.1.account == AccountId(0) && order.0 != sent[0].0 {
            let report = ExecutionReport::status(
                order.0,
                &order.1,
                PRIMARY,
                ReportKind::Rejected(RejectReason::InsufficientBalance),
                Nanos(0),
            );
            assert!(rig.reports[0].push(report).is_ok());
        } else {
            let report = ExecutionReport::status(order.0, &order.1, PRIMARY, ReportKind::Accepted, Nanos(0));
            assert!(rig.reports[0].push(report).is_ok());
        }
    }
    // Venue: 1 reject of 5 answers (200 per mille) passes; account 0: 1 of 2 (500) passes too.
    rig.until("the answers applied", |e| e.venue_health().next().is_some_and(|v| v.waiting == 0));
    assert_eq!(rig.engine.router().selected(AccountId(0)), Some(PRIMARY));
    // One more reject for account 0: 2 of 3 (667) fails the account; the venue (2 of 6) passes.
    rig.engine.core.place(request(0), Nanos(0));
    let more = rig.sent(0);
    let report = ExecutionReport::status(
        more[0].0,
        &more[0].1,
        PRIMARY,
        ReportKind::Rejected(RejectReason::InsufficientBalance),
        Nanos(0),
    );
    assert!(rig.reports[0].push(report).is_ok());
    rig.until("account 0 moved", |e| e.router().selected(AccountId(0)) == Some(SECOND));
    assert_eq!(rig.engine.router().selected(AccountId(1)), Some(PRIMARY));
    assert!(rig.engine.venue_health().next().is_some_and(|v| v.healthy && v.reject_permille == 333));
    assert_eq!(rig.failover_count(SECOND), 1);
}

#[test]
fn a_replay_routes_every_order_where_the_live_run_did() {
    let mut live = rig(Duration::from_secs(60));
    sys::init_clock();
    live.tick(1000);
    let first = live.sent(0);
    live.accept(0, &first[0]);
    live.tick(1001);
    assert_eq!(live.sent(0).len(), 1, "left unanswered");
    live.until("the failover", |e| e.router().selected(AccountId(0)) == Some(SECOND));
    live.tick(1002);
    assert_eq!(live.sent(1).len(), 1);
    let records: Vec<JournalRecord> = std::iter::from_fn(|| live.journal.records.pop().ok()).collect();
    let news = |records: &[JournalRecord]| -> Vec<InstrumentId> {
        records
            .iter()
            .filter_map(|r| match r.event {
                JournalEvent::Command(OrderCommand::New { request, .. }) => Some(request.instrument),
                _ => None,
            })
            .collect()
    };
    assert_eq!(news(&records), vec![AT_PRIMARY, AT_PRIMARY, AT_SECOND]);

    // The same engine, driven only by the recorded inputs (no health judgement runs).
    let clock = SimClock::new(Nanos(0));
    let mut replay = rig_on(1, HealthSettings::default(), Duration::from_secs(60), Arc::new(clock.clone()));
    for r in &records {
        if Engine::<PriceCap>::is_replay_input(r, None) {
            assert!(replay.engine.replay_input(&clock, r, None));
        }
    }
    let again: Vec<JournalRecord> = std::iter::from_fn(|| replay.journal.records.pop().ok()).collect();
    assert_eq!(news(&again), news(&records));
    assert_eq!(replay.engine.router().selected(AccountId(0)), Some(SECOND));
    assert_eq!(replay.sent(1).len(), 1, "the replayed third order went to the second venue's ring");
    // The next run of a journal starts on the primary, as the live engine of that run did.
    replay.engine.begin_run(1);
    assert_eq!(replay.engine.router().selected(AccountId(0)), Some(PRIMARY));
}

#[test]
fn an_order_cancelled_before_its_acknowledgement_is_answered_by_its_first_report() {
    let mut rig = rig(Duration::from_secs(60));
    sys::init_clock();
    rig.tick(1000);
    let sent = rig.sent(0);
    // The cancel leaves before the venue has acknowledged the order (its status changes).
    rig.engine.core.cancel(sent[0].0);
    rig.accept(0, &sent[0]);
    let canceled = ExecutionReport::status(sent[0].0, &sent[0].1, PRIMARY, ReportKind::Canceled, Nanos(0));
    assert!(rig.reports[0].push(canceled).is_ok());
    rig.until("the reports applied", |e| e.core.orders.live() == 0);
    // Well past the 200 ms answer timeout: nothing is waiting, the primary stays healthy.
    let t0 = Instant::now();
    rig.until("400 ms", |_| t0.elapsed() >= Duration::from_millis(400));
    let verdict = rig.engine.venue_health().next().unwrap();
    assert_eq!((verdict.waiting, verdict.healthy), (0, true), "{verdict:?}");
    assert_eq!(rig.engine.router().selected(AccountId(0)), Some(PRIMARY));
}
