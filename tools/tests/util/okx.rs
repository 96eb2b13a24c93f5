//! The simulated OKX venue (in this process, over real TLS sockets: BTCUSDT spot, served as
//! OKX's `BTC-USDT`) and a `qt run` configuration trading it.

use qt_core::{Price, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_test_support::sim::{sim_config, start_sim_config};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::market::Market;
use qt_venue_sim::okx::OkxV5;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;

/// Starts the simulated OKX (one account: 1 000 000 USDT, 10 BTC; its passphrase
/// `live-test-pass`) and writes a `qt run` config pointing at it (`live.toml`, the CA file
/// `ca.pem` next to it).
pub(crate) fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("qt-live-okx-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spot =
        TestInstrument::spot(Venue::Okx, "BTCUSDT").assets("BTC", "USDT").lot("0.00001").min_notional("5").build(0);
    let flow = FlowParams {
        start_mid: Some(Price::from_units(6_500_000)),
        events_per_sec: 2000.0,
        fair_vol_ticks: 60.0,
        size_median_lots: 2000.0,
        ..FlowParams::default()
    };
    let market = MarketBuilder::new()
        .symbol_with_flow(spot, flow)
        .fees_bps(2, 5)
        .account("live-test-key", "live-test-secret", &[("USDT", "1000000"), ("BTC", "10")])
        .seed(13)
        .build();
    let okx = OkxV5::new().with_passphrase("live-test-key", "live-test-pass");
    let mut sim = sim_config(market.clone(), vec![Arc::new(okx)]);
    sim.ca_file = dir.join("ca.pem");
    let server = start_sim_config(sim);
    let ca = server.ca_file.clone();
    let addr = server.addr_of("okx").unwrap();
    let config = include_str!("../../../examples/okx-venue-sim.toml")
        .replace("https://127.0.0.1:9448", &format!("https://{addr}"))
        .replace("wss://127.0.0.1:9448", &format!("wss://{addr}"))
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", ca.display().to_string()))
        .replace("qt-sim-key-1", "live-test-key")
        .replace("qt-sim-secret-1", "live-test-secret")
        .replace("qt-sim-passphrase", "live-test-pass")
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"");
    let path = dir.join("live.toml");
    std::fs::write(&path, config).unwrap();
    (server, market, path)
}
