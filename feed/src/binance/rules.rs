//! Binance spot's sequence rule ("How to manage a local order book correctly") for the kit's
//! snapshot+diff sync ([`crate::kit::depth_sync`]); [`DepthSync`] is that sync under it.
//!
//! - Diffs carry `U` (first update id) and `u` (last). The first buffered diff requests the
//!   snapshot (so its `U` is known before the snapshot is taken).
//! - At the snapshot (`lastUpdateId` = L): buffered diffs with `u <= L` are dropped; if the first
//!   one left has `U > L + 1` the snapshot is too old.
//! - The first applied diff must satisfy `U <= L + 1 <= u`; every later one `U == previous u + 1`;
//!   diffs with `u <= previous u` are ignored. Anything else is a gap, after which a newer
//!   snapshot is fetched (the buffer is dropped: the new snapshot holds it).
//!
//! Pure logic, core thread: no I/O, no allocation.

use crate::kit::depth_sync::{SequenceRule, Verdict};
use crate::kit::rest_depth::DepthSnapshot;

pub use crate::kit::depth_sync::{DEFAULT_BUFFER_RECORDS, DiffOutcome, SnapshotOutcome, SyncState};

/// Default capacity of a symbol's diff buffer, in diffs.
pub const DEFAULT_BUFFER_DIFFS: usize = 4096;

/// One symbol's sync under Binance spot's rule.
pub type DepthSync = crate::kit::depth_sync::DepthSync<SpotRule>;

/// Binance spot's rule; a diff's ids are `(U, u)`.
#[derive(Debug, Clone, Copy)]
pub struct SpotRule;

impl SequenceRule for SpotRule {
    type Ids = (u64, u64);
    type Image = DepthSnapshot;
    const REQUESTS: bool = true;
    const KEEP_AFTER_GAP: bool = false;

    #[inline]
    fn end((_, last): (u64, u64)) -> u64 {
        last
    }

    #[inline]
    fn covered((_, last): (u64, u64), snapshot: u64) -> bool {
        last <= snapshot
    }

    #[inline]
    fn after((first, _): (u64, u64), snapshot: u64) -> bool {
        first > snapshot + 1
    }

    #[inline]
    fn verdict((first, last): (u64, u64), book: u64, bridged: bool) -> Verdict {
        if last <= book {
            Verdict::Stale
        } else if if bridged { first == book + 1 } else { first <= book + 1 } {
            Verdict::Apply
        } else {
            Verdict::Gap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binance::wire::{FrameParser, Parsed, parse_depth_snapshot};
    use qt_core::{Book, InstrumentKind, InstrumentSpec, Venue};
    use qt_core::{EventKind, InstrumentId, MarketEvent, Nanos, Price, Qty, Side};

    const CAPTURED_DEPTH: &str = include_str!("../../../testdata/binance_spot/depth.jsonl");
    const CAPTURED_SNAPSHOT: &str = include_str!("../../../testdata/binance_spot/snapshot_NKNUSDT.json");

    fn nknusdt() -> qt_core::Instrument {
        let spec = InstrumentSpec {
            venue: Venue::Binance,
            symbol: "NKNUSDT".into(),
            base: "NKN".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Spot,
            tick_size: "0.00000001".into(),
            lot_size: "0.00000001".into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        qt_core::Instrument::from_spec(InstrumentId(0), &spec).unwrap()
    }

    /// The capture's NKNUSDT diffs as (U, u, records); other symbols' frames are skipped.
    fn captured_diffs() -> Vec<(u64, u64, Vec<MarketEvent>)> {
        let inst = nknusdt();
        let mut parser = FrameParser::new(std::slice::from_ref(&inst));
        let mut out = Vec::new();
        let mut diffs = Vec::new();
        for line in CAPTURED_DEPTH.lines() {
            match parser.parse_frame(line.as_bytes(), Nanos(1), &mut out) {
                Ok(Parsed::Depth { first, last, .. }) => diffs.push((first, last, out.clone())),
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => assert_eq!(e.error, crate::binance::wire::ParseError::UnknownStream, "{line}"),
            }
        }
        assert_eq!(diffs.len(), 150, "README: 150 NKNUSDT diffs");
        diffs
    }

    #[test]
    fn captured_snapshot_bridges_and_every_diff_applies() {
        let inst = nknusdt();
        let mut body = CAPTURED_SNAPSHOT.as_bytes().to_vec();
        let snap = parse_depth_snapshot(&mut body, &inst).unwrap();
        assert_eq!((snap.last_update_id, snap.bids.len(), snap.asks.len()), (499_869_752, 609, 1000));
        let mut sync = DepthSync::new(inst.id(), DEFAULT_BUFFER_RECORDS, DEFAULT_BUFFER_DIFFS);
        let mut book = Book::new(inst.id(), 2000);
        let mut emit = |ev: &MarketEvent| book.apply(ev).unwrap();
        let mut diffs = captured_diffs().into_iter();
        // Buffer the first two diffs (the README: the first is dropped, the second bridges).
        for (first, last, mut recs) in diffs.by_ref().take(2) {
            assert_eq!(sync.on_message((first, last), &mut recs, Nanos(1), &mut emit), DiffOutcome::Buffered);
        }
        let generation = sync.take_snapshot_request().expect("the first diff asks for a snapshot");
        assert_eq!(sync.on_snapshot(&snap, generation, Nanos(2), &mut emit), SnapshotOutcome::Synced { applied: 1 });
        assert_eq!(sync.state(), SyncState::Synced { last: 499_869_754, bridged: true });
        for (first, last, mut recs) in diffs {
            assert_eq!(
                sync.on_message((first, last), &mut recs, Nanos(3), &mut emit),
                DiffOutcome::Applied,
                "{first}..{last}"
            );
        }
        assert_eq!(sync.gaps(), 0);
        assert!(book.is_valid());
        assert!(!book.is_crossed());
    }

    #[test]
    fn a_missing_diff_is_a_gap_that_invalidates_and_resyncs() {
        let inst = nknusdt();
        let mut body = CAPTURED_SNAPSHOT.as_bytes().to_vec();
        let snap = parse_depth_snapshot(&mut body, &inst).unwrap();
        let mut sync = DepthSync::new(inst.id(), DEFAULT_BUFFER_RECORDS, DEFAULT_BUFFER_DIFFS);
        let mut book = Book::new(inst.id(), 2000);
        let mut diffs = captured_diffs();
        diffs.remove(10);
        let mut outcomes = Vec::new();
        {
            let mut emit = |ev: &MarketEvent| book.apply(ev).unwrap();
            let (f, l, ref mut r) = diffs[0];
            sync.on_message((f, l), r, Nanos(1), &mut emit);
            let generation = sync.take_snapshot_request().unwrap();
            sync.on_snapshot(&snap, generation, Nanos(1), &mut emit);
            for (f, l, r) in diffs.iter_mut().skip(1) {
                outcomes.push(sync.on_message((*f, *l), r, Nanos(1), &mut emit));
            }
        }
        assert_eq!(outcomes.iter().filter(|o| **o == DiffOutcome::Gap).count(), 1);
        assert_eq!(sync.gaps(), 1);
        assert!(!book.is_valid(), "the CLEAR-only record leaves the book invalid");
        assert_eq!(book.depth(qt_core::Side::Buy), 0);
        assert!(!sync.is_synced());
        // A fresh snapshot newer than the buffered diffs resyncs.
        let generation = sync.take_snapshot_request().expect("the gap asks for a snapshot");
        let last_u = diffs.last().unwrap().1;
        let newer = DepthSnapshot { last_update_id: last_u, ..snap };
        let mut emit = |ev: &MarketEvent| book.apply(ev).unwrap();
        assert_eq!(sync.on_snapshot(&newer, generation, Nanos(2), &mut emit), SnapshotOutcome::Synced { applied: 0 });
        assert!(book.is_valid());
    }

    fn diff(_first: u64, _last: u64) -> Vec<MarketEvent> {
        vec![MarketEvent::new(
            InstrumentId(0),
            EventKind::BookDelta,
            Side::Buy,
            Price::from_units(10),
            Qty::from_units(1),
        )]
    }

    #[test]
    fn snapshot_older_than_the_buffer_is_fetched_again_and_stale_answers_ignored() {
        let mut sync = DepthSync::new(InstrumentId(0), 16, 4);
        let mut sink = |_: &MarketEvent| {};
        assert_eq!(sync.on_message((100, 105), &mut diff(100, 105), Nanos(0), &mut sink), DiffOutcome::Buffered);
        let generation = sync.take_snapshot_request().unwrap();
        let old = DepthSnapshot { last_update_id: 90, bids: vec![], asks: vec![] };
        assert_eq!(sync.on_snapshot(&old, generation, Nanos(0), &mut sink), SnapshotOutcome::TooOld);
        assert_eq!(sync.on_snapshot(&old, generation, Nanos(0), &mut sink), SnapshotOutcome::Ignored, "superseded");
        let generation = sync.take_snapshot_request().unwrap();
        let mut records = Vec::new();
        let good = DepthSnapshot { last_update_id: 102, bids: vec![], asks: vec![] };
        let mut collect = |ev: &MarketEvent| records.push(*ev);
        assert_eq!(sync.on_snapshot(&good, generation, Nanos(0), &mut collect), SnapshotOutcome::Synced { applied: 1 });
        // An empty snapshot is one CLEAR|BATCH_END record, then the bridging diff.
        assert_eq!(records[0].flags, MarketEvent::CLEAR | MarketEvent::BATCH_END);
        assert_eq!((records[1].kind, records[1].flags), (EventKind::BookDelta, MarketEvent::BATCH_END));
        // Stale and in-sequence diffs.
        assert_eq!(sync.on_message((101, 105), &mut diff(0, 0), Nanos(0), &mut sink), DiffOutcome::Stale);
        assert_eq!(sync.on_message((106, 108), &mut diff(0, 0), Nanos(0), &mut sink), DiffOutcome::Applied);
        assert_eq!(sync.on_message((110, 111), &mut diff(0, 0), Nanos(0), &mut sink), DiffOutcome::Gap);
    }

    #[test]
    fn a_full_buffer_overflows_without_growing() {
        let mut sync = DepthSync::new(InstrumentId(0), 4, 2);
        let mut sink = |_: &MarketEvent| {};
        assert_eq!(sync.on_message((1, 1), &mut diff(1, 1), Nanos(0), &mut sink), DiffOutcome::Buffered);
        assert_eq!(sync.on_message((2, 2), &mut diff(2, 2), Nanos(0), &mut sink), DiffOutcome::Buffered);
        assert_eq!(sync.on_message((3, 3), &mut diff(3, 3), Nanos(0), &mut sink), DiffOutcome::Overflow);
        assert_eq!(sync.buffer_record_capacity(), 4);
    }
}
