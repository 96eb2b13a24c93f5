//! [`DepthDecoder`]: the one decoder shell of every streaming book venue — the [`VenueDecoder`]
//! and [`LiveDecoder`] each venue is, given its wire walk ([`DepthWire`]) and, through it, its
//! per-symbol sync ([`SymbolSync`]): books that sync a diff stream by sequence ids against REST
//! snapshots (Binance spot, Binance USD-M, KuCoin: one [`crate::kit::depth_sync::DepthSync`] per
//! symbol under the venue's [`crate::kit::depth_sync::SequenceRule`]) or against the snapshot
//! the venue sends in the stream (Bybit: [`crate::bybit::rules::BookSync`]); books checked by
//! the venue's checksum, their snapshot in the stream (OKX, Kraken:
//! [`crate::kit::checksum_sync::ChecksumSync`] under the venue's
//! [`crate::kit::checksum_sync::ChecksumRule`]); books whose every message is the whole book
//! (Firi's polled bodies: [`crate::firi::rules::ImageSync`]).
//!
//! Per frame: the frame is counted and walked; a diff the symbol's sync would apply now goes
//! from the walk straight to the consumer ([`crate::kit::direct`]), any other diff goes to the
//! sync (applied, buffered, ignored as stale or a gap, or its checksum verified); a frame may
//! hold several diffs, one per book it names (Kraken: [`DepthFrame::Diffs`]); trade and
//! best-bid/offer records go out as parsed; control frames are counted. A refused frame is
//! counted by reason, warned about (rate-limited) and resyncs the book it belonged to, or every
//! valid book it names (as the wire walk tells, [`DepthWire::names`]). Frames of a symbol
//! switched off ([`LiveDecoder::set_active`]) are dropped.
//!
//! Resync (the live half follows the sync's [`Resync`] kind): a sync that resyncs from REST
//! snapshots and [`SymbolSync::REQUESTS`] them tags each request with its generation; for one
//! that does not (USD-M), the shell tracks the request in flight per symbol and its own
//! generation. Snapshot bodies are parsed by the wire ([`DepthWire::parse_snapshot`]). A sync
//! that resyncs by resubscribing (Bybit) says which books want it
//! ([`SymbolSync::take_resubscribe`]).
//!
//! Counters: one [`DepthCounters`] set for every venue (each field says what it counts), shown
//! through the venue's own counters type ([`DepthWire::Counters`]).
//!
//! Thread and contract: core thread. `on_frame` never blocks, allocates nothing after warm-up
//! (the wire's reused buffers; sync buffers preallocated), never panics on bad input; snapshots,
//! resyncs and disconnects are `#[cold]`. Generic over the wire: each venue's decoder is its own
//! monomorphized copy, no `dyn` between walk and sync.

use crate::decoder::{ChecksumVerdict, FeedStats, VenueDecoder};
use crate::kit::depth_sync::SnapshotOutcome;
use crate::kit::direct::{DiffSink, SyncedSink};
use crate::kit::live::{LiveDecoder, deactivates};
pub use crate::kit::symbol_sync::{Resync, SymbolSync};
use crate::parse_error::{ParseError, StreamFailure};
use qt_core::{BookError, Instrument, MarketEvent, Nanos, Venue};

/// A diff's update ids as the wire's sync is asked whether it goes straight out.
pub type Ids<W> = <<W as DepthWire>::Sync as SymbolSync>::Ids;
/// A staged diff's ids as the wire's sync takes it (borrowing the walk's staged levels for `'a`
/// where the sync takes those).
pub type Diff<'a, W> = <<W as DepthWire>::Sync as SymbolSync>::Diff<'a>;
/// Where a diff emitted while walked leaves the wire's sync.
pub type Done<W> = <<W as DepthWire>::Sync as SymbolSync>::Done;
/// The wire's REST snapshot.
pub type Image<W> = <<W as DepthWire>::Sync as SymbolSync>::Image;

/// What one walked frame holds, as the shell handles it (`Done`: what a diff emitted while
/// walked leaves the book at; the id for the snapshot+diff sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthFrame<Ids, Done = u64> {
    /// A diff whose records are in the record vector (flags 0), or whose levels the ids borrow,
    /// for the sync.
    Diff {
        /// Symbol index.
        symbol: usize,
        /// Its update ids.
        ids: Ids,
    },
    /// `count` diffs, one per book the frame names, each for its symbol's sync
    /// ([`DepthWire::diff`]).
    Diffs {
        /// How many.
        count: usize,
    },
    /// A diff the sink accepted ([`DiffSink::direct`]): its records went out while it was
    /// walked, the last flagged `BATCH_END`.
    DiffEmitted {
        /// Symbol index.
        symbol: usize,
        /// Where the book stands now ([`SymbolSync::applied_directly`]; for the snapshot+diff
        /// sync the id, [`crate::kit::depth_sync::SequenceRule::end`]).
        end: Done,
    },
    /// Best-bid/offer records, in the record vector.
    Quote {
        /// Symbol index.
        symbol: usize,
    },
    /// A trade record, in the record vector.
    Trade {
        /// Symbol index.
        symbol: usize,
    },
    /// A ticker push (not normalized): counted.
    Ticker {
        /// Symbol index.
        symbol: usize,
    },
    /// A greeting, acknowledgement or reply: counted.
    Control,
    /// The reply to our heartbeat: counted as control and as a pong.
    Pong,
    /// The venue's error reply: counted ([`DepthWire::refused`] sees it).
    ControlError,
}

/// A refused frame and the book it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthFailure {
    /// Why.
    pub error: ParseError,
    /// The symbol whose diff stream the frame belonged to, when that could be told (that book
    /// is resynced now rather than at its next diff).
    pub book: Option<usize>,
}

impl DepthFailure {
    /// The walk's refusal `failure`: it breaks the book of the symbol it names if its stream
    /// is `diffs`, the venue's diff stream.
    #[cold]
    pub fn of<K: PartialEq>(failure: StreamFailure<K>, diffs: K) -> Self {
        let book = failure.stream.and_then(|(symbol, kind)| (kind == diffs).then_some(symbol));
        Self { error: failure.error, book }
    }
}

/// A venue's wire walk: its frames parsed into diffs and records, and its REST snapshot body
/// where its sync takes one.
pub trait DepthWire: Send {
    /// The venue's per-symbol sync (for the snapshot+diff venues, [`crate::kit::depth_sync::DepthSync`] under their
    /// sequence rule).
    type Sync: SymbolSync;
    /// How the venue's decoder shows its counters.
    type Counters: From<DepthCounters>;
    /// The venue (its name in warnings).
    const VENUE: Venue;
    /// Capacity of a symbol's sync ([`SymbolSync::for_symbol`]): diffs its buffer holds where it
    /// buffers, levels a side its shadow book keeps where it keeps one.
    const SYNC_CAPACITY: usize;

    /// Walks one frame; records go to `out` (cleared first), stamped `local_ns`, except those of
    /// a diff that `sink` accepts once its ids are read ([`DepthFrame::DiffEmitted`]).
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<Ids<Self>>,
    ) -> Result<DepthFrame<Diff<'_, Self>, Done<Self>>, DepthFailure>;
    /// Diff `k` of the last walked [`DepthFrame::Diffs`] frame and its symbol index.
    #[inline]
    fn diff(&self, _k: usize) -> Option<(usize, Diff<'_, Self>)> {
        None
    }
    /// The capacity of this walk's syncs: [`Self::SYNC_CAPACITY`], unless chosen at run time
    /// (Kraken's subscribed depth).
    #[inline]
    fn sync_capacity(&self) -> usize {
        Self::SYNC_CAPACITY
    }
    /// Parses a REST snapshot body of `instrument` (in place); refused where the sync takes
    /// none ([`Resync::Snapshot`] only asks). Cold.
    #[cold]
    fn parse_snapshot(_body: &mut [u8], _instrument: &Instrument) -> Result<Image<Self>, ParseError> {
        Err(ParseError::UnknownStream)
    }
    /// The venue refused one of our requests (`frame`, a [`DepthFrame::ControlError`]). Cold.
    #[inline]
    fn refused(_frame: &[u8]) {}
    /// Whether the refused `frame`, whose failure names no one book ([`DepthFailure::book`]),
    /// names symbol `index`'s (a frame of several books: Kraken's); each valid book it names
    /// is resynced. Cold.
    #[inline]
    fn names(&self, _frame: &[u8], _index: usize) -> bool {
        false
    }
}

/// A wire walk built from the symbols alone (what [`DepthDecoder::new`] needs; a venue whose
/// walk needs more builds it and calls [`DepthDecoder::with_wire`]).
pub trait ForSymbols {
    /// A walk for `symbols` (index in the slice = symbol index); allocates its buffers here.
    fn for_symbols(symbols: &[Instrument]) -> Self;
}

/// The counters of a [`DepthDecoder`] (plain values, core thread); the connection-level ones
/// are filled by a live feed's own `counters` where it has one, and are 0 from the decoder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepthCounters {
    /// Frames handed to the decoder.
    pub messages: u64,
    /// Records emitted (snapshots, diffs, invalidations, trades, quotes).
    pub records: u64,
    /// Refused frames by reason (index: [`ParseError::reason_index`], name:
    /// [`ParseError::reason_name`]).
    pub parse_errors: [u64; ParseError::REASONS],
    /// Control frames (greetings, acknowledgements, pongs, replies).
    pub control: u64,
    /// The venue's error frames.
    pub venue_errors: u64,
    /// Trades emitted.
    pub trades: u64,
    /// Diffs applied to an in-sync book (buffered ones count when the snapshot lands).
    pub diffs_applied: u64,
    /// Diffs already covered by the book, ignored.
    pub stale: u64,
    /// Diffs ignored while the book waits for the snapshot the venue sends in the stream.
    pub waiting: u64,
    /// Book messages whose checksum matched our book's (checksum venues).
    pub checksum_ok: u64,
    /// Book messages whose checksum did not (each book invalidated and resynced).
    pub checksum_failed: u64,
    /// Book messages without a checksum to verify (absent, or 0 where the venue means absent).
    pub checksum_absent: u64,
    /// The frame (its number in `messages`) that last had a book message matching its checksum:
    /// with `mismatch_frame`, the last frame's verdict ([`DepthCounters::checksum_verdict`]).
    pub match_frame: u64,
    /// The frame (its number in `messages`) that last had a checksum mismatch.
    pub mismatch_frame: u64,
    /// Snapshots in the stream that replaced a valid book (service-side resets).
    pub resets: u64,
    /// The venue's pongs (replies to our heartbeat).
    pub pongs: u64,
    /// Ticker pushes (counted, not normalized).
    pub tickers: u64,
    /// Sequence gaps (a diff that does not follow the book, or none that bridges a snapshot).
    pub gaps: u64,
    /// Books found crossed or locked after a complete message (each resynced).
    pub crossed: u64,
    /// Resyncs started (gaps, unreadable diff frames, crossed books, disconnects: one per
    /// symbol).
    pub resyncs: u64,
    /// Snapshots emitted.
    pub snapshots_applied: u64,
    /// Snapshots older than the buffered diffs (another is wanted).
    pub stale_snapshots: u64,
    /// Snapshot bodies refused (and, from a live feed, fetches that failed after retries).
    pub snapshot_failures: u64,
    /// Diff buffers that overflowed while waiting for a snapshot.
    pub buffer_overflows: u64,
    /// WebSocket sessions opened (connection level).
    pub connects: u64,
    /// Sessions opened after the first (reconnections).
    pub reconnects: u64,
    /// Open sessions lost.
    pub disconnects: u64,
    /// Connection attempts that failed before the session opened.
    pub connect_failures: u64,
}

impl DepthCounters {
    /// Refused frames, all reasons.
    pub fn parse_errors_total(&self) -> u64 {
        self.parse_errors.iter().sum()
    }

    /// The verdict on the checksums of the last frame's book messages (a mismatch of any of them
    /// wins).
    pub fn checksum_verdict(&self) -> ChecksumVerdict {
        if self.messages == 0 {
            ChecksumVerdict::None
        } else if self.mismatch_frame == self.messages {
            ChecksumVerdict::Mismatch
        } else if self.match_frame == self.messages {
            ChecksumVerdict::Match
        } else {
            ChecksumVerdict::None
        }
    }
}

/// A venue's decoder: its wire walk `W`, one `W::Sync` per symbol, counters (see the module
/// doc).
pub struct DepthDecoder<W: DepthWire> {
    instruments: Vec<Instrument>,
    parser: W,
    syncs: Vec<W::Sync>,
    /// The wire walk's staged records.
    scratch: Vec<MarketEvent>,
    counters: DepthCounters,
    /// Per symbol: subscribed (frames of an unsubscribed symbol still in flight are dropped).
    active: Vec<bool>,
    /// Per symbol, the generation of the snapshot request in flight, for syncs that do not
    /// [`SymbolSync::REQUESTS`] (theirs accepts any snapshot while buffering).
    in_flight: Vec<Option<u64>>,
    /// The last generation handed out for such a sync.
    generation: u64,
    /// Whether an in-sequence diff is emitted while it is walked ([`crate::kit::direct`]);
    /// `false` stages every diff (see [`DepthDecoder::set_direct`]).
    direct: bool,
    warns: crate::warn_gate::WarnGate,
}

impl<W: DepthWire> std::fmt::Debug for DepthDecoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepthDecoder").field("venue", &W::VENUE).field("symbols", &self.syncs.len()).finish()
    }
}

impl<W: DepthWire + ForSymbols> DepthDecoder<W> {
    /// A decoder for `symbols` (index in the slice = symbol index).
    pub fn new(symbols: &[Instrument]) -> Self {
        Self::with_wire(W::for_symbols(symbols), symbols)
    }
}

impl<W: DepthWire> DepthDecoder<W> {
    /// A decoder over the wire walk `parser` of `symbols` (index in the slice = symbol index).
    /// Allocates everything it will use here.
    pub fn with_wire(parser: W, symbols: &[Instrument]) -> Self {
        let capacity = parser.sync_capacity();
        Self {
            instruments: symbols.to_vec(),
            parser,
            syncs: symbols.iter().map(|s| W::Sync::for_symbol(s, capacity)).collect(),
            scratch: Vec::with_capacity(16 * 1024),
            counters: DepthCounters::default(),
            active: vec![true; symbols.len()],
            in_flight: vec![None; symbols.len()],
            generation: 0,
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

    /// The wire walk.
    pub fn wire(&self) -> &W {
        &self.parser
    }

    /// The counters now.
    pub fn counters(&self) -> W::Counters {
        self.counters.into()
    }

    /// Symbol `index`'s sync state machine.
    pub fn sync(&self, index: usize) -> Option<&W::Sync> {
        self.syncs.get(index)
    }

    /// Whether symbol `index`'s book is in sync.
    pub fn is_synced(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(W::Sync::is_synced)
    }

    /// If symbol `index`'s sync wants a snapshot, the generation to request it with (syncs that
    /// [`SymbolSync::REQUESTS`]; the live layer asks through [`LiveDecoder`]).
    pub fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        self.syncs.get_mut(index)?.take_snapshot_request()
    }

    /// Whether symbol `index`'s book must be subscribed again (a sync that resyncs by
    /// resubscribing), clearing the request: the caller resubscribes now.
    pub fn take_resubscribe(&mut self, index: usize) -> bool {
        self.syncs.get_mut(index).is_some_and(W::Sync::take_resubscribe)
    }

    /// [`Self::take_resubscribe`] without clearing.
    pub fn wants_resubscribe(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(W::Sync::wants_resubscribe)
    }

    /// Applies a parsed snapshot for symbol `index` answering request `generation` (not checked
    /// under a sync that does not [`SymbolSync::REQUESTS`]).
    #[cold]
    pub fn on_snapshot(
        &mut self,
        index: usize,
        snap: &Image<W>,
        generation: u64,
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) -> SnapshotOutcome {
        let Some(sync) = self.syncs.get_mut(index) else { return SnapshotOutcome::Ignored };
        let c = &mut self.counters;
        let mut records = 0u64;
        let outcome = sync.on_snapshot(snap, generation, now, &mut |ev| {
            records += 1;
            emit(ev);
        });
        c.records += records;
        match outcome {
            SnapshotOutcome::Synced { applied } => {
                c.snapshots_applied += 1;
                c.diffs_applied += applied as u64;
            }
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
    ///
    /// Generic over the sink (a `&mut dyn FnMut` still works) so that the record-counting
    /// wrapper is inlined into the per-record loop instead of being a second indirect call per
    /// level (BENCHMARKS.md `feed_parse`, round 3).
    #[inline]
    pub fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut (impl FnMut(&MarketEvent) + ?Sized)) {
        self.counters.messages += 1;
        let mut records = 0u64;
        let mut counted = |ev: &MarketEvent| {
            records += 1;
            emit(ev);
        };
        // A diff that applies now goes straight from the walk to `emit` (no staging).
        let mut sink = SyncedSink { direct: self.direct, syncs: &self.syncs, active: &self.active, emit: &mut counted };
        let walked = self.parser.walk(frame, now, &mut self.scratch, &mut sink);
        let c = &mut self.counters;
        match walked {
            Ok(DepthFrame::DiffEmitted { symbol, end }) => {
                if let Some(sync) = self.syncs.get_mut(symbol) {
                    sync.applied_directly(end);
                }
                c.diffs_applied += 1;
            }
            Ok(DepthFrame::Diff { symbol, ids }) if self.active.get(symbol) == Some(&true) => {
                if let Some(sync) = self.syncs.get_mut(symbol) {
                    sync.on_diff(ids, &mut self.scratch, now, &mut counted, c);
                }
            }
            Ok(DepthFrame::Diffs { count }) => {
                for k in 0..count {
                    if let Some((symbol, diff)) = self.parser.diff(k)
                        && self.active.get(symbol) == Some(&true)
                        && let Some(sync) = self.syncs.get_mut(symbol)
                    {
                        sync.on_diff(diff, &mut self.scratch, now, &mut counted, c);
                    }
                }
            }
            Ok(DepthFrame::Quote { symbol }) if self.active.get(symbol) == Some(&true) => {
                for ev in &self.scratch {
                    counted(ev);
                }
            }
            Ok(DepthFrame::Trade { symbol }) if self.active.get(symbol) == Some(&true) => {
                for ev in &self.scratch {
                    counted(ev);
                }
                c.trades += 1;
            }
            Ok(DepthFrame::Ticker { .. }) => c.tickers += 1,
            Ok(DepthFrame::Control) => c.control += 1,
            Ok(DepthFrame::Pong) => {
                c.control += 1;
                c.pongs += 1;
            }
            Ok(DepthFrame::ControlError) => {
                c.venue_errors += 1;
                W::refused(frame);
            }
            // Frames of a symbol just unsubscribed.
            Ok(DepthFrame::Diff { .. } | DepthFrame::Quote { .. } | DepthFrame::Trade { .. }) => {}
            Err(failure) => self.on_bad_frame(frame, failure, now, &mut counted),
        }
        self.counters.records += records;
    }

    #[cold]
    fn on_bad_frame(&mut self, frame: &[u8], failure: DepthFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.counters;
        c.parse_errors[failure.error.reason_index()] += 1;
        self.warns.warn(W::VENUE.name(), &"frame", &failure.error, now);
        // A lost diff breaks the book: resync that symbol now rather than at its next diff.
        // (An unreadable frame whose stream cannot be told is caught by the next diff's ids or
        // checksum, unless the walk finds the books it names.)
        if let Some(symbol) = failure.book {
            if self.active.get(symbol) == Some(&true)
                && let Some(sync) = self.syncs.get_mut(symbol)
                && sync.reset(now, emit)
            {
                c.resyncs += 1;
            }
            return;
        }
        for (index, sync) in self.syncs.iter_mut().enumerate() {
            if self.active.get(index) == Some(&true)
                && sync.is_synced()
                && self.parser.names(frame, index)
                && sync.reset(now, emit)
            {
                c.resyncs += 1;
            }
        }
    }

    /// Connection lost: every book is invalid until its resync.
    #[cold]
    pub fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        // Answers to requests made on the old session are not waited for.
        self.in_flight.fill(None);
        for sync in &mut self.syncs {
            self.counters.resyncs += u64::from(sync.on_disconnect(now, emit));
            self.counters.records += 1;
        }
    }

    /// Counts and warns about a refused snapshot body of symbol `index`.
    #[cold]
    fn snapshot_refused(&mut self, index: usize, error: &ParseError, now: Nanos) {
        self.counters.snapshot_failures += 1;
        if let Some(instrument) = self.instruments.get(index) {
            self.warns.snapshot_refused(W::VENUE.name(), instrument.symbol(), error, now);
        }
    }
}

impl<W: DepthWire> VenueDecoder for DepthDecoder<W> {
    fn venue(&self) -> Venue {
        W::VENUE
    }

    fn on_frame(&mut self, frame: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        DepthDecoder::on_frame(self, frame, now, emit);
    }

    /// A REST snapshot body for symbol `index` (a sync that resyncs from snapshots); under one
    /// that [`SymbolSync::REQUESTS`] snapshots, accepted only while that symbol wants one.
    #[cold]
    fn on_snapshot_body(&mut self, index: usize, body: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let Some(instrument) = self.instruments.get(index) else { return false };
        if W::Sync::RESYNC != Resync::Snapshot {
            return false;
        }
        if W::Sync::REQUESTS && !VenueDecoder::wants_snapshot(self, index) {
            return false;
        }
        let mut owned = body.to_vec();
        let snap = match W::parse_snapshot(&mut owned, instrument) {
            Ok(snap) => snap,
            Err(e) => {
                self.snapshot_refused(index, &e, now);
                return false;
            }
        };
        let generation = if W::Sync::REQUESTS {
            let Some(generation) = self.take_snapshot_request(index) else { return false };
            generation
        } else {
            0
        };
        !matches!(self.on_snapshot(index, &snap, generation, now, emit), SnapshotOutcome::Ignored)
    }

    fn wants_snapshot(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(W::Sync::wants_snapshot)
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        DepthDecoder::on_disconnect(self, now, emit);
    }

    fn last_checksum(&self) -> ChecksumVerdict {
        self.counters.checksum_verdict()
    }

    #[cold]
    fn on_book_refused(&mut self, index: usize, reason: BookError, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.counters;
        let counts = [&mut c.crossed, &mut c.resyncs, &mut c.records];
        crate::decoder::reset_refused(&mut self.syncs, index, reason, counts, |sync| sync.reset(now, emit));
    }

    fn book_gaps(&self, index: usize) -> Option<u64> {
        self.syncs.get(index).and_then(W::Sync::gaps)
    }

    fn stats(&self) -> FeedStats {
        let c = &self.counters;
        let counts = [c.messages, c.records, c.gaps, c.crossed, c.resyncs];
        FeedStats {
            checksum_ok: c.checksum_ok,
            checksum_failed: c.checksum_failed,
            ..crate::decoder::sync_stats(counts, c.parse_errors, self.warns.suppressed())
        }
    }
}

/// The live layer's half, following the sync's [`Resync`] kind: snapshot requests (tagged by the
/// sync's generation, or tracked here for a sync that does not [`SymbolSync::REQUESTS`]) and
/// their answers, or resubscriptions; and subscriptions.
impl<W: DepthWire + 'static> LiveDecoder for DepthDecoder<W> {
    fn symbol_count(&self) -> usize {
        self.syncs.len()
    }

    fn is_synced(&self, index: usize) -> bool {
        DepthDecoder::is_synced(self, index)
    }

    /// A symbol switched off is not resubscribed.
    fn take_resubscribe(&mut self, index: usize) -> bool {
        self.active.get(index) == Some(&true) && DepthDecoder::take_resubscribe(self, index)
    }

    fn wants_resubscribe(&self, index: usize) -> bool {
        self.active.get(index) == Some(&true) && self.syncs.get(index).is_some_and(W::Sync::wants_resubscribe)
    }

    fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        if W::Sync::RESYNC != Resync::Snapshot || !self.active.get(index).copied().unwrap_or(false) {
            return None;
        }
        if W::Sync::REQUESTS {
            return DepthDecoder::take_snapshot_request(self, index);
        }
        let wants = self.syncs.get(index)?.wants_snapshot();
        let slot = self.in_flight.get_mut(index)?;
        if !wants || slot.is_some() {
            return None;
        }
        self.generation += 1;
        *slot = Some(self.generation);
        *slot
    }

    #[cold]
    fn set_active(&mut self, index: usize, active: bool, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        if deactivates(&mut self.active, index, active)
            && let Some(sync) = self.syncs.get_mut(index)
        {
            // Invalid, and no resync of either kind wanted (as after a disconnect).
            let _resync_started = sync.on_disconnect(now, emit);
            self.counters.records += 1;
            self.in_flight[index] = None;
        }
    }

    fn retry_snapshot_request(&mut self, index: usize, generation: u64) {
        if W::Sync::REQUESTS {
            if let Some(sync) = self.syncs.get_mut(index)
                && sync.generation() == generation
            {
                sync.retry_snapshot_request();
            }
        } else if let Some(slot) = self.in_flight.get_mut(index)
            && *slot == Some(generation)
        {
            *slot = None;
        }
    }

    #[cold]
    fn on_snapshot_reply(
        &mut self,
        index: usize,
        generation: u64,
        body: &mut [u8],
        now: Nanos,
        emit: &mut dyn FnMut(&MarketEvent),
    ) {
        if !W::Sync::REQUESTS {
            // Only the answer to the request in flight counts; it is no longer in flight.
            if self.in_flight.get(index).copied().flatten() != Some(generation) {
                return;
            }
            self.in_flight[index] = None;
        }
        let Some(instrument) = self.instruments.get(index) else { return };
        match W::parse_snapshot(body, instrument) {
            Ok(snap) => {
                self.on_snapshot(index, &snap, generation, now, emit);
            }
            Err(e) => {
                self.snapshot_refused(index, &e, now);
                // (A sync without requests wants one again by itself: nothing is in flight.)
                LiveDecoder::retry_snapshot_request(self, index, generation);
            }
        }
    }
}
