//! Binance USD-M's sequence rule ("How to manage a local order book correctly", futures
//! edition; `venues/NOTES.md` §1b) for the kit's snapshot+diff sync
//! ([`crate::kit::depth_sync`]); [`FuturesDepthSync`] is that sync under it.
//!
//! - Events carry `U`, `u` and `pu` (the previous event's `u`). A snapshot is wanted while
//!   anything is buffered; any answer is checked by sequence alone (the decoder tracks its
//!   requests).
//! - At the snapshot (`lastUpdateId` = L): buffered events with `u < L` are dropped; if the first
//!   one left has `U > L` the snapshot is too old.
//! - The first applied event must satisfy `U <= L AND u >= L` (events with `u < L` are dropped
//!   while waiting for it); every later event's `pu` must equal the previous event's `u`. On
//!   USD-M `U` is never `previous u + 1` (verified over the whole capture), so the spot rule
//!   would see a gap at every event.
//! - Anything else is a gap; a gap among the events buffered before the snapshot keeps them
//!   buffered for the next one.
//!
//! Pure logic, core thread: no I/O, no allocation.

use crate::kit::depth_sync::{SequenceRule, Verdict};
use crate::kit::rest_depth::DepthSnapshot;

pub use crate::kit::depth_sync::{DEFAULT_BUFFER_RECORDS, DiffOutcome as EventOutcome, SnapshotOutcome, SyncState};

/// Default capacity of a symbol's buffer, in events.
pub const DEFAULT_BUFFER_EVENTS: usize = 4096;

/// One symbol's futures book sync.
pub type FuturesDepthSync = crate::kit::depth_sync::DepthSync<UsdmRule>;

/// Binance USD-M's rule; an event's ids are `(U, u, pu)`.
#[derive(Debug, Clone, Copy)]
pub struct UsdmRule;

impl SequenceRule for UsdmRule {
    type Ids = (u64, u64, u64);
    type Image = DepthSnapshot;
    const REQUESTS: bool = false;
    const KEEP_AFTER_GAP: bool = true;

    #[inline]
    fn end((_, last, _): (u64, u64, u64)) -> u64 {
        last
    }

    #[inline]
    fn covered((_, last, _): (u64, u64, u64), snapshot: u64) -> bool {
        last < snapshot
    }

    #[inline]
    fn after((first, _, _): (u64, u64, u64), snapshot: u64) -> bool {
        first > snapshot
    }

    #[inline]
    fn verdict((first, last, prev): (u64, u64, u64), book: u64, bridged: bool) -> Verdict {
        if bridged {
            if prev == book { Verdict::Apply } else { Verdict::Gap }
        } else if last < book {
            Verdict::Stale
        } else if first <= book {
            Verdict::Apply
        } else {
            Verdict::Gap
        }
    }

    /// Only a bridged book takes an event straight from the parser (`pu` = the previous `u`).
    #[inline]
    fn direct((_, _, prev): (u64, u64, u64), book: u64, bridged: bool) -> bool {
        bridged && prev == book
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Side};
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
        assert_eq!(s.on_message((90, 95, 80), &mut [lvl(1, 1)], Nanos(0), &mut emit), EventOutcome::Buffered);
        assert_eq!(s.on_message((96, 104, 95), &mut [lvl(2, 1)], Nanos(0), &mut emit), EventOutcome::Buffered);
        assert!(s.wants_snapshot());
        let snap =
            DepthSnapshot { last_update_id: 100, bids: vec![(Price::from_units(5), Qty::from_units(1))], asks: vec![] };
        assert_eq!(s.on_snapshot(&snap, 0, Nanos(1), &mut emit), SnapshotOutcome::Synced { applied: 1 });
        assert_eq!(s.state(), SyncState::Synced { last: 104, bridged: true });
        assert_eq!(s.on_message((107, 110, 104), &mut [lvl(3, 1)], Nanos(0), &mut emit), EventOutcome::Applied);
        assert_eq!(s.on_message((112, 115, 111), &mut [lvl(3, 0)], Nanos(0), &mut emit), EventOutcome::Gap);
        assert!(s.wants_snapshot() && s.gaps() == 1);
        assert_eq!(out.len(), 1 + 1 + 1 + 1);
        assert_eq!(out[0].flags, MarketEvent::CLEAR | MarketEvent::BATCH_END);
        assert_eq!((out[3].flags, out[3].kind), (MarketEvent::CLEAR, EventKind::BookSnapshot));
    }

    #[test]
    fn too_old_snapshot_and_overflow() {
        let mut s = FuturesDepthSync::new(InstrumentId(1), 2, 8);
        let mut emit = |_: &MarketEvent| {};
        s.on_message((200, 210, 190), &mut [lvl(1, 1)], Nanos(0), &mut emit);
        let snap = DepthSnapshot { last_update_id: 150, bids: vec![], asks: vec![] };
        assert_eq!(s.on_snapshot(&snap, 0, Nanos(1), &mut emit), SnapshotOutcome::TooOld);
        assert_eq!(
            s.on_message((211, 220, 210), &mut [lvl(1, 1), lvl(2, 2)], Nanos(0), &mut emit),
            EventOutcome::Overflow
        );
        assert!(!s.wants_snapshot());
    }
}
