//! [`FuturesDepthSync`]: one symbol's local order book under Binance USD-M's rule ("How to
//! manage a local order book correctly", futures edition; `venues/NOTES.md` §1b):
//!
//! 1. Buffer events (bounded, preallocated) until a REST snapshot arrives; the first buffered
//!    event makes [`FuturesDepthSync::wants_snapshot`] true.
//! 2. At the snapshot (`lastUpdateId` = L): drop buffered events with `u < L`. If the first one
//!    left has `U > L` the snapshot is too old: another is wanted. Otherwise the snapshot is
//!    emitted (`BookSnapshot`, first `CLEAR`, last `BATCH_END`, `seq = L`).
//! 3. The first applied event must satisfy `U <= L AND u >= L` (events with `u < L` are
//!    dropped while waiting for it); every later event's `pu` must equal the previous event's
//!    `u`. On USD-M `U` is never `previous u + 1` (verified over the whole capture), so the
//!    spot rule would see a gap at every event.
//! 4. Anything else is a gap: one `BookSnapshot` record with `CLEAR` and no `BATCH_END`, the
//!    event starts a fresh buffer, and a new snapshot is wanted.
//!
//! Pure logic, core thread: no I/O; allocation only at construction (the buffer never grows:
//! on overflow it is emptied and a fresh snapshot wanted).

use crate::binance::parse::DepthSnapshot;
use crate::diff_buffer::DiffBuffer;
use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Side};

/// Default capacity of a symbol's buffer, in level records.
pub const DEFAULT_BUFFER_RECORDS: usize = 64 * 1024;
/// Default capacity of a symbol's buffer, in events.
pub const DEFAULT_BUFFER_EVENTS: usize = 4096;

/// Where a symbol stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Buffering events, waiting for a snapshot; the engine's book is invalid.
    Buffering,
    /// Snapshot `L` applied; waiting for the event with `U <= L <= u`.
    Bridging {
        /// `lastUpdateId`.
        snapshot: u64,
    },
    /// In sequence; `last` is the previous event's `u`.
    Synced {
        /// Last applied `u`.
        last: u64,
    },
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Emitted.
    Applied,
    /// Held until the snapshot.
    Buffered,
    /// Older than the snapshot: dropped.
    Stale,
    /// Out of sequence: book invalidated, a new snapshot wanted.
    Gap,
    /// The buffer was full: emptied, a fresh snapshot wanted.
    Overflow,
}

/// What happened to one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Emitted; `applied` buffered events followed it.
    Synced {
        /// Buffered events applied after the snapshot.
        applied: usize,
    },
    /// Older than the first buffered event: another snapshot is wanted.
    TooOld,
    /// Emitted, but a buffered event after it was out of sequence: resyncing again.
    Gap,
    /// Not waiting for a snapshot: ignored.
    Ignored,
}

/// A held event's `U`, `u` and `pu`.
#[derive(Debug, Clone, Copy)]
struct Ids {
    first: u64,
    last: u64,
    prev: u64,
}

/// One symbol's futures book sync.
#[derive(Debug)]
pub struct FuturesDepthSync {
    instrument: InstrumentId,
    state: SyncState,
    buffer: DiffBuffer<Ids>,
    gaps: u64,
}

impl FuturesDepthSync {
    /// A symbol buffering up to `max_records` level records in `max_events` events.
    pub fn new(instrument: InstrumentId, max_records: usize, max_events: usize) -> Self {
        Self { instrument, state: SyncState::Buffering, buffer: DiffBuffer::new(max_records, max_events), gaps: 0 }
    }

    /// Where it stands.
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// Whether the book is valid (snapshot applied).
    pub fn is_synced(&self) -> bool {
        !matches!(self.state, SyncState::Buffering)
    }

    /// Gaps seen.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Whether a REST snapshot is wanted now (buffering with at least one event held).
    pub fn wants_snapshot(&self) -> bool {
        self.state == SyncState::Buffering && !self.buffer.is_empty()
    }

    /// One parsed event `U..=u` with `pu`, its level `records` (from the parser).
    pub fn on_event(
        &mut self,
        first: u64,
        last: u64,
        prev: u64,
        records: &mut [MarketEvent],
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> EventOutcome {
        match self.state {
            SyncState::Buffering => self.buffer(first, last, prev, records),
            SyncState::Bridging { snapshot } => {
                if last < snapshot {
                    EventOutcome::Stale
                } else if first <= snapshot {
                    Self::emit_event(records, emit);
                    self.state = SyncState::Synced { last };
                    EventOutcome::Applied
                } else {
                    self.gap(first, last, prev, records, local_ns, emit)
                }
            }
            SyncState::Synced { last: previous } => {
                if prev == previous {
                    Self::emit_event(records, emit);
                    self.state = SyncState::Synced { last };
                    EventOutcome::Applied
                } else {
                    self.gap(first, last, prev, records, local_ns, emit)
                }
            }
        }
    }

    /// Whether the event `U..=u` with `pu` would be applied now (synced, `pu` = the previous
    /// `u`), so its records may be emitted while it is parsed; [`Self::applied_directly`] must
    /// follow.
    #[inline]
    pub fn applies_directly(&self, prev: u64) -> bool {
        matches!(self.state, SyncState::Synced { last } if last == prev)
    }

    /// Records that an event accepted by [`Self::applies_directly`] went out whole.
    #[inline]
    pub fn applied_directly(&mut self, last: u64) {
        self.state = SyncState::Synced { last };
    }

    fn emit_event(records: &mut [MarketEvent], emit: &mut dyn FnMut(&MarketEvent)) {
        if let Some(l) = records.last_mut() {
            l.flags |= MarketEvent::BATCH_END;
        }
        for ev in records.iter() {
            emit(ev);
        }
    }

    fn buffer(&mut self, first: u64, last: u64, prev: u64, records: &[MarketEvent]) -> EventOutcome {
        if self.buffer.push(Ids { first, last, prev }, records) {
            EventOutcome::Buffered
        } else {
            EventOutcome::Overflow
        }
    }

    #[cold]
    fn gap(
        &mut self,
        first: u64,
        last: u64,
        prev: u64,
        records: &[MarketEvent],
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> EventOutcome {
        self.gaps += 1;
        self.reset(local_ns, emit);
        self.buffer(first, last, prev, records);
        EventOutcome::Gap
    }

    /// Applies a REST snapshot.
    #[cold]
    pub fn on_snapshot(
        &mut self,
        snap: &DepthSnapshot,
        local_ns: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        if self.state != SyncState::Buffering {
            return SnapshotOutcome::Ignored;
        }
        let l = snap.last_update_id;
        self.buffer.drop_front_while(|e| e.last < l);
        if self.buffer.front().is_some_and(|e| e.first > l) {
            return SnapshotOutcome::TooOld;
        }
        self.emit_snapshot(snap, local_ns, emit);
        self.state = SyncState::Bridging { snapshot: l };
        let mut applied = 0;
        let mut i = 0;
        while let Some((e, records)) = self.buffer.get_mut(i) {
            let in_sequence = match self.state {
                SyncState::Bridging { snapshot } if e.last < snapshot => {
                    i += 1;
                    continue;
                }
                SyncState::Bridging { snapshot } => e.first <= snapshot,
                SyncState::Synced { last } => e.prev == last,
                SyncState::Buffering => false,
            };
            if !in_sequence {
                // Keep this event and the ones after it buffered for the next snapshot.
                self.gaps += 1;
                emit(&MarketEvent::invalidation(self.instrument, local_ns));
                self.state = SyncState::Buffering;
                self.buffer.keep_from(i);
                return SnapshotOutcome::Gap;
            }
            Self::emit_event(records, emit);
            self.state = SyncState::Synced { last: e.last };
            applied += 1;
            i += 1;
        }
        self.buffer.clear();
        SnapshotOutcome::Synced { applied }
    }

    fn emit_snapshot(&self, snap: &DepthSnapshot, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let total = snap.bids.len() + snap.asks.len();
        let mut n = 0;
        let levels = snap.bids.iter().map(|l| (Side::Buy, l)).chain(snap.asks.iter().map(|l| (Side::Sell, l)));
        for (side, (p, q)) in levels {
            let mut ev = MarketEvent::new(self.instrument, EventKind::BookSnapshot, side, *p, *q);
            ev.local_ns = local_ns;
            ev.seq = snap.last_update_id;
            if n == 0 {
                ev.flags |= MarketEvent::CLEAR;
            }
            n += 1;
            if n == total {
                ev.flags |= MarketEvent::BATCH_END;
            }
            emit(&ev);
        }
        if total == 0 {
            let mut ev = self.invalidation(local_ns);
            ev.seq = snap.last_update_id;
            ev.flags |= MarketEvent::BATCH_END;
            emit(&ev);
        }
    }

    /// Invalidates the book (one `CLEAR` record, no `BATCH_END`) and starts buffering again.
    #[cold]
    pub fn reset(&mut self, local_ns: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        emit(&self.invalidation(local_ns));
        self.buffer.clear();
        self.state = SyncState::Buffering;
    }

    fn invalidation(&self, local_ns: Nanos) -> MarketEvent {
        MarketEvent::invalidation(self.instrument, local_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{Price, Qty};

    fn lvl(p: i64, q: i64) -> MarketEvent {
        MarketEvent::new(InstrumentId(1), EventKind::BookDelta, Side::Buy, Price::from_units(p), Qty::from_units(q))
    }

    #[test]
    fn bridge_then_pu_chain_then_gap() {
        let mut s = FuturesDepthSync::new(InstrumentId(1), 16, 4);
        let mut out = Vec::new();
        let mut emit = |e: &MarketEvent| out.push(*e);
        assert!(!s.wants_snapshot());
        assert_eq!(s.on_event(90, 95, 80, &mut [lvl(1, 1)], Nanos(0), &mut emit), EventOutcome::Buffered);
        assert_eq!(s.on_event(96, 104, 95, &mut [lvl(2, 1)], Nanos(0), &mut emit), EventOutcome::Buffered);
        assert!(s.wants_snapshot());
        let snap =
            DepthSnapshot { last_update_id: 100, bids: vec![(Price::from_units(5), Qty::from_units(1))], asks: vec![] };
        assert_eq!(s.on_snapshot(&snap, Nanos(1), &mut emit), SnapshotOutcome::Synced { applied: 1 });
        assert_eq!(s.state(), SyncState::Synced { last: 104 });
        assert_eq!(s.on_event(107, 110, 104, &mut [lvl(3, 1)], Nanos(0), &mut emit), EventOutcome::Applied);
        assert_eq!(s.on_event(112, 115, 111, &mut [lvl(3, 0)], Nanos(0), &mut emit), EventOutcome::Gap);
        assert!(s.wants_snapshot() && s.gaps() == 1);
        assert_eq!(out.len(), 1 + 1 + 1 + 1);
        assert_eq!(out[0].flags, MarketEvent::CLEAR | MarketEvent::BATCH_END);
        assert_eq!((out[3].flags, out[3].kind), (MarketEvent::CLEAR, EventKind::BookSnapshot));
    }

    #[test]
    fn too_old_snapshot_and_overflow() {
        let mut s = FuturesDepthSync::new(InstrumentId(1), 2, 8);
        let mut emit = |_: &MarketEvent| {};
        s.on_event(200, 210, 190, &mut [lvl(1, 1)], Nanos(0), &mut emit);
        let snap = DepthSnapshot { last_update_id: 150, bids: vec![], asks: vec![] };
        assert_eq!(s.on_snapshot(&snap, Nanos(1), &mut emit), SnapshotOutcome::TooOld);
        assert_eq!(s.on_event(211, 220, 210, &mut [lvl(1, 1), lvl(2, 2)], Nanos(0), &mut emit), EventOutcome::Overflow);
        assert!(!s.wants_snapshot());
    }
}
