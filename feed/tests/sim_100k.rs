//! 100k diffs through the real feeds: `BinanceFeed` and `BybitFeed` against the venue simulator
//! over TLS on loopback, with the simulator's test-speed knobs on (Binance
//! `BinanceLimits::diff_interval = 0`: one `depthUpdate` per book operation, `U == previous u +
//! 1`; Bybit `with_book_push_interval(0)`: one `orderbook.50` delta per operation that changes
//! the top 50, `u + 1` per message) and a fast background flow on BTCUSDT. Each test connects,
//! syncs, applies at least 100 000 diffs (counted by the feed's own `diffs_applied` /
//! `deltas_applied`), survives a killed connection and an injected sequence gap along the way,
//! and checks the book against the simulator's own several times during the run:
//!
//! - Binance: the image `GET /_sim/book` returns at update id X is compared with our book at
//!   exactly X — just before the first diff with `U > X` is applied (every id is its own
//!   diff, so the book passes through X).
//! - Bybit: our book is compared with a reference rebuilt from the market's update stream at
//!   the `seq` of every poll boundary, and every `/_sim/book` image (at X) with that reference
//!   at X, so the chain book = reference = simulator holds at matching ids; the slow symbol is
//!   also compared with `/_sim/book` directly when the simulator's id equals our `seq`.
//!
//! Waits poll for their condition with generous deadlines ([`util::WAIT`]); the run itself
//! takes a few seconds.

mod util;

use qt_core::feed_source::FeedState;
use qt_core::{Book, EventKind, FeedSource, InstrumentKind, MarketEvent, Side, Venue};
use qt_feed::binance::BinanceFeed;
use qt_feed::bybit::{BybitFeed, Category};
use qt_feed::snapshot::HttpsClient;
use qt_venue_sim::binance::{BinanceLimits, BinanceSpot};
use qt_venue_sim::bybit::BybitV5;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{BTC, ETH, FeedLoop, Reference, SimBook, WAIT, book_levels};

/// Background events per second on BTCUSDT: ~100k book operations in a few seconds.
const FAST_RATE: f64 = 25_000.0;
/// ETHUSDT stays slow, so its book often sits still long enough for a direct comparison.
const SLOW_RATE: f64 = 20.0;
/// Diffs the run must apply in total.
const TARGET: u64 = 100_000;
/// A comparison with the simulator's book at least this often (in applied diffs).
const CHECK_EVERY: u64 = 12_500;

/// Per-record bookkeeping in the feed callback: the last message's end per symbol, CLEAR-only
/// invalidations, and the pending comparison with a `/_sim/book` image.
#[derive(Debug, Default)]
struct Tracker {
    last_u: [u64; 2],
    in_message: [bool; 2],
    invalidations: [u64; 2],
    /// A simulator image waiting for our book to reach its update id.
    pending: Option<(usize, SimBook)>,
    compared: usize,
    /// Images given up on: a resync snapshot came first.
    abandoned: usize,
}

impl Tracker {
    /// Sees `ev` before it is applied to `books`. Binance diffs carry `seq = u` and
    /// `prev_seq = U`, so a pending image at X is compared just before the first diff with
    /// `U > X` (Bybit records carry `u`, not the market id, so no image is pending there).
    fn on_record(&mut self, books: &[Book], ev: &MarketEvent) {
        let i = ev.instrument.index();
        match ev.kind {
            EventKind::BookSnapshot => {
                if self.pending.as_ref().is_some_and(|(s, _)| *s == i) {
                    self.pending = None;
                    self.abandoned += 1;
                }
                if ev.is_clear() && !ev.is_batch_end() && ev.qty.is_zero() {
                    self.invalidations[i] += 1;
                }
                self.in_message[i] = false;
            }
            EventKind::BookDelta => {
                if !self.in_message[i]
                    && let Some((s, image)) = &self.pending
                    && *s == i
                    && books[i].is_valid()
                {
                    let x = image.update_id;
                    assert!(self.last_u[i] <= x, "our book ({}) ahead of the simulator ({x})", self.last_u[i]);
                    if ev.prev_seq > x {
                        // Every id up to X is applied and none after: the book is at X.
                        image.assert_equals(&books[i], "BTCUSDT vs /_sim/book");
                        self.pending = None;
                        self.compared += 1;
                    }
                }
                self.in_message[i] = !ev.is_batch_end();
            }
            EventKind::BestBidOffer | EventKind::Trade => return,
        }
        if ev.is_batch_end() {
            self.last_u[i] = ev.seq;
        }
    }
}

/// Where a venue's run stands, read from its feed after a step.
struct View<'a> {
    books: &'a [Book],
    state: FeedState,
    server: &'a RunningServer,
    /// Feed-side sync per symbol (the book must also be valid: [`synced`]).
    feed_synced: [bool; 2],
    /// Diffs applied, from the feed's own counters.
    applied: u64,
    disconnects: u64,
    gaps: u64,
}

impl<'a> View<'a> {
    /// `progress` is `[applied, disconnects, gaps]`.
    fn of<F: FeedSource>(
        lp: &'a FeedLoop<F>,
        server: &'a RunningServer,
        feed_synced: [bool; 2],
        progress: [u64; 3],
    ) -> Self {
        let [applied, disconnects, gaps] = progress;
        View { books: &lp.books, state: lp.feed.state(), server, feed_synced, applied, disconnects, gaps }
    }
}

/// What the shared scenario needs from a venue's run.
trait Soak {
    fn step(&mut self);
    fn view(&self) -> View<'_>;
    /// The feed's counters, for failure messages.
    fn describe(&self) -> String;
    /// Compares BTCUSDT with the simulator's own book at a matching update id.
    fn compare_with_sim(&mut self);
}

fn synced<S: Soak>(s: &S, symbol: usize) -> bool {
    let v = s.view();
    v.feed_synced[symbol] && v.books[symbol].is_valid()
}

fn run_until<S: Soak>(s: &mut S, what: &str, mut done: impl FnMut(&mut S) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(s) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}; {}", s.describe());
        s.step();
    }
}

/// Runs until `target` diffs are applied, comparing with the simulator every [`CHECK_EVERY`]
/// diffs and at least twice on the way (a slow machine applies many diffs during a resync).
fn soak_until<S: Soak>(s: &mut S, target: u64) {
    let mut next_check = s.view().applied + CHECK_EVERY;
    let mut checks = 0;
    run_until(s, "diffs to flow", |s| {
        let applied = s.view().applied;
        if applied >= next_check || (applied >= target && checks < 2) {
            s.compare_with_sim();
            checks += 1;
            next_check = s.view().applied + CHECK_EVERY;
        }
        s.view().applied >= target && checks >= 2
    });
}

/// Sync, 40% of the diffs, a killed connection, 70%, an injected gap, 100%; compared with
/// the simulator at every stage.
fn scenario<S: Soak>(s: &mut S) {
    run_until(s, "both symbols in sync", |s| synced(s, BTC) && synced(s, ETH));
    s.compare_with_sim();
    soak_until(s, TARGET * 4 / 10);

    // Kill the connection mid-stream: every book invalid, then resynced and equal again.
    let disconnects = s.view().disconnects;
    s.view().server.faults.drop_ws_connections();
    run_until(s, "the drop to be seen", |s| s.view().disconnects > disconnects);
    assert!(!s.view().books[BTC].is_valid() && !s.view().books[ETH].is_valid(), "books invalid while resyncing");
    assert_eq!(s.view().state, FeedState::Recovering);
    run_until(s, "resync after reconnect", |s| synced(s, BTC) && synced(s, ETH));
    s.compare_with_sim();
    soak_until(s, TARGET * 7 / 10);

    // An injected sequence gap in the steady stream: detected, resynced, equal again.
    let gaps = s.view().gaps;
    s.view().server.faults.skip_sequence(1);
    run_until(s, "the gap", |s| s.view().gaps > gaps);
    run_until(s, "resync after the gap", |s| synced(s, BTC) && synced(s, ETH));
    s.compare_with_sim();
    soak_until(s, TARGET);
    s.compare_with_sim();
    assert_eq!(s.view().state, FeedState::Live);
}

// ---------------------------------------------------------------------------------------------
// Binance spot
// ---------------------------------------------------------------------------------------------

struct BinanceSoak {
    lp: FeedLoop<BinanceFeed>,
    server: RunningServer,
    rest: HttpsClient,
    track: Tracker,
}

impl Soak for BinanceSoak {
    fn step(&mut self) {
        let track = &mut self.track;
        self.lp.step_with(&mut |books, ev| track.on_record(books, ev));
    }
    fn view(&self) -> View<'_> {
        let (f, c) = (&self.lp.feed, self.lp.feed.counters());
        View::of(&self.lp, &self.server, [f.is_synced(BTC), f.is_synced(ETH)], [c.diffs_applied, c.disconnects, c.gaps])
    }
    fn describe(&self) -> String {
        format!("{:?}", self.lp.feed.counters())
    }

    /// Takes `/_sim/book` at some X and runs until our book, at exactly X, equalled it.
    fn compare_with_sim(&mut self) {
        let compared = self.track.compared;
        let inst = self.server.market.instruments()[BTC].clone();
        run_until(self, "an exact comparison with /_sim/book", |s| {
            if s.track.pending.is_none() && synced(s, BTC) {
                s.track.pending = Some((BTC, SimBook::fetch(&s.rest, &inst, 5000)));
            }
            s.track.compared > compared
        });
    }
}

#[test]
fn binance_applies_100k_diffs_equal_to_the_simulators_book_through_a_drop_and_a_gap() {
    let market = util::market(Venue::Binance, InstrumentKind::Spot, FAST_RATE, SLOW_RATE);
    let limits = BinanceLimits { diff_interval: Some(Duration::ZERO), ..BinanceLimits::default() };
    let server = util::start_sim(market, Arc::new(BinanceSpot::new(limits)));
    let symbols = server.market.instruments().to_vec();
    let lp = FeedLoop::new(util::binance_feed(&server), &symbols, 100_000);
    let rest = util::rest_client(&server, "binance");
    let mut s = BinanceSoak { lp, server, rest, track: Tracker::default() };
    let began = Instant::now();
    scenario(&mut s);

    let c = s.lp.feed.counters();
    eprintln!(
        "binance: {} diffs applied, {} frames, {} exact comparisons with /_sim/book ({} given up at a resync) in {:?}",
        c.diffs_applied,
        c.messages,
        s.track.compared,
        s.track.abandoned,
        began.elapsed()
    );
    assert!(c.diffs_applied >= TARGET, "{c:?}");
    assert!(s.track.compared >= 8, "only {} comparisons", s.track.compared);
    assert!(c.reconnects >= 1 && c.gaps >= 1 && c.snapshots_applied >= 5, "{c:?}");
    assert_eq!(c.parse_errors_total(), 0, "{c:?}");
    assert!(s.track.invalidations[BTC] >= 1 && s.track.invalidations[ETH] >= 1, "{:?}", s.track.invalidations);
}

// ---------------------------------------------------------------------------------------------
// Bybit v5
// ---------------------------------------------------------------------------------------------

struct BybitSoak {
    lp: FeedLoop<BybitFeed>,
    server: RunningServer,
    rest: HttpsClient,
    track: Tracker,
    reference: Reference,
    /// `seq` of the last poll boundary compared with the reference.
    last_compared_seq: Option<u64>,
    reference_checks: usize,
    sim_checks: usize,
}

impl Soak for BybitSoak {
    /// One loop iteration, then BTCUSDT against the reference at the `seq` our book reflects.
    fn step(&mut self) {
        let track = &mut self.track;
        self.lp.step_with(&mut |books, ev| track.on_record(books, ev));
        self.reference.pump();
        let seq = self.lp.feed.book_seq(BTC);
        if synced(self, BTC)
            && seq != self.last_compared_seq
            && let Some(at) = seq
            && self.reference.advance_to(at)
        {
            let (bids, asks) = self.reference.top(50);
            assert_eq!(book_levels(&self.lp.books[BTC], Side::Buy), bids, "BTCUSDT bids at seq {at}");
            assert_eq!(book_levels(&self.lp.books[BTC], Side::Sell), asks, "BTCUSDT asks at seq {at}");
            self.last_compared_seq = seq;
            self.reference_checks += 1;
        }
    }
    fn view(&self) -> View<'_> {
        let (f, c) = (&self.lp.feed, self.lp.feed.counters());
        View::of(
            &self.lp,
            &self.server,
            [f.is_synced(BTC), f.is_synced(ETH)],
            [c.deltas_applied, c.disconnects, c.gaps],
        )
    }
    fn describe(&self) -> String {
        format!("{:?}", self.lp.feed.counters())
    }

    /// `/_sim/book` (top 50) at X equals the reference at X, and our book then equals the
    /// reference at a later poll boundary.
    fn compare_with_sim(&mut self) {
        let inst = self.server.market.instruments()[BTC].clone();
        run_until(self, "BTCUSDT in sync", |s| synced(s, BTC));
        let image = SimBook::fetch(&self.rest, &inst, 50);
        assert!(self.reference.advance_to(image.update_id), "reference past /_sim/book's {}", image.update_id);
        let (bids, asks) = self.reference.top(50);
        assert_eq!((&bids, &asks), (&image.bids, &image.asks), "reference vs /_sim/book at {}", image.update_id);
        self.sim_checks += 1;
        let checks = self.reference_checks;
        run_until(self, "our book compared at or after the image", |s| s.reference_checks > checks);
    }
}

impl BybitSoak {
    /// ETHUSDT (slow) against `/_sim/book` directly, when the simulator's id equals our `seq`.
    fn compare_slow_symbol_directly(&mut self) {
        let inst = self.server.market.instruments()[ETH].clone();
        let mut tried_at = None;
        run_until(self, "ETHUSDT caught at a push boundary", |s| {
            let seq = s.lp.feed.book_seq(ETH).filter(|_| synced(s, ETH));
            if seq.is_none() || seq == tried_at {
                return false;
            }
            tried_at = seq;
            let image = SimBook::fetch(&s.rest, &inst, 50);
            if Some(image.update_id) != seq {
                return false;
            }
            image.assert_equals(&s.lp.books[ETH], "ETHUSDT vs /_sim/book");
            true
        });
    }
}

#[test]
fn bybit_applies_100k_deltas_equal_to_the_simulators_book_through_a_drop_and_a_gap() {
    let market = util::market(Venue::Bybit, InstrumentKind::Spot, FAST_RATE, SLOW_RATE);
    let venue = BybitV5::new().with_book_push_interval(Duration::ZERO);
    let server = util::start_sim(market, Arc::new(venue));
    let symbols = server.market.instruments().to_vec();
    let reference = Reference::new(&server.market, BTC);
    let lp = FeedLoop::new(util::bybit_feed(&server, Category::Spot, None), &symbols, 10_000);
    let rest = util::rest_client(&server, "bybit");
    let mut s = BybitSoak {
        lp,
        server,
        rest,
        track: Tracker::default(),
        reference,
        last_compared_seq: None,
        reference_checks: 0,
        sim_checks: 0,
    };
    let began = Instant::now();
    scenario(&mut s);
    s.compare_slow_symbol_directly();

    let c = s.lp.feed.counters();
    eprintln!(
        "bybit: {} deltas applied, {} frames, {} comparisons with the reference, {} /_sim/book images in {:?}",
        c.deltas_applied,
        c.messages,
        s.reference_checks,
        s.sim_checks,
        began.elapsed()
    );
    assert!(c.deltas_applied >= TARGET, "{c:?}");
    assert!(s.sim_checks >= 8 && s.reference_checks >= 100, "{} / {}", s.sim_checks, s.reference_checks);
    assert!(c.reconnects >= 1 && c.gaps >= 1 && c.resubscribes >= 1, "{c:?}");
    assert_eq!((c.parse_errors_total(), c.control_failures), (0, 0), "{c:?}");
    assert!(s.track.invalidations[BTC] >= 1 && s.track.invalidations[ETH] >= 1, "{:?}", s.track.invalidations);
}
