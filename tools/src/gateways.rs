//! The live order gateways as `qt run` drives them: one venue-neutral [`GatewaySetup`] (from a
//! `[[venues]]` entry and the engine's ids) and, per venue, a [`Gateway`] in its registry entry
//! ([`crate::venues::VenueEntry::gateway`]): how to start the gateway thread and how to query
//! its accounts' balances. `qt run` has one code path for every venue; a new gateway is one
//! more constant here and its name in the registry.
//!
//! Start-up and reconciliation code on the main thread: allocates, blocks on the venues.

use qt_core::queue::{Consumer, Producer};
use qt_core::{ExecutionReport, OrderCommand};
use qt_gateway::binance::BinanceGatewayConfig;
use qt_gateway::binance::account::AccountBalances;
use qt_gateway::kit::error::GatewayError;
use qt_gateway::kit::stats::GatewayStats;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

/// What every gateway is built from: where the venue is, what it trades, whose keys (the
/// gateway kit's configuration; a venue whose gateway has its own converts it).
pub use qt_gateway::kit::config::GatewayConfig as GatewaySetup;

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

/// `qt_gateway::binance_usdm`: Binance spot's gateway in USD-M's dialect (REST orders with
/// `reduceOnly`, listen-key user stream); funding payments go to the core on the control channel.
pub const BINANCE_USDM: Gateway = Gateway {
    name: "binance_usdm",
    spawn: |s, orders, reports, stop| qt_gateway::binance_usdm::spawn(usdm_config(s), orders, reports, stop),
    balances: |s| qt_gateway::binance_usdm::account::query_balances(&usdm_config(s)),
    restore: None,
};

/// `qt_gateway::bybit`: v5 REST orders (spot and linear), private stream.
pub const BYBIT: Gateway = Gateway {
    name: "bybit",
    spawn: |s, orders, reports, stop| qt_gateway::bybit::spawn(s.clone(), orders, reports, stop),
    balances: |s| {
        let snaps = qt_gateway::bybit::account::query_account(s)?;
        Ok(snaps.into_iter().map(|a| a.balances).collect())
    },
    restore: None,
};

/// `qt_gateway::okx`: v5 REST orders (spot and SWAP), private stream; the passphrases ride in
/// the setup.
pub const OKX: Gateway = Gateway {
    name: "okx",
    spawn: |s, orders, reports, stop| qt_gateway::okx::spawn(s.clone(), orders, reports, stop),
    balances: |s| {
        let snaps = qt_gateway::okx::account::query_account(s)?;
        Ok(snaps.into_iter().map(|a| a.balances).collect())
    },
    restore: None,
};

/// USD-M's configuration: spot's, and the control channel for funding.
fn usdm_config(s: &GatewaySetup) -> qt_gateway::binance_usdm::UsdmGatewayConfig {
    qt_gateway::binance_usdm::UsdmGatewayConfig { binance: binance_config(s), funding: s.control.clone() }
}

/// Binance spot's own configuration (the same fields as the kit's).
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
        request_timeout: s.request_timeout,
        clock: s.clock.clone(),
        time_sync_every: s.time_sync_every,
        clock_stats: s.clock_stats.clone(),
        user_data: if s.legacy_private_stream {
            qt_gateway::binance::UserData::ListenKey
        } else {
            qt_gateway::binance::UserData::WsApi
        },
        ws_api_url: s.private_stream_url.clone(),
    }
}
