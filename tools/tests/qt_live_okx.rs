//! `qt run` trading over real sockets against the venue simulator's OKX v5 protocol, on
//! BTC-USDT spot: TLS WebSocket market data (`/ws/v5/public`), signed v5 REST orders with the
//! key's passphrase, order states and fills from the private `orders` channel — and the
//! product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::{check_spot_run, qt_run};
use util::okx::venue;

#[test]
fn trades_on_the_simulated_okx_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    check_spot_run(&stdout, "okx", "BTC-USDT", &market);
    server.shutdown();
}
