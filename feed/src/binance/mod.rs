//! [`BinanceFeed`]: Binance spot market data (diff depth, book ticker, trades) as a
//! [`qt_core::FeedSource`] polled by the core thread.
//!
//! One combined-stream WebSocket (`/stream?streams=<sym>@depth@100ms/<sym>@bookTicker/<sym>@trade
//! /...`) over TLS on a non-blocking mio socket ([`crate::ws::WsClient`]); frames are parsed by
//! [`wire::FrameParser`] and depth diffs go through one [`rules::DepthSync`] per symbol, whose
//! REST snapshots come from the snapshot thread of [`crate::kit::live::LiveFeed`], the
//! live layer [`BinanceFeed`] is an instance of ([`connect`] says what differs).
//!
//! Thread and contract: owned and polled by the core thread. `poll` never blocks: socket I/O
//! only on readiness, `try_send`/`try_recv` on the snapshot channels. After warm-up the
//! parse → sync → emit path allocates nothing (`tests/no_alloc.rs` counts); the WebSocket
//! and TLS layers below allocate per frame/record (measured and reported there). Cold paths
//! (connect, reconnect, resync, snapshot application) allocate and are `#[cold]`.
//!
//! Records: snapshot → `BookSnapshot` (first `CLEAR`, last `BATCH_END`, `seq = lastUpdateId`);
//! diff → `BookDelta` per level (`seq = u`, `prev_seq = U`, last `BATCH_END`, `exchange_ns` from
//! `E`); bookTicker → two `BestBidOffer` (`seq = u`, no venue time); trade → one `Trade`
//! (`seq = t`, side = aggressor). A gap, an unreadable depth frame or a disconnect emits one
//! `BookSnapshot` record with `CLEAR` and no `BATCH_END`: the engine's book empties and stays
//! invalid until the resync's snapshot ends with `BATCH_END`.

pub mod connect;
pub mod rules;
pub mod wire;

/// The sync under its name before the venue kit (`rules`).
pub use rules as sync;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

pub use connect::{
    BinanceFeed, BinanceFeedConfig, BinanceSpot, CombinedStreams, DEFAULT_DEPTH_LIMIT, RECONNECT_BASE, RECONNECT_CAP,
};

use crate::kit::direct::SyncedSink;
use qt_core::{Instrument, MarketEvent, Nanos};
use rules::{DepthSync, DiffOutcome, SnapshotOutcome};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wire::{FrameParser, ParseError, Parsed, StreamKind};

/// The decoder's counters. Written only by the core thread (plain load + store, no locked
/// instruction), so a handle could read them from another thread.
#[derive(Debug, Default)]
pub struct BinanceCounters {
    messages: AtomicU64,
    records: AtomicU64,
    parse_errors: [AtomicU64; ParseError::REASONS],
    diffs_applied: AtomicU64,
    gaps: AtomicU64,
    crossed: AtomicU64,
    resyncs: AtomicU64,
    snapshots_applied: AtomicU64,
    stale_snapshots: AtomicU64,
    snapshot_failures: AtomicU64,
    buffer_overflows: AtomicU64,
}

#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

#[inline]
fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// A copy of [`BinanceCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinanceCountersSnapshot {
    /// WebSocket data frames received.
    pub messages: u64,
    /// Records emitted.
    pub records: u64,
    /// Refused frames by reason (index: [`ParseError::reason_index`], name:
    /// [`ParseError::reason_name`]).
    pub parse_errors: [u64; ParseError::REASONS],
    /// Depth diffs applied to an in-sync book (buffered ones count when the snapshot lands).
    pub diffs_applied: u64,
    /// Sequence gaps (`U != previous u + 1`, or a snapshot followed by a non-bridging diff).
    pub gaps: u64,
    /// Books found crossed or locked after a complete message (each resynced).
    pub crossed: u64,
    /// Resyncs started (gaps, unreadable depth frames, crossed books, reconnects: one per symbol).
    pub resyncs: u64,
    /// Snapshots emitted.
    pub snapshots_applied: u64,
    /// Snapshots older than the buffered diffs (fetched again).
    pub stale_snapshots: u64,
    /// Snapshot fetches that failed after retries.
    pub snapshot_failures: u64,
    /// Diff buffers that overflowed while waiting for a snapshot.
    pub buffer_overflows: u64,
    /// WebSocket sessions opened (connection level: filled by [`BinanceFeed::counters`]).
    pub connects: u64,
    /// Sessions opened after the first (reconnections).
    pub reconnects: u64,
    /// Open sessions lost.
    pub disconnects: u64,
    /// Connection attempts that failed before the session opened.
    pub connect_failures: u64,
}

impl BinanceCountersSnapshot {
    /// Refused frames, all reasons.
    pub fn parse_errors_total(&self) -> u64 {
        self.parse_errors.iter().sum()
    }
}

impl BinanceCounters {
    /// A consistent-enough copy (each field read once, relaxed).
    pub fn snapshot(&self) -> BinanceCountersSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BinanceCountersSnapshot {
            messages: r(&self.messages),
            records: r(&self.records),
            parse_errors: std::array::from_fn(|i| r(&self.parse_errors[i])),
            diffs_applied: r(&self.diffs_applied),
            gaps: r(&self.gaps),
            crossed: r(&self.crossed),
            resyncs: r(&self.resyncs),
            snapshots_applied: r(&self.snapshots_applied),
            stale_snapshots: r(&self.stale_snapshots),
            snapshot_failures: r(&self.snapshot_failures),
            buffer_overflows: r(&self.buffer_overflows),
            connects: 0,
            reconnects: 0,
            disconnects: 0,
            connect_failures: 0,
        }
    }
}

/// Everything below the socket: parser, per-symbol sync, counters. Split from the socket so a
/// frame borrowed from the WebSocket is handled in place; public so replay and tests can drive
/// the exact parse → sync → emit path without a socket. Core thread; allocates only in
/// [`Decoder::new`] and on cold paths (snapshots, resyncs).
pub struct Decoder {
    instruments: Vec<Instrument>,
    parser: FrameParser,
    syncs: Vec<DepthSync>,
    scratch: Vec<MarketEvent>,
    counters: Arc<BinanceCounters>,
    /// Per symbol: subscribed (frames of an unsubscribed symbol still in flight are dropped).
    active: Vec<bool>,
    /// Whether an in-sequence diff is emitted while it is parsed ([`crate::kit::direct`]); `false`
    /// stages every diff (see [`Decoder::set_direct`]).
    direct: bool,
    warns: crate::warn_gate::WarnGate,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("symbols", &self.syncs.len()).finish()
    }
}

impl Decoder {
    /// A decoder for `symbols` (index in the slice = symbol index).
    pub fn new(symbols: &[Instrument]) -> Self {
        Self {
            instruments: symbols.to_vec(),
            parser: FrameParser::new(symbols),
            syncs: symbols
                .iter()
                .map(|s| DepthSync::new(s.id(), rules::DEFAULT_BUFFER_RECORDS, rules::DEFAULT_BUFFER_DIFFS))
                .collect(),
            scratch: Vec::with_capacity(16 * 1024),
            counters: Arc::new(BinanceCounters::default()),
            active: vec![true; symbols.len()],
            direct: true,
            warns: crate::warn_gate::WarnGate::new(),
        }
    }

    /// Emit an in-sequence diff while it is parsed (`true`, the default) or stage every diff
    /// first (`false`). Both paths emit the same records for every frame the venue sends
    /// correctly (the tests replay captures both ways); they differ only for a diff refused half
    /// way, whose first records the direct path has already emitted before the invalidation.
    /// For tests and for comparing the two paths' cost.
    pub fn set_direct(&mut self, on: bool) {
        self.direct = on;
    }

    /// The counters now.
    pub fn counters(&self) -> BinanceCountersSnapshot {
        self.counters.snapshot()
    }

    /// Symbol `index`'s sync state machine.
    pub fn sync(&self, index: usize) -> Option<&DepthSync> {
        self.syncs.get(index)
    }

    /// If symbol `index` wants a snapshot, the generation to request it with.
    pub fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        self.syncs.get_mut(index)?.take_snapshot_request()
    }

    /// Applies a snapshot for symbol `index` answering request `generation`.
    #[cold]
    pub fn on_snapshot(
        &mut self,
        index: usize,
        snap: &wire::DepthSnapshot,
        generation: u64,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        let c = &self.counters;
        let Some(sync) = self.syncs.get_mut(index) else { return SnapshotOutcome::Ignored };
        let outcome = sync.on_snapshot(snap, generation, now, emit);
        match outcome {
            SnapshotOutcome::Synced { applied } => {
                bump(&c.snapshots_applied);
                add(&c.diffs_applied, applied as u64);
            }
            SnapshotOutcome::TooOld => bump(&c.stale_snapshots),
            SnapshotOutcome::Gap => {
                bump(&c.snapshots_applied);
                bump(&c.gaps);
                bump(&c.resyncs);
            }
            SnapshotOutcome::Ignored => {}
        }
        outcome
    }

    /// One WebSocket data frame (a combined-stream message).
    ///
    /// Generic over the sink (a `&mut dyn FnMut` still works) so that the record-counting
    /// wrapper in [`crate::decoder::VenueDecoder::on_frame`] is inlined into the per-record loop
    /// instead of being a second indirect call per level (BENCHMARKS.md `feed_parse`, round 3).
    #[inline]
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut (impl FnMut(&MarketEvent) + ?Sized)) {
        bump(&self.counters.messages);
        // A diff that applies now goes straight from the parser to `emit` (no staging).
        let mut sink = SyncedSink { direct: self.direct, syncs: &self.syncs, active: &self.active, emit };
        match self.parser.parse_frame_into(frame, now, &mut self.scratch, &mut sink) {
            Ok(Parsed::DepthEmitted { symbol, last, .. }) => {
                if let Some(sync) = self.syncs.get_mut(symbol) {
                    sync.applied_directly(last);
                }
                bump(&self.counters.diffs_applied);
            }
            Ok(Parsed::Depth { symbol, first, last }) if self.active[symbol] => {
                let Some(sync) = self.syncs.get_mut(symbol) else { return };
                match sync.on_message((first, last), &mut self.scratch, now, emit) {
                    DiffOutcome::Applied => bump(&self.counters.diffs_applied),
                    DiffOutcome::Buffered | DiffOutcome::Stale => {}
                    DiffOutcome::Gap => {
                        bump(&self.counters.gaps);
                        bump(&self.counters.resyncs);
                    }
                    DiffOutcome::Overflow => bump(&self.counters.buffer_overflows),
                }
            }
            Ok(Parsed::BookTicker { symbol } | Parsed::Trade { symbol }) if self.active[symbol] => {
                for ev in &self.scratch {
                    emit(ev);
                }
            }
            // Control replies, and frames of a symbol just unsubscribed.
            Ok(_) => {}
            Err(failure) => self.on_bad_frame(failure, now, &mut |ev| emit(ev)),
        }
    }

    #[cold]
    fn on_bad_frame(&mut self, failure: wire::ParseFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        bump(&self.counters.parse_errors[failure.error.reason_index()]);
        self.warns.warn("binance", &"frame", &failure.error, now);
        // A lost diff breaks the book: resync that symbol now rather than at its next diff.
        // (An unreadable frame whose stream cannot be told is caught by the next diff's `U`.)
        if let Some((symbol, StreamKind::Depth)) = failure.stream
            && self.active[symbol]
            && let Some(sync) = self.syncs.get_mut(symbol)
        {
            sync.reset(now, emit);
            bump(&self.counters.resyncs);
        }
    }

    /// Connection lost: every book is invalid until its resync.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        for sync in &mut self.syncs {
            sync.reset(now, emit);
            bump(&self.counters.resyncs);
        }
    }
}

impl crate::decoder::VenueDecoder for Decoder {
    fn venue(&self) -> qt_core::Venue {
        qt_core::Venue::Binance
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let mut records = 0u64;
        Decoder::on_frame(self, frame, now, &mut |ev: &MarketEvent| {
            records += 1;
            emit(ev);
        });
        let c = &self.counters.records;
        c.store(c.load(std::sync::atomic::Ordering::Relaxed) + records, std::sync::atomic::Ordering::Relaxed);
    }

    #[cold]
    fn on_snapshot_body(&mut self, index: usize, body: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let Some(instrument) = self.instruments.get(index) else { return false };
        let mut owned = body.to_vec();
        let snap = match wire::parse_depth_snapshot(&mut owned, instrument) {
            Ok(snap) => snap,
            Err(e) => {
                bump(&self.counters.snapshot_failures);
                self.warns.snapshot_refused("binance", instrument.symbol(), &e, now);
                return false;
            }
        };
        let Some(generation) = self.take_snapshot_request(index) else { return false };
        !matches!(self.on_snapshot(index, &snap, generation, now, emit), SnapshotOutcome::Ignored)
    }

    fn wants_snapshot(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(DepthSync::wants_snapshot)
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_disconnect(self, now, emit);
    }

    #[cold]
    fn on_book_refused(
        &mut self,
        index: usize,
        reason: qt_core::BookError,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        let Some(sync) = self.syncs.get_mut(index) else { return };
        add(&self.counters.crossed, crate::decoder::crossings(reason));
        bump(&self.counters.resyncs);
        add(&self.counters.records, 1);
        sync.reset(now, emit);
    }

    fn book_gaps(&self, index: usize) -> Option<u64> {
        self.syncs.get(index).map(DepthSync::gaps)
    }

    fn stats(&self) -> crate::decoder::FeedStats {
        let c = self.counters.snapshot();
        crate::decoder::FeedStats {
            messages: c.messages,
            records: c.records,
            parse_errors: c.parse_errors.iter().sum(),
            parse_error_reasons: c.parse_errors,
            gaps: c.gaps,
            crossed: c.crossed,
            resyncs: c.resyncs,
            warnings_suppressed: self.warns.suppressed(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoder::VenueDecoder;
    use qt_core::{Book, EventKind, InstrumentRegistry, InstrumentSpec, Venue};

    fn btcusdt() -> Instrument {
        let spec = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001");
        let mut registry = InstrumentRegistry::new();
        registry.add(&spec).unwrap();
        registry.get(qt_core::InstrumentId(0)).unwrap().clone()
    }

    fn diff(first: u64, last: u64, bids: &str, asks: &str) -> Vec<u8> {
        format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{first},"u":{last},"b":[{bids}],"a":[{asks}]}}}}"#
        )
        .into_bytes()
    }

    /// A decoder synced on a snapshot at update id 10 (bid 100.00, ask 101.00), its records in `book`.
    fn synced() -> (Decoder, Book) {
        let inst = btcusdt();
        let mut d = Decoder::new(std::slice::from_ref(&inst));
        let mut book = Book::new(inst.id(), 16);
        let mut apply = |ev: &MarketEvent| book.apply(ev).unwrap();
        VenueDecoder::on_frame(&mut d, &diff(9, 11, r#"["100.00","2"]"#, ""), Nanos(0), &mut apply);
        let snapshot = br#"{"lastUpdateId":10,"bids":[["100.00","1"]],"asks":[["101.00","1"]]}"#;
        assert!(VenueDecoder::on_snapshot_body(&mut d, 0, snapshot, Nanos(0), &mut apply));
        assert!(book.is_valid());
        (d, book)
    }

    #[test]
    fn an_in_sequence_diff_goes_straight_to_the_sink_with_batch_end_on_its_last_record() {
        let (mut d, mut book) = synced();
        let mut records = Vec::new();
        let frame = diff(12, 13, r#"["100.00","3"],["99.99","1"]"#, r#"["101.00","0"]"#);
        VenueDecoder::on_frame(&mut d, &frame, Nanos(5), &mut |ev| {
            records.push(*ev);
            book.apply(ev).unwrap();
        });
        let flags: Vec<u16> = records.iter().map(|e| e.flags).collect();
        assert_eq!(flags, [0, 0, MarketEvent::BATCH_END]);
        assert!(records.iter().all(|e| e.kind == EventKind::BookDelta && e.seq == 13 && e.prev_seq == 12));
        assert_eq!(book.best_bid().map(|l| (l.price.units(), l.qty.units())), Some((10_000, 300_000)));
        assert_eq!(book.best_ask(), None);
        assert_eq!(d.stats().records, 3, "records of this frame (the snapshot's went out through on_snapshot_body)");
        // The next diff must follow 13.
        let mut gap = Vec::new();
        VenueDecoder::on_frame(&mut d, &diff(15, 16, r#"["100.00","1"]"#, ""), Nanos(6), &mut |ev| gap.push(*ev));
        assert_eq!(d.stats().gaps, 1);
        assert!(gap.iter().all(|e| e.is_clear()), "a gap emits only the invalidation: {gap:?}");
    }

    #[test]
    fn a_diff_refused_half_way_leaves_the_book_invalid_and_asks_for_a_snapshot() {
        let (mut d, mut book) = synced();
        let mut records = Vec::new();
        // The second level's price is not a number: the first level has already gone out.
        let frame = diff(12, 13, r#"["100.00","3"],["x","1"]"#, "");
        VenueDecoder::on_frame(&mut d, &frame, Nanos(5), &mut |ev| {
            records.push(*ev);
            book.apply(ev).unwrap();
        });
        assert_eq!(d.stats().parse_errors, 1);
        assert!(records.iter().all(|e| !e.is_batch_end()), "no record ends a batch: {records:?}");
        let last = records.last().expect("the invalidation");
        assert!(last.is_clear() && last.kind == EventKind::BookSnapshot);
        assert!(!book.is_valid(), "the engine's book is invalid after the refused diff");
        assert_eq!(d.stats().resyncs, 1);
        // Resync: the next diff is buffered and asks for a fresh snapshot; nothing reaches the book.
        let mut after = Vec::new();
        VenueDecoder::on_frame(&mut d, &diff(14, 15, r#"["100.00","1"]"#, ""), Nanos(6), &mut |ev| after.push(*ev));
        assert!(after.is_empty(), "{after:?}");
        assert!(VenueDecoder::wants_snapshot(&d, 0), "the symbol resyncs");
    }

    #[test]
    fn direct_and_staged_paths_emit_the_same_records() {
        // In sequence, an empty diff, a stale one, and a gap.
        let frames = [
            diff(12, 13, r#"["100.00","3"],["99.50","1"]"#, r#"["101.00","0"]"#),
            diff(14, 14, "", r#"["101.50","2"]"#),
            diff(15, 15, "", ""),
            diff(16, 18, r#"["99.50","0"]"#, r#"["101.25","1"],["102.00","4"]"#),
            diff(13, 14, r#"["98.00","1"]"#, ""),
            diff(19, 19, r#"["100.25","1"]"#, ""),
            diff(21, 22, r#"["98.00","1"]"#, ""),
        ];
        let run = |direct: bool| {
            let (mut d, mut book) = synced();
            d.set_direct(direct);
            let mut records = Vec::new();
            for (n, frame) in frames.iter().enumerate() {
                VenueDecoder::on_frame(&mut d, frame, Nanos(n as i64), &mut |ev| {
                    records.push(*ev);
                    book.apply(ev).unwrap();
                });
            }
            (records, d.stats())
        };
        let (direct, staged) = (run(true), run(false));
        assert!(direct.0.len() >= 8, "{:?}", direct.0);
        assert_eq!(direct, staged);
        assert_eq!(direct.1.gaps, 1);
    }
}
