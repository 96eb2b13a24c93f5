//! The kit's gateway loop: one thread per venue connection between the core's order ring and
//! its report ring. A venue implements [`VenueGateway`] (its requests, its stream events, its
//! timers); [`run`] drives it.
//!
//! Contract: the thread is not the pinned core. Each pass pops every command without blocking,
//! drains the private-stream channel, then runs what is due (reconciliations, time sync); an
//! idle loop spins, then yields, then sleeps [`IDLE_SLEEP`]. A venue's request blocks the thread
//! for at most its timeout (stream frames queue meanwhile, so an order's REST answer is always
//! handled before its stream events). The loop ends when `stop` is set, the order ring is
//! abandoned and drained, or the report ring's consumer is gone.

use crate::kit::order_state::ReportsClosed;
use crate::kit::private_stream::StreamMsg;
use crossbeam_channel::Receiver;
use qt_core::OrderCommand;
use qt_core::idle::{IdleStrategy, Idler};
use qt_core::queue::Consumer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest sleep of an idle loop, after spinning and yielding.
pub const IDLE_SLEEP: Duration = Duration::from_micros(100);
/// The loop's idle strategy: 64 idle passes spinning, 64 yielding, then sleeps doubling up to
/// [`IDLE_SLEEP`].
pub(crate) const IDLE: IdleStrategy =
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
}

/// The gateway thread's inputs.
#[derive(Debug)]
pub(crate) struct Inputs {
    /// Commands from the core.
    pub(crate) orders: Consumer<OrderCommand>,
    /// Messages of the private-stream threads.
    pub(crate) stream: Receiver<StreamMsg>,
}

/// One pass: commands, stream messages, timers. Returns how many things it handled.
pub(crate) fn do_work(g: &mut impl VenueGateway, inputs: &mut Inputs) -> Result<usize, ReportsClosed> {
    let mut n = 0;
    while let Ok(cmd) = inputs.orders.pop() {
        n += 1;
        g.on_command(cmd)?;
    }
    // Empty or disconnected (every stream thread gone): nothing more now.
    while let Ok(msg) = inputs.stream.try_recv() {
        n += 1;
        g.on_stream(msg)?;
    }
    n += g.on_timers(Instant::now())?;
    Ok(n)
}

/// The loop (`venue` names it in logs); calls [`VenueGateway::finish`] when it ends.
pub(crate) fn run(g: &mut impl VenueGateway, inputs: &mut Inputs, stop: &AtomicBool, venue: &str) {
    let mut idler = Idler::new(IDLE);
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
    }

    fn cancel_all() -> OrderCommand {
        OrderCommand::CancelAll { account: AccountId(0), instrument: Some(InstrumentId(0)) }
    }

    #[test]
    fn a_pass_takes_every_command_and_stream_message_then_the_timers() {
        let (mut tx, orders) = spsc(8);
        let (stx, stream) = crate::kit::private_stream::channel();
        let mut inputs = Inputs { orders, stream };
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
        let mut inputs = Inputs { orders, stream };
        let mut g = Recorder::default();
        tx.push(cancel_all()).unwrap();
        drop(tx);
        run(&mut g, &mut inputs, &AtomicBool::new(false), "test");
        assert!(g.finished && g.commands == 1, "drained, then stopped");

        let (mut tx, orders) = spsc(8);
        let (_stx, stream) = crate::kit::private_stream::channel();
        let mut inputs = Inputs { orders, stream };
        let mut g = Recorder { close_reports_after: Some(1), ..Recorder::default() };
        tx.push(cancel_all()).unwrap();
        run(&mut g, &mut inputs, &AtomicBool::new(false), "test");
        assert!(g.finished, "stopped on ReportsClosed although the ring is still open");
    }
}
