//! Wall-time ratio of the serde_json baseline to our decoder per venue, measured interleaved: each
//! round times one full pass of ours and one of the baseline over the same stream back to back
//! (alternating which goes first), and the figure is the median of the per-round ratios.
//!
//! The criterion benches (`benches/feed_parse*.rs`) time ours and the baseline minutes apart, so
//! on a shared machine (this one shows ~50 % steal time) a slow spell lands on one side only and
//! the ratio of their medians swings by ±0.5. Pairing the two in each round cancels slow-varying
//! contention; the spread of the per-round ratios shows what is left.
//!
//! ```sh
//! cargo run --release -p qt-benches --example feed_ratio            # every venue, 9 rounds
//! cargo run --release -p qt-benches --example feed_ratio -- kraken 21
//! ```
//!
//! Arguments: a venue (`binance`, `okx`, `bybit`, `usdm`, `kucoin`, `kraken`, `firi`, `all`) and
//! the number of rounds. Streams, set-up and measured paths are exactly the criterion benches'
//! (the same seeded streams, `decode_into_book` against the `serde_*` functions), and both sides
//! are checked to end with the same books first.

use qt_benches::SEED;
use qt_benches::feed_streams::{
    STREAM_MESSAGES, SerdeBaseline, VenueStream, assert_same_outcome, binance_depth_stream, binance_synced,
    decode_into_book, okx_books_stream, okx_synced, serde_binance, serde_okx,
};
use qt_benches::feed_streams_bybit::{
    assert_same_bybit_outcome, bybit_orderbook_stream, bybit_serde_synced, bybit_synced, serde_bybit,
};
use qt_benches::feed_streams_firi::{
    FiriSerdeBaseline, assert_same_firi_outcome, firi_standard_stream, firi_synced, serde_firi,
};
use qt_benches::feed_streams_kraken::{
    KrakenSerdeBaseline, assert_same_kraken_outcome, kraken_standard_stream, kraken_synced, serde_kraken,
};
use qt_benches::feed_streams_kucoin::{
    assert_same_kucoin_outcome, kucoin_level2_stream, kucoin_serde_synced, kucoin_synced, serde_kucoin,
};
use qt_benches::feed_streams_usdm::{
    assert_same_usdm_outcome, serde_usdm, usdm_depth_stream, usdm_serde_synced, usdm_synced,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// One timed pass over a stream's measured frames (set-up, not timed, inside).
type Pass<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// Times `measured` after an untimed `setup`.
fn timed<S>(setup: impl Fn() -> S, measured: impl Fn(&mut S)) -> Duration {
    let mut state = setup();
    let start = Instant::now();
    measured(&mut state);
    let elapsed = start.elapsed();
    black_box(&state);
    elapsed
}

/// Our decoder's pass over `stream`.
fn ours<'a, D: qt_feed::VenueDecoder + 'a>(
    stream: &'a VenueStream,
    synced: fn(&VenueStream) -> (D, qt_core::Book),
) -> Pass<'a> {
    Box::new(move || timed(|| synced(stream), |(decoder, book)| decode_into_book(decoder, book, stream.measured())))
}

/// The baseline's pass over `stream`.
fn serde<'a, B: 'a>(
    stream: &'a VenueStream,
    synced: impl Fn(&VenueStream) -> B + 'a,
    run: fn(&mut B, &qt_core::Instrument, &[Vec<u8>]),
) -> Pass<'a> {
    Box::new(move || timed(|| synced(stream), |b| run(b, &stream.instrument, stream.measured())))
}

/// Median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `rounds` interleaved rounds and prints the venue's line.
fn measure(name: &str, stream: &VenueStream, mut ours: Pass<'_>, mut serde: Pass<'_>, rounds: usize) {
    let frames = stream.measured().len() as f64;
    // One untimed pass each: caches, page faults, branch predictors.
    ours();
    serde();
    let (mut ours_ns, mut serde_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (o, s) = if round % 2 == 0 {
            let o = ours();
            (o, serde())
        } else {
            let s = serde();
            (ours(), s)
        };
        ours_ns.push(o.as_nanos() as f64 / frames);
        serde_ns.push(s.as_nanos() as f64 / frames);
        ratios.push(s.as_secs_f64() / o.as_secs_f64());
    }
    let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "{name:<8} ours {:>7.0} ns/msg   serde_json {:>7.0} ns/msg   ratio median {:.2}x  (min {lo:.2}, max {hi:.2}, {rounds} rounds)",
        median(&mut ours_ns),
        median(&mut serde_ns),
        median(&mut ratios),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let venue = args.get(1).map_or("all", String::as_str);
    let rounds: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(9).max(1);
    let wanted = |v: &str| venue == "all" || venue == v;
    let mut any = false;
    if wanted("binance") {
        let s = binance_depth_stream(STREAM_MESSAGES, SEED);
        assert_same_outcome(&s, false);
        let base = serde(&s, |s| SerdeBaseline::synced(s, false), serde_binance);
        measure("binance", &s, ours(&s, binance_synced), base, rounds);
        any = true;
    }
    if wanted("okx") {
        let s = okx_books_stream(STREAM_MESSAGES, SEED);
        assert_same_outcome(&s, true);
        let base = serde(&s, |s| SerdeBaseline::synced(s, true), serde_okx);
        measure("okx", &s, ours(&s, okx_synced), base, rounds);
        any = true;
    }
    if wanted("bybit") {
        let s = bybit_orderbook_stream(STREAM_MESSAGES, SEED);
        assert_same_bybit_outcome(&s);
        measure("bybit", &s, ours(&s, bybit_synced), serde(&s, bybit_serde_synced, serde_bybit), rounds);
        any = true;
    }
    if wanted("usdm") {
        let s = usdm_depth_stream(STREAM_MESSAGES, SEED);
        assert_same_usdm_outcome(&s);
        measure("usdm", &s, ours(&s, usdm_synced), serde(&s, usdm_serde_synced, serde_usdm), rounds);
        any = true;
    }
    if wanted("kucoin") {
        let s = kucoin_level2_stream(STREAM_MESSAGES, SEED);
        assert_same_kucoin_outcome(&s);
        measure("kucoin", &s, ours(&s, kucoin_synced), serde(&s, kucoin_serde_synced, serde_kucoin), rounds);
        any = true;
    }
    if wanted("kraken") {
        let s = kraken_standard_stream();
        assert_same_kraken_outcome(&s);
        measure("kraken", &s, ours(&s, kraken_synced), serde(&s, KrakenSerdeBaseline::synced, serde_kraken), rounds);
        any = true;
    }
    if wanted("firi") {
        let s = firi_standard_stream();
        assert_same_firi_outcome(&s);
        measure("firi", &s, ours(&s, firi_synced), serde(&s, FiriSerdeBaseline::synced, serde_firi), rounds);
        any = true;
    }
    if !any {
        eprintln!("unknown venue {venue:?}: binance, okx, bybit, usdm, kucoin, kraken, firi or all");
        std::process::exit(2);
    }
}
