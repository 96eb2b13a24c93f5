//! `qt journal tail DIR`: print a journal's last records and, with `--follow`, every record
//! committed after them, from another process with no help from the writer.
//!
//! The segments are mapped read-only ([`JournalReader`]); records are printed exactly as `qt
//! journal dump` prints them ([`print_record`], [`DumpFilter`]). The start is the last `-n N`
//! records the filter admits (like tail(1); found by reading back from the last segment, one,
//! two, four... segments at a time, never the whole journal unless the filter is that rare) or
//! `--from SEQ` (the segment holding SEQ is found by its header's first sequence).
//!
//! Following is [`JournalReader::poll`] in a loop: the committed position is one atomic load per
//! poll, so the writer is never asked for anything. When nothing is new the follower spins,
//! then yields, then sleeps, growing to at most 1 ms ([`Backoff`]), so a commit is seen within
//! about a millisecond by an idle follower and within microseconds by a busy one. Segment rolls
//! are followed through the end-of-segment frame (the reader waits for the next file), and a
//! directory that is missing or still has no segment is waited for. It runs until the caller's
//! stop flag is set (SIGINT/SIGTERM in `qt`) or a write fails; a closed pipe is reported as
//! [`std::io::ErrorKind::BrokenPipe`] for the caller to treat as a quiet end. (An idle follower
//! notices a closed pipe at its next write, as tail(1) without inotify does.)
//!
//! Cold path: allocates and makes syscalls freely.

use crate::journal_inspect::{DumpFilter, print_record};
use qt_recorder::{JournalError, JournalReader};
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What `qt journal tail` prints and for how long.
#[derive(Debug, Clone, Default)]
pub struct TailOptions {
    /// Start with the last this many admitted records (ignored with `from`).
    pub last: usize,
    /// Start at this sequence instead.
    pub from: Option<u64>,
    /// Keep printing newly committed records until stopped.
    pub follow: bool,
    /// One JSON object per line.
    pub json: bool,
    /// Type and account filter (its `from`/`to` are ignored: `from` above says where to start).
    pub filter: DumpFilter,
}

/// The longest a follower sleeps between two polls.
pub const MAX_IDLE_SLEEP: Duration = Duration::from_millis(1);

/// How a follower waits when a poll found nothing: spin, then yield, then sleep from 10 µs
/// doubling up to [`MAX_IDLE_SLEEP`]; any record found starts over at spinning.
#[derive(Debug, Default)]
pub struct Backoff {
    idle: u32,
}

impl Backoff {
    const SPINS: u32 = 200;
    const YIELDS: u32 = 50;

    /// A poll found something.
    pub fn reset(&mut self) {
        self.idle = 0;
    }

    /// A poll found nothing: wait a little (longer the longer it has been idle).
    pub fn wait(&mut self) {
        self.idle = self.idle.saturating_add(1);
        if self.idle <= Self::SPINS {
            std::hint::spin_loop();
        } else if self.idle <= Self::SPINS + Self::YIELDS {
            std::thread::yield_now();
        } else {
            std::thread::sleep(self.sleep());
        }
    }

    /// The sleep of the current idle step.
    fn sleep(&self) -> Duration {
        let doublings = self.idle.saturating_sub(Self::SPINS + Self::YIELDS + 1).min(7);
        (Duration::from_micros(10) * (1 << doublings)).min(MAX_IDLE_SLEEP)
    }
}

/// Prints per `opts` to `out` (flushed after each batch); returns how many records were
/// printed. Without `follow` it ends at the committed end; with it, when `stop` is set.
/// Damage ends it with the error (after what was printed).
pub fn tail(dir: &Path, opts: &TailOptions, stop: &AtomicBool, out: &mut dyn Write) -> anyhow::Result<u64> {
    let mut backoff = Backoff::default();
    let Some((mut reader, start)) = open_start(dir, opts, stop, &mut backoff)? else { return Ok(0) };
    let filter = DumpFilter { from: Some(start), to: None, ..opts.filter.clone() };
    let mut printed = 0;
    loop {
        let mut seen = 0;
        while let Some(r) = reader.next()? {
            seen += 1;
            if filter.admits(&r) {
                print_record(&r, opts.json, out)?;
                printed += 1;
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        out.flush()?;
        if !opts.follow || stop.load(Ordering::Relaxed) {
            return Ok(printed);
        }
        if seen > 0 {
            backoff.reset();
        } else {
            backoff.wait();
        }
    }
}

/// A reader placed where printing starts, and the first sequence to print; waits for the
/// journal to appear when following (`None` if stopped first).
fn open_start(
    dir: &Path,
    opts: &TailOptions,
    stop: &AtomicBool,
    backoff: &mut Backoff,
) -> anyhow::Result<Option<(JournalReader, u64)>> {
    loop {
        let segments = match JournalReader::segments(dir) {
            Ok(s) => s,
            Err(e) if opts.follow && not_there_yet(&e) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        if segments.is_empty() {
            if !opts.follow {
                return Err(JournalError::Empty { dir: dir.to_path_buf() }.into());
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            backoff.wait();
            continue;
        }
        backoff.reset();
        let start = match opts.from {
            Some(from) => (segment_holding(dir, &segments, from)?, from),
            None => last_records(dir, &segments, opts.last, &opts.filter)?,
        };
        return Ok(Some((JournalReader::open_at_segment(dir, start.0)?, start.1)));
    }
}

/// The directory does not exist yet (a journal not yet created).
fn not_there_yet(e: &JournalError) -> bool {
    matches!(e, JournalError::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
}

/// The last segment whose first sequence is at or below `sequence` (the first segment if none).
fn segment_holding(dir: &Path, segments: &[u64], sequence: u64) -> Result<u64, JournalError> {
    // Invariant: segments[lo] starts at or below `sequence` (or lo = 0); everything from hi on
    // starts above it.
    let (mut lo, mut hi) = (0, segments.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if JournalReader::open_at_segment(dir, segments[mid])?.next_sequence() <= sequence {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(segments[lo])
}

/// Where the last `n` records `filter` admits start: (segment to open, first sequence to
/// print). Reads from the last segment back, doubling the span, until `n` are found or the
/// first segment is reached.
fn last_records(dir: &Path, segments: &[u64], n: usize, filter: &DumpFilter) -> anyhow::Result<(u64, u64)> {
    let filter = DumpFilter { from: None, to: None, ..filter.clone() };
    let mut span = 1;
    loop {
        let first = segments[segments.len().saturating_sub(span)];
        let mut reader = JournalReader::open_at_segment(dir, first)?;
        let mut found: VecDeque<u64> = VecDeque::with_capacity(n);
        while let Some(r) = reader.next()? {
            if n > 0 && filter.admits(&r) {
                if found.len() == n {
                    found.pop_front();
                }
                found.push_back(r.sequence);
            }
        }
        if found.len() == n || span >= segments.len() {
            // Fewer than `n` in the whole journal: start at its first record.
            return Ok((first, found.front().copied().unwrap_or(reader.next_sequence())));
        }
        span *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_spins_then_yields_then_sleeps_at_most_a_millisecond() {
        let mut b = Backoff::default();
        for _ in 0..Backoff::SPINS + Backoff::YIELDS {
            b.wait();
        }
        let mut sleeps = Vec::new();
        for _ in 0..12 {
            b.idle += 1;
            sleeps.push(b.sleep());
        }
        assert_eq!(sleeps[0], Duration::from_micros(10));
        assert!(sleeps.windows(2).all(|w| w[0] <= w[1]), "{sleeps:?}");
        assert_eq!(*sleeps.last().unwrap(), MAX_IDLE_SLEEP);
        b.reset();
        assert_eq!(b.idle, 0);
    }
}
