//! `[journal]`: where and how `qt run` journals ([`JournalPlan`]).
//!
//! ```toml
//! [journal]
//! enabled = true              # --no-journal turns it off for one run
//! dir = "journal"             # --journal DIR overrides; relative to the working directory
//! segment_size = "64MiB"      # each segment file, preallocated ("KiB", "MiB", "GiB"; ≥ 64KiB)
//! flush = "none"              # "none" | "interval" | "every" (see docs/JOURNAL.md)
//! flush_interval = "100ms"    # with flush = "interval"
//! on_full = "backpressure"    # "backpressure" | "drop" (journal ring full)
//! ring_capacity = 65536       # records between the core and the journal thread
//! raw_frames = false          # live runs: also journal every raw venue frame (RawFrame records;
//!                             # dropped and counted, never waited for, when the journal lags)
//! ```
//!
//! A simulated run writes a fresh journal in a run-named folder under `dir`
//! (`sim-<UTC time>-<pid>`); a live run writes `dir` itself and continues it across restarts.

use super::Problems;
use qt_core::journal::JournalFullPolicy;
use qt_recorder::PersistMode;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The `[journal]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawJournal {
    /// Journal this run.
    pub enabled: bool,
    /// Directory.
    pub dir: PathBuf,
    /// Segment file size with a unit.
    pub segment_size: String,
    /// Flush policy name.
    pub flush: String,
    /// Interval of `flush = "interval"`.
    pub flush_interval: String,
    /// Full policy name.
    pub on_full: String,
    /// Ring slots.
    pub ring_capacity: usize,
    /// Journal raw venue frames (live runs).
    pub raw_frames: bool,
}

impl Default for RawJournal {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: PathBuf::from("journal"),
            segment_size: "64MiB".into(),
            flush: "none".into(),
            flush_interval: "100ms".into(),
            on_full: "backpressure".into(),
            ring_capacity: 65_536,
            raw_frames: false,
        }
    }
}

/// How the run journals.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalPlan {
    /// The journal directory (a live run's journal; a simulated run's parent folder).
    pub dir: PathBuf,
    /// Segment size in bytes.
    pub segment_size: u64,
    /// Flush policy.
    pub persist: PersistMode,
    /// Ring-full policy.
    pub on_full: JournalFullPolicy,
    /// Ring slots.
    pub ring_capacity: usize,
    /// Journal raw venue frames (live runs; a simulated run's feed is an in-process ring).
    pub raw_frames: bool,
}

/// Bytes of a size like "64MiB".
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{text:?} is not a size like \"64MiB\""))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("{text:?}: unit {other:?} is not one of B, KiB, MiB, GiB")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{text:?} is too large"))
}

/// Validates `[journal]`; `None` when disabled.
pub(super) fn validate(p: &mut Problems, j: &RawJournal) -> Option<JournalPlan> {
    let segment_size = match parse_size(&j.segment_size) {
        Ok(n) if (64 << 10..=16 << 30).contains(&n) && n % 4096 == 0 => n,
        Ok(_) => {
            p.add("journal.segment_size", format!("{:?} must be a multiple of 4KiB in 64KiB..=16GiB", j.segment_size));
            64 << 20
        }
        Err(m) => {
            p.add("journal.segment_size", m);
            64 << 20
        }
    };
    let persist = match j.flush.as_str() {
        "none" => PersistMode::None,
        "every" => PersistMode::Every,
        "interval" => match super::parse_duration(&j.flush_interval) {
            Ok(d) if d.0 > 0 => PersistMode::Interval(Duration::from_nanos(d.0 as u64)),
            Ok(_) => {
                p.add("journal.flush_interval", format!("{:?} must be longer than zero", j.flush_interval));
                PersistMode::None
            }
            Err(m) => {
                p.add("journal.flush_interval", m);
                PersistMode::None
            }
        },
        other => {
            p.add("journal.flush", format!("{other:?} is not one of \"none\", \"interval\", \"every\""));
            PersistMode::None
        }
    };
    let on_full = match j.on_full.as_str() {
        "backpressure" => JournalFullPolicy::Backpressure,
        "drop" => JournalFullPolicy::DropAndCount,
        other => {
            p.add("journal.on_full", format!("{other:?} is not one of \"backpressure\", \"drop\""));
            JournalFullPolicy::Backpressure
        }
    };
    if !(1024..=1 << 24).contains(&j.ring_capacity) {
        p.add("journal.ring_capacity", format!("{} must be in 1024..=16777216", j.ring_capacity));
    }
    if j.dir.as_os_str().is_empty() {
        p.add("journal.dir", "must not be empty");
    }
    j.enabled.then(|| JournalPlan {
        dir: j.dir.clone(),
        segment_size,
        persist,
        on_full,
        ring_capacity: j.ring_capacity.clamp(1024, 1 << 24),
        raw_frames: j.raw_frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_and_refuse_others() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("64MB").unwrap_err().contains("unit"));
        assert!(parse_size("lots").is_err());
    }
}
