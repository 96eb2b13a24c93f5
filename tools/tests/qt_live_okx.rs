//! `qt run` trading over real sockets against the venue simulator's OKX v5 protocol, on
//! BTC-USDT spot: TLS WebSocket market data (`/ws/v5/public`), signed v5 REST orders with the
//! key's passphrase, order states and fills from the private `orders` channel — and the
//! product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::run_trades_and_reconciles;
use util::okx::venue;

#[test]
fn trades_on_the_simulated_okx_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    run_trades_and_reconciles(&path, &market, "okx", "BTC-USDT");
    server.shutdown();
}
