//! What the Binance and Bybit live-feed tests against the venue simulator share besides
//! `qt_test_support` (market, simulator, `/_sim/book`, reference book, waits, re-exported
//! here): the two feeds pointed at a simulator.

#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    reason = "each integration-test binary uses a different part of this shared module"
)]

use qt_venue_sim::server::RunningServer;

pub use qt_test_support::WAIT;
pub use qt_test_support::feed_loop::FeedLoop;
pub use qt_test_support::market::two_symbol_market as market;
pub use qt_test_support::market::{BTC, ETH};
pub use qt_test_support::sim::start_sim;
pub use qt_test_support::sim_book::{Reference, SimBook, book_levels, rest_client};

/// A `BinanceFeed` for both symbols of `server`'s market, trusting its CA, REST depth 5000.
pub fn binance_feed(server: &RunningServer) -> qt_feed::binance::BinanceFeed {
    let addr = server.addr_of("binance").expect("binance listener");
    let symbols = server.market.instruments().to_vec();
    let mut cfg = qt_feed::binance::BinanceFeedConfig::new(format!("wss://{addr}"), format!("https://{addr}"), symbols);
    cfg.ca_file = Some(server.ca_file.clone());
    cfg.server_name = Some("localhost".into());
    cfg.depth_limit = 5000;
    qt_feed::binance::BinanceFeed::new(cfg).expect("feed config")
}

/// A `BybitFeed` of `category` for both symbols of `server`'s market, trusting its CA, with
/// the default ping interval unless `ping_interval` is given.
pub fn bybit_feed(
    server: &RunningServer,
    category: qt_feed::bybit::Category,
    ping_interval: Option<qt_core::Nanos>,
) -> qt_feed::bybit::BybitFeed {
    let addr = server.addr_of("bybit").expect("bybit listener");
    let mut cfg = qt_feed::bybit::BybitFeedConfig::new(format!("wss://{addr}"), server.market.instruments().to_vec());
    cfg.ca_file = Some(server.ca_file.clone());
    cfg.server_name = Some("localhost".into());
    cfg.category = category;
    if let Some(p) = ping_interval {
        cfg.ping_interval = p;
    }
    qt_feed::bybit::BybitFeed::new(cfg).expect("feed config")
}
