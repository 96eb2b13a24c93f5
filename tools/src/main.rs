//! `qt`: the Quantum Trader command line.
//!
//! `qt run` starts the engine on the configured venues — by default the built-in simulated
//! venue with the embedded configuration (no keys, no network) — and prints a summary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use qt_core::Nanos;
use qt_tools::config::{self, Pace};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Parser)]
#[command(name = "qt", version, about = "Quantum Trader: a low-latency multi-account crypto trading engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine (default: the built-in simulated venue) and print a summary at the end.
    Run {
        /// TOML configuration; without it the embedded default (examples/sim.toml) is used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Simulated time to run, e.g. 30s, 5m (overrides sim.duration).
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<std::time::Duration>,
        /// Seed of the simulated order flow (overrides sim.seed); same seed ⇒ same fills.
        #[arg(long)]
        seed: Option<u64>,
        /// realtime: simulated time follows the wall clock; max: as fast as possible.
        #[arg(long, value_enum)]
        pace: Option<Pace>,
        /// Only check the configuration and print what would run.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_micros()
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, duration, seed, pace, check } => match run(config, duration, seed, pace, check) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                if let Some(cfg) = err.downcast_ref::<config::ConfigError>() {
                    eprint!("{cfg}");
                    return ExitCode::from(2);
                }
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(
    path: Option<PathBuf>,
    duration: Option<std::time::Duration>,
    seed: Option<u64>,
    pace: Option<Pace>,
    check: bool,
) -> anyhow::Result<()> {
    let (text, name) = match &path {
        Some(p) => {
            (std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?, p.display().to_string())
        }
        None => (config::EMBEDDED_DEFAULT.to_string(), "(embedded default: examples/sim.toml)".to_string()),
    };
    let mut plan = config::load(&text, &name)?;
    if let Some(d) = duration {
        plan.sim.duration = Nanos::from_duration(d);
    }
    if let Some(s) = seed {
        plan.sim.seed = s;
    }
    if let Some(p) = pace {
        plan.sim.pace = p;
    }
    log::info!(
        "config {name}: {} instrument(s), {} account(s), {} strateg(ies); simulated venue seed {} for {:.3} s ({:?})",
        plan.instruments.len(),
        plan.accounts.len(),
        plan.strategies.len(),
        plan.sim.seed,
        plan.sim.duration.as_secs_f64(),
        plan.sim.pace
    );
    if check {
        println!("configuration OK");
        return Ok(());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = stop.clone();
    ctrlc::set_handler(move || {
        if on_signal.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    })
    .context("installing the Ctrl-C handler")?;
    let outcome = qt_tools::run::run(plan, Some(stop))?;
    print!("{}", qt_tools::summary::render(&outcome));
    Ok(())
}
