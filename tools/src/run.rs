//! `qt run`: wires the threads of a run and waits for it to end.
//!
//! ```text
//!  qt-sim-venue thread                         qt-core thread (pinned)
//!  SimVenue ── market ring (MarketEvent) ──►  RingFeed → Book → Strategy → PreTradeGate
//!     ▲  ◄──── order ring (OrderCommand) ───────────────────────────────────┘
//!     └──────── report ring (ExecutionReport) ──►  positions, strategy, risk
//! ```
//! The main thread only starts the two threads, forwards Ctrl-C to the stop flag, and joins.

use crate::config::{Pace, Plan};
use anyhow::{Context, anyhow};
use qt_core::queue::{Progress, spsc};
use qt_core::strategy::imbalance::ImbalanceTaker;
use qt_core::{Engine, EngineReport, InstrumentId, SimClock, StrategyId, sys};
use qt_feed::RingFeed;
use qt_gateway::sim::venue::{SimVenue, SimVenueConfig, SimVenueLinks, SimVenueStats};
use qt_risk::PreTradeGate;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The core's report.
    pub engine: EngineReport,
    /// The simulated venue's report.
    pub venue: SimVenueStats,
    /// The plan that ran.
    pub plan: Plan,
    /// Wall time from start to both threads joined.
    pub wall: Duration,
}

/// Builds the core engine and the simulated venue for `plan`, connected by their queues, without
/// starting any thread. `stop`, if given, becomes the engine's stop flag.
pub fn build(plan: &Plan, stop: Option<Arc<AtomicBool>>) -> anyhow::Result<(Engine<PreTradeGate>, SimVenue)> {
    sys::init_clock();
    let cap = plan.queue_capacity;
    let (market_tx, market_rx) = spsc(cap);
    let (orders_tx, orders_rx) = spsc(cap);
    let (reports_tx, reports_rx) = spsc(cap);
    let clock = SimClock::new(plan.sim.start);

    let limits = plan.accounts.iter().map(|a| a.limits).collect();
    let gate = PreTradeGate::new(limits).context("risk limits")?;
    let mut engine = Engine::new(plan.engine.clone(), plan.instruments.clone(), gate, Arc::new(clock.clone()));
    let market_handled = Progress::new();
    engine.add_feed(Box::new(RingFeed::new("sim", market_rx, market_handled.clone(), Some(clock))));
    let all: Vec<InstrumentId> = plan.instruments.iter().map(|i| i.id()).collect();
    let (venue, reports_handled) = engine.add_venue(orders_tx, reports_rx, &all);
    for (k, s) in plan.strategies.iter().enumerate() {
        engine.add_strategy(Box::new(ImbalanceTaker::new(StrategyId(k as u16), s.account, s.instrument, s.params)));
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
    let (engine, sim) = build(&plan, stop)?;
    let venue_thread = std::thread::Builder::new().name("qt-sim-venue".into()).spawn(move || sim.run())?;
    let core_thread = std::thread::Builder::new().name("qt-core".into()).spawn(move || engine.run())?;
    let (engine_report, engine) = core_thread.join().map_err(|_| anyhow!("the core thread panicked"))?;
    // The venue may be waiting on the core: make sure it sees the end.
    engine.stop_flag().store(true, std::sync::atomic::Ordering::Relaxed);
    drop(engine);
    let venue_stats = venue_thread.join().map_err(|_| anyhow!("the simulated venue thread panicked"))?;
    Ok(RunOutcome { engine: engine_report, venue: venue_stats, plan, wall: wall_start.elapsed() })
}
