//! What `qt bench --wire` runs: the simulator's market (quiet books the probe designs, one
//! symbol and one trading account per [`WireShape::accounts`], a maker account for the probe)
//! and the engine's configuration against it (the `qt run` document a live Binance run would
//! use, with the bench's risk settings), as text for [`crate::config::load`].
//!
//! Why several accounts: Binance allows 50 new orders per 10 s per account and our gateway
//! enforces it (paced from 45, refused past 50: `gateway/src/binance/limits.rs`), so one account
//! answers at most [`PER_ACCOUNT_RATE`] triggers a second without the limiter's pacing entering
//! the figure; the probe goes round the symbols, each traded by its own account.

use qt_core::{AccountId, InstrumentRegistry, InstrumentSpec, Notional, Rate, Venue};
use qt_venue_sim::bench_probe::{ProbePlan, ProbeSymbol};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::market::{AccountConfig, MarketConfig, SymbolConfig};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Triggers a second one account answers (40 orders per 10 s window, below the gateway's
/// pacing at 45 of Binance's 50).
pub const PER_ACCOUNT_RATE: u64 = 4;
/// Most trading accounts (symbols) a wire run uses.
pub const MAX_ACCOUNTS: u64 = 10;
/// Triggers a second without `--rate`.
pub const DEFAULT_RATE: u64 = 20;
/// How long a trigger waits for its order.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// Symbols of the bench, in turn (one grid for all: the names are only names).
const SYMBOLS: [&str; 10] = ["BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "LTC", "DOT", "LINK"];
const QUOTE: &str = "USDT";
const TICK: &str = "0.01";
const LOT: &str = "0.00001";
const MID: &str = "65000.00";
/// The strategy's order and position cap: one lot of 0.001 (65 USDT).
const ORDER_QTY: &str = "0.00100";
/// Ladder prices a side and the strategy's `levels`.
const LEVELS: i64 = 5;
/// Quantity at each ladder price, and what a trigger adds at the touch: 45 against 5 over the
/// five levels is an imbalance of 0.8, past the threshold of 0.6.
const LADDER_QTY: &str = "1";
const TRIGGER_QTY: &str = "40";
const THRESHOLD: &str = "0.6";
/// Balances: the maker's are deep, each trader's hold far more than a run trades.
const MAKER_KEY: &str = "qt-bench-maker";
const TRADER_BASE: &str = "10";
const TRADER_QUOTE: &str = "10000000";
/// Account equity and the loss limits it implies: a taker fee-free round trip loses two ticks
/// of 0.001, so no run comes near them.
const STARTING_EQUITY: &str = "1000000";
/// Per-account order-rate limit of the bench's risk gate (above what the venue allows).
const RISK_ORDER_RATE: u32 = 50;
/// The strategy's cooldown: longer than a trigger's frames take to settle (the answer, the
/// restore, the fill report), shorter than the 250 ms between two triggers of one account
/// (`1 / PER_ACCOUNT_RATE`). Without it the book events still showing the trigger after the fill
/// report (a bookTicker comes before its diff) could send a second order: flat to short on a
/// sell trigger is within the position cap.
const COOLDOWN: &str = "100ms";
/// Book age past which the gate calls a mark stale (a quiet book is only touched by the probe).
const MAX_MARK_AGE: &str = "60s";

/// How big a wire run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireShape {
    /// Triggers a second.
    pub rate: u64,
    /// Trading accounts (and symbols).
    pub accounts: u64,
    /// The gateway thread busy-spins (`--gateway-busy-spin`) instead of the default backoff.
    pub gateway_busy_spin: bool,
}

impl WireShape {
    /// The shape for `rate` triggers a second (`None`: the default; `Some(u64::MAX)`: the most
    /// the accounts allow); a rate past that is refused with the reason.
    pub fn for_rate(rate: Option<u64>) -> Result<Self, String> {
        let most = PER_ACCOUNT_RATE * MAX_ACCOUNTS;
        let rate = match rate {
            None => DEFAULT_RATE,
            Some(u64::MAX) => most,
            Some(r) if r > most => {
                return Err(format!(
                    "--rate {r}/s with --wire: at most {most}/s (Binance allows 50 orders per 10 s per account and the \
                     gateway enforces it; the bench uses up to {MAX_ACCOUNTS} accounts at {PER_ACCOUNT_RATE}/s each)"
                ));
            }
            Some(r) => r.max(1),
        };
        Ok(Self { rate, accounts: rate.div_ceil(PER_ACCOUNT_RATE).max(1), gateway_busy_spin: false })
    }

    fn symbols(&self) -> impl Iterator<Item = (usize, &'static str)> {
        SYMBOLS.iter().copied().enumerate().take(self.accounts as usize)
    }

    /// The risk settings the bench's engine runs with, for the output.
    pub fn risk_settings(&self) -> String {
        format!(
            "{} accounts (profile medium), each: imbalance taker on its own symbol, order {ORDER_QTY} = position cap \
             (buys and sells alternate), cooldown {COOLDOWN}, max_order_rate {RISK_ORDER_RATE}/s, max_order_notional 100000, \
             starting_equity {STARTING_EQUITY}; risk.max_mark_age {MAX_MARK_AGE}; every other check at its default; \
             gateway idle {}",
            self.accounts,
            if self.gateway_busy_spin { "busy_spin" } else { "backoff (sleeps up to 100 µs)" }
        )
    }

    /// The simulator's market: the maker (account 0) and one trader per symbol (account k + 1),
    /// quiet books (the probe lays them), no fees.
    pub fn market(&self) -> Result<MarketConfig, String> {
        let mut registry = InstrumentRegistry::new();
        let mut symbols = Vec::new();
        let mut accounts = vec![AccountConfig {
            api_key: MAKER_KEY.into(),
            secret: format!("{MAKER_KEY}-secret"),
            balances: vec![(QUOTE.into(), "1000000000000".into())],
        }];
        for (k, base) in self.symbols() {
            let spec = InstrumentSpec::spot(Venue::Binance, &format!("{base}{QUOTE}"), base, QUOTE, TICK, LOT);
            let id = registry.add(&spec).map_err(|e| e.to_string())?;
            let instrument = registry.get(id).cloned().ok_or("instrument")?;
            let mid = instrument.parse_price(MID).map_err(|e| e.to_string())?;
            // Quiet: the next background event is years away, and no seed book.
            let flow =
                FlowParams { events_per_sec: 1e-9, seed_levels: 0, start_mid: Some(mid), ..FlowParams::default() };
            symbols.push(SymbolConfig { instrument, flow });
            accounts[0].balances.push((base.into(), "1000000".into()));
            accounts.push(AccountConfig {
                api_key: trader_key(k),
                secret: trader_secret(k),
                balances: vec![(QUOTE.into(), TRADER_QUOTE.into()), (base.into(), TRADER_BASE.into())],
            });
        }
        Ok(MarketConfig { symbols, fees: FeeSchedule { maker: Rate::ZERO, taker: Rate::ZERO }, accounts, seed: 1 })
    }

    /// The probe's plan over [`WireShape::market`].
    pub fn probe_plan(&self, market: &MarketConfig) -> Result<ProbePlan, String> {
        let first = market.symbols.first().ok_or("no symbol")?.instrument.clone();
        let qty = |text: &str| first.parse_qty(text).map_err(|e| e.to_string());
        let tick = first.parse_price(TICK).map_err(|e| e.to_string())?.units();
        let start_base = Notional::parse(TRADER_BASE).map_err(|e| e.to_string())?;
        Ok(ProbePlan {
            maker: AccountId(0),
            symbols: (0..market.symbols.len())
                .map(|k| ProbeSymbol { symbol: k, trader: AccountId(k as u16 + 1), trader_start_base: start_base })
                .collect(),
            mid: first.parse_price(MID).map_err(|e| e.to_string())?,
            tick,
            levels: LEVELS,
            ladder_qty: qty(LADDER_QTY)?,
            trigger_qty: qty(TRIGGER_QTY)?,
            interval: Duration::from_nanos(1_000_000_000 / self.rate.max(1)),
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// The engine's `qt run` document against the simulator at `addr` (CA in `ca_file`),
    /// its core thread on `cpu`.
    pub fn engine_config(&self, addr: SocketAddr, ca_file: &Path, cpu: Option<usize>) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "[engine]\nidle = {{ kind = \"busy_spin\" }}\ncancel_on_stop = false\nreconcile_every = \"0s\""
        );
        if let Some(cpu) = cpu {
            let _ = writeln!(s, "cpu = {cpu}");
        }
        if self.gateway_busy_spin {
            let _ = writeln!(s, "gateway_idle = {{ kind = \"busy_spin\" }}");
        }
        let _ = writeln!(s, "\n[journal]\nenabled = false\n\n[risk]\nmax_mark_age = \"{MAX_MARK_AGE}\"\n");
        let _ = writeln!(
            s,
            "[[venues]]\nvenue = \"binance\"\nrest_url = \"https://{addr}\"\nws_url = \"wss://{addr}\"\nca_file = {:?}\n\
             server_name = \"localhost\"\nrecv_window_ms = 5000\nuser_data = \"ws_api\"\n",
            ca_file.display().to_string()
        );
        for (k, base) in self.symbols() {
            let _ = writeln!(
                s,
                "[[instruments]]\nvenue = \"binance\"\nsymbol = \"{base}{QUOTE}\"\nbase = \"{base}\"\nquote = \"{QUOTE}\"\n\
                 kind = \"spot\"\ntick_size = \"{TICK}\"\nlot_size = \"{LOT}\"\n"
            );
            let _ = writeln!(
                s,
                "[[accounts]]\nname = \"bench{k}\"\nprofile = \"medium\"\nstarting_equity = \"{STARTING_EQUITY}\"\n\
                 venues = [\"binance\"]\nmax_position_notional = \"1000000\"\n[accounts.overrides]\n\
                 max_order_notional = \"100000\"\nmax_order_rate = {{ orders = {RISK_ORDER_RATE}, per_ms = 1000 }}\n\
                 [accounts.keys.binance]\napi_key = \"{}\"\nsecret = \"{}\"\n",
                trader_key(k),
                trader_secret(k)
            );
            let _ = writeln!(
                s,
                "[[strategies]]\nkind = \"imbalance\"\naccount = \"bench{k}\"\ninstrument = \"{base}{QUOTE}\"\n\
                 qty = \"{ORDER_QTY}\"\nmax_position = \"{ORDER_QTY}\"\nthreshold = \"{THRESHOLD}\"\nlevels = {LEVELS}\n\
                 cooldown = \"{COOLDOWN}\"\n"
            );
        }
        s
    }
}

fn trader_key(k: usize) -> String {
    format!("qt-bench-trader-{k}")
}

fn trader_secret(k: usize) -> String {
    format!("qt-bench-trader-{k}-secret")
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::Price;

    #[test]
    fn rates_set_the_accounts_and_past_the_venue_limit_are_refused() {
        assert_eq!(WireShape::for_rate(None), Ok(WireShape { rate: 20, accounts: 5, gateway_busy_spin: false }));
        assert_eq!(WireShape::for_rate(Some(1)), Ok(WireShape { rate: 1, accounts: 1, gateway_busy_spin: false }));
        assert_eq!(WireShape::for_rate(Some(9)), Ok(WireShape { rate: 9, accounts: 3, gateway_busy_spin: false }));
        assert_eq!(
            WireShape::for_rate(Some(u64::MAX)),
            Ok(WireShape { rate: 40, accounts: 10, gateway_busy_spin: false })
        );
        let err = WireShape::for_rate(Some(200)).unwrap_err();
        assert!(err.contains("at most 40/s") && err.contains("50 orders per 10 s"), "{err}");
    }

    #[test]
    fn the_engine_configuration_loads_and_trades_every_symbol_from_its_own_account() {
        let shape = WireShape::for_rate(Some(12)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not checked here").unwrap();
        let text = shape.engine_config("127.0.0.1:9443".parse().unwrap(), &ca, Some(1));
        let plan = crate::config::load(&text, "bench").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(plan.accounts.len(), 3);
        assert_eq!(plan.instruments.len(), 3);
        assert_eq!(plan.engine.cpu, Some(1));
        let market = shape.market().unwrap();
        assert_eq!(market.accounts.len(), 4, "the maker and three traders");
        let probe = shape.probe_plan(&market).unwrap();
        assert_eq!(probe.symbols.len(), 3);
        assert_eq!(probe.symbols[2].trader, AccountId(3));
        assert_eq!(probe.interval, Duration::from_nanos(83_333_333));
        assert_eq!((probe.tick, probe.mid), (1, Price::from_units(6_500_000)));
        assert_eq!(probe.ladder_qty.units() * 40, probe.trigger_qty.units());
        assert_eq!(plan.gateway_idle, qt_gateway::kit::DEFAULT_IDLE);
        // --gateway-busy-spin reaches the run's configuration.
        let spinning = WireShape { gateway_busy_spin: true, ..shape };
        let text = spinning.engine_config("127.0.0.1:9443".parse().unwrap(), &ca, Some(1));
        let plan = crate::config::load(&text, "bench").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(plan.gateway_idle, qt_core::idle::IdleStrategy::BusySpin);
        assert!(spinning.risk_settings().ends_with("gateway idle busy_spin"), "{}", spinning.risk_settings());
    }
}
