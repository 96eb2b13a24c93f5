//! `qt`: the Quantum Trader command line.
//!
//! `qt run` starts the engine on the configured venues — by default the built-in simulated
//! venue with the embedded configuration (no keys, no network) — and prints a summary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use qt_core::Nanos;
use qt_tools::config::{self, Pace};
use qt_tools::control::{FateUnknown, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Counts allocations per thread (a thin forward to the system allocator): `qt bench` reports
/// the core thread's.
#[global_allocator]
static GLOBAL: qt_core::alloc_count::CountingAllocator = qt_core::alloc_count::CountingAllocator;

#[derive(Debug, Parser)]
#[command(name = "qt", version, about = "Quantum Trader: a low-latency multi-account crypto trading engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log line format: text, or JSON lines (also `[log] format` in a run's configuration;
    /// json wins when either asks). `RUST_LOG` filters as usual.
    #[arg(long, value_enum, global = true, value_name = "FORMAT")]
    log_format: Option<qt_tools::logging::LogFormat>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Latency benchmark of the real engine path: a venue's frames → its decoder → book →
    /// strategy → risk gate → order on the gateway ring, on a pinned busy-spinning core;
    /// tick→order percentiles, throughput, allocations and stalls (see BENCHMARKS.md).
    Bench(qt_tools::bench::BenchArgs),
    /// Stress scenarios: inject a flash crash, an exchange outage, a stale or gapped feed, an
    /// order-ack latency spike, a liquidity drought, a correlation shock or a strategy swap into
    /// the real engine and judge its risk behaviour (PASS/FAIL with the reason) under the risk
    /// configuration of --config. Exit status 1 when a scenario fails.
    Stress(qt_tools::stress::StressArgs),
    /// Run the engine (default: the built-in simulated venue) and print a summary at the end.
    /// SIGINT (Ctrl-C), SIGTERM or SIGHUP stop it cleanly (summary, exit 0); a second one exits at once.
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
        /// Journal directory (overrides [journal] dir). A simulated run writes a fresh folder
        /// of its own under it; a live run continues the journal there.
        #[arg(long, value_name = "DIR", conflicts_with = "no_journal")]
        journal: Option<PathBuf>,
        /// Do not journal this run (nothing is recorded; for throwaway runs).
        #[arg(long)]
        no_journal: bool,
        /// Stats file (overrides [stats] file; default qt-$USER.stats in /dev/shm). Watch it
        /// with `qt stat`.
        #[arg(long, value_name = "FILE", conflicts_with = "no_stats")]
        stats_file: Option<PathBuf>,
        /// Do not write a stats file this run.
        #[arg(long)]
        no_stats: bool,
        /// Serve GET /metrics and /health/* on this address (overrides [stats] listen).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
        /// Print a status line this often on stderr even when it is not a terminal (on a
        /// terminal one comes every 5 s anyway), e.g. 1s.
        #[arg(long, value_name = "EVERY", value_parser = humantime::parse_duration, conflicts_with = "quiet")]
        progress: Option<std::time::Duration>,
        /// No status line, even on a terminal.
        #[arg(long)]
        quiet: bool,
    },
    /// Show a running (or stopped) engine's numbers from its stats file: values, rates per
    /// second, latency percentiles, per account and per venue. A stopped engine's file shows its
    /// last values and "stale since …".
    Stat {
        /// The stats file; default: qt-$USER.stats in /dev/shm if its engine is live, else the
        /// only live qt-*.stats there.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Refresh every interval (e.g. 1s) until interrupted.
        #[arg(long, value_parser = humantime::parse_duration, value_name = "INTERVAL")]
        watch: Option<std::time::Duration>,
        /// One JSON object per refresh instead of the table.
        #[arg(long)]
        json: bool,
        /// Only metrics whose name or labels contain WORD.
        #[arg(long, value_name = "WORD")]
        filter: Option<String>,
    },
    /// Replay a capture (one raw venue message per line) through the venue's decoder and book;
    /// print the top of book per message, checksum verdicts, and counts of gaps and errors.
    FeedCheck {
        /// Venue whose messages the file holds (binance, binance_usdm, bybit, kucoin, firi, okx,
        /// kraken). For kraken give the pair's precisions as --price-decimals/--qty-decimals
        /// (its checksum formats numbers at them).
        #[arg(long, required_unless_present = "journal")]
        venue: Option<qt_core::Venue>,
        /// Symbols (comma-separated); default: those found in the file.
        #[arg(long, value_delimiter = ',')]
        symbols: Vec<String>,
        /// Decimals prices are held at (at least the most any message carries).
        #[arg(long, default_value_t = 8)]
        price_decimals: u8,
        /// Decimals quantities are held at.
        #[arg(long, default_value_t = 8)]
        qty_decimals: u8,
        /// A REST snapshot for a symbol, as SYMBOL=FILE (repeatable), for venues that sync from one.
        #[arg(long)]
        snapshot: Vec<String>,
        /// Print only the final counts.
        #[arg(long)]
        quiet: bool,
        /// Check the raw frames a live run journaled (`[journal] raw_frames = true`) instead of a
        /// capture file: the journal directory (its last run; venue and symbols from its
        /// configuration).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["venue", "symbols", "snapshot", "file"])]
        journal: Option<PathBuf>,
        /// With --journal: the feed index (the order of [[venues]]); without it the feeds are listed.
        #[arg(long, requires = "journal")]
        feed: Option<usize>,
        /// The capture.
        #[arg(required_unless_present = "journal")]
        file: Option<PathBuf>,
    },
    /// Record raw messages (and REST snapshots) from a live connection into a capture folder,
    /// through the venue's live feed (its connect flow, subscriptions, heartbeat and resync).
    Capture {
        /// Venue (binance, binance_usdm, bybit, okx, kucoin, kraken, firi).
        #[arg(long)]
        venue: qt_core::Venue,
        /// Symbols (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        symbols: Vec<String>,
        /// WebSocket base URL, e.g. wss://127.0.0.1:9443 (the venue simulator); unused by kucoin
        /// (its bullet answer names the endpoint) and firi (REST only).
        #[arg(long, default_value = "")]
        ws_url: String,
        /// REST base URL, e.g. https://127.0.0.1:9443 (snapshots: binance, binance_usdm, kucoin;
        /// polls: firi).
        #[arg(long, default_value = "")]
        rest_url: String,
        /// Trust only this CA (the simulator's venue-sim-ca.pem).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// TLS server name when the URL host is an IP (localhost for the simulator).
        #[arg(long)]
        server_name: Option<String>,
        /// How long to record.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
        duration: std::time::Duration,
        /// Firi: time between depth polls.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "500ms")]
        poll_interval: std::time::Duration,
        /// Decimals prices are held at while recording (kraken: the pair's price precision,
        /// which its checksum formats numbers at; give feed-check the same).
        #[arg(long, default_value_t = 8)]
        price_decimals: u8,
        /// Decimals quantities are held at while recording (kraken: the pair's qty precision).
        #[arg(long, default_value_t = 8)]
        qty_decimals: u8,
        /// Output folder (frames.jsonl; snapshot-synced venues also `snapshot_<SYMBOL>.json`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Talk to the running engine's emergency stop through its control socket (ess.control_socket).
    /// Exit status: 0 carried out; 1 refused or not delivered; 3 delivered but not confirmed (its
    /// fate is unknown: the current status is printed).
    Ess {
        #[command(subcommand)]
        action: EssAction,
        /// The engine's configuration (for the socket path and the reset secret); default: embedded.
        #[arg(long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        /// Control socket (overrides ess.control_socket).
        #[arg(long, value_name = "PATH", global = true)]
        socket: Option<PathBuf>,
    },
    /// Change a running strategy through the engine's control socket (ess.control_socket).
    /// Exit status as `qt ess`: 0 carried out; 1 refused or not delivered; 3 fate unknown.
    Strategy {
        #[command(subcommand)]
        action: StrategyAction,
        /// The engine's configuration (the socket path, the strategies and their instruments);
        /// default: embedded.
        #[arg(long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        /// Control socket (overrides ess.control_socket).
        #[arg(long, value_name = "PATH", global = true)]
        socket: Option<PathBuf>,
    },
    /// Re-drive a journal through the same engine code and check every intent, risk decision
    /// and order against the recorded ones (exit 1 at the first difference, shown side by side).
    /// With --config, a backtest: the recorded market data through other settings.
    Replay {
        /// The journal directory (a simulated run's folder, or a live run's journal).
        dir: PathBuf,
        /// Backtest: run this configuration's strategies and risk over the recorded market data
        /// through the in-process matching engine and print the run summary.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// max, realtime, or a factor like 10x (of recorded domain time).
        #[arg(long, default_value = "max")]
        speed: qt_tools::replay::Speed,
        /// Stop after this journal sequence.
        #[arg(long, value_name = "SEQ")]
        until: Option<u64>,
        /// Skip damaged records (reported) instead of stopping at the first.
        #[arg(long)]
        skip_corrupt: bool,
    },
    /// GO-LIVE gate: check the configuration, keys, journal, risk state, venues (TLS, clock
    /// skew, instrument grids) and metrics port; one PASS/FAIL/SKIP line per check, exit 1 if
    /// any fails.
    Preflight {
        /// TOML configuration; without it the embedded default.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the checks as a JSON array.
        #[arg(long)]
        json: bool,
        /// Largest clock difference to a venue accepted, e.g. 500ms.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
        max_skew: std::time::Duration,
        /// Least free space in the journal directory, bytes.
        #[arg(long, default_value_t = qt_tools::preflight::DEFAULT_MIN_FREE)]
        min_free: u64,
        /// Metrics address the run will listen on, checked bindable (e.g. 127.0.0.1:9184).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
    },
    /// Read a journal directory (read-only; safe on a running engine's journal).
    Journal {
        #[command(subcommand)]
        action: JournalAction,
    },
    /// Print what our gateway signs and sends for one request: the exact string to sign, the
    /// signature and the headers (with --ws: the WebSocket login payload), through the gateways'
    /// own signers. For a venue answering "invalid signature". The secret is never printed.
    Sign(SignCli),
    /// Run the venue simulator: a local TLS exchange speaking Binance spot and Bybit v5 (orders and
    /// market data) and the public market data of Binance USD-M, OKX v5, KuCoin, Kraken WS v2 and
    /// Firi (each when given a listen address, or all with --all), until Ctrl-C or SIGTERM.
    /// The CA file is written once every listener is bound; its absolute path is printed.
    VenueSim {
        /// TOML configuration; without it the embedded default (examples/venue-sim.toml) is used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where to write the CA certificate clients must trust (overrides ca_file).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Binance listen address (overrides binance_listen), e.g. 127.0.0.1:0 for any free port.
        #[arg(long)]
        binance: Option<std::net::SocketAddr>,
        /// Bybit listen address (overrides bybit_listen).
        #[arg(long)]
        bybit: Option<std::net::SocketAddr>,
        /// OKX listen address (overrides okx_listen; serves OKX v5 public market data).
        #[arg(long)]
        okx: Option<std::net::SocketAddr>,
        /// Kraken listen address (overrides kraken_listen; serves Kraken WS v2 market data).
        #[arg(long)]
        kraken: Option<std::net::SocketAddr>,
        /// Binance USD-M listen address (overrides binance_usdm_listen).
        #[arg(long)]
        binance_usdm: Option<std::net::SocketAddr>,
        /// KuCoin listen address (overrides kucoin_listen).
        #[arg(long)]
        kucoin: Option<std::net::SocketAddr>,
        /// Firi listen address (overrides firi_listen).
        #[arg(long)]
        firi: Option<std::net::SocketAddr>,
        /// Serve every venue's protocol: those without an address on any free loopback port.
        #[arg(long)]
        all: bool,
        /// Stop after this long (default: run until Ctrl-C).
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<std::time::Duration>,
    },
}

/// `qt sign`'s arguments (secrets are accepted on the command line by this command only; they
/// are parsed straight into `Secret`, so `Debug` of the command line never shows them).
#[derive(Debug, clap::Args)]
struct SignCli {
    /// binance, binance_usdm, bybit, okx, kucoin, kraken or firi.
    #[arg(long)]
    venue: qt_core::Venue,
    /// The API secret; `-` reads it from standard input (keeps it out of the shell history).
    #[arg(long, value_parser = qt_tools::sign::parse_secret)]
    secret: qt_tools::sign::Secret,
    /// The API key (required where it is signed: bybit REST, binance --ws).
    #[arg(long)]
    key: Option<String>,
    /// The key's passphrase (okx, kucoin).
    #[arg(long, value_parser = qt_tools::sign::parse_secret)]
    passphrase: Option<qt_tools::sign::Secret>,
    /// Epoch ms (binance, bybit, kucoin; bybit --ws: expires), ISO-8601 or epoch ms (okx REST),
    /// epoch s (okx --ws, firi); kraken: the nonce.
    #[arg(long)]
    timestamp: String,
    /// HTTP method; binance --ws: the WebSocket API method (default userDataStream.subscribe.signature).
    #[arg(long)]
    method: Option<String>,
    /// Request path, e.g. /api/v3/order (REST).
    #[arg(long)]
    path: Option<String>,
    /// Request body exactly as sent.
    #[arg(long, conflicts_with = "query")]
    body: Option<String>,
    /// Query string without '?'; binance --ws: the WS-API parameters (name=value&...).
    #[arg(long)]
    query: Option<String>,
    /// Sign the WebSocket login (binance: a WS-API request) instead of a REST request.
    #[arg(long)]
    ws: bool,
    /// Receive window, ms (binance, binance_usdm, bybit; default 5000).
    #[arg(long)]
    recv_window: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum JournalAction {
    /// Records per type, sequence and time range, segments, and any damage found (where).
    Stats {
        /// The journal directory.
        dir: PathBuf,
    },
    /// One line per record (frame fields and the decoded payload); --json: JSON lines.
    Dump {
        /// The journal directory.
        dir: PathBuf,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Only records of this type (market_event, order_command, execution_report, risk_decision, ...).
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Only sequences at or above.
        #[arg(long)]
        from: Option<u64>,
        /// Only sequences at or below.
        #[arg(long)]
        to: Option<u64>,
        /// Only order commands, execution reports and risk decisions of this account (records
        /// without an account are dropped).
        #[arg(long, value_name = "ID")]
        account: Option<u16>,
    },
    /// The last records (as dump prints them); --follow: then every record committed after them,
    /// across segment rolls, waiting for a journal not created yet, until SIGINT/SIGTERM.
    Tail {
        /// The journal directory.
        dir: PathBuf,
        /// Keep printing records as the writer commits them.
        #[arg(short, long)]
        follow: bool,
        /// Start with the last N records the filters admit.
        #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
        last: usize,
        /// Start at this sequence instead of the last N records.
        #[arg(long, value_name = "SEQ", conflicts_with = "last")]
        from: Option<u64>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Only records of this type (market_event, order_command, execution_report, risk_decision, ...).
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Only order commands, execution reports and risk decisions of this account.
        #[arg(long, value_name = "ID")]
        account: Option<u16>,
    },
}

#[derive(Debug, Subcommand)]
enum EssAction {
    /// Trip the emergency stop: halt, cancel all, flatten, latch.
    Trigger {
        /// Why (logged and counted as a manual trigger).
        #[arg(long)]
        reason: String,
    },
    /// Reset a latched stop with a token signed by the configured secret (logged with who/when).
    Reset {
        /// Who is resetting.
        #[arg(long)]
        operator: String,
    },
    /// Print the stop's state, trigger counts and the global risk level.
    Status,
}

#[derive(Debug, Subcommand)]
enum StrategyAction {
    /// Replace a running strategy's parameters and version while it trades: its positions stay
    /// with the account and its working orders are handed to the new version (or cancelled
    /// first: --policy cancel_replace). Journaled; shown in the run summary.
    Swap {
        /// The strategy: its configured name, or ACCOUNT/NAME.
        name: String,
        /// The version it becomes (greater than the running one).
        #[arg(long)]
        version: u32,
        /// A new parameter as the configuration writes it (qty, max_position, threshold, levels,
        /// cooldown, rest_for), e.g. --param qty=0.04 --param cooldown=50ms; repeatable.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// What happens to its working orders: hand_over or cancel_replace (default: the
        /// configuration's engine.swap_policy).
        #[arg(long)]
        policy: Option<String>,
    },
}

fn main() -> ExitCode {
    qt_tools::logging::init();
    let cli = Cli::parse();
    qt_tools::logging::set_format(qt_tools::logging::choose(cli.log_format, Default::default()));
    match cli.command {
        Command::Run {
            config,
            duration,
            seed,
            pace,
            check,
            journal,
            no_journal,
            stats_file,
            no_stats,
            metrics,
            progress,
            quiet,
        } => exit(run(
            config,
            duration,
            seed,
            pace,
            check,
            JournalChoice { dir: journal, off: no_journal },
            StatsChoice { file: stats_file, off: no_stats, metrics, progress, quiet },
        )),
        Command::Stat { file, watch, json, filter } => {
            let args = qt_tools::stat::StatArgs { file, watch, json, filter };
            exit(qt_tools::stat::run(&args, &mut std::io::stdout().lock()))
        }
        Command::Ess { action, config, socket } => exit(ess(action, config, socket)),
        Command::Strategy { action, config, socket } => exit(strategy(action, config, socket)),
        Command::Journal { action } => exit(journal(action)),
        Command::Preflight { config, json, max_skew, min_free, metrics } => {
            let args = qt_tools::preflight::PreflightArgs { config, max_skew, min_free, metrics };
            let checks = qt_tools::preflight::run(&args);
            if json {
                println!("{}", qt_tools::preflight::to_json(&checks));
            } else {
                print!("{}", qt_tools::preflight::to_text(&checks));
            }
            if qt_tools::preflight::any_failed(&checks) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        Command::Replay { dir, config, speed, until, skip_corrupt } => {
            let args = qt_tools::replay::ReplayArgs { dir, speed, until, skip_corrupt };
            exit(replay(args, config))
        }
        Command::VenueSim {
            config,
            ca_file,
            binance,
            bybit,
            okx,
            kraken,
            binance_usdm,
            kucoin,
            firi,
            all,
            duration,
        } => {
            use qt_core::Venue;
            let listens = [
                (Venue::Binance, binance),
                (Venue::Bybit, bybit),
                (Venue::Okx, okx),
                (Venue::Kraken, kraken),
                (Venue::BinanceUsdm, binance_usdm),
                (Venue::Kucoin, kucoin),
                (Venue::Firi, firi),
            ];
            exit(venue_sim(config, ca_file, &listens, all, duration))
        }
        Command::Sign(cli) => exit(sign(cli)),
        Command::Bench(args) => exit(qt_tools::bench::run(&args, &mut std::io::stdout().lock())),
        Command::Stress(args) => match qt_tools::stress::command::run(&args, &mut std::io::stdout().lock()) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => match exit(Err(e)) {
                // A scenario's FAIL is 1; an error before any scenario ran is never taken for it.
                code if code == ExitCode::FAILURE => ExitCode::from(2),
                code => code,
            },
        },
        Command::FeedCheck { venue, symbols, price_decimals, qty_decimals, snapshot, quiet, journal, feed, file } => {
            exit(match (journal, venue, file) {
                (Some(dir), ..) => feed_check_journal(&dir, feed, price_decimals, qty_decimals, quiet),
                (None, Some(venue), Some(file)) => {
                    feed_check(venue, symbols, price_decimals, qty_decimals, snapshot, quiet, file)
                }
                _ => Err(anyhow::anyhow!("give --venue and a capture file, or --journal DIR")),
            })
        }
        Command::Capture {
            venue,
            symbols,
            ws_url,
            rest_url,
            ca_file,
            server_name,
            duration,
            poll_interval,
            price_decimals,
            qty_decimals,
            out,
        } => {
            let target = qt_tools::venues::FeedTarget {
                ws_url,
                rest_url,
                ca_file,
                server_name,
                poll_interval: Some(poll_interval),
            };
            exit(capture(venue, &target, &symbols, (price_decimals, qty_decimals), duration, &out))
        }
    }
}

fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(cfg) = err.downcast_ref::<config::ConfigError>() {
                eprint!("{cfg}");
                return ExitCode::from(2);
            }
            if err.downcast_ref::<FateUnknown>().is_some() {
                // Already explained, with the current status.
                return ExitCode::from(qt_tools::control::client::EXIT_FATE_UNKNOWN);
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn sign(cli: SignCli) -> anyhow::Result<()> {
    let stdin = &mut std::io::stdin().lock();
    let args = qt_tools::sign::SignArgs {
        venue: cli.venue,
        secret: qt_tools::sign::secret_from(cli.secret, stdin)?,
        key: cli.key,
        passphrase: cli.passphrase,
        timestamp: cli.timestamp,
        method: cli.method,
        path: cli.path,
        body: cli.body,
        query: cli.query,
        ws: cli.ws,
        recv_window: cli.recv_window,
    };
    print!("{}", qt_tools::sign::run(&args)?);
    Ok(())
}

fn read_config(path: &Option<PathBuf>, embedded: &str, embedded_name: &str) -> anyhow::Result<(String, String)> {
    Ok(match path {
        Some(p) => (config::read_file(p)?, p.display().to_string()),
        None => (embedded.to_string(), embedded_name.to_string()),
    })
}

fn feed_check(
    venue: qt_core::Venue,
    symbols: Vec<String>,
    price_decimals: u8,
    qty_decimals: u8,
    snapshot: Vec<String>,
    quiet: bool,
    file: PathBuf,
) -> anyhow::Result<()> {
    use qt_tools::feed_check as fc;
    let symbols = if symbols.is_empty() { fc::symbols_in(&file, venue)? } else { symbols };
    let instruments = fc::capture_instruments(venue, &symbols, price_decimals, qty_decimals)?;
    let snapshots = fc::read_snapshots(&snapshot)?;
    let reader =
        std::io::BufReader::new(std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let mut sink = std::io::sink();
    let out: &mut dyn std::io::Write = if quiet { &mut sink } else { &mut lock };
    // The book depth a capture's topics name (Bybit `orderbook.{depth}.…`); else the default.
    let depth = fc::bybit_depth_in(&file)?.unwrap_or(0);
    let summary = fc::check(venue, &instruments, reader, &snapshots, depth, out)?;
    if quiet {
        println!("{summary}");
    }
    Ok(())
}

/// `qt feed-check --journal DIR [--feed N]`.
fn feed_check_journal(
    dir: &std::path::Path,
    feed: Option<usize>,
    price_decimals: u8,
    qty_decimals: u8,
    quiet: bool,
) -> anyhow::Result<()> {
    use qt_tools::feed_check_journal as fj;
    let Some(feed) = feed else {
        let found = fj::read(dir)?;
        let feeds = fj::feeds(&found, dir)?;
        print!("feeds of the last run in {} (give one with --feed N):\n{}", dir.display(), fj::list(&feeds));
        return Ok(());
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let mut sink = std::io::sink();
    let out: &mut dyn std::io::Write = if quiet { &mut sink } else { &mut lock };
    let summary = fj::check(dir, feed, price_decimals, qty_decimals, out)?;
    if quiet {
        println!("{summary}");
    }
    Ok(())
}

/// `qt capture`: the venue's live feed from the registry, recorded ([`qt_tools::capture`]).
fn capture(
    venue: qt_core::Venue,
    target: &qt_tools::venues::FeedTarget,
    symbols: &[String],
    decimals: (u8, u8),
    duration: std::time::Duration,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let entry = qt_tools::venues::require(venue)?;
    if !entry.capture {
        anyhow::bail!("{venue} cannot be captured (capture: {})", qt_tools::venues::names(|e| e.capture));
    }
    for (needed, url, flag) in
        [(entry.endpoints.ws, &target.ws_url, "--ws-url"), (entry.endpoints.rest, &target.rest_url, "--rest-url")]
    {
        if needed && url.is_empty() {
            anyhow::bail!("{flag} is required for {venue}");
        }
    }
    let c = qt_tools::capture::capture(entry, target, symbols, decimals, duration, out)?;
    println!("recorded {} messages to {}", c.messages, c.frames.display());
    if let Some(s) = c.stats.filter(|s| s.resyncs > 0) {
        println!(
            "the feed resynced {} times while recording (gaps {}, checksum failures {}, parse errors {}){}",
            s.resyncs,
            s.gaps,
            s.checksum_failed,
            s.parse_errors,
            if s.checksum_failed > 0 {
                ": a checksum venue needs the pair's --price-decimals/--qty-decimals"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The engine's configuration (`--config` or the embedded default) and its control socket
/// (`--socket` or `ess.control_socket`).
fn control_target(path: Option<PathBuf>, socket: Option<PathBuf>) -> anyhow::Result<(config::Plan, PathBuf)> {
    let (text, name) = read_config(&path, config::EMBEDDED_DEFAULT, "(embedded default: examples/sim.toml)")?;
    let plan = config::load(&text, &name)?;
    let socket = socket
        .or(plan.ess.control_socket.clone())
        .context("no control socket: set ess.control_socket in the config or pass --socket")?;
    Ok((plan, socket))
}

fn ess(action: EssAction, path: Option<PathBuf>, socket: Option<PathBuf>) -> anyhow::Result<()> {
    let (plan, socket) = control_target(path, socket)?;
    let line = match action {
        EssAction::Trigger { reason } => format!("trigger {}", reason.replace(['\n', '\r'], " ")),
        EssAction::Reset { operator } => {
            let secret = plan.ess.secret.as_deref().context(
                "no reset secret: set ess.reset_secret_file or ess.reset_secret_env in the config the engine runs with",
            )?;
            qt_tools::control::reset_line(secret, &operator)?
        }
        EssAction::Status => "status".to_string(),
    };
    control_request(&socket, &line)
}

fn strategy(action: StrategyAction, path: Option<PathBuf>, socket: Option<PathBuf>) -> anyhow::Result<()> {
    let (plan, socket) = control_target(path, socket)?;
    let StrategyAction::Swap { name, version, params, policy } = action;
    let policy = match policy {
        Some(p) => qt_core::strategy::swap::SwapPolicy::from_name(&p)
            .with_context(|| format!("--policy {p:?}: expected hand_over or cancel_replace"))?,
        None => plan.swap_policy,
    };
    let line = qt_tools::control::swap::swap_line(&plan, &name, version, policy, &params)?;
    control_request(&socket, &line)
}

/// Sends one control request and says what became of it: printed when carried out, an error
/// when refused, and when its fate is unknown the engine's status too.
fn control_request(socket: &std::path::Path, line: &str) -> anyhow::Result<()> {
    let verb = line.split(' ').next().unwrap_or_default().to_string();
    match qt_tools::control::request(socket, line)? {
        Outcome::Done(text) => {
            println!("{text}");
            Ok(())
        }
        Outcome::Refused(text) => anyhow::bail!("{text}"),
        // Never "failed" for what may have been applied: say so and show where things stand.
        Outcome::Unknown(why) => {
            let unknown = FateUnknown { verb, why };
            eprintln!("{unknown}");
            match qt_tools::control::request(socket, "status") {
                Ok(Outcome::Done(status)) => eprintln!("status now: {status}"),
                Ok(Outcome::Refused(why) | Outcome::Unknown(why)) => eprintln!("status not available: {why}"),
                Err(e) => eprintln!("status not available: {e:#}"),
            }
            Err(unknown.into())
        }
    }
}

fn replay(args: qt_tools::replay::ReplayArgs, config: Option<PathBuf>) -> anyhow::Result<()> {
    use qt_tools::replay;
    if let Some(path) = config {
        let text = config::read_file(&path)?;
        let plan = config::load(&text, &path.display().to_string())?;
        let outcome = replay::backtest::run(&args, plan)?;
        println!(
            "Backtest: the market data recorded in {} through {} (the recorded book does not react to \
             our orders; queue position not modelled)",
            args.dir.display(),
            path.display()
        );
        print!("{}", qt_tools::summary::render(&outcome));
        return Ok(());
    }
    let outcome = replay::replay(&args)?;
    print!("{}", replay::render(&outcome));
    if outcome.divergence.is_some() {
        anyhow::bail!("the replay of {} diverged from the journal", args.dir.display());
    }
    Ok(())
}

fn journal(action: JournalAction) -> anyhow::Result<()> {
    use qt_tools::journal_inspect as ji;
    match action {
        JournalAction::Stats { dir } => {
            let summary = ji::stats(&dir)?;
            print!("{}", ji::render_stats(&dir, &summary));
            if summary.damage.is_some() {
                anyhow::bail!("the journal in {} is damaged (see DAMAGE above)", dir.display());
            }
            Ok(())
        }
        JournalAction::Dump { dir, json, kind, from, to, account } => {
            let filter = ji::DumpFilter { kind: kind.as_deref().map(ji::parse_type).transpose()?, from, to, account };
            let stdout = std::io::stdout();
            quiet_on_broken_pipe(ji::dump(&dir, &filter, json, &mut stdout.lock()).map(drop))
        }
        JournalAction::Tail { dir, follow, last, from, json, kind, account } => {
            let filter = ji::DumpFilter {
                kind: kind.as_deref().map(ji::parse_type).transpose()?,
                account,
                ..Default::default()
            };
            let opts = qt_tools::journal_tail::TailOptions { last, from, follow, json, filter };
            let stop = if follow {
                qt_tools::signals::stop_on_signal("journal tail")?
            } else {
                std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            quiet_on_broken_pipe(qt_tools::journal_tail::tail(&dir, &opts, &stop, &mut out).map(drop))
        }
    }
}

/// `qt journal dump DIR | head`: the reader went away, which is not an error.
fn quiet_on_broken_pipe(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if qt_tools::journal_inspect::is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn venue_sim(
    path: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    listens: &[(qt_core::Venue, Option<std::net::SocketAddr>)],
    all: bool,
    duration: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    let (text, name) =
        read_config(&path, qt_tools::venue_sim::EMBEDDED_DEFAULT, "(embedded default: examples/venue-sim.toml)")?;
    let mut plan = qt_tools::venue_sim::load(&text, &name)?;
    if let Some(ca) = ca_file {
        plan.ca_file = ca;
    }
    for (venue, addr) in listens {
        if let Some(a) = addr {
            plan.set_listen(*venue, *a);
        }
    }
    if all {
        plan.serve_all();
    }
    let stop = qt_tools::signals::stop_on_signal("the venue simulator")?;
    let mut server = qt_tools::venue_sim::start(&plan)?;
    for (venue, addr) in &server.addrs {
        println!("{venue:<12} https://{addr}  wss://{addr}");
    }
    println!("ca_file      {}", server.ca_file.display());
    for a in &plan.market.accounts {
        println!("account  api_key {}  secret {}", a.api_key, a.secret);
    }
    let started = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) && duration.is_none_or(|d| started.elapsed() < d) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.shutdown();
    Ok(())
}

/// `qt run`'s stats flags.
#[derive(Debug)]
struct StatsChoice {
    /// `--stats-file F`.
    file: Option<PathBuf>,
    /// `--no-stats`.
    off: bool,
    /// `--metrics ADDR`.
    metrics: Option<std::net::SocketAddr>,
    /// `--progress EVERY`.
    progress: Option<std::time::Duration>,
    /// `--quiet`.
    quiet: bool,
}

/// `qt run`'s journal flags.
#[derive(Debug)]
struct JournalChoice {
    /// `--journal DIR`.
    dir: Option<PathBuf>,
    /// `--no-journal`.
    off: bool,
}

fn run(
    path: Option<PathBuf>,
    duration: Option<std::time::Duration>,
    seed: Option<u64>,
    pace: Option<Pace>,
    check: bool,
    journal: JournalChoice,
    stats: StatsChoice,
) -> anyhow::Result<()> {
    let (text, name) = read_config(&path, config::EMBEDDED_DEFAULT, "(embedded default: examples/sim.toml)")?;
    let mut plan = config::load(&text, &name)?;
    if plan.log_format == qt_tools::logging::LogFormat::Json {
        qt_tools::logging::set_format(plan.log_format);
    }
    qt_tools::logging::set_service(&plan.accounts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(","));
    if let Some(d) = duration {
        plan.sim.duration = Nanos::from_duration(d);
    }
    if let Some(s) = seed {
        plan.sim.seed = s;
    }
    if let Some(p) = pace {
        plan.sim.pace = p;
    }
    if journal.off {
        plan.journal = None;
    } else if let Some(dir) = journal.dir {
        match &mut plan.journal {
            Some(j) => j.dir = dir,
            None => anyhow::bail!("--journal {}: [journal] enabled = false in the configuration", dir.display()),
        }
    }
    if stats.off {
        plan.stats.enabled = false;
    } else if let Some(f) = stats.file {
        plan.stats.enabled = true;
        plan.stats.file = Some(f);
    }
    // The status line: forced by --progress, else every 5 s on a terminal, never with --quiet.
    use std::io::IsTerminal;
    plan.stats.progress = match (stats.quiet, stats.progress) {
        (true, _) => None,
        (false, Some(every)) => Some(every.max(std::time::Duration::from_millis(100))),
        (false, None) => std::io::stderr().is_terminal().then_some(std::time::Duration::from_secs(5)),
    };
    if let Some(addr) = stats.metrics {
        plan.stats.listen = Some(addr);
    }
    let target = if plan.is_live() {
        let at = |v: &config::VenuePlan| if v.rest_url.is_empty() { v.ws_url.clone() } else { v.rest_url.clone() };
        let venues: Vec<String> = plan.venues.iter().map(|v| format!("{} at {}", v.venue, at(v))).collect();
        format!("live venues {} for {:.3} s", venues.join(", "), plan.sim.duration.as_secs_f64())
    } else {
        format!(
            "simulated venue seed {} for {:.3} s ({:?})",
            plan.sim.seed,
            plan.sim.duration.as_secs_f64(),
            plan.sim.pace
        )
    };
    log::info!(
        "config {name}: {} instrument(s), {} account(s), {} strateg(ies); {target}",
        plan.instruments.len(),
        plan.accounts.len(),
        plan.strategies.len(),
    );
    if check {
        println!("configuration OK");
        return Ok(());
    }
    // SIGINT, SIGTERM and SIGHUP stop the run cleanly (summary, exit 0); a second one exits now.
    let stop = qt_tools::signals::stop_on_signal("the run")?;
    let outcome =
        if plan.is_live() { qt_tools::run::run_live(plan, Some(stop))? } else { qt_tools::run::run(plan, Some(stop))? };
    print!("{}", qt_tools::summary::render(&outcome));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `qt sign` takes secrets on its command line; the parsed command line never shows them.
    #[test]
    fn the_sign_command_line_hides_its_secrets_in_debug() {
        #[rustfmt::skip]
        let cli = Cli::try_parse_from(["qt", "sign", "--venue", "okx", "--secret", "s3cr3t-x", "--passphrase", "pp-y",
            "--timestamp", "1", "--ws"]).unwrap();
        let shown = format!("{cli:?}");
        assert!(shown.contains("Sign") && !shown.contains("s3cr3t-x") && !shown.contains("pp-y"), "{shown}");
    }
}
