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
//! - To see where a push's time goes: `.../drained/ring_1024` and `.../same_thread/ring_64` (slots
//!   that stay in the caches, against the 10 MiB of `qt run`'s 65 536 slots), and
//!   `market_event_64b/drained` (the bare 64-byte `MarketEvent` through a plain ring: the cost of
//!   the 160-byte slot).
//! - `journal_engine_loop/per_message/{off,on}`: `engine_loop`'s `per_message/example_strategy`
//!   (one venue message per `Engine::do_work`, the imbalance taker, the full risk gate, the
//!   rig answering orders) with no journal, and with a `JournalLink` (backpressure, 65 536 slots,
//!   as `qt run`) drained by the real journal thread writing a temporary directory. One
//!   iteration is one market record. `.../on_drained`: the same link, its ring popped by a
//!   thread that writes nothing — the core's own share, whatever the writer's pace.
//!
//! After each journal-thread variant the records written, ring waits and market holds are
//! printed to stderr, so a figure can be read against whether the writer kept up.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qt_benches::{EngineRig, PollMode, Tape, VenueReplies, imbalance_params};
use qt_core::journal::{JournalEvent, JournalFullPolicy, JournalLink, JournalRecord, JournalRings, Pushed};
use qt_core::queue::{Consumer, spsc};
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
        let handle = qt_tools::journal::spawn(rings, Some(writer), Default::default(), stop.clone(), None)
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

/// A thread popping `rx` as fast as it can until `stop`; joins to the count popped.
fn drain<T: Send + 'static>(mut rx: Consumer<T>, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut popped = 0u64;
        while !stop.load(Ordering::Relaxed) {
            while let Ok(r) = rx.pop() {
                black_box(&r);
                popped += 1;
            }
            std::hint::spin_loop();
        }
        popped
    })
}

fn journal_push(c: &mut Criterion) {
    eprintln!("journal_push: size_of::<JournalRecord>() = {} bytes", std::mem::size_of::<JournalRecord>());
    let mut group = c.benchmark_group("journal_push");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    group.throughput(Throughput::Elements(1));

    // A consumer that only pops: the ring of `qt run` (65 536 slots, 10 MiB), and a small one
    // whose slots stay in the caches.
    for (name, slots) in [("market/drained", RING), ("market/drained/ring_1024", 1024)] {
        let (mut link, rings) = JournalLink::new(slots, JournalFullPolicy::Backpressure);
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = drain(rings.records, stop.clone());
        let mut tally = PushTally::default();
        group.bench_function(name, |b| b.iter_custom(|n| timed_pushes(&mut link, &mut tally, n)));
        stop.store(true, Ordering::Relaxed);
        let popped = consumer.join().expect("the consumer ran");
        eprintln!("journal_push/{name}: {} pushes, {} waited for room, {popped} popped", tally.pushes, tally.waited);
    }

    // The same, with the bare 64-byte market record in a plain ring of as many slots: what the
    // 160-byte slot costs.
    let (mut tx, rx) = spsc::<MarketEvent>(RING);
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = drain(rx, stop.clone());
    let JournalEvent::Market(ev) = market_record().event else { unreachable!("a market record") };
    group.bench_function("market_event_64b/drained", |b| {
        b.iter(|| {
            while tx.push(black_box(ev)).is_err() {
                std::hint::spin_loop();
            }
        })
    });
    stop.store(true, Ordering::Relaxed);
    consumer.join().expect("the consumer ran");

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

    // One thread: push, then pop (no second core), in the full-size ring and in the smallest.
    for (name, slots) in [("market/same_thread", RING), ("market/same_thread/ring_64", 64)] {
        let (mut link, mut rings) = JournalLink::new(slots, JournalFullPolicy::Backpressure);
        let record = market_record();
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(link.push(black_box(record)));
                black_box(rings.records.pop().ok())
            })
        });
    }
    group.finish();
}

/// The journal behind the engine loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// No journal link.
    Off,
    /// A link whose ring a thread pops and throws away: the core's side alone.
    Drained,
    /// A link drained by the real journal thread writing a temporary journal.
    On,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Off => "per_message/off",
            Variant::Drained => "per_message/on_drained",
            Variant::On => "per_message/on",
        }
    }
}

fn journal_engine_loop(c: &mut Criterion) {
    sys::init_clock();
    let tape = Tape::standard();
    let mut group = c.benchmark_group("journal_engine_loop");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    group.throughput(Throughput::Elements(1));
    for variant in [Variant::Off, Variant::Drained, Variant::On] {
        let mut rig = EngineRig::new(&tape, imbalance_params(), PollMode::Message, VenueReplies::FillOddExpireEven);
        let mut journal = None;
        let mut popper = None;
        if variant != Variant::Off {
            let (link, rings) = JournalLink::new(RING, JournalFullPolicy::Backpressure);
            rig.engine.set_journal(link);
            if variant == Variant::On {
                journal = Some(JournalThread::start(rings));
            } else {
                let stop = Arc::new(AtomicBool::new(false));
                popper = Some((drain(rings.records, stop.clone()), stop));
            }
        }
        let name = variant.name();
        group.bench_function(name, |b| b.iter_custom(|records| rig.time_records(records)));
        let r = rig.engine.report(Pinning::NotRequested, Nanos::ZERO);
        drop(rig);
        let written = journal.map(JournalThread::finish).map(|s| s.records);
        if let Some((handle, stop)) = popper {
            stop.store(true, Ordering::Relaxed);
            handle.join().expect("the consumer ran");
        }
        eprintln!(
            "journal_engine_loop/{name}: {} records, {} orders sent, tick-to-order p50 {} ns p99 {} ns; core pushed {} \
             (waited {}, market held {} iterations, dropped {}); journal wrote {written:?}",
            r.market_events,
            r.orders_sent,
            r.tick_to_order.p50,
            r.tick_to_order.p99,
            r.journal.records,
            r.journal.waits,
            r.journal.market_holds,
            r.journal.dropped,
        );
    }
    group.finish();
}

criterion_group!(benches, journal_push, journal_engine_loop);
criterion_main!(benches);
