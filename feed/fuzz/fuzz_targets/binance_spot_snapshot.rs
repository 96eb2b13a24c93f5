//! `cargo fuzz run binance_spot_snapshot`: arbitrary REST snapshot bodies through the BinanceSpot decoder (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qt_feed_fuzz::run_snapshot(qt_feed_fuzz::Parser::BinanceSpot, data);
});
