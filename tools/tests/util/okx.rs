//! The simulated OKX venue (in this process, over real TLS sockets: BTCUSDT spot, served as
//! OKX's `BTC-USDT`, and the `ETH-USDT-SWAP` perpetual) and a `qt run` configuration trading it.

use super::binance::{brisk_flow, serve_example};
use qt_core::{InstrumentKind, Price, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::market::Market;
use qt_venue_sim::okx::OkxV5;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;

/// Starts the simulated OKX (one account: 1 000 000 USDT, 10 BTC; its passphrase
/// `live-test-pass`; BTC-USDT spot and ETH-USDT-SWAP) and writes a `qt run` config pointing at it (`live.toml`, the CA file
/// `ca.pem` next to it).
pub(crate) fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let spot =
        TestInstrument::spot(Venue::Okx, "BTCUSDT").assets("BTC", "USDT").lot("0.00001").min_notional("5").build(0);
    let swap = TestInstrument::spot(Venue::Okx, "ETH-USDT-SWAP")
        .kind(InstrumentKind::LinearPerpetual)
        .assets("ETH", "USDT")
        .lot("0.001")
        .minimums("0.001", "5")
        .build(1);
    let swap_flow = FlowParams {
        start_mid: Some(Price::from_units(320_000)),
        events_per_sec: 2000.0,
        fair_vol_ticks: 60.0,
        size_median_lots: 300.0,
        ..FlowParams::default()
    };
    let market = MarketBuilder::new()
        .symbol_with_flow(spot, brisk_flow())
        .symbol_with_flow(swap, swap_flow)
        .fees_bps(2, 5)
        .account("live-test-key", "live-test-secret", &[("USDT", "1000000"), ("BTC", "10")])
        .seed(13)
        .build();
    let okx = OkxV5::new().with_passphrase("live-test-key", "live-test-pass");
    let example = include_str!("../../../examples/okx-venue-sim.toml");
    let more = [("qt-sim-passphrase", "live-test-pass")];
    let (server, path) = serve_example(tag, &market, Arc::new(okx), "okx", example, &more);
    (server, market, path)
}
