//! The seam between the core loop and the risk engine: [`PreTradeCheck`] and its
//! [`RiskDecision`]. The check runs inline on the core thread for every order request, so an
//! implementation must not allocate, lock or block.

use crate::money::{Notional, Price, Qty};
use crate::order::{ExecutionReport, OrderRequest};
use crate::strategy::MarketView;

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
}

impl BlockReason {
    /// Number of reasons.
    pub const COUNT: usize = 17;

    /// Every reason, in evaluation order.
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
