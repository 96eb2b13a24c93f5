//! [`MarketEvent`]: the one normalized market-data record.
//!
//! Every venue message becomes one or more of these: one record per book level, trade or
//! best-bid/offer side, the last record of a venue message flagged [`MarketEvent::BATCH_END`].
//! The record is `#[repr(C)]`, 64 bytes (one cache line), `Copy`, and is the unit of the
//! feed → core path, the journal and replay; its size is pinned by a compile-time assertion.

use crate::ids::InstrumentId;
use crate::money::{Price, Qty};
use crate::order::Side;
use crate::time::Nanos;

/// What a [`MarketEvent`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// One level of a full book image; the first record of a snapshot carries
    /// [`MarketEvent::CLEAR`] and the book is replaced by the snapshot's levels.
    BookSnapshot = 1,
    /// One level changed: `qty` is the new total at `price` (zero removes the level).
    BookDelta = 2,
    /// A public trade; `side` is the aggressor's.
    Trade = 3,
    /// Best bid (`side = Buy`) or best offer (`side = Sell`) from a top-of-book stream.
    BestBidOffer = 4,
}

/// One normalized market-data record.
///
/// ```text
///  0        8        16       24       32       40       48       56   60 61 62  64
///  +--------+--------+--------+--------+--------+--------+--------+----+--+--+----+
///  |exch_ns |local_ns|  seq   |prev_seq| price  |  qty   | (spare)|inst|k |s |flag|
///  +--------+--------+--------+--------+--------+--------+--------+----+--+--+----+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct MarketEvent {
    /// Venue's event time, Unix-epoch nanoseconds.
    pub exchange_ns: Nanos,
    /// Our receive time, monotonic nanoseconds.
    pub local_ns: Nanos,
    /// Venue sequence of the message this record came from (`u`, `seqId`, `sequenceEnd`, ...).
    pub seq: u64,
    /// The previous/first sequence the venue states for this message (`U`, `pu`,
    /// `prevSeqId`, `sequenceStart`); zero where the venue has none.
    pub prev_seq: u64,
    /// Level or trade price on the instrument's grid.
    pub price: Price,
    /// Level total or trade quantity on the instrument's grid.
    pub qty: Qty,
    /// Reserved; zero.
    pub reserved: u64,
    /// The instrument.
    pub instrument: InstrumentId,
    /// What the record says.
    pub kind: EventKind,
    /// Book side (`Buy` = bid) or trade aggressor.
    pub side: Side,
    /// [`Self::BATCH_END`], [`Self::CLEAR`].
    pub flags: u16,
}

const _: () = assert!(std::mem::size_of::<MarketEvent>() == 64);
const _: () = assert!(std::mem::align_of::<MarketEvent>() == 8);

impl MarketEvent {
    /// Last record of one venue message: the book is consistent after it.
    pub const BATCH_END: u16 = 1;
    /// First record of a snapshot: clear the book before applying it.
    pub const CLEAR: u16 = 2;

    /// A record with everything but the kind, side, price and quantity zeroed.
    #[inline]
    pub const fn new(instrument: InstrumentId, kind: EventKind, side: Side, price: Price, qty: Qty) -> Self {
        Self {
            exchange_ns: Nanos(0),
            local_ns: Nanos(0),
            seq: 0,
            prev_seq: 0,
            price,
            qty,
            reserved: 0,
            instrument,
            kind,
            side,
            flags: 0,
        }
    }

    /// The record a feed sends when a book stops mirroring the venue (gap, checksum mismatch,
    /// disconnect): a snapshot level with `CLEAR`, zero quantity and no `BATCH_END`, so
    /// [`crate::Book::apply`] empties the book and leaves it invalid until the next full snapshot.
    #[inline]
    pub const fn invalidation(instrument: InstrumentId, local_ns: Nanos) -> Self {
        let mut ev = Self::new(instrument, EventKind::BookSnapshot, Side::Buy, Price::ZERO, Qty::ZERO);
        ev.local_ns = local_ns;
        ev.flags = Self::CLEAR;
        ev
    }

    /// Whether this record ends a venue message.
    #[inline]
    pub const fn is_batch_end(&self) -> bool {
        self.flags & Self::BATCH_END != 0
    }

    /// Whether this record starts a snapshot.
    #[inline]
    pub const fn is_clear(&self) -> bool {
        self.flags & Self::CLEAR != 0
    }
}
