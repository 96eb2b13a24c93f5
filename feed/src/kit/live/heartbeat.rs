//! Heartbeat and silence of one live session: [`Heartbeat`], a venue's application-level rule
//! (WebSocket pings are answered by tungstenite inside `ws`), and `Liveness`, the session's
//! clock against it — when a heartbeat is due, and when the session has been silent long enough
//! to be dropped.
//!
//! Core thread; plain arithmetic on `Nanos`, no allocation, no syscall.

use qt_core::Nanos;

/// A venue's application-level heartbeat rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heartbeat {
    /// The venue needs none (its WebSocket pings, answered by tungstenite, are enough).
    None,
    /// Send `text` every `interval` (Bybit `{"op":"ping"}`, Kraken `{"method":"ping"}`, KuCoin
    /// `{"id":..,"type":"ping"}` at its bullet's `pingInterval`).
    Every {
        /// The request frame.
        text: String,
        /// How often.
        interval: Nanos,
    },
    /// Send `text` once nothing has been received for `interval` (OKX: "if there's no message
    /// within N seconds (N < 30), send the string 'ping'").
    WhenSilent {
        /// The request frame.
        text: String,
        /// How long a silence triggers it.
        interval: Nanos,
    },
}

impl Heartbeat {
    /// The rule's interval, if it has one.
    pub fn interval(&self) -> Option<Nanos> {
        match self {
            Heartbeat::None => None,
            Heartbeat::Every { interval, .. } | Heartbeat::WhenSilent { interval, .. } => Some(*interval),
        }
    }
}

/// One session's heartbeat and silence clock.
#[derive(Debug, Clone)]
pub(crate) struct Liveness {
    rule: Heartbeat,
    silence_timeout: Option<Nanos>,
    /// When a frame last arrived (or the session opened).
    last_rx: Nanos,
    /// When the last heartbeat went out (or the session opened).
    last_beat: Nanos,
}

impl Liveness {
    pub(crate) fn new(rule: Heartbeat, silence_timeout: Option<Nanos>) -> Self {
        Self { rule, silence_timeout, last_rx: Nanos::ZERO, last_beat: Nanos::ZERO }
    }

    /// The session opened at `now`: both clocks start.
    pub(crate) fn opened(&mut self, now: Nanos) {
        self.last_rx = now;
        self.last_beat = now;
    }

    /// Frames arrived at `now`.
    #[inline]
    pub(crate) fn received(&mut self, now: Nanos) {
        self.last_rx = now;
    }

    /// Whether nothing arrived for the silence timeout.
    #[inline]
    pub(crate) fn is_silent(&self, now: Nanos) -> bool {
        self.silence_timeout.is_some_and(|t| now.saturating_sub(self.last_rx) >= t)
    }

    /// Whether a heartbeat is due.
    #[inline]
    pub(crate) fn beat_due(&self, now: Nanos) -> bool {
        match &self.rule {
            Heartbeat::None => false,
            Heartbeat::Every { interval, .. } => now.saturating_sub(self.last_beat) >= *interval,
            Heartbeat::WhenSilent { interval, .. } => {
                now.saturating_sub(self.last_rx) >= *interval && now.saturating_sub(self.last_beat) >= *interval
            }
        }
    }

    /// The heartbeat text if one is due now (and counts it as sent).
    pub(crate) fn take_beat(&mut self, now: Nanos) -> Option<&str> {
        if !self.beat_due(now) {
            return None;
        }
        self.last_beat = now;
        match &self.rule {
            Heartbeat::None => None,
            Heartbeat::Every { text, .. } | Heartbeat::WhenSilent { text, .. } => Some(text),
        }
    }
}

/// Start-up checks of a heartbeat rule and silence timeout; pushes each problem.
pub(crate) fn check(rule: &Heartbeat, silence_timeout: Option<Nanos>, problems: &mut Vec<String>) {
    if let Some(interval) = rule.interval()
        && interval <= Nanos::ZERO
    {
        problems.push(format!("heartbeat interval: {} ns is not positive", interval.0));
    }
    if let Some(t) = silence_timeout
        && t <= Nanos::ZERO
    {
        problems.push(format!("silence_timeout: {} ns is not positive", t.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn every_beats_on_its_interval_whatever_arrives() {
        let mut l = Liveness::new(Heartbeat::Every { text: "ping".into(), interval: Nanos(10 * S) }, None);
        l.opened(Nanos(0));
        l.received(Nanos(9 * S));
        assert_eq!(l.take_beat(Nanos(9 * S)), None);
        assert_eq!(l.take_beat(Nanos(10 * S)), Some("ping"));
        assert_eq!(l.take_beat(Nanos(15 * S)), None, "the next one is an interval later");
        assert!(!l.is_silent(Nanos(1000 * S)), "no silence timeout: never silent");
    }

    #[test]
    fn when_silent_beats_only_after_a_quiet_interval_and_silence_drops() {
        let rule = Heartbeat::WhenSilent { text: "ping".into(), interval: Nanos(20 * S) };
        let mut l = Liveness::new(rule, Some(Nanos(30 * S)));
        l.opened(Nanos(0));
        l.received(Nanos(15 * S));
        assert_eq!(l.take_beat(Nanos(25 * S)), None, "heard from 10 s ago");
        assert_eq!(l.take_beat(Nanos(35 * S)), Some("ping"));
        assert!(!l.is_silent(Nanos(44 * S)));
        assert!(l.is_silent(Nanos(45 * S)));
    }
}
