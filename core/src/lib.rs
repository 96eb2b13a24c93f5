//! Quantum Trader core: the types every other crate speaks and the pinned event loop.
//!
//! This crate knows nothing of venues, wire formats or the risk engine's policy: it defines the
//! exact money types ([`Price`], [`Qty`], [`Notional`]), instruments, the normalized
//! [`MarketEvent`], the L2 [`Book`], order records, the [`Strategy`] and [`PreTradeCheck`] seams,
//! and the [`Engine`] that busy-polls feeds and queues on one pinned core. Other crates plug in
//! through those traits and the bounded queues.

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod alloc_count;
pub mod book;
pub mod counters;
pub mod decimal;
pub mod engine;
pub mod event;
pub mod feed_source;
pub mod idle;
pub mod ids;
pub mod inline_str;
pub mod instrument;
pub mod journal;
pub mod journal_raw;
pub mod latency;
pub mod log_ring;
pub mod money;
pub mod order;
pub mod orders;
pub mod position;
pub mod queue;
pub mod risk_api;
pub mod routing;
pub mod stats;
pub mod strategy;
pub mod sys;
pub mod time;

pub use book::{Book, BookError, BookHealth, Level};
pub use decimal::{DecimalError, DecimalErrorKind, DecimalStyle, DecimalText};
pub use engine::{BookReport, Engine, EngineConfig, EngineReport, JournalTally, TimerClock};
pub use event::{EventKind, MarketEvent};
pub use feed_source::{FeedSource, FeedStats};
pub use idle::IdleStrategy;
pub use ids::{AccountId, ClientOrderId, InstrumentId, OrderId, StrategyId, VenueId};
pub use instrument::{Instrument, InstrumentError, InstrumentKind, InstrumentRegistry, InstrumentSpec, Venue};
pub use money::{MoneyError, Notional, Price, Qty, Rate, Rounding};
pub use order::{
    ExecutionReport, Liquidity, OrderCommand, OrderRequest, OrderType, RejectReason, ReportKind, Side, TimeInForce,
};
pub use risk_api::{
    BlockReason, DecisionInputs, DecisionRecord, InlineText, PreTradeCheck, RISK_STRATEGY, RiskAction, RiskActions,
    RiskCommand, RiskDecision, RiskReply,
};
pub use strategy::{MarketView, Strategy};
pub use time::{Clock, Nanos, ReplayableClock, SimClock, WallClock};
