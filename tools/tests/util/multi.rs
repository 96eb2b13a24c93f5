//! One simulated exchange serving Binance spot, Bybit v5 and Binance USD-M at once (in this
//! process, over real TLS sockets: BTCUSDT spot and ETHUSDTPERP linear, six accounts) and
//! `examples/multi-venue-venue-sim.toml` pointing at it.

use qt_test_support::sim::{sim_config, start_sim_config};
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::binance_usdm::BinanceUsdm;
use qt_venue_sim::bybit::BybitV5;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;

/// The simulator's account (index) holding each engine account's keys on each venue, as the
/// example gives them: alpha qt-sim-key-1..3, beta qt-sim-key-4..6.
pub(crate) const KEYS: [(&str, &str, usize); 6] = [
    ("alpha", "binance", 0),
    ("alpha", "bybit", 1),
    ("alpha", "binance_usdm", 2),
    ("beta", "binance", 3),
    ("beta", "bybit", 4),
    ("beta", "binance_usdm", 5),
];

/// Starts the simulator (six accounts of 1 000 000 USDT and 10 BTC each) and writes the
/// multi-venue example pointing at it (`live.toml`, the CA file `ca.pem` next to it), with
/// `reconcile_every` as given.
pub(crate) fn venues(tag: &str, reconcile_every: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("qt-multi-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut builder = super::bybit::spot_and_linear();
    for n in 1..=KEYS.len() {
        builder = builder.account(
            &format!("qt-sim-key-{n}"),
            &format!("qt-sim-secret-{n}"),
            &[("USDT", "1000000"), ("BTC", "10")],
        );
    }
    let market = builder.build();
    let protocols: Vec<Arc<dyn qt_venue_sim::protocol::Protocol>> =
        vec![Arc::new(BinanceSpot::default()), Arc::new(BybitV5::new()), Arc::new(BinanceUsdm::default())];
    let mut sim = sim_config(market.clone(), protocols);
    sim.ca_file = dir.join("ca.pem");
    let server = start_sim_config(sim);
    let ca = server.ca_file.clone();
    let mut config = include_str!("../../../examples/multi-venue-venue-sim.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", ca.display().to_string()))
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"")
        .replace("reconcile_every = \"60s\"", &format!("reconcile_every = {reconcile_every:?}"));
    for (venue, port) in [("binance", 9443), ("bybit", 9444), ("binance_usdm", 9445)] {
        let addr = server.addr_of(venue).unwrap();
        config = config
            .replace(&format!("https://127.0.0.1:{port}"), &format!("https://{addr}"))
            .replace(&format!("wss://127.0.0.1:{port}"), &format!("wss://{addr}"));
    }
    let path = dir.join("live.toml");
    std::fs::write(&path, config).unwrap();
    (server, market, path)
}
