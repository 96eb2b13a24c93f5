//! Parse + apply of Binance spot diff-depth messages: our decoder (simd-json tape, decimals
//! straight to integers, Binance's sync rules) into an L2 `Book`, against a `serde_json::Value`
//! baseline on the same messages in the same run.
//!
//! The stream is 20,000 seeded `depthUpdate` combined-stream frames in Binance's exact format
//! (8-decimal strings, ~10 levels per message, consecutive `U`/`u`), like the stream
//! PERFORMANCE.md measured the public stacks on. The baseline parses each frame into an owned
//! `serde_json::Value`, walks `b`/`a`, converts the decimal strings exactly (same
//! `parse_scaled`) and applies them to `BTreeMap` books — what a straightforward serde stack does.
//! Figures are per message.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qt_core::decimal::{DecimalStyle, format_scaled, parse_scaled};
use qt_core::{Book, MarketEvent, Nanos};
use qt_feed::VenueDecoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::hint::black_box;

const MESSAGES: usize = 20_000;
const FIRST_ID: u64 = 1_000_000;

fn level(rng: &mut ChaCha8Rng, mid: i64, bid: bool) -> String {
    let offset = rng.random_range(0..60);
    let price = if bid { mid - 1 - offset } else { mid + 1 + offset };
    let qty = if rng.random_bool(0.25) { 0 } else { rng.random_range(1..2_000_000) };
    // Binance sends every decimal with 8 places.
    format!(
        "[\"{}\",\"{}\"]",
        format_scaled(i128::from(price) * 1_000_000, 8, DecimalStyle::Fixed),
        format_scaled(i128::from(qty) * 1000, 8, DecimalStyle::Fixed)
    )
}

/// The frames and the REST snapshot that bridges them.
fn stream() -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mid = 6_500_000i64; // 65000.00 in cents
    let mut frames = Vec::with_capacity(MESSAGES);
    let mut id = FIRST_ID;
    for i in 0..MESSAGES {
        let n = rng.random_range(3..8);
        let bids: Vec<String> = (0..n).map(|_| level(&mut rng, mid, true)).collect();
        let asks: Vec<String> = (0..10 - n).map(|_| level(&mut rng, mid, false)).collect();
        let first = id + 1;
        id += rng.random_range(1..4);
        frames.push(
            format!(
                "{{\"stream\":\"btcusdt@depth@100ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{},\"s\":\"BTCUSDT\",\"U\":{first},\"u\":{id},\"b\":[{}],\"a\":[{}]}}}}",
                1_700_000_000_000u64 + i as u64 * 100,
                bids.join(","),
                asks.join(",")
            )
            .into_bytes(),
        );
    }
    let snap_bids: Vec<String> = (1..=100)
        .map(|k| {
            format!("[\"{}\",\"1.00000000\"]", format_scaled(i128::from(mid - k) * 1_000_000, 8, DecimalStyle::Fixed))
        })
        .collect();
    let snap_asks: Vec<String> = (1..=100)
        .map(|k| {
            format!("[\"{}\",\"1.00000000\"]", format_scaled(i128::from(mid + k) * 1_000_000, 8, DecimalStyle::Fixed))
        })
        .collect();
    let snapshot = format!(
        "{{\"lastUpdateId\":{FIRST_ID},\"bids\":[{}],\"asks\":[{}]}}",
        snap_bids.join(","),
        snap_asks.join(",")
    )
    .into_bytes();
    (frames, snapshot)
}

/// A decoder synced on the snapshot, and a book holding it.
fn synced(frames: &[Vec<u8>], snapshot: &[u8]) -> (qt_feed::binance::Decoder, Book, usize) {
    let inst = qt_benches::btcusdt();
    let mut decoder = qt_feed::binance::Decoder::new(std::slice::from_ref(&inst));
    let mut book = Book::new(inst.id(), 1000);
    let mut apply = |ev: &MarketEvent| {
        let _ = book.apply(ev);
    };
    VenueDecoder::on_frame(&mut decoder, &frames[0], Nanos(0), &mut apply);
    assert!(VenueDecoder::on_snapshot_body(&mut decoder, 0, snapshot, Nanos(0), &mut apply), "snapshot bridges");
    assert!(book.is_valid());
    (decoder, book, 1)
}

fn bench(c: &mut Criterion) {
    let (frames, snapshot) = stream();
    let mut g = c.benchmark_group("binance_depth_parse_apply");
    g.throughput(Throughput::Elements((MESSAGES - 1) as u64));
    g.sample_size(10);
    g.bench_function("qt_decoder_into_book", |b| {
        b.iter_batched(
            || synced(&frames, &snapshot),
            |(mut decoder, mut book, start)| {
                let mut apply = |ev: &MarketEvent| {
                    let _ = book.apply(ev);
                };
                for f in &frames[start..] {
                    VenueDecoder::on_frame(&mut decoder, f, Nanos(0), &mut apply);
                }
                assert_eq!(decoder.stats().gaps, 0);
                black_box(book.best_bid())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("serde_json_value_into_btreemap", |b| {
        b.iter(|| {
            let mut bids: BTreeMap<i64, i64> = BTreeMap::new();
            let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
            for f in &frames[1..] {
                let v: serde_json::Value = serde_json::from_slice(f).expect("valid JSON");
                let data = &v["data"];
                for (key, book) in [("b", &mut bids), ("a", &mut asks)] {
                    for level in data[key].as_array().into_iter().flatten() {
                        let p = parse_scaled(level[0].as_str().unwrap_or(""), 2).unwrap_or(0);
                        let q = parse_scaled(level[1].as_str().unwrap_or(""), 5).unwrap_or(0);
                        if q == 0 {
                            book.remove(&p);
                        } else {
                            book.insert(p, q);
                        }
                    }
                }
            }
            black_box((bids.len(), asks.len()))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
