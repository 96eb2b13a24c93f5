//! `qt capture` for every venue of the registry ([`crate::venues`]): the very live feed the
//! engine runs (its connect flow, subscriptions, heartbeat, resync and snapshot source) with
//! a raw-frame tap ([`qt_core::FeedSource::set_raw_tap`], the same one `[journal] raw_frames`
//! uses) recording every WebSocket text frame or REST poll body, one per line, into
//! `frames.jsonl`, and the first REST snapshot of each symbol into `snapshot_<SYMBOL>.json`.
//! The capture folder is what `qt feed-check` replays.
//!
//! Runs on the calling thread (a tool, not the core): blocks, allocates freely.

use crate::venues::{FeedTarget, VenueEntry};
use anyhow::{Context, bail};
use qt_core::journal_raw::{RawFrameKind, RawFrameRings};
use qt_core::{MarketEvent, WallClock, sys};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of the tap's ring: drained after every poll, so it only has to hold one turn's frames.
const RING_BYTES: usize = 16 << 20;

/// What a capture recorded.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Messages written to [`Captured::frames`].
    pub messages: u64,
    /// The frames file.
    pub frames: PathBuf,
    /// The live feed's counters at the end (its resyncs show a capture taken at the wrong
    /// precision: Kraken's checksum formats numbers at the pair's decimals).
    pub stats: Option<qt_core::FeedStats>,
}

/// Records `symbols` of `entry`'s venue from `target` for `duration` into `out_dir`, the
/// feed's instruments on a grid of `decimals` (price, quantity) as `qt feed-check` takes them.
pub fn capture(
    entry: &VenueEntry,
    target: &FeedTarget,
    symbols: &[String],
    decimals: (u8, u8),
    duration: Duration,
    out_dir: &Path,
) -> anyhow::Result<Captured> {
    sys::init_clock();
    let venue = entry.venue;
    let instruments = crate::feed_check::capture_instruments(venue, symbols, decimals.0, decimals.1)?;
    let mut feeds = entry.live_feeds(target, &instruments).with_context(|| format!("{venue} feed"))?;
    let [feed] = feeds.as_mut_slice() else {
        bail!("a {venue} capture records one feed: give one --symbols (its frames do not name the market)")
    };
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let (mut taps, mut rings) = RawFrameRings::new(1, RING_BYTES, Arc::new(WallClock));
    if let Some(tap) = taps.pop() {
        feed.set_raw_tap(tap);
    }
    let frames_path = out_dir.join("frames.jsonl");
    let file = std::fs::File::create(&frames_path).with_context(|| format!("creating {}", frames_path.display()))?;
    let mut frames = std::io::BufWriter::new(file);
    let mut saved = vec![false; symbols.len()];
    let mut count = 0u64;
    let mut buf = Vec::new();
    let mut poll = mio::Poll::new()?;
    feed.register(poll.registry(), 0)?;
    let mut events = mio::Events::with_capacity(64);
    let started = Instant::now();
    while started.elapsed() < duration {
        poll.poll(&mut events, Some(Duration::from_millis(10)))?;
        for ev in events.iter() {
            feed.on_ready(ev.token().0);
        }
        feed.poll(sys::mono_now(), &mut |_: &MarketEvent| {});
        while let Some(header) = rings.pop(0, &mut buf) {
            match RawFrameKind::from_code(header.kind) {
                Some(RawFrameKind::RestSnapshot) => {
                    let symbol = header.symbol as usize;
                    if saved.get(symbol) == Some(&false) {
                        saved[symbol] = true;
                        let path = out_dir.join(format!("snapshot_{}.json", symbols[symbol]));
                        std::fs::write(&path, &buf).with_context(|| format!("writing {}", path.display()))?;
                    }
                }
                _ => {
                    // One message per line: JSON strings hold no raw line breaks, so dropping
                    // them only joins a pretty-printed REST body.
                    buf.retain(|b| !matches!(b, b'\n' | b'\r'));
                    frames.write_all(&buf).and_then(|()| frames.write_all(b"\n")).context("writing frames")?;
                    count += 1;
                }
            }
        }
    }
    if rings.dropped() > 0 {
        bail!("{} frames did not fit the capture's ring; the capture is incomplete", rings.dropped());
    }
    frames.flush().context("writing frames")?;
    if count == 0 {
        bail!("no {venue} message of {} in {duration:?}", symbols.join(","));
    }
    Ok(Captured { messages: count, frames: frames_path, stats: feed.stats() })
}
