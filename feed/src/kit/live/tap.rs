//! Where the live layer copies what it receives before decoding it: the capture tap
//! ([`Tap`], `qt capture`) and the journal's raw-frame tap ([`RawFrameTap`], `[journal]
//! raw_frames`), plus the symbol ↔ instrument table every per-symbol `FeedSource` call needs
//! (a book the engine refused, a book's gaps).
//!
//! Core thread. Unset taps cost one branch per frame; the raw tap is a ring copy, never a wait;
//! the capture tap is not for the trading path.

use crate::decoder::VenueDecoder;
use qt_core::journal_raw::{RawFrameKind, RawFrameTap};
use qt_core::{BookError, InstrumentId, MarketEvent, Nanos};

/// What a capture tap ([`super::LiveFeed::set_tap`]) is shown: every raw WebSocket data frame as
/// received, and every REST snapshot body as fetched (before it is parsed in place).
#[derive(Debug, Clone, Copy)]
pub enum Tapped<'a> {
    /// A WebSocket text (or binary) data frame.
    Frame(&'a [u8]),
    /// The REST snapshot body of symbol `symbol`.
    Snapshot {
        /// Symbol index.
        symbol: usize,
        /// The body.
        body: &'a [u8],
    },
}

/// A capture tap: `qt capture` records through it. Not for the trading path.
pub type Tap = Box<dyn FnMut(Tapped<'_>) + Send>;

/// The taps and the symbols' instruments of one feed.
pub(crate) struct Outlets {
    /// Per symbol: its instrument.
    ids: Vec<InstrumentId>,
    tap: Option<Tap>,
    raw: Option<RawFrameTap>,
}

impl std::fmt::Debug for Outlets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlets").field("ids", &self.ids).field("tap", &self.tap.is_some()).finish()
    }
}

impl Outlets {
    pub(crate) fn new(ids: Vec<InstrumentId>) -> Self {
        Self { ids, tap: None, raw: None }
    }

    pub(crate) fn set_tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    pub(crate) fn set_raw(&mut self, raw: RawFrameTap) {
        self.raw = Some(raw);
    }

    /// A WebSocket data frame, before the decoder sees it.
    #[inline]
    pub(crate) fn frame(&mut self, frame: &[u8], now: Nanos) {
        if let Some(tap) = &mut self.tap {
            tap(Tapped::Frame(frame));
        }
        if let Some(raw) = &mut self.raw {
            raw.tap(RawFrameKind::WsText, 0, now, frame);
        }
    }

    /// A REST body of `kind` for `symbol`, before the decoder parses it in place.
    #[cold]
    pub(crate) fn body(&mut self, kind: RawFrameKind, symbol: usize, body: &[u8], now: Nanos) {
        if let Some(tap) = &mut self.tap {
            tap(Tapped::Snapshot { symbol, body });
        }
        if let Some(raw) = &mut self.raw {
            raw.tap(kind, symbol as u32, now, body);
        }
    }

    /// The engine's book of `instrument` refused a record: `decoder` resyncs that symbol as
    /// after a gap (emitting through `sink`). Whether `instrument` is one of this feed's.
    #[cold]
    pub(crate) fn book_refused(
        &self,
        decoder: &mut dyn VenueDecoder,
        instrument: InstrumentId,
        reason: BookError,
        now: Nanos,
        sink: &mut dyn FnMut(&MarketEvent),
    ) -> bool {
        crate::decoder::resync_refused(decoder, &self.ids, instrument, reason, now, sink);
        self.ids.contains(&instrument)
    }

    /// `decoder`'s gap count of `instrument`'s book.
    pub(crate) fn book_gaps(&self, decoder: &dyn VenueDecoder, instrument: InstrumentId) -> Option<u64> {
        crate::decoder::gaps_of(decoder, &self.ids, instrument)
    }
}
