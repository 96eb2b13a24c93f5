//! `cargo fuzz run binance_usdm_snapshot`: arbitrary REST snapshot bodies through the BinanceUsdm decoder (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qt_feed_fuzz::run_snapshot(qt_feed_fuzz::Parser::BinanceUsdm, data);
});
