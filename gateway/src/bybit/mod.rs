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

pub use crate::kit::stats::{GatewayStats, RejectCounts};
pub use errors::GatewayError;
pub use gateway::spawn;

/// The venue's name in messages.
pub(crate) const VENUE_NAME: &str = "Bybit";

use qt_core::stats::StatsHandle;
use qt_core::stats::blocks::GatewayClockStats;
use qt_core::{AccountId, Clock, Instrument, VenueId, WallClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the Bybit gateway needs. [`Default`] is production Bybit (`api.bybit.com`,
/// `stream.bybit.com`, webpki roots, `recvWindow` 5000, 5 s request timeout, the wall clock
/// re-synced with the venue's every minute) with no instruments or accounts.
#[derive(Clone)]
pub struct BybitGatewayConfig {
    /// REST base URL, e.g. `https://api.bybit.com` or `https://127.0.0.1:PORT`.
    pub rest_url: String,
    /// WebSocket base URL (the private stream is `<ws_url>/v5/private`), e.g.
    /// `wss://stream.bybit.com`.
    pub ws_url: String,
    /// Trust only this CA (PEM); `None` trusts the Mozilla roots of `webpki-roots`.
    pub ca_file: Option<PathBuf>,
    /// TLS server name to verify instead of the URL's host (e.g. `localhost` for the simulator).
    pub server_name: Option<String>,
    /// `X-BAPI-RECV-WINDOW` of signed requests, milliseconds (1..=60000).
    pub recv_window_ms: u64,
    /// Our venue id in the core's table (goes into every report).
    pub venue: VenueId,
    /// The instruments this gateway trades (spot and linear perpetuals).
    pub instruments: Vec<Instrument>,
    /// `(account, api key, secret)` per account.
    pub accounts: Vec<(AccountId, String, String)>,
    /// Run id for [`qt_core::ClientOrderId`]; events of other runs' orders are ignored.
    pub run_id: u32,
    /// Bound on connecting and on each read/write of a request; a new order without an answer
    /// in this time is reconciled.
    pub request_timeout: Duration,
    /// Our clock: signed timestamps are this plus the venue's offset from it.
    pub clock: Arc<dyn Clock>,
    /// Interval between estimates of the venue's clock; zero: only at start and after a
    /// timestamp reject (10002).
    pub time_sync_every: Duration,
    /// Where the gateway thread publishes its clock estimate in the stats file.
    pub clock_stats: Option<StatsHandle<GatewayClockStats>>,
}

impl Default for BybitGatewayConfig {
    fn default() -> Self {
        Self {
            rest_url: "https://api.bybit.com".into(),
            ws_url: "wss://stream.bybit.com".into(),
            ca_file: None,
            server_name: None,
            recv_window_ms: 5000,
            venue: VenueId(0),
            instruments: Vec::new(),
            accounts: Vec::new(),
            run_id: 0,
            request_timeout: Duration::from_secs(5),
            clock: Arc::new(WallClock),
            time_sync_every: crate::kit::time_sync::DEFAULT_EVERY,
            clock_stats: None,
        }
    }
}

impl std::fmt::Debug for BybitGatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and secrets stay out of logs.
        let accounts: Vec<AccountId> = self.accounts.iter().map(|(a, _, _)| *a).collect();
        f.debug_struct("BybitGatewayConfig")
            .field("rest_url", &self.rest_url)
            .field("ws_url", &self.ws_url)
            .field("ca_file", &self.ca_file)
            .field("server_name", &self.server_name)
            .field("recv_window_ms", &self.recv_window_ms)
            .field("venue", &self.venue)
            .field("instruments", &self.instruments)
            .field("accounts", &accounts)
            .field("run_id", &self.run_id)
            .field("request_timeout", &self.request_timeout)
            .field("time_sync_every", &self.time_sync_every)
            .field("clock_stats", &self.clock_stats.is_some())
            .finish_non_exhaustive()
    }
}
