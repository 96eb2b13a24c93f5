//! A core-loop stand-in for feed tests: [`FeedLoop`] owns a feed, one `mio::Poll` (allocated
//! once), one `qt_core::Book` per symbol fed every record the feed emits, and a [`Tally`] of
//! what the records were. One step waits at most 1 ms for readiness, so an idle test does not
//! spin.

use qt_core::{Book, EventKind, FeedSource, Instrument, MarketEvent, Nanos};
use std::time::{Duration, Instant};

/// What the records did to the books, per symbol and in total.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// `seq` of the last book batch (snapshot or delta) ending with `BATCH_END`, per symbol.
    pub depth_seq: Vec<u64>,
    /// `CLEAR`-only records (invalidations), per symbol.
    pub invalidations: Vec<u64>,
    /// Snapshot batches.
    pub snapshots: u64,
    /// Delta batches (one a diff message).
    pub delta_batches: u64,
    /// Delta records.
    pub deltas: u64,
    /// Best bid/offer records.
    pub bbo: u64,
    /// Trade records.
    pub trades: u64,
    /// Every record.
    pub records: u64,
}

impl Tally {
    /// An empty tally of `symbols` symbols.
    pub fn new(symbols: usize) -> Self {
        Self { depth_seq: vec![0; symbols], invalidations: vec![0; symbols], ..Self::default() }
    }

    /// Counts one record.
    pub fn on_record(&mut self, ev: &MarketEvent) {
        let i = ev.instrument.index();
        self.records += 1;
        match ev.kind {
            EventKind::BookDelta => {
                self.deltas += 1;
                if ev.is_batch_end() {
                    self.delta_batches += 1;
                    self.depth_seq[i] = ev.seq;
                }
            }
            EventKind::BookSnapshot => {
                if ev.is_clear() && !ev.is_batch_end() && ev.qty.is_zero() {
                    self.invalidations[i] += 1;
                }
                if ev.is_batch_end() {
                    self.snapshots += 1;
                    self.depth_seq[i] = ev.seq;
                }
            }
            EventKind::BestBidOffer => self.bbo += 1,
            EventKind::Trade => self.trades += 1,
        }
    }
}

/// The feed under test plus what the core loop would own around it.
#[derive(Debug)]
pub struct FeedLoop<F> {
    /// The feed under test.
    pub feed: F,
    poll: mio::Poll,
    events: mio::Events,
    /// One book per symbol (index = symbol index), fed every record the feed emits.
    pub books: Vec<Book>,
    /// What the records were.
    pub tally: Tally,
    start: Instant,
}

impl<F: FeedSource> FeedLoop<F> {
    /// Registers `feed` with a fresh poller (asserting it registered a socket); books of
    /// `capacity` levels for `symbols`.
    pub fn new(feed: F, symbols: &[Instrument], capacity: usize) -> Self {
        let (lp, registered) = Self::registered(feed, symbols, capacity);
        assert!(registered, "the feed registers a socket");
        lp
    }

    /// [`Self::new`] for a feed that may have no socket to register yet (e.g. one that polls
    /// REST).
    pub fn new_unasserted(feed: F, symbols: &[Instrument], capacity: usize) -> Self {
        Self::registered(feed, symbols, capacity).0
    }

    fn registered(mut feed: F, symbols: &[Instrument], capacity: usize) -> (Self, bool) {
        let poll = mio::Poll::new().expect("poll");
        let registered = feed.register(poll.registry(), 0).expect("register");
        let lp = Self {
            feed,
            poll,
            events: mio::Events::with_capacity(64),
            books: symbols.iter().map(|i| Book::new(i.id(), capacity)).collect(),
            tally: Tally::new(symbols.len()),
            start: Instant::now(),
        };
        (lp, registered)
    }

    /// The loop's clock (time since it was made).
    pub fn now(&self) -> Nanos {
        Nanos::from_duration(self.start.elapsed())
    }

    /// One loop iteration; returns what the feed's poll returned.
    pub fn step(&mut self) -> usize {
        self.step_with(&mut |_, _| {})
    }

    /// [`Self::step`], with `before` seeing each record with the books as they are before it is
    /// applied.
    pub fn step_with(&mut self, before: &mut dyn FnMut(&[Book], &MarketEvent)) -> usize {
        self.poll.poll(&mut self.events, Some(Duration::from_millis(1))).expect("mio poll");
        for ev in self.events.iter() {
            self.feed.on_ready(ev.token().0);
        }
        let now = self.now();
        let Self { feed, books, tally, .. } = self;
        feed.poll(now, &mut |ev: &MarketEvent| {
            before(books, ev);
            apply(books, tally, ev);
        })
    }

    /// Hands the feed, and a sink that applies and counts records as [`Self::step`] does, to
    /// `f` (for feed calls outside `poll` that emit records, e.g. a subscription change).
    pub fn with_sink<R>(&mut self, f: impl FnOnce(&mut F, Nanos, &mut dyn FnMut(&MarketEvent)) -> R) -> R {
        let now = self.now();
        let Self { feed, books, tally, .. } = self;
        f(feed, now, &mut |ev: &MarketEvent| apply(books, tally, ev))
    }
}

/// Applies a record as the core loop would, and counts it.
fn apply(books: &mut [Book], tally: &mut Tally, ev: &MarketEvent) {
    books[ev.instrument.index()].apply(ev).expect("valid record");
    tally.on_record(ev);
}
