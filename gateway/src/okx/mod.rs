//! The OKX v5 order gateway (spot and SWAP): one thread (`qt-gw-okx`) between the core's order
//! ring and report ring, speaking OKX's v5 REST API for orders and its private WebSocket
//! (`/ws/v5/private`) for order states and fills. It runs on the gateway kit ([`crate::kit`])
//! like the Bybit gateway; this folder holds only what is OKX's.
//!
//! ```text
//!  core ──OrderCommand ring──► qt-gw-okx ──HTTPS keep-alive──► POST /api/v5/trade/order|cancel-order|cancel-batch-orders
//!       ◄─ExecutionReport ring─┘    ▲                           GET  /api/v5/trade/order|orders-pending|fills
//!                                   │ bounded crossbeam channel GET  /api/v5/public/time
//!                   qt-gw-okx-ps<N> (one per account) ◄─WSS─ <ws_url>/ws/v5/private
//!                     op:login, subscribe orders (instType ANY), "ping" every 20 s
//! ```
//!
//! - [`spawn`] validates the configuration (every problem at once), estimates the venue's clock
//!   (`GET /api/v5/public/time`), then opens each account's private stream — logged in and
//!   subscribed to `orders` — *before* it returns, so no order can fill unseen.
//! - A `Spot` instrument trades with `tdMode=cash`, a `LinearPerpetual` one (instId
//!   `BASE-QUOTE-SWAP`, one contract of one base unit, `ctVal` 1) with `tdMode=cross` in net
//!   mode, `reduceOnly` sent when asked. `clOrdId` is our [`qt_core::ClientOrderId`] (26
//!   alphanumerics, within OKX's 32). A spot market order is sized in base (`tgtCcy=base_ccy`).
//! - New orders: `sCode` 0 only means "accepted" (NOTES-orders §3). A limit / IOC / market order
//!   is reported `Accepted` on it; a post-only or FOK order, which OKX may still cancel after the
//!   ack (`cancelSource` 31 / 13), only when the `orders` channel (or a query) shows it working,
//!   and `Rejected(WouldTakeLiquidity | FokUnfillable)` when it shows it cancelled that way. A
//!   non-zero `sCode` (or a whole-request `code`) is `Rejected(reason)` from [`errors`]; an
//!   unknown fate (HTTP 5xx, a timeout) is queried with `GET /api/v5/trade/order?clOrdId=`.
//! - Fills come from the `orders` channel (`fillSz`, `fillPx`, `tradeId`, `fillFee` — negative
//!   when charged, so the fee is its negation — `accFillSz`), de-duplicated by `tradeId` and by
//!   cumulative quantity through the kit's order state. What the venue filled unseen (a dropped
//!   stream, a malformed frame) is recovered by query: `GET /api/v5/trade/fills?ordId=` gives
//!   each missed trade with its own fee; only if that fails is the rest booked from the order's
//!   cumulative figures (`accFillSz`, `avgPx`, `fee`).
//! - Cancel-all: OKX has no cancel-all for spot or SWAP (only the dead-man switch and an
//!   options/MMP mass cancel), so the gateway lists `orders-pending` and cancels them with
//!   `cancel-batch-orders`, 20 per request.
//! - Rate limits (`limits`): OKX sends no usage headers; the documented per-user windows
//!   (60 orders / 2 s, 300 batch-cancelled orders / 2 s, 60 queries / 2 s) are counted locally;
//!   50011 (HTTP 429 or 200) stops sending for a second.
//! - Time (`server_time`): every signed timestamp is the venue's clock estimate; re-estimated
//!   periodically and at once after a 50102 ("Timestamp request expired"), after which the
//!   request is sent once more (OKX checks the timestamp before the request does anything).
//! - Account snapshots: [`account::query_account`] (`balance` and `positions`, signed) in the
//!   same shape as the Bybit helper's, so `qt run` reconciles them the same way.
//!
//! Files: [`gateway`] (start-up, requests, commands; its stream events in
//! `gateway/stream_events.rs`, its queries in `gateway/reconcile.rs`), `rest` (signing and the
//! envelope), `private_stream` (the kit session), [`account`], [`errors`], `limits`,
//! `server_time`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod errors;
pub mod gateway;
pub(crate) mod limits;
pub(crate) mod private_stream;
pub(crate) mod rest;
pub(crate) mod server_time;

pub use crate::kit::stats::{GatewayStats, RejectCounts};
pub use errors::GatewayError;
pub use gateway::spawn;

use qt_core::AccountId;

/// The venue's name in messages.
pub(crate) const VENUE_NAME: &str = "OKX";

/// Production OKX's REST base URL.
pub const PRODUCTION_REST_URL: &str = "https://www.okx.com";
/// Production OKX's WebSocket base URL (the private stream is `<ws_url>/ws/v5/private`).
pub const PRODUCTION_WS_URL: &str = "wss://ws.okx.com:8443";

/// Everything the OKX gateway needs: the kit's [`GatewayConfig`](crate::kit::config::GatewayConfig)
/// with each account's API passphrase in `passphrases` (OKX keys are a key, a secret and a
/// passphrase); [`PRODUCTION_REST_URL`] / [`PRODUCTION_WS_URL`] for the real venue.
pub type OkxGatewayConfig = crate::kit::config::GatewayConfig;

/// The passphrase of `account` in `cfg` (empty when none is configured: validation says so).
pub(crate) fn passphrase(cfg: &OkxGatewayConfig, account: AccountId) -> &str {
    cfg.passphrases.iter().find(|(a, _)| *a == account).map_or("", |(_, p)| p.as_str())
}
