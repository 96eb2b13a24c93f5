//! Payload of [`RecordType::ExecutionReport`] (id 7): one [`ExecutionReport`], version 1,
//! 88 bytes.
//!
//! ```text
//!  offset  size  field           encoding
//!   0      8     order_id        u64
//!   8      8     venue_order_id  u64
//!  16      8     last_price      i64 price units
//!  24      8     last_qty        i64 quantity units
//!  32      8     leaves_qty      i64 quantity units
//!  40      8     cum_qty         i64 quantity units
//!  48     16     fee             i128 notional units (10^-18)
//!  64      8     exchange_ns     i64 Unix-epoch ns
//!  72      4     instrument      u32
//!  76      2     venue           u16
//!  78      2     account         u16
//!  80      1     kind            u8: 0 accepted, 1 rejected, 2 fill, 3 canceled,
//!                                    4 cancel rejected
//!  81      1     reason          u8, rejected / cancel rejected only (else 0, ignored):
//!                                    0 price filter, 1 lot size, 2 min notional,
//!                                    3 would take liquidity, 4 FOK unfillable,
//!                                    5 insufficient balance, 6 unknown instrument,
//!                                    7 unknown order, 8 rate limited, 9 queue full,
//!                                    10 risk blocked, 11 too many open orders, 12 other
//!  82      1     side            u8: 0 buy, 1 sell
//!  83      1     liquidity       u8: 0 maker, 1 taker
//!  84      4     reserved        0
//!  88            end
//! ```

use qt_core::{
    AccountId, ExecutionReport, InstrumentId, Liquidity, Nanos, Notional, OrderId, Price, Qty, RejectReason,
    ReportKind, VenueId,
};

use super::{Get, PayloadError, Put, SIDES, check_v1, side_code};
use crate::format::RecordType;

/// The record type whose frames carry this payload.
pub const RECORD_TYPE: RecordType = RecordType::ExecutionReport;
/// Payload version written.
pub const VERSION: u16 = 1;
/// Payload length of version 1.
pub const LEN: usize = 88;

const NAME: &str = "ExecutionReport";

/// Field offsets.
pub mod at {
    /// `u64` our order id.
    pub const ORDER_ID: usize = 0;
    /// `u64` venue order id.
    pub const VENUE_ORDER_ID: usize = 8;
    /// `i64` fill price.
    pub const LAST_PRICE: usize = 16;
    /// `i64` fill quantity.
    pub const LAST_QTY: usize = 24;
    /// `i64` quantity still working.
    pub const LEAVES_QTY: usize = 32;
    /// `i64` total filled.
    pub const CUM_QTY: usize = 40;
    /// `i128` fee.
    pub const FEE: usize = 48;
    /// `i64` venue time.
    pub const EXCHANGE_NS: usize = 64;
    /// `u32` instrument.
    pub const INSTRUMENT: usize = 72;
    /// `u16` venue.
    pub const VENUE: usize = 76;
    /// `u16` account.
    pub const ACCOUNT: usize = 78;
    /// `u8` report kind.
    pub const KIND: usize = 80;
    /// `u8` reject reason.
    pub const REASON: usize = 81;
    /// `u8` side.
    pub const SIDE: usize = 82;
    /// `u8` liquidity.
    pub const LIQUIDITY: usize = 83;
    /// Reserved bytes up to the end.
    pub const RESERVED: usize = 84;
}
const _: () = assert!(at::RESERVED + 4 == LEN);

const KIND_ACCEPTED: u8 = 0;
const KIND_REJECTED: u8 = 1;
const KIND_FILL: u8 = 2;
const KIND_CANCELED: u8 = 3;
const KIND_CANCEL_REJECTED: u8 = 4;

/// Every [`RejectReason`], index = its code.
pub const REASONS: [RejectReason; 15] = [
    RejectReason::PriceFilter,
    RejectReason::LotSize,
    RejectReason::MinNotional,
    RejectReason::WouldTakeLiquidity,
    RejectReason::FokUnfillable,
    RejectReason::InsufficientBalance,
    RejectReason::UnknownInstrument,
    RejectReason::UnknownOrder,
    RejectReason::RateLimited,
    RejectReason::QueueFull,
    RejectReason::RiskBlocked,
    RejectReason::TooManyOpenOrders,
    RejectReason::Other,
    RejectReason::JournalUnavailable,
    RejectReason::PrivateStreamDown,
];

const LIQUIDITIES: [Liquidity; 2] = [Liquidity::Maker, Liquidity::Taker];

fn reason_code(r: RejectReason) -> u8 {
    match r {
        RejectReason::PriceFilter => 0,
        RejectReason::LotSize => 1,
        RejectReason::MinNotional => 2,
        RejectReason::WouldTakeLiquidity => 3,
        RejectReason::FokUnfillable => 4,
        RejectReason::InsufficientBalance => 5,
        RejectReason::UnknownInstrument => 6,
        RejectReason::UnknownOrder => 7,
        RejectReason::RateLimited => 8,
        RejectReason::QueueFull => 9,
        RejectReason::RiskBlocked => 10,
        RejectReason::TooManyOpenOrders => 11,
        RejectReason::Other => 12,
        RejectReason::JournalUnavailable => 13,
        RejectReason::PrivateStreamDown => 14,
    }
}

/// (kind code, reason code) of a report kind.
fn kind_codes(k: ReportKind) -> (u8, u8) {
    match k {
        ReportKind::Accepted => (KIND_ACCEPTED, 0),
        ReportKind::Rejected(r) => (KIND_REJECTED, reason_code(r)),
        ReportKind::Fill => (KIND_FILL, 0),
        ReportKind::Canceled => (KIND_CANCELED, 0),
        ReportKind::CancelRejected(r) => (KIND_CANCEL_REJECTED, reason_code(r)),
    }
}

/// Encode `r` into `out`; returns [`LEN`]. No allocation.
pub fn encode_into(r: &ExecutionReport, out: &mut [u8; LEN]) -> usize {
    out.fill(0);
    let (kind, reason) = kind_codes(r.kind);
    let mut p = Put(out);
    p.u64(at::ORDER_ID, r.order_id.0);
    p.u64(at::VENUE_ORDER_ID, r.venue_order_id);
    p.i64(at::LAST_PRICE, r.last_price.units());
    p.i64(at::LAST_QTY, r.last_qty.units());
    p.i64(at::LEAVES_QTY, r.leaves_qty.units());
    p.i64(at::CUM_QTY, r.cum_qty.units());
    p.i128(at::FEE, r.fee.units());
    p.i64(at::EXCHANGE_NS, r.exchange_ns.0);
    p.u32(at::INSTRUMENT, r.instrument.0);
    p.u16(at::VENUE, r.venue.0);
    p.u16(at::ACCOUNT, r.account.0);
    p.u8(at::KIND, kind);
    p.u8(at::REASON, reason);
    p.u8(at::SIDE, side_code(r.side));
    p.u8(
        at::LIQUIDITY,
        match r.liquidity {
            Liquidity::Maker => 0,
            Liquidity::Taker => 1,
        },
    );
    LEN
}

/// Decode a payload of `version`.
pub fn decode(bytes: &[u8], version: u16) -> Result<ExecutionReport, PayloadError> {
    let b = check_v1::<LEN>(bytes, version, NAME)?;
    let g = Get { b, record: NAME };
    let kind = match g.u8(at::KIND) {
        KIND_ACCEPTED => ReportKind::Accepted,
        KIND_REJECTED => ReportKind::Rejected(g.code(at::REASON, "reason", &REASONS)?),
        KIND_FILL => ReportKind::Fill,
        KIND_CANCELED => ReportKind::Canceled,
        KIND_CANCEL_REJECTED => ReportKind::CancelRejected(g.code(at::REASON, "reason", &REASONS)?),
        other => return Err(g.bad("kind", u64::from(other))),
    };
    Ok(ExecutionReport {
        order_id: OrderId(g.u64(at::ORDER_ID)),
        venue_order_id: g.u64(at::VENUE_ORDER_ID),
        venue: VenueId(g.u16(at::VENUE)),
        account: AccountId(g.u16(at::ACCOUNT)),
        instrument: InstrumentId(g.u32(at::INSTRUMENT)),
        kind,
        side: g.code(at::SIDE, "side", &SIDES)?,
        last_price: Price::from_units(g.i64(at::LAST_PRICE)),
        last_qty: Qty::from_units(g.i64(at::LAST_QTY)),
        leaves_qty: Qty::from_units(g.i64(at::LEAVES_QTY)),
        cum_qty: Qty::from_units(g.i64(at::CUM_QTY)),
        fee: Notional::from_units(g.i128(at::FEE)),
        liquidity: g.code(at::LIQUIDITY, "liquidity", &LIQUIDITIES)?,
        exchange_ns: Nanos(g.i64(at::EXCHANGE_NS)),
    })
}

super::impl_payload!(ExecutionReport);
