//! The seam between the core loop and the risk engine: [`PreTradeCheck`] and its
//! [`RiskDecision`], plus the hooks through which the risk component acts on its own.
//!
//! - [`PreTradeCheck::check`] runs inline for every strategy order request;
//!   [`PreTradeCheck::decision_inputs`] tells the engine what the check saw, for the journal
//!   ([`DecisionRecord`], one per decision, on the core → journal ring).
//! - [`PreTradeCheck::on_report`] sees every execution report after positions were updated.
//! - [`PreTradeCheck::on_timer`] runs on the engine's housekeeping timer with each venue's health
//!   (index = [`crate::VenueId`]); [`PreTradeCheck::on_command`] receives a [`RiskCommand`] from the local
//!   control channel and answers with a [`RiskReply`]. Both may emit [`RiskAction`]s: cancel every
//!   order of an account, or a risk-originated reduce-only order (the emergency stop's flatten),
//!   which bypasses `check` but is still held to the grid and to reduce-only sanity by the engine
//!   (opposite side of the open position, at most its quantity). The engine carries out every
//!   action in the buffer, in order, before it calls the risk component again.
//!
//! Everything here runs on the core thread: implementations must not allocate, lock or block.
//! Records and commands are `Copy` and fixed-size; [`RiskReply`] formats into an inline buffer.

use crate::ids::{AccountId, StrategyId};
use crate::money::{Notional, Price, Qty};
use crate::order::{ExecutionReport, OrderRequest, Side};
use crate::strategy::MarketView;
use crate::time::Nanos;

/// Why an order was blocked or scaled down. The order of variants is the order the full risk
/// gate evaluates them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum BlockReason {
    /// The emergency stop is latched.
    EmergencyStop,
    /// The global risk level is CRITICAL.
    GlobalRiskCritical,
    /// The account's daily loss limit is reached.
    DailyLossLimit,
    /// The account's weekly loss limit is reached.
    WeeklyLossLimit,
    /// The strategy is not on the account's whitelist.
    StrategyNotAllowed,
    /// The instrument is unknown.
    UnknownInstrument,
    /// The book is invalid (gap, resync in progress).
    BookInvalid,
    /// The book or mark price is stale.
    BookStale,
    /// The limit price is too far from the mid (fat finger).
    PriceBand,
    /// Leverage after the fill would exceed the limit.
    Leverage,
    /// Loss to the stop would exceed the single-trade risk limit.
    SingleTradeRisk,
    /// Order notional above the limit.
    MaxOrderNotional,
    /// Position after the fill would exceed the limit.
    MaxPosition,
    /// Too many open positions.
    MaxOpenPositions,
    /// Order rate above the limit.
    OrderRate,
    /// The (scaled) quantity is below the venue minimum.
    BelowMinimum,
    /// Price or quantity off the instrument's grid.
    OffGrid,
    /// Every venue of the account's chain that lists the instrument is unhealthy (routing).
    NoHealthyVenue,
    /// A reduce-only spot order beyond the position (scaled down to it) or with nothing to
    /// reduce (blocked).
    ReduceOnly,
}

impl BlockReason {
    /// Number of reasons.
    pub const COUNT: usize = 19;

    /// Every reason, in evaluation order, then the engine's own (`NoHealthyVenue`, decided by
    /// routing before the gate; `ReduceOnly`, after it): the index is the journal code, so new
    /// reasons are appended.
    pub const ALL: [BlockReason; Self::COUNT] = [
        BlockReason::EmergencyStop,
        BlockReason::GlobalRiskCritical,
        BlockReason::DailyLossLimit,
        BlockReason::WeeklyLossLimit,
        BlockReason::StrategyNotAllowed,
        BlockReason::UnknownInstrument,
        BlockReason::BookInvalid,
        BlockReason::BookStale,
        BlockReason::PriceBand,
        BlockReason::Leverage,
        BlockReason::SingleTradeRisk,
        BlockReason::MaxOrderNotional,
        BlockReason::MaxPosition,
        BlockReason::MaxOpenPositions,
        BlockReason::OrderRate,
        BlockReason::BelowMinimum,
        BlockReason::OffGrid,
        BlockReason::NoHealthyVenue,
        BlockReason::ReduceOnly,
    ];

    /// The snake_case name used in metrics labels and logs.
    pub const fn name(self) -> &'static str {
        match self {
            BlockReason::EmergencyStop => "emergency_stop",
            BlockReason::GlobalRiskCritical => "global_risk_critical",
            BlockReason::DailyLossLimit => "daily_loss_limit",
            BlockReason::WeeklyLossLimit => "weekly_loss_limit",
            BlockReason::StrategyNotAllowed => "strategy_not_allowed",
            BlockReason::UnknownInstrument => "unknown_instrument",
            BlockReason::BookInvalid => "book_invalid",
            BlockReason::BookStale => "book_stale",
            BlockReason::PriceBand => "price_band",
            BlockReason::Leverage => "leverage",
            BlockReason::SingleTradeRisk => "single_trade_risk",
            BlockReason::MaxOrderNotional => "max_order_notional",
            BlockReason::MaxPosition => "max_position",
            BlockReason::MaxOpenPositions => "max_open_positions",
            BlockReason::OrderRate => "order_rate",
            BlockReason::BelowMinimum => "below_minimum",
            BlockReason::OffGrid => "off_grid",
            BlockReason::NoHealthyVenue => "no_healthy_venue",
            BlockReason::ReduceOnly => "reduce_only",
        }
    }
}

/// The risk gate's verdict on one order request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskDecision {
    /// Send as asked.
    Allow,
    /// Do not send.
    Block(BlockReason),
    /// Send with this smaller quantity (on the lot grid, at or above the venue minimum).
    ScaleDown(Qty, BlockReason),
}

/// What the gate saw when it decided, for the journal: the account's equity and gross exposure
/// (both marked to mid), the instrument's mid, the position before the order and the global
/// risk level (0 INFO, 1 WARNING, 2 CRITICAL). Fields the gate did not reach are zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionInputs {
    /// Account equity (starting capital + realized − fees + unrealized).
    pub equity: Notional,
    /// Σ |position notional| of the account at mid.
    pub gross: Notional,
    /// Mid of the order's instrument.
    pub mid: Price,
    /// Signed position in the order's instrument before the order.
    pub position: Qty,
    /// Global risk level.
    pub level: u8,
}

/// One risk decision with its inputs, as journaled: a fixed 128-byte `#[repr(C)]` record that
/// crosses the core → journal ring by copy.
///
/// ```text
///  0 equity  i128 (Notional units, 10^-18)      16 gross i128
/// 32 ts_ns   i64 (domain)   40 local_ns i64     48 price i64   56 qty i64 (requested)
/// 64 final_qty i64          72 mid i64          80 position i64
/// 88 account u16  90 strategy u16  92 instrument u32  96 side u8  97 decision u8
/// 98 reason u8    99 level u8      100 reduce_only u8 101..128 reserved (zero)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct DecisionRecord {
    /// Account equity the gate saw.
    pub equity: i128,
    /// Account gross exposure the gate saw.
    pub gross: i128,
    /// Domain time of the decision (Unix ns).
    pub ts_ns: i64,
    /// Monotonic time of the decision.
    pub local_ns: i64,
    /// Limit price (units).
    pub price: i64,
    /// Requested quantity (units).
    pub qty: i64,
    /// Quantity allowed (requested, scaled, or 0 when blocked).
    pub final_qty: i64,
    /// Mid of the instrument (units; 0 if not reached).
    pub mid: i64,
    /// Position before the order (units).
    pub position: i64,
    /// Account id.
    pub account: u16,
    /// Strategy id.
    pub strategy: u16,
    /// Instrument id.
    pub instrument: u32,
    /// 0 buy, 1 sell.
    pub side: u8,
    /// [`DecisionRecord::ALLOW`], [`DecisionRecord::SCALE_DOWN`] or [`DecisionRecord::BLOCK`].
    pub decision: u8,
    /// [`BlockReason`] discriminant (`u8::MAX` for an allow).
    pub reason: u8,
    /// Global risk level.
    pub level: u8,
    /// Whether the order was reduce-only.
    pub reduce_only: u8,
    /// Zero; room for later fields without changing the size.
    pub reserved: [u8; 27],
}

const _: () = assert!(std::mem::size_of::<DecisionRecord>() == 128);

impl DecisionRecord {
    /// `decision` of an allow.
    pub const ALLOW: u8 = 0;
    /// `decision` of a scale-down.
    pub const SCALE_DOWN: u8 = 1;
    /// `decision` of a block.
    pub const BLOCK: u8 = 2;

    /// The record of `decision` on `request` with `inputs`.
    #[inline]
    pub fn new(
        request: &OrderRequest,
        decision: RiskDecision,
        inputs: &DecisionInputs,
        ts: Nanos,
        local: Nanos,
    ) -> Self {
        let (code, reason, final_qty) = match decision {
            RiskDecision::Allow => (Self::ALLOW, u8::MAX, request.qty),
            RiskDecision::ScaleDown(q, r) => (Self::SCALE_DOWN, r as u8, q),
            RiskDecision::Block(r) => (Self::BLOCK, r as u8, Qty::ZERO),
        };
        Self {
            equity: inputs.equity.units(),
            gross: inputs.gross.units(),
            ts_ns: ts.0,
            local_ns: local.0,
            price: request.price.units(),
            qty: request.qty.units(),
            final_qty: final_qty.units(),
            mid: inputs.mid.units(),
            position: inputs.position.units(),
            account: request.account.0,
            strategy: request.strategy.0,
            instrument: request.instrument.0,
            side: request.side as u8,
            decision: code,
            reason,
            level: inputs.level,
            reduce_only: u8::from(request.reduce_only),
            reserved: [0; 27],
        }
    }

    /// The reason, for a scale-down or block.
    pub fn block_reason(&self) -> Option<BlockReason> {
        BlockReason::ALL.get(usize::from(self.reason)).copied()
    }
}

/// What the risk component asks the engine to do outside the strategy path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskAction {
    /// Cancel every open order of the account, on every instrument and venue.
    CancelAll(AccountId),
    /// Send this reduce-only order (e.g. the emergency stop's flatten). It does not pass
    /// [`PreTradeCheck::check`]; the engine refuses it (counted) unless it is reduce-only, on the
    /// grid, on the opposite side of the open position and at most its quantity.
    Flatten(OrderRequest),
}

/// A fixed-capacity buffer of [`RiskAction`]s; no allocation after construction.
#[derive(Debug, Clone)]
pub struct RiskActions {
    buf: Vec<RiskAction>,
    overflowed: u64,
}

impl RiskActions {
    /// A buffer for `capacity` actions (allocated here, once).
    pub fn with_capacity(capacity: usize) -> Self {
        Self { buf: Vec::with_capacity(capacity.max(1)), overflowed: 0 }
    }

    /// Adds an action; `false` (and counted) if the buffer is full — a flatten retried later
    /// picks up what did not fit.
    #[inline]
    pub fn push(&mut self, action: RiskAction) -> bool {
        if self.buf.len() == self.buf.capacity() {
            self.overflowed += 1;
            return false;
        }
        self.buf.push(action);
        true
    }

    /// The actions so far.
    #[inline]
    pub fn as_slice(&self) -> &[RiskAction] {
        &self.buf
    }

    /// Whether there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Empties the buffer (keeps its capacity); returns the overflow count since the last clear.
    #[inline]
    pub fn clear(&mut self) -> u64 {
        self.buf.clear();
        std::mem::take(&mut self.overflowed)
    }
}

/// Longest text a [`RiskCommand`] or [`RiskReply`] carries inline.
pub const RISK_TEXT_LEN: usize = 200;

/// Short text held inline (no allocation), truncated at [`RISK_TEXT_LEN`] bytes on a char
/// boundary.
pub type InlineText = crate::inline_str::InlineStr<RISK_TEXT_LEN>;

/// A command for the risk component from the local control channel (`qt ess ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskCommand {
    /// Trip the emergency stop by hand.
    EssTrigger {
        /// Why, as the operator gave it.
        reason: InlineText,
    },
    /// Reset a latched emergency stop with an authenticated token.
    EssReset {
        /// The operator's name, as signed.
        operator: InlineText,
        /// The token's signing time, Unix ms.
        timestamp_ms: i64,
        /// HMAC-SHA256 of the token.
        mac: [u8; 32],
        /// Wall-clock time the control thread received the command, Unix ms (the token's age
        /// is judged against it, also in simulated runs whose domain clock is not the wall).
        received_unix_ms: i64,
    },
    /// Report the emergency stop's state and counters.
    Status,
}

/// The risk component's externally visible state: the emergency stop and the global level, as
/// small codes (journaled when they change, and restored from the journal at a restart).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RiskState {
    /// Emergency stop: [`RiskState::ARMED`], [`RiskState::TRIGGERED`] or [`RiskState::LATCHED`].
    pub ess: u8,
    /// The trigger source's code (the risk component's own numbering; 0 when armed).
    pub ess_source: u8,
    /// The global risk level's code (the risk component's own numbering, 0 = lowest).
    pub level: u8,
    /// When the stop tripped (Unix ns; 0 when armed).
    pub ess_since: Nanos,
}

impl RiskState {
    /// Trading allowed.
    pub const ARMED: u8 = 0;
    /// Tripped; actions running.
    pub const TRIGGERED: u8 = 1;
    /// Halted until an authenticated reset.
    pub const LATCHED: u8 = 2;
}

/// The risk component's answer to a [`RiskCommand`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskReply {
    /// Whether the command was carried out.
    pub ok: bool,
    /// What happened, or why it was refused.
    pub text: InlineText,
}

impl RiskReply {
    /// A reply formatted into the inline buffer (no allocation).
    pub fn new(ok: bool, args: std::fmt::Arguments<'_>) -> Self {
        let mut text = InlineText::EMPTY;
        let _ = std::fmt::Write::write_fmt(&mut text, args);
        Self { ok, text }
    }
}

/// Checks that `order` is a sane risk-originated reduce-only order for `position`: reduce-only,
/// opposite side, positive and at most the open quantity. The engine applies it to every
/// [`RiskAction::Flatten`].
#[inline]
pub fn is_sane_reduce_only(order: &OrderRequest, position: Qty) -> bool {
    let opposite = match order.side {
        Side::Buy => position.is_negative(),
        Side::Sell => position.is_positive(),
    };
    order.reduce_only
        && opposite
        && order.qty.is_positive()
        && order.qty.units() <= position.units().saturating_abs()
        && order.price.is_positive()
}

/// Strategy id stamped on risk-originated orders; reports on them reach no strategy.
pub const RISK_STRATEGY: StrategyId = StrategyId(u16::MAX);

/// A pre-trade check run inline on the core thread.
pub trait PreTradeCheck: Send {
    /// Decides on `request` given the current state of the world.
    fn check(&mut self, request: &OrderRequest, view: &MarketView<'_>) -> RiskDecision;

    /// The inputs of the last [`PreTradeCheck::check`] (journaled with the decision).
    fn decision_inputs(&self) -> DecisionInputs {
        DecisionInputs::default()
    }

    /// Sees every execution report after the engine has applied it (positions are updated).
    fn on_report(&mut self, _report: &ExecutionReport, _view: &MarketView<'_>) {}

    /// The housekeeping timer: `venue_healthy[v]` says whether venue `v` (a [`crate::VenueId`] index)
    /// is healthy. May emit actions.
    fn on_timer(&mut self, _view: &MarketView<'_>, _venue_healthy: &[bool], _out: &mut RiskActions) {}

    /// A control command; may emit actions. The default refuses every command.
    fn on_command(&mut self, _command: &RiskCommand, _view: &MarketView<'_>, _out: &mut RiskActions) -> RiskReply {
        RiskReply::new(false, format_args!("this engine has no risk component that takes commands"))
    }

    /// Sets `account`'s capital (a live run's venue balances at start, [`crate::engine::ControlCommand::Capital`]):
    /// what its equity and loss limits are measured from. Returns whether it was applied; the
    /// default takes none.
    fn set_capital(&mut self, _account: AccountId, _equity: Notional) -> bool {
        false
    }

    /// The emergency stop and global level now (cheap: called after every report, timer and
    /// command to journal changes).
    fn state(&self) -> RiskState {
        RiskState::default()
    }

    /// Names of the emergency-stop trigger sources, indexing
    /// [`crate::stats::blocks::RiskStats::ess_triggers`] (`ess_triggers_total{source}`); read
    /// once, when the engine places its stats blocks.
    fn trigger_sources(&self) -> &'static [&'static str] {
        &[]
    }

    /// Copies the component's numbers into the stats file on the core's stats tick: trigger
    /// counts, the latch and the global level into `out`, each account's equity through
    /// `equity` (valued over `view`). Plain stores; must not allocate. The default derives the
    /// latch and level from [`PreTradeCheck::state`].
    fn publish_stats(
        &self,
        view: &MarketView<'_>,
        out: &crate::stats::blocks::RiskStats,
        equity: &mut dyn FnMut(AccountId, Notional),
    ) {
        let _ = (view, equity);
        let s = self.state();
        out.ess_latched.set(u64::from(s.ess == RiskState::LATCHED));
        out.global_risk_level.set(u64::from(s.level));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, r) in BlockReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r:?}");
        }
    }
}
