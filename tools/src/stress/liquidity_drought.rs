//! The `liquidity_drought` stress scenario: the spread of two thinly traded coins widens ×20 and
//! their depth falls ÷20 (sizes ÷20, quotes inside the new spread pulled) for a few seconds,
//! while imbalance takers keep crossing the spread at the touch.
//!
//! Its run (testdata/stress/liquidity_drought.toml): quotes 0.3 % either side of fair in normal
//! times become 6 % in the drought, so a taker at the touch is priced ~6 % from mid — beyond the
//! default 5 % band. Checks, each against the configuration under test (`price_band`, the
//! account's `max_order_notional`, `max_position_notional`, `max_single_trade_risk`,
//! `default_stop_distance`), on the run's journaled risk decisions:
//! - the price band holds: no accepted order further than `price_band` from the mid it was
//!   judged against;
//! - the price band stops the drought's takers: strategy orders in the drought beyond the band
//!   were blocked with reason `price_band` (a band the drought's spread fits inside, e.g. 0.99,
//!   lets them through and fails this check);
//! - order size and position cap hold for every accepted order;
//! - single-trade risk holds for every accepted order that adds exposure.

use super::sim_run::{self, since};
use super::{StressCtx, Verdict, sim_seconds};
use crate::config::Plan;
use qt_core::journal::JournaledDecision;
use qt_core::{BlockReason, DecisionRecord, Nanos, Notional, Price, Qty, Rate, Rounding};
use qt_venue_sim::exchange::shock::Shock;

/// Its name.
pub const NAME: &str = "liquidity_drought";

/// What it injects and expects.
pub const ABOUT: &str = "spread x20, depth /20 while takers cross it: price band blocks the far orders, order size, \
                         position cap and single-trade risk hold for every accepted order";

const CONFIG: &str = include_str!("../../../testdata/stress/liquidity_drought.toml");

/// The drought, from `at` for `hold`.
pub fn drought(at: Nanos, hold: Nanos) -> Shock {
    Shock { at, hold, spread: 20.0, bid_size: 0.05, ask_size: 0.05, ..Shock::default() }
}

/// Whether an order of `d` only reduces the position it found.
fn reduces(d: &JournaledDecision) -> bool {
    let sign = if d.side == 0 { 1 } else { -1 };
    d.position.signum() == -sign && d.final_qty <= d.position.saturating_abs()
}

/// Whether an accepted decision is within the band: `|price − mid| ≤ band × mid`.
fn within_band(d: &JournaledDecision, band: Rate) -> bool {
    let diff = (i128::from(d.price) - i128::from(d.mid)).abs();
    diff * i128::from(Rate::ONE.units()) <= i128::from(band.units()) * i128::from(d.mid)
}

/// What is wrong with an accepted decision against the account's size limits, if anything:
/// order notional, position cap, single-trade risk.
fn size_breach(plan: &Plan, d: &JournaledDecision) -> (Option<String>, Option<String>) {
    let (Some(inst), Some(account)) =
        (plan.instruments.get(qt_core::InstrumentId(d.instrument)), plan.accounts.get(usize::from(d.account)))
    else {
        return (Some("unknown instrument or account".into()), None);
    };
    let spec = &account.spec;
    let (price, qty) = (Price::from_units(d.price), Qty::from_units(d.final_qty));
    let mut size = None;
    if let Ok(n) = inst.notional(price, qty, Rounding::Up)
        && n > spec.limits.max_order_notional
    {
        size =
            Some(format!("{} notional {} > max_order_notional {}", inst.symbol(), n, spec.limits.max_order_notional));
    }
    if reduces(d) {
        return (size, None);
    }
    let sign = if d.side == 0 { 1 } else { -1 };
    let after = Qty::from_units(d.position.saturating_add(sign * d.final_qty));
    if let (Some(cap), Ok(n)) =
        (spec.max_position_notional, inst.notional(Price::from_units(d.mid), after, Rounding::Down))
        && n.checked_abs().is_ok_and(|n| n > cap)
    {
        size = Some(format!("{} position {} after the fill > max_position_notional {cap}", inst.symbol(), n));
    }
    // The gate's single-trade risk: the loss if stopped `default_stop_distance` away (rounded
    // up to the tick), against `max_single_trade_risk × equity`.
    let one = i128::from(Rate::ONE.units());
    let distance = ((i128::from(d.price) * i128::from(plan.risk.default_stop_distance.units()) + one - 1) / one)
        .max(i128::from(inst.tick().units()));
    let equity = Notional::from_units(d.record(Nanos::ZERO, Nanos::ZERO).equity);
    let risk = inst.notional(Price::from_units(i64::try_from(distance).unwrap_or(i64::MAX)), qty, Rounding::Up);
    let allowed = equity.checked_mul_rate(spec.limits.max_single_trade_risk, Rounding::Down);
    let trade = match (risk, allowed) {
        (Ok(r), Ok(a)) if r > a => Some(format!("{} risk {r} > max_single_trade_risk × equity {a}", inst.symbol())),
        (Ok(_), Ok(_)) => None,
        _ => Some(format!("{}: risk not computable", inst.symbol())),
    };
    (size, trade)
}

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let mut plan = ctx.plan(CONFIG, "testdata/stress/liquidity_drought.toml")?;
    let calm = Nanos(sim_seconds(ctx, 6, 2).as_nanos() as i64);
    let hold = Nanos(sim_seconds(ctx, 8, 3).as_nanos() as i64);
    let after = Nanos(sim_seconds(ctx, 2, 1).as_nanos() as i64);
    plan.sim.seed = ctx.seed;
    plan.sim.duration = calm.saturating_add(hold).saturating_add(after);
    plan.sim.shocks = vec![drought(calm, hold)];
    let start = plan.sim.start;
    let (from, to) = (start.saturating_add(calm), start.saturating_add(calm).saturating_add(hold));
    let (outcome, seen, mut v) = sim_run::run_observed(plan, from)?;
    let plan = &outcome.plan;
    let band = plan.risk.price_band;

    let accepted: Vec<&(Nanos, JournaledDecision)> = seen
        .strategy_decisions(Nanos(i64::MIN), Nanos(i64::MAX))
        .filter(|(_, d)| d.decision != DecisionRecord::BLOCK)
        .collect();

    // The band holds for every accepted order.
    let outside: Vec<String> = accepted
        .iter()
        .filter(|(_, d)| !within_band(d, band))
        .map(|(at, d)| {
            format!(
                "{} at {}: {:.4} from mid",
                sim_run::symbol(plan, qt_core::InstrumentId(d.instrument)),
                since(start, *at),
                sim_run::distance(d.price, d.mid)
            )
        })
        .collect();
    let farthest = accepted.iter().map(|(_, d)| sim_run::distance(d.price, d.mid)).fold(0.0, f64::max);
    v.check(
        "price band holds for every accepted order",
        !accepted.is_empty() && outside.is_empty(),
        if outside.is_empty() {
            format!(
                "{} accepted order(s), farthest {farthest:.4} from mid (price_band {:.4})",
                accepted.len(),
                sim_run::rate(band)
            )
        } else {
            format!("{} accepted beyond price_band {:.4}: {}", outside.len(), sim_run::rate(band), outside.join("; "))
        },
    );

    // The band stops the drought's takers.
    let in_drought: Vec<&(Nanos, JournaledDecision)> = seen.strategy_decisions(from, to).collect();
    let banded: Vec<f64> = in_drought
        .iter()
        .filter(|(_, d)| d.decision == DecisionRecord::BLOCK && sim_run::reason(d) == Some(BlockReason::PriceBand))
        .map(|(_, d)| sim_run::distance(d.price, d.mid))
        .collect();
    let accepted_far = in_drought
        .iter()
        .filter(|(_, d)| d.decision != DecisionRecord::BLOCK)
        .map(|(_, d)| sim_run::distance(d.price, d.mid))
        .fold(0.0, f64::max);
    let accepted_beyond =
        in_drought.iter().filter(|(_, d)| d.decision != DecisionRecord::BLOCK && !within_band(d, band)).count();
    let (lo, hi) = banded.iter().fold((f64::MAX, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    v.check(
        "price band stops the drought's takers",
        !banded.is_empty() && accepted_beyond == 0,
        if banded.is_empty() {
            format!(
                "no order was stopped by the price band: {} strategy order(s) in the drought, the farthest accepted {accepted_far:.4} from mid (price_band {:.4})",
                in_drought.len(),
                sim_run::rate(band)
            )
        } else {
            format!(
                "{} of {} strategy order(s) in the drought blocked with price_band ({lo:.4} to {hi:.4} from mid, band {:.4}); farthest accepted {accepted_far:.4}",
                banded.len(),
                in_drought.len(),
                sim_run::rate(band)
            )
        },
    );

    // Size and single-trade risk.
    let breaches: Vec<(Option<String>, Option<String>)> = accepted.iter().map(|(_, d)| size_breach(plan, d)).collect();
    let size: Vec<&String> = breaches.iter().filter_map(|(s, _)| s.as_ref()).collect();
    let trade: Vec<&String> = breaches.iter().filter_map(|(_, t)| t.as_ref()).collect();
    let (_, scales, tally) = sim_run::tally(seen.strategy_decisions(Nanos(i64::MIN), Nanos(i64::MAX)));
    let limits = plan.accounts.first().map(|a| a.spec.limits);
    let held = |breaches: &[&String], ok: String| {
        if breaches.is_empty() {
            ok
        } else {
            let first: Vec<&str> = breaches.iter().take(3).map(|s| s.as_str()).collect();
            format!("{} breach(es): {}", breaches.len(), first.join("; "))
        }
    };
    let cap = plan.accounts.first().and_then(|a| a.spec.max_position_notional);
    v.check(
        "order size and position cap hold for every accepted order",
        !accepted.is_empty() && size.is_empty(),
        held(
            &size,
            format!(
                "{} accepted order(s) within max_order_notional {} and max_position_notional {}; {scales} scaled down",
                accepted.len(),
                limits.map_or_else(|| "-".into(), |l| l.max_order_notional.to_string()),
                cap.map_or_else(|| "none".into(), |n| n.to_string())
            ),
        ),
    );
    v.check(
        "single-trade risk holds for every accepted order",
        !accepted.is_empty() && trade.is_empty(),
        held(
            &trade,
            format!(
                "{} accepted order(s) within max_single_trade_risk {:.4} of equity (stop {:.4} away)",
                accepted.len(),
                limits.map_or(0.0, |l| sim_run::rate(l.max_single_trade_risk)),
                sim_run::rate(plan.risk.default_stop_distance)
            ),
        ),
    );

    v.fact("risk decisions", tally);
    sim_run::end_facts(&mut v, &outcome);
    Ok(v)
}
