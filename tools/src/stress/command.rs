//! `qt stress`'s command line and its top level: which scenarios, the risk configuration under
//! test, the stats file the verdicts are counted in (and its `/metrics` and textfile when the
//! configuration's `[stats]` asks for them), the scratch directory, the exit status.

use super::{RiskUnderTest, SCENARIOS, Selection, find, run_scenarios};
use crate::config;
use std::io::Write;
use std::path::PathBuf;

/// `qt stress`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct StressArgs {
    /// The scenario to run (flash_crash, exchange_outage, stale_feed, ack_latency_spike,
    /// liquidity_drought, correlation_shock, strategy_swap; `-` for `_` accepted).
    #[arg(value_name = "SCENARIO", conflicts_with = "all")]
    pub scenario: Option<String>,
    /// Run all seven, in order.
    #[arg(long)]
    pub all: bool,
    /// List the scenarios and what each checks.
    #[arg(long, conflicts_with_all = ["scenario", "all"])]
    pub list: bool,
    /// Seed of the injected data (same seed, same verdict).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The short form (the test suite's): fewer simulated seconds, the same checks.
    #[arg(long)]
    pub short: bool,
    /// The `qt run` configuration whose risk settings are tested (`[risk]`, `[ess]`,
    /// `[global_risk]`, the first account's profile and limits) and whose `[stats]` says where
    /// the verdicts are exported; default: the embedded default (examples/sim.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The stats file the runs are counted in; default: qt-$USER-stress.stats beside the engine's.
    #[arg(long, value_name = "FILE")]
    pub stats_file: Option<PathBuf>,
    /// No stats file.
    #[arg(long)]
    pub no_stats: bool,
    /// One JSON object per scenario instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Keep every scenario's scratch directory (journals), even when all pass.
    #[arg(long)]
    pub keep: bool,
}

/// Runs `qt stress`; `Ok(false)` when a scenario failed (the exit status says so).
pub fn run(args: &StressArgs, out: &mut dyn Write) -> anyhow::Result<bool> {
    if args.list {
        for s in &SCENARIOS {
            writeln!(out, "{:<20} {}", s.name, s.about)?;
        }
        return Ok(true);
    }
    let which: Vec<usize> = match (&args.scenario, args.all) {
        (Some(name), _) => vec![find(name)?.0],
        (None, true) => (0..SCENARIOS.len()).collect(),
        (None, false) => anyhow::bail!("give a scenario or --all (qt stress --list shows them)"),
    };
    let (text, source) = match &args.config {
        Some(p) => (config::read_file(p)?, p.display().to_string()),
        None => (config::EMBEDDED_DEFAULT.to_string(), "embedded default".to_string()),
    };
    let plan = config::load(&text, &source)?;
    let risk = RiskUnderTest::of(&plan, source);

    let region = if args.no_stats {
        None
    } else {
        let path =
            args.stats_file.clone().unwrap_or_else(|| crate::stat::files::default_dir().join(stress_file_name()));
        let stats = config::StatsPlan { file: Some(path), ..plan.stats.clone() };
        crate::stat::files::open_for_run(&stats)?
    };
    let block = region.as_ref().map(super::stats_block).transpose()?;
    let exporter = match &region {
        Some(r) => crate::run::start_stats_exporter(r, &plan.stats)?,
        None => None,
    };
    let beat = || {
        if let Some(r) = &region {
            r.heartbeat().beat(qt_core::stats::unix_now_ns());
        }
    };
    beat();

    let scratch = tempfile::Builder::new().prefix("qt-stress-").tempdir()?;
    let selection = Selection { which, seed: args.seed, short: args.short };
    let outcomes = run_scenarios(&selection, &risk, scratch.path(), block.as_deref(), args.json, out);
    beat();
    if let Some(e) = exporter {
        e.stop();
    }
    if let (Some(r), Some(textfile)) = (&region, &plan.stats.textfile) {
        let mut source = crate::stat::RegionSource::new(r.clone());
        let mut text = String::new();
        source.render_metrics(&mut text);
        crate::exporter::TextfileWriter::new(textfile.clone(), plan.stats.textfile_interval).write(&text)?;
    }
    let outcomes = outcomes?;
    if args.keep || super::keep_scratch(&outcomes) {
        let kept = scratch.keep();
        if !args.json {
            writeln!(out, "scratch (journals of each scenario): {}", kept.display())?;
        }
    }
    Ok(outcomes.iter().all(|o| o.passed))
}

fn stress_file_name() -> String {
    format!("qt-{}-stress.stats", crate::stat::files::user())
}
