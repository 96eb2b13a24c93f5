//! [`FrameFeed`]: a venue's raw frames through its real decoder on the core thread, one frame
//! per poll — the feed `qt bench` drives the engine with.
//!
//! A live feed ([`qt_feed::kit::live::LiveFeed`]) reads a frame off its socket inside the core
//! loop's poll and hands the bytes to its venue decoder, stamped with the iteration's monotonic
//! clock read; the decoder's records go straight into the engine (book → strategy → risk gate →
//! order ring). This feed does the same with frames held in memory: the bytes are "available"
//! at the stamp, and the engine's tick→order latency of an order is the order's
//! `sent_local_ns` minus that stamp ([`MarketEvent::local_ns`] of the triggering record).
//!
//! "Available" means where a socket read leaves them: each frame is copied into the feed's
//! receive buffer as soon as the one before it is done (its arrival), and decoded from there —
//! as a live feed decodes bytes the kernel's copy and the TLS layer have just written, hot in
//! the core's cache. Decoding straight out of the generated stream (100 000 frames, ~35 MB)
//! instead read every frame from main memory, a cost no live frame has, and it was a large
//! share of the measured latency (BENCHMARKS.md, "tick→order, step by step").
//!
//! - [`Pace::Max`]: every poll delivers the next frame, stamped with the poll's `local_now`
//!   (the iteration's clock read, as a live feed stamps).
//! - [`Pace::Interval`]: once the driver starts pacing ([`FrameProbe::start_pacing`], after its
//!   warm-up, which runs back to back), frame `i` becomes available at `start + i × interval`
//!   (`start`: the first paced poll); a poll before
//!   that delivers nothing, and a late poll delivers it stamped with the time it became
//!   available, not the poll's. A loop that falls behind thus sees its backlog in the latency
//!   (coordinated-omission correction by intended start time, as wrk2 does).
//!
//! The stream is finite: at its end the feed "reconnects" — the decoder is told of a disconnect
//! and resynced on the stream's snapshot (a REST body after a buffered frame, or a snapshot
//! frame, as the venue syncs), and the frames start over. Venue times are shifted by the
//! stream's span per lap so domain time keeps increasing; records without a venue time (Firi's
//! bodies carry none, nor do REST snapshots) get their frame's number × [`UNTIMED_FRAME_STEP`],
//! so domain time moves and their book is as fresh as a live feed's. Sync polls are flagged in the
//! [`FrameProbe`] so a driver leaves them out of its figures. Polling a frame allocates nothing
//! beyond what the decoder does (nothing after warm-up).

use crate::feed_streams::VenueStream;
use qt_core::feed_source::{FeedSource, FeedState};
use qt_core::{BookError, InstrumentId, MarketEvent, Nanos, SimClock};
use qt_feed::{FeedStats, VenueDecoder};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// The venue time given to records of the `n`-th frame that carry none: `n` times this.
pub const UNTIMED_FRAME_STEP: Nanos = Nanos(100 * Nanos::MILLI.0);

/// How a venue's decoder gets its book image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStep {
    /// The stream's snapshot is a frame (OKX, Bybit, Kraken; Firi's first body).
    SnapshotFrame,
    /// The stream's first frame is buffered, then the REST snapshot body it bridges is applied
    /// (Binance spot and USD-M, KuCoin).
    FrameThenBody,
}

/// When frames become available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Always: one frame per poll, as fast as the loop goes.
    Max,
    /// One frame every this long, from the first timed poll on.
    Interval(Nanos),
}

/// What the feed tells the thread driving the engine (same thread; relaxed atomics only
/// because the feed lives boxed inside the engine).
#[derive(Debug, Default)]
pub struct FrameProbe {
    /// The stamp of the frame the last poll delivered; [`FrameProbe::SYNC`] after a sync poll,
    /// [`FrameProbe::NONE`] when the driver has taken it.
    last_stamp: AtomicI64,
    /// Timed frames delivered.
    frames: AtomicU64,
    /// Syncs done (the first, then one per lap).
    syncs: AtomicU64,
    /// Whether [`Pace::Interval`] holds yet: until the driver calls
    /// [`FrameProbe::start_pacing`] (after its warm-up) frames come back to back.
    pacing: AtomicBool,
}

impl FrameProbe {
    /// No frame since the driver last looked.
    pub const NONE: i64 = i64::MIN;
    /// The last poll synced the decoder (untimed).
    pub const SYNC: i64 = i64::MIN + 1;

    /// Takes the stamp of the frame delivered since the last call ([`Self::NONE`] if none,
    /// [`Self::SYNC`] if the poll was a sync).
    #[inline]
    pub fn take_stamp(&self) -> i64 {
        let stamp = self.last_stamp.load(Ordering::Relaxed);
        if stamp != Self::NONE {
            self.last_stamp.store(Self::NONE, Ordering::Relaxed);
        }
        stamp
    }

    /// From the next poll on, frames come at the feed's [`Pace`] (the schedule starts then).
    pub fn start_pacing(&self) {
        self.pacing.store(true, Ordering::Relaxed);
    }

    /// Timed frames delivered so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Syncs so far (1 + laps completed, once running).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

/// Venue times of a lap, for the shift of the next.
#[derive(Debug, Clone, Copy)]
struct LapTimes {
    offset: i64,
    /// The venue time of the current frame's records that carry none.
    untimed: i64,
    first: i64,
    last: i64,
    span: Option<i64>,
}

/// See the module docs.
pub struct FrameFeed {
    decoder: Box<dyn VenueDecoder>,
    stream: VenueStream,
    sync: SyncStep,
    pace: Pace,
    pos: usize,
    synced: bool,
    next_due: Option<Nanos>,
    clock: SimClock,
    lap: LapTimes,
    probe: Arc<FrameProbe>,
    /// The receive buffer: frame `pos`, copied in when the frame before it was done.
    rx: Vec<u8>,
}

impl FrameFeed {
    /// A feed of `stream` through `decoder` (fresh or synced: it is resynced on the first poll),
    /// synced by `sync`, paced by `pace`, advancing `clock` to the records' venue times.
    pub fn new(
        decoder: Box<dyn VenueDecoder>,
        stream: VenueStream,
        sync: SyncStep,
        pace: Pace,
        clock: SimClock,
    ) -> (Self, Arc<FrameProbe>) {
        let probe = Arc::new(FrameProbe { last_stamp: AtomicI64::new(FrameProbe::NONE), ..FrameProbe::default() });
        let pos = stream.first_measured;
        let lap = LapTimes { offset: 0, untimed: 0, first: i64::MAX, last: i64::MIN, span: None };
        // Filled by the first poll's sync (a fresh feed is not synced), as after every lap.
        let rx = Vec::with_capacity(stream.frames.iter().map(Vec::len).max().unwrap_or(0));
        let feed = Self {
            decoder,
            stream,
            sync,
            pace,
            pos,
            synced: false,
            next_due: None,
            clock,
            lap,
            probe: probe.clone(),
            rx,
        };
        (feed, probe)
    }

    /// Frame `pos` arrives: copied into the receive buffer (within its capacity: no allocation).
    #[inline]
    fn receive(&mut self) {
        self.rx.clear();
        if let Some(frame) = self.stream.frames.get(self.pos) {
            self.rx.extend_from_slice(frame);
        }
    }

    /// Disconnect, then the venue's sync on the stream's snapshot; every record to `sink`.
    #[cold]
    fn resync(&mut self, now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        let Self { decoder, stream, lap, clock, .. } = self;
        let mut n = 0;
        let mut emit = |ev: &MarketEvent| {
            n += 1;
            sink(&shifted(ev, lap, clock));
        };
        decoder.on_disconnect(now, &mut emit);
        match self.sync {
            SyncStep::SnapshotFrame => decoder.on_frame(&stream.snapshot, now, &mut emit),
            SyncStep::FrameThenBody => {
                decoder.on_frame(&stream.frames[0], now, &mut emit);
                decoder.on_snapshot_body(0, &stream.snapshot, now, &mut emit);
            }
        }
        self.pos = self.stream.first_measured;
        self.receive();
        self.synced = true;
        self.probe.syncs.fetch_add(1, Ordering::Relaxed);
        self.probe.last_stamp.store(FrameProbe::SYNC, Ordering::Relaxed);
        n.max(1)
    }

    /// The end of the stream: shift the next lap's venue times past this lap's.
    #[cold]
    fn end_lap(&mut self) {
        let span = *self.lap.span.get_or_insert(self.lap.last.saturating_sub(self.lap.first) + Nanos::MILLI.0);
        self.lap.offset += span;
        self.synced = false;
    }
}

impl std::fmt::Debug for FrameFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameFeed")
            .field("venue", &self.decoder.venue())
            .field("frames", &self.stream.frames.len())
            .field("sync", &self.sync)
            .field("pace", &self.pace)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

/// `ev` with its venue time moved into the current lap; the clock advanced to it.
#[inline]
fn shifted(ev: &MarketEvent, lap: &mut LapTimes, clock: &SimClock) -> MarketEvent {
    let mut ev = *ev;
    if ev.exchange_ns.0 > 0 {
        lap.first = lap.first.min(ev.exchange_ns.0);
        lap.last = lap.last.max(ev.exchange_ns.0);
        ev.exchange_ns = Nanos(ev.exchange_ns.0 + lap.offset);
    } else {
        ev.exchange_ns = Nanos(lap.untimed);
    }
    clock.advance_to(ev.exchange_ns);
    ev
}

impl FeedSource for FrameFeed {
    fn name(&self) -> &str {
        "bench-frames"
    }

    #[inline]
    fn poll(&mut self, local_now: Nanos, sink: &mut dyn FnMut(&MarketEvent)) -> usize {
        if !self.synced {
            return self.resync(local_now, sink);
        }
        let pacing = self.probe.pacing.load(Ordering::Relaxed);
        let stamp = match self.pace {
            Pace::Interval(_) if !pacing => local_now,
            Pace::Max => local_now,
            Pace::Interval(interval) => {
                let due = *self.next_due.get_or_insert(local_now);
                if local_now < due {
                    return 0;
                }
                self.next_due = Some(Nanos(due.0 + interval.0));
                due
            }
        };
        let Self { decoder, rx, lap, clock, .. } = self;
        lap.untimed += UNTIMED_FRAME_STEP.0;
        let mut n = 0;
        decoder.on_frame(rx, stamp, &mut |ev: &MarketEvent| {
            n += 1;
            sink(&shifted(ev, lap, clock));
        });
        self.probe.last_stamp.store(stamp.0, Ordering::Relaxed);
        self.probe.frames.fetch_add(1, Ordering::Relaxed);
        self.pos += 1;
        if self.pos == self.stream.frames.len() {
            self.end_lap();
        } else {
            // The next frame arrives (after this one's orders left: outside its tick→order).
            self.receive();
        }
        n.max(1)
    }

    fn state(&self) -> FeedState {
        FeedState::Live
    }

    fn on_book_refused(
        &mut self,
        _instrument: InstrumentId,
        reason: BookError,
        local_now: Nanos,
        sink: &mut dyn FnMut(&MarketEvent),
    ) {
        self.decoder.on_book_refused(0, reason, local_now, sink);
    }

    fn stats(&self) -> Option<FeedStats> {
        Some(self.decoder.stats())
    }
}
