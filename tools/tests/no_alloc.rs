//! Allocation-freedom of the core thread in steady state.
//!
//! The counting global allocator (`qt_test_support::CountingAllocator`) counts allocations,
//! reallocations and deallocations per thread. The test wires the real run (simulated venue
//! thread → feed ring → book → imbalance strategies → the full risk gate (every check, equity and
//! exposure per order, decision records onto the journal ring) → order ring → venue → report ring
//! → positions; the risk timer recomputing equity, loss windows and the global level), drives the
//! core loop on the test thread, warms up, then counts the core thread's allocations over at
//! least 100,000 market records and asserts it allocated and freed nothing — with logging at
//! debug, the core handing a record per order sent to the `qt-log` thread. The engine's stats
//! live in a real stats file, so the core's stats updates and its stats tick (heartbeat, copies
//! of books, positions, queues and the risk component's numbers) are inside the measured window.
use qt_test_support::{CountingAllocator, allocations, deallocations};
use qt_tools::config;
use std::sync::atomic::Ordering;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A logger that counts the lines it is handed on the core (test) thread and elsewhere: the
/// core must hand its records to the `qt-log` thread, never call the logger itself.
struct ThreadCountingLogger;

static CORE_THREAD: std::sync::OnceLock<std::thread::ThreadId> = std::sync::OnceLock::new();
static LOGGED_ON_CORE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static LOGGED_ELSEWHERE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl log::Log for ThreadCountingLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, _: &log::Record<'_>) {
        let counter =
            if CORE_THREAD.get() == Some(&std::thread::current().id()) { &LOGGED_ON_CORE } else { &LOGGED_ELSEWHERE };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn flush(&self) {}
}

#[test]
fn core_loop_does_not_allocate_in_steady_state() {
    let mut plan = config::load(config::EMBEDDED_DEFAULT, "embedded").unwrap();
    plan.sim.pace = config::Pace::Max;
    plan.sim.duration = qt_core::Nanos(60 * 1_000_000_000);
    plan.engine.idle = qt_core::IdleStrategy::SpinYield { spins: 100 };
    let stats_dir = tempfile::tempdir().unwrap();
    let region = qt_core::stats::StatsRegion::create(&stats_dir.path().join("run.stats"), Default::default()).unwrap();
    let (mut engine, sim) = qt_tools::run::build_with_stats(&plan, None, Some(region.clone())).unwrap();
    // The journal is on, writing a real mapped segment: the core's pushes into its ring are
    // part of what must not allocate.
    let journal_dir = tempfile::tempdir().unwrap();
    let writer = qt_recorder::JournalWriter::open(journal_dir.path(), qt_recorder::JournalConfig::default()).unwrap();
    let (link, rings) = qt_core::journal::JournalLink::new(1 << 16, qt_core::journal::JournalFullPolicy::Backpressure);
    engine.set_journal(link);
    let journal_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let journal = qt_tools::journal::spawn_with_stats(
        rings,
        Some(writer),
        Default::default(),
        journal_stop.clone(),
        None,
        Some(region.clone()),
    )
    .unwrap();
    // Logging at debug: the core hands a record per order sent (and any warning) to the
    // qt-log thread through its ring; making and pushing them must not allocate either.
    CORE_THREAD.set(std::thread::current().id()).unwrap();
    log::set_logger(&ThreadCountingLogger).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let (log_sink, log_drain) = qt_core::log_ring::ring(qt_core::log_ring::DEFAULT_CAPACITY);
    let log_counters = log_sink.counters().clone();
    qt_core::log_ring::install(log_sink);
    let log_thread = qt_tools::logging::LogThread::spawn(log_drain).unwrap();
    let counters = engine.counters();
    let venue = std::thread::spawn(move || sim.run());

    const WARM_UP: u64 = 20_000;
    const MEASURED: u64 = 150_000;
    while counters.market_events.get() < WARM_UP {
        engine.do_work();
    }
    let (events0, orders0, fills0, reports0) =
        (counters.market_events.get(), counters.orders_sent.get(), counters.fills.get(), counters.reports.get());
    let (journaled0, decisions0) = (
        counters.journal_records.get() + counters.journal_dropped.get(),
        counters.risk_allow.get() + counters.risk_block.total() + counters.risk_scale_down.total(),
    );

    let logged0 = log_counters.pushed.load(Ordering::Relaxed) + log_counters.dropped.load(Ordering::Relaxed);
    let heartbeat = || qt_core::stats::Snapshot::parse(&region.snapshot_bytes()).unwrap().header.heartbeat_ns;
    let beat0 = heartbeat();
    let (allocs0, deallocs0) = (allocations(), deallocations());
    while counters.market_events.get() < events0 + MEASURED {
        if engine.do_work() == 0 {
            std::hint::spin_loop();
        }
    }
    let (allocs, deallocs) = (allocations() - allocs0, deallocations() - deallocs0);
    let logged = log_counters.pushed.load(Ordering::Relaxed) + log_counters.dropped.load(Ordering::Relaxed) - logged0;
    qt_core::log_ring::uninstall();
    let log_tally = log_thread.finish();
    let beats = heartbeat() > beat0;
    let events = counters.market_events.get() - events0;
    let orders = counters.orders_sent.get() - orders0;
    let fills = counters.fills.get() - fills0;
    let reports = counters.reports.get() - reports0;
    let journaled = counters.journal_records.get() + counters.journal_dropped.get() - journaled0;
    let decisions =
        counters.risk_allow.get() + counters.risk_block.total() + counters.risk_scale_down.total() - decisions0;
    engine.stop_flag().store(true, Ordering::Relaxed);
    drop(engine);
    let _ = venue.join();
    journal_stop.store(true, Ordering::Relaxed);
    let (journal, _writer) = journal.join().unwrap();

    assert!(events >= MEASURED, "events {events}");
    assert!(orders > 100, "the measured window must include orders enqueued, got {orders}");
    assert!(fills > 100, "the measured window must include fills applied, got {fills}");
    assert!(reports > orders, "reports {reports}");
    assert!(decisions >= orders, "the gate decided on every order: {decisions} decisions, {orders} orders");
    // Every market record, decision, order sent and report is journaled (plus intents, timers).
    assert!(
        journaled >= events + decisions + orders + reports,
        "journaled {journaled} of {events} events, {decisions} decisions, {orders} orders, {reports} reports"
    );
    assert_eq!(counters.journal_dropped.get(), 0, "backpressure drops nothing");
    assert!(journal.records >= journaled, "the journal thread wrote them: {}", journal.records);
    assert_eq!(journal.failure, None);
    assert!(logged >= orders, "a debug record per order sent: {logged} records, {orders} orders");
    assert!(log_tally.written > 0, "the qt-log thread drained the core's records");
    assert_eq!(LOGGED_ON_CORE.load(Ordering::Relaxed), 0, "the core thread called the logger itself");
    assert!(LOGGED_ELSEWHERE.load(Ordering::Relaxed) >= log_tally.written, "the qt-log thread logged them");
    assert!(beats, "the stats tick ran inside the measured window (the heartbeat moved)");
    assert_eq!(
        (allocs, deallocs),
        (0, 0),
        "core thread allocated {allocs} / freed {deallocs} times over {events} events"
    );
}

#[test]
fn the_counter_sees_allocations_when_tracking() {
    // The detector itself must work, or the test above proves nothing.
    let (before, freed_before) = (allocations(), deallocations());
    let v: Vec<u64> = Vec::with_capacity(16);
    drop(std::hint::black_box(v));
    assert!(allocations() > before);
    assert!(deallocations() > freed_before);
}

/// One two-sided book update on instrument 0 per poll, from fixed records (no allocation).
struct TickFeed {
    n: i64,
}

impl qt_core::FeedSource for TickFeed {
    fn name(&self) -> &str {
        "ticks"
    }
    fn poll(&mut self, local_now: qt_core::Nanos, sink: &mut dyn FnMut(&qt_core::MarketEvent)) -> usize {
        use qt_core::{EventKind, MarketEvent, Price, Qty, Side};
        self.n += 1;
        let ask = 1000 + self.n % 7;
        let mut bid = MarketEvent::new(
            qt_core::InstrumentId(0),
            EventKind::BookSnapshot,
            Side::Buy,
            Price::from_units(ask - 5),
            Qty::from_units(5),
        );
        bid.flags = MarketEvent::CLEAR;
        bid.local_ns = local_now;
        let mut offer = MarketEvent::new(
            qt_core::InstrumentId(0),
            EventKind::BookSnapshot,
            Side::Sell,
            Price::from_units(ask),
            Qty::from_units(5),
        );
        offer.flags = MarketEvent::BATCH_END;
        offer.local_ns = local_now;
        sink(&bid);
        sink(&offer);
        2
    }
    fn state(&self) -> qt_core::feed_source::FeedState {
        qt_core::feed_source::FeedState::Live
    }
}

/// Buys one lot at the ask on every batch end.
struct Taker([qt_core::InstrumentId; 1]);

impl qt_core::Strategy for Taker {
    fn name(&self) -> &str {
        "taker"
    }
    fn account(&self) -> qt_core::AccountId {
        qt_core::AccountId(0)
    }
    fn instruments(&self) -> &[qt_core::InstrumentId] {
        &self.0
    }
    fn on_market(
        &mut self,
        view: &qt_core::MarketView<'_>,
        ev: &qt_core::MarketEvent,
        out: &mut qt_core::strategy::Actions,
    ) {
        let Some(ask) = view.book(ev.instrument).and_then(|b| b.best_ask()) else { return };
        if ev.is_batch_end() {
            out.push(qt_core::strategy::StrategyAction::Place(qt_core::OrderRequest {
                account: qt_core::AccountId(0),
                strategy: qt_core::StrategyId(0),
                instrument: ev.instrument,
                side: qt_core::Side::Buy,
                order_type: qt_core::OrderType::Limit,
                tif: qt_core::TimeInForce::Ioc,
                price: ask.price,
                qty: qt_core::Qty::from_units(1),
                reduce_only: false,
                stop_price: None,
            }));
        }
    }
    fn on_report(
        &mut self,
        _: &qt_core::MarketView<'_>,
        _: &qt_core::ExecutionReport,
        _: &mut qt_core::strategy::Actions,
    ) {
    }
}

struct AllowAll;

impl qt_core::PreTradeCheck for AllowAll {
    fn check(&mut self, _: &qt_core::OrderRequest, _: &qt_core::MarketView<'_>) -> qt_core::RiskDecision {
        qt_core::RiskDecision::Allow
    }
}

#[test]
fn routing_health_and_failovers_do_not_allocate_in_steady_state() {
    use qt_core::routing::{HealthSettings, RouterSettings, RoutingPlan, Siblings};
    use qt_core::{AccountId, ExecutionReport, InstrumentId, InstrumentSpec, Nanos, OrderCommand, ReportKind, VenueId};
    let mut registry = qt_core::InstrumentRegistry::new();
    registry.add(&InstrumentSpec::spot(qt_core::Venue::Binance, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
    registry.add(&InstrumentSpec::spot(qt_core::Venue::Bybit, "BTCUSDT", "BTC", "USDT", "1", "1")).unwrap();
    let mut siblings = Siblings::alone(&registry);
    siblings.add_group(&registry, "BTC/USDT", &[InstrumentId(0), InstrumentId(1)]).unwrap();
    let cfg = qt_core::EngineConfig {
        housekeeping_interval: Nanos::MILLI,
        timer_clock: qt_core::TimerClock::Monotonic,
        max_open_orders: 1024,
        ..qt_core::EngineConfig::default()
    };
    let mut engine = qt_core::Engine::new(cfg, registry, AllowAll, std::sync::Arc::new(qt_core::WallClock));
    engine.add_feed(Box::new(TickFeed { n: 0 }));
    let (a_tx, a_orders) = qt_core::queue::spsc(4096);
    let (a_reports, a_rx) = qt_core::queue::spsc(4096);
    let (b_tx, b_orders) = qt_core::queue::spsc(4096);
    let (b_reports, b_rx) = qt_core::queue::spsc(4096);
    let mut orders = [a_orders, b_orders];
    let mut reports = [a_reports, b_reports];
    engine.add_venue(a_tx, a_rx, &[InstrumentId(0)]);
    engine.add_venue(b_tx, b_rx, &[InstrumentId(1)]);
    engine.set_routing(RoutingPlan {
        chains: vec![vec![VenueId(0), VenueId(1)]],
        siblings,
        router: RouterSettings { return_after: Nanos(20 * Nanos::MILLI.0) },
        health: HealthSettings {
            ack_timeout: Nanos(10 * Nanos::MILLI.0),
            max_md_age: Some(Nanos(Nanos::SECOND.0)),
            ..HealthSettings::default()
        },
    });
    engine.add_strategy(Box::new(Taker([InstrumentId(0)])));
    let (link, mut rings) =
        qt_core::journal::JournalLink::new(1 << 12, qt_core::journal::JournalFullPolicy::DropAndCount);
    engine.set_journal(link);
    // The core's log lines go to a ring on this thread (never drained: full drops, counted).
    let (log_sink, _log_drain) = qt_core::log_ring::ring(qt_core::log_ring::DEFAULT_CAPACITY);
    qt_core::log_ring::install(log_sink);
    qt_core::sys::init_clock();

    // The test is each venue's gateway: it fills every order at once, except that the primary
    // goes silent for 40 ms of every 80 (its orders are filled when it wakes up).
    let mut on_second = false;
    let mut failovers = 0u64;
    let mut run = |engine: &mut qt_core::Engine<AllowAll>, millis: u64, count: bool| {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(millis) {
            let silent = (start.elapsed().as_millis() / 40) % 2 == 1;
            engine.do_work();
            while rings.records.pop().is_ok() {}
            for v in 0..2 {
                if v == 0 && silent {
                    continue;
                }
                while let Ok(cmd) = orders[v].pop() {
                    if let OrderCommand::New { order_id, request, .. } = cmd {
                        let mut fill =
                            ExecutionReport::status(order_id, &request, VenueId(v as u16), ReportKind::Fill, Nanos(0));
                        fill.last_price = request.price;
                        fill.last_qty = request.qty;
                        fill.cum_qty = request.qty;
                        let _ = reports[v].push(fill);
                    }
                }
            }
            let second = engine.router().selected(AccountId(0)) == Some(VenueId(1));
            failovers += u64::from(count && second && !on_second);
            on_second = second;
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    };
    run(&mut engine, 300, false);
    let sent0 = engine.counters().orders_sent.get();
    let (allocs0, deallocs0) = (allocations(), deallocations());
    run(&mut engine, 1200, true);
    let (allocs, deallocs) = (allocations() - allocs0, deallocations() - deallocs0);
    qt_core::log_ring::uninstall();
    let sent = engine.counters().orders_sent.get() - sent0;
    assert!(sent > 100, "orders flowed through the router: {sent}");
    assert!(failovers >= 2, "the primary's silences moved the account to the second venue: {failovers}");
    assert_eq!((allocs, deallocs), (0, 0), "routing allocated {allocs} / freed {deallocs} times");
}
