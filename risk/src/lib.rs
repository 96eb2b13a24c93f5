//! Quantum Trader risk: pre-trade checks run inline on the core thread.
//!
//! [`PreTradeGate`] implements [`qt_core::PreTradeCheck`] with the first per-account limits
//! (order notional, position notional) on top of the book and grid checks every order needs.
//! Limits are exact [`qt_core::Notional`]s; a check is a handful of integer operations, no
//! allocation, no lock.
//!
//! The parts of the full risk engine built so far (issue 5), not yet wired into the gate:
//! [`profile`] (capital profiles micro…aggressive and validated overrides), [`loss_window`]
//! (daily/weekly loss limits on UTC day and ISO week), [`ess`] (the emergency stop: triggers,
//! latch, HMAC-authenticated reset, slippage-capped flatten orders, outage watch) and
//! [`global_level`] (INFO/WARNING/CRITICAL from drawdown, leverage, EWMA volatility and
//! concentration, with hysteresis).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod ess;
mod gate;
pub mod global_level;
pub mod loss_window;
pub mod profile;

pub use gate::{AccountLimits, LimitsError, PreTradeGate};
