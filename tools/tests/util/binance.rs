//! The simulated Binance spot venue (in this process, over real TLS sockets) and a `qt run`
//! configuration pointing at it, with the summary readers the live tests share.

use qt_core::{AccountId, Notional, Price, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_test_support::sim::{sim_config, start_sim_config};
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the simulated Binance (one account: 1 000 000 USDT, 10 BTC) and writes a `qt run`
/// config pointing at it (`live.toml`, with the CA file `ca.pem` next to it).
pub(crate) fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let (server, market, path, _) = venue_with_faults(tag);
    (server, market, path)
}

/// [`venue`], with the simulator's fault switches.
pub(crate) fn venue_with_faults(tag: &str) -> (RunningServer, Arc<Market>, PathBuf, Arc<Faults>) {
    venue_holding(tag, &[("USDT", "1000000"), ("BTC", "10")])
}

/// [`venue_with_faults`] whose account starts with `balances`.
pub(crate) fn venue_holding(
    tag: &str,
    balances: &[(&str, &str)],
) -> (RunningServer, Arc<Market>, PathBuf, Arc<Faults>) {
    let market = spot_market(Venue::Binance, balances, 11);
    let example = include_str!("../../../examples/binance-venue-sim.toml");
    let (server, path) = serve_example(tag, &market, Arc::new(BinanceSpot::default()), "binance", example, &[]);
    let faults = server.faults.clone();
    (server, market, path, faults)
}

/// The one-symbol market the single-venue live tests trade: BTCUSDT spot (lot 0.00001, min
/// notional 5) around 65000 at 2000 events/s, fees 2/5 bps, one account `live-test-key` /
/// `live-test-secret` holding `balances`.
pub(crate) fn spot_market(venue: Venue, balances: &[(&str, &str)], seed: u64) -> Arc<Market> {
    let instrument =
        TestInstrument::spot(venue, "BTCUSDT").assets("BTC", "USDT").lot("0.00001").min_notional("5").build(0);
    MarketBuilder::new()
        .symbol_with_flow(instrument, brisk_flow())
        .fees_bps(2, 5)
        .account("live-test-key", "live-test-secret", balances)
        .seed(seed)
        .build()
}

/// Serves `market` with `protocol` (named `name`) and writes the example config `example` as
/// `live.toml` pointing at it (the CA file `ca.pem` next to it, in a folder of `name` and
/// `tag`): the example's `127.0.0.1:<port>` of `name` becomes the simulator's address, its
/// test keys the market's, its strategies' cooldown 50 ms and its reconciliation every second;
/// then each `(from, to)` of `more`.
pub(crate) fn serve_example(
    tag: &str,
    market: &Arc<Market>,
    protocol: Arc<dyn qt_venue_sim::protocol::Protocol>,
    name: &str,
    example: &str,
    more: &[(&str, &str)],
) -> (RunningServer, PathBuf) {
    let dir = std::env::temp_dir().join(format!("qt-live-{name}-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The CA goes next to the config: tests that build a gateway config of their own find it there.
    let mut sim = sim_config(market.clone(), vec![protocol]);
    sim.ca_file = dir.join("ca.pem");
    let server = start_sim_config(sim);
    let ca = server.ca_file.clone();
    let addr = server.addr_of(name).unwrap();
    let listen = example
        .split("https://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|port| format!("127.0.0.1:{port}"))
        .unwrap();
    let mut config = example
        .replace(&listen, &addr.to_string())
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", ca.display().to_string()))
        .replace("qt-sim-key-1", "live-test-key")
        .replace("qt-sim-secret-1", "live-test-secret")
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"")
        .replace("reconcile_every = \"60s\"", "reconcile_every = \"1s\"");
    for (from, to) in more {
        config = config.replace(from, to);
    }
    let path = dir.join("live.toml");
    std::fs::write(&path, config).unwrap();
    (server, path)
}

/// BTCUSDT's flow in the live tests: mid 65000, 2000 events/s, wide moves, large sizes (a
/// strategy finds imbalances to trade often).
pub(crate) fn brisk_flow() -> FlowParams {
    FlowParams {
        start_mid: Some(Price::from_units(6_500_000)),
        events_per_sec: 2000.0,
        fair_vol_ticks: 60.0,
        size_median_lots: 2000.0,
        ..FlowParams::default()
    }
}

/// `qt run` on `path` in a scratch working directory (its journal goes there; keep the
/// [`super::Scratch`] until the run is over).
pub(crate) fn qt_run(path: &PathBuf) -> (Command, super::Scratch) {
    qt_run_for(path, "6s")
}

/// [`qt_run`] lasting `duration` (at most: a SIGTERM ends it sooner, see [`stop`]).
pub(crate) fn qt_run_for(path: &PathBuf, duration: &str) -> (Command, super::Scratch) {
    let (mut cmd, cwd) = super::qt_command();
    cmd.args(["run", "--duration", duration, "--config"]).arg(path);
    (cmd, cwd)
}

/// Ends a running `qt run` as an operator would (SIGTERM: it stops cleanly, prints its summary
/// and exits 0) and collects its output.
pub(crate) fn stop(child: std::process::Child) -> std::process::Output {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success(), "SIGTERM to qt run {}", child.id());
    child.wait_with_output().expect("qt run's output")
}

/// The summary's `reconcile <what>: N compared, M differences` figures.
pub(crate) fn reconcile_line(stdout: &str, what: &str) -> (u64, u64) {
    let l = stdout.lines().find(|l| l.trim_start().starts_with(&format!("reconcile {what}"))).unwrap();
    let rest = l.rsplit_once(": ").unwrap().1;
    let mut w = rest.split_whitespace();
    let compared = w.next().unwrap().parse().unwrap();
    let differences = w.nth(1).unwrap().parse().unwrap();
    (compared, differences)
}

/// Starts `qt run` on `path` (output piped) and waits (up to 30 s) until the engine has traded
/// on the account (its BTC balance moved).
pub(crate) fn spawn_until_it_trades(path: &PathBuf, market: &Market) -> (std::process::Child, super::Scratch) {
    spawn_cmd_until_it_trades(qt_run(path), market)
}

/// [`spawn_until_it_trades`] for a `qt run` command of the test's own.
pub(crate) fn spawn_cmd_until_it_trades(
    (mut cmd, cwd): (Command, super::Scratch),
    market: &Market,
) -> (std::process::Child, super::Scratch) {
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let start_btc = Notional::parse("10").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let btc = || market.balances(AccountId(0)).into_iter().find(|b| b.asset == "BTC").unwrap();
    while btc().free.checked_add(btc().locked).unwrap() == start_btc && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, cwd)
}

/// The engine's position in `symbol` as the summary's ` pos ` column gives it.
pub(crate) fn position_of(stdout: &str, symbol: &str) -> Notional {
    stdout
        .lines()
        .find(|l| l.contains(symbol) && l.contains(" pos "))
        .and_then(|l| l.split_once(" pos ").map(|x| x.1.split_whitespace().next().unwrap().to_string()))
        .map(|t| Notional::parse(&t).unwrap())
        .unwrap_or_else(|| panic!("no position line for {symbol}: {stdout}"))
}

pub(crate) fn figure_of(stdout: &str, line: &str, label: &str) -> u64 {
    let l = stdout.lines().find(|l| l.trim_start().starts_with(line)).unwrap();
    let rest = l.split_once(&format!(" {label} ")).unwrap().1;
    rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
}

/// The checks of a single-venue spot run (`qt run` on `path`, the venue named `venue` serving
/// `market`'s BTCUSDT as `symbol`, the account starting with 10 BTC): it succeeded, sent
/// orders that filled and none was refused, the venue's BTC balance moved as the engine's
/// position did, and the reconciliation of positions and balances found no difference.
pub(crate) fn run_trades_and_reconciles(path: &PathBuf, market: &Market, venue: &str, symbol: &str) -> String {
    let (mut cmd, _cwd) = qt_run(path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("live venues: {venue}")), "{stdout}");
    assert!(figure_of(&stdout, "orders", "sent") > 0, "{stdout}");
    assert!(figure_of(&stdout, "orders", "fills") > 0, "{stdout}");
    assert_eq!(figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");
    assert!(figure_of(&stdout, "gateway", "fills") > 0, "{stdout}");
    let pos = position_of(&stdout, symbol);
    let btc = market.balances(AccountId(0)).into_iter().find(|b| b.asset == "BTC").unwrap();
    let btc_change = btc.free.checked_add(btc.locked).unwrap().checked_sub(Notional::parse("10").unwrap()).unwrap();
    assert_eq!(pos, btc_change, "{stdout}");
    assert_eq!(reconcile_line(&stdout, "positions vs venue base-asset balances"), (1, 0), "{stdout}");
    let (compared, differences) = reconcile_line(&stdout, "balances vs venue");
    assert!(compared >= 2 && differences == 0, "{stdout}");
    stdout.into_owned()
}
