//! `cargo fuzz run firi_body`: arbitrary frames through the Firi decoder (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qt_feed_fuzz::run_frames(qt_feed_fuzz::Parser::Firi, data);
});
