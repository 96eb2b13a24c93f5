//! `qt run` trading over real sockets against the venue simulator's OKX v5 protocol, on
//! BTC-USDT spot and the ETH-USDT-SWAP perpetual: TLS WebSocket market data (`/ws/v5/public`), signed v5 REST orders with the
//! key's passphrase, order states and fills from the private `orders` channel — and the
//! product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::{check_spot_run, qt_run};
use util::okx::venue;

use qt_core::{AccountId, Notional};

#[test]
fn trades_on_the_simulated_okx_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // Orders, fills, no rejects, the BTC-USDT position is the venue's BTC, reconciliation clean.
    check_spot_run(&stdout, "okx", "BTC-USDT", &market);
    // The SWAP leg traded too (cross margin, net mode), and its position is the venue's.
    let swap_pos = stdout
        .lines()
        .find(|l| l.contains("ETH-USDT-SWAP") && l.contains(" pos "))
        .and_then(|l| l.split_once(" pos ").map(|x| x.1.split_whitespace().next().unwrap().to_string()))
        .map(|t| Notional::parse(&t).unwrap())
        .unwrap_or_else(|| panic!("no position line for ETH-USDT-SWAP: {stdout}"));
    let venue = market.position(AccountId(0), 1);
    let venue_qty = Notional::from_scaled(i128::from(venue.qty), market.instruments()[1].qty_scale()).unwrap();
    assert_eq!(swap_pos, venue_qty, "{stdout}");
    let swap_fills = stdout
        .lines()
        .find(|l| l.contains("ETH-USDT-SWAP") && l.contains(" pos "))
        .and_then(|l| l.split_once(" fills ").and_then(|x| x.1.split_whitespace().next()?.parse::<u64>().ok()));
    assert!(swap_fills.is_some_and(|n| n > 0), "the SWAP leg filled: {stdout}");
    server.shutdown();
}
