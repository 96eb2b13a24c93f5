//! `Book::apply` of `BookDelta` records: the per-record cost of keeping the core's L2 book.
//!
//! Every market record the core receives goes through it first, so it is the floor under the
//! whole feed → book → strategy path. Two streams, each applied in full per iteration to a fresh
//! copy of the same starting book (the copy is set-up, not timed), reported per record:
//! - `sim_tape`: the deltas of the standard simulated BTCUSDT tape (~75k records) — a quarter
//!   at the touch, most of the rest deep in a 256-level book; deep updates move more of the
//!   sorted ladder, so this is the harder stream;
//! - `top_heavy`: 100k seeded deltas concentrated within ten ticks of the touch of a full
//!   256-deep book — what a busy venue's diff stream mostly looks like.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qt_benches::{BOOK_DEPTH, SEED, Tape, top_heavy_deltas};
use qt_core::{Book, MarketEvent};
use std::hint::black_box;
use std::time::Duration;

fn apply_all(book: &mut Book, deltas: &[MarketEvent]) {
    for ev in deltas {
        // Every record is for this book's instrument with a positive price: never an error.
        let _ = black_box(book.apply(black_box(ev)));
    }
}

fn book_apply(c: &mut Criterion) {
    let tape = Tape::standard();
    let streams = [("sim_tape", tape.book(BOOK_DEPTH), tape.deltas()), {
        let (book, deltas) = top_heavy_deltas(100_000, SEED);
        ("top_heavy", book, deltas)
    }];
    let mut group = c.benchmark_group("book_apply");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    for (name, start, deltas) in &streams {
        // The stream is consistent with its starting book: applying it never fails.
        let mut check = start.clone();
        for ev in deltas {
            check.apply(ev).expect("a generated delta applies cleanly");
        }
        assert!(check.is_valid() && !check.is_crossed(), "{name}: the stream leaves a sane book");
        group.throughput(Throughput::Elements(deltas.len() as u64));
        group.bench_function(*name, |b| {
            b.iter_batched_ref(|| start.clone(), |book| apply_all(book, deltas), BatchSize::LargeInput)
        });
    }
    group.finish();
}

criterion_group!(benches, book_apply);
criterion_main!(benches);
