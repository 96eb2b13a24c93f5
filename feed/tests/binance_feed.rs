//! `BinanceFeed` against the venue simulator over real TLS on loopback: sync, tracking under
//! fast flow, dropped connections, sequence skips and bad frames. Each test starts its own
//! simulator, drives the feed like the core loop does (one zero-timeout `mio::Poll`, then
//! `poll`), applies the records to a `qt_core::Book` per symbol, and compares with the
//! simulator's own book: through `GET /_sim/book` for the slow symbol, and for the fast one
//! through a reference rebuilt from the market's own update stream (`Market::subscribe_book`),
//! since a fast book rarely sits still at a diff boundary long enough for an HTTP round trip.
//! Every wait is bounded; every test finishes well under 15 s.

use crossbeam_channel::Receiver;
use qt_core::feed_source::FeedState;
use qt_core::{Book, EventKind, FeedSource, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, MarketEvent};
use qt_core::{Nanos, Rate, Side, Venue};
use qt_feed::binance::{BinanceFeed, BinanceFeedConfig};
use qt_feed::endpoint::Endpoint;
use qt_feed::snapshot::HttpsClient;
use qt_gateway::sim::flow::FlowParams;
use qt_gateway::sim::matching::FeeSchedule;
use qt_venue_sim::market::{AccountConfig, BookUpdate, Market, MarketConfig, SymbolConfig};
use qt_venue_sim::server::{RunningServer, ServerConfig, VenueSimServer};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BTC: usize = 0;
const ETH: usize = 1;

fn instrument(id: u32, symbol: &str, base: &str, lot: &str) -> Instrument {
    let spec = InstrumentSpec {
        venue: Venue::Binance,
        symbol: symbol.into(),
        base: base.into(),
        quote: "USDT".into(),
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

/// BTCUSDT with `btc_rate` background events/s and ETHUSDT with `eth_rate` (like the
/// simulator's own `test_market`, rates raised or lowered per test).
fn market(btc_rate: f64, eth_rate: f64) -> Arc<Market> {
    let symbol = |inst: Instrument, mid: &str, rate: f64| {
        let flow = FlowParams {
            events_per_sec: rate,
            start_mid: Some(inst.parse_price(mid).expect("price")),
            size_median_lots: 200.0,
            ..FlowParams::default()
        };
        SymbolConfig { instrument: inst, flow }
    };
    Market::new(MarketConfig {
        symbols: vec![
            symbol(instrument(0, "BTCUSDT", "BTC", "0.00001"), "65000", btc_rate),
            symbol(instrument(1, "ETHUSDT", "ETH", "0.0001"), "3200", eth_rate),
        ],
        fees: FeeSchedule { maker: Rate::from_bps(1), taker: Rate::from_bps(5) },
        accounts: vec![AccountConfig {
            api_key: "test-key".into(),
            secret: "test-secret".into(),
            balances: vec![("USDT".into(), "1000000".into())],
        }],
        seed: 42,
    })
    .expect("valid test market")
}

fn fresh_ca_path() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join("qt-feed-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("ca-{}-{}.pem", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

fn start_sim(market: Arc<Market>) -> RunningServer {
    VenueSimServer::start(ServerConfig {
        market,
        faults: qt_venue_sim::faults::Faults::new(),
        protocols: vec![(Arc::new(qt_venue_sim::binance::BinanceSpot::default()), "127.0.0.1:0".parse().unwrap())],
        ca_file: fresh_ca_path(),
    })
    .expect("simulator starts")
}

/// Levels as exact decimal-free integers, best first.
type Levels = Vec<(i64, i64)>;

fn book_levels(book: &Book, side: Side) -> Levels {
    book.levels(side).map(|l| (l.price.units(), l.qty.units())).collect()
}

/// The market's book rebuilt from its own update stream.
struct Reference {
    rx: Receiver<Arc<BookUpdate>>,
    pending: VecDeque<Arc<BookUpdate>>,
    update_id: u64,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl Reference {
    fn new(market: &Market, symbol: usize) -> Self {
        let (snap, rx) = market.subscribe_book(symbol, 100_000).expect("symbol");
        let side = |v: &[(qt_core::Price, qt_core::Qty)]| v.iter().map(|(p, q)| (p.units(), q.units())).collect();
        Self { rx, pending: VecDeque::new(), update_id: snap.update_id, bids: side(&snap.bids), asks: side(&snap.asks) }
    }

    fn pump(&mut self) {
        self.pending.extend(self.rx.try_iter());
    }

    /// Advances to exactly `id`; false if the stream has not got there yet.
    fn advance_to(&mut self, id: u64) -> bool {
        self.pump();
        while self.update_id < id {
            let Some(u) = self.pending.pop_front() else { return false };
            for (side, price, qty) in &u.levels {
                let book = if *side == Side::Buy { &mut self.bids } else { &mut self.asks };
                if qty.is_zero() {
                    book.remove(&price.units());
                } else {
                    book.insert(price.units(), qty.units());
                }
            }
            self.update_id = u.update_id;
        }
        self.update_id == id
    }

    fn levels(&self) -> (Levels, Levels) {
        (self.bids.iter().rev().map(|(p, q)| (*p, *q)).collect(), self.asks.iter().map(|(p, q)| (*p, *q)).collect())
    }
}

/// The feed plus what the core loop would own: the poller and one book per symbol.
struct Harness {
    server: RunningServer,
    feed: BinanceFeed,
    poll: mio::Poll,
    events: mio::Events,
    books: Vec<Book>,
    /// `seq` of the last depth record with `BATCH_END` per symbol (books also take trade ids).
    depth_seq: Vec<u64>,
    /// CLEAR-only records seen per symbol (invalidations).
    invalidations: Vec<u64>,
    deltas: u64,
    diff_messages: u64,
    bbo: u64,
    trades: u64,
    start: Instant,
    rest: HttpsClient,
}

impl Harness {
    fn new(server: RunningServer) -> Self {
        let addr = server.addr_of("binance").expect("binance listener");
        let symbols = server.market.instruments().to_vec();
        let mut cfg = BinanceFeedConfig::new(format!("wss://{addr}"), format!("https://{addr}"), symbols.clone());
        cfg.ca_file = Some(server.ca_file.clone());
        cfg.server_name = Some("localhost".into());
        cfg.depth_limit = 5000;
        let mut feed = BinanceFeed::new(cfg).expect("feed config");
        let poll = mio::Poll::new().expect("poll");
        assert!(feed.register(poll.registry(), 0).expect("register"));
        let endpoint = Endpoint::parse(&format!("https://{addr}"), "rest_url").unwrap();
        let tls = qt_feed::tls::client_config(Some(&server.ca_file)).unwrap();
        let rest =
            HttpsClient::new(endpoint.clone(), vec![addr], endpoint.server_name(Some("localhost")).unwrap(), tls);
        Self {
            server,
            feed,
            poll,
            events: mio::Events::with_capacity(64),
            books: symbols.iter().map(|i| Book::new(i.id(), 100_000)).collect(),
            depth_seq: vec![0; symbols.len()],
            invalidations: vec![0; symbols.len()],
            deltas: 0,
            diff_messages: 0,
            bbo: 0,
            trades: 0,
            start: Instant::now(),
            rest,
        }
    }

    fn now(&self) -> Nanos {
        Nanos::from_duration(self.start.elapsed())
    }

    /// One loop iteration (with a short wait so an idle test does not spin).
    fn step(&mut self) -> usize {
        self.poll.poll(&mut self.events, Some(Duration::from_millis(1))).expect("mio poll");
        for ev in self.events.iter() {
            self.feed.on_ready(ev.token().0);
        }
        let now = self.now();
        let Self { feed, books, depth_seq, invalidations, deltas, diff_messages, bbo, trades, .. } = self;
        feed.poll(now, &mut |ev: &MarketEvent| {
            let i = ev.instrument.index();
            books[i].apply(ev).expect("valid record");
            match ev.kind {
                EventKind::BookDelta => {
                    *deltas += 1;
                    if ev.is_batch_end() {
                        *diff_messages += 1;
                        depth_seq[i] = ev.seq;
                    }
                }
                EventKind::BookSnapshot => {
                    if ev.is_clear() && !ev.is_batch_end() && ev.qty.is_zero() {
                        invalidations[i] += 1;
                    }
                    if ev.is_batch_end() {
                        depth_seq[i] = ev.seq;
                    }
                }
                EventKind::BestBidOffer => *bbo += 1,
                EventKind::Trade => *trades += 1,
            }
        })
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

    /// Compares symbol's book with `/_sim/book` when the simulator sits at our last diff's
    /// `u`; returns whether a comparison happened.
    fn compare_with_sim_book(&mut self, symbol: usize) -> bool {
        if !self.synced(symbol) {
            return false;
        }
        let name = self.server.market.instruments()[symbol].symbol().to_string();
        let (status, mut body) =
            self.rest.get(&format!("/_sim/book?symbol={name}&depth=5000")).expect("GET /_sim/book");
        assert_eq!(status, 200);
        let v: simd_json::OwnedValue = simd_json::to_owned_value(&mut body).expect("json");
        use simd_json::prelude::*;
        let update_id = v["updateId"].as_u64().expect("updateId");
        if update_id != self.depth_seq[symbol] {
            return false;
        }
        let inst = &self.server.market.instruments()[symbol];
        let side = |key: &str| -> Levels {
            v[key]
                .as_array()
                .expect("levels")
                .iter()
                .map(|l| {
                    let p = inst.parse_price(l[0].as_str().unwrap()).unwrap().units();
                    let q = inst.parse_qty(l[1].as_str().unwrap()).unwrap().units();
                    (p, q)
                })
                .collect()
        };
        assert_eq!(book_levels(&self.books[symbol], Side::Buy), side("bids"), "{name} bids at {update_id}");
        assert_eq!(book_levels(&self.books[symbol], Side::Sell), side("asks"), "{name} asks at {update_id}");
        true
    }

    /// Compares symbol's book with the reference at our last diff's `u`; returns whether it could.
    fn compare_with_reference(&mut self, symbol: usize, reference: &mut Reference) -> bool {
        if !self.synced(symbol) || !reference.advance_to(self.depth_seq[symbol]) {
            reference.pump();
            return false;
        }
        let (bids, asks) = reference.levels();
        let at = self.depth_seq[symbol];
        assert_eq!(book_levels(&self.books[symbol], Side::Buy), bids, "bids at {at}");
        assert_eq!(book_levels(&self.books[symbol], Side::Sell), asks, "asks at {at}");
        true
    }

    /// Runs until the slow symbol compared equal with `/_sim/book` `times` times.
    fn compare_slow_symbol(&mut self, times: usize, limit: Duration) {
        let mut compared = 0;
        let mut last_seq = 0;
        let deadline = Instant::now() + limit;
        while compared < times {
            assert!(Instant::now() < deadline, "ETHUSDT never caught at a diff boundary; {:?}", self.feed.counters());
            self.step();
            if self.depth_seq[ETH] != last_seq && self.synced(ETH) {
                last_seq = self.depth_seq[ETH];
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
    h.run_until(Duration::from_secs(8), "both symbols in sync", |h| h.synced(BTC) && h.synced(ETH));
    assert_eq!(h.feed.state(), FeedState::Live);
    let first_seq = h.depth_seq[BTC];
    // Fast symbol: compare at every diff boundary for ~3 s.
    let mut compared = 0;
    let mut last_seq = 0;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        h.step();
        if h.depth_seq[BTC] != last_seq && h.compare_with_reference(BTC, &mut reference) {
            last_seq = h.depth_seq[BTC];
            compared += 1;
        }
    }
    let spanned = h.depth_seq[BTC] - first_seq;
    eprintln!(
        "fast flow: {} BTCUSDT update ids in {} diff messages, {} level records, {} BBO, {} trades; {compared} exact comparisons",
        spanned, h.diff_messages, h.deltas, h.bbo, h.trades
    );
    assert!(compared >= 10, "compared only {compared} times");
    assert!(spanned >= 20_000, "only {spanned} update ids applied");
    assert!(h.bbo > 0 && h.trades > 0, "bookTicker and trade streams flow");
    // Slow symbol against the simulator's REST view of its own book.
    h.compare_slow_symbol(2, Duration::from_secs(8));
    let c = h.feed.counters();
    assert_eq!((c.gaps, c.parse_errors_total(), c.reconnects), (0, 0, 0), "{c:?}");
    assert!(c.messages > 0 && c.snapshots_applied >= 2, "{c:?}");
}

#[test]
fn dropped_connections_reconnect_and_resync() {
    let market = market(2_000.0, 20.0);
    let mut reference = Reference::new(&market, BTC);
    let mut h = Harness::new(start_sim(market));
    h.run_until(Duration::from_secs(8), "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(Duration::from_secs(5), "a first comparison", |h| h.compare_with_reference(BTC, &mut reference));
    h.server.faults.drop_ws_connections();
    h.run_until(Duration::from_secs(5), "the drop to be seen", |h| h.feed.counters().disconnects >= 1);
    assert!(!h.books[BTC].is_valid() && !h.books[ETH].is_valid(), "books invalid while resyncing");
    assert_eq!(h.feed.state(), FeedState::Recovering);
    assert!(h.invalidations[BTC] >= 1);
    h.run_until(Duration::from_secs(10), "resync after reconnect", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(Duration::from_secs(5), "equal again", |h| h.compare_with_reference(BTC, &mut reference));
    h.compare_slow_symbol(1, Duration::from_secs(8));
    let c = h.feed.counters();
    assert!(c.reconnects >= 1 && c.snapshots_applied >= 4, "{c:?}");
    assert_eq!(h.feed.state(), FeedState::Live);
}

#[test]
fn a_sequence_skip_is_detected_and_resynced() {
    let market = market(2_000.0, 20.0);
    let mut reference = Reference::new(&market, BTC);
    let mut h = Harness::new(start_sim(market));
    h.run_until(Duration::from_secs(8), "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(Duration::from_secs(5), "a first comparison", |h| h.compare_with_reference(BTC, &mut reference));
    // Past the bridging diffs: a skip inside the diff that overlaps the snapshot is not a gap
    // (the lost operation is already in the snapshot), so inject it into the steady stream.
    let diffs = h.diff_messages;
    h.run_until(Duration::from_secs(5), "steady diffs", |h| h.diff_messages >= diffs + 4);
    h.server.faults.skip_sequence(1);
    h.run_until(Duration::from_secs(5), "the gap", |h| h.feed.counters().gaps >= 1);
    assert!(!h.books[BTC].is_valid() || !h.books[ETH].is_valid(), "a book is invalid while resyncing");
    h.run_until(Duration::from_secs(8), "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(Duration::from_secs(5), "equal again", |h| h.compare_with_reference(BTC, &mut reference));
    let c = h.feed.counters();
    assert!(c.gaps >= 1 && c.resyncs >= 1 && c.reconnects == 0, "{c:?}");
    assert!(h.invalidations.iter().sum::<u64>() >= 1);
}

#[test]
fn malformed_and_truncated_frames_are_counted_and_recovered() {
    let market = market(2_000.0, 20.0);
    let mut reference = Reference::new(&market, BTC);
    let mut h = Harness::new(start_sim(market));
    h.run_until(Duration::from_secs(8), "initial sync", |h| h.synced(BTC) && h.synced(ETH));
    h.server.faults.malformed_frames(1);
    h.server.faults.truncated_frames(1);
    h.run_until(Duration::from_secs(5), "both bad frames", |h| h.feed.counters().parse_errors_total() >= 2);
    h.run_until(Duration::from_secs(8), "resync", |h| h.synced(BTC) && h.synced(ETH));
    h.run_until(Duration::from_secs(5), "equal again", |h| h.compare_with_reference(BTC, &mut reference));
    let c = h.feed.counters();
    assert_eq!(c.parse_errors[0], 2, "both refused as invalid JSON: {c:?}");
    assert_eq!(c.reconnects, 0, "{c:?}");
}
