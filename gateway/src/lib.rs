//! Quantum Trader order gateways to real venues: one thread per venue takes
//! [`qt_core::OrderCommand`]s from the core's bounded queue and returns
//! [`qt_core::ExecutionReport`]s on another. The simulated exchange that sits behind the same
//! queues in a simulated run lives in `qt-venue-sim` (`qt_venue_sim::exchange`).
//!
//! [`kit`] holds what every venue's gateway does the same way (the loop, order state and
//! reconciliation, private-stream threads, HTTPS client, rate limiter, server-time sync); a
//! venue's module ([`binance`]) holds only its differences.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod binance;
pub mod binance_usdm;
pub mod bybit;
pub mod kit;
pub mod kraken;
pub mod kucoin;
pub mod okx;
pub mod sign;

/// What the order-encoding benchmark (and anyone building a request by hand) needs of the
/// kit's HTTP client: the endpoint a URL names and the request writer every gateway sends
/// through.
pub mod wire {
    pub use crate::kit::http::{Endpoint, write_request};
}
