//! [`VenueDecoder`]: the venue-specific part of a feed below the socket — parse raw frames,
//! apply the venue's sequencing/checksum rules, emit normalized [`MarketEvent`]s.
//!
//! One trait for every venue, so `qt feed-check` (replaying a capture file), replay and the live
//! feeds drive the same code. Runs on the core thread: `on_frame` must not block, and should not
//! allocate after warm-up; snapshot, crossed-book and disconnect handling are cold paths.

use qt_core::{InstrumentId, MarketEvent, Nanos, Venue};

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

    /// The consumer found symbol `index`'s book crossed or locked after a complete message
    /// ([`qt_core::BookError::Crossed`], the one check, made by the book): count it (`crossed`),
    /// invalidate the book and resync it the way the venue resyncs after a gap. Cold path.
    fn on_crossed(&mut self, index: usize, now: Nanos, emit: &mut dyn FnMut(&MarketEvent));

    /// Counters so far.
    fn stats(&self) -> FeedStats;

    /// Sequence gaps of symbol `index`'s book, for venues whose sync counts them per book.
    fn book_gaps(&self, _index: usize) -> Option<u64> {
        None
    }
}

/// For a live layer's [`qt_core::FeedSource::on_book_crossed`]: finds the symbol of
/// `instrument` among `ids` (the layer's symbols in order) and has `decoder` resync it.
#[cold]
pub(crate) fn resync_crossed(
    decoder: &mut dyn VenueDecoder,
    ids: &[InstrumentId],
    instrument: InstrumentId,
    now: Nanos,
    sink: &mut dyn FnMut(&MarketEvent),
) {
    if let Some(index) = ids.iter().position(|id| *id == instrument) {
        decoder.on_crossed(index, now, sink);
    }
}

/// A sync-machine decoder's [`VenueDecoder::on_crossed`]: if symbol `index` exists, adds one to
/// each of `counts` (its crossed, resyncs and records counters: the reset emits one
/// invalidation) and `reset`s its sync as after a gap.
#[cold]
pub(crate) fn reset_crossed<S>(syncs: &mut [S], index: usize, counts: [&mut u64; 3], reset: impl FnOnce(&mut S)) {
    if let Some(sync) = syncs.get_mut(index) {
        counts.into_iter().for_each(|c| *c += 1);
        reset(sync);
    }
}

/// For a live layer's [`qt_core::FeedSource::book_gaps`]: `decoder`'s count for the symbol of
/// `instrument` among `ids`.
pub(crate) fn gaps_of(decoder: &dyn VenueDecoder, ids: &[InstrumentId], instrument: InstrumentId) -> Option<u64> {
    decoder.book_gaps(ids.iter().position(|id| *id == instrument)?)
}
