//! A one-symbol simulator for the `qt capture` tests: one BTC/USDT symbol (tick 0.01, lot
//! 0.00001, mid 65000) with background flow at a chosen rate, no fees, no account, serving one protocol.

use qt_core::{Price, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_test_support::sim::start_sim;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;

/// A simulator serving `protocol` for `symbol` (BTC/USDT) with flow at `rate` events/s (random `seed`), and
/// a fresh temp folder for the test (named after `tag`); the CA file is `server.ca_file`.
pub(crate) fn capture_sim(
    tag: &str,
    symbol: &str,
    protocol: Arc<dyn Protocol>,
    rate: f64,
    seed: u64,
) -> (PathBuf, RunningServer) {
    let dir = std::env::temp_dir().join(format!("qt-capture-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let instrument = TestInstrument::spot(Venue::Binance, symbol).assets("BTC", "USDT").lot("0.00001").build(0);
    let flow =
        FlowParams { start_mid: Some(Price::from_units(6_500_000)), events_per_sec: rate, ..FlowParams::default() };
    let market = MarketBuilder::new().symbol_with_flow(instrument, flow).fees_bps(0, 0).seed(seed).build();
    (dir, start_sim(market, protocol))
}
