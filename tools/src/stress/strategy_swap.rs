//! The `strategy_swap` stress scenario: a strategy's parameters and version replaced mid-trade.
//!
//! Injects: one account running a resting imbalance strategy (testdata/stress/swap.toml: a GTC
//! order at its side of the touch, one at a time, cancelled after 1 s) on the in-process
//! simulated venue; halfway through, a [`ControlCommand::StrategySwap`] to version 2 with new
//! parameters (twice the size, a higher threshold, a longer rest), scheduled at that simulated
//! time ([`qt_core::Engine::schedule_control`]: carried out before the first market record at
//! that time, so lockstep keeps the run deterministic under the seed). The swap's policy is the
//! configuration under test's `[engine] swap_policy`.
//!
//! Checks, from the run's journal ([`super::swap_trail`]), the engine's report and the venue's
//! ledger: the swap happened mid-trade (a position held and an order working) and was accepted;
//! the account's position is the same just before and after it and the venue's ledger agrees at
//! the end; every order working at the swap ended in a terminal report the new version received
//! (reports are routed by strategy id, which the swap keeps) or was cancelled by the policy;
//! never more of the strategy's orders working at once than its limit
//! ([`ImbalanceTaker::MAX_WORKING`]) — no double order; and no order open at the end that the
//! engine does not track.
//!
//! No risk-gate setting can break a swap's hand-over, so the failing variant is the swap policy:
//! testdata/stress/broken-swap.toml (examples/sim.toml with `swap_policy = "drop"`, the new
//! version forgetting the working orders) makes it FAIL naming the double-order check (and the
//! orphan check when the forgotten order is never closed).

use super::swap_trail::SwapTrail;
use super::{StressCtx, Verdict, sim_seconds};
use anyhow::Context;
use qt_core::engine::ControlCommand;
use qt_core::strategy::imbalance::ImbalanceTaker;
use qt_core::strategy::swap::{I32F32, ParamPatch, StrategySwap};
use qt_core::{Nanos, StrategyId};

/// Its name.
pub const NAME: &str = "strategy_swap";

/// What it injects and expects.
pub const ABOUT: &str = "a resting strategy swapped to new parameters mid-trade (position held, order working) \
                         → position kept, working orders handed over or cancelled, no double or orphaned order";

const CONFIG: &str = include_str!("../../../testdata/stress/swap.toml");

/// The strategy swapped (the only one of the scenario's run).
const STRATEGY: StrategyId = StrategyId(0);

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let mut plan = ctx.plan(CONFIG, "testdata/stress/swap.toml")?;
    plan.sim.seed = ctx.seed;
    plan.sim.duration = Nanos::from_duration(sim_seconds(ctx, 20, 6));
    let swap_at = plan.sim.start.saturating_add(Nanos(plan.sim.duration.0 / 2));
    let policy = plan.swap_policy;
    let s = plan.strategies.first().context("the scenario's configuration has no strategy")?;
    let (account, instrument_id) = (s.account, s.instrument);
    let instrument = plan.instruments.get(instrument_id).context("the strategy's instrument")?.clone();
    let qty = |text: &str| instrument.parse_qty(text).map_err(|e| anyhow::anyhow!("{text}: {e}"));
    let params = ParamPatch {
        qty: Some(qty("0.0200")?),
        threshold: Some(I32F32::from_num(0.3)),
        rest_for: Some(Nanos::from_duration(std::time::Duration::from_millis(1500))),
        ..ParamPatch::default()
    };
    let swap = StrategySwap { strategy: STRATEGY, version: 2, policy, params };
    plan.scheduled_controls.push((swap_at, ControlCommand::StrategySwap { id: 0, swap }));

    let outcome = crate::run::run(plan, None)?;
    let journal = outcome.journal.as_ref().context("the scenario's run wrote no journal")?;
    let trail = SwapTrail::read(&journal.dir, STRATEGY, account, instrument_id)?;
    let event = outcome.engine.swaps.iter().find(|e| e.strategy == STRATEGY).copied();
    let lots = |units: i64| instrument.qty_text(qt_core::Qty::from_units(units)).to_string();

    let mut v = Verdict::default();
    v.fact("swap policy", policy.name());
    v.fact("swap at", format!("{} ms into the run", (swap_at.0 - outcome.plan.sim.start.0) / 1_000_000));
    v.fact("orders sent before / after the swap", format!("{} / {}", trail.sent.0, trail.sent.1));
    v.fact("fills", outcome.engine.fills);

    // 1. The swap happened, accepted, while the strategy held a position and had an order working.
    let accepted = trail.answer.is_some_and(|a| a.ok) && event.is_some_and(|e| e.versions == (1, 2));
    let mid_trade = !trail.working_at_swap.is_empty() && trail.position_at_swap != 0;
    v.check(
        "swap carried out mid-trade",
        trail.swap_at.is_some() && accepted && mid_trade,
        format!(
            "{}; {} order(s) working and a position of {} at the swap",
            match (trail.swap_at, trail.answer) {
                (None, _) => "no swap in the journal".to_string(),
                (Some(_), Some(a)) =>
                    format!("engine answered {} {:?}", if a.ok { "ok" } else { "refused" }, a.text.as_str()),
                (Some(_), None) => "no answer journaled".to_string(),
            },
            trail.working_at_swap.len(),
            lots(trail.position_at_swap)
        ),
    );

    // 2. The position stays with the account; the venue's ledger agrees at the end.
    let (before, after) = event.map_or((None, None), |e| (Some(e.position.0.units()), Some(e.position.1.units())));
    let kept = before == Some(trail.position_at_swap) && after == before;
    let differences = outcome.reconciliation.as_ref().map_or(usize::MAX, |r| r.differences.len());
    v.check(
        "position kept by the account",
        kept && differences == 0,
        format!(
            "journal's fills {} at the swap; engine {} before, {} after; venue ledger differences at the end: {}",
            lots(trail.position_at_swap),
            before.map_or("-".into(), lots),
            after.map_or("-".into(), lots),
            if differences == usize::MAX { "not compared".to_string() } else { differences.to_string() }
        ),
    );

    // 3. No orphan: each order working at the swap ended in a report the new version received.
    let cancelled = trail.closed_after_swap.iter().filter(|(_, k)| *k == qt_core::ReportKind::Canceled).count();
    let unclosed: Vec<u64> = trail
        .working_at_swap
        .iter()
        .filter(|id| !trail.closed_after_swap.iter().any(|(c, _)| c == *id))
        .map(|id| id.0)
        .collect();
    v.check(
        "no orphaned order",
        unclosed.is_empty() && !trail.working_at_swap.is_empty(),
        format!(
            "{} of {} order(s) working at the swap ended in a report to the new version ({cancelled} cancelled, {} \
             filled){}",
            trail.closed_after_swap.len(),
            trail.working_at_swap.len(),
            trail.closed_after_swap.len() - cancelled,
            if unclosed.is_empty() { String::new() } else { format!("; never closed: order(s) {unclosed:?}") }
        ),
    );

    // 4. No double order: never more working at once than the strategy's limit.
    let limit = ImbalanceTaker::MAX_WORKING as usize;
    let (most_before, most_after) = trail.max_working;
    v.check(
        "no double order",
        most_before <= limit && most_after <= limit && trail.sent.1 > 0,
        format!(
            "at most {most_before} working at once before the swap, {most_after} after (limit {limit}); the new \
             version sent {}",
            trail.sent.1
        ),
    );

    // 5. Nothing open at the end that the engine does not track.
    let engine_open = outcome.engine.open_orders;
    v.check(
        "every open order tracked by the engine",
        engine_open == trail.open_at_end.len(),
        format!(
            "{} order(s) open per the venue's reports at the end, {engine_open} in the engine's order table",
            trail.open_at_end.len()
        ),
    );
    Ok(v)
}
