//! The core thread's stats updates, in the mapped stats file: one counter increment (a relaxed
//! load and store through the block handle, as `Core` does) and one histogram record (bucket
//! search + three load/store pairs). Issue #17 asks ≤ 2 ns for the counter update. The block
//! lives in a real file mapping in the temp dir, as in `qt run`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qt_core::counters::EngineCounters;
use qt_core::stats::blocks::LatencyStats;
use qt_core::stats::{Capacity, Owner, StatsRegion};
use std::hint::black_box;
use std::time::Duration;

fn stats_updates(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("qt-bench-{}.stats", std::process::id()));
    let region = StatsRegion::create(&path, Capacity::default()).expect("stats file in the temp dir");
    let counters = region.block::<EngineCounters>(Owner::Core, &[]).expect("engine counters block");
    let latency = region.block::<LatencyStats>(Owner::Core, &[]).expect("latency block");
    let mut group = c.benchmark_group("stats");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function("counter_incr", |b| b.iter(|| black_box(&counters).fills.incr()));
    let samples: Vec<i64> = (0..1024).map(|i| 50 + (i * 7919) % 2_000_000).collect();
    let mut i = 0usize;
    group.bench_function("histogram_record", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(&latency).tick_to_order.record(black_box(samples[i]));
        })
    });
    group.finish();
    assert!(counters.fills.get() > 0);
    drop((counters, latency, region));
    let _ = std::fs::remove_file(path);
}

criterion_group!(benches, stats_updates);
criterion_main!(benches);
