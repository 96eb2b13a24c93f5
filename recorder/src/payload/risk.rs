//! Payload of [`RecordType::RiskDecision`] (id 5): one [`DecisionRecord`] (the risk gate's
//! decision on an order request, with what it saw), version 1, 104 bytes.
//!
//! ```text
//!  offset  size  field        encoding
//!   0     16     equity       i128 notional units (10^-18)
//!  16     16     gross        i128 notional units
//!  32      8     ts_ns        i64 domain (Unix) ns
//!  40      8     local_ns     i64 monotonic ns
//!  48      8     price        i64 price units (limit)
//!  56      8     qty          i64 quantity units (requested)
//!  64      8     final_qty    i64 quantity units (allowed; 0 when blocked)
//!  72      8     mid          i64 price units (0 if the gate did not reach it)
//!  80      8     position     i64 quantity units (before the order)
//!  88      2     account      u16
//!  90      2     strategy     u16
//!  92      4     instrument   u32
//!  96      1     side         u8: 0 buy, 1 sell
//!  97      1     decision     u8: 0 allow, 1 scale down, 2 block
//!  98      1     reason       u8: 255 with allow, else a BlockReason code 0..=18
//!                                 (the core's evaluation order, BlockReason::ALL)
//!  99      1     level        u8 global risk level (0 INFO, 1 WARNING, 2 CRITICAL; kept as found)
//! 100      1     reduce_only  u8: 0/1
//! 101      3     reserved     0
//! 104            end
//! ```
//!
//! Unlike the other payloads, the side, decision and reason bytes are the core record's own `u8`
//! codes, copied: the reason is the core's [`BlockReason`] order (`BlockReason::ALL`), which
//! `tests/payload.rs` pins by name, so a reorder in core fails a test instead of silently
//! changing what old journals mean.
//!
//! The offsets of bytes 0..101 match the core's `repr(C)` record, but every field is written
//! explicitly. The core record's 27 reserved bytes (always zero) are not journaled; a decoded
//! record has them zero.

use qt_core::risk_api::{BlockReason, DecisionRecord};

use super::{Get, PayloadError, Put, check_v1};
use crate::format::RecordType;

/// The record type whose frames carry this payload.
pub const RECORD_TYPE: RecordType = RecordType::RiskDecision;
/// Payload version written.
pub const VERSION: u16 = 1;
/// Payload length of version 1.
pub const LEN: usize = 104;

const NAME: &str = "DecisionRecord";

/// `reason` of an allow.
pub const NO_REASON: u8 = u8::MAX;

/// Field offsets.
pub mod at {
    /// `i128` equity.
    pub const EQUITY: usize = 0;
    /// `i128` gross exposure.
    pub const GROSS: usize = 16;
    /// `i64` domain time.
    pub const TS_NS: usize = 32;
    /// `i64` monotonic time.
    pub const LOCAL_NS: usize = 40;
    /// `i64` limit price.
    pub const PRICE: usize = 48;
    /// `i64` requested quantity.
    pub const QTY: usize = 56;
    /// `i64` allowed quantity.
    pub const FINAL_QTY: usize = 64;
    /// `i64` mid.
    pub const MID: usize = 72;
    /// `i64` position before.
    pub const POSITION: usize = 80;
    /// `u16` account.
    pub const ACCOUNT: usize = 88;
    /// `u16` strategy.
    pub const STRATEGY: usize = 90;
    /// `u32` instrument.
    pub const INSTRUMENT: usize = 92;
    /// `u8` side.
    pub const SIDE: usize = 96;
    /// `u8` decision.
    pub const DECISION: usize = 97;
    /// `u8` block reason.
    pub const REASON: usize = 98;
    /// `u8` global risk level.
    pub const LEVEL: usize = 99;
    /// `u8` reduce-only flag.
    pub const REDUCE_ONLY: usize = 100;
    /// Reserved bytes up to the end.
    pub const RESERVED: usize = 101;
}
const _: () = assert!(at::RESERVED + 3 == LEN);

/// Decision codes, index = code (the core's own constants, pinned here).
const DECISIONS: [u8; 3] = [DecisionRecord::ALLOW, DecisionRecord::SCALE_DOWN, DecisionRecord::BLOCK];
const _: () = assert!(DecisionRecord::ALLOW == 0 && DecisionRecord::SCALE_DOWN == 1 && DecisionRecord::BLOCK == 2);

/// The code of a block reason: its index in [`BlockReason::ALL`].
fn reason_code(r: BlockReason) -> u8 {
    // BlockReason::ALL has COUNT = 19 entries, so the index fits a u8.
    BlockReason::ALL.iter().position(|x| *x == r).map_or(NO_REASON, |i| i as u8)
}

/// Encode `d` into `out`; returns [`LEN`]. No allocation.
pub fn encode_into(d: &DecisionRecord, out: &mut [u8; LEN]) -> usize {
    out.fill(0);
    let mut p = Put(out);
    p.i128(at::EQUITY, d.equity);
    p.i128(at::GROSS, d.gross);
    p.i64(at::TS_NS, d.ts_ns);
    p.i64(at::LOCAL_NS, d.local_ns);
    p.i64(at::PRICE, d.price);
    p.i64(at::QTY, d.qty);
    p.i64(at::FINAL_QTY, d.final_qty);
    p.i64(at::MID, d.mid);
    p.i64(at::POSITION, d.position);
    p.u16(at::ACCOUNT, d.account);
    p.u16(at::STRATEGY, d.strategy);
    p.u32(at::INSTRUMENT, d.instrument);
    p.u8(at::SIDE, d.side);
    p.u8(at::DECISION, d.decision);
    p.u8(at::REASON, d.reason);
    p.u8(at::LEVEL, d.level);
    p.u8(at::REDUCE_ONLY, d.reduce_only);
    LEN
}

/// Decode a payload of `version`. Refuses a side other than 0/1, an unknown decision, a reason
/// that does not fit the decision (255 exactly with an allow, a [`BlockReason`] otherwise) and a
/// reduce-only byte other than 0/1.
pub fn decode(bytes: &[u8], version: u16) -> Result<DecisionRecord, PayloadError> {
    let b = check_v1::<LEN>(bytes, version, NAME)?;
    let g = Get { b, record: NAME };
    let side = g.code(at::SIDE, "side", &[0u8, 1])?;
    let decision = g.code(at::DECISION, "decision", &DECISIONS)?;
    let reason = g.u8(at::REASON);
    let reason_ok = if decision == DecisionRecord::ALLOW {
        reason == NO_REASON
    } else {
        BlockReason::ALL.get(usize::from(reason)).is_some_and(|r| reason_code(*r) == reason)
    };
    if !reason_ok {
        return Err(g.bad("reason", u64::from(reason)));
    }
    let reduce_only = g.code(at::REDUCE_ONLY, "reduce_only", &[0u8, 1])?;
    Ok(DecisionRecord {
        equity: g.i128(at::EQUITY),
        gross: g.i128(at::GROSS),
        ts_ns: g.i64(at::TS_NS),
        local_ns: g.i64(at::LOCAL_NS),
        price: g.i64(at::PRICE),
        qty: g.i64(at::QTY),
        final_qty: g.i64(at::FINAL_QTY),
        mid: g.i64(at::MID),
        position: g.i64(at::POSITION),
        account: g.u16(at::ACCOUNT),
        strategy: g.u16(at::STRATEGY),
        instrument: g.u32(at::INSTRUMENT),
        side,
        decision,
        reason,
        level: g.u8(at::LEVEL),
        reduce_only,
        reserved: [0; 27],
    })
}

super::impl_payload!(DecisionRecord);
