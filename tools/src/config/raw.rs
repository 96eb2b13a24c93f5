//! The TOML document `qt run` reads, as serde types: every section and field, with its default.
//!
//! Unknown fields are refused (`deny_unknown_fields`); decimals, durations and references stay
//! text here and are checked by [`super::validate`], which names the field of every problem.

use qt_core::idle::IdleStrategy;
use qt_core::{InstrumentKind, Venue};
use qt_risk::profile::{CapitalProfile, ProfileOverrides};
use qt_venue_sim::exchange::flow::FlowParams;
use serde::Deserialize;

/// The TOML document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[engine]`.
    #[serde(default)]
    pub engine: RawEngine,
    /// `[sim]`.
    #[serde(default)]
    pub sim: RawSim,
    /// `[[instruments]]`.
    #[serde(default)]
    pub instruments: Vec<RawInstrument>,
    /// `[[accounts]]`.
    #[serde(default)]
    pub accounts: Vec<RawAccount>,
    /// `[[strategies]]`.
    #[serde(default)]
    pub strategies: Vec<RawStrategy>,
    /// `[[venues]]`: connections to real venues (or the venue simulator).
    #[serde(default)]
    pub venues: Vec<RawVenue>,
    /// `[risk]`: gate-wide settings.
    #[serde(default)]
    pub risk: RawRisk,
    /// `[ess]`: the emergency stop and its control channel.
    #[serde(default)]
    pub ess: RawEss,
    /// `[global_risk]`: the global risk level's thresholds.
    #[serde(default)]
    pub global_risk: RawGlobalRisk,
    /// `[journal]`: where and how the run is journaled.
    #[serde(default)]
    pub journal: super::journal::RawJournal,
    /// `[log]`: how log lines are written.
    #[serde(default)]
    pub log: RawLog,
    /// `[stats]`: the stats file and the metrics exporter.
    #[serde(default)]
    pub stats: super::stats::RawStats,
    /// `[failover]`: venue health thresholds and the router's hysteresis.
    #[serde(default)]
    pub failover: super::routing::RawFailover,
}

/// `[log]`: `format = "text" | "json"` (`--log-format json` wins over text).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    /// Line format (default text).
    pub format: crate::logging::LogFormat,
}

/// `[risk]`: settings of the pre-trade gate shared by every account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRisk {
    /// Largest |limit − mid| / mid, e.g. "0.05".
    pub price_band: String,
    /// A mark (book) older than this is stale, e.g. "5s".
    pub max_mark_age: String,
    /// Stop distance assumed for orders without a stop price, fraction of the price.
    pub default_stop_distance: String,
    /// Every venue of an account's chain unhealthy this long trips the emergency stop.
    pub outage_after: String,
}

impl Default for RawRisk {
    fn default() -> Self {
        Self {
            price_band: "0.05".into(),
            max_mark_age: "5s".into(),
            default_stop_distance: "0.01".into(),
            outage_after: "30s".into(),
        }
    }
}

/// `[ess]`: the emergency stop.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEss {
    /// File holding the reset secret (at least 16 bytes; trailing newline ignored).
    pub reset_secret_file: Option<std::path::PathBuf>,
    /// Environment variable holding the reset secret.
    pub reset_secret_env: Option<String>,
    /// A reset token older (or further in the future) than this is refused, e.g. "60s".
    pub reset_window: String,
    /// Worst price a flatten order accepts, as a fraction beyond the touch, e.g. "0.005".
    pub flatten_slippage: String,
    /// Flatten orders are re-sent this often while a latched account still holds positions.
    pub flatten_retry: String,
    /// Drawdown from peak equity (all accounts) that trips the stop, e.g. "0.15".
    pub max_drawdown: String,
    /// Unix socket of the local control channel (`qt ess ...`); none: no control channel.
    pub control_socket: Option<std::path::PathBuf>,
}

impl Default for RawEss {
    fn default() -> Self {
        Self {
            reset_secret_file: None,
            reset_secret_env: None,
            reset_window: "60s".into(),
            flatten_slippage: "0.005".into(),
            flatten_retry: "1s".into(),
            max_drawdown: "0.15".into(),
            control_socket: None,
        }
    }
}

/// Thresholds of one global risk signal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    /// At or above: WARNING.
    pub warning: String,
    /// At or above: CRITICAL.
    pub critical: String,
    /// Hysteresis band.
    pub band: String,
}

/// `[global_risk]`; absent fields keep [`GlobalRiskConfig::default`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGlobalRisk {
    /// Drawdown from peak equity, fraction.
    pub drawdown: Option<RawThresholds>,
    /// Gross notional / equity.
    pub leverage: Option<RawThresholds>,
    /// Standard deviation of per-interval equity returns.
    pub volatility: Option<RawThresholds>,
    /// Largest correlation bucket's share of gross notional.
    pub concentration: Option<RawThresholds>,
    /// Minimum time at a level before it may fall, e.g. "5s".
    pub min_dwell: Option<String>,
    /// EWMA decay in (0, 1), e.g. "0.94".
    pub ewma_lambda: Option<String>,
    /// One return per interval, e.g. "1s".
    pub return_interval: Option<String>,
    /// Below this gross notional concentration reads zero.
    pub concentration_min_gross: Option<String>,
    /// Correlation bucket (0..=30) per instrument symbol.
    pub buckets: std::collections::BTreeMap<String, u8>,
}

/// `[[venues]]`: where a live venue is and how to trust it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVenue {
    /// Which venue (`binance`, `binance_usdm`, `bybit`, `okx`, `kucoin`, `kraken`, `firi`:
    /// [`crate::venues::VENUES`]); market data everywhere, orders where it has a gateway.
    pub venue: Venue,
    /// REST base URL, e.g. `https://api.binance.com` or the simulator's `https://127.0.0.1:9443`
    /// (required where the venue's feed or gateway uses REST).
    #[serde(default)]
    pub rest_url: String,
    /// WebSocket base URL, e.g. `wss://stream.binance.com:9443` (required where the venue's
    /// feed streams; KuCoin's comes from its bullet answer, Firi is polled).
    #[serde(default)]
    pub ws_url: String,
    /// Trust only this CA certificate (the venue simulator's `venue-sim-ca.pem`); default: the
    /// public web PKI roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// TLS server name when the URL host is an IP (`localhost` for the simulator).
    pub server_name: Option<String>,
    /// `recvWindow` for signed requests, milliseconds.
    #[serde(default = "default_recv_window")]
    pub recv_window_ms: u64,
    /// Binance spot: how user data arrives — `"ws_api"` (default: the WebSocket API
    /// subscription, falling back to the listen-key stream if the WebSocket API cannot be
    /// reached at start) or `"listen_key"` (only the deprecated listen-key stream).
    pub user_data: Option<RawUserData>,
    /// Binance spot: the WebSocket API base URL (default: production's
    /// `wss://ws-api.binance.com:443` with production's `ws_url`, else `ws_url`).
    pub ws_api_url: Option<String>,
}

/// `user_data` of a `[[venues]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawUserData {
    /// The WebSocket API subscription (listen key as the fallback).
    WsApi,
    /// Only the listen-key stream.
    ListenKey,
}

fn default_recv_window() -> u64 {
    5000
}

/// API credentials of one account at one venue: inline, or named environment variables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    /// API key.
    pub api_key: Option<String>,
    /// Secret.
    pub secret: Option<String>,
    /// Environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Environment variable holding the secret.
    pub secret_env: Option<String>,
    /// The key's passphrase (OKX keys have one).
    pub passphrase: Option<String>,
    /// Environment variable holding the passphrase.
    pub passphrase_env: Option<String>,
}

/// `[engine]`: the core thread.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEngine {
    /// CPU to pin the core thread to.
    pub cpu: Option<usize>,
    /// Idle strategy: `{ kind = "busy_spin" }`, `{ kind = "spin_yield", spins = N }`,
    /// `{ kind = "backoff", spins = N, yields = N, max_sleep_us = N }`.
    pub idle: IdleStrategy,
    /// Live runs: the gateway threads' idle strategy, in the same forms. Default: backoff (64
    /// spins, 64 yields, then sleeps up to 100 µs, which an order arriving mid-sleep waits
    /// out); `{ kind = "busy_spin" }` takes that wait off every order, at the price of a core
    /// per venue gateway — only where there are cores to spare.
    pub gateway_idle: Option<IdleStrategy>,
    /// Levels kept per book side.
    pub book_depth: usize,
    /// Working orders the order table holds.
    pub max_open_orders: usize,
    /// Slots of each queue between threads.
    pub queue_capacity: usize,
    /// A busy loop iteration slower than this is a stall (e.g. "100us").
    pub stall_threshold: String,
    /// Live runs: on a stop (signal, duration, control), cancel every working order and wait
    /// for the venues to confirm.
    pub cancel_on_stop: bool,
    /// How long a stopping live run waits for those cancels (e.g. "5s").
    pub stop_grace: String,
    /// Live runs: how often balances are reconciled with the venues during the run (e.g.
    /// "60s"; "0s": only at start and end).
    pub reconcile_every: String,
    /// What `qt strategy swap` does with the strategy's working orders unless told:
    /// "hand_over" (default), "cancel_replace", or "drop" (no hand-over: test only).
    pub swap_policy: String,
}

impl Default for RawEngine {
    fn default() -> Self {
        Self {
            cpu: None,
            idle: IdleStrategy::BusySpin,
            gateway_idle: None,
            book_depth: 256,
            max_open_orders: 4096,
            queue_capacity: 8192,
            stall_threshold: "100us".into(),
            cancel_on_stop: true,
            stop_grace: "5s".into(),
            reconcile_every: "60s".into(),
            swap_policy: "hand_over".into(),
        }
    }
}

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// Simulated time follows the wall clock.
    Realtime,
    /// As fast as the engine keeps up.
    Max,
}

/// `[sim]`: the built-in simulated venue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSim {
    /// Seed of every random process; the same seed gives the same fills.
    pub seed: u64,
    /// Simulated time to run, e.g. "30s".
    pub duration: String,
    /// `realtime` or `max`.
    pub pace: Pace,
    /// Maker fee rate, e.g. "0.0002" (negative = rebate).
    pub maker_fee: String,
    /// Taker fee rate.
    pub taker_fee: String,
    /// Simulated start time, Unix-epoch milliseconds.
    pub start_unix_ms: i64,
}

impl Default for RawSim {
    fn default() -> Self {
        Self {
            seed: 1,
            duration: "30s".into(),
            pace: Pace::Realtime,
            maker_fee: "0.0002".into(),
            taker_fee: "0.0005".into(),
            start_unix_ms: 1_767_225_600_000,
        }
    }
}

/// `[[instruments]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstrument {
    /// Venue: `sim` (the built-in simulated venue, the default) or a `[[venues]]` entry's.
    #[serde(default = "default_venue")]
    pub venue: Venue,
    /// Symbol.
    pub symbol: String,
    /// Base asset.
    pub base: String,
    /// Quote asset.
    pub quote: String,
    /// `spot`, `linear_perpetual` or `inverse_perpetual`.
    pub kind: InstrumentKind,
    /// Tick size, e.g. "0.01".
    pub tick_size: String,
    /// Lot size.
    pub lot_size: String,
    /// Minimum quantity.
    pub min_qty: Option<String>,
    /// Minimum notional.
    pub min_notional: Option<String>,
    /// Contract multiplier.
    pub multiplier: Option<String>,
    /// Simulated starting price, e.g. "65000.00".
    pub start_price: Option<String>,
    /// Simulated background flow (`[instruments.flow]`).
    #[serde(default)]
    pub flow: FlowParams,
    /// The canonical instrument this entry is a listing of (e.g. "BTC/USDT"); entries with
    /// the same name are siblings the router may send an order to.
    pub canonical: Option<String>,
    /// The same instrument listed at other venues, on this entry's grid: venue → symbol
    /// (`symbols = { bybit = "BTCUSDT" }`).
    #[serde(default)]
    pub symbols: std::collections::BTreeMap<Venue, String>,
}

fn default_venue() -> Venue {
    Venue::Sim
}

fn default_profile() -> CapitalProfile {
    CapitalProfile::Micro
}

/// `[[accounts]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    /// Unique name.
    pub name: String,
    /// Capital profile: micro, low, medium, high, aggressive (default micro, the safest).
    #[serde(default = "default_profile")]
    pub profile: CapitalProfile,
    /// Capital at start, settlement currency (e.g. "100000").
    pub starting_equity: String,
    /// Overrides of the profile's limits (`[accounts.overrides]`).
    #[serde(default)]
    pub overrides: ProfileOverrides,
    /// Venues the account may use, in order of preference; default: every venue of the run.
    pub venues: Option<Vec<Venue>>,
    /// Names of the strategies allowed to trade for it; default: every strategy configured for it.
    pub strategies: Option<Vec<String>>,
    /// Optional cap on one instrument's absolute position notional (at mid).
    pub max_position_notional: Option<String>,
    /// API credentials per venue name (`[accounts.keys.binance]`).
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, RawKeys>,
}

/// `[[strategies]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategy {
    /// Name, unique per account, used by the account's whitelist; default `<kind>-<instrument>`.
    pub name: Option<String>,
    /// Strategy kind: `imbalance`.
    pub kind: String,
    /// Account name.
    pub account: String,
    /// Instrument symbol.
    pub instrument: String,
    /// The instrument's venue, where the symbol is listed on several.
    pub venue: Option<Venue>,
    /// Read the imbalance from this venue's book of the same pair (base and quote) instead of
    /// the traded instrument's own book; orders still go to the instrument's venue.
    pub signal_venue: Option<Venue>,
    /// Order quantity.
    pub qty: String,
    /// Largest absolute position.
    pub max_position: String,
    /// Imbalance threshold in (0, 1).
    pub threshold: String,
    /// Levels per side in the imbalance.
    #[serde(default = "default_levels")]
    pub levels: usize,
    /// Minimum time between orders, e.g. "20ms".
    #[serde(default = "default_cooldown")]
    pub cooldown: String,
    /// Rest each order at the strategy's own side of the touch (GTC) and cancel it after this
    /// long unfilled, e.g. "2s"; absent or "0s": IOC orders across the spread.
    pub rest_for: Option<String>,
}

fn default_levels() -> usize {
    5
}

fn default_cooldown() -> String {
    "20ms".into()
}
