//! `qt run` trading over real sockets against the venue simulator's Firi protocol, on BTCUSDT
//! spot (`examples/firi-venue-sim.toml`): polled REST market data, signed REST orders (the
//! strategy's IOC orders emulated by cancelling their rest), orders and fills polled — and the
//! product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::{run_trades_and_reconciles, serve_example, spot_market};

use qt_core::{AccountId, Venue};
use std::sync::Arc;

#[test]
fn trades_on_the_simulated_firi_and_reconciles() {
    let market = spot_market(Venue::Firi, &[("USDT", "1000000"), ("BTC", "10")], 17);
    let example = include_str!("../../examples/firi-venue-sim.toml");
    let firi = Arc::new(qt_venue_sim::firi::FiriPublic::default());
    let (mut server, path) = serve_example("clean", &market, firi, "firi", example, &[]);
    run_trades_and_reconciles(&path, &market, "firi", "BTCUSDT");
    assert!(market.open_orders(AccountId(0), None).is_empty(), "no IOC rest left working");
    server.shutdown();
}
