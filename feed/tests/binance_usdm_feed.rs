//! `BinanceUsdmFeed` against the simulator's Binance USD-M protocol over real TLS on loopback:
//! sync under the futures `pu` rule and track many diffs exactly (the fast symbol against the
//! market's own update stream, the slow one against `/_sim/book`), a dropped connection, an
//! injected sequence skip, and malformed/truncated frames.

mod snapshot_util;
use snapshot_util as util;

use qt_core::{Instrument, Venue};
use qt_feed::binance_usdm::BinanceUsdmFeed;
use qt_feed::snapshot_feed::SnapshotFeedConfig;
use qt_venue_sim::binance_usdm::BinanceUsdm;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use util::{Driver, FAST, Reference, SLOW, scenarios};

fn symbols() -> Vec<Instrument> {
    vec![
        util::instrument(0, Venue::BinanceUsdm, "BTCUSDT", "BTC", "USDT", "0.1", "0.001"),
        util::instrument(1, Venue::BinanceUsdm, "ETHUSDT", "ETH", "USDT", "0.01", "0.001"),
    ]
}

fn setup(fast_rate: f64) -> (RunningServer, Driver<BinanceUsdmFeed>, Reference) {
    let s = symbols();
    let market = util::market(vec![(s[0].clone(), "65000", fast_rate), (s[1].clone(), "3200", 20.0)]);
    let reference = Reference::new(&market, FAST);
    let server = util::start_sim(market, Arc::new(BinanceUsdm::default()));
    let (rest, ws) = util::urls(&server);
    let mut cfg = SnapshotFeedConfig::new(ws, rest, s.clone());
    cfg.ca_file = Some(server.ca_file.clone());
    cfg.server_name = Some("localhost".into());
    let feed = BinanceUsdmFeed::new(cfg).expect("feed config");
    (server, Driver::new(feed, &s), reference)
}

#[test]
fn syncs_and_tracks_the_simulators_book() {
    let (server, mut d, mut reference) = setup(5_000.0);
    scenarios::track(&server, &mut d, &mut reference, &symbols()[SLOW]);
    assert!(d.tally.bbo > 0, "bookTicker flows: {:?}", d.tally);
}

#[test]
fn a_dropped_connection_reconnects_and_resyncs() {
    let (server, mut d, mut reference) = setup(2_000.0);
    scenarios::dropped_connection(&server, &mut d, &mut reference, &symbols()[SLOW]);
    assert!(d.feed.decoder().counters().snapshots_applied >= 4);
}

#[test]
fn a_symbol_unsubscribed_stays_out_across_a_reconnect_and_comes_back() {
    let (server, mut d, mut reference) = setup(2_000.0);
    scenarios::unsubscribe_and_back(&server, &mut d, &mut reference, &symbols()[SLOW]);
}

#[test]
fn an_injected_sequence_skip_is_detected_counted_and_resynced() {
    let (server, mut d, mut reference) = setup(2_000.0);
    scenarios::sequence_skip(&server, &mut d, &mut reference);
}

#[test]
fn malformed_and_truncated_frames_are_counted_without_a_panic() {
    let (server, mut d, mut reference) = setup(2_000.0);
    scenarios::bad_frames(&server, &mut d, &mut reference);
    assert_eq!(d.feed.decoder().counters().parse_errors[0], 2, "both refused as invalid JSON");
}
