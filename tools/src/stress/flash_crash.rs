//! The `flash_crash` stress scenario: with the account long in three instruments, every fair
//! value falls 10 % in one second and the book thins out (spread ×10, sizes ÷20, half the
//! replenishment, stale bids pulled) for three seconds.
//!
//! Its run (testdata/stress/flash_crash.toml) is one account of 11 000 USDT whose imbalance
//! takers build long positions on a book that leans to the bid all along (bid sizes ×3, asks
//! ×0.5: they buy, and do not sell into the crash); the position cap of the configuration under test (10 000 USDT per instrument in the
//! default) makes gross ~30 000, so the crash costs ~27 % of equity unless something stops it.
//! Checks, each against the configuration under test:
//! - the global level escalates: level changes recorded, WARNING or CRITICAL reached;
//! - the gate blocks or scales down strategy orders during the crash (counts by reason);
//! - the drawdown trigger fires the emergency stop, at a tick where the drawdown had reached
//!   `max_drawdown` (a limit the crash never reaches, e.g. 0.99, fails this check);
//! - every flatten order the stop sent is priced within `flatten_slippage` of the touch in the
//!   engine's book at that moment.

use super::sim_run::{self, since};
use super::{StressCtx, Verdict, sim_seconds};
use qt_core::{Nanos, Rate, Side};
use qt_risk::ess::TriggerSource;
use qt_risk::global_level::GlobalRiskLevel;
use qt_venue_sim::exchange::shock::Shock;

/// Its name.
pub const NAME: &str = "flash_crash";

/// What it injects and expects.
pub const ABOUT: &str = "every instrument -10 % in 1 s, book thinned, account long: global level escalates, gate \
                         blocks, drawdown trigger fires the stop, flatten orders within the slippage cap";

/// The run: one account long in three instruments (correlation_shock runs it too).
pub const CONFIG: &str = include_str!("../../../testdata/stress/flash_crash.toml");

/// How long the crash's thin book lasts.
const HOLD: Nanos = Nanos(3 * Nanos::SECOND.0);

/// A book leaning to the bid until `end` (bid sizes ×10): the run's imbalance takers (top of
/// book) buy up to their caps and keep what they hold.
pub fn lean(end: Nanos) -> Shock {
    Shock { hold: end, bid_size: 10.0, ..Shock::default() }
}

/// The scenario's shocks: the bid-heavy book all along (the takers buy, and do not sell into the
/// crash), and the crash at `crash_at`.
pub fn shocks(crash_at: Nanos, end: Nanos) -> Vec<Shock> {
    vec![
        lean(end),
        Shock {
            at: crash_at,
            ramp: Nanos::SECOND,
            fair_move: -0.10,
            hold: HOLD,
            spread: 10.0,
            // Both sides ÷20 of what they were (the bids had leaned ×10).
            bid_size: 0.005,
            ask_size: 0.05,
            replenish: 0.5,
            ..Shock::default()
        },
    ]
}

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let mut plan = ctx.plan(CONFIG, "testdata/stress/flash_crash.toml")?;
    let opening = Nanos(sim_seconds(ctx, 10, 5).as_nanos() as i64);
    let after = Nanos(sim_seconds(ctx, 8, 4).as_nanos() as i64);
    plan.sim.seed = ctx.seed;
    plan.sim.duration = opening.saturating_add(after);
    plan.sim.shocks = shocks(opening, plan.sim.duration);
    let start = plan.sim.start;
    let crash_at = start.saturating_add(opening);
    let (outcome, seen, mut v) = sim_run::run_observed(plan, crash_at)?;
    let plan = &outcome.plan;

    // The global level escalates.
    let top = seen.top_level();
    let changes: Vec<String> = seen.levels.iter().map(|l| sim_run::level_text(start, l)).collect();
    v.check(
        "global risk level escalates",
        top >= GlobalRiskLevel::Warning,
        format!(
            "{} level change(s), highest {}{}",
            seen.levels.len(),
            top.name(),
            if changes.is_empty() { String::new() } else { format!(": {}", changes.join("; ")) }
        ),
    );

    // The gate blocks or scales down during the crash.
    let crash_end = crash_at.saturating_add(HOLD);
    let (blocks, scales, text) = sim_run::tally(seen.strategy_decisions(crash_at, crash_end));
    let during = seen.strategy_decisions(crash_at, crash_end).count();
    v.check(
        "risk gate blocks or scales down during the crash",
        blocks + scales > 0,
        format!("{during} strategy order(s) decided in the crash's {} s: {text}", HOLD.as_secs_f64()),
    );

    // The drawdown trigger fires the stop once the drawdown reaches max_drawdown.
    let limit = plan.risk.max_drawdown;
    let peak = seen.peak().drawdown;
    let first = outcome.risk.triggers.iter().find(|(_, n)| *n > 0).map_or("none", |(s, _)| s);
    let drawdown_check = match seen.trigger(TriggerSource::DrawdownBreach) {
        Some(t) => (
            t.signals.drawdown >= limit,
            format!(
                "fired at {} with drawdown {:.4} (max_drawdown {:.4}); the crash's peak drawdown {:.4}; first trigger {first}",
                since(start, t.at),
                sim_run::rate(t.signals.drawdown),
                sim_run::rate(limit),
                sim_run::rate(peak)
            ),
        ),
        None => (
            false,
            format!(
                "did not fire: the crash's drawdown peaked at {:.4} against max_drawdown {:.4} (stop {}, first trigger {first})",
                sim_run::rate(peak),
                sim_run::rate(limit),
                outcome.risk.ess_state
            ),
        ),
    };
    v.check("drawdown trigger fires the emergency stop", drawdown_check.0, drawdown_check.1);

    // Flatten orders within the slippage cap of the touch.
    let slippage = plan.risk.flatten_slippage;
    let mut worst = 0.0f64;
    let mut outside = Vec::new();
    for f in &seen.flattens {
        let Some(touch) = f.touch else {
            outside.push(format!(
                "{} at {}: no touch",
                sim_run::symbol(plan, f.request.instrument),
                since(start, f.at)
            ));
            continue;
        };
        let (price, touch_u) = (i128::from(f.request.price.units()), i128::from(touch.units()));
        let through = match f.request.side {
            Side::Sell => touch_u - price,
            Side::Buy => price - touch_u,
        };
        worst = worst.max(sim_run::distance(f.request.price.units(), touch.units()));
        if through.abs() * i128::from(Rate::ONE.units()) > i128::from(slippage.units()) * touch_u {
            outside.push(format!(
                "{} {:?} at {} priced {} vs touch {}",
                sim_run::symbol(plan, f.request.instrument),
                f.request.side,
                since(start, f.at),
                f.request.price.units(),
                touch.units()
            ));
        }
    }
    v.check(
        "flatten orders within the slippage cap",
        !seen.flattens.is_empty() && outside.is_empty(),
        if seen.flattens.is_empty() {
            "the stop sent no flatten order".to_string()
        } else if outside.is_empty() {
            format!(
                "{} flatten order(s), each within {:.4} of the touch (farthest {:.4})",
                seen.flattens.len(),
                sim_run::rate(slippage),
                worst
            )
        } else {
            format!(
                "{} of {} beyond {:.4}: {}",
                outside.len(),
                seen.flattens.len(),
                sim_run::rate(slippage),
                outside.join("; ")
            )
        },
    );

    v.fact("triggers", outcome.risk.triggers.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(", "));
    v.fact("risk decisions", outcome.engine.risk.render());
    sim_run::end_facts(&mut v, &outcome);
    Ok(v)
}
