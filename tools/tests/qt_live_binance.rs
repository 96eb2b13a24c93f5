//! `qt run` trading over real sockets against the venue simulator's Binance spot protocol:
//! TLS WebSocket market data synced by Binance's procedure, signed REST orders, fills from the
//! user data stream — and the product's reconciliation (`GET /api/v3/account` at start and stop)
//! finds no difference, while a trade made on the account behind the engine's back is reported.

mod util;
use util::binance::{figure_of, qt_run, reconcile_line, venue, venue_holding, venue_with_faults};
use util::binance::{qt_run_for, spawn_cmd_until_it_trades, stop};

use qt_test_support::{WAIT, wait_until_taken};

use qt_core::{AccountId, Notional, OrderType, Side, TimeInForce};
use qt_venue_sim::market::ClientOrderRequest;
use std::process::Output;
use std::time::{Duration, Instant};

const POSITIONS: &str = "positions vs venue base-asset balances";
const BALANCES: &str = "balances vs venue";
/// How long a run goes on after the simulator sent its last fault: the engine reads, counts and
/// resyncs within milliseconds; this is the margin for a loaded machine.
const AFTER_THE_FAULTS: Duration = Duration::from_secs(3);

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
    // The checks during the run (every second) agreed too.
    let (checks, persistent) = periodic_line(&stdout);
    assert!(checks >= 2, "{stdout}");
    assert_eq!(persistent, 0, "{stdout}");
    server.shutdown();
}

#[test]
fn an_account_starts_from_what_its_venue_holds_capped_by_its_starting_equity() {
    // 4 000 USDT at the venue, starting_equity 10 000: the account's capital is 4 000.
    let (mut server, _market, path, _) = venue_holding("capital", &[("USDT", "4000"), ("BTC", "10")]);
    let (mut cmd, cwd) = qt_run_for(&path, "3s");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("capital alpha: 4000 USDT, what its venues hold (starting_equity 10000 is a cap)"),
        "{stdout}"
    );
    server.shutdown();
    // The capital is a journaled input: the run replays identically, and the record is there.
    let journal = cwd.0.join("journal");
    util::assert_replays(&journal);
    let (mut dump, _dump_cwd) = util::qt_command();
    let dump = dump.args(["journal", "dump", "--type", "control_command"]).arg(&journal).output().unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains("Capital"), "{text}");

    // None at the venue: refused at start, naming the account and the currency.
    let (mut server, _market, path, _) = venue_holding("no-capital", &[("BTC", "10")]);
    let (mut cmd, _cwd) = qt_run_for(&path, "3s");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("accounts[0] (alpha): its venues hold no USDT"), "{stderr}");
    server.shutdown();
}

#[test]
fn a_grid_that_disagrees_with_the_venues_instruments_endpoint_stops_the_start() {
    let (mut server, market, path) = venue("grid");
    let config = std::fs::read_to_string(&path).unwrap().replace("tick_size = \"0.01\"", "tick_size = \"0.1\"");
    std::fs::write(&path, config).unwrap();
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("binance BTCUSDT: venue tick 0.01"), "{stderr}");
    assert!(stderr.contains("ours tick 0.1 lot 0.00001"), "{stderr}");
    let btc = market.balances(AccountId(0)).into_iter().find(|b| b.asset == "BTC").unwrap();
    assert_eq!(btc.free.checked_add(btc.locked).unwrap(), Notional::parse("10").unwrap(), "nothing traded");
    server.shutdown();
}

/// The summary's `reconcile during the run: …` figures: checks run, and the most differences
/// one check found that the check before had found too.
fn periodic_line(stdout: &str) -> (u64, u64) {
    let l = stdout.lines().find(|l| l.trim_start().starts_with("reconcile during the run:")).expect("periodic line");
    let before = |label: &str| -> u64 {
        let i = l.find(label).unwrap_or_else(|| panic!("{label} in {l}"));
        l[..i].split_whitespace().last().unwrap().parse().unwrap()
    };
    (before(" checks"), before(" differences found twice"))
}

#[test]
fn a_trade_behind_the_engines_back_is_reported_as_a_difference() {
    let (mut server, market, path) = venue("moved");
    let (child, _cwd) = spawn_cmd_until_it_trades(qt_run_for(&path, "120s"), &market);
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
    // Checks run every second: three more see the difference in consecutive checks.
    std::thread::sleep(Duration::from_millis(3500));
    let out: Output = stop(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(figure_of(&stdout, "orders", "fills") > 0, "{stdout}");
    assert_eq!(reconcile_line(&stdout, POSITIONS), (1, 1), "{stdout}");
    let (_, differences) = reconcile_line(&stdout, BALANCES);
    assert_eq!(differences, 2, "BTC and USDT both moved: {stdout}");
    let btc_line = stdout.lines().find(|l| l.contains(" BTC: ours ")).unwrap();
    assert!(btc_line.trim_end().ends_with("delta -0.001"), "{btc_line}");
    // The checks during the run found it too, in consecutive checks: the position against
    // the BTC balance, and the BTC and USDT balances.
    let (checks, persistent) = periodic_line(&stdout);
    assert!(checks >= 2, "{stdout}");
    assert_eq!(persistent, 3, "{stdout}");
    server.shutdown();
}

#[test]
fn the_summary_shows_feed_health_a_sequence_skip_is_a_gap_and_a_resync_of_its_book() {
    let (mut server, market, path, faults) = venue_with_faults("skip");
    // Once the engine trades its book is synced: then one diff skips a sequence number and one
    // frame arrives malformed. The run lasts until the simulator has sent both (plus time for
    // the engine to take them in and resync) and is then stopped, however slow its start was.
    let (child, cwd) = spawn_cmd_until_it_trades(qt_run_for(&path, "120s"), &market);
    faults.skip_sequence(1);
    wait_until_taken(WAIT, "the sequence skip sent", || faults.take_skip_sequence(), || faults.skip_sequence(1));
    std::thread::sleep(Duration::from_millis(500));
    faults.malformed_frames(1);
    wait_until_taken(WAIT, "the malformed frame sent", || faults.take_malformed_frame(), || faults.malformed_frames(1));
    std::thread::sleep(AFTER_THE_FAULTS);
    let out: Output = stop(child);
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
