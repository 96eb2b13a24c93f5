//! `cargo fuzz run bybit_frame`: arbitrary frames through the Bybit decoder (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qt_feed_fuzz::run_frames(qt_feed_fuzz::Parser::Bybit, data);
});
