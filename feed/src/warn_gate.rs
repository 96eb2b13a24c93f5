//! [`WarnGate`]: rate-limits a decoder's warnings about refused frames, per reason.
//!
//! A venue sending garbage (or a capture of a million bad lines replayed by `qt feed-check`)
//! must not turn into a million log lines: each decoder owns one gate (so the limit is per venue
//! and reason) that lets [`BURST`] warnings of a reason through per [`WINDOW`] of local time and
//! counts the rest. The next warning logged for that reason says how many were left out, and
//! [`WarnGate::suppressed`] goes into the decoder's stats (`warnings_suppressed`) for the
//! summaries. Every refused frame is still counted by reason in the decoder's counters.
//!
//! Core thread (inside the decoders' cold bad-frame paths); fixed size, no allocation. The
//! warning is a [`qt_core::core_log!`] record (reason name and key as static fields), handed to
//! the logging thread; on a thread without a log ring (`qt feed-check`) it is logged at once.

use crate::parse_error::ParseError;
use qt_core::Nanos;
use qt_core::log_ring::FieldValue;

/// Warnings of one reason logged per window.
pub const BURST: u32 = 5;
/// The window (local time).
pub const WINDOW: Nanos = Nanos::SECOND;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    window_start: Nanos,
    in_window: u32,
    /// Left out since the last warning of this reason that was logged.
    pending: u64,
}

/// Per-reason warning budget of one decoder (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct WarnGate {
    slots: [Slot; ParseError::REASONS],
    suppressed: u64,
}

impl WarnGate {
    /// A gate with every reason's budget full.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a warning for `reason` may be logged at `now`: `Some(n)` with the number of
    /// warnings of this reason left out since the last one logged, `None` (counted) if not.
    #[cold]
    pub fn admit(&mut self, reason: &ParseError, now: Nanos) -> Option<u64> {
        let slot = &mut self.slots[reason.reason_index()];
        if slot.in_window == 0 || now.saturating_sub(slot.window_start) >= WINDOW {
            slot.window_start = now;
            slot.in_window = 0;
        }
        if slot.in_window < BURST {
            slot.in_window += 1;
            Some(std::mem::take(&mut slot.pending))
        } else {
            slot.pending += 1;
            self.suppressed += 1;
            None
        }
    }

    /// Logs "refused" with the venue, what was refused, the reason (and the key it names) if
    /// the budget allows, with how many were left out before it (`not_logged`); else counts it.
    #[cold]
    pub fn warn(&mut self, venue: &str, what: &dyn std::fmt::Display, reason: &ParseError, now: Nanos) {
        if let Some(left_out) = self.admit(reason, now) {
            qt_core::core_log!(
                Warn, "refused", 0;
                venue = FieldValue::text(venue), what = FieldValue::display(what), reason = reason.name(),
                key = reason.key().unwrap_or(""), not_logged = left_out
            );
        }
    }

    /// A refused REST snapshot body of `symbol`: [`Self::warn`] with what every venue says.
    #[cold]
    pub fn snapshot_refused(&mut self, venue: &str, symbol: &str, reason: &ParseError, now: Nanos) {
        self.warn(venue, &format_args!("snapshot of {symbol}"), reason, now);
    }

    /// Warnings left out so far, all reasons.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_reason_and_window_then_counts() {
        let mut gate = WarnGate::new();
        let json = ParseError::Json;
        let decimal = ParseError::BadDecimal("p");
        let admitted = (0..1_000).filter(|_| gate.admit(&json, Nanos(10)).is_some()).count();
        assert_eq!(admitted, BURST as usize);
        assert_eq!(gate.suppressed(), 1_000 - u64::from(BURST));
        // Another reason has its own budget.
        assert_eq!(gate.admit(&decimal, Nanos(10)), Some(0));
        // A window later the reason logs again, telling how many it left out.
        assert_eq!(gate.admit(&json, Nanos(10 + WINDOW.0)), Some(1_000 - u64::from(BURST)));
        assert_eq!(gate.admit(&json, Nanos(11 + WINDOW.0)), Some(0));
    }
}
