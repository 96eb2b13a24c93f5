//! The Firi order gateway (spot, limit orders; IOC emulated by cancelling the rest): one thread (`qt-gw-firi`) between the core's
//! order ring and report ring, speaking Firi's signed REST API. Firi documents no private
//! stream (and no WebSocket at all), so orders and fills are polled at a configured rate. It
//! runs on the gateway kit's shell ([`crate::kit::shell`], with no stream sessions); this
//! folder holds only what is Firi's.
//!
//! ```text
//!  core ──OrderCommand ring──► qt-gw-firi ──HTTPS keep-alive──► POST   /v2/orders
//!       ◄─ExecutionReport ring─┘                                DELETE /v2/orders/{id}/{market}/detailed
//!                                                                DELETE /v2/orders/{market}
//!            every poll_every, per account with live orders:     GET    /v2/orders, /v2/history/trades,
//!                                                                       /v2/order/{id}, /v2/orders/history
//!                                                                GET    /time (clock)
//! ```
//!
//! - Signing: `miraiex-user-clientid` + `miraiex-user-signature` with `timestamp` (epoch
//!   seconds of the venue's clock) and `validity` in the query ([`crate::sign::firi`]); a
//!   refused window (`Expired Signature`) re-estimates the clock and is sent once more.
//! - What is known of Firi's private API, and what is our guess, is written in [`wire`] (the
//!   one place the bodies' shapes live) and [`errors`]; the simulator serves the same shapes
//!   (`venue-sim/src/firi/`). Firi takes no client order id: an order whose placing got no
//!   answer is found again by its market, side, price and amount (`poll.rs`), never re-sent.
//! - Rate limits are undocumented: ours are conservative and counted locally (`rest.rs`); a
//!   429 backs off through the kit's limiter, and polls (cold work) wait while it does.
//! - Account balances: [`account::query_balances`] (`GET /v2/balances`), for `qt run`.
//!
//! Files: [`gateway`] (start-up and commands), `poll` (the polling), `rest` (key, clock,
//! limits), [`wire`], [`errors`], [`account`].

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod errors;
pub mod gateway;
mod poll;
pub(crate) mod rest;
pub mod wire;

pub use crate::kit::stats::{GatewayStats, RejectCounts};
pub use errors::GatewayError;
pub use gateway::spawn;
pub use wire::write_order_body;

use std::time::Duration;

/// The venue's name in messages.
pub(crate) const VENUE_NAME: &str = "Firi";

/// Production Firi's REST base URL.
pub const PRODUCTION_REST_URL: &str = "https://api.firi.com";
/// How often an account with live orders is polled when nothing says otherwise.
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_millis(250);
/// Fills asked for per poll when nothing says otherwise.
pub const DEFAULT_FILLS_PAGE: usize = 100;

/// Everything the Firi gateway needs: the kit's configuration (`ws_url` unused, may be empty)
/// and the polling.
#[derive(Clone, Debug)]
pub struct FiriGatewayConfig {
    /// Where the venue is, what it trades, whose keys (the API key is Firi's client id).
    pub kit: crate::kit::config::GatewayConfig,
    /// Time between two polls of an account with live orders (a cancel or an order without an
    /// answer polls at once).
    pub poll_every: Duration,
    /// Fills asked for per poll (`GET /v2/history/trades?count=`): more than an account can
    /// fill between two polls, or the excess is booked without its fee.
    pub fills_page: usize,
}

impl FiriGatewayConfig {
    /// `kit` polled every [`DEFAULT_POLL_EVERY`], [`DEFAULT_FILLS_PAGE`] fills a poll.
    pub fn new(kit: crate::kit::config::GatewayConfig) -> Self {
        Self { kit, poll_every: DEFAULT_POLL_EVERY, fills_page: DEFAULT_FILLS_PAGE }
    }
}
