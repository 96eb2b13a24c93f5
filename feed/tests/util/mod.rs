//! What the feed tests that run against the venue simulator share: a two-symbol market
//! (BTCUSDT, ETHUSDT) with chosen background-flow rates, an in-process simulator on loopback
//! with a fresh CA file, the simulator's own book through `GET /_sim/book`, a reference book
//! rebuilt from the market's update stream, and a condition wait with a deadline.
//!
//! Runs on the test's thread; the HTTP call blocks (with the client's own timeouts). Bounds
//! are generous (tens of seconds) because a 2-core machine running other builds can stall a
//! test for seconds; a normal run returns as soon as the condition holds.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each integration-test binary uses a different part of this shared module"
)]

#[path = "../common/sim_book.rs"]
mod sim_book_http;

use crossbeam_channel::Receiver;
use qt_core::{Book, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, Rate, Side, Venue};
use qt_feed::endpoint::Endpoint;
use qt_feed::snapshot::HttpsClient;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::market::{AccountConfig, BookUpdate, Market, MarketConfig, SymbolConfig};
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::{RunningServer, ServerConfig, VenueSimServer};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Symbol index of BTCUSDT in [`market`].
pub const BTC: usize = 0;
/// Symbol index of ETHUSDT in [`market`].
pub const ETH: usize = 1;

/// How long a test waits for something that normally takes well under a second (a sync, a
/// reconnect, a comparison): long enough for a 2-core machine under a parallel build.
pub const WAIT: Duration = Duration::from_secs(45);

/// Levels as exact integer units (price, qty), best first.
pub type Levels = Vec<(i64, i64)>;

/// A USDT instrument with tick 0.01 and `lot`.
pub fn instrument(venue: Venue, id: u32, symbol: &str, base: &str, lot: &str, kind: InstrumentKind) -> Instrument {
    let spec = InstrumentSpec {
        venue,
        symbol: symbol.into(),
        base: base.into(),
        quote: "USDT".into(),
        kind,
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

/// BTCUSDT (index [`BTC`]) with `btc_rate` background events/s and ETHUSDT ([`ETH`]) with
/// `eth_rate`, both of `kind`, one account.
pub fn market(venue: Venue, kind: InstrumentKind, btc_rate: f64, eth_rate: f64) -> Arc<Market> {
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
            symbol(instrument(venue, 0, "BTCUSDT", "BTC", "0.00001", kind), "65000", btc_rate),
            symbol(instrument(venue, 1, "ETHUSDT", "ETH", "0.0001", kind), "3200", eth_rate),
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

/// The simulator serving `protocol` on an ephemeral loopback port over `market`.
pub fn start_sim(market: Arc<Market>, protocol: Arc<dyn Protocol>) -> RunningServer {
    VenueSimServer::start(ServerConfig {
        market,
        faults: qt_venue_sim::faults::Faults::new(),
        protocols: vec![(protocol, "127.0.0.1:0".parse().unwrap())],
        ca_file: fresh_ca_path(),
    })
    .expect("simulator starts")
}

/// An HTTPS client for the simulator's listener `name` (its REST and `/_sim/` endpoints).
pub fn rest_client(server: &RunningServer, name: &str) -> HttpsClient {
    let addr = server.addr_of(name).expect("listener");
    let endpoint = Endpoint::parse(&format!("https://{addr}"), "rest_url").unwrap();
    let tls = qt_feed::tls::client_config(Some(&server.ca_file)).unwrap();
    HttpsClient::new(endpoint.clone(), vec![addr], endpoint.server_name(Some("localhost")).unwrap(), tls)
}

/// Our book's levels on `side`, best first.
pub fn book_levels(book: &Book, side: Side) -> Levels {
    book.levels(side).map(|l| (l.price.units(), l.qty.units())).collect()
}

/// The simulator's own book of one symbol as `GET /_sim/book` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBook {
    /// The market update id the image reflects.
    pub update_id: u64,
    /// Bids, best first.
    pub bids: Levels,
    /// Asks, best first.
    pub asks: Levels,
}

impl SimBook {
    /// `GET /_sim/book?symbol=..&depth=..` for `inst`.
    pub fn fetch(rest: &mut HttpsClient, inst: &Instrument, depth: usize) -> Self {
        let (update_id, bids, asks) = sim_book_http::fetch(rest, inst, depth);
        Self { update_id, bids, asks }
    }

    /// Asserts `book` holds exactly these levels.
    pub fn assert_equals(&self, book: &Book, what: &str) {
        assert_eq!(book_levels(book, Side::Buy), self.bids, "{what} bids at {}", self.update_id);
        assert_eq!(book_levels(book, Side::Sell), self.asks, "{what} asks at {}", self.update_id);
    }
}

/// The market's book rebuilt from its own update stream ([`Market::subscribe_book`]).
pub struct Reference {
    rx: Receiver<Arc<BookUpdate>>,
    pending: VecDeque<Arc<BookUpdate>>,
    update_id: u64,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl Reference {
    /// Subscribes to `symbol`'s updates from now on.
    pub fn new(market: &Market, symbol: usize) -> Self {
        let (snap, rx) = market.subscribe_book(symbol, 100_000).expect("symbol");
        let side = |v: &[(qt_core::Price, qt_core::Qty)]| v.iter().map(|(p, q)| (p.units(), q.units())).collect();
        Self { rx, pending: VecDeque::new(), update_id: snap.update_id, bids: side(&snap.bids), asks: side(&snap.asks) }
    }

    /// Takes in what the market published so far (call often: the market's queue is bounded).
    pub fn pump(&mut self) {
        self.pending.extend(self.rx.try_iter());
    }

    /// The update id the reference reflects.
    pub fn update_id(&self) -> u64 {
        self.update_id
    }

    /// Advances to exactly `id`; false if the stream has not got there yet (or is past it).
    pub fn advance_to(&mut self, id: u64) -> bool {
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

    /// The best `depth` levels per side, best first.
    pub fn top(&self, depth: usize) -> (Levels, Levels) {
        (
            self.bids.iter().rev().take(depth).map(|(p, q)| (*p, *q)).collect(),
            self.asks.iter().take(depth).map(|(p, q)| (*p, *q)).collect(),
        )
    }

    /// Every level per side, best first.
    pub fn levels(&self) -> (Levels, Levels) {
        self.top(usize::MAX)
    }
}

/// What the core loop owns around a feed: one `mio::Poll` (allocated once), one book per
/// symbol, and the clock the feed is polled with.
pub struct FeedLoop<F> {
    /// The feed under test.
    pub feed: F,
    poll: mio::Poll,
    events: mio::Events,
    /// One book per symbol (index = symbol index), fed every record the feed emits.
    pub books: Vec<Book>,
    start: Instant,
}

impl<F: qt_core::FeedSource> FeedLoop<F> {
    /// Registers `feed` with a fresh poller; books of `capacity` levels for `symbols`.
    pub fn new(mut feed: F, symbols: &[Instrument], capacity: usize) -> Self {
        let poll = mio::Poll::new().expect("poll");
        assert!(feed.register(poll.registry(), 0).expect("register"));
        let books = symbols.iter().map(|i| Book::new(i.id(), capacity)).collect();
        Self { feed, poll, events: mio::Events::with_capacity(64), books, start: Instant::now() }
    }

    /// One loop iteration (waiting at most 1 ms for readiness, so an idle test does not spin);
    /// `before` sees each record with the books as they are before it is applied.
    pub fn step(&mut self, before: &mut dyn FnMut(&[Book], &qt_core::MarketEvent)) -> usize {
        self.poll.poll(&mut self.events, Some(Duration::from_millis(1))).expect("mio poll");
        for ev in self.events.iter() {
            self.feed.on_ready(ev.token().0);
        }
        let now = qt_core::Nanos::from_duration(self.start.elapsed());
        let Self { feed, books, .. } = self;
        feed.poll(now, &mut |ev: &qt_core::MarketEvent| {
            before(books, ev);
            books[ev.instrument.index()].apply(ev).expect("valid record");
        })
    }
}

/// A `BinanceFeed` for both symbols of `server`'s market, trusting its CA, REST depth 5000.
pub fn binance_feed(server: &RunningServer) -> qt_feed::binance::BinanceFeed {
    let addr = server.addr_of("binance").expect("binance listener");
    let symbols = server.market.instruments().to_vec();
    let mut cfg = qt_feed::binance::BinanceFeedConfig::new(format!("wss://{addr}"), format!("https://{addr}"), symbols);
    cfg.ca_file = Some(server.ca_file.clone());
    cfg.server_name = Some("localhost".into());
    cfg.depth_limit = 5000;
    qt_feed::binance::BinanceFeed::new(cfg).expect("feed config")
}

/// A `BybitFeed` of `category` for both symbols of `server`'s market, trusting its CA, with
/// the default ping interval unless `ping_interval` is given.
pub fn bybit_feed(
    server: &RunningServer,
    category: qt_feed::bybit::Category,
    ping_interval: Option<qt_core::Nanos>,
) -> qt_feed::bybit::BybitFeed {
    let addr = server.addr_of("bybit").expect("bybit listener");
    let mut cfg = qt_feed::bybit::BybitFeedConfig::new(format!("wss://{addr}"), server.market.instruments().to_vec());
    cfg.ca_file = Some(server.ca_file.clone());
    cfg.server_name = Some("localhost".into());
    cfg.category = category;
    if let Some(p) = ping_interval {
        cfg.ping_interval = p;
    }
    qt_feed::bybit::BybitFeed::new(cfg).expect("feed config")
}

fn levels_v2(levels: &[&serde_json::Value]) -> String {
    // The v1 strings go in as bare JSON numbers, text unchanged, as v2 sends them.
    levels
        .iter()
        .flat_map(|l| l.as_array().unwrap())
        .map(|l| format!("{{\"price\":{},\"qty\":{}}}", l[0].as_str().unwrap(), l[1].as_str().unwrap()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A Kraken WS v1 `book-1000` frame (`testdata/kraken/book.jsonl`) as the equivalent v2 `book`
/// message (the decoder speaks v2; the README there explains the rewrite).
pub fn v1_book_to_v2(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let a = v.as_array().unwrap();
    let pair = a[a.len() - 1].as_str().unwrap();
    let objs: Vec<&serde_json::Map<String, serde_json::Value>> =
        a[1..a.len() - 2].iter().map(|o| o.as_object().unwrap()).collect();
    let get = |k: &str| objs.iter().filter_map(|o| o.get(k)).collect::<Vec<_>>();
    let snapshot = !get("as").is_empty() || !get("bs").is_empty();
    let (asks, bids) = if snapshot { (get("as"), get("bs")) } else { (get("a"), get("b")) };
    let checksum = get("c").first().map(|c| format!(",\"checksum\":{}", c.as_str().unwrap())).unwrap_or_default();
    format!(
        "{{\"channel\":\"book\",\"type\":\"{}\",\"data\":[{{\"symbol\":\"{pair}\",\"asks\":[{}],\"bids\":[{}]{checksum},\"timestamp\":\"2021-04-17T16:48:53.626000Z\"}}]}}",
        if snapshot { "snapshot" } else { "update" },
        levels_v2(&asks),
        levels_v2(&bids),
    )
}
