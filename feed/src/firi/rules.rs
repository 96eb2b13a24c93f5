//! Firi's rule: its depth body carries no sequence, no time and no checksum, so every polled body
//! is the whole book — emitted as a full image (`kit::depth_sync::emit_book_image`, each
//! side worst first), `seq` = the body's number among the good ones, `exchange_ns` 0. Nothing is
//! there to check between bodies; a refused body leaves the book to the live feed's invalidation.
//!
//! Core thread; no allocation, no panics.

use crate::firi::wire::DepthBody;
use crate::kit::depth_sync::emit_book_image;
use qt_core::{InstrumentId, MarketEvent, Nanos};

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
