//! Parse + apply of Bybit, Binance USD-M futures and KuCoin book messages: our decoders
//! (simd-json tape, decimals straight to integers, the venue's sync rules) into the engine's L2
//! `Book`, against a `serde_json::Value` baseline on the same messages in the same run — the
//! design of `feed_parse.rs`, for three more venues.
//!
//! Streams (seeded, 100 000 measured messages each, 6–14 levels a message):
//! - Bybit v5 `orderbook.200.BTCUSDT` deltas after the 200-level snapshot
//!   (`qt_benches::feed_streams_bybit`); `u` grows by one per message.
//!
//! The baseline parses each frame into an owned `serde_json::Value`, checks topic/symbol and
//! sequence as the venue's rules require, converts the decimal strings exactly (same
//! `parse_scaled`) and applies them to `BTreeMap` books. Before timing, both paths run the whole
//! stream once and must agree on the final top-25 book. Figures are per message (criterion
//! throughput = measured frames).

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use qt_benches::SEED;
use qt_benches::feed_streams::{STREAM_MESSAGES, VenueStream, decode_into_book};
use qt_benches::feed_streams_bybit::{
    assert_same_bybit_outcome, bybit_orderbook_stream, bybit_serde_synced, bybit_synced, serde_bybit,
};
use std::hint::black_box;
use std::time::Duration;

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    stream: &VenueStream,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    eprintln!("{name}: {} measured frames, mean {:.1} bytes", stream.measured().len(), stream.mean_frame_bytes());
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(stream.measured().len() as u64));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    g
}

fn bybit(c: &mut Criterion) {
    let stream = bybit_orderbook_stream(STREAM_MESSAGES, SEED);
    assert_same_bybit_outcome(&stream);
    let mut g = group(c, "bybit_orderbook_parse_apply", &stream);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || bybit_synced(&stream),
            |(mut decoder, mut book)| {
                decode_into_book(&mut decoder, &mut book, stream.measured());
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter_batched(
            || bybit_serde_synced(&stream),
            |mut baseline| {
                serde_bybit(&mut baseline, &stream.instrument, stream.measured());
                black_box(baseline.last)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bybit);
criterion_main!(benches);
