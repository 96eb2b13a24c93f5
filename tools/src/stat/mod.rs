//! `qt stat [--file F] [--watch 1s] [--json] [--filter WORD]`: reads a running (or stopped)
//! engine's stats file from another process and prints its numbers — a table grouped into
//! sections with rates per second and latency percentiles, or one JSON object per refresh.
//!
//! Roles: [`files`] (default path, opening one for a run, finding one to read), [`series`]
//! (grouping samples into families and histograms), [`table`] (the table and the JSON),
//! [`prometheus`] (the text exposition format for the stats thread), [`health`] (liveness and
//! readiness). A stopped engine's file shows its last values and "stale since …"; a corrupt,
//! truncated, foreign or other-version file is an error saying which (exit non-zero).

pub mod files;
pub mod health;
pub mod prometheus;
pub mod series;
pub mod table;

use anyhow::Context;
use qt_core::stats::{Liveness, Snapshot, unix_now_ns};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// `qt stat`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct StatArgs {
    /// `--file F`.
    pub file: Option<PathBuf>,
    /// `--watch 1s`: refresh every interval until interrupted.
    pub watch: Option<Duration>,
    /// `--json`.
    pub json: bool,
    /// `--filter WORD`: only metrics whose name or labels contain it.
    pub filter: Option<String>,
}

/// RFC 3339 (UTC, seconds) of a unix ns time.
fn rfc3339(unix_ns: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_nanos(unix_ns)).to_string()
}

/// Live, or stale since when and why.
pub fn state_of(snap: &Snapshot) -> table::State {
    let pid_alive = files::pid_alive(snap.header.pid);
    match snap.liveness(unix_now_ns()) {
        Liveness::Live if pid_alive => table::State { live: true, stale_since: None },
        Liveness::Live => {
            let last = snap.header.heartbeat_ns.max(snap.header.start_ns);
            table::State {
                live: false,
                stale_since: Some(format!("{} (process {} is gone)", rfc3339(last), snap.header.pid)),
            }
        }
        Liveness::Stale { since_ns } => table::State { live: false, stale_since: Some(rfc3339(since_ns)) },
    }
}

/// Runs `qt stat`, writing to `out` (stdout in the binary).
pub fn run(args: &StatArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = files::find(args.file.as_deref())?;
    let shown = path.display().to_string();
    let mut prev = table::Previous::default();
    let started = std::time::Instant::now();
    loop {
        let snap = Snapshot::read_file(&path).with_context(|| format!("stats file {shown}"))?;
        let state = state_of(&snap);
        let now = started.elapsed().as_secs_f64();
        let filter = args.filter.as_deref();
        if args.json {
            let v = table::render_json(&shown, &snap, &state, filter, &mut prev, now);
            writeln!(out, "{v}")?;
        } else {
            let mut text = String::new();
            table::render_table(&shown, &snap, &state, filter, &mut prev, now, &mut text);
            if args.watch.is_some() {
                // Clear the screen and home the cursor: the table refreshes in place.
                write!(out, "\x1b[2J\x1b[H")?;
            }
            write!(out, "{text}")?;
        }
        out.flush()?;
        match args.watch {
            Some(every) => std::thread::sleep(every),
            None => return Ok(()),
        }
    }
}
