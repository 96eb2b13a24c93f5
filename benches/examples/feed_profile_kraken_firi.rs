//! Runs one measured path of `benches/feed_parse_kraken_firi.rs` once, for profilers: instruction
//! counts under `valgrind --tool=callgrind` with
//! `--toggle-collect='qt_benches::feed_streams::decode_into_book'` (or
//! `*serde_kraken*`, `*serde_firi*`) are deterministic even on a busy machine, unlike wall time.
//!
//! ```sh
//! cargo build --profile bench -p qt-benches --example feed_profile_kraken_firi
//! valgrind --tool=callgrind --toggle-collect='qt_benches::feed_streams::decode_into_book' \
//!     $CARGO_TARGET_DIR/release/examples/feed_profile_kraken_firi kraken ours 20000
//! ```
//!
//! The exact name, not `'*decode_into_book*'`: that pattern also matches the emit closure
//! `decode_into_book::{{closure}}`, and callgrind toggles collection *off* on entering it, so
//! the engine book's `apply` was left out of every figure taken that way (BENCHMARKS.md
//! `feed_parse`, round 6).
//!
//! Arguments: `kraken|firi`, `ours|serde`, messages (a seeded prefix of the benchmark's stream: the
//! generator is sequential, so the first N messages are the benchmark's first N).

use qt_benches::SEED;
use qt_benches::feed_streams::decode_into_book;
use qt_benches::feed_streams_firi::{FiriSerdeBaseline, firi_depth_stream, firi_synced, serde_firi};
use qt_benches::feed_streams_kraken::{KrakenSerdeBaseline, kraken_book_stream, kraken_synced, serde_kraken};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let venue = args.get(1).map_or("kraken", String::as_str);
    let path = args.get(2).map_or("ours", String::as_str);
    let messages: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let firi = match venue {
        "kraken" => false,
        "firi" => true,
        other => panic!("unknown venue {other:?}: kraken or firi"),
    };
    let stream = if firi { firi_depth_stream(messages, SEED) } else { kraken_book_stream(messages, SEED) };
    let frames = stream.measured();
    let start = std::time::Instant::now();
    match (firi, path) {
        (false, "ours") => {
            let (mut d, mut book) = kraken_synced(&stream);
            decode_into_book(&mut d, &mut book, frames);
            println!("{:?} best bid {:?}", d.counters(), book.best_bid());
        }
        (true, "ours") => {
            let (mut d, mut book) = firi_synced(&stream);
            decode_into_book(&mut d, &mut book, frames);
            println!("{:?} best bid {:?}", d.counters(), book.best_bid());
        }
        (false, _) => {
            let mut b = KrakenSerdeBaseline::synced(&stream);
            serde_kraken(&mut b, &stream.instrument, frames);
            println!("refused {}, checksums ok {}", b.refused, b.checksums_ok);
        }
        (true, _) => {
            let mut b = FiriSerdeBaseline::synced(&stream);
            serde_firi(&mut b, &stream.instrument, frames);
            println!("refused {}, books {}", b.refused, b.books);
        }
    }
    // Includes the set-up (decoder, snapshot); indicative only — criterion gives the figures.
    let ns = start.elapsed().as_nanos() as f64 / frames.len().max(1) as f64;
    println!("{} frames, mean {:.1} bytes, {ns:.0} ns/frame including set-up", frames.len(), stream.mean_frame_bytes());
}
