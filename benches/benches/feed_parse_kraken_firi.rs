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
//!
//! The groups are built by `feed_common` (the body all three `feed_parse*` benches share) from each
//! venue's `qt_benches::stream_benches` entry, the one `examples/feed_ratio.rs` measures.

mod feed_common;

use criterion::{Criterion, criterion_group, criterion_main};
use qt_core::Venue;

fn bench(c: &mut Criterion) {
    feed_common::feed_parse(c, &[Venue::Kraken, Venue::Firi]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
