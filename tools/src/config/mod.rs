//! `qt` configuration: the TOML schema, and its validation into a runnable [`Plan`].
//!
//! Parsing refuses unknown fields and wrong types with the field's path (via
//! `serde_path_to_error`). Validation then checks everything that types cannot — decimals on
//! the instrument's grid, references between sections, positive limits — and reports *all*
//! problems at once, each as `path: message` naming the bad value. Runs once at start-up.

use fixed::types::I32F32;
use qt_core::strategy::imbalance::ImbalanceParams;
use qt_core::{
    AccountId, EngineConfig, InstrumentId, InstrumentRegistry, InstrumentSpec, Nanos, Notional, Qty, Rate, Venue,
};
use qt_core::{StrategyId, VenueId};
use qt_risk::AccountSpec;
use qt_risk::GateSettings;
use qt_risk::global_level::{GlobalRiskConfig, Thresholds};
use qt_risk::profile::ProfileLimits;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use std::fmt;

/// The built-in configuration `qt run` uses when given no `--config`.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../examples/sim.toml");

mod files;
pub mod journal;
mod raw;
mod routing;
mod source;
pub mod stats;
mod venues;
pub(crate) use files::check_secret_file;
pub use journal::JournalPlan;
pub use raw::*;
pub use routing::RawFailover;
pub use source::{MAX_CONFIG_BYTES, parse_document, read_file};
pub use stats::{OnListenError, StatsPlan};

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the field, e.g. `strategies[0].qty`.
    pub path: String,
    /// What is wrong, naming the value.
    pub message: String,
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where the configuration came from.
    pub source_name: String,
    /// The problems, in document order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration {} ({} problem(s)):", self.source_name, self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", p.path, p.message)?;
        }
        Ok(())
    }
}

/// An account as the run uses it.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    /// Name.
    pub name: String,
    /// Profile, resolved limits, chain, whitelist and starting capital.
    pub spec: AccountSpec,
}

/// The emergency stop as the run uses it.
#[derive(Clone)]
pub struct EssPlan {
    /// Reset secret; `None`: none configured, resets are impossible (a random key is used).
    pub secret: Option<Vec<u8>>,
    /// Token acceptance window.
    pub reset_window: Nanos,
    /// Control socket path.
    pub control_socket: Option<std::path::PathBuf>,
}

impl fmt::Debug for EssPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is a credential: never print it.
        f.debug_struct("EssPlan")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("reset_window", &self.reset_window)
            .field("control_socket", &self.control_socket)
            .finish()
    }
}

/// A strategy instance as the run uses it.
#[derive(Debug, Clone)]
pub struct StrategyPlan {
    /// Name (unique per account).
    pub name: String,
    /// Account.
    pub account: AccountId,
    /// Instrument (where its orders go).
    pub instrument: InstrumentId,
    /// The instrument whose book it reads (`signal_venue`), if not its own.
    pub signal: Option<InstrumentId>,
    /// Parameters.
    pub params: ImbalanceParams,
    /// How long its orders rest before it cancels them (`Nanos::ZERO`: IOC, `rest_for`).
    pub rest_for: Nanos,
}

/// The simulated venue as the run uses it.
#[derive(Debug, Clone)]
pub struct SimPlan {
    /// Seed.
    pub seed: u64,
    /// Simulated time to run.
    pub duration: Nanos,
    /// Pace.
    pub pace: Pace,
    /// Fees.
    pub fees: FeeSchedule,
    /// Simulated start time.
    pub start: Nanos,
    /// Flow per instrument (same order as the registry).
    pub flows: Vec<FlowParams>,
    /// Shocks the simulated venue's flow follows (`qt stress` scenarios set them; empty from a
    /// configuration file).
    pub shocks: Vec<qt_venue_sim::exchange::shock::Shock>,
}

/// A live venue as the run uses it. `Debug` names the accounts with keys, never the keys,
/// secrets or passphrases.
#[derive(Clone)]
pub struct VenuePlan {
    /// Which venue.
    pub venue: Venue,
    /// REST base URL.
    pub rest_url: String,
    /// WebSocket base URL.
    pub ws_url: String,
    /// CA file to trust instead of the web PKI.
    pub ca_file: Option<std::path::PathBuf>,
    /// TLS server name override.
    pub server_name: Option<String>,
    /// `recvWindow`, ms.
    pub recv_window_ms: u64,
    /// Binance spot: user data only through the listen-key stream (`user_data = "listen_key"`).
    pub listen_key_only: bool,
    /// Binance spot: the WebSocket API base URL; Kraken: the private stream's URL; if given.
    pub ws_api_url: Option<String>,
    /// Credentials of each account trading there (empty where the venue has no gateway).
    pub keys: Vec<(AccountId, String, String)>,
    /// The passphrase of each account's key there, where the venue's keys have one (OKX).
    pub passphrases: Vec<(AccountId, String)>,
    /// Instruments listed there (its feeds keep their books; orders only where it has a gateway).
    pub instruments: Vec<InstrumentId>,
}

impl std::fmt::Debug for VenuePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keyed: Vec<AccountId> = self.keys.iter().map(|(a, _, _)| *a).collect();
        let with_passphrase: Vec<AccountId> = self.passphrases.iter().map(|(a, _)| *a).collect();
        f.debug_struct("VenuePlan")
            .field("venue", &self.venue)
            .field("rest_url", &self.rest_url)
            .field("ws_url", &self.ws_url)
            .field("ca_file", &self.ca_file)
            .field("server_name", &self.server_name)
            .field("recv_window_ms", &self.recv_window_ms)
            .field("listen_key_only", &self.listen_key_only)
            .field("ws_api_url", &self.ws_api_url)
            .field("accounts_with_keys", &keyed)
            .field("accounts_with_passphrases", &with_passphrase)
            .field("instruments", &self.instruments)
            .finish()
    }
}

/// A validated, runnable configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Instruments.
    pub instruments: InstrumentRegistry,
    /// Core loop settings.
    pub engine: EngineConfig,
    /// Slots per queue.
    pub queue_capacity: usize,
    /// Live runs: the gateway threads' idle strategy (`[engine] gateway_idle`).
    pub gateway_idle: qt_core::idle::IdleStrategy,
    /// Live runs: cancel working orders on a stop and wait this long for the venues (`None`: leave them).
    pub cancel_on_stop: Option<std::time::Duration>,
    /// Live runs: the interval of periodic reconciliation with the venues (`None`: only at
    /// start and end).
    pub reconcile_every: Option<std::time::Duration>,
    /// Simulated venue.
    pub sim: SimPlan,
    /// Accounts, indexed by [`AccountId`].
    pub accounts: Vec<AccountPlan>,
    /// Strategies, indexed by strategy id.
    pub strategies: Vec<StrategyPlan>,
    /// Live venues (empty: the run uses the built-in simulated venue).
    pub venues: Vec<VenuePlan>,
    /// Gate-wide risk settings.
    pub risk: GateSettings,
    /// The emergency stop.
    pub ess: EssPlan,
    /// The global risk level.
    pub global_risk: GlobalRiskConfig,
    /// The journal (`None`: `[journal] enabled = false` or `--no-journal`).
    pub journal: Option<JournalPlan>,
    /// The stats file and the exporter (`[stats]`).
    pub stats: StatsPlan,
    /// The configuration text the plan was made from, credentials redacted
    /// ([`crate::journal::redacted_config`]): journaled at start, with its hash, and safe to
    /// show.
    pub source_text: String,
    /// `[log] format`.
    pub log_format: crate::logging::LogFormat,
    /// Canonical instruments, each account's venue chain and the failover thresholds
    /// ([`qt_core::Engine::set_routing`]).
    pub routing: qt_core::routing::RoutingPlan,
    /// `[engine] swap_policy`: the hand-over `qt strategy swap` asks for unless told.
    pub swap_policy: qt_core::strategy::swap::SwapPolicy,
    /// Control commands carried out when simulated time reaches theirs (simulated runs; set by
    /// code, e.g. a stress scenario's strategy swap — not read from the file, so a replay of
    /// the run applies only the journaled ones).
    pub scheduled_controls: Vec<(Nanos, qt_core::engine::ControlCommand)>,
}

impl Plan {
    /// Whether the run trades on live venues (else on the built-in simulated venue).
    pub fn is_live(&self) -> bool {
        !self.venues.is_empty()
    }

    /// The run's strategies, fresh, indexed by strategy id (what `qt run` and `qt replay` add to
    /// their engines, in this order).
    pub fn build_strategies(&self) -> Vec<Box<dyn qt_core::Strategy>> {
        use qt_core::strategy::imbalance::ImbalanceTaker;
        self.strategies
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let taker = ImbalanceTaker::new(StrategyId(k as u16), s.account, s.instrument, s.params)
                    .with_resting(s.rest_for);
                Box::new(match s.signal {
                    Some(signal) => taker.with_signal(signal),
                    None => taker,
                }) as Box<dyn qt_core::Strategy>
            })
            .collect()
    }

    /// A live run's feeds in the engine's order: each `[[venues]]` entry's instruments split
    /// as its registry entry groups them ([`crate::venues::VenueEntry::feed_groups`]).
    pub fn live_feeds(&self) -> Vec<(Venue, Vec<InstrumentId>)> {
        let mut feeds = Vec::new();
        for v in &self.venues {
            let Some(entry) = crate::venues::entry(v.venue) else { continue };
            let kind =
                |id: &InstrumentId| self.instruments.get(*id).map_or(qt_core::InstrumentKind::Spot, |i| i.kind());
            feeds.extend(entry.feed_groups(&v.instruments, kind).into_iter().map(|g| (v.venue, g)));
        }
        feeds
    }

    /// The instruments each venue link serves, in venue id order: a live run's `[[venues]]`, or
    /// the one simulated venue serving every instrument.
    pub fn venue_instruments(&self) -> Vec<Vec<InstrumentId>> {
        if self.is_live() {
            self.venues.iter().map(|v| v.instruments.clone()).collect()
        } else {
            vec![self.instruments.iter().map(|i| i.id()).collect()]
        }
    }
}

/// Collects problems while validating.
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into() });
    }
}

fn parse_duration(text: &str) -> Result<Nanos, String> {
    humantime::parse_duration(text)
        .map(Nanos::from_duration)
        .map_err(|e| format!("{text:?} is not a duration like \"30s\" or \"250ms\" ({e})"))
}

/// Parses and validates a configuration document; `source_name` names it in errors.
pub fn load(text: &str, source_name: &str) -> Result<Plan, ConfigError> {
    let raw: RawConfig = source::parse_document(text, source_name)?;
    let mut plan = validate(raw).map_err(|problems| ConfigError { source_name: source_name.into(), problems })?;
    plan.source_text = crate::journal::redacted_config(text);
    Ok(plan)
}

/// Checks a parsed document and builds the plan, or returns every problem.
pub fn validate(raw: RawConfig) -> Result<Plan, Vec<Problem>> {
    let mut p = Problems(Vec::new());

    // [engine]
    let e = &raw.engine;
    if e.book_depth == 0 || e.book_depth > 100_000 {
        p.add("engine.book_depth", format!("{} must be in 1..=100000", e.book_depth));
    }
    if e.max_open_orders == 0 || e.max_open_orders > 1_000_000 {
        p.add("engine.max_open_orders", format!("{} must be in 1..=1000000", e.max_open_orders));
    }
    if e.queue_capacity < 16 || e.queue_capacity > 1 << 24 {
        p.add("engine.queue_capacity", format!("{} must be in 16..=16777216", e.queue_capacity));
    }
    let stall = parse_duration(&e.stall_threshold).unwrap_or_else(|m| {
        p.add("engine.stall_threshold", m);
        Nanos(100_000)
    });
    let stop_grace = parse_duration(&e.stop_grace).unwrap_or_else(|m| {
        p.add("engine.stop_grace", m);
        Nanos::ZERO
    });
    if stop_grace > Nanos(300 * Nanos::SECOND.0) {
        p.add("engine.stop_grace", format!("{:?} is longer than the 300 s a stop may wait", e.stop_grace));
    }
    let reconcile_every = parse_duration(&e.reconcile_every).unwrap_or_else(|m| {
        p.add("engine.reconcile_every", m);
        Nanos::ZERO
    });
    if reconcile_every < Nanos::ZERO || (reconcile_every > Nanos::ZERO && reconcile_every < Nanos::SECOND) {
        p.add("engine.reconcile_every", format!("{:?} must be 0s (off) or at least 1s", e.reconcile_every));
    }
    let swap_policy = qt_core::strategy::swap::SwapPolicy::from_name(&e.swap_policy).unwrap_or_else(|| {
        p.add(
            "engine.swap_policy",
            format!("{:?} is not a swap policy (hand_over, cancel_replace, or drop: test only)", e.swap_policy),
        );
        Default::default()
    });
    if let Some(cpu) = e.cpu
        && cpu >= 4096
    {
        p.add("engine.cpu", format!("{cpu} is not a CPU number"));
    }

    // [sim]
    let s = &raw.sim;
    let duration = parse_duration(&s.duration).unwrap_or_else(|m| {
        p.add("sim.duration", m);
        Nanos::ZERO
    });
    let fee = |p: &mut Problems, field: &str, text: &str| {
        Rate::parse(text).unwrap_or_else(|err| {
            p.add(format!("sim.{field}"), err.to_string());
            Rate::ZERO
        })
    };
    let fees =
        FeeSchedule { maker: fee(&mut p, "maker_fee", &s.maker_fee), taker: fee(&mut p, "taker_fee", &s.taker_fee) };
    for (field, rate) in [("maker_fee", fees.maker), ("taker_fee", fees.taker)] {
        if rate.units().abs() > Rate::ONE.units() / 10 {
            p.add(format!("sim.{field}"), format!("{rate} is outside [-0.1, 0.1]"));
        }
    }

    // [[instruments]]
    let mut instruments = InstrumentRegistry::new();
    let mut flows = Vec::new();
    let mut listings: Vec<routing::Listing> = Vec::new();
    if raw.instruments.is_empty() {
        p.add("instruments", "at least one instrument is required");
    }
    for (i, ri) in raw.instruments.iter().enumerate() {
        let path = format!("instruments[{i}]");
        if ri.venue != Venue::Sim && !raw.venues.iter().any(|v| v.venue == ri.venue) {
            p.add(format!("{path}.venue"), format!("{} has no [[venues]] entry saying where it is", ri.venue));
        }
        let extra = routing::extra_listings(&mut p, &path, ri.venue, &ri.symbols, &raw);
        let canonical = match (&ri.canonical, extra.is_empty()) {
            (Some(name), _) if name.trim().is_empty() => {
                p.add(format!("{path}.canonical"), "must not be empty");
                None
            }
            (Some(name), _) => Some(name.clone()),
            (None, false) => Some(routing::default_canonical(&ri.base, &ri.quote, ri.kind)),
            (None, true) => None,
        };
        let spec = InstrumentSpec {
            venue: ri.venue,
            symbol: ri.symbol.clone(),
            base: ri.base.clone(),
            quote: ri.quote.clone(),
            kind: ri.kind,
            tick_size: ri.tick_size.clone(),
            lot_size: ri.lot_size.clone(),
            min_qty: ri.min_qty.clone(),
            min_notional: ri.min_notional.clone(),
            multiplier: ri.multiplier.clone(),
            price_scale: None,
            qty_scale: None,
        };
        let id = match instruments.add(&spec) {
            Ok(id) => id,
            Err(err) => {
                let msg = err.to_string();
                match msg.split_once(": ") {
                    Some((field, rest)) if !field.contains(' ') => p.add(format!("{path}.{field}"), rest),
                    _ => p.add(path.clone(), msg),
                }
                continue;
            }
        };
        listings.push(routing::Listing { entry: i, id, canonical: canonical.clone() });
        for (venue, symbol) in &extra {
            let sibling = InstrumentSpec { venue: *venue, symbol: (*symbol).to_string(), ..spec.clone() };
            match instruments.add(&sibling) {
                Ok(sid) => listings.push(routing::Listing { entry: i, id: sid, canonical: canonical.clone() }),
                Err(err) => p.add(format!("{path}.symbols.{venue}"), err.to_string()),
            }
        }
        let Some(inst) = instruments.get(id) else { continue };
        let mut flow = ri.flow.clone();
        if flow.start_mid.is_some() {
            p.add(
                format!("{path}.flow.start_mid"),
                "set the starting price as instruments.start_price = \"65000.00\" instead",
            );
        }
        flow.start_time_ns = s.start_unix_ms.saturating_mul(1_000_000);
        if let Some(text) = &ri.start_price {
            match inst.parse_price(text) {
                Ok(price) if inst.is_on_tick(price) => flow.start_mid = Some(price),
                Ok(_) => p.add(
                    format!("{path}.start_price"),
                    format!("{text:?} is not a positive multiple of tick_size {:?}", ri.tick_size),
                ),
                Err(err) => p.add(format!("{path}.start_price"), err.to_string()),
            }
        }
        if let Err(msg) = flow.validate() {
            p.add(
                format!("{path}.flow.{}", msg.split(':').next().unwrap_or("")),
                msg.split_once(": ").map_or(msg.clone(), |x| x.1.to_string()),
            );
        }
        for _ in 0..=extra.len() {
            flows.push(flow.clone());
        }
    }
    let siblings = routing::siblings(&mut p, &instruments, &listings);
    let (router_settings, health_settings) = routing::settings(&mut p, &raw);

    // [[accounts]]
    // The run's venues, in venue-id order: the simulated venue alone, or each [[venues]] entry.
    let run_venues: Vec<Venue> =
        if raw.venues.is_empty() { vec![Venue::Sim] } else { raw.venues.iter().map(|v| v.venue).collect() };
    // An account's default chain: every venue of the run it can trade on (with its keys).
    let trading_venues: Vec<Venue> = run_venues.iter().copied().filter(|v| venues::can_trade(*v)).collect();
    let mut accounts: Vec<AccountPlan> = Vec::new();
    if raw.accounts.is_empty() {
        p.add("accounts", "at least one account is required");
    }
    if raw.accounts.len() > usize::from(u16::MAX) {
        p.add("accounts", "too many accounts");
    }
    for (i, ra) in raw.accounts.iter().enumerate() {
        let path = format!("accounts[{i}]");
        if ra.name.trim().is_empty() {
            p.add(format!("{path}.name"), "must not be empty");
        }
        if accounts.iter().any(|a| a.name == ra.name) {
            p.add(format!("{path}.name"), format!("{:?} is used by another account", ra.name));
        }
        let starting_equity = positive_money(&mut p, &format!("{path}.starting_equity"), &ra.starting_equity);
        let max_position_notional = ra
            .max_position_notional
            .as_deref()
            .map(|t| positive_money(&mut p, &format!("{path}.max_position_notional"), t));
        let limits = match ProfileLimits::resolve(ra.profile, &ra.overrides) {
            Ok(l) => l,
            Err(problems) => {
                for problem in problems {
                    let problem = problem.under(&format!("{path}.overrides"));
                    p.add(problem.field, problem.message);
                }
                ProfileLimits::defaults(ra.profile)
            }
        };
        if limits.max_order_rate.orders > 100_000 {
            p.add(
                format!("{path}.overrides.max_order_rate.orders"),
                format!("{} must be at most 100000", limits.max_order_rate.orders),
            );
        }
        // Default: the trading venues where this account can sign (the simulated venue needs
        // no keys).
        let chain = ra.venues.clone().unwrap_or_else(|| {
            trading_venues.iter().copied().filter(|v| *v == Venue::Sim || ra.keys.contains_key(v.name())).collect()
        });
        if ra.venues.as_ref().is_some_and(Vec::is_empty) {
            p.add(format!("{path}.venues"), "must list at least one venue");
        }
        let mut venues = Vec::new();
        for (k, v) in chain.iter().enumerate() {
            if chain[..k].contains(v) {
                p.add(format!("{path}.venues[{k}]"), format!("{v} is listed twice"));
            }
            match run_venues.iter().position(|x| x == v) {
                Some(_) if !venues::can_trade(*v) => p.add(format!("{path}.venues[{k}]"), venues::no_gateway(*v)),
                Some(id) => venues.push(VenueId(id as u16)),
                None => p.add(format!("{path}.venues[{k}]"), format!("{v} is not a venue of this run")),
            }
        }
        accounts.push(AccountPlan {
            name: ra.name.clone(),
            spec: AccountSpec {
                name: ra.name.clone(),
                profile: ra.profile,
                limits,
                starting_equity,
                venues,
                strategies: Vec::new(),
                max_position_notional,
            },
        });
    }

    // [[strategies]]
    let mut strategies = Vec::new();
    for (i, rs) in raw.strategies.iter().enumerate() {
        let path = format!("strategies[{i}]");
        if rs.kind != "imbalance" {
            p.add(format!("{path}.kind"), format!("{:?} is not a known strategy (known: \"imbalance\")", rs.kind));
            continue;
        }
        let account = accounts.iter().position(|a| a.name == rs.account);
        if account.is_none() {
            p.add(format!("{path}.account"), format!("{:?} is not a configured account", rs.account));
        }
        let Some(inst) = venues::strategy_instrument(&mut p, &path, rs, &instruments, &siblings) else { continue };
        let signal = venues::signal_instrument(&mut p, &path, rs, inst, &instruments);
        if let Some(a) = account
            && strategies.iter().any(|s: &StrategyPlan| s.account == AccountId(a as u16) && s.instrument == inst.id())
        {
            p.add(path.clone(), format!("account {:?} already runs a strategy on {:?}", rs.account, rs.instrument));
        }
        let mut qty = |field: &str, text: &str| match inst.parse_qty(text) {
            Ok(q) if inst.is_on_lot(q) => q,
            Ok(_) => {
                p.add(format!("{path}.{field}"), format!("{text:?} is not a positive multiple of the lot size"));
                Qty::ZERO
            }
            Err(err) => {
                p.add(format!("{path}.{field}"), err.to_string());
                Qty::ZERO
            }
        };
        let order_qty = qty("qty", &rs.qty);
        let max_position = qty("max_position", &rs.max_position);
        if order_qty.is_positive() && order_qty < inst.min_qty() {
            p.add(format!("{path}.qty"), format!("{:?} is below the instrument's minimum quantity", rs.qty));
        }
        if max_position.is_positive() && max_position < order_qty {
            p.add(format!("{path}.max_position"), format!("{:?} is smaller than qty {:?}", rs.max_position, rs.qty));
        }
        let threshold = match I32F32::from_str(&rs.threshold) {
            Ok(t) if t > I32F32::ZERO && t < I32F32::ONE => t,
            _ => {
                p.add(
                    format!("{path}.threshold"),
                    format!("{:?} must be a number strictly between 0 and 1", rs.threshold),
                );
                I32F32::ONE
            }
        };
        if rs.levels == 0 || rs.levels > 1000 {
            p.add(format!("{path}.levels"), format!("{} must be in 1..=1000", rs.levels));
        }
        let cooldown = parse_duration(&rs.cooldown).unwrap_or_else(|m| {
            p.add(format!("{path}.cooldown"), m);
            Nanos::ZERO
        });
        let rest_for = match rs.rest_for.as_deref().map(parse_duration) {
            None => Nanos::ZERO,
            Some(Ok(d)) => d,
            Some(Err(m)) => {
                p.add(format!("{path}.rest_for"), m);
                Nanos::ZERO
            }
        };
        let name = rs.name.clone().unwrap_or_else(|| format!("{}-{}", rs.kind, rs.instrument));
        if let Some(a) = account
            && strategies.iter().any(|s: &StrategyPlan| s.account == AccountId(a as u16) && s.name == name)
        {
            p.add(format!("{path}.name"), format!("{name:?} is used by another strategy of account {:?}", rs.account));
        }
        if let Some(a) = account {
            strategies.push(StrategyPlan {
                name,
                account: AccountId(a as u16),
                instrument: inst.id(),
                signal,
                params: ImbalanceParams { qty: order_qty, max_position, threshold, levels: rs.levels, cooldown },
                rest_for,
            });
        }
    }

    // Whitelists: names of this account's strategies; absent, every strategy configured for it.
    for (i, ra) in raw.accounts.iter().enumerate() {
        let Some(account) = accounts.get_mut(i) else { continue };
        let own = |k: &usize| strategies[*k].account.index() == i;
        match &ra.strategies {
            None => {
                account.spec.strategies = (0..strategies.len()).filter(own).map(|k| StrategyId(k as u16)).collect();
            }
            Some(names) => {
                for (j, name) in names.iter().enumerate() {
                    match (0..strategies.len()).filter(own).find(|k| strategies[*k].name == *name) {
                        Some(k) => account.spec.strategies.push(StrategyId(k as u16)),
                        None => p.add(
                            format!("accounts[{i}].strategies[{j}]"),
                            format!("{name:?} is not a strategy of account {:?}", ra.name),
                        ),
                    }
                }
            }
        }
    }

    // Equity sums the account's notionals: every instrument it trades must settle in one currency.
    for (i, ra) in raw.accounts.iter().enumerate() {
        let mut quotes: Vec<&str> = strategies
            .iter()
            .filter(|s| s.account.index() == i)
            .filter_map(|s| instruments.get(s.instrument).map(|x| x.quote()))
            .collect();
        quotes.sort_unstable();
        quotes.dedup();
        if quotes.len() > 1 {
            p.add(
                format!("accounts[{i}]"),
                format!(
                    "account {:?} trades instruments settled in {}; its equity needs one settlement currency",
                    ra.name,
                    quotes.join(" and ")
                ),
            );
        }
    }

    let (risk, ess, global_risk) = risk_sections(&mut p, &raw, &instruments);
    let journal = journal::validate(&mut p, &raw.journal);
    let stats = stats::validate(&mut p, &raw.stats);

    // [[venues]]
    let chains: Vec<Vec<VenueId>> = accounts.iter().map(|a| a.spec.venues.clone()).collect();
    let routes = venues::Routes { siblings: &siblings, chains: &chains };
    let venues = venues::validate(&mut p, &raw, &instruments, &strategies, &routes);
    if !venues.is_empty() && instruments.iter().any(|x| x.venue() == Venue::Sim) {
        p.add("instruments", "a run trades either on the built-in simulated venue or on live venues, not both");
    }

    if !p.0.is_empty() {
        return Err(p.0);
    }
    let engine = EngineConfig {
        cpu: e.cpu,
        idle: e.idle,
        book_depth: e.book_depth,
        max_open_orders: e.max_open_orders,
        accounts: accounts.len(),
        stall_threshold: stall,
        ..EngineConfig::default()
    };
    Ok(Plan {
        instruments,
        engine,
        queue_capacity: e.queue_capacity,
        gateway_idle: e.gateway_idle.unwrap_or(qt_gateway::kit::DEFAULT_IDLE),
        cancel_on_stop: e.cancel_on_stop.then(|| std::time::Duration::from_nanos(stop_grace.0.max(0) as u64)),
        reconcile_every: (reconcile_every >= Nanos::SECOND)
            .then(|| std::time::Duration::from_nanos(reconcile_every.0 as u64)),
        sim: SimPlan {
            seed: s.seed,
            duration,
            pace: s.pace,
            fees,
            start: Nanos(s.start_unix_ms.saturating_mul(1_000_000)),
            flows,
            shocks: Vec::new(),
        },
        strategies,
        venues,
        risk,
        ess,
        global_risk,
        journal,
        stats,
        source_text: String::new(),
        log_format: raw.log.format,
        routing: qt_core::routing::RoutingPlan { chains, siblings, router: router_settings, health: health_settings },
        accounts,
        swap_policy,
        scheduled_controls: Vec::new(),
    })
}

/// A decimal amount that must be greater than zero; zero (with the problem recorded) if not.
fn positive_money(p: &mut Problems, path: &str, text: &str) -> Notional {
    match Notional::parse(text) {
        Ok(n) if n > Notional::ZERO => n,
        Ok(_) => {
            p.add(path, format!("{text:?} must be greater than zero"));
            Notional::ZERO
        }
        Err(err) => {
            p.add(path, err.to_string());
            Notional::ZERO
        }
    }
}

/// A fraction in (0, `max`); `default` (with the problem recorded) if not.
fn fraction(p: &mut Problems, path: &str, text: &str, max: Rate, default: Rate) -> Rate {
    match Rate::parse(text) {
        Ok(r) if r > Rate::ZERO && r < max => r,
        Ok(r) => {
            p.add(path, format!("{r} must be greater than 0 and below {max}"));
            default
        }
        Err(err) => {
            p.add(path, err.to_string());
            default
        }
    }
}

fn duration_field(p: &mut Problems, path: &str, text: &str, default: Nanos) -> Nanos {
    match parse_duration(text) {
        Ok(d) if d > Nanos::ZERO => d,
        Ok(_) => {
            p.add(path, format!("{text:?} must be longer than zero"));
            default
        }
        Err(m) => {
            p.add(path, m);
            default
        }
    }
}

/// `[risk]`, `[ess]` and `[global_risk]`.
fn risk_sections(
    p: &mut Problems,
    raw: &RawConfig,
    instruments: &InstrumentRegistry,
) -> (GateSettings, EssPlan, GlobalRiskConfig) {
    let d = GateSettings::default();
    let r = &raw.risk;
    let e = &raw.ess;
    let risk = GateSettings {
        price_band: fraction(p, "risk.price_band", &r.price_band, Rate::ONE, d.price_band),
        max_mark_age: duration_field(p, "risk.max_mark_age", &r.max_mark_age, d.max_mark_age),
        default_stop_distance: fraction(
            p,
            "risk.default_stop_distance",
            &r.default_stop_distance,
            Rate::ONE,
            d.default_stop_distance,
        ),
        outage_after: duration_field(p, "risk.outage_after", &r.outage_after, d.outage_after),
        flatten_slippage: fraction(p, "ess.flatten_slippage", &e.flatten_slippage, Rate::ONE, d.flatten_slippage),
        flatten_retry: duration_field(p, "ess.flatten_retry", &e.flatten_retry, d.flatten_retry),
        max_drawdown: fraction(p, "ess.max_drawdown", &e.max_drawdown, Rate::ONE, d.max_drawdown),
    };

    let secret = match (&e.reset_secret_file, &e.reset_secret_env) {
        (Some(_), Some(_)) => {
            p.add("ess.reset_secret_file", "give at most one of reset_secret_file and reset_secret_env");
            None
        }
        (Some(path), None) => match files::read_secret_file(path) {
            Ok(bytes) => Some(trim_secret(bytes)),
            Err(message) => {
                p.add("ess.reset_secret_file", message);
                None
            }
        },
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) => Some(trim_secret(v.into_bytes())),
            Err(_) => {
                p.add("ess.reset_secret_env", format!("environment variable {var} is not set"));
                None
            }
        },
        (None, None) => None,
    };
    if let Some(s) = &secret
        && s.len() < 16
    {
        let field = if e.reset_secret_file.is_some() { "ess.reset_secret_file" } else { "ess.reset_secret_env" };
        p.add(field, format!("the secret must be at least 16 bytes, got {}", s.len()));
    }
    if let Some(socket) = &e.control_socket {
        let mut others: Vec<(String, &std::path::Path)> = Vec::new();
        if let Some(f) = &e.reset_secret_file {
            others.push(("ess.reset_secret_file".into(), f));
        }
        for (i, v) in raw.venues.iter().enumerate() {
            if let Some(ca) = &v.ca_file {
                others.push((format!("venues[{i}].ca_file"), ca));
            }
        }
        files::check_control_socket(p, socket, &others);
    }
    let ess = EssPlan {
        secret,
        reset_window: duration_field(p, "ess.reset_window", &e.reset_window, Nanos(60 * Nanos::SECOND.0)),
        control_socket: e.control_socket.clone(),
    };

    let g = &raw.global_risk;
    let mut global = GlobalRiskConfig::default();
    for (name, raw_t, slot) in [
        ("drawdown", &g.drawdown, &mut global.drawdown),
        ("leverage", &g.leverage, &mut global.leverage),
        ("volatility", &g.volatility, &mut global.volatility),
        ("concentration", &g.concentration, &mut global.concentration),
    ] {
        let Some(t) = raw_t else { continue };
        let mut parse = |field: &str, text: &str| {
            Rate::parse(text).unwrap_or_else(|err| {
                p.add(format!("global_risk.{name}.{field}"), err.to_string());
                Rate::ZERO
            })
        };
        *slot = Thresholds {
            warning: parse("warning", &t.warning),
            critical: parse("critical", &t.critical),
            band: parse("band", &t.band),
        };
    }
    if let Some(t) = &g.min_dwell {
        match parse_duration(t) {
            Ok(d) => global.min_dwell = d,
            Err(m) => p.add("global_risk.min_dwell", m),
        }
    }
    if let Some(t) = &g.ewma_lambda {
        global.ewma_lambda = fraction(p, "global_risk.ewma_lambda", t, Rate::ONE, global.ewma_lambda);
    }
    if let Some(t) = &g.return_interval {
        global.return_interval = duration_field(p, "global_risk.return_interval", t, global.return_interval);
    }
    if let Some(t) = &g.concentration_min_gross {
        global.concentration_min_gross = match Notional::parse(t) {
            Ok(n) if n >= Notional::ZERO => n,
            _ => {
                p.add("global_risk.concentration_min_gross", format!("{t:?} must be a decimal amount of zero or more"));
                global.concentration_min_gross
            }
        };
    }
    global.buckets = vec![qt_risk::global_level::UNMAPPED_BUCKET; instruments.len()];
    for (symbol, bucket) in &g.buckets {
        let path = format!("global_risk.buckets.{symbol}");
        if *bucket >= qt_risk::global_level::UNMAPPED_BUCKET {
            p.add(&path, format!("{bucket} must be below {}", qt_risk::global_level::UNMAPPED_BUCKET));
        }
        match instruments.iter().find(|i| i.symbol() == symbol) {
            Some(i) => global.buckets[i.id().index()] = *bucket,
            None => p.add(&path, format!("{symbol:?} is not a configured instrument")),
        }
    }
    // The tracker's own validation names its fields (global_risk.leverage.band, ...).
    if let Err(err) = qt_risk::global_level::GlobalRisk::new(global.clone()) {
        for problem in err.problems {
            p.add(problem.field, format!("expected {}", problem.expected));
        }
    }
    (risk, ess, global)
}

/// A secret read from a file or the environment, without a trailing newline.
fn trim_secret(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    bytes
}

#[cfg(test)]
mod tests;
