//! Books to compare a feed's with: the simulator's own book through `GET /_sim/book`
//! ([`SimBook`]), and the market's book rebuilt from its update stream ([`Reference`]: a fast
//! book rarely sits still at a diff boundary long enough for an HTTP round trip). Levels are
//! exact integer units (price, qty), best first.

use crossbeam_channel::Receiver;
use qt_core::{Book, Instrument, Price, Qty, Side};
use qt_feed::endpoint::Endpoint;
use qt_feed::snapshot::HttpsClient;
use qt_venue_sim::market::{BookUpdate, Market};
use qt_venue_sim::server::RunningServer;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Levels as exact integer units (price, qty), best first.
pub type Levels = Vec<(i64, i64)>;

/// Our book's levels on `side`, best first.
pub fn book_levels(book: &Book, side: Side) -> Levels {
    book.levels(side).map(|l| (l.price.units(), l.qty.units())).collect()
}

/// An HTTPS client of `server`'s listener `name` (its REST and `/_sim/` endpoints), trusting the
/// simulator's CA.
pub fn rest_client(server: &RunningServer, name: &str) -> HttpsClient {
    let addr = server.addr_of(name).expect("listener");
    let endpoint = Endpoint::parse(&format!("https://{addr}"), "rest_url").expect("url");
    let tls = qt_feed::tls::client_config(Some(&server.ca_file)).expect("tls");
    HttpsClient::new(endpoint.clone(), vec![addr], endpoint.server_name(Some("localhost")).expect("name"), tls)
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
    /// `GET /_sim/book?symbol=..&depth=..` for `inst`, on `inst`'s grid.
    pub fn fetch(rest: &HttpsClient, inst: &Instrument, depth: usize) -> Self {
        let (status, mut body) =
            rest.get(&format!("/_sim/book?symbol={}&depth={depth}", inst.symbol())).expect("GET /_sim/book");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: simd_json::OwnedValue = simd_json::to_owned_value(&mut body).expect("json");
        use simd_json::prelude::*;
        let side = |key: &str| -> Levels {
            v[key]
                .as_array()
                .expect("levels")
                .iter()
                .map(|l| {
                    let p = inst.parse_price(l[0].as_str().expect("price")).expect("price on grid");
                    let q = inst.parse_qty(l[1].as_str().expect("qty")).expect("qty on grid");
                    (p.units(), q.units())
                })
                .collect()
        };
        Self { update_id: v["updateId"].as_u64().expect("updateId"), bids: side("bids"), asks: side("asks") }
    }

    /// Asserts `book` holds exactly these levels (`what` names it in the failure).
    pub fn assert_equals(&self, book: &Book, what: &str) {
        assert_eq!(book_levels(book, Side::Buy), self.bids, "{what} bids at {}", self.update_id);
        assert_eq!(book_levels(book, Side::Sell), self.asks, "{what} asks at {}", self.update_id);
    }
}

/// The market's book of one symbol rebuilt from its own update stream
/// ([`Market::subscribe_book`]).
#[derive(Debug)]
pub struct Reference {
    rx: Receiver<Arc<BookUpdate>>,
    pending: VecDeque<Arc<BookUpdate>>,
    update_id: u64,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl Reference {
    /// Subscribes to `symbol`'s updates from now on (from its whole book).
    pub fn new(market: &Market, symbol: usize) -> Self {
        let (snap, rx) = market.subscribe_book(symbol, usize::MAX).expect("symbol");
        let side = |v: &[(Price, Qty)]| v.iter().map(|(p, q)| (p.units(), q.units())).collect();
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

    /// `(bids, asks)` when the stream reaches exactly `id`; `None` if it has not got there yet
    /// or is already past it.
    pub fn at(&mut self, id: u64) -> Option<(Levels, Levels)> {
        self.advance_to(id).then(|| self.levels())
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
