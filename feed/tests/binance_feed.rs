//! `BinanceFeed` against the venue simulator over real TLS on loopback: sync, tracking under
//! fast flow, dropped connections, sequence skips and bad frames. Each test starts its own
//! simulator, drives the feed like the core loop does (one zero-timeout `mio::Poll`, then
//! `poll`), applies the records to a `qt_core::Book` per symbol, and compares with the
//! simulator's own book: through `GET /_sim/book` for the slow symbol, and for the fast one
//! through a reference rebuilt from the market's own update stream (`Market::subscribe_book`),
//! since a fast book rarely sits still at a diff boundary long enough for an HTTP round trip.
//! Every wait polls for its condition with a generous deadline ([`util::WAIT`]), so a loaded
//! machine slows a test down instead of failing it; a normal run takes a few seconds.

mod util;

use qt_core::feed_source::FeedState;
use qt_core::{FeedSource, InstrumentKind, Side, Venue};
use qt_feed::binance::BinanceFeed;
use qt_feed::snapshot::HttpsClient;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{BTC, ETH, FeedLoop, Reference, SimBook, WAIT, book_levels};

/// BTCUSDT with `btc_rate` background events/s and ETHUSDT with `eth_rate`.
fn market(btc_rate: f64, eth_rate: f64) -> Arc<Market> {
    util::market(Venue::Binance, InstrumentKind::Spot, btc_rate, eth_rate)
}

fn start_sim(market: Arc<Market>) -> RunningServer {
    util::start_sim(market, Arc::new(qt_venue_sim::binance::BinanceSpot::default()))
}

/// The feed plus what the core loop would own, and the record counts.
struct Harness {
    server: RunningServer,
    lp: FeedLoop<BinanceFeed>,
    rest: HttpsClient,
}

impl Harness {
    fn new(server: RunningServer) -> Self {
        let symbols = server.market.instruments().to_vec();
        let lp = FeedLoop::new(util::binance_feed(&server), &symbols, 100_000);
        let rest = util::rest_client(&server, "binance");
        Self { server, lp, rest }
    }

    /// One loop iteration.
    fn step(&mut self) -> usize {
        self.lp.step()
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

    /// Compares symbol's book with `/_sim/book` when the simulator sits at our last diff's
    /// `u`; returns whether a comparison happened.
    fn compare_with_sim_book(&mut self, symbol: usize) -> bool {
        if !self.synced(symbol) {
            return false;
        }
        let inst = self.server.market.instruments()[symbol].clone();
        let image = SimBook::fetch(&self.rest, &inst, 5000);
        if image.update_id != self.lp.tally.depth_seq[symbol] {
            return false;
        }
        image.assert_equals(&self.lp.books[symbol], inst.symbol());
        true
    }

    /// Compares symbol's book with the reference at our last diff's `u`; returns whether it could.
    fn compare_with_reference(&mut self, symbol: usize, reference: &mut Reference) -> bool {
        if !self.synced(symbol) || !reference.advance_to(self.lp.tally.depth_seq[symbol]) {
            reference.pump();
            return false;
        }
        let (bids, asks) = reference.levels();
        let at = self.lp.tally.depth_seq[symbol];
        assert_eq!(book_levels(&self.lp.books[symbol], Side::Buy), bids, "bids at {at}");
        assert_eq!(book_levels(&self.lp.books[symbol], Side::Sell), asks, "asks at {at}");
        true
    }

    /// Runs until the slow symbol compared equal with `/_sim/book` `times` times.
    fn compare_slow_symbol(&mut self, times: usize, limit: Duration) {
        let mut compared = 0;
        let mut last_seq = 0;
        let deadline = Instant::now() + limit;
        while compared < times {
            assert!(
                Instant::now() < deadline,
                "ETHUSDT never caught at a diff boundary; {:?}",
                self.lp.feed.counters()
            );
            self.step();
            if self.lp.tally.depth_seq[ETH] != last_seq && self.synced(ETH) {
                last_seq = self.lp.tally.depth_seq[ETH];
                if self.compare_with_sim_book(ETH) {
                    compared += 1;
                }
            }
        }
    }
}

#[test]
fn syncs_and_tracks_the_simulators_book_under_fast_flow() {
    let market = market(20_000.0, 20.0);
    let mut reference = Reference::new(&market, BTC);
    let mut h = Harness::new(start_sim(market));
    h.run_until(WAIT, "both symbols in sync", |h| h.synced(BTC) && h.synced(ETH));
    assert_eq!(h.lp.feed.state(), FeedState::Live);
    let first_seq = h.lp.tally.depth_seq[BTC];
    // Fast symbol: compare at every diff boundary until enough ids and comparisons went by.
    let mut compared = 0;
    let mut last_seq = 0;
    let deadline = Instant::now() + WAIT;
    while compared < 10 || h.lp.tally.depth_seq[BTC] - first_seq < 20_000 {
        assert!(Instant::now() < deadline, "fast flow: {compared} comparisons; {:?}", h.lp.feed.counters());
        h.step();
        if h.lp.tally.depth_seq[BTC] != last_seq && h.compare_with_reference(BTC, &mut reference) {
            last_seq = h.lp.tally.depth_seq[BTC];
            compared += 1;
        }
    }
    let spanned = h.lp.tally.depth_seq[BTC] - first_seq;
    eprintln!(
        "fast flow: {} BTCUSDT update ids in {} diff messages, {} level records, {} BBO, {} trades; {compared} exact comparisons",
        spanned, h.lp.tally.delta_batches, h.lp.tally.deltas, h.lp.tally.bbo, h.lp.tally.trades
    );
    assert!(compared >= 10, "compared only {compared} times");
    assert!(spanned >= 20_000, "only {spanned} update ids applied");
    assert!(h.lp.tally.bbo > 0 && h.lp.tally.trades > 0, "bookTicker and trade streams flow");
    // Slow symbol against the simulator's REST view of its own book.
    h.compare_slow_symbol(2, WAIT);
    let c = h.lp.feed.counters();
    assert_eq!((c.gaps, c.parse_errors_total(), c.reconnects), (0, 0, 0), "{c:?}");
    assert!(c.messages > 0 && c.snapshots_applied >= 2, "{c:?}");
}

#[test]
fn dropped_connections_reconnect_and_resync() {
    let market = market(2_000.0, 20.0);
    let mut reference = Reference::new(&market, BTC);
    let mut h = Harness::new(start_sim(market));
    h.run_until(WAIT, "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(WAIT, "a first comparison", |h| h.compare_with_reference(BTC, &mut reference));
    h.server.faults.drop_ws_connections();
    h.run_until(WAIT, "the drop to be seen", |h| h.lp.feed.counters().disconnects >= 1);
    assert!(!h.lp.books[BTC].is_valid() && !h.lp.books[ETH].is_valid(), "books invalid while resyncing");
    assert_eq!(h.lp.feed.state(), FeedState::Recovering);
    assert!(h.lp.tally.invalidations[BTC] >= 1);
    h.run_until(WAIT, "resync after reconnect", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(WAIT, "equal again", |h| h.compare_with_reference(BTC, &mut reference));
    h.compare_slow_symbol(1, WAIT);
    let c = h.lp.feed.counters();
    assert!(c.reconnects >= 1 && c.snapshots_applied >= 4, "{c:?}");
    assert_eq!(h.lp.feed.state(), FeedState::Live);
}

#[test]
fn a_sequence_skip_is_detected_and_resynced() {
    let market = market(2_000.0, 20.0);
    let mut reference = Reference::new(&market, BTC);
    let mut h = Harness::new(start_sim(market));
    h.run_until(WAIT, "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(WAIT, "a first comparison", |h| h.compare_with_reference(BTC, &mut reference));
    // Past the bridging diffs: a skip inside the diff that overlaps the snapshot is not a gap
    // (the lost operation is already in the snapshot), so inject it into the steady stream.
    let diffs = h.lp.tally.delta_batches;
    h.run_until(WAIT, "steady diffs", |h| h.lp.tally.delta_batches >= diffs + 4);
    h.server.faults.skip_sequence(1);
    h.run_until(WAIT, "the gap", |h| h.lp.feed.counters().gaps >= 1);
    assert!(!h.lp.books[BTC].is_valid() || !h.lp.books[ETH].is_valid(), "a book is invalid while resyncing");
    h.run_until(WAIT, "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(WAIT, "equal again", |h| h.compare_with_reference(BTC, &mut reference));
    let c = h.lp.feed.counters();
    assert!(c.gaps >= 1 && c.resyncs >= 1 && c.reconnects == 0, "{c:?}");
    assert!(h.lp.tally.invalidations.iter().sum::<u64>() >= 1);
}

#[test]
fn malformed_and_truncated_frames_are_counted_and_recovered() {
    let market = market(2_000.0, 20.0);
    let mut reference = Reference::new(&market, BTC);
    let mut h = Harness::new(start_sim(market));
    h.run_until(WAIT, "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.server.faults.malformed_frames(1);
    h.server.faults.truncated_frames(1);
    h.run_until(WAIT, "both bad frames", |h| h.lp.feed.counters().parse_errors_total() >= 2);
    h.run_until(WAIT, "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(WAIT, "equal again", |h| h.compare_with_reference(BTC, &mut reference));
    let c = h.lp.feed.counters();
    assert_eq!(c.parse_errors[0], 2, "both refused as invalid JSON: {c:?}");
    assert_eq!(c.reconnects, 0, "{c:?}");
}
