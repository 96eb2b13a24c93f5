//! What the Binance and Bybit live-feed tests against the venue simulator share besides
//! `qt_test_support` (market, simulator, `/_sim/book`, reference book, waits, re-exported
//! here): a core-loop stand-in ([`FeedLoop`]) and the two feeds pointed at a simulator.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each integration-test binary uses a different part of this shared module"
)]

use qt_core::{Book, Instrument};
use qt_venue_sim::server::RunningServer;
use std::time::{Duration, Instant};

pub use qt_test_support::WAIT;
pub use qt_test_support::market::two_symbol_market as market;
pub use qt_test_support::market::{BTC, ETH};
pub use qt_test_support::sim::start_sim;
pub use qt_test_support::sim_book::{Reference, SimBook, book_levels, rest_client};

/// What the core loop owns around a feed: one `mio::Poll` (allocated once), one book per
/// symbol, and the clock the feed is polled with.
pub struct FeedLoop<F> {
    /// The feed under test.
    pub feed: F,
    poll: mio::Poll,
    events: mio::Events,
    /// One book per symbol (index = symbol index), fed every record the feed emits.
    pub books: Vec<Book>,
    start: Instant,
}

impl<F: qt_core::FeedSource> FeedLoop<F> {
    /// Registers `feed` with a fresh poller; books of `capacity` levels for `symbols`.
    pub fn new(mut feed: F, symbols: &[Instrument], capacity: usize) -> Self {
        let poll = mio::Poll::new().expect("poll");
        assert!(feed.register(poll.registry(), 0).expect("register"));
        let books = symbols.iter().map(|i| Book::new(i.id(), capacity)).collect();
        Self { feed, poll, events: mio::Events::with_capacity(64), books, start: Instant::now() }
    }

    /// One loop iteration (waiting at most 1 ms for readiness, so an idle test does not spin);
    /// `before` sees each record with the books as they are before it is applied.
    pub fn step(&mut self, before: &mut dyn FnMut(&[Book], &qt_core::MarketEvent)) -> usize {
        self.poll.poll(&mut self.events, Some(Duration::from_millis(1))).expect("mio poll");
        for ev in self.events.iter() {
            self.feed.on_ready(ev.token().0);
        }
        let now = qt_core::Nanos::from_duration(self.start.elapsed());
        let Self { feed, books, .. } = self;
        feed.poll(now, &mut |ev: &qt_core::MarketEvent| {
            before(books, ev);
            books[ev.instrument.index()].apply(ev).expect("valid record");
        })
    }
}

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
