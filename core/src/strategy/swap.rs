//! Strategy swap: a running strategy's parameters (and version) replaced while it holds
//! positions and has orders working — the plain data of the command and the hand-over policy.
//!
//! A swap arrives as [`crate::engine::ControlCommand::StrategySwap`] (the control socket's
//! `qt strategy swap`, or a control scheduled at a domain time), is journaled like every control
//! command and carried out on the core thread between two inputs, without allocating: the
//! strategy instance stays in its slot and takes the new parameters ([`Strategy::swap`]); only
//! plain data crosses the channel. What happens to its working orders is the [`SwapPolicy`]:
//!
//! - **hand-over** (the default): positions stay with the account (the engine owns them) and the
//!   working orders stay working; the new version rebuilds what it has in flight from the
//!   engine's order table (never from the old version's memory), so it sends no second order
//!   for an intent already working, manages (cancels on expiry) the orders it adopted, and
//!   receives their reports — reports are routed by strategy id, which the swap keeps;
//! - **cancel-replace**: the engine cancels every working order of the strategy first; the new
//!   version counts them as in flight and places nothing until each has its terminal report;
//! - **drop**: *no hand-over* — the new version starts as a fresh instance that knows nothing of
//!   the working orders. It exists to prove the `strategy_swap` stress scenario can fail (double
//!   orders, orphaned orders); never use it for trading.
//!
//! Either real policy gives: no double order (never more working than the strategy's limit) and
//! no orphaned order (every order working at the swap is tracked by the engine and the new
//! version until its terminal report).
//!
//! [`Strategy::swap`]: super::Strategy::swap

use crate::ids::StrategyId;
use crate::money::Qty;
use crate::time::Nanos;
/// The threshold's type (re-exported for the journal's codec).
pub use fixed::types::I32F32;

/// What happens to a strategy's working orders when it is swapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SwapPolicy {
    /// The working orders are handed to the new version (it adopts them from the order table).
    #[default]
    HandOver,
    /// Every working order is cancelled and confirmed before the new version may place.
    CancelReplace,
    /// No hand-over (the new version forgets the working orders): test only.
    Drop,
}

impl SwapPolicy {
    /// Every policy, in code order.
    pub const ALL: [SwapPolicy; 3] = [SwapPolicy::HandOver, SwapPolicy::CancelReplace, SwapPolicy::Drop];

    /// Its name in configuration, on the command line and in the journal's text.
    pub fn name(self) -> &'static str {
        match self {
            Self::HandOver => "hand_over",
            Self::CancelReplace => "cancel_replace",
            Self::Drop => "drop",
        }
    }

    /// The policy called `name` (`-` and `_` alike).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.replace('-', "_");
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Its code in the journal.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The policy of a journal code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

/// The new parameters: each field set replaces the running one, each `None` keeps it. The
/// fields are the imbalance taker's (the only strategy kind), on its instrument's grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParamPatch {
    /// Order quantity.
    pub qty: Option<Qty>,
    /// Largest absolute position.
    pub max_position: Option<Qty>,
    /// Imbalance threshold, strictly between 0 and 1.
    pub threshold: Option<I32F32>,
    /// Levels per side in the imbalance.
    pub levels: Option<u32>,
    /// Minimum time between orders.
    pub cooldown: Option<Nanos>,
    /// Resting orders: how long one rests before the strategy cancels it (`Nanos::ZERO`: IOC
    /// taker orders).
    pub rest_for: Option<Nanos>,
}

impl ParamPatch {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One swap: which strategy, the version it becomes, the policy and the new parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrategySwap {
    /// The strategy (its index in the engine).
    pub strategy: StrategyId,
    /// The version it becomes: greater than the running one (a repeated command is refused).
    pub version: u32,
    /// What happens to its working orders.
    pub policy: SwapPolicy,
    /// The new parameters.
    pub params: ParamPatch,
}

/// Why a strategy refused a swap (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapRefused {
    /// The strategy cannot be swapped.
    Unsupported,
    /// A quantity is not a positive multiple of the lot size (or below the minimum).
    BadQty,
    /// The threshold is not strictly between 0 and 1.
    BadThreshold,
    /// Levels outside 1..=1000.
    BadLevels,
    /// A negative duration.
    BadDuration,
    /// The maximum position is below the order quantity.
    PositionBelowQty,
}

impl SwapRefused {
    /// What is wrong, for the reply.
    pub fn text(self) -> &'static str {
        match self {
            Self::Unsupported => "this strategy cannot be swapped",
            Self::BadQty => "qty/max_position must be positive multiples of the lot size, qty at least the minimum",
            Self::BadThreshold => "threshold must be strictly between 0 and 1",
            Self::BadLevels => "levels must be in 1..=1000",
            Self::BadDuration => "cooldown and rest_for must not be negative",
            Self::PositionBelowQty => "max_position is smaller than qty",
        }
    }
}

/// What a strategy did with a swap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwapApplied {
    /// Working orders of the strategy at the swap (in the engine's order table).
    pub working: u32,
    /// Of those, the ones the new version tracks as in flight (hand-over and cancel-replace:
    /// all; drop: none).
    pub adopted: u32,
}
