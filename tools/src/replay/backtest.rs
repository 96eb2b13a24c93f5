//! Backtest mode, `qt replay DIR --config other.toml`: "what would the other settings have done
//! over that recorded market?"
//!
//! The journal's market records (in the order the core consumed them) drive an engine built
//! from the *other* configuration — its strategies, risk gate and engine settings — on a clock
//! set from the records' domain times; the journal's timer ticks drive its housekeeping. Orders
//! go to the in-process matching engine ([`SimExchange`], the simulated venue's), whose book
//! mirrors the recorded one level by level ([`SimExchange::mirror_level`]): a taker order
//! fills against the recorded levels, a resting order fills when the recorded book moves
//! through it. The result is the usual run summary.
//!
//! Limits, by design: the recorded market does not react to our orders (no impact), queue
//! position is not modelled (a resting order at a level fills only when the book crosses it),
//! and fees are the backtest configuration's `[sim]` maker/taker fees.

use super::{ReplayArgs, journal_plan};
use crate::config::Plan;
use crate::run::{RiskEnd, RunOutcome};
use anyhow::{Context, anyhow};
use qt_core::journal::{JournalEvent, JournalRecord};
use qt_core::queue::spsc;
use qt_core::sys::Pinning;
use qt_core::{Engine, EventKind, ExecutionReport, MarketEvent, Nanos, ReportKind, SimClock, VenueId};
use qt_recorder::JournalReader;
use qt_recorder::payload::core_record;
use qt_risk::RiskGate;
use qt_venue_sim::exchange::desk::{self, Collector};
use qt_venue_sim::exchange::sim_exchange::SimExchange;
use qt_venue_sim::exchange::venue::SimVenueStats;
use std::collections::BTreeMap;
use std::time::Instant;

/// The simulated venue's id in the backtest engine.
const VENUE: VenueId = VenueId(0);

/// Checks the backtest configuration trades the journal's instruments, in the same order.
fn same_instruments(recorded: &Plan, plan: &Plan) -> anyhow::Result<()> {
    let names = |p: &Plan| p.instruments.iter().map(|i| i.symbol().to_string()).collect::<Vec<_>>();
    let (a, b) = (names(recorded), names(plan));
    if a != b {
        return Err(anyhow!(
            "the backtest configuration's instruments {b:?} are not the journal's {a:?} (same symbols, same order)"
        ));
    }
    Ok(())
}

/// The engine, the exchanges and the venue's ledger of a backtest.
struct Backtest {
    engine: Engine<RiskGate>,
    clock: SimClock,
    orders: qt_core::queue::Consumer<qt_core::OrderCommand>,
    exchanges: Vec<SimExchange>,
    ops: Vec<Collector>,
    reports: Vec<ExecutionReport>,
    stats: SimVenueStats,
    ledger: BTreeMap<(qt_core::AccountId, qt_core::InstrumentId), i64>,
}

impl Backtest {
    fn build(plan: &Plan) -> anyhow::Result<Self> {
        let clock = SimClock::new(plan.sim.start);
        let mut engine = super::replay_engine(plan, &clock)?;
        let (orders_tx, orders) = spsc(plan.queue_capacity);
        let (_reports_tx, reports_rx) = spsc::<ExecutionReport>(1);
        let all: Vec<_> = plan.instruments.iter().map(|i| i.id()).collect();
        engine.add_venue(orders_tx, reports_rx, &all);
        engine.set_routing(plan.routing.clone());
        let mut exchanges = Vec::new();
        for (i, inst) in plan.instruments.iter().enumerate() {
            let flow = plan.sim.flows.get(i).cloned().unwrap_or_default();
            exchanges.push(
                SimExchange::new(inst.clone(), plan.sim.fees, flow, plan.sim.seed)
                    .map_err(|e| anyhow!("backtest market {}: {e}", inst.symbol()))?,
            );
        }
        Ok(Self {
            engine,
            clock,
            orders,
            exchanges,
            ops: Vec::new(),
            reports: Vec::new(),
            stats: SimVenueStats::default(),
            ledger: BTreeMap::new(),
        })
    }

    /// Mirrors a recorded book record into the exchange's background liquidity.
    fn mirror(&mut self, ev: &MarketEvent, now: Nanos) {
        let Some(ex) = self.exchanges.get_mut(ev.instrument.index()) else { return };
        let mut c = Collector::new(ev.instrument, VENUE, now);
        match ev.kind {
            EventKind::BookSnapshot => {
                if ev.flags & MarketEvent::CLEAR != 0 {
                    ex.clear_background(now, &mut c);
                }
                if ev.price.units() > 0 {
                    ex.mirror_level(ev.side, ev.price, ev.qty, now, &mut c);
                }
            }
            EventKind::BookDelta if ev.price.units() > 0 => ex.mirror_level(ev.side, ev.price, ev.qty, now, &mut c),
            _ => {}
        }
        self.collect(c);
    }

    fn collect(&mut self, c: Collector) {
        self.stats.trades += c.trades;
        self.stats.client_fills += c.client_fills;
        self.reports.extend(c.reports);
    }

    /// Reports to the engine, orders to the exchanges, until both are quiet.
    fn settle(&mut self, record: &JournalRecord) {
        loop {
            for r in std::mem::take(&mut self.reports) {
                if r.kind == ReportKind::Fill {
                    *self.ledger.entry((r.account, r.instrument)).or_insert(0) += r.side.sign() * r.last_qty.units();
                }
                let input = JournalRecord { event: JournalEvent::Report(r), ..*record };
                self.engine.replay_input(&self.clock, &input, None);
            }
            self.engine.deliver_local_refusals();
            let mut any = false;
            while let Ok(cmd) = self.orders.pop() {
                any = true;
                let mut ops = std::mem::take(&mut self.ops);
                let n = desk::execute(&mut self.exchanges, VENUE, record.domain_ns, &cmd, &mut ops);
                self.stats.client_orders += n.orders;
                self.stats.client_rejects += n.rejects;
                for c in ops.drain(..) {
                    self.collect(c);
                }
                self.ops = ops;
            }
            if !any && self.reports.is_empty() {
                return;
            }
        }
    }
}

/// Runs `plan` over the market records of the journal `args.dir`; the run's outcome for the
/// usual summary.
pub fn run(args: &ReplayArgs, mut plan: Plan) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    let recorded = journal_plan(&args.dir)?;
    same_instruments(&recorded, &plan)?;
    let mut bt = Backtest::build(&plan)?;
    let mut reader = JournalReader::open(&args.dir)?;
    let (mut first, mut last) = (None, Nanos(0));
    loop {
        let record = match reader.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("journal {}", args.dir.display()))),
        };
        if args.until.is_some_and(|u| record.sequence > u) {
            break;
        }
        let sequence = record.sequence;
        let Some(entry) = core_record::decode(&record).with_context(|| format!("record {sequence}"))? else {
            continue;
        };
        let r = entry.record;
        match r.event {
            JournalEvent::Market(ev) => {
                first.get_or_insert(r.domain_ns);
                last = r.domain_ns;
                bt.clock.set(r.domain_ns);
                bt.mirror(&ev, r.domain_ns);
                bt.settle(&r);
                bt.engine.replay_input(&bt.clock, &r, None);
                bt.settle(&r);
            }
            JournalEvent::Timer { .. } => {
                // One simulated venue, always healthy.
                let tick = JournalRecord { event: JournalEvent::Timer { venue_healthy: 1 }, ..r };
                bt.engine.replay_input(&bt.clock, &tick, None);
                bt.settle(&r);
            }
            _ => {}
        }
    }
    plan.sim.start = first.unwrap_or(plan.sim.start);
    plan.sim.pace = crate::config::Pace::Max;
    bt.stats.sim_time = last.max(plan.sim.start);
    bt.stats.market_records = bt.engine.counters().market_events.get();
    bt.stats.positions = bt.ledger.iter().map(|((a, i), q)| (*a, *i, qt_core::Qty::from_units(*q))).collect();
    let elapsed = Nanos(started.elapsed().as_nanos() as i64);
    let report = bt.engine.report(Pinning::NotRequested, elapsed);
    let ours: Vec<_> = report.positions.iter().map(|p| (p.account, p.instrument, p.position.qty())).collect();
    let reconciliation = qt_risk::reconcile::positions(&ours, &bt.stats.positions);
    Ok(RunOutcome {
        risk: RiskEnd::of(bt.engine.risk()),
        engine: report,
        venue: Some(bt.stats),
        gateways: Vec::new(),
        plan,
        journal: None,
        reconciliation: Some(reconciliation),
        live_reconciliation: None,
        periodic_reconciliation: None,
        capital: Vec::new(),
        restore: None,
        wall: started.elapsed(),
    })
}
