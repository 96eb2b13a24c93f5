//! The live order gateways as `qt run` drives them: one venue-neutral [`GatewaySetup`] (from a
//! `[[venues]]` entry and the engine's ids) and, per venue, a [`Gateway`] in its registry entry
//! ([`crate::venues::VenueEntry::gateway`]): how to start the gateway thread and how to query
//! its accounts' balances. `qt run` has one code path for every venue; a new gateway is one
//! more constant here and its name in the registry.
//!
//! Start-up and reconciliation code on the main thread: allocates, blocks on the venues.

use qt_core::queue::{Consumer, Producer};
use qt_core::{AccountId, ExecutionReport, Instrument, OrderCommand};
use qt_gateway::binance::BinanceGatewayConfig;
use qt_gateway::binance::account::AccountBalances;
use qt_gateway::binance::settle::{SettledOrder, Settler};
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

/// One open derivatives position at a venue, as its account query reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenuePosition {
    /// Account.
    pub account: qt_core::AccountId,
    /// The venue's symbol.
    pub symbol: String,
    /// Signed size (positive long), in the instrument's base units or contracts.
    pub size: qt_core::Notional,
    /// Average entry price.
    pub entry_price: qt_core::Notional,
}

/// Every account's open derivatives positions now, on the calling thread.
pub type PositionsFn = fn(&GatewaySetup) -> Result<Vec<VenuePosition>, GatewayError>;

/// A restart's settling of one venue's orders the previous run left open ([`crate::restore`]),
/// on the calling thread before the gateways start: what the venue says of each, after
/// cancelling those still working. Venue-neutral: each venue's order query, cancel and trade
/// list behind it, in [`SettledOrder`]'s terms.
pub trait SettleOrders {
    /// Order `client_id` of `account` on `inst`: `Ok(None)` if the venue does not know it (it
    /// never arrived); otherwise its state after cancelling it if it was still working.
    fn settle(
        &mut self,
        account: AccountId,
        inst: &Instrument,
        client_id: &str,
    ) -> Result<Option<SettledOrder>, GatewayError>;
    /// The client order ids of `account`'s orders working on `inst`.
    fn open_client_ids(&mut self, account: AccountId, inst: &Instrument) -> Result<Vec<String>, GatewayError>;
}

/// A venue's settler type speaks [`SettleOrders`] through its own methods of the same names.
macro_rules! settle_orders_by {
    ($t:ty) => {
        impl SettleOrders for $t {
            fn settle(
                &mut self,
                account: AccountId,
                inst: &Instrument,
                client_id: &str,
            ) -> Result<Option<SettledOrder>, GatewayError> {
                <$t>::settle(self, account, inst, client_id)
            }

            fn open_client_ids(&mut self, account: AccountId, inst: &Instrument) -> Result<Vec<String>, GatewayError> {
                <$t>::open_client_ids(self, account, inst)
            }
        }
    };
}
settle_orders_by!(Settler);
settle_orders_by!(qt_gateway::bybit::settle::Settler);

/// A venue's restart settler for a gateway set-up (connects on first use).
pub type SettlerFn = fn(&GatewaySetup) -> Result<Box<dyn SettleOrders>, GatewayError>;

/// A venue's order gateway as `qt run` drives it.
#[derive(Clone, Copy)]
pub struct Gateway {
    /// Its name in logs.
    pub name: &'static str,
    /// Starts it.
    pub spawn: SpawnFn,
    /// Queries its accounts' balances (start and end of a live run, for reconciliation).
    pub balances: BalancesFn,
    /// Queries its accounts' open derivatives positions (start of a live run); `None`: a spot
    /// venue, whose holdings are balances.
    pub positions: Option<PositionsFn>,
    /// How a restart settles this venue's open orders ([`crate::restore`]); `None`: not
    /// settled (the restart says so, order by order).
    pub restore: Option<SettlerFn>,
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
    positions: None,
    restore: Some(|s| Ok(Box::new(Settler::new(&binance_config(s))?))),
};

/// `qt_gateway::binance_usdm`: Binance spot's gateway in USD-M's dialect (REST orders with
/// `reduceOnly`, listen-key user stream); funding payments go to the core on the control channel.
pub const BINANCE_USDM: Gateway = Gateway {
    name: "binance_usdm",
    spawn: |s, orders, reports, stop| qt_gateway::binance_usdm::spawn(usdm_config(s), orders, reports, stop),
    balances: |s| qt_gateway::binance_usdm::account::query_balances(&usdm_config(s)),
    positions: Some(|s| {
        let accounts = qt_gateway::binance_usdm::account::query_account(&usdm_config(s))?;
        Ok(accounts
            .into_iter()
            .flat_map(|a| {
                a.positions.into_iter().filter(|p| !p.amount.is_zero()).map(move |p| VenuePosition {
                    account: a.account,
                    symbol: p.symbol,
                    size: p.amount,
                    entry_price: p.entry_price,
                })
            })
            .collect())
    }),
    restore: Some(|s| Ok(Box::new(qt_gateway::binance_usdm::settler(&usdm_config(s))?))),
};

/// `qt_gateway::bybit`: v5 REST orders (spot and linear), private stream.
pub const BYBIT: Gateway = Gateway {
    name: "bybit",
    spawn: |s, orders, reports, stop| qt_gateway::bybit::spawn(s.clone(), orders, reports, stop),
    balances: |s| {
        let snaps = qt_gateway::bybit::account::query_account(s)?;
        Ok(snaps.into_iter().map(|a| a.balances).collect())
    },
    positions: Some(|s| Ok(snapshot_positions(qt_gateway::bybit::account::query_account(s)?))),
    restore: Some(|s| Ok(Box::new(qt_gateway::bybit::settle::Settler::new(s)?))),
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
    positions: Some(|s| Ok(snapshot_positions(qt_gateway::okx::account::query_account(s)?))),
    restore: None,
};

/// `qt_gateway::kucoin`: HF spot REST orders (by `clientOid`), the private
/// `/spotMarket/tradeOrdersV2` stream, fees from `hf/fills`; the passphrases ride in the setup.
/// Spot only: no positions; no restart settling yet.
pub const KUCOIN: Gateway = Gateway {
    name: "kucoin",
    spawn: |s, orders, reports, stop| qt_gateway::kucoin::spawn(s.clone(), orders, reports, stop),
    balances: |s| {
        let snaps = qt_gateway::kucoin::account::query_account(s)?;
        Ok(snaps.into_iter().map(|a| a.balances).collect())
    },
    positions: None,
    restore: None,
};

/// `qt_gateway::firi`: signed REST orders (limit only); no private stream, so orders and fills
/// are polled at the gateway's default rate. Spot only: balances, no positions.
pub const FIRI: Gateway = Gateway {
    name: "firi",
    spawn: |s, orders, reports, stop| qt_gateway::firi::spawn(firi_config(s), orders, reports, stop),
    balances: |s| qt_gateway::firi::account::query_balances(&firi_config(s)),
    positions: None,
    restore: None,
};

/// `qt_gateway::kraken`: private REST orders signed with each key's journalled nonce (in the
/// setup's `state_dir`, the run's journal directory), WS v2 `executions`, the dead-man's switch;
/// spot only (no positions); restarts are not settled order by order (the switch and the
/// stream's snapshot cover what the last run left).
pub const KRAKEN: Gateway = Gateway {
    name: "kraken",
    spawn: |s, orders, reports, stop| qt_gateway::kraken::spawn(s.clone(), orders, reports, stop),
    balances: |s| qt_gateway::kraken::account::query_balances(s),
    positions: None,
    restore: None,
};

/// Firi's configuration: the kit's, polled at the gateway's defaults.
fn firi_config(s: &GatewaySetup) -> qt_gateway::firi::FiriGatewayConfig {
    qt_gateway::firi::FiriGatewayConfig::new(s.clone())
}

/// The open positions of Bybit- and OKX-shaped account snapshots.
fn snapshot_positions(snaps: Vec<qt_gateway::bybit::account::AccountSnapshot>) -> Vec<VenuePosition> {
    snaps
        .into_iter()
        .flat_map(|a| {
            let account = a.balances.account;
            a.positions.into_iter().filter(|p| !p.size.is_zero()).map(move |p| VenuePosition {
                account,
                symbol: p.symbol,
                size: p.size,
                entry_price: p.avg_price,
            })
        })
        .collect()
}

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
        control: s.control.clone(),
        idle: s.idle,
    }
}
