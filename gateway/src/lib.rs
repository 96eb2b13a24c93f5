//! Quantum Trader order gateways to real venues: one thread per venue takes
//! [`qt_core::OrderCommand`]s from the core's bounded queue and returns
//! [`qt_core::ExecutionReport`]s on another. The simulated exchange that sits behind the same
//! queues in a simulated run lives in `qt-venue-sim` (`qt_venue_sim::exchange`).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod binance;
pub mod sign;
