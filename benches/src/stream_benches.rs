//! The feed benches per venue, for whatever walks the venue registry (`qt_tools::venues::VENUES`;
//! `examples/feed_ratio.rs` does) and for the criterion benches (`benches/feed_parse*.rs`, through
//! `benches/feed_common`): each venue's standard stream, the check that our decoder and
//! the serde_json baseline end with the same books on it, and one timed pass of each side over its
//! measured frames. [`stream_bench`] finds a venue's; `tests/stream_digests.rs` holds that every
//! registry venue has exactly one, in registry order.
//!
//! Set-up code; only the passes time anything (set-up inside them is not timed).

use crate::feed_streams::{
    STREAM_MESSAGES, SerdeBaseline, VenueStream, assert_same_outcome, binance_depth_stream, binance_synced,
    decode_into_book, okx_books_stream, okx_synced, serde_binance, serde_okx,
};
use crate::feed_streams_bybit::{
    assert_same_bybit_outcome, bybit_orderbook_stream, bybit_serde_synced, bybit_synced, serde_bybit,
};
use crate::feed_streams_firi::{
    FiriSerdeBaseline, assert_same_firi_outcome, firi_standard_stream, firi_synced, serde_firi,
};
use crate::feed_streams_kraken::{
    KrakenSerdeBaseline, assert_same_kraken_outcome, kraken_standard_stream, kraken_synced, serde_kraken,
};
use crate::feed_streams_kucoin::{
    assert_same_kucoin_outcome, kucoin_level2_stream, kucoin_serde_synced, kucoin_synced, serde_kucoin,
};
use crate::feed_streams_usdm::{
    assert_same_usdm_outcome, serde_usdm, usdm_depth_stream, usdm_serde_synced, usdm_synced,
};
use qt_core::{Book, Instrument, Venue};
use qt_feed::VenueDecoder;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// One venue's feed bench.
#[derive(Debug)]
pub struct StreamBench {
    /// The venue (its registry entry's).
    pub venue: Venue,
    /// Its criterion group in `benches/feed_parse*.rs` (the name BENCHMARKS.md's figures carry).
    pub group: &'static str,
    /// Its standard stream ([`STREAM_MESSAGES`] messages, [`crate::SEED`]).
    pub stream: fn() -> VenueStream,
    /// Panics unless both sides decode the whole stream cleanly and end with the same books.
    pub check: fn(&VenueStream),
    /// One timed pass of our decoder over the measured frames.
    pub ours: fn(&VenueStream) -> Duration,
    /// One timed pass of the serde_json baseline over the measured frames.
    pub serde: fn(&VenueStream) -> Duration,
}

/// Times `measured` after an untimed `setup`.
fn timed<S>(setup: impl FnOnce() -> S, measured: impl FnOnce(&mut S)) -> Duration {
    let mut state = setup();
    let start = Instant::now();
    measured(&mut state);
    let elapsed = start.elapsed();
    black_box(&state);
    elapsed
}

/// Our decoder's pass over `stream`, synced by `synced`.
fn ours<D: VenueDecoder>(stream: &VenueStream, synced: fn(&VenueStream) -> (D, Book)) -> Duration {
    timed(|| synced(stream), |(decoder, book)| decode_into_book(decoder, book, stream.measured()))
}

/// The baseline's pass over `stream`, synced by `synced`.
fn serde<B>(
    stream: &VenueStream,
    synced: impl FnOnce(&VenueStream) -> B,
    run: fn(&mut B, &Instrument, &[Vec<u8>]),
) -> Duration {
    timed(|| synced(stream), |b| run(b, &stream.instrument, stream.measured()))
}

/// Every venue's bench, in the registry's order.
pub static STREAM_BENCHES: [StreamBench; 7] = [
    StreamBench {
        venue: Venue::Binance,
        group: "binance_depth_parse_apply",
        stream: || binance_depth_stream(STREAM_MESSAGES, crate::SEED),
        check: |s| assert_same_outcome(s, false),
        ours: |s| ours(s, binance_synced),
        serde: |s| serde(s, |s| SerdeBaseline::synced(s, false), serde_binance),
    },
    StreamBench {
        venue: Venue::BinanceUsdm,
        group: "binance_usdm_depth_parse_apply",
        stream: || usdm_depth_stream(STREAM_MESSAGES, crate::SEED),
        check: assert_same_usdm_outcome,
        ours: |s| ours(s, usdm_synced),
        serde: |s| serde(s, usdm_serde_synced, serde_usdm),
    },
    StreamBench {
        venue: Venue::Bybit,
        group: "bybit_orderbook_parse_apply",
        stream: || bybit_orderbook_stream(STREAM_MESSAGES, crate::SEED),
        check: assert_same_bybit_outcome,
        ours: |s| ours(s, bybit_synced),
        serde: |s| serde(s, bybit_serde_synced, serde_bybit),
    },
    StreamBench {
        venue: Venue::Okx,
        group: "okx_books_parse_apply",
        stream: || okx_books_stream(STREAM_MESSAGES, crate::SEED),
        check: |s| assert_same_outcome(s, true),
        ours: |s| ours(s, okx_synced),
        serde: |s| serde(s, |s| SerdeBaseline::synced(s, true), serde_okx),
    },
    StreamBench {
        venue: Venue::Kucoin,
        group: "kucoin_level2_parse_apply",
        stream: || kucoin_level2_stream(STREAM_MESSAGES, crate::SEED),
        check: assert_same_kucoin_outcome,
        ours: |s| ours(s, kucoin_synced),
        serde: |s| serde(s, kucoin_serde_synced, serde_kucoin),
    },
    StreamBench {
        venue: Venue::Kraken,
        group: "kraken_book_parse_apply",
        stream: kraken_standard_stream,
        check: assert_same_kraken_outcome,
        ours: |s| ours(s, kraken_synced),
        serde: |s| serde(s, KrakenSerdeBaseline::synced, serde_kraken),
    },
    StreamBench {
        venue: Venue::Firi,
        group: "firi_depth_parse_apply",
        stream: firi_standard_stream,
        check: assert_same_firi_outcome,
        ours: |s| ours(s, firi_synced),
        serde: |s| serde(s, FiriSerdeBaseline::synced, serde_firi),
    },
];

/// The bench of `venue`; `None` for a venue without one (the built-in simulated venue).
pub fn stream_bench(venue: Venue) -> Option<&'static StreamBench> {
    STREAM_BENCHES.iter().find(|b| b.venue == venue)
}
