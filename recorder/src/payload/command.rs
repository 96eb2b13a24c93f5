//! Payload of [`RecordType::OrderCommand`] (id 6): one [`OrderCommand`], version 1, 56 bytes
//! for every variant. A tag selects the variant; the variants share offsets, and bytes a
//! variant does not use are written as zero and ignored on read (as is the stop price when
//! `has_option` says there is none).
//!
//! ```text
//!  offset  size  field           New                 Cancel        CancelAll
//!   0      1     tag             1                   2             3
//!   1      1     side            0 buy, 1 sell       0             0
//!   2      1     order_type      0 limit, 1 market   0             0
//!   3      1     tif             0 GTC, 1 IOC,       0             0
//!                                2 FOK, 3 post-only
//!   4      1     reduce_only     0/1                 0             0
//!   5      1     has_option      stop price set 0/1  0             instrument set 0/1
//!   6      2     account         u16                 u16           u16
//!   8      8     order_id        u64                 u64           0
//!  16      2     strategy        u16                 0             0
//!  18      2     reserved        0                   0             0
//!  20      4     instrument      u32                 u32           u32 (0 if all)
//!  24      8     price           i64 units           0             0
//!  32      8     qty             i64 units           0             0
//!  40      8     stop_price      i64 units (0 none)  0             0
//!  48      8     sent_local_ns   i64 monotonic ns    0             0
//!  56            end
//! ```

use qt_core::{
    AccountId, InstrumentId, Nanos, OrderCommand, OrderId, OrderRequest, OrderType, Price, Qty, StrategyId, TimeInForce,
};

use super::{Get, PayloadError, Put, SIDES, check_v1, side_code};
use crate::format::RecordType;

/// The record type whose frames carry this payload.
pub const RECORD_TYPE: RecordType = RecordType::OrderCommand;
/// Payload version written.
pub const VERSION: u16 = 1;
/// Payload length of version 1.
pub const LEN: usize = 56;

const NAME: &str = "OrderCommand";

/// Tag of [`OrderCommand::New`].
pub const TAG_NEW: u8 = 1;
/// Tag of [`OrderCommand::Cancel`].
pub const TAG_CANCEL: u8 = 2;
/// Tag of [`OrderCommand::CancelAll`].
pub const TAG_CANCEL_ALL: u8 = 3;

/// Field offsets.
pub mod at {
    /// `u8` variant tag.
    pub const TAG: usize = 0;
    /// `u8` side.
    pub const SIDE: usize = 1;
    /// `u8` order type.
    pub const ORDER_TYPE: usize = 2;
    /// `u8` time in force.
    pub const TIF: usize = 3;
    /// `u8` reduce-only flag.
    pub const REDUCE_ONLY: usize = 4;
    /// `u8` presence of the variant's optional field.
    pub const HAS_OPTION: usize = 5;
    /// `u16` account.
    pub const ACCOUNT: usize = 6;
    /// `u64` order id.
    pub const ORDER_ID: usize = 8;
    /// `u16` strategy.
    pub const STRATEGY: usize = 16;
    /// `u32` instrument.
    pub const INSTRUMENT: usize = 20;
    /// `i64` limit price.
    pub const PRICE: usize = 24;
    /// `i64` quantity.
    pub const QTY: usize = 32;
    /// `i64` stop price.
    pub const STOP_PRICE: usize = 40;
    /// `i64` enqueue time.
    pub const SENT_LOCAL_NS: usize = 48;
}
const _: () = assert!(at::SENT_LOCAL_NS + 8 == LEN);

const ORDER_TYPES: [OrderType; 2] = [OrderType::Limit, OrderType::Market];
const TIFS: [TimeInForce; 4] = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::PostOnly];

fn order_type_code(t: OrderType) -> u8 {
    match t {
        OrderType::Limit => 0,
        OrderType::Market => 1,
    }
}

fn tif_code(t: TimeInForce) -> u8 {
    match t {
        TimeInForce::Gtc => 0,
        TimeInForce::Ioc => 1,
        TimeInForce::Fok => 2,
        TimeInForce::PostOnly => 3,
    }
}

/// Encode `cmd` into `out`; returns [`LEN`]. No allocation.
pub fn encode_into(cmd: &OrderCommand, out: &mut [u8; LEN]) -> usize {
    out.fill(0);
    let mut p = Put(out);
    match *cmd {
        OrderCommand::New { order_id, request: r, sent_local_ns } => {
            p.u8(at::TAG, TAG_NEW);
            p.u8(at::SIDE, side_code(r.side));
            p.u8(at::ORDER_TYPE, order_type_code(r.order_type));
            p.u8(at::TIF, tif_code(r.tif));
            p.u8(at::REDUCE_ONLY, u8::from(r.reduce_only));
            p.u8(at::HAS_OPTION, u8::from(r.stop_price.is_some()));
            p.u16(at::ACCOUNT, r.account.0);
            p.u64(at::ORDER_ID, order_id.0);
            p.u16(at::STRATEGY, r.strategy.0);
            p.u32(at::INSTRUMENT, r.instrument.0);
            p.i64(at::PRICE, r.price.units());
            p.i64(at::QTY, r.qty.units());
            p.i64(at::STOP_PRICE, r.stop_price.map_or(0, Price::units));
            p.i64(at::SENT_LOCAL_NS, sent_local_ns.0);
        }
        OrderCommand::Cancel { order_id, account, instrument } => {
            p.u8(at::TAG, TAG_CANCEL);
            p.u16(at::ACCOUNT, account.0);
            p.u64(at::ORDER_ID, order_id.0);
            p.u32(at::INSTRUMENT, instrument.0);
        }
        OrderCommand::CancelAll { account, instrument } => {
            p.u8(at::TAG, TAG_CANCEL_ALL);
            p.u8(at::HAS_OPTION, u8::from(instrument.is_some()));
            p.u16(at::ACCOUNT, account.0);
            p.u32(at::INSTRUMENT, instrument.map_or(0, |i| i.0));
        }
    }
    LEN
}

/// Decode a payload of `version`.
pub fn decode(bytes: &[u8], version: u16) -> Result<OrderCommand, PayloadError> {
    let b = check_v1::<LEN>(bytes, version, NAME)?;
    let g = Get { b, record: NAME };
    let account = AccountId(g.u16(at::ACCOUNT));
    let instrument = InstrumentId(g.u32(at::INSTRUMENT));
    match g.u8(at::TAG) {
        TAG_NEW => {
            let has_stop = g.flag(at::HAS_OPTION, "stop_price_set")?;
            let request = OrderRequest {
                account,
                strategy: StrategyId(g.u16(at::STRATEGY)),
                instrument,
                side: g.code(at::SIDE, "side", &SIDES)?,
                order_type: g.code(at::ORDER_TYPE, "order_type", &ORDER_TYPES)?,
                tif: g.code(at::TIF, "tif", &TIFS)?,
                price: Price::from_units(g.i64(at::PRICE)),
                qty: Qty::from_units(g.i64(at::QTY)),
                reduce_only: g.flag(at::REDUCE_ONLY, "reduce_only")?,
                stop_price: has_stop.then(|| Price::from_units(g.i64(at::STOP_PRICE))),
            };
            Ok(OrderCommand::New {
                order_id: OrderId(g.u64(at::ORDER_ID)),
                request,
                sent_local_ns: Nanos(g.i64(at::SENT_LOCAL_NS)),
            })
        }
        TAG_CANCEL => Ok(OrderCommand::Cancel { order_id: OrderId(g.u64(at::ORDER_ID)), account, instrument }),
        TAG_CANCEL_ALL => {
            let one = g.flag(at::HAS_OPTION, "instrument_set")?;
            Ok(OrderCommand::CancelAll { account, instrument: one.then_some(instrument) })
        }
        tag => Err(g.bad("tag", u64::from(tag))),
    }
}

super::impl_payload!(OrderCommand);
