//! The gateway's verdict on its venue, sent to the core as `ControlCommand::VenueHealth`: the
//! part of the core's health score only the gateway can see (docs/FAILOVER.md, "Health score").
//!
//! Signals:
//! - **requests** — every request of the gateway's own HTTPS client ends in a
//!   [`RequestOutcomes`] entry: an answer below HTTP 500 is a success (a 4xx is the venue
//!   answering), a transport failure (connect refused or reset, TLS, a timeout, a dropped
//!   connection) or an HTTP 5xx a failure. [`FAILURES_TO_DOWN`] failures in a row make the
//!   venue unhealthy; the first failure makes the loop probe at once (one request to the
//!   venue's time endpoint), so a venue that went dark is confirmed within a pass or two
//!   rather than on the next order;
//! - **private streams** — an account's stream that stays disconnected for [`STREAM_GRACE`]
//!   (longer than a reconnect takes) makes the venue unhealthy: its fills are unseen.
//!
//! Back to healthy: every stream up, the last request answered, and at least
//! [`SUCCESSES_TO_UP`] requests answered since the venue went down. While it is down the loop
//! probes every [`PROBE_EVERY`] (nothing else reaches a venue the router has left).
//!
//! Only changes are sent (debounced by the rules above; the reason logged once per change),
//! with `try_send`: the loop never blocks on the core. A change that meets a full channel is
//! counted ([`HealthCounts::blocked`]), logged once, and retried on every pass until it goes.
//!
//! Runs on the gateway thread; allocates only to word a change (cold).

use crate::kit::http::TransportError;
use crate::kit::private_stream::StreamEvent;
use crossbeam_channel::{Sender, TrySendError};
use qt_core::VenueId;
use qt_core::engine::ControlCommand;
use std::time::{Duration, Instant};

/// Failed requests in a row that make the venue unhealthy.
pub(crate) const FAILURES_TO_DOWN: u32 = 2;
/// Requests answered after going down (the last one included) before it is healthy again.
pub(crate) const SUCCESSES_TO_UP: u64 = 2;
/// How long a private stream may stay down (reconnecting) before the venue is unhealthy.
pub(crate) const STREAM_GRACE: Duration = Duration::from_secs(2);
/// Interval between probes of a venue judged unhealthy.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(500);

/// What the requests of one HTTPS client came to; kept by the client, read by the reporter.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RequestOutcomes {
    /// Requests answered (any status below 500).
    pub(crate) ok: u64,
    /// Requests without a usable answer (transport failures, timeouts, HTTP 5xx).
    pub(crate) failed: u64,
    /// Failures since the last answer.
    pub(crate) failures_in_a_row: u32,
    /// Why the last failure failed.
    pub(crate) last_failure: String,
}

impl RequestOutcomes {
    /// Notes the result of one request.
    pub(crate) fn record(&mut self, result: Result<u16, &TransportError>) {
        match result {
            Ok(status) if status < 500 => {
                self.ok += 1;
                self.failures_in_a_row = 0;
            }
            Ok(status) => self.fail(format_args!("HTTP {status}")),
            Err(e) => self.fail(format_args!("{e}")),
        }
    }

    #[cold]
    fn fail(&mut self, why: std::fmt::Arguments<'_>) {
        self.failed += 1;
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        self.last_failure.clear();
        std::fmt::Write::write_fmt(&mut self.last_failure, why).ok();
    }
}

/// What the reporter sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HealthCounts {
    /// Changes sent to the core.
    pub(crate) sent: u64,
    /// Changes that met a full control channel at first (each retried until sent).
    pub(crate) blocked: u64,
}

/// Why the venue is judged down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Requests,
    Stream { account: usize, since: Instant },
}

/// The gateway loop's judge of its venue (see the module doc).
#[derive(Debug)]
pub(crate) struct HealthReporter {
    venue: VenueId,
    name: &'static str,
    control: Option<Sender<ControlCommand>>,
    /// By account index: since when its stream is down.
    streams_down: Vec<Option<Instant>>,
    /// The verdict.
    healthy: bool,
    /// What the core was last told (it presumes a venue healthy at start).
    reported: bool,
    /// Requests answered when the venue went down.
    ok_at_down: u64,
    /// Failures counted when the last suspicion probe was scheduled.
    probed_at_failures: u64,
    next_probe: Option<Instant>,
    /// A change is waiting for room in the channel (logged once).
    waiting: bool,
    counts: HealthCounts,
}

impl HealthReporter {
    /// Healthy, as the core presumes at start. `name` is the venue's, for logs; `control`
    /// `None`: judged and logged, nothing sent.
    pub(crate) fn new(venue: VenueId, name: &'static str, control: Option<Sender<ControlCommand>>) -> Self {
        Self {
            venue,
            name,
            control,
            streams_down: Vec::new(),
            healthy: true,
            reported: true,
            ok_at_down: 0,
            probed_at_failures: 0,
            next_probe: None,
            waiting: false,
            counts: HealthCounts::default(),
        }
    }

    /// The current verdict.
    #[cfg(test)]
    pub(crate) fn healthy(&self) -> bool {
        self.healthy
    }

    /// What was sent.
    pub(crate) fn counts(&self) -> HealthCounts {
        self.counts
    }

    /// A stream thread's connect or drop for account index `account`.
    pub(crate) fn on_stream(&mut self, account: usize, event: &StreamEvent, now: Instant) {
        if self.streams_down.len() <= account {
            self.streams_down.resize(account + 1, None);
        }
        match event {
            StreamEvent::Connected { .. } => self.streams_down[account] = None,
            StreamEvent::Disconnected { .. } => {
                let since = &mut self.streams_down[account];
                since.get_or_insert(now);
            }
            StreamEvent::Frame(_) => {}
        }
    }

    /// Whether the loop should probe the venue now.
    pub(crate) fn probe_due(&self, now: Instant) -> bool {
        self.next_probe.is_some_and(|t| now >= t)
    }

    /// The loop probed at `now`: the next probe is due after [`PROBE_EVERY`] while the venue is
    /// down, else only on the next suspicion.
    pub(crate) fn probed(&mut self, now: Instant) {
        self.next_probe = (!self.healthy).then(|| now + PROBE_EVERY);
    }

    fn trigger(&self, now: Instant, requests: &RequestOutcomes) -> Option<Trigger> {
        if requests.failures_in_a_row >= FAILURES_TO_DOWN {
            return Some(Trigger::Requests);
        }
        self.streams_down.iter().enumerate().find_map(|(account, since)| {
            since
                .filter(|s| now.saturating_duration_since(*s) >= STREAM_GRACE)
                .map(|since| Trigger::Stream { account, since })
        })
    }

    /// Judges the venue at `now` from `requests` and the streams; sends a change.
    pub(crate) fn judge(&mut self, now: Instant, requests: &RequestOutcomes) {
        match (self.healthy, self.trigger(now, requests)) {
            (true, Some(t)) => self.went_down(now, t, requests),
            (true, None) => {
                if requests.failures_in_a_row > 0 && requests.failed != self.probed_at_failures {
                    // One failure: look again at once rather than on the next order.
                    self.probed_at_failures = requests.failed;
                    self.next_probe = Some(now);
                }
            }
            (false, None) => {
                let streams_up = self.streams_down.iter().all(Option::is_none);
                let answered = requests.ok.saturating_sub(self.ok_at_down);
                if streams_up && requests.failures_in_a_row == 0 && answered >= SUCCESSES_TO_UP {
                    self.healthy = true;
                    self.next_probe = None;
                    log::info!(
                        "{} gateway: venue healthy again ({answered} requests answered, every private stream up); \
                         reported to the core",
                        self.name
                    );
                }
            }
            (false, Some(_)) => {}
        }
        if self.healthy != self.reported {
            self.send();
        }
    }

    #[cold]
    fn went_down(&mut self, now: Instant, t: Trigger, requests: &RequestOutcomes) {
        self.healthy = false;
        self.ok_at_down = requests.ok;
        self.next_probe = Some(now + PROBE_EVERY);
        match t {
            Trigger::Requests => log::warn!(
                "{} gateway: venue unhealthy: {} requests in a row failed (last: {}); reported to the core",
                self.name,
                requests.failures_in_a_row,
                requests.last_failure
            ),
            Trigger::Stream { account, since } => log::warn!(
                "{} gateway: venue unhealthy: the private stream of account #{account} has been down for {:?}; \
                 reported to the core",
                self.name,
                now.saturating_duration_since(since)
            ),
        }
    }

    fn send(&mut self) {
        let Some(tx) = &self.control else {
            self.reported = self.healthy;
            return;
        };
        match tx.try_send(ControlCommand::VenueHealth { venue: self.venue, healthy: self.healthy }) {
            Ok(()) => {
                self.reported = self.healthy;
                self.counts.sent += 1;
                self.waiting = false;
            }
            Err(TrySendError::Full(_)) => {
                if !self.waiting {
                    self.waiting = true;
                    self.counts.blocked += 1;
                    log::error!(
                        "{} gateway: the control channel is full; the venue's health (healthy: {}) waits to be sent",
                        self.name,
                        self.healthy
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                // The core is gone (shutting down): nobody to tell.
                self.reported = self.healthy;
                self.waiting = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: VenueId = VenueId(4);

    fn failure() -> TransportError {
        TransportError { sent: true, timed_out: false, reason: "connection reset".into() }
    }

    fn rig(capacity: usize) -> (HealthReporter, crossbeam_channel::Receiver<ControlCommand>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        (HealthReporter::new(V, "test", Some(tx)), rx)
    }

    fn sent(rx: &crossbeam_channel::Receiver<ControlCommand>) -> Vec<bool> {
        rx.try_iter()
            .map(|c| match c {
                ControlCommand::VenueHealth { venue, healthy } => {
                    assert_eq!(venue, V);
                    healthy
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn outcomes_count_5xx_and_transport_failures_and_an_answer_resets_the_run() {
        let mut o = RequestOutcomes::default();
        o.record(Ok(200));
        o.record(Ok(404));
        o.record(Ok(503));
        o.record(Err(&failure()));
        assert_eq!((o.ok, o.failed, o.failures_in_a_row), (2, 2, 2));
        assert!(o.last_failure.contains("connection reset"), "{}", o.last_failure);
        o.record(Ok(429));
        assert_eq!((o.ok, o.failures_in_a_row), (3, 0));
    }

    #[test]
    fn one_failure_probes_at_once_two_in_a_row_report_down_once() {
        let (mut h, rx) = rig(8);
        let now = Instant::now();
        let mut o = RequestOutcomes::default();
        o.record(Ok(200));
        h.judge(now, &o);
        assert!(!h.probe_due(now) && sent(&rx).is_empty(), "healthy: nothing to say");

        o.record(Ok(502));
        h.judge(now, &o);
        assert!(h.healthy() && h.probe_due(now), "one failure is a suspicion, probed at once");
        assert!(sent(&rx).is_empty());
        h.probed(now);
        assert!(!h.probe_due(now + PROBE_EVERY * 10), "a suspicion is probed once");

        o.record(Err(&failure()));
        for _ in 0..5 {
            h.judge(now, &o);
        }
        assert!(!h.healthy());
        assert_eq!(sent(&rx), vec![false], "the change is sent once");
        assert!(!h.probe_due(now) && h.probe_due(now + PROBE_EVERY), "down: probed periodically");
        h.probed(now + PROBE_EVERY);
        assert!(h.probe_due(now + PROBE_EVERY * 2));
    }

    #[test]
    fn back_up_after_two_answers_with_every_stream_up() {
        let (mut h, rx) = rig(8);
        let now = Instant::now();
        let mut o = RequestOutcomes::default();
        o.record(Err(&failure()));
        o.record(Err(&failure()));
        h.judge(now, &o);
        assert_eq!(sent(&rx), vec![false]);

        o.record(Ok(200));
        h.judge(now, &o);
        assert!(!h.healthy(), "one answer is not enough");
        o.record(Err(&failure()));
        o.record(Ok(200));
        h.judge(now, &o);
        assert!(h.healthy(), "two answers since down, the last one good");
        assert_eq!(sent(&rx), vec![true]);
        assert_eq!(h.counts(), HealthCounts { sent: 2, blocked: 0 });
        assert!(!h.probe_due(now + PROBE_EVERY * 10), "healthy: no probes");
    }

    #[test]
    fn a_stream_down_past_the_grace_reports_down_until_it_is_back() {
        let (mut h, rx) = rig(8);
        let t0 = Instant::now();
        let mut o = RequestOutcomes::default();
        h.on_stream(1, &StreamEvent::Disconnected { reason: "reset".into() }, t0);
        h.judge(t0 + STREAM_GRACE / 2, &o);
        assert!(h.healthy(), "a reconnect within the grace is not an outage");
        h.on_stream(1, &StreamEvent::Disconnected { reason: "again".into() }, t0 + STREAM_GRACE / 2);
        h.judge(t0 + STREAM_GRACE, &o);
        assert!(!h.healthy(), "down since the first drop");
        assert_eq!(sent(&rx), vec![false]);

        // Requests answer, but the stream is still down: stays down.
        o.record(Ok(200));
        o.record(Ok(200));
        h.judge(t0 + STREAM_GRACE * 2, &o);
        assert!(!h.healthy());
        h.on_stream(1, &StreamEvent::Connected { reconnect: true }, t0 + STREAM_GRACE * 2);
        h.judge(t0 + STREAM_GRACE * 2, &o);
        assert!(h.healthy());
        assert_eq!(sent(&rx), vec![true]);
    }

    #[test]
    fn a_full_channel_never_blocks_is_counted_once_and_the_change_goes_later() {
        let (mut h, rx) = rig(1);
        let now = Instant::now();
        let (tx, _) = (h.control.clone().unwrap(), ());
        tx.send(ControlCommand::Shutdown).unwrap();
        let mut o = RequestOutcomes::default();
        o.record(Ok(500));
        o.record(Ok(500));
        for _ in 0..3 {
            h.judge(now, &o);
        }
        assert_eq!(h.counts(), HealthCounts { sent: 0, blocked: 1 });
        assert!(matches!(rx.try_recv(), Ok(ControlCommand::Shutdown)));
        h.judge(now, &o);
        assert_eq!(sent(&rx), vec![false]);
        assert_eq!(h.counts(), HealthCounts { sent: 1, blocked: 1 });
    }

    #[test]
    fn without_a_channel_the_verdict_is_kept_and_nothing_sent() {
        let mut h = HealthReporter::new(V, "test", None);
        let mut o = RequestOutcomes::default();
        o.record(Ok(500));
        o.record(Ok(500));
        h.judge(Instant::now(), &o);
        assert!(!h.healthy());
        assert_eq!(h.counts(), HealthCounts::default());
    }
}
