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
//!
//! The groups are built by `feed_common` (the body all three `feed_parse*` benches share) from each
//! venue's `qt_benches::stream_benches` entry, the one `examples/feed_ratio.rs` measures.

mod feed_common;

use criterion::{Criterion, criterion_group, criterion_main};
use qt_core::Venue;

fn bench(c: &mut Criterion) {
    feed_common::feed_parse(c, &[Venue::Binance, Venue::Okx]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
