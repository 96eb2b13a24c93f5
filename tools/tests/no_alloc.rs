//! Allocation-freedom of the core thread in steady state.
//!
//! A counting global allocator counts allocations, reallocations and deallocations made by the
//! thread that is being tracked. The test wires the real run (simulated venue thread → feed ring
//! → book → imbalance strategies → the full risk gate (every check, equity and exposure per
//! order, decision records onto the journal ring) → order ring → venue → report ring →
//! positions; the risk timer recomputing equity, loss windows and the global level),
//! drives the core loop on the test thread, warms up, then tracks the core thread for at least
//! 100,000 market records and asserts it allocated and freed nothing.

// A global allocator is the one place a test must implement an unsafe trait.
#![allow(unsafe_code)]

use qt_tools::config;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;

struct CountingAllocator;

thread_local! {
    // Per thread, so tests running in parallel cannot see each other's allocations.
    static TRACKED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static DEALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn tracked() -> bool {
    TRACKED.try_with(Cell::get).unwrap_or(false)
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    let _ = counter.try_with(|c| c.set(c.get() + 1));
}

fn count(counter: &'static std::thread::LocalKey<Cell<u64>>) -> u64 {
    counter.with(Cell::get)
}

// SAFETY: forwards every call unchanged to the system allocator; counting has no effect on the
// memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if tracked() {
            bump(&ALLOCS);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if tracked() {
            bump(&DEALLOCS);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if tracked() {
            bump(&ALLOCS);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn core_loop_does_not_allocate_in_steady_state() {
    let mut plan = config::load(config::EMBEDDED_DEFAULT, "embedded").unwrap();
    plan.sim.pace = config::Pace::Max;
    plan.sim.duration = qt_core::Nanos(60 * 1_000_000_000);
    plan.engine.idle = qt_core::IdleStrategy::SpinYield { spins: 100 };
    let (mut engine, sim) = qt_tools::run::build(&plan, None).unwrap();
    // The journal is on, writing a real mapped segment: the core's pushes into its ring are
    // part of what must not allocate.
    let journal_dir = tempfile::tempdir().unwrap();
    let writer = qt_recorder::JournalWriter::open(journal_dir.path(), qt_recorder::JournalConfig::default()).unwrap();
    let (link, rings) = qt_core::journal::JournalLink::new(1 << 16, qt_core::journal::JournalFullPolicy::Backpressure);
    engine.set_journal(link);
    let journal_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let journal =
        qt_tools::journal::spawn(rings, Some(writer), Default::default(), journal_stop.clone(), None).unwrap();
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

    TRACKED.with(|t| t.set(true));
    while counters.market_events.get() < events0 + MEASURED {
        if engine.do_work() == 0 {
            std::hint::spin_loop();
        }
    }
    TRACKED.with(|t| t.set(false));

    let allocs = count(&ALLOCS);
    let deallocs = count(&DEALLOCS);
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
    assert_eq!(
        (allocs, deallocs),
        (0, 0),
        "core thread allocated {allocs} / freed {deallocs} times over {events} events"
    );
}

#[test]
fn the_counter_sees_allocations_when_tracking() {
    // The detector itself must work, or the test above proves nothing.
    let before = count(&ALLOCS);
    TRACKED.with(|t| t.set(true));
    let v: Vec<u64> = Vec::with_capacity(16);
    drop(std::hint::black_box(v));
    TRACKED.with(|t| t.set(false));
    assert!(count(&ALLOCS) > before);
}
