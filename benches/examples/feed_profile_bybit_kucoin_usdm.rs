//! Runs one measured path of `benches/feed_parse_bybit_kucoin_usdm.rs` once, for profilers: instruction
//! counts under `valgrind --tool=callgrind` with
//! `--toggle-collect='qt_benches::feed_streams::decode_into_book'` (or
//! `*serde_bybit*`, `*serde_usdm*`, `*serde_kucoin*`) are deterministic even on a busy machine, unlike wall time.
//!
//! ```sh
//! cargo build --profile bench -p qt-benches --example feed_profile_bybit_kucoin_usdm
//! valgrind --tool=callgrind --toggle-collect='qt_benches::feed_streams::decode_into_book' \
//!     $CARGO_TARGET_DIR/release/examples/feed_profile_bybit_kucoin_usdm bybit ours 20000
//! ```
//!
//! The exact name, not `'*decode_into_book*'`: that pattern also matches the emit closure
//! `decode_into_book::{{closure}}`, and callgrind toggles collection *off* on entering it, so
//! the engine book's `apply` was left out of every figure taken that way (BENCHMARKS.md
//! `feed_parse`, round 6).
//!
//! Arguments: `bybit|kucoin|usdm`, `ours|serde`, messages (a seeded prefix of the benchmark's stream: the
//! generator is sequential, so the first N messages are the benchmark's first N).

use qt_benches::SEED;
use qt_benches::feed_streams::{VenueStream, decode_into_book};
use qt_benches::feed_streams_bybit::{bybit_orderbook_stream, bybit_serde_synced, bybit_synced, serde_bybit};
use qt_benches::feed_streams_kucoin::{kucoin_level2_stream, kucoin_serde_synced, kucoin_synced, serde_kucoin};
use qt_benches::feed_streams_usdm::{serde_usdm, usdm_depth_stream, usdm_serde_synced, usdm_synced};

#[inline(never)]
fn bybit_ours(stream: &VenueStream) {
    let (mut d, mut book) = bybit_synced(stream);
    decode_into_book(&mut d, &mut book, stream.measured());
    println!("{:?} best bid {:?}", d.counters(), book.best_bid());
}

#[inline(never)]
fn bybit_serde(stream: &VenueStream) {
    let mut b = bybit_serde_synced(stream);
    serde_bybit(&mut b, &stream.instrument, stream.measured());
    println!("refused {}", b.refused);
}

#[inline(never)]
fn usdm_ours(stream: &VenueStream) {
    let (mut d, mut book) = usdm_synced(stream);
    decode_into_book(&mut d, &mut book, stream.measured());
    println!("{:?} best bid {:?}", d.counters(), book.best_bid());
}

#[inline(never)]
fn usdm_serde(stream: &VenueStream) {
    let mut b = usdm_serde_synced(stream);
    serde_usdm(&mut b, &stream.instrument, stream.measured());
    println!("refused {}", b.refused);
}

#[inline(never)]
fn kucoin_ours(stream: &VenueStream) {
    let (mut d, mut book) = kucoin_synced(stream);
    decode_into_book(&mut d, &mut book, stream.measured());
    println!("{:?} best bid {:?}", d.counters(), book.best_bid());
}

#[inline(never)]
fn kucoin_serde(stream: &VenueStream) {
    let mut b = kucoin_serde_synced(stream);
    serde_kucoin(&mut b, &stream.instrument, stream.measured());
    println!("refused {}", b.refused);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let venue = args.get(1).map_or("bybit", String::as_str);
    let path = args.get(2).map_or("ours", String::as_str);
    let messages: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let stream = match venue {
        "bybit" => bybit_orderbook_stream(messages, SEED),
        "usdm" => usdm_depth_stream(messages, SEED),
        "kucoin" => kucoin_level2_stream(messages, SEED),
        other => panic!("unknown venue {other:?}: bybit|kucoin|usdm"),
    };
    let start = std::time::Instant::now();
    match (venue, path) {
        ("bybit", "ours") => bybit_ours(&stream),
        ("bybit", _) => bybit_serde(&stream),
        ("usdm", "ours") => usdm_ours(&stream),
        ("usdm", _) => usdm_serde(&stream),
        ("kucoin", "ours") => kucoin_ours(&stream),
        ("kucoin", _) => kucoin_serde(&stream),
        _ => unreachable!("venue checked above"),
    }
    // Includes the set-up (decoder, snapshot); indicative only — criterion gives the figures.
    let frames = stream.measured().len().max(1);
    let ns = start.elapsed().as_nanos() as f64 / frames as f64;
    println!("{frames} frames, mean {:.1} bytes, {ns:.0} ns/frame including set-up", stream.mean_frame_bytes());
}
