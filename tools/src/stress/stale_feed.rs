//! The `stale_feed` stress scenario, live against the venue simulator ([`super::live_run`]): one
//! account trades BTC-USDT at OKX, its strategy reading Bybit's book. Once it trades, OKX's
//! stream skips a sequence number, then sends a level its checksum does not cover, then stalls
//! (connection kept, nothing sent). The journal must show the book invalid after the gap and
//! after the bad checksum, valid again after each resync (the feed counting them), and no order
//! on it while invalid; and during the stall, whose first strategy decision the scenario times
//! to come after the book has been silent for most of the strategy's cooldown, every decision
//! on a book silent [`STALLED_AFTER`] must be refused as stale (`book_stale`, the gate's book-freshness check: `max_mark_age` of
//! the configuration under test) and no order placed on a book silent longer than
//! `max_mark_age`. A configuration whose `max_mark_age` outlasts the stall lets the stalled
//! book be traded and fails.

use super::live_journal::RunJournal;
use super::live_run::{
    LiveRun, VenueOrders, nanos, run_config, secs, start_sim, unix_now, wait_for, wait_while_running,
};
use super::{StressCtx, Verdict};
use qt_core::journal::JournalEvent;
use qt_core::{AccountId, BlockReason, EventKind, InstrumentId, OrderCommand, Venue};
use std::time::Duration;

/// Its name.
pub const NAME: &str = "stale_feed";

/// What it injects and expects.
pub const ABOUT: &str = "live: OKX's stream gaps, fails a checksum, stalls → the book is invalid (no order on it), \
                         resyncs and is counted; a stalled book is refused as stale";

/// The strategy's cooldown: its first decision in a stall comes about this long after its last
/// order, so on a book silent nearly that long.
pub const COOLDOWN: Duration = Duration::from_secs(7);

/// A book silent this long is stalled: every decision on it must be refused. The stall starts
/// at most [`AFTER_ORDER`]`.1` after an order, so the strategy's first decision in it comes on a
/// book silent at least this long.
pub const STALLED_AFTER: Duration = Duration::from_secs(6);

const _: () = assert!(STALLED_AFTER.as_millis() + AFTER_ORDER.1.as_millis() <= COOLDOWN.as_millis());

const SIM: &str = include_str!("../../../testdata/stress/venue-sim-feeds.toml");
const RUN: &str = include_str!("../../../testdata/stress/stale_feed.toml");

/// How long after an order's last event at the venue the stall starts: its report has reached
/// the engine (the stall holds OKX's private stream too), and the next decision is still most
/// of a cooldown away.
const AFTER_ORDER: (Duration, Duration) = (Duration::from_millis(300), Duration::from_millis(1000));

/// Runs it.
pub fn run(ctx: &StressCtx) -> anyhow::Result<Verdict> {
    let mut server = start_sim(ctx, SIM, "venue-sim-feeds.toml")?;
    let orders = VenueOrders::record(&server, &[("okx", AccountId(0))])?;
    let text = run_config(RUN, &server).replace("@cooldown@", &format!("{}ms", COOLDOWN.as_millis()));
    let mut plan = ctx.plan(&text, "stale_feed.toml")?;
    plan.sim.duration = qt_core::Nanos(nanos(Duration::from_secs(600)));
    let stall = if ctx.short { Duration::from_secs(10) } else { Duration::from_secs(20) };
    let Some(faults) = server.faults_of("okx").cloned() else { anyhow::bail!("the simulator serves no okx listener") };
    let run = LiveRun::start(plan)?;

    let start = unix_now();
    let traded = wait_while_running(&run, Duration::from_secs(40), || orders.accepted_at("okx", start) > 0);
    let mut injected = None;
    if traded && !run.is_finished() {
        let gap = unix_now();
        faults.skip_sequence(1);
        std::thread::sleep(Duration::from_millis(1500));
        let checksum = unix_now();
        faults.corrupt_levels(1);
        std::thread::sleep(Duration::from_millis(1500));
        // Just after an order: its report is in, the next decision a cooldown away.
        let (min, max) = (nanos(AFTER_ORDER.0), nanos(AFTER_ORDER.1));
        let timed = wait_for(COOLDOWN * 4, || {
            orders.events().iter().rev().find(|e| e.venue == "okx").is_some_and(|e| {
                let age = unix_now() - e.at;
                e.done && age >= min && age <= max
            })
        });
        let stalled = unix_now();
        faults.stall_ws_for(stall);
        std::thread::sleep(stall + Duration::from_secs(2));
        injected = Some((gap, checksum, stalled, timed));
    }
    let outcome = run.finish()?;
    server.shutdown();
    let journal = RunJournal::of(&outcome)?;
    let plan = &outcome.plan;

    let mut v = Verdict::default();
    let Some((gap, checksum, stalled, timed)) = injected else {
        v.check("orders reach the venue", false, "no order was accepted at okx within 40 s of the start");
        return Ok(v);
    };
    let Some(okx) = plan.instruments.iter().find(|i| i.venue() == Venue::Okx).map(|i| i.id()) else {
        anyhow::bail!("stale_feed.toml lists no OKX instrument")
    };
    let book = BookTimeline::of(&journal, okx);
    let feed = outcome.engine.feeds.iter().find(|(name, _)| name.contains("okx")).and_then(|(_, s)| *s);
    let (gaps, bad_checksums, resyncs) = feed.map_or((0, 0, 0), |s| (s.gaps, s.checksum_failed, s.resyncs));
    v.fact("orders sent", journal.new_orders(plan).len());
    v.fact("okx feed: gaps, checksum failures, resyncs", format!("{gaps}, {bad_checksums}, {resyncs}"));
    v.fact("stall", secs(nanos(stall)));

    let resynced_after =
        |at: i64| book.invalid.iter().find(|(from, _)| *from >= at && *from < at + 1_500_000_000).copied();
    for (name, what, at, count) in [
        ("sequence gap: book invalid, then resynced", "gaps", gap, gaps),
        ("bad checksum: book invalid, then resynced", "checksum failures", checksum, bad_checksums),
    ] {
        let stretch = resynced_after(at);
        let detail = match stretch {
            Some((from, Some(to))) => format!(
                "{what} counted {count}; the book invalid {} after the fault, valid again {} later",
                secs(from - at),
                secs(to - from)
            ),
            Some((_, None)) => format!("{what} counted {count}; the book went invalid and was never resynced"),
            None => format!("{what} counted {count}; the book was never marked invalid after the fault"),
        };
        v.check(name, count > 0 && matches!(stretch, Some((_, Some(_)))), detail);
    }
    v.check(
        "resyncs counted",
        resyncs >= 2,
        format!("the okx feed counted {resyncs} resyncs ({} invalid stretches of the book)", book.invalid.len()),
    );
    v.check(
        "no order on an invalid book",
        book.orders_while_invalid == 0,
        format!(
            "{} orders on the OKX book while it was invalid ({} stretches, {} in all)",
            book.orders_while_invalid,
            book.invalid.len(),
            secs(book.invalid.iter().map(|(a, b)| b.unwrap_or(*a) - a).sum())
        ),
    );

    // The stall: every decision on the silent book refused as stale; no order on a book silent
    // longer than max_mark_age.
    let max_age = plan.risk.max_mark_age.0;
    let until = stalled + nanos(stall);
    let stalled_after = nanos(STALLED_AFTER);
    let judged: Vec<&Decided> =
        book.decisions.iter().filter(|d| d.at >= stalled && d.at < until && d.silent >= stalled_after).collect();
    let allowed = judged.iter().filter(|d| d.reason.is_none()).count();
    let refused = judged.iter().filter(|d| d.reason == Some(BlockReason::BookStale)).count();
    let timing = if timed { "" } else { "; the stall did not start just after an order" };
    v.check(
        "book freshness: a stalled book is refused",
        !judged.is_empty() && allowed == 0,
        if judged.is_empty() {
            format!(
                "no decision on the OKX book once it had been silent {} in its {} stall: nothing was judged{timing}",
                secs(stalled_after),
                secs(nanos(stall))
            )
        } else {
            format!(
                "{} decisions on the OKX book silent at least {} (silent {}): {refused} refused as book_stale, {allowed} \
                 allowed (max_mark_age {}){timing}",
                judged.len(),
                secs(stalled_after),
                judged.iter().map(|d| secs(d.silent)).collect::<Vec<_>>().join(", "),
                secs(max_age)
            )
        },
    );
    let beyond = book.orders.iter().filter(|(_, silent)| *silent > max_age).count();
    v.check(
        "book freshness: no order on a book silent longer than max_mark_age",
        beyond == 0,
        format!("{beyond} orders on the OKX book after it had been silent longer than {}", secs(max_age)),
    );
    Ok(v)
}

/// A risk decision on the book: when, how long the book had been silent, why refused.
#[derive(Debug, Clone, Copy)]
struct Decided {
    at: i64,
    silent: i64,
    reason: Option<BlockReason>,
}

/// One book's validity over a run, from its market records in the journal: a snapshot's first
/// record (`CLEAR`, which is also how a feed invalidates a book) or a refused record makes it
/// invalid, a snapshot's last record valid again.
#[derive(Debug, Default)]
struct BookTimeline {
    /// Invalid stretches after the first valid moment: from, until (`None`: to the end).
    invalid: Vec<(i64, Option<i64>)>,
    /// Strategy orders on it while it was invalid.
    orders_while_invalid: usize,
    /// Strategy orders on it: when, and how long it had been silent then.
    orders: Vec<(i64, i64)>,
    /// Risk decisions on it.
    decisions: Vec<Decided>,
}

impl BookTimeline {
    fn of(journal: &RunJournal, instrument: InstrumentId) -> Self {
        let mut t = Self::default();
        let (mut valid, mut ever_valid, mut last) = (false, false, 0i64);
        for e in &journal.entries {
            match &e.event {
                JournalEvent::Market(m) if m.instrument == instrument => {
                    last = e.at;
                    if m.kind == EventKind::BookSnapshot && m.is_clear() && valid {
                        valid = false;
                        t.invalid.push((e.at, None));
                    }
                    if m.kind == EventKind::BookSnapshot && m.is_batch_end() && !valid {
                        valid = true;
                        if let Some((_, until)) = t.invalid.last_mut().filter(|_| ever_valid) {
                            *until = Some(e.at);
                        }
                        ever_valid = true;
                    }
                }
                JournalEvent::BookRefused { instrument: i, .. } if *i == instrument && valid => {
                    valid = false;
                    t.invalid.push((e.at, None));
                }
                JournalEvent::Command(OrderCommand::New { request, .. })
                    if request.instrument == instrument && request.strategy != qt_core::RISK_STRATEGY =>
                {
                    if !valid {
                        t.orders_while_invalid += 1;
                    }
                    t.orders.push((e.at, e.at - last));
                }
                JournalEvent::Decision(d) if d.instrument == instrument.0 => {
                    let reason = d.record(qt_core::Nanos(e.at), qt_core::Nanos::ZERO).block_reason();
                    t.decisions.push(Decided { at: e.at, silent: e.at - last, reason });
                }
                _ => {}
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::live_journal::Entry;
    use crate::stress::live_journal::tests::request;
    use qt_core::{MarketEvent, OrderId, Price, Qty, Side};

    const X: InstrumentId = InstrumentId(0);
    const S: i64 = 1_000_000_000;

    fn market(flags: u16) -> JournalEvent {
        let mut m = MarketEvent::new(X, EventKind::BookSnapshot, Side::Buy, Price::from_units(100), Qty::from_units(1));
        m.flags = flags;
        JournalEvent::Market(m)
    }

    fn order() -> JournalEvent {
        JournalEvent::Command(OrderCommand::New {
            order_id: OrderId(1),
            request: request(X),
            sent_local_ns: qt_core::Nanos(0),
        })
    }

    #[test]
    fn the_timeline_sees_invalid_stretches_orders_on_them_and_how_long_the_book_was_silent() {
        let snapshot = market(MarketEvent::CLEAR | MarketEvent::BATCH_END);
        let invalidation = JournalEvent::Market(MarketEvent::invalidation(X, qt_core::Nanos(0)));
        let entries = [
            (0, invalidation), // before the first sync: not a stretch
            (S, snapshot),     // valid
            (2 * S, order()),  // on a valid book, silent 1 s
            (3 * S, invalidation),
            (3 * S + 1, order()), // on an invalid book
            (4 * S, snapshot),    // resynced
            (9 * S, order()),     // silent 5 s
            (10 * S, invalidation),
        ];
        let journal =
            RunJournal { entries: entries.iter().map(|(at, event)| Entry { at: *at, event: *event }).collect() };
        let t = BookTimeline::of(&journal, X);
        assert_eq!(t.invalid, [(3 * S, Some(4 * S)), (10 * S, None)]);
        assert_eq!(t.orders_while_invalid, 1);
        assert_eq!(t.orders, [(2 * S, S), (3 * S + 1, 1), (9 * S, 5 * S)]);
        // Another instrument's records change nothing.
        assert!(BookTimeline::of(&journal, InstrumentId(1)).orders.is_empty());
    }
}
