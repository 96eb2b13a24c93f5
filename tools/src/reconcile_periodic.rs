//! A live run's periodic reconciliation (`[engine] reconcile_every`): a thread that, every
//! interval, queries every account's balances on every live venue and compares their change
//! since the run's start with the change of the engine's positions, exactly as the end-of-run
//! reconciliation does ([`crate::reconcile_live::compare`]).
//!
//! Our side comes from the core's position tap ([`qt_core::position::PositionTap`]): the core
//! copies each position it changes onto a bounded ring without waiting, and this thread keeps
//! the latest copy of each. A fill in flight (the venue has it, the core not yet, or the other
//! way round) makes a momentary difference, so a difference *counts* only when the next check
//! finds the same one again (same account, asset and delta; the two sides themselves move as
//! the engine trades): that one is logged at warn and
//! exported as `reconciliation_difference{account}`. If the ring ever overflowed, our picture
//! is incomplete: periodic checks stop (said once, at warn); the end-of-run reconciliation,
//! which reads the engine's own positions, still runs.
//!
//! Off the core thread: allocates, blocks on the venues' REST APIs.

use crate::gateways::{Gateway, GatewaySetup};
use crate::reconcile_live::{
    OurPosition, ReconciliationBlocks, compare, log_differences, publish_reconciliation, venue_snapshot,
};
use qt_core::position::{Position, PositionUpdate};
use qt_core::queue::Consumer;
use qt_core::{AccountId, InstrumentId, InstrumentRegistry};
use qt_risk::reconcile::{AssetAmount, BalanceDiff};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How deep the position tap's ring is: far more position changes than a check interval sees.
pub const TAP_CAPACITY: usize = 1 << 16;

/// How often the thread drains the tap between checks (and notices a stop).
const DRAIN_EVERY: Duration = Duration::from_millis(20);

/// What the periodic checks of a run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodicReport {
    /// The interval.
    pub every: Duration,
    /// Checks that compared (venue answered).
    pub runs: u64,
    /// Checks the venues could not answer.
    pub failed: u64,
    /// The most differences one check found that the check before had found too.
    pub max_persistent: usize,
    /// The tap overflowed: checks stopped.
    pub lost: bool,
}

/// What the thread needs.
#[allow(missing_debug_implementations, reason = "holds a ring end and stats handles; nothing worth printing")]
pub struct PeriodicInputs {
    /// The run's instruments.
    pub instruments: InstrumentRegistry,
    /// Each live gateway and its setup (balance queries).
    pub queries: Vec<(Gateway, GatewaySetup)>,
    /// Every account's balances at the start of the run.
    pub baseline: Vec<AssetAmount>,
    /// The engine's positions at the start of the run (restored ones).
    pub start_positions: Vec<OurPosition>,
    /// The reader's end of the core's position tap.
    pub updates: Consumer<PositionUpdate>,
    /// Raised by the core when the tap overflowed.
    pub lost: Arc<AtomicBool>,
    /// Time between checks.
    pub every: Duration,
    /// Where results are exported (the thread is their only writer while it runs).
    pub blocks: ReconciliationBlocks,
}

/// The running thread.
#[derive(Debug)]
pub struct PeriodicReconciler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(PeriodicReport, ReconciliationBlocks)>,
}

impl PeriodicReconciler {
    /// Starts the thread (`qt-reconcile`); its first check is one interval from now.
    pub fn spawn(inputs: PeriodicInputs) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new().name("qt-reconcile".into()).spawn(move || run(inputs, &flag))?;
        Ok(Self { stop, handle })
    }

    /// Stops and joins it: its report, and the stats blocks back for the end-of-run check.
    pub fn finish(self) -> Option<(PeriodicReport, ReconciliationBlocks)> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.join() {
            Ok(r) => Some(r),
            Err(_) => {
                log::error!("the periodic reconciliation thread panicked");
                None
            }
        }
    }
}

/// The thread: drain the tap, check on the interval, until stopped.
fn run(mut inputs: PeriodicInputs, stop: &AtomicBool) -> (PeriodicReport, ReconciliationBlocks) {
    let mut report = PeriodicReport { every: inputs.every, ..PeriodicReport::default() };
    let mut latest: BTreeMap<(AccountId, InstrumentId), Position> =
        inputs.start_positions.iter().map(|(a, i, p)| ((*a, *i), *p)).collect();
    let mut previous: Vec<BalanceDiff> = Vec::new();
    let mut next = Instant::now() + inputs.every;
    while !stop.load(Ordering::Relaxed) {
        drain(&mut inputs.updates, &mut latest);
        let now = Instant::now();
        if now < next {
            std::thread::sleep(DRAIN_EVERY.min(next - now));
            continue;
        }
        next = now + inputs.every;
        if report.lost {
            continue;
        }
        if inputs.lost.load(Ordering::Relaxed) {
            report.lost = true;
            log::warn!(
                "reconcile (periodic): the core's position copies overflowed their queue; periodic checks stop \
                 (the end-of-run reconciliation still runs)"
            );
            continue;
        }
        let end = match venue_snapshot(&inputs.queries) {
            Ok(end) => end,
            Err((_, e)) => {
                report.failed += 1;
                log::warn!("reconcile (periodic): balances unavailable: {e}");
                continue;
            }
        };
        // Ours after the venue's answer: a fill the venue showed has had the query's round trip
        // to reach the core.
        drain(&mut inputs.updates, &mut latest);
        let ours: Vec<OurPosition> = latest.iter().map(|((a, i), p)| (*a, *i, *p)).collect();
        match compare(&inputs.instruments, &ours, &inputs.start_positions, &inputs.baseline, &end) {
            Ok(rec) => {
                let found: Vec<BalanceDiff> =
                    rec.positions.differences.iter().chain(&rec.balances.differences).cloned().collect();
                let seen_before = |d: &BalanceDiff| previous.iter().any(|p| same_difference(p, d));
                let persistent: Vec<&BalanceDiff> = found.iter().filter(|d| seen_before(d)).collect();
                log_differences("reconcile (periodic)", &rec, seen_before);
                publish_reconciliation(&inputs.blocks, persistent.iter().map(|d| d.account));
                report.max_persistent = report.max_persistent.max(persistent.len());
                report.runs += 1;
                log::debug!(
                    "reconcile (periodic): check {}: {} differences, {} also in the check before",
                    report.runs,
                    found.len(),
                    persistent.len()
                );
                previous = found;
            }
            Err(e) => {
                report.failed += 1;
                log::warn!("reconcile (periodic): cannot compare: {e}");
            }
        }
    }
    (report, inputs.blocks)
}

/// Whether two checks found the same difference: same account, asset and delta (both sides
/// move while the engine trades; a real difference keeps its size).
fn same_difference(a: &BalanceDiff, b: &BalanceDiff) -> bool {
    a.account == b.account && a.asset == b.asset && a.delta == b.delta
}

/// Moves every update on the tap into `latest`.
fn drain(updates: &mut Consumer<PositionUpdate>, latest: &mut BTreeMap<(AccountId, InstrumentId), Position>) {
    while let Ok(u) = updates.pop() {
        latest.insert((u.account, u.instrument), u.position);
    }
}
