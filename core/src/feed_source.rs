//! [`FeedSource`]: anything the core thread polls for market data.
//!
//! A source is polled on the core thread in a fixed order every loop iteration. It must not
//! block: it hands over what is available now (never waits for more), and returns how many
//! records it delivered so the loop's idle strategy knows whether there was work. Socket-backed
//! sources register with the loop's `mio` registry and are told when they are readable; others
//! (rings from another thread, replay) are simply polled.

use crate::event::MarketEvent;
use crate::time::Nanos;

/// What a source reports about itself after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// Delivering data.
    Live,
    /// Temporarily without data (reconnecting, resyncing); books it feeds are invalid.
    Recovering,
    /// Will never deliver again (end of a simulation or replay).
    Finished,
}

/// A source of normalized market events polled by the core thread.
pub trait FeedSource: Send {
    /// A short name for logs and metrics.
    fn name(&self) -> &str;

    /// Registers sockets with the loop's poller; `token_base` is this source's first token.
    /// Returns whether anything was registered. Called once at start-up.
    fn register(&mut self, _registry: &mio::Registry, _token_base: usize) -> std::io::Result<bool> {
        Ok(false)
    }

    /// Told that the socket with `token` is ready (after the loop's zero-timeout poll).
    fn on_ready(&mut self, _token: usize) {}

    /// Delivers available records to `sink` in venue order without blocking; returns how many.
    /// `local_now` is the loop's monotonic time at the start of the iteration.
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize;

    /// Current state.
    fn state(&self) -> FeedState;
}
