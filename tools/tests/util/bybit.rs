//! The simulated Bybit venue (in this process, over real TLS sockets: BTCUSDT spot and
//! ETHUSDTPERP linear) and a `qt run` configuration trading both on it.

use qt_core::{InstrumentKind, Price, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_test_support::sim::{sim_config, start_sim_config};
use qt_venue_sim::bybit::BybitV5;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;

/// Starts the simulated Bybit (one account: 1 000 000 USDT, 10 BTC) and writes a `qt run`
/// config pointing at it (`live.toml`, the CA file `ca.pem` next to it).
pub(crate) fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("qt-live-bybit-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let market =
        spot_and_linear().account("live-test-key", "live-test-secret", &[("USDT", "1000000"), ("BTC", "10")]).build();
    let mut sim = sim_config(market.clone(), vec![Arc::new(BybitV5::new())]);
    sim.ca_file = dir.join("ca.pem");
    let server = start_sim_config(sim);
    let ca = server.ca_file.clone();
    let addr = server.addr_of("bybit").unwrap();
    let config = include_str!("../../../examples/bybit-venue-sim.toml")
        .replace("https://127.0.0.1:9444", &format!("https://{addr}"))
        .replace("wss://127.0.0.1:9444", &format!("wss://{addr}"))
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", ca.display().to_string()))
        .replace("qt-sim-key-1", "live-test-key")
        .replace("qt-sim-secret-1", "live-test-secret")
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"");
    let path = dir.join("live.toml");
    std::fs::write(&path, config).unwrap();
    (server, market, path)
}

/// The simulator's market of these tests, without accounts: BTCUSDT spot (symbol 0, mid 65000)
/// and ETHUSDTPERP linear (symbol 1, mid 3200), each with a fast background flow.
pub(crate) fn spot_and_linear() -> MarketBuilder {
    let spot =
        TestInstrument::spot(Venue::Bybit, "BTCUSDT").assets("BTC", "USDT").lot("0.00001").min_notional("5").build(0);
    let linear = TestInstrument::spot(Venue::Bybit, "ETHUSDTPERP")
        .kind(InstrumentKind::LinearPerpetual)
        .assets("ETH", "USDT")
        .lot("0.001")
        .minimums("0.001", "5")
        .build(1);
    let flow = |mid: i64, lots: f64| FlowParams {
        start_mid: Some(Price::from_units(mid)),
        events_per_sec: 2000.0,
        fair_vol_ticks: 60.0,
        size_median_lots: lots,
        ..FlowParams::default()
    };
    MarketBuilder::new()
        .symbol_with_flow(spot, flow(6_500_000, 2000.0))
        .symbol_with_flow(linear, flow(320_000, 300.0))
        .fees_bps(2, 5)
        .seed(11)
}
