//! [`VenueDecoder`]: the venue-specific part of a feed below the socket — parse raw frames,
//! apply the venue's sequencing/checksum rules, emit normalized [`MarketEvent`]s.
//!
//! One trait for every venue, so `qt feed-check` (replaying a capture file), replay and the live
//! feeds drive the same code. Runs on the core thread: `on_frame` must not block, and should not
//! allocate after warm-up; snapshot and disconnect handling are cold paths.

use qt_core::{MarketEvent, Nanos, Venue};

/// What a decoder has counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames handed to the decoder.
    pub messages: u64,
    /// Normalized records emitted.
    pub records: u64,
    /// Frames refused (malformed JSON, wrong types, unknown symbol, truncated, bad decimals).
    pub parse_errors: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Checksums verified and matching (venues with a checksum).
    pub checksum_ok: u64,
    /// Checksum mismatches.
    pub checksum_failed: u64,
    /// Resyncs started (after a gap, a checksum failure, a bad frame or a disconnect).
    pub resyncs: u64,
}

/// The verdict on the last frame's checksum, for venues that send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumVerdict {
    /// The frame carried no checksum (or the venue has none).
    None,
    /// Our book's checksum matched the venue's.
    Match,
    /// It did not: the book was invalidated and a resync started.
    Mismatch,
}

/// The venue-specific decoding and sync of one market-data connection.
pub trait VenueDecoder: Send {
    /// The venue.
    fn venue(&self) -> Venue;

    /// One raw frame: a WebSocket text message, or one REST body for REST-polled venues.
    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent));

    /// A REST order-book snapshot body for symbol `index`, for venues whose sync needs one
    /// (Binance, KuCoin). Returns `false` if the body was refused or not needed.
    fn on_snapshot_body(
        &mut self,
        _index: usize,
        _body: &[u8],
        _now: Nanos,
        _emit: &mut dyn FnMut(&MarketEvent),
    ) -> bool {
        false
    }

    /// The symbols (by index) that wait for a REST snapshot now.
    fn wants_snapshot(&self, _index: usize) -> bool {
        false
    }

    /// The connection dropped: every book is invalid until resynced.
    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent));

    /// The checksum verdict of the last frame.
    fn last_checksum(&self) -> ChecksumVerdict {
        ChecksumVerdict::None
    }

    /// Counters so far.
    fn stats(&self) -> DecoderStats;
}
