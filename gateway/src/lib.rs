//! Quantum Trader order gateways: one thread per venue takes [`qt_core::OrderCommand`]s from the
//! core's bounded queue and returns [`qt_core::ExecutionReport`]s on another. The built-in
//! simulated venue ([`sim`]) sits behind the same queues as a real gateway would.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod binance;
pub mod sim;
