//! Shared harness of the live-feed tests that run a [`WsFeed`] against the venue simulator over
//! real TLS on loopback: the simulated market, the server, a mio loop driving the feed the way
//! the core loop does, one `qt_core::Book` per symbol fed by the records, and the simulator's
//! own book (`GET /_sim/book`) to compare with. Every wait is bounded.

#![allow(dead_code, reason = "each test file uses a different part of the harness")]

#[path = "../common/sim_book.rs"]
mod sim_book_http;

use qt_core::{Book, EventKind, FeedSource, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, MarketEvent};
use qt_core::{Nanos, Rate, Side, Venue};
use qt_feed::endpoint::Endpoint;
use qt_feed::snapshot::HttpsClient;
use qt_feed::ws_feed::{StreamVenue, WsFeed, WsFeedConfig};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::market::{Market, MarketConfig, SymbolConfig};
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::{RunningServer, ServerConfig, VenueSimServer};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A spot instrument `base{sep}quote` with tick 0.01.
pub(crate) fn instrument(venue: Venue, id: u32, symbol: &str, base: &str, quote: &str, lot: &str) -> Instrument {
    let spec = InstrumentSpec {
        venue,
        symbol: symbol.into(),
        base: base.into(),
        quote: quote.into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.01".into(),
        lot_size: lot.into(),
        min_qty: Some(lot.into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    };
    Instrument::from_spec(InstrumentId(id), &spec).expect("valid test instrument")
}

/// A market of `symbols` (instrument, start mid) with background flow at `rate` events/s.
pub(crate) fn market(symbols: Vec<(Instrument, &str)>, rate: f64) -> Arc<Market> {
    let symbols = symbols
        .into_iter()
        .map(|(inst, mid)| {
            let flow = FlowParams {
                events_per_sec: rate,
                start_mid: Some(inst.parse_price(mid).expect("price")),
                size_median_lots: 200.0,
                ..FlowParams::default()
            };
            SymbolConfig { instrument: inst, flow }
        })
        .collect();
    Market::new(MarketConfig {
        symbols,
        fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
        accounts: Vec::new(),
        seed: 42,
    })
    .expect("valid test market")
}

fn fresh_ca_path(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join("qt-feed-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{tag}-ca-{}-{}.pem", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

/// The simulator serving `protocol` on loopback.
pub(crate) fn start_sim(market: Arc<Market>, protocol: Arc<dyn Protocol>) -> RunningServer {
    VenueSimServer::start(ServerConfig {
        market,
        faults: qt_venue_sim::faults::Faults::new(),
        ca_file: fresh_ca_path(protocol.name()),
        protocols: vec![(protocol, "127.0.0.1:0".parse().unwrap())],
    })
    .expect("simulator starts")
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

/// An HTTPS client of `server`'s `name` listener (REST and `/_sim/`).
pub(crate) fn rest_client(server: &RunningServer, name: &str) -> HttpsClient {
    let addr = server.addr_of(name).expect("listener");
    let endpoint = Endpoint::parse(&format!("https://{addr}"), "rest_url").unwrap();
    let tls = qt_feed::tls::client_config(Some(&server.ca_file)).unwrap();
    HttpsClient::new(endpoint.clone(), vec![addr], endpoint.server_name(Some("localhost")).unwrap(), tls)
}

/// Price/qty units per level, best first.
pub(crate) type Levels = Vec<(i64, i64)>;

/// A book's levels.
pub(crate) fn book_levels(book: &Book, side: Side) -> Levels {
    book.levels(side).map(|l| (l.price.units(), l.qty.units())).collect()
}

/// The simulator's own top `depth` of `symbol`: `(updateId, bids, asks)`.
pub(crate) fn sim_book(rest: &mut HttpsClient, market: &Market, symbol: usize, depth: usize) -> (u64, Levels, Levels) {
    let inst = &market.instruments()[symbol];
    sim_book_http::fetch(rest, inst, depth)
}

/// A [`WsFeed`] driven like the core loop drives it, with one book per symbol.
pub(crate) struct Harness<V: StreamVenue> {
    pub(crate) server: RunningServer,
    pub(crate) feed: WsFeed<V>,
    pub(crate) poll: mio::Poll,
    pub(crate) events: mio::Events,
    pub(crate) books: Vec<Book>,
    pub(crate) invalidations: Vec<u64>,
    pub(crate) trades: u64,
    pub(crate) bbo: u64,
    pub(crate) records: u64,
    pub(crate) start: Instant,
    pub(crate) rest: HttpsClient,
}

impl<V: StreamVenue> Harness<V> {
    pub(crate) fn new(server: RunningServer, mut feed: WsFeed<V>, name: &str) -> Self {
        let poll = mio::Poll::new().expect("poll");
        assert!(feed.register(poll.registry(), 0).expect("register"));
        let books = server.market.instruments().iter().map(|i| Book::new(i.id(), 10_000)).collect();
        let n = server.market.instruments().len();
        let rest = rest_client(&server, name);
        Self {
            server,
            feed,
            poll,
            events: mio::Events::with_capacity(64),
            books,
            invalidations: vec![0; n],
            trades: 0,
            bbo: 0,
            records: 0,
            start: Instant::now(),
            rest,
        }
    }

    pub(crate) fn now(&self) -> Nanos {
        Nanos::from_duration(self.start.elapsed())
    }

    pub(crate) fn step(&mut self) {
        self.poll.poll(&mut self.events, Some(Duration::from_millis(1))).expect("mio poll");
        for ev in self.events.iter() {
            self.feed.on_ready(ev.token().0);
        }
        let now = self.now();
        let Self { feed, books, invalidations, trades, bbo, records, .. } = self;
        feed.poll(now, &mut |ev: &MarketEvent| {
            *records += 1;
            let i = ev.instrument.index();
            match ev.kind {
                EventKind::BookSnapshot | EventKind::BookDelta => {
                    books[i].apply(ev).expect("valid record");
                    if ev.is_clear() && !ev.is_batch_end() && ev.qty.is_zero() {
                        invalidations[i] += 1;
                    }
                }
                EventKind::Trade => *trades += 1,
                EventKind::BestBidOffer => *bbo += 1,
            }
        });
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
        let (update_id, bids, asks) = sim_book(&mut self.rest, &self.server.market, symbol, depth);
        if update_id != at || !self.synced(symbol) {
            return false;
        }
        assert_eq!(book_levels(&self.books[symbol], Side::Buy), bids, "symbol {symbol} bids at {update_id}");
        assert_eq!(book_levels(&self.books[symbol], Side::Sell), asks, "symbol {symbol} asks at {update_id}");
        true
    }

    /// For venues without sequence numbers: the simulator's `updateId` did not move while the
    /// feed caught up (`settle` of polling), and then our book equals its top `depth`.
    pub(crate) fn compare_settled(&mut self, symbol: usize, depth: usize, settle: Duration) -> bool {
        let (before, ..) = sim_book(&mut self.rest, &self.server.market, symbol, depth);
        let until = Instant::now() + settle;
        while Instant::now() < until {
            self.step();
        }
        let (update_id, bids, asks) = sim_book(&mut self.rest, &self.server.market, symbol, depth);
        if update_id != before || !self.synced(symbol) {
            return false;
        }
        assert_eq!(book_levels(&self.books[symbol], Side::Buy), bids, "symbol {symbol} bids at {update_id}");
        assert_eq!(book_levels(&self.books[symbol], Side::Sell), asks, "symbol {symbol} asks at {update_id}");
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
    let mut rest = rest_client(server, server.addrs.first().map_or("", |(name, _)| *name));
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
            let (before, ..) = sim_book(&mut rest, &server.market, s, depth);
            let until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < until {
                engine.do_work();
            }
            let (after, bids, asks) = sim_book(&mut rest, &server.market, s, depth);
            let Some(book) = engine.book(ids[s]).filter(|b| b.is_valid()) else { continue };
            if before == after {
                assert_eq!(book_levels(book, Side::Buy), bids, "engine bids of symbol {s} at {after}");
                assert_eq!(book_levels(book, Side::Sell), asks, "engine asks of symbol {s} at {after}");
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
