//! `qt run` trading over real sockets against the venue simulator's KuCoin protocol, on
//! BTC-USDT spot: level-2 snapshots over TLS REST, signed HF orders with the key's passphrase,
//! order events from the private `/spotMarket/tradeOrdersV2` topic and each fill's fee from
//! `hf/fills` — and the product's reconciliation (balances at start and stop) finds no
//! difference.

mod util;
use util::binance::{run_trades_and_reconciles, serve_example, spot_market};

use qt_core::Venue;
use qt_venue_sim::kucoin::KucoinSpot;
use std::sync::Arc;

#[test]
fn trades_on_the_simulated_kucoin_and_reconciles() {
    // One account: 1 000 000 USDT, 10 BTC; its passphrase `live-test-pass` (checked).
    let market = spot_market(Venue::Kucoin, &[("USDT", "1000000"), ("BTC", "10")], 19);
    let kucoin = KucoinSpot::default().with_passphrase("live-test-key", "live-test-pass");
    let example = include_str!("../../examples/kucoin-venue-sim.toml");
    let more = [("qt-sim-passphrase", "live-test-pass")];
    let (mut server, path) = serve_example("clean", &market, Arc::new(kucoin), "kucoin", example, &more);
    run_trades_and_reconciles(&path, &market, "kucoin", "BTC-USDT");
    server.shutdown();
}
