//! Order command → signed request bytes ready, per venue (issues #19 and #20): a new limit order
//! through the venue's body or parameter writer, its timestamp form, its MAC and the kit's
//! request writer, into reused buffers (`qt_benches::order_encode`). Before timing, each
//! venue's allocations per order after warm-up are counted and printed to stderr; the
//! allocation test (`benches/tests/order_encode.rs`) holds them at 0 where the format allows
//! and the bytes equal to the cold path's.
//!
//! Kraken signs with HMAC-SHA512 over the path and SHA-256(nonce + body), the others with
//! HMAC-SHA256: BENCHMARKS.md reports Kraken apart. Reference figures (NautilusTrader): 152 ns
//! order → wire bytes, 266–394 ns HMAC signing.

use criterion::{Criterion, criterion_group, criterion_main};
use qt_benches::order_encode::{OrderEncoder, VENUES, limit_order};
use qt_core::OrderId;
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static GLOBAL: qt_test_support::CountingAllocator = qt_test_support::CountingAllocator;

fn order_encode(c: &mut Criterion) {
    let request = limit_order();
    let mut group = c.benchmark_group("order_encode");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for name in VENUES {
        let mut enc = OrderEncoder::new(name).expect("a benchmarked venue");
        let mut id = 0u64;
        for _ in 0..100 {
            id += 1;
            enc.encode(OrderId(id), &request, 1_700_000_000_000 + id as i64);
        }
        let before = qt_test_support::allocations();
        for _ in 0..1000 {
            id += 1;
            black_box(enc.encode(OrderId(id), &request, 1_700_000_000_000 + id as i64));
        }
        let per_order = (qt_test_support::allocations() - before) as f64 / 1000.0;
        eprintln!("order_encode/{name}: {per_order} allocations per order after warm-up");
        group.bench_function(name, |b| {
            b.iter(|| {
                id += 1;
                black_box(enc.encode(OrderId(id), black_box(&request), 1_700_000_000_000 + id as i64).len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, order_encode);
criterion_main!(benches);
