//! The bench streams are the reference for the figures in BENCHMARKS.md: each generator's stream
//! (at the benches' size and seed) must stay byte-identical, whatever writes its frames. Each
//! test pins a CRC32 over the stream's frames (length-prefixed) taken from the hand-written
//! generators before they moved onto the simulator's encoders.

use qt_benches::SEED;
use qt_benches::feed_streams::{STREAM_MESSAGES, VenueStream};

/// CRC32 over the snapshot and every frame, each prefixed by its length, and `first_measured`.
fn digest(stream: &VenueStream) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for frame in std::iter::once(&stream.snapshot).chain(&stream.frames) {
        h.update(&(frame.len() as u64).to_le_bytes());
        h.update(frame);
    }
    h.update(&(stream.first_measured as u64).to_le_bytes());
    h.finalize()
}

#[test]
fn the_bybit_orderbook_stream_is_byte_identical() {
    use qt_benches::feed_streams_bybit::bybit_orderbook_stream;
    assert_eq!(digest(&bybit_orderbook_stream(STREAM_MESSAGES, SEED)), 0xc474_8e61);
}

#[test]
fn the_binance_diff_depth_stream_is_byte_identical() {
    use qt_benches::feed_streams::binance_depth_stream;
    assert_eq!(digest(&binance_depth_stream(STREAM_MESSAGES, SEED)), 0x22ca_c991);
}

#[test]
fn the_okx_books_stream_is_byte_identical() {
    use qt_benches::feed_streams::okx_books_stream;
    assert_eq!(digest(&okx_books_stream(STREAM_MESSAGES, SEED)), 0x1753_a86e);
}

#[test]
fn the_firi_depth_bodies_are_byte_identical() {
    use qt_benches::feed_streams_firi::firi_standard_stream;
    assert_eq!(digest(&firi_standard_stream()), 0x7d10_548c);
}

#[test]
fn the_kraken_book_stream_is_byte_identical() {
    use qt_benches::feed_streams_kraken::kraken_standard_stream;
    assert_eq!(digest(&kraken_standard_stream()), 0xe8c9_6b57);
}

#[test]
fn the_kucoin_level2_stream_is_byte_identical() {
    use qt_benches::feed_streams_kucoin::kucoin_level2_stream;
    assert_eq!(digest(&kucoin_level2_stream(STREAM_MESSAGES, SEED)), 0x3a20_5f60);
}

#[test]
fn the_usdm_depth_stream_is_byte_identical() {
    use qt_benches::feed_streams_usdm::usdm_depth_stream;
    assert_eq!(digest(&usdm_depth_stream(STREAM_MESSAGES, SEED)), 0x60d4_983c);
}
