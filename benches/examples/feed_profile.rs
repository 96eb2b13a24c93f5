//! Runs one measured path of `benches/feed_parse.rs` once, for profilers: instruction
//! counts under `valgrind --tool=callgrind` with
//! `--toggle-collect='qt_benches::feed_streams::decode_into_book'` (or
//! `*serde_binance*`, `*serde_okx*`) are deterministic even on a busy machine, unlike wall time.
//!
//! ```sh
//! cargo build --profile bench -p qt-benches --example feed_profile
//! valgrind --tool=callgrind --toggle-collect='qt_benches::feed_streams::decode_into_book' \
//!     target/bench/examples/feed_profile binance ours 20000
//! ```
//!
//! The exact name, not `'*decode_into_book*'`: that pattern also matches the emit closure
//! `decode_into_book::{{closure}}`, and callgrind toggles collection *off* on entering it, so
//! the engine book's `apply` was left out of every figure taken that way (BENCHMARKS.md
//! `feed_parse`, round 6).
//!
//! Arguments: `binance|okx`, `ours|serde`, messages (a seeded prefix of the benchmark's stream:
//! the generator is sequential, so the first N messages are the benchmark's first N).

use qt_benches::SEED;
use qt_benches::feed_streams::{
    SerdeBaseline, binance_depth_stream, binance_synced, decode_into_book, okx_books_stream, okx_synced, serde_binance,
    serde_okx,
};
use qt_feed::VenueDecoder;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let venue = args.get(1).map_or("binance", String::as_str);
    let path = args.get(2).map_or("ours", String::as_str);
    let messages: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let okx = venue == "okx";
    let stream = if okx { okx_books_stream(messages, SEED) } else { binance_depth_stream(messages, SEED) };
    let frames = stream.measured();
    let start = std::time::Instant::now();
    match (okx, path) {
        (false, "ours") => {
            let (mut d, mut book) = binance_synced(&stream);
            decode_into_book(&mut d, &mut book, frames);
            println!("{:?} best bid {:?}", d.stats(), book.best_bid());
        }
        (true, "ours") => {
            let (mut d, mut book) = okx_synced(&stream);
            decode_into_book(&mut d, &mut book, frames);
            println!("{:?} best bid {:?}", d.stats(), book.best_bid());
        }
        (false, _) => {
            let mut b = SerdeBaseline::synced(&stream, false);
            serde_binance(&mut b, &stream.instrument, frames);
            println!("refused {}", b.refused);
        }
        (true, _) => {
            let mut b = SerdeBaseline::synced(&stream, true);
            serde_okx(&mut b, &stream.instrument, frames);
            println!("refused {}", b.refused);
        }
    }
    // Includes the set-up (decoder, snapshot); indicative only — criterion gives the figures.
    let ns = start.elapsed().as_nanos() as f64 / frames.len().max(1) as f64;
    println!("{} frames, mean {:.1} bytes, {ns:.0} ns/frame including set-up", frames.len(), stream.mean_frame_bytes());
}
