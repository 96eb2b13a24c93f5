//! The `exchange_outage` stress scenario, live against the venue simulator
//! ([`super::live_run`]): one account whose chain is [binance, bybit] trades BTC/USDT (its
//! strategy reads OKX's book, which stays up). Once orders reach the primary, Binance goes dark
//! (connections dropped, requests unanswered): new orders must move to Bybit, the failover be
//! journaled, and no order be accepted twice. Then the whole chain goes dark: the outage trigger
//! must trip the emergency stop within the phase — `outage_after` of the configuration under
//! test plus a grace, the phase capped at [`CHAIN_CAP`] in both forms (the short form's grace is
//! shorter, never its judgement: a configuration gets the same verdict either way);
//! a configuration whose outage trigger waits longer than that lets a dead chain stand and
//! fails — and no strategy order may go to a venue the engine already judged dead.

use super::chain::{ChainEnd, ChainRun};
use super::live_journal::{no_duplicates, venue_index};
use super::live_run::{nanos, secs, unix_now};
use super::{StressCtx, Verdict};
use qt_core::{BlockReason, Venue};
use std::time::Duration;

/// Its name.
pub const NAME: &str = "exchange_outage";

/// What it injects and expects.
pub const ABOUT: &str = "live: the primary venue goes dark, then the whole chain → orders move to the next venue \
                         once each, the outage trigger trips the ESS, no order to a dead venue";

/// Longest whole-chain outage: a chain down this long must have stopped trading (twice the
/// default `outage_after`). The same in the short form, so that form judges a configuration as
/// the full one does (the test suite's short runs use a configuration with a short
/// `outage_after`, testdata/stress/venue-short.toml).
pub const CHAIN_CAP: Duration = Duration::from_secs(60);

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let chain = ChainRun::start(ctx)?;
    let outage_after = Duration::from_nanos(ctx.risk.gate.outage_after.0.max(0) as u64);
    let primary_outage = if ctx.short { Duration::from_secs(5) } else { Duration::from_secs(10) };
    let (cap, grace) = (CHAIN_CAP, if ctx.short { Duration::from_secs(4) } else { Duration::from_secs(10) });
    let chain_outage = (outage_after + grace).min(cap);

    let mut v = Verdict::default();
    let mut windows = Vec::new();
    let phases = if chain.on_primary() {
        let (binance, bybit) = (chain.faults("binance")?, chain.faults("bybit")?);
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
        Some((down, chain_down))
    } else {
        chain.never_on_primary(&mut v);
        None
    };
    let ChainEnd { outcome, journal, sent, seen } = chain.finish(&mut v)?;
    let plan = &outcome.plan;
    let Some((down, chain_down)) = phases else { return Ok(v) };
    let primary_end = down + nanos(primary_outage);

    // Failover: new orders at Bybit during Binance's outage, the change journaled (the engine
    // counts each journaled failover in `exchange_failover_events_total{selected}`).
    let at_bybit: Vec<i64> = seen
        .iter()
        .filter(|e| e.accepted && e.venue == "bybit" && e.at > down && e.at < primary_end)
        .map(|e| e.at)
        .collect();
    let to_bybit = journal
        .failovers(plan)
        .iter()
        .filter(|(at, to)| *at >= down && *at < primary_end && *to == Some(Venue::Bybit))
        .count();
    v.fact("failovers journaled", journal.failovers(plan).len());
    v.check(
        "failover: new orders move to the next venue of the chain",
        !at_bybit.is_empty() && to_bybit > 0,
        match at_bybit.first() {
            Some(first) => format!(
                "binance dark {}: first order accepted at bybit {} after, {} accepted there during it; {to_bybit} \
                 failover(s) to bybit journaled, each counted in exchange_failover_events_total",
                secs(nanos(primary_outage)),
                secs(first - down),
                at_bybit.len()
            ),
            None => format!(
                "binance dark {}: no order accepted at bybit during it; {to_bybit} failover(s) to bybit journaled \
                 during it",
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
