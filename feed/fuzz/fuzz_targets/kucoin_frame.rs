//! `cargo fuzz run kucoin_frame`: arbitrary frames through the Kucoin decoder (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qt_feed_fuzz::run_frames(qt_feed_fuzz::Parser::Kucoin, data);
});
