//! `qt run` trading over real sockets against the venue simulator's Binance spot protocol:
//! TLS WebSocket market data synced by Binance's procedure, signed REST orders, fills from the
//! user data stream — and the product's reconciliation (`GET /api/v3/account` at start and stop)
//! finds no difference, while a trade made on the account behind the engine's back is reported.

mod util;

use qt_core::{
    AccountId, Instrument, InstrumentId, InstrumentSpec, Notional, OrderType, Price, Rate, Side, TimeInForce, Venue,
};
use qt_gateway::sim::flow::FlowParams;
use qt_gateway::sim::matching::FeeSchedule;
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::{AccountConfig, ClientOrderRequest, Market, MarketConfig, SymbolConfig};
use qt_venue_sim::server::{RunningServer, ServerConfig, VenueSimServer};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the simulated Binance (one account: 1 000 000 USDT, 10 BTC) and writes a `qt run`
/// config pointing at it.
fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let (server, market, path, _) = venue_with_faults(tag);
    (server, market, path)
}

/// [`venue`], with the simulator's fault switches.
fn venue_with_faults(tag: &str) -> (RunningServer, Arc<Market>, PathBuf, Arc<Faults>) {
    let dir = std::env::temp_dir().join(format!("qt-live-binance-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let spec = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001").with_min_notional("5");
    let instrument = Instrument::from_spec(InstrumentId(0), &spec).unwrap();
    let flow = FlowParams {
        start_mid: Some(Price::from_units(6_500_000)),
        events_per_sec: 2000.0,
        fair_vol_ticks: 60.0,
        size_median_lots: 2000.0,
        ..FlowParams::default()
    };
    let market = Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument, flow }],
        fees: FeeSchedule { maker: Rate::from_bps(2), taker: Rate::from_bps(5) },
        accounts: vec![AccountConfig {
            api_key: "live-test-key".into(),
            secret: "live-test-secret".into(),
            balances: vec![("USDT".into(), "1000000".into()), ("BTC".into(), "10".into())],
        }],
        seed: 11,
    })
    .unwrap();
    let faults = Faults::new();
    let server = VenueSimServer::start(ServerConfig {
        market: market.clone(),
        faults: faults.clone(),
        protocols: vec![(Arc::new(BinanceSpot::default()), "127.0.0.1:0".parse().unwrap())],
        ca_file: ca.clone(),
    })
    .unwrap();
    let addr = server.addr_of("binance").unwrap();

    let config = include_str!("../../examples/binance-venue-sim.toml")
        .replace("https://127.0.0.1:9443", &format!("https://{addr}"))
        .replace("wss://127.0.0.1:9443", &format!("wss://{addr}"))
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", ca.display().to_string()))
        .replace("qt-sim-key-1", "live-test-key")
        .replace("qt-sim-secret-1", "live-test-secret")
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"");
    let path = dir.join("live.toml");
    std::fs::write(&path, config).unwrap();
    (server, market, path, faults)
}

/// `qt run` on `path` in a scratch working directory (its journal goes there; keep the
/// [`util::Scratch`] until the run is over).
fn qt_run(path: &PathBuf) -> (Command, util::Scratch) {
    let (mut cmd, cwd) = util::qt_command();
    cmd.args(["run", "--duration", "6s", "--config"]).arg(path);
    (cmd, cwd)
}

/// The summary's `reconcile <what>: N compared, M differences` figures.
fn reconcile_line(stdout: &str, what: &str) -> (u64, u64) {
    let l = stdout.lines().find(|l| l.trim_start().starts_with(&format!("reconcile {what}"))).unwrap();
    let rest = l.rsplit_once(": ").unwrap().1;
    let mut w = rest.split_whitespace();
    let compared = w.next().unwrap().parse().unwrap();
    let differences = w.nth(1).unwrap().parse().unwrap();
    (compared, differences)
}

const POSITIONS: &str = "positions vs venue base-asset balances";
const BALANCES: &str = "balances vs venue";

#[test]
fn trades_against_the_simulated_binance_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("live venues: binance"), "{stdout}");

    let figure = |line: &str, label: &str| figure_of(&stdout, line, label);
    assert!(figure("market", "events") > 1000, "{stdout}");
    assert!(figure("orders", "sent") > 0, "{stdout}");
    assert!(figure("orders", "fills") > 0, "{stdout}");
    assert_eq!(figure("orders", "rejects"), 0, "{stdout}");

    // Reconciliation: the engine's position equals the venue's BTC balance change.
    let pos_text = stdout
        .lines()
        .find(|l| l.contains("BTCUSDT") && l.contains(" pos "))
        .and_then(|l| l.split_once(" pos ").map(|x| x.1.split_whitespace().next().unwrap().to_string()))
        .unwrap();
    let position = Notional::parse(&pos_text).unwrap();
    let balances = market.balances(AccountId(0));
    let btc = balances.iter().find(|b| b.asset == "BTC").unwrap();
    let venue_change = btc.free.checked_add(btc.locked).unwrap().checked_sub(Notional::parse("10").unwrap()).unwrap();
    assert_eq!(position, venue_change, "engine position {pos_text} vs venue balance change\n{stdout}");
    // ... and the product itself says so, for the position and for both assets' balances.
    assert_eq!(reconcile_line(&stdout, POSITIONS), (1, 0), "{stdout}");
    let (compared, differences) = reconcile_line(&stdout, BALANCES);
    assert!(compared >= 2 && differences == 0, "{stdout}");
    server.shutdown();
}

#[test]
fn a_trade_behind_the_engines_back_is_reported_as_a_difference() {
    let (mut server, market, path) = venue("moved");
    let (child, _cwd) = spawn_until_it_trades(&path, &market);
    // Its start snapshot is taken: sell 0.001 BTC on the same account outside the engine (the
    // gateway ignores other clients' order events).
    let req = ClientOrderRequest {
        client_order_id: Some("outside-the-engine-1".into()),
        side: Side::Sell,
        order_type: OrderType::Market,
        tif: TimeInForce::Ioc,
        price: None,
        qty: qt_core::Qty::from_units(100),
    };
    market.submit(AccountId(0), 0, req).unwrap();
    let out: Output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(figure_of(&stdout, "orders", "fills") > 0, "{stdout}");
    assert_eq!(reconcile_line(&stdout, POSITIONS), (1, 1), "{stdout}");
    let (_, differences) = reconcile_line(&stdout, BALANCES);
    assert_eq!(differences, 2, "BTC and USDT both moved: {stdout}");
    let btc_line = stdout.lines().find(|l| l.contains(" BTC: ours ")).unwrap();
    assert!(btc_line.trim_end().ends_with("delta -0.001"), "{btc_line}");
    server.shutdown();
}

#[test]
fn the_summary_shows_feed_health_a_sequence_skip_is_a_gap_and_a_resync_of_its_book() {
    let (mut server, market, path, faults) = venue_with_faults("skip");
    // Once the engine trades its book is synced: then one diff skips a sequence number and one
    // frame arrives malformed.
    let (child, cwd) = spawn_until_it_trades(&path, &market);
    faults.skip_sequence(1);
    std::thread::sleep(Duration::from_millis(500));
    faults.malformed_frames(1);
    let out: Output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    // Per venue connection: the decoder's counters, parse errors by reason.
    let feed = stdout.lines().find(|l| l.trim_start().starts_with("feed ")).expect("a feed line");
    assert!(feed.contains("binance:BTCUSDT"), "{stdout}");
    assert!(figure_of(&stdout, "feed", "messages") > 100, "{stdout}");
    assert!(figure_of(&stdout, "feed", "gaps") >= 1, "{stdout}");
    assert!(figure_of(&stdout, "feed", "resyncs") >= 1, "{stdout}");
    assert_eq!(figure_of(&stdout, "feed", "crossed"), 0, "{stdout}");
    assert!(feed.contains("parse errors 1 (json 1)"), "{feed}");
    // Per book: the same gap, the resync it caused, and the time the book was invalid.
    let book = stdout.lines().find(|l| l.trim_start().starts_with("book ")).expect("a book line");
    assert!(book.contains("binance BTCUSDT"), "{stdout}");
    assert!(figure_of(&stdout, "book", "gaps") >= 1, "{stdout}");
    assert!(figure_of(&stdout, "book", "resyncs") >= 1, "{stdout}");
    assert!(figure_of(&stdout, "book", "messages") > 100, "{stdout}");
    assert!(book.contains("time invalid"), "{book}");
    server.shutdown();
    // The live run's journal, with its gap, resync and malformed frame, replays identically.
    util::assert_replays(&cwd.0.join("journal"));
}

/// Starts `qt run` on `path` (output piped) and waits (up to 30 s) until the engine has traded
/// on the account (its BTC balance moved).
fn spawn_until_it_trades(path: &PathBuf, market: &Market) -> (std::process::Child, util::Scratch) {
    let (mut cmd, cwd) = qt_run(path);
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let start_btc = Notional::parse("10").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let btc = || market.balances(AccountId(0)).into_iter().find(|b| b.asset == "BTC").unwrap();
    while btc().free.checked_add(btc().locked).unwrap() == start_btc && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, cwd)
}

fn figure_of(stdout: &str, line: &str, label: &str) -> u64 {
    let l = stdout.lines().find(|l| l.trim_start().starts_with(line)).unwrap();
    let rest = l.split_once(&format!(" {label} ")).unwrap().1;
    rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
}

/// Runs `qt run` with the config's `"live-test-<what>"` replaced by `wrong`: it must stop at
/// start with an error naming the venue, the account and Binance's `code`, never printing
/// `wrong`, and nothing may trade.
fn refused_at_start(what: &str, wrong: &str, code: &str) {
    let (mut server, market, path) = venue(&format!("bad-{what}"));
    let config =
        std::fs::read_to_string(&path).unwrap().replace(&format!("\"live-test-{what}\""), &format!("{wrong:?}"));
    assert!(config.contains(wrong));
    std::fs::write(&path, config).unwrap();
    let started = Instant::now();
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(started.elapsed() < Duration::from_secs(6), "stopped at start, not after the run's 6 s");
    let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(error.contains("binance") && error.contains("account \"alpha\""), "{error}");
    assert!(error.contains(code) && error.contains("no order was sent"), "{error}");
    assert!(!stdout.contains(wrong) && !stderr.contains(wrong), "the {what} is never printed");
    assert!(!stdout.contains("run summary"), "{stdout}");
    // Nothing was traded on the account.
    let total = |asset: &str| {
        let b = market.balances(AccountId(0)).into_iter().find(|b| b.asset == asset).unwrap();
        b.free.checked_add(b.locked).unwrap()
    };
    assert_eq!((total("BTC"), total("USDT")), (Notional::parse("10").unwrap(), Notional::parse("1000000").unwrap()));
    server.shutdown();
}

#[test]
fn a_wrong_api_secret_stops_the_run_before_the_first_order() {
    // The key is the account's, the secret is not: the listen key opens (it needs the key
    // only), and the first signed request — the start-up account query — is refused.
    refused_at_start("secret", "not-the-live-test-secret-7f3a", "-1022");
}

#[test]
fn an_unknown_api_key_stops_the_run_at_start() {
    // Refused already when the gateway creates the listen key.
    refused_at_start("key", "not-the-live-test-key-7f3a", "-2015");
}

#[test]
fn fills_whose_fee_cannot_be_known_are_counted_in_the_summary() {
    let (mut server, _market, path) = venue("fee-unknown");
    // Every user data stream message arrives unreadable, so each fill is found by querying the
    // order, and the trade list that would give its commission fails.
    server.faults.malformed_account_frames(u32::MAX / 2);
    server.faults.fail_http_path("/api/v3/myTrades", u32::MAX / 2, 500);
    let (mut cmd, cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let fills = figure_of(&stdout, "gateway", "fills");
    assert!(fills > 0, "{stdout}");
    let fee_line = stdout.lines().find(|l| l.trim_start().starts_with("fees")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(fee_line.contains("binance: fills with unknown fee"), "{fee_line}");
    assert_eq!(figure_of(&stdout, "fees", "fee"), fills, "every fill's fee is unknown: {stdout}");
    // The fees the venue charged and we could not book show in the balance reconciliation.
    assert_eq!(reconcile_line(&stdout, POSITIONS), (1, 0), "{stdout}");
    assert!(reconcile_line(&stdout, BALANCES).1 >= 1, "{stdout}");
    server.shutdown();
    // Fills found by query with unknown fees: the replay takes them from the journal too.
    util::assert_replays(&cwd.0.join("journal"));
}
