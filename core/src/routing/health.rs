//! Venue health: a score per venue, and per account × venue, from what the core sees.
//!
//! Components (each passes or fails against [`HealthSettings`]):
//!
//! | component | measured | fails when |
//! |---|---|---|
//! | connectivity (40) | the gateway's report (`ControlCommand::VenueHealth`) and the venue's feeds | the gateway says down, or a feed is recovering |
//! | answers (20) | orders sent and not yet answered (first report of any kind), and when the venue last answered | orders wait and none was answered for `ack_timeout` |
//! | latency (20) | order → first answer, the last [`LATENCY_SAMPLES`] answers of the current and the previous `window` | their p99 exceeds `max_ack_p99` |
//! | rejects (10) | rejects and answers in a fixed window (the current and the previous `window`) | at least `min_answers` answers and a reject share above `max_reject_permille` |
//! | market data (10) | age of the freshest book of an instrument the venue lists | older than `max_md_age` (when set) |
//!
//! The score is the sum of the passing components' weights (0–100); a venue is healthy when
//! every component passes (score 100). An account × venue adds its own reject window (one
//! account's key refused, say) to the venue's score: healthy when the venue is and the
//! account's own reject share passes.
//!
//! Thread: owned by the core thread; sized at start-up; every update is a few integer
//! operations and the p99 a copy and select over [`LATENCY_SAMPLES`] values on the stack (no
//! allocation, no lock). Live runs only: the health is judged on the monotonic clock, and what
//! it decides reaches the journal as the timer's venue bitmask and failover records.

use crate::time::Nanos;

/// Ack latencies kept per venue for the p99.
pub const LATENCY_SAMPLES: usize = 64;

/// Thresholds of the health score (config `[failover]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// Length of one reject window.
    pub window: Nanos,
    /// Answers a window pair needs before its reject share is judged.
    pub min_answers: u32,
    /// Largest reject share, per mille of answers.
    pub max_reject_permille: u32,
    /// Orders waiting and no answer for this long: the venue has stopped answering.
    pub ack_timeout: Nanos,
    /// Largest p99 of order → answer.
    pub max_ack_p99: Nanos,
    /// Largest age of the venue's freshest book (`None`: not judged).
    pub max_md_age: Option<Nanos>,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            window: Nanos(10 * Nanos::SECOND.0),
            min_answers: 10,
            max_reject_permille: 500,
            ack_timeout: Nanos(5 * Nanos::SECOND.0),
            max_ack_p99: Nanos(2 * Nanos::SECOND.0),
            max_md_age: Some(Nanos(30 * Nanos::SECOND.0)),
        }
    }
}

/// Component weights (sum 100).
const W_CONNECTIVITY: u32 = 40;
const W_ANSWERS: u32 = 20;
const W_LATENCY: u32 = 20;
const W_REJECTS: u32 = 10;
const W_MARKET_DATA: u32 = 10;

/// Rejects among answers over a fixed window and the one before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectWindow {
    start: Nanos,
    answers: [u32; 2],
    rejects: [u32; 2],
}

impl RejectWindow {
    fn roll(&mut self, now: Nanos, window: Nanos) {
        if now.saturating_sub(self.start) >= window {
            // A gap longer than two windows leaves nothing from before.
            let stale = now.saturating_sub(self.start) >= Nanos(window.0.saturating_mul(2));
            self.answers = [if stale { 0 } else { self.answers[1] }, 0];
            self.rejects = [if stale { 0 } else { self.rejects[1] }, 0];
            self.start = now;
        }
    }

    /// Counts one answer at `now`.
    #[inline]
    pub fn on_answer(&mut self, rejected: bool, now: Nanos, window: Nanos) {
        self.roll(now, window);
        self.answers[1] = self.answers[1].saturating_add(1);
        self.rejects[1] = self.rejects[1].saturating_add(u32::from(rejected));
    }

    /// The reject share, per mille, over both windows at `now` (0 with no answer).
    pub fn permille(&mut self, now: Nanos, window: Nanos) -> u32 {
        self.roll(now, window);
        let answers = self.answers[0].saturating_add(self.answers[1]);
        let rejects = self.rejects[0].saturating_add(self.rejects[1]);
        if answers == 0 { 0 } else { (u64::from(rejects) * 1000 / u64::from(answers)) as u32 }
    }

    /// Whether the share passes `s` at `now` (too few answers always pass).
    pub fn passes(&mut self, now: Nanos, s: &HealthSettings) -> bool {
        let permille = self.permille(now, s.window);
        self.answers[0].saturating_add(self.answers[1]) < s.min_answers || permille <= s.max_reject_permille
    }
}

/// One venue's health inputs and last verdict.
#[derive(Debug, Clone)]
pub struct VenueHealth {
    /// The gateway's last report.
    pub reported: bool,
    waiting: u32,
    quiet_since: Nanos,
    /// (answered at, latency ns): samples age out with the windows, so a venue that gets no
    /// orders (not selected) is not held to its last slow answers forever.
    latencies: [(Nanos, u64); LATENCY_SAMPLES],
    samples: usize,
    next: usize,
    rejects: RejectWindow,
    /// The last verdict.
    pub verdict: Verdict,
}

/// What the last judgement found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    /// 0–100.
    pub score: u32,
    /// Every component passed.
    pub healthy: bool,
    /// Orders waiting for their first answer.
    pub waiting: u32,
    /// p99 of order → first answer, ns (0 with no sample).
    pub ack_p99: Nanos,
    /// Reject share, per mille.
    pub reject_permille: u32,
    /// Age of the freshest book, ns (`Nanos::ZERO` when not known).
    pub md_age: Nanos,
}

impl Default for VenueHealth {
    fn default() -> Self {
        Self {
            reported: true,
            waiting: 0,
            quiet_since: Nanos::ZERO,
            latencies: [(Nanos::ZERO, 0); LATENCY_SAMPLES],
            samples: 0,
            next: 0,
            rejects: RejectWindow::default(),
            verdict: Verdict { score: 100, healthy: true, ..Verdict::default() },
        }
    }
}

impl VenueHealth {
    /// An order was handed to the venue's gateway at `now`.
    #[inline]
    pub fn on_sent(&mut self, now: Nanos) {
        if self.waiting == 0 {
            self.quiet_since = now;
        }
        self.waiting = self.waiting.saturating_add(1);
    }

    /// The venue's first answer to an order sent at `sent`, at `now`.
    #[inline]
    pub fn on_answer(&mut self, rejected: bool, sent: Nanos, now: Nanos, s: &HealthSettings) {
        self.waiting = self.waiting.saturating_sub(1);
        self.quiet_since = now;
        self.latencies[self.next] = (now, now.saturating_sub(sent).0.max(0) as u64);
        self.next = (self.next + 1) % LATENCY_SAMPLES;
        self.samples = (self.samples + 1).min(LATENCY_SAMPLES);
        self.rejects.on_answer(rejected, now, s.window);
    }

    /// An order the venue never answered is gone (refused before leaving, forgotten).
    #[inline]
    pub fn on_unsent(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    fn p99(&self, now: Nanos, window: Nanos) -> Nanos {
        let oldest = now.saturating_sub(Nanos(window.0.saturating_mul(2)));
        let mut v = [0u64; LATENCY_SAMPLES];
        let mut n = 0;
        for (at, latency) in &self.latencies[..self.samples] {
            if *at >= oldest {
                v[n] = *latency;
                n += 1;
            }
        }
        if n == 0 {
            return Nanos::ZERO;
        }
        let k = (n * 99).div_ceil(100).saturating_sub(1);
        let (_, nth, _) = v[..n].select_nth_unstable(k);
        Nanos(*nth as i64)
    }

    /// Judges the venue at `now`: `feeds_ok` (none recovering) and `md_age` (age of its
    /// freshest book, if it has one) come from the engine.
    pub fn judge(&mut self, now: Nanos, feeds_ok: bool, md_age: Option<Nanos>, s: &HealthSettings) -> Verdict {
        let ack_p99 = self.p99(now, s.window);
        let answering = self.waiting == 0 || now.saturating_sub(self.quiet_since) <= s.ack_timeout;
        let reject_permille = self.rejects.permille(now, s.window);
        let parts = [
            (self.reported && feeds_ok, W_CONNECTIVITY),
            (answering, W_ANSWERS),
            (ack_p99 <= s.max_ack_p99, W_LATENCY),
            (self.rejects.passes(now, s), W_REJECTS),
            (s.max_md_age.is_none_or(|max| md_age.is_none_or(|age| age <= max)), W_MARKET_DATA),
        ];
        let score = parts.iter().filter(|(ok, _)| *ok).map(|(_, w)| w).sum();
        self.verdict = Verdict {
            score,
            healthy: parts.iter().all(|(ok, _)| *ok),
            waiting: self.waiting,
            ack_p99,
            reject_permille,
            md_age: md_age.unwrap_or(Nanos::ZERO),
        };
        self.verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: i64) -> Nanos {
        Nanos(n * 1_000_000)
    }

    fn settings() -> HealthSettings {
        HealthSettings {
            window: ms(1000),
            min_answers: 4,
            max_reject_permille: 500,
            ack_timeout: ms(500),
            max_ack_p99: ms(100),
            max_md_age: Some(ms(2000)),
        }
    }

    #[test]
    fn a_venue_that_stops_answering_fails_after_the_ack_timeout_and_recovers_on_answers() {
        let s = settings();
        let mut h = VenueHealth::default();
        h.on_sent(ms(0));
        h.on_answer(false, ms(0), ms(10), &s);
        assert!(h.judge(ms(20), true, None, &s).healthy);
        h.on_sent(ms(100));
        h.on_sent(ms(200));
        // Waiting, quiet since 100 ms: fine at 600 ms, not after.
        assert!(h.judge(ms(600), true, None, &s).healthy);
        let v = h.judge(ms(601), true, None, &s);
        assert!(!v.healthy);
        assert_eq!((v.score, v.waiting), (80, 2));
        h.on_answer(false, ms(100), ms(650), &s);
        h.on_answer(false, ms(200), ms(651), &s);
        // Answers came, but late: the p99 (550 ms) now fails latency instead.
        let v = h.judge(ms(660), true, None, &s);
        assert_eq!((v.healthy, v.score, v.ack_p99), (false, 80, ms(550)));
        // With no orders since, the slow answers age out with the windows: healthy again.
        assert!(!h.judge(ms(2650), true, None, &s).healthy);
        assert!(h.judge(ms(2652), true, None, &s).healthy);
    }

    #[test]
    fn the_p99_is_of_the_last_samples_only() {
        let s = settings();
        let mut h = VenueHealth::default();
        h.on_sent(ms(0));
        h.on_answer(false, ms(0), ms(900), &s);
        for i in 0..LATENCY_SAMPLES as i64 {
            h.on_sent(ms(1000 + i));
            h.on_answer(false, ms(1000 + i), ms(1001 + i), &s);
        }
        let v = h.judge(ms(1100), true, None, &s);
        assert_eq!(v.ack_p99, ms(1));
        assert!(v.healthy);
    }

    #[test]
    fn rejects_fail_only_above_the_share_with_enough_answers() {
        let s = settings();
        let mut h = VenueHealth::default();
        for i in 0..3 {
            h.on_sent(ms(i));
            h.on_answer(true, ms(i), ms(i + 1), &s);
        }
        // 3 rejects of 3, but fewer than min_answers: passes.
        assert!(h.judge(ms(10), true, None, &s).healthy);
        h.on_sent(ms(11));
        h.on_answer(true, ms(11), ms(12), &s);
        let v = h.judge(ms(20), true, None, &s);
        assert_eq!((v.healthy, v.score, v.reject_permille), (false, 90, 1000));
        // Two windows later the rejects are forgotten.
        assert!(h.judge(ms(2100), true, None, &s).healthy);
    }

    #[test]
    fn connectivity_and_stale_market_data_fail_their_parts() {
        let s = settings();
        let mut h = VenueHealth::default();
        assert_eq!(h.judge(ms(0), false, None, &s).score, 60);
        h.reported = false;
        assert!(!h.judge(ms(0), true, None, &s).healthy);
        h.reported = true;
        assert!(h.judge(ms(0), true, Some(ms(2000)), &s).healthy);
        let v = h.judge(ms(0), true, Some(ms(2001)), &s);
        assert_eq!((v.healthy, v.score, v.md_age), (false, 90, ms(2001)));
        let off = HealthSettings { max_md_age: None, ..s };
        assert!(h.judge(ms(0), true, Some(ms(1_000_000)), &off).healthy);
    }
}
