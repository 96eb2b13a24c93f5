//! [`DepthDecoder`]: the decoder shell of the venues whose books sync a diff stream against REST
//! snapshots (Binance spot, Binance USD-M, KuCoin) — the [`VenueDecoder`] and [`LiveDecoder`]
//! every such venue is, given its wire walk ([`DepthWire`]) and, through it, its sequence rule
//! ([`SequenceRule`], one [`DepthSync`] per symbol).
//!
//! Per frame: the frame is counted and walked; a diff the symbol's sync would apply now goes
//! from the walk straight to the consumer ([`crate::kit::direct`]), any other diff goes to the
//! sync (applied, buffered, ignored as stale or a gap); trade and best-bid/offer records go out
//! as parsed; control frames are counted. A refused frame is counted by reason, warned about
//! (rate-limited) and resyncs the book it belonged to (as the wire walk tells). Frames of a
//! symbol switched off ([`LiveDecoder::set_active`]) are dropped.
//!
//! Snapshots: a rule that [`SequenceRule::REQUESTS`] snapshots tags each request with its sync's
//! generation; for one that does not (USD-M), the shell tracks the request in flight per symbol
//! and its own generation. Snapshot bodies are parsed by the wire ([`DepthWire::parse_snapshot`]).
//!
//! Counters: one [`DepthCounters`] set for every venue (each field says what it counts), shown
//! through the venue's own counters type ([`DepthWire::Counters`]).
//!
//! Thread and contract: core thread. `on_frame` never blocks, allocates nothing after warm-up
//! (the wire's reused buffers; sync buffers preallocated), never panics on bad input; snapshots,
//! resyncs and disconnects are `#[cold]`. Generic over the wire: each venue's decoder is its own
//! monomorphized copy, no `dyn` between walk and sync.

use crate::decoder::{FeedStats, VenueDecoder};
use crate::kit::depth_sync::{DepthSync, DiffOutcome, SequenceRule, SnapshotOutcome};
use crate::kit::direct::{DiffSink, SyncedSink};
use crate::kit::live::{LiveDecoder, deactivates};
use crate::parse_error::{ParseError, StreamFailure};
use qt_core::{BookError, Instrument, MarketEvent, Nanos, Venue};

/// A diff's update ids under the wire's rule.
pub type Ids<W> = <<W as DepthWire>::Rule as SequenceRule>::Ids;
/// The wire's REST snapshot.
pub type Image<W> = <<W as DepthWire>::Rule as SequenceRule>::Image;

/// What one walked frame holds, as the shell handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthFrame<Ids> {
    /// A diff whose records are in the record vector (flags 0), for the sync.
    Diff {
        /// Symbol index.
        symbol: usize,
        /// Its update ids.
        ids: Ids,
    },
    /// A diff the sink accepted ([`DiffSink::direct`]): its records went out while it was
    /// walked, the last flagged `BATCH_END`.
    DiffEmitted {
        /// Symbol index.
        symbol: usize,
        /// The id the book stands at now ([`SequenceRule::end`]).
        end: u64,
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
    /// A greeting, acknowledgement, pong or reply: counted.
    Control,
    /// The venue's error reply: counted.
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

/// A snapshot+diff venue's wire walk: its frames parsed into diffs and records, and its REST
/// snapshot body.
pub trait DepthWire: Send {
    /// The venue's sequence rule (its ids are buffered inside the decoder, which is `Send`).
    type Rule: SequenceRule<Ids: Send>;
    /// How the venue's decoder shows its counters.
    type Counters: From<DepthCounters>;
    /// The venue (its name in warnings).
    const VENUE: Venue;
    /// Capacity of a symbol's diff buffer, in messages.
    const BUFFER_MESSAGES: usize;

    /// A walk for `symbols` (index in the slice = symbol index); allocates its buffers here.
    fn for_symbols(symbols: &[Instrument]) -> Self;
    /// Walks one frame; records go to `out` (cleared first), stamped `local_ns`, except those of
    /// a diff that `sink` accepts once its ids are read ([`DepthFrame::DiffEmitted`]).
    fn walk(
        &mut self,
        frame: &[u8],
        local_ns: Nanos,
        out: &mut Vec<MarketEvent>,
        sink: &mut impl DiffSink<Ids<Self>>,
    ) -> Result<DepthFrame<Ids<Self>>, DepthFailure>;
    /// Parses a REST snapshot body of `instrument` (in place). Cold.
    fn parse_snapshot(body: &mut [u8], instrument: &Instrument) -> Result<Image<Self>, ParseError>;
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
}

/// A snapshot+diff venue's decoder: its wire walk `W`, one [`DepthSync`] per symbol under
/// `W::Rule`, counters (see the module doc).
pub struct DepthDecoder<W: DepthWire> {
    instruments: Vec<Instrument>,
    parser: W,
    syncs: Vec<DepthSync<W::Rule>>,
    /// The wire walk's staged records.
    scratch: Vec<MarketEvent>,
    counters: DepthCounters,
    /// Per symbol: subscribed (frames of an unsubscribed symbol still in flight are dropped).
    active: Vec<bool>,
    /// Per symbol, the generation of the snapshot request in flight, for rules that do not
    /// [`SequenceRule::REQUESTS`] (their sync accepts any snapshot while buffering).
    in_flight: Vec<Option<u64>>,
    /// The last generation handed out for such a rule.
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

impl<W: DepthWire> DepthDecoder<W> {
    /// A decoder for `symbols` (index in the slice = symbol index).
    pub fn new(symbols: &[Instrument]) -> Self {
        let buffer =
            |s: &Instrument| DepthSync::new(s.id(), crate::kit::depth_sync::DEFAULT_BUFFER_RECORDS, W::BUFFER_MESSAGES);
        Self {
            instruments: symbols.to_vec(),
            parser: W::for_symbols(symbols),
            syncs: symbols.iter().map(buffer).collect(),
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

    /// The counters now.
    pub fn counters(&self) -> W::Counters {
        self.counters.into()
    }

    /// Symbol `index`'s sync state machine.
    pub fn sync(&self, index: usize) -> Option<&DepthSync<W::Rule>> {
        self.syncs.get(index)
    }

    /// Whether symbol `index`'s book is in sync.
    pub fn is_synced(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(DepthSync::is_synced)
    }

    /// If symbol `index`'s sync wants a snapshot, the generation to request it with (rules that
    /// [`SequenceRule::REQUESTS`]; the live layer asks through [`LiveDecoder`]).
    pub fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        self.syncs.get_mut(index)?.take_snapshot_request()
    }

    /// Applies a parsed snapshot for symbol `index` answering request `generation` (not checked
    /// under a rule that does not [`SequenceRule::REQUESTS`]).
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
                    match sync.on_message(ids, &mut self.scratch, now, &mut counted) {
                        DiffOutcome::Applied => c.diffs_applied += 1,
                        DiffOutcome::Buffered => {}
                        DiffOutcome::Stale => c.stale += 1,
                        DiffOutcome::Gap => {
                            c.gaps += 1;
                            c.resyncs += 1;
                        }
                        DiffOutcome::Overflow => c.buffer_overflows += 1,
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
            Ok(DepthFrame::Control) => c.control += 1,
            Ok(DepthFrame::ControlError) => c.venue_errors += 1,
            // Frames of a symbol just unsubscribed.
            Ok(DepthFrame::Diff { .. } | DepthFrame::Quote { .. } | DepthFrame::Trade { .. }) => {}
            Err(failure) => self.on_bad_frame(failure, now, &mut counted),
        }
        self.counters.records += records;
    }

    #[cold]
    fn on_bad_frame(&mut self, failure: DepthFailure, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.counters;
        c.parse_errors[failure.error.reason_index()] += 1;
        self.warns.warn(W::VENUE.name(), &"frame", &failure.error, now);
        // A lost diff breaks the book: resync that symbol now rather than at its next diff.
        // (An unreadable frame whose stream cannot be told is caught by the next diff's ids.)
        if let Some(symbol) = failure.book
            && self.active.get(symbol) == Some(&true)
            && let Some(sync) = self.syncs.get_mut(symbol)
        {
            sync.reset(now, emit);
            c.resyncs += 1;
        }
    }

    /// Connection lost: every book is invalid until its resync.
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

    /// A REST snapshot body for symbol `index`; under a rule that [`SequenceRule::REQUESTS`]
    /// snapshots, accepted only while that symbol wants one.
    #[cold]
    fn on_snapshot_body(&mut self, index: usize, body: &[u8], now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) -> bool {
        let Some(instrument) = self.instruments.get(index) else { return false };
        if W::Rule::REQUESTS && !VenueDecoder::wants_snapshot(self, index) {
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
        let generation = if W::Rule::REQUESTS {
            let Some(generation) = self.take_snapshot_request(index) else { return false };
            generation
        } else {
            0
        };
        !matches!(self.on_snapshot(index, &snap, generation, now, emit), SnapshotOutcome::Ignored)
    }

    fn wants_snapshot(&self, index: usize) -> bool {
        self.syncs.get(index).is_some_and(DepthSync::wants_snapshot)
    }

    fn on_disconnect(&mut self, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        DepthDecoder::on_disconnect(self, now, emit);
    }

    #[cold]
    fn on_book_refused(&mut self, index: usize, reason: BookError, now: Nanos, emit: &mut dyn FnMut(&MarketEvent)) {
        let c = &mut self.counters;
        let counts = [&mut c.crossed, &mut c.resyncs, &mut c.records];
        crate::decoder::reset_refused(&mut self.syncs, index, reason, counts, |sync| sync.reset(now, emit));
    }

    fn book_gaps(&self, index: usize) -> Option<u64> {
        self.syncs.get(index).map(DepthSync::gaps)
    }

    fn stats(&self) -> FeedStats {
        let c = &self.counters;
        let counts = [c.messages, c.records, c.gaps, c.crossed, c.resyncs];
        crate::decoder::sync_stats(counts, c.parse_errors, self.warns.suppressed())
    }
}

/// The live layer's half: snapshot requests (tagged by the sync's generation, or tracked here
/// for a rule that does not [`SequenceRule::REQUESTS`]), their answers, and subscriptions.
impl<W: DepthWire + 'static> LiveDecoder for DepthDecoder<W> {
    fn symbol_count(&self) -> usize {
        self.syncs.len()
    }

    fn is_synced(&self, index: usize) -> bool {
        DepthDecoder::is_synced(self, index)
    }

    fn take_snapshot_request(&mut self, index: usize) -> Option<u64> {
        if !self.active.get(index).copied().unwrap_or(false) {
            return None;
        }
        if W::Rule::REQUESTS {
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
            sync.reset(now, emit);
            self.counters.records += 1;
            self.in_flight[index] = None;
        }
    }

    fn retry_snapshot_request(&mut self, index: usize, generation: u64) {
        if W::Rule::REQUESTS {
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
        if !W::Rule::REQUESTS {
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
                // (A rule without requests wants one again by itself: nothing is in flight.)
                LiveDecoder::retry_snapshot_request(self, index, generation);
            }
        }
    }
}
