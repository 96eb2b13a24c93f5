//! The node_exporter textfile-collector file: the `/metrics` text, rewritten every interval.
//!
//! node_exporter (`--collector.textfile.directory`) reads every `*.prom` file of a directory on
//! each of its scrapes; a file caught half-written would export half the metrics, so each write
//! goes to `<path>.tmp.<pid>` in the same directory (same file system, and not `*.prom`, so the
//! collector skips it) and is renamed over `<path>` — a reader sees the old file or the new one,
//! whole. A failed write removes its temporary file, is counted by the caller and logged at most
//! once per [`WARN_EVERY`] (with how many failed since); it never stops the thread. The file is
//! left in place when the engine stops: node_exporter's `node_textfile_mtime_seconds` tells a
//! stale one.
//!
//! Used on `qt-stats`; each write allocates its path strings once (at construction) and makes
//! three syscalls plus the writes.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A failing textfile is logged at most this often.
pub const WARN_EVERY: Duration = Duration::from_secs(60);
/// Shortest interval honoured (a zero interval would spin the thread).
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Writes the textfile atomically on a schedule (see the module doc).
#[derive(Debug)]
pub struct TextfileWriter {
    path: PathBuf,
    tmp: PathBuf,
    interval: Duration,
    next_due: Option<Instant>,
    text: String,
    last_warning: Option<Instant>,
    failures_unlogged: u64,
    failing: bool,
}

impl TextfileWriter {
    /// A writer of `path` every `interval` (at least [`MIN_INTERVAL`]), first due at once.
    pub fn new(path: PathBuf, interval: Duration) -> Self {
        let mut tmp = OsString::from(path.as_os_str());
        tmp.push(format!(".tmp.{}", std::process::id()));
        Self {
            path,
            tmp: PathBuf::from(tmp),
            interval: interval.max(MIN_INTERVAL),
            next_due: None,
            text: String::new(),
            last_warning: None,
            failures_unlogged: 0,
            failing: false,
        }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file each write goes through.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Replaces the file with `text`, atomically (temporary file, then rename).
    pub fn write(&self, text: &str) -> io::Result<()> {
        let written = fs::File::create(&self.tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .and_then(|()| fs::rename(&self.tmp, &self.path));
        if written.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        written
    }

    /// When the next write is due (`None`: now).
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.next_due
    }

    /// If a write is due at `now`: renders with `render` and writes, logging a failure (rate
    /// limited); `None` when not due.
    pub(super) fn tick(&mut self, now: Instant, render: impl FnOnce(&mut String)) -> Option<io::Result<()>> {
        if self.next_due.is_some_and(|due| now < due) {
            return None;
        }
        self.next_due = Some(now + self.interval);
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        render(&mut text);
        let result = self.write(&text);
        self.text = text;
        match &result {
            Ok(()) if self.failing => {
                self.failing = false;
                log::info!("stats: {} written again", self.path.display());
            }
            Ok(()) => {}
            Err(e) => self.warn(e, now),
        }
        Some(result)
    }

    #[cold]
    fn warn(&mut self, e: &io::Error, now: Instant) {
        self.failing = true;
        if self.last_warning.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
            self.failures_unlogged += 1;
            return;
        }
        self.last_warning = Some(now);
        let more = std::mem::take(&mut self.failures_unlogged);
        let more = if more > 0 { format!(" ({more} more failures since the last warning)") } else { String::new() };
        log::warn!("stats: cannot write the textfile {} (via {}): {e}{more}", self.path.display(), self.tmp.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qt.prom");
        let mut w = TextfileWriter::new(path.clone(), Duration::from_secs(15));
        assert_eq!(w.tmp_path(), dir.path().join(format!("qt.prom.tmp.{}", std::process::id())));
        let t0 = Instant::now();
        assert!(w.tick(t0, |s| s.push_str("a 1\n")).unwrap().is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "a 1\n");
        assert!(w.tick(t0 + Duration::from_secs(14), |_| panic!("not due")).is_none());
        assert!(w.tick(t0 + Duration::from_secs(15), |s| s.push_str("a 2\n")).unwrap().is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "a 2\n");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![OsString::from("qt.prom")]);
    }

    #[test]
    fn a_failing_write_is_reported_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("qt.prom");
        let mut w = TextfileWriter::new(path.clone(), Duration::ZERO);
        let t0 = Instant::now();
        for i in 0..3 {
            let r = w.tick(t0 + Duration::from_millis(i), |s| s.push_str("a 1\n")).unwrap();
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::NotFound);
        }
        assert_eq!(w.failures_unlogged, 2, "one warning, the next two counted");
        fs::create_dir(dir.path().join("missing-dir")).unwrap();
        assert!(w.tick(t0 + Duration::from_millis(10), |s| s.push_str("a 1\n")).unwrap().is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "a 1\n");
    }
}
