//! The OKX live feed (`WsFeed<OkxLive>`) against the venue simulator's OKX v5 protocol
//! (`qt_venue_sim::okx::OkxV5`) over real TLS on loopback: subscribe, sync from the `books`
//! snapshot, verify every checksum while applying many updates, equal the simulator's own book
//! at a matching `seqId`, reconnect and resubscribe after a dropped connection, detect and
//! resync an injected sequence gap and a corrupted level (checksum mismatch), count malformed
//! frames, ping on silence, and run inside `qt_core::Engine`. Every wait is bounded.

mod stream_util;

use qt_core::FeedSource;
use qt_core::feed_source::FeedState;
use qt_core::{Nanos, Side, Venue};
use qt_feed::okx::live::{OkxFeed, OkxFeedConfig, OkxLive};
use qt_venue_sim::okx::OkxV5;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream_util::{Harness, feed_config, instrument, market, start_sim};

const BTC: usize = 0;
const ETH: usize = 1;
const DEPTH: usize = 400;
const LOTS: [&str; 2] = ["0.00001", "0.0001"];

fn okx_sim(rate: f64, protocol: OkxV5) -> RunningServer {
    let symbols = vec![
        (instrument(Venue::Okx, 0, "BTC-USDT", "BTC", "USDT", LOTS[0]), "65000"),
        (instrument(Venue::Okx, 1, "ETH-USDT", "ETH", "USDT", LOTS[1]), "3200"),
    ];
    start_sim(market(symbols, rate), Arc::new(protocol))
}

fn harness_with(server: RunningServer, tune: impl FnOnce(&mut OkxFeedConfig)) -> Harness<OkxLive> {
    let mut cfg = OkxFeedConfig::new(feed_config(&server, "okx"));
    cfg.bbo = true;
    tune(&mut cfg);
    let feed = OkxLive::feed(cfg).expect("feed config");
    Harness::new(server, feed, "okx")
}

fn harness(rate: f64) -> Harness<OkxLive> {
    harness_with(okx_sim(rate, OkxV5::new()), |_| {})
}

fn seq(h: &Harness<OkxLive>, symbol: usize) -> Option<u64> {
    h.feed.decoder().book_seq(symbol).map(|s| s as u64)
}

/// Runs until every symbol compared equal with the simulator `times` times (at distinct seqs).
fn compare_all(h: &mut Harness<OkxLive>, times: usize, limit: Duration) {
    let mut done = [0usize; 2];
    let mut last = [None; 2];
    let deadline = Instant::now() + limit;
    while done.iter().any(|d| *d < times) {
        assert!(Instant::now() < deadline, "compared only {done:?} times: {:?}", h.feed.decoder().counters());
        h.step();
        for s in [BTC, ETH] {
            let at = seq(h, s);
            if done[s] < times && at.is_some() && at != last[s] {
                last[s] = at;
                done[s] += usize::from(h.compare_at(s, DEPTH, at.unwrap_or(0)));
            }
        }
    }
}

fn initial_sync(h: &mut Harness<OkxLive>) {
    h.run_until(Duration::from_secs(10), "both symbols in sync", |h| h.all_synced());
    assert_eq!(h.feed.state(), FeedState::Live);
}

#[test]
fn subscribes_syncs_verifies_every_checksum_and_equals_the_simulators_book() {
    let mut h = harness(50.0);
    initial_sync(&mut h);
    compare_all(&mut h, 3, Duration::from_secs(20));
    h.run_until(Duration::from_secs(20), "many checksummed updates", |h| {
        h.feed.decoder().counters().stats.checksum_ok >= 60
    });
    h.run_until(Duration::from_secs(10), "trades and BBO", |h| h.tally.trades > 0 && h.tally.bbo > 0);
    let c = h.feed.decoder().counters();
    assert_eq!((c.stats.gaps, c.stats.parse_errors, c.stats.checksum_failed, c.control_errors), (0, 0, 0, 0), "{c:?}");
    assert_eq!(c.checksum_absent, 0, "the simulator checksums every books message: {c:?}");
    assert!(c.control >= 6, "one subscribe ack per arg: {c:?}");
    assert_eq!(h.feed.counters().reconnects, 0);
    assert!(h.books.iter().all(|b| b.is_valid() && b.depth(Side::Buy) > 0 && b.depth(Side::Sell) > 0));
}

#[test]
fn a_dropped_connection_reconnects_resubscribes_and_equals_again() {
    let mut h = harness(50.0);
    initial_sync(&mut h);
    compare_all(&mut h, 1, Duration::from_secs(20));
    h.server.faults.drop_ws_connections();
    h.run_until(Duration::from_secs(10), "the drop to be seen", |h| h.feed.counters().disconnects >= 1);
    assert!(!h.books[BTC].is_valid() && !h.books[ETH].is_valid(), "books invalid while reconnecting");
    assert_eq!(h.feed.state(), FeedState::Recovering);
    h.run_until(Duration::from_secs(15), "resync after reconnect", |h| h.all_synced());
    compare_all(&mut h, 1, Duration::from_secs(20));
    let c = h.feed.counters();
    assert!(c.reconnects >= 1 && c.connects >= 2, "{c:?}");
    assert!(h.tally.invalidations.iter().all(|n| *n >= 1));
    assert_eq!(h.feed.decoder().counters().stats.checksum_failed, 0);
}

#[test]
fn an_injected_sequence_gap_is_detected_counted_and_resynced() {
    let mut h = harness(50.0);
    initial_sync(&mut h);
    h.server.faults.skip_sequence(1);
    h.run_until(Duration::from_secs(10), "the gap", |h| h.feed.decoder().counters().stats.gaps >= 1);
    assert!(h.tally.invalidations.iter().sum::<u64>() >= 1, "the engine was told");
    h.run_until(Duration::from_secs(10), "the resubscription", |h| h.feed.counters().resubscribes >= 1);
    h.run_until(Duration::from_secs(15), "resync", |h| h.all_synced());
    compare_all(&mut h, 1, Duration::from_secs(20));
    let c = h.feed.decoder().counters();
    assert!(c.stats.gaps == 1 && c.stats.resyncs >= 1 && c.control_errors == 0, "{c:?}");
    assert_eq!(h.feed.counters().reconnects, 0, "resynced without reconnecting");
}

#[test]
fn a_corrupted_level_fails_the_checksum_invalidates_and_resubscribes() {
    let mut h = harness(50.0);
    initial_sync(&mut h);
    h.server.faults.corrupt_levels(1);
    h.run_until(Duration::from_secs(10), "the mismatch", |h| h.feed.decoder().counters().stats.checksum_failed >= 1);
    assert!(h.tally.invalidations.iter().sum::<u64>() >= 1, "the engine was told");
    h.run_until(Duration::from_secs(15), "resync", |h| h.feed.counters().resubscribes >= 1 && h.all_synced());
    compare_all(&mut h, 1, Duration::from_secs(20));
    let c = h.feed.decoder().counters();
    assert_eq!((c.stats.checksum_failed, c.stats.gaps), (1, 0), "{c:?}");
}

#[test]
fn malformed_and_truncated_frames_are_counted_without_a_panic_and_recovered() {
    let mut h = harness(50.0);
    initial_sync(&mut h);
    h.server.faults.malformed_frames(1);
    h.server.faults.truncated_frames(1);
    h.run_until(Duration::from_secs(10), "both bad frames", |h| h.feed.decoder().counters().stats.parse_errors >= 2);
    h.run_until(Duration::from_secs(15), "resync", |h| h.all_synced());
    compare_all(&mut h, 1, Duration::from_secs(20));
    assert_eq!(h.feed.decoder().counters().stats.parse_errors, 2);
    assert_eq!(h.feed.counters().reconnects, 0);
}

#[test]
fn pings_when_silent_and_reconnects_when_the_venue_stays_silent() {
    let mut h = harness_with(okx_sim(50.0, OkxV5::new()), |c| {
        c.ping_after = Nanos(300_000_000);
        c.silence_timeout = Nanos(1_500_000_000);
    });
    initial_sync(&mut h);
    // A stall shorter than the silence limit: the feed pings, the pong arrives after it.
    h.server.faults.stall_ws_for(Duration::from_millis(800));
    h.run_until(Duration::from_secs(10), "a ping", |h| h.feed.counters().heartbeats >= 1);
    h.run_until(Duration::from_secs(10), "data again", |h| h.all_synced() && h.feed.decoder().counters().control >= 7);
    assert_eq!(h.feed.counters().disconnects, 0, "{:?}", h.feed.counters());
    // A longer one: the feed gives the connection up and reconnects.
    h.server.faults.stall_ws_for(Duration::from_secs(3));
    h.run_until(Duration::from_secs(10), "the silence drop", |h| h.feed.counters().silence_drops >= 1);
    h.run_until(Duration::from_secs(15), "resync after reconnect", |h| {
        h.feed.counters().reconnects >= 1 && h.all_synced()
    });
}

#[test]
fn the_simulator_closes_an_idle_connection() {
    // Nothing flows (no subscription answer would come without a subscribe): the feed's own
    // ping comes too late, so the venue's 30 s rule (here 500 ms) closes the connection.
    let server = okx_sim(50.0, OkxV5::new().with_idle_timeout(Duration::from_millis(500)));
    let mut h = harness_with(server, |c| {
        c.ping_after = Nanos(20_000_000_000);
        c.silence_timeout = Nanos(30_000_000_000);
    });
    initial_sync(&mut h);
    h.server.faults.stall_ws_for(Duration::from_secs(2));
    h.run_until(Duration::from_secs(10), "the venue's idle close", |h| h.feed.counters().disconnects >= 1);
    h.run_until(Duration::from_secs(15), "resync after reconnect", |h| h.all_synced());
}

#[test]
fn inside_the_engine_the_book_is_valid_and_equals_the_simulators() {
    let server = okx_sim(5.0, OkxV5::new());
    let feed: OkxFeed = OkxLive::feed(OkxFeedConfig::new(feed_config(&server, "okx"))).expect("feed");
    stream_util::engine_tracks_the_simulator(&server, Box::new(feed), &LOTS, DEPTH);
}
