//! Shared fixtures for the criterion benchmarks in `benches/`: one BTCUSDT-like spot instrument,
//! a seeded market-data tape recorded from the simulated venue, a valid 256-deep book, and a
//! harness that drives the whole core loop over that tape.
//!
//! Why a recorded tape: the book, the strategy and the risk gate behave differently on a
//! realistic stream (updates clustered at the touch, occasional sweeps, a spread that breathes) than
//! on uniform random levels. The tape comes from [`SimExchange`] — the same matching engine and
//! seeded background flow `qt run` uses — collected through a [`MatchSink`] exactly as the sim
//! venue publishes it: one record per changed level and per trade, the last record of each
//! background event flagged [`MarketEvent::BATCH_END`]. Same seed, same tape, on every machine.
//!
//! Everything here runs at set-up time and may allocate; only what a bench times is hot.

pub mod feed_streams;
pub mod feed_streams_bybit;
pub mod feed_streams_firi;
pub mod feed_streams_kraken;
pub mod feed_streams_kucoin;
pub mod feed_streams_usdm;
pub mod frame_feed;
pub mod frame_venues;
pub mod order_encode;
pub mod stream_benches;
pub mod venue_stand_in;

pub use venue_stand_in::{VenueReplies, VenueStandIn, wire_engine};

use fixed::types::I32F32;
use qt_core::feed_source::{FeedSource, FeedState};
use qt_core::strategy::imbalance::ImbalanceParams;
use qt_core::{
    Book, Engine, EventKind, Instrument, InstrumentId, InstrumentKind, InstrumentRegistry, InstrumentSpec, MarketEvent,
    Nanos, Price, Qty, Rate, Side, SimClock, Venue,
};
use qt_risk::RiskGate;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::{FeeSchedule, Fill, MatchSink, NullSink};
use qt_venue_sim::exchange::sim_exchange::SimExchange;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Seed of every generated stream, so every run measures the same records.
pub const SEED: u64 = 0x5eed_0001;

/// Levels per book side, as `EngineConfig::default()` and `examples/sim.toml` configure.
pub const BOOK_DEPTH: usize = 256;

/// Records in the standard tape: about 14 s of simulated time at 5 000 background events a second.
pub const TAPE_RECORDS: usize = 100_000;

/// Background events run before recording starts, so the tape begins at the flow's steady state
/// (full depth, target number of resting orders) rather than at the seeded book.
const WARMUP_EVENTS: usize = 20_000;

/// Binance's BTCUSDT spot filters, as the exchange-info strings read: tick 0.01, lot 0.00001,
/// minimum notional 5 USDT. Prices live at 2 decimals, quantities at 5.
pub fn btcusdt_spec() -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::Sim,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.01000000".into(),
        lot_size: "0.00001000".into(),
        min_qty: Some("0.00001000".into()),
        min_notional: Some("5.00000000".into()),
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    }
}

/// A registry holding only [`btcusdt_spec`], as instrument 0.
pub fn btcusdt_registry() -> InstrumentRegistry {
    let mut registry = InstrumentRegistry::new();
    registry.add(&btcusdt_spec()).expect("the BTCUSDT fixture is a valid instrument");
    registry
}

/// The BTCUSDT instrument (id 0).
pub fn btcusdt() -> Instrument {
    btcusdt_registry().get(InstrumentId(0)).expect("instrument 0 was just added").clone()
}

/// A price on the BTCUSDT grid from its decimal text. Builds the instrument on every call (it
/// allocates): set-up only, never inside a timed loop.
pub fn px(text: &str) -> Price {
    btcusdt().parse_price(text).expect("fixture price is on the 0.01 grid")
}

/// A quantity on the BTCUSDT grid from its decimal text. Set-up only, like [`px`].
pub fn qty(text: &str) -> Qty {
    btcusdt().parse_qty(text).expect("fixture quantity is on the 0.00001 grid")
}

/// Maker 2 bp, taker 5 bp, as `examples/sim.toml`.
pub fn fees() -> FeeSchedule {
    FeeSchedule { maker: Rate::from_bps(2), taker: Rate::from_bps(5) }
}

/// Background flow for a busy BTCUSDT book at 65 000: 5 000 events per simulated second, a
/// spread of two to three ticks on average, about 3 000 resting orders spread some 80 ticks deep
/// so that each side holds more than [`BOOK_DEPTH`] levels (the core's book is full, as on a real
/// venue's depth stream). On the standard tape about a quarter of the deltas are at the touch
/// and most of the rest 20 to 255 levels deep; the mean depth the core's book sees is 254.
pub fn btcusdt_flow() -> FlowParams {
    FlowParams {
        events_per_sec: 5_000.0,
        start_mid: Some(px("65000.00")),
        fair_vol_ticks: 100.0,
        half_spread_ticks: 1.0,
        depth_mean_ticks: 80.0,
        size_median_lots: 200.0,
        size_max_lots: 20_000,
        target_orders: 3_000,
        seed_levels: 300,
        fair_pull_ticks: 10.0,
        market_slippage_ticks: 20,
        ..FlowParams::default()
    }
}

/// Collects the simulated venue's callbacks as normalized market records, the way the sim venue
/// publishes them: a [`EventKind::Trade`] per fill, a [`EventKind::BookDelta`] per changed level.
#[derive(Debug)]
pub struct TapeRecorder {
    instrument: InstrumentId,
    /// Records of the current operation, in callback order.
    pub events: Vec<MarketEvent>,
}

impl TapeRecorder {
    /// An empty recorder for `instrument`.
    pub fn new(instrument: InstrumentId) -> Self {
        Self { instrument, events: Vec::with_capacity(64) }
    }
}

impl MatchSink for TapeRecorder {
    fn on_fill(&mut self, fill: &Fill) {
        self.events.push(MarketEvent::new(self.instrument, EventKind::Trade, fill.aggressor, fill.price, fill.qty));
    }

    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        self.events.push(MarketEvent::new(self.instrument, EventKind::BookDelta, side, price, qty));
    }
}

/// A recorded market-data stream: a full snapshot, then the updates that follow it.
#[derive(Debug, Clone)]
pub struct Tape {
    /// The book image at the start: one `BookSnapshot` record per level, bids then asks, the
    /// first flagged `CLEAR`, the last `BATCH_END`.
    pub snapshot: Vec<MarketEvent>,
    /// Deltas and trades after the snapshot, in venue order, one venue message per background
    /// event (`seq` increments per message, its last record flagged `BATCH_END`).
    pub updates: Vec<MarketEvent>,
    /// Venue messages in `updates`.
    pub messages: usize,
}

impl Tape {
    /// Records `records` update records (whole messages, so possibly a few more) of
    /// `instrument` under `flow`, seeded with `seed`.
    pub fn record(instrument: &Instrument, flow: FlowParams, seed: u64, records: usize) -> Self {
        let mut exchange = SimExchange::new(instrument.clone(), fees(), flow, seed).expect("valid flow parameters");
        exchange.seed_book(&mut NullSink);
        for _ in 0..WARMUP_EVENTS {
            exchange.step(&mut NullSink);
        }
        let id = instrument.id();
        let start = exchange.next_event_time();
        let mut snapshot = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            for (price, qty) in exchange.engine().levels(side) {
                let mut ev = MarketEvent::new(id, EventKind::BookSnapshot, side, price, qty);
                ev.exchange_ns = start;
                ev.seq = 1;
                snapshot.push(ev);
            }
        }
        assert!(!snapshot.is_empty(), "the warmed-up simulated book has levels");
        snapshot[0].flags |= MarketEvent::CLEAR;
        let last = snapshot.len() - 1;
        snapshot[last].flags |= MarketEvent::BATCH_END;

        let mut recorder = TapeRecorder::new(id);
        let mut updates = Vec::with_capacity(records + 64);
        let mut seq = 1;
        let mut messages = 0;
        while updates.len() < records {
            recorder.events.clear();
            let at = exchange.step(&mut recorder);
            let Some(last) = recorder.events.len().checked_sub(1) else { continue };
            seq += 1;
            messages += 1;
            for (k, mut ev) in recorder.events.drain(..).enumerate() {
                ev.exchange_ns = at;
                ev.seq = seq;
                ev.prev_seq = seq - 1;
                if k == last {
                    ev.flags |= MarketEvent::BATCH_END;
                }
                updates.push(ev);
            }
        }
        Self { snapshot, updates, messages }
    }

    /// The standard tape: [`TAPE_RECORDS`] records of [`btcusdt`] under [`btcusdt_flow`].
    pub fn standard() -> Self {
        Self::record(&btcusdt(), btcusdt_flow(), SEED, TAPE_RECORDS)
    }

    /// The book after the snapshot, keeping `depth` levels per side; valid.
    pub fn book(&self, depth: usize) -> Book {
        let mut book = Book::new(self.snapshot[0].instrument, depth);
        for ev in &self.snapshot {
            book.apply(ev).expect("snapshot levels are positive and for this instrument");
        }
        assert!(book.is_valid() && !book.is_crossed(), "the snapshot leaves a valid, uncrossed book");
        book
    }

    /// Only the `BookDelta` records of the updates, in order.
    pub fn deltas(&self) -> Vec<MarketEvent> {
        self.updates.iter().filter(|ev| ev.kind == EventKind::BookDelta).copied().collect()
    }

    /// Venue time from the snapshot to the last update.
    pub fn span(&self) -> Nanos {
        let first = self.snapshot[0].exchange_ns;
        let last = self.updates.last().map_or(first, |ev| ev.exchange_ns);
        last.saturating_sub(first)
    }
}

/// A seeded stream of `records` deltas concentrated at the top of a full [`BOOK_DEPTH`]-deep
/// book, and that book (valid).
///
/// The model, anchored at a fixed mid of 65 000.00 so it never drifts or crosses: bids sit at
/// `mid − k` ticks and asks at `mid + k`, `k ≥ 1`, starting with every `k` in `1..=BOOK_DEPTH`
/// on both sides. Each delta picks a side, then `k = 1 + ⌊Exp(mean 6)⌋` ticks from the mid; an
/// occupied level gets a new quantity (75 %) or is removed (25 %), an empty one is inserted.
/// Levels near the top flicker in and out, the deep ones stay. With 100k records and the
/// standard seed: 87 % of the deltas land within the best ten levels of their side, 60 % are
/// quantity changes and the rest inserts and removals in equal parts, and the book holds 245
/// levels per side on average (never fewer than 234). Ten records form one venue message (the
/// `BATCH_END` flag), about what a Binance diff-depth message carries.
pub fn top_heavy_deltas(records: usize, seed: u64) -> (Book, Vec<MarketEvent>) {
    let id = InstrumentId(0);
    let mid = px("65000.00").units();
    let tick = btcusdt().tick().units();
    let price = |side: Side, k: i64| Price::from_units(mid - side.sign() * k * tick);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let level_qty = |rng: &mut ChaCha8Rng| Qty::from_units(rng.random_range(100..=500_000));

    let mut book = Book::new(id, BOOK_DEPTH);
    let mut occupied = [BTreeSet::new(), BTreeSet::new()];
    for side in [Side::Buy, Side::Sell] {
        for k in 1..=BOOK_DEPTH as i64 {
            book.set_level(side, price(side, k), level_qty(&mut rng)).expect("positive fixture level");
            occupied[side as usize].insert(k);
        }
    }
    book.mark_valid();

    let mut deltas = Vec::with_capacity(records);
    for n in 0..records {
        let side = if rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        let u: f64 = rng.random();
        let k = 1 + (-(1.0 - u).ln() * 6.0) as i64;
        let levels = &mut occupied[side as usize];
        let q = if !levels.contains(&k) {
            levels.insert(k);
            level_qty(&mut rng)
        } else if rng.random_bool(0.75) {
            level_qty(&mut rng)
        } else {
            levels.remove(&k);
            Qty::ZERO
        };
        let mut ev = MarketEvent::new(id, EventKind::BookDelta, side, price(side, k), q);
        let message = n as u64 / 10 + 2;
        ev.seq = message;
        ev.prev_seq = message - 1;
        ev.exchange_ns = Nanos(1_767_225_600_000_000_000 + message as i64 * 100_000);
        if n % 10 == 9 {
            ev.flags |= MarketEvent::BATCH_END;
        }
        deltas.push(ev);
    }
    (book, deltas)
}

/// How much a [`ReplayFeed`] hands over per poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    /// One venue message per poll (up to its `BATCH_END` record): a socket feed reading one frame
    /// per loop iteration.
    Message,
    /// Up to this many records per poll: a ring drained in bulk (`RingFeed` drains up to 4096).
    Drain(usize),
}

/// Shared between a [`ReplayFeed`] (inside the engine) and the thread driving the engine:
/// how many records the feed may have delivered in total, and how many it has.
#[derive(Debug, Default)]
pub struct FeedBudget {
    allowed: AtomicU64,
    delivered: AtomicU64,
}

impl FeedBudget {
    /// Records delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Lets the feed deliver up to `total` records in all.
    pub fn allow(&self, total: u64) {
        self.allowed.store(total, Ordering::Relaxed);
    }
}

/// A [`FeedSource`] replaying a prepared record stream forever.
///
/// Like `RingFeed` it stamps the local receive time and advances the simulation clock to each
/// record's venue time. At the end of the stream it starts over; each lap shifts venue times by
/// the stream's span so domain time keeps increasing (the strategy's cooldown stays meaningful),
/// and a stream that starts with a snapshot resets the book on every lap.
#[derive(Debug)]
pub struct ReplayFeed {
    records: Vec<MarketEvent>,
    pos: usize,
    lap_offset: i64,
    lap_span: i64,
    mode: PollMode,
    clock: SimClock,
    budget: Arc<FeedBudget>,
    delivered: u64,
}

impl ReplayFeed {
    /// A feed over `records` (not empty) advancing `clock`, delivering at most what `budget`
    /// allows.
    pub fn new(records: Vec<MarketEvent>, mode: PollMode, clock: SimClock, budget: Arc<FeedBudget>) -> Self {
        assert!(!records.is_empty(), "a replay needs records");
        let first = records[0].exchange_ns.0;
        let last = records[records.len() - 1].exchange_ns.0;
        // One millisecond between laps, so the first record of a lap is after the last of the previous.
        let lap_span = last - first + Nanos::MILLI.0;
        Self { records, pos: 0, lap_offset: 0, lap_span, mode, clock, budget, delivered: 0 }
    }
}

impl FeedSource for ReplayFeed {
    fn name(&self) -> &str {
        "replay"
    }

    #[inline]
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        let allowed = self.budget.allowed.load(Ordering::Relaxed);
        let max = match self.mode {
            PollMode::Message => usize::MAX,
            PollMode::Drain(max) => max,
        };
        let mut n = 0;
        while self.delivered < allowed && n < max {
            let mut ev = self.records[self.pos];
            ev.exchange_ns = Nanos(ev.exchange_ns.0 + self.lap_offset);
            ev.local_ns = local_now;
            self.clock.advance_to(ev.exchange_ns);
            sink(&ev);
            n += 1;
            self.delivered += 1;
            self.pos += 1;
            if self.pos == self.records.len() {
                self.pos = 0;
                self.lap_offset += self.lap_span;
            }
            if self.mode == PollMode::Message && ev.is_batch_end() {
                break;
            }
        }
        self.budget.delivered.store(self.delivered, Ordering::Relaxed);
        n
    }

    fn state(&self) -> FeedState {
        FeedState::Live
    }
}

/// What the imbalance taker trades with in `examples/sim.toml`'s BTCUSDT strategy: 0.02 BTC per
/// order, at most 0.1 BTC either way, threshold 0.6 over 5 levels, one order per 20 ms at most.
pub fn imbalance_params() -> ImbalanceParams {
    ImbalanceParams {
        qty: qty("0.02"),
        max_position: qty("0.1"),
        threshold: I32F32::from_num(0.6),
        levels: 5,
        cooldown: Nanos(20 * Nanos::MILLI.0),
    }
}

/// The order-heavy variant: no cooldown and a low threshold, so nearly every consistent update
/// with no order in flight sends one through the risk gate to the order ring.
pub fn order_heavy_params() -> ImbalanceParams {
    ImbalanceParams { threshold: I32F32::from_num(0.1), cooldown: Nanos::ZERO, ..imbalance_params() }
}

/// The full risk gate with `examples/sim.toml`'s account "alpha" (medium profile, 100 000
/// USDT, 2 500 USDT per order, 10 000 USDT per instrument).
pub fn gate() -> RiskGate {
    qt_risk::gate::sim_alpha_gate()
}

/// The whole core path on one thread: an [`Engine`] with a [`ReplayFeed`], the imbalance taker,
/// the [`RiskGate`] and a venue link whose rings the rig itself serves ([`VenueStandIn`]: after
/// every loop iteration it takes each order off the order ring and answers at once, see
/// [`VenueReplies`]), so orders are really enqueued, reports really flow back, and the strategy
/// (one order in flight at a time) is free to send its next order on the next iteration.
#[derive(Debug)]
pub struct EngineRig {
    /// The engine under test.
    pub engine: Engine<RiskGate>,
    budget: Arc<FeedBudget>,
    /// The venue's side of the engine's venue link (it counts the orders taken off the ring).
    pub venue: VenueStandIn,
}

impl EngineRig {
    /// A rig replaying `tape` (snapshot then updates, looped) with `params` for the strategy.
    pub fn new(tape: &Tape, params: ImbalanceParams, mode: PollMode, replies: VenueReplies) -> Self {
        let clock = SimClock::new(tape.snapshot[0].exchange_ns);
        let budget = Arc::new(FeedBudget::default());
        let records: Vec<MarketEvent> = tape.snapshot.iter().chain(&tape.updates).copied().collect();
        let feed = Box::new(ReplayFeed::new(records, mode, clock.clone(), budget.clone()));
        let (engine, venue) = wire_engine(btcusdt_registry(), feed, clock, params, replies);
        Self { engine, budget, venue }
    }

    /// Runs loop iterations until exactly `records` more market records have gone through the
    /// engine, serving the venue rings after every iteration.
    #[inline]
    pub fn run_records(&mut self, records: u64) {
        let target = self.budget.delivered() + records;
        self.budget.allow(target);
        while self.budget.delivered() < target {
            self.engine.do_work();
            self.venue.serve(|_| {});
        }
    }

    /// [`Self::run_records`], timed: criterion's `iter_custom` body, so one iteration is one record.
    pub fn time_records(&mut self, records: u64) -> std::time::Duration {
        let start = std::time::Instant::now();
        self.run_records(records);
        start.elapsed()
    }
}
