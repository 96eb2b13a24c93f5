//! Quantum Trader risk: accounts, capital profiles, the full pre-trade gate, the global risk
//! level and the emergency stop, all run inline on the core thread.
//!
//! [`RiskGate`] implements [`qt_core::PreTradeCheck`]: emergency stop → global risk CRITICAL →
//! account loss limits → strategy whitelist → book valid and fresh → price band → leverage →
//! single-trade risk → order notional and position count → order rate (see [`gate`]). Its parts:
//! [`account`] (accounts, equity and isolation), [`profile`] (capital profiles micro…aggressive
//! and validated overrides), [`loss_window`] (daily/weekly loss limits on UTC day and ISO week),
//! [`order_rate`] (sliding-window order rate), [`ess`] (the emergency stop: triggers, latch,
//! HMAC-authenticated reset, slippage-capped flatten orders, outage watch) and [`global_level`]
//! (INFO/WARNING/CRITICAL from drawdown, leverage, EWMA volatility and concentration, with
//! hysteresis) and [`reconcile`] (our positions against the venue's). Limits are exact; a check is integer arithmetic, no allocation, no lock.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod counters;
pub mod ess;
pub mod gate;
pub mod global_level;
mod hooks;
pub mod loss_window;
pub mod order_rate;
pub mod profile;
pub mod reconcile;
pub mod unit_notional;

pub use account::{AccountRisk, AccountSpec, Exposure};
pub use counters::RiskCounters;
pub use gate::{GateError, GateSettings, RiskGate};
