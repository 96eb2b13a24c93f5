//! Parse + apply of venue book messages: our decoders (simd-json tape, decimals straight to
//! integers, the venue's sync rules, OKX's CRC32 checksum) into the engine's L2 `Book`, against
//! a `serde_json::Value` baseline on the same messages in the same run.
//!
//! Streams (`qt_benches::feed_streams`, seeded): 100 000 Binance spot `depthUpdate`
//! combined-stream frames (8-decimal strings, 4–12 levels, mean 389 bytes a frame, 349 a payload) after a
//! 1 000-level REST snapshot; 100 000 OKX `books` updates (6–14 levels, mean 490 bytes, real
//! `checksum`, `prevSeqId` chain) after a 400-level snapshot. The baseline parses each frame
//! into an owned `serde_json::Value`, checks symbol and sequence, converts the decimal strings
//! exactly (same `parse_scaled`) and applies them to `BTreeMap` books; for OKX it also verifies
//! the checksum (a `String` of the top 25 levels, `crc32fast::hash`) — what a straightforward
//! serde stack does. Before timing, both paths are run once and must agree on the final book.
//! Figures are per message (criterion throughput = measured frames).

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use qt_benches::SEED;
use qt_benches::feed_streams::{
    STREAM_MESSAGES, SerdeBaseline, VenueStream, assert_same_outcome, binance_depth_stream, binance_synced,
    decode_into_book, okx_books_stream, okx_synced, serde_binance, serde_okx,
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

fn bench(c: &mut Criterion) {
    let binance = binance_depth_stream(STREAM_MESSAGES, SEED);
    assert_same_outcome(&binance, false);
    let mut g = group(c, "binance_depth_parse_apply", &binance);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || binance_synced(&binance),
            |(mut decoder, mut book)| {
                decode_into_book(&mut decoder, &mut book, binance.measured());
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter_batched(
            || SerdeBaseline::synced(&binance, false),
            |mut baseline| {
                serde_binance(&mut baseline, &binance.instrument, binance.measured());
                black_box(baseline.last)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    drop(binance);

    let okx = okx_books_stream(STREAM_MESSAGES, SEED);
    assert_same_outcome(&okx, true);
    let mut g = group(c, "okx_books_parse_apply", &okx);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || okx_synced(&okx),
            |(mut decoder, mut book)| {
                decode_into_book(&mut decoder, &mut book, okx.measured());
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter_batched(
            || SerdeBaseline::synced(&okx, true),
            |mut baseline| {
                serde_okx(&mut baseline, &okx.instrument, okx.measured());
                black_box(baseline.last)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
