//! `qt run` trading over real sockets against the venue simulator's OKX v5 protocol, on
//! BTC-USDT spot and the ETH-USDT-SWAP perpetual: TLS WebSocket market data (`/ws/v5/public`), signed v5 REST orders with the
//! key's passphrase, order states and fills from the private `orders` channel — and the
//! product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::{figure_of, qt_run, reconcile_line};
use util::okx::venue;

use qt_core::{AccountId, Notional};

const POSITIONS: &str = "positions vs venue base-asset balances";
const BALANCES: &str = "balances vs venue";

#[test]
fn trades_on_the_simulated_okx_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("live venues: okx"), "{stdout}");
    assert!(figure_of(&stdout, "orders", "sent") > 0, "{stdout}");
    assert!(figure_of(&stdout, "orders", "fills") > 0, "{stdout}");
    assert_eq!(figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");
    assert!(figure_of(&stdout, "gateway", "fills") > 0, "{stdout}");
    // The venue's BTC balance moved as the engine's position did.
    let pos = stdout
        .lines()
        .find(|l| l.contains("BTC-USDT") && l.contains(" pos "))
        .and_then(|l| l.split_once(" pos ").map(|x| x.1.split_whitespace().next().unwrap().to_string()))
        .map(|t| Notional::parse(&t).unwrap())
        .unwrap_or_else(|| panic!("no position line for BTC-USDT: {stdout}"));
    let btc = market.balances(AccountId(0)).into_iter().find(|b| b.asset == "BTC").unwrap();
    let btc_change = btc.free.checked_add(btc.locked).unwrap().checked_sub(Notional::parse("10").unwrap()).unwrap();
    assert_eq!(pos, btc_change, "{stdout}");
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
    assert_eq!(reconcile_line(&stdout, POSITIONS), (1, 0), "{stdout}");
    let (compared, differences) = reconcile_line(&stdout, BALANCES);
    assert!(compared >= 2 && differences == 0, "{stdout}");
    server.shutdown();
}
