//! `qt run` trading over real sockets against the venue simulator's OKX v5 protocol, on
//! BTC-USDT spot and the ETH-USDT-SWAP perpetual: TLS WebSocket market data (`/ws/v5/public`), signed v5 REST orders with the
//! key's passphrase, order states and fills from the private `orders` channel — and the
//! product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::run_trades_and_reconciles;
use util::okx::venue;

use qt_core::{AccountId, Notional};

#[test]
fn trades_on_the_simulated_okx_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let stdout = run_trades_and_reconciles(&path, &market, "okx", "BTC-USDT");
    // The SWAP leg traded too (cross margin, net mode), and its position is the venue's.
    let swap_line = stdout
        .lines()
        .find(|l| l.contains("ETH-USDT-SWAP") && l.contains(" pos "))
        .unwrap_or_else(|| panic!("no position line for ETH-USDT-SWAP: {stdout}"));
    let swap_pos = swap_line.split_once(" pos ").and_then(|x| x.1.split_whitespace().next()).unwrap();
    let venue = market.position(AccountId(0), 1);
    let venue_qty = Notional::from_scaled(i128::from(venue.qty), market.instruments()[1].qty_scale()).unwrap();
    assert_eq!(Notional::parse(swap_pos).unwrap(), venue_qty, "{stdout}");
    let swap_fills = swap_line.split_once(" fills ").and_then(|x| x.1.split_whitespace().next()?.parse::<u64>().ok());
    assert!(swap_fills.is_some_and(|n| n > 0), "the SWAP leg filled: {stdout}");
    server.shutdown();
}
