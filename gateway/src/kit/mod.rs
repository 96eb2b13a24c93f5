//! The gateway side of the venue kit: everything an order gateway does the same way for every
//! venue lives here once; a venue's folder (`crate::binance`) holds only what differs — its
//! requests and their signing, its answers and error codes, its private-stream events.
//!
//! - [`http`]: one HTTP/1.1 keep-alive client over rustls (and the TLS plumbing the private
//!   streams share).
//! - [`config`]: [`GatewayConfig`](config::GatewayConfig), what any venue's gateway is built
//!   from, and the checks every venue makes of it.
//! - [`error`]: [`GatewayError`](error::GatewayError), the crate-boundary error.
//! - [`stats`]: [`GatewayStats`](stats::GatewayStats), what a gateway thread counted.
//! - `thread`: the gateway loop, driving a venue's `VenueGateway` (its commands, its stream
//!   messages, its timers).
//! - `order_state`: the per-order record, reports, fill de-duplication by trade id and
//!   cumulative quantity, and the reconciliation schedule of orders whose fate is unknown.
//! - `private_stream`: one WebSocket reader thread per account, reconnecting with backoff,
//!   feeding the gateway thread over a bounded channel; a venue's `StreamSession` says how to
//!   open, keep alive and close it.
//! - [`rate_limit`]: one limiter fed by a venue's headers or documented weights (a venue is a
//!   table of rules): paces near a limit, refuses past it, honours `Retry-After`.
//! - `health`: the gateway's verdict on its venue (request failures, private streams that
//!   stay down), sent to the core as `ControlCommand::VenueHealth` when it changes.
//! - `rest_link`: the REST side a signed-REST gateway shares — client, limiter, clock, the
//!   sending of one signed request and its resend after a timestamp refusal.
//! - `shell`: the gateway shell a signed-REST venue with private streams builds on — the
//!   embedded `GatewayCore` (accounts, order state, REST link), the `ShellGateway` trait that
//!   gives the loop's and the sending's traits, and the one start-up `start`.
//! - [`time_sync`]: the venue's clock (an offset estimate from the best of several samples),
//!   applied to every signed timestamp, re-estimated periodically and after a timestamp reject.

pub mod config;
pub mod error;
pub(crate) mod health;
pub(crate) mod http;
pub(crate) mod order_state;
pub(crate) mod private_stream;
pub mod rate_limit;
pub(crate) mod rest_link;
pub(crate) mod shell;
pub mod stats;
pub(crate) mod thread;
pub use thread::DEFAULT_IDLE;
pub mod time_sync;
