//! `qt run`: wires the threads of a run and waits for it to end.
//!
//! ```text
//!  qt-sim-venue thread                         qt-core thread (pinned)
//!  SimVenue ── market ring (MarketEvent) ──►  RingFeed → Book → Strategy → RiskGate
//!     ▲  ◄──── order ring (OrderCommand) ───────────────────────────────────┘
//!     └──────── report ring (ExecutionReport) ──►  positions, strategy, risk
//! ```
//! Beside them: `qt-journal` writes the core's journal ring into the run's journal
//! ([`crate::journal`]) and, if `ess.control_socket` is set, `qt-control` serves `qt ess ...`
//! ([`crate::control`]). The main thread only starts the threads, forwards Ctrl-C to the stop
//! flag, and joins. A live run on a journal holding earlier runs is first restored from it and
//! its open orders settled with the venues ([`crate::restore`]), before any gateway starts.

use crate::config::{Pace, Plan};
use crate::control::ControlServer;
use crate::gateways::{Gateway, GatewaySetup};
use crate::journal::{JournalStats, OpenJournal};
pub use crate::reconcile_live::LiveReconciliation;
use crate::reconcile_live::{publish_reconciliation, reconcile_live, reconciliation_blocks, venue_snapshot};
use anyhow::{Context, anyhow};
use qt_core::PreTradeCheck;
use qt_core::engine::ControlCommand;
use qt_core::journal::JournalLink;
use qt_core::journal_raw::{DEFAULT_RING_BYTES, RawFrameRings};
use qt_core::queue::{Consumer, Producer, Progress, spsc};
use qt_core::stats::{Capacity, StatsRegion};
use qt_core::{
    Clock, Engine, EngineConfig, EngineReport, ExecutionReport, InstrumentId, OrderCommand, ReplayableClock, SimClock,
    TimerClock, Venue, WallClock, sys,
};
use qt_feed::RingFeed;
use qt_gateway::kit::error::GatewayError;
use qt_gateway::kit::stats::GatewayStats;
use qt_risk::RiskGate;
use qt_risk::ess::EmergencyStop;
use qt_risk::global_level::GlobalRisk;
use qt_venue_sim::exchange::venue::{SimVenue, SimVenueConfig, SimVenueLinks, SimVenueStats};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The risk component's state at the end of a run.
#[derive(Debug, Clone)]
pub struct RiskEnd {
    /// `armed`, `triggered (source)` or `latched (source)`.
    pub ess_state: String,
    /// Triggers per source name.
    pub triggers: Vec<(&'static str, u64)>,
    /// Accepted resets, oldest first: who, when (Unix ms), which source they cleared.
    pub resets: Vec<String>,
    /// Resets refused.
    pub resets_refused: u64,
    /// Global risk level at the end.
    pub level: &'static str,
    /// `risk.updated` events.
    pub level_changes: u64,
}

impl RiskEnd {
    /// Reads the state off the gate.
    pub fn of(gate: &RiskGate) -> Self {
        use qt_risk::ess::{EssState, TriggerSource};
        let ess = gate.ess();
        let ess_state = match ess.state() {
            EssState::Armed => "armed".to_string(),
            EssState::Triggered { source, .. } => format!("triggered ({})", source.name()),
            EssState::Latched { source, .. } => format!("latched ({})", source.name()),
        };
        let c = gate.counters();
        Self {
            ess_state,
            triggers: TriggerSource::ALL.iter().map(|s| (s.name(), c.triggers(*s).get())).collect(),
            resets: ess
                .history()
                .map(|r| format!("{} at {} ms (cleared {})", r.operator, r.at.0 / 1_000_000, r.source.name()))
                .collect(),
            resets_refused: c.ess_resets_refused.get(),
            level: gate.global().level().name(),
            level_changes: c.level_changes.get(),
        }
    }
}

/// Threads beside the core: the journal writer and the control channel.
#[derive(Debug)]
struct SideThreads {
    journal: Option<(PathBuf, JournalHandle)>,
    journal_stop: Arc<AtomicBool>,
    control: Option<ControlServer>,
    log: crate::logging::LogThread,
    /// The stats thread (`/metrics`, `/health/*`, the textfile), if configured.
    exporter: Option<crate::exporter::ExporterHandle>,
    /// The status line, if asked for.
    progress: Option<crate::progress::ProgressThread>,
}

type JournalHandle = std::thread::JoinHandle<(JournalStats, Option<qt_recorder::JournalWriter>)>;

impl SideThreads {
    /// Connects the journal (if open) and, if configured, the control socket to `engine`. A
    /// live run's engine already has its control channel (the gateways send on it): `control`
    /// is its sender, and the socket's commands go the same way.
    fn attach(
        engine: &mut Engine<RiskGate>,
        plan: &Plan,
        journal: Option<OpenJournal>,
        raw_frames: Option<RawFrameRings>,
        control: Option<crossbeam_channel::Sender<ControlCommand>>,
    ) -> anyhow::Result<Self> {
        let (log_sink, log_drain) = qt_core::log_ring::ring(qt_core::log_ring::DEFAULT_CAPACITY);
        engine.set_log_sink(log_sink);
        let log = crate::logging::LogThread::spawn(log_drain)?;
        let journal_stop = Arc::new(AtomicBool::new(false));
        let journal = match (journal, &plan.journal) {
            (Some(open), Some(j)) => {
                let (link, rings) = JournalLink::new(j.ring_capacity, j.on_full);
                engine.set_journal(link);
                let initial = engine.risk().state();
                let stats = Some(engine.stats_region());
                let handle = crate::journal::spawn_with_stats(
                    rings,
                    Some(open.writer),
                    initial,
                    journal_stop.clone(),
                    raw_frames,
                    stats,
                )?;
                Some((open.dir, handle))
            }
            _ => None,
        };
        let control = match &plan.ess.control_socket {
            Some(path) => {
                let cmd_tx = match control {
                    Some(tx) => tx,
                    None => {
                        let (cmd_tx, cmd_rx) = crossbeam_channel::bounded(16);
                        engine.set_control(cmd_rx);
                        cmd_tx
                    }
                };
                let (reply_tx, reply_rx) = crossbeam_channel::bounded(16);
                engine.set_control_replies(reply_tx);
                Some(crate::control::serve(path, cmd_tx, reply_rx)?)
            }
            None => None,
        };
        let exporter = start_stats_exporter(&engine.stats_region(), &plan.stats)?;
        let progress = match plan.stats.progress {
            Some(every) => {
                let sim = (!plan.is_live())
                    .then_some(crate::progress::SimSpan { start: plan.sim.start, duration: plan.sim.duration });
                Some(crate::progress::ProgressThread::spawn(engine.stats_region(), every, sim)?)
            }
            None => None,
        };
        Ok(Self { journal, journal_stop, control, log, exporter, progress })
    }

    /// Stops and joins them (after the core has ended).
    /// Stops and joins them; the journal's writer comes back (if it can still write) for the
    /// run's last record, its reconciliation ([`journal_run_end`]).
    fn finish(self) -> anyhow::Result<(Option<JournalOutcome>, Option<qt_recorder::JournalWriter>)> {
        drop(self.control);
        if let Some(p) = self.progress {
            p.finish();
        }
        if let Some(e) = self.exporter {
            e.stop();
        }
        self.log.finish();
        self.journal_stop.store(true, std::sync::atomic::Ordering::Release);
        let Some((dir, handle)) = self.journal else { return Ok((None, None)) };
        let (stats, writer) = handle.join().map_err(|_| anyhow!("the journal thread panicked"))?;
        Ok((Some(JournalOutcome { dir, stats }), writer))
    }
}

/// Starts the stats thread over a stats region (a run's, or `qt stress`'s) when `[stats] listen`
/// or `textfile` asks for it. An address that cannot be bound ends the start-up naming it, or,
/// with `on_listen_error = "warn"`, is logged and the run goes on without the endpoints.
pub fn start_stats_exporter(
    region: &qt_core::stats::StatsRegion,
    stats: &crate::config::StatsPlan,
) -> anyhow::Result<Option<crate::exporter::ExporterHandle>> {
    use crate::exporter::{Exporter, ExporterOptions, TextfileOptions};
    if stats.listen.is_none() && stats.textfile.is_none() {
        return Ok(None);
    }
    let textfile =
        stats.textfile.as_ref().map(|path| TextfileOptions { path: path.clone(), interval: stats.textfile_interval });
    let options = |listen| ExporterOptions { listen, textfile: textfile.clone(), ..ExporterOptions::default() };
    // One source (one block of the stats thread's own counters in the file), shared by a retry.
    let source = crate::stat::RegionSource::new(region.clone());
    let stop = Arc::new(AtomicBool::new(false));
    match Exporter::start_with(options(stats.listen), source.clone(), stop.clone()) {
        Ok(h) => Ok(Some(h)),
        Err(e @ crate::exporter::ExporterError::Bind { .. })
            if stats.on_listen_error == crate::config::OnListenError::Warn =>
        {
            log::warn!(
                "stats: {e}; metrics and health endpoints are off for this run ([stats] on_listen_error = \"warn\")"
            );
            Ok(Exporter::start_with(options(None), source, stop).ok())
        }
        Err(e) => Err(anyhow!("stats: {e} ([stats] listen)")),
    }
}

/// Where a run's journal is and what was written.
#[derive(Debug, Clone)]
pub struct JournalOutcome {
    /// The run's journal directory.
    pub dir: PathBuf,
    /// What the journal thread wrote.
    pub stats: JournalStats,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The core's report.
    pub engine: EngineReport,
    /// The simulated venue's report (simulated runs).
    pub venue: Option<SimVenueStats>,
    /// Each live gateway's report (live runs).
    pub gateways: Vec<(Venue, GatewayStats)>,
    /// The plan that ran.
    pub plan: Plan,
    /// The journal written (`None`: journaling off).
    pub journal: Option<JournalOutcome>,
    /// The risk component at the end.
    pub risk: RiskEnd,
    /// Our positions against the venue's ledger (simulated runs).
    pub reconciliation: Option<qt_risk::reconcile::Reconciliation>,
    /// Live runs: our position and balance changes against the venues' account snapshots
    /// taken at start and at stop; `Err(why)` if a snapshot could not be taken.
    pub live_reconciliation: Option<Result<LiveReconciliation, String>>,
    /// Live runs with `engine.reconcile_every`: what the checks during the run found.
    pub periodic_reconciliation: Option<crate::reconcile_periodic::PeriodicReport>,
    /// Live runs: each account's capital as its venues' balances made it at start.
    pub capital: Vec<crate::venue_capital::CapitalLine>,
    /// Live runs: open derivatives positions taken from the venues at start (one line each).
    pub start_positions_taken: Vec<String>,
    /// Live runs continuing a journal: what was restored from it and how its open orders were
    /// settled.
    pub restore: Option<crate::restore::RestoreReport>,
    /// Wall time from start to both threads joined.
    pub wall: Duration,
}

/// The risk gate of `plan`: its accounts, settings, emergency stop and global risk level.
pub fn build_gate(plan: &Plan) -> anyhow::Result<RiskGate> {
    let secret = match &plan.ess.secret {
        Some(s) => s.clone(),
        None => {
            log::warn!(
                "no ess.reset_secret_file / ess.reset_secret_env configured: a latched emergency stop \
                 cannot be reset in this run (restart with a secret to allow authenticated resets)"
            );
            random_secret()?
        }
    };
    let ess = EmergencyStop::new(&secret, plan.ess.reset_window).context("ess")?;
    let global = GlobalRisk::new(plan.global_risk.clone()).context("global_risk")?;
    let accounts = plan.accounts.iter().map(|a| a.spec.clone()).collect();
    RiskGate::new(accounts, plan.risk, ess, global).context("risk gate")
}

/// 32 bytes from the OS's random source, for a key nobody knows.
fn random_secret() -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .context("reading /dev/urandom for the emergency stop's key")?;
    Ok(key)
}

/// Builds the core engine and the simulated venue for `plan`, connected by their queues, without
/// starting any thread. `stop`, if given, becomes the engine's stop flag.
pub fn build(plan: &Plan, stop: Option<Arc<AtomicBool>>) -> anyhow::Result<(Engine<RiskGate>, SimVenue)> {
    build_with_stats(plan, stop, None)
}

/// The engine of `plan` with its stats in `stats` (the run's stats file; `None`: a private
/// anonymous mapping), its accounts labelled by their names.
fn new_engine(
    plan: &Plan,
    cfg: EngineConfig,
    gate: RiskGate,
    clock: Arc<dyn Clock>,
    stats: Option<StatsRegion>,
) -> anyhow::Result<Engine<RiskGate>> {
    let stats = match stats {
        Some(r) => r,
        None => StatsRegion::anonymous(Capacity::default()).context("stats mapping")?,
    };
    let names: Vec<String> = plan.accounts.iter().map(|a| a.name.clone()).collect();
    Ok(Engine::with_stats(cfg, plan.instruments.clone(), gate, clock, stats, &names))
}

/// [`build`] with the engine's stats in `stats` (the run's stats file), or a private mapping.
pub fn build_with_stats(
    plan: &Plan,
    stop: Option<Arc<AtomicBool>>,
    stats: Option<StatsRegion>,
) -> anyhow::Result<(Engine<RiskGate>, SimVenue)> {
    sys::init_clock();
    let cap = plan.queue_capacity;
    let (market_tx, market_rx) = spsc(cap);
    let (orders_tx, orders_rx) = spsc(cap);
    let (reports_tx, reports_rx) = spsc(cap);
    let clock = SimClock::new(plan.sim.start);

    let gate = build_gate(plan)?;
    // A simulated run's timer follows simulated time, so it falls among the inputs the same way
    // in every run of a seed (the journal records it; replay re-drives those records).
    let cfg = EngineConfig { timer_clock: TimerClock::Domain, ..plan.engine.clone() };
    let mut engine = new_engine(plan, cfg, gate, Arc::new(clock.clone()), stats)?;
    let market_handled = Progress::new();
    engine.add_feed(Box::new(RingFeed::new("sim", market_rx, market_handled.clone(), Some(clock))));
    let all: Vec<InstrumentId> = plan.instruments.iter().map(|i| i.id()).collect();
    let (venue, reports_handled) = engine.add_venue(orders_tx, reports_rx, &all);
    engine.set_routing(plan.routing.clone());
    for s in plan.build_strategies() {
        engine.add_strategy(s);
    }
    for (at, cmd) in &plan.scheduled_controls {
        engine.schedule_control(*at, *cmd);
    }
    engine.register_feeds().context("registering feed sockets")?;
    if let Some(flag) = stop {
        engine.set_stop_flag(flag);
    }
    let venue_cfg = SimVenueConfig {
        seed: plan.sim.seed,
        start: plan.sim.start,
        duration: plan.sim.duration,
        realtime: plan.sim.pace == Pace::Realtime,
        fees: plan.sim.fees,
        markets: plan.instruments.iter().cloned().zip(plan.sim.flows.iter().cloned()).collect(),
        shocks: plan.sim.shocks.clone(),
    };
    let links = SimVenueLinks {
        market: market_tx,
        market_handled,
        orders: orders_rx,
        reports: reports_tx,
        reports_handled,
        stop: engine.stop_flag(),
        venue,
    };
    let sim = SimVenue::new(venue_cfg, links).map_err(|e| anyhow!("simulated venue: {e}"))?;
    Ok((engine, sim))
}

/// Runs `plan` on the built-in simulated venue until its simulated duration is over or `stop`
/// is set. Blocks the calling thread.
pub fn run(plan: Plan, stop: Option<Arc<AtomicBool>>) -> anyhow::Result<RunOutcome> {
    let wall_start = Instant::now();
    let journal = crate::journal::open_for_run(&plan)?;
    let stats = crate::stat::files::open_for_run(&plan.stats)?;
    let (mut engine, sim) = build_with_stats(&plan, stop, stats)?;
    let blocks = reconciliation_blocks(&engine.stats_region(), &plan);
    crate::stress::place_in_run(&engine.stats_region());
    let side = SideThreads::attach(&mut engine, &plan, journal, None, None)?;
    let venue_thread = std::thread::Builder::new().name("qt-sim-venue".into()).spawn(move || sim.run())?;
    let core_thread = std::thread::Builder::new().name("qt-core".into()).spawn(move || engine.run())?;
    let (engine_report, engine) = core_thread.join().map_err(|_| anyhow!("the core thread panicked"))?;
    // The venue may be waiting on the core: make sure it sees the end.
    engine.stop_flag().store(true, std::sync::atomic::Ordering::Relaxed);
    let risk = RiskEnd::of(engine.risk());
    drop(engine);
    let (journal, writer) = side.finish()?;
    let venue_stats = venue_thread.join().map_err(|_| anyhow!("the simulated venue thread panicked"))?;
    let ours: Vec<_> = engine_report.positions.iter().map(|p| (p.account, p.instrument, p.position.qty())).collect();
    let reconciliation = qt_risk::reconcile::positions(&ours, &venue_stats.positions);
    for d in &reconciliation.differences {
        log::warn!(
            "reconcile: account {} instrument {} ours {} venue {} (units)",
            d.account.0,
            d.instrument.0,
            d.ours.units(),
            d.venue.units()
        );
    }
    publish_reconciliation(&blocks, reconciliation.differences.iter().map(|d| d.account));
    let sim_end = venue_stats.sim_time;
    let outcome = RunOutcome {
        engine: engine_report,
        venue: Some(venue_stats),
        gateways: Vec::new(),
        plan,
        journal,
        risk,
        reconciliation: Some(reconciliation),
        live_reconciliation: None,
        periodic_reconciliation: None,
        capital: Vec::new(),
        start_positions_taken: Vec::new(),
        restore: None,
        wall: wall_start.elapsed(),
    };
    journal_run_end(writer, &outcome, sim_end);
    Ok(outcome)
}

/// A live run's engine and its gateways, built but not started: the engine can be restored and
/// its order rings drained before any gateway can send what they hold.
pub struct LiveRun {
    /// The core engine, not yet running.
    pub engine: Engine<RiskGate>,
    /// Its domain clock: fixed while a restore replays the journal, then the wall clock.
    pub clock: ReplayableClock,
    /// Gateways to start ([`LiveRun::start_gateways`]), one per venue.
    pub pending: Vec<PendingGateway>,
    /// Stops the gateways (the engine has its own stop flag).
    pub gateway_stop: Arc<AtomicBool>,
    /// Each gateway and its setup, for account snapshots ([`Gateway::balances`]).
    pub account_queries: Vec<(Gateway, GatewaySetup)>,
    /// The feeds' raw-frame rings for the journal thread (`[journal] raw_frames`).
    pub raw_frames: Option<RawFrameRings>,
    /// The gateway ends of the links of venues that serve market data only (no gateway): held
    /// so the engine's rings stay connected; nothing is sent there (configuration refuses it).
    pub market_only: Vec<(Consumer<OrderCommand>, Producer<ExecutionReport>)>,
    /// The engine's control channel (each gateway holds a clone in its setup: funding, venue
    /// health); the control socket, if configured, sends on it too.
    pub control: crossbeam_channel::Sender<ControlCommand>,
}

/// A gateway built but not started, holding its ends of the engine's rings.
pub struct PendingGateway {
    /// The venue.
    pub venue: Venue,
    /// Its gateway.
    pub gateway: Gateway,
    /// What it is built from.
    pub setup: GatewaySetup,
    /// Orders from the core.
    pub orders: Consumer<OrderCommand>,
    /// Reports to the core.
    pub reports: Producer<ExecutionReport>,
}

impl std::fmt::Debug for LiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRun").field("engine", &self.engine).field("gateways", &self.pending.len()).finish()
    }
}

impl std::fmt::Debug for PendingGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingGateway").field("venue", &self.venue).field("setup", &self.setup).finish()
    }
}

/// Started gateway threads.
type GatewayThreads = Vec<(Venue, std::thread::JoinHandle<GatewayStats>)>;

impl LiveRun {
    /// Starts every gateway (each opens its user data streams before it returns, so nothing it
    /// is then sent can fill unseen). A failure stops those already started.
    pub fn start_gateways(
        pending: Vec<PendingGateway>,
        plan: &Plan,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<GatewayThreads> {
        let mut started: GatewayThreads = Vec::new();
        for g in pending {
            match (g.gateway.spawn)(&g.setup, g.orders, g.reports, stop.clone()) {
                Ok(handle) => started.push((g.venue, handle)),
                Err(e) => {
                    stop_gateways(started, stop);
                    return Err(start_error(plan, g.venue, e));
                }
            }
        }
        Ok(started)
    }
}

/// Stops and joins gateway threads (a start-up failure).
fn stop_gateways(started: GatewayThreads, stop: &Arc<AtomicBool>) {
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for (venue, handle) in started {
        if handle.join().is_err() {
            log::error!("the {venue} gateway thread panicked");
        }
    }
}

/// The client-order-id run id of a live run: derived from its journal's id, so it is the same
/// for every run continuing that journal (order ids then keep ids unique:
/// [`qt_core::engine::run_order_id_base`]) and a restart can name the orders of earlier runs;
/// without a journal, the start second.
pub fn client_run_id(journal_id: Option<u64>) -> u32 {
    match journal_id {
        // Folded, never 0 (0 is the gateway's default).
        Some(id) => ((id >> 32) as u32 ^ id as u32).max(1),
        None => (WallClock.now().0 / 1_000_000_000) as u32,
    }
}

/// Capacity of a live run's control channel (gateways' funding and health messages, control
/// socket commands).
const LIVE_CONTROL_CAPACITY: usize = 256;

/// Builds a live run: the engine on a [`ReplayableClock`] (fixed until released), each venue's
/// feeds as its registry entry builds them ([`crate::venues`]) and, where it has one, its
/// gateway (not started), orders named with `run_id`.
pub fn build_live(plan: &Plan, stop: Option<Arc<AtomicBool>>, run_id: u32) -> anyhow::Result<LiveRun> {
    build_live_with_stats(plan, stop, run_id, None)
}

/// [`build_live`] with the engine's stats in `stats` (the run's stats file).
pub fn build_live_with_stats(
    plan: &Plan,
    stop: Option<Arc<AtomicBool>>,
    run_id: u32,
    stats: Option<StatsRegion>,
) -> anyhow::Result<LiveRun> {
    sys::init_clock();
    let gate = build_gate(plan)?;
    let clock = ReplayableClock::new();
    let mut engine = new_engine(plan, plan.engine.clone(), gate, Arc::new(clock.clone()), stats)?;
    if let Some(flag) = stop {
        engine.set_stop_flag(flag);
    }
    // A stopped live run leaves nothing working at the venue unless configured otherwise
    // (`engine.cancel_on_stop`); the gateways run until the core has wound down.
    engine.set_cancel_on_stop(plan.cancel_on_stop);
    for s in plan.build_strategies() {
        engine.add_strategy(s);
    }
    // What gateways tell the core besides reports (funding, venue health) comes on the control
    // channel; rare, so a small bound; senders never block on it.
    let (control, control_rx) = crossbeam_channel::bounded(LIVE_CONTROL_CAPACITY);
    engine.set_control(control_rx);
    let gateway_stop = Arc::new(AtomicBool::new(false));
    let mut pending = Vec::new();
    let mut account_queries = Vec::new();
    // Raw frames: one tap per feed, its index the feed's place in the engine
    // ([`Plan::live_feeds`] order).
    let (mut taps, raw_frames) = match &plan.journal {
        Some(j) if j.raw_frames => {
            let feeds = plan.live_feeds().len();
            let (taps, rings) = RawFrameRings::new(feeds, DEFAULT_RING_BYTES, Arc::new(clock.clone()));
            (taps, Some(rings))
        }
        _ => (Vec::new(), None),
    };
    taps.reverse();
    let mut market_only = Vec::new();
    for v in &plan.venues {
        let entry = crate::venues::require(v.venue)?;
        let instruments: Vec<_> = v.instruments.iter().filter_map(|id| plan.instruments.get(*id).cloned()).collect();
        let target = crate::venues::FeedTarget {
            ws_url: v.ws_url.clone(),
            rest_url: v.rest_url.clone(),
            ca_file: v.ca_file.clone(),
            server_name: v.server_name.clone(),
            poll_interval: None,
        };
        let feeds = entry.live_feeds(&target, &instruments).with_context(|| format!("{} feed", v.venue))?;
        let (orders_tx, orders_rx) = spsc(plan.queue_capacity);
        let (reports_tx, reports_rx) = spsc(plan.queue_capacity);
        let (venue_id, _) = engine.add_venue(orders_tx, reports_rx, &v.instruments);
        for mut feed in feeds {
            if let Some(tap) = taps.pop() {
                qt_core::FeedSource::set_raw_tap(feed.as_mut(), tap);
            }
            // A recovering feed marks its venue unhealthy for the outage watch.
            engine.add_venue_feed(feed, venue_id);
        }
        match entry.gateway {
            // A venue with a gateway but no account's keys serves market data only.
            Some(gateway) if !v.keys.is_empty() => {
                let setup = GatewaySetup {
                    rest_url: v.rest_url.clone(),
                    ws_url: v.ws_url.clone(),
                    ca_file: v.ca_file.clone(),
                    server_name: v.server_name.clone(),
                    recv_window_ms: v.recv_window_ms,
                    legacy_private_stream: v.listen_key_only,
                    private_stream_url: v.ws_api_url.clone(),
                    venue: venue_id,
                    instruments,
                    accounts: v.keys.clone(),
                    passphrases: v.passphrases.clone(),
                    run_id,
                    // The gateway thread publishes its estimate of the venue's clock.
                    clock_stats: Some(
                        engine
                            .stats_region()
                            .block_or_private(qt_core::stats::Owner::Gateway, &[("venue", v.venue.name())]),
                    ),
                    control: Some(control.clone()),
                    // What a gateway keeps across restarts (Kraken's nonce ceiling) lives with
                    // the journal the restart continues.
                    state_dir: plan.journal.as_ref().map(|j| j.dir.clone()),
                    idle: plan.gateway_idle,
                    ..GatewaySetup::default()
                };
                account_queries.push((gateway, setup.clone()));
                pending.push(PendingGateway { venue: v.venue, gateway, setup, orders: orders_rx, reports: reports_tx });
            }
            _ => market_only.push((orders_rx, reports_tx)),
        }
    }
    // Every venue link is added: route by the accounts' chains (docs/FAILOVER.md).
    engine.set_routing(plan.routing.clone());
    engine.register_feeds().context("registering feed sockets")?;
    Ok(LiveRun { engine, clock, pending, gateway_stop, account_queries, raw_frames, market_only, control })
}

/// A live venue's start-up failure; a refused key or secret names the account (never the
/// secret) and says no order was sent.
fn start_error(plan: &Plan, venue: Venue, e: GatewayError) -> anyhow::Error {
    match &e {
        GatewayError::AuthRejected { account, .. } => {
            let name = plan.accounts.get(account.index()).map_or("?", |a| a.name.as_str());
            anyhow!("{venue} refused the API credentials of account {name:?} at start; no order was sent: {e}")
        }
        _ => anyhow::Error::new(e).context(format!("{venue} gateway")),
    }
}

/// Runs `plan` against live venues for its duration (wall clock) or until `stop`. On a journal
/// that holds earlier runs, the engine is first restored from it and its open orders settled
/// with the venues ([`crate::restore`]) before any gateway starts.
pub fn run_live(plan: Plan, stop: Option<Arc<AtomicBool>>) -> anyhow::Result<RunOutcome> {
    let wall_start = Instant::now();
    // The journal first: a directory another engine holds, or one that cannot be written,
    // stops the run before any connection is made.
    let mut journal = crate::journal::open_for_run(&plan)?;
    let run_id = client_run_id(journal.as_ref().map(|j| j.journal_id));
    // Each venue's instruments endpoint must agree with our grids before anything connects.
    crate::grids::verify_at_start(&plan).map_err(|why| anyhow!("{why}"))?;
    let stats = crate::stat::files::open_for_run(&plan.stats)?;
    let LiveRun { mut engine, clock, mut pending, gateway_stop, account_queries, raw_frames, mut market_only, control } =
        build_live_with_stats(&plan, stop, run_id, stats)?;
    let gateway_venues: Vec<Venue> = pending.iter().map(|g| g.venue).collect();
    // Restore before anything can trade: the gateways are not started, the core does not run.
    let mut restore = match journal.as_ref().filter(|j| j.config_sequence > 0) {
        Some(j) => {
            let mut rings: Vec<_> =
                pending.iter_mut().map(|g| &mut g.orders).chain(market_only.iter_mut().map(|(o, _)| o)).collect();
            let hash = qt_recorder::payload::text::sha256(&plan.source_text);
            let mut report = restore_engine(&mut engine, &clock, &j.dir, j.config_sequence, hash, &mut rings)?;
            crate::restore::check_risk_state(&mut engine, &mut report);
            Some(report)
        }
        None => None,
    };
    clock.release();
    let runs = restore.as_ref().map_or(0, |r| r.runs);
    engine.begin_run(runs);
    if restore.is_some() {
        engine.reset_counters();
    }
    let settle = match restore.as_mut() {
        Some(report) => {
            report.next_order_id = engine.next_order_id();
            // Restarts settle open orders on the venues whose gateway says how.
            let restore_queries: Vec<_> = account_queries
                .iter()
                .filter_map(|(g, setup)| g.restore.map(|settler| (settler, setup.clone())))
                .collect();
            let reports = crate::restore::settle_open_orders(
                &engine.open_orders(),
                &plan.instruments,
                &restore_queries,
                run_id,
                report,
            );
            for line in report.lines() {
                log::warn!("restore: {line}");
            }
            if let Some(j) = journal.as_mut() {
                journal_reconciliation(j, &report.lines().join("\n"))?;
            }
            reports
        }
        None => Vec::new(),
    };
    let gateways = LiveRun::start_gateways(pending, &plan, &gateway_stop)?;
    // Baseline balances before the core can send an order (this thread, not the core's). A key
    // or secret the venue refuses ends the run here, before the core starts: every order would
    // be refused. Any other failure only costs the reconciliation.
    let baseline = match venue_snapshot(&account_queries) {
        Ok(b) => Ok(b),
        Err((v, e)) if e.is_auth_rejected() => {
            stop_gateways(gateways, &gateway_stop);
            let venue = gateway_venues.get(v).copied().unwrap_or(Venue::Binance);
            return Err(start_error(&plan, venue, e));
        }
        Err((_, e)) => {
            log::warn!("reconcile: start balances unavailable: {e}");
            Err(e.to_string())
        }
    };
    // Each account's capital: its configured starting equity, capped by what its venues hold
    // (crate::venue_capital). An account whose venues hold none of its currency stops the run.
    let capital = match &baseline {
        Ok(b) => match crate::venue_capital::from_balances(&plan, b) {
            Ok(lines) => lines,
            Err(why) => {
                stop_gateways(gateways, &gateway_stop);
                return Err(anyhow!("capital: {why}"));
            }
        },
        Err(_) => Vec::new(),
    };
    // Open derivatives positions: the venue's, where they differ from the engine's.
    let mut held = Vec::new();
    for ((gateway, setup), venue) in account_queries.iter().zip(&gateway_venues) {
        let Some(query) = gateway.positions else { continue };
        match query(setup) {
            Ok(p) => held.push((*venue, p)),
            Err(e) => {
                stop_gateways(gateways, &gateway_stop);
                return Err(anyhow::Error::new(e).context(format!("{venue}: reading open positions at start")));
            }
        }
    }
    let blocks = reconciliation_blocks(&engine.stats_region(), &plan);
    crate::stress::place_in_run(&engine.stats_region());
    let side = SideThreads::attach(&mut engine, &plan, journal, raw_frames, Some(control))?;
    // Journaled (the journal is attached): a replay measures from the same capital.
    for cmd in crate::venue_capital::commands(&capital) {
        engine.control_now(cmd);
    }
    for l in &capital {
        let name = plan.accounts.get(l.account.index()).map_or("?", |a| a.name.as_str());
        log::info!("{}", l.render(name));
    }
    // Settled orders' reports go through the journal like a gateway's, so the next restore
    // replays them too.
    for r in &settle {
        engine.apply_restored_report(r);
    }
    // Open derivatives positions: the venue's where they differ from the engine's (restored,
    // and settled just above), journaled so a replay holds the same.
    let position_lines = match crate::venue_capital::position_commands(&plan, &engine.positions(), &held) {
        Ok((commands, lines)) => {
            for cmd in commands {
                engine.control_now(cmd);
            }
            for l in &lines {
                log::warn!("{l}");
            }
            lines
        }
        Err(why) => {
            if let Err(e) = side.finish() {
                log::error!("{e:#}");
            }
            stop_gateways(gateways, &gateway_stop);
            return Err(anyhow!("positions at start: {why}"));
        }
    };
    let start_positions = engine.positions();
    // Checks during the run, on their own thread, from the core's copies of the positions it
    // changes; the thread holds the reconciliation blocks until it is joined.
    let (periodic, mut blocks) = match (plan.reconcile_every, &baseline) {
        (Some(every), Ok(b)) => {
            let (tap, updates, lost) = qt_core::position::PositionTap::new(crate::reconcile_periodic::TAP_CAPACITY);
            engine.set_position_tap(tap);
            let inputs = crate::reconcile_periodic::PeriodicInputs {
                instruments: plan.instruments.clone(),
                queries: account_queries.clone(),
                baseline: b.clone(),
                start_positions: start_positions.clone(),
                updates,
                lost,
                every,
                blocks,
            };
            (Some(crate::reconcile_periodic::PeriodicReconciler::spawn(inputs)?), None)
        }
        _ => (None, Some(blocks)),
    };
    let engine_stop = engine.stop_flag();
    let core_thread = std::thread::Builder::new().name("qt-core".into()).spawn(move || engine.run())?;
    let deadline = wall_start + Duration::from_nanos(plan.sim.duration.0.max(0) as u64);
    while Instant::now() < deadline
        && !engine_stop.load(std::sync::atomic::Ordering::Relaxed)
        && !core_thread.is_finished()
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    engine_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (engine_report, engine) = core_thread.join().map_err(|_| anyhow!("the core thread panicked"))?;
    let periodic_report = periodic.and_then(|p| p.finish()).map(|(report, b)| {
        blocks = Some(b);
        report
    });
    gateway_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let risk = RiskEnd::of(engine.risk());
    drop(engine);
    let (journal, writer) = side.finish()?;
    let mut stats = Vec::new();
    for (venue, handle) in gateways {
        stats.push((venue, handle.join().map_err(|_| anyhow!("the {venue} gateway thread panicked"))?));
    }
    let end = match baseline {
        Ok(_) => venue_snapshot(&account_queries).map_err(|(_, e)| e.to_string()),
        Err(_) => Err("no start balances".into()),
    };
    let live = reconcile_live(&plan, &engine_report, &start_positions, baseline, end);
    match &live {
        Err(e) => log::warn!("reconcile: not available: {e}"),
        Ok(r) => {
            if let Some(blocks) = &blocks {
                publish_reconciliation(
                    blocks,
                    r.positions.differences.iter().chain(&r.balances.differences).map(|d| d.account),
                );
            }
        }
    }
    let outcome = RunOutcome {
        engine: engine_report,
        venue: None,
        gateways: stats,
        plan,
        journal,
        risk,
        reconciliation: None,
        live_reconciliation: Some(live),
        periodic_reconciliation: periodic_report,
        capital,
        start_positions_taken: position_lines,
        restore,
        wall: wall_start.elapsed(),
    };
    journal_run_end(writer, &outcome, WallClock.now());
    Ok(outcome)
}

/// Replays the earlier runs of the journal in `dir` (records before `before`) into `engine`.
fn restore_engine(
    engine: &mut Engine<RiskGate>,
    clock: &ReplayableClock,
    dir: &std::path::Path,
    before: u64,
    config_hash: [u8; 32],
    rings: &mut [&mut Consumer<OrderCommand>],
) -> anyhow::Result<crate::restore::RestoreReport> {
    let started = Instant::now();
    let report = crate::restore::replay_previous(dir, before, config_hash, engine, clock, rings)?;
    log::info!("restore: {} records replayed in {:.1?}", report.records, started.elapsed());
    Ok(report)
}

/// Appends a Reconciliation record with `text` to the run's journal (before its thread starts).
fn journal_reconciliation(j: &mut crate::journal::OpenJournal, text: &str) -> anyhow::Result<()> {
    journal_text(&mut j.writer, &j.dir, WallClock.now(), text)
}

/// Appends a Reconciliation record holding `text` at domain time `at`, commits and flushes it.
fn journal_text(
    writer: &mut qt_recorder::JournalWriter,
    dir: &std::path::Path,
    at: qt_core::Nanos,
    text: &str,
) -> anyhow::Result<()> {
    crate::journal::append_text(writer, dir, qt_recorder::RecordType::Reconciliation, at, text)?;
    writer.flush().with_context(|| format!("journal: cannot flush {}", dir.display()))
}

/// The run's last journal record: its reconciliation, as the summary shows it. A failure is
/// logged (the run itself is over; its summary still prints).
fn journal_run_end(writer: Option<qt_recorder::JournalWriter>, outcome: &RunOutcome, at: qt_core::Nanos) {
    let (Some(mut writer), Some(j)) = (writer, &outcome.journal) else { return };
    let text = crate::summary::reconciliation_lines(outcome);
    if let Err(e) = journal_text(&mut writer, &j.dir, at, text.trim_end()) {
        log::error!("{e:#}");
    }
}
