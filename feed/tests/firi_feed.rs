//! `FiriFeed` against the simulator's Firi protocol over real TLS on loopback: the REST poller
//! as a `FeedSource` (polling thread → bounded channel → core), book images equal to the
//! simulator's book, the configured rate respected, and an HTTP 503 or a bad body counted with
//! the book invalid until the next good poll.

mod snapshot_util;
use snapshot_util as util;

use qt_core::feed_source::FeedState;
use qt_core::{FeedSource, Instrument, Side, Venue};
use qt_feed::firi::{FiriFeed, FiriFeedConfig};
use qt_venue_sim::firi::FiriPublic;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::Driver;

fn btcnok() -> Instrument {
    util::instrument(0, Venue::Firi, "BTCNOK", "BTC", "NOK", "1", "0.00000001")
}

/// A (nearly) still market: one background event per ~3 hours, so every poll sees the same book.
fn setup(interval: Duration) -> (RunningServer, Driver<FiriFeed>) {
    let market = util::market(vec![(btcnok(), "650000", 1e-4)]);
    let server = util::start_sim(market, Arc::new(FiriPublic::default()));
    let (rest, _) = util::urls(&server);
    let mut cfg = FiriFeedConfig::new(rest, btcnok());
    cfg.ca_file = Some(server.ca_file.clone());
    cfg.server_name = Some("localhost".into());
    cfg.interval = interval;
    let feed = FiriFeed::new(cfg).expect("feed config");
    (server, Driver::new(feed, &[btcnok()]))
}

fn info(f: &FiriFeed) -> String {
    format!("{:?} {:?}", f.counters(), f.decoder().counters())
}

fn valid(d: &mut Driver<FiriFeed>) -> bool {
    d.feed.is_synced() && d.books[0].is_valid()
}

#[test]
fn polls_at_the_configured_rate_into_a_book_equal_to_the_simulators() {
    let interval = Duration::from_millis(100);
    let (server, mut d) = setup(interval);
    let started = Instant::now();
    d.run_until(Duration::from_secs(15), "the first book", info, valid);
    assert_eq!(d.feed.state(), FeedState::Live);
    let (_, bids, asks) = util::sim_book(&util::rest_client(&server), &btcnok());
    assert!(!bids.is_empty() && !asks.is_empty());
    // The depth endpoint serves 100 levels a side by default.
    let top = |v: &util::Levels| v.iter().take(100).copied().collect::<Vec<_>>();
    assert_eq!(util::book_levels(&d.books[0], Side::Buy), top(&bids));
    assert_eq!(util::book_levels(&d.books[0], Side::Sell), top(&asks));
    d.run_until(Duration::from_secs(15), "five books", info, |d| d.feed.counters().books >= 5);
    // Polls start at most once per interval (the first at once).
    let books = d.feed.counters().books;
    assert!(started.elapsed() >= interval * (books as u32 - 1), "{books} books in {:?}", started.elapsed());
    assert_eq!(d.feed.counters().failed_polls, 0, "{}", info(&d.feed));
}

#[test]
fn a_503_invalidates_the_book_until_the_next_good_poll() {
    let (server, mut d) = setup(Duration::from_millis(50));
    d.run_until(Duration::from_secs(15), "the first book", info, valid);
    server.faults.fail_http(2, 503);
    d.run_until(Duration::from_secs(10), "the failed poll", info, |d| d.feed.counters().failed_polls >= 1);
    assert_eq!(d.feed.counters().last_failed_status, 503);
    assert!(!d.books[0].is_valid(), "invalid after a failed poll");
    assert_eq!(d.feed.state(), FeedState::Recovering);
    assert!(d.tally.invalidations[0] >= 1);
    d.run_until(Duration::from_secs(10), "the next good poll", info, valid);
}

#[test]
fn malformed_and_truncated_bodies_are_counted_and_invalidate_the_book() {
    let (server, mut d) = setup(Duration::from_millis(50));
    d.run_until(Duration::from_secs(15), "the first book", info, valid);
    server.faults.malformed_frames(1);
    d.run_until(Duration::from_secs(10), "the malformed body", info, |d| d.feed.counters().refused_bodies >= 1);
    assert!(!d.books[0].is_valid(), "invalid after a bad body");
    d.run_until(Duration::from_secs(10), "recovery", info, valid);
    server.faults.truncated_frames(1);
    d.run_until(Duration::from_secs(10), "the truncated body", info, |d| d.feed.counters().refused_bodies >= 2);
    d.run_until(Duration::from_secs(10), "recovery", info, valid);
    let c = d.feed.counters();
    assert!(c.invalidations >= 2 && c.books >= 3, "{}", info(&d.feed));
}

#[test]
fn a_core_that_falls_behind_drops_polls_instead_of_queueing_them() {
    let (_server, mut d) = setup(Duration::from_millis(10));
    d.run_until(Duration::from_secs(15), "the first book", info, valid);
    // The core stops draining: the two-slot channel fills and the poller drops, never blocks.
    let deadline = Instant::now() + Duration::from_secs(15);
    while d.feed.dropped_polls() < 3 {
        assert!(Instant::now() < deadline, "no poll dropped: {}", info(&d.feed));
        std::thread::yield_now();
    }
    let books = d.feed.counters().books;
    d.step();
    let drained = d.feed.counters().books - books;
    assert!((1..=2).contains(&drained), "at most the channel's two polls queued, got {drained}");
    assert!(valid(&mut d));
}
