//! The Kraken WS v2 live feed (`WsFeed<KrakenLive>`) against the venue simulator's Kraken v2
//! protocol (`qt_venue_sim::kraken::KrakenV2`) over real TLS on loopback: subscribe, sync from
//! the `book` snapshot, verify every checksum while applying many updates, equal the
//! simulator's own top 10, reconnect and resubscribe after a dropped connection, resync after a
//! corrupted level (checksum mismatch), count malformed frames, and drop a connection that has
//! gone silent (no data, no heartbeat), and run inside `qt_core::Engine`. Kraken has no sequence numbers, so the comparison with
//! the simulator happens when its book stood still while the feed caught up. Every wait is
//! bounded.

mod stream_util;

use qt_core::feed_source::FeedState;
use qt_core::{FeedSource, Nanos, Side, Venue};
use qt_feed::kraken::live::{KrakenFeedConfig, KrakenLive};
use qt_venue_sim::kraken::KrakenV2;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream_util::{Harness, feed_config, instrument, market, start_sim};

const BTC: usize = 0;
const ETH: usize = 1;
const DEPTH: usize = 10;

const LOTS: [&str; 2] = ["0.00001", "0.0001"];

fn kraken_sim(rate: f64) -> qt_venue_sim::server::RunningServer {
    let symbols = vec![
        (instrument(Venue::Kraken, 0, "BTC/USD", "BTC", "USD", LOTS[0]), "65000"),
        (instrument(Venue::Kraken, 1, "ETH/USD", "ETH", "USD", LOTS[1]), "3200"),
    ];
    start_sim(market(symbols, rate), Arc::new(KrakenV2::new()))
}

fn harness_with(rate: f64, tune: impl FnOnce(&mut KrakenFeedConfig)) -> Harness<KrakenLive> {
    let server = kraken_sim(rate);
    let mut cfg = KrakenFeedConfig::new(feed_config(&server, "kraken"));
    tune(&mut cfg);
    let feed = KrakenLive::feed(cfg).expect("feed config");
    Harness::new(server, feed, "kraken")
}

fn harness(rate: f64) -> Harness<KrakenLive> {
    harness_with(rate, |_| {})
}

fn compare_all(h: &mut Harness<KrakenLive>, limit: Duration) {
    let mut done = [false; 2];
    let deadline = Instant::now() + limit;
    while !done.iter().all(|d| *d) {
        assert!(Instant::now() < deadline, "never compared: {done:?}, {:?}", h.feed.decoder().counters());
        for s in [BTC, ETH] {
            if !done[s] {
                done[s] = h.compare_settled(s, DEPTH, Duration::from_millis(80));
            }
        }
    }
}

fn initial_sync(h: &mut Harness<KrakenLive>) {
    h.run_until(Duration::from_secs(10), "both symbols in sync", |h| h.all_synced());
    assert_eq!(h.feed.state(), FeedState::Live);
}

#[test]
fn subscribes_syncs_verifies_every_checksum_and_equals_the_simulators_top_10() {
    let mut h = harness(15.0);
    initial_sync(&mut h);
    compare_all(&mut h, Duration::from_secs(20));
    h.run_until(Duration::from_secs(20), "many checksummed updates", |h| {
        h.feed.decoder().counters().stats.checksum_ok >= 60 && h.tally.trades > 0
    });
    compare_all(&mut h, Duration::from_secs(20));
    let c = h.feed.decoder().counters();
    assert_eq!((c.stats.parse_errors, c.stats.checksum_failed, c.control_errors), (0, 0, 0), "{c:?}");
    assert_eq!(c.checksum_absent, 0, "every book message is checksummed: {c:?}");
    assert!(c.control >= 5, "status, one ack per symbol and channel: {c:?}");
    assert_eq!(h.feed.counters().reconnects, 0);
    assert!(h.books.iter().all(|b| b.depth(Side::Buy) == DEPTH && b.depth(Side::Sell) == DEPTH));
}

#[test]
fn a_dropped_connection_reconnects_resubscribes_and_equals_again() {
    let mut h = harness(15.0);
    initial_sync(&mut h);
    h.server.faults.drop_ws_connections();
    h.run_until(Duration::from_secs(10), "the drop to be seen", |h| h.feed.counters().disconnects >= 1);
    assert!(!h.books[BTC].is_valid() && !h.books[ETH].is_valid(), "books invalid while reconnecting");
    assert_eq!(h.feed.state(), FeedState::Recovering);
    h.run_until(Duration::from_secs(15), "resync after reconnect", |h| h.all_synced());
    compare_all(&mut h, Duration::from_secs(20));
    assert!(h.feed.counters().reconnects >= 1);
    assert_eq!(h.feed.decoder().counters().stats.checksum_failed, 0);
}

#[test]
fn a_corrupted_level_fails_the_checksum_invalidates_and_resubscribes() {
    let mut h = harness(15.0);
    initial_sync(&mut h);
    h.server.faults.corrupt_levels(1);
    h.run_until(Duration::from_secs(10), "the mismatch", |h| h.feed.decoder().counters().stats.checksum_failed >= 1);
    assert!(h.tally.invalidations.iter().sum::<u64>() >= 1, "the engine was told");
    h.run_until(Duration::from_secs(15), "resync", |h| h.feed.counters().resubscribes >= 1 && h.all_synced());
    compare_all(&mut h, Duration::from_secs(20));
    let c = h.feed.decoder().counters();
    assert_eq!((c.stats.checksum_failed, c.control_errors), (1, 0), "unsubscribe + subscribe accepted: {c:?}");
    assert_eq!(h.feed.counters().reconnects, 0);
}

#[test]
fn malformed_and_truncated_frames_are_counted_without_a_panic_and_recovered() {
    let mut h = harness(15.0);
    initial_sync(&mut h);
    h.server.faults.malformed_frames(1);
    h.server.faults.truncated_frames(1);
    h.run_until(Duration::from_secs(10), "both bad frames", |h| h.feed.decoder().counters().stats.parse_errors >= 2);
    h.run_until(Duration::from_secs(15), "resync", |h| h.all_synced());
    compare_all(&mut h, Duration::from_secs(20));
    assert_eq!(h.feed.decoder().counters().stats.parse_errors, 2);
    assert_eq!(h.feed.counters().reconnects, 0);
}

#[test]
fn heartbeats_and_pings_keep_it_alive_and_silence_reconnects() {
    let mut h = harness_with(15.0, |c| {
        c.ping_interval = Nanos(200_000_000);
        c.silence_timeout = Nanos(1_500_000_000);
    });
    initial_sync(&mut h);
    let control = h.feed.decoder().counters().control;
    h.run_until(Duration::from_secs(10), "heartbeats and pongs", |h| {
        h.feed.counters().heartbeats >= 3 && h.feed.decoder().counters().control >= control + 5
    });
    assert_eq!(h.feed.counters().disconnects, 0);
    h.server.faults.stall_ws_for(Duration::from_secs(3));
    h.run_until(Duration::from_secs(10), "the silence drop", |h| h.feed.counters().silence_drops >= 1);
    h.run_until(Duration::from_secs(15), "resync after reconnect", |h| {
        h.feed.counters().reconnects >= 1 && h.all_synced()
    });
}

#[test]
fn inside_the_engine_the_book_is_valid_and_equals_the_simulators_top_10() {
    let server = kraken_sim(5.0);
    let feed = KrakenLive::feed(KrakenFeedConfig::new(feed_config(&server, "kraken"))).expect("feed");
    stream_util::engine_tracks_the_simulator(&server, Box::new(feed), &LOTS, DEPTH);
}
