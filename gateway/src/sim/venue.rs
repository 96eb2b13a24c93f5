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

use crate::sim::exchange::SimExchange;
use crate::sim::flow::FlowParams;
use crate::sim::matching::{DoneReason, FeeSchedule, Fill, MatchSink, NewOrder, OrderDone, Owner};
use qt_core::queue::{Consumer, Producer, Progress, push_blocking};
use qt_core::{
    AccountId, EventKind, ExecutionReport, Instrument, InstrumentId, Liquidity, MarketEvent, Nanos, OrderCommand,
    OrderId, Price, Qty, ReportKind, Side, VenueId,
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

/// Collects one operation's callbacks as market records and client reports.
struct Collector {
    instrument: InstrumentId,
    venue: VenueId,
    ts: Nanos,
    events: Vec<MarketEvent>,
    reports: Vec<ExecutionReport>,
    /// Client orders' remaining details, for reports the matching callbacks do not carry.
    trades: u64,
    client_fills: u64,
}

impl Collector {
    fn report(
        &self,
        account: AccountId,
        order_id: OrderId,
        venue_order_id: u64,
        side: Side,
        kind: ReportKind,
    ) -> ExecutionReport {
        ExecutionReport {
            order_id,
            venue_order_id,
            venue: self.venue,
            account,
            instrument: self.instrument,
            kind,
            side,
            last_price: Price::ZERO,
            last_qty: Qty::ZERO,
            leaves_qty: Qty::ZERO,
            cum_qty: Qty::ZERO,
            fee: qt_core::Notional::ZERO,
            liquidity: Liquidity::Taker,
            exchange_ns: self.ts,
        }
    }

    fn market(&mut self, kind: EventKind, side: Side, price: Price, qty: Qty) {
        let mut ev = MarketEvent::new(self.instrument, kind, side, price, qty);
        ev.exchange_ns = self.ts;
        self.events.push(ev);
    }
}

impl MatchSink for Collector {
    fn on_accepted(&mut self, venue_id: u64, order: &NewOrder, _ts: Nanos) {
        if let Owner::Client { account, order_id } = order.owner {
            let mut r = self.report(account, order_id, venue_id, order.side, ReportKind::Accepted);
            r.leaves_qty = order.qty;
            self.reports.push(r);
        }
    }

    fn on_fill(&mut self, fill: &Fill) {
        self.trades += 1;
        self.market(EventKind::Trade, fill.aggressor, fill.price, fill.qty);
        let parties = [
            (
                fill.maker,
                fill.maker_venue_id,
                fill.aggressor.opposite(),
                fill.maker_leaves_qty,
                fill.maker_cum_qty,
                fill.maker_fee,
                Liquidity::Maker,
            ),
            (
                fill.taker,
                fill.taker_venue_id,
                fill.aggressor,
                fill.taker_leaves_qty,
                fill.taker_cum_qty,
                fill.taker_fee,
                Liquidity::Taker,
            ),
        ];
        for (owner, venue_id, side, leaves, cum, fee, liquidity) in parties {
            if let Owner::Client { account, order_id } = owner {
                self.client_fills += 1;
                let mut r = self.report(account, order_id, venue_id, side, ReportKind::Fill);
                r.last_price = fill.price;
                r.last_qty = fill.qty;
                r.leaves_qty = leaves;
                r.cum_qty = cum;
                r.fee = fee;
                r.liquidity = liquidity;
                r.exchange_ns = fill.ts;
                self.reports.push(r);
            }
        }
    }

    fn on_done(&mut self, done: &OrderDone) {
        if let Owner::Client { account, order_id } = done.owner
            && done.reason != DoneReason::Filled
        {
            let mut r = self.report(account, order_id, done.venue_id, done.side, ReportKind::Canceled);
            r.cum_qty = done.cum_qty;
            self.reports.push(r);
        }
    }

    fn on_level(&mut self, side: Side, price: Price, qty: Qty) {
        self.market(EventKind::BookDelta, side, price, qty);
    }
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
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").field("events", &self.events.len()).field("reports", &self.reports.len()).finish()
    }
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
        let mut exchanges = Vec::with_capacity(cfg.markets.len());
        for (i, (instrument, flow)) in cfg.markets.iter().enumerate() {
            if instrument.id().index() != i {
                return Err(format!("instrument {} has id {} but is market {i}", instrument.symbol(), instrument.id()));
            }
            let mut flow = flow.clone();
            flow.start_time_ns = cfg.start.0;
            // Each market gets its own stream derived from the run seed (splitmix64 step).
            let seed = cfg.seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let ex = SimExchange::new(instrument.clone(), cfg.fees, flow, seed)
                .map_err(|e| format!("instrument {}: flow.{e}", instrument.symbol()))?;
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
        })
    }

    fn collector(&self, instrument: InstrumentId) -> Collector {
        Collector {
            instrument,
            venue: self.links.venue,
            ts: self.now,
            events: Vec::new(),
            reports: Vec::new(),
            trades: 0,
            client_fills: 0,
        }
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
            let (instrument, c) = match cmd {
                OrderCommand::New { order_id, request, .. } => {
                    self.stats.client_orders += 1;
                    let i = request.instrument;
                    let mut c = self.collector(i);
                    match self.exchanges.get_mut(i.index()) {
                        Some(ex) => {
                            if let Err(reason) = ex.submit_client(order_id, &request, self.now, &mut c) {
                                self.stats.client_rejects += 1;
                                let mut r =
                                    c.report(request.account, order_id, 0, request.side, ReportKind::Rejected(reason));
                                r.leaves_qty = Qty::ZERO;
                                c.reports.push(r);
                            }
                        }
                        None => {
                            self.stats.client_rejects += 1;
                            let r = c.report(
                                request.account,
                                order_id,
                                0,
                                request.side,
                                ReportKind::Rejected(qt_core::RejectReason::UnknownInstrument),
                            );
                            c.reports.push(r);
                        }
                    }
                    (i, c)
                }
                OrderCommand::Cancel { order_id, account, instrument } => {
                    let mut c = self.collector(instrument);
                    if let Some(ex) = self.exchanges.get_mut(instrument.index())
                        && let Err(reason) = ex.cancel_client(account, order_id, self.now, &mut c)
                    {
                        let r = c.report(account, order_id, 0, Side::Buy, ReportKind::CancelRejected(reason));
                        c.reports.push(r);
                    }
                    (instrument, c)
                }
                OrderCommand::CancelAll { account, instrument } => {
                    for i in 0..self.exchanges.len() {
                        if instrument.is_some_and(|x| x.index() != i) {
                            continue;
                        }
                        let mut c = self.collector(InstrumentId(i as u32));
                        self.exchanges[i].cancel_all_client(account, self.now, &mut c);
                        if self.publish(c) == Wait::Stopped {
                            return Wait::Stopped;
                        }
                    }
                    continue;
                }
            };
            let _ = instrument;
            if self.publish(c) == Wait::Stopped {
                return Wait::Stopped;
            }
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
