//! The live order gateways as `qt run` drives them: one venue-neutral [`GatewaySetup`] (from a
//! `[[venues]]` entry and the engine's ids) and, per venue, a [`Gateway`] in its registry entry
//! ([`crate::venues::VenueEntry::gateway`]): how to start the gateway thread and how to query
//! its accounts' balances. `qt run` has one code path for every venue; a new gateway is one
//! more constant here and its name in the registry.
//!
//! Start-up and reconciliation code on the main thread: allocates, blocks on the venues.

use qt_core::queue::{Consumer, Producer};
use qt_core::stats::StatsHandle;
use qt_core::stats::blocks::GatewayClockStats;
use qt_core::{AccountId, ExecutionReport, Instrument, OrderCommand, VenueId};
use qt_gateway::binance::BinanceGatewayConfig;
use qt_gateway::binance::account::AccountBalances;
use qt_gateway::bybit::BybitGatewayConfig;
use qt_gateway::kit::error::GatewayError;
use qt_gateway::kit::stats::GatewayStats;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

/// What every gateway is built from: where the venue is, what it trades, whose keys.
#[derive(Clone)]
pub struct GatewaySetup {
    /// REST base URL.
    pub rest_url: String,
    /// WebSocket base URL.
    pub ws_url: String,
    /// CA file to trust instead of the web PKI.
    pub ca_file: Option<PathBuf>,
    /// TLS server name override.
    pub server_name: Option<String>,
    /// Receive window of signed requests, ms.
    pub recv_window_ms: u64,
    /// The venue's id in the engine.
    pub venue: VenueId,
    /// The instruments traded there.
    pub instruments: Vec<Instrument>,
    /// `(account, api key, secret)` per account.
    pub accounts: Vec<(AccountId, String, String)>,
    /// Client-order-id run id.
    pub run_id: u32,
    /// Where the gateway publishes its estimate of the venue's clock.
    pub clock_stats: Option<StatsHandle<GatewayClockStats>>,
}

impl std::fmt::Debug for GatewaySetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and secrets stay out of logs.
        f.debug_struct("GatewaySetup")
            .field("rest_url", &self.rest_url)
            .field("ws_url", &self.ws_url)
            .field("venue", &self.venue)
            .field("instruments", &self.instruments.len())
            .field("accounts", &self.accounts.iter().map(|(a, _, _)| *a).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Starts a gateway thread on the engine's rings (its private streams open before it returns).
pub type SpawnFn = fn(
    &GatewaySetup,
    Consumer<OrderCommand>,
    Producer<ExecutionReport>,
    Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError>;

/// Every account's balances now (free and locked), on the calling thread.
pub type BalancesFn = fn(&GatewaySetup) -> Result<Vec<AccountBalances>, GatewayError>;

/// A venue's order gateway as `qt run` drives it.
#[derive(Clone, Copy)]
pub struct Gateway {
    /// Its name in logs.
    pub name: &'static str,
    /// Starts it.
    pub spawn: SpawnFn,
    /// Queries its accounts' balances (start and end of a live run, for reconciliation).
    pub balances: BalancesFn,
    /// The Binance-spot configuration a restart settles this venue's open orders with
    /// ([`crate::restore`] speaks Binance spot's order queries only); `None`: not settled.
    pub restore: Option<fn(&GatewaySetup) -> BinanceGatewayConfig>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Gateway {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// `qt_gateway::binance`: REST orders, user data stream.
pub const BINANCE: Gateway = Gateway {
    name: "binance",
    spawn: |s, orders, reports, stop| qt_gateway::binance::spawn(binance_config(s), orders, reports, stop),
    balances: |s| qt_gateway::binance::account::query_balances(&binance_config(s)),
    restore: Some(binance_config),
};

/// `qt_gateway::bybit`: v5 REST orders (spot and linear), private stream.
pub const BYBIT: Gateway = Gateway {
    name: "bybit",
    spawn: |s, orders, reports, stop| qt_gateway::bybit::spawn(bybit_config(s), orders, reports, stop),
    balances: |s| {
        let snaps = qt_gateway::bybit::account::query_account(&bybit_config(s))?;
        Ok(snaps.into_iter().map(|a| a.balances).collect())
    },
    restore: None,
};

fn binance_config(s: &GatewaySetup) -> BinanceGatewayConfig {
    BinanceGatewayConfig {
        rest_url: s.rest_url.clone(),
        ws_url: s.ws_url.clone(),
        ca_file: s.ca_file.clone(),
        server_name: s.server_name.clone(),
        recv_window_ms: s.recv_window_ms,
        venue: s.venue,
        instruments: s.instruments.clone(),
        accounts: s.accounts.clone(),
        run_id: s.run_id,
        clock_stats: s.clock_stats.clone(),
        ..BinanceGatewayConfig::default()
    }
}

fn bybit_config(s: &GatewaySetup) -> BybitGatewayConfig {
    BybitGatewayConfig {
        rest_url: s.rest_url.clone(),
        ws_url: s.ws_url.clone(),
        ca_file: s.ca_file.clone(),
        server_name: s.server_name.clone(),
        recv_window_ms: s.recv_window_ms,
        venue: s.venue,
        instruments: s.instruments.clone(),
        accounts: s.accounts.clone(),
        run_id: s.run_id,
        clock_stats: s.clock_stats.clone(),
        ..BybitGatewayConfig::default()
    }
}
