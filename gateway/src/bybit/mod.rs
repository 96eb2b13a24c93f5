//! The Bybit v5 order gateway (spot and linear perpetuals): one thread (`qt-gw-bybit`) between
//! the core's order ring and report ring, speaking Bybit's v5 REST API for orders and its
//! private WebSocket (`/v5/private`) for order states and fills. It runs on the gateway kit
//! ([`crate::kit`]) like the Binance gateway; this folder holds only what is Bybit's.
//!
//! ```text
//!  core ──OrderCommand ring──► qt-gw-bybit ──HTTPS keep-alive──► POST /v5/order/create|cancel|cancel-all
//!       ◄─ExecutionReport ring─┘    ▲                             GET  /v5/order/realtime
//!                                   │ bounded crossbeam channel   GET  /v5/market/time
//!                   qt-gw-bybit-ps<N> (one per account) ◄─WSS─ <ws_url>/v5/private
//!                     op:auth, subscribe order + execution, {"op":"ping"} every 20 s
//! ```
//!
//! - [`spawn`] validates the configuration (every problem at once), estimates the venue's clock
//!   (`GET /v5/market/time`), then opens each account's private stream — authenticated and
//!   subscribed to `order` and `execution` — *before* it returns, so no order can fill unseen.
//! - A `Spot` instrument trades under `category=spot`, a `LinearPerpetual` one under
//!   `category=linear` (one-way mode, `positionIdx` 0, `reduceOnly` sent when the request asks
//!   for it). `orderLinkId` is our [`qt_core::ClientOrderId`] (≤ 36 characters, Bybit's limit).
//! - New orders: the ack (`retCode` 0) only means "accepted" (NOTES-orders §2). A GTC / IOC /
//!   market order is reported `Accepted` on it; a post-only or FOK order, which the venue may
//!   still refuse after the ack (`rejectReason` `EC_PostOnlyWillTakeLiquidity`,
//!   `EC_CancelForNoFullFill`), only when the `order` topic (or a query) shows it working, and
//!   `Rejected(WouldTakeLiquidity | FokUnfillable)` when it shows it refused. A non-zero
//!   `retCode` is `Rejected(reason)` from [`errors`]; an unknown fate (HTTP 5xx, a timeout) is
//!   queried with `GET /v5/order/realtime?orderLinkId=` until the venue says.
//! - Fills come from the `execution` topic with their real `execFee`, de-duplicated by `execId`
//!   and by cumulative quantity (`orderQty − leavesQty`) through the kit's order state. What the
//!   venue filled without an execution event (a dropped stream, a malformed frame) is booked
//!   from the order's own cumulative figures (`cumExecQty`, `cumExecValue`, `cumExecFee` of the
//!   `order` topic or `realtime`): one fill at the average price of the missing part carrying
//!   exactly the missing fee. Bybit's `GET /v5/execution/list` would give each missing trade on
//!   its own; the simulator does not serve it, so it is not used (reported, not guessed).
//! - A reconnected stream is reconciled at once, on the gateway thread, before it takes the next
//!   command: Bybit subscribes the session inside `open`, so nothing can fall between.
//! - Rate limits (`limits`): Bybit's per-UID, per-endpoint, per-second windows, learnt from
//!   `X-Bapi-Limit` / `X-Bapi-Limit-Status` (remaining) of each answer; 10006 "Too many visits"
//!   (HTTP 200) and HTTP 403/429 stop sending for a second (Bybit sends no `Retry-After`).
//! - Time (`server_time`): every signed timestamp is the venue's clock estimate; re-estimated
//!   every [`BybitGatewayConfig::time_sync_every`] and at once after a 10002 ("request time
//!   exceeds the time window"), after which the request is sent once more (Bybit checks the
//!   timestamp before anything else, so the refused one did nothing).
//! - Account snapshots: [`account::query_account`] (`wallet-balance` and `position/list`,
//!   signed) is a cold helper called off the core thread on its own connection.
//!
//! Files: [`gateway`] (start-up, requests, commands; its stream events in
//! `gateway/stream_events.rs`, its queries in `gateway/reconcile.rs`), `rest` (signing and the
//! `retCode` envelope), `private_stream` (the kit session), [`account`], [`errors`], `limits`,
//! `server_time`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod errors;
pub mod gateway;
pub(crate) mod limits;
pub(crate) mod private_stream;
pub(crate) mod rest;
pub(crate) mod server_time;
pub mod settle;

pub use crate::kit::stats::{GatewayStats, RejectCounts};
pub use errors::GatewayError;
pub use gateway::spawn;

/// The venue's name in messages.
pub(crate) const VENUE_NAME: &str = "Bybit";

/// Production Bybit's REST base URL.
pub const PRODUCTION_REST_URL: &str = "https://api.bybit.com";
/// Production Bybit's WebSocket base URL (the private stream is `<ws_url>/v5/private`).
pub const PRODUCTION_WS_URL: &str = "wss://stream.bybit.com";

/// Everything the Bybit gateway needs: the kit's [`GatewayConfig`](crate::kit::config::GatewayConfig)
/// (instruments spot and linear perpetuals; [`PRODUCTION_REST_URL`] / [`PRODUCTION_WS_URL`] for
/// the real venue).
pub type BybitGatewayConfig = crate::kit::config::GatewayConfig;
