//! [`Faults`]: failures injected on demand, from a test, from a stress scenario, or through the
//! simulator's control endpoint. The server and the protocols consult it at their decision
//! points; every setter takes effect for connections already open.
//!
//! Scopes: the server gives each listener its own [`Faults::scoped`] child of the shared one.
//! A protocol consults its listener's faults, and every query falls through to the shared
//! parent, so a fault set on the parent reaches every protocol while one set on a child (the
//! control endpoint's `"only_here": true`) reaches that listener's protocol alone.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, nanos_of)
}

/// `d` in nanoseconds, saturating at `i64::MAX` (about 292 years) instead of wrapping.
fn nanos_of(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The instant `d` from now, in nanoseconds since the epoch, saturating: a duration too long to
/// represent lasts until cleared, never wraps into the past.
fn from_now(d: Duration) -> i64 {
    now_ns().saturating_add(nanos_of(d))
}

/// Failures to inject.
#[derive(Debug, Default)]
pub struct Faults {
    ws_generation: AtomicU64,
    ws_stall_until_ns: AtomicI64,
    skip_sequence: AtomicU32,
    malformed_frames: AtomicU32,
    malformed_account_frames: AtomicU32,
    truncated_frames: AtomicU32,
    corrupt_levels: AtomicU32,
    http_failures: AtomicU32,
    http_failure_status: AtomicU32,
    /// `(path, count, status)`: REST failures of one endpoint (consulted by the Binance spot
    /// protocol before it handles a request).
    http_path_failures: Mutex<Vec<(String, u32, u16)>>,
    ack_latency_us: AtomicU64,
    outage_until_ns: AtomicI64,
    refuse_all: AtomicBool,
    /// The shared faults this listener's fall through to (`None`: these are the shared ones).
    parent: Option<Arc<Faults>>,
    /// The listeners' scopes (cleared with these).
    children: Mutex<Vec<Weak<Faults>>>,
}

impl Faults {
    /// No faults.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A scope of `parent` for one listener: its own faults, and every fault of `parent`
    /// (queries consult both; setters set the scope's own). Clearing `parent` clears it too.
    pub fn scoped(parent: &Arc<Faults>) -> Arc<Self> {
        let child = Arc::new(Self { parent: Some(parent.clone()), ..Self::default() });
        let mut children = parent.children.lock().unwrap_or_else(|e| e.into_inner());
        children.retain(|c| c.strong_count() > 0);
        children.push(Arc::downgrade(&child));
        child
    }

    /// The shared faults: the parent of a scope, else these.
    pub fn shared(self: &Arc<Self>) -> &Arc<Faults> {
        self.parent.as_ref().unwrap_or(self)
    }

    /// Every open WebSocket session drops (no close frame) at its next check.
    pub fn drop_ws_connections(&self) {
        self.ws_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current WebSocket generation; a session started in an older one must drop.
    pub fn ws_generation(&self) -> u64 {
        let parent = self.parent.as_ref().map_or(0, |p| p.ws_generation());
        self.ws_generation.load(Ordering::SeqCst).wrapping_add(parent)
    }

    /// Sessions send nothing (but keep the connection) for `d`.
    pub fn stall_ws_for(&self, d: Duration) {
        self.ws_stall_until_ns.store(from_now(d), Ordering::SeqCst);
    }

    /// Whether sessions are stalled now.
    pub fn ws_stalled(&self) -> bool {
        now_ns() < self.ws_stall_until_ns.load(Ordering::SeqCst) || self.parent.as_ref().is_some_and(|p| p.ws_stalled())
    }

    /// The next `n` book diffs (across sessions) each skip a sequence number.
    pub fn skip_sequence(&self, n: u32) {
        self.skip_sequence.fetch_add(n, Ordering::SeqCst);
    }

    /// Takes one pending sequence skip.
    pub fn take_skip_sequence(&self) -> bool {
        take_one(&self.skip_sequence) || self.parent.as_ref().is_some_and(|p| p.take_skip_sequence())
    }

    /// The next `n` stream messages are replaced by syntactically invalid JSON.
    pub fn malformed_frames(&self, n: u32) {
        self.malformed_frames.fetch_add(n, Ordering::SeqCst);
    }

    /// Takes one pending malformed frame.
    pub fn take_malformed_frame(&self) -> bool {
        take_one(&self.malformed_frames) || self.parent.as_ref().is_some_and(|p| p.take_malformed_frame())
    }

    /// The next `n` user data stream messages (account events: `executionReport`,
    /// `outboundAccountPosition`, USD-M's `ORDER_TRADE_UPDATE`/`ACCOUNT_UPDATE`) are replaced by
    /// syntactically invalid JSON; market data is untouched. The Binance user data streams
    /// only (spot and USD-M listen keys, the spot WebSocket API).
    pub fn malformed_account_frames(&self, n: u32) {
        self.malformed_account_frames.fetch_add(n, Ordering::SeqCst);
    }

    /// Takes one pending malformed account frame.
    pub fn take_malformed_account_frame(&self) -> bool {
        take_one(&self.malformed_account_frames)
            || self.parent.as_ref().is_some_and(|p| p.take_malformed_account_frame())
    }

    /// The next `n` stream messages are cut in half.
    pub fn truncated_frames(&self, n: u32) {
        self.truncated_frames.fetch_add(n, Ordering::SeqCst);
    }

    /// Takes one pending truncated frame.
    pub fn take_truncated_frame(&self) -> bool {
        take_one(&self.truncated_frames) || self.parent.as_ref().is_some_and(|p| p.take_truncated_frame())
    }

    /// The next `n` checksummed book messages (OKX, Kraken) each send one level with a wrong
    /// size while their checksum covers the true book: the client's checksum must fail.
    pub fn corrupt_levels(&self, n: u32) {
        self.corrupt_levels.fetch_add(n, Ordering::SeqCst);
    }

    /// Takes one pending corrupted level.
    pub fn take_corrupt_level(&self) -> bool {
        take_one(&self.corrupt_levels) || self.parent.as_ref().is_some_and(|p| p.take_corrupt_level())
    }

    /// The next `n` REST requests are answered with `status` (e.g. 500, 503, 429) instead.
    pub fn fail_http(&self, n: u32, status: u16) {
        self.http_failure_status.store(u32::from(status), Ordering::SeqCst);
        self.http_failures.fetch_add(n, Ordering::SeqCst);
    }

    /// Takes one pending REST failure, returning its status.
    pub fn take_http_failure(&self) -> Option<u16> {
        take_one(&self.http_failures)
            .then(|| self.http_failure_status.load(Ordering::SeqCst) as u16)
            .or_else(|| self.parent.as_ref().and_then(|p| p.take_http_failure()))
    }

    /// The next `n` REST requests for `path` (e.g. `/api/v3/myTrades`) are answered with
    /// `status` instead; other paths are untouched. Binance spot only.
    pub fn fail_http_path(&self, path: &str, n: u32, status: u16) {
        let mut f = self.http_path_failures.lock().unwrap_or_else(|e| e.into_inner());
        f.retain(|(p, _, _)| p != path);
        f.push((path.to_string(), n, status));
    }

    /// Takes one pending failure of `path`, returning its status.
    pub fn take_http_path_failure(&self, path: &str) -> Option<u16> {
        let own = {
            let mut f = self.http_path_failures.lock().unwrap_or_else(|e| e.into_inner());
            f.iter_mut().find(|(p, n, _)| p == path && *n > 0).map(|(_, n, status)| {
                *n -= 1;
                *status
            })
        };
        own.or_else(|| self.parent.as_ref().and_then(|p| p.take_http_path_failure(path)))
    }

    /// Order acknowledgements (REST order endpoints) are delayed by `d`.
    pub fn set_ack_latency(&self, d: Duration) {
        self.ack_latency_us.store(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// The injected acknowledgement delay.
    pub fn ack_latency(&self) -> Duration {
        let own = Duration::from_micros(self.ack_latency_us.load(Ordering::SeqCst));
        self.parent.as_ref().map_or(own, |p| own.max(p.ack_latency()))
    }

    /// For `d` (an outage; a duration too long to represent lasts until [`Faults::clear`]):
    /// requests are dropped unanswered and open connections dropped, except the simulator's
    /// own `/_sim/` endpoints, which stay reachable so the outage can be ended.
    pub fn outage_for(&self, d: Duration) {
        self.outage_until_ns.store(from_now(d), Ordering::SeqCst);
        self.drop_ws_connections();
    }

    /// Whether the venue is in an outage now.
    pub fn in_outage(&self) -> bool {
        self.refuse_all.load(Ordering::SeqCst)
            || now_ns() < self.outage_until_ns.load(Ordering::SeqCst)
            || self.parent.as_ref().is_some_and(|p| p.in_outage())
    }

    /// Clears every fault, its scopes' too (clock skew lives on the market).
    pub fn clear(&self) {
        let children: Vec<Arc<Faults>> = {
            let c = self.children.lock().unwrap_or_else(|e| e.into_inner());
            c.iter().filter_map(Weak::upgrade).collect()
        };
        for child in children {
            child.clear();
        }
        self.ws_stall_until_ns.store(0, Ordering::SeqCst);
        self.skip_sequence.store(0, Ordering::SeqCst);
        self.malformed_frames.store(0, Ordering::SeqCst);
        self.malformed_account_frames.store(0, Ordering::SeqCst);
        self.truncated_frames.store(0, Ordering::SeqCst);
        self.corrupt_levels.store(0, Ordering::SeqCst);
        self.http_failures.store(0, Ordering::SeqCst);
        self.http_path_failures.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.ack_latency_us.store(0, Ordering::SeqCst);
        self.outage_until_ns.store(0, Ordering::SeqCst);
        self.refuse_all.store(false, Ordering::SeqCst);
    }
}

fn take_one(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_sees_the_shared_faults_and_keeps_its_own() {
        let shared = Faults::new();
        let (okx, kraken) = (Faults::scoped(&shared), Faults::scoped(&shared));
        assert!(Arc::ptr_eq(okx.shared(), &shared) && Arc::ptr_eq(shared.shared(), &shared));
        // Set on one scope: that listener alone.
        okx.skip_sequence(1);
        assert!(!kraken.take_skip_sequence() && !shared.take_skip_sequence());
        assert!(okx.take_skip_sequence() && !okx.take_skip_sequence());
        let (g_okx, g_kraken) = (okx.ws_generation(), kraken.ws_generation());
        okx.drop_ws_connections();
        assert_ne!(okx.ws_generation(), g_okx);
        assert_eq!(kraken.ws_generation(), g_kraken, "the other listener's sessions stay");
        // Set on the shared faults: every scope sees it (a one-shot is taken once in all).
        shared.drop_ws_connections();
        assert_ne!(kraken.ws_generation(), g_kraken);
        shared.corrupt_levels(1);
        assert!(kraken.take_corrupt_level() && !okx.take_corrupt_level());
        okx.outage_for(Duration::from_secs(600));
        assert!(okx.in_outage() && !kraken.in_outage());
        // Clearing the shared faults clears the scopes too.
        shared.clear();
        assert!(!okx.in_outage());
    }

    #[test]
    fn one_shot_faults_are_taken_once_each() {
        let f = Faults::new();
        assert!(!f.take_skip_sequence());
        f.skip_sequence(2);
        assert!(f.take_skip_sequence());
        assert!(f.take_skip_sequence());
        assert!(!f.take_skip_sequence());
        f.fail_http(1, 503);
        assert_eq!(f.take_http_failure(), Some(503));
        assert_eq!(f.take_http_failure(), None);
        f.malformed_account_frames(1);
        assert!(!f.take_malformed_frame());
        assert!(f.take_malformed_account_frame());
        assert!(!f.take_malformed_account_frame());
        f.fail_http_path("/api/v3/myTrades", 1, 500);
        assert_eq!(f.take_http_path_failure("/api/v3/order"), None);
        assert_eq!(f.take_http_path_failure("/api/v3/myTrades"), Some(500));
        assert_eq!(f.take_http_path_failure("/api/v3/myTrades"), None);
        let g = f.ws_generation();
        f.outage_for(Duration::from_secs(60));
        assert!(f.in_outage());
        assert_ne!(f.ws_generation(), g);
        f.clear();
        assert!(!f.in_outage());
        f.stall_ws_for(Duration::from_secs(60));
        assert!(f.ws_stalled());
    }

    /// `Duration::from_millis(u64::MAX)` once wrapped to a time in the past: an outage that
    /// never happened. Now it saturates and lasts until cleared.
    #[test]
    fn huge_durations_saturate_instead_of_wrapping() {
        let f = Faults::new();
        f.outage_for(Duration::from_millis(u64::MAX));
        assert!(f.in_outage());
        f.stall_ws_for(Duration::MAX);
        assert!(f.ws_stalled());
        f.set_ack_latency(Duration::from_millis(u64::MAX));
        assert_eq!(f.ack_latency(), Duration::from_micros(u64::MAX));
        f.clear();
        assert!(!f.in_outage() && !f.ws_stalled());
    }
}
