//! The kit's gateway loop: one thread per venue connection between the core's order ring and
//! its report ring. A venue implements [`VenueGateway`] (its requests, its stream events, its
//! timers); [`run`] drives it.
//!
//! Contract: the thread is not the pinned core. Each pass pops every command without blocking,
//! drains the private-stream channel, then runs what is due (reconciliations, time sync, a
//! probe of a venue judged down), then judges the venue's health from the stream connects and
//! drops and the outcomes of the venue's requests ([`crate::kit::health`]); an
//! idle loop follows the configured [`IdleStrategy`] (by default [`DEFAULT_IDLE`]: it spins,
//! then yields, then sleeps up to [`IDLE_SLEEP`]). A venue's request blocks the thread
//! for at most its timeout (stream frames queue meanwhile, so an order's REST answer is always
//! handled before its stream events). The loop ends when `stop` is set, the order ring is
//! abandoned and drained, or the report ring's consumer is gone.

use crate::kit::health::{HealthReporter, RequestOutcomes};
use crate::kit::order_state::ReportsClosed;
use crate::kit::private_stream::StreamMsg;
use crate::kit::stats::GatewayStats;
use crossbeam_channel::Receiver;
use qt_core::OrderCommand;
use qt_core::idle::{IdleStrategy, Idler};
use qt_core::queue::Consumer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest sleep of an idle loop, after spinning and yielding.
pub const IDLE_SLEEP: Duration = Duration::from_micros(100);
/// The loop's default idle strategy: 64 idle passes spinning, 64 yielding, then sleeps doubling
/// up to [`IDLE_SLEEP`]. A sleep lasts longer than asked (the kernel's timer slack, 50 µs by
/// default), and an order that arrives during one waits for its end (BENCHMARKS.md, `qt bench
/// --wire` with and without `--gateway-busy-spin`). `[engine] gateway_idle = { kind =
/// "busy_spin" }` takes that wait away, at the price of a core per gateway thread.
pub const DEFAULT_IDLE: IdleStrategy =
    IdleStrategy::Backoff { spins: 64, yields: 64, max_sleep_us: IDLE_SLEEP.as_micros() as u64 };

/// What a venue's gateway does with each input; [`run`] calls it on the gateway thread.
pub(crate) trait VenueGateway {
    /// Handles one command from the core.
    fn on_command(&mut self, cmd: OrderCommand) -> Result<(), ReportsClosed>;
    /// Handles one message of a private-stream thread.
    fn on_stream(&mut self, msg: StreamMsg) -> Result<(), ReportsClosed>;
    /// Runs what is due at `now` (reconciliations, a time sync); returns how many things it did.
    fn on_timers(&mut self, now: Instant) -> Result<usize, ReportsClosed>;
    /// Called once when the loop ends (e.g. logs what is left unreconciled).
    fn finish(&mut self);
    /// What the requests of the venue's order client came to (its `HttpsClient::outcomes`).
    fn requests(&self) -> &RequestOutcomes;
    /// Sends one cheap request to the venue (its time endpoint) to see whether it answers; the
    /// outcome lands in [`Self::requests`]. Called while the venue is judged down or suspect.
    fn probe(&mut self);
    /// The thread's stats (the loop adds its health reports).
    fn stats(&mut self) -> &mut GatewayStats;
}

/// The gateway thread's inputs.
#[derive(Debug)]
pub(crate) struct Inputs {
    /// Commands from the core.
    pub(crate) orders: Consumer<OrderCommand>,
    /// Messages of the private-stream threads.
    pub(crate) stream: Receiver<StreamMsg>,
    /// The venue's health, judged after each pass and sent to the core when it changes.
    pub(crate) health: HealthReporter,
}

/// One pass: commands, stream messages, timers, a due probe, the health verdict. Returns how
/// many things it handled.
pub(crate) fn do_work(g: &mut impl VenueGateway, inputs: &mut Inputs) -> Result<usize, ReportsClosed> {
    let mut n = 0;
    while let Ok(cmd) = inputs.orders.pop() {
        n += 1;
        g.on_command(cmd)?;
    }
    let now = Instant::now();
    // Empty or disconnected (every stream thread gone): nothing more now.
    while let Ok(msg) = inputs.stream.try_recv() {
        n += 1;
        inputs.health.on_stream(msg.account, &msg.event, now);
        g.on_stream(msg)?;
    }
    n += g.on_timers(now)?;
    if inputs.health.probe_due(now) {
        n += 1;
        g.probe();
        inputs.health.probed(Instant::now());
    }
    inputs.health.judge(Instant::now(), g.requests());
    Ok(n)
}

/// The loop (`venue` names it in logs); calls [`VenueGateway::finish`] when it ends.
pub(crate) fn run(g: &mut impl VenueGateway, inputs: &mut Inputs, stop: &AtomicBool, venue: &str, idle: IdleStrategy) {
    let mut idler = Idler::new(idle);
    while !stop.load(Ordering::Relaxed) {
        match do_work(g, inputs) {
            Ok(0) => {
                if inputs.orders.is_abandoned() && inputs.orders.is_empty() {
                    log::info!("{venue} gateway: order ring abandoned; stopping");
                    break;
                }
                idler.idle(0);
            }
            Ok(n) => idler.idle(n),
            Err(ReportsClosed) => {
                log::warn!("{venue} gateway: the report ring's consumer is gone; stopping");
                break;
            }
        }
    }
    let counts = inputs.health.counts();
    let stats = g.stats();
    stats.health_reports = counts.sent;
    stats.health_reports_blocked = counts.blocked;
    g.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::queue::spsc;
    use qt_core::{AccountId, InstrumentId};

    #[derive(Default)]
    struct Recorder {
        commands: usize,
        stream: usize,
        timers: usize,
        finished: bool,
        close_reports_after: Option<usize>,
        requests: RequestOutcomes,
        probes: usize,
        stats: GatewayStats,
    }

    impl VenueGateway for Recorder {
        fn on_command(&mut self, _cmd: OrderCommand) -> Result<(), ReportsClosed> {
            self.commands += 1;
            if self.close_reports_after.is_some_and(|n| self.commands >= n) { Err(ReportsClosed) } else { Ok(()) }
        }
        fn on_stream(&mut self, _msg: StreamMsg) -> Result<(), ReportsClosed> {
            self.stream += 1;
            Ok(())
        }
        fn on_timers(&mut self, _now: Instant) -> Result<usize, ReportsClosed> {
            self.timers += 1;
            Ok(0)
        }
        fn finish(&mut self) {
            self.finished = true;
        }
        fn requests(&self) -> &RequestOutcomes {
            &self.requests
        }
        fn probe(&mut self) {
            self.probes += 1;
        }
        fn stats(&mut self) -> &mut GatewayStats {
            &mut self.stats
        }
    }

    fn quiet_inputs(orders: Consumer<OrderCommand>, stream: Receiver<StreamMsg>) -> Inputs {
        Inputs { orders, stream, health: HealthReporter::new(qt_core::VenueId(0), "test", None) }
    }

    fn cancel_all() -> OrderCommand {
        OrderCommand::CancelAll { account: AccountId(0), instrument: Some(InstrumentId(0)) }
    }

    #[test]
    fn a_pass_takes_every_command_and_stream_message_then_the_timers() {
        let (mut tx, orders) = spsc(8);
        let (stx, stream) = crate::kit::private_stream::channel();
        let mut inputs = quiet_inputs(orders, stream);
        let mut g = Recorder::default();
        for _ in 0..3 {
            tx.push(cancel_all()).unwrap();
        }
        let connected = crate::kit::private_stream::StreamEvent::Connected { reconnect: false };
        stx.send(StreamMsg { account: 0, event: connected }).unwrap();
        assert_eq!(do_work(&mut g, &mut inputs), Ok(4));
        assert_eq!((g.commands, g.stream, g.timers), (3, 1, 1));
        assert_eq!(do_work(&mut g, &mut inputs), Ok(0));
    }

    #[test]
    fn the_loop_ends_when_the_ring_is_abandoned_or_the_reports_closed() {
        let (mut tx, orders) = spsc(8);
        let (_stx, stream) = crate::kit::private_stream::channel();
        let mut inputs = quiet_inputs(orders, stream);
        let mut g = Recorder::default();
        tx.push(cancel_all()).unwrap();
        drop(tx);
        run(&mut g, &mut inputs, &AtomicBool::new(false), "test", DEFAULT_IDLE);
        assert!(g.finished && g.commands == 1, "drained, then stopped");

        let (mut tx, orders) = spsc(8);
        let (_stx, stream) = crate::kit::private_stream::channel();
        let mut inputs = quiet_inputs(orders, stream);
        let mut g = Recorder { close_reports_after: Some(1), ..Recorder::default() };
        tx.push(cancel_all()).unwrap();
        run(&mut g, &mut inputs, &AtomicBool::new(false), "test", DEFAULT_IDLE);
        assert!(g.finished, "stopped on ReportsClosed although the ring is still open");
    }

    #[test]
    fn a_pass_probes_a_suspect_venue_reports_it_down_and_the_loop_counts_what_it_sent() {
        let (mut tx, orders) = spsc(8);
        let (_stx, stream) = crate::kit::private_stream::channel();
        let (ctx, crx) = crossbeam_channel::bounded(8);
        let mut inputs = Inputs { orders, stream, health: HealthReporter::new(qt_core::VenueId(2), "test", Some(ctx)) };
        let mut g = Recorder::default();
        let reset = crate::kit::http::TransportError { sent: true, timed_out: false, reason: "reset".into() };
        g.requests.record(Err(&reset));
        do_work(&mut g, &mut inputs).unwrap();
        assert_eq!(g.probes, 0, "the suspicion is noted after the pass's timers");
        assert_eq!(do_work(&mut g, &mut inputs), Ok(1));
        assert_eq!(g.probes, 1, "one failure: probed at once");
        g.requests.record(Err(&reset));
        do_work(&mut g, &mut inputs).unwrap();
        assert!(matches!(
            crx.try_recv(),
            Ok(qt_core::engine::ControlCommand::VenueHealth { venue: qt_core::VenueId(2), healthy: false })
        ));
        tx.push(cancel_all()).unwrap();
        drop(tx);
        run(&mut g, &mut inputs, &AtomicBool::new(false), "test", DEFAULT_IDLE);
        assert_eq!((g.stats.health_reports, g.stats.health_reports_blocked), (1, 0));
    }
}
