//! The `correlation_shock` stress scenario: every instrument (three, each in its own
//! correlation bucket) jumps 12 % within 0.3 s, together, while the account is long all three.
//!
//! Its run is flash_crash's (testdata/stress/flash_crash.toml: one account of 10 000 USDT long
//! ~2.6× its equity across BTC, ETH and SOL), with the three instruments in three buckets: the
//! book looks diversified, so concentration stays low, and what the correlated move does to it
//! is a one-interval equity return of ~30 % — the volatility signal (EWMA of per-interval equity
//! returns). The move is up, so no drawdown can raise the level instead. Checks, against the
//! configuration under test's `[global_risk]` thresholds:
//! - volatility or concentration raises the global level: a level rise at a tick where that
//!   signal was at or above the new level's threshold (named in the detail with its value);
//!   thresholds out of reach fail this check;
//! - exposure is cut: the gross notional at the end is below half its peak since the move — the
//!   engine's way is the CRITICAL level's emergency stop (cancel all, flatten every position)
//!   and its blocks (`global_risk_critical`, then `emergency_stop`); the detail counts them.

use super::sim_run::{self, LevelSeen, since, volatility};
use super::{StressCtx, Verdict, sim_seconds};
use crate::config::Plan;
use qt_core::{Nanos, Rate};
use qt_risk::global_level::{GlobalRiskLevel, Thresholds};
use qt_venue_sim::exchange::shock::Shock;

/// Its name.
pub const NAME: &str = "correlation_shock";

/// What it injects and expects.
pub const ABOUT: &str = "three instruments in three buckets jump 12 % together in 0.3 s, account long: volatility or \
                         concentration raises the global level, exposure is cut";

/// How far and how fast everything moves.
const MOVE: f64 = 0.12;
const RAMP: Nanos = Nanos(300 * Nanos::MILLI.0);

/// The threshold of `level` in `t`.
fn threshold(t: &Thresholds, level: GlobalRiskLevel) -> Rate {
    if level == GlobalRiskLevel::Critical { t.critical } else { t.warning }
}

/// The correlation signal (volatility or concentration) that put a rise at its level, if any.
fn correlation_signal(plan: &Plan, l: &LevelSeen) -> Option<String> {
    if l.to <= l.from {
        return None;
    }
    let g = &plan.global_risk;
    let vol = threshold(&g.volatility, l.to);
    let conc = threshold(&g.concentration, l.to);
    if volatility(&l.signals) >= sim_run::rate(vol) {
        Some(format!("volatility {:.4} ≥ {} {:.4}", volatility(&l.signals), l.to.name(), sim_run::rate(vol)))
    } else if l.signals.concentration >= conc {
        Some(format!(
            "concentration {:.3} ≥ {} {:.3}",
            sim_run::rate(l.signals.concentration),
            l.to.name(),
            sim_run::rate(conc)
        ))
    } else {
        None
    }
}

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let mut plan = ctx.plan(super::flash_crash::CONFIG, "testdata/stress/flash_crash.toml")?;
    // Inside a one-second return interval: the returns are sampled a second apart from the start.
    let at = Nanos(sim_seconds(ctx, 10, 5).as_nanos() as i64 + 300 * Nanos::MILLI.0);
    let after = Nanos(sim_seconds(ctx, 6, 3).as_nanos() as i64);
    plan.sim.seed = ctx.seed;
    plan.sim.duration = at.saturating_add(after);
    plan.sim.shocks = vec![
        super::flash_crash::lean(plan.sim.duration),
        Shock { at, ramp: RAMP, fair_move: MOVE, ..Shock::default() },
    ];
    // Each instrument in its own bucket: a diversified-looking book.
    plan.global_risk.buckets = (0..plan.instruments.len()).map(|i| i as u8).collect();
    let start = plan.sim.start;
    let shock_at = start.saturating_add(at);
    let (outcome, seen, mut v) = sim_run::run_observed(plan, shock_at)?;
    let plan = &outcome.plan;

    let buckets: Vec<String> = plan
        .instruments
        .iter()
        .map(|i| format!("{} {}", i.symbol(), plan.global_risk.buckets.get(i.id().index()).copied().unwrap_or(0)))
        .collect();
    v.fact("buckets", buckets.join(", "));

    // Volatility or concentration raises the level.
    let raised: Vec<String> = seen
        .levels
        .iter()
        .filter_map(|l| {
            correlation_signal(plan, l)
                .map(|why| format!("{} → {} at {} by {why}", l.from.name(), l.to.name(), since(start, l.at)))
        })
        .collect();
    let others: Vec<String> = seen
        .levels
        .iter()
        .filter(|l| correlation_signal(plan, l).is_none())
        .map(|l| sim_run::level_text(start, l))
        .collect();
    let g = &plan.global_risk;
    let peak = seen.peak();
    v.check(
        "volatility or concentration raises the global level",
        !raised.is_empty(),
        if raised.is_empty() {
            format!(
                "the level was not raised by either: volatility peaked at {:.4} (warning {:.4}, critical {:.4}), concentration at {:.3} (warning {:.3}, critical {:.3}); highest level {}{}",
                volatility(&peak),
                sim_run::rate(g.volatility.warning),
                sim_run::rate(g.volatility.critical),
                sim_run::rate(peak.concentration),
                sim_run::rate(g.concentration.warning),
                sim_run::rate(g.concentration.critical),
                seen.top_level().name(),
                if others.is_empty() { String::new() } else { format!("; other changes: {}", others.join("; ")) }
            )
        } else {
            format!(
                "{}{}",
                raised.join("; "),
                if others.is_empty() { String::new() } else { format!("; other changes: {}", others.join("; ")) }
            )
        },
    );

    // Exposure is cut.
    let end = seen.ticks.last().map_or(0.0, |t| t.gross);
    let (peak_at, peak_gross) = seen.gross_peak(shock_at).map_or((shock_at, 0.0), |t| (t.at, t.gross));
    let (blocks, scales, tally) = sim_run::tally(seen.strategy_decisions(shock_at, Nanos(i64::MAX)));
    let flattens = seen.flattens.iter().filter(|f| f.at >= shock_at).count();
    v.check(
        "exposure is cut",
        peak_gross > 0.0 && end < peak_gross / 2.0,
        format!(
            "gross {peak_gross:.0} USDT at its peak ({}) → {end:.0} at the end; {flattens} flatten order(s) from the emergency stop ({}), strategy orders after the move: {tally}",
            since(start, peak_at),
            outcome.risk.ess_state
        ),
    );
    v.fact("blocks / scale-downs after the move", format!("{blocks} / {scales}"));
    v.fact("triggers", outcome.risk.triggers.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(", "));
    sim_run::end_facts(&mut v, &outcome);
    Ok(v)
}
