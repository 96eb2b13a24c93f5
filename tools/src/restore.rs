//! A live restart that continues (issue #15 item 7): before a live run on a journal that already
//! holds earlier runs trades, it is restored from that journal and its open orders are settled
//! with the venue.
//!
//! 1. [`replay_previous`] — every recorded input of the earlier runs (up to this run's Config
//!    record), in order, through the freshly built engine with its domain clock set to each
//!    record's time ([`qt_core::ReplayableClock`]): positions, average prices, realized PnL and
//!    fees, the risk component (emergency stop, global level, loss windows already spent, order
//!    rate), the strategies' state and the order table come back exactly as the core had them.
//!    No journal link is attached yet (nothing is journaled twice) and no gateway runs: what the
//!    replay pushes into the order rings is drained and discarded. Each Config record is a run
//!    boundary ([`qt_core::Engine::begin_run`]), so order ids follow the runs' id ranges.
//! 2. [`check_risk_state`] — the replayed risk state against the last one journaled; a
//!    difference is logged as an error and the more restrictive stop is kept (a journaled latch
//!    is forced if the replay lost it).
//! 3. [`settle_open_orders`] — each order still open in the restored table is settled with the
//!    venue on this (the main) thread: cancelled if still working, its fills while we were down
//!    booked trade by trade with their real commission, one the venue does not know is rejected.
//!    The reports are applied after the journal is attached, so they are journaled as inputs and
//!    the next restore replays them too.
//!
//! Cold, on the `qt run` main thread before any other thread of the run starts; allocates.

use crate::gateways::{GatewaySetup, SettleOrders, SettlerFn};
use anyhow::Context;
use qt_core::engine::ControlCommand;
use qt_core::journal::{JournalAttachment, JournalEvent};
use qt_core::orders::{LiveOrder, OrderStatus};
use qt_core::position::Position;
use qt_core::queue::Consumer;
use qt_core::risk_api::RiskState;
use qt_core::{
    AccountId, ClientOrderId, Engine, ExecutionReport, InstrumentId, InstrumentRegistry, Liquidity, OrderCommand,
    PreTradeCheck, Qty, RejectReason, ReplayableClock, ReportKind,
};
use qt_gateway::binance::settle::{SettledOrder, unreported};
use qt_recorder::JournalReader;
use qt_recorder::payload::{core_record, text};
use qt_risk::RiskGate;
use qt_risk::ess::TriggerSource;
use std::path::Path;

/// What a restore found and did, for the summary and the journal's Reconciliation record.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Earlier runs in the journal (Config records before this run's).
    pub runs: u64,
    /// Records read.
    pub records: u64,
    /// Inputs replayed.
    pub inputs: u64,
    /// Records that could not be decoded (skipped, logged).
    pub undecodable: u64,
    /// The previous run's configuration text differs from this run's (its hash): the replay
    /// ran this run's strategies and limits over the old inputs, so state may differ.
    pub config_changed: bool,
    /// Positions after the replay (and before settling orders).
    pub positions: Vec<(AccountId, InstrumentId, Position)>,
    /// The replayed emergency stop / global level.
    pub replayed_risk: RiskState,
    /// The last emergency stop / global level the journal recorded.
    pub journaled_risk: Option<RiskState>,
    /// The journaled stop was more restrictive than the replayed one and was forced.
    pub forced_latch: bool,
    /// Each account's loss windows as restored: one line each.
    pub loss_windows: Vec<String>,
    /// The first order id of this run.
    pub next_order_id: u64,
    /// Orders open in the restored table.
    pub open: u64,
    /// One line per order that was open, saying what became of it.
    pub orders: Vec<String>,
    /// Orders open at the venue that this restart cancelled.
    pub cancelled: u64,
    /// Orders left open here and at the venue (a refused cancel): not adopted, check the venue.
    pub left_open: u64,
    /// Orders of this journal working at the venue that the restored table does not hold (sent
    /// by a run whose last records died with it): cancelled there.
    pub orphans: u64,
    /// Differences between our state and the venue's: fills or closes we had not seen, orders
    /// the venue does not know, settlements that failed.
    pub differences: u64,
}

impl RestoreReport {
    /// The report as text (the Reconciliation record, and the summary's `restore` lines).
    pub fn lines(&self) -> Vec<String> {
        let state = |s: &RiskState| {
            let ess = match s.ess {
                RiskState::ARMED => "armed",
                RiskState::TRIGGERED => "triggered",
                _ => "latched",
            };
            format!("ess {ess} level {}", s.level)
        };
        let mut out = vec![format!(
            "restored {} earlier run(s): {} records, {} inputs replayed{}; {}{}; next order id {}",
            self.runs,
            self.records,
            self.inputs,
            if self.undecodable > 0 { format!(", {} undecodable skipped", self.undecodable) } else { String::new() },
            state(&self.replayed_risk),
            if self.forced_latch { " (FORCED: the journal recorded a stop the replay did not reach)" } else { "" },
            self.next_order_id
        )];
        let text = |n: qt_core::Notional| n.to_text(qt_core::DecimalStyle::Trimmed).to_string();
        for (account, instrument, p) in &self.positions {
            // Quote cash moved by the position (spot): sells − buys − fees.
            let cash = p.realized().checked_sub(p.entry_notional()).and_then(|c| c.checked_sub(p.fees()));
            out.push(format!(
                "restored position account {} instrument {}: qty {} units, entry {}, realized {}, fees {}, cash {}, fills {}",
                account.0,
                instrument.0,
                p.qty().units(),
                text(p.entry_notional()),
                text(p.realized()),
                text(p.fees()),
                cash.map_or_else(|e| e.to_string(), text),
                p.fills()
            ));
        }
        out.extend(self.loss_windows.iter().cloned());
        if self.config_changed {
            out.push(
                "CONFIGURATION CHANGED since the previous run: the earlier runs were replayed with this \
                 configuration; check the restored state"
                    .into(),
            );
        }
        out.push(format!(
            "reconcile orders: {} open, {} cancelled, 0 adopted, {} left open, {} unknown here cancelled, {} differences",
            self.open,
            self.cancelled,
            self.left_open,
            self.orphans,
            self.differences
        ));
        out.extend(self.orders.iter().cloned());
        out
    }
}

/// Replays the inputs of every record before sequence `before` of the journal in `dir` through
/// `engine`, its clock set by `clock`; drains `order_rings` after each input. `config_hash` is
/// this run's configuration's SHA-256, compared with the previous run's. Returns the report
/// (positions and risk state filled in; order settling is [`settle_open_orders`]).
pub fn replay_previous<R: PreTradeCheck>(
    dir: &Path,
    before: u64,
    config_hash: [u8; 32],
    engine: &mut Engine<R>,
    clock: &ReplayableClock,
    order_rings: &mut [&mut Consumer<OrderCommand>],
) -> anyhow::Result<RestoreReport> {
    let mut reader = JournalReader::open(dir).with_context(|| format!("restore: reading {}", dir.display()))?;
    let mut report = RestoreReport::default();
    let mut last_hash = None;
    while let Some(record) = reader.next().with_context(|| format!("restore: reading {}", dir.display()))? {
        if record.sequence >= before {
            break;
        }
        report.records += 1;
        if record.entry.kind == qt_recorder::RecordType::Config {
            engine.begin_run(report.runs);
            report.runs += 1;
            let e = &record.entry;
            last_hash = text::decode(e.kind, e.payload, e.payload_version).ok().map(|t| t.hash);
            continue;
        }
        let entry = match core_record::decode(&record) {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(e) => {
                if report.undecodable == 0 {
                    log::error!("restore: record {} cannot be decoded ({e}); skipped", record.sequence);
                }
                report.undecodable += 1;
                continue;
            }
        };
        if let JournalEvent::RiskState(s) = entry.record.event {
            report.journaled_risk = Some(s);
        }
        // A recorded shutdown ended that run; it must not end this one.
        if matches!(entry.attachment, Some(JournalAttachment::Control(ControlCommand::Shutdown))) {
            continue;
        }
        if engine.replay_input(clock.replay(), &entry.record, entry.attachment.as_ref()) {
            report.inputs += 1;
            for ring in order_rings.iter_mut() {
                while ring.pop().is_ok() {}
            }
        }
    }
    report.config_changed = last_hash.is_some_and(|h| h != config_hash);
    report.replayed_risk = engine.risk().state();
    report.positions = engine.positions();
    Ok(report)
}

/// Compares the replayed risk state with the last journaled one: a difference is an error in
/// the log, and a stop the journal recorded (triggered or latched) that the replay did not
/// reach is forced latched — the more restrictive wins; only `qt ess reset` clears it.
pub fn check_risk_state(engine: &mut Engine<RiskGate>, report: &mut RestoreReport) {
    report.loss_windows = loss_windows(engine.risk());
    let Some(journaled) = report.journaled_risk else { return };
    let replayed = engine.risk().state();
    if journaled == replayed {
        return;
    }
    log::error!(
        "restore: the replayed risk state (ess {} level {}) differs from the last one journaled (ess {} level {})",
        replayed.ess,
        replayed.level,
        journaled.ess,
        journaled.level
    );
    if journaled.ess != RiskState::ARMED && replayed.ess == RiskState::ARMED {
        let source = TriggerSource::ALL
            .iter()
            .copied()
            .find(|s| *s as u8 == journaled.ess_source)
            .unwrap_or(TriggerSource::Manual);
        let ess = engine.risk_mut().ess_mut();
        ess.trigger(source, journaled.ess_since);
        ess.latch();
        report.forced_latch = true;
        report.replayed_risk = engine.risk().state();
        log::error!("restore: the emergency stop is forced LATCHED ({}) as journaled", source.name());
    }
}

/// Each account's loss windows (reference equity and floor of the day and the week, and
/// whether a limit is breached), one line each.
fn loss_windows(gate: &RiskGate) -> Vec<String> {
    let text = |n: qt_core::Notional| n.to_text(qt_core::DecimalStyle::Trimmed).to_string();
    gate.accounts()
        .iter()
        .map(|a| match a.loss_windows() {
            Some(w) => format!(
                "restored loss windows account {}: day reference {} floor {}, week reference {} floor {}, {:?}",
                a.spec().name,
                text(w.daily_reference()),
                text(w.daily_floor()),
                text(w.weekly_reference()),
                text(w.weekly_floor()),
                w.status()
            ),
            None => format!("restored loss windows account {}: not opened yet", a.spec().name),
        })
        .collect()
}

/// Settles every order `open` in the restored engine ([`Engine::open_orders`]) with its venue
/// (`queries`: each live venue's settler and gateway set-up; `run_id`: the journal's
/// client-order-id run id). Returns the reports to apply once the journal is attached
/// ([`Engine::apply_restored_report`]).
///
/// An order still working at the venue is cancelled, not adopted: the restarted strategies
/// decide afresh from the restored position, and the gateway then never meets an order it did
/// not send (its fills would otherwise need the old order registered in its order map).
pub fn settle_open_orders(
    open: &[LiveOrder],
    instruments: &InstrumentRegistry,
    queries: &[(SettlerFn, GatewaySetup)],
    run_id: u32,
    report: &mut RestoreReport,
) -> Vec<ExecutionReport> {
    let mut reports = Vec::new();
    let mut settlers: Vec<Option<Box<dyn SettleOrders>>> = queries.iter().map(|_| None).collect();
    report.open = open.len() as u64;
    for &order in open {
        let r = &order.request;
        let client_id = ClientOrderId::new(run_id, order.id);
        let venue = queries.iter().position(|(_, q)| {
            q.instruments.iter().any(|i| i.id() == r.instrument) && q.accounts.iter().any(|(a, _, _)| *a == r.account)
        });
        let (Some(v), Some(inst)) = (venue, instruments.get(r.instrument)) else {
            report.differences += 1;
            report.left_open += 1;
            report.orders.push(format!("order {} ({client_id}): no live venue trades it here; left as is", order.id.0));
            continue;
        };
        let settler = match &mut settlers[v] {
            Some(s) => s,
            slot => match (queries[v].0)(&queries[v].1) {
                Ok(s) => slot.insert(s),
                Err(e) => {
                    report.differences += 1;
                    report.left_open += 1;
                    report.orders.push(format!("order {} ({client_id}): cannot settle: {e}", order.id.0));
                    continue;
                }
            },
        };
        let venue_id = queries[v].1.venue;
        match settler.settle(r.account, inst, client_id.as_str()) {
            Ok(None) => {
                report.differences += 1;
                report.orders.push(format!("order {} ({client_id}): unknown to the venue; rejected here", order.id.0));
                let kind = ReportKind::Rejected(RejectReason::Other);
                reports.push(ExecutionReport::status(order.id, r, venue_id, kind, qt_core::Nanos(0)));
            }
            Ok(Some(s)) => {
                let line = settle_reports(&order, &s, venue_id, &mut reports, report);
                report.orders.push(format!("order {} ({client_id}): {line}", order.id.0));
            }
            Err(e) => {
                report.differences += 1;
                report.left_open += 1;
                report.orders.push(format!("order {} ({client_id}): query failed: {e}; left open here", order.id.0));
            }
        }
    }
    sweep_orphans(open, queries, &mut settlers, run_id, report);
    reports
}

/// Cancels the orders of this journal (`run_id`) working at any venue that `open` does not
/// hold: sent by a run whose last journal records died with it (still in the journal ring at
/// a SIGKILL). Their fills cannot be booked here (no order to book them to): a difference.
fn sweep_orphans(
    open: &[LiveOrder],
    queries: &[(SettlerFn, GatewaySetup)],
    settlers: &mut [Option<Box<dyn SettleOrders>>],
    run_id: u32,
    report: &mut RestoreReport,
) {
    for (v, (new_settler, q)) in queries.iter().enumerate() {
        let settler = match &mut settlers[v] {
            Some(s) => s,
            slot => match new_settler(q) {
                Ok(s) => slot.insert(s),
                Err(e) => {
                    report.orders.push(format!("{}: cannot look for unknown orders: {e}", q.rest_url));
                    continue;
                }
            },
        };
        for (account, _, _) in &q.accounts {
            for inst in &q.instruments {
                let ids = match settler.open_client_ids(*account, inst) {
                    Ok(ids) => ids,
                    Err(e) => {
                        report.orders.push(format!("{}: open orders unknown: {e}", inst.symbol()));
                        continue;
                    }
                };
                for id in ids {
                    let ours = ClientOrderId::parse(&id).filter(|(run, _)| *run == run_id);
                    let Some((_, order_id)) = ours else { continue };
                    if open.iter().any(|o| o.id == order_id) {
                        continue;
                    }
                    report.orphans += 1;
                    report.differences += 1;
                    let what = match settler.settle(*account, inst, &id) {
                        Ok(Some(s)) if s.canceled_here => format!(
                            "cancelled at the venue; {} units it filled are not booked here",
                            s.executed.units()
                        ),
                        Ok(_) => "closed at the venue meanwhile".to_string(),
                        Err(e) => format!("cancel failed: {e}; check the venue"),
                    };
                    report
                        .orders
                        .push(format!("order {} ({id}): working at the venue, not in the journal: {what}", order_id.0));
                }
            }
        }
    }
}

/// The reports that bring `order` to the venue's state `s`; a line saying what happened.
fn settle_reports(
    order: &LiveOrder,
    s: &SettledOrder,
    venue: qt_core::VenueId,
    out: &mut Vec<ExecutionReport>,
    report: &mut RestoreReport,
) -> String {
    let r = &order.request;
    let base = |kind| {
        let mut e = ExecutionReport::status(order.id, r, venue, kind, s.update_ns);
        e.venue_order_id = s.venue_order_id;
        e
    };
    if order.status == OrderStatus::PendingNew {
        let mut accepted = base(ReportKind::Accepted);
        accepted.leaves_qty = r.qty.checked_sub(order.cum_qty).unwrap_or(Qty::ZERO);
        accepted.cum_qty = order.cum_qty;
        out.push(accepted);
    }
    let mut cum = order.cum_qty;
    // One difference per order, however many ways it differs.
    let mut differs = false;
    let mut notes = Vec::new();
    let missing = s.executed.checked_sub(order.cum_qty).unwrap_or(Qty::ZERO);
    if missing.is_positive() {
        differs = true;
        let fills: Vec<(qt_core::Price, Qty, qt_core::Notional, Liquidity, qt_core::Nanos)> =
            match s.trades.as_ref().map_err(String::clone).and_then(|t| unreported(t, order.cum_qty)) {
                Ok(trades) => trades
                    .iter()
                    .map(|t| (t.price, t.qty, t.fee, if t.maker { Liquidity::Maker } else { Liquidity::Taker }, t.ts))
                    .collect(),
                Err(why) => {
                    notes.push(format!("fee unknown ({why})"));
                    vec![(r.price, missing, qt_core::Notional::ZERO, Liquidity::Taker, s.update_ns)]
                }
            };
        for (price, qty, fee, liquidity, ts) in fills {
            cum = cum.checked_add(qty).unwrap_or(cum);
            let mut fill = base(ReportKind::Fill);
            fill.last_price = price;
            fill.last_qty = qty;
            fill.cum_qty = cum;
            fill.leaves_qty = r.qty.checked_sub(cum).unwrap_or(Qty::ZERO);
            fill.fee = fee;
            fill.liquidity = liquidity;
            fill.exchange_ns = ts;
            out.push(fill);
        }
        notes.push(format!("{} units filled while down", missing.units()));
    }
    let leaves = r.qty.checked_sub(cum).unwrap_or(Qty::ZERO);
    if s.is_closed() {
        if leaves.is_positive() {
            let kind =
                if s.status == "REJECTED" { ReportKind::Rejected(RejectReason::Other) } else { ReportKind::Canceled };
            let mut end = base(kind);
            end.cum_qty = cum;
            out.push(end);
        }
        if s.canceled_here {
            report.cancelled += 1;
            notes.insert(0, "open at the venue: cancelled".into());
        } else {
            differs = true;
            notes.insert(0, format!("{} at the venue while we were down", s.status));
        }
    } else {
        report.left_open += 1;
        differs = true;
        notes.insert(0, format!("still {} at the venue, the cancel did not take: check the venue", s.status));
    }
    if differs {
        report.differences += 1;
    }
    notes.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{EngineConfig, Nanos, SimClock};

    fn engine() -> Engine<RiskGate> {
        let clock = std::sync::Arc::new(SimClock::new(Nanos(1)));
        Engine::new(EngineConfig::default(), InstrumentRegistry::new(), qt_risk::gate::sim_alpha_gate(), clock)
    }

    #[test]
    fn a_journaled_stop_the_replay_did_not_reach_is_forced_latched() {
        let mut e = engine();
        let latched = RiskState {
            ess: RiskState::LATCHED,
            ess_source: TriggerSource::Manual as u8,
            level: 0,
            ess_since: Nanos(5),
        };
        let mut report = RestoreReport { journaled_risk: Some(latched), ..RestoreReport::default() };
        check_risk_state(&mut e, &mut report);
        assert!(report.forced_latch);
        assert_eq!(e.risk().state(), latched, "latched with the journaled source and time");
        assert!(report.lines()[0].contains("FORCED"), "{:?}", report.lines());

        // Agreeing states, or a journal that never recorded one: nothing is forced.
        let mut e = engine();
        let armed = e.risk().state();
        for journaled in [Some(armed), None] {
            let mut report = RestoreReport { journaled_risk: journaled, ..RestoreReport::default() };
            check_risk_state(&mut e, &mut report);
            assert!(!report.forced_latch);
            assert_eq!(e.risk().state(), armed);
        }
    }
}
