//! `qt venue-sim`: configuration of the venue simulator and its start.
//!
//! The TOML (`examples/venue-sim.toml` is the embedded default; `examples/venue-sim-all.toml`
//! serves every venue) names the listen address of each protocol (`<venue>_listen`, one per
//! venue of the registry, [`crate::venues`], listed by hand below), the CA file to write, symbols with their
//! background flow, and the API accounts. Validation reports every problem with its field
//! path, like `qt run`'s configuration.

use crate::config::Problem;
use qt_core::{InstrumentId, InstrumentKind, InstrumentRegistry, InstrumentSpec, Rate, Venue};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::market::{AccountConfig, MarketConfig, SymbolConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The configuration `qt venue-sim` uses when given no `--config`.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../examples/venue-sim.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVenueSim {
    #[serde(default = "default_seed")]
    seed: u64,
    ca_file: PathBuf,
    #[serde(default)]
    binance_listen: Option<String>,
    #[serde(default)]
    bybit_listen: Option<String>,
    #[serde(default)]
    binance_usdm_listen: Option<String>,
    #[serde(default)]
    kucoin_listen: Option<String>,
    #[serde(default)]
    firi_listen: Option<String>,
    #[serde(default)]
    okx_listen: Option<String>,
    #[serde(default)]
    kraken_listen: Option<String>,
    maker_fee: String,
    taker_fee: String,
    symbols: Vec<RawSymbol>,
    accounts: Vec<RawAccount>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSymbol {
    symbol: String,
    base: String,
    quote: String,
    kind: InstrumentKind,
    tick_size: String,
    lot_size: String,
    min_qty: Option<String>,
    min_notional: Option<String>,
    start_price: String,
    #[serde(default)]
    flow: FlowParams,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    api_key: String,
    secret: String,
    balances: BTreeMap<String, String>,
}

/// A validated venue-simulator plan.
#[derive(Debug, Clone)]
pub struct VenueSimPlan {
    /// Books, flow, accounts.
    pub market: MarketConfig,
    /// Each protocol served (by venue, registry order) and where it listens.
    pub listens: Vec<(Venue, SocketAddr)>,
    /// Where the CA certificate is written.
    pub ca_file: PathBuf,
}

impl VenueSimPlan {
    /// Where `venue`'s protocol listens, if it is served.
    pub fn listen(&self, venue: Venue) -> Option<SocketAddr> {
        self.listens.iter().find(|(v, _)| *v == venue).map(|(_, a)| *a)
    }

    /// Serves `venue`'s protocol at `addr` (replacing its address if it was served).
    pub fn set_listen(&mut self, venue: Venue, addr: SocketAddr) {
        match self.listens.iter_mut().find(|(v, _)| *v == venue) {
            Some(slot) => slot.1 = addr,
            None => {
                self.listens.push((venue, addr));
                let order = |v: &Venue| Venue::ALL.iter().position(|x| x == v);
                self.listens.sort_by_key(|(v, _)| order(v));
            }
        }
    }

    /// Serves every venue of the registry: those without an address on any free loopback port.
    pub fn serve_all(&mut self) {
        for e in &crate::venues::VENUES {
            if self.listen(e.venue).is_none() {
                self.set_listen(e.venue, SocketAddr::from(([127, 0, 0, 1], 0)));
            }
        }
    }
}

/// Parses and validates a venue-simulator configuration; every problem is returned.
pub fn load(text: &str, source_name: &str) -> Result<VenueSimPlan, crate::config::ConfigError> {
    let fail = |problems| crate::config::ConfigError { source_name: source_name.into(), problems };
    let raw: RawVenueSim = crate::config::parse_document(text, source_name)?;
    let mut problems = Vec::new();
    let mut add = |path: String, message: String| problems.push(Problem { path, message });
    let mut addr = |field: &str, text: &str| match text.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_loopback() => Some(a),
        Ok(a) => {
            add(field.into(), format!("{a} is not a loopback address; the simulator only listens on loopback"));
            None
        }
        Err(e) => {
            add(field.into(), format!("{text:?} is not an address like 127.0.0.1:9443 ({e})"));
            None
        }
    };
    let configured = [
        (Venue::Binance, &raw.binance_listen),
        (Venue::BinanceUsdm, &raw.binance_usdm_listen),
        (Venue::Bybit, &raw.bybit_listen),
        (Venue::Okx, &raw.okx_listen),
        (Venue::Kucoin, &raw.kucoin_listen),
        (Venue::Kraken, &raw.kraken_listen),
        (Venue::Firi, &raw.firi_listen),
    ];
    let listens: Vec<(Venue, SocketAddr)> = configured
        .into_iter()
        .filter_map(|(venue, text)| Some((venue, addr(&format!("{venue}_listen"), text.as_deref()?)?)))
        .collect();
    let mut rate = |field: &str, text: &str| match Rate::parse(text) {
        Ok(r) => r,
        Err(e) => {
            problems.push(Problem { path: field.into(), message: e.to_string() });
            Rate::ZERO
        }
    };
    let fees = FeeSchedule { maker: rate("maker_fee", &raw.maker_fee), taker: rate("taker_fee", &raw.taker_fee) };
    let mut registry = InstrumentRegistry::new();
    let mut symbols = Vec::new();
    for (i, s) in raw.symbols.iter().enumerate() {
        let path = format!("symbols[{i}]");
        let spec = InstrumentSpec {
            venue: Venue::Binance,
            symbol: s.symbol.clone(),
            base: s.base.clone(),
            quote: s.quote.clone(),
            kind: s.kind,
            tick_size: s.tick_size.clone(),
            lot_size: s.lot_size.clone(),
            min_qty: s.min_qty.clone(),
            min_notional: s.min_notional.clone(),
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        let id = match registry.add(&spec) {
            Ok(id) => id,
            Err(e) => {
                let msg = e.to_string();
                match msg.split_once(": ") {
                    Some((field, rest)) if !field.contains(' ') => {
                        problems.push(Problem { path: format!("{path}.{field}"), message: rest.into() })
                    }
                    _ => problems.push(Problem { path, message: msg }),
                }
                continue;
            }
        };
        let Some(inst) = registry.get(id).cloned() else { continue };
        let mut flow = s.flow.clone();
        match inst.parse_price(&s.start_price) {
            Ok(p) if inst.is_on_tick(p) => flow.start_mid = Some(p),
            Ok(_) => problems.push(Problem {
                path: format!("{path}.start_price"),
                message: format!("{:?} is not a positive multiple of tick_size {:?}", s.start_price, s.tick_size),
            }),
            Err(e) => problems.push(Problem { path: format!("{path}.start_price"), message: e.to_string() }),
        }
        if let Err(msg) = flow.validate() {
            problems.push(Problem { path: format!("{path}.flow"), message: msg });
        }
        debug_assert_eq!(inst.id(), InstrumentId(i as u32));
        symbols.push(SymbolConfig { instrument: inst, flow });
    }
    if symbols.is_empty() && raw.symbols.is_empty() {
        problems.push(Problem { path: "symbols".into(), message: "at least one symbol is required".into() });
    }
    let mut accounts = Vec::new();
    for (i, a) in raw.accounts.iter().enumerate() {
        let path = format!("accounts[{i}]");
        if a.api_key.is_empty() || a.secret.is_empty() {
            problems.push(Problem { path: path.clone(), message: "api_key and secret must not be empty".into() });
        }
        if raw.accounts[..i].iter().any(|b| b.api_key == a.api_key) {
            problems
                .push(Problem { path: format!("{path}.api_key"), message: format!("{:?} is used twice", a.api_key) });
        }
        for (asset, amount) in &a.balances {
            if let Err(e) = qt_core::Notional::parse(amount) {
                problems.push(Problem { path: format!("{path}.balances.{asset}"), message: e.to_string() });
            }
        }
        accounts.push(AccountConfig {
            api_key: a.api_key.clone(),
            secret: a.secret.clone(),
            balances: a.balances.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        });
    }
    if problems.is_empty() {
        Ok(VenueSimPlan {
            market: MarketConfig { symbols, fees, accounts, seed: raw.seed },
            listens,
            ca_file: raw.ca_file,
        })
    } else {
        Err(fail(problems))
    }
}

/// Starts the simulator for `plan` — each venue's protocol from the registry on its listen
/// address; binds every listener, then writes the CA file (its path made absolute), then
/// starts the flow — and returns the running server; it serves until shut down or dropped.
pub fn start(plan: &VenueSimPlan) -> anyhow::Result<qt_venue_sim::server::RunningServer> {
    use anyhow::Context;
    if plan.listens.is_empty() {
        anyhow::bail!("no protocol to serve: set a <venue>_listen address, or pass --all");
    }
    let market = qt_venue_sim::market::Market::new(plan.market.clone()).map_err(|e| anyhow::anyhow!("market: {e}"))?;
    let mut protocols = Vec::new();
    for (venue, addr) in &plan.listens {
        protocols.push(((crate::venues::require(*venue)?.sim_protocol)(), *addr));
    }
    let ca_file =
        std::path::absolute(&plan.ca_file).with_context(|| format!("the CA file's path {}", plan.ca_file.display()))?;
    let cfg =
        qt_venue_sim::server::ServerConfig { market, faults: qt_venue_sim::faults::Faults::new(), protocols, ca_file };
    Ok(qt_venue_sim::server::VenueSimServer::start(cfg)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let plan = load(EMBEDDED_DEFAULT, "embedded").unwrap();
        assert_eq!(plan.market.symbols.len(), 2);
        assert!(plan.listen(Venue::Binance).unwrap().ip().is_loopback());
        let served: Vec<Venue> = plan.listens.iter().map(|(v, _)| *v).collect();
        assert_eq!(served, [Venue::Binance, Venue::Bybit]);
    }

    #[test]
    fn the_all_venues_example_serves_every_venue_and_all_fills_in_the_rest() {
        let all = load(include_str!("../../examples/venue-sim-all.toml"), "venue-sim-all").unwrap();
        let served: Vec<Venue> = all.listens.iter().map(|(v, _)| *v).collect();
        let registry: Vec<Venue> = crate::venues::VENUES.iter().map(|e| e.venue).collect();
        assert_eq!(served, registry);
        let mut plan = load(EMBEDDED_DEFAULT, "embedded").unwrap();
        let binance = plan.listen(Venue::Binance);
        plan.serve_all();
        let served: Vec<Venue> = plan.listens.iter().map(|(v, _)| *v).collect();
        assert_eq!(served, registry);
        assert_eq!(plan.listen(Venue::Binance), binance, "a configured address is kept");
        assert_eq!(plan.listen(Venue::Okx), Some(SocketAddr::from(([127, 0, 0, 1], 0))));
    }

    #[test]
    fn public_data_listeners_are_optional() {
        assert!(load(EMBEDDED_DEFAULT, "embedded").unwrap().listens.len() == 2);
        let text = EMBEDDED_DEFAULT
            .replace("# binance_usdm_listen", "binance_usdm_listen")
            .replace("# firi_listen", "firi_listen");
        let names: Vec<&str> = load(&text, "t").unwrap().listens.iter().map(|(n, _)| n.name()).collect();
        assert_eq!(names, ["binance", "binance_usdm", "bybit", "firi"]);
        let err = load(&text.replace("# kucoin_listen = \"127.0.0.1:9446\"", "kucoin_listen = \"10.0.0.1:1\""), "t")
            .unwrap_err();
        assert!(err.problems.iter().any(|p| p.path == "kucoin_listen"), "{err}");
    }

    #[test]
    fn okx_and_kraken_listeners_are_optional() {
        assert!(load(EMBEDDED_DEFAULT, "embedded").unwrap().listens.len() == 2);
        let text = EMBEDDED_DEFAULT.replace("# okx_listen", "okx_listen").replace("# kraken_listen", "kraken_listen");
        let names: Vec<&str> = load(&text, "t").unwrap().listens.iter().map(|(n, _)| n.name()).collect();
        assert_eq!(names, ["binance", "bybit", "okx", "kraken"]);
        let err =
            load(&text.replace("okx_listen = \"127.0.0.1:9448\"", "okx_listen = \"10.0.0.1:1\""), "t").unwrap_err();
        assert!(err.problems.iter().any(|p| p.path == "okx_listen"), "{err}");
    }

    #[test]
    fn problems_name_their_fields() {
        let text = EMBEDDED_DEFAULT
            .replace("127.0.0.1:9443", "10.0.0.1:9443")
            .replace("start_price = \"65000.00\"", "start_price = \"65000.001\"")
            .replace(
                "USDT = \"1000000\", BTC = \"10\", ETH = \"100\" }\n\n[[accounts]]",
                "USDT = \"lots\" }\n\n[[accounts]]",
            );
        let err = load(&text, "t").unwrap_err();
        let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"binance_listen"), "{err}");
        assert!(paths.contains(&"symbols[0].start_price"), "{err}");
        assert!(paths.contains(&"accounts[0].balances.USDT"), "{err}");
    }
}
