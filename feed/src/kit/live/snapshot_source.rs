//! [`SnapshotSource`]: the live layer's optional snapshot thread (`qt-feed-snapshot`), for venues
//! that sync a diff stream against REST snapshots or open every session over REST. It does all
//! that blocks: REST snapshots (retried with backoff; the newest request per symbol only) and,
//! before every (re)connect of a venue that [`LiveVenue::opens_sessions`], the session opening
//! (KuCoin: `POST /api/v1/bullet-public` for a token, endpoint and ping interval) plus DNS for
//! the session's host.
//!
//! Both directions are bounded crossbeam channels; the core thread uses only `try_send` /
//! `try_recv`, so it never blocks. Dropping the handle stops the thread within its 100 ms wait.

use super::session::ReadySession;
use super::venue::LiveVenue;
use crate::error::FeedError;
use crate::snapshot::HttpsClient;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Attempts per snapshot before a failure is reported.
const SNAPSHOT_ATTEMPTS: u32 = 4;
/// Capacity of each direction's channel.
const CHANNEL_CAPACITY: usize = 256;

/// Work for the snapshot thread.
pub(crate) enum Job {
    /// Open and resolve the next session.
    Session,
    /// Fetch symbol `symbol`'s snapshot for request `generation`.
    Snapshot { symbol: usize, generation: u64 },
}

/// What the snapshot thread answers.
pub(crate) enum Reply {
    Session(Result<ReadySession, String>),
    Snapshot { symbol: usize, generation: u64, result: Result<Vec<u8>, String> },
}

/// The core thread's handle on the snapshot thread.
#[derive(Debug)]
pub(crate) struct SnapshotSource {
    jobs: Sender<Job>,
    replies: Receiver<Reply>,
    stop: Arc<AtomicBool>,
}

impl Drop for SnapshotSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl SnapshotSource {
    /// Starts the thread for `venue`, fetching with `rest`; `server_name` overrides the TLS name
    /// of opened sessions.
    #[cold]
    pub(crate) fn spawn<V: LiveVenue>(
        venue: Arc<V>,
        rest: HttpsClient,
        server_name: Option<String>,
    ) -> Result<Self, FeedError> {
        let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(CHANNEL_CAPACITY);
        let (rep_tx, rep_rx) = crossbeam_channel::bounded::<Reply>(CHANNEL_CAPACITY);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        std::thread::Builder::new()
            .name("qt-feed-snapshot".into())
            .spawn(move || run(&*venue, &rest, server_name.as_deref(), &job_rx, &rep_tx, &thread_stop))
            .map_err(|e| FeedError::io("starting the snapshot thread", e))?;
        Ok(Self { jobs: job_tx, replies: rep_rx, stop })
    }

    /// Queues `job`; false if the queue is full (or the thread gone): ask again later.
    #[inline]
    pub(crate) fn try_send(&self, job: Job) -> bool {
        match self.jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// The next answer, if any (never blocks).
    #[inline]
    pub(crate) fn try_recv(&self) -> Option<Reply> {
        self.replies.try_recv().ok()
    }
}

fn run<V: LiveVenue>(
    venue: &V,
    rest: &HttpsClient,
    server_name: Option<&str>,
    jobs: &Receiver<Job>,
    replies: &Sender<Reply>,
    stop: &AtomicBool,
) {
    let mut snapshots: Vec<(usize, u64)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let first = match jobs.recv_timeout(Duration::from_millis(100)) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut session = false;
        for job in std::iter::once(first).chain(jobs.try_iter()) {
            match job {
                Job::Session => session = true,
                Job::Snapshot { symbol, generation } => snapshots.push((symbol, generation)),
            }
        }
        // A session first: snapshots are useless without the stream they sync.
        if session {
            let reply = Reply::Session(open_session(venue, rest, server_name));
            if replies.send(reply).is_err() {
                return;
            }
        }
        // Newest request per symbol only.
        snapshots.sort_by_key(|&(s, g)| (s, std::cmp::Reverse(g)));
        snapshots.dedup_by_key(|r| r.0);
        for (symbol, generation) in snapshots.drain(..) {
            let result = match venue.snapshot_target(symbol) {
                Some(target) => fetch_snapshot(rest, &target, stop),
                None => Err(format!("{}: no snapshot target for symbol {symbol}", venue.name())),
            };
            if replies.send(Reply::Snapshot { symbol, generation, result }).is_err() {
                return;
            }
        }
    }
}

#[cold]
fn open_session<V: LiveVenue>(
    venue: &V,
    rest: &HttpsClient,
    server_name: Option<&str>,
) -> Result<ReadySession, String> {
    let plan = venue.open_session(rest)?;
    ReadySession::resolve(plan, server_name).map_err(|e| e.to_string())
}

#[cold]
fn fetch_snapshot(rest: &HttpsClient, target: &str, stop: &AtomicBool) -> Result<Vec<u8>, String> {
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    for attempt in 1..=SNAPSHOT_ATTEMPTS {
        match rest.get(target) {
            Ok((200, body)) => return Ok(body),
            Ok((status, body)) => {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                last = format!("HTTP {status} for {target}: {text}");
            }
            Err(e) => last = e.to_string(),
        }
        log::warn!("snapshot attempt {attempt}/{SNAPSHOT_ATTEMPTS} failed: {last}");
        if stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Err(last)
}
