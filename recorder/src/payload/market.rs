//! Payload of [`RecordType::MarketEvent`] (id 2): one [`MarketEvent`], version 1, 64 bytes.
//!
//! ```text
//!  offset  size  field         encoding
//!   0      8     exchange_ns   i64, Unix-epoch ns
//!   8      8     local_ns      i64, monotonic ns
//!  16      8     seq           u64
//!  24      8     prev_seq      u64
//!  32      8     price         i64, price units
//!  40      8     qty           i64, quantity units
//!  48      8     reserved      u64, written as found (the core keeps it zero)
//!  56      4     instrument    u32
//!  60      1     kind          u8: 1 book snapshot, 2 book delta, 3 trade, 4 best bid/offer
//!  61      1     side          u8: 0 buy, 1 sell
//!  62      2     flags         u16: bit 0 BATCH_END, bit 1 CLEAR (other bits kept as found)
//!  64            end
//! ```
//!
//! The offsets match the core's `repr(C)` layout by choice, but every field is written
//! explicitly: the payload does not depend on the in-memory layout.

use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Price, Qty};

use super::{Get, PayloadError, Put, SIDES, check_v1, side_code};
use crate::format::RecordType;

/// The record type whose frames carry this payload.
pub const RECORD_TYPE: RecordType = RecordType::MarketEvent;
/// Payload version written.
pub const VERSION: u16 = 1;
/// Payload length of version 1.
pub const LEN: usize = 64;

const NAME: &str = "MarketEvent";

/// Field offsets.
pub mod at {
    /// `i64` venue time.
    pub const EXCHANGE_NS: usize = 0;
    /// `i64` receive time.
    pub const LOCAL_NS: usize = 8;
    /// `u64` venue sequence.
    pub const SEQ: usize = 16;
    /// `u64` previous venue sequence.
    pub const PREV_SEQ: usize = 24;
    /// `i64` price.
    pub const PRICE: usize = 32;
    /// `i64` quantity.
    pub const QTY: usize = 40;
    /// `u64` reserved.
    pub const RESERVED: usize = 48;
    /// `u32` instrument.
    pub const INSTRUMENT: usize = 56;
    /// `u8` event kind.
    pub const KIND: usize = 60;
    /// `u8` side.
    pub const SIDE: usize = 61;
    /// `u16` flags.
    pub const FLAGS: usize = 62;
}
const _: () = assert!(at::FLAGS + 2 == LEN);

/// Code of an [`EventKind`] (index = code).
const KINDS: [Option<EventKind>; 5] = [
    None,
    Some(EventKind::BookSnapshot),
    Some(EventKind::BookDelta),
    Some(EventKind::Trade),
    Some(EventKind::BestBidOffer),
];

fn kind_code(k: EventKind) -> u8 {
    match k {
        EventKind::BookSnapshot => 1,
        EventKind::BookDelta => 2,
        EventKind::Trade => 3,
        EventKind::BestBidOffer => 4,
    }
}

/// Encode `ev` into `out`; returns [`LEN`]. No allocation.
pub fn encode_into(ev: &MarketEvent, out: &mut [u8; LEN]) -> usize {
    out.fill(0);
    let mut p = Put(out);
    p.i64(at::EXCHANGE_NS, ev.exchange_ns.0);
    p.i64(at::LOCAL_NS, ev.local_ns.0);
    p.u64(at::SEQ, ev.seq);
    p.u64(at::PREV_SEQ, ev.prev_seq);
    p.i64(at::PRICE, ev.price.units());
    p.i64(at::QTY, ev.qty.units());
    p.u64(at::RESERVED, ev.reserved);
    p.u32(at::INSTRUMENT, ev.instrument.0);
    p.u8(at::KIND, kind_code(ev.kind));
    p.u8(at::SIDE, side_code(ev.side));
    p.u16(at::FLAGS, ev.flags);
    LEN
}

/// Decode a payload of `version`.
pub fn decode(bytes: &[u8], version: u16) -> Result<MarketEvent, PayloadError> {
    let b = check_v1::<LEN>(bytes, version, NAME)?;
    let g = Get { b, record: NAME };
    let kind = g.code(at::KIND, "kind", &KINDS)?.ok_or(g.bad("kind", 0))?;
    let side = g.code(at::SIDE, "side", &SIDES)?;
    let mut ev = MarketEvent::new(
        InstrumentId(g.u32(at::INSTRUMENT)),
        kind,
        side,
        Price::from_units(g.i64(at::PRICE)),
        Qty::from_units(g.i64(at::QTY)),
    );
    ev.exchange_ns = Nanos(g.i64(at::EXCHANGE_NS));
    ev.local_ns = Nanos(g.i64(at::LOCAL_NS));
    ev.seq = g.u64(at::SEQ);
    ev.prev_seq = g.u64(at::PREV_SEQ);
    ev.reserved = g.u64(at::RESERVED);
    ev.flags = g.u16(at::FLAGS);
    Ok(ev)
}

super::impl_payload!(MarketEvent);
