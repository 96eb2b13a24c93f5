//! [`VenueDecoder`]: the venue-specific part of a feed below the socket — parse raw frames,
//! apply the venue's sequencing/checksum rules, emit normalized [`MarketEvent`]s.
//!
//! One trait for every venue, so `qt feed-check` (replaying a capture file), replay and the live
//! feeds drive the same code. Runs on the core thread: `on_frame` must not block, and should not
//! allocate after warm-up; snapshot, crossed-book and disconnect handling are cold paths.

use qt_core::{BookError, InstrumentId, MarketEvent, Nanos, Venue};

/// What a decoder has counted so far (defined in the core, which prints it in the run summary).
pub use qt_core::FeedStats;

const _: () = assert!(FeedStats::PARSE_REASONS == crate::parse_error::ParseError::REASONS);

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

    /// The consumer's book of symbol `index` refused a record and is invalid (the checks are the
    /// book's own, [`qt_core::Book::apply`]): crossed or locked after a complete message
    /// ([`qt_core::BookError::Crossed`], counted as `crossed`), or a level it cannot hold.
    /// Invalidate the book and resync it the way the venue resyncs after a gap. Cold path.
    fn on_book_refused(&mut self, index: usize, reason: BookError, now: Nanos, emit: &mut dyn FnMut(&MarketEvent));

    /// Counters so far.
    fn stats(&self) -> FeedStats;

    /// Sequence gaps of symbol `index`'s book, for venues whose sync counts them per book.
    fn book_gaps(&self, _index: usize) -> Option<u64> {
        None
    }
}

/// For a live layer's [`qt_core::FeedSource::on_book_refused`]: finds the symbol of
/// `instrument` among `ids` (the layer's symbols in order) and has `decoder` resync it.
#[cold]
pub(crate) fn resync_refused(
    decoder: &mut dyn VenueDecoder,
    ids: &[InstrumentId],
    instrument: InstrumentId,
    reason: BookError,
    now: Nanos,
    sink: &mut dyn FnMut(&MarketEvent),
) {
    if let Some(index) = ids.iter().position(|id| *id == instrument) {
        decoder.on_book_refused(index, reason, now, sink);
    }
}

/// One for a crossed or locked book, zero for any other refusal: what `crossed` counts.
#[inline]
pub(crate) fn crossings(reason: BookError) -> u64 {
    u64::from(reason == BookError::Crossed)
}

/// A sync-machine decoder's [`VenueDecoder::on_book_refused`]: if symbol `index` exists, counts
/// it in `[crossed, resyncs, records]` (crossed only for a crossing; a resync if `reset` says it
/// started one; the reset emits one invalidation record) and `reset`s its sync as after a gap.
#[cold]
pub(crate) fn reset_refused<S>(
    syncs: &mut [S],
    index: usize,
    reason: BookError,
    [crossed, resyncs, records]: [&mut u64; 3],
    reset: impl FnOnce(&mut S) -> bool,
) {
    if let Some(sync) = syncs.get_mut(index) {
        *crossed += crossings(reason);
        *records += 1;
        *resyncs += u64::from(reset(sync));
    }
}

/// The [`FeedStats`] of a sequence-sync decoder (no checksums) from its counts
/// `[messages, records, gaps, crossed, resyncs]`, its refused frames by reason and its
/// suppressed warnings.
pub(crate) fn sync_stats(
    [messages, records, gaps, crossed, resyncs]: [u64; 5],
    parse_error_reasons: [u64; FeedStats::PARSE_REASONS],
    warnings_suppressed: u64,
) -> FeedStats {
    FeedStats {
        messages,
        records,
        parse_errors: parse_error_reasons.iter().sum(),
        parse_error_reasons,
        gaps,
        crossed,
        resyncs,
        warnings_suppressed,
        ..Default::default()
    }
}

/// For a live layer's [`qt_core::FeedSource::book_gaps`]: `decoder`'s count for the symbol of
/// `instrument` among `ids`.
pub(crate) fn gaps_of(decoder: &dyn VenueDecoder, ids: &[InstrumentId], instrument: InstrumentId) -> Option<u64> {
    decoder.book_gaps(ids.iter().position(|id| *id == instrument)?)
}
