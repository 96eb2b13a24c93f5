//! Orders: what a strategy asks for ([`OrderRequest`]), what goes to a gateway
//! ([`OrderCommand`]), and what comes back ([`ExecutionReport`]).
//!
//! All records here are small, `Copy` and fixed-size so they cross thread boundaries through
//! preallocated rings without allocation. The order state machine lives in
//! [`crate::orders`].

use crate::ids::{AccountId, InstrumentId, OrderId, StrategyId, VenueId};
use crate::money::{Notional, Price, Qty};
use crate::time::Nanos;
use serde::{Deserialize, Serialize};

/// Buy or sell; for book levels, `Buy` is the bid side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Side {
    /// Buy / bid.
    Buy = 0,
    /// Sell / ask.
    Sell = 1,
}

impl Side {
    /// The other side.
    #[inline]
    pub const fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// +1 for buy, -1 for sell.
    #[inline]
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// How long an order stays working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc = 0,
    /// Immediate or cancel: fill what is possible now, cancel the rest.
    Ioc = 1,
    /// Fill or kill: fill completely now or not at all.
    Fok = 2,
    /// Post only: rest on the book; rejected if it would take liquidity.
    PostOnly = 3,
}

/// Limit or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum OrderType {
    /// A limit order at `price`.
    Limit = 0,
    /// A market order; `price` is ignored by the venue but kept as the protection bound.
    Market = 1,
}

/// What a strategy asks for. Passes the risk gate before it becomes an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    /// The account trading.
    pub account: AccountId,
    /// The strategy asking.
    pub strategy: StrategyId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price (the protection bound for market orders).
    pub price: Price,
    /// Quantity (positive, on the lot grid).
    pub qty: Qty,
    /// Only reduce an existing position.
    pub reduce_only: bool,
    /// Protective stop price the strategy would use, if any (for single-trade risk).
    pub stop_price: Option<Price>,
}

/// What goes from the core to a gateway thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderCommand {
    /// Place a new order.
    New {
        /// Our id (and, formatted, the client order id).
        order_id: OrderId,
        /// The request as allowed (or scaled down) by the risk gate.
        request: OrderRequest,
        /// Monotonic time the command was enqueued, for latency accounting.
        sent_local_ns: Nanos,
    },
    /// Cancel one order.
    Cancel {
        /// Our id of the order to cancel.
        order_id: OrderId,
        /// Its account.
        account: AccountId,
        /// Its instrument.
        instrument: InstrumentId,
    },
    /// Cancel every open order of an account on an instrument (or on all, if `None`).
    CancelAll {
        /// The account.
        account: AccountId,
        /// The instrument, or all.
        instrument: Option<InstrumentId>,
    },
}

/// Why a venue (or our own side, before sending) refused an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RejectReason {
    /// Price not on the tick grid.
    PriceFilter,
    /// Quantity not on the lot grid or below the minimum.
    LotSize,
    /// Notional below the minimum.
    MinNotional,
    /// A post-only order would have taken liquidity.
    WouldTakeLiquidity,
    /// A fill-or-kill order could not fill completely.
    FokUnfillable,
    /// Not enough balance or margin.
    InsufficientBalance,
    /// The venue does not know the instrument.
    UnknownInstrument,
    /// The order to cancel is not open.
    UnknownOrder,
    /// The venue's rate limit.
    RateLimited,
    /// The outbound queue to the gateway was full; never sent.
    QueueFull,
    /// Our risk gate blocked it; never sent.
    RiskBlocked,
    /// Our order table was full; never sent.
    TooManyOpenOrders,
    /// The journal cannot write (disk full, failed flush): no audit, no new order; never sent.
    JournalUnavailable,
    /// The account's private stream at the venue is down, or its live orders are being
    /// reconciled after a reconnect: its fills could not be seen; never sent.
    PrivateStreamDown,
    /// Any other venue error.
    Other,
}

/// What a venue said about an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReportKind {
    /// Accepted and working (or about to fill).
    Accepted,
    /// Refused.
    Rejected(RejectReason),
    /// A (partial) fill.
    Fill,
    /// Cancelled (by us, by IOC expiry, or by the venue); `leaves_qty` is zero after it.
    Canceled,
    /// A cancel request was refused.
    CancelRejected(RejectReason),
}

/// Maker or taker, for fees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Liquidity {
    /// Provided liquidity.
    Maker,
    /// Took liquidity.
    Taker,
}

/// What comes back from a gateway to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutionReport {
    /// Our id.
    pub order_id: OrderId,
    /// The venue's id (zero before acceptance).
    pub venue_order_id: u64,
    /// Venue it came from.
    pub venue: VenueId,
    /// Account.
    pub account: AccountId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// What happened.
    pub kind: ReportKind,
    /// Order side.
    pub side: Side,
    /// Fill price (fills only).
    pub last_price: Price,
    /// Fill quantity (fills only).
    pub last_qty: Qty,
    /// Quantity still working after this report.
    pub leaves_qty: Qty,
    /// Total filled so far.
    pub cum_qty: Qty,
    /// Fee charged for this fill, in settlement currency (negative = rebate).
    pub fee: Notional,
    /// Maker or taker (fills only).
    pub liquidity: Liquidity,
    /// Venue time of the event, Unix-epoch nanoseconds.
    pub exchange_ns: Nanos,
}

impl ExecutionReport {
    /// A report with no fill fields set.
    pub fn status(
        order_id: OrderId,
        request: &OrderRequest,
        venue: VenueId,
        kind: ReportKind,
        exchange_ns: Nanos,
    ) -> Self {
        Self {
            order_id,
            venue_order_id: 0,
            venue,
            account: request.account,
            instrument: request.instrument,
            kind,
            side: request.side,
            last_price: Price::ZERO,
            last_qty: Qty::ZERO,
            leaves_qty: Qty::ZERO,
            cum_qty: Qty::ZERO,
            fee: Notional::ZERO,
            liquidity: Liquidity::Taker,
            exchange_ns,
        }
    }
}
