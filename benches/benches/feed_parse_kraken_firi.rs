//! Parse + apply of Kraken WS v2 `book` messages (and Firi depth bodies): our decoders into the
//! engine's L2 `Book`, against a `serde_json::Value` baseline on the same messages in the same
//! run — `benches/feed_parse.rs`'s design for two more venues.
//!
//! Kraken (`qt_benches::feed_streams_kraken`, seeded): BTC/USD at subscribed depth 25, a
//! snapshot then 100 000 `update`s with bare JSON-number prices and quantities, 6–14 model
//! changes a message, and a real CRC32 `checksum` the decoder verifies on every message (the
//! simulator's encoder computes it from the text it sends). The baseline parses each frame into an owned
//! `serde_json::Value`, checks channel, type and symbol, converts each number's text exactly (the
//! same `parse_scaled`), applies it to depth-truncated `BTreeMap` books and verifies the checksum
//! (`String` + `crc32fast`). Before timing, both paths are run once and must end with the same
//! books and no refusal or checksum failure.
//!
//! Firi (`qt_benches::feed_streams_firi`, seeded): 10 000 polled `GET /v2/markets/BTCNOK/depth`
//! bodies, 50 `[price, amount]` string levels a side, each applied as a full book image; the
//! baseline parses each into a `serde_json::Value`, converts the strings with `parse_scaled` and
//! rebuilds its `BTreeMap` books. Both must end with the same books, nothing refused.
//!
//! Figures are per message / body (criterion throughput = measured frames).

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use qt_benches::feed_streams::{VenueStream, decode_into_book};
use qt_benches::feed_streams_firi::{
    FiriSerdeBaseline, assert_same_firi_outcome, firi_standard_stream, firi_synced, serde_firi,
};
use qt_benches::feed_streams_kraken::{
    KrakenSerdeBaseline, assert_same_kraken_outcome, kraken_standard_stream, kraken_synced, serde_kraken,
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

fn kraken(c: &mut Criterion) {
    let kraken = kraken_standard_stream();
    assert_same_kraken_outcome(&kraken);
    let mut g = group(c, "kraken_book_parse_apply", &kraken);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || kraken_synced(&kraken),
            |(mut decoder, mut book)| {
                decode_into_book(&mut decoder, &mut book, kraken.measured());
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter_batched(
            || KrakenSerdeBaseline::synced(&kraken),
            |mut baseline| {
                serde_kraken(&mut baseline, &kraken.instrument, kraken.measured());
                black_box(baseline.checksums_ok)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn firi(c: &mut Criterion) {
    let firi = firi_standard_stream();
    assert_same_firi_outcome(&firi);
    let mut g = group(c, "firi_depth_parse_apply", &firi);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || firi_synced(&firi),
            |(mut decoder, mut book)| {
                decode_into_book(&mut decoder, &mut book, firi.measured());
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter_batched(
            || FiriSerdeBaseline::synced(&firi),
            |mut baseline| {
                serde_firi(&mut baseline, &firi.instrument, firi.measured());
                black_box(baseline.books)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, kraken, firi);
criterion_main!(benches);
