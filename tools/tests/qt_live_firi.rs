//! `qt run` trading over real sockets against the venue simulator's Firi protocol, on BTCUSDT
//! spot (`examples/firi-venue-sim.toml`): polled REST market data, signed REST orders (the
//! strategy's IOC orders emulated by cancelling their rest), orders and fills polled — and the
//! product's reconciliation (balances at start and stop) finds no difference.

mod util;
use util::binance::{check_spot_run, qt_run, serve_example, spot_market};

use qt_core::{AccountId, Venue};
use std::sync::Arc;

#[test]
fn trades_on_the_simulated_firi_and_reconciles() {
    let market = spot_market(Venue::Firi, &[("USDT", "1000000"), ("BTC", "10")], 17);
    let example = include_str!("../../examples/firi-venue-sim.toml");
    let firi = Arc::new(qt_venue_sim::firi::FiriPublic::default());
    let (mut server, path) = serve_example("clean", &market, firi, "firi", example, &[]);
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    check_spot_run(&stdout, "firi", "BTCUSDT", &market);
    assert!(market.open_orders(AccountId(0), None).is_empty(), "no IOC rest left working");
    server.shutdown();
}
