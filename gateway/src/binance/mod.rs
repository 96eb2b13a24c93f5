//! The Binance spot order gateway: one thread (`qt-gw-binance`) between the core's order ring
//! and report ring, speaking Binance's REST API for orders and its user data stream for fills.
//! It runs on the gateway kit ([`crate::kit`]), which owns everything venue-neutral — the loop,
//! the order state and reconciliation schedule, the private-stream threads, the HTTPS client,
//! the rate limiter and the server-time sync; this folder holds only what is Binance's.
//!
//! ```text
//!  core ──OrderCommand ring──► qt-gw-binance ──HTTPS keep-alive──► POST/DELETE/GET /api/v3/order
//!       ◄─ExecutionReport ring─┘      ▲                              DELETE /api/v3/openOrders
//!                                     │ bounded crossbeam channel    GET /api/v3/time
//!                                     │ (frames, connects, drops)
//!                      qt-gw-binance-us<N> (one per account) ◄─WSS─ <ws_api_url>/ws-api/v3
//!                        `time`, then userDataStream.subscribe.signature; events arrive as
//!                        {"subscriptionId":N,"event":{..}}                 (UserData::WsApi)
//!                      or, the fallback ◄─WSS─ <ws_url>/ws/<listenKey>     (UserData::ListenKey)
//!                        owns the listen key: POST at start and on reconnect, PUT every 30 min,
//!                        DELETE on exit
//! ```
//!
//! - User data: by default through the WebSocket API subscription Binance now documents
//!   (`ws_api_stream`); the listen-key stream (`user_stream`, deprecated by Binance for spot) is
//!   used when configured ([`UserData::ListenKey`]) or as the fallback when the WebSocket API
//!   cannot be reached or refuses the subscription at start for a reason other than the key
//!   (logged at warn). A refused key stops the start either way. While an account's stream is
//!   down, and until its live orders are queried after the reconnect, its new orders are refused
//!   before sending (`RejectReason::PrivateStreamDown`; `kit::order_state`).
//! - [`spawn`] validates the configuration (every problem at once), creates each account's
//!   listen key and opens its user data stream, and estimates the venue's clock, all *before* it
//!   returns, so an order sent after `spawn` returns cannot fill unseen nor carry a timestamp
//!   off the venue's clock; then it starts the threads.
//! - New orders: `POST /api/v3/order` (signed, `newOrderRespType=ACK`, client order id
//!   [`qt_core::ClientOrderId`]) → `Accepted` or `Rejected(reason)` from Binance's error code.
//!   An order whose fate is unknown (HTTP 5xx, a timeout, a lost answer) is *reconciled*: queried
//!   with `GET /api/v3/order?origClientOrderId=` until the venue says what it is; only "does
//!   not exist" (twice, 300 ms apart) makes it `Rejected(Other)`.
//! - Fills, cancels and expiries come from the user data stream's `executionReport`. Fills are
//!   de-duplicated by trade id and by cumulative quantity (`z`), so a fill is never reported
//!   twice, and a gap (a dropped stream, a malformed frame) is closed by querying the live orders
//!   of the account: what the venue filled meanwhile is reported trade by trade with its real
//!   commission from `GET /api/v3/myTrades` (`trades`); if the trade list cannot be had or
//!   does not add up, as one fill with its fee unknown (zero, logged, counted in
//!   [`GatewayStats::fills_without_fee`] for the run summary).
//! - Rate limits (`limits`: the kit's limiter with Binance's table): `X-MBX-USED-WEIGHT-1M`
//!   per IP and `X-MBX-ORDER-COUNT-10S`/`-1D` per account; requests are paced near a limit, an
//!   order past one is rejected locally with `RateLimited` (never queued), and a 429/418 stops
//!   sending for its `Retry-After`.
//! - Time (`server_time`: `GET /api/v3/time`, the kit's time sync): every signed timestamp is
//!   the venue's clock estimate; re-estimated every [`BinanceGatewayConfig::time_sync_every`]
//!   and at once after a -1021, after which that order (or cancel) is sent once more.
//!
//! - Account snapshots: [`account::query_balances`] (`GET /api/v3/account`, signed) is a cold
//!   helper for reconciliation, called off the core thread on its own connection. A key or
//!   secret the venue refuses (-1022, -2014, -2015, HTTP 401) is [`GatewayError::AuthRejected`],
//!   here and when [`spawn`] creates the listen keys.
//!
//! Files: [`gateway`] (start-up, requests, commands; its stream events in
//! `gateway/stream_events.rs`, its order queries and catch-up in `gateway/reconcile.rs`),
//! `trades` (`myTrades`: a missing fill's real commission), [`account`] (balances),
//! [`settle`] (a restart settling the orders an earlier run left open), `user_stream` (the
//! listen-key session the kit's stream thread drives), `ws_api_stream` (the WebSocket API session), `limits`, `server_time`, `signer`
//! (HMAC), [`errors`] (code mapping; [`GatewayError`] is the kit's), `dialect` (what differs
//! between the Binance APIs this code speaks: spot's `dialect::SPOT` here, USD-M futures'
//! in [`crate::binance_usdm`], which runs this same gateway).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub(crate) mod dialect;
pub mod errors;
pub mod gateway;
pub(crate) mod limits;
pub(crate) mod server_time;
pub mod settle;
pub(crate) mod signer;
pub(crate) mod trades;
pub(crate) mod user_stream;
pub(crate) mod ws_api_stream;

pub use crate::kit::stats::{GatewayStats, RejectCounts};
pub use errors::GatewayError;
pub use gateway::spawn;

use crossbeam_channel::Sender;
use qt_core::engine::ControlCommand;
use qt_core::stats::StatsHandle;
use qt_core::stats::blocks::GatewayClockStats;
use qt_core::{AccountId, Clock, Instrument, VenueId, WallClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the Binance gateway needs. [`Default`] is production Binance (`api.binance.com`,
/// `stream.binance.com:9443`, webpki roots, `recvWindow` 5000, 5 s request timeout, the wall
/// clock re-synced with the venue's every minute) with no instruments or accounts.
#[derive(Clone)]
pub struct BinanceGatewayConfig {
    /// REST base URL, e.g. `https://api.binance.com` or `https://127.0.0.1:PORT`.
    pub rest_url: String,
    /// WebSocket base URL, e.g. `wss://stream.binance.com:9443`.
    pub ws_url: String,
    /// Trust only this CA (PEM); `None` trusts the Mozilla roots of `webpki-roots`.
    pub ca_file: Option<PathBuf>,
    /// TLS server name to verify instead of the URL's host (e.g. `localhost` for the simulator).
    pub server_name: Option<String>,
    /// `recvWindow` of signed requests, milliseconds (1..=60000).
    pub recv_window_ms: u64,
    /// Our venue id in the core's table (goes into every report).
    pub venue: VenueId,
    /// The instruments this gateway trades: symbol ⇄ id and the exact price/qty text.
    pub instruments: Vec<Instrument>,
    /// `(account, api key, secret)` per account.
    pub accounts: Vec<(AccountId, String, String)>,
    /// Run id for [`qt_core::ClientOrderId`]; events of other runs' orders are ignored.
    pub run_id: u32,
    /// Bound on connecting and on each read/write of a request; a new order without an answer
    /// in this time is reconciled.
    pub request_timeout: Duration,
    /// Our clock: signed timestamps are this plus the venue's offset from it (the wall clock;
    /// a test gives a clock that is off).
    pub clock: Arc<dyn Clock>,
    /// Interval between estimates of the venue's clock (`GET /api/v3/time`); zero: only at
    /// start and after a timestamp reject (-1021).
    pub time_sync_every: Duration,
    /// Where the gateway thread publishes its clock estimate in the stats file (a private
    /// block when `None`).
    pub clock_stats: Option<StatsHandle<GatewayClockStats>>,
    /// How each account's user data arrives (spot; USD-M always uses the listen-key stream).
    pub user_data: UserData,
    /// WebSocket API base URL (`wss://ws-api.binance.com:443`; the path `/ws-api/v3` is
    /// added). `None`: production's when `ws_url` is production's stream, else `ws_url`'s
    /// listener (the simulator serves both on one port).
    pub ws_api_url: Option<String>,
    /// The engine's control channel: the gateway reports the venue's health on it when it
    /// changes (`ControlCommand::VenueHealth`; `kit::health`). `None`: judged and logged only.
    pub control: Option<Sender<ControlCommand>>,
    /// The gateway thread's idle strategy (as the kit's [`crate::kit::config::GatewayConfig::idle`]).
    pub idle: qt_core::idle::IdleStrategy,
}

/// Production's WebSocket API base URL.
pub const WS_API_URL: &str = "wss://ws-api.binance.com:443";
/// Production's stream base URL.
pub const WS_URL: &str = "wss://stream.binance.com:9443";

/// How the gateway receives an account's user data (fills, cancels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserData {
    /// The WebSocket API subscription (`userDataStream.subscribe.signature`), as Binance now
    /// documents it; if the WebSocket API cannot be reached or refuses the subscription for a
    /// reason other than the key at start, the listen-key stream instead (logged at warn).
    #[default]
    WsApi,
    /// Only the deprecated listen-key stream (`/api/v3/userDataStream`).
    ListenKey,
}

impl BinanceGatewayConfig {
    /// The WebSocket API base URL in effect (see [`Self::ws_api_url`]).
    pub fn effective_ws_api_url(&self) -> &str {
        match &self.ws_api_url {
            Some(u) => u,
            None if self.ws_url.trim_end_matches('/') == WS_URL => WS_API_URL,
            None => &self.ws_url,
        }
    }
}

impl Default for BinanceGatewayConfig {
    fn default() -> Self {
        Self {
            rest_url: "https://api.binance.com".into(),
            ws_url: WS_URL.into(),
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
            user_data: UserData::WsApi,
            ws_api_url: None,
            control: None,
            idle: crate::kit::thread::DEFAULT_IDLE,
        }
    }
}

impl std::fmt::Debug for BinanceGatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and secrets stay out of logs.
        let accounts: Vec<AccountId> = self.accounts.iter().map(|(a, _, _)| *a).collect();
        f.debug_struct("BinanceGatewayConfig")
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
            .field("clock", &self.clock)
            .field("time_sync_every", &self.time_sync_every)
            .field("clock_stats", &self.clock_stats.is_some())
            .field("user_data", &self.user_data)
            .field("ws_api_url", &self.effective_ws_api_url())
            .field("control", &self.control.is_some())
            .field("idle", &self.idle)
            .finish()
    }
}
