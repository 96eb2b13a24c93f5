//! [`SimVenue`]: the built-in simulated venue as a thread behind the same queues a real gateway
//! uses.
//!
//! The thread owns one [`SimExchange`] per instrument. It publishes market data (an initial
//! snapshot, then deltas and trades of every background event) to the core's feed ring, takes
//! [`OrderCommand`]s from the core's order ring, matches them, and returns
//! [`ExecutionReport`]s on the report ring — exactly the path a real gateway and feed take.
//!
//! **Lockstep.** Before it publishes anything the venue waits until the core has fully handled
//! everything published so far (the feed's and the report ring's [`Progress`] counts) and then
//! matches every order the core sent in reaction. Thread timing therefore never changes what
//! happens: the same seed gives the same fills. With `realtime` pacing, simulated time also
//! follows the wall clock; with `max` it runs as fast as the core keeps up.
//!
//! Runs on its own thread; allocates (it is the exchange, not the hot path) and waits by
//! spinning, yielding and short sleeps.

use crate::exchange::desk::{self, Collector};
use crate::exchange::flow::FlowParams;
use crate::exchange::matching::FeeSchedule;
use crate::exchange::shock::{Shock, ShockSchedule};
use crate::exchange::sim_exchange::SimExchange;
use qt_core::queue::{Consumer, Producer, Progress, push_blocking};
use qt_core::{
    AccountId, EventKind, ExecutionReport, Instrument, InstrumentId, MarketEvent, Nanos, OrderCommand, Price, Qty,
    ReportKind, Side, VenueId,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Everything the simulated venue needs to start.
#[derive(Debug, Clone)]
pub struct SimVenueConfig {
    /// Seed of all background flow (each instrument derives its own stream from it).
    pub seed: u64,
    /// Simulated start time.
    pub start: Nanos,
    /// Simulated time to run.
    pub duration: Nanos,
    /// Follow the wall clock (`true`) or run as fast as possible.
    pub realtime: bool,
    /// Maker/taker fees.
    pub fees: FeeSchedule,
    /// Instruments (ids must be `0..n` in order) and their flow.
    pub markets: Vec<(Instrument, FlowParams)>,
    /// Shocks the flow follows ([`crate::exchange::shock`]); empty in every ordinary run.
    pub shocks: Vec<Shock>,
}

/// The queues and counts connecting the venue to the core.
#[derive(Debug)]
pub struct SimVenueLinks {
    /// Market records to the core's feed.
    pub market: Producer<MarketEvent>,
    /// Records the core has dispatched.
    pub market_handled: Arc<Progress>,
    /// Orders from the core.
    pub orders: Consumer<OrderCommand>,
    /// Reports to the core.
    pub reports: Producer<ExecutionReport>,
    /// Reports the core has applied.
    pub reports_handled: Arc<Progress>,
    /// Set by anyone to end the run early.
    pub stop: Arc<AtomicBool>,
    /// Our venue id in the core's table.
    pub venue: VenueId,
}

/// What the venue did, reported when its thread ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimVenueStats {
    /// The venue's own ledger of client positions: net filled quantity per (account,
    /// instrument), from the fills it reported — what a reconciliation compares ours with.
    pub positions: Vec<(AccountId, InstrumentId, Qty)>,
    /// Background events applied.
    pub background_events: u64,
    /// Market records published.
    pub market_records: u64,
    /// Client orders received.
    pub client_orders: u64,
    /// Client orders rejected by the venue.
    pub client_rejects: u64,
    /// Client fills.
    pub client_fills: u64,
    /// Public trades.
    pub trades: u64,
    /// Simulated time reached.
    pub sim_time: Nanos,
    /// Whether the run was cut short by the stop flag or a vanished core.
    pub stopped_early: bool,
}

/// The simulated venue thread's state.
#[derive(Debug)]
pub struct SimVenue {
    cfg: SimVenueConfig,
    exchanges: Vec<SimExchange>,
    links: SimVenueLinks,
    seqs: Vec<u64>,
    published_records: u64,
    published_reports: u64,
    now: Nanos,
    stats: SimVenueStats,
    ledger: std::collections::BTreeMap<(AccountId, InstrumentId), i64>,
    wall_start: Instant,
    /// Operations of the command being handled (reused).
    ops: Vec<Collector>,
}

/// Why the venue stopped waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Done,
    Stopped,
}

impl SimVenue {
    /// Builds the markets. Fails, naming the instrument and parameter, on bad flow parameters.
    pub fn new(cfg: SimVenueConfig, links: SimVenueLinks) -> Result<Self, String> {
        for (k, shock) in cfg.shocks.iter().enumerate() {
            shock.validate().map_err(|e| format!("shock {k}: {e}"))?;
        }
        let mut exchanges = Vec::with_capacity(cfg.markets.len());
        for (i, (instrument, flow)) in cfg.markets.iter().enumerate() {
            if instrument.id().index() != i {
                return Err(format!("instrument {} has id {} but is market {i}", instrument.symbol(), instrument.id()));
            }
            let mut flow = flow.clone();
            flow.start_time_ns = cfg.start.0;
            // Each market gets its own stream derived from the run seed (splitmix64 step).
            let seed = cfg.seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut ex = SimExchange::new(instrument.clone(), cfg.fees, flow, seed)
                .map_err(|e| format!("instrument {}: flow.{e}", instrument.symbol()))?;
            if !cfg.shocks.is_empty() {
                ex.set_shocks(ShockSchedule::for_market(&cfg.shocks, instrument.id(), cfg.start));
            }
            exchanges.push(ex);
        }
        let n = exchanges.len();
        Ok(Self {
            now: cfg.start,
            cfg,
            exchanges,
            links,
            seqs: vec![0; n],
            published_records: 0,
            published_reports: 0,
            stats: SimVenueStats::default(),
            ledger: std::collections::BTreeMap::new(),
            wall_start: Instant::now(),
            ops: Vec::new(),
        })
    }

    fn collector(&self, instrument: InstrumentId) -> Collector {
        Collector::new(instrument, self.links.venue, self.now)
    }

    fn stopping(&self) -> bool {
        self.links.stop.load(Ordering::Relaxed) || self.links.market.is_abandoned()
    }

    /// Waits until the core has handled everything published so far.
    fn sync(&self) -> Wait {
        let mut spins = 0u32;
        loop {
            if self.links.market_handled.handled() >= self.published_records
                && self.links.reports_handled.handled() >= self.published_reports
            {
                return Wait::Done;
            }
            if self.stopping() {
                return Wait::Stopped;
            }
            spins = spins.saturating_add(1);
            if spins < 2_000 {
                std::hint::spin_loop();
            } else if spins < 20_000 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// Publishes a collector's output: reports first, then (after the core applied them) the
    /// market records as one venue message.
    fn publish(&mut self, mut c: Collector) -> Wait {
        self.stats.trades += c.trades;
        self.stats.client_fills += c.client_fills;
        if !c.reports.is_empty() {
            if self.sync() == Wait::Stopped {
                return Wait::Stopped;
            }
            for r in c.reports.drain(..) {
                if r.kind == ReportKind::Fill {
                    let held = self.ledger.entry((r.account, r.instrument)).or_insert(0);
                    *held += r.side.sign() * r.last_qty.units();
                }
                if push_blocking(&mut self.links.reports, r).is_err() {
                    return Wait::Stopped;
                }
                self.published_reports += 1;
            }
        }
        if !c.events.is_empty() {
            if self.sync() == Wait::Stopped {
                return Wait::Stopped;
            }
            let i = c.instrument.index();
            self.seqs[i] += 1;
            let seq = self.seqs[i];
            let last = c.events.len() - 1;
            for (k, mut ev) in c.events.drain(..).enumerate() {
                ev.seq = seq;
                ev.prev_seq = seq - 1;
                if k == last {
                    ev.flags |= MarketEvent::BATCH_END;
                }
                if push_blocking(&mut self.links.market, ev).is_err() {
                    return Wait::Stopped;
                }
                self.published_records += 1;
                self.stats.market_records += 1;
            }
        }
        Wait::Done
    }

    /// Publishes a full snapshot of `instrument`'s book.
    fn publish_snapshot(&mut self, instrument: InstrumentId) -> Wait {
        let mut c = self.collector(instrument);
        let engine = self.exchanges[instrument.index()].engine();
        for side in [Side::Buy, Side::Sell] {
            for (price, qty) in engine.levels(side) {
                c.market(EventKind::BookSnapshot, side, price, qty);
            }
        }
        if c.events.is_empty() {
            c.market(EventKind::BookSnapshot, Side::Buy, Price::from_units(1), Qty::ZERO);
        }
        c.events[0].flags |= MarketEvent::CLEAR;
        self.publish(c)
    }

    /// Matches every order the core has sent.
    fn handle_orders(&mut self) -> Wait {
        while let Ok(cmd) = self.links.orders.pop() {
            let mut ops = std::mem::take(&mut self.ops);
            ops.clear();
            let outcome = desk::execute(&mut self.exchanges, self.links.venue, self.now, &cmd, &mut ops);
            self.stats.client_orders += outcome.orders;
            self.stats.client_rejects += outcome.rejects;
            for c in ops.drain(..) {
                if self.publish(c) == Wait::Stopped {
                    return Wait::Stopped;
                }
            }
            self.ops = ops;
        }
        Wait::Done
    }

    /// Waits for the wall clock to reach simulated time `t` (realtime pacing).
    fn pace_to(&self, t: Nanos) {
        if !self.cfg.realtime {
            return;
        }
        let target = Duration::from_nanos(t.saturating_sub(self.cfg.start).0.max(0) as u64);
        loop {
            let elapsed = self.wall_start.elapsed();
            if elapsed >= target || self.stopping() {
                return;
            }
            let gap = target - elapsed;
            if gap > Duration::from_micros(300) {
                std::thread::sleep(gap - Duration::from_micros(200));
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Runs the venue until its simulated duration is over (or the stop flag is set) and
    /// returns what it did. Dropping the rings at the end tells the core the feed has finished.
    pub fn run(mut self) -> SimVenueStats {
        self.wall_start = Instant::now();
        for i in 0..self.exchanges.len() {
            let mut c = self.collector(InstrumentId(i as u32));
            self.exchanges[i].seed_book(&mut c);
            // Seeding is the venue's own business; the core learns the book from the snapshot.
            if self.publish_snapshot(InstrumentId(i as u32)) == Wait::Stopped {
                return self.finish(true);
            }
        }
        let end = self.cfg.start.saturating_add(self.cfg.duration);
        loop {
            if self.sync() == Wait::Stopped || self.handle_orders() == Wait::Stopped {
                return self.finish(true);
            }
            // The next background event across all markets (ties go to the lower id).
            let Some((i, t)) = self
                .exchanges
                .iter()
                .enumerate()
                .map(|(i, ex)| (i, ex.next_event_time()))
                .min_by_key(|(i, t)| (*t, *i))
            else {
                return self.finish(false);
            };
            if t > end {
                return self.finish(false);
            }
            self.pace_to(t);
            self.now = t;
            let mut c = self.collector(InstrumentId(i as u32));
            self.exchanges[i].step(&mut c);
            self.stats.background_events += 1;
            if self.publish(c) == Wait::Stopped {
                return self.finish(true);
            }
        }
    }

    fn finish(mut self, stopped_early: bool) -> SimVenueStats {
        if !stopped_early {
            // Let the core apply the last records and answer their orders once more.
            let _ = self.sync();
            let _ = self.handle_orders();
            let _ = self.sync();
        }
        self.stats.sim_time = self.now;
        self.stats.stopped_early = stopped_early;
        self.stats.positions = self.ledger.iter().map(|(&(a, i), &q)| (a, i, Qty::from_units(q))).collect();
        self.stats
    }
}
