//! `BybitFeed` against the venue simulator (`qt_venue_sim::bybit::BybitV5`) over real TLS on
//! loopback: subscribe (spot and linear), sync from the `orderbook.50` snapshot, track the
//! deltas, reconnect after dropped connections, resubscribe after a sequence skip or a bad
//! frame, and ping. The feed is driven like the
//! core loop drives it (one `mio::Poll`, then `poll`); records go into one `qt_core::Book` per
//! symbol, which is compared with the simulator's top 50 (`GET /_sim/book?depth=50`) whenever
//! the simulator's `updateId` equals the `seq` of the last book push the feed applied. Every wait
//! is bounded.

mod util;

use qt_core::feed_source::FeedState;
use qt_core::{FeedSource, InstrumentKind, Nanos, Side, Venue};
use qt_feed::bybit::{BybitFeed, Category};
use qt_feed::snapshot::HttpsClient;
use qt_test_support::feed_loop::FeedLoop;
use qt_test_support::market::{BTC, ETH, two_symbol_market};
use qt_test_support::sim_book::SimBook;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn market(rate: f64, kind: InstrumentKind) -> Arc<Market> {
    two_symbol_market(Venue::Bybit, kind, rate, rate)
}

fn start_sim(market: Arc<Market>) -> RunningServer {
    qt_test_support::sim::start_sim(market, Arc::new(qt_venue_sim::bybit::BybitV5::default()))
}

/// The feed driven like the core loop drives it ([`FeedLoop`]: `feed`, `books`, `tally` through
/// `Deref`), with the simulator and a REST client of it.
struct Harness {
    server: RunningServer,
    lp: FeedLoop<BybitFeed>,
    rest: HttpsClient,
}

impl std::ops::Deref for Harness {
    type Target = FeedLoop<BybitFeed>;
    fn deref(&self) -> &FeedLoop<BybitFeed> {
        &self.lp
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut FeedLoop<BybitFeed> {
        &mut self.lp
    }
}

impl Harness {
    fn new(server: RunningServer, ping_interval: Option<Nanos>, category: Category) -> Self {
        let lp = FeedLoop::new(util::bybit_feed(&server, category, ping_interval), server.market.instruments(), 10_000);
        let rest = util::rest_client(&server, "bybit");
        Self { server, lp, rest }
    }

    fn step(&mut self) {
        self.lp.step();
    }

    fn run_until(&mut self, limit: Duration, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}; counters {:?}", self.feed.counters());
            self.step();
        }
    }

    fn synced(&self, symbol: usize) -> bool {
        self.feed.is_synced(symbol) && self.books[symbol].is_valid()
    }

    /// Compares symbol's book with the simulator's top 50 when the simulator sits at the `seq`
    /// of our last applied push; returns whether a comparison happened.
    fn compare_with_sim_book(&mut self, symbol: usize) -> bool {
        let Some(seq) = self.feed.book_seq(symbol).filter(|_| self.synced(symbol)) else { return false };
        let inst = &self.server.market.instruments()[symbol];
        let image = SimBook::fetch(&self.rest, inst, 50);
        if image.update_id != seq {
            return false;
        }
        image.assert_equals(&self.books[symbol], inst.symbol());
        true
    }

    /// Runs until both symbols compared equal with the simulator at least once.
    fn compare_both(&mut self, limit: Duration) {
        let mut done = [false; 2];
        let mut last = [None; 2];
        let deadline = Instant::now() + limit;
        while !done.iter().all(|d| *d) {
            assert!(Instant::now() < deadline, "never caught at a push boundary: {:?}", self.feed.counters());
            self.step();
            for s in [BTC, ETH] {
                let seq = self.feed.book_seq(s);
                if !done[s] && seq.is_some() && seq != last[s] {
                    last[s] = seq;
                    done[s] = self.compare_with_sim_book(s);
                }
            }
        }
    }
}

#[test]
fn subscribes_syncs_and_equals_the_simulators_top_50() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::Spot)), Some(Nanos(200_000_000)), Category::Spot);
    h.run_until(Duration::from_secs(8), "both symbols in sync", |h| h.synced(BTC) && h.synced(ETH));
    assert_eq!(h.feed.state(), FeedState::Live);
    h.compare_both(Duration::from_secs(10));
    h.run_until(Duration::from_secs(5), "a pong", |h| h.feed.counters().pongs >= 1);
    let c = h.feed.counters();
    assert_eq!((c.gaps, c.parse_errors_total(), c.reconnects, c.control_failures), (0, 0, 0, 0), "{c:?}");
    assert!(c.snapshots >= 2 && c.pings >= 1 && c.control >= 2, "{c:?}");
    assert!(h.books.iter().all(|b| b.depth(Side::Buy) <= 50 && b.depth(Side::Sell) <= 50));
}

#[test]
fn dropped_connections_reconnect_resubscribe_and_equal_again() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::Spot)), None, Category::Spot);
    h.run_until(Duration::from_secs(8), "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(Duration::from_secs(10));
    h.server.faults.drop_ws_connections();
    h.run_until(Duration::from_secs(5), "the drop to be seen", |h| h.feed.counters().disconnects >= 1);
    assert!(!h.books[BTC].is_valid() && !h.books[ETH].is_valid(), "books invalid while reconnecting");
    assert_eq!(h.feed.state(), FeedState::Recovering);
    assert!(h.tally.invalidations[BTC] >= 1 && h.tally.invalidations[ETH] >= 1);
    h.run_until(Duration::from_secs(10), "resync after reconnect", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(Duration::from_secs(10));
    let c = h.feed.counters();
    assert!(c.reconnects >= 1 && c.snapshots >= 4, "{c:?}");
    assert_eq!(h.feed.state(), FeedState::Live);
}

#[test]
fn a_sequence_skip_is_detected_resubscribed_and_equal_again() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::Spot)), None, Category::Spot);
    h.run_until(Duration::from_secs(8), "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(Duration::from_secs(10));
    h.server.faults.skip_sequence(1);
    h.run_until(Duration::from_secs(5), "the gap", |h| h.feed.counters().gaps >= 1);
    assert!(h.tally.invalidations.iter().sum::<u64>() >= 1);
    h.run_until(Duration::from_secs(8), "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(Duration::from_secs(10));
    let c = h.feed.counters();
    assert!(c.gaps >= 1 && c.resubscribes >= 1 && c.reconnects == 0, "{c:?}");
    assert_eq!(c.control_failures, 0, "unsubscribe + subscribe accepted: {c:?}");
    assert!(h.tally.trades > 0 || c.messages > 0);
}

#[test]
fn linear_category_syncs_and_equals_the_simulators_top_50() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::LinearPerpetual)), None, Category::Linear);
    h.run_until(Duration::from_secs(8), "both symbols in sync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(Duration::from_secs(10));
    let c = h.feed.counters();
    assert_eq!((c.gaps, c.parse_errors_total(), c.control_failures), (0, 0, 0), "{c:?}");
}

#[test]
fn malformed_and_truncated_frames_are_counted_and_recovered() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::Spot)), None, Category::Spot);
    h.run_until(Duration::from_secs(8), "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.server.faults.malformed_frames(1);
    h.server.faults.truncated_frames(1);
    h.run_until(Duration::from_secs(5), "both bad frames", |h| h.feed.counters().parse_errors_total() >= 2);
    h.run_until(Duration::from_secs(8), "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(Duration::from_secs(10));
    let c = h.feed.counters();
    assert_eq!(c.parse_errors[0], 2, "both refused as invalid JSON: {c:?}");
    assert_eq!(c.reconnects, 0, "{c:?}");
}
