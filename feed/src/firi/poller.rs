//! [`FiriPoller`]: polls one Firi REST path (the depth body) at a configured interval on its own
//! thread and hands each result to the core thread through a bounded crossbeam channel.
//!
//! Thread and contract: [`FiriPoller::spawn`] starts one named thread (`qt-feed-firi`) that
//! blocks (HTTPS GET with [`crate::snapshot::HttpsClient`]'s timeouts) and allocates freely. It
//! sends with `try_send`: when the core falls behind, a poll is dropped (counted) rather than
//! queued, since only the newest book matters. The core thread calls [`FiriPoller::try_recv`]
//! (never blocks) and gives bodies to [`super::Decoder::on_frame`], and calls
//! [`super::Decoder::on_disconnect`] after as many consecutive failures as it tolerates.
//! Dropping the poller stops the thread promptly (its stop channel closes) and joins it.

use crate::error::FeedError;
use crate::snapshot::HttpsClient;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One poll's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// HTTP 200 and its body.
    Body(Vec<u8>),
    /// Transport error or non-200 status (the status, 0 for a transport error).
    Failed(u16),
}

/// The core thread's handle on the polling thread.
#[derive(Debug)]
pub struct FiriPoller {
    polls: Receiver<Poll>,
    stop: Option<Sender<()>>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl FiriPoller {
    /// Starts polling `GET path` on `client` every `interval` (measured start to start; a slow
    /// request delays the next one, never overlaps it), buffering at most `capacity` results.
    pub fn spawn(client: HttpsClient, path: String, interval: Duration, capacity: usize) -> Result<Self, FeedError> {
        if interval.is_zero() || capacity == 0 {
            return Err(FeedError::Config {
                field: "firi.poller",
                problem: format!("interval {interval:?} and capacity {capacity} must both be non-zero"),
            });
        }
        let (poll_tx, poll_rx) = crossbeam_channel::bounded(capacity);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let dropped = Arc::new(AtomicU64::new(0));
        let thread_dropped = dropped.clone();
        let thread = std::thread::Builder::new()
            .name("qt-feed-firi".into())
            .spawn(move || run(&client, &path, interval, &poll_tx, &stop_rx, &thread_dropped))
            .map_err(|e| FeedError::io("starting the Firi polling thread", e))?;
        Ok(Self { polls: poll_rx, stop: Some(stop_tx), dropped, thread: Some(thread) })
    }

    /// The oldest unread poll, if any (never blocks).
    #[inline]
    pub fn try_recv(&self) -> Option<Poll> {
        self.polls.try_recv().ok()
    }

    /// Polls dropped because the channel was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for FiriPoller {
    fn drop(&mut self) {
        // Closing the stop channel wakes the thread from its wait.
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    client: &HttpsClient,
    path: &str,
    interval: Duration,
    polls: &Sender<Poll>,
    stop: &Receiver<()>,
    dropped: &AtomicU64,
) {
    loop {
        let started = Instant::now();
        let poll = match client.get(path) {
            Ok((200, body)) => Poll::Body(body),
            Ok((status, _)) => {
                log::warn!("firi: GET {path}: HTTP {status}");
                Poll::Failed(status)
            }
            Err(e) => {
                log::warn!("firi: GET {path}: {e}");
                Poll::Failed(0)
            }
        };
        match polls.try_send(poll) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
        match stop.recv_timeout(interval.saturating_sub(started.elapsed())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
