//! `qt bench --wire`: wire-to-wire through loopback TLS on this machine — from the moment the
//! venue simulator writes a market frame to its socket to the moment it has parsed the request
//! head of the order that frame triggered.
//!
//! One process holds both ends, so both timestamps are the simulator's reads of one monotonic
//! clock (`std::time::Instant`): the simulator runs in-process ([`VenueSimServer`], its own CA in
//! a temporary directory) speaking Binance spot, with the bench probe
//! ([`qt_venue_sim::bench_probe`]) designing its books and timing each trigger; the engine is
//! the one `qt run` builds for a live Binance run ([`crate::run::build_live`]: the real feed —
//! TLS WebSocket, decoder, book — strategy, the full risk gate, the order ring and the real
//! Binance gateway thread sending signed REST orders), its core loop on a thread of its own,
//! pinned and busy-spinning, so its allocations and stalls over the measured window are
//! counted. What runs is [`WireShape`]'s (accounts, symbols, risk settings).
//!
//! A warm-up (every account answers twice) comes before the measured window, so connects,
//! book syncs and first-use paths are not in the figure.

use super::wire_setup::WireShape;
use crate::run::{LiveRun, build_live, client_run_id};
use anyhow::{Context, anyhow};
use qt_core::engine::{Engine, EngineReport};
use qt_core::idle::{IdleStrategy, Idler};
use qt_core::latency::LatencyHistogram;
use qt_core::sys::{self, Pinning};
use qt_core::{Nanos, alloc_count};
use qt_risk::RiskGate;
use qt_venue_sim::bench_probe::{BenchProbe, Outcome, ProbeDriver};
use qt_venue_sim::binance::{BinanceLimits, BinanceSpot};
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::{ServerConfig, VenueSimServer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// The longest the warm-up may take (connects, book syncs, the first answers).
pub const WARMUP_LIMIT: Duration = Duration::from_secs(60);
/// Answers every account gives in the warm-up.
const WARMUP_ANSWERS_PER_ACCOUNT: u64 = 2;
/// Unanswered triggers in a row that end the measurement (the engine no longer answers).
const GIVE_UP_AFTER: u64 = 20;

/// The core thread's phase, set by the bench's thread.
const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const DONE: u8 = 2;

/// What to measure.
#[derive(Debug, Clone)]
pub struct WirePlan {
    /// Rate, accounts, symbols.
    pub shape: WireShape,
    /// Stop after this many answered triggers.
    pub orders: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Pin the core thread here.
    pub cpu: Option<usize>,
}

/// What one measured window gave.
#[derive(Debug)]
pub struct WireMeasured {
    /// Wire-to-wire of every answered trigger, nanoseconds.
    pub wire_to_wire: LatencyHistogram,
    /// Triggers sent in the window.
    pub triggers: u64,
    /// Triggers whose frame went out but no order came within the answer timeout.
    pub no_order: u64,
    /// Triggers whose frame never went out.
    pub no_frame: u64,
    /// Orders that arrived with no trigger waiting for one (late answers, others).
    pub stray_orders: u64,
    /// Triggers of the warm-up.
    pub warmup_triggers: u64,
    /// Length of the window.
    pub elapsed: Nanos,
    /// Market records the engine handled in the window.
    pub events: u64,
    /// Allocations on the core thread in the window.
    pub allocations: u64,
    /// Engine stalls in the window.
    pub stalls: u64,
    /// Whether the counting allocator is installed.
    pub allocations_counted: bool,
    /// How pinning went.
    pub pinning: Pinning,
    /// The engine's own report at the end.
    pub engine: EngineReport,
}

/// A temporary directory for the simulator's CA, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("qt-bench-wire-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the core thread counted.
#[derive(Debug)]
struct CoreOut {
    allocations: u64,
    stalls: u64,
    events: u64,
    pinning: Pinning,
    engine: EngineReport,
}

/// The engine's loop on its own thread, pinned to `cpu`, busy-spinning; the window's counts
/// are taken when `phase` turns [`MEASURING`] and when it turns [`DONE`].
fn core_loop(mut engine: Engine<RiskGate>, phase: &AtomicU8, cpu: Option<usize>) -> CoreOut {
    sys::init_clock();
    let pinning = sys::pin_current_thread(cpu);
    let counters = engine.counters();
    let mut idler = Idler::new(IdleStrategy::BusySpin);
    let start = sys::mono_now();
    let mut window = None;
    loop {
        match phase.load(Ordering::Relaxed) {
            MEASURING if window.is_none() => {
                window = Some((alloc_count::allocations(), counters.stalls.get(), counters.market_events.get()));
            }
            DONE => break,
            _ => {}
        }
        let work = engine.do_work();
        idler.idle(work);
    }
    let now = (alloc_count::allocations(), counters.stalls.get(), counters.market_events.get());
    let (a, s, e) = window.unwrap_or(now);
    let elapsed = sys::mono_now().saturating_sub(start);
    CoreOut {
        allocations: now.0 - a,
        stalls: now.1 - s,
        events: now.2 - e,
        pinning,
        engine: engine.report(pinning, elapsed),
    }
}

/// The bench's side of the window.
#[derive(Debug)]
struct Driven {
    hist: LatencyHistogram,
    triggers: u64,
    no_order: u64,
    no_frame: u64,
    stray_orders: u64,
    warmup_triggers: u64,
    elapsed: Nanos,
}

/// Warm-up, then the measured triggers.
fn drive(driver: &mut ProbeDriver, plan: &WirePlan, phase: &AtomicU8) -> anyhow::Result<Driven> {
    let need = WARMUP_ANSWERS_PER_ACCOUNT * plan.shape.accounts;
    let warm_until = Instant::now() + WARMUP_LIMIT;
    let (mut answered, mut warmup_triggers) = (0, 0);
    while answered < need {
        if Instant::now() >= warm_until {
            anyhow::bail!(
                "--wire: the engine answered {answered} of {warmup_triggers} warm-up triggers within {WARMUP_LIMIT:?} \
                 (needed {need}); see the log above"
            );
        }
        warmup_triggers += 1;
        if let Outcome::Answered(_) = driver.step()? {
            answered += 1;
        }
    }
    phase.store(MEASURING, Ordering::Relaxed);
    let stray0 = driver.probe().stray_orders();
    let mut d = Driven {
        hist: LatencyHistogram::new(),
        triggers: 0,
        no_order: 0,
        no_frame: 0,
        stray_orders: 0,
        warmup_triggers,
        elapsed: Nanos(0),
    };
    let start = Instant::now();
    let deadline = plan.duration.map(|t| start + t);
    let target = plan.orders.unwrap_or(u64::MAX);
    let mut unanswered_in_a_row = 0;
    while d.hist.hdr().len() < target && deadline.is_none_or(|t| Instant::now() < t) {
        d.triggers += 1;
        match driver.step()? {
            Outcome::Answered(w) => {
                d.hist.record(i64::try_from(w.as_nanos()).unwrap_or(i64::MAX));
                unanswered_in_a_row = 0;
                continue;
            }
            Outcome::NoOrder => d.no_order += 1,
            Outcome::NoFrame => d.no_frame += 1,
        }
        unanswered_in_a_row += 1;
        if unanswered_in_a_row >= GIVE_UP_AFTER {
            log::error!("--wire: {GIVE_UP_AFTER} triggers in a row without an order; ending the measurement");
            break;
        }
    }
    d.elapsed = Nanos::from_duration(start.elapsed());
    d.stray_orders = driver.probe().stray_orders() - stray0;
    Ok(d)
}

/// Runs the simulator and the engine, measures per `plan`, stops both.
pub fn measure(plan: &WirePlan) -> anyhow::Result<WireMeasured> {
    let dir = TempDir::new()?;
    let market_config = plan.shape.market().map_err(|e| anyhow!("--wire market: {e}"))?;
    let probe_plan = plan.shape.probe_plan(&market_config).map_err(|e| anyhow!("--wire probe: {e}"))?;
    let market = qt_venue_sim::market::Market::new(market_config).map_err(|e| anyhow!("--wire market: {e}"))?;
    let probe = BenchProbe::new();
    // Each book operation its own diff, sent on the session's next poll (no 100 ms window), so
    // one trigger is one frame.
    let limits = BinanceLimits { diff_interval: Some(Duration::ZERO), ..BinanceLimits::default() };
    let protocol: Arc<dyn Protocol> = Arc::new(BinanceSpot::with_probe(limits, probe.clone()));
    let ca_file = dir.0.join("venue-sim-ca.pem");
    let mut server = VenueSimServer::start(ServerConfig {
        market: market.clone(),
        faults: qt_venue_sim::faults::Faults::new(),
        protocols: vec![(protocol, SocketAddr::from(([127, 0, 0, 1], 0)))],
        ca_file: ca_file.clone(),
    })?;
    let addr = server.addr_of("binance").ok_or_else(|| anyhow!("the simulator serves no binance"))?;
    let mut driver = ProbeDriver::new(probe, market, probe_plan);
    driver.lay_books()?;
    let text = plan.shape.engine_config(addr, &ca_file, plan.cpu);
    let engine_plan = crate::config::load(&text, "qt bench --wire")?;
    let LiveRun { mut engine, clock, pending, gateway_stop, .. } = build_live(&engine_plan, None, client_run_id(None))?;
    clock.release();
    engine.begin_run(0);
    let gateways = LiveRun::start_gateways(pending, &engine_plan, &gateway_stop)?;
    let phase = Arc::new(AtomicU8::new(WARMING));
    let core_phase = phase.clone();
    let cpu = plan.cpu;
    let core = std::thread::Builder::new()
        .name("qt-bench-core".into())
        .spawn(move || core_loop(engine, &core_phase, cpu))
        .map_err(super::BenchError::Thread);
    // Whatever the driving gave, the core, the gateways and the simulator stop.
    let driven = match &core {
        Ok(_) => drive(&mut driver, plan, &phase),
        Err(_) => Err(anyhow!("no core thread")),
    };
    phase.store(DONE, Ordering::Relaxed);
    let core_out = match core {
        Ok(handle) => handle.join().map_err(|_| anyhow!(super::BenchError::CorePanicked)),
        Err(e) => Err(anyhow!(e)),
    };
    gateway_stop.store(true, Ordering::Relaxed);
    for (venue, handle) in gateways {
        if handle.join().is_err() {
            log::error!("the {venue} gateway thread panicked");
        }
    }
    server.shutdown();
    let (driven, core_out) = (driven?, core_out?);
    Ok(WireMeasured {
        wire_to_wire: driven.hist,
        triggers: driven.triggers,
        no_order: driven.no_order,
        no_frame: driven.no_frame,
        stray_orders: driven.stray_orders,
        warmup_triggers: driven.warmup_triggers,
        elapsed: driven.elapsed,
        events: core_out.events,
        allocations: core_out.allocations,
        stalls: core_out.stalls,
        allocations_counted: super::drive::counting_allocator_installed(),
        pinning: core_out.pinning,
        engine: core_out.engine,
    })
}
