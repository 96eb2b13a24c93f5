//! KuCoin spot level-2 market data: [`Decoder`], the [`crate::decoder::VenueDecoder`] for one
//! KuCoin public WebSocket session (`/market/level2:{sym}` increments synced against REST
//! snapshots, `/market/match:{sym}` trades, control frames).
//!
//! Pieces: [`wire`] (frames → records, REST snapshot body), [`rules`] (KuCoin's documented
//! "Level2 calibration" rule for the kit's snapshot+diff sync, one [`rules::Level2Sync`] per
//! symbol), [`connect`] (the token-based connect flow: bullet answer, connect URL, subscribe and
//! ping messages, and the live feed: the shared live layer with KuCoin's connect flow and
//! heartbeat).
//!
//! Thread and contract: owned by the core thread. `on_frame` never blocks and makes no
//! syscall; after warm-up (parser buffers grown to the largest frame) the parse → sync → emit
//! path of a synced symbol allocates nothing. Snapshots, resyncs and disconnects are `#[cold]`;
//! the snapshot body is parsed with allocation.
//!
//! Records: snapshot → `BookSnapshot` (first `CLEAR`, last `BATCH_END`, `seq = sequence`);
//! increment → `BookDelta` per surviving change (`seq = sequenceEnd`, `prev_seq = sequenceStart`,
//! last `BATCH_END`, `exchange_ns` from `time` when present); match → one `Trade` (`seq =
//! sequence`, side = taker's, `exchange_ns` = `time`). A gap, an unreadable level-2 frame or a
//! disconnect emits one `BookSnapshot` record with `CLEAR` and no `BATCH_END`: the engine's book
//! is invalid until the resync's snapshot ends with `BATCH_END`.

pub mod connect;
pub mod rules;
pub mod wire;

/// The sync under its name before the venue kit (`rules`).
pub use rules as sync;
/// The wire walk under its name before the venue kit (`wire`).
pub use wire as parse;

/// The live feed's old path (now in [`connect`]).
pub use connect as feed;
pub use connect::{Kucoin, KucoinFeed};

use crate::decoder::FeedStats;
use crate::kit::direct::SyncedSink;
use qt_core::{Instrument, MarketEvent, Nanos, Venue};
use rules::{IncrementOutcome, Level2Sync, SnapshotOutcome};
use wire::{ControlKind, FrameParser, ParseError, ParseFailure, Parsed, Topic};

/// The decoder's counters (core thread only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KucoinCounters {
    /// Frames handed to [`Decoder::on_frame`].
    pub messages: u64,
    /// Records emitted.
    pub records: u64,
    /// Refused frames by reason ([`ParseError::reason_index`]).
    pub parse_errors: [u64; ParseError::REASONS],
    /// `welcome`, `ack`, `pong` frames.
    pub control: u64,
    /// `error` frames from the venue.
    pub venue_errors: u64,
    /// Trades emitted.
    pub trades: u64,
    /// Increments already covered by the book (`sequenceEnd <= book`), ignored after a snapshot.
    pub stale: u64,
    /// Sequence gaps.
    pub gaps: u64,
    /// Books found crossed or locked after a complete message (each resynced).
    pub crossed: u64,
    /// Resyncs started (gaps, unreadable level-2 frames, disconnects: one per symbol).
    pub resyncs: u64,
    /// Snapshots emitted.
    pub snapshots_applied: u64,
    /// Snapshots older than the buffered increments (fetched again).
    pub stale_snapshots: u64,
    /// Snapshot bodies refused.
    pub snapshot_failures: u64,
    /// Increment buffers that overflowed while waiting for a snapshot.
    pub buffer_overflows: u64,
}

/// Everything below the KuCoin socket: parser, per-symbol sync, counters. Core thread;
/// allocates only in [`Decoder::new`] and on cold paths.
pub struct Decoder {
    instruments: Vec<Instrument>,
    parser: FrameParser,
    syncs: Vec<Level2Sync>,
    scratch: Vec<MarketEvent>,
    counters: KucoinCounters,
    /// Per symbol: subscribed (frames of an unsubscribed symbol still in flight are dropped).
    active: Vec<bool>,
    /// Whether an in-sequence diff is emitted while it is parsed ([`crate::kit::direct`]); `false`
    /// stages every diff (see [`Decoder::set_direct`]).
    direct: bool,
    warns: crate::warn_gate::WarnGate,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("kucoin::Decoder").field("symbols", &self.syncs.len()).finish()
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
                .map(|s| Level2Sync::new(s.id(), rules::DEFAULT_BUFFER_RECORDS, rules::DEFAULT_BUFFER_MESSAGES))
                .collect(),
            scratch: Vec::with_capacity(16 * 1024),
            counters: KucoinCounters::default(),
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
    pub fn counters(&self) -> KucoinCounters {
        self.counters
    }

    /// Symbol `index`'s sync state machine.
    pub fn sync(&self, index: usize) -> Option<&Level2Sync> {
        self.syncs.get(index)
    }

    /// Whether symbol `index`'s book is in sync.
    pub fn is_synced(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(Level2Sync::is_synced)
    }

    /// If symbol `index` wants a snapshot, the generation to request it with.
    pub fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        self.syncs.get_mut(index)?.take_snapshot_request()
    }

    /// Applies a parsed snapshot for symbol `index` answering request `generation`.
    #[cold]
    pub fn on_snapshot(
        &mut self,
        index: usize,
        snap: &wire::Level2Snapshot,
        generation: u64,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        let Some(sync) = self.syncs.get_mut(index) else { return SnapshotOutcome::Ignored };
        let c = &mut self.counters;
        let mut counted = |ev: &MarketEvent| {
            c.records += 1;
            emit(ev);
        };
        let outcome = sync.on_snapshot(snap, generation, now, &mut counted);
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

    /// One WebSocket text frame.
    #[inline]
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        self.counters.messages += 1;
        let c = &mut self.counters;
        let mut counted = |ev: &MarketEvent| {
            c.records += 1;
            emit(ev);
        };
        // An increment that applies now goes straight from the parser to `emit` (no staging).
        let mut sink = SyncedSink { direct: self.direct, syncs: &self.syncs, active: &self.active, emit: &mut counted };
        match self.parser.parse_frame_into(frame, now, &mut self.scratch, &mut sink) {
            Ok(Parsed::Level2Emitted { symbol, end }) => {
                if let Some(sync) = self.syncs.get_mut(symbol) {
                    sync.applied_directly(end);
                }
            }
            Ok(Parsed::Level2 { symbol, start, end }) if self.active[symbol] => {
                let Some(sync) = self.syncs.get_mut(symbol) else { return };
                match sync.on_message((start, end), &mut self.scratch, now, &mut counted) {
                    IncrementOutcome::Applied | IncrementOutcome::Buffered => {}
                    IncrementOutcome::Stale => c.stale += 1,
                    IncrementOutcome::Gap => {
                        c.gaps += 1;
                        c.resyncs += 1;
                    }
                    IncrementOutcome::Overflow => c.buffer_overflows += 1,
                }
            }
            Ok(Parsed::Trade { symbol }) if self.active[symbol] => {
                for ev in &self.scratch {
                    counted(ev);
                }
                c.trades += 1;
            }
            Ok(Parsed::Control(ControlKind::Error)) => c.venue_errors += 1,
            Ok(Parsed::Control(_)) => c.control += 1,
            // Frames of a symbol just unsubscribed.
            Ok(Parsed::Level2 { .. } | Parsed::Trade { .. }) => {}
            Err(failure) => self.on_bad_frame(failure, now, emit),
        }
    }

    #[cold]
    fn on_bad_frame(&mut self, failure: ParseFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.counters;
        c.parse_errors[failure.error.reason_index()] += 1;
        self.warns.warn("kucoin", &"frame", &failure.error, now);
        // A lost increment breaks the book: resync that symbol now rather than at its next one.
        if let Some((symbol, Topic::Level2)) = failure.topic
            && self.active[symbol]
            && let Some(sync) = self.syncs.get_mut(symbol)
        {
            c.records += 1;
            sync.reset(now, emit);
            c.resyncs += 1;
        }
    }

    /// Connection lost: every book is invalid until its resync.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        for sync in &mut self.syncs {
            sync.reset(now, emit);
            self.counters.records += 1;
            self.counters.resyncs += 1;
        }
    }
}

impl crate::decoder::VenueDecoder for Decoder {
    fn venue(&self) -> Venue {
        Venue::Kucoin
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        Decoder::on_frame(self, frame, now, emit);
    }

    /// A `GET /api/v3/market/orderbook/level2?symbol=` body (or `level2_20`/`level2_100`) for
    /// symbol `index`; accepted only while that symbol `wants_snapshot`.
    #[cold]
    fn on_snapshot_body(&mut self, index: usize, body: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let Some(instrument) = self.instruments.get(index) else { return false };
        if !self.syncs.get(index).is_some_and(Level2Sync::wants_snapshot) {
            return false;
        }
        let mut owned = body.to_vec();
        let snap = match wire::parse_level2_snapshot(&mut owned, instrument) {
            Ok(snap) => snap,
            Err(e) => {
                self.counters.snapshot_failures += 1;
                self.warns.snapshot_refused("kucoin", instrument.symbol(), &e, now);
                return false;
            }
        };
        let Some(generation) = self.take_snapshot_request(index) else { return false };
        !matches!(self.on_snapshot(index, &snap, generation, now, emit), SnapshotOutcome::Ignored)
    }

    fn wants_snapshot(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(Level2Sync::wants_snapshot)
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
        self.syncs.get(index).map(Level2Sync::gaps)
    }

    fn stats(&self) -> FeedStats {
        let c = &self.counters;
        FeedStats {
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
