//! Kraken spot order entry, the venue-specific pieces of the gateway (issue #20): the nonce
//! that never goes backwards, even across restarts ([`nonce`]); the private REST requests and
//! their answers ([`rest`]: AddOrder, CancelOrder, CancelAll, CancelAllOrdersAfter — the
//! dead-man's switch —, OpenOrders, QueryOrders, Balance, GetWebSocketsToken); Kraken's error
//! texts mapped onto reject reasons ([`errors`]); and the WebSocket v2 `executions` channel
//! with its fill de-duplication by `exec_id` ([`executions`]); when to refresh the dead-man's
//! switch ([`dead_man`]).
//!
//! The gateway thread on the kit that drives them is [`gateway`] ([`spawn`]), with the private
//! stream's session ([`private_stream`]), the request limits (`limits`) and the accounts'
//! balances for `qt run` ([`account`]). Signing is [`crate::sign::kraken`].

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod dead_man;
pub mod errors;
pub mod executions;
pub mod gateway;
pub(crate) mod limits;
pub mod nonce;
pub mod private_stream;
pub mod rest;

pub use crate::kit::stats::GatewayStats;
pub use gateway::{DEAD_MAN_TIMEOUT, GatewayError, spawn};

/// Production Kraken's REST base URL.
pub const PRODUCTION_REST_URL: &str = "https://api.kraken.com";
/// Production Kraken's private WebSocket v2 URL.
pub const PRODUCTION_PRIVATE_WS_URL: &str = "wss://ws-auth.kraken.com/v2";
