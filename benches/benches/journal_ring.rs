//! What journaling costs the core thread (issue #15): the push of one record into the journal
//! ring, and the whole core loop with the journal on against off.
//!
//! - `journal_push/market/drained`: `JournalLink::push` of a `JournalEvent::Market` record (the
//!   commonest record) while a second thread pops the ring as fast as it can — the core's side
//!   alone, the cross-core traffic of the slots included. One iteration is one push.
//! - `journal_push/market/journal_thread`: the same push with the real `qt-journal` thread
//!   (`qt_tools::journal::spawn`) encoding every record and writing a journal in a temporary
//!   directory: the sustained cost once the writer sets the pace (a push that finds the ring full
//!   waits: counted and printed).
//! - `journal_push/market/same_thread`: push then pop on one thread, no second core: the ring's
//!   own instructions and the 160-byte copy in and out, without cache-line transfers.
//! - `journal_engine_loop/per_message/{off,on}`: `engine_loop`'s `per_message/example_strategy`
//!   (one venue message per `Engine::do_work`, the imbalance taker, the full risk gate, the
//!   rig answering orders) with no journal, and with a `JournalLink` (backpressure, 65 536 slots,
//!   as `qt run`) drained by the real journal thread writing a temporary directory. One
//!   iteration is one market record.
//!
//! After each journal-thread variant the records written, ring waits and market holds are
//! printed to stderr, so a figure can be read against whether the writer kept up.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qt_benches::{EngineRig, PollMode, Tape, VenueReplies, imbalance_params};
use qt_core::journal::{JournalEvent, JournalFullPolicy, JournalLink, JournalRecord, JournalRings, Pushed};
use qt_core::sys::{self, Pinning};
use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};
use qt_recorder::{JournalConfig, JournalWriter};
use qt_tools::journal::JournalStats;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Ring slots, as `qt run`'s default `[journal] ring_capacity`.
const RING: usize = 65_536;

fn market_record() -> JournalRecord {
    let mut ev = MarketEvent::new(
        InstrumentId(0),
        EventKind::BookDelta,
        Side::Buy,
        Price::from_units(6_500_012),
        Qty::from_units(31_000),
    );
    ev.exchange_ns = Nanos(1_767_225_600_000_000_000);
    ev.local_ns = Nanos(12_345_678);
    ev.seq = 42;
    ev.flags = MarketEvent::BATCH_END;
    JournalRecord { domain_ns: ev.exchange_ns, mono_ns: ev.local_ns, event: JournalEvent::Market(ev) }
}

/// The real journal thread over `rings`, writing a fresh journal in a temporary directory.
struct JournalThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(JournalStats, Option<JournalWriter>)>,
    _dir: tempfile::TempDir,
}

impl JournalThread {
    fn start(rings: JournalRings) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let writer = JournalWriter::open(dir.path(), JournalConfig::default()).expect("a journal");
        let stop = Arc::new(AtomicBool::new(false));
        let handle = qt_tools::journal::spawn(rings, Some(writer), Default::default(), stop.clone())
            .expect("the journal thread");
        Self { stop, handle, _dir: dir }
    }

    /// Stops the thread once the ring is drained (the link must be dropped first, or stopped).
    fn finish(self) -> JournalStats {
        self.stop.store(true, Ordering::Release);
        self.handle.join().expect("the journal thread ran").0
    }
}

/// Pushes timed per iteration; what the pushes reported, for the printout.
#[derive(Default)]
struct PushTally {
    pushes: u64,
    waited: u64,
}

fn timed_pushes(link: &mut JournalLink, tally: &mut PushTally, n: u64) -> Duration {
    let record = market_record();
    let start = Instant::now();
    for _ in 0..n {
        if black_box(link.push(black_box(record))) == Pushed::AfterWait {
            tally.waited += 1;
        }
    }
    tally.pushes += n;
    start.elapsed()
}

fn journal_push(c: &mut Criterion) {
    eprintln!("journal_push: size_of::<JournalRecord>() = {} bytes", std::mem::size_of::<JournalRecord>());
    let mut group = c.benchmark_group("journal_push");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    group.throughput(Throughput::Elements(1));

    // A consumer that only pops.
    let (mut link, mut rings) = JournalLink::new(RING, JournalFullPolicy::Backpressure);
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut popped = 0u64;
            while !stop.load(Ordering::Relaxed) {
                while let Ok(r) = rings.records.pop() {
                    black_box(&r);
                    popped += 1;
                }
                std::hint::spin_loop();
            }
            popped
        })
    };
    let mut tally = PushTally::default();
    group.bench_function("market/drained", |b| b.iter_custom(|n| timed_pushes(&mut link, &mut tally, n)));
    stop.store(true, Ordering::Relaxed);
    let popped = consumer.join().expect("the consumer ran");
    eprintln!(
        "journal_push/market/drained: {} pushes, {} waited for room, {popped} popped",
        tally.pushes, tally.waited
    );
    drop(link);

    // The real journal thread.
    let (mut link, rings) = JournalLink::new(RING, JournalFullPolicy::Backpressure);
    let journal = JournalThread::start(rings);
    let mut tally = PushTally::default();
    group.bench_function("market/journal_thread", |b| b.iter_custom(|n| timed_pushes(&mut link, &mut tally, n)));
    drop(link);
    let stats = journal.finish();
    eprintln!(
        "journal_push/market/journal_thread: {} pushes, {} waited for room; the thread wrote {} records in {} commits \
         (failure: {:?})",
        tally.pushes, tally.waited, stats.records, stats.commits, stats.failure
    );

    // One thread: push, then pop.
    let (mut link, mut rings) = JournalLink::new(RING, JournalFullPolicy::Backpressure);
    let record = market_record();
    group.bench_function("market/same_thread", |b| {
        b.iter(|| {
            black_box(link.push(black_box(record)));
            black_box(rings.records.pop().ok())
        })
    });
    group.finish();
}

fn journal_engine_loop(c: &mut Criterion) {
    sys::init_clock();
    let tape = Tape::standard();
    let mut group = c.benchmark_group("journal_engine_loop");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    group.throughput(Throughput::Elements(1));
    for journal_on in [false, true] {
        let mut rig = EngineRig::new(&tape, imbalance_params(), PollMode::Message, VenueReplies::FillOddExpireEven);
        let journal = journal_on.then(|| {
            let (link, rings) = JournalLink::new(RING, JournalFullPolicy::Backpressure);
            rig.engine.set_journal(link);
            JournalThread::start(rings)
        });
        let name = if journal_on { "per_message/on" } else { "per_message/off" };
        group.bench_function(name, |b| b.iter_custom(|records| rig.time_records(records)));
        let r = rig.engine.report(Pinning::NotRequested, Nanos::ZERO);
        drop(rig);
        let written = journal.map(JournalThread::finish);
        eprintln!(
            "journal_engine_loop/{name}: {} records, {} orders sent, tick-to-order p50 {} ns p99 {} ns; core pushed {} \
             (waited {}, market held {} iterations, dropped {}); journal wrote {:?}",
            r.market_events,
            r.orders_sent,
            r.tick_to_order.p50,
            r.tick_to_order.p99,
            r.journal.records,
            r.journal.waits,
            r.journal.market_holds,
            r.journal.dropped,
            written.map(|s| s.records),
        );
    }
    group.finish();
}

criterion_group!(benches, journal_push, journal_engine_loop);
criterion_main!(benches);
