//! The `ack_latency_spike` stress scenario, live against the venue simulator
//! ([`super::chain`]: one account whose chain is [binance, bybit]). Once orders reach the
//! primary, Binance answers every order [`ACK_DELAY`] late (its book and streams stay healthy).
//! The engine's venue health must fall — the ack p99 beyond `max_ack_p99`, or orders waiting
//! past `ack_timeout`, both of `[failover]` under test — within the spike; once it has, no
//! strategy order may go to Binance while it is judged unhealthy (new orders re-routed to Bybit,
//! or refused with no healthy venue: throttled); and no order may be accepted twice or at a
//! venue it was not sent to (a slow answer is reconciled, never re-sent). A configuration whose
//! ack thresholds the delay cannot reach keeps the slow venue in use and fails.

use super::chain::{ChainEnd, ChainRun};
use super::live_journal::{no_duplicates, venue_index};
use super::live_run::{nanos, secs, unix_now};
use super::{StressCtx, Verdict};
use qt_core::{BlockReason, Venue};
use std::time::Duration;

/// Its name.
pub const NAME: &str = "ack_latency_spike";

/// What it injects and expects.
pub const ABOUT: &str = "live: the primary venue's order acks come seconds late → its health falls, new orders are \
                         re-routed or throttled, nothing is duplicated";

/// How late the primary answers each order during the spike.
pub const ACK_DELAY: Duration = Duration::from_secs(3);

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let chain = ChainRun::start(ctx)?;
    let spike = if ctx.short { Duration::from_secs(8) } else { Duration::from_secs(20) };
    let mut v = Verdict::default();
    let started = if chain.on_primary() {
        let binance = chain.faults("binance")?;
        let at = unix_now();
        binance.set_ack_latency(ACK_DELAY);
        std::thread::sleep(spike);
        binance.set_ack_latency(Duration::ZERO);
        // The last slow answers come back before the stop.
        std::thread::sleep(ACK_DELAY + Duration::from_secs(1));
        Some(at)
    } else {
        chain.never_on_primary(&mut v);
        None
    };
    let ChainEnd { outcome, journal, sent, seen } = chain.finish(&mut v)?;
    let plan = &outcome.plan;
    let Some(start) = started else { return Ok(v) };
    let end = start + nanos(spike);
    let health = plan.routing.health;
    let thresholds = format!("max_ack_p99 {}, ack_timeout {}", secs(health.max_ack_p99.0), secs(health.ack_timeout.0));

    // The engine's judgement of Binance during the spike.
    let Some(bit) = venue_index(plan, Venue::Binance) else { anyhow::bail!("the chain's run has no binance venue") };
    let judged = journal.health();
    let fell = judged.iter().find(|(t, mask)| *t >= start && *t < end && mask & (1 << bit) == 0).map(|(t, _)| *t);
    v.check(
        "venue health falls with slow acks",
        fell.is_some(),
        match fell {
            Some(t) => format!(
                "binance answering {} late: judged unhealthy {} into the {} spike ({thresholds})",
                secs(nanos(ACK_DELAY)),
                secs(t - start),
                secs(nanos(spike))
            ),
            None => format!(
                "binance answering {} late stayed healthy through the {} spike ({thresholds})",
                secs(nanos(ACK_DELAY)),
                secs(nanos(spike))
            ),
        },
    );

    // Once judged unhealthy: no strategy order to Binance while it stays so; orders re-routed
    // to Bybit or refused (throttled).
    let unhealthy_at =
        |t: i64| judged.iter().take_while(|(at, _)| *at <= t).last().is_some_and(|(_, mask)| mask & (1 << bit) == 0);
    let (to_slow, to_bybit) = match fell {
        Some(f) => (
            sent.iter().filter(|o| !o.risk && o.venue == Venue::Binance && o.at > f && unhealthy_at(o.at)).count(),
            seen.iter()
                .filter(|e| e.accepted && e.venue == "bybit" && e.at > f && e.at < end + nanos(ACK_DELAY))
                .count(),
        ),
        None => {
            (sent.iter().filter(|o| !o.risk && o.venue == Venue::Binance && o.at >= start && o.at < end).count(), 0)
        }
    };
    let throttled = journal
        .decisions()
        .iter()
        .filter(|(t, _, r)| *t >= start && *t < end && *r == Some(BlockReason::NoHealthyVenue))
        .count();
    v.check(
        "new orders re-routed or throttled",
        fell.is_some() && to_slow == 0 && to_bybit + throttled > 0,
        match fell {
            Some(_) => format!(
                "{to_slow} strategy orders sent to binance while it was judged unhealthy; {to_bybit} accepted at \
                 bybit, {throttled} refused with no healthy venue after it fell"
            ),
            None => format!(
                "binance was never judged unhealthy: the spike's {to_slow} strategy orders all went to the slow venue"
            ),
        },
    );
    no_duplicates(&mut v, "nothing duplicated: every order accepted once, at the venue it was sent to", &sent, &seen);
    v.fact("failovers journaled", journal.failovers(plan).len());
    Ok(v)
}
