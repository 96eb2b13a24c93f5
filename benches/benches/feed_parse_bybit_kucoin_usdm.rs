//! Parse + apply of Bybit, Binance USD-M futures and KuCoin book messages: our decoders
//! (simd-json tape, decimals straight to integers, the venue's sync rules) into the engine's L2
//! `Book`, against a `serde_json::Value` baseline on the same messages in the same run — the
//! design of `feed_parse.rs`, for three more venues.
//!
//! Streams (seeded, 100 000 measured messages each, 6–14 levels a message):
//! - Bybit v5 `orderbook.200.BTCUSDT` deltas after the 200-level snapshot
//!   (`qt_benches::feed_streams_bybit`); `u` grows by one per message.
//! - Binance USD-M futures `btcusdt@depth@100ms` combined-stream diffs after the 1 000-level
//!   REST snapshot (`qt_benches::feed_streams_usdm`); `pu` = previous `u`, `U` jumps ahead.
//! - KuCoin `/market/level2:BTC-USDT` `trade.l2update` increments after the 1 000-level REST
//!   snapshot (`qt_benches::feed_streams_kucoin`); per-change sequences, `sequenceStart` =
//!   previous `sequenceEnd` + 1.
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
use qt_benches::feed_streams_kucoin::{
    assert_same_kucoin_outcome, kucoin_level2_stream, kucoin_serde_synced, kucoin_synced, serde_kucoin,
};
use qt_benches::feed_streams_usdm::{
    assert_same_usdm_outcome, serde_usdm, usdm_depth_stream, usdm_serde_synced, usdm_synced,
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

fn usdm(c: &mut Criterion) {
    let stream = usdm_depth_stream(STREAM_MESSAGES, SEED);
    assert_same_usdm_outcome(&stream);
    let mut g = group(c, "binance_usdm_depth_parse_apply", &stream);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || usdm_synced(&stream),
            |(mut decoder, mut book)| {
                decode_into_book(&mut decoder, &mut book, stream.measured());
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter_batched(
            || usdm_serde_synced(&stream),
            |mut baseline| {
                serde_usdm(&mut baseline, &stream.instrument, stream.measured());
                black_box(baseline.last)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn kucoin(c: &mut Criterion) {
    let stream = kucoin_level2_stream(STREAM_MESSAGES, SEED);
    assert_same_kucoin_outcome(&stream);
    let mut g = group(c, "kucoin_level2_parse_apply", &stream);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || kucoin_synced(&stream),
            |(mut decoder, mut book)| {
                decode_into_book(&mut decoder, &mut book, stream.measured());
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter_batched(
            || kucoin_serde_synced(&stream),
            |mut baseline| {
                serde_kucoin(&mut baseline, &stream.instrument, stream.measured());
                black_box(baseline.last)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bybit, usdm, kucoin);
criterion_main!(benches);
