//! `qt bench`: the latency benchmark of the real engine path.
//!
//! Raw venue frame bytes (the venue's generated standard stream, looped) → the venue's decoder
//! → book → strategy (the imbalance taker, order-heavy) → the full risk gate → the order on the
//! gateway ring, on one pinned core with a busy-spin idle policy. Per order it records
//! tick→order — from the moment the frame's bytes were available ([`report::FROM`]) to the
//! moment the order was on the ring ([`report::TO`]), the same two timestamps as the run
//! summary's tick→order — and prints p50/p90/p99/p99.9/p99.99/max, throughput, the core
//! thread's allocations and stalls.
//!
//! Split by role: [`args`] (the command line), [`cores`] (which CPU), [`drive`] (the measured
//! loop), [`report`] (the table and JSON), [`hgrm`] (HdrHistogram's percentile distribution),
//! [`compare`] (two saved runs side by side). The engine wiring, the frame feed and the
//! streams are the benches' own (`qt_benches::frame_venues`), shared with criterion.
//!
//! `--wire` ([`wire`], set up by [`wire_setup`]) measures instead wire-to-wire through loopback
//! TLS: the venue simulator (in-process, Binance spot) writes a trigger frame → the live engine
//! answers → the simulator parses the order's request head; reported under its own heading,
//! never as tick→order.

pub mod args;
pub mod compare;
pub mod cores;
pub mod drive;
pub mod hgrm;
pub mod report;
pub mod wire;
pub mod wire_setup;

pub use args::{BenchArgs, Rate};

use qt_benches::frame_feed::Pace;
use qt_core::sys::Pinning;
use qt_core::{Nanos, Venue};
use std::io::Write;
use std::time::Duration;

/// How long a run measures when neither `--duration` nor `--orders` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// The longest a run given only `--orders` measures (a risk configuration that blocks every
/// order must not make it run forever).
pub const ORDERS_TIME_CAP: Duration = Duration::from_secs(600);

/// Significant digits of the latency histogram (`qt_core::latency::LatencyHistogram`'s).
const SIGFIG: u8 = 3;

/// Why `qt bench` could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The venue has no generated stream.
    #[error(
        "--venue {0}: no generated stream for this venue (binance, binance_usdm, bybit, okx, kucoin, kraken, firi)"
    )]
    NoStream(Venue),
    /// The core thread could not start.
    #[error("could not start the core thread: {0}")]
    Thread(std::io::Error),
    /// The core thread panicked.
    #[error("the core thread panicked")]
    CorePanicked,
    /// A saved run could not be read.
    #[error("--compare {0}: {1}")]
    Read(String, std::io::Error),
    /// A saved run is not `qt bench --json` output.
    #[error("--compare {0}: not a saved `qt bench --json` run: {1}")]
    NotARun(String, serde_json::Error),
    /// `--wire` with a venue it does not drive.
    #[error(
        "--wire --venue {0}: wire-to-wire is built for binance (spot) only: the simulator's bench probe times \
         Binance's depthUpdate frames and POST /api/v3/order; run --wire without --venue, or {0} without --wire"
    )]
    WireVenue(Venue),
    /// `--wire` with a rate past what the accounts allow.
    #[error("{0}")]
    WireRate(String),
}

/// Runs `qt bench` with `args`, printing to `out`.
pub fn run(args: &BenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(files) = &args.compare {
        let [a, b] = [&files[0], &files[1]];
        let names = [a.display().to_string(), b.display().to_string()];
        let text = compare::side_by_side(&compare::load(a)?, &compare::load(b)?, [&names[0], &names[1]]);
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    let configured = match &args.config {
        Some(path) => {
            let text = crate::config::read_file(path)?;
            crate::config::load(&text, &path.display().to_string())?.engine.cpu
        }
        None => None,
    };
    let choice = cores::choose_here(args.core, configured);
    let duration = match (args.duration, args.orders) {
        (None, None) => Some(DEFAULT_DURATION),
        (None, Some(_)) => Some(ORDERS_TIME_CAP),
        (Some(d), _) => Some(d),
    };
    if args.wire {
        return run_wire(args, choice, duration, out);
    }
    let rate = args.rate.unwrap_or(Rate::Max);
    let pace = match rate {
        Rate::Max => Pace::Max,
        Rate::PerSecond(n) => Pace::Interval(Nanos((1_000_000_000 / n.max(1)).max(1) as i64)),
    };
    let plan = drive::DrivePlan {
        venue: args.venue,
        pace,
        warmup_frames: args.warmup,
        orders: args.orders,
        duration,
        cpu: choice.cpu,
    };
    let measured = drive::measure(&plan)?;
    if let Pinning::Failed(cpu) = measured.pinning {
        log::warn!("could not pin the core thread to CPU {cpu}; measured unpinned");
    }
    let label = report::RunLabel {
        venue: args.venue.name().to_string(),
        rate: rate.to_string(),
        cpu: choice.cpu,
        cpu_source: choice.source,
    };
    let report = report::BenchReport::new(&label, &measured);
    write_out(args, &report, measured.tick_to_order.hdr(), out)
}

/// `qt bench --wire`.
fn run_wire(
    args: &BenchArgs,
    choice: cores::CoreChoice,
    duration: Option<Duration>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if args.venue != Venue::Binance {
        return Err(BenchError::WireVenue(args.venue).into());
    }
    let asked = args.rate.map(|r| match r {
        Rate::Max => u64::MAX,
        Rate::PerSecond(n) => n,
    });
    let shape = wire_setup::WireShape {
        gateway_busy_spin: args.gateway_busy_spin,
        ..wire_setup::WireShape::for_rate(asked).map_err(BenchError::WireRate)?
    };
    let plan = wire::WirePlan { shape, orders: args.orders, duration, cpu: choice.cpu };
    let measured = wire::measure(&plan)?;
    if let Pinning::Failed(cpu) = measured.pinning {
        log::warn!("could not pin the core thread to CPU {cpu}; measured unpinned");
    }
    let label = report::RunLabel {
        venue: args.venue.name().to_string(),
        rate: Rate::PerSecond(shape.rate).to_string(),
        cpu: choice.cpu,
        cpu_source: choice.source,
    };
    let report = report::BenchReport::wire(&label, &measured, &shape);
    write_out(args, &report, measured.wire_to_wire.hdr(), out)
}

/// Writes `--hgrm` (the distribution of `hist`) and prints `report` as JSON or as the table.
fn write_out(
    args: &BenchArgs,
    report: &report::BenchReport,
    hist: &hdrhistogram::Histogram<u64>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if let Some(path) = &args.hgrm {
        let text = hgrm::percentile_distribution(hist, SIGFIG);
        std::fs::write(path, text).map_err(|e| anyhow::anyhow!("--hgrm {}: {e}", path.display()))?;
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
    } else {
        out.write_all(report.to_text().as_bytes())?;
    }
    Ok(())
}
