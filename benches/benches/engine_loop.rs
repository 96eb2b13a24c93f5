//! The cost per market record through the whole core path: `Engine::do_work` polling a feed of
//! prepared records → `Book::apply` → the imbalance taker → `PreTradeGate` → the order ring, with
//! the venue's reports coming back through the report ring.
//!
//! This is the figure the core loop exists to keep small. The feed replays the standard
//! simulated BTCUSDT tape (snapshot, then ~100k deltas and trades, looped); the bench thread
//! plays the venue, taking every order off the ring after each iteration and answering it at
//! once (see `qt_benches::EngineRig`). One criterion iteration is one market record, so the time
//! per iteration is the time per record, loop overhead (clock reads, the loop-time histogram,
//! report draining) included. Variants:
//! - `per_message/example_strategy`: one venue message per loop iteration (a socket feed reading
//!   one frame per iteration), the BTCUSDT strategy of `examples/sim.toml`; odd orders fill;
//! - `per_message/order_heavy`: same feed, no cooldown and a low threshold, every order expires
//!   (position stays flat): an order on about a third of the records instead of 0.15 %;
//! - `drain_4096/example_strategy`: up to 4096 records per iteration, as `RingFeed` drains — the
//!   loop overhead amortised over a burst (and, because the strategy keeps one order in flight
//!   and its report arrives only on the next iteration, about a tenth as many orders). The
//!   receive time of every record of a burst is the iteration's start, so this variant's
//!   tick-to-order latency includes the records queued ahead in the same burst.
//!
//! After each variant the order count is printed to stderr, so the figure can be read against
//! how often the order path ran.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qt_benches::{EngineRig, PollMode, Tape, VenueReplies, imbalance_params, order_heavy_params};
use qt_core::Nanos;
use qt_core::strategy::imbalance::ImbalanceParams;
use qt_core::sys::{self, Pinning};
use std::time::Duration;

fn engine_loop(c: &mut Criterion) {
    sys::init_clock();
    let tape = Tape::standard();
    let variants: [(&str, ImbalanceParams, PollMode, VenueReplies); 3] = [
        ("per_message/example_strategy", imbalance_params(), PollMode::Message, VenueReplies::FillOddExpireEven),
        ("per_message/order_heavy", order_heavy_params(), PollMode::Message, VenueReplies::ExpireAll),
        ("drain_4096/example_strategy", imbalance_params(), PollMode::Drain(4096), VenueReplies::FillOddExpireEven),
    ];
    let mut group = c.benchmark_group("engine_loop");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    group.throughput(Throughput::Elements(1));
    for (name, params, mode, replies) in variants {
        let mut rig = EngineRig::new(&tape, params, mode, replies);
        group.bench_function(name, |b| b.iter_custom(|records| rig.time_records(records)));
        let r = rig.engine.report(Pinning::NotRequested, Nanos::ZERO);
        eprintln!(
            "engine_loop/{name}: {} records, {} messages, {} orders sent ({:.3} % of records), {} fills; risk: {}; \
             tick-to-order p50 {} ns p99 {} ns",
            r.market_events,
            r.market_batches,
            r.orders_sent,
            100.0 * r.orders_sent as f64 / r.market_events.max(1) as f64,
            r.fills,
            r.risk.render(),
            r.tick_to_order.p50,
            r.tick_to_order.p99,
        );
    }
    group.finish();
}

criterion_group!(benches, engine_loop);
criterion_main!(benches);
