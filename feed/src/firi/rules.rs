//! Firi's rule: its depth body carries no sequence, no time and no checksum, so every polled body
//! is the whole book — emitted as a full image (`kit::depth_sync::emit_book_image`, each
//! side worst first), `seq` = the body's number among the good ones (the wire numbers them),
//! `exchange_ns` 0. Nothing is there to check between bodies: [`ImageSync`], the decoder
//! shell's per-symbol sync under this rule, takes every body whole and is broken only by a
//! disconnect or a refused book, until the next body ([`Resync::NextMessage`]). A refused body
//! names no book (the wire walk's refusal), so it emits nothing here; the live feed invalidates.
//!
//! Core thread; no allocation, no panics.

use crate::firi::wire::DepthBody;
use crate::kit::depth_decoder::DepthCounters;
use crate::kit::depth_sync::emit_book_image;
use crate::kit::symbol_sync::{Resync, SymbolSync};
use qt_core::{Instrument, InstrumentId, MarketEvent, Nanos};

/// Emits good body number `seq` of `instrument`, `book`, as the whole book.
#[inline]
pub(crate) fn emit_body(
    instrument: InstrumentId,
    book: &DepthBody,
    seq: u64,
    local_ns: Nanos,
    emit: &mut dyn FnMut(&MarketEvent),
) {
    emit_book_image(instrument, &book.bids, &book.asks, seq, Nanos(0), local_ns, true, emit);
}

/// One Firi market's sync: every body is the whole book, applied as it is walked (one applied
/// message a body, [`DepthCounters::diffs_applied`], shown as
/// [`crate::firi::FiriCounters::snapshots`]).
#[derive(Debug, Clone, Copy)]
pub struct ImageSync {
    instrument: InstrumentId,
    /// The engine's book holds the last body.
    valid: bool,
}

impl SymbolSync for ImageSync {
    type Ids = ();
    type Diff<'a> = ();
    type Done = ();
    type Image = std::convert::Infallible;
    const RESYNC: Resync = Resync::NextMessage;
    const REQUESTS: bool = false;

    fn for_symbol(instrument: &Instrument, _buffer_messages: usize) -> Self {
        Self { instrument: instrument.id(), valid: false }
    }

    #[inline]
    fn is_synced(&self) -> bool {
        self.valid
    }

    fn gaps(&self) -> Option<u64> {
        Some(0)
    }

    #[inline]
    fn applies_directly(&self, (): ()) -> bool {
        true
    }

    #[inline]
    fn applied_directly(&mut self, (): ()) {
        self.valid = true;
    }

    /// A staged body (the shell's direct path off): its image goes out whole.
    #[inline]
    fn on_diff(
        &mut self,
        (): (),
        records: &mut [MarketEvent],
        _now: Nanos,
        emit: &mut (impl FnMut(&MarketEvent) + ?Sized),
        c: &mut DepthCounters,
    ) {
        for ev in records.iter() {
            emit(ev);
        }
        c.diffs_applied += 1;
        self.valid = true;
    }

    /// One `CLEAR` record without `BATCH_END`: invalid until the next body.
    #[cold]
    fn reset(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        self.valid = false;
        emit(&MarketEvent::invalidation(self.instrument, now));
        true
    }
}
