//! The KuCoin HF spot order gateway: one thread (`qt-gw-kucoin`) between the core's order ring
//! and report ring, speaking KuCoin's HF REST API for orders and its private WebSocket topic
//! `/spotMarket/tradeOrdersV2` for order events. It runs on the gateway kit ([`crate::kit`])
//! like the OKX and Bybit gateways; this folder holds only what is KuCoin's.
//!
//! ```text
//!  core ──OrderCommand ring──► qt-gw-kucoin ──HTTPS keep-alive──► POST   /api/v1/hf/orders
//!       ◄─ExecutionReport ring─┘    ▲                             DELETE /api/v1/hf/orders[/client-order/{clientOid}]
//!                                   │ bounded crossbeam channel   GET    /api/v1/hf/orders/client-order/{clientOid}
//!                                   │                             GET    /api/v1/hf/fills, /api/v1/timestamp
//!                qt-gw-kucoin-ps<N> (one per account) ◄─WSS─ <ws_url>/?token=&connectId=
//!                  POST /api/v1/bullet-private, subscribe /spotMarket/tradeOrdersV2, ping
//! ```
//!
//! Files: [`gateway`] (start-up, requests, commands; its pushes in `gateway/stream_events.rs`,
//! its queries in `gateway/reconcile.rs`), `rest` (signing and the envelope), [`errors`]
//! (codes → reject reasons), `server_time`, [`order_change`] (the push), [`orders`] (the order
//! body, ack and `hf/fills`), `private_stream` (the kit session: bullet token, subscribe,
//! ping), `limits`, and account snapshots ([`account::query_account`]).
//!
//! The design (facts: `NOTES-orders.md` §4, samples in `testdata/kucoin/orders/`):
//! - HF orders rather than classic: HF is KuCoin's current spot order path (weight 1 per
//!   place against classic's 2, cancel by `clientOid`, its own fills endpoint); classic's
//!   endpoints are not used.
//! - New orders `POST /api/v1/hf/orders` (async ack `{"orderId","clientOid"}`: "received");
//!   the body is [`orders::write_order_body`]. Orders are named by `clientOid` — our
//!   [`qt_core::ClientOrderId`], within KuCoin's 40 characters — because KuCoin's order ids
//!   are 96-bit (24 hex digits): reports carry the id as `venue_order_id` only when it fits in
//!   64 bits (the simulator's do), else 0. Cancels by `clientOid`
//!   (`DELETE /api/v1/hf/orders/client-order/{clientOid}?symbol=`); cancel-all per symbol
//!   (`DELETE /api/v1/hf/orders?symbol=`). A limit / IOC / market order is `Accepted` on the
//!   ack; a post-only or FOK order, which the matcher may still cancel after it, only when the
//!   stream (or a query) shows it working, and `Rejected(WouldTakeLiquidity | FokUnfillable)`
//!   when it shows it cancelled first. An unanswered order is queried by `clientOid`, never
//!   sent twice.
//! - Fills: a `match` push (`matchSize`, `matchPrice`, `tradeId`) carries no fee amount, so
//!   each trade is booked from `GET /api/v1/hf/fills?symbol=&orderId=` with its real fee,
//!   de-duplicated by `tradeId` through the kit's order state; the same list recovers what
//!   the stream missed (a drop, a malformed frame).
//! - Rate limits (`limits`): the Spot pool counted locally; 429000 backs off.
//! - Time (`server_time`): every signed timestamp is the venue's clock estimate; re-estimated
//!   periodically and at once after a 400002, after which the request is sent once more (the
//!   venue checks the timestamp before the request does anything).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod errors;
pub mod gateway;
pub(crate) mod limits;
pub mod order_change;
pub mod orders;
pub(crate) mod private_stream;
pub(crate) mod rest;
pub(crate) mod server_time;

pub use crate::kit::stats::{GatewayStats, RejectCounts};
pub use errors::GatewayError;
pub use gateway::spawn;

/// Everything the KuCoin gateway needs: the kit's
/// [`GatewayConfig`](crate::kit::config::GatewayConfig) with each account's API passphrase in
/// `passphrases` (KuCoin keys are a key, a secret and a key-version-2 passphrase);
/// [`PRODUCTION_REST_URL`] / [`PRODUCTION_WS_URL`] for the real venue.
pub type KucoinGatewayConfig = crate::kit::config::GatewayConfig;

/// The venue's name in messages.
pub(crate) const VENUE_NAME: &str = "KuCoin";

/// Production KuCoin's REST base URL.
pub const PRODUCTION_REST_URL: &str = "https://api.kucoin.com";
/// Production KuCoin's private WebSocket endpoint (the one its private tokens name).
pub const PRODUCTION_WS_URL: &str = "wss://ws-api-spot.kucoin.com";
