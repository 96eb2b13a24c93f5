//! The simulated Binance USD-M venue (in this process, over real TLS sockets: ETHUSDTPERP, a
//! linear perpetual, funding booked only when a test books it) and a `qt run` configuration
//! trading it.

use qt_core::{InstrumentKind, Price, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_test_support::sim::{sim_config, start_sim_config};
use qt_venue_sim::binance_usdm::BinanceUsdm;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The simulator's own funding interval in these tests: never within a test (the documented
/// interval is 8 h, whose 00:00/08:00/16:00 UTC boundaries a run can cross). Funding the
/// simulator books by itself while `qt run` is stopping — after the engine has stopped reading
/// its user stream — is funding the engine never hears of, which made the venue's funding and
/// balance differ from the engine's at random; the tests book funding themselves, mid-run
/// ([`Market::book_funding`], the same booking and `ACCOUNT_UPDATE` path).
pub(crate) const FUNDING_EVERY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Starts the simulated USD-M (one account: 1 000 000 USDT, no funding unless a test books it)
/// and writes a `qt run` config pointing at it (`live.toml`, the CA file `ca.pem` next to it).
pub(crate) fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("qt-live-usdm-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let linear = TestInstrument::spot(Venue::BinanceUsdm, "ETHUSDTPERP")
        .kind(InstrumentKind::LinearPerpetual)
        .assets("ETH", "USDT")
        .lot("0.001")
        .minimums("0.001", "5")
        .build(0);
    let flow = FlowParams {
        start_mid: Some(Price::from_units(320_000)),
        events_per_sec: 2000.0,
        fair_vol_ticks: 60.0,
        size_median_lots: 300.0,
        ..FlowParams::default()
    };
    let market = MarketBuilder::new()
        .symbol_with_flow(linear, flow)
        .fees_bps(2, 5)
        .account("live-test-key", "live-test-secret", &[("USDT", "1000000")])
        .seed(11)
        .build();
    let mut sim = sim_config(market.clone(), vec![Arc::new(BinanceUsdm::with_funding_interval(FUNDING_EVERY))]);
    sim.ca_file = dir.join("ca.pem");
    let server = start_sim_config(sim);
    let ca = server.ca_file.clone();
    let addr = server.addr_of("binance_usdm").unwrap();
    let config = include_str!("../../../examples/usdm-venue-sim.toml")
        .replace("https://127.0.0.1:9445", &format!("https://{addr}"))
        .replace("wss://127.0.0.1:9445", &format!("wss://{addr}"))
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", ca.display().to_string()))
        .replace("qt-sim-key-1", "live-test-key")
        .replace("qt-sim-secret-1", "live-test-secret")
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"")
        .replace("reconcile_every = \"60s\"", "reconcile_every = \"1s\"");
    let path = dir.join("live.toml");
    std::fs::write(&path, config).unwrap();
    (server, market, path)
}
