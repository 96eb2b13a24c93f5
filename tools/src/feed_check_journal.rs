//! `qt feed-check --journal DIR --feed N`: runs the raw venue frames a live run journaled
//! (`[journal] raw_frames = true`, RawFrame records) through the same check as a capture file
//! ([`crate::feed_check::check_inputs`]): WebSocket frames and REST poll bodies to the decoder
//! in their order, REST snapshot bodies to the symbol's sync where the live feed's sync took
//! them (where a capture's `--snapshot` files would be used).
//!
//! Feed `N` is the engine's feed order, which in a live run is the order of `[[venues]]` in the
//! run's configuration, each venue's instruments split into feeds as its registry entry groups
//! them ([`crate::config::Plan::live_feeds`]: Bybit spot and linear, one Firi market each); the
//! venue and symbols come from the journal's Config record. A journal
//! continued across restarts holds several runs: the last run's frames are checked (an earlier
//! run's session ended with a disconnect the frames alone do not show).

use crate::feed_check::{CheckInput, CheckSummary, capture_instruments, check_inputs};
use anyhow::{Context, anyhow, bail};
use qt_core::journal_raw::RawFrameKind;
use qt_recorder::payload::{raw, text};
use qt_recorder::{JournalReader, RecordType};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// The last run in a journal: its configuration text and its raw frames (feed, input).
#[derive(Debug, Default)]
pub struct JournaledFrames {
    /// The run's configuration (as journaled).
    pub config: String,
    /// Raw frames in journal order: (feed index, input).
    pub frames: Vec<(u16, CheckInput)>,
    /// Runs before the last one (their frames are not checked).
    pub earlier_runs: u64,
}

/// Reads the last run's Config record and raw frames from the journal in `dir`.
pub fn read(dir: &Path) -> anyhow::Result<JournaledFrames> {
    let mut reader = JournalReader::open(dir).with_context(|| format!("opening journal {}", dir.display()))?;
    let mut found = JournaledFrames::default();
    let mut runs = 0u64;
    while let Some(r) = reader.next().with_context(|| format!("reading journal {}", dir.display()))? {
        let e = &r.entry;
        match e.kind {
            RecordType::Config => {
                let t = text::decode(e.kind, e.payload, e.payload_version)
                    .with_context(|| format!("configuration record at sequence {}", r.sequence))?;
                runs += 1;
                found.config = t.text;
                found.frames.clear();
            }
            RecordType::RawFrame => {
                let f = raw::decode(e.payload, e.payload_version)
                    .with_context(|| format!("raw frame at sequence {}", r.sequence))?;
                let input = if f.kind == RawFrameKind::RestSnapshot.code() {
                    CheckInput::Snapshot { symbol: f.symbol as usize, body: f.bytes.to_vec() }
                } else {
                    CheckInput::Frame(f.bytes.to_vec())
                };
                found.frames.push((f.feed, input));
            }
            _ => {}
        }
    }
    if runs == 0 {
        bail!("journal {} holds no run (no configuration record)", dir.display());
    }
    found.earlier_runs = runs - 1;
    Ok(found)
}

/// One feed of the run: its venue and symbols, as the configuration has them.
#[derive(Debug, Clone)]
pub struct JournaledFeed {
    /// Venue.
    pub venue: qt_core::Venue,
    /// Symbols in the feed's order.
    pub symbols: Vec<String>,
    /// Raw frames journaled for it.
    pub frames: u64,
}

/// The run's live feeds (index = feed index), from its configuration.
pub fn feeds(found: &JournaledFrames, dir: &Path) -> anyhow::Result<Vec<JournaledFeed>> {
    let plan = crate::config::load(&found.config, &format!("the configuration journaled in {}", dir.display()))
        .map_err(|e| anyhow!("{e}"))?;
    Ok(plan
        .live_feeds()
        .into_iter()
        .enumerate()
        .map(|(i, (venue, instruments))| JournaledFeed {
            venue,
            symbols: instruments
                .iter()
                .filter_map(|id| plan.instruments.get(*id).map(|inst| inst.symbol().to_string()))
                .collect(),
            frames: found.frames.iter().filter(|(f, _)| usize::from(*f) == i).count() as u64,
        })
        .collect())
}

/// Checks feed `feed`'s frames of the last run in `dir`; instruments on a grid of the given
/// decimals (as for a capture). Writes a line per message to `out`.
pub fn check(
    dir: &Path,
    feed: usize,
    price_decimals: u8,
    qty_decimals: u8,
    out: &mut dyn Write,
) -> anyhow::Result<CheckSummary> {
    let found = read(dir)?;
    let feeds = feeds(&found, dir)?;
    let Some(f) = feeds.get(feed) else {
        bail!("journal {} has no feed {feed}:\n{}", dir.display(), list(&feeds));
    };
    if found.earlier_runs > 0 {
        writeln!(out, "checking the last run ({} earlier runs in the journal not checked)", found.earlier_runs)?;
    }
    let instruments = capture_instruments(f.venue, &f.symbols, price_decimals, qty_decimals)?;
    let inputs = found.frames.into_iter().filter(|(n, _)| usize::from(*n) == feed).map(|(_, input)| Ok(input));
    check_inputs(f.venue, &instruments, inputs, &HashMap::new(), 0, out)
}

/// The feeds as `qt feed-check --journal` lists them.
pub fn list(feeds: &[JournaledFeed]) -> String {
    feeds
        .iter()
        .enumerate()
        .map(|(i, f)| format!("  feed {i}: {} {}  raw frames {}\n", f.venue, f.symbols.join(","), f.frames))
        .collect()
}
