//! Quantum Trader risk: pre-trade checks run inline on the core thread.
//!
//! [`PreTradeGate`] implements [`qt_core::PreTradeCheck`] with the first per-account limits
//! (order notional, position notional) on top of the book and grid checks every order needs.
//! Limits are exact [`qt_core::Notional`]s; a check is a handful of integer operations, no
//! allocation, no lock.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod gate;

pub use gate::{AccountLimits, LimitsError, PreTradeGate};
