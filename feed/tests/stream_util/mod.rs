//! Shared harness of the live-feed tests that run a [`WsFeed`] against the venue simulator over
//! real TLS on loopback: the simulated market, the server, a mio loop driving the feed the way
//! the core loop does, one `qt_core::Book` per symbol fed by the records, and the simulator's
//! own book (`GET /_sim/book`) to compare with. Every wait is bounded.

#![allow(dead_code, reason = "each test file uses a different part of the harness")]

use qt_core::{FeedSource, Instrument, InstrumentSpec, Venue};
use qt_feed::snapshot::HttpsClient;
use qt_feed::ws_feed::{StreamVenue, WsFeed, WsFeedConfig};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use qt_test_support::feed_loop::FeedLoop;
pub(crate) use qt_test_support::sim::start_sim;
pub(crate) use qt_test_support::sim_book::{SimBook, rest_client};

/// A spot instrument `symbol` (`base`/`quote`) with tick 0.01, lot and minimum quantity `lot`,
/// minimum notional 5.
pub(crate) fn instrument(venue: Venue, id: u32, symbol: &str, base: &str, quote: &str, lot: &str) -> Instrument {
    TestInstrument::spot(venue, symbol).assets(base, quote).lot(lot).minimums(lot, "5").build(id)
}

/// A market of `symbols` (instrument, start mid) with background flow at `rate` events/s, no
/// account.
pub(crate) fn market(symbols: Vec<(Instrument, &str)>, rate: f64) -> Arc<Market> {
    symbols.into_iter().fold(MarketBuilder::new(), |m, (inst, mid)| m.symbol(inst, mid, rate)).build()
}

/// The common feed config pointing at `server`'s `name` listener.
pub(crate) fn feed_config(server: &RunningServer, name: &str) -> WsFeedConfig {
    let addr = server.addr_of(name).expect("listener");
    WsFeedConfig {
        ws_url: format!("wss://{addr}"),
        ca_file: Some(server.ca_file.clone()),
        server_name: Some("localhost".into()),
        symbols: server.market.instruments().to_vec(),
    }
}

/// A [`WsFeed`] driven like the core loop drives it ([`FeedLoop`]: `feed`, `books`, `tally`
/// through `Deref`), with the simulator it talks to and a REST client of it.
pub(crate) struct Harness<V: StreamVenue> {
    pub(crate) server: RunningServer,
    pub(crate) lp: FeedLoop<WsFeed<V>>,
    pub(crate) rest: HttpsClient,
}

impl<V: StreamVenue> std::ops::Deref for Harness<V> {
    type Target = FeedLoop<WsFeed<V>>;
    fn deref(&self) -> &FeedLoop<WsFeed<V>> {
        &self.lp
    }
}

impl<V: StreamVenue> std::ops::DerefMut for Harness<V> {
    fn deref_mut(&mut self) -> &mut FeedLoop<WsFeed<V>> {
        &mut self.lp
    }
}

impl<V: StreamVenue> Harness<V> {
    pub(crate) fn new(server: RunningServer, feed: WsFeed<V>, name: &str) -> Self {
        let lp = FeedLoop::new(feed, server.market.instruments(), 10_000);
        let rest = rest_client(&server, name);
        Self { server, lp, rest }
    }

    pub(crate) fn step(&mut self) {
        self.lp.step();
    }

    pub(crate) fn run_until(&mut self, limit: Duration, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; feed {:?}, decoder {:?}",
                self.feed.link_counters(),
                qt_feed::VenueDecoder::stats(self.feed.decoder())
            );
            self.step();
        }
    }

    /// Symbol's feed book and our record-built book are both valid.
    pub(crate) fn synced(&self, symbol: usize) -> bool {
        self.feed.is_synced(symbol) && self.books[symbol].is_valid()
    }

    pub(crate) fn all_synced(&self) -> bool {
        (0..self.books.len()).all(|s| self.synced(s))
    }

    /// Asserts symbol's book equals the simulator's top `depth` if the simulator's `updateId`
    /// is `at`; returns whether it compared.
    pub(crate) fn compare_at(&mut self, symbol: usize, depth: usize, at: u64) -> bool {
        let image = SimBook::fetch(&self.rest, &self.server.market.instruments()[symbol], depth);
        if image.update_id != at || !self.synced(symbol) {
            return false;
        }
        image.assert_equals(&self.books[symbol], &format!("symbol {symbol}"));
        true
    }

    /// For venues without sequence numbers: the simulator's `updateId` did not move while the
    /// feed caught up (`settle` of polling), and then our book equals its top `depth`.
    pub(crate) fn compare_settled(&mut self, symbol: usize, depth: usize, settle: Duration) -> bool {
        let inst = self.server.market.instruments()[symbol].clone();
        let before = SimBook::fetch(&self.rest, &inst, depth).update_id;
        let until = Instant::now() + settle;
        while Instant::now() < until {
            self.step();
        }
        let image = SimBook::fetch(&self.rest, &inst, depth);
        if image.update_id != before || !self.synced(symbol) {
            return false;
        }
        image.assert_equals(&self.books[symbol], &format!("symbol {symbol}"));
        true
    }
}

struct AllowAll;

impl qt_core::PreTradeCheck for AllowAll {
    fn check(&mut self, _: &qt_core::OrderRequest, _: &qt_core::MarketView<'_>) -> qt_core::RiskDecision {
        qt_core::RiskDecision::Allow
    }
}

/// Runs `feed` inside a `qt_core::Engine` (`register_feeds` + `do_work`) over the simulator's
/// spot instruments (tick 0.01, `lots[i]`): every engine book becomes valid and equals the
/// simulator's top `depth` (compared when the simulator's book stood still while the engine
/// worked — use a slow flow); a dropped connection invalidates the engine's books until the
/// resync makes them valid again.
pub(crate) fn engine_tracks_the_simulator(
    server: &RunningServer,
    feed: Box<dyn FeedSource>,
    lots: &[&str],
    depth: usize,
) {
    use qt_core::{Engine, EngineConfig, IdleStrategy, InstrumentRegistry};
    let rest = rest_client(server, server.addrs.first().map_or("", |(name, _)| *name));
    let mut registry = InstrumentRegistry::new();
    for (inst, lot) in server.market.instruments().iter().zip(lots) {
        let spec = InstrumentSpec::spot(inst.venue(), inst.symbol(), inst.base(), inst.quote(), "0.01", lot);
        registry.add(&spec).expect("instrument");
    }
    let cfg = EngineConfig { idle: IdleStrategy::GENTLE, book_depth: 1000, ..EngineConfig::default() };
    let mut engine = Engine::new(cfg, registry, AllowAll, Arc::new(qt_core::time::WallClock));
    engine.add_feed(feed);
    engine.register_feeds().expect("register");
    let ids: Vec<_> = server.market.instruments().iter().map(|i| i.id()).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut compared = vec![false; ids.len()];
    while !compared.iter().all(|c| *c) {
        assert!(Instant::now() < deadline, "engine books never equal the simulator's: {compared:?}");
        for s in 0..ids.len() {
            if compared[s] || !engine.book(ids[s]).is_some_and(|b| b.is_valid()) {
                continue;
            }
            let inst = &server.market.instruments()[s];
            let before = SimBook::fetch(&rest, inst, depth).update_id;
            let until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < until {
                engine.do_work();
            }
            let image = SimBook::fetch(&rest, inst, depth);
            let Some(book) = engine.book(ids[s]).filter(|b| b.is_valid()) else { continue };
            if before == image.update_id {
                image.assert_equals(book, &format!("engine symbol {s}"));
                compared[s] = true;
            }
        }
        engine.do_work();
    }
    server.faults.drop_ws_connections();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ids.iter().all(|id| engine.book(*id).is_some_and(|b| b.is_valid())) {
        assert!(Instant::now() < deadline, "the engine never saw the drop");
        engine.do_work();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ids.iter().all(|id| engine.book(*id).is_some_and(|b| b.is_valid())) {
        assert!(Instant::now() < deadline, "the engine's books never became valid again");
        engine.do_work();
    }
}
