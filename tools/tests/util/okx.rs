//! The simulated OKX venue (in this process, over real TLS sockets: BTCUSDT spot, served as
//! OKX's `BTC-USDT`) and a `qt run` configuration trading it.

use super::binance::{serve_example, spot_market};
use qt_core::Venue;
use qt_venue_sim::market::Market;
use qt_venue_sim::okx::OkxV5;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;

/// Starts the simulated OKX (one account: 1 000 000 USDT, 10 BTC; its passphrase
/// `live-test-pass`) and writes a `qt run` config pointing at it (`live.toml`, the CA file
/// `ca.pem` next to it).
pub(crate) fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let market = spot_market(Venue::Okx, &[("USDT", "1000000"), ("BTC", "10")], 13);
    let okx = OkxV5::new().with_passphrase("live-test-key", "live-test-pass");
    let example = include_str!("../../../examples/okx-venue-sim.toml");
    let more = [("qt-sim-passphrase", "live-test-pass")];
    let (server, path) = serve_example(tag, &market, Arc::new(okx), "okx", example, &more);
    (server, market, path)
}
