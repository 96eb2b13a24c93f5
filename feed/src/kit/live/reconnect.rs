//! Reconnecting: [`Link`], the layer's connection state (waiting out a backoff, a session being
//! opened on the snapshot thread, or a session), and the seed of the reconnect jitter. The
//! backoff itself is [`crate::ws::Backoff`] (exponential, capped, jittered), owned by the layer
//! so it survives sessions and resets once frames flow again.
//!
//! Core thread; no allocation, no syscall.

use super::session::Session;
use qt_core::Nanos;
use std::net::SocketAddr;

/// The layer's connection state.
#[derive(Debug)]
pub(crate) enum Link {
    /// No session; start (or ask the snapshot thread for) one at `retry_at`.
    Waiting { retry_at: Nanos },
    /// The snapshot thread is opening the next session.
    Opening,
    /// Connecting, handshaking or open.
    Connected(Box<Session>),
}

/// A jitter seed that differs between processes and endpoints, so reconnect storms spread.
pub(crate) fn jitter_seed(addrs: &[SocketAddr]) -> u64 {
    addrs.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, a| h.rotate_left(7) ^ u64::from(a.port()))
        ^ u64::from(std::process::id())
}
