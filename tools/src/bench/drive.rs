//! The in-process measurement: one thread, pinned, busy-spinning, running the real engine loop
//! (`Engine::do_work`) over a venue's frames ([`qt_benches::frame_venues::frame_engine`]) and
//! serving the venue rings after every iteration.
//!
//! Per order it records tick→order: the order's `sent_local_ns` (the core's monotonic clock
//! read just before the order is pushed onto the gateway ring) minus the triggering frame's
//! stamp (when its bytes were available: the loop iteration's clock read at `--rate max`, the
//! frame's scheduled time at a fixed rate) — the same two timestamps the run summary's
//! tick→order uses (`MarketEvent::local_ns` → `sent_local_ns`). Each loop iteration decodes at
//! most one frame, so the orders taken off the ring after it were triggered by that frame.
//!
//! Allocations and stalls are counted over the measured window on this thread; the iterations
//! that resync the decoder at the end of each lap of the stream (cold, like a reconnect) are
//! counted apart.

use super::BenchError;
use qt_benches::frame_feed::{FrameProbe, Pace};
use qt_core::alloc_count;
use qt_core::engine::EngineReport;
use qt_core::idle::{IdleStrategy, Idler};
use qt_core::latency::LatencyHistogram;
use qt_core::sys::{self, Pinning};
use qt_core::{Nanos, OrderCommand, Venue};
use std::time::Duration;

/// What to measure.
#[derive(Debug, Clone)]
pub struct DrivePlan {
    /// The venue whose decoder reads the frames.
    pub venue: Venue,
    /// How frames are offered.
    pub pace: Pace,
    /// Frames before measuring.
    pub warmup_frames: u64,
    /// Stop after this many timed orders.
    pub orders: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Pin here.
    pub cpu: Option<usize>,
}

/// What one measured window gave.
#[derive(Debug)]
pub struct Measured {
    /// Tick→order of every timed order, nanoseconds.
    pub tick_to_order: LatencyHistogram,
    /// Timed frames decoded in the window.
    pub frames: u64,
    /// Market records the engine handled in the window.
    pub events: u64,
    /// Orders taken off the ring in the window that no timed frame triggered (resync polls).
    pub untimed_orders: u64,
    /// Length of the window.
    pub elapsed: Nanos,
    /// Allocations on the core thread in the window, resync iterations excluded.
    pub allocations: u64,
    /// Engine stalls (busy iterations longer than its stall threshold) in the window, resync
    /// iterations excluded.
    pub stalls: u64,
    /// Resyncs (laps of the stream) in the window.
    pub resyncs: u64,
    /// Allocations in resync iterations.
    pub resync_allocations: u64,
    /// Stalls in resync iterations.
    pub resync_stalls: u64,
    /// Whether the counting allocator is installed (else allocations read 0).
    pub allocations_counted: bool,
    /// How pinning went.
    pub pinning: Pinning,
    /// The engine's own report at the end (risk tally, its tick→order, feed counters).
    pub engine: EngineReport,
}

/// Whether the counting allocator is this process's global allocator.
pub(crate) fn counting_allocator_installed() -> bool {
    let before = alloc_count::allocations();
    let probe = std::hint::black_box(vec![0u8; 64]);
    drop(probe);
    alloc_count::allocations() > before
}

/// Runs `plan` on a new thread (pinned there) and returns its figures.
pub fn measure(plan: &DrivePlan) -> Result<Measured, BenchError> {
    let plan = plan.clone();
    let thread = std::thread::Builder::new()
        .name("qt-bench-core".into())
        .spawn(move || run_pinned(&plan))
        .map_err(BenchError::Thread)?;
    thread.join().map_err(|_| BenchError::CorePanicked)?
}

/// Counts kept in the window.
#[derive(Debug, Default)]
struct Tally {
    timed_orders: u64,
    untimed_orders: u64,
    resync_allocations: u64,
    resync_stalls: u64,
}

fn run_pinned(plan: &DrivePlan) -> Result<Measured, BenchError> {
    sys::init_clock();
    let pinning = sys::pin_current_thread(plan.cpu);
    let (mut engine, mut venue, probe) =
        qt_benches::frame_venues::frame_engine(plan.venue, plan.pace).ok_or(BenchError::NoStream(plan.venue))?;
    let counters = engine.counters();
    let mut idler = Idler::new(IdleStrategy::BusySpin);
    let mut hist = LatencyHistogram::new();
    let allocations_counted = counting_allocator_installed();

    while probe.frames() < plan.warmup_frames {
        let work = engine.do_work();
        let _ = probe.take_stamp();
        venue.serve(|_| {});
        idler.idle(work);
    }

    probe.start_pacing();
    let deadline = plan.duration.map(|d| sys::mono_now().saturating_add(Nanos::from_duration(d)));
    let order_target = plan.orders.unwrap_or(u64::MAX);
    let mut tally = Tally::default();
    let (frames0, syncs0, events0) = (probe.frames(), probe.syncs(), counters.market_events.get());
    let (stalls0, allocs0) = (counters.stalls.get(), alloc_count::allocations());
    let start = sys::mono_now();
    let mut iterations = 0u64;
    loop {
        let (stalls_before, allocs_before) = (counters.stalls.get(), alloc_count::allocations());
        let work = engine.do_work();
        let stamp = probe.take_stamp();
        if stamp == FrameProbe::SYNC {
            tally.resync_stalls += counters.stalls.get() - stalls_before;
            tally.resync_allocations += alloc_count::allocations() - allocs_before;
        }
        venue.serve(|command| {
            let OrderCommand::New { sent_local_ns, .. } = command else { return };
            if stamp > FrameProbe::SYNC {
                hist.record(sent_local_ns.0 - stamp);
                tally.timed_orders += 1;
            } else {
                tally.untimed_orders += 1;
            }
        });
        idler.idle(work);
        iterations += 1;
        if tally.timed_orders >= order_target {
            break;
        }
        if iterations.is_multiple_of(64) && deadline.is_some_and(|d| sys::mono_now() >= d) {
            break;
        }
    }
    let elapsed = sys::mono_now().saturating_sub(start);
    let allocations = alloc_count::allocations() - allocs0;
    let stalls = counters.stalls.get() - stalls0;
    Ok(Measured {
        frames: probe.frames() - frames0,
        events: counters.market_events.get() - events0,
        untimed_orders: tally.untimed_orders,
        elapsed,
        allocations: allocations - tally.resync_allocations,
        stalls: stalls - tally.resync_stalls,
        resyncs: probe.syncs() - syncs0,
        resync_allocations: tally.resync_allocations,
        resync_stalls: tally.resync_stalls,
        allocations_counted,
        pinning,
        engine: engine.report(pinning, elapsed),
        tick_to_order: hist,
    })
}
