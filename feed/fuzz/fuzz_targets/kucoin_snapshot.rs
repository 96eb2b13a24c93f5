//! `cargo fuzz run kucoin_snapshot`: arbitrary REST snapshot bodies through the Kucoin decoder (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qt_feed_fuzz::run_snapshot(qt_feed_fuzz::Parser::Kucoin, data);
});
