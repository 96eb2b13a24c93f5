//! What the live-feed tests against the venue simulator share: a market of a fast and a slow
//! symbol, the simulator started in-process with one protocol over TLS, a core-loop stand-in
//! ([`Driver`]: one zero-wait `mio::Poll`, then `FeedSource::poll`, records applied to one
//! `qt_core::Book` per symbol), the simulator's own book through `GET /_sim/book`, and a
//! reference book rebuilt from the market's update stream (a fast book rarely sits still at a
//! diff boundary long enough for an HTTP round trip). Every wait is bounded.
#![allow(dead_code, reason = "each test binary uses a different part")]

use qt_core::feed_source::FeedState;
use qt_core::{FeedSource, Instrument, Side, Venue};
use qt_feed::decoder::VenueDecoder;
use qt_feed::snapshot::HttpsClient;
use qt_feed::snapshot_feed::{SnapshotFeed, SnapshotVenue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use qt_test_support::feed_loop::FeedLoop;
pub(crate) use qt_test_support::sim::start_sim;
pub(crate) use qt_test_support::sim_book::{Levels, Reference, SimBook, book_levels};

/// Symbol index of the fast symbol.
pub(crate) const FAST: usize = 0;
/// Symbol index of the slow symbol.
pub(crate) const SLOW: usize = 1;

/// A spot instrument `symbol` (`base`/`quote`) on the grid `tick`/`lot`, no minimums.
pub(crate) fn instrument(
    id: u32,
    venue: Venue,
    symbol: &str,
    base: &str,
    quote: &str,
    tick: &str,
    lot: &str,
) -> Instrument {
    TestInstrument::spot(venue, symbol).assets(base, quote).tick(tick).lot(lot).build(id)
}

/// A market of `(instrument, mid, background events/s)` with one empty account.
pub(crate) fn market(symbols: Vec<(Instrument, &str, f64)>) -> Arc<Market> {
    symbols
        .into_iter()
        .fold(MarketBuilder::new(), |m, (inst, mid, rate)| m.symbol(inst, mid, rate))
        .account("k", "s", &[])
        .build()
}

/// `https://<addr>` and `wss://<addr>` of the server's only listener.
pub(crate) fn urls(server: &RunningServer) -> (String, String) {
    let addr = server.addrs[0].1;
    (format!("https://{addr}"), format!("wss://{addr}"))
}

/// A blocking client for the simulator's REST side (control endpoints, `/_sim/book`) of the
/// server's only listener.
pub(crate) fn rest_client(server: &RunningServer) -> HttpsClient {
    qt_test_support::sim_book::rest_client(server, server.addrs[0].0)
}

/// `(updateId, bids, asks)` of the simulator's own (whole) book of `inst`.
pub(crate) fn sim_book(rest: &HttpsClient, inst: &Instrument) -> (u64, Levels, Levels) {
    let SimBook { update_id, bids, asks } = SimBook::fetch(rest, inst, 100_000);
    (update_id, bids, asks)
}

/// The feed plus what the core loop would own ([`FeedLoop`]: `feed`, `books`, `tally` through
/// `Deref`), with the comparisons these tests make.
pub(crate) struct Driver<F: FeedSource> {
    lp: FeedLoop<F>,
}

impl<F: FeedSource> std::ops::Deref for Driver<F> {
    type Target = FeedLoop<F>;
    fn deref(&self) -> &FeedLoop<F> {
        &self.lp
    }
}

impl<F: FeedSource> std::ops::DerefMut for Driver<F> {
    fn deref_mut(&mut self) -> &mut FeedLoop<F> {
        &mut self.lp
    }
}

impl<V: SnapshotVenue> Driver<SnapshotFeed<V>> {
    /// (Un)subscribes `symbol` now, applying what that emits; whether anything changed.
    pub(crate) fn set_subscribed(&mut self, symbol: usize, on: bool) -> bool {
        self.lp.with_sink(|feed, now, sink| feed.set_subscribed(symbol, on, now, sink))
    }
}

impl<F: FeedSource> Driver<F> {
    pub(crate) fn new(feed: F, symbols: &[Instrument]) -> Self {
        Self { lp: FeedLoop::new_unasserted(feed, symbols, 100_000) }
    }

    /// One loop iteration.
    pub(crate) fn step(&mut self) {
        self.lp.step();
    }

    /// Steps until `done` (asserting it happens within `limit`; `info` describes the feed).
    pub(crate) fn run_until(
        &mut self,
        limit: Duration,
        what: &str,
        info: impl Fn(&F) -> String,
        mut done: impl FnMut(&mut Self) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}; {}", info(&self.feed));
            self.step();
        }
    }

    /// Whether our book of `symbol` equals `levels` exactly (both sides, every level).
    pub(crate) fn book_is(&self, symbol: usize, levels: &(Levels, Levels)) -> bool {
        let b = &self.books[symbol];
        b.is_valid() && book_levels(b, Side::Buy) == levels.0 && book_levels(b, Side::Sell) == levels.1
    }

    /// Steps until our book of `symbol` equals the simulator's `/_sim/book` at the same update
    /// id (the slow symbol sits still between diffs), `times` times over different ids.
    pub(crate) fn match_sim_book(
        &mut self,
        rest: &HttpsClient,
        inst: &Instrument,
        symbol: usize,
        times: usize,
        limit: Duration,
    ) {
        let deadline = Instant::now() + limit;
        let mut matched = Vec::new();
        while matched.len() < times {
            assert!(Instant::now() < deadline, "only {} matches with /_sim/book of {}", matched.len(), inst.symbol());
            self.step();
            let seq = self.tally.depth_seq[symbol];
            if !self.books[symbol].is_valid() || matched.contains(&seq) {
                continue;
            }
            let (id, bids, asks) = sim_book(rest, inst);
            if id != self.tally.depth_seq[symbol] {
                continue;
            }
            let b = &self.books[symbol];
            assert_eq!(book_levels(b, Side::Buy), bids, "bids of {} at {id}", inst.symbol());
            assert_eq!(book_levels(b, Side::Sell), asks, "asks of {} at {id}", inst.symbol());
            matched.push(id);
        }
    }

    /// Steps for `span` comparing the fast symbol with `reference` at every new batch; returns
    /// how many comparisons were exact (any mismatch panics).
    pub(crate) fn track(&mut self, reference: &mut Reference, symbol: usize, span: Duration) -> usize {
        let until = Instant::now() + span;
        let (mut compared, mut last) = (0, 0);
        while Instant::now() < until {
            self.step();
            let seq = self.tally.depth_seq[symbol];
            if seq == last || !self.books[symbol].is_valid() {
                continue;
            }
            last = seq;
            if let Some(levels) = reference.at(seq) {
                assert!(self.book_is(symbol, &levels), "book of symbol {symbol} differs from the market's at {seq}");
                compared += 1;
            }
        }
        compared
    }
}

/// The fault scenarios every snapshot-synced feed ([`SnapshotFeed`]) must survive, against the
/// simulator's protocol for its venue. `FAST` is tracked against `reference`, `SLOW` against
/// `/_sim/book`.
pub(crate) mod scenarios {
    use super::*;

    fn info<V: SnapshotVenue>(f: &SnapshotFeed<V>) -> String {
        format!("{:?} {:?}", f.link_counters(), f.decoder().stats())
    }

    fn synced<V: SnapshotVenue>(d: &mut Driver<SnapshotFeed<V>>) -> bool {
        (0..d.books.len()).all(|i| d.feed.is_synced(i) && d.books[i].is_valid())
    }

    /// Initial sync (bounded), then the feed is live.
    pub(crate) fn sync<V: SnapshotVenue>(d: &mut Driver<SnapshotFeed<V>>) {
        d.run_until(Duration::from_secs(15), "every symbol in sync", info, synced);
        assert_eq!(d.feed.state(), FeedState::Live);
    }

    /// Syncs, tracks the fast symbol for 3 s (at least 10 exact comparisons over 5000+ update
    /// ids), matches the slow one with `/_sim/book` twice; no gap, no bad frame, no reconnect.
    pub(crate) fn track<V: SnapshotVenue>(
        server: &RunningServer,
        d: &mut Driver<SnapshotFeed<V>>,
        reference: &mut Reference,
        slow: &Instrument,
    ) {
        sync(d);
        let first = d.tally.depth_seq[FAST];
        let compared = d.track(reference, FAST, Duration::from_secs(3));
        let spanned = d.tally.depth_seq[FAST] - first;
        eprintln!(
            "{}: {spanned} update ids in {} batches, {compared} exact comparisons",
            d.feed.name(),
            d.tally.delta_batches
        );
        assert!(compared >= 10 && spanned >= 5_000, "compared {compared}, spanned {spanned}");
        assert!(d.tally.trades > 0, "trades flow: {:?}", d.tally);
        d.match_sim_book(&rest_client(server), slow, SLOW, 2, Duration::from_secs(15));
        let (c, link) = (d.feed.decoder().stats(), d.feed.link_counters());
        assert_eq!((c.gaps, c.parse_errors, link.reconnects), (0, 0, 0), "{c:?} {link:?}");
    }

    /// Unsubscribes the slow symbol (its book invalid, the feed live without it, nothing of it
    /// applied), keeps it unsubscribed across a reconnect, subscribes it again and matches it
    /// with `/_sim/book`.
    pub(crate) fn unsubscribe_and_back<V: SnapshotVenue>(
        server: &RunningServer,
        d: &mut Driver<SnapshotFeed<V>>,
        reference: &mut Reference,
        slow: &Instrument,
    ) {
        sync(d);
        let sent = d.feed.link_counters().subscriptions_sent;
        assert!(d.set_subscribed(SLOW, false) && !d.set_subscribed(SLOW, false), "a change once");
        assert!(!d.books[SLOW].is_valid() && !d.feed.is_subscribed(SLOW));
        assert!(d.feed.link_counters().subscriptions_sent > sent, "the venue is told");
        assert_eq!(d.feed.state(), FeedState::Live, "live without the unsubscribed symbol");
        let seq = d.tally.depth_seq[SLOW];
        assert!(d.track(reference, FAST, Duration::from_secs(1)) >= 3);
        assert!(!d.books[SLOW].is_valid() && d.tally.depth_seq[SLOW] == seq, "nothing of it applied");
        server.faults.drop_ws_connections();
        d.run_until(Duration::from_secs(10), "the drop", info, |d| d.feed.link_counters().disconnects >= 1);
        d.run_until(Duration::from_secs(15), "the fast symbol again", info, |d| d.feed.state() == FeedState::Live);
        assert!(d.track(reference, FAST, Duration::from_secs(1)) >= 3);
        assert!(!d.books[SLOW].is_valid() && d.tally.depth_seq[SLOW] == seq, "still unsubscribed after the reconnect");
        assert!(d.set_subscribed(SLOW, true));
        d.run_until(Duration::from_secs(15), "the slow symbol again", info, synced);
        d.match_sim_book(&rest_client(server), slow, SLOW, 1, Duration::from_secs(15));
    }

    /// Every session dropped: seen, books invalid, reconnect, resync, equal again.
    pub(crate) fn dropped_connection<V: SnapshotVenue>(
        server: &RunningServer,
        d: &mut Driver<SnapshotFeed<V>>,
        reference: &mut Reference,
        slow: &Instrument,
    ) {
        sync(d);
        server.faults.drop_ws_connections();
        d.run_until(Duration::from_secs(10), "the drop", info, |d| d.feed.link_counters().disconnects >= 1);
        assert!(d.books.iter().all(|b| !b.is_valid()), "books invalid while resyncing");
        assert_eq!(d.feed.state(), FeedState::Recovering);
        d.run_until(Duration::from_secs(15), "resync after reconnect", info, synced);
        assert!(d.track(reference, FAST, Duration::from_secs(2)) >= 3, "tracks again after the resync");
        d.match_sim_book(&rest_client(server), slow, SLOW, 1, Duration::from_secs(15));
        assert!(d.feed.link_counters().reconnects >= 1, "{}", info(&d.feed));
    }

    /// A skipped sequence in the steady stream: detected, counted, the strategy told (a
    /// `CLEAR`-only record), resynced without a reconnect.
    pub(crate) fn sequence_skip<V: SnapshotVenue>(
        server: &RunningServer,
        d: &mut Driver<SnapshotFeed<V>>,
        reference: &mut Reference,
    ) {
        sync(d);
        let batches = d.tally.delta_batches;
        d.run_until(Duration::from_secs(10), "steady diffs", info, |d| d.tally.delta_batches >= batches + 6);
        server.faults.skip_sequence(1);
        d.run_until(Duration::from_secs(10), "the gap", info, |d| d.feed.decoder().stats().gaps >= 1);
        assert!(d.tally.invalidations.iter().sum::<u64>() >= 1, "the strategy is told: {:?}", d.tally);
        d.run_until(Duration::from_secs(15), "resync", info, synced);
        assert!(d.track(reference, FAST, Duration::from_secs(2)) >= 3);
        let c = d.feed.decoder().stats();
        assert!(c.gaps >= 1 && c.resyncs >= 1 && d.feed.link_counters().reconnects == 0, "{}", info(&d.feed));
    }

    /// One malformed and one truncated frame: counted, no panic, resynced, no reconnect.
    pub(crate) fn bad_frames<V: SnapshotVenue>(
        server: &RunningServer,
        d: &mut Driver<SnapshotFeed<V>>,
        reference: &mut Reference,
    ) {
        sync(d);
        server.faults.malformed_frames(1);
        server.faults.truncated_frames(1);
        d.run_until(Duration::from_secs(10), "both bad frames", info, |d| d.feed.decoder().stats().parse_errors >= 2);
        d.run_until(Duration::from_secs(15), "resync", info, synced);
        assert!(d.track(reference, FAST, Duration::from_secs(2)) >= 3);
        assert_eq!(d.feed.link_counters().reconnects, 0, "{}", info(&d.feed));
    }
}
