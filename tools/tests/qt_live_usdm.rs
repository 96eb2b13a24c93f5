//! `qt run` trading over real sockets against the venue simulator's Binance USD-M protocol, on
//! the ETHUSDTPERP linear perpetual: TLS WebSocket market data, signed `/fapi/v1/order`
//! orders, fills from the listen-key user stream — and a funding payment booked mid-run
//! (`ACCOUNT_UPDATE` with reason `FUNDING_FEE`) reaches the account's realized PnL, shows in the
//! summary, and the product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::{figure_of, qt_run_for, reconcile_line};
use util::usdm::venue;

use qt_core::{AccountId, Notional, Rate};
use std::time::{Duration, Instant};

const BALANCES: &str = "balances vs venue";

/// The summary's `<what> <figure>` on the position line of `symbol`.
fn position_figure(stdout: &str, symbol: &str, what: &str) -> Notional {
    stdout
        .lines()
        .find(|l| l.contains(symbol) && l.contains(" pos "))
        .and_then(|l| l.split_once(&format!(" {what} ")).map(|x| x.1.split_whitespace().next().unwrap().to_string()))
        .map(|t| Notional::parse(&t).unwrap())
        .unwrap_or_else(|| panic!("no {what} on the position line for {symbol}: {stdout}"))
}

#[test]
fn trades_the_simulated_usdm_books_funding_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let (mut cmd, _cwd) = qt_run_for(&path, "6s");
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Funding once the engine holds a position (1 %: visible at a few hundred USDT of notional).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut funded = 0;
    while funded == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        funded = market.book_funding(0, Rate::from_bps(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(funded, 1, "the engine held a position to fund: {stdout}");
    assert!(stdout.contains("live venues: binance_usdm"), "{stdout}");
    assert!(figure_of(&stdout, "orders", "sent") > 0, "{stdout}");
    assert!(figure_of(&stdout, "orders", "fills") > 0, "{stdout}");
    assert_eq!(figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");

    // The engine's position and funding are the venue's.
    let venue = market.position(AccountId(0), 0);
    let inst = &market.instruments()[0];
    let venue_qty = Notional::from_scaled(i128::from(venue.qty), inst.qty_scale()).unwrap();
    assert_eq!(position_figure(&stdout, "ETHUSDTPERP", "pos"), venue_qty, "{stdout}");
    assert_ne!(venue.funding, Notional::ZERO, "{stdout}");
    // (the summary shows money to 4 decimals; the reconciliation below is exact)
    let venue_funding = Notional::parse(venue.funding.display_rounded(4).as_ref()).unwrap();
    assert_eq!(position_figure(&stdout, "ETHUSDTPERP", "funding"), venue_funding, "{stdout}");
    // USDT carries the linear PnL, fees and funding: ours equal the venue's wallet change.
    let (compared, differences) = reconcile_line(&stdout, BALANCES);
    assert!(compared >= 1 && differences == 0, "{stdout}");
    server.shutdown();
}
