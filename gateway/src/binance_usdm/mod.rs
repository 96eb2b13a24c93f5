//! The Binance USD-M futures order gateway: one thread (`qt-gw-busdm`) between the core's order
//! ring and report ring, speaking the `/fapi` REST API for orders and the listen-key user data
//! stream for fills. It is Binance spot's gateway ([`crate::binance`], on the gateway kit) in
//! USD-M's dialect; this folder holds only what differs:
//!
//! - [`dialect`]: the paths (`/fapi/v1/order`, `allOpenOrders`, `userTrades`, `time`,
//!   `listenKey`), the limit table (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S` / `-1M`),
//!   the order types (`GTX` post-only, `reduceOnly` from the order's `reduce_only`), and USD-M's
//!   error codes mapped onto [`qt_core::RejectReason`] (-2022 reduce-only refused, -4164 min
//!   notional, -5022 post-only would take, ...).
//! - The stream's `ORDER_TRADE_UPDATE` is spot's `executionReport` with its fields in `o`: the
//!   shared code reports it (fills with their real commission, de-duplicated by trade id and
//!   cumulative quantity; a gap or malformed frame reconciled by order queries and
//!   `userTrades`; after a dropped stream those queries run before the account's next order is
//!   sent, so a missed fill reaches the core first).
//! - `events`: `ACCOUNT_UPDATE` — positions, and `FUNDING_FEE` booked as the core's
//!   [`ControlCommand::Funding`] (the position's realized PnL) on [`UsdmGatewayConfig::funding`].
//! - [`account`]: the position-mode check (hedge mode refuses the start) and the cold account
//!   query (balances and positions).
//!
//! [`spawn`] checks every account is in one-way mode and reads its open positions, then starts
//! the shared gateway (listen keys, streams, the venue's clock, all before it returns).

pub mod account;
pub mod dialect;
pub(crate) mod events;

use crate::binance::BinanceGatewayConfig;
use crate::binance::gateway::spawn_with;
use crate::kit::error::GatewayError;
use crate::kit::stats::GatewayStats;
use crossbeam_channel::Sender;
use qt_core::engine::ControlCommand;
use qt_core::queue::{Consumer, Producer};
use qt_core::{ExecutionReport, OrderCommand};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

pub use account::{query_account, query_balances};

/// Everything the USD-M gateway needs: spot's configuration (its [`Default`] here is production
/// USD-M, `fapi.binance.com` and `fstream.binance.com`) and where funding goes.
#[derive(Clone, Debug)]
pub struct UsdmGatewayConfig {
    /// URLs, TLS, accounts, instruments (linear perpetuals), run id, clock: as spot's.
    pub binance: BinanceGatewayConfig,
    /// The engine's control channel: each funding payment the stream shows is sent as
    /// [`ControlCommand::Funding`] (never blocking; a full channel is logged and counted).
    /// `None`: funding is logged and counted only.
    pub funding: Option<Sender<ControlCommand>>,
}

impl Default for UsdmGatewayConfig {
    fn default() -> Self {
        Self {
            binance: BinanceGatewayConfig {
                rest_url: "https://fapi.binance.com".into(),
                ws_url: "wss://fstream.binance.com".into(),
                ..BinanceGatewayConfig::default()
            },
            funding: None,
        }
    }
}

/// The restart settler of `cfg`'s accounts: spot's [`crate::binance::settle::Settler`] on
/// USD-M's paths (`/fapi/v1/order`, `/fapi/v1/userTrades`, `/fapi/v1/openOrders`).
pub fn settler(cfg: &UsdmGatewayConfig) -> Result<crate::binance::settle::Settler, GatewayError> {
    crate::binance::settle::Settler::with_dialect(&cfg.binance, &dialect::USDM)
}

/// Starts the USD-M gateway thread. Before it returns: validates the configuration, refuses an
/// account in hedge mode ([`GatewayError::Config`] naming it), reads each account's open
/// positions (for funding), creates the listen keys and opens the streams, and estimates the
/// venue's clock. The thread runs as spot's does and returns its [`GatewayStats`].
pub fn spawn(
    cfg: UsdmGatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    account::check_one_way(&cfg)?;
    let accounts = query_account(&cfg)?;
    let open = accounts
        .iter()
        .flat_map(|a| a.positions.iter().filter(|p| !p.amount.is_zero()).map(|p| (a.account, p.symbol.clone())));
    let wallets = accounts.iter().flat_map(|a| a.balances.iter().map(|b| (a.account, b.asset.clone(), b.total())));
    let sink = events::AccountEvents::new(&cfg.binance.instruments, open, wallets, cfg.funding.clone());
    spawn_with(cfg.binance, &dialect::USDM, Box::new(sink), orders, reports, stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::queue::spsc;

    #[test]
    fn an_unusable_configuration_names_usdm_and_every_problem_before_any_request() {
        let (_orders, orders_rx) = spsc(4);
        let (reports_tx, _reports) = spsc(4);
        let cfg = UsdmGatewayConfig::default();
        assert_eq!(cfg.binance.rest_url, "https://fapi.binance.com");
        let err = spawn(cfg, orders_rx, reports_tx, Arc::new(AtomicBool::new(false))).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("invalid Binance USD-M gateway configuration"), "{text}");
        assert!(text.contains("instruments: at least one") && text.contains("accounts: at least one"), "{text}");
    }
}
