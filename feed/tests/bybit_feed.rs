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
use qt_core::{EventKind, FeedSource, InstrumentKind, MarketEvent, Nanos, Side, Venue};
use qt_feed::bybit::{BybitFeed, Category};
use qt_feed::snapshot::HttpsClient;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{BTC, ETH, FeedLoop, SimBook, WAIT};

fn market(rate: f64, kind: InstrumentKind) -> Arc<Market> {
    util::market(Venue::Bybit, kind, rate, rate)
}

fn start_sim(market: Arc<Market>) -> RunningServer {
    util::start_sim(market, Arc::new(qt_venue_sim::bybit::BybitV5::default()))
}

struct Harness {
    server: RunningServer,
    lp: FeedLoop<BybitFeed>,
    invalidations: [u64; 2],
    trades: u64,
    rest: HttpsClient,
}

impl Harness {
    fn new(server: RunningServer, ping_interval: Option<Nanos>, category: Category) -> Self {
        let symbols = server.market.instruments().to_vec();
        let lp = FeedLoop::new(util::bybit_feed(&server, category, ping_interval), &symbols, 10_000);
        let rest = util::rest_client(&server, "bybit");
        Self { server, lp, invalidations: [0; 2], trades: 0, rest }
    }

    fn step(&mut self) {
        let Self { lp, invalidations, trades, .. } = self;
        lp.step(&mut |_, ev: &MarketEvent| match ev.kind {
            EventKind::BookSnapshot if ev.is_clear() && !ev.is_batch_end() && ev.qty.is_zero() => {
                invalidations[ev.instrument.index()] += 1;
            }
            EventKind::Trade => *trades += 1,
            _ => {}
        });
    }

    fn run_until(&mut self, limit: Duration, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}; counters {:?}", self.lp.feed.counters());
            self.step();
        }
    }

    fn synced(&self, symbol: usize) -> bool {
        self.lp.feed.is_synced(symbol) && self.lp.books[symbol].is_valid()
    }

    /// Compares symbol's book with the simulator's top 50 when the simulator sits at the `seq`
    /// of our last applied push; returns whether a comparison happened.
    fn compare_with_sim_book(&mut self, symbol: usize) -> bool {
        let Some(seq) = self.lp.feed.book_seq(symbol).filter(|_| self.synced(symbol)) else { return false };
        let inst = self.server.market.instruments()[symbol].clone();
        let image = SimBook::fetch(&mut self.rest, &inst, 50);
        if image.update_id != seq {
            return false;
        }
        image.assert_equals(&self.lp.books[symbol], inst.symbol());
        true
    }

    /// Runs until both symbols compared equal with the simulator at least once.
    fn compare_both(&mut self, limit: Duration) {
        let mut done = [false; 2];
        let mut last = [None; 2];
        let deadline = Instant::now() + limit;
        while !done.iter().all(|d| *d) {
            assert!(Instant::now() < deadline, "never caught at a push boundary: {:?}", self.lp.feed.counters());
            self.step();
            for s in [BTC, ETH] {
                let seq = self.lp.feed.book_seq(s);
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
    h.run_until(WAIT, "both symbols in sync", |h| h.synced(BTC) && h.synced(ETH));
    assert_eq!(h.lp.feed.state(), FeedState::Live);
    h.compare_both(WAIT);
    h.run_until(WAIT, "a pong", |h| h.lp.feed.counters().pongs >= 1);
    let c = h.lp.feed.counters();
    assert_eq!((c.gaps, c.parse_errors_total(), c.reconnects, c.control_failures), (0, 0, 0, 0), "{c:?}");
    assert!(c.snapshots >= 2 && c.pings >= 1 && c.control >= 2, "{c:?}");
    assert!(h.lp.books.iter().all(|b| b.depth(Side::Buy) <= 50 && b.depth(Side::Sell) <= 50));
}

#[test]
fn dropped_connections_reconnect_resubscribe_and_equal_again() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::Spot)), None, Category::Spot);
    h.run_until(WAIT, "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(WAIT);
    h.server.faults.drop_ws_connections();
    h.run_until(WAIT, "the drop to be seen", |h| h.lp.feed.counters().disconnects >= 1);
    assert!(!h.lp.books[BTC].is_valid() && !h.lp.books[ETH].is_valid(), "books invalid while reconnecting");
    assert_eq!(h.lp.feed.state(), FeedState::Recovering);
    assert!(h.invalidations[BTC] >= 1 && h.invalidations[ETH] >= 1);
    h.run_until(WAIT, "resync after reconnect", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(WAIT);
    let c = h.lp.feed.counters();
    assert!(c.reconnects >= 1 && c.snapshots >= 4, "{c:?}");
    assert_eq!(h.lp.feed.state(), FeedState::Live);
}

#[test]
fn a_sequence_skip_is_detected_resubscribed_and_equal_again() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::Spot)), None, Category::Spot);
    h.run_until(WAIT, "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(WAIT);
    h.server.faults.skip_sequence(1);
    h.run_until(WAIT, "the gap", |h| h.lp.feed.counters().gaps >= 1);
    assert!(h.invalidations.iter().sum::<u64>() >= 1);
    h.run_until(WAIT, "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(WAIT);
    let c = h.lp.feed.counters();
    assert!(c.gaps >= 1 && c.resubscribes >= 1 && c.reconnects == 0, "{c:?}");
    assert_eq!(c.control_failures, 0, "unsubscribe + subscribe accepted: {c:?}");
    assert!(h.trades > 0 || c.messages > 0);
}

#[test]
fn linear_category_syncs_and_equals_the_simulators_top_50() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::LinearPerpetual)), None, Category::Linear);
    h.run_until(WAIT, "both symbols in sync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(WAIT);
    let c = h.lp.feed.counters();
    assert_eq!((c.gaps, c.parse_errors_total(), c.control_failures), (0, 0, 0), "{c:?}");
}

#[test]
fn malformed_and_truncated_frames_are_counted_and_recovered() {
    let mut h = Harness::new(start_sim(market(20.0, InstrumentKind::Spot)), None, Category::Spot);
    h.run_until(WAIT, "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.server.faults.malformed_frames(1);
    h.server.faults.truncated_frames(1);
    h.run_until(WAIT, "both bad frames", |h| h.lp.feed.counters().parse_errors_total() >= 2);
    h.run_until(WAIT, "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.compare_both(WAIT);
    let c = h.lp.feed.counters();
    assert_eq!(c.parse_errors[0], 2, "both refused as invalid JSON: {c:?}");
    assert_eq!(c.reconnects, 0, "{c:?}");
}
