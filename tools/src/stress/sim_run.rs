//! What the market scenarios (flash_crash, liquidity_drought, correlation_shock) share: their
//! run on the in-process simulated venue with a shock schedule, and what they read back from it.
//!
//! [`run`] runs a scenario's plan as `qt run` does (lockstep, pace `max`, journal on), so the
//! same seed gives the same run. [`observe`] then walks the run's journal through the replay's
//! engine (`crate::replay::engine`): every input the core consumed is applied again to an
//! engine built from the same plan, so after each record the walk reads the engine's own state
//! at that point of the run — the books a flatten order was priced off, the global level and the
//! signal values behind it, the emergency stop's trigger counts, the positions — and every risk
//! decision and order command the run journaled. Nothing is computed from made-up inputs.

use crate::config::{Pace, Plan};
use crate::replay::engine::ReplayEngine;
use crate::run::RunOutcome;
use anyhow::Context;
use qt_core::journal::{JournalEvent, JournaledDecision};
use qt_core::{
    AccountId, BlockReason, DecisionRecord, Engine, InstrumentId, Nanos, OrderCommand, OrderRequest, Price, Rate,
    Rounding,
};
use qt_recorder::payload::core_record;
use qt_recorder::{JournalReader, RecordType};
use qt_risk::RiskGate;
use qt_risk::ess::TriggerSource;
use qt_risk::global_level::{GlobalRiskLevel, SignalValues};
use std::collections::VecDeque;

/// Runs `plan` on the in-process simulated venue, as fast as the core keeps up, with its journal.
pub fn run(mut plan: Plan) -> anyhow::Result<RunOutcome> {
    plan.sim.pace = Pace::Max;
    anyhow::ensure!(plan.journal.is_some(), "the scenario's configuration must keep its journal ([journal] enabled)");
    crate::run::run(plan, None)
}

/// Runs `plan` ([`run`]), walks its journal ([`observe`]) and starts the verdict with the state
/// going into the scenario's event at `event` (gross notional and signals).
pub fn run_observed(plan: Plan, event: Nanos) -> anyhow::Result<(RunOutcome, Observed, super::Verdict)> {
    let outcome = run(plan)?;
    let seen = observe(&outcome)?;
    let mut v = super::Verdict::default();
    if let Some(t) = seen.before(event) {
        v.fact("going in", format!("gross {:.0} USDT, {}", t.gross, signals_text(&t.signals)));
    }
    Ok((outcome, seen, v))
}

/// The facts every market scenario ends with: the stop, its triggers, orders and fills.
pub fn end_facts(v: &mut super::Verdict, outcome: &RunOutcome) {
    v.fact("emergency stop", &outcome.risk.ess_state);
    v.fact("triggers", outcome.risk.triggers.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(", "));
    v.fact("orders sent / fills", format!("{} / {}", outcome.engine.orders_sent, outcome.engine.fills));
}

/// A level change as the engine made it, with the signal values it saw.
#[derive(Debug, Clone, Copy)]
pub struct LevelSeen {
    /// Domain time.
    pub at: Nanos,
    /// From.
    pub from: GlobalRiskLevel,
    /// To.
    pub to: GlobalRiskLevel,
    /// The signals at that tick.
    pub signals: SignalValues,
}

/// The first count of an emergency-stop trigger source, with the signals then.
#[derive(Debug, Clone, Copy)]
pub struct TriggerSeen {
    /// The source.
    pub source: TriggerSource,
    /// Domain time.
    pub at: Nanos,
    /// The signals at that tick.
    pub signals: SignalValues,
}

/// A flatten order the emergency stop sent, with the touch it was priced off.
#[derive(Debug, Clone, Copy)]
pub struct FlattenSeen {
    /// Domain time.
    pub at: Nanos,
    /// The order.
    pub request: OrderRequest,
    /// The best price on the side it sells into (bid for a sell), in the engine's book then.
    pub touch: Option<Price>,
}

/// The engine's state at one timer tick.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    /// Domain time.
    pub at: Nanos,
    /// The global level's signal values.
    pub signals: SignalValues,
    /// Every account's gross notional at mid, USDT.
    pub gross: f64,
}

/// What the walk of a run's journal saw.
#[derive(Debug, Default)]
pub struct Observed {
    /// Level changes, in order.
    pub levels: Vec<LevelSeen>,
    /// Each trigger source's first count.
    pub triggers: Vec<TriggerSeen>,
    /// Every risk decision, with its domain time.
    pub decisions: Vec<(Nanos, JournaledDecision)>,
    /// Every flatten order.
    pub flattens: Vec<FlattenSeen>,
    /// Every timer tick: the signals and the gross notional then.
    pub ticks: Vec<Tick>,
    /// Records walked.
    pub records: u64,
}

impl Observed {
    /// The highest level reached.
    pub fn top_level(&self) -> GlobalRiskLevel {
        self.levels.iter().map(|l| l.to).max().unwrap_or(GlobalRiskLevel::Info)
    }

    /// The largest value of each signal at any tick.
    pub fn peak(&self) -> SignalValues {
        let mut p = SignalValues::default();
        for t in &self.ticks {
            let s = t.signals;
            p.drawdown = p.drawdown.max(s.drawdown);
            p.leverage = p.leverage.max(s.leverage);
            p.variance = p.variance.max(s.variance);
            p.concentration = p.concentration.max(s.concentration);
        }
        p
    }

    /// The last tick before `at` (the state going into it).
    pub fn before(&self, at: Nanos) -> Option<&Tick> {
        self.ticks.iter().take_while(|t| t.at < at).last()
    }

    /// The tick with the largest gross notional at or after `from`.
    pub fn gross_peak(&self, from: Nanos) -> Option<&Tick> {
        self.ticks.iter().filter(|t| t.at >= from).max_by(|a, b| a.gross.total_cmp(&b.gross))
    }

    /// The first count of `source`, if it fired.
    pub fn trigger(&self, source: TriggerSource) -> Option<&TriggerSeen> {
        self.triggers.iter().find(|t| t.source == source)
    }

    /// Decisions of strategies (not the stop's own orders) in `[from, to)`.
    pub fn strategy_decisions(&self, from: Nanos, to: Nanos) -> impl Iterator<Item = &(Nanos, JournaledDecision)> {
        self.decisions
            .iter()
            .filter(move |(at, d)| *at >= from && *at < to && d.strategy != qt_risk::ess::ESS_STRATEGY.0)
    }
}

/// Counts of blocks and scale-downs by reason, e.g. "block 12 (emergency_stop 10, price_band 2),
/// scale-down 3 (max_order_notional 3)".
pub fn tally<'a>(decisions: impl Iterator<Item = &'a (Nanos, JournaledDecision)>) -> (u64, u64, String) {
    let mut block = [0u64; BlockReason::COUNT];
    let mut scale = [0u64; BlockReason::COUNT];
    for (_, d) in decisions {
        let slot = usize::from(d.reason);
        if slot >= BlockReason::COUNT {
            continue;
        }
        match d.decision {
            DecisionRecord::BLOCK => block[slot] += 1,
            DecisionRecord::SCALE_DOWN => scale[slot] += 1,
            _ => {}
        }
    }
    let part = |counts: &[u64; BlockReason::COUNT]| {
        let total: u64 = counts.iter().sum();
        let named: Vec<String> = BlockReason::ALL
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| format!("{} {n}", r.name()))
            .collect();
        (total, if named.is_empty() { total.to_string() } else { format!("{total} ({})", named.join(", ")) })
    };
    let ((b, bt), (s, st)) = (part(&block), part(&scale));
    (b, s, format!("block {bt}, scale-down {st}"))
}

/// The block reason of a journaled decision.
pub fn reason(d: &JournaledDecision) -> Option<BlockReason> {
    BlockReason::ALL.get(usize::from(d.reason)).copied()
}

/// A rate as a plain number (`0.05`).
pub fn rate(r: Rate) -> f64 {
    r.units() as f64 / Rate::ONE.units() as f64
}

/// The volatility signal (per-interval standard deviation of equity returns) of `s`.
pub fn volatility(s: &SignalValues) -> f64 {
    s.variance.to_num::<f64>().max(0.0).sqrt()
}

/// `at` as seconds after `start`, e.g. "+6.352 s".
pub fn since(start: Nanos, at: Nanos) -> String {
    format!("+{:.3} s", at.saturating_sub(start).as_secs_f64())
}

/// A level change in one line: `info → warning at +5.273 s (drawdown 0.0514, …)`.
pub fn level_text(start: Nanos, l: &LevelSeen) -> String {
    format!("{} → {} at {} ({})", l.from.name(), l.to.name(), since(start, l.at), signals_text(&l.signals))
}

/// The signal values in one line.
pub fn signals_text(s: &SignalValues) -> String {
    format!(
        "drawdown {:.4}, leverage {:.2}, volatility {:.4}, concentration {:.3}",
        rate(s.drawdown),
        rate(s.leverage),
        volatility(s),
        rate(s.concentration)
    )
}

/// Walks the journal of `outcome` through an engine built from its plan; see the module docs.
pub fn observe(outcome: &RunOutcome) -> anyhow::Result<Observed> {
    let dir = &outcome.journal.as_ref().context("the run wrote no journal")?.dir;
    let plan = &outcome.plan;
    let mut engine = ReplayEngine::build(plan)?;
    let mut reader = JournalReader::open(dir)?;
    let mut produced = VecDeque::new();
    let mut seen = Observed::default();
    let mut level = GlobalRiskLevel::Info;
    let mut runs = 0u64;
    while let Some(record) = reader.next()? {
        seen.records += 1;
        if record.entry.kind == RecordType::Config {
            engine.begin_run(runs);
            runs += 1;
            continue;
        }
        let Some(entry) = core_record::decode(&record)? else { continue };
        let at = entry.record.domain_ns;
        if !Engine::<RiskGate>::is_replay_input(&entry.record, entry.attachment.as_ref()) {
            let e = engine.engine();
            match entry.record.event {
                JournalEvent::Decision(d) => seen.decisions.push((at, d)),
                JournalEvent::Command(OrderCommand::New { request, .. })
                    if request.strategy == qt_risk::ess::ESS_STRATEGY =>
                {
                    let touch =
                        e.book(request.instrument).and_then(|b| b.best(request.side.opposite())).map(|l| l.price);
                    seen.flattens.push(FlattenSeen { at, request, touch });
                }
                _ => {}
            }
            continue;
        }
        engine.apply(&entry);
        engine.drain(&mut produced);
        produced.clear();
        if !matches!(entry.record.event, JournalEvent::Timer { .. }) {
            continue;
        }
        let e = engine.engine();
        let gate = e.risk();
        let signals = gate.global().signals();
        let now = gate.global().level();
        if now != level {
            seen.levels.push(LevelSeen { at, from: level, to: now, signals });
            level = now;
        }
        let counters = gate.counters();
        for source in TriggerSource::ALL {
            if counters.triggers(source).get() > 0 && seen.trigger(source).is_none() {
                seen.triggers.push(TriggerSeen { source, at, signals });
            }
        }
        seen.ticks.push(Tick { at, signals, gross: gross(e, plan) });
    }
    Ok(seen)
}

/// Every account's gross notional at mid, in USDT.
fn gross(e: &Engine<RiskGate>, plan: &Plan) -> f64 {
    let mut total = 0.0;
    for inst in plan.instruments.iter() {
        let Some(mid) = e.book(inst.id()).and_then(|b| b.mid()) else { continue };
        for a in 0..plan.accounts.len() {
            let qty = e.position(AccountId(a as u16), inst.id()).qty();
            if let Ok(n) = inst.notional(mid, qty, Rounding::Nearest) {
                total += (n.units() as f64 / 1e18).abs();
            }
        }
    }
    total
}

/// `|price − reference| / reference`.
pub fn distance(price: i64, reference: i64) -> f64 {
    if reference == 0 { f64::INFINITY } else { (price as f64 - reference as f64).abs() / reference as f64 }
}

/// The instrument's symbol in `plan`.
pub fn symbol(plan: &Plan, id: InstrumentId) -> String {
    plan.instruments.get(id).map_or_else(|| format!("#{}", id.0), |i| i.symbol().to_string())
}
