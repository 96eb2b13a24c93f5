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
//!
//! The groups are built by `feed_common` (the body all three `feed_parse*` benches share) from each
//! venue's `qt_benches::stream_benches` entry, the one `examples/feed_ratio.rs` measures.

mod feed_common;

use criterion::{Criterion, criterion_group, criterion_main};
use qt_core::Venue;

fn bench(c: &mut Criterion) {
    feed_common::feed_parse(c, &[Venue::Bybit, Venue::BinanceUsdm, Venue::Kucoin]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
