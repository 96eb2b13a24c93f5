//! The journal (`qt-recorder`): how fast the single writer appends, and how soon a tailing reader
//! in another thread sees a commit. Targets from issue #15: at least 10 M 64-byte records/s
//! sustained, commit → visible p99 at most 10 µs.
//!
//! - `journal_append/64B_commit_per_256`: `JournalWriter::append` of records with a 64-byte
//!   payload (a 104-byte frame: the market event's size) and one `commit` per 256, into a fresh
//!   journal in the temp directory with the default 64 MiB segments and `PersistMode::None`.
//!   Each criterion sample opens its own journal (not timed) and deletes it afterwards, so the
//!   figure includes segment rolls and the page faults of fresh segment pages — the steady state
//!   of a journal that keeps growing — but never waits for the disk (nothing is flushed, and the
//!   files are gone before writeback). Whether a disk sustains the rate is another matter.
//! - commit → visible (not criterion; printed after it): a writer thread appends one record
//!   stamped with `sys::mono_now()` (just before `append`) and commits it, then spins 10 µs
//!   before the next; a reader thread busy-polls `JournalReader::poll` and records now − stamp
//!   in an HDR histogram, for 5 s (0.2 s under `cargo test --benches`). p50/p99/p99.9/max, the
//!   share over 10 µs and how often the reader thread was preempted are printed. Neither thread
//!   is pinned: on a machine without two idle cores the tail is the scheduler's.

use criterion::{Criterion, Throughput, criterion_group};
use hdrhistogram::Histogram;
use qt_core::sys;
use qt_recorder::{Entry, JournalConfig, JournalReader, JournalWriter, RecordType};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PAYLOAD: usize = 64;
const BATCH: u64 = 256;

fn entry(payload: &[u8], stamp: i64) -> Entry<'_> {
    Entry { kind: RecordType::MarketEvent, payload_version: 1, domain_ts_ns: stamp, mono_ts_ns: stamp, payload }
}

fn append(c: &mut Criterion) {
    let payload = [0x5A; PAYLOAD];
    let mut group = c.benchmark_group("journal_append");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5)).sample_size(20);
    group.throughput(Throughput::Elements(1));
    group.bench_function("64B_commit_per_256", |b| {
        b.iter_custom(|records| {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut w = JournalWriter::open(dir.path(), JournalConfig::default()).expect("journal opens");
            let start = Instant::now();
            for i in 0..records {
                black_box(w.append(entry(black_box(&payload), i as i64)).expect("append"));
                if i % BATCH == BATCH - 1 {
                    w.commit().expect("commit");
                }
            }
            w.commit().expect("commit");
            let elapsed = start.elapsed();
            drop(w);
            elapsed
        })
    });
    group.finish();
}

/// The commit → visible latency run; prints its figures.
fn commit_to_visible(run_for: Duration) {
    sys::init_clock();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut w = JournalWriter::open(dir.path(), JournalConfig::default()).expect("journal opens");
    let done = AtomicBool::new(false);
    let ((hist, preempted), sent) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reader = JournalReader::open(dir.path()).expect("reader opens");
            let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds");
            let preempted = involuntary_switches();
            loop {
                let finished = done.load(Ordering::Acquire);
                let n = reader
                    .poll(|r| {
                        let latency = sys::mono_now().0 - r.entry.mono_ts_ns;
                        hist.saturating_record(latency.max(1) as u64);
                    })
                    .expect("the journal reads back");
                if finished && n == 0 {
                    return (hist, involuntary_switches().zip(preempted).map(|(b, a)| b - a));
                }
            }
        });
        let payload = [0x5A; PAYLOAD];
        let gap = Duration::from_micros(10).as_nanos() as i64;
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed() < run_for {
            let stamp = sys::mono_now().0;
            w.append(entry(&payload, stamp)).expect("append");
            w.commit().expect("commit");
            sent += 1;
            while sys::mono_now().0 < stamp + gap {
                std::hint::spin_loop();
            }
        }
        done.store(true, Ordering::Release);
        (reader.join().expect("reader thread"), sent)
    });
    assert_eq!(hist.len(), sent, "the reader saw every record");
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1e3;
    let over_10us = hist.len() - hist.count_between(0, 10_000);
    println!(
        "journal_commit_to_visible: {} records in {:?}, segments {}; latency µs: p50 {:.2}  p99 {:.2}  p99.9 {:.2}  \
         p99.99 {:.2}  max {:.1}; over 10 µs: {:.3} %; reader thread preempted {} times",
        sent,
        run_for,
        w.segment() + 1,
        us(0.5),
        us(0.99),
        us(0.999),
        us(0.9999),
        hist.max() as f64 / 1e3,
        100.0 * over_10us as f64 / hist.len().max(1) as f64,
        preempted.map_or("?".to_string(), |n| n.to_string()),
    );
}

/// The calling thread's involuntary context switches so far (Linux `/proc/thread-self/status`):
/// how often the scheduler took the CPU from a busy-polling reader, which is what its latency
/// tail is made of on a machine without a core to spare.
fn involuntary_switches() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:")).and_then(|v| v.trim().parse().ok())
}

criterion_group!(benches, append);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes --bench; `cargo test --benches` does not (a smoke run).
    let bench = args.iter().any(|a| a == "--bench");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    benches();
    if filters.is_empty() || filters.iter().any(|f| "journal_commit_to_visible".contains(f.as_str())) {
        commit_to_visible(if bench { Duration::from_secs(5) } else { Duration::from_millis(200) });
    }
    Criterion::default().configure_from_args().final_summary();
}
