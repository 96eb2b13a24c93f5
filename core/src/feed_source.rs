//! [`FeedSource`]: anything the core thread polls for market data.
//!
//! A source is polled on the core thread in a fixed order every loop iteration. It must not
//! block: it hands over what is available now (never waits for more), and returns how many
//! records it delivered so the loop's idle strategy knows whether there was work. Socket-backed
//! sources register with the loop's `mio` registry and are told when they are readable; others
//! (rings from another thread, replay) are simply polled.

use crate::event::MarketEvent;
use crate::ids::InstrumentId;
use crate::time::Nanos;

/// What a source's decoder has counted so far (every `qt_feed` decoder returns it): the feed
/// health the run summary and `qt feed-check` print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Frames handed to the decoder.
    pub messages: u64,
    /// Normalized records emitted.
    pub records: u64,
    /// Frames refused (malformed JSON, wrong types, unknown symbol, truncated, bad decimals).
    pub parse_errors: u64,
    /// The same refusals by reason (index and names: the feed crate's
    /// `ParseError::reason_index` / `reason_name`); zero where a venue does not tell reasons.
    pub parse_error_reasons: [u64; FeedStats::PARSE_REASONS],
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Checksums verified and matching (venues with a checksum).
    pub checksum_ok: u64,
    /// Checksum mismatches.
    pub checksum_failed: u64,
    /// Books found crossed or locked after a complete message (each resynced).
    pub crossed: u64,
    /// Resyncs started (after a gap, a checksum failure, a bad frame, a crossed book or a
    /// disconnect).
    pub resyncs: u64,
    /// Warnings about refused frames not logged because their venue and reason had already
    /// logged their share ([`FeedStats::parse_errors`] still counts every frame).
    pub warnings_suppressed: u64,
}

impl FeedStats {
    /// Number of parse-error reasons counted in [`FeedStats::parse_error_reasons`].
    pub const PARSE_REASONS: usize = 10;
}

/// What a source reports about itself after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// Delivering data.
    Live,
    /// Temporarily without data (reconnecting, resyncing); books it feeds are invalid.
    Recovering,
    /// Will never deliver again (end of a simulation or replay).
    Finished,
}

/// A source of normalized market events polled by the core thread.
pub trait FeedSource: Send {
    /// A short name for logs and metrics.
    fn name(&self) -> &str;

    /// Registers sockets with the loop's poller; `token_base` is this source's first token.
    /// Returns whether anything was registered. Called once at start-up.
    fn register(&mut self, _registry: &mio::Registry, _token_base: usize) -> std::io::Result<bool> {
        Ok(false)
    }

    /// Told that the socket with `token` is ready (after the loop's zero-timeout poll).
    fn on_ready(&mut self, _token: usize) {}

    /// Delivers available records to `sink` in venue order without blocking; returns how many.
    /// `local_now` is the loop's monotonic time at the start of the iteration.
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize;

    /// Current state.
    fn state(&self) -> FeedState;

    /// The engine's book of `instrument` refused what this source sent and marked itself
    /// invalid: crossed or locked after a complete message ([`crate::BookError::Crossed`]), or a
    /// level it cannot hold (a non-positive price, a negative quantity). Count it and resync the
    /// book as after a gap, emitting any records (the invalidation) to `sink`. Cold; sources
    /// without a sync (a ring from the simulator) leave the book invalid until their next snapshot.
    fn on_book_refused(
        &mut self,
        _instrument: InstrumentId,
        _reason: crate::BookError,
        _local_now: Nanos,
        _sink: &mut dyn FnMut(&MarketEvent),
    ) {
    }

    /// Shows every raw frame this source hands its decoder (and the REST bodies its sync
    /// consumes) to `tap`, for the journal (`[journal] raw_frames`). Sources that decode no
    /// venue bytes (a ring from the simulator, replay) ignore it.
    fn set_raw_tap(&mut self, _tap: crate::journal_raw::RawFrameTap) {}

    /// The source's decoder counters, if it decodes a venue's frames.
    fn stats(&self) -> Option<FeedStats> {
        None
    }

    /// Sequence gaps of `instrument`'s book, if this source feeds it and counts them per book.
    fn book_gaps(&self, _instrument: InstrumentId) -> Option<u64> {
        None
    }
}
