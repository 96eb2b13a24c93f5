//! Stopping on a signal: SIGINT, SIGTERM and SIGHUP ask for a clean stop; a second one exits
//! at once.
//!
//! systemd and container runtimes stop a service with SIGTERM and escalate to SIGKILL after a
//! grace period; an operator presses Ctrl-C. Both must end the same way: strategies stop,
//! open orders are cancelled where the run does that, positions are reconciled and the summary
//! is printed, exit 0. An operator who does not want to wait signals again and the process
//! exits immediately with [`EXIT_SECOND_SIGNAL`] (no summary).
//!
//! The handler runs on the `ctrlc` crate's own thread (not in signal context), so it may log.

use anyhow::Context;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit status of a process ended by a second signal (128 + SIGINT, as shells report Ctrl-C).
pub const EXIT_SECOND_SIGNAL: i32 = 130;

/// What a signal asks for, given whether a stop was already requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// The first signal: stop cleanly.
    Stop,
    /// A signal after the stop was requested: exit now.
    ExitNow,
}

/// Marks `stop` and says what this signal asks for.
pub fn on_signal(stop: &AtomicBool) -> OnSignal {
    if stop.swap(true, Ordering::SeqCst) { OnSignal::ExitNow } else { OnSignal::Stop }
}

/// Installs the process's signal handler (once per process) and returns the flag it sets.
/// `what` names what is stopping, for the log line.
pub fn stop_on_signal(what: &'static str) -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || match on_signal(&flag) {
        OnSignal::ExitNow => std::process::exit(EXIT_SECOND_SIGNAL),
        OnSignal::Stop => log::warn!("stop requested: stopping {what} cleanly (signal again to exit at once)"),
    })
    .context("installing the SIGINT/SIGTERM handler")?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_stops_and_the_next_exits() {
        let stop = AtomicBool::new(false);
        assert_eq!(on_signal(&stop), OnSignal::Stop);
        assert!(stop.load(Ordering::SeqCst));
        assert_eq!(on_signal(&stop), OnSignal::ExitNow);
        assert_eq!(on_signal(&stop), OnSignal::ExitNow);
    }
}
