//! `KucoinFeed` against the simulator's KuCoin protocol over real TLS on loopback: the bullet
//! token connect flow, welcome → subscribe → ack, application-level pings (the simulator drops a
//! session that stops pinging), level-2 sync against REST snapshots tracked exactly under fast
//! flow, a dropped connection (a fresh token, resubscribe, resync), an injected sequence skip,
//! malformed/truncated frames, and the feed running inside `qt_core::Engine`.

mod snapshot_util;
use snapshot_util as util;

use qt_core::{Engine, EngineConfig, IdleStrategy, Instrument, InstrumentId};
use qt_core::{InstrumentRegistry, InstrumentSpec, MarketView, OrderRequest, PreTradeCheck, RiskDecision, Side};
use qt_core::{Venue, WallClock};
use qt_feed::kucoin::KucoinFeed;
use qt_feed::kucoin::feed::FULL_BOOK;
use qt_feed::snapshot_feed::SnapshotFeedConfig;
use qt_venue_sim::kucoin::KucoinSpot;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{Driver, FAST, Reference, SLOW, scenarios};

fn specs() -> Vec<InstrumentSpec> {
    vec![
        InstrumentSpec::spot(Venue::Kucoin, "BTC-USDT", "BTC", "USDT", "0.1", "0.00000001"),
        InstrumentSpec::spot(Venue::Kucoin, "ETH-USDT", "ETH", "USDT", "0.01", "0.0000001"),
    ]
}

fn symbols() -> Vec<Instrument> {
    specs().iter().enumerate().map(|(i, s)| Instrument::from_spec(InstrumentId(i as u32), s).expect("spec")).collect()
}

/// The simulator pings every 300 ms and drops a session silent for 1.8 s, so a run of a few
/// seconds without reconnects proves the feed's pings.
fn sim(fast_rate: f64) -> (RunningServer, Reference) {
    let s = symbols();
    let market = util::market(vec![(s[0].clone(), "65000", fast_rate), (s[1].clone(), "3200", 20.0)]);
    let reference = Reference::new(&market, FAST);
    let protocol = KucoinSpot::new(Duration::from_millis(300), Duration::from_millis(1500));
    (util::start_sim(market, Arc::new(protocol)), reference)
}

fn feed(server: &RunningServer) -> KucoinFeed {
    let (rest, _) = util::urls(server);
    // No WebSocket URL: the bullet answer names the endpoint.
    let mut cfg = SnapshotFeedConfig::new(String::new(), rest, symbols());
    cfg.ca_file = Some(server.ca_file.clone());
    cfg.server_name = Some("localhost".into());
    cfg.depth_limit = FULL_BOOK;
    KucoinFeed::new(cfg).expect("feed config")
}

fn setup(fast_rate: f64) -> (RunningServer, Driver<KucoinFeed>, Reference) {
    let (server, reference) = sim(fast_rate);
    let d = Driver::new(feed(&server), &symbols());
    (server, d, reference)
}

#[test]
fn connects_through_the_bullet_flow_and_tracks_the_book_exactly() {
    let (server, mut d, mut reference) = setup(5_000.0);
    scenarios::track(&server, &mut d, &mut reference, &symbols()[SLOW]);
    let link = d.feed.link_counters();
    assert_eq!((link.connects, link.subscriptions_sent), (1, 2), "{link:?}");
    assert!(d.feed.decoder().counters().control >= 3, "welcome and two acks: {:?}", d.feed.decoder().counters());
    assert!(link.heartbeats >= 5 && link.silence_drops == 0, "pings keep the session: {link:?}");
}

#[test]
fn a_dropped_connection_takes_a_fresh_token_resubscribes_and_resyncs() {
    let (server, mut d, mut reference) = setup(2_000.0);
    scenarios::dropped_connection(&server, &mut d, &mut reference, &symbols()[SLOW]);
    let link = d.feed.link_counters();
    assert!(link.connects >= 2 && link.subscriptions_sent >= 4, "resubscribed: {link:?}");
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
}

#[test]
fn a_silent_session_is_dropped_by_the_heartbeat_and_resynced() {
    let (server, mut d, mut reference) = setup(2_000.0);
    scenarios::sync(&mut d);
    // Nothing (not even pongs) for longer than pingInterval + pingTimeout (1.8 s).
    server.faults.stall_ws_for(Duration::from_millis(2_500));
    let info = |f: &KucoinFeed| format!("{:?}", f.link_counters());
    d.run_until(Duration::from_secs(10), "the heartbeat timeout", info, |d| d.feed.link_counters().silence_drops >= 1);
    assert!(d.books.iter().all(|b| !b.is_valid()), "books invalid after the silent session");
    d.run_until(Duration::from_secs(15), "resync", info, |d| {
        (0..2).all(|i| d.feed.is_synced(i) && d.books[i].is_valid())
    });
    assert!(d.track(&mut reference, FAST, Duration::from_secs(2)) >= 3);
    let link = d.feed.link_counters();
    assert!(link.disconnects >= 1 && link.reconnects >= 1, "{link:?}");
}

/// Trades are never placed here: the engine only keeps books.
struct NoOrders;

impl PreTradeCheck for NoOrders {
    fn check(&mut self, _request: &OrderRequest, _view: &MarketView<'_>) -> RiskDecision {
        RiskDecision::Allow
    }
}

#[test]
fn inside_the_engine_the_book_matches_the_simulators() {
    let (server, _) = sim(500.0);
    let mut registry = InstrumentRegistry::new();
    for s in specs() {
        registry.add(&s).expect("spec");
    }
    let cfg = EngineConfig { idle: IdleStrategy::GENTLE, ..EngineConfig::default() };
    let mut engine = Engine::new(cfg, registry, NoOrders, Arc::new(WallClock));
    engine.add_feed(Box::new(feed(&server)));
    engine.register_feeds().expect("register");
    let rest = util::rest_client(&server);
    let slow = &symbols()[SLOW];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut matched = 0;
    while matched < 2 {
        assert!(Instant::now() < deadline, "the engine's book never matched /_sim/book ({matched} matches)");
        for _ in 0..200 {
            engine.do_work();
        }
        let Some(book) = engine.book(slow.id()).filter(|b| b.is_valid()) else { continue };
        let (id, bids, asks) = util::sim_book(&rest, slow);
        if book.last_seq() == id
            && util::book_levels(book, Side::Buy) == bids
            && util::book_levels(book, Side::Sell) == asks
        {
            matched += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let fast = engine.book(symbols()[FAST].id()).expect("fast book");
    assert!(fast.is_valid() && fast.best_bid().is_some() && !fast.is_crossed());
}
