//! The core's side of the journal: the fixed-size records the core thread hands the journal
//! thread, and the link (an SPSC ring) it hands them through.
//!
//! Every input the core consumes and every decision it makes becomes one [`JournalRecord`],
//! pushed in the order it happened, stamped with the domain time and the monotonic time the
//! core used for it. The journal thread (`tools`' `qt-journal`, writing with `qt-recorder`)
//! encodes them into the memory-mapped journal; replay reads them back and re-drives the same
//! engine code ([`crate::Engine::replay_input`]).
//!
//! ```text
//!  core thread                               journal thread
//!  ┌──────────────────────┐  main ring (JournalRecord, 128 B)  ┌──────────────────────────┐
//!  │ on_market, on_report │──────────────────────────────────►│ encode → JournalWriter    │
//!  │ place, control, timer│  attachment ring (large, rare)     │ (mapped segment, commit,  │
//!  │                      │──────────────────────────────────►│  flush policy)            │
//!  └──────────────────────┘                                    └──────────────────────────┘
//! ```
//!
//! Contract on the core thread: a push is a copy into a preallocated slot — no allocation, no
//! lock, no syscall, no formatting. Records too large for a ring slot (control commands and
//! answers carry up to 200 bytes of text) go into a small second ring and the main ring gets a
//! [`JournalEvent::Attachment`] marker at their place in the order, so the journal thread takes
//! them in sequence.
//!
//! **Nothing is lost silently.** When the ring is full the policy decides
//! ([`JournalFullPolicy`]): by default the core applies *backpressure* — it stops taking new
//! market input (feeds are not polled while less than [`JournalLink::headroom`] slots are free;
//! execution reports and control still flow) and, if a record still does not fit, waits for the
//! journal thread with the record in hand. Both stalls are counted. `DropAndCount` drops the
//! record and counts it instead. If the journal thread cannot write (disk full, a failed msync)
//! it raises [`JournalHealth`]'s failed flag and keeps draining; the core then refuses new
//! strategy orders (`RejectReason::JournalUnavailable`) while cancels, reports and the
//! emergency stop keep working.

use crate::book::BookError;
use crate::engine::ControlCommand;
use crate::event::MarketEvent;
use crate::ids::InstrumentId;
use crate::order::{ExecutionReport, OrderCommand};
use crate::queue::{Consumer, Producer, PushError};
use crate::risk_api::{DecisionRecord, RiskReply, RiskState};
use crate::strategy::StrategyAction;
use crate::time::Nanos;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One record from the core: what happened, with the times the core used for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JournalRecord {
    /// Domain time (Unix ns) the core used while handling it.
    pub domain_ns: Nanos,
    /// Monotonic time (the loop iteration's start, or the replayed record's).
    pub mono_ns: Nanos,
    /// What happened.
    pub event: JournalEvent,
}

/// What the core saw or did. Inputs (what replay re-drives) and outputs (what replay compares)
/// are marked.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // fixed ring slots: boxing would allocate on the core
pub enum JournalEvent {
    /// Input: a normalized market record, in the order the core consumed it.
    Market(MarketEvent),
    /// Output: a book refused a record (crossed, or a level it cannot hold) and is invalid
    /// until its feed resyncs it.
    BookRefused {
        /// The book.
        instrument: InstrumentId,
        /// Why.
        reason: BookError,
    },
    /// Output: what a strategy asked for, before the risk gate.
    Intent(StrategyAction),
    /// Output: a risk gate decision with its inputs (the gate's [`DecisionRecord`] less the two
    /// times the record itself carries).
    Decision(JournaledDecision),
    /// Output: a command sent to a gateway (`sent_local_ns` is latency bookkeeping, not part
    /// of the decision).
    Command(OrderCommand),
    /// Input: an execution report from a gateway.
    Report(ExecutionReport),
    /// Input (its delivery to the strategy) and output (its content): a local refusal.
    LocalRefusal(ExecutionReport),
    /// Input: the housekeeping timer fired; bit `v` set = venue `v` healthy.
    Timer {
        /// Venue health bitmask (venues ≥ 64 are never reported healthy here).
        venue_healthy: u64,
    },
    /// Output: the risk component's emergency stop or global level changed.
    RiskState(RiskState),
    /// Input: an account's selected venue changed (`exchange.failover`; decided by the live
    /// health judgement, which is not replayed — replay moves the router by this record).
    Failover(crate::routing::Failover),
    /// Input: the engine began its stop wind-down (strategies' actions are dropped from here).
    Halt,
    /// The next record of the attachment ring belongs here.
    Attachment,
}

/// A risk decision as the core journals it: [`DecisionRecord`] without its `ts_ns`/`local_ns`
/// (always the record's own domain and monotonic times) and reserved bytes, and with the two
/// 128-bit amounts as halves, so a ring slot stays at 128 bytes. Exact both ways:
/// [`Self::record`] gives the gate's record back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournaledDecision {
    /// Account equity the gate saw (`i128` as low, high halves).
    pub equity: [u64; 2],
    /// Account gross exposure the gate saw (`i128` as low, high halves).
    pub gross: [u64; 2],
    /// Limit price (units).
    pub price: i64,
    /// Requested quantity (units).
    pub qty: i64,
    /// Quantity allowed.
    pub final_qty: i64,
    /// Mid of the instrument (units; 0 if not reached).
    pub mid: i64,
    /// Position before the order (units).
    pub position: i64,
    /// Account id.
    pub account: u16,
    /// Strategy id.
    pub strategy: u16,
    /// Instrument id.
    pub instrument: u32,
    /// 0 buy, 1 sell.
    pub side: u8,
    /// Decision code ([`DecisionRecord::ALLOW`], ...).
    pub decision: u8,
    /// [`crate::BlockReason`] code (`u8::MAX` for an allow).
    pub reason: u8,
    /// Global risk level.
    pub level: u8,
    /// Whether the order was reduce-only.
    pub reduce_only: u8,
}

const fn halves(v: i128) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}

const fn whole(h: [u64; 2]) -> i128 {
    ((h[1] as i128) << 64) | h[0] as i128
}

impl JournaledDecision {
    /// The journaled form of the gate's record (its times are the journal record's).
    pub fn of(r: &DecisionRecord) -> Self {
        Self {
            equity: halves(r.equity),
            gross: halves(r.gross),
            price: r.price,
            qty: r.qty,
            final_qty: r.final_qty,
            mid: r.mid,
            position: r.position,
            account: r.account,
            strategy: r.strategy,
            instrument: r.instrument,
            side: r.side,
            decision: r.decision,
            reason: r.reason,
            level: r.level,
            reduce_only: r.reduce_only,
        }
    }

    /// The gate's record, with the journal record's domain (`ts`) and monotonic (`local`) times.
    pub fn record(&self, ts: Nanos, local: Nanos) -> DecisionRecord {
        DecisionRecord {
            equity: whole(self.equity),
            gross: whole(self.gross),
            ts_ns: ts.0,
            local_ns: local.0,
            price: self.price,
            qty: self.qty,
            final_qty: self.final_qty,
            mid: self.mid,
            position: self.position,
            account: self.account,
            strategy: self.strategy,
            instrument: self.instrument,
            side: self.side,
            decision: self.decision,
            reason: self.reason,
            level: self.level,
            reduce_only: self.reduce_only,
            reserved: [0; 27],
        }
    }
}

/// Records too large for a main ring slot, carried by the attachment ring.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum JournalAttachment {
    /// Input: a control command (who and what), as the core took it.
    Control(ControlCommand),
    /// Output: the risk component's answer to control command `id`.
    ControlAnswer {
        /// The command's id.
        id: u64,
        /// The answer.
        reply: RiskReply,
    },
}

/// What to do when the journal ring is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JournalFullPolicy {
    /// Stop taking market input until there is room; wait with a record in hand (counted).
    #[default]
    Backpressure,
    /// Drop the record and count it (explicit opt-in: the journal then has holes).
    DropAndCount,
}

/// Shared between the journal thread and the core: whether the journal can still write.
#[derive(Debug, Default)]
pub struct JournalHealth {
    failed: AtomicBool,
}

impl JournalHealth {
    /// A healthy journal.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Marks the journal unable to write (journal thread).
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }

    /// Whether writing has failed.
    #[inline]
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// The consumer ends of a [`JournalLink`], for the journal thread.
#[derive(Debug)]
pub struct JournalRings {
    /// Main ring.
    pub records: Consumer<JournalRecord>,
    /// Large records, in the order of the main ring's [`JournalEvent::Attachment`] markers.
    pub attachments: Consumer<JournalAttachment>,
    /// Raised by the journal thread when it can no longer write.
    pub health: Arc<JournalHealth>,
}

/// What a push did, for the core's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// In the ring.
    Yes,
    /// In the ring after waiting for room.
    AfterWait,
    /// Dropped (`DropAndCount`, or the journal thread is gone).
    Dropped,
}

/// The core's producer end: both rings, the full policy and the journal's health.
#[derive(Debug)]
pub struct JournalLink {
    records: Producer<JournalRecord>,
    attachments: Producer<JournalAttachment>,
    policy: JournalFullPolicy,
    headroom: usize,
    health: Arc<JournalHealth>,
}

/// Slots of the attachment ring.
const ATTACHMENT_SLOTS: usize = 64;

impl JournalLink {
    /// A link with a main ring of `capacity` records (at least 64) and its consumer ends.
    /// Under backpressure the core polls no feed while fewer than `capacity / 4` slots are
    /// free, so what one feed poll produces fits without waiting in all but extreme cases.
    pub fn new(capacity: usize, policy: JournalFullPolicy) -> (Self, JournalRings) {
        let capacity = capacity.max(64);
        let (records, records_rx) = crate::queue::spsc(capacity);
        let (attachments, attachments_rx) = crate::queue::spsc(ATTACHMENT_SLOTS);
        let health = JournalHealth::new();
        let link = Self { records, attachments, policy, headroom: capacity / 4, health: health.clone() };
        (link, JournalRings { records: records_rx, attachments: attachments_rx, health })
    }

    /// Free slots below which the core stops polling feeds (backpressure only).
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// The full policy.
    pub fn policy(&self) -> JournalFullPolicy {
        self.policy
    }

    /// Records waiting in the ring for the journal thread.
    #[inline]
    pub fn depth(&self) -> usize {
        self.records.buffer().capacity().saturating_sub(self.records.slots())
    }

    /// Whether the core should poll no feed now (backpressure and too little room).
    #[inline]
    pub fn should_hold_market(&self) -> bool {
        self.policy == JournalFullPolicy::Backpressure && self.records.slots() < self.headroom
    }

    /// Whether the journal thread has reported it can no longer write.
    #[inline]
    pub fn failed(&self) -> bool {
        self.health.failed()
    }

    /// Pushes `record` under the policy.
    #[inline]
    pub fn push(&mut self, record: JournalRecord) -> Pushed {
        match self.records.push(record) {
            Ok(()) => Pushed::Yes,
            Err(PushError::Full(record)) => self.push_full(record),
        }
    }

    #[cold]
    fn push_full(&mut self, mut record: JournalRecord) -> Pushed {
        if self.policy == JournalFullPolicy::DropAndCount {
            return Pushed::Dropped;
        }
        let mut spins = 0u32;
        loop {
            if self.records.is_abandoned() {
                return Pushed::Dropped;
            }
            match self.records.push(record) {
                Ok(()) => return Pushed::AfterWait,
                Err(PushError::Full(r)) => record = r,
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Pushes a large record into the attachment ring and its marker into the main ring.
    #[cold]
    pub fn push_attachment(&mut self, domain_ns: Nanos, mono_ns: Nanos, attachment: JournalAttachment) -> Pushed {
        let mut attachment = attachment;
        let mut spins = 0u32;
        loop {
            match self.attachments.push(attachment) {
                Ok(()) => break,
                Err(PushError::Full(a)) => {
                    if self.policy == JournalFullPolicy::DropAndCount || self.attachments.is_abandoned() {
                        return Pushed::Dropped;
                    }
                    attachment = a;
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(64) {
                        std::thread::yield_now();
                    }
                }
            }
        }
        // The marker must follow, even under DropAndCount: a marker-less attachment would be
        // taken for the next one's.
        let marker = JournalRecord { domain_ns, mono_ns, event: JournalEvent::Attachment };
        match self.records.push(marker) {
            Ok(()) => Pushed::Yes,
            Err(PushError::Full(marker)) => {
                let policy = std::mem::replace(&mut self.policy, JournalFullPolicy::Backpressure);
                let pushed = self.push_full(marker);
                self.policy = policy;
                pushed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: i64) -> JournalRecord {
        JournalRecord { domain_ns: Nanos(n), mono_ns: Nanos(n), event: JournalEvent::Halt }
    }

    #[test]
    fn a_ring_slot_stays_small() {
        assert!(std::mem::size_of::<JournalRecord>() <= 128, "{}", std::mem::size_of::<JournalRecord>());
    }

    #[test]
    fn drop_and_count_drops_when_full_and_backpressure_waits_for_the_consumer() {
        let (mut link, mut rings) = JournalLink::new(64, JournalFullPolicy::DropAndCount);
        for n in 0..64 {
            assert_eq!(link.push(rec(n)), Pushed::Yes);
        }
        assert!(!link.should_hold_market(), "drop-and-count never holds market input");
        assert_eq!(link.push(rec(64)), Pushed::Dropped);

        let (mut link, mut rings2) = JournalLink::new(64, JournalFullPolicy::Backpressure);
        for n in 0..64 {
            link.push(rec(n));
        }
        assert!(link.should_hold_market());
        let consumer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let mut got = Vec::new();
            while got.len() < 65 {
                if let Ok(r) = rings2.records.pop() {
                    got.push(r.domain_ns.0);
                }
            }
            got
        });
        assert_eq!(link.push(rec(64)), Pushed::AfterWait);
        let got = consumer.join().unwrap();
        assert_eq!(got, (0..65).collect::<Vec<_>>(), "nothing lost, order kept");
        assert_eq!(rings.records.pop().unwrap().domain_ns, Nanos(0));
    }

    #[test]
    fn an_attachment_is_marked_in_order() {
        let (mut link, mut rings) = JournalLink::new(64, JournalFullPolicy::Backpressure);
        link.push(rec(1));
        let cmd = JournalAttachment::Control(ControlCommand::Shutdown);
        assert_eq!(link.push_attachment(Nanos(2), Nanos(2), cmd), Pushed::Yes);
        link.push(rec(3));
        assert_eq!(rings.records.pop().unwrap().domain_ns, Nanos(1));
        assert_eq!(rings.records.pop().unwrap().event, JournalEvent::Attachment);
        assert_eq!(rings.attachments.pop().unwrap(), cmd);
        assert_eq!(rings.records.pop().unwrap().domain_ns, Nanos(3));
    }

    #[test]
    fn a_journaled_decision_gives_the_gates_record_back_exactly() {
        for (equity, gross) in [(0i128, 0i128), (-1, 1), (i128::MIN, i128::MAX), (-(1 << 70) - 3, (1 << 90) + 7)] {
            let mut r = DecisionRecord {
                equity,
                gross,
                ts_ns: 11,
                local_ns: 12,
                price: -5,
                qty: 6,
                final_qty: 3,
                mid: 7,
                position: -8,
                account: 9,
                strategy: 10,
                instrument: 13,
                side: 1,
                decision: DecisionRecord::SCALE_DOWN,
                reason: 2,
                level: 1,
                reduce_only: 1,
                reserved: [0; 27],
            };
            assert_eq!(JournaledDecision::of(&r).record(Nanos(11), Nanos(12)), r, "{equity} {gross}");
            r.ts_ns = 99;
            assert_eq!(JournaledDecision::of(&r).record(Nanos(99), Nanos(12)).ts_ns, 99, "the times are the record's");
        }
    }

    #[test]
    fn health_failure_is_seen_by_the_core() {
        let (link, rings) = JournalLink::new(64, JournalFullPolicy::Backpressure);
        assert!(!link.failed());
        rings.health.fail();
        assert!(link.failed());
    }
}
