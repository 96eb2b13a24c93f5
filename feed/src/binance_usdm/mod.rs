//! Binance USD-M futures market data below the socket: [`Decoder`], the [`VenueDecoder`] of
//! `<sym>@depth@100ms` diffs (synced against `GET /fapi/v1/depth` snapshots under the futures
//! rule, [`rules::FuturesDepthSync`]), `<sym>@bookTicker` and `<sym>@aggTrade`.
//!
//! Differs from spot (`crate::binance`) only where the venue differs: depth events carry `pu`
//! (the previous event's `u`) and continuity is `pu == previous u` — on USD-M `U` is never
//! `previous u + 1`, so the spot sync cannot be reused; the bridge is `U <= lastUpdateId <= u`.
//! The kit's tape helpers, error type, snapshot parser and sync are shared with spot. The live
//! feed is [`connect::BinanceUsdmFeed`] (the shared [`crate::kit::live::LiveFeed`] layer); replay
//! (`qt feed-check`) drives the same decoder.
//!
//! Thread and contract: core thread; `on_frame` never blocks and allocates nothing after warm-up
//! (parser buffers grown, sync buffers preallocated). Records: snapshot → `BookSnapshot` (first
//! `CLEAR`, last `BATCH_END`, `seq = lastUpdateId`); diff → `BookDelta` per level (`seq = u`,
//! `prev_seq = pu`, last `BATCH_END`, `exchange_ns` from `E`); bookTicker → two `BestBidOffer`
//! (`seq = u`); aggTrade → one `Trade` (`seq` = aggregate id, side = aggressor). A gap, an
//! unreadable depth frame or a disconnect emits one `BookSnapshot` record with `CLEAR` and no
//! `BATCH_END`.

pub mod connect;
pub mod rules;
pub mod wire;

/// The sync under its name before the venue kit (`rules`).
pub use rules as sync;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

pub use connect::{BinanceUsdm, BinanceUsdmFeed};

use crate::decoder::{FeedStats, VenueDecoder};
use crate::kit::direct::SyncedSink;
use qt_core::{Instrument, MarketEvent, Nanos, Venue};
use rules::{EventOutcome, FuturesDepthSync, SnapshotOutcome};
use wire::{FrameParser, ParseError, ParseFailure, Parsed, StreamKind};

/// Counters of a [`Decoder`] (plain values, core thread).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsdmCounters {
    /// Frames handed to the decoder.
    pub messages: u64,
    /// Records emitted.
    pub records: u64,
    /// Refused frames by reason ([`ParseError::reason_index`]).
    pub parse_errors: [u64; ParseError::REASONS],
    /// Sequence gaps (`pu != previous u`, or no bridging event after a snapshot).
    pub gaps: u64,
    /// Books found crossed or locked after a complete message (each resynced).
    pub crossed: u64,
    /// Resyncs started (gaps, unreadable depth frames, disconnects: one per symbol).
    pub resyncs: u64,
    /// Snapshots applied.
    pub snapshots_applied: u64,
    /// Snapshots older than the buffered events (another is wanted).
    pub stale_snapshots: u64,
    /// Snapshot bodies refused.
    pub snapshot_failures: u64,
    /// Depth events older than the snapshot (dropped while bridging).
    pub stale_events: u64,
    /// Buffers that overflowed while waiting for a snapshot.
    pub buffer_overflows: u64,
}

impl UsdmCounters {
    /// Refused frames, all reasons.
    pub fn parse_errors_total(&self) -> u64 {
        self.parse_errors.iter().sum()
    }
}

/// Parser, per-symbol futures sync and counters. Allocates only in [`Decoder::new`] and when a
/// snapshot body is parsed (cold).
pub struct Decoder {
    instruments: Vec<Instrument>,
    parser: FrameParser,
    syncs: Vec<FuturesDepthSync>,
    scratch: Vec<MarketEvent>,
    counters: UsdmCounters,
    /// Per symbol, the generation of the snapshot request in flight (live feeds only; the sync
    /// itself accepts any snapshot while buffering and checks it by sequence).
    in_flight: Vec<Option<u64>>,
    generation: u64,
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
                .map(|s| FuturesDepthSync::new(s.id(), rules::DEFAULT_BUFFER_RECORDS, rules::DEFAULT_BUFFER_EVENTS))
                .collect(),
            scratch: Vec::with_capacity(16 * 1024),
            counters: UsdmCounters::default(),
            in_flight: vec![None; symbols.len()],
            generation: 0,
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
    pub fn counters(&self) -> UsdmCounters {
        self.counters
    }

    /// Symbol `index`'s sync.
    pub fn sync(&self, index: usize) -> Option<&FuturesDepthSync> {
        self.syncs.get(index)
    }

    /// One WebSocket text frame.
    #[inline]
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.counters;
        c.messages += 1;
        let mut emitted = 0u64;
        let mut counted = |ev: &MarketEvent| {
            emitted += 1;
            emit(ev);
        };
        // An event that applies now goes straight from the parser to `emit` (no staging).
        let mut sink = SyncedSink { direct: self.direct, syncs: &self.syncs, active: &self.active, emit: &mut counted };
        match self.parser.parse_frame_into(frame, now, &mut self.scratch, &mut sink) {
            Ok(Parsed::DepthEmitted { symbol, last }) => {
                if let Some(sync) = self.syncs.get_mut(symbol) {
                    sync.applied_directly(last);
                }
            }
            Ok(Parsed::Depth { symbol, first, last, prev }) if self.active[symbol] => {
                let Some(sync) = self.syncs.get_mut(symbol) else { return };
                match sync.on_message((first, last, prev), &mut self.scratch, now, &mut counted) {
                    EventOutcome::Applied | EventOutcome::Buffered => {}
                    EventOutcome::Stale => c.stale_events += 1,
                    EventOutcome::Gap => {
                        c.gaps += 1;
                        c.resyncs += 1;
                    }
                    EventOutcome::Overflow => c.buffer_overflows += 1,
                }
            }
            Ok(Parsed::BookTicker { symbol } | Parsed::AggTrade { symbol }) if self.active[symbol] => {
                for ev in &self.scratch {
                    counted(ev);
                }
            }
            // Control replies, and frames of a symbol just unsubscribed.
            Ok(_) => {}
            Err(failure) => {
                self.warns.warn("binance_usdm", &"frame", &failure.error, now);
                Self::on_bad_frame(c, &mut self.syncs, &self.active, failure, now, &mut counted)
            }
        }
        self.counters.records += emitted;
    }

    #[cold]
    fn on_bad_frame(
        c: &mut UsdmCounters,
        syncs: &mut [FuturesDepthSync],
        active: &[bool],
        failure: ParseFailure,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        c.parse_errors[failure.error.reason_index()] += 1;
        if let Some((symbol, StreamKind::Depth)) = failure.stream
            && active.get(symbol).copied().unwrap_or(false)
            && let Some(sync) = syncs.get_mut(symbol)
        {
            sync.reset(now, emit);
            c.resyncs += 1;
        }
    }

    /// Applies a parsed snapshot for symbol `index`.
    #[cold]
    pub fn on_snapshot(
        &mut self,
        index: usize,
        snap: &wire::DepthSnapshot,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        let Some(sync) = self.syncs.get_mut(index) else { return SnapshotOutcome::Ignored };
        let mut emitted = 0u64;
        // The generation is not checked under USD-M's rule (the decoder tracks its requests).
        let outcome = sync.on_snapshot(snap, 0, now, &mut |ev| {
            emitted += 1;
            emit(ev);
        });
        let c = &mut self.counters;
        c.records += emitted;
        match outcome {
            SnapshotOutcome::Synced { .. } => c.snapshots_applied += 1,
            SnapshotOutcome::TooOld => c.stale_snapshots += 1,
            SnapshotOutcome::Gap => {
                c.snapshots_applied += 1;
                c.gaps += 1;
                c.resyncs += 1;
            }
            SnapshotOutcome::Ignored => {}
        }
        outcome
    }

    /// Connection lost: every book is invalid until resynced.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        // Answers to requests made on the old session are not waited for.
        self.in_flight.fill(None);
        for sync in &mut self.syncs {
            sync.reset(now, emit);
            self.counters.resyncs += 1;
            self.counters.records += 1;
        }
    }
}

impl VenueDecoder for Decoder {
    fn venue(&self) -> Venue {
        Venue::BinanceUsdm
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_frame(self, frame, now, emit);
    }

    #[cold]
    fn on_snapshot_body(&mut self, index: usize, body: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let Some(instrument) = self.instruments.get(index) else { return false };
        let mut owned = body.to_vec();
        let snap = match wire::parse_depth_snapshot(&mut owned, instrument) {
            Ok(snap) => snap,
            Err(e) => {
                self.counters.snapshot_failures += 1;
                self.warns.snapshot_refused("binance_usdm", instrument.symbol(), &e, now);
                return false;
            }
        };
        !matches!(self.on_snapshot(index, &snap, now, emit), SnapshotOutcome::Ignored)
    }

    fn wants_snapshot(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(FuturesDepthSync::wants_snapshot)
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
        let c = &mut self.counters;
        let counts = [&mut c.crossed, &mut c.resyncs, &mut c.records];
        crate::decoder::reset_refused(&mut self.syncs, index, reason, counts, |sync| sync.reset(now, emit));
    }

    fn book_gaps(&self, index: usize) -> Option<u64> {
        self.syncs.get(index).map(FuturesDepthSync::gaps)
    }

    fn stats(&self) -> FeedStats {
        let c = &self.counters;
        FeedStats {
            messages: c.messages,
            records: c.records,
            parse_errors: c.parse_errors_total(),
            parse_error_reasons: c.parse_errors,
            gaps: c.gaps,
            crossed: c.crossed,
            resyncs: c.resyncs,
            warnings_suppressed: self.warns.suppressed(),
            ..Default::default()
        }
    }
}
