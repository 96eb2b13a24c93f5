//! Re-driving a journal through the engine: [`Engine::replay_input`] applies one recorded input
//! to the same handlers the live loop runs, so a replay (`qt replay`) produces its decisions
//! again, and a restart rebuilds its state from what it recorded.
//!
//! Inputs are the records the core consumed: market records, execution reports, local
//! refusals' delivery, the timer (with the venues' health as recorded), failovers (the router's
//! selection as the live health judgement moved it), control commands and the stop's wind-down. Everything else in a journal is an output — intents, risk decisions, order
//! commands, book refusals, control answers, risk state changes — which the engine produces
//! again into its own journal link for the caller to compare. The engine's order rings to its
//! venues fill as in a live run; the caller drains them (nothing is sent anywhere).

use super::*;
use crate::time::SimClock;

impl<R: PreTradeCheck> Engine<R> {
    /// Applies one recorded record if it is an input (returns true), at the recorded times:
    /// `clock` (the engine's own clock, a [`SimClock`]) is set to the record's domain time and
    /// the loop's monotonic time to its monotonic time. An [`JournalEvent::Attachment`] marker
    /// needs its `attachment`; a control command re-runs exactly as recorded (a reset's token is
    /// verified again, against the recorded receive time). Outputs return false untouched.
    pub fn replay_input(
        &mut self,
        clock: &SimClock,
        record: &JournalRecord,
        attachment: Option<&JournalAttachment>,
    ) -> bool {
        clock.set(record.domain_ns);
        self.core.local_now = record.mono_ns;
        match &record.event {
            JournalEvent::Market(ev) => {
                self.core.on_market(ev);
                // No feed to hand a refused book back to: the refusal is in the journal.
                self.core.refused.clear();
            }
            JournalEvent::Report(report) => self.core.on_report(report),
            JournalEvent::LocalRefusal(_) => {
                // The engine queued its own copy when it refused; deliver it now, as then.
                if !self.core.deliver_local_refusal() {
                    self.core.counters.unmatched_reports.incr();
                }
            }
            JournalEvent::Timer { venue_healthy } => {
                for (v, h) in self.core.venue_healthy.iter_mut().enumerate() {
                    *h = v < 64 && venue_healthy & (1 << v) != 0;
                }
                self.core.domain_now = record.domain_ns;
                let mut mask = 0u64;
                for (v, h) in self.core.venue_healthy.iter().enumerate().take(64) {
                    mask |= u64::from(*h) << v;
                }
                self.core.journal(JournalEvent::Timer { venue_healthy: mask });
                self.core.housekeeping_now();
            }
            JournalEvent::Failover(f) => {
                // The live health judgement's decision: the router moves as it did then.
                self.core.domain_now = record.domain_ns;
                self.core.failover(*f);
            }
            JournalEvent::Halt => {
                // The wind-down's cancel-alls are its outputs, produced again here.
                self.core.wind_down();
            }
            JournalEvent::Attachment => match attachment {
                Some(JournalAttachment::Control(cmd)) => self.apply_control(*cmd),
                _ => return false,
            },
            JournalEvent::BookRefused { .. }
            | JournalEvent::Intent(_)
            | JournalEvent::Decision(_)
            | JournalEvent::Command(_)
            | JournalEvent::RiskState(_) => return false,
        }
        true
    }

    /// Whether a journaled record is an input [`Engine::replay_input`] applies (attachment
    /// markers: only a control command is).
    pub fn is_replay_input(record: &JournalRecord, attachment: Option<&JournalAttachment>) -> bool {
        match record.event {
            JournalEvent::Market(_)
            | JournalEvent::Report(_)
            | JournalEvent::LocalRefusal(_)
            | JournalEvent::Timer { .. }
            | JournalEvent::Failover(_)
            | JournalEvent::Halt => true,
            JournalEvent::Attachment => matches!(attachment, Some(JournalAttachment::Control(_))),
            _ => false,
        }
    }
}

impl<R: PreTradeCheck> Engine<R> {
    /// Backtests: tells the strategies of every local refusal queued so far (what the live loop
    /// does after the gateways' reports); returns how many.
    pub fn deliver_local_refusals(&mut self) -> usize {
        let mut n = 0;
        while self.core.deliver_local_refusal() {
            n += 1;
        }
        n
    }
}
