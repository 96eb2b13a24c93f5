//! [`LiveCounters`]: what the live layer counts about its connection (the decoder counts frames,
//! records, gaps and checksums itself). Plain values owned by the core thread; read them with
//! [`super::LiveFeed::link_counters`].

/// Connection-level counters of a [`super::LiveFeed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// WebSocket sessions opened.
    pub connects: u64,
    /// Sessions opened after the first (reconnections).
    pub reconnects: u64,
    /// Open sessions lost (including those dropped for silence).
    pub disconnects: u64,
    /// Connection attempts that failed before the session opened.
    pub connect_failures: u64,
    /// Sessions the venue would not open over REST (token request refused, DNS).
    pub session_failures: u64,
    /// REST snapshot fetches that failed after retries.
    pub snapshot_failures: u64,
    /// Subscription frames sent (on every session, and for each (un)subscribed symbol).
    pub subscriptions_sent: u64,
    /// Application-level heartbeats sent.
    pub heartbeats: u64,
    /// Open sessions dropped because nothing arrived for the silence timeout.
    pub silence_drops: u64,
    /// Book resubscriptions sent (after a decoder request or a snapshot timeout).
    pub resubscribes: u64,
    /// Books that waited longer than the snapshot timeout.
    pub snapshot_timeouts: u64,
}
