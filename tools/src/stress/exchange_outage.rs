//! The `exchange_outage` stress scenario, live against the venue simulator
//! ([`super::live_run`]): one account whose chain is [binance, bybit] trades BTC/USDT (its
//! strategy reads OKX's book, which stays up). Once orders reach the primary, Binance goes dark
//! (connections dropped, requests unanswered): new orders must move to Bybit, the failover be
//! journaled, and no order be accepted twice. Then the whole chain goes dark: the outage trigger
//! must trip the emergency stop within the phase — `outage_after` of the configuration under
//! test plus a grace, the phase capped at [`CHAIN_CAP_FULL`] (short form [`CHAIN_CAP_SHORT`]);
//! a configuration whose outage trigger waits longer than that lets a dead chain stand and
//! fails — and no strategy order may go to a venue the engine already judged dead.

use super::live_journal::{RunJournal, no_duplicates, venue_index};
use super::live_run::{LiveRun, VenueOrders, nanos, run_config, secs, start_sim, unix_now, wait_while_running};
use super::{StressCtx, Verdict};
use qt_core::{AccountId, BlockReason, Venue};
use std::time::Duration;

/// Its name.
pub const NAME: &str = "exchange_outage";

/// What it injects and expects.
pub const ABOUT: &str = "live: the primary venue goes dark, then the whole chain → orders move to the next venue \
                         once each, the outage trigger trips the ESS, no order to a dead venue";

/// Longest whole-chain outage of the full form: a chain down this long must have stopped
/// trading (twice the default `outage_after`).
pub const CHAIN_CAP_FULL: Duration = Duration::from_secs(60);
/// The same for the short form (the test suite's).
pub const CHAIN_CAP_SHORT: Duration = Duration::from_secs(8);

const SIM: &str = include_str!("../../../testdata/stress/venue-sim-chain.toml");
const RUN: &str = include_str!("../../../testdata/stress/exchange_outage.toml");

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let mut server = start_sim(ctx, SIM, "venue-sim-chain.toml")?;
    let orders = VenueOrders::record(&server, &[("binance", AccountId(0)), ("bybit", AccountId(1))])?;
    let mut plan = ctx.plan(&run_config(RUN, &server), "exchange_outage.toml")?;
    // Ended by the scenario; the duration only bounds a run the scenario lost track of.
    plan.sim.duration = qt_core::Nanos(nanos(Duration::from_secs(600)));
    let outage_after = Duration::from_nanos(plan.risk.outage_after.0.max(0) as u64);
    let return_after = Duration::from_nanos(plan.routing.router.return_after.0.max(0) as u64);
    let primary_outage = if ctx.short { Duration::from_secs(5) } else { Duration::from_secs(10) };
    let (cap, grace) =
        if ctx.short { (CHAIN_CAP_SHORT, Duration::from_secs(4)) } else { (CHAIN_CAP_FULL, Duration::from_secs(10)) };
    let chain_outage = (outage_after + grace).min(cap);
    let run = LiveRun::start(plan.clone())?;

    // Orders on the primary first (start-up may pass through Bybit while Binance's book is not
    // yet valid; the router returns `return_after` later).
    let start = unix_now();
    let on_primary =
        wait_while_running(&run, return_after + Duration::from_secs(30), || orders.accepted_at("binance", start) > 0);
    let mut windows = Vec::new();
    let mut phases = None;
    if on_primary && !run.is_finished() {
        orders.between_orders("binance", Duration::from_millis(100), Duration::from_secs(10));
        let binance = server.faults_of("binance").cloned();
        let bybit = server.faults_of("bybit").cloned();
        let (Some(binance), Some(bybit)) = (binance, bybit) else {
            anyhow::bail!("the simulator serves no binance or bybit listener")
        };
        let down = unix_now();
        binance.outage_for(primary_outage);
        windows.push((Venue::Binance, down, down + nanos(primary_outage)));
        std::thread::sleep(primary_outage + Duration::from_millis(500));
        let chain_down = unix_now();
        binance.outage_for(chain_outage);
        bybit.outage_for(chain_outage);
        windows.push((Venue::Binance, chain_down, chain_down + nanos(chain_outage)));
        windows.push((Venue::Bybit, chain_down, chain_down + nanos(chain_outage)));
        std::thread::sleep(chain_outage);
        binance.clear();
        bybit.clear();
        // The venues answer again: what was sent into the outage settles before the stop.
        std::thread::sleep(Duration::from_secs(2));
        phases = Some((down, chain_down));
    }
    let outcome = run.finish()?;
    server.shutdown();
    let journal = RunJournal::of(&outcome)?;
    let plan = &outcome.plan;
    let sent = journal.new_orders(plan);
    let seen = orders.events();

    let mut v = Verdict::default();
    v.fact("orders sent", sent.len());
    v.fact("orders accepted at binance", seen.iter().filter(|e| e.accepted && e.venue == "binance").count());
    v.fact("orders accepted at bybit", seen.iter().filter(|e| e.accepted && e.venue == "bybit").count());
    let Some((down, chain_down)) = phases else {
        v.check(
            "orders reach the primary",
            false,
            format!(
                "no order was accepted at binance within {} of the start",
                secs(nanos(return_after) + 30_000_000_000)
            ),
        );
        return Ok(v);
    };
    let primary_end = down + nanos(primary_outage);

    // Failover: new orders at Bybit during Binance's outage, the change journaled.
    let at_bybit: Vec<i64> = seen
        .iter()
        .filter(|e| e.accepted && e.venue == "bybit" && e.at > down && e.at < primary_end)
        .map(|e| e.at)
        .collect();
    let to_bybit = journal.failovers(plan).iter().filter(|(at, to)| *at >= down && *to == Some(Venue::Bybit)).count();
    v.fact("failovers journaled", journal.failovers(plan).len());
    v.check(
        "failover: new orders move to the next venue of the chain",
        !at_bybit.is_empty() && to_bybit > 0,
        match at_bybit.first() {
            Some(first) => format!(
                "binance dark {}: first order accepted at bybit {} after, {} accepted there during it; {to_bybit} \
                 failover(s) to bybit journaled",
                secs(nanos(primary_outage)),
                secs(first - down),
                at_bybit.len()
            ),
            None => format!(
                "binance dark {}: no order accepted at bybit during it; {to_bybit} failover(s) to bybit journaled",
                secs(nanos(primary_outage))
            ),
        },
    );
    no_duplicates(&mut v, "no duplicate: every order accepted once, at the venue it was sent to", &sent, &seen);

    // The outage trigger.
    let tripped = outcome.risk.triggers.iter().find(|(s, _)| *s == "exchange_outage").map_or(0, |(_, n)| *n);
    let at = journal.ess_tripped_at().filter(|t| *t >= chain_down);
    v.fact("emergency stop", &outcome.risk.ess_state);
    v.check(
        "outage trigger trips the ESS",
        tripped > 0 && at.is_some(),
        match at {
            Some(t) if tripped > 0 => format!(
                "the whole chain dark: the emergency stop tripped {} after (outage_after {})",
                secs(t - chain_down),
                secs(nanos(outage_after))
            ),
            _ => format!(
                "the whole chain was dark {} and the outage trigger did not trip the emergency stop (outage_after \
                 {}; a chain down {} must stop trading)",
                secs(nanos(chain_outage)),
                secs(nanos(outage_after)),
                secs(nanos(cap))
            ),
        },
    );
    let refused = journal
        .decisions()
        .iter()
        .filter(|(t, _, r)| *t >= chain_down && *r == Some(BlockReason::NoHealthyVenue))
        .count();
    v.fact("orders refused with no healthy venue", refused);

    // No order to a venue the engine already judged dead.
    let health = journal.health();
    let judged_dead = |venue: Venue, from: i64, until: i64| -> Option<i64> {
        let bit = venue_index(plan, venue)?;
        health.iter().find(|(t, mask)| *t >= from && *t <= until && mask & (1 << bit) == 0).map(|(t, _)| *t)
    };
    let mut to_dead = 0;
    let mut flatten_to_dead = 0;
    for (venue, from, until) in &windows {
        let Some(dead_at) = judged_dead(*venue, *from, *until) else { continue };
        for o in sent.iter().filter(|o| o.venue == *venue && o.at > dead_at && o.at < *until) {
            if o.risk { flatten_to_dead += 1 } else { to_dead += 1 }
        }
    }
    v.check(
        "no order to a dead venue",
        to_dead == 0,
        format!("{to_dead} strategy orders sent to a venue while the engine judged it down and it was dark"),
    );
    v.fact("flatten orders sent to a dark venue (the stop flattens where the position is)", flatten_to_dead);
    Ok(v)
}
